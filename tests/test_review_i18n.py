"""The review app's interface languages (issue 16, part 5): Ukrainian by default, English on
request, gettext catalogues compiled from the .po file at start (no .mo in the repository), labels
instead of raw codes, and ``lang`` attributes that say which language each part is in."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from jinja2.ext import babel_extract

from pipeline.review import i18n
from pipeline.review.app import create_app
from tests import test_review as _base
from tests.test_review import LETTER_A, SECRET, ReviewDb, login

_cheap_argon2, _template_db, rdb = _base._cheap_argon2, _base._template_db, _base.rdb
_pg_template_db = _base._pg_template_db  # the PostgreSQL case of rdb
TEMPLATES = Path(i18n.__file__).resolve().parent / "templates"


def test_every_message_has_a_ukrainian_translation() -> None:
    # Labels, the server's flash and error messages, the page scripts' messages, every template string.
    wanted = set(i18n.LABELS.values()) | set(i18n.MESSAGES) | set(i18n.JS_MESSAGES)
    for t in TEMPLATES.glob("*.html"):
        with t.open("rb") as fh:
            for _, _, msg, _ in babel_extract(fh, ("_", "gettext", "ngettext"), [], {}):
                wanted.add(msg if isinstance(msg, str) else msg[0])  # (singular, plural | None, ...) for calls with arguments
    with (i18n.LOCALE_DIR / "uk" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="uk")
    have = {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in catalog if m.id}
    missing = sorted(w for w in wanted if not (have.get(w) if isinstance(have.get(w), str) else all(have.get(w) or [""])))
    assert not missing, missing
    assert not list(i18n.LOCALE_DIR.rglob("*.mo"))  # compiled at start, never committed
    assert i18n.label("uk", "in_progress") == "виконується" and i18n.label("en", "in_progress") == "in progress"
    assert i18n.label("uk", "sender_org") == "установа-відправник"
    assert i18n.label("uk", "P-BRIDGE") == "P-BRIDGE"  # not a code: left as it is


def test_ukrainian_by_default_english_on_request(rdb: ReviewDb) -> None:
    c = TestClient(create_app(rdb.path, secret_key=SECRET), follow_redirects=False)
    login(c, "alice")
    html = c.get("/queue").text
    assert '<html lang="uk">' in html and ">Черга<" in html and "очікують" in html
    assert "needs_review" not in html.split("<tbody>")[1].split("</tbody>")[0].replace('class="needs', "")
    letter = c.get(f"/letters/{LETTER_A}").text
    assert "виконано" in letter and "in_progress</b>" not in letter  # labels, not codes
    assert "дата листа" in letter and ">letter_date<" not in letter
    assert '<blockquote class="passage" lang="uk">' in letter and '<pre lang="uk">' in letter
    r = c.get("/lang/en", params={"next": f"/letters/{LETTER_A}"})
    assert r.status_code == 303 and r.headers["location"] == f"/letters/{LETTER_A}"
    letter = c.get(f"/letters/{LETTER_A}").text
    assert '<html lang="en">' in letter and ">Promises<" in letter and "in progress" in letter
    assert '<blockquote class="passage" lang="uk">' in letter  # the letter itself is still Ukrainian
    assert c.get("/lang/de").status_code == 404
    assert c.get("/lang/en", params={"next": "https://evil.example/"}).headers["location"] == "/queue"
