"""One lock for PDFium in this process.

PDFium is not thread-safe and pypdfium2 does not serialise calls into it: the review app
renders scans from its request threads, and a Dask worker started with more than one thread
reads several letters at once. Every use of a document (open, text layer, render, close) takes
this lock; one thread per process, the usual case, never waits on it.
"""

from __future__ import annotations

import threading

LOCK = threading.RLock()
