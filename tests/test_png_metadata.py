"""PNG scans whose metadata chunks are huge: the pixels are read, the text metadata ignored.

Pillow refuses a PNG with a text chunk that inflates past 1 MB or with over 64 MB of text in
all, as if the whole file were corrupt; a scanner or an editor that stuffs its metadata there
must not cost the letter.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from pipeline.schema import Status
from pipeline.settings import Settings
from pipeline.stages.text import open_image
from tests import badinputs as bad


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def _with_chunks(png: bytes, before_idat: list[bytes], after_idat: list[bytes] = ()) -> bytes:
    ihdr_end = 8 + 25  # signature, then the 13-byte IHDR chunk with its header and CRC
    iend = png.rindex(b"IEND") - 4
    return png[:ihdr_end] + b"".join(before_idat) + png[ihdr_end:iend] + b"".join(after_idat) + png[iend:]


def _scan(tmp_path: Path) -> bytes:
    return bad.write_text_image(tmp_path / "clean.png", bad.letter_lines(2)).read_bytes()


HUGE = {
    # 100 MB of text in one zTXt chunk (about 100 KB on disk)
    "ztxt_100mb": lambda: [_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"\0" * 100_000_000, 9))],
    # 80 chunks of 0.9 MB each: 72 MB of text, over Pillow's 64 MB for all text chunks
    "many_text_chunks": lambda: [_chunk(b"zTXt", f"k{i}".encode() + b"\0\0" + zlib.compress(b"a" * 900_000, 9))
                                 for i in range(80)],
    # an iTXt (compressed, international) of 50 MB
    "itxt_50mb": lambda: [_chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + zlib.compress(b" " * 50_000_000, 9))],
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_png_with_huge_text_chunks_opens_with_its_pixels(tmp_path: Path, name: str) -> None:
    clean = _scan(tmp_path)
    path = tmp_path / f"{name}.png"
    path.write_bytes(_with_chunks(clean, HUGE[name](), [_chunk(b"tEXt", b"Software\0scanner")]))
    with pytest.raises(ValueError, match="MAX_TEXT"):  # what Pillow alone does with it
        Image.open(path).load()
    with open_image(path) as img, Image.open(io.BytesIO(clean)) as ref:
        assert img.size == ref.size and img.info.get("dpi") == ref.info.get("dpi")
        assert img.tobytes() == ref.tobytes()


def test_letter_in_a_png_with_a_100mb_ztxt_is_processed(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from pipeline.api import Processor
    from pipeline.stages import ingest
    from pipeline.stages.registry import load_registry

    clean = _scan(tmp_path)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "scan.png").write_bytes(_with_chunks(clean, HUGE["ztxt_100mb"]()))
    models = bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))
    settings = Settings(models_dir=models)
    (letter,) = ingest.discover(inbox, settings.limits).letters
    result = Processor(load_registry(bad.write_registry(tmp_path / "p.csv")), settings).process(letter)
    assert result.status != Status.FAILED, result.error
    assert "МІСЬКА РАДА" in result.text.full_text.upper()
