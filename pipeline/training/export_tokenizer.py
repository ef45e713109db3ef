"""Export spaCy's blank uk/ru tokenizer rules to ``pipeline/data/tokenizer/{lang}.json``.

:mod:`pipeline.tokenizer` replays them in pure Python, so that a batch never imports spaCy
(~0.8 s and ~50 MB per worker). spaCy stays a dependency for this export and for the tests
that hold the two tokenizers equal (tests/test_tokenizer.py).

    python -m pipeline.training.export_tokenizer          # write the files
    python -m pipeline.training.export_tokenizer --check  # exit 1 when they differ from the installed spaCy
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.tokenizer import DATA_DIR, LANGS


def _regex(func: Any) -> dict[str, Any] | None:
    """The pattern behind a bound ``re.Pattern`` method (spaCy compiles its rules with Python ``re``)."""
    if func is None:
        return None
    pattern = func.__self__
    return {"pattern": pattern.pattern, "flags": pattern.flags}


def _like_num(like_num: Any) -> dict[str, Any]:
    """What the language's ``like_num`` does beyond digits, read off its module and by probing it.

    The probes pin down the three ways the uk and ru versions differ (a leading sign, a trailing
    per cent, case-folding of the number words); the tests compare the replay on every token."""
    words = sorted(set(inspect.getmodule(like_num)._num_words))
    word = next(w for w in words if w.upper() != w)
    return {
        "strip_sign": bool(like_num("+5")),
        "strip_percent": bool(like_num("5%")),
        "lower": bool(like_num(word.upper())),
        "num_words": words,
    }


def export(lang: str) -> dict[str, Any]:
    import spacy
    from spacy.attrs import intify_attrs
    from spacy.symbols import ORTH
    from spacy.tokenizer import Tokenizer

    tok = spacy.blank(lang).tokenizer
    if not tok.faster_heuristics:
        raise SystemExit("spaCy's tokenizer runs without faster_heuristics; pipeline.tokenizer assumes them")
    special_cases = {
        chunk: [intify_attrs(t, _do_deprecated=True)[ORTH] for t in subs] for chunk, subs in sorted(tok.rules.items())
    }
    # spaCy re-matches the special cases that its affix rules would split (or that hold a space)
    # over the tokens of the whole text; their token sequences are taken from spaCy itself, by a
    # tokenizer with the same rules and no special cases.
    bare = Tokenizer(tok.vocab, rules={}, prefix_search=tok.prefix_search, suffix_search=tok.suffix_search,
                     infix_finditer=tok.infix_finditer, token_match=tok.token_match, url_match=tok.url_match)
    phrases = {
        chunk: [t.text for t in bare(chunk)]
        for chunk in special_cases
        if tok.find_prefix(chunk) or tok.find_infix(chunk) or tok.find_suffix(chunk) or " " in chunk
    }
    from spacy.attrs import LIKE_NUM

    return {
        "spacy_version": spacy.__version__,
        "lang": lang,
        "prefix": _regex(tok.prefix_search),
        "suffix": _regex(tok.suffix_search),
        "infix": _regex(tok.infix_finditer),
        "token_match": _regex(tok.token_match),
        "url_match": _regex(tok.url_match),
        "special_cases": special_cases,
        "special_phrases": phrases,
        "like_num": _like_num(tok.vocab.lex_attr_getters[LIKE_NUM]),
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    stale = []
    for lang in LANGS:
        path = args.out / f"{lang}.json"
        text = dumps(export(lang))
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("differ from the installed spaCy: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
