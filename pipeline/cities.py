"""The one city resolver: Ukrainian cities with their adjectives and Russian forms, and the sender's
city of a letter (the field stage and matching both ask it).

The list (``pipeline/data/ua_cities.tsv``) maps every spelling a letterhead may
use — Ukrainian or Russian name, the council's adjective, a former name, the
oblast adjective of an oblast centre — to the Ukrainian nominative name.
Adjectives are compared by stem (ending stripped), so any case or gender form
("ЧЕРНІВЕЦЬКОЇ", "Черновицкого", "сумська") finds the city.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from pipeline.lexicons import lexicon_list

if TYPE_CHECKING:
    from pipeline.layout import Line

_ADJ_ENDING = re.compile(r"[аеиіїйоуюяыєгмхь]+$")


def norm_word(word: str) -> str:
    """Lower case, one apostrophe, ё as е: the key every lookup uses."""
    return re.sub(r"[’ʼ`´]", "'", word.strip().lower()).replace("ё", "е")


def adj_stem(word: str) -> str:
    """An adjective without its ending: "чернівецької" -> "чернівецьк"."""
    return _ADJ_ENDING.sub("", norm_word(word))


@dataclass(frozen=True)
class CityLexicon:
    by_name: dict[str, str]  # any name spelling -> uk nominative
    by_adj: dict[str, str]  # adjective stem -> uk nominative (city councils)
    by_oblast_adj: dict[str, str]  # oblast adjective stem -> oblast centre
    spellings: dict[str, tuple[str, ...]] = field(default_factory=dict)  # uk nominative -> every name and adjective

    def forms_of(self, city: str) -> tuple[str, ...]:
        """Every spelling of ``city`` the list knows (its names and council adjectives, uk and ru),
        lower case; empty for a place not in the list."""
        return self.spellings.get(self.by_name.get(norm_word(city), city), ())

    def city_of_name(self, name: str) -> str | None:
        return self.by_name.get(norm_word(name))

    def city_of_adj(self, adj: str) -> str | None:
        return self.by_adj.get(adj_stem(adj))

    def city_of_oblast_adj(self, adj: str) -> str | None:
        return self.by_oblast_adj.get(adj_stem(adj))

    def is_place_adj(self, word: str) -> bool:
        stem = adj_stem(word)
        return stem in self.by_adj or stem in self.by_oblast_adj


@lru_cache(maxsize=1)
def city_lexicon() -> CityLexicon:
    text = resources.files("pipeline").joinpath("data", "ua_cities.tsv").read_text(encoding="utf-8")
    by_name: dict[str, str] = {}
    by_adj: dict[str, str] = {}
    by_oblast: dict[str, str] = {}
    spellings: dict[str, list[str]] = {}
    rows = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for row in rows[1:]:  # rows[0] is the column header
        row = row + [""] * (6 - len(row))
        uk, uk_adj, ru, ru_adj, oblast_adj, old = (c.strip() for c in row[:6])
        for name in [uk, *ru.split(","), *old.split(",")]:
            if name.strip():
                by_name.setdefault(norm_word(name), uk)
        for adj in [*uk_adj.split(","), *ru_adj.split(",")]:
            if adj.strip():
                by_adj.setdefault(adj_stem(adj), uk)
        for adj in oblast_adj.split(","):
            if adj.strip():
                by_oblast.setdefault(adj_stem(adj), uk)
        forms = [norm_word(w) for w in [uk, *ru.split(","), *old.split(","), *uk_adj.split(","), *ru_adj.split(",")]
                 if w.strip()]
        spellings.setdefault(uk, []).extend(forms)
    return CityLexicon(by_name, by_adj, by_oblast, {c: tuple(dict.fromkeys(f)) for c, f in spellings.items()})


# --- the sender's city ------------------------------------------------------------------------

CITY_COUNCIL_WORDS = ("міськ", "городск", "селищн", "поселков", "сільськ", "сельск")
_OBLAST_WORDS = ("обласн", "областн", "облдерж", "облгос")
_CITY_IN_ADDRESS = re.compile(
    r"(?:(?<![А-ЯІЇЄҐа-яіїєґA-Za-z])[мгm][ \t]*\.[ \t]*|\bмісто[ \t]+|\bгород[ \t]+)"
    r"(?P<name>[А-ЯІЇЄҐ][а-яіїєґё'’ʼ]+(?:-[А-ЯІЇЄҐ][а-яіїєґё'’ʼ]+)?(?:[ \t]+(?:[А-ЯІЇЄҐ][а-яіїєґё'’ʼ]+))?)"
)
_TOKEN = re.compile(r"[^\W\d_][\w'’ʼ-]*")
_CAPITAL = "Київ"


@dataclass(frozen=True)
class CityGuess:
    city: str  # Ukrainian nominative
    confidence: float
    line: Line  # the line it was read from


def is_national_body(name: str) -> bool:
    """A ministry, a state agency or service, parliament (by the start of its name)."""
    low = " ".join(norm_word(name).split())
    return any(low.startswith(w) or f" {w}" in low for w in lexicon_list("national_bodies"))


def resolve_city(head: list[Line], header: list[Line], date_line: Line | None = None) -> CityGuess | None:
    """The sender's city from the letterhead ``head`` and the ``header`` lines above the text.

    In order: the council's adjective ("ЧЕРНІВЕЦЬКА МІСЬКА РАДА", "Херсонского городского
    совета"); the address under the letterhead ("м. Чернівці", "г. Сумы"); the oblast
    adjective of an oblast body (its centre); any known city adjective in the letterhead
    ("КП «ВІННИЦЬКИЙ ЕЛЕКТРОТРАНСПОРТ»"); Київ for a state body; an unknown place in the
    sender's address, as printed.
    """
    lex = city_lexicon()
    oblast: CityGuess | None = None
    for ln in head:
        toks = _TOKEN.findall(ln.text)
        for i, tok in enumerate(toks[:-1]):
            nxt = norm_word(toks[i + 1])
            if nxt.startswith(CITY_COUNCIL_WORDS):
                city = lex.city_of_adj(tok)
                if city:
                    return CityGuess(city, 0.95, ln)
            elif nxt.startswith(_OBLAST_WORDS) and oblast is None:
                city = lex.city_of_oblast_adj(tok)
                if city:
                    oblast = CityGuess(city, 0.85, ln)
    # the address between the letterhead and the date line (below it stands the addressee's)
    limit = date_line.index if date_line is not None else (header[-1].index + 1 if header else 8)
    head_end = head[-1].index if head else -1
    raw_name: CityGuess | None = None
    for ln in (h for h in header if h.index < limit and h.index <= head_end + 4):
        for m in _CITY_IN_ADDRESS.finditer(ln.text):
            name = m.group("name")
            for cand in (name, name.split()[0]):
                city = lex.city_of_name(cand)
                if city:
                    return CityGuess(city, 0.9, ln)
            if raw_name is None and norm_word(name) not in ("київ", "киев") and ln.index > head_end:
                first = name.split()[0] if len(name.split()) > 1 else name
                raw_name = CityGuess(first.replace("’", "'").replace("ʼ", "'"), 0.5, ln)
    if oblast:
        return oblast
    for ln in head:
        for tok in _TOKEN.findall(ln.text):
            city = lex.city_of_adj(tok)
            if city:
                return CityGuess(city, 0.7, ln)
    if head and is_national_body(" ".join(ln.text for ln in head)):
        return CityGuess(_CAPITAL, 0.8, head[0])
    return raw_name


def city_of_text(full_text: str) -> str | None:
    """The sender's city of a letter given only its text (matching's fallback)."""
    from pipeline.layout import header_lines, letterhead_lines, split_lines

    lines = split_lines(full_text[:20_000], 1000)
    guess = resolve_city(letterhead_lines(lines), header_lines(lines))
    return guess.city if guess else None
