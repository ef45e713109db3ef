"""The `letters` command end to end: a real run on rendered letters writes both record files
with the exact columns; usage errors give one line and a non-zero exit; every command has help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.samplegen import write_image, write_text_pdf
from pipeline.store.repo import LETTER_COLUMNS, UPDATE_COLUMNS

REGISTRY = """promise_id,politician,office,city,said_on,title,description,lang
P-RIV-1,Іван Петренко,Рівненський міський голова,Рівне,2016-03-01,Петренко відремонтує міст через річку Устя,Капітальний ремонт мосту на вулиці Соборній,uk
P-RIV-2,Іван Петренко,Ровенский городской голова,Рівне,2016-03-01,Петренко откроет новый детский сад,Строительство детского сада в микрорайоне Ювилейный,ru
"""

LETTER = [
    "РІВНЕНСЬКА МІСЬКА РАДА",
    "ВИКОНАВЧИЙ КОМІТЕТ",
    "33028, м. Рівне, вул. Соборна, 12",
    "",
    "14.09.2017 № 02-11/518",
    "На № 31 від 01.09.2017",
    "",
    "ГО «Прозорий контроль»",
    "",
    "Виконавчий комітет розглянув Ваш запит щодо мосту через річку Устя.",
    "Капітальний ремонт мосту через річку Устя завершено у серпні 2017 року, міст відкрито для руху.",
    "",
    "Заступник міського голови          Олег МАРЧУК",
]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("in")
    write_text_pdf([LETTER], folder / "лист 1.pdf")
    write_image(LETTER, folder / "scan.png", fmt="PNG", dpi=300, noise=0.1)
    (folder / "notes.docx").write_bytes(b"PK\x03\x04 not a scan")
    (folder / "promises.csv").write_text(REGISTRY, encoding="utf-8")
    return folder, folder / "promises.csv"


@pytest.mark.slow
def test_run_writes_both_record_files_with_exact_columns(batch: tuple[Path, Path], tmp_path: Path) -> None:
    folder, registry = batch
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--promises", str(registry), "--out", str(out),
         "--workers", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "needs_review" in proc.stdout and "failed" in proc.stdout  # the summary table
    letters = pd.read_parquet(out / "letters.parquet")
    updates = pd.read_parquet(out / "updates.parquet")
    assert list(letters.columns) == list(LETTER_COLUMNS)
    assert list(updates.columns) == list(UPDATE_COLUMNS)
    assert list(pd.read_csv(out / "letters.csv").columns) == list(LETTER_COLUMNS)
    assert list(pd.read_csv(out / "updates.csv").columns) == list(UPDATE_COLUMNS)
    by_file = {r["source_file"]: r for r in letters.to_dict("records")}
    assert set(by_file) == {"лист 1.pdf", "scan.png", "notes.docx"}
    assert by_file["notes.docx"]["status"] == "failed" and "ZIP" in by_file["notes.docx"]["error"]
    born = by_file["лист 1.pdf"]
    assert born["text_source"] == "text_layer" and born["pages"] == 1
    assert born["letter_date"] == "2017-09-14" and born["outgoing_number"] == "02-11/518"
    assert born["sender_city"] == "Рівне"
    assert by_file["scan.png"]["text_source"] == "ocr" and by_file["scan.png"]["ocr_confidence"] > 50
    text = (out / "text" / f"{born['letter_id']}.txt").read_text(encoding="utf-8")
    assert "Устя" in text
    pairs = {(r["letter_id"], r["promise_id"]) for r in updates.to_dict("records")}
    assert (born["letter_id"], "P-RIV-1") in pairs
    assert set(updates["verdict"]) <= {"fulfilled", "in_progress", "not_fulfilled"}
    assert set(updates["review_state"]) == {"suggested"}
    (report,) = (out / "reports").glob("run-*.json")
    assert json.loads(report.read_text())["counts"]["failed"] == 1

    # The same input again: nothing is redone, nothing is duplicated.
    again = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--promises", str(registry), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert len(pd.read_parquet(out / "letters.parquet")) == 3
    assert len(pd.read_parquet(out / "updates.parquet")) == len(updates)


def test_usage_errors_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["run", str(tmp_path / "nope"), "--promises", "x.csv", "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "input folder not found" in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_text("promise_id,title\n", encoding="utf-8")
    registry = runner.invoke(main, ["run", str(tmp_path), "--promises", str(bad), "--out", str(tmp_path / "o")])
    assert registry.exit_code == 3 and "header lacks column" in registry.output
    assert "Traceback" not in missing.output + registry.output


def test_a_missing_model_stops_the_run_with_one_line_before_any_letter(batch: tuple[Path, Path], tmp_path: Path) -> None:
    """The workers build their Processors after the fork: the model error still comes back as
    its own exit code and message, from the process that prints it, and no letter is processed
    (the file that is not a letter at all is recorded as failed before the workers are asked)."""
    folder, registry = batch
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--promises", str(registry), "--out", str(out),
         "--workers", "2", "--models", str(tmp_path / "no-models")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 4, proc.stderr
    assert "error:" in proc.stderr and "model" in proc.stderr and "Traceback" not in proc.stderr
    import sqlite3

    with sqlite3.connect(out / "letters.db") as conn:
        assert conn.execute("SELECT source_file FROM letters").fetchall() == [("notes.docx",)]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the lazily imported edge commands (review, users, bench) too
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        found.append((prefix + (name,), cmd))
        if isinstance(cmd, click.Group):
            found += _commands(cmd, prefix + (name,))
    return found


def test_every_command_and_option_is_documented() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["--help"]).exit_code == 0
    commands = _commands(main)
    assert {("run",), ("evaluate",), ("export",), ("train",), ("review",), ("users",), ("bench",), ("bench", "startup")} <= {
        path for path, _ in commands}
    for path, cmd in commands:
        assert (cmd.help or "").strip(), f"letters {' '.join(path)} has no help text"
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"letters {' '.join(path)} {param.opts[0]} has no help"
        assert runner.invoke(main, [*path, "--help"]).exit_code == 0
