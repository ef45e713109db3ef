"""Promise status over time, promises.* records and reviewers' draft edits, on a real SQLite file
(a generated batch, see tests/promisegen.py) and through a real `letters run`."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import tests.badinputs as bad
from pipeline.api import export_records, run_batch
from pipeline.lang.draft import check_result_paragraph, parse_result_paragraph
from pipeline.settings import Settings
from pipeline.stages.promise_page import PROMISE_COLUMNS, Answer, PromiseInfo, build_page, status_of, timeline
from pipeline.store import promises as promise_store
from pipeline.store.db import Database
from pipeline.store.tables import LetterRow, MatchRow, ReviewRow, RunRow
from tests.promisegen import build_batch


def _answer(lid: str, date: str | None, verdict: str | None, as_of: str | None = None, source: str = "machine") -> Answer:
    return Answer(lid, "P", date, as_of, "Полтавська міська рада", "Секретар міської ради", "Ярослав Гнатишин", "uk",
                  f"{lid}.pdf", verdict, source, "suggested", "Роботи тривають.", 0.8)


def test_status_is_the_latest_letter_by_as_of() -> None:
    a = _answer("a", "2020-05-01", "in_progress")
    b = _answer("b", "2020-06-01", "not_fulfilled", as_of="2020-03-01")  # reports an earlier state
    c = _answer("c", "2020-04-01", "fulfilled")
    ordered = timeline([a, b, c])
    assert [x.letter_id for x in ordered] == ["b", "c", "a"]
    assert status_of(ordered) == ("in_progress", a)
    assert status_of([]) == ("no_answer", None)
    assert status_of([_answer("d", "2020-01-01", None)])[0] == "undecided"
    # An undated letter never outranks a dated one.
    assert status_of(timeline([_answer("u", None, "fulfilled"), a]))[1] is a


def test_page_drafts_one_paragraph_per_letter_oldest_first() -> None:
    info = PromiseInfo("P", "Олена Іваненко", "мер", "Полтава", "Відкрити парк", "ru")
    page = build_page(info, [_answer("a", "2020-05-01", "in_progress"), _answer("c", "2020-04-01", "fulfilled")])
    paras = page.result_draft.split("\n\n")
    assert [parse_result_paragraph(p).date for p in paras] == ["2020-04-01", "2020-05-01"]
    assert all(p.startswith("Согласно письму Полтавского городского совета от ") for p in paras)
    assert page.sources_draft.split("\n") == ["Лист секретаря Полтавської міської ради Я. Гнатишина"] * 2
    assert page.record()["letters"] == 2 and page.record()["status_source"] == "machine"


def test_generated_batch_statuses_and_records(tmp_path: Path) -> None:
    batch = build_batch(tmp_path)
    out = tmp_path / "out"
    paths = export_records(batch.db_path, out)
    assert out / "promises.parquet" in paths and out / "promises.csv" in paths
    frame = pd.read_parquet(out / "promises.parquet")
    assert tuple(frame.columns) == PROMISE_COLUMNS
    assert str(frame["letters"].dtype) == "int32"
    csv = pd.read_csv(out / "promises.csv", dtype=str, keep_default_na=False)
    assert tuple(csv.columns) == PROMISE_COLUMNS and len(csv) == len(batch.promise_ids)
    rows = frame.set_index("promise_id")
    for pid in batch.promise_ids:
        assert rows.loc[pid, "status"] == batch.expected_status[pid], pid
        last = rows.loc[pid, "last_letter_id"]
        assert (None if pd.isna(last) else last) == batch.expected_last_letter[pid]
    never = batch.promise_ids[-1]
    assert rows.loc[never, "status"] == "no_answer" and rows.loc[never, "letters"] == 0
    assert pd.isna(rows.loc[never, "status_source"])
    # Every promise with letters has a draft citing each letter's date and sender.
    letters = pd.read_parquet(out / "letters.parquet").set_index("letter_id")
    db = Database(batch.db_path)
    with db.session() as s:
        pairs = {(m.promise_id, m.letter_id) for m in s.scalars(select(MatchRow))}
    db.close()
    multi = Counter_of(pairs)
    assert any(n > 1 for n in multi.values())  # a letter answering several promises ...
    for pid in batch.promise_ids[:-1]:
        paras = rows.loc[pid, "result_draft"].split("\n\n")
        assert len(paras) == rows.loc[pid, "letters"] == len(rows.loc[pid, "sources_draft"].split("\n"))
        mine = [lid for p, lid in pairs if p == pid]
        for para in paras:
            assert any(all(check_result_paragraph(para, letters.loc[lid, "sender_org"], letters.loc[lid, "letter_date"],
                                                  "uk").values()) for lid in mine), para
        opening = "Согласно письму" if batch.langs[pid] == "ru" else "Згідно з листом"
        assert all(p.startswith(opening) for p in paras)
    for lid, n in multi.items():  # ... appears on each of them
        if n > 1:
            date = letters.loc[lid, "letter_date"]
            for pid in (p for p, x in pairs if x == lid):
                cited = [parse_result_paragraph(para).date for para in rows.loc[pid, "result_draft"].split("\n\n")]
                assert date in cited, (lid, pid)


def Counter_of(pairs: set[tuple[str, str]]) -> dict[str, int]:  # noqa: N802
    out: dict[str, int] = {}
    for _, lid in pairs:
        out[lid] = out.get(lid, 0) + 1
    return out


def test_a_reviewer_decision_wins_and_marks_the_status_human(tmp_path: Path) -> None:
    batch = build_batch(tmp_path)
    pid = next(p for p in batch.promise_ids if batch.expected_status[p] != "no_answer")
    lid = batch.expected_last_letter[pid]
    db = Database(batch.db_path)
    with db.session() as s:
        machine = s.scalars(select(MatchRow).where(MatchRow.letter_id == lid, MatchRow.promise_id == pid)).one().verdict
        human = next(v for v in ("fulfilled", "in_progress", "not_fulfilled") if v != machine)
        s.add(ReviewRow(letter_id=lid, kind="verdict", key=pid, machine_value=machine, human_value=human,
                        action="correct", reviewer="olena"))
    with db.session() as s:
        page = promise_store.promise_pages(s, [pid])[0]
    db.close()
    assert page.status == human and page.status_source == "human" and page.last_letter_id == lid
    assert page.answers[-1].verdict_source == "human"


def test_a_reviewer_date_correction_reorders_the_timeline(tmp_path: Path) -> None:
    batch = build_batch(tmp_path)
    db = Database(batch.db_path)
    with db.session() as s:
        page = next(p for p in promise_store.promise_pages(s) if len(p.answers) >= 2 and
                    all(a.as_of is None for a in p.answers[:1]))
        first = page.answers[0]
        s.add(ReviewRow(letter_id=first.letter_id, kind="field", key="letter_date", machine_value=first.letter_date,
                        human_value="2030-01-01", action="correct", reviewer="olena"))
        # Clear the as-of so the letter date decides.
        for m in s.scalars(select(MatchRow).where(MatchRow.letter_id == first.letter_id)):
            m.as_of = None
    with db.session() as s:
        again = promise_store.promise_pages(s, [page.promise.promise_id])[0]
    db.close()
    assert again.answers[-1].letter_id == first.letter_id and again.last_letter_id == first.letter_id
    assert again.as_of == "2030-01-01"


def test_draft_edits_are_human_decisions_kept_and_exported(tmp_path: Path) -> None:
    batch = build_batch(tmp_path)
    pid = batch.promise_ids[0]
    db = Database(batch.db_path)
    with db.session() as s:
        rid = promise_store.save_draft(s, pid, "result_draft", "Відредагований абзац.", "olena", None)
    with db.session() as s:
        with pytest.raises(promise_store.DraftConflict):  # a stale page cannot overwrite it
            promise_store.save_draft(s, pid, "result_draft", "Інший текст.", "bob", None)
        rid2 = promise_store.save_draft(s, pid, "sources_draft", "Лист секретаря ради.", "bob", None)
    with db.session() as s:
        row = s.get(ReviewRow, rid)
        assert (row.letter_id, row.kind, row.key, row.reviewer, row.action) == ("", "result_draft", pid, "olena", "correct")
        assert row.machine_value and row.machine_value.startswith(("Згідно з листом", "Согласно письму"))
        page = promise_store.promise_pages(s, [pid])[0]
        assert page.result_draft == "Відредагований абзац." and page.sources_draft == "Лист секретаря ради."
        assert page.machine_result_draft == row.machine_value
        with pytest.raises(PermissionError):
            promise_store.undo_draft(s, pid, "sources_draft", "olena", rid2)
    db.close()
    (parquet,) = [p for p in export_records(batch.db_path, tmp_path / "out") if p.name == "promises.parquet"]
    frame = pd.read_parquet(parquet).set_index("promise_id")
    assert frame.loc[pid, "result_draft"] == "Відредагований абзац."
    # Undo returns the machine's draft; the audit trail keeps both rows.
    db = Database(batch.db_path)
    with db.session() as s:
        promise_store.undo_draft(s, pid, "result_draft", "olena", rid)
    with db.session() as s:
        page = promise_store.promise_pages(s, [pid])[0]
        assert page.result_draft == page.machine_result_draft
        kinds = [(r.kind, r.action) for r in s.scalars(select(ReviewRow).order_by(ReviewRow.id))]
    db.close()
    assert kinds == [("result_draft", "correct"), ("sources_draft", "correct"), ("result_draft", "undo")]


def test_status_changes_between_runs(tmp_path: Path) -> None:
    batch = build_batch(tmp_path)
    db = Database(batch.db_path)
    with db.session() as s:
        run_id, changes = promise_store.status_changes(s)
        assert run_id == "run-1"  # first run: every answered promise changed from no_answer
        assert {pid for pid, before, _ in changes} == {p for p in batch.promise_ids if batch.expected_status[p] != "no_answer"}
        pid = changes[0][0]
        lid = batch.expected_last_letter[pid]
        old = batch.expected_status[pid]
        new = next(v for v in ("fulfilled", "in_progress", "not_fulfilled") if v != old)
        s.add(ReviewRow(letter_id=lid, kind="verdict", key=pid, machine_value=old, human_value=new, action="correct",
                        reviewer="olena"))
        s.add(RunRow(run_id="run-2", input_dir="x", report={}, started_at=dt.datetime(2100, 1, 1)))
    with db.session() as s:
        promise_store.record_status_snapshot(s, "run-2", promise_store.promise_pages(s))
    with db.session() as s:
        assert promise_store.status_changes(s) == ("run-2", [(pid, old, new)])
    db.close()


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


def test_letters_run_writes_promises_and_a_rerun_keeps_draft_edits(tmp_path: Path, models_dir: Path) -> None:
    inbox = tmp_path / "in"
    bad.write_good_letters(inbox, n_pdf=3)
    registry = bad.write_registry(tmp_path / "promises.csv")
    out = tmp_path / "out"
    settings = replace(Settings(), models_dir=models_dir, workers=1)
    report = run_batch(inbox, registry, out, settings=settings, workers=1)
    assert str(out / "promises.parquet") in report.records and str(out / "promises.csv") in report.records
    frame = pd.read_parquet(out / "promises.parquet").set_index("promise_id")
    answered = frame[frame["letters"] > 0]
    assert len(answered) >= 1
    pid = answered.index[0]
    db = Database(out / "letters.db")
    with db.session() as s:
        promise_store.save_draft(s, pid, "result_draft", "Абзац, який написала людина.", "olena", None)
        before = [(r.id, r.kind, r.human_value) for r in s.scalars(select(ReviewRow))]
        assert s.scalars(select(RunRow)).first().report["promise_status"][pid] == frame.loc[pid, "status"]
    db.close()
    run_batch(inbox, registry, out, settings=settings, workers=1, force=True)
    db = Database(out / "letters.db")
    with db.session() as s:
        assert [(r.id, r.kind, r.human_value) for r in s.scalars(select(ReviewRow))] == before
        assert s.scalars(select(LetterRow)).first() is not None
    db.close()
    again = pd.read_parquet(out / "promises.parquet").set_index("promise_id")
    assert again.loc[pid, "result_draft"] == "Абзац, який написала людина."
    assert set(again.index) == set(frame.index)


def test_a_drafted_text_is_never_reused_once_the_drafting_changed(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Keys carry a hash of the drafting's code and lexicons: an edit of any of them makes new keys."""
    import shutil

    from pipeline.lang import draft

    for rel in draft.DRAFTING_SOURCES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(draft.PACKAGE / rel, tmp_path / rel)
    monkeypatch.setattr(draft, "PACKAGE", tmp_path)
    draft.drafts_version.cache_clear()
    try:
        before = draft.sources_key("Секретар міської ради", "Луцька міська рада", "І. Петренко", "uk")
        assert before == draft.sources_key(" Секретар  міської ради", "Луцька міська рада", "І. Петренко ", "uk")
        with (tmp_path / "data" / "uk_ru_drafting.tsv").open("a", encoding="utf-8") as fh:
            fh.write("\n")
        draft.drafts_version.cache_clear()
        assert draft.sources_key("Секретар міської ради", "Луцька міська рада", "І. Петренко", "uk") != before
    finally:
        monkeypatch.undo()
        draft.drafts_version.cache_clear()
