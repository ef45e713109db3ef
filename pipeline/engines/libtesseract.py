"""Tesseract in this process, through its C API: ``libtesseract``, the library the ``tesseract``
program is itself a thin shell around.

The program loads its language models (~0.13 s of CPU for ukr+rus+eng), starts, decodes the
page file and tears everything down again for every page: on the dev scans ~12% of a page's CPU
(`letters bench` shows it as our scan page against raw Tesseract). Here one ``TessBaseAPI`` per
thread is set up once and reads page after page, handed the prepared pixels directly. It reads
the same words as the program: TSV rows byte-identical to ``tesseract stdin stdout tsv`` on the
same image and resolution (a test holds them equal).

What the program's process boundary gave is kept another way:
- a page over its time budget: Tesseract's own deadline (``ETEXT_DESC``) stops it, and a
  process stuck in layout analysis, which never looks at the deadline, is the pool's letter
  time limit to stop;
- SIGTERM while Tesseract runs: Python's handler cannot run until the call returns, so
  within the call SIGTERM ends the process at once (nothing of ours is open meanwhile: no page
  file, no child process);
- Tesseract's and Leptonica's chatter goes nowhere instead of onto the user's terminal.

Not available (no library, a language it cannot load): callers read pages with the program,
which reports why in its own words. ``LETTERS_TESSERACT=program`` always uses the program.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from functools import lru_cache

from PIL import Image

from pipeline.errors import OcrError, OcrTimeout

ENGINE_VARIABLE = "LETTERS_TESSERACT"  # "program": every page is read by the tesseract program
_LIBRARY_NAMES = ("libtesseract.so.5", "libtesseract.5.dylib", "tesseract")
_LEPTONICA_NAMES = ("liblept.so.5", "libleptonica.so.6", "lept", "leptonica")
_L_SEVERITY_NONE = 6  # leptonica's environ.h: no messages at all


class LibraryUnavailable(Exception):
    """Pages cannot be read in-process (no library, an unloadable language): use the program."""


_V = ctypes.c_void_p
_S = ctypes.c_char_p
_I = ctypes.c_int
_F = ctypes.c_float
_SIGNATURES: dict[str, tuple[list[object], object]] = {
    "TessVersion": ([], _S),
    "TessBaseAPICreate": ([], _V),
    "TessBaseAPIDelete": ([_V], None),
    "TessBaseAPIEnd": ([_V], None),
    "TessBaseAPIInit3": ([_V, _S, _S], _I),
    "TessBaseAPISetVariable": ([_V, _S, _S], _I),
    "TessBaseAPISetPageSegMode": ([_V, _I], None),
    "TessBaseAPISetImage": ([_V, _S, _I, _I, _I, _I], None),
    "TessBaseAPISetSourceResolution": ([_V, _I], None),
    "TessBaseAPIRecognize": ([_V, _V], _I),
    "TessBaseAPIGetTsvText": ([_V, _I], _V),
    "TessBaseAPIClear": ([_V], None),
    "TessDeleteText": ([_V], None),
    "TessMonitorCreate": ([], _V),
    "TessMonitorDelete": ([_V], None),
    "TessMonitorSetDeadlineMSecs": ([_V, _I], None),
    "TessBaseAPIDetectOrientationScript": (
        [_V, ctypes.POINTER(_I), ctypes.POINTER(_F), ctypes.POINTER(_S), ctypes.POINTER(_F)], _I),
}


def wanted() -> bool:
    """Whether pages are to be read in-process (the default) rather than by the program."""
    return os.environ.get(ENGINE_VARIABLE, "").strip().lower() != "program"


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL | None:
    # Our parallelism is processes; Tesseract's OpenMP threads would only fight over the same
    # cores. OpenMP reads this once, when it is loaded: that is now, for this process.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    lib = _load(_LIBRARY_NAMES)
    if lib is None:
        return None
    try:
        for name, (args, res) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
    except AttributeError:  # a Tesseract older than 4.1 (no deadline in its C API)
        return None
    lept = _load(_LEPTONICA_NAMES)
    if lept is not None and hasattr(lept, "setMsgSeverity"):
        lept.setMsgSeverity.argtypes, lept.setMsgSeverity.restype = [_I], _I
        lept.setMsgSeverity(_L_SEVERITY_NONE)  # "Error in boxClipToRectangle" on most pages: noise
    return lib


def _load(names: Sequence[str]) -> ctypes.CDLL | None:
    for name in names:
        path = name if "." in name else ctypes.util.find_library(name)
        if not path:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def available() -> bool:
    """In-process reading is wanted and the library loads (languages are checked on first use)."""
    return wanted() and _library() is not None


def version() -> str | None:
    """The library's version ("5.3.0"), or None when it does not load."""
    lib = _library()
    if lib is None:
        return None
    raw = lib.TessVersion()
    return raw.decode("ascii", "replace") if raw else None


Key = tuple[str, int | None, tuple[str, ...]]  # languages, page segmentation mode, "name=value" settings
OSD_KEY: Key = ("osd", 0, ())  # the reader that detects orientation and script


# the program's "Rotate:" from the orientation found (baseapi.cpp, OrientationIdToValue)
_UPRIGHT_TURN = {0: 0, 90: 270, 180: 180, 270: 90}

_ALL: list[Reader] = []  # every reader of this process, ended at exit (Tesseract warns of leaks otherwise)
_ALL_LOCK = threading.Lock()


class Reader:
    """One TessBaseAPI, set up for ``key``; used by one thread at a time."""

    def __init__(self, key: Key) -> None:
        lib = _library()
        if lib is None:
            raise LibraryUnavailable("libtesseract cannot be loaded")
        self.lib, self.key = lib, key
        languages, psm, config = key
        self.handle = lib.TessBaseAPICreate()
        if not self.handle:
            raise LibraryUnavailable("libtesseract could not create an engine")
        self._closed = False
        # Tesseract's messages ("Detected 45 diacritics", "Error opening data file") go nowhere:
        # the program, which reads the page when we cannot, says what is wrong in its own words
        lib.TessBaseAPISetVariable(self.handle, b"debug_file", os.devnull.encode())
        if lib.TessBaseAPIInit3(self.handle, None, languages.encode()) != 0:
            self.close()
            raise LibraryUnavailable(f"libtesseract cannot load the languages {languages!r}")
        for item in config:
            name, _, value = item.partition("=")
            if not lib.TessBaseAPISetVariable(self.handle, name.encode(), value.encode()):
                self.close()
                raise LibraryUnavailable(f"libtesseract does not know the setting {name!r}")
        if psm is not None:
            lib.TessBaseAPISetPageSegMode(self.handle, int(psm))
        with _ALL_LOCK:
            _ALL.append(self)

    def _set_image(self, image: Image.Image, dpi: int | None) -> None:
        """Hand the page's pixels over; ``image`` is in a mode Tesseract reads as it is: 1-bit or grey."""
        if image.mode == "1":
            # packed bits, first pixel in the high bit, rows padded to a byte; Pillow's 1 is white,
            # as the C API wants it
            data, depth, stride = image.tobytes(), 0, (image.width + 7) // 8
        elif image.mode == "L":
            data, depth, stride = image.tobytes(), 1, image.width
        else:
            raise ValueError(f"a page image of mode {image.mode} (expected 1 or L)")
        self.lib.TessBaseAPISetImage(self.handle, data, image.width, image.height, depth, stride)
        if dpi:
            self.lib.TessBaseAPISetSourceResolution(self.handle, int(dpi))

    def orientation(self, image: Image.Image, dpi: int | None) -> tuple[int, float, str, float] | None:
        """Orientation and script of the page (a reader set up for :data:`OSD_KEY`): the clockwise
        turn that sets it upright, as the program prints it ("Rotate:"), its confidence, the script
        and its confidence. None when the page has too few characters to tell (the program: "Too
        few characters"). The C API gives this call no deadline: it classifies a bounded sample
        of the page's blobs (~0.2 s on a full page), and a stuck page is the pool's letter time
        limit to stop."""
        lib, handle = self.lib, self.handle
        self._set_image(image, dpi)
        degrees, conf, script, script_conf = _I(), _F(), _S(), _F()
        try:
            with _sigterm_ends_us():
                found = lib.TessBaseAPIDetectOrientationScript(
                    handle, ctypes.byref(degrees), ctypes.byref(conf), ctypes.byref(script), ctypes.byref(script_conf))
            if not found:
                return None
            # confidences rounded as the program prints them ("%.2f"): the same decisions either way
            return (_UPRIGHT_TURN.get(degrees.value % 360, 0), round(conf.value, 2),
                    (script.value or b"").decode("ascii", "replace"), round(script_conf.value, 2))
        finally:
            lib.TessBaseAPIClear(handle)

    def tsv(self, image: Image.Image, dpi: int | None, timeout_s: float) -> str:
        """The page's TSV rows (no header line), as the program prints them for this image.
        ``image`` is in a mode Tesseract reads as it is: 1-bit or grey."""
        lib, handle = self.lib, self.handle
        self._set_image(image, dpi)
        monitor = lib.TessMonitorCreate()
        lib.TessMonitorSetDeadlineMSecs(monitor, max(1, min(int(timeout_s * 1000), 2**31 - 1)))
        started = time.monotonic()
        try:
            with _sigterm_ends_us():
                code = lib.TessBaseAPIRecognize(handle, monitor)
            if code != 0:
                if time.monotonic() - started >= timeout_s * 0.99:
                    raise OcrTimeout(f"tesseract took longer than {timeout_s:g} s and was stopped")
                raise OcrError("tesseract could not recognise the page")
            text = lib.TessBaseAPIGetTsvText(handle, 0)
            if not text:
                raise OcrError("tesseract gave no result for the page")
            try:
                return ctypes.string_at(text).decode("utf-8", "replace")
            finally:
                lib.TessDeleteText(text)
        finally:
            lib.TessMonitorDelete(monitor)
            lib.TessBaseAPIClear(handle)  # the page's image and results; the models stay

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.lib.TessBaseAPIEnd(self.handle)
            self.lib.TessBaseAPIDelete(self.handle)


@atexit.register
def _close_all() -> None:
    with _ALL_LOCK:
        while _ALL:
            _ALL.pop().close()


@contextlib.contextmanager
def _sigterm_ends_us() -> Iterator[None]:
    """SIGTERM ends the process at once within the block (the main thread's Python handler could
    only run after Tesseract returns, seconds later); elsewhere it does what it did."""
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    if callable(before):  # ours or a framework's: it would wait for the call
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        if callable(before):
            signal.signal(signal.SIGTERM, before)


# --- one reader per thread, set up ahead of its first page ------------------------------------

_MINE = threading.local()  # key -> Future[Reader] of this thread


def _futures() -> dict[Key, Future[Reader]]:
    found = getattr(_MINE, "readers", None)
    if found is None:
        found = _MINE.readers = {}
    return found


def _forget_unfinished() -> None:
    # a fork copies this thread's readers, but not a thread still setting one up: never waited for
    futures = _futures()
    for key in [k for k, f in futures.items() if not f.done()]:
        del futures[key]


os.register_at_fork(after_in_child=_forget_unfinished)


def set_up_ahead(key: Key) -> None:
    """Start setting up this thread's reader for ``key`` in the background, if it has none: the
    models load while the page is prepared (the library lets the interpreter's lock go)."""
    futures = _futures()
    if key in futures or not available():
        return
    future: Future[Reader] = Future()
    futures[key] = future

    def set_up() -> None:
        try:
            future.set_result(Reader(key))
        except BaseException as exc:  # told to whoever takes the reader
            future.set_exception(exc)

    threading.Thread(target=set_up, name="tesseract-set-up", daemon=True).start()


def reader(key: Key) -> Reader:
    """This thread's reader for ``key``, set up now if it was not ahead; LibraryUnavailable when
    pages cannot be read in-process (remembered: the program reads this thread's pages after)."""
    if not wanted():
        raise LibraryUnavailable(f"{ENGINE_VARIABLE}=program")
    futures = _futures()
    future = futures.get(key)
    if future is None:
        future = futures[key] = Future()
        try:
            future.set_result(Reader(key))
        except LibraryUnavailable as exc:
            future.set_exception(exc)
    return future.result()
