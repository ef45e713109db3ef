"""Typed errors. Each carries a category and the CLI exit code it maps to.

Stages raise these; the batch runner records them per letter and goes on.
Exactly one place (``pipeline.cli``) turns them into exit codes.
"""

from __future__ import annotations


class LettersError(Exception):
    """Base class. ``category`` is a short machine-readable tag."""

    exit_code = 1
    category = "error"


class UsageError(LettersError):
    """Bad command-line input (missing folder, bad option value)."""

    exit_code = 2
    category = "usage"


class RegistryError(LettersError):
    """The promise registry CSV is invalid; the message lists the bad lines."""

    exit_code = 3
    category = "registry"


class ModelError(LettersError):
    """A trained model is missing, tampered with, or built with other library versions."""

    exit_code = 4
    category = "model"


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
