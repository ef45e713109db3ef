"""OCR of one page image into a :class:`PageText` with word boxes and confidences.

One Tesseract call per page (TSV output) gives both the words and their boxes; the
page text is built from those words here, so every word's span matches the text
exactly: words of a line are joined by a space, lines by ``\\n``, paragraphs and
blocks are separated by a blank line.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
from PIL import Image

from pipeline.engines import tesseract
from pipeline.errors import OcrError
from pipeline.schema import PageText, TextSource, Word
from pipeline.settings import OcrSettings
from pipeline.stages.prepare import PreparedPage, prepare_page


def ocr_page(image: Image.Image, page_no: int, settings: OcrSettings, dpi: int | None = None) -> PageText:
    """OCR one page. Spans are relative to this page's text; the caller rebases them."""
    if image.width < 1 or image.height < 1:
        raise OcrError(f"page {page_no}: empty image")
    started = time.perf_counter()
    if settings.prepare:
        prepared = prepare_page(image, settings, dpi)
    else:
        prepared = PreparedPage(image=image, dpi=dpi, oriented_size=image.size)
    rows = tesseract.image_to_tsv(
        prepared.image,
        languages=settings.languages,
        psm=settings.psm,
        dpi=prepared.dpi,
        timeout_s=settings.timeout_s,
    )
    page = build_page(rows, page_no, prepared, settings)
    page.seconds = round(time.perf_counter() - started, 3)
    return page


def build_page(
    rows: list[tesseract.TsvWord], page_no: int, prepared: PreparedPage, settings: OcrSettings
) -> PageText:
    """Assemble text, words and quality numbers from Tesseract's word rows."""
    parts: list[str] = []
    pos = 0
    words: list[Word] = []
    prev_line: tuple[int, int, int] | None = None
    line_idx = -1
    m = prepared.to_oriented
    ow, oh = prepared.oriented_size
    for r in rows:
        key = (r.block, r.par, r.line)
        if prev_line is None:
            sep = ""
        elif key == prev_line:
            sep = " "
        elif key[:2] == prev_line[:2]:
            sep = "\n"
        else:
            sep = "\n\n"  # new paragraph or block
        if key != prev_line:
            line_idx += 1
            prev_line = key
        parts.append(sep)
        pos += len(sep)
        left, top, width, height = _map_box(m, r.left, r.top, r.width, r.height, ow, oh)
        words.append(
            Word(
                text=r.text,
                left=left,
                top=top,
                width=width,
                height=height,
                conf=r.conf,
                line=line_idx,
                start=pos,
                end=pos + len(r.text),
            )
        )
        parts.append(r.text)
        pos += len(r.text)
    confs = [w.conf for w in words if w.conf is not None]
    return PageText(
        page_no=page_no,
        text="".join(parts),
        source=TextSource.OCR,
        width=float(ow),
        height=float(oh),
        words=words,
        # a page without words (blank back side) has no confidence rather than a zero one
        ocr_confidence=round(float(np.mean(confs)), 2) if confs else None,
        low_confidence_share=round(sum(c < settings.low_conf for c in confs) / len(confs), 4) if confs else None,
        rotation=prepared.rotation,
    )


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
    x0, x1 = max(0.0, tx.min()), min(float(max_w), tx.max())
    y0, y1 = max(0.0, ty.min()), min(float(max_h), ty.max())
    return round(x0, 1), round(y0, 1), round(max(0.0, x1 - x0), 1), round(max(0.0, y1 - y0), 1)


def page_is_poor(page: PageText, settings: OcrSettings) -> bool:
    """True for a page whose OCR is likely unreliable (low mean confidence or many unsure words)."""
    if page.source != TextSource.OCR:
        return False
    if not page.words or page.ocr_confidence is None:
        return False  # a blank page is not a bad scan
    conf = page.ocr_confidence
    low = page.low_confidence_share or 0.0
    return conf < settings.poor_page_conf or low > settings.poor_page_low_share


def with_overrides(settings: OcrSettings, **kwargs: object) -> OcrSettings:
    """Per-call settings tweaks (e.g. ``psm``) without touching the run's settings."""
    return replace(settings, **{k: v for k, v in kwargs.items() if v is not None})
