"""The words of matching: spelling skeletons, language-neutral terms (lemmas through the uk<->ru
civic lexicon), city keys, office kinds and promise levels. Apart from the index
(:mod:`pipeline.stages.match_index`) so that reading a promise's terms needs no NumPy or SciPy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from pipeline.cities import city_lexicon
from pipeline.lexicons import lexicon_list
from pipeline.nlp import morph_analyzer, words
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
