"""`letters bench`: speed and memory of the pipeline, as ratios measured in one run.

Sections (each a function returning a plain dict; :func:`format_report` prints them):

- ``ocr``: our OCR stage (:func:`extract_text`, preparation off and on) against the raw
  ``tesseract IMAGE - -l ukr+rus`` command on the same page images, seconds per page.
  Image files go to the raw command as they are; PDF pages are rendered the way
  ``text.py`` renders them (pypdfium2, ``render_dpi``) and saved losslessly first
  (not timed). Per letter the three run back to back, single-threaded
  (``OMP_THREAD_LIMIT=1``), so they share the same moment's CPU contention.
- ``born``: born-digital PDF pages per second (text layer, no OCR).
- ``match``: fields + match + verdict milliseconds per letter, on texts already extracted.
- ``throughput``: ``run_batch`` with 2 workers against 1 on the scanned letters
  (fresh database each, ``force``), Processor start-up included, as a user sees it.
- ``memory``: peak RSS of a ``letters run`` subprocess on a generated long scanned PDF.

Numbers on a shared machine are noisy: the load average before and after is reported.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.schema import FileKind, Letter, LetterText, Promise, TextSource
from pipeline.settings import PROJECT_DIR, Settings

DEFAULT_FOLDER = "../shared/devset/files"  # relative to the project folder
RAW_LANGUAGES = "ukr+rus"
QUICK_LETTERS = 3  # scanned letters per section in --quick
QUICK_MEMORY_PAGES = 10

# name -> (description, comparison, limit); a result is checked against its limit. The issue's
# targets (whole-process figures are measured from outside, as a user runs the command).
TARGETS: dict[str, tuple[str, str, float]] = {
    "startup_born_s": ("one born-digital letter end to end (`letters run`, fresh output), s", "<=", 1.5),
    "help_s": ("`letters --help`, s", "<=", 0.3),
    "scan_page_ratio": ("one scanned page end to end / raw `tesseract IMG - -l ukr+rus`", "<=", 1.5),
    "ten_letters_ratio": ("ten scanned letters (`letters run --workers 1`) / raw tesseract on them", "<=", 1.10),
    "born_pages_per_s": ("born-digital PDF pages per second", ">=", 100.0),
    "workers_speedup": ("run_batch --workers 2 speed-up over --workers 1", ">=", 1.9),
    "rss_ten_letters_mb": ("peak memory of `letters run` on ten scanned letters, MB", "<=", 300.0),
    "peak_rss_mb": ("peak memory of `letters run` on the 300-page scanned PDF, MB", "<=", 400.0),
    "registry_ms_10k": ("fields + match + verdict ms per letter, 10,000 promises", "<=", 20.0),
    "registry_ms_100k": ("fields + match + verdict ms per letter, 100,000 promises", "<=", 100.0),
    "dask_speedup": ("two Dask workers over one", ">=", 1.8),
    "pagesplit_speedup": ("a 300-page scanned PDF split over 2 workers by page ranges", ">=", 1.8),
}

Echo = Callable[[str], None]


@dataclass
class BenchConfig:
    folder: Path
    promises: Path | None = None
    settings: Settings = field(default_factory=Settings)
    repeat: int = 1
    quick: bool = False
    pages: int = 300  # of the generated PDF for the memory section
    workdir: Path | None = None  # temporary files (default: a fresh temp folder)


def resolve_folder(folder: str | Path | None) -> Path:
    """The folder to measure on; a relative path is taken from the project folder."""
    path = Path(folder or DEFAULT_FOLDER)
    if not path.is_absolute():
        path = (PROJECT_DIR / path).resolve()
    if not path.is_dir():
        raise UsageError(f"bench folder not found: {path}")
    return path


def single_threaded() -> None:
    """One thread per library: the comparisons are per core, like one pool worker."""
    for var in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (Tesseract runs)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0

    def __iadd__(self, other: Timing) -> Timing:
        self.wall += other.wall
        self.cpu += other.cpu
        return self


@contextmanager
def _clock() -> Iterator[Timing]:
    """Wall and CPU time of the block. On a shared machine CPU time is the steadier number:
    other people's processes stretch the wall clock, not the CPU work done."""
    t = Timing()
    w0, c0 = time.perf_counter(), _cpu()
    try:
        yield t
    finally:
        t.wall, t.cpu = time.perf_counter() - w0, _cpu() - c0


def one_core_cpus() -> set[int] | None:
    """The one CPU a scaling baseline is held to (see :func:`on_one_core`); None where affinity cannot be set."""
    getter = getattr(os, "sched_getaffinity", None)
    return {min(getter(0))} if getter is not None else None


@contextmanager
def on_one_core() -> Iterator[bool]:
    """This process, and every process it starts meanwhile, held to one CPU: a second baseline of
    the scaling figures. One worker left free to use both cores uses more than one (Tesseract
    loads its models on the other while a page is prepared), so two workers over it measure less
    than how well a second core is used; over one worker on one core, they measure that.
    Yields whether it could be done."""
    cpus = one_core_cpus()
    if cpus is None:
        yield False
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield True
    finally:
        os.sched_setaffinity(0, before)


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# --- the letters to measure on ---------------------------------------------------------


@dataclass
class Corpus:
    born: list[Letter]  # every page has a text layer
    scanned: list[Letter]  # at least one page is OCR'd
    promises: list[Promise]
    promises_path: Path


class _NeedsOcr(Exception):
    pass


def _refuse_ocr(item: Any, settings: Settings) -> Any:
    raise _NeedsOcr


def load_corpus(cfg: BenchConfig, echo: Echo) -> Corpus:
    from pipeline.stages import ingest
    from pipeline.stages.registry import load_registry
    from pipeline.stages.text import extract_text

    found = ingest.discover(cfg.folder, cfg.settings.limits)
    if not found.letters:
        raise UsageError(f"no letters found in {cfg.folder}")
    born, scanned = [], []
    for letter in sorted(found.letters, key=lambda x: x.source_file):
        if letter.kind != FileKind.PDF:
            scanned.append(letter)
            continue
        try:
            extract_text(letter, cfg.settings, ocr=_refuse_ocr)  # also warms pdfminer and pdfium up
            born.append(letter)
        except _NeedsOcr:
            scanned.append(letter)
    promises_path = cfg.promises or _default_promises(cfg)
    promises = load_registry(promises_path)
    echo(f"{len(found.letters)} letters in {cfg.folder}: {len(born)} born-digital, {len(scanned)} scanned; "
         f"registry {promises_path} ({len(promises)} promises)")
    return Corpus(born, scanned, promises, promises_path)


def _default_promises(cfg: BenchConfig) -> Path:
    for cand in (cfg.folder / "promises.csv", cfg.folder.parent / "promises.csv"):
        if cand.is_file():
            return cand
    return write_sample_registry(_workdir(cfg) / "promises.csv")


def write_sample_registry(path: Path) -> Path:
    """The project's invented sample promises as a registry CSV."""
    from pipeline.samplegen import write_sample_registry as write

    return write(path)


def _workdir(cfg: BenchConfig) -> Path:
    if cfg.workdir is None:
        cfg.workdir = Path(tempfile.mkdtemp(prefix="letters-bench-"))
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    return cfg.workdir


def _sample(letters: list[Letter], cfg: BenchConfig) -> list[Letter]:
    return letters[:QUICK_LETTERS] if cfg.quick else letters


# --- OCR: ours against raw Tesseract ------------------------------------------------------


def raw_tesseract_seconds(letter: Letter, settings: Settings, tmp: Path) -> tuple[Timing, int]:
    """Time the plain ``tesseract IMAGE - -l ukr+rus`` takes on the letter's OCR pages, and their count.

    Image files are read by Tesseract as they are; PDF pages that need OCR are rendered like
    text.py does and saved as PNG first (saving is not timed)."""
    from pipeline.stages.text import PageImage, iter_pages

    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    inputs: list[Path] = []
    pages = 0
    if letter.kind == FileKind.PDF:
        for item in iter_pages(letter, settings):
            if isinstance(item, PageImage):
                img = item.load()
                path = tmp / f"{letter.letter_id}-{item.page_no}.png"
                img.save(path, format="PNG", compress_level=1, dpi=(item.dpi, item.dpi) if item.dpi else None)
                img.close()
                inputs.append(path)
                pages += 1
    else:
        for src in letter.files:
            inputs.append(src.path)
        pages = sum(1 for _ in iter_pages(letter, settings))
    total = Timing()
    for path in inputs:
        with _clock() as t:
            subprocess.run(["tesseract", str(path), "-", "-l", RAW_LANGUAGES], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        total += t
        if path.parent == tmp:
            path.unlink()
    return total, pages


def bench_ocr(corpus: Corpus, cfg: BenchConfig, echo: Echo, texts: dict[str, LetterText] | None = None) -> dict[str, Any]:
    """Seconds per OCR'd page: raw Tesseract, our stage with preparation off, and on."""
    from pipeline.stages.text import extract_text

    off = replace(cfg.settings, ocr=replace(cfg.settings.ocr, prepare=False))
    on = replace(cfg.settings, ocr=replace(cfg.settings.ocr, prepare=True))
    tmp = _workdir(cfg) / "ocr"
    tmp.mkdir(exist_ok=True)
    letters = _sample(corpus.scanned, cfg) * cfg.repeat
    if not letters:
        return {"skipped": "no scanned letters"}
    raw, off_t, on_t = Timing(), Timing(), Timing()
    pages = 0
    per_letter = []
    for i, letter in enumerate(letters, 1):
        r, n = raw_tesseract_seconds(letter, cfg.settings, tmp)
        with _clock() as t_off:
            extract_text(letter, off)
        with _clock() as t_on:
            text = extract_text(letter, on)
        if texts is not None:
            texts[letter.letter_id] = text
        ocr_pages = sum(1 for p in text.pages if p.source == TextSource.OCR)
        if ocr_pages != n:
            echo(f"  note: {letter.source_file}: {n} raw pages, {ocr_pages} OCR'd by the pipeline")
        raw += r
        off_t += t_off
        on_t += t_on
        pages += n
        per_letter.append({"file": letter.source_file, "pages": n,
                           "raw": [round(r.wall, 2), round(r.cpu, 2)], "off": [round(t_off.wall, 2), round(t_off.cpu, 2)],
                           "on": [round(t_on.wall, 2), round(t_on.cpu, 2)]})
        echo(f"  [{i}/{len(letters)}] {letter.source_file} ({n} p.), wall/CPU s: raw {r.wall:.2f}/{r.cpu:.2f}, "
             f"ours off {t_off.wall:.2f}/{t_off.cpu:.2f}, on {t_on.wall:.2f}/{t_on.cpu:.2f}")
    pages = max(pages, 1)
    return {
        "pages": pages,
        "raw_s_per_page": round(raw.wall / pages, 3),
        "off_s_per_page": round(off_t.wall / pages, 3),
        "on_s_per_page": round(on_t.wall / pages, 3),
        "raw_cpu_s_per_page": round(raw.cpu / pages, 3),
        "off_cpu_s_per_page": round(off_t.cpu / pages, 3),
        "on_cpu_s_per_page": round(on_t.cpu / pages, 3),
        "ocr_ratio_off_wall": round(off_t.wall / raw.wall, 3) if raw.wall else None,
        "ocr_ratio_on_wall": round(on_t.wall / raw.wall, 3) if raw.wall else None,
        # the target is checked on CPU time: steady on a shared machine, the same as wall on an idle one
        "ocr_ratio_off": round(off_t.cpu / raw.cpu, 3) if raw.cpu else None,
        "ocr_ratio_on": round(on_t.cpu / raw.cpu, 3) if raw.cpu else None,
        "per_letter": per_letter,
    }


# --- born-digital PDFs --------------------------------------------------------------------


def bench_born(corpus: Corpus, cfg: BenchConfig, echo: Echo, texts: dict[str, LetterText] | None = None) -> dict[str, Any]:
    from pipeline.stages.text import extract_text

    letters = corpus.born * max(cfg.repeat, 1 if cfg.quick else 3)  # one pass takes well under a second
    if not letters:
        return {"skipped": "no born-digital PDFs"}
    pages = 0
    with _clock() as t:
        for letter in letters:
            text = extract_text(letter, cfg.settings)
            pages += len(text.pages)
            if texts is not None:
                texts[letter.letter_id] = text
    echo(f"  {pages} born-digital pages in {t.wall:.2f} s wall, {t.cpu:.2f} s CPU")
    return {"pages": pages, "seconds": round(t.wall, 3), "cpu_seconds": round(t.cpu, 3),
            "born_pages_per_s_wall": round(pages / t.wall, 1) if t.wall else None,
            "born_pages_per_s": round(pages / t.cpu, 1) if t.cpu else None}


# --- fields + match + verdict ------------------------------------------------------------


def bench_stages(corpus: Corpus, cfg: BenchConfig, echo: Echo, texts: dict[str, LetterText]) -> dict[str, Any]:
    """Milliseconds per letter for the stages after text, with the Processor's own objects."""
    from pipeline.api import Processor
    from pipeline.stages.fields import extract_fields
    from pipeline.stages.match import match_letter

    s = cfg.settings
    with _clock() as t_build:
        processor = Processor(corpus.promises, s)
    by_id = {letter.letter_id: letter for letter in corpus.born + corpus.scanned}
    items = [(by_id[lid], text) for lid, text in texts.items() if lid in by_id]
    if not items:
        return {"skipped": "no texts"}

    passages = [0]

    def one(letter: Letter, text: LetterText) -> tuple[float, float, float, float]:
        """CPU seconds of fields, match, verdict (single-threaded, so CPU is the idle machine's
        wall time), and the wall seconds of all three."""
        from pipeline.stages.dates import iso_date

        w0, t0 = time.perf_counter(), time.process_time()
        fields = extract_fields(text)
        t1 = time.process_time()
        matches = match_letter(text, fields, processor.index, s.match_threshold, s.near_tie_margin)
        t2 = time.process_time()
        for m in matches:
            processor._update(letter, m, fields.language.value, iso_date(fields.letter_date.value))
        passages[0] += len(matches)
        return t1 - t0, t2 - t1, time.process_time() - t2, time.perf_counter() - w0

    for letter, text in items:  # warm-up: lazy loads (spaCy, lemmatiser caches) are start-up, not per letter
        one(letter, text)
    rounds = max(cfg.repeat, 1 if cfg.quick else 3)
    passages[0] = 0
    timings = [one(letter, text) for _ in range(rounds) for letter, text in items]
    totals = sorted(sum(t[:3]) * 1000 for t in timings)
    res = {
        "letters": len(items),
        "rounds": rounds,
        "processor_build_s": round(t_build.wall, 2),
        "processor_build_cpu_s": round(t_build.cpu, 2),
        "fields_ms": round(statistics.fmean(t[0] for t in timings) * 1000, 2),
        "match_ms": round(statistics.fmean(t[1] for t in timings) * 1000, 2),
        "verdict_ms": round(statistics.fmean(t[2] for t in timings) * 1000, 2),
        "verdict_ms_per_passage": round(sum(t[2] for t in timings) * 1000 / passages[0], 2) if passages[0] else None,
        "stages_ms_per_letter": round(statistics.fmean(totals), 2),
        "p95_ms": round(totals[min(len(totals) - 1, int(0.95 * len(totals)))], 2),
        "wall_ms_per_letter": round(statistics.fmean(t[3] for t in timings) * 1000, 2),
    }
    echo(f"  {len(items)} letters x {rounds}, CPU ms: fields {res['fields_ms']}, match {res['match_ms']}, "
         f"verdict {res['verdict_ms']} (wall {res['wall_ms_per_letter']} ms); "
         f"Processor start-up {res['processor_build_s']} s wall, {res['processor_build_cpu_s']} s CPU")
    return res


# --- throughput: 1 worker against 2 -----------------------------------------------------------


def bench_throughput(corpus: Corpus, cfg: BenchConfig, echo: Echo, workers: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    """run_batch on the scanned letters (symlinked into a folder of their own) with each worker count."""
    from pipeline.api import run_batch

    letters = _sample(corpus.scanned, cfg)
    if not letters:
        return {"skipped": "no scanned letters"}
    work = _workdir(cfg) / "throughput"
    shutil.rmtree(work, ignore_errors=True)
    src = work / "in"
    src.mkdir(parents=True)
    for letter in letters:
        for f in letter.files:
            (src / f.rel_path.replace("/", "__")).symlink_to(f.path)  # measured in place, never copied
    runs: dict[str, Any] = {}
    settings = replace(cfg.settings, reuse_ocr=False)  # every page really OCR'd (each run has a fresh database anyway)
    # Other people's processes come and go: alternate the worker counts over a few rounds and
    # keep each one's quickest run, the one least slowed down by them.
    rounds = 1 if cfg.quick else max(2, cfg.repeat)
    # "1@1": one worker held to one core, the baseline of the scaling figure; "1": left free
    kinds = [(str(n), n, False) for n in workers] + ([("1@1", 1, True)] if 1 in workers else [])
    for r in range(rounds):
        for key, n, pinned in kinds:
            out = work / f"out-{key}-{r}"
            stamps: list[float] = []
            with (on_one_core() if pinned else nullcontext()), _clock() as t:
                t0, p0 = time.perf_counter(), time.process_time()
                report = run_batch(src, corpus.promises_path, out, out / "letters.db", settings, workers=n, force=True,
                                   on_result=lambda _, s=stamps, t0=t0: s.append(time.perf_counter() - t0))
                parent_cpu = time.process_time() - p0  # the runner's own work (database, files), beside the workers'
            shutil.rmtree(out, ignore_errors=True)
            run = {"seconds": round(t.wall, 2), "letters": report.letters, "pages": report.pages,
                   "failed": report.counts.get("failed", 0), "first_result_s": round(stamps[0], 2),
                   "last_result_s": round(stamps[-1], 2), "parent_cpu_s": round(parent_cpu, 2),
                   "cpu_s": round(t.cpu, 2), "load": _load()}  # cpu_s: the runner's and its (joined) workers'
            where = " on one core" if pinned else ""
            echo(f"  round {r + 1}/{rounds} --workers {n}{where}: {report.letters} letters, {report.pages} pages in "
                 f"{t.wall:.1f} s, CPU {t.cpu:.1f} s (runner {parent_cpu:.1f} s; load {run['load']})")
            best = runs.get(key)
            if best is None or run["seconds"] < best["seconds"]:
                runs[key] = run
    res: dict[str, Any] = {"runs": runs, "rounds": rounds, "cpus": os.cpu_count()}
    if "1" in runs and "2" in runs:
        one, two = runs["1"], runs["2"]
        res["workers_speedup"] = round(one["seconds"] / two["seconds"], 3)
        if "1@1" in runs:  # two cores over one core: how well the second core is used
            res["workers_speedup_one_core"] = round(runs["1@1"]["seconds"] / two["seconds"], 3)
        # The most the two-worker run could reach with the CPU it spent, no core ever idle: one
        # worker already keeps more than one core busy (its Processor built, its next page decoded,
        # the runner's database written beside its OCR) and two workers duplicate their start-up.
        res["cores_one_worker"] = round(one["cpu_s"] / max(one["seconds"], 1e-9), 3)
        res["speedup_cpu_bound"] = round(one["seconds"] / max(two["cpu_s"] / 2, 1e-9), 3)
        # Without the fixed start-up (models loaded once, before the first letter): how the
        # two compare on a long batch. Approximate: from the first finished letter to the last.
        if len(letters) > 2:
            res["speedup_after_startup"] = round(
                (one["last_result_s"] - one["first_result_s"]) / max(two["last_result_s"] - two["first_result_s"], 1e-9), 3)
    return res


# --- memory: a long scanned PDF ---------------------------------------------------------------


def write_long_scan(path: Path, pages: int, dpi: int = 200, distinct: int = 8) -> Path:
    """An image-only PDF of ``pages`` scanned pages (JPEG, ``dpi``) cycling through ``distinct``
    rendered sample pages: as heavy to read as distinct pages, much quicker to make."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from pipeline.samplegen import JPEG_QUALITY, load_sample_data, render_page_image

    sample_pages = [p for letter in load_sample_data()["letters"] for p in letter["pages"]][:distinct]
    jpegs = []
    for i, lines in enumerate(sample_pages):
        img = render_page_image(lines, dpi=dpi, skew_deg=0.4, noise=0.2, seed=i, letterhead=True)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=JPEG_QUALITY)
        jpegs.append(buf.getvalue())
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1, pageCompression=1)
    w, h = A4
    for i in range(pages):
        # a fresh reader each page: every page carries its own image object, like a real scan
        c.drawImage(ImageReader(io.BytesIO(jpegs[i % len(jpegs)])), 0, 0, width=w, height=h)
        c.showPage()
    c.save()
    return path


def bench_memory(corpus: Corpus | None, cfg: BenchConfig, echo: Echo, prepare: bool = True) -> dict[str, Any]:
    """Peak memory of a `letters run --workers 1` subprocess on a generated ``cfg.pages``-page scan:
    PSS summed over its process tree (the runner, its worker, their Tesseracts; pages a forked worker
    shares with the runner counted once), and RSS of the runner alone and summed over the tree."""
    from pipeline.bench.process import letters_cmd, measure_command

    pages = QUICK_MEMORY_PAGES if cfg.quick else cfg.pages
    work = _workdir(cfg) / "memory"
    shutil.rmtree(work, ignore_errors=True)
    (work / "in").mkdir(parents=True)
    with _clock() as t_gen:
        write_long_scan(work / "in" / f"long-{pages}.pdf", pages)
    registry = corpus.promises_path if corpus else write_sample_registry(work / "promises.csv")
    cmd = letters_cmd("run", str(work / "in"), "--promises", str(registry), "--out", str(work / "out"),
                      "--workers", "1", "--force", "--models", str(cfg.settings.models_dir))
    if not prepare:
        cmd.append("--no-prepare")
    echo(f"  generated {pages} pages in {t_gen.wall:.1f} s; running letters run on them ...")
    m = measure_command(cmd, memory=True)
    if m.returncode != 0:
        return {"error": f"letters run exited with {m.returncode}: {m.stderr[-400:]}"}
    res = {
        "pages": pages,
        "seconds": round(m.wall, 1),
        "cpu_seconds": round(m.cpu, 1),
        "s_per_page": round(m.wall / pages, 3),
        "peak_rss_mb": m.peak_pss_mb or m.peak_rss_mb,
        "peak_rss_sum_mb": m.peak_rss_mb,
        "prepare": prepare,
    }
    echo(f"  peak PSS {m.peak_pss_mb} MB (RSS summed over the processes {m.peak_rss_mb} MB), "
         f"{m.wall:.0f} s, {res['s_per_page']} s/page")
    return res


# --- all together -------------------------------------------------------------------------------


@dataclass
class BenchContext:
    """What a section gets: the settings, the folder's letters (None for a section that needs none),
    where to print progress, and the texts extracted by earlier sections (reused by ``match``)."""

    cfg: BenchConfig
    corpus: Corpus | None
    echo: Echo
    texts: dict[str, LetterText] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """One section of `letters bench`: ``run`` names its function as "module:function" (imported only
    when the section runs); it takes a :class:`BenchContext` and returns a dict of numbers, whose keys
    named in TARGETS are checked."""

    run: str
    title: str  # printed before it runs
    help: str  # the subcommand's help
    corpus: bool = True  # needs the folder's letters


def _ocr_section(ctx: BenchContext) -> dict[str, Any]:
    assert ctx.corpus is not None
    return bench_ocr(ctx.corpus, ctx.cfg, ctx.echo, ctx.texts)


def _born_section(ctx: BenchContext) -> dict[str, Any]:
    assert ctx.corpus is not None
    return bench_born(ctx.corpus, ctx.cfg, ctx.echo, ctx.texts)


def _match_section(ctx: BenchContext) -> dict[str, Any]:
    assert ctx.corpus is not None
    if not ctx.texts:  # run alone: extract what is cheap to extract
        bench_born(ctx.corpus, replace(ctx.cfg, repeat=1, quick=True), lambda _: None, ctx.texts)
    return bench_stages(ctx.corpus, ctx.cfg, ctx.echo, ctx.texts)


def _throughput_section(ctx: BenchContext) -> dict[str, Any]:
    assert ctx.corpus is not None
    return bench_throughput(ctx.corpus, ctx.cfg, ctx.echo)


def _memory_section(ctx: BenchContext) -> dict[str, Any]:
    return bench_memory(ctx.corpus, ctx.cfg, ctx.echo)


# Every section, in the order `letters bench` runs them; each is also `letters bench NAME`.
# A new section is one line here (its function in its own module).
SECTIONS: dict[str, Section] = {
    "startup": Section("pipeline.bench.process:bench_startup",
                       "start-up: one born-digital letter end to end vs pdftotext; letters --help",
                       "One born-digital letter end to end (`letters run`, fresh output) vs `pdftotext`; `letters --help`."),
    "scanpage": Section("pipeline.bench.process:bench_scan_page",
                        "one scanned page end to end vs raw tesseract",
                        "`letters run` on one scanned image page vs raw `tesseract IMG - -l ukr+rus`."),
    "ten": Section("pipeline.bench.process:bench_ten", "ten scanned letters end to end vs raw tesseract; peak memory",
                   "`letters run --workers 1` on ten scanned letters vs raw tesseract on their pages, and its peak memory."),
    "ocr": Section("pipeline.bench.run:_ocr_section",
                   "OCR: raw tesseract vs ours (preparation off / on), one letter at a time",
                   "Our OCR stage (preparation off and on) against raw `tesseract IMAGE - -l ukr+rus`, seconds per page."),
    "osd": Section("pipeline.bench.orientation:bench_orientation",
                   "orientation detection: in-process vs the tesseract program, on an upside-down page",
                   "Orientation detection (Tesseract OSD) in this process vs `tesseract --psm 0 -l osd`, on a "
                   "generated page turned upside down.", corpus=False),
    "born": Section("pipeline.bench.run:_born_section", "born-digital PDFs (text layer)",
                    "Born-digital PDF pages per second (text layer, no OCR)."),
    "match": Section("pipeline.bench.run:_match_section", "fields + match + verdict per letter",
                     "Fields + match + verdict milliseconds per letter, on texts already extracted (born-digital letters)."),
    "throughput": Section("pipeline.bench.run:_throughput_section",
                          "throughput: run_batch --workers 1 vs 2 on the scanned letters",
                          "Speed-up of `letters run --workers 2` over `--workers 1` on the folder's scanned letters."),
    "memory": Section("pipeline.bench.run:_memory_section", "memory: letters run on a long scanned PDF",
                      "Peak memory of `letters run` on a generated long scanned PDF (--pages, 200 dpi).", corpus=False),
    "registry": Section("pipeline.bench.process:bench_registry",
                        "registry scale: fields + match + verdict with 10,000 and 100,000 promises",
                        "Fields + match + verdict ms per letter with 10,000 and 100,000 invented promises.", corpus=False),
    "dask": Section("pipeline.bench.cluster:dask_section",
                    "dask: 2 workers vs 1 on clusters started with the Dask CLI, on the scanned letters",
                    "Speed-up of 2 Dask workers over 1 (`dask scheduler` + `dask worker` on free local ports) "
                    "on the folder's scanned letters."),
    "pagesplit": Section("pipeline.bench.cluster:pagesplit_section",
                         "pagesplit: a long scanned PDF read by page ranges, --workers 2 vs 1",
                         "Speed-up of --workers 2 over 1 on one generated --pages-page scanned PDF read by page ranges.",
                         corpus=False),
}


def section_function(section: Section) -> Callable[[BenchContext], dict[str, Any]]:
    import importlib

    module, _, name = section.run.partition(":")
    return getattr(importlib.import_module(module), name)


def _ocr_engine() -> str:
    """What reads the pages in this run's workers (they inherit our environment)."""
    from pipeline.engines import libtesseract

    if libtesseract.available():
        return f"libtesseract {libtesseract.version()} in-process"
    why = f"{libtesseract.ENGINE_VARIABLE}=program" if not libtesseract.wanted() else "no libtesseract"
    return f"the tesseract program ({why})"


def current_bytecode() -> bool:
    """Bring the package's bytecode up to date, as ``make setup`` does, so the processes measured
    run the program as installed rather than compiling its modules from source first (which they
    do on every start where PYTHONDONTWRITEBYTECODE is set). False if it could not be written."""
    import compileall

    import pipeline

    try:
        return bool(compileall.compile_dir(Path(pipeline.__file__).parent, quiet=1))
    except OSError:  # a read-only install: its bytecode is whatever its installer wrote
        return False


def run_bench(cfg: BenchConfig, sections: tuple[str, ...] = tuple(SECTIONS), echo: Echo = print) -> dict[str, Any]:
    """Run the chosen sections in one go; returns {section: numbers} plus the machine's load."""
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise UsageError(f"unknown bench section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    single_threaded()
    out: dict[str, Any] = {"load_before": _load(), "quick": cfg.quick, "repeat": cfg.repeat,
                           "ocr_engine": _ocr_engine(), "bytecode": current_bytecode()}
    started = time.perf_counter()
    corpus = load_corpus(cfg, echo) if any(SECTIONS[name].corpus for name in sections) else None
    ctx = BenchContext(cfg, corpus, echo)
    for name in sections:
        section = SECTIONS[name]
        echo(f"{section.title} (load {_load()})")
        out[name] = section_function(section)(ctx)
    out["load_after"] = _load()
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["targets"] = check_targets(out)
    return out


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: dict[str, float] = {}
    for section in results.values():
        if isinstance(section, dict):
            for k, v in section.items():
                if k in TARGETS and isinstance(v, int | float):
                    found[k] = float(v)
    rows = []
    for name, (desc, op, limit) in TARGETS.items():
        if name not in found:
            continue
        v = found[name]
        ok = v <= limit if op == "<=" else v >= limit
        rows.append({"name": name, "description": desc, "value": v, "target": f"{op} {limit:g}", "met": ok})
    return rows


def format_report(results: dict[str, Any]) -> str:
    lines = [f"load average before {results.get('load_before')}, after {results.get('load_after')} "
             f"({os.cpu_count()} cores); {results.get('seconds')} s in all; OCR by {results.get('ocr_engine')}"
             + ("" if results.get("bytecode", True) else "; the package's bytecode could not be brought up to date")]
    st = results.get("startup")
    if st and "startup_born_s" in st:
        lines.append(f"start-up: one born-digital letter ({st['file']}) end to end {st['startup_born_s']} s wall, "
                     f"{st['startup_born_cpu_s']} s CPU (median {st['startup_born_median_s']} s of {st['rounds']}; "
                     f"peak PSS {st['startup_born_pss_mb']} MB), pdftotext {st['pdftotext_s']} s; "
                     f"letters --help {st['help_s']} s wall, {st['help_cpu_s']} s CPU")
    sp = results.get("scanpage")
    if sp and "scan_page_ratio" in sp:
        lines.append(f"one scanned page ({sp['file']}): letters run {sp['ours_s']} s ({sp['ours_cpu_s']} CPU), raw "
                     f"tesseract {sp['raw_s']} s ({sp['raw_cpu_s']} CPU): x{sp['scan_page_ratio']} wall, "
                     f"x{sp['scan_page_ratio_cpu']} CPU")
    ten = results.get("ten")
    if ten and "ten_letters_ratio" in ten:
        lines.append(f"{ten['letters']} scanned letters ({ten['pages']} pages): letters run {ten['ours_s']} s "
                     f"({ten['ours_cpu_s']} CPU), raw tesseract {ten['raw_s']} s ({ten['raw_cpu_s']} CPU): "
                     f"x{ten['ten_letters_ratio']} wall, x{ten['ten_letters_ratio_cpu']} CPU; peak memory "
                     f"{ten['rss_ten_letters_mb']} MB PSS ({ten['rss_sum_ten_letters_mb']} MB RSS summed)")
    reg = results.get("registry")
    if reg and "sizes" in reg:
        lines.append("registry scale: " + "; ".join(
            f"{int(n):,} promises {r['ms_per_letter']} ms/letter (max {r['ms_max']}, build {r['build_s']} s)"
            for n, r in reg["sizes"].items()))
    ocr = results.get("ocr")
    if ocr and "pages" in ocr:
        lines.append(f"OCR over {ocr['pages']} pages, s/page wall (CPU): raw tesseract {ocr['raw_s_per_page']} "
                     f"({ocr['raw_cpu_s_per_page']}), ours prep off {ocr['off_s_per_page']} ({ocr['off_cpu_s_per_page']}), "
                     f"prep on {ocr['on_s_per_page']} ({ocr['on_cpu_s_per_page']}); ratio to raw, wall (CPU): "
                     f"off x{ocr['ocr_ratio_off_wall']} (x{ocr['ocr_ratio_off']}), "
                     f"on x{ocr['ocr_ratio_on_wall']} (x{ocr['ocr_ratio_on']})")
    born = results.get("born")
    if born and "pages" in born:
        lines.append(f"born-digital: {born['born_pages_per_s_wall']} pages/s wall, {born['born_pages_per_s']} per CPU "
                     f"second ({born['pages']} pages)")
    m = results.get("match")
    if m and "letters" in m:
        lines.append(f"fields+match+verdict: {m['stages_ms_per_letter']} CPU ms/letter mean, p95 {m['p95_ms']} "
                     f"(fields {m['fields_ms']}, match {m['match_ms']}, verdict {m['verdict_ms']}; wall "
                     f"{m['wall_ms_per_letter']}); Processor start-up {m['processor_build_s']} s wall, "
                     f"{m['processor_build_cpu_s']} s CPU")
    tp = results.get("throughput")
    if tp and "runs" in tp:
        runs = ", ".join(f"{n} worker(s) {r['seconds']} s (first letter after {r['first_result_s']} s)"
                         for n, r in tp["runs"].items())
        lines.append(f"throughput ({next(iter(tp['runs'].values()))['letters']} scanned letters, wall, best of {tp.get('rounds', 1)} rounds): {runs}; "
                     f"speed-up x{tp.get('workers_speedup')} (after start-up x{tp.get('speedup_after_startup')}), "
                     f"x{tp.get('workers_speedup_one_core')} over one worker held to one core; one worker kept "
                     f"{tp.get('cores_one_worker')} cores busy, and with the CPU two workers spent no run could "
                     f"beat x{tp.get('speedup_cpu_bound')} on 2 cores")
    mem = results.get("memory")
    if mem and "pages" in mem:
        lines.append(f"memory: {mem['pages']}-page scanned PDF: peak {mem['peak_rss_mb']} MB PSS over the processes "
                     f"({mem['peak_rss_sum_mb']} MB RSS summed), {mem['seconds']} s ({mem['s_per_page']} s/page)")
    shown = {"startup", "scanpage", "ten", "registry", "ocr", "born", "match", "throughput", "memory"}
    for name in ("dask", "pagesplit"):
        if isinstance(results.get(name), dict) and "runs" in results[name]:
            from pipeline.bench.cluster import summary_line

            lines.append(summary_line(name, results[name]))
            shown.add(name)
    for section, value in results.items():
        if not isinstance(value, dict):
            continue
        if "skipped" in value:
            lines.append(f"{section}: skipped ({value['skipped']})")
        elif "error" in value:
            lines.append(f"{section}: {value['error']}")
        elif section in SECTIONS and section not in shown:  # a section with no line of its own: its numbers
            nums = ", ".join(f"{k} {v}" for k, v in value.items() if isinstance(v, int | float | str))
            lines.append(f"{section}: {nums}")
    if results.get("targets"):
        lines.append("targets:")
        for t in results["targets"]:
            mark = "met   " if t["met"] else "MISSED"
            lines.append(f"  {mark} {t['description']}: {t['value']:g} (target {t['target']})")
    return "\n".join(lines)
