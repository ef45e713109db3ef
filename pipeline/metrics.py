"""Measures shared by the evaluation harness and the benchmarks."""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

_SPACE = re.compile(r"\s+")


def normalize_for_cer(text: str) -> str:
    """Collapse every whitespace run (line breaks, form feeds, layout gaps) to one space."""
    return _SPACE.sub(" ", text).strip()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance over the reference length, whitespace-normalised."""
    ref, hyp = normalize_for_cer(reference), normalize_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)
