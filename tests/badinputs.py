"""Generator of the hostile-input suite and of small good letters to mix them with.

Everything is built on the spot (reportlab, Pillow, zlib, hand-written PDF/TIFF
bytes); nothing is downloaded. The letter texts are invented for these tests.

    write_good_letters(folder, n_pdf, n_img)  -> list[Path]
    BAD_INPUTS                                -> the catalogue (name, file name, what it is, expected reason)
    write_bad_inputs(folder)                  -> {name: path} for every entry that applies on this machine
    write_registry(path)                      -> a promise registry that matches the good letters
    verdict_models_dir(cache_dir)             -> a models dir holding a verdict model (project's, else a small one)

Run ``python -m tests.badinputs OUT`` to write the whole suite into OUT for a manual `letters run`.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
RL_FONT = "HostileSans"

# --- good letters ------------------------------------------------------------------

# Invented councils, people and projects (not from any real letter).
_CITIES = [("Житомирська", "м. Житомир", "Житомир"), ("Полтавська", "м. Полтава", "Полтава"),
           ("Чернігівська", "м. Чернігів", "Чернігів"), ("Вінницька", "м. Вінниця", "Вінниця")]
_TOPICS = [
    ("реконструкції скверу біля залізничного вокзалу", "Роботи завершено, сквер відкрито для відвідувачів."),
    ("встановлення нових зупинок громадського транспорту", "Встановлення триває, виконано половину обсягу."),
    ("ремонту даху міської лікарні", "Роботи не розпочато через відсутність фінансування."),
    ("облаштування велосипедних доріжок на набережній", "Доріжки збудовано та введено в експлуатацію."),
]
_SIGNERS = ["Остап КОВАЛЬЧУК", "Марина ГОНЧАРУК", "Денис ЛИТВИНЕНКО", "Ірина САВЧУК"]


def letter_lines(i: int) -> list[str]:
    """An invented council reply; ``i`` varies every detail so each letter has its own bytes."""
    adj, place, _city = _CITIES[i % len(_CITIES)]
    topic, answer = _TOPICS[i % len(_TOPICS)]
    day = 1 + i % 27
    return [
        f"{adj.upper()} МІСЬКА РАДА",
        f"вул. Незалежності, {10 + i}, {place}",
        "",
        f"{day:02d}.04.2025 № 01-{20 + i}/{300 + i}",
        f"На № {40 + i} від {day:02d}.03.2025",
        "",
        "Громадській організації «Чесне слово»",
        "",
        f"Щодо {topic} повідомляємо.",
        answer,
        f"Довідка № {i} до листа додається.",
        "",
        f"Секретар міської ради    {_SIGNERS[i % len(_SIGNERS)]}",
    ]


def write_registry(path: Path) -> Path:
    """A registry whose promises the good letters talk about."""
    rows = ["promise_id,politician,office,city,said_on,title,description,lang"]
    for k, ((_adj, _place, city), (topic, _answer)) in enumerate(zip(_CITIES, _TOPICS, strict=True)):
        rows.append(f'H-{k + 1},Петро Іваненко,міський голова,{city},2024-05-0{k + 1},"{topic.capitalize()}",'
                    f'"Обіцянка щодо {topic} у місті {city}",uk')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if RL_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(RL_FONT, str(FONT)))


def write_text_pdf(path: Path, lines: list[str], pages: int = 1, encrypt: object = None,
                   pagesize: tuple[float, float] = (595.0, 842.0)) -> Path:
    """A born-digital PDF with a real (extractable, Cyrillic) text layer."""
    from reportlab.pdfgen import canvas

    _register_font()
    c = canvas.Canvas(str(path), pagesize=pagesize, encrypt=encrypt, invariant=1)
    size = 11 if pagesize[1] > 300 else 3
    for _ in range(pages):
        c.setFont(RL_FONT, size)
        y = pagesize[1] - 3 * size
        for line in lines:
            c.drawString(2 * size, y, line)
            y -= size * 1.4
        c.showPage()
    c.save()
    return path


def write_text_image(path: Path, lines: list[str], fmt: str = "PNG", a4: bool = False) -> Path:
    """A clean image of the lines (OCR reads it in about a second); ``a4``: a whole A4 page at
    300 dpi with the lines repeated, which keeps Tesseract busy for a few seconds."""
    if a4:
        font, step, size = ImageFont.truetype(str(FONT), 40), 62, (2480, 3508)
        lines = (lines + [""]) * 4
    else:
        font, step, size = ImageFont.truetype(str(FONT), 26), 40, (1240, 60 + 40 * len(lines))
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((150 if a4 else 60, 150 + step * k if a4 else 30 + step * k), line, fill=0, font=font)
    img.save(path, format=fmt, dpi=(300, 300) if a4 else (200, 200))
    return path


def write_good_letters(folder: Path, n_pdf: int = 2, n_img: int = 0, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n_pdf):
        out.append(write_text_pdf(folder / f"good-{start + k:03d}.pdf", letter_lines(start + k)))
    for k in range(n_img):
        i = start + n_pdf + k
        out.append(write_text_image(folder / f"good-{i:03d}.png", letter_lines(i)))
    return out


# --- bad inputs ---------------------------------------------------------------------


def _pdf_from_objects(objects: list[bytes], root: int = 1, xref: bool = True) -> bytes:
    """A PDF file from numbered object bodies (1-based), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    start = out.tell()
    if xref:
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
        for off in offsets:
            out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, start))
    return out.getvalue()


def no_pages_pdf(path: Path) -> None:
    path.write_bytes(_pdf_from_objects([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]))


def truncated_pdf(path: Path) -> None:
    data = write_text_pdf(path, letter_lines(90)).read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])  # cut inside the page content: no xref, no trailer, no fonts


def broken_xref_pdf(path: Path) -> None:
    """Every xref offset points at the wrong place and startxref is off too: readers must rebuild the table."""
    data = write_text_pdf(path, letter_lines(91)).read_bytes()
    head, sep, tail = data.rpartition(b"xref\n")
    lines = tail.split(b"\n")
    lines = [b"%010d 00000 n " % 7 if ln.endswith(b" n ") else ln for ln in lines]
    fixed = head + sep + b"\n".join(lines)
    fixed = fixed.replace(b"startxref\n", b"startxref\n9", 1)  # a wrong, larger number
    path.write_bytes(fixed)


def garbage_pdf(path: Path) -> None:
    """Starts like a PDF, then nothing a reader can use."""
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")


def encrypted_user_pdf(path: Path) -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption

    write_text_pdf(path, letter_lines(92), encrypt=StandardEncryption("open-sesame", ownerPassword="owner-secret"))


def encrypted_owner_pdf(path: Path) -> None:
    """Only an owner password: anyone may open and read it (copying/printing flags are set)."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    enc = StandardEncryption("", ownerPassword="owner-secret", canPrint=0, canModify=0, canCopy=0, canAnnotate=0)
    write_text_pdf(path, letter_lines(93), encrypt=enc)


def html_as_pdf(path: Path) -> None:
    path.write_bytes(b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n")


def zip_as_pdf(path: Path) -> None:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    path.write_bytes(buf.getvalue())


def _png_bytes(size: tuple[int, int] = (600, 400)) -> bytes:
    buf = io.BytesIO()
    img = Image.effect_noise(size, 60).convert("L")  # noise: compressed data is long enough to cut
    img.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg_bytes(size: tuple[int, int] = (600, 400)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def truncated_png(path: Path) -> None:
    data = _png_bytes()
    path.write_bytes(data[: len(data) // 3])


def garbage_png(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(0) + bytes((i * 37) % 256 for i in range(3000)))


def truncated_jpeg(path: Path) -> None:
    data = _jpeg_bytes()
    path.write_bytes(data[: len(data) // 3])


def garbage_jpeg(path: Path) -> None:
    data = _jpeg_bytes()
    # keep the markers up to the first scan, then noise instead of entropy-coded data and no EOI
    sos = data.index(b"\xff\xda")
    path.write_bytes(data[: sos + 2] + bytes((i * 91 + 7) % 255 for i in range(4000)))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb_png(path: Path, side: int = 40_000) -> None:
    """A side x side 1-bit white PNG (1.6 gigapixels) of ~200 KB, streamed so it never sits in memory."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    with path.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)))
        block = row * 1000
        parts = []
        for _ in range(side // 1000):
            parts.append(comp.compress(block))
        parts.append(comp.flush())
        fh.write(_png_chunk(b"IDAT", b"".join(parts)))
        fh.write(_png_chunk(b"IEND", b""))


def content_bomb_pdf(path: Path, megabytes: int = 64, in_form: bool = False) -> None:
    """A one-page PDF of a few dozen KB whose content stream inflates to ``megabytes`` of no-op
    operators (pdfminer would spend minutes parsing them); ``in_form``: hidden in a form XObject."""
    comp = zlib.compressobj(9)
    chunk = b"q Q\n" * (1 << 18)  # 1 MB
    packed = b"".join(comp.compress(chunk) for _ in range(megabytes)) + comp.flush()
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R%s >>"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"]
    if in_form:
        objects += [page % b" /Resources << /XObject << /X1 5 0 R >> >>", b"<< /Length 8 >>\nstream\n/X1 Do\n\nendstream",
                    stream.replace(b"<< /Length", b"<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Length", 1)]
    else:
        objects += [page % b"", stream]
    path.write_bytes(_pdf_from_objects(objects))


def thousand_page_pdf(path: Path, pages: int = 1000) -> None:
    """Tiny pages, each with a real text layer."""
    write_text_pdf(path, letter_lines(94), pages=pages, pagesize=(120.0, 90.0))


def zero_frame_tiff(path: Path) -> None:
    """A baseline TIFF whose only frame is 0 x 0 pixels."""
    entries = [  # tag, type (3=SHORT, 4=LONG), count, value
        (256, 4, 1, 0),  # ImageWidth
        (257, 4, 1, 0),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: min-is-black
        (273, 4, 1, 0),  # StripOffsets (set below)
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, 1),  # RowsPerStrip
        (279, 4, 1, 0),  # StripByteCounts
    ]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_offset
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", 0)  # no next IFD
    path.write_bytes(bytes(out))


def tiff_ifd_loop(path: Path) -> None:
    """A TIFF of one 2x2 frame whose 'next frame' pointer points back at itself."""
    entries = [(256, 3, 1, 2), (257, 3, 1, 2), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 0),
               (277, 3, 1, 1), (278, 3, 1, 2), (279, 4, 1, 4)]
    ifd = 8
    data_offset = ifd + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd) + struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", ifd)  # the loop
    out += b"\x80" * 4
    path.write_bytes(bytes(out))


def page_tree_loop_pdf(path: Path) -> None:
    """The page tree's only child is a node whose child is the root again."""
    path.write_bytes(_pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
    ]))


def reference_loop_pdf(path: Path, in_contents: bool = False) -> None:
    """Objects that are nothing but references to each other (2 -> 3 -> 2): pdfminer used to follow
    them forever. Either the page tree or the page's content stream is such a loop."""
    if in_contents:
        objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>", b"5 0 R", b"4 0 R"]
    else:
        objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"3 0 R", b"2 0 R"]
    path.write_bytes(_pdf_from_objects(objects))


def tiny_png(path: Path) -> None:
    Image.new("L", (2, 2), 255).save(path)


def group_with_bad_page(path: Path) -> None:
    """Page 1 of a two-page scan is fine, page 2 (``GROUP_BAD_PAGE``) is cut short."""
    write_text_image(path, letter_lines(96))
    truncated_png(path.with_name(GROUP_BAD_PAGE))


GROUP_BAD_PAGE = "reply_p2.png"


NON_UTF8_NAME = "лист".encode("cp1251") + b".pdf"  # a Windows-1251 name, as old archives unpack it


def non_utf8_name(path: Path) -> None:
    """A good letter whose file name bytes are not UTF-8 (``path`` only gives the folder)."""
    tmp = write_text_pdf(path.with_name(".tmp-letter.pdf"), letter_lines(97))
    os.rename(os.fsencode(tmp), os.path.join(os.fsencode(path.parent), NON_UTF8_NAME))


def symlink_loop(path: Path) -> None:
    """Two file links pointing at each other, and a folder link pointing at its own parent."""
    other = path.with_name(path.name + ".other")
    path.symlink_to(other.name)
    other.symlink_to(path.name)
    (path.parent / "loop-dir").symlink_to(".", target_is_directory=True)


def fifo(path: Path) -> None:
    """A named pipe with a letter's name: opening it for reading would block forever."""
    os.mkfifo(path)


def unreadable_file(path: Path) -> None:
    """mode 000 - only meaningful when not running as root (root reads anyway)."""
    write_text_pdf(path, letter_lines(95))
    path.chmod(0)


def directory_named_like_a_page(path: Path) -> None:
    """A folder called like a page image: it is a folder, walked like any other, so it must not break grouping."""
    path.mkdir()


@dataclass(frozen=True)
class BadInput:
    name: str
    filename: str
    what: str  # the input or fault, for the reliability table
    write: Callable[[Path], None]
    reason_words: tuple[str, ...]  # every one must appear in the failure reason (case-insensitive)
    status: str = "failed"
    slow: bool = False


BAD_INPUTS: tuple[BadInput, ...] = (
    BadInput("empty", "empty.pdf", "zero-byte file", lambda p: p.write_bytes(b""), ("empty", "0 bytes")),
    BadInput("truncated_pdf", "truncated.pdf", "truncated PDF (cut at 40 %)", truncated_pdf, ("pdf",)),
    BadInput("garbage_pdf", "garbage.pdf", "PDF header followed by garbage", garbage_pdf, ("broken pdf",)),
    BadInput("content_bomb", "content-bomb.pdf", "PDF bomb: 64 KB page whose content stream inflates to 64 MB",
             content_bomb_pdf, ("page 1", "over 16 mb", "pdf bomb")),
    BadInput("form_bomb", "form-bomb.pdf", "PDF bomb hidden in a form XObject", lambda p: content_bomb_pdf(p, in_form=True),
             ("page 1", "over 16 mb", "pdf bomb")),
    BadInput("no_pages", "no-pages.pdf", "PDF with an empty page tree", no_pages_pdf, ("no pages",)),
    BadInput("encrypted_user", "locked.pdf", "encrypted PDF with a user password", encrypted_user_pdf,
             ("encrypted", "password")),
    BadInput("html_as_pdf", "page.pdf", "HTML page renamed .pdf", html_as_pdf, ("html",)),
    BadInput("zip_as_pdf", "archive.pdf", "ZIP archive (e.g. .docx) renamed .pdf", zip_as_pdf, ("zip",)),
    BadInput("truncated_png", "cut.png", "truncated PNG", truncated_png, ("truncated", "png")),
    BadInput("garbage_png", "noise.png", "PNG signature then garbage", garbage_png, ("png",)),
    BadInput("truncated_jpeg", "cut.jpg", "truncated JPEG", truncated_jpeg, ("truncated", "jpeg")),
    BadInput("garbage_jpeg", "noise.jpg", "JPEG headers then garbage instead of image data", garbage_jpeg,
             ("jpeg",)),
    BadInput("bomb_png", "bomb.png", "decompression bomb: 40000x40000 PNG of ~200 KB", bomb_png,
             ("pixels", "limit")),
    BadInput("zero_tiff", "zero.tif", "TIFF whose frame is 0x0 pixels", zero_frame_tiff, ("tiff",)),
    BadInput("tiff_ifd_loop", "ifd-loop.tif", "TIFF whose frame list loops back on itself (one 2x2 frame)",
             tiff_ifd_loop, ("2x2 pixels", "too small")),
    BadInput("reference_loop", "ref-loop.pdf", "PDF whose page tree is a loop of bare references (2 -> 3 -> 2)",
             reference_loop_pdf, ("broken pdf", "loop of references")),
    BadInput("contents_loop", "contents-loop.pdf", "PDF whose page content is a loop of bare references",
             lambda p: reference_loop_pdf(p, in_contents=True), ("broken pdf", "loop of references")),
    BadInput("tiny_png", "tiny.png", "2x2-pixel PNG", tiny_png, ("2x2 pixels", "too small")),
    BadInput("page_tree_loop", "tree-loop.pdf", "PDF whose page tree loops back on itself", page_tree_loop_pdf,
             ("no pages",)),
    BadInput("group_bad_page", "reply_p1.png", "two page images of one letter, the second truncated",
             group_with_bad_page, (GROUP_BAD_PAGE, "truncated")),
    BadInput("non_utf8_name", NON_UTF8_NAME.decode("utf-8", "backslashreplace"),
             "file name in Windows-1251, not UTF-8 (the batch used to crash on it)", non_utf8_name,
             ("not valid utf-8", "rename")),
    BadInput("symlink_loop", "loop.pdf", "symbolic links pointing at each other (and a folder link to its parent)",
             symlink_loop, ("symbolic link", "loop")),
    BadInput("fifo", "pipe.pdf", "named pipe (FIFO) with a letter's name", fifo, ("not a regular file",)),
)
# Processed normally: damage a reader can repair, or protection that does not stop reading.
RECOVERABLE: tuple[BadInput, ...] = (
    BadInput("broken_xref", "bad-xref.pdf", "PDF with a broken xref table and startxref", broken_xref_pdf, (),
             status="processed"),
    BadInput("encrypted_owner", "owner-only.pdf", "encrypted PDF with only an owner password", encrypted_owner_pdf, (),
             status="processed"),
)
# Names that are hard for shells, CSV and terminals; their files are good letters.
ODD_NAMES = ("лист від ради №5.pdf", "with space's \"quotes\".pdf", "new\nline.pdf", "tab\tand ;semicolon.pdf")


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def write_bad_inputs(folder: Path, which: tuple[BadInput, ...] = BAD_INPUTS + RECOVERABLE) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for b in which:
        path = folder / b.filename
        b.write(path)
        out[b.name] = path
    return out


def write_odd_names(folder: Path, start: int = 50) -> list[Path]:
    return [write_text_pdf(folder / name, letter_lines(start + k)) for k, name in enumerate(ODD_NAMES)]


def write_odd_mode_images(folder: Path, i: int = 60) -> list[Path]:
    """Valid scans in the less common pixel formats scanners write: 16-bit grey PNG, 1-bit Group 4 TIFF,
    CMYK JPEG, PNG with an alpha channel, palette PNG."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    tmp = write_text_image(folder / ".base.png", letter_lines(i))
    grey = Image.open(tmp).convert("L")
    tmp.unlink()
    out = {
        "grey16.png": lambda p: Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257).save(p),
        "fax-g4.tif": lambda p: grey.convert("1").save(p, compression="group4"),
        "cmyk.jpg": lambda p: grey.convert("CMYK").save(p, quality=90),
        "alpha.png": lambda p: grey.convert("RGBA").save(p),
        "palette.png": lambda p: grey.convert("P").save(p),
    }
    paths = []
    for name, save in out.items():
        save(folder / name)
        paths.append(folder / name)
    return paths


def is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(path.lstat().st_mode)


# --- a verdict model for the Processor ------------------------------------------------


@lru_cache(maxsize=1)
def verdict_models_dir(cache_dir: Path) -> Path:
    """The project's models dir if it holds a verdict model, else a small model trained once into ``cache_dir``.

    The small model (fitted on 45 corpus passages, no cross-validation) only has to load and
    predict; its quality does not matter for reliability tests. It is a real model, saved and
    verified by the same code as the project's.
    """
    from pipeline.errors import ModelError
    from pipeline.settings import DEFAULT_MODELS_DIR
    from pipeline.stages.verdict import newest_version_dir

    env = os.environ.get("LETTERS_TEST_MODELS")
    for candidate in ([Path(env)] if env else []) + [DEFAULT_MODELS_DIR, cache_dir]:
        try:
            newest_version_dir(candidate)
            from pipeline.stages.verdict import VerdictModel

            VerdictModel.load(candidate)  # verifies the card and library versions
            return candidate
        except ModelError:
            continue
    from collections import defaultdict

    from pipeline.training.card import save_model
    from pipeline.training.verdict import _valid_examples, fit, load_corpus

    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in _valid_examples(load_corpus()):
        by_label[row["verdict"]].append(row)
    rows = [r for label in sorted(by_label) for r in by_label[label][:15]]
    save_model(fit(rows), cache_dir / "verdict" / "v00000000-test",
               {"name": "verdict", "version": "v00000000-test", "description": "small test model", "seed": 0})
    return cache_dir


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        raise SystemExit("usage: python -m tests.badinputs OUT_DIR")
    out = Path(args[0])
    write_good_letters(out, n_pdf=3, n_img=1)
    write_bad_inputs(out)
    write_odd_names(out)
    write_registry(out / "promises.csv")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
