"""The (promise, passage) corpus by writer, and fitting the promise-aware verdict model on it.

A writer's row carries the promise as stated, the letter date and the label the policy gives (see
``data/writers/README.md``). Training has two steps:

1. the state model learns what the passage reports, read alone. Its label is the verdict with the
   promise taken away: a row that is ``not_fulfilled`` only because the deadline passed with works
   going on (or with part delivered) reports a state *under way*; one completed late reports *done*.
   The older passage-only corpus (``verdict_passages.jsonl``) adds rows whose label is already a state;
2. the combiner learns the verdict from out-of-fold state probabilities and the comparison features,
   so it sees the state model's real mistakes, not its training fit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from pipeline.schema import Promise
from pipeline.stages.letter_facts import compare, read_facts
from pipeline.stages.promise_terms import read_terms
from pipeline.stages.verdict import LABELS, combiner_row

WRITERS_DIR = Path(__file__).resolve().parent / "data" / "writers"
F, P, N = LABELS
# Tags under which a not_fulfilled row still reports works under way or done.
_LATE_STATE = {"late_completion": F}
_ONGOING_TAGS = {"deadline_passed", "quantity_short", "scope_partial", "postponed"}
_NOTHING_TAGS = {"other_thing_done", "no_money", "plan_only", "maintenance_instead"}
COMBINER_C = 1.0


def load_writer_rows(directory: Path = WRITERS_DIR) -> list[dict[str, Any]]:
    """Every valid row of every ``<writer>.jsonl``; a broken line is skipped (and counted)."""
    rows: list[dict[str, Any]] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if _valid(r):
                r.setdefault("writer", path.stem)
                rows.append(r)
    return rows


def _valid(r: dict[str, Any]) -> bool:
    pr = r.get("promise")
    if r.get("verdict") not in LABELS or not str(r.get("passage") or "").strip() or not isinstance(pr, dict):
        return False
    try:
        dt.date.fromisoformat(str(r.get("letter_date")))
        if pr.get("said_on"):
            dt.date.fromisoformat(str(pr["said_on"]))
    except ValueError:
        return False
    return bool(pr.get("title"))


def promise_of(r: dict[str, Any]) -> Promise:
    pr = r["promise"]
    said = pr.get("said_on")
    return Promise(
        promise_id=str(r.get("id", "")), politician=str(pr.get("politician") or ""), office=str(pr.get("office") or ""),
        city=str(pr.get("city") or ""), said_on=dt.date.fromisoformat(said) if said else None,
        title=str(pr["title"]), description=str(pr.get("description") or ""),
        lang=pr.get("lang") if pr.get("lang") in ("uk", "ru") else "uk",
    )


def state_label(r: dict[str, Any]) -> str:
    """What the passage reports, the promise's deadline and count aside."""
    verdict, tags = r["verdict"], set(r.get("tags") or ())
    if verdict != N:
        return verdict
    if "late_completion" in tags:
        return F
    if tags & _NOTHING_TAGS or ("negation" in tags and not tags & {"quantity_short", "scope_partial"}):
        return N
    if tags & _ONGOING_TAGS:
        return P
    return N


def comparison_of(r: dict[str, Any]) -> dict[str, float]:
    """The comparison features of a row, computed by the same code the batch runs."""
    terms = read_terms(promise_of(r))
    facts = read_facts(r["passage"], terms, dt.date.fromisoformat(r["letter_date"]), r.get("lang"))
    return compare(terms, facts).values


def _state_items(rows: list[dict[str, Any]]) -> tuple[list[tuple[str, str | None]], list[str]]:
    return ([(r["passage"], r.get("lang") or r.get("language")) for r in rows],
            [r["state"] for r in rows])


def fit_state(rows: list[dict[str, Any]], config: dict[str, Any], seed: int = 0) -> Any:
    from pipeline.training.verdict import _strip, build_pipeline

    pipe = build_pipeline(seed=seed, **config)
    x, y = _state_items(rows)
    pipe.fit(x, y)
    return _strip(pipe)


def _proba(state: Any, rows: list[dict[str, Any]]) -> np.ndarray:
    from pipeline.stages.verdict import VerdictModel

    model = VerdictModel.__new__(VerdictModel)  # the runtime's fast path, without a combiner
    model.state = state
    out = np.zeros((len(rows), len(LABELS)))
    order = [str(c) for c in state.classes_]
    for lang in ("uk", "ru", None):
        idx = [i for i, r in enumerate(rows) if (r.get("lang") or r.get("language")) == lang
               or (lang is None and (r.get("lang") or r.get("language")) not in ("uk", "ru"))]
        if idx:
            p = model.state_proba([rows[i]["passage"] for i in idx], lang)
            out[idx] = p[:, [order.index(c) for c in LABELS]]
    return out


def fit_parts(pairs: list[dict[str, Any]], passages: list[dict[str, Any]], config: dict[str, Any],
              seed: int = 0, folds: int = 5) -> dict[str, Any]:
    """The state model (on all rows) and the combiner (on out-of-fold state probabilities of ``pairs``)."""
    for r in pairs:
        r.setdefault("state", state_label(r))
        if "comparison" not in r:
            r["comparison"] = comparison_of(r)
    for r in passages:
        r.setdefault("state", r["verdict"])
    oof = np.zeros((len(pairs), len(LABELS)))
    y = [r["verdict"] for r in pairs]
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed + 7)
    for train, test in cv.split(np.zeros(len(pairs)), y):
        state = fit_state(passages + [pairs[i] for i in train], config, seed)
        oof[test] = _proba(state, [pairs[i] for i in test])
    combiner = fit_combiner(oof, pairs, seed)
    state = fit_state(passages + pairs, config, seed)
    return {"state": state, "combiner": combiner}


def fit_combiner(state_proba: np.ndarray, pairs: list[dict[str, Any]], seed: int = 0) -> LogisticRegression:
    x = np.array([combiner_row(dict(zip(LABELS, p, strict=True)), r["comparison"])
                  for p, r in zip(state_proba, pairs, strict=True)])
    clf = LogisticRegression(C=COMBINER_C, max_iter=5000, random_state=seed)
    clf.fit(x, [r["verdict"] for r in pairs])
    return clf


def predict_rows(parts: dict[str, Any], rows: list[dict[str, Any]]) -> np.ndarray:
    """Verdict probabilities (LABELS order) of corpus rows, as the batch computes them."""
    state = _proba(parts["state"], rows)
    x = np.array([combiner_row(dict(zip(LABELS, p, strict=True)), r.get("comparison") or comparison_of(r))
                  for p, r in zip(state, rows, strict=True)])
    proba = parts["combiner"].predict_proba(x)
    order = [str(c) for c in parts["combiner"].classes_]
    return proba[:, [order.index(c) for c in LABELS]]


def cross_writer(pairs: list[dict[str, Any]], passages: list[dict[str, Any]], config: dict[str, Any],
                 seed: int = 0) -> dict[str, Any]:
    """Train on every writer but one, test on the one held out; and the pooled in-writer figure."""
    from pipeline.training.verdict import metrics

    writers = sorted({r["writer"] for r in pairs})
    out: dict[str, Any] = {"held_out": {}}
    for w in writers:
        train = [r for r in pairs if r["writer"] != w]
        test = [r for r in pairs if r["writer"] == w]
        parts = fit_parts(train, passages, config, seed, folds=4)
        m = metrics([r["verdict"] for r in test], predict_rows(parts, test), list(LABELS))
        out["held_out"][w] = {k: m[k] for k in ("n", "macro_f1", "accuracy", "ece_10_bins")}
    # In-writer: the same number of folds, writers mixed, so every test writer is also seen in training.
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, len(writers), len(pairs))
    proba = np.zeros((len(pairs), len(LABELS)))
    for k in range(len(writers)):
        train = [r for r, f in zip(pairs, fold_of, strict=True) if f != k]
        idx = [i for i, f in enumerate(fold_of) if f == k]
        parts = fit_parts(train, passages, config, seed, folds=4)
        proba[idx] = predict_rows(parts, [pairs[i] for i in idx])
    m = metrics([r["verdict"] for r in pairs], proba, list(LABELS))
    out["in_writer"] = {k: m[k] for k in ("n", "macro_f1", "accuracy", "ece_10_bins")}
    held = [v["macro_f1"] for v in out["held_out"].values()]
    out["held_out_mean_macro_f1"] = round(float(np.mean(held)), 4) if held else None
    return out


def data_summary(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    h = hashlib.sha256()
    for r in pairs:
        h.update(json.dumps({k: r.get(k) for k in ("promise", "letter_date", "passage", "verdict")},
                            ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return {
        "rows": len(pairs),
        "sha256": h.hexdigest(),
        "writers": dict(sorted(Counter(r["writer"] for r in pairs).items())),
        "label_counts": dict(sorted(Counter(r["verdict"] for r in pairs).items())),
        "state_counts": dict(sorted(Counter(state_label(r) for r in pairs).items())),
        "language_counts": dict(sorted(Counter(r.get("lang", "?") for r in pairs).items())),
        "tag_counts": dict(sorted(Counter(t for r in pairs for t in (r.get("tags") or ())).items())),
    }
