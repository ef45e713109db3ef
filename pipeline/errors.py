"""Typed errors. Each carries a category and the CLI exit code it maps to.

Stages raise these; the batch runner records them per letter and goes on.
Exactly one place (``pipeline.cli``) turns them into exit codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of `letters` (documented in the README's CLI section), like OCRmyPDF's."""

    ok = 0
    other_error = 1
    usage = 2  # bad command-line input
    bad_registry = 3
    model = 4  # a trained model is missing or does not load
    missing_dependency = 5  # tesseract or one of its languages is not installed
    output_not_writable = 6  # the output folder cannot be written
    out_of_space = 7  # no space left for the output or the database
    database_not_writable = 8  # read-only database (or its folder), for a command that writes
    database_unavailable = 9  # the database cannot be opened or read, or is at an unknown revision
    database_busy = 10  # another writer held the database lock past every retry
    write_error = 11  # an I/O error while writing records or the database
    bad_setting = 12  # a LETTERS_* environment variable has an invalid value
    interrupted = 130  # stopped by Ctrl-C or SIGTERM; the letters done so far are saved


class LettersError(Exception):
    """Base class. ``category`` is a short machine-readable tag."""

    exit_code: int = ExitCode.other_error
    category = "error"


class UsageError(LettersError):
    """Bad command-line input (missing folder, bad option value)."""

    exit_code = ExitCode.usage
    category = "usage"


class RegistryError(LettersError):
    """The promise registry CSV is invalid; the message lists the bad lines."""

    exit_code = ExitCode.bad_registry
    category = "registry"


class StoppedBySignal(LettersError):
    """Ctrl-C or SIGTERM before the run had its database open: no letter was saved."""

    exit_code = ExitCode.interrupted
    category = "interrupted"


class ModelError(LettersError):
    """A trained model is missing, tampered with, or built with other library versions."""

    exit_code = ExitCode.model
    category = "model"


class MissingDependency(LettersError):
    """A required program or its data (tesseract, a language) is missing: found before any letter."""

    exit_code = ExitCode.missing_dependency
    category = "missing_dependency"


class SettingsError(LettersError):
    """A setting (from a LETTERS_* variable) has an invalid value; the message names the variable."""

    exit_code = ExitCode.bad_setting
    category = "settings"


class OutputNotWritable(LettersError):
    exit_code = ExitCode.output_not_writable
    category = "output"


class OutOfSpace(LettersError):
    """No space left on a device (output folder or database)."""

    exit_code = ExitCode.out_of_space
    category = "out_of_space"


class WriteError(LettersError):
    """An I/O error while writing (other than a full disk)."""

    exit_code = ExitCode.write_error
    category = "write_error"


class StoreError(LettersError):
    """The database cannot be opened or read."""

    exit_code = ExitCode.database_unavailable
    category = "database"


class DatabaseNotWritable(StoreError):
    exit_code = ExitCode.database_not_writable
    category = "database_read_only"


class DatabaseBusy(StoreError):
    """Another writer held the lock past the busy timeout and every retry."""

    exit_code = ExitCode.database_busy
    category = "database_busy"


class RunInterrupted(LettersError):
    """A run stopped early by a fault (disk full, write error, lock); ``report`` is what got done."""

    def __init__(self, cause: LettersError, report: object = None) -> None:
        super().__init__(f"{cause}; the run stopped and is marked interrupted; the letters finished before are "
                         "saved: fix this and run again to finish the rest")
        self.cause = cause
        self.report = report
        self.exit_code = cause.exit_code
        self.category = cause.category


class LetterError(LettersError):
    """A problem with one letter; recorded as that letter's status, never fatal to a batch."""

    category = "letter"


class UnsupportedFile(LetterError):
    category = "unsupported"


class UnreadableFile(LetterError):
    category = "unreadable"


class TooLarge(LetterError):
    category = "too_large"


class OcrError(LetterError):
    category = "ocr"


class OcrTimeout(OcrError):
    category = "ocr_timeout"


def translate_os_error(exc: OSError, what: str) -> LettersError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutOfSpace(f"{what}: no space left on the device")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return WriteError(f"{what}: {exc.strerror.lower() if exc.strerror else exc}")
    return WriteError(f"{what}: {exc.strerror or exc}")
