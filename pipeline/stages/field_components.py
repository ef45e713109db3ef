"""Field rules as small declared components, after spaCy's ``Language.factory(requires=…, assigns=…)``.

Every rule is a function of a :class:`FieldDoc` registered under a name with what it
``requires`` (doc attributes or fields filled by earlier rules) and what it
``provides``. :func:`check_order` validates a pipeline once (at import of the fields
stage): every requirement is provided earlier, every name provided exists, nothing
is provided twice. :func:`run` calls the rules in order; a rule that raises is logged
with its traceback, counted, and marked "field extraction error" on the letter, and
the other rules still run.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from pipeline.layout import LetterLayout, Line
from pipeline.schema import FieldValue, LetterFields, LetterText

log = logging.getLogger(__name__)

FIELD_ERROR = "field extraction error"


@dataclass
class FieldDoc:
    """What flows through the field rules: the letter, its layout, the fields, and the facts the
    rules hand on to each other (each declared by the rule that provides it)."""

    text: LetterText
    layout: LetterLayout
    is_ocr: bool
    fields: LetterFields = field(default_factory=LetterFields)
    # facts handed on between rules
    date_line: Line | None = None  # the line holding the letter's own date
    letterhead: list[Line] = field(default_factory=list)  # the lines the sender was read from
    sender_lang: str | None = None  # language of the letterhead ("uk"/"ru")

    def value(self, value: str | None, start: int | None, end: int | None, conf: float) -> FieldValue:
        """A field value with its span, page, word boxes and confidence (lowered by unsure OCR words)."""
        if value is None:
            return FieldValue()
        fv = FieldValue(value=value, start=start, end=end, confidence=round(max(0.0, min(1.0, conf)), 3))
        if start is not None and end is not None:
            fv.page = self.text.page_of(start)
            words = self.layout.words_in(start, end)
            fv.boxes = [(w.left, w.top, w.width, w.height) for w in words]
            confs = [w.conf for w in words if w.conf is not None]
            if confs:  # OCR: a field read from uncertain words is itself uncertain
                fv.confidence = round(fv.confidence * min(1.0, 0.5 + sum(confs) / len(confs) / 200), 3)
        return fv

    def review(self, reason: str) -> None:
        self.fields.review_reasons.append(reason)


@dataclass(frozen=True)
class Component:
    name: str
    fn: Callable[[FieldDoc], None]
    requires: tuple[str, ...]
    provides: tuple[str, ...]


REGISTRY: dict[str, Component] = {}
BASE = ("text", "layout", "is_ocr")  # what every FieldDoc has from the start
_DOC_FACTS = {f.name for f in fields(FieldDoc)} - {"fields", *BASE}
_FIELD_NAMES = {f.name for f in fields(LetterFields)} - {"review_reasons"}

_errors: Counter[str] = Counter()
_errors_lock = threading.Lock()


def component(name: str, *, requires: tuple[str, ...] = (), provides: tuple[str, ...]) -> Callable:
    """Register a field rule under ``name`` (a decorator)."""

    def deco(fn: Callable[[FieldDoc], None]) -> Callable[[FieldDoc], None]:
        unknown = [p for p in (*requires, *provides) if p not in _DOC_FACTS | _FIELD_NAMES | set(BASE)]
        if unknown:
            raise ValueError(f"field rule {name!r} declares unknown names {unknown}")
        REGISTRY[name] = Component(name, fn, tuple(requires), tuple(provides))
        return fn

    return deco


def check_order(names: tuple[str, ...]) -> tuple[Component, ...]:
    """The components of a pipeline, checked: each requirement provided by an earlier rule."""
    have = set(BASE)
    seen: set[str] = set()
    out = []
    for name in names:
        if name not in REGISTRY:
            raise ValueError(f"no field rule named {name!r}")
        comp = REGISTRY[name]
        missing = [r for r in comp.requires if r not in have]
        if missing:
            raise ValueError(f"field rule {name!r} requires {missing}, which no earlier rule provides")
        twice = [p for p in comp.provides if p in seen]
        if twice:
            raise ValueError(f"field rule {name!r} provides {twice}, already provided by an earlier rule")
        seen.update(comp.provides)
        have.update(comp.provides)
        out.append(comp)
    return tuple(out)


def run(pipeline: tuple[Component, ...], doc: FieldDoc) -> FieldDoc:
    """Every rule in order; one rule failing does not lose the others."""
    for comp in pipeline:
        try:
            comp.fn(doc)
        except Exception:  # a bug in one rule: logged with its traceback, counted, shown on the letter
            log.exception("field rule %s failed", comp.name)
            with _errors_lock:
                _errors[comp.name] += 1
            doc.review(f"{FIELD_ERROR} ({comp.name})")
    return doc


def error_counts(reset: bool = False) -> dict[str, int]:
    """How many letters each rule failed on in this process (for the run report)."""
    with _errors_lock:
        out = dict(_errors)
        if reset:
            _errors.clear()
    return out
