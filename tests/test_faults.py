"""A batch under hostile conditions: missing programs, bad settings, full disks, read-only places,
stale runs and long locks. Each gives a one-line message and its own exit code, before any
letter where it can be known in advance; a fault in the middle keeps what was committed and
marks the run interrupted with the reason.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import pipeline.api as api
from pipeline.api import STALE_REASON, run_batch
from pipeline.cli import main
from pipeline.errors import ExitCode, OutOfSpace, RunInterrupted
from pipeline.settings import Settings
from pipeline.store.db import Database
from pipeline.store.tables import LetterRow, RunRow
from tests import badinputs as bad
from tests import faults


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def _error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def _letters_in(db: Path | str) -> int:
    d = Database(db)
    try:
        with d.session() as s:
            return s.scalar(select(func.count()).select_from(LetterRow))
    finally:
        d.close()


def _run_args(inbox: Path, registry: Path, out: Path, models: Path, *extra: str) -> list[str]:
    return ["run", str(inbox), "--promises", str(registry), "--out", str(out), "--models", str(models),
            "--workers", "1", *extra]


# --- pre-flight ---------------------------------------------------------------------


def test_tesseract_missing_stops_the_run_before_any_letter(tmp_path: Path, models_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, registry = faults.small_batch(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, output = _cli(_run_args(inbox, registry, tmp_path / "out", models_dir))
    assert code == ExitCode.missing_dependency == 5
    assert "tesseract is not installed" in _error_line(output)
    assert not (tmp_path / "out" / "letters.db").exists()  # nothing was touched


def test_tesseract_without_a_language_stops_the_run(tmp_path: Path, models_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, registry = faults.small_batch(tmp_path)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "tesseract").write_text('#!/bin/sh\nprintf "List of available languages (2):\\neng\\nosd\\n"\n')
    (fake / "tesseract").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    code, output = _cli(_run_args(inbox, registry, tmp_path / "out", models_dir))
    line = _error_line(output)
    assert code == ExitCode.missing_dependency
    assert "no language data for ukr, rus" in line and "tesseract-ocr-ukr" in line


@pytest.mark.parametrize(("var", "value", "says"), [
    ("LETTERS_WORKERS", "abc", "expected a whole number"),
    ("LETTERS_OCR_TIMEOUT_S", "-5", "must be greater than 0"),
    ("LETTERS_MATCH_THRESHOLD", "1.5", "between 0 and 1"),
    ("LETTERS_OCR_PREPARE", "perhaps", "expected true or false"),
])
def test_bad_setting_is_one_line_naming_the_variable(tmp_path: Path, models_dir: Path, var: str, value: str,
                                                     says: str) -> None:
    inbox, registry = faults.small_batch(tmp_path)
    code, output = _cli(_run_args(inbox, registry, tmp_path / "out", models_dir), env={var: value})
    line = _error_line(output)
    assert code == ExitCode.bad_setting
    assert var in line and says in line


def test_output_path_that_is_a_file(tmp_path: Path, models_dir: Path) -> None:
    inbox, registry = faults.small_batch(tmp_path)
    (tmp_path / "out").write_text("x")
    code, output = _cli(_run_args(inbox, registry, tmp_path / "out", models_dir))
    assert code == ExitCode.output_not_writable and "is a file" in _error_line(output)


def test_too_little_free_space_stops_before_any_letter(tmp_path: Path, models_dir: Path) -> None:
    inbox, registry = faults.small_batch(tmp_path)
    code, output = _cli(_run_args(inbox, registry, tmp_path / "out", models_dir),
                        env={"LETTERS_MIN_FREE_MB": str(10**12)})
    assert code == ExitCode.out_of_space and "LETTERS_MIN_FREE_MB" in _error_line(output)


def test_read_only_output_folder(tmp_path: Path, models_dir: Path) -> None:
    inbox, registry = faults.small_batch(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with faults.read_only(out):
        code, output = _cli(_run_args(inbox, registry, out, models_dir))
        assert code == ExitCode.output_not_writable and "read-only file system" in _error_line(output)
        code, output = _cli(["export", "--db", str(tmp_path / "nothing.db"), "--out", str(out)])
        assert code == ExitCode.database_unavailable and "database not found" in _error_line(output)


def test_read_only_database_refuses_a_run_but_export_and_review_read_it(tmp_path: Path, models_dir: Path) -> None:
    inbox, registry = faults.small_batch(tmp_path)
    dbdir = tmp_path / "db"
    db = dbdir / "letters.db"
    run_batch(inbox, registry, tmp_path / "out", db, Settings(models_dir=models_dir), workers=1)
    with faults.read_only(dbdir):
        assert not Path(f"{db}-shm").exists()  # closed cleanly: SQLite must open it without its WAL index
        code, output = _cli(_run_args(inbox, registry, tmp_path / "out2", models_dir, "--db", str(db)))
        assert code == ExitCode.database_not_writable and "read-only" in _error_line(output)
        code, output = _cli(["export", "--db", str(db), "--out", str(tmp_path / "exported")])
        assert code == 0, output
        assert len(pd.read_csv(tmp_path / "exported" / "letters.csv")) == 3

        from fastapi.testclient import TestClient

        from pipeline.review.app import create_app

        with TestClient(create_app(db, secret_key="k" * 40, readonly=True)) as client:
            assert client.get("/login").status_code == 200


# --- faults during a run ------------------------------------------------------------


def test_disk_full_mid_batch_stops_cleanly_and_a_rerun_finishes(tmp_path: Path, models_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, registry = faults.small_batch(tmp_path, n=4)
    with faults.tmpfs(tmp_path / "disk", 8) as disk:
        out = disk / "out"
        calls = {"n": 0}
        filler: list[Path] = []
        original = api.write_text_file

        def fill_after_first(out_dir: Path, text) -> None:  # noqa: ANN001
            calls["n"] += 1
            if calls["n"] == 2:
                filler.append(faults.fill_disk(disk))
            original(out_dir, text)

        monkeypatch.setattr(api, "write_text_file", fill_after_first)
        code, output = _cli(_run_args(inbox, registry, out, models_dir), env={"LETTERS_MIN_FREE_MB": "1"})
        assert code == ExitCode.out_of_space, output
        line = _error_line(output)
        assert "no space left" in line and "marked interrupted" in line
        assert _letters_in(out / "letters.db") == 1  # the letter committed before the disk filled is kept
        d = Database(out / "letters.db")
        with d.session() as s:
            (run,) = s.scalars(select(RunRow))
            assert run.status == "interrupted" and "no space left" in (run.reason or "")
        d.close()
        wal = Path(f"{out / 'letters.db'}-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # the WAL does not keep the disk full
        monkeypatch.setattr(api, "write_text_file", original)
        filler[0].unlink()
        code, output = _cli(_run_args(inbox, registry, out, models_dir), env={"LETTERS_MIN_FREE_MB": "1"})
        assert code == 0, output
        assert _letters_in(out / "letters.db") == 4
        assert len(pd.read_csv(out / "letters.csv")) == 4


def test_full_disk_in_the_database_is_a_typed_fault(tmp_path: Path, models_dir: Path) -> None:
    """The database's own device fills (the records go elsewhere): OutOfSpace, run marked interrupted."""
    inbox, registry = faults.small_batch(tmp_path, n=3)
    with faults.tmpfs(tmp_path / "dbdisk", 4) as disk:
        db = disk / "letters.db"
        seen: list[int] = []

        def on_result(_result) -> None:  # noqa: ANN001
            seen.append(1)
            if len(seen) == 1:
                faults.fill_disk(disk)

        with pytest.raises(RunInterrupted) as info:
            run_batch(inbox, registry, tmp_path / "out", db, Settings(models_dir=models_dir, min_free_mb=0.5),
                      workers=1, on_result=on_result)
        assert isinstance(info.value.cause, OutOfSpace)
        assert info.value.report.interrupted and "no space left" in info.value.report.interrupt_reason
        (disk / "filler.bin").unlink()
        assert _letters_in(db) >= 1


def test_stale_unfinished_runs_are_marked_interrupted_by_a_later_run(db_url: str, tmp_path: Path,
                                                                     models_dir: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    import psutil

    me = psutil.Process()
    d = Database(db_url)
    with d.session() as s:
        s.add(RunRow(run_id="killed", input_dir="x", report={}, status="running", host=socket.gethostname(),
                     pid=dead.pid, pid_started=time.time() - 100))
        s.add(RunRow(run_id="legacy", input_dir="x", report={}))  # from before runs had owners
        s.add(RunRow(run_id="live", input_dir="x", report={}, status="running", host=socket.gethostname(),
                     pid=me.pid, pid_started=me.create_time()))
        s.add(RunRow(run_id="elsewhere", input_dir="x", report={}, status="running", host="another-host", pid=1))
    d.close()
    inbox, registry = faults.small_batch(tmp_path, n=1)
    report = run_batch(inbox, registry, tmp_path / "out", db_url, Settings(models_dir=models_dir), workers=1)
    assert sorted(report.stale_runs) == ["killed", "legacy"]
    d = Database(db_url)
    with d.session() as s:
        runs = {r.run_id: r for r in s.scalars(select(RunRow))}
    d.close()
    assert runs["killed"].status == "interrupted" and runs["killed"].reason == STALE_REASON
    assert runs["legacy"].status == "interrupted"
    assert runs["live"].status == "running" and runs["elsewhere"].status == "running"
    assert runs[report.run_id].status == "finished" and runs[report.run_id].finished_at is not None


def test_wal_is_checkpointed_at_the_end_of_a_run_even_with_a_reader_open(tmp_path: Path, models_dir: Path) -> None:
    inbox, registry = faults.small_batch(tmp_path, n=3)
    db = tmp_path / "out" / "letters.db"
    run_batch(inbox, registry, tmp_path / "out", db, Settings(models_dir=models_dir), workers=1)
    reader = sqlite3.connect(db)  # like the review app, left open
    reader.execute("SELECT count(*) FROM letters").fetchone()
    try:
        run_batch(inbox, registry, tmp_path / "out", db, Settings(models_dir=models_dir), workers=1, force=True)
        wal = Path(f"{db}-wal")
        assert wal.exists() and wal.stat().st_size == 0
    finally:
        reader.close()


def test_a_lock_held_longer_than_the_busy_timeout_does_not_crash_the_batch(tmp_path: Path, models_dir: Path) -> None:
    inbox, registry = faults.small_batch(tmp_path, n=3)
    db = tmp_path / "out" / "letters.db"
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, timeout=0, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # another writer (a second run's registry upsert, a backup)
        held.set()
        time.sleep(1.5)
        conn.execute("ROLLBACK")
        conn.close()

    threads: list[threading.Thread] = []

    def on_result(_result) -> None:  # noqa: ANN001
        if not threads:
            threads.append(threading.Thread(target=hold))
            threads[0].start()
            held.wait(5)

    report = run_batch(inbox, registry, tmp_path / "out", db, Settings(models_dir=models_dir, db_busy_timeout_s=0.2),
                       workers=1, on_result=on_result)
    threads[0].join()
    assert report.counts["failed"] == 0 and not report.interrupted
    assert _letters_in(db) == 3
    d = Database(db)
    with d.session() as s:
        (run,) = s.scalars(select(RunRow))
        assert run.status == "finished"
    d.close()



def test_read_only_postgresql_database_is_one_line(pg_url: str, tmp_path: Path, models_dir: Path) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    Database(pg_url).close()  # migrated, then made read-only for everyone
    url = make_url(pg_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
    inbox, registry = faults.small_batch(tmp_path, n=1)
    code, output = _cli(_run_args(inbox, registry, tmp_path / "out", models_dir, "--db", pg_url))
    assert code == ExitCode.database_not_writable and "read-only" in _error_line(output)
    code, output = _cli(["export", "--db", pg_url, "--out", str(tmp_path / "exported")])
    assert code == 0, output
