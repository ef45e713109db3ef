"""Ingest: find the letters in an input folder.

Types are recognised by content (magic bytes), never by extension. A letter is
one file, or several page images of one letter (``NAME_p1.jpg``, ``NAME-2.png``,
``NAME_page3.tif``) grouped in page order. The same bytes found twice make one
letter.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import LetterError, TooLarge, UnreadableFile, UnsupportedFile
from pipeline.schema import FileKind, IngestFailure, Letter, SourceFile
from pipeline.settings import Limits

# Files that travel with scans but are not letters (registries, gold labels, notes).
SIDECAR_SUFFIXES = frozenset({".csv", ".jsonl", ".json", ".txt", ".md"})

# Explicit page markers: NAME_p1, NAME-p01, NAME_page2, NAME page 3
_PAGE_MARKED = re.compile(r"^(?P<base>.+?)[ _-]+(?:p|page|стор)\.?\s*(?P<n>\d{1,3})$", re.IGNORECASE)
# Bare number suffix: NAME-1, NAME_2. Leading zeros are not page numbers ("L-001" is an id).
_PAGE_BARE = re.compile(r"^(?P<base>.+?)[_-](?P<n>[1-9]\d?)$")


def sniff_kind(head: bytes) -> FileKind:
    """The file's type from its first bytes, or UnsupportedFile naming what it looks like."""
    if not head:
        raise UnsupportedFile("empty file (0 bytes)")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return FileKind.TIFF
    if b"%PDF-" in head[:1024]:
        return FileKind.PDF
    raise UnsupportedFile(f"unsupported file type: {describe_content(head)}")


def describe_content(head: bytes) -> str:
    lowered = head[:512].lstrip().lower()
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or an Office document), not a PDF or image"
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered:
        return "an HTML page, not a PDF or image"
    if head.startswith(b"GIF8"):
        return "a GIF image (convert it to PNG)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image (convert it to PNG or JPEG)"
    if head.startswith((b"From ", b"Received:", b"MIME-Version", b"Return-Path")):
        return "an e-mail message, not a PDF or image"
    if b"\x00" not in head[:512]:
        return "plain text, not a PDF or image"
    return "not a PDF, PNG, JPEG or TIFF"


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def path_id(rel_path: str) -> str:
    """An id for a file whose bytes could not be read."""
    return hashlib.sha256(("path:" + rel_path).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def walk_files(root: Path, problems: list[tuple[Path, str]] | None = None) -> Iterator[Path]:
    """Every regular-looking file under root, recursively, in a stable order.

    Directory symlinks are not followed (a symlink loop, or a link to ``/``, cannot
    trap us); they are reported in ``problems`` together with folders that cannot be
    listed, so that nothing is skipped silently. File symlinks are yielded and fail
    later if broken.
    """

    def onerror(exc: OSError) -> None:
        if problems is not None and exc.filename is not None:
            problems.append((Path(exc.filename), f"cannot list folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=onerror):
        for d in sorted(dirnames):
            if not d.startswith(".") and problems is not None and os.path.islink(os.path.join(dirpath, d)):
                problems.append((Path(dirpath) / d, "symbolic link to a folder: not followed (copy the folder "
                                 "into the input folder or give it as input)"))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            yield Path(dirpath) / name


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_name(name: str) -> str:
    """``name`` with bytes that are not UTF-8 shown as ``\\xNN`` (os.walk gives them as surrogates)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 1024 / 1024:.3g} MB"


_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be followed, or None when it leads to something."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop: the link leads back to itself"
        return "broken symbolic link: its target does not exist"
    return None


@dataclass
class _Scanned:
    path: Path
    rel: str
    kind: FileKind
    sha256: str
    size: int
    data_hash: hashlib._Hash = field(repr=False, default=None)  # type: ignore[assignment]


def _scan(path: Path, root: Path, limits: Limits) -> _Scanned:
    rel = _rel(path, root)
    try:
        if path.is_symlink() and (problem := _link_problem(path)):
            raise UnreadableFile(problem)
        st = path.stat()
        # Opening a FIFO for reading blocks until someone writes to it: never open anything irregular.
        for is_kind, what in _NOT_REGULAR:
            if is_kind(st.st_mode):
                raise UnreadableFile(f"not a regular file: it is {what}")
        size = st.st_size
        if size > limits.max_file_mb * 1024 * 1024:
            raise TooLarge(f"file is {_mb(size)}, over the {limits.max_file_mb:g} MB limit")
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            head = fh.read(4096)
            digest.update(head)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except PermissionError:
        raise UnreadableFile("permission denied: the file cannot be read") from None
    except FileNotFoundError:
        raise UnreadableFile("file disappeared before it could be read") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from None
    kind = sniff_kind(head)
    return _Scanned(path=path, rel=rel, kind=kind, sha256=digest.hexdigest(), size=size, data_hash=digest)


def _page_key(path: Path) -> tuple[str, int, bool] | None:
    """(group base, page number, explicit marker?) for a page-image name, else None."""
    stem = path.stem
    m = _PAGE_MARKED.match(stem)
    if m:
        return m.group("base"), int(m.group("n")), True
    m = _PAGE_BARE.match(stem)
    if m:
        return m.group("base"), int(m.group("n")), False
    return None


def _group_pages(items: list[_Scanned]) -> list[list[_Scanned]]:
    """Group page images of one letter; everything else stays alone."""
    candidates: dict[tuple[Path, str, bool], list[tuple[int, _Scanned]]] = defaultdict(list)
    singles: list[list[_Scanned]] = []
    for item in items:
        key = _page_key(item.path) if item.kind != FileKind.PDF else None
        if key is None:
            singles.append([item])
            continue
        base, n, explicit = key
        candidates[(item.path.parent, base, explicit)].append((n, item))
    groups = list(singles)
    for (_, _, explicit), members in candidates.items():
        members.sort(key=lambda m: m[0])
        numbers = [n for n, _ in members]
        contiguous = numbers == list(range(1, len(numbers) + 1))
        # Bare "-N" names group only when they clearly are pages 1..k of one letter.
        if (explicit and len(set(numbers)) == len(numbers)) or (contiguous and len(members) >= 2):
            groups.append([m for _, m in members])
        else:
            groups.extend([m] for _, m in members)
    groups.sort(key=lambda g: g[0].rel)
    return groups


def _letter_from_group(group: list[_Scanned]) -> Letter:
    if len(group) == 1:
        sha = group[0].sha256
    else:
        digest = hashlib.sha256()
        for item in group:  # the pages' bytes in page order
            with item.path.open("rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(chunk)
        sha = digest.hexdigest()
    files = tuple(SourceFile(path=i.path, rel_path=i.rel, kind=i.kind, sha256=i.sha256, size=i.size) for i in group)
    return Letter(letter_id=sha[:16], sha256=sha, source_file=group[0].rel, files=files)


@dataclass
class Discovery:
    letters: list[Letter] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (duplicate rel path, letter_id)
    sidecars: list[str] = field(default_factory=list)  # rel paths of non-letter files left alone


def discover(root: Path, limits: Limits | None = None) -> Discovery:
    """Find every letter under ``root``; failures are recorded, never raised."""
    limits = limits or Limits()
    root = Path(root)
    out = Discovery()
    scanned: list[_Scanned] = []
    problems: list[tuple[Path, str]] = []
    for path in walk_files(root, problems):
        rel = _rel(path, root)
        if not _is_utf8(str(path)):
            # Names in an old Windows/ZIP encoding decode to lone surrogates, which no database,
            # CSV or JSON writer accepts: report the file under a printable name instead.
            shown = printable_name(rel)
            out.failures.append(IngestFailure(
                letter_id=path_id(rel), sha256=None, source_file=shown,
                reason=f"file name is not valid UTF-8 (an old Windows or ZIP encoding?); rename it. Shown as {shown}",
            ))
            continue
        if path.suffix.lower() in SIDECAR_SUFFIXES:
            out.sidecars.append(rel)
            continue
        try:
            scanned.append(_scan(path, root, limits))
        except LetterError as exc:
            sha = None
            try:
                if isinstance(exc, UnsupportedFile) and path.is_file():
                    sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                sha = None
            out.failures.append(
                IngestFailure(letter_id=sha[:16] if sha else path_id(rel), sha256=sha, source_file=rel, reason=str(exc))
            )
    for path, reason in problems:
        rel = printable_name(_rel(path, root))
        out.failures.append(IngestFailure(letter_id=path_id(rel), sha256=None, source_file=rel, reason=reason))
    seen: dict[str, Letter] = {}
    for group in _group_pages(scanned):
        try:
            letter = _letter_from_group(group)
        except OSError as exc:
            rel = group[0].rel
            out.failures.append(
                IngestFailure(path_id(rel), None, rel, f"cannot read file: {exc.strerror or exc}")
            )
            continue
        if letter.letter_id in seen:
            out.duplicates.append((letter.source_file, letter.letter_id))
            continue
        seen[letter.letter_id] = letter
        out.letters.append(letter)
    return out
