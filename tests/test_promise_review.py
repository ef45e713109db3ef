"""The review app's promise pages over a real SQLite file (a generated batch), through FastAPI's
TestClient: the list and its status filter, the page, draft edits (saved, conflicting, undone), the
link from a letter's update, and the HTML report's content."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.cli import main as cli_main
from pipeline.review import auth
from pipeline.review.app import create_app
from pipeline.store.db import Database
from pipeline.store.tables import ReviewRow
from tests.promisegen import Batch, build_batch
from tests.test_review import SECRET, _cheap_argon2  # noqa: F401  (autouse fixture: fast password hashing)

PASSWORD = "olena-pass-1"


@pytest.fixture
def batch(tmp_path: Path) -> Batch:
    b = build_batch(tmp_path)
    db = Database(b.db_path)
    with db.session() as s:
        auth.add_user(s, "olena", "reviewer", PASSWORD)
        auth.add_user(s, "bob", "reviewer", PASSWORD)
    db.close()
    return b


def _login(c: TestClient, name: str = "olena") -> str:
    r = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token, "next": "/promises"})
    assert r.status_code == 303
    page = c.get("/promises")
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_promise_list_filters_by_status(batch: Batch) -> None:
    c = TestClient(create_app(batch.db_path, secret_key=SECRET), follow_redirects=False)
    assert c.get("/promises").status_code == 303  # login first
    _login(c)
    r = c.get("/promises")
    assert r.status_code == 200
    ids = re.findall(r'<tr data-promise-id="([^"]+)"', r.text)
    assert ids == sorted(batch.promise_ids)
    for status in set(batch.expected_status.values()):
        r = c.get(f"/promises?status={status}")
        shown = re.findall(r'<tr data-promise-id="([^"]+)"', r.text)
        assert shown == sorted(p for p, s in batch.expected_status.items() if s == status)
        assert f'id="pcount-{status}">{len(shown)}<' in r.text
    assert re.findall(r'<tr data-promise-id="([^"]+)"', c.get("/promises?city=Тихоград").text)
    assert c.get("/promises?status=bogus").status_code == 200  # an unknown status is ignored


def test_promise_page_shows_the_timeline_and_drafts(batch: Batch) -> None:
    c = TestClient(create_app(batch.db_path, secret_key=SECRET), follow_redirects=False)
    _login(c)
    pid = batch.promise_ids[0]
    r = c.get(f"/promises/{pid}")
    assert r.status_code == 200
    assert f'class="st st-{batch.expected_status[pid]}"' in r.text
    letters = re.findall(r'<li class="tl[^"]*" tabindex="-1" data-letter-id="([^"]+)"', r.text)
    assert letters and letters[-1] == batch.expected_last_letter[pid]
    assert all(f'href="/letters/{lid}"' in r.text for lid in letters)
    assert "Згідно з листом" in r.text or "Согласно письму" in r.text
    assert c.get("/promises/NOPE").status_code == 404
    # The letter screen links each update to its promise page.
    letter = c.get(f"/letters/{letters[-1]}")
    assert f'href="/promises/{pid}"' in letter.text


def test_draft_edit_conflict_and_undo(batch: Batch) -> None:
    app = create_app(batch.db_path, secret_key=SECRET)
    a, b = TestClient(app, follow_redirects=False), TestClient(app, follow_redirects=False)
    ta, tb = _login(a), _login(b, "bob")
    pid = batch.promise_ids[1]
    url = f"/api/promises/{pid}/drafts"
    r = a.post(url, json={"kind": "result_draft", "text": "Новий абзац.", "seen": None}, headers={"X-CSRF-Token": ta})
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["text"] == "Новий абзац." and state["by"] == "olena" and state["review_id"]
    assert state["machine"] != state["text"]
    # Bob opened the page before Olena saved: his save is refused, nothing is written.
    r = b.post(url, json={"kind": "result_draft", "text": "Текст Боба.", "seen": None}, headers={"X-CSRF-Token": tb})
    assert r.status_code == 409 and r.json()["conflict"]
    assert "Новий абзац." in a.get(f"/promises/{pid}").text
    # No CSRF token, bad kind: refused.
    assert a.post(url, json={"kind": "result_draft", "text": "x", "seen": None}).status_code == 403
    assert a.post(url, json={"kind": "verdict", "text": "x", "seen": None}, headers={"X-CSRF-Token": ta}).status_code == 400
    # Bob cannot undo Olena's edit; Olena can.
    undo = f"/api/promises/{pid}/drafts/undo"
    assert b.post(undo, json={"kind": "result_draft", "seen": state["review_id"]},
                  headers={"X-CSRF-Token": tb}).status_code == 400
    r = a.post(undo, json={"kind": "result_draft", "seen": state["review_id"]}, headers={"X-CSRF-Token": ta})
    assert r.status_code == 200 and r.json()["review_id"] is None and r.json()["text"] == state["machine"]
    db = Database(batch.db_path)
    with db.session() as s:
        rows = [(r.reviewer, r.kind, r.action) for r in s.scalars(select(ReviewRow).order_by(ReviewRow.id))]
    db.close()
    assert rows == [("olena", "result_draft", "correct"), ("olena", "result_draft", "undo")]


def test_report_command_writes_a_static_page(batch: Batch, tmp_path: Path) -> None:
    out = tmp_path / "report"
    r = CliRunner().invoke(cli_main, ["report", "--db", str(batch.db_path), "--out", str(out),
                                      "--app-url", "http://127.0.0.1:8000"])
    assert r.exit_code == 0, r.output
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html and 'src="http' not in html  # self-contained, no server needed
    assert html.count("<svg") == 2
    assert f'data-bars="{batch.bars}"' in html
    for status in set(batch.expected_status.values()):
        n = sum(1 for s in batch.expected_status.values() if s == status)
        assert f"id='count-{status}'>{n}<" in html
    answered = [p for p, s in batch.expected_status.items() if s != "no_answer"]
    assert all(f"href='http://127.0.0.1:8000/promises/{p}'" in html for p in answered)  # changed in the first run
    r = CliRunner().invoke(cli_main, ["report", "--db", str(tmp_path / "missing.db"), "--out", str(out)])
    assert r.exit_code == 2 and "database not found" in r.output
