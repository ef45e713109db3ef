"""Memory a process has freed, given back to the system. Apart from the OCR stage so that the
pool's workers use it without importing NumPy or OpenCV."""

from __future__ import annotations

import functools
from collections.abc import Callable


def release_freed_memory() -> None:
    """Give memory freed by this process back to the system (glibc's ``malloc_trim``). A page's
    arrays are tens of MB; once freed, glibc keeps much of them in its heap, where they count
    as this worker's memory through the next Tesseract run and the rest of the letter."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
