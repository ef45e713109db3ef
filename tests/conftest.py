"""Shared fixtures: a real PostgreSQL server for the store tests (next to the real SQLite file).

``pg_url`` gives a fresh, empty PostgreSQL database per test on one throwaway server per
session (see tests/pgserver.py). ``db_url`` is parametrised over SQLite and PostgreSQL, so a
store test taking it runs on both. Without PostgreSQL installed the PostgreSQL cases skip,
except in CI (CI=true), where a missing server is a failure: `make test` installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pgserver


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgserver.PgServer]:
    try:
        server = pgserver.start_server()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: pgserver.PgServer) -> str:
    """The SQLAlchemy URL of a new, empty database on the session's PostgreSQL server."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "letters.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def new_db(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    """A factory of new databases on one backend: each call gives another SQLite path or PostgreSQL URL."""
    if request.param == "sqlite":
        counter = iter(range(10**6))
        return lambda: str(tmp_path / f"db-{next(counter)}" / "letters.db")
    server = request.getfixturevalue("pg_server")
    return server.create_database
