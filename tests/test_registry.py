"""The promise registry: valid CSVs load, invalid ones fail with line numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.errors import RegistryError
from pipeline.stages.registry import load_registry, parse_registry

HEADER = "promise_id,politician,office,city,said_on,title,description,lang\n"


def test_valid_registry_loads(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + 'P-1,Іван Петренко,Міський голова,Рівне,2016-03-01,"Петренко відремонтує мост",Опис,uk\n',
                    encoding="utf-8")
    (p,) = load_registry(path)
    assert p.promise_id == "P-1" and p.city == "Рівне" and p.said_on == dt.date(2016, 3, 1)


def test_errors_name_their_lines() -> None:
    text = HEADER + "P-1,,,Рівне,2016-03-01,Title,,uk\nP-2,,,Рівне,01.03.2016,Title,,de\nP-1,,,Рівне,,Title,,ru\n"
    with pytest.raises(RegistryError) as err:
        parse_registry(text)
    msg = str(err.value)
    assert "line 3" in msg and "said_on" in msg and "lang" in msg
    assert "line 4" in msg and "repeats line 2" in msg


def test_missing_columns_and_empty_file() -> None:
    with pytest.raises(RegistryError, match="header lacks column"):
        parse_registry("promise_id,title\nP-1,x\n")
    with pytest.raises(RegistryError, match="empty"):
        parse_registry("")


def test_unreadable_registry(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "missing.csv")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(HEADER.encode() + "P-1,,,Р\n".encode("cp1251"))
    with pytest.raises(RegistryError, match="UTF-8"):
        load_registry(bad)
