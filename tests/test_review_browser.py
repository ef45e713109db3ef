"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
log in, open the queue, review a letter with the keyboard, undo, check the database rows."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from pipeline.review.app import create_app
from pipeline.store.db import Database
from pipeline.store.tables import ReviewRow
from tests.test_review import (
    LETTER_A,
    LETTER_B,
    PASSWORDS,
    SECRET,
    _cheap_argon2,  # noqa: F401  (autouse fixture: fast password hashing)
    build_review_db,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    rdb = build_review_db(tmp_path)
    port = _free_port()
    config = uvicorn.Config(create_app(rdb.path, secret_key=SECRET), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", rdb.path
    finally:
        srv.should_exit = True
        thread.join(10)


def _rows(db_path: Path) -> list[tuple[str, str, str, str | None, str, int | None]]:
    db = Database(db_path, migrate_schema=False)
    try:
        with db.session() as s:
            return [(r.reviewer, r.kind, r.key, r.human_value, r.action, r.undoes)
                    for r in s.scalars(select(ReviewRow).order_by(ReviewRow.id))]
    finally:
        db.close()


def _wait_rows(db_path: Path, n: int, timeout: float = 10.0) -> list[tuple[str, str, str, str | None, str, int | None]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _rows(db_path)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_keyboard_review_in_chromium(server: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db_path = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.set_default_timeout(10_000)

            page.goto(base + "/queue")
            assert "/login" in page.url  # not logged in yet
            page.fill("input[name=name]", "alice")
            page.fill("input[name=password]", PASSWORDS["alice"])
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/queue$"))
            expect(page.locator("#count-awaiting")).to_have_text("2")
            rows = page.locator("#queue tbody tr")
            expect(rows.first).to_have_attribute("data-letter-id", LETTER_A)  # needs review first

            rows.first.locator("a.open").click()
            page.wait_for_url(re.compile(f".*/letters/{LETTER_A}.*"))
            img = page.locator("#page-1 img")
            expect(img).to_be_visible()
            assert page.evaluate("() => document.querySelector('#page-1 img').naturalWidth") == 1000
            assert page.locator("rect.box.evidence").count() > 0

            # Focused promise 0 (P-BRIDGE): accept the suggestion with "a".
            page.keyboard.press("a")
            expect(page.locator("#card-0 .state")).to_have_text("confirmed")
            # Move to P-SCHOOL and correct it with "3".
            page.keyboard.press("j")
            expect(page.locator("#card-1")).to_have_class(re.compile(r"\bfocused\b"))
            page.keyboard.press("3")
            expect(page.locator("#card-1 .state")).to_have_text("corrected")
            expect(page.locator("#card-1 .effective")).to_have_text("not_fulfilled")
            # Undo takes back the last decision only.
            page.keyboard.press("u")
            expect(page.locator("#card-1 .state")).to_have_text("suggested")
            expect(page.locator("#card-0 .state")).to_have_text("confirmed")

            rows_db = _wait_rows(db_path, 3)
            assert rows_db[0] == ("alice", "verdict", "P-BRIDGE", "fulfilled", "accept", None)
            assert rows_db[1] == ("alice", "verdict", "P-SCHOOL", "not_fulfilled", "correct", None)
            assert rows_db[2][1:5] == ("verdict", "P-SCHOOL", "not_fulfilled", "undo") and rows_db[2][5] is not None

            # "?" shows the keys; the second "?" hides them.
            page.keyboard.press("?")
            expect(page.locator("#keys")).to_be_visible()
            page.keyboard.press("?")
            expect(page.locator("#keys")).to_be_hidden()

            # Someone else saves this letter meanwhile: our next key press gets the conflict message.
            other = browser.new_context().new_page()
            other.goto(base + "/login")
            other.fill("input[name=name]", "bob")
            other.fill("input[name=password]", PASSWORDS["bob"])
            other.click("button[type=submit]")
            other.wait_for_url(re.compile(r".*/queue$"))
            other.goto(f"{base}/letters/{LETTER_A}")
            other.keyboard.press("j")
            other.keyboard.press("2")  # P-SCHOOL's suggestion is in_progress: this confirms it
            expect(other.locator("#card-1 .state")).to_have_text("confirmed")
            page.keyboard.press("1")
            expect(page.locator("#conflict")).to_be_visible()
            expect(page.locator("#conflict")).to_contain_text("bob")
            assert len(_rows(db_path)) == 4  # alice's stale "1" was not written

            # n goes to the next letter of the queue.
            page.keyboard.press("n")
            page.wait_for_url(re.compile(f".*/letters/{LETTER_B}.*"))
            assert not [e for e in console_errors if "409" not in e and "Conflict" not in e], console_errors
        finally:
            browser.close()
