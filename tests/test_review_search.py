"""Queue search (issue 16, part 4): fuzzy filters (a surname alone, Ukrainian or Russian spelling,
a city prefix), full-text search over letter text (SQLite FTS5 / PostgreSQL full-text, migration
0004), counters that follow the filters, a reversed date range, and an audited bulk accept of the
filtered high-confidence unflagged letters. On SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.review.app import create_app
from pipeline.review.queries import city_matches, fold, name_matches
from pipeline.store.db import Database
from pipeline.store.tables import LetterRow, ReviewRow
from tests.test_review import LETTER_A, LETTER_B, SECRET, build_review_db, login
from tests.test_review import _cheap_argon2 as _cheap_argon2  # noqa: F401  (autouse fixture)


def test_fuzzy_names_and_cities() -> None:
    assert fold("Іваненко Олена") == fold("ИВАНЕНКО Олена")
    assert name_matches("Іваненко", "Олена Іваненко")
    assert name_matches("иваненко", "Олена Іваненко")  # Russian spelling of the surname
    assert name_matches("Елена Иваненко", "Олена Іваненко")  # one letter off in the first name
    assert name_matches("Іван", "Олена Іваненко")  # the start of the surname
    assert not name_matches("Мельник", "Олена Іваненко")
    assert not name_matches("Іваненко Петро", "Олена Іваненко")  # every word must match
    assert city_matches("Зеленод", "Зеленодольськ")
    assert city_matches("Зеленодольск", "Зеленодольськ")
    assert not city_matches("Тихо", "Зеленодольськ")
    assert not city_matches("", "Зеленодольськ")


def _ids(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-letter-id="([0-9a-f]{16})"', html)


def _count(html: str, name: str) -> int:
    return int(re.search(rf'id="count-{name}">(\d+)<', html).group(1))


def test_filters_search_counts_and_bulk_accept(db_url: str, tmp_path: Path) -> None:
    rdb = build_review_db(tmp_path, url=db_url if "://" in db_url else None)
    c = TestClient(create_app(rdb.path, secret_key=SECRET, default_lang="en"), follow_redirects=False)
    token = login(c, "alice")
    assert _ids(c.get("/queue", params={"politician": "Іваненко"}).text) == [LETTER_A]
    assert _ids(c.get("/queue", params={"politician": "Иваненко"}).text) == [LETTER_A]
    assert _ids(c.get("/queue", params={"city": "зелен"}).text) == [LETTER_A]
    assert _ids(c.get("/queue", params={"city": "Тихоград"}).text) == [LETTER_B]
    # Full text: word prefixes, every word.
    assert _ids(c.get("/queue", params={"text": "мост"}).text) == [LETTER_A]
    assert _ids(c.get("/queue", params={"text": "ремонт школи"}).text) == [LETTER_A]
    assert _ids(c.get("/queue", params={"text": "парк відкрито"}).text) == [LETTER_B]
    assert _ids(c.get("/queue", params={"text": "ремонт парк"}).text) == []
    # The text index follows the letters table (a rerun rewrites the text).
    db = Database(rdb.path)
    with db.session() as s:
        s.get(LetterRow, LETTER_B).text = "Сквер облаштовано."
    db.close()
    assert _ids(c.get("/queue", params={"text": "парк"}).text) == []
    assert _ids(c.get("/queue", params={"text": "сквер"}).text) == [LETTER_B]
    # Counters follow the filters.
    html = c.get("/queue").text
    assert (_count(html, "awaiting"), _count(html, "needs_review"), _count(html, "failed")) == (2, 1, 1)
    html = c.get("/queue", params={"city": "Тихо"}).text
    assert (_count(html, "awaiting"), _count(html, "needs_review"), _count(html, "failed")) == (1, 0, 0)
    assert _ids(c.get("/queue", params={"needs": "1"}).text) == [LETTER_A]
    # A reversed date range is said and put right.
    html = c.get("/queue", params={"date_from": "2024-12-31", "date_to": "2024-01-01"}).text
    assert 'id="filter-warning"' in html and "reversed" in html and _ids(html) == [LETTER_A]

    # Bulk accept: only B (0.93, unflagged); A needs review.
    html = c.get("/queue").text
    assert 'id="bulk-accept"' in html and "Accept the suggestions of 1 letter" in html
    r = c.post("/queue/accept", data={"csrf_token": token, "expected": "2"})
    assert r.status_code == 409  # the page showed another set: nothing is written
    r = c.post("/queue/accept", data={"csrf_token": token, "expected": "1"})
    assert r.status_code == 303 and "accepted=1" in r.headers["location"]
    db = Database(rdb.path)
    try:
        with db.session() as s:
            rows = list(s.scalars(select(ReviewRow)))
    finally:
        db.close()
    assert [(x.letter_id, x.key, x.human_value, x.action, x.reviewer) for x in rows] == [
        (LETTER_B, "P-PARK", "fulfilled", "accept", "alice")]
    assert rows[0].note.startswith("bulk accept of 1 letters")
    html = c.get("/queue").text
    assert 'id="bulk-accept"' not in html and _count(html, "reviewed") == 1
    # It is undone like any save.
    r = c.post(f"/api/letters/{LETTER_B}/undo", json={"version": c.get(f"/api/letters/{LETTER_B}").json()["version"]},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["promises"][0]["state"] == "suggested"
