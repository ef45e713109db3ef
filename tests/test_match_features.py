"""Each named feature of the match ranker on a constructed (passage, promise) example."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from pipeline.schema import Promise
from pipeline.stages.match_features import FEATURES, LetterContext, char_grams, object_numbers, pair_features
from pipeline.stages.match_index import PromiseIndex

D = dt.date(2016, 3, 1)
REG = [
    Promise("SCH2", "Ярема Сівчук", "Рівненський міський голова", "Рівне", D,
            "Сівчук відремонтує покрівлю школи № 2 у 2017 році", "", "uk"),
    Promise("SCH5", "Ярема Сівчук", "Рівненський міський голова", "Рівне", D,
            "Сівчук відремонтує покрівлю школи № 5", "", "uk"),
    Promise("BUS", "Ольга Дячук", "депутат міської ради", "Рівне", D, "Дячук доб'ється закупівлі нових тролейбусів", "",
            "uk"),
    Promise("POL", "Петро Гнатенко", "Полтавський міський голова", "Полтава", D,
            "Гнатенко відремонтує покрівлю школи № 2", "", "uk"),
    Promise("NAT", "Ігор Ткач", "міністр освіти", "", D, "Ткач забезпечить школи новими підручниками", "", "uk"),
    Promise("OBL", "Анна Бойко", "голова обласної державної адміністрації", "Житомир", D,
            "Бойко відремонтує дороги області", "", "uk"),
    Promise("LATE", "Іван Кравець", "Рівненський міський голова", "Рівне", dt.date(2019, 1, 1),
            "Кравець облаштує сквер біля вокзалу", "", "uk"),
    Promise("TWIN", "Ярема Сівчук", "Рівненський міський голова", "Рівне", D,
            "Сівчук відремонтує покрівлю", "", "uk"),
]


@pytest.fixture(scope="module")
def index() -> PromiseIndex:
    return PromiseIndex.build(REG)


def ctx(*passages: str, city: str | None = "Рівне", tier: str = "city", said: str = "",
        date: dt.date | None = dt.date(2017, 12, 1)) -> LetterContext:
    return LetterContext(passages=tuple(passages), whole="\n".join(passages), said=said + "\n" + "\n".join(passages),
                         lang="uk", city=city, sender_tier=tier, national_sender=tier == "national", letter_date=date)


def value(index: PromiseIndex, c: LetterContext, pid: str, feature: str, passage: int = 0) -> float:
    f = pair_features(index, c, limit=False)
    row = {index.promises[int(j)].promise_id: k for k, j in enumerate(f.candidates)}
    assert pid in row, f"{pid} not scored"
    return float(f.values[passage, row[pid], FEATURES.index(feature)])


SCHOOL2 = "У 2017 році відремонтовано покрівлю школи № 2, закупівлю робіт проведено через тендер."
COVERED: set[str] = set()


def check(feature: str) -> str:
    COVERED.add(feature)
    return feature


def test_lemma_cosine_and_char_ngrams(index: PromiseIndex) -> None:
    c = ctx(SCHOOL2)
    assert value(index, c, "SCH2", check("lemma_cosine")) > value(index, c, "BUS", "lemma_cosine")
    assert value(index, c, "SCH2", check("title_coverage")) > 0.7 > value(index, c, "BUS", "title_coverage")
    # a paragraph on two topics: the sentence on the promise is not diluted by the other one
    mixed = ctx("Закуплено нові тролейбуси для маршрутів міста. " + SCHOOL2)
    assert value(index, mixed, "SCH2", check("sentence_cosine")) > value(index, mixed, "SCH2", "lemma_cosine")
    # OCR noise (a lost letter, Latin look-alikes) keeps most character 4-grams
    noisy = ctx("У 2017 році відремонтовано покрiвлю шкoли № 2")
    assert value(index, noisy, "SCH2", check("char_ngram")) > 0.5
    assert len(char_grams("покрівлю") & char_grams("покрiвлю")) > 0


def test_whole_letter_gain_and_multi_point(index: PromiseIndex) -> None:
    c = ctx("1. Відремонтовано покрівлю.", "2. У школі № 2 роботи завершено в 2017 році.")
    assert value(index, c, "SCH2", check("multi_point")) == 1.0
    assert value(index, c, "SCH2", check("whole_letter_gain"), passage=0) > 0
    assert value(index, ctx(SCHOOL2), "SCH2", "whole_letter_gain") == 0.0


def test_city_same_other_and_running_text(index: PromiseIndex) -> None:
    c = ctx(SCHOOL2)
    assert value(index, c, "SCH2", check("city_same")) == 1.0
    assert value(index, c, "POL", check("city_other")) == 1.0
    unknown = ctx(SCHOOL2, city=None)
    assert value(index, unknown, "POL", check("city_unknown")) == 1.0 and value(index, c, "POL", "city_unknown") == 0
    # the city only in running text, in the genitive: "Полтавської міської ради"
    g = ctx(SCHOOL2, city=None, said="На запит до Полтавської міської ради повідомляємо")
    assert value(index, g, "POL", check("city_in_text")) == 1.0
    assert value(index, g, "SCH2", check("city_in_text_other")) == 1.0


def test_national_and_tiers(index: PromiseIndex) -> None:
    text = "Школи забезпечено новими підручниками."
    assert value(index, ctx(text, city="Київ", tier="national"), "NAT", check("national_by_state_body")) == 1.0
    assert value(index, ctx(text), "NAT", check("national_by_local_body")) == 1.0
    roads = "Відремонтовано дороги, покрівлю школи № 2, закуплено тролейбуси."
    assert value(index, ctx(roads, city="Житомир", tier="region"), "OBL", check("tier_region_region")) == 1.0
    assert value(index, ctx(roads, city=None, tier="region"), "SCH2", check("tier_region_city")) == 1.0
    assert value(index, ctx(text, city=None, tier="region"), "NAT", check("tier_region_national")) == 1.0
    assert value(index, ctx(roads, city="Житомир", tier="city"), "OBL", check("tier_city_region")) == 1.0


def test_surname_in_another_spelling_and_office(index: PromiseIndex) -> None:
    # the registry spells it in Ukrainian, the letter in Russian and in the genitive
    c = ctx(SCHOOL2, said="По обещанию Сивчука, городского головы")
    assert value(index, c, "SCH2", check("surname")) == 1.0
    assert value(index, c, "BUS", "surname") == 0.0
    assert value(index, c, "SCH2", check("office")) == 1.0


def test_topics(index: PromiseIndex) -> None:
    c = ctx(SCHOOL2)
    assert value(index, c, "SCH2", check("topic_overlap")) == 1.0
    assert value(index, c, "BUS", check("topic_conflict")) == 1.0
    assert value(index, c, "SCH2", "topic_conflict") == 0.0


def test_object_numbers_and_years(index: PromiseIndex) -> None:
    c = ctx(SCHOOL2)
    assert value(index, c, "SCH2", check("number_same")) == 1.0
    assert value(index, c, "SCH5", check("number_conflict")) == 1.0
    assert value(index, c, "SCH2", check("year_same")) == 1.0
    assert value(index, c, "SCH5", "year_same") == 0.0
    assert object_numbers("школа Ме 7 і ліцей № 12") == {"7", "12"}  # OCR's "Ме" for "№"


def test_letter_older_than_the_promise(index: PromiseIndex) -> None:
    c = ctx("Облаштовано сквер біля вокзалу.", date=dt.date(2018, 5, 1))
    assert value(index, c, "LATE", check("letter_before_promise")) == 1.0
    assert value(index, replace(c, letter_date=dt.date(2019, 5, 1)), "LATE", "letter_before_promise") == 0.0


def test_competition_on_a_passage(index: PromiseIndex) -> None:
    c = ctx(SCHOOL2)
    assert value(index, c, "SCH2", check("lead")) > 0 and value(index, c, "SCH2", check("behind")) == 0
    assert value(index, c, "BUS", "behind") > 0 and value(index, c, "BUS", "lead") == 0
    assert value(index, c, "BUS", check("dominance_gap")) > 0
    # "repair the roof" brings no word of its own beside "repair the roof of school № 2"
    assert value(index, c, "TWIN", check("subsumed")) == 1.0
    assert value(index, c, "SCH2", "subsumed") == 0.0


def test_shortlist_is_a_subset_of_the_full_ranking(index: PromiseIndex) -> None:
    c = ctx(SCHOOL2)
    short = pair_features(index, c)
    full = pair_features(index, c, limit=False)
    assert set(short.candidates.tolist()) <= set(full.candidates.tolist())
    common = [int(j) for j in short.candidates]
    pos_full = {int(j): k for k, j in enumerate(full.candidates)}
    for k, j in enumerate(common):
        np.testing.assert_allclose(short.values[:, k], full.values[:, pos_full[j]])


def test_every_feature_is_exercised() -> None:
    # runs last in this module (pytest keeps file order): each named feature has its own check above
    assert COVERED == set(FEATURES)
