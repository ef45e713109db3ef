"""The single-reviewer defects of issue 16, one test each, over a real SQLite file through HTTP.

Each test failed before its fix: field values saved unchecked (1), a save vouching for every
untouched field (2), letters with no promise that could never be closed (3), verdicts saved on a
rejected match (6), a repeated accept writing two rows (9), ``p`` not coming back (10), the export
without reviewer/time/machine confidence, without the decision rows and with ``needs_review``
after a full review (14), and a page image shown from a changed or relative file (15).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from pipeline.api import export_records
from pipeline.review.app import create_app
from pipeline.review.decisions import DecisionError, normalise_field
from pipeline.schema import FileKind, Letter, LetterResult, SourceFile, Status
from pipeline.store import repo
from pipeline.store.db import Database
from pipeline.store.tables import LetterRow, ReviewRow
from tests import test_review as _base
from tests.test_review import (
    LETTER_A,
    LETTER_B,
    SECRET,
    ReviewDb,
    client,
    decide,
    login,
    reviews,
    version_of,
)

# The fixtures of test_review (a private copy of its database, the app over it).
_cheap_argon2, _template_db, rdb, app = _base._cheap_argon2, _base._template_db, _base.rdb, _base.app
_pg_template_db = _base._pg_template_db  # the PostgreSQL case of rdb

LETTER_D = "3d4e5f6071829304"  # a letter that answers no promise


def _add_letter_without_promise(rdb: ReviewDb) -> None:
    db = Database(rdb.path)
    with db.session() as s:
        s.add(LetterRow(letter_id=LETTER_D, sha256="d" * 64, source_file="quiet/answer.txt", source_paths=[],
                        kind="txt", pages=1, language="uk", text_source="text_layer", status="needs_review",
                        error="no promise matched", text="Дякуємо за звернення.", version=1))
    db.close()


def _fields(c, token: str, lid: str, **values: str):  # noqa: ANN001, ANN202
    data = {"csrf_token": token, "version": str(version_of(c, lid))}
    data.update({k if k == "confirm" else f"field_{k}": v for k, v in values.items()})
    return c.post(f"/letters/{lid}/fields", data=data)


# --- 1. fields are checked and normalised ---------------------------------------------------------


def test_normalise_field_dates_numbers_and_language() -> None:
    assert normalise_field("letter_date", "15.03.2017") == "2017-03-15"
    assert normalise_field("letter_date", " 5.3.2017 ") == "2017-03-05"
    assert normalise_field("request_date", "2017-03-15") == "2017-03-15"
    assert normalise_field("request_number", " № 12 / 345 ") == "12/345"
    assert normalise_field("sender_city", "  Тихоград  ") == "Тихоград"
    assert normalise_field("language", "UK") == "uk"
    assert normalise_field("letter_date", "") is None
    for bad in ("31.02.2017", "15.13.2017", "вчора", "15.03.17", "01.01.1850"):
        with pytest.raises(DecisionError):
            normalise_field("letter_date", bad)
    with pytest.raises(DecisionError):
        normalise_field("language", "klingon")


def test_impossible_date_is_refused_and_a_good_one_stored_as_iso(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    r = _fields(c, t, LETTER_A, letter_date="31.02.2017", signatory_name="Петро Коваль")
    assert r.status_code == 400
    assert "31.02.2017" in r.text and "not a real date" in r.text
    assert 'value="31.02.2017"' in r.text  # what was typed is shown again
    assert [x for x in reviews(rdb) if x.kind == "field"] == []
    r = _fields(c, t, LETTER_A, letter_date="15.03.2017")
    assert r.status_code == 303
    export_records(rdb.path, rdb.tmp / "out")
    letters = pd.read_csv(rdb.tmp / "out" / "letters.csv", dtype=str).set_index("letter_id")
    assert letters.loc[LETTER_A, "letter_date"] == "2017-03-15"


# --- 2. one field at a time ----------------------------------------------------------------------


def test_save_writes_only_changed_fields_and_confirm_only_one(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    # Every field submitted as shown, one changed: only that one is written.
    shown = {"letter_date": "2024-03-05", "outgoing_number": "12/345", "request_date": "2024-02-10",
             "request_number": "77", "sender_city": "Зеленодольськ", "signatory_name": "Петро Коваль"}
    r = _fields(c, t, LETTER_A, **{**shown, "request_number": "78"})
    assert r.status_code == 303
    assert [(x.key, x.action, x.human_value) for x in reviews(rdb) if x.kind == "field"] == [
        ("request_number", "correct", "78")]
    # B's sender_org is garbled (it holds a script tag): saving B's city must not vouch for it.
    r = _fields(c, t, LETTER_B, sender_city="Тихоград", sender_org="рада <script>alert('pwned')</script>")
    assert r.status_code == 303
    assert [x.key for x in reviews(rdb) if x.letter_id == LETTER_B] == []
    # The row's own confirm button accepts that one field only.
    r = _fields(c, t, LETTER_B, sender_city="Тихоград", sender_org="рада", confirm="sender_city")
    assert r.status_code == 303
    assert [(x.key, x.action) for x in reviews(rdb) if x.letter_id == LETTER_B] == [("sender_city", "accept")]
    html = c.get(f"/letters/{LETTER_B}").text
    assert 'id="confirm-sender_org"' in html and 'id="confirm-sender_city"' not in html


# --- 3. a letter with no promise can be closed ---------------------------------------------------


def test_letter_without_promise_is_closed_and_leaves_awaiting(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    _add_letter_without_promise(rdb)
    c = client(app)
    t = login(c, "alice")
    assert re.search(r'id="count-awaiting">3<', c.get("/queue").text)
    assert 'id="close-letter"' in c.get(f"/letters/{LETTER_D}").text
    # A letter with promises to judge cannot be closed that way.
    r = decide(c, t, LETTER_A, version_of(c, LETTER_A), {"kind": "letter", "key": "status", "value": "no_promise"})
    assert r.status_code == 400
    r = decide(c, t, LETTER_D, version_of(c, LETTER_D), {"kind": "letter", "key": "status", "value": "no_promise"})
    assert r.status_code == 200 and r.json()["closed"] is True
    assert re.search(r'id="count-awaiting">2<', c.get("/queue").text)
    export_records(rdb.path, rdb.tmp / "out")
    letters = pd.read_csv(rdb.tmp / "out" / "letters.csv", dtype=str).set_index("letter_id")
    assert letters.loc[LETTER_D, "status"] == "reviewed"
    # Undo reopens it.
    r = c.post(f"/api/letters/{LETTER_D}/undo", json={"version": version_of(c, LETTER_D)}, headers={"X-CSRF-Token": t})
    assert r.status_code == 200 and r.json()["closed"] is False
    assert re.search(r'id="count-awaiting">3<', c.get("/queue").text)


# --- 6. a rejected match takes no verdict --------------------------------------------------------


def test_no_verdict_after_a_rejected_match(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    v = decide(c, t, LETTER_B, version_of(c, LETTER_B),
               {"kind": "match", "key": "P-PARK", "value": "rejected"}).json()["version"]
    r = decide(c, t, LETTER_B, v, {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    assert r.status_code == 400 and "rejected" in r.json()["error"]
    assert [x.kind for x in reviews(rdb)] == ["match"]
    html = c.get(f"/letters/{LETTER_B}").text
    card = html[html.index('id="card-0"'):html.index("</article>")]
    assert card.count("disabled") == 5  # 1, 2, 3, accept and reject


# --- 9. accept twice is one decision; one undo takes it back ----------------------------------------


def test_repeated_accept_writes_one_row_and_one_undo_clears_it(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    v = version_of(c, LETTER_B)
    r1 = decide(c, t, LETTER_B, v, {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    r2 = decide(c, t, LETTER_B, r1.json()["version"], {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    assert r1.status_code == r2.status_code == 200
    assert r2.json()["version"] == r1.json()["version"]  # nothing new: the version stays
    assert len(reviews(rdb)) == 1
    r = c.post(f"/api/letters/{LETTER_B}/undo", json={"version": r2.json()["version"]}, headers={"X-CSRF-Token": t})
    assert r.status_code == 200
    assert r.json()["promises"][0]["state"] == "suggested"


# --- 10. p comes back to the letter just reviewed ---------------------------------------------------


def test_p_returns_to_the_letter_just_reviewed(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    r = decide(c, t, LETTER_A, version_of(c, LETTER_A), {"kind": "verdict", "key": "P-BRIDGE", "value": "fulfilled"},
               {"kind": "verdict", "key": "P-SCHOOL", "value": "in_progress"})
    assert r.status_code == 200
    nxt = c.get(f"/letters/{LETTER_A}/next").headers["location"]
    assert nxt.startswith(f"/letters/{LETTER_B}")
    html = c.get(nxt).text
    assert f'data-prev="/letters/{LETTER_A}"' in html and f'id="prev" href="/letters/{LETTER_A}"' in html
    # A is reviewed (out of "awaiting"), so the queue's own previous of B is the queue itself.
    assert c.get(f"/letters/{LETTER_B}/prev").headers["location"] == "/queue"
    # A forged back= is not a path.
    assert 'data-prev="/letters/../x"' not in c.get(f"/letters/{LETTER_B}?back=../x").text


# --- 14. export: who, when, the machine's own verdict, every decision, status reviewed ------------------


def test_export_has_reviewer_time_machine_values_decisions_and_reviewed_status(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    v = decide(c, t, LETTER_A, version_of(c, LETTER_A), {"kind": "verdict", "key": "P-SCHOOL", "value": "not_fulfilled",
                                                         "note": "stopped"}).json()["version"]
    decide(c, t, LETTER_A, v, {"kind": "match", "key": "P-BRIDGE", "value": "rejected"})
    out = rdb.tmp / "out"
    export_records(rdb.path, out)
    updates = pd.read_parquet(out / "updates.parquet").set_index(["letter_id", "promise_id"])
    row = updates.loc[(LETTER_A, "P-SCHOOL")]
    assert row["verdict"] == "not_fulfilled" and row["reviewer"] == "alice" and row["decided_at"]
    assert row["machine_verdict"] == "in_progress" and row["machine_confidence"] == pytest.approx(0.81)
    park = updates.loc[(LETTER_B, "P-PARK")]
    assert pd.isna(park["reviewer"]) and park["machine_confidence"] == pytest.approx(0.93)
    decisions = pd.read_parquet(out / "decisions.parquet")
    assert list(decisions["kind"]) == ["verdict", "match"]
    rejected = decisions[decisions["kind"] == "match"].iloc[0]
    assert rejected["human_value"] == "rejected" and rejected["key"] == "P-BRIDGE" and bool(rejected["in_force"])
    assert rejected["machine_confidence"] == pytest.approx(0.55)
    with (out / "decisions.csv").open(encoding="utf-8") as fh:
        assert [r["note"] for r in csv.DictReader(fh)] == ["stopped", ""]
    letters = pd.read_csv(out / "letters.csv", dtype=str).set_index("letter_id")
    assert letters.loc[LETTER_A, "status"] == "reviewed"  # P-BRIDGE rejected, P-SCHOOL judged
    assert letters.loc[LETTER_B, "status"] == "ok"


# --- 15. the page image is the letter's own file ---------------------------------------------------


def test_changed_scan_is_not_shown_under_the_letter(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    assert c.get(f"/letters/{LETTER_A}/pages/1.png").status_code == 200
    # Another letter's scan put in the same place (what a different working folder did).
    (rdb.tmp / "scan_b.png").replace(rdb.image)
    app2 = create_app(rdb.path, secret_key=SECRET)
    c2 = client(app2)
    login(c2, "alice")
    r = c2.get(f"/letters/{LETTER_A}/pages/1.png")
    assert r.status_code == 409 and "SHA-256" in r.json()["error"]


def test_page_paths_are_stored_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in").mkdir()
    scan = tmp_path / "in" / "a.png"
    scan.write_bytes(b"\x89PNG fake bytes")
    sha = hashlib.sha256(scan.read_bytes()).hexdigest()
    monkeypatch.chdir(tmp_path)
    letter = Letter(letter_id=sha[:16], sha256=sha, source_file="a.png",
                    files=(SourceFile(path=Path("in/a.png"), rel_path="a.png", kind=FileKind.PNG, sha256=sha, size=15),))
    db = Database(tmp_path / "x.db")
    try:
        with db.session() as s:
            repo.save_result(s, LetterResult(letter.letter_id, sha, "a.png", Status.FAILED, letter=letter,
                                             error="test"))
        with db.session() as s:
            paths = s.scalars(select(LetterRow.source_paths)).one()
    finally:
        db.close()
    assert paths == [str(scan)] and os.path.isabs(paths[0])


def test_review_rows_unchanged_by_reading(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    """Opening letters and exporting writes no decision (human decisions are data)."""
    c = client(app)
    login(c, "alice")
    for lid in (LETTER_A, LETTER_B):
        c.get(f"/letters/{lid}")
        c.get(f"/api/letters/{lid}")
    export_records(rdb.path, rdb.tmp / "out")
    db = Database(rdb.path)
    try:
        with db.session() as s:
            assert s.scalars(select(ReviewRow)).first() is None
    finally:
        db.close()


# --- 8. the fields conflict page keeps the note and shows the other's values --------------------------


def test_fields_conflict_keeps_note_and_shows_the_other_value(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    alice, bob = client(app), client(app)
    ta, tb = login(alice, "alice"), login(bob, "bob")
    stale = version_of(bob, LETTER_A)
    assert _fields(alice, ta, LETTER_A, signatory_name="Петро Ковальчук").status_code == 303
    r = bob.post(f"/letters/{LETTER_A}/fields", data={"csrf_token": tb, "version": str(stale),
                                                      "field_signatory_name": "Павло Коваль", "note": "see the stamp"})
    assert r.status_code == 409
    assert 'value="see the stamp"' in r.text  # bob's note is kept
    assert 'value="Павло Коваль"' in r.text  # and his value
    now = r.text[r.text.index('id="now-signatory_name"'):]
    assert "Петро Ковальчук" in now[:200] and "alice" in now[:200]  # alice's value is shown beside it
    assert 'data-posted="yes"' in r.text  # the script then replaces the POST in the history
    assert [x.reviewer for x in reviews(rdb)] == ["alice"]


# --- 12. the scan comes first: the first page image is fetched at high priority, the rest lazily -----


def test_first_page_image_is_fetched_first(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    html = c.get(f"/letters/{LETTER_A}").text
    first = re.search(r'<img src="/letters/[0-9a-f]{16}/pages/1\.png"[^>]*>', html).group(0)
    assert 'fetchpriority="high"' in first and 'loading="lazy"' not in first
