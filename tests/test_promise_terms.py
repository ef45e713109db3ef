"""Promise terms (deadline, quantity, scope) on generated promise phrasings in Ukrainian and Russian."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from pipeline.schema import Promise
from pipeline.stages.promise_terms import find_deadline, read_terms
from pipeline.stages.quantities import find_quantities, numeral_value, same_unit

SAID = dt.date(2016, 3, 10)

# (phrase, the last day that still counts as on time) for a promise said on SAID.
DEADLINES = {
    "uk": [
        ("до кінця 2017 року", dt.date(2017, 12, 31)),
        ("у 2018 році", dt.date(2018, 12, 31)),
        ("у 2017-му", dt.date(2017, 12, 31)),
        ("протягом 2017 року", dt.date(2017, 12, 31)),
        ("до 1 вересня", dt.date(2016, 8, 31)),
        ("до 1 вересня 2017 року", dt.date(2017, 8, 31)),
        ("до 15.06.2017", dt.date(2017, 6, 14)),
        ("до кінця літа", dt.date(2016, 8, 31)),
        ("восени 2016 року", dt.date(2016, 11, 30)),
        ("навесні 2017 року", dt.date(2017, 5, 31)),
        ("цього року", dt.date(2016, 12, 31)),
        ("наступного року", dt.date(2017, 12, 31)),
        ("за два роки", dt.date(2018, 3, 10)),
        ("протягом трьох років", dt.date(2019, 3, 10)),
        ("за 100 днів", SAID + dt.timedelta(days=100)),
        ("у першому кварталі 2017 року", dt.date(2017, 3, 31)),
        ("у першому півріччі 2017 року", dt.date(2017, 6, 30)),
        ("до травня 2017 року", dt.date(2017, 4, 30)),
        ("до кінця травня 2017 року", dt.date(2017, 5, 31)),
        ("до Дня Незалежності", dt.date(2016, 8, 24)),
        ("до 2020 року", dt.date(2019, 12, 31)),
    ],
    "ru": [
        ("до конца 2017 года", dt.date(2017, 12, 31)),
        ("в 2018 году", dt.date(2018, 12, 31)),
        ("в течение 2017 года", dt.date(2017, 12, 31)),
        ("до 1 сентября", dt.date(2016, 8, 31)),
        ("до конца лета", dt.date(2016, 8, 31)),
        ("осенью 2016 года", dt.date(2016, 11, 30)),
        ("в этом году", dt.date(2016, 12, 31)),
        ("в следующем году", dt.date(2017, 12, 31)),
        ("за два года", dt.date(2018, 3, 10)),
        ("в течение двух лет", dt.date(2018, 3, 10)),
        ("в первом квартале 2017 года", dt.date(2017, 3, 31)),
        ("к Новому году", dt.date(2016, 12, 31)),
        ("до конца года", dt.date(2016, 12, 31)),
    ],
}
# (quantity as written, value)
QUANTITIES = {
    "uk": [("35", 35), ("тридцять п'ять", 35), ("двадцять", 20), ("сто двадцять", 120), ("п'ятдесят", 50),
           ("1 200", 1200), ("тисячу", 1000), ("12", 12)],
    "ru": [("35", 35), ("тридцать пять", 35), ("двадцать", 20), ("сто двадцать", 120), ("пятьдесят", 50),
           ("тысячу", 1000), ("4 000", 4000), ("12", 12)],
}
# (verb phrase, object in the accusative after a count, unit lemma a letter reports in)
OBJECTS = {
    "uk": [("облаштує", "дитячих майданчиків", "майданчик"), ("відремонтує", "дворів", "двір"),
           ("встановить", "світлофорів", "світлофор"), ("купить", "нових тролейбусів", "тролейбус"),
           ("відкриє", "амбулаторій", "амбулаторія")],
    "ru": [("обустроит", "детских площадок", "площадка"), ("отремонтирует", "дворов", "двор"),
           ("установит", "светофоров", "светофор"), ("купит", "новых троллейбусов", "троллейбус"),
           ("откроет", "амбулаторий", "амбулатория")],
}
SURNAMES = ["Коваленко", "Мельник", "Бондар", "Ткачук", "Савчук"]


def generated_promises(n: int = 600, seed: int = 5) -> list[tuple[Promise, dt.date | None, float | None]]:
    """Promise titles from every combination, sampled: (promise, expected deadline, expected count)."""
    rng = random.Random(seed)
    out = []
    for lang in ("uk", "ru"):
        combos = list(itertools.product(DEADLINES[lang] + [(None, None)], QUANTITIES[lang] + [(None, None)],
                                        OBJECTS[lang], SURNAMES))
        for (dl, end), (qty, value), (verb, obj, _), who in rng.sample(combos, n // 2):
            count = f"{qty} {obj}" if qty else obj.replace("нових ", "").replace("новых ", "")
            order = rng.random() < 0.5
            title = f"{who} {verb} {count} {dl}" if dl and order else (
                f"{who} {dl} {verb} {count}" if dl else f"{who} {verb} {count}")
            if not qty:
                title = title.replace(count, "в усіх школах" if lang == "uk" else "во всех школах")
            out.append((Promise("G", who, "", "Полтава", SAID, title, "", lang), end, value))
    return out


CASES = generated_promises()


def test_generator_covers_hundreds_of_phrasings() -> None:
    assert len({p.title for p, _, _ in CASES}) >= 500


@pytest.mark.parametrize("lang", ["uk", "ru"])
def test_every_generated_deadline_and_count_is_read(lang: str) -> None:
    misses = []
    for p, end, value in (c for c in CASES if c[0].lang == lang):
        t = read_terms(p)
        got_end = t.deadline.end if t.deadline else None
        got_value = t.quantity.value if t.quantity else None
        if got_end != end or got_value != value:
            misses.append((p.title, end, got_end, value, got_value))
    assert not misses, misses[:10]


def test_scope_words_mark_a_promise_on_all_of_a_set() -> None:
    for p, _, value in CASES:
        if value is None:
            assert read_terms(p).scope_all, p.title


def test_explicit_day_is_before_the_day() -> None:
    assert find_deadline("відкриє до 01.09.2017", SAID).end == dt.date(2017, 8, 31)
    assert find_deadline("відкриє 01.09.2017", SAID) .end == dt.date(2017, 9, 1)


def test_a_start_year_is_not_a_deadline() -> None:
    assert find_deadline("з 2016 року працює програма", SAID) is None
    assert find_deadline("площа 2016 м²", SAID) is None


def test_day_of_year_meant_rolls_over_after_the_date() -> None:
    autumn = dt.date(2016, 10, 1)
    assert find_deadline("до 1 вересня", autumn).end == dt.date(2017, 8, 31)
    assert find_deadline("до кінця літа", autumn).end == dt.date(2017, 8, 31)


@pytest.mark.parametrize(("word", "lang", "value"), [
    ("п'ятдесяти", "uk", 50), ("п’ятдесяти", "uk", 50), ("тридцяти", "uk", 30), ("двохсот", "uk", 200),
    ("пятидесяти", "ru", 50), ("сорока", "ru", 40), ("девяноста", "ru", 90), ("двухсот", "ru", 200),
    ("пятидесяти", "uk", 50), ("будинок", "uk", None),
])
def test_numerals_in_any_case(word: str, lang: str, value: int | None) -> None:
    assert numeral_value(word, lang) == value


def test_quantities_skip_dates_document_numbers_and_years() -> None:
    text = ("Рішенням № 512 від 22.12.2016 у 2017 році виділено 1,4 млн грн; до 1 вересня облаштовано "
            "12 із 35 майданчиків, у 1990-х роках їх не будували.")
    qs = find_quantities(text, "uk")
    assert [(q.value, q.unit_lemma, q.of_total) for q in qs] == [(1.4, "грн", None), (12, "майданчик", 35)]


def test_units_meet_across_languages() -> None:
    uk = find_quantities("облаштовано 12 дитячих майданчиків", "uk")[0]
    ru = find_quantities("обустроено 12 детских площадок", "ru")[0]
    assert same_unit(uk.unit, ru.unit)
    assert same_unit(find_quantities("у 14 дворах", "uk")[0].unit, find_quantities("в 14 дворах", "ru")[0].unit)
    assert not same_unit(uk.unit, find_quantities("12 шкіл", "uk")[0].unit)


def test_terms_round_trip_to_json_and_describe() -> None:
    p = Promise("P", "Олена Ткачук", "Міський голова", "Полтава", SAID,
                "Ткачук облаштує 35 дитячих майданчиків до кінця 2017 року", "", "uk")
    t = read_terms(p)
    js = t.to_json()
    assert js["deadline"]["end"] == "2017-12-31" and js["quantity"]["value"] == 35
    assert "35 майданчик" in t.describe() and "2017-12-31" in t.describe()
    assert "майданчик" in t.object_lemmas and not any("ткачук" in x for x in t.object_lemmas)


def test_the_numeral_prefixes_are_those_of_every_numeral_form() -> None:
    """numeral_value skips the dictionaries for words that start unlike any numeral: the list of
    starts must be exactly what the dictionaries give for the numerals the module knows."""
    from pipeline.nlp import morph_analyzer
    from pipeline.stages import quantities as q

    starts = set()
    for word in (*q._ALL_NUMERALS, *q._SCALES, *q._FORMS):
        starts.add(q.fold(word)[:2])
        for lang in ("uk", "ru"):
            for parse in morph_analyzer(lang).parse(word):
                starts |= {q.fold(form.word)[:2] for form in parse.lexeme}
    assert q.NUMERAL_PREFIXES == starts
    assert q.numeral_value("п'ятдесяти", "uk") == 50 and q.numeral_value("семи", "uk") == 7
    assert q.numeral_value("восьми", "ru") == 8 and q.numeral_value("ремонту", "uk") is None
