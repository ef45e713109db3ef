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

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

import numpy as np
from scipy import sparse

from pipeline.cities import city_lexicon
from pipeline.lexicons import lexicon_list
from pipeline.nlp import detect_language, morph_analyzer, words
from pipeline.ocrnorm import NUMBER_SIGN_NUMBER, fold_homoglyphs
from pipeline.schema import Promise

# --- spelling skeleton ------------------------------------------------------------

_SKEL = str.maketrans({"і": "и", "ї": "и", "ы": "и", "й": "и", "є": "е", "э": "е", "ё": "е", "ґ": "г"})
_DROP = re.compile(r"[ьъ'’ʼ`-]")
_DOUBLE = re.compile(r"(.)\1+")
PREFIX_LEN = 7  # enough to keep roots apart, short enough to merge endings and uk/ru vowel shifts


@lru_cache(maxsize=200_000)
def skel(word: str) -> str:
    """Fold Ukrainian and Russian spellings of the same word together (lower case, no soft signs, no doubles)."""
    s = _DROP.sub("", word.lower().translate(_SKEL))
    return _DOUBLE.sub(r"\1", s)

# --- uk<->ru civic lexicon (data files) --------------------------------------------------------
# "stem -> concept": a word whose skeleton starts with the stem's skeleton gets the concept as
# its term; "a+b" gives a compound two terms; "~theme" adds a broader, weakly weighted theme
# (вода, світло, транспорт...) so a reply in other words of the same field still scores.


def _read_tsv(name: str) -> list[tuple[str, str]]:
    raw = resources.files("pipeline").joinpath("data", "lexicons", name).read_text(encoding="utf-8")
    rows = [ln.split("\t") for ln in raw.splitlines() if ln.strip() and not ln.startswith("#")]
    return [(r[0].strip(), r[1].strip()) for r in rows[1:]]  # rows[0] is the column header


@dataclass(frozen=True)
class Lexicon:
    """The civic lexicon, loaded once: stems, whole-word concepts, exact lemmas, stop words."""

    stems: dict[str, str]  # stem skeleton -> "=concept+=part+~theme"
    concepts: dict[str, str]  # a concept word itself, matched whole
    exact: dict[str, str]  # lemma -> "concept+part"
    stop: frozenset[str]
    min_len: int
    max_len: int


@cache
def lexicon() -> Lexicon:
    lex: dict[str, str] = {}
    for stem, concept in _read_tsv("uk_ru_civic.tsv"):
        main, *themes = concept.split("~")
        lex[skel(stem)] = "+".join(["=" + skel(c) for c in main.split("+")] + ["~" + skel(t) for t in themes])
    # The concepts themselves, matched whole: "міст" (bridge) must meet ru "мост" -> міст, but
    # as a prefix it would also catch "мистецтво".
    concepts: dict[str, str] = {}
    for v in lex.values():
        concepts.setdefault(v.split("+")[0][1:], v)  # the canonical word brings its themes along
    for v in lex.values():
        for c in v.split("+")[1:]:
            concepts.setdefault(c[1:], "=" + c[1:])
    # A theme's own word ("вода", "школа") also stands for the theme.
    for w in {c[1:] for v in lex.values() for c in v.split("+") if c[0] == "~"}:
        if "~" + w not in concepts[w].split("+"):
            concepts[w] += "+~" + w
    return Lexicon(
        stems=lex,
        concepts=concepts,
        exact=dict(_read_tsv("uk_ru_exact.tsv")),
        stop=frozenset(skel(w) for w in lexicon_list("match_stop_words")),
        min_len=min(len(k) for k in lex),
        max_len=max(len(k) for k in lex),
    )


_DIGITS = re.compile(r"^\d+$")


THEME_WEIGHT = 0.3  # a broad theme ("~вода") is weak evidence: it links neighbouring topics too
VERB_WEIGHT = 0.5  # "will build", "will open": the object of a promise tells promises apart, the verb less so


@lru_cache(maxsize=200_000)
def terms_of(word: str, lang: str) -> tuple[tuple[str, ...], str, float]:
    """The language-neutral term(s) for one word, its lemma and the terms' weight; () for function words.

    A compound maps to several terms ("велодоріжка" -> велосипед, доріжка) so it meets
    its spelled-out form ("велосипедна доріжка").
    """
    lex = lexicon()
    parses = morph_analyzer(lang).parse(word.lower())
    lemma = parses[0].normal_form if parses else word.lower()
    sk = skel(lemma)
    if lemma in lex.exact:
        return tuple("=" + skel(c) for c in lex.exact[lemma].split("+")), lemma, 1.0
    if len(sk) < 3 or sk in lex.stop or _DIGITS.match(sk):
        return (), lemma, 0.0
    weight = VERB_WEIGHT if parses and parses[0].tag.POS in ("VERB", "INFN") else 1.0
    if sk in lex.concepts:
        return tuple(lex.concepts[sk].split("+")), lemma, weight
    for k in range(min(len(sk), lex.max_len), lex.min_len - 1, -1):
        concept = lex.stems.get(sk[:k])
        if concept:
            return tuple(concept.split("+")), lemma, weight
    return (sk[:PREFIX_LEN],), lemma, weight


# "№ 5" tells "school No. 5" from "school No. 7"; OCR reads № as "Ме", "Мо" or "N" (pipeline.ocrnorm).
_NUMBER_SIGN = NUMBER_SIGN_NUMBER
# OCR mixes Latin look-alikes into Cyrillic words ("оcвiтлення"); fold them back.
_fix_homoglyphs = fold_homoglyphs


def terms_with_lemmas(text: str, lang: str) -> list[tuple[str, str, float]]:
    """(term, lemma, weight) for every content word of ``text``, plus "#n" for each "№ n"."""
    out = []
    for w in words(text):
        ts, lemma, weight = terms_of(_fix_homoglyphs(w), lang)
        for t in ts:
            out.append((t, lemma, weight))
    for m in _NUMBER_SIGN.finditer(text):
        out.append(("#" + m.group(1), "№ " + m.group(1), 1.0))
    return out



# --- cities, names, offices ---------------------------------------------------------------


_GENERIC_CITY_WORDS = {skel(w) for w in "новий нова нове старий стара велика великий малий мала біла білий".split()}


def _city_stem(city: str) -> str:
    """The distinctive stem of a city name: "Тернопіль" -> "тернопил", "Кривий Ріг" -> "крив"."""
    parts = [skel(w) for w in city.split()]
    parts = [w for w in parts if w not in _GENERIC_CITY_WORDS] or parts or [""]
    s = max(parts, key=len)  # a two-word name is found by its longest word ("Кривий Ріг" -> Криворізька)
    return s.rstrip("аеиоуя") or s


@lru_cache(maxsize=4096)
def city_keys(city: str) -> tuple[str, ...]:
    """Prefixes that the city's name and adjective take in either language.

    "Тернопіль" -> "терно" (Тернополя, Тернопільська, Тернопольский); the uk і
    often stands where ru has о or е, so those variants of the stem are added.
    """
    stem = _city_stem(city)
    k = 5 if len(stem) >= 6 else len(stem)
    keys = {stem[:k]}
    for i, ch in enumerate(stem[:k]):
        if ch == "и" and i > 0:
            for alt in ("о", "е"):
                keys.add(stem[:i] + alt + stem[i + 1 : k])
    # The council's adjective is not always the name's stem ("Біла Церква" -> "Білоцерківської",
    # "Кривий Ріг" -> "Криворізької"), nor the Russian name ("Белая Церковь"): the city list knows both.
    for form in city_lexicon().forms_of(city):
        if " " in form:
            continue  # a two-word name: its longest word is the stem above
        fk = skel(form).rstrip("аеиоуяйь")
        if len(fk) >= 6:
            keys.add(fk[:5])
    return tuple(sorted(keys))


@lru_cache(maxsize=200_000)
def _token_is_city(token: str, keys: tuple[str, ...], require_capital: bool = True) -> bool:
    if require_capital and not token[:1].isupper():
        return False
    t = skel(token)
    for key in keys:
        if t.startswith(key):
            rest = t[len(key) :]
            if len(key) >= 5 or (len(key) == 4 and len(rest) <= 7):
                return True
            # Short names ("Суми") clash with common words ("суми" = sums): accept
            # only case endings of a plural place name and adjectives.
            if rest in ("", "и", "ах", "ам", "ами") or rest.startswith(("ск", "цк")):
                return True
            if key[-1] in "сц" and rest.startswith("к"):
                return True
    return False


_OFFICE_PATTERNS = {
    "mayor": re.compile(r"міськ\w*\s+голов|городск\w*\s+голов|\bмер\w*\b|мэр", re.IGNORECASE),
    "oblast_head": re.compile(
        r"(?:голов|председател)\w*\s+(?:\w+\s+)?(?:облдержадмін|облгосадмин|обласн\w*\s+державн|областн\w*\s+государствен)",
        re.IGNORECASE,
    ),
    "oblast_council": re.compile(
        r"(?:голов|председател)\w*\s+(?:\w+\s+)?(?:обласн\w*|областн\w*)\s+(?:рад|совет)", re.IGNORECASE
    ),
    "deputy": re.compile(r"депутат", re.IGNORECASE),
}


def office_kind(office: str) -> str | None:
    for kind, pat in _OFFICE_PATTERNS.items():
        if pat.search(office):
            return kind
    return None



def promise_level(p: Promise) -> str:
    """"national" for a promise without a city, "region" for an oblast head's or council's, else "city"."""
    if not p.city:
        return "national"
    return "region" if office_kind(p.office) in ("oblast_head", "oblast_council") else "city"




# --- the index ------------------------------------------------------------------------------

W_TITLE = 2.0  # title terms count twice in tf-idf: titles name the deliverable, descriptions add context
TITLE_SHARE = 0.6  # of the coverage weight that goes to the title's terms


@dataclass
class PromiseIndex:
    """Promise term vectors and lookup tables, built once per run and reused for every letter."""

    promises: list[Promise]
    vocab: dict[str, int]
    coverage_w: sparse.csr_matrix  # promises x terms, idf weights, rows sum to 1
    tfidf: sparse.csr_matrix  # promises x terms, L2-normalised tf-idf
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
    coverage_title: sparse.csr_matrix | None = None  # promises x terms, idf weights of the title's terms, rows sum to 1
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
        tf_m = sparse.csr_matrix((vals, (rows, cols)), shape=(n, max(len(vocab), 1)), dtype=np.float64)
        df = np.asarray((tf_m > 0).sum(axis=0)).ravel()
        idf = np.log((1 + n) / (1 + df)) + 1.0
        # Coverage weights: idf per present term (title terms weighted up), rows summing to 1.
        cov = _row_normalise(tf_m.multiply(idf).tocsr(), l1=True)
        t_rows, t_cols, t_vals = [], [], []
        for i, d in enumerate(title_docs):
            for t, v in d.items():
                t_rows.append(i)
                t_cols.append(vocab[t])
                t_vals.append(v)
        title_m = sparse.csr_matrix((t_vals, (t_rows, t_cols)), shape=tf_m.shape, dtype=np.float64)
        cov_title = _row_normalise(title_m.multiply(idf).tocsr(), l1=True)
        # Title terms name the deliverable; descriptions add context and filler words.
        cov = (TITLE_SHARE * cov_title + (1 - TITLE_SHARE) * cov).tocsr()
        tfidf = _row_normalise(tf_m.multiply(idf).tocsr(), l1=False)
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

    def vectorise(self, texts: list[str], lang: str) -> tuple[sparse.csr_matrix, sparse.csr_matrix, list[set[str]]]:
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
        tf_m = sparse.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)
        binary = sparse.csr_matrix((b_vals, (b_rows, b_cols)), shape=shape, dtype=np.float64)
        tfidf = _row_normalise(tf_m.multiply(self.idf).tocsr(), l1=False)
        return binary, tfidf, present


BACKOFF_LEN = 5
BACKOFF_STRENGTH = 0.5


def _backoff_table(vocab: dict[str, int]) -> dict[str, list[int]]:
    table: dict[str, list[int]] = defaultdict(list)
    for t, j in vocab.items():
        if len(t) >= BACKOFF_LEN + 1 and t[0] not in "=#~":
            table[t[:BACKOFF_LEN]].append(j)
    return dict(table)


def _row_normalise(m: sparse.csr_matrix, l1: bool) -> sparse.csr_matrix:
    if l1:
        norms = np.asarray(abs(m).sum(axis=1)).ravel()
    else:
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms).dot(m).tocsr()

