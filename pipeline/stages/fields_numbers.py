"""Field rules: the letter's own date and registration number, and the request it answers.

The date/number requisite ("від 18.10.2016 № 1187/02-14", "Вих. № __618/04__ від
__23.01.2018__", "«16» лютого 2017 р.", "Исх. № 4/12-318 от 12.02.2014", a number line
with the date below it) is told from the reference to the incoming document ("На № 64
від 31.03.2017", "на Ваш лист від …") by the words before the date. The "№" family and
the other OCR readings come from :mod:`pipeline.ocrnorm`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.layout import Line, is_body_line
from pipeline.ocrnorm import LEAD_DEBRIS, NUMERO, NUMERO_LOOSE, clean_number
from pipeline.stages.dates import DateMatch, find_dates
from pipeline.stages.field_components import FieldDoc, component

# "від"/"от" and OCR readings of it ("вд", "вiд" with a Latin i)
FROM = r"(?:в[іiї1l]?д|от)"
NUMBER = r"[0-9OО][0-9A-Za-zА-ЯІЇЄҐа-яіїєґ./\\-]*"
# a number in the blank of a register line: "__618/04__", "_ 417/03 _"
_IN_BLANK = rf"_*[ \t]?(?P<num>{NUMBER}|_+)?[ \t]?_*"
_OUT = r"(?:вих|исх|bux)"  # "Вих.", "Исх.", and "Вих." read with Latin letters
_YEAR_TAIL = r"[ \t]*(?:р\.?|г\.?|року|года)?[ \t]*[,;]?[ \t]*"
_NUM_AFTER = re.compile(
    rf"^{_YEAR_TAIL}(?:за[ \t]*)?{NUMERO_LOOSE}[ \t]*(?P<num>{NUMBER}|_+|\.{{3,}})?", re.IGNORECASE
)
# a place of issue may stand before the date: "м. Суми, 12.03.2018 № …"
_PLACE = r"(?:[мг]\.[ \t]*[А-ЯІЇЄҐ][\w'’ʼ-]+(?:[ \t][А-ЯІЇЄҐ][\w'’ʼ-]+)?[ \t,]+)?"
_DATE_FIRST_PREFIX = re.compile(rf"^{LEAD_DEBRIS}{_PLACE}(?:(?:{FROM}|дата)\.?:?[ \t]*)?$", re.IGNORECASE)
_NUM_FIRST_PREFIX = re.compile(
    rf"^{LEAD_DEBRIS}(?:{_OUT}\w*\.?[ \t]*{NUMERO_LOOSE}|{NUMERO})[ \t]*{_IN_BLANK}(?:[ \t]*{FROM}|[ \t]+)[ \t_]*$",
    re.IGNORECASE,
)
_OWN_NUMBER = re.compile(
    rf"^{LEAD_DEBRIS}(?:(?:{_OUT}\w*\.?[ \t]*){NUMERO_LOOSE}{_IN_BLANK}|{NUMERO}[ \t]*(?P<alone>{NUMBER})[ \t]*$)",
    re.IGNORECASE,
)
_SIGN_END = re.compile(rf"^{LEAD_DEBRIS}{_OUT}\w*\.?[ \t]*{NUMERO_LOOSE}?[ \t]*$", re.IGNORECASE)
_REQ_BEFORE = re.compile(
    r"(?P<lead>\bна|\bваш\w*|\bу|\bв)?[ \t]*"
    r"(?P<kw>(?:ваш\w*[ \t]+)?(?:(?P<strong>запит\w*|запрос\w*)|лист\w*|письм\w*|звернен\w*|обращени\w*))?[ \t.,]*"
    rf"(?:(?:вих|исх|вх)\w*\.?[ \t]*)?(?:{NUMERO}[ \t]*(?P<num>{NUMBER})[ \t]*)?{FROM}[ \t]*$",
    re.IGNORECASE,
)
# "запит ГО «…» від …", "запит на отримання публічної інформації від …": a few words, no clause break
_REQ_LOOSE = re.compile(
    rf"(?:запит|запрос)\w*[^.,;:!?\d№\n]{{1,80}}?(?:{NUMERO}[ \t]*(?P<num>{NUMBER})[ \t]*)?{FROM}[ \t]*$",
    re.IGNORECASE,
)
_REQ_NUM_AFTER = re.compile(rf"^{_YEAR_TAIL}{NUMERO}[ \t]*(?P<num>{NUMBER})", re.IGNORECASE)


@dataclass
class DateNumber:
    date: DateMatch
    number: str | None
    num_start: int | None
    num_end: int | None
    line: Line
    has_sign: bool  # a "№" was printed with the date (possibly with a blank number)


def _request_context(line: str, dm: DateMatch) -> tuple[bool, str | None, int | None, int | None]:
    """Is the date on ``line`` a request reference? Then also its number and the number's span."""
    before = line[max(0, dm.start - 120) : dm.start]
    offset = max(0, dm.start - 120)
    m = _REQ_BEFORE.search(before)
    ok = False
    if m:
        lead = (m.group("lead") or "").lower()
        kw, num = m.group("kw"), m.group("num")
        ok = bool(m.group("strong") or ((num or kw) and lead in ("на", "ваш", "вашого", "ваше", "вашому")))
    if not ok:
        m = _REQ_LOOSE.search(before)
        if not m:
            return False, None, None, None
        num = m.group("num")
    if num:
        return True, num, offset + m.start("num"), offset + m.end("num")
    after = _REQ_NUM_AFTER.match(line[dm.end :])
    if after:
        return True, after.group("num"), dm.end + after.start("num"), dm.end + after.end("num")
    return True, None, None, None


def own_date_candidates(header: list[Line]) -> tuple[list[DateNumber], list[DateNumber]]:
    """(strong, weak) candidates for the letter's own date among the header lines."""
    strong: list[DateNumber] = []
    weak: list[DateNumber] = []
    for k, ln in enumerate(header):
        nxt = header[k + 1] if k + 1 < len(header) else None
        for dm in find_dates(ln.text):
            if _request_context(ln.text, dm)[0]:
                continue
            prefix = ln.text[: dm.start]
            if _DATE_FIRST_PREFIX.match(prefix):
                after = _NUM_AFTER.match(ln.text[dm.end :])
                if after:
                    num = clean_number(after.group("num"))
                    s = dm.end + after.start("num") if after.group("num") else None
                    e = dm.end + after.end("num") if after.group("num") else None
                    if num is None and not ln.text[dm.end + after.end() :].strip():
                        num, s, e = _number_below(ln, nxt)
                    strong.append(DateNumber(dm, num, s, e, ln, True))
                elif not is_body_line(ln.text[dm.end :]):
                    weak.append(DateNumber(dm, None, None, None, ln, False))
                continue
            m = _NUM_FIRST_PREFIX.match(prefix)
            if m:
                num = clean_number(m.group("num"))
                s = m.start("num") if m.group("num") else None
                e = m.end("num") if m.group("num") else None
                strong.append(DateNumber(dm, num, s, e, ln, True))
    return strong, weak


_ALONE = re.compile(rf"^[ \t]*(?P<num>{NUMBER})[ \t]*$")


def _number_below(ln: Line, nxt: Line | None) -> tuple[str | None, int | None, int | None]:
    """A number OCR pushed from the end of the "№" line to the next line: (number, span from ``ln``)."""
    m = _ALONE.match(nxt.text) if nxt is not None else None
    if nxt is None or m is None or find_dates(nxt.text):
        return None, None, None
    off = nxt.start - ln.start
    return clean_number(m.group("num")), off + m.start("num"), off + m.end("num")


def find_request(
    lines: list[Line], header: list[Line]
) -> tuple[DateMatch, Line, str | None, int | None, int | None] | None:
    header_idx = {ln.index for ln in header}
    found = []
    for ln in lines:
        if not ln.stripped:
            continue
        for dm in find_dates(ln.text):
            is_req, num, s, e = _request_context(ln.text, dm)
            if is_req:
                found.append((ln.index not in header_idx, ln.index, dm, ln, num, s, e))
    if not found:
        return None
    found.sort(key=lambda f: (f[0], f[1], f[2].start))  # header first, then text order
    _, _, dm, ln, num, s, e = found[0]
    return dm, ln, clean_number(num), s, e




@component("letter_date", requires=(), provides=("letter_date", "outgoing_number", "date_line"))
def date_and_number(doc: FieldDoc) -> None:
    lay = doc.layout
    strong, weak = own_date_candidates(lay.header)
    outside_header = False
    if not strong and not weak:  # a date line below the subject, or "Вих. № … від …" at the foot
        nonblank = [ln for ln in lay.lines if ln.stripped]
        top = [ln for ln in nonblank[:30] if ln.page == 0]
        strong = [c for c in own_date_candidates(top)[0] if c.number]
        if not strong:
            strong = [c for c in own_date_candidates(nonblank[-12:])[0] if c.number]
        outside_header = bool(strong)
    if len({c.date.date for c in strong}) > 1:
        doc.review("two candidate letter dates")
        nums = {c.number for c in strong if c.number}
        if len(nums) == 1:  # the number may still be unambiguous
            c = next(c for c in strong if c.number)
            _set_number(doc, c, 0.6)
        return
    chosen: DateNumber | None = None
    conf = 0.95
    if strong:
        chosen = strong[0]
        if outside_header:
            conf = 0.6
            doc.review("letter date found outside the header")
    elif len({c.date.date for c in weak}) == 1:
        chosen, conf = weak[0], 0.7
    elif weak:
        doc.review("two candidate letter dates")
    if chosen is None:
        if not weak:
            doc.review("letter date not found")
    else:
        doc.date_line = chosen.line
        s = chosen.line.start + chosen.date.start
        doc.fields.letter_date = doc.value(chosen.date.date.isoformat(), s, chosen.line.start + chosen.date.end, conf)
    if chosen is not None and chosen.number:
        _set_number(doc, chosen, 0.9)
    elif chosen is None or not chosen.has_sign:
        if not _number_alone(doc, chosen):
            doc.review("outgoing number not found")


def _set_number(doc: FieldDoc, c: DateNumber, conf: float) -> None:
    if c.num_start is not None and c.num_end is not None:
        doc.fields.outgoing_number = doc.value(c.number, c.line.start + c.num_start, c.line.start + c.num_end, conf)


def _number_alone(doc: FieldDoc, chosen: DateNumber | None) -> bool:
    """ "Вих. № 02/118" on a line of its own (the date below or above it)."""
    lines = doc.layout.header
    if chosen is not None:  # nearest to the date line first
        lines = sorted(lines, key=lambda ln: abs(ln.index - chosen.line.index))
    for ln in lines:
        m = _OWN_NUMBER.match(ln.text)
        if m is not None and not (m.group("num") or m.group("alone")):
            m = None
        if m is None and _SIGN_END.match(ln.text):
            below = next((h for h in doc.layout.header if h.index > ln.index), None)
            num, s, e = _number_below(ln, below)
            if num and s is not None and e is not None:
                doc.fields.outgoing_number = doc.value(num, ln.start + s, ln.start + e, 0.6)
                return True
        if m:
            g = "num" if m.group("num") else "alone"
            num = clean_number(m.group(g))
            if num:
                doc.fields.outgoing_number = doc.value(num, ln.start + m.start(g), ln.start + m.end(g), 0.7)
                return True
    return False


@component("request", requires=(), provides=("request_date", "request_number"))
def request(doc: FieldDoc) -> None:
    found = find_request(doc.layout.lines, doc.layout.header)
    if found is None:
        return
    dm, ln, num, s, e = found
    conf = 0.9 if any(h.index == ln.index for h in doc.layout.header) else 0.75
    doc.fields.request_date = doc.value(dm.date.isoformat(), ln.start + dm.start, ln.start + dm.end, conf)
    if num and s is not None and e is not None:
        doc.fields.request_number = doc.value(num, ln.start + s, ln.start + e, conf)
