"""What a passage reports about a promise, read against the promise's terms.

The facts: the date the passage speaks of ("станом на 01.10.2016", else the letter's date), the
quantities it reports in the promise's unit ("облаштовано 12 майданчиків", "12 із 35", "усі 27
шкіл"), whether it says the whole set was covered, the date a completion is reported on
("відкрито 15 грудня 2017 року"), a new date a work is moved to ("перенесено на 2019 рік"), and
how much of the promised object it speaks of. :func:`compare` turns facts and terms into the named
comparison features the verdict model weighs, and into the short explanation shown to reviewers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from pipeline.nlp import detect_language, words
from pipeline.stages.dates import find_dates
from pipeline.stages.promise_terms import PromiseTerms, find_deadline
from pipeline.stages.quantities import Quantity, find_quantities, same_unit

_AS_OF = re.compile(r"(?<![\w-])(?:станом\s+на|по\s+состоянию\s+на|на\s+момент|на\s+дату|состоянием\s+на|на)\s*$", re.I)
# A date that belongs to a document, not to the work: "рішення від 22.12.2016", "договір від …".
_DOC_DATE = re.compile(r"(?:рішенн\w*|розпорядженн\w*|наказ\w*|постанов\w*|договор\w*|договір|контракт\w*|угод\w*|"
                       r"лист\w*|письм\w*|решени\w*|распоряжени\w*|приказ\w*|протокол\w*|запит\w*|запрос\w*|"
                       r"програм\w*|программ\w*|№|затвердж\w*|утвержд\w*)[^.;]{0,40}$", re.I)
_DONE = re.compile(r"\b(?:здійсн\w*|осуществл\w*|проведен\w*|проведено|відбул\w*|заверш\w*|закінч\w*|законч\w*|відкр\w*|откр\w*|введен\w*|введено|введ\w+|здан\w*|зда\w+|"
                   r"прийнят\w*|принят\w*|встановл\w*|установл\w*|облашт\w*|обустро\w*|збудова\w*|побудова\w*|"
                   r"построе\w*|відремонтова\w*|отремонтирова\w*|замінен\w*|заменен\w*|виконан\w*|выполнен\w*|"
                   r"запрацюва\w*|заработа\w*|запущен\w*|реалізова\w*|реализова\w*|прийня\w*|приня\w*|"
                   r"розпоча\w*\s+роботу|почав\w*\s+працювати|начал\w*\s+работ\w*|отриман\w*|получен\w*|"
                   r"поставлен\w*|придбан\w*|приобретен\w*|закуплен\w*|передан\w*|доставлен\w*|отрима\w*|получи\w*|"
                   r"поповни\w*|пополни\w*|прийшли\s+перш\w*|пришли\s+перв\w*|готовн\w*\s+до\s+експлуатац\w*|"
                   r"готовност\w*\s+к\s+эксплуатац\w*)\b",
                   re.I)
_POSTPONE = re.compile(r"перенесен\w*|перенесли|відтермін\w*|продовжено\s+термін|перенос\w*|отложен\w*|"
                       r"планує\w*\s+(?:заверш|заверши|закінч|відкр|ввест|здат)|планиру\w*\s+(?:заверш|откр|ввест|сдат)|"
                       r"очікує\w*|ожидает\w*|орієнтовно|ориентировочно|прогнозує\w*", re.I)
# "до 1 жовтня", "не пізніше 15.09": a date that bounds the work, not the day it was done.
_BY = re.compile(r"(?:\bдо|\bк|\bко|\bпо|пізніше|позднее|раніше|ранее|\bвід|\bот)\s*$", re.I)  # "від": a document's date
_FUTURE = re.compile(r"\b(?:планує\w*|планиру\w*|заплановано|запланировано|передбача\w*|предусматрива\w*|буде|будуть|"
                     r"будет|будут|очікує\w*|ожида\w*|прогноз\w*|має\s+бути|должн\w+\s+быть|стане|станет)\b", re.I)
_INSTEAD = re.compile(r"\b(?:натомість|замість|вместо|взамен|взамін|альтернативн\w*|як\s+альтернатив\w*)\b", re.I)
# One listed address or object: "вул. Шевченка, 12", "просп. Миру", "ДНЗ № 5", "школа № 17".
_ADDRESS = re.compile(r"(?:\b(?:вул|ул|просп|пров|пер|пл|бульв|б-р)\.\s*[А-ЯІЇЄҐA-Z][^\W\d_]+|"
                      r"(?:ДНЗ|ЗОШ|ЗДО|школ\w*|гімназі\w*|гимнази\w*|ліце\w*|лице\w*)\s*№\s*\d+)")
_NEG = re.compile(r"\b(?:не|ні|ни|нет|немає)\b", re.I)
_REMAINING = re.compile(r"(?:решт\w*|залиш\w*|остальн\w*|оставш\w*|ще|еще|інш\w*|друг\w*)\s*$", re.I)


_CUMULATIVE = re.compile(r"(?:усього|всього|загалом|всего|итого|в\s+цілому|в\s+целом|отже|в\s+общей\s+сложности|разом|"
                         r"в\s+сумі|поповни\w*|пополни\w*)", re.I)
_PLANNED = re.compile(r"(?:договір|договор|контракт|угод\w*|заплановано|запланировано|передбачено|предусмотрено|"
                      r"планується|планируется|план\w*|потреб\w*|необхідно|необходимо)\s+(?:\w+\s+){0,3}$", re.I)


def _report_score(text: str, q: Quantity) -> int:
    """How much a count reads as what was delivered: next to a completion verb, a running total."""
    before = text[max(0, q.start - 60):q.start]
    clause_start = max(before.rfind(";"), before.rfind(". "), before.rfind(","))
    near = before[clause_start + 1:] + " " + text[q.end:q.end + 40].split(";")[0].split(". ")[0]
    score = 2 if _DONE.search(near) else 0
    if _CUMULATIVE.search(before[clause_start + 1:] if clause_start >= 0 else before):
        score += 1
    if _PLANNED.search(before):
        score -= 2
    return score


@dataclass
class PassageFacts:
    as_of: dt.date | None  # the date the report speaks of
    as_of_source: str  # "stanom_na" | "letter_date" | "none"
    quantities: list[Quantity] = field(default_factory=list)
    reported: Quantity | None = None  # the count in the promise's unit
    completion_date: dt.date | None = None
    postponed_to: dt.date | None = None
    all_of: bool = False  # the passage says the whole named set was covered
    object_share: float = 0.0  # share of the promise's object terms the passage names
    negated_done: bool = False  # a completion verb under negation ("не було здійснено")
    growth: float | None = None  # "з 6 до 9": the reported growth factor, for an "удвічі більше" promise
    part_of_set: bool = False  # "в 4 з 7 поліклінік", "частково": only part of a named set
    event_dates: list[dt.date] = field(default_factory=list)  # dates of works and events (not of documents)
    instead: bool = False  # "натомість", "замість", "вместо": something else was done

    def to_json(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "as_of_source": self.as_of_source,
            "reported": self.reported.to_json() if self.reported else None,
            "completion_date": self.completion_date.isoformat() if self.completion_date else None,
            "postponed_to": self.postponed_to.isoformat() if self.postponed_to else None,
            "all_of": self.all_of,
            "object_share": round(self.object_share, 3),
            "negated_done": self.negated_done,
            "growth": self.growth,
            "part_of_set": self.part_of_set,
            "event_dates": sorted({d.isoformat() for d in self.event_dates}),
            "instead": self.instead,
        }


def _sentences(text: str) -> list[tuple[int, int]]:
    from pipeline.stages.verdict import split_sentences

    return split_sentences(text)


def find_as_of(text: str, letter_date: dt.date | None) -> tuple[dt.date | None, str]:
    """The "станом на …" date of the passage if it gives one (not after the letter), else the letter date."""
    for d in find_dates(text):
        if _AS_OF.search(text[max(0, d.start - 24):d.start]):
            if letter_date is None or d.date <= letter_date + dt.timedelta(days=3):
                return d.date, "stanom_na"
    return (letter_date, "letter_date") if letter_date else (None, "none")


def read_facts(text: str, terms: PromiseTerms | None, letter_date: dt.date | None,
               lang: str | None = None) -> PassageFacts:
    from pipeline.ocrnorm import fold_mixed_words

    text = fold_mixed_words(text)  # OCR look-alikes; one character for one, so offsets stay valid
    lang = lang or detect_language(text)
    as_of, source = find_as_of(text, letter_date)
    facts = PassageFacts(as_of=as_of, as_of_source=source)
    facts.quantities = find_quantities(text, lang)
    facts.all_of = any(q.all_of for q in facts.quantities) or bool(
        re.search(r"\b(?:в\s+усіх|у\s+всіх|в\s+всіх|во\s+всех|на\s+всі\w*|на\s+всей|по\s+всій|по\s+всей|"
                  r"усі\s+заплановані|все\s+запланированные|в\s+повному\s+обсязі|в\s+полном\s+объеме|"
                  r"повністю|полностью|у\s+повному\s+обсязі)\b", text, re.I))
    if terms is not None and terms.quantity is not None:
        unit = terms.quantity.unit
        same = [q for q in facts.quantities if same_unit(q.unit, unit)
                and not _REMAINING.search(text[max(0, q.start - 12):q.start])]
        totals = [q for q in facts.quantities if q.of_total is not None and q.unit != "грн"]
        measures = ("км", "м", "га", "м2", "грн", "%", "fraction")
        # A count in other words ("11 дошкільних закладів" for "18 дитячих садків"): the passage's
        # first count of things, when the promise counts things too.
        other = [q for q in facts.quantities if q.unit not in measures and unit not in measures
                 and terms.quantity_in_title and not _REMAINING.search(text[max(0, q.start - 12):q.start])]
        fractions = [q for q in facts.quantities if q.unit == "fraction"]
        for group in (same, totals, fractions, other):
            if group:
                facts.reported = max(group, key=lambda q: (_report_score(text, q), -q.start))
                break
        if facts.reported is None and unit not in measures:
            # A list of addresses or objects instead of a count: the analyst counts the items.
            listed = _ADDRESS.findall(text)
            if len(listed) >= 2:
                facts.reported = Quantity(float(len(listed)), "list", "items listed", f"{len(listed)} listed",
                                          0, 0)
    if terms is not None and terms.multiplier:
        m = re.search(r"\b(?:з|із|с|от|від)\s+(\d+(?:[.,]\d+)?)\s+(?:\w+\s+){0,2}до\s+(\d+(?:[.,]\d+)?)", text)
        if m and float(m.group(1).replace(",", ".")) > 0:
            growth = float(m.group(2).replace(",", ".")) / float(m.group(1).replace(",", "."))
            facts.growth = growth
    partial = [q for q in facts.quantities if q.of_total and q.unit != "fraction" and q.value < q.of_total]
    facts.part_of_set = bool(partial) or bool(re.search(r"\b(?:частково|частично|окремих|отдельных|деяких|некоторых)\b",
                                                        text, re.I))
    for s, e in _sentences(text):
        sent = text[s:e]
        done = _DONE.search(sent)
        if done and _NEG.search(sent[max(0, done.start() - 14):done.start()] + " "):
            facts.negated_done = True
        if _POSTPONE.search(sent):
            new = find_deadline(sent, letter_date, lang)
            if new is not None and (letter_date is None or new.end >= letter_date - dt.timedelta(days=31)):
                facts.postponed_to = new.end
        if done and not _NEG.search(sent[max(0, done.start() - 14):done.start()] + " "):
            for d in find_dates(sent):
                before = sent[max(0, d.start - 48):d.start]
                if _AS_OF.search(before[-24:]) or _DOC_DATE.search(before) or _BY.search(before[-16:]):
                    continue
                if letter_date is None or d.date <= letter_date:
                    facts.completion_date = max(facts.completion_date or d.date, d.date)
            if facts.completion_date is None:
                m = re.search(r"\b(?:у|в)\s+([^\W\d_]{3,10})\s+((?:19|20)\d\d)", sent)
                if m:
                    from pipeline.stages.dates import month_from_word
                    from pipeline.stages.promise_terms import _month_end

                    month = month_from_word(m.group(1))
                    if month:
                        d = _month_end(int(m.group(2)), month)
                        if letter_date is None or d <= letter_date + dt.timedelta(days=31):
                            facts.completion_date = dt.date(int(m.group(2)), month, 1)
    for a, b in _sentences(text):
        sent = text[a:b]
        if _FUTURE.search(sent):
            continue  # a plan's dates are not dates of works
        for d in find_dates(sent):
            before = sent[max(0, d.start - 48):d.start]
            if not (_AS_OF.search(before[-24:]) or _DOC_DATE.search(before) or _BY.search(before[-16:])):
                facts.event_dates.append(d.date)
        for m in re.finditer(r"\b(?:у|в|протягом|впродовж|в\s+течение)\s+(?:(?:19|20)\d\d\s*[-–]\s*)?((?:19|20)\d\d)"
                             r"(?:\s*-?(?:му|м|й))?\s+(?:роках|році|рік|року|годах|году|годы|г\.|р\.)", sent, re.I):
            if not _DOC_DATE.search(sent[max(0, m.start() - 48):m.start()]):
                facts.event_dates.append(dt.date(int(m.group(1)), 1, 1))
    facts.instead = bool(_INSTEAD.search(text))
    if terms is not None and terms.object_terms:
        from pipeline.stages.match_terms import terms_of

        present = {t for w in words(text) for t in terms_of(w, lang)[0]}
        facts.object_share = sum(1 for t in terms.object_terms if t in present) / len(terms.object_terms)
    return facts


# --- comparison ----------------------------------------------------------------------------------

COMPARISON_FEATURES = (
    "has_deadline", "deadline_passed", "has_quantity", "quantity_known", "quantity_short", "quantity_met",
    "quantity_ratio", "scope_all", "scope_covered", "completed_late", "postponed_past_deadline",
    "object_share", "negated_done", "part_of_set", "events_after_deadline", "instead",
)


@dataclass
class Comparison:
    values: dict[str, float]
    explanation: str
    deadline: dt.date | None = None
    as_of: dt.date | None = None


def _n(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}".replace(".", ",")


def compare(terms: PromiseTerms | None, facts: PassageFacts) -> Comparison:
    """Named features of the passage against the promise, and the reviewer's one-line reading."""
    v = dict.fromkeys(COMPARISON_FEATURES, 0.0)
    notes: list[str] = []
    deadline = terms.deadline.end if terms and terms.deadline else None
    if deadline is not None:
        v["has_deadline"] = 1.0
        if facts.as_of is not None and facts.as_of > deadline:
            v["deadline_passed"] = 1.0
            notes.append(f"deadline {deadline.isoformat()} passed at {facts.as_of.isoformat()}")
        elif facts.as_of is not None:
            notes.append(f"deadline {deadline.isoformat()} not yet passed at {facts.as_of.isoformat()}")
        if facts.completion_date is not None and facts.completion_date > deadline:
            v["completed_late"] = 1.0
            notes.append(f"completed {facts.completion_date.isoformat()}, after the deadline")
        after = [d for d in facts.event_dates if d > deadline and (facts.as_of is None or d <= facts.as_of)]
        if after:
            v["events_after_deadline"] = 1.0
            if not v["completed_late"]:
                notes.append(f"works dated {max(after).isoformat()}, after the deadline")
        if facts.postponed_to is not None and facts.postponed_to > deadline:
            v["postponed_past_deadline"] = 1.0
            notes.append(f"moved to {facts.postponed_to.isoformat()}, past the deadline")
    if terms is not None and terms.quantity is not None:
        v["has_quantity"] = 1.0
        promised = terms.quantity.value
        rep = facts.reported
        if rep is not None and promised > 0:
            if rep.unit == "fraction":
                ratio = rep.value
            elif rep.of_total and not same_unit(rep.unit, terms.quantity.unit):
                ratio = rep.value / rep.of_total
            else:
                ratio = rep.value / promised
            v["quantity_known"] = 1.0
            v["quantity_ratio"] = min(ratio, 2.0)
            v["quantity_short"] = 1.0 if ratio < 0.999 else 0.0
            v["quantity_met"] = 1.0 if ratio >= 0.999 else 0.0
            notes.append(f"{_n(rep.value)} reported of {_n(promised)} {terms.quantity.unit_lemma} promised")
        elif facts.all_of:
            v["quantity_met"] = 1.0
            notes.append(f"the whole set reported ({_n(promised)} {terms.quantity.unit_lemma} promised)")
    if terms is not None and terms.multiplier and facts.growth is not None:
        ratio = facts.growth / terms.multiplier
        v["quantity_known"] = 1.0
        v["quantity_ratio"] = min(ratio, 2.0)
        v["quantity_short"] = 1.0 if ratio < 0.999 else 0.0
        v["quantity_met"] = 1.0 if ratio >= 0.999 else 0.0
        notes.append(f"grew ×{facts.growth:.2g} of ×{_n(terms.multiplier)} promised")
    if terms is not None and terms.scope_all:
        v["scope_all"] = 1.0
        if facts.all_of and not facts.part_of_set:
            v["scope_covered"] = 1.0
            notes.append("all of the promised set reported")
        elif facts.part_of_set:
            notes.append("only part of the promised set reported")
    if facts.part_of_set and not v["quantity_short"]:
        v["part_of_set"] = 1.0
    v["object_share"] = facts.object_share
    v["negated_done"] = 1.0 if facts.negated_done else 0.0
    if facts.instead and terms is not None:
        v["instead"] = 1.0
        notes.append("something else done instead")
    return Comparison(v, "; ".join(notes), deadline, facts.as_of)
