"""The scikit-learn classes of the verdict state model, apart from :mod:`pipeline.stages.verdict`.

Training and the skops loader need them; the batch does not (it runs the fitted model from its
arrays, :mod:`pipeline.stages.verdict_runtime`), so importing scikit-learn is paid only here.
Their ``__module__`` stays ``pipeline.stages.verdict``: model files name them there (and
``pipeline.training.card.TRUSTED_TYPES`` trusts them there), and that module hands them out.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.stages.verdict import NEG_SCOPE, lemma_features, raw_features


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


VerdictFeatures.__module__ = CompactTfidfVectorizer.__module__ = "pipeline.stages.verdict"
