"""Accounts and sessions of the review app.

Passwords are hashed with argon2id. A session is a signed, timestamped cookie
(itsdangerous) holding a random session id, the user id and the CSRF token; the
session id and the CSRF token are replaced at login, so a cookie planted before
login is worthless afterwards. Every request re-reads the user, so a disabled
account loses access at once; logout revokes the session id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.errors import UsageError
from pipeline.store.tables import UserRow

ROLES = ("reviewer", "adjudicator", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
SESSION_MAX_AGE = 12 * 3600  # seconds; a reviewer logs in once per working day
SECRET_ENV = "LETTERS_SECRET_KEY"

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


# --- users -------------------------------------------------------------------------


def validate_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise UsageError("user name: 1-64 characters of letters, digits, _ . @ -")
    return name


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"password: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_user(session: Session, name: str, role: str, password: str) -> UserRow:
    """Create a user; raises UsageError for a bad name/role/password or an existing name."""
    validate_name(name)
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}")
    if session.scalars(select(UserRow).where(UserRow.name == name)).first():
        raise UsageError(f"user {name!r} exists already")
    row = UserRow(name=name, role=role, password_hash=hash_password(password), active=True)
    session.add(row)
    session.flush()
    return row


def set_password(session: Session, name: str, password: str) -> None:
    row = session.scalars(select(UserRow).where(UserRow.name == name)).first()
    if row is None:
        raise UsageError(f"no user {name!r}")
    row.password_hash = hash_password(password)


def set_active(session: Session, name: str, active: bool) -> None:
    row = session.scalars(select(UserRow).where(UserRow.name == name)).first()
    if row is None:
        raise UsageError(f"no user {name!r}")
    row.active = active


def authenticate(session: Session, name: str, password: str) -> UserRow | None:
    """The active user with this name and password, else None (constant-ish time either way)."""
    row = session.scalars(select(UserRow).where(UserRow.name == name)).first() if NAME_RE.match(name) else None
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    return row


# --- secret key --------------------------------------------------------------------


def load_secret_key(db: str | Path, explicit: str | None = None) -> str:
    """The signing key: explicit, else $LETTERS_SECRET_KEY, else a key file next to the
    SQLite database (created once with mode 0600) so restarts keep sessions valid."""
    if explicit:
        return explicit
    if env := os.environ.get(SECRET_ENV):
        return env
    text = str(db)
    if "://" in text and not text.startswith("sqlite:///"):
        # A server database has no "next to it"; sessions then end with the process.
        return secrets.token_urlsafe(48)
    path = Path(text.removeprefix("sqlite:///")).resolve()
    key_path = path.with_name(path.name + ".secret")
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = key_path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
        raise UsageError(f"secret key file {key_path} is too short; delete it to make a new one") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


# --- sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionData:
    sid: str
    csrf: str
    uid: int | None = None  # None: an anonymous session (the login form's CSRF token)
    pw: str | None = None  # password_tag() at login: a password change ends every session

    def to_dict(self) -> dict[str, object]:
        return {"sid": self.sid, "csrf": self.csrf, "uid": self.uid, "pw": self.pw}


def password_tag(password_hash: str) -> str:
    """A short fingerprint of the stored hash (not of the password) to bind sessions to it."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class SessionCodec:
    """Signs and checks session cookies; remembers session ids revoked by logout."""

    def __init__(self, secret_key: str, max_age: int = SESSION_MAX_AGE) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="letters-review-session")
        self.max_age = max_age
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def new(uid: int | None = None, pw: str | None = None) -> SessionData:
        return SessionData(sid=secrets.token_urlsafe(24), csrf=secrets.token_urlsafe(32), uid=uid, pw=pw)

    def dumps(self, data: SessionData) -> str:
        return self._s.dumps(data.to_dict())

    def loads(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            raw = self._s.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also covers SignatureExpired
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("sid"), str) or not isinstance(raw.get("csrf"), str):
            return None
        uid, pw = raw.get("uid"), raw.get("pw")
        if (uid is not None and not isinstance(uid, int)) or (pw is not None and not isinstance(pw, str)):
            return None
        with self._lock:
            if raw["sid"] in self._revoked:
                return None
        return SessionData(raw["sid"], raw["csrf"], uid, pw)

    def revoke(self, sid: str) -> None:
        now = time.time()
        with self._lock:
            self._revoked[sid] = now
            # Forget revocations older than any cookie that could still carry them.
            for k in [k for k, t in self._revoked.items() if now - t > self.max_age]:
                del self._revoked[k]


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# --- login rate limiting -----------------------------------------------------------


class RateLimiter:
    """At most ``limit`` failed logins per (name, client IP), and ``ip_limit`` per IP,
    within ``window`` seconds. In memory: a restart forgets, which is acceptable for
    a single-process app behind a login."""

    def __init__(self, limit: int = 5, window: float = 300.0, ip_limit: int = 30) -> None:
        self.limit, self.window, self.ip_limit = limit, window, ip_limit
        self._fails: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails[key]
        while q and now - q[0] > self.window:
            q.popleft()
        if not q:
            del self._fails[key]
            return deque()
        return q

    def blocked(self, name: str, ip: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            for key, limit in (((name.lower(), ip), self.limit), (("", ip), self.ip_limit)):
                q = self._recent(key, now)
                if len(q) >= limit:
                    wait = max(wait, self.window - (now - q[-limit]))
            return wait

    def fail(self, name: str, ip: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._fails) > 10_000:  # many names tried: drop the expired entries
                for key in list(self._fails):
                    self._recent(key, now)
            self._fails[(name.lower(), ip)].append(now)
            self._fails[("", ip)].append(now)

    def succeed(self, name: str, ip: str) -> None:
        with self._lock:
            self._fails.pop((name.lower(), ip), None)
