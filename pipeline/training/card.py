"""Model cards and skops persistence for trained models.

A model directory holds ``model.skops``, ``card.json`` and ``card.md``. The
card records the library versions the model was built with, the SHA-256 of the
model file, and its own SHA-256 over the rest of the card, so that loading can
refuse a model built with other libraries or edited after training. Models are
stored with skops (never pickle: loading a pickle runs arbitrary code) and
loaded only with an explicit list of trusted types.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pipeline.errors import ModelError

MODEL_FILE = "model.skops"
CARD_JSON = "card.json"
CARD_MD = "card.md"
RUNTIME_FILE = "runtime.npz"  # the fitted arrays, see pipeline.stages.verdict_runtime

# Libraries whose major.minor must match between training and loading: a
# different scikit-learn or numpy may unpickle into subtly different objects,
# and a different spaCy/pymorphy3 lemmatises differently, shifting features.
VERSIONED_LIBRARIES = ("scikit-learn", "skops", "numpy", "spacy", "pymorphy3")

# Every non-default type a verdict model file may contain. Loading refuses a
# file that asks for anything else (skops would otherwise need trusted=True).
TRUSTED_TYPES = (
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "numpy.str_",
    "pipeline.stages.verdict.CompactTfidfVectorizer",
    "pipeline.stages.verdict.VerdictFeatures",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csr.csr_array",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "builtins.slice",
)


def newest_model_dir(base: Path, what: str, train_command: str) -> Path:
    """The newest trained version under ``base`` (folders named by timestamp, each with a card)."""
    versions = sorted(p for p in base.glob("*") if p.is_dir() and (p / CARD_JSON).is_file()) if base.is_dir() else []
    if not versions:
        raise ModelError(f"no trained {what} under {base}; train one with `{train_command}`")
    return versions[-1]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on."""
    out = {}
    for name in VERSIONED_LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def _major_minor(v: str) -> str:
    return ".".join(v.split(".")[:2])


def _card_digest(card: dict[str, Any]) -> str:
    body = {k: v for k, v in card.items() if k != "card_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def save_model(model: object, out_dir: Path, card: dict[str, Any],
               runtime_writer: Callable[[Any, Path], Path] | None = None) -> Path:
    """Dump ``model`` with skops into ``out_dir`` and write card.json/card.md beside it.

    ``runtime_writer(model, path)``: also write the model's arrays for the quick runtime
    (``runtime.npz``), hashed on the card like the model file."""
    import skops.io as sio

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    import zipfile

    sio.dump(model, model_path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)  # vocabularies compress well
    # Verify right away that everything we wrote is on our trusted list, so a
    # model we cannot load again is never shipped.
    untrusted = set(sio.get_untrusted_types(file=model_path)) - set(TRUSTED_TYPES)
    if untrusted:
        model_path.unlink()
        raise ModelError(f"model contains types not on the trusted list: {sorted(untrusted)}")
    card = dict(card)
    card["model_file"] = MODEL_FILE
    card["model_sha256"] = sha256_file(model_path)
    card["model_bytes"] = model_path.stat().st_size
    card["libraries"] = library_versions()
    if runtime_writer is not None:
        _add_runtime_to_card(card, runtime_writer(model, out_dir / RUNTIME_FILE))
    _write_card(out_dir, card)
    return out_dir


def _add_runtime_to_card(card: dict[str, Any], path: Path) -> None:
    card["runtime_file"] = path.name
    card["runtime_sha256"] = sha256_file(path)
    card["runtime_bytes"] = path.stat().st_size
    card["runtime_of_model_sha256"] = card["model_sha256"]  # made from this very model file


def _write_card(out_dir: Path, card: dict[str, Any]) -> None:
    card["card_sha256"] = _card_digest(card)
    (out_dir / CARD_JSON).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out_dir / CARD_MD).write_text(card_markdown(card), encoding="utf-8")


def add_runtime(model_dir: Path, runtime_writer: Callable[[Any, Path], Path]) -> Path:
    """Write ``runtime.npz`` for an already saved model (loaded and verified with skops first)
    and record it on the card; the model file itself is left as it is."""
    model, card = load_model(model_dir)
    _add_runtime_to_card(card, runtime_writer(model, model_dir / RUNTIME_FILE))
    _write_card(model_dir, card)
    return model_dir / RUNTIME_FILE


def runtime_file(model_dir: Path, card: dict[str, Any]) -> Path | None:
    """The verified card's runtime file, or None when the model has none (then skops is used)."""
    name = card.get("runtime_file")
    return model_dir / str(name) if name else None


def read_card(model_dir: Path) -> dict[str, Any]:
    path = model_dir / CARD_JSON
    if not path.is_file():
        raise ModelError(f"model card missing: {path}")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model card unreadable: {path}: {exc}") from exc
    if not isinstance(card, dict):
        raise ModelError(f"model card is not a JSON object: {path}")
    return card


def verify(model_dir: Path) -> dict[str, Any]:
    """Check the card's self-hash, the model file hash and library versions; return the card."""
    card = read_card(model_dir)
    if card.get("card_sha256") != _card_digest(card):
        raise ModelError(f"model card {model_dir / CARD_JSON} was edited after training (card hash mismatch)")
    model_path = model_dir / str(card.get("model_file", MODEL_FILE))
    if not model_path.is_file():
        raise ModelError(f"model file missing: {model_path}")
    actual = sha256_file(model_path)
    if actual != card.get("model_sha256"):
        raise ModelError(
            f"model file {model_path} does not match its card (sha256 {actual[:12]}… != "
            f"{str(card.get('model_sha256'))[:12]}…); it was modified or replaced"
        )
    if card.get("runtime_file"):
        runtime = model_dir / str(card["runtime_file"])
        if not runtime.is_file():
            raise ModelError(f"model runtime file missing: {runtime}")
        actual = sha256_file(runtime)
        if actual != card.get("runtime_sha256") or card.get("runtime_of_model_sha256") != card.get("model_sha256"):
            raise ModelError(
                f"model runtime file {runtime} does not match its card (sha256 {actual[:12]}… != "
                f"{str(card.get('runtime_sha256'))[:12]}…); it was modified or replaced"
            )
    trained = card.get("libraries") or {}
    installed = library_versions()
    mismatched = [
        f"{lib} {trained.get(lib)} (trained) vs {installed[lib]} (installed)"
        for lib in VERSIONED_LIBRARIES
        if _major_minor(str(trained.get(lib, "?"))) != _major_minor(installed[lib])
    ]
    if mismatched:
        raise ModelError(
            f"model {model_dir} was built with other library versions: {'; '.join(mismatched)}. "
            "Retrain it (python -m pipeline.training.verdict) or install the versions on the card."
        )
    return card


def load_model(model_dir: Path) -> tuple[object, dict[str, Any]]:
    """Verify and load a model directory with skops, trusting only ``TRUSTED_TYPES``."""
    import skops.io as sio

    card = verify(model_dir)
    model_path = model_dir / str(card.get("model_file", MODEL_FILE))
    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception as exc:  # a corrupt archive raises zipfile/json errors
        raise ModelError(f"model file unreadable: {model_path}: {exc}") from exc
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ModelError(f"model file {model_path} asks for untrusted types: {unknown}")
    try:
        model = sio.load(model_path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(f"model file could not be loaded: {model_path}: {exc}") from exc
    return model, card


def card_markdown(card: dict[str, Any]) -> str:
    """A human-readable card.md from the card dict."""
    lines = [f"# {card.get('name', 'model')} {card.get('version', '')}", ""]
    if card.get("description"):
        lines += [str(card["description"]), ""]
    lines += ["## Training data", ""]
    data = card.get("training_data", {})
    for key in ("path", "sha256", "file_sha256", "file_bytes", "rows", "extra_examples", "label_counts",
                "language_counts"):
        if key in data:
            lines.append(f"- {key}: {data[key]}")
    lines += ["", "## Model", ""]
    for key in ("estimator", "config", "features", "seed", "final_fit_seconds", "selection"):
        if key in card:
            lines.append(f"- {key}: {card[key]}")
    cv = card.get("cv", {})
    if cv:
        lines += ["", "## Cross-validation (out-of-fold)", ""]
        for key in ("folds", "macro_f1", "accuracy", "ece_10_bins", "per_class_f1"):
            if key in cv:
                lines.append(f"- {key}: {cv[key]}")
        if "confusion_matrix" in cv:
            labels = cv.get("labels", [])
            lines += ["", "Confusion matrix (rows = true, columns = predicted):", "",
                      "| true \\ pred | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
            for lab, row in zip(labels, cv["confusion_matrix"], strict=False):
                lines.append(f"| {lab} | " + " | ".join(str(x) for x in row) + " |")
        if "alternatives" in cv:
            lines += ["", "Alternatives tried (macro-F1 / ECE):", ""]
            for name, res in cv["alternatives"].items():
                lines.append(f"- {name}: {res}")
    gold = card.get("gold")
    if gold:
        lines += ["", "## Gold evaluation", ""]
        for key, val in gold.items():
            lines.append(f"- {key}: {val}")
    lines += ["", "## Libraries", ""]
    for lib, ver in (card.get("libraries") or {}).items():
        lines.append(f"- {lib} {ver}")
    lines += ["", "## Integrity", "", f"- model file: {card.get('model_file')} ({card.get('model_bytes')} bytes)",
              f"- model sha256: {card.get('model_sha256')}"]
    if card.get("runtime_file"):
        lines += [f"- runtime arrays: {card['runtime_file']} ({card.get('runtime_bytes')} bytes), "
                  f"sha256 {card.get('runtime_sha256')}"]
    lines += [f"- card sha256: {card.get('card_sha256')}", ""]
    return "\n".join(lines)
