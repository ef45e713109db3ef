"""One typed settings object for a run, with sane defaults.

Values can be overridden from the environment (``LETTERS_<NAME>``, e.g.
``LETTERS_OCR_TIMEOUT=60``) or by the CLI.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from pipeline.errors import SettingsError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DEFAULT_MODELS_DIR = PROJECT_DIR / "models"


@dataclass(frozen=True)
class OcrSettings:
    languages: str = "ukr+rus+eng"  # eng: e-mail addresses and URLs; measured CER 0.039 -> 0.0054 on the dev scans
    psm: int = 3
    render_dpi: int = 300  # PDF pages without a text layer are rendered at this resolution
    timeout_s: float = 120.0  # per page; Tesseract is killed past it
    low_conf: float = 60.0  # a word under this confidence counts as low-confidence
    poor_page_conf: float = 55.0  # a page whose mean word confidence is under this is a "poor scan"
    poor_page_low_share: float = 0.45  # ... or whose low-confidence word share is over this
    prepare: bool = True  # page preparation (orientation, deskew, cleanup) before OCR


@dataclass(frozen=True)
class Limits:
    max_file_mb: float = 200.0
    max_pages: int = 500
    max_pixels: int = 120_000_000  # per page image, after rendering
    min_text_layer_chars: int = 40  # a PDF page with fewer real characters is OCR'd
    max_letter_seconds: float = 1800.0  # a letter still running after this is stopped (a parser loop, a hang)


@dataclass(frozen=True)
class Settings:
    ocr: OcrSettings = field(default_factory=OcrSettings)
    limits: Limits = field(default_factory=Limits)
    # The ranker's probability that a passage answers a promise: kept from 0.3 (a retelling or a
    # letter without a letterhead city scores lower), and sent to review under match_review_below.
    match_threshold: float = 0.3
    match_review_below: float = 0.5
    near_tie_margin: float = 0.08
    verdict_review_below: float = 0.6  # suggestions under this confidence go to review
    models_dir: Path = DEFAULT_MODELS_DIR
    workers: int = 0  # 0: number of cores
    reuse_ocr: bool = True  # reuse cached OCR of a page image when the OCR settings are the same
    ocr_cache_db: str | None = None  # database holding the OCR cache (set by the batch runner)
    db_busy_timeout_s: float = 30.0  # SQLite: wait this long for another writer's lock (then retry with backoff)
    min_free_mb: float = 50.0  # a run does not start with less free space than this in OUT (and the database's folder)

    def with_overrides(self, **kwargs: object) -> Settings:
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _coerce(value: str, like: object) -> object:
    """The environment string as the type of the default ``like``; ValueError says what was expected."""
    text = value.strip()
    if isinstance(like, bool):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("expected true or false (1/0, yes/no, on/off)")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if isinstance(like, float):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("expected a number") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    if isinstance(like, Path):
        return Path(text)
    return value


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _non_negative(v: float) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _share(v: float) -> str | None:
    return None if 0 <= v <= 1 else "must be between 0 and 1"


def _between(lo: float, hi: float) -> Callable[[float], str | None]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}"


def _languages(v: str) -> str | None:
    ok = re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*", v or "")
    return None if ok else "must be Tesseract language codes joined by '+', like ukr+rus+eng"


# (section, field) -> check returning a problem or None. Section "" is the top level.
_CHECKS: dict[tuple[str, str], Callable] = {
    ("ocr", "languages"): _languages,
    ("ocr", "psm"): _between(0, 13),
    ("ocr", "render_dpi"): _between(50, 1200),
    ("ocr", "timeout_s"): _positive,
    ("ocr", "low_conf"): _between(0, 100),
    ("ocr", "poor_page_conf"): _between(0, 100),
    ("ocr", "poor_page_low_share"): _share,
    ("limits", "max_file_mb"): _positive,
    ("limits", "max_pages"): _positive,
    ("limits", "max_pixels"): _positive,
    ("limits", "min_text_layer_chars"): _non_negative,
    ("limits", "max_letter_seconds"): _non_negative,
    ("", "match_threshold"): _share,
    ("", "match_review_below"): _share,
    ("", "near_tie_margin"): _share,
    ("", "verdict_review_below"): _share,
    ("", "workers"): _non_negative,
    ("", "db_busy_timeout_s"): _non_negative,
    ("", "min_free_mb"): _non_negative,
}


def env_name(section: str, name: str) -> str:
    return f"LETTERS_{section.upper()}_{name.upper()}" if section else f"LETTERS_{name.upper()}"


def validate(settings: Settings) -> None:
    """Raise SettingsError (one line, naming the variable) for the first value out of range."""
    for (section, name), check in _CHECKS.items():
        value = getattr(getattr(settings, section) if section else settings, name)
        problem = check(value)
        if problem:
            raise SettingsError(f"{env_name(section, name)}={value!r}: {problem}")


def from_env(base: Settings | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings with ``LETTERS_*`` environment overrides applied (nested: LETTERS_OCR_PSM), validated:
    a bad value raises SettingsError naming the variable (``LETTERS_WORKERS='abc': expected a whole number``)."""
    env = os.environ if environ is None else environ
    s = base or Settings()

    def parse(key: str, like: object) -> object:
        try:
            return _coerce(env[key], like)
        except ValueError as exc:
            raise SettingsError(f"{key}={env[key]!r}: {exc}") from None

    top: dict[str, object] = {}
    for f in fields(s):
        cur = getattr(s, f.name)
        if f.name in ("ocr", "limits"):
            sub = {}
            for g in fields(cur):
                key = env_name(f.name, g.name)
                if key in env:
                    sub[g.name] = parse(key, getattr(cur, g.name))
            if sub:
                top[f.name] = replace(cur, **sub)
        elif f.name != "ocr_cache_db":
            key = env_name("", f.name)
            if key in env:
                top[f.name] = parse(key, cur)
    out = replace(s, **top)
    validate(out)
    return out
