"""Match a letter's passages to the promise registry.

The stage is split by concern:

* :mod:`match_terms` — language-neutral terms (lemmas, the uk<->ru lexicon in
  ``pipeline/data/lexicons/``, a spelling skeleton), city keys, office kinds;
* :mod:`match_index` — the registry's tf-idf index over those terms;
* :mod:`match_evidence` — letter-level evidence: non-answers, the sender's tier, the city,
  surnames;
* :mod:`match_features` — the named features of a (passage, promise) pair, over a shortlist;
* :mod:`match_rank` — the learned ranker (skops + card in ``models/ranker/``) that scores
  the pairs, keeps the matches and explains each with its features' contributions.

This module keeps the stage's public names in one place.
"""

from __future__ import annotations

from pipeline.stages.match_evidence import detect_city, find_surnames, is_national_sender, is_non_answer, sender_level
from pipeline.stages.match_features import FEATURES, LetterContext, PairFeatures, letter_context, pair_features
from pipeline.stages.match_index import PromiseIndex
from pipeline.stages.match_rank import (
    MAX_MATCHES_PER_PASSAGE,
    LetterScores,
    Ranker,
    default_ranker,
    explain,
    match_letter,
    score_letter,
)
from pipeline.stages.match_terms import _token_is_city, city_keys, skel, terms_of
from pipeline.stages.segment import segment

__all__ = ["FEATURES", "MAX_MATCHES_PER_PASSAGE", "LetterContext", "LetterScores", "PairFeatures", "PromiseIndex",
           "Ranker", "_token_is_city", "city_keys", "default_ranker", "detect_city", "explain", "find_surnames",
           "is_national_sender", "is_non_answer", "letter_context", "match_letter", "pair_features",
           "score_letter", "segment", "sender_level", "skel", "terms_of"]
