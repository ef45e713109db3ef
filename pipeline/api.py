"""The importable API: the CLI, the web app and the tests call these.

The order of the stages lives in one place, :meth:`pipeline.processor.Processor.process`
(re-exported here); the stages themselves are plain functions in :mod:`pipeline.stages`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import preflight
from pipeline.errors import (
    LettersError,
    OutOfSpace,
    RunInterrupted,
    StoppedBySignal,
    StoreError,
    UsageError,
    WriteError,
    translate_os_error,
)
from pipeline.processor import MAX_ERROR_CHARS, NO_MATCH, POOR_SCAN, Processor, join_reasons
from pipeline.schema import (
    IngestFailure,
    Letter,
    LetterResult,
    LetterText,
    Match,
    Promise,
    Status,
    VerdictSuggestion,
)
from pipeline.settings import Settings
from pipeline.stages.registry import load_registry
from pipeline.store.location import sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from pipeline.executors import Batch
    from pipeline.stages.ingest import Discovery
    from pipeline.store.db import Database

# The database, records and executor modules (SQLAlchemy, Alembic, pyarrow: most of a second
# to import) are imported where they are used: run_batch forks its workers before it imports
# them, so the workers start at once and the runner's own start-up runs beside theirs.

log = logging.getLogger("letters")

__all__ = ["MAX_ERROR_CHARS", "NO_MATCH", "POOR_SCAN", "BatchReport", "Processor", "export_records",
           "join_reasons", "match_text", "run_batch", "suggest_verdict"]




_SHIPPED_MODEL: dict[str, object] = {}

# Indexes built by match_text, keyed by the registry they were built for (the last few kept:
# an analyst's session matches many texts against one or two registries).
_INDEXES: OrderedDict[tuple[Promise, ...], Any] = OrderedDict()
_INDEXES_KEPT = 4


def _index_for(promises: tuple[Promise, ...]) -> Any:
    from pipeline.stages.match import PromiseIndex

    with _INDEX_LOCK:
        index = _INDEXES.get(promises)
        if index is not None:
            _INDEXES.move_to_end(promises)
            return index
    index = PromiseIndex.build(list(promises))
    with _INDEX_LOCK:
        _INDEXES[promises] = index
        while len(_INDEXES) > _INDEXES_KEPT:
            _INDEXES.popitem(last=False)
    return index


_INDEX_LOCK = threading.Lock()


def match_text(promises: list[Promise], text: str, settings: Settings | None = None) -> list[Match]:
    """The promises a plain text answers, best first: a council letter's text, or a retelling
    pasted by an analyst ("Лист секретаря … міської ради повідомив, що …"); no scan or
    letterhead needed. Scored exactly as the batch scores a letter (fields, then matching,
    then each promise's own passage); the index is built on the first call for a registry
    and reused for the next texts matched against the same list.
    """
    from pipeline.processor import match_promises
    from pipeline.schema import PageText, TextSource
    from pipeline.stages.fields import extract_fields

    if not text or not text.strip():
        return []
    index = _index_for(tuple(promises))
    letter_text = LetterText("text", [PageText(1, text, TextSource.TEXT_LAYER, 0.0, 0.0)])
    return match_promises(letter_text, extract_fields(letter_text), index, settings or Settings())


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
    field_errors: dict[str, int] = field(default_factory=dict)  # field rule -> letters it failed on
    records: list[str] = field(default_factory=list)
    interrupted: bool = False
    interrupt_reason: str | None = None
    stale_runs: list[str] = field(default_factory=list)  # earlier unfinished runs marked interrupted by this one

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
    from pipeline.stages.records import atomic_write_text
    from pipeline.store import repo

    missing = [lid for lid in letter_ids if not (out_dir / "text" / f"{lid}.txt").exists()]
    if not missing:
        return
    with db.session() as s:
        for lid, text in repo.letter_texts(s, missing):
            if text is not None:
                atomic_write_text(out_dir / "text" / f"{lid}.txt", text)


def write_text_file(out_dir: Path, text: LetterText) -> None:
    from pipeline.stages.records import atomic_write_text

    atomic_write_text(out_dir / "text" / f"{text.letter_id}.txt", text.full_text)


def _process_identity() -> tuple[str, int, float | None]:
    import socket

    import psutil

    try:
        started = psutil.Process().create_time()
    except psutil.Error:
        started = None
    return socket.gethostname(), os.getpid(), started


def _run_is_alive(host: str | None, pid: int | None, pid_started: float | None) -> bool | None:
    """Whether the process of a run row is still running: None when it cannot be told (another host)."""
    import socket

    import psutil

    if host is None or pid is None:
        return False  # a run from before runs had owners: long gone
    if host != socket.gethostname():
        return None
    try:
        proc = psutil.Process(pid)
        return pid_started is None or abs(proc.create_time() - pid_started) < 1.0
    except psutil.Error:
        return False


STALE_REASON = "the run stopped without finishing (killed, crashed or the machine went down)"


def _mark_stale_runs(s: Session, own_run: str) -> list[str]:
    """Mark unfinished runs whose process is gone as interrupted; returns their ids."""
    from pipeline.store import repo

    stale = []
    for run in repo.unfinished_runs(s):
        if run.run_id != own_run and _run_is_alive(run.host, run.pid, run.pid_started) is False:
            run.status, run.reason = "interrupted", STALE_REASON
            stale.append(run.run_id)
    return stale


RESERVE_BYTES = 2 * 2**20


class _SpaceReserve:
    """A little disk space set aside while a run works, beside the database, and given back when
    the disk fills: the run can then still mark itself interrupted, checkpoint the WAL and write
    its report instead of failing at each of those too."""

    PREFIX = ".letters-reserve-"

    def __init__(self, folder: Path, run_id: str) -> None:
        self.folder = folder
        self.path = folder / f"{self.PREFIX}{run_id}"

    def take(self) -> None:
        try:
            with open(self.path, "wb") as fh:
                os.posix_fallocate(fh.fileno(), 0, RESERVE_BYTES)
        except (OSError, AttributeError):  # no space for it, or no fallocate: run without a reserve
            self.path.unlink(missing_ok=True)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def clean_others(self, live_runs: set[str]) -> None:
        """Remove the reserves of runs that are not running any more (killed ones leave theirs)."""
        for p in self.folder.glob(self.PREFIX + "*"):
            if p != self.path and p.name.removeprefix(self.PREFIX) not in live_runs:
                p.unlink(missing_ok=True)


def _as_fault(exc: BaseException, what: str) -> LettersError | None:
    """A fault that must stop the batch (disk full, write error, locked or read-only database) as a typed error."""
    if isinstance(exc, OutOfSpace | WriteError | StoreError):
        return exc
    if isinstance(exc, OSError):
        return translate_os_error(exc, what)
    return None


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
    What the run needs (tesseract and its languages, a writable output folder with free
    space, a writable database) is checked before any letter. A fault that stops the
    batch (disk full, a write error, a database locked past every retry) keeps the letters
    committed so far, marks the run ``interrupted`` with the reason and raises
    :class:`RunInterrupted` carrying the report. The record files always cover the whole
    database; a run checkpoints the SQLite WAL when it ends.
    """
    from pipeline import executors
    from pipeline.stages import ingest

    settings = settings or Settings()
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if not input_dir.is_dir():
        raise UsageError(f"input folder not found: {input_dir}")
    promises = load_registry(Path(promises_path))
    db_path = db_path or out_dir / "letters.db"
    preflight.check_run(out_dir, db_path, settings)
    workers = workers or settings.workers or os.cpu_count() or 1
    started = time.perf_counter()
    settings = replace(settings, ocr_cache_db=str(db_path))
    found = ingest.discover(input_dir, settings.limits)
    # The workers first, while this process is small and has no database open: they build
    # their Processors while it imports the store, opens the database and saves the registry;
    # when the letters to do are known already, they read their first letters meanwhile too.
    with _stop_on_sigterm():  # from the first worker on: a signal stops them all, and the run
        batch = executors.start(promises, settings, workers, dask, expected=found.letters,
                                todo=None if dask else _todo_before_opening(found.letters, db_path, force))
        try:
            return _run(batch, found, input_dir, promises, out_dir, db_path, settings, force, started,
                        on_result, on_start)
        except KeyboardInterrupt:  # before the database was open (later ones end with the run's report)
            raise StoppedBySignal("stopped by a signal (Ctrl-C or SIGTERM) while the run was starting; "
                                  "nothing was saved") from None
        finally:
            batch.close()


def _todo_before_opening(letters: list[Letter], db_path: Path | str, force: bool) -> list[Letter] | None:
    """The letters the run will do, if the database tells without SQLAlchemy (see
    :mod:`pipeline.store.peek`); None when only the opened store can tell."""
    from pipeline.store import peek

    done = {} if force else peek.done_letters(db_path)
    return None if done is None else _to_do(letters, done, force)


def _to_do(letters: list[Letter], done: dict[str, str], force: bool) -> list[Letter]:
    """The letters not yet processed with their current content (all of them with ``force``)."""
    return [x for x in letters if force or done.get(x.letter_id) != x.sha256]


def _run(batch: Batch, found: Discovery, input_dir: Path, promises: list[Promise], out_dir: Path, db_path: Path | str,
         settings: Settings, force: bool, started: float, on_result: Callable[[LetterResult], None] | None,
         on_start: Callable[[int], None] | None) -> BatchReport:
    """run_batch once its workers are started: the database, the letters, the records."""
    from pipeline import executors
    from pipeline.stages.field_components import FIELD_ERROR
    from pipeline.stages.records import atomic_write_text
    from pipeline.store import promises as promise_store
    from pipeline.store import repo
    from pipeline.store.db import Database
    from pipeline.store.tables import RunRow, utcnow

    report = BatchReport(
        run_id=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
        input_dir=str(input_dir),
        out_dir=str(out_dir),
        db=str(db_path),
        started_at=utcnow().isoformat(timespec="seconds"),
    )
    db = Database(db_path, busy_timeout_s=settings.db_busy_timeout_s)
    host, pid, pid_started = _process_identity()
    fault: LettersError | None = None
    results: Iterator[LetterResult] | None = None
    db_file = sqlite_path(db_path)
    reserve = _SpaceReserve(db_file.parent if db_file else out_dir, report.run_id)
    try:
        def start(s: Session) -> tuple[list[str], set[str]]:
            s.add(RunRow(run_id=report.run_id, input_dir=str(input_dir), report={}, status="running",
                         host=host, pid=pid, pid_started=pid_started))
            s.flush()
            stale = _mark_stale_runs(s, report.run_id)
            return stale, {r.run_id for r in repo.unfinished_runs(s)}

        def begin() -> tuple[list[Letter], set[str]]:
            """The run's row, the registry's rows; the letters to do and the promises without terms."""
            report.stale_runs, live = db.write(start, "starting the run")
            reserve.clean_others(live)
            reserve.take()
            # The rows now, their terms (deadline, quantity, scope) from a worker after its letters,
            # or read here at the end when no worker is asked (nothing to do, a Dask cluster).
            repo.store_promises(db, promises)
            with db.session() as s:
                done = repo.done_letters(s)
                terms_todo = set(repo.promises_without_terms(s)) & {p.promise_id for p in promises}
            todo = _to_do(found.letters, done, force)
            # ... and those the workers were started on, from what the database said a moment ago
            ids = {x.letter_id for x in todo}
            todo += [x for x in batch.planned if x.letter_id not in ids]
            report.skipped = len(found.letters) - len(todo)
            return todo, terms_todo

        report.duplicates = [[rel, lid] for rel, lid in found.duplicates]
        report.sidecars = found.sidecars
        run_ids = [f.letter_id for f in found.failures] + [letter.letter_id for letter in found.letters]
        todo: list[Letter] = []
        terms_todo: set[str] = set()
        stage_totals: Counter[str] = Counter()
        statuses: Counter[str] = Counter()

        def record(result: LetterResult) -> None:
            if result.text:  # before the commit: a committed letter is skipped next time, its text must exist
                try:
                    write_text_file(out_dir, result.text)
                except OSError as exc:
                    raise translate_os_error(exc, f"writing {out_dir / 'text'}") from None
            # one transaction per letter: a crash loses only letters in flight
            db.write(lambda s: repo.save_result(s, result, report.run_id), f"saving {result.source_file}")
            if result.text:
                report.pages += len(result.text.pages)
                report.ocr_pages += sum(1 for p in result.text.pages if p.source.value == "ocr")
            stage_totals.update(result.timings)
            statuses[result.status.value] += 1
            for reason in result.fields.review_reasons if result.fields else ():
                if reason.startswith(FIELD_ERROR):  # "field extraction error (signatory)"
                    rule = reason[len(FIELD_ERROR) :].strip(" ()") or "?"
                    report.field_errors[rule] = report.field_errors.get(rule, 0) + 1
            if result.status == Status.FAILED:
                report.failures.append({"source_file": result.source_file, "reason": result.error or ""})
            if on_result:
                on_result(result)

        try:
            todo, terms_todo = begin()
            todo_ids = {x.letter_id for x in todo}
            try:
                _restore_text_files(db, out_dir, [x.letter_id for x in found.letters if x.letter_id not in todo_ids])
            except OSError as exc:
                raise translate_os_error(exc, f"writing {out_dir / 'text'}") from None
            if on_start:
                on_start(len(todo) + len(found.failures))
            for failure in found.failures:
                record(_failure_result(failure))
            # What export_from needs (pyarrow, the promise pages' drafts) is imported while this
            # thread waits for the workers, not after them.
            threading.Thread(target=_import_export_modules, name="import-export", daemon=True).start()
            results = batch.results(todo, sorted(terms_todo))
            for result in results:
                if isinstance(result, executors.TermsResult):
                    if result.error:
                        log.warning("reading the promises' terms on a worker failed (%s): reading them here", result.error)
                    repo.store_terms(db, result.terms)
                    terms_todo -= set(result.terms)
                else:
                    record(result)
            if terms_todo:
                from pipeline.stages.promise_terms import read_terms

                repo.store_terms(db, {p.promise_id: read_terms(p).to_json() for p in promises if p.promise_id in terms_todo})
        except KeyboardInterrupt:  # SIGINT, or SIGTERM via _stop_on_sigterm: keep what is done
            report.interrupted = True
            report.interrupt_reason = "stopped by a signal (Ctrl-C or SIGTERM)"
        except (OSError, LettersError) as exc:
            fault = _as_fault(exc, f"writing to {out_dir}")
            if fault is None:
                raise
            report.interrupted = True
            report.interrupt_reason = str(fault)
        finally:
            if results is not None:
                results.close()
            # The workers stop now, before the records are written: idle, each still held its
            # models and pages (~200 MB) beside this process importing pyarrow for the export.
            batch.close()
        report.letters = len(run_ids)
        report.counts = {k: statuses.get(k, 0) for k in (s.value for s in Status)}
        report.stage_seconds = {k: round(v, 3) for k, v in stage_totals.items()}
        pages: list | None = None

        def finish(s: Session) -> None:
            run = s.get(RunRow, report.run_id)
            if run:
                run.finished_at = utcnow()
                run.status = "interrupted" if report.interrupted else "finished"
                run.reason = report.interrupt_reason
                run.report = json.loads(report.to_json())
                if pages is not None:
                    promise_store.record_status_snapshot(s, report.run_id, pages)

        if fault is not None:  # the reason goes into the database first, with the space set aside
            reserve.release()
            try:
                db.write(finish, "marking the run interrupted")
            except LettersError as exc:
                log.warning("could not mark the run interrupted: %s", exc)  # the next run will
        try:
            paths, pages = export_from(db, out_dir, keep_drafts=True)
            report.records = [str(p) for p in paths]
        except (OSError, LettersError) as exc:
            typed = _as_fault(exc, f"writing the records in {out_dir}")
            if typed is None:
                raise
            fault = fault or typed
            report.interrupted, report.interrupt_reason = True, report.interrupt_reason or str(typed)
        report.seconds = round(time.perf_counter() - started, 2)
        try:
            atomic_write_text(out_dir / "reports" / f"run-{report.run_id}.json", report.to_json())
        except OSError as exc:
            fault = fault or translate_os_error(exc, f"writing {out_dir / 'reports'}")
        try:
            db.write(finish, "finishing the run")
        except LettersError as exc:
            if fault is None:
                raise
            log.warning("could not mark the run interrupted: %s", exc)  # the next run will
        if fault is not None:
            raise RunInterrupted(fault, report)
        return report
    finally:
        reserve.release()
        db.checkpoint()
        db.close()


def _import_export_modules() -> None:
    try:
        import pipeline.review.agreement
        import pipeline.stages.promise_page
        import pipeline.stages.records  # noqa: F401
    except Exception:  # only an early import: export_from imports them again and reports
        log.debug("early import of the export modules failed", exc_info=True)


def export_from(db: Database, out_dir: Path, letter_ids: Iterable[str] | None = None,
                keep_drafts: bool = False) -> tuple[list[Path], list]:
    """Write the record files of ``db`` into ``out_dir`` as one set: letters.*, updates.* and decisions.*
    (the whole database unless ``letter_ids``), agreement.*, promises.*, then manifest.json over all of them. Returns the
    paths and the promise pages the promise records were made from. ``keep_drafts``: store the
    promise pages' texts drafted anew (and drop those no page uses any more) for the next export."""
    from pipeline.review.agreement import agreement_records
    from pipeline.stages.promise_page import write_promise_records
    from pipeline.stages.records import write_manifest, write_records
    from pipeline.store import promises as promise_store
    from pipeline.store import repo

    out_dir = Path(out_dir)
    letter_ids = list(letter_ids) if letter_ids is not None else None
    with db.session() as s:
        letters = repo.letter_records(s, letter_ids)
        updates = repo.update_records(s, letter_ids)
        decisions = repo.decision_records(s, letter_ids)
        agreement = agreement_records(s)
        drafts = promise_store.kept_drafts(s)
        pages = promise_store.promise_pages(s, drafts=drafts)
    if keep_drafts and (drafts.made or len(drafts.used) < len(drafts.known)):
        db.write(lambda s: promise_store.keep_drafts(s, drafts, whole=True), "keeping the drafted texts")
    paths = write_records(out_dir, letters, updates, manifest=False, decisions=decisions, agreement=agreement)
    paths += write_promise_records(out_dir, [p.record() for p in pages])
    paths.append(write_manifest(out_dir, paths))
    return paths, pages


def export_records(db_path: Path | str, out_dir: Path, letter_ids: Iterable[str] | None = None,
                   input_dir: Path | None = None) -> list[Path]:
    """Rewrite the record files from the database (human decisions included). The database is
    only read: a read-only database file works. ``input_dir``: only letters from that folder."""
    from pipeline.store import repo
    from pipeline.store.db import Database

    preflight.check_database_readable(db_path)
    preflight.check_output_dir(Path(out_dir), 0.0)
    db = Database(db_path, readonly=preflight.database_is_read_only(db_path))
    try:
        if input_dir is not None:
            with db.session() as s:
                letter_ids = repo.letters_under(s, Path(input_dir))
        try:
            return export_from(db, Path(out_dir), letter_ids)[0]
        except OSError as exc:
            raise translate_os_error(exc, f"writing the records in {out_dir}") from None
    finally:
        db.close()


def human_verdict_examples(db_path: Path | str) -> list[dict[str, Any]]:
    """Training rows from reviewers' effective verdict decisions (confirmed or corrected)."""
    from sqlalchemy import select

    from pipeline.nlp import detect_language
    from pipeline.stages.dates import iso_date
    from pipeline.store import repo
    from pipeline.store.db import Database
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
                if p is not None and iso_date(date):
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
