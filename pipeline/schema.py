"""Data contracts passed between the stages.

Every stage is a plain function from one of these types to another; the order
of stages lives in :mod:`pipeline.api`. Character spans (``start``/``end``)
are always offsets into :attr:`LetterText.full_text`, the letter's pages joined
by a form feed, so a span can be mapped back to its page with
:meth:`LetterText.page_of`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

PAGE_SEPARATOR = "\f"


class FileKind(StrEnum):
    PDF = "pdf"
    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"


class Status(StrEnum):
    OK = "ok"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"


class TextSource(StrEnum):
    TEXT_LAYER = "text_layer"
    OCR = "ocr"
    MIXED = "mixed"


class Verdict(StrEnum):
    FULFILLED = "fulfilled"
    IN_PROGRESS = "in_progress"
    NOT_FULFILLED = "not_fulfilled"


class ReviewState(StrEnum):
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    CORRECTED = "corrected"


# --- ingest -----------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One file on disk that belongs to a letter (a letter may have several page images)."""

    path: Path  # absolute path
    rel_path: str  # relative to the input folder, POSIX separators
    kind: FileKind
    sha256: str
    size: int


@dataclass(frozen=True)
class Letter:
    """A letter as found by ingest: one file, or page images grouped in page order."""

    letter_id: str  # first 16 hex digits of sha256
    sha256: str  # of the file's bytes, or of the pages' bytes in order
    source_file: str  # rel path of the (first) file
    files: tuple[SourceFile, ...]

    @property
    def kind(self) -> FileKind:
        return self.files[0].kind


@dataclass(frozen=True)
class IngestFailure:
    """A file that could not become a letter (unsupported, unreadable)."""

    letter_id: str  # from the bytes when readable, else from the path
    sha256: str | None
    source_file: str
    reason: str


# --- text -------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A word on a page with its box in page pixels (OCR) or PDF points (text layer)."""

    text: str
    left: float
    top: float
    width: float
    height: float
    conf: float | None  # 0..100 for OCR words, None for text-layer words
    line: int  # line number on the page, in reading order (0-based)
    start: int  # span in LetterText.full_text
    end: int


@dataclass
class PageText:
    page_no: int  # 1-based
    text: str
    source: TextSource  # TEXT_LAYER or OCR for a single page
    width: float  # page size in the unit of the word boxes
    height: float
    words: list[Word] = field(default_factory=list)
    ocr_confidence: float | None = None  # mean word confidence 0..100, OCR pages only
    low_confidence_share: float | None = None  # share of OCR words under the low threshold
    rotation: int = 0  # degrees the page image was rotated before OCR
    seconds: float = 0.0
    cache_key: str | None = None  # OCR cache key of this page image (OCR pages only)
    from_cache: bool = False  # True when the OCR result was reused, not recomputed


@dataclass
class LetterText:
    letter_id: str
    pages: list[PageText]

    @property
    def full_text(self) -> str:
        return PAGE_SEPARATOR.join(p.text for p in self.pages)

    def page_offsets(self) -> list[int]:
        """Offset in full_text where each page starts."""
        offsets, pos = [], 0
        for p in self.pages:
            offsets.append(pos)
            pos += len(p.text) + len(PAGE_SEPARATOR)
        return offsets

    def page_of(self, offset: int) -> int:
        """1-based page number holding the character at ``offset``."""
        page = 1
        for i, start in enumerate(self.page_offsets()):
            if offset >= start:
                page = i + 1
        return page

    def words_in(self, start: int, end: int) -> list[Word]:
        return [w for p in self.pages for w in p.words if w.start < end and w.end > start]

    @property
    def text_source(self) -> TextSource | None:
        sources = {p.source for p in self.pages}
        if not sources:
            return None
        if len(sources) == 1:
            return next(iter(sources))
        return TextSource.MIXED

    @property
    def ocr_confidence(self) -> float | None:
        confs = [w.conf for p in self.pages if p.source == TextSource.OCR for w in p.words if w.conf is not None]
        return round(sum(confs) / len(confs), 2) if confs else None


# --- fields -----------------------------------------------------------------


@dataclass
class FieldValue:
    """One extracted field with where it came from and how sure we are (0..1)."""

    value: str | None = None
    start: int | None = None  # span in LetterText.full_text
    end: int | None = None
    page: int | None = None
    confidence: float = 0.0
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # (left, top, width, height)


FIELD_NAMES = (
    "letter_date",
    "outgoing_number",
    "request_date",
    "request_number",
    "sender_org",
    "sender_city",
    "signatory_name",
    "signatory_position",
    "language",
    "addressee",
    "subject",
    "executor",
)


@dataclass
class LetterFields:
    letter_date: FieldValue = field(default_factory=FieldValue)  # ISO YYYY-MM-DD
    outgoing_number: FieldValue = field(default_factory=FieldValue)
    request_date: FieldValue = field(default_factory=FieldValue)  # ISO YYYY-MM-DD
    request_number: FieldValue = field(default_factory=FieldValue)
    sender_org: FieldValue = field(default_factory=FieldValue)
    sender_city: FieldValue = field(default_factory=FieldValue)  # Ukrainian nominative
    signatory_name: FieldValue = field(default_factory=FieldValue)
    signatory_position: FieldValue = field(default_factory=FieldValue)
    language: FieldValue = field(default_factory=FieldValue)  # "uk" | "ru"
    addressee: FieldValue = field(default_factory=FieldValue)  # the recipient block, lines joined
    subject: FieldValue = field(default_factory=FieldValue)  # the heading ("Про …")
    executor: FieldValue = field(default_factory=FieldValue)  # the executor's mark: name and phone
    review_reasons: list[str] = field(default_factory=list)  # why a human should look

    def items(self) -> list[tuple[str, FieldValue]]:
        return [(name, getattr(self, name)) for name in FIELD_NAMES]

    def values(self) -> dict[str, str | None]:
        return {name: fv.value for name, fv in self.items()}


# --- promises and matching ----------------------------------------------------


@dataclass(frozen=True)
class Promise:
    promise_id: str
    politician: str
    office: str
    city: str  # Ukrainian nominative
    said_on: dt.date | None
    title: str
    description: str
    lang: str  # "uk" | "ru"


@dataclass(frozen=True)
class Passage:
    """A part of a letter's body that answers one question."""

    index: int  # 0-based order in the letter
    text: str
    start: int  # span in LetterText.full_text
    end: int
    page: int


@dataclass
class Match:
    promise_id: str
    score: float  # 0..1
    passage: Passage
    features: dict[str, object] = field(default_factory=dict)  # why it matched: city, name, shared terms...
    alternatives: list[tuple[str, float]] = field(default_factory=list)  # (promise_id, score) near ties
    near_tie: bool = False


# --- verdicts ---------------------------------------------------------------


@dataclass
class VerdictSuggestion:
    verdict: Verdict
    confidence: float  # calibrated probability of `verdict`
    probabilities: dict[str, float]
    evidence: str  # the sentence that drives the prediction
    evidence_start: int | None  # span in LetterText.full_text
    evidence_end: int | None
    model_version: str
    as_of: dt.date | None = None  # the date the verdict is judged at ("станом на", else the letter's date)
    explanation: str = ""  # what the verdict rests on, for a reviewer to check
    facts: dict[str, object] = field(default_factory=dict)  # what the passage reports, and the comparison


# --- the whole letter -------------------------------------------------------


@dataclass
class Update:
    """One (letter, promise) pair with its suggested verdict."""

    letter_id: str
    promise_id: str
    match: Match
    suggestion: VerdictSuggestion | None
    needs_review: bool = False


@dataclass
class LetterResult:
    letter_id: str
    sha256: str | None
    source_file: str
    status: Status
    error: str | None = None  # failure reason, or review reasons joined by "; "
    letter: Letter | None = None
    text: LetterText | None = None
    fields: LetterFields | None = None
    updates: list[Update] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    drafts: dict[str, str] = field(default_factory=dict)  # its promise-page texts, by key (pipeline.lang.draft)
