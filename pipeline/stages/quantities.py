"""Counted quantities in Ukrainian and Russian text: "35 нових майданчиків", "тридцять п'ять шкіл",
"3,2 км", "п'ятдесяти табло", "12 із 35", "усі 27 шкіл", "половину".

Promise terms and passage facts both read quantities with this module, so a promised "35
дитячих майданчиків" and a reported "12 майданчиків" meet on the same unit key. Numerals in words
are read in any case through pymorphy3's normal forms; dates, years, document numbers ("№ 12",
"рішення № 512") and sums of money are not counted things and are left out (money is kept with
the unit "грн" for completeness, never compared with a count of objects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.nlp import detect_language, morph_analyzer
from pipeline.stages.dates import find_dates, month_from_word

# Numeral lemmas (pymorphy3 normal forms, apostrophes folded to ') -> value.
_UNITS = {
    "один": 1, "одна": 1, "одне": 1, "одно": 1, "два": 2, "дві": 2, "две": 2, "три": 3, "чотири": 4, "четыре": 4,
    "п'ять": 5, "пять": 5, "шість": 6, "шесть": 6, "сім": 7, "семь": 7, "вісім": 8, "восемь": 8,
    "дев'ять": 9, "девять": 9, "десять": 10, "одинадцять": 11, "одиннадцать": 11, "дванадцять": 12,
    "двенадцать": 12, "тринадцять": 13, "тринадцать": 13, "чотирнадцять": 14, "четырнадцать": 14,
    "п'ятнадцять": 15, "пятнадцать": 15, "шістнадцять": 16, "шестнадцать": 16, "сімнадцять": 17,
    "семнадцать": 17, "вісімнадцять": 18, "восемнадцать": 18, "дев'ятнадцять": 19, "девятнадцать": 19,
}
_TENS = {
    "двадцять": 20, "двадцать": 20, "тридцять": 30, "тридцать": 30, "сорок": 40, "п'ятдесят": 50,
    "пятьдесят": 50, "шістдесят": 60, "шестьдесят": 60, "сімдесят": 70, "семьдесят": 70, "вісімдесят": 80,
    "восемьдесят": 80, "дев'яносто": 90, "девяносто": 90,
}
_HUNDREDS = {
    "сто": 100, "двісті": 200, "двести": 200, "триста": 300, "чотириста": 400, "четыреста": 400,
    "п'ятсот": 500, "пятьсот": 500, "шістсот": 600, "шестьсот": 600, "сімсот": 700, "семьсот": 700,
    "вісімсот": 800, "восемьсот": 800, "дев'ятсот": 900, "девятьсот": 900,
}
_SCALES = {"тисяча": 1000, "тысяча": 1000, "мільйон": 1_000_000, "миллион": 1_000_000}
# Fractions of the whole: "половину", "третину", "четверть".
FRACTIONS = {"половина": 0.5, "третина": 1 / 3, "треть": 1 / 3, "чверть": 0.25, "четверть": 0.25}
# Surface forms pymorphy3 does not give a numeral parse for ("сорока" reads as a magpie).
_FORMS = {"сорока": 40, "сорока́": 40, "дев'яноста": 90, "ста": 100, "сотні": 100, "сотню": 100, "сотня": 100}
# Multipliers of a promise stated relative to today: "удвічі більше", "втрое больше".
MULTIPLIERS = {"удвічі": 2, "вдвічі": 2, "вдвое": 2, "удвое": 2, "утричі": 3, "втричі": 3, "втрое": 3,
               "вчетверо": 4, "учетверо": 4}

_MEASURES = ("км", "м", "га", "м2", "%", "шт")
_OF = ("із", "з", "зі", "из", "от")
_ALL_NUMERALS = {**_UNITS, **_TENS, **_HUNDREDS}

# Abbreviated units as printed.
UNIT_ABBREV = {
    "км": "км", "кілометр": "км", "километр": "км", "м": "м", "метр": "м", "пог": "м", "га": "га",
    "гектар": "га", "шт": "шт", "од": "шт", "ед": "шт", "кв": "м2", "м2": "м2", "м²": "м2",
    "грн": "грн", "гривня": "грн", "гривна": "грн", "%": "%", "відсоток": "%", "процент": "%",
    "місце": "місце", "место": "місце",
}
_MONEY_SCALE = {"тис", "тыс", "млн", "млрд", "тисяча", "тысяча", "мільйон", "миллион", "мільярд", "миллиард"}

# Words of the counted phrase that carry no unit: adjectives are skipped by POS, these by name.
_SKIP = {"новий", "новый", "сучасний", "современный", "додатковий", "дополнительный", "із", "з", "из", "зі", "со",
         "від", "от", "понад", "более", "близько", "около", "майже", "почти", "ще", "еще", "вже", "уже", "всього",
         "всего", "загалом", "в", "у", "на", "та", "и", "і", "й"}

# Abbreviations that follow a number without being what it counts (an address, a document).
_NOT_UNITS = {"вул", "ул", "просп", "пров", "пер", "пл", "бульв", "буд", "д", "кв", "корп", "мкр", "від", "от", "№"}
_TOKEN = re.compile(r"\d{1,3}(?:[ \u00a0]\d{3})+(?![\d.,])|\d+(?:[.,]\d+)?|%|[^\W\d_]+(?:['’ʼ][^\W\d_]+)*", re.UNICODE)
_NUMBER_SIGN = re.compile(r"(?:№|N[°oº]?|Nº|номер\w*)\s*$", re.IGNORECASE)
_YEAR_WORDS = {"рік", "року", "році", "год", "года", "году", "р", "г", "роки", "років", "годы", "годов", "рр", "гг"}


def fold(word: str) -> str:
    return word.lower().replace("’", "'").replace("ʼ", "'").replace("ё", "е")


@dataclass(frozen=True)
class Quantity:
    """A number of things: ``value`` of ``unit`` (a language-neutral key), as printed in ``phrase``."""

    value: float
    unit: str  # unit key: "км", "грн", "%" or the counted noun's term ("майданчик", "=школ")
    unit_lemma: str  # the counted noun's lemma, for people
    phrase: str
    start: int
    end: int
    of_total: float | None = None  # "12 із 35": the total the count is out of
    all_of: bool = False  # "усі 27 шкіл", "на всій протяжності"

    def to_json(self) -> dict[str, object]:
        return {"value": self.value, "unit": self.unit, "unit_lemma": self.unit_lemma, "phrase": self.phrase,
                "of_total": self.of_total, "all_of": self.all_of}


# The first two letters of every form of every numeral and scale word above, in both languages
# (tests/test_promise_terms.py recomputes them from the dictionaries): a word starting otherwise
# is no numeral, and is not looked up at all (a dictionary lookup costs ~0.3 ms, and most words
# of a text are scanned for numbers).
NUMERAL_PREFIXES = frozenset({
    "во", "ві", "дв", "де", "ми", "мі", "од", "п'", "по", "пя", "се", "си", "со", "ст", "сь", "сю", "ся", "сі", "те",
    "ти", "тр", "ты", "че", "чо", "ше", "ші"})


@lru_cache(maxsize=50_000)
def numeral_value(word: str, lang: str) -> int | None:
    """The value of one numeral word in any case ("п'ятдесяти" -> 50), else None.

    Both dictionaries are asked: a short Russian sentence is easily taken for Ukrainian."""
    w = fold(word)
    if w in _FORMS:
        return _FORMS[w]
    if w in _ALL_NUMERALS or w in _SCALES:
        return _ALL_NUMERALS.get(w) or _SCALES[w]
    if w[:2] not in NUMERAL_PREFIXES:
        return None
    for lg in (lang, "ru" if lang == "uk" else "uk"):
        for parse in morph_analyzer(lg).parse(w):
            nf = fold(parse.normal_form)
            if nf in _ALL_NUMERALS and parse.tag.POS in ("NUMR", None):
                return _ALL_NUMERALS[nf]
            if nf in _SCALES and parse.tag.POS == "NOUN":
                return _SCALES[nf]
    return None


@lru_cache(maxsize=50_000)
def _parse(word: str, lang: str) -> tuple[str, str | None]:
    """(lemma, POS) of the most likely parse."""
    parses = morph_analyzer(lang).parse(fold(word))
    if not parses:
        return fold(word), None
    return fold(parses[0].normal_form), parses[0].tag.POS


def unit_key(lemma: str, lang: str) -> str:
    """A language-neutral key for a counted noun, so "майданчик" (uk) meets "площадка" (ru)."""
    if lemma in UNIT_ABBREV:
        return UNIT_ABBREV[lemma]
    from pipeline.stages.match_terms import terms_of

    terms, _, _ = terms_of(lemma, lang)
    return terms[0] if terms else lemma


@dataclass
class _Tok:
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _number_at(toks: list[_Tok], i: int, lang: str) -> tuple[float, int] | None:
    """A number starting at token ``i`` (digits, or numeral words) and the index after it."""
    t = toks[i].text
    if t[0].isdigit():
        value = float(re.sub(r"[ \u00a0]", "", t).replace(",", "."))
        j = i + 1
        # "1 200" or "1,4 тис." are read by the caller as money; a scale word multiplies a count.
        if j < len(toks) and (fold(toks[j].text) in ("тис", "тыс") or (numeral_value(toks[j].text, lang) or 0) >= 1000):
            value *= 1000 if fold(toks[j].text) in ("тис", "тыс") else numeral_value(toks[j].text, lang) or 1
            j += 1
        return value, j
    total, current, j, seen = 0, 0, i, False
    while j < len(toks):
        w = toks[j].text
        if w[0].isdigit():
            break
        v = numeral_value(w, lang)
        if v is None or (v == 1 and not seen):
            break  # "один"/"одному" is mostly "a", not a count
        if v >= 1000:
            total += (current or 1) * v
            current = 0
        else:
            current += v
        seen = True
        j += 1
    if not seen:
        return None
    return float(total + current), j


def _blocked(text: str) -> list[tuple[int, int]]:
    """Spans that hold numbers which are not counts: dates and document numbers."""
    spans = [(d.start, d.end) for d in find_dates(text)]
    spans += [(m.start(), m.end()) for m in re.finditer(r"(?:№|N[°oº]?|Nº)\s*[\d/\-–.]+(?:[-/]\w+)*", text)]
    spans += [(m.start(), m.end()) for m in re.finditer(r"\b\d{1,4}[-/]\d+(?:[-/]\d+)*\b", text)]
    # addresses: "вул. Шевченка, 12", "просп. Миру, 7а", "буд. 5"
    spans += [(m.start(), m.end()) for m in re.finditer(
        r"\b(?:вул|ул|просп|пр-т|пров|пер|пл|бульв|б-р|буд|д|кв|корп|м-н|мкр)\.\s*(?:[^\W\d_][^\d,;.]{0,40}?,?\s*)?"
        r"\d+(?:\s*[-/]\s*\d+)?[а-яієa-z]?\b", text, re.I)]
    # "1 вересня", "до 15 мая": a day of a month; "1990-х": a decade
    for m in re.finditer(r"\b([0-3]?\d)\s+([^\W\d_]{3,10})", text):
        if month_from_word(m.group(2)):
            spans.append((m.start(), m.end()))
    spans += [(m.start(), m.end()) for m in re.finditer(r"\b(?:19|20)\d\d\s*-\s*(?:х|му|м|го|й|ий|ого|ом)\b", text)]
    return spans


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in spans)


_ALL_WORDS = {"усі", "всі", "все", "всіх", "усіх", "всех", "весь", "вся", "всю", "усю", "всієї", "всей", "всій",
              "кожен", "кожний", "каждый", "кожному", "каждом", "обидва", "обидві", "оба", "обе", "обох", "обоих"}


def find_quantities(text: str, lang: str | None = None) -> list[Quantity]:
    """Every counted quantity in ``text`` in order; numbers of documents, dates and years are left out."""
    from pipeline.ocrnorm import fold_mixed_words

    text = fold_mixed_words(text)  # "пoкрівель" -> "покрівель"; one character for one, offsets stay
    lang = lang or detect_language(text)
    toks = _tokens(text)
    blocked = _blocked(text)
    out: list[Quantity] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if _inside(tok.start, blocked) or _NUMBER_SIGN.search(text[max(0, tok.start - 8):tok.start]):
            i += 1
            continue
        got = _number_at(toks, i, lang)
        if got is None:
            w = fold(tok.text)
            lemma, _ = _parse(w, lang)
            if lemma in FRACTIONS:
                unit_tok = _unit_after(toks, i + 1, lang)
                unit, ulemma, _ = unit_tok or ("", "", i + 1)
                out.append(Quantity(FRACTIONS[lemma], "fraction", ulemma, tok.text, tok.start, tok.end,
                                    of_total=1.0))
            i += 1
            continue
        value, j = got
        # A year ("у 2016 році", "2015-2017 роки") is not a count.
        nxt = fold(toks[j].text) if j < len(toks) else ""
        if tok.text.isdigit() and 1900 <= value <= 2100 and (nxt in _YEAR_WORDS or nxt == "" or
                                                             not _unit_after(toks, j, lang)):
            i = j
            continue
        if nxt in _MONEY_SCALE or nxt in ("грн", "гривень", "гривен", "гривні", "гривны", "гривня"):
            k = j
            while k < len(toks) and fold(toks[k].text) in _MONEY_SCALE:
                k += 1
            end = toks[min(k, len(toks) - 1)].end
            out.append(Quantity(value, "грн", "грн", text[tok.start:end], tok.start, end))
            i = k + 1
            continue
        of_total = None
        k = j
        # "12 із 35", "12 з 35 запланованих", "3,2 км из запланированных 3,2 км"
        unit_first = _unit_after(toks, k, lang)
        measure = unit_first is not None and unit_first[2] == k + 1 and unit_first[0] in _MEASURES
        if measure:
            k = unit_first[2]
        if k < len(toks) and fold(toks[k].text) in ("із", "з", "зі", "из", "от") and k + 1 < len(toks):
            m = k + 1
            while m < len(toks) and fold(toks[m].text) in ("запланованих", "запланированных", "передбачених",
                                                            "предусмотренных", "обіцяних", "обещанных", "загальних"):
                m += 1
            tot = _number_at(toks, m, lang) if m < len(toks) else None
            if tot is not None:
                of_total, k = tot
        unit = unit_first if measure else (_unit_after(toks, k, lang) or unit_first)
        all_of = any(fold(t.text) in _ALL_WORDS for t in toks[max(0, i - 3):i])
        if of_total is None and unit is not None:
            # "в 11 школах з 24", "2,3 км мереж із 4,8 км": the total after the counted noun
            m = unit[2]
            if m < len(toks) and not toks[m].text[0].isdigit() and fold(toks[m].text) not in _OF and m + 1 < len(toks):
                m += 1  # one more word of the phrase ("км мереж із")
            if m < len(toks) and fold(toks[m].text) in _OF and m + 1 < len(toks):
                tot = _number_at(toks, m + 1, lang)
                if tot is not None and tot[0] >= value:
                    of_total, k = tot[0], tot[1]
        if unit is None:
            if of_total is not None:  # "у 4 з 9 ра йонів": a share of a set, the noun torn by OCR
                out.append(Quantity(value, "", "", text[tok.start:toks[k - 1].end], tok.start, toks[k - 1].end,
                                    of_total, all_of))
            i = max(j, k)
            continue
        key, ulemma, after = unit
        end = toks[after - 1].end if after > i else tok.end
        out.append(Quantity(value, key, ulemma, text[tok.start:end], tok.start, end, of_total, all_of))
        i = max(after, j, k)
    return out


def _unit_after(toks: list[_Tok], i: int, lang: str) -> tuple[str, str, int] | None:
    """(unit key, lemma, index after) of the counted noun within the next few words."""
    for j in range(i, min(i + 5, len(toks))):
        w = fold(toks[j].text)
        if w[0].isdigit():
            return None
        if w in UNIT_ABBREV:
            return UNIT_ABBREV[w], w, j + 1
        if w in _SKIP or w in _ALL_WORDS:
            continue
        if w in _NOT_UNITS:
            return None
        lemma, pos = _parse(w, lang)
        if lemma in UNIT_ABBREV:
            return UNIT_ABBREV[lemma], lemma, j + 1
        if pos in ("ADJF", "ADJS", "PRTF", "PRTS", "NUMR") or numeral_value(w, lang) is not None:
            continue
        if pos == "NOUN" or pos is None:
            if lemma in _YEAR_WORDS or lemma in ("рік", "год", "місяць", "месяц", "день", "тиждень", "неделя"):
                return None
            return unit_key(lemma, lang), lemma, j + 1
        return None
    return None


_VOWELS = re.compile(r"[аеиоуяюіїєыэёй'ьъ=]")


def _consonants(key: str) -> str:
    return _VOWELS.sub("", key.lower())


def same_unit(a: str, b: str) -> bool:
    """Whether two unit keys name the same thing.

    Keys of one concept in two languages are equal already ("площадка" and "майданчик" ->
    "=маиданчик"); cognates spelled apart by the uk і/о alternation ("двір" / "двор") meet on
    their consonants."""
    if not a or not b:
        return False
    if a == b:
        return True
    ca, cb = _consonants(a), _consonants(b)
    n = min(4, len(ca), len(cb))
    return n >= 3 and ca[:n] == cb[:n]
