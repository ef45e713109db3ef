"""The topic taxonomy of municipal work (``pipeline/data/taxonomy/topics.tsv``): roads, yards,
lighting, schools, kindergartens, hospitals, transport, stops, parks, water, heating, housing,
administrative services… with Ukrainian and Russian stems and the usual abbreviations
(ДНЗ, ЗОШ, ЦНАП, ОСББ, КП).

:func:`topics_of` tags a text (a promise, a passage) with the topics it is about. A word takes
the topic of the longest stem its spelling skeleton starts with, so "паркування" (parking) is
transport while "парку" is parks, and "дворець" is culture while "двору" is yards; words are
not lemmatised (a stem covers the case forms), which keeps tagging cheap on long letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from pipeline.nlp import words
from pipeline.ocrnorm import fold_homoglyphs

# The same folding as matching's spelling skeleton (pipeline.stages.match_index.skel), kept
# here so the taxonomy does not depend on the match stage.
_SKEL = str.maketrans({"і": "и", "ї": "и", "ы": "и", "й": "и", "є": "е", "э": "е", "ё": "е", "ґ": "г"})
_DROP = re.compile(r"[ьъ'’ʼ`-]")


def _fold(word: str) -> str:
    return _DROP.sub("", word.lower().translate(_SKEL))


@dataclass(frozen=True, order=True)
class Topic:
    key: str  # "kindergartens"
    label: str  # "дитячі садки", shown to reviewers


@dataclass(frozen=True)
class Taxonomy:
    topics: dict[str, Topic]
    stems: dict[str, frozenset[Topic]]  # folded stem -> its topics (a few stems belong to two)
    abbreviations: dict[str, frozenset[Topic]]  # upper-case abbreviation -> topics
    min_len: int
    max_len: int

    def topics_of_word(self, word: str) -> frozenset[Topic]:
        """The topics of one word form: an abbreviation (whole, in capitals) or the longest stem.

        A hyphenated compound is read part by part ("онлайн-трансляції", "е-послуги").
        """
        if word.isupper() and word in self.abbreviations:
            return self.abbreviations[word]
        parts = [p for p in word.split("-") if p] if "-" in word else [word]
        found: frozenset[Topic] = frozenset()
        for part in parts:
            w = _fold(part)
            for k in range(min(len(w), self.max_len), self.min_len - 1, -1):
                t = self.stems.get(w[:k])
                if t is not None:
                    found |= t
                    break
        return found


@cache
def taxonomy() -> Taxonomy:
    raw = resources.files("pipeline").joinpath("data", "taxonomy", "topics.tsv").read_text(encoding="utf-8")
    rows = [ln.split("\t") for ln in raw.splitlines() if ln.strip() and not ln.startswith("#")]
    topics: dict[str, Topic] = {}
    stems: dict[str, frozenset[Topic]] = {}
    abbreviations: dict[str, frozenset[Topic]] = {}
    for row in rows[1:]:  # rows[0] is the column header
        row = row + [""] * (5 - len(row))
        key, label, uk, ru, abbr = (c.strip() for c in row[:5])
        topic = topics.setdefault(key, Topic(key, label))
        for stem in (uk + " " + ru).split():
            key_ = _fold(stem)
            stems[key_] = stems.get(key_, frozenset()) | {topic}  # a stem listed under two topics has both
        for a in abbr.split():
            abbreviations[a.upper()] = abbreviations.get(a.upper(), frozenset()) | {topic}
    lengths = [len(s) for s in stems]
    return Taxonomy(topics, stems, abbreviations, min(lengths), max(lengths))


@lru_cache(maxsize=65_536)
def topics_of(text: str) -> frozenset[Topic]:
    """The taxonomy topics ``text`` is about (empty when it names none)."""
    tax = taxonomy()
    found: set[Topic] = set()
    for w in words(fold_homoglyphs(text)):
        found |= tax.topics_of_word(w)
    return frozenset(found)


def topic_keys(text: str) -> frozenset[str]:
    return frozenset(t.key for t in topics_of(text))


__all__ = ["Taxonomy", "Topic", "taxonomy", "topic_keys", "topics_of"]
