"""Field rules as declared components: the order is checked once; a failing rule is logged with its
traceback, counted, and shown as "field extraction error" while the other fields still come back."""

from __future__ import annotations

import logging

import pytest

from pipeline.reqgen import generate
from pipeline.schema import LetterText, PageText, TextSource
from pipeline.stages import field_components as fc
from pipeline.stages import fields


def _text(seed: int = 3) -> LetterText:
    return LetterText("x", [PageText(1, generate(seed).text, TextSource.TEXT_LAYER, 0.0, 0.0)])


def test_the_pipeline_is_checked_and_declares_every_field() -> None:
    provided = {p for comp in fields.PIPELINE for p in comp.provides}
    assert {"letter_date", "sender_org", "sender_city", "signatory_name", "addressee", "subject", "executor"} <= provided
    # sender_city needs the letterhead and the date line, which earlier rules provide
    names = [c.name for c in fields.PIPELINE]
    assert names.index("sender_city") > names.index("sender_org") > -1
    assert names.index("sender_city") > names.index("letter_date")


def test_a_wrong_order_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="requires"):
        fc.check_order(("sender_city", "sender_org", "letter_date"))
    with pytest.raises(ValueError, match="no field rule"):
        fc.check_order(("language", "no_such_rule"))
    with pytest.raises(ValueError, match="already provided"):
        fc.check_order(("language", "language"))
    with pytest.raises(ValueError, match="unknown names"):
        fc.component("bad", provides=("not_a_field",))(lambda doc: None)


def test_a_failing_rule_is_logged_counted_and_shown(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    def broken(doc: fc.FieldDoc) -> None:
        raise RuntimeError("a bug in a rule")

    comps = tuple(
        fc.Component(c.name, broken, c.requires, c.provides) if c.name == "signatory" else c for c in fields.PIPELINE
    )
    monkeypatch.setattr(fields, "PIPELINE", comps)
    fc.error_counts(reset=True)
    with caplog.at_level(logging.ERROR, logger="pipeline.stages.field_components"):
        f = fields.extract_fields(_text())
    assert "field extraction error (signatory)" in f.review_reasons
    assert f.letter_date.value and f.sender_org.value  # the other rules still ran
    assert f.signatory_name.value is None
    assert any("a bug in a rule" in (r.exc_text or "") for r in caplog.records)  # with its traceback
    assert fc.error_counts() == {"signatory": 1}
