"""Fuzzing the promise registry loader: any text gives promises or a RegistryError, never anything else;
a valid registry written by any CSV writer reads back exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.errors import RegistryError
from pipeline.schema import Promise
from pipeline.stages.registry import REGISTRY_COLUMNS, load_registry, parse_registry

HEADER = ",".join(REGISTRY_COLUMNS)
_nasty = st.sampled_from(['"', "'", ",", ";", "\n", "\r", "\r\n", "\x00", "\t", "\x0b", "\f", "\u2028", "\ufeff",
                          "\u202e", "\\", "№", "«»", "ї", " ", ""])
_cell = st.one_of(st.text(max_size=30), _nasty, st.lists(_nasty, max_size=6).map("".join))
_row = st.lists(_cell, min_size=0, max_size=10).map(lambda cells: ",".join(cells))


def _only_registry_errors(text: str) -> list[Promise] | None:
    try:
        promises = parse_registry(text)
    except RegistryError as exc:
        assert str(exc).strip()  # a message a person can read
        return None
    assert promises and all(isinstance(p, Promise) for p in promises)
    return promises


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
@example("")
@example("\x00" * 50)
@example(HEADER)
@example(HEADER + '\nP1,a,b,Київ,2024-01-01,"unclosed,desc,uk')
@example(HEADER + "\n" + "x" * 200_000)  # over csv's field size limit
@example(HEADER + '\n"' + "y" * 200_000 + '",a,b,c,,t,d,uk')
@example(HEADER + "\nP1,a,b,Київ,2024-02-30,t,d,uk")  # no such day
@example(HEADER + "\nP1,a,b,Київ,9999-99-99,t,d,uk\nP1,a,b,Київ,,t,d,ru")
def test_any_text_is_promises_or_registry_error(text: str) -> None:
    _only_registry_errors(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(_row, max_size=8), st.booleans())
def test_header_then_any_rows(rows: list[str], crlf: bool) -> None:
    sep = "\r\n" if crlf else "\n"
    _only_registry_errors(sep.join([HEADER, *rows]))


_field_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=40)


@st.composite
def _promises(draw: st.DrawFn) -> list[Promise]:
    n = draw(st.integers(1, 6))
    out = []
    for k in range(n):
        out.append(Promise(
            promise_id=f"P-{k}-" + draw(st.text("abcXYZ0123-_", max_size=5)),
            politician=draw(_field_text).strip(),
            office=draw(_field_text).strip(),
            city=draw(_field_text.filter(lambda s: s.strip())).strip(),
            said_on=draw(st.one_of(st.none(), st.dates(dt.date(1991, 1, 1), dt.date(2100, 12, 31)))),
            title=draw(_field_text.filter(lambda s: s.strip())).strip(),
            description=draw(_field_text).strip(),
            lang=draw(st.sampled_from(["uk", "ru"])),
        ))
    return out


@settings(max_examples=150, deadline=None)
@given(_promises(), st.sampled_from(["minimal", "all"]), st.booleans())
def test_valid_registry_round_trips(promises: list[Promise], quoting: str, shuffled_header: bool) -> None:
    columns = list(REGISTRY_COLUMNS)
    if shuffled_header:
        columns = columns[::-1] + ["extra_column"]
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL if quoting == "all" else csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for p in promises:
        values = {**{c: getattr(p, c) for c in REGISTRY_COLUMNS}, "extra_column": "ignored"}
        values["said_on"] = p.said_on.isoformat() if p.said_on else ""
        writer.writerow([values[c] for c in columns])
    assert parse_registry(buf.getvalue()) == promises


@pytest.mark.parametrize("said_on", ["20240101", "2024-W01-1", "2024-1-1", "２０２４-01-01", "2024-02-30"])
def test_said_on_must_be_a_plain_iso_date(said_on: str) -> None:
    with pytest.raises(RegistryError, match="said_on must be a date YYYY-MM-DD"):
        parse_registry(f"{HEADER}\nP1,a,b,Київ,{said_on},t,d,uk\n")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff\xfe" + "promise_id".encode("utf-16-le"), "not UTF-8"),
        (b"\xef\xbb\xbf" + HEADER.encode() + b"\n", "no promises"),  # BOM is fine, but the file is empty
        (b"%PDF-1.7\n\x00\xff", "not UTF-8"),
    ],
)
def test_load_registry_bad_bytes(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "promises.csv"
    path.write_bytes(data)
    with pytest.raises(RegistryError, match=words):
        load_registry(path)


def test_load_registry_missing_or_a_folder(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "nope.csv")
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path)
