"""The verdict model run from its fitted arrays (runtime.npz) gives the numbers scikit-learn gives,
and the card guards the arrays like the model file: a changed or foreign runtime file is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ModelError
from pipeline.schema import Passage, Promise
from pipeline.settings import DEFAULT_MODELS_DIR
from pipeline.stages.verdict import VerdictModel, newest_version_dir
from pipeline.stages.verdict_runtime import compile_parts, load_runtime
from pipeline.training.card import RUNTIME_FILE, read_card
from pipeline.training.verdict import CORPUS_PATH


@pytest.fixture(scope="module")
def shipped() -> Path:
    return newest_version_dir(DEFAULT_MODELS_DIR)


@pytest.fixture(scope="module")
def both(shipped: Path) -> tuple[VerdictModel, VerdictModel]:
    fast = VerdictModel.load_dir(shipped)
    slow = VerdictModel.load_dir(shipped, runtime=False)
    assert fast.runtime is not None and slow.runtime is None
    return fast, slow


def _passages(n: int = 400) -> list[str]:
    rows = [json.loads(line) for line in CORPUS_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    step = max(1, len(rows) // n)
    return [r["passage"] for r in rows[::step]][:n]


def test_the_batch_loads_the_runtime_arrays(shipped: Path) -> None:
    card = read_card(shipped)
    assert card["runtime_file"] == RUNTIME_FILE and card["runtime_of_model_sha256"] == card["model_sha256"]
    assert (shipped / RUNTIME_FILE).stat().st_size < 2_000_000
    assert VerdictModel.load(DEFAULT_MODELS_DIR).runtime is not None


@pytest.mark.parametrize("lang", ["uk", "ru", None])
def test_same_probabilities_as_scikit_learn(both: tuple[VerdictModel, VerdictModel], lang: str | None) -> None:
    fast, slow = both
    texts = _passages() + ["", "   ", "123", "Роботи завершено."]
    a, b = fast.state_proba(texts, lang), slow.state_proba(texts, lang)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    pa, pb = fast.predict_proba(texts, lang), slow.predict_proba(texts, lang)
    np.testing.assert_allclose(pa, pb, rtol=0, atol=1e-12)
    assert (pa.argmax(axis=1) == pb.argmax(axis=1)).all()


def test_same_suggestions_as_scikit_learn(both: tuple[VerdictModel, VerdictModel]) -> None:
    fast, slow = both
    promise = Promise("P-1", "Іван Петренко", "міський голова", "Суми", dt.date(2015, 10, 1),
                      "Відремонтувати 20 шкіл до кінця 2016 року", "Ремонт 20 шкіл до 31.12.2016", "uk")
    text = ("Станом на 01.10.2017 відремонтовано 12 шкіл із 20. Роботи на решті об'єктів тривають. "
            "Завершення заплановано на 2018 рік.")
    for p in (promise, None):
        sa = fast.suggest(Passage(0, text, 10, 10 + len(text), 1), "uk", promise=p)
        sb = slow.suggest(Passage(0, text, 10, 10 + len(text), 1), "uk", promise=p)
        assert (sa.verdict, sa.confidence, sa.probabilities, sa.evidence, sa.explanation, sa.facts) == \
               (sb.verdict, sb.confidence, sb.probabilities, sb.evidence, sb.explanation, sb.facts)


def test_shipped_arrays_are_those_of_the_shipped_model(both: tuple[VerdictModel, VerdictModel],
                                                        shipped: Path) -> None:
    _, slow = both
    fresh = compile_parts({"state": slow.state, "combiner": slow.combiner})
    with np.load(shipped / RUNTIME_FILE, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(fresh)
        for key in z.files:
            assert np.array_equal(z[key], fresh[key]), key


def _copy(shipped: Path, tmp_path: Path) -> Path:
    models = tmp_path / "models"
    shutil.copytree(shipped, models / "verdict" / shipped.name)
    return models


def test_a_changed_runtime_file_is_refused(shipped: Path, tmp_path: Path) -> None:
    models = _copy(shipped, tmp_path)
    path = models / "verdict" / shipped.name / RUNTIME_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="runtime file .* does not match its card"):
        VerdictModel.load(models)


def test_a_missing_runtime_file_is_refused(shipped: Path, tmp_path: Path) -> None:
    models = _copy(shipped, tmp_path)
    (models / "verdict" / shipped.name / RUNTIME_FILE).unlink()
    with pytest.raises(ModelError, match="runtime file missing"):
        VerdictModel.load(models)


def test_a_runtime_file_needing_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / RUNTIME_FILE
    np.savez(path, meta=np.array([{"format": 1}], dtype=object))
    with pytest.raises(ModelError, match="unreadable"):
        load_runtime(path)


def test_a_model_without_runtime_loads_with_skops(shipped: Path, tmp_path: Path) -> None:
    """An older model directory (no runtime file on its card) still loads, the slow way."""
    from pipeline.training.card import _write_card

    models = _copy(shipped, tmp_path)
    d = models / "verdict" / shipped.name
    card = read_card(d)
    for key in ("runtime_file", "runtime_sha256", "runtime_bytes", "runtime_of_model_sha256"):
        card.pop(key)
    (d / RUNTIME_FILE).unlink()
    _write_card(d, card)
    model = VerdictModel.load(models)
    assert model.runtime is None and model.state is not None



def test_a_processors_rehearsal_leaves_its_results_on_real_letters_unchanged(tmp_path: Path) -> None:
    """Processor.rehearse (a worker's warm-up while Tesseract reads its first page) fills caches only."""
    from pipeline.processor import REHEARSAL, Processor
    from pipeline.samplegen import letter_text, load_sample_data, write_sample_registry
    from pipeline.schema import Letter, LetterResult, LetterText, PageText, Status, TextSource
    from pipeline.settings import Settings
    from pipeline.stages.registry import load_registry

    data = load_sample_data()
    promises = load_registry(write_sample_registry(tmp_path / "promises.csv", data["promises"]))

    def results(rehearse: bool) -> list:
        proc = Processor(promises, Settings())
        if rehearse:
            proc.rehearse()
        out = []
        for item in data["letters"][:4]:
            letter = Letter(item["letter_id"], "0" * 64, f"{item['letter_id']}.pdf", ())
            read = LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.OK, letter=letter)
            read.text = LetterText(letter.letter_id, [PageText(1, letter_text(item), TextSource.TEXT_LAYER, 0.0, 0.0)])
            r = proc.finish(read)
            out.append((r.status, r.error, r.fields.values() if r.fields else None,
                        [(u.promise_id, u.match.score, u.suggestion.verdict if u.suggestion else None,
                          u.suggestion.confidence if u.suggestion else None) for u in r.updates]))
        return out

    assert "станом" in REHEARSAL
    plain = results(False)
    assert any(updates for *_, updates in plain)  # letters that match and get verdicts
    assert results(True) == plain
