"""Database tables (SQLAlchemy 2). The schema itself is created and changed only by
the versioned migrations in ``pipeline/store/migrations``.

Machine output (pages, words, fields, matches) is replaced when a letter is
processed again; human decisions live in ``reviews`` and are never touched by
the pipeline.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class LetterRow(Base):
    __tablename__ = "letters"

    letter_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    source_file: Mapped[str] = mapped_column(Text)
    source_paths: Mapped[list[Any]] = mapped_column(JSON, default=list)  # absolute paths, in page order
    kind: Mapped[str | None] = mapped_column(String(8))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str | None] = mapped_column(String(2))
    text_source: Mapped[str | None] = mapped_column(String(16))
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(40))
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Bumped on every human save: the optimistic version check for concurrent reviewers.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_letters_queue_stamp", "processed_at", "version"),)  # migration 0005


class PageRow(Base):
    __tablename__ = "pages"

    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.letter_id", ondelete="CASCADE"), primary_key=True)
    page_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    width: Mapped[float] = mapped_column(Float)
    height: Mapped[float] = mapped_column(Float)
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    low_confidence_share: Mapped[float | None] = mapped_column(Float)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)


class WordRow(Base):
    __tablename__ = "words"
    __table_args__ = (Index("ix_words_letter_page", "letter_id", "page_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.letter_id", ondelete="CASCADE"))
    page_no: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    left: Mapped[float] = mapped_column(Float)
    top: Mapped[float] = mapped_column(Float)
    width: Mapped[float] = mapped_column(Float)
    height: Mapped[float] = mapped_column(Float)
    conf: Mapped[float | None] = mapped_column(Float)
    line: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)


class FieldRow(Base):
    """A field value as the machine extracted it."""

    __tablename__ = "fields"

    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.letter_id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    boxes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class PromiseRow(Base):
    __tablename__ = "promises"

    promise_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    politician: Mapped[str] = mapped_column(Text, default="")
    office: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(Text, index=True)
    said_on: Mapped[dt.date | None] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(2))
    terms: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # deadline, quantity, scope read


class MatchRow(Base):
    """One (letter, promise) pair: the match, and the machine's verdict suggestion."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("letter_id", "promise_id", name="uq_matches_letter_promise"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.letter_id", ondelete="CASCADE"), index=True)
    promise_id: Mapped[str] = mapped_column(String(64), index=True)
    match_score: Mapped[float] = mapped_column(Float)
    passage_index: Mapped[int] = mapped_column(Integer, default=0)
    passage_text: Mapped[str] = mapped_column(Text, default="")
    passage_start: Mapped[int | None] = mapped_column(Integer)
    passage_end: Mapped[int | None] = mapped_column(Integer)
    passage_page: Mapped[int | None] = mapped_column(Integer)
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alternatives: Mapped[list[Any]] = mapped_column(JSON, default=list)
    near_tie: Mapped[bool] = mapped_column(Boolean, default=False)
    verdict: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[str | None] = mapped_column(Text)
    evidence_start: Mapped[int | None] = mapped_column(Integer)
    evidence_end: Mapped[int | None] = mapped_column(Integer)
    model_version: Mapped[str | None] = mapped_column(String(64))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    as_of: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # date the verdict is judged at
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # what the passage reports
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)  # "deadline … passed at …; 14 of 31"


class ReviewRow(Base):
    """A human decision. Append-only: an undo is a new row pointing at the one it undoes.

    kind: "field" (key = field name), "verdict" (key = promise_id),
    "match" (key = promise_id; human_value "accepted" / "rejected" / "added").
    """

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_target", "letter_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    letter_id: Mapped[str] = mapped_column(String(16), index=True)  # no FK: reviews outlive re-runs
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    machine_value: Mapped[str | None] = mapped_column(Text)
    human_value: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))  # accept | correct | undo | adjudicate
    undoes: Mapped[int | None] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    input_dir: Mapped[str] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str | None] = mapped_column(String(16), default="running")  # running | finished | interrupted
    reason: Mapped[str | None] = mapped_column(Text)  # why it was interrupted
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_started: Mapped[float | None] = mapped_column(Float)  # the process's start time, to tell a reused pid


class OcrCacheRow(Base):
    """OCR result of one page image, keyed by the image's hash and the OCR settings."""

    __tablename__ = "ocr_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    page: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DraftedTextRow(Base):
    """A promise page's drafted line or paragraph, keyed by what it was drafted from
    (:mod:`pipeline.lang.draft`): exports read it instead of drafting it again."""

    __tablename__ = "drafted_texts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class QueueLetterRow(Base):
    """One letter as the review queue sees it, kept in step with the letter, its matches and its
    reviews (``pipeline.store.queue``), so ordering, filters, counts and pages are one SQL query.
    The ``*_mark`` columns say which inputs it was built from, to find rows gone stale."""

    __tablename__ = "queue_letters"
    __table_args__ = (Index("ix_queue_letters_order", "order_needs", "order_conf", "source_file", "letter_id"),)

    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.letter_id", ondelete="CASCADE"), primary_key=True)
    source_file: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text, default="")
    letter_date: Mapped[str] = mapped_column(String(10), default="", index=True)  # effective, ISO or ""
    sender_city: Mapped[str] = mapped_column(Text, default="")
    politicians: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    verdicts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    model_versions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    promises: Mapped[int] = mapped_column(Integer, default=0)
    decided: Mapped[int] = mapped_column(Integer, default=0)
    min_confidence: Mapped[float | None] = mapped_column(Float)
    order_conf: Mapped[float] = mapped_column(Float)  # min_confidence, 2.0 without one: no suggestion last
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    order_needs: Mapped[int] = mapped_column(Integer)  # 0: needs review (first), 1: not
    state: Mapped[str] = mapped_column(String(16), index=True)  # awaiting | reviewed | failed | none
    touched: Mapped[bool] = mapped_column(Boolean, default=False)  # some human decision in force
    complete: Mapped[bool] = mapped_column(Boolean, default=False)  # every machine pair has verdict + confidence
    bucket: Mapped[int] = mapped_column(Integer)  # from the letter id: reviewer assignment and overlap
    version: Mapped[int] = mapped_column(Integer)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    review_mark: Mapped[int] = mapped_column(Integer, default=0)  # the letter's highest review id
    match_mark: Mapped[int] = mapped_column(Integer, default=0)  # its highest match id


class QueueTermRow(Base):
    """What the queue filters on, one row per value: kind "city" (folded name, label as written),
    "politician" (folded full name), "verdict" (effective verdict), "responder" (a reviewer whose own
    responses cover every promise of the letter)."""

    __tablename__ = "queue_terms"
    __table_args__ = (Index("ix_queue_terms_kind_term", "kind", "term", "letter_id"), Index("ix_queue_terms_kind_label", "kind", "label"))

    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.letter_id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    term: Mapped[str] = mapped_column(String(255), primary_key=True)
    label: Mapped[str] = mapped_column(Text, default="")


class SettingRow(Base):
    """Settings kept in the database, shared by every app process (e.g. the reviewer overlap)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
