"""Where a database lives: its SQLAlchemy URL, its file. Apart from :mod:`pipeline.store.db` so
that checking a run's paths (``pipeline.preflight``) does not import SQLAlchemy."""

from __future__ import annotations

from pathlib import Path


def database_url(db: str | Path) -> str:
    text_ = str(db)
    if "://" not in text_:
        return f"sqlite:///{Path(text_).resolve()}"
    for prefix in ("postgresql://", "postgres://"):  # the driver we ship: psycopg 3
        if text_.startswith(prefix):
            return "postgresql+psycopg://" + text_.removeprefix(prefix)
    return text_


def sqlite_path(db: str | Path) -> Path | None:
    """The file of a SQLite database, or None for a server database."""
    url = database_url(db)
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
