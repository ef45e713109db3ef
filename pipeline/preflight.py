"""Pre-flight checks: what a command needs is verified before any letter is touched.

Each failed check raises a typed error with a one-line message and its own exit code
(see :class:`pipeline.errors.ExitCode`): a missing program or language, an output folder
that cannot be written or has no space, a database that cannot be written (or, for the
read-only commands, read).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.engines import tesseract
from pipeline.errors import (
    DatabaseNotWritable,
    MissingDependency,
    OcrError,
    OutOfSpace,
    OutputNotWritable,
    StoreError,
    WriteError,
)
from pipeline.settings import Settings
from pipeline.store.location import sqlite_path

APT_HINT = "apt-get install tesseract-ocr tesseract-ocr-ukr tesseract-ocr-rus tesseract-ocr-eng"
_DEBIAN_PACKAGE = {"ukr": "tesseract-ocr-ukr", "rus": "tesseract-ocr-rus", "eng": "tesseract-ocr-eng"}


def check_tesseract(languages: str) -> None:
    """tesseract is on PATH and has every language of ``languages`` (e.g. ``ukr+rus+eng``)."""
    if tesseract.executable() is None:
        raise MissingDependency(f"tesseract is not installed or not on PATH (Debian: {APT_HINT})")
    try:
        have = tesseract.installed_languages()
    except OcrError as exc:
        raise MissingDependency(f"tesseract does not run: {exc}") from None
    missing = [lang for lang in languages.split("+") if lang not in have]
    if missing:
        pkgs = " ".join(_DEBIAN_PACKAGE.get(lang, f"tesseract-ocr-{lang}") for lang in missing)
        raise MissingDependency(
            f"tesseract has no language data for {', '.join(missing)} (LETTERS_OCR_LANGUAGES={languages}; "
            f"Debian: apt-get install {pkgs})")


def _free_mb(folder: Path) -> float:
    return shutil.disk_usage(folder).free / 2**20


def _existing_parent(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_write(folder: Path, what: str) -> None:
    """Write, sync and remove a small file in ``folder``: permissions, read-only mounts and full disks
    all show up here rather than in the middle of the batch."""
    try:
        fd, name = tempfile.mkstemp(prefix=".letters-check-", dir=folder)
    except OSError as exc:
        raise _write_problem(exc, folder, what) from None
    try:
        os.write(fd, b"\0" * 4096)
        os.fsync(fd)
    except OSError as exc:
        raise _write_problem(exc, folder, what) from None
    finally:
        os.close(fd)
        Path(name).unlink(missing_ok=True)


def _write_problem(exc: OSError, folder: Path, what: str) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutOfSpace(f"{what} {folder} has no space left")
    if exc.errno == errno.EROFS:
        return OutputNotWritable(f"{what} {folder} is on a read-only file system")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OutputNotWritable(f"{what} {folder} is not writable: permission denied")
    return WriteError(f"{what} {folder} cannot be written: {exc.strerror or exc}")


def check_output_dir(out_dir: Path, min_free_mb: float) -> None:
    """OUT can be created and written and has at least ``min_free_mb`` free."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputNotWritable(f"output folder {out_dir} is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_problem(exc, _existing_parent(out_dir), "output folder") from None
    _probe_write(out_dir, "output folder")
    free = _free_mb(out_dir)
    if free < min_free_mb:
        raise OutOfSpace(f"output folder {out_dir} has {free:.0f} MB free, under the {min_free_mb:g} MB a run needs "
                         "(LETTERS_MIN_FREE_MB)")


def check_database_writable(db: str | Path, min_free_mb: float = 0.0) -> None:
    """A SQLite database file (and its folder, for the -wal and -shm files) can be written, with space.
    A server database is checked when it is opened (its errors are typed by the store)."""
    path = sqlite_path(db)
    if path is None:
        return
    folder = path.parent if path.parent.exists() else _existing_parent(path.parent)
    if path.exists():
        if not path.is_file():
            raise StoreError(f"the database {path} is not a file")
        if not os.access(path, os.W_OK) or _read_only_mount(path):
            raise DatabaseNotWritable(f"the database {path} is read-only: a run must write to it "
                                      "(use `letters export` or `letters review` to read it)")
    try:
        _probe_write(folder, "the database's folder")
    except OutputNotWritable:
        raise DatabaseNotWritable(f"the database's folder {folder} is not writable: SQLite needs to create "
                                  f"{path.name}-wal and {path.name}-shm beside it") from None
    free = _free_mb(folder)
    if free < min_free_mb:
        raise OutOfSpace(f"the database's folder {folder} has {free:.0f} MB free, under the {min_free_mb:g} MB "
                         "a run needs (LETTERS_MIN_FREE_MB)")


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_database_readable(db: str | Path) -> None:
    path = sqlite_path(db)
    if path is None:
        return
    if not path.is_file():
        raise StoreError(f"database not found: {path} (run `letters run` first)")
    if not os.access(path, os.R_OK):
        raise StoreError(f"the database {path} cannot be read: permission denied")


def database_is_read_only(db: str | Path) -> bool:
    """A SQLite file we cannot write (or whose folder we cannot write, where the WAL's files live):
    commands that only read (export, review, users list) then open it read-only."""
    path = sqlite_path(db)
    if path is None or not path.exists():
        return False
    try:
        check_database_writable(db)
    except (StoreError, OutputNotWritable, OutOfSpace, WriteError):
        return True
    return False


def check_run(out_dir: Path, db: str | Path, settings: Settings) -> None:
    """Everything `letters run` needs, before any letter."""
    check_tesseract(settings.ocr.languages)
    check_output_dir(out_dir, settings.min_free_mb)
    check_database_writable(db, settings.min_free_mb)
