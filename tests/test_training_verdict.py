"""Training: determinism, skops round trip, refusal of tampered or mismatched models, baselines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ModelError
from pipeline.schema import Passage
from pipeline.stages.verdict import VerdictModel
from pipeline.training import card as cardlib
from pipeline.training.baselines import KeywordRules, PaperlessStyle
from pipeline.training.pairs import WRITERS_DIR
from pipeline.training.verdict import (
    CANDIDATES,
    expected_calibration_error,
    fit,
    load_corpus,
    train_and_save,
)

SMALL = CANDIDATES["svm_words+chars"]
PROBE = ["Роботи з ремонту мосту розпочато, виконано 30 % обсягу.",
         "Средства на строительство бассейна не предусмотрены.",
         "Сквер відкрито після реконструкції 12.05.2018."]


def _subset(n: int = 90) -> list[dict]:
    rows = load_corpus()
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(r["verdict"], []).append(r)
    return [r for rs in by_label.values() for r in rs[: n // 3]]


def small_writers(dest: Path, per_writer: int = 45) -> Path:
    """The first rows of each writer's file: a quick corpus of the same shape."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(WRITERS_DIR.glob("*.jsonl")):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()][:per_writer]
        (dest / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def small_corpus(dest: Path, per_label: int = 20) -> Path:
    by_label: dict[str, list[dict]] = {}
    for r in load_corpus():
        by_label.setdefault(r["verdict"], []).append(r)
    picked = [r for rs in by_label.values() for r in rs[:per_label]]
    dest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked), encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("train")
    extra = [{"passage": "Пішохідний міст через балку відкрито для руху 3 червня.", "verdict": "fulfilled",
              "language": "uk"}]
    return train_and_save(base / "models", extra_examples=extra, seed=0, config=SMALL,
                          writers_dir=small_writers(base / "writers"), corpus_path=small_corpus(base / "c.jsonl"),
                          folds=3)


def test_training_is_deterministic() -> None:
    rows = _subset()
    a = fit(rows, CANDIDATES["svm_words+chars"], seed=3).predict_proba([(t, None) for t in PROBE])
    b = fit(rows, CANDIDATES["svm_words+chars"], seed=3).predict_proba([(t, None) for t in PROBE])
    assert np.array_equal(a, b)


@pytest.mark.slow
def test_round_trip_through_skops(trained: Path) -> None:
    card = json.loads((trained / "card.json").read_text(encoding="utf-8"))
    assert card["training_data"]["extra_examples"] == 1
    assert card["training_data"]["passages"]["rows"] == 60 + 1  # the passage-only extra joins the passages
    assert card["training_data"]["pairs"]["rows"] == 45 * len(list(WRITERS_DIR.glob("*.jsonl")))
    assert set(card["cv"]) >= {"macro_f1", "per_class_f1", "confusion_matrix", "ece_10_bins", "per_tag_accuracy"}
    assert set(card["combiner_coefficients"]) == {"fulfilled", "in_progress", "not_fulfilled"}
    assert (trained / "card.md").read_text(encoding="utf-8").startswith("# verdict v")
    loaded = VerdictModel.load(trained.parent.parent)
    assert loaded.version == trained.name
    again = VerdictModel.load_dir(trained)
    p = Passage(index=0, text=PROBE[0], start=10, end=10 + len(PROBE[0]), page=1)
    assert loaded.suggest(p) == again.suggest(p)


@pytest.mark.slow
def test_tampered_model_file_is_refused(trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "verdict" / trained.name
    shutil.copytree(trained, copy)
    data = bytearray((copy / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.skops").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its card"):
        VerdictModel.load(tmp_path)


@pytest.mark.slow
def test_edited_card_is_refused(trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "verdict" / trained.name
    shutil.copytree(trained, copy)
    card = json.loads((copy / "card.json").read_text(encoding="utf-8"))
    card["cv"]["macro_f1"] = 0.999
    (copy / "card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="edited"):
        VerdictModel.load(tmp_path)


@pytest.mark.slow
def test_library_version_mismatch_is_refused(trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "verdict" / trained.name
    shutil.copytree(trained, copy)
    card = json.loads((copy / "card.json").read_text(encoding="utf-8"))
    card["libraries"]["scikit-learn"] = "0.24.2"
    card["card_sha256"] = cardlib._card_digest(card)  # a consistent card, only the version differs
    (copy / "card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="other library versions"):
        VerdictModel.load(tmp_path)


class Stranger:
    """A type no verdict model contains: saving it must be refused."""

    def __init__(self) -> None:
        self.x = 1


def test_untrusted_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="trusted"):
        cardlib.save_model(Stranger(), tmp_path / "m", {"version": "v0"})
    assert not (tmp_path / "m" / "model.skops").exists()


@pytest.mark.slow
def test_fast_path_matches_pipeline(trained: Path) -> None:
    """The runtime arrays (written by training) and the hand-run scikit-learn steps both give the
    fitted Pipeline's own probabilities."""
    model = VerdictModel.load_dir(trained)
    slow = VerdictModel.load_dir(trained, runtime=False)
    assert model.runtime is not None and slow.runtime is None
    texts = [r["passage"] for r in load_corpus()[:40]] + PROBE
    expected = slow.state.predict_proba([(t, None) for t in texts])
    assert np.allclose(slow.state_proba(texts), expected)
    assert np.allclose(model.state_proba(texts), expected, rtol=0, atol=1e-12)


def test_ece() -> None:
    proba = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    y = ["a", "b", "b", "c"]
    # bins: 0.9 -> acc 0.5 (gap 0.4, weight 0.5); 0.8 -> acc 1 (0.2, 0.25); 0.6 -> acc 1 (0.4, 0.25)
    assert expected_calibration_error(proba, y, ["a", "b", "c"]) == pytest.approx(0.35)


def test_baselines_fit_predict() -> None:
    rows = _subset(60)
    texts, y = [r["passage"] for r in rows], [r["verdict"] for r in rows]
    rules = KeywordRules().fit(texts, y)
    assert rules.predict(["Кошти на ремонт не передбачені."]) == ["not_fulfilled"]
    assert rules.predict(["Парк відкрито 1 травня."]) == ["fulfilled"]
    mlp = PaperlessStyle(seed=0).fit(texts, y)
    assert set(mlp.predict(PROBE)) <= {"fulfilled", "in_progress", "not_fulfilled"}


DEVSET = Path(__file__).resolve().parents[2] / "shared" / "devset"  # ../shared beside the clone, as in CI


@pytest.mark.slow
@pytest.mark.skipif(not (DEVSET / "gold.jsonl").is_file(), reason="dev set not on this machine")
def test_compare_on_gold_ours_beats_baselines() -> None:
    from pipeline.training.baselines import compare_on_gold

    table = compare_on_gold(DEVSET)
    rows = {line.split("  ")[0].strip(): [float(x) for x in line.split()[-4:]] for line in table.splitlines()[2:5]}
    ours = next(v for k, v in rows.items() if k.startswith("ours"))
    assert ours[0] > rows["keyword rules"][0] and ours[0] > rows["paperless-style MLP"][0]
