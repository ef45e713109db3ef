"""The promise registry: a CSV validated line by line into :class:`Promise` objects."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from pipeline.errors import RegistryError
from pipeline.schema import Promise

REGISTRY_COLUMNS = ("promise_id", "politician", "office", "city", "said_on", "title", "description", "lang")
# city may be empty: a national promise (an MP, a minister, a state agency) belongs to no city.
REQUIRED = ("promise_id", "title", "lang")
MAX_ERRORS_SHOWN = 20
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def load_registry(path: Path) -> list[Promise]:
    """Read and validate a registry CSV; raise RegistryError listing every bad line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise RegistryError(f"cannot read promise registry {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    return parse_registry(text, source=str(path))


def parse_registry(text: str, source: str = "registry") -> list[Promise]:
    text = text.replace("\x00", "")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise RegistryError(f"{source}: empty file, expected header {','.join(REGISTRY_COLUMNS)}") from None
    except csv.Error as exc:
        raise RegistryError(f"{source}: line 1: {exc}") from None
    header = [h.strip() for h in header]
    missing = [c for c in REGISTRY_COLUMNS if c not in header]
    if missing:
        raise RegistryError(
            f"{source}: line 1: header lacks column(s) {', '.join(missing)}; expected {','.join(REGISTRY_COLUMNS)}"
        )
    col = {name: header.index(name) for name in REGISTRY_COLUMNS}
    promises: list[Promise] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    line_no = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"line {reader.line_num}: {exc}")
            break
        line_no = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            errors.append(f"line {line_no}: {len(row)} fields, expected {len(header)}")
            continue
        values = {name: row[i].strip() for name, i in col.items()}
        problems = [f"empty {name}" for name in REQUIRED if not values[name]]
        if values["lang"] and values["lang"] not in ("uk", "ru"):
            problems.append(f"lang must be uk or ru, got {values['lang']!r}")
        said_on: dt.date | None = None
        if values["said_on"]:
            try:
                # fromisoformat alone also takes "20240101" and week dates ("2024-W01-1")
                if not _ISO_DATE.fullmatch(values["said_on"]):
                    raise ValueError
                said_on = dt.date.fromisoformat(values["said_on"])
            except ValueError:
                problems.append(f"said_on must be a date YYYY-MM-DD, got {values['said_on']!r}")
        pid = values["promise_id"]
        if pid and pid in seen:
            problems.append(f"promise_id {pid!r} repeats line {seen[pid]}")
        if problems:
            errors.append(f"line {line_no}: " + "; ".join(problems))
            continue
        seen[pid] = line_no
        promises.append(
            Promise(
                promise_id=pid,
                politician=values["politician"],
                office=values["office"],
                city=values["city"],
                said_on=said_on,
                title=values["title"],
                description=values["description"],
                lang=values["lang"],
            )
        )
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n  ... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise RegistryError(f"{source}: {len(errors)} invalid line(s):\n  " + "\n  ".join(shown) + more)
    if not promises:
        raise RegistryError(f"{source}: no promises in the registry")
    return promises
