"""OCR results cached per page image, so a re-run (new model, new rules, --force) does not OCR again.

The key is the page image's identity — the SHA-256 of its file and its index in
that file — plus every OCR setting that changes the output and the Tesseract
version. Workers read the cache; only the batch runner writes it (one writer).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.schema import PageText, TextSource, Word
from pipeline.settings import OcrSettings

# Bump when the OCR stage changes its output for the same image and settings.
OCR_CACHE_VERSION = "1"


@lru_cache(maxsize=1)
def tesseract_version() -> str:
    """The version as pytesseract.get_tesseract_version() spells it ("5.3.0"), so cache keys stay
    the same, read without importing pytesseract (which imports pandas: ~1 s in every worker)."""
    import string

    from packaging.version import parse

    from pipeline.engines import libtesseract
    from pipeline.engines.tesseract import version

    try:
        # the Tesseract that reads the pages: the library in this process, else the program
        raw = (libtesseract.version() if libtesseract.available() else None) or version()
        word = raw.lstrip(string.printable[10:]).partition(" ")[0].partition("-")[0]
        return str(parse(word))
    except Exception:  # no tesseract, or a version string nobody can read: nothing will be cached anyway
        return "unknown"


def page_cache_key(file_sha256: str, index_in_file: int, render_dpi: int | None, ocr: OcrSettings) -> str:
    from pipeline.stages.ocr import OCR_ALGORITHM_VERSION

    relevant = dataclasses.replace(ocr, timeout_s=0.0)  # a timeout does not change a finished result
    raw = (f"{OCR_CACHE_VERSION}|{OCR_ALGORITHM_VERSION}|{tesseract_version()}|{file_sha256}|{index_in_file}|"
           f"{render_dpi}|{relevant!r}")
    return hashlib.sha256(raw.encode()).hexdigest()


def page_to_json(page: PageText, offset: int) -> dict[str, Any]:
    """The page with spans made page-relative again (``offset`` = the page's start in the letter)."""
    return {
        "text": page.text,
        "width": page.width,
        "height": page.height,
        "ocr_confidence": page.ocr_confidence,
        "low_confidence_share": page.low_confidence_share,
        "rotation": page.rotation,
        "seconds": page.seconds,
        "words": [[w.text, w.left, w.top, w.width, w.height, w.conf, w.line, w.start - offset, w.end - offset]
                  for w in page.words],
    }


def page_from_json(data: dict[str, Any], page_no: int, key: str) -> PageText:
    return PageText(
        page_no=page_no,
        text=data["text"],
        source=TextSource.OCR,
        width=data["width"],
        height=data["height"],
        words=[Word(*w) for w in data["words"]],
        ocr_confidence=data["ocr_confidence"],
        low_confidence_share=data["low_confidence_share"],
        rotation=data["rotation"],
        seconds=0.0,
        cache_key=key,
        from_cache=True,
    )


@lru_cache(maxsize=4)
def _engine(db: str):
    from pipeline.store.db import make_engine

    return make_engine(db)


def _sqlite_lookup(path: Path, key: str) -> dict[str, Any] | None:
    # sqlite3 itself, read-only: the worker that asks needs no SQLAlchemy for it (~0.3 s to import)
    if not path.is_file():
        return None
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        row = conn.execute("SELECT page FROM ocr_cache WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def lookup(db: str, key: str, page_no: int) -> PageText | None:
    """The cached page for ``key``, or None (also when the cache cannot be read)."""
    from pipeline.store.location import sqlite_path

    try:
        path = sqlite_path(db)
        if path is not None:
            data = _sqlite_lookup(path, key)
        else:
            from sqlalchemy import select

            from pipeline.store.tables import OcrCacheRow

            with _engine(db).connect() as conn:
                data = conn.execute(select(OcrCacheRow.page).where(OcrCacheRow.key == key)).scalar()
    except Exception:  # a missing or locked cache only costs an OCR run
        return None
    return page_from_json(data, page_no, key) if data else None
