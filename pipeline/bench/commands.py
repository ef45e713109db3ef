"""The ``letters bench`` command group (registered on the main CLI by ``pipeline.cli``).

``letters bench`` alone runs every section; each subcommand runs one. Thin: options in,
:mod:`pipeline.bench.run` does the work, the report is printed (and saved with --json).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from pipeline.bench.run import DEFAULT_FOLDER, QUICK_LETTERS, QUICK_MEMORY_PAGES, SECTIONS

F = Callable[..., Any]


def _options(f: F) -> F:
    opts = [
        click.option("--folder", default=DEFAULT_FOLDER, show_default=True,
                     help="Folder of letters to measure on (relative paths start at the project folder)."),
        click.option("--promises", "promises_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
                     help="Promise registry (default: promises.csv beside or above the folder, else the samples')."),
        click.option("--models", "models_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                     help="Folder of trained models (default: the project's models/)."),
        click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Go over the folder's letters this many times (more pages, steadier numbers)."),
        click.option("--quick", is_flag=True, help=f"A smoke run: {QUICK_LETTERS} scanned letters, a {QUICK_MEMORY_PAGES}-page long PDF."),
        click.option("--pages", type=click.IntRange(min=1), default=300, show_default=True,
                     help="Pages of the generated scanned PDF for the memory measurement."),
        click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
                     help="Also write every number as JSON to this file."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _merged(kw: dict[str, Any]) -> dict[str, Any]:
    """A subcommand's options, with those it left at their defaults taken from the group
    (so ``letters bench --quick ocr`` and ``letters bench ocr --quick`` mean the same)."""
    ctx = click.get_current_context()
    parent = ctx.parent.params if ctx.parent else {}
    out = dict(kw)
    for name, value in parent.items():
        if ctx.get_parameter_source(name) == click.core.ParameterSource.DEFAULT and name in out:
            out[name] = value
    return out


def _run(sections: tuple[str, ...], folder: str, promises_path: Path | None, models_dir: Path | None, repeat: int,
         quick: bool, pages: int, json_path: Path | None) -> None:
    from pipeline.bench.run import BenchConfig, format_report, resolve_folder, run_bench
    from pipeline.settings import from_env

    settings = from_env()
    if models_dir:
        settings = replace(settings, models_dir=models_dir)
    cfg = BenchConfig(
        folder=resolve_folder(folder) if any(SECTIONS[s].corpus for s in sections) else Path(folder),
        promises=promises_path, settings=settings, repeat=repeat, quick=quick, pages=pages,
    )

    def echo(msg: str) -> None:
        click.echo(msg, err=True)  # progress on stderr, the report on stdout

    results = run_bench(cfg, sections, echo)
    click.echo(format_report(results))
    if json_path:
        json_path.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


@click.group(invoke_without_command=True)
@_options
@click.pass_context
def bench(ctx: click.Context, **kw: Any) -> None:
    """Measure speed and memory against the targets; without a subcommand, run every section.

    Sections: start-up (a born-digital letter end to end, `letters --help`), one scanned
    page and ten scanned letters end to end against raw Tesseract (with peak memory), our
    OCR stage against raw Tesseract, orientation detection in-process against the program,
    born-digital pages per second, fields+match+verdict ms
    per letter, the speed-up of 2 workers over 1, the peak memory on a long scanned PDF, and
    the registry scale (10,000 and 100,000 promises). Numbers on a busy machine are noisy:
    the load average is printed with them.
    """
    if ctx.invoked_subcommand is None:
        _run(tuple(SECTIONS), **kw)


@bench.command("all")
@_options
def bench_all(**kw: Any) -> None:
    """Every section in one run (what `letters bench` alone does)."""
    _run(tuple(SECTIONS), **_merged(kw))


def _section_command(name: str, help_text: str) -> None:
    def command(**kw: Any) -> None:
        _run((name,), **_merged(kw))

    bench.command(name, help=help_text)(_options(command))


for _name, _section in SECTIONS.items():  # one subcommand per section of pipeline.bench.run.SECTIONS
    _section_command(_name, _section.help)
