"""The review queue computed in SQL (issue 16): order, fuzzy filters, counts and pages from
``queue_letters``/``queue_terms`` on SQLite and PostgreSQL, checked against a plain-Python
reading of the same rows; queue rows following writes made behind the app's back; the reviewer
overlap setting (letters assigned per reviewer, overlapped letters waiting for both, kappa over
the overlapped letters)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select

from pipeline.bench.review_queue import fill
from pipeline.review import auth
from pipeline.review.agreement import scoped_agreement
from pipeline.review.commands import review as review_command
from pipeline.review.commands import set_review_overlap
from pipeline.review.queries import QueueFilters, build_queue, city_matches, name_matches, neighbours
from pipeline.store import queue as queue_store
from pipeline.store.db import Database
from pipeline.store.tables import MatchRow, QueueLetterRow, ReviewRow
from tests.test_review import _cheap_argon2 as _cheap_argon2  # noqa: F401  (autouse fixture)

LETTERS = 160


def _reference(rows: list[QueueLetterRow], terms: dict[str, dict[str, set[str]]], f: QueueFilters,
               found: set[str] | None) -> tuple[list[str], dict[str, int]]:
    """What the queue should be, worked out in Python from the queue rows (the old algorithm)."""
    def keep(r: QueueLetterRow) -> bool:
        t = terms.get(r.letter_id, {})
        return ((found is None or r.letter_id in found) and (not f.needs or r.needs_review)
                and (not f.city or any(city_matches(f.city, c) for c in r.cities))
                and (not f.politician or any(name_matches(f.politician, p) for p in r.politicians))
                and (not f.verdict or f.verdict in t.get("verdict", set()))
                and (not f.date_from or (r.letter_date and r.letter_date >= f.date_from))
                and (not f.date_to or (r.letter_date and r.letter_date <= f.date_to)))

    scope = [r for r in rows if keep(r)]
    counts = {"awaiting": 0, "reviewed": 0, "needs_review": 0, "failed": 0, "none": 0}
    for r in scope:
        counts[r.state] += 1
        counts["needs_review"] += int(r.needs_review and r.state == "awaiting")
    order = sorted((r for r in scope if f.state == "all" or r.state == f.state),
                   key=lambda r: (not r.needs_review, r.min_confidence if r.min_confidence is not None else 2.0,
                                  r.source_file, r.letter_id))
    return [r.letter_id for r in order], counts


@pytest.fixture
def filled(db_url: str, tmp_path: Path) -> str:
    fill(db_url, LETTERS, seed=3)
    return db_url


FILTERS = [
    QueueFilters(),
    QueueFilters(state="all"),
    QueueFilters(state="reviewed"),
    QueueFilters(politician="Гнатюк"),
    QueueFilters(politician="Игнатюк"),  # Russian spelling, one letter more
    QueueFilters(politician="олена коваленко", state="all"),
    QueueFilters(city="зелен"),
    QueueFilters(city="Кам'ян", needs="1"),
    QueueFilters(verdict="fulfilled", date_from="2024-03-01", date_to="2024-09-30"),
    QueueFilters(text="водогону", state="all"),
    QueueFilters(text="ремонт лікарні", city="Т"),
    QueueFilters(city="100%_"),  # LIKE wildcards are literal
]


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.params().items()) or "default")
def test_sql_queue_equals_the_python_reading(filled: str, f: QueueFilters) -> None:
    from pipeline.review.queries import text_search

    db = Database(filled)
    try:
        with db.session() as s:
            first = build_queue(s, f, limit=25)
            rows = list(s.scalars(select(QueueLetterRow)))
            terms: dict[str, dict[str, set[str]]] = {}
            for t in s.scalars(select(queue_store.QueueTermRow)):
                terms.setdefault(t.letter_id, {}).setdefault(t.kind, set()).add(t.term)
            found = text_search(s, f.text) if f.text else None
            want, counts = _reference(rows, terms, f, found)
            got = [i.letter_id for i in first.items]
            for page in range(2, first.pages + 1):
                got += [i.letter_id for i in build_queue(s, f, limit=25, page=page).items]
    finally:
        db.close()
    assert len(rows) == LETTERS
    assert first.counts == counts and first.total == len(want)
    assert got == want
    assert first.pages == max(1, -(-len(want) // 25))


def test_a_page_loads_only_its_own_rows(filled: str) -> None:
    loaded: list[str] = []

    def on_load(target: QueueLetterRow, _ctx: object) -> None:
        loaded.append(target.letter_id)

    db = Database(filled)
    event.listen(QueueLetterRow, "load", on_load)
    try:
        with db.session() as s:
            q = build_queue(s, QueueFilters(state="all"), limit=20, page=3)
            prev_id, next_id = neighbours(s, q.items[5].letter_id, QueueFilters(state="all"))
    finally:
        event.remove(QueueLetterRow, "load", on_load)
        db.close()
    assert q.total == LETTERS and len(q.items) == 20 and q.page == 3
    assert sorted(loaded) == sorted(i.letter_id for i in q.items)  # 20 rows read, not 160
    assert (prev_id, next_id) == (q.items[4].letter_id, q.items[6].letter_id)


def test_queue_rows_follow_writes_made_behind_the_apps_back(db_url: str) -> None:
    fill(db_url, 30, seed=5)
    db = Database(db_url)
    try:
        with db.session() as s:
            before = {i.letter_id: i for i in build_queue(s, QueueFilters(state="all"), limit=100).items}
            assert queue_store.is_fresh(s)
            m = s.scalars(select(MatchRow).join(QueueLetterRow, QueueLetterRow.letter_id == MatchRow.letter_id)
                          .where(QueueLetterRow.state == "awaiting", QueueLetterRow.promises == 1)).first()
            assert m is not None
            s.add(ReviewRow(letter_id=m.letter_id, kind="verdict", key=m.promise_id, machine_value=m.verdict,
                            human_value="not_fulfilled", action="correct", reviewer="ann",
                            created_at=dt.datetime(2026, 2, 1)))
        with db.session() as s:
            assert not queue_store.is_fresh(s)
            after = {i.letter_id: i for i in build_queue(s, QueueFilters(state="all"), limit=100).items}
            assert queue_store.is_fresh(s)
    finally:
        db.close()
    assert before[m.letter_id].state == "awaiting"
    assert after[m.letter_id].state == "reviewed" and after[m.letter_id].verdicts == ["not_fulfilled"]


def test_overlap_assigns_letters_and_overlapped_ones_wait_for_both(db_url: str) -> None:
    fill(db_url, 60, seed=9)
    db = Database(db_url)
    try:
        with db.session() as s:
            for name in ("ann", "ben"):
                auth.add_user(s, name, "reviewer", f"{name}-password-1")
            plain = build_queue(s, QueueFilters(), viewer="ann", limit=100)
            assert not plain.assigned and not any(i.assigned for i in plain.items)
            queue_store.set_overlap(s, 0.5)
        with db.session() as s:
            assigned = queue_store.assignment(s)
            assert assigned is not None and assigned.reviewers == ("ann", "ben")  # the admin is not assigned
            q = {who: build_queue(s, QueueFilters(state="all"), viewer=who, limit=100) for who in ("ann", "ben")}
            for who in ("ann", "ben"):
                flags = [i.assigned for i in q[who].items]
                assert flags == sorted(flags, reverse=True)  # the reviewer's own letters first
                assert {i.letter_id for i in q[who].items if i.assigned} == {
                    i.letter_id for i in q[who].items if who in assigned.reviewers_of(i.letter_id)}
            both = [i.letter_id for i in q["ann"].items if len(assigned.reviewers_of(i.letter_id)) == 2]
            one = [i.letter_id for i in q["ann"].items if len(assigned.reviewers_of(i.letter_id)) == 1]
            assert 0 < len(both) < 60 and one  # about half overlapped, deterministic per letter
            # ann answers every promise of an overlapped letter and of a letter that is hers alone.
            mine_alone = next(lid for lid in one if assigned.reviewers_of(lid) == ("ann",))
            targets = [lid for lid in both
                       if s.get(QueueLetterRow, lid).state == "awaiting"][:1] + [mine_alone]
            for lid in targets:
                for m in s.scalars(select(MatchRow).where(MatchRow.letter_id == lid)):
                    s.add(ReviewRow(letter_id=lid, kind="verdict", key=m.promise_id, machine_value=m.verdict,
                                    human_value="fulfilled", action="correct", reviewer="ann",
                                    created_at=dt.datetime(2026, 2, 1)))
        with db.session() as s:
            state = {who: {i.letter_id: i.state for i in build_queue(s, QueueFilters(state="all"), viewer=who,
                                                                       limit=100).items} for who in ("ann", "ben")}
            overlapped, alone = targets[0], targets[1]
            assert state["ann"][overlapped] == "reviewed" and state["ben"][overlapped] == "awaiting"
            assert state["ann"][alone] == state["ben"][alone] == "reviewed"  # nobody else is asked
            awaiting_ben = [i.letter_id for i in build_queue(s, QueueFilters(), viewer="ben", limit=100).items]
            assert overlapped in awaiting_ben and awaiting_ben.index(overlapped) < len(
                [i for i in awaiting_ben if "ben" in assigned.reviewers_of(i)])
            # ben answers the overlapped letter: now it is reviewed for both, and counts for kappa.
            for m in s.scalars(select(MatchRow).where(MatchRow.letter_id == overlapped)):
                s.add(ReviewRow(letter_id=overlapped, kind="verdict", key=m.promise_id, machine_value=m.verdict,
                                human_value="in_progress", action="correct", reviewer="ben",
                                created_at=dt.datetime(2026, 2, 2)))
            # Two responses on a letter outside the overlap do not count towards kappa.
            for who in ("ann", "ben"):
                m = s.scalars(select(MatchRow).where(MatchRow.letter_id == one[-1])).first()
                s.add(ReviewRow(letter_id=one[-1], kind="verdict", key=m.promise_id, machine_value=m.verdict,
                                human_value="fulfilled", action="correct", reviewer=who,
                                created_at=dt.datetime(2026, 2, 3)))
        with db.session() as s:
            state_ben = {i.letter_id: i.state for i in build_queue(s, QueueFilters(state="all"), viewer="ben",
                                                                  limit=100).items}
            assert state_ben[overlapped] != "awaiting"
            rows, scope = scoped_agreement(s)
            pair = next(r for r in rows if r.scope == "pair")
            assert scope.overlap == pytest.approx(0.5) and pair.items >= 1
            queue_store.set_overlap(s, None)
        with db.session() as s:
            _rows_all, scope_all = scoped_agreement(s)
            assert scope_all.overlap is None and scope_all.letters > scope.letters  # one[-1] counts again
    finally:
        db.close()


def test_review_command_stores_the_overlap(tmp_path: Path) -> None:
    path = tmp_path / "letters.db"
    Database(path).close()
    set_review_overlap(str(path), 0.2)
    db = Database(path)
    with db.session() as s:
        assert queue_store.get_overlap(s) == pytest.approx(0.2)
    db.close()
    set_review_overlap(str(path), None)
    db = Database(path)
    with db.session() as s:
        assert queue_store.get_overlap(s) is None
    db.close()
    r = CliRunner().invoke(review_command, ["--db", str(path), "--overlap", "1.5"])
    assert r.exit_code == 2 and "1.5" in r.output
