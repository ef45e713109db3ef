"""Hostile input: every bad file gets a specific, human-readable reason; nothing is lost.

One batch mixes every entry of ``tests.badinputs`` with good letters; the parametrised
tests below read that batch's database and records. Limits (pages, pixels, file size,
OCR timeout) are checked one by one, and a hypothesis test throws arbitrary text through
fields, segmentation and matching.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from pipeline.api import BatchReport, Processor, run_batch
from pipeline.schema import LetterText, PageText, Status, TextSource, Word
from pipeline.settings import Limits, OcrSettings, Settings
from pipeline.stages import ingest
from pipeline.stages.registry import load_registry
from pipeline.store.db import Database
from pipeline.store.tables import LetterRow
from tests import badinputs as bad

PROJECT = Path(__file__).resolve().parents[1]
LETTERS_BIN = PROJECT / ".venv" / "bin" / "letters"
BATCH_TIMEOUT_S = 240  # a hang (e.g. reading a FIFO) must fail the test, not stall CI


@pytest.fixture(scope="session")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


@pytest.fixture(scope="session")
def hostile_settings(models_dir: Path) -> Settings:
    return replace(Settings(), models_dir=models_dir, workers=1)


class _Alarm:
    """Turn a hang into a test failure (SIGALRM in the main thread)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        def boom(*_: object) -> None:
            raise TimeoutError(f"no answer within {self.seconds} s: something hangs")

        self.old = signal.signal(signal.SIGALRM, boom)
        signal.alarm(self.seconds)

    def __exit__(self, *_: object) -> None:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


class Batch:
    def __init__(self, root: Path, report: BatchReport, rows: dict[str, LetterRow], good: list[str]) -> None:
        self.root, self.report, self.rows, self.good = root, report, rows, good


def _letter_rows(db_path: Path) -> dict[str, LetterRow]:
    db = Database(db_path)
    try:
        with db.session() as s:
            return {r.source_file: r for r in s.scalars(select(LetterRow))}
    finally:
        db.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, hostile_settings: Settings) -> Batch:
    root = tmp_path_factory.mktemp("hostile")
    inbox, out = root / "in", root / "out"
    good = [p.name for p in bad.write_good_letters(inbox, n_pdf=3)]
    bad.write_bad_inputs(inbox)
    good += [p.name for p in bad.write_odd_names(inbox)]
    eio = inbox / "eio.pdf"
    eio.symlink_to("/proc/self/mem")  # opens fine, every read fails with EIO: a dying disk, even for root
    registry = bad.write_registry(root / "promises.csv")
    with _Alarm(BATCH_TIMEOUT_S):
        report = run_batch(inbox, registry, out, settings=hostile_settings, workers=1)
    return Batch(root, report, _letter_rows(out / "letters.db"), good)


def _words_in(reason: str | None, words: tuple[str, ...]) -> None:
    assert reason, "a failure must carry a reason"
    for w in words:
        assert w.lower() in reason.lower(), f"{w!r} not in reason {reason!r}"


@pytest.mark.parametrize("case", bad.BAD_INPUTS, ids=lambda b: b.name)
def test_bad_input_fails_with_specific_reason(batch: Batch, case: bad.BadInput) -> None:
    row = batch.rows[case.filename]
    assert row.status == Status.FAILED.value
    _words_in(row.error, case.reason_words)
    assert str(batch.root) not in (row.error or ""), "reasons must not leak machine paths"
    assert {"source_file": case.filename, "reason": row.error} in batch.report.failures


@pytest.mark.parametrize("case", bad.RECOVERABLE, ids=lambda b: b.name)
def test_repairable_damage_is_processed(batch: Batch, case: bad.BadInput) -> None:
    row = batch.rows[case.filename]
    assert row.status in (Status.OK.value, Status.NEEDS_REVIEW.value), row.error
    assert row.text and "МІСЬКА РАДА" in row.text and row.text_source == "text_layer"


def test_symlink_loop_partner_and_folder_link_are_reported(batch: Batch) -> None:
    _words_in(batch.rows["loop.pdf.other"].error, ("symbolic link loop",))
    _words_in(batch.rows["loop-dir"].error, ("symbolic link to a folder", "not followed"))


def test_read_error_is_reported(batch: Batch) -> None:
    _words_in(batch.rows["eio.pdf"].error, ("cannot read file", "input/output error"))


def test_good_letters_and_odd_names_processed_in_the_same_batch(batch: Batch) -> None:
    for name in batch.good:
        row = batch.rows[name]
        assert row.status in (Status.OK.value, Status.NEEDS_REVIEW.value), (name, row.error)
        assert row.text and "МІСЬКА РАДА" in row.text


def test_every_file_has_exactly_one_record(batch: Batch) -> None:
    inbox = batch.root / "in"
    on_disk = {ingest.printable_name(p.name) for p in inbox.iterdir() if p.suffix != ".csv"}
    on_disk -= {bad.GROUP_BAD_PAGE}  # page 2 of a letter
    assert set(batch.rows) == on_disk  # nothing lost, nothing invented
    assert batch.report.letters == len(on_disk)
    assert sum(batch.report.counts.values()) == len(on_disk)
    # the analysts' CSV round-trips every odd name (quotes, newline, tab, Cyrillic) exactly
    csv = pd.read_csv(batch.root / "out" / "letters.csv", dtype=str, keep_default_na=False)
    assert sorted(csv["source_file"]) == sorted(on_disk)
    parquet = pd.read_parquet(batch.root / "out" / "letters.parquet")
    assert sorted(parquet["source_file"]) == sorted(on_disk)


def test_unreadable_file(tmp_path: Path, hostile_settings: Settings) -> None:
    """mode 000 stops reads for ordinary users; root reads anyway, so there the read-error
    path is proven by ``test_read_error_is_reported`` (/proc/self/mem) instead."""
    bad.unreadable_file(tmp_path / "secret.pdf")
    found = ingest.discover(tmp_path)
    if bad.running_as_root():
        assert [x.source_file for x in found.letters] == ["secret.pdf"]  # root: permissions do not apply
    else:
        (failure,) = found.failures
        _words_in(failure.reason, ("permission denied",))


# --- files that change under our feet --------------------------------------------------


def test_file_deleted_or_rewritten_during_the_run(tmp_path: Path, hostile_settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "in"
    a, b, c = bad.write_good_letters(inbox, n_pdf=3)
    registry = bad.write_registry(tmp_path / "promises.csv")
    discover = ingest.discover

    def discover_then_meddle(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - after discovery, before any letter is read
        found = discover(*args, **kwargs)
        a.unlink()
        bad.write_text_pdf(b, bad.letter_lines(77))  # other content, same name
        return found

    monkeypatch.setattr(ingest, "discover", discover_then_meddle)
    report = run_batch(inbox, registry, tmp_path / "out", settings=hostile_settings, workers=1)
    monkeypatch.undo()
    rows = _letter_rows(tmp_path / "out" / "letters.db")
    _words_in(rows[a.name].error, ("disappeared during the run",))
    _words_in(rows[b.name].error, ("changed during the run", "run again"))
    assert rows[c.name].status != Status.FAILED.value
    assert report.counts["failed"] == 2
    # the next run picks up the new content as a new letter; the old one stays recorded as failed
    run_batch(inbox, registry, tmp_path / "out", settings=hostile_settings, workers=1)
    db = Database(tmp_path / "out" / "letters.db")
    with db.session() as s:
        statuses = sorted((r.source_file, r.status) for r in s.scalars(select(LetterRow)))
    db.close()
    assert (b.name, Status.FAILED.value) in statuses
    assert any(name == b.name and status != Status.FAILED.value for name, status in statuses)


# --- limits -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def processor(tmp_path_factory: pytest.TempPathFactory, hostile_settings: Settings) -> Processor:
    return Processor(load_registry(bad.write_registry(tmp_path_factory.mktemp("reg") / "p.csv")), hostile_settings)


def _process_one(path: Path, settings: Settings, processor: Processor) -> tuple[str, str | None]:
    """Discover and process the one letter in path's folder under ``settings`` (limits, OCR)."""
    status, reason, _text = _process_with_text(path, settings, processor)
    return status, reason


def _process_with_text(path: Path, settings: Settings, processor: Processor) -> tuple[str, str | None, str]:
    found = ingest.discover(path.parent, settings.limits)
    if found.failures:
        return Status.FAILED.value, found.failures[0].reason, ""
    (letter,) = found.letters
    proc = copy.copy(processor)  # the loaded model and index, other settings
    proc.settings = settings
    result = proc.process(letter)
    return result.status.value, result.error, result.text.full_text if result.text else ""


def test_limits_have_sane_defaults() -> None:
    lim, ocr = Limits(), OcrSettings()
    assert 50 <= lim.max_file_mb <= 1000 and 100 <= lim.max_pages <= 5000
    assert 50_000_000 <= lim.max_pixels <= 500_000_000  # A4 at 600 dpi (35 Mpx) passes, bombs do not
    assert 10 <= ocr.timeout_s <= 600


def test_max_file_size_enforced(tmp_path: Path, hostile_settings: Settings, processor: Processor) -> None:
    (tmp_path / "in").mkdir()
    bad.write_text_pdf(tmp_path / "in" / "big.pdf", bad.letter_lines(1))
    s = replace(hostile_settings, limits=replace(hostile_settings.limits, max_file_mb=0.01))
    status, reason = _process_one(tmp_path / "in" / "big.pdf", s, processor)
    assert status == "failed"
    _words_in(reason, ("over the 0.01 MB limit",))


@pytest.mark.slow
def test_thousand_pages_over_limit_then_accepted_when_raised(tmp_path: Path, hostile_settings: Settings, processor: Processor) -> None:
    (tmp_path / "in").mkdir()
    pdf = tmp_path / "in" / "long.pdf"
    bad.thousand_page_pdf(pdf)
    status, reason = _process_one(pdf, hostile_settings, processor)  # default max_pages 500
    assert status == "failed"
    _words_in(reason, ("1000 pages", "over the limit of 500"))
    raised = replace(hostile_settings, limits=replace(hostile_settings.limits, max_pages=1000))
    status, reason = _process_one(pdf, raised, processor)
    assert status != "failed", reason


def test_max_pixels_enforced_for_images_and_rendered_pdf_pages(tmp_path: Path, hostile_settings: Settings, processor: Processor) -> None:
    from reportlab.pdfgen import canvas

    s = replace(hostile_settings, limits=replace(hostile_settings.limits, max_pixels=300_000))
    (tmp_path / "a").mkdir()
    bad.write_text_image(tmp_path / "a" / "page.png", bad.letter_lines(2))  # 1240 x 580
    status, reason = _process_one(tmp_path / "a" / "page.png", s, processor)
    assert status == "failed"
    _words_in(reason, ("pixels", "over the limit of 300,000"))
    # a scanned PDF page (no text layer) is refused before it is rendered
    (tmp_path / "b").mkdir()
    c = canvas.Canvas(str(tmp_path / "b" / "scan.pdf"), pagesize=(595, 842))
    c.drawInlineImage(Image.new("L", (60, 80), 128), 0, 0, 595, 842)
    c.save()
    status, reason = _process_one(tmp_path / "b" / "scan.pdf", s, processor)
    assert status == "failed"
    _words_in(reason, ("page 1 at 300 dpi", "2479x3508", "over the limit"))


def test_max_pages_enforced_for_tiff_frames(tmp_path: Path, hostile_settings: Settings, processor: Processor) -> None:
    (tmp_path / "in").mkdir()
    frames = [Image.new("L", (50, 50), v) for v in (10, 120, 240)]
    frames[0].save(tmp_path / "in" / "multi.tif", save_all=True, append_images=frames[1:])
    s = replace(hostile_settings, limits=replace(hostile_settings.limits, max_pages=2))
    status, reason = _process_one(tmp_path / "in" / "multi.tif", s, processor)
    assert status == "failed"
    _words_in(reason, ("3 frames", "over the limit of 2"))


@pytest.mark.slow
def test_uncommon_pixel_formats_are_read(tmp_path: Path, hostile_settings: Settings, processor: Processor) -> None:
    for path in bad.write_odd_mode_images(tmp_path / "in"):
        (tmp_path / path.stem).mkdir()
        status, reason, text = _process_with_text(path.rename(tmp_path / path.stem / path.name), hostile_settings,
                                                  processor)
        assert status != "failed", (path.name, reason)
        assert "МІСЬКА РАДА" in text, (path.name, text[:200])


def _tesseract_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "tesseract" in p.name()]


@pytest.mark.slow
def test_ocr_timeout_kills_tesseract(tmp_path: Path, hostile_settings: Settings, processor: Processor,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from pipeline.engines import libtesseract, tesseract
    from pipeline.errors import OcrTimeout

    # a full A4 page of text at 300 dpi keeps Tesseract busy for seconds; 0.2 s must kill it
    lines = bad.letter_lines(4) * 8
    page = Image.new("L", (2480, 3508), 255)
    bad.write_text_image(tmp_path / "lines.png", lines)
    page.paste(Image.open(tmp_path / "lines.png").resize((2480, 3400)), (0, 50))
    for engine in ("program", "library"):  # the program is killed; the library's deadline stops it
        monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, engine)
        started = time.monotonic()
        with pytest.raises(OcrTimeout, match="took longer than 0.2 s and was (killed|stopped)"):
            tesseract.image_to_tsv(page, timeout_s=0.2)
        assert time.monotonic() - started < 10
    assert _tesseract_children() == []
    # in the pipeline the letter fails naming the page and the configured limit
    (tmp_path / "in").mkdir()
    page.save(tmp_path / "in" / "scan.png")
    s = replace(hostile_settings, ocr=replace(hostile_settings.ocr, timeout_s=0.2), ocr_cache_db=None)
    status, reason = _process_one(tmp_path / "in" / "scan.png", s, processor)
    assert status == "failed"
    assert "OCR of page 1 exceeded the 0.2 s per-page limit" in (reason or ""), reason
    assert _tesseract_children() == []


# --- the command line ---------------------------------------------------------------------


@pytest.mark.slow
def test_cli_run_on_hostile_folder_exits_0(tmp_path: Path, models_dir: Path) -> None:
    inbox = tmp_path / "in"
    bad.write_good_letters(inbox, n_pdf=2)
    bad.write_bad_inputs(inbox)
    bad.write_odd_names(inbox)
    registry = bad.write_registry(tmp_path / "promises.csv")
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [str(LETTERS_BIN) if LETTERS_BIN.exists() else sys.executable, *([] if LETTERS_BIN.exists() else
         ["-m", "pipeline.cli"]), "run", str(inbox), "--promises", str(registry), "--out", str(tmp_path / "out"),
         "--models", str(models_dir), "--workers", "2"],
        capture_output=True, text=True, timeout=BATCH_TIMEOUT_S, env=env, cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "failed: pipe.pdf: not a regular file" in proc.stdout
    assert "encrypted PDF" in proc.stdout
    rows = _letter_rows(tmp_path / "out" / "letters.db")
    expected_failed = {b.filename for b in bad.BAD_INPUTS}
    assert {n for n, r in rows.items() if r.status == "failed"} == expected_failed | {"loop.pdf.other", "loop-dir"}


# --- arbitrary text through fields, segmentation and matching ------------------------------


def letter_text_from(raw: str, ocr: bool = False) -> LetterText:
    """A LetterText whose pages are ``raw`` split at form feeds, with one Word per token."""
    pages, offset = [], 0
    for k, page_text in enumerate(raw.split("\f")):
        words, pos, line = [], 0, 0
        for token in page_text.replace("\n", " \n ").split(" "):
            if token == "\n":
                line += 1
            elif token:
                words.append(Word(token, 10.0 * pos, 12.0 * line, 8.0 * len(token), 10.0, 70.0 if ocr else None,
                                  line, offset + pos, offset + pos + len(token)))
            pos += len(token) + 1
        source = TextSource.OCR if ocr else TextSource.TEXT_LAYER
        pages.append(PageText(k + 1, page_text, source, 600.0, 800.0, words, ocr_confidence=70.0 if ocr else None))
        offset += len(page_text) + 1
    return LetterText("fuzz", pages)


# Text that looks like letters: Cyrillic, digits, date and number punctuation, line and page breaks.
_ALPHABET = st.sampled_from(list("абвгґдеєжзиіїйклмнопрстуфхцчшщьюяАБВГДЕЄІЇКМНОПРСТУ0123456789 .,:;/-№«»'\"\n\n\f"))
_letterish = st.lists(_ALPHABET, max_size=600).map("".join)
_anything = st.text(max_size=400)
_lines = st.lists(st.sampled_from([
    "МІСЬКА РАДА", "м. Полтава", "12.03.2025 № 01-12/345", "На № 7 від 31.02.2025", "31.13.2024",
    "Щодо ремонту доріг повідомляємо.", "Роботи завершено.", "1. Щодо парку", "Міський голова    Іван ПЕТРЕНКО",
    "від 29.02.2023", "99.99.9999 №", "", "\x00", "\u202e", "x" * 3000,
]), max_size=25).map("\n".join)


@pytest.fixture(scope="module")
def promise_index(tmp_path_factory: pytest.TempPathFactory) -> object:
    from pipeline.stages.match import PromiseIndex

    return PromiseIndex.build(load_registry(bad.write_registry(tmp_path_factory.mktemp("reg") / "p.csv")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(raw=st.one_of(_letterish, _anything, _lines), ocr=st.booleans())
def test_fields_segment_match_never_raise_on_any_text(raw: str, ocr: bool, promise_index: object) -> None:
    from pipeline.stages.fields import extract_fields
    from pipeline.stages.match import match_letter
    from pipeline.stages.segment import segment

    text = letter_text_from(raw, ocr)
    full = text.full_text
    fields = extract_fields(text)
    for name in ("letter_date", "request_date"):
        value = getattr(fields, name).value
        if value is not None:
            assert dt.date.fromisoformat(value).isoformat() == value
    for _name, fv in fields.items():
        if fv.start is not None and fv.end is not None:
            assert 0 <= fv.start <= fv.end <= len(full)
    passages = segment(text)
    for p in passages:
        assert full[p.start:p.end] == p.text and 1 <= p.page <= len(text.pages)
    for m in match_letter(text, fields, promise_index):  # type: ignore[arg-type]
        assert 0.0 <= m.score <= 1.0 and full[m.passage.start:m.passage.end] == m.passage.text



_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none())


@st.composite
def _odd_letter_text(draw: st.DrawFn) -> LetterText:
    """Structurally odd LetterText: empty pages, words whose spans and boxes disagree with the text,
    NaN/None confidences, an OCR page next to a text-layer page."""
    pages = []
    for k in range(draw(st.integers(0, 3))):
        text = draw(st.one_of(_letterish, _lines, st.just("")))
        words = [Word(draw(st.text(max_size=8)), *(draw(st.floats(-1e6, 1e6)) for _ in range(4)),
                      draw(_floats), draw(st.integers(-2, 50)), a, a + draw(st.integers(-3, 30)))
                 for a in draw(st.lists(st.integers(-5, 700), max_size=12))]
        pages.append(PageText(k + 1, text, draw(st.sampled_from([TextSource.OCR, TextSource.TEXT_LAYER])),
                              draw(st.floats(0, 5000)), draw(st.floats(0, 5000)), words,
                              ocr_confidence=draw(_floats), low_confidence_share=draw(_floats)))
    return LetterText("odd", pages)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(text=_odd_letter_text())
def test_fields_segment_match_survive_malformed_letter_text(text: LetterText, promise_index: object) -> None:
    from pipeline.stages.fields import extract_fields
    from pipeline.stages.match import match_letter
    from pipeline.stages.segment import segment

    fields = extract_fields(text)
    for name in ("letter_date", "request_date"):
        value = getattr(fields, name).value
        if value is not None:
            dt.date.fromisoformat(value)
    segment(text)
    match_letter(text, fields, promise_index)  # type: ignore[arg-type]
