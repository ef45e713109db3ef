"""Letter-level evidence for matching: answers that answer nothing, the sender's tier of
government, the letter's city (the field stage's, checked against the registry), politicians'
surnames in any case form."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from pipeline.cities import city_of_text
from pipeline.nlp import words
from pipeline.schema import LetterFields, LetterText
from pipeline.stages.match_index import PromiseIndex
from pipeline.stages.match_terms import _city_stem, _token_is_city, skel
from pipeline.stages.segment import Regions, find_regions

# --- answers that answer nothing ----------------------------------------------------------

# Outgoing verbs only: "запит направлено за належністю" forwards, while a reply to a request
# "надісланий за належністю" (incoming, a participle) may well answer it.
_FWD = r"(?:направлено|надіслано|передано|переслано|скеровано|направлен|передан|переслан)\b"
_FWD_WHERE = (
    r"(?:за\s+належністю|за\s+компетенцією|по\s+принадлежности|по\s+компетенции|для\s+розгляду|"
    r"для\s+опрацювання|на\s+опрацювання|для\s+рассмотрения|на\s+рассмотрение|для\s+надання\s+відповіді|"
    r"для\s+предоставления\s+ответа|для\s+подготовки\s+ответа|для\s+підготовки\s+відповіді)"
)
# Forwarding is a non-answer when it is the request that is forwarded: "an MP's appeal was sent
# to the executive committee in 2012" is history the answer reports.
_FORWARD_RE = re.compile(
    "|".join(
        [
            _FWD + r"[^.;]{0,150}?" + _FWD_WHERE,
            r"(?:за\s+належністю|по\s+принадлежности)\s+(?:\S+\s+){0,3}?" + _FWD,
            r"переадрес\w*",
        ]
    ),
    re.IGNORECASE,
)
_THE_REQUEST_RE = re.compile(r"\bваш|запит|запрос|інформаційн\w*\s+запит|лист|письм", re.IGNORECASE)
_NON_ANSWER_RE = re.compile(
    "|".join(
        [
            # the access-to-information law's own forms: forwarded to the proper holder (art. 22),
            # answer term extended (art. 20)
            r"належному\s+розпоряднику",
            r"надлежащему\s+распорядителю",
            r"відповідь\s+по\s+суті\s+(?:\S+\s+){0,3}?надасть",
            r"ответ\s+по\s+существу\s+(?:\S+\s+){0,3}?предостав",
            r"продовжу\w*\s+строк\w*\s+розгляду",
            r"строк\w*\s+розгляду\s+(?:\S+\s+){0,4}?продовжено",
            r"продлева\w*\s+срок\w*\s+рассмотрени",
            r"срок\w*\s+рассмотрени\w*\s+(?:\S+\s+){0,4}?продлен",
            r"не\s+належить\s+до\s+(?:компетенції|повноважень)",
            r"не\s+относится\s+к\s+(?:компетенции|полномочиям)",
            r"не\s+володі\w*\s+(?:запитуваною\s+)?інформаці",
            r"не\s+владе\w*\s+(?:запрашиваемой\s+)?информаци",
            r"не\s+располага\w*\s+(?:запрашиваемой\s+)?информаци",
            r"не\s+є\s+розпорядник\w*",
            r"не\s+являет\w*\s+распорядител\w*",
            r"розпорядником\s+(?:запитуваної\s+|цієї\s+|такої\s+)?інформації\s+є",
            r"распорядителем\s+(?:запрашиваемой\s+|этой\s+|такой\s+)?информации\s+является",
            # refused
            r"не\s+може\s+бути\s+задоволен",
            r"не\s+может\s+быть\s+удовлетворен",
            r"відмовлено\s+[ув]\s+задоволенні",
            r"отказано\s+в\s+удовлетворении",
            r"задоволенн\w*\s+[^.]{0,60}?відмовлено",
            r"удовлетворени\w*\s+[^.]{0,60}?отказано",
            r"не\s+підляга\w*\s+задоволенню",
            r"не\s+подлеж\w*\s+удовлетворению",
            r"не\s+є\s+наданням\s+публічної",
            r"не\s+являет\w*\s+предоставлением\s+публичной",
            r"інформаці\w*\s+з\s+обмеженим\s+доступом",
            r"информаци\w*\s+с\s+ограниченным\s+доступом",
            r"залишено\s+без\s+розгляду",
            r"оставлен\w*\s+без\s+рассмотрения",
            # deadline extended / acknowledged
            r"(?:строк|термін)\w*\s+(?:його\s+|її\s+)?(?:розгляду|надання\s+відповіді)[^.]{0,80}?продовжено",
            r"срок\w*\s+(?:его\s+)?(?:рассмотрения|предоставления\s+ответа)[^.]{0,80}?продлен",
            r"продовжено\s+до\s+\d+\s+робоч",
            r"продлен\w*\s+до\s+\d+\s+рабоч",
            r"відповідь\s+по\s+суті\s+буде",
            r"ответ\s+по\s+существу\s+будет",
            r"запит\w*\s+[^.]{0,150}?зареєстрован",
            r"запрос\w*\s+[^.]{0,150}?зарегистрирован",
            r"прийнято\s+до\s+розгляду",
            r"принят\w*\s+к\s+рассмотрению",
            # clarification asked
            r"проси\w*\s+уточнити",
            r"просим\s+уточнить",
            r"проси\w*\s+конкретизувати",
            r"просим\s+конкретизировать",
            r"уточн\w+\s+запит",
            r"уточн\w+\s+запрос",
        ]
    ),
    re.IGNORECASE,
)
# Facts that show the passage does report on the matter (amounts, lengths, shares).
_FACT_RE = re.compile(
    r"\d[\d\s]*(?:[,.]\d+)?\s*(?:км|м²|м2|кв\.\s*м|млн|тис|тыс|грн|гривен|%|од\.|одиниц|единиц|світильник|светильник)",
    re.IGNORECASE,
)


# A sentence that restates the request ("розглянуто Ваш запит щодо ремонту 4 000 км доріг") quotes
# the question, not an answer: its figures do not make the letter an answer.
_REQUEST_RE = re.compile(r"запит|запрос|звернен|обращени|заяв[иу]\b", re.IGNORECASE)


def is_non_answer(passage_text: str) -> bool:
    """True for text that forwards, refuses, postpones or acknowledges instead of answering."""
    flat = " ".join(passage_text.split())
    sentences = re.split(r"(?<=[.!?;])\s+", flat)
    if not any(
        _NON_ANSWER_RE.search(s) or (_FORWARD_RE.search(s) and _THE_REQUEST_RE.search(s)) for s in sentences
    ):
        return False
    return not any(_FACT_RE.search(s) for s in sentences if not _REQUEST_RE.search(s))



_NATIONAL_SENDER = re.compile(
    r"міністерств|министерств|державн\w* (агентств|служб|інспекц)|государственн\w* (агентств|служб|инспекц)|"
    r"верховн\w* рад|кабінет\w* міністрів|кабинет\w* министров|національн\w* (агентств|служб|комісі)|"
    r"національн\w* поліці|фонд\w* (державного|соціального)|укравтодор|україни\b|украины\b",
    re.IGNORECASE,
)


_REGIONAL_SENDER = re.compile(
    r"обласн|областн|облдерж|облгос|\bОДА\b|\bОГА\b|(?<!\w)\w{2,20}(?:ській\s+області|ской\s+области)", re.IGNORECASE
)
_CITY_SENDER = re.compile(r"міськ|городск|селищн|поселков|сільськ|сельск|районн\w*\s+(?:в|у)\s+місті", re.IGNORECASE)


def sender_level(sender_org: str | None, full_text: str = "") -> str:
    """"national", "region" or "city": the tier of government that sent the letter ("" when unknown).

    A territorial body of a state agency ("Служба автомобільних доріг у … області") answers
    for its oblast, so it is a regional sender.
    """
    head = sender_org or "\n".join(full_text.splitlines()[:3])
    if _CITY_SENDER.search(head):
        return "city"
    if _REGIONAL_SENDER.search(head):
        return "region"
    if is_national_sender(sender_org, full_text):
        return "national"
    return ""



def is_national_sender(sender_org: str | None, full_text: str = "") -> bool:
    """A ministry, a state agency or service, parliament: a body of the state, not of a city."""
    head = sender_org or full_text[:300]
    return bool(_NATIONAL_SENDER.search(head)) and not re.search(r"міськ|городск|обласн|областн", head, re.I)



def letter_city(
    text: LetterText, fields: LetterFields | None, index: PromiseIndex, regions: Regions | None = None
) -> str | None:
    if fields is not None and fields.sender_city.value:
        city = fields.sender_city.value
        if registry_cities(city, index):
            return city
        # A city the registry does not know: trust it unless the letterhead names a registry city
        # (the field stage may have read the wrong line).
        head_votes, _, _ = _city_votes(text.full_text, index, regions)
        return max(head_votes.items(), key=lambda kv: kv[1])[0] if head_votes else city
    return detect_city(text.full_text, index, regions)


def registry_cities(city: str, index: PromiseIndex) -> set[str]:
    """Normalised registry cities that ``city`` names, however it is spelled ("Кривого Рогу")."""
    return {
        index.city_norm[c]
        for c, keys in index.city_keys.items()
        if index.city_norm[c] == _city_stem(city) or any(_token_is_city(w, keys) for w in city.split())
    }



# --- letter-level evidence -----------------------------------------------------------------------


def _city_votes(
    full_text: str, index: PromiseIndex, regions: Regions | None = None
) -> tuple[dict[str, float], dict[str, float], str]:
    """Registry-city mentions in the letterhead and in the body/subject, and the letterhead text."""
    regions = regions or find_regions(full_text)
    head_end = regions.letterhead_end or min(regions.body_start, len(full_text))
    head = full_text[:head_end]
    # The recipient block (between the date line and the body) is skipped: it holds the
    # addressee's city, not the sender's. The top lines of the letterhead weigh most.
    head_zones = [(line, 3.0 / (1 + n / 4)) for n, line in enumerate(head.splitlines())]
    body_zones = [(full_text[regions.body_start : regions.body_end], 1.0), (regions.subject or "", 1.0)]
    head_votes: dict[str, float] = defaultdict(float)
    body_votes: dict[str, float] = defaultdict(float)
    for zones, votes in ((head_zones, head_votes), (body_zones, body_votes)):
        for zone, weight in zones:
            for city in city_mentions(zone, index):
                votes[city] += weight
    return head_votes, body_votes, head


def city_mentions(text: str, index: PromiseIndex) -> Iterator[str]:
    """Registry cities (as spelled in the registry) named in ``text``, once per mention, in any
    case or as an adjective; a capitalised word only."""
    for tok in words(text):
        if not tok[:1].isupper():
            continue
        t = skel(tok)
        for k in range(3, 6):
            for city in index.city_prefix.get(t[:k], ()):
                if _token_is_city(tok, index.city_keys[city]):
                    yield city


def detect_city(full_text: str, index: PromiseIndex, regions: Regions | None = None) -> str | None:
    """The city the letter comes from: registry cities named in the letterhead first.

    When the letterhead names no registry city but gives an address ("м. Ковель"),
    that place is returned, so that promises of other cities are not taken for it;
    city names in the body decide only when the letterhead says nothing.
    """
    head_votes, body_votes, head = _city_votes(full_text, index, regions)
    if head_votes:
        total = {c: v + body_votes.get(c, 0.0) for c, v in head_votes.items()}
        return max(total.items(), key=lambda kv: kv[1])[0]
    place = city_of_text(full_text)  # the one city resolver: the letterhead's adjective or address
    if place:
        return place
    return max(body_votes.items(), key=lambda kv: kv[1])[0] if body_votes else None


def find_surnames(full_text: str, stems: set[str]) -> dict[str, str]:
    """Surname stem -> the word form found in the text ("петренк" -> "Петренка").

    Each capitalised word is looked up by its own prefixes, so the cost does not grow
    with the number of politicians in the registry.
    """
    found: dict[str, str] = {}
    for tok in words(full_text):
        if not tok[:1].isupper():
            continue
        t = skel(tok)
        for cut in range(0, 4):  # case endings add up to three letters
            stem = t[: len(t) - cut] if cut else t
            if len(stem) >= 3 and stem in stems and stem not in found:
                found[stem] = tok
    return found

