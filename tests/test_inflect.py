"""Genitives for promise-page citations, on a generator of our own: positions, bodies and people
(both genders, several name layouts), checked by a second method rather than trusted: each cited
word is parsed back and its pymorphy3 lexeme must hold the nominative word (positions, bodies),
the surname must agree with the school-grammar endings table, and a hand-checked list pins exact
forms. All names below are invented for these tests."""

from __future__ import annotations

import itertools

import pytest

from pipeline.lang.draft import (
    check_result_paragraph,
    check_sources_line,
    date_in_words,
    parse_result_paragraph,
    result_paragraph,
    sources_line,
    trim_sentence,
)
from pipeline.lang.inflect import (
    genitive_person,
    genitive_phrase,
    genitive_surname,
    is_genitive_of,
    lexicon,
    parse_person,
    position_without_body,
    surname_genitive_by_rule,
    translate_phrase,
)
from pipeline.nlp import morph_analyzer

# City adjectives (feminine) and their masculine forms: real place names, no letters behind them.
CITY_ADJ = ["Зеленодольська", "Полтавська", "Житомирська", "Вінницька", "Луцька", "Сумська", "Ужгородська",
            "Черкаська", "Тернопільська", "Миколаївська", "Херсонська", "Кропивницька"]
DOMAINS = ["освіти", "охорони здоров'я", "житлово-комунального господарства", "культури і туризму",
           "капітального будівництва", "транспорту та зв'язку", "соціального захисту населення",
           "економічного розвитку", "молоді та спорту"]
MASC_FIRST = ["Андрій", "Богдан", "Василь", "Григорій", "Дмитро", "Євген", "Іван", "Остап", "Тарас", "Юрій",
              "Назар", "Олег"]
FEM_FIRST = ["Ганна", "Дарина", "Ірина", "Леся", "Марта", "Надія", "Оксана", "Соломія", "Уляна", "Христина",
             "Зоряна", "Віра"]
# Surname stems by declension type; the generator adds the endings.
MASC_SURNAMES = ["Федорків", "Загорній", "Гордійчук", "Панасюк", "Вербицький", "Остапенко", "Кульчицький", "Гуцуляк", "Стасюк",
                 "Лозинський", "Тимошенко", "Семенчук", "Кравцюк", "Пилипенко", "Кравчук", "Ярмолик", "Стельмащук",
                 "Заярний", "Тарнавський", "Шевчик"]
FEM_SURNAMES_DECLINED = ["Вербицька", "Кульчицька", "Лозинська", "Тарнавська", "Заярна", "Білозірська"]
FEM_SURNAMES_FIXED = ["Гордійчук", "Остапенко", "Панасюк", "Семенчук", "Пилипенко", "Кравцюк", "Ярмолик"]
POSITION_HEADS = ["Начальник", "Директор", "Секретар", "Заступник начальника", "Перший заступник",
                  "Головний спеціаліст", "Керуючий справами", "Голова", "Заступник голови", "Головний інженер",
                  "Завідувач сектору", "Міський голова"]
POSITION_REFS = ["", "управління", "відділу", "департаменту", "міської ради"]


def masc(adj_f: str) -> str:
    return adj_f[:-1] + "ий"


def gen_f(adj_f: str) -> str:
    return adj_f[:-1] + "ої"


def bodies() -> list[str]:
    out = []
    for city in CITY_ADJ:
        out += [f"{city} міська рада", f"Виконавчий комітет {gen_f(city)} міської ради",
                f"{city} обласна державна адміністрація", f"{masc(city)} міський центр зайнятості"]
        for d in DOMAINS:
            out += [f"Управління {d} {gen_f(city)} міської ради", f"Департамент {d} {gen_f(city)} міської ради",
                    f"Відділ {d} {gen_f(city)} міської ради"]
    out += ["Державна служба України з надзвичайних ситуацій (ДСНС)", "Міністерство освіти і науки України",
            "КП «Зеленбуд» Полтавської міської ради", "Служба у справах дітей у Сумській області"]
    return out


def positions() -> list[str]:
    return [f"{h} {r}".strip() for h, r in itertools.product(POSITION_HEADS, POSITION_REFS)]


def people() -> list[tuple[str, str, str, str]]:
    """(name as printed, surname, gender, initials expected)."""
    out = []
    for i, (first, sur) in enumerate(itertools.product(MASC_FIRST, MASC_SURNAMES)):
        layout = i % 4
        if layout == 0:
            out.append((f"{first} {sur}", sur, "masc", f"{first[0]}."))
        elif layout == 1:
            out.append((f"{first} {sur.upper()}", sur, "masc", f"{first[0]}."))
        elif layout == 2:
            out.append((f"{first[0]}. {sur}", sur, "masc", f"{first[0]}."))
        else:
            out.append((f"{first[0]}.П. {sur}", sur, "masc", f"{first[0]}. П."))
    for i, (first, sur) in enumerate(itertools.product(FEM_FIRST, FEM_SURNAMES_DECLINED + FEM_SURNAMES_FIXED)):
        out.append((f"{first} {sur}" if i % 2 else f"{first} {sur.upper()}", sur, "femn", f"{first[0]}."))
    return out


def test_the_generator_is_big_enough() -> None:
    assert len(bodies()) >= 200
    assert len(positions()) >= 50
    ps = people()
    assert len(ps) >= 200
    assert {g for _, _, g, _ in ps} == {"masc", "femn"}


def test_body_genitives_parse_back_to_their_nominative() -> None:
    bad = []
    for body in bodies():
        g = genitive_phrase(body, "uk")
        if not is_genitive_of(g, body, "uk"):
            bad.append((body, g))
    assert not bad, bad[:10]


def test_the_check_can_fail() -> None:
    """A nominative left as it is, or a wrong case, is caught by the second method."""
    for body in ["Полтавська міська рада", "Виконавчий комітет Сумської міської ради", "Департамент освіти Луцької міської ради"]:
        assert not is_genitive_of(body, body, "uk")
    assert not is_genitive_of("Полтавській міській раді", "Полтавська міська рада", "uk")  # dative
    assert not is_genitive_of("Полтавської міська ради", "Полтавська міська рада", "uk")


def test_position_genitives_parse_back() -> None:
    bad = [(p, genitive_phrase(p, "uk")) for p in positions() if not is_genitive_of(genitive_phrase(p, "uk"), p, "uk")]
    assert not bad, bad[:10]


def test_surnames_agree_with_the_endings_table_and_the_lexeme() -> None:
    uk = morph_analyzer("uk")
    bad = []
    for printed, surname, gender, initials in people():
        person = parse_person(printed)
        assert person is not None, printed
        if person.gender != gender or person.surname != surname:
            bad.append((printed, person))
            continue
        cited = genitive_person(printed)
        expected = f"{initials} {surname_genitive_by_rule(surname, gender)}"
        if cited != expected:
            bad.append((printed, cited, expected))
            continue
        gen = genitive_surname(surname, gender)
        if gen != surname:  # declined: its lexeme must hold the nominative
            if not any(f.word == surname.lower() for p in uk.parse(gen.lower()) if "gent" in p.tag for f in p.lexeme):
                bad.append((printed, gen, "not in lexeme"))
    assert not bad, bad[:10]


HAND_CHECKED = [
    # (position, body, name, the line a person wrote by hand)
    ("Секретар міської ради", "Зеленодольська міська рада", "Ярослав Гнатишин",
     "Лист секретаря Зеленодольської міської ради Я. Гнатишина"),
    ("Начальник управління", "Управління освіти Полтавської міської ради", "Ірина Вербицька",
     "Лист начальника Управління освіти Полтавської міської ради І. Вербицької"),
    ("Керуючий справами виконкому", "Виконавчий комітет Сумської міської ради", "О.П. Гуцуляк",
     "Лист керуючого справами Виконавчого комітету Сумської міської ради О. П. Гуцуляка"),
    ("Директор", "КП «Зеленбуд» Полтавської міської ради", "Марта Остапенко",
     "Лист директора КП «Зеленбуд» Полтавської міської ради М. Остапенко"),
    ("Міський голова", "Луцька міська рада", "Тарас Пилипенко",
     "Лист міського голови Луцької міської ради Т. Пилипенка"),
    ("Перший заступник голови", "Сумська обласна державна адміністрація", "Юрій Лозинський",
     "Лист першого заступника голови Сумської обласної державної адміністрації Ю. Лозинського"),
    ("В.о. начальника управління", "Управління капітального будівництва Черкаської міської ради", "Надія Заярна",
     "Лист в.о. начальника Управління капітального будівництва Черкаської міської ради Н. Заярної"),
    ("Заступник Голови Державної служби України з надзвичайних ситуацій",
     "Державна служба України з надзвичайних ситуацій (ДСНС)", "Андрій Семенчук",
     "Лист заступника Голови Державної служби України з надзвичайних ситуацій (ДСНС) А. Семенчука"),
    ("И. о. директора", "КП «Водограй» Криворожского городского совета", "О. Гнатюк",
     "Лист в. о. директора КП «Водограй» Криворізької міської ради О. Гнатюка"),
    ("Заступник міського голови – керуючий справами виконкому", "Виконавчий комітет Луцької міської ради",
     "Богдан Ярмолик",
     "Лист заступника міського голови – керуючого справами Виконавчого комітету Луцької міської ради Б. Ярмолика"),
    ("Головний лікар", "КНП «Міська лікарня № 2»", "Оксана Гордійчук",
     "Лист головного лікаря КНП «Міська лікарня № 2» О. Гордійчук"),
    ("Директор", "КП «Водограй» Криворожского городского совета", "В.Н. Бойцов",
     "Лист директора КП «Водограй» Криворізької міської ради В. Н. Бойцова"),
]


@pytest.mark.parametrize("position,body,name,expected", HAND_CHECKED)
def test_hand_checked_sources_lines(position: str, body: str, name: str, expected: str) -> None:
    lang = "ru" if "совет" in body else "uk"
    line = sources_line(position, body, name, lang)
    assert line == expected
    assert check_sources_line(line, position, body, name, lang)


def test_sources_check_catches_a_wrong_form() -> None:
    line = "Лист секретаря Зеленодольської міської ради Я. Гнатишин"  # surname left in the nominative
    assert not check_sources_line(line, "Секретар міської ради", "Зеленодольська міська рада", "Ярослав Гнатишин", "uk")
    line = "Лист секретар Зеленодольської міської ради Я. Гнатишина"
    assert not check_sources_line(line, "Секретар міської ради", "Зеленодольська міська рада", "Ярослав Гнатишин", "uk")


def test_generated_sources_lines_pass_the_check() -> None:
    ps = people()
    bs = bodies()
    pos = positions()
    bad = []
    for i in range(220):
        printed, *_ = ps[(i * 7) % len(ps)]
        b, p = bs[(i * 11) % len(bs)], pos[(i * 5) % len(pos)]
        line = sources_line(p, b, printed, "uk")
        if not check_sources_line(line, p, b, printed, "uk"):
            bad.append(line)
    assert not bad, bad[:10]


def test_position_drops_the_body_it_names() -> None:
    assert position_without_body("Секретар міської ради", "Полтавська міська рада", "uk") == "Секретар"
    assert position_without_body("Начальник управління", "Управління освіти Луцької міської ради", "uk") == "Начальник"
    assert position_without_body("Начальник управління", "Луцька міська рада", "uk") == "Начальник управління"
    assert position_without_body("Председатель районного в городе совета", "Терновский районный в городе совет",
                                 "ru") == "Председатель"


def test_bodies_translate_with_agreement() -> None:
    assert translate_phrase("Полтавська міська рада", "uk", "ru") == "Полтавский городской совет"
    assert translate_phrase("Виконавчий комітет Сумської міської ради", "uk", "ru") == \
        "Исполнительный комитет Сумского городского совета"
    assert translate_phrase("Управління освіти і науки Луцької міської ради", "uk", "ru") == \
        "Управление образования и науки Луцкого городского совета"
    assert translate_phrase("Криворожский городской совет", "ru", "uk") == "Криворізька міська рада"
    assert translate_phrase("Управління бджільництва Луцької міської ради", "uk", "ru") is None  # not in the lexicon


def test_result_paragraphs_in_both_languages_read_back() -> None:
    uk = result_paragraph("Полтавська міська рада", "Секретар міської ради", "Я. Гнатишин", "2014-11-07",
                          "Повідомляємо, що делегації міської ради відвідали місто-побратим.", "uk", "uk")
    assert uk == ("Згідно з листом Полтавської міської ради від 7 листопада 2014 року, делегації міської ради "
                  "відвідали місто-побратим.")
    ru = result_paragraph("Полтавська міська рада", None, None, "2014-11-07", "Роботи тривають.", "uk", "ru")
    assert ru == "Согласно письму Полтавского городского совета от 7 ноября 2014 года, роботи тривають (на языке письма)."
    cited = parse_result_paragraph(ru)
    assert cited is not None and cited.date == "2014-11-07" and cited.sender == "Полтавского городского совета"
    assert check_result_paragraph(ru, "Полтавська міська рада", "2014-11-07", "uk") == \
        {"parsed": True, "date": True, "sender": True}
    wrong = check_result_paragraph(ru, "Сумська міська рада", "2014-11-08", "uk")
    assert wrong == {"parsed": True, "date": False, "sender": False}
    assert check_result_paragraph("Лист без формули", "Полтавська міська рада", "2014-11-07", "uk")["parsed"] is False
    # A sender with a comma and an undated letter still read back.
    p = result_paragraph("Міністерство освіти і науки, молоді та спорту України", None, None, None, "Так.", "uk", "uk")
    assert parse_result_paragraph(p).sender == "Міністерства освіти і науки, молоді та спорту України"
    assert parse_result_paragraph(p).date is None


def test_dates_and_boilerplate() -> None:
    assert date_in_words("2020-03-01", "uk") == "1 березня 2020"
    assert date_in_words("2020-12-31", "ru") == "31 декабря 2020"
    assert date_in_words("not a date", "uk") is None
    assert len(lexicon().months["uk"]) == 12
    assert trim_sentence("Інформуємо, що Парк відкрито.", "uk") == "парк відкрито"
    assert trim_sentence("Сообщаем, что ремонт завершен.", "ru") == "ремонт завершен"
    assert trim_sentence("КП «Зеленбуд» висадило 40 дерев.", "uk") == "КП «Зеленбуд» висадило 40 дерев"
    assert trim_sentence("Полтава отримала субвенцію.", "uk") == "Полтава отримала субвенцію"


def test_a_paragraph_without_a_usable_sentence_says_so() -> None:
    for evidence in (None, "", "2.", "а)"):
        p = result_paragraph("Полтавська міська рада", None, None, "2020-01-02", evidence, "uk", "uk")
        assert p == "Згідно з листом Полтавської міської ради від 2 січня 2020 року, речення, що вирішує статус, у листі не виділено."


def test_drafting_is_deterministic() -> None:
    args = ("Начальник управління", "Управління освіти Полтавської міської ради", "Ірина Вербицька", "uk")
    assert len({sources_line(*args) for _ in range(3)}) == 1
