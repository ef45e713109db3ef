"""spaCy's blank uk/ru tokenizer replayed in pure Python, without importing spaCy.

Importing spaCy and building its blank pipelines costs ~0.8 s and ~50 MB in every worker, for a
tokenizer that is a handful of regular expressions and special cases. Those rules are exported
from spaCy to ``pipeline/data/tokenizer/{lang}.json`` by :mod:`pipeline.training.export_tokenizer`;
:class:`Tokenizer` follows ``spacy/tokenizer.pyx`` step by step (whitespace split, special cases,
the prefix/suffix loop, token_match, url_match, infixes, then the special cases matched over the
tokens) and gives the same tokens, with the lexical attributes spaCy computes for them.
tests/test_tokenizer.py holds the two equal.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

LANGS = ("uk", "ru")
DATA_DIR = Path(__file__).resolve().parent / "data" / "tokenizer"
_RUNS = re.compile(r"\s+|\S+")
_MAX_CACHE = 100_000  # whitespace-separated chunks kept tokenized; letters repeat most of theirs


class Token(NamedTuple):
    """A token with the spaCy lexeme attributes the verdict features read."""

    text: str
    is_alpha: bool
    is_punct: bool
    is_space: bool
    like_num: bool


def is_punct(text: str) -> bool:
    """spacy.lang.lex_attrs.is_punct: every character in a Unicode punctuation category."""
    return all(unicodedata.category(ch).startswith("P") for ch in text)


def _like_num_function(cfg: dict[str, Any]) -> Callable[[str], bool]:
    """The language's spacy.lang.<lang>.lex_attrs.like_num, from its exported options."""
    strip_sign, strip_percent, lower = cfg["strip_sign"], cfg["strip_percent"], cfg["lower"]
    num_words = frozenset(cfg["num_words"])

    def like_num(text: str) -> bool:
        if strip_sign and text.startswith(("+", "-", "±", "~")):
            text = text[1:]
        if strip_percent and text.endswith("%"):
            text = text[:-1]
        text = text.replace(",", "").replace(".", "")
        if text.isdigit():
            return True
        if text.count("/") == 1:
            num, denom = text.split("/")
            if num.isdigit() and denom.isdigit():
                return True
        return (text.lower() if lower else text) in num_words

    return like_num


def _compiled(spec: dict[str, Any] | None) -> re.Pattern[str] | None:
    return None if spec is None else re.compile(spec["pattern"], spec["flags"])


class Tokenizer:
    """One language's tokenizer; calling it gives the list of :class:`Token`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.lang: str = data["lang"]
        self.spacy_version: str = data["spacy_version"]
        prefix, suffix, infix = (_compiled(data[k]) for k in ("prefix", "suffix", "infix"))
        token_match, url_match = _compiled(data["token_match"]), _compiled(data["url_match"])
        self._prefix_search = prefix.search if prefix else None
        self._suffix_search = suffix.search if suffix else None
        self._infix_finditer = infix.finditer if infix else None
        self._token_match = token_match.match if token_match else None
        self._url_match = url_match.match if url_match else None
        self._specials: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["special_cases"].items()}
        # The special cases spaCy's PhraseMatcher looks for over the tokens, by first token.
        self._phrases: dict[str, list[tuple[str, ...]]] = {}
        for pattern in sorted({tuple(v) for v in data["special_phrases"].values()}):
            self._phrases.setdefault(pattern[0], []).append(pattern)
        self._like_num = _like_num_function(data["like_num"])
        self._chunks: dict[str, tuple[str, ...]] = {}
        self._lexemes: dict[str, Token] = {}

    def __call__(self, text: str) -> list[Token]:
        lexeme = self._lexemes.get
        return [lexeme(t) or self._lexeme(t) for t in self.words(text)]

    def _lexeme(self, text: str) -> Token:
        tok = Token(text, text.isalpha(), is_punct(text), text.isspace(), self._like_num(text))
        if len(self._lexemes) < _MAX_CACHE:
            self._lexemes[text] = tok
        return tok

    def like_num(self, text: str) -> bool:
        return self._like_num(text)

    def words(self, text: str) -> list[str]:
        """The token texts of ``text``, as spaCy's ``Tokenizer.__call__`` gives them."""
        words: list[str] = []
        starts: list[int] = []
        # Tokenizer._tokenize_affixes: runs of space and of non-space (re's \s is str.isspace); the
        # first " " after a word is the word's trailing space, the rest of a run is tokenized too.
        for m in _RUNS.finditer(text):
            chunk, start = m.group(), m.start()
            if start and chunk[0] == " ":
                chunk, start = chunk[1:], start + 1
                if not chunk:
                    continue
            self._add_chunk(chunk, start, words, starts)
        if self._phrases:
            return self._apply_special_phrases(text, words, starts)
        return words

    def _add_chunk(self, chunk: str, offset: int, words: list[str], starts: list[int]) -> None:
        toks = self._chunks.get(chunk)
        if toks is None:
            toks = self._specials.get(chunk) or self._tokenize(chunk)
            if len(self._chunks) < _MAX_CACHE:
                self._chunks[chunk] = toks
        for t in toks:
            words.append(t)
            starts.append(offset)
            offset += len(t)

    def _tokenize(self, string: str) -> tuple[str, ...]:
        """Tokenizer._split_affixes then _attach_tokens, for a chunk that is not a special case."""
        specials, token_match = self._specials, self._token_match
        prefix_search, suffix_search = self._prefix_search, self._suffix_search
        prefixes: list[str] = []
        suffixes: list[str] = []
        last_size = 0
        while string and len(string) != last_size:
            if token_match and token_match(string):
                break
            if string in specials:
                break
            last_size = len(string)
            m = prefix_search(string) if prefix_search else None
            pre_len = m.end() - m.start() if m else 0
            if pre_len:
                prefix, minus_pre = string[:pre_len], string[pre_len:]
                if minus_pre and minus_pre in specials:
                    string = minus_pre
                    prefixes.append(prefix)
                    break
            m = suffix_search(string[pre_len:]) if suffix_search else None
            suf_len = m.end() - m.start() if m else 0
            if suf_len:
                suffix, minus_suf = string[-suf_len:], string[:-suf_len]
                if minus_suf and minus_suf in specials:
                    string = minus_suf
                    suffixes.append(suffix)
                    break
            if pre_len and suf_len and (pre_len + suf_len) <= len(string):
                string = string[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                string = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                string = minus_suf
                suffixes.append(suffix)
        out = prefixes
        if string:
            if string in specials:
                out.extend(specials[string])
            elif (token_match and token_match(string)) or (self._url_match and self._url_match(string)):
                out.append(string)
            else:
                out.extend(self._split_infixes(string))
        out.extend(reversed(suffixes))
        return tuple(out)

    def _split_infixes(self, string: str) -> list[str]:
        matches = list(self._infix_finditer(string)) if self._infix_finditer else []
        if not matches:
            return [string]
        out: list[str] = []
        start = 0
        for match in matches:
            infix_start, infix_end = match.span()
            if infix_start == 0:  # spaCy skips an infix at the very start (it stays in the next token)
                continue
            if infix_start != start:
                out.append(string[start:infix_start])
            if infix_start != infix_end:
                out.append(string[infix_start:infix_end])
            start = infix_end
        if string[start:]:
            out.append(string[start:])
        return out

    def _apply_special_phrases(self, text: str, words: list[str], starts: list[int]) -> list[str]:
        """Tokenizer._apply_special_cases: special cases found as token sequences over the whole text.

        Every (start, end) whose tokens equal a phrase is a match (PhraseMatcher); the longest win,
        then the leftmost, and a match whose first or last token an earlier one covered is dropped
        (its tokens still count as covered). A kept match is replaced by the special case's tokens
        only when the text it spans (spaces included) is that special case."""
        phrases = self._phrases
        matches: list[tuple[int, int]] = []
        n = len(words)
        for i, w in enumerate(words):
            for pattern in phrases.get(w, ()):
                end = i + len(pattern)
                if end <= n and tuple(words[i:end]) == pattern:
                    matches.append((i, end))
        if not matches:
            return words
        matches.sort(key=lambda m: (m[0] - m[1], m[0]))
        seen: set[int] = set()
        kept: list[tuple[int, int]] = []
        for s, e in matches:
            if s not in seen and e - 1 not in seen:
                kept.append((s, e))
            seen.update(range(s, e))
        kept.sort()
        out: list[str] = []
        pos = 0
        for s, e in kept:
            out.extend(words[pos:s])
            special = self._specials.get(text[starts[s]:starts[e - 1] + len(words[e - 1])])
            out.extend(special if special is not None else words[s:e])
            pos = e
        out.extend(words[pos:])
        return out


_LOCK = threading.Lock()  # the warm-up thread and the first letter may ask at the same time


def get_tokenizer(lang: str) -> Tokenizer:
    """The tokenizer of ``lang`` ("uk" or "ru"), built once per process (~60 ms: its regexes)."""
    with _LOCK:
        return _load(lang)


@cache
def _load(lang: str) -> Tokenizer:
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {LANGS}")
    with open(DATA_DIR / f"{lang}.json", encoding="utf-8") as f:
        return Tokenizer(json.load(f))
