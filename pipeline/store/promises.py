"""Promise pages from the store: the answers behind each promise with effective verdicts and
fields, reviewers' edits of the drafted text, and the per-run status snapshots.

Draft edits are human decisions like any other: append-only ``reviews`` rows with kind
``sources_draft`` / ``result_draft``, key = promise_id and ``letter_id`` = :data:`PROMISE_SCOPE`
(they belong to a promise, not to a letter). A re-run never touches them; the page and the exports
show the reviewer's text in force, and the machine's current draft beside it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pipeline.lang.draft import Drafts
from pipeline.stages.promise_page import (
    DRAFT_KINDS,
    Answer,
    PromiseInfo,
    PromisePage,
    apply_draft_edits,
    as_date,
    build_pages,
)
from pipeline.store import repo
from pipeline.store.tables import DraftedTextRow, LetterRow, MatchRow, PromiseRow, ReviewRow, RunRow, utcnow

PROMISE_SCOPE = ""  # reviews.letter_id of decisions about a promise as a whole
MAX_DRAFT = 20000


class DraftConflict(Exception):
    """Another reviewer saved this draft after the page was opened."""

    def __init__(self, current_id: int | None, reviewer: str | None) -> None:
        super().__init__("draft changed")
        self.current_id = current_id
        self.reviewer = reviewer

    def message(self) -> str:
        who = f" by {self.reviewer}" if self.reviewer else ""
        return (f"This draft was changed{who} after you opened the page, so your edit was NOT saved. "
                "Reload the page, then edit again.")


def promise_infos(session: Session, ids: Iterable[str] | None = None) -> list[PromiseInfo]:
    q = select(PromiseRow).order_by(PromiseRow.promise_id)
    if ids is not None:
        q = q.where(PromiseRow.promise_id.in_(list(ids)))
    return [PromiseInfo(r.promise_id, r.politician or "", r.office or "", r.city or "", r.title, r.lang or "uk")
            for r in session.scalars(q)]


def answers(session: Session, promise_ids: Iterable[str] | None = None) -> list[Answer]:
    """Every (letter, promise) pair in force, with effective fields and verdicts."""
    updates = repo.update_records(session)
    if promise_ids is not None:
        wanted = set(promise_ids)
        updates = [u for u in updates if u["promise_id"] in wanted]
    letter_ids = sorted({str(u["letter_id"]) for u in updates})
    letters = {str(r["letter_id"]): r for r in repo.letter_records(session, letter_ids)} if letter_ids else {}
    as_of = {
        (lid, pid): when
        for lid, pid, when in session.execute(
            select(MatchRow.letter_id, MatchRow.promise_id, MatchRow.as_of).where(MatchRow.letter_id.in_(letter_ids))
        )
    } if letter_ids else {}
    out = []
    for u in updates:
        lid, pid = str(u["letter_id"]), str(u["promise_id"])
        letter = letters.get(lid)
        if letter is None or letter.get("status") == "failed":
            continue
        state = str(u["review_state"])
        out.append(Answer(
            letter_id=lid,
            promise_id=pid,
            letter_date=as_date(letter.get("letter_date")),
            as_of=as_date(as_of.get((lid, pid))),
            sender_org=_text(letter.get("sender_org")),
            signatory_position=_text(letter.get("signatory_position")),
            signatory_name=_text(letter.get("signatory_name")),
            language=_text(letter.get("language")),
            source_file=str(letter.get("source_file") or ""),
            verdict=_text(u.get("verdict")),
            verdict_source="human" if state in ("confirmed", "corrected") else "machine",
            review_state=state,
            evidence=_text(u.get("evidence")),
            match_score=u.get("match_score"),  # type: ignore[arg-type]
        ))
    return out


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def draft_edits(session: Session) -> dict[tuple[str, str], tuple[int, str, str]]:
    """(promise_id, kind) -> (review id, text, reviewer) of the draft edit in force."""
    decisions = repo.effective_decisions(session, [PROMISE_SCOPE])
    return {
        (key, kind): (d.review_id, d.human_value or "", d.reviewer)
        for (_, kind, key), d in decisions.items()
        if kind in DRAFT_KINDS and d.human_value is not None
    }


def draft_machine_values(session: Session) -> dict[tuple[str, str], str | None]:
    """(promise_id, kind) -> the machine's draft at the time of the edit in force."""
    decisions = repo.effective_decisions(session, [PROMISE_SCOPE])
    return {(key, kind): d.machine_value for (_, kind, key), d in decisions.items() if kind in DRAFT_KINDS}


def promise_pages(session: Session, promise_ids: Iterable[str] | None = None,
                  drafts: Drafts | None = None) -> list[PromisePage]:
    """The pages of the promises (all of them without ``promise_ids``), their texts drafted with
    ``drafts`` (by default, those the store kept: see :func:`keep_drafts`)."""
    ids = list(promise_ids) if promise_ids is not None else None
    if drafts is None:  # a few pages (the review app's) look theirs up one by one
        drafts = kept_drafts(session) if ids is None else Drafts(fetch=lambda key: _kept_text(session, key))
    pages = build_pages(promise_infos(session, ids), answers(session, ids), drafts)
    edits = draft_edits(session)
    out = []
    for page in pages:
        mine = {kind: (text, who) for (pid, kind), (_, text, who) in edits.items() if pid == page.promise.promise_id}
        out.append(apply_draft_edits(page, mine))
    return out


def kept_drafts(session: Session) -> Drafts:
    """The drafted texts the store keeps (a row per line or paragraph of the current pages)."""
    return Drafts(known={key: text for key, text in session.execute(select(DraftedTextRow.key, DraftedTextRow.text))})


def _kept_text(session: Session, key: str) -> str | None:
    row = session.get(DraftedTextRow, key)
    return row.text if row is not None else None


def keep_drafts(session: Session, drafts: Drafts, whole: bool) -> None:
    """Store the texts ``drafts`` made; with ``whole`` (the pages of every promise were drafted with
    it), also let go those nobody asked for (fields corrected since, the drafting changed)."""
    repo.keep_drafted_texts(session, drafts.made)
    if whole:
        gone = [k for k in drafts.known if k not in drafts.used]
        for i in range(0, len(gone), 500):
            session.execute(delete(DraftedTextRow).where(DraftedTextRow.key.in_(gone[i:i + 500])))


def promise_records(session: Session) -> list[dict[str, object]]:
    return [p.record() for p in promise_pages(session)]


def save_draft(session: Session, promise_id: str, kind: str, text: str, reviewer: str,
               seen_review_id: int | None, note: str | None = None) -> int:
    """Append a reviewer's edit of a promise's draft; returns the new review id.

    ``seen_review_id`` is the id of the edit in force when the page was opened (None if none):
    if another edit came since, nothing is written and :class:`DraftConflict` is raised.
    """
    if kind not in DRAFT_KINDS:
        raise ValueError(f"unknown draft kind {kind!r}")
    if session.get(PromiseRow, promise_id) is None:
        raise LookupError(promise_id)
    current = draft_edits(session).get((promise_id, kind))
    if (current[0] if current else None) != seen_review_id:
        raise DraftConflict(current[0] if current else None, current[2] if current else None)
    machine = promise_pages(session, [promise_id])[0]
    machine_text = machine.machine_sources_draft if kind == "sources_draft" else machine.machine_result_draft
    value = text.replace("\x00", "").replace("\r\n", "\n").strip()[:MAX_DRAFT]
    row = ReviewRow(letter_id=PROMISE_SCOPE, kind=kind, key=promise_id, machine_value=machine_text,
                    human_value=value, action="accept" if value == machine_text else "correct",
                    reviewer=reviewer, note=(note or None), created_at=utcnow())
    session.add(row)
    session.flush()
    return row.id


def undo_draft(session: Session, promise_id: str, kind: str, reviewer: str, seen_review_id: int | None) -> None:
    """Take back the edit in force (an undo row), returning the page to the earlier edit or the machine's."""
    current = draft_edits(session).get((promise_id, kind))
    if current is None or current[0] != seen_review_id:
        raise DraftConflict(current[0] if current else None, current[2] if current else None)
    row = session.get(ReviewRow, current[0])
    assert row is not None
    if row.reviewer != reviewer:
        raise PermissionError(f"the edit in force is {row.reviewer}'s; save a new edit instead")
    session.add(ReviewRow(letter_id=PROMISE_SCOPE, kind=kind, key=promise_id, machine_value=row.machine_value,
                          human_value=row.human_value, action="undo", undoes=row.id, reviewer=reviewer,
                          created_at=utcnow()))
    session.flush()


# --- status snapshots per run --------------------------------------------------------


def record_status_snapshot(session: Session, run_id: str, pages: list[PromisePage]) -> None:
    """Keep each promise's status at the end of the run with the run (for "changed in the latest run")."""
    run = session.get(RunRow, run_id)
    if run is None:
        return
    report = dict(run.report or {})
    report["promise_status"] = {p.promise.promise_id: p.status for p in pages}
    run.report = report


def status_changes(session: Session) -> tuple[str | None, list[tuple[str, str, str]]]:
    """(latest run id, [(promise_id, status before, status after)]) between the latest run that
    recorded statuses and the one before it (before the first run every promise had no answer)."""
    runs = [r for r in session.scalars(select(RunRow).order_by(RunRow.started_at, RunRow.run_id))
            if isinstance(r.report, dict) and isinstance(r.report.get("promise_status"), dict)]
    if not runs:
        return None, []
    latest = runs[-1].report["promise_status"]
    before = runs[-2].report["promise_status"] if len(runs) > 1 else {}
    changes = [(pid, str(before.get(pid, "no_answer")), str(status))
               for pid, status in sorted(latest.items()) if before.get(pid, "no_answer") != status]
    return runs[-1].run_id, changes


def letter_promise_ids(session: Session, letter_id: str) -> list[str]:
    return list(session.scalars(select(MatchRow.promise_id).where(MatchRow.letter_id == letter_id)))


def letter_exists(session: Session, letter_id: str) -> bool:
    return session.get(LetterRow, letter_id) is not None
