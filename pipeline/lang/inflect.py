"""Inflecting and translating the short noun phrases a promise page cites: positions ("Секретар
міської ради"), body names ("Виконавчий комітет Рівненської міської ради") and people ("Микола
Горобець"), from the nominative the fields stage gives to the genitive a citation needs
("Лист секретаря … Я. Гнатишина"), and body names between Ukrainian and Russian.

Everything is pymorphy3 (the uk and ru dictionaries shipped as packages) plus the small lexicon
``pipeline/data/uk_ru_drafting.tsv``; deterministic, no network.

A nominative phrase is inflected up to and including its head noun (the adjectives before it keep
their gender and number); what follows the head is already in the case it governs and stays, as do
quoted names, parentheses and abbreviations ("КП", "в.о.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pipeline.nlp import morph_analyzer

TOKEN = re.compile(
    r"«[^»]*»?|\"[^\"]*\"?|\([^)]*\)?"  # quoted names and parentheses: one token each, never inflected
    r"|[^\W\d_]+(?:\.[^\W\d_]+)*\."  # initials and dotted abbreviations: "Я.", "В.Н.", "в.о.", "т.в.о."
    r"|[^\W\d_]+(?:['’ʼ-][^\W\d_]+)*"  # words, with apostrophes and hyphens
    r"|\d+|\S",
    re.UNICODE,
)
NOMINAL = {"NOUN"}
ADJECTIVAL = {"ADJF", "PRTF", "NUMR"}
PERSON_TAGS = {"Name", "Surn", "Patr"}
INSERT_PREPS = ("у", "в")
CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct", "voct")


@dataclass(frozen=True)
class Lexicon:
    uk_ru: dict[str, str]  # lemma -> lemma
    ru_uk: dict[str, str]
    words_uk_ru: dict[str, str]  # function words
    words_ru_uk: dict[str, str]
    months: dict[str, tuple[str, ...]]  # lang -> 12 genitive month names
    boilerplate: dict[str, tuple[str, ...]]  # lang -> openings, longest first


@cache
def lexicon() -> Lexicon:
    text = resources.files("pipeline").joinpath("data", "uk_ru_drafting.tsv").read_text(encoding="utf-8")
    uk_ru: dict[str, str] = {}
    ru_uk: dict[str, str] = {}
    w_uk_ru: dict[str, str] = {}
    w_ru_uk: dict[str, str] = {}
    months: dict[str, list[str]] = {"uk": [], "ru": []}
    boiler: dict[str, list[str]] = {"uk": [], "ru": []}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("kind\t"):
            continue
        kind, uk, ru = line.split("\t")
        if kind == "lemma":
            uk_ru.setdefault(uk.lower(), ru.lower())
            ru_uk.setdefault(ru.lower(), uk.lower())
        elif kind == "word":
            w_uk_ru.setdefault(uk, ru)
            w_ru_uk.setdefault(ru, uk)
        elif kind == "month":
            months["uk"].append(uk)
            months["ru"].append(ru)
        elif kind == "boilerplate":
            for lang, phrase in (("uk", uk), ("ru", ru)):
                if phrase != "-":
                    boiler[lang].append(phrase)
        else:
            raise ValueError(f"uk_ru_drafting.tsv: unknown kind {kind!r}")
    for lang in ("uk", "ru"):
        if len(months[lang]) != 12:
            raise ValueError("uk_ru_drafting.tsv: twelve months per language expected")
    # City adjectives come from the city list, so the two lists never disagree.
    for row in _city_rows():
        for uk_adj, ru_adj in zip(row["uk_adj"], row["ru_adj"], strict=False):
            uk_ru.setdefault(uk_adj, ru_adj)
            ru_uk.setdefault(ru_adj, uk_adj)
    return Lexicon(uk_ru, ru_uk, w_uk_ru, w_ru_uk, {k: tuple(v) for k, v in months.items()},
                   {k: tuple(sorted(v, key=len, reverse=True)) for k, v in boiler.items()})


def _city_rows() -> list[dict[str, list[str]]]:
    text = resources.files("pipeline").joinpath("data", "ua_cities.tsv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    header = lines[0].split("\t")
    rows = []
    for ln in lines[1:]:
        cells = dict(zip(header, ln.split("\t"), strict=False))
        rows.append({k: [x.strip().lower() for x in (cells.get(k) or "").split(",") if x.strip()]
                     for k in ("uk_adj", "ru_adj")})
    return rows


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def replace_tokens(text: str, new: list[str]) -> str:
    """``text`` with its tokens replaced one for one by ``new``, the spacing between them kept."""
    out, pos = [], 0
    for m, word in zip(TOKEN.finditer(text), new, strict=True):
        out.append(text[pos:m.start()])
        out.append(word)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def join_tokens(toks: list[str]) -> str:
    out = ""
    for t in toks:
        if out and not (t in ",.;:)»" or out.endswith(("(", "«"))):
            out += " "
        out += t
    return out


def is_word(tok: str) -> bool:
    return bool(re.fullmatch(r"[^\W\d_]+(?:['’ʼ-][^\W\d_]+)*", tok))


def is_abbreviation(tok: str) -> bool:
    """"КП", "ЦНАП", "в.о.", "Я.": kept as printed."""
    if "." in tok:
        return True
    letters = [c for c in tok if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def match_case(word: str, model: str) -> str:
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        parts = re.split(r"([-'’ʼ])", word)
        mparts = re.split(r"([-'’ʼ])", model)
        return "".join(p[:1].upper() + p[1:] if i < len(mparts) and mparts[i][:1].isupper() else p
                       for i, p in enumerate(parts))
    return word


def _nominative_parse(word: str, lang: str, person: bool = False) -> Any | None:
    """The likeliest nominative noun/adjective reading of ``word`` (people's names only if ``person``)."""
    best = None
    for p in morph_analyzer(lang).parse(word.lower()):
        tag = p.tag
        nominative = "nomn" in tag or (tag.case is None and p.word == p.normal_form)  # some uk entries lack a case
        if not nominative or tag.POS not in NOMINAL | ADJECTIVAL:
            continue
        if not person and PERSON_TAGS & set(tag.grammemes):
            continue
        rank = (0 if tag.number != "plur" else 1, 0 if "Fixd" not in tag else 1)
        if best is None or rank < best[0]:
            best = (rank, p)
    return best[1] if best else None


def _inflect(parse: Any, grammemes: set[str]) -> str | None:
    """The form of ``parse``'s lexeme with these grammemes. Searched in the lexeme rather than with
    ``inflect``: the uk dictionary leaves the nominative singular without a case or number tag."""
    grammemes = {str(g) for g in grammemes if g}
    case = next((g for g in grammemes if g in CASES), None)
    plural = "plur" in grammemes
    gender = next((g for g in grammemes if g in ("masc", "femn", "neut")), None)
    for form in parse.lexeme:
        tag = form.tag
        form_case = str(tag.case) if tag.case else None
        if case and not (form_case == case or (case == "nomn" and form_case is None)):
            continue
        if (str(tag.number) == "plur") != plural:
            continue
        if gender and not plural and tag.gender and str(tag.gender) != gender:
            continue
        if "Abbr" in tag and "Abbr" not in parse.tag:
            continue
        return form.word
    return None


def genitive_phrase(text: str, lang: str) -> str:
    """A nominative noun phrase in the genitive: "Рівненська міська рада" -> "Рівненської міської ради"."""
    toks = tokens(text)
    out: list[str] = []
    done = False
    skip = 0
    for i, tok in enumerate(toks):
        if skip:
            skip -= 1
            out.append(tok)
            continue
        if not done and tok.lower() in INSERT_PREPS and i + 1 < len(toks) and out:
            out.append(tok)  # "районна у місті рада": the place phrase stays, the noun after it is the head
            skip = 1
            continue
        if done or not is_word(tok) or is_abbreviation(tok):
            if is_word(tok) or tok.startswith(("«", "(", '"')) or "." in tok:
                done = True  # what follows an abbreviation or a name is already governed
            out.append(tok)
            continue
        p = _nominative_parse(tok, lang)
        if p is None:
            done = True
            out.append(tok)
            continue
        word = _inflect(p, _keep_number_gender(p, "gent"))
        out.append(match_case(word, tok) if word else tok)
        if p.tag.POS in NOMINAL:
            done = True
    return replace_tokens(text, out)


def _keep_number_gender(parse: Any, case: str) -> set[str]:
    tag = parse.tag
    grammemes = {case}
    if tag.number == "plur":
        grammemes.add("plur")
    elif tag.POS in ADJECTIVAL and tag.gender:
        grammemes.add(tag.gender)
    return grammemes


# --- the body a position refers to -------------------------------------------------

HEAD_CLASSES = (
    {"рада", "совет"},
    {"комітет", "виконком", "міськвиконком", "комитет", "исполком", "горисполком"},
    {"управління", "управление"},
    {"департамент"},
    {"відділ", "отдел"},
    {"адміністрація", "администрация"},
    {"служба"},
    {"агентство"},
    {"міністерство", "министерство"},
    {"підприємство", "предприятие", "кп"},
    {"інспекція", "инспекция"},
    {"центр"},
    {"фонд"},
)


def _word_head_class(word: str, lang: str) -> int | None:
    """The head class of any noun reading of ``word`` ("ради" -> the council class)."""
    if is_abbreviation(word):
        return _head_class(word.lower())
    for p in morph_analyzer(lang).parse(word.lower()):
        if p.tag.POS in NOMINAL and (cls := _head_class(p.normal_form)) is not None:
            return cls
    return None


def _head_class(lemma: str) -> int | None:
    for i, cls in enumerate(HEAD_CLASSES):
        if lemma in cls:
            return i
    return None


def body_head(body: str, lang: str) -> int | None:
    """The class of the body's head noun ("Виконавчий комітет …" -> the committee class)."""
    toks = tokens(body)
    skip = 0
    for i, tok in enumerate(toks):
        if skip or not is_word(tok):
            skip = max(0, skip - 1)
            continue
        if tok.lower() in INSERT_PREPS and i > 0:
            skip = 1
            continue
        if is_abbreviation(tok):
            return _head_class(tok.lower())
        p = _nominative_parse(tok, lang)
        if p is not None and p.tag.POS in NOMINAL:
            return _head_class(p.normal_form)
        if p is None:
            return None
    return None


def position_without_body(position: str, body: str, lang: str) -> str:
    """Drop the trailing body reference of a position when the body itself follows it:
    "Секретар міської ради" before "Чернівецька міська рада" -> "Секретар"; "Заступник Голови
    Державного агентства …" before "Державне агентство …" -> "Заступник Голови"."""
    toks = tokens(position)
    body_gen = [t.casefold() for t in tokens(genitive_phrase(body, lang))]
    for start in range(1, len(toks)):
        tail = [t.casefold() for t in toks[start:]]
        if len(tail) >= 2 and body_gen[:len(tail)] == tail:
            return _cut(position, start)
    head = body_head(body, lang)
    if head is None or len(toks) < 2:
        return position
    last = toks[-1]
    if not is_word(last) or _word_head_class(last, lang) != head:
        return position
    cut = len(toks) - 1
    # Adjectives agreeing with the dropped noun go with it ("міської ради", "виконавчого комітету"),
    # and so does a place phrase between them ("районного в місті").
    while cut > 1:
        prev = toks[cut - 1]
        if cut > 2 and toks[cut - 2].lower() in INSERT_PREPS:
            cut -= 2
        elif is_word(prev) and any(p.tag.POS in ADJECTIVAL for p in morph_analyzer(lang).parse(prev.lower())) \
                and not _nominative_parse(prev, lang):
            cut -= 1
        else:
            break
    return _cut(position, cut)


def _cut(text: str, n_tokens: int) -> str:
    """The first ``n_tokens`` tokens of ``text`` as written."""
    ms = list(TOKEN.finditer(text))
    return text[:ms[n_tokens - 1].end()] if n_tokens and ms else ""


# --- people --------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonName:
    initials: str  # "Я.", "В.Н.", "М. І."
    surname: str
    gender: str  # masc | femn


def _is_initials(tok: str) -> bool:
    return bool(re.fullmatch(r"(?:[^\W\d_]\.\s?){1,3}", tok))


def parse_person(name: str, lang: str = "uk") -> PersonName | None:
    """"Микола ГОРОБЕЦЬ", "Я. Гнатишин", "Бойцов В.Н.", "Ольга Іванівна Стасюк" -> initials, surname, gender."""
    parts = [p for p in re.split(r"\s+", name.strip()) if p]
    if not parts:
        return None
    initials: list[str] = []
    given: list[tuple[str, str | None]] = []
    rest: list[str] = []
    for part in parts:
        if _is_initials(part):
            initials += [c + "." for c in part if c.isalpha()]
            continue
        found = None
        for lg in (lang, "uk" if lang == "ru" else "ru"):
            for p in morph_analyzer(lg).parse(part.lower()):
                if ("Name" in p.tag or "Patr" in p.tag) and "nomn" in p.tag and "Surn" not in p.tag:
                    found = p
                    break
            if found:
                break
        if found and len(parts) > 1 and (rest or len(given) < 2):
            given.append((part, found.tag.gender))
        else:
            rest.append(part)
    if not rest and given:  # "Петрович" alone, or a surname that is also a first name
        rest.append(given.pop()[0])
    if not rest:
        return None
    surname = " ".join(rest)
    surname = surname if not surname.isupper() else surname.capitalize()
    gender = next((g for _, g in given if g in ("masc", "femn")), None) or surname_gender(surname)
    letters = initials + [g[0][0].upper() + "." for g in given]
    return PersonName(" ".join(letters), surname, gender)


FEMININE_ENDINGS = ("ська", "цька", "зька", "ова", "ева", "єва", "іна", "ина", "їна", "ая", "яя")


def surname_gender(surname: str) -> str:
    s = surname.lower()
    return "femn" if s.endswith(FEMININE_ENDINGS) else "masc"


def genitive_surname(surname: str, gender: str, lang: str = "uk") -> str:
    """The surname in the genitive for a man or a woman; a woman's consonant or -о surname stays."""
    out = []
    for part in surname.split("-"):
        low = part.lower()
        if gender == "femn" and not low.endswith(("а", "я")):
            out.append(part)
            continue
        if lang == "ru" and low.endswith(("ко", "о", "их", "ых")):
            out.append(part)
            continue
        if lang == "uk" and gender == "masc" and low.endswith(("ів", "їв")):
            out.append(part + "а")  # Федорків -> Федорківа: declined as a noun, not as a possessive adjective
            continue
        choice = None
        for p in morph_analyzer(lang).parse(low):
            tag = p.tag
            if "nomn" not in tag or "Fixd" in tag or tag.number == "plur":
                continue
            if tag.gender != gender:
                continue
            rank = 0 if "Surn" in tag else 1 if tag.POS in NOMINAL else 2
            if choice is None or rank < choice[0]:
                choice = (rank, p)
        word = _inflect(choice[1], {"gent", gender}) if choice else None
        out.append(match_case(word, part) if word else part)
    return "-".join(out)


def genitive_person(name: str, lang: str = "uk") -> str:
    """"Ярослав Гнатишин" -> "Я. Гнатишина"; "Ольга Стасюк" -> "О. Стасюк"."""
    person = parse_person(name, lang)
    if person is None:
        return name
    surname = genitive_surname(person.surname, person.gender, lang)
    return f"{person.initials} {surname}".strip()


def nominative_person(name: str, lang: str = "uk") -> str:
    person = parse_person(name, lang)
    return f"{person.initials} {person.surname}".strip() if person else name


# --- uk <-> ru ---------------------------------------------------------------------


ACTING = {  # "acting" before a position: и. о. (ru) = в. о. (uk)
    ("ru", "uk"): [(re.compile(r"\b([Ии])\.\s?([оО])\."), lambda m: ("В" if m[1] == "И" else "в") + ". о.")],
    ("uk", "ru"): [(re.compile(r"\b([Вв])\.\s?([оО])\."), lambda m: ("И" if m[1] == "В" else "и") + ". о.")],
}


def translate_phrase(text: str, src: str, dst: str) -> str | None:
    """A body name in the other language, word by word through the lexicon, with adjectives
    agreeing with their noun in the target language ("Чернівецька міська рада" -> "Черновицкий
    городской совет"). None when a word is not in the lexicon."""
    if src == dst:
        return text
    lex = lexicon()
    lemmas = lex.uk_ru if (src, dst) == ("uk", "ru") else lex.ru_uk
    words = lex.words_uk_ru if (src, dst) == ("uk", "ru") else lex.words_ru_uk
    for pattern, replacement in ACTING[(src, dst)]:
        text = pattern.sub(replacement, text)
    toks = tokens(text)
    plan: list[tuple[str, Any, str | None, str | None, str]] = []  # (kind, target parse, case, number, src token)
    before_head = True
    prev_prep = None
    for tok in toks:
        if not is_word(tok) or is_abbreviation(tok):
            plan.append(("keep", None, None, None, tok))
            if "." in tok and tok[:1].islower() or tok.startswith(("«", "(", '"')):
                before_head = False  # "в. о. директора", "т.в.о. начальника": what follows is governed
            continue
        if tok.lower() in words:
            plan.append(("word", None, None, None, tok))
            prev_prep = tok.lower()
            continue
        src_parse = _nominative_parse(tok, src) if before_head else None
        if src_parse is None:
            src_parse = _dependent_parse(tok, src, lemmas, prev_prep)
        if src_parse is None:
            return None
        target_lemma = lemmas.get(src_parse.normal_form)
        if target_lemma is None:
            return None
        target = _target_parse(target_lemma, src_parse.tag.POS, dst)
        if target is None:
            return None
        plan.append(("lex", target, src_parse.tag.case, src_parse.tag.number, tok))
        if src_parse.tag.POS in NOMINAL:
            before_head = False
        prev_prep = None
    out: list[str] = []
    for i, (kind, target, case, number, tok) in enumerate(plan):
        if kind == "keep":
            out.append(tok)
            continue
        if kind == "word":
            out.append(match_case(words[tok.lower()], tok))
            continue
        grammemes = {g for g in (case, number or "sing") if g}
        if target.tag.POS in ADJECTIVAL and (number or "sing") == "sing":
            noun = next((t for k, t, c, _, _ in plan[i + 1:] if k == "lex" and t.tag.POS in NOMINAL), None)
            gender = noun.tag.gender if noun is not None else "masc"
            grammemes.add(gender if gender in ("masc", "femn", "neut") else "masc")
        if target.tag.POS in NOMINAL and target.tag.number == "plur":  # plural-only nouns (фінанси)
            grammemes.discard("sing")
            grammemes.add("plur")
        word = _inflect(target, grammemes) or target.word
        out.append(match_case(word, tok))
    return join_tokens(out)


def _dependent_parse(tok: str, lang: str, lemmas: dict[str, str], prev_prep: str | None) -> Any | None:
    """A word after the head: prefer a reading the lexicon knows, genitive (locative after у/в), singular."""
    want = ("loct", "gent") if prev_prep in ("у", "в", "при", "на") else ("gent", "loct", "nomn", "ablt", "datv")
    best = None
    for p in morph_analyzer(lang).parse(tok.lower()):
        if p.tag.POS not in NOMINAL | ADJECTIVAL or p.normal_form not in lemmas:
            continue
        if PERSON_TAGS & set(p.tag.grammemes):
            continue
        case = p.tag.case
        rank = (want.index(case) if case in want else 9, 0 if p.tag.number != "plur" else 1)
        if best is None or rank < best[0]:
            best = (rank, p)
    return best[1] if best else None


def _target_parse(lemma: str, pos: str, lang: str) -> Any | None:
    parses = morph_analyzer(lang).parse(lemma)
    group = NOMINAL if pos in NOMINAL else ADJECTIVAL
    for p in parses:
        if p.normal_form == lemma and p.tag.POS in group and not PERSON_TAGS & set(p.tag.grammemes):
            return p
    for p in parses:
        if p.tag.POS in group:
            return p
    return None


# --- checking forms by a second method ---------------------------------------------


def is_genitive_of(genitive: str, nominative: str, lang: str) -> bool:
    """Does ``genitive`` cite ``nominative`` in the genitive? Checked word by word by parsing the
    cited form back: up to the head it must be a genitive reading whose lexeme holds the
    nominative word; after the head (and quotes, abbreviations) the words must be identical."""
    gt, nt = tokens(genitive), tokens(nominative)
    if len(gt) != len(nt):
        return False
    governed = False
    for g, n in zip(gt, nt, strict=True):
        if governed or not is_word(n) or is_abbreviation(n):
            if g != n:
                return False
            if is_word(n) or n.startswith(("«", "(", '"')) or "." in n:
                governed = True
            continue
        ok = any(
            any(f.word == n.lower() and (f.tag.case is None or "nomn" in f.tag) and f.tag.number == p.tag.number
                for f in p.lexeme)
            for p in morph_analyzer(lang).parse(g.lower())
            if "gent" in p.tag and p.tag.POS in NOMINAL | ADJECTIVAL
        )
        nominative = _nominative_parse(n, lang)
        if not ok:
            if g == n and nominative is None:  # not a nominative noun phrase word: what follows is governed
                governed = True
                continue
            return False
        if nominative is None or nominative.tag.POS in NOMINAL:
            governed = True
    return True


def surname_genitive_by_rule(surname: str, gender: str) -> str:
    """The Ukrainian genitive of a surname by the school-grammar endings table (a second method
    beside pymorphy3's paradigms): -енко/-ко -> -а; -ський/-цький -> -ого; -ська -> -ої;
    -ній -> -нього, -ій -> -ія; -а -> -и (-і after a soft consonant), -я -> -і; consonant -> +а (-ь/-й -> -я, -ець -> -ця);
    a woman's consonant or -о surname is not declined."""
    s = surname
    low = s.lower()
    if gender == "femn":
        if low.endswith(("ська", "цька", "зька", "ова", "ева", "єва", "іна", "їна")) or (
                low.endswith("на") and low[-3:-2] not in "аеєиіїоуюя"):  # Загірна, Чорна: declined as adjectives
            return s[:-1] + "ої"
        if low.endswith("а"):
            return s[:-1] + ("і" if low[-2:-1] in "ьй" else "и")
        if low.endswith("я"):
            return s[:-1] + "і"
        return s
    if low.endswith(("ський", "цький", "зький", "ий")):
        return s[:-2] + "ого"
    if low.endswith("ній"):  # Загорній, Крайній: soft adjectival
        return s[:-2] + "ього"
    if low.endswith("ій"):
        return s[:-2] + "ія"
    if low.endswith("о"):
        return s[:-1] + "а"
    if low.endswith("а"):
        return s[:-1] + "и"
    if low.endswith("я"):
        return s[:-1] + "і"
    if low.endswith("ець") and len(low) > 4:
        return s[:-3] + "ця"
    if low.endswith("ь") or low.endswith("й"):
        return s[:-1] + "я"
    return s + "а"
