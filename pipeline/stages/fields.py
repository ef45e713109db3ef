"""Letter fields: the requisites of an official letter, read by small declared rules.

The letter's layout (lines, pages, word boxes and the regions of ДСТУ 4163: letterhead,
reference data, date/number, addressee, heading, body, signature, executor) comes from
:mod:`pipeline.layout`; OCR normalisation from :mod:`pipeline.ocrnorm`. Each field rule
is a component (:mod:`pipeline.stages.field_components`) that declares what it requires
and provides; :data:`PIPELINE` is checked once, at import. The rules live in
``fields_numbers`` (date, number, request), ``fields_sender`` (body, city),
``fields_signatory`` and ``fields_parties`` (addressee, subject, executor).

A field that is absent or ambiguous stays None and a reason is appended to
``LetterFields.review_reasons``: a wrong value costs more than an empty one. A rule that
fails is logged with its traceback and shows as "field extraction error" on the letter.
"""

from __future__ import annotations

from pipeline.layout import LetterLayout
from pipeline.nlp import language_scores
from pipeline.schema import FieldValue, LetterFields, LetterText, TextSource
from pipeline.stages import fields_numbers, fields_parties, fields_sender, fields_signatory
from pipeline.stages.dates import baseline_letter_date, parse_date
from pipeline.stages.field_components import FIELD_ERROR, FieldDoc, check_order, component, run
from pipeline.stages.fields_text import fix_ocr_words, genitive, normal_case

__all__ = ["FIELD_ERROR", "PIPELINE", "baseline_letter_date", "extract_fields", "fix_ocr_words", "normal_case",
           "parse_date"]
_genitive = genitive  # the name older callers import
_RULE_MODULES = (fields_numbers, fields_parties, fields_sender, fields_signatory)

MAX_LINE = 1000  # longer "lines" are not letter lines; only their head is examined
MAX_TEXT = 400_000


@component("language", provides=("language",))
def language(doc: FieldDoc) -> None:
    """The language of the text (not of the letterhead): the lines below the header."""
    lay = doc.layout
    start = max((h.index for h in lay.header), default=-1) + 1
    body = "\n".join(ln.text for ln in lay.lines[start:] if ln.stripped) or lay.full_text
    lang, conf = language_scores(body)
    doc.fields.language = FieldValue(value=lang, confidence=conf)
    if conf < 0.6:
        doc.review("language uncertain")


PIPELINE = check_order(
    ("language", "letter_date", "request", "sender_org", "sender_city", "signatory", "addressee", "subject",
     "executor")
)


def extract_fields(text: LetterText) -> LetterFields:
    """All letter fields with spans, pages, boxes and confidences; never raises."""
    try:
        full = text.full_text[:MAX_TEXT]
        layout = LetterLayout.of(full, text, MAX_LINE)
    except Exception:  # a malformed LetterText is still not a reason to crash the batch
        return LetterFields(review_reasons=["letter text unreadable"])
    is_ocr = any(p.source == TextSource.OCR for p in text.pages)
    doc = run(PIPELINE, FieldDoc(text=text, layout=layout, is_ocr=is_ocr))
    fields = doc.fields
    if text.text_source == TextSource.OCR and not fields.review_reasons and (text.ocr_confidence or 100) < 55:
        fields.review_reasons.append("poor OCR: check every field")
    return fields
