"""Tesseract read in-process through its library: the same words as the program, its deadline,
silence on the terminal, and the program taking over where the library cannot read. Real
Tesseract on pages rendered here."""

from __future__ import annotations

import multiprocessing
import shutil
import threading
from pathlib import Path

import psutil
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.engines import libtesseract, tesseract
from pipeline.errors import OcrError, OcrTimeout

pytestmark = [
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed"),
    pytest.mark.skipif(not libtesseract.available(), reason="libtesseract does not load here"),
]

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LANGUAGES = "ukr+rus"
# our own sentences
LINES = [
    "Управління житлово-комунального господарства",
    "На Ваш запит від 12.03.2025 № 4-17/208 повідомляємо,",
    "що у 2025 році відремонтовано 9 дитячих майданчиків із 15.",
    "Роботи на решті об'єктів тривають.",
]


def _page(mode: str = "L", lines: list[str] = LINES) -> Image.Image:
    font = ImageFont.truetype(str(FONT), 42)
    img = Image.new("L", (1900, 160 + 75 * len(lines)), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((100, 80 + 75 * i), line, font=font, fill=0)
    return img if mode == "L" else img.point(lambda v: 255 if v > 128 else 0).convert("1")


def _tesseract_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True)
            if "tesseract" in p.name() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("mode", ["L", "1"])
@pytest.mark.parametrize("dpi", [300, None])
def test_the_library_reads_the_words_the_program_reads(mode: str, dpi: int | None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(mode)
    in_process = tesseract.image_to_tsv(page, LANGUAGES, 3, dpi=dpi)
    monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, "program")
    by_program = tesseract.image_to_tsv(page, LANGUAGES, 3, dpi=dpi)
    assert in_process == by_program
    assert "майданчиків" in [w.text for w in in_process]


# our own sentences, enough of them for orientation detection to decide
_TALL = LINES + [
    "Кошторисна вартість робіт становить 1 250 тис. грн.",
    "Відповідальним виконавцем визначено відділ капітального будівництва.",
    "Інформацію про хід робіт буде надано додатково.",
    "Просимо врахувати зазначене під час планування бюджету.",
]


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_orientation_is_detected_in_this_process_as_the_program_detects_it(
        turn: int, monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(lines=_TALL).rotate(turn, expand=True)  # counter-clockwise
    with monkeypatch.context() as m:
        def no_program(*args: object, **kwargs: object) -> str:
            raise AssertionError("the program was run")

        m.setattr(tesseract, "_run_on_image", no_program)
        in_process = tesseract.detect_orientation(page, dpi=300)
    monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, "program")
    by_program = tesseract.detect_orientation(page, dpi=300)
    assert in_process == by_program
    assert in_process is not None and in_process.rotate == turn and in_process.script == "Cyrillic"


def test_a_page_too_empty_to_orient_is_none_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    blank = Image.new("L", (1200, 1600), 255)
    assert tesseract.detect_orientation(blank, dpi=300) is None
    monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, "program")
    assert tesseract.detect_orientation(blank, dpi=300) is None


def test_pages_are_read_in_this_process_by_one_engine_set_up_once() -> None:
    key = (LANGUAGES, 3, ())
    with tesseract.started_ahead(LANGUAGES, 3):
        assert _tesseract_children() == []  # no program waits for the page
        first = tesseract.image_to_tsv(_page(), LANGUAGES, 3, dpi=300)
    engine = libtesseract.reader(key)
    second = tesseract.image_to_tsv(_page(lines=LINES[:2]), LANGUAGES, 3, dpi=300)
    assert libtesseract.reader(key) is engine
    assert len(first) > len(second) > 5  # the first page's words do not stay behind


def test_a_page_over_its_time_is_stopped_by_the_deadline_and_the_engine_reads_on() -> None:
    with pytest.raises(OcrTimeout, match="longer than 0.01 s"):
        tesseract.image_to_tsv(_page(), LANGUAGES, 3, dpi=300, timeout_s=0.01)
    words = tesseract.image_to_tsv(_page(), LANGUAGES, 3, dpi=300, timeout_s=60)
    assert "майданчиків" in [w.text for w in words]


def test_the_library_says_nothing_on_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    # an engine of its own (not this thread's), so its models load, and print, under capture
    engine = libtesseract.Reader((LANGUAGES, 6, ()))
    try:
        blank_margin = Image.new("L", (1900, 900), 255)
        blank_margin.paste(_page(), (0, 400))
        engine.tsv(blank_margin, 300, 60)
        engine.tsv(Image.new("L", (800, 600), 255), None, 60)  # no words, no resolution
    finally:
        engine.close()
    with pytest.raises(libtesseract.LibraryUnavailable):
        libtesseract.Reader(("no_such_language", 3, ()))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_a_language_the_library_cannot_load_is_read_by_the_program_which_says_why() -> None:
    with pytest.raises(OcrError, match="tesseract failed"):
        tesseract.image_to_tsv(_page(), "no_such_language", 3, dpi=300)


def test_without_the_library_the_program_reads_the_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = tesseract.image_to_tsv(_page(), LANGUAGES, 3, dpi=300)
    monkeypatch.setattr(libtesseract, "_library", lambda: None)
    assert not libtesseract.available()
    with pytest.raises(libtesseract.LibraryUnavailable):
        libtesseract.Reader((LANGUAGES, 3, ()))
    with tesseract.started_ahead(LANGUAGES, 3, ("preserve_interword_spaces=0",)):
        assert len(_tesseract_children()) == 1  # the program, started ahead of its page
        words = tesseract.image_to_tsv(_page(), LANGUAGES, 3, dpi=300, config=("preserve_interword_spaces=0",))
    assert words == expected


def test_program_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, "program")
    assert not libtesseract.available()
    with pytest.raises(libtesseract.LibraryUnavailable):
        libtesseract.reader((LANGUAGES, 3, ()))


def _read_after_fork(key: libtesseract.Key, out: multiprocessing.queues.Queue[int],
                     real: type[libtesseract.Reader]) -> None:
    libtesseract.Reader = real  # type: ignore[misc]  # the child sets its engines up as usual
    out.put(len(tesseract.image_to_tsv(_page(), key[0], key[1], dpi=300, config=key[2])))


def test_a_worker_forked_while_its_parent_sets_an_engine_up_sets_up_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine being set up belongs to a thread the fork does not copy: never waited for."""
    real = libtesseract.Reader
    go_on = threading.Event()

    class SlowToSetUp(real):  # type: ignore[misc, valid-type]
        def __init__(self, key: libtesseract.Key) -> None:
            go_on.wait(60)  # in Python, not in Tesseract: no lock of the library is held at the fork
            super().__init__(key)

    monkeypatch.setattr(libtesseract, "Reader", SlowToSetUp)
    key: libtesseract.Key = (LANGUAGES, 4, ())
    libtesseract.set_up_ahead(key)  # unfinished when the fork comes
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_read_after_fork, args=(key, out, real))
    child.start()
    try:
        child.join(60)
        assert child.exitcode == 0  # None: it waited for the parent's engine, forever
        assert out.get(timeout=5) > 10
    finally:
        go_on.set()
        if child.is_alive():
            child.kill()
    assert libtesseract.reader(key).key == key  # the parent's own, set up once let go on


def test_the_version_is_the_programs() -> None:
    assert tesseract.version().split()[-1] == libtesseract.version()


def test_the_bench_compares_orientation_both_ways_on_an_upside_down_page(tmp_path: Path) -> None:
    from pipeline.bench.run import BenchConfig, run_bench

    res = run_bench(BenchConfig(folder=tmp_path, quick=True), ("osd",), echo=lambda _: None)["osd"]
    assert res["same_result"] is True and res["rotate"] == 180  # both ways see it upside down
    assert res["page_rotation"] == 180  # and the page is read turned upright
    assert res["osd_in_process_s"] > 0 and res["osd_program_s"] > 0
