"""Split a letter's body into passages, one per question it answers.

The letter's regions (letterhead, date/number line, recipient, subject, body,
signature, executor) come from the one layout model, :mod:`pipeline.layout`. Only the
body is split: at numbered points ("1.", "2)"), at points marked by ordinal words
("Перше. … Друге.", "По-перше", "Во-вторых", "В-третьих", even inside a line) and at paragraphs opened by a
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

# Points marked by ordinal words: "Перше. … Друге. …", "По-перше, … По-друге, …", "Во-первых, … В-третьих".
# The adverbs ("по-друге", "во-вторых") mark a point wherever a sentence opens; the bare
# ordinals ("Друге.", "Второе:") only with a stop after them, since "друге питання" is syntax.
_APOS = r"['’ʼ]?"
_ORD_ADVERB = (
    r"по-?\s?(?:перше|друге|третє|четверте|п" + _APOS + r"яте|шосте|сьоме)|"
    r"во-?\s?(?:первых|вторых)|в-?\s?(?:третьих|четвертых|пятых|шестых|седьмых)"
)
_ORD_BARE = r"(?:перше|друге|третє|четверте|п" + _APOS + r"яте|шосте|первое|второе|третье|четвертое|пятое|шестое)\s*[.:)—–-]"
_ORDINAL_RE = re.compile(r"(?<!\w)(?:(?:" + _ORD_ADVERB + r")(?!\w)|" + _ORD_BARE + r")", re.IGNORECASE)
_ORD_KEY = re.compile(r"(перш|перв|друг|втор|трет|четв|п\W?ят|шест|шост|сьом|седьм)", re.IGNORECASE)


def _ordinal_cuts(full: str, start: int, end: int) -> list[int]:
    """Offsets in ``full`` where an ordinal word opens a point; [] unless two different ordinals are found."""
    cuts: list[int] = []
    keys: set[str] = set()
    for m in _ORDINAL_RE.finditer(full, start, end):
        k = m.start()
        before = full[start:k].rstrip()
        # a point opens a line or a sentence (OCR may lose the stop; a capital then says the same)
        if before and before[-1] not in ".;:!?\n" and not full[k].isupper():
            continue
        key = _ORD_KEY.search(m.group(0))
        if key:
            keys.add(key.group(1).lower()[:3])
        cuts.append(k)
    return cuts if len(keys) >= 2 else []


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
    cuts += _ordinal_cuts(full, regions.body_start, regions.body_end)
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
