"""One passage per promise: a one-paragraph body about two promises shared out by sentence."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.schema import Match, Passage
from pipeline.stages.assign import assign_sentences, index_scorer, split_shared_passages
from pipeline.stages.match import PromiseIndex, match_letter
from pipeline.stages.verdict import split_sentences
from tests.test_match import REGISTRY, letter


def test_each_sentence_goes_to_its_most_similar_promise() -> None:
    sim = np.array([[0.6, 0.0], [0.0, 0.5], [0.02, 0.01], [0.4, 0.35]])
    owners = assign_sentences(sim)
    assert owners[0] == {0}
    assert owners[1] == {1}
    assert owners[2] == {1}  # about neither: continues the sentence before
    assert owners[3] == {0, 1}  # close for both: it names both


def test_leading_sentences_about_none_introduce_the_next() -> None:
    owners = assign_sentences(np.array([[0.0, 0.0], [0.0, 0.7], [0.5, 0.0]]))
    assert owners == [{1}, {1}, {0}]


def test_a_promise_with_no_sentence_of_its_own_shares_its_most_similar_one() -> None:
    owners = assign_sentences(np.array([[0.9, 0.3], [0.8, 0.1]]))
    assert owners[0] == {0, 1} and owners[1] == {0}


def _passage(text: str, start: int = 100) -> Passage:
    return Passage(index=0, text=text, start=start, end=start + len(text), page=1)


def test_sub_passages_keep_offsets_into_the_letter() -> None:
    body = "Міст на вулиці Набережній відремонтовано. Ліхтарі в парку встановлено. Роботи тривають."
    passage = _passage(body)
    matches = [Match("A", 0.9, passage), Match("B", 0.8, passage)]

    def scorer(sentences: list[str], ids: list[str]) -> np.ndarray:
        return np.array([[("Міст" in s) * 0.7, ("Ліхтарі" in s) * 0.6] for s in sentences])

    a, b = split_shared_passages(matches, scorer)
    full = " " * 100 + body
    assert a.passage.text.strip() == "Міст на вулиці Набережній відремонтовано."
    assert full[a.passage.start:a.passage.end] == a.passage.text
    # B: its sentence and the connective after it; nothing of A's
    assert b.passage.text == "Ліхтарі в парку встановлено. Роботи тривають."
    assert full[b.passage.start:b.passage.end] == b.passage.text
    assert a.features["sentences"] == "1/3" and b.features["sentences"] == "2/3"


def test_blanked_sentences_keep_the_length() -> None:
    body = "Міст відремонтовано. Ліхтарі встановлено. Міст пофарбовано."
    passage = _passage(body, start=0)
    matches = [Match("A", 0.9, passage), Match("B", 0.8, passage)]

    def scorer(sentences: list[str], ids: list[str]) -> np.ndarray:
        return np.array([[("Міст" in s) * 0.7, ("Ліхтарі" in s) * 0.6] for s in sentences])

    a, _ = split_shared_passages(matches, scorer)
    assert len(a.passage.text) == len(body) and a.passage.end == len(body)
    assert "Ліхтарі" not in a.passage.text
    assert [a.passage.text[s:e] for s, e in split_sentences(a.passage.text)] == ["Міст відремонтовано.", "Міст пофарбовано."]


def test_matches_on_passages_of_their_own_are_left_alone() -> None:
    one, two = _passage("Перше речення. Друге речення.", 0), _passage("Третє речення.", 40)
    matches = [Match("A", 0.9, one), Match("B", 0.8, two)]
    assert split_shared_passages(matches, lambda s, i: pytest.fail("not called")) == matches


def test_one_paragraph_about_two_promises_of_one_city_gives_each_its_own_evidence() -> None:
    index = PromiseIndex.build(REGISTRY)
    body = (
        "На Ваш запит повідомляємо. Капітальний ремонт аварійного мосту через річку на вулиці Набережній "
        "завершено у вересні 2018 року. У парку Молодіжному встановлено 40 нових ліхтарів зі світлодіодними "
        "світильниками, вуличне освітлення працює. Роботи виконано підрядником за договором."
    )
    text = letter(body)
    # The learned ranker scores the second topic of a mixed paragraph (a Russian promise here) below
    # 0.5 (a known weakness, reported with the ranker); this test is about the assignment that
    # follows the match, so it takes both from a lower threshold.
    matches = match_letter(text, None, index, threshold=0.2)
    ids = {m.promise_id for m in matches}
    assert {"RIV-1", "RIV-2"} <= ids
    assert len({(m.passage.start, m.passage.end) for m in matches}) == 1  # one passage for both, as segmented
    split = {m.promise_id: m for m in split_shared_passages(matches, index_scorer(index, "uk"))}
    bridge, lights = split["RIV-1"].passage, split["RIV-2"].passage
    assert "мосту" in bridge.text and "ліхтарів" not in bridge.text
    assert "ліхтарів" in lights.text and "мосту" not in lights.text
    full = text.full_text
    for p in (bridge, lights):  # what is left of the passage is the letter's text at the same offsets
        assert len(p.text) == p.end - p.start
        assert all(c == full[p.start + i] for i, c in enumerate(p.text) if not c.isspace())


def test_evaluate_passage_figures_count_evidence_inside_the_promises_own_passage() -> None:
    import pandas as pd

    from pipeline.evaluate import passage_figures

    gold = {
        "G1": {"promises": [{"promise_id": "A", "evidence": "Міст відремонтовано."},
                            {"promise_id": "B", "evidence": "Ліхтарі встановлено."}]},
        "G2": {"promises": []},
    }
    rows = [
        # A's passage holds its evidence; B's passage is A's sentence: evidence outside, and shared
        {"letter_id": "x1", "promise_id": "A", "match_score": 0.9, "passage_index": 0, "passage": "Міст відремонтовано.",
         "evidence": "Міст відремонтовано.", "evidence_start": 10, "evidence_end": 30},
        {"letter_id": "x1", "promise_id": "B", "match_score": 0.7, "passage_index": 0, "passage": "Міст відремонтовано.",
         "evidence": "Міст відремонтовано.", "evidence_start": 10, "evidence_end": 30},
        {"letter_id": "x2", "promise_id": "A", "match_score": 0.6, "passage_index": 0, "passage": "Щось інше.",
         "evidence": "Щось інше.", "evidence_start": 5, "evidence_end": 15},
    ]
    f = passage_figures(gold, pd.DataFrame(rows), {"x1": "G1", "x2": "G2"})
    assert f["pairs"] == 2 and f["evidence_in_passage"] == 0.5 and f["evidence_chosen"] == 0.5
    assert f["shared_evidence"] == 2
    assert f["top1_passage"] == 0.5  # G1's passage: A (right); G2's: A, which G2 does not answer
    assert f["top1_letter"] == 1.0 and f["letters"] == 1
