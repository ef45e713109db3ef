"""Ingest: types by content, ids from bytes, page grouping, duplicates, failures recorded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from pipeline.errors import UnsupportedFile
from pipeline.schema import FileKind
from pipeline.stages.ingest import discover, sniff_kind


def _png(path: Path, color: int = 255, size: tuple[int, int] = (40, 30)) -> bytes:
    Image.new("L", size, color).save(path, format="PNG")
    return path.read_bytes()


def _jpeg(path: Path, color: int = 200) -> bytes:
    Image.new("RGB", (40, 30), (color, color, color)).save(path, format="JPEG")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n", FileKind.PDF),
        (b"\x89PNG\r\n\x1a\n....", FileKind.PNG),
        (b"\xff\xd8\xff\xe0", FileKind.JPEG),
        (b"II*\x00", FileKind.TIFF),
        (b"MM\x00*", FileKind.TIFF),
    ],
)
def test_sniff_kind_by_magic_bytes(head: bytes, kind: FileKind) -> None:
    assert sniff_kind(head) == kind


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (b"", "empty"),
        (b"PK\x03\x04rest", "ZIP"),
        (b"<!DOCTYPE html><html>", "HTML"),
        (b"just some notes", "plain text"),
    ],
)
def test_sniff_kind_explains_unsupported(head: bytes, words: str) -> None:
    with pytest.raises(UnsupportedFile, match=words):
        sniff_kind(head)


def test_extension_is_ignored_content_decides(tmp_path: Path) -> None:
    _png(tmp_path / "letter.pdf")  # a PNG named .pdf
    (tmp_path / "fake.png").write_bytes(b"<html><body>not an image</body></html>")
    found = discover(tmp_path)
    assert [letter.kind for letter in found.letters] == [FileKind.PNG]
    assert len(found.failures) == 1
    assert found.failures[0].source_file == "fake.png"
    assert "HTML" in found.failures[0].reason


def test_letter_id_is_sha256_prefix_and_duplicates_collapse(tmp_path: Path) -> None:
    data = _png(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "copy.png").write_bytes(data)
    found = discover(tmp_path)
    sha = hashlib.sha256(data).hexdigest()
    assert [(x.letter_id, x.sha256, x.source_file) for x in found.letters] == [(sha[:16], sha, "a.png")]
    assert found.duplicates == [("sub/copy.png", sha[:16])]


@pytest.mark.parametrize("names", [("scan_p1.jpg", "scan_p2.jpg"), ("scan-1.jpg", "scan-2.jpg"), ("scan_page1.jpg", "scan_page2.jpg")])
def test_page_images_group_in_page_order(tmp_path: Path, names: tuple[str, str]) -> None:
    second = _jpeg(tmp_path / names[1], color=100)
    first = _jpeg(tmp_path / names[0], color=220)
    found = discover(tmp_path)
    assert len(found.letters) == 1
    letter = found.letters[0]
    assert [f.rel_path for f in letter.files] == list(names)
    assert letter.source_file == names[0]
    assert letter.sha256 == hashlib.sha256(first + second).hexdigest()


def test_ids_with_leading_zeros_are_not_page_numbers(tmp_path: Path) -> None:
    _png(tmp_path / "L-001.png", 10)
    _png(tmp_path / "L-002.png", 20)
    assert len(discover(tmp_path).letters) == 2


def test_sidecar_files_and_hidden_files_are_not_letters(tmp_path: Path) -> None:
    (tmp_path / "promises.csv").write_text("promise_id\n")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    _png(tmp_path / "a.png")
    found = discover(tmp_path)
    assert len(found.letters) == 1 and not found.failures
    assert found.sidecars == ["promises.csv"]


def test_empty_and_unreadable_files_fail_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    broken = tmp_path / "dangling.png"
    broken.symlink_to(tmp_path / "nowhere.png")
    reasons = {f.source_file: f.reason for f in discover(tmp_path).failures}
    assert "0 bytes" in reasons["empty.pdf"]
    assert "broken symbolic link" in reasons["dangling.png"]


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    _png(tmp_path / "a.png")
    assert len(discover(tmp_path).letters) == 1
