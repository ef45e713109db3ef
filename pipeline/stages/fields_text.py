"""Words of field values: OCR repair (dictionary and position lexicon), sentence case, the genitive.

Used by the sender and signatory rules; the look-alike tables and the other OCR
normalisations they rely on live in :mod:`pipeline.ocrnorm`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from pipeline.cities import city_lexicon, norm_word
from pipeline.lexicons import lexicon
from pipeline.nlp import morph_analyzer

COUNCIL_WORDS = (
    "міськ",
    "обласн",
    "облдерж",
    "районн",
    "селищн",
    "сільськ",
    "городск",
    "областн",
    "облгос",
    "поселков",
    "сельск",
)
_PROPER = {"україни", "україна", "україні", "украины", "украина", "украине"}


def letters(s: str) -> str:
    return "".join(ch for ch in s if ch.isalpha())


def genitive(phrase: str, lang: str) -> str:
    """A nominative noun phrase ("Чернівецька міська рада") in the genitive, by pymorphy3."""
    morph = morph_analyzer(lang)
    words = phrase.lower().split()
    if not words:
        return phrase
    head_parses = [p for p in morph.parse(words[-1]) if "nomn" in p.tag and "NOUN" in p.tag]
    gender = None
    if head_parses:
        gender = next((g for g in ("femn", "masc", "neut") if g in head_parses[0].tag), None)
    out = []
    for i, w in enumerate(words):
        parses = [p for p in morph.parse(w) if "nomn" in p.tag]
        if i == len(words) - 1:
            parses = [p for p in parses if "NOUN" in p.tag] or parses
        else:
            parses = [p for p in parses if "ADJF" in p.tag and (gender is None or gender in p.tag)] or parses
        inflected = None
        for p in parses:
            g = p.inflect({"gent"})
            if g is not None:
                inflected = g.word
                break
        out.append(inflected or w)
    return " ".join(out)


def is_abbrev(tok: str) -> bool:
    lets = letters(tok)
    if not (2 <= len(lets) <= 5) or not lets.isupper() or lets.lower() in lexicon("function_words"):
        return False
    vowels = sum(ch in "АЕЄИІЇОУЮЯЫЭЁ" for ch in lets)
    return vowels == 0 or (vowels <= 1 and len(lets) <= 4 and lets in {"ЦНАП", "ОСББ", "ЖЕК", "ЖЕО", "РЕМ"})


def normal_case(text: str, keep_mixed: bool = False) -> str:
    """Sentence case for an organisation or position printed in capitals.

    Place adjectives before a council word ("Чернівецької міської ради"), known
    city adjectives, the country name, the first word inside «» and
    abbreviations keep their capitals. With ``keep_mixed`` words already in
    mixed case are left as printed.
    """
    lex = city_lexicon()
    tokens = text.split(" ")
    words = [re.sub(r"[^\w'’-]", "", t) for t in tokens]
    out: list[str] = []
    for i, tok in enumerate(tokens):
        word = words[i]
        if not word:
            out.append(tok)
            continue
        if is_abbrev(tok):
            out.append(tok)
            continue
        if keep_mixed and not (word.isupper() and len(letters(word)) > 1):
            out.append(tok)
            continue
        low = tok.lower()
        nxt = norm_word(words[i + 1]) if i + 1 < len(words) else ""
        cap = (
            i == 0
            or tok.startswith("«")
            or tok.startswith(('"', '('))
            or norm_word(word) in _PROPER
            or (nxt.startswith(COUNCIL_WORDS) and not norm_word(word).startswith(COUNCIL_WORDS) and _is_adj(word))
            or lex.is_place_adj(word)
        )
        if cap:
            low = _capitalize_word(
                low,
                # "Кам'янець-Подільської": every part of a hyphenated place name
                hyphen_parts=lex.is_place_adj(word) or (_is_adj(word) and nxt.startswith(COUNCIL_WORDS)),
            )
        out.append(low)
    return " ".join(out)


def _is_adj(word: str) -> bool:
    w = norm_word(word)
    if len(w) <= 4:
        return False
    if re.search(r"(?:ськ|цьк|зьк|ск|цк|ов|ів|ин|ін|ний|ний)\w{0,3}$", w):
        return True
    lang = "ru" if re.search(r"[ыэъё]", w) else "uk"  # "Центральної районної": any adjective names the place
    return any("ADJF" in p.tag for p in morph_analyzer(lang).parse(w)[:2])


def _capitalize_word(tok: str, hyphen_parts: bool = False) -> str:
    def cap(s: str) -> str:
        for j, ch in enumerate(s):
            if ch.isalpha():
                return s[:j] + ch.upper() + s[j + 1 :]
        return s

    if hyphen_parts:
        return "-".join(cap(p) for p in tok.split("-"))
    return cap(tok)

def name_normal(name: str) -> str:
    """ "Я. КУШНІРИК" -> "Я. Кушнірик"; "Сергій ЛАЗАРЕНКО" -> "Сергій Лазаренко"."""
    name = re.sub(r"\s+", " ", name.replace("’", "'").replace("ʼ", "'")).strip()

    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        return w[:1].upper() + w[1:].lower() if len(w) > 1 else w

    return re.sub(r"[^\W\d_]+(?:['][^\W\d_]+)*", fix, name)



# Letter pairs Tesseract swaps in Ukrainian and Russian print.
_CONFUSIONS = {"и": "й", "й": "и", "і": "ї", "ї": "і", "е": "є", "є": "е", "ш": "щ", "щ": "ш", "ь": "ъ"}


def known(word: str, lang: str) -> bool:
    w = norm_word(letters(word) if "'" not in word else word.strip('.,;:«»"()'))
    return not w or morph_analyzer(lang).word_is_known(w)


def _match_case(new: str, like: str) -> str:
    if like.isupper():
        return new.upper()
    if like[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _swap_letter(word: str, lang: str) -> str:
    """One OCR-damaged dictionary word with a swapped letter ("ВИКОНАВЧИИ")."""
    low = word.lower()
    if len(low) < 3 or known(low, lang) or not low.isalpha():
        return word
    morph = morph_analyzer(lang)
    for i, ch in enumerate(low):
        alt = _CONFUSIONS.get(ch)
        if alt and morph.word_is_known(low[:i] + alt + low[i + 1 :]):
            return _match_case(low[:i] + alt + low[i + 1 :], word)
    return word


def _repair_word(word: str, lang: str) -> str:
    """One OCR-damaged dictionary word: a swapped letter ("ВИКОНАВЧИИ") or a lost space ("міськоїради")."""
    low = word.lower()
    if len(low) < 3 or known(low, lang) or not low.isalpha():
        return word
    swapped = _swap_letter(word, lang)
    if swapped != word:
        return swapped
    morph = morph_analyzer(lang)
    for i in range(3, len(low) - 2):
        a, b = low[:i], low[i:]
        if morph.word_is_known(a) and morph.word_is_known(b) and len(b) >= 3:
            return _match_case(a, word) + " " + (b.upper() if word.isupper() else b)
    return word


_QUOTED = re.compile(r"(«[^»]*»|\"[^\"]*\"|“[^”]*”)")


def fix_ocr_words(text: str, lang: str) -> str:
    """Repair OCR-damaged dictionary words in an organisation name or a position.

    Quoted parts are proper names («Львівміськсвітло»), not dictionary words: left alone."""
    def fix(part: str) -> str:
        part = re.sub(r"[^\W\d_]+", lambda m: _swap_letter(m.group(0), lang), part)  # the surest repair first
        part = _repair_words(part, lang)  # then towards the lexicon
        return re.sub(r"[^\W\d_]+", lambda m: _repair_word(m.group(0), lang), part)  # then lost spaces

    return "".join(part if i % 2 else fix(part) for i, part in enumerate(_QUOTED.split(text)))


def _fits_name(word: str, lang: str) -> bool:
    """A known word that can stand in a body's or a position's name (not a verb form such as
    "заместите", which OCR makes of a torn "заместитель")."""
    if not known(word, lang):
        return False
    parses = morph_analyzer(lang).parse(norm_word(word))
    return any(p.tag.POS not in ("VERB", "INFN", "GRND") for p in parses)


# --- repair towards the position lexicon -------------------------------------------------------


@lru_cache(maxsize=1)
def _vocab() -> tuple[str, ...]:
    return tuple(sorted(lexicon("position_vocabulary")))


def _nearest(word: str, lang: str = "uk", want_gent: bool = False) -> str | None:
    """The one lexicon word a damaged ``word`` stands for: a few letters off (a third of its
    letters at most), or its end torn off by a stamp (5+ letters kept). Only words of ``lang``
    compete; after a position's head the genitive form wins."""
    low = norm_word(word)
    if len(low) < 4:
        return None
    cands: list[tuple[int, str]] = []
    for cand in _vocab():
        if len(cand) > len(low) >= 5 and cand.startswith(low) and cand[len(low)] != "-":
            cands.append((1, cand))
            continue
        if abs(len(cand) - len(low)) > 3:
            continue
        limit = 1 if len(cand) < 6 else min(3, len(cand) // 3)
        d = Levenshtein.distance(low, cand, score_cutoff=limit)
        if d <= limit:
            cands.append((d, cand))
    cands = [c for c in cands if known(c[1], lang)]
    if want_gent:
        cands = [c for c in cands if _is_genitive(c[1], lang)] or cands
    if not cands:
        return None
    cands.sort()
    if len(cands) == 1 or cands[0][0] < cands[1][0]:
        return cands[0][1]
    return None


def _is_genitive(word: str, lang: str) -> bool:
    return any("gent" in p.tag for p in morph_analyzer(lang).parse(word)[:2])


def _repair_words(text: str, lang: str) -> str:
    """Words the dictionary does not know, mended from the position lexicon: "блужби" -> "Служби",
    "Департа зу" -> "Департаменту", "Сек тар" -> "Секретар", "Заступниюміського" -> "Заступник
    міського". A word the dictionary knows is never touched."""
    toks = text.split(" ")
    heads = lexicon("position_heads")
    out: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        core = re.sub(r"^[^\w']+|[^\w']+$", "", tok)
        if not core or _fits_name(core, lang) or not core.replace("'", "").replace("-", "").isalpha():
            out.append(tok)
            i += 1
            continue
        gent = bool(out) and norm_word(out[-1]) not in heads
        nxt = re.sub(r"[^\w']+$", "", toks[i + 1]) if i + 1 < len(toks) else ""
        fixed = None
        if nxt and not known(nxt, lang) and nxt.isalpha():
            fixed = _nearest(core + nxt, lang, gent)  # a word torn in two by a stamp
            if fixed:
                i += 1
        if fixed is None:
            fixed = _nearest(core, lang, gent) or _split_lexicon(core, lang)
            torn_tail = nxt and (
                (len(nxt) <= 2 and norm_word(nxt) not in lexicon("function_words"))
                or (len(nxt) == 3 and not known(nxt, lang))
            )
            if fixed and torn_tail and fixed.startswith(norm_word(core)):
                i += 1  # the torn word's tail, garbled: "Департа зу"
        out.append(tok.replace(core, _like(fixed, core)) if fixed else tok)
        i += 1
    return " ".join(out)


def _split_lexicon(word: str, lang: str) -> str | None:
    """A lost space between two lexicon words, one of them a letter off: "Заступниюміського"."""
    low = norm_word(word)
    vocab = set(_vocab())
    for k in range(4, len(low) - 3):
        a, b = low[:k], low[k:]
        if b in vocab:
            first = a if a in vocab else _nearest(a, lang)
            if first:
                return f"{first} {b}"
    return None


def _like(new: str, like: str) -> str:
    """``new`` in the letter case of ``like``; a first letter OCR misread as a lower-case one
    (С as "б") keeps its capital."""
    if like.isupper() and len(like) > 1:
        return new.upper()
    if like[:1].isupper() or (like[:1] != new[:1] and like[:1].lower() in "бї|1l"):
        return new[:1].upper() + new[1:]
    return new


