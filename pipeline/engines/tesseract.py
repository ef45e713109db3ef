"""Tesseract for the OCR stage: the in-process library where it loads, else the ``tesseract``
program (this module is the only place that builds its command line).

A page being OCR'd is read in this process by the library the program runs
(:mod:`pipeline.engines.libtesseract`), set up once per thread. Where that is not available, it
is handed to a Tesseract program started while the page was prepared (see
:func:`started_ahead`), on stdin as an uncompressed TIFF carrying its resolution; any other
image (orientation detection, a retry) as an uncompressed PNM file in a private temporary
folder. Results come back on stdout. Every call runs with ``OMP_THREAD_LIMIT=1``
(we parallelise across pages, and Tesseract's own OpenMP threads only fight over the
cores) and a timeout after which the whole process group is killed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pipeline.engines import libtesseract
from pipeline.errors import OcrError, OcrTimeout

TESSERACT = "tesseract"
_STDERR_SHOWN = 400

# Set when this process next starts a Tesseract (see :func:`on_next_start`).
_ON_START: list[threading.Event] = []
_ON_START_LOCK = threading.Lock()


def on_next_start(event: threading.Event) -> None:
    """Set ``event`` when this process next starts a Tesseract: a worker builds its Processor
    while Tesseract reads its first page, when the process itself only waits, not while the
    page is loaded and prepared (the two would take turns on one interpreter)."""
    with _ON_START_LOCK:
        _ON_START.append(event)


def _started() -> None:
    with _ON_START_LOCK:
        events = _ON_START[:]
        _ON_START.clear()
    for event in events:
        event.set()


@dataclass(frozen=True)
class TsvWord:
    """One word row (level 5) of Tesseract's TSV output."""

    block: int
    par: int
    line: int
    word: int
    left: int
    top: int
    width: int
    height: int
    conf: float
    text: str


@dataclass(frozen=True)
class Osd:
    """Tesseract's orientation and script detection for a page."""

    rotate: int  # degrees to rotate the image clockwise so that text is upright
    orientation_conf: float
    script: str
    script_conf: float


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


def on_white(image: Image.Image) -> Image.Image:
    """RGB copy of any image; transparent parts become white paper (not black)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def as_read(image: Image.Image) -> Image.Image:
    """The image as it is handed to Tesseract: 1-bit and grey as they are, anything else grey."""
    if image.mode not in ("1", "L", "RGB"):
        image = on_white(image)
    if image.mode == "RGB":
        # Tesseract spends ~50% more CPU on colour; grey reads the same (measured on dev pages)
        image = image.convert("L")
    return image


def _run_on_image(image: Image.Image, args: Sequence[str], timeout_s: float) -> str:
    """Run tesseract with the image file as first argument (``args`` follow it)."""
    image = as_read(image)
    with tempfile.TemporaryDirectory(prefix="letters-ocr-") as tmp:
        path = Path(tmp) / "page.pnm"
        image.save(path, format="PPM")  # PBM/PGM/PPM depending on mode; no compression cost
        return _run([str(path), *args], timeout_s, page=True)


# A Tesseract killed by a signal we did not send (the OOM killer, `kill -9`) is run once more,
# as a dead worker gets another try: the death may have been someone else's doing.
MAX_TESSERACT_DEATHS = 2


def _run(args: Sequence[str], timeout_s: float, page: bool = False) -> str:
    """Run tesseract, return stdout as text; typed errors on failure or timeout. ``timeout_s`` is the
    budget of the call, a retry after a killed Tesseract included; ``page``: it reads a page image."""
    deadline = time.monotonic() + timeout_s
    for attempt in range(1, MAX_TESSERACT_DEATHS + 1):
        code, out, err = _run_once(args, max(0.1, deadline - time.monotonic()), timeout_s, page)
        if code == 0:
            return out.decode("utf-8", "replace")
        if code < 0:  # killed by a signal
            name = _signal_name(-code)
            if attempt < MAX_TESSERACT_DEATHS and time.monotonic() < deadline:
                continue
            raise OcrError(f"tesseract was killed by {name} {attempt} times (out of memory, or stopped by someone)")
        msg = err.decode("utf-8", "replace").strip()[-_STDERR_SHOWN:]
        raise OcrError(f"tesseract failed (exit code {code}): {msg or 'no message'}")
    raise AssertionError("unreachable")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _run_once(args: Sequence[str], timeout_s: float, budget_s: float, page: bool) -> tuple[int, bytes, bytes]:
    exe = shutil.which(TESSERACT)
    if exe is None:
        raise OcrError("tesseract is not installed or not on PATH")
    cmd = [exe, *args]
    try:
        # own process group so that a timeout kills Tesseract and anything it spawned
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(),
            start_new_session=True,
        )
    except OSError as exc:
        raise OcrError(f"cannot start tesseract: {exc}") from exc
    if page:
        _started()
    out, err = _communicate(proc, None, timeout_s, budget_s)
    return proc.returncode, out, err


def _communicate(proc: subprocess.Popen[bytes], data: bytes | None, timeout_s: float,
                 budget_s: float) -> tuple[bytes, bytes]:
    """``proc``'s output once it ends (``data`` on its stdin); killed with its group on a timeout or
    when we are stopped meanwhile."""
    try:
        return proc.communicate(data, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise OcrTimeout(f"tesseract took longer than {budget_s:g} s and was killed") from None
    except BaseException:  # SIGTERM/SIGINT (SystemExit, KeyboardInterrupt) while it runs: it must not outlive us
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _common_args(languages: str, psm: int | None, dpi: int | None, config: Sequence[str]) -> list[str]:
    args = ["-l", languages]
    if psm is not None:
        args += ["--psm", str(psm)]
    if dpi:
        args += ["--dpi", str(int(dpi))]
    for item in config:
        args += ["-c", item]
    return args


# --- a Tesseract started ahead of its page ---------------------------------------------------
# Tesseract spends ~0.15 s loading its language models before it looks at the image. Started while
# the page is still being prepared, with the page to come on stdin, it has loaded them by the time
# the page is handed over. The resolution, known only then, travels in the image (a TIFF's tags):
# Tesseract reads the same words as with --dpi and the page as a file (a test holds them equal).


@dataclass
class _Ahead:
    key: tuple[str, int | None, tuple[str, ...]]  # languages, psm, config
    proc: subprocess.Popen[bytes]


_AHEAD = threading.local()  # this thread's Tesseract waiting for its page, if any


def _ahead_args(languages: str, psm: int | None, config: Sequence[str]) -> list[str]:
    return ["stdin", "stdout", *_common_args(languages, psm, None, config), "tsv"]


@contextlib.contextmanager
def started_ahead(languages: str, psm: int | None = 3, config: Sequence[str] = ()) -> Iterator[None]:
    """Within this block, the first :func:`image_to_tsv` of this thread with these settings is
    read by a Tesseract started now (see above); one left unused is stopped at the end. Pages read
    in-process: this thread's reader is set up now if it has none yet (models load meanwhile)."""
    if libtesseract.available():
        libtesseract.set_up_ahead((languages, psm, tuple(config)))
        yield
        return
    exe = shutil.which(TESSERACT)
    ahead = None
    if exe is not None and getattr(_AHEAD, "job", None) is None:
        try:
            proc = subprocess.Popen([exe, *_ahead_args(languages, psm, config)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), start_new_session=True)
        except OSError:
            proc = None  # the page is read the usual way, which reports why Tesseract cannot start
        if proc is not None:
            ahead = _AHEAD.job = _Ahead((languages, psm, tuple(config)), proc)
    try:
        yield
    finally:
        if ahead is not None and getattr(_AHEAD, "job", None) is ahead:
            _AHEAD.job = None
            _kill_group(ahead.proc)


def _take_ahead(key: tuple[str, int | None, tuple[str, ...]]) -> _Ahead | None:
    ahead = getattr(_AHEAD, "job", None)
    if ahead is None or ahead.key != key:
        return None
    _AHEAD.job = None
    return ahead


def _as_bytes(image: Image.Image, dpi: int | None) -> bytes:
    buf = io.BytesIO()
    if dpi:
        as_read(image).save(buf, format="TIFF", dpi=(int(dpi), int(dpi)))  # uncompressed, resolution in its tags
    else:
        as_read(image).save(buf, format="PPM")  # no resolution: Tesseract estimates it, as for the file
    return buf.getvalue()


def _read_ahead(ahead: _Ahead, image: Image.Image, dpi: int | None, timeout_s: float) -> str | None:
    """The TSV of ``image`` from the Tesseract started ahead; None when it failed in a way the
    usual path may not (it died waiting, it refused the stream): the page is then read that way."""
    data = _as_bytes(image, dpi)
    _started()
    out, _ = _communicate(ahead.proc, data, timeout_s, timeout_s)
    return out.decode("utf-8", "replace") if ahead.proc.returncode == 0 else None


def image_to_tsv(
    image: Image.Image,
    languages: str = "ukr+rus",
    psm: int | None = 3,
    dpi: int | None = None,
    timeout_s: float = 120.0,
    config: Sequence[str] = (),
) -> list[TsvWord]:
    """OCR one page image; return its words (TSV level 5) in Tesseract's reading order."""
    key = (languages, psm, tuple(config))
    reader = _reader(key)
    if reader is not None:
        _started()
        return parse_tsv(reader.tsv(as_read(image), dpi, timeout_s))
    ahead = _take_ahead(key)
    if ahead is not None:
        started = time.monotonic()
        tsv = _read_ahead(ahead, image, dpi, timeout_s)
        if tsv is not None:
            return parse_tsv(tsv)
        timeout_s = max(0.1, timeout_s - (time.monotonic() - started))
    args = ["stdout", *_common_args(languages, psm, dpi, config), "tsv"]
    return parse_tsv(_run_on_image(image, args, timeout_s))


def _reader(key: libtesseract.Key) -> libtesseract.Reader | None:
    """This thread's in-process reader, or None: the program reads the page."""
    try:
        return libtesseract.reader(key)
    except libtesseract.LibraryUnavailable:
        return None


def parse_tsv(tsv: str) -> list[TsvWord]:
    """The word rows of Tesseract's TSV (the program's column header and other levels skipped)."""
    words: list[TsvWord] = []
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            nums = [int(c) for c in cols[2:10]]
            conf = float(cols[10])
        except ValueError:
            continue
        block, par, line, word, left, top, width, height = nums
        words.append(TsvWord(block, par, line, word, left, top, width, height, max(0.0, min(100.0, conf)), text))
    return words


_OSD_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_OSD_ORIENT_CONF = re.compile(r"Orientation confidence:\s*([\d.]+)")
_OSD_SCRIPT = re.compile(r"Script:\s*(\S+)")
_OSD_SCRIPT_CONF = re.compile(r"Script confidence:\s*([\d.]+)")


def detect_orientation(image: Image.Image, dpi: int | None = None, timeout_s: float = 60.0) -> Osd | None:
    """Tesseract OSD (psm 0). None when the page has too little text to decide. In this process
    when the library is there (~0.2 s a page against ~0.8 s for the program, which loads its
    model and decodes the page file each time); else by the program."""
    reader = _reader(libtesseract.OSD_KEY)
    if reader is not None:
        found = reader.orientation(as_read(image), dpi)
        return None if found is None else Osd(*found)
    return program_orientation(image, dpi, timeout_s)


def program_orientation(image: Image.Image, dpi: int | None = None, timeout_s: float = 60.0) -> Osd | None:
    """:func:`detect_orientation` by the ``tesseract`` program (``--psm 0 -l osd``)."""
    args = ["stdout", "--psm", "0", "-l", "osd"]
    if dpi:
        args += ["--dpi", str(int(dpi))]
    try:
        out = _run_on_image(image, args, timeout_s)
    except OcrTimeout:
        raise
    except OcrError as exc:
        # OSD refuses pages with few characters ("Too few characters"); that is not a failure
        if "Too few characters" in str(exc) or "0 dpi" in str(exc):
            return None
        raise
    rot, conf = _OSD_ROTATE.search(out), _OSD_ORIENT_CONF.search(out)
    if rot is None or conf is None:
        return None
    script, sconf = _OSD_SCRIPT.search(out), _OSD_SCRIPT_CONF.search(out)
    return Osd(
        rotate=int(rot.group(1)) % 360,
        orientation_conf=float(conf.group(1)),
        script=script.group(1) if script else "",
        script_conf=float(sconf.group(1)) if sconf else 0.0,
    )


def file_to_text(path: Path, languages: str = "ukr+rus", timeout_s: float = 300.0) -> str:
    """Plain ``tesseract FILE - -l LANGS``: the unprepared baseline the benchmark compares against."""
    return _run([str(path), "-", "-l", languages], timeout_s)


def image_to_text(image: Image.Image, languages: str = "ukr+rus", timeout_s: float = 300.0) -> str:
    """Plain ``tesseract IMAGE - -l LANGS`` on an in-memory image, with default settings."""
    return _run_on_image(image, ["stdout", "-l", languages], timeout_s)


def version() -> str:
    return _run(["--version"], 30.0).splitlines()[0].strip()


def executable() -> str | None:
    """The tesseract program found on PATH, or None."""
    return shutil.which(TESSERACT)


def installed_languages(timeout_s: float = 30.0) -> set[str]:
    """The language data tesseract can load (``tesseract --list-langs``)."""
    out = _run(["--list-langs"], timeout_s)
    return {line.strip() for line in out.splitlines()[1:] if line.strip()}
