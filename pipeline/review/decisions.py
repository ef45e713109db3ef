"""Write side of the review app: human decisions as append-only review rows.

Every save is guarded by the letter's ``version`` (optimistic lock): the save
names the version the reviewer saw; if another save came first, nothing is
written and :class:`Conflict` says who saved and when. All rows of one save share
one ``created_at``, so "undo" takes back exactly the reviewer's last save.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline.schema import FIELD_NAMES, Verdict
from pipeline.store.repo import ADJUDICATE, Decision, effective_decisions, own_responses
from pipeline.store.tables import FieldRow, LetterRow, MatchRow, PromiseRow, ReviewRow, utcnow

MATCH_VALUES = ("accepted", "rejected", "added")
# A letter-level decision: "no_promise" closes a letter that answers no promise of the registry.
LETTER_VALUES = ("no_promise",)
DATE_FIELDS = ("letter_date", "request_date")
NUMBER_FIELDS = ("outgoing_number", "request_number")
LANGUAGES = ("uk", "ru", "other")
_DMY = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
MAX_VALUE = 2000
MAX_NOTE = 2000


class DecisionError(ValueError):
    """A decision that cannot be applied (unknown field, verdict or promise)."""


class NotFound(LookupError):
    pass


@dataclass
class Conflict(Exception):
    current_version: int
    reviewer: str | None
    at: str | None

    def message(self) -> str:
        who = f" by {self.reviewer} at {self.at} UTC" if self.reviewer else ""
        return (f"This letter was changed{who} after you opened it, so your change was NOT saved. "
                "Reload the letter to see the current decisions, then decide again.")


@dataclass(frozen=True)
class DecisionIn:
    kind: str  # field | verdict | match
    key: str
    value: str | None
    note: str | None = None


def _bump_version(session: Session, letter_id: str, version: int) -> int:
    """Claim the next version of the letter or raise Conflict (atomic compare-and-set)."""
    res = session.execute(
        update(LetterRow)
        .where(LetterRow.letter_id == letter_id, LetterRow.version == version)
        .values(version=LetterRow.version + 1)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount == 1:
        return version + 1
    row = session.get(LetterRow, letter_id)
    if row is None:
        raise NotFound(letter_id)
    session.refresh(row)
    last = session.scalars(
        select(ReviewRow).where(ReviewRow.letter_id == letter_id).order_by(ReviewRow.id.desc()).limit(1)
    ).first()
    raise Conflict(row.version, last.reviewer if last else None,
                   last.created_at.strftime("%Y-%m-%d %H:%M:%S") if last else None)


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.replace("\x00", "").strip()
    return value[:limit] or None


def normalise_field(name: str, value: str | None) -> str | None:
    """The value a reviewer typed for field ``name``, checked and in the stored form: dates
    dd.mm.yyyy (or yyyy-mm-dd) become ISO and impossible dates are refused; numbers lose the
    "№" sign and extra spaces. Raises DecisionError with what is wrong."""
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        return None
    if name in DATE_FIELDS:
        m = _DMY.fullmatch(value)
        parts = (m.group(3), m.group(2), m.group(1)) if m else None
        if parts is None and (m := _YMD.fullmatch(value)):
            parts = (m.group(1), m.group(2), m.group(3))
        if parts is None:
            raise DecisionError(f"{name}: {value!r} is not a date; type dd.mm.yyyy")
        try:
            day = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            raise DecisionError(f"{name}: {value} is not a real date") from None
        if not 1900 <= day.year <= 2100:
            raise DecisionError(f"{name}: the year {day.year} is out of range")
        return day.isoformat()
    if name in NUMBER_FIELDS:
        value = re.sub(r"^(№|N[o°]?\.?)\s*", "", value)
        value = re.sub(r"\s*([/-])\s*", r"\1", value)
        if not value:
            return None
        if len(value) > 64:
            raise DecisionError(f"{name}: a number of at most 64 characters")
        return value
    if name == "language":
        value = value.casefold()
        if value not in LANGUAGES:
            raise DecisionError(f"language: one of {', '.join(LANGUAGES)}")
    return value


ADJUDICATOR_ROLES = ("adjudicator", "admin")


def save_decisions(session: Session, letter_id: str, version: int, reviewer: str,
                   decisions: list[DecisionIn], role: str = "reviewer") -> int:
    """Append one review row per decision (each reviewer's response is kept beside the others');
    returns the letter's new version. A decision of an adjudicator or admin on a disputed target
    is written as an adjudication, which then decides it.

    Raises NotFound, Conflict (stale version) or DecisionError (nothing is written then).
    """
    letter = session.get(LetterRow, letter_id)
    if letter is None:
        raise NotFound(letter_id)
    if letter.version != version:
        _bump_version(session, letter_id, version)  # raises Conflict: a stale view is the first thing to say
    if not decisions:
        raise DecisionError("nothing to save")
    matches = {m.promise_id: m for m in session.scalars(select(MatchRow).where(MatchRow.letter_id == letter_id))}
    fields = {f.name: f for f in session.scalars(select(FieldRow).where(FieldRow.letter_id == letter_id))}
    human = effective_decisions(session, [letter_id])
    added = {pid for (_, kind, pid), d in human.items() if kind == "match" and d.human_value == "added"}
    alternatives = {str(a[0]) for m in matches.values() for a in (m.alternatives or []) if a}
    pending_added = {d.key for d in decisions if d.kind == "match" and d.value == "added"}
    mine_now = own_responses(session, letter_id, reviewer)
    now = utcnow()
    rows: list[ReviewRow] = []
    for d in decisions:
        note = _clean(d.note, MAX_NOTE)
        if d.kind == "field":
            if d.key not in FIELD_NAMES:
                raise DecisionError(f"unknown field {d.key!r}")
            value = normalise_field(d.key, _clean(d.value, MAX_VALUE))
            f = fields.get(d.key)
            machine = f.value if f else None
            action = "accept" if value == machine else "correct"
            model_version = letter.model_version
        elif d.kind == "verdict":
            if d.value not in {v.value for v in Verdict}:
                raise DecisionError(f"unknown verdict {d.value!r}")
            m = matches.get(d.key)
            if m is None and d.key not in added and d.key not in pending_added:
                raise DecisionError(f"promise {d.key!r} is not matched to this letter")
            md = human.get((letter_id, "match", d.key))
            if md and md.human_value == "rejected" and d.key not in pending_added:
                raise DecisionError(f"the match of {d.key} was rejected: undo the rejection before judging it")
            value, machine = d.value, (m.verdict if m else None)
            action = "accept" if m is not None and value == machine else "correct"
            model_version = m.model_version if m else None
        elif d.kind == "match":
            if d.value not in MATCH_VALUES:
                raise DecisionError(f"unknown match decision {d.value!r}")
            m = matches.get(d.key)
            if d.value == "added":
                if m is not None:
                    raise DecisionError(f"promise {d.key!r} is already matched; accept it instead")
                if d.key not in alternatives and session.get(PromiseRow, d.key) is None:
                    raise DecisionError(f"unknown promise {d.key!r}")
            elif m is None and d.key not in added:
                raise DecisionError(f"promise {d.key!r} is not matched to this letter")
            value = d.value
            machine = "matched" if m is not None else None
            action = "accept" if value == "accepted" else "correct"
            model_version = m.model_version if m else None
        elif d.kind == "letter":
            if d.key != "status" or d.value not in LETTER_VALUES:
                raise DecisionError("a letter decision is status = no_promise")
            live = [pid for pid in matches if not _rejected(human, letter_id, pid)] + sorted(added)
            if live:
                raise DecisionError("this letter has matched promises: judge or reject them instead")
            value, machine, action, model_version = d.value, None, "correct", letter.model_version
        else:
            raise DecisionError(f"unknown decision kind {d.kind!r}")
        target = human.get((letter_id, d.kind, d.key))
        if role in ADJUDICATOR_ROLES and target is not None and target.basis in ("disputed", "adjudicated"):
            action = ADJUDICATE
        elif (d.kind, d.key) in mine_now and mine_now[(d.kind, d.key)] == value and note is None:
            continue  # the same decision again (a repeated key press) writes nothing
        rows.append(ReviewRow(letter_id=letter_id, kind=d.kind, key=d.key, machine_value=machine, human_value=value,
                              action=action, reviewer=reviewer, note=note, model_version=model_version,
                              created_at=now))
    if not rows:
        return version  # nothing new: the version stays, so the reviewer's view is still current
    new_version = _bump_version(session, letter_id, version)
    session.add_all(rows)
    session.flush()
    return new_version


def _rejected(human: dict[tuple[str, str, str], Decision], letter_id: str, pid: str) -> bool:
    d = human.get((letter_id, "match", pid))
    return bool(d and d.human_value == "rejected")


def undo_last(session: Session, letter_id: str, version: int, reviewer: str) -> tuple[int, list[int]]:
    """Undo ``reviewer``'s last save on the letter that is still in force: one undo row per
    row of that save. Returns (new version, ids undone). Raises DecisionError if none."""
    letter = session.get(LetterRow, letter_id)
    if letter is None:
        raise NotFound(letter_id)
    if letter.version != version:
        _bump_version(session, letter_id, version)  # raises Conflict
    rows = list(session.scalars(select(ReviewRow).where(ReviewRow.letter_id == letter_id).order_by(ReviewRow.id)))
    undone = {r.undoes for r in rows if r.action == "undo"}
    live = [r for r in rows if r.action != "undo" and r.id not in undone and r.reviewer == reviewer]
    if not live:
        raise DecisionError("nothing of yours to undo on this letter")
    last_at = live[-1].created_at
    target = [r for r in live if r.created_at == last_at]
    new_version = _bump_version(session, letter_id, version)
    now = utcnow()
    session.add_all(
        ReviewRow(letter_id=letter_id, kind=r.kind, key=r.key, machine_value=r.machine_value,
                  human_value=r.human_value, action="undo", undoes=r.id, reviewer=reviewer,
                  model_version=r.model_version, created_at=now)
        for r in target
    )
    session.flush()
    return new_version, [r.id for r in target]
