"""Concurrent writers on one database, on a real SQLite file and a real PostgreSQL server.

Two first runs on a new database used to race each other's migrations ("table letters already
exists", "alembic_version already exists") 4 times in 10; a writer that met a long lock died
with a `database is locked` traceback; a registry upsert rewrote every promise in one long
transaction.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from pipeline.errors import DatabaseBusy
from pipeline.schema import Promise
from pipeline.store import repo
from pipeline.store.db import Database, current_revision, head_revision
from pipeline.store.tables import PromiseRow, RunRow
from tests import badinputs as bad

REPETITIONS = 20


def _together(targets: list[Callable[[], None]]) -> list[str]:
    """Run each target in its own forked process, released at the same instant; the errors they hit."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(targets))
    errors = ctx.Queue()

    def main(target: Callable[[], None]) -> None:
        barrier.wait()
        try:
            target()
        except BaseException:
            errors.put(traceback.format_exc())
            raise SystemExit(1) from None

    procs = [ctx.Process(target=main, args=(t,)) for t in targets]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    out = []
    while not errors.empty():
        out.append(errors.get())
    out += [f"exit code {p.exitcode}" for p in procs if p.exitcode != 0 and not out]
    return out


def test_two_first_opens_of_a_new_database_both_succeed(new_db: Callable[[], str]) -> None:
    for rep in range(REPETITIONS):
        url = new_db()

        def open_db(url: str = url) -> None:
            Database(url).close()

        errors = _together([open_db, open_db])
        assert not errors, f"repetition {rep}: {errors[0]}"
        db = Database(url)
        assert current_revision(db.engine) == head_revision(db.engine)
        db.close()


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


@pytest.mark.slow
def test_two_first_runs_and_a_users_add_at_once_all_succeed(new_db: Callable[[], str], tmp_path: Path,
                                                             models_dir: Path) -> None:
    """20 repetitions of two `letters run` on a new database at once (plus `users add` in a few)."""
    from pipeline.api import run_batch
    from pipeline.review import auth
    from pipeline.settings import Settings

    inbox = tmp_path / "in"
    inbox.mkdir()
    registry = bad.write_registry(tmp_path / "promises.csv")
    settings = Settings(models_dir=models_dir)
    for rep in range(REPETITIONS):
        url = new_db()

        def run(k: int, url: str = url, rep: int = rep) -> Callable[[], None]:
            return lambda: run_batch(inbox, registry, tmp_path / f"out-{rep}-{k}", url, settings, workers=1)

        def add_user(url: str = url) -> None:
            db = Database(url)
            with db.session() as s:
                auth.add_user(s, "olena", "reviewer", "a-long-password-1")
            db.close()

        targets = [run(0), run(1)] + ([add_user] if rep % 4 == 0 else [])
        errors = _together(targets)
        assert not errors, f"repetition {rep}: {errors[0]}"
        db = Database(url)
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(RunRow)) == 2
            assert s.scalar(select(func.count()).select_from(PromiseRow)) == 4
        db.close()


def _hold_sqlite_write_lock(path: Path, seconds: float, started: threading.Event) -> None:
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    started.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def _hold_pg_table_locks(url: str, seconds: float, started: threading.Event) -> None:
    """What another writer (a long import, a backup restoring) does on PostgreSQL: it holds the
    tables' exclusive locks in an open transaction."""
    import psycopg

    from pipeline.store.db import database_url

    conninfo = database_url(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        conn.execute("LOCK TABLE promises, runs IN ACCESS EXCLUSIVE MODE")
        started.set()
        time.sleep(seconds)
        conn.rollback()


def _hold_lock(db_url: str, seconds: float, started: threading.Event) -> threading.Thread:
    if "://" in db_url:
        holder = threading.Thread(target=_hold_pg_table_locks, args=(db_url, seconds, started))
    else:
        holder = threading.Thread(target=_hold_sqlite_write_lock, args=(Path(db_url), seconds, started))
    holder.start()
    assert started.wait(10)
    return holder


def test_writer_retries_a_lock_held_past_the_busy_timeout(db_url: str) -> None:
    db = Database(db_url, busy_timeout_s=0.2, write_retries=6)
    holder = _hold_lock(db_url, 1.5, threading.Event())
    try:
        n = db.write(lambda s: repo.upsert_promises(s, [Promise("P-1", "Х", "голова", "Рівне", None, "Ремонт", "", "uk")]))
    finally:
        holder.join()
    assert n == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(PromiseRow)) == 1
    db.close()


def test_writer_reports_a_lock_that_never_ends_clearly(db_url: str) -> None:
    db = Database(db_url, busy_timeout_s=0.1, write_retries=2)
    holder = _hold_lock(db_url, 4.0, threading.Event())
    try:
        with pytest.raises(DatabaseBusy) as info:
            db.write(lambda s: s.add(RunRow(run_id="r1", input_dir="x", report={})), "starting the run")
    finally:
        holder.join()
    msg = str(info.value)
    assert "\n" not in msg and "locked by another writer" in msg and db.name in msg and "starting the run" in msg
    db.close()


def test_registry_upsert_writes_only_changed_promises_in_short_chunks(db_url: str) -> None:
    db = Database(db_url)
    promises = [Promise(f"P-{i}", "Петро", "голова", "Рівне", None, f"Обіцянка {i}", "", "uk") for i in range(1200)]
    assert repo.store_promises(db, promises, chunk=500) == 1200
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    changed = list(promises)
    changed[7] = Promise("P-7", "Петро", "голова", "Рівне", None, "Обіцянка 7, нова назва", "", "uk")
    assert repo.store_promises(db, changed, chunk=500) == 1
    assert sum(1 for q in statements if q.lstrip().upper().startswith("UPDATE")) == 1
    assert sum(1 for q in statements if q.lstrip().upper().startswith("INSERT")) == 0
    statements.clear()
    assert repo.store_promises(db, changed, chunk=500) == 0  # nothing changed: nothing written
    assert not any(q.lstrip().upper().startswith(("UPDATE", "INSERT")) for q in statements)
    with db.session() as s:
        assert s.get(PromiseRow, "P-7").title == "Обіцянка 7, нова назва"
        assert s.scalar(select(func.count()).select_from(PromiseRow)) == 1200
    db.close()


def test_registry_upsert_commits_each_chunk_on_its_own(db_url: str) -> None:
    db = Database(db_url)
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda conn: commits.append(1))
    promises = [Promise(f"P-{i}", "Петро", "голова", "Рівне", None, f"Обіцянка {i}", "", "uk") for i in range(1200)]
    repo.store_promises(db, promises, chunk=500)
    assert len(commits) == 1 + 3  # one read, then 500 + 500 + 200: no writer waits behind one long transaction
    db.close()


def test_a_migration_that_fails_halfway_leaves_nothing_behind(db_url: str) -> None:
    """Migrations run in one transaction (SQLite too: DDL is transactional there once BEGIN is
    explicit): a crash in the middle of a migration leaves the schema as it was, and the next
    open migrates cleanly instead of failing on "table letters already exists"."""
    from sqlalchemy import inspect

    from pipeline.store.db import make_engine, migrate

    engine = make_engine(db_url)

    def fail_at_users(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("CREATE TABLE USERS"):
            raise RuntimeError("power cut")

    event.listen(engine, "before_cursor_execute", fail_at_users)
    with pytest.raises(RuntimeError, match="power cut"):
        migrate(engine)
    event.remove(engine, "before_cursor_execute", fail_at_users)
    assert current_revision(engine) is None
    assert "letters" not in inspect(engine).get_table_names()
    migrate(engine)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
