"""pipeline.tokenizer gives exactly spaCy's blank uk/ru tokens and lexeme attributes, without spaCy.

spaCy is imported here (it stays the reference for the export and for these tests); the batch
never imports it (last test).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from pipeline.reqgen import generate, noisy
from pipeline.samplegen import letter_text, load_sample_data, write_sample_registry, write_text_pdf
from pipeline.stages.verdict import lemma_features, split_sentences
from pipeline.tokenizer import LANGS, Tokenizer, get_tokenizer
from pipeline.training import corpus
from pipeline.training.export_tokenizer import dumps, export
from pipeline.training.pairs import load_writer_rows
from tests import promisegen

ROOT = Path(__file__).resolve().parents[1]

# Strings that exercise every branch of spaCy's tokenizer: URLs and e-mails (url_match), numbers
# with separators, № and slashes, quotes and dashes (prefixes, suffixes, infixes), apostrophes in
# Ukrainian words, the abbreviations of the uk/ru special cases, emoticons matched over tokens.
HOSTILE = [
    "", " ", "  ", "\n", "\n\n", " \n ", "\t", "\u00a0", "a\u00a0b", " а", "а ", "а  б", "а \n б", "а\u2003б",
    "https://rada.gov.ua/news/12?id=5&x=1.", "(див. http://www.example.com/a-b_c/)", "www.kyivcity.gov.ua,",
    "ftp://host/path", "mailto:info@rada.ua", "info@cher.gov.ua.", "<pr@city-rada.org.ua>", "rada.ua/документ",
    "1,5", "1.5", "1,5%", "50%", "+5", "-3", "±2", "~10", "5-6", "2014-2015", "2014–2015", "2014—2015 рр.",
    "№12/3", "№ 12/3", "№01-02/123", "вих.№ 5", "N12", "3/4", "1/2/3", "10.11.2016", "10.11.2016р.",
    "12:30", "1 000 000", "1 000,50 грн.", "1000грн", "5км", "3,2 тис. кв. м", "₴100", "$5", "5$", "€5", "100°C.",
    "«Монітор обіцянок»", "„лапки“", "“так”", "\"ні\"", "'так'", "(у т.ч. ремонт)", "[1]", "{x}", "<b>",
    "роботи — завершено", "роботи – завершено", "роботи-завершено", "вул.Шевченка,5", "м.Київ", "м. Київ",
    "вул. Лесі Українки, 12-А", "просп. Перемоги", "пр-кт Науки", "р-н.", "р-н", "ім. Т. Шевченка", "в/ч А1234",
    "обл.", "смт.", "т.ч.", "т. ч.", "т.зв.", "т.д.", "і т.д.", "тис.", "млн.", "грн.", "ст. 23", "п. 5", "п.п. 1-3",
    "г. Одесса", "ул. Ленина", "д. 5", "т.е.", "т.к.", "и т.д.", "и т. п.", "др.", "им. Пушкина", "пер. Тихий",
    "м'ясо", "м’ясо", "мʼясо", "п'ять", "об'єкт", "об’єкта", "з'їзд", "сім'ї", "Мар'яна", "пам’ятка", "'слово'",
    "’слово’", "слово'", "Д'Артаньян", "О'Коннор", "don't", "Ivan's",
    "Т.О. Шевченко", "Т. О. Шевченко", "О.Стецевич", "Шевченко Т.О.", "Шевченко Т.", "А.", "A.", "Ю.",
    "...", "…", "?!", "!!!", "а...", "так!", "так?", "так;", "так:", "(так)", "так),", "—", "–", "-", "--", "---",
    ":)", ":-)", ";)", "(:", ":(", "<3", "^_^", "O_o", "ಠ_ಠ", "¯\\(ツ)/¯", ":))", "a :) b", "a:)", "(:)", ":):)",
    "C++", "o.O", "0.0", "8)", "(8)", "x:D", "XD", "=)", "=]", ":-((*_*)", "C++=(:()", "):’(*_*)",  # overlapping
    "Км/год", "км/год", "кв.м", "м2", "м²", "м³", "10 м2", "2х2", "2x2", "Т-34", "COVID-19", "ЦНАП-у",
    "ЄДРПОУ 12345678", "тел. (0372) 52-41-07", "+38(044)123-45-67", "факс: 26-41-07", "ЗУ «Про звернення громадян»",
    "§ 5", "п.1.2.3", "1)", "1.", "а)", "I.", "IV", "2-й", "3-тя", "5-ти", "10-річчя", "у 2016-му",
    "ЩОДО", "Щодо:", "ДОДАТОК 1", "ТОВ «Буд-Сервіс»", "КП \"Водоканал\"", "ПрАТ «Київ-Авто»",
    "a\u0301", "е\u0301тап", "\u200bслово", "сло\u00adво", "\ufeffтекст", "а\u2028б", "а\u0085б", "а\x0cб",
    "ŉ", "İ", "ﬁ", "Ⅻ", "½", "²", "٣", "𝟓", "\u2212 5", "5\u2212", "a\U0001f600b", "\U0001f44d",
]


def _spacy_tokens(nlp: spacy.language.Language, text: str) -> list[tuple[str, bool, bool, bool, bool]]:
    return [(t.text, t.is_alpha, t.is_punct, t.is_space, t.like_num) for t in nlp.tokenizer(text)]


def _ours(tok: Tokenizer, text: str) -> list[tuple[str, bool, bool, bool, bool]]:
    return [tuple(t) for t in tok(text)]


@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[spacy.language.Language, Tokenizer]]:
    return {lang: (spacy.blank(lang), get_tokenizer(lang)) for lang in LANGS}


def _assert_same(pairs: dict[str, tuple[spacy.language.Language, Tokenizer]], texts: list[str]) -> int:
    """Every text in both languages; the number of tokens compared."""
    n = 0
    for lang, (nlp, tok) in pairs.items():
        for text in texts:
            theirs = _spacy_tokens(nlp, text)
            assert _ours(tok, text) == theirs, (lang, text)
            n += len(theirs)
    return n


def _with_parts(texts: list[str]) -> list[str]:
    """The texts and their lines and sentences: the verdict tokenizes passages and sentences."""
    out = list(texts)
    for t in texts:
        out.extend(t.splitlines())
        out.extend(t[s:e] for s, e in split_sentences(t))
    return list(dict.fromkeys(out))


def test_the_exported_rules_are_the_installed_spacys() -> None:
    """The data files are what the export script writes from the installed spaCy (re-run it after an upgrade:
    python -m pipeline.training.export_tokenizer)."""
    for lang in LANGS:
        path = ROOT / "pipeline" / "data" / "tokenizer" / f"{lang}.json"
        assert path.read_text(encoding="utf-8") == dumps(export(lang)), path


def test_hostile_strings(pairs: dict[str, tuple[spacy.language.Language, Tokenizer]]) -> None:
    texts = list(HOSTILE)
    texts += [" ".join(HOSTILE), "\n".join(HOSTILE), "".join(HOSTILE)]
    texts += [f"{a} {b}" for a in HOSTILE[:40] for b in HOSTILE[-40:]]
    texts += [w for h in HOSTILE for w in (f"({h}).", f"«{h}»,", f"{h}{h}", f"—{h}—")]
    assert _assert_same(pairs, texts) > 10_000


def test_every_special_case_in_context(pairs: dict[str, tuple[spacy.language.Language, Tokenizer]]) -> None:
    """Each special case alone, glued to punctuation, split by a space, and next to another one."""
    for lang, (nlp, _tok) in pairs.items():
        specials = sorted(nlp.tokenizer.rules)
        texts = []
        for s in specials:
            texts += [s, f"({s})", f"«{s}»,", f"{s}.", f"{s}:", f"x{s}", f"{s}x", f"а {s} б", " ".join(s), f"{s}{s}",
                      f"\n{s}\n", f"{s} {s}", f"1{s}2"]
        texts.append(" ".join(specials))
        texts.append("".join(specials))
        _assert_same({lang: pairs[lang]}, texts)


def test_generated_letters_and_passages(pairs: dict[str, tuple[spacy.language.Language, Tokenizer]]) -> None:
    """The project's own text generators: sample letters, requisites (typed and noisy), training passages."""
    texts = [letter_text(item) for item in load_sample_data()["letters"]]
    texts += [p["title"] + "\n" + p.get("description", "") for p in load_sample_data()["promises"]]
    for seed in range(150):
        gen = generate(seed)
        texts += [gen.text, noisy(gen, seed).text]
    texts += [r["passage"] for r in corpus.build(seed=3)]
    rows = load_writer_rows()
    texts += [r["passage"] for r in rows] + [r["promise"]["title"] for r in rows]
    texts += list(promisegen.SENTENCES.values()) + [" ".join(p) for p in promisegen.SIGNERS]
    texts += promisegen.POLITICIANS + [c for pair in promisegen.CITIES for c in pair]
    assert _assert_same(pairs, _with_parts(texts)) > 100_000


def test_random_strings(pairs: dict[str, tuple[spacy.language.Language, Tokenizer]]) -> None:
    """Random strings over the characters the rules care about (fixed seed, so a failure repeats)."""
    alphabet = list("абвгґдеєжзиіїйклмнопрстуфхцчшщьюяыэъёАБВІЇЄҐЫЭ" "abcxyzABCXYZ" "0123456789" "..,,;:!?-–—'’ʼ\"«»„“”()[]{}<>/\\"
                    "%$€₴№#@&*+=_^~|°§") + [" ", " ", " ", "\n", "\t", "\u00a0", "http://", "www.", ".ua", ":)", "т.ч.",
                                            "вул.", "м.", "р-н", "грн", "\u0301"]
    rng = random.Random(20261202)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(4000)]
    assert _assert_same(pairs, texts) > 30_000


def test_lemma_features_as_with_spacy() -> None:
    """The features of two passages, as the spaCy tokenizer made them before this module replaced it."""
    uk = "Роботи (у т.ч. ремонт вул.Шевченка) не завершено на 50%: 1,5 млн грн, див. https://rada.gov.ua «так»."
    ru = "Работы не начаты: средства (2,5 млн грн.) в бюджете 2017 г. не предусмотрены; см. www.city.ru."
    assert lemma_features(uk, "uk") == ("роботи у ремонт шевченко NEG NEG_завершити NEG_CUE_DONE NEG_на NUM PCT NUM "
                                        "млн грн диво так")
    assert lemma_features(ru, "ru") == ("работа NEG NEG_начать NEG_CUE_PROG средство NUM NUM грн в бюджет NUM NEG "
                                        "NEG_предусмотреть NEG_CUE_PROG")


def test_a_letter_is_processed_without_importing_spacy(tmp_path: Path) -> None:
    """A born-digital letter through Processor.warm_up and Processor.process in a fresh interpreter:
    its verdicts are made, and spaCy is never imported."""
    data = load_sample_data()
    item = data["letters"][0]
    (tmp_path / "in").mkdir()
    write_text_pdf(item["pages"], tmp_path / "in" / f"{item['letter_id']}.pdf")
    registry = write_sample_registry(tmp_path / "promises.csv", data["promises"])
    code = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from pipeline.processor import Processor\n"
        "from pipeline.settings import Settings\n"
        "from pipeline.stages.ingest import discover\n"
        "from pipeline.stages.registry import load_registry\n"
        "proc = Processor(load_registry(Path(sys.argv[1])), Settings())\n"
        "proc.warm_up()\n"
        "result = proc.process(discover(Path(sys.argv[2])).letters[0])\n"
        "print(json.dumps({'updates': len(result.updates), 'status': str(result.status),\n"
        "                  'spacy': sorted(m for m in sys.modules if m.split('.')[0] in ('spacy', 'thinc'))}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(registry), str(tmp_path / "in")], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["updates"] >= 1, out
    assert out["spacy"] == []
