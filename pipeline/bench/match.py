"""Evaluate and time the matching stage.

    python -m pipeline.bench.match /path/to/devset [--ocr-dir DIR] [--verbose] [--no-speed]

Prints pair-level precision, recall and F1 and the share of no-promise letters
left unmatched, on the typed texts and (with --ocr-dir) on raw OCR texts, then
a speed benchmark: 50 letters against a generated 5,000-promise registry
(index build + matching; text extraction excluded).

The sender's city comes from the gold labels ("gold"), from the field stage when
it is in the tree ("fields"), or from city names in the text with ``fields=None``
("text").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from pathlib import Path

from pipeline.schema import FieldValue, LetterFields, LetterText, PageText, Promise, TextSource
from pipeline.stages.match import PromiseIndex, _token_is_city, city_keys, match_letter, skel, terms_of
from pipeline.stages.registry import load_registry


def letter_text(letter_id: str, raw: str, source: TextSource = TextSource.TEXT_LAYER) -> LetterText:
    pages = raw.split("\f")
    return LetterText(letter_id, [PageText(i + 1, p, source, 0.0, 0.0) for i, p in enumerate(pages)])


def gold_fields(g: dict) -> LetterFields:
    f = LetterFields()
    f.sender_city = FieldValue(value=g.get("sender_city"), confidence=1.0)
    f.language = FieldValue(value=g.get("language"), confidence=1.0)
    return f


def _field_extractor():  # -> Callable[[LetterText], LetterFields] | None
    """The field stage, when present in the tree (it is developed in parallel)."""
    try:
        from pipeline.stages.fields import extract_fields
    except ImportError:
        return None
    return extract_fields


def evaluate(
    devset: Path, index: PromiseIndex, texts: dict[str, str], city_from: str, verbose: bool = False
) -> dict[str, float]:
    """Pair-level scores; ``city_from`` is "gold", "fields" (the field stage) or "text" (fields=None)."""
    extractor = _field_extractor() if city_from == "fields" else None
    gold = [json.loads(line) for line in (devset / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    tp = fp = fn = 0
    empty_total = empty_ok = near_ties = 0
    for g in gold:
        lid = g["letter_id"]
        if lid not in texts:
            continue
        want = {p["promise_id"] for p in g["promises"]}
        lt = letter_text(lid, texts[lid])
        fields = gold_fields(g) if city_from == "gold" else extractor(lt) if extractor else None
        got_matches = match_letter(lt, fields, index)
        got = {m.promise_id for m in got_matches}
        near_ties += sum(m.near_tie for m in got_matches)
        tp += len(want & got)
        fp += len(got - want)
        fn += len(want - got)
        if not want:
            empty_total += 1
            empty_ok += not got
        if verbose and got != want:
            detail = [
                (
                    m.promise_id,
                    m.score,
                    m.features["topic_similarity"],
                    m.features["city"],
                    m.features["shared_terms"][:4],
                )
                for m in got_matches
            ]
            print(f"  {lid}: want {sorted(want)} got {detail}")
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": f1,
        "no_promise_unmatched": empty_ok / empty_total if empty_total else 1.0,
        "letters": len([g for g in gold if g["letter_id"] in texts]),
        "near_ties": near_ties,
    }


def read_texts(folder: Path) -> dict[str, str]:
    out = {}
    for f in sorted(folder.glob("*.txt")):
        if "." in f.stem:  # skip side files such as L-D003.layer.txt
            continue
        out[f.stem] = f.read_text(encoding="utf-8")
    return out


# --- speed benchmark -------------------------------------------------------------------

_CITIES = [
    ("Рівне", "Рівненський", "Ровенский"),
    ("Черкаси", "Черкаський", "Черкасский"),
    ("Ужгород", "Ужгородський", "Ужгородский"),
    ("Кропивницький", "Кропивницький", "Кропивницкий"),
    ("Хмельницький", "Хмельницький", "Хмельницкий"),
    ("Ізмаїл", "Ізмаїльський", "Измаильский"),
    ("Мелітополь", "Мелітопольський", "Мелитопольский"),
    ("Бровари", "Броварський", "Броварской"),
    ("Коломия", "Коломийський", "Коломыйский"),
    ("Дрогобич", "Дрогобицький", "Дрогобычский"),
]
_TOPICS_UK = [
    "відремонтує дорогу на вулиці {street}",
    "встановить вуличне освітлення на вулиці {street}",
    "збудує нову школу в мікрорайоні {district}",
    "відкриє дитячий садок у мікрорайоні {district}",
    "реконструює парк {park}",
    "запровадить електронний квиток у громадському транспорті",
    "замінить водопровідні мережі на вулиці {street}",
    "облаштує сквер і дитячий майданчик біля будинку № {n}",
    "закупить {n} нових автобусів",
    "проведе капітальний ремонт лікарні № {n}",
    "відкриє центр надання адміністративних послуг",
    "збудує {n} кілометрів велодоріжок",
]
_TOPICS_RU = [
    "отремонтирует дорогу на улице {street}",
    "установит уличное освещение на улице {street}",
    "построит новую школу в микрорайоне {district}",
    "откроет детский сад в микрорайоне {district}",
    "реконструирует парк {park}",
    "внедрит электронный билет в общественном транспорте",
    "заменит водопроводные сети на улице {street}",
    "обустроит сквер и детскую площадку возле дома № {n}",
    "закупит {n} новых автобусов",
    "проведет капитальный ремонт больницы № {n}",
    "откроет центр предоставления административных услуг",
    "построит {n} километров велодорожек",
]
_STREETS = ["Садова", "Шевченка", "Набережна", "Грушевського", "Зелена", "Лісова", "Миру", "Вишнева"]
_DISTRICTS = ["Північний", "Сонячний", "Заріччя", "Центральний", "Молодіжний"]
_PARKS = ["«Дружба»", "«Ювілейний»", "«Сосновий»", "імені Франка"]
_SURNAMES = [
    "Мельник",
    "Шевчук",
    "Бондар",
    "Кравець",
    "Олійник",
    "Лисенко",
    "Ткаченко",
    "Марченко",
    "Руденко",
    "Поліщук",
]


def generate_registry(n: int, seed: int = 7) -> list[Promise]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        city, adj_uk, adj_ru = _CITIES[i % len(_CITIES)]
        city = city if i < len(_CITIES) * 50 else f"{city}-{i // 500}"  # many distinct cities
        ru = rnd.random() < 0.5
        topic = rnd.randrange(len(_TOPICS_UK))
        tpl = (_TOPICS_RU if ru else _TOPICS_UK)[topic]
        what = tpl.format(
            street=rnd.choice(_STREETS), district=rnd.choice(_DISTRICTS), park=rnd.choice(_PARKS), n=rnd.randint(2, 60)
        )
        surname = rnd.choice(_SURNAMES)
        office = f"{adj_ru} городской голова" if ru else f"{adj_uk} міський голова"
        descr = (
            f"Городской голова пообещал, что до конца каденции {what.split(' ', 1)[1]}."
            if ru
            else f"Міський голова пообіцяв виборцям, що до кінця каденції {what.split(' ', 1)[1]}."
        )
        out.append(
            Promise(
                promise_id=f"P-GEN-{i:05d}",
                politician=f"{'Иван' if ru else 'Іван'} {surname}",
                office=office,
                city=city,
                said_on=dt.date(2015, 1, 1) + dt.timedelta(days=rnd.randrange(1500)),
                title=f"{surname} {what}",
                description=descr,
                lang="ru" if ru else "uk",
            )
        )
    return out


def speed(texts: dict[str, str], real: list[Promise], n_promises: int = 5000, n_letters: int = 50) -> dict[str, float]:
    """The letters' own promises among generated ones, so cities and topics compete as in a real registry."""
    registry = real + generate_registry(n_promises - len(real))
    ids = sorted(texts)
    batch = [letter_text(f"B{i}", texts[ids[i % len(ids)]] + f"\n\n{i}") for i in range(n_letters)]
    # Lemma caches warm up on first use: empty them to time a run's cold start honestly.
    for cached in (terms_of, skel, city_keys, _token_is_city):
        cached.cache_clear()
    # CPU time is reported too: on a shared machine wall time mostly measures the neighbours.
    t0, c0 = time.perf_counter(), time.process_time()
    index = PromiseIndex.build(registry)
    t1 = time.perf_counter()
    n_matches = sum(len(match_letter(lt, None, index)) for lt in batch)
    t2, c2 = time.perf_counter(), time.process_time()
    return {"build_s": t1 - t0, "match_s": t2 - t1, "total_s": t2 - t0, "cpu_s": c2 - c0, "matches": n_matches}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("--ocr-dir", type=Path, default=None)
    ap.add_argument("--verbose", action="store_true", help="list letters whose matches differ from gold")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args(argv)
    registry = load_registry(args.devset / "promises.csv")
    index = PromiseIndex.build(registry)
    sets = {"typed": read_texts(args.devset / "letters")}
    if args.ocr_dir:
        sets["ocr"] = read_texts(args.ocr_dir)
    print(
        f"{'texts':6} {'city':10} {'letters':>7} {'P':>6} {'R':>6} {'F1':>6} {'no-promise unmatched':>21} {'near-ties':>9}"
    )
    for name, texts in sets.items():
        modes = ["gold", "fields", "text"] if _field_extractor() else ["gold", "text"]
        for label in modes:
            if args.verbose:
                print(f"[{name} / city {label}]")
            m = evaluate(args.devset, index, texts, label, args.verbose)
            print(
                f"{name:6} {label:10} {m['letters']:7d} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f}"
                f" {m['no_promise_unmatched']:21.3f} {m['near_ties']:9d}"
            )
    if not args.no_speed:
        big = PromiseIndex.build(registry + generate_registry(5000 - len(registry)))
        for name, texts in sets.items():
            m = evaluate(args.devset, big, texts, "text")
            print(
                f"{name:6} {'text':10} {m['letters']:7d} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f}"
                f" {m['no_promise_unmatched']:21.3f} {m['near_ties']:9d}   <- among 5,000 promises"
            )
        s = speed(sets["typed"], registry)
        print(
            f"speed: 50 letters x 5,000 promises: index build {s['build_s']:.2f} s + matching {s['match_s']:.2f} s"
            f" = {s['total_s']:.2f} s wall, {s['cpu_s']:.2f} s CPU (target < 2 s); {s['matches']} matches"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
