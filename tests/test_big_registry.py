"""A very large promise registry: candidates pre-filtered exactly, a few matches per passage,
error strings capped, and the letter screen reading only the promises it shows.

With 100,000 promises (a crowd of them stages of the very topic a letter answers) a letter
used to get ~1,500 match rows, an error string of 119 KB and 20 s of matching; only a shortlist of
it is ranked per letter. The timing ratios are printed by `python -m pipeline.bench.registry`, not
asserted here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event

from pipeline.api import MAX_ERROR_CHARS, Processor, join_reasons
from pipeline.bench.registry import _OBJECTS, _cities, big_registry
from pipeline.samplegen import write_text_pdf
from pipeline.schema import Promise
from pipeline.settings import Settings
from pipeline.stages import ingest
from pipeline.stages.match import MAX_MATCHES_PER_PASSAGE, PromiseIndex, score_letter
from pipeline.stages.text import extract_text
from tests import badinputs as bad


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


def _letters(folder: Path, n: int) -> tuple[list, list[tuple[str, str]]]:
    folder.mkdir()
    cities, pairs = _cities(), []
    for i in range(n):
        city, topic = cities[(7 * i) % len(cities)], f"ремонту {_OBJECTS[i % len(_OBJECTS)]}"
        pairs.append((city, topic))
        write_text_pdf([[f"{city.upper()} МІСЬКА РАДА", "ВИКОНАВЧИЙ КОМІТЕТ", "",
                         f"{10 + i:02d}.09.2017 № 01-{i + 1}/2017", "", "ГО «Прозорий контроль»", "",
                         f"Щодо {topic} у місті {city}.",
                         f"Роботи з {topic} завершено, об'єкт введено в експлуатацію.",
                         "Також розпочато ремонт бібліотеки та заміну ліфтів у будинках.", "",
                         "Міський голова          Іван ПЕТРЕНКО"]], folder / f"letter-{i}.pdf")
    return ingest.discover(folder, Settings().limits).letters, pairs


def test_shortlist_changes_no_match_that_could_pass(tmp_path: Path) -> None:
    letters, pairs = _letters(tmp_path / "in", 6)
    promises = big_registry(6000, pairs, crowd_share=0.02, seed=3)
    index = PromiseIndex.build(promises)
    from pipeline.stages.fields import extract_fields

    for letter in letters:
        text = extract_text(letter, Settings())
        fields = extract_fields(text)
        full = score_letter(text, fields, index, limit=False).best()
        fast = score_letter(text, fields, index)
        assert len(fast.candidates) < len(index) / 4  # most of the registry is never ranked
        short = fast.best()
        for threshold in (0.3, 0.5, 0.7):
            assert {j for j, s in short.items() if s >= threshold} == {j for j, s in full.items() if s >= threshold}
        np.testing.assert_allclose([short[j] for j in short], [full[j] for j in short])


@pytest.mark.slow
def test_hundred_thousand_promises_keep_a_few_matches_and_short_errors(tmp_path: Path, models_dir: Path) -> None:
    letters, pairs = _letters(tmp_path / "in", 4)
    own = [Promise(f"S-{k}", "Петро Іваненко", "міський голова", c, None, t.capitalize(),
                   f"Обіцянка щодо {t} у місті {c}", "uk") for k, (c, t) in enumerate(pairs)]
    promises = own + big_registry(100_000 - len(own), pairs)
    processor = Processor(promises, Settings(models_dir=models_dir))
    by_id = {p.promise_id: p for p in promises}
    for (city, topic), letter in zip(pairs, letters, strict=True):
        result = processor.process(letter)
        assert result.updates, result.error
        per_passage: dict[int, int] = {}
        for u in result.updates:
            per_passage[u.match.passage.index] = per_passage.get(u.match.passage.index, 0) + 1
            assert by_id[u.promise_id].city == city  # only the letter's own city's promises
        assert max(per_passage.values()) <= MAX_MATCHES_PER_PASSAGE
        assert any(topic in by_id[u.promise_id].title.lower() for u in result.updates)
        assert any(u.match.alternatives for u in result.updates)  # the crowd shows up as alternatives
        assert len(result.error or "") <= MAX_ERROR_CHARS


def test_reasons_are_capped_with_a_count_of_the_rest() -> None:
    reasons = [f"ambiguous match P-{i:05d} (also P-1, P-2, P-3)" for i in range(6700)]
    joined = join_reasons(reasons)
    assert len(joined) <= MAX_ERROR_CHARS
    assert joined.startswith(reasons[0]) and joined.endswith("more")
    shown = joined.count("ambiguous match")
    assert joined.endswith(f"… and {6700 - shown} more")
    assert join_reasons(["poor scan (page 1)", "no promise matched"]) == "poor scan (page 1); no promise matched"


def test_letter_screen_reads_only_the_promises_it_shows(db_url: str) -> None:
    from pipeline.review.queries import MAX_PROMISE_CHOICES, QueueFilters, build_queue, letter_view
    from pipeline.store import repo
    from pipeline.store.db import Database
    from pipeline.store.tables import PromiseRow
    from tests.test_store import _result

    db = Database(db_url)
    promises = [Promise("P-1", "Х", "голова", "Рівне", None, "Ремонт", "", "uk")]
    promises += big_registry(20_000, [("Рівне", "ремонту мосту")], crowd_share=0.05)
    repo.store_promises(db, promises)
    result = _result()
    result.updates[0].match.alternatives.extend([("C-000001", 0.7), ("C-000002", 0.69)])
    with db.session() as s:
        repo.save_result(s, result)
    loaded: list[str] = []

    def on_load(target: PromiseRow, _ctx: object) -> None:
        loaded.append(target.promise_id)

    event.listen(PromiseRow, "load", on_load)
    try:
        with db.session() as s:
            view = letter_view(s, result.letter_id)
    finally:
        event.remove(PromiseRow, "load", on_load)
    assert sorted(loaded) == ["C-000001", "C-000002", "P-1"]
    (card,) = view.promises
    assert card.title == "Ремонт" and [a[2] for a in card.alternatives][0].startswith("Ремонту мосту")
    assert 0 < len(view.promise_choices) <= MAX_PROMISE_CHOICES
    assert all(label.startswith("Рівне:") for _, label in view.promise_choices)
    with db.session() as s:
        queue = build_queue(s, QueueFilters())
    assert [i.letter_id for i in queue.items] == [result.letter_id] and queue.cities == ["Рівне"]
    db.close()
