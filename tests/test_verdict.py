"""The shipped verdict model on hand-made sentences (not in the training corpus), and the stage API."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.errors import ModelError
from pipeline.schema import Passage, Promise, Verdict
from pipeline.settings import DEFAULT_MODELS_DIR
from pipeline.stages.verdict import VerdictModel, lemma_features, split_sentences
from pipeline.training.verdict import CORPUS_PATH


@pytest.fixture(scope="module")
def model() -> VerdictModel:
    return VerdictModel.load(DEFAULT_MODELS_DIR)


def _passage(text: str, start: int = 0) -> Passage:
    return Passage(index=0, text=text, start=start, end=start + len(text), page=1)


CASES = [
    # negation
    ("uk", "Роботи з ремонту даху поліклініки на вул. Кірова у 2019 році не виконувалися, фінансування не виділялося.",
     Verdict.NOT_FULFILLED),
    ("ru", "Освещение улицы Заречной не устроено, проект не разрабатывался, денег на это в бюджете нет.",
     Verdict.NOT_FULFILLED),
    ("uk", "Будівництво котельні не завершено: змонтовано два котли з трьох, третій буде встановлено до 01.12.2019.",
     Verdict.IN_PROGRESS),
    ("ru", "Скаргам жителей на работу новой насосной станции не поступало: станция введена в эксплуатацию 14.05.2018.",
     Verdict.FULFILLED),
    # hedging / plans without money
    ("uk", "Облаштування пандусів у будівлі ЦНАПу планується розглянути під час підготовки бюджету наступного року.",
     Verdict.NOT_FULFILLED),
    ("ru", "Строительство нового моста предполагается начать при условии получения кредита, решения по которому нет.",
     Verdict.NOT_FULFILLED),
    # partial completion
    ("uk", "Світлодіодні ліхтарі встановлено на 7 вулицях із 15; на решті вулиць монтаж триває, кошти передбачено.",
     Verdict.IN_PROGRESS),
    ("ru", "Ремонт кровли детского сада выполнен на половине площади, работы на второй половине продолжаются.",
     Verdict.IN_PROGRESS),
    # done, with a minor item missing
    ("uk", "Новий дитячий майданчик у дворі будинку № 5 відкрито в червні 2019 року; фарбування огорожі завершать восени.",
     Verdict.FULFILLED),
]


@pytest.mark.parametrize(("lang", "text", "expected"), CASES)
def test_hand_made_sentences(model: VerdictModel, lang: str, text: str, expected: Verdict) -> None:
    sug = model.suggest(_passage(text), lang)
    assert sug.verdict == expected, (text, sug.probabilities)


def _p(title: str, lang: str, said_on: dt.date = dt.date(2015, 11, 20)) -> Promise:
    return Promise("P-T", "Ганна Мазур", "Міський голова", "Коростень", said_on, title, "", lang)


LETTER_DATE = dt.date(2017, 3, 2)
# The five failure classes of the verdict issue, in both languages, judged against the promise.
PROMISE_CASES = [
    # 1. quantity short: after the deadline not fulfilled, before it in progress
    ("uk", "Мазур освітить 30 дворів до кінця 2016 року",
     "У 2016 році відновлено вуличне освітлення на 12 прибудинкових територіях.", LETTER_DATE,
     Verdict.NOT_FULFILLED),
    ("ru", "Мазур осветит 30 дворов до конца 2016 года",
     "В 2016 году восстановлено освещение на 12 придомовых территориях.", LETTER_DATE, Verdict.NOT_FULFILLED),
    ("uk", "Мазур освітить 30 дворів до кінця 2018 року",
     "Станом на 01.02.2017 відновлено освітлення на 12 прибудинкових територіях, роботи тривають.", LETTER_DATE,
     Verdict.IN_PROGRESS),
    ("uk", "Мазур освітить 30 дворів до кінця 2016 року",
     "У 2016 році відновлено освітлення на всіх 30 прибудинкових територіях.", LETTER_DATE, Verdict.FULFILLED),
    # 2. deadline passed with works going on
    ("uk", "Мазур відремонтує міст через Уж до 1 вересня 2016 року",
     "Капітальний ремонт мосту через Уж триває, підрядник виконав близько 70 % робіт.", LETTER_DATE,
     Verdict.NOT_FULFILLED),
    ("ru", "Мазур отремонтирует мост через Уж до 1 сентября 2016 года",
     "Капитальный ремонт моста через Уж продолжается, подрядчик выполнил около 70 % работ.", LETTER_DATE,
     Verdict.NOT_FULFILLED),
    ("ru", "Мазур отремонтирует мост через Уж до конца 2018 года",
     "Капитальный ремонт моста через Уж продолжается, подрядчик выполнил около 70 % работ.", LETTER_DATE,
     Verdict.IN_PROGRESS),
    # 3. negated passive and impersonal clauses
    ("uk", "Мазур реконструює стадіон «Спартак»",
     "Реконструкція стадіону «Спартак» у 2016 році не проводилася, кошти на неї не виділялися.", LETTER_DATE,
     Verdict.NOT_FULFILLED),
    ("ru", "Мазур реконструирует стадион «Спартак»",
     "Реконструкция стадиона «Спартак» в 2016 году не производилась, средства не выделялись.", LETTER_DATE,
     Verdict.NOT_FULFILLED),
    # 4. something related but different done
    ("uk", "Мазур збудує окрему велодоріжку вздовж проспекту Миру",
     "Замість окремої велодоріжки на проспекті Миру нанесено розмітку смуги для велосипедистів на проїжджій частині.",
     LETTER_DATE, Verdict.NOT_FULFILLED),
    ("ru", "Мазур отремонтирует капитально улицу Садовую",
     "На улице Садовой выполнен ямочный ремонт покрытия площадью 120 кв. м.", LETTER_DATE, Verdict.NOT_FULFILLED),
    # 5. reported speech and third-person retellings
    ("uk", "Мазур відкриє дитячий садок на вулиці Шевченка у 2016 році",
     "Як повідомив начальник управління освіти, дитячий садок на вулиці Шевченка відкрито 1 вересня 2016 року, "
     "його відвідують 120 дітей.", LETTER_DATE, Verdict.FULFILLED),
    ("ru", "Мазур откроет детский сад на улице Шевченко в 2016 году",
     "По информации департамента образования, детский сад на улице Шевченко открыт 1 сентября 2016 года, "
     "его посещают 120 детей.", LETTER_DATE, Verdict.FULFILLED),
]


@pytest.mark.parametrize(("lang", "title", "text", "letter_date", "expected"), PROMISE_CASES)
def test_verdict_against_the_promise(model: VerdictModel, lang: str, title: str, text: str,
                                     letter_date: dt.date, expected: Verdict) -> None:
    sug = model.suggest(_passage(text), lang, promise=_p(title, lang), letter_date=letter_date)
    assert sug.verdict == expected, (title, text, sug.probabilities, sug.explanation)
    assert sug.explanation.startswith("reported ")
    assert sug.as_of is not None


def test_explanation_names_the_deadline_and_the_counts(model: VerdictModel) -> None:
    title, text = PROMISE_CASES[0][1], PROMISE_CASES[0][2]
    sug = model.suggest(_passage(text), "uk", promise=_p(title, "uk"), letter_date=LETTER_DATE)
    assert "deadline 2016-12-31 passed at 2017-03-02" in sug.explanation
    assert "12 reported of 30" in sug.explanation
    assert sug.facts["comparison"]["quantity_short"] == 1


def test_library_entry_point_uses_the_shipped_model() -> None:
    from pipeline.api import suggest_verdict

    title, text = PROMISE_CASES[4][1], PROMISE_CASES[4][2]
    sug = suggest_verdict(_p(title, "uk"), text, as_of=LETTER_DATE)
    assert sug.verdict == Verdict.NOT_FULFILLED
    assert sug.as_of == LETTER_DATE


def test_cases_are_not_in_the_corpus() -> None:
    from pipeline.training.pairs import WRITERS_DIR

    corpus = CORPUS_PATH.read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in WRITERS_DIR.glob("*.jsonl"))
    for _, text, _ in CASES:
        assert text not in corpus
    for _, _, text, _, _ in PROMISE_CASES:
        assert text not in corpus


def test_suggestion_shape_and_evidence_offsets(model: VerdictModel) -> None:
    full = "ШАПКА ЛИСТА\n\n" + (
        "На Ваш запит від 02.03.2019 № 14 повідомляємо. Кошти на будівництво басейну в бюджеті міста не "
        "передбачені, проектна документація не розроблялася. Місто має два стадіони.")
    start = full.index("На Ваш")
    sug = model.suggest(_passage(full[start:], start))
    assert sug.verdict == Verdict.NOT_FULFILLED
    assert set(sug.probabilities) == {v.value for v in Verdict}
    assert abs(sum(sug.probabilities.values()) - 1) < 1e-3
    assert sug.confidence == max(sug.probabilities.values())
    assert sug.model_version == model.version
    assert full[sug.evidence_start:sug.evidence_end] == sug.evidence
    assert "не" in sug.evidence and "передбачені" in sug.evidence


def test_empty_passage_does_not_raise(model: VerdictModel) -> None:
    sug = model.suggest(_passage(""))
    assert sug.verdict in set(Verdict)


def test_negation_marks_scope() -> None:
    feats = lemma_features("Роботи не завершено, але кошти передбачено.", "uk").split()
    assert "NEG_завершити" in feats
    assert "передбачити" in feats and "NEG_передбачити" not in feats  # the comma closes the scope


def test_split_sentences_offsets() -> None:
    text = "Перше речення. Друге речення 12.03.2019 р.; третє. 4 квітня — четверте."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans][0] == "Перше речення."
    assert all(text[s:e].strip() == text[s:e] for s, e in spans)
    text = "Проект погоджено в м. Житомир. Договір підписав О. Петренко 5 травня. Роботи на вул. Миру тривають."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Проект погоджено в м. Житомир.", "Договір підписав О. Петренко 5 травня.", "Роботи на вул. Миру тривають."]


def test_missing_model_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        VerdictModel.load(tmp_path)


def test_shipped_model_card_is_complete() -> None:
    model = VerdictModel.load(DEFAULT_MODELS_DIR)
    card = json.loads((model.path / "card.json").read_text(encoding="utf-8"))
    for key in ("version", "training_data", "libraries", "cv", "model_sha256", "card_sha256"):
        assert key in card
    assert card["cv"]["macro_f1"] > 0.85
    assert card["cv"]["macro_f1"] > card["cv_text_only"]["macro_f1"]  # the reason for the design
    assert (model.path / "model.skops").stat().st_size < 2_000_000
