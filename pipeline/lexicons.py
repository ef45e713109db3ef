"""Word lists the rules read, kept as data files in ``pipeline/data/lexicons/`` (one entry a line,
``#`` comments), not as string literals inside code."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def lexicon(name: str) -> frozenset[str]:
    """The entries of ``pipeline/data/lexicons/<name>.txt``, lower case."""
    raw = resources.files("pipeline").joinpath("data", "lexicons", f"{name}.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in raw.splitlines() if line.strip() and not line.startswith("#"))


@cache
def lexicon_list(name: str) -> tuple[str, ...]:
    """The entries of a lexicon in file order (for lexicons whose order matters)."""
    raw = resources.files("pipeline").joinpath("data", "lexicons", f"{name}.txt").read_text(encoding="utf-8")
    return tuple(line.strip().lower() for line in raw.splitlines() if line.strip() and not line.startswith("#"))
