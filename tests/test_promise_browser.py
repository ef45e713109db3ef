"""In a real headless Chromium (Debian's /usr/bin/chromium via Playwright): the static report opens
from disk with the right number of bars for a generated batch, and a reviewer works a promise page
with the keyboard (timeline, edit and save the result, copy it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.report import write_report
from pipeline.review import auth
from pipeline.store.db import Database
from pipeline.store.tables import ReviewRow
from tests.promisegen import Batch, build_batch
from tests.test_review import _cheap_argon2  # noqa: F401
from tests.test_review_browser import CHROMIUM, CHROMIUM_ARGS, serve

PASSWORD = "olena-pass-1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.mark.parametrize("n_letters,seed", [(24, 7), (60, 3)])
def test_report_renders_from_disk_with_one_bar_per_quarter_and_verdict(tmp_path: Path, n_letters: int,
                                                                       seed: int) -> None:
    from playwright.sync_api import sync_playwright

    batch = build_batch(tmp_path, n_letters=n_letters, seed=seed)
    path = write_report(batch.db_path, tmp_path / "report")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            assert page.title() == "letters: promise report"
            chart = page.locator("#chart-quarters svg")
            assert chart.is_visible() and chart.bounding_box()["width"] > 200
            bars = page.locator("#chart-quarters svg g[id^='bar-']")
            assert bars.count() == batch.bars
            for (q, verdict), _n in batch.quarter_counts.items():
                assert page.locator(f"#chart-quarters svg g[id='bar-{verdict}-{q}']").count() == 1
            statuses = set(batch.expected_status.values())
            assert page.locator("#chart-status svg g[id^='status-']").count() == len(statuses)
            for s in statuses:
                n = sum(1 for x in batch.expected_status.values() if x == s)
                assert page.locator(f"#count-{s}").inner_text() == str(n)
            assert page.locator("#by-city tbody tr").count() == 3
            assert page.locator("#changes tbody tr").count() == sum(
                1 for s in batch.expected_status.values() if s != "no_answer")
            assert not errors
            assert all(u.startswith("file://") for u in requests)  # nothing fetched from a server
        finally:
            browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Batch]]:
    batch = build_batch(tmp_path)
    db = Database(batch.db_path)
    with db.session() as s:
        auth.add_user(s, "olena", "reviewer", PASSWORD)
    db.close()
    with serve(batch.db_path, default_lang="uk") as base:
        yield base, batch


def test_promise_page_by_keyboard(server: tuple[str, Batch]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, batch = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context()
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.set_default_timeout(10_000)
            page.goto(base + "/promises")
            page.fill("input[name=name]", "olena")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/promises$"))
            # Filter by status, then open the first promise with the keyboard.
            page.select_option("#filter-status", "in_progress")
            page.click("#promise-filters button[type=submit]")
            rows = page.locator("#promises tr.prow")
            expected = sorted(p for p, s in batch.expected_status.items() if s == "in_progress")
            expect(rows).to_have_count(len(expected))
            if len(expected) > 1:
                page.keyboard.press("j")
                expect(rows.nth(1)).to_have_class(re.compile(r"\bfocused\b"))
            target = expected[1] if len(expected) > 1 else expected[0]
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(f".*/promises/{target}$"))
            expect(page.locator("#status")).to_have_text("виконується")  # the Ukrainian interface: labels, not codes
            items = page.locator("#timeline li.tl")
            assert items.count() >= 1
            expect(items.first).to_have_class(re.compile(r"\bfocused\b"))
            if items.count() > 1:
                page.keyboard.press("j")
                expect(items.nth(1)).to_have_class(re.compile(r"\bfocused\b"))
                page.keyboard.press("k")
                expect(items.first).to_have_class(re.compile(r"\bfocused\b"))
            # e edits the result; Ctrl+Enter saves; Esc leaves the box; c copies.
            page.keyboard.press("e")
            area = page.locator("#result_draft textarea")
            expect(area).to_be_focused()
            area.fill("Згідно з листом, відредаговано рецензентом.")
            page.keyboard.press("Control+Enter")
            expect(page.locator("#flash")).to_have_text("збережено: чернетка результату")
            expect(page.locator("#result_draft .draft-by")).to_have_text("редагував(ла) olena")
            page.keyboard.press("Escape")
            page.keyboard.press("c")
            expect(page.locator("#flash")).to_contain_text("скопійовано: чернетка результату")
            assert page.evaluate("() => navigator.clipboard.readText()") == "Згідно з листом, відредаговано рецензентом."
            page.reload()
            expect(page.locator("#result_draft textarea")).to_have_value("Згідно з листом, відредаговано рецензентом.")
            # Enter opens the focused letter on the letter screen.
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r".*/letters/[0-9a-f]{16}$"))
            assert not errors, errors
        finally:
            browser.close()
    db = Database(batch.db_path)
    with db.session() as s:
        rows = [(r.reviewer, r.kind, r.key, r.human_value) for r in s.scalars(select(ReviewRow))]
    db.close()
    assert rows == [("olena", "result_draft", target, "Згідно з листом, відредаговано рецензентом.")]
