"""A generated batch for promise-page tests: invented promises, letters and verdicts written into a
real SQLite database through the ORM, plus what the tests should find (statuses, bars per quarter).

Deterministic for a seed; nothing comes from the dev sets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.store import promises as promise_store
from pipeline.store.db import Database
from pipeline.store.tables import FieldRow, LetterRow, MatchRow, PromiseRow, RunRow

CITIES = [("Зеленодольськ", "Зеленодольська"), ("Тихоград", "Тихоградська"), ("Полтава", "Полтавська")]
POLITICIANS = ["Олена Іваненко", "Андрій Мельник", "Ігор Ткач", "Марта Гуцуляк"]
SIGNERS = [("Секретар міської ради", "Ярослав Гнатишин"), ("Начальник управління", "Ірина Вербицька"),
           ("Міський голова", "Тарас Пилипенко"), ("Директор", "Н. Заярна")]
VERDICTS = ("fulfilled", "in_progress", "not_fulfilled")
SENTENCES = {
    "fulfilled": "Повідомляємо, що роботи завершено в повному обсязі.",
    "in_progress": "Станом на цю дату роботи тривають, виконано половину обсягу.",
    "not_fulfilled": "Кошти на ці роботи в бюджеті не передбачено.",
}


@dataclass
class Batch:
    db_path: Path
    promise_ids: list[str]
    letters: list[str]
    expected_status: dict[str, str]
    expected_last_letter: dict[str, str | None]
    bars: int  # (quarter, verdict) pairs with at least one answer
    quarter_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    langs: dict[str, str] = field(default_factory=dict)


def letter_id(i: int) -> str:
    return hashlib.sha256(f"gen-letter-{i}".encode()).hexdigest()[:16]


def quarter(d: dt.date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def build_batch(tmp: Path, n_promises: int = 9, n_letters: int = 24, seed: int = 7, run_id: str = "run-1") -> Batch:
    """Promises P-G-00.. (some Russian, one never answered), letters answering 1-2 promises each."""
    rng = random.Random(seed)
    db_path = tmp / "gen.db"
    db = Database(db_path)
    pids = [f"P-G-{i:02d}" for i in range(n_promises)]
    langs = {pid: ("ru" if i % 3 == 2 else "uk") for i, pid in enumerate(pids)}
    answers: dict[str, list[tuple[str, str, str, str]]] = {pid: [] for pid in pids}  # (as_of, date, lid, verdict)
    quarter_counts: Counter[tuple[str, str]] = Counter()
    lids = []
    with db.session() as s:
        for i, pid in enumerate(pids):
            city = CITIES[i % len(CITIES)][0]
            s.add(PromiseRow(promise_id=pid, politician=POLITICIANS[i % len(POLITICIANS)], office="мер", city=city,
                             said_on=dt.date(2015, 1, 1), title=f"Обіцянка номер {i}", lang=langs[pid]))
        s.flush()
        answerable = pids[:-1]  # the last promise is never answered
        for j in range(n_letters):
            lid = letter_id(j)
            lids.append(lid)
            date = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(0, 3 * 365))
            city, adj = CITIES[j % len(CITIES)]
            position, name = SIGNERS[j % len(SIGNERS)]
            body = f"{adj} міська рада" if j % 2 else f"Управління освіти {adj[:-1]}ої міської ради"
            s.add(LetterRow(letter_id=lid, sha256=hashlib.sha256(lid.encode()).hexdigest(), source_file=f"gen/{j:03d}.pdf",
                            source_paths=[], kind="pdf", pages=1, language="uk", text_source="text_layer",
                            status="ok", text="", version=1, run_id=run_id))
            s.flush()
            for fname, value in (("letter_date", date.isoformat()), ("sender_org", body), ("sender_city", city),
                                 ("signatory_name", name), ("signatory_position", position), ("language", "uk")):
                s.add(FieldRow(letter_id=lid, name=fname, value=value, confidence=0.9))
            for k, pid in enumerate(rng.sample(answerable, rng.choice([1, 1, 2]))):
                verdict = rng.choice(VERDICTS)
                as_of = date - dt.timedelta(days=rng.randrange(0, 40)) if rng.random() < 0.4 else None
                s.add(MatchRow(letter_id=lid, promise_id=pid, match_score=0.8, passage_index=k,
                               passage_text=SENTENCES[verdict], verdict=verdict, confidence=0.8,
                               probabilities={verdict: 0.8}, evidence=SENTENCES[verdict], model_version="gen",
                               as_of=as_of, needs_review=False))
                answers[pid].append(((as_of or date).isoformat(), date.isoformat(), lid, verdict))
                quarter_counts[(quarter(date), verdict)] += 1
        s.add(RunRow(run_id=run_id, input_dir=str(tmp), report={}))
    with db.session() as s:
        promise_store.record_status_snapshot(s, run_id, promise_store.promise_pages(s))
    db.close()
    expected, last = {}, {}
    for pid in pids:
        if answers[pid]:
            top = max(answers[pid])
            expected[pid], last[pid] = top[3], top[2]
        else:
            expected[pid], last[pid] = "no_answer", None
    return Batch(db_path, pids, lids, expected, last, len(quarter_counts), quarter_counts, langs)
