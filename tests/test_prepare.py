"""Page preparation: orientation, skew, colour ink, text size, photo margins, box mapping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.settings import OcrSettings
from pipeline.stages.prepare import (
    PrepareOptions,
    _components,
    _to_grey,
    grey_from_bgr,
    prepare_page,
    read_as_grey,
    rotate_quarter,
)
from tests.test_ocr import add_stamp, render_page

SETTINGS = OcrSettings()


def _to_oriented(m: np.ndarray, x: float, y: float) -> tuple[float, float]:
    return float(m[0, 0] * x + m[0, 1] * y + m[0, 2]), float(m[1, 0] * x + m[1, 1] * y + m[1, 2])


@pytest.mark.parametrize("angle", [-2.0, -0.7, 1.2, 2.5])
def test_skew_is_measured_and_undone(angle: float) -> None:
    page = render_page().rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    prepared = prepare_page(page, SETTINGS, dpi=300)
    # PIL turned the page counter-clockwise by `angle`; undoing it is a clockwise turn
    assert prepared.skew_deg == pytest.approx(-angle, abs=0.15)
    again = prepare_page(prepared.image.convert("L"), SETTINGS, dpi=300)
    assert abs(again.skew_deg) <= 0.15


def test_medium_print_and_large_print_sizes() -> None:
    medium = prepare_page(render_page(font_px=31, width=1400, margin=80), SETTINGS, dpi=None)  # ~210 dpi
    assert medium.scale == 1.0
    huge = prepare_page(render_page(font_px=130, width=6000, margin=300), SETTINGS, dpi=None)  # ~900 dpi
    assert 0.3 <= huge.scale <= 0.5


def test_straight_page_is_left_alone() -> None:
    prepared = prepare_page(render_page(), SETTINGS, dpi=300)
    assert prepared.skew_deg == 0.0 and prepared.scale == 1.0 and prepared.rotation == 0
    assert prepared.image.size == render_page().size
    assert "crop" not in prepared.steps


@pytest.mark.slow
@pytest.mark.parametrize("ccw", [90, 270])
def test_sideways_page_is_turned_upright(ccw: int) -> None:
    upright = render_page()
    prepared = prepare_page(upright.rotate(ccw, expand=True), SETTINGS, dpi=300)
    assert prepared.rotation == ccw  # the clockwise turn that undoes a counter-clockwise one
    assert prepared.oriented_size == upright.size
    assert prepared.image.size == upright.size


def test_rotate_quarter_is_clockwise() -> None:
    img = Image.new("L", (4, 2), 255)
    img.putpixel((0, 0), 0)  # top-left
    turned = rotate_quarter(img, 90)
    assert turned.size == (2, 4) and turned.getpixel((1, 0)) == 0  # now top-right
    assert rotate_quarter(img, 360).getpixel((0, 0)) == 0


def test_blue_stamp_is_removed_but_print_stays() -> None:
    page = add_stamp(render_page(), center=(900, 295))
    prepared = prepare_page(page, SETTINGS, dpi=300, options=PrepareOptions(binarize=False, drop_color=True))
    grey = np.asarray(prepared.image)
    original = np.asarray(page.convert("L"))
    ring = (900 + 170 - 3, 295)  # on the outer ring, away from any letter
    assert original[ring[1], ring[0]] < 200  # the stamp is visible in plain greyscale ...
    assert grey[ring[1], ring[0]] > 200  # ... and faded after preparation
    black = original < 60
    assert np.median(grey[black]) < 80  # black print stays black
    # by default the light stamp ink goes at binarisation, the print stays
    binary = np.asarray(prepare_page(page, SETTINGS, dpi=300).image.convert("L"))
    assert binary[ring[1], ring[0]] == 255
    assert (binary[black] == 0).mean() > 0.9


def test_tiny_print_is_upscaled_and_boxes_map_back() -> None:
    small = render_page(font_px=15, width=700, margin=40)  # ~100 dpi
    prepared = prepare_page(small, SETTINGS, dpi=None)
    assert 1.8 <= prepared.scale <= 2.0
    assert prepared.dpi is not None and 180 <= prepared.dpi <= 320
    # the prepared image's corner maps back onto the input's corner
    x, y = _to_oriented(prepared.to_oriented, prepared.image.width, prepared.image.height)
    assert x == pytest.approx(small.width, abs=3) and y == pytest.approx(small.height, abs=3)


def test_phone_photo_surround_is_cropped_and_mapped() -> None:
    sheet = render_page().convert("RGB")
    photo = Image.new("RGB", (sheet.width + 400, sheet.height + 500), (70, 72, 75))
    photo.paste(sheet, (200, 260))
    prepared = prepare_page(photo, SETTINGS, dpi=None)
    assert "crop" in prepared.steps
    assert prepared.image.width < photo.width - 300 and prepared.image.height < photo.height - 400
    x, y = _to_oriented(prepared.to_oriented, 0, 0)
    assert 190 <= x <= 240 and 250 <= y <= 300
    # no dark band of the surround is left for Tesseract to read
    grey = np.asarray(prepared.image.convert("L"))
    assert grey[:, :5].mean() > 250 and grey[:5, :].mean() > 250


def test_uneven_light_is_flattened() -> None:
    page = np.asarray(render_page(), dtype=np.float64)
    shade = np.linspace(0.45, 1.0, page.shape[1])[None, :]  # dark on the left, like a fold shadow
    shaded = Image.fromarray((page * shade).astype(np.uint8))
    prepared = prepare_page(shaded, SETTINGS, dpi=300)
    binary = np.asarray(prepared.image.convert("L"))
    # the shaded paper is white after binarisation, the print is still there
    assert binary[:, :60].mean() > 250
    assert (binary == 0).mean() > 0.02


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "RGBA", "P", "I;16"])
def test_any_image_mode_is_accepted(mode: str) -> None:
    page = render_page(LINES_SHORT)
    img = page.convert("I;16") if mode == "I;16" else page.convert(mode)
    prepared = prepare_page(img, SETTINGS)
    assert prepared.image.size == page.size


def test_transparent_background_counts_as_paper() -> None:
    page = render_page(LINES_SHORT)
    rgba = Image.new("RGBA", page.size, (0, 0, 0, 0))  # transparent black, as some PNG exports are
    rgba.paste((0, 0, 0, 255), mask=page.point(lambda v: 255 - v))
    binary = np.asarray(prepare_page(rgba, SETTINGS, dpi=300).image.convert("L"))
    assert binary.mean() > 200  # white paper with black print, not a black page


def test_tiny_or_empty_pages_do_not_fail() -> None:
    for img in (Image.new("L", (5, 5), 255), Image.new("RGB", (300, 200), (0, 0, 0))):
        prepared = prepare_page(img, SETTINGS)
        assert prepared.image.size[0] >= 1
    dots = Image.new("L", (400, 400), 255)
    ImageDraw.Draw(dots).point([(10, 10), (200, 300)], fill=0)
    assert prepare_page(dots, SETTINGS).rotation == 0


LINES_SHORT = ["Міська рада розглянула звернення.", "Відповідь надано у строк."]


def _same_preparation(a: Image.Image, b: Image.Image) -> bool:
    pa, pb = prepare_page(a, SETTINGS, dpi=300), prepare_page(b, SETTINGS, dpi=300)
    return (pa.steps, pa.dpi, pa.skew_deg, pa.scale) == (pb.steps, pb.dpi, pb.skew_deg, pb.scale) and np.array_equal(
        np.asarray(pa.image), np.asarray(pb.image)) and np.array_equal(pa.to_oriented, pb.to_oriented)


def test_a_colour_page_read_as_grey_first_prepares_the_same() -> None:
    # what OCR does to hold a third of the pixels: the page made grey before preparation
    page = add_stamp(render_page(), center=(900, 295))
    x, y = np.meshgrid(np.arange(256), np.arange(256))
    # a patch of many colours: Pillow's grey differs from OpenCV's by one on some of them
    page.paste(Image.fromarray(np.stack([x, y, 255 - x], -1).astype(np.uint8)), (1600, 20))
    page = page.rotate(1.1, expand=True, fillcolor=(250, 247, 240))
    grey = read_as_grey(page)
    assert grey.mode == "L" and page.mode == "RGB"
    whole = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2GRAY)  # the page made grey at once
    assert np.array_equal(np.asarray(grey), whole) and np.array_equal(_to_grey(page, PrepareOptions(), []), whole)
    assert _same_preparation(page, grey)
    rgba = page.convert("RGBA")
    assert _same_preparation(rgba, read_as_grey(rgba))
    # pixels in BGR order (a PDF page as pdfium renders it) give the same grey
    assert np.array_equal(np.asarray(grey_from_bgr(np.asarray(page)[:, :, ::-1].copy())), np.asarray(grey))
    # when colour ink is to be dropped, the colours are needed: the page is left as it is
    assert read_as_grey(page, PrepareOptions(drop_color=True)) is page


def test_component_labels_fall_back_to_32_bits_when_16_overflow() -> None:
    page = np.asarray(render_page().rotate(0.8, expand=True, fillcolor=255))
    _, ink = cv2.threshold(page, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, labels, stats, _ = _components(ink)
    n32, _, stats32, _ = cv2.connectedComponentsWithStats(ink, connectivity=8, ltype=cv2.CV_32S)
    assert labels.dtype == np.uint16 and n == n32 and np.array_equal(stats, stats32)
    noise = (np.random.default_rng(1).random((1200, 1200)) < 0.25).astype(np.uint8)  # > 65,535 specks
    n, labels, stats, _ = _components(noise)
    n32, _, stats32, _ = cv2.connectedComponentsWithStats(noise, connectivity=8, ltype=cv2.CV_32S)
    assert n > 65_535 and labels.dtype == np.int32 and n == n32 and np.array_equal(stats, stats32)
