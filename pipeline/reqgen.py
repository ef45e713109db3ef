"""A generator of official-letter requisites (ДСТУ 4163), typed and as noisy OCR-like text.

Every letter head is drawn from the variant families below, built from hand-written parts
(invented people and organisations; real city and state-body names), so the expected
field values are known without running any extraction logic:

* ``letterhead``: a council; a unit over its parent in the genitive; the parent in the
  nominative over its unit; the same under a line "УКРАЇНА"; an executive committee; a
  council-owned КП with its parent on the next line; an ОДА department; a district council's
  executive committee in a city; a ministry; a state agency with its short name in brackets;
  Kyiv's "виконавчий орган … (… державна адміністрація)" over a department; Russian councils.
* ``date_number``: "від 18.10.2016 № 12/03", "26.01.16 N 07-12/244", "Nº", "вих. № … від …",
  a number line with the date below, month words, hand-filled register blanks, Russian forms.
* ``request``: "На № … від …", "на запит від … № …", "На Ваш лист від …", "На Ваш запрос от …", none.
* ``signature``: "Власне ім'я ПРІЗВИЩЕ", "І. Прізвище", "І.П. Прізвище", acting heads,
  positions over two lines (also continued after a dash).

:func:`noisy` renders a letter as raw OCR would: "№" as "Ме"/"Мо"/"N"/"Nº" (or a lone
"М", the number sometimes pushed to the next line), Latin look-alikes inside words,
"Вих." as "Bux.", a dot before the date or a colon for its second dot, the capital І of
a first name as "і"/"Г" and of an initial as "|", hyphenated compounds split across
lines, the parent body's last word lost, one letter of a position word misread.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field

from pipeline.stages.dates import format_date


@dataclass(frozen=True)
class City:
    name: str
    adj_nom: str  # "ВІННИЦЬКА"
    adj_gen: str  # "Вінницької"
    ru_name: str
    ru_nom: str  # "ВИННИЦКИЙ"
    ru_gen: str  # "Винницкого"
    oblast_centre: bool = True


CITIES = (
    City("Вінниця", "ВІННИЦЬКА", "Вінницької", "Винница", "ВИННИЦКИЙ", "Винницкого"),
    City("Житомир", "ЖИТОМИРСЬКА", "Житомирської", "Житомир", "ЖИТОМИРСКИЙ", "Житомирского"),
    City("Полтава", "ПОЛТАВСЬКА", "Полтавської", "Полтава", "ПОЛТАВСКИЙ", "Полтавского"),
    City("Суми", "СУМСЬКА", "Сумської", "Сумы", "СУМСКОЙ", "Сумского"),
    City("Тернопіль", "ТЕРНОПІЛЬСЬКА", "Тернопільської", "Тернополь", "ТЕРНОПОЛЬСКИЙ", "Тернопольского"),
    City("Херсон", "ХЕРСОНСЬКА", "Херсонської", "Херсон", "ХЕРСОНСКИЙ", "Херсонского"),
    City("Луцьк", "ЛУЦЬКА", "Луцької", "Луцк", "ЛУЦКИЙ", "Луцкого", False),
    City("Дніпро", "ДНІПРОВСЬКА", "Дніпровської", "Днепр", "ДНЕПРОВСКИЙ", "Днепровского", False),
)
_OBLAST = {  # oblast adjectives of the oblast centres above
    "Вінниця": ("ВІННИЦЬКА", "Вінницької"), "Житомир": ("ЖИТОМИРСЬКА", "Житомирської"),
    "Полтава": ("ПОЛТАВСЬКА", "Полтавської"), "Суми": ("СУМСЬКА", "Сумської"),
    "Тернопіль": ("ТЕРНОПІЛЬСЬКА", "Тернопільської"), "Херсон": ("ХЕРСОНСЬКА", "Херсонської"),
}  # fmt: skip
UNITS = (
    ("УПРАВЛІННЯ ОСВІТИ", "Управління освіти"),
    ("ДЕПАРТАМЕНТ ЖИТЛОВО-КОМУНАЛЬНОГО ГОСПОДАРСТВА", "Департамент житлово-комунального господарства"),
    ("УПРАВЛІННЯ КАПІТАЛЬНОГО БУДІВНИЦТВА", "Управління капітального будівництва"),
    ("ВІДДІЛ КУЛЬТУРИ І ТУРИЗМУ", "Відділ культури і туризму"),
    ("ДЕПАРТАМЕНТ ЕКОНОМІКИ ТА ІНВЕСТИЦІЙ", "Департамент економіки та інвестицій"),
)
ENTERPRISES = (("«МІСЬКСВІТЛО»", "«Міськсвітло»"), ("«ЗЕЛЕНЕ МІСТО»", "«Зелене місто»"), ("«ВОДОКАНАЛ»", "«Водоканал»"))
NATIONAL = (
    (["МІНІСТЕРСТВО ОСВІТИ І НАУКИ УКРАЇНИ"], "Міністерство освіти і науки України"),
    (["МІНІСТЕРСТВО ОХОРОНИ ЗДОРОВ'Я УКРАЇНИ"], "Міністерство охорони здоров'я України"),
    (["ДЕРЖАВНА СЛУЖБА УКРАЇНИ З НАДЗВИЧАЙНИХ СИТУАЦІЙ", "(ДСНС)"], "Державна служба України з надзвичайних ситуацій (ДСНС)"),
    (["ДЕРЖАВНЕ АГЕНТСТВО ВОДНИХ РЕСУРСІВ УКРАЇНИ", "(ДЕРЖВОДАГЕНТСТВО)"], "Державне агентство водних ресурсів України (Держводагентство)"),
)  # fmt: skip
KYIV_UNITS = (
    ("ДЕПАРТАМЕНТ ТРАНСПОРТНОЇ ІНФРАСТРУКТУРИ", "Департамент транспортної інфраструктури"),
    ("ДЕПАРТАМЕНТ ОСВІТИ І НАУКИ", "Департамент освіти і науки"),
)
FIRST = ("Олена", "Тарас", "Ігор", "Ірина", "Оксана", "Богдан", "Василь", "Галина", "Ілля", "Наталія")
SURNAMES = ("Коваленко", "Бондарук", "Гнатишин", "Мельничук", "Савчишин", "Поліщук", "Марчук", "Кравченко")
RU_FIRST = ("Елена", "Игорь", "Андрей", "Ольга")
POSITIONS = (  # (printed lines, expected) — typed over one or two lines
    (["Начальник управління"], "Начальник управління"),
    (["Директор департаменту"], "Директор департаменту"),
    (["Секретар міської ради"], "Секретар міської ради"),
    (["Заступник міського голови"], "Заступник міського голови"),
    (["Заступник міського голови з питань", "діяльності виконавчих органів ради"],
     "Заступник міського голови з питань діяльності виконавчих органів ради"),
    (["Заступник міського голови –", "керуючий справами виконкому"], "Заступник міського голови – керуючий справами виконкому"),
    (["В. о. директора департаменту"], "В. о. директора департаменту"),
    (["Т.в.о. начальника управління"], "Т.в.о. начальника управління"),
)  # fmt: skip
RU_POSITIONS = (
    (["Заместитель городского головы"], "Заместитель городского головы"),
    (["Секретарь городского совета"], "Секретарь городского совета"),
    (["И. о. начальника управления"], "И. о. начальника управления"),
)
FAMILIES: dict[str, tuple[str, ...]] = {
    "letterhead": ("council", "unit_over_parent", "parent_over_unit", "country_line", "executive_committee", "kp",
                   "oda_department", "district_council", "national", "kyiv_executive_body", "ru_council",
                   "ru_executive_committee"),
    "date_number": ("vid_date_num", "two_digit_year_N", "date_No", "out_num_vid", "out_num_then_date", "month_word",
                    "quoted_month", "register_blank", "register_quoted"),
    "request": ("na_num_vid", "na_zapyt_vid_num", "vash_lyst", "none"),
    "signature": ("given_SURNAME", "initial_surname", "initials_surname", "given_Surname", "name_below"),
    "addressee": ("block", "right_column"),
    "executor": ("vyk", "vykonavets_tel", "two_lines"),
}  # fmt: skip
RU_DATE_FAMILIES = ("ru_out_num_ot", "ru_quoted_month", "vid_date_num")
RU_REQUEST_FAMILIES = ("ru_vash_zapros", "none")


@dataclass
class Generated:
    text: str
    expected: dict[str, str | None]
    family: dict[str, str]
    lines: list[str] = field(default_factory=list)


def _letterhead(kind: str, city: City, rnd: random.Random) -> tuple[list[str], str, str]:
    """(printed lines, expected sender_org, expected city)."""
    unit_caps, unit = rnd.choice(UNITS)
    council_gen = f"{city.adj_gen} міської ради"
    if kind == "council":
        return [f"{city.adj_nom} МІСЬКА РАДА"], f"{city.adj_nom[0]}{city.adj_nom[1:].lower()} міська рада", city.name
    if kind == "unit_over_parent":
        return [unit_caps, council_gen.upper()], f"{unit} {council_gen}", city.name
    if kind in ("parent_over_unit", "country_line"):
        lines = [f"{city.adj_nom} МІСЬКА РАДА", unit_caps]
        return (["УКРАЇНА", *lines] if kind == "country_line" else lines), f"{unit} {council_gen}", city.name
    if kind == "executive_committee":
        return ["ВИКОНАВЧИЙ КОМІТЕТ", council_gen.upper()], f"Виконавчий комітет {council_gen}", city.name
    if kind == "kp":
        caps, name = rnd.choice(ENTERPRISES)
        return [f"КОМУНАЛЬНЕ ПІДПРИЄМСТВО {caps}", council_gen.upper()], f"КП {name} {council_gen}", city.name
    if kind == "oda_department":
        nom, gen = _OBLAST.get(city.name, ("ВІННИЦЬКА", "Вінницької"))
        centre = city.name if city.name in _OBLAST else "Вінниця"
        return ([f"{nom} ОБЛАСНА ДЕРЖАВНА АДМІНІСТРАЦІЯ", unit_caps],
                f"{unit} {gen} обласної державної адміністрації", centre)  # fmt: skip
    if kind == "district_council":
        return (["ВИКОНАВЧИЙ КОМІТЕТ", "ЦЕНТРАЛЬНОЇ РАЙОННОЇ У МІСТІ РАДИ"],
                "Виконавчий комітет Центральної районної у місті ради", city.name)  # fmt: skip
    if kind == "national":
        lines, org = rnd.choice(NATIONAL)
        return list(lines), org, "Київ"
    if kind == "kyiv_executive_body":
        caps, name = rnd.choice(KYIV_UNITS)
        return (["ВИКОНАВЧИЙ ОРГАН КИЇВСЬКОЇ МІСЬКОЇ РАДИ", "(КИЇВСЬКА МІСЬКА ДЕРЖАВНА АДМІНІСТРАЦІЯ)", caps],
                f"{name} виконавчого органу Київської міської ради (Київської міської державної адміністрації)",
                "Київ")  # fmt: skip
    if kind == "ru_council":
        return [f"{city.ru_nom} ГОРОДСКОЙ СОВЕТ"], f"{city.ru_nom[0]}{city.ru_nom[1:].lower()} городской совет", city.name
    if kind == "ru_executive_committee":
        return (["ИСПОЛНИТЕЛЬНЫЙ КОМИТЕТ", f"{city.ru_gen.upper()} ГОРОДСКОГО СОВЕТА"],
                f"Исполнительный комитет {city.ru_gen} городского совета", city.name)  # fmt: skip
    raise ValueError(kind)


def _number(rnd: random.Random) -> str:
    return rnd.choice((f"{rnd.randint(1, 99):02d}-{rnd.randint(1, 40)}/{rnd.randint(10, 2999)}",
                       f"{rnd.randint(10, 2999)}/{rnd.randint(1, 12):02d}", str(rnd.randint(10, 999)),
                       f"{rnd.randint(1, 9)}/{rnd.randint(1, 30)}-{rnd.randint(10, 999)}"))  # fmt: skip


def _date_number(kind: str, date: dt.date, num: str) -> list[str]:
    d = format_date(date, "dd.mm.yyyy")
    return {
        "vid_date_num": [f"від {d} № {num}"],
        "two_digit_year_N": [f"від {format_date(date, 'dd.mm.yy')} N {num}"],
        "date_No": [f"{d} Nº {num}"],
        "out_num_vid": [f"вих. № {num} від {d}"],
        "out_num_then_date": [f"Вих.№ {num}", d],
        "month_word": [f"{format_date(date, 'd month_uk yyyy року')} № {num}"],
        "quoted_month": [f"{format_date(date, '«dd» month_uk yyyy р.')} № {num}"],
        "register_blank": [f"Вих. № __{num}__ від __{d}__"],
        "register_quoted": [f"Вих. № __{num}__ від «{date.day:02d}» __{date.month:02d}__ {date.year} р."],
        "ru_out_num_ot": [f"Исх. № {num} от {d}"],
        "ru_quoted_month": [f"{format_date(date, '«dd» month_ru yyyy г.')} № {num}"],
    }[kind]


def _request(kind: str, date: dt.date, num: str) -> tuple[list[str], str | None, str | None]:
    d = format_date(date, "dd.mm.yyyy")
    return {
        "na_num_vid": ([f"На № {num} від {d}"], date.isoformat(), num),
        "na_zapyt_vid_num": ([f"на запит від {d} № {num}"], date.isoformat(), num),
        "vash_lyst": ([f"На Ваш лист від {d}"], date.isoformat(), None),
        "ru_vash_zapros": ([f"На Ваш запрос от {d} № {num}"], date.isoformat(), num),
        "none": ([], None, None),
    }[kind]


def _signature(kind: str, ru: bool, rnd: random.Random) -> tuple[list[str], str, str]:
    """(position lines, printed name, expected name)."""
    first = rnd.choice(RU_FIRST if ru else FIRST)
    surname = rnd.choice(SURNAMES)
    if kind == "given_SURNAME":
        return [], f"{first} {surname.upper()}", f"{first} {surname}"
    if kind == "initial_surname":
        return [], f"{first[0]}. {surname}", f"{first[0]}. {surname}"
    if kind == "given_Surname":
        return [], f"{first} {surname}", f"{first} {surname}"
    if kind == "name_below":  # the name alone on the line under the position, pushed right
        return [], f"{first[0]}. {surname.upper()}", f"{first[0]}. {surname}"
    second = rnd.choice("ВМПСО")
    return [], f"{first[0]}.{second}. {surname}", f"{first[0]}.{second}. {surname}"


def generate(seed: int, families: dict[str, str] | None = None) -> Generated:
    """One typed letter head (with a short body, signature and executor) for ``seed``."""
    rnd = random.Random(seed)
    fam = dict(families or {})
    lh = fam.setdefault("letterhead", rnd.choice(FAMILIES["letterhead"]))
    ru = lh.startswith("ru_")
    fam.setdefault("date_number", rnd.choice(RU_DATE_FAMILIES if ru else FAMILIES["date_number"]))
    fam.setdefault("request", rnd.choice(RU_REQUEST_FAMILIES if ru else FAMILIES["request"]))
    fam.setdefault("signature", rnd.choice(FAMILIES["signature"]))
    fam.setdefault("addressee", rnd.choice(FAMILIES["addressee"]))
    fam.setdefault("executor", rnd.choice(FAMILIES["executor"]))
    city = rnd.choice(CITIES)
    head, org, city_name = _letterhead(lh, city, rnd)
    street = "ул. Образцовая" if ru else "вул. Зразкова"
    town = ("г. " + (city.ru_name if city_name == city.name else "Киев")) if ru else ("м. " + city_name)
    date = dt.date(2014, 1, 1) + dt.timedelta(days=rnd.randint(0, 2900))
    req_date = date - dt.timedelta(days=rnd.randint(5, 40))
    num, req_num = _number(rnd), str(rnd.randint(1, 250))
    date_lines = _date_number(fam["date_number"], date, num)
    req_lines, req_iso, req_no = _request(fam["request"], req_date, req_num)
    pos_lines, pos = rnd.choice(RU_POSITIONS if ru else POSITIONS)
    _, printed, name = _signature(fam["signature"], ru, rnd)
    exec_name, phone = f"{rnd.choice(SURNAMES)} {rnd.choice('АБВГДЛМНОПРСТ')}.", f"{rnd.randint(20, 79)}-{rnd.randint(10, 99)}-{rnd.randint(10, 99)}"
    addressee = ["Голові правління", "ГО «Відкрите місто»", "04210, м. Київ, вул. Прикладна, 7"]
    if ru:
        addressee = ["Председателю правления", "ОО «Открытый город»", "04210, г. Киев, ул. Примерная, 7"]
    subject = "О предоставлении информации" if ru else "Про надання інформації"
    body = (
        ["Рассмотрев Ваш запрос, сообщаем, что согласно решению городского совета",
         f"от {format_date(date - dt.timedelta(days=300), 'dd.mm.yyyy')} № 512 работы выполняются поэтапно."]
        if ru else
        ["Розглянувши Ваш запит, повідомляємо, що відповідно до рішення міської ради",
         f"від {format_date(date - dt.timedelta(days=300), 'dd.mm.yyyy')} № 512 роботи виконуються поетапно."]
    )  # fmt: skip
    *pos_head, pos_last = pos_lines
    sig_lines = [*pos_head, f"{pos_last}          {printed}"]
    if fam["signature"] == "name_below":
        sig_lines = [*pos_lines, f"{' ' * 40}{printed}"]
    mark = "Исп." if ru else "Вик."
    exec_lines = [f"{mark} {exec_name} {phone}"]
    if fam["executor"] == "vykonavets_tel":
        exec_lines = [f"{'Исполнитель' if ru else 'Виконавець'}: {exec_name}, тел. {phone}"]
    elif fam["executor"] == "two_lines":
        exec_lines = [f"{mark} {exec_name}", f"тел. {phone}"]
    head_block = [*date_lines, *req_lines, "", *addressee]
    if fam["addressee"] == "right_column":  # the addressee beside the date lines, columns run together
        left = [*date_lines, *req_lines]
        rows = max(len(left), len(addressee))
        left += [""] * (rows - len(left))
        head_block = [f"{a:<44}{b}".rstrip() if a else f"{'':44}{b}" for a, b in zip(left, [*addressee, *[""] * (rows - len(addressee))], strict=True)]
    lines = [
        *head,
        f"{rnd.randint(10000, 99999)}, {town}, {street}, {rnd.randint(1, 90)}, тел. (0{rnd.randint(32, 69)}) {phone}",
        f"e-mail: office@example.gov.ua, код ЄДРПОУ {rnd.randint(10**7, 10**8 - 1)}",
        "",
        *head_block,
        "",
        subject,
        "",
        *body,
        "",
        *sig_lines,
        "",
        *exec_lines,
    ]
    expected: dict[str, str | None] = {
        "letter_date": date.isoformat(),
        "outgoing_number": num,
        "request_date": req_iso,
        "request_number": req_no,
        "sender_org": org,
        "sender_city": city_name,
        "signatory_name": name,
        "signatory_position": pos,
        "language": "ru" if ru else "uk",
        "addressee": " ".join(addressee),
        "subject": subject,
        "executor": f"{exec_name} {phone}" if fam["executor"] != "vykonavets_tel" else f"{exec_name}, {phone}",
    }
    if fam["addressee"] == "right_column":
        del expected["addressee"]  # read line by line, a merged column is not one block: not asserted
    return Generated("\n".join(lines) + "\n", expected, fam, lines)


# --- OCR-like noise ----------------------------------------------------------------------------

_LATIN = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "і": "i", "х": "x", "А": "A", "Е": "E", "О": "O",
          "Р": "P", "С": "C", "І": "I", "Т": "T", "Н": "H", "К": "K", "М": "M", "В": "B"}  # fmt: skip
_DATE_LINE = re.compile(r"^(?:від |вих|Вих|Исх|«|\d)")
_CONFUSED = {"о": "е", "і": "л", "ц": "п", "г": "т"}  # letters Tesseract swaps in position words
RATES = {"numero": 0.5, "latin": 0.02, "out_latin": 0.2, "date_debris": 0.15, "date_colon": 0.15,
         "first_capital": 0.3, "initial_bar": 0.3, "hyphen_split": 0.5, "cut_parent": 0.15,
         "position_letter": 0.15, "number_next_line": 0.2}  # fmt: skip


def noisy(gen: Generated, seed: int, rates: dict[str, float] | None = None) -> Generated:
    """The same letter as raw OCR would give it (see the module doc); the expected values stay."""
    rnd = random.Random(seed * 7919 + 1)
    r = {**RATES, **(rates or {})}
    out: list[str] = []
    lines = list(gen.lines)
    head_end = next((i for i, ln in enumerate(lines) if ln[:1].isdigit()), 0)
    sig_at = max((i for i, ln in enumerate(lines) if "          " in ln), default=-1)
    for i, ln in enumerate(lines):
        if i < head_end:
            if i == head_end - 1 and rnd.random() < r["cut_parent"] and ln.endswith(" РАДИ") and len(ln) > 12:
                ln = ln[: -len(" РАДИ")]
            if "-" in ln and rnd.random() < r["hyphen_split"]:
                a, _, b = ln.partition("-")
                out.extend([a + "-", b] if rnd.random() < 0.5 else [f"{a}- {b}"])
                continue
        elif head_end + 2 <= i < head_end + 6 and _DATE_LINE.match(ln) and "м. " not in ln and "г. " not in ln:
            ln = _noisy_date_line(ln, rnd, r, out)
            if ln is None:
                continue
        elif i == sig_at or (sig_at > 0 and i == sig_at - 1 and not lines[i - 1]):
            ln = _noisy_signature(ln, rnd, r)
        out.append(_latin_noise(ln, rnd, r["latin"]) if "@" not in ln else ln)
    return Generated("\n".join(out) + "\n", gen.expected, gen.family, out)


def _noisy_date_line(ln: str, rnd: random.Random, r: dict[str, float], out: list[str]) -> str | None:
    if ln.startswith(("На", "на")):
        return ln
    if "№" in ln and rnd.random() < r["numero"]:
        sign = rnd.choice(("Ме", "Мо", "N", "Nº", "М"))
        head, _, tail = ln.partition("№")
        if rnd.random() < r["number_next_line"] and tail.strip() and " " not in tail.strip():
            out.append(f"{head}{sign}")
            return tail.strip()
        ln = f"{head}{sign}{tail}"
    if ln.startswith("Вих") and rnd.random() < r["out_latin"]:
        ln = "Bux" + ln[3:]
    if ln[:1].isdigit() and rnd.random() < r["date_debris"]:
        ln = "." + ln
    if rnd.random() < r["date_colon"]:
        ln = re.sub(r"(\d\d\.\d\d)\.(\d{4})", r"\1:\2", ln, count=1)
    return ln


def _noisy_signature(ln: str, rnd: random.Random, r: dict[str, float]) -> str:
    words = ln.split(" ")
    for k, w in enumerate(words):
        if w.startswith("І") and w[1:2].islower() and rnd.random() < r["first_capital"]:
            words[k] = rnd.choice(("і", "Г")) + w[1:]
        elif w.startswith("І.") and rnd.random() < r["initial_bar"]:
            words[k] = "|" + w[1:]
        elif len(w) >= 9 and w.isalpha() and w.islower() and rnd.random() < r["position_letter"]:
            spots = [j for j, ch in enumerate(w) if ch in _CONFUSED and 0 < j < len(w) - 1]
            if spots:
                j = rnd.choice(spots)
                words[k] = w[:j] + _CONFUSED[w[j]] + w[j + 1 :]
    return " ".join(words)


def _latin_noise(ln: str, rnd: random.Random, rate: float) -> str:
    """Latin look-alikes for Cyrillic letters inside longer words (never a whole word)."""
    out = []
    for w in ln.split(" "):
        if len(w) >= 5 and w.isalpha():
            chars = list(w)
            for j, ch in enumerate(chars):
                if 0 < j < len(chars) - 1 and ch in _LATIN and rnd.random() < rate:
                    chars[j] = _LATIN[ch]
            w = "".join(chars)
        out.append(w)
    return " ".join(out)
