"""Matching on invented promises and letters (no dev-set text)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.schema import FieldValue, LetterFields, LetterText, PageText, Promise, TextSource
from pipeline.stages.match import PromiseIndex, city_keys, is_non_answer, match_letter, skel, terms_of


def P(pid: str, politician: str, office: str, city: str, title: str, description: str, lang: str) -> Promise:
    return Promise(pid, politician, office, city, dt.date(2016, 5, 1), title, description, lang)


REGISTRY = [
    P(
        "RIV-1",
        "Алексей Петренко",
        "Ровенский городской голова",
        "Рівне",
        "Петренко капитально отремонтирует мост на улице Набережной",
        "Городской голова пообещал провести капитальный ремонт аварийного моста через реку на улице Набережной.",
        "ru",
    ),
    P(
        "RIV-2",
        "Олексій Петренко",
        "Рівненський міський голова",
        "Рівне",
        "Петренко встановить вуличне освітлення в парку Молодіжному",
        "Міський голова пообіцяв, що в парку Молодіжному з'являться нові ліхтарі та світлодіодні світильники.",
        "uk",
    ),
    P(
        "RIV-3",
        "Олексій Петренко",
        "Рівненський міський голова",
        "Рівне",
        "Петренко відкриє новий дитячий садок у мікрорайоні Північному",
        "Мешканці мікрорайону Північного скаржилися на черги до дитячих садків.",
        "uk",
    ),
    P(
        "CHK-1",
        "Ганна Литвин",
        "Черкаська міська голова",
        "Черкаси",
        "Литвин відремонтує міст на вулиці Набережній",
        "Міська голова пообіцяла капітальний ремонт мосту на вулиці Набережній.",
        "uk",
    ),
    P(
        "CHK-2",
        "Анна Литвин",
        "Черкасский городской голова",
        "Черкаси",
        "Литвин закупит 15 новых автобусов",
        "Городской голова пообещала обновить парк общественного транспорта и закупить новые автобусы.",
        "ru",
    ),
    P(
        "UZH-1",
        "Иван Ковач",
        "Ужгородский городской голова",
        "Ужгород",
        "Ковач внедрит электронную очередь в поликлиниках",
        "Городской голова пообещал, что запись к врачу в поликлиниках станет электронной.",
        "ru",
    ),
]


@pytest.fixture(scope="module")
def index() -> PromiseIndex:
    return PromiseIndex.build(REGISTRY)


def letter(body: str, city_line: str = "РІВНЕНСЬКА МІСЬКА РАДА\n33000, м. Рівне, вул. Соборна, 12-А") -> LetterText:
    raw = (
        f"{city_line}\n\n17.03.2019 № 01-05/77\nНа № 12 від 01.03.2019\n\n"
        "ГО «Громадський контроль»\n01001, м. Київ, вул. Прикладна, 1\n\n"
        f"{body}\n\nЗаступник міського голови                       М. Бондаренко\nВик. Лук'яненко 26-26-26\n"
    )
    return LetterText("T", [PageText(1, raw, TextSource.TEXT_LAYER, 0.0, 0.0)])


def fields(city: str, lang: str = "uk") -> LetterFields:
    f = LetterFields()
    f.sender_city = FieldValue(value=city, confidence=0.9)
    f.language = FieldValue(value=lang, confidence=0.9)
    return f


def ids(matches: list) -> set[str]:
    return {m.promise_id for m in matches}


BRIDGE_UK = (
    "Виконавчий комітет розглянув Ваш запит і повідомляє.\n"
    "Капітальний ремонт мосту через річку на вулиці Набережній завершено у жовтні 2018 року, "
    "вартість робіт склала 12,4 млн грн."
)


@pytest.mark.parametrize("with_fields", [True, False])
def test_cross_language_russian_promise_ukrainian_letter(index: PromiseIndex, with_fields: bool) -> None:
    f = fields("Рівне") if with_fields else None
    matches = match_letter(letter(BRIDGE_UK), f, index)
    assert ids(matches) == {"RIV-1"}
    m = matches[0]
    assert 0.5 <= m.score <= 1.0
    assert m.features["city"] is True
    assert m.features["topic_similarity"] > 0.3
    shared = " ".join(m.features["shared_terms"])
    assert "ремонт" in shared and ("міст" in shared or "мост" in shared)


def test_same_topic_in_two_cities_follows_the_sender(index: PromiseIndex) -> None:
    cherkasy = "ЧЕРКАСЬКА МІСЬКА РАДА\n18000, м. Черкаси, вул. Б. Вишневецького, 36"
    for f in (fields("Черкаси"), None):
        assert ids(match_letter(letter(BRIDGE_UK, cherkasy), f, index)) == {"CHK-1"}
    for f in (fields("Рівне"), None):
        assert ids(match_letter(letter(BRIDGE_UK), f, index)) == {"RIV-1"}


def test_two_promises_of_one_city_on_different_topics(index: PromiseIndex) -> None:
    body = (
        "Щодо вуличного освітлення парку Молодіжного.\n"
        "У парку встановлено 64 світлодіодні світильники, освітлення введено в експлуатацію у травні 2018 року.\n"
        "Стосовно дитячого садка в мікрорайоні Північному.\n"
        "Будівництво садка на 220 місць розпочато, виконано 35 % робіт."
    )
    matches = match_letter(letter(body), fields("Рівне"), index)
    assert ids(matches) == {"RIV-2", "RIV-3"}
    by_id = {m.promise_id: m for m in matches}
    assert "освітлення" in by_id["RIV-2"].passage.text
    assert "садка" in by_id["RIV-3"].passage.text
    assert by_id["RIV-2"].passage.index != by_id["RIV-3"].passage.index


def test_three_numbered_points_give_three_matches_on_their_passages(index: PromiseIndex) -> None:
    body = (
        "Рівненська міська рада розглянула Ваш запит і повідомляє.\n"
        "1. Капітальний ремонт мосту на вулиці Набережній виконано у 2018 році на суму 12,4 млн грн.\n"
        "2. Заміну ліхтарів у парку Молодіжному на світлодіодні світильники не здійснено, кошти не передбачено.\n"
        "3. Дитячий садок у мікрорайоні Північному відкрито 1 вересня 2018 року."
    )
    lt = letter(body)
    matches = match_letter(lt, None, index)
    assert ids(matches) == {"RIV-1", "RIV-2", "RIV-3"}
    where = {m.promise_id: m.passage.text[:2] for m in matches}
    assert where == {"RIV-1": "1.", "RIV-2": "2.", "RIV-3": "3."}
    for m in matches:
        assert lt.full_text[m.passage.start : m.passage.end] == m.passage.text


@pytest.mark.parametrize(
    "body",
    [
        # forwarded
        "Ваш запит щодо капітального ремонту мосту на вулиці Набережній надійшов 05.03.2019.\n"
        "Міст перебуває на балансі обласного управління, тому запит направлено за належністю до "
        "управління капітального будівництва облдержадміністрації.",
        # deadline extended
        "Ваш запит щодо ремонту мосту на вулиці Набережній та освітлення парку Молодіжного стосується великого "
        "обсягу інформації, тому строк його розгляду продовжено до 20 робочих днів.",
        # clarification asked
        "У запиті не зазначено, про який міст ідеться. Просимо уточнити запит, навівши назву вулиці.",
        # acknowledgement
        "Повідомляємо, що Ваш запит про ремонт мосту на вулиці Набережній зареєстровано 06.03.2019 за № 311. "
        "Відповідь по суті буде надано у встановлений законом строк.",
    ],
)
def test_letters_that_answer_nothing_return_no_match(index: PromiseIndex, body: str) -> None:
    assert match_letter(letter(body), fields("Рівне"), index) == []
    assert match_letter(letter(body), None, index) == []


def test_non_answer_phrase_does_not_hide_a_real_answer() -> None:
    assert not is_non_answer(
        "Ремонт мосту завершено, вартість робіт 12,4 млн грн. Про подальше Вас буде поінформовано."
    )
    assert is_non_answer("Запрос направлен по принадлежности в областную администрацию.")


def test_letter_about_nothing_in_registry_returns_empty(index: PromiseIndex) -> None:
    body = "Управління повідомляє, що у 2018 році проведено інвентаризацію зелених насаджень на кладовищі."
    assert match_letter(letter(body), fields("Рівне"), index) == []


def test_near_tie_is_flagged_with_alternatives() -> None:
    twins = [
        P(
            "A",
            "Іван Бойчук",
            "Рівненський міський голова",
            "Рівне",
            "Бойчук відремонтує дорогу на вулиці Зеленій",
            "",
            "uk",
        ),
        P(
            "B",
            "Іван Бойчук",
            "Рівненський міський голова",
            "Рівне",
            "Бойчук відремонтує дорогу на вулиці Зеленій",
            "",
            "uk",
        ),
    ]
    idx = PromiseIndex.build(twins)
    body = "Ремонт дороги на вулиці Зеленій виконано у 2018 році, вартість робіт 3 млн грн."
    matches = match_letter(letter(body), fields("Рівне"), idx)
    assert ids(matches) == {"A", "B"}
    for m in matches:
        assert m.near_tie is True
        assert [a for a, _ in m.alternatives] == [("B" if m.promise_id == "A" else "A")]


def test_school_numbers_tell_promises_apart() -> None:
    idx = PromiseIndex.build(
        [
            P(
                "S5",
                "Іван Бойчук",
                "Рівненський міський голова",
                "Рівне",
                "Бойчук замінить вікна у школі № 5",
                "",
                "uk",
            ),
            P(
                "S7",
                "Іван Бойчук",
                "Рівненський міський голова",
                "Рівне",
                "Бойчук замінить вікна у школі № 7",
                "",
                "uk",
            ),
        ]
    )
    body = "У школі № 7 замінено 120 вікон, роботи завершено в серпні 2018 року."
    best = max(match_letter(letter(body), fields("Рівне"), idx, threshold=0.0), key=lambda m: m.score)
    assert best.promise_id == "S7"


def test_politician_name_in_any_case_form_is_reported(index: PromiseIndex) -> None:
    body = "На виконання доручення міського голови О. Петренка капітальний ремонт мосту на вулиці Набережній завершено."
    (m,) = match_letter(letter(body), fields("Рівне"), index)
    assert m.promise_id == "RIV-1"
    assert m.features["name"] == "Петренка"
    assert m.features["office"] == "mayor"


def test_threshold_one_returns_nothing(index: PromiseIndex) -> None:
    assert match_letter(letter(BRIDGE_UK), fields("Рівне"), index, threshold=1.01) == []


def test_spelling_skeleton_and_terms_cross_the_language_gap() -> None:
    assert skel("Тернопіль") == skel("Тернопиль")
    assert terms_of("освещения", "ru")[0] == terms_of("освітлення", "uk")[0]
    assert terms_of("правительства", "ru")[0] == terms_of("врядування", "uk")[0]
    assert terms_of("троллейбусов", "ru")[0] == terms_of("тролейбусів", "uk")[0]
    assert terms_of("і", "uk")[0] == ()
    assert terms_of("мосту", "uk")[1] == "міст"


@pytest.mark.parametrize(
    "city,forms",
    [
        ("Тернопіль", ["Тернополя", "Тернопільська", "Тернопольский"]),
        ("Суми", ["Сумська", "Суми", "Сумской"]),
        ("Луцьк", ["Луцька", "Луцкий"]),
        ("Кривий Ріг", ["Криворізька", "Кривого"]),
    ],
)
def test_city_forms_are_recognised(city: str, forms: list[str]) -> None:
    from pipeline.stages.match import _token_is_city

    keys = city_keys(city)
    assert all(_token_is_city(f, keys) for f in forms)
    assert not _token_is_city("сума", keys) and not _token_is_city("Ремонт", keys)


def test_odd_input_never_raises(index: PromiseIndex) -> None:
    for raw in ("", "\f\f", "12345 ~~~ |||", "а" * 5000, "1.\n2.\n3."):
        lt = LetterText("X", [PageText(1, raw, TextSource.OCR, 0.0, 0.0)])
        assert match_letter(lt, None, index) == []


def test_letter_from_a_city_without_promises_matches_no_other_city(index: PromiseIndex) -> None:
    kovel = "КОВЕЛЬСЬКА МІСЬКА РАДА\n45000, м. Ковель, вул. Незалежності, 73"
    assert match_letter(letter(BRIDGE_UK, kovel), None, index) == []
    assert match_letter(letter(BRIDGE_UK, kovel), fields("Ковель"), index) == []


def test_two_topics_in_one_unmarked_paragraph_both_match(index: PromiseIndex) -> None:
    body = (
        "Міська рада на Ваш запит повідомляє. Капітальний ремонт мосту на вулиці Набережній завершено у 2018 році. "
        "Дитячий садок у мікрорайоні Північному відкрито у вересні 2018 року, до нього зараховано 220 дітей."
    )
    assert ids(match_letter(letter(body), fields("Рівне"), index)) == {"RIV-1", "RIV-3"}


def test_ocr_latin_lookalikes_and_line_breaks_are_tolerated(index: PromiseIndex) -> None:
    # "c", "i", "o" below are Latin letters, as OCR sometimes produces; lines break inside the paragraph.
    body = "Капiтальний peмонт мocту на вулицi\nНабережнiй завершено у жовтні 2018\nроку, вартість робіт 12,4 млн грн."
    assert ids(match_letter(letter(body), None, index)) == {"RIV-1"}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Запит в частині ремонту даху передано для опрацювання управлінню освіти.", True),
        ("Ваш запрос направлен по принадлежности в областную администрацию.", True),
        ("Срок рассмотрения запроса продлен до 20 рабочих дней.", True),
        ("У задоволенні запиту відмовлено, оскільки інформація не існує.", True),
        ("Міська рада не є розпорядником запитуваної інформації щодо ремонту траси.", True),
        # An incoming forwarded request that is then answered, and ordinary uses of the same verbs.
        ("Ваш запит, надісланий за належністю міською радою, розглянуто. Ремонт дороги завершено.", False),
        ("Проєкт рішення передано на розгляд сесії міської ради.", False),
        ("Срок действия договора продлен до конца года, работы продолжаются.", False),
    ],
)
def test_non_answer_cues(text: str, expected: bool) -> None:
    assert is_non_answer(text) is expected


def test_one_promise_answered_over_several_points() -> None:
    idx = PromiseIndex.build(
        [
            P(
                "SCH",
                "Іван Мельник",
                "Рівненський міський голова",
                "Рівне",
                "Мельник замінить вікна, покрівлю та опалення у школі № 3",
                "",
                "uk",
            ),
            P(
                "BUS",
                "Іван Мельник",
                "Рівненський міський голова",
                "Рівне",
                "Мельник закупить 20 нових автобусів",
                "",
                "uk",
            ),
        ]
    )
    body = (
        "Управління освіти повідомляє про виконані роботи.\n"
        "1. Замінено 120 вікон на енергозберігаючі.\n"
        "2. Відремонтовано покрівлю площею 900 м².\n"
        "3. У школі № 3 модернізовано систему опалення."
    )
    (m,) = match_letter(letter(body), fields("Рівне"), idx)
    assert m.promise_id == "SCH" and m.features["whole_letter"] is True
    assert m.passage.text.startswith("3.")  # the point sharing most with the promise is the basis


def test_unknown_field_city_yields_to_a_registry_city_in_the_letterhead(index: PromiseIndex) -> None:
    # The field stage read the addressee's city; the letterhead says Рівне.
    assert ids(match_letter(letter(BRIDGE_UK), fields("Київ"), index)) == {"RIV-1"}


def test_same_kind_promise_without_its_own_words_is_not_a_second_answer() -> None:
    idx = PromiseIndex.build(
        [
            P(
                "SH",
                "Олег Шевчук",
                "Рівненський міський голова",
                "Рівне",
                "Шевчук відремонтує вулицю Шевченка",
                "",
                "uk",
            ),
            P("FR", "Олег Шевчук", "Рівненський міський голова", "Рівне", "Шевчук відремонтує вулицю Франка", "", "uk"),
        ]
    )
    body = "Капітальний ремонт вулиці Шевченка завершено у 2018 році, вартість робіт 14 млн грн."
    assert ids(match_letter(letter(body), fields("Рівне"), idx)) == {"SH"}


# --- national promises (no city) ------------------------------------------------------------------

NATIONAL = [
    P("NAT-1", "Остап Гнатюк", "Голова Державного агентства енергоефективності", "",
      "Гнатюк запровадить програму утеплення шкіл у 2019 році",
      "Агентство обіцяло програму державної підтримки утеплення шкільних будівель.", "uk"),
    P("RIV-9", "Петро Коваль", "Рівненський міський голова", "Рівне",
      "Коваль відкриє новий дитячий садок на вулиці Шкільній",
      "Дитячий садок на 120 місць.", "uk"),
]


def test_registry_accepts_a_national_promise_without_city() -> None:
    from pipeline.stages.registry import parse_registry

    rows = parse_registry(
        "promise_id,politician,office,city,said_on,title,description,lang\n"
        "NAT-1,Остап Гнатюк,Міністр,,,Гнатюк запровадить програму,,uk\n"
    )
    assert rows[0].city == "" and rows[0].said_on is None


def test_national_promise_matched_from_a_ministry_letter() -> None:
    index = PromiseIndex.build(NATIONAL)
    ministry = "ДЕРЖАВНЕ АГЕНТСТВО З ЕНЕРГОЕФЕКТИВНОСТІ\nТА ЕНЕРГОЗБЕРЕЖЕННЯ УКРАЇНИ\n01601, м. Київ, вул. Антоновича, 8"
    body = ("На Ваш запит повідомляємо, що програму державної підтримки утеплення шкільних будівель "
            "затверджено, у 2019 році утеплено 40 шкіл.")
    f = fields("Київ")
    f.sender_org = FieldValue(value="Державне агентство з енергоефективності та енергозбереження України")
    assert ids(match_letter(letter(body, ministry), f, index)) == {"NAT-1"}
    # The kindergarten letter of a city council still goes to the city's promise.
    kg = "Новий дитячий садок на вулиці Шкільній відкрито у вересні, він прийняв 120 дітей."
    assert ids(match_letter(letter(kg), fields("Рівне"), index)) == {"RIV-9"}


@pytest.mark.parametrize("text", [
    "Ваш запит щодо ремонту доріг надіслано належному розпоряднику інформації – обласній державній адміністрації. "
    "Відповідь по суті запиту Вам надасть адміністрація у встановлений законом строк.",
    "Запитувана інформація потребує пошуку, тому виконавчий комітет продовжує строк розгляду Вашого запиту "
    "до 20 робочих днів.",
    "Срок рассмотрения Вашего запроса о строительстве бассейна продлен до 20 рабочих дней.",
])
def test_forwarding_and_extension_in_the_laws_own_words_are_non_answers(text: str) -> None:
    assert is_non_answer(text)
