"""Where letters are processed: in this process, in a local process pool, or on a Dask cluster.

Each executor yields one :class:`LetterResult` per letter, in completion order;
the caller (``pipeline.api.run_batch``) writes them to the database from one place.

Every executor keeps a bounded number of letters in flight, so memory stays flat
however long the batch is, and a worker that dies (killed, out of memory, a crash
in a native library) costs at most the letter it was working on: that letter is
tried once more elsewhere and recorded as failed only if it kills a worker again.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from pipeline.engines.heap import release_freed_memory
from pipeline.errors import LetterError, LettersError
from pipeline.pagesplit import PageRange, PagesResult, finish_letter, longest_first, plan, read_range, reassemble, split
from pipeline.processor import Processor, read_text
from pipeline.schema import Letter, LetterResult, Promise, Status
from pipeline.settings import Settings

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

log = logging.getLogger("letters")

# A letter gets this many worker deaths before it is recorded as failed: one retry, as the
# death may have been someone else's doing (OOM killer picking the biggest process, a restart).
MAX_WORKER_DEATHS = 2
# Dask: letters handed out per worker at a time. One: a letter queued behind another on a busy
# worker waits there while another worker idles (stealing it back is slow for seconds-long tasks);
# the next letter's round trip costs milliseconds, a letter seconds. Measured 2 workers over 1:
# x1.56 with four in flight per worker, x1.85 with one (`letters bench dask`, 12 scanned letters).
IN_FLIGHT_PER_WORKER = 1


class ExecutorError(LettersError):
    """The workers cannot run at all (they die before taking any letter, the cluster is unreachable)."""

    category = "executor"


def _processor(promises: list[Promise], settings: Settings) -> Processor:
    return Processor(promises, settings)


@dataclass(frozen=True)
class ProcessorSource:
    """What a local worker builds its own :class:`Processor` from, after it is forked.

    The runner forks its workers first thing, while it is still small, and each builds its
    Processor (model, promise index) while the runner opens the database and stores the
    registry: start-up costs run side by side instead of one after the other, and the runner
    never loads a model it does not use."""

    promises: list[Promise]
    settings: Settings

    def build(self) -> Processor:
        return _processor(self.promises, self.settings)


Source = Processor | ProcessorSource  # a Processor given to a pool is inherited as it is (tests, one-off pools)


# One thread for each library a worker uses: what _one_thread_each sets, and the environment a
# Dask worker process is started with.
ONE_THREAD_ENV = {"OMP_THREAD_LIMIT": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "OPENCV_FOR_THREADS_NUM": "1"}
# Dask's own periodic work, made rarer: every scheduler, nanny and worker process checks its event
# loop every 20 ms ("tick"), samples its system stats every 0.5 s, and a worker also samples its
# threads' stacks every 10 ms (the dashboard's profile) and its memory every 0.1 s. Idle, a
# 2-worker cluster spent ~11 % of a core on it (scheduler 1.8 %, each nanny 1.7 %, each worker
# 2.9 %), ~1 % with these; on two cores that time came out of the letters. None of it is used
# here: no dashboard, and memory limits still act within a second. `letters bench dask`, 2 workers
# over 1: x1.73 / x1.78 with Dask's defaults, x1.82 / x1.90 with these (alternated runs).
QUIET_DASK_CONFIG: dict[str, Any] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
}


def quiet_dask_env() -> dict[str, str]:
    """:data:`QUIET_DASK_CONFIG` as the environment of `dask scheduler` and `dask worker` processes."""
    def name(key: str) -> str:
        return "DASK_" + "__".join(part.upper().replace("-", "_") for part in key.split("."))

    return {name(k): str(v) for k, v in QUIET_DASK_CONFIG.items()}


@functools.cache  # once a process: a Dask worker calls it for every task
def _one_thread_each() -> None:
    """Set this worker's library threads, before the libraries load where it can. Our parallelism
    is the workers: Tesseract (OpenMP), numpy's BLAS and OpenCV get one thread each. BLAS products
    here are a few rows, too small to split, and its idle threads spin on a core for a while after
    each one, taking it from the other workers. OpenCV's page preparation on two threads took
    20-35 % more CPU for at most 7 % less wall time (~0.08 s a page), even with a core to spare.
    OpenCV is set only through the environment, so only if it is not loaded yet: in a child
    forked after the parent's OpenCV used its threads, cv2.setNumThreads waits for them forever."""
    os.environ.update(ONE_THREAD_ENV)
    if "numpy" in sys.modules:  # already loaded (a Dask worker imports it): too late for the environment
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")


def failed_result(letter: Letter, reason: str) -> LetterResult:
    return LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.FAILED, letter=letter, error=reason)


@dataclass(frozen=True)
class TermsTask:
    """Read the terms (deadline, quantity, scope) of these promises on a worker: it has the
    language tools loaded anyway, and the runner then never loads them. Queued after the
    letters, so no letter waits for it."""

    promise_ids: tuple[str, ...]
    letter_id: str = "registry-terms"  # how a worker death or the time limit names it
    source_file: str = "the promise registry (terms)"


@dataclass
class TermsResult:
    """What a worker read for a TermsTask: promise id -> terms (JSON), or why not (the runner
    then reads them itself)."""

    terms: dict[str, dict[str, Any]]
    error: str | None = None


class Batch:
    """Where a run's letters go: started before the run knows which letters it will do
    (:func:`start`), so local workers get ready while the runner does its own start-up."""

    planned: list[Letter]  # letters it does whatever results() is given: begun before the database was read

    def results(self, letters: list[Letter], terms_of: Sequence[str] = ()) -> Iterator[LetterResult | TermsResult]:
        """The results of ``letters`` (and of ``planned``) as they complete; with ``terms_of``
        (promise ids), a TermsResult for them too when the executor reads terms (else the caller reads them)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers (idempotent)."""


def start(promises: list[Promise], settings: Settings, workers: int, dask: str | None = None,
          expected: list[Letter] | None = None, todo: list[Letter] | None = None) -> Batch:
    """The executor of a run. ``dask``: None for this machine (a pool of ``workers`` processes,
    one child process even for one worker); ``"local"`` for a Dask LocalCluster of ``workers``
    processes; ``"tcp://HOST:PORT"`` for a running Dask scheduler (its workers must have this
    package installed and see the letters' files and the models folder at the same paths).
    ``expected``: the letters the run may process (all those found), so local workers are
    started now, only as many as there is work for; without it they start with the results.
    ``todo``: the letters the run will process, when known before the database is opened (a
    new database, ``--force``): local workers then start on them at once (see :attr:`Batch.planned`)."""
    if dask:
        return _DaskBatch(promises, settings, workers, dask)
    return LocalBatch(promises, settings, workers, expected, todo)


def iter_results(
    letters: list[Letter], promises: list[Promise], settings: Settings, workers: int, dask: str | None = None
) -> Iterator[LetterResult]:
    """Process ``letters`` and yield their results as they complete (see :func:`start`)."""
    batch = start(promises, settings, workers, dask)
    try:
        yield from batch.results(letters)
    finally:
        batch.close()


# --- this machine ---------------------------------------------------------------


class LocalBatch(Batch):
    """Letters processed by a pool of child processes on this machine.

    Even one worker runs in a child process: a hang or a native crash in a PDF or image
    library then costs one letter, not the run. Each worker builds its own Processor
    right after it is forked (a missing model comes back from the first one as its typed
    error, before any letter). With several workers, a long scan is read by page ranges
    across them and put back together here.
    """

    def __init__(self, promises: list[Promise], settings: Settings, workers: int,
                 expected: list[Letter] | None = None, todo: list[Letter] | None = None) -> None:
        self.source = ProcessorSource(promises, settings)
        self.workers = max(1, workers)
        self.pool: LocalPool | None = None
        self._finisher: Processor | None = None
        self.planned: list[Letter] = []
        self._plan: list[Task] = []  # the tasks of ``planned``, the workers' first ones at their head
        if todo is not None:
            # Known now: each worker is forked with its first task and reads that letter's text
            # while it builds its Processor, and this process opens the database meanwhile.
            self._plan = self._tasks(todo)
            if self._plan:
                self.planned = list(todo)
                size = self._pool_size(self._plan)
                self.pool = LocalPool(self.source, size, first=self._plan[:size])
        elif expected:
            # As many workers as there may be tasks; with at least a letter per worker that is
            # all of them, without planning the page ranges (results() plans what is to do).
            size = self.workers if len(expected) >= self.workers else self._pool_size(self._tasks(expected))
            self.pool = LocalPool(self.source, size)

    def _tasks(self, letters: list[Letter]) -> list[Task]:
        return plan(longest_first(letters, self.source.settings.ocr.render_dpi), self.workers) if self.workers > 1 else list(letters)

    def _pool_size(self, tasks: list[Task]) -> int:
        return max(1, min(self.workers, len(tasks)))

    def _finishing_processor(self) -> Processor:
        # Only a letter read by page ranges is finished here (fields, match and verdict on
        # its joined pages): the runner loads a Processor of its own only for that.
        if self._finisher is None:
            self._finisher = self.source.build()
        return self._finisher

    def results(self, letters: list[Letter], terms_of: Sequence[str] = ()) -> Iterator[LetterResult | TermsResult]:
        # The planned letters go as planned, even one the database says is done after all (another
        # run saved it meanwhile): it is saved once more, as with --force.
        planned = {x.letter_id for x in self.planned}
        tasks = self._plan + self._tasks([x for x in letters if x.letter_id not in planned])
        if not tasks:
            return  # no worker needed: the caller reads the terms itself
        if self.pool is None:
            self.pool = LocalPool(self.source, self._pool_size(tasks))
        if terms_of:
            tasks.append(TermsTask(tuple(terms_of)))
        yield from reassemble(self.pool.results(tasks), self._finishing_processor)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self._finisher = None  # its model and index are not needed for the records


Work = Callable[["Processor", Letter], LetterResult]
Task = Letter | PageRange | TermsTask  # what a pool worker is given: a whole letter, pages of a long scan, terms


def _letter_of(task: Letter | PageRange) -> Letter:
    return task.letter if isinstance(task, PageRange) else task


def _failed(task: Task, reason: str) -> LetterResult | TermsResult:
    """The result of a task that could not be done (its worker died twice, it ran past the limit)."""
    return TermsResult({}, reason) if isinstance(task, TermsTask) else failed_result(_letter_of(task), reason)


def _read_terms(processor: Processor, task: TermsTask) -> TermsResult:
    terms = {}
    for pid in task.promise_ids:
        t = processor.terms(pid)
        if t is not None:
            terms[pid] = t.to_json()
    return TermsResult(terms)


def _process_letter(processor: Processor, letter: Letter) -> LetterResult:
    return processor.process(letter)


def _warm_up(processor: Processor) -> None:
    try:
        processor.warm_up(("uk",))  # the other language, if a letter needs it, on its first use
    except Exception:  # only an early load: the letter that needs it loads it again and records the error
        log.debug("warm-up failed", exc_info=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@dataclass(frozen=True)
class _Ready:
    """A worker's first message: its Processor is built, letters may come."""


@dataclass(frozen=True)
class _BuildFailed:
    """A worker's first message when it cannot build its Processor (a missing or mismatched
    model): every worker would fail the same way, so the run stops with this error."""

    reason: str
    error: LettersError | None  # the typed error itself, when it survives pickling


def _build_failed(exc: Exception) -> _BuildFailed:
    import pickle

    reason = str(exc) if isinstance(exc, LettersError) else f"{type(exc).__name__}: {exc}"
    typed = exc if isinstance(exc, LettersError) else None
    try:
        pickle.loads(pickle.dumps(typed))
    except Exception:
        typed = None
    return _BuildFailed(reason, typed)


class _Builder(threading.Thread):
    """Builds a worker's Processor beside its first letter, once Tesseract reads that letter's
    first page (or its text is read without OCR), and tells the runner: _Ready, or _BuildFailed.
    Only the text stage runs before the Processor is needed, and it needs none."""

    def __init__(self, source: Source, conn: Connection) -> None:
        from pipeline.engines import tesseract

        super().__init__(name="build-processor", daemon=True)
        self.source, self.conn = source, conn
        self.go = threading.Event()
        self.waited = threading.Event()  # the letter's text is read: it waits for the Processor
        self.processor: Processor | None = None
        tesseract.on_next_start(self.go)

    def run(self) -> None:
        self.go.wait()
        processor, message = _build(self.source)
        try:
            self.conn.send(message)
        except OSError:  # the runner is gone
            return
        if processor is not None:
            _warm_up(processor)
            if not self.waited.is_set():  # Tesseract still reads: time to rehearse the rest
                try:
                    processor.rehearse()
                except Exception:  # only a rehearsal: the letter meets the problem itself and records it
                    log.debug("rehearsal failed", exc_info=True)
            self.processor = processor

    def wait(self) -> Processor | None:
        """The Processor, once built; None when it could not be (the runner has been told why)."""
        self.waited.set()
        self.go.set()
        self.join()
        return self.processor


def _build(source: Source) -> tuple[Processor | None, _Ready | _BuildFailed]:
    try:
        return (source if isinstance(source, Processor) else source.build()), _Ready()
    except Exception as exc:
        return None, _build_failed(exc)


def _do(task: Task, processor: Processor, work: Work) -> LetterResult | PagesResult | TermsResult:
    try:
        if isinstance(task, PageRange):
            return read_range(task, processor.settings)
        if isinstance(task, TermsTask):
            return _read_terms(processor, task)
        return work(processor, task)
    except Exception as exc:  # Processor.process never raises for bad input; this is a bug
        return _failed(task, f"internal error: {type(exc).__name__}: {exc}")


def _first_task(conn: Connection, source: Source, work: Work, first: Task) -> Processor | None:
    """Do the task a worker was forked with while its Processor is built; the Processor, or None
    when the worker is to stop (the build failed, the runner is gone)."""
    from pipeline.stages import text

    builder = _Builder(source, conn)
    builder.start()
    result: LetterResult | PagesResult | TermsResult | None = None
    if isinstance(first, PageRange):  # pages alone need no Processor
        result = read_range(first, source.settings)
    elif isinstance(first, Letter) and work is _process_letter:  # a test's own work runs whole
        if first.kind in text.IMAGE_KINDS:  # a scan: its first page decodes while OCR's modules load
            threading.Thread(target=text.load_ocr_modules, name="load-ocr", daemon=True).start()
            text.decode_ahead(first, source.settings)
        result = read_text(first, source.settings)
    processor = builder.wait()
    if processor is None:
        return None
    if result is None:
        result = _do(first, processor, work)
    elif isinstance(result, LetterResult) and result.status == Status.OK:
        result = processor.finish(result)  # never raises: it records a bug on the letter
    try:
        conn.send(result)
    except OSError:  # the runner is gone
        return None
    return processor


def _worker_main(conn: Connection, source: Source, work: Work, first: Task | None = None) -> None:
    """A pool worker: build the Processor, say so, then process letters sent over ``conn``
    until None or the parent goes away. ``first``: a task it was forked with, started before
    its Processor is built (see :class:`_Builder`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    # ... with SIGTERM, which must end us quietly (a forked worker inherits run_batch's
    # SIGTERM -> KeyboardInterrupt handler, which would print a traceback) but through the
    # finally blocks: a running Tesseract is killed and its temporary page files are removed.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _one_thread_each()
    processor: Processor | None
    if first is not None:
        processor = _first_task(conn, source, work, first)
    else:
        processor, message = _build(source)
        try:
            conn.send(message)
        except OSError:
            return
        if processor is not None:
            # The languages' tokenizers and dictionaries load beside the first letter: while
            # Tesseract reads a scan, this process only waits for it.
            threading.Thread(target=_warm_up, args=(processor,), name="warm-up", daemon=True).start()
    if processor is None:
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        result = _do(task, processor, work)
        try:
            conn.send(result)
        except OSError:  # the parent was killed: nobody to tell
            return
        # Idle now, maybe while the runner saves this letter and writes the records: hold none of
        # it (a long scan's pages are tens of MB) and give the freed heap back.
        del result, task
        release_freed_memory()


@dataclass
class _Worker:
    proc: BaseProcess
    conn: Connection
    ready: bool = False  # its Processor is built: it takes letters
    letter: Task | None = None  # the letter (or page range) it is working on
    started: float = 0.0  # when it got that letter (time.monotonic)

    def stop(self) -> None:
        try:
            if self.letter is None and self.ready and self.proc.is_alive():
                self.conn.send(None)  # idle: let it exit on its own
            else:
                self.proc.terminate()  # it kills its Tesseract and removes its temporary files, then exits
        except (OSError, ValueError):
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():  # stuck in native code: Tesseract runs in its own session and would outlive it
            _kill_children(self.proc.pid)
            self.proc.kill()
            self.proc.join(timeout=5)
        self.conn.close()


def _kill_children(pid: int | None) -> None:
    import psutil

    try:
        for child in psutil.Process(pid).children(recursive=True):
            child.kill()
    except (psutil.Error, ValueError):
        pass


def _pool_context() -> BaseContext:
    # fork: workers inherit what the parent has loaded (the registry; a given Processor) for
    # free. Where there is no fork (Windows) the source is pickled to each worker instead.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _start_worker(ctx: BaseContext, source: Source, work: Work, first: Task | None = None) -> _Worker:
    parent_conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_worker_main, args=(child_conn, source, work, first), daemon=True)
    # Objects the worker inherits stay shared: without this, the collector's first pass in the
    # worker writes to every one of them and so copies their pages (~20-30 MB).
    gc.freeze()
    proc.start()
    child_conn.close()  # only the worker holds its end now: its death makes our end readable (EOF)
    return _Worker(proc, parent_conn, letter=first, started=time.monotonic())


class LocalPool:
    """A pool of worker processes, one letter in flight per worker, started at once.

    Unlike concurrent.futures.ProcessPoolExecutor, whose pool breaks as a whole when one
    worker dies (every pending letter then fails with BrokenProcessPool), each worker
    here has its own pipe, so a death is pinned on the one letter that worker held:
    that letter goes back to the queue (once), a fresh worker takes the dead one's place,
    and the other workers carry on undisturbed. ``work`` is a seam for tests.
    """

    def __init__(self, source: Source, workers: int, work: Work = _process_letter, first: Sequence[Task] = ()) -> None:
        self.ctx = _pool_context()
        self.source = source
        self.work = work
        self.workers = workers
        self.first = list(first[:workers])  # tasks the workers are forked with, one each
        self.pool = [self._spawn(self.first[i] if i < len(self.first) else None) for i in range(workers)]

    def _spawn(self, first: Task | None = None) -> _Worker:
        return _start_worker(self.ctx, self.source, self.work, first)

    def close(self) -> None:
        for w in self.pool:
            w.stop()
        self.pool = []

    def results(self, tasks: list[Task]) -> Iterator[LetterResult | PagesResult | TermsResult]:
        """The results of ``tasks`` as they complete (the ones the workers were forked with
        included, which are not given out again)."""
        queue: deque[Task] = deque(t for t in tasks if t not in self.first)
        self.first = []
        deaths: dict[str, int] = {}
        idle_deaths = 0  # workers that died holding no letter: something is wrong with every worker
        pool = self.pool
        limit = self.source.settings.limits.max_letter_seconds

        def feed() -> None:
            for w in pool:
                if w.ready and w.letter is None and queue:
                    w.letter = queue.popleft()
                    w.started = time.monotonic()
                    try:
                        w.conn.send(w.letter)
                    except OSError:  # already dead: noticed through its sentinel
                        pass

        while queue or any(w.letter is not None for w in pool):
            feed()
            busy = [w.started + limit - time.monotonic() for w in pool if w.letter is not None]
            timeout = max(0.0, min(busy)) if busy and limit > 0 else None
            ready = set(wait([w.conn for w in pool] + [w.proc.sentinel for w in pool], timeout=timeout))
            done: list[LetterResult | PagesResult | TermsResult] = []
            for i, w in enumerate(pool):
                if w.letter is not None and limit > 0 and w.conn not in ready and time.monotonic() - w.started > limit:
                    letter = w.letter
                    w.stop()  # it holds a letter, so stop() kills it and its Tesseract
                    pool[i] = self._spawn()
                    log.warning("stopped %s after %g s", letter.source_file, limit)
                    done.append(_failed(
                        letter, f"processing took longer than the {limit:g} s per-letter limit and was stopped"))
            for i, w in enumerate(pool):
                if w.conn not in ready and w.proc.sentinel not in ready:
                    continue
                died = False
                try:
                    while w.conn.poll():
                        message = w.conn.recv()
                        if isinstance(message, _Ready):
                            w.ready = True
                        elif isinstance(message, _BuildFailed):
                            raise message.error or ExecutorError(f"a worker could not start: {message.reason}")
                        else:
                            done.append(message)
                            w.letter = None
                except (EOFError, OSError):
                    died = True
                if not (died or not w.proc.is_alive()):
                    continue
                w.proc.join(timeout=5)
                code = w.proc.exitcode
                letter, w.letter = w.letter, None
                w.stop()
                pool[i] = self._spawn()
                if letter is None:
                    idle_deaths += 1
                    if idle_deaths > 2 * len(pool):
                        raise ExecutorError(f"worker processes keep dying without a letter (exit code {code})")
                    continue
                deaths[letter.letter_id] = n = deaths.get(letter.letter_id, 0) + 1
                log.warning("worker died (exit code %s) on %s (%d time(s))", code, letter.source_file, n)
                if n >= MAX_WORKER_DEATHS:
                    done.append(_failed(letter, f"worker process died on this letter {n} times (exit code {code})"))
                else:
                    queue.appendleft(letter)  # first in line for the fresh worker
            feed()  # before the caller writes these results: workers never wait on our database
            yield from done


def _pool_results(
    letters: list[Task], processor: Source, workers: int, work: Work = _process_letter
) -> Iterator[LetterResult | PagesResult | TermsResult]:
    """A :class:`LocalPool` of ``workers`` over ``letters``, stopped at the end."""
    pool = LocalPool(processor, workers, work)
    try:
        yield from pool.results(letters)
    finally:
        pool.close()


# --- Dask ---------------------------------------------------------------------------

# Worker-side cache: one Processor per (settings, registry) per Dask worker process,
# built by its first task and reused by every later one.
_DASK_PROCESSORS: dict[str, Processor] = {}
_DASK_LOCK = threading.Lock()


def fingerprint(promises: list[Promise], settings: Settings) -> str:
    """A key for a Processor: equal for equal settings and registry."""
    h = hashlib.sha256(repr(settings).encode())
    h.update(repr(promises).encode())
    return h.hexdigest()[:16]


def _dask_processor(promises: list[Promise], settings: Settings, key: str) -> Processor:
    """This worker's Processor for the run: built by its first task, reused by the later ones."""
    with _DASK_LOCK:  # a worker with several threads builds it once, not once per thread
        processor = _DASK_PROCESSORS.get(key)
        if processor is None:
            _DASK_PROCESSORS.clear()  # a long-lived worker keeps only the current run's Processor in memory
            processor = _DASK_PROCESSORS[key] = _processor(promises, settings)
    return processor


def _dask_process(letter: Letter, promises: list[Promise], settings: Settings, key: str) -> LetterResult:
    """One letter on a Dask worker (module-level so workers import it by name)."""
    _one_thread_each()
    return _dask_processor(promises, settings, key).process(letter)


def _dask_pages(part: PageRange, settings: Settings) -> PagesResult:
    """One page range of a long scan on a Dask worker: no Processor needed, only the pages."""
    _one_thread_each()
    return read_range(part, settings)


def _dask_finish(letter: Letter, promises: list[Promise], settings: Settings, key: str, *parts: PagesResult) -> LetterResult:
    """A long scan's ranges (Dask hands them over as this task's inputs) joined and finished as one letter."""
    return finish_letter(_dask_processor(promises, settings, key), letter, list(parts))


def _dask_client(address: str, workers: int) -> tuple[Any, Any]:
    import dask
    from distributed import Client, LocalCluster

    if address == "local":
        # The scheduler runs in this process, so its config is ours to set. A letter that
        # kills a worker MAX_WORKER_DEATHS times is given up (as in the local pool) instead of
        # after the default four; and a worker holds only the task it runs (no task waiting
        # behind it), so a death marks only that letter as suspect, not an innocent neighbour.
        config = {
            "distributed.scheduler.allowed-failures": MAX_WORKER_DEATHS - 1,
            "distributed.scheduler.worker-saturation": 1.0,
            **QUIET_DASK_CONFIG,  # its workers are started with this config too
        }
        with dask.config.set(config):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # a free port: never clash with another cluster
                silence_logs=logging.ERROR,
                env=dict(ONE_THREAD_ENV),
            )
        return Client(cluster), cluster
    if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise ExecutorError(f"bad Dask address {address!r}: expected 'local' or a scheduler address like tcp://HOST:8786")
    try:
        return Client(address, timeout="20s"), None
    except OSError as exc:
        raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _dask_results(
    letters: list[Letter], promises: list[Promise], settings: Settings, workers: int, address: str
) -> Iterator[LetterResult]:
    from distributed import as_completed

    if not letters:
        return
    client, cluster = _dask_client(address, max(workers, 1))
    try:
        present = len(client.scheduler_info().get("workers", {}))
        n_workers = max(present, workers, 1)
        key = fingerprint(promises, settings)
        # Ship the registry once, as one object, to every worker; tasks then refer to it by future.
        [promises_f] = client.scatter([promises], broadcast=True, hash=False)
        run = uuid.uuid4().hex[:8]
        by_key: dict[str, Letter] = {}

        def submit(letter: Letter) -> Any:
            parts = split(letter, present)  # a long scan: its page ranges on every worker, then one task joins them
            if parts:
                pages = [client.submit(_dask_pages, part, settings, key=f"pages-{part.key}-{run}", retries=2, pure=False)
                         for part in parts]
                fut = client.submit(_dask_finish, letter, promises_f, settings, key, *pages,
                                    key=f"letter-{letter.letter_id}-{run}", retries=2, pure=False)
            else:
                fut = client.submit(
                    _dask_process, letter, promises_f, settings, key,
                    key=f"letter-{letter.letter_id}-{run}", retries=2, pure=False,
                )
            by_key[fut.key] = letter
            return fut

        todo = iter(letters)
        ac = as_completed()
        for letter in todo:
            ac.add(submit(letter))
            if len(by_key) >= IN_FLIGHT_PER_WORKER * n_workers:
                break
        for fut in ac:
            letter = by_key.pop(fut.key)
            exc = fut.exception() if fut.status != "finished" else None
            if isinstance(exc, LettersError) and not isinstance(exc, LetterError):
                raise exc  # a missing model, a bad setting: every letter would fail the same way
            # The next letter goes out now, before this result is fetched and saved: the worker
            # that finished would otherwise wait for both round trips and for our database.
            nxt = next(todo, None)
            if nxt is not None:
                ac.add(submit(nxt))
            if exc is None:
                result = fut.result()
            else:
                result = failed_result(letter, f"worker failed: {type(exc).__name__}: {exc}")
            fut.release()  # drop it from worker memory now
            yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _DaskBatch(Batch):
    """Letters sent to a Dask cluster; each of its workers builds its own Processor once per run."""

    def __init__(self, promises: list[Promise], settings: Settings, workers: int, address: str) -> None:
        self.promises, self.settings, self.workers, self.address = promises, settings, workers, address
        self.planned = []

    def results(self, letters: list[Letter], terms_of: Sequence[str] = ()) -> Iterator[LetterResult | TermsResult]:
        yield from _dask_results(longest_first(letters, self.settings.ocr.render_dpi), self.promises, self.settings, self.workers, self.address)
