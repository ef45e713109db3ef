"""Split a letter's body into passages, one per question it answers.

A council reply is laid out as letterhead, date/number line, recipient,
optional subject and salutation, body, signature and executor line. Only the
body is split: at numbered points ("1.", "2)") and at paragraphs opened by a
topic phrase ("Щодо …", "Стосовно …", "Относительно …"). A body without such
markers is one passage. Every passage keeps its span in ``full_text`` so the
review screen can highlight it; the passage text is exactly that slice.

The rules look at line shapes, not at wording of particular councils, and
tolerate OCR: lines broken inside paragraphs, lost column gaps, stray marks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.schema import LetterText, Passage

# --- line classes -------------------------------------------------------------

_DATE = r"(?:\d{1,2}[./]\d{1,2}[./]\d{2,4}|«?\s*\d{1,2}\s*»?\s+[а-яіїєґё]+\s+\d{4})"
_HEADER_PATTERNS = [
    r"\b(?:тел|факс|тел/факс)\b\.?",
    r"e-?mail|е-?mail|@|www\.|https?://|\.gov\.ua|\.org",
    r"(?:єдрпоу|едрпоу|егрпоу|єдрпоу|код\s+за)",
    r"^\s*\d{5}\s*,",  # postcode opening an address line
    r",\s*\d{5}\b",
    r"^\s*(?:вих|исх)\.?\s*(?:№|n|no)",
    r"^\s*(?:на|на\s+запит|на\s+ваш|на\s+запрос)\b.{0,40}(?:№|від|вiд|от)\s",
    r"^\s*(?:від|вiд|от)\s+" + _DATE,
    r"^\s*" + _DATE + r"\s*(?:р\.|г\.|року|года)?\s*(?:№|n|ме|м№|н)",
    r"^\s*№\s*\S+\s+(?:від|от)\b",
    r"\b(?:вул|ул|пл|просп|пров|бульв)\.\s*[А-ЯІЇЄҐA-Z]",
    r"^\s*(?:шановн|уважаем|вельмишановн)\S*\s.{0,60}!?\s*$",
    r"^\s*(?:го|оо|тов|пп|фоп|громадськ\w*\s+організац\w*|общественн\w*\s+организац\w*)\s*«",
]
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

# Markers that open a passage answering one question.
_NUMBERED_RE = re.compile(r"^\s*(?:[1-9]|1[0-9])\s?[.)](?!\d)\s*(?=\S)")
_LETTERED_RE = re.compile(r"^\s*[а-еa-e]\)\s*(?=\S)")  # "а)", "б)": points only when nothing else marks them
_ORDINALS = (
    r"першому|другому|третьому|четвертому|п['’ʼ]?ятому|шостому|первому|второму|третьему|четвертому|пятому|шестому"
)
_TOPIC_OPENERS = (
    r"щодо|стосовно|відносно|що\s+стосується|з\s+приводу|по\s+пункту|по\s+питанню|з\s+питання|на\s+питання|"
    r"у\s+частині|в\s+частині|относительно|по\s+вопросу|касательно|что\s+касается|по\s+поводу|в\s+части|"
    r"(?:по|на)\s+(?:п\.|пункт\w*)\s*\d|пункт\s+\d|"
    r"(?:по|на|з)\s+(?:" + _ORDINALS + r")\s+(?:питанн\w*|пункт\w*|вопрос\w*)"
)
_TOPIC_RE = re.compile(r"^\s*(?:" + _TOPIC_OPENERS + r")(?!\w)", re.IGNORECASE)

_LOWER_WORD = re.compile(r"\b[а-яіїєґёa-z'’ʼ-]{2,}\b")


@dataclass(frozen=True)
class Line:
    text: str
    start: int  # span in full_text, without the line break
    end: int

    @property
    def stripped(self) -> str:
        return self.text.strip()


@dataclass(frozen=True)
class Regions:
    """Offsets of the letter's parts in full_text (body is [body_start, body_end))."""

    letterhead_end: int  # end of the letterhead (before the date/number line), 0 if not found
    body_start: int
    body_end: int
    subject: str | None  # the subject line(s) when present, e.g. "Про надання інформації"


def split_lines(full_text: str) -> list[Line]:
    """Lines with their spans; page breaks (form feeds) count as line breaks."""
    lines: list[Line] = []
    for m in re.finditer(r"[^\n\f]*", full_text):
        if m.start() == m.end() and lines and lines[-1].end == m.start():
            continue  # the empty match right after a line
        lines.append(Line(m.group(), m.start(), m.end()))
    return lines


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


def find_regions(full_text: str) -> Regions:
    """Locate letterhead, body and signature by line shapes."""
    all_lines = split_lines(full_text)
    if not any(ln.stripped for ln in all_lines):
        return Regions(0, 0, 0, None)
    letterhead_end = 0
    body_idx: int | None = None
    subject: list[str] = []
    in_subject = False
    seen_date = False
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
            for later in all_lines[i + 1 :]:
                if not later.stripped or _is_header_line(later.stripped):
                    break
                block.append(later.stripped)
            continues = bool(block) and _ends_sentence(block[-1]) and len(" ".join(block)) >= 40
        if in_subject and len(s) < 60 and not _ends_sentence(s) and not _is_body_like(s, continues):
            subject.append(s)  # the subject's wrapped second line
            continue
        in_subject = False
        # "Щодо …" opening a long line that runs on into the next one is the body's first
        # sentence, not a subject line.
        if _subject_start(s) and not (len(s) >= 55 and nxt[:1].islower()):
            subject.append(s)
            in_subject = True
            continue
        # A sentence that merely mentions an address ("по вул. Садовій") is running text.
        if _is_header_line(s) and not _is_running_text(s):
            if not seen_date and re.search(r"№|\bвих|\bисх|" + _DATE, s, re.IGNORECASE) and re.search(r"\d", s):
                if not re.search(r"\b(?:тел|факс)|@|\d{5}\s*,", s, re.IGNORECASE):
                    seen_date = True
                    letterhead_end = ln.start
            continue
        if _is_body_like(s, continues) and not _is_signature_line(s):
            body_idx = i
            break
    if body_idx is None:
        return Regions(letterhead_end, len(full_text), len(full_text), " ".join(subject) or None)
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
    return Regions(letterhead_end, body_start, body_end, " ".join(subject) or None)


_INTRO_RE = re.compile(
    r"розглян|повідомля|інформу|надає\s+інформац|сообща|рассмотр|информиру|за\s+результатами\s+розгляду|"
    r"у\s+межах\s+повноважень|в\s+пределах\s+полномочий|по\s+вопросам|з\s+порушених\s+питань",
    re.IGNORECASE,
)


def _trim(full_text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and full_text[start].isspace():
        start += 1
    while end > start and full_text[end - 1].isspace():
        end -= 1
    return start, end


def _is_bare_intro(chunk: str) -> bool:
    """An intro that only says "we reviewed your request and report": no answer in it."""
    sentences = [s for s in re.split(r"(?<=[.!?:])\s+", " ".join(chunk.split())) if s.strip()]
    return all(_INTRO_RE.search(s) or len(s) < 25 for s in sentences)


def segment(text: LetterText, regions: Regions | None = None) -> list[Passage]:
    """The letter's body split into passages (see module doc); [] for a letter without a body.

    ``regions``: the result of :func:`find_regions` on ``text.full_text`` when the caller has it.
    """
    full = text.full_text
    regions = regions or find_regions(full)
    if regions.body_end <= regions.body_start:
        return []
    body_lines = [
        ln
        for ln in split_lines(full)
        if ln.stripped and ln.start >= regions.body_start and ln.end <= regions.body_end + 1
    ]
    # A topic phrase can open a sentence in mid-line in typed text, but only at a line start counts here:
    # mid-paragraph "щодо" is ordinary syntax.
    cuts = [ln.start for ln in body_lines if _NUMBERED_RE.match(ln.text) or _TOPIC_RE.match(ln.text)]
    if not cuts:
        cuts = [ln.start for ln in body_lines if _LETTERED_RE.match(ln.text)]
    bounds: list[tuple[int, int]] = []
    starts = sorted({regions.body_start, *cuts})
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else regions.body_end
        s2, e2 = _trim(full, s, e)
        if e2 > s2:
            bounds.append((s2, e2))
    if len(bounds) > 1 and bounds[0][0] not in cuts and _is_bare_intro(full[bounds[0][0] : bounds[0][1]]):
        bounds = bounds[1:]  # drop "розглянувши Ваш запит, повідомляємо" before the first point
    return [Passage(index=i, text=full[s:e], start=s, end=e, page=text.page_of(s)) for i, (s, e) in enumerate(bounds)]
