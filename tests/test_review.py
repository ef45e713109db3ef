"""The review app over a real SQLite file, through FastAPI's TestClient (httpx).

The fixture database is built row by row with the ORM (letters, pages, words,
fields, promises, matches, users) plus a real page image rendered with Pillow,
so these tests do not depend on the pipeline's stages.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select

from pipeline.api import export_records
from pipeline.review import auth
from pipeline.review.app import COOKIE, create_app
from pipeline.review.commands import review as review_command
from pipeline.review.commands import users as users_group
from pipeline.store.db import Database
from pipeline.store.tables import (
    FieldRow,
    LetterRow,
    MatchRow,
    PageRow,
    PromiseRow,
    ReviewRow,
    UserRow,
    WordRow,
)

SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-22", "root": "root-pass-333"}

# Our own invented letters (fictional towns and people), not from any real corpus.
LETTER_A = "0a1b2c3d4e5f6071"
LETTER_B = "1b2c3d4e5f607182"
LETTER_C = "2c3d4e5f60718293"
LINES_A = [
    "Виконавчий комітет Зеленодольської міської ради",
    "Вих. № 12/345 від 05.03.2024",
    "На запит № 77 від 10.02.2024",
    "Будівництво нового мосту через річку завершено у грудні.",
    "Ремонт школи № 3 триває, роботи виконано наполовину.",
    "Міський голова Петро Коваль",
]
SCRIPT = "<script>alert('pwned')</script>"
LINES_B = [
    "Тихоградська селищна рада",
    f"Парк відкрито {SCRIPT} для мешканців.",
]


@dataclass
class ReviewDb:
    path: Path | str  # a SQLite file, or a PostgreSQL URL
    image: Path
    tmp: Path


def _render_page(lines: list[str], path: Path) -> tuple[str, list[tuple[str, float, float, float, float, int, int, int]], tuple[int, int]]:
    """Draw ``lines`` on a white page; return the page text, its word boxes and the page size."""
    size = (1000, 1400)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 26)
    words = []
    text_parts: list[str] = []
    pos = 0
    for li, line in enumerate(lines):
        if li:
            text_parts.append("\n")
            pos += 1
        x, y = 60, 80 + li * 60
        for wi, word in enumerate(line.split(" ")):
            if wi:
                text_parts.append(" ")
                pos += 1
                x += draw.textlength(" ", font=font)
            box = draw.textbbox((x, y), word, font=font)
            draw.text((x, y), word, font=font, fill="black")
            words.append((word, box[0], box[1], box[2] - box[0], box[3] - box[1], li, pos, pos + len(word)))
            text_parts.append(word)
            pos += len(word)
            x += draw.textlength(word, font=font)
    img.save(path)
    return "".join(text_parts), words, size


def _span(text: str, needle: str) -> tuple[int, int]:
    i = text.index(needle)
    return i, i + len(needle)


def build_review_db(tmp: Path, url: str | None = None) -> ReviewDb:
    """A database with three letters: one needing review with two matched promises (one a near
    tie with an alternative), one fine letter whose OCR text holds a <script>, one failed.
    ``url``: build it there (e.g. a PostgreSQL database) instead of a SQLite file in ``tmp``."""
    db_path: Path | str = url or tmp / "review.db"
    img_a, img_b = tmp / "scan_a.png", tmp / "scan_b.png"
    text_a, words_a, size_a = _render_page(LINES_A, img_a)
    text_b, words_b, size_b = _render_page(LINES_B, img_b)
    db = Database(db_path)
    with db.session() as s:
        s.add_all([
            PromiseRow(promise_id="P-BRIDGE", politician="Олена Іваненко", office="мер", city="Зеленодольськ",
                       said_on=dt.date(2021, 5, 1), title="Побудувати новий міст", lang="uk"),
            PromiseRow(promise_id="P-SCHOOL", politician="Олена Іваненко", office="мер", city="Зеленодольськ",
                       said_on=dt.date(2021, 5, 1), title="Відремонтувати школу № 3", lang="uk"),
            PromiseRow(promise_id="P-ROAD", politician="Андрій Мельник", office="депутат", city="Зеленодольськ",
                       said_on=None, title="Новий міст і дорога до нього", lang="uk"),
            PromiseRow(promise_id="P-PARK", politician="Ігор Ткач", office="голова", city="Тихоград",
                       said_on=None, title="Відкрити парк", lang="uk"),
        ])
        s.add_all([
            LetterRow(letter_id=LETTER_A, sha256=hashlib.sha256(img_a.read_bytes()).hexdigest(), source_file="zelenodolsk/answer.png",
                      source_paths=[str(img_a)], kind="png", pages=1, language="uk", text_source="ocr",
                      ocr_confidence=71.0, status="needs_review", error="ambiguous match P-BRIDGE (also P-ROAD)",
                      text=text_a, model_version="verdict-test-1", version=1),
            LetterRow(letter_id=LETTER_B, sha256=hashlib.sha256(img_b.read_bytes()).hexdigest(), source_file=f"tykhohrad/{SCRIPT}.png",
                      source_paths=[str(img_b)], kind="png", pages=1, language="uk", text_source="ocr",
                      ocr_confidence=90.0, status="ok", text=text_b, model_version="verdict-test-1", version=1),
            LetterRow(letter_id=LETTER_C, sha256="c" * 64, source_file="broken.pdf", source_paths=[str(tmp / "gone.pdf")],
                      kind="pdf", pages=0, status="failed", error="unreadable: truncated file", version=1),
        ])
        s.flush()
        for lid, text, words, size in ((LETTER_A, text_a, words_a, size_a), (LETTER_B, text_b, words_b, size_b)):
            s.add(PageRow(letter_id=lid, page_no=1, source="ocr", width=size[0], height=size[1],
                          ocr_confidence=80.0, low_confidence_share=0.1, rotation=0, text=text))
            s.add_all(WordRow(letter_id=lid, page_no=1, text=w, left=x, top=y, width=ww, height=hh, conf=88.0,
                              line=li, start=a, end=b) for (w, x, y, ww, hh, li, a, b) in words)
        fields_a = {
            "letter_date": ("2024-03-05", "05.03.2024"),
            "outgoing_number": ("12/345", "12/345"),
            "request_date": ("2024-02-10", "10.02.2024"),
            "request_number": ("77", "77"),
            "sender_city": ("Зеленодольськ", "Зеленодольської"),
            "signatory_name": ("Петро Коваль", "Петро Коваль"),
        }
        for name, (value, needle) in fields_a.items():
            a, b = _span(text_a, needle)
            s.add(FieldRow(letter_id=LETTER_A, name=name, value=value, start=a, end=b, page=1, confidence=0.8))
        s.add(FieldRow(letter_id=LETTER_A, name="language", value="uk", confidence=1.0))
        a, b = _span(text_b, "Тихоградська")
        s.add(FieldRow(letter_id=LETTER_B, name="sender_city", value="Тихоград", start=a, end=b, page=1, confidence=0.9))
        s.add(FieldRow(letter_id=LETTER_B, name="sender_org", value=f"рада {SCRIPT}", confidence=0.5))

        bridge = LINES_A[3]
        school = LINES_A[4]
        (pa, pb), (sa, sb) = _span(text_a, bridge), _span(text_a, school)
        s.add_all([
            MatchRow(letter_id=LETTER_A, promise_id="P-BRIDGE", match_score=0.82, passage_index=0, passage_text=bridge,
                     passage_start=pa, passage_end=pb, passage_page=1,
                     features={"city": True, "shared_terms": ["міст", "будівництво"], "<b>odd key</b>": "<i>x</i>"},
                     alternatives=[["P-ROAD", 0.78]], near_tie=True, verdict="fulfilled", confidence=0.55,
                     probabilities={"fulfilled": 0.55, "in_progress": 0.3, "not_fulfilled": 0.15},
                     evidence=bridge, evidence_start=pa, evidence_end=pb, model_version="verdict-test-1",
                     needs_review=True),
            MatchRow(letter_id=LETTER_A, promise_id="P-SCHOOL", match_score=0.74, passage_index=1, passage_text=school,
                     passage_start=sa, passage_end=sb, passage_page=1, features={"city": True},
                     alternatives=[], near_tie=False, verdict="in_progress", confidence=0.81,
                     probabilities={"in_progress": 0.81}, evidence=school, evidence_start=sa, evidence_end=sb,
                     model_version="verdict-test-1", needs_review=False),
        ])
        park = LINES_B[1]
        pa, pb = _span(text_b, park)
        s.add(MatchRow(letter_id=LETTER_B, promise_id="P-PARK", match_score=0.9, passage_index=0, passage_text=park,
                       passage_start=pa, passage_end=pb, passage_page=1, features={"note": SCRIPT}, alternatives=[],
                       verdict="fulfilled", confidence=0.93, probabilities={"fulfilled": 0.93}, evidence=park,
                       evidence_start=pa, evidence_end=pb, model_version="verdict-test-1", needs_review=False))
        auth.add_user(s, "alice", "reviewer", PASSWORDS["alice"])
        auth.add_user(s, "bob", "reviewer", PASSWORDS["bob"])
        auth.add_user(s, "root", "admin", PASSWORDS["root"])
    db.close()
    return ReviewDb(db_path, img_a, tmp)


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2() -> Iterator[None]:
    """Argon2 with its production cost takes ~0.3-0.7 s per login on a busy CI machine; the tests
    use the same algorithm (argon2id) at a tiny cost. test_users_cli checks the production cost."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> ReviewDb:
    return build_review_db(tmp_path_factory.mktemp("review_template"))


@pytest.fixture(scope="session")
def _pg_template_db(pg_server, tmp_path_factory: pytest.TempPathFactory) -> ReviewDb:  # noqa: ANN001
    """The same fixture database on the session's PostgreSQL server, built once and cloned per test."""
    return build_review_db(tmp_path_factory.mktemp("review_pg_template"), url=pg_server.create_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def rdb(request: pytest.FixtureRequest, _template_db: ReviewDb, tmp_path: Path) -> ReviewDb:
    """A private copy of the fixture database (built once: argon2 hashing and migrations cost ~1 s),
    on SQLite (a copy of the file) and on PostgreSQL (a database cloned from a template)."""
    path: Path | str
    if request.param == "sqlite":
        path = tmp_path / "review.db"
        shutil.copyfile(_template_db.path, path)
        template = _template_db
    else:
        template = request.getfixturevalue("_pg_template_db")
        path = request.getfixturevalue("pg_server").clone_database(str(template.path))
    for name in ("scan_a.png", "scan_b.png"):
        shutil.copyfile(template.tmp / name, tmp_path / name)
    db = Database(path)
    with db.session() as s:
        for letter in s.scalars(select(LetterRow)):
            letter.source_paths = [str(tmp_path / Path(p).name) for p in letter.source_paths]
    db.close()
    return ReviewDb(path, tmp_path / "scan_a.png", tmp_path)


def sqlite_only(rdb: ReviewDb) -> None:
    """Skip a test about the SQLite file itself (a key file beside it, its permissions)."""
    if "://" in str(rdb.path):
        pytest.skip("about the SQLite file; the PostgreSQL case has no file")


@pytest.fixture
def app(rdb: ReviewDb):  # noqa: ANN201
    # These tests read the English interface; test_review_i18n checks the Ukrainian default.
    return create_app(rdb.path, secret_key=SECRET, default_lang="en")


def client(app) -> TestClient:  # noqa: ANN001
    return TestClient(app, follow_redirects=False)


def login(c: TestClient, name: str, password: str | None = None) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    r = c.get("/login")
    assert r.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = c.post("/login", data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token,
                               "next": "/queue"})
    assert r.status_code == 303, r.text
    page = c.get("/queue")
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


def version_of(c: TestClient, lid: str) -> int:
    return c.get(f"/api/letters/{lid}").json()["version"]


def decide(c: TestClient, token: str, lid: str, version: int, *decisions: dict) -> object:
    return c.post(f"/api/letters/{lid}/decisions", json={"version": version, "decisions": list(decisions)},
                  headers={"X-CSRF-Token": token})


def reviews(rdb: ReviewDb) -> list[ReviewRow]:
    db = Database(rdb.path)
    try:
        with db.session() as s:
            return list(s.scalars(select(ReviewRow).order_by(ReviewRow.id)))
    finally:
        db.close()


# --- accounts and sessions ---------------------------------------------------------


def test_unauthenticated_requests_are_refused(app) -> None:  # noqa: ANN001
    c = client(app)
    for path in ("/queue", f"/letters/{LETTER_A}", "/"):
        r = c.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login") or r.headers["location"] == "/queue"
    r = c.get("/queue")
    assert r.headers["location"] == "/login?next=%2Fqueue"
    assert c.get(f"/api/letters/{LETTER_A}").status_code == 401
    assert c.get(f"/letters/{LETTER_A}/pages/1.png").status_code == 401
    r = c.post(f"/api/letters/{LETTER_A}/decisions", json={"version": 1, "decisions": []})
    assert r.status_code == 401
    r = c.post(f"/api/letters/{LETTER_A}/undo", json={"version": 1})
    assert r.status_code == 401
    # A forged cookie is no session either.
    c.cookies.set(COOKIE, "eyJzaWQiOiJ4In0.forged.signature")
    assert c.get(f"/api/letters/{LETTER_A}").status_code == 401


def test_login_rotates_the_session_and_logout_revokes_it(app) -> None:  # noqa: ANN001
    c = client(app)
    codec = auth.SessionCodec(SECRET)
    c.get("/login")
    before = codec.loads(c.cookies.get(COOKIE))
    assert before is not None and before.uid is None
    token = login(c, "alice")
    after = codec.loads(c.cookies.get(COOKIE))
    assert after is not None and after.uid is not None
    assert after.sid != before.sid and after.csrf != before.csrf and token == after.csrf
    # The pre-login (possibly planted) cookie did not become a logged-in session.
    old = TestClient(app, follow_redirects=False)
    old.cookies.set(COOKIE, codec.dumps(before))
    assert old.get("/queue").status_code == 303
    # The cookie is HttpOnly and SameSite.
    r = TestClient(app, follow_redirects=False).get("/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    # Logout needs the CSRF token, then the same cookie no longer works.
    stolen = c.cookies.get(COOKIE)
    assert c.post("/logout", data={}).status_code == 403
    assert c.post("/logout", data={"csrf_token": token}).status_code == 303
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set(COOKIE, stolen)
    assert replay.get("/queue").status_code == 303


def test_wrong_password_and_unknown_user_and_disabled_user(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    r = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    for name, pw in (("alice", "nope-nope"), ("mallory", "whatever1")):
        r = c.post("/login", data={"name": name, "password": pw, "csrf_token": token})
        assert r.status_code == 401 and "Wrong name or password" in r.text
    # Login itself needs the CSRF token of the login form.
    r = c.post("/login", data={"name": "alice", "password": PASSWORDS["alice"]})
    assert r.status_code == 403
    # A disabled account loses its open session at once.
    login(c, "bob")
    assert c.get("/queue").status_code == 200
    db = Database(rdb.path)
    with db.session() as s:
        auth.set_active(s, "bob", False)
    db.close()
    assert c.get("/queue").status_code == 303


def test_password_change_ends_open_sessions(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    assert c.get("/queue").status_code == 200
    r = CliRunner().invoke(users_group, ["passwd", "alice", "--db", str(rdb.path), "--password-stdin"],
                           input="alice-new-pass\n")
    assert r.exit_code == 0, r.output
    assert c.get("/queue").status_code == 303
    login(c, "alice", "alice-new-pass")
    assert c.get("/queue").status_code == 200


def test_login_rate_limit(app) -> None:  # noqa: ANN001
    c = client(app)
    r = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    for _ in range(5):
        r = c.post("/login", data={"name": "alice", "password": "wrong-guess", "csrf_token": token})
        assert r.status_code == 401
    # Even the right password is refused now, for this name from this address...
    r = c.post("/login", data={"name": "alice", "password": PASSWORDS["alice"], "csrf_token": token})
    assert r.status_code == 429 and "Too many failed logins" in r.text
    # ...while another name from the same address still logs in.
    r = c.post("/login", data={"name": "bob", "password": PASSWORDS["bob"], "csrf_token": token})
    assert r.status_code == 303


def test_redirect_after_login_stays_on_site(app) -> None:  # noqa: ANN001
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        c2 = client(app)
        r = c2.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
        r = c2.post("/login", data={"name": "alice", "password": PASSWORDS["alice"], "csrf_token": token,
                                    "next": evil})
        assert r.status_code == 303 and r.headers["location"] == "/queue"


def test_csrf_token_required_on_every_state_change(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    token = login(c, "alice")
    body = {"version": 1, "decisions": [{"kind": "verdict", "key": "P-SCHOOL", "value": "in_progress"}]}
    assert c.post(f"/api/letters/{LETTER_A}/decisions", json=body).status_code == 403
    assert c.post(f"/api/letters/{LETTER_A}/decisions", json=body, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    assert c.post(f"/api/letters/{LETTER_A}/undo", json={"version": 1}).status_code == 403
    r = c.post(f"/letters/{LETTER_A}/fields", data={"version": "1", "field_outgoing_number": "99"})
    assert r.status_code == 403
    # Cross-origin POST with the right token is refused too (Origin check).
    r = c.post(f"/api/letters/{LETTER_A}/decisions", json=body,
               headers={"X-CSRF-Token": token, "Origin": "https://evil.example"})
    assert r.status_code == 403
    assert reviews(rdb) == []
    assert c.post(f"/api/letters/{LETTER_A}/decisions", json=body, headers={"X-CSRF-Token": token}).status_code == 200
    assert len(reviews(rdb)) == 1


def test_security_headers(app) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    for path in ("/login", "/queue", f"/letters/{LETTER_A}"):
        h = c.get(path).headers
        assert "script-src 'self'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"]
    html = c.get(f"/letters/{LETTER_A}").text
    assert "<script>" not in html.replace('<script src="/static/app.js" defer></script>', "")
    assert " onclick=" not in html and "style=" not in html


# --- what the reviewer sees --------------------------------------------------------


def test_ocr_text_with_script_is_escaped(app) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    for path in (f"/letters/{LETTER_B}", "/queue?state=all"):
        html = c.get(path).text
        assert "&lt;script&gt;alert(" in html
        assert "<script>alert(" not in html
    html = c.get(f"/letters/{LETTER_A}").text
    assert "&lt;b&gt;odd key&lt;/b&gt;" in html and "<b>odd key</b>" not in html


def test_queue_counts_order_filters_and_model_version(app) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    html = c.get("/queue").text
    assert re.search(r'id="count-awaiting">2<', html)
    assert re.search(r'id="count-needs_review">1<', html)
    assert re.search(r'id="count-reviewed">0<', html)
    assert re.search(r'id="count-failed">1<', html)
    order = re.findall(r'data-letter-id="([0-9a-f]{16})"', html)
    assert order == [LETTER_A, LETTER_B]  # needs review first
    assert "verdict-test-1" in html
    assert re.findall(r'data-letter-id="([0-9a-f]{16})"', c.get("/queue?city=Тихоград").text) == [LETTER_B]
    assert re.findall(r'data-letter-id="([0-9a-f]{16})"', c.get("/queue?politician=андрій мельник").text) == []
    assert re.findall(r'data-letter-id="([0-9a-f]{16})"', c.get("/queue?politician=Олена Іваненко").text) == [LETTER_A]
    assert re.findall(r'data-letter-id="([0-9a-f]{16})"', c.get("/queue?verdict=in_progress").text) == [LETTER_A]
    assert re.findall(r'data-letter-id="([0-9a-f]{16})"', c.get("/queue?date_from=2024-03-06").text) == []
    got = re.findall(r'data-letter-id="([0-9a-f]{16})"', c.get("/queue?date_from=2024-03-01&date_to=2024-03-31").text)
    assert got == [LETTER_A]
    assert re.findall(r'data-letter-id="([0-9a-f]{16})"', c.get("/queue?state=failed").text) == [LETTER_C]
    # Junk in filters is ignored, never an error.
    assert c.get("/queue?state=<x>&verdict=zzz&date_from=notadate").status_code == 200


def test_letter_screen_shows_boxes_matches_alternatives_and_suggestion(app) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    html = c.get(f"/letters/{LETTER_A}").text
    # Field and evidence boxes in page units over the page image.
    assert 'viewBox="0 0 1000.0 1400.0"' in html
    assert re.search(r'<rect class="box field" data-target="letter_date"', html)
    assert len(re.findall(r'<rect class="box evidence" data-target="0"', html)) == len(LINES_A[3].split())
    assert f'src="/letters/{LETTER_A}/pages/1.png"' in html
    for text in ("P-BRIDGE", "P-SCHOOL", "P-ROAD", "near tie", "0.82", "0.55", "shared_terms", "verdict-test-1"):
        assert text in html
    assert 'data-alt="P-ROAD"' in html
    assert f'data-next="/letters/{LETTER_A}/next"' in html
    r = c.get(f"/letters/{LETTER_A}/next")
    assert r.status_code == 303 and r.headers["location"] == f"/letters/{LETTER_B}?back={LETTER_A}"
    assert c.get(f"/letters/{LETTER_A}/prev").headers["location"] == "/queue"
    assert c.get(f"/letters/{LETTER_B}/prev").headers["location"] == f"/letters/{LETTER_A}"
    # Filters travel along: with only Тихоград letters, A has no neighbour but B is first.
    r = c.get(f"/letters/{LETTER_A}/next?city=Тихоград")
    assert r.headers["location"].startswith(f"/letters/{LETTER_B}?city=")
    assert c.get(f"/letters/{LETTER_A}/sideways").status_code == 404
    assert c.get("/letters/ffffffffffffffff").status_code == 404


def test_page_image_served_only_for_known_letters_and_pages(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    login(c, "alice")
    r = c.get(f"/letters/{LETTER_A}/pages/1.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (1000, 1400)
    bad = [
        f"/letters/{LETTER_A}/pages/2.png",
        f"/letters/{LETTER_A}/pages/0.png",
        f"/letters/{LETTER_A}/pages/-1.png",
        "/letters/ffffffffffffffff/pages/1.png",
        f"/letters/{LETTER_C}/pages/1.png",  # failed letter, no pages
        "/letters/../../etc/passwd",
        "/letters/..%2f..%2fetc%2fpasswd/pages/1.png",
        "/letters/%2e%2e/%2e%2e/etc/passwd/pages/1.png",
        "/letters/%2e%2e%2f%2e%2e%2fetc%2fpasswd/pages/1.png",
        "/letters/%2Fetc%2Fpasswd/pages/1.png",
        f"/letters/{LETTER_A}/pages/..%2f..%2f..%2fetc%2fpasswd.png",
        f"/letters/{LETTER_A}/pages/%2Fetc%2Fpasswd.png",
        f"/letters/{LETTER_A}/pages/abc.png",
        f"/letters/{LETTER_A}/pages/１.png",
        f"/letters/{rdb.image}/pages/1.png",
        "/letters//etc/passwd/pages/1.png",
    ]
    for path in bad:
        r = c.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert b"root:" not in r.content
    # A stored page whose file disappeared is a 404, not a server error.
    rdb.image.unlink()
    app2 = create_app(rdb.path, secret_key=SECRET)
    c2 = client(app2)
    login(c2, "alice")
    assert c2.get(f"/letters/{LETTER_A}/pages/1.png").status_code == 404


# --- decisions ---------------------------------------------------------------------


def test_stale_version_gets_409_and_nothing_is_lost(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    alice, bob = client(app), client(app)
    ta, tb = login(alice, "alice"), login(bob, "bob")
    v = version_of(alice, LETTER_A)
    assert version_of(bob, LETTER_A) == v
    r = decide(alice, ta, LETTER_A, v, {"kind": "verdict", "key": "P-SCHOOL", "value": "in_progress"})
    assert r.status_code == 200 and r.json()["version"] == v + 1
    r = decide(bob, tb, LETTER_A, v, {"kind": "verdict", "key": "P-SCHOOL", "value": "not_fulfilled"})
    assert r.status_code == 409
    assert "alice" in r.json()["error"] and "NOT saved" in r.json()["error"]
    rows = reviews(rdb)
    assert [(r.reviewer, r.human_value) for r in rows] == [("alice", "in_progress")]
    # The fields form: bob's stale save comes back as 409 with his typed value still in the form.
    r = bob.post(f"/letters/{LETTER_A}/fields", data={"csrf_token": tb, "version": str(v),
                                                      "field_outgoing_number": "12/346-bob"})
    assert r.status_code == 409
    assert "was changed by alice" in r.text and 'value="12/346-bob"' in r.text
    assert len(reviews(rdb)) == 1
    # After reloading (new version) bob's save goes through.
    r = bob.post(f"/letters/{LETTER_A}/fields", data={"csrf_token": tb, "version": str(v + 1),
                                                      "field_outgoing_number": "12/346-bob"})
    assert r.status_code == 303
    last = reviews(rdb)[-1]
    assert (last.kind, last.key, last.machine_value, last.human_value, last.action, last.reviewer) == (
        "field", "outgoing_number", "12/345", "12/346-bob", "correct", "bob")


def test_bad_decisions_are_refused(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    v = version_of(c, LETTER_A)
    for d in ({"kind": "verdict", "key": "P-SCHOOL", "value": "maybe"},
              {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"},  # not matched to this letter
              {"kind": "field", "key": "password_hash", "value": "x"},
              {"kind": "match", "key": "P-NOPE", "value": "added"},
              {"kind": "sql", "key": "x", "value": "y"}):
        assert decide(c, t, LETTER_A, v, d).status_code == 400, d
    assert decide(c, t, "ffffffffffffffff", 1, {"kind": "verdict", "key": "P", "value": "fulfilled"}).status_code == 404
    r = c.post(f"/api/letters/{LETTER_A}/decisions", content=b"not json",
               headers={"X-CSRF-Token": t, "content-type": "application/json"})
    assert r.status_code == 400
    assert reviews(rdb) == [] and version_of(c, LETTER_A) == v


def test_undo_appends_rows_and_restores_the_previous_decision(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    v = version_of(c, LETTER_A)
    r = decide(c, t, LETTER_A, v, {"kind": "verdict", "key": "P-BRIDGE", "value": "fulfilled", "note": "ok"})
    v = r.json()["version"]
    r = decide(c, t, LETTER_A, v, {"kind": "verdict", "key": "P-BRIDGE", "value": "not_fulfilled"})
    v = r.json()["version"]
    card = {p["promise_id"]: p for p in r.json()["promises"]}["P-BRIDGE"]
    assert (card["verdict"], card["state"]) == ("not_fulfilled", "corrected")
    r = c.post(f"/api/letters/{LETTER_A}/undo", json={"version": v}, headers={"X-CSRF-Token": t})
    assert r.status_code == 200
    v = r.json()["version"]
    card = {p["promise_id"]: p for p in r.json()["promises"]}["P-BRIDGE"]
    assert (card["verdict"], card["state"], card["by"]) == ("fulfilled", "confirmed", "alice")
    r = c.post(f"/api/letters/{LETTER_A}/undo", json={"version": v}, headers={"X-CSRF-Token": t})
    v = r.json()["version"]
    card = {p["promise_id"]: p for p in r.json()["promises"]}["P-BRIDGE"]
    assert (card["verdict"], card["state"]) == ("fulfilled", "suggested")
    r = c.post(f"/api/letters/{LETTER_A}/undo", json={"version": v - 1}, headers={"X-CSRF-Token": t})
    assert r.status_code == 409  # an undo with a stale version is refused like any save
    r = c.post(f"/api/letters/{LETTER_A}/undo", json={"version": v}, headers={"X-CSRF-Token": t})
    assert r.status_code == 400 and "nothing" in r.json()["error"]
    rows = reviews(rdb)
    assert [(x.action, x.human_value, x.undoes) for x in rows] == [
        ("accept", "fulfilled", None), ("correct", "not_fulfilled", None),
        ("undo", "not_fulfilled", rows[1].id), ("undo", "fulfilled", rows[0].id)]
    assert rows[0].note == "ok" and rows[0].machine_value == "fulfilled" and rows[0].model_version == "verdict-test-1"
    # Bob cannot undo alice's decision with his own "u".
    r = decide(c, t, LETTER_A, v, {"kind": "verdict", "key": "P-SCHOOL", "value": "in_progress"})
    bob = client(app)
    tb = login(bob, "bob")
    r = bob.post(f"/api/letters/{LETTER_A}/undo", json={"version": r.json()["version"]}, headers={"X-CSRF-Token": tb})
    assert r.status_code == 400


def test_exports_show_confirmed_corrected_and_picked_alternatives(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    v = version_of(c, LETTER_A)
    v = decide(c, t, LETTER_A, v, {"kind": "verdict", "key": "P-SCHOOL", "value": "in_progress"}).json()["version"]
    # P-BRIDGE was the wrong promise: the reviewer picks the alternative P-ROAD and judges it.
    r = decide(c, t, LETTER_A, v, {"kind": "match", "key": "P-BRIDGE", "value": "rejected"},
               {"kind": "match", "key": "P-ROAD", "value": "added"})
    assert r.status_code == 200
    v = r.json()["version"]
    assert [p["promise_id"] for p in r.json()["promises"]] == ["P-BRIDGE", "P-SCHOOL", "P-ROAD"]
    v = decide(c, t, LETTER_A, v, {"kind": "verdict", "key": "P-ROAD", "value": "not_fulfilled"}).json()["version"]
    v = decide(c, t, LETTER_B, version_of(c, LETTER_B),
               {"kind": "verdict", "key": "P-PARK", "value": "in_progress", "note": "only half open"}).json()["version"]
    r = c.post(f"/letters/{LETTER_A}/fields", data={"csrf_token": t, "version": str(version_of(c, LETTER_A)),
                                                    "field_signatory_name": "Петро Ковальчук",
                                                    "field_letter_date": "2024-03-05"})
    assert r.status_code == 303
    out = rdb.tmp / "export"
    export_records(rdb.path, out)
    with (out / "updates.csv").open(encoding="utf-8") as fh:
        updates = {(row["letter_id"], row["promise_id"]): row for row in csv.DictReader(fh)}
    assert (LETTER_A, "P-BRIDGE") not in updates
    assert updates[(LETTER_A, "P-SCHOOL")]["review_state"] == "confirmed"
    assert updates[(LETTER_A, "P-ROAD")]["review_state"] == "corrected"
    assert updates[(LETTER_A, "P-ROAD")]["verdict"] == "not_fulfilled"
    assert updates[(LETTER_B, "P-PARK")]["review_state"] == "corrected"
    assert updates[(LETTER_B, "P-PARK")]["verdict"] == "in_progress"
    with (out / "letters.csv").open(encoding="utf-8") as fh:
        letters = {row["letter_id"]: row for row in csv.DictReader(fh)}
    assert letters[LETTER_A]["signatory_name"] == "Петро Ковальчук"
    assert letters[LETTER_A]["letter_date"] == "2024-03-05"
    # The changed field is a correction; the untouched one is not written at all (defect 2).
    assert [(x.key, x.action) for x in reviews(rdb) if x.kind == "field"] == [("signatory_name", "correct")]
    # The queue now counts letter A as reviewed (every live pair has a verdict).
    html = c.get("/queue").text
    assert re.search(r'id="count-reviewed">2<', html)
    # Reviewed letters leave the awaiting queue; the queue is then empty, so n goes back to it.
    assert c.get(f"/letters/{LETTER_A}/next").headers["location"] == "/queue"
    # In the reviewed view, A keeps its place ahead of B.
    assert c.get(f"/letters/{LETTER_A}/next?state=reviewed").headers["location"] == (
        f"/letters/{LETTER_B}?state=reviewed&back={LETTER_A}")


# --- secret key and CLI --------------------------------------------------------------


def test_secret_key_file_keeps_sessions_across_restarts(rdb: ReviewDb, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_only(rdb)
    monkeypatch.delenv(auth.SECRET_ENV, raising=False)
    c = client(create_app(rdb.path))
    login(c, "alice")
    key_file = rdb.path.with_name(rdb.path.name + ".secret")
    assert key_file.exists() and (key_file.stat().st_mode & 0o077) == 0
    restarted = TestClient(create_app(rdb.path), follow_redirects=False)
    restarted.cookies.set(COOKIE, c.cookies.get(COOKIE))
    assert restarted.get("/queue").status_code == 200
    monkeypatch.setenv(auth.SECRET_ENV, "another-key-" + "x" * 40)
    other = TestClient(create_app(rdb.path), follow_redirects=False)
    other.cookies.set(COOKIE, c.cookies.get(COOKIE))
    assert other.get("/queue").status_code == 303


def test_users_cli_adds_argon2_users_who_can_log_in(rdb: ReviewDb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_hasher", PasswordHasher())  # the production cost, for this test
    runner = CliRunner()
    r = runner.invoke(users_group, ["add", "carol", "--role", "admin", "--db", str(rdb.path), "--password-stdin"],
                      input="carol-secret-1\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(users_group, ["add", "dave", "--db", str(rdb.path)], input="dave-secret-1\ndave-secret-1\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(users_group, ["add", "carol", "--db", str(rdb.path), "--password-stdin"], input="x" * 10 + "\n")
    assert r.exit_code != 0  # exists already
    r = runner.invoke(users_group, ["add", "eve", "--db", str(rdb.path), "--password-stdin"], input="short\n")
    assert r.exit_code != 0  # too short
    db = Database(rdb.path)
    with db.session() as s:
        carol = s.scalars(select(UserRow).where(UserRow.name == "carol")).one()
        assert carol.role == "admin" and carol.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert s.scalar(select(func.count()).select_from(UserRow).where(UserRow.name == "eve")) == 0
    db.close()
    c = client(create_app(rdb.path, secret_key=SECRET))
    login(c, "carol", "carol-secret-1")
    r = runner.invoke(users_group, ["list", "--db", str(rdb.path)])
    assert "carol\tadmin\tactive" in r.output


def test_review_command_refuses_a_missing_database(tmp_path: Path) -> None:
    from pipeline.errors import UsageError

    r = CliRunner().invoke(review_command, ["--db", str(tmp_path / "typo.db")])
    assert isinstance(r.exception, UsageError) and not (tmp_path / "typo.db").exists()


def test_every_command_and_option_has_help() -> None:
    import click

    def walk(cmd: click.Command) -> None:
        assert cmd.help, cmd.name
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert p.help, (cmd.name, p.name)
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                walk(sub)

    walk(review_command)
    walk(users_group)
    assert set(users_group.commands) >= {"add", "list", "passwd", "disable", "enable"}


def test_undo_takes_back_a_whole_save_and_promises_can_be_added(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    c = client(app)
    t = login(c, "alice")
    v = version_of(c, LETTER_A)
    r = decide(c, t, LETTER_A, v, {"kind": "match", "key": "P-BRIDGE", "value": "rejected"},
               {"kind": "match", "key": "P-ROAD", "value": "added"})
    states = {p["promise_id"]: p["state"] for p in r.json()["promises"]}
    assert states == {"P-BRIDGE": "rejected", "P-SCHOOL": "suggested", "P-ROAD": "open"}
    r = c.post(f"/api/letters/{LETTER_A}/undo", json={"version": r.json()["version"]}, headers={"X-CSRF-Token": t})
    assert r.status_code == 200
    assert {p["promise_id"]: p["state"] for p in r.json()["promises"]} == {"P-BRIDGE": "suggested",
                                                                            "P-SCHOOL": "suggested"}
    assert [x.action for x in reviews(rdb)] == ["correct", "correct", "undo", "undo"]
    # Any registry promise can be added by id (here one of another city), then judged.
    v = r.json()["version"]
    r = decide(c, t, LETTER_A, v, {"kind": "match", "key": "P-PARK", "value": "added"})
    assert r.status_code == 200
    r = decide(c, t, LETTER_A, r.json()["version"], {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    card = {p["promise_id"]: p for p in r.json()["promises"]}["P-PARK"]
    assert (card["verdict"], card["state"]) == ("fulfilled", "corrected")
    html = c.get(f"/letters/{LETTER_A}").text
    assert "added by a reviewer" in html and 'value="P-ROAD"' in html  # P-ROAD offered again


def test_queue_state_none_for_letters_without_suggestions(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    db = Database(rdb.path)
    with db.session() as s:
        s.add(LetterRow(letter_id="3d4e5f6071829304", sha256="d" * 64, source_file="plain.pdf", source_paths=[],
                        pages=0, status="ok", version=1))
    db.close()
    c = client(app)
    login(c, "alice")
    html = c.get("/queue").text
    assert "3d4e5f6071829304" not in html and re.search(r'id="count-awaiting">2<', html)
    assert "3d4e5f6071829304" in c.get("/queue?state=none").text


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_page_image_is_turned_like_the_ocr_stage_turned_it(rotation: int, tmp_path: Path) -> None:
    from pipeline.review.app import render_page_png

    img = Image.new("RGB", (400, 600), "white")
    img.paste((255, 0, 0), (0, 0, 40, 40))  # a red mark in the top-left corner
    path = tmp_path / "p.png"
    img.save(path)
    out = Image.open(io.BytesIO(render_page_png([str(path)], 1, rotation))).convert("RGB")
    assert out.size == ((600, 400) if rotation % 180 else (400, 600))
    w, h = out.size
    # Clockwise turns: the top-left corner goes to top-right (90), bottom-right (180), bottom-left (270).
    corner = {90: (w - 5, 5), 180: (w - 5, h - 5), 270: (5, h - 5)}[rotation]
    assert out.getpixel(corner) == (255, 0, 0)


def test_pdf_page_is_rendered_in_page_proportions(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from pipeline.review.app import render_page_png

    pdf = tmp_path / "two.pdf"
    c = canvas.Canvas(str(pdf), pagesize=A4)
    c.drawString(72, 720, "page one")
    c.showPage()
    c.setPageSize((A4[1], A4[0]))  # page two is landscape
    c.drawString(72, 400, "page two")
    c.save()
    one = Image.open(io.BytesIO(render_page_png([str(pdf)], 1, 0)))
    two = Image.open(io.BytesIO(render_page_png([str(pdf)], 2, 0)))
    assert abs(one.width / one.height - A4[0] / A4[1]) < 0.01
    assert abs(two.width / two.height - A4[1] / A4[0]) < 0.01
    # At least 200 dpi (an A4 page is 8.27 in wide): sharp enough to zoom into (issue 16, defect 12).
    assert one.width >= 200 * A4[0] / 72 - 1 and two.width >= 200 * A4[1] / 72 - 1
