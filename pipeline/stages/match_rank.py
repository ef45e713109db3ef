"""The learned pairwise ranker: how sure we are that a passage answers a promise.

A logistic regression over the named features of :mod:`match_features`, fitted by
:mod:`pipeline.training.ranker` on (promise, passage) pairs the project generates, with hard
negatives (same city other topic, same topic other city, other object number, a national
promise against a city body), and saved with skops and a card in ``models/ranker/<version>/``.
Loading refuses a model whose card does not verify (edited, other library versions) or whose
feature names differ from this code's.

Each match carries the reasons a reviewer sees: the features that moved its score most, as
coefficient × value, from the same model that scored it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.errors import ModelError
from pipeline.schema import LetterFields, LetterText, Match, Passage
from pipeline.stages.match_features import FEATURES, PairFeatures, letter_context, pair_features
from pipeline.stages.match_index import PromiseIndex

MODEL_NAME = "ranker"
MAX_MATCHES_PER_PASSAGE = 3
WHOLE_LETTER_SHOWN = 0.5  # logit the whole answer must add for the match to be flagged as resting on it

# How a feature reads to a reviewer: (shown when it raises the score, shown when it lowers it).
FEATURE_TEXT: dict[str, str] = {
    "title_coverage": "shares the promise's words",
    "lemma_cosine": "similar wording",
    "sentence_cosine": "a sentence on it",
    "whole_letter_gain": "the whole answer covers it",
    "char_ngram": "similar spelling",
    "city_same": "same city",
    "city_other": "another city",
    "city_unknown": "city not known",
    "city_in_text": "city named in the text",
    "city_in_text_other": "another city named in the text",
    "national_by_state_body": "national promise, state body writes",
    "national_by_local_body": "national promise, local body writes",
    "tier_region_city": "oblast body on a city promise",
    "tier_region_region": "oblast body on an oblast promise",
    "tier_region_national": "oblast body on a national promise",
    "tier_city_region": "city body on an oblast promise",
    "surname": "politician named",
    "office": "office named",
    "topic_overlap": "same topic",
    "topic_conflict": "other topic",
    "number_same": "same object number",
    "number_conflict": "other object number",
    "year_same": "same year",
    "letter_before_promise": "letter older than the promise",
    "multi_point": "one of several points",
    "lead": "ahead of the passage's other promises",
    "behind": "behind the passage's best promise",
    "dominance_gap": "far weaker than the passage's best promise",
    "subsumed": "no words of its own beside a better promise",
}


def newest_version_dir(models_dir: Path) -> Path:
    from pipeline.training.card import newest_model_dir

    return newest_model_dir(Path(models_dir) / MODEL_NAME, "match ranker", "letters train-ranker")


class Ranker:
    """A loaded, verified ranker: coefficients over :data:`FEATURES`.

    Run from the card's ``runtime.npz`` (the fitted coefficients as numpy arrays, hashed on the
    card), so a batch never imports scikit-learn or skops; ``model.skops`` is the reference copy.
    """

    def __init__(self, coef: np.ndarray, intercept: float, card: dict, path: Path | None = None) -> None:
        names = card.get("features")
        if names != list(FEATURES):
            raise ModelError(f"match ranker {path} was trained on features {names}, this code computes "
                             f"{list(FEATURES)}; retrain it with `letters train-ranker`")
        coef = np.asarray(coef, dtype=float).reshape(-1)
        if coef.shape != (len(FEATURES),):
            raise ModelError(f"match ranker {path} holds no binary model over {len(FEATURES)} features")
        self.card = card
        self.path = path
        self.version: str = str(card.get("version", "unversioned"))
        self.coef = coef
        self.intercept = float(intercept)

    @classmethod
    def load(cls, models_dir: Path) -> Ranker:
        """The newest version under ``models_dir/ranker/``; the project's own when ``models_dir`` has none.

        A models folder with a verdict model only (tests, an analyst's own) still matches with
        the shipped ranker; a ranker that is there but does not verify is refused.
        """
        from pipeline.settings import DEFAULT_MODELS_DIR
        from pipeline.training.card import runtime_file, verify

        base = Path(models_dir) / MODEL_NAME
        path = newest_version_dir(models_dir if base.is_dir() else DEFAULT_MODELS_DIR)
        card = verify(path)  # card self-hash, model and runtime file hashes, library versions
        if card.get("name") != MODEL_NAME:
            raise ModelError(f"{path} is not a match ranker (card name {card.get('name')!r})")
        runtime = runtime_file(path, card)
        if runtime is not None:
            try:
                with np.load(runtime, allow_pickle=False) as arrays:
                    coef, intercept = arrays["coef"], float(arrays["intercept"])
            except (OSError, KeyError, ValueError) as exc:
                raise ModelError(f"match ranker runtime file unreadable: {runtime}: {exc}") from exc
            return cls(coef, intercept, card, path)
        from pipeline.training.card import load_model

        model, card = load_model(path)
        coef = getattr(model, "coef_", None)
        if coef is None:
            raise ModelError(f"match ranker {path} holds no coefficients")
        return cls(np.asarray(coef), float(np.asarray(model.intercept_)[0]), card, path)  # type: ignore[attr-defined]

    def logit(self, values: np.ndarray) -> np.ndarray:
        return values @ self.coef + self.intercept

    def proba(self, values: np.ndarray) -> np.ndarray:
        """Calibrated probability that the passage answers the promise, for feature rows ``values`` (..., f)."""
        return 1.0 / (1.0 + np.exp(-self.logit(values)))

    def contributions(self, row: np.ndarray) -> list[tuple[str, float]]:
        """(feature, coefficient × value) for the features that count on this pair, largest first."""
        out = [(name, float(c * v)) for name, c, v in zip(FEATURES, self.coef, row, strict=True) if abs(c * v) >= 0.05]
        return sorted(out, key=lambda kv: -abs(kv[1]))


@lru_cache(maxsize=4)
def _cached_ranker(models_dir: str) -> Ranker:
    return Ranker.load(Path(models_dir))


def default_ranker() -> Ranker:
    """The project's ranker (``models/ranker/``), loaded once per process."""
    from pipeline.settings import DEFAULT_MODELS_DIR

    return _cached_ranker(str(DEFAULT_MODELS_DIR))


def explain(ranker: Ranker, row: np.ndarray, top: int = 5) -> str:
    """One line for a reviewer: the features that moved the score most ("same city +1.9; …")."""
    parts = []
    for name, contrib in ranker.contributions(row)[:top]:
        parts.append(f"{FEATURE_TEXT.get(name, name)} {contrib:+.1f}")
    return "; ".join(parts)


@dataclass
class LetterScores:
    """A letter scored against the registry's shortlist."""

    passages: list[Passage]
    features: PairFeatures | None
    scores: np.ndarray  # (passages, shortlisted promises)
    non_answer: bool

    @property
    def candidates(self) -> np.ndarray:
        return self.features.candidates if self.features is not None else np.zeros(0, dtype=int)

    @property
    def city(self) -> str | None:
        return self.features.city if self.features is not None else None

    def best(self) -> dict[int, float]:
        """Promise row -> its best score over the passages."""
        if self.features is None or self.scores.size == 0:
            return {}
        return {int(j): float(s) for j, s in zip(self.candidates, self.scores.max(axis=0), strict=True)}


def score_letter(text: LetterText, fields: LetterFields | None, index: PromiseIndex,
                 ranker: Ranker | None = None, limit: bool = True) -> LetterScores:
    """Every passage against the shortlisted promises (the whole registry with ``limit=False``)."""
    ranker = ranker or default_ranker()
    lp = letter_context(text, fields, index)
    if lp.context is None or len(index) == 0:
        return LetterScores(lp.passages, None, np.zeros((len(lp.passages), 0)), lp.non_answer)
    feats = pair_features(index, lp.context, limit=limit)
    return LetterScores(lp.passages, feats, ranker.proba(feats.values), lp.non_answer)


def match_letter(
    text: LetterText,
    fields: LetterFields | None,
    index: PromiseIndex,
    threshold: float = 0.5,
    near_tie_margin: float = 0.08,
    ranker: Ranker | None = None,
) -> list[Match]:
    """One Match per promise whose best passage scores at least ``threshold``; [] for non-answers.

    A passage keeps at most MAX_MATCHES_PER_PASSAGE promises, the best first: one point of a
    letter answers one question or a few, never thousands (a registry holding a crowd of
    near-identical promises); the others close to a kept one are listed as its alternatives.
    """
    ranker = ranker or default_ranker()
    ls = score_letter(text, fields, index, ranker)
    f = ls.features
    if f is None or ls.scores.size == 0:
        return []
    scores, topic, present = ls.scores, f.topic, f.present
    # The basis passage: the best-scoring point, the one sharing most on a tie.
    best_pass = np.lexsort((-topic, -scores), axis=0)[0] if scores.shape[0] > 1 else np.zeros(scores.shape[1], int)
    best = scores[best_pass, np.arange(scores.shape[1])]
    chosen = sorted(np.flatnonzero(best >= threshold).tolist(), key=lambda c: (-best[c], int(f.candidates[c])))
    per_passage: dict[int, int] = defaultdict(int)
    kept = []
    for c in chosen:
        i = int(best_pass[c])
        if per_passage[i] < MAX_MATCHES_PER_PASSAGE:
            per_passage[i] += 1
            kept.append(c)
    chosen_set = set(kept)
    gain_col = FEATURES.index("whole_letter_gain")
    out: list[Match] = []
    for c in kept:
        i = int(best_pass[c])
        j = int(f.candidates[c])
        s = float(best[c])
        row = scores[i]
        # Any other promise this close on the same passage could be the real answer; a matched one
        # is a rival only when it rests on the same words (two topics in one paragraph are not).
        close = np.abs(row - s) <= near_tie_margin
        close[c] = False
        own = {t for t in index.term_lemma[j] if t in present[i]}
        for k in np.flatnonzero(close):
            kj = int(f.candidates[k])
            if k in chosen_set and not own & {t for t in index.term_lemma[kj] if t in present[i]}:
                close[k] = False
        alts = sorted(((index.promises[int(f.candidates[k])].promise_id, round(float(row[k]), 4))
                       for k in np.flatnonzero(close)), key=lambda a: -a[1])[:5]
        shared = sorted((t for t in index.term_lemma[j] if t in present[i] and t[0] != "~"),
                        key=lambda t: -index.idf[index.vocab[t]])
        shown = list(dict.fromkeys(index.term_lemma[j][t] for t in shared))  # rarest first, one lemma once
        x = f.values[i, c]
        contributions = ranker.contributions(x)
        out.append(
            Match(
                promise_id=index.promises[j].promise_id,
                score=round(s, 4),
                passage=ls.passages[i],
                features={
                    "why": explain(ranker, x),
                    "contributions": {k: round(v, 3) for k, v in contributions},
                    "city": f.city if not f.city or not index.city_of[j] else bool(x[FEATURES.index("city_same")]),
                    "letter_city": f.city,
                    "name": f.names.get(index.surname_stems[j]),
                    "office": index.offices[j] if index.offices[j] in f.kinds else None,
                    "shared_terms": shown[:8],
                    "topic_similarity": round(float(topic[i, c]), 4),
                    "passage_index": ls.passages[i].index,
                    # the whole answer (several points on this promise) raised the score markedly
                    "whole_letter": bool(ranker.coef[gain_col] * x[gain_col] >= WHOLE_LETTER_SHOWN),
                    "ranker": ranker.version,
                },
                alternatives=alts,
                near_tie=bool(alts),
            )
        )
    return out


__all__ = ["MAX_MATCHES_PER_PASSAGE", "LetterScores", "Ranker", "default_ranker", "explain", "match_letter",
           "score_letter"]
