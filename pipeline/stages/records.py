"""Records: the analysts' tables (Parquet and CSV), written atomically, as one consistent set.

Each file is written to a temporary name in the same folder and renamed into
place, so a reader (or a crash) never sees half a file. ``manifest.json`` is written
last: it lists every record file with its row count and SHA-256, so a reader can tell
whether the files it read belong to one set (if a hash differs, it read during a write:
read again). Files get the usual permissions of the umask (not mkstemp's 0600).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.store.repo import DECISION_COLUMNS, LETTER_COLUMNS, UPDATE_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

# Column types by Arrow's names (pa.type_for_alias); other columns are strings. Names, not
# pyarrow objects: importing pyarrow (~45 MB, 0.2 s) waits until records are written, so the
# runner does not carry it through the whole batch beside its workers.

_LETTER_TYPES = {"pages": "int32", "ocr_confidence": "float64"}
_UPDATE_TYPES = {"match_score": "float64", "confidence": "float64", "machine_confidence": "float64",
                 **{c: "int64" for c in ("passage_index", "passage_start", "passage_end", "evidence_start",
                                         "evidence_end")}}
_AGREEMENT_TYPES = {"items": "int64", "agreed": "int64", "observed": "float64", "kappa": "float64"}
_DECISION_TYPES = {"review_id": "int64", "machine_confidence": "float64", "undoes": "int64", "in_force": "bool"}


MANIFEST = "manifest.json"


def current_umask() -> int:
    """The process umask, read without changing it where the system tells it (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` then rename tmp onto ``path`` (same folder, so the rename is atomic).
    The file gets mode 0666 less the umask, like any file a program creates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _table(rows: Sequence[dict[str, object]], columns: Sequence[str], types: dict[str, str]) -> pa.Table:
    import pyarrow as pa

    schema = pa.schema([(c, pa.type_for_alias(types.get(c, "string"))) for c in columns])
    if not rows:
        return pa.Table.from_batches([], schema=schema)
    if not all(_finite(r.get(c)) for r in rows for c in columns):  # NaN, inf: JSON cannot carry them
        return pa.Table.from_pydict({c: [r.get(c) for r in rows] for c in columns}, schema=schema)
    # Through Arrow's JSON reader rather than pa.array / from_pydict, which import pandas
    # (~0.3 s of every run) only to ask whether the rows are a DataFrame.
    import pyarrow.json as pj

    data = "".join(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n" for r in rows).encode()
    return pj.read_json(pa.BufferReader(data), read_options=pj.ReadOptions(block_size=max(len(data) + 1, 1 << 20)),
                        parse_options=pj.ParseOptions(explicit_schema=schema))


def write_table(out_dir: Path, name: str, rows: Sequence[dict[str, object]], columns: Sequence[str],
                types: dict[str, str]) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    table = _table(rows, columns, types)
    parquet_path, csv_path = out_dir / f"{name}.parquet", out_dir / f"{name}.csv"
    atomic_write(parquet_path, lambda tmp: pq.write_table(table, tmp))
    atomic_write(csv_path, lambda tmp: write_csv(tmp, columns, [table.column(c).to_pylist() for c in columns]))
    return parquet_path, csv_path


def _csv_cell(value: object) -> object:
    # None is an empty cell; a float keeps every digit (repr), as pandas.to_csv writes it.
    return "" if value is None else repr(value) if isinstance(value, float) else value


def write_csv(path: Path, columns: Sequence[str], data: Sequence[Sequence[object]]) -> None:
    """A CSV file of ``data`` (one list per column): a header line, then one line per row, quoted
    only where needed, the way pandas writes it, without importing pandas (~0.3 s per run). An
    integer column with empty cells stays integers (pandas would write them as floats, "12.0")."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(columns)
        out.writerows([_csv_cell(v) for v in row] for row in zip(*data, strict=True))


def write_records(out_dir: Path, letters: Sequence[dict[str, object]], updates: Sequence[dict[str, object]],
                  manifest: bool = True, decisions: Sequence[dict[str, object]] | None = None,
                  agreement: Sequence[dict[str, object]] | None = None) -> list[Path]:
    """Write letters.{parquet,csv} and updates.{parquet,csv} into ``out_dir`` (and decisions.*, every
    human decision row, when ``decisions`` is given; agreement.*, Cohen's kappa per reviewer pair and
    per verdict, when ``agreement`` is given), then manifest.json (``manifest=False``: the caller
    writes more record files and then the manifest over all)."""
    paths = list(write_table(out_dir, "letters", letters, LETTER_COLUMNS, _LETTER_TYPES))
    paths += write_table(out_dir, "updates", updates, UPDATE_COLUMNS, _UPDATE_TYPES)
    if decisions is not None:
        paths += write_table(out_dir, "decisions", decisions, DECISION_COLUMNS, _DECISION_TYPES)
    if agreement is not None:
        from pipeline.review.agreement import AGREEMENT_COLUMNS

        paths += write_table(out_dir, "agreement", agreement, AGREEMENT_COLUMNS, _AGREEMENT_TYPES)
    return paths + [write_manifest(out_dir, paths)] if manifest else paths


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


CSV_FIELD_LIMIT = 2**31 - 1  # the largest the csv module takes on every platform (a C long)


def count_rows(path: Path) -> int:
    """Data rows of a record file (Parquet from its footer; CSV by parsing, so quoted newlines count once)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    # A promise page's draft over a few hundred letters passes the csv module's 128 KiB field limit
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, CSV_FIELD_LIMIT))
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return max(0, sum(1 for _ in csv.reader(fh)) - 1)
    finally:
        csv.field_size_limit(limit)


def write_manifest(out_dir: Path, paths: Sequence[Path]) -> Path:
    """manifest.json: each record file's name, rows, bytes and SHA-256; written last, atomically."""
    files = {p.name: {"rows": count_rows(p), "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in paths}
    manifest = {"written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "files": files}
    path = out_dir / MANIFEST
    atomic_write_text(path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return path


def read_consistent(out_dir: Path, names: Sequence[str], attempts: int = 20) -> dict[str, bytes]:
    """Read record files as one set: the bytes of each of ``names`` whose SHA-256 all match the
    manifest (read again while a writer is between files). Raises OSError if never consistent."""
    import time

    for _ in range(attempts):
        try:
            manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))["files"]
            data = {n: (out_dir / n).read_bytes() for n in names}
        except (OSError, ValueError, KeyError):
            time.sleep(0.01)
            continue
        if all(n in manifest and hashlib.sha256(b).hexdigest() == manifest[n]["sha256"] for n, b in data.items()):
            return data
        time.sleep(0.01)
    raise OSError(f"record files in {out_dir} did not match their manifest in {attempts} reads")
