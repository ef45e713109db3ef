"""OCR benchmark: our prepared OCR against plain ``tesseract IMAGE - -l ukr+rus``.

Both sides read the same page images (PDF pages rendered with pypdfium2, every TIFF
frame) in the same worker process, one after the other, so they see the same CPU
contention. Reported per file kind: mean and max character error rate against the
typed letters, and seconds per page.

    .venv/bin/python -m pipeline.bench.ocr ../shared/devset [--repeat N] [--workers 2] [--ids L-D001,...]
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageSequence

from pipeline.engines import tesseract
from pipeline.metrics import cer
from pipeline.settings import OcrSettings, from_env
from pipeline.stages.ocr import ocr_page, page_is_poor

KINDS = ("pdf_scan", "image_scan", "tiff", "phone_photo")
RAW_LANGUAGES = "ukr+rus"
MIN_TRUSTED_DPI = 100  # phone photos carry a nominal 72 dpi that says nothing about the text size


@dataclass
class PageResult:
    letter_id: str
    page_no: int
    ours_text: str
    raw_text: str
    ours_s: float
    raw_s: float
    ours_cpu: float
    raw_cpu: float
    poor: bool


def iter_pages(path: Path, render_dpi: int = 300) -> Iterator[tuple[Image.Image, int | None]]:
    """Page images of a file with their resolution when known (PDF pages rendered at ``render_dpi``)."""
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        try:
            for i in range(len(pdf)):
                page = pdf[i]
                bitmap = page.render(scale=render_dpi / 72.0)
                yield bitmap.to_pil().convert("RGB"), render_dpi
                page.close()
        finally:
            pdf.close()
        return
    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            dpi = frame.info.get("dpi", im.info.get("dpi"))
            dpi_x = int(round(float(dpi[0]))) if dpi else None
            yield frame.copy(), dpi_x if dpi_x and dpi_x >= MIN_TRUSTED_DPI else None


def _cpu() -> float:
    """CPU seconds of this process plus its finished children (Tesseract runs as a child)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _bench_letter(args: tuple[Path, str, OcrSettings, int, bool]) -> list[PageResult]:
    path, letter_id, settings, repeat, with_raw = args
    results: list[PageResult] = []
    for page_no, (image, dpi) in enumerate(iter_pages(path, settings.render_dpi), start=1):
        with tempfile.TemporaryDirectory(prefix="ocrbench-") as tmp:
            # the raw CLI reads a lossless file of the very same pixels, with the resolution tag
            png = Path(tmp) / "page.png"
            image.save(png, dpi=(dpi, dpi) if dpi else image.info.get("dpi", (72, 72)), compress_level=1)
            ours_s: list[float] = []
            raw_s: list[float] = []
            ours_cpu: list[float] = []
            raw_cpu: list[float] = []
            for _ in range(repeat):
                c0 = _cpu()
                page = ocr_page(image, page_no, settings, dpi=dpi)
                ours_cpu.append(_cpu() - c0)
                ours_s.append(page.seconds)
                raw = ""
                if with_raw:
                    t0, c0 = time.perf_counter(), _cpu()
                    raw = tesseract.file_to_text(png, languages=RAW_LANGUAGES, timeout_s=settings.timeout_s)
                    raw_s.append(time.perf_counter() - t0)
                    raw_cpu.append(_cpu() - c0)
        results.append(
            PageResult(
                letter_id,
                page_no,
                page.text,
                raw,
                min(ours_s),
                min(raw_s) if raw_s else 0.0,
                min(ours_cpu),
                min(raw_cpu) if raw_cpu else 0.0,
                page_is_poor(page, settings),
            )
        )
    return results


def run_ocr_bench(
    files_dir: Path,
    letters_dir: Path,
    manifest: Path,
    repeat: int = 1,
    workers: int = 2,
    ids: set[str] | None = None,
    settings: OcrSettings | None = None,
    details: bool = False,
    with_raw: bool = True,
    dump_dir: Path | None = None,
) -> str:
    """Run the benchmark and return a printable table (per kind, then optionally per letter)."""
    settings = settings or OcrSettings()
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] in KINDS and (not ids or r["letter_id"] in ids)]
    kind_of = {r["letter_id"]: r["kind"] for r in rows}
    jobs = [(Path(files_dir) / r["file"], r["letter_id"], settings, repeat, with_raw) for r in rows]
    started = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            per_letter = list(pool.map(_bench_letter, jobs))
    else:
        per_letter = [_bench_letter(j) for j in jobs]
    wall = time.perf_counter() - started

    by_kind: dict[str, list[dict[str, float]]] = defaultdict(list)
    lines_detail = []
    for pages in per_letter:
        if not pages:
            continue
        lid = pages[0].letter_id
        ref = (Path(letters_dir) / f"{lid}.txt").read_text(encoding="utf-8")
        if dump_dir is not None:  # the texts, to read what the errors are
            dump_dir.mkdir(parents=True, exist_ok=True)
            (dump_dir / f"{lid}.ours.txt").write_text("\f".join(p.ours_text for p in pages), encoding="utf-8")
            if with_raw:
                (dump_dir / f"{lid}.raw.txt").write_text("\f".join(p.raw_text for p in pages), encoding="utf-8")
        ours = cer(ref, "\f".join(p.ours_text for p in pages))
        raw = cer(ref, "\f".join(p.raw_text for p in pages))
        stat = {
            "ours": ours,
            "raw": raw,
            "ours_s": sum(p.ours_s for p in pages),
            "raw_s": sum(p.raw_s for p in pages),
            "ours_cpu": sum(p.ours_cpu for p in pages),
            "raw_cpu": sum(p.raw_cpu for p in pages),
            "pages": len(pages),
            "poor": sum(p.poor for p in pages),
        }
        by_kind[kind_of[lid]].append(stat)
        lines_detail.append(
            f"{lid:8} {kind_of[lid]:12} {ours:7.4f} {raw:7.4f} {stat['ours_s'] / len(pages):6.2f} "
            f"{stat['raw_s'] / len(pages):6.2f} {'poor' if stat['poor'] else ''}"
        )

    head = f"{'kind':12} {'files':>5} {'pages':>5} {'CER ours':>9} {'CER raw':>8} {'ratio':>6} {'max ours':>9} {'max raw':>8} {'s/pg ours':>9} {'s/pg raw':>8} {'cpu ours':>8} {'cpu raw':>7} {'poor':>4}"
    out = [head, "-" * len(head)]
    all_stats = []
    for kind in KINDS:
        stats = by_kind.get(kind)
        if not stats:
            continue
        all_stats += stats
        out.append(_row(kind, stats))
    if all_stats:
        out.append("-" * len(head))
        out.append(_row("all", all_stats))
    out.append(
        f"wall {wall:.1f} s, workers {workers}, repeat {repeat}; s/pg = wall seconds per page, cpu = CPU seconds "
        f"per page (Tesseract included; steadier on a shared machine); best of repeats; settings {settings}"
    )
    if details:
        out += ["", f"{'letter':8} {'kind':12} {'ours':>7} {'raw':>7} {'s ours':>6} {'s raw':>6}", *lines_detail]
    return "\n".join(out)


def _row(kind: str, stats: list[dict[str, float]]) -> str:
    pages = sum(s["pages"] for s in stats)
    ours = statistics.mean(s["ours"] for s in stats)
    raw = statistics.mean(s["raw"] for s in stats)
    ratio = ours / raw if raw else float("nan")
    return (
        f"{kind:12} {len(stats):5d} {pages:5d} {ours:9.4f} {raw:8.4f} {ratio:6.2f} "
        f"{max(s['ours'] for s in stats):9.4f} {max(s['raw'] for s in stats):8.4f} "
        f"{sum(s['ours_s'] for s in stats) / pages:9.2f} {sum(s['raw_s'] for s in stats) / pages:8.2f} "
        f"{sum(s['ours_cpu'] for s in stats) / pages:8.2f} {sum(s['raw_cpu'] for s in stats) / pages:7.2f} "
        f"{int(sum(s['poor'] for s in stats)):4d}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.bench.ocr", description=__doc__.splitlines()[0])
    ap.add_argument("devset", type=Path, help="dev set folder with files/, letters/ and files/manifest.csv")
    ap.add_argument("--repeat", type=int, default=1, help="OCR each page N times, keep the best time")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (same for both sides)")
    ap.add_argument("--ids", default="", help="comma-separated letter ids to run (default: all)")
    ap.add_argument("--psm", type=int, default=None, help="override OcrSettings.psm")
    ap.add_argument("--languages", default=None, help="override OcrSettings.languages")
    ap.add_argument("--no-prepare", action="store_true", help="send the raw page image to Tesseract")
    ap.add_argument("--details", action="store_true", help="also print one line per letter")
    ap.add_argument("--dump", type=Path, default=None, help="write each letter's OCR text into this folder")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw Tesseract side (quick iterations)")
    a = ap.parse_args(argv)
    base = from_env().ocr  # the run's settings (LETTERS_OCR_* applied), then the flags below
    settings = replace(
        base,
        languages=a.languages or base.languages,
        psm=a.psm if a.psm is not None else base.psm,
        prepare=base.prepare and not a.no_prepare,
    )
    files_dir = a.devset / "files"
    manifest = files_dir / "manifest.csv"
    if not manifest.is_file():
        print(f"error: {manifest} not found", file=sys.stderr)
        return 2
    ids = {i.strip() for i in a.ids.split(",") if i.strip()} or None
    print(
        run_ocr_bench(
            files_dir,
            a.devset / "letters",
            manifest,
            repeat=a.repeat,
            workers=a.workers,
            ids=ids,
            settings=settings,
            details=a.details,
            with_raw=not a.no_raw,
            dump_dir=a.dump,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
