"""Tesseract under faults: killed from outside (OOM killer, `kill -9`), and the runner stopped by
SIGTERM or SIGINT while a page is being read. Real Tesseract; the killing is done by a wrapper
script on PATH that kills itself the first N times."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from PIL import Image

from pipeline.engines import libtesseract, tesseract
from pipeline.errors import OcrError
from tests import badinputs as bad

PROJECT = Path(__file__).resolve().parents[1]
REAL = shutil.which("tesseract")
pytestmark = pytest.mark.skipif(REAL is None, reason="tesseract not installed")


def _killing_wrapper(folder: Path, kills: int) -> Path:
    """A `tesseract` that SIGKILLs itself on its first ``kills`` OCR calls, then runs the real one."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "tesseract"
    script.write_text(
        "#!/bin/sh\n"
        f'count="{folder}/count"\n'
        'n=$(cat "$count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$count"\n'
        f'if [ $n -le {kills} ]; then kill -9 $$; fi\n'
        f'exec {REAL} "$@"\n')
    script.chmod(0o755)
    return folder


def _page(tmp_path: Path) -> Image.Image:
    path = bad.write_text_image(tmp_path / "page.png", bad.letter_lines(1))
    return Image.open(path)


def test_a_killed_tesseract_is_run_once_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper = _killing_wrapper(tmp_path / "bin", kills=1)
    monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, "program")
    monkeypatch.setenv("PATH", f"{wrapper}:{os.environ['PATH']}")
    words = tesseract.image_to_tsv(_page(tmp_path), languages="ukr+rus", timeout_s=60)
    assert len(words) > 10
    assert (wrapper / "count").read_text().strip() == "2"


def test_a_tesseract_killed_twice_fails_the_page_saying_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper = _killing_wrapper(tmp_path / "bin", kills=99)
    monkeypatch.setenv(libtesseract.ENGINE_VARIABLE, "program")
    monkeypatch.setenv("PATH", f"{wrapper}:{os.environ['PATH']}")
    with pytest.raises(OcrError, match="killed by SIGKILL 2 times"):
        tesseract.image_to_tsv(_page(tmp_path), languages="ukr+rus", timeout_s=60)
    assert (wrapper / "count").read_text().strip() == "2"


def _ocr_dirs(tmp: Path) -> list[Path]:
    return list(tmp.glob("letters-ocr-*"))


def _tesseracts_under(tmp: Path) -> list[psutil.Process]:
    """Page-reading Tesseracts of the run (its TMPDIR in their environment): a page is read from a
    file there, or from stdin by one started ahead of it (not `--version`, `--list-langs`)."""
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = p.info["cmdline"] or []
            reads = "stdin" in cmd or any(str(tmp) in a for a in cmd)
            if (p.info["name"] == "tesseract" and reads and p.environ().get("TMPDIR") == str(tmp)
                    and p.status() != psutil.STATUS_ZOMBIE):
                found.append(p)
        except psutil.Error:
            continue
    return found


def _session(leader: int) -> list[psutil.Process]:
    """Live processes of the runner's session (its workers, any Tesseract), the runner left out."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != leader and os.getsid(p.pid) == leader and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.Error, OSError):
            continue
    return found


def _reading_in_process(leader: int) -> bool:
    """A worker of the run has Tesseract's library loaded and is busy (setting it up or reading)."""
    for p in _session(leader):
        try:
            if "libtesseract" in Path(f"/proc/{p.pid}/maps").read_text() and p.cpu_percent(0.05) > 0:
                return True
        except (psutil.Error, OSError):
            continue
    return False


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["program", "library"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_runner_mid_page_leaves_no_page_files(tmp_path: Path, signum: int, engine: str) -> None:
    """Stopped while a page is read: exit 130 without a traceback, no page file and no process
    left, whether the tesseract program reads it or the library inside the worker does."""
    if engine == "library" and not libtesseract.available():
        pytest.skip("libtesseract does not load here")
    models = bad.verdict_models_dir(tmp_path / "model-cache")
    inbox = tmp_path / "in"
    inbox.mkdir()
    for i in range(3):
        bad.write_text_image(inbox / f"scan-{i}.png", bad.letter_lines(i), a4=True)
    registry = bad.write_registry(tmp_path / "promises.csv")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(inbox), "--promises", str(registry),
           "--out", str(tmp_path / "out"), "--models", str(models), "--workers", "1"]
    env = {**os.environ, "TMPDIR": str(tmp), libtesseract.ENGINE_VARIABLE: engine}
    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    reading = (lambda: bool(_tesseracts_under(tmp))) if engine == "program" else (lambda: _reading_in_process(proc.pid))
    try:
        deadline = time.monotonic() + 120
        seen = False
        while not (seen := reading()) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert seen, "tesseract never started"
        time.sleep(0.3 if engine == "program" else 1.0)  # into the page: prepared and handed over
        if signum == signal.SIGTERM:
            proc.send_signal(signum)  # the runner only, as a service manager would
        else:
            os.killpg(proc.pid, signum)  # Ctrl-C: the terminal signals the whole foreground group
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    time.sleep(0.5)
    assert _ocr_dirs(tmp) == []
    assert _tesseracts_under(tmp) == []
    assert _session(proc.pid) == []
