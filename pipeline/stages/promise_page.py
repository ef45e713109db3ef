"""The promise page: each promise's letters in time order, its status as of the latest letter,
and the drafted "Sources" and "Result" text the watchdog publishes.

A plain function over plain rows: :func:`build_pages` takes the registry's promises and one
:class:`Answer` per (letter, promise) pair with the *effective* verdict (a reviewer's decision
wins over the machine's, see :func:`pipeline.store.repo.update_records`) and returns one
:class:`PromisePage` per promise. Reviewers' edits of the drafts are applied on top
(:func:`apply_draft_edits`); the store reads and writes them (:mod:`pipeline.store.promises`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.lang.draft import Drafts, result_paragraph, sources_line
from pipeline.stages.records import write_table

NO_ANSWER = "no_answer"  # no letter answers the promise yet
UNDECIDED = "undecided"  # letters answer it, but none carries a verdict yet (a reviewer added the match)
STATUSES = ("fulfilled", "in_progress", "not_fulfilled", UNDECIDED, NO_ANSWER)

PROMISE_COLUMNS = ("promise_id", "politician", "city", "title", "status", "as_of", "letters", "last_letter_id",
                   "status_source", "result_draft", "sources_draft")
DRAFT_KINDS = ("sources_draft", "result_draft")
_PROMISE_TYPES = {"letters": "int32"}


@dataclass(frozen=True)
class PromiseInfo:
    promise_id: str
    politician: str
    office: str
    city: str
    title: str
    lang: str


@dataclass(frozen=True)
class Answer:
    """One letter answering one promise, with the letter's effective fields and verdict."""

    letter_id: str
    promise_id: str
    letter_date: str | None  # ISO
    as_of: str | None  # ISO: the date the verdict is judged at, when the letter reports one
    sender_org: str | None
    signatory_position: str | None
    signatory_name: str | None
    language: str | None
    source_file: str
    verdict: str | None
    verdict_source: str  # machine | human
    review_state: str
    evidence: str | None
    match_score: float | None

    @property
    def effective_as_of(self) -> str | None:
        return self.as_of or self.letter_date


@dataclass(frozen=True)
class PromisePage:
    promise: PromiseInfo
    answers: tuple[Answer, ...]  # oldest first
    status: str
    as_of: str | None
    last_letter_id: str | None
    status_source: str | None  # machine | human | None (no verdict)
    sources_draft: str
    result_draft: str
    machine_sources_draft: str
    machine_result_draft: str
    edited: dict[str, str] = field(default_factory=dict)  # kind -> reviewer, for drafts a reviewer edited

    def record(self) -> dict[str, object]:
        p = self.promise
        return {
            "promise_id": p.promise_id,
            "politician": p.politician,
            "city": p.city,
            "title": p.title,
            "status": self.status,
            "as_of": self.as_of,
            "letters": len(self.answers),
            "last_letter_id": self.last_letter_id,
            "status_source": self.status_source,
            "result_draft": self.result_draft,
            "sources_draft": self.sources_draft,
        }


def _order_key(a: Answer) -> tuple[int, str, str, str]:
    when = a.effective_as_of
    # Undated letters go first: a dated letter decides over one that cannot be placed in time.
    return (1 if when else 0, when or "", a.letter_date or "", a.letter_id)


def timeline(answers: Iterable[Answer]) -> list[Answer]:
    return sorted(answers, key=_order_key)


def status_of(ordered: list[Answer]) -> tuple[str, Answer | None]:
    """(status, the deciding answer): the latest answer's verdict; no_answer without letters."""
    if not ordered:
        return NO_ANSWER, None
    for a in reversed(ordered):
        if a.verdict:
            return a.verdict, a
    return UNDECIDED, ordered[-1]


def build_page(promise: PromiseInfo, answers: Iterable[Answer], drafts: Drafts | None = None) -> PromisePage:
    """The page of ``promise``; ``drafts``: texts drafted before, taken where their inputs are the same."""
    ordered = timeline(answers)
    status, deciding = status_of(ordered)
    line = drafts.sources_line if drafts is not None else sources_line
    paragraph = drafts.result_paragraph if drafts is not None else result_paragraph
    sources = "\n".join(line(a.signatory_position, a.sender_org, a.signatory_name, a.language) for a in ordered)
    result = "\n\n".join(paragraph(a.sender_org, a.signatory_position, a.signatory_name, a.letter_date,
                                   a.evidence, a.language, promise.lang) for a in ordered)
    return PromisePage(
        promise=promise,
        answers=tuple(ordered),
        status=status,
        as_of=deciding.effective_as_of if deciding else None,
        last_letter_id=deciding.letter_id if deciding else None,
        status_source=deciding.verdict_source if deciding and deciding.verdict else None,
        sources_draft=sources,
        result_draft=result,
        machine_sources_draft=sources,
        machine_result_draft=result,
    )


def build_pages(promises: Iterable[PromiseInfo], answers: Iterable[Answer],
                drafts: Drafts | None = None) -> list[PromisePage]:
    by_promise: dict[str, list[Answer]] = defaultdict(list)
    for a in answers:
        by_promise[a.promise_id].append(a)
    return [build_page(p, by_promise.get(p.promise_id, []), drafts)
            for p in sorted(promises, key=lambda p: p.promise_id)]


def apply_draft_edits(page: PromisePage, edits: Mapping[str, tuple[str, str]]) -> PromisePage:
    """``edits``: kind -> (text, reviewer) of the reviewer's draft in force; it replaces the machine's."""
    sources = edits.get("sources_draft")
    result = edits.get("result_draft")
    if not sources and not result:
        return page
    return replace(
        page,
        sources_draft=sources[0] if sources else page.sources_draft,
        result_draft=result[0] if result else page.result_draft,
        edited={k: v[1] for k, v in edits.items() if k in DRAFT_KINDS},
    )


def as_date(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def write_promise_records(out_dir: Path, rows: list[dict[str, object]]) -> list[Path]:
    """OUT/promises.{parquet,csv}, each written atomically like the other record files."""
    return list(write_table(Path(out_dir), "promises", rows, PROMISE_COLUMNS, _PROMISE_TYPES))
