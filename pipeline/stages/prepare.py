"""Page image preparation before OCR (OpenCV).

:func:`prepare_page` turns a scan or phone photo into a clean, upright, level,
binarised page of print-like resolution, and returns the geometry needed to map Tesseract's word
boxes back onto the input image (after its quarter-turn orientation fix):

1. optionally (``drop_color``), coloured ink (blue/violet stamps, signatures) is
   removed: saturated pixels and their fringe become paper white while black print
   under them stays (coloured print, e.g. a navy letterhead, would go too);
2. the background (uneven light, fold shadows, grey paper) is estimated with a
   large closing on a reduced image and divided out; Otsu binarisation of the
   flattened page then also drops light stamp ink;
3. a phone photo's dark surroundings are masked white and cropped off;
4. the text size is measured (median height of character blobs) and the page
   rescaled when it is far from what 300 dpi print gives (tiny text of ~100 dpi
   images is upscaled, huge images reduced); dpi tags are not trusted (phone
   photos say 72 dpi);
5. a sideways page (text lines vertical: the column profile has more contrast
   than the row profile) is handed to Tesseract's orientation detection for 90
   vs 270 degrees and prepared again turned;
6. skew is measured with a projection profile over ink pixels and undone.

Upside-down pages look level to a profile; :mod:`pipeline.stages.ocr` catches them
by their low recognition confidence and asks Tesseract's OSD only then, so an
upright page never pays for orientation detection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from pipeline.engines import tesseract
from pipeline.settings import OcrSettings

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

TARGET_BLOB_HEIGHT = 24.0  # median character-blob height (px) of 11-14 pt print at 300 dpi
MIN_TRUSTED_DPI = 100  # lower dpi tags (72: cameras) are ignored
SIDEWAYS_MARGIN = 2.0  # see _looks_sideways
REDUCE = 4  # analysis (background, paper, skew) runs on a 1/4 size image


@dataclass(frozen=True)
class PrepareOptions:
    """Switches and knobs of the preparation steps (the benchmark and tests toggle them)."""

    # Off by default, by measurement: on the dev scans binarisation of the flattened page already
    # drops light stamp ink, while whitening the ink leaves fragments of dark pen strokes (JPEG
    # washes out their colour) that read as junk. Dev mean CER with the final settings: 0.0054
    # off, 0.0062 on (better on colour image scans and photos, worse on 200 dpi JPEG PDFs,
    # max page 0.045). Worth turning on for dark, saturated stamps.
    drop_color: bool = False
    normalize: bool = True
    crop: bool = True
    rescale: bool = True
    deskew: bool = True
    orientation: bool = True
    binarize: bool = True  # Otsu on the flattened page: measured better than Tesseract's own, and faster
    # x Otsu's threshold on the flattened page. Print sits far below it; grey marks (stamps,
    # pen strokes, shadows) sit just below it and go. Dev mean CER: 0.8 -> 0.0097,
    # 0.9 -> 0.0054, 1.0 -> 0.0090 (0.9 best on every file kind).
    threshold_scale: float = 0.9
    color_chroma: int = 48  # max-min channel spread above which a pixel counts as coloured ink
    max_skew_deg: float = 6.0
    min_skew_deg: float = 0.1  # smaller angles are left alone (resampling costs sharpness)
    # rescale when blob height < this x target (text under ~165 dpi) ... Measured: 150-200 dpi
    # photos and TIFFs read as well or better unscaled (and faster); ~100 dpi text gains
    upscale_below: float = 0.55
    downscale_above: float = 2.0  # ... or > this x target
    max_upscale: float = 2.0
    max_side: int = 7000  # huge images are reduced so the longer side fits


@dataclass
class PreparedPage:
    image: Image.Image  # what Tesseract reads
    dpi: int | None  # resolution of ``image`` when known or estimated
    rotation: int = 0  # clockwise quarter turn applied to the input, degrees (0/90/180/270)
    oriented_size: tuple[int, int] = (0, 0)  # input size after that rotation
    # 2x3 affine map from ``image`` pixels to oriented-input pixels (undoes deskew, scale, crop)
    to_oriented: np.ndarray = field(default_factory=lambda: IDENTITY.copy())
    skew_deg: float = 0.0
    scale: float = 1.0
    steps: list[str] = field(default_factory=list)  # what was done, for logs and the benchmark


def rotate_quarter(image: Image.Image, rotation: int) -> Image.Image:
    """Rotate clockwise by 0/90/180/270 degrees (lossless)."""
    rotation %= 360
    if rotation == 90:
        return image.transpose(Image.Transpose.ROTATE_270)  # PIL's ROTATE_* are counter-clockwise
    if rotation == 180:
        return image.transpose(Image.Transpose.ROTATE_180)
    if rotation == 270:
        return image.transpose(Image.Transpose.ROTATE_90)
    return image


def prepare_page(
    image: Image.Image,
    settings: OcrSettings,
    dpi: int | None = None,
    options: PrepareOptions | None = None,
    rotation: int = 0,
) -> PreparedPage:
    """Prepare one page for OCR; ``rotation`` forces a clockwise quarter turn (then no sideways check)."""
    opts = options or PrepareOptions()
    if dpi is not None and dpi < MIN_TRUSTED_DPI:
        dpi = None  # cameras tag photos 72 dpi whatever the text size
    steps: list[str] = []
    oriented = rotate_quarter(image, rotation)
    grey = _to_grey(oriented, opts, steps)

    h, w = grey.shape

    small = cv2.resize(grey, (max(1, w // REDUCE), max(1, h // REDUCE)), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = 0, 0, w, h
    paper = None
    if opts.crop:
        paper = _paper_mask(small)
        if paper is not None:
            ys, xs = np.nonzero(paper)
            x0, x1 = int(xs.min()) * REDUCE, min(w, (int(xs.max()) + 1) * REDUCE)
            y0, y1 = int(ys.min()) * REDUCE, min(h, (int(ys.max()) + 1) * REDUCE)
            steps.append("crop")
    if opts.normalize and image.mode != "1":  # a 1-bit scan has no background left to flatten
        grey = _flatten(grey, small, paper)
        steps.append("flatten")
    grey = grey[y0:y1, x0:x1]
    ch, cw = grey.shape

    # ink mask of the cropped page: Otsu on the flattened page is reliable
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)

    if opts.orientation and rotation == 0 and _looks_sideways(ink):
        osd = tesseract.detect_orientation(Image.fromarray(grey), dpi=dpi, timeout_s=min(60.0, settings.timeout_s))
        if osd is not None and osd.rotate in (90, 270):
            turned = prepare_page(image, settings, dpi, options, rotation=osd.rotate)
            turned.steps.insert(0, f"rotate{osd.rotate}")
            return turned

    scale = 1.0
    blob = _median_blob_height(ink)
    if opts.rescale and blob:
        ratio = blob / TARGET_BLOB_HEIGHT
        if ratio < opts.upscale_below:
            scale = min(opts.max_upscale, 1.0 / ratio)
        elif ratio > opts.downscale_above:
            scale = 1.0 / ratio
    if max(cw, ch) * scale > opts.max_side:
        scale = opts.max_side / max(cw, ch)
    if abs(scale - 1.0) > 0.05:
        steps.append(f"scale{scale:.2f}")
    else:
        scale = 1.0

    angle = _skew_angle(ink, opts.max_skew_deg) if opts.deskew else 0.0
    if abs(angle) < opts.min_skew_deg:
        angle = 0.0
    else:
        steps.append(f"deskew{angle:+.2f}")

    # one resampling for crop + scale + rotation about the page centre
    out_w, out_h = round(cw * scale), round(ch * scale)
    m = cv2.getRotationMatrix2D((cw / 2.0, ch / 2.0), angle, scale)
    m[0, 2] += out_w / 2.0 - cw / 2.0
    m[1, 2] += out_h / 2.0 - ch / 2.0
    if angle or scale != 1.0:
        interp = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_AREA if not angle else cv2.INTER_LINEAR
        grey = cv2.warpAffine(grey, m, (out_w, out_h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    to_cropped = cv2.invertAffineTransform(m)
    to_oriented = to_cropped.copy()
    to_oriented[0, 2] += x0
    to_oriented[1, 2] += y0

    out = Image.fromarray(grey)
    if opts.binarize:
        otsu, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        _, grey = cv2.threshold(grey, otsu * opts.threshold_scale, 255, cv2.THRESH_BINARY)
        out = Image.fromarray(grey).convert("1", dither=Image.Dither.NONE)  # 1-bit: cheapest for Tesseract to read
        steps.append("binarize")

    est_dpi = None
    if blob:
        est_dpi = int(round(300.0 * blob * scale / TARGET_BLOB_HEIGHT))
    elif dpi:
        est_dpi = int(round(dpi * scale))
    return PreparedPage(
        image=out,
        dpi=_plausible_dpi(est_dpi),
        rotation=rotation,
        oriented_size=oriented.size,
        to_oriented=to_oriented,
        skew_deg=angle,
        scale=scale,
        steps=steps,
    )


def _plausible_dpi(dpi: int | None) -> int | None:
    if dpi is None:
        return None
    return max(70, min(1200, dpi))


_COLOUR_MODES = ("RGB", "RGBA", "P", "PA", "LA", "CMYK", "YCbCr", "LAB", "HSV")


def _rgb_array(image: Image.Image) -> np.ndarray:
    # an RGB image as it is: on_white would first copy all of it (4 bytes a pixel in Pillow)
    return np.asarray(image if image.mode == "RGB" else tesseract.on_white(image))


GREY_BAND_ROWS = 256  # rows of a colour page made grey at a time


def _grey_of_colour(image: Image.Image) -> np.ndarray:
    """OpenCV's grey of a colour page (its RGB on white), a band of rows at a time: the same
    values as converting it whole, without a second copy of all its colour pixels."""
    if image.mode != "RGB":
        image = tesseract.on_white(image)
    w, h = image.size
    grey = np.empty((h, w), dtype=np.uint8)
    for y in range(0, h, GREY_BAND_ROWS):
        band = np.asarray(image.crop((0, y, w, min(h, y + GREY_BAND_ROWS))))
        grey[y : y + band.shape[0]] = cv2.cvtColor(band, cv2.COLOR_RGB2GRAY)
    return grey


def grey_from_bgr(bgr: np.ndarray) -> Image.Image:
    """The grey page preparation reads of a colour page, from its BGR pixels (a PDF page as
    pypdfium2 renders it): the same values as :func:`read_as_grey` of the page in RGB."""
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))


def read_as_grey(image: Image.Image, options: PrepareOptions | None = None) -> Image.Image:
    """The page as :func:`prepare_page` first reads it, when it drops no colour: a colour page
    becomes the same grey (a third of the memory, or a quarter of Pillow's RGB), any other page
    is returned as it is. ``prepare_page`` gives the same result for the returned image."""
    if (options or PrepareOptions()).drop_color or image.mode not in _COLOUR_MODES:
        return image
    return Image.fromarray(_grey_of_colour(image))


def _to_grey(image: Image.Image, opts: PrepareOptions, steps: list[str]) -> np.ndarray:
    """Greyscale uint8 with coloured ink (stamps, signatures) turned to paper white."""
    if image.mode in _COLOUR_MODES and not opts.drop_color:
        return _grey_of_colour(image)
    if image.mode in _COLOUR_MODES:
        rgb = _rgb_array(image)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if opts.drop_color:
            r, g, b = cv2.split(rgb)  # cv2's per-pixel max/min are ~20x faster than numpy's axis reduce
            hi = cv2.max(cv2.max(r, g), b)
            chroma = cv2.subtract(hi, cv2.min(cv2.min(r, g), b))
            # (a threshold relative to brightness catches more of a pen stroke's dark core but
            # also the text of photos with a blue colour cast: measured worse)
            coloured = (chroma > opts.color_chroma).astype(np.uint8)
            if cv2.countNonZero(coloured):
                # grow the ink mask by a pixel or two: a stroke's fringe is less saturated and
                # would survive as dotted outlines that Tesseract reads as junk letters
                ink = cv2.dilate(coloured, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
                black = (grey < 100) & (coloured == 0)  # black print under a stamp stays
                grey = np.where(ink & ~black, 255, grey)
                steps.append("dropcolor")
        return np.ascontiguousarray(grey)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        lo, hi_v = float(arr.min()), float(arr.max())
        return ((arr - lo) * (255.0 / max(1.0, hi_v - lo))).astype(np.uint8)
    return np.ascontiguousarray(np.asarray(image if image.mode == "L" else image.convert("L")))


def _flatten(grey: np.ndarray, small: np.ndarray, paper: np.ndarray | None) -> np.ndarray:
    """Divide out the background brightness (estimated by a closing on the reduced image)."""
    h, w = grey.shape
    # kernel wider than any stroke at 1/4 size: ~40 px of the page at 300 dpi
    k = max(5, (min(small.shape) // 60) | 1)
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    bg = cv2.GaussianBlur(bg, (0, 0), k / 2.0)
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    flat = cv2.divide(grey, np.maximum(bg, 1), scale=255)
    if paper is not None:
        mask = cv2.resize(paper.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        flat[mask == 0] = 255
    return flat


def _paper_mask(small: np.ndarray) -> np.ndarray | None:
    """Mask of the sheet when it lies on a clearly darker surface (phone photos), else None."""
    blur = cv2.GaussianBlur(small, (0, 0), 3)
    # a photo's surround shows along the image border; a scan's border is paper (or a thin edge)
    band = max(2, min(small.shape) // 40)
    border = np.concatenate(
        [blur[:band].ravel(), blur[-band:].ravel(), blur[:, :band].ravel(), blur[:, -band:].ravel()]
    )
    if float(np.median(border)) > float(np.percentile(blur, 75)) - 40:
        return None
    thr, bright = cv2.threshold(blur, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if n < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = stats[biggest, cv2.CC_STAT_AREA]
    total = small.shape[0] * small.shape[1]
    # only a dominant sheet with a real dark surround counts; a text page's dark blobs are small
    if area < 0.35 * total or area > 0.97 * total:
        return None
    sheet = labels == biggest
    outside_mean = float(blur[~sheet].mean()) if (~sheet).any() else 255.0
    inside_mean = float(blur[sheet].mean())
    if inside_mean - outside_mean < 40:
        return None
    # fill holes (text, stamps) inside the sheet: take the filled outer contour
    contours, _ = cv2.findContours(sheet.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(small, dtype=np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    # erode a little: the sheet edge itself is a shadowed gradient
    filled = cv2.erode(filled, np.ones((5, 5), np.uint8))
    return filled.astype(bool) if filled.any() else None


def _components(ink: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats`` (8-connected), with 16-bit labels while they fit: the
    label image is the largest array of a page's preparation (35 MB at 32 bits for an A4 page at
    300 dpi). OpenCV refuses a count that overflows 16 bits; only then are 32 bits used."""
    try:
        return cv2.connectedComponentsWithStats(ink, connectivity=8, ltype=cv2.CV_16U)
    except cv2.error:
        return cv2.connectedComponentsWithStats(ink, connectivity=8, ltype=cv2.CV_32S)


def _median_blob_height(ink: np.ndarray) -> float | None:
    """Median height of character-sized connected components of the ink mask."""
    n, _, stats, _ = _components(ink)
    if n < 30:
        return None
    hgt = stats[1:, cv2.CC_STAT_HEIGHT]
    wid = stats[1:, cv2.CC_STAT_WIDTH]
    area = stats[1:, cv2.CC_STAT_AREA]
    # letters: not specks, not lines or pictures, reasonably filled boxes
    ok = (hgt >= 6) & (hgt <= 250) & (wid >= 2) & (wid <= 3 * hgt) & (area >= 0.1 * hgt * wid)
    if ok.sum() < 30:
        return None
    return float(np.median(hgt[ok]))


def _profile_score(xs: np.ndarray, ys: np.ndarray, angle_deg: float, bins: int) -> float:
    """Peakiness of the ink histogram across lines rotated by ``angle_deg`` (sum of squared bin counts)."""
    a = math.radians(angle_deg)
    proj = ys * math.cos(a) - xs * math.sin(a)
    proj = proj - proj.min()
    hist = np.bincount(proj.astype(np.int64), minlength=bins)
    return float(np.dot(hist, hist))


def _ink_points(ink: np.ndarray, step: int = 2, max_points: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    sub = ink[::step, ::step]
    ys, xs = np.nonzero(sub)
    if len(xs) > max_points:  # evenly thinned: enough for a histogram, cheap to project
        keep = np.linspace(0, len(xs) - 1, max_points).astype(np.int64)
        xs, ys = xs[keep], ys[keep]
    return xs.astype(np.float64), ys.astype(np.float64)


def _skew_angle(ink: np.ndarray, max_deg: float) -> float:
    """Skew in degrees (counter-clockwise positive, as cv2 rotates) from the projection profile."""
    xs, ys = _ink_points(ink)
    if len(xs) < 500:
        return 0.0
    bins = int(math.hypot(*ink.shape)) // 2 + 2

    def best(lo: float, hi: float, step: float) -> float:
        angles = np.arange(lo, hi + step / 2, step)
        scores = [_profile_score(xs, ys, a, bins) for a in angles]
        return float(angles[int(np.argmax(scores))])

    coarse = best(-max_deg, max_deg, 0.5)
    fine = best(coarse - 0.5, coarse + 0.5, 0.05)
    # a page turned counter-clockwise by a shows its best profile at -a here; cv2 turns
    # counter-clockwise for positive angles, so rotating by the found angle undoes the skew
    return fine


def _profile_contrast(ink: np.ndarray, axis: int, bin_px: int = 4) -> float:
    """Squared coefficient of variation of the ink profile across ``axis`` (0: columns, 1: rows).

    Text lines make the profile across them alternate between ink and gaps (high
    contrast); along the lines ink is spread evenly (low contrast).
    """
    prof = ink.sum(axis=axis, dtype=np.int64)
    nz = np.flatnonzero(prof)
    if len(nz) < 4 * bin_px:
        return 0.0
    prof = prof[nz[0] : nz[-1] + 1]
    prof = prof[: len(prof) // bin_px * bin_px].reshape(-1, bin_px).sum(axis=1).astype(np.float64)
    mean = prof.mean()
    return float(prof.var() / (mean * mean)) if mean > 0 else 0.0


def _looks_sideways(ink: np.ndarray) -> bool:
    """True when text lines run vertically. Upright dev pages measured rows/columns contrast
    ratios of 5-20, so a 2x margin the other way is a clear signal; only then is Tesseract's
    (slower) orientation detection asked whether to turn 90 or 270 degrees."""
    if int(ink.sum()) < 2000:
        return False
    return _profile_contrast(ink, axis=0) > SIDEWAYS_MARGIN * _profile_contrast(ink, axis=1)
