"""Split a letter's body into passages, one per question it answers.

The letter's regions (letterhead, date/number line, recipient, subject, body,
signature, executor) come from the one layout model, :mod:`pipeline.layout`. Only the
body is split: at numbered points ("1.", "2)") and at paragraphs opened by a
topic phrase ("Щодо …", "Стосовно …", "Относительно …"). A body without such
markers is one passage. Every passage keeps its span in ``full_text`` so the
review screen can highlight it; the passage text is exactly that slice.

The rules look at line shapes, not at wording of particular councils, and
tolerate OCR: lines broken inside paragraphs, lost column gaps, stray marks.
"""

from __future__ import annotations

import re

from pipeline.layout import Regions, find_regions, split_lines
from pipeline.schema import LetterText, Passage

__all__ = ["Regions", "find_regions", "segment", "split_lines"]

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
