"""Where letters are processed: in this process, in a local process pool, or on a Dask cluster.

Each executor yields one :class:`LetterResult` per letter, in completion order;
the caller (``pipeline.api.run_batch``) writes them to the database from one place.

Every executor keeps a bounded number of letters in flight, so memory stays flat
however long the batch is, and a worker that dies (killed, out of memory, a crash
in a native library) costs at most the letter it was working on: that letter is
tried once more elsewhere and recorded as failed only if it kills a worker again.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from pipeline.errors import LetterError, LettersError
from pipeline.processor import Processor
from pipeline.schema import Letter, LetterResult, Promise, Status
from pipeline.settings import Settings

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

log = logging.getLogger("letters")

# A letter gets this many worker deaths before it is recorded as failed: one retry, as the
# death may have been someone else's doing (OOM killer picking the biggest process, a restart).
MAX_WORKER_DEATHS = 2
IN_FLIGHT_PER_WORKER = 4  # Dask: tasks queued per worker; enough to hide scheduling latency


class ExecutorError(LettersError):
    """The workers cannot run at all (they die before taking any letter, the cluster is unreachable)."""

    category = "executor"


def _processor(promises: list[Promise], settings: Settings) -> Processor:
    return Processor(promises, settings)


def _single_thread_ocr() -> None:
    # One Tesseract thread per process: our parallelism is the workers, and OpenMP
    # threads of several Tesseracts only fight over the same cores.
    os.environ["OMP_THREAD_LIMIT"] = "1"


def failed_result(letter: Letter, reason: str) -> LetterResult:
    return LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.FAILED, letter=letter, error=reason)


def iter_results(
    letters: list[Letter], promises: list[Promise], settings: Settings, workers: int, dask: str | None = None
) -> Iterator[LetterResult]:
    """Process ``letters`` and yield their results as they complete.

    ``dask``: None for this machine (in process when ``workers`` is 1, else a pool of
    ``workers`` processes); ``"local"`` for a Dask LocalCluster of ``workers``
    processes; ``"tcp://HOST:PORT"`` for a running Dask scheduler (its workers must
    have this package installed and see the letters' files and the models folder
    at the same paths).
    """
    if workers > 1 or dask:
        letters = biggest_first(letters)
    if dask:
        yield from _dask_results(letters, promises, settings, workers, dask)
    else:
        yield from _local_results(letters, promises, settings, workers)


def biggest_first(letters: list[Letter]) -> list[Letter]:
    """Letters by size, largest first. With several workers, a big scan started last keeps
    one worker busy while the others idle; started first, the small ones fill in around it.
    File size is a fair proxy for the work: scans are large, born-digital PDFs small."""
    return sorted(letters, key=lambda letter: -sum(f.size for f in letter.files))


# --- this machine ---------------------------------------------------------------


def _local_results(
    letters: list[Letter], promises: list[Promise], settings: Settings, workers: int
) -> Iterator[LetterResult]:
    # Built here, once, even for a pool: a missing model fails the run in this process with
    # its own typed error, and forked workers share the loaded model instead of each
    # spending seconds loading it again.
    processor = _processor(promises, settings)
    if not letters:
        return
    # Even one worker runs in a child process: a hang or a native crash in a PDF or image
    # library then costs one letter, not the run. It is forked with the model already loaded,
    # so it starts in milliseconds. With several workers the rest is loaded before the fork
    # too (once, shared copy-on-write); one worker loads it lazily, only what its letters need.
    workers = max(1, min(workers, len(letters)))
    if workers > 1:
        processor.warm_up()
    yield from _pool_results(letters, processor, workers)


Work = Callable[["Processor", Letter], LetterResult]


def _process_letter(processor: Processor, letter: Letter) -> LetterResult:
    return processor.process(letter)


def _warm_up(processor: Processor) -> None:
    try:
        processor.warm_up(("uk",))  # the other language, if a letter needs it, on its first use
    except Exception:  # only an early load: the letter that needs it loads it again and records the error
        log.debug("warm-up failed", exc_info=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _worker_main(conn: Connection, processor: Processor, work: Work) -> None:
    """A pool worker: process letters sent over ``conn`` until None or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    # ... with SIGTERM, which must end us quietly (a forked worker inherits run_batch's
    # SIGTERM -> KeyboardInterrupt handler, which would print a traceback) but through the
    # finally blocks: a running Tesseract is killed and its temporary page files are removed.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _single_thread_ocr()
    # What the parent did not load before forking (one worker: see _local_results) is loaded
    # beside the first letter: while Tesseract reads a scan, this process only waits for it.
    threading.Thread(target=_warm_up, args=(processor,), name="warm-up", daemon=True).start()
    while True:
        try:
            letter = conn.recv()
        except (EOFError, OSError):
            return
        if letter is None:
            return
        try:
            result = work(processor, letter)
        except Exception as exc:  # Processor.process never raises for bad input; this is a bug
            result = failed_result(letter, f"internal error: {type(exc).__name__}: {exc}")
        try:
            conn.send(result)
        except OSError:  # the parent was killed: nobody to tell
            return


@dataclass
class _Worker:
    proc: BaseProcess
    conn: Connection
    letter: Letter | None = None  # the letter it is working on
    started: float = 0.0  # when it got that letter (time.monotonic)

    def stop(self) -> None:
        try:
            if self.letter is None and self.proc.is_alive():
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
    # fork: workers inherit the parent's loaded Processor for free. Where there is no fork
    # (Windows) the Processor is pickled to each worker instead.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _start_worker(ctx: BaseContext, processor: Processor, work: Work) -> _Worker:
    parent_conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_worker_main, args=(child_conn, processor, work), daemon=True)
    proc.start()
    child_conn.close()  # only the worker holds its end now: its death makes our end readable (EOF)
    return _Worker(proc, parent_conn)


def _pool_results(
    letters: list[Letter], processor: Processor, workers: int, work: Work = _process_letter
) -> Iterator[LetterResult]:
    """A pool of worker processes, one letter in flight per worker.

    Unlike concurrent.futures.ProcessPoolExecutor, whose pool breaks as a whole when one
    worker dies (every pending letter then fails with BrokenProcessPool), each worker
    here has its own pipe, so a death is pinned on the one letter that worker held:
    that letter goes back to the queue (once), a fresh worker takes the dead one's place,
    and the other workers carry on undisturbed. ``work`` is a seam for tests.
    """
    ctx = _pool_context()
    queue: deque[Letter] = deque(letters)
    deaths: dict[str, int] = {}
    idle_deaths = 0  # workers that died holding no letter: something is wrong with every worker
    pool = [_start_worker(ctx, processor, work) for _ in range(workers)]

    limit = processor.settings.limits.max_letter_seconds

    def feed() -> None:
        for w in pool:
            if w.letter is None and queue:
                w.letter = queue.popleft()
                w.started = time.monotonic()
                try:
                    w.conn.send(w.letter)
                except OSError:  # already dead: noticed through its sentinel
                    pass

    try:
        while queue or any(w.letter is not None for w in pool):
            feed()
            busy = [w.started + limit - time.monotonic() for w in pool if w.letter is not None]
            timeout = max(0.0, min(busy)) if busy and limit > 0 else None
            ready = set(wait([w.conn for w in pool] + [w.proc.sentinel for w in pool], timeout=timeout))
            done: list[LetterResult] = []
            for i, w in enumerate(pool):
                if w.letter is not None and limit > 0 and w.conn not in ready and time.monotonic() - w.started > limit:
                    letter = w.letter
                    w.stop()  # it holds a letter, so stop() kills it and its Tesseract
                    pool[i] = _start_worker(ctx, processor, work)
                    log.warning("stopped %s after %g s", letter.source_file, limit)
                    done.append(failed_result(
                        letter, f"processing took longer than the {limit:g} s per-letter limit and was stopped"))
            for i, w in enumerate(pool):
                if w.conn not in ready and w.proc.sentinel not in ready:
                    continue
                died = False
                try:
                    while w.conn.poll():
                        done.append(w.conn.recv())
                        w.letter = None
                except (EOFError, OSError):
                    died = True
                if not (died or not w.proc.is_alive()):
                    continue
                w.proc.join(timeout=5)
                code = w.proc.exitcode
                letter, w.letter = w.letter, None
                w.stop()
                pool[i] = _start_worker(ctx, processor, work)
                if letter is None:
                    idle_deaths += 1
                    if idle_deaths > 2 * workers:
                        raise ExecutorError(f"worker processes keep dying without a letter (exit code {code})")
                    continue
                deaths[letter.letter_id] = n = deaths.get(letter.letter_id, 0) + 1
                log.warning("worker died (exit code %s) on %s (%d time(s))", code, letter.source_file, n)
                if n >= MAX_WORKER_DEATHS:
                    done.append(failed_result(letter, f"worker process died on this letter {n} times (exit code {code})"))
                else:
                    queue.appendleft(letter)  # first in line for the fresh worker
            feed()  # before the caller writes these results: workers never wait on our database
            yield from done
    finally:
        for w in pool:
            w.stop()


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


def _dask_process(letter: Letter, promises: list[Promise], settings: Settings, key: str) -> LetterResult:
    """One letter on a Dask worker (module-level so workers import it by name)."""
    _single_thread_ocr()
    with _DASK_LOCK:  # a worker with several threads builds it once, not once per thread
        processor = _DASK_PROCESSORS.get(key)
        if processor is None:
            _DASK_PROCESSORS.clear()  # a long-lived worker keeps only the current run's Processor in memory
            processor = _DASK_PROCESSORS[key] = _processor(promises, settings)
    return processor.process(letter)


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
        }
        with dask.config.set(config):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # a free port: never clash with another cluster
                silence_logs=logging.ERROR,
                env={"OMP_THREAD_LIMIT": "1"},
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
        n_workers = max(len(client.scheduler_info().get("workers", {})), workers, 1)
        key = fingerprint(promises, settings)
        # Ship the registry once, as one object, to every worker; tasks then refer to it by future.
        [promises_f] = client.scatter([promises], broadcast=True, hash=False)
        run = uuid.uuid4().hex[:8]
        by_key: dict[str, Letter] = {}

        def submit(letter: Letter) -> Any:
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
            if fut.status == "finished":
                result = fut.result()
            else:
                exc = fut.exception()
                if isinstance(exc, LettersError) and not isinstance(exc, LetterError):
                    raise exc  # a missing model, a bad setting: every letter would fail the same way
                result = failed_result(letter, f"worker failed: {type(exc).__name__}: {exc}")
            fut.release()  # drop it from worker memory now
            yield result
            nxt = next(todo, None)
            if nxt is not None:
                ac.add(submit(nxt))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
