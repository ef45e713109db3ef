"""Two reviewers and an adjudicator in headless Chromium, on SQLite and on a real PostgreSQL
server (the ``db_url`` fixture): alice and bob disagree on a verdict, both responses are kept,
the disagreement appears in judy's adjudication queue, her verdict decides it, and /stats shows
the pair's agreement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.review import auth
from pipeline.store.db import Database
from pipeline.store.tables import ReviewRow
from tests.test_review import LETTER_B, PASSWORDS, build_review_db
from tests.test_review_browser import CHROMIUM, CHROMIUM_ARGS, _login, _wait_rows, serve
from tests.test_review_browser import _cheap_argon2 as _cheap_argon2  # noqa: F401  (autouse fixture)

JUDY = "judy-pass-4444"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def test_two_reviewers_disagree_and_an_adjudicator_decides(db_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    rdb = build_review_db(tmp_path, url=db_url if "://" in db_url else None)
    db = Database(rdb.path)
    with db.session() as s:
        auth.add_user(s, "judy", "adjudicator", JUDY)
    db.close()
    PASSWORDS.setdefault("judy", JUDY)
    with serve(rdb.path) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            pages = {}
            for name in ("alice", "bob", "judy"):
                page = browser.new_context().new_page()
                page.set_default_timeout(10_000)
                _login(page, base, name)
                pages[name] = page
            alice, bob, judy = pages["alice"], pages["bob"], pages["judy"]
            expect(alice.locator("a[href='/adjudicate']")).to_have_count(0)

            alice.goto(f"{base}/letters/{LETTER_B}")
            alice.keyboard.press("3")
            expect(alice.locator("#card-0 .effective")).to_have_text("not fulfilled")
            bob.goto(f"{base}/letters/{LETTER_B}")
            bob.keyboard.press("a")  # accepts the machine's "fulfilled": a disagreement
            expect(bob.locator("#card-0 .basis")).to_have_text("disputed")
            expect(bob.locator("#card-0 .responses")).to_contain_text("alice: not fulfilled")
            expect(bob.locator("#card-0 .responses")).to_contain_text("bob: fulfilled")

            judy.click("a[href='/adjudicate']")
            expect(judy.locator("#dispute-count")).to_contain_text("1 open disagreement")
            judy.locator(f"#disputes tr[data-letter-id='{LETTER_B}'] a.open").click()
            judy.wait_for_url(re.compile(f".*/letters/{LETTER_B}.*"))
            expect(judy.locator("#card-0 .responses")).to_contain_text("your verdict here is the adjudication")
            judy.keyboard.press("3")
            expect(judy.locator("#card-0 .basis")).to_have_text("adjudicated")
            expect(judy.locator("#card-0 .effective")).to_have_text("not fulfilled")
            judy.goto(f"{base}/adjudicate")
            expect(judy.locator("#disputes")).to_contain_text("No disagreements to decide")

            alice.goto(f"{base}/stats")
            row = alice.locator("#pairs tr[data-pair='alice|bob']")
            expect(row).to_contain_text("1")
            expect(alice.locator("#open-disputes")).to_have_text("0")

            rows = _wait_rows(rdb.path, 3)
            assert [(r[0], r[3], r[4]) for r in rows] == [("alice", "not_fulfilled", "correct"),
                                                           ("bob", "fulfilled", "accept"),
                                                           ("judy", "not_fulfilled", "adjudicate")]
        finally:
            browser.close()
    db = Database(rdb.path)
    try:
        with db.session() as s:
            assert len(list(s.scalars(select(ReviewRow)))) == 3
    finally:
        db.close()
