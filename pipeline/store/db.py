"""Engine, sessions and migrations. SQLite by default (WAL mode, foreign keys on);
any SQLAlchemy URL works for a server database (``postgresql://…`` uses psycopg 3).

Concurrency: migrations are serialised across processes (a lock file beside a SQLite
database, an advisory lock on PostgreSQL) and skipped when the schema is at head, so two
first runs on a new database both succeed. Writers go through :meth:`Database.write`,
which retries a transaction that found the database locked, with backoff, and raises
:class:`DatabaseBusy` with a clear message when it still cannot write.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.errors import (
    DatabaseBusy,
    DatabaseNotWritable,
    LettersError,
    OutOfSpace,
    StoreError,
    WriteError,
    translate_os_error,
)
from pipeline.store import snapshot as snapshot_module
from pipeline.store.location import database_url, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30.0  # SQLite waits this long for another writer's lock before each retry
WRITE_RETRIES = 4  # then tries the transaction again this many times, with backoff
MIGRATION_LOCK_KEY = 0x6C657474  # PostgreSQL advisory lock id of the migrations ("lett")
T = TypeVar("T")
log = logging.getLogger("letters")


def describe(db: str | Path) -> str:
    """The database for messages: its path, or its URL without a password."""
    path = sqlite_path(db)
    if path is not None:
        return str(path)
    from sqlalchemy.engine import make_url

    return make_url(database_url(db)).render_as_string(hide_password=True)


def _sqlite_pragmas(busy_timeout_s: float, readonly: bool) -> Callable[[object, object], None]:
    def on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        if not readonly:
            cur.execute("PRAGMA journal_mode=WAL")  # readers (the review app) never block the batch writer
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return on_connect


def _create_private(path: Path) -> None:
    """Create the database file 0600 (it holds password hashes), whatever the umask.
    SQLite gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)
    os.close(fd)


def _readonly_uri(path: Path) -> str:
    """A read-only SQLite URI. If the folder is read-only and the WAL index (-shm) is gone, SQLite
    cannot open the file in WAL mode at all; then nobody can be writing it, so open it immutable."""
    uri = f"file:{path}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True) as probe:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        uri += "&immutable=1"
    return uri


def make_engine(db: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S, readonly: bool = False) -> Engine:
    url = database_url(db)
    path = sqlite_path(db)
    if path is not None:
        if readonly:
            if not path.is_file():
                raise StoreError(f"database not found: {path}")
            uri = _readonly_uri(path)
            engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
        else:
            try:
                _create_private(path)
            except PermissionError:
                raise DatabaseNotWritable(f"cannot create the database {path}: permission denied") from None
            except OSError as exc:
                raise translate_os_error(exc, f"cannot create the database {path}") from None
            engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s, readonly))
        return engine
    try:
        if url.startswith("postgresql+psycopg://"):
            # PostgreSQL waits for a lock as long as SQLite's busy timeout, then fails with
            # lock_not_available (55P03), which the writer retries and reports as DatabaseBusy.
            return create_engine(url, connect_args={"options": f"-c lock_timeout={int(busy_timeout_s * 1000)}"})
        return create_engine(url)
    except Exception as exc:  # unknown dialect, missing driver, bad URL
        raise StoreError(f"cannot use the database {describe(db)}: {exc}") from None


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations across processes: an exclusive lock on a file beside a SQLite database.
    (PostgreSQL takes an advisory lock inside the migration's transaction instead.)"""
    name = engine.url.database if engine.dialect.name == "sqlite" else None
    if not name or name == ":memory:" or name.startswith("file:"):
        yield
        return
    path = Path(name)
    lock_path = path.with_name(path.name + ".migrate-lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def migrate(engine: Engine, revision: str = "head", snapshot: bool = True) -> None:
    """Bring the schema to ``revision`` with the versioned migrations.

    Safe to call from several processes at once: the first one to take the lock migrates;
    the others then find the schema at ``revision`` and do nothing. A database already at
    head is not written at all (no lock, no transaction). All of it runs in one transaction:
    a failure or a kill halfway leaves the schema as it was. A new SQLite database is made
    from the head schema's snapshot (``pipeline.store.snapshot``), the same schema in one step."""
    snap = snapshot_module.load() if snapshot and revision == "head" else None
    if snap is not None:
        stored = stored_revision(engine)
        if stored == snap["revision"]:
            return  # at head, known without importing Alembic
        if stored is None and engine.dialect.name == "sqlite" and _create_from_snapshot(engine, snap):
            return
    from alembic import command

    if revision == "head" and current_revision(engine) == head_revision(engine):
        return
    cfg = alembic_config(engine)
    with _migration_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction unless one is open: open it, so a migration
            # killed halfway leaves no half-made schema behind (SQLite's DDL is transactional).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)  # reads the revision again, under the lock: a no-op if another did it


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database (Alembic's table), read with plain SQL."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:  # no such table: a new (or pre-Alembic) database
            return None


def _create_from_snapshot(engine: Engine, snap: dict) -> bool:
    """Make the head schema in an empty SQLite database in one transaction; False when the
    database holds tables already (made by hand, or another process won the lock): the
    migrations then decide."""
    with _migration_lock(engine), engine.begin() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            return False
        for statement in snap["statements"]:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (snap["revision"],))
    return True


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


# --- errors -------------------------------------------------------------------------

_PG_BUSY_STATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def is_busy(exc: BaseException) -> bool:
    """A transient "someone else holds the lock" error, worth retrying."""
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        if getattr(orig, "sqlstate", None) in _PG_BUSY_STATES:
            return True
        exc = orig or exc
    msg = str(exc).lower()
    return "database is locked" in msg or "database table is locked" in msg or "database is busy" in msg


def translate_db_error(exc: BaseException, db: str) -> LettersError | None:
    """A typed error with a one-line message for a database fault a person can act on, else None."""
    msg = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else ""
    low = msg.lower()
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if state == "25006":  # PostgreSQL: read_only_sql_transaction
        return DatabaseNotWritable(f"the database {db} is read-only: cannot write to it")
    if state == "53100":  # PostgreSQL: disk_full
        return OutOfSpace(f"the database {db} cannot grow: no space left on the server's device")
    if state == "42501":  # PostgreSQL: insufficient_privilege
        return DatabaseNotWritable(f"the database {db} refuses the write: {msg}")
    if "database or disk is full" in low or "no space left" in low or "disk full" in low:
        return OutOfSpace(f"the database {db} cannot grow: no space left on the device")
    if "readonly database" in low or "read-only" in low and "database" in low:
        return DatabaseNotWritable(f"the database {db} is read-only: cannot write to it")
    if "disk i/o error" in low:
        return WriteError(f"the database {db} could not be written: disk I/O error")
    if "unable to open database file" in low:
        return StoreError(f"cannot open the database {db}: unable to open the file or create its journal beside it")
    if "file is not a database" in low or "malformed" in low:
        return StoreError(f"{db} is not a usable database: {msg}")
    if isinstance(exc, OperationalError) and ("connection" in low or "could not connect" in low):
        return StoreError(f"cannot connect to the database {db}: {msg}")
    return None


class Database:
    """A migrated database and a session factory.

    ``readonly``: open without writing anything (for export and the review queue on a
    read-only file); the schema must already be at head.
    """

    def __init__(self, db: str | Path, *, migrate_schema: bool = True, readonly: bool = False,
                 busy_timeout_s: float = BUSY_TIMEOUT_S, write_retries: int = WRITE_RETRIES) -> None:
        self.name = describe(db)
        self.readonly = readonly
        self.busy_timeout_s = busy_timeout_s
        self.write_retries = write_retries
        self.engine = make_engine(db, busy_timeout_s=busy_timeout_s, readonly=readonly)
        try:
            if readonly:
                cur, head = current_revision(self.engine), head_revision(self.engine)
                if cur != head:
                    raise StoreError(f"the database {self.name} is at schema revision {cur or 'none'}, not {head}: "
                                     "open it once with a command that writes (letters run) to migrate it")
            elif migrate_schema:
                self._retrying(lambda: migrate(self.engine), "migrating the schema")
        except LettersError:
            self.engine.dispose()
            raise
        except (DBAPIError, OSError) as exc:
            self.engine.dispose()
            typed = (translate_os_error(exc, f"database {self.name}") if isinstance(exc, OSError)
                     else translate_db_error(exc, self.name))
            if typed is None:
                raise
            raise typed from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _retrying(self, fn: Callable[[], T], what: str) -> T:
        started = time.monotonic()
        for attempt in range(self.write_retries + 1):
            try:
                return fn()
            except DBAPIError as exc:
                if not is_busy(exc):
                    typed = translate_db_error(exc, self.name)
                    if typed is None:
                        raise
                    raise typed from None
                if attempt == self.write_retries:
                    waited = time.monotonic() - started
                    raise DatabaseBusy(
                        f"the database {self.name} stayed locked by another writer for {waited:.0f} s "
                        f"({what}; {attempt + 1} tries); another `letters run`, import or backup is holding it: "
                        "run again when it has finished") from None
                delay = min(8.0, 0.25 * 2**attempt) * (0.5 + random.random())
                log.warning("database locked (%s), trying again in %.1f s", what, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def write(self, fn: Callable[[Session], T], what: str = "writing") -> T:
        """Run ``fn(session)`` in one transaction, again if the database was locked (with backoff).
        Raises DatabaseBusy when it is still locked after every retry, OutOfSpace or
        DatabaseNotWritable for those faults."""

        def once() -> T:
            with self.session() as s:
                return fn(s)

        return self._retrying(once, what)

    def checkpoint(self) -> None:
        """Fold the SQLite write-ahead log back into the database file and truncate it to zero,
        so a finished run leaves no WAL behind (even with a reader open). No-op elsewhere."""
        if self.engine.dialect.name != "sqlite" or self.readonly:
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except DBAPIError as exc:
            log.warning("WAL checkpoint failed: %s", exc)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()
