"""Verdict stage: a calibrated linear model suggests fulfilled / in_progress / not_fulfilled.

The model is a scikit-learn Pipeline trained by :mod:`pipeline.training.verdict`.
Its first step, :class:`VerdictFeatures`, turns a passage into two strings:
lemmas with negation and cue markers (for word n-grams) and a normalised raw
text (for character n-grams, which survive OCR noise and unknown words).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.errors import ModelError
from pipeline.nlp import LANGS, detect_language, get_nlp, morph_analyzer
from pipeline.schema import Passage, Verdict, VerdictSuggestion

MODEL_NAME = "verdict"
LABELS = (Verdict.FULFILLED.value, Verdict.IN_PROGRESS.value, Verdict.NOT_FULFILLED.value)

# Negators open a short scope: the next content words get a NEG_ prefix, so
# "не завершено" and "завершено" are different features.
NEGATORS = {"не", "ні", "нет", "без", "ни", "ані", "жоден", "жодний", "никакой", "ніякий"}
# Words that do not use up the negation scope ("не було розпочато", "не в повному обсязі").
SCOPE_TRANSPARENT = {"бути", "быть", "було", "был", "в", "у", "до", "на", "за", "повний", "полный", "ще", "еще",
                     "так", "и", "і", "й", "ні", "ни"}
NEG_SCOPE = 2

# Cue groups shared by both languages: they give the small Russian share of
# the corpus the evidence learnt from Ukrainian, and generalise over synonyms.
CUES: dict[str, set[str]] = {
    "DONE": {"завершити", "закінчити", "виконати", "ввести", "відкрити", "запрацювати", "працювати", "функціонувати",
             "добудувати", "збудувати", "побудувати", "облаштувати", "встановити", "замінити", "прийняти", "передати",
             "завершить", "закончить", "выполнить", "открыть", "заработать", "работать", "функционировать",
             "построить", "обустроить", "установить", "заменить", "принять", "передать", "повністю", "полностью",
             "весь", "усі", "все", "експлуатація", "эксплуатация"},
    "PROG": {"тривати", "продовжуватися", "продолжаться", "продолжать", "розпочати", "почати", "начать", "приступити",
             "приступить", "етап", "этап", "черга", "очередь", "готовність", "готовность", "частково", "частично",
             "пілотний", "пилотный", "виготовлятися", "розроблятися", "разрабатываться", "тендер", "торги",
             "закупівля", "закупка", "договір", "договор", "контракт", "підрядник", "подрядчик", "укласти",
             "заключить", "виділити", "выделить", "передбачити", "предусмотреть", "решта", "остальной", "експертиза",
             "экспертиза"},
    "HEDGE": {"плануватися", "планувати", "планироваться", "планировать", "розглянути", "рассмотреть",
              "розглядатися", "рассматриваться", "передбачатися", "предполагаться", "можливо", "возможно", "умова",
              "условие", "наявність", "наличие", "пропозиція", "предложение", "перспектива", "вивчати", "изучать",
              "концепція", "концепция", "звернутися", "обратиться", "переговори", "переговоры", "проєкт"},
    "BLOCK": {"неможливо", "неможливий", "невозможно", "невозможный", "відмовитися", "отказаться", "розірвати",
              "расторгнуть", "відкласти", "отложить", "перенести", "невизначений", "неопределенный", "відсутній",
              "отсутствовать", "відсутність", "отсутствие", "немає", "нет", "обмеженість", "ограниченность", "спір",
              "спор", "минути", "истечь", "повернути", "вернуть"},
    "MAINT": {"поточний", "текущий", "ямковий", "ямочный", "утримання", "содержание", "косметичний", "косметический",
              "аварійний", "аварийный", "обрізування", "обрезка", "покіс", "покос", "фарбування", "покраска",
              "розмітка", "разметка", "підсипка", "відновлювальний"},
    "FUT": {"буде", "будуть", "будет", "будут", "стане", "станет", "розпочнеться", "начнется", "почнуться",
            "начнутся"},
}
_CUE_OF: dict[str, str] = {w: cue for cue, ws in CUES.items() for w in ws}

_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
# Sentence ends: . ! ? ; followed by space and an upper-case letter, a digit or a quote, or line breaks.
_SENT_END = re.compile(r"(?<=[.!?;])\s+(?=[«\"(А-ЯІЇЄҐA-Z0-9])|\n\s*\n|\n(?=\s*[-–•])")


# Words that end with a period without ending the sentence ("м. Суми", "вул. Лесі", "О. Петренко").
_ABBREV = {"м", "вул", "ул", "р", "рр", "г", "гг", "с", "смт", "пгт", "ст", "просп", "пр", "пл", "обл", "ім", "им",
           "тис", "тыс", "млн", "млрд", "грн", "буд", "д", "кв", "корп", "пров", "пер", "б", "т", "п", "н", "див",
           "см", "напр", "ін", "др", "ч", "п-т", "бул", "наб"}


def _ends_with_abbrev(text: str, end: int) -> bool:
    """Whether the period at ``text[end - 1]`` closes an abbreviation or an initial."""
    j = end - 1
    i = j
    while i > 0 and (text[i - 1].isalpha() or text[i - 1] == "-"):
        i -= 1
    word = text[i:j]
    return bool(word) and (word.lower() in _ABBREV or (len(word) == 1 and word.isupper()))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, trimmed of surrounding whitespace."""
    spans, pos = [], 0
    for m in _SENT_END.finditer(text):
        if text[m.start() - 1:m.start()] == "." and "\n" not in m.group() and _ends_with_abbrev(text, m.start()):
            continue
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


@lru_cache(maxsize=200_000)
def _lemma(word: str, lang: str) -> str:
    """The spaCy pymorphy3 lemmatizer's answer without POS tags (a unique normal form, else the word), cached.

    Same result as ``get_nlp(lang)`` gives on a blank pipeline, but the words
    of council letters repeat so much that caching makes prediction ~10x faster.
    """
    forms = {p.normal_form for p in morph_analyzer(lang).parse(word)}
    return next(iter(forms)) if len(forms) == 1 else word.lower()


def lemma_features(text: str, lang: str | None = None, neg_scope: int = NEG_SCOPE) -> str:
    """Space-separated lemma tokens with NEG_ scope marks, CUE_ tokens and NUM/PCT placeholders."""
    lang = lang if lang in LANGS else detect_language(text)
    doc = get_nlp(lang).tokenizer(text)  # tokens only; lemmas come from the cached _lemma
    out: list[str] = []
    scope = 0
    for tok in doc:
        raw = tok.text.lower()
        if tok.is_punct or tok.is_space:
            if raw == "%":
                out.append("PCT")
            elif raw not in ("«", "»", "\"", "'", "-", "–"):
                scope = 0  # a clause boundary closes the negation scope
            continue
        if tok.like_num or _DIGITS.search(raw):
            out.append("NUM")
            continue
        if not tok.is_alpha:
            continue
        lemma = _lemma(tok.text, lang).lower()
        if lemma in NEGATORS or raw in NEGATORS:
            out.append("NEG")
            scope = neg_scope
            continue
        prefix = ""
        if scope > 0:
            prefix = "NEG_"
            if lemma not in SCOPE_TRANSPARENT:
                scope -= 1
        out.append(prefix + lemma)
        cue = _CUE_OF.get(lemma) or _CUE_OF.get(raw)
        if cue:
            out.append(f"{prefix}CUE_{cue}")
    return " ".join(out)


def raw_features(text: str) -> str:
    """Lower-cased text with digits folded, for character n-grams."""
    return _SPACE.sub(" ", _DIGITS.sub("0", text.lower())).strip()


class VerdictFeatures(TransformerMixin, BaseEstimator):
    """Stateless: each passage (a str, or a (text, lang) pair) -> [lemma features, raw text]."""

    def __init__(self, neg_scope: int = NEG_SCOPE) -> None:
        self.neg_scope = neg_scope

    def fit(self, X: object, y: object = None) -> VerdictFeatures:  # noqa: N803 - sklearn naming
        return self

    def transform(self, X: object) -> np.ndarray:  # noqa: N803
        rows = []
        for item in X:  # type: ignore[attr-defined]
            text, lang = (item, None) if isinstance(item, str) else (str(item[0]), item[1])
            rows.append((lemma_features(text, lang, self.neg_scope), raw_features(text)))
        return np.array(rows, dtype=object).reshape(len(rows), 2)


class CompactTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer whose saved state holds the vocabulary as one string array.

    skops writes a dict entry by entry into its JSON schema (~1 KB per term),
    which made a 15k-term model 16 MB; as an array it is a single .npy blob.
    """

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # object.__getstate__ may return the live __dict__
        vocab = state.pop("vocabulary_", None)
        if vocab is not None:
            terms = sorted(vocab, key=vocab.__getitem__)
            state["vocabulary_terms_"] = np.array(terms, dtype=str)
        state.pop("stop_words_", None)  # terms cut by min_df/max_features: introspection only
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = {str(t): i for i, t in enumerate(terms.tolist())}
        super().__setstate__(state)


# --- runtime model ----------------------------------------------------------------


def newest_version_dir(models_dir: Path) -> Path:
    base = Path(models_dir) / MODEL_NAME
    versions = sorted(p for p in base.glob("*") if p.is_dir() and (p / "card.json").is_file()) if base.is_dir() else []
    if not versions:
        raise ModelError(f"no trained verdict model under {base}; train one with `python -m pipeline.training.verdict`")
    return versions[-1]


class VerdictModel:
    """A loaded, verified verdict model."""

    def __init__(self, pipeline: object, card: dict, path: Path | None = None) -> None:
        self.pipeline = pipeline
        self.card = card
        self.path = path
        self.version: str = str(card.get("version", "unversioned"))
        self.classes: list[str] = [str(c) for c in pipeline.classes_]  # type: ignore[attr-defined]
        if set(self.classes) != set(LABELS):
            raise ModelError(f"verdict model classes {self.classes} are not {list(LABELS)}")

    @classmethod
    def load(cls, models_dir: Path) -> VerdictModel:
        """Load the newest version under ``models_dir/verdict/``; ModelError if missing or not trusted."""
        from pipeline.training.card import load_model

        path = newest_version_dir(models_dir)
        pipeline, card = load_model(path)
        return cls(pipeline, card, path)

    @classmethod
    def load_dir(cls, model_dir: Path) -> VerdictModel:
        """Load one specific version directory."""
        from pipeline.training.card import load_model

        pipeline, card = load_model(Path(model_dir))
        return cls(pipeline, card, Path(model_dir))

    def predict_proba(self, texts: list[str], lang: str | None = None) -> np.ndarray:
        """Class probabilities (columns in ``self.classes`` order).

        Runs the pipeline's steps by hand: ColumnTransformer.transform goes
        through joblib even with one job, which costs more than the model
        itself for a single passage. Same numbers as ``pipeline.predict_proba``.
        """
        from scipy import sparse
        from sklearn import config_context

        steps = self.pipeline.named_steps  # type: ignore[attr-defined]
        # Inputs are our own well-formed matrices: skip sklearn's per-call checks.
        with config_context(assume_finite=True, skip_parameter_validation=True):
            feats = steps["features"].transform([(t, lang) for t in texts])
            mats = [vec.transform(feats[:, col]) for name, vec, col in steps["vectors"].transformers_
                    if name != "remainder" and not isinstance(vec, str)]
            return steps["classifier"].predict_proba(sparse.hstack(mats).tocsr())

    def suggest(self, passage: Passage, lang: str | None = None) -> VerdictSuggestion:
        text = passage.text or ""
        lang = lang if lang in LANGS else detect_language(text)
        spans = split_sentences(text)
        sents = [text[s:e] for s, e in spans]
        # Leave-one-out versions of the passage, to measure each sentence's marginal contribution.
        rest = [" ".join(sents[:i] + sents[i + 1:]) for i in range(len(sents))] if len(sents) > 1 else []
        proba = self.predict_proba([text] + sents + rest, lang)  # one call: lemmas are shared and cached
        whole = proba[0]
        best = int(np.argmax(whole))
        verdict = self.classes[best]
        if len(sents) > 1:
            # Evidence score: how strongly the sentence alone says the class, plus how
            # much the passage's probability of the class drops without it.
            own = proba[1:1 + len(sents), best]
            drop = whole[best] - proba[1 + len(sents):, best]
            s, e = spans[int(np.argmax(own + drop))]
        elif spans:
            s, e = spans[0]
        else:
            s, e = 0, len(text)
        return VerdictSuggestion(
            verdict=Verdict(verdict),
            confidence=float(round(whole[best], 4)),
            probabilities={c: float(round(p, 4)) for c, p in zip(self.classes, whole, strict=True)},
            evidence=text[s:e],
            evidence_start=passage.start + s if text else None,
            evidence_end=passage.start + e if text else None,
            model_version=self.version,
        )
