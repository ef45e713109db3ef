"""Verdict stage: the passage judged against the promise as stated, at the as-of date.

Two fitted parts, trained together by :mod:`pipeline.training.verdict` and saved as one skops file:

1. the **state model** (a scikit-learn Pipeline) reads the passage alone and says what state it
   reports the work in: done (``fulfilled``), under way (``in_progress``) or not done / blocked /
   something else (``not_fulfilled``). Its first step, :class:`VerdictFeatures`, turns a passage
   into lemmas with negation and cue marks (word n-grams) and a normalised raw text (character
   n-grams, which survive OCR noise and unknown words);
2. the **combiner** (a multinomial logistic regression) weighs the state probabilities with the
   named comparison features of :mod:`pipeline.stages.letter_facts` — deadline passed at the
   as-of date, reported ÷ promised quantity, scope covered, completed late, moved past the
   deadline, object overlap — and gives the calibrated verdict. "Works are going on" after the
   deadline, or 14 of 31, comes out ``not_fulfilled`` because the combiner learnt the policy from
   written (promise, passage) pairs, not because a rule overrides the model.

Each suggestion carries the explanation a reviewer can check ("deadline 2016-12-31 passed at
2017-01-24; 14 reported of 31 двір promised") and the facts behind it.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import ModelError
from pipeline.nlp import LANGS, detect_language, morph_analyzer
from pipeline.schema import Passage, Promise, Verdict, VerdictSuggestion
from pipeline.tokenizer import get_tokenizer

if TYPE_CHECKING:
    from pipeline.stages.promise_terms import PromiseTerms
    from pipeline.stages.verdict_runtime import RuntimeModel

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
    doc = get_tokenizer(lang)(text)  # spaCy's tokens without spaCy; lemmas come from the cached _lemma
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


def __getattr__(name: str) -> object:
    # The two scikit-learn classes of the state model live in verdict_estimators, so that the
    # batch (which runs the model from its arrays, see verdict_runtime) never imports
    # scikit-learn; skops finds them here by the names saved in the model file.
    if name in ("VerdictFeatures", "CompactTfidfVectorizer"):
        from pipeline.stages import verdict_estimators

        return getattr(verdict_estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- runtime model ----------------------------------------------------------------

# The combiner's inputs, by name: the state probabilities, the comparison features, and the
# interactions the policy is made of (a done state with a short count, an ongoing state after the
# deadline...). A linear model needs the products spelled out.
COMBINER_FEATURES = (
    "log_p_fulfilled", "log_p_in_progress", "log_p_not_fulfilled",
    "deadline_passed", "has_deadline", "done_x_deadline_passed", "ongoing_x_deadline_passed",
    "quantity_short", "quantity_met", "done_x_short", "done_x_short_x_passed", "ongoing_x_short_x_passed",
    "done_x_met", "completed_late", "done_x_late", "postponed_past_deadline", "ongoing_x_postponed",
    "scope_gap_x_done", "scope_gap_x_done_x_passed", "object_share", "done_x_object_missing",
    "negated_done", "done_x_negated", "quantity_ratio", "part_of_set", "done_x_part", "done_x_part_x_passed",
    "events_after_deadline", "done_x_events_after", "instead", "done_x_instead",
)


def combiner_row(p: dict[str, float], c: dict[str, float]) -> list[float]:
    """One row of combiner inputs (in COMBINER_FEATURES order) from state probabilities and comparison."""
    pf, pp, pn = (max(p[k], 1e-4) for k in LABELS)
    dp, short, met, late = c["deadline_passed"], c["quantity_short"], c["quantity_met"], c["completed_late"]
    post = c["postponed_past_deadline"]
    gap = c["scope_all"] * (1.0 - c["scope_covered"])
    obj = c["object_share"]
    row = [
        np.log(pf), np.log(pp), np.log(pn),
        dp, c["has_deadline"], pf * dp, pp * dp,
        short, met, pf * short, pf * short * dp, pp * short * dp,
        pf * met, late, pf * late, post, pp * post,
        gap * pf, gap * pf * dp, obj, pf * (1.0 - obj),
        c["negated_done"], pf * c["negated_done"], c["quantity_ratio"] * c["quantity_known"],
        c["part_of_set"], pf * c["part_of_set"], pf * c["part_of_set"] * dp,
        c["events_after_deadline"], pf * c["events_after_deadline"], c["instead"], pf * c["instead"],
    ]
    return [float(x) for x in row]


def newest_version_dir(models_dir: Path) -> Path:
    from pipeline.training.card import newest_model_dir

    return newest_model_dir(Path(models_dir) / MODEL_NAME, "verdict model", "letters train")


class VerdictModel:
    """A loaded, verified verdict model: the state model and the combiner."""

    def __init__(self, parts: object, card: dict, path: Path | None = None,
                 runtime: RuntimeModel | None = None) -> None:
        self.card = card
        self.path = path
        self.version: str = str(card.get("version", "unversioned"))
        self.runtime = runtime  # the fitted arrays, run without scikit-learn (the batch's way)
        if runtime is not None:
            self.state = self.combiner = None
            self.state_classes: list[str] = list(runtime.state_classes)
            self.classes: list[str] = list(runtime.combiner_classes)
            n_in = runtime.combiner_coef.shape[1]
        else:
            if not isinstance(parts, dict) or "state" not in parts or "combiner" not in parts:
                raise ModelError("verdict model file holds no state model and combiner (an older format?); "
                                 "retrain it with `letters train`")
            self.state = parts["state"]
            self.combiner = parts["combiner"]
            self.state_classes = [str(c) for c in self.state.classes_]  # type: ignore[attr-defined]
            self.classes = [str(c) for c in self.combiner.classes_]  # type: ignore[attr-defined]
            n_in = getattr(self.combiner, "n_features_in_", len(COMBINER_FEATURES))
        for name, classes in (("state model", self.state_classes), ("combiner", self.classes)):
            if set(classes) != set(LABELS):
                raise ModelError(f"verdict {name} classes {classes} are not {list(LABELS)}")
        if n_in != len(COMBINER_FEATURES):
            raise ModelError(f"verdict combiner expects {n_in} features, this code gives {len(COMBINER_FEATURES)}; "
                             "retrain it with `letters train`")

    @classmethod
    def load(cls, models_dir: Path) -> VerdictModel:
        """Load the newest version under ``models_dir/verdict/``; ModelError if missing or not trusted."""
        return cls.load_dir(newest_version_dir(models_dir))

    @classmethod
    def load_dir(cls, model_dir: Path, runtime: bool = True) -> VerdictModel:
        """Load one specific version directory, verified against its card.

        ``runtime``: from the fitted arrays in ``runtime.npz`` when the card lists them (quick,
        no scikit-learn); else, or with ``runtime=False``, the scikit-learn objects from skops."""
        from pipeline.training.card import load_model, runtime_file, verify

        model_dir = Path(model_dir)
        if runtime:
            card = verify(model_dir)
            path = runtime_file(model_dir, card)
            if path is not None:
                from pipeline.stages.verdict_runtime import load_runtime

                return cls(None, card, model_dir, runtime=load_runtime(path))
        parts, card = load_model(model_dir)
        return cls(parts, card, model_dir)

    def state_proba(self, texts: list[str], lang: str | None = None) -> np.ndarray:
        """State probabilities (columns in ``self.state_classes`` order) of passages read alone.

        Runs the pipeline's steps by hand: ColumnTransformer.transform goes
        through joblib even with one job, which costs more than the model
        itself for a single passage. Same numbers as ``pipeline.predict_proba``.
        """
        if getattr(self, "runtime", None) is not None:
            rows = [(lemma_features(t, lang, self.runtime.neg_scope), raw_features(t)) for t in texts]
            return self.runtime.state_proba(np.array(rows, dtype=object).reshape(len(rows), 2))
        from scipy import sparse
        from sklearn import config_context

        steps = self.state.named_steps  # type: ignore[attr-defined]
        # Inputs are our own well-formed matrices: skip sklearn's per-call checks.
        with config_context(assume_finite=True, skip_parameter_validation=True):
            feats = steps["features"].transform([(t, lang) for t in texts])
            mats = [vec.transform(feats[:, col]) for name, vec, col in steps["vectors"].transformers_
                    if name != "remainder" and not isinstance(vec, str)]
            return steps["classifier"].predict_proba(sparse.hstack(mats).tocsr())

    def combine(self, state: np.ndarray, comparisons: list[dict[str, float]]) -> np.ndarray:
        """Verdict probabilities (``self.classes`` order) from state probabilities and comparison features."""
        rows = [combiner_row(dict(zip(self.state_classes, s, strict=True)), c)
                for s, c in zip(state, comparisons, strict=True)]
        if getattr(self, "runtime", None) is not None:
            return self.runtime.combine_proba(np.array(rows, dtype=float))
        return self.combiner.predict_proba(np.array(rows, dtype=float))  # type: ignore[attr-defined]

    def predict_proba(self, texts: list[str], lang: str | None = None) -> np.ndarray:
        """Verdict probabilities of passages with no promise to compare against (nothing known of it)."""
        from pipeline.stages.letter_facts import COMPARISON_FEATURES

        empty = dict.fromkeys(COMPARISON_FEATURES, 0.0)
        return self.combine(self.state_proba(texts, lang), [empty] * len(texts))

    def suggest(self, passage: Passage, lang: str | None = None, promise: Promise | None = None,
                letter_date: dt.date | None = None, terms: PromiseTerms | None = None) -> VerdictSuggestion:
        """The verdict on ``passage`` for ``promise`` as of the passage's "станом на" date or ``letter_date``."""
        from pipeline.stages.letter_facts import compare, read_facts
        from pipeline.stages.promise_terms import read_terms

        text = passage.text or ""
        lang = lang if lang in LANGS else detect_language(text)
        if terms is None and promise is not None:
            terms = read_terms(promise)
        facts = read_facts(text, terms, letter_date, lang)
        comparison = compare(terms, facts)
        spans = split_sentences(text)
        sents = [text[s:e] for s, e in spans]
        # Leave-one-out versions of the passage, to measure each sentence's marginal contribution.
        rest = [" ".join(sents[:i] + sents[i + 1:]) for i in range(len(sents))] if len(sents) > 1 else []
        state = self.state_proba([text] + sents + rest, lang)  # one call: lemmas are shared and cached
        whole = self.combine(state[:1], [comparison.values])[0]
        best = int(np.argmax(whole))
        verdict = self.classes[best]
        # Evidence: the sentence that says the state the verdict rests on most, alone and by its absence;
        # when the verdict turns on a count, the sentence that reports it.
        st = int(np.argmax(state[0]))
        if facts.reported is not None and (comparison.values["quantity_short"] or comparison.values["quantity_met"]):
            at = facts.reported.start
            s, e = next(((a, b) for a, b in spans if a <= at < b), spans[0] if spans else (0, len(text)))
        elif len(sents) > 1:
            own = state[1:1 + len(sents), st]
            drop = state[0, st] - state[1 + len(sents):, st]
            s, e = spans[int(np.argmax(own + drop))]
        elif spans:
            s, e = spans[0]
        else:
            s, e = 0, len(text)
        state_word = {LABELS[0]: "done", LABELS[1]: "under way", LABELS[2]: "not done"}[self.state_classes[st]]
        explanation = "; ".join(x for x in (f"reported {state_word}", comparison.explanation) if x)
        return VerdictSuggestion(
            verdict=Verdict(verdict),
            confidence=float(round(whole[best], 4)),
            probabilities={c: float(round(p, 4)) for c, p in zip(self.classes, whole, strict=True)},
            evidence=text[s:e],
            evidence_start=passage.start + s if text else None,
            evidence_end=passage.start + e if text else None,
            model_version=self.version,
            as_of=comparison.as_of,
            explanation=explanation,
            facts={**facts.to_json(), "comparison": comparison.values,
                   "state": {c: round(float(p), 4) for c, p in zip(self.state_classes, state[0], strict=True)}},
        )
