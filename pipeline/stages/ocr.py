"""OCR of one page image into a :class:`PageText` with word boxes and confidences.

One Tesseract call per page (TSV output) gives both the words and their boxes; the
page text is built from those words here, so every word's span matches the text
exactly: words of a line are joined by a space, lines by ``\\n``, paragraphs and
blocks are separated by a blank line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.engines import tesseract
from pipeline.engines.heap import release_freed_memory
from pipeline.errors import OcrError, OcrTimeout
from pipeline.ocrnorm import fix_tokens, is_cyrillic, is_latin
from pipeline.schema import PageText, TextSource, Word
from pipeline.settings import OcrSettings
from pipeline.stages.prepare import PreparedPage, PrepareOptions, prepare_page, read_as_grey

# bump when preparation or page assembly changes what a page reads as (OCR caches key on it)
OCR_ALGORITHM_VERSION = "2026-11-25.3"

# upright pages of real letters read at mean confidence 80-95; upside-down ones near 40
MISORIENTED_CONF = 65.0
MIN_WORDS_FOR_OSD = 8
OSD_MIN_CONF = 1.5  # Tesseract's orientation confidence; lower means "could not tell"
JUNK_LINE_MAX_CONF = 75.0  # a line whose best word is under this ...
JUNK_LINE_MEAN_CONF = 55.0  # ... and whose mean is under this is dropped (signature, stamp, noise)
SPECK_SIZE = 0.3  # of the median word height
COLUMN_GAP_HEIGHTS = 3.0  # a gap wider than this many letter heights separates columns


PageSource = Image.Image | Callable[[], Image.Image]  # a page image, or how to load it


def ocr_page(
    image: PageSource,
    page_no: int,
    settings: OcrSettings,
    dpi: int | None = None,
    options: PrepareOptions | None = None,
) -> PageText:
    """OCR one page. Spans are relative to this page's text; the caller rebases them.

    ``image``: the page image, or how to load it. A loaded page is held only until it is
    prepared (first made grey, as preparation or Tesseract would): Tesseract then reads the
    prepared page while this process has let the page go, and it is loaded again only for a
    page that must be turned. ``dpi`` is a hint (PDF render resolution, image tag); preparation
    measures the text size itself. ``options`` switches preparation steps (benchmarks, tests).
    """
    try:
        return _ocr_page(image, page_no, settings, dpi, options)
    except OcrTimeout:
        raise OcrTimeout(
            f"OCR of page {page_no} exceeded the {settings.timeout_s:g} s per-page limit; Tesseract was stopped"
        ) from None


def _first_read(source: PageSource, page_no: int, settings: OcrSettings, options: PrepareOptions | None) -> Image.Image:
    """The page as its first reader takes it (preparation or Tesseract), the loaded image let go."""
    image = source() if callable(source) else source
    if image.width < 1 or image.height < 1:
        raise OcrError(f"page {page_no}: empty image")
    if not callable(source):
        return image  # the caller's image: left as it is
    read = read_as_grey(image, options) if settings.prepare else tesseract.as_read(image)
    if read is not image:
        image.close()
    return read


def _ocr_page(
    source: PageSource, page_no: int, settings: OcrSettings, dpi: int | None, options: PrepareOptions | None
) -> PageText:
    started = time.perf_counter()
    deadline = started + settings.timeout_s  # one budget for every Tesseract call of the page
    image: Image.Image | None = _first_read(source, page_no, settings, options)
    assert image is not None
    if not settings.prepare:
        prepared = PreparedPage(image=image, dpi=dpi, oriented_size=image.size)
        del image
        page = _recognise(prepared, page_no, settings, deadline)
    else:
        # Tesseract loads its models while the page is prepared (started once the page is grey,
        # its colour let go: at most one of the two held beside the models)
        with tesseract.started_ahead(settings.languages, settings.psm):
            prepared = prepare_page(image, settings, dpi, options)
            if callable(source):  # let the page go while Tesseract reads the prepared one
                image.close()
                image = None
                release_freed_memory()
            page = _recognise(prepared, page_no, settings, deadline)
        if (options is None or options.orientation) and _maybe_misoriented(page):
            # only now pay for orientation detection: an upside-down page reads as junk
            osd = tesseract.detect_orientation(prepared.image, dpi=prepared.dpi, timeout_s=_left(deadline))
            if osd is not None and osd.rotate and osd.orientation_conf >= OSD_MIN_CONF:
                if image is None:
                    image = _first_read(source, page_no, settings, options)
                turned = prepare_page(image, settings, dpi, options, rotation=(prepared.rotation + osd.rotate) % 360)
                retry = _recognise(turned, page_no, settings, deadline)
                if (retry.ocr_confidence or 0.0) > (page.ocr_confidence or 0.0):
                    page, prepared = retry, turned
        if callable(source) and image is not None:
            image.close()
    page.seconds = round(time.perf_counter() - started, 3)
    return page


def _left(deadline: float) -> float:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise OcrTimeout("page OCR ran out of its time budget")
    return left


def _recognise(prepared: PreparedPage, page_no: int, settings: OcrSettings, deadline: float) -> PageText:
    rows = tesseract.image_to_tsv(
        prepared.image,
        languages=settings.languages,
        psm=settings.psm,
        dpi=prepared.dpi,
        timeout_s=_left(deadline),
    )
    return build_page(rows, page_no, prepared, settings)


def _maybe_misoriented(page: PageText) -> bool:
    return len(page.words) >= MIN_WORDS_FOR_OSD and (page.ocr_confidence or 0.0) < MISORIENTED_CONF


def build_page(rows: list[tesseract.TsvWord], page_no: int, prepared: PreparedPage, settings: OcrSettings) -> PageText:
    """Assemble text, words and quality numbers from Tesseract's word rows."""
    # quality numbers count every recognised word, also those of lines dropped below
    all_confs = [r.conf for r in rows]
    mean_conf = round(float(np.mean(all_confs)), 2) if all_confs else None
    low_share = round(sum(c < settings.low_conf for c in all_confs) / len(all_confs), 4) if all_confs else None
    lines = _group_lines(_drop_specks(rows))
    if mean_conf is not None and mean_conf >= settings.poor_page_conf:
        # on an otherwise legible page, a line without one sure word is a signature or stamp
        # read as letters; on a poor page everything is kept for the reviewer
        lines = [ln for ln in lines if not _is_junk(ln)]
    lines = _reorder_columns(lines)
    cyrillic = cyrillic_page([r.text for ln in lines for r in ln.words])
    parts: list[str] = []
    pos = 0
    words: list[Word] = []
    m = prepared.to_oriented
    ow, oh = prepared.oriented_size
    for line_idx, line in enumerate(lines):
        if line_idx:
            sep = "\n\n" if line.new_paragraph else "\n"
            parts.append(sep)
            pos += len(sep)
        texts = _fix_tokens([r.text for r in line.words], cyrillic)
        for i, (r, text) in enumerate(zip(line.words, texts, strict=True)):
            if i:
                parts.append(" ")
                pos += 1
            left, top, width, height = _map_box(m, r.left, r.top, r.width, r.height, ow, oh)
            words.append(
                Word(
                    text=text,
                    left=left,
                    top=top,
                    width=width,
                    height=height,
                    conf=r.conf,
                    line=line_idx,
                    start=pos,
                    end=pos + len(text),
                )
            )
            parts.append(text)
            pos += len(text)
    return PageText(
        page_no=page_no,
        text="".join(parts),
        source=TextSource.OCR,
        width=float(ow),
        height=float(oh),
        words=words,
        # a page without words (blank back side) has no confidence rather than a zero one
        ocr_confidence=mean_conf,
        low_confidence_share=low_share,
        rotation=prepared.rotation,
    )


@dataclass
class _Line:
    words: list[tesseract.TsvWord]
    new_paragraph: bool  # a blank line goes before it

    @property
    def left(self) -> int:
        return self.words[0].left

    @property
    def right(self) -> int:
        return self.words[-1].left + self.words[-1].width

    @property
    def top(self) -> int:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> int:
        return max(w.top + w.height for w in self.words)

    @property
    def height(self) -> float:
        return float(np.median([w.height for w in self.words]))


def _group_lines(rows: list[tesseract.TsvWord]) -> list[_Line]:
    lines: list[_Line] = []
    prev: tuple[int, int, int] | None = None
    for r in rows:
        key = (r.block, r.par, r.line)
        if key != prev:
            lines.append(_Line([], new_paragraph=prev is not None and key[:2] != prev[:2]))
            prev = key
        lines[-1].words.append(r)
    return lines


def _drop_specks(rows: list[tesseract.TsvWord]) -> list[tesseract.TsvWord]:
    """Drop "words" that are dust: both sides under a third of the page's letter height."""
    heights = [r.height for r in rows if any(ch.isalpha() for ch in r.text)]
    if len(heights) < 5:
        return rows
    limit = SPECK_SIZE * float(np.median(heights))
    return [r for r in rows if max(r.width, r.height) >= limit]


def _is_junk(line: _Line) -> bool:
    confs = [w.conf for w in line.words]
    return max(confs) < JUNK_LINE_MAX_CONF and float(np.mean(confs)) < JUNK_LINE_MEAN_CONF


def _column_gaps(line: _Line) -> list[int]:
    """Indexes of the words that follow a column-sized gap (word spaces, even justified, stay far below)."""
    limit = COLUMN_GAP_HEIGHTS * line.height
    return [
        i
        for i in range(1, len(line.words))
        if line.words[i].left - (line.words[i - 1].left + line.words[i - 1].width) > limit
    ]


def _split_at_gap(line: _Line) -> int | None:
    gaps = _column_gaps(line)
    return gaps[0] if len(gaps) == 1 else None


def _has_words(words: list[tesseract.TsvWord]) -> bool:
    return sum(ch.isalpha() for w in words for ch in w.text) >= 3


def _reorder_columns(lines: list[_Line]) -> list[_Line]:
    """Read side-by-side blocks Tesseract merged into shared lines column by column.

    Letter headers often put the date/number on the left and the addressee on the
    right; Tesseract may join them line by line ("від 01.02.2019 № 5  Голові ...").
    A run of vertically close lines that all break at a wide gap at the same place
    (or lie wholly on the right of it) is emitted as its left column, then its right one.
    Tables are left alone: a line with two or more wide gaps, or a right column of
    bare numbers (amounts, dates), keeps its rows.
    """
    out: list[_Line] = []
    i = 0
    while i < len(lines):
        cut = _split_at_gap(lines[i])
        if cut is None:
            out.append(lines[i])
            i += 1
            continue
        x_split = lines[i].words[cut].left
        tol = 2.0 * lines[i].height
        group: list[tuple[_Line, int]] = [(lines[i], cut)]
        j = i + 1
        while j < len(lines):
            nxt, last = lines[j], group[-1][0]
            if nxt.top - last.bottom > 2.5 * max(nxt.height, last.height):
                break  # too far below: a different part of the page
            gaps = _column_gaps(nxt)
            if len(gaps) > 1:
                break  # a table row
            c = gaps[0] if gaps else None
            if c is not None and abs(nxt.words[c].left - x_split) <= tol:
                group.append((nxt, c))
            elif nxt.left >= x_split - tol:
                group.append((nxt, 0))  # right column only
            else:
                break
            j += 1
        split_lines = [(line, c) for line, c in group if c]
        right_text = sum(_has_words(line.words[c:]) for line, c in group)
        if len(split_lines) < 2 or right_text * 2 < len(group):
            # one split line (a signature line) or a right column of numbers stays as it is
            out.append(lines[i])
            i += 1
            continue
        left_lines = [_Line(line.words[:c], False) for line, c in group if c]
        right_lines = [_Line(line.words[c:], False) for line, c in group]
        left_lines[0].new_paragraph = group[0][0].new_paragraph
        right_lines[0].new_paragraph = True
        out += left_lines + right_lines
        i = j
    return out


# "№" misreads, Latin look-alikes and "ьі" for "ы": pipeline.ocrnorm, shared with every stage.
_fix_tokens = fix_tokens


def cyrillic_page(texts: list[str]) -> bool:
    """True when the page's letters are overwhelmingly Cyrillic (a Ukrainian or Russian letter)."""
    joined = "".join(texts)
    cyr = sum(is_cyrillic(ch) for ch in joined)
    return cyr > 3 * sum(is_latin(ch) for ch in joined)


def _map_box(
    m: np.ndarray, left: int, top: int, width: int, height: int, max_w: int, max_h: int
) -> tuple[float, float, float, float]:
    """Bounding box, in oriented-input pixels, of a prepared-image box (clipped to the page)."""
    if np.array_equal(m, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])):
        return float(left), float(top), float(width), float(height)
    xs = np.array([left, left + width, left, left + width], dtype=float)
    ys = np.array([top, top, top + height, top + height], dtype=float)
    tx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    ty = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    # plain floats: a numpy scalar would have the runner import numpy to unpickle the result
    x0, x1 = max(0.0, float(tx.min())), min(float(max_w), float(tx.max()))
    y0, y1 = max(0.0, float(ty.min())), min(float(max_h), float(ty.max()))
    return round(x0, 1), round(y0, 1), round(max(0.0, x1 - x0), 1), round(max(0.0, y1 - y0), 1)


def page_is_poor(page: PageText, settings: OcrSettings) -> bool:
    """True for a page whose OCR is likely unreliable (low mean confidence or many unsure words)."""
    if page.source != TextSource.OCR:
        return False
    if page.ocr_confidence is None:
        return False  # nothing recognised at all: a blank page, not a bad scan
    conf = page.ocr_confidence
    low = page.low_confidence_share or 0.0
    return conf < settings.poor_page_conf or low > settings.poor_page_low_share
