"""Generated letters: many cities, senders, date lines, request lines and signatures.

Every combination is built from hand-written parts (none from the dev set), so
the expected values are known without running any of the extractor's logic.
A second pass adds raw-OCR-style noise to the same letters.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest

from pipeline.schema import LetterText, PageText, TextSource
from pipeline.stages.dates import format_date
from pipeline.stages.fields import extract_fields


@dataclass(frozen=True)
class City:
    name: str  # Ukrainian nominative
    nom: str  # "РІВНЕНСЬКА" (feminine nominative, capitals)
    gen: str  # "Рівненської" (feminine genitive)
    ru_name: str
    ru_nom: str  # "РОВЕНСКИЙ"
    ru_gen: str  # "Ровенского"


CITIES = [
    City("Рівне", "РІВНЕНСЬКА", "Рівненської", "Ровно", "РОВЕНСКИЙ", "Ровенского"),
    City("Львів", "ЛЬВІВСЬКА", "Львівської", "Львов", "ЛЬВОВСКИЙ", "Львовского"),
    City("Одеса", "ОДЕСЬКА", "Одеської", "Одесса", "ОДЕССКИЙ", "Одесского"),
    City("Харків", "ХАРКІВСЬКА", "Харківської", "Харьков", "ХАРЬКОВСКИЙ", "Харьковского"),
    City("Черкаси", "ЧЕРКАСЬКА", "Черкаської", "Черкассы", "ЧЕРКАССКИЙ", "Черкасского"),
    City("Кременчук", "КРЕМЕНЧУЦЬКА", "Кременчуцької", "Кременчуг", "КРЕМЕНЧУГСКИЙ", "Кременчугского"),
    City("Біла Церква", "БІЛОЦЕРКІВСЬКА", "Білоцерківської", "Белая Церковь", "БЕЛОЦЕРКОВСКИЙ", "Белоцерковского"),
    City("Миколаїв", "МИКОЛАЇВСЬКА", "Миколаївської", "Николаев", "НИКОЛАЕВСКИЙ", "Николаевского"),
    City("Запоріжжя", "ЗАПОРІЗЬКА", "Запорізької", "Запорожье", "ЗАПОРОЖСКИЙ", "Запорожского"),
    City(
        "Кам'янець-Подільський",
        "КАМ'ЯНЕЦЬ-ПОДІЛЬСЬКА",
        "Кам'янець-Подільської",
        "Каменец-Подольский",
        "КАМЕНЕЦ-ПОДОЛЬСКИЙ",
        "Каменец-Подольского",
    ),
]

UNITS_UK = [
    ("ДЕПАРТАМЕНТ КУЛЬТУРИ", "Департамент культури"),
    ("УПРАВЛІННЯ ЖИТЛОВО-КОМУНАЛЬНОГО ГОСПОДАРСТВА", "Управління житлово-комунального господарства"),
    ("ВИКОНАВЧИЙ КОМІТЕТ", "Виконавчий комітет"),
    ("ДЕПАРТАМЕНТ ЕКОНОМІКИ, ІНВЕСТИЦІЙ ТА ТУРИЗМУ", "Департамент економіки, інвестицій та туризму"),
]


OBLAST_CENTRES = {"Рівне", "Львів", "Одеса", "Харків", "Черкаси", "Миколаїв", "Запоріжжя"}


def uk_sender(city: City, kind: int) -> tuple[list[str], str]:
    council = f"{city.nom} МІСЬКА РАДА"
    if kind == 5 and city.name in OBLAST_CENTRES:
        return [f"{city.nom} ОБЛАСНА ДЕРЖАВНА АДМІНІСТРАЦІЯ", "ДЕПАРТАМЕНТ ОСВІТИ І НАУКИ"], (
            f"Департамент освіти і науки {city.gen} обласної державної адміністрації"
        )
    if kind == 0:
        return [council], council.capitalize().replace(city.nom.capitalize(), city.gen.replace("ої", "а"))
    unit_caps, unit = UNITS_UK[kind % len(UNITS_UK)]
    if kind % 3 == 0:  # genitive parent on the second line
        return [unit_caps, f"{city.gen.upper()} МІСЬКОЇ РАДИ"], f"{unit} {city.gen} міської ради"
    if kind % 3 == 1:  # nominative parent first, the unit below
        return ["УКРАЇНА", council, unit_caps], f"{unit} {city.gen} міської ради"
    return ["КОМУНАЛЬНЕ ПІДПРИЄМСТВО «ЧИСТЕ МІСТО»", f"{city.gen.upper()} МІСЬКОЇ РАДИ"], (
        f"КП «Чисте місто» {city.gen} міської ради"
    )


def ru_sender(city: City, kind: int) -> tuple[list[str], str]:
    if kind % 2 == 0:
        return [f"{city.ru_nom} ГОРОДСКОЙ СОВЕТ"], f"{city.ru_nom.capitalize()} городской совет".replace(
            city.ru_nom.capitalize(), city.ru_nom[:1] + city.ru_nom[1:].lower()
        )
    return ["ИСПОЛНИТЕЛЬНЫЙ КОМИТЕТ", f"{city.ru_gen.upper()} ГОРОДСКОГО СОВЕТА"], (
        f"Исполнительный комитет {city.ru_gen} городского совета"
    )


def _fix_hyphen_caps(org: str, city: City) -> str:
    # "Кам'янець-подільська" from str.capitalize() -> the printed proper name
    return org.replace(city.gen.replace("ої", "а").lower().capitalize(), city.gen.replace("ої", "а"))


SIGNATURES_UK = [
    ("Начальник управління", "Марія ГОНЧАРУК", "Марія Гончарук"),
    ("Директор департаменту", "П. ВЕРЕЩАК", "П. Верещак"),
    ("Заступник міського голови", "Д.С. Коломієць", "Д.С. Коломієць"),
    ("Заступник міського голови з питань\nдіяльності виконавчих органів ради", "Ігор КРАВЧУК", "Ігор Кравчук"),
    ("В.о. начальника управління", "Ю. П'ЯТНИЦЯ", "Ю. П'ятниця"),
]
SIGNATURES_RU = [
    ("Заместитель городского головы", "Н.П. Сорокин", "Н.П. Сорокин"),
    ("Секретарь городского совета", "Анна ЛЕБЕДЕВА", "Анна Лебедева"),
    ("Заместитель городского головы\nпо вопросам деятельности\nисполнительных органов", "О. Ким", "О. Ким"),
]


def build(i: int, noisy: bool) -> tuple[str, dict[str, str | None]]:
    rnd = random.Random(i)
    city = CITIES[i % len(CITIES)]
    ru = i % 4 == 3
    if ru:
        head, org = ru_sender(city, i)
        address = f"{rnd.randint(10000, 99999)}, г. {city.ru_name}, ул. Образцовая, {rnd.randint(1, 90)}"
    else:
        head, org = uk_sender(city, i % 7)
        org = _fix_hyphen_caps(org, city)
        address = f"{rnd.randint(10000, 99999)}, м. {city.name}, вул. Зразкова, {rnd.randint(1, 90)}"
    date = dt.date(2014, 1, 1) + dt.timedelta(days=rnd.randint(0, 2000))
    req = date - dt.timedelta(days=rnd.randint(3, 20))
    number = f"{rnd.randint(1, 12):02d}-{rnd.randint(1, 40)}/{rnd.randint(10, 5000)}"
    req_no = str(rnd.randint(1, 300))
    fmt_uk = ["dd.mm.yyyy", "dd.mm.yyyy р.", "«dd» month_uk yyyy р.", "d month_uk yyyy року", "dd.mm.yy"]
    fmt_ru = ["dd.mm.yyyy", "dd.mm.yyyy г.", "«dd» month_ru yyyy г.", "d month_ru yyyy г."]
    dtext = format_date(date, rnd.choice(fmt_ru if ru else fmt_uk))
    frm = "от" if ru else "від"
    date_line = rnd.choice(
        [
            f"{dtext} № {number}",
            f"{'Исх.' if ru else 'Вих.'} № {number} {frm} {dtext}",
            f"{frm} {dtext} № {number}",
            f"№ {number} {frm} {dtext}",
        ]
    )
    req_kind = rnd.randint(0, 4)
    req_line = {
        0: f"На № {req_no} {frm} {req:%d.%m.%Y}",
        1: f"На {'ваш запрос' if ru else 'Ваш запит'} {frm} {req:%d.%m.%Y} № {req_no}",
        2: f"({'на запрос' if ru else 'на запит'} {frm} {req:%d.%m.%Y} № {req_no})",
        3: "",
        4: "",
    }[req_kind]
    position, printed, name = rnd.choice(SIGNATURES_RU if ru else SIGNATURES_UK)
    if ru:
        body = [
            "Сообщаем, что по состоянию на 01.03.2016 работы по ремонту сквера выполнены на сумму 1,2 млн гривен.",
            "Решением городского совета от 12.02.2016 № 45 на эти цели предусмотрены средства в бюджете города.",
        ]
    else:
        body = [
            "Повідомляємо, що станом на 01.03.2016 роботи з ремонту скверу виконано на суму 1,2 млн гривень.",
            "Рішенням міської ради від 12.02.2016 № 45 на ці цілі передбачено кошти в бюджеті міста.",
        ]
    if req_kind == 4:  # the request is cited in the first sentence of the body
        body.insert(
            0,
            f"Рассмотрев ваш запрос от {req:%d.%m.%Y} № {req_no}, сообщаем следующее."
            if ru
            else f"Розглянувши Ваш запит від {req:%d.%m.%Y} № {req_no}, повідомляємо таке.",
        )
    addressee = "ОО «Прозрачный бюджет»" if ru else "ГО «Прозорий бюджет»"
    if noisy:
        date_line = date_line.replace("№", rnd.choice(["Мо", "Ме", "N"]), 1).replace("від", rnd.choice(["від", "вд"]))
        date_line = date_line.replace("«", "((").replace("»", "))") if rnd.random() < 0.3 else date_line
        req_line = req_line.replace("№", rnd.choice(["Мо", "Ме", "№"]), 1)
        date_line = date_line.replace("0", "О", 1) if rnd.random() < 0.5 else date_line
        date_line = f"{date_line}   {addressee}"  # the right column merged into the line
        sig = f"{position} | ж {printed}"
        if rnd.random() < 0.3:  # a stamp fragment between the body and the signature
            body = [*body, "АТ ©"]
        lines = ["її", *head, address, "е-таї!: гада@ехатріе.ога", "", date_line, req_line, "", *body, "", sig]
    else:
        sig = f"{position}{' ' * 20}{printed}" if rnd.random() < 0.8 else f"{position}\n{' ' * 50}{printed}"
        lines = [*head, address, "", date_line, req_line, "", addressee, "", *body, "", "З повагою", sig]
    lines.append("Исп. Петренко 11-22-33" if ru else "Вик. Петренко 11-22-33")
    expected = {
        "letter_date": date.isoformat(),
        "outgoing_number": number,
        "request_date": None if req_kind == 3 else req.isoformat(),
        "request_number": None if req_kind == 3 else req_no,
        "sender_org": org,
        "sender_city": city.name,
        "signatory_name": name,
        "signatory_position": position.replace("\n", " "),
        "language": "ru" if ru else "uk",
    }
    return "\n".join(lines) + "\n", expected


@pytest.mark.parametrize("noisy", [False, True], ids=["typed", "ocr-noise"])
def test_generated_letters(noisy: bool) -> None:
    wrong = []
    for i in range(120):
        text, expected = build(i, noisy)
        source = TextSource.OCR if noisy else TextSource.TEXT_LAYER
        got = extract_fields(LetterText(f"G{i}", [PageText(1, text, source, 0.0, 0.0)])).values()
        wrong += [f"#{i} {k}: want {v!r} got {got[k]!r}" for k, v in expected.items() if got[k] != v]
    assert not wrong, "\n".join(wrong[:30])
