"""One passage per promise: the sentences of a passage that answers several promises, shared out.

Segmentation splits a body at its points (numbers, ordinal words, topic openers). A body
written as one paragraph about two promises ("the school roof is repaired; the kindergarten's
tender is announced") stays one passage, and every promise matched to it would get the
whole of it: the same evidence sentence and so the same verdict for all. Here each sentence
of such a passage goes to the promise(s) it is about, by the matcher's own similarity of the
sentence to each promise:

- a sentence goes to the promise it is most similar to, and also to any other whose
  similarity comes close to that (a sentence that names both belongs to both);
- a sentence about none of them (a connective "Роботи тривають.", a date, an intro) follows
  the sentence before it: it continues what that one said; leading ones go with the next;
- a promise left with no sentence still gets the one most similar to it, shared.

The passage given to a promise keeps its span in ``full_text`` (from its first sentence to
its last); the sentences given to other promises are blanked with spaces, not cut, so that
offsets inside the passage stay offsets into the letter (the review screen highlights by them).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from pipeline.schema import Match, Passage

if TYPE_CHECKING:
    from pipeline.stages.match import PromiseIndex

# sentences x promise ids -> similarity in [0, 1] (rows: sentences, columns: the ids, in order)
SentenceScorer = Callable[[list[str], list[str]], np.ndarray]

MIN_SIMILARITY = 0.08  # under this a sentence is about none of the promises
SHARED_RATIO = 0.75  # another promise this close to a sentence's best: the sentence names both


@dataclass(frozen=True)
class Assignment:
    """Which promises each sentence of a shared passage went to."""

    spans: list[tuple[int, int]]  # sentence spans inside the passage text
    owners: list[frozenset[int]]  # per sentence: indexes into the group's promises

    def sentences_of(self, k: int) -> list[int]:
        return [i for i, o in enumerate(self.owners) if k in o]


def assign_sentences(similarity: np.ndarray, min_similarity: float = MIN_SIMILARITY,
                     shared_ratio: float = SHARED_RATIO) -> list[frozenset[int]]:
    """Owners per sentence, from a (sentences x promises) similarity matrix; see the module doc."""
    n_sent, n_prom = similarity.shape
    owners: list[frozenset[int] | None] = []
    for i in range(n_sent):
        row = similarity[i]
        best = float(row.max()) if n_prom else 0.0
        if best < min_similarity:
            owners.append(None)
            continue
        owners.append(frozenset(int(j) for j in np.flatnonzero(row >= max(min_similarity, shared_ratio * best))))
    # Unowned sentences continue the one before; leading ones introduce the one after.
    last: frozenset[int] | None = None
    for i, o in enumerate(owners):
        if o is None:
            owners[i] = last
        else:
            last = o
    first = next((o for o in owners if o is not None), None)
    resolved = [o if o is not None else (first or frozenset(range(n_prom))) for o in owners]
    # A promise with no sentence at all shares the one most similar to it.
    for k in range(n_prom):
        if not any(k in o for o in resolved) and n_sent:
            i = int(similarity[:, k].argmax())
            resolved[i] = resolved[i] | {k}
    return resolved


def _sub_passage(passage: Passage, spans: list[tuple[int, int]], mine: list[int]) -> Passage:
    """The passage narrowed to the sentences ``mine``, others inside that stretch blanked."""
    a, b = spans[mine[0]][0], spans[mine[-1]][1]
    chars = list(passage.text[a:b])
    keep = set(mine)
    for i in range(mine[0], mine[-1] + 1):
        if i in keep:
            continue
        s, e = spans[i]
        for c in range(s - a, e - a):
            if chars[c] != "\n":
                chars[c] = " "
    return Passage(index=passage.index, text="".join(chars), start=passage.start + a,
                   end=passage.start + b, page=passage.page)


def split_shared_passages(matches: Sequence[Match], scorer: SentenceScorer,
                          split: Callable[[str], list[tuple[int, int]]] | None = None) -> list[Match]:
    """``matches`` with every passage given to two or more promises shared out by sentence.

    Matches on a passage of their own, or on a passage of one sentence, are returned as they
    are. ``split`` gives the sentence spans of a text (default: the verdict stage's splitter,
    so the sentences shared out are the ones evidence is chosen from).
    """
    if split is None:
        from pipeline.stages.verdict import split_sentences as split
    groups: dict[tuple[int, int], list[int]] = {}
    for k, m in enumerate(matches):
        groups.setdefault((m.passage.start, m.passage.end), []).append(k)
    out = list(matches)
    for members in groups.values():
        if len(members) < 2:
            continue
        passage = matches[members[0]].passage
        spans = split(passage.text)
        if len(spans) < 2:
            continue
        ids = [matches[k].promise_id for k in members]
        sim = np.asarray(scorer([passage.text[s:e] for s, e in spans], ids), dtype=float)
        assignment = Assignment(spans, assign_sentences(sim))
        for pos, k in enumerate(members):
            mine = assignment.sentences_of(pos)
            m = matches[k]
            features = dict(m.features)
            features["sentences"] = f"{len(mine)}/{len(spans)}"  # what share of the passage is this promise's
            out[k] = replace(m, passage=_sub_passage(passage, spans, mine), features=features)
    return out


# Promise id -> column, per index (an index is built once per run; the map is built on first use).
_COLUMNS: dict[int, tuple[weakref.ref[PromiseIndex], dict[str, int]]] = {}


def _columns(index: PromiseIndex) -> dict[str, int]:
    hit = _COLUMNS.get(id(index))
    if hit is not None and hit[0]() is index:
        return hit[1]
    columns = {p.promise_id: j for j, p in enumerate(index.promises)}
    key = id(index)
    _COLUMNS[key] = (weakref.ref(index, lambda _: _COLUMNS.pop(key, None)), columns)
    return columns


def index_scorer(index: PromiseIndex, lang: str) -> SentenceScorer:
    """The matcher's topic similarity (term coverage and tf-idf cosine, as in scoring a passage)
    of each sentence to each promise."""

    def score(sentences: list[str], promise_ids: list[str]) -> np.ndarray:
        columns = _columns(index)
        cols = [columns[pid] for pid in promise_ids]
        binary, tfidf, _ = index.vectorise(sentences, lang)
        coverage = binary.dot_t(index.coverage_w.take(cols))
        cosine = tfidf.dot_t(index.tfidf.take(cols))
        return 0.7 * coverage + 0.3 * cosine

    return score


__all__ = ["index_scorer", "Assignment", "SentenceScorer", "assign_sentences", "split_shared_passages"]
