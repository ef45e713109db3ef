"""Dates in Ukrainian and Russian official letters, tolerant to OCR noise.

Supported shapes (each with optional «», "", (( )) quotes around the day and an
optional year word р./року/рік/г./года after the year):

    20.01.2015   20.01.2015 р.   20.01.15   20,01.2015 (OCR)   2 0.01.2О15 (OCR)
    «20» січня 2015 р.   20 січня 2015 року   20 января 2015 г.

:func:`find_dates` returns every date with its span; :func:`parse_date` the
first date of a string. Nothing here raises on arbitrary input.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.ocrnorm import DIGIT_LIKE, HOMOGLYPHS

# Genitive month names as printed in dates, then nominative forms that OCR or
# careless typing sometimes gives. Index = month number - 1.
_MONTHS_UK = (
    "січня", "лютого", "березня", "квітня", "травня", "червня",
    "липня", "серпня", "вересня", "жовтня", "листопада", "грудня",
)  # fmt: skip
_MONTHS_RU = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
_MONTHS_NOM = (
    ("січень", "январь"), ("лютий", "февраль"), ("березень", "март"), ("квітень", "апрель"),
    ("травень", "май"), ("червень", "июнь"), ("липень", "июль"), ("серпень", "август"),
    ("вересень", "сентябрь"), ("жовтень", "октябрь"), ("листопад", "ноябрь"), ("грудень", "декабрь"),
)  # fmt: skip

MONTH_NAMES: dict[str, tuple[str, ...]] = {"uk": _MONTHS_UK, "ru": _MONTHS_RU}

# Latin look-alikes inside Cyrillic words, and letters OCR gives for digits: pipeline.ocrnorm.
_LATIN_TO_CYR = HOMOGLYPHS
_DIGIT_LIKE = DIGIT_LIKE

_D = r"[0-9OОЗoо]"  # a digit, or a letter OCR confuses with one
_SP = r"[ \t]?"  # OCR sometimes splits a number with one space
_DAY = rf"(?P<d>[0-3OОoо]?{_SP}{_D})"
_MON = rf"(?P<m>[01OОoо]?{_SP}{_D})"
_YEAR = rf"(?P<y>[12]{_SP}[09OОoо]{_SP}{_D}{_SP}{_D}|{_D}{_SP}{_D})"
_SEP = r"[ \t]?[.,][ \t]?"
_SEP2 = r"[ \t]?[.,:][ \t]?"  # OCR reads the second dot as a colon now and then ("18.10:2016")
_YEAR_WORD = r"(?:[ \t]*(?:року|рік|года|год|р\.|г\.|р(?![\w])|г(?![\w])))?"

# A dot right before the day is OCR debris (".11.12.2018") unless a digit stands before it.
NUMERIC_DATE = re.compile(
    rf"(?<![\d,/-])(?<!\d[.]){_DAY}{_SEP}{_MON}{_SEP2}{_YEAR}(?![\d]|[.,:/-]\d){_YEAR_WORD}"
)
# A hand-filled register line: «08» __06__ 2017 р. (day quoted, month as digits in a blank)
REGISTER_DATE = re.compile(
    rf"(?<![\w])[«\"“„'](?P<d>[0-3OОoо]?{_D})[»\"”'][ \t_]*(?P<m>[01OОoо]?{_D})[ \t_]+"
    rf"(?P<y>[12][ \t]?[09OО][ \t]?{_D}[ \t]?{_D})(?!\d){_YEAR_WORD}"
)
_OPEN_Q = r"(?:[«\"“„'(<]{1,2}[ \t]?)?"
_CLOSE_Q = r"(?:[ \t]?[»\"”')>]{1,2})?"
TEXT_DATE = re.compile(
    rf"(?<![\w]){_OPEN_Q}(?P<d>[0-3OОoо]?[0-9OОЗ]){_CLOSE_Q}[ \t]*(?P<mw>[^\W\d_]{{3,10}})[ \t]*,?[ \t]*"
    rf"(?P<y>[12][ \t]?[09OО][ \t]?{_D}[ \t]?{_D})(?!\d){_YEAR_WORD}"
)


@dataclass(frozen=True)
class DateMatch:
    date: dt.date
    start: int  # span in the searched string
    end: int
    text: str
    numeric: bool  # dd.mm.yyyy form (True) or with a month name (False)


def _digits(s: str) -> str:
    return re.sub(r"\s", "", s.translate(_DIGIT_LIKE))


def _year(s: str) -> int | None:
    digits = _digits(s)
    if not digits.isdigit():
        return None
    y = int(digits)
    if len(digits) == 2:
        # two-digit years in letters of this era: 00-69 -> 20xx, 70-99 -> 19xx
        y += 2000 if y < 70 else 1900
    return y


@lru_cache(maxsize=4096)
def month_from_word(word: str) -> int | None:
    """Month number for a (possibly OCR-damaged) Ukrainian or Russian month word."""
    w = word.translate(_LATIN_TO_CYR).lower().replace("ё", "е")
    if len(w) < 3:
        return None
    for table in (_MONTHS_UK, _MONTHS_RU):
        if w in table:
            return table.index(w) + 1
    for i, pair in enumerate(_MONTHS_NOM):
        if w in pair:
            return i + 1
    # One OCR error in a word of 5+ letters: accept the single nearest month.
    if len(w) >= 5:
        from rapidfuzz.distance import Levenshtein

        best: list[int] = []
        for table in (_MONTHS_UK, _MONTHS_RU):
            for i, name in enumerate(table):
                if abs(len(name) - len(w)) <= 1 and Levenshtein.distance(w, name, score_cutoff=1) <= 1:
                    best.append(i + 1)
        if len(set(best)) == 1:
            return best[0]
    return None


def _make(y: int | None, m: int | None, d: int | None) -> dt.date | None:
    if y is None or m is None or d is None or not 1900 <= y <= 2099:
        return None
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def find_dates(text: str) -> list[DateMatch]:
    """Every date in ``text`` with its span, in text order."""
    if not isinstance(text, str) or not text:
        return []
    found: list[DateMatch] = []
    for mt in NUMERIC_DATE.finditer(text):
        d, m = _digits(mt.group("d")), _digits(mt.group("m"))
        if not (d.isdigit() and m.isdigit()):
            continue
        date = _make(_year(mt.group("y")), int(m), int(d))
        if date is not None:
            found.append(DateMatch(date, mt.start(), mt.end(), mt.group(0), True))
    for mt in REGISTER_DATE.finditer(text):
        d, m = _digits(mt.group("d")), _digits(mt.group("m"))
        date = _make(_year(mt.group("y")), int(m), int(d)) if d.isdigit() and m.isdigit() else None
        if date is not None and not any(f.start < mt.end() and mt.start() < f.end for f in found):
            found.append(DateMatch(date, mt.start(), mt.end(), mt.group(0), True))
    for mt in TEXT_DATE.finditer(text):
        month = month_from_word(mt.group("mw"))
        d = _digits(mt.group("d"))
        if month is None or not d.isdigit():
            continue
        date = _make(_year(mt.group("y")), month, int(d))
        if date is not None and not any(f.start < mt.end() and mt.start() < f.end for f in found):
            found.append(DateMatch(date, mt.start(), mt.end(), mt.group(0), False))
    found.sort(key=lambda f: f.start)
    return found


def iso_date(value: object) -> dt.date | None:
    """A stored ISO date ("2014-11-07", a date, or an ISO datetime string) as a date; None if empty or bad."""
    if isinstance(value, dt.date):
        return value
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def parse_date(s: str) -> dt.date | None:
    """The first date in ``s`` in any supported format, or None."""
    try:
        dates = find_dates(s[:100_000] if isinstance(s, str) else "")
    except Exception:  # defensive: a date parser must never take a letter down
        return None
    return dates[0].date if dates else None


def format_date(date: dt.date, fmt: str) -> str:
    """``date`` in one of :data:`FORMATS` (used by tests and fixtures)."""
    d, m, y = date.day, date.month, date.year
    uk, ru = _MONTHS_UK[m - 1], _MONTHS_RU[m - 1]
    return {
        "dd.mm.yyyy": f"{d:02d}.{m:02d}.{y}",
        "dd.mm.yyyy р.": f"{d:02d}.{m:02d}.{y} р.",
        "dd.mm.yyyy г.": f"{d:02d}.{m:02d}.{y} г.",
        "dd.mm.yy": f"{d:02d}.{m:02d}.{y % 100:02d}",
        "«dd» month_uk yyyy р.": f"«{d:02d}» {uk} {y} р.",
        "d month_uk yyyy року": f"{d} {uk} {y} року",
        "d month_ru yyyy г.": f"{d} {ru} {y} г.",
        "«dd» month_ru yyyy г.": f"«{d:02d}» {ru} {y} г.",
        "dd month_ru yyyy года": f"{d:02d} {ru} {y} года",
    }[fmt]


FORMATS = (
    "dd.mm.yyyy",
    "dd.mm.yyyy р.",
    "dd.mm.yyyy г.",
    "dd.mm.yy",
    "«dd» month_uk yyyy р.",
    "d month_uk yyyy року",
    "d month_ru yyyy г.",
    "«dd» month_ru yyyy г.",
    "dd month_ru yyyy года",
)


def baseline_letter_date(text: str) -> str | None:
    """Paperless-ngx-style baseline: the first date dateparser finds, ISO, or None."""
    try:
        from dateparser.search import search_dates

        hits = search_dates(
            text[:20_000], languages=["uk", "ru"], settings={"DATE_ORDER": "DMY", "PREFER_DAY_OF_MONTH": "first"}
        )
    except Exception:  # the baseline is only printed beside ours; never fail on it
        return None
    today = dt.date.today()
    for _, when in hits or []:
        # Paperless-ngx keeps only dates after 1900 and not in the future
        if when.year > 1900 and when.date() <= today:
            return when.date().isoformat()
    return None
