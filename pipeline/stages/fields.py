"""Letter fields: dates, numbers, sender, city, signatory, language.

Rules over the letter's lines, in the order an official reply is laid out:
letterhead (upper-case lines up to the address), the date/number line, the
request reference ("На № … від …"), the body, and the signature block at the
bottom (position on the left, name on the right of the same line). Every rule
tolerates the noise raw Tesseract output shows: "№" read as "Мо"/"Ме"/"N",
O/0 and З/3 swaps, columns of the header merged into one line, stray marks
from stamps and signatures.

A field that is absent or ambiguous stays None and a reason is appended to
``LetterFields.review_reasons``: a wrong value costs more than an empty one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.nlp import morph_analyzer
from pipeline.schema import FieldValue, LetterFields, LetterText, TextSource
from pipeline.stages.dates import DateMatch, baseline_letter_date, find_dates, parse_date
from pipeline.stages.fields_lexicon import city_lexicon, norm_word

__all__ = ["extract_fields", "baseline_letter_date", "parse_date"]

MAX_LINE = 1000  # longer "lines" are not letter lines; only their head is examined
MAX_TEXT = 400_000
HEADER_MAX_LINES = 25

# "№" and what OCR makes of it, directly before a number.
NUMSIGN = r"(?:№|N[oо°º]?\.?|[МMКХX][оoеєe»][.,]?|Ne|Nє|Н[оo])"
# "від"/"от" and OCR readings of it ("вд", "вiд" with a Latin i)
FROM = r"(?:в[іiї1l]?д|от)"
NUMBER = r"[0-9OО][0-9A-Za-zА-ЯІЇЄҐа-яіїєґ./\\-]*"
_YEAR_TAIL = r"[ \t]*(?:р\.?|г\.?|року|года)?[ \t]*[,;]?[ \t]*"
_NUM_AFTER = re.compile(rf"^{_YEAR_TAIL}(?:за[ \t]*)?{NUMSIGN}[ \t]*(?P<num>{NUMBER}|_+|\.{{3,}})?", re.IGNORECASE)
# a place of issue may stand before the date: "м. Суми, 12.03.2018 № …"
_PLACE = r"(?:[мг]\.[ \t]*[А-ЯІЇЄҐ][\w'’ʼ-]+(?:[ \t][А-ЯІЇЄҐ][\w'’ʼ-]+)?[ \t,]+)?"
_DATE_FIRST_PREFIX = re.compile(rf"^[\W_]{{0,4}}{_PLACE}(?:(?:{FROM}|дата)\.?:?[ \t]*)?$", re.IGNORECASE)
_NUM_FIRST_PREFIX = re.compile(
    rf"^[\W_]{{0,4}}(?:(?:вих|исх)\w*\.?[ \t]*)?{NUMSIGN}[ \t]*(?P<num>{NUMBER}|_+)?(?:[ \t]*{FROM}|[ \t]+)[ \t]*$",
    re.IGNORECASE,
)
_OWN_NUMBER = re.compile(
    rf"^[\W_]{{0,4}}(?:(?:(?:вих|исх)\w*\.?[ \t]*){NUMSIGN}[ \t]*(?P<num>{NUMBER})|{NUMSIGN}[ \t]*(?P<alone>{NUMBER})[ \t]*$)",
    re.IGNORECASE,
)
_REQ_BEFORE = re.compile(
    r"(?P<lead>\bна|\bваш\w*|\bу|\bв)?[ \t]*"
    r"(?P<kw>(?:ваш\w*[ \t]+)?(?:(?P<strong>запит\w*|запрос\w*)|лист\w*|письм\w*|звернен\w*|обращени\w*))?[ \t.,]*"
    rf"(?:(?:вих|исх|вх)\w*\.?[ \t]*)?(?:{NUMSIGN}[ \t]*(?P<num>{NUMBER})[ \t]*)?{FROM}[ \t]*$",
    re.IGNORECASE,
)
# "запит ГО «…» від …", "запит на отримання публічної інформації від …": a few words, no clause break
_REQ_LOOSE = re.compile(
    rf"(?:запит|запрос)\w*[^.,;:!?\d№\n]{{1,80}}?(?:{NUMSIGN}[ \t]*(?P<num>{NUMBER})[ \t]*)?{FROM}[ \t]*$",
    re.IGNORECASE,
)
_REQ_NUM_AFTER = re.compile(rf"^{_YEAR_TAIL}{NUMSIGN}[ \t]*(?P<num>{NUMBER})", re.IGNORECASE)

_COUNCIL_WORDS = (
    "міськ",
    "обласн",
    "облдерж",
    "районн",
    "селищн",
    "сільськ",
    "городск",
    "областн",
    "облгос",
    "поселков",
    "сельск",
)
_CITY_COUNCIL_WORDS = ("міськ", "городск", "селищн", "поселков", "сільськ", "сельск")
_PARENT_NOM = re.compile(
    r"(?P<adj>[А-ЯІЇЄҐA-Z'’ʼ-]{3,})\s+"
    r"(?:(?:МІСЬКА|ОБЛАСНА|РАЙОННА|СЕЛИЩНА|СІЛЬСЬКА)\s+(?:ДЕРЖАВНА\s+)?(?:РАДА|АДМІНІСТРАЦІЯ)"
    r"|(?:ГОРОДСКОЙ|ОБЛАСТНОЙ|РАЙОННЫЙ|ПОСЕЛКОВЫЙ|СЕЛЬСКИЙ)\s+СОВЕТ"
    r"|(?:ОБЛАСТНАЯ|РАЙОННАЯ|ГОРОДСКАЯ)\s+ГОСУДАРСТВЕННАЯ\s+АДМИНИСТРАЦИЯ)(?![А-ЯІЇЄҐа-яіїєґ])"
)
_ORG_WORD = re.compile(
    r"рада\b|ради\b|адміністрац|департамент|управлі|комітет|підприємств|відділ|служба|совет|управлени|"
    r"предприяти|администрац|комитет|отдел",
    re.IGNORECASE,
)
_UNIT_HEAD = re.compile(
    r"(?<![А-ЯІЇЄҐ'-])(?=(?:ВИКОНАВЧИЙ\s+КОМІТЕТ|ИСПОЛНИТЕЛЬНЫЙ\s+КОМИТЕТ|ДЕПАРТАМЕНТ|УПРАВЛІННЯ|УПРАВЛЕНИЕ|ВІДДІЛ|ОТДЕЛ|"
    r"СЛУЖБА|КП\b)(?![А-ЯІЇЄҐ]))"
)
_ENTERPRISE = re.compile(r"(?<!\w)(?:КОМУНАЛЬНЕ\s+ПІДПРИЄМСТВО|КОММУНАЛЬНОЕ\s+ПРЕДПРИЯТИЕ)(?!\w)[\s.,]*", re.IGNORECASE)
_NONPROFIT = re.compile(
    r"(?<!\w)(?:КОМУНАЛЬНЕ\s+НЕКОМЕРЦІЙНЕ\s+ПІДПРИЄМСТВО|КОММУНАЛЬНОЕ\s+НЕКОММЕРЧЕСКОЕ\s+ПРЕДПРИЯТИЕ)(?!\w)[\s.,]*",
    re.IGNORECASE,
)
_ADDRESS_HINT = re.compile(
    r"\d{5}|\b(?:вул|ул|пл|просп|пр|бульв|м|г|тел|факс|e-mail|е-mail|email|код|ЄДРПОУ|ЕГРПОУ|ідентифікаційний)\b\.?",
    re.IGNORECASE,
)
_COUNTRY = {"україна", "украина", "ukraine"}
_CITY_IN_ADDRESS = re.compile(
    r"(?:(?<![А-ЯІЇЄҐа-яіїєґA-Za-z])[мгm][ \t]*\.[ \t]*|\bмісто[ \t]+|\bгород[ \t]+)"
    r"(?P<name>[А-ЯІЇЄҐ][а-яіїєґё'’ʼ]+(?:-[А-ЯІЇЄҐ][а-яіїєґё'’ʼ]+)?(?:[ \t]+(?:[А-ЯІЇЄҐ][а-яіїєґё'’ʼ]+))?)"
)

# Signature block.
_EXECUTOR = re.compile(
    r"^[\W_]*(?:(?:вик|исп|тел)(?![а-яіїєґё])|(?:виконавець|виконавці|исполнитель|додатк?и?|додаток|приложение|копія|копия)\b"
    r"|з повагою|с уважением)",
    re.IGNORECASE,
)
_CLOSING = re.compile(r"^[\W_]*(?:з повагою|с уважением|з пошаною)", re.IGNORECASE)
_UP = "А-ЯІЇЄҐЁ"
_LOW = "а-яіїєґё"
_NAME_END = re.compile(
    rf"(?P<name>(?:[{_UP}]\.[ \t]?){{1,2}}[ \t]?[{_UP}][{_UP}{_LOW}'’ʼ]+(?:-[{_UP}][{_UP}{_LOW}'’ʼ]+)?"
    rf"|[{_UP}][{_LOW}'’ʼ]+[ \t]{{1,2}}[{_UP}][{_UP}'’ʼ]+(?:-[{_UP}][{_UP}'’ʼ]+)?"
    rf"|[{_UP}][{_LOW}'’ʼ]+[ \t]{{1,2}}[{_UP}][{_LOW}'’ʼ]+(?:-[{_UP}][{_LOW}'’ʼ]+)?"
    rf"|[{_UP}][{_UP}{_LOW}'’ʼ]+(?:-[{_UP}][{_UP}{_LOW}'’ʼ]+)?[ \t]{{1,2}}(?:[{_UP}]\.[ \t]?){{1,2}})"
    r"[\W_\d]{0,6}$"
)
_POSITION_HEADS = {
    "секретар", "секретарь", "директор", "начальник", "заступник", "заместитель", "керуючий", "управляющий",
    "голова", "председатель", "перший", "первый", "генеральний", "генеральный", "міський", "городской",
    "в.о.", "т.в.о.", "и.о.", "виконувач", "исполняющий", "головний", "главный", "завідувач", "заведующий",
    "уповноважена", "уповноважений", "радник", "советник", "керівник", "руководитель", "начальниця",
    "заступниця", "директорка", "секретарка", "керуюча", "управляющая", "в.о", "т.в.о", "тво", "и.о", "виконуюча",
    "исполняющая", "завідувачка", "заведующая", "мер", "старший", "провідний", "виконуючий", "тимчасово",
}  # fmt: skip
_SHORT_WORDS = {"і", "й", "та", "з", "із", "зі", "у", "в", "на", "по", "и", "с", "со", "при", "для", "до", "от", "від", "о", "об", "к"}  # fmt: skip
_PROPER = {"україни", "україна", "україні", "украины", "украина", "украине"}

_UK_CHARS = set("іїєґ")
_RU_CHARS = set("ыэъё")
# function words only one of the two languages has
_UK_WORDS = {"і", "що", "від", "та", "року", "це", "які", "як", "щодо", "міської", "ради", "було", "буде", "із", "її", "їх", "також", "або"}  # fmt: skip
_RU_WORDS = {"и", "что", "от", "года", "это", "которые", "как", "городского", "совета", "было", "будет", "из", "ее", "их", "также", "или"}  # fmt: skip


@dataclass
class Line:
    text: str  # at most MAX_LINE characters of the line
    start: int  # offset of the line in full_text
    page: int  # 0-based page index
    index: int  # line number in the letter

    @property
    def stripped(self) -> str:
        return self.text.strip()


def split_lines(full: str) -> list[Line]:
    lines: list[Line] = []
    pos = 0
    for page_no, page in enumerate(full.split("\f")):
        for raw in page.split("\n"):
            lines.append(Line(raw[:MAX_LINE], pos, page_no, len(lines)))
            pos += len(raw) + 1
    return lines


# --- helpers ------------------------------------------------------------------


def _value(text: LetterText, value: str | None, start: int | None, end: int | None, conf: float) -> FieldValue:
    if value is None:
        return FieldValue()
    fv = FieldValue(value=value, start=start, end=end, confidence=round(max(0.0, min(1.0, conf)), 3))
    if start is not None and end is not None:
        fv.page = text.page_of(start)
        words = text.words_in(start, end)
        fv.boxes = [(w.left, w.top, w.width, w.height) for w in words]
        confs = [w.conf for w in words if w.conf is not None]
        if confs:  # OCR: a field read from uncertain words is itself uncertain
            fv.confidence = round(fv.confidence * min(1.0, 0.5 + sum(confs) / len(confs) / 200), 3)
    return fv


def _clean_number(num: str | None) -> str | None:
    if not num:
        return None
    num = num.rstrip("./\\-,")
    if not num or set(num) <= {"_", "."}:
        return None
    if re.fullmatch(r"[0-9OО./\\-]+", num):  # all digits but for OCR letter-for-digit swaps
        num = num.replace("О", "0").replace("O", "0")
    return num


def _letters(s: str) -> str:
    return "".join(ch for ch in s if ch.isalpha())


def _upper_share(s: str) -> float:
    letters = _letters(s)
    return sum(ch.isupper() for ch in letters) / len(letters) if letters else 0.0


def _is_body_line(s: str) -> bool:
    """A line of running text: several lower-case words (not a header or address line)."""
    s = re.sub(r"\S*[@/]\S*|\b(?:e-mail|е-mail|email|тел|факс|код)\b", " ", s, flags=re.IGNORECASE)
    words = re.findall(r"[А-ЯІЇЄҐЁа-яіїєґё'’]{3,}", s)
    lower = sum(w[0].islower() for w in words)
    return lower >= 6 and lower >= 0.6 * len(words)


def header_lines(lines: list[Line]) -> list[Line]:
    """First page lines above the body: letterhead, date/number, addressee, request reference."""
    out: list[Line] = []
    for ln in lines:
        if ln.page > 0:
            break
        if not ln.stripped:
            continue
        if _is_body_line(ln.text) and out:
            break
        out.append(ln)
        if len(out) >= HEADER_MAX_LINES:
            break
    return out


# --- dates and numbers ----------------------------------------------------------------


@dataclass
class DateNumber:
    date: DateMatch
    number: str | None
    num_start: int | None
    num_end: int | None
    line: Line
    has_sign: bool  # a "№" was printed with the date (possibly with a blank number)


def _request_context(line: str, dm: DateMatch) -> tuple[bool, str | None, int | None, int | None]:
    """Is the date on ``line`` a request reference? Then also its number and the number's span."""
    before = line[max(0, dm.start - 120) : dm.start]
    offset = max(0, dm.start - 120)
    m = _REQ_BEFORE.search(before)
    ok = False
    if m:
        lead = (m.group("lead") or "").lower()
        kw, num = m.group("kw"), m.group("num")
        ok = bool(m.group("strong") or ((num or kw) and lead in ("на", "ваш", "вашого", "ваше", "вашому")))
    if not ok:
        m = _REQ_LOOSE.search(before)
        if not m:
            return False, None, None, None
        num = m.group("num")
    if num:
        return True, num, offset + m.start("num"), offset + m.end("num")
    after = _REQ_NUM_AFTER.match(line[dm.end :])
    if after:
        return True, after.group("num"), dm.end + after.start("num"), dm.end + after.end("num")
    return True, None, None, None


def _own_date_candidates(header: list[Line]) -> tuple[list[DateNumber], list[DateNumber]]:
    """(strong, weak) candidates for the letter's own date among the header lines."""
    strong: list[DateNumber] = []
    weak: list[DateNumber] = []
    for ln in header:
        for dm in find_dates(ln.text):
            if _request_context(ln.text, dm)[0]:
                continue
            prefix = ln.text[: dm.start]
            if _DATE_FIRST_PREFIX.match(prefix):
                after = _NUM_AFTER.match(ln.text[dm.end :])
                if after:
                    num = _clean_number(after.group("num"))
                    s = dm.end + after.start("num") if after.group("num") else None
                    e = dm.end + after.end("num") if after.group("num") else None
                    strong.append(DateNumber(dm, num, s, e, ln, True))
                elif not _is_body_line(ln.text[dm.end :]):
                    weak.append(DateNumber(dm, None, None, None, ln, False))
                continue
            m = _NUM_FIRST_PREFIX.match(prefix)
            if m:
                num = _clean_number(m.group("num"))
                s = m.start("num") if m.group("num") else None
                e = m.end("num") if m.group("num") else None
                strong.append(DateNumber(dm, num, s, e, ln, True))
    return strong, weak


def _find_request(
    lines: list[Line], header: list[Line]
) -> tuple[DateMatch, Line, str | None, int | None, int | None] | None:
    header_idx = {ln.index for ln in header}
    found = []
    for ln in lines:
        if not ln.stripped:
            continue
        for dm in find_dates(ln.text):
            is_req, num, s, e = _request_context(ln.text, dm)
            if is_req:
                found.append((ln.index not in header_idx, ln.index, dm, ln, num, s, e))
    if not found:
        return None
    found.sort(key=lambda f: (f[0], f[1], f[2].start))  # header first, then text order
    _, _, dm, ln, num, s, e = found[0]
    return dm, ln, _clean_number(num), s, e


# --- sender ---------------------------------------------------------------------------


def letterhead_lines(lines: list[Line]) -> list[Line]:
    """The upper-case lines at the top naming the issuing body (country line dropped)."""
    out: list[Line] = []
    for ln in lines[:20]:
        if ln.page > 0:
            break
        s = cyrillic_only(ln.stripped)
        letters = _letters(s)
        if len(letters) < 4:  # blank, a stray mark, or an English version of the name
            continue
        if norm_word(letters) in _COUNTRY:
            continue
        if _upper_share(s) >= 0.75 and not _ADDRESS_HINT.search(ln.text):
            out.append(ln)
            continue
        if out:
            break
        if len(out) == 0 and ln.index > 6:
            break
    if not out:  # a letterhead typed in normal case: org lines above the address
        for ln in lines[:8]:
            s = ln.stripped
            if not s or ln.page > 0:
                continue
            if _ADDRESS_HINT.search(s) or re.search(r"\d", s) or not _ORG_WORD.search(s):
                break
            if norm_word(_letters(s)) not in _COUNTRY:
                out.append(ln)
    return out


_LATIN_LOOKALIKE = str.maketrans("ACEHIKMOPTXBaceiopxy", "АСЕНІКМОРТХВасеіорху")


def cyrillic_only(s: str) -> str:
    """Latin look-alikes inside Cyrillic words made Cyrillic; all-Latin words (an English line) dropped."""

    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        has_cyr = any("а" <= ch.lower() <= "я" or ch.lower() in "іїєґё" for ch in w)
        if not has_cyr:
            return "" if re.search(r"[A-Za-z]", w) else w
        return w.translate(_LATIN_LOOKALIKE)

    return re.sub(r"\s+", " ", re.sub(r"[^\W\d_]+(?:['’ʼ&-][^\W\d_]+)*", fix, s)).strip()


def _clean_head(s: str, keep_comma: bool = False) -> str:
    s = re.sub(r"[’ʼ`´]", "'", s)
    s = re.sub(r"^[^\w«\"]+", "", s)
    s = re.sub(r"[^\w»\"'),]+$" if keep_comma else r"[^\w»\"')]+$", "", s)
    s = re.sub(r"(?<=\w)\.(?=\s*«)", "", s)  # OCR: "ПРЕДПРИЯТИЕ. «"
    return re.sub(r"\s+", " ", s).strip()


def _genitive(phrase: str, lang: str) -> str:
    """A nominative noun phrase ("Чернівецька міська рада") in the genitive, by pymorphy3."""
    morph = morph_analyzer(lang)
    words = phrase.lower().split()
    if not words:
        return phrase
    head_parses = [p for p in morph.parse(words[-1]) if "nomn" in p.tag and "NOUN" in p.tag]
    gender = None
    if head_parses:
        gender = next((g for g in ("femn", "masc", "neut") if g in head_parses[0].tag), None)
    out = []
    for i, w in enumerate(words):
        parses = [p for p in morph.parse(w) if "nomn" in p.tag]
        if i == len(words) - 1:
            parses = [p for p in parses if "NOUN" in p.tag] or parses
        else:
            parses = [p for p in parses if "ADJF" in p.tag and (gender is None or gender in p.tag)] or parses
        inflected = None
        for p in parses:
            g = p.inflect({"gent"})
            if g is not None:
                inflected = g.word
                break
        out.append(inflected or w)
    return " ".join(out)


def _is_abbrev(tok: str) -> bool:
    letters = _letters(tok)
    if not (2 <= len(letters) <= 5) or not letters.isupper() or letters.lower() in _SHORT_WORDS:
        return False
    vowels = sum(ch in "АЕЄИІЇОУЮЯЫЭЁ" for ch in letters)
    return vowels == 0 or (vowels <= 1 and len(letters) <= 4 and letters in {"ЦНАП", "ОСББ", "ЖЕК", "ЖЕО", "РЕМ"})


def normal_case(text: str, keep_mixed: bool = False) -> str:
    """Sentence case for an organisation or position printed in capitals.

    Place adjectives before a council word ("Чернівецької міської ради"), known
    city adjectives, the country name, the first word inside «» and
    abbreviations keep their capitals. With ``keep_mixed`` words already in
    mixed case are left as printed.
    """
    lex = city_lexicon()
    tokens = text.split(" ")
    words = [re.sub(r"[^\w'’-]", "", t) for t in tokens]
    out: list[str] = []
    for i, tok in enumerate(tokens):
        word = words[i]
        if not word:
            out.append(tok)
            continue
        if _is_abbrev(tok):
            out.append(tok)
            continue
        if keep_mixed and not (word.isupper() and len(_letters(word)) > 1):
            out.append(tok)
            continue
        low = tok.lower()
        nxt = norm_word(words[i + 1]) if i + 1 < len(words) else ""
        cap = (
            i == 0
            or tok.startswith("«")
            or tok.startswith('"')
            or norm_word(word) in _PROPER
            or (nxt.startswith(_COUNCIL_WORDS) and not norm_word(word).startswith(_COUNCIL_WORDS) and _is_adj(word))
            or lex.is_place_adj(word)
        )
        if cap:
            low = _capitalize_word(
                low,
                # "Кам'янець-Подільської": every part of a hyphenated place name
                hyphen_parts=lex.is_place_adj(word) or (_is_adj(word) and nxt.startswith(_COUNCIL_WORDS)),
            )
        out.append(low)
    return " ".join(out)


def _is_adj(word: str) -> bool:
    w = norm_word(word)
    return bool(re.search(r"(?:ськ|цьк|зьк|ск|цк|ов|ів|ин|ін|ний|ний)\w{0,3}$", w)) and len(w) > 4


def _capitalize_word(tok: str, hyphen_parts: bool = False) -> str:
    def cap(s: str) -> str:
        for j, ch in enumerate(s):
            if ch.isalpha():
                return s[:j] + ch.upper() + s[j + 1 :]
        return s

    if hyphen_parts:
        return "-".join(cap(p) for p in tok.split("-"))
    return cap(tok)


def _sender(lines: list[Line], is_ocr: bool = False) -> tuple[str | None, int | None, int | None, list[Line], str]:
    head = letterhead_lines(lines)
    if not head:
        return None, None, None, head, ""
    raw = _clean_head(" ".join(_clean_head(cyrillic_only(ln.text), keep_comma=True) for ln in head))
    upper = raw.upper()
    lang = (
        "ru"
        if re.search(r"[ЫЭЪЁ]|СОВЕТ|ПРЕДПРИЯТИЕ|УПРАВЛЕНИЕ|КОМИТЕТ\b", upper) and not re.search(r"[ІЇЄҐ]", upper)
        else "uk"
    )
    if is_ocr:
        raw = fix_ocr_words(raw, lang)
    raw = _NONPROFIT.sub("КНП ", raw)
    raw = _ENTERPRISE.sub("КП ", raw).strip()
    m = _PARENT_NOM.search(raw.upper())
    if m:
        parent = raw[m.start() : m.end()]
        rest = (raw[: m.start()] + " " + raw[m.end() :]).strip(" ,")
        org = f"{_chain_units(rest, lang)} {_genitive(parent, lang)}" if rest else parent
    else:
        org = raw
    org = re.sub(r"\s+", " ", org).strip()
    org = _case_org(org)
    start = head[0].start + (len(head[0].text) - len(head[0].text.lstrip()))
    end = head[-1].start + len(head[-1].text.rstrip())
    return org, start, end, head, raw


def _chain_units(rest: str, lang: str) -> str:
    """ "ВИКОНАВЧИЙ КОМІТЕТ ДЕПАРТАМЕНТ ОСВІТИ" -> "ДЕПАРТАМЕНТ ОСВІТИ виконавчого комітету"."""
    cuts = [m.start() for m in _UNIT_HEAD.finditer(rest.upper())]
    if len(cuts) < 2 or cuts[0] != 0:
        return rest
    parts = [rest[a:b].strip(" ,") for a, b in zip(cuts, [*cuts[1:], len(rest)], strict=True)]
    return " ".join([parts[-1], *(_genitive_head(p, lang) for p in reversed(parts[:-1]))])


def _genitive_head(phrase: str, lang: str) -> str:
    """Genitive of a unit name: the words up to its head noun change, its dependents stay."""
    morph = morph_analyzer(lang)
    words = phrase.lower().split()
    out = []
    for i, w in enumerate(words):
        parses = [p for p in morph.parse(w) if "nomn" in p.tag]
        noun = next((p for p in parses if "NOUN" in p.tag), None)
        p = noun or next((p for p in parses if "ADJF" in p.tag), None)
        g = p.inflect({"gent"}) if p is not None else None
        out.append(g.word if g is not None else w)
        if noun is not None:
            return " ".join(out + words[i + 1 :])
    return " ".join(out)


def _case_org(org: str) -> str:
    abbr = next((a for a in ("КП ", "КНП ") if org.startswith(a)), None)
    if abbr:
        body = org[len(abbr) :]
        m = re.match(r"^([«\"][^»\"]*[»\"])(.*)$", body)
        if m:
            name = m.group(1)
            inner = normal_case(name[1:-1])
            return f"{abbr}«{inner}»" + (" " + normal_case("x " + m.group(2).strip())[2:] if m.group(2).strip() else "")
        return abbr + normal_case("x " + body)[2:]
    return normal_case(org)


def _city(
    lines: list[Line], head: list[Line], header: list[Line], date_line: Line | None
) -> tuple[str | None, float, Line | None]:
    """(city, confidence, line it came from) from the letterhead's adjective or address."""
    lex = city_lexicon()
    # 1. the council's adjective: "ЧЕРНІВЕЦЬКА МІСЬКА РАДА", "Херсонского городского совета"
    oblast: tuple[str, Line] | None = None
    for ln in head:
        toks = re.findall(r"[^\W\d_][\w'’ʼ-]*", ln.text)
        for i, tok in enumerate(toks[:-1]):
            nxt = norm_word(toks[i + 1])
            if nxt.startswith(_CITY_COUNCIL_WORDS):
                city = lex.city_of_adj(tok)
                if city:
                    return city, 0.95, ln
            elif nxt.startswith(("обласн", "областн", "облдерж", "облгос")) and oblast is None:
                city = lex.city_of_oblast_adj(tok)
                if city:
                    oblast = (city, ln)
    # 2. the address under the letterhead: "м. Чернівці", "г. Сумы"
    limit = date_line.index if date_line is not None else (header[-1].index + 1 if header else 8)
    head_end = head[-1].index if head else -1
    address_lines = [ln for ln in header if ln.index < limit and ln.index <= head_end + 4]
    raw_name: tuple[str, Line] | None = None
    for ln in address_lines:
        for m in _CITY_IN_ADDRESS.finditer(ln.text):
            name = m.group("name")
            for cand in (name, name.split()[0]):
                city = lex.city_of_name(cand)
                if city:
                    return city, 0.9, ln
            if raw_name is None and norm_word(name) not in ("київ", "киев") and ln.index > head_end:
                raw_name = (name.split()[0] if len(name.split()) > 1 else name, ln)
    if oblast:
        return oblast[0], 0.85, oblast[1]
    # 3. any known city adjective in the letterhead ("КП «ВІННИЦЬКИЙ ЕЛЕКТРОТРАНСПОРТ»")
    for ln in head:
        for tok in re.findall(r"[^\W\d_][\w'’ʼ-]*", ln.text):
            city = lex.city_of_adj(tok)
            if city:
                return city, 0.7, ln
    if raw_name:
        return raw_name[0].replace("’", "'").replace("ʼ", "'"), 0.5, raw_name[1]
    return None, 0.0, None


# --- signatory ------------------------------------------------------------------------


def _signature(lines: list[Line]) -> tuple[Line, re.Match[str], list[Line]] | None:
    """The signature line (with the name's match) and the position lines above it, from the bottom."""
    body = [ln for ln in lines if ln.stripped]
    tail = body[-14:]
    for k in range(len(tail) - 1, -1, -1):
        ln = tail[k]
        s = ln.text.rstrip()
        if _EXECUTOR.match(s) and not _CLOSING.match(s):
            continue
        m = _NAME_END.search(s)
        if not m:
            continue
        prefix = s[: m.start()]
        name = m.group("name")
        # a name right-aligned after a gap, or after a position word on the same line
        pos_lines = _position_lines(tail, k, prefix)
        if prefix.strip() and _is_body_line(prefix):
            continue
        title_case = re.fullmatch(rf"[{_UP}][{_LOW}'’ʼ]+[ \t]+[{_UP}][{_LOW}'’ʼ-]+", name) is not None
        if pos_lines is None:
            gap = re.search(r"\s{3,}$", prefix) is not None
            if title_case or not (gap or _name_like(name)):
                continue  # two capitalised words without a position are likely prose
            if not gap and (len(prefix.split()) > 3 or "." in s[m.end("name") :]):
                continue  # a name at the end of a sentence, not a signature
        return ln, m, pos_lines or []
    return None


def _layout_position(text: LetterText, lines: list[Line], start: int, end: int) -> list[Line] | None:
    """Position lines for a name whose text line holds nothing else, from the words on its row.

    The words left of the name on the same visual row (by box centre) start the
    position; its continuation lines above are found as in the text.
    """
    names = text.words_in(start, end)
    if not names:
        return None
    w0 = names[0]
    page = next((p for p in text.pages if any(w is w0 for w in p.words)), None)
    if page is None:
        return None
    cy = w0.top + w0.height / 2
    row = [
        w
        for w in page.words
        if not (start <= w.start < end)
        and abs(w.top + w.height / 2 - cy) < 0.6 * w0.height
        and w.left + w.width <= w0.left
    ]
    if not row:
        return None
    first = min(row, key=lambda w: w.left)
    nonblank = [ln for ln in lines if ln.stripped]
    k = next((i for i, ln in enumerate(nonblank) if ln.start <= first.start < ln.start + len(ln.text) + 1), None)
    if k is None:
        return None
    return _position_lines(nonblank[: k + 1], k, nonblank[k].text)


def _name_like(name: str) -> bool:
    """Initials and a surname, or a first name and a surname in capitals: a signature by its shape."""
    return bool(
        re.fullmatch(rf"(?:[{_UP}]\.[ \t]?){{1,2}}[ \t]?[{_UP}][{_UP}{_LOW}'’ʼ-]{{2,}}", name)
        or re.fullmatch(rf"[{_UP}][{_LOW}'’ʼ]+[ \t]+[{_UP}]{{3,}}[{_UP}'’ʼ-]*", name)
    )


_SPACED_ABBREV = re.compile(r"^((?:[^\W\d_]\.\s*){2,3})")


def _head_word(text: str) -> str:
    """The position's first word, with spaced abbreviations joined ("В. о. директора" -> "в.о.")."""
    m = _SPACED_ABBREV.match(text)
    if m:
        return norm_word(re.sub(r"\s+", "", m.group(1)))
    return norm_word(text.split()[0]) if text.split() else ""


def _position_lines(tail: list[Line], k: int, prefix: str) -> list[Line] | None:
    """Lines holding the position: the name line's prefix and its continuation lines above."""
    cur = _strip_noise(prefix)
    parts = [tail[k]]
    first_word = _head_word(cur)
    j = k - 1
    if not cur:  # the name stands alone: the position is the line above
        if j < 0:
            return None
        above = tail[j].stripped
        if _CLOSING.match(above) or above.endswith((".", "!", ":")) or _is_body_line(above):
            return None
        if _NAME_END.search(above):  # the signature is above: this lone name is the executor's
            return None
        parts = [tail[j], tail[k]]
        cur = above
        first_word = _head_word(cur)
        j -= 1
    while first_word not in _POSITION_HEADS and j >= 0 and len(parts) < 4:
        above = _strip_noise(tail[j].stripped)
        if not above or _CLOSING.match(above) or above.endswith((".", "!", ":", ";")) or _is_body_line(above):
            break
        parts.insert(0, tail[j])
        first_word = _head_word(above)
        j -= 1
    return parts if first_word in _POSITION_HEADS else None


def _strip_noise(s: str) -> str:
    """Drop stray OCR marks (stamp and signature fragments) at the end of a position."""
    s = s.strip()
    while True:
        new = re.sub(r"(?:\s+|^)(?:[^\w\s]+|\w{1,2}[^\w\s]*|\d+[^\w\s]*)$", "", s).strip()
        new = re.sub(r"[\s,.;:|\\/-]+$", "", new)
        if new == s:
            return s
        words = new.split()
        if words and norm_word(words[-1]) in _SHORT_WORDS and len(words[-1]) <= 2 and s.endswith(words[-1]):
            return s
        s = new


def _name_normal(name: str) -> str:
    """ "Я. КУШНІРИК" -> "Я. Кушнірик"; "Сергій ЛАЗАРЕНКО" -> "Сергій Лазаренко"."""
    name = re.sub(r"\s+", " ", name.replace("’", "'").replace("ʼ", "'")).strip()

    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        return w[:1].upper() + w[1:].lower() if len(w) > 1 else w

    return re.sub(r"[^\W\d_]+(?:['][^\W\d_]+)*", fix, name)


# --- OCR word repair ------------------------------------------------------------------

# Letter pairs Tesseract swaps in Ukrainian and Russian print.
_CONFUSIONS = {"и": "й", "й": "и", "і": "ї", "ї": "і", "е": "є", "є": "е", "ш": "щ", "щ": "ш", "ь": "ъ"}


def _known(word: str, lang: str) -> bool:
    w = norm_word(_letters(word) if "'" not in word else word.strip('.,;:«»"()'))
    return not w or morph_analyzer(lang).word_is_known(w)


def _match_case(new: str, like: str) -> str:
    if like.isupper():
        return new.upper()
    if like[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _repair_word(word: str, lang: str) -> str:
    """One OCR-damaged dictionary word: a swapped letter ("ВИКОНАВЧИИ") or a lost space ("міськоїради")."""
    low = word.lower()
    if len(low) < 3 or _known(low, lang) or not low.isalpha():
        return word
    morph = morph_analyzer(lang)
    for i, ch in enumerate(low):
        alt = _CONFUSIONS.get(ch)
        if alt and morph.word_is_known(low[:i] + alt + low[i + 1 :]):
            return _match_case(low[:i] + alt + low[i + 1 :], word)
    for i in range(3, len(low) - 2):
        a, b = low[:i], low[i:]
        if morph.word_is_known(a) and morph.word_is_known(b) and len(b) >= 3:
            return _match_case(a, word) + " " + (b.upper() if word.isupper() else b)
    return word


_QUOTED = re.compile(r"(«[^»]*»|\"[^\"]*\"|“[^”]*”)")


def fix_ocr_words(text: str, lang: str) -> str:
    """Repair OCR-damaged dictionary words in an organisation name or a position.

    Quoted parts are proper names («Львівміськсвітло»), not dictionary words: left alone."""
    parts = _QUOTED.split(text)
    return "".join(
        part if i % 2 else re.sub(r"[^\W\d_]+", lambda m: _repair_word(m.group(0), lang), part)
        for i, part in enumerate(parts)
    )


# --- language -------------------------------------------------------------------------


def _language(body: str) -> tuple[str, float]:
    text = body.lower()
    uk = sum(ch in _UK_CHARS for ch in text)
    ru = sum(ch in _RU_CHARS for ch in text)
    toks = re.findall(r"[^\W\d_]+", text)
    uk += 3 * sum(t in _UK_WORDS for t in toks)
    ru += 3 * sum(t in _RU_WORDS for t in toks)
    if uk == ru:
        return "uk", 0.3
    lang = "ru" if ru > uk else "uk"
    share = max(uk, ru) / (uk + ru)
    return lang, round(min(1.0, share), 3)


# --- the stage ------------------------------------------------------------------------


def extract_fields(text: LetterText) -> LetterFields:
    """All letter fields with spans, pages, boxes and confidences; never raises."""
    fields = LetterFields()
    try:
        full = text.full_text[:MAX_TEXT]
    except Exception:  # a malformed LetterText is still not a reason to crash the batch
        fields.review_reasons.append("letter text unreadable")
        return fields
    lines = split_lines(full)
    is_ocr = any(p.source == TextSource.OCR for p in text.pages)
    header = header_lines(lines)
    state: dict[str, object] = {}

    def step(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # one field failing must not lose the others
            fields.review_reasons.append(f"{name}: extraction failed ({type(exc).__name__})")

    def dates_and_numbers() -> None:
        strong, weak = _own_date_candidates(header)
        outside_header = False
        if not strong and not weak:  # a date line below the subject, or "Вих. № … від …" at the foot
            nonblank = [ln for ln in lines if ln.stripped]
            top = [ln for ln in nonblank[:30] if ln.page == 0]
            strong = [c for c in _own_date_candidates(top)[0] if c.number]
            if not strong:
                strong = [c for c in _own_date_candidates(nonblank[-12:])[0] if c.number]
            outside_header = bool(strong)
        chosen: DateNumber | None = None
        distinct = {c.date.date for c in strong}
        if len(distinct) > 1:
            fields.review_reasons.append("two candidate letter dates")
            # the number may still be unambiguous
            nums = {c.number for c in strong if c.number}
            if len(nums) == 1:
                c = next(c for c in strong if c.number)
                fields.outgoing_number = _value(
                    text, c.number, c.line.start + c.num_start, c.line.start + c.num_end, 0.6
                )  # type: ignore[operator]
            return
        if strong:
            chosen = strong[0]
            conf = 0.95
            if outside_header:
                conf = 0.6
                fields.review_reasons.append("letter date found outside the header")
        elif len({c.date.date for c in weak}) == 1:
            chosen = weak[0]
            conf = 0.7
        elif weak:
            fields.review_reasons.append("two candidate letter dates")
        if chosen is None:
            if not weak:
                fields.review_reasons.append("letter date not found")
        else:
            state["date_line"] = chosen.line
            s = chosen.line.start + chosen.date.start
            fields.letter_date = _value(
                text, chosen.date.date.isoformat(), s, chosen.line.start + chosen.date.end, conf
            )
        if chosen is not None and chosen.number:
            fields.outgoing_number = _value(
                text,
                chosen.number,
                chosen.line.start + chosen.num_start,
                chosen.line.start + chosen.num_end,
                0.9,  # type: ignore[operator]
            )
        elif chosen is None or not chosen.has_sign:
            for ln in header:
                m = _OWN_NUMBER.match(ln.text)
                if m:
                    g = "num" if m.group("num") else "alone"
                    num = _clean_number(m.group(g))
                    if num:
                        fields.outgoing_number = _value(text, num, ln.start + m.start(g), ln.start + m.end(g), 0.7)
                        break
            else:
                if chosen is None or not chosen.has_sign:
                    fields.review_reasons.append("outgoing number not found")

    def request() -> None:
        found = _find_request(lines, header)
        if found is None:
            return
        dm, ln, num, s, e = found
        in_header = any(h.index == ln.index for h in header)
        conf = 0.9 if in_header else 0.75
        fields.request_date = _value(text, dm.date.isoformat(), ln.start + dm.start, ln.start + dm.end, conf)
        if num and s is not None and e is not None:
            fields.request_number = _value(text, num, ln.start + s, ln.start + e, conf)

    def sender() -> None:
        org, s, e, head, _raw = _sender(lines, is_ocr)
        state["head"] = head
        if org:
            fields.sender_org = _value(text, org, s, e, 0.85 if len(org.split()) >= 2 else 0.5)
        else:
            fields.review_reasons.append("sender organisation not found")

    def city() -> None:
        head = state.get("head") or []
        name, conf, ln = _city(lines, head, header, state.get("date_line"))  # type: ignore[arg-type]
        if name and ln is not None:
            fields.sender_city = _value(text, name, ln.start, ln.start + len(ln.text.rstrip()), conf)
            if conf < 0.6:
                fields.review_reasons.append("sender city not in the city list")
        else:
            fields.review_reasons.append("sender city not found")

    def signatory() -> None:
        sig = _signature(lines)
        if sig is None:
            fields.review_reasons.append("signatory not found")
            return
        ln, m, pos_lines = sig
        if not pos_lines:  # OCR may print a right-aligned name apart from its position: use the boxes
            pos_lines = _layout_position(text, lines, ln.start + m.start("name"), ln.start + m.end("name")) or []
        name = _name_normal(m.group("name"))
        fields.signatory_name = _value(text, name, ln.start + m.start("name"), ln.start + m.end("name"), 0.85)
        parts = []
        for pl in pos_lines:
            part = pl.text[: m.start()] if pl is ln else pl.text
            parts.append(_strip_noise(part))
        position = re.sub(r"(?<=[^\W\d_])[/|](?=[^\W\d_])", " ", " ".join(p for p in parts if p))
        position = _strip_noise(re.sub(r"\s+", " ", position))
        position = position.replace("’", "'").replace("ʼ", "'")
        if is_ocr and position:
            lang = str(fields.language.value or "uk")
            position = fix_ocr_words(position, lang)
            words = position.split()
            # a torn fragment of a word at the end ("Начальник ння") is stamp damage, not part of the title
            while len(words) > 1 and (
                (len(_letters(words[-1])) <= 4 and not _known(words[-1], lang))
                or (len(_letters(words[-1])) <= 3 and not _is_abbrev(words[-1]))
            ):
                words.pop()
            position = " ".join(words)
            if any(not _known(w, lang) for w in words if len(_letters(w)) >= 3):
                fields.review_reasons.append("signatory position has unrecognised words (OCR)")
        if position:
            position = normal_case(position, keep_mixed=True)
            position = position[:1].upper() + position[1:]
            first = pos_lines[0]
            fields.signatory_position = _value(
                text, position, first.start + (len(first.text) - len(first.text.lstrip())), ln.start + m.start(), 0.8
            )
        else:
            fields.review_reasons.append("signatory position not found")

    def language() -> None:
        start = max((h.index for h in header), default=-1) + 1
        body = "\n".join(ln.text for ln in lines[start:] if ln.stripped) or full
        lang, conf = _language(body)
        fields.language = FieldValue(value=lang, confidence=conf)
        if conf < 0.6:
            fields.review_reasons.append("language uncertain")

    step("language", language)
    step("letter_date", dates_and_numbers)
    step("request", request)
    step("sender_org", sender)
    step("sender_city", city)
    step("signatory", signatory)
    if text.text_source == TextSource.OCR and not fields.review_reasons and (text.ocr_confidence or 100) < 55:
        fields.review_reasons.append("poor OCR: check every field")
    return fields
