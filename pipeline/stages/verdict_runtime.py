"""The fitted verdict model's arithmetic in numpy alone, for a quick start-up.

Loading the skops file needs scikit-learn and skops, and importing those two costs ~3-5 s of
CPU on a small machine (skops lists every scikit-learn estimator and every scipy ufunc when it
is imported) — more than processing a born-digital letter. The model itself is small: two
TF-IDF vocabularies with their idf weights, a calibrated logistic regression and a logistic
combiner. :func:`compile_parts` copies those learned arrays, when the model is saved, into
``runtime.npz`` beside ``model.skops`` (hashed on the card like the model file, read with
``allow_pickle=False``); :class:`RuntimeModel` computes the same numbers from them as
scikit-learn does (the same analyzers, sublinear tf, idf, l2 norm, decision function, sigmoid
calibration and softmax), checked against the fitted objects in ``tests/test_verdict_runtime.py``.

Only the fitted objects' attributes are read here: this module never imports scikit-learn.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ModelError

FORMAT = 1  # bump when the arrays or their meaning change; an unknown format is refused
_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's CountVectorizer


@dataclass
class Vectorizer:
    """A fitted (Tfidf)CountVectorizer: analyzer settings, vocabulary and idf weights."""

    analyzer: str  # "word" or "char_wb"
    lowercase: bool
    token_pattern: re.Pattern[str] | None
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: np.ndarray | None
    sublinear_tf: bool
    norm: str | None

    def _ngrams(self, doc: str) -> list[str]:
        if self.lowercase:
            doc = doc.lower()
        lo, hi = self.ngram_range
        out: list[str] = []
        if self.analyzer == "word":
            tokens = self.token_pattern.findall(doc) if self.token_pattern else doc.split()
            if lo == 1:
                out.extend(tokens)
                lo = 2
            for n in range(lo, min(hi + 1, len(tokens) + 1)):
                out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
            return out
        for w in _WHITE_SPACES.sub(" ", doc).split():  # char_wb
            w = f" {w} "
            for n in range(lo, hi + 1):
                offset = 0
                out.append(w[offset:offset + n])
                while offset + n < len(w):
                    offset += 1
                    out.append(w[offset:offset + n])
                if offset == 0:  # a short word counts once
                    break
        return out

    def row(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted column indices, tf-idf values) of one document, as scikit-learn's transform gives."""
        counts: dict[int, int] = {}
        vocab = self.vocabulary
        for gram in self._ngrams(doc):
            j = vocab.get(gram)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        idx = np.array(sorted(counts), dtype=np.int64)
        val = np.array([counts[j] for j in idx.tolist()], dtype=np.float64)
        if self.sublinear_tf:
            np.log(val, val)
            val += 1.0
        if self.idf is not None:
            val *= self.idf[idx]
        if self.norm == "l2" and len(val):
            norm = math.sqrt(float(np.dot(val, val)))
            if norm > 0:
                val /= norm
        elif self.norm == "l1" and len(val):
            total = float(np.abs(val).sum())
            if total > 0:
                val /= total
        return idx, val


@dataclass
class RuntimeModel:
    """The state model's vectorizers and calibrated classifier, and the combiner, as arrays."""

    neg_scope: int
    vectorizers: list[tuple[Vectorizer, int, int]]  # (vectorizer, feature column, offset in the stacked matrix)
    state_coef: np.ndarray  # (classes, features)
    state_intercept: np.ndarray
    state_classes: list[str]
    calib_a: np.ndarray  # (calibrated classifiers, classes) sigmoid slopes
    calib_b: np.ndarray
    calib_pos: np.ndarray  # class column of each calibrator
    combiner_coef: np.ndarray
    combiner_intercept: np.ndarray
    combiner_classes: list[str]

    def state_proba(self, feats: np.ndarray) -> np.ndarray:
        """Calibrated state probabilities of rows of VerdictFeatures output ([lemmas, raw text])."""
        n = feats.shape[0]
        decision = np.tile(self.state_intercept, (n, 1))
        for i in range(n):
            for vec, col, offset in self.vectorizers:
                idx, val = vec.row(str(feats[i, col]))
                if len(idx):
                    decision[i] += self.state_coef[:, idx + offset] @ val
        out = np.zeros((n, len(self.state_classes)))
        for a, b in zip(self.calib_a, self.calib_b, strict=True):
            proba = np.zeros((n, len(self.state_classes)))
            for k, pos in enumerate(self.calib_pos.tolist()):
                proba[:, pos] = 1.0 / (1.0 + np.exp(a[k] * decision[:, k] + b[k]))  # expit(-(a*T + b))
            denom = proba.sum(axis=1, keepdims=True)
            uniform = np.full_like(proba, 1.0 / proba.shape[1])
            out += np.divide(proba, denom, out=uniform, where=denom != 0)
        return out / len(self.calib_a)

    def combine_proba(self, rows: np.ndarray) -> np.ndarray:
        """The combiner's softmax over its decision function (multinomial logistic regression)."""
        z = rows @ self.combiner_coef.T + self.combiner_intercept
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, z)
        return z / z.sum(axis=1, keepdims=True)


# --- from fitted objects ---------------------------------------------------------------------


def _vectorizer_arrays(prefix: str, vec: Any) -> dict[str, np.ndarray]:
    if getattr(vec, "analyzer", None) not in ("word", "char_wb") or vec.preprocessor or vec.tokenizer \
            or vec.stop_words or vec.strip_accents or vec.binary:
        raise ModelError(f"verdict vectorizer {prefix!r} uses options the runtime does not reproduce")
    vocab = vec.vocabulary_
    terms = sorted(vocab, key=vocab.__getitem__)
    config = {"analyzer": vec.analyzer, "lowercase": bool(vec.lowercase),
              "token_pattern": vec.token_pattern if vec.analyzer == "word" else None,
              "ngram_range": list(vec.ngram_range), "sublinear_tf": bool(getattr(vec, "sublinear_tf", False)),
              "norm": getattr(vec, "norm", None)}
    out = {f"{prefix}.terms": np.array(terms, dtype=str), f"{prefix}.config": np.array(json.dumps(config))}
    idf = getattr(vec, "idf_", None) if getattr(vec, "use_idf", False) else None
    if idf is not None:
        out[f"{prefix}.idf"] = np.asarray(idf, dtype=np.float64)
    return out


def compile_parts(parts: dict[str, Any]) -> dict[str, np.ndarray]:
    """The learned arrays of a fitted {"state": Pipeline, "combiner": LogisticRegression}, by name."""
    state, combiner = parts["state"], parts["combiner"]
    steps = state.named_steps
    arrays: dict[str, np.ndarray] = {}
    names = []
    for name, vec, col in steps["vectors"].transformers_:
        if name == "remainder" or isinstance(vec, str):
            continue
        arrays.update(_vectorizer_arrays(f"vec.{name}", vec))
        arrays[f"vec.{name}.column"] = np.array(int(col))
        names.append(name)
    clf = steps["classifier"]
    if getattr(clf, "method", None) != "sigmoid":
        raise ModelError(f"verdict state model calibration {getattr(clf, 'method', None)!r}: the runtime does sigmoid only")
    cals = clf.calibrated_classifiers_
    if len(cals) != 1:  # ensemble=True keeps one classifier per fold; ours is fitted on all data
        raise ModelError("verdict state model is an ensemble of calibrated classifiers: the runtime takes one")
    est = cals[0].estimator
    classes = [str(c) for c in clf.classes_]
    est_classes = [str(c) for c in est.classes_]
    arrays.update({
        "vec.names": np.array(names, dtype=str),
        "state.coef": np.asarray(est.coef_, dtype=np.float64),
        "state.intercept": np.asarray(est.intercept_, dtype=np.float64),
        "state.classes": np.array(classes, dtype=str),
        "calib.a": np.array([[float(c.a_) for c in cal.calibrators] for cal in cals]),
        "calib.b": np.array([[float(c.b_) for c in cal.calibrators] for cal in cals]),
        "calib.pos": np.array([sorted(classes).index(c) for c in est_classes], dtype=np.int64),
        "combiner.coef": np.asarray(combiner.coef_, dtype=np.float64),
        "combiner.intercept": np.asarray(combiner.intercept_, dtype=np.float64),
        "combiner.classes": np.array([str(c) for c in combiner.classes_], dtype=str),
        "meta": np.array(json.dumps({"format": FORMAT, "neg_scope": int(steps["features"].neg_scope)})),
    })
    if len(classes) < 3 or len(combiner.classes_) < 3 or sorted(classes) != classes:
        raise ModelError("verdict runtime expects multiclass models with sorted classes")
    return arrays


def write_runtime(parts: dict[str, Any], path: Path) -> Path:
    np.savez_compressed(path, **compile_parts(parts))
    return path


def load_runtime(path: Path) -> RuntimeModel:
    """Read ``runtime.npz`` (never unpickling: object arrays are refused); ModelError if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        meta = json.loads(str(a["meta"]))
        if meta.get("format") != FORMAT:
            raise ModelError(f"verdict runtime file {path} has format {meta.get('format')}, this code reads {FORMAT}")
        vectorizers, offset = [], 0
        for name in a["vec.names"].tolist():
            cfg = json.loads(str(a[f"vec.{name}.config"]))
            terms = a[f"vec.{name}.terms"].tolist()
            vec = Vectorizer(cfg["analyzer"], cfg["lowercase"],
                             re.compile(cfg["token_pattern"]) if cfg["token_pattern"] else None,
                             tuple(cfg["ngram_range"]), {t: i for i, t in enumerate(terms)},
                             a.get(f"vec.{name}.idf"), cfg["sublinear_tf"], cfg["norm"])
            vectorizers.append((vec, int(a[f"vec.{name}.column"]), offset))
            offset += len(terms)
        if offset != a["state.coef"].shape[1]:
            raise ModelError(f"verdict runtime file {path}: {offset} terms for {a['state.coef'].shape[1]} coefficients")
        return RuntimeModel(
            neg_scope=int(meta["neg_scope"]), vectorizers=vectorizers,
            state_coef=a["state.coef"], state_intercept=a["state.intercept"],
            state_classes=a["state.classes"].tolist(), calib_a=a["calib.a"], calib_b=a["calib.b"],
            calib_pos=a["calib.pos"], combiner_coef=a["combiner.coef"],
            combiner_intercept=a["combiner.intercept"], combiner_classes=a["combiner.classes"].tolist(),
        )
    except ModelError:
        raise
    except Exception as exc:  # a truncated zip, a missing array, a bad JSON
        raise ModelError(f"verdict runtime file unreadable: {path}: {type(exc).__name__}: {exc}") from exc
