"""Reading and writing the pipeline's data. The rest of the code never writes SQL.

Writes are idempotent upserts keyed by ``letter_id`` (from the file's SHA-256):
processing a letter again replaces its machine rows in one transaction and
leaves every human review untouched.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, delete, insert, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.schema import FIELD_NAMES, LetterResult, Promise, ReviewState, Status
from pipeline.stages.ocr_cache import page_to_json
from pipeline.store.tables import (
    Base,
    DraftedTextRow,
    FieldRow,
    LetterRow,
    MatchRow,
    OcrCacheRow,
    PageRow,
    PromiseRow,
    ReviewRow,
    RunRow,
    WordRow,
    utcnow,
)

if TYPE_CHECKING:
    from pipeline.store.db import Database

PROMISE_CHUNK = 500  # promises per transaction: a big registry never holds the write lock for long
# A 300-page scan has ~30,000 words: as ORM objects they cost the runner ~80 MB while it saves
# the letter, as plain rows inserted a chunk at a time a few MB.
WORD_ROWS_PER_INSERT = 5000
PAGES_PER_INSERT = 50

LETTER_COLUMNS = (
    "letter_id",
    "source_file",
    "sha256",
    "pages",
    "language",
    "text_source",
    "ocr_confidence",
    "letter_date",
    "outgoing_number",
    "sender_org",
    "sender_city",
    "signatory_name",
    "signatory_position",
    "request_date",
    "request_number",
    "addressee",
    "subject",
    "executor",
    "status",
    "error",
)
UPDATE_COLUMNS = ("letter_id", "promise_id", "match_score", "verdict", "confidence", "evidence", "review_state",
                  "as_of", "explanation", "reviewer", "decided_at", "machine_verdict", "machine_confidence",
                  "passage_index", "passage_start", "passage_end", "evidence_start", "evidence_end", "passage")
# decisions.*: every review row as written (undo rows and undone rows included, rejected matches too).
DECISION_COLUMNS = ("review_id", "letter_id", "kind", "key", "action", "machine_value", "human_value",
                    "machine_confidence", "reviewer", "decided_at", "note", "model_version", "undoes", "in_force")


def upsert_promises(session: Session, promises: Iterable[Promise],
                    terms_of: Callable[[Promise], dict[str, Any]] | None = None) -> int:
    """Insert or update the registry; ``terms_of`` reads a promise's terms (deadline, quantity, scope),
    called only for promises that are new, changed, or stored without terms."""
    n = 0
    promises = list(promises)
    # Only these promises' rows: store_promises calls this per chunk of a registry of any size.
    ids = [p.promise_id for p in promises]
    existing = {r.promise_id: r for r in session.scalars(select(PromiseRow).where(PromiseRow.promise_id.in_(ids)))}
    for p in promises:
        old = existing.get(p.promise_id)
        same = old is not None and (old.politician, old.office, old.city, old.said_on, old.title, old.description,
                                    old.lang) == (p.politician, p.office, p.city, p.said_on, p.title, p.description,
                                                  p.lang)
        if same and (old.terms is not None or terms_of is None):
            continue
        row = old or PromiseRow(promise_id=p.promise_id)
        row.politician, row.office, row.city, row.said_on = p.politician, p.office, p.city, p.said_on
        row.title, row.description, row.lang = p.title, p.description, p.lang
        row.terms = terms_of(p) if terms_of else None
        if old is None:
            session.add(row)
        n += 1
    if n:
        # A promise's politician or city shows in the queue rows of its letters: rebuild those.
        from pipeline.store import queue

        session.flush()
        queue.refresh(session, queue.letters_of_promises(session, [p.promise_id for p in promises]))
    return n


_PROMISE_FIELDS = ("politician", "office", "city", "said_on", "title", "description", "lang")


def store_promises(db: Database, promises: Iterable[Promise], chunk: int = PROMISE_CHUNK,
                   terms_of: Callable[[Promise], dict[str, Any]] | None = None) -> int:
    """Save the registry: only promises that are new or changed (or, with ``terms_of``, stored
    without terms), in short transactions of ``chunk`` through :func:`upsert_promises`, so a big
    registry never holds the write lock for long. Returns how many were written."""
    cols = [getattr(PromiseRow, f) for f in _PROMISE_FIELDS]
    with db.session() as s:
        stored = {row[0]: (tuple(row[1:-1]), row[-1] is not None)
                  for row in s.execute(select(PromiseRow.promise_id, *cols, PromiseRow.terms))}

    def unchanged(p: Promise) -> bool:
        old = stored.get(p.promise_id)
        return (old is not None and old[0] == tuple(getattr(p, f) for f in _PROMISE_FIELDS)
                and (old[1] or terms_of is None))

    changed = [p for p in promises if not unchanged(p)]
    extra = {"terms_of": terms_of} if terms_of is not None else {}
    for i in range(0, len(changed), chunk):
        part = changed[i:i + chunk]
        for attempt in range(3):
            try:
                db.write(lambda s, part=part: upsert_promises(s, part, **extra), "saving the promise registry")
                break
            except IntegrityError:  # another run inserted one of these at the same moment: now it is an update
                if attempt == 2:
                    raise
    return len(changed)


def _no_terms() -> Any:
    # SQL NULL, or a JSON null (what an ORM assignment of None stores in a JSON column)
    return or_(PromiseRow.terms.is_(None), cast(PromiseRow.terms, String) == "null")


def promises_without_terms(session: Session) -> list[str]:
    """Ids of stored promises whose terms are not read yet (new or changed since)."""
    return list(session.scalars(select(PromiseRow.promise_id).where(_no_terms()).order_by(PromiseRow.promise_id)))


def store_terms(db: Database, terms: dict[str, dict[str, Any]], chunk: int = PROMISE_CHUNK) -> int:
    """Save promises' terms read elsewhere (a worker), in short transactions; a promise whose row
    got terms meanwhile (another run) is left as it is. Returns how many were written."""
    items = sorted(terms.items())
    written = 0

    def save(s: Session, part: list[tuple[str, dict[str, Any]]]) -> int:
        rows = {r.promise_id: r for r in s.scalars(select(PromiseRow).where(
            PromiseRow.promise_id.in_([pid for pid, _ in part]), _no_terms()))}
        for pid, value in part:
            if pid in rows:
                rows[pid].terms = value
        return len(rows)

    for i in range(0, len(items), chunk):
        part = items[i:i + chunk]
        written += db.write(lambda s, part=part: save(s, part), "saving the promises' terms")
    return written


def load_promises(session: Session) -> list[Promise]:
    return [
        Promise(r.promise_id, r.politician, r.office, r.city, r.said_on, r.title, r.description, r.lang)
        for r in session.scalars(select(PromiseRow).order_by(PromiseRow.promise_id))
    ]


def done_letters(session: Session) -> dict[str, str]:
    """letter_id -> sha256 of letters already processed without failure."""
    rows = session.execute(
        select(LetterRow.letter_id, LetterRow.sha256).where(LetterRow.status != Status.FAILED.value)
    )
    return {lid: sha for lid, sha in rows}


def unfinished_runs(session: Session) -> list[RunRow]:
    """Runs that never finished and are not marked interrupted (running now, or killed)."""
    q = select(RunRow).where(RunRow.finished_at.is_(None), RunRow.status.is_(None) | (RunRow.status == "running"))
    return list(session.scalars(q))


def letters_under(session: Session, folder: Path) -> list[str]:
    """Letters whose (first) file lies under ``folder``."""
    root = folder.resolve()
    return [lid for lid, paths in session.execute(select(LetterRow.letter_id, LetterRow.source_paths))
            if paths and Path(paths[0]).resolve().is_relative_to(root)]


def letter_texts(session: Session, letter_ids: list[str]) -> list[tuple[str, str | None]]:
    rows = session.execute(select(LetterRow.letter_id, LetterRow.text).where(LetterRow.letter_id.in_(letter_ids)))
    return [(lid, text) for lid, text in rows]


def keep_drafted_texts(session: Session, texts: dict[str, str]) -> None:
    """Store promise-page texts by key (:class:`pipeline.lang.draft.Drafts`): a worker's, an export's."""
    _upsert(session, DraftedTextRow, [{"key": key, "text": text} for key, text in texts.items()], "key")


def _upsert(session: Session, model: type[Base], rows: list[dict[str, Any]], key: str) -> None:
    """Insert these rows, or replace the stored ones with the same ``key``: one statement where the
    database has INSERT … ON CONFLICT (SQLite, PostgreSQL), else the ORM's merge."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        stmt = dialect_insert(model.__table__)
        updates = {c: stmt.excluded[c] for c in rows[0] if c != key}
        session.execute(stmt.on_conflict_do_update(index_elements=[key], set_=updates), rows)
    else:
        for row in rows:
            session.merge(model(**row))
    _forget(session, model, {row[key] for row in rows})


def _forget(session: Session, model: type[Base], keys: set[str]) -> None:
    """Expire this session's copies of rows just written by an upsert (SQL the ORM does not
    follow), so a later read in the same transaction sees the new values, not the ones it loaded."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and inspect(obj).identity[0] in keys:
            session.expire(obj)


_MACHINE_TABLES = (WordRow, PageRow, FieldRow, MatchRow)


def save_result(session: Session, result: LetterResult, run_id: str | None = None) -> None:
    """Replace the machine rows of one letter with this result (reviews are kept).

    Written as plain rows (SQLAlchemy Core), not ORM objects: the runner saves every letter of a
    batch one after the other, and a born-digital letter is read faster than the ORM saves it."""
    lid = result.letter_id
    for model in _MACHINE_TABLES:  # ORM deletes and update: the session's loaded copies follow them
        session.execute(delete(model).where(model.letter_id == lid))
    text = result.text
    versions = {u.suggestion.model_version for u in result.updates if u.suggestion}
    letter = {
        "sha256": result.sha256,
        "source_file": result.source_file,
        "source_paths": [str(f.path.resolve()) for f in result.letter.files] if result.letter else [],
        "kind": result.letter.kind.value if result.letter else None,
        "pages": len(text.pages) if text else 0,
        "language": result.fields.language.value if result.fields else None,
        "text_source": text.text_source.value if text and text.text_source else None,
        "ocr_confidence": text.ocr_confidence if text else None,
        "status": result.status.value,
        "error": result.error,
        "text": text.full_text if text else None,
        "model_version": ",".join(sorted(versions)) or None,
        "run_id": run_id,
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "processed_at": utcnow(),
    }
    # The reviewers' optimistic version stays as it is: only a human save bumps it.
    if not session.execute(update(LetterRow).where(LetterRow.letter_id == lid).values(letter)).rowcount:
        session.execute(insert(LetterRow.__table__).values(letter_id=lid, version=1, **letter))
    keep_drafted_texts(session, result.drafts)
    if text:
        offsets = text.page_offsets()
        cached = [{"key": page.cache_key, "page": page_to_json(page, offset), "created_at": utcnow()}
                  for page, offset in zip(text.pages, offsets, strict=True) if page.cache_key and not page.from_cache]
        _upsert(session, OcrCacheRow, cached, "key")
        pages = ({"letter_id": lid, "page_no": page.page_no, "source": page.source.value, "width": page.width,
                  "height": page.height, "ocr_confidence": page.ocr_confidence,
                  "low_confidence_share": page.low_confidence_share, "rotation": page.rotation, "text": page.text}
                 for page in text.pages)
        # in chunks: a long scan's pages (and its ~30,000 words) are never all held as rows at once
        while chunk := list(itertools.islice(pages, PAGES_PER_INSERT)):
            session.execute(insert(PageRow.__table__), chunk)
        words = (
            {"letter_id": lid, "page_no": page.page_no, "text": w.text, "left": w.left, "top": w.top, "width": w.width,
             "height": w.height, "conf": w.conf, "line": w.line, "start": w.start, "end": w.end}
            for page in text.pages
            for w in page.words
        )
        while chunk := list(itertools.islice(words, WORD_ROWS_PER_INSERT)):
            session.execute(insert(WordRow.__table__), chunk)
    if result.fields:
        fields = [{"letter_id": lid, "name": name, "value": fv.value, "start": fv.start, "end": fv.end,
                   "page": fv.page, "confidence": fv.confidence, "boxes": [list(b) for b in fv.boxes]}
                  for name, fv in result.fields.items()]
        if fields:
            session.execute(insert(FieldRow.__table__), fields)
    matches = []
    for u in result.updates:
        m, sug = u.match, u.suggestion
        matches.append({
            "letter_id": lid,
            "promise_id": u.promise_id,
            "match_score": round(m.score, 4),
            "passage_index": m.passage.index,
            "passage_text": m.passage.text,
            "passage_start": m.passage.start,
            "passage_end": m.passage.end,
            "passage_page": m.passage.page,
            "features": _jsonable(m.features),
            "alternatives": [[pid, round(s, 4)] for pid, s in m.alternatives],
            "near_tie": m.near_tie,
            "verdict": sug.verdict.value if sug else None,
            "confidence": round(sug.confidence, 4) if sug else None,
            "probabilities": {k: round(v, 4) for k, v in sug.probabilities.items()} if sug else {},
            "evidence": sug.evidence if sug else None,
            "evidence_start": sug.evidence_start if sug else None,
            "evidence_end": sug.evidence_end if sug else None,
            "model_version": sug.model_version if sug else None,
            "needs_review": u.needs_review,
            "as_of": sug.as_of if sug else None,
            "facts": _jsonable(sug.facts) if sug else None,
            "explanation": sug.explanation if sug else None,
        })
    if matches:  # in the order of the updates: a match's id orders the queue and the export
        session.execute(insert(MatchRow.__table__), matches)
    from pipeline.store import queue  # the queue row follows the new machine output at once

    queue.refresh(session, [lid])


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


# --- human decisions ------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The decision in force for one (letter, kind, key), from every reviewer's own response
    (Argilla's model): the adjudicated value, else the value all reviewers agree on, else the
    latest response, then flagged ``disputed`` for the adjudication queue."""

    review_id: int
    human_value: str | None
    machine_value: str | None
    reviewer: str
    action: str
    at: dt.datetime | None = None
    basis: str = "single"  # single | agreed | adjudicated | disputed
    responses: tuple[tuple[str, str | None], ...] = ()  # (reviewer, value) of each reviewer's response in force

    @property
    def disputed(self) -> bool:
        return self.basis == "disputed"


ADJUDICATE = "adjudicate"


def effective_decisions(session: Session, letter_ids: Iterable[str] | None = None) -> dict[tuple[str, str, str], Decision]:
    """(letter_id, kind, key) -> the decision in force (undone rows drop out); see :class:`Decision`."""
    q = select(ReviewRow).order_by(ReviewRow.id)
    if letter_ids is not None:
        q = q.where(ReviewRow.letter_id.in_(list(letter_ids)))
    rows = list(session.scalars(q))
    undone = {r.undoes for r in rows if r.action == "undo" and r.undoes is not None}
    latest: dict[tuple[str, str, str], dict[str, ReviewRow]] = defaultdict(dict)  # target -> reviewer -> row
    adjudicated: dict[tuple[str, str, str], ReviewRow] = {}
    for r in rows:
        if r.action == "undo" or r.id in undone:
            continue
        key = (r.letter_id, r.kind, r.key)
        if r.action == ADJUDICATE:
            adjudicated[key] = r
        else:
            mine = latest[key]
            mine.pop(r.reviewer, None)  # re-inserted last: dict order is the order of latest responses
            mine[r.reviewer] = r
    out: dict[tuple[str, str, str], Decision] = {}
    for key in set(latest) | set(adjudicated):
        mine = latest.get(key, {})
        responses = tuple((who, row.human_value) for who, row in sorted(mine.items(), key=lambda kv: kv[1].id))
        if key in adjudicated:
            chosen, basis = adjudicated[key], "adjudicated"
        else:
            chosen = max(mine.values(), key=lambda row: row.id)
            values = {v for _, v in responses}
            basis = "single" if len(responses) == 1 else ("agreed" if len(values) == 1 else "disputed")
        out[key] = Decision(chosen.id, chosen.human_value, chosen.machine_value, chosen.reviewer, chosen.action,
                            chosen.created_at, basis, responses)
    return out


def own_responses(session: Session, letter_id: str, reviewer: str) -> dict[tuple[str, str], str | None]:
    """(kind, key) -> ``reviewer``'s own response in force on the letter (adjudications included)."""
    rows = list(session.scalars(select(ReviewRow).where(ReviewRow.letter_id == letter_id).order_by(ReviewRow.id)))
    undone = {r.undoes for r in rows if r.action == "undo" and r.undoes is not None}
    out: dict[tuple[str, str], str | None] = {}
    for r in rows:
        if r.action != "undo" and r.id not in undone and r.reviewer == reviewer:
            out[(r.kind, r.key)] = r.human_value
    return out


# --- records --------------------------------------------------------------------


def letter_records(session: Session, letter_ids: Iterable[str] | None = None) -> list[dict[str, object]]:
    """One dict per letter in LETTER_COLUMNS order, with effective (human else machine) field values."""
    ids = list(letter_ids) if letter_ids is not None else None
    q = select(LetterRow).order_by(LetterRow.source_file, LetterRow.letter_id)
    if ids is not None:
        q = q.where(LetterRow.letter_id.in_(ids))
    letters = list(session.scalars(q))
    fq = select(FieldRow)
    if ids is not None:
        fq = fq.where(FieldRow.letter_id.in_(ids))
    machine: dict[str, dict[str, str | None]] = defaultdict(dict)
    for f in session.scalars(fq):
        machine[f.letter_id][f.name] = f.value
    human = effective_decisions(session, ids)
    reviewed = reviewed_letters(session, human, ids)
    out = []
    for row in letters:
        values: dict[str, object] = {
            "letter_id": row.letter_id,
            "source_file": row.source_file,
            "sha256": row.sha256,
            "pages": row.pages,
            "text_source": row.text_source,
            "ocr_confidence": row.ocr_confidence,
            "status": row.status,
            "error": row.error,
        }
        for name in FIELD_NAMES:
            decision = human.get((row.letter_id, "field", name))
            values[name] = decision.human_value if decision else machine[row.letter_id].get(name)
        if row.letter_id in reviewed:
            values["status"] = REVIEWED
        out.append({c: values.get(c) for c in LETTER_COLUMNS})
    return out


def update_records(session: Session, letter_ids: Iterable[str] | None = None) -> list[dict[str, object]]:
    """One dict per (letter, promise) pair with the effective verdict and its review state."""
    ids = list(letter_ids) if letter_ids is not None else None
    q = select(MatchRow).join(LetterRow, LetterRow.letter_id == MatchRow.letter_id)
    q = q.order_by(LetterRow.source_file, MatchRow.letter_id, MatchRow.passage_index, MatchRow.promise_id)
    if ids is not None:
        q = q.where(MatchRow.letter_id.in_(ids))
    human = effective_decisions(session, ids)
    out = []
    seen: set[tuple[str, str]] = set()
    for m in session.scalars(q):
        if (d := human.get((m.letter_id, "match", m.promise_id))) and d.human_value == "rejected":
            continue
        seen.add((m.letter_id, m.promise_id))
        decision = human.get((m.letter_id, "verdict", m.promise_id))
        verdict, confidence, state = m.verdict, m.confidence, ReviewState.SUGGESTED.value
        reviewer = decided_at = None
        if decision:
            verdict = decision.human_value
            confidence = 1.0
            state = (ReviewState.CONFIRMED if decision.human_value == m.verdict else ReviewState.CORRECTED).value
            reviewer, decided_at = decision.reviewer, _iso(decision.at)
        out.append(
            {
                "letter_id": m.letter_id,
                "promise_id": m.promise_id,
                "match_score": m.match_score,
                "verdict": verdict,
                "confidence": confidence,
                "evidence": m.evidence,
                "review_state": state,
                "as_of": m.as_of.isoformat() if m.as_of else None,
                "explanation": m.explanation,
                "reviewer": reviewer,
                "decided_at": decided_at,
                "machine_verdict": m.verdict,
                "machine_confidence": m.confidence,
                # where in the letter's text (text/<letter_id>.txt) the passage and the evidence are
                "passage_index": m.passage_index,
                "passage_start": m.passage_start,
                "passage_end": m.passage_end,
                "evidence_start": m.evidence_start,
                "evidence_end": m.evidence_end,
                "passage": m.passage_text,
            }
        )
    # Pairs a reviewer added that the machine did not suggest.
    for (lid, kind, pid), d in sorted(human.items()):
        if kind != "match" or d.human_value != "added" or (lid, pid) in seen:
            continue
        if ids is not None and lid not in ids:
            continue
        v = human.get((lid, "verdict", pid))
        out.append(
            {
                "letter_id": lid,
                "promise_id": pid,
                "match_score": None,
                "verdict": v.human_value if v else None,
                "confidence": 1.0 if v else None,
                "evidence": None,
                "review_state": ReviewState.CORRECTED.value,
                "reviewer": v.reviewer if v else d.reviewer,
                "decided_at": _iso(v.at if v else d.at),
            }
        )
    return out


REVIEWED = "reviewed"


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


def reviewed_letters(session: Session, human: dict[tuple[str, str, str], Decision],
                     letter_ids: list[str] | None = None) -> set[str]:
    """Letters a human has finished: every promise still matched (not rejected, or added by a
    reviewer) has a verdict in force that reviewers do not dispute, or the letter was closed as
    answering no promise."""
    q = select(MatchRow.letter_id, MatchRow.promise_id)
    if letter_ids is not None:
        q = q.where(MatchRow.letter_id.in_(letter_ids))
    keys: dict[str, set[str]] = defaultdict(set)
    for lid, pid in session.execute(q):
        d = human.get((lid, "match", pid))
        if not (d and d.human_value == "rejected"):
            keys[lid].add(pid)
    looked = {k[0] for k in human}
    for (lid, kind, pid), d in human.items():
        if kind == "match" and d.human_value == "added":
            keys[lid].add(pid)
    done = set()
    for lid in looked:
        pids = keys.get(lid, set())
        if pids:
            if all((lid, "verdict", pid) in human and not human[(lid, "verdict", pid)].disputed for pid in pids):
                done.add(lid)
        elif (d := human.get((lid, "letter", "status"))) and d.human_value == "no_promise":
            done.add(lid)
    return done


def decision_records(session: Session, letter_ids: Iterable[str] | None = None) -> list[dict[str, object]]:
    """Every review row in DECISION_COLUMNS order, oldest first; ``in_force`` says whether the row
    is the decision in force for its (letter, kind, key)."""
    ids = list(letter_ids) if letter_ids is not None else None
    q = select(ReviewRow).order_by(ReviewRow.id)
    if ids is not None:
        q = q.where(ReviewRow.letter_id.in_(ids))
    rows = list(session.scalars(q))
    live = {d.review_id for d in effective_decisions(session, ids).values()}
    mq = select(MatchRow.letter_id, MatchRow.promise_id, MatchRow.confidence)
    if ids is not None:
        mq = mq.where(MatchRow.letter_id.in_(ids))
    conf = {(lid, pid): c for lid, pid, c in session.execute(mq)}
    return [
        {"review_id": r.id, "letter_id": r.letter_id, "kind": r.kind, "key": r.key, "action": r.action,
         "machine_value": r.machine_value, "human_value": r.human_value,
         "machine_confidence": conf.get((r.letter_id, r.key)) if r.kind in ("verdict", "match") else None,
         "reviewer": r.reviewer, "decided_at": _iso(r.created_at), "note": r.note,
         "model_version": r.model_version, "undoes": r.undoes, "in_force": r.id in live}
        for r in rows
    ]
