"""Baselines for the verdict classifier, trained on the same corpus.

* :class:`KeywordRules` — hand-written cue lists (negated facts, hedging,
  progress words, completion words); no learning beyond a default class.
* :class:`PaperlessStyle` — what Paperless-ngx does for document
  classification: CountVectorizer over word 1-2 grams and an MLPClassifier.

``compare_on_gold(gold_dir)`` prints ours vs both baselines side by side on
the gold passages (paragraph holding the gold evidence).

    python -m pipeline.training.baselines [../shared/devset]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.neural_network import MLPClassifier

from pipeline.stages.verdict import LABELS, VerdictModel
from pipeline.training.verdict import (
    DEFAULT_GOLD_DIR,
    _body_span,
    _paragraph_span,
    _valid_examples,
    evaluate_on_gold,
    load_corpus,
)

F, P, N = LABELS

# Ordered by priority: a "not done / no money / only planned" cue beats a
# progress cue, which beats a completion cue (letters describe partial work
# next to what is missing, so the negative facts are the deciding ones).
_RULES: list[tuple[str, re.Pattern[str]]] = [
    (N, re.compile(r"не\s+(передбач|проводил|розпочина|здійснювал|виділял|розроблял|закуповувал|начина|"
                   r"проводил|предусмотр|осуществлял|выделял|разрабатывал|закупал|надходил|поступал)|"
                   r"планується|планируется|буде розглянуто|будет рассмотрен|неможлив|невозможн|"
                   r"відмовил|отказал|за умови|при условии|включено до проекту|включен[оа]? в проект", re.I)),
    (P, re.compile(r"тривають|триває|продолжа|розпочато|начат|етап|этап|черг|очеред|тендер|торг|закупівл|закупк|"
                   r"договір|договор|контракт|виділено|выделено|передбачено|предусмотрено|\d+\s*%|готовн|"
                   r"не завершено|не завершен|пілот|пилот", re.I)),
    (F, re.compile(r"завершено|завершен|введено в експлуатацію|введен в эксплуатацию|прийнято в експлуатацію|"
                   r"принят в эксплуатацию|відкрито|открыт|запрацював|працює|работает|в повному обсязі|"
                   r"в полном объеме|виконано|выполнен", re.I)),
]


class KeywordRules:
    """First matching cue group by priority; the majority training class when nothing matches."""

    def fit(self, texts: list[str], y: list[str]) -> KeywordRules:
        values, counts = np.unique(np.array(y), return_counts=True)
        self.default_ = str(values[int(np.argmax(counts))])
        return self

    def predict(self, texts: list[str]) -> list[str]:
        out = []
        for t in texts:
            label = next((lab for lab, rx in _RULES if rx.search(t)), self.default_)
            out.append(label)
        return out


class PaperlessStyle:
    """CountVectorizer(word 1-2 grams) + MLPClassifier, as Paperless-ngx classifies documents."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, texts: list[str], y: list[str]) -> PaperlessStyle:
        self.vectorizer_ = CountVectorizer(analyzer="word", ngram_range=(1, 2), min_df=1)
        x = self.vectorizer_.fit_transform(texts)
        self.clf_ = MLPClassifier(tol=0.01, random_state=self.seed, max_iter=300)
        self.clf_.fit(x, y)
        return self

    def predict(self, texts: list[str]) -> list[str]:
        return [str(p) for p in self.clf_.predict(self.vectorizer_.transform(texts))]


def _gold_pairs(gold_dir: Path, mode: str = "paragraph", tags: list[list[str]] | None = None
                ) -> tuple[list[str], list[str]]:
    """Gold passages and verdicts: ``paragraph`` holding the evidence, or the ``body`` of single-promise letters."""
    import json

    texts, ys = [], []
    for line in (gold_dir / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        g = json.loads(line)
        promises = g.get("promises") or []
        if not promises or (mode == "body" and len(promises) != 1):
            continue
        text = (gold_dir / "letters" / f"{g['letter_id']}.txt").read_text(encoding="utf-8")
        for pr in promises:
            at = text.find(pr.get("evidence") or "\0")
            if at < 0:
                continue
            s, e = _paragraph_span(text, at, at + len(pr["evidence"])) if mode == "paragraph" else _body_span(text)
            texts.append(text[s:e])
            ys.append(pr["verdict"])
            if tags is not None:
                tags.append(list(pr.get("tags") or []))
    return texts, ys


def _scores(y: list[str], pred: list[str]) -> dict[str, float]:
    return {"macro_f1": round(float(f1_score(y, pred, labels=list(LABELS), average="macro", zero_division=0)), 4),
            "accuracy": round(float(accuracy_score(y, pred)), 4)}


def compare_on_gold(gold_dir: Path = DEFAULT_GOLD_DIR, models_dir: Path | None = None, seed: int = 0) -> str:
    """Ours (the newest shipped model) vs both baselines on the gold passages; returns and prints a table."""
    from pipeline.settings import DEFAULT_MODELS_DIR

    gold_dir = Path(gold_dir)
    from pipeline.training.pairs import load_writer_rows

    # The baselines read text alone; they learn from every passage the project has, pairs included.
    rows = _valid_examples(load_corpus()) + load_writer_rows()
    texts, y = [r["passage"] for r in rows], [r["verdict"] for r in rows]
    ours = VerdictModel.load(models_dir or DEFAULT_MODELS_DIR)
    gold = evaluate_on_gold(ours, gold_dir)
    rules = KeywordRules().fit(texts, y)
    mlp = PaperlessStyle(seed).fit(texts, y)
    modes = ("paragraph", "body")
    results: dict[str, dict[str, dict[str, float]]] = {f"ours ({ours.version})": {}, "keyword rules": {},
                                                       "paperless-style MLP": {}}
    counts = {}
    tag_rows: dict[str, dict[str, list[bool]]] = {name: {} for name in results}
    for mode in modes:
        tags: list[list[str]] = []
        gold_texts, gold_y = _gold_pairs(gold_dir, mode, tags)
        if mode == "paragraph":
            preds = {"keyword rules": rules.predict(gold_texts), "paperless-style MLP": mlp.predict(gold_texts)}
            for name, pred in preds.items():
                for t, g_, p_ in zip(tags, gold_y, pred, strict=True):
                    for tag in t or ["(none)"]:
                        tag_rows[name].setdefault(tag, []).append(g_ == p_)
        counts[mode] = len(gold_y)
        results[f"ours ({ours.version})"][mode] = {k: gold[mode][k] for k in ("macro_f1", "accuracy")}
        results["keyword rules"][mode] = _scores(gold_y, rules.predict(gold_texts))
        results["paperless-style MLP"][mode] = _scores(gold_y, mlp.predict(gold_texts))
    lines = [f"verdict on {gold_dir}: paragraph = paragraph holding the gold evidence (n={counts['paragraph']}), "
             f"body = whole body of single-promise letters (n={counts['body']})",
             f"{'model':<30} {'para F1':>8} {'para acc':>9} {'body F1':>8} {'body acc':>9}"]
    for name, r in results.items():
        lines.append(f"{name:<30} {r['paragraph']['macro_f1']:>8.4f} {r['paragraph']['accuracy']:>9.4f} "
                     f"{r['body']['macro_f1']:>8.4f} {r['body']['accuracy']:>9.4f}")
    para = gold.get("paragraph", {})
    routing = para.get("routing", {})
    if para:
        lines.append(f"ours, paragraph: ECE {para.get('ece_10_bins', float('nan')):.3f}; confidence >= {gold['threshold']}: "
                     f"coverage {routing.get('coverage') or 0:.2f}, accuracy {routing.get('accuracy_above_threshold') or 0:.3f}; "
                     f"evidence sentence hits gold {para.get('evidence_hit_rate', 0):.2f}")
        per_tag = para.get("per_tag_accuracy") or {}
        if set(per_tag) - {"(none)"}:
            lines += ["", "accuracy per gold tag (paragraph):",
                      f"  {'tag':<18} {'n':>3} {'ours':>6} {'rules':>6} {'MLP':>6}"]
            for tag, v in per_tag.items():
                rule = tag_rows["keyword rules"].get(tag) or [False]
                mlp_ = tag_rows["paperless-style MLP"].get(tag) or [False]
                lines.append(f"  {tag:<18} {v['n']:>3} {v['accuracy']:>6.3f} {sum(rule) / len(rule):>6.3f} "
                             f"{sum(mlp_) / len(mlp_):>6.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(compare_on_gold(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_GOLD_DIR))
