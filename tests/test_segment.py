"""Segmentation on invented letters: body found, split at points and topic openers, spans exact."""

from __future__ import annotations

from pipeline.schema import LetterText, PageText, TextSource
from pipeline.stages.segment import find_regions, segment


def make_text(raw: str, letter_id: str = "T1") -> LetterText:
    pages = raw.split("\f")
    return LetterText(letter_id, [PageText(i + 1, p, TextSource.TEXT_LAYER, 0.0, 0.0) for i, p in enumerate(pages)])


NUMBERED = """УКРАЇНА
ОСТРОЗЬКА МІСЬКА РАДА
35800, м. Острог, вул. Академічна, 3, тел. (03654) 2-11-11
e-mail: rada@example.org, код ЄДРПОУ 11111111

12.05.2018 № 7/2-115
На № 44 від 02.05.2018

ГО «Громадський контроль»
03001, м. Київ, вул. Прикладна, 1

Про надання інформації

Міська рада розглянула Ваш запит і повідомляє.
1. Міст через річку Вілія на вулиці Береговій відремонтовано у квітні 2018 року.
Вартість робіт склала 2,4 млн грн.
2) Щодо освітлення парку: встановлено 40 світильників.
3. Дитячий садок у мікрорайоні Замковий відкрито 1 вересня 2017 року.

Міський голова                                        П. Гнатюк
Вик. Савчук 2-12-12
"""


def test_numbered_points_become_passages_and_intro_is_dropped() -> None:
    text = make_text(NUMBERED)
    passages = segment(text)
    assert len(passages) == 3
    assert passages[0].text.startswith("1. Міст через річку")
    assert "2,4 млн грн" in passages[0].text  # the point's continuation line stays with it
    assert passages[1].text.startswith("2) Щодо освітлення")
    assert passages[2].text.startswith("3. Дитячий садок")
    assert [p.index for p in passages] == [0, 1, 2]


def test_spans_map_back_to_full_text() -> None:
    text = make_text(NUMBERED)
    full = text.full_text
    for p in segment(text):
        assert full[p.start : p.end] == p.text
        assert p.page == 1


def test_letterhead_recipient_and_signature_are_not_body() -> None:
    passages = segment(make_text(NUMBERED))
    joined = " ".join(p.text for p in passages)
    for outside in ("ЄДРПОУ", "Громадський контроль", "Про надання інформації", "П. Гнатюк", "Вик. Савчук"):
        assert outside not in joined


def test_subject_line_is_found() -> None:
    assert find_regions(NUMBERED).subject == "Про надання інформації"


TOPIC_OPENERS = """ИСПОЛНИТЕЛЬНЫЙ КОМИТЕТ
ИЗМАИЛЬСКОГО ГОРОДСКОГО СОВЕТА
68600, г. Измаил, пр. Мира, 1, тел. (04841) 1-11-11

«03» марта 2017 г. № 112/01
На № 9 от 20.02.2017

Уважаемый господин Иванов!
Сообщаем следующее.
Относительно ремонта набережной: работы завершены в декабре 2016 года.
Стоимость работ составила 3,1 млн гривен.
По вопросу вывоза мусора: заключен договор с новым перевозчиком.

Первый заместитель городского головы                  С. Марченко
"""


def test_russian_topic_openers_split_passages() -> None:
    passages = segment(make_text(TOPIC_OPENERS))
    assert [p.text.split(":")[0] for p in passages] == ["Относительно ремонта набережной", "По вопросу вывоза мусора"]
    assert "3,1 млн гривен" in passages[0].text


def test_one_topic_letter_is_one_passage_with_page_numbers() -> None:
    raw = (
        "КОВЕЛЬСЬКА МІСЬКА РАДА\n45000, м. Ковель, вул. Незалежності, 73\n\n"
        "01.02.2016 № 5\n\nГО «Громадський контроль»\n\n"
        "Управління повідомляє, що капітальний ремонт стадіону розпочато у січні 2016 року.\n"
        "\fРоботи виконано на 30 %, завершення заплановано на травень.\n\n"
        "Начальник управління                                 О. Кравчук\n"
    )
    text = make_text(raw)
    passages = segment(text)
    assert len(passages) == 1
    p = passages[0]
    assert text.full_text[p.start : p.end] == p.text
    assert p.page == 1 and "\f" in p.text and p.text.endswith("на травень.")
    assert text.page_of(p.end - 1) == 2


def test_ocr_broken_paragraphs_keep_their_lines() -> None:
    # OCR breaks paragraphs into short lines with blank lines between blocks and loses the signature gap.
    raw = (
        "ДУБЕНСЬКА МІСЬКА РАДА\n\n35600, м. Дубно, вул. Д. Галицького, 5\n\n"
        "14.09.2017 Ме 02-11/501\nНа № 12 від 01.09.2017\n\n"
        "ГО «Громадський контроль»\n\n"
        "Про ремонт дороги на вулиці\nЗамковій\n\n"
        "Управління житлово-комунального господарства\nповідомляє.\n\n"
        "Ремонт дороги на вулиці Замковій виконано у серпні\n"
        "2017 року, вартість робіт склала 1,2 млн грн.\n\n"
        "Заступник міського голови В. Мельник\n\nВик. Олійник 2-22-22\n"
    )
    regions = find_regions(raw)
    assert regions.subject == "Про ремонт дороги на вулиці Замковій"
    passages = segment(make_text(raw))
    assert len(passages) == 1
    assert passages[0].text.startswith("Управління житлово-комунального")
    assert passages[0].text.endswith("1,2 млн грн.")


def test_empty_and_junk_text_give_no_passages() -> None:
    assert segment(make_text("")) == []
    assert segment(make_text("~~~ ||| ###\n\n12 34")) == []


def test_a_name_inside_the_body_does_not_end_it() -> None:
    raw = (
        "КОВЕЛЬСЬКА МІСЬКА РАДА\n45000, м. Ковель, вул. Незалежності, 73\n\n01.02.2016 № 5\n\n"
        "Управління повідомляє, що ремонт даху школи виконало ТОВ «Дах-Сервіс».\n"
        "Відповідальний за роботи О. Кравчук\n"
        "Роботи завершено у вересні 2016 року, вартість робіт склала 1,1 млн грн, гарантія підрядника 5 років.\n\n"
        "Начальник управління                                 П. Гнатюк\n"
    )
    (p,) = segment(make_text(raw))
    assert p.text.endswith("гарантія підрядника 5 років.")


def test_other_point_markers() -> None:
    raw = (
        "ДУБЕНСЬКА МІСЬКА РАДА\n35600, м. Дубно, вул. Д. Галицького, 5\n\n14.09.2017 № 02-11/501\n\n"
        "По першому питанню повідомляємо, що ремонт даху школи № 2 завершено.\n"
        "По другому питанню: світильники на вулиці Замковій замінено у серпні.\n"
        "а) роботи оплачено з міського бюджету;\n"
        "З приводу пасажирських перевезень: маршрут № 5 відкрито з 1 вересня.\n\n"
        "Міський голова                                        В. Антонюк\n"
    )
    passages = segment(make_text(raw))
    assert [p.text.split()[0] for p in passages] == ["По", "По", "З"]
    assert "а) роботи оплачено" in passages[1].text  # a sub-item stays with its point
    lettered = (
        raw.replace("По першому питанню повідомляємо, що р", "а) Р")
        .replace("По другому питанню: с", "б) С")
        .replace("а) роботи оплачено з міського бюджету;\n", "")
        .replace("З приводу пасажирських перевезень: м", "в) М")
    )
    assert [p.text[:2] for p in segment(make_text(lettered))] == ["а)", "б)", "в)"]


def test_a_one_line_body_naming_a_street_is_body() -> None:
    raw = (
        "ЧЕРКАСЬКА МІСЬКА РАДА\n18000, м. Черкаси, вул. Б. Вишневецького, 36\n\n05.06.2018 № 12/3\n\n"
        "Будівництво басейну по вул. Гагаріна розпочато у квітні 2018 року, виконано 25 % робіт.\n\n"
        "Міський голова                                        А. Бондаренко\n"
    )
    (p,) = segment(make_text(raw))
    assert p.text.startswith("Будівництво басейну")


def test_body_opening_with_a_topic_phrase_is_not_a_subject() -> None:
    raw = (
        "ДУБЕНСЬКА МІСЬКА РАДА\n35600, м. Дубно, вул. Д. Галицького, 5\n\n14.09.2017 № 02-11/501\n\n"
        "Щодо ремонту дороги на вулиці Замковій повідомляємо, що роботи\n"
        "виконано у серпні 2017 року, вартість склала 1,2 млн грн.\n\n"
        "Міський голова                                        В. Антонюк\n"
    )
    assert find_regions(raw).subject is None
    (p,) = segment(make_text(raw))
    assert p.text.startswith("Щодо ремонту дороги")
