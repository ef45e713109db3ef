"""Per-field accuracy of the field extractor on the dev set.

    .venv/bin/python -m pipeline.bench.fields_eval /path/to/devset [--ocr-dir DIR] [--pipeline] [--verbose]

Runs :func:`extract_fields` on every typed letter (one text-layer page, no
words) and, with ``--ocr-dir``, on the raw OCR text of each letter
(``<letter_id>.txt``). Comparison is exact after whitespace normalisation; a
case-insensitive figure is printed beside it. The request reference counts as
right when both its date and number equal the gold (a null gold wants nothing
back). The dateparser baseline is printed beside ``letter_date``. With
``--pipeline`` the rendered files (``files/``) also go through the project's own
ingest and text stages (text layer or prepared OCR, with word boxes): slow, a
few seconds per scanned page.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from pipeline.schema import LetterText, PageText, TextSource
from pipeline.stages.fields import baseline_letter_date, extract_fields

FIELDS = (
    "letter_date",
    "outgoing_number",
    "request_ref",
    "sender_org",
    "sender_city",
    "signatory_name",
    "signatory_position",
    "language",
)


def _norm(v: object) -> object:
    return re.sub(r"\s+", " ", v).strip() if isinstance(v, str) else v


def predicted(text: LetterText) -> dict[str, object]:
    f = extract_fields(text)
    vals: dict[str, object] = dict(f.values())
    rd, rn = vals.pop("request_date"), vals.pop("request_number")
    vals["request_ref"] = None if rd is None else {"date": rd, "number": rn}
    vals["_reasons"] = f.review_reasons
    return vals


def score(rows: list[tuple[dict, dict, str | None]], verbose: bool, label: str) -> None:
    n = len(rows)
    print(f"\n== {label}: {n} letters")
    print(f"{'field':<20} {'exact':>7} {'ci':>7}")
    for name in FIELDS:
        exact = ci = 0
        for gold, pred, _ in rows:
            g, p = _norm(gold.get(name)), _norm(pred.get(name))
            exact += g == p
            ci += (g.lower() if isinstance(g, str) else g) == (p.lower() if isinstance(p, str) else p)
            if verbose and g != p:
                print(f"   {gold['letter_id']} {name}: gold={g!r} got={p!r}")
        print(f"{name:<20} {exact / n:7.3f} {ci / n:7.3f}")
    base = sum(gold["letter_date"] == b for gold, _, b in rows)
    print(f"{'baseline letter_date':<20} {base / n:7.3f}   (dateparser.search_dates, first date)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("--ocr-dir", type=Path)
    ap.add_argument("--pipeline", action="store_true", help="also run ingest + text (OCR) on files/")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    gold = [json.loads(line) for line in (args.devset / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]

    typed = []
    for g in gold:
        raw = (args.devset / "letters" / f"{g['letter_id']}.txt").read_text(encoding="utf-8")
        lt = LetterText(g["letter_id"], [PageText(1, raw, TextSource.TEXT_LAYER, 0.0, 0.0)])
        typed.append((g, predicted(lt), baseline_letter_date(raw)))
    score(typed, args.verbose, "typed text")

    if args.ocr_dir:
        ocr = []
        for g in gold:
            path = args.ocr_dir / f"{g['letter_id']}.txt"
            if not path.exists():
                continue
            raw = path.read_text(encoding="utf-8", errors="replace")
            pages = [p for p in raw.split("\f")] or [raw]
            lt = LetterText(g["letter_id"], [PageText(i + 1, p, TextSource.OCR, 0.0, 0.0) for i, p in enumerate(pages)])
            ocr.append((g, predicted(lt), baseline_letter_date(raw)))
        score(ocr, args.verbose, f"raw OCR ({args.ocr_dir})")

    if args.pipeline:
        score(_pipeline_rows(args.devset, gold), args.verbose, "project ingest + text stages on files/")


def _pipeline_rows(devset: Path, gold: list[dict]) -> list[tuple[dict, dict, str | None]]:
    from pipeline.settings import Settings
    from pipeline.stages.ingest import discover
    from pipeline.stages.text import extract_text

    by_id = {g["letter_id"]: g for g in gold}
    rows = []
    for letter in discover(devset / "files").letters:
        g = by_id.get(Path(letter.source_file).stem)
        if g is None:
            continue
        lt = extract_text(letter, Settings())
        rows.append((g, predicted(lt), baseline_letter_date(lt.full_text)))
    rows.sort(key=lambda r: r[0]["letter_id"])
    return rows


if __name__ == "__main__":
    main()
