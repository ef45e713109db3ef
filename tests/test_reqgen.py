"""Property tests over the requisites generator: every variant family of a letter head comes back,
typed and as noisy OCR-like text (pipeline.reqgen; nothing here comes from the dev sets)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.reqgen import FAMILIES, RU_DATE_FAMILIES, RU_REQUEST_FAMILIES, generate, noisy
from pipeline.schema import LetterText, PageText, TextSource
from pipeline.stages.fields import extract_fields

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(text: str, ocr: bool) -> dict[str, str | None]:
    source = TextSource.OCR if ocr else TextSource.TEXT_LAYER
    return extract_fields(LetterText("G", [PageText(1, text, source, 0.0, 0.0)])).values()


def _wrong(gen, ocr: bool) -> list[str]:
    got = _read(gen.text, ocr)
    return [f"{k}: want {v!r}, got {got.get(k)!r}" for k, v in gen.expected.items() if got.get(k) != v]


def _families(family: str, variant: str) -> dict[str, str]:
    fam = {family: variant}
    if variant.startswith("ru_") and family == "letterhead":
        fam.update(date_number=RU_DATE_FAMILIES[0], request=RU_REQUEST_FAMILIES[0])
    return fam


VARIANTS = [(f, v) for f, vs in FAMILIES.items() for v in vs]


@pytest.mark.parametrize(("family", "variant"), VARIANTS, ids=[f"{f}-{v}" for f, v in VARIANTS])
@PROPS
@given(seed=st.integers(0, 10**6), ocr=st.booleans())
def test_every_variant_comes_back(family: str, variant: str, seed: int, ocr: bool) -> None:
    gen = generate(seed, _families(family, variant))
    if ocr:
        gen = noisy(gen, seed)
    assert not _wrong(gen, ocr), (gen.family, _wrong(gen, ocr), gen.text)


@PROPS
@given(seed=st.integers(0, 10**6))
def test_russian_variants_come_back(seed: int) -> None:
    for date_kind in RU_DATE_FAMILIES:
        gen = noisy(generate(seed, {"letterhead": "ru_council", "date_number": date_kind}), seed)
        assert not _wrong(gen, True), (gen.family, _wrong(gen, True))


@PROPS
@given(seed=st.integers(0, 10**6))
def test_noise_never_changes_what_is_expected(seed: int) -> None:
    typed = generate(seed)
    rough = noisy(typed, seed)
    assert rough.expected == typed.expected and rough.family == typed.family


@pytest.mark.slow
def test_thousands_of_letter_heads_per_family_accuracy() -> None:
    """2000 heads (1000 typed, 1000 noisy): each variant family reads back at 0.99 or better."""
    seen: Counter[tuple[str, str]] = Counter()
    bad: Counter[tuple[str, str]] = Counter()
    for seed in range(2000):
        ocr = seed % 2 == 1
        gen = generate(seed)
        if ocr:
            gen = noisy(gen, seed)
        wrong = _wrong(gen, ocr)
        for key in gen.family.items():
            seen[key] += 1
            bad[key] += bool(wrong)
    low = {k: round(1 - bad[k] / n, 3) for k, n in seen.items() if 1 - bad[k] / n < 0.99}
    assert not low, low


def test_generator_is_deterministic_and_covers_every_family() -> None:
    assert generate(7).text == generate(7).text
    assert noisy(generate(7), 7).text == noisy(generate(7), 7).text
    got = {(f, v) for s in range(400) for f, v in generate(s).family.items()}
    assert set(VARIANTS) <= got


def test_noise_model_makes_the_documented_confusions() -> None:
    texts = "\n".join(noisy(generate(s), s, {"numero": 1.0, "latin": 0.2}).text for s in range(60))
    assert any(sign in texts for sign in ("Ме ", "Мо ", " N ", "Nº"))
    assert any(ch in texts for ch in "aeopcix")  # Latin look-alikes inside Cyrillic words
