"""Match a letter's passages to the promise registry.

Each (passage, promise) pair gets a score in 0..1 from a few explainable
features:

* topic similarity: the share of the promise's weighted terms the passage
  contains, plus a TF-IDF cosine. Terms are lemmas (pymorphy3) mapped through
  a small uk<->ru civic lexicon and a spelling "skeleton" that folds the
  letters the two alphabets spell differently (і/и/ы, е/є/э, ь), then cut to a
  prefix so derivations and many cognates meet ("реконструкция" /
  "реконструкція", "водопроводных" / "водопровідних"). Term weights are
  inverse document frequencies over the registry, so terms shared by many
  promises count little.
* city: the sender's city (from the field extractor, else from city names in
  the letterhead and body) against the promise's city — a strong prior.
* politician's surname (any case form) and office type mentioned in the letter.
* competition on a passage: one passage answers one question, so a promise far
  weaker than the passage's best, or whose evidence is only a subset of the
  best promise's ("repair Franko street" on a reply about Shevchenko street),
  is pushed down.

The whole answer is also scored as one more (discounted) row, for a promise
answered across several points; the basis passage is then the point sharing
most with it. A letter or passage that answers nothing (forwarded, refused,
deadline extended, receipt acknowledged, clarification asked) gets no match
even when it names a promise's topic. Weights are set by hand, as round
numbers, not fitted to any letters.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import sparse

from pipeline.cities import city_lexicon, city_of_text
from pipeline.nlp import detect_language, morph_analyzer, words
from pipeline.ocrnorm import NUMBER_SIGN_NUMBER, fold_homoglyphs
from pipeline.schema import LetterFields, LetterText, Match, Passage, Promise
from pipeline.stages.segment import Regions, find_regions, segment

# --- spelling skeleton ------------------------------------------------------------

_SKEL = str.maketrans({"і": "и", "ї": "и", "ы": "и", "й": "и", "є": "е", "э": "е", "ё": "е", "ґ": "г"})
_DROP = re.compile(r"[ьъ'’ʼ`-]")
_DOUBLE = re.compile(r"(.)\1+")
PREFIX_LEN = 7  # enough to keep roots apart, short enough to merge endings and uk/ru vowel shifts


@lru_cache(maxsize=200_000)
def skel(word: str) -> str:
    """Fold Ukrainian and Russian spellings of the same word together (lower case, no soft signs, no doubles)."""
    s = _DROP.sub("", word.lower().translate(_SKEL))
    return _DOUBLE.sub(r"\1", s)


# --- uk<->ru civic lexicon ----------------------------------------------------------
# "stem -> concept": a word whose skeleton starts with the stem's skeleton gets the
# concept as its term; "a+b" gives a compound two terms; "~theme" adds a broader, weakly
# weighted theme (вода, світло, транспорт...) so a reply in other words of the same field
# ("водовід" for "водопровід") still scores. Covers the
# vocabulary of municipal services, where the two languages use different roots.
# Cognates that differ only in spelling need no entry.
_LEXICON = """
улиц вулиця|вулиц вулиця|освещ освітлення~світло|освітл освітлення~світло|светильн світильник~світло|світильн світильник~світло|фонар ліхтар~світло
ліхтар ліхтар~світло|светодиод світлодіод~світло|світлодіод світлодіод~світло|правительств уряд|врядув уряд|урядув уряд|уряд уряд
внедр запровадити|впровад запровадити|запровад запровадити|внедрен запровадити|ввест запровадити|введен запровадити
строит будувати|строительств будувати|постро будувати|будівн будувати|будув будувати|збуду будувати|побуд будувати
добуд добудувати|достро добудувати|шоссе шосе~дорога|шосе шосе~дорога|велодорож велосипед+доріжка|велодоріж велосипед+доріжка
велосипедн велосипед|велосипед велосипед|дорожк доріжка|доріжк доріжка|мост міст|тротуар тротуар
детск дитячий|дитяч дитячий|детсад дитячий+садок|дитсад дитячий+садок|садик садок|садок садок|садк садок
дошкольн дитячий+садок|дошкільн дитячий+садок|трасс дорога|траса дорога|трасу дорога|трас дорога|поставк закупити
облдержадмін обласний+державний+адміністрація|облгосадмин обласний+державний+адміністрація|цнап адміністративний+послуга
больниц лікарня~медицина|лікарн лікарня~медицина|лечебн лікувальний|лікувальн лікувальний|здравоохран здоров'я|здоров здоров'я
водоснабж водопостачання~вода|водопостач водопостачання~вода|водоотвед водовідведення~вода|водовідвед водовідведення~вода
канализац каналізація~вода|каналізац каналізація~вода|трубопровод трубопровід|трубопровід трубопровід|водопровод водопровід~вода
водопровід водопровід~вода|водовод водовід~вода|водовід водовід~вода|круглосуточ цілодобовий|цілодобов цілодобовий
теплоснабж теплопостачання~тепло|теплопостач теплопостачання~тепло|отоплен опалення~тепло|опаленн опалення~тепло|котельн котельня~тепло
остановк зупинка|зупинк зупинка|билет квиток|квиток квиток|квитк квиток|проезд проїзд|проїзд проїзд
троллейбус тролейбус~транспорт|тролейбус тролейбус~транспорт|трамва трамвай~транспорт|электротранспорт електротранспорт~транспорт|електротранспорт електротранспорт~транспорт
электрон електронний|електрон електронний|услуг послуга|послуг послуга|административн адміністративний
адміністративн адміністративний|открыт відкритий|відкрит відкритий|откро відкритий|відкри відкритий
данн дані|дани дані|очеред черга|черг черга|запис запис|онлайн онлайн|портал портал
площадк майданчик|майданчик майданчик|игров ігровий|ігров ігровий|благоустр благоустрій|озелен озеленення
замен заміна|замін заміна|окон вікно|окн вікно|вікон вікно|вікн вікно|кровл покрівля|покрівл покрівля|крыш дах
утепл утеплення|термомодерн термомодернізація|энергоэффект енергоефективність|енергоефект енергоефективність
энергосбер енергозбереження|енергозбер енергозбереження|мусор сміття~відходи|сміт сміття~відходи|отход відходи|відход відходи
вывоз вивезення|вивез вивезення|полигон полігон|полігон полігон|жиль житло|жилищ житловий|житлов житловий
житл житло|многоэтаж багатоповерховий|багатоповерх багатоповерховий|сельск сільський|сільськ сільський
обеспеч забезпечити|забезпеч забезпечити|продл продовжити|продовж продовжити|продлен продовжити
установ встановити|встанов встановити|обустр облаштувати|облашт облаштувати|ученик учень|учен учень|учн учень
учебн навчальний|навчальн навчальний|образоват освіта|образован освіта|освіт освіта|средств кошти|кошт кошти
финансир фінансування|фінансув фінансування|остров острів|острів острів|видеонаблюд відеоспостереження
відеоспостереж відеоспостереження|безопасн безпека|безпек безпека|кладбищ кладовище|кладовищ кладовище
пешеход пішохідний|пішохід пішохідний|перекрест перехрестя|перехрест перехрестя|светофор світлофор
світлофор світлофор|парковк паркування|паркув паркування|подземн підземний|підземн підземний
переход перехід|перехід перехід|приобре придбати|придба придбати|закуп закупити|покупк закупити
автобусн автобус~транспорт|автобус автобус~транспорт|маршрут маршрут|школьн школа|шкільн школа|школ школа|гимназ гімназія~школа
гімназ гімназія~школа|корпус корпус|реконструк реконструкція|капитальн капітальний|капітальн капітальний
ремонт ремонт|отремонт ремонт|відремонт ремонт|дорог дорога|доріг дорога|дорож дорога|покрыт покриття
покритт покриття|асфальт асфальт|заасфальт асфальт|частн приватний|сквер сквер|парк парк|регистрац реєстрація|реєстрац реєстрація
цифров цифровий|информац інформація|інформац інформація|прозрач прозорість|прозор прозорість
бюджет бюджет|програм програма|программ програма|центр центр|сет мережа|сеть мережа|мереж мережа
лицеи ліцей~школа|загальноосвітн школа|поликлиник поліклініка~медицина|амбулатор амбулаторія~медицина
медицин медицина|медичн медицина
"""
# Lemmas too short for stem matching, mapped whole.
_EXACT = {
    "сеть": "мережа",
    "дом": "будинок",
    "сад": "садок",
    "окно": "вікно",
    "дети": "діти",
    "ребенок": "дитина",
    "км": "кілометр",
    "цнап": "адміністративний+послуга",
}

_STOP_WORDS = """
и й та в у на с з із зі со по для до из від от за про о об что що как як который який этот цей тот той весь
все усі увесь свой свій его його ее її их їх он він она вона они вони мы ми вы ви ваш наш быть бути бы не ни
ні же ж ли чи также також а але но или або к при під под над без через после після между між уже вже еще ще
год рік город місто городской міський голова мэр обещать обіцяти пообещать пообіцяти заявить заявити обещание
обіцянка зафиксировать речь идти кандидат депутат избиратель виборець встреча зустріч житель мешканець новый
новий сказать сказати объявить оголосити анонсировать анонсувати время час срок строк каждый кожний такой
такий совет рада міськрада горсовет вступление должность посада жалоба скаржитися жаловаться родитель
батько ученик район мікрорайон микрорайон область пообещавший обещавший задача завдання вопрос питання весь увесь всех уся ряд один два три
"""

_DIGITS = re.compile(r"^\d+$")


def _build_lexicon() -> dict[str, str]:
    lex: dict[str, str] = {}
    for pair in re.split(r"[|\n]", _LEXICON):
        pair = pair.strip()
        if not pair:
            continue
        stem, concept = pair.split(maxsplit=1)
        main, *themes = concept.split("~")
        lex[skel(stem)] = "+".join(["=" + skel(c) for c in main.split("+")] + ["~" + skel(t) for t in themes])
    return lex


_LEX = _build_lexicon()
# The concepts themselves, matched whole: "міст" (bridge) must meet ru "мост" -> міст, but
# as a prefix it would also catch "мистецтво".
_CONCEPTS: dict[str, str] = {}
for _v in _LEX.values():
    _first = _v.split("+")[0]
    _CONCEPTS.setdefault(_first[1:], _v)  # the canonical word brings its themes along
for _v in _LEX.values():
    for _c in _v.split("+")[1:]:
        _CONCEPTS.setdefault(_c[1:], "=" + _c[1:])
# A theme's own word ("вода", "школа") also stands for the theme.
_THEMES = {c[1:] for v in _LEX.values() for c in v.split("+") if c[0] == "~"}
for _w in _THEMES:
    if "~" + _w not in _CONCEPTS[_w].split("+"):
        _CONCEPTS[_w] += "+~" + _w
_LEX_MIN = min(len(k) for k in _LEX)
_LEX_MAX = max(len(k) for k in _LEX)
_STOP = {skel(w) for w in _STOP_WORDS.split()}


THEME_WEIGHT = 0.3  # a broad theme ("~вода") is weak evidence: it links neighbouring topics too
VERB_WEIGHT = 0.5  # "will build", "will open": the object of a promise tells promises apart, the verb less so


@lru_cache(maxsize=200_000)
def terms_of(word: str, lang: str) -> tuple[tuple[str, ...], str, float]:
    """The language-neutral term(s) for one word, its lemma and the terms' weight; () for function words.

    A compound maps to several terms ("велодоріжка" -> велосипед, доріжка) so it meets
    its spelled-out form ("велосипедна доріжка").
    """
    parses = morph_analyzer(lang).parse(word.lower())
    lemma = parses[0].normal_form if parses else word.lower()
    sk = skel(lemma)
    if lemma in _EXACT:
        return tuple("=" + skel(c) for c in _EXACT[lemma].split("+")), lemma, 1.0
    if len(sk) < 3 or sk in _STOP or _DIGITS.match(sk):
        return (), lemma, 0.0
    weight = VERB_WEIGHT if parses and parses[0].tag.POS in ("VERB", "INFN") else 1.0
    if sk in _CONCEPTS:
        return tuple(_CONCEPTS[sk].split("+")), lemma, weight
    for k in range(min(len(sk), _LEX_MAX), _LEX_MIN - 1, -1):
        concept = _LEX.get(sk[:k])
        if concept:
            return tuple(concept.split("+")), lemma, weight
    return (sk[:PREFIX_LEN],), lemma, weight


# "№ 5" tells "school No. 5" from "school No. 7"; OCR reads № as "Ме", "Мо" or "N" (pipeline.ocrnorm).
_NUMBER_SIGN = NUMBER_SIGN_NUMBER
# OCR mixes Latin look-alikes into Cyrillic words ("оcвiтлення"); fold them back.
_fix_homoglyphs = fold_homoglyphs


def terms_with_lemmas(text: str, lang: str) -> list[tuple[str, str, float]]:
    """(term, lemma, weight) for every content word of ``text``, plus "#n" for each "№ n"."""
    out = []
    for w in words(text):
        ts, lemma, weight = terms_of(_fix_homoglyphs(w), lang)
        for t in ts:
            out.append((t, lemma, weight))
    for m in _NUMBER_SIGN.finditer(text):
        out.append(("#" + m.group(1), "№ " + m.group(1), 1.0))
    return out


# --- cities, names, offices ---------------------------------------------------------------


_GENERIC_CITY_WORDS = {skel(w) for w in "новий нова нове старий стара велика великий малий мала біла білий".split()}


def _city_stem(city: str) -> str:
    """The distinctive stem of a city name: "Тернопіль" -> "тернопил", "Кривий Ріг" -> "крив"."""
    parts = [skel(w) for w in city.split()]
    parts = [w for w in parts if w not in _GENERIC_CITY_WORDS] or parts or [""]
    s = max(parts, key=len)  # a two-word name is found by its longest word ("Кривий Ріг" -> Криворізька)
    return s.rstrip("аеиоуя") or s


@lru_cache(maxsize=4096)
def city_keys(city: str) -> tuple[str, ...]:
    """Prefixes that the city's name and adjective take in either language.

    "Тернопіль" -> "терно" (Тернополя, Тернопільська, Тернопольский); the uk і
    often stands where ru has о or е, so those variants of the stem are added.
    """
    stem = _city_stem(city)
    k = 5 if len(stem) >= 6 else len(stem)
    keys = {stem[:k]}
    for i, ch in enumerate(stem[:k]):
        if ch == "и" and i > 0:
            for alt in ("о", "е"):
                keys.add(stem[:i] + alt + stem[i + 1 : k])
    # The council's adjective is not always the name's stem ("Біла Церква" -> "Білоцерківської",
    # "Кривий Ріг" -> "Криворізької"), nor the Russian name ("Белая Церковь"): the city list knows both.
    for form in city_lexicon().forms_of(city):
        if " " in form:
            continue  # a two-word name: its longest word is the stem above
        fk = skel(form).rstrip("аеиоуяйь")
        if len(fk) >= 6:
            keys.add(fk[:5])
    return tuple(sorted(keys))


@lru_cache(maxsize=200_000)
def _token_is_city(token: str, keys: tuple[str, ...], require_capital: bool = True) -> bool:
    if require_capital and not token[:1].isupper():
        return False
    t = skel(token)
    for key in keys:
        if t.startswith(key):
            rest = t[len(key) :]
            if len(key) >= 5 or (len(key) == 4 and len(rest) <= 7):
                return True
            # Short names ("Суми") clash with common words ("суми" = sums): accept
            # only case endings of a plural place name and adjectives.
            if rest in ("", "и", "ах", "ам", "ами") or rest.startswith(("ск", "цк")):
                return True
            if key[-1] in "сц" and rest.startswith("к"):
                return True
    return False


_OFFICE_PATTERNS = {
    "mayor": re.compile(r"міськ\w*\s+голов|городск\w*\s+голов|\bмер\w*\b|мэр", re.IGNORECASE),
    "oblast_head": re.compile(
        r"(?:голов|председател)\w*\s+(?:\w+\s+)?(?:облдержадмін|облгосадмин|обласн\w*\s+державн|областн\w*\s+государствен)",
        re.IGNORECASE,
    ),
    "oblast_council": re.compile(
        r"(?:голов|председател)\w*\s+(?:\w+\s+)?(?:обласн\w*|областн\w*)\s+(?:рад|совет)", re.IGNORECASE
    ),
    "deputy": re.compile(r"депутат", re.IGNORECASE),
}


def office_kind(office: str) -> str | None:
    for kind, pat in _OFFICE_PATTERNS.items():
        if pat.search(office):
            return kind
    return None


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


# --- the index ------------------------------------------------------------------------------

W_TITLE = 2.0  # title terms count twice in tf-idf: titles name the deliverable, descriptions add context
TITLE_SHARE = 0.6  # of the coverage weight that goes to the title's terms


@dataclass
class PromiseIndex:
    """Promise term vectors and lookup tables, built once per run and reused for every letter."""

    promises: list[Promise]
    vocab: dict[str, int]
    coverage_w: sparse.csr_matrix  # promises x terms, idf weights, rows sum to 1
    tfidf: sparse.csr_matrix  # promises x terms, L2-normalised tf-idf
    idf: np.ndarray
    term_lemma: list[dict[str, str]]  # per promise: term -> a lemma to show a reviewer
    surname_stems: list[str]
    surname_set: set[str]
    offices: list[str | None]
    city_of: list[str]  # normalised city key per promise
    city_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # city (as in registry) -> keys
    city_norm: dict[str, str] = field(default_factory=dict)  # city -> normalised
    city_prefix: dict[str, list[str]] = field(default_factory=dict)  # key -> cities, to test a token cheaply
    backoff: dict[str, list[int]] = field(default_factory=dict)  # 5-letter start -> plain terms
    terms: list[str] = field(default_factory=list)  # column -> term
    levels: list[str] = field(default_factory=list)  # per promise: "national" | "region" | "city"

    @classmethod
    def build(cls, promises: list[Promise]) -> PromiseIndex:
        docs: list[dict[str, float]] = []
        title_docs: list[dict[str, float]] = []
        term_lemma: list[dict[str, str]] = []
        surname_stems: list[str] = []
        for p in promises:
            surname = (p.politician.split() or [""])[-1]
            sstem = skel(surname).rstrip("аеиоуя") if surname else ""
            surname_stems.append(sstem)
            ckeys = city_keys(p.city) if p.city else ()
            lang = p.lang if p.lang in ("uk", "ru") else detect_language(p.title)
            tf: dict[str, float] = defaultdict(float)
            shown: dict[str, str] = {}
            title_terms: dict[str, float] = {}
            for is_title, text, w in ((True, p.title, W_TITLE), (False, p.description, 1.0)):
                for tok in words(text):
                    # The politician and the city are features of their own, not topic.
                    if tok[:1].isupper() and len(sstem) >= 3 and skel(tok).startswith(sstem):
                        continue
                    if _token_is_city(tok, ckeys, require_capital=False):
                        continue
                    ts, lemma, tw = terms_of(_fix_homoglyphs(tok), lang)
                    for t in ts:
                        weight = tw * (THEME_WEIGHT if t[0] == "~" else 1.0)
                        tf[t] += w * weight
                        shown.setdefault(t, lemma)
                        if is_title:
                            title_terms[t] = weight
                for m in _NUMBER_SIGN.finditer(text):
                    t = "#" + m.group(1)
                    tf[t] += w
                    shown.setdefault(t, "№ " + m.group(1))
                    if is_title:
                        title_terms[t] = 1.0
            docs.append(dict(tf))
            title_docs.append(title_terms)
            term_lemma.append(shown)
        vocab: dict[str, int] = {}
        for d in docs:
            for t in d:
                vocab.setdefault(t, len(vocab))
        n = len(promises)
        rows, cols, vals = [], [], []
        for i, d in enumerate(docs):
            for t, v in d.items():
                rows.append(i)
                cols.append(vocab[t])
                vals.append(v)
        tf_m = sparse.csr_matrix((vals, (rows, cols)), shape=(n, max(len(vocab), 1)), dtype=np.float64)
        df = np.asarray((tf_m > 0).sum(axis=0)).ravel()
        idf = np.log((1 + n) / (1 + df)) + 1.0
        # Coverage weights: idf per present term (title terms weighted up), rows summing to 1.
        cov = _row_normalise(tf_m.multiply(idf).tocsr(), l1=True)
        t_rows, t_cols, t_vals = [], [], []
        for i, d in enumerate(title_docs):
            for t, v in d.items():
                t_rows.append(i)
                t_cols.append(vocab[t])
                t_vals.append(v)
        title_m = sparse.csr_matrix((t_vals, (t_rows, t_cols)), shape=tf_m.shape, dtype=np.float64)
        cov_title = _row_normalise(title_m.multiply(idf).tocsr(), l1=True)
        # Title terms name the deliverable; descriptions add context and filler words.
        cov = (TITLE_SHARE * cov_title + (1 - TITLE_SHARE) * cov).tocsr()
        tfidf = _row_normalise(tf_m.multiply(idf).tocsr(), l1=False)
        city_norm = {c: _city_stem(c) for c in {p.city for p in promises} if c}
        all_keys = {c: city_keys(c) for c in city_norm}
        prefix_table: dict[str, list[str]] = defaultdict(list)
        for c, keys in all_keys.items():
            for key in keys:
                prefix_table[key].append(c)
        return cls(
            promises=promises,
            vocab=vocab,
            coverage_w=cov,
            tfidf=tfidf,
            idf=idf,
            term_lemma=term_lemma,
            surname_stems=surname_stems,
            surname_set={st for st in surname_stems if len(st) >= 3},
            offices=[office_kind(p.office) for p in promises],
            levels=[promise_level(p) for p in promises],
            city_of=[city_norm.get(p.city, "") for p in promises],
            city_keys=all_keys,
            city_norm=city_norm,
            city_prefix=dict(prefix_table),
            backoff=_backoff_table(vocab),
            terms=sorted(vocab, key=vocab.__getitem__),
        )

    def __len__(self) -> int:
        return len(self.promises)

    def vectorise(self, texts: list[str], lang: str) -> tuple[sparse.csr_matrix, sparse.csr_matrix, list[set[str]]]:
        """Binary presence and L2 tf-idf vectors of letter texts over the registry's terms."""
        rows, cols, vals = [], [], []
        b_rows, b_cols, b_vals = [], [], []
        present: list[set[str]] = []
        for i, text in enumerate(texts):
            counts: dict[int, float] = defaultdict(float)
            seen: set[str] = set()
            strength: dict[int, float] = {}
            for t, _, _ in terms_with_lemmas(text, lang):
                j = self.vocab.get(t)
                if j is not None:
                    counts[j] += 1.0
                    strength[j] = 1.0
                    seen.add(t)
                elif len(t) >= BACKOFF_LEN + 1 and t[0] not in "=#~":
                    # An unknown form sharing a 5-letter start with a registry term (OCR slip,
                    # uk/ru suffix) counts as half a match.
                    for k in self.backoff.get(t[:BACKOFF_LEN], ()):
                        strength[k] = max(strength.get(k, 0.0), BACKOFF_STRENGTH)
                        seen.add(self.terms[k])
            present.append(seen)
            for j, c in counts.items():
                rows.append(i)
                cols.append(j)
                vals.append(c)
            for j, v in strength.items():
                b_rows.append(i)
                b_cols.append(j)
                b_vals.append(v)
        shape = (len(texts), self.tfidf.shape[1])
        tf_m = sparse.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)
        binary = sparse.csr_matrix((b_vals, (b_rows, b_cols)), shape=shape, dtype=np.float64)
        tfidf = _row_normalise(tf_m.multiply(self.idf).tocsr(), l1=False)
        return binary, tfidf, present


BACKOFF_LEN = 5
BACKOFF_STRENGTH = 0.5


def _backoff_table(vocab: dict[str, int]) -> dict[str, list[int]]:
    table: dict[str, list[int]] = defaultdict(list)
    for t, j in vocab.items():
        if len(t) >= BACKOFF_LEN + 1 and t[0] not in "=#~":
            table[t[:BACKOFF_LEN]].append(j)
    return dict(table)


def _row_normalise(m: sparse.csr_matrix, l1: bool) -> sparse.csr_matrix:
    if l1:
        norms = np.asarray(abs(m).sum(axis=1)).ravel()
    else:
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms).dot(m).tocsr()


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
            for tok in words(zone):
                if not tok[:1].isupper():
                    continue
                t = skel(tok)
                for k in range(3, 6):
                    for city in index.city_prefix.get(t[:k], ()):
                        if _token_is_city(tok, index.city_keys[city]):
                            votes[city] += weight
    return head_votes, body_votes, head


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


# --- scoring ---------------------------------------------------------------------------------------

# Hand-set weights of the logistic combination (round numbers, not fitted to letters).
B0 = -4.0
W_TOPIC = 9.0
W_CITY_MATCH = 1.5
W_CITY_MISMATCH = -6.0  # a known other city outweighs any topic similarity (max topic term is W_TOPIC)
W_NATIONAL_LOCAL = -1.0  # a city body answering a national promise: possible (it reports on its share), rarer
W_NAME = 1.0
W_OFFICE = 0.3
W_SUBSUMED = 3.0
SUBSUMED_MIN_TOPIC = 0.3  # the row's best must itself be a plausible answer
SUBSUMED_OWN_MAX = 0.05  # "no word of its own": under 5 % of the promise's term weight
SUBSUMED_RIVAL_MIN = 0.1  # while the best has at least 10 % of its weight the other lacks
WHOLE_DISCOUNT = 0.85  # the whole letter's topic similarity counts for this much of a passage's
W_DOMINANCE = 6.0
DOMINANCE_REL = 0.7  # below 70 % of the passage's best topic similarity the penalty starts
DOMINANCE_MIN_TOPIC = 0.3  # ... when that best is itself a plausible answer


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


def promise_level(p: Promise) -> str:
    """"national" for a promise without a city, "region" for an oblast head's or council's, else "city"."""
    if not p.city:
        return "national"
    return "region" if office_kind(p.office) in ("oblast_head", "oblast_council") else "city"


# (sender tier, promise tier) -> weight: a regional body answers for oblast promises, rarely
# for one city's; a state promise is answered by the state's bodies.
W_LEVEL = {
    ("region", "city"): -2.0,
    ("region", "region"): 0.5,
    ("region", "national"): -1.0,
    ("city", "region"): -0.5,
}


def is_national_sender(sender_org: str | None, full_text: str = "") -> bool:
    """A ministry, a state agency or service, parliament: a body of the state, not of a city."""
    head = sender_org or full_text[:300]
    return bool(_NATIONAL_SENDER.search(head)) and not re.search(r"міськ|городск|обласн|областн", head, re.I)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _letter_city(
    text: LetterText, fields: LetterFields | None, index: PromiseIndex, regions: Regions | None = None
) -> str | None:
    if fields is not None and fields.sender_city.value:
        city = fields.sender_city.value
        if _registry_cities(city, index):
            return city
        # A city the registry does not know: trust it unless the letterhead names a registry city
        # (the field stage may have read the wrong line).
        head_votes, _, _ = _city_votes(text.full_text, index, regions)
        return max(head_votes.items(), key=lambda kv: kv[1])[0] if head_votes else city
    return detect_city(text.full_text, index, regions)


def _registry_cities(city: str, index: PromiseIndex) -> set[str]:
    """Normalised registry cities that ``city`` names, however it is spelled ("Кривого Рогу")."""
    return {
        index.city_norm[c]
        for c, keys in index.city_keys.items()
        if index.city_norm[c] == _city_stem(city) or any(_token_is_city(w, keys) for w in city.split())
    }


def _subsumed(index: PromiseIndex, topic: np.ndarray, plausible: np.ndarray, present: list[set[str]],
              candidates: np.ndarray | None = None) -> np.ndarray:
    """1 where a promise's evidence on a row is only what the row's best promise also has.

    "Repair Franko street" shares "street", "capital repair" with a reply about Shevchenko
    street that answers "repair Shevchenko street"; it brings no word of its own while the
    best one does ("Shevchenko"), so it is not a second answer. Identical twins are left
    alone: neither has a word of its own, and the near-tie flag shows the ambiguity.
    """
    out = np.zeros_like(topic)
    for i in range(topic.shape[0]):
        b = int(plausible[i].argmax())
        if plausible[i, b] < SUBSUMED_MIN_TOPIC:
            continue
        mb = {t for t in index.term_lemma[b] if t in present[i]}
        rivals = plausible[i] >= SUBSUMED_MIN_TOPIC / 2
        if candidates is not None:
            rivals &= candidates
        for j in np.flatnonzero(rivals):
            if j == b:
                continue
            mj = {t for t in index.term_lemma[j] if t in present[i]}
            own_j = sum(index.coverage_w[j, index.vocab[t]] for t in mj - mb)
            own_b = sum(index.coverage_w[b, index.vocab[t]] for t in mb - mj)
            if own_j < SUBSUMED_OWN_MAX and own_b >= SUBSUMED_RIVAL_MIN:
                out[i, j] = 1.0
    return out


def score_letter(
    text: LetterText, fields: LetterFields | None, index: PromiseIndex, min_score: float | None = None
) -> tuple[list[Passage], np.ndarray, dict[str, object]]:
    """Passages, their (passages x promises) scores and the letter-level evidence.

    ``min_score``: only promises that could reach it are scored in full (the candidates: the
    letter's city or a national promise, and enough shared topic); the others keep a score
    that is certainly under it. With a registry of 100,000 promises this is what keeps a
    letter at milliseconds. The bound is exact: every other term of the score only lowers it.
    """
    full = text.full_text
    regions = find_regions(full)
    all_passages = segment(text, regions)
    passages = [p for p in all_passages if not is_non_answer(p.text)]
    info: dict[str, object] = {"city": None, "non_answer": bool(all_passages) and not passages}
    if not passages or len(index) == 0:
        return passages, np.zeros((len(passages), len(index))), info
    lang = fields.language.value if fields is not None and fields.language.value in ("uk", "ru") else None
    lang = lang or detect_language(" ".join(p.text for p in passages))
    texts = [p.text for p in passages]
    if len(passages) == 1 and regions.subject:
        texts[0] = regions.subject + "\n" + texts[0]  # the subject line names the topic of a one-topic letter
    if len(passages) > 1:
        # The whole answer as one more row: a topic spread over several points (a list of works
        # done for one promise) is seen whole; discounted, so a promise answered in one point
        # keeps that point.
        texts.append("\n".join([regions.subject or "", *(p.text for p in passages)]))
    binary, tfidf, present = index.vectorise(texts, lang)
    coverage = np.asarray(binary.dot(index.coverage_w.T).todense())
    cosine = np.asarray(tfidf.dot(index.tfidf.T).todense())
    topic = 0.7 * coverage + 0.3 * cosine

    city = _letter_city(text, fields, index, regions)
    info["city"] = city
    city_feat = np.zeros(len(index))
    national = np.array([not c for c in index.city_of])
    if city:
        same = _registry_cities(city, index)
        city_feat = np.where(np.isin(np.array(index.city_of), list(same)), W_CITY_MATCH, W_CITY_MISMATCH)
    # A national promise has no city: a national sender (a ministry, an agency) supports it, a city
    # body weakly speaks against it; topic decides.
    sender = fields.sender_org.value if fields is not None else None
    city_feat = np.where(national, W_CITY_MATCH if is_national_sender(sender, full) else W_NATIONAL_LOCAL, city_feat)
    tier = sender_level(sender, full)
    level_feat = np.array([W_LEVEL.get((tier, lv), 0.0) for lv in index.levels])
    # Names and offices count in the body and subject only: a politician who signs the
    # letter is not thereby the subject of every passage.
    said = (regions.subject or "") + "\n" + full[regions.body_start : regions.body_end]
    names = find_surnames(said, index.surname_set)
    name_feat = np.array([W_NAME if stem in names else 0.0 for stem in index.surname_stems])
    kinds = {k for k, pat in _OFFICE_PATTERNS.items() if pat.search(said)}
    office_feat = np.array([W_OFFICE if o in kinds else 0.0 for o in index.offices])
    # One passage answers one question: a promise far weaker on a passage than the passage's
    # best plausible promise is pushed down (two topics of similar strength both survive).
    plausible = np.where(city_feat + level_feat >= 0, topic, 0.0)
    best_topic = plausible.max(axis=1, keepdims=True)
    rel = np.divide(topic, best_topic, out=np.ones_like(topic), where=best_topic > 0)
    dominance = np.where(best_topic >= DOMINANCE_MIN_TOPIC, np.maximum(0.0, DOMINANCE_REL - rel), 0.0)
    prior = city_feat + level_feat + name_feat + office_feat
    candidates = None
    if min_score is not None and 0 < min_score < 1:
        # The most a promise can score: its best topic similarity with no penalty at all.
        ceiling = B0 + W_TOPIC * topic.max(axis=0) + prior
        candidates = ceiling >= np.log(min_score / (1 - min_score)) - 1e-9
    info["candidates"] = int(candidates.sum()) if candidates is not None else len(index)
    z = B0 + W_TOPIC * topic - W_DOMINANCE * dominance + prior[None, :]
    z -= W_SUBSUMED * _subsumed(index, topic, plausible, present, candidates)
    if len(passages) > 1:
        z[-1] -= W_TOPIC * (1 - WHOLE_DISCOUNT) * topic[-1]
    scores = _sigmoid(z)
    whole = None
    if len(passages) > 1:
        whole, scores, topic, coverage, cosine = scores[-1], scores[:-1], topic[:-1], coverage[:-1], cosine[:-1]
        present = present[:-1]
    info.update(
        {
            "whole": whole,
            "topic": topic,
            "coverage": coverage,
            "cosine": cosine,
            "present": present,
            "names": names,
            "kinds": kinds,
            "city_match": city_feat > 0 if city else None,
        }
    )
    return passages, scores, info


MAX_MATCHES_PER_PASSAGE = 3


def match_letter(
    text: LetterText,
    fields: LetterFields | None,
    index: PromiseIndex,
    threshold: float = 0.5,
    near_tie_margin: float = 0.08,
) -> list[Match]:
    """One Match per promise whose best passage scores at least ``threshold``; [] for non-answers.

    A passage keeps at most MAX_MATCHES_PER_PASSAGE promises, the best first: one point of a
    letter answers one question or a few, never thousands (a registry holding a crowd of
    near-identical promises); the others close to a kept one are listed as its alternatives.
    """
    passages, scores, info = score_letter(text, fields, index, threshold)
    if not passages or scores.size == 0:
        return []
    best_pass = scores.argmax(axis=0)
    best = scores.max(axis=0)
    whole = info["whole"]
    from_whole = np.zeros(len(best), dtype=bool)
    if whole is not None:
        from_whole = whole > best
        best = np.maximum(best, whole)
        # The basis is still the single passage that shares most with the promise.
        best_pass = np.where(from_whole, info["topic"].argmax(axis=0), best_pass)
    chosen = sorted(np.flatnonzero(best >= threshold).tolist(), key=lambda j: (-best[j], j))
    per_passage: dict[int, int] = defaultdict(int)
    kept = []
    for j in chosen:
        i = int(best_pass[j])
        if per_passage[i] < MAX_MATCHES_PER_PASSAGE:
            per_passage[i] += 1
            kept.append(j)
    chosen = kept
    chosen_set = set(chosen)
    topic, coverage, cosine = info["topic"], info["coverage"], info["cosine"]
    present: list[set[str]] = info["present"]  # type: ignore[assignment]
    names: dict[str, str | None] = info["names"]  # type: ignore[assignment]
    kinds: set[str] = info["kinds"]  # type: ignore[assignment]
    out: list[Match] = []
    for j in chosen:
        i = int(best_pass[j])
        s = float(best[j])
        p = index.promises[j]
        row = scores[i]
        # Any other promise this close on the same passage could be the real answer; a matched one
        # is a rival only when it rests on the same words (two topics in one paragraph are not).
        close = np.abs(row - s) <= near_tie_margin
        close[j] = False
        own = {t for t in index.term_lemma[j] if t in present[i]}
        for k in np.flatnonzero(close):
            if k in chosen_set and not own & {t for t in index.term_lemma[k] if t in present[i]}:
                close[k] = False
        alts = sorted(
            ((index.promises[k].promise_id, round(float(row[k]), 4)) for k in np.flatnonzero(close)),
            key=lambda a: -a[1],
        )[:5]
        # Rarest first; one lemma once (a word and its theme share a lemma).
        shared = sorted(
            (t for t in index.term_lemma[j] if t in present[i] and t[0] != "~"),
            key=lambda t: -index.idf[index.vocab[t]],
        )
        shown = list(dict.fromkeys(index.term_lemma[j][t] for t in shared))
        city_match = info["city_match"]
        out.append(
            Match(
                promise_id=p.promise_id,
                score=round(s, 4),
                passage=passages[i],
                features={
                    "city": info["city"] if city_match is None else bool(city_match[j]),
                    "letter_city": info["city"],
                    "name": names.get(index.surname_stems[j]),
                    "office": index.offices[j] if index.offices[j] in kinds else None,
                    "shared_terms": shown[:8],
                    "topic_similarity": round(float(topic[i, j]), 4),
                    "coverage": round(float(coverage[i, j]), 4),
                    "cosine": round(float(cosine[i, j]), 4),
                    "passage_index": passages[i].index,
                    "whole_letter": bool(from_whole[j]),  # scored on the whole answer, not one point
                },
                alternatives=alts,
                near_tie=bool(alts),
            )
        )
    return out


__all__ = ["PromiseIndex", "match_letter", "segment", "is_non_answer", "detect_city", "terms_of", "skel"]
