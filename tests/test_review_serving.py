"""Serving the review app (issue 16, part 3), over a real SQLite file and a real uvicorn server:
database work never blocks the event loop, a locked database answers "busy, try again" in about
2 s instead of a 500 or a 30 s wait, and behind TLS (direct, or a trusted proxy's
X-Forwarded-Proto) the session cookie is Secure and pages carry HSTS."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pipeline.review.app import create_app
from tests.test_review import LETTER_B, PASSWORDS, SECRET, build_review_db
from tests.test_review import _cheap_argon2 as _cheap_argon2  # noqa: F401  (autouse fixture)
from tests.test_review_browser import serve


def _login(c: httpx.Client) -> str:
    r = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = c.post("/login", data={"name": "alice", "password": PASSWORDS["alice"], "csrf_token": token, "next": "/queue"})
    assert r.status_code == 303, r.text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', c.get("/queue").text).group(1)


class _Locker:
    """Another program (a batch) holding the write lock: SQLite's, or PostgreSQL's table locks."""

    def __init__(self, db: str | Path) -> None:
        if "://" in str(db):
            import psycopg

            from pipeline.store.db import database_url

            self.conn = psycopg.connect(database_url(db).replace("postgresql+psycopg://", "postgresql://"))
            self.conn.execute("LOCK TABLE letters, reviews IN EXCLUSIVE MODE")  # reads go on, writes wait
        else:
            self.conn = sqlite3.connect(db, timeout=0)
            self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def test_locked_database_answers_busy_and_static_files_stay_served(db_url: str, tmp_path: Path) -> None:
    rdb = build_review_db(tmp_path, url=db_url if "://" in db_url else None)
    with serve(rdb.path) as base, httpx.Client(base_url=base, follow_redirects=False, timeout=60) as c:
        token = _login(c)
        version = c.get(f"/api/letters/{LETTER_B}").json()["version"]
        c.get("/queue")  # the queue rows are built before the lock: the save alone meets it
        locker = _Locker(rdb.path)
        try:
            answer: dict[str, object] = {}

            def save() -> None:
                t0 = time.monotonic()
                r = c.post(f"/api/letters/{LETTER_B}/decisions", headers={"X-CSRF-Token": token},
                           json={"version": version, "decisions": [
                               {"kind": "verdict", "key": "P-PARK", "value": "in_progress"}]})
                answer.update(status=r.status_code, body=r.json(), seconds=time.monotonic() - t0,
                              retry=r.headers.get("retry-after"))

            worker = threading.Thread(target=save)
            worker.start()
            time.sleep(0.1)
            # While the save waits for the lock, the event loop still serves other requests.
            with httpx.Client(base_url=base, timeout=60) as other:
                assert other.get("/static/style.css").status_code == 200
                assert other.get("/login").status_code == 200
                served_while_waiting = worker.is_alive()
            worker.join(30)
            assert served_while_waiting, "the static file came only after the save gave up"
            assert answer["status"] == 503 and answer["body"]["busy"] is True
            assert "busy" in answer["body"]["error"] and answer["retry"] == "2"
            assert answer["seconds"] < 4  # about 2 s, not SQLite's 30 s default (a bound, not a benchmark)
        finally:
            locker.release()
        r = c.post(f"/api/letters/{LETTER_B}/decisions", headers={"X-CSRF-Token": token},
                   json={"version": version, "decisions": [{"kind": "verdict", "key": "P-PARK", "value": "in_progress"}]})
        assert r.status_code == 200  # saved once the lock is gone


def test_secure_cookie_and_hsts_only_on_https(tmp_path: Path) -> None:
    rdb = build_review_db(tmp_path)
    app = create_app(rdb.path, secret_key=SECRET)
    for scheme in ("http", "https"):
        c = TestClient(app, base_url=f"{scheme}://testserver", follow_redirects=False)
        r = c.get("/login")
        cookie = r.headers["set-cookie"]
        assert ("secure" in cookie.lower()) == (scheme == "https"), cookie
        assert ("strict-transport-security" in r.headers) == (scheme == "https")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "review", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            httpx.get(url, verify=False, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.slow
def test_review_command_proxy_headers_and_tls(tmp_path: Path) -> None:
    rdb = build_review_db(tmp_path)
    env = {**os.environ, "LETTERS_SECRET_KEY": SECRET, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    p1, p2, p3 = _free_port(), _free_port(), _free_port()
    procs = [
        _start(["--db", str(rdb.path), "--port", str(p1), "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"], env),
        _start(["--db", str(rdb.path), "--port", str(p2)], env),
        _start(["--db", str(rdb.path), "--port", str(p3), "--tls-cert", str(cert), "--tls-key", str(key)], env),
    ]
    try:
        _wait_up(f"http://127.0.0.1:{p1}/login", procs[0])
        _wait_up(f"http://127.0.0.1:{p2}/login", procs[1])
        _wait_up(f"https://127.0.0.1:{p3}/login", procs[2])
        forwarded = {"X-Forwarded-Proto": "https"}
        # Behind a trusted TLS proxy: Secure cookie and HSTS.
        r = httpx.get(f"http://127.0.0.1:{p1}/login", headers=forwarded)
        assert "secure" in r.headers["set-cookie"].lower() and "strict-transport-security" in r.headers
        # Without --proxy-headers the same header is not believed.
        r = httpx.get(f"http://127.0.0.1:{p2}/login", headers=forwarded)
        assert "secure" not in r.headers["set-cookie"].lower() and "strict-transport-security" not in r.headers
        # Direct TLS.
        r = httpx.get(f"https://127.0.0.1:{p3}/login", verify=ssl.create_default_context(cafile=str(cert)))
        assert "secure" in r.headers["set-cookie"].lower() and "strict-transport-security" in r.headers
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)


def test_tls_options_go_together(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline.cli import main

    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    rdb = build_review_db(tmp_path)
    r = CliRunner().invoke(main, ["review", "--db", str(rdb.path), "--tls-cert", str(cert)])
    assert r.exit_code != 0 and "--tls-key" in r.output
