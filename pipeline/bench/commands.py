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

from pipeline.bench.run import DEFAULT_FOLDER, QUICK_LETTERS, QUICK_MEMORY_PAGES

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
        folder=resolve_folder(folder) if set(sections) - {"memory"} else Path(folder),
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

    Sections: OCR time per page against raw Tesseract (preparation off and on),
    born-digital pages per second, fields+match+verdict ms per letter, the speed-up of
    2 workers over 1, and the peak memory of a run on a long scanned PDF. Numbers on a
    busy machine are noisy: the load average is printed with them.
    """
    if ctx.invoked_subcommand is None:
        _run(("ocr", "born", "match", "throughput", "memory"), **kw)


@bench.command("all")
@_options
def bench_all(**kw: Any) -> None:
    """Every section in one run (what `letters bench` alone does)."""
    _run(("ocr", "born", "match", "throughput", "memory"), **_merged(kw))


@bench.command("ocr")
@_options
def bench_ocr(**kw: Any) -> None:
    """Our OCR stage (preparation off and on) against raw `tesseract IMAGE - -l ukr+rus`, seconds per page."""
    _run(("ocr",), **_merged(kw))


@bench.command("born")
@_options
def bench_born(**kw: Any) -> None:
    """Born-digital PDF pages per second (text layer, no OCR)."""
    _run(("born",), **_merged(kw))


@bench.command("match")
@_options
def bench_match(**kw: Any) -> None:
    """Fields + match + verdict milliseconds per letter, on texts already extracted (born-digital letters)."""
    _run(("match",), **_merged(kw))


@bench.command("throughput")
@_options
def bench_throughput(**kw: Any) -> None:
    """Speed-up of `letters run --workers 2` over `--workers 1` on the folder's scanned letters."""
    _run(("throughput",), **_merged(kw))


@bench.command("memory")
@_options
def bench_memory(**kw: Any) -> None:
    """Peak RSS of `letters run` on a generated long scanned PDF (--pages, 200 dpi)."""
    _run(("memory",), **_merged(kw))


def _run_cluster_section(name: str, kw: dict[str, Any]) -> None:
    """``dask`` / ``pagesplit``: figures and targets from :mod:`pipeline.bench.cluster`."""
    from pipeline.bench import cluster
    from pipeline.bench.run import BenchConfig, resolve_folder
    from pipeline.settings import from_env

    settings = from_env()
    if kw["models_dir"]:
        settings = replace(settings, models_dir=kw["models_dir"])
    folder = resolve_folder(kw["folder"]) if name == "dask" else Path(kw["folder"])
    cfg = BenchConfig(folder=folder, promises=kw["promises_path"], settings=settings, repeat=kw["repeat"],
                      quick=kw["quick"], pages=kw["pages"])

    def echo(msg: str) -> None:
        click.echo(msg, err=True)

    results = cluster.bench_dask(cfg, echo) if name == "dask" else cluster.bench_pagesplit(cfg, echo)
    click.echo(cluster.format_section(name, results))
    if kw["json_path"]:
        kw["json_path"].write_text(json.dumps({name: results}, ensure_ascii=False, indent=2), encoding="utf-8")


@bench.command("dask")
@_options
def bench_dask(**kw: Any) -> None:
    """Speed-up of 2 Dask workers over 1 on the folder's scanned letters, on clusters started with
    the Dask CLI (`dask scheduler`, `dask worker`) on free local ports, stopped afterwards."""
    _run_cluster_section("dask", _merged(kw))


@bench.command("pagesplit")
@_options
def bench_pagesplit(**kw: Any) -> None:
    """Speed-up of --workers 2 over 1 on one generated --pages-page scanned PDF, read by page ranges."""
    _run_cluster_section("pagesplit", _merged(kw))
