"""Text: each page's text and words, from the PDF text layer or from OCR.

A PDF page with a real text layer is read with pdfium (:mod:`pipeline.stages.pdf_words`, the
words pdfplumber would give; pdfminer still opens the file and checks each page); any other
page (scanned PDF page, image, TIFF frame) is rendered and handed to
:func:`pipeline.stages.ocr.ocr_page`. Pages are streamed one at a time so a
long PDF never sits in memory as images.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import logging
import re
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from PIL import ExifTags, Image, ImageOps, ImageSequence

from pipeline.engines.pdfium import LOCK as PDFIUM_LOCK
from pipeline.errors import LetterError, TooLarge, UnreadableFile
from pipeline.schema import FileKind, Letter, LetterText, PageText, SourceFile, TextSource, Word
from pipeline.settings import Settings
from pipeline.stages import ocr_cache
from pipeline.stages.ocr_cache import page_cache_key

log = logging.getLogger("letters")

PageCallback = Callable[[PageText], None]
PageSpan = tuple[int, int | None]  # first, last page (1-based, inclusive); last None: to the end


@dataclasses.dataclass
class PageImage:
    """A page to OCR: how to get its image, lazily."""

    page_no: int
    load: Callable[[], Image.Image]
    dpi: int | None
    cache_key: str | None = None
    # the page straight as the grey that preparation reads (a PDF page rendered to it: the
    # colour image is never held), when the source can give it
    load_grey: Callable[[], Image.Image] | None = None


# Tesseract cannot even read a file this small (a 2x2 PBM is "truncated" to Leptonica); a letter
# page is hundreds of pixels on each side even at 50 dpi.
MIN_PAGE_SIDE_PX = 16


def _check_pixels(width: float, height: float, settings: Settings, what: str) -> None:
    if width * height > settings.limits.max_pixels:
        raise TooLarge(
            f"{what} is {int(width)}x{int(height)} pixels, over the limit of {settings.limits.max_pixels:,} pixels per page"
        )
    if width < 1 or height < 1:
        raise UnreadableFile(f"{what} has no pixels ({int(width)}x{int(height)})")
    if width < MIN_PAGE_SIDE_PX or height < MIN_PAGE_SIDE_PX:
        raise UnreadableFile(f"{what} is only {int(width)}x{int(height)} pixels: too small to be a letter page")


# --- text layer ---------------------------------------------------------------


def _layer_lines(words: list[dict]) -> list[list[dict]]:
    """Group text-layer words (pdfplumber's word dicts) into lines by their vertical position."""
    lines: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        height = max(w["bottom"] - w["top"], 1.0)
        if lines and abs(lines[-1][0]["top"] - w["top"]) < 0.5 * height:
            lines[-1].append(w)
        else:
            lines.append([w])
    for line in lines:
        line.sort(key=lambda w: w["x0"])
    return lines


def layout_text_layer(words: list[dict], page_no: int, width: float, height: float) -> PageText:
    """Page text in reading order from text-layer words; blank lines between paragraphs,
    wide gaps inside a line (a signature's position and name) kept as four spaces."""
    lines = _layer_lines(words)
    heights = [max(line[0]["bottom"] - line[0]["top"], 1.0) for line in lines]
    typical = statistics.median(heights) if heights else 10.0
    parts: list[str] = []
    out_words: list[Word] = []
    pos = 0
    prev_bottom: float | None = None
    for line_no, line in enumerate(lines):
        if parts:
            gap = line[0]["top"] - (prev_bottom or 0)
            sep = "\n\n" if gap > 0.9 * typical else "\n"
            parts.append(sep)
            pos += len(sep)
        prev_right: float | None = None
        for w in line:
            if prev_right is not None:
                char_w = (w["x1"] - w["x0"]) / max(len(w["text"]), 1)
                sep = "    " if w["x0"] - prev_right > 6 * char_w else " "
                parts.append(sep)
                pos += len(sep)
            text = w["text"]
            out_words.append(
                Word(
                    text=text,
                    left=w["x0"],
                    top=w["top"],
                    width=w["x1"] - w["x0"],
                    height=w["bottom"] - w["top"],
                    conf=None,
                    line=line_no,
                    start=pos,
                    end=pos + len(text),
                )
            )
            parts.append(text)
            pos += len(text)
            prev_right = w["x1"]
        prev_bottom = max(w["bottom"] for w in line)
    return PageText(
        page_no=page_no, text="".join(parts), source=TextSource.TEXT_LAYER, width=width, height=height, words=out_words
    )


def has_real_text(words: list[dict], min_chars: int) -> bool:
    """A text layer counts when it has enough letters and is not glyph garbage ("(cid:12)")."""
    text = "".join(w["text"] for w in words)
    letters = sum(ch.isalpha() for ch in text)
    return letters >= min_chars and "(cid:" not in text[:2000] and letters / max(len(text), 1) > 0.4


def _layer_words(doc: object, index: int, page: object) -> list[dict]:
    """The words of page ``index`` (0-based) of a pdfium document, as pdfplumber's
    ``extract_words(x_tolerance=1.5, y_tolerance=3)`` gives them; ``page`` is the pdfplumber page."""
    from pipeline.stages.pdf_words import chars_to_words, page_chars

    pdf_page = doc[index]  # type: ignore[index]
    try:
        textpage = pdf_page.get_textpage()
        try:
            mediabox = tuple(float(v) for v in page.page_obj.mediabox)  # type: ignore[attr-defined]
            chars = page_chars(textpage, float(page.height), mediabox, int(page.rotation))  # type: ignore[attr-defined]
        finally:
            textpage.close()
    finally:
        pdf_page.close()
    return chars_to_words(chars)


def _pdf_pages(
    path: Path, settings: Settings, file_sha: str = "", pages: PageSpan | None = None
) -> Iterator[PageText | PageImage]:
    """Yield each PDF page as text-layer PageText, or as a PageImage to OCR; only pages
    ``first..last`` (1-based, inclusive; last None: to the end) when ``pages`` is given,
    the others are not touched."""
    import pdfplumber
    import pypdfium2 as pdfium
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    _check_reference_loops(path)
    try:
        pdf = pdfplumber.open(path)
        n_pages = len(pdf.pages)
    except Exception as exc:  # pdfminer raises many unrelated types on broken files
        if isinstance(_unwrap(exc), PDFPasswordIncorrect):
            raise UnreadableFile("encrypted PDF: it needs a password to open") from None
        raise UnreadableFile(f"broken PDF: {_pdf_reason(exc)}") from None
    doc = None
    try:
        if n_pages == 0:
            raise UnreadableFile("PDF has no pages")
        if n_pages > settings.limits.max_pages:
            raise TooLarge(f"PDF has {n_pages} pages, over the limit of {settings.limits.max_pages}")
        try:  # pdfium reads the text layer (and renders the pages to OCR)
            with PDFIUM_LOCK:
                doc = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise UnreadableFile(f"broken PDF: {exc}") from None
        span = range(n_pages) if pages is None else range(pages[0] - 1, min(pages[1] or n_pages, n_pages))
        for i in span:
            try:
                # pdfminer's page object: the page's boxes and rotation, and its content streams' size
                page = pdf.pages[i]
                _check_content_size(page.page_obj, i + 1)
                width, height = float(page.width), float(page.height)
                with PDFIUM_LOCK:
                    words = _layer_words(doc, i, page)
            except LetterError:
                raise
            except Exception as exc:
                raise UnreadableFile(f"broken PDF page {i + 1}: {_pdf_reason(exc)}") from None
            if has_real_text(words, settings.limits.min_text_layer_chars):
                yield layout_text_layer(words, i + 1, width, height)
                continue
            dpi = settings.ocr.render_dpi
            scale = dpi / 72.0
            _check_pixels(width * scale, height * scale, settings, f"page {i + 1} at {dpi} dpi")

            def render(i: int = i, scale: float = scale, doc: pdfium.PdfDocument = doc, grey: bool = False) -> Image.Image:
                with PDFIUM_LOCK:
                    try:
                        bitmap = doc[i].render(scale=scale, grayscale=False)
                    except pdfium.PdfiumError as exc:
                        raise UnreadableFile(f"PDF page {i + 1} cannot be rendered: {exc}") from None
                    if not grey:
                        return bitmap.to_pil()  # may share the bitmap's memory: the image keeps it
                    from pipeline.stages.prepare import grey_from_bgr  # OpenCV: only once a page is OCR'd

                    try:
                        return grey_from_bgr(bitmap.to_numpy())
                    finally:
                        bitmap.close()  # the colour pixels go at once, not whenever the collector runs

            yield PageImage(page_no=i + 1, load=render, dpi=dpi, cache_key=page_cache_key(file_sha, i, dpi, settings.ocr),
                            load_grey=functools.partial(render, grey=True))
    finally:
        pdf.close()
        if doc is not None:
            with PDFIUM_LOCK:
                doc.close()


# A few KB of deflated no-op operators can inflate to gigabytes that a reader (pdfminer in pure
# Python at ~0.2-0.5 MB/s, pdfium too when it renders) would parse. Text pages hold ~10-100 KB of
# content, a dense vector drawing a few MB.
MAX_PAGE_CONTENT_BYTES = 16 * 1024 * 1024


def _stream_size(stream: object, cap: int) -> int:
    """Decoded size of a pdfminer PDFStream, inflating at most ``cap`` + 1 bytes per filter stage."""
    import zlib

    from pdfminer.ascii85 import ascii85decode, asciihexdecode
    from pdfminer.psparser import LIT

    data = stream.rawdata  # type: ignore[attr-defined]
    if data is None:  # already decoded by pdfminer
        return len(stream.data or b"")  # type: ignore[attr-defined]
    if getattr(stream, "decipher", None):  # encrypted: decrypt first (same size as the raw data)
        data = stream.decipher(stream.objid, stream.genno, data, stream.attrs)  # type: ignore[attr-defined]
    for name, _params in stream.get_filters():  # type: ignore[attr-defined]
        try:
            if name in (LIT("FlateDecode"), LIT("Fl")):
                data = zlib.decompressobj().decompress(data, cap + 1)
            elif name in (LIT("ASCII85Decode"), LIT("A85")):
                data = ascii85decode(data)
            elif name in (LIT("ASCIIHexDecode"), LIT("AHx")):
                data = asciihexdecode(data)
            else:  # LZW, RunLength, image codecs: not used to pack page content in practice
                break
        except (zlib.error, ValueError):
            break  # a broken stream is pdfminer's to report
        if len(data) > cap:
            break
    return len(data)


# The most each filter can multiply a stream's size by: deflate's ratio is at most 1032:1, ASCII85
# turns 5 characters into 4 bytes ("z" one into 4), hex 2 into 1.
_FILTER_GROWTH = {"FlateDecode": 1032, "Fl": 1032, "ASCII85Decode": 4, "A85": 4, "ASCIIHexDecode": 1,
                  "AHx": 1}


def _stream_size_bound(stream: object, cap: int) -> int:
    """An upper bound of a stream's decoded size from its raw size and filters, without decoding
    it (ASCII85 in pure Python costs as much as reading the page's text layer); over ``cap`` when
    a filter's growth is unbounded (LZW, RunLength, image codecs)."""
    data = stream.rawdata  # type: ignore[attr-defined]
    size = len(stream.data or b"") if data is None else len(data)  # type: ignore[attr-defined]
    if data is None:  # already decoded by pdfminer
        return size
    for name, _params in stream.get_filters():  # type: ignore[attr-defined]
        growth = _FILTER_GROWTH.get(getattr(name, "name", ""))
        if growth is None:
            return cap + 1
        size *= growth
    return size


def _check_content_size(page_obj: object, page_no: int) -> None:
    """Refuse a page whose content streams (with form XObjects) decode to more than the limit.
    Bounds of the decoded sizes come first: a letter's page is well within them and its streams
    are not decoded at all."""
    if _content_size(page_obj, _stream_size_bound) <= MAX_PAGE_CONTENT_BYTES:
        return
    if _content_size(page_obj, _stream_size) > MAX_PAGE_CONTENT_BYTES:
        raise TooLarge(
            f"PDF page {page_no} has over {MAX_PAGE_CONTENT_BYTES // 2**20} MB of drawing instructions "
            "(possible PDF bomb)"
        )


def _content_size(page_obj: object, size_of: Callable[[object, int], int]) -> int:
    """The sum of ``size_of`` over the page's content streams and form XObjects (4 levels deep),
    stopping once it is over the limit."""
    from pdfminer.pdftypes import PDFStream, resolve1
    from pdfminer.psparser import LIT

    total = 0
    seen: set[int] = set()

    def add(streams: list[object], resources: object, depth: int) -> None:
        nonlocal total
        for st in streams:
            st = resolve1(st)
            if isinstance(st, PDFStream) and id(st) not in seen:
                seen.add(id(st))
                total += size_of(st, MAX_PAGE_CONTENT_BYTES - total)
            if total > MAX_PAGE_CONTENT_BYTES:
                return
        xobjects = resolve1((resolve1(resources) or {}).get("XObject")) if depth < 4 else None
        for ref in (xobjects or {}).values() if isinstance(xobjects, dict) else ():
            xo = resolve1(ref)
            if isinstance(xo, PDFStream) and xo.get("Subtype") is LIT("Form") and id(xo) not in seen:
                add([xo], xo.get("Resources"), depth + 1)
            if total > MAX_PAGE_CONTENT_BYTES:
                return

    add(list(getattr(page_obj, "contents", None) or []), getattr(page_obj, "resources", None), 0)
    return total


# "N 0 obj M 0 R endobj": an object that is only a reference to another one. The pattern starts
# at the literal "obj" (found by a fast scan; one that starts with digits is tried at every byte,
# ~2 ms a letter) and "N 0 " is read back from just before it.
_BARE_REF = re.compile(rb"obj\s*(\d{1,10})\s+\d{1,5}\s+R\s*endobj")
_OBJ_HEADER_END = re.compile(rb"(?<!\d)(\d{1,10})\s+\d{1,5}\s+\Z")


def _check_reference_loops(path: Path) -> None:
    """Refuse a PDF whose objects refer to each other in a loop (2 -> 3 -> 2): pdfminer follows such
    chains forever and the worker hangs on a 200-byte file. Objects inside compressed object
    streams are not checked (pdfminer reads those the same way; a per-letter time limit is the net)."""
    import mmap

    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            refs: dict[int, int] = {}
            for m in _BARE_REF.finditer(data):
                head = _OBJ_HEADER_END.search(data, max(0, m.start() - 64), m.start())
                if head:
                    refs[int(head.group(1))] = int(m.group(1))
    except (OSError, ValueError):  # unreadable or empty: the PDF reader says why
        return
    for start in refs:
        seen = {start}
        nxt = refs.get(start)
        while nxt is not None:
            if nxt in seen:
                raise UnreadableFile(f"broken PDF: object {start} refers to itself through a loop of references")
            seen.add(nxt)
            nxt = refs.get(nxt)


def _unwrap(exc: BaseException) -> BaseException:
    """pdfplumber wraps pdfminer's errors in PdfminerException(inner)."""
    while type(exc).__name__ == "PdfminerException" and exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    return exc


# pdfminer's terse messages, said in words a user can act on
_PDF_HINTS = {
    "Unexpected EOF": "the file ends too early (truncated or incompletely copied)",
    "No /Root object": "no document catalog (/Root): the file is damaged or not really a PDF",
}


def _pdf_reason(exc: BaseException, path: Path | None = None) -> str:
    exc = _unwrap(exc)
    text = str(exc).strip() or type(exc).__name__
    if path is not None:  # absolute paths of the machine do not belong in records
        text = text.replace(str(path), path.name)
    text = text.splitlines()[0][:200]
    for key, hint in _PDF_HINTS.items():
        if key in text:
            return f"{hint} ({text})"
    return text


def _tiff_first_size(path: Path) -> tuple[int, int] | None:
    """Width and height in a TIFF's first IFD, read by hand (Pillow refuses some files whole)."""
    import struct

    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            order = {b"II": "<", b"MM": ">"}.get(head[:2])
            if order is None:
                return None
            fh.seek(struct.unpack(order + "I", head[4:8])[0])
            (count,) = struct.unpack(order + "H", fh.read(2))
            size: dict[int, int] = {}
            for _ in range(min(count, 512)):
                tag, typ, _n, raw = struct.unpack(order + "HHI4s", fh.read(12))
                if tag in (256, 257) and typ in (3, 4):
                    size[tag] = struct.unpack(order + ("H" if typ == 3 else "I"), raw[: 2 if typ == 3 else 4])[0]
    except (OSError, struct.error):
        return None
    return (size[256], size[257]) if len(size) == 2 else None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}


def _png_text_chunks(fh: BinaryIO) -> bool:
    """Whether a PNG has text chunks, read from the chunk headers only (their data is skipped)."""
    import struct

    fh.seek(8)
    while True:
        head = fh.read(8)
        if len(head) < 8:
            return False
        length, ctype = struct.unpack(">I4s", head)
        if ctype in _PNG_TEXT_CHUNKS:
            return True
        if ctype == b"IEND":
            return False
        fh.seek(length + 4, io.SEEK_CUR)


def _png_without_text(fh: BinaryIO) -> io.BytesIO:
    """The PNG with its text chunks (tEXt, zTXt, iTXt) left out; every other chunk byte for byte."""
    import struct

    out = io.BytesIO()
    out.write(_PNG_SIGNATURE)
    fh.seek(8)
    while True:
        head = fh.read(8)
        if len(head) < 8:
            break
        length, ctype = struct.unpack(">I4s", head)
        if ctype in _PNG_TEXT_CHUNKS:
            fh.seek(length + 4, io.SEEK_CUR)
            continue
        out.write(head)
        out.write(fh.read(length + 4))
        if ctype == b"IEND":
            break
    out.seek(0)
    return out


def open_image(path: Path) -> Image.Image:
    """``Image.open``, except that a PNG's text metadata is never decoded: only the pixels matter to
    us, and Pillow refuses a PNG whose text chunks are huge (a 100 MB zTXt, 64 MB of tEXt) as if
    the whole file were corrupt. Such a PNG is opened without its text chunks."""
    with path.open("rb") as fh:
        if fh.read(8) == _PNG_SIGNATURE and _png_text_chunks(fh):
            return Image.open(_png_without_text(fh))
    return Image.open(path)


# EXIF orientation -> the turn that makes the picture upright (as ImageOps.exif_transpose turns it)
_EXIF_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_upright(photo: Image.Image, pixels: Image.Image) -> Image.Image:
    """``pixels`` (``photo``'s own, made grey, say) turned as ``photo``'s EXIF orientation says."""
    turn = _EXIF_TURNS.get(photo.getexif().get(ExifTags.Base.Orientation, 1))
    return pixels if turn is None else pixels.transpose(turn)


def _upright_copy(img: Image.Image, kind: FileKind) -> Image.Image:
    """A copy of the frame ``img`` is at, a JPEG turned upright by its EXIF orientation (in
    place: no second copy when it already is)."""
    frame = img.copy()
    if kind == FileKind.JPEG:
        ImageOps.exif_transpose(frame, in_place=True)
    return frame


def _image_reason(exc: BaseException, path: Path, kind: FileKind) -> str:
    what = kind.value.upper()
    if kind == FileKind.TIFF and (size := _tiff_first_size(path)) and min(size) < 1:
        return f"{what} frame 1 has no pixels ({size[0]}x{size[1]})"
    if type(exc).__name__ == "UnidentifiedImageError":
        return f"corrupt {what} image: its header cannot be decoded"
    return f"corrupt or truncated {what} image: {_pdf_reason(exc, path)}"


def _image_pages(
    path: Path, kind: FileKind, first_page_no: int, settings: Settings, file_sha: str = ""
) -> Iterator[PageImage]:
    """Yield each frame of an image file (TIFFs may hold several)."""
    Image.MAX_IMAGE_PIXELS = settings.limits.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_image(path) as img:
                n_frames = getattr(img, "n_frames", 1)
                if n_frames > settings.limits.max_pages:
                    raise TooLarge(f"image has {n_frames} frames, over the limit of {settings.limits.max_pages}")
                sizes = []
                for frame in ImageSequence.Iterator(img):
                    sizes.append((frame.size, frame.info.get("dpi")))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (N pixels) exceeds limit..."
        size = f"{int(found.group(1)):,} pixels" if found else "larger than the limit"
        raise TooLarge(
            f"image is {size}, over the limit of {settings.limits.max_pixels:,} pixels per page "
            "(possible decompression bomb)"
        ) from None
    except LetterError:
        raise
    except Exception as exc:
        raise UnreadableFile(_image_reason(exc, path, kind)) from None
    for idx, ((w, h), dpi) in enumerate(sizes):
        _check_pixels(w, h, settings, f"frame {idx + 1}")

        def load(idx: int = idx, grey: bool = False) -> Image.Image:
            try:
                decoded = _DECODED.pop((path, idx), None)
                with contextlib.nullcontext(decoded) if decoded is not None else open_image(path) as img:
                    img.seek(idx)
                    if grey:
                        from pipeline.stages.prepare import read_as_grey  # OpenCV: only once a page is OCR'd

                        # made grey from the decoded frame itself, then turned upright (the two commute:
                        # greying is per pixel): a colour photo's pixels are never copied, where the copy
                        # and EXIF's turned copy were ~35 MB each for an A4 page at 300 dpi
                        read = read_as_grey(img)
                        read = read if read is not img else img.copy()
                        return exif_upright(img, read) if kind == FileKind.JPEG else read
                    frame = _upright_copy(img, kind)
                    frame.load()
                    return frame
            except Exception as exc:
                raise UnreadableFile(_image_reason(exc, path, kind)) from None

        yield PageImage(page_no=first_page_no + idx, load=load, dpi=_dpi_value(dpi),
                        cache_key=page_cache_key(file_sha, idx, None, settings.ocr),
                        load_grey=functools.partial(load, grey=True))


# The first frame of an image letter, decoded ahead of its OCR (see decode_ahead): (path, frame)
# -> the frame, loaded. One at most, taken by the page's load or dropped when the letter is read.
_DECODED: dict[tuple[Path, int], Image.Image] = {}
IMAGE_KINDS = (FileKind.PNG, FileKind.JPEG, FileKind.TIFF)
DECODE_BLOCK_BYTES = 8 << 20


def decode_ahead(letter: Letter, settings: Settings) -> None:
    """Decode the first page of an image letter now, for its OCR to take instead of decoding it
    again: a worker calls this while the OCR modules are imported beside it (see
    :func:`load_ocr_modules`), as Pillow decodes without the interpreter's lock. Anything wrong
    (too many pixels, a broken file) is left to the reading proper, which reports it."""
    _DECODED.clear()
    if not letter.files or letter.kind not in IMAGE_KINDS:
        return
    path = letter.files[0].path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = open_image(path)
            if img.width * img.height > settings.limits.max_pixels:
                img.close()
                return
            # in a few large reads: Pillow lets the lock go for each block it decodes, and takes it
            # back only when the importing thread yields it (every 5 ms): 64 KB blocks would wait
            img.decodermaxblock = DECODE_BLOCK_BYTES
            img.load()
    except Exception:
        return
    _DECODED[(path, 0)] = img


def load_ocr_modules() -> None:
    """Import what OCR needs (NumPy, OpenCV: ~0.2 s) and ask Tesseract its version (the OCR
    cache keys carry it), ahead of a first page."""
    try:
        import pipeline.stages.ocr  # noqa: F401

        ocr_cache.tesseract_version()
    except Exception:  # only an early load: the page that needs them loads them again and reports
        log.debug("early load of the OCR modules failed", exc_info=True)


def _dpi_value(dpi: object) -> int | None:
    try:
        value = int(round(float(dpi[0])))  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return None
    return value if 50 <= value <= 2400 else None


def _check_unchanged(src: SourceFile) -> None:
    """The file still holds the bytes ingest found: results are stored under that hash (and the
    OCR cache is keyed by it), so a file rewritten or deleted since discovery must not be read."""
    import hashlib

    try:
        digest = hashlib.sha256()
        with src.path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise UnreadableFile(f"{src.rel_path} disappeared during the run") from None
    except OSError as exc:
        raise UnreadableFile(f"{src.rel_path} cannot be read: {exc.strerror or exc}") from None
    if digest.hexdigest() != src.sha256:
        raise UnreadableFile(
            f"{src.rel_path} changed during the run (its content differs from when it was found); run again to process it"
        )


def _named_load(load: Callable[[], Image.Image], prefix: str) -> Callable[[], Image.Image]:
    def named() -> Image.Image:
        try:
            return load()
        except LetterError as exc:
            raise type(exc)(prefix + str(exc)) from None

    return named


def iter_pages(letter: Letter, settings: Settings, pages: PageSpan | None = None) -> Iterator[PageText | PageImage]:
    """Every page of a letter, in order, across its files; with ``pages`` (first, last), only
    those pages of a one-file PDF letter (a page-range task of a long scan)."""
    if pages is not None and (len(letter.files) != 1 or letter.kind != FileKind.PDF):
        raise ValueError("a page range is only for a letter of one PDF file")
    page_no = pages[0] if pages else 1
    for src in letter.files:
        # a letter of several page images: say which one is bad
        prefix = f"{src.rel_path}: " if len(letter.files) > 1 else ""
        try:
            _check_unchanged(src)
            if src.kind == FileKind.PDF:
                for item in _pdf_pages(src.path, settings, src.sha256, pages):
                    item.page_no = page_no
                    page_no += 1
                    yield item
            else:
                for item in _image_pages(src.path, src.kind, page_no, settings, src.sha256):
                    page_no += 1
                    if prefix:
                        item.load = _named_load(item.load, prefix)
                        item.load_grey = item.load_grey and _named_load(item.load_grey, prefix)
                    yield item
        except LetterError as exc:
            if prefix and not str(exc).startswith(src.rel_path):
                raise type(exc)(prefix + str(exc)) from None
            raise
        if page_no - 1 > settings.limits.max_pages:
            raise TooLarge(f"letter has over {settings.limits.max_pages} pages")


def _rebase(page: PageText, offset: int) -> PageText:
    if offset:
        page.words = [dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in page.words]
    return page


def extract_text(
    letter: Letter,
    settings: Settings,
    ocr: Callable[[PageImage, Settings], PageText] | None = None,
    on_page: PageCallback | None = None,
) -> LetterText:
    """The letter's text, page by page. ``ocr`` turns a PageImage into a PageText
    (default: Tesseract through :func:`ocr_page_image`); word spans are rebased
    onto the letter's full text."""
    ocr = ocr or ocr_page_image
    pages: list[PageText] = []
    offset = 0
    try:
        for item in iter_pages(letter, settings):
            if isinstance(item, PageImage):
                page = ocr(item, settings)
                page.page_no = item.page_no
            else:
                page = item
            pages.append(_rebase(page, offset))
            offset += len(page.text) + 1  # the form feed between pages
            if on_page:
                on_page(page)
    finally:
        _DECODED.clear()  # a page decoded ahead and never asked for (the file changed, a cached page)
    if not pages:
        raise UnreadableFile("no pages found in the file")
    return LetterText(letter_id=letter.letter_id, pages=pages)


def extract_pages(letter: Letter, settings: Settings, first: int, last: int | None,
                  ocr: Callable[[PageImage, Settings], PageText] | None = None) -> list[PageText]:
    """Pages ``first..last`` (None: to the end) of a one-PDF letter (a page-range task of a long scan), word spans
    still relative to each page: :func:`text_of_pages` joins the ranges into the letter's text."""
    ocr = ocr or ocr_page_image
    pages: list[PageText] = []
    for item in iter_pages(letter, settings, (first, last)):
        if isinstance(item, PageImage):
            page = ocr(item, settings)
            page.page_no = item.page_no
        else:
            page = item
        pages.append(page)
    return pages


def text_of_pages(letter_id: str, pages: list[PageText]) -> LetterText:
    """Pages read apart, put in page order and rebased onto the full text as :func:`extract_text` does."""
    out: list[PageText] = []
    offset = 0
    for page in sorted(pages, key=lambda p: p.page_no):
        out.append(_rebase(page, offset))
        offset += len(page.text) + 1  # the form feed between pages
    if not out:
        raise UnreadableFile("no pages found in the file")
    return LetterText(letter_id=letter_id, pages=out)


def ocr_page_image(item: PageImage, settings: Settings) -> PageText:
    from pipeline.stages.ocr import ocr_page

    if settings.reuse_ocr and settings.ocr_cache_db and item.cache_key:
        cached = ocr_cache.lookup(settings.ocr_cache_db, item.cache_key, item.page_no)
        if cached is not None:
            return cached
    started = time.perf_counter()
    # given how to load the page, OCR holds its image only while it prepares it
    load = item.load_grey if settings.ocr.prepare and item.load_grey else item.load
    page = ocr_page(load, item.page_no, settings.ocr, dpi=item.dpi)
    page.seconds = page.seconds or (time.perf_counter() - started)
    page.cache_key = item.cache_key
    return page


def load_page_image(source_paths: list[str], page_no: int, dpi: int = 150, max_pixels: int = 60_000_000) -> Image.Image:
    """Render page ``page_no`` (1-based, counted across the letter's files) as an RGB image,
    as stored, before any OCR rotation. Used by the review app; raises UnreadableFile."""
    import pypdfium2 as pdfium

    from pipeline.stages.ingest import sniff_kind

    remaining = page_no
    for raw in source_paths:
        path = Path(raw)
        try:
            with path.open("rb") as fh:
                kind = sniff_kind(fh.read(4096))
        except OSError as exc:
            raise UnreadableFile(f"cannot read {path.name}: {exc.strerror or exc}") from None
        if kind == FileKind.PDF:
            with PDFIUM_LOCK:
                try:
                    doc = pdfium.PdfDocument(str(path))
                except pdfium.PdfiumError as exc:
                    raise UnreadableFile(f"cannot open {path.name}: {exc}") from None
                try:
                    if remaining <= len(doc):
                        page = doc[remaining - 1]
                        w, h = page.get_size()
                        scale = min(dpi / 72.0, (max_pixels / max(w * h, 1)) ** 0.5)
                        return page.render(scale=scale).to_pil().convert("RGB")
                    remaining -= len(doc)
                finally:
                    doc.close()
        else:
            with open_image(path) as img:
                n = getattr(img, "n_frames", 1)
                if remaining <= n:
                    if img.width * img.height > max_pixels:
                        raise TooLarge(f"page image is larger than {max_pixels:,} pixels")
                    img.seek(remaining - 1)
                    return _upright_copy(img, kind).convert("RGB")
                remaining -= n
    raise UnreadableFile(f"page {page_no} not found")
