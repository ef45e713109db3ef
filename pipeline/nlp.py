"""Shared language tools: spaCy blank uk/ru pipelines with the pymorphy3 lemmatizer.

Loaded once per process and cached; nothing is downloaded (the pymorphy3
dictionaries come from the pymorphy3-dicts-uk / -ru packages).
"""

from __future__ import annotations

import re
import threading
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language

LANGS = ("uk", "ru")

_UK_ONLY = set("іїєґІЇЄҐ")
_RU_ONLY = set("ыэъёЫЭЪЁ")
_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ-][^\W\d_]+)*", re.UNICODE)


_NLP_LOCK = threading.Lock()  # a worker builds them in a warm-up thread while its first letter is read


def get_nlp(lang: str) -> Language:
    """A blank spaCy pipeline for ``lang`` ("uk" or "ru") with the pymorphy3 lemmatizer."""
    with _NLP_LOCK:  # built once, even when two threads ask at the same time
        return _build_nlp(lang)


@cache
def _build_nlp(lang: str) -> Language:
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {LANGS}")
    import spacy  # here, not at the top: importing spaCy costs ~1 s, and only the verdict's tokenizer needs it

    nlp = spacy.blank(lang)
    nlp.add_pipe("lemmatizer", config={"mode": "pymorphy3", "overwrite": True})
    nlp.initialize()
    return nlp


class CachedMorph:
    """A pymorphy3 analyzer whose ``parse`` remembers its last answers (as tuples): the stages
    ask about the same words again and again (matching's terms, the quantities of a promise,
    the verdict's lemmas, the fields' cases), and a lookup in its pure-Python DAWG costs ~0.3 ms.
    Everything else is the analyzer's own."""

    PARSES_KEPT = 20_000

    def __init__(self, analyzer: object) -> None:
        self.analyzer = analyzer
        self.parse = lru_cache(maxsize=self.PARSES_KEPT)(self._parse)

    def _parse(self, word: str) -> tuple:
        return tuple(self.analyzer.parse(word))  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.analyzer, name)


@cache
def morph_analyzer(lang: str) -> CachedMorph:
    """The pymorphy3 analyzer for ``lang`` (parses cached), for lemmas and for inflecting names between cases."""
    import pymorphy3

    return CachedMorph(pymorphy3.MorphAnalyzer(lang=lang))


def language_scores(text: str) -> tuple[str, float]:
    """("uk" or "ru", confidence 0..1) by letters only one alphabet has and by function words
    only one language has (lexicons ``uk_markers`` / ``ru_markers``); ("uk", 0.3) when undecided."""
    from pipeline.lexicons import lexicon

    low = text.lower()
    uk = sum(ch in _UK_ONLY for ch in low)
    ru = sum(ch in _RU_ONLY for ch in low)
    toks = re.findall(r"[^\W\d_]+", low)
    uk_words, ru_words = lexicon("uk_markers"), lexicon("ru_markers")
    uk += 3 * sum(t in uk_words for t in toks)
    ru += 3 * sum(t in ru_words for t in toks)
    if uk == ru:
        return "uk", 0.3
    return ("ru" if ru > uk else "uk"), round(min(1.0, max(uk, ru) / (uk + ru)), 3)


def detect_language(text: str) -> str:
    """"uk" or "ru" (see :func:`language_scores`); "uk" when undecided."""
    return language_scores(text)[0]


def lemmas(text: str, lang: str | None = None) -> list[str]:
    """Lower-case lemmas of the alphabetic tokens of ``text``."""
    lang = lang or detect_language(text)
    doc = get_nlp(lang)(text)
    return [(t.lemma_ or t.text).lower() for t in doc if t.is_alpha]


@lru_cache(maxsize=65536)
def lemma_of_word(word: str, lang: str) -> str:
    """Lemma of a single word (cached: the same words recur across letters)."""
    parses = morph_analyzer(lang).parse(word.lower())
    return parses[0].normal_form if parses else word.lower()


def words(text: str) -> list[str]:
    """Alphabetic words of ``text`` (apostrophes and hyphens kept inside words)."""
    return _WORD.findall(text)
