"""The one layout model: lines with pages and boxes, and the regions of ДСТУ 4163 requisites."""

from __future__ import annotations

from pipeline.layout import LetterLayout, find_regions, split_lines
from pipeline.ocrnorm import fold_mixed_words
from pipeline.reqgen import generate, noisy
from pipeline.schema import LetterText, PageText, TextSource, Word


def test_lines_carry_spans_and_pages() -> None:
    full = "a\n\nbb\fccc"
    lines = split_lines(full)
    assert [(ln.text, ln.start, ln.end, ln.page) for ln in lines] == [
        ("a", 0, 1, 0), ("", 2, 2, 0), ("bb", 3, 5, 0), ("ccc", 6, 9, 1)
    ]
    assert all(full[ln.start : ln.end] == ln.text for ln in lines)


def test_regions_of_a_generated_letter() -> None:
    for seed in range(40):
        gen = generate(seed)
        for text in (gen.text, noisy(gen, seed).text):
            r = find_regions(text)
            assert r.letterhead_end > 0 and r.date_number and r.addressee and r.heading and r.signature
            assert r.date_number[0] < r.addressee[0] < r.heading[0] < r.body_start < r.signature[0]
            assert r.executor and r.signature[1] <= r.executor[0]
            assert fold_mixed_words(text)[r.heading[0] : r.heading[1]] == r.subject  # look-alikes folded


def test_layout_finds_word_boxes_per_line() -> None:
    text = "ЛУЦЬКА МІСЬКА РАДА\nвід 01.02.2019 № 5"
    words = [Word("ЛУЦЬКА", 10, 10, 50, 12, 91.0, 0, 0, 6), Word("№", 90, 30, 8, 12, 88.0, 1, 34, 35)]
    lt = LetterText("x", [PageText(1, text, TextSource.OCR, 0.0, 0.0, words=words)])
    lay = LetterLayout.of(lt.full_text, lt)
    assert lay.boxes(lay.lines[0]) == [(10, 10, 50, 12)]
    assert [w.text for w in lay.words_in(30, 40)] == ["№"]
    assert [ln.text for ln in lay.letterhead] == ["ЛУЦЬКА МІСЬКА РАДА"]


def test_country_line_is_not_part_of_the_letterhead() -> None:
    lay = LetterLayout.of("УКРАЇНА\nЛУЦЬКА МІСЬКА РАДА\n43000, м. Луцьк, вул. Зразкова, 1\n")
    assert [ln.text for ln in lay.letterhead] == ["ЛУЦЬКА МІСЬКА РАДА"]
