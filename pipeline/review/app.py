"""The reviewer web app (FastAPI + Jinja2, plain JS, no build step).

Reviewers log in, work through a queue of letters with machine suggestions and
confirm or correct them; every decision becomes an append-only review row (see
:mod:`pipeline.review.decisions`). The app reads the store only; it never runs
the pipeline's stages except :func:`load_page_image` to show a stored page.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import DatabaseBusy, LettersError
from pipeline.review import auth, i18n
from pipeline.review.agreement import LETTER_KINDS, disputes, scoped_agreement
from pipeline.review.decisions import (
    ADJUDICATOR_ROLES,
    Conflict,
    DecisionError,
    DecisionIn,
    NotFound,
    normalise_field,
    save_decisions,
    undo_last,
)
from pipeline.review.promises import add_promise_routes
from pipeline.review.queries import (
    BULK_MIN_CONFIDENCE,
    VERDICTS,
    QueueFilters,
    build_queue,
    bulk_candidates,
    decided_today,
    letter_state_json,
    letter_view,
    neighbours,
)
from pipeline.schema import FIELD_NAMES
from pipeline.store import queue as queue_store
from pipeline.store.db import Database, is_busy
from pipeline.store.repo import effective_decisions
from pipeline.store.tables import LetterRow, PageRow, UserRow

log = logging.getLogger("letters.review")

HERE = Path(__file__).resolve().parent
COOKIE = "letters_session"
PAGE_DPI = 200  # sharp when zoomed in; boxes scale with the page, not the pixels
PAGE_MAX_WIDTH = 3400  # an A4 page at 200 dpi is 1654 px wide, A3 2339 px
PAGE_CACHE = 24  # rendered pages kept in memory
MAX_DECISIONS = 50
# A locked database (a batch holding SQLite's write lock) answers within ~2 s instead of a 500 or a
# 30 s wait: each try waits this long for the lock, and a save is tried twice.
BUSY_TIMEOUT_S = 0.7
WRITE_RETRIES = 1
BUSY = "The database is busy (another program is writing to it): not saved. Try again in a moment."
HSTS = "max-age=31536000; includeSubDomains"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str


class LoginRequired(Exception):
    """Raised by page handlers without a session; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageCache:
    """A small LRU of rendered page PNGs (rendering a PDF page costs ~0.1-0.5 s)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
            return None

    def put(self, key: tuple[object, ...], value: bytes) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)


class SourceCheck:
    """Is the letter's file still the one that was processed? The SHA-256 of its bytes (its pages'
    bytes in page order) is compared with the stored one; a result is remembered while the files'
    size and modification time stay the same, so a page costs one hash per file change."""

    def __init__(self) -> None:
        self._ok: dict[tuple[object, ...], str | None] = {}
        self._lock = threading.Lock()

    def check(self, paths: list[str], sha256: str | None) -> str | None:
        """None if the files match ``sha256``, else what is wrong, for the reviewer."""
        if not paths or not sha256:
            return "this letter has no stored file to show"
        stamp: list[object] = [sha256]
        for raw in paths:
            try:
                st = Path(raw).stat()
            except OSError:
                return f"the scan {Path(raw).name} is no longer where it was processed ({raw})"
            stamp.append((raw, st.st_size, st.st_mtime_ns))
        key = tuple(stamp)
        with self._lock:
            if key in self._ok:
                return self._ok[key]
        digest = hashlib.sha256()
        try:
            for raw in paths:
                with Path(raw).open("rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):  # type: ignore[misc]
                        digest.update(chunk)
        except OSError as exc:
            return f"the scan cannot be read: {exc.strerror or exc}"
        problem = None if digest.hexdigest() == sha256 else (
            f"the file at {paths[0]} has changed since this letter was processed "
            "(its SHA-256 differs): it is not shown, so no other scan appears under this letter's boxes")
        with self._lock:
            self._ok[key] = problem
        return problem


def safe_next(url: str | None) -> str:
    """Only same-site relative paths: no open redirect through ?next=."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/queue"
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return "/queue"
    return url


def create_app(db_path: str | Path, *, secret_key: str | None = None, readonly: bool = False,
               default_lang: str = i18n.DEFAULT) -> FastAPI:
    """The review app over the database at ``db_path`` (a file or SQLAlchemy URL).

    The session signing key is ``secret_key``, else $LETTERS_SECRET_KEY, else a key
    file created next to the database (with a read-only database whose folder takes no
    key file: a key for this process only). ``readonly``: the database is opened without
    writing; letters can be read, decisions cannot be saved.
    """
    db = Database(db_path, readonly=readonly, busy_timeout_s=BUSY_TIMEOUT_S, write_retries=WRITE_RETRIES)
    try:
        key = auth.load_secret_key(db_path, secret_key)
    except OSError:
        if not readonly:
            raise
        key = secrets.token_urlsafe(48)
    codec = auth.SessionCodec(key)
    limiter = auth.RateLimiter()
    pages_cache = PageCache(PAGE_CACHE)
    sources = SourceCheck()
    envs: dict[str, Environment] = {}
    for lang in i18n.LANGUAGES:  # one template environment per interface language
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
        env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
        env.globals.update(verdicts=VERDICTS, field_names=FIELD_NAMES, ui_lang=lang, languages=i18n.LANGUAGES,
                           js_labels=json.dumps(i18n.js_labels(lang), ensure_ascii=False))
        env.filters["label"] = lambda code, lang=lang: i18n.label(lang, code)
        envs[lang] = env

    def ui_lang(request: Request) -> str:
        chosen = request.cookies.get(i18n.COOKIE)
        return chosen if chosen in i18n.LANGUAGES else default_lang

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.close()

    app = FastAPI(title="letters review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.db = db
    app.state.codec = codec
    app.state.limiter = limiter
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # --- plumbing ------------------------------------------------------------------

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if request.url.scheme == "https":  # direct TLS, or a trusted proxy's X-Forwarded-Proto
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> Response:
        # A read that found the database locked past the busy timeout: say so, do not fail with a 500.
        if not is_busy(exc):
            raise exc
        log.warning("database busy on %s %s", request.method, request.url.path)
        if request.url.path.startswith("/api/") or request.url.path.endswith(".png"):
            return JSONResponse({"error": BUSY, "busy": True}, status_code=503, headers={"Retry-After": "2"})
        lang = ui_lang(request)
        return HTMLResponse(f'<!doctype html><html lang="{lang}"><title>busy</title><p>{i18n.translate(lang, BUSY)}</p>', status_code=503,
                            headers={"Retry-After": "2"})

    def tr(request: Request, message: str) -> str:
        """A server message in the reviewer's interface language."""
        return i18n.translate(ui_lang(request), message)

    def conflict_text(request: Request, exc: Conflict) -> str:
        if exc.reviewer:
            return tr(request, "This letter was changed by %(who)s at %(at)s UTC after you opened it, so your change "
                               "was NOT saved. Reload the letter to see the current decisions, then decide again.") \
                % {"who": exc.reviewer, "at": exc.at}
        return tr(request, "This letter was changed after you opened it, so your change was NOT saved. Reload the "
                           "letter to see the current decisions, then decide again.")

    def render(request: Request, name: str, status_code: int = 200, session: auth.SessionData | None = None,
               **ctx: Any) -> HTMLResponse:
        sess = session or codec.loads(request.cookies.get(COOKIE))
        html = envs[ui_lang(request)].get_template(name).render(request=request, csrf=sess.csrf if sess else "", **ctx)
        return HTMLResponse(html, status_code=status_code)

    def set_session_cookie(request: Request, response: Response, sess: auth.SessionData) -> None:
        response.set_cookie(COOKIE, codec.dumps(sess), httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https", max_age=codec.max_age)

    def session_user(request: Request) -> tuple[auth.SessionData, User] | None:
        sess = codec.loads(request.cookies.get(COOKIE))
        if sess is None or sess.uid is None:
            return None
        with db.session() as s:
            row = s.get(UserRow, sess.uid)
            if row is None or not row.active or sess.pw != auth.password_tag(row.password_hash):
                return None
            return sess, User(row.id, row.name, row.role)

    def page_user(request: Request) -> tuple[auth.SessionData, User]:
        found = session_user(request)
        if found is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        return found

    def api_user(request: Request) -> tuple[auth.SessionData, User]:
        found = session_user(request)
        if found is None:
            raise HTTPException(401, "login required")
        return found

    def check_origin(request: Request) -> None:
        # Defence in depth next to the CSRF token: a browser's cross-site POST names its origin.
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("host", "")
            if urlsplit(origin).netloc != host:
                raise HTTPException(403, "cross-origin request refused")

    async def check_csrf(request: Request, sess: auth.SessionData, form: Any = None) -> None:
        csrf_check(request, sess, form)

    def csrf_check(request: Request, sess: auth.SessionData, form: Any = None) -> None:
        check_origin(request)
        given = request.headers.get("x-csrf-token")
        if given is None and form is not None:
            given = form.get("csrf_token")
        if not auth.csrf_ok(sess.csrf, given if isinstance(given, str) else None):
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        wants_json = request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")
        if wants_json or request.url.path.endswith(".png"):
            return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)
        found = await run_in_threadpool(session_user, request)
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code,
                      message=tr(request, str(exc.detail)), user=found[1] if found else None)

    def refresh_queue() -> None:
        """Rebuild queue rows gone stale (letters run or changed since), in a short write of its
        own. A busy or read-only database shows the rows as they are instead of waiting."""
        if db.readonly:
            return
        try:
            with db.session() as s:
                if queue_store.get_setting(s, queue_store.LOGIC_KEY) == queue_store.LOGIC_VERSION \
                        and queue_store.is_fresh(s):
                    return  # the common case: nothing to write, no write lock taken
            db.write(queue_store.refresh_stale, "refreshing the review queue")
        except (DatabaseBusy, IntegrityError) as exc:  # another process is writing, or refreshed them first
            log.info("queue rows not refreshed now: %s", exc)

    # --- accounts ------------------------------------------------------------------

    @app.get("/lang/{code}")
    def choose_language(request: Request, code: str, next: str = "/queue") -> Response:
        """Switch the interface language (Ukrainian or English); kept in a cookie for a year."""
        if code not in i18n.LANGUAGES:
            raise HTTPException(404, "no such language")
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, samesite="lax", path="/",
                            secure=request.url.scheme == "https")
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/queue") -> Response:
        sess = codec.loads(request.cookies.get(COOKIE))
        fresh = sess is None
        sess = sess or codec.new()
        response = render(request, "login.html", session=sess, next=safe_next(next), error=None, user=None)
        if fresh:
            set_session_cookie(request, response, sess)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        # Password hashing and the database read run in the thread pool: the event loop stays free.
        return await run_in_threadpool(login_checked, request, form)

    def login_checked(request: Request, form: Any) -> Response:
        sess = codec.loads(request.cookies.get(COOKIE))
        if sess is None:
            raise HTTPException(403, "your login form expired; reload the page")
        csrf_check(request, sess, form)
        name = str(form.get("name") or "").strip()[:64]
        password = str(form.get("password") or "")[:1024]
        next_url = safe_next(str(form.get("next") or ""))
        ip = request.client.host if request.client else "?"
        wait = limiter.blocked(name, ip)
        if wait > 0:
            return render(request, "login.html", status_code=429, session=sess, next=next_url, user=None,
                          error=tr(request, "Too many failed logins. Try again in %(min)d min.") % {"min": int(wait // 60) + 1})
        with db.session() as s:
            row = auth.authenticate(s, name, password)
            user = User(row.id, row.name, row.role) if row else None
            tag = auth.password_tag(row.password_hash) if row else None
        if user is None:
            limiter.fail(name, ip)
            log.warning("failed login for %r from %s", name, ip)
            return render(request, "login.html", status_code=401, session=sess, next=next_url, user=None,
                          error=tr(request, "Wrong name or password."))
        limiter.succeed(name, ip)
        # A new session id and CSRF token at login: a cookie planted before login stays anonymous.
        codec.revoke(sess.sid)
        new = codec.new(uid=user.id, pw=tag)
        response = RedirectResponse(next_url, status_code=303)
        set_session_cookie(request, response, new)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        sess, _ = await run_in_threadpool(api_user, request)
        form = await request.form()
        csrf_check(request, sess, form)
        codec.revoke(sess.sid)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- pages ---------------------------------------------------------------------

    @app.get("/")
    def home() -> Response:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request) -> Response:
        sess, user = page_user(request)
        filters = QueueFilters.from_params(request.query_params)
        refresh_queue()
        page = _int_or_none(request.query_params.get("page")) or 1
        with db.session() as s:
            queue = build_queue(s, filters, viewer=user.name, page=page, refresh=False)
            bulk = queue.bulk if filters.state == "awaiting" else 0
        qs = urlencode(filters.params())
        accepted = _int_or_none(request.query_params.get("accepted"))
        nostate = urlencode({k: v for k, v in filters.params().items() if k not in ("state", "needs")})
        return render(request, "queue.html", session=sess, user=user, queue=queue, filters=filters, qs=qs,
                      qs_nostate=nostate, bulk=bulk, bulk_min=BULK_MIN_CONFIDENCE, accepted=accepted)

    @app.post("/queue/accept")
    async def bulk_accept(request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(bulk_accept_now, request, form)

    def bulk_accept_now(request: Request, form: Any) -> Response:
        """Accept every suggestion of the filtered, high-confidence, unflagged letters: one audited
        save per letter (the same review rows, version check and undo as a single decision)."""
        sess, user = page_user(request)
        csrf_check(request, sess, form)
        filters = QueueFilters.from_params(request.query_params)
        expected = _int_or_none(form.get("expected"))
        refresh_queue()
        with db.session() as s:
            todo = bulk_candidates(s, filters)
        if expected is not None and expected != len(todo):
            raise HTTPException(409, f"the set changed since the page was shown ({expected} then, {len(todo)} now): "
                                     "reload the queue and check it again")
        note = f"bulk accept of {len(todo)} letters (confidence >= {BULK_MIN_CONFIDENCE:.2f}, filters {filters.params()})"
        done = 0
        for lid, version, pairs in todo:
            items = [DecisionIn("verdict", pid, verdict, note) for pid, verdict in pairs]
            try:
                db.write(with_queue_row(lid, lambda s, lid=lid, version=version, items=items:
                                        save_decisions(s, lid, version, user.name, items, user.role)), "bulk accept")
                done += 1
            except (Conflict, DecisionError):
                continue  # someone decided it meanwhile: theirs stands
            except DatabaseBusy:
                raise HTTPException(503, BUSY, headers={"Retry-After": "2"}) from None
        params = {**filters.params(), "accepted": str(done)}
        return RedirectResponse("/queue?" + urlencode(params), status_code=303)

    @app.get("/letters/{letter_id}", response_class=HTMLResponse)
    def letter_page(request: Request, letter_id: str) -> Response:
        sess, user = page_user(request)
        filters = QueueFilters.from_params(request.query_params)
        with db.session() as s:
            view = letter_view(s, letter_id)
        if view is None:
            raise HTTPException(404, "no such letter")
        back = request.query_params.get("back", "")
        back_url = None
        if back and back != letter_id and _LETTER_ID.fullmatch(back):
            back_url = _with_query(f"/letters/{back}", filters)
        with db.session() as s:
            today = decided_today(s, user.name)
        return render(request, "letter.html", session=sess, user=user, view=view,
                      qs=urlencode(filters.params()), conflict=None, submitted=None, back_url=back_url, today=today)

    @app.get("/letters/{letter_id}/{direction}")
    def step(request: Request, letter_id: str, direction: str) -> Response:
        """n / p: the neighbour in the reviewer's (filtered) queue, worked out when asked, so
        opening a letter does not pay for ordering the whole queue."""
        if direction not in ("next", "prev"):
            raise HTTPException(404, "not found")
        _sess, user = page_user(request)
        filters = QueueFilters.from_params(request.query_params)
        refresh_queue()
        with db.session() as s:
            prev_id, next_id = neighbours(s, letter_id, filters, viewer=user.name, refresh=False)
        target = next_id if direction == "next" else prev_id
        path = f"/letters/{target}" if target else "/queue"
        url = _with_query(path, filters)
        if target and direction == "next":
            # The letter just left may be out of the queue now (reviewed): p comes back to it.
            url += ("&" if "?" in url else "?") + urlencode({"back": letter_id})
        return RedirectResponse(url, status_code=303)

    @app.get("/letters/{letter_id}/pages/{page}.png")
    def page_image(request: Request, letter_id: str, page: str) -> Response:
        api_user(request)
        if not page.isascii() or not page.isdigit() or len(page) > 5:
            raise HTTPException(404, "no such page")
        page_no = int(page)
        # The file to render comes from the database row only, never from the request.
        with db.session() as s:
            letter = s.get(LetterRow, letter_id)
            row = s.get(PageRow, (letter_id, page_no)) if letter else None
            if letter is None or row is None or page_no < 1:
                raise HTTPException(404, "no such page")
            paths = [str(p) for p in (letter.source_paths or [])]
            key = (letter_id, page_no, letter.sha256, row.rotation)
            rotation = row.rotation
            sha256 = letter.sha256
        problem = sources.check(paths, sha256)
        if problem:
            # 404: the file is gone; 409: a file is there but it is not this letter's.
            raise HTTPException(409 if "SHA-256" in problem else 404, problem)
        png = pages_cache.get(key)
        if png is None:
            png = render_page_png(paths, page_no, rotation)
            pages_cache.put(key, png)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/letters/{letter_id}/fields")
    async def save_fields(request: Request, letter_id: str) -> Response:
        """Save the fields a reviewer changed, or confirm one field (the row's own button): a
        field nobody touched is never written, so a save cannot vouch for a garbled value."""
        form = await request.form()
        return await run_in_threadpool(save_fields_now, request, letter_id, form)

    def save_fields_now(request: Request, letter_id: str, form: Any) -> Response:
        sess, user = page_user(request)
        csrf_check(request, sess, form)
        version = _int(form.get("version"))
        note = str(form.get("note") or "")
        submitted = {name: str(form.get(f"field_{name}") or "") for name in FIELD_NAMES if f"field_{name}" in form}
        confirm = str(form.get("confirm") or "")
        filters = QueueFilters.from_params(request.query_params)
        with db.session() as s:
            view = letter_view(s, letter_id)
        if view is None:
            raise HTTPException(404, "no such letter")

        def again(status: int, message: str, conflict: str | None = None) -> Response:
            with db.session() as s:
                fresh = letter_view(s, letter_id)
            # Show the reviewer's own values again so nothing typed is lost.
            return render(request, "letter.html", status_code=status, session=sess, user=user, view=fresh,
                          qs=urlencode(filters.params()), conflict=conflict, submitted=submitted,
                          field_error=message, submitted_note=note)

        changes = []
        try:
            for f in view.fields:
                if f.name not in submitted:
                    continue
                value = normalise_field(f.name, submitted[f.name])
                if confirm:
                    if f.name == confirm:
                        changes.append(DecisionIn("field", f.name, value or "", note or None))
                elif value != (f.value or None):
                    changes.append(DecisionIn("field", f.name, value or "", note or None))
        except DecisionError as exc:
            return again(400, str(exc))
        if confirm and confirm not in FIELD_NAMES:
            raise HTTPException(400, "unknown field")
        if not changes:
            return RedirectResponse(_with_query(f"/letters/{letter_id}", filters), status_code=303)
        try:
            db.write(with_queue_row(letter_id, lambda s: save_decisions(s, letter_id, version, user.name, changes,
                                                                          user.role)), "saving decisions")
        except DatabaseBusy:
            raise HTTPException(503, BUSY, headers={"Retry-After": "2"}) from None
        except LettersError as exc:  # read-only database, disk full
            raise HTTPException(503, f"not saved: {exc}") from None
        except Conflict as exc:
            return again(409, "", conflict=conflict_text(request, exc))
        except DecisionError as exc:
            return again(400, str(exc))
        return RedirectResponse(_with_query(f"/letters/{letter_id}", filters), status_code=303)

    # --- JSON API used by the page script ------------------------------------------

    @app.get("/api/letters/{letter_id}")
    def letter_json(request: Request, letter_id: str) -> Response:
        api_user(request)
        with db.session() as s:
            view = letter_view(s, letter_id)
        if view is None:
            raise HTTPException(404, "no such letter")
        return JSONResponse(letter_state_json(view))

    @app.post("/api/letters/{letter_id}/decisions")
    async def decide(request: Request, letter_id: str) -> Response:
        body = await _json_body(request)
        return await run_in_threadpool(decide_now, request, letter_id, body)

    def decide_now(request: Request, letter_id: str, body: dict[str, Any]) -> Response:
        sess, user = api_user(request)
        csrf_check(request, sess)
        version = _int(body.get("version"))
        raw = body.get("decisions")
        if not isinstance(raw, list) or not raw or len(raw) > MAX_DECISIONS:
            raise HTTPException(400, "decisions: a list of 1-50 items")
        items = []
        for d in raw:
            if not isinstance(d, dict):
                raise HTTPException(400, "each decision is an object")
            value, note = d.get("value"), d.get("note")
            items.append(DecisionIn(str(d.get("kind", "")), str(d.get("key", ""))[:64],
                                    value if isinstance(value, str) else None,
                                    note if isinstance(note, str) else None))
        return _apply(request, letter_id, lambda s: save_decisions(s, letter_id, version, user.name, items, user.role))

    @app.post("/api/letters/{letter_id}/undo")
    async def undo(request: Request, letter_id: str) -> Response:
        body = await _json_body(request)
        return await run_in_threadpool(undo_now, request, letter_id, body)

    def undo_now(request: Request, letter_id: str, body: dict[str, Any]) -> Response:
        sess, user = api_user(request)
        csrf_check(request, sess)
        version = _int(body.get("version"))
        return _apply(request, letter_id, lambda s: undo_last(s, letter_id, version, user.name))

    def _apply(request: Request, letter_id: str, action: Any) -> Response:
        try:
            db.write(with_queue_row(letter_id, action), "saving decisions")
        except DatabaseBusy:
            return JSONResponse({"error": tr(request, BUSY), "busy": True}, status_code=503,
                                headers={"Retry-After": "2"})
        except LettersError as exc:  # read-only database, disk full
            return JSONResponse({"error": f"not saved: {exc}"}, status_code=503)
        except NotFound:
            raise HTTPException(404, "no such letter") from None
        except Conflict as exc:
            return JSONResponse({"error": conflict_text(request, exc), "conflict": True,
                                 "version": exc.current_version}, status_code=409)
        except DecisionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with db.session() as s:
            view = letter_view(s, letter_id)
        assert view is not None
        return JSONResponse(letter_state_json(view))

    @app.get("/adjudicate", response_class=HTMLResponse)
    def adjudication_page(request: Request) -> Response:
        """Targets where reviewers disagree, for an adjudicator or admin to decide."""
        sess, user = page_user(request)
        if user.role not in ADJUDICATOR_ROLES:
            raise HTTPException(403, "the adjudication queue is for adjudicators and admins")
        with db.session() as s:
            items, total = disputes(s)
        return render(request, "adjudicate.html", session=sess, user=user, items=items, total=total)

    @app.get("/stats", response_class=HTMLResponse)
    def stats_page(request: Request) -> Response:
        """Agreement between reviewers: Cohen's kappa per pair and per verdict."""
        sess, user = page_user(request)
        with db.session() as s:
            human = effective_decisions(s)
            rows, scope = scoped_agreement(s, human)
            open_disputes = sum(1 for (lid, kind, _), d in human.items() if d.disputed and lid and kind in LETTER_KINDS)
        return render(request, "stats.html", session=sess, user=user, rows=rows, disputes=open_disputes, scope=scope)

    add_promise_routes(app, db, render, page_user, api_user, check_csrf)
    return app


_LETTER_ID = re.compile(r"[0-9a-f]{16}")


def with_queue_row(letter_id: str, action: Any) -> Any:
    """``action`` then the letter's queue row rebuilt, in the same transaction, so the queue never
    shows a decision's letter in its old state. A clash with another process rebuilding the same
    row is left to :func:`pipeline.store.queue.refresh_stale` (the decision itself stands)."""

    def run(s: Any) -> Any:
        fresh = queue_store.is_fresh(s)
        result = action(s)
        if s.get_bind().dialect.name == "sqlite":  # one writer at a time: no clash possible
            queue_store.refresh_letter(s, letter_id, fresh)
            return result
        try:
            with s.begin_nested():
                queue_store.refresh_letter(s, letter_id, fresh)
        except IntegrityError:
            log.info("queue row of %s rebuilt by another process meanwhile", letter_id)
        return result

    return run


def _with_query(path: str, filters: QueueFilters) -> str:
    qs = urlencode(filters.params())
    return f"{path}?{qs}" if qs else path


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _int(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise HTTPException(400, "version: an integer is required") from None


async def _json_body(request: Request) -> dict[str, Any]:
    if "application/json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "send JSON")
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "bad JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "bad JSON")
    return body


def render_page_png(source_paths: list[str], page_no: int, rotation: int) -> bytes:
    """The stored page turned the way the OCR stage turned it, so word boxes line up."""
    from pipeline.stages.text import load_page_image

    try:
        img = load_page_image(source_paths, page_no, dpi=PAGE_DPI)
    except LettersError as exc:
        raise HTTPException(404, f"page cannot be shown: {exc}") from None
    except (OSError, Image.DecompressionBombError):
        raise HTTPException(404, "page cannot be shown") from None
    if rotation % 360:
        from pipeline.stages.prepare import rotate_quarter

        img = rotate_quarter(img, rotation)  # the OCR stage's own turn: boxes are in that image's pixels
    if img.width > PAGE_MAX_WIDTH:
        img = img.resize((PAGE_MAX_WIDTH, round(img.height * PAGE_MAX_WIDTH / img.width)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()
