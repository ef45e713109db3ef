"""Named features of a (passage, promise) pair, for the learned ranker of :mod:`match_rank`.

A letter is first reduced to a :class:`LetterContext` (its passages, the city and tier of the
sender, the letter's date, the text where names and offices count), so that training
(:mod:`pipeline.training.ranker`) builds the same features from written passages without a
scan. Only a **shortlist** of promises is scored per letter: the best by lemma similarity among
the promises the sender's city allows, plus a few of other cities (hard negatives the model has
seen in training); a registry of 100,000 promises costs one sparse product per letter.

Every feature has a name (:data:`FEATURES`); the reviewer's "why it matched" is built from the
same names and the model's coefficient × value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pipeline.nlp import detect_language, words
from pipeline.ocrnorm import NUMBER_SIGN_NUMBER, fold_homoglyphs
from pipeline.schema import LetterFields, LetterText, Passage
from pipeline.stages.dates import iso_date
from pipeline.stages.match_evidence import (
    city_mentions,
    find_surnames,
    is_national_sender,
    is_non_answer,
    letter_city,
    registry_cities,
    sender_level,
)
from pipeline.stages.match_index import PromiseIndex
from pipeline.stages.match_terms import _OFFICE_PATTERNS, skel
from pipeline.stages.segment import find_regions, segment
from pipeline.taxonomy import topic_keys

# The order is the model's column order; the card stores it and loading refuses another.
FEATURES: tuple[str, ...] = (
    "title_coverage",  # share of the promise title's idf-weighted terms the passage has (not diluted by other topics)
    "lemma_cosine",  # tf-idf cosine of passage and promise
    "sentence_cosine",  # the best tf-idf cosine of one sentence of the passage (a paragraph on two topics)
    "whole_letter_gain",  # how much more of the promise the whole answer has than this point
    "char_ngram",  # share of the promise title's character 4-grams in the passage (OCR-robust)
    "city_same",  # the letter's city is the promise's
    "city_other",  # the letter's city is known and is another one
    "city_unknown",  # the letter's city is not known (a plain text, a retelling): neither for nor against
    "city_in_text",  # the promise's city is named in the body (any case: "Полтавської")
    "city_in_text_other",  # the body names registry cities, not this promise's
    "national_by_state_body",  # a promise without a city, a ministry or agency writes
    "national_by_local_body",  # a promise without a city, a city or regional body writes
    "tier_region_city",  # an oblast body on one city's promise
    "tier_region_region",  # an oblast body on an oblast head's promise
    "tier_region_national",
    "tier_city_region",  # a city body on an oblast promise
    "surname",  # the politician's surname in the body or subject, any case or spelling
    "office",  # the promise's office named ("міський голова")
    "topic_overlap",  # share of the promise's taxonomy topics the passage is about
    "topic_conflict",  # both have topics and share none
    "number_same",  # "№ 5" in both
    "number_conflict",  # the promise and the passage name object numbers, none shared
    "year_same",  # a year of the promise's title ("у 2017 році") named in the passage
    "letter_before_promise",  # the letter is older than the promise
    "multi_point",  # the letter has several points
    "lead",  # the passage's best plausible promise: how far ahead of the next one
    "behind",  # any other: how far behind the passage's best plausible promise
    "dominance_gap",  # how far below 70 % of that best (when the best is plausible)
    "subsumed",  # the promise's evidence here is only what the best promise also has
)
F = {name: i for i, name in enumerate(FEATURES)}

SHORTLIST_SAME_CITY = 40  # promises the sender's city allows, best by lemma similarity
SHORTLIST_OTHER = 8  # promises of other cities: rarely right, kept so the model sees them
DOMINANCE_REL = 0.7
DOMINANCE_MIN_TOPIC = 0.3
SUBSUMED_MIN_TOPIC = 0.3
SUBSUMED_OWN_MAX = 0.05
SUBSUMED_RIVAL_MIN = 0.1


@dataclass(frozen=True)
class LetterContext:
    """What matching knows of a letter, independent of how it was read."""

    passages: tuple[str, ...]  # point texts (a one-point letter's subject line prepended)
    whole: str  # the subject and every point: a topic spread over points is seen whole
    said: str  # subject + body: where a politician's name or office counts
    lang: str
    city: str | None  # the sender's city
    sender_tier: str  # "national" | "region" | "city" | ""
    national_sender: bool
    letter_date: dt.date | None


@dataclass
class PairFeatures:
    """Feature values of every (passage, shortlisted promise) pair of one letter."""

    candidates: np.ndarray  # promise rows of the index, shape (c,)
    values: np.ndarray  # (passages, c, len(FEATURES))
    topic: np.ndarray  # (passages, c): 0.7 title coverage + 0.3 cosine, to shortlist, order and explain
    present: list[set[str]]  # per passage: the registry terms it contains
    names: dict[str, str]  # surname stem -> the form found
    kinds: set[str]  # office kinds named
    city: str | None


@dataclass
class LetterPassages:
    passages: list[Passage]
    context: LetterContext | None  # None when no passage answers anything
    non_answer: bool  # every passage forwards, refuses, postpones or acknowledges


def letter_context(text: LetterText, fields: LetterFields | None, index: PromiseIndex) -> LetterPassages:
    """The letter's answering passages and its context (the field stage's city checked against the registry)."""
    full = text.full_text
    regions = find_regions(full)
    all_passages = segment(text, regions)
    passages = [p for p in all_passages if not is_non_answer(p.text)]
    non_answer = bool(all_passages) and not passages
    if not passages:
        return LetterPassages(passages, None, non_answer)
    lang = fields.language.value if fields is not None and fields.language.value in ("uk", "ru") else None
    lang = lang or detect_language(" ".join(p.text for p in passages))
    texts = [p.text for p in passages]
    subject = regions.subject or ""
    if len(passages) == 1 and subject:
        texts[0] = subject + "\n" + texts[0]  # the subject line names the topic of a one-topic letter
    sender = fields.sender_org.value if fields is not None else None
    date = iso_date(fields.letter_date.value) if fields is not None and fields.letter_date.value else None
    ctx = LetterContext(
        passages=tuple(texts),
        whole="\n".join([subject, *(p.text for p in passages)]),
        said=subject + "\n" + full[regions.body_start : regions.body_end],
        lang=lang,
        city=letter_city(text, fields, index, regions),
        sender_tier=sender_level(sender, full),
        national_sender=is_national_sender(sender, full),
        letter_date=date,
    )
    return LetterPassages(passages, ctx, non_answer)


# --- pieces ----------------------------------------------------------------------------------------


def _grams(word: str) -> set[str]:
    w = f" {skel(fold_homoglyphs(word))} "
    return {w[i : i + 4] for i in range(max(1, len(w) - 3))}


@lru_cache(maxsize=200_000)
def _word_grams(word: str) -> frozenset[str]:
    return frozenset(_grams(word))


def char_grams(text: str) -> set[str]:
    """Character 4-grams of the words of ``text`` on the spelling skeleton (word edges marked)."""
    out: set[str] = set()
    for w in words(text):
        if len(w) >= 3:
            out |= _word_grams(w.lower())
    return out


_NUMBERS = NUMBER_SIGN_NUMBER


_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[«\"(А-ЯІЇЄҐA-Z0-9])|\n\s*\n")
_YEAR = re.compile(r"(?<!\d)(?:19[89]\d|20[0-4]\d)(?!\d)")


def years(text: str) -> frozenset[str]:
    """Four-digit years named in ``text``."""
    return frozenset(_YEAR.findall(text))


def object_numbers(text: str) -> frozenset[str]:
    """The numbers after "№" (OCR's "Ме", "N" too): school № 2 vs № 5."""
    return frozenset(m.group(1) for m in _NUMBERS.finditer(text))


def cities_in_text(text: str, index: PromiseIndex) -> set[str]:
    """Normalised registry cities named in running text, in any case or as an adjective."""
    return {index.city_norm[city] for city in city_mentions(text, index)}


@dataclass(frozen=True)
class PromiseStatic:
    """What the features need of one promise, computed once (most of a big registry never is)."""

    grams: frozenset[str]  # character 4-grams of the title's own words
    topics: frozenset[str]  # taxonomy topics of the title (of the description when the title has none)
    numbers: frozenset[str]  # object numbers ("№ 5")
    years: frozenset[str]  # years of the title


def promise_static(index: PromiseIndex, j: int) -> PromiseStatic:
    p = index.promises[j]
    grams: set[str] = set()
    for w in index.title_words[j]:
        if len(w) >= 3:
            grams |= _word_grams(w.lower())
    return PromiseStatic(frozenset(grams), topic_keys(p.title) or topic_keys(p.description),
                         object_numbers(p.title + " " + p.description), years(p.title))


def _subsumed(index: PromiseIndex, cands: np.ndarray, topic: np.ndarray, plausible: np.ndarray,
              present: list[set[str]]) -> np.ndarray:
    """1 where a promise's evidence on a passage is only what the passage's best promise also has.

    "Repair Franko street" shares "street", "capital repair" with a reply about Shevchenko
    street that answers "repair Shevchenko street"; it brings no word of its own while the
    best one does. Identical twins are left alone: neither has a word of its own.
    """
    out = np.zeros_like(topic)
    for i in range(topic.shape[0]):
        b = int(plausible[i].argmax())
        if plausible[i, b] < SUBSUMED_MIN_TOPIC:
            continue
        pb = int(cands[b])
        mb = {t for t in index.term_lemma[pb] if t in present[i]}
        for j in np.flatnonzero(plausible[i] >= SUBSUMED_MIN_TOPIC / 2):
            if j == b:
                continue
            pj = int(cands[j])
            mj = {t for t in index.term_lemma[pj] if t in present[i]}
            own_j = sum(index.coverage_w[pj, index.vocab[t]] for t in mj - mb)
            own_b = sum(index.coverage_w[pb, index.vocab[t]] for t in mb - mj)
            if own_j < SUBSUMED_OWN_MAX and own_b >= SUBSUMED_RIVAL_MIN:
                out[i, j] = 1.0
    return out


def _lead(topic: np.ndarray, plausible: np.ndarray) -> np.ndarray:
    """Per pair: its similarity minus the best plausible rival's on the same passage, in [-1, 1]."""
    if topic.shape[1] < 2:
        return np.clip(topic, -1.0, 1.0)
    top2 = -np.sort(-plausible, axis=1)[:, :2]
    # the rival of the best is the second; the rival of any other is the best
    rival = np.where(plausible >= top2[:, :1], top2[:, 1:2], top2[:, :1])
    return np.clip(topic - rival, -1.0, 1.0)


def shortlist(index: PromiseIndex, best_topic: np.ndarray, allowed: np.ndarray,
              same_city: int = SHORTLIST_SAME_CITY, other: int = SHORTLIST_OTHER) -> np.ndarray:
    """Promise rows worth ranking: the best ``same_city`` the letter's city allows, ``other`` more."""

    def top(mask: np.ndarray, k: int) -> np.ndarray:
        idx = np.flatnonzero(mask & (best_topic > 0))
        if len(idx) > k:
            idx = idx[np.argpartition(-best_topic[idx], k - 1)[:k]]
        return idx

    return np.sort(np.concatenate([top(allowed, same_city), top(~allowed, other)]))


# --- the features -------------------------------------------------------------------------------------


def pair_features(index: PromiseIndex, ctx: LetterContext, limit: bool = True,
                  exclude: frozenset[int] = frozenset()) -> PairFeatures:
    """Features of every (passage, shortlisted promise) pair; ``limit=False`` ranks the whole registry.

    ``exclude``: promise rows left out of the shortlist (training: a letter whose promise is not in
    the registry must match nothing).
    """
    n_pass = len(ctx.passages)
    multi = n_pass > 1
    texts = list(ctx.passages) + ([ctx.whole] if multi else [])
    binary, tfidf, present = index.vectorise(texts, ctx.lang)
    # Title terms: promises are written as a title, sometimes with a description in other words.
    title_m = index.coverage_title if index.coverage_title is not None else index.coverage_w
    coverage_all = binary.dot_t(title_m)
    cosine_all = tfidf.dot_t(index.tfidf)
    topic_all = 0.7 * coverage_all + 0.3 * cosine_all

    city_of = np.array(index.city_of, dtype=object)
    national = city_of == ""
    same = registry_cities(ctx.city, index) if ctx.city else set()
    is_same = np.isin(city_of, list(same)) if same else np.zeros(len(index), dtype=bool)
    allowed = is_same | national if ctx.city else np.ones(len(index), dtype=bool)
    best = topic_all.max(axis=0)
    if exclude:
        best = best.copy()
        best[list(exclude)] = 0.0
    if limit:
        cands = shortlist(index, best, allowed)
    else:
        cands = np.array([j for j in np.flatnonzero(best > 0) if j not in exclude], dtype=int)
    c = len(cands)
    vals = np.zeros((n_pass, c, len(FEATURES)))
    if c == 0:
        return PairFeatures(cands, vals, np.zeros((n_pass, 0)), present[:n_pass], {}, set(), ctx.city)
    cos = cosine_all[:, cands]
    topic_rows = topic_all[:, cands]
    topic = topic_rows[:n_pass]
    vals[:, :, F["title_coverage"]] = coverage_all[:n_pass, cands]
    vals[:, :, F["lemma_cosine"]] = cos[:n_pass]
    if multi:
        vals[:, :, F["whole_letter_gain"]] = np.maximum(0.0, topic_rows[n_pass][None, :] - topic)
        vals[:, :, F["multi_point"]] = 1.0

    # One sentence may answer the promise while the rest of the paragraph is about another.
    sent_of: list[int] = []
    sentences: list[str] = []
    for i, t in enumerate(ctx.passages):
        for sent in _SENTENCE.split(t):
            if len(sent) >= 20:
                sentences.append(sent)
                sent_of.append(i)
    if sentences:
        _, s_tfidf, _ = index.vectorise(sentences, ctx.lang)
        s_cos = s_tfidf.dot_t(index.tfidf.take(cands))
        owner = np.array(sent_of)
        for i in range(n_pass):
            rows = s_cos[owner == i]
            if len(rows):
                vals[i, :, F["sentence_cosine"]] = rows.max(axis=0)
    grams = [char_grams(t) for t in ctx.passages]
    numbers = [object_numbers(t) for t in ctx.passages]
    p_years = [years(t) for t in ctx.passages]
    p_topics = [topic_keys(t) for t in ctx.passages]
    body_cities = cities_in_text(ctx.said, index)
    names = find_surnames(ctx.said, index.surname_set)
    kinds = {k for k, pat in _OFFICE_PATTERNS.items() if pat.search(ctx.said)}
    tier = ctx.sender_tier
    for col, j in enumerate(cands.tolist()):
        p = index.promises[j]
        row = vals[:, col]
        pc = index.city_of[j]
        if ctx.city and pc:
            row[:, F["city_same" if is_same[j] else "city_other"]] = 1.0
        elif not ctx.city:
            row[:, F["city_unknown"]] = 1.0
        if pc and pc in body_cities:
            row[:, F["city_in_text"]] = 1.0
        elif body_cities:
            row[:, F["city_in_text_other"]] = 1.0
        level = index.levels[j]
        if level == "national":
            if ctx.national_sender:
                row[:, F["national_by_state_body"]] = 1.0
            elif tier in ("city", "region") or ctx.city:
                row[:, F["national_by_local_body"]] = 1.0
        if tier == "region" and level in ("city", "region", "national"):
            row[:, F["tier_region_" + level]] = 1.0
        elif tier == "city" and level == "region":
            row[:, F["tier_city_region"]] = 1.0
        if index.surname_stems[j] in names:
            row[:, F["surname"]] = 1.0
        if index.offices[j] in kinds:
            row[:, F["office"]] = 1.0
        if ctx.letter_date and p.said_on and ctx.letter_date < p.said_on:
            row[:, F["letter_before_promise"]] = 1.0
        st = index.static.get(j)
        if not isinstance(st, PromiseStatic):
            st = index.static[j] = promise_static(index, j)
        tg, pt, pn, py = st.grams, st.topics, st.numbers, st.years
        for i in range(n_pass):
            if tg:
                row[i, F["char_ngram"]] = len(tg & grams[i]) / len(tg)
            if pt:
                shared = pt & p_topics[i]
                row[i, F["topic_overlap"]] = len(shared) / len(pt)
                row[i, F["topic_conflict"]] = float(bool(p_topics[i]) and not shared)
            if py & p_years[i]:
                row[i, F["year_same"]] = 1.0
            if pn and numbers[i]:
                row[i, F["number_same" if pn & numbers[i] else "number_conflict"]] = 1.0

    # One passage answers one question: how a promise stands against the passage's best
    # plausible one (a known other city or a wrong tier is not plausible).
    implausible = (vals[:, :, F["city_other"]] + vals[:, :, F["tier_region_city"]]
                   + vals[:, :, F["tier_region_national"]] + vals[:, :, F["national_by_local_body"]]) > 0
    plausible = np.where(implausible, 0.0, topic)
    best_row = plausible.max(axis=1, keepdims=True)
    rel = np.divide(topic, best_row, out=np.ones_like(topic), where=best_row > 0)
    lead = _lead(topic, plausible)
    vals[:, :, F["lead"]] = np.maximum(lead, 0.0)
    vals[:, :, F["behind"]] = np.maximum(-lead, 0.0)
    vals[:, :, F["dominance_gap"]] = np.where(best_row >= DOMINANCE_MIN_TOPIC, np.maximum(0.0, DOMINANCE_REL - rel), 0.0)
    vals[:, :, F["subsumed"]] = _subsumed(index, cands, topic, plausible, present[:n_pass])
    return PairFeatures(cands, vals, topic, present[:n_pass], names, kinds, ctx.city)


__all__ = ["FEATURES", "LetterContext", "LetterPassages", "PairFeatures", "char_grams", "cities_in_text",
           "letter_context", "object_numbers", "pair_features", "shortlist"]
