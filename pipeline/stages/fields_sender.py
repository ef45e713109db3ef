"""Field rules: the issuing body (with its parent body) in the nominative, and the sender's city.

The letterhead lines come from :mod:`pipeline.layout`; the body's name is read in either
order of department and council ("УПРАВЛІННЯ … / ХМЕЛЬНИЦЬКА МІСЬКА РАДА" and "ХМЕЛЬНИЦЬКА
МІСЬКА РАДА / УПРАВЛІННЯ …" give the same name), "Комунальне підприємство" becomes "КП",
a short name in brackets is kept, and a name cut by OCR ("… МІСЬКОЇ" without "РАДИ") is
completed. The city comes from the one resolver, :func:`pipeline.cities.resolve_city`.
"""

from __future__ import annotations

import re

from pipeline.cities import resolve_city
from pipeline.layout import Line
from pipeline.lexicons import lexicon
from pipeline.nlp import morph_analyzer
from pipeline.ocrnorm import cyrillic_only, join_hyphenated
from pipeline.stages.field_components import FieldDoc, component
from pipeline.stages.fields_text import fix_ocr_words, genitive, known, normal_case

_PARENT_NOM = re.compile(
    r"(?P<adj>[А-ЯІЇЄҐA-Z'’ʼ-]{3,})\s+"
    r"(?:(?:МІСЬКА|ОБЛАСНА|РАЙОННА|СЕЛИЩНА|СІЛЬСЬКА)\s+(?:ДЕРЖАВНА\s+)?(?:РАДА|АДМІНІСТРАЦІЯ)"
    r"|(?:ГОРОДСКОЙ|ОБЛАСТНОЙ|РАЙОННЫЙ|ПОСЕЛКОВЫЙ|СЕЛЬСКИЙ)\s+СОВЕТ"
    r"|(?:ОБЛАСТНАЯ|РАЙОННАЯ|ГОРОДСКАЯ)\s+ГОСУДАРСТВЕННАЯ\s+АДМИНИСТРАЦИЯ)(?![А-ЯІЇЄҐа-яіїєґ])"
)
_UNIT_HEAD = re.compile(
    r"(?<![А-ЯІЇЄҐ'-])(?=(?:ВИКОНАВЧИЙ\s+КОМІТЕТ|ВИКОНАВЧИЙ\s+ОРГАН|ИСПОЛНИТЕЛЬНЫЙ\s+КОМИТЕТ|ДЕПАРТАМЕНТ|УПРАВЛІННЯ|УПРАВЛЕНИЕ|ВІДДІЛ|ОТДЕЛ|"
    r"СЛУЖБА|КП\b)(?![А-ЯІЇЄҐ]))"
)
_ENTERPRISE = re.compile(r"(?<!\w)(?:КОМУНАЛЬНЕ\s+ПІДПРИЄМСТВО|КОММУНАЛЬНОЕ\s+ПРЕДПРИЯТИЕ)(?!\w)[\s.,]*", re.IGNORECASE)
_NONPROFIT = re.compile(
    r"(?<!\w)(?:КОМУНАЛЬНЕ\s+НЕКОМЕРЦІЙНЕ\s+ПІДПРИЄМСТВО|КОММУНАЛЬНОЕ\s+НЕКОММЕРЧЕСКОЕ\s+ПРЕДПРИЯТИЕ)(?!\w)[\s.,]*",
    re.IGNORECASE,
)
# A parent body whose noun OCR lost at the end of the letterhead: "… РІВНЕНСЬКОЇ МІСЬКОЇ" (+ РАДИ).
_CUT_PARENT = {
    "міської": "ради", "обласної": "ради", "районної": "ради", "селищної": "ради", "сільської": "ради",
    "державної": "адміністрації", "городского": "совета", "областного": "совета", "районного": "совета",
    "поселкового": "совета", "сельского": "совета", "государственной": "администрации",
    "місті": "ради", "городе": "совета",
}  # fmt: skip


def _clean_head(s: str, keep_comma: bool = False) -> str:
    s = re.sub(r"[’ʼ`´]", "'", s)
    s = re.sub(r"^[^\w«\"(]+" if ")" in s else r"^[^\w«\"]+", "", s)
    s = re.sub(r"[^\w»\"'),-]+$" if keep_comma else r"[^\w»\"')]+$", "", s)  # per line: "ЖИТЛОВО-" keeps its hyphen
    s = re.sub(r"(?<=\w)\.(?=\s*«)", "", s)  # OCR: "ПРЕДПРИЯТИЕ. «"
    return re.sub(r"\s+", " ", s).strip()


def _sender(head: list[Line], is_ocr: bool = False) -> tuple[str | None, int | None, int | None, str, str]:
    if not head:
        return None, None, None, "", "uk"
    raw = _clean_head(" ".join(_clean_head(cyrillic_only(ln.text), keep_comma=True) for ln in head))
    upper = raw.upper()
    lang = (
        "ru"
        if re.search(r"[ЫЭЪЁ]|СОВЕТ|ПРЕДПРИЯТИЕ|УПРАВЛЕНИЕ|КОМИТЕТ\b", upper) and not re.search(r"[ІЇЄҐ]", upper)
        else "uk"
    )
    raw = join_hyphenated(raw, lambda w: known(w, lang))
    if is_ocr:
        raw = fix_ocr_words(_join_torn(raw, lang), lang)
    raw = _complete_cut_parent(raw)
    raw = _bracketed_parent(raw, lang)
    raw = _NONPROFIT.sub("КНП ", raw)
    raw = _ENTERPRISE.sub("КП ", raw).strip()
    m = _PARENT_NOM.search(raw.upper())
    if m:
        parent = raw[m.start() : m.end()]
        rest = (raw[: m.start()] + " " + raw[m.end() :]).strip(" ,")
        org = f"{_chain_units(rest, lang)} {genitive(parent, lang)}" if rest else parent
    else:  # a whole parent body above its unit ("ВИКОНАВЧИЙ ОРГАН … РАДИ (…)" / "ДЕПАРТАМЕНТ …")
        org = _chain_units(raw, lang, need_parent=True)
    org = re.sub(r"\s+", " ", org).strip()
    org = _case_org(org)
    start = head[0].start + (len(head[0].text) - len(head[0].text.lstrip()))
    end = head[-1].start + len(head[-1].text.rstrip())
    return org, start, end, raw, lang


def _bracketed_parent(raw: str, lang: str) -> str:
    """A parent body's second name in brackets after the first, in the nominative ("ВИКОНАВЧИЙ
    ОРГАН КИЇВСЬКОЇ МІСЬКОЇ РАДИ (КИЇВСЬКА МІСЬКА ДЕРЖАВНА АДМІНІСТРАЦІЯ)"): put in the
    genitive in place, so that the department below reads "… виконавчого органу Київської
    міської ради (Київської міської державної адміністрації)"."""

    def fix(m: re.Match[str]) -> str:
        inner = m.group(1)
        if not _PARENT_NOM.fullmatch(inner.upper().strip()) or m.start() == 0:
            return m.group(0)
        return "(" + genitive(inner.strip(), lang).upper() + ")"

    return re.sub(r"\(([^()]{8,120})\)", fix, raw)


def _join_torn(raw: str, lang: str) -> str:
    """A word OCR cut in two ("КРИВОРОЖСКОГ О"): an unknown word and a one- or two-letter tail
    that together make a known word."""
    toks = raw.split(" ")
    out: list[str] = []
    for tok in toks:
        if out and 1 <= len(tok) <= 2 and tok.isalpha() and out[-1].isalpha() and not known(out[-1], lang):
            joined = out[-1] + tok
            if known(joined, lang) or _is_place_word(joined):
                out[-1] = joined
                continue
        out.append(tok)
    return " ".join(out)


def _is_place_word(word: str) -> bool:
    from pipeline.cities import city_lexicon

    return city_lexicon().is_place_adj(word)


def _complete_cut_parent(raw: str) -> str:
    words = raw.rstrip(" ,").split(" ")
    last = words[-1].lower() if words else ""
    noun = _CUT_PARENT.get(last)
    if noun is None or len(words) < 2:
        return raw
    return raw.rstrip(" ,") + " " + (noun.upper() if words[-1].isupper() else noun)


def _chain_units(rest: str, lang: str, need_parent: bool = False) -> str:
    """ "ВИКОНАВЧИЙ КОМІТЕТ ДЕПАРТАМЕНТ ОСВІТИ" -> "ДЕПАРТАМЕНТ ОСВІТИ виконавчого комітету".

    ``need_parent``: only when the units above the last one end in a council's name in the
    genitive ("… МІСЬКОЇ РАДИ", "(… АДМІНІСТРАЦІЇ)"), i.e. they name a whole parent body."""
    cuts = [m.start() for m in _UNIT_HEAD.finditer(rest.upper())]
    if len(cuts) < 2 or cuts[0] != 0:
        return rest
    parts = [rest[a:b].strip(" ,") for a, b in zip(cuts, [*cuts[1:], len(rest)], strict=True)]
    if need_parent and not re.search(r"(?:РАДИ|АДМІНІСТРАЦІЇ|СОВЕТА|АДМИНИСТРАЦИИ)\)?$", parts[-2].upper()):
        return rest
    return " ".join([parts[-1], *(_genitive_head(p, lang) for p in reversed(parts[:-1]))])


def _genitive_head(phrase: str, lang: str) -> str:
    """Genitive of a unit name: the words up to its head noun change, its dependents stay."""
    morph = morph_analyzer(lang)
    words = phrase.lower().split()
    out = []
    for i, w in enumerate(words):
        parses = [p for p in morph.parse(w) if "nomn" in p.tag]
        nouns = [p for p in parses if "NOUN" in p.tag]
        noun = nouns[0] if nouns else None
        if nouns:  # "органу", not "органа": the form the names of bodies use (the lexicon's) wins
            forms = [g.word for g in (n.inflect({"gent"}) for n in nouns) if g is not None]
            vocab = lexicon("position_vocabulary")
            out.append(next((f for f in forms if f in vocab), forms[0] if forms else w))
        else:
            p = next((p for p in parses if "ADJF" in p.tag), None)
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




@component("sender_org", requires=(), provides=("sender_org", "letterhead", "sender_lang"))
def sender_org(doc: FieldDoc) -> None:
    head = doc.layout.letterhead
    org, s, e, _raw, lang = _sender(head, doc.is_ocr)
    doc.letterhead, doc.sender_lang = head, lang
    if org:
        doc.fields.sender_org = doc.value(org, s, e, 0.85 if len(org.split()) >= 2 else 0.5)
    else:
        doc.review("sender organisation not found")


@component("sender_city", requires=("letterhead", "date_line"), provides=("sender_city",))
def sender_city(doc: FieldDoc) -> None:
    guess = resolve_city(doc.letterhead, doc.layout.header, doc.date_line)
    if guess is None:
        doc.review("sender city not found")
        return
    ln = guess.line
    doc.fields.sender_city = doc.value(guess.city, ln.start, ln.start + len(ln.text.rstrip()), guess.confidence)
    if guess.confidence < 0.6:
        doc.review("sender city not in the city list")
