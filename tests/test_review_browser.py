"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
log in, open the queue, review a letter with the keyboard, undo, check the database rows."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from pipeline.review.app import create_app
from pipeline.store.db import Database
from pipeline.store.tables import MatchRow, ReviewRow
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
    with serve(rdb.path) as base:
        yield base, rdb.path


@contextmanager
def serve(db_path: Path, default_lang: str = "en") -> Iterator[str]:
    """The review app on a free local port in a thread, for as long as the block runs."""
    port = _free_port()
    config = uvicorn.Config(create_app(db_path, secret_key=SECRET, default_lang=default_lang), host="127.0.0.1",
                            port=port,
                            log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
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
            expect(page.locator("#card-1 .effective")).to_have_text("not fulfilled")
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


def _login(page, base: str, name: str) -> None:  # noqa: ANN001
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue$"))


def _press(page, code: str, key: str) -> None:  # noqa: ANN001
    """A key press as the Ukrainian layout sends it: ``key`` is the Cyrillic letter, ``code`` the place."""
    page.evaluate("([code, key]) => document.dispatchEvent(new KeyboardEvent('keydown', "
                  "{code: code, key: key, bubbles: true}))", [code, key])


def test_ukrainian_layout_keys_evidence_in_view_and_rejected_match(tmp_path: Path) -> None:
    """Defects 4, 5 and 6 of issue 16 in Chromium: ф (the A key) accepts, the evidence sentence of a
    long passage is scrolled into its box, and a rejected match's buttons are off."""
    from playwright.sync_api import expect, sync_playwright

    rdb = build_review_db(tmp_path)
    filler = " ".join(f"Речення номер {i} про інші справи міста." for i in range(60))
    db = Database(rdb.path)
    with db.session() as s:
        m = s.scalars(select(MatchRow).where(MatchRow.promise_id == "P-SCHOOL")).one()
        evidence = m.passage_text
        m.passage_text = filler + " " + evidence
        m.passage_start = m.evidence_start - len(filler) - 1
    db.close()
    with serve(rdb.path) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(10_000)
            _login(page, base, "alice")
            page.goto(f"{base}/letters/{LETTER_A}")
            _press(page, "KeyA", "ф")  # accept on the Ukrainian layout
            expect(page.locator("#card-0 .state")).to_have_text("confirmed")
            _press(page, "KeyJ", "о")  # next promise: the long passage
            expect(page.locator("#card-1")).to_have_class(re.compile(r"\bfocused\b"))
            inside = page.evaluate("""() => {
                const box = document.querySelector('#card-1 .passage').getBoundingClientRect();
                const mark = document.querySelector('#card-1 mark.evidence').getBoundingClientRect();
                return mark.top >= box.top - 1 && mark.bottom <= box.bottom + 1 && mark.height > 0;
            }""")
            assert inside, "the evidence sentence is outside the visible part of its passage"
            _press(page, "KeyX", "ч")  # not this promise
            expect(page.locator("#card-1 .state")).to_have_text("rejected")
            expect(page.locator("#card-1 button.verdict").first).to_be_disabled()
            _press(page, "Digit1", "1")
            expect(page.locator("#flash")).to_contain_text("rejected")
            rows = _wait_rows(rdb.path, 2)
            assert [(r[1], r[2], r[3]) for r in rows] == [("verdict", "P-BRIDGE", "fulfilled"),
                                                          ("match", "P-SCHOOL", "rejected")]
            time.sleep(0.3)
            assert len(_rows(rdb.path)) == 2  # the "1" after "x" wrote nothing
            # The letter is now reviewed; n then p comes back to it although it left the queue.
            _press(page, "KeyN", "т")
            page.wait_for_url(re.compile(f".*/letters/{LETTER_B}.*"))
            _press(page, "KeyP", "з")
            page.wait_for_url(re.compile(f".*/letters/{LETTER_A}(\\?.*)?$"))
        finally:
            browser.close()


def test_scan_viewer_zooms_pans_and_zooms_to_a_field(server: tuple[str, Path]) -> None:
    """Issue 16, part 6: + / − / z and Ctrl+wheel zoom, drag pans, clicking a field's name or the
    evidence zooms the scan to its box (the box ends up inside the visible frame)."""
    from playwright.sync_api import expect, sync_playwright

    base, _ = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(10_000)
            _login(page, base, "alice")
            page.goto(f"{base}/letters/{LETTER_A}")
            fig = page.locator("#page-1")
            expect(fig.locator("img")).to_be_visible()
            page.keyboard.press("Equal")
            expect(fig).to_have_attribute("data-zoom", "1.25")
            page.keyboard.press("Minus")
            expect(fig).to_have_attribute("data-zoom", "1.00")
            page.keyboard.press("Equal")
            page.keyboard.press("Equal")
            before = page.evaluate("() => document.querySelector('#page-1 .pagewrap').style.transform")
            box = fig.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2 - 80, box["y"] + box["height"] / 3 - 60, steps=4)
            page.mouse.up()
            after = page.evaluate("() => document.querySelector('#page-1 .pagewrap').style.transform")
            assert before != after and "scale(1.5625)" in after  # panned, same zoom
            page.keyboard.press("z")
            expect(fig).to_have_attribute("data-zoom", "1.00")

            def box_visible(selector: str) -> bool:
                return page.evaluate("""(sel) => {
                    const r = document.querySelector(sel).getBoundingClientRect();
                    const f = document.querySelector('#page-1').getBoundingClientRect();
                    return r.left >= f.left - 1 && r.right <= f.right + 1 && r.top >= f.top - 1 && r.bottom <= f.bottom + 1;
                }""", selector)

            page.click("#fields-form tr[data-target='signatory_name'] th")
            page.wait_for_function("() => parseFloat(document.querySelector('#page-1').dataset.zoom) > 1.5")
            page.wait_for_timeout(300)  # the transform's short transition
            assert box_visible("rect.box.field[data-target='signatory_name']")
            page.keyboard.press("Escape")
            page.click("#card-1 mark.evidence")
            page.wait_for_timeout(300)
            assert box_visible("rect.box.evidence[data-target='1']")
        finally:
            browser.close()


def test_one_pass_keyboard_flow(tmp_path: Path) -> None:
    """Issue 16, part 3 of the build list: Enter on the queue opens the first letter; after each
    decision the focus moves to the next undecided promise; when all are decided Enter opens the
    next letter; f jumps to the flagged field; a field decided later shows its reason as resolved."""
    from playwright.sync_api import expect, sync_playwright

    from pipeline.store.tables import LetterRow

    rdb = build_review_db(tmp_path)
    db = Database(rdb.path)
    with db.session() as s:
        letter = s.get(LetterRow, LETTER_A)
        letter.error = (letter.error or "") + "; letter date found outside the header"
    db.close()
    with serve(rdb.path) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(10_000)
            _login(page, base, "alice")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(f".*/letters/{LETTER_A}.*"))
            expect(page.locator("#progress")).to_contain_text("0/2 decided · today 0")
            expect(page.locator("#fields-form tr.flagged")).to_have_attribute("data-target", "letter_date")
            page.keyboard.press("f")
            expect(page.locator("#field-letter_date")).to_be_focused()
            page.keyboard.press("Escape")
            page.keyboard.press("a")
            expect(page.locator("#card-1")).to_have_class(re.compile(r"\bfocused\b"))  # moved on by itself
            page.keyboard.press("a")
            expect(page.locator("#flash")).to_contain_text("Letter done")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(f".*/letters/{LETTER_B}.*"))
            expect(page.locator("#progress")).to_contain_text("today 1")
            page.goto(f"{base}/letters/{LETTER_A}")
            page.click("#confirm-letter_date")
            page.wait_for_url(re.compile(f".*/letters/{LETTER_A}.*"))
            expect(page.locator("ul.reasons li.resolved")).to_contain_text("letter date found outside the header")
            expect(page.locator("#fields-form tr.flagged")).to_have_count(0)
        finally:
            browser.close()


def test_reload_after_a_fields_conflict_does_not_post_again(server: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db_path = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            bob = browser.new_context().new_page()
            bob.set_default_timeout(10_000)
            _login(bob, base, "bob")
            bob.goto(f"{base}/letters/{LETTER_A}")  # bob's view is now stale after alice's save below
            alice = browser.new_context().new_page()
            _login(alice, base, "alice")
            alice.goto(f"{base}/letters/{LETTER_A}")
            alice.fill("#field-signatory_name", "Петро Ковальчук")
            alice.click("#fields-form button[type=submit]:not(.confirm):not(.default-submit)")
            alice.wait_for_load_state()
            assert len(_wait_rows(db_path, 1)) == 1
            bob.fill("#field-signatory_name", "Павло Коваль")
            bob.fill("#fields-form input[name=note]", "see the stamp")
            bob.click("#fields-form button[type=submit]:not(.confirm):not(.default-submit)")
            expect(bob.locator("#conflict")).to_be_visible()
            expect(bob.locator("#now-signatory_name")).to_contain_text("Петро Ковальчук")
            bob.reload()  # a GET now: no "resubmit the form?" and nothing saved twice
            expect(bob.locator("#conflict")).to_be_hidden()
            time.sleep(0.3)
            assert len(_rows(db_path)) == 1
        finally:
            browser.close()
