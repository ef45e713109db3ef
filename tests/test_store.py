"""The store on a real SQLite file and a real PostgreSQL server: migrations, idempotent upserts,
human decisions kept."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from pipeline.schema import (
    FieldValue,
    LetterFields,
    LetterResult,
    LetterText,
    Match,
    PageText,
    Passage,
    Status,
    TextSource,
    Update,
    Verdict,
    VerdictSuggestion,
    Word,
)
from pipeline.store import repo
from pipeline.store.db import Database, current_revision, head_revision
from pipeline.store.tables import MatchRow, ReviewRow, WordRow


def _result(verdict: Verdict = Verdict.IN_PROGRESS, city: str = "Рівне") -> LetterResult:
    page = PageText(1, "Рівненська міська рада\nРемонт завершено.", TextSource.OCR, 100, 100,
                    words=[Word("Рівненська", 0, 0, 10, 5, 91.0, 0, 0, 10)], ocr_confidence=91.0)
    text = LetterText("abcdef0123456789", [page])
    fields = LetterFields(sender_city=FieldValue(city, 0, 10, 1, 0.9), language=FieldValue("uk", confidence=1.0))
    passage = Passage(0, "Ремонт завершено.", 23, 40, 1)
    match = Match("P-1", 0.8, passage, {"city": True})
    sug = VerdictSuggestion(verdict, 0.7, {verdict.value: 0.7}, "Ремонт завершено.", 23, 40, "v-test")
    return LetterResult("abcdef0123456789", "ab" * 32, "a.png", Status.OK, text=text, fields=fields,
                        updates=[Update("abcdef0123456789", "P-1", match, sug)])


def test_migrations_reach_head(db_url: str) -> None:
    db = Database(db_url)
    assert current_revision(db.engine) == head_revision(db.engine)
    Database(db_url).close()  # a second open finds it at head and changes nothing
    assert current_revision(db.engine) == head_revision(db.engine)
    db.close()


def _sqlite_schema(path: Path) -> set[tuple[str, str, str, str]]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return set(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))


def test_the_committed_schema_snapshot_is_what_the_migrations_make() -> None:
    """A new migration without `python -m pipeline.store.snapshot` fails here (and, until then,
    new databases are made by the migrations: the snapshot lists the files it was made from)."""
    from pipeline.store import snapshot

    assert snapshot.load() == snapshot.make()


def test_a_new_sqlite_database_from_the_snapshot_equals_one_from_the_migrations(tmp_path: Path) -> None:
    from pipeline.store.db import make_engine, migrate, stored_revision

    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    for path, use_snapshot in ((fast, True), (slow, False)):
        engine = make_engine(path)
        migrate(engine, snapshot=use_snapshot)
        assert stored_revision(engine) == current_revision(engine) == head_revision(engine)
        engine.dispose()
    assert _sqlite_schema(fast) == _sqlite_schema(slow)  # tables, indexes, FTS table and triggers alike
    db = Database(fast)  # Alembic itself finds it at head: nothing to do
    result = _result()
    db.write(lambda s: repo.save_result(s, result, "r1"))
    with db.session() as s:
        assert s.scalar(text("SELECT count(*) FROM letters_fts WHERE letters_fts MATCH 'завершено'")) == 1
    db.close()


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    db = Database(tmp_path / "l.db")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def test_saving_again_replaces_rows_never_duplicates(db_url: str) -> None:
    db = Database(db_url)
    for _ in range(3):
        with db.session() as s:
            repo.save_result(s, _result())
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MatchRow)) == 1
        assert s.scalar(select(func.count()).select_from(WordRow)) == 1
        (row,) = repo.letter_records(s)
        assert row["sender_city"] == "Рівне" and row["status"] == "ok" and row["text_source"] == "ocr"


def test_human_decisions_survive_reprocessing_and_win_in_exports(db_url: str) -> None:
    db = Database(db_url)
    lid = "abcdef0123456789"
    with db.session() as s:
        repo.save_result(s, _result())
        s.add(ReviewRow(letter_id=lid, kind="verdict", key="P-1", machine_value="in_progress",
                        human_value="fulfilled", action="correct", reviewer="olena"))
        s.add(ReviewRow(letter_id=lid, kind="field", key="sender_city", machine_value="Рівне",
                        human_value="Луцьк", action="correct", reviewer="olena"))
    with db.session() as s:  # the pipeline runs again with a new machine suggestion
        repo.save_result(s, _result(Verdict.NOT_FULFILLED, city="Рівне"))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ReviewRow)) == 2
        (upd,) = repo.update_records(s)
        assert upd["verdict"] == "fulfilled" and upd["review_state"] == "corrected"
        (row,) = repo.letter_records(s)
        assert row["sender_city"] == "Луцьк"


def test_undo_restores_the_machine_value(db_url: str) -> None:
    db = Database(db_url)
    lid = "abcdef0123456789"
    with db.session() as s:
        repo.save_result(s, _result())
        first = ReviewRow(letter_id=lid, kind="verdict", key="P-1", machine_value="in_progress",
                          human_value="in_progress", action="accept", reviewer="ivan")
        s.add(first)
    with db.session() as s:
        (upd,) = repo.update_records(s)
        assert upd["review_state"] == "confirmed"
        s.add(ReviewRow(letter_id=lid, kind="verdict", key="P-1", action="undo", undoes=first.id, reviewer="ivan"))
    with db.session() as s:
        (upd,) = repo.update_records(s)
        assert upd["review_state"] == "suggested" and upd["verdict"] == "in_progress"


def test_peeking_at_the_done_letters_with_sqlite3_reads_what_the_store_reads(tmp_path: Path) -> None:
    """pipeline.store.peek answers before SQLAlchemy is imported; it must agree with repo."""
    from pipeline.store import peek

    path = tmp_path / "letters.db"
    assert peek.done_letters(path) == {}  # no database yet: nothing is done
    db = Database(path)
    ok = _result()
    failed = LetterResult("0123456789abcdef", "cd" * 32, "b.png", Status.FAILED, error="unreadable")
    review = _result()
    review.letter_id, review.sha256, review.source_file, review.status = "fedcba9876543210", "ef" * 32, "c.png", Status.NEEDS_REVIEW
    review.updates = []
    for r in (ok, failed, review):
        db.write(lambda s, r=r: repo.save_result(s, r, "run-1"))
    with db.session() as s:
        expected = repo.done_letters(s)
    db.close()
    assert set(expected) == {ok.letter_id, review.letter_id}
    assert peek.done_letters(path) == expected
    assert peek.done_letters("postgresql://nobody@localhost/none") is None  # a server: only the store can tell
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert peek.done_letters(tmp_path / "junk.db") is None
