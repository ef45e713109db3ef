"""Field rules: the signature (position and name) at the foot of the letter.

The name is "Власне ім'я ПРІЗВИЩЕ" (ДСТУ 4163:2020) or initials and a surname (older
letters), on the position's last line after a gap, or alone with the position above;
positions run over up to four lines and may start with an acting-head abbreviation
("В. о.", "Т.в.о."). OCR damage is repaired: a capital І of a first name or an initial
read as "і", "Г" or "|", torn or misread position words (from the position lexicon).
"""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

from pipeline.cities import norm_word
from pipeline.layout import LetterLayout, Line, is_body_line
from pipeline.lexicons import lexicon
from pipeline.nlp import morph_analyzer
from pipeline.ocrnorm import first_letter_variants, fix_initial_bars, normalise_dashes
from pipeline.stages.field_components import FieldDoc, component
from pipeline.stages.fields_text import fix_ocr_words, is_abbrev, known, letters, name_normal, normal_case

_EXECUTOR = re.compile(
    r"^[\W_]*(?:(?:вик|исп|тел)(?![а-яіїєґё])|(?:виконавець|виконавці|исполнитель|додатк?и?|додаток|приложение|копія|копия)\b"
    r"|з повагою|с уважением)",
    re.IGNORECASE,
)
_CLOSING = re.compile(r"^[\W_]*(?:з повагою|с уважением|з пошаною)", re.IGNORECASE)
_UP = "А-ЯІЇЄҐЁ"
_LOW = "а-яіїєґё"
_NAME_END = re.compile(
    rf"(?P<name>(?:[{_UP}]\.[ \t]?){{1,2}}[ \t]?[{_UP}][{_UP}{_LOW}'’ʼ]+(?:-[{_UP}][{_UP}{_LOW}'’ʼ]+)?"
    rf"|[{_UP}][{_LOW}'’ʼ]+[ \t]{{1,2}}[{_UP}][{_UP}'’ʼ]+(?:-[{_UP}][{_UP}'’ʼ]+)?"
    rf"|[{_UP}][{_LOW}'’ʼ]+[ \t]{{1,2}}[{_UP}][{_LOW}'’ʼ]+(?:-[{_UP}][{_LOW}'’ʼ]+)?"
    rf"|[{_UP}][{_UP}{_LOW}'’ʼ]+(?:-[{_UP}][{_UP}{_LOW}'’ʼ]+)?[ \t]{{1,2}}(?:[{_UP}]\.[ \t]?){{1,2}})"
    r"[\W_\d]{0,6}$"
)
# a first name before a surname in capitals, its first letter possibly misread ("ігор ЦИМБАЛЮК")
_FIRST_NAME = re.compile(
    rf"(?<![\w'’])(?P<first>[^\W\d_][{_LOW}'’ʼ]+)(?=[ \t]{{1,2}}[{_UP}](?:[{_UP}'’ʼ-]{{2,}}|[{_LOW}'’ʼ-]{{2,}})[\W_\d]{{0,6}}$)"
)
_DASH_END = re.compile(r"[-–—]\s*$")


def _heads() -> frozenset[str]:
    return lexicon("position_heads")


def _is_first_name(word: str) -> bool:
    morph = morph_analyzer("uk")
    return morph.word_is_known(word.lower()) and any("Name" in p.tag for p in morph.parse(word)[:3])


def sig_text(line: str) -> str:
    """A signature line with the OCR slips of names undone, one character for one (offsets stay)."""
    s = fix_initial_bars(line.rstrip())
    m = _FIRST_NAME.search(s)
    if m and not (m.group("first")[0].isupper() and _is_first_name(m.group("first"))):
        for alt in first_letter_variants(m.group("first")):
            if len(alt) == len(m.group("first")) and _is_first_name(alt):
                return s[: m.start()] + alt + s[m.end() :]
    return s


def _signature(lines: list[Line], lang: str = "uk") -> tuple[Line, re.Match[str], list[Line]] | None:
    """The signature line (with the name's match) and the position lines above it, from the bottom."""
    body = [ln for ln in lines if ln.stripped]
    tail = body[-14:]
    for k in range(len(tail) - 1, -1, -1):
        ln = tail[k]
        s = sig_text(ln.text)
        if _EXECUTOR.match(s) and not _CLOSING.match(s):
            continue
        m = _NAME_END.search(s)
        if not m:
            continue
        prefix = s[: m.start()]
        name = m.group("name")
        # a name right-aligned after a gap, or after a position word on the same line
        pos_lines = _position_lines(tail, k, prefix, lang)
        if prefix.strip() and is_body_line(prefix):
            continue
        title_case = re.fullmatch(rf"[{_UP}][{_LOW}'’ʼ]+[ \t]+[{_UP}][{_LOW}'’ʼ-]+", name) is not None
        if pos_lines is None:
            gap = re.search(r"\s{3,}$", prefix) is not None
            if title_case or not (gap or _name_like(name)):
                continue  # two capitalised words without a position are likely prose
            if not gap and (len(prefix.split()) > 3 or "." in s[m.end("name") :]):
                continue  # a name at the end of a sentence, not a signature
        return ln, m, pos_lines or []
    return None


def _layout_position(layout: LetterLayout, start: int, end: int, lang: str) -> list[Line] | None:
    """Position lines for a name whose text line holds nothing else, from the words on its row.

    The words left of the name on the same visual row (by box centre) start the
    position; its continuation lines above are found as in the text.
    """
    names = layout.words_in(start, end)
    if not names:
        return None
    w0 = names[0]
    cy = w0.top + w0.height / 2
    page = next((ln.page for ln in layout.lines if ln.start <= w0.start <= ln.end), 0)
    on_page = [ln for ln in layout.lines if ln.page == page]
    row = [
        w
        for w in layout.words_in(on_page[0].start, on_page[-1].end + 1)
        if not (start <= w.start < end)
        and abs(w.top + w.height / 2 - cy) < 0.6 * w0.height
        and w.left + w.width <= w0.left
    ]
    if not row:
        return None
    first = min(row, key=lambda w: w.left)
    nonblank = [ln for ln in layout.lines if ln.stripped]
    k = next((i for i, ln in enumerate(nonblank) if ln.start <= first.start < ln.start + len(ln.text) + 1), None)
    if k is None:
        return None
    return _position_lines(nonblank[: k + 1], k, nonblank[k].text, lang)


def _name_like(name: str) -> bool:
    """Initials and a surname, or a first name and a surname in capitals: a signature by its shape."""
    return bool(
        re.fullmatch(rf"(?:[{_UP}]\.[ \t]?){{1,2}}[ \t]?[{_UP}][{_UP}{_LOW}'’ʼ-]{{2,}}", name)
        or re.fullmatch(rf"[{_UP}][{_LOW}'’ʼ]+[ \t]+[{_UP}]{{3,}}[{_UP}'’ʼ-]*", name)
    )


_SPACED_ABBREV = re.compile(r"^((?:[^\W\d_]\.\s*){2,3})")


def _head_word(text: str, lang: str = "uk") -> str:
    """The position's first word, with spaced abbreviations joined ("В. о. директора" -> "в.о."),
    stray marks before it dropped and OCR damage repaired ("Сек тар" -> "секретар")."""
    text = re.sub(r"^[^\w(«]+", "", text)
    word = _head_word_raw(text)
    if word in _heads() or not text:
        return word
    return _head_word_raw(repair_head(fix_ocr_words(text, lang)))


def repair_head(text: str) -> str:
    """A position whose first word OCR tore or misread ("Сек тар міської ради") with the head word
    restored from the lexicon, when one head word is near enough (two letters at most)."""
    toks = text.split(" ")
    if not toks or norm_word(toks[0]) in _heads():
        return text
    for n in (2, 1):
        if len(toks) < n:
            continue
        cand = norm_word("".join(toks[:n]))
        if len(cand) < 6 or not cand.isalpha():
            continue
        near = sorted((Levenshtein.distance(cand, h), h) for h in _heads() if h.isalpha() and len(h) >= 6)
        if near and near[0][0] <= 2 and (len(near) == 1 or near[0][0] < near[1][0]):
            head = near[0][1]
            head = head[:1].upper() + head[1:] if toks[0][:1].isupper() else head
            return " ".join([head, *toks[n:]])
    return text


def _head_word_raw(text: str) -> str:
    m = _SPACED_ABBREV.match(text)
    if m:
        return norm_word(re.sub(r"\s+", "", m.group(1)))
    return norm_word(text.split()[0]) if text.split() else ""


def _position_lines(tail: list[Line], k: int, prefix: str, lang: str = "uk") -> list[Line] | None:
    """Lines holding the position: the name line's prefix and its continuation lines above.

    A line starting in lower case continues the line above ("керуючий справами" under
    "Заступник міського голови –"), as does a line under one that ends in a dash."""
    cur = _strip_noise(prefix)
    parts = [tail[k]]
    first_word = _head_word(cur, lang)
    j = k - 1
    if not cur:  # the name stands alone: the position is the line above
        if j < 0:
            return None
        above = tail[j].stripped
        if _CLOSING.match(above) or above.endswith((".", "!", ":")) or is_body_line(above):
            return None
        if _NAME_END.search(sig_text(above)):  # the signature is above: this lone name is the executor's
            return None
        parts = [tail[j], tail[k]]
        cur = above
        first_word = _head_word(cur, lang)
        j -= 1
    while j >= 0 and len(parts) < 4 and (first_word not in _heads() or _continues(cur, tail[j].stripped)):
        above = _strip_noise(tail[j].stripped)
        if not above or _CLOSING.match(above) or above.endswith((".", "!", ":", ";")) or is_body_line(above):
            break
        if first_word in _heads() and _NAME_END.search(sig_text(above)):
            break
        parts.insert(0, tail[j])
        cur = above
        first_word = _head_word(above, lang)
        j -= 1
    return parts if first_word in _heads() else None


def _continues(cur: str, above: str) -> bool:
    """``cur`` goes on from the line ``above``: it starts in lower case, or ``above`` ends in a dash."""
    cur = re.sub(r"^[^\w]+", "", cur)
    return bool(cur) and (cur[0].islower() or bool(_DASH_END.search(above)))


def _strip_noise(s: str) -> str:
    """Drop stray OCR marks (stamp and signature fragments) at the end of a position."""
    s = s.strip()
    while True:
        new = re.sub(r"(?:\s+|^)(?:[^\w\s]+|\w{1,2}[^\w\s]*|\d+[^\w\s]*)$", "", s).strip()
        new = re.sub(r"[\s,.;:|\\/-]+$", "", new)
        if new == s:
            return s
        words = new.split()
        if words and norm_word(words[-1]) in lexicon("function_words") and len(words[-1]) <= 2 and s.endswith(words[-1]):
            return s
        s = new




@component("signatory", requires=("language",), provides=("signatory_name", "signatory_position"))
def signatory(doc: FieldDoc) -> None:
    lang = str(doc.fields.language.value or "uk")
    sig = _signature(doc.layout.lines, lang)
    if sig is None:
        doc.review("signatory not found")
        return
    ln, m, pos_lines = sig
    if not pos_lines:  # OCR may print a right-aligned name apart from its position: use the boxes
        pos_lines = _layout_position(doc.layout, ln.start + m.start("name"), ln.start + m.end("name"), lang) or []
    name = name_normal(m.group("name"))
    doc.fields.signatory_name = doc.value(name, ln.start + m.start("name"), ln.start + m.end("name"), 0.85)
    position = _position_text(doc, pos_lines, ln, m.start(), lang)
    if position:
        first = pos_lines[0]
        start = first.start + (len(first.text) - len(first.text.lstrip()))
        doc.fields.signatory_position = doc.value(position, start, ln.start + m.start(), 0.8)
    else:
        doc.review("signatory position not found")


def _complete_torn_end(position: str, parts: list[tuple[str, str]], lang: str) -> str:
    """The position's last word cut short where a stamp or a signature covered the rest
    ("Начальник управ" + stamp marks): completed when it opens one lexicon word."""
    if not parts or len(parts[-1][1].strip()) <= len(parts[-1][0]) + 2:
        return position  # no marks were stripped after it: the word is as printed
    words = position.split(" ")
    last = norm_word(words[-1])
    if len(words) < 2 or len(last) < 4:
        return position
    cands = [w for w in lexicon("position_vocabulary") if w.startswith(last) and w != last and known(w, lang)]
    gen = [w for w in cands if any("gent" in p.tag for p in morph_analyzer(lang).parse(w)[:2])]
    pick = gen if len(gen) == 1 else cands
    if len(pick) == 1:
        words[-1] = words[-1] + pick[0][len(last) :]
    return " ".join(words)


def _position_text(doc: FieldDoc, pos_lines: list[Line], ln: Line, name_at: int, lang: str) -> str:
    parts = []
    for pl in pos_lines:
        raw = pl.text[:name_at] if pl is ln else pl.text
        part = _strip_noise(re.sub(r"^[^\w(«]+", "", raw.strip()))
        if part and parts and _DASH_END.search(parts[-1][1]):
            parts[-1] = (parts[-1][0] + " –", parts[-1][1])
        parts.append((part, raw))
    position = re.sub(r"(?<=[^\W\d_])[/|](?=[^\W\d_])", " ", " ".join(p for p, _ in parts if p))
    position = _strip_noise(re.sub(r"\s+", " ", position))
    position = normalise_dashes(position.replace("’", "'").replace("ʼ", "'"))
    if doc.is_ocr and position:
        position = _complete_torn_end(repair_head(fix_ocr_words(position, lang)), parts, lang)
        words = position.split()
        # a torn fragment of a word at the end ("Начальник ння") is stamp damage, not part of the title
        while len(words) > 1 and (
            (len(letters(words[-1])) <= 4 and not known(words[-1], lang))
            or (len(letters(words[-1])) <= 3 and not is_abbrev(words[-1]))
        ):
            words.pop()
        position = " ".join(words)
        if any(not known(w, lang) for w in words if len(letters(w)) >= 3):
            doc.review("signatory position has unrecognised words (OCR)")
    if not position:
        return ""
    position = normal_case(position, keep_mixed=True)
    return position[:1].upper() + position[1:]
