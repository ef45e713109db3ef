"""OCR normalisation: the one home of what OCR (and careless typing) does to Ukrainian and Russian letters.

Every stage imports its look-alike tables, its "№" patterns and its repairs from
here, so that they cannot drift apart:

* **Latin/Cyrillic look-alikes**: :data:`HOMOGLYPHS` (letters that look the same),
  :data:`OCR_LATIN_READINGS` (also the Latin letters Tesseract's eng model gives for
  a Cyrillic glyph: "u" for "и", "g" for "д", "n" for "п", "r" for "г"); both map
  one character to one character, so a text folded with them keeps its offsets.
* **the "№" family**: "№", "N", "No", "Nº", "N°" and the OCR readings "Ме", "Мо",
  "Ne", "Хо", "Ко" (:data:`NUMERO`), plus the one-letter "М"/"N" that OCR leaves
  when it drops the "о" — only trusted next to "вих."/a date (:data:`NUMERO_LOOSE`).
* **digit look-alikes**: "О"/"O" for 0, "З" for 3, "l"/"I" for 1 inside numbers.
* **debris**: stray marks left of a date (".11.12.2018"), of a name ("`В. о.") or
  after a name line; "|" or "l" for the capital "І" of initials.
* **hyphenation**: "ЖИТЛОВО-\\nКОМУНАЛЬНОГО" / "ЖИТЛОВО- КОМУНАЛЬНОГО" (a compound,
  hyphen kept) and "госпо-\\nдарства" (a broken word, hyphen dropped).

Nothing here raises on arbitrary input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# --- look-alikes ------------------------------------------------------------------------

_HOMO_LAT = "ABCEHIKMOPTXYaceiopxy"
_HOMO_CYR = "АВСЕНІКМОРТХУасеіорху"
# Latin letters that look like a Cyrillic letter: folded inside a Cyrillic word.
HOMOGLYPHS = str.maketrans(_HOMO_LAT, _HOMO_CYR)
# ... and the Latin readings Tesseract gives for Cyrillic glyphs ("Bux." for "Вих.", "Big" for "від").
OCR_LATIN_READINGS = str.maketrans(_HOMO_LAT + "ugknr", _HOMO_CYR + "идкпг")
# Letters OCR gives for digits inside numbers.
DIGIT_LIKE = str.maketrans({"О": "0", "O": "0", "о": "0", "o": "0", "З": "3", "з": "3", "l": "1", "I": "1", "І": "1"})

_CYR = re.compile(r"[а-яіїєґёА-ЯІЇЄҐЁ]")
_LAT = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ&-][^\W\d_]+)*")


def is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def is_latin(ch: str) -> bool:
    return "a" <= ch.lower() <= "z"


def fold_homoglyphs(word: str) -> str:
    """A word mixing scripts ("оcвiтлення") made Cyrillic; a pure word is returned as it is."""
    if not _LAT.search(word) or not _CYR.search(word):
        return word
    return word.translate(HOMOGLYPHS)


_MIXED = re.compile(r"[^\W\d_]*(?:[A-Za-z][^\W\d_]*[а-яіїєґёА-ЯІЇЄҐЁ]|[а-яіїєґёА-ЯІЇЄҐЁ][^\W\d_]*[A-Za-z])[^\W\d_]*")


_WORD_RUN = re.compile(r"[^\W\d_]+")


def fold_mixed_words(text: str) -> str:
    """Every word mixing Latin look-alikes into Cyrillic ("інформaції") folded; one character for
    one, so offsets into ``text`` stay valid. Pure Latin words (e-mail addresses) are left alone."""
    # word by word (linear): the mixed-word pattern alone backtracks quadratically on long runs
    return _WORD_RUN.sub(lambda m: m.group(0).translate(HOMOGLYPHS) if _MIXED.fullmatch(m.group(0)) else m.group(0), text)


def fold_latin_token(token: str, cyrillic_context: bool) -> str:
    """One OCR token: mixed scripts are always a slip; an all-Latin token on a Cyrillic page is
    folded when every letter has a Cyrillic reading ("Ha" -> "На") and it is not a real
    Latin word ("e-mail", "Prozorro" keep their letters with no look-alike)."""
    letters = [ch for ch in token if ch.isalpha()]
    latin = [ch for ch in letters if is_latin(ch)]
    if not latin:
        return token
    if any(is_cyrillic(ch) for ch in letters):
        return token.translate(OCR_LATIN_READINGS)
    if not cyrillic_context or "-" in token or any(ch.translate(OCR_LATIN_READINGS) == ch for ch in latin):
        return token
    return token.translate(OCR_LATIN_READINGS)


def cyrillic_only(s: str) -> str:
    """Latin look-alikes inside Cyrillic words made Cyrillic; all-Latin words (an English line) dropped."""

    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        if not _CYR.search(w):
            return "" if _LAT.search(w) else w
        return w.translate(HOMOGLYPHS)

    return re.sub(r"\s+", " ", _WORD.sub(fix, s)).strip()


# --- the "№" family ------------------------------------------------------------------------

# "№" and what OCR makes of it, directly before a number (a regex fragment, case-insensitive use).
NUMERO = r"(?:№|N[oоeеє°º]?\.?|[МMКХX][оoеєe»°][.,]?|Н[оo]|М№)"
# ... also a lone "М"/"N" (the "о" lost): only where a number is expected anyway.
NUMERO_LOOSE = rf"(?:{NUMERO}|[МMН](?=[ \t_]*\d|[ \t]*$))"
# Two-letter OCR tokens that stand for "№" when a number follows.
NUMERO_MISREADS = frozenset(
    {"Ме", "Мо", "Ne", "No", "Nо", "Nе", "Ns", "Ng", "N°", "Nº", "М°", "Mo", "Me", "Хо", "Ко", "М№"}
)
NUMBER_SIGN_NUMBER = re.compile(rf"{NUMERO}[ \t]*(\d{{1,4}})(?![\d/.,-]\d)")


def fix_tokens(texts: list[str], cyrillic: bool = False) -> list[str]:
    """OCR tokens of one line: "№" restored where a misread of it stands before a number
    ("Ме 96"), Cyrillic words read with Latin look-alikes folded back on
    a Cyrillic page (never on a line with an e-mail address or URL), "ьі" as "ы"."""
    out = list(texts)
    for i in range(len(out) - 1):
        if out[i] in NUMERO_MISREADS and out[i + 1][:1].isdigit():
            out[i] = "№"
    line = " ".join(out).lower()
    if not any(mark in line for mark in ("@", "http", "www", ".ua", ".com", ".org", ".net")):
        out = [fold_latin_token(t, cyrillic) for t in out]
    # Russian "ы" read by the Ukrainian model as "ьі", a pair that no Ukrainian word has
    return [t.replace("ьі", "ы").replace("ЬІ", "Ы") for t in out]


def clean_number(num: str | None) -> str | None:
    """An outgoing or request number as printed: trailing punctuation, blanks and underscores
    of a hand-filled register line dropped, OCR letter-for-digit swaps undone in an all-digit number."""
    if not num:
        return None
    num = num.strip("_ \t").rstrip("./\\-,_")
    if not num or set(num) <= {"_", "."}:
        return None
    if re.fullmatch(r"[0-9OО./\\-]+", num):
        num = num.replace("О", "0").replace("O", "0")
    return num


# --- debris ----------------------------------------------------------------------------------

# Marks that stamps, signatures and scan edges leave at the start of a line.
LEAD_DEBRIS = r"[\W_]{0,4}"
_INITIAL_BAR = re.compile(r"(?<![^\s\W])[|l1](?=\.\s?(?:[А-ЯІЇЄҐ]\.\s?)?[А-ЯІЇЄҐ][а-яіїєґА-ЯІЇЄҐ'’ʼ]+)")


def fix_initial_bars(s: str) -> str:
    """ "|. Цимбалюк" -> "І. Цимбалюк": a capital І of an initial read as a bar, an l or a 1
    (one character for one: offsets stay)."""
    return _INITIAL_BAR.sub("І", s)


# OCR reads some capitals as a different letter: the first letter of a word only.
CAPITAL_MISREADS = {"б": "С", "і": "І", "Г": "І", "ї": "І", "|": "І", "1": "І", "l": "І"}


def first_letter_variants(word: str) -> list[str]:
    """The word with its first letter replaced by each capital OCR may have misread."""
    if not word:
        return []
    out = []
    alt = CAPITAL_MISREADS.get(word[0])
    if alt:
        out.append(alt + word[1:])
    if word[0].islower():
        out.append(word[0].upper() + word[1:])
    return out


# --- hyphenation -------------------------------------------------------------------------

_HYPHEN_BREAK = re.compile(r"(?P<a>[^\W\d_]{2,})-[ \t]*\n?[ \t]*(?P<b>[^\W\d_]{2,})")
_HYPHEN_SPACE = re.compile(r"(?P<a>[^\W\d_]{2,})-(?:[ \t]*\n[ \t]*|[ \t]+)(?P<b>[^\W\d_]{2,})")
_COMPOUND_FIRST = re.compile(r"(?:[оеoe]|ово|ево|ьо)$", re.IGNORECASE)


def join_hyphenated(text: str, is_word: Callable[[str], bool] | None = None) -> str:
    """Words split at a hyphen by a line break or a lost space joined again.

    "ЖИТЛОВО-\\nКОМУНАЛЬНОГО" and "ЖИТЛОВО- КОМУНАЛЬНОГО" are a compound ("житлово-
    комунального"): the hyphen stays. "госпо-\\nдарства" is one word broken at the margin:
    the hyphen goes when ``is_word`` accepts the joined word (or, without ``is_word``,
    when the first part cannot open a compound). " - " with spaces on both sides is a
    dash and is left alone.
    """

    def fix(m: re.Match[str]) -> str:
        a, b = m.group("a"), m.group("b")
        joined = a + (b.lower() if a[-1:].islower() else b)
        if is_word is not None:
            compound = _COMPOUND_FIRST.search(a) is not None and is_word(b.lower())
            if not compound and is_word(joined.lower()) and not is_word(a.lower()):
                return joined
            return f"{a}-{b}"
        return f"{a}-{b}" if _COMPOUND_FIRST.search(a) else joined

    return _HYPHEN_SPACE.sub(fix, text)


def normalise_dashes(s: str) -> str:
    """A dash between words, typed or OCR'd as "-" or "—", as the en dash officials print."""
    return re.sub(r"(?<=\w)[ \t]+[-–—][ \t]+(?=\w)", " – ", s)


__all__ = [
    "CAPITAL_MISREADS",
    "DIGIT_LIKE",
    "HOMOGLYPHS",
    "LEAD_DEBRIS",
    "NUMBER_SIGN_NUMBER",
    "NUMERO",
    "NUMERO_LOOSE",
    "NUMERO_MISREADS",
    "OCR_LATIN_READINGS",
    "clean_number",
    "cyrillic_only",
    "first_letter_variants",
    "fix_initial_bars",
    "fix_tokens",
    "fold_homoglyphs",
    "fold_mixed_words",
    "fold_latin_token",
    "is_cyrillic",
    "is_latin",
    "join_hyphenated",
    "normalise_dashes",
]
