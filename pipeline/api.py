"""The importable API: the CLI, the web app and the tests call these.

The order of the stages lives here and only here (:meth:`Processor.process`);
the stages themselves are plain functions in :mod:`pipeline.stages`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.errors import LetterError, UsageError
from pipeline.executors import iter_results
from pipeline.review.agreement import agreement_records
from pipeline.schema import (
    IngestFailure,
    Letter,
    LetterResult,
    LetterText,
    Match,
    Promise,
    Status,
    Update,
    VerdictSuggestion,
)
from pipeline.settings import Settings
from pipeline.stages import ingest
from pipeline.stages.promise_page import write_promise_records
from pipeline.stages.promise_terms import PromiseTerms, read_terms
from pipeline.stages.records import atomic_write_text, write_records
from pipeline.stages.registry import load_registry
from pipeline.stages.text import extract_text
from pipeline.store import promises as promise_store
from pipeline.store import repo
from pipeline.store.db import Database
from pipeline.store.tables import RunRow, utcnow

log = logging.getLogger("letters")

POOR_SCAN = "poor scan"
NO_MATCH = "no promise matched"


class Processor:
    """Everything one worker needs to process letters: the promise index and the verdict model,
    loaded once and reused for every letter."""

    def __init__(self, promises: list[Promise], settings: Settings) -> None:
        from pipeline.stages.match import PromiseIndex
        from pipeline.stages.verdict import VerdictModel

        self.settings = settings
        self.index = PromiseIndex.build(promises)
        self.model = VerdictModel.load(settings.models_dir)
        self.promises = {p.promise_id: p for p in promises}
        self._terms: dict[str, PromiseTerms] = {}  # read on first use: a big registry is mostly never matched

    def process(self, letter: Letter) -> LetterResult:
        """ingest -> text -> fields -> match -> verdict for one letter; never raises for bad input."""
        from pipeline.stages.fields import extract_fields
        from pipeline.stages.match import match_letter
        from pipeline.stages.ocr import page_is_poor

        s = self.settings
        result = LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.OK, letter=letter)
        t = result.timings
        try:
            t0 = time.perf_counter()
            text = extract_text(letter, s)
            t["text"] = time.perf_counter() - t0
            result.text = text
            t0 = time.perf_counter()
            fields = extract_fields(text)
            t["fields"] = time.perf_counter() - t0
            result.fields = fields
            t0 = time.perf_counter()
            matches = match_letter(text, fields, self.index, s.match_threshold, s.near_tie_margin)
            t["match"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            lang = fields.language.value
            letter_date = _iso_date(fields.letter_date.value)
            result.updates = [self._update(letter, m, lang, letter_date) for m in matches]
            t["verdict"] = time.perf_counter() - t0
        except LetterError as exc:
            result.status, result.error = Status.FAILED, str(exc)
            return result
        except Exception as exc:  # a bug must not lose the batch: record it on the letter
            log.error("internal error on %s:\n%s", letter.source_file, traceback.format_exc())
            result.status, result.error = Status.FAILED, f"internal error: {type(exc).__name__}: {exc}"
            return result

        reasons = list(fields.review_reasons)
        poor = [p.page_no for p in text.pages if p.ocr_confidence is not None and page_is_poor(p, s.ocr)]
        if poor:
            reasons.insert(0, f"{POOR_SCAN} (page {', '.join(map(str, poor))})")
        if not matches:
            reasons.append(NO_MATCH)
        for u in result.updates:
            if u.match.near_tie:
                alts = ", ".join(pid for pid, _ in u.match.alternatives)
                reasons.append(f"ambiguous match {u.promise_id} (also {alts})")
            elif u.suggestion and u.suggestion.confidence < s.verdict_review_below:
                reasons.append(f"unsure verdict for {u.promise_id} ({u.suggestion.confidence:.2f})")
        if reasons:
            result.status, result.error = Status.NEEDS_REVIEW, "; ".join(reasons)
        return result

    def terms(self, promise_id: str) -> PromiseTerms | None:
        from pipeline.stages.promise_terms import read_terms

        if promise_id not in self._terms and promise_id in self.promises:
            self._terms[promise_id] = read_terms(self.promises[promise_id])
        return self._terms.get(promise_id)

    def _update(self, letter: Letter, match: Match, lang: str | None, letter_date: dt.date | None) -> Update:
        promise = self.promises.get(match.promise_id)
        suggestion = self.model.suggest(match.passage, lang, promise=promise, letter_date=letter_date,
                                        terms=self.terms(match.promise_id))
        needs = match.near_tie or suggestion.confidence < self.settings.verdict_review_below
        return Update(letter.letter_id, match.promise_id, match, suggestion, needs_review=needs)


def _iso_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


_SHIPPED_MODEL: dict[str, object] = {}


def suggest_verdict(promise: Promise, text: str, as_of: dt.date | None = None, lang: str | None = None,
                    models_dir: Path | None = None) -> VerdictSuggestion:
    """The verdict on ``text`` (a passage, a letter body, an analyst's retelling) for ``promise``.

    ``as_of``: the date to judge at when the text gives no "станом на" date (usually the letter's
    date). The shipped model is loaded once per process; the batch runs the same code.

    >>> s = suggest_verdict(promise, "Станом на 01.10.2016 облаштовано 12 майданчиків.", dt.date(2016, 10, 18))
    >>> s.verdict, s.confidence, s.explanation
    """
    from pipeline.schema import Passage
    from pipeline.stages.verdict import VerdictModel

    key = str(models_dir or Settings().models_dir)
    model = _SHIPPED_MODEL.get(key)
    if model is None:
        model = _SHIPPED_MODEL[key] = VerdictModel.load(Path(key))
    passage = Passage(index=0, text=text, start=0, end=len(text), page=1)
    return model.suggest(passage, lang, promise=promise, letter_date=as_of)  # type: ignore[attr-defined]


@dataclass
class BatchReport:
    run_id: str
    input_dir: str
    out_dir: str
    db: str
    started_at: str
    seconds: float = 0.0
    letters: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # status -> letters
    skipped: int = 0  # already processed, not redone
    duplicates: list[list[str]] = field(default_factory=list)
    sidecars: list[str] = field(default_factory=list)
    pages: int = 0
    ocr_pages: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    interrupted: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def _failure_result(f: IngestFailure) -> LetterResult:
    return LetterResult(f.letter_id, f.sha256, f.source_file, Status.FAILED, error=f.reason)


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while a batch runs, so both stop gracefully with a summary."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _restore_text_files(db: Database, out_dir: Path, letter_ids: list[str]) -> None:
    """Rewrite OUT/text/<id>.txt of skipped letters whose file is missing (a new OUT folder, a lost file)."""
    missing = [lid for lid in letter_ids if not (out_dir / "text" / f"{lid}.txt").exists()]
    if not missing:
        return
    with db.session() as s:
        for lid, text in repo.letter_texts(s, missing):
            if text is not None:
                atomic_write_text(out_dir / "text" / f"{lid}.txt", text)


def write_text_file(out_dir: Path, text: LetterText) -> None:
    atomic_write_text(out_dir / "text" / f"{text.letter_id}.txt", text.full_text)


def run_batch(
    input_dir: Path,
    promises_path: Path,
    out_dir: Path,
    db_path: Path | str | None = None,
    settings: Settings | None = None,
    workers: int | None = None,
    force: bool = False,
    on_result: Callable[[LetterResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    dask: str | None = None,
) -> BatchReport:
    """Process every letter under ``input_dir`` and write records into ``out_dir``.

    Letters already processed successfully (same SHA-256) are skipped unless
    ``force``. Bad files are recorded as failed; the batch always completes.
    """
    settings = settings or Settings()
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if not input_dir.is_dir():
        raise UsageError(f"input folder not found: {input_dir}")
    promises = load_registry(Path(promises_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_path or out_dir / "letters.db"
    workers = workers or settings.workers or os.cpu_count() or 1
    started = time.perf_counter()
    report = BatchReport(
        run_id=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
        input_dir=str(input_dir),
        out_dir=str(out_dir),
        db=str(db_path),
        started_at=utcnow().isoformat(timespec="seconds"),
    )
    db = Database(db_path)
    settings = replace(settings, ocr_cache_db=str(db_path))
    try:
        with db.session() as s:
            repo.upsert_promises(s, promises, terms_of=lambda p: read_terms(p).to_json())
            s.add(RunRow(run_id=report.run_id, input_dir=str(input_dir), report={}))
            done = repo.done_letters(s)
        found = ingest.discover(input_dir, settings.limits)
        report.duplicates = [[rel, lid] for rel, lid in found.duplicates]
        report.sidecars = found.sidecars
        run_ids = [f.letter_id for f in found.failures] + [letter.letter_id for letter in found.letters]
        todo = [
            letter for letter in found.letters if force or done.get(letter.letter_id) != letter.sha256
        ]
        report.skipped = len(found.letters) - len(todo)
        _restore_text_files(db, out_dir, [x.letter_id for x in found.letters if x not in todo])
        if on_start:
            on_start(len(todo) + len(found.failures))
        stage_totals: Counter[str] = Counter()
        statuses: Counter[str] = Counter()

        def record(result: LetterResult) -> None:
            if result.text:  # before the commit: a committed letter is skipped next time, its text must exist
                write_text_file(out_dir, result.text)
            with db.session() as s:  # one transaction per letter: a crash loses only letters in flight
                repo.save_result(s, result, report.run_id)
            if result.text:
                report.pages += len(result.text.pages)
                report.ocr_pages += sum(1 for p in result.text.pages if p.source.value == "ocr")
            stage_totals.update(result.timings)
            statuses[result.status.value] += 1
            if result.status == Status.FAILED:
                report.failures.append({"source_file": result.source_file, "reason": result.error or ""})
            if on_result:
                on_result(result)

        for failure in found.failures:
            record(_failure_result(failure))
        try:
            with _stop_on_sigterm():
                for result in iter_results(todo, promises, settings, workers, dask):
                    record(result)
        except KeyboardInterrupt:  # SIGINT, or SIGTERM via _stop_on_sigterm: keep what is done
            report.interrupted = True
        report.letters = len(run_ids)
        report.counts = {k: statuses.get(k, 0) for k in (s.value for s in Status)}
        report.stage_seconds = {k: round(v, 3) for k, v in stage_totals.items()}
        with db.session() as s:
            letters = repo.letter_records(s, run_ids)
            updates = repo.update_records(s, run_ids)
            decisions = repo.decision_records(s, run_ids)
            agreement = agreement_records(s)
            pages = promise_store.promise_pages(s)
        report.records = [str(p) for p in write_records(out_dir, letters, updates, decisions, agreement)]
        report.records += [str(p) for p in write_promise_records(out_dir, [p.record() for p in pages])]
        report.seconds = round(time.perf_counter() - started, 2)
        atomic_write_text(out_dir / "reports" / f"run-{report.run_id}.json", report.to_json())
        with db.session() as s:
            run = s.get(RunRow, report.run_id)
            if run:
                run.finished_at = utcnow()
                run.report = json.loads(report.to_json())
            promise_store.record_status_snapshot(s, report.run_id, pages)
        return report
    finally:
        db.close()


def export_records(db_path: Path | str, out_dir: Path, letter_ids: Iterable[str] | None = None) -> list[Path]:
    """Rewrite the record files from the database (human decisions included)."""
    db = Database(db_path)
    try:
        with db.session() as s:
            letters = repo.letter_records(s, letter_ids)
            updates = repo.update_records(s, letter_ids)
            decisions = repo.decision_records(s, letter_ids)
            agreement = agreement_records(s)
            promises = promise_store.promise_records(s)
        return (write_records(Path(out_dir), letters, updates, decisions, agreement)
                + write_promise_records(Path(out_dir), promises))
    finally:
        db.close()


def human_verdict_examples(db_path: Path | str) -> list[dict[str, Any]]:
    """Training rows from reviewers' effective verdict decisions (confirmed or corrected)."""
    from sqlalchemy import select

    from pipeline.nlp import detect_language
    from pipeline.store.tables import FieldRow, MatchRow, PromiseRow

    db = Database(db_path)
    try:
        with db.session() as s:
            decisions = repo.effective_decisions(s)
            rows = []
            for (lid, kind, pid), d in sorted(decisions.items()):
                if kind != "verdict" or not d.human_value or d.disputed:
                    continue  # a verdict reviewers disagree on teaches nothing until adjudicated
                m = s.scalars(select(MatchRow).where(MatchRow.letter_id == lid, MatchRow.promise_id == pid)).first()
                if m is None or not m.passage_text.strip():
                    continue
                row: dict[str, Any] = {
                    "id": f"review-{d.review_id}",
                    "writer": "reviewers",
                    "passage": m.passage_text,
                    "verdict": d.human_value,
                    "language": detect_language(m.passage_text),
                    "lang": detect_language(m.passage_text),
                    "rationale": f"reviewer {d.reviewer} ({d.action})",
                }
                # With its promise and the letter's date, a decision teaches the combiner too.
                p = s.get(PromiseRow, pid)
                date = s.scalars(select(FieldRow.value).where(FieldRow.letter_id == lid,
                                                              FieldRow.name == "letter_date")).first()
                if p is not None and _iso_date(date):
                    row["promise"] = {"title": p.title, "politician": p.politician, "office": p.office,
                                      "city": p.city, "said_on": p.said_on.isoformat() if p.said_on else None,
                                      "description": p.description, "lang": p.lang}
                    row["letter_date"] = date
                rows.append(row)
            return rows
    finally:
        db.close()


def train_verdict_model(db_path: Path | str | None = None, gold_dir: Path | None = None,
                        models_dir: Path | None = None, seed: int = 0, cross_writer: bool = False) -> Path:
    """Train and save a verdict model from the project's corpus plus human decisions."""
    from pipeline.training.verdict import train_and_save

    extra = human_verdict_examples(db_path) if db_path else []
    return train_and_save(Path(models_dir or Settings().models_dir), extra, gold_dir, seed,
                          cross_writer=cross_writer)
