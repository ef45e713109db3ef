"""Field rules for the requisites around the text: the addressee, the heading and the executor's mark.

The regions come from :mod:`pipeline.layout`; these rules only clean the text up:

* ``addressee``: the recipient block, its lines joined ("ГО «Громадський контроль обіцянок»,
  Н. Островській, 04053, м. Київ, …"); a right column OCR merged into the date line is cut off.
* ``subject``: the heading, "Про …" / "О …" / "Щодо …", its wrapped lines joined.
* ``executor``: the executor's name and phone ("Вик. Пилипенко Т. 26-41-07" -> "Пилипенко Т. 26-41-07").
"""

from __future__ import annotations

import re

from pipeline.layout import EXECUTOR_MARK
from pipeline.ocrnorm import join_hyphenated
from pipeline.stages.field_components import FieldDoc, component

_PHONE = re.compile(r"\(?\d[\d \t()-]{4,}\d")
_TEL_WORD = re.compile(r"\b(?:[Тт]ел|т)\.?:?[ \t]*(?=[\d(+])")


def _join(lines: list[str]) -> str:
    return re.sub(r"\s+", " ", join_hyphenated("\n".join(s.strip() for s in lines))).strip(" ,;")


def _region_text(doc: FieldDoc, span: tuple[int, int] | None) -> str:
    return _join([ln.text for ln in doc.layout.lines_in(span)]) if span is not None else ""


@component("addressee", provides=("addressee",))
def addressee(doc: FieldDoc) -> None:
    span = doc.layout.regions.addressee
    text = _region_text(doc, span)
    if text and span is not None:
        doc.fields.addressee = doc.value(text, span[0], span[1], 0.7)


@component("subject", provides=("subject",))
def subject(doc: FieldDoc) -> None:
    span = doc.layout.regions.heading
    text = _region_text(doc, span).rstrip(".")
    if text and span is not None:
        doc.fields.subject = doc.value(text[:1].upper() + text[1:], span[0], span[1], 0.85)


@component("executor", provides=("executor",))
def executor(doc: FieldDoc) -> None:
    span = doc.layout.regions.executor
    lines = doc.layout.lines_in(span)
    if not lines or span is None:
        return
    first = lines[0]
    m = EXECUTOR_MARK.match(first.text)
    if m is None:
        return
    rest = [first.text[m.end() :], *(ln.text for ln in lines[1:2] if _PHONE.search(ln.text))]
    text = _TEL_WORD.sub("", _join(rest).lstrip(" .:")).strip(" ,;")
    text = re.sub(r"\s+", " ", text)
    if text:
        start = first.start + m.end() + (len(first.text[m.end() :]) - len(first.text[m.end() :].lstrip(" .:")))
        doc.fields.executor = doc.value(text, start, span[1], 0.8)
