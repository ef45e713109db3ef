"""A long scanned PDF read by page ranges on two workers gives the same letter as one worker:
the same text in the same page order, one record. Real Tesseract on a generated 6-page scan."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pipeline.executors import iter_results
from pipeline.pagesplit import PageRange, PagesResult, finish_letter, plan, reassemble, split
from pipeline.processor import Processor
from pipeline.samplegen import load_sample_data, write_sample_registry, write_scanned_pdf, write_text_pdf
from pipeline.schema import Letter, LetterResult, PageText, Status, TextSource
from pipeline.settings import Settings
from pipeline.stages import ingest
from pipeline.stages.registry import load_registry
from tests import badinputs

LONG = "long-scan.pdf"
PAGES = 6


def sample_pages(n: int) -> list[list[str]]:
    """``n`` different invented pages (the project's samples), so a page out of order shows."""
    pages = [p for letter in load_sample_data()["letters"] for p in letter["pages"]]
    assert len(pages) >= n
    return pages[:n]


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[Path, Path, Settings]:
    folder = tmp_path_factory.mktemp("split") / "in"
    folder.mkdir()
    write_scanned_pdf(sample_pages(PAGES), folder / LONG, dpi=200, seed=3)
    data = load_sample_data()
    write_text_pdf(data["letters"][0]["pages"], folder / "short.pdf")  # a letter read whole beside it
    registry = write_sample_registry(folder.parent / "promises.csv", data["promises"])
    models = badinputs.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))
    return folder, registry, replace(Settings(), models_dir=models, reuse_ocr=False)


def _letters(folder: Path, settings: Settings) -> list[Letter]:
    found = ingest.discover(folder, settings.limits)
    assert not found.failures
    return found.letters


def test_a_long_scan_is_cut_into_ranges_that_cover_every_page_once(inbox) -> None:  # noqa: ANN001
    folder, _, settings = inbox
    letters = _letters(folder, settings)
    long = next(x for x in letters if x.source_file == LONG)
    short = next(x for x in letters if x.source_file != LONG)
    assert split(long, 1) is None and split(short, 2) is None  # one worker, or a short born-digital letter: whole
    parts = split(long, 2)
    assert parts and len(parts) > 1
    assert [p.first for p in parts] == sorted(p.first for p in parts) and parts[0].first == 1
    assert parts[-1].last is None  # the last range reads to the end, whatever the count
    covered = [n for p in parts[:-1] for n in range(p.first, p.last + 1)] + list(range(parts[-1].first, PAGES + 1))
    assert covered == list(range(1, PAGES + 1))
    tasks = plan(letters, 2)
    assert sum(isinstance(t, PageRange) for t in tasks) == len(parts) and short in tasks


def _summary(r: LetterResult) -> tuple:
    return (r.letter_id, r.status, r.error, r.text.full_text if r.text else None,
            [(p.page_no, p.source, p.ocr_confidence, [(w.text, w.start, w.end) for w in p.words]) for p in r.text.pages]
            if r.text else None,
            r.fields.values() if r.fields else None,
            [(u.promise_id, u.match.passage.start, u.suggestion.verdict if u.suggestion else None) for u in r.updates])


@pytest.mark.slow
def test_two_workers_read_a_long_scan_by_ranges_into_the_same_letter(inbox) -> None:  # noqa: ANN001
    folder, registry, settings = inbox
    letters = _letters(folder, settings)
    promises = load_registry(registry)
    one = {r.letter_id: _summary(r) for r in iter_results(letters, promises, settings, 1)}
    two_results = list(iter_results(letters, promises, settings, 2))
    assert len(two_results) == len(letters)  # one result per letter, not one per range
    two = {r.letter_id: _summary(r) for r in two_results}
    assert two == one
    long = next(r for r in two_results if r.source_file == LONG)
    assert long.status != Status.FAILED, long.error
    assert [p.page_no for p in long.text.pages] == list(range(1, PAGES + 1))
    assert all(p.source == TextSource.OCR for p in long.text.pages)
    # every page's own words, in page order: the first words of page 2 come after all of page 1
    starts = [p.words[0].start for p in long.text.pages if p.words]
    assert starts == sorted(starts) and len(starts) == PAGES


@pytest.mark.slow
def test_run_batch_with_two_workers_records_the_long_scan_once(inbox, tmp_path: Path) -> None:  # noqa: ANN001
    from pipeline.api import run_batch

    folder, registry, settings = inbox
    texts = {}
    for n in (1, 2):
        out = tmp_path / f"out-{n}"
        report = run_batch(folder, registry, out, out / "letters.db", settings, workers=n)
        assert report.letters == 2 and report.pages == PAGES + 1
        rows = pd.read_csv(out / "letters.csv")
        assert len(rows) == 2 and list(rows["source_file"]).count(LONG) == 1
        lid = rows.loc[rows["source_file"] == LONG, "letter_id"].iloc[0]
        texts[n] = (out / "text" / f"{lid}.txt").read_text(encoding="utf-8")
    assert texts[1] == texts[2] and texts[1].count("\f") == PAGES - 1


# --- joining ranges, without OCR -------------------------------------------------------------


def _page(no: int, text: str) -> PageText:
    from pipeline.schema import Word

    return PageText(no, text, TextSource.OCR, 100, 100, [Word(text, 0, 0, 10, 10, 90.0, 0, 0, len(text))], 90.0)


@pytest.fixture(scope="module")
def processor(inbox) -> Processor:  # noqa: ANN001
    _, registry, settings = inbox
    return Processor(load_registry(registry), settings)


def test_the_first_failing_range_in_page_order_fails_the_letter(inbox, processor: Processor) -> None:  # noqa: ANN001
    folder, _, settings = inbox
    long = next(x for x in _letters(folder, settings) if x.source_file == LONG)
    parts = split(long, 2)
    assert parts and len(parts) >= 3
    got = [PagesResult(p, [_page(p.first, f"page {p.first}")]) for p in parts]
    got[2] = PagesResult(parts[2], error="page 5 is broken")
    got[1] = PagesResult(parts[1], error="page 3 is broken")
    res = finish_letter(processor, long, list(reversed(got)))  # arrival order does not matter
    assert res.status == Status.FAILED and res.error == "page 3 is broken"


def test_ranges_are_joined_in_page_order_and_a_given_up_letter_is_not_recorded_twice(inbox, processor: Processor) -> None:  # noqa: ANN001
    folder, _, settings = inbox
    long = next(x for x in _letters(folder, settings) if x.source_file == LONG)
    parts = split(long, 2)
    assert parts
    pieces = [PagesResult(p, [_page(p.first, f"слово{p.first}")]) for p in parts]
    [res] = list(reassemble(iter(reversed(pieces)), processor))
    assert [p.page_no for p in res.text.pages] == [p.first for p in parts]
    assert res.text.full_text == "\f".join(f"слово{p.first}" for p in parts)
    assert [w.start for p in res.text.pages for w in p.words] == [res.text.full_text.index(f"слово{p.first}") for p in parts]
    # a range that killed its worker twice: the letter's failure is its one result; later ranges are dropped
    dead = LetterResult(long.letter_id, long.sha256, long.source_file, Status.FAILED, letter=long, error="worker died")
    out = list(reassemble(iter([pieces[0], dead, *pieces[1:]]), processor))
    assert [r.error for r in out] == ["worker died"]


@pytest.mark.slow
def test_bench_pagesplit_reports_the_speed_up_and_checks_the_text(inbox, tmp_path: Path) -> None:  # noqa: ANN001
    from pipeline.bench.cluster import TARGETS, bench_pagesplit, format_section
    from pipeline.bench.run import BenchConfig

    _, registry, settings = inbox
    cfg = BenchConfig(folder=tmp_path, promises=registry, settings=settings, pages=PAGES, workdir=tmp_path / "work")
    res = bench_pagesplit(cfg, lambda _: None)
    assert res["pages"] == PAGES and res["same_text"] and res["one_letter"]
    assert {r["pages"] for r in res["runs"].values()} == {PAGES} and not any(r["failed"] for r in res["runs"].values())
    assert res["pagesplit_speedup"] == round(res["runs"]["1"]["seconds"] / res["runs"]["2"]["seconds"], 3)
    [row] = res["targets"]
    assert row["name"] == "pagesplit_speedup" and row["target"] == f">= {TARGETS['pagesplit_speedup'][2]:g}"
    assert "pagesplit: 6-page scanned PDF" in format_section("pagesplit", res)


def test_letters_are_ordered_by_the_reading_they_take_not_by_their_bytes(tmp_path: Path) -> None:
    """A 1-bit TIFF page is a few KB but as much OCR as any A4 scan; a born-digital PDF is read
    from its text layer in milliseconds. Ordered by bytes the TIFF came last, behind the PDF."""
    from pipeline.pagesplit import longest_first, work_estimate
    from pipeline.samplegen import write_image, write_tiff

    page = load_sample_data()["letters"][0]["pages"][0]
    write_scanned_pdf([page, page], tmp_path / "two-page-scan.pdf", dpi=150)
    write_tiff([page], tmp_path / "g4.tif", dpi=300)
    write_image(page, tmp_path / "photo.jpg", fmt="JPEG", dpi=150)
    write_text_pdf([page] * 3, tmp_path / "born-digital.pdf")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000)
    found = ingest.discover(tmp_path)
    letters = {x.source_file: x for x in found.letters}
    sizes = {name: letter.files[0].size for name, letter in letters.items()}
    assert sizes["g4.tif"] < sizes["born-digital.pdf"] < sizes["photo.jpg"]  # what ordering by bytes went by

    order = [x.source_file for x in longest_first(list(letters.values()))]
    assert order == ["two-page-scan.pdf", "g4.tif", "photo.jpg", "broken.png", "born-digital.pdf"]
    a4 = 210 / 25.4 * 297 / 25.4 * 300**2
    assert work_estimate(letters["g4.tif"]) == pytest.approx(a4, rel=0.02)
    assert work_estimate(letters["two-page-scan.pdf"]) == pytest.approx(2 * a4, rel=0.02)  # at the render dpi
    assert work_estimate(letters["born-digital.pdf"]) == sizes["born-digital.pdf"]
    assert work_estimate(letters["broken.png"]) == sizes["broken.png"]  # unreadable here: its bytes, no error
