"""The layout of an official letter: lines (with pages and word boxes) and the letter's regions.

One model for every stage that needs to know where a letter's parts are (the field
rules, segmentation, city votes in matching). The regions follow the requisites of an
official letter in ДСТУ 4163:2020 (and ДСТУ 4163-2003, which older letters follow),
top to bottom:

    letterhead      name of the body (and of its parent body), the country line above it
    reference       reference data: postal address, phone, e-mail, ЄДРПОУ code
    date_number     the letter's date and registration index ("від 18.10.2016 № 1187/02-14"),
                    with the reference to the incoming document ("На № 64 від 31.03.2017")
    addressee       the recipient block (organisation, person, address)
    heading         the subject ("Про …"), before the text
    body            the text
    signature       position and name ("Власне ім'я ПРІЗВИЩЕ" since 2020, initials before)
    executor        the executor's mark ("Вик."/"Виконавець", a phone)

The rules read line shapes (upper-case letterhead, address marks, running text,
a name at the end of a short line), not the wording of particular councils, and
tolerate OCR: broken lines, lost column gaps, stray marks from stamps.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.ocrnorm import NUMERO, NUMERO_LOOSE, cyrillic_only, fold_mixed_words

if TYPE_CHECKING:
    from pipeline.schema import LetterText, Word

Span = tuple[int, int]



# --- lines ----------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One text line of the letter: its text (at most ``max_len`` characters of it), span and page."""

    text: str
    start: int  # offset in full_text
    end: int  # offset after the line's last character (without the line break)
    page: int  # 0-based page index
    index: int  # line number in the letter

    @property
    def stripped(self) -> str:
        return self.text.strip()


def split_lines(full_text: str, max_len: int | None = None) -> list[Line]:
    """Lines with their spans and pages; page breaks (form feeds) count as line breaks."""
    lines: list[Line] = []
    pos = 0
    for page_no, page in enumerate(full_text.split("\f")):
        for raw in page.split("\n"):
            text = raw if max_len is None else raw[:max_len]
            lines.append(Line(text, pos, pos + len(raw), page_no, len(lines)))
            pos += len(raw) + 1
    return lines


@dataclass(frozen=True)
class Regions:
    """Where the letter's requisites stand, as offsets in full_text (body is [body_start, body_end)).

    ``letterhead_end``, ``body_start``, ``body_end`` and ``subject`` are what segmentation and
    matching read; the spans of the other requisites are None when the letter has none.
    """

    letterhead_end: int  # end of the letterhead (before the date/number line), 0 if not found
    body_start: int
    body_end: int
    subject: str | None  # the heading line(s) when present, e.g. "Про надання інформації"
    date_number: Span | None = None
    addressee: Span | None = None
    heading: Span | None = None
    signature: Span | None = None
    executor: Span | None = None


# --- line classes -------------------------------------------------------------

# a date, the debris OCR leaves before it (".11.12.2018") and a colon for its second dot allowed
_DATE = r"(?:[.,'`]?\s?(?:\d{1,2}[./]\d{1,2}[./:]\d{2,4}|«?\s*\d{1,2}\s*»?\s+[а-яіїєґё]+\s+\d{4}))"
_HEADER_PATTERNS = [
    r"\b(?:тел|факс|тел/факс)\b\.?",
    r"e-?mail|е-?mail|@|www\.|https?://|\.gov\.ua|\.org",
    r"(?:єдрпоу|едрпоу|егрпоу|єдрпоу|код\s+за)",
    r"^\s*\d{5}\s*,",  # postcode opening an address line
    r",\s*\d{5}\b",
    rf"^\s*(?:вих|исх|bux)\w*\.?\s*{NUMERO_LOOSE}",
    r"^\s*(?:на|на\s+запит|на\s+ваш|на\s+запрос)\b.{0,40}(?:№|від|вiд|от)\s",
    r"^\s*(?:від|вiд|от)\s+" + _DATE,
    r"^\s*" + _DATE + r"\s*(?:р\.|г\.|року|года)?\s*" + NUMERO_LOOSE,
    rf"^\s*{NUMERO}\s*\S+\s+(?:від|от)\b",
    r"\b(?:вул|ул|пл|просп|пров|бульв)\.\s*[А-ЯІЇЄҐA-Z]",
    r"^\s*(?:шановн|уважаем|вельмишановн)\S*\s.{0,60}!?\s*$",
    r"^\s*(?:го|оо|тов|пп|фоп|громадськ\w*\s+організац\w*|общественн\w*\s+организац\w*)\s*«",
]
_HEADER_PATTERNS.append(r"^\s*" + _DATE + r"\s*(?:р\.|г\.|року|года)?\s*$")  # a date alone under "Вих. № …"
_HEADER_RE = [re.compile(p, re.IGNORECASE) for p in _HEADER_PATTERNS]
# A subject line: "Про …" / "О …" / "Щодо …" at the top, without a closing full stop.
_SUBJECT_RE = re.compile(r"^\s*(?:про|о|об|щодо|стосовно|относительно|re:?)\s+\S", re.IGNORECASE)

# Word starts only: OCR often damages the ends ("Первый заместите").
_POSITION_WORDS = (
    r"(?:перш\w*\s+|перв\w*\s+)?(?:заступ|замест|начальн|секретар|директор|керуюч|управляющ|голова|председат|"
    r"міськ\w*\s+голов|городск\w*\s+голов|в\.\s?о\.|и\.\s?о\.|т\.\s?в\.\s?о\.|виконуюч|исполняющ|завідувач|"
    r"заведующ|головн\w*\s+спеціаліст|уповноважен)"
)
_POSITION_RE = re.compile(r"^\s*" + _POSITION_WORDS, re.IGNORECASE)
_CLOSING_RE = re.compile(
    r"^\s*(?:з\s+повагою|с\s+уважением|вик\.|исп\.|виконавець|исполнитель|додаток|додатки|приложение)(?!\w)",
    re.IGNORECASE,
)
# "О. Стецевич", "Н.В. Вишневська", "Ірина ЛУКАШЕВИЧ" at the end of a line.
_NAME_TAIL_RE = re.compile(
    r"(?:[А-ЯІЇЄҐ]\.\s?(?:[А-ЯІЇЄҐ]\.\s?)?[А-ЯІЇЄҐ][а-яіїєґ'’ʼ-]+|[А-ЯІЇЄҐ][а-яіїєґ'’ʼ]+\s+[А-ЯІЇЄҐ'’ʼ-]{3,})\s*\.?\s*$"
)

_LOWER_WORD = re.compile(r"\b[а-яіїєґёa-z'’ʼ-]{2,}\b")


def _is_header_line(s: str) -> bool:
    return any(p.search(s) for p in _HEADER_RE)


_ABBREV_END = re.compile(r"\b(?:вул|ул|м|г|пл|просп|пров|ім|им|р|с|смт|обл|бульв)\.$", re.IGNORECASE)


def _ends_sentence(s: str) -> bool:
    s = s.rstrip()
    return s.endswith((".", ":", ";", "!", "?", "»", ")")) and not _ABBREV_END.search(s)


def _is_body_like(s: str, continues: bool = False) -> bool:
    """A line that reads as running text: several lower-case words and a sentence shape.

    ``continues``: the next line follows without a blank line and starts in lower case,
    i.e. this line is the first of a paragraph that OCR broke into short lines.
    """
    n_lower = len(_LOWER_WORD.findall(s))
    if continues and n_lower >= 2 and len(s) >= 30:
        return True
    if n_lower < 3:
        return False
    return _ends_sentence(s) or len(s) >= 60


def _is_signature_line(s: str) -> bool:
    if _CLOSING_RE.match(s):
        return True
    st = s.rstrip(" .,|/")
    n_words = len(st.split())
    if _POSITION_RE.match(st) and n_words <= 12 and not st.endswith((".", ";", ":", ",")):
        return len(st) < 80 or bool(_NAME_TAIL_RE.search(st))
    # A short line ending in a name: "О. Стецевич" after a position, or pushed right by a wide gap.
    # OCR loses the gap and damages the position, so any short line ending in a name counts.
    return bool(_NAME_TAIL_RE.search(st)) and n_words <= 8


def _is_running_text(s: str) -> bool:
    return len(_LOWER_WORD.findall(s)) >= 6 and _ends_sentence(s)


def _is_long_text(s: str) -> bool:
    return len(_LOWER_WORD.findall(s)) >= 7 and len(s) >= 50


def _subject_start(s: str) -> bool:
    return bool(_SUBJECT_RE.match(s)) and (not _ends_sentence(s)) and len(s) < 120


_DATE_LINE = re.compile(rf"{NUMERO}|\bвих|\bисх|{_DATE}", re.IGNORECASE)
_CONTACT = re.compile(r"\b(?:тел|факс)|@|\d{5}\s*,", re.IGNORECASE)
_BLOCK_MAX = 15  # lines of one paragraph OCR broke into short lines, at most
_NUMBER_ALONE = re.compile(r"^\s*\d[\w./\\-]*\s*$")
_SALUTATION = re.compile(r"^\s*(?:шановн|уважаем|вельмишановн)", re.IGNORECASE)
EXECUTOR_MARK = re.compile(r"^[\W_]*(?:вик|исп)(?:\.|онавець|олнитель|онавці)(?!\w)", re.IGNORECASE)


def _span(lines: list[Line]) -> Span | None:
    lines = [ln for ln in lines if ln.stripped]
    if not lines:
        return None
    first, last = lines[0], lines[-1]
    return first.start + len(first.text) - len(first.text.lstrip()), last.start + len(last.text.rstrip())


def find_regions(full_text: str) -> Regions:
    """Locate the letter's requisites by line shapes (see the module doc)."""
    all_lines = split_lines(fold_mixed_words(full_text))  # look-alikes folded, offsets kept
    if not any(ln.stripped for ln in all_lines):
        return Regions(0, 0, 0, None)
    letterhead_end = 0
    body_idx: int | None = None
    subject: list[Line] = []
    date_lines: list[Line] = []
    before_body: list[Line] = []
    in_subject = False
    seen_date = False
    prev_index = -1
    for i, ln in enumerate(all_lines):
        s = ln.stripped
        if not s:
            in_subject = False  # a blank line ends a wrapped subject
            continue
        nxt = all_lines[i + 1].stripped if i + 1 < len(all_lines) else ""
        continues = bool(nxt) and not _is_header_line(nxt) and (nxt[0].islower() or nxt[0].isdigit())
        if nxt and not continues:
            # A paragraph OCR broke into short lines: judge the block up to the next blank line.
            block = []
            for later in all_lines[i + 1 : i + 1 + _BLOCK_MAX]:  # bounded: linear on hostile text
                if not later.stripped or _is_header_line(later.stripped):
                    break
                block.append(later.stripped)
            continues = bool(block) and _ends_sentence(block[-1]) and len(" ".join(block)) >= 40
        if in_subject and len(s) < 60 and not _ends_sentence(s) and not _is_body_like(s, continues):
            subject.append(ln)  # the subject's wrapped second line
            continue
        in_subject = False
        # "Щодо …" opening a long line that runs on into the next one is the body's first
        # sentence, not a subject line.
        if _subject_start(s) and not (len(s) >= 55 and nxt[:1].islower()):
            subject.append(ln)
            in_subject = True
            continue
        if date_lines and _NUMBER_ALONE.match(s) and date_lines[-1].index == prev_index:
            date_lines.append(ln)  # the number OCR pushed below "від 13.11.2016 №"
            prev_index = i
            continue
        prev_index = i
        # A sentence that merely mentions an address ("по вул. Садовій") is running text.
        if _is_header_line(s) and not _is_running_text(s):
            if _DATE_LINE.search(s) and re.search(r"\d", s) and not _CONTACT.search(s):
                date_lines.append(ln)
                if not seen_date:
                    seen_date = True
                    letterhead_end = ln.start
            else:
                before_body.append(ln)
            continue
        if _is_body_like(s, continues) and not _is_signature_line(s):
            body_idx = i
            break
        before_body.append(ln)
    spans = _head_spans(date_lines, before_body, subject)
    heading = " ".join(ln.stripped for ln in subject) or None
    if body_idx is None:
        return Regions(letterhead_end, len(full_text), len(full_text), heading, **spans)
    end_idx = len(all_lines)
    for j in range(body_idx + 1, len(all_lines)):
        s = all_lines[j].stripped
        if not s or not _is_signature_line(s):
            continue
        # "З повагою" / "Вик." close the body for sure; a position or a name at a line start
        # could also open a body sentence broken by OCR, so it closes only if no running
        # text follows.
        if _CLOSING_RE.match(s) or not any(_is_long_text(ln.stripped) for ln in all_lines[j + 1 :]):
            end_idx = j
            break
    last = max(j for j in range(body_idx, end_idx) if all_lines[j].stripped)
    first = all_lines[body_idx]
    body_start = first.start + (len(first.text) - len(first.text.lstrip()))
    body_end = all_lines[last].start + len(all_lines[last].text.rstrip())
    tail = all_lines[end_idx:]
    ex = next((k for k, ln in enumerate(tail) if EXECUTOR_MARK.match(ln.text)), None)
    signature = _span(tail[:ex] if ex is not None else tail)
    executor = _span(tail[ex : ex + 2]) if ex is not None else None
    return Regions(letterhead_end, body_start, body_end, heading, signature=signature, executor=executor, **spans)


def _head_spans(date_lines: list[Line], before_body: list[Line], subject: list[Line]) -> dict[str, Span | None]:
    """The date/number block, and the addressee: the lines between it and the heading or text."""
    if not date_lines:
        return {"date_number": None, "addressee": None, "heading": _span(subject)}
    block = [ln for ln in date_lines if ln.index - date_lines[0].index <= 3]
    stop = subject[0].index if subject else None
    after = [
        ln
        for ln in before_body
        if ln.index > block[-1].index and (stop is None or ln.index < stop) and not _SALUTATION.match(ln.text)
    ]
    return {"date_number": _span(block), "addressee": _span(after), "heading": _span(subject)}


# --- the letter's head, line by line (the field rules read these) ----------------------

HEADER_MAX_LINES = 25
_ADDRESS_HINT = re.compile(
    r"\d{5}|\b(?:вул|ул|пл|просп|пр|бульв|м|г|тел|факс|e-mail|е-mail|email|код|ЄДРПОУ|ЕГРПОУ|ідентифікаційний)\b\.?",
    re.IGNORECASE,
)
_COUNTRY = {"україна", "украина", "ukraine"}
ORG_WORD = re.compile(
    r"рада\b|ради\b|адміністрац|департамент|управлі|комітет|підприємств|відділ|служба|совет|управлени|"
    r"предприяти|администрац|комитет|отдел|міністерств|министерств|агентств|інспекц|инспекц",
    re.IGNORECASE,
)


def _letters(s: str) -> str:
    return "".join(ch for ch in s if ch.isalpha())


def upper_share(s: str) -> float:
    letters = _letters(s)
    return sum(ch.isupper() for ch in letters) / len(letters) if letters else 0.0


def is_body_line(s: str) -> bool:
    """A line of running text: several lower-case words (not a header or address line)."""
    s = re.sub(r"\S*[@/]\S*|\b(?:e-mail|е-mail|email|тел|факс|код)\b", " ", s, flags=re.IGNORECASE)
    words = re.findall(r"[А-ЯІЇЄҐЁа-яіїєґё'’]{3,}", s)
    lower = sum(w[0].islower() for w in words)
    return lower >= 6 and lower >= 0.6 * len(words)


def is_country_line(s: str) -> bool:
    """ "УКРАЇНА" above the body's name: a requisite of its own, not part of the name."""
    return _letters(s).lower() in _COUNTRY


def header_lines(lines: list[Line]) -> list[Line]:
    """First page lines above the text: letterhead, reference data, date/number, addressee, request reference."""
    out: list[Line] = []
    for ln in lines:
        if ln.page > 0:
            break
        if not ln.stripped:
            continue
        if is_body_line(ln.text) and out:
            break
        out.append(ln)
        if len(out) >= HEADER_MAX_LINES:
            break
    return out


def letterhead_lines(lines: list[Line]) -> list[Line]:
    """The lines at the top naming the issuing body (and its parent), the country line dropped.

    Printed in capitals as a rule (the parent body above or below, a parenthesised short
    name on a line of its own); a letterhead typed in normal case is read up to the address.
    """
    out: list[Line] = []
    for ln in lines[:20]:
        if ln.page > 0:
            break
        s = cyrillic_only(ln.stripped)
        letters = _letters(s)
        if len(letters) < 4:  # blank, a stray mark, or an English version of the name
            continue
        if is_country_line(s):
            continue
        if upper_share(s) >= 0.75 and not _ADDRESS_HINT.search(ln.text):
            out.append(ln)
            continue
        if out:
            break
        if ln.index > 6:
            break
    if not out:  # a letterhead typed in normal case: org lines above the address
        for ln in lines[:8]:
            s = ln.stripped
            if not s or ln.page > 0:
                continue
            if _ADDRESS_HINT.search(s) or re.search(r"\d", s) or not ORG_WORD.search(s):
                break
            if not is_country_line(s):
                out.append(ln)
    return out


# --- one object per letter ------------------------------------------------------------------


@dataclass
class LetterLayout:
    """A letter's lines, regions and head, built once and read by every rule."""

    full_text: str
    lines: list[Line]
    regions: Regions
    header: list[Line]
    letterhead: list[Line]
    _word_starts: list[int] = field(default_factory=list, repr=False)
    _words: list[Word] = field(default_factory=list, repr=False)

    @classmethod
    def of(cls, full_text: str, text: LetterText | None = None, max_line: int | None = 1000) -> LetterLayout:
        full_text = fold_mixed_words(full_text)  # one character for one: offsets stay
        lines = split_lines(full_text, max_line)
        words = sorted((w for p in text.pages for w in p.words), key=lambda w: w.start) if text else []
        return cls(
            full_text,
            lines,
            find_regions(full_text),
            header_lines(lines),
            letterhead_lines(lines),
            [w.start for w in words],
            words,
        )

    def words_in(self, start: int, end: int) -> list[Word]:
        """The OCR words (with boxes) overlapping [start, end)."""
        lo = max(0, bisect_left(self._word_starts, start) - 1)
        hi = bisect_right(self._word_starts, end)
        return [w for w in self._words[lo:hi] if w.start < end and w.end > start]

    def boxes(self, line: Line) -> list[tuple[float, float, float, float]]:
        return [(w.left, w.top, w.width, w.height) for w in self.words_in(line.start, line.end)]

    def lines_in(self, span: Span | None) -> list[Line]:
        """The non-blank lines inside ``span``."""
        if span is None:
            return []
        return [ln for ln in self.lines if ln.stripped and ln.end > span[0] and ln.start < span[1]]
