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
    "undecided": "undecided", "no_answer": "no answer", "human": "human", "machine": "machine",
    "accept": "accept", "correct": "correct", "undo": "undo", "adjudicate": "adjudication",
    "field": "field", "verdict": "verdict", "match": "match", "letter": "letter",
    "result_draft": "result draft", "sources_draft": "sources draft",
}

# Messages the server sends outside the templates (flash and error texts), translated when sent.
MESSAGES = (
    "Too many failed logins. Try again in %(min)d min.",
    "Wrong name or password.",
    "The database is busy (another program is writing to it): not saved. Try again in a moment.",
    "This letter was changed by %(who)s at %(at)s UTC after you opened it, so your change was NOT saved. "
    "Reload the letter to see the current decisions, then decide again.",
    "This letter was changed after you opened it, so your change was NOT saved. "
    "Reload the letter to see the current decisions, then decide again.",
    "The date range was reversed; showing %(start)s to %(end)s.",
    "no such letter", "no such page", "login required", "not found",
    "missing or wrong CSRF token; reload the page",
    "the adjudication queue is for adjudicators and admins",
)

# Messages of the page scripts (app.js, promise.js); "{name}" marks a value the script fills in.
JS_MESSAGES = (
    "Reload the letter first: it changed since you opened it.",
    "Conflict: this letter changed.", "You tried: {what}.",
    "Your session ended. Log in again (your last change was not saved).",
    "Not saved ({status}).", "Saved: {what}.", "Network error: not saved ({what}).",
    "This match was rejected (not this promise): press u to undo before judging it.",
    "This letter has promises to judge: decide or reject them first.", "Already closed.",
    "Letter done: press Enter or n for the next letter.", "No suggestion to accept: choose 1, 2 or 3.",
    "by {name} at {at}", "Reviewers:", "No field is flagged for checking.", "Type or pick a promise id first.",
    "edited by {name}", "machine draft", "not saved", "saved {kind}", "not undone", "edit undone",
    "copied {kind} ({num} characters)", "undoes",
)


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


def translate(lang: str, message: str) -> str:
    """``message`` in ``lang`` (the English source text when the catalogue has no entry)."""
    return translations(lang).gettext(message)


def js_labels(lang: str) -> dict[str, str]:
    """Every label and page-script message in ``lang``, for the page scripts."""
    out = {code: label(lang, code) for code in LABELS}
    out.update({m: translate(lang, m) for m in JS_MESSAGES})
    return out
