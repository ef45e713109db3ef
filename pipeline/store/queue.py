"""The review queue's table: one row per letter with what the queue orders and filters on.

The effective state of a letter follows from every reviewer's responses (undo, agreement,
adjudication: :func:`pipeline.store.repo.effective_decisions`), which SQL cannot reasonably
re-derive per request. So it is worked out here once per change of the letter, and the queue
itself (order, filters, counts, pages) is one SQL query over ``queue_letters`` and
``queue_terms``. A row records what it was built from (letter version and processing time,
highest review and match ids): :func:`refresh_stale` finds rows that no longer match in one
query and rebuilds only those, so rows written by any path (a run, the app, a script) stay right.

Reviewer assignment (the overlap setting) is computed in SQL from ``bucket``, a number taken
from the letter id: no assignment table to keep in step, and the same answer in every process.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, case, delete, exists, false, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.store.repo import Decision, effective_decisions
from pipeline.store.tables import (
    FieldRow,
    LetterRow,
    MatchRow,
    PromiseRow,
    QueueLetterRow,
    QueueTermRow,
    ReviewRow,
    SettingRow,
    UserRow,
)

LOGIC_VERSION = "1"  # bump when what a row holds changes: every row is rebuilt once
LOGIC_KEY = "queue_logic_version"
FINGERPRINT_KEY = "queue_fingerprint"
OVERLAP_KEY = "review_overlap"
ASSIGNED_ROLES = ("reviewer",)  # who gets letters assigned; adjudicators and admins see the plain order
OVERLAP_SCALE = 1000  # overlap share resolution: bucket % 1000 < share * 1000
REFRESH_CHUNK = 500
TERM_MAX = 255

# Ukrainian and Russian spellings of one name differ in a few letters (Іваненко / Иваненко,
# Зеленодольськ / Зеленодольск): both sides are folded before comparing.
_FOLD = str.maketrans({"і": "и", "ї": "и", "ы": "и", "й": "и", "є": "е", "э": "е", "ё": "е", "ґ": "г",
                       "ь": None, "ъ": None, "'": None, "ʼ": None, "’": None, "`": None})


def fold(text: str) -> str:
    """Case and Ukrainian/Russian spelling folded, for fuzzy filters."""
    return " ".join(text.casefold().translate(_FOLD).split())


def bucket_of(letter_id: str) -> int:
    """A stable number in [0, 2**31) from the letter id, the same in every process."""
    return int(hashlib.sha256(letter_id.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


# --- settings ------------------------------------------------------------------------


def get_setting(session: Session, key: str) -> str | None:
    row = session.get(SettingRow, key)
    return row.value if row else None


def set_setting(session: Session, key: str, value: str | None) -> None:
    row = session.get(SettingRow, key)
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(SettingRow(key=key, value=value))
    else:
        row.value = value


def get_overlap(session: Session) -> float | None:
    """The share of letters assigned to two reviewers, or None: no assignment at all."""
    raw = get_setting(session, OVERLAP_KEY)
    try:
        return min(1.0, max(0.0, float(raw))) if raw is not None else None
    except ValueError:
        return None


def set_overlap(session: Session, share: float | None) -> None:
    if share is not None and not 0.0 <= share <= 1.0:
        raise ValueError("the overlap is a share between 0 and 1")
    set_setting(session, OVERLAP_KEY, None if share is None else f"{share:.3f}")


@dataclass(frozen=True)
class Assignment:
    """Who the letters are assigned to: reviewers in name order; a letter goes to
    ``(bucket // 1000) % n``, and, when ``bucket % 1000 < cut``, also to the next one."""

    reviewers: tuple[str, ...]
    cut: int  # overlap share x 1000

    def index(self, name: str) -> int | None:
        return self.reviewers.index(name) if name in self.reviewers else None

    def primary(self) -> ColumnElement[Any]:
        return (QueueLetterRow.bucket // OVERLAP_SCALE) % len(self.reviewers)

    def overlapped(self) -> ColumnElement[bool]:
        return (QueueLetterRow.bucket % OVERLAP_SCALE) < self.cut

    def mine(self, name: str) -> ColumnElement[bool]:
        i = self.index(name)
        if i is None:
            return false()
        n = len(self.reviewers)
        return or_(self.primary() == i, and_(self.overlapped(), (self.primary() + 1) % n == i))

    def reviewers_of(self, letter_id: str) -> tuple[str, ...]:
        b, n = bucket_of(letter_id), len(self.reviewers)
        first = (b // OVERLAP_SCALE) % n
        if b % OVERLAP_SCALE < self.cut and n > 1:
            return self.reviewers[first], self.reviewers[(first + 1) % n]
        return (self.reviewers[first],)

    def is_overlapped(self, letter_id: str) -> bool:
        return bucket_of(letter_id) % OVERLAP_SCALE < self.cut


def assignment(session: Session) -> Assignment | None:
    """The assignment in force, or None when no overlap is set (or nobody has the reviewer role)."""
    share = get_overlap(session)
    if share is None:
        return None
    names = tuple(session.scalars(select(UserRow.name).where(UserRow.active.is_(True), UserRow.role.in_(ASSIGNED_ROLES))
                                  .order_by(UserRow.name)))
    if not names:
        return None
    return Assignment(names, round(share * OVERLAP_SCALE))


# --- building rows -------------------------------------------------------------------


@dataclass
class _Built:
    row: dict[str, Any]
    terms: list[tuple[str, str, str]]  # (kind, term, label)


def _is_closed(human: dict[tuple[str, str, str], Decision], lid: str) -> bool:
    d = human.get((lid, "letter", "status"))
    return bool(d and d.human_value == "no_promise")


def letter_state(status: str, lid: str, keys: list[str], human: dict[tuple[str, str, str], Decision],
                 any_decision: bool) -> tuple[str, int]:
    """failed | reviewed | awaiting | none (nothing suggested, nothing flagged, nobody looked)."""
    if status == "failed":
        return "failed", 0
    decided = sum(1 for pid in keys if (lid, "verdict", pid) in human)
    if not keys and _is_closed(human, lid):
        return "reviewed", 0  # a reviewer said the letter answers no promise
    # Reviewed: a human has looked (some decision in force) and every live pair has a verdict.
    if any_decision and decided == len(keys):
        return "reviewed", decided
    if not keys and status != "needs_review" and not any_decision:
        return "none", 0
    return "awaiting", decided


def _build(session: Session, ids: list[str]) -> list[_Built]:
    letters = session.execute(select(LetterRow.letter_id, LetterRow.source_file, LetterRow.status, LetterRow.error,
                                     LetterRow.version, LetterRow.processed_at)
                              .where(LetterRow.letter_id.in_(ids))).all()
    matches: dict[str, list[Any]] = defaultdict(list)
    for m in session.execute(
        select(MatchRow.id, MatchRow.letter_id, MatchRow.promise_id, MatchRow.verdict, MatchRow.confidence,
               MatchRow.model_version, MatchRow.needs_review).where(MatchRow.letter_id.in_(ids))
        .order_by(MatchRow.passage_index, MatchRow.promise_id)
    ):
        matches[m.letter_id].append(m)
    fields: dict[str, dict[str, str | None]] = defaultdict(dict)
    for f in session.execute(select(FieldRow.letter_id, FieldRow.name, FieldRow.value)
                             .where(FieldRow.letter_id.in_(ids), FieldRow.name.in_(("letter_date", "sender_city")))):
        fields[f.letter_id][f.name] = f.value
    human = effective_decisions(session, ids)
    review_mark = dict(session.execute(select(ReviewRow.letter_id, func.max(ReviewRow.id))
                                       .where(ReviewRow.letter_id.in_(ids)).group_by(ReviewRow.letter_id)).all())
    added_by: dict[str, list[str]] = defaultdict(list)
    for (lid, kind, pid), d in human.items():
        if kind == "match" and d.human_value == "added" and pid not in {m.promise_id for m in matches[lid]}:
            added_by[lid].append(pid)
    wanted = {m.promise_id for ms in matches.values() for m in ms} | {p for ps in added_by.values() for p in ps}
    promises = {p.promise_id: p for p in session.execute(
        select(PromiseRow.promise_id, PromiseRow.politician, PromiseRow.city)
        .where(PromiseRow.promise_id.in_(sorted(wanted))))} if wanted else {}
    looked_at = {k[0] for k in human}
    out: list[_Built] = []
    for letter in letters:
        lid = letter.letter_id

        def eff(name: str, lid: str = lid) -> str:
            d = human.get((lid, "field", name))
            return (d.human_value if d else fields[lid].get(name)) or ""

        mine = matches[lid]
        live = [m for m in mine if not ((d := human.get((lid, "match", m.promise_id))) and d.human_value == "rejected")]
        added = sorted(added_by[lid])
        keys = [m.promise_id for m in live] + added
        state, decided = letter_state(letter.status, lid, keys, human, lid in looked_at)
        politicians = sorted({promises[p].politician for p in keys if p in promises and promises[p].politician})
        city = eff("sender_city")
        cities = sorted({city} | {promises[p].city for p in keys if p in promises} - {""})
        verdicts = []
        for m in live:
            d = human.get((lid, "verdict", m.promise_id))
            if v := (d.human_value if d else m.verdict):
                verdicts.append(v)
        for pid in added:
            if d := human.get((lid, "verdict", pid)):
                verdicts.append(d.human_value or "")
        # Order keys from the machine's output only, so a letter keeps its place while it is reviewed.
        confs = [m.confidence for m in mine if m.confidence is not None]
        needs = letter.status == "needs_review" or any(m.needs_review for m in mine)
        # Who has answered every promise of the letter (or closed it): for per-reviewer overlap queues.
        targets = [(lid, "verdict", pid) for pid in keys] or [(lid, "letter", "status")]
        responder_sets = [{who for who, v in human[t].responses if v} if t in human else set() for t in targets]
        responders = set.intersection(*responder_sets) if responder_sets else set()
        terms = {("city", fold(c)[:TERM_MAX], c) for c in cities}
        terms |= {("politician", fold(p)[:TERM_MAX], p) for p in politicians}
        terms |= {("verdict", v, v) for v in verdicts if v}
        terms |= {("responder", who[:TERM_MAX], who) for who in responders}
        out.append(_Built({
            "letter_id": lid, "source_file": letter.source_file, "status": letter.status,
            "reasons": letter.error or "", "letter_date": eff("letter_date")[:10], "sender_city": city,
            "politicians": politicians, "cities": cities, "verdicts": verdicts,
            "model_versions": sorted({m.model_version for m in live if m.model_version}),
            "promises": len(keys), "decided": decided, "min_confidence": min(confs) if confs else None,
            "order_conf": min(confs) if confs else 2.0, "needs_review": needs, "order_needs": 0 if needs else 1,
            "state": state, "touched": lid in looked_at,
            "complete": bool(mine) and all(m.verdict and m.confidence is not None for m in mine),
            "bucket": bucket_of(lid), "version": letter.version, "processed_at": letter.processed_at,
            "review_mark": int(review_mark.get(lid) or 0), "match_mark": max((m.id for m in mine), default=0),
        }, sorted(terms)))
    return out


def refresh(session: Session, letter_ids: Iterable[str]) -> int:
    """Rebuild the queue rows of these letters (in the caller's transaction). Returns how many."""
    ids = sorted(set(letter_ids))
    done = 0
    for i in range(0, len(ids), REFRESH_CHUNK):
        part = ids[i:i + REFRESH_CHUNK]
        built = _build(session, part)
        # Delete and insert: a concurrent refresh of the same letter is serialised by the row lock.
        session.execute(delete(QueueTermRow).where(QueueTermRow.letter_id.in_(part)))
        session.execute(delete(QueueLetterRow).where(QueueLetterRow.letter_id.in_(part)))
        if built:
            session.execute(QueueLetterRow.__table__.insert(), [b.row for b in built])
            terms = [{"letter_id": b.row["letter_id"], "kind": k, "term": t, "label": label}
                     for b in built for k, t, label in b.terms]
            if terms:
                session.execute(QueueTermRow.__table__.insert(), terms)
        done += len(built)
    return done


def stale_letters(session: Session) -> list[str]:
    """Letters whose queue row is missing or was built from other inputs than the stored ones."""
    reviews = (select(ReviewRow.letter_id.label("lid"), func.max(ReviewRow.id).label("mark"))
               .group_by(ReviewRow.letter_id).subquery())
    matches = (select(MatchRow.letter_id.label("lid"), func.max(MatchRow.id).label("mark"))
               .group_by(MatchRow.letter_id).subquery())
    q = (select(LetterRow.letter_id)
         .outerjoin(QueueLetterRow, QueueLetterRow.letter_id == LetterRow.letter_id)
         .outerjoin(reviews, reviews.c.lid == LetterRow.letter_id)
         .outerjoin(matches, matches.c.lid == LetterRow.letter_id)
         .where(or_(QueueLetterRow.letter_id.is_(None),
                    QueueLetterRow.version != LetterRow.version,
                    QueueLetterRow.processed_at.is_distinct_from(LetterRow.processed_at),
                    QueueLetterRow.review_mark != func.coalesce(reviews.c.mark, 0),
                    QueueLetterRow.match_mark != func.coalesce(matches.c.mark, 0))))
    return list(session.scalars(q))


def fingerprint(session: Session) -> str:
    """What the queue rows were built from, in three cheap aggregates: letters (count, versions,
    latest processing), the highest review id and the highest match id. Equal to the stored one:
    no row can be stale, and the per-letter comparison of :func:`stale_letters` is skipped."""
    n, versions, latest = session.execute(select(func.count(), func.coalesce(func.sum(LetterRow.version), 0),
                                                 func.max(LetterRow.processed_at))).one()
    review = session.scalar(select(func.max(ReviewRow.id)))
    match = session.scalar(select(func.max(MatchRow.id)))
    return f"{LOGIC_VERSION}|{n}|{versions}|{latest}|{review or 0}|{match or 0}"


def is_fresh(session: Session) -> bool:
    return get_setting(session, FINGERPRINT_KEY) == fingerprint(session)


def refresh_stale(session: Session) -> int:
    """Bring every queue row up to date (all of them after a change of LOGIC_VERSION)."""
    if get_setting(session, LOGIC_KEY) != LOGIC_VERSION:
        session.execute(delete(QueueTermRow))
        session.execute(delete(QueueLetterRow))
        set_setting(session, LOGIC_KEY, LOGIC_VERSION)
        session.flush()
    elif is_fresh(session):
        return 0
    ids = stale_letters(session)
    done = refresh(session, ids) if ids else 0
    set_setting(session, FINGERPRINT_KEY, fingerprint(session))
    return done


def refresh_letter(session: Session, letter_id: str, was_fresh: bool) -> None:
    """Rebuild one letter's row after a change to it; if every row was current before the change,
    they all are now: record that, so the next queue page need not look for stale rows."""
    refresh(session, [letter_id])
    if was_fresh:
        session.flush()
        set_setting(session, FINGERPRINT_KEY, fingerprint(session))


def letters_of_promises(session: Session, promise_ids: Iterable[str]) -> list[str]:
    """Letters whose queue row shows one of these promises (matched, or added by a reviewer)."""
    ids = sorted(set(promise_ids))
    if not ids:
        return []
    found: set[str] = set()
    for i in range(0, len(ids), REFRESH_CHUNK):
        part = ids[i:i + REFRESH_CHUNK]
        found |= set(session.scalars(select(MatchRow.letter_id).where(MatchRow.promise_id.in_(part))))
        found |= set(session.scalars(select(ReviewRow.letter_id).where(ReviewRow.kind == "match",
                                                                        ReviewRow.key.in_(part))))
    found.discard("")
    return sorted(found)


def responded(name: str) -> ColumnElement[bool]:
    """``name`` has answered every promise of the queue row's letter."""
    return exists(select(literal(1)).where(QueueTermRow.letter_id == QueueLetterRow.letter_id,
                                           QueueTermRow.kind == "responder", QueueTermRow.term == name))


def viewer_state(assigned: Assignment | None, name: str) -> ColumnElement[str]:
    """The letter's state as ``name`` sees it: an overlapped letter assigned to them waits for their
    own answer even after the other reviewer finished it, so agreement can be measured."""
    if assigned is None or assigned.index(name) is None:
        return QueueLetterRow.state
    return case((and_(QueueLetterRow.state == "reviewed", assigned.overlapped(), assigned.mine(name),
                      ~responded(name)), literal("awaiting")), else_=QueueLetterRow.state)


def mine_first(assigned: Assignment | None, name: str) -> ColumnElement[int]:
    """0 for letters assigned to ``name`` (they come first), 1 for the others."""
    if assigned is None or assigned.index(name) is None:
        return literal(0, Integer)
    return case((assigned.mine(name), literal(0, Integer)), else_=literal(1, Integer))
