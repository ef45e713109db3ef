"""What a promise commits to: its deadline, its quantity, its scope and its object.

Computed once per promise when the registry is indexed, stored with the promise, shown to
reviewers, and compared with what a letter reports (:mod:`pipeline.stages.letter_facts`).
The analysts' reading of deadlines (the verdict policy):

- "у 2016 році", "в 2016 году", "у 2016-му" -> by 2016-12-31;
- "до кінця 2017 року", "до конца года" (of ``said_on``'s year) -> by 31 December;
- "до 1 вересня" -> before 1 September of the year meant (the first one after ``said_on``);
- "до 2020 року" -> before 2020, i.e. by 2019-12-31;
- seasons: "восени" -> by 30 November, "до кінця літа" / "влітку" -> by 31 August, "навесні" ->
  by 31 May, "взимку" -> by the end of February;
- months, quarters and halves ("у травні 2018", "в первом квартале 2015 года", "у першому
  півріччі") -> their last day; "до травня" -> the day before 1 May;
- relative forms count from ``said_on``: "цього року" / "в этом году", "наступного року",
  "за два роки", "протягом двох років", "в течение двух лет", "за 100 днів", "до кінця каденції"
  (five years);
- "до Дня Незалежності" -> 24 August, "до Нового року" -> 31 December, "до початку навчального
  року" -> 31 August, "до опалювального сезону" -> 15 October.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from pipeline.nlp import detect_language, morph_analyzer, words
from pipeline.schema import Promise
from pipeline.stages.dates import find_dates, month_from_word
from pipeline.stages.quantities import MULTIPLIERS, Quantity, find_quantities, fold, numeral_value


@dataclass(frozen=True)
class Deadline:
    """The last day that still counts as on time, and how the promise said it."""

    end: dt.date
    granularity: str  # day | month | season | quarter | half | year | relative | holiday
    phrase: str

    def to_json(self) -> dict[str, str]:
        return {"end": self.end.isoformat(), "granularity": self.granularity, "phrase": self.phrase}


@dataclass(frozen=True)
class PromiseTerms:
    deadline: Deadline | None
    quantity: Quantity | None
    multiplier: float | None = None  # "удвічі більше": the promised growth factor
    quantity_in_title: bool = True  # the count is stated in the title (the promise as quoted), not only described
    scope_all: bool = False  # "усі школи", "в усіх мікрорайонах", "обидва мости"
    scope_words: tuple[str, ...] = ()
    object_terms: tuple[str, ...] = field(default_factory=tuple)  # language-neutral terms of the promised thing
    object_lemmas: tuple[str, ...] = field(default_factory=tuple)  # the same, as lemmas for people

    def to_json(self) -> dict[str, object]:
        return {
            "deadline": self.deadline.to_json() if self.deadline else None,
            "quantity": self.quantity.to_json() if self.quantity else None,
            "multiplier": self.multiplier,
            "scope_all": self.scope_all,
            "scope_words": list(self.scope_words),
            "object_lemmas": list(self.object_lemmas),
        }

    def describe(self) -> str:
        """One line for reviewers: "by 2017-12-31 (до кінця 2017 року); 35 майданчик; all"."""
        parts = []
        if self.deadline:
            parts.append(f"by {self.deadline.end.isoformat()} ({self.deadline.phrase})")
        if self.quantity:
            parts.append(f"{_num(self.quantity.value)} {self.quantity.unit_lemma}")
        if self.multiplier:
            parts.append(f"×{_num(self.multiplier)}")
        if self.scope_all:
            parts.append("all of: " + ", ".join(self.scope_words))
        return "; ".join(parts) or "no deadline, quantity or scope stated"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


# --- time expressions --------------------------------------------------------------------------

_SEASON_END = {"winter": (2, None), "spring": (5, 31), "summer": (8, 31), "autumn": (11, 30)}
_SEASON_WORDS = {
    "winter": ("взимку", "зимою", "зимой", "зима", "зими", "зиму", "зимы"),
    "spring": ("навесні", "весною", "весной", "весна", "весни", "весну", "весны"),
    "summer": ("влітку", "улітку", "літом", "летом", "літо", "літа", "лето", "лета"),
    "autumn": ("восени", "осінню", "осенью", "осінь", "осені", "осень", "осени"),
}
_SEASON_OF = {w: s for s, ws in _SEASON_WORDS.items() for w in ws}
_ORDINAL = {"перш": 1, "перв": 1, "i": 1, "1": 1, "друг": 2, "втор": 2, "ii": 2, "2": 2, "трет": 3, "iii": 3, "3": 3,
            "четверт": 4, "iv": 4, "4": 4}
_UNIT_DAYS = {"рік": "y", "року": "y", "роки": "y", "років": "y", "год": "y", "года": "y", "лет": "y", "году": "y",
              "місяць": "m", "місяця": "m", "місяці": "m", "місяців": "m", "месяц": "m", "месяца": "m",
              "месяцев": "m", "день": "d", "дні": "d", "днів": "d", "дня": "d", "дней": "d", "тиждень": "w",
              "тижні": "w", "тижнів": "w", "неделю": "w", "недели": "w", "недель": "w"}

_Y = r"(?P<y>(?:19|20)\d\d)"
_YW = r"(?:-?(?:го|му|м|й)\b)?(?:\s+(?:року|році|рік|года|году|год|р\.|г\.|р\b|г\b))?"
_REL_THIS = re.compile(r"\b(?:цього|цьогo|поточного|нинішнього|этом|этого|текущего|нынешнего|текущем|нынешнем)\s+"
                       r"(?:року|році|рік|году|года)|\bцьогоріч|\bдо\s+кінця\s+року|\bдо\s+конца\s+года", re.I)
_REL_NEXT = re.compile(r"\b(?:наступного|наступному|следующем|следующего|будущем|будущего)\s+(?:року|році|году|года)",
                       re.I)
_REL_SPAN = re.compile(r"\b(?:за|протягом|впродовж|продовж|упродовж|в\s+течение|на\s+протяжении|в\s+течении)\s+"
                       r"(?P<n>\d{1,3}(?!\d)|[^\W\d_]+(?:['’][^\W\d_]+)?)?\s*(?P<u>рік|року|роки|років|год|года|лет|місяць|"
                       r"місяця|місяці|місяців|месяц|месяца|месяцев|день|дні|днів|дня|дней|тиждень|тижні|тижнів|"
                       r"неделю|недели|недель)\b", re.I)
_CADENCE = re.compile(r"каденці|каденци|строк\w* повноважень|срок\w* полномочий", re.I)
_HOLIDAYS = (
    (re.compile(r"дн\w+\s+незалежност|дн\w+\s+независимост", re.I), 8, 24),
    (re.compile(r"нов\w+\s+(?:року|рік|году|год)", re.I), 12, 31),
    (re.compile(r"навчальн\w+\s+(?:року|рік)|учебн\w+\s+(?:года|год)|1\s+вересня|1\s+сентября", re.I), 8, 31),
    (re.compile(r"опалювальн\w+\s+сезон|отопительн\w+\s+сезон", re.I), 10, 15),
)
_BEFORE = r"(?:до|к|ко|не\s+пізніше|не\s+позднее|не\s+пізніше\s+ніж)"
_QUARTER = re.compile(rf"(?P<pre>{_BEFORE}\s+кінця\s+|до\s+конца\s+|у\s+|в\s+|протягом\s+|в\s+течение\s+)?"
                      r"(?P<o>[IV]+|\d|перш\w*|перв\w*|друг\w*|втор\w*|трет\w*|четверт\w*)\s*-?\w{0,3}\s+"
                      r"(?P<k>квартал\w*|півріч\w*|полугод\w*)(?:\s+(?P<y>(?:19|20)\d\d))?", re.I)
_END_OF_YEAR = re.compile(rf"{_BEFORE}\s+(?:кінця|конца|закінчення|окончания)\s+{_Y}{_YW}", re.I)
_IN_YEAR = re.compile(rf"(?:\b(?:у|в|на|протягом|впродовж|в\s+течение|на\s+протяжении)\s+|^){_Y}"
                      rf"(?:\s*[-–]\s*(?P<y2>(?:19|20)\d\d))?{_YW}", re.I)
_BEFORE_YEAR = re.compile(rf"\b{_BEFORE}\s+{_Y}{_YW}", re.I)
_MONTH = re.compile(rf"(?P<pre>{_BEFORE}\s+(?:кінця\s+|конца\s+)?|у\s+|в\s+)?(?P<mw>[^\W\d_]{{3,10}})"
                    r"(?:\s+(?P<y>(?:19|20)\d\d))?", re.I)
_SEASON = re.compile(rf"(?P<pre>{_BEFORE}\s+(?:кінця|конца|закінчення|окончания)\s+)?(?P<sw>[^\W\d_]{{4,8}})"
                     r"(?:\s+(?P<y>(?:19|20)\d\d))?", re.I)


def _month_end(y: int, m: int) -> dt.date:
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def _add_months(d: dt.date, months: int) -> dt.date:
    m0 = d.month - 1 + months
    y, m = d.year + m0 // 12, m0 % 12 + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _year_meant(said_on: dt.date | None, month: int, day: int, fallback: int | None = None) -> int | None:
    """The year of a day-and-month deadline said without a year: the first such day after ``said_on``."""
    if said_on is None:
        return fallback
    y = said_on.year
    try:
        return y if dt.date(y, month, day) > said_on else y + 1
    except ValueError:
        return y


def _span_value(n: str | None, lang: str) -> int:
    if not n:
        return 1
    if n.isdigit():
        return int(n)
    if fold(n) in ("пів", "полгода", "півроку"):
        return 0
    return numeral_value(n, lang) or 1


def find_deadline(text: str, said_on: dt.date | None, lang: str | None = None) -> Deadline | None:
    """The deadline a promise (or a plan in a letter) states, as the policy above reads it; None if none."""
    lang = lang or detect_language(text)
    found: list[tuple[int, Deadline]] = []

    def add(pos: int, end: dt.date | None, gran: str, phrase: str) -> None:
        if end is not None:
            found.append((pos, Deadline(end, gran, " ".join(phrase.split()))))

    for d in find_dates(text):  # "до 15.09.2017", "до 1 вересня 2017 року"
        before = re.search(rf"{_BEFORE}\s*$", text[max(0, d.start - 16):d.start], re.I)
        if before:
            add(d.start, d.date - dt.timedelta(days=1), "day", text[d.start - len(before.group()):d.end])
        elif re.search(r"\b(?:по|до|к)\s*$|\bне\s+пізніше\s*$", text[max(0, d.start - 12):d.start], re.I) is None:
            add(d.start, d.date, "day", d.text)
    # "до 1 вересня" without a year
    for m in re.finditer(rf"{_BEFORE}\s+(?P<d>[0-3]?\d)\s+(?P<mw>[^\W\d_]{{3,10}})\b(?!\s*,?\s*(?:19|20)\d\d)", text,
                         re.I):
        month = month_from_word(m.group("mw"))
        if month:
            day = int(m.group("d"))
            y = _year_meant(said_on, month, day)
            if y:
                try:
                    add(m.start(), dt.date(y, month, day) - dt.timedelta(days=1), "day", m.group())
                except ValueError:
                    pass
    for m in _END_OF_YEAR.finditer(text):
        add(m.start(), dt.date(int(m.group("y")), 12, 31), "year", m.group())
    for m in _BEFORE_YEAR.finditer(text):
        if not _END_OF_YEAR.match(text, m.start()):
            add(m.start(), dt.date(int(m.group("y")) - 1, 12, 31), "year", m.group())
    for m in _IN_YEAR.finditer(text):
        y = int(m.group("y2") or m.group("y"))
        g = m.group().lower()
        has_prep = not g.strip()[:1].isdigit()
        if not has_prep and not re.search(r"р\.|г\.|рок|рік|год|-м", g):
            continue  # a bare year in running text is not a deadline
        if text[max(0, m.start() - 12):m.start()].lower().rstrip().endswith(("з", "с", "із", "від", "от")):
            continue  # "з 2016 року" is a start, not an end
        add(m.start(), dt.date(y, 12, 31), "year", m.group())
    for m in _QUARTER.finditer(text):
        o = next((v for k, v in _ORDINAL.items() if fold(m.group("o")).startswith(k)), None)
        if o is None:
            continue
        kind = fold(m.group("k"))
        y = int(m.group("y")) if m.group("y") else (said_on.year if said_on else None)
        if y is None:
            continue
        if kind.startswith("квартал"):
            if o > 4:
                continue
            add(m.start(), _month_end(y, 3 * o), "quarter", m.group())
        elif o <= 2:
            add(m.start(), _month_end(y, 6 * o), "half", m.group())
    for m in _SEASON.finditer(text):
        season = _SEASON_OF.get(fold(m.group("sw")))
        if season is None:
            continue
        month, day = _SEASON_END[season]
        y = int(m.group("y")) if m.group("y") else None
        if y is None:
            y = _year_meant(said_on, month if season != "winter" else 12, day or 1)
            if y is None:
                continue
            if season == "winter" and said_on and said_on.month <= 2:
                y -= 1
        if season == "winter":
            add(m.start(), _month_end(y + 1, 2), "season", m.group())
        else:
            add(m.start(), dt.date(y, month, day), "season", m.group())
    for m in _MONTH.finditer(text):
        month = month_from_word(m.group("mw")) if len(m.group("mw")) >= 3 else None
        if month is None or fold(m.group("mw")) in _SEASON_OF:
            continue
        pre = fold(m.group("pre") or "").strip()
        if not pre:
            continue
        y = int(m.group("y")) if m.group("y") else _year_meant(said_on, month, 1 if pre.startswith(("до", "к")) else 28)
        if y is None:
            continue
        if pre.startswith(("до", "к", "не")) and "кінця" not in pre and "конца" not in pre:
            add(m.start(), dt.date(y, month, 1) - dt.timedelta(days=1), "month", m.group())
        else:
            add(m.start(), _month_end(y, month), "month", m.group())
    if said_on is not None:
        for m in _REL_THIS.finditer(text):
            add(m.start(), dt.date(said_on.year, 12, 31), "relative", m.group())
        for m in _REL_NEXT.finditer(text):
            add(m.start(), dt.date(said_on.year + 1, 12, 31), "relative", m.group())
        for m in _REL_SPAN.finditer(text):
            n = _span_value(m.group("n"), lang)
            unit = _UNIT_DAYS.get(fold(m.group("u")), "y")
            if unit == "y":
                end = _add_months(said_on, 12 * n) if n else _add_months(said_on, 6)
            elif unit == "m":
                end = _add_months(said_on, n)
            elif unit == "w":
                end = said_on + dt.timedelta(weeks=n)
            else:
                end = said_on + dt.timedelta(days=n)
            add(m.start(), end, "relative", m.group())
        for m in _CADENCE.finditer(text):
            add(m.start(), _add_months(said_on, 60), "relative", m.group())
        for pat, month, day in _HOLIDAYS:
            for m in pat.finditer(text):
                if re.search(rf"{_BEFORE}\s+(?:\w+\s+){{0,2}}$", text[max(0, m.start() - 30):m.start()], re.I):
                    y = _year_meant(said_on, month, day)
                    if y:
                        add(m.start(), dt.date(y, month, day), "holiday", m.group())
    if not found:
        return None
    # The first deadline in the text; at one place the most specific (a day over a year).
    rank = {"day": 0, "holiday": 1, "month": 2, "quarter": 3, "half": 3, "season": 3, "relative": 4, "year": 5}
    found.sort(key=lambda f: (f[0], rank[f[1].granularity]))
    return found[0][1]


# --- scope and object --------------------------------------------------------------------------

_SCOPE = re.compile(r"\b(?:усі|всі|усіх|всіх|усім|всім|все|всех|всем|кожн\w*|кажд\w*|обидва|обидві|обох|оба|обе|"
                    r"обоих|повністю|полностью|цілком|целиком|повсюдно|повсеместно)\b", re.I)
_OBJECT_POS = ("NOUN", "ADJF")


def _object_terms(promise: Promise, lang: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from pipeline.stages.match_terms import skel, terms_of

    surname = skel((promise.politician.split() or [""])[-1])[:5]
    city = skel(promise.city.split()[0])[:4] if promise.city else ""
    terms: list[str] = []
    lemmas: list[str] = []
    analyzer = morph_analyzer(lang)
    for w in words(promise.title):
        sk = skel(w)
        if (surname and sk.startswith(surname)) or (city and sk.startswith(city)):
            continue
        if numeral_value(w, lang) is not None or month_from_word(w) or fold(w) in _SEASON_OF:
            continue
        parses = analyzer.parse(w.lower())
        if not parses or parses[0].tag.POS not in _OBJECT_POS:
            continue
        ts, lemma, weight = terms_of(w, lang)
        if not ts or lemma in ("рік", "год", "кінець", "конец", "термін", "срок"):
            continue
        for t in ts:
            if t[0] != "~" and t not in terms:
                terms.append(t)
                lemmas.append(lemma)
    return tuple(terms), tuple(lemmas)


def read_terms(promise: Promise) -> PromiseTerms:
    """The deadline, quantity, scope and object of a promise, from its title (then its description)."""
    lang = promise.lang if promise.lang in ("uk", "ru") else detect_language(promise.title)
    deadline = find_deadline(promise.title, promise.said_on, lang) or find_deadline(
        promise.description, promise.said_on, lang)
    quantity = _promised_quantity(promise.title, lang)
    in_title = quantity is not None
    quantity = quantity or _promised_quantity(promise.description, lang)
    multiplier = next((float(v) for w, v in MULTIPLIERS.items()
                       if re.search(rf"\b{w}\b", promise.title + " " + promise.description, re.I)), None)
    scope = [m.group().lower() for m in _SCOPE.finditer(promise.title)]
    terms, lemmas = _object_terms(promise, lang)
    return PromiseTerms(deadline, quantity, multiplier, in_title, bool(scope), tuple(dict.fromkeys(scope)), terms,
                        lemmas)


def _promised_quantity(text: str, lang: str) -> Quantity | None:
    qs = [q for q in find_quantities(text, lang) if q.unit not in ("грн", "fraction")]
    return qs[0] if qs else None


__all__ = ["Deadline", "PromiseTerms", "find_deadline", "read_terms"]
