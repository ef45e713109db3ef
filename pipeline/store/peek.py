"""Reads of a SQLite database with the sqlite3 module alone, for a run that has not imported
SQLAlchemy yet (~0.3 s): what it learns here lets its workers start before the store is open.

Each read mirrors a query of :mod:`pipeline.store.repo` (a test holds them equal) and answers
None whenever it cannot be sure (a server database, a file it cannot read, a schema it does
not know): the caller then waits for the real query.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from pipeline.schema import Status
from pipeline.store.location import sqlite_path


def done_letters(db: str | Path) -> dict[str, str] | None:
    """letter_id -> sha256 of the letters processed without failure, as
    :func:`pipeline.store.repo.done_letters` reads them; {} when the database does not exist yet."""
    path = sqlite_path(db)
    if path is None:
        return None
    if not path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as conn:
            rows = conn.execute("SELECT letter_id, sha256 FROM letters WHERE status != ?",
                                (Status.FAILED.value,)).fetchall()
    except sqlite3.Error:  # locked past the timeout, not a database, no such table (yet)
        return None
    return {str(lid): str(sha) for lid, sha in rows}
