"""Moved to :mod:`pipeline.cities` (the one city resolver); kept so that older imports still work."""

from pipeline.cities import CityLexicon, adj_stem, city_lexicon, norm_word

__all__ = ["CityLexicon", "adj_stem", "city_lexicon", "norm_word"]
