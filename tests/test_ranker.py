"""The learned match ranker: its card is checked on load, its reasons add up to its score, and
hard negatives are told apart in whole letters (invented promises and letters, no dev-set text)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ModelError
from pipeline.schema import FieldValue, LetterFields, LetterText, PageText, Promise, TextSource
from pipeline.settings import DEFAULT_MODELS_DIR
from pipeline.stages.match import FEATURES, PromiseIndex, Ranker, default_ranker, match_letter, score_letter
from pipeline.stages.match_rank import newest_version_dir

D = dt.date(2016, 3, 1)


def letter(body: str, head: str = "ПОЛТАВСЬКА МІСЬКА РАДА\n36000, м. Полтава, вул. Соборності, 36") -> LetterText:
    raw = (f"{head}\n\n17.03.2018 № 01-05/77\nНа № 12 від 01.03.2018\n\nГО «Громадський контроль»\n"
           f"01001, м. Київ, вул. Прикладна, 1\n\n{body}\n\nЗаступник міського голови          М. Бондаренко\n")
    return LetterText("T", [PageText(1, raw, TextSource.TEXT_LAYER, 0.0, 0.0)])


def fields(city: str | None, org: str = "") -> LetterFields:
    f = LetterFields()
    if city:
        f.sender_city = FieldValue(value=city, confidence=0.9)
    if org:
        f.sender_org = FieldValue(value=org, confidence=0.9)
    f.language = FieldValue(value="uk", confidence=0.9)
    f.letter_date = FieldValue(value="2018-03-17", confidence=0.9)
    return f


def ids(matches: list) -> set[str]:
    return {m.promise_id for m in matches}


# --- the card ------------------------------------------------------------------------------------


@pytest.fixture()
def ranker_copy(tmp_path: Path) -> Path:
    src = newest_version_dir(DEFAULT_MODELS_DIR)
    dst = tmp_path / "models" / "ranker" / src.name
    shutil.copytree(src, dst)
    return tmp_path / "models"


def test_shipped_ranker_loads_with_its_card() -> None:
    r = default_ranker()
    assert r.card["features"] == list(FEATURES)
    assert set(r.card["coefficients"]) == set(FEATURES)
    assert r.card["training_data"]["sha256"] and r.card["cv"]["roc_auc"] > 0.9
    assert (r.path / "model.skops").stat().st_size < 2_000_000


def test_edited_card_is_refused(ranker_copy: Path) -> None:
    card_path = newest_version_dir(ranker_copy) / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["coefficients"]["city_same"] = 99.0
    card_path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="edited"):
        Ranker.load(ranker_copy)


def test_replaced_model_file_is_refused(ranker_copy: Path) -> None:
    path = newest_version_dir(ranker_copy) / "model.skops"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="does not match its card"):
        Ranker.load(ranker_copy)


def test_other_feature_names_are_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from pipeline.training.card import save_model

    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(rng.random((40, len(FEATURES))), np.arange(40) % 2)
    names = list(reversed(FEATURES))  # same count, other order: the coefficients would be misread
    save_model(model, tmp_path / "ranker" / "v1", {"name": "ranker", "version": "v1", "features": names})
    with pytest.raises(ModelError, match="trained on features"):
        Ranker.load(tmp_path)


def test_empty_ranker_folder_is_refused_and_a_folder_without_one_uses_the_projects(tmp_path: Path) -> None:
    (tmp_path / "ranker").mkdir()
    with pytest.raises(ModelError, match="no trained match ranker"):
        Ranker.load(tmp_path)
    other = tmp_path / "only-verdict"
    other.mkdir()
    assert Ranker.load(other).path == newest_version_dir(DEFAULT_MODELS_DIR)


# --- reasons ------------------------------------------------------------------------------------------

REG = [
    Promise("POL-SCH2", "Петро Гнатенко", "Полтавський міський голова", "Полтава", D,
            "Гнатенко відремонтує покрівлю школи № 2", "Міський голова пообіцяв замінити дах ліцею.", "uk"),
    Promise("POL-SCH5", "Петро Гнатенко", "Полтавський міський голова", "Полтава", D,
            "Гнатенко відремонтує покрівлю школи № 5", "Міський голова пообіцяв замінити дах школи.", "uk"),
    Promise("POL-BUS", "Петро Гнатенко", "Полтавський міський голова", "Полтава", D,
            "Гнатенко закупить 20 нових тролейбусів", "", "uk"),
    Promise("POL-PARK", "Петро Гнатенко", "Полтавський міський голова", "Полтава", D,
            "Гнатенко реконструює парк Перемоги", "", "uk"),
    Promise("SUM-SCH2", "Олена Литвин", "Сумська міська голова", "Суми", D,
            "Литвин відремонтує покрівлю школи № 2", "", "uk"),
    Promise("SUM-BUS", "Елена Литвин", "Сумской городской голова", "Суми", D,
            "Литвин закупит 20 новых троллейбусов", "", "ru"),
    Promise("NAT-SCH", "Ігор Ткач", "міністр освіти і науки", "", D,
            "Ткач відремонтує покрівлі шкіл по всій країні", "", "uk"),
]


@pytest.fixture(scope="module")
def index() -> PromiseIndex:
    return PromiseIndex.build(REG)


SCHOOL2 = "Повідомляємо, що у 2017 році завершено ремонт покрівлі школи № 2, роботи прийнято в експлуатацію."


def test_reasons_are_the_models_contributions(index: PromiseIndex) -> None:
    r = default_ranker()
    (m,) = match_letter(letter(SCHOOL2), fields("Полтава"), index, ranker=r)
    assert m.promise_id == "POL-SCH2"
    contrib = m.features["contributions"]
    assert set(contrib) <= set(FEATURES) and "city_same" in contrib and "number_same" in contrib
    ls = score_letter(letter(SCHOOL2), fields("Полтава"), index, r)
    c = [index.promises[int(j)].promise_id for j in ls.candidates].index("POL-SCH2")
    x = ls.features.values[0, c]
    logit = r.intercept + float(np.dot(r.coef, x))
    assert m.score == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-4)
    from pipeline.stages.match_rank import FEATURE_TEXT

    shown = m.features["why"].split("; ")
    top = sorted(contrib.items(), key=lambda kv: -abs(kv[1]))[: len(shown)]
    assert [f"{FEATURE_TEXT[k]} {v:+.1f}" for k, v in top] == shown  # the reasons are the largest contributions


# --- hard negatives in whole letters ---------------------------------------------------------------


def test_same_city_other_topic_is_not_matched(index: PromiseIndex) -> None:
    got = ids(match_letter(letter("Закуплено 20 нових тролейбусів, вони вже працюють на маршрутах."),
                           fields("Полтава"), index))
    assert got == {"POL-BUS"}


def test_school_number_two_is_not_school_number_five(index: PromiseIndex) -> None:
    got = ids(match_letter(letter(SCHOOL2), fields("Полтава"), index))
    assert got == {"POL-SCH2"}
    got5 = ids(match_letter(letter(SCHOOL2.replace("№ 2", "№ 5")), fields("Полтава"), index))
    assert got5 == {"POL-SCH5"}


def test_same_topic_other_city_follows_the_sender(index: PromiseIndex) -> None:
    head = "СУМСЬКА МІСЬКА РАДА\n40000, м. Суми, майдан Незалежності, 2"
    assert ids(match_letter(letter(SCHOOL2, head), fields("Суми"), index)) == {"SUM-SCH2"}


def test_russian_spelling_of_the_surname_is_reported(index: PromiseIndex) -> None:
    body = ("Относительно обещания Литвина о троллейбусах сообщаем: закуплено 20 новых троллейбусов, "
            "они работают на маршрутах города.")
    head = "СУМСКОЙ ГОРОДСКОЙ СОВЕТ\n40000, г. Сумы, пл. Независимости, 2"
    (m,) = match_letter(letter(body, head), fields("Суми"), index)
    assert m.promise_id == "SUM-BUS" and m.features["name"] == "Литвина"
    assert m.features["contributions"]["surname"] > 0


def test_genitive_city_in_running_text_decides(index: PromiseIndex) -> None:
    # no city in the letterhead or the fields: the body names the council in the genitive
    body = "На запит щодо діяльності Сумської міської ради повідомляємо: " + SCHOOL2
    head = "КОМУНАЛЬНЕ ПІДПРИЄМСТВО «БУДСЕРВІС»"
    f = fields(None)
    ls = score_letter(letter(body, head), f, index)
    best = {index.promises[j].promise_id: s for j, s in ls.best().items()}
    assert best["SUM-SCH2"] > best["POL-SCH2"]


def test_national_promise_is_not_taken_by_a_city_body(index: PromiseIndex) -> None:
    got = ids(match_letter(letter(SCHOOL2), fields("Полтава"), index))
    assert "NAT-SCH" not in got
    ministry = "МІНІСТЕРСТВО ОСВІТИ І НАУКИ УКРАЇНИ\n01135, м. Київ, просп. Перемоги, 10"
    body = "Повідомляємо, що у 2017 році за кошти державного бюджету відремонтовано покрівлі 140 шкіл."
    got = ids(match_letter(letter(body, ministry), fields("Київ", "Міністерство освіти і науки України"), index))
    assert got == {"NAT-SCH"}
