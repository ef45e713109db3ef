"""Start-up stays cheap: what `letters --help` and a batch import, and what a pool loads once.

Checked through ``sys.modules`` and load counts in fresh interpreters, not by timing
(the figures themselves are in ``letters bench startup``).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.samplegen import load_sample_data, write_sample_registry, write_text_pdf

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sklearn", "skops", "scipy", "spacy", "pandas", "sqlalchemy", "pyarrow", "pymorphy3", "numpy")


def _python(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli_printing_modules(prelude: str = "") -> str:
    """Code that runs `letters ARGS` (after ``prelude``) and prints the modules it imported, as JSON."""
    return (
        "import sys, json, contextlib, io\n" + prelude +
        "from pipeline.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(sys.argv[1:])\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "print(json.dumps(sorted(m for m in sys.modules if sys.modules[m] is not None)))\n"
    )


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three born-digital letters of the invented samples and their registry."""
    folder = tmp_path_factory.mktemp("startup")
    data = load_sample_data()
    (folder / "in").mkdir()
    for item in data["letters"][:3]:
        write_text_pdf(item["pages"], folder / "in" / f"{item['letter_id']}.pdf")
    registry = write_sample_registry(folder / "promises.csv", data["promises"])
    return folder / "in", registry


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys, json, contextlib, io\n"
        "from pipeline.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = set(_python(code))
    assert "pipeline.cli" in loaded and "click" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in {h.split(".")[0] for h in HEAVY})
    assert heavy == []


def test_a_batch_never_imports_scikit_learn_or_scipy(inbox: tuple[Path, Path], tmp_path: Path) -> None:
    """The verdict model runs from its arrays and matching from numpy alone: `letters run` works
    with scikit-learn, skops and all of scipy made unimportable (in the parent and so in its
    forked worker), and every letter still gets its verdicts."""
    folder, registry = inbox
    out = tmp_path / "out"
    code = _cli_printing_modules(
        "for name in ('sklearn', 'skops', 'skops.io', 'scipy'):\n"
        "    sys.modules[name] = None  # any import of these now raises ImportError\n"
    )
    loaded = set(_python(code, "run", str(folder), "--promises", str(registry), "--out", str(out), "--workers", "1"))
    assert "sqlalchemy" in loaded and "pandas" not in loaded  # it wrote the database, and the CSVs without pandas
    with (out / "letters.csv").open(encoding="utf-8") as f:
        letters = list(csv.DictReader(f))
    assert len(letters) == 3 and not [r for r in letters if r["status"] == "failed"]
    with (out / "updates.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["verdict"] in ("fulfilled", "in_progress", "not_fulfilled") for r in rows)


def test_each_worker_loads_the_model_once_and_the_runner_never(inbox: tuple[Path, Path], tmp_path: Path) -> None:
    """Two workers are forked before the runner opens its database, and each builds its own
    Processor once, beside the runner's start-up: the model is loaded once per worker (not per
    letter) and never by the runner, which does not even import the verdict stage."""
    folder, registry = inbox
    log = tmp_path / "loads.txt"
    code = (
        "import os, sys, json\n"
        "from pathlib import Path\n"
        "from pipeline.stages import verdict\n"
        "log = Path(sys.argv[1])\n"
        "def logged(name, f):\n"
        "    def g(*a, **k):\n"
        "        with log.open('a') as fh:\n"
        "            fh.write(f'{name} {os.getpid()}\\n')\n"
        "        return f(*a, **k)\n"
        "    return g\n"
        "verdict.VerdictModel.load_dir = classmethod(logged('model', verdict.VerdictModel.load_dir.__func__))\n"
        "from pipeline.api import run_batch\n"
        "from pipeline.settings import from_env\n"
        "r = run_batch(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), None, from_env(), 2, False)\n"
        "print(json.dumps({'pid': os.getpid(), 'letters': r.letters, 'counts': r.counts}))\n"
    )
    res = _python(code, str(log), str(folder), str(registry), str(tmp_path / "out"))
    assert res["letters"] == 3 and not res["counts"].get("failed")
    pids = [int(pid) for name, pid in (line.split() for line in log.read_text().splitlines()) if name == "model"]
    assert len(pids) == 2 and len(set(pids)) == 2  # once in each of the two workers
    assert res["pid"] not in pids


def _stored_terms(db: Path) -> dict[str, object]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {pid: json.loads(t) if t else None for pid, t in conn.execute("SELECT promise_id, terms FROM promises")}


def test_the_promises_terms_are_read_by_a_worker_not_by_the_runner(
        inbox: tuple[Path, Path], tmp_path: Path) -> None:
    """The registry's terms (deadline, quantity, scope) are read by a worker after its letters and
    stored by the runner, which never imports the terms reader; a promise changed later, on a run
    with no letter to do (no worker started), is read again by the runner itself."""
    from pipeline.stages.promise_terms import read_terms
    from pipeline.stages.registry import load_registry

    folder, registry = inbox
    out = tmp_path / "out"
    code = _cli_printing_modules()
    args = ("run", str(folder), "--promises", str(registry), "--out", str(out), "--workers", "1")
    loaded = set(_python(code, *args))
    assert "pipeline.stages.promise_terms" not in loaded and "pipeline.stages.quantities" not in loaded
    promises = load_registry(registry)
    assert _stored_terms(out / "letters.db") == {p.promise_id: read_terms(p).to_json() for p in promises}

    changed = tmp_path / "promises.csv"
    with registry.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows[0]["title"] += " до кінця 2017 року"
    with changed.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    _python(code, "run", str(folder), "--promises", str(changed), "--out", str(out), "--workers", "1")
    again = {p.promise_id: read_terms(p).to_json() for p in load_registry(changed)}
    assert _stored_terms(out / "letters.db") == again


def test_the_runner_drafts_no_promise_page_text_its_workers_drafted(inbox: tuple[Path, Path], tmp_path: Path) -> None:
    """Each worker drafts its letters' promise-page texts beside reading them, where the
    dictionaries are loaded; the runner's export takes them from the store and never loads
    pymorphy. What it writes is what drafting anew gives; a field changed since is drafted
    again, and the text drafted from the old value is let go."""
    import sqlite3

    from pipeline.lang.draft import Drafts
    from pipeline.store import promises as promise_store
    from pipeline.store.db import Database

    folder, registry = inbox
    out = tmp_path / "out"
    loaded = set(_python(_cli_printing_modules(), "run", str(folder), "--promises", str(registry), "--out", str(out),
                         "--workers", "1"))
    assert "pymorphy3" not in loaded
    db = Database(out / "letters.db")
    try:
        with db.session() as s:
            kept = promise_store.kept_drafts(s)
            pages = promise_store.promise_pages(s, drafts=kept)
            fresh = promise_store.promise_pages(s, drafts=Drafts())
            answered = next(p for p in pages if p.answers)
            (alone,) = promise_store.promise_pages(s, [answered.promise.promise_id])  # its texts looked up one by one
        assert alone.record() == answered.record()
        assert kept.known and not kept.made and kept.used == set(kept.known)  # every one found, none unused
        assert [p.record() for p in pages] == [p.record() for p in fresh]
        assert any(p.answers for p in pages)
        with sqlite3.connect(out / "letters.db") as conn:
            conn.execute("UPDATE fields SET value = 'Т. Ковальчук' WHERE name = 'signatory_name'")
        _python(_cli_printing_modules(), "run", str(folder), "--promises", str(registry), "--out", str(out),
                "--workers", "1")
        with db.session() as s:
            again = promise_store.kept_drafts(s)
            pages = promise_store.promise_pages(s, drafts=again)
        assert any("Ковальчук" in p.sources_draft for p in pages)
        assert not again.made and again.used == set(again.known)  # the old texts are gone, the new kept
    finally:
        db.close()


def test_the_runner_imports_pyarrow_only_to_write_the_records(inbox: tuple[Path, Path], tmp_path: Path) -> None:
    """pyarrow (~45 MB) and numpy are not carried by the runner beside its workers while letters
    are done (a result unpickles without numpy): pyarrow is imported when the records are
    written, after the workers have stopped."""
    folder, registry = inbox
    code = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from pipeline.api import run_batch\n"
        "from pipeline.settings import from_env\n"
        "seen = []\n"
        "r = run_batch(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), None, from_env(), 1, False,\n"
        "              on_result=lambda result: seen.append(bool({'pyarrow', 'numpy'} & set(sys.modules))))\n"
        "print(json.dumps({'seen': seen, 'after': 'pyarrow' in sys.modules, 'records': r.records}))\n"
    )
    res = _python(code, str(folder), str(registry), str(tmp_path / "out"))
    assert res["seen"] == [False, False, False]
    assert res["after"] and any(p.endswith("letters.parquet") for p in res["records"])


def test_the_workers_have_stopped_before_the_records_are_written(inbox: tuple[Path, Path], tmp_path: Path) -> None:
    """An idle worker still holds its model, index and Tesseract (~200 MB): left running while the
    runner imports pyarrow and writes the records, the two peaked together at the run's end."""
    folder, registry = inbox
    code = (
        "import sys, json, multiprocessing\n"
        "from pathlib import Path\n"
        "import pipeline.api as api\n"
        "from pipeline.settings import from_env\n"
        "alive = []\n"
        "export = api.export_from\n"
        "def spy(*a, **k):\n"
        "    alive.append(len(multiprocessing.active_children()))\n"
        "    return export(*a, **k)\n"
        "api.export_from = spy\n"
        "during = []\n"
        "r = api.run_batch(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), None, from_env(), 2, False,\n"
        "                  on_result=lambda result: during.append(len(multiprocessing.active_children())))\n"
        "print(json.dumps({'alive': alive, 'during': during, 'records': r.records}))\n"
    )
    res = _python(code, str(folder), str(registry), str(tmp_path / "out"))
    assert res["during"] and max(res["during"]) >= 1  # the spy sees workers where there are some
    assert res["alive"] == [0]
    assert any(p.endswith("letters.parquet") for p in res["records"])
