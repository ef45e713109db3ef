"""Records: the analysts' tables (Parquet and CSV), written atomically.

Each file is written to a temporary name in the same folder and renamed into
place, so a reader (or a crash) never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.store.repo import DECISION_COLUMNS, LETTER_COLUMNS, UPDATE_COLUMNS

_LETTER_TYPES = {
    "pages": pa.int32(),
    "ocr_confidence": pa.float64(),
}
_UPDATE_TYPES = {"match_score": pa.float64(), "confidence": pa.float64(), "machine_confidence": pa.float64()}
_AGREEMENT_TYPES = {"items": pa.int64(), "agreed": pa.int64(), "observed": pa.float64(), "kappa": pa.float64()}
_DECISION_TYPES = {"review_id": pa.int64(), "machine_confidence": pa.float64(), "undoes": pa.int64(),
                   "in_force": pa.bool_()}


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` then rename tmp onto ``path`` (same folder, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _table(rows: Sequence[dict[str, object]], columns: Sequence[str], types: dict[str, pa.DataType]) -> pa.Table:
    schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
    data = {c: [r.get(c) for r in rows] for c in columns}
    return pa.Table.from_pydict(data, schema=schema)


def write_table(out_dir: Path, name: str, rows: Sequence[dict[str, object]], columns: Sequence[str],
                types: dict[str, pa.DataType]) -> tuple[Path, Path]:
    table = _table(rows, columns, types)
    parquet_path, csv_path = out_dir / f"{name}.parquet", out_dir / f"{name}.csv"
    atomic_write(parquet_path, lambda tmp: pq.write_table(table, tmp))
    frame = pd.DataFrame({c: table.column(c).to_pylist() for c in columns}, columns=list(columns))
    atomic_write(csv_path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8"))
    return parquet_path, csv_path


def write_records(out_dir: Path, letters: Sequence[dict[str, object]], updates: Sequence[dict[str, object]],
                  decisions: Sequence[dict[str, object]] | None = None,
                  agreement: Sequence[dict[str, object]] | None = None) -> list[Path]:
    """Write letters.{parquet,csv} and updates.{parquet,csv} (and decisions.{parquet,csv}, every
    human decision row, when ``decisions`` is given; agreement.{parquet,csv}, Cohen's kappa per
    reviewer pair and per verdict, when ``agreement`` is given) into ``out_dir``."""
    paths = list(write_table(out_dir, "letters", letters, LETTER_COLUMNS, _LETTER_TYPES))
    paths += write_table(out_dir, "updates", updates, UPDATE_COLUMNS, _UPDATE_TYPES)
    if decisions is not None:
        paths += write_table(out_dir, "decisions", decisions, DECISION_COLUMNS, _DECISION_TYPES)
    if agreement is not None:
        from pipeline.review.agreement import AGREEMENT_COLUMNS

        paths += write_table(out_dir, "agreement", agreement, AGREEMENT_COLUMNS, _AGREEMENT_TYPES)
    return paths
