"""A real Dask cluster, started with the Dask command line as on several machines: `dask scheduler`
and two `dask worker` processes on free local ports, `letters run … --dask tcp://…` with a
PostgreSQL database. Every letter is recorded once with the status it gets in one process,
a long scan is read by page ranges on both workers, each worker builds its Processor once,
and no process of the cluster outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from pipeline.bench.cluster import dask_cli_cluster, worker_env
from pipeline.pagesplit import split
from pipeline.processor import Processor
from pipeline.samplegen import load_sample_data, write_scanned_pdf
from pipeline.settings import Settings
from pipeline.stages import ingest
from pipeline.stages.registry import load_registry
from pipeline.store.db import Database
from pipeline.store.tables import LetterRow, PageRow, RunRow
from tests import badinputs as bad
from tests import faults

RUN_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


def _letters_run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`letters run` as its own process group, killed whole if it overruns."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", *args], env=worker_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"letters run overran {RUN_TIMEOUT_S} s:\n{out[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


@pytest.mark.slow
def test_a_batch_on_a_dask_cli_cluster_with_postgresql(pg_url: str, tmp_path: Path, models_dir: Path) -> None:
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    inbox, registry = faults.small_batch(tmp_path, n=3)
    bad.write_text_image(inbox / "scan.png", bad.letter_lines(7))  # one page OCR'd
    pages = [p for letter in load_sample_data()["letters"] for p in letter["pages"]][:6]
    write_scanned_pdf(pages, inbox / "long-scan.pdf", dpi=200, seed=5)  # read by page ranges on the workers
    bad.truncated_pdf(inbox / "broken.pdf")  # recorded as failed, with its reason

    settings = Settings(models_dir=models_dir, reuse_ocr=False)
    found = ingest.discover(inbox, settings.limits)
    assert len(found.letters) == 6 and not found.failures
    long = next(x for x in found.letters if x.source_file == "long-scan.pdf")
    assert len(split(long, 2) or []) > 1
    reference = Processor(load_registry(registry), settings)
    want = {x.letter_id: reference.process(x) for x in found.letters}  # what one process records
    assert {r.status.value for r in want.values()} >= {"failed"} and len({r.status for r in want.values()}) >= 2

    out = tmp_path / "out"
    args = [str(inbox), "--promises", str(registry), "--out", str(out), "--db", url, "--models", str(models_dir), "--workers", "2"]
    with dask_cli_cluster(2, tmp_path / "cluster") as cluster:
        assert cluster.address.startswith("tcp://127.0.0.1:")
        from distributed import Client

        with Client(cluster.address, timeout="20s") as client:
            assert len(client.scheduler_info()["workers"]) == 2
            # started as the README says: Dask's event-loop checks once a second, no stack sampling
            ticks = client.run(lambda dask_worker: (dask_worker._tick_interval, "profile" in dask_worker.periodic_callbacks))
            assert set(ticks.values()) == {(1.0, False)}, ticks
            assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler._tick_interval) == 1.0
        done = _letters_run([*args, "--dask", cluster.address])
        assert done.returncode == 0, done.stdout[-3000:]
        with Client(cluster.address, timeout="20s") as client:
            from pipeline import executors

            built = client.run(lambda: list(executors._DASK_PROCESSORS))  # cloudpickled by value
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
        again = _letters_run([*args, "--dask", cluster.address])  # resumable: nothing left to do
        assert again.returncode == 0, again.stdout[-3000:]
        pids = cluster.pids()
    assert len(built) == 2 and all(len(keys) <= 1 for keys in built.values())  # one Processor per worker, kept
    assert all(n > 0 for n in executed.values()), executed  # both workers took tasks
    left = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not left, f"cluster processes left running: {left}"

    db = Database(url)
    with db.session() as s:
        rows = {r.letter_id: r for r in s.scalars(select(LetterRow))}
        page_nos = [p.page_no for p in s.scalars(select(PageRow).where(PageRow.letter_id == long.letter_id)
                                                 .order_by(PageRow.page_no))]
        runs = list(s.scalars(select(RunRow)))
    db.close()
    assert rows.keys() == want.keys()  # every letter once
    for lid, result in want.items():
        row = rows[lid]
        assert (row.source_file, row.status, row.error) == (result.source_file, result.status.value, result.error), lid
        assert row.text == (result.text.full_text if result.text else row.text), lid
    assert rows[long.letter_id].pages == 6 and page_nos == [1, 2, 3, 4, 5, 6]
    assert "broken.pdf" in {r.source_file for r in rows.values() if r.status == "failed"}
    assert len(runs) == 2 and {r.status for r in runs} == {"finished"}
    assert sorted(r.report["letters"] for r in runs) == [6, 6]


@pytest.mark.slow
def test_a_frozen_cluster_spends_nothing_and_works_once_thawed(tmp_path: Path) -> None:
    """`letters bench dask` freezes the clusters it is not measuring: every process of the
    cluster is stopped (no CPU spent meanwhile), and the cluster takes work again after."""
    from distributed import Client

    with dask_cli_cluster(1, tmp_path / "cluster") as cluster:
        procs = [psutil.Process(pid) for pid in cluster.pids()]
        assert len(procs) >= 3  # scheduler, nanny, worker process
        with cluster.frozen():
            assert {p.status() for p in procs} == {psutil.STATUS_STOPPED}
            before = [sum(p.cpu_times()[:2]) for p in procs]
            time.sleep(1.0)
            assert [sum(p.cpu_times()[:2]) for p in procs] == before
        assert psutil.STATUS_STOPPED not in {p.status() for p in procs}
        with Client(cluster.address, timeout="20s") as client:
            assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
