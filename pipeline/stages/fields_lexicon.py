"""Ukrainian cities with their adjectives and Russian forms, from the packaged list.

The list (``pipeline/data/ua_cities.tsv``) maps every spelling a letterhead may
use — Ukrainian or Russian name, the council's adjective, a former name, the
oblast adjective of an oblast centre — to the Ukrainian nominative name.
Adjectives are compared by stem (ending stripped), so any case or gender form
("ЧЕРНІВЕЦЬКОЇ", "Черновицкого", "сумська") finds the city.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

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
    return CityLexicon(by_name, by_adj, by_oblast)
