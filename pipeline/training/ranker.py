"""Train the match ranker (:mod:`pipeline.stages.match_rank`) on pairs the project generates.

    python -m pipeline.training.ranker [--models DIR] [--seed N]   (or `letters train-ranker`)

Positives: the writers' (promise, passage) pairs (``pipeline/training/data/writers/*.jsonl``;
rows of one ``group`` are the points of one letter) and the invented sample letters
(``pipeline/data/sample_letters.json``, read whole through the real segmentation and fields).
The registry they are ranked against holds every writer promise plus hard negatives made
from them: the same promise in another city, with another object number ("№ 5" for "№ 2"),
as a national promise; the same city's other promises are there already, and invented
promises of other cities (:func:`pipeline.bench.registry.big_registry`) add a crowd. Some
letters are ranked with their own promise left out of the registry: a letter about
something not promised must match nothing.

Each letter gets a simulated context from its promise (the sender's city, sometimes unknown;
the tier of government; sometimes a subject naming the politician, the office, or the council
in the genitive), and its pairs are the shortlist the ranker sees at run time. A logistic
regression over the named features is cross-validated by letter (GroupKFold) and fitted on
all; the card records the data hash, the feature names and coefficients and the CV metrics.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.schema import Promise
from pipeline.settings import DEFAULT_MODELS_DIR, PACKAGE_DIR
from pipeline.stages.match_features import FEATURES, LetterContext, letter_context, pair_features
from pipeline.stages.match_index import PromiseIndex
from pipeline.stages.match_terms import promise_level

WRITERS_DIR = PACKAGE_DIR / "training" / "data" / "writers"
SAMPLES = PACKAGE_DIR / "data" / "sample_letters.json"


@dataclass
class TrainingLetter:
    """A letter to rank: its context, and per point the promise rows that it answers."""

    key: str  # groups the pairs of one letter for cross-validation
    context: LetterContext
    answers: list[set[int]]  # per passage
    exclude: frozenset[int] = frozenset()


@dataclass
class PairSet:
    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray  # letter number per pair
    passage: np.ndarray  # (letter, passage) number per pair, for top-1
    data_sha256: str
    letters: int
    promises: int


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _pid(*parts: str) -> str:
    return "W-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def load_writer_rows(writers_dir: Path = WRITERS_DIR) -> tuple[list[dict], str]:
    """The writers' rows and the SHA-256 over the files, in name order."""
    h = hashlib.sha256()
    rows: list[dict] = []
    for path in sorted(writers_dir.glob("*.jsonl")):
        raw = path.read_bytes()
        h.update(path.name.encode() + b"\0" + raw)
        rows += [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    return rows, h.hexdigest()


def _city_adjectives() -> dict[str, str]:
    """City -> its council adjective in the genitive ("Полтава" -> "Полтавської"), from the city list."""
    out: dict[str, str] = {}
    for line in (PACKAGE_DIR / "data" / "ua_cities.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) > 1 and cols[1].strip():
            adj = cols[1].split(",")[0].strip()
            if adj.endswith(("ий", "ій")):
                out[cols[0].strip()] = adj[:-2].capitalize() + "ої"
    return out


_NUMBER = re.compile(r"(№\s*)(\d+)")
_NATIONAL_OFFICES = ("міністр інфраструктури", "народний депутат України", "Прем'єр-міністр України",
                     "міністр охорони здоров'я", "голова Державного агентства")


def _variants(p: Promise, cities: list[str], rng: random.Random) -> list[Promise]:
    """Hard negatives of one promise: another object number, another city, the national level."""
    out: list[Promise] = []
    m = _NUMBER.search(p.title)
    if m:
        n = int(m.group(2))
        other = str(n + rng.choice([1, 2, 3, 5, 7]))
        out.append(replace(p, promise_id=p.promise_id + "-N", title=p.title[: m.start(2)] + other + p.title[m.end(2):]))
    if p.city and rng.random() < 0.35:
        city = rng.choice([c for c in cities if c != p.city])
        out.append(replace(p, promise_id=p.promise_id + "-C", city=city))
    if p.city and rng.random() < 0.15:
        out.append(replace(p, promise_id=p.promise_id + "-U", city="", office=rng.choice(_NATIONAL_OFFICES)))
    if not p.city and rng.random() < 0.4:
        out.append(replace(p, promise_id=p.promise_id + "-L", city=rng.choice(cities), office="міський голова"))
    return out


def _surname_form(politician: str, rng: random.Random) -> str:
    surname = (politician.split() or [""])[-1]
    if surname and surname[-1] not in "аеиоуяіїєь" and rng.random() < 0.5:
        return surname + rng.choice(["а", "ові", "ом"])
    return surname


def _context(passages: list[str], promise: Promise, letter_date: dt.date | None, rng: random.Random,
             adjectives: dict[str, str]) -> LetterContext:
    """The letter around written passages, as the field stage would read it, with its noise."""
    level = promise_level(promise)
    r = rng.random()
    if level == "national":
        tier, city = ("national", "Київ") if r < 0.7 else ("", None)
    elif level == "region":
        tier, city = ("region", promise.city) if r < 0.7 else ("city", promise.city) if r < 0.8 else ("", None)
    else:
        tier, city = ("city", promise.city) if r < 0.7 else ("", promise.city) if r < 0.8 else ("", None)
    subject = []
    if rng.random() < 0.25:
        subject.append(f"Щодо обіцянки {_surname_form(promise.politician, rng)}")
    if rng.random() < 0.15:
        subject.append("міського голови" if level == "city" else promise.office)
    said = " ".join(subject)
    if promise.city and promise.city in adjectives and rng.random() < 0.3:
        said += f"\nНа запит до {adjectives[promise.city]} міської ради повідомляємо."
    lang = promise.lang if promise.lang in ("uk", "ru") else "uk"
    texts = list(passages)
    if len(texts) == 1 and subject:
        texts[0] = " ".join(subject) + "\n" + texts[0]
    return LetterContext(
        passages=tuple(texts),
        whole="\n".join([" ".join(subject), *passages]),
        said=said + "\n" + "\n".join(passages),
        lang=lang,
        city=city,
        sender_tier=tier,
        national_sender=tier == "national",
        letter_date=letter_date,
    )


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;])\s+(?=[А-ЯІЇЄҐA-Z0-9])", text.strip()) if len(s) > 20]


def build_training(seed: int = 0, writers_dir: Path = WRITERS_DIR, distractors: int = 3000
                   ) -> tuple[PromiseIndex, list[TrainingLetter], str]:
    """The training registry, the letters ranked against it, and the SHA-256 of the source data."""
    from pipeline.bench.registry import big_registry

    rng = random.Random(seed)
    rows, writers_sha = load_writer_rows(writers_dir)
    samples_raw = SAMPLES.read_bytes()
    data_sha = hashlib.sha256((writers_sha + hashlib.sha256(samples_raw).hexdigest()).encode()).hexdigest()
    promises: dict[str, Promise] = {}
    row_pid: list[str] = []
    for r in rows:
        p = r["promise"]
        pid = _pid(p["title"], p.get("city") or "", p.get("politician") or "")
        promises.setdefault(pid, Promise(pid, p.get("politician") or "", p.get("office") or "", p.get("city") or "",
                                         _date(p.get("said_on")), p["title"], "", p.get("lang") or r.get("lang", "uk")))
        row_pid.append(pid)
    cities = sorted({p.city for p in promises.values() if p.city})
    own = list(promises.values())
    for p in own:
        for v in _variants(p, cities, rng):
            promises.setdefault(v.promise_id, v)
    samples = json.loads(samples_raw.decode("utf-8"))
    for sp in samples["promises"]:
        promises.setdefault(sp["promise_id"], Promise(sp["promise_id"], sp["politician"], sp["office"], sp["city"],
                                                      _date(sp.get("said_on")), sp["title"], sp.get("description", ""),
                                                      sp["lang"]))
    # a crowd of invented promises of other cities: same words, never the answer
    taken = set(cities) | {sp["city"] for sp in samples["promises"]}
    crowd = [p for p in big_registry(distractors, [], crowd_share=0.0, seed=seed) if p.city not in taken]
    for p in crowd:
        promises.setdefault(p.promise_id, p)
    plist = list(promises.values())
    index = PromiseIndex.build(plist)
    row_of = {p.promise_id: i for i, p in enumerate(plist)}
    adjectives = _city_adjectives()

    letters: list[TrainingLetter] = []
    groups: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        groups.setdefault(r.get("group") or f"row-{k}", []).append(k)
    singles_by_city: dict[str, list[int]] = {}
    for ks in groups.values():
        if len(ks) == 1 and rows[ks[0]]["promise"].get("city"):
            singles_by_city.setdefault(rows[ks[0]]["promise"]["city"], []).append(ks[0])
    for key, ks in groups.items():
        first = rows[ks[0]]
        promise = promises[row_pid[ks[0]]]
        passages = [rows[k]["passage"] for k in ks]
        answers = [{row_of[row_pid[k]]} for k in ks]
        mates = [k for k in singles_by_city.get(promise.city, []) if k != ks[0] and row_pid[k] != row_pid[ks[0]]]
        if len(ks) == 1 and mates and rng.random() < 0.2:  # two promises answered in one unmarked paragraph
            other = rng.choice(mates)
            passages = [passages[0] + " " + rows[other]["passage"]]
            answers = [answers[0] | {row_of[row_pid[other]]}]
        elif len(ks) == 1 and rng.random() < 0.1:
            parts = _sentences(passages[0])
            if len(parts) >= 2:  # one promise answered over two points
                cut = len(parts) // 2
                passages = [" ".join(parts[:cut]), " ".join(parts[cut:])]
                answers = [answers[0], answers[0]]
        ctx = _context(passages, promise, _date(first.get("letter_date")), rng, adjectives)
        exclude: frozenset[int] = frozenset()
        if rng.random() < 0.08:  # its promise is not in the registry: nothing must match
            exclude = frozenset(j for a in answers for j in a)
            answers = [set() for _ in answers]
        letters.append(TrainingLetter(key, ctx, answers, exclude))
    letters += _sample_letters(samples, index, row_of)
    return index, letters, data_sha


def _sample_letters(samples: dict, index: PromiseIndex, row_of: dict[str, int]) -> list[TrainingLetter]:
    """The invented sample letters, read through segmentation and the field stage as at run time."""
    import ast

    from pipeline.schema import LetterText, PageText, TextSource
    from pipeline.stages.fields import extract_fields

    out: list[TrainingLetter] = []
    for letter in samples["letters"]:
        pages = letter["pages"]
        pages = ast.literal_eval(pages) if isinstance(pages, str) else pages
        gold = letter["gold"]
        gold = ast.literal_eval(gold) if isinstance(gold, str) else gold
        raw = ["\n".join(lines) for lines in pages]
        text = LetterText(letter["letter_id"], [PageText(i + 1, t, TextSource.TEXT_LAYER, 0.0, 0.0)
                                                for i, t in enumerate(raw)])
        lp = letter_context(text, extract_fields(text), index)
        if lp.context is None:
            continue
        gold_rows = {row_of[g["promise_id"]] for g in gold.get("promises", []) if g["promise_id"] in row_of}
        evidence = {row_of[g["promise_id"]]: " ".join(str(g.get("evidence", "")).split())
                    for g in gold.get("promises", []) if g["promise_id"] in row_of}
        answers = []
        for p in lp.passages:
            flat = " ".join(p.text.split())
            hit = {j for j, ev in evidence.items() if ev and ev[:60] in flat}
            answers.append(hit or (set(gold_rows) if len(lp.passages) == 1 else set()))
        out.append(TrainingLetter("sample-" + letter["letter_id"], lp.context, answers))
    return out


TWIN_COSINE = 0.8


def _twins(index: PromiseIndex, answers: set[int]) -> set[int]:
    """Promises of the answers' city whose wording is nearly theirs (another year, another count)."""
    out: set[int] = set()
    for j in answers:
        sims = index.tfidf.dot_t(index.tfidf.take([j])).ravel()
        out |= {int(k) for k in np.flatnonzero(sims >= TWIN_COSINE) if index.city_of[k] == index.city_of[j]}
    return out


def pair_set(index: PromiseIndex, letters: list[TrainingLetter], data_sha: str) -> PairSet:
    """Every (passage, shortlisted promise) pair of every training letter, with its label."""
    xs, ys, gs, ps = [], [], [], []
    n_pass = 0
    for g, letter in enumerate(letters):
        f = pair_features(index, letter.context, exclude=letter.exclude)
        for i in range(f.values.shape[0]):
            twins = _twins(index, letter.answers[i])
            for c, j in enumerate(f.candidates.tolist()):
                if j in twins and j not in letter.answers[i]:
                    continue  # a near-identical promise of the same city: neither label is sure
                xs.append(f.values[i, c])
                ys.append(1 if j in letter.answers[i] else 0)
                gs.append(g)
                ps.append(n_pass)
            n_pass += 1
    return PairSet(np.array(xs), np.array(ys), np.array(gs), np.array(ps), data_sha, len(letters), len(index))


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (p >= lo) & (p < hi) if hi < 1 else (p >= lo) & (p <= hi)
        if m.any():
            total += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    return float(total)


# Evidence that may only raise a score: more of the promise's words, spelling or topic in the
# passage never makes it less likely to answer it. Fitted freely, correlated similarity features
# share their weight arbitrarily and one can come out negative, which then penalises a paragraph
# on two topics (each promise gets part of it).
NON_NEGATIVE = ("title_coverage", "lemma_cosine", "sentence_cosine", "char_ngram", "whole_letter_gain", "topic_overlap", "lead",
                "number_same", "year_same", "city_same", "surname")


class MonotoneLogisticRegression:
    """L2-regularised logistic regression with the coefficients of ``NON_NEGATIVE`` kept >= 0.

    Fitted with L-BFGS-B; the result is stored in a plain :class:`LogisticRegression` (same
    ``predict_proba``), so the saved model holds only trusted scikit-learn types.
    """

    def __init__(self, c: float = 1.0) -> None:
        self.c = c

    def fit(self, X: np.ndarray, y: np.ndarray) -> object:
        from scipy.optimize import minimize
        from sklearn.linear_model import LogisticRegression

        n, f = X.shape
        sign = np.where(y > 0, 1.0, -1.0)

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = X @ w[:f] + w[f]
            m = -sign * z
            val = np.logaddexp(0.0, m).sum() + 0.5 / self.c * float(w[:f] @ w[:f])
            g = -sign / (1.0 + np.exp(-m))
            grad = np.concatenate([X.T @ g + w[:f] / self.c, [g.sum()]])
            return float(val), grad

        bounds = [(0.0, None) if name in NON_NEGATIVE else (None, None) for name in FEATURES] + [(None, None)]
        res = minimize(loss, np.zeros(f + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 5000})
        model = LogisticRegression(C=self.c)
        model.classes_ = np.array([0, 1])
        model.coef_ = res.x[:f].reshape(1, -1)
        model.intercept_ = np.array([res.x[f]])
        model.n_features_in_ = f
        model.n_iter_ = np.array([res.nit])
        return model


def _estimator(c: float = 1.0) -> MonotoneLogisticRegression:
    return MonotoneLogisticRegression(c)


def cross_validate(ps: PairSet, folds: int = 5, seed: int = 0) -> dict:
    """Out-of-fold metrics, split by letter: ROC AUC, log-loss, Brier, ECE, P/R/F1 at 0.5, top-1 per passage."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(ps.y))
    for train, test in GroupKFold(n_splits=folds).split(ps.X, ps.y, ps.groups):
        model = _estimator().fit(ps.X[train], ps.y[train])
        oof[test] = model.predict_proba(ps.X[test])[:, 1]  # type: ignore[attr-defined]
    pred = oof >= 0.5
    tp = int((pred & (ps.y == 1)).sum())
    fp = int((pred & (ps.y == 0)).sum())
    fn = int((~pred & (ps.y == 1)).sum())
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    top1_hits, top1_n = 0, 0
    for pnum in np.unique(ps.passage[ps.y == 1]):
        m = ps.passage == pnum
        top1_n += 1
        top1_hits += int(ps.y[m][int(np.argmax(oof[m]))] == 1)
    empty = [pn for pn in np.unique(ps.passage) if ps.y[ps.passage == pn].sum() == 0]
    quiet = sum(int(oof[ps.passage == pn].max() < 0.5) for pn in empty)
    return {
        "folds": folds,
        "split": "GroupKFold by letter",
        "pairs": int(len(ps.y)),
        "positives": int(ps.y.sum()),
        "roc_auc": round(float(roc_auc_score(ps.y, oof)), 4),
        "log_loss": round(float(log_loss(ps.y, oof)), 4),
        "brier": round(float(brier_score_loss(ps.y, oof)), 4),
        "ece_10_bins": round(_ece(ps.y, oof), 4),
        "precision_at_0.5": round(precision, 4),
        "recall_at_0.5": round(recall, 4),
        "f1_at_0.5": round(2 * precision * recall / max(precision + recall, 1e-9), 4),
        "top1_per_passage": round(top1_hits / max(top1_n, 1), 4),
        "passages_without_answer_left_unmatched": round(quiet / max(len(empty), 1), 4),
    }


def write_runtime(model: object, path: Path) -> Path:
    """The fitted coefficients as numpy arrays: the batch scores with them, without scikit-learn."""
    np.savez(path, coef=np.asarray(model.coef_, dtype=float)[0],  # type: ignore[attr-defined]
             intercept=np.asarray(model.intercept_, dtype=float)[0])  # type: ignore[attr-defined]
    return path


def train(models_dir: Path = DEFAULT_MODELS_DIR, seed: int = 0, writers_dir: Path = WRITERS_DIR,
          folds: int = 5, distractors: int = 3000, version: str | None = None) -> Path:
    """Build the pairs, cross-validate, fit on all and save ``models_dir/ranker/<version>/``."""
    from pipeline.stages.match_rank import MODEL_NAME
    from pipeline.training.card import save_model

    t0 = time.perf_counter()
    index, letters, data_sha = build_training(seed, writers_dir, distractors)
    ps = pair_set(index, letters, data_sha)
    cv = cross_validate(ps, folds, seed) if folds > 1 else {}
    model = _estimator().fit(ps.X, ps.y)
    version = version or dt.datetime.now(dt.UTC).strftime("v%Y%m%d-%H%M%S")
    coef = np.asarray(model.coef_)[0]  # type: ignore[attr-defined]
    card = {
        "name": MODEL_NAME,
        "version": version,
        "description": "Pairwise match ranker: logistic regression over named (passage, promise) features; "
                       "score = calibrated probability that the passage answers the promise.",
        "estimator": "logistic regression, L2 (C=1.0), coefficients of similarity evidence kept >= 0 (L-BFGS-B); "
                     "stored as sklearn LogisticRegression",
        "non_negative": list(NON_NEGATIVE),
        "features": list(FEATURES),
        "coefficients": {n: round(float(c), 4) for n, c in zip(FEATURES, coef, strict=True)},
        "intercept": round(float(np.asarray(model.intercept_)[0]), 4),  # type: ignore[attr-defined]
        "seed": seed,
        "training_data": {
            "path": "pipeline/training/data/writers/*.jsonl + pipeline/data/sample_letters.json",
            "sha256": data_sha,
            "rows": int(len(ps.y)),
            "letters": ps.letters,
            "registry_promises": ps.promises,
            "label_counts": {"answers": int(ps.y.sum()), "not": int(len(ps.y) - ps.y.sum())},
        },
        "cv": cv,
        "final_fit_seconds": round(time.perf_counter() - t0, 1),
    }
    out = save_model(model, Path(models_dir) / MODEL_NAME / version, card, runtime_writer=write_runtime)
    # card.md's generic layout lists only the verdict model's metrics: add the ranker's own
    extra = ["", "## Ranker: cross-validation (out-of-fold, by letter)", ""]
    extra += [f"- {k}: {v}" for k, v in cv.items()]
    extra += ["", "## Ranker: coefficients (logit per unit of each feature)", "", f"- intercept: {card['intercept']}"]
    extra += [f"- {k}: {v}" for k, v in card["coefficients"].items()]
    with (out / "card.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(extra) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="letters train-ranker", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=DEFAULT_MODELS_DIR, help="models folder (default: models/)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the simulated letter contexts and variants")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (1: none)")
    args = ap.parse_args(argv)
    out = train(args.models, args.seed, folds=args.folds)
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    print(f"ranker saved: {out}")
    print(json.dumps(card.get("cv", {}), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
