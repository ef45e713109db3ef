"""The text stage on files the project renders: text layer without OCR, OCR with real
Tesseract, mixed PDFs page by page, multi-frame TIFFs, and the OCR cache."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.metrics import cer
from pipeline.samplegen import write_image, write_mixed_pdf, write_text_pdf, write_tiff
from pipeline.schema import TextSource
from pipeline.settings import Settings
from pipeline.stages.ingest import discover
from pipeline.stages.text import PageImage, extract_text

PAGE_ONE = [
    "РІВНЕНСЬКА МІСЬКА РАДА",
    "",
    "Повідомляємо, що капітальний ремонт мосту через річку Устя завершено.",
    "Міст відкрито для руху транспорту та пішоходів.",
]
PAGE_TWO = [
    "Додаток до листа",
    "Перелік виконаних робіт затверджено рішенням виконавчого комітету.",
]


def _letter(folder: Path):
    found = discover(folder)
    assert not found.failures
    (letter,) = found.letters
    return letter


def _no_ocr(item: PageImage, settings: Settings):  # must never be called for a text-layer page
    raise AssertionError(f"page {item.page_no} was sent to OCR")


def test_text_layer_pdf_is_read_without_ocr(tmp_path: Path) -> None:
    write_text_pdf([PAGE_ONE], tmp_path / "born_digital.pdf")
    text = extract_text(_letter(tmp_path), Settings(), ocr=_no_ocr)
    assert text.text_source == TextSource.TEXT_LAYER
    assert text.ocr_confidence is None
    assert "капітальний ремонт мосту" in text.full_text
    for w in text.pages[0].words:  # every word's span points at the word
        assert text.full_text[w.start:w.end] == w.text


@pytest.mark.slow
def test_scanned_image_is_ocrd_with_real_tesseract(tmp_path: Path) -> None:
    write_image(PAGE_ONE, tmp_path / "scan.png", fmt="PNG", dpi=300, noise=0.2, skew_deg=0.4)
    text = extract_text(_letter(tmp_path), Settings())
    assert text.text_source == TextSource.OCR
    assert text.ocr_confidence and text.ocr_confidence > 60
    for word in ("РІВНЕНСЬКА", "ремонт", "мосту", "завершено", "пішоходів"):
        assert word in text.full_text
    assert cer("\n".join(PAGE_ONE), text.full_text) < 0.08
    page = text.pages[0]
    assert page.words and all(w.conf is not None for w in page.words)
    assert all(text.full_text[w.start:w.end] == w.text for w in page.words)



@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_page_decoded_ahead_reads_as_one_decoded_by_its_ocr(tmp_path: Path, fmt: str) -> None:
    from pipeline.stages import text as text_stage

    write_image(PAGE_ONE, tmp_path / f"scan.{fmt.lower()}", fmt=fmt, dpi=300, noise=0.2, skew_deg=0.4)
    letter, settings = _letter(tmp_path), Settings(reuse_ocr=False)
    plain = extract_text(letter, settings)
    text_stage.decode_ahead(letter, settings)
    assert list(text_stage._DECODED) == [(letter.files[0].path, 0)]
    taken = []

    def ocr(item: PageImage, s: Settings):  # noqa: ANN202
        page = text_stage.ocr_page_image(item, s)
        taken.append(not text_stage._DECODED)  # the page's load took the decoded frame
        return page

    ahead = extract_text(letter, settings, ocr=ocr)
    assert taken == [True] and ahead.full_text == plain.full_text
    assert [(w.text, w.left, w.top) for w in ahead.pages[0].words] == [(w.text, w.left, w.top) for w in plain.pages[0].words]


def test_decoding_ahead_leaves_a_page_over_the_pixel_limit_to_the_reading(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from pipeline.errors import TooLarge
    from pipeline.settings import Limits
    from pipeline.stages import text as text_stage

    write_image(PAGE_ONE, tmp_path / "scan.png", fmt="PNG", dpi=300)
    letter = _letter(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # the reading sets Pillow's limit
    settings = Settings(limits=Limits(max_pixels=1_000_000))
    text_stage.decode_ahead(letter, settings)
    assert not text_stage._DECODED
    with pytest.raises(TooLarge):
        extract_text(letter, settings)


@pytest.mark.slow
def test_mixed_pdf_is_handled_page_by_page(tmp_path: Path) -> None:
    write_mixed_pdf([PAGE_ONE, PAGE_TWO], tmp_path / "mixed.pdf", dpi=300, noise=0.1)
    text = extract_text(_letter(tmp_path), Settings())
    assert [p.source for p in text.pages] == [TextSource.TEXT_LAYER, TextSource.OCR]
    assert text.text_source == TextSource.MIXED
    pages = text.full_text.split("\f")
    assert len(pages) == 2 and "мосту" in pages[0] and "виконавчого" in pages[1]
    assert text.page_of(text.full_text.index("виконавчого")) == 2
    for p in text.pages:
        assert all(text.full_text[w.start:w.end] == w.text for w in p.words)


@pytest.mark.slow
def test_two_page_tiff_and_ocr_cache(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_tiff([PAGE_ONE, PAGE_TWO], folder / "two.tif", dpi=300, noise=0.1)
    letter = _letter(folder)
    db = tmp_path / "cache.db"
    settings = replace(Settings(), ocr_cache_db=str(db))
    text = extract_text(letter, settings)
    assert len(text.pages) == 2 and all(p.source == TextSource.OCR for p in text.pages)
    assert all(p.cache_key and not p.from_cache for p in text.pages)

    from pipeline.schema import LetterResult, Status
    from pipeline.store import repo
    from pipeline.store.db import Database

    database = Database(db)
    with database.session() as s:
        repo.save_result(s, LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.OK,
                                         letter=letter, text=text))
    database.close()

    def fail_ocr(item: PageImage, settings: Settings):
        from pipeline.stages.text import ocr_page_image

        page = ocr_page_image(item, settings)
        assert page.from_cache, "a cached page was OCR'd again"
        return page

    again = extract_text(letter, settings, ocr=fail_ocr)
    assert again.full_text == text.full_text
    assert [w.start for w in again.pages[1].words] == [w.start for w in text.pages[1].words]
    # Other OCR settings make other keys: the cache never returns a result made differently.
    other = replace(settings, ocr=replace(settings.ocr, psm=6))
    assert extract_text(letter, other).pages[0].from_cache is False


# --- the pdfium text-layer reader against pdfplumber ------------------------------------------

LAYER_LINES = [
    "ВИКОНАВЧИЙ КОМІТЕТ РІВНЕНСЬКОЇ МІСЬКОЇ РАДИ",
    "вул. Соборна, 12-А, м. Рівне, 33028, тел. (0362) 26-14-03",
    "",
    "Щодо виконання обіцянки «Ремонт мосту» (вих. № 01-17/2345 від 12.03.2019)",
    "Повідомляємо, що роботи завершено; efficient offices – ﬁnal ﬂow.",
]


def _layer_pdf(path: Path, variant: str) -> Path:
    """One page drawn so as to reach a branch of the reader: page rotation, rotated and scaled
    text, a standard (not embedded) font, a MediaBox off the origin, text overprinted for bold,
    spaced letters, a page with no text."""
    from reportlab.pdfgen import canvas

    from tests.badinputs import RL_FONT, _register_font

    _register_font()
    c = canvas.Canvas(str(path), pagesize=(595.0, 842.0), invariant=1)
    if variant == "empty":
        c.rect(100, 100, 200, 200)
    else:
        if variant.startswith("page_rotated_"):
            c.setPageRotation(int(variant[len("page_rotated_"):]))
        font = "Helvetica" if variant == "standard_font" else RL_FONT
        c.setFont(font, 11)
        y = 800.0
        for line in LAYER_LINES if font == RL_FONT else ["Reply of the council, No. 12/345 of 2019", "The bridge is open."]:
            c.drawString(40, y, line)
            if variant == "overprint":
                c.drawString(40.3, y, line)
            y -= 15.4
        c.setFont(font, 9)
        if variant == "rotated_text":
            c.saveState()
            c.translate(560, 300)
            c.rotate(90)
            c.drawString(0, 0, "Вхідний № 77 від 14.03.2019")
            c.restoreState()
        if variant == "scaled":
            c.saveState()
            c.scale(1.5, 0.8)
            c.drawString(30, 500, "Начальник управління    І. П. Петренко")
            c.restoreState()
        if variant == "spaced":
            c.setFont(font, 11)
            t = c.beginText(40, 600)
            t.setCharSpace(2.5)
            t.textLine("П О В І Д О М Л Е Н Н Я  про розгляд")
            c.drawText(t)
    if variant == "mediabox_offset":
        c.setCropBox((20, 30, 580, 830))
    c.showPage()
    c.save()
    if variant == "mediabox_offset":  # shift the MediaBox itself: coordinates no longer start at 0
        data = path.read_bytes().replace(b"/MediaBox [ 0 0 595 842 ]", b"/MediaBox [ -10 -20 585 822 ]")
        path.write_bytes(data)
    return path


LAYER_VARIANTS = ["plain", "page_rotated_90", "page_rotated_180", "page_rotated_270", "rotated_text", "scaled", "standard_font",
                  "mediabox_offset", "spaced", "empty"]


@pytest.mark.parametrize("variant", LAYER_VARIANTS)
def test_pdfium_words_are_pdfplumbers(tmp_path: Path, variant: str) -> None:
    import pdfplumber
    import pypdfium2 as pdfium

    from pipeline.stages.text import _layer_words, has_real_text, layout_text_layer

    path = _layer_pdf(tmp_path / f"{variant}.pdf", variant)
    with pdfplumber.open(path) as pdf:
        page = pdf.pages[0]
        old = page.extract_words(x_tolerance=1.5, y_tolerance=3)
        doc = pdfium.PdfDocument(str(path))
        try:
            new = _layer_words(doc, 0, page)
        finally:
            doc.close()
        width, height = float(page.width), float(page.height)
    assert (variant == "empty") == (not old)
    assert [w["text"] for w in new] == [w["text"] for w in old]
    for a, b in zip(old, new, strict=True):
        for key in ("x0", "top", "x1", "bottom"):
            assert abs(a[key] - b[key]) < 1.0, (a, b)  # pdfium rounds glyph widths: a drift of tenths of a point
    assert layout_text_layer(new, 1, width, height).text == layout_text_layer(old, 1, width, height).text
    assert has_real_text(new, 30) == has_real_text(old, 30)


def test_overprinted_bold_is_read_once(tmp_path: Path) -> None:
    """A line drawn twice, a fraction of a point apart (bold faked by overprinting): pdfplumber
    interleaves the two copies' letters ("ВВИИККОО…"), pdfium drops the copy: the one place where
    the text layer is read differently, and better, than with pdfplumber."""
    import pdfplumber
    import pypdfium2 as pdfium

    from pipeline.stages.text import _layer_words

    words = {}
    for variant in ("plain", "overprint"):
        path = _layer_pdf(tmp_path / f"{variant}.pdf", variant)
        with pdfplumber.open(path) as pdf:
            doc = pdfium.PdfDocument(str(path))
            try:
                words[variant] = [w["text"] for w in _layer_words(doc, 0, pdf.pages[0])]
            finally:
                doc.close()
            if variant == "overprint":
                assert pdf.pages[0].extract_words(x_tolerance=1.5, y_tolerance=3)[0]["text"] == "ВВИИККООННААВВЧЧИИЙЙ"
    assert words["overprint"] == words["plain"]


def test_content_size_bound_falls_back_to_decoding(tmp_path: Path) -> None:
    """Content streams whose size bounds add up past the limit (random bytes barely deflate, so
    their bound is ~1000x their size) but that decode to little are measured, not refused; 64 MB
    of no-ops in a few KB is refused."""
    import os
    import zlib

    import pdfplumber

    from pipeline.errors import TooLarge
    from pipeline.stages.text import MAX_PAGE_CONTENT_BYTES, _check_content_size
    from tests.badinputs import _pdf_from_objects, content_bomb_pdf

    packed = [zlib.compress(b"% " + os.urandom(12000).hex().encode() + b"\n") for _ in range(3)]
    assert sum(len(p) for p in packed) * 1032 > MAX_PAGE_CONTENT_BYTES  # the bound alone would refuse it
    streams = [b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(p) + p + b"\nendstream" for p in packed]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents [4 0 R 5 0 R 6 0 R] >>",
               *streams]
    (tmp_path / "many.pdf").write_bytes(_pdf_from_objects(objects))
    with pdfplumber.open(tmp_path / "many.pdf") as pdf:
        _check_content_size(pdf.pages[0].page_obj, 1)
    content_bomb_pdf(tmp_path / "bomb.pdf")
    with pdfplumber.open(tmp_path / "bomb.pdf") as pdf, pytest.raises(TooLarge, match="PDF bomb"):
        _check_content_size(pdf.pages[0].page_obj, 1)


def test_a_scanned_pdf_page_renders_straight_to_the_grey_preparation_reads(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from pipeline.bench.run import write_long_scan
    from pipeline.stages.text import iter_pages

    write_long_scan(tmp_path / "scan.pdf", pages=1, distinct=1)
    pages = iter_pages(_letter(tmp_path), Settings())  # the document is open while the generator is
    item = next(pages)
    assert isinstance(item, PageImage) and item.load_grey is not None
    colour = item.load()
    grey = item.load_grey()
    assert colour.mode == "RGB" and grey.mode == "L" and grey.size == colour.size
    assert np.array_equal(np.asarray(grey), cv2.cvtColor(np.asarray(colour), cv2.COLOR_RGB2GRAY))


def test_pdfium_used_from_several_threads_reads_what_one_thread_reads(tmp_path: Path) -> None:
    """The review app renders scans from its request threads and a Dask worker may run several
    letters at once: text layers and renders done from four threads at a time come out exactly
    as done one after another (PDFium itself is not thread-safe; pipeline.engines.pdfium locks it)."""
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.stages.text import load_page_image

    paths = []
    for k in range(4):
        path = tmp_path / f"letter{k}" / "l.pdf"
        path.parent.mkdir()
        write_text_pdf([PAGE_ONE, [f"Додаток {k}", *PAGE_ONE]], path)
        paths.append(path)

    def read(path: Path) -> tuple[str, bytes]:
        text = extract_text(_letter(path.parent), Settings(), ocr=lambda *a, **k: pytest.fail("no OCR here"))
        return text.full_text, load_page_image([str(path)], 2, dpi=60).tobytes()

    alone = [read(p) for p in paths]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(read, paths)) == alone


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_a_colour_photo_reads_grey_and_upright_as_its_exif_orientation_says(tmp_path: Path, orientation: int) -> None:
    """A phone photo is made grey from its decoded pixels and turned afterwards (no colour copy):
    the same pixels as turning it upright first and then making it grey."""
    import numpy as np
    from PIL import ExifTags, Image, ImageOps

    from pipeline.samplegen import render_page_image
    from pipeline.stages.prepare import read_as_grey
    from pipeline.stages.text import iter_pages, load_page_image

    page = render_page_image(PAGE_ONE, dpi=100).convert("RGB")
    page.paste((40, 60, 200), (30, 30, 200, 90))  # a blue stamp: colour that greying must weigh
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "photo.jpg"
    page.save(path, "JPEG", quality=90, exif=exif)

    item = next(iter_pages(_letter(tmp_path / "in"), Settings()))
    assert isinstance(item, PageImage) and item.load_grey is not None
    grey, whole = item.load_grey(), item.load()
    with Image.open(path) as photo:
        upright = ImageOps.exif_transpose(photo)
    assert grey.mode == "L" and grey.size == whole.size == upright.size
    assert np.array_equal(np.asarray(grey), np.asarray(read_as_grey(upright)))
    assert np.array_equal(np.asarray(whole), np.asarray(upright))
    shown = load_page_image([str(path)], 1)  # the review screen's picture of the page
    assert np.array_equal(np.asarray(shown), np.asarray(upright.convert("RGB")))
    if orientation in (5, 6, 7, 8):  # a quarter turn: the page stands as it was drawn
        assert grey.size == page.size[::-1] or page.size[0] == page.size[1]
