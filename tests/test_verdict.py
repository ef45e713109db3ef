"""The shipped verdict model on hand-made sentences (not in the training corpus), and the stage API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ModelError
from pipeline.schema import Passage, Verdict
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


def test_cases_are_not_in_the_corpus() -> None:
    corpus = CORPUS_PATH.read_text(encoding="utf-8")
    for _, text, _ in CASES:
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
    assert card["cv"]["macro_f1"] > 0.8
    assert (model.path / "model.skops").stat().st_size < 2_000_000
