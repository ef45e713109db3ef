"""The one OCR-normalisation module: look-alikes, the "№" family, debris, hyphenation."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from pipeline import ocrnorm
from pipeline.stages.dates import find_dates


def test_homoglyph_tables_map_one_character_to_one() -> None:
    for table in (ocrnorm.HOMOGLYPHS, ocrnorm.OCR_LATIN_READINGS):
        assert all(isinstance(v, int) for v in table.values())
    assert ocrnorm.fold_homoglyphs("оcвiтлення") == "освітлення"
    assert ocrnorm.fold_homoglyphs("Prozorro") == "Prozorro"  # a real Latin word stays


@given(st.text(alphabet="абвгдеіорсхАВСЕНКМОРТХaceiopxyABCEHKMOPTX @.-\n", max_size=80))
def test_folding_mixed_words_keeps_offsets(text: str) -> None:
    folded = ocrnorm.fold_mixed_words(text)
    assert len(folded) == len(text)
    assert [m.span() for m in re.finditer(r"\S+", folded)] == [m.span() for m in re.finditer(r"\S+", text)]


def test_latin_tokens_fold_only_on_cyrillic_pages() -> None:
    assert ocrnorm.fix_tokens(["Ha", "Ме", "96", "Big", "28.04.2016"], True) == ["На", "№", "96", "Від", "28.04.2016"]
    assert ocrnorm.fix_tokens(["Hello", "Big", "Ben"], False) == ["Hello", "Big", "Ben"]
    assert ocrnorm.fix_tokens(["e-mail:", "info@rada.gov.ua,", "Ha"], True) == ["e-mail:", "info@rada.gov.ua,", "Ha"]


def test_the_numero_family() -> None:
    sign = re.compile(rf"^{ocrnorm.NUMERO}\s*\d", re.IGNORECASE)
    for printed in ("№ 5", "N 5", "No 5", "Nº 5", "N° 5", "Ме 5", "Мо 5", "Ne 5", "Хо 5", "М№5"):
        assert sign.match(printed), printed
    loose = re.compile(rf"^{ocrnorm.NUMERO_LOOSE}(?:\s*\d|$)")
    assert loose.match("М 318") and loose.match("М") and not loose.match("Мама")
    assert [m.group(1) for m in ocrnorm.NUMBER_SIGN_NUMBER.finditer("школа № 5 і Ме 7")] == ["5", "7"]


def test_numbers_of_register_lines() -> None:
    assert ocrnorm.clean_number("__618/04__") == "618/04"
    assert ocrnorm.clean_number("___") is None
    assert ocrnorm.clean_number("1О2") == "102"


def test_debris_and_capitals() -> None:
    assert ocrnorm.fix_initial_bars("голови |. Цимбалюк") == "голови І. Цимбалюк"
    assert ocrnorm.fix_initial_bars("a | b") == "a | b"
    assert "Ігор" in ocrnorm.first_letter_variants("Ггор")
    assert "Ігор" in ocrnorm.first_letter_variants("ігор")
    assert [d.text for d in find_dates(".11.12.2018 № 5")] == ["11.12.2018"]
    assert [d.date.isoformat() for d in find_dates("від 18.10:2016 №")] == ["2016-10-18"]


def test_hyphenation() -> None:
    words = {"господарства", "комунального", "житлово-комунального"}
    assert ocrnorm.join_hyphenated("ЖИТЛОВО-\nКОМУНАЛЬНОГО", lambda w: w in words) == "ЖИТЛОВО-КОМУНАЛЬНОГО"
    assert ocrnorm.join_hyphenated("ЖИТЛОВО- КОМУНАЛЬНОГО", lambda w: w in words) == "ЖИТЛОВО-КОМУНАЛЬНОГО"
    assert ocrnorm.join_hyphenated("госпо-\nдарства", lambda w: w in words) == "господарства"
    assert ocrnorm.join_hyphenated("Чернігів - Мена") == "Чернігів - Мена"  # a dash, not a hyphen
    assert ocrnorm.normalise_dashes("голови - керуючий") == "голови – керуючий"
