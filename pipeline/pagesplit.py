"""A long scanned PDF read by page ranges on several workers at once, then put back together.

A letter is one task, so one long scan (a 300-page council report) keeps one worker busy
while the others idle. With several workers, a one-file PDF of at least
:data:`SPLIT_MIN_PAGES` pages is cut into :class:`PageRange` tasks: each worker reads
(text layer or OCR) only its pages and returns a :class:`PagesResult`; when every range
of the letter is back, its pages are joined in page order and fields, match and verdict
run once on the whole text (:func:`finish_letter`). The letter is still one record.

A range that fails for a reason of the letter (a broken page) carries the error as data;
the letter then fails with the error of its first failing range in page order, as it would
read in one piece. A range that kills its worker counts against its letter like a whole
letter does (``pipeline.executors``).
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import LetterError
from pipeline.processor import Processor
from pipeline.schema import FileKind, Letter, LetterResult, PageText, Status
from pipeline.settings import Settings

log = logging.getLogger("letters")

SPLIT_MIN_PAGES = 6  # below this, one worker reads the letter: a range's fixed cost (open, hash) is not worth it
SPLIT_MIN_BYTES = 256 * 1024  # born-digital PDFs are smaller and quick to read: only scans are counted and cut
RANGES_PER_WORKER = 4  # several ranges per worker, so a slow range does not leave the others idle at the end
MIN_RANGE_PAGES = 2


@dataclass(frozen=True)
class PageRange:
    """Pages ``first..last`` of a one-PDF letter; ``last`` None for the letter's final range
    (to the end, whatever the page count found when planning)."""

    letter: Letter
    first: int
    last: int | None
    index: int  # position among the letter's ranges
    count: int  # how many ranges the letter was cut into

    @property
    def letter_id(self) -> str:
        return self.letter.letter_id

    @property
    def source_file(self) -> str:
        return f"{self.letter.source_file} (pages {self.first}-{self.last or 'end'})"

    @property
    def key(self) -> str:
        return f"{self.letter.letter_id}-p{self.first}"


@dataclass
class PagesResult:
    """What a worker read of one range: its pages (word spans relative to each page), or why not."""

    part: PageRange
    pages: list[PageText] = field(default_factory=list)
    error: str | None = None  # the letter fails with this (a LetterError's message, or an internal error)
    seconds: float = 0.0


def pdf_page_sizes(path: Path) -> list[tuple[float, float]] | None:
    """Each page's size in points, from the document's page tree (no page is parsed), or None
    when the file cannot be opened here (reading it then reports why)."""
    import pypdfium2 as pdfium

    from pipeline.engines.pdfium import LOCK

    with LOCK:
        try:
            doc = pdfium.PdfDocument(str(path))
        except (pdfium.PdfiumError, OSError):
            return None
        try:
            return [doc.get_page_size(i) for i in range(len(doc))]
        finally:
            doc.close()


def pdf_page_count(letter: Letter) -> int | None:
    """Pages of a one-file PDF letter, or None when it is not one (or cannot be opened here:
    reading it in one piece then reports why)."""
    if len(letter.files) != 1 or letter.kind != FileKind.PDF:
        return None
    sizes = pdf_page_sizes(letter.files[0].path)
    return None if sizes is None else len(sizes)


# A PDF with fewer bytes a page than this is taken for born-digital (its text layer is read, no
# OCR). Scanned pages run to hundreds of KB (the dev sets: 261 KB a page and up), born-digital
# ones to tens (71 KB at most, fonts embedded).
SCANNED_PAGE_BYTES = 128 * 1024


def work_estimate(letter: Letter, render_dpi: int = 300) -> float:
    """How long a letter takes to read, in page pixels to OCR: an image's pixels over its frames
    (from its header), a scanned PDF's pages at the render resolution. A born-digital PDF counts
    its bytes, a few hundredths of a scanned page, as reading its text layer takes (~200 pages/s
    against ~1 s for a scanned page). File size alone misleads: a 1-bit TIFF page of 25 KB takes
    as long to OCR as a 13 MB colour PNG. Over the dev sets' 90 letters the estimate correlates
    0.91 with the time a letter took, file size 0.23. A file that cannot be opened here counts
    its bytes (its reading then says what is wrong)."""
    return sum(_file_estimate(f.path, f.kind, f.size, render_dpi) for f in letter.files)


def _file_estimate(path: Path, kind: FileKind, size: int, render_dpi: int) -> float:
    try:
        if kind == FileKind.PDF:
            pages = pdf_page_sizes(path) if size >= SCANNED_PAGE_BYTES else None
            if not pages or size < SCANNED_PAGE_BYTES * len(pages):
                return float(size)
            return sum(w * h for w, h in pages) * (render_dpi / 72.0) ** 2
        import warnings

        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a decompression bomb's warning: its reading reports it
            with Image.open(path) as img:  # the header only: no pixel is decoded
                return float(img.width * img.height * getattr(img, "n_frames", 1))
    except Exception:
        return float(size)


def longest_first(letters: list[Letter], render_dpi: int = 300) -> list[Letter]:
    """Letters by :func:`work_estimate`, longest first. With several workers, a long letter
    started last keeps one worker busy while the others idle; started first, the short ones
    fill in around it (over random sets of the dev sets' letters on two workers, the idle end
    is 0.22 s on average for 12 letters and 0.09 s for 30, against 0.35 and 0.41 s by file size)."""
    estimates = {letter.letter_id: work_estimate(letter, render_dpi) for letter in letters}
    return sorted(letters, key=lambda letter: -estimates[letter.letter_id])


def split(letter: Letter, workers: int) -> list[PageRange] | None:
    """The letter's page ranges for ``workers`` workers, or None to read it in one piece."""
    if workers < 2 or len(letter.files) != 1 or letter.kind != FileKind.PDF or letter.files[0].size < SPLIT_MIN_BYTES:
        return None
    pages = pdf_page_count(letter)
    if pages is None or pages < SPLIT_MIN_PAGES:
        return None
    size = max(MIN_RANGE_PAGES, math.ceil(pages / (RANGES_PER_WORKER * workers)))
    firsts = list(range(1, pages + 1, size))
    return [
        PageRange(letter, first, None if i == len(firsts) - 1 else first + size - 1, i, len(firsts))
        for i, first in enumerate(firsts)
    ]


def plan(letters: list[Letter], workers: int) -> list[Letter | PageRange]:
    """The tasks for a pool of ``workers``: each letter whole, or its page ranges in page order."""
    tasks: list[Letter | PageRange] = []
    for letter in letters:
        parts = split(letter, workers)
        tasks.extend(parts or [letter])
    return tasks


def read_range(part: PageRange, settings: Settings) -> PagesResult:
    """Read one range (on a worker); never raises for bad input."""
    from pipeline.stages.text import extract_pages

    t0 = time.perf_counter()
    try:
        pages = extract_pages(part.letter, settings, part.first, part.last)
    except LetterError as exc:
        return PagesResult(part, error=str(exc), seconds=time.perf_counter() - t0)
    except Exception as exc:  # a bug must not lose the batch: the letter records it, as in Processor.process
        log.error("internal error on %s:\n%s", part.source_file, traceback.format_exc())
        return PagesResult(part, error=f"internal error: {type(exc).__name__}: {exc}", seconds=time.perf_counter() - t0)
    return PagesResult(part, pages, seconds=time.perf_counter() - t0)


def finish_letter(processor: Processor, letter: Letter, parts: list[PagesResult]) -> LetterResult:
    """The letter's result from all its ranges: the first error in page order fails it; else
    its pages joined in page order go through fields, match and verdict."""
    from pipeline.stages.text import text_of_pages

    parts = sorted(parts, key=lambda r: r.part.index)
    seconds = sum(r.seconds for r in parts)  # OCR time summed over workers, as if read in one piece
    for r in parts:
        if r.error is not None:
            result = LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.FAILED,
                                  letter=letter, error=r.error)
            result.timings["text"] = seconds
            return result
    try:
        text = text_of_pages(letter.letter_id, [p for r in parts for p in r.pages])
    except LetterError as exc:
        return LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.FAILED, letter=letter, error=str(exc))
    result = processor.process(letter, text)
    result.timings["text"] = seconds
    return result


def reassemble(results: Iterator[Any],
               processor: Processor | Callable[[], Processor]) -> Iterator[Any]:
    """Letter results as they come, and the letters read by ranges once all their ranges are back.
    ``processor``: the one that finishes those letters, or how to get it (built on first use).

    A LetterResult for a letter being read by ranges (its range killed a worker twice, or ran
    past the time limit) is that letter's final result; its other ranges are dropped as they come.
    """
    pending: dict[str, list[PagesResult]] = {}
    done: set[str] = set()  # letters whose result has been given: anything later for them is dropped
    for item in results:
        if not isinstance(item, LetterResult | PagesResult):  # not a letter's (the registry's terms): passed on
            yield item
            continue
        if isinstance(item, LetterResult):
            if item.letter_id not in done:
                done.add(item.letter_id)
                pending.pop(item.letter_id, None)
                yield item
            continue
        lid = item.part.letter_id
        if lid in done:
            continue
        got = pending.setdefault(lid, [])
        got.append(item)
        if len(got) == item.part.count:
            del pending[lid]
            done.add(lid)
            finisher = processor if isinstance(processor, Processor) else processor()
            yield finish_letter(finisher, item.part.letter, got)
