"""Crash safety and human decisions.

`letters run` is killed with SIGKILL at random points (several seeds), then run again to
completion: every letter ends up exactly once and not failed, no match is duplicated, the
SQLite file passes its integrity check and the record files parse. SIGINT stops a run
gracefully. Reviewers' decisions survive re-runs, --force, retraining and migrations.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import psutil
import pytest
from sqlalchemy import select

from pipeline.api import human_verdict_examples, run_batch
from pipeline.schema import Status
from pipeline.settings import Settings
from pipeline.store.db import Database, current_revision, head_revision, make_engine, migrate
from pipeline.store.tables import LetterRow, MatchRow, ReviewRow
from tests import badinputs as bad

PROJECT = Path(__file__).resolve().parents[1]
LETTERS_BIN = PROJECT / ".venv" / "bin" / "letters"
RUN_TIMEOUT_S = 300
N_LETTERS = 8
IMAGE_SLOTS = (2, 4, 6)  # A4 scans among the text-layer PDFs: the batch has slow and quick letters


@pytest.fixture(scope="session")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


def _make_batch(root: Path) -> tuple[Path, Path]:
    inbox = root / "in"
    inbox.mkdir(parents=True)
    for i in range(N_LETTERS):
        if i in IMAGE_SLOTS:
            bad.write_text_image(inbox / f"letter-{i}.png", bad.letter_lines(i), a4=True)
        else:
            bad.write_text_pdf(inbox / f"letter-{i}.pdf", bad.letter_lines(i))
    return inbox, bad.write_registry(root / "promises.csv")


def _cmd(inbox: Path, registry: Path, out: Path, models: Path, *extra: str) -> list[str]:
    exe = [str(LETTERS_BIN)] if LETTERS_BIN.exists() else [sys.executable, "-m", "pipeline.cli"]
    return [*exe, "run", str(inbox), "--promises", str(registry), "--out", str(out), "--models", str(models),
            "--workers", "2", *extra]


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    # own session: signals go to our tree only, like a terminal's foreground group
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT,
                            start_new_session=True, env={**os.environ, "COLUMNS": "200"})


def _saved_letters(db: Path) -> int:
    """Letters committed so far, read like any other reader of the WAL database would."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM letters").fetchone()[0]
    except sqlite3.Error:  # not created or migrated yet
        return 0


def _wait_for(proc: subprocess.Popen[str], db: Path, letters: int, timeout: float = RUN_TIMEOUT_S) -> bool:
    """Wait until ``letters`` are saved; False if the run ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _saved_letters(db) >= letters:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    raise TimeoutError("the run made no progress")


def _power_cut(proc: subprocess.Popen[str], whole_tree: bool) -> None:
    """SIGKILL the runner (and with ``whole_tree`` its workers and their Tesseracts): no cleanup runs."""
    victims = [psutil.Process(proc.pid)]
    if whole_tree:
        try:
            victims += victims[0].children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    for p in victims:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.communicate(timeout=60)
    psutil.wait_procs(victims, timeout=30)


def _check_consistent(out: Path, inbox: Path) -> None:
    db = out / "letters.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT source_file, status, error FROM letters").fetchall()
        dup = conn.execute("SELECT letter_id, promise_id, count(*) FROM matches GROUP BY 1, 2 HAVING count(*) > 1")
        assert dup.fetchall() == []
        orphans = conn.execute("SELECT count(*) FROM matches WHERE letter_id NOT IN (SELECT letter_id FROM letters)")
        assert orphans.fetchone()[0] == 0
        # the killed run is marked interrupted by the second one; none is left "running"
        assert {s for (s,) in conn.execute("SELECT status FROM runs")} <= {"finished", "interrupted"}
    names = sorted(p.name for p in inbox.iterdir())
    assert sorted(r[0] for r in rows) == names  # each letter exactly once
    assert [r for r in rows if r[1] == Status.FAILED.value] == []
    letters = pd.read_csv(out / "letters.csv", dtype=str, keep_default_na=False)
    assert sorted(letters["source_file"]) == names
    assert sorted(pd.read_parquet(out / "letters.parquet")["source_file"]) == names
    updates = pd.read_parquet(out / "updates.parquet")
    assert not updates.duplicated(["letter_id", "promise_id"]).any()
    assert len(pd.read_csv(out / "updates.csv")) == len(updates)
    for lid in letters["letter_id"]:
        assert (out / "text" / f"{lid}.txt").read_text(encoding="utf-8").strip()
    for report in (out / "reports").glob("run-*.json"):
        json.loads(report.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_random_point_then_rerun_is_consistent(tmp_path: Path, models_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    inbox, registry = _make_batch(tmp_path)
    out = tmp_path / "out"
    cmd = _cmd(inbox, registry, out, models_dir)
    proc = _start(cmd)
    # a random point: after k letters are saved (0 = during start-up), plus a random slice of time
    k = rng.randrange(0, N_LETTERS - 2)
    reached = _wait_for(proc, out / "letters.db", k)
    time.sleep(rng.uniform(0.0, 0.5))
    assert reached and proc.poll() is None, "the run finished before the kill; make the batch slower"
    # k = 0: during start-up/migration; later: mid-batch; all saved: while the records are written
    print(f"seed {seed}: killed with {_saved_letters(out / 'letters.db')}/{N_LETTERS} letters saved")
    _power_cut(proc, whole_tree=seed % 2 == 1)  # odd seeds: the whole tree; even: only the runner
    assert proc.returncode == -signal.SIGKILL

    again = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT, timeout=RUN_TIMEOUT_S)
    assert again.returncode == 0, again.stderr[-2000:]
    _check_consistent(out, inbox)


class Interrupted:
    def __init__(self, root: Path, cmd: list[str], code: int | None, stdout: str, stderr: str) -> None:
        self.root, self.cmd, self.code, self.stdout, self.stderr = root, cmd, code, stdout, stderr


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Interrupted:
    """A run stopped with Ctrl-C after two letters were saved."""
    root = tmp_path_factory.mktemp("sigint")
    inbox, registry = _make_batch(root)
    out = root / "out"
    cmd = _cmd(inbox, registry, out, models_dir)
    proc = _start(cmd)
    assert _wait_for(proc, out / "letters.db", 2), "the run finished before the interrupt"
    # not right after a commit: that window (letter committed, text file not yet written) is
    # tested deterministically by test_rerun_restores_text_files_lost_in_a_crash
    time.sleep(0.4)
    assert proc.poll() is None, "the run finished before the interrupt"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
    stdout, stderr = proc.communicate(timeout=120)
    return Interrupted(root, cmd, proc.returncode, stdout, stderr)


@pytest.mark.slow
def test_sigint_stops_gracefully_and_keeps_finished_letters(interrupted: Interrupted) -> None:
    out = interrupted.root / "out"
    assert interrupted.code == 130, interrupted.stderr[-2000:]  # the conventional code for "stopped by a signal"
    assert "interrupted" in interrupted.stdout and "letters" in interrupted.stdout  # the summary and the hint
    db = Database(out / "letters.db")
    with db.session() as s:
        saved = list(s.scalars(select(LetterRow)))
    db.close()
    assert 2 <= len(saved) < N_LETTERS
    assert all(r.status != Status.FAILED.value for r in saved), [(r.source_file, r.error) for r in saved]
    assert len(pd.read_csv(out / "letters.csv")) == len(saved)  # records written for what was done
    again = subprocess.run(interrupted.cmd, capture_output=True, text=True, cwd=PROJECT, timeout=RUN_TIMEOUT_S)
    assert again.returncode == 0, again.stderr[-2000:]
    _check_consistent(out, interrupted.root / "in")


@pytest.mark.slow
def test_sigint_prints_no_tracebacks(interrupted: Interrupted) -> None:
    assert "Traceback" not in interrupted.stderr, interrupted.stderr[-3000:]


def test_rerun_restores_text_files_lost_in_a_crash(tmp_path: Path, models_dir: Path) -> None:
    inbox = tmp_path / "in"
    bad.write_good_letters(inbox, n_pdf=2)
    registry = bad.write_registry(tmp_path / "promises.csv")
    out = tmp_path / "out"
    settings = replace(Settings(), models_dir=models_dir, workers=1)
    run_batch(inbox, registry, out, settings=settings, workers=1)
    lost = sorted((out / "text").glob("*.txt"))[0]
    lost.unlink()  # exactly what a kill between the letter's commit and its text file leaves behind
    run_batch(inbox, registry, out, settings=settings, workers=1)
    assert lost.is_file()


# --- human decisions ------------------------------------------------------------------------


def _add_reviews(db_path: Path) -> list[tuple]:
    """A reviewer's work on the first two letters: a field fix, a verdict fix, an added match, an undo."""
    db = Database(db_path)
    with db.session() as s:
        letters = list(s.scalars(select(LetterRow).order_by(LetterRow.source_file)))
        first, second = letters[0].letter_id, letters[1].letter_id
        s.add_all([
            ReviewRow(letter_id=first, kind="field", key="sender_city", machine_value=None, human_value="Житомир",
                      action="correct", reviewer="olena"),
            ReviewRow(letter_id=first, kind="verdict", key="H-1", machine_value="in_progress", human_value="fulfilled",
                      action="correct", reviewer="olena"),
            ReviewRow(letter_id=second, kind="match", key="H-4", machine_value=None, human_value="added",
                      action="correct", reviewer="taras"),
            ReviewRow(letter_id=second, kind="field", key="letter_date", machine_value=None, human_value="2025-04-02",
                      action="correct", reviewer="taras"),
        ])
        s.flush()
        last = s.scalars(select(ReviewRow).order_by(ReviewRow.id.desc())).first()
        s.add(ReviewRow(letter_id=second, kind="field", key="letter_date", action="undo", undoes=last.id,
                        reviewer="taras"))
    db.close()
    return _reviews(db_path)


def _reviews(db_path: Path) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT * FROM reviews ORDER BY id").fetchall()


def test_reviews_survive_rerun_and_force(tmp_path: Path, models_dir: Path) -> None:
    inbox = tmp_path / "in"
    bad.write_good_letters(inbox, n_pdf=3)
    registry = bad.write_registry(tmp_path / "promises.csv")
    out = tmp_path / "out"
    settings = replace(Settings(), models_dir=models_dir, workers=1)
    run_batch(inbox, registry, out, settings=settings, workers=1)
    before = _add_reviews(out / "letters.db")
    assert len(before) == 5

    report = run_batch(inbox, registry, out, settings=settings, workers=1)
    assert report.skipped == 3 and _reviews(out / "letters.db") == before
    report = run_batch(inbox, registry, out, settings=settings, workers=1, force=True)
    assert report.skipped == 0 and report.counts["failed"] == 0
    assert _reviews(out / "letters.db") == before  # machine rows replaced, human rows untouched
    letters = pd.read_csv(out / "letters.csv", dtype=str, keep_default_na=False).set_index("source_file")
    assert letters.loc["good-000.pdf", "sender_city"] == "Житомир"  # the decision is applied in the records
    updates = pd.read_csv(out / "updates.csv", dtype=str, keep_default_na=False)
    first_id = letters.loc["good-000.pdf", "letter_id"]
    h1 = updates[(updates.letter_id == first_id) & (updates.promise_id == "H-1")]
    if len(h1):  # the machine matched it: the reviewer's verdict wins
        assert h1.iloc[0]["verdict"] == "fulfilled" and h1.iloc[0]["review_state"] in ("corrected", "confirmed")
    second_id = letters.loc["good-001.pdf", "letter_id"]
    assert ((updates.letter_id == second_id) & (updates.promise_id == "H-4")).any()  # the added match stays
    with sqlite3.connect(out / "letters.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM matches").fetchone()[0] == len(
            {(r.letter_id, r.promise_id) for r in _match_rows(out / "letters.db")})


def _match_rows(db_path: Path) -> list[MatchRow]:
    db = Database(db_path)
    with db.session() as s:
        rows = list(s.scalars(select(MatchRow)))
    db.close()
    return rows


def test_migration_from_first_revision_keeps_reviews(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(path)
    migrate(engine, "0001")  # a database as the first release created it
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO letters (letter_id, sha256, source_file, source_paths, kind, pages, status, timings, "
            "processed_at, version) VALUES ('abcdef0123456789', 'ab', 'a.pdf', '[]', 'pdf', 1, 'ok', '{}', "
            "'2026-01-01 00:00:00', 1)")
        for k in range(3):
            conn.execute(
                "INSERT INTO reviews (letter_id, kind, key, machine_value, human_value, action, reviewer, created_at) "
                "VALUES ('abcdef0123456789', 'field', ?, 'old', ?, 'correct', 'olena', '2026-01-01 00:00:00')",
                (f"k{k}", f"значення «{k}»"))
    before = _reviews(path)
    db = Database(path)  # opening migrates to head
    try:
        assert current_revision(db.engine) == head_revision(db.engine)
    finally:
        db.close()
    # a later migration may add columns (at the end); the decisions themselves must be unchanged
    assert [r[: len(before[0])] for r in _reviews(path)] == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_retraining_reads_reviews_and_leaves_them(tmp_path: Path, models_dir: Path) -> None:
    """Retraining takes human verdicts as extra examples and never writes to the database.
    (A small corpus and one candidate keep it quick; the full training is the same code.)"""
    from pipeline.training.verdict import CANDIDATES, load_corpus, train_and_save

    inbox = tmp_path / "in"
    bad.write_good_letters(inbox, n_pdf=2)
    out = tmp_path / "out"
    settings = replace(Settings(), models_dir=models_dir, workers=1)
    run_batch(inbox, bad.write_registry(tmp_path / "promises.csv"), out, settings=settings, workers=1)
    db_path = out / "letters.db"
    db = Database(db_path)
    with db.session() as s:  # a verdict decision on a pair the machine matched
        m = s.scalars(select(MatchRow)).first()
        assert m is not None, "the good letters should match a promise"
        s.add(ReviewRow(letter_id=m.letter_id, kind="verdict", key=m.promise_id, machine_value=m.verdict,
                        human_value="not_fulfilled", action="correct", reviewer="olena"))
    db.close()
    before = _reviews(db_path)
    extra = human_verdict_examples(db_path)
    assert [e["verdict"] for e in extra] == ["not_fulfilled"]
    rows = load_corpus()
    small = tmp_path / "corpus.jsonl"
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(r.get("verdict"), []).append(r)
    picked = [r for label in ("fulfilled", "in_progress", "not_fulfilled") for r in by_label[label][:10]]
    small.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked), encoding="utf-8")
    from tests.test_training_verdict import small_writers

    model = train_and_save(tmp_path / "models", extra, seed=0, corpus_path=small,
                           config=CANDIDATES["logreg_words+chars"], writers_dir=small_writers(tmp_path / "w", 30),
                           folds=3)
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    assert card["training_data"]["extra_examples"] == 1
    assert _reviews(db_path) == before
