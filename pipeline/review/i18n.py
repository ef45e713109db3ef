"""Interface languages of the review app: Ukrainian by default, English available.

Messages are gettext catalogues (``locale/<lang>/LC_MESSAGES/messages.po``) read with Babel and
compiled in memory when the app starts, so no binary ``.mo`` file is kept in the repository. The
English interface is the source text itself. Verdicts, review states and field names have labels;
the codes stay in the data and the records.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("uk", "en")
DEFAULT = "uk"
COOKIE = "letters_lang"

# Codes shown to reviewers, with their English labels (the msgids of the catalogue).
LABELS = {
    "fulfilled": "fulfilled", "in_progress": "in progress", "not_fulfilled": "not fulfilled",
    "suggested": "suggested", "confirmed": "confirmed", "corrected": "corrected", "rejected": "rejected",
    "open": "open", "awaiting": "awaiting", "reviewed": "reviewed", "failed": "failed", "none": "none",
    "all": "all", "ok": "ok", "needs_review": "needs review", "single": "single", "agreed": "agreed",
    "adjudicated": "adjudicated", "disputed": "disputed",
    "letter_date": "letter date", "outgoing_number": "outgoing number", "request_date": "request date",
    "request_number": "request number", "sender_org": "sender organisation", "sender_city": "sender city",
    "signatory_name": "signatory", "signatory_position": "signatory's position", "language": "language",
    "addressee": "addressee", "subject": "subject", "executor": "executor",
    "reviewer": "reviewer", "adjudicator": "adjudicator", "admin": "admin",
}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English: the source text)."""
    if lang == "en":
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def pick(cookie: str | None, accept_language: str | None = None) -> str:
    """The interface language: the reviewer's choice (cookie), else Ukrainian."""
    if cookie in LANGUAGES:
        return cookie
    return DEFAULT


def label(lang: str, code: object) -> str:
    """A code's label in ``lang`` ("in_progress" -> "виконується"); unknown codes stay as they are."""
    text = str(code) if code is not None else ""
    if text not in LABELS:
        return text
    return translations(lang).gettext(LABELS[text])


def js_labels(lang: str) -> dict[str, str]:
    """Every label in ``lang``, for the page script's redraws."""
    return {code: label(lang, code) for code in LABELS}
