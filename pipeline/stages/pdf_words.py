"""Words of a PDF page's text layer, read with pdfium.

pdfplumber (pdfminer) interprets content streams in pure Python, ~50 ms for a letter page; pdfium
does it in C. The word dicts here (x0, top, x1, bottom, text) are those of pdfplumber's
``page.extract_words(x_tolerance=1.5, y_tolerance=3)``: the same character boxes (pdfminer's
geometry: advance width by font size, font descent to descent + font size), the same top-left
coordinates of the displayed (rotated) page, and the same rules to cluster characters into lines
and split them into words. ``tests/test_text.py`` compares the two on PDFs it builds.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

X_TOLERANCE = 1.5  # a gap wider than this between two characters starts a new word
Y_TOLERANCE = 3.0  # characters whose tops are this close are on one line

# pdfplumber expands these by default
LIGATURES = {"ﬀ": "ff", "ﬃ": "ffi", "ﬄ": "ffl", "ﬁ": "fi", "ﬂ": "fl", "ﬆ": "st", "ﬅ": "st"}
_LIGATURE_TABLE = str.maketrans(LIGATURES)

Char = tuple[str, float, float, float, float, bool]  # text, x0, top, x1, bottom, upright


@functools.cache
def _calls() -> dict[str, Any]:
    """pdfium's per-character calls with plain types (the text page as an address, the text object
    returned as an int): pypdfium2's typed bindings cost more than the calls themselves."""
    import pypdfium2.raw as c

    vp, i, d, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_float

    def typed(fn: Any, restype: Any, *argtypes: Any) -> Any:
        return ctypes.cast(fn, ctypes.CFUNCTYPE(restype, *argtypes))

    return {
        "count": typed(c.FPDFText_CountChars, i, vp),
        "text": typed(c.FPDFText_GetText, i, vp, i, i, vp),
        "unicode": typed(c.FPDFText_GetUnicode, ctypes.c_uint, vp, i),
        "generated": typed(c.FPDFText_IsGenerated, i, vp, i),
        "map_error": typed(c.FPDFText_HasUnicodeMapError, i, vp, i),
        "object": typed(c.FPDFText_GetTextObject, vp, vp, i),
        "font_size": typed(c.FPDFText_GetFontSize, d, vp, i),
        "matrix": typed(c.FPDFText_GetMatrix, i, vp, i, vp),
        "origin": typed(c.FPDFText_GetCharOrigin, i, vp, i, vp, vp),
        "loose_box": typed(c.FPDFText_GetLooseCharBox, i, vp, i, vp),
        "tight_box": typed(c.FPDFText_GetCharBox, i, vp, i, vp, vp, vp, vp),
        "font": typed(c.FPDFTextObj_GetFont, vp, vp),
        "descent": typed(c.FPDFFont_GetDescent, i, vp, f, vp),
    }


def _page_text(calls: dict[str, Any], tp: int, n: int) -> str | None:
    """All ``n`` characters' Unicode in one call; None when that cannot be lined up with the
    character indexes (characters beyond the BMP take two UTF-16 units)."""
    buf = (ctypes.c_ushort * (n + 1))()
    got = calls["text"](tp, 0, n, ctypes.addressof(buf))
    text = ctypes.string_at(buf, max(got - 1, 0) * 2).decode("utf-16-le", errors="replace")
    return text if len(text) == n else None


_PAGE_MATRIX = {90: lambda x0, y0, x1, y1: (0.0, -1.0, 1.0, 0.0, -y0, x1),
                180: lambda x0, y0, x1, y1: (-1.0, 0.0, 0.0, -1.0, x1, y1),
                270: lambda x0, y0, x1, y1: (0.0, 1.0, -1.0, 0.0, y1, -x0)}


def _object_state(calls: dict[str, Any], tp: int, i: int, obj: int | None, rotation: int,
                  page_top: float) -> tuple[bool, float, float, bool, float, float, float, float]:
    """What page_chars keeps of the text object of character ``i``: (plain, top, bottom, upright,
    a, b, c, d). Plain: upright horizontal text on an unrotated page, whose characters all have the
    top and bottom given (``page_top``: pdfplumber's top is ``page_top`` - y); otherwise top and
    bottom hold the font's descent and size."""
    size = calls["font_size"](tp, i)
    matrix = (ctypes.c_float * 6)()  # FS_MATRIX: a, b, c, d, e, f
    calls["matrix"](tp, i, ctypes.addressof(matrix))
    a, b, cm, d = matrix[0], matrix[1], matrix[2], matrix[3]
    font = calls["font"](obj) if obj else None
    out = ctypes.c_float()
    # the descent of the font's descriptor, per unit of font size (pdfminer's get_descent)
    descent = out.value / 1000.0 if font and calls["descent"](font, 1000.0, ctypes.byref(out)) else 0.0
    descent = min(descent, -descent)
    # pdfminer judges uprightness after the page's rotation
    ca, cb, cc, cd = {90: (0, -1, 1, 0), 180: (-1, 0, 0, -1), 270: (0, 1, -1, 0)}.get(rotation, (1, 0, 0, 1))
    ra, rb, rc, rd = a * ca + b * cc, a * cb + b * cd, cm * ca + d * cc, cm * cb + d * cd
    upright = ra * rd > 0 and rb * rc <= 0
    if rotation == 0 and a > 0 and d > 0 and not b and not cm:
        xy = (ctypes.c_double * 2)()
        calls["origin"](tp, i, ctypes.addressof(xy), ctypes.addressof(xy) + 8)
        y0, y1 = xy[1] + d * descent * size, xy[1] + d * (descent * size + size)
        y0, y1 = min(y0, y1), max(y0, y1)
        return True, page_top - y1, page_top - y0, upright, a, b, cm, d
    return False, descent, size, upright, a, b, cm, d


def page_chars(textpage: Any, page_height: float, mediabox: tuple[float, ...], rotation: int) -> list[Char]:
    """The page's characters in content order, as pdfminer sees them: ``textpage`` a pypdfium2
    PdfTextPage, ``mediabox`` the page's raw /MediaBox (x0, y0, x1, y1), ``rotation`` its /Rotate
    (0, 90, 180, 270), ``page_height`` the displayed height; characters pdfium made up (the spaces
    and line breaks it infers) are left out."""
    calls = _calls()
    tp = ctypes.cast(textpage.raw, ctypes.c_void_p).value
    n = calls["count"](tp)
    if n <= 0:
        return []
    page_text = _page_text(calls, tp, n)
    mx0, my0, mx1, my1 = mediabox
    # pdfminer's page matrix: user space to the rotated page with its origin at the bottom left
    ca, cb, cc, cd, ce, cf = _PAGE_MATRIX.get(rotation, lambda x0, y0, x1, y1: (1.0, 0.0, 0.0, 1.0, -x0, -y0))(
        mx0, my0, mx1, my1)
    # pdfplumber shifts x back by the mediabox's left edge and measures top from its (rotated) top
    left = min(my0, my1) if rotation in (90, 270) else min(mx0, mx1)
    top_shift = -(min(mx0, mx1) if rotation in (90, 270) else min(my0, my1))
    rect = (ctypes.c_float * 4)()  # FS_RECTF: left, top, right, bottom
    rect_at = ctypes.addressof(rect)
    nums = (ctypes.c_double * 6)()
    at = [ctypes.addressof(nums) + 8 * k for k in range(6)]
    unicode, generated, map_error, get_object = calls["unicode"], calls["generated"], calls["map_error"], calls["object"]
    loose_box = calls["loose_box"]
    # per text object: whether it is axis-aligned on an unrotated page, its top and bottom there
    # (pdfminer's: baseline + descent, + font size), upright, and its char matrix otherwise
    objects: dict[int | None, tuple[bool, float, float, bool, float, float, float, float]] = {}
    last_obj: int | None = -1
    last_span = (0.0, 0.0)  # the loose box's (top, bottom) of the last plain character
    plain = top = bottom = upright = False
    a = b = cm = d = 0.0
    out: list[Char] = []
    append = out.append
    chars = page_text if page_text is not None else [chr(unicode(tp, i)) for i in range(n)]
    for i, text in enumerate(chars):
        if text.isspace() and generated(tp, i):
            continue
        if map_error(tp, i):  # what pdfminer writes for a glyph it cannot map to Unicode
            text = f"(cid:{unicode(tp, i)})"
        loose_box(tp, i, rect_at)
        # A plain character whose loose box spans the same heights as the one before is of a text
        # object like it (same baseline, font metrics and size): asking pdfium for its object would
        # cost a third of the time spent here.
        if plain and rect[1] == last_span[0] and rect[3] == last_span[1]:
            append((text, rect[0], top, rect[2], bottom, upright))
            continue
        obj = get_object(tp, i)
        if obj != last_obj:
            if not obj and generated(tp, i):  # made up, not blank either
                continue
            state = objects.get(obj)
            if state is None:
                state = objects[obj] = _object_state(calls, tp, i, obj, rotation, page_height + top_shift - cf)
            plain, top, bottom, upright, a, b, cm, d = state
            last_obj = obj
        if plain:  # horizontal text, page not rotated: pdfminer's box spans the advance width
            last_span = (rect[1], rect[3])
            append((text, rect[0], top, rect[2], bottom, upright))
            continue
        calls["origin"](tp, i, at[4], at[5])
        descent, size = top, bottom  # _object_state keeps these two here for such text
        if a and not b and not cm:  # axis-aligned text on a rotated page: the loose box spans the advance
            adv = (rect[2] - rect[0]) / a
        else:  # rotated or skewed text (stamps, margins): pdfium's loose box is not along the baseline,
            # so the advance ends where the glyph's ink ends (tight box) along the baseline
            calls["tight_box"](tp, i, at[0], at[1], at[2], at[3])
            norm = a * a + b * b or 1.0
            adv = max(((x - nums[4]) * a + (y - nums[5]) * b) / norm
                      for x in (nums[0], nums[1]) for y in (nums[2], nums[3]))
        # pdfminer's box: (0, descent) to (advance, descent + font size) in text space, through the char matrix
        lo, hi = descent * size, descent * size + size
        corners = [(nums[4] + a * tx + cm * ty, nums[5] + b * tx + d * ty) for tx in (0.0, adv) for ty in (lo, hi)]
        xs = [ca * ux + cc * uy + ce for ux, uy in corners]
        ys = [cb * ux + cd * uy + cf for ux, uy in corners]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        append((text, x0 + left, page_height - y1 + top_shift, x1 + left, page_height - y0 + top_shift, upright))
    return out


def _clusters(values: Iterable[float], tolerance: float) -> dict[float, int]:
    """pdfplumber's cluster_list: sorted distinct values, a new cluster when one is more than
    ``tolerance`` past the previous value."""
    out: dict[float, int] = {}
    last: float | None = None
    idx = -1
    for v in sorted(set(values)):
        if last is None or v > last + tolerance:
            idx += 1
        out[v] = idx
        last = v
    return out


def _lines(chars: list[Char], upright: bool) -> Iterator[list[Char]]:
    if upright:  # lines top to bottom, characters left to right
        ids = _clusters((ch[2] for ch in chars), Y_TOLERANCE)
        ordered = sorted(chars, key=lambda ch: ids[ch[2]])
        for _, line in itertools.groupby(ordered, key=lambda ch: ids[ch[2]]):
            yield sorted(line, key=lambda ch: ch[1])
    else:  # rotated text: lines left to right, characters top to bottom
        ids = _clusters((ch[1] for ch in chars), X_TOLERANCE)
        ordered = sorted(chars, key=lambda ch: ids[ch[1]])
        for _, line in itertools.groupby(ordered, key=lambda ch: ids[ch[1]]):
            yield sorted(line, key=lambda ch: (ch[2], ch[4]))


def _word(chars: list[Char]) -> dict:
    texts, x0s, tops, x1s, bottoms, _ = zip(*chars, strict=True)
    return {
        "text": "".join(texts).translate(_LIGATURE_TABLE),
        "x0": min(x0s),
        "top": min(tops),
        "x1": max(x1s),
        "bottom": max(bottoms),
    }


def chars_to_words(chars: list[Char]) -> list[dict]:
    """pdfplumber's WordExtractor with its defaults but the tolerances: runs of upright / rotated
    characters apart, lines by clustering, a word ends at a blank character or where the next
    character is behind, past the tolerance after, or off the line of the previous one."""
    words: list[dict] = []
    for upright, run in itertools.groupby(chars, key=lambda ch: ch[5]):
        # along the line: x0 and x1 (upright) or top and bottom (rotated); across it: top or x0
        start, end, across = (1, 3, 2) if upright else (2, 4, 1)
        along_tol, across_tol = (X_TOLERANCE, Y_TOLERANCE) if upright else (Y_TOLERANCE, X_TOLERANCE)
        for line in _lines(list(run), upright):
            current: list[Char] = []
            prev: Char | None = None
            for ch in line:
                if ch[0].isspace():
                    if current:
                        words.append(_word(current))
                    current, prev = [], None
                elif prev is not None and (ch[start] < prev[start] or ch[start] > prev[end] + along_tol
                                           or abs(ch[across] - prev[across]) > across_tol):
                    words.append(_word(current))
                    current, prev = [ch], ch
                else:
                    current.append(ch)
                    prev = ch
            if current:
                words.append(_word(current))
    return words
