"""Drafting the promise page's text, and reading it back.

- :func:`sources_line`: "Лист секретаря Чернівецької міської ради Я. Гнатишина" (always in the
  Ukrainian form, as the watchdog writes it on Russian pages too).
- :func:`result_paragraph`: "Згідно з листом Чернівецької міської ради від 7 листопада 2014 року,
  <the deciding sentence>." or, for a Russian promise, "Согласно письму … от 7 ноября 2014 года, …".
  The sentence stays in the letter's language, with "(мовою листа)" / "(на языке письма)" when
  that differs from the promise's.
- :class:`Drafts`: both, looked up by what they are drafted from among texts drafted before (the
  store keeps them; a worker drafts its letter's answers beside reading it), drafted when new.
- :func:`parse_result_paragraph`, :func:`check_result_paragraph`, :func:`check_sources_line`: the
  evaluation reads the drafts back and compares them with the letter's fields, checking the
  genitives by a second method (:func:`pipeline.lang.inflect.is_genitive_of`, the surname endings table).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from pipeline.lang.inflect import (
    genitive_person,
    genitive_phrase,
    is_abbreviation,
    is_genitive_of,
    lexicon,
    parse_person,
    position_without_body,
    surname_genitive_by_rule,
    tokens,
    translate_phrase,
)
from pipeline.nlp import morph_analyzer
from pipeline.stages.dates import iso_date

MARKER = {"uk": "(мовою листа)", "ru": "(на языке письма)"}
NO_EVIDENCE = {"uk": "речення, що вирішує статус, у листі не виділено", "ru": "предложение, решающее статус, в письме не выделено"}
UNDATED = {"uk": "(дату не встановлено)", "ru": "(дата не установлена)"}
OPENING = {"uk": ("Згідно з листом", "від", "року"), "ru": ("Согласно письму", "от", "года")}
PROPER_TAGS = {"Name", "Surn", "Patr", "Geox", "Orgn", "Abbr", "Trad"}
_UK_ONLY = set("іїєґІЇЄҐ")
_RU_ONLY = set("ыэъёЫЭЪЁ")


def phrase_language(text: str, hint: str | None = None) -> str:
    """"uk" or "ru" for a short phrase: by letters only one alphabet has, else by which
    dictionary knows more of its words, else ``hint``."""
    uk = sum(ch in _UK_ONLY for ch in text)
    ru = sum(ch in _RU_ONLY for ch in text)
    if uk != ru:
        return "uk" if uk > ru else "ru"
    words = [t.lower() for t in tokens(text) if t.isalpha() and not is_abbreviation(t)]
    known = {lg: sum(morph_analyzer(lg).word_is_known(w) for w in words) for lg in ("uk", "ru")}
    if known["uk"] != known["ru"]:
        return "uk" if known["uk"] > known["ru"] else "ru"
    return hint if hint in ("uk", "ru") else "uk"


def in_language(phrase: str, lang: str, hint: str | None = None) -> tuple[str, str]:
    """(the phrase in ``lang`` if the lexicon can translate it, else as it is; its language)."""
    src = phrase_language(phrase, hint)
    if src == lang:
        return phrase, src
    translated = translate_phrase(phrase, src, lang)
    return (translated, lang) if translated else (phrase, src)


def _lower_first(text: str) -> str:
    """"Секретар" -> "секретар", "В.о." -> "в.о."; an all-capitals abbreviation ("ТВО") stays."""
    toks = tokens(text)
    if not toks:
        return text
    letters = [c for c in toks[0] if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return text
    return text[:1].lower() + text[1:]


DASH = re.compile(r"\s+[–—-]\s+")


def position_parts(position: str, body: str | None, lang: str, hint: str | None = None) -> list[tuple[str, str]]:
    """The nominative parts of a position, in ``lang`` where the lexicon allows, the body reference
    of the last one dropped when the body follows: "Заступник міського голови – керуючий справами
    виконкому" -> [("Заступник міського голови", "uk"), ("керуючий справами", "uk")]."""
    parts = [p for p in DASH.split(position.strip()) if p]
    out = []
    for i, part in enumerate(parts):
        text, text_lang = in_language(part, lang, hint)
        if body and i == len(parts) - 1:
            body_in, body_lang = in_language(body, lang, hint)
            if body_lang == text_lang:
                text = position_without_body(text, body_in, text_lang)
        out.append((text, text_lang))
    return out


def position_genitive(position: str | None, body: str | None, lang: str, hint: str | None = None) -> str:
    if not position:
        return ""
    parts = [genitive_phrase(text, text_lang) for text, text_lang in position_parts(position, body, lang, hint)]
    return _lower_first(" – ".join(parts))


def body_genitive(body: str | None, lang: str, hint: str | None = None) -> str:
    if not body:
        return ""
    text, text_lang = in_language(body, lang, hint)
    return genitive_phrase(text, text_lang)


def _s(value: object) -> str | None:
    """A text field, or None for missing values (None, NaN from a data frame, blanks)."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def sources_line(position: object, body: object, name: object, letter_lang: object) -> str:
    """"Лист <position> <body> <name>", each in the genitive, in the Ukrainian form."""
    return _sources_line(_s(position), _s(body), _s(name), _s(letter_lang))


@lru_cache(maxsize=8192)
def _sources_line(position: str | None, body: str | None, name: str | None, letter_lang: str | None) -> str:
    parts = [position_genitive(position, body, "uk", letter_lang), body_genitive(body, "uk", letter_lang),
             genitive_person(name, "uk") if name else ""]
    parts = [p for p in parts if p]
    return "Лист " + " ".join(parts) if parts else "Лист (відправника не встановлено)"


def date_in_words(iso: str | None, lang: str) -> str | None:
    """"2014-11-07" -> "7 листопада 2014" (uk) / "7 ноября 2014" (ru)."""
    d = iso_date(iso)
    if d is None:
        return None
    return f"{d.day} {lexicon().months[lang][d.month - 1]} {d.year}"


def trim_sentence(sentence: str, lang: str) -> str:
    """The deciding sentence without its opening formula ("Повідомляємо, що …") or final stop,
    its first word in lower case unless it is a name or an abbreviation."""
    text = " ".join(sentence.split()).strip()
    changed = True
    while changed and text:
        changed = False
        for phrase in lexicon().boilerplate[lang] + lexicon().boilerplate["ru" if lang == "uk" else "uk"]:
            if text.lower().startswith(phrase.lower()) and len(text) > len(phrase) + 1:
                rest = text[len(phrase):]
                if rest[:1] in " ,":
                    text = rest.lstrip(" ,")
                    changed = True
                    break
    text = text.rstrip(" .;")
    toks = tokens(text)
    if toks and toks[0].isalpha() and not is_abbreviation(toks[0]) and toks[0][:1].isupper():
        word_lang = phrase_language(text, lang)
        parses = morph_analyzer(word_lang).parse(toks[0].lower())
        proper = bool(parses and PROPER_TAGS & set(parses[0].tag.grammemes)) or (len(toks[0]) > 2 and _is_place(toks[0]))
        if parses and not proper:
            text = text[:1].lower() + text[1:]
    return text


def _is_place(word: str) -> bool:
    from pipeline.stages.fields_lexicon import city_lexicon

    lex = city_lexicon()
    return bool(lex.city_of_name(word) or lex.is_place_adj(word))


def result_paragraph(body: object, position: object, name: object, letter_date: object,
                     evidence: object, letter_lang: object, promise_lang: object) -> str:
    return _result_paragraph(_s(body), _s(position), _s(name), _s(letter_date), _s(evidence), _s(letter_lang),
                             _s(promise_lang))


@lru_cache(maxsize=8192)
def _result_paragraph(body: str | None, position: str | None, name: str | None, letter_date: str | None,
                      evidence: str | None, letter_lang: str | None, promise_lang: str | None) -> str:
    lang = promise_lang if promise_lang in OPENING else "uk"
    opening, since, year = OPENING[lang]
    if body:
        sender = body_genitive(body, lang, letter_lang)
    else:
        sender = " ".join(p for p in (position_genitive(position, None, lang, letter_lang),
                                      genitive_person(name, lang) if name else "") if p)
    head = opening + (f" {sender}" if sender else "")
    when = date_in_words(letter_date, lang)
    head += f" {since} {when} {year}" if when else f" {UNDATED[lang]}"
    sentence = trim_sentence(evidence, letter_lang or lang) if evidence else ""
    if len(re.findall(r"[^\W\d_]{2,}", sentence)) < 2:  # nothing, or a bare "2." picked as evidence
        sentence = NO_EVIDENCE[lang]
    elif letter_lang and letter_lang != lang:
        sentence += f" {MARKER[lang]}"
    return f"{head}, {sentence}."


# --- drafted texts kept ---------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parents[1]
# What a drafted text depends on besides its inputs: this code, its lexicons and dictionaries.
DRAFTING_SOURCES = ("lang/draft.py", "lang/inflect.py", "nlp.py", "stages/dates.py", "stages/fields_lexicon.py",
                    "data/uk_ru_drafting.tsv", "data/ua_cities.tsv")
DRAFTING_PACKAGES = ("pymorphy3", "pymorphy3-dicts-uk", "pymorphy3-dicts-ru")


@cache
def drafts_version() -> str:
    """A hash of the drafting's code, lexicons and dictionary versions: a text drafted before any of
    them changed is never reused (its key differs), so nobody has to remember to bump anything."""
    from importlib import metadata

    digest = hashlib.sha256()
    for rel in DRAFTING_SOURCES:
        digest.update(rel.encode() + b"\0" + (PACKAGE / rel).read_bytes() + b"\0")
    for name in DRAFTING_PACKAGES:
        try:
            digest.update(f"{name}={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=?\0".encode())
    return digest.hexdigest()


def _key(kind: str, *args: object) -> str:
    raw = json.dumps([drafts_version(), kind, [_s(a) for a in args]], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def sources_key(position: object, body: object, name: object, letter_lang: object) -> str:
    return _key("sources", position, body, name, letter_lang)


def result_key(body: object, position: object, name: object, letter_date: object,
               evidence: object, letter_lang: object, promise_lang: object) -> str:
    return _key("result", body, position, name, letter_date, evidence, letter_lang, promise_lang)


@dataclass
class Drafts:
    """:func:`sources_line` and :func:`result_paragraph` that take a text drafted before from
    ``known`` (key -> text) or ``fetch`` when there is one; ``made`` are the ones drafted here,
    ``used`` the keys asked for (what the store keeps after a whole export)."""

    known: dict[str, str] = field(default_factory=dict)
    made: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    fetch: Callable[[str], str | None] | None = None  # a text drafted before, by key, when not in ``known``

    def _get(self, key: str, draft: Callable[[], str]) -> str:
        self.used.add(key)
        text = self.known.get(key)
        if text is None and self.fetch is not None:
            text = self.fetch(key)
        if text is None:
            text = self.made[key] = draft()
        self.known[key] = text
        return text

    def sources_line(self, position: object, body: object, name: object, letter_lang: object) -> str:
        return self._get(sources_key(position, body, name, letter_lang),
                         lambda: sources_line(position, body, name, letter_lang))

    def result_paragraph(self, body: object, position: object, name: object, letter_date: object,
                         evidence: object, letter_lang: object, promise_lang: object) -> str:
        return self._get(result_key(body, position, name, letter_date, evidence, letter_lang, promise_lang),
                         lambda: result_paragraph(body, position, name, letter_date, evidence, letter_lang,
                                                  promise_lang))


# --- reading drafts back -------------------------------------------------------------

_RESULT_DATED = re.compile(
    r"^(?P<opening>Згідно з листом|Согласно письму)(?: (?P<sender>.*?))?"
    r" (?:від|от) (?P<day>\d{1,2}) (?P<month>[^\W\d_]+) (?P<year>\d{4}) (?:року|года), (?P<sentence>.*)$",
    re.DOTALL,
)
_RESULT_UNDATED = re.compile(r"^(?P<opening>Згідно з листом|Согласно письму)(?: (?P<sender>.*?))? "
                             r"\((?:дату не встановлено|дата не установлена)\), (?P<sentence>.*)$", re.DOTALL)


@dataclass(frozen=True)
class CitedLetter:
    lang: str
    sender: str | None
    date: str | None  # ISO
    sentence: str


def parse_result_paragraph(paragraph: str) -> CitedLetter | None:
    m = _RESULT_DATED.match(paragraph.strip()) or _RESULT_UNDATED.match(paragraph.strip())
    if not m:
        return None
    lang = "uk" if m["opening"].startswith("Згідно") else "ru"
    date = None
    if "day" in m.groupdict():
        months = lexicon().months[lang]
        if m["month"] not in months:
            return None
        try:
            date = dt.date(int(m["year"]), months.index(m["month"]) + 1, int(m["day"])).isoformat()
        except ValueError:
            return None
    return CitedLetter(lang, m["sender"], date, m["sentence"])


def check_result_paragraph(paragraph: str, body: str | None, letter_date: str | None,
                           letter_lang: str | None) -> dict[str, bool]:
    """Does the paragraph cite the letter's date and sender? The sender is checked by parsing the
    cited genitive back to the body's nominative (in the draft's language)."""
    body, letter_date, letter_lang = _s(body), _s(letter_date), _s(letter_lang)
    cited = parse_result_paragraph(paragraph)
    if cited is None:
        return {"parsed": False, "date": False, "sender": False}
    date_ok = cited.date == (str(letter_date)[:10] if letter_date else None)
    if body:
        expected, expected_lang = in_language(body, cited.lang, letter_lang)
        sender_ok = bool(cited.sender) and is_genitive_of(cited.sender or "", expected, expected_lang)
    else:
        sender_ok = True  # nothing to cite but the signatory, whose line the sources check covers
    return {"parsed": True, "date": date_ok, "sender": sender_ok}


def check_sources_line(line: str, position: str | None, body: str | None, name: str | None,
                       letter_lang: str | None) -> bool:
    """Are all genitive forms of the line right? The position and body are parsed back word by word
    (lexeme round trip), the surname is compared with the endings table, the initials must stay."""
    position, body, name, letter_lang = _s(position), _s(body), _s(name), _s(letter_lang)
    if not line.startswith("Лист "):
        return False
    rest = [t for t in tokens(line[len("Лист "):]) if t != "–"]  # the dash joining position parts
    pieces: list[tuple[str, str]] = []  # (nominative, language)
    if position:
        pieces += position_parts(position, body, "uk", letter_lang)
    if body:
        pieces.append(in_language(body, "uk", letter_lang))
    i = 0
    for nominative, lang in pieces:
        n = len(tokens(nominative))
        cited = " ".join(rest[i:i + n])
        if not is_genitive_of(cited, nominative, lang) and not is_genitive_of(cited, _lower_first(nominative), lang):
            return False
        i += n
    if name:
        person = parse_person(name, "uk")
        if person is None:
            return " ".join(rest[i:]) == name
        expected_initials = tokens(person.initials)
        n = len(expected_initials)
        if rest[i:i + n] != expected_initials:
            return False
        cited_surname = "".join(rest[i + n:])
        return cited_surname == "-".join(surname_genitive_by_rule(s, person.gender) for s in person.surname.split("-"))
    return i == len(rest)
