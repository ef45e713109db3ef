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
