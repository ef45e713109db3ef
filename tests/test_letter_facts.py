"""Passage facts against promise terms: as-of dates, reported counts, late completion, postponement, scope."""

from __future__ import annotations

import datetime as dt

from pipeline.schema import Promise
from pipeline.stages.letter_facts import compare, find_as_of, read_facts
from pipeline.stages.promise_terms import read_terms

LETTER = dt.date(2017, 2, 14)


def _promise(title: str, lang: str = "uk", said_on: dt.date = dt.date(2015, 11, 20)) -> Promise:
    return Promise("P", "Ірина Левчук", "Міський голова", "Ніжин", said_on, title, "", lang)


def _compare(title: str, passage: str, lang: str = "uk", letter: dt.date = LETTER):
    terms = read_terms(_promise(title, lang))
    facts = read_facts(passage, terms, letter, lang)
    return facts, compare(terms, facts)


def test_as_of_is_the_stanom_na_date_else_the_letter_date() -> None:
    assert find_as_of("Станом на 01.10.2016 облаштовано 12 майданчиків.", LETTER) == (dt.date(2016, 10, 1), "stanom_na")
    assert find_as_of("По состоянию на 1 декабря 2016 года работы ведутся.", LETTER)[0] == dt.date(2016, 12, 1)
    # "завершена 17.02.2014" ends in "на" but is no as-of date
    assert find_as_of("Газифікація завершена 17.01.2017.", LETTER) == (LETTER, "letter_date")
    assert find_as_of("Рішення від 22.12.2016 № 5 виконується.", LETTER) == (LETTER, "letter_date")


def test_quantity_short_before_and_after_the_deadline() -> None:
    title = "Левчук освітить 31 двір до кінця 2016 року"
    _, c = _compare(title, "Станом на 01.10.2016 відновлено освітлення в 14 дворах.")
    assert c.values["quantity_short"] == 1 and c.values["deadline_passed"] == 0
    assert "14 reported of 31" in c.explanation
    _, c = _compare(title, "У 2016 році відновлено освітлення в 14 дворах, решта 17 дворів у плані на 2017 рік.")
    assert c.values["quantity_short"] == 1 and c.values["deadline_passed"] == 1
    assert "deadline 2016-12-31 passed at 2017-02-14" in c.explanation


def test_count_next_to_a_completion_verb_wins_over_a_contract_count() -> None:
    facts, c = _compare("Левчук встановить 50 табло на зупинках протягом двох років",
                        "Укладено договір на виготовлення 50 табло; станом на 01.07.2016 встановлено 14 табло.")
    assert facts.reported is not None and facts.reported.value == 14
    assert c.values["quantity_short"] == 1


def test_russian_count_of_a_ukrainian_promise() -> None:
    _, c = _compare("Левчук облаштує 35 дитячих майданчиків", "Обустроено 35 детских площадок.", lang="ru")
    assert c.values["quantity_met"] == 1


def test_the_whole_set_and_part_of_it() -> None:
    _, c = _compare("Левчук утеплить усі школи міста", "Утеплено фасади в усіх 27 школах міста.")
    assert c.values["scope_all"] == 1 and c.values["scope_covered"] == 1
    _, c = _compare("Левчук утеплить усі школи міста", "Утеплено фасади 9 з 27 шкіл.")
    assert c.values["scope_covered"] == 0 and c.values["part_of_set"] == 1


def test_completion_after_the_deadline() -> None:
    _, c = _compare("Левчук відкриє ЦНАП до 1 вересня 2016 року",
                    "Центр надання адміністративних послуг відкрито 15.11.2016 у приміщенні на вул. Гоголя.")
    assert c.values["completed_late"] == 1
    assert "after the deadline" in c.explanation


def test_postponed_past_the_deadline() -> None:
    _, c = _compare("Левчук збудує басейн у 2016 році", "Будівництво басейну перенесено на 2018 рік.")
    assert c.values["postponed_past_deadline"] == 1


def test_growth_against_a_doubling_promise() -> None:
    _, c = _compare("Левчук удвічі збільшить кількість автобусів на маршруті № 7",
                    "Кількість автобусів на маршруті № 7 збільшено з 6 до 9 одиниць.")
    assert c.values["quantity_short"] == 1


def test_negated_completion_in_passive_and_impersonal_forms() -> None:
    for text, lang in (("Реконструкція стадіону не була здійснена через брак коштів.", "uk"),
                       ("Ремонт покрівлі не було виконано.", "uk"),
                       ("Замена окон в 2016 году не была выполнена.", "ru")):
        facts, _ = _compare("Левчук відремонтує стадіон", text, lang=lang)
        assert facts.negated_done, text


def test_no_promise_terms_gives_neutral_features() -> None:
    facts = read_facts("Роботи тривають.", None, LETTER, "uk")
    c = compare(None, facts)
    assert all(v == 0 for k, v in c.values.items())


def test_a_list_of_addresses_is_counted_and_house_numbers_are_not_counts() -> None:
    facts, c = _compare("Левчук відремонтує 20 дворів у 2016 році",
                        "У 2016 році відремонтовано прибудинкові території за адресами: вул. Шевченка, 12; "
                        "вул. Франка, 4а; просп. Миру, 7.")
    assert facts.reported is not None and facts.reported.value == 3
    assert c.values["quantity_short"] == 1 and "3 reported of 20" in c.explanation


def test_first_pupils_arriving_after_the_deadline_is_a_late_completion() -> None:
    _, c = _compare("Левчук збудує дитячий садок у 2016 році",
                    "Садок збудовано, 3 березня 2017 року до нього прийшли перші вихованці.", letter=dt.date(2017, 5, 1))
    assert c.values["completed_late"] == 1
