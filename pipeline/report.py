"""`letters report`: a static HTML page about a batch, for people who do not run the app.

One self-contained file (``DIR/index.html``): counts of promises by status, by city and by
politician; a bar chart of verdicts over time (letters by quarter of their date, stacked by
verdict) and a bar chart of promise statuses, both inline SVG drawn by matplotlib; and the table of
promises whose status changed in the latest run, each linking to its promise page in the review
app when ``app_url`` is given. No scripts, no external files: it opens from disk.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pipeline.stages.dates import iso_date
from pipeline.stages.promise_page import STATUSES, PromisePage
from pipeline.stages.records import atomic_write_text
from pipeline.store import promises as promise_store
from pipeline.store.db import Database

VERDICTS = ("fulfilled", "in_progress", "not_fulfilled")
COLOURS = {"fulfilled": "#2e7d32", "in_progress": "#f9a825", "not_fulfilled": "#c62828", "undecided": "#78909c",
           "no_answer": "#b0bec5"}


@dataclass(frozen=True)
class ReportData:
    pages: list[PromisePage]
    run_id: str | None
    changes: list[tuple[str, str, str]]  # promise_id, before, after


def quarter(iso: str | None) -> str | None:
    d = iso_date(iso)
    if d is None:
        return None
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def quarters_between(first: str, last: str) -> list[str]:
    y, q = int(first[:4]), int(first[-1])
    out = []
    while (y, q) <= (int(last[:4]), int(last[-1])):
        out.append(f"{y}-Q{q}")
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return out


def verdicts_by_quarter(pages: list[PromisePage]) -> tuple[list[str], dict[str, list[int]]]:
    """Quarters from the first to the last letter date (empty quarters included) and, per
    verdict, how many (letter, promise) answers of that quarter carry it."""
    counts: Counter[tuple[str, str]] = Counter()
    for page in pages:
        for a in page.answers:
            q = quarter(a.letter_date)
            if q and a.verdict in VERDICTS:
                counts[(q, a.verdict)] += 1
    if not counts:
        return [], {v: [] for v in VERDICTS}
    qs = quarters_between(min(q for q, _ in counts), max(q for q, _ in counts))
    return qs, {v: [counts[(q, v)] for q in qs] for v in VERDICTS}


def _svg(fig: object) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")  # type: ignore[attr-defined]
    text = buf.getvalue()
    return text[text.index("<svg"):]


def quarter_chart(pages: list[PromisePage]) -> tuple[str, int]:
    """(inline SVG, number of bars drawn): one stacked bar segment per (quarter, verdict) with answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, and light
    qs, series = verdicts_by_quarter(pages)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(qs) + 2), 3.2), dpi=100)
    bars = 0
    bottom = [0] * len(qs)
    for v in VERDICTS:
        heights = series[v]
        xs = [i for i, h in enumerate(heights) if h]
        if xs:
            container = ax.bar(xs, [heights[i] for i in xs], bottom=[bottom[i] for i in xs], color=COLOURS[v],
                               label=v.replace("_", " "), width=0.8)
            for patch, i in zip(container.patches, xs, strict=True):
                patch.set_gid(f"bar-{v}-{qs[i]}")
            bars += len(xs)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(range(len(qs)))
    ax.set_xticklabels(qs, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("answers")
    ax.set_title("Verdicts by quarter of the letter date")
    if bars:
        ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    svg = _svg(fig)
    plt.close(fig)
    return svg, bars


def status_chart(pages: list[PromisePage]) -> tuple[str, int]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.fonttype"] = "none"
    counts = Counter(p.status for p in pages)
    labels = [s for s in STATUSES if counts.get(s)]
    fig, ax = plt.subplots(figsize=(6, 0.4 * max(len(labels), 1) + 1.2), dpi=100)
    container = ax.barh(range(len(labels)), [counts[s] for s in labels], color=[COLOURS[s] for s in labels])
    for patch, s in zip(container.patches, labels, strict=True):
        patch.set_gid(f"status-{s}")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([s.replace("_", " ") for s in labels])
    ax.invert_yaxis()
    ax.set_xlabel("promises")
    ax.set_title("Promise status")
    ax.spines[["top", "right"]].set_visible(False)
    svg = _svg(fig)
    plt.close(fig)
    return svg, len(labels)


def _count_table(title: str, key_name: str, rows: dict[str, Counter[str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(s.replace('_', ' '))}</th>" for s in STATUSES)
    body = []
    for key in sorted(rows, key=lambda k: (-sum(rows[k].values()), k)):
        c = rows[key]
        cells = "".join(f"<td class='num'>{c.get(s, 0)}</td>" for s in STATUSES)
        body.append(f"<tr><th scope='row'>{html.escape(key or '—')}</th>{cells}<td class='num'>{sum(c.values())}</td></tr>")
    return (f"<section><h2>{html.escape(title)}</h2><table id='{table_id}'><thead><tr><th>{html.escape(key_name)}</th>"
            f"{head}<th>all</th></tr></thead><tbody>{''.join(body)}</tbody></table></section>")


def _link(app_url: str | None, promise_id: str) -> str:
    label = html.escape(promise_id)
    if not app_url:
        return f"<span class='mono'>{label}</span>"
    href = app_url.rstrip("/") + "/promises/" + quote(promise_id, safe="")
    return f"<a class='mono' href='{html.escape(href, quote=True)}'>{label}</a>"


def render_report(data: ReportData, app_url: str | None = None, title: str = "letters: promise report") -> str:
    pages = data.pages
    by_status = Counter(p.status for p in pages)
    by_city: dict[str, Counter[str]] = {}
    by_politician: dict[str, Counter[str]] = {}
    for p in pages:
        by_city.setdefault(p.promise.city or "(national)", Counter())[p.status] += 1
        by_politician.setdefault(p.promise.politician, Counter())[p.status] += 1
    q_svg, q_bars = quarter_chart(pages)
    s_svg, s_bars = status_chart(pages)
    titles = {p.promise.promise_id: p.promise.title for p in pages}
    change_rows = "".join(
        f"<tr><td>{_link(app_url, pid)}</td><td>{html.escape(titles.get(pid, ''))}</td>"
        f"<td><span class='st st-{html.escape(b)}'>{html.escape(b.replace('_', ' '))}</span></td>"
        f"<td><span class='st st-{html.escape(a)}'>{html.escape(a.replace('_', ' '))}</span></td></tr>"
        for pid, b, a in data.changes
    ) or "<tr><td colspan='4' class='muted'>No promise changed status in the latest run.</td></tr>"
    summary = "".join(f"<li><span class='st st-{s}'>{s.replace('_', ' ')}</span> <b id='count-{s}'>{by_status.get(s, 0)}</b></li>"
                      for s in STATUSES)
    answers = sum(len(p.answers) for p in pages)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    run = f"latest run <span class='mono'>{html.escape(data.run_id)}</span>" if data.run_id else "no run recorded"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:15px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b}}
h1{{font-size:1.5rem}} h2{{font-size:1.15rem;margin-top:2rem}} .muted{{color:#666}} .mono{{font-family:ui-monospace,monospace}}
table{{border-collapse:collapse;width:100%}} th,td{{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}} ul.summary{{list-style:none;padding:0;display:flex;gap:1.2rem;flex-wrap:wrap}}
.st{{padding:.05rem .4rem;border-radius:.3rem;color:#fff;background:#78909c}} .st-fulfilled{{background:#2e7d32}}
.st-in_progress{{background:#f9a825;color:#000}} .st-not_fulfilled{{background:#c62828}} .st-no_answer{{background:#b0bec5;color:#000}}
figure{{margin:1rem 0}} figure svg{{max-width:100%;height:auto}} .grid{{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}}
@media (max-width:800px){{.grid{{grid-template-columns:1fr}}}}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="muted">{len(pages)} promises, {answers} answers from letters · {run} · generated {generated}</p>
<ul class="summary" id="summary">{summary}</ul>
<figure id="chart-quarters" data-bars="{q_bars}">{q_svg}<figcaption class="muted">Each bar segment: answers of that quarter (by letter date) with that verdict, reviewers' decisions applied.</figcaption></figure>
<figure id="chart-status" data-bars="{s_bars}">{s_svg}</figure>
<section><h2>Status changed in the latest run</h2>
<table id="changes"><thead><tr><th>promise</th><th>title</th><th>before</th><th>now</th></tr></thead><tbody>{change_rows}</tbody></table></section>
<div class="grid">
{_count_table("By city", "city", by_city, "by-city")}
{_count_table("By politician", "politician", by_politician, "by-politician")}
</div>
</body></html>
"""


def load_report_data(db_path: Path | str) -> ReportData:
    db = Database(db_path)
    try:
        with db.session() as s:
            pages = promise_store.promise_pages(s)
            run_id, changes = promise_store.status_changes(s)
        return ReportData(pages, run_id, changes)
    finally:
        db.close()


def write_report(db_path: Path | str, out_dir: Path, app_url: str | None = None) -> Path:
    """Write ``out_dir/index.html`` (atomically) and return its path."""
    html_text = render_report(load_report_data(db_path), app_url)
    path = Path(out_dir) / "index.html"
    atomic_write_text(path, html_text)
    path.chmod(0o644)  # a page for people to open and share, not a private temp file
    return path
