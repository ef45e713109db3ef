"""OCR stage: real Tesseract on pages rendered here with Pillow and DejaVu fonts."""

from __future__ import annotations

import math
import pickle
import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.engines import libtesseract, tesseract
from pipeline.engines.tesseract import TsvWord
from pipeline.errors import OcrError, OcrTimeout
from pipeline.metrics import cer
from pipeline.schema import PageText, TextSource
from pipeline.settings import OcrSettings
from pipeline.stages.ocr import build_page, ocr_page, page_is_poor
from pipeline.stages.prepare import PreparedPage

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")

# our own sample sentences (never dev-set text)
LINES = [
    "Виконавчий комітет повідомляє про стан ремонту дитячого садка.",
    "Роботи з утеплення фасаду завершено у вересні минулого року.",
    "На придбання нових вікон для школи виділено 240 тисяч гривень.",
    "Підрядника визначено за результатами відкритих торгів.",
    "Заміну покрівлі спортивної зали заплановано на наступний рік.",
    "Щодо освітлення міського парку надаємо таку інформацію.",
]
STAMP_LINE = 2


def render_page(lines: list[str] = LINES, font_px: int = 44, width: int = 2000, margin: int = 120) -> Image.Image:
    """A white greyscale page with black text lines, about 10 pt print at 300 dpi."""
    font = ImageFont.truetype(str(FONT), font_px)
    step = int(font_px * 1.7)
    img = Image.new("L", (width, 2 * margin + step * len(lines)), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * step), line, font=font, fill=0)
    return img


def add_stamp(page: Image.Image, center: tuple[int, int], radius: int = 170) -> Image.Image:
    """A semi-transparent violet-blue round stamp (two rings and lettering) over the page."""
    base = page.convert("RGB")
    layer = Image.new("RGB", base.size, (255, 255, 255))
    mask = Image.new("L", base.size, 0)
    ink = (70, 60, 190)
    for img, fill in ((layer, ink), (mask, 150)):  # mask alpha ~0.6: ink lets the print show through
        d = ImageDraw.Draw(img)
        cx, cy = center
        for r, w in ((radius, 7), (radius - 40, 4)):
            d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=w)
        small = ImageFont.truetype(str(FONT), 30)
        for k, ch in enumerate("ДЛЯ ДОКУМЕНТІВ * ПЕЧАТКА *"):
            a = 2 * math.pi * k / 26
            d.text(
                (cx + (radius - 22) * math.sin(a) - 9, cy - (radius - 22) * math.cos(a) - 15), ch, font=small, fill=fill
            )
        d.text((cx - 75, cy - 20), "код 1234", font=small, fill=fill)
    return Image.composite(layer, base, mask)


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def check_spans(page: PageText) -> None:
    assert page.words, "no words recognised"
    for w in page.words:
        assert page.text[w.start : w.end] == w.text
        assert 0.0 <= (w.conf or 0.0) <= 100.0
        assert 0 <= w.left <= page.width and 0 <= w.top <= page.height
    assert [w.line for w in page.words] == sorted(w.line for w in page.words)
    assert [w.start for w in page.words] == sorted(w.start for w in page.words)


SETTINGS = OcrSettings()
TRUTH = "\n".join(LINES)


@pytest.fixture(scope="module")
def straight() -> tuple[Image.Image, PageText]:
    img = render_page()
    return img, ocr_page(img, 1, SETTINGS, dpi=300)


@pytest.mark.slow
def test_page_text_words_and_spans(straight: tuple[Image.Image, PageText]) -> None:
    img, page = straight
    assert page.source == TextSource.OCR and page.page_no == 1
    assert (page.width, page.height) == img.size and page.rotation == 0
    check_spans(page)
    assert cer(TRUTH, page.text) < 0.02
    assert page.text.count("\n") >= len(LINES) - 1  # one line per printed line
    assert page.words[0].text == "Виконавчий"
    assert page.ocr_confidence is not None and page.ocr_confidence > 80
    assert page.low_confidence_share is not None and page.low_confidence_share < 0.2
    assert not page_is_poor(page, SETTINGS)
    assert page.seconds > 0
    # the box of the first word is where it was drawn (left margin, first line)
    first = page.words[0]
    assert 100 <= first.left <= 140 and 110 <= first.top <= 150


@pytest.mark.slow
@pytest.mark.parametrize("turn", [90, 180])
def test_rotated_page_reads(straight: tuple[Image.Image, PageText], turn: int) -> None:
    img, upright = straight
    rotated = img.rotate(turn, expand=True)  # counter-clockwise: OCR must turn it back clockwise
    page = ocr_page(rotated, 1, SETTINGS, dpi=300)
    assert page.rotation == turn
    assert (page.width, page.height) == img.size  # boxes are in the re-oriented image
    check_spans(page)
    assert cer(TRUTH, page.text) < 0.03


def _comparable(page: PageText) -> tuple:
    return page.text, page.words, page.ocr_confidence, page.low_confidence_share, page.rotation, page.width, page.height


class _Loader:
    """A page loader that counts its calls and keeps what it handed out."""

    def __init__(self, image: Image.Image) -> None:
        self.image, self.given = image, []

    def __call__(self) -> Image.Image:
        self.given.append(self.image.copy())
        return self.given[-1]


@pytest.mark.slow
@pytest.mark.parametrize("turn", [0, 180])
def test_a_page_given_by_its_loader_reads_the_same(straight: tuple[Image.Image, PageText], turn: int) -> None:
    # a colour page, as a PDF page or a photo comes: OCR makes it grey, then lets it go before Tesseract
    colour = add_stamp(straight[0], center=(900, 295)).rotate(turn, expand=True)
    load = _Loader(colour)
    page = ocr_page(load, 1, SETTINGS, dpi=300)
    assert _comparable(page) == _comparable(ocr_page(colour, 1, SETTINGS, dpi=300))
    assert page.rotation == turn
    # loaded once for an upright page; once more only for a page that must be turned
    assert len(load.given) == (1 if turn == 0 else 2)
    with pytest.raises(ValueError):  # what was loaded was closed (Pillow refuses a closed image)
        load.given[0].load()
    raw = replace(SETTINGS, prepare=False)
    assert _comparable(ocr_page(_Loader(colour), 1, raw, dpi=300)) == _comparable(ocr_page(colour, 1, raw, dpi=300))


# full-width lines: raw Tesseract (psm 3) reads nothing of this page once it is turned ~2 deg clockwise
WIDE_LINES = [LINES[i % 6] + " " + LINES[(i + 2) % 6] for i in range(8)]


@pytest.mark.slow
def test_skewed_page_reads_as_well_as_straight() -> None:
    straight = render_page(WIDE_LINES, font_px=32, width=2480, margin=120)
    truth = "\n".join(WIDE_LINES)
    base = cer(truth, ocr_page(straight, 1, SETTINGS, dpi=300).text)
    assert base < 0.02
    for angle in (-2.0, 2.2):  # clockwise, counter-clockwise
        skewed = straight.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        page = ocr_page(skewed, 1, SETTINGS, dpi=300)
        check_spans(page)
        assert cer(truth, page.text) <= base + 0.01, angle
        assert page.text.count("\n") >= len(WIDE_LINES) - 1
        # boxes mapped back through the deskew are plain floats: the runner unpickles results
        # without importing numpy
        assert {type(v) for w in page.words for v in (w.left, w.top, w.width, w.height)} == {float}
        assert b"numpy" not in pickle.dumps(page)


@pytest.mark.slow
def test_line_under_blue_stamp_survives() -> None:
    img = add_stamp(render_page(), center=(900, 120 + STAMP_LINE * 75 + 25))
    page = ocr_page(img, 1, SETTINGS, dpi=300)
    check_spans(page)
    found = set(words_of(page.text))
    wanted = words_of(LINES[STAMP_LINE])
    assert sum(w in found for w in wanted) >= len(wanted) - 1
    # the stamp's own lettering is not read as text
    assert "ПЕЧАТКА" not in page.text and "ДОКУМЕНТІВ" not in page.text


@pytest.mark.slow
def test_without_preparation_reads_raw_image(straight: tuple[Image.Image, PageText]) -> None:
    img, _ = straight
    page = ocr_page(img, 3, replace(SETTINGS, prepare=False), dpi=300)
    assert page.page_no == 3 and page.rotation == 0
    check_spans(page)
    assert cer(TRUTH, page.text) < 0.03


def test_timeout_kills_tesseract() -> None:
    with pytest.raises(OcrTimeout):
        ocr_page(render_page(), 1, replace(SETTINGS, timeout_s=0.01), dpi=300)


def test_tesseract_failure_is_a_typed_error() -> None:
    with pytest.raises(OcrError, match="tesseract failed"):
        ocr_page(render_page(LINES[:1]), 1, replace(SETTINGS, languages="no_such_language"), dpi=300)


def test_empty_image_is_a_typed_error() -> None:
    with pytest.raises(OcrError):
        ocr_page(Image.new("L", (0, 0)), 1, SETTINGS)


def test_blank_page_has_no_words_and_is_not_poor() -> None:
    page = ocr_page(Image.new("L", (600, 800), 255), 2, SETTINGS, dpi=300)
    assert page.text == "" and page.words == []
    assert page.ocr_confidence is None and not page_is_poor(page, SETTINGS)


# --- page assembly from TSV rows (no Tesseract) -----------------------------------------


def _row(block: int, line: int, word: int, left: int, top: int, text: str, conf: float = 95.0) -> TsvWord:
    return TsvWord(block, 1, line, word, left, top, 20 * len(text), 40, conf, text)


def _prepared() -> PreparedPage:
    return PreparedPage(image=Image.new("L", (2000, 3000), 255), dpi=300, oriented_size=(2000, 3000))


def test_build_page_joins_lines_and_paragraphs() -> None:
    rows = [
        _row(1, 1, 1, 100, 100, "Перший"),
        _row(1, 1, 2, 250, 100, "рядок"),
        _row(1, 2, 1, 100, 160, "другий"),
        _row(2, 1, 1, 100, 400, "Новий"),
        _row(2, 1, 2, 230, 400, "абзац"),
    ]
    page = build_page(rows, 1, _prepared(), SETTINGS)
    assert page.text == "Перший рядок\nдругий\n\nНовий абзац"
    assert [w.line for w in page.words] == [0, 0, 1, 2, 2]
    assert all(page.text[w.start : w.end] == w.text for w in page.words)


def test_build_page_reads_side_by_side_header_column_by_column() -> None:
    # Tesseract merged a left date block and a right addressee block into shared lines
    rows = [
        _row(1, 1, 1, 100, 100, "від"),
        _row(1, 1, 2, 180, 100, "01.02.2019"),
        _row(1, 1, 3, 1100, 100, "Голові"),
        _row(1, 1, 4, 1250, 100, "правління"),
        _row(1, 2, 1, 100, 160, "на"),
        _row(1, 2, 2, 160, 160, "№"),
        _row(1, 2, 3, 200, 160, "5"),
        _row(1, 2, 4, 1100, 160, "ГО"),
        _row(1, 2, 5, 1170, 160, "«Прозорість»"),
        _row(1, 3, 1, 1100, 220, "м."),
        _row(1, 3, 2, 1160, 220, "Полтава"),
        _row(2, 1, 1, 100, 400, "Шановні"),
    ]
    page = build_page(rows, 1, _prepared(), SETTINGS)
    assert page.text == "від 01.02.2019\nна № 5\n\nГолові правління\nГО «Прозорість»\nм. Полтава\n\nШановні"
    assert all(page.text[w.start : w.end] == w.text for w in page.words)
    assert [w.line for w in page.words] == sorted(w.line for w in page.words)


def test_build_page_keeps_table_rows_together() -> None:
    amounts = [
        _row(1, 1, 1, 100, 100, "Покрівля"),
        _row(1, 1, 2, 1400, 100, "240,5"),
        _row(1, 2, 1, 100, 160, "Вікна"),
        _row(1, 2, 2, 1400, 160, "96,0"),
    ]
    assert build_page(amounts, 1, _prepared(), SETTINGS).text == "Покрівля 240,5\nВікна 96,0"
    three_columns = [
        _row(1, 1, 1, 100, 100, "Школа"),
        _row(1, 1, 2, 800, 100, "ремонт"),
        _row(1, 1, 3, 1400, 100, "виконано"),
        _row(1, 2, 1, 100, 160, "Садок"),
        _row(1, 2, 2, 800, 160, "дах"),
        _row(1, 2, 3, 1400, 160, "розпочато"),
    ]
    assert build_page(three_columns, 1, _prepared(), SETTINGS).text == "Школа ремонт виконано\nСадок дах розпочато"


def test_build_page_keeps_a_single_split_line_whole() -> None:
    rows = [_row(1, 1, 1, 100, 100, "Директор"), _row(1, 1, 2, 1500, 100, "П.")]
    assert build_page(rows, 1, _prepared(), SETTINGS).text == "Директор П."


def test_build_page_restores_numero_sign_and_drops_junk_lines() -> None:
    rows = [
        _row(1, 1, 1, 100, 100, "Ме"),
        _row(1, 1, 2, 160, 100, "12/3"),
        _row(1, 1, 3, 300, 100, "Мова"),
        _row(2, 1, 1, 100, 300, "wae”", conf=30),
        _row(2, 1, 2, 300, 300, "ra", conf=50),
    ]
    page = build_page(rows, 1, _prepared(), SETTINGS)
    assert page.text == "№ 12/3 Мова"
    # confidence figures still count the dropped line
    assert page.ocr_confidence == pytest.approx((95 * 3 + 30 + 50) / 5, abs=0.01)
    assert page.low_confidence_share == pytest.approx(2 / 5)


def test_page_is_poor_thresholds() -> None:
    def page(conf: float | None, low: float | None) -> PageText:
        return PageText(1, "x", TextSource.OCR, 10, 10, ocr_confidence=conf, low_confidence_share=low)

    assert page_is_poor(page(40.0, 0.1), SETTINGS)
    assert page_is_poor(page(80.0, 0.6), SETTINGS)
    assert not page_is_poor(page(80.0, 0.1), SETTINGS)
    assert not page_is_poor(page(None, None), SETTINGS)
    layer = PageText(1, "x", TextSource.TEXT_LAYER, 10, 10)
    assert not page_is_poor(layer, SETTINGS)


def test_parse_tsv_skips_non_words() -> None:
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n"
        "5\t1\t1\t1\t1\t1\t10\t20\t30\t40\t91.5\tСлово\n"
        "5\t1\t1\t1\t1\t2\t50\t20\t30\t40\t95\t \n"
    )
    assert tesseract.parse_tsv(tsv) == [TsvWord(1, 1, 1, 1, 10, 20, 30, 40, 91.5, "Слово")]


def test_latin_look_alikes_fold_back_to_cyrillic_but_real_latin_stays() -> None:
    from pipeline.stages.ocr import _fix_tokens

    assert _fix_tokens(["Ha", "Ме", "96", "Big", "28.04.2016"], True) == ["На", "№", "96", "Від", "28.04.2016"]
    assert _fix_tokens(["Bux.", "№", "2-11/1407"], True) == ["Вих.", "№", "2-11/1407"]
    assert _fix_tokens(["KП", "«Сумьіводсервис»", "Prozorro"], True) == ["КП", "«Сумыводсервис»", "Prozorro"]
    # e-mail lines and Latin pages are left alone
    assert _fix_tokens(["e-mail:", "info@rada.gov.ua,", "Ha"], True) == ["e-mail:", "info@rada.gov.ua,", "Ha"]
    assert _fix_tokens(["Hello", "Big", "Ben"], False) == ["Hello", "Big", "Ben"]


def test_a_worker_hears_when_tesseract_starts_reading_a_page_not_when_asked_its_version() -> None:
    """The signal a worker builds its Processor on (pipeline.executors._Builder)."""
    import threading

    started = threading.Event()
    tesseract.on_next_start(started)
    tesseract.version()
    tesseract.installed_languages()
    assert not started.is_set()
    page = Image.new("L", (400, 120), 255)
    ImageDraw.Draw(page).text((10, 40), "Letter 12", fill=0)
    tesseract.image_to_tsv(page, languages="eng")
    assert started.is_set()


@pytest.mark.parametrize("dpi", [300, None])
def test_a_tesseract_started_ahead_of_its_page_reads_what_one_started_for_it_reads(
        dpi: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page on stdin (its resolution in a TIFF's tags) against the page as a file with --dpi."""
    import psutil

    monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, "program")

    page = render_page()
    usual = tesseract.image_to_tsv(page, SETTINGS.languages, SETTINGS.psm, dpi=dpi)
    with tesseract.started_ahead(SETTINGS.languages, SETTINGS.psm):
        (waiting,) = [p for p in psutil.Process().children() if "tesseract" in p.name()]
        ahead = tesseract.image_to_tsv(page, SETTINGS.languages, SETTINGS.psm, dpi=dpi)
        assert not waiting.is_running() or waiting.status() == psutil.STATUS_ZOMBIE  # it was the one that read
    assert ahead == usual and len(ahead) > 10
    with tesseract.started_ahead(SETTINGS.languages, SETTINGS.psm):
        pass  # no page came: it is stopped
    assert not [p for p in psutil.Process().children() if "tesseract" in p.name() and p.status() != psutil.STATUS_ZOMBIE]
