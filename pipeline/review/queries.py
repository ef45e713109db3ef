"""Read side of the review app: the queue and the letter screen, built from the store.

The effective value of anything is the latest human decision still in force
(:func:`pipeline.store.repo.effective_decisions`), else the machine's value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, and_, case, false, func, literal, select, tuple_
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.schema import FIELD_NAMES, Verdict
from pipeline.store import queue as queue_store
from pipeline.store.queue import Assignment, fold, mine_first, viewer_state
from pipeline.store.repo import Decision, effective_decisions
from pipeline.store.tables import (
    FieldRow,
    LetterRow,
    MatchRow,
    PageRow,
    PromiseRow,
    QueueLetterRow,
    QueueTermRow,
    ReviewRow,
    WordRow,
)

VERDICTS = tuple(v.value for v in Verdict)
STATES = ("awaiting", "reviewed", "failed", "none", "all")
QUEUE_LIMIT = 100  # letters per queue page


# --- the queue ---------------------------------------------------------------------


@dataclass
class QueueFilters:
    city: str = ""  # a prefix of the city, in any spelling (Ukrainian or Russian letters)
    politician: str = ""  # a surname or part of a name, in any spelling
    verdict: str = ""
    state: str = "awaiting"
    date_from: str = ""
    date_to: str = ""
    text: str = ""  # full-text search over the letter text
    needs: str = ""  # "1": only letters flagged for review
    warning: str = ""  # what was odd about the filters (a reversed date range), for the reviewer

    @classmethod
    def from_params(cls, params: Any) -> QueueFilters:
        def get(name: str) -> str:
            return str(params.get(name) or "").strip()[:200]

        f = cls(get("city"), get("politician"), get("verdict"), get("state") or "awaiting",
                _iso_or_blank(get("date_from")), _iso_or_blank(get("date_to")), get("text"),
                "1" if get("needs") == "1" else "")
        if f.state not in STATES:
            f.state = "awaiting"
        if f.verdict not in VERDICTS:
            f.verdict = ""
        if f.date_from and f.date_to and f.date_from > f.date_to:
            f.date_from, f.date_to = f.date_to, f.date_from
            f.warning = f"The date range was reversed; showing {f.date_from} to {f.date_to}."
        return f

    def params(self) -> dict[str, str]:
        """Non-default filters, for links that keep the reviewer's queue."""
        d = {"city": self.city, "politician": self.politician, "verdict": self.verdict,
             "state": self.state if self.state != "awaiting" else "", "date_from": self.date_from,
             "date_to": self.date_to, "text": self.text, "needs": self.needs}
        return {k: v for k, v in d.items() if v}


def name_matches(query: str, name: str) -> bool:
    """Every word of ``query`` begins a word of ``name`` or nearly equals it (one letter off in
    six), in folded spelling: a surname alone finds "Олена Іваненко" and "Елена Иваненко"."""
    from rapidfuzz.distance import Levenshtein

    words = fold(name).replace("-", " ").split()
    for q in fold(query).replace("-", " ").split():
        if not any(w.startswith(q) or (len(q) >= 4 and Levenshtein.distance(q, w) <= max(1, len(q) // 6))
                   for w in words):
            return False
    return True


def city_matches(query: str, city: str) -> bool:
    """``query`` begins the city's name in folded spelling (Зеленод finds Зеленодольськ and Зеленодольск)."""
    q = fold(query)
    return bool(q) and fold(city).startswith(q)


def _fts_words(query: str) -> list[str]:
    return [w for w in re.findall(r"\w+", query.casefold()) if w][:12]


def text_search_clause(session: Session, query: str) -> ColumnElement[bool]:
    """Letters whose text holds every word of ``query`` (word prefixes), as a SQL condition on the
    queue row: SQLite FTS5 or PostgreSQL full-text search (migration 0004)."""
    words = _fts_words(query)
    if not words:
        return false()
    if session.get_bind().dialect.name == "sqlite":
        # By rowid: reading the FTS table's own letter_id column costs 5x more than the rowid lookup.
        sub = sql_text("SELECT letter_id FROM letters WHERE rowid IN "
                       "(SELECT rowid FROM letters_fts WHERE letters_fts MATCH :fts_q)").bindparams(
            fts_q=" ".join(f'"{w}"*' for w in words))
    else:
        sub = sql_text("SELECT letter_id FROM letters WHERE text_tsv @@ to_tsquery('simple', :fts_q)").bindparams(fts_q=" & ".join(f"{w}:*" for w in words))
    return QueueLetterRow.letter_id.in_(sub.columns(letter_id=String()))


def text_search(session: Session, query: str) -> set[str]:
    """Letter ids whose text holds every word of ``query`` (word prefixes)."""
    if not _fts_words(query):
        return set()
    return set(session.scalars(select(QueueLetterRow.letter_id).where(text_search_clause(session, query))))


def _iso_or_blank(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat() if text else ""
    except ValueError:
        return ""


@dataclass
class QueueItem:
    letter_id: str
    source_file: str
    status: str
    reasons: str
    letter_date: str
    sender_city: str
    politicians: list[str]
    cities: list[str]
    promises: int
    verdicts: list[str]  # effective verdict per live match
    min_confidence: float | None
    needs_review: bool
    state: str  # awaiting | reviewed | failed | none (as the viewing reviewer sees it)
    decided: int  # live matches with a human verdict or rejection
    model_versions: list[str]
    assigned: bool = False  # assigned to the viewing reviewer (overlap setting)


@dataclass
class Queue:
    items: list[QueueItem]
    total: int  # after filtering, before paging
    counts: dict[str, int]  # awaiting, reviewed, needs_review, failed, none (within the filters but the state)
    cities: list[str]
    politicians: list[str]
    page: int = 1
    pages: int = 1
    assigned: bool = False  # the overlap setting assigns letters to reviewers
    bulk: int = 0  # letters within the filters a bulk accept would take (see bulk_candidates)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filter_clauses(session: Session, f: QueueFilters) -> list[ColumnElement[bool]]:
    """The filters but the state one, as SQL conditions on ``queue_letters``."""
    out: list[ColumnElement[bool]] = []

    def has_term(kind: str, cond: ColumnElement[bool]) -> ColumnElement[bool]:
        # IN (uncorrelated subquery): the few matching terms are found by the (kind, term) index
        # once, instead of probing every letter's terms (25x faster at 10,000 letters).
        return QueueLetterRow.letter_id.in_(select(QueueTermRow.letter_id).where(QueueTermRow.kind == kind, cond))

    if f.text:
        out.append(text_search_clause(session, f.text))
    if f.needs:
        out.append(QueueLetterRow.needs_review.is_(True))
    if f.city:
        q = fold(f.city)
        if not q:
            out.append(false())
        elif session.get_bind().dialect.name == "sqlite":
            # A range on the binary-ordered index: SQLite's LIKE cannot use it for non-ASCII text.
            out.append(has_term("city", and_(QueueTermRow.term >= q, QueueTermRow.term < q + "\U0010ffff")))
        else:
            out.append(has_term("city", QueueTermRow.term.like(_like_prefix(q), escape="\\")))
    if f.politician:
        # Fuzzy names: matched over the distinct names (the registry's politicians, not the letters),
        # then the letters are found in SQL by those names.
        names = session.scalars(select(QueueTermRow.term).where(QueueTermRow.kind == "politician").distinct())
        hits = sorted({n for n in names if name_matches(f.politician, n)})
        out.append(has_term("politician", QueueTermRow.term.in_(hits)) if hits else false())
    if f.verdict:
        out.append(has_term("verdict", QueueTermRow.term == f.verdict))
    if f.date_from:
        out.append(and_(QueueLetterRow.letter_date != "", QueueLetterRow.letter_date >= f.date_from))
    if f.date_to:
        out.append(and_(QueueLetterRow.letter_date != "", QueueLetterRow.letter_date <= f.date_to))
    return out


def _order_key(assigned: Assignment | None, viewer: str) -> list[ColumnElement[Any]]:
    # Letters assigned to the viewer first, then needs-review first, then the least sure suggestion
    # first; letters with no suggestion last.
    return [mine_first(assigned, viewer), QueueLetterRow.order_needs, QueueLetterRow.order_conf,
            QueueLetterRow.source_file, QueueLetterRow.letter_id]


def _item(row: Any, state: str, mine: bool) -> QueueItem:
    q: QueueLetterRow = row
    return QueueItem(
        letter_id=q.letter_id, source_file=q.source_file, status=q.status, reasons=q.reasons,
        letter_date=q.letter_date, sender_city=q.sender_city, politicians=list(q.politicians or []),
        cities=list(q.cities or []), promises=q.promises, verdicts=list(q.verdicts or []),
        min_confidence=q.min_confidence, needs_review=q.needs_review, state=state, decided=q.decided,
        model_versions=list(q.model_versions or []), assigned=mine)


def build_queue(session: Session, filters: QueueFilters, limit: int = QUEUE_LIMIT, viewer: str = "",
                page: int = 1, refresh: bool = True) -> Queue:
    """One page of the filtered queue, its total and the state counts, all computed in SQL.
    ``refresh``: first rebuild queue rows gone stale (in this session's transaction)."""
    if refresh:
        queue_store.refresh_stale(session)
    assigned = queue_store.assignment(session)
    state = viewer_state(assigned, viewer).label("vstate")
    mine = mine_first(assigned, viewer).label("mine")
    where = _filter_clauses(session, filters)
    # The counters follow every filter but the state one (they are the state tabs).
    counts = {"awaiting": 0, "reviewed": 0, "needs_review": 0, "failed": 0, "none": 0}
    bulkable = case((and_(*_bulk_only(BULK_MIN_CONFIDENCE)), literal(1, Integer)), else_=literal(0, Integer))
    inner = select(state, QueueLetterRow.needs_review.label("needs"), bulkable.label("bulk")).where(*where).subquery()
    bulk = 0
    # One pass over the filtered rows gives the state tabs and the bulk-accept count (a text filter
    # is evaluated once for both).
    for st, needs, n, b in session.execute(select(inner.c.vstate, inner.c.needs, func.count(), func.sum(inner.c.bulk))
                                           .group_by(inner.c.vstate, inner.c.needs)):
        counts[st] = counts.get(st, 0) + n
        bulk += int(b or 0)
        if needs and st == "awaiting":
            counts["needs_review"] += n
    total = sum(v for k, v in counts.items() if k != "needs_review") if filters.state == "all" \
        else counts.get(filters.state, 0)
    if filters.state != "all":
        where.append(viewer_state(assigned, viewer) == filters.state)
    pages = max(1, -(-total // limit))
    page = min(max(1, page), pages)
    rows = session.execute(select(QueueLetterRow, state, mine).where(*where).order_by(*_order_key(assigned, viewer))
                           .limit(limit).offset((page - 1) * limit)).all()
    items = [_item(r[0], r[1], assigned is not None and r[2] == 0) for r in rows]
    cities = sorted(set(session.scalars(select(QueueTermRow.label).where(QueueTermRow.kind == "city").distinct())))
    politicians = sorted(set(session.scalars(select(QueueTermRow.label)
                                             .where(QueueTermRow.kind == "politician").distinct())))
    return Queue(items, total, counts, cities, politicians, page, pages, assigned is not None, bulk)


BULK_MIN_CONFIDENCE = 0.9


def decided_today(session: Session, reviewer: str) -> int:
    """Letters ``reviewer`` saved a decision on since midnight UTC (the "today" on the letter screen)."""
    midnight = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time())
    q = select(func.count(func.distinct(ReviewRow.letter_id))).where(
        ReviewRow.reviewer == reviewer, ReviewRow.created_at >= midnight, ReviewRow.letter_id != "")
    return int(session.scalar(q) or 0)


def _bulk_only(min_confidence: float) -> list[ColumnElement[bool]]:
    return [QueueLetterRow.state == "awaiting", QueueLetterRow.needs_review.is_(False),
            QueueLetterRow.touched.is_(False), QueueLetterRow.promises > 0, QueueLetterRow.complete.is_(True),
            QueueLetterRow.min_confidence >= min_confidence]


def _bulk_where(session: Session, filters: QueueFilters, min_confidence: float) -> list[ColumnElement[bool]]:
    return [*_filter_clauses(session, filters), *_bulk_only(min_confidence)]


def bulk_count(session: Session, filters: QueueFilters, min_confidence: float = BULK_MIN_CONFIDENCE) -> int:
    """How many letters :func:`bulk_candidates` would give, counted in SQL."""
    return int(session.scalar(select(func.count()).select_from(QueueLetterRow)
                              .where(*_bulk_where(session, filters, min_confidence))) or 0)


def bulk_candidates(session: Session, filters: QueueFilters, min_confidence: float = BULK_MIN_CONFIDENCE,
                    ) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """Letters of the filtered queue a reviewer may accept in one go: awaiting, not flagged for
    review, nobody has decided anything on them, and every suggestion has a verdict at or above
    ``min_confidence``. Returns (letter_id, version, [(promise_id, machine verdict)])."""
    ids = list(session.scalars(select(QueueLetterRow.letter_id).where(*_bulk_where(session, filters, min_confidence))
                               .order_by(QueueLetterRow.source_file, QueueLetterRow.letter_id)))
    if not ids:
        return []
    human = effective_decisions(session, ids)
    touched = {k[0] for k in human}
    versions = dict(session.execute(select(LetterRow.letter_id, LetterRow.version)
                                    .where(LetterRow.letter_id.in_(ids))).all())
    matches: dict[str, list[Any]] = defaultdict(list)
    for m in session.execute(select(MatchRow.letter_id, MatchRow.promise_id, MatchRow.verdict, MatchRow.confidence,
                                    MatchRow.needs_review).where(MatchRow.letter_id.in_(ids))
                             .order_by(MatchRow.passage_index, MatchRow.promise_id)):
        matches[m.letter_id].append(m)
    out = []
    for lid in ids:
        ms = matches[lid]
        if lid in touched or not ms:
            continue  # the queue row was a moment old: the rows themselves decide
        if all(m.verdict and m.confidence is not None and m.confidence >= min_confidence and not m.needs_review
               for m in ms):
            out.append((lid, versions[lid], [(m.promise_id, m.verdict) for m in ms]))
    return out


def neighbours(session: Session, letter_id: str, filters: QueueFilters, viewer: str = "",
               refresh: bool = True) -> tuple[str | None, str | None]:
    """Previous and next letter of the reviewer's queue around ``letter_id``, found in SQL. The letter
    keeps its place in the order even when reviewing it just took it out of the filtered queue."""
    if refresh:
        queue_store.refresh_stale(session)
    assigned = queue_store.assignment(session)
    where = _filter_clauses(session, filters)
    if filters.state != "all":
        where.append(viewer_state(assigned, viewer) == filters.state)
    key = _order_key(assigned, viewer)
    here = session.execute(select(*key).where(QueueLetterRow.letter_id == letter_id)).first()
    if here is None:
        first = session.scalars(select(QueueLetterRow.letter_id).where(*where).order_by(*key).limit(1)).first()
        return None, first
    pos = tuple_(*key)
    at = tuple_(*(literal(v) for v in here))
    prev_id = session.scalars(select(QueueLetterRow.letter_id).where(*where, pos < at)
                              .order_by(*(k.desc() for k in key)).limit(1)).first()
    next_id = session.scalars(select(QueueLetterRow.letter_id).where(*where, pos > at)
                              .order_by(*key).limit(1)).first()
    return prev_id, next_id


def is_closed(human: dict[tuple[str, str, str], Decision], lid: str) -> bool:
    """A reviewer closed the letter as answering no promise (and nobody undid it)."""
    d = human.get((lid, "letter", "status"))
    return bool(d and d.human_value == "no_promise")


def _match_value(human: dict[tuple[str, str, str], Decision], lid: str, pid: str) -> str | None:
    d = human.get((lid, "match", pid))
    return d.human_value if d else None


# --- the letter screen -------------------------------------------------------------


@dataclass
class Box:
    left: float
    top: float
    width: float
    height: float
    kind: str  # "field" | "evidence"
    label: str
    target: str  # field name or promise index, for linking a box to its panel


@dataclass
class PageView:
    page_no: int
    width: float
    height: float
    rotation: int
    source: str
    ocr_confidence: float | None
    boxes: list[Box] = field(default_factory=list)


@dataclass
class Who:
    reviewer: str
    at: str
    action: str
    note: str | None


@dataclass
class FieldView:
    name: str
    machine: str | None
    value: str | None  # effective
    confidence: float | None
    decided: Who | None
    flagged: bool = False  # a "why review" reason is about this field and no human has decided it


# How the fields stage names a field in its review reasons ("letter date not found", "sender_org: ...").
FIELD_PHRASES = {
    "letter_date": ("letter date",), "outgoing_number": ("outgoing number",), "request_date": ("request date",),
    "request_number": ("request number",), "sender_org": ("sender organisation",), "sender_city": ("sender city",),
    "signatory_name": ("signatory name", "signatory"), "signatory_position": ("signatory position",),
    "language": ("language",), "addressee": ("addressee",), "subject": ("subject",), "executor": ("executor",),
}


def reason_field(reason: str) -> str | None:
    """The field a review reason is about, if any."""
    low = reason.casefold()
    for name, phrases in FIELD_PHRASES.items():
        if low.startswith(name + ":") or any(p in low for p in phrases):
            return name
    return None


@dataclass
class PromiseCard:
    index: int
    promise_id: str
    title: str
    politician: str
    office: str
    city: str
    said_on: str
    origin: str  # "machine" | "added"
    score: float | None
    features: list[tuple[str, str]]
    alternatives: list[tuple[str, float, str]]  # (promise_id, score, title)
    near_tie: bool
    needs_review: bool
    passage: tuple[str, str, str]  # text before the evidence, the evidence, after
    page: int | None
    machine_verdict: str | None
    confidence: float | None
    probabilities: list[tuple[str, float]]
    model_version: str | None
    verdict: str | None  # effective
    verdict_by: Who | None
    match_state: str | None  # the human match decision in force: accepted / rejected / added
    state: str  # suggested | confirmed | corrected | rejected | open
    explanation: str = ""  # what the machine verdict rests on: deadline, counts, state reported
    as_of: str = ""  # the date the verdict is judged at
    terms: str = ""  # what the promise commits to, as read: deadline, quantity, scope
    basis: str = ""  # how the verdict in force was reached: single | agreed | adjudicated | disputed
    responses: list[tuple[str, str | None]] = field(default_factory=list)  # each reviewer's own verdict


@dataclass
class LetterView:
    letter_id: str
    source_file: str
    status: str
    reasons: list[str]
    language: str | None
    text_source: str | None
    ocr_confidence: float | None
    model_version: str | None
    version: int
    processed_at: str
    pages: list[PageView]
    fields: list[FieldView]
    promises: list[PromiseCard]
    history: list[dict[str, Any]]
    text: str
    promise_choices: list[tuple[str, str]]  # (promise_id, label) a reviewer may add to the letter
    closed: bool = False  # closed by a reviewer as answering no promise


def _who(row: ReviewRow | None) -> Who | None:
    if row is None:
        return None
    return Who(row.reviewer, row.created_at.strftime("%Y-%m-%d %H:%M"), row.action, row.note)


def _fmt(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def letter_view(session: Session, letter_id: str) -> LetterView | None:
    letter = session.get(LetterRow, letter_id)
    if letter is None:
        return None
    human = effective_decisions(session, [letter_id])
    rows_by_id = {r.id: r for r in session.scalars(select(ReviewRow).where(ReviewRow.letter_id == letter_id))}
    pages = {
        p.page_no: PageView(p.page_no, p.width, p.height, p.rotation, p.source, p.ocr_confidence)
        for p in session.scalars(select(PageRow).where(PageRow.letter_id == letter_id).order_by(PageRow.page_no))
    }
    words = list(session.scalars(select(WordRow).where(WordRow.letter_id == letter_id)))

    def span_boxes(start: int | None, end: int | None, kind: str, label: str, target: str) -> None:
        if start is None or end is None or end <= start:
            return
        for w in words:
            if w.start < end and w.end > start and w.page_no in pages:
                pages[w.page_no].boxes.append(Box(w.left, w.top, w.width, w.height, kind, label, target))

    machine_fields = {f.name: f for f in session.scalars(select(FieldRow).where(FieldRow.letter_id == letter_id))}
    fields: list[FieldView] = []
    for name in FIELD_NAMES:
        f = machine_fields.get(name)
        d = human.get((letter_id, "field", name))
        fields.append(FieldView(name, f.value if f else None, d.human_value if d else (f.value if f else None),
                                f.confidence if f else None, _who(rows_by_id.get(d.review_id)) if d else None))
        if f is None:
            continue
        before = sum(len(p.boxes) for p in pages.values())
        span_boxes(f.start, f.end, "field", name, name)
        if sum(len(p.boxes) for p in pages.values()) == before and f.page in pages:
            # No word spans (e.g. a field assembled from several places): use the stored boxes.
            for b in f.boxes or []:
                if isinstance(b, list | tuple) and len(b) == 4:
                    pages[f.page].boxes.append(Box(*map(float, b), "field", name, name))

    cards: list[PromiseCard] = []
    matches = list(session.scalars(
        select(MatchRow).where(MatchRow.letter_id == letter_id).order_by(MatchRow.passage_index, MatchRow.promise_id)))
    promises = _shown_promises(session, matches, human)
    machine_pids = {m.promise_id for m in matches}
    for m in matches:
        cards.append(_card(len(cards), m.promise_id, m, promises, human, rows_by_id, letter_id))
        span_boxes(m.evidence_start, m.evidence_end, "evidence", f"evidence {len(cards)}", str(len(cards) - 1))
    for (_lid, kind, pid), d in sorted(human.items(), key=lambda kv: kv[0]):
        if kind == "match" and d.human_value == "added" and pid not in machine_pids:
            cards.append(_card(len(cards), pid, None, promises, human, rows_by_id, letter_id))

    # A reason about a field a reviewer has since decided is stale: shown as resolved, not as a flag.
    reasons = []
    decided_fields = {f.name for f in fields if f.decided}
    for r in (x.strip() for x in (letter.error or "").split(";")):
        if r:
            about = reason_field(r)
            reasons.append(r if about not in decided_fields else f"resolved: {r}")
            for f in fields:
                if f.name == about and f.decided is None:
                    f.flagged = True
    history = [
        {"id": r.id, "kind": r.kind, "key": r.key, "action": r.action, "machine": r.machine_value,
         "human": r.human_value, "reviewer": r.reviewer, "at": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
         "note": r.note, "undoes": r.undoes}
        for r in sorted(rows_by_id.values(), key=lambda r: r.id, reverse=True)
    ]
    return LetterView(
        letter_id=letter.letter_id, source_file=letter.source_file, status=letter.status,
        reasons=reasons, language=letter.language,
        text_source=letter.text_source, ocr_confidence=letter.ocr_confidence, model_version=letter.model_version,
        version=letter.version, processed_at=letter.processed_at.strftime("%Y-%m-%d %H:%M"),
        pages=list(pages.values()), fields=fields, promises=cards, history=history, text=letter.text or "",
        promise_choices=_promise_choices(session, {c.promise_id for c in cards}, human, letter_id, machine_fields),
        closed=is_closed(human, letter_id) and not [c for c in cards if c.state != "rejected"],
    )


MAX_PROMISE_CHOICES = 500


def _shown_promises(session: Session, matches: list[MatchRow],
                    human: dict[tuple[str, str, str], Decision]) -> dict[str, PromiseRow]:
    """Only the promises the letter screen shows (its matches, their alternatives, ones a reviewer
    added), not the whole registry: a registry of 100,000 promises must not slow every screen."""
    wanted = {m.promise_id for m in matches}
    for m in matches:
        wanted |= {str(a[0]) for a in (m.alternatives or []) if isinstance(a, list | tuple) and a}
    wanted |= {pid for (_lid, kind, pid) in human if kind == "match"}
    if not wanted:
        return {}
    return {p.promise_id: p for p in session.scalars(select(PromiseRow).where(PromiseRow.promise_id.in_(wanted)))}


def _promise_choices(session: Session, shown: set[str], human: dict[tuple[str, str, str], Decision],
                     letter_id: str, machine_fields: dict[str, FieldRow]) -> list[tuple[str, str]]:
    """Promises of the letter's city first (the first ones of the registry if the city is unknown or
    has none), for "add a promise"; at most MAX_PROMISE_CHOICES, read from the database as such."""
    d = human.get((letter_id, "field", "sender_city"))
    f = machine_fields.get("sender_city")
    city = ((d.human_value if d else (f.value if f else None)) or "").casefold()
    cols = (PromiseRow.promise_id, PromiseRow.city, PromiseRow.politician, PromiseRow.title)
    limit = MAX_PROMISE_CHOICES + len(shown)
    chosen: list[Any] = []
    if city:
        spellings = [c for c in session.scalars(select(PromiseRow.city).distinct()) if c and c.casefold() == city]
        if spellings:
            chosen = list(session.execute(select(*cols).where(PromiseRow.city.in_(spellings))
                                          .order_by(PromiseRow.promise_id).limit(limit)))
    chosen = [p for p in chosen if p.promise_id not in shown]
    if not chosen:
        chosen = [p for p in session.execute(select(*cols).order_by(PromiseRow.promise_id).limit(limit))
                  if p.promise_id not in shown]
    return [(p.promise_id, f"{p.city}: {p.politician}: {p.title}"[:160]) for p in chosen[:MAX_PROMISE_CHOICES]]


def _describe_terms(terms: dict) -> str:
    """The stored promise terms as one line: "by 2017-12-31 (до кінця 2017 року); 35 майданчик; all of: усі"."""
    parts = []
    if terms.get("deadline"):
        parts.append(f"by {terms['deadline']['end']} ({terms['deadline']['phrase']})")
    q = terms.get("quantity")
    if q:
        value = q["value"]
        parts.append(f"{int(value) if float(value).is_integer() else value} {q.get('unit_lemma') or ''}".strip())
    if terms.get("multiplier"):
        parts.append(f"×{terms['multiplier']:g}")
    if terms.get("scope_all"):
        parts.append("all of: " + ", ".join(terms.get("scope_words") or []))
    return "; ".join(parts)


def _card(index: int, pid: str, m: MatchRow | None, promises: dict[str, PromiseRow],
          human: dict[tuple[str, str, str], Decision], rows_by_id: dict[int, ReviewRow], lid: str) -> PromiseCard:
    p = promises.get(pid)
    vd = human.get((lid, "verdict", pid))
    md = human.get((lid, "match", pid))
    machine_verdict = m.verdict if m else None
    verdict = vd.human_value if vd else machine_verdict
    if md and md.human_value == "rejected":
        state = "rejected"
    elif vd:
        state = "confirmed" if m and vd.human_value == machine_verdict else "corrected"
    else:
        state = "suggested" if machine_verdict else "open"
    passage = ("", "", "")
    if m:
        text = m.passage_text or ""
        if m.evidence_start is not None and m.evidence_end is not None and m.passage_start is not None:
            a, b = m.evidence_start - m.passage_start, m.evidence_end - m.passage_start
            if 0 <= a < b <= len(text):
                passage = (text[:a], text[a:b], text[b:])
            else:
                passage = (text, "", "")
        else:
            passage = (text, "", "")
    alts = []
    if m:
        for alt in m.alternatives or []:
            if isinstance(alt, list | tuple) and len(alt) == 2:
                apid = str(alt[0])
                alts.append((apid, float(alt[1]), promises[apid].title if apid in promises else ""))
    return PromiseCard(
        index=index, promise_id=pid, title=p.title if p else "(promise not in the registry)",
        politician=p.politician if p else "", office=p.office if p else "", city=p.city if p else "",
        said_on=p.said_on.isoformat() if p and p.said_on else "", origin="machine" if m else "added",
        score=m.match_score if m else None,
        features=[(str(k), _fmt(v)) for k, v in (m.features or {}).items()] if m else [],
        alternatives=alts, near_tie=bool(m and m.near_tie), needs_review=bool(m and m.needs_review),
        passage=passage, page=m.passage_page if m else None, machine_verdict=machine_verdict,
        confidence=m.confidence if m else None,
        probabilities=sorted(((str(k), float(v)) for k, v in (m.probabilities or {}).items()), key=lambda kv: -kv[1])
        if m else [],
        model_version=m.model_version if m else None, verdict=verdict,
        verdict_by=_who(rows_by_id.get(vd.review_id)) if vd else None,
        match_state=md.human_value if md else None, state=state,
        explanation=(m.explanation or "") if m else "",
        as_of=m.as_of.isoformat() if m and m.as_of else "",
        terms=_describe_terms(p.terms) if p and p.terms else "",
        basis=vd.basis if vd else "", responses=list(vd.responses) if vd else [],
    )


def letter_state_json(view: LetterView) -> dict[str, Any]:
    """What the page script needs after a save to redraw the decision panels."""
    return {
        "version": view.version,
        "promises": [
            {"index": c.index, "promise_id": c.promise_id, "verdict": c.verdict, "state": c.state,
             "machine_verdict": c.machine_verdict, "match_state": c.match_state,
             "by": c.verdict_by.reviewer if c.verdict_by else None, "at": c.verdict_by.at if c.verdict_by else None,
             "basis": c.basis, "responses": [list(r) for r in c.responses]}
            for c in view.promises
        ],
        "fields": {f.name: f.value for f in view.fields},
        "closed": view.closed,
        "history": view.history[:20],
    }
