"""Shared language tools: spaCy blank uk/ru pipelines with the pymorphy3 lemmatizer.

Loaded once per process and cached; nothing is downloaded (the pymorphy3
dictionaries come from the pymorphy3-dicts-uk / -ru packages).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import spacy
from spacy.language import Language

LANGS = ("uk", "ru")

_UK_ONLY = set("іїєґІЇЄҐ")
_RU_ONLY = set("ыэъёЫЭЪЁ")
_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ-][^\W\d_]+)*", re.UNICODE)


@cache
def get_nlp(lang: str) -> Language:
    """A blank spaCy pipeline for ``lang`` ("uk" or "ru") with the pymorphy3 lemmatizer."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {LANGS}")
    nlp = spacy.blank(lang)
    nlp.add_pipe("lemmatizer", config={"mode": "pymorphy3", "overwrite": True})
    nlp.initialize()
    return nlp


@cache
def morph_analyzer(lang: str):  # -> pymorphy3.MorphAnalyzer
    """The pymorphy3 analyzer for ``lang``, for inflecting names between cases."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=lang)


def detect_language(text: str) -> str:
    """"uk" or "ru" by letters only one of the alphabets has; "uk" when undecided."""
    uk = sum(ch in _UK_ONLY for ch in text)
    ru = sum(ch in _RU_ONLY for ch in text)
    return "ru" if ru > uk else "uk"


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
