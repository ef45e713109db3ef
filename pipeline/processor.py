"""The stages of one letter, in order: ingest -> text -> fields -> match -> verdict.

:class:`Processor` holds what every letter needs (the promise index, the verdict model),
built once per worker. It lives here, apart from the batch runner (``pipeline.api``) and the
executors (``pipeline.executors``), so that both import it without an import cycle.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from typing import TYPE_CHECKING

from pipeline.errors import LetterError
from pipeline.schema import Letter, LetterFields, LetterResult, LetterText, Match, Promise, Status, Update
from pipeline.settings import Settings
from pipeline.stages.dates import iso_date
from pipeline.stages.text import extract_text

if TYPE_CHECKING:
    from pipeline.stages.match import PromiseIndex, Ranker
    from pipeline.stages.promise_terms import PromiseTerms

log = logging.getLogger("letters")

MAX_ERROR_CHARS = 1000  # a letter's error / review reasons, as stored and shown


def join_reasons(reasons: list[str], limit: int = MAX_ERROR_CHARS) -> str:
    """The reasons as one string of at most ``limit`` characters: whole reasons, then how many more."""
    out: list[str] = []
    used = 0
    for k, r in enumerate(reasons):
        more = f"… and {len(reasons) - k} more"
        room_for_more = len(more) + 2 if k < len(reasons) - 1 else 0
        if used + len(r) + room_for_more > limit:
            if not out:  # one reason longer than the limit on its own
                return r[: limit - 1] + "…"
            out.append(more)
            break
        out.append(r)
        used += len(r) + 2
    return "; ".join(out)


# An invented letter for Processor.rehearse (no real council's, no dev set's).
REHEARSAL = (
    "ВИКОНАВЧИЙ КОМІТЕТ ЛУЦЬКОЇ МІСЬКОЇ РАДИ\n"
    "вул. Богдана Хмельницького, 19, м. Луцьк, 43025\n"
    "12.03.2021 № 1-15/204\n"
    "На № 17 від 01.03.2021\n\n"
    "На Ваш запит повідомляємо, що станом на 10.03.2021 відремонтовано 7 із 12 дворів, "
    "роботи тривають і будуть завершені до 30 червня 2021 року.\n\n"
    "Секретар міської ради                                  І. Петренко\n"
)
POOR_SCAN = "poor scan"
NO_MATCH = "no promise matched"


def lang_of(fields: LetterFields) -> str:
    value = fields.language.value
    return value if value in ("uk", "ru") else "uk"


def match_promises(text: LetterText, fields: LetterFields, index: PromiseIndex, settings: Settings,
                   ranker: Ranker | None = None) -> list[Match]:
    """The promises a letter answers, best first, each with a passage of its own: the batch and
    :func:`pipeline.api.match_text` both match through here."""
    from pipeline.stages.assign import index_scorer, split_shared_passages
    from pipeline.stages.match import match_letter

    matches = match_letter(text, fields, index, settings.match_threshold, settings.near_tie_margin, ranker)
    matches = split_shared_passages(matches, index_scorer(index, lang_of(fields)))
    return sorted(matches, key=lambda m: -m.score)


def read_text(letter: Letter, settings: Settings) -> LetterResult:
    """ingest -> text alone, which needs no :class:`Processor`: the letter's result holding its text
    (status OK, for :meth:`Processor.finish` to complete), or FAILED with the reason; never raises
    for bad input. A worker reads its first letter with this while its Processor is being built."""
    result = LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.OK, letter=letter)
    t0 = time.perf_counter()
    try:
        result.text = extract_text(letter, settings)
    except LetterError as exc:
        result.status, result.error = Status.FAILED, str(exc)
    except Exception as exc:  # a bug must not lose the batch: record it on the letter
        log.error("internal error on %s:\n%s", letter.source_file, traceback.format_exc())
        result.status, result.error = Status.FAILED, f"internal error: {type(exc).__name__}: {exc}"
    result.timings["text"] = time.perf_counter() - t0
    return result


class Processor:
    """Everything one worker needs to process letters: the promise index and the verdict model,
    loaded once and reused for every letter."""

    def __init__(self, promises: list[Promise], settings: Settings) -> None:
        from pipeline.stages.match import PromiseIndex, Ranker
        from pipeline.stages.verdict import VerdictModel

        self.settings = settings
        self.index = PromiseIndex.build(promises)
        self.ranker = Ranker.load(settings.models_dir)  # refused loudly (ModelError) if its card does not verify
        self.model = VerdictModel.load(settings.models_dir)
        self.promises = {p.promise_id: p for p in promises}
        self._terms: dict[str, PromiseTerms] = {}  # read on first use: a big registry is mostly never matched

    def warm_up(self, langs: tuple[str, ...] = ("uk", "ru")) -> None:
        """Load now what the stages otherwise load on their first letter (their modules, the
        languages' tokenizers and morphology dictionaries). Called in the parent before a pool
        forks, so every worker, and every worker started again after a death, inherits them
        instead of spending ~1 s of CPU loading its own copy; and by a lone worker in a thread
        beside its first letter, whose OCR leaves the CPU to it (see pipeline.executors)."""
        import pipeline.stages.fields
        import pipeline.stages.match
        import pipeline.stages.ocr  # noqa: F401 - loaded for the workers
        from pipeline.nlp import morph_analyzer
        from pipeline.tokenizer import get_tokenizer

        for lang in langs:
            get_tokenizer(lang)
            morph_analyzer(lang)

    def rehearse(self) -> None:
        """Read an invented letter through fields, matching and verdict once: what the first real
        letter would otherwise pay for (modules imported, patterns compiled, words parsed: ~0.1 s)
        is paid now, by a worker whose Tesseract is reading that letter's first page meanwhile."""
        from pipeline.schema import PageText, Passage, TextSource
        from pipeline.stages.fields import extract_fields

        text = LetterText("rehearsal", [PageText(1, REHEARSAL, TextSource.TEXT_LAYER, 0.0, 0.0)])
        fields = extract_fields(text)
        match_promises(text, fields, self.index, self.settings, self.ranker)
        promise_id = next(iter(self.promises), None)
        if promise_id is not None:
            start = REHEARSAL.index("станом")
            passage = Passage(0, REHEARSAL[start:], start, len(REHEARSAL), 1)
            suggestion = self.model.suggest(passage, "uk", promise=self.promises[promise_id],
                                            letter_date=dt.date(2021, 3, 12), terms=self.terms(promise_id))
            self.drafts(fields, [Update("rehearsal", promise_id, Match(promise_id, 1.0, passage), suggestion)])

    def process(self, letter: Letter, text: LetterText | None = None) -> LetterResult:
        """ingest -> text -> fields -> match -> verdict for one letter; never raises for bad input.
        ``text``: the letter's text already read (a long scan OCR'd by page ranges on several workers)."""
        if text is None:
            read = read_text(letter, self.settings)
            return self.finish(read) if read.status == Status.OK else read
        result = LetterResult(letter.letter_id, letter.sha256, letter.source_file, Status.OK, letter=letter)
        result.text = text
        return self.finish(result)

    def finish(self, result: LetterResult) -> LetterResult:
        """fields -> match -> verdict on a letter whose text :func:`read_text` has read (``result``,
        completed in place and returned); never raises for bad input."""
        from pipeline.stages.fields import extract_fields
        from pipeline.stages.ocr import page_is_poor

        s = self.settings
        letter, text = result.letter, result.text
        assert letter is not None and text is not None, "finish() takes what read_text() read"
        t = result.timings
        try:
            t0 = time.perf_counter()
            fields = extract_fields(text)
            t["fields"] = time.perf_counter() - t0
            result.fields = fields
            t0 = time.perf_counter()
            matches = match_promises(text, fields, self.index, s, self.ranker)
            t["match"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            lang = fields.language.value
            letter_date = iso_date(fields.letter_date.value)
            result.updates = [self._update(letter, m, lang, letter_date) for m in matches]
            t["verdict"] = time.perf_counter() - t0
        except LetterError as exc:
            result.status, result.error = Status.FAILED, str(exc)
            return result
        except Exception as exc:  # a bug must not lose the batch: record it on the letter
            log.error("internal error on %s:\n%s", letter.source_file, traceback.format_exc())
            result.status, result.error = Status.FAILED, f"internal error: {type(exc).__name__}: {exc}"
            return result

        result.drafts = self.drafts(fields, result.updates)
        reasons = list(fields.review_reasons)
        poor = [p.page_no for p in text.pages if p.ocr_confidence is not None and page_is_poor(p, s.ocr)]
        if poor:
            reasons.insert(0, f"{POOR_SCAN} (page {', '.join(map(str, poor))})")
        if not matches:
            reasons.append(NO_MATCH)
        for u in result.updates:
            if u.match.near_tie:
                alts = ", ".join(pid for pid, _ in u.match.alternatives)
                reasons.append(f"ambiguous match {u.promise_id} (also {alts})")
            elif u.match.score < s.match_review_below:
                reasons.append(f"unsure match {u.promise_id} ({u.match.score:.2f})")
            elif u.suggestion and u.suggestion.confidence < s.verdict_review_below:
                reasons.append(f"unsure verdict for {u.promise_id} ({u.suggestion.confidence:.2f})")
        if reasons:
            result.status, result.error = Status.NEEDS_REVIEW, join_reasons(reasons)
        return result

    def drafts(self, fields: LetterFields, updates: list[Update]) -> dict[str, str]:
        """The promise pages' texts of this letter's answers, as the export drafts them from its
        fields (key -> text, see :class:`pipeline.lang.draft.Drafts`): drafted here, where the
        dictionaries are loaded, the export only reads them. Never fails the letter."""
        if not updates:
            return {}
        from pipeline.lang.draft import Drafts

        try:
            v = fields.values()
            body, position, name = v.get("sender_org"), v.get("signatory_position"), v.get("signatory_name")
            lang, date = v.get("language"), v.get("letter_date")
            drafts = Drafts()
            drafts.sources_line(position, body, name, lang)
            for u in updates:
                promise = self.promises.get(u.promise_id)
                drafts.result_paragraph(body, position, name, date, u.suggestion.evidence if u.suggestion else None,
                                        lang, (promise.lang if promise else None) or "uk")
            return drafts.made
        except Exception:  # the export drafts them itself
            log.debug("drafting failed", exc_info=True)
            return {}

    def terms(self, promise_id: str) -> PromiseTerms | None:
        from pipeline.stages.promise_terms import read_terms

        if promise_id not in self._terms and promise_id in self.promises:
            self._terms[promise_id] = read_terms(self.promises[promise_id])
        return self._terms.get(promise_id)

    def _update(self, letter: Letter, match: Match, lang: str | None, letter_date: dt.date | None) -> Update:
        promise = self.promises.get(match.promise_id)
        suggestion = self.model.suggest(match.passage, lang, promise=promise, letter_date=letter_date,
                                        terms=self.terms(match.promise_id))
        needs = (match.near_tie or match.score < self.settings.match_review_below
                 or suggestion.confidence < self.settings.verdict_review_below)
        return Update(letter.letter_id, match.promise_id, match, suggestion, needs_review=needs)
