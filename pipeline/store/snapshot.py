"""The SQLite schema at the head migration, as the statements that make it: a new database
file is created from them in one transaction, without importing Alembic or replaying every
migration (SQLite's ALTERs copy whole tables). The migrations stay the one source of truth:
``python -m pipeline.store.snapshot`` writes the file by running them on an empty database,
and a test checks that the committed file is what they make and that both ways give the
same schema.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
from functools import cache
from pathlib import Path

SNAPSHOT_PATH = Path(__file__).resolve().parent / "migrations" / "sqlite_schema.json"
VERSIONS_DIR = SNAPSHOT_PATH.parent / "versions"


def migration_files() -> list[str]:
    return sorted(p.name for p in VERSIONS_DIR.glob("*.py"))


@cache
def load() -> dict | None:
    """The snapshot, or None when it is missing or was made from other migration files (a new
    migration not snapshotted yet): then the migrations run as they always did."""
    try:
        snap = json.loads(SNAPSHOT_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return snap if snap.get("migrations") == migration_files() else None


def schema_statements(conn: sqlite3.Connection) -> list[str]:
    """The statements that recreate the schema of ``conn``'s database, in creation order.
    An FTS table's own shadow tables are left out: creating the virtual table makes them."""
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").fetchall()
    virtual = [name for kind, name, sql in rows if kind == "table" and sql.upper().startswith("CREATE VIRTUAL TABLE")]
    return [sql for kind, name, sql in rows
            if not name.startswith("sqlite_")
            and not (kind == "table" and any(name.startswith(v + "_") for v in virtual))]


def make() -> dict:
    """The snapshot made by running the migrations on an empty SQLite database."""
    from pipeline.store.db import current_revision, make_engine, migrate

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Path(tmp) / "schema.db")
        try:
            migrate(engine, "head", snapshot=False)
            revision = current_revision(engine)
        finally:
            engine.dispose()
        with sqlite3.connect(Path(tmp) / "schema.db") as conn:
            statements = schema_statements(conn)
    return {"revision": revision, "migrations": migration_files(), "statements": statements}


def write(path: Path = SNAPSHOT_PATH) -> Path:
    text = json.dumps(make(), ensure_ascii=False, indent=1) + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    load.cache_clear()
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1]) if len(sys.argv) > 1 else SNAPSHOT_PATH))
