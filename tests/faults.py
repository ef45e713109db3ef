"""Helpers for fault tests: small batches, a tmpfs of a chosen size, read-only bind mounts, a full disk.

Mounting needs root (CI runs as root); without it the tests that need a mount skip.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import badinputs as bad


def small_batch(root: Path, n: int = 3, start: int = 0) -> tuple[Path, Path]:
    """``n`` born-digital letters (quick: no OCR) and a registry they match."""
    inbox = root / f"in-{start}"
    inbox.mkdir(parents=True)
    for i in range(start, start + n):
        bad.write_text_pdf(inbox / f"letter-{i}.pdf", bad.letter_lines(i))
    registry = root / "promises.csv"
    if not registry.exists():
        bad.write_registry(registry)
    return inbox, registry


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here: {proc.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextmanager
def tmpfs(path: Path, size_mb: float) -> Iterator[Path]:
    """A fresh tmpfs of ``size_mb`` at ``path`` (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={int(size_mb * 1024)}k", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` bind-mounted read-only over itself (root only): even root cannot write there."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,ro,bind", str(path))
        yield path
    finally:
        _umount(path)


def fill_disk(folder: Path) -> Path:
    """Write a file in ``folder`` until the device is full; returns it (delete it to free the space)."""
    filler = folder / "filler.bin"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        for size in (4096, 512, 1):  # the last crumbs too
            while True:
                try:
                    fh.write(b"\0" * size)
                except OSError:
                    break
    return filler
