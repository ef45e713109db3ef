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

from pipeline.schema import Passage, Promise
from pipeline.stages.verdict import (
    COMBINER_FEATURES,
    LABELS,
    MODEL_NAME,
    CompactTfidfVectorizer,
    VerdictFeatures,
    VerdictModel,
)
from pipeline.stages.verdict_runtime import write_runtime
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
                   C: float = 4.0, max_words: int = 8000, max_chars: int = 10000) -> Pipeline:  # noqa: N803
    transformers: list[tuple[str, CompactTfidfVectorizer, int]] = [
        ("words", CompactTfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), min_df=2,
                                  sublinear_tf=True, max_features=max_words), 0),
    ]
    if chars:
        transformers.append(("chars", CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                                      sublinear_tf=True, max_features=max_chars), 1))
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
                   seed: int = 0, config: dict[str, Any] | None = None, corpus_path: Path = CORPUS_PATH,
                   writers_dir: Path | None = None, cross_writer: bool = False, folds: int = CV_FOLDS) -> Path:
    """Train the state model and the combiner, measure them, save models/verdict/<version>/ with a card.

    ``extra_examples``: reviewers' decisions; those that carry their promise and letter date join the
    (promise, passage) pairs, the others the passage-only rows.
    """
    from pipeline.training import pairs as P

    writers_dir = writers_dir or P.WRITERS_DIR
    config = config or CANDIDATES["logreg_words+chars"]
    passages = _valid_examples(load_corpus(corpus_path))
    pair_rows = P.load_writer_rows(writers_dir)
    extra = list(extra_examples or [])
    extra_pairs = [r for r in extra if isinstance(r.get("promise"), dict) and P._valid(r)]
    extra_passages = _valid_examples([r for r in extra if r not in extra_pairs])
    pair_rows += extra_pairs
    passages += extra_passages
    if not pair_rows:
        raise ValueError(f"no (promise, passage) rows under {writers_dir}")
    started = time.perf_counter()
    # Out-of-fold figures of the shipped design, and of a text-only model on the same rows: the
    # measurement the promise-aware design was chosen by.
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed + 1)
    y = [r["verdict"] for r in pair_rows]
    oof = np.zeros((len(pair_rows), len(LABELS)))
    oof_text = np.zeros_like(oof)
    for train, test in cv.split(np.zeros(len(pair_rows)), y):
        tr = [pair_rows[i] for i in train]
        te = [pair_rows[i] for i in test]
        parts = P.fit_parts(tr, passages, config, seed, folds=max(2, folds - 1))
        oof[test] = P.predict_rows(parts, te)
        text_only = fit(passages + tr, config, seed)
        pt = text_only.predict_proba([(r["passage"], r.get("lang")) for r in te])
        order = [str(c) for c in text_only.classes_]
        oof_text[test] = pt[:, [order.index(c) for c in LABELS]]
    cv_metrics = metrics(y, oof, list(LABELS))
    cv_metrics["routing"] = _routing(oof, y)
    cv_metrics["per_tag_accuracy"] = _per_tag(pair_rows, oof)
    cv_text = metrics(y, oof_text, list(LABELS))
    parts = P.fit_parts(pair_rows, passages, config, seed, folds=folds)
    fit_seconds = round(time.perf_counter() - started, 2)

    base = Path(models_dir) / MODEL_NAME
    version = _new_version(base)
    out_dir = base / version
    card: dict[str, Any] = {
        "name": "verdict",
        "version": version,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "description": "Suggests fulfilled / in_progress / not_fulfilled for a letter passage judged against the "
                       "promise as stated, at the as-of date. A state model reads the passage (done / under way / "
                       "not done); a logistic-regression combiner weighs its out-of-fold probabilities with "
                       "comparison features (deadline passed at as-of, reported vs promised quantity, scope covered, "
                       "completed late, moved past the deadline, object overlap, negated completion).",
        "estimator": f"state: {json.dumps(config)}; combiner: LogisticRegression(C={P.COMBINER_C}) "
                     f"over {len(COMBINER_FEATURES)} named inputs",
        "combiner_features": list(COMBINER_FEATURES),
        "combiner_coefficients": {
            str(c): {f: round(float(w), 3) for f, w in zip(COMBINER_FEATURES, row, strict=True)}
            for c, row in zip(parts["combiner"].classes_, parts["combiner"].coef_, strict=True)
        },
        "config": config,
        "seed": seed,
        "train_seconds": fit_seconds,
        "selection": "promise-aware (state model + combiner) against a text-only model with the same features, "
                     f"{folds}-fold out-of-fold on the (promise, passage) rows: see cv and cv_text_only",
        "training_data": {
            "pairs": P.data_summary(pair_rows),
            "passages": {
                "path": corpus_path.name,
                "rows": len(passages),
                "sha256": _data_hash(passages),
                "file_sha256": hashlib.sha256(corpus_path.read_bytes()).hexdigest(),
            },
            "extra_examples": len(extra),
        },
        "cv": cv_metrics,
        "cv_text_only": {k: cv_text[k] for k in ("n", "macro_f1", "accuracy", "ece_10_bins")},
    }
    if cross_writer:
        card["cross_writer"] = P.cross_writer(pair_rows, passages, config, seed)
    model = VerdictModel(parts, {"version": version})
    if gold_dir is not None:
        card["gold"] = evaluate_on_gold(model, Path(gold_dir))
        card["gold"].pop("items", None)
    save_model(parts, out_dir, card, runtime_writer=write_runtime)
    return out_dir


def _routing(proba: np.ndarray, y: list[str], threshold: float = 0.6) -> dict[str, float | None]:
    conf = proba.max(axis=1)
    pred = np.array(LABELS)[proba.argmax(axis=1)]
    sure = conf >= threshold
    acc = float((pred[sure] == np.array(y)[sure]).mean()) if sure.any() else None
    return {"threshold": threshold, "coverage": round(float(sure.mean()), 4),
            "accuracy_above_threshold": round(acc, 4) if acc is not None else None}


def _per_tag(rows: list[dict], proba: np.ndarray) -> dict[str, dict[str, float]]:
    pred = np.array(LABELS)[proba.argmax(axis=1)]
    out: dict[str, list[bool]] = {}
    for r, p in zip(rows, pred, strict=True):
        for t in r.get("tags") or ["(none)"]:
            out.setdefault(t, []).append(r["verdict"] == p)
    return {t: {"n": len(v), "accuracy": round(float(np.mean(v)), 4)} for t, v in sorted(out.items())}


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
    registry: dict[str, Promise] = {}
    if (gold_dir / "promises.csv").is_file():
        from pipeline.stages.registry import load_registry

        registry = {p.promise_id: p for p in load_registry(gold_dir / "promises.csv")}
    tags_of: dict[str, list[list[str]]] = {mode: [] for mode in modes}
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
            letter_date = dt.date.fromisoformat(g["letter_date"]) if g.get("letter_date") else None
            promise = registry.get(pr["promise_id"])
            for mode, (s, e) in spans.items():
                sug = model.suggest(Passage(index=0, text=text[s:e], start=s, end=e, page=1), lang,
                                    promise=promise, letter_date=letter_date)
                tags_of[mode].append(list(pr.get("tags") or []))
                modes[mode]["y"].append(pr["verdict"])
                modes[mode]["p"].append([sug.probabilities[c] for c in model.classes])
                hit = sug.evidence_start is not None and sug.evidence_start < at + len(ev) and sug.evidence_end > at
                modes[mode]["hit"].append(hit)
                items.append({"letter_id": g["letter_id"], "promise_id": pr["promise_id"], "mode": mode,
                              "gold": pr["verdict"], "pred": sug.verdict.value, "confidence": sug.confidence,
                              "evidence_hit": hit, "tags": pr.get("tags") or [], "explanation": sug.explanation,
                              "as_of": sug.as_of.isoformat() if sug.as_of else None, "gold_as_of": pr.get("as_of")})
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
        m["per_tag_accuracy"] = _per_tag([{"verdict": y, "tags": t} for y, t in zip(d["y"], tags_of[mode],
                                                                                   strict=True)], proba)
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
