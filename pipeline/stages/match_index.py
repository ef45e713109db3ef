"""The promise index of matching: language-neutral terms and their tf-idf vectors.

Terms are lemmas (pymorphy3) mapped through the uk<->ru civic lexicon
(``pipeline/data/lexicons/uk_ru_civic.tsv``, ``uk_ru_exact.tsv``) and a spelling
"skeleton" that folds the letters the two alphabets spell differently (і/и/ы, е/є/э, ь),
then cut to a prefix so derivations and many cognates meet ("реконструкция" /
"реконструкція", "водопроводных" / "водопровідних"). Term weights are inverse document
frequencies over the registry, so terms shared by many promises count little. The index
also holds what the features need per promise: surname stem, office kind, tier, city keys.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from pipeline.nlp import detect_language, words
from pipeline.schema import Promise
from pipeline.stages.match_terms import (
    _NUMBER_SIGN,
    THEME_WEIGHT,
    _city_stem,
    _fix_homoglyphs,
    _token_is_city,
    city_keys,
    office_kind,
    promise_level,
    skel,
    terms_of,
    terms_with_lemmas,
)
from pipeline.stages.term_matrix import TermMatrix

# --- the index ------------------------------------------------------------------------------

W_TITLE = 2.0  # title terms count twice in tf-idf: titles name the deliverable, descriptions add context
TITLE_SHARE = 0.6  # of the coverage weight that goes to the title's terms


@dataclass
class PromiseIndex:
    """Promise term vectors and lookup tables, built once per run and reused for every letter."""

    promises: list[Promise]
    vocab: dict[str, int]
    coverage_w: TermMatrix  # promises x terms, idf weights, rows sum to 1
    tfidf: TermMatrix  # promises x terms, L2-normalised tf-idf
    idf: np.ndarray
    term_lemma: list[dict[str, str]]  # per promise: term -> a lemma to show a reviewer
    surname_stems: list[str]
    surname_set: set[str]
    offices: list[str | None]
    city_of: list[str]  # normalised city key per promise
    city_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # city (as in registry) -> keys
    city_norm: dict[str, str] = field(default_factory=dict)  # city -> normalised
    city_prefix: dict[str, list[str]] = field(default_factory=dict)  # key -> cities, to test a token cheaply
    backoff: dict[str, list[int]] = field(default_factory=dict)  # 5-letter start -> plain terms
    terms: list[str] = field(default_factory=list)  # column -> term
    levels: list[str] = field(default_factory=list)  # per promise: "national" | "region" | "city"
    title_words: list[tuple[str, ...]] = field(default_factory=list)  # per promise: title words, no name/city
    coverage_title: TermMatrix | None = None  # promises x terms, idf weights of the title's terms, rows sum to 1
    static: dict[int, object] = field(default_factory=dict, repr=False)  # per promise, filled on first ranking

    @classmethod
    def build(cls, promises: list[Promise]) -> PromiseIndex:
        docs: list[dict[str, float]] = []
        title_docs: list[dict[str, float]] = []
        term_lemma: list[dict[str, str]] = []
        surname_stems: list[str] = []
        title_words: list[tuple[str, ...]] = []
        for p in promises:
            surname = (p.politician.split() or [""])[-1]
            sstem = skel(surname).rstrip("аеиоуя") if surname else ""
            surname_stems.append(sstem)
            ckeys = city_keys(p.city) if p.city else ()
            lang = p.lang if p.lang in ("uk", "ru") else detect_language(p.title)
            tf: dict[str, float] = defaultdict(float)
            shown: dict[str, str] = {}
            title_terms: dict[str, float] = {}
            own_words: list[str] = []
            for is_title, text, w in ((True, p.title, W_TITLE), (False, p.description, 1.0)):
                for tok in words(text):
                    # The politician and the city are features of their own, not topic.
                    if tok[:1].isupper() and len(sstem) >= 3 and skel(tok).startswith(sstem):
                        continue
                    if _token_is_city(tok, ckeys, require_capital=False):
                        continue
                    if is_title:
                        own_words.append(tok)
                    ts, lemma, tw = terms_of(_fix_homoglyphs(tok), lang)
                    for t in ts:
                        weight = tw * (THEME_WEIGHT if t[0] == "~" else 1.0)
                        tf[t] += w * weight
                        shown.setdefault(t, lemma)
                        if is_title:
                            title_terms[t] = weight
                for m in _NUMBER_SIGN.finditer(text):
                    t = "#" + m.group(1)
                    tf[t] += w
                    shown.setdefault(t, "№ " + m.group(1))
                    if is_title:
                        title_terms[t] = 1.0
            docs.append(dict(tf))
            title_docs.append(title_terms)
            title_words.append(tuple(own_words))
            term_lemma.append(shown)
        vocab: dict[str, int] = {}
        for d in docs:
            for t in d:
                vocab.setdefault(t, len(vocab))
        n = len(promises)
        rows, cols, vals = [], [], []
        for i, d in enumerate(docs):
            for t, v in d.items():
                rows.append(i)
                cols.append(vocab[t])
                vals.append(v)
        tf_m = TermMatrix.from_triples(rows, cols, vals, (n, max(len(vocab), 1)))
        df = tf_m.column_counts()
        idf = np.log((1 + n) / (1 + df)) + 1.0
        # Coverage weights: idf per present term (title terms weighted up), rows summing to 1.
        weighted = tf_m.scale_columns(idf)
        cov = weighted.normalise_rows(l1=True)
        t_rows, t_cols, t_vals = [], [], []
        for i, d in enumerate(title_docs):
            for t, v in d.items():
                t_rows.append(i)
                t_cols.append(vocab[t])
                t_vals.append(v)
        title_m = TermMatrix.from_triples(t_rows, t_cols, t_vals, tf_m.shape)
        cov_title = title_m.scale_columns(idf).normalise_rows(l1=True)
        # Title terms name the deliverable; descriptions add context and filler words.
        cov = cov_title.scale(TITLE_SHARE).plus(cov.scale(1 - TITLE_SHARE))
        tfidf = weighted.normalise_rows(l1=False)
        city_norm = {c: _city_stem(c) for c in {p.city for p in promises} if c}
        all_keys = {c: city_keys(c) for c in city_norm}
        prefix_table: dict[str, list[str]] = defaultdict(list)
        for c, keys in all_keys.items():
            for key in keys:
                prefix_table[key].append(c)
        return cls(
            promises=promises,
            vocab=vocab,
            coverage_w=cov,
            tfidf=tfidf,
            idf=idf,
            term_lemma=term_lemma,
            surname_stems=surname_stems,
            surname_set={st for st in surname_stems if len(st) >= 3},
            offices=[office_kind(p.office) for p in promises],
            levels=[promise_level(p) for p in promises],
            city_of=[city_norm.get(p.city, "") for p in promises],
            city_keys=all_keys,
            city_norm=city_norm,
            city_prefix=dict(prefix_table),
            backoff=_backoff_table(vocab),
            terms=sorted(vocab, key=vocab.__getitem__),
            title_words=title_words,
            coverage_title=cov_title,
        )

    def __len__(self) -> int:
        return len(self.promises)

    def vectorise(self, texts: list[str], lang: str) -> tuple[TermMatrix, TermMatrix, list[set[str]]]:
        """Binary presence and L2 tf-idf vectors of letter texts over the registry's terms."""
        rows, cols, vals = [], [], []
        b_rows, b_cols, b_vals = [], [], []
        present: list[set[str]] = []
        for i, text in enumerate(texts):
            counts: dict[int, float] = defaultdict(float)
            seen: set[str] = set()
            strength: dict[int, float] = {}
            for t, _, _ in terms_with_lemmas(text, lang):
                j = self.vocab.get(t)
                if j is not None:
                    counts[j] += 1.0
                    strength[j] = 1.0
                    seen.add(t)
                elif len(t) >= BACKOFF_LEN + 1 and t[0] not in "=#~":
                    # An unknown form sharing a 5-letter start with a registry term (OCR slip,
                    # uk/ru suffix) counts as half a match.
                    for k in self.backoff.get(t[:BACKOFF_LEN], ()):
                        strength[k] = max(strength.get(k, 0.0), BACKOFF_STRENGTH)
                        seen.add(self.terms[k])
            present.append(seen)
            for j, c in counts.items():
                rows.append(i)
                cols.append(j)
                vals.append(c)
            for j, v in strength.items():
                b_rows.append(i)
                b_cols.append(j)
                b_vals.append(v)
        shape = (len(texts), self.tfidf.shape[1])
        tf_m = TermMatrix.from_triples(rows, cols, vals, shape)
        binary = TermMatrix.from_triples(b_rows, b_cols, b_vals, shape)
        tfidf = tf_m.scale_columns(self.idf).normalise_rows(l1=False)
        return binary, tfidf, present


BACKOFF_LEN = 5
BACKOFF_STRENGTH = 0.5


def _backoff_table(vocab: dict[str, int]) -> dict[str, list[int]]:
    table: dict[str, list[int]] = defaultdict(list)
    for t, j in vocab.items():
        if len(t) >= BACKOFF_LEN + 1 and t[0] not in "=#~":
            table[t[:BACKOFF_LEN]].append(j)
    return dict(table)
