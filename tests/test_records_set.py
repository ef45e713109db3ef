"""Record files: permissions by the umask (the database 0600), one consistent set with a manifest,
and always the whole database (a filtered view only by option)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.api import run_batch
from pipeline.cli import main
from pipeline.settings import Settings
from pipeline.stages.records import MANIFEST, read_consistent, write_records
from pipeline.store.repo import LETTER_COLUMNS
from tests import badinputs as bad
from tests import faults


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_record_files_follow_the_umask_and_the_database_is_private(tmp_path: Path, models_dir: Path, mask: int,
                                                                   expected: int) -> None:
    inbox, registry = faults.small_batch(tmp_path, n=1)
    out = tmp_path / "out"
    with umask(mask):
        report = run_batch(inbox, registry, out, None, Settings(models_dir=models_dir), workers=1)
    for name in ("letters.csv", "letters.parquet", "updates.csv", "updates.parquet", MANIFEST):
        assert _mode(out / name) == expected, name
    (text,) = (out / "text").iterdir()
    assert _mode(text) == expected
    assert _mode(out / "reports" / f"run-{report.run_id}.json") == expected
    assert _mode(out / "letters.db") == 0o600  # it holds password hashes: never group- or world-readable


def test_manifest_lists_every_record_file_with_rows_and_hash(tmp_path: Path, models_dir: Path) -> None:
    inbox, registry = faults.small_batch(tmp_path, n=3)
    out = tmp_path / "out"
    report = run_batch(inbox, registry, out, None, Settings(models_dir=models_dir), workers=1)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    written = {Path(p).name for p in report.records} - {MANIFEST}
    assert set(manifest["files"]) == written >= {"letters.csv", "letters.parquet", "updates.csv", "updates.parquet"}
    for name, entry in manifest["files"].items():
        data = (out / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
        rows = pq.read_table(out / name).num_rows if name.endswith(".parquet") else len(pd.read_csv(out / name))
        assert entry["rows"] == rows
    assert manifest["files"]["letters.csv"]["rows"] == 3


def test_the_manifest_counts_rows_whose_field_passes_the_csv_modules_limit(tmp_path: Path) -> None:
    """A promise page's draft over a few hundred letters is longer than the csv module's default
    field limit (128 KiB): counting the rows must not stop the run at its very end."""
    import csv

    from pipeline.stages.records import write_manifest

    long_draft = "Результат. " + "Лист міської ради про виконання робіт. " * 8000
    assert len(long_draft) > csv.field_size_limit()
    path = tmp_path / "promises.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["promise_id", "result_draft"])
        w.writerows([["P1", long_draft], ["P2", "короткий"]])
    before = csv.field_size_limit()
    manifest = json.loads(write_manifest(tmp_path, [path]).read_text(encoding="utf-8"))
    assert manifest["files"]["promises.csv"]["rows"] == 2
    assert csv.field_size_limit() == before  # the process-wide limit is left as it was


def test_a_reader_looping_during_writes_always_gets_a_matching_set(tmp_path: Path) -> None:
    """A writer rewrites the records with a different number of rows each time; a reader checking the
    manifest never sees letters.csv and letters.parquet disagree."""
    out = tmp_path / "out"

    def rows(n: int) -> list[dict[str, object]]:
        return [{c: (f"{i:016x}" if c == "letter_id" else ("ok" if c == "status" else None)) for c in LETTER_COLUMNS}
                | {"pages": 1, "source_file": f"f{i}.pdf"} for i in range(n)]

    write_records(out, rows(1), [])
    stop = threading.Event()

    def writer() -> None:
        n = 1
        while not stop.is_set():
            n = n % 40 + 1
            write_records(out, rows(n), [])
            stop.wait(0.005)

    t = threading.Thread(target=writer)
    t.start()
    reads = 0
    try:
        deadline = 100
        while reads < deadline:
            data = read_consistent(out, ["letters.csv", "letters.parquet"], attempts=200)
            csv_rows = len(pd.read_csv(io.BytesIO(data["letters.csv"])))
            parquet_rows = pq.read_table(io.BytesIO(data["letters.parquet"])).num_rows
            assert csv_rows == parquet_rows, f"read {reads}: csv {csv_rows} rows, parquet {parquet_rows}"
            reads += 1
    finally:
        stop.set()
        t.join()
    assert reads == 100


def test_records_cover_the_whole_database_and_export_can_filter_by_folder(tmp_path: Path, models_dir: Path) -> None:
    first, registry = faults.small_batch(tmp_path, n=2, start=0)
    second, _ = faults.small_batch(tmp_path, n=1, start=5)
    out = tmp_path / "out"
    settings = Settings(models_dir=models_dir)
    run_batch(first, registry, out, None, settings, workers=1)
    run_batch(second, registry, out, None, settings, workers=1)  # a new input folder, the same database
    letters = pd.read_csv(out / "letters.csv")
    assert sorted(letters["source_file"]) == ["letter-0.pdf", "letter-1.pdf", "letter-5.pdf"]
    result = CliRunner().invoke(main, ["export", "--db", str(out / "letters.db"), "--out", str(tmp_path / "only"),
                                       "--input-dir", str(second)])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(tmp_path / "only" / "letters.csv")["source_file"]) == ["letter-5.pdf"]
    manifest = json.loads((tmp_path / "only" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["files"]["letters.csv"]["rows"] == 1
