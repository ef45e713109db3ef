"""Whole-process figures of `letters bench`, measured from outside as a user runs the commands.

Each `letters run` here is a fresh subprocess with a fresh output folder (so a fresh database:
no OCR cache), timed beside the raw reference command on the same files in the same run:

- ``startup``: one born-digital letter end to end against ``pdftotext`` on it, and ``letters --help``;
- ``scanpage``: one scanned image page end to end against raw ``tesseract IMG - -l ukr+rus``;
- ``ten``: ten scanned letters (``--workers 1``) against raw Tesseract on their pages, with the
  run's peak memory;
- ``registry``: fields + match + verdict ms per letter with 10,000 and 100,000 promises.

Both sides run with ``OMP_THREAD_LIMIT=1`` (one core each: our workers set it for Tesseract,
and a raw Tesseract with OpenMP threads would be measured on two cores against our one).
Wall times are the quickest of the rounds (the one least slowed by other people's processes);
CPU times (the process and its children) are given beside them.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.bench.run import QUICK_LETTERS, RAW_LANGUAGES, Timing, _workdir, raw_tesseract_seconds
from pipeline.schema import Letter
from pipeline.settings import PROJECT_DIR
from pipeline.stages.text import IMAGE_KINDS

if TYPE_CHECKING:
    from pipeline.bench.run import BenchContext

SAMPLE_EVERY_S = 0.05


@dataclass
class Measured:
    """One subprocess: its wall and CPU seconds (itself and every child it waited for) and its
    peak memory: RSS of its whole process tree, and PSS (shared pages of forked workers counted once)."""

    wall: float
    cpu: float
    returncode: int
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    stderr: str = ""


def _pss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def measure_command(cmd: list[str], env: dict[str, str] | None = None, memory: bool = False,
                    cwd: Path | None = None) -> Measured:
    """Run ``cmd`` to its end; with ``memory``, sample its process tree's memory every 50 ms."""
    import psutil

    env = dict(os.environ if env is None else env, OMP_THREAD_LIMIT="1", COLUMNS="120")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd or PROJECT_DIR)
    peak_rss = peak_pss = 0
    try:
        if memory:
            while proc.poll() is None:
                try:
                    tree = [proc, *proc.children(recursive=True)]
                    rss = sum(p.memory_info().rss for p in tree)
                    pss = [_pss_kb(p.pid) for p in tree]
                except psutil.Error:
                    continue
                peak_rss = max(peak_rss, rss)
                if None not in pss:
                    peak_pss = max(peak_pss, 1024 * sum(x for x in pss if x is not None))
                time.sleep(SAMPLE_EVERY_S)
        err = proc.communicate()[1] or b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, cpu, proc.returncode, round(peak_rss / 2**20, 1), round(peak_pss / 2**20, 1),
                    err.decode(errors="replace")[-600:])


def letters_cmd(*args: str) -> list[str]:
    """`letters ARGS` with this interpreter and this checkout (what the console script runs)."""
    return [sys.executable, "-m", "pipeline.cli", *args]


def _run_cmd(folder: Path, ctx: BenchContext, out: Path, workers: int = 1) -> list[str]:
    assert ctx.corpus is not None
    return letters_cmd("run", str(folder), "--promises", str(ctx.corpus.promises_path), "--out", str(out),
                       "--workers", str(workers), "--models", str(ctx.cfg.settings.models_dir))


def _folder_of(letters: list[Letter], folder: Path) -> Path:
    """A folder holding (symlinks to) the letters' files only: measured in place, never copied."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for letter in letters:
        for f in letter.files:
            (folder / f.rel_path.replace("/", "__")).symlink_to(f.path)
    return folder


def _best(runs: list[Measured]) -> Measured:
    return min(runs, key=lambda m: m.wall)


def _rounds(ctx: BenchContext, full: int) -> int:
    return 1 if ctx.cfg.quick else max(full, ctx.cfg.repeat)


def _failed(what: str, m: Measured) -> dict[str, Any]:
    return {"error": f"{what} exited with {m.returncode}: {m.stderr}"}


# --- start-up ---------------------------------------------------------------------------------------


def bench_startup(ctx: BenchContext) -> dict[str, Any]:
    """One born-digital letter end to end (fresh output each round) vs pdftotext; `letters --help`."""
    corpus = ctx.corpus
    assert corpus is not None
    if not corpus.born:
        return {"skipped": "no born-digital PDF in the folder"}
    letter = corpus.born[0]
    work = _workdir(ctx.cfg) / "startup"
    folder = _folder_of([letter], work / "in")
    rounds = _rounds(ctx, 3)
    runs = []
    for r in range(rounds):
        m = measure_command(_run_cmd(folder, ctx, work / f"out-{r}"), memory=True)
        if m.returncode != 0:
            return _failed("letters run", m)
        runs.append(m)
        shutil.rmtree(work / f"out-{r}", ignore_errors=True)
    helps = [measure_command(letters_cmd("--help")) for _ in range(max(3, rounds + 2))]
    best, help_best = _best(runs), _best(helps)
    res: dict[str, Any] = {
        "file": letter.source_file, "rounds": rounds,
        "startup_born_s": round(best.wall, 3), "startup_born_cpu_s": round(best.cpu, 3),
        "startup_born_median_s": round(statistics.median(m.wall for m in runs), 3),
        "startup_born_rss_mb": best.peak_rss_mb, "startup_born_pss_mb": best.peak_pss_mb,
        "help_s": round(help_best.wall, 3), "help_cpu_s": round(help_best.cpu, 3),
    }
    if shutil.which("pdftotext"):
        pdf = [measure_command(["pdftotext", str(letter.files[0].path), "-"]) for _ in range(rounds)]
        res["pdftotext_s"] = round(_best(pdf).wall, 3)
        res["startup_ratio_to_pdftotext"] = round(best.wall / max(_best(pdf).wall, 1e-6), 1)
    else:
        res["pdftotext_s"] = None  # poppler-utils not installed
    ctx.echo(f"  {letter.source_file}: letters run {best.wall:.2f} s wall / {best.cpu:.2f} s CPU (median "
             f"{res['startup_born_median_s']} s), pdftotext {res['pdftotext_s']} s; --help {help_best.wall:.3f} s")
    return res


# --- one scanned page ---------------------------------------------------------------------------------


def _one_page_scan(letters: list[Letter]) -> Letter | None:
    return next((x for x in letters if x.kind in IMAGE_KINDS and len(x.files) == 1), None)


def bench_scan_page(ctx: BenchContext) -> dict[str, Any]:
    """`letters run` on one scanned image page against raw tesseract on the same file."""
    assert ctx.corpus is not None
    letter = _one_page_scan(ctx.corpus.scanned)
    if letter is None:
        return {"skipped": "no single-page scanned image in the folder"}
    work = _workdir(ctx.cfg) / "scanpage"
    folder = _folder_of([letter], work / "in")
    ours, raw = [], []
    for r in range(_rounds(ctx, 2)):  # alternated, so both sides share the moment's contention
        raw.append(measure_command(["tesseract", str(letter.files[0].path), "-", "-l", RAW_LANGUAGES]))
        m = measure_command(_run_cmd(folder, ctx, work / f"out-{r}"))
        if m.returncode != 0:
            return _failed("letters run", m)
        ours.append(m)
        shutil.rmtree(work / f"out-{r}", ignore_errors=True)
    o, t = _best(ours), _best(raw)
    res = {"file": letter.source_file, "ours_s": round(o.wall, 2), "ours_cpu_s": round(o.cpu, 2),
           "raw_s": round(t.wall, 2), "raw_cpu_s": round(t.cpu, 2),
           "scan_page_ratio": round(o.wall / t.wall, 3), "scan_page_ratio_cpu": round(o.cpu / max(t.cpu, 1e-6), 3)}
    ctx.echo(f"  {letter.source_file}: letters run {o.wall:.2f} s ({o.cpu:.2f} CPU), raw tesseract {t.wall:.2f} s "
             f"({t.cpu:.2f} CPU): x{res['scan_page_ratio']}")
    return res


# --- ten scanned letters ---------------------------------------------------------------------------------


def bench_ten(ctx: BenchContext) -> dict[str, Any]:
    """`letters run --workers 1` on ten scanned letters against raw tesseract on their pages; peak memory."""
    assert ctx.corpus is not None
    letters = ctx.corpus.scanned[:QUICK_LETTERS if ctx.cfg.quick else 10]
    if not letters:
        return {"skipped": "no scanned letters"}
    work = _workdir(ctx.cfg) / "ten"
    folder = _folder_of(letters, work / "in")
    tmp = work / "raw"
    tmp.mkdir(exist_ok=True)
    raw, pages = Timing(), 0
    for letter in letters:
        t, n = raw_tesseract_seconds(letter, ctx.cfg.settings, tmp)
        raw += t
        pages += n
    m = measure_command(_run_cmd(folder, ctx, work / "out"), memory=True)
    shutil.rmtree(work / "out", ignore_errors=True)
    if m.returncode != 0:
        return _failed("letters run", m)
    res = {"letters": len(letters), "pages": pages, "ours_s": round(m.wall, 2), "ours_cpu_s": round(m.cpu, 2),
           "raw_s": round(raw.wall, 2), "raw_cpu_s": round(raw.cpu, 2),
           "ten_letters_ratio": round(m.wall / raw.wall, 3) if raw.wall else None,
           "ten_letters_ratio_cpu": round(m.cpu / raw.cpu, 3) if raw.cpu else None,
           "rss_ten_letters_mb": m.peak_pss_mb or m.peak_rss_mb, "rss_sum_ten_letters_mb": m.peak_rss_mb}
    ctx.echo(f"  {len(letters)} letters, {pages} pages: letters run {m.wall:.1f} s ({m.cpu:.1f} CPU), raw tesseract "
             f"{raw.wall:.1f} s ({raw.cpu:.1f} CPU): x{res['ten_letters_ratio']}; peak PSS {m.peak_pss_mb} MB "
             f"(RSS summed over the processes {m.peak_rss_mb} MB)")
    return res


# --- registry scale ---------------------------------------------------------------------------------


def bench_registry(ctx: BenchContext) -> dict[str, Any]:
    """fields + match + verdict ms per letter with 10,000 and 100,000 invented promises."""
    from pipeline.bench.registry import stage_ms

    sizes = (1_000, 10_000) if ctx.cfg.quick else (10_000, 100_000)
    res = stage_ms(sizes, 4 if ctx.cfg.quick else 8, ctx.cfg.settings)
    out: dict[str, Any] = {"sizes": res}
    for n, r in res.items():
        key = {"10000": "registry_ms_10k", "100000": "registry_ms_100k"}.get(n)
        if key:
            out[key] = r["ms_per_letter"]
        ctx.echo(f"  {int(n):,} promises: {r['ms_per_letter']} ms per letter (max {r['ms_max']}), "
                 f"Processor built in {r['build_s']} s")
    return out
