"""Executors: a local pool and a Dask cluster give the same results as one process, and a
worker that dies mid-run costs no letter (retried once; failed alone if it kills twice).

Real components throughout: the real Processor (verdict model, Tesseract on one scan),
real worker processes, a real Dask LocalCluster whose worker is killed by os._exit.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from distributed import WorkerPlugin

from pipeline.executors import ExecutorError, LocalBatch, _dask_client, _pool_results, _process_letter, iter_results
from pipeline.samplegen import load_sample_data, write_image, write_sample_registry, write_text_pdf
from pipeline.schema import Letter, LetterResult, Promise, Status
from pipeline.settings import Settings
from pipeline.stages import ingest
from pipeline.stages.registry import load_registry
from tests import badinputs

SCAN = "scan.jpg"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[list[Letter], list[Promise], Settings]:
    """Five born-digital letters and one small scan of the project's invented samples."""
    folder = tmp_path_factory.mktemp("batch")
    data = load_sample_data()
    for item in data["letters"][:5]:
        write_text_pdf(item["pages"], folder / f"{item['letter_id']}.pdf")
    write_image(data["letters"][3]["pages"][0], folder / SCAN, fmt="JPEG", dpi=200, skew_deg=0.5, noise=0.2, seed=1)
    registry = write_sample_registry(folder.parent / "promises.csv", data["promises"])
    models = badinputs.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))
    settings = replace(Settings(), models_dir=models)
    found = ingest.discover(folder, settings.limits)
    assert len(found.letters) == 6 and not found.failures
    return found.letters, load_registry(registry), settings


@pytest.fixture(scope="module")
def processor(batch: tuple[list[Letter], list[Promise], Settings]):  # noqa: ANN201
    from pipeline.api import Processor

    _, promises, settings = batch
    return Processor(promises, settings)


def summary(r: LetterResult) -> tuple:
    """Everything a record is made of; not timings."""
    return (
        r.letter_id, r.sha256, r.source_file, r.status, r.error,
        r.text.full_text if r.text else None,
        [(p.page_no, p.source, p.ocr_confidence, len(p.words)) for p in r.text.pages] if r.text else None,
        r.fields.values() if r.fields else None,
        [(u.promise_id, u.match.score, u.match.passage.start, u.suggestion.verdict if u.suggestion else None,
          u.suggestion.confidence if u.suggestion else None, u.needs_review) for u in r.updates],
    )


@pytest.fixture(scope="module")
def reference(batch: tuple[list[Letter], list[Promise], Settings], processor) -> dict[str, tuple]:  # noqa: ANN001
    letters, _, _ = batch
    ref = {letter.letter_id: summary(processor.process(letter)) for letter in letters}
    scan = next(s for s in ref.values() if s[2] == SCAN)
    assert scan[6][0][1] == "ocr" and scan[3] != Status.FAILED and scan[8]  # OCR'd, read and matched
    return ref


def by_letter(results: list[LetterResult]) -> dict[str, tuple]:
    counts = Counter(r.letter_id for r in results)
    assert max(counts.values()) == 1, f"a letter came back twice: {counts}"
    return {r.letter_id: summary(r) for r in results}


# --- local pool ----------------------------------------------------------------------



@pytest.mark.slow
def test_workers_forked_with_their_first_letters_give_the_same_results(batch, reference) -> None:  # noqa: ANN001
    """A new database: the letters to do are known before it opens, so each worker is forked
    with its first letter and reads it (the scan: decoded while OCR's modules load) while it
    builds its Processor."""
    letters, promises, settings = batch
    run = LocalBatch(promises, settings, 2, expected=letters, todo=letters)
    try:
        assert run.pool is not None and len(run.pool.first) == 2
        assert run.pool.first[0].source_file == SCAN  # the biggest first
        assert by_letter(list(run.results(letters))) == reference
    finally:
        run.close()


@pytest.mark.slow
def test_letters_begun_before_the_database_was_read_come_back_even_if_it_says_done(batch, reference) -> None:  # noqa: ANN001
    letters, promises, settings = batch
    run = LocalBatch(promises, settings, 1, expected=letters, todo=letters[:2])
    try:
        got = by_letter(list(run.results(letters[1:3])))  # another run saved letters[0] meanwhile
    finally:
        run.close()
    assert got == {x.letter_id: reference[x.letter_id] for x in letters[:3]}


@pytest.mark.slow
def test_a_worker_forked_with_a_scan_that_cannot_build_its_processor_stops_the_run(batch, tmp_path: Path) -> None:  # noqa: ANN001
    import psutil

    from pipeline.errors import ModelError

    letters, promises, settings = batch
    scan = [x for x in letters if x.source_file == SCAN]
    run = LocalBatch(promises, replace(settings, models_dir=tmp_path / "no-models"), 1, expected=scan, todo=scan)
    try:
        with pytest.raises(ModelError):
            list(run.results(scan))
    finally:
        run.close()
    left = [p for p in psutil.Process().children(recursive=True) if "tesseract" in p.name()]
    assert not left, "a Tesseract outlived its worker"


def _kill_on(processor, letter: Letter, target: str, marker: Path | None) -> LetterResult:  # noqa: ANN001
    """Kill this worker process when it takes ``target`` (only the first time if ``marker`` is given)."""
    if letter.source_file == target and (marker is None or not marker.exists()):
        if marker is not None:
            marker.touch()
        os._exit(9)
    return _process_letter(processor, letter)


@pytest.mark.slow
def test_pool_gives_the_same_results_as_one_process(batch, processor, reference) -> None:  # noqa: ANN001
    letters, _, _ = batch
    assert by_letter(list(_pool_results(letters, processor, 2))) == reference


@pytest.mark.slow
def test_pool_retries_the_letter_of_a_dead_worker_once(batch, processor, reference, tmp_path: Path) -> None:  # noqa: ANN001
    letters, _, _ = batch
    marker = tmp_path / "killed"
    work = partial(_kill_on, target=SCAN, marker=marker)
    got = by_letter(list(_pool_results(letters, processor, 2, work=work)))
    assert marker.exists()  # a worker really died on the scan
    assert got == reference  # ... and every letter, the scan too, was processed exactly once


@pytest.mark.slow
def test_pool_fails_only_the_letter_that_kills_its_worker_twice(batch, processor, reference) -> None:  # noqa: ANN001
    letters, _, _ = batch
    poison = "L-S002.pdf"
    results = list(_pool_results(letters, processor, 2, work=partial(_kill_on, target=poison, marker=None)))
    got = by_letter(results)
    bad = next(r for r in results if r.source_file == poison)
    assert bad.status == Status.FAILED and "died on this letter 2 times" in (bad.error or "")
    assert {k: v for k, v in got.items() if k != bad.letter_id} == {
        k: v for k, v in reference.items() if k != bad.letter_id
    }


def _hang_on(processor, letter: Letter, target: str) -> LetterResult:  # noqa: ANN001
    """Hang like a parser caught in a loop when this worker takes ``target``."""
    if letter.source_file == target:
        time.sleep(3600)
    return _process_letter(processor, letter)


@pytest.mark.slow
def test_pool_stops_a_letter_past_the_per_letter_limit(batch, processor, reference) -> None:  # noqa: ANN001
    letters, _, _ = batch
    stuck = "L-S002.pdf"
    limited = copy.copy(processor)
    limited.settings = replace(processor.settings, limits=replace(processor.settings.limits, max_letter_seconds=8.0))
    started = time.monotonic()
    results = list(_pool_results(letters, limited, 2, work=partial(_hang_on, target=stuck)))
    assert time.monotonic() - started < 120
    got = by_letter(results)
    bad = next(r for r in results if r.source_file == stuck)
    assert bad.status == Status.FAILED and "8 s per-letter limit" in (bad.error or "")
    assert {k: v for k, v in got.items() if k != bad.letter_id} == {
        k: v for k, v in reference.items() if k != bad.letter_id
    }


# --- Dask ------------------------------------------------------------------------------


class KillWorkerOnce(WorkerPlugin):
    """Ends the worker process the first time it starts the task of ``letter_id`` (like the OOM killer)."""

    def __init__(self, letter_id: str, marker: str) -> None:
        self.letter_id = letter_id
        self.marker = marker

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        if finish == "executing" and f"letter-{self.letter_id}-" in str(key) and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(9)


@pytest.mark.slow
def test_dask_gives_the_same_results_and_survives_a_killed_worker(batch, reference, tmp_path: Path) -> None:  # noqa: ANN001
    """One cluster for both checks (starting Dask workers is the slow part): the LocalCluster
    that ``dask="local"`` starts, reached through its tcp:// address, with one worker ended
    by os._exit while it runs the scan."""
    letters, promises, settings = batch
    scan = next(letter for letter in letters if letter.source_file == SCAN)
    marker = tmp_path / "killed"
    client, cluster = _dask_client("local", 2)
    try:
        client.register_plugin(KillWorkerOnce(scan.letter_id, str(marker)))
        # its workers run with the quieter config (QUIET_DASK_CONFIG): no stack sampling, a tick a second
        ticks = client.run(lambda dask_worker: (dask_worker._tick_interval, "profile" in dask_worker.periodic_callbacks))
        pids_before = set(client.run(os.getpid).values())
        got = by_letter(list(iter_results(letters, promises, settings, 2, dask=cluster.scheduler_address)))
        pids_after = set(client.run(os.getpid).values())
    finally:
        client.close()
        cluster.close()
    assert set(ticks.values()) == {(1.0, False)}, ticks
    assert marker.exists() and pids_before != pids_after, (pids_before, pids_after)  # a worker died, was replaced
    for lid, want in reference.items():  # every letter exactly once, the same as in one process
        assert got.get(lid) == want, lid
    assert got.keys() == reference.keys()


def test_bad_dask_address_is_a_typed_error() -> None:
    letter = Letter("0" * 16, "0" * 64, "a.pdf", ())
    with pytest.raises(ExecutorError, match="bad Dask address"):
        list(iter_results([letter], [], Settings(), 1, dask="localhost:8786"))


# --- the benchmark ------------------------------------------------------------------------


def test_the_bench_brings_the_packages_bytecode_up_to_date_even_where_python_would_not_write_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import sys

    import pipeline
    from pipeline.bench.run import current_bytecode

    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as PYTHONDONTWRITEBYTECODE=1 sets it
    package = Path(pipeline.__file__).parent
    source = package / "errors.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.unlink(missing_ok=True)
    assert current_bytecode() is True
    sources = list(package.rglob("*.py"))
    assert len(sources) > 50 and all(Path(importlib.util.cache_from_source(str(f))).is_file() for f in sources)
    assert cached.stat().st_mtime >= source.stat().st_mtime


@pytest.mark.slow
def test_bench_measures_born_digital_and_stage_timings(batch) -> None:  # noqa: ANN001
    from pipeline.bench.run import BenchConfig, format_report, run_bench

    letters, _, settings = batch
    folder = letters[0].files[0].path.parent
    res = run_bench(BenchConfig(folder=folder, settings=settings, quick=True), ("born", "match"), echo=lambda _: None)
    assert res["born"]["pages"] == 6 and res["born"]["born_pages_per_s"] > 0  # five PDFs, one of two pages
    assert res["match"]["letters"] == 5 and 0 < res["match"]["stages_ms_per_letter"] < 10_000
    names = {t["name"] for t in res["targets"]}
    assert names == {"born_pages_per_s"}
    assert "born-digital:" in format_report(res) and "targets:" in format_report(res)


@pytest.mark.slow
def test_bench_startup_runs_letters_as_a_user_does(batch) -> None:  # noqa: ANN001
    from pipeline.bench.run import BenchConfig, format_report, run_bench

    letters, _, settings = batch
    folder = letters[0].files[0].path.parent
    res = run_bench(BenchConfig(folder=folder, settings=settings, quick=True), ("startup", "scanpage"),
                    echo=lambda _: None)
    st, sp = res["startup"], res["scanpage"]
    assert st["startup_born_s"] > 0 and st["help_s"] > 0 and st["startup_born_pss_mb"] > 0
    assert sp["file"] == SCAN and sp["raw_s"] > 0 and sp["scan_page_ratio"] > 0
    names = {t["name"] for t in res["targets"]}
    assert {"startup_born_s", "help_s", "scan_page_ratio"} <= names
    report = format_report(res)
    assert "start-up: one born-digital letter" in report and "one scanned page (scan.jpg)" in report


@pytest.mark.slow
def test_bench_throughput_reports_the_cpu_each_run_spent_and_the_bound_it_sets(batch) -> None:  # noqa: ANN001
    """Beside the speed-up, the CPU of each run (the runner's and its workers'): one worker keeps
    more than one core busy at times, and the bound on two cores follows from the CPU two spent."""
    from pipeline.bench.run import BenchConfig, format_report, run_bench

    letters, _, settings = batch
    folder = letters[0].files[0].path.parent
    res = run_bench(BenchConfig(folder=folder, settings=settings, quick=True), ("throughput",), echo=lambda _: None)
    tp = res["throughput"]
    one, two = tp["runs"]["1"], tp["runs"]["2"]
    assert one["letters"] == two["letters"] == 1  # the bench folder's one scan
    for run in (one, two):  # the workers' CPU is counted: a scan's OCR alone outweighs the runner's
        assert run["cpu_s"] > run["parent_cpu_s"] + 0.2
    assert tp["cores_one_worker"] == pytest.approx(one["cpu_s"] / one["seconds"], rel=0.01)
    assert tp["speedup_cpu_bound"] == pytest.approx(one["seconds"] / (two["cpu_s"] / 2), rel=0.01)
    assert f"no run could beat x{tp['speedup_cpu_bound']} on 2 cores" in format_report(res)


def bench_answer(ctx) -> dict:  # noqa: ANN001 - a section registered by the test below
    return {"dask_speedup": 2.0, "letters": len(ctx.corpus.born)}


def test_a_bench_section_is_one_registration(batch, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from pipeline.bench import run as bench_run

    letters, _, settings = batch
    monkeypatch.setitem(bench_run.SECTIONS, "dask", bench_run.Section(
        "tests.test_executors:bench_answer", "a registered section", "help"))
    res = bench_run.run_bench(bench_run.BenchConfig(folder=letters[0].files[0].path.parent, settings=settings),
                              ("dask",), echo=lambda _: None)
    assert res["dask"] == {"dask_speedup": 2.0, "letters": 5}
    assert [t["name"] for t in res["targets"]] == ["dask_speedup"] and res["targets"][0]["met"]
    assert "dask: dask_speedup 2.0, letters 5" in bench_run.format_report(res)
    with pytest.raises(bench_run.UsageError, match="unknown bench section"):
        bench_run.run_bench(bench_run.BenchConfig(folder=letters[0].files[0].path.parent), ("nope",))


# --- threads per worker --------------------------------------------------------------


def _thread_report(processor, letter: Letter) -> LetterResult:  # noqa: ANN001
    """A worker's library threads, carried back in the result's error field."""
    import cv2
    from threadpoolctl import threadpool_info

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    seen = {"cv2": cv2.getNumThreads(), "blas": blas, "omp": os.environ.get("OMP_THREAD_LIMIT")}
    return LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.OK, error=json.dumps(seen))


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_share_the_cores_even_with_numpy_loaded_before_the_fork(batch, processor, workers: int) -> None:  # noqa: ANN001
    """Given a built Processor, the workers inherit numpy already loaded, its BLAS threads started
    (too late for the environment): BLAS is still held to one thread, and nothing hangs."""
    letters, _, _ = batch
    processor.model.state_proba(["роботи тривають"], "uk")  # the parent's BLAS has run
    seen = [json.loads(r.error or "{}") for r in _pool_results(letters[:workers * 2], processor, workers, work=_thread_report)]
    assert seen and all(s["omp"] == "1" and s["blas"] and set(s["blas"]) == {1} for s in seen)


@pytest.mark.parametrize("workers", [1, 2])
def test_fresh_workers_set_their_threads_before_the_libraries_load(batch, tmp_path: Path, workers: int) -> None:  # noqa: ANN001
    """Forked from a runner that has loaded neither numpy nor OpenCV, workers build their
    Processors with one BLAS and one OpenCV thread each, however many cores are free; the
    runner is untouched."""
    import inspect
    import subprocess
    import sys

    letters, _, settings = batch
    code = (
        "from __future__ import annotations\n"
        "import json, os, sys\n"
        "from pipeline.executors import LocalPool, ProcessorSource\n"
        "from pipeline.schema import Letter, LetterResult, Status\n"
        "from pipeline.stages import ingest\n"
        "from pipeline.stages.registry import load_registry\n"
        "from pipeline.settings import Settings\n"
        "from dataclasses import replace\n"
        "from pathlib import Path\n"
        "assert 'numpy' not in sys.modules and 'cv2' not in sys.modules\n"
        + inspect.getsource(_thread_report) +
        "settings = replace(Settings(), models_dir=Path(sys.argv[3]))\n"
        "letters = ingest.discover(Path(sys.argv[1]), settings.limits).letters[:4]\n"
        "pool = LocalPool(ProcessorSource(load_registry(Path(sys.argv[2])), settings), int(sys.argv[4]), work=_thread_report)\n"
        "seen = [json.loads(r.error) for r in pool.results(letters)]\n"
        "pool.close()\n"
        "print(json.dumps({'seen': seen, 'runner_blas_env': os.environ.get('OPENBLAS_NUM_THREADS')}))\n"
    )
    folder = Path(letters[0].files[0].path).parent
    registry = tmp_path / "promises.csv"
    write_sample_registry(registry, load_sample_data()["promises"])
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OPENCV_FOR_THREADS_NUM", "MKL_NUM_THREADS")}
    proc = subprocess.run([sys.executable, "-c", code, str(folder), str(registry), str(settings.models_dir), str(workers)],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1], env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out["seen"]) == 4 and out["runner_blas_env"] is None
    assert all(set(s["blas"]) == {1} and s["cv2"] == 1 for s in out["seen"])
