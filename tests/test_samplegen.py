"""The sample generator: file types, page counts, text layers, readability, and the committed raw_letters/."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pdfplumber
import pytest
from PIL import Image

from pipeline import samplegen
from pipeline.metrics import cer
from pipeline.stages.registry import load_registry

RAW = Path(__file__).resolve().parent.parent / "raw_letters"

PAGE1 = [
    "ПОЛІСЬКА МІСЬКА РАДА",
    "11000, м. Поліськ, вул. Тестова, 5, тел. (000) 11-22-33",
    "",
    "03.02.2016 № 07-11/345",
    "На № 12 від 20.01.2016",
    "",
    "Громадська організація «Монітор обіцянок»",
    "",
    "Міська рада повідомляє, що ремонт мосту через річку Смолянку завершено 15 грудня 2015 року.",
    "",
    "Секретар міської ради          Петро КРАВЕЦЬ",
]
PAGE2 = [
    "Додатково повідомляємо, що на ремонт витрачено 2,4 млн гривень із міського бюджету.",
    "Вик. Марченко 11-22-44",
]


def _magic(path: Path) -> bytes:
    return path.read_bytes()[:8]


def test_sample_data_is_consistent() -> None:
    data = samplegen.load_sample_data()
    letters = data["letters"]
    ids = {p["promise_id"] for p in data["promises"]}
    assert len(letters) >= 8
    assert len({lt["letter_id"] for lt in letters}) == len(letters)
    for lt in letters:
        text = samplegen.letter_text(lt)
        for p in lt["gold"]["promises"]:
            assert p["promise_id"] in ids, p
            assert p["evidence"] in text, (lt["letter_id"], p["evidence"])
            assert p["verdict"] in ("fulfilled", "in_progress", "not_fulfilled")
        assert set(samplegen.GOLD_KEYS) - {"letter_id"} <= set(lt["gold"])
    counts = [len(lt["gold"]["promises"]) for lt in letters]
    assert 0 in counts and max(counts) >= 2
    assert sum(lt["gold"]["language"] == "ru" for lt in letters) >= 2


def test_layout_refuses_overflowing_page() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        samplegen.layout_page(["слово " * 30] * 80)


def test_signature_line_is_split_left_and_right() -> None:
    layout = samplegen.layout_page(PAGE1)
    pos = next(r for r in layout.runs if r.text == "Секретар міської ради")
    name = next(r for r in layout.runs if r.text == "Петро КРАВЕЦЬ")
    assert pos.y == name.y == layout.signature_y
    assert pos.x < samplegen.PAGE_W / 2 < name.x


def test_style_moves_recipient_right_indents_paragraphs_and_rules_the_head() -> None:
    plain = samplegen.layout_page(PAGE1)
    style = samplegen.LayoutStyle(family="sans", indent_mm=12.5, recipient_right=True, rule=True)
    styled = samplegen.layout_page(PAGE1, style=style)

    def first(layout: samplegen.PageLayout, prefix: str) -> samplegen.TextRun:
        return next(r for r in layout.runs if r.text.startswith(prefix))

    assert first(plain, "Громадська").x == first(plain, "03.02.2016").x
    assert first(styled, "Громадська").x > samplegen.PAGE_W / 2 - 40
    assert first(styled, "Міська рада").x - first(styled, "03.02.2016").x == pytest.approx(12.5 * samplegen.MM)
    assert first(styled, "03.02.2016").font == "sans"
    assert not plain.rules and len(styled.rules) == 1
    # the rule sits between the letterhead and the date line
    assert first(styled, "11000").y < styled.rules[0][1] < first(styled, "03.02.2016").y


def test_text_pdf_has_cyrillic_text_layer(tmp_path: Path) -> None:
    out = tmp_path / "t.pdf"
    samplegen.write_text_pdf([PAGE1, PAGE2], out)
    assert _magic(out).startswith(b"%PDF")
    with pdfplumber.open(out) as pdf:
        assert len(pdf.pages) == 2
        text = "\n".join(p.extract_text() or "" for p in pdf.pages)
    for word in ("ПОЛІСЬКА", "Смолянку", "07-11/345", "КРАВЕЦЬ", "гривень"):
        assert word in text


def test_scanned_pdf_is_image_only(tmp_path: Path) -> None:
    out = tmp_path / "s.pdf"
    samplegen.write_scanned_pdf([PAGE1, PAGE2], out, dpi=100, seed=1)
    assert _magic(out).startswith(b"%PDF")
    with pdfplumber.open(out) as pdf:
        assert len(pdf.pages) == 2
        for page in pdf.pages:
            assert not page.chars and len(page.images) == 1
    assert b"/DCTDecode" in out.read_bytes()  # JPEG inside, not raw pixels


def test_mixed_pdf_has_one_text_page_and_one_image_page(tmp_path: Path) -> None:
    out = tmp_path / "m.pdf"
    samplegen.write_mixed_pdf([PAGE1, PAGE2], out, dpi=100)
    with pdfplumber.open(out) as pdf:
        p1, p2 = pdf.pages
        assert "Смолянку" in (p1.extract_text() or "") and not p1.images
        assert not p2.chars and len(p2.images) == 1
    with pytest.raises(ValueError):
        samplegen.write_mixed_pdf([PAGE1], tmp_path / "one.pdf")


def test_images_have_right_types_and_size(tmp_path: Path) -> None:
    png, jpg, tif = tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "c.tif"
    samplegen.write_image(PAGE1, png, fmt="PNG", noise=0.2, skew_deg=0.5)
    samplegen.write_image(PAGE1, jpg, fmt="JPEG", dpi=150, noise=0.2, stamp=True)
    samplegen.write_tiff([PAGE1, PAGE2], tif, dpi=150)
    assert _magic(png) == b"\x89PNG\r\n\x1a\n"
    assert _magic(jpg)[:3] == b"\xff\xd8\xff"
    assert _magic(tif)[:4] in (b"II*\x00", b"MM\x00*")
    with Image.open(png) as im:
        assert im.size == (2480, 3508)
    with Image.open(jpg) as im:
        assert im.mode == "RGB"  # the blue stamp keeps colour
        px = np.asarray(im.convert("RGB"), dtype=np.int16)
        assert ((px[..., 2] - px[..., 0]) > 40).any()  # some clearly blue pixels
    with Image.open(tif) as im:
        assert im.n_frames == 2 and im.mode == "1"
    with pytest.raises(ValueError):
        samplegen.write_image(PAGE1, tmp_path / "x.gif", fmt="GIF")


def test_rendering_is_deterministic_for_a_seed() -> None:
    a = samplegen.render_page_image(PAGE1, dpi=72, noise=0.5, skew_deg=0.8, seed=3)
    b = samplegen.render_page_image(PAGE1, dpi=72, noise=0.5, skew_deg=0.8, seed=3)
    c = samplegen.render_page_image(PAGE1, dpi=72, noise=0.5, skew_deg=0.8, seed=4)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_sample_registry_loads() -> None:
    promises = load_registry(RAW / "promises.csv")
    assert len(promises) >= 12
    assert {p.lang for p in promises} == {"uk", "ru"}
    gold_ids = {
        p["promise_id"] for line in (RAW / "gold.jsonl").open(encoding="utf-8") for p in json.loads(line)["promises"]
    }
    assert gold_ids <= {p.promise_id for p in promises}


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_committed_raw_letters_equal_a_fresh_generation(tmp_path: Path) -> None:
    written = samplegen.make_samples(tmp_path)
    fresh, committed = _digest(tmp_path), _digest(RAW)
    assert sorted(fresh) == sorted(committed)
    assert {str(p.relative_to(tmp_path)) for p in written} == set(fresh)
    for name in ("gold.jsonl", "promises.csv", "manifest.csv", *[n for n in fresh if n.startswith("letters/")]):
        assert (tmp_path / name).read_text(encoding="utf-8") == (RAW / name).read_text(encoding="utf-8"), name
    # Rendering is deterministic with the pinned libraries; a mismatch means: regenerate raw_letters/
    assert fresh == committed, "run: .venv/bin/python -m pipeline.samplegen raw_letters --clean"
    sizes = [p.stat().st_size for p in written]
    assert max(sizes) < 400_000 and sum(sizes) < 2_500_000


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_tesseract_reads_a_rendered_png(tmp_path: Path) -> None:
    png = tmp_path / "scan.png"
    samplegen.write_image(PAGE1, png, fmt="PNG", noise=0.3, skew_deg=0.7, seed=11)
    res = subprocess.run(["tesseract", str(png), "-", "-l", "ukr+rus"], capture_output=True, text=True, check=True)
    assert cer("\n".join(PAGE1), res.stdout) < 0.05, res.stdout


def test_clean_refuses_a_folder_that_holds_no_sample_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    assert samplegen.main([str(tmp_path), "--clean"]) == 2
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert "refuses" in capsys.readouterr().err
