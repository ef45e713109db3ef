"""The `letters` command: thin — parse arguments, call pipeline.api, turn errors into exit codes.

This module is the only place that maps exceptions to exit codes.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pipeline.errors import ExitCode, LettersError, RunInterrupted
from pipeline.settings import from_env

console = Console(stderr=True)
out = Console()
if not out.is_terminal:  # piped output: keep the summary table's headers whole
    out = Console(width=160)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# Commands that live with the web app and the benchmark: imported only when named (or listed
# by --help), so `letters run` does not load them.
EDGE_COMMANDS = {
    "review": "pipeline.review.commands:review",
    "users": "pipeline.review.commands:users",
    "bench": "pipeline.bench.commands:bench",
}


class LettersGroup(click.Group):
    """Turns the library's typed errors into one-line messages and exit codes (see ExitCode);
    a file-system error that escaped the library (a full disk, a read-only folder) too."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *EDGE_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in EDGE_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, attr = EDGE_COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LettersError as exc:
            console.print(f"[red]error:[/red] {_one_line(str(exc))}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(int(exc.exit_code))
        except OSError as exc:
            from pipeline.store.db import translate_os_error

            typed = translate_os_error(exc, f"{exc.filename}" if exc.filename else "writing")
            console.print(f"[red]error:[/red] {_one_line(str(typed))}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(int(typed.exit_code))


@click.group(cls=LettersGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log details (internal errors with tracebacks) to stderr.")
@click.version_option(package_name="letters")
def main(verbose: bool) -> None:
    """letters: turn scanned answers of Ukrainian councils into structured records and
    suggested verdicts on politicians' promises."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")


@main.command()
@click.argument("input_dir", type=click.Path(path_type=Path))
@click.option("--promises", "promises_path", required=True, type=click.Path(path_type=Path),
              help="Promise registry CSV (promise_id,politician,office,city,said_on,title,description,lang).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder for records.")
@click.option("--db", "db_path", type=str, default=None,
              help="Database file or SQLAlchemy URL (default: OUT/letters.db).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: number of cores).")
@click.option("--force", is_flag=True, help="Process letters again even if they were processed before.")
@click.option("--models", "models_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of trained models (default: the project's models/).")
@click.option("--no-prepare", is_flag=True, help="Send page images to Tesseract without preparation.")
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS",
              help="Run letters on a Dask cluster: a scheduler address (tcp://HOST:8786) or 'local' for a LocalCluster.")
def run(input_dir: Path, promises_path: Path, out_dir: Path, db_path: str | None, workers: int | None,
        force: bool, models_dir: Path | None, no_prepare: bool, dask_address: str | None) -> None:
    """Process every scan under INPUT_DIR into records in OUT.

    Writes OUT/letters.{parquet,csv}, OUT/updates.{parquet,csv}, OUT/text/<letter_id>.txt
    and a JSON run report in OUT/reports/. Exit code 0 when the batch completed, even if
    some files failed (they are recorded with a reason).
    """
    from dataclasses import replace

    from pipeline.api import run_batch

    settings = from_env()
    if models_dir:
        settings = replace(settings, models_dir=models_dir)
    if no_prepare:
        settings = replace(settings, ocr=replace(settings.ocr, prepare=False))
    progress = Progress(
        TextColumn("[bold]letters"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[pages]} pages"),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, transient=False,
    )
    state = {"pages": 0}
    with progress:
        task = progress.add_task("run", total=None, pages=0, rate="")

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_result(result) -> None:  # noqa: ANN001
            state["pages"] += len(result.text.pages) if result.text else 0
            elapsed = progress.tasks[task].elapsed or 1e-9
            progress.update(task, advance=1, pages=state["pages"], rate=f"{state['pages'] / elapsed:.2f} pages/s")

        try:
            report = run_batch(input_dir, promises_path, out_dir, db_path, settings, workers, force,
                               on_result=on_result, on_start=on_start, dask=dask_address)
        except RunInterrupted as exc:  # a fault stopped the batch: the summary of what got done, then the error
            fault = exc
        else:
            fault = None
    if fault is not None:
        if fault.report is not None:
            print_summary(fault.report, signal_note=False)
        raise fault
    print_summary(report)
    if report.interrupted:
        sys.exit(ExitCode.interrupted)  # the conventional code for a run stopped by a signal


def print_summary(report, signal_note: bool = True) -> None:  # noqa: ANN001
    table = Table(title=f"run {report.run_id}", show_header=True)
    table.add_column("letters")
    table.add_column("ok", justify="right")
    table.add_column("needs_review", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("skipped", justify="right")
    table.add_column("pages", justify="right")
    table.add_column("OCR'd pages", justify="right")
    table.add_column("seconds", justify="right")
    c = report.counts
    table.add_row(str(report.letters), str(c.get("ok", 0)), str(c.get("needs_review", 0)), str(c.get("failed", 0)),
                  str(report.skipped), str(report.pages), str(report.ocr_pages), f"{report.seconds:.1f}")
    out.print(table)
    for f in report.failures[:20]:
        out.print(f"  failed: {f['source_file']}: {f['reason']}", highlight=False, markup=False)
    if report.interrupted and signal_note:
        out.print("interrupted: the letters finished so far are saved; run again to finish the rest")
    out.print(f"records: {report.out_dir}", highlight=False)


@main.command()
@click.option("--gold", "gold_dir", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Gold corpus in the dev-set format (gold.jsonl, letters/, files/manifest.csv).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Output folder of a `letters run` on the gold corpus's files.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Also write the numbers as JSON.")
@click.option("--models", "models_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of trained models for the verdict comparison (default: the project's models/).")
@click.option("--no-baselines", is_flag=True, help="Skip training and scoring the verdict baselines.")
def evaluate(gold_dir: Path, out_dir: Path, json_path: Path | None, models_dir: Path | None, no_baselines: bool) -> None:
    """Compare a run's records with a gold corpus: field accuracy (with a dateparser baseline),
    match precision/recall/F1, verdict macro-F1 (with baselines) and OCR CER per file kind."""
    from pipeline.evaluate import evaluate_run, format_evaluation

    result = evaluate_run(gold_dir, out_dir, models_dir, verdict_baselines=not no_baselines)
    out.print(format_evaluation(result), highlight=False, markup=False)
    if json_path:
        import json

        json_path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


@main.command()
@click.option("--db", "db_path", required=True, type=str, help="Database file or URL.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the record files.")
@click.option("--input-dir", "input_dir", type=click.Path(path_type=Path), default=None,
              help="Only the letters whose files lie under this folder (default: every letter in the database).")
def export(db_path: str, out_dir: Path, input_dir: Path | None) -> None:
    """Rewrite letters.*, updates.*, promises.* and manifest.json from the database, with every human
    decision applied. The database is only read (a read-only database file works)."""
    from pipeline.api import export_records

    for p in export_records(db_path, out_dir, input_dir=input_dir):
        out.print(str(p), highlight=False)


@main.command()
@click.option("--db", "db_path", required=True, type=str, help="Database file or URL (e.g. OUT/letters.db).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for index.html.")
@click.option("--app-url", default=None, metavar="URL",
              help="Where the review app runs (e.g. http://127.0.0.1:8000): promises link to their pages there.")
def report(db_path: str, out_dir: Path, app_url: str | None) -> None:
    """Write a static HTML report (OUT/index.html, opens from disk): promises by status, city and
    politician, verdicts by quarter, and the promises whose status changed in the latest run."""
    from pipeline.errors import UsageError
    from pipeline.report import write_report

    if "://" not in db_path and not Path(db_path).is_file():
        raise UsageError(f"database not found: {db_path}")
    out.print(str(write_report(db_path, out_dir, app_url)), highlight=False)


@main.command()
@click.option("--db", "db_path", type=str, default=None, help="Add human-confirmed verdicts from this database.")
@click.option("--gold", "gold_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="Also evaluate on a gold corpus (dev-set format).")
@click.option("--models", "models_dir", type=click.Path(path_type=Path), default=None,
              help="Where to write models/verdict/<version>/ (default: the project's models/).")
@click.option("--seed", type=int, default=0, help="Random seed (training is deterministic for a seed).")
@click.option("--cross-writer", is_flag=True,
              help="Also train on all writers but one and test on the one held out, for each writer (slower).")
def train(db_path: str | None, gold_dir: Path | None, models_dir: Path | None, seed: int, cross_writer: bool) -> None:
    """Train the verdict model from the project's corpus plus human decisions, and save it with a card."""
    from pipeline.api import train_verdict_model

    path = train_verdict_model(db_path, gold_dir, models_dir, seed, cross_writer=cross_writer)
    card = (path / "card.md")
    if card.exists():
        out.print(card.read_text(encoding="utf-8"), highlight=False, markup=False)
    out.print(f"model written to {path}", highlight=False)


@main.command("train-ranker")
@click.option("--models", "models_dir", type=click.Path(path_type=Path), default=None,
              help="Where to write models/ranker/<version>/ (default: the project's models/).")
@click.option("--seed", type=int, default=0, help="Seed of the simulated letter contexts and hard negatives.")
@click.option("--folds", type=int, default=5, show_default=True, help="Cross-validation folds, by letter (1: none).")
def train_ranker(models_dir: Path | None, seed: int, folds: int) -> None:
    """Train the match ranker on the project's (promise, passage) pairs and hard negatives; save it with a card."""
    from pipeline.settings import DEFAULT_MODELS_DIR
    from pipeline.training.ranker import train as train_match_ranker

    path = train_match_ranker(models_dir or DEFAULT_MODELS_DIR, seed, folds=folds)
    card = path / "card.md"
    if card.exists():
        out.print(card.read_text(encoding="utf-8"), highlight=False, markup=False)
    out.print(f"ranker written to {path}", highlight=False)


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
def samples(out_dir: Path) -> None:
    """Render the project's sample letters (PDFs, scans, images) into OUT_DIR."""
    from pipeline.samplegen import make_samples

    paths = make_samples(out_dir)
    out.print(f"{len(paths)} files written to {out_dir}", highlight=False)



if __name__ == "__main__":
    main()
