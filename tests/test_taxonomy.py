"""The topic taxonomy of municipal work: tagging invented promise and passage texts."""

from __future__ import annotations

import pytest

from pipeline.taxonomy import Topic, taxonomy, topic_keys, topics_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Капітальний ремонт дороги та тротуарів на вулиці Лісовій", {"roads"}),
        ("Ремонт внутрішньоквартальних проїздів і прибудинкових територій", {"yards"}),
        ("Замена светильников уличного освещения на светодиодные", {"lighting"}),
        ("Відкрити новий корпус ЗОШ № 4", {"schools"}),
        ("В ДНЗ № 12 добавлено две группы", {"kindergartens"}),
        ("Будівництво дошкільного закладу на 120 місць", {"kindergartens"}),
        ("Оновити обладнання міської лікарні та поліклініки", {"hospitals"}),
        ("Закупівля нових тролейбусів для маршруту", {"transport"}),
        ("Установить павильоны на остановках", {"stops"}),
        ("Реконструкція скверу біля набережної", {"parks"}),
        ("Заміна водопровідних мереж і каналізаційного колектора", {"water"}),
        ("Модернізація котельні та теплотраси", {"heating"}),
        ("Утеплення фасадів і «теплі кредити»", {"energy", "heating", "housing"}),
        ("Ремонт ліфтів у будинках ОСББ", {"housing"}),
        ("ЦНАП переїде в нове приміщення", {"egov"}),
        ("Построить стадион и бассейн", {"sports"}),
        ("Ремонт бібліотеки та будинку культури", {"culture"}),
        ("Вивезення сміття з контейнерних майданчиків", {"waste", "playgrounds"}),
        ("Онлайн-трансляції сесій міської ради", {"egov", "openness"}),
    ],
)
def test_texts_are_tagged_with_their_topics(text: str, expected: set[str]) -> None:
    assert topic_keys(text) == frozenset(expected)


def test_the_longest_stem_decides() -> None:
    # "паркування" (parking) is transport, "парку" (a park) is parks; "палац" is culture
    assert topic_keys("облаштування паркування") == {"transport"}
    assert topic_keys("у парку") == {"parks"}
    assert topic_keys("ремонт палацу") == {"culture"}


def test_common_letter_words_have_no_topic() -> None:
    filler = ("Повідомляємо, що станом на 1 квітня 2017 року виконано роботи за рахунок коштів бюджету; "
              "виконавчий комітет міської ради розглянув запит. Сообщаем, что в апреле работы выполнены.")
    assert topic_keys(filler) == frozenset()
    assert topics_of("") == frozenset()


def test_abbreviations_count_only_in_capitals() -> None:
    assert topic_keys("КП «Міськсвітло»") >= {"municipal_enterprise"}
    assert "kindergartens" not in topic_keys("днз")  # lower case is not the abbreviation


def test_topics_are_typed_and_labelled() -> None:
    (t,) = topics_of("дитячий садок")
    assert isinstance(t, Topic) and t.key == "kindergartens" and t.label
    tax = taxonomy()
    assert len(tax.topics) >= 17 and all(t.label for t in tax.topics.values())


def test_ocr_latin_lookalikes_are_folded() -> None:
    assert topic_keys("ремонт шкoли") == {"schools"}  # Latin "o" inside a Cyrillic word
