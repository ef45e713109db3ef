"""Evaluating promise pages against a gold corpus (used by :mod:`pipeline.evaluate`).

- status per promise vs gold, where the gold status is the verdict of the latest gold letter
  answering the promise by ``as_of`` (``no_answer`` without one); the status follows the verdicts,
  so this measures the verdict model as much as the page;
- drafts: every promise with letters has one paragraph and one sources line per letter;
- each paragraph, read back, cites its letter's date and sender (compared with the letter's fields
  in our records, and with the gold fields where the letter is in the gold);
- sources lines whose genitive forms are all correct, checked by a second method (lexeme round trip,
  surname endings table), against our fields and against the gold fields.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.lang.draft import check_result_paragraph, check_sources_line, parse_result_paragraph


def _clean(v: object) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    text = str(v).strip()
    return text or None


def gold_statuses(gold: dict[str, dict[str, Any]], promise_ids: list[str]) -> dict[str, str]:
    latest: dict[str, tuple[tuple[str, str, str], str]] = {}
    for gid, g in gold.items():
        for p in g.get("promises", []):
            key = (p.get("as_of") or g.get("letter_date") or "", g.get("letter_date") or "", gid)
            pid = p["promise_id"]
            if pid not in latest or key > latest[pid][0]:
                latest[pid] = (key, p["verdict"])
    return {pid: latest[pid][1] if pid in latest else "no_answer" for pid in promise_ids}


def evaluate_promise_pages(gold: dict[str, dict[str, Any]], out_dir: Path, by_gold: dict[str, dict[str, Any]],
                           promise_langs: dict[str, str]) -> dict[str, Any]:
    pages = pd.read_parquet(Path(out_dir) / "promises.parquet").to_dict("records")
    updates = pd.read_parquet(Path(out_dir) / "updates.parquet").to_dict("records")
    letters = {str(r["letter_id"]): r for r in pd.read_parquet(Path(out_dir) / "letters.parquet").to_dict("records")}
    gold_of = {str(row["letter_id"]): gid for gid, row in by_gold.items()}
    answering: dict[str, list[str]] = {}
    for u in updates:
        answering.setdefault(str(u["promise_id"]), []).append(str(u["letter_id"]))

    ids = sorted(promise_langs) if promise_langs else sorted(str(p["promise_id"]) for p in pages)
    ours = {str(p["promise_id"]): p for p in pages}
    gstatus = gold_statuses(gold, ids)
    pairs = [(gstatus[pid], str(ours[pid]["status"]) if pid in ours else "missing") for pid in ids]
    answered = [(g, o) for g, o in pairs if g != "no_answer"]
    confusion = Counter(f"{g}->{o}" for g, o in pairs if g != o)

    with_letters = [p for p in pages if int(p.get("letters") or 0) > 0]
    complete = 0
    paragraphs = cited_ok = cited_gold_ok = cited_gold_total = 0
    lines = lines_ok = lines_gold_ok = lines_gold_total = 0
    problems: list[str] = []
    for p in with_letters:
        pid = str(p["promise_id"])
        result = _clean(p.get("result_draft")) or ""
        sources = _clean(p.get("sources_draft")) or ""
        paras = [x for x in result.split("\n\n") if x.strip()]
        src_lines = [x for x in sources.split("\n") if x.strip()]
        n = int(p["letters"])
        if len(paras) == n and len(src_lines) == n:
            complete += 1
        else:
            problems.append(f"{pid}: {len(paras)} paragraphs, {len(src_lines)} sources lines for {n} letters")
        free = list(dict.fromkeys(answering.get(pid, [])))
        for i, para in enumerate(paras):
            paragraphs += 1
            cited = parse_result_paragraph(para)
            match = None
            for lid in free:
                row = letters.get(lid, {})
                check = check_result_paragraph(para, _clean(row.get("sender_org")), _clean(row.get("letter_date")),
                                               _clean(row.get("language")))
                if check["date"] and check["sender"]:
                    match = lid
                    break
            if match is None:
                problems.append(f"{pid}: paragraph {i + 1} cites no answering letter correctly ({cited.date if cited else 'unparsed'})")
                continue
            free.remove(match)
            cited_ok += 1
            row = letters[match]
            gid = gold_of.get(match)
            if gid in gold:
                g = gold[gid]
                cited_gold_total += 1
                check = check_result_paragraph(para, g.get("sender_org"), g.get("letter_date"), g.get("language"))
                cited_gold_ok += check["date"] and check["sender"]
            if i < len(src_lines):
                line = src_lines[i]
                lines += 1
                ok = check_sources_line(line, _clean(row.get("signatory_position")), _clean(row.get("sender_org")),
                                        _clean(row.get("signatory_name")), _clean(row.get("language")))
                lines_ok += ok
                if not ok:
                    problems.append(f"{pid}: sources line {i + 1} has a wrong form: {line}")
                if gid in gold:
                    g = gold[gid]
                    lines_gold_total += 1
                    lines_gold_ok += check_sources_line(line, g.get("signatory_position"), g.get("sender_org"),
                                                        g.get("signatory_name"), g.get("language"))

    def share(a: int, b: int) -> float:
        return round(a / b, 3) if b else 0.0

    return {
        "promises": len(ids),
        "status_accuracy": share(sum(g == o for g, o in pairs), len(pairs)),
        "status_accuracy_answered": share(sum(g == o for g, o in answered), len(answered)),
        "answered": len(answered),
        "status_confusions": dict(confusion.most_common()),
        "with_letters": len(with_letters),
        "with_complete_draft": complete,
        "paragraphs": paragraphs,
        "paragraphs_citing_correctly": share(cited_ok, paragraphs),
        "paragraphs_citing_gold_correctly": share(cited_gold_ok, cited_gold_total),
        "sources_lines": lines,
        "sources_genitive_correct": share(lines_ok, lines),
        "sources_genitive_correct_vs_gold_fields": share(lines_gold_ok, lines_gold_total),
        "problems": problems[:40],
    }


def format_promise_pages(r: dict[str, Any]) -> str:
    out = [
        "promise pages:",
        f"  status per promise vs gold (latest letter by as_of): accuracy {r['status_accuracy']:.3f} over {r['promises']} promises"
        f"; {r['status_accuracy_answered']:.3f} over the {r['answered']} the gold answers (follows the verdict model)",
    ]
    if r["status_confusions"]:
        out.append("  status errors (gold->ours): " + ", ".join(f"{k} {v}" for k, v in r["status_confusions"].items()))
    out += [
        f"  promises with letters: {r['with_letters']}, with a complete draft (a paragraph and a sources line per letter): {r['with_complete_draft']}",
        f"  result paragraphs citing their letter's date and sender: {r['paragraphs_citing_correctly']:.3f} of {r['paragraphs']}"
        f" (vs gold fields: {r['paragraphs_citing_gold_correctly']:.3f})",
        f"  sources lines with all genitive forms correct: {r['sources_genitive_correct']:.3f} of {r['sources_lines']}"
        f" (vs gold fields: {r['sources_genitive_correct_vs_gold_fields']:.3f})",
    ]
    out += [f"    {p}" for p in r.get("problems", [])[:15]]
    return "\n".join(out)
