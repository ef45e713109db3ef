"""Training, cross-validation and gold evaluation of the verdict classifier.

Usage::

    python -m pipeline.training.verdict [--models-dir models] [--gold ../shared/devset] [--seed 0]

trains on ``data/verdict_passages.jsonl`` (plus extra human-confirmed examples
when called from code), selects the best of a few candidate configurations by
out-of-fold macro-F1, writes ``models/verdict/<version>/`` with a card, and
prints the metrics.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from pipeline.schema import Passage
from pipeline.stages.verdict import LABELS, MODEL_NAME, CompactTfidfVectorizer, VerdictFeatures, VerdictModel
from pipeline.training.card import save_model

CORPUS_PATH = Path(__file__).resolve().parent / "data" / "verdict_passages.jsonl"
DEFAULT_GOLD_DIR = Path(__file__).resolve().parents[3] / "shared" / "devset"  # ../shared beside the project
CV_FOLDS = 5

# Candidate configurations compared by cross-validation; the best by macro-F1
# (ECE breaks ties) is trained on all data and shipped.
CANDIDATES: dict[str, dict[str, Any]] = {
    "logreg_words+chars": {"clf": "logreg", "chars": True, "neg_scope": 2},
    "logreg_words+chars_C1": {"clf": "logreg", "chars": True, "neg_scope": 2, "C": 1.0},
    "svm_words+chars": {"clf": "svm", "chars": True, "neg_scope": 2},
    "logreg_words_only": {"clf": "logreg", "chars": False, "neg_scope": 2},
    "logreg_no_negation_marks": {"clf": "logreg", "chars": True, "neg_scope": 0},
}


# --- data -------------------------------------------------------------------------


def load_corpus(path: Path = CORPUS_PATH) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _valid_examples(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("verdict") in LABELS and str(r.get("passage") or "").strip()]


# --- model ------------------------------------------------------------------------


def build_pipeline(clf: str = "logreg", chars: bool = True, neg_scope: int = 2, seed: int = 0,
                   C: float = 4.0) -> Pipeline:  # noqa: N803 - sklearn naming
    transformers: list[tuple[str, CompactTfidfVectorizer, int]] = [
        ("words", CompactTfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), min_df=2,
                                  sublinear_tf=True, max_features=12000), 0),
    ]
    if chars:
        transformers.append(("chars", CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                                      sublinear_tf=True, max_features=20000), 1))
    if clf == "logreg":
        base: LogisticRegression | LinearSVC = LogisticRegression(C=C, class_weight="balanced", solver="newton-cg", tol=1e-4, max_iter=2000)
    elif clf == "svm":
        base = LinearSVC(C=C / 8, class_weight="balanced", random_state=seed, max_iter=20000)
    else:
        raise ValueError(f"unknown classifier {clf!r}")
    # ensemble=False: one classifier fit on all data, with a sigmoid map learnt
    # from out-of-fold scores; keeps the saved model small (one coefficient matrix).
    calibrated = CalibratedClassifierCV(base, method="sigmoid", ensemble=False,
                                        cv=StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed))
    return Pipeline([
        ("features", VerdictFeatures(neg_scope=neg_scope)),
        ("vectors", ColumnTransformer(transformers)),
        ("classifier", calibrated),
    ])


def _strip(pipe: Pipeline) -> Pipeline:
    """Drop the fitted vectorizers' stop_words_ (terms cut by min_df/max_features): only for introspection, big."""
    for _, vec, _ in pipe.named_steps["vectors"].transformers_:
        if hasattr(vec, "stop_words_"):
            del vec.stop_words_
    return pipe


def expected_calibration_error(proba: np.ndarray, y_true: list[str], classes: list[str], bins: int = 10) -> float:
    """ECE of the top-class confidence over equal-width bins."""
    conf = proba.max(axis=1)
    pred = np.array(classes)[proba.argmax(axis=1)]
    correct = (pred == np.array(y_true)).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def metrics(y_true: list[str], proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    pred = [classes[i] for i in proba.argmax(axis=1)]
    labels = list(LABELS)
    return {
        "n": len(y_true),
        "macro_f1": round(float(f1_score(y_true, pred, labels=labels, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(y_true, pred)), 4),
        "ece_10_bins": round(expected_calibration_error(proba, y_true, classes), 4),
        "per_class_f1": {lab: round(float(v), 4) for lab, v in
                         zip(labels, f1_score(y_true, pred, labels=labels, average=None, zero_division=0), strict=True)},
        "labels": labels,
        "confusion_matrix": confusion_matrix(y_true, pred, labels=labels).tolist(),
    }


def cross_validate(rows: list[dict], config: dict[str, Any], seed: int = 0, folds: int = CV_FOLDS) -> dict[str, Any]:
    """Out-of-fold metrics for one configuration. Features are computed once (they are stateless)."""
    pipe = build_pipeline(seed=seed, **config)
    items = [(r["passage"], r.get("language")) for r in rows]
    y = [r["verdict"] for r in rows]
    feats = pipe.named_steps["features"].transform(items)
    rest = Pipeline(pipe.steps[1:])
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed + 1)
    proba = cross_val_predict(clone(rest), feats, y, cv=cv, method="predict_proba")
    classes = sorted(set(y))  # cross_val_predict orders columns by sorted labels
    out = metrics(y, proba, classes)
    out["folds"] = folds
    # Template rows are easy to tell apart once their template is seen in
    # training, so the written (non-template) rows give the more honest score.
    written = np.array([not str(r.get("id", "")).startswith("T") for r in rows])
    if written.any():
        w = metrics([v for v, k in zip(y, written, strict=True) if k], proba[written], classes)
        out["written_rows"] = {k: w[k] for k in ("n", "macro_f1", "accuracy", "ece_10_bins", "per_class_f1")}
    return out


def _data_hash(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps({"passage": r["passage"], "verdict": r["verdict"]}, ensure_ascii=False,
                            sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def fit(rows: list[dict], config: dict[str, Any] | None = None, seed: int = 0) -> Pipeline:
    config = config or CANDIDATES["logreg_words+chars"]
    pipe = build_pipeline(seed=seed, **config)
    pipe.fit([(r["passage"], r.get("language")) for r in rows], [r["verdict"] for r in rows])
    return _strip(pipe)


def _new_version(base: Path) -> str:
    now = dt.datetime.now(dt.UTC)
    version = "v" + now.strftime("%Y%m%d-%H%M%S")
    while (base / version).exists():  # two runs in one second
        now += dt.timedelta(seconds=1)
        version = "v" + now.strftime("%Y%m%d-%H%M%S")
    return version


def train_and_save(models_dir: Path, extra_examples: list[dict] | None = None, gold_dir: Path | None = None,
                   seed: int = 0, candidates: dict[str, dict[str, Any]] | None = None,
                   corpus_path: Path = CORPUS_PATH) -> Path:
    """Train from the corpus (+ extra human-confirmed examples), select by CV, save models/verdict/<version>/."""
    corpus = _valid_examples(load_corpus(corpus_path))
    extra = _valid_examples(list(extra_examples or []))
    rows = corpus + extra
    candidates = candidates or CANDIDATES
    results = {name: cross_validate(rows, cfg, seed=seed) for name, cfg in candidates.items()}
    best = max(results, key=lambda n: (results[n].get("written_rows", {}).get("macro_f1", 0.0),
                                       results[n]["macro_f1"], -results[n]["ece_10_bins"]))
    started = time.perf_counter()
    pipe = fit(rows, candidates[best], seed=seed)
    fit_seconds = round(time.perf_counter() - started, 2)

    base = Path(models_dir) / MODEL_NAME
    version = _new_version(base)
    out_dir = base / version
    cv = dict(results[best])
    cv["alternatives"] = {n: {"macro_f1": r["macro_f1"], "ece_10_bins": r["ece_10_bins"],
                              "written_rows_macro_f1": r.get("written_rows", {}).get("macro_f1")}
                          for n, r in results.items()}
    card: dict[str, Any] = {
        "name": "verdict",
        "version": version,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "description": "Suggests fulfilled / in_progress / not_fulfilled for a letter passage answering a promise. "
                       "Calibrated probabilities (sigmoid, out-of-fold). Evidence = the sentence whose own "
                       "prediction gives the predicted class the highest probability.",
        "estimator": best,
        "config": candidates[best],
        "features": "spaCy+pymorphy3 lemmas with NEG_ scope marks and CUE_ tokens (word 1-2 grams, tf-idf) "
                    "+ char_wb 2-5 grams of digit-folded text",
        "seed": seed,
        "final_fit_seconds": fit_seconds,
        "selection": f"best of {list(candidates)} by {CV_FOLDS}-fold out-of-fold macro-F1 on the written "
                     "(non-template) rows, then on all rows, then lowest ECE",
        "training_data": {
            "path": str(corpus_path.name),
            "sha256": _data_hash(rows),
            "file_sha256": hashlib.sha256(corpus_path.read_bytes()).hexdigest(),
            "file_bytes": corpus_path.stat().st_size,
            "rows": len(rows),
            "extra_examples": len(extra),
            "label_counts": dict(sorted(Counter(r["verdict"] for r in rows).items())),
            "language_counts": dict(sorted(Counter(r.get("language", "?") for r in rows).items())),
        },
        "cv": cv,
    }
    if gold_dir is not None:
        model = VerdictModel(pipe, {"version": version})
        card["gold"] = evaluate_on_gold(model, Path(gold_dir))
        card["gold"].pop("items", None)
    save_model(pipe, out_dir, card)
    return out_dir


# --- gold evaluation ------------------------------------------------------------------


def _paragraph_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Expand [start, end) to whole lines (a typed letter's paragraphs are its lines)."""
    s = text.rfind("\n", 0, start) + 1
    e = text.find("\n", end)
    return s, (len(text) if e < 0 else e)


_SIGNATURE = re.compile(r"^\s*(З повагою|С уважением|Вик\.|Исп\.|Виконавець|Исполнитель)", re.I)


def _body_span(text: str) -> tuple[int, int]:
    """The longest blank-line-separated block after the letterhead: the body of a typed letter."""
    blocks = [(m.start(), m.end()) for m in re.finditer(r"(?:[^\n]+\n?)+", text)]
    blocks = blocks[1:] or blocks
    best = max(blocks, key=lambda b: sum(len(ln) for ln in text[b[0]:b[1]].splitlines() if not _SIGNATURE.match(ln)))
    s, e = best
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _block_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Expand [start, end) to the blank-line-separated block(s) around it (OCR output's paragraphs)."""
    s = text.rfind("\n\n", 0, start)
    s = 0 if s < 0 else s + 2
    e = text.find("\n\n", end)
    return s, (len(text) if e < 0 else e)


def _locate(evidence: str, text: str, fuzzy: bool) -> tuple[int, int] | None:
    """Span of the gold evidence in ``text``: exact, or (for OCR text) the best fuzzy alignment."""
    at = text.find(evidence) if evidence else -1
    if at >= 0:
        return at, at + len(evidence)
    if not fuzzy or not evidence:
        return None
    from rapidfuzz import fuzz

    al = fuzz.partial_ratio_alignment(evidence, text)
    return (al.dest_start, al.dest_end) if al is not None and al.score >= 70 else None


def evaluate_on_gold(model: VerdictModel, gold_dir: Path, threshold: float = 0.6,
                     text_dir: Path | None = None) -> dict[str, Any]:
    """Verdict quality given the gold match, in the dev-set format (gold.jsonl + letters/<id>.txt).

    ``paragraph``: the passage is the paragraph(s) holding the gold evidence.
    ``body``: the whole letter body, for letters answering a single promise.
    Routing: accuracy and coverage of suggestions with confidence >= threshold.
    ``text_dir``: read the letters' text from ``<text_dir>/<id>.txt`` instead (e.g. raw OCR output); the
    evidence is then located fuzzily, the passage is its blank-line-separated block, and only
    ``paragraph`` is measured.
    """
    gold_dir = Path(gold_dir)
    out: dict[str, Any] = {"gold_dir": str(gold_dir), "threshold": threshold}
    modes: dict[str, dict[str, list]] = {"paragraph": {"y": [], "p": [], "hit": []},
                                         "body": {"y": [], "p": [], "hit": []}}
    items = []
    with (gold_dir / "gold.jsonl").open(encoding="utf-8") as fh:
        golds = [json.loads(line) for line in fh if line.strip()]
    for g in golds:
        promises = g.get("promises") or []
        if not promises:
            continue
        src = (Path(text_dir) / f"{g['letter_id']}.txt") if text_dir else (gold_dir / "letters" / f"{g['letter_id']}.txt")
        if not src.is_file():
            out["missing_texts"] = out.get("missing_texts", 0) + len(promises)
            continue
        text = src.read_text(encoding="utf-8")
        lang = g.get("language")
        for pr in promises:
            ev_span = _locate(pr.get("evidence") or "", text, fuzzy=text_dir is not None)
            if ev_span is None:
                out["evidence_not_found"] = out.get("evidence_not_found", 0) + 1
                continue
            at, ev_end = ev_span
            ev = text[at:ev_end]
            if text_dir is None:
                spans = {"paragraph": _paragraph_span(text, at, ev_end)}
                if len(promises) == 1:
                    spans["body"] = _body_span(text)
            else:
                spans = {"paragraph": _block_span(text, at, ev_end)}
            for mode, (s, e) in spans.items():
                sug = model.suggest(Passage(index=0, text=text[s:e], start=s, end=e, page=1), lang)
                modes[mode]["y"].append(pr["verdict"])
                modes[mode]["p"].append([sug.probabilities[c] for c in model.classes])
                hit = sug.evidence_start is not None and sug.evidence_start < at + len(ev) and sug.evidence_end > at
                modes[mode]["hit"].append(hit)
                items.append({"letter_id": g["letter_id"], "promise_id": pr["promise_id"], "mode": mode,
                              "gold": pr["verdict"], "pred": sug.verdict.value, "confidence": sug.confidence,
                              "evidence_hit": hit})
    for mode, d in modes.items():
        if not d["y"]:
            continue
        proba = np.array(d["p"])
        m = metrics(d["y"], proba, model.classes)
        conf = proba.max(axis=1)
        pred = np.array(model.classes)[proba.argmax(axis=1)]
        sure = conf >= threshold
        m["routing"] = {
            "coverage": round(float(sure.mean()), 4),
            "accuracy_above_threshold": round(float((pred[sure] == np.array(d["y"])[sure]).mean()), 4)
            if sure.any() else None,
        }
        m["evidence_hit_rate"] = round(float(np.mean(d["hit"])), 4)
        out[mode] = m
    out["items"] = items
    return out


def main(argv: list[str] | None = None) -> None:
    from pipeline.settings import DEFAULT_MODELS_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    ap.add_argument("--gold", type=Path, default=None, help="gold dir in the dev-set format")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--evaluate-only", action="store_true", help="evaluate the newest model on --gold, no training")
    ap.add_argument("--text-dir", type=Path, default=None, help="with --evaluate-only: letter texts (e.g. OCR output)")
    ap.add_argument("--threshold", type=float, default=0.6)
    args = ap.parse_args(argv)
    if args.evaluate_only:
        model = VerdictModel.load(args.models_dir)
        res = evaluate_on_gold(model, args.gold or DEFAULT_GOLD_DIR, args.threshold, args.text_dir)
        res.pop("items", None)
        print(model.version)
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return
    out = train_and_save(args.models_dir, gold_dir=args.gold, seed=args.seed)
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    print(out)
    print(json.dumps({"estimator": card["estimator"], "cv": card["cv"], "gold": card.get("gold")},
                     ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
