"""The evaluation harness: a run's records against a gold corpus in the dev-set format.

Rows are mapped to gold letters by the stem of ``source_file`` (page suffixes of
grouped page images removed). Every later issue reports its numbers with this.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.metrics import cer
from pipeline.stages.ingest import _page_key

FIELDS = ("letter_date", "outgoing_number", "sender_org", "sender_city", "signatory_name", "signatory_position", "language")
OPTIONAL_FIELDS = ("addressee", "subject", "executor")
SCAN_KINDS = ("pdf_scan", "image_scan", "tiff", "phone_photo")


def _norm(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = " ".join(str(value).split())
    return text or None


def gold_key(source_file: str) -> str:
    path = Path(source_file)
    key = _page_key(path)
    return key[0] if key and key[2] else path.stem


def load_gold(gold_dir: Path) -> dict[str, dict[str, Any]]:
    gold = {}
    with open(gold_dir / "gold.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                gold[row["letter_id"]] = row
    return gold


def load_kinds(gold_dir: Path) -> dict[str, str]:
    manifest = gold_dir / "files" / "manifest.csv"
    if not manifest.exists():
        manifest = gold_dir / "manifest.csv"
    if not manifest.exists():
        return {}
    with open(manifest, encoding="utf-8") as fh:
        return {r["letter_id"]: r["kind"] for r in csv.DictReader(fh)}


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "tp": tp, "fp": fp, "fn": fn}


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    scores = []
    for lab in labels:
        tp = sum(1 for g, p in pairs if g == lab and p == lab)
        fp = sum(1 for g, p in pairs if g != lab and p == lab)
        fn = sum(1 for g, p in pairs if g == lab and p != lab)
        scores.append(_prf(tp, fp, fn)["f1"])
    return round(sum(scores) / len(scores), 3) if scores else 0.0


def evaluate_run(gold_dir: Path, out_dir: Path, models_dir: Path | None = None,
                 verdict_baselines: bool = True) -> dict[str, Any]:
    gold_dir, out_dir = Path(gold_dir), Path(out_dir)
    gold = load_gold(gold_dir)
    kinds = load_kinds(gold_dir)
    letters = pd.read_parquet(out_dir / "letters.parquet")
    updates = pd.read_parquet(out_dir / "updates.parquet")
    by_gold: dict[str, dict[str, Any]] = {}
    for row in letters.to_dict("records"):
        by_gold.setdefault(gold_key(str(row["source_file"])), row)
    ours_for = {gid: row["letter_id"] for gid, row in by_gold.items()}
    result: dict[str, Any] = {"letters_gold": len(gold), "letters_found": sum(1 for g in gold if g in by_gold)}
    result["status"] = dict(Counter(by_gold[g]["status"] for g in gold if g in by_gold))

    # --- fields ---
    field_hits: dict[str, list[bool]] = defaultdict(list)
    baseline_hits: list[bool] = []
    try:
        from pipeline.stages.fields import baseline_letter_date
    except ImportError:  # the fields stage is optional for the harness
        baseline_letter_date = None
    # the requisites added later (addressee, subject, executor) are scored when the gold labels them
    optional = [f for f in OPTIONAL_FIELDS if any(f in g for g in gold.values())]
    for gid, g in gold.items():
        row = by_gold.get(gid, {})
        for f in optional:
            if f in g:
                field_hits[f].append(_norm(row.get(f)) == _norm(g.get(f)))
        for f in FIELDS:
            field_hits[f].append(_norm(row.get(f)) == _norm(g.get(f)))
        ref = g.get("request_ref") or {}
        field_hits["request_ref"].append(
            _norm(row.get("request_date")) == _norm(ref.get("date")) and _norm(row.get("request_number")) == _norm(ref.get("number"))
        )
        text_path = out_dir / "text" / f"{row.get('letter_id')}.txt"
        if baseline_letter_date and text_path.exists():
            baseline_hits.append(baseline_letter_date(text_path.read_text(encoding="utf-8")) == g.get("letter_date"))
        elif baseline_letter_date:
            baseline_hits.append(False)
    result["fields"] = {f: round(sum(v) / len(v), 3) for f, v in field_hits.items() if v}
    if baseline_hits:
        result["baseline_letter_date"] = round(sum(baseline_hits) / len(baseline_hits), 3)

    # --- matching and verdicts ---
    ours_pairs: dict[tuple[str, str], str | None] = {}
    id_to_gold = {v: k for k, v in ours_for.items()}
    for u in updates.to_dict("records"):
        gid = id_to_gold.get(u["letter_id"])
        if gid in gold:
            ours_pairs[(gid, u["promise_id"])] = u["verdict"]
    gold_pairs = {(gid, p["promise_id"]): p["verdict"] for gid, g in gold.items() for p in g.get("promises", [])}

    def pair_scores(ids: set[str]) -> dict[str, float]:
        o = {k for k in ours_pairs if k[0] in ids}
        gp = {k for k in gold_pairs if k[0] in ids}
        return _prf(len(o & gp), len(o - gp), len(gp - o))

    def source_group(gid: str) -> str:
        return "text_layer" if kinds.get(gid) == "pdf_text" else "scans"

    all_ids = set(gold)
    result["match"] = {"all": pair_scores(all_ids)}
    for group in ("text_layer", "scans"):
        ids = {g for g in gold if source_group(g) == group}
        if ids:
            result["match"][group] = pair_scores(ids)
    empty = [g for g, v in gold.items() if not v.get("promises")]
    if empty:
        unmatched = [g for g in empty if not any(k[0] == g for k in ours_pairs)]
        result["no_promise_unmatched"] = round(len(unmatched) / len(empty), 3)
    result["passages"] = passage_figures(gold, updates, id_to_gold)
    both = [(gold_pairs[k], ours_pairs[k]) for k in gold_pairs if k in ours_pairs and ours_pairs[k]]
    result["verdict_on_matched"] = {
        "pairs": len(both),
        "macro_f1": macro_f1(both),
        "accuracy": round(sum(g == p for g, p in both) / len(both), 3) if both else 0.0,
    }

    # Verdict given the gold match, ours beside the keyword-rule and Paperless-style baselines.
    if verdict_baselines and any(g.get("promises") for g in gold.values()) and (gold_dir / "letters").is_dir():
        from pipeline.training.baselines import compare_on_gold

        result["verdict_given_gold"] = compare_on_gold(gold_dir, models_dir)

    # --- promise pages (status over time, drafted text) ---
    if (out_dir / "promises.parquet").exists():
        from pipeline.evaluate_promises import evaluate_promise_pages

        result["promise_pages"] = evaluate_promise_pages(gold, out_dir, by_gold, _promise_langs(gold_dir))

    # --- OCR ---
    cer_by_kind: dict[str, list[float]] = defaultdict(list)
    for gid in gold:
        ref_path = gold_dir / "letters" / f"{gid}.txt"
        row = by_gold.get(gid)
        if row is None or not ref_path.exists():
            continue
        hyp_path = out_dir / "text" / f"{row['letter_id']}.txt"
        hyp = hyp_path.read_text(encoding="utf-8") if hyp_path.exists() else ""
        kind = kinds.get(gid) or str(row.get("text_source"))
        cer_by_kind[kind].append(cer(ref_path.read_text(encoding="utf-8"), hyp))
    result["cer"] = {
        k: {"mean": round(sum(v) / len(v), 4), "max": round(max(v), 4), "letters": len(v)}
        for k, v in sorted(cer_by_kind.items())
    }
    return result


EVIDENCE_FUZZ = 90  # partial-ratio %: the gold sentence found in OCR'd text, a few characters misread


def _folded(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").replace("ʼ", "'").split())


def _contains(haystack: str, needle: str) -> bool:
    from rapidfuzz import fuzz

    h, n = _folded(haystack), _folded(needle)
    return bool(n) and (n in h or fuzz.partial_ratio(n, h) >= EVIDENCE_FUZZ)


def passage_figures(gold: dict[str, dict[str, Any]], updates: pd.DataFrame, id_to_gold: dict[str, str]) -> dict[str, Any]:
    """How the letters were cut and shared out among promises, on the gold pairs we matched.

    - evidence_in_passage: the gold evidence lies inside the passage given to its promise;
    - evidence_chosen: our evidence sentence is the gold one (either holds the other);
    - shared_evidence: pairs whose evidence sentence is also another promise's in the same letter;
    - top1_passage: of our matched passages, those whose best promise is one the letter answers;
    - top1_letter: of the letters that answer a promise, those whose best match is one of them.
    """
    gold_sets = {gid: {p["promise_id"] for p in g.get("promises", [])} for gid, g in gold.items()}
    evidence = {(gid, p["promise_id"]): p.get("evidence") or "" for gid, g in gold.items() for p in g.get("promises", [])}
    in_passage: list[bool] = []
    chosen: list[bool] = []
    shared = 0
    best_in_passage: dict[tuple[str, object], tuple[float, str]] = {}
    best_in_letter: dict[str, tuple[float, str]] = {}
    spans: dict[str, list[tuple[object, object]]] = defaultdict(list)
    rows = [u for u in updates.to_dict("records") if id_to_gold.get(u["letter_id"]) in gold]
    for u in rows:
        if u.get("evidence_start") is not None and not pd.isna(u.get("evidence_start")):
            spans[u["letter_id"]].append((u["evidence_start"], u["evidence_end"]))
    for u in rows:
        gid = id_to_gold[u["letter_id"]]
        score = float(u["match_score"]) if u.get("match_score") is not None and not pd.isna(u["match_score"]) else 0.0
        key = (gid, u.get("passage_index"))
        if key not in best_in_passage or score > best_in_passage[key][0]:
            best_in_passage[key] = (score, u["promise_id"])
        if gid not in best_in_letter or score > best_in_letter[gid][0]:
            best_in_letter[gid] = (score, u["promise_id"])
        ev = evidence.get((gid, u["promise_id"]))
        if ev is None:
            continue
        in_passage.append(_contains(str(u.get("passage") or ""), ev))
        ours = str(u.get("evidence") or "")
        chosen.append(bool(ours) and (_contains(ours, ev) or _contains(ev, ours)))
        own = (u.get("evidence_start"), u.get("evidence_end"))
        if own[0] is not None and not pd.isna(own[0]) and spans[u["letter_id"]].count(own) > 1:
            shared += 1

    def share(v: list[bool]) -> float | None:
        return round(sum(v) / len(v), 3) if v else None

    with_promises = [gid for gid, ids in gold_sets.items() if ids]
    return {
        "pairs": len(in_passage),
        "evidence_in_passage": share(in_passage),
        "evidence_chosen": share(chosen),
        "shared_evidence": shared,
        "passages": len(best_in_passage),
        "top1_passage": share([pid in gold_sets[gid] for (gid, _), (_, pid) in best_in_passage.items()]),
        "letters": len(with_promises),
        "top1_letter": share([gid in best_in_letter and best_in_letter[gid][1] in gold_sets[gid] for gid in with_promises]),
    }


def _promise_langs(gold_dir: Path) -> dict[str, str]:
    path = gold_dir / "promises.csv"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        return {r["promise_id"]: r.get("lang") or "uk" for r in csv.DictReader(fh)}


def format_evaluation(r: dict[str, Any]) -> str:
    lines = [f"letters: {r['letters_found']}/{r['letters_gold']} found; status {r.get('status')}", "", "fields (accuracy):"]
    for f, v in r.get("fields", {}).items():
        extra = f"   baseline (dateparser first date): {r['baseline_letter_date']:.3f}" if f == "letter_date" and "baseline_letter_date" in r else ""
        lines.append(f"  {f:<20} {v:.3f}{extra}")
    lines += ["", "matching (pairs):"]
    for group, s in r.get("match", {}).items():
        lines.append(f"  {group:<11} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}  (tp {s['tp']}, fp {s['fp']}, fn {s['fn']})")
    if "no_promise_unmatched" in r:
        lines.append(f"  no-promise letters left unmatched: {r['no_promise_unmatched']:.3f}")
    if r.get("passages"):
        ps = r["passages"]

        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        lines += [
            f"  top-1 per passage: {pct(ps['top1_passage'])} ({ps['passages']} matched passages);"
            f" top-1 per letter: {pct(ps['top1_letter'])} ({ps['letters']} letters answering a promise)",
            f"  gold evidence inside its promise's passage: {pct(ps['evidence_in_passage'])};"
            f" our evidence is the gold one: {pct(ps['evidence_chosen'])} ({ps['pairs']} matched pairs);"
            f" evidence shared by two promises: {ps['shared_evidence']}",
        ]
    v = r.get("verdict_on_matched", {})
    lines += ["", f"verdicts on correctly matched pairs: macro-F1 {v.get('macro_f1', 0):.3f}, accuracy {v.get('accuracy', 0):.3f} ({v.get('pairs', 0)} pairs)"]
    if "verdict_given_gold" in r:
        lines += ["", r["verdict_given_gold"]]
    if "promise_pages" in r:
        from pipeline.evaluate_promises import format_promise_pages

        lines += ["", format_promise_pages(r["promise_pages"])]
    lines += ["", "OCR character error rate by file kind:"]
    for k, c in r.get("cer", {}).items():
        lines.append(f"  {k:<12} mean {c['mean']:.4f}  max {c['max']:.4f}  ({c['letters']} letters)")
    return "\n".join(lines)
