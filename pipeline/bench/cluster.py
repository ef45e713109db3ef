"""`letters bench dask` and `letters bench pagesplit`: scaling to workers beyond one letter each.

- ``dask``: a real Dask cluster started with the Dask command line (``dask scheduler`` and
  ``dask worker`` processes on free local ports, as on several machines), one worker against
  two, on the same scanned letters through ``run_batch(..., dask="tcp://...")``.
- ``pagesplit``: one long generated scanned PDF (``--pages``) with ``--workers 2`` against
  ``--workers 1``: the two workers read it by page ranges (``pipeline.pagesplit``).

Each returns its figures and its targets (rows shaped like ``run.check_targets``'s).
:func:`dask_cli_cluster` is also what the cluster test starts its cluster with.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pipeline
from pipeline.errors import LettersError
from pipeline.executors import ONE_THREAD_ENV, quiet_dask_env
from pipeline.schema import Letter

if TYPE_CHECKING:
    from pipeline.bench.run import BenchConfig, Corpus

Echo = Callable[[str], None]

# name -> (description, comparison, limit), as run.TARGETS
TARGETS: dict[str, tuple[str, str, float]] = {
    "dask_speedup": ("Dask cluster (dask scheduler + dask worker CLI): 2 workers speed-up over 1", ">=", 1.8),
    "pagesplit_speedup": ("long scanned PDF read by page ranges: --workers 2 speed-up over --workers 1", ">=", 1.8),
}
START_TIMEOUT_S = 90.0  # scheduler file written, workers registered
STOP_TIMEOUT_S = 15.0  # after SIGTERM, before SIGKILL


class ClusterError(LettersError):
    """The local Dask cluster could not be started (no `dask` command, a process died, a timeout)."""

    category = "executor"


@dataclass
class CliCluster:
    """A scheduler and workers started with the Dask CLI, each in its own process group."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The whole cluster stopped (SIGSTOP to each process group) until the block ends. An idle
        cluster is not free: its scheduler, nannies and workers tick and heartbeat (~6 % of a core
        for one worker, ~11 % for two, measured here), and a two-worker run on two cores pays for
        the others' ticks where a one-worker run has a spare core to absorb them."""
        import psutil

        groups = [proc.pid for proc in [self.scheduler, *self.workers] if proc.poll() is None]
        members = []
        for pid in self.pids():
            try:
                members.append(psutil.Process(pid))
            except psutil.Error:
                pass
        for pgid in groups:
            os.killpg(pgid, signal.SIGSTOP)
        deadline = time.monotonic() + 5.0  # a signal is delivered when its process is next scheduled
        while time.monotonic() < deadline and not all(_stopped(p) for p in members):
            time.sleep(0.01)
        try:
            yield
        finally:
            for pgid in groups:
                try:
                    os.killpg(pgid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def pids(self) -> set[int]:
        """Every process of the cluster now (nannies' worker processes included)."""
        import psutil

        out: set[int] = set()
        for proc in [self.scheduler, *self.workers]:
            try:
                p = psutil.Process(proc.pid)
                out |= {p.pid, *(c.pid for c in p.children(recursive=True))}
            except psutil.Error:
                pass
        return out


def _stopped(proc: Any) -> bool:  # a psutil.Process
    import psutil

    try:
        return proc.status() in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return True  # gone


def dask_command() -> list[str]:
    """The `dask` command of this Python's environment (the package ``distributed``)."""
    beside = Path(sys.executable).parent / "dask"
    found = str(beside) if beside.exists() else shutil.which("dask")
    if not found:
        raise ClusterError("the `dask` command is not installed (pip install 'distributed')")
    return [found]


def worker_env() -> dict[str, str]:
    """Workers import this very copy of the package (a checkout run without installing it) and
    run one Tesseract thread each: the parallelism is the workers. The scheduler and workers are
    started with the quieter Dask config the README recommends (``QUIET_DASK_CONFIG``)."""
    root = str(Path(pipeline.__file__).resolve().parent.parent)
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    return {**quiet_dask_env(), **os.environ, "PYTHONPATH": os.pathsep.join([root, *path]), **ONE_THREAD_ENV}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (a nanny and its worker process), SIGKILL if it lingers;
    returns when every process of the tree is gone (not merely signalled)."""
    import psutil

    try:
        leader = psutil.Process(proc.pid)
        tree = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        tree = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
    try:  # the leader is gone; anything left in its group (a worker the nanny left behind) goes too
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=STOP_TIMEOUT_S)
    _, alive = psutil.wait_procs([p for p in tree if p.pid != proc.pid], timeout=STOP_TIMEOUT_S)
    for p in alive:  # left its group (setsid): still ours to end
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=STOP_TIMEOUT_S)


def _tail(path: Path, n: int = 1500) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


@contextmanager
def dask_cli_cluster(n_workers: int, workdir: Path, threads: int = 1,
                     worker_cpus: set[int] | None = None) -> Iterator[CliCluster]:
    """``dask scheduler`` on a free port of 127.0.0.1 and ``n_workers`` ``dask worker`` processes
    (``threads`` threads each), started as a user would on several machines; all stopped on exit.
    ``worker_cpus``: the CPUs the workers are held to (a scaling baseline on one core)."""
    workdir.mkdir(parents=True, exist_ok=True)
    dask = dask_command()
    env = worker_env()
    sched_file = workdir / "scheduler.json"
    sched_file.unlink(missing_ok=True)
    logs: list[Path] = []
    with ExitStack() as stack:
        def spawn(args: list[str], name: str, cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
            # its own session and process group: stopped as a group, and a Ctrl-C meant for us is not theirs
            logs.append(workdir / f"{name}.log")
            log: IO[bytes] = stack.enter_context(logs[-1].open("wb"))
            pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
            proc = subprocess.Popen(dask + args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=workdir, start_new_session=True, preexec_fn=pin)
            stack.callback(_stop, proc)  # registered at once: a failed start still stops what was started
            return proc

        # --port 0: the system picks a free port, read back from the scheduler file (no race for a port)
        scheduler = spawn(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                           "--scheduler-file", str(sched_file)], "scheduler")
        cluster = CliCluster(address="", scheduler=scheduler, logs=logs)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not cluster.address:
            if cluster.scheduler.poll() is not None:
                raise ClusterError(f"dask scheduler exited with {cluster.scheduler.returncode}: {_tail(cluster.logs[0])}")
            if time.monotonic() > deadline:
                raise ClusterError(f"dask scheduler did not start in {START_TIMEOUT_S:g} s: {_tail(cluster.logs[0])}")
            try:
                cluster.address = json.loads(sched_file.read_text(encoding="utf-8"))["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        for i in range(n_workers):
            cluster.workers.append(spawn(
                ["worker", cluster.address, "--nworkers", "1", "--nthreads", str(threads), "--host", "127.0.0.1",
                 "--no-dashboard", "--name", f"worker-{i}", "--local-directory", str(workdir / f"worker-{i}")],
                f"worker-{i}", worker_cpus))
        _wait_for_workers(cluster, n_workers, deadline)
        yield cluster


def _wait_for_workers(cluster: CliCluster, n: int, deadline: float) -> None:
    from distributed import Client

    with Client(cluster.address, timeout="20s") as client:
        while len(client.scheduler_info().get("workers", {})) < n:
            dead = [w for w in cluster.workers if w.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(_tail(p, 600) for p in cluster.logs[1:])
                raise ClusterError(f"{n} dask workers did not register in {START_TIMEOUT_S:g} s: {logs}")
            time.sleep(0.2)


# --- figures -----------------------------------------------------------------------------------


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def check(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The section's figures against their targets, in the rows ``run.check_targets`` makes."""
    rows = []
    for name, (desc, op, limit) in TARGETS.items():
        v = res.get(name)
        if isinstance(v, int | float):
            ok = v <= limit if op == "<=" else v >= limit
            rows.append({"name": name, "description": desc, "value": float(v), "target": f"{op} {limit:g}", "met": ok})
    return rows


def _workdir(cfg: BenchConfig, name: str) -> Path:
    import tempfile

    base = cfg.workdir or Path(tempfile.mkdtemp(prefix="letters-bench-"))
    cfg.workdir = base
    work = base / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def _link_letters(letters: list[Letter], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for letter in letters:
        for f in letter.files:
            (folder / f.rel_path.replace("/", "__")).symlink_to(f.path)  # measured in place, never copied


def _timed_run(src: Path, promises: Path, out: Path, settings: Any, workers: int, dask: str | None) -> dict[str, Any]:
    from pipeline.api import run_batch

    t0 = time.perf_counter()
    report = run_batch(src, promises, out, out / "letters.db", settings, workers=workers, force=True, dask=dask)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 2), "letters": report.letters, "pages": report.pages,
            "failed": report.counts.get("failed", 0), "load": _load()}


def bench_dask(cfg: BenchConfig, echo: Echo, corpus: Corpus | None = None) -> dict[str, Any]:
    """``run_batch --dask tcp://…`` on the folder's scanned letters: a CLI cluster of 1 worker against one of 2.

    The clusters are up during the whole measurement, those not measured frozen (see
    :meth:`CliCluster.frozen`), and the runs alternate over the rounds, so other people's
    processes weigh on each alike; each one's quickest run is kept. Cluster start-up is not
    counted (a cluster outlives runs), nor, after a cluster's first run, the workers' Processor:
    a worker keeps it for the next run with the same registry and settings, as a long-lived one does.
    """
    from pipeline.bench.run import QUICK_LETTERS, load_corpus, one_core_cpus

    out: dict[str, Any] = {"load_before": _load()}
    corpus = corpus or load_corpus(cfg, echo)  # the bench's, when it has read the folder already
    letters = corpus.scanned[:QUICK_LETTERS] if cfg.quick else corpus.scanned
    if not letters:
        return {"skipped": "no scanned letters"}
    work = _workdir(cfg, "dask")
    _link_letters(letters, work / "in")
    settings = replace(cfg.settings, reuse_ocr=False)  # every page really OCR'd
    rounds = 1 if cfg.quick else max(2, cfg.repeat)
    runs: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    # and one more worker held to one core: a second baseline (see run.on_one_core)
    with dask_cli_cluster(1, work / "cluster-1") as one, dask_cli_cluster(2, work / "cluster-2") as two, \
            dask_cli_cluster(1, work / "cluster-1-core", worker_cpus=one_core_cpus()) as pinned:
        echo(f"  clusters up in {time.perf_counter() - t0:.1f} s: 1 worker at {one.address}, 2 workers at "
             f"{two.address}, 1 worker on one core at {pinned.address}")
        clusters = (("1", 1, one), ("2", 2, two), ("1@1", 1, pinned))
        for r in range(rounds):
            for key, n, cluster in clusters:
                with ExitStack() as others:  # the clusters not measured now are frozen meanwhile
                    for _, _, other in clusters:
                        if other is not cluster:
                            others.enter_context(other.frozen())
                    res = _timed_run(work / "in", corpus.promises_path, work / f"out-{key}-{r}", settings, n,
                                     cluster.address)
                shutil.rmtree(work / f"out-{key}-{r}", ignore_errors=True)
                where = " on one core" if key == "1@1" else ""
                echo(f"  round {r + 1}/{rounds}, {n} Dask worker(s){where}: {res['letters']} letters, {res['pages']} "
                     f"pages in {res['seconds']} s (load {res['load']})")
                if key not in runs or res["seconds"] < runs[key]["seconds"]:
                    runs[key] = res
    out.update(runs=runs, rounds=rounds, letters=len(letters), cpus=os.cpu_count(),
               dask_speedup=round(runs["1"]["seconds"] / runs["2"]["seconds"], 3),
               dask_speedup_one_core=round(runs["1@1"]["seconds"] / runs["2"]["seconds"], 3), load_after=_load())
    out["targets"] = check(out)
    return out


def bench_pagesplit(cfg: BenchConfig, echo: Echo) -> dict[str, Any]:
    """One generated ``cfg.pages``-page scanned PDF (200 dpi) through ``run_batch`` with 1 worker
    and with 2 (which read it by page ranges); both must give the same text, one letter."""
    from pipeline.bench.run import QUICK_MEMORY_PAGES, write_long_scan, write_sample_registry

    out: dict[str, Any] = {"load_before": _load()}
    pages = QUICK_MEMORY_PAGES if cfg.quick else cfg.pages
    work = _workdir(cfg, "pagesplit")
    (work / "in").mkdir()
    t0 = time.perf_counter()
    write_long_scan(work / "in" / f"long-{pages}.pdf", pages)
    registry = cfg.promises or write_sample_registry(work / "promises.csv")
    echo(f"  generated a {pages}-page scanned PDF in {time.perf_counter() - t0:.1f} s")
    settings = replace(cfg.settings, reuse_ocr=False)
    runs: dict[str, dict[str, Any]] = {}
    texts: dict[int, str] = {}
    for n in (1, 2):  # one round: a 300-page run is long enough to average out short disturbances
        dest = work / f"out-{n}"
        res = _timed_run(work / "in", registry, dest, settings, n, None)
        texts[n] = "".join(p.read_text(encoding="utf-8") for p in sorted((dest / "text").glob("*.txt")))
        shutil.rmtree(dest, ignore_errors=True)
        echo(f"  --workers {n}: {res['letters']} letter(s), {res['pages']} pages in {res['seconds']} s (load {res['load']})")
        runs[str(n)] = res
    out.update(runs=runs, pages=pages, cpus=os.cpu_count(), same_text=texts[1] == texts[2],
               one_letter=all(r["letters"] == 1 for r in runs.values()),
               pagesplit_speedup=round(runs["1"]["seconds"] / runs["2"]["seconds"], 3), load_after=_load())
    out["targets"] = check(out)
    return out


def summary_line(name: str, res: dict[str, Any]) -> str:
    """The section's figures in one line (``run.format_report`` prints it)."""
    runs = ", ".join(f"{n} worker(s) {r['seconds']} s" for n, r in res["runs"].items())
    if name == "dask":
        return (f"dask: {res['letters']} scanned letters on a CLI cluster, best of {res['rounds']} rounds: "
                f"{runs}; speed-up x{res['dask_speedup']}, x{res.get('dask_speedup_one_core')} over one worker held to "
                f"one core (load {res['load_before']} -> {res['load_after']})")
    return (f"pagesplit: {res['pages']}-page scanned PDF: {runs}; speed-up x{res['pagesplit_speedup']}; "
            f"same text {res['same_text']}, one letter {res['one_letter']} (load {res['load_before']} -> {res['load_after']})")


def format_section(name: str, res: dict[str, Any]) -> str:
    if "skipped" in res:
        return f"{name}: skipped ({res['skipped']})"
    lines = [f"load average before {res['load_before']}, after {res['load_after']} ({res['cpus']} cores)",
             summary_line(name, res)]
    for t in res.get("targets", []):
        lines.append(f"  {'met   ' if t['met'] else 'MISSED'} {t['description']}: {t['value']:g} (target {t['target']})")
    return "\n".join(lines)


def dask_section(ctx: Any) -> dict[str, Any]:
    """``bench_dask`` as a section of ``pipeline.bench.run`` (``ctx``: its BenchContext)."""
    return bench_dask(ctx.cfg, ctx.echo, ctx.corpus)


def pagesplit_section(ctx: Any) -> dict[str, Any]:
    """``bench_pagesplit`` as a section of ``pipeline.bench.run`` (``ctx``: its BenchContext)."""
    return bench_pagesplit(ctx.cfg, ctx.echo)
