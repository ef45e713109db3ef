"""Where letters are processed: in this process, in a local process pool, or on a Dask cluster.

Each executor yields one :class:`LetterResult` per letter, in completion order;
the caller (``pipeline.api.run_batch``) writes them to the database from one place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING

from pipeline.schema import Letter, LetterResult, Promise, Status
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.api import Processor


def _processor(promises: list[Promise], settings: Settings) -> Processor:
    from pipeline.api import Processor

    return Processor(promises, settings)


# Worker-process state: one Processor per process, built by the pool initializer.
_WORKER: Processor | None = None


def _init_worker(promises: list[Promise], settings: Settings) -> None:
    global _WORKER
    os.environ["OMP_THREAD_LIMIT"] = "1"  # one Tesseract thread per process: our parallelism is the pool
    _WORKER = _processor(promises, settings)


def _work(letter: Letter) -> LetterResult:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.process(letter)


def iter_results(
    letters: list[Letter], promises: list[Promise], settings: Settings, workers: int, dask: str | None = None
) -> Iterator[LetterResult]:
    """Process ``letters`` and yield their results as they complete."""
    yield from _local_results(letters, promises, settings, workers)


def _local_results(
    letters: list[Letter], promises: list[Promise], settings: Settings, workers: int
) -> Iterator[LetterResult]:
    if workers <= 1 or len(letters) <= 1:
        processor = _processor(promises, settings)
        for letter in letters:
            yield processor.process(letter)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(promises, settings)) as pool:
        pending: dict[Future[LetterResult], Letter] = {}
        todo = iter(letters)
        try:
            # Keep a bounded number of letters in flight: memory stays flat on huge batches.
            for letter in todo:
                pending[pool.submit(_work, letter)] = letter
                if len(pending) >= workers * 2:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    letter = pending.pop(fut)
                    try:
                        yield fut.result()
                    except Exception as exc:  # a worker died (OOM, killed): record, go on
                        yield LetterResult(
                            letter.letter_id, letter.sha256, letter.source_file, Status.FAILED,
                            letter=letter, error=f"worker failed: {type(exc).__name__}: {exc}",
                        )
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending[pool.submit(_work, nxt)] = nxt
        finally:
            for fut in pending:
                fut.cancel()


