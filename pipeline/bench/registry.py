"""Benchmark: a very large promise registry (100,000 promises by default).

    python -m pipeline.bench.registry [--promises 100000] [--letters 8]

Builds a registry of invented promises over the project's city list, with, for each test
letter's city, a crowd of promises on the very topic the letter answers (stages of one
project: the worst case for the matcher, every one of them a near tie), writes born-digital
test letters, and prints the Processor's start-up time, the time per letter, the matches
kept per letter and the longest error string, next to the same figures for the 4-promise
registry: the ratios are what to watch.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

from pipeline.schema import Letter, LetterText, Promise
from pipeline.settings import Settings

# Invented topics (nouns of public works and their objects), not from any letter.
_WORKS = ["ремонт", "будівництво", "реконструкція", "облаштування", "встановлення", "модернізація", "заміна",
          "капітальний ремонт", "відкриття", "озеленення", "освітлення", "утеплення"]
_OBJECTS = ["даху школи", "дитячого садка", "поліклініки", "парку культури", "стадіону", "водогону", "каналізації",
            "мосту через річку", "тролейбусної лінії", "велодоріжки", "зупинок транспорту", "спортивного майданчика",
            "бібліотеки", "ринку", "пішохідного переходу", "котельні", "скверу", "набережної", "вуличного освітлення",
            "ліфтів у будинках", "доріг на околиці", "пологового будинку", "центру надання послуг", "басейну"]
_PEOPLE = ["Петро Іваненко", "Олена Мельник", "Андрій Ткаченко", "Наталія Кравець", "Василь Бондар", "Оксана Шевчук"]


def _cities() -> list[str]:
    from pipeline.settings import PACKAGE_DIR

    rows = (PACKAGE_DIR / "data" / "ua_cities.tsv").read_text(encoding="utf-8").splitlines()
    return [r.split("\t")[0] for r in rows if r and not r.startswith("#")]


def big_registry(n: int, crowd_cities: list[tuple[str, str]], crowd_share: float = 0.06,
                 seed: int = 0) -> list[Promise]:
    """``n`` promises: ``crowd_share`` of them stages of the topics in ``crowd_cities`` ((city, topic)),
    the rest random works in random cities."""
    rng = random.Random(seed)
    cities = _cities()
    out: list[Promise] = []
    crowd = int(n * crowd_share)
    for k in range(crowd):
        city, topic = crowd_cities[k % len(crowd_cities)]
        out.append(Promise(f"C-{k:06d}", _PEOPLE[k % len(_PEOPLE)], "міський голова", city, None,
                           f"{topic.capitalize()}, етап {k // len(crowd_cities) + 1}",
                           f"Обіцянка щодо {topic} у місті {city}", "uk"))
    for k in range(n - crowd):
        work, obj, city = rng.choice(_WORKS), rng.choice(_OBJECTS), rng.choice(cities)
        out.append(Promise(f"R-{k:06d}", rng.choice(_PEOPLE), "міський голова", city, None,
                           f"{work.capitalize()} {obj}", f"{work.capitalize()} {obj} у місті {city}", "uk"))
    return out


def write_registry(path: Path, promises: list[Promise]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["promise_id", "politician", "office", "city", "said_on", "title", "description", "lang"])
        for p in promises:
            w.writerow([p.promise_id, p.politician, p.office, p.city, p.said_on or "", p.title, p.description, p.lang])
    return path


def measure(promises: list[Promise], letters: list, settings: Settings) -> dict[str, float]:
    from pipeline.api import Processor

    t0 = time.perf_counter()
    proc = Processor(promises, settings)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = [proc.process(letter) for letter in letters]
    per_letter = (time.perf_counter() - t0) / max(len(letters), 1)
    return {
        "build_s": build,
        "per_letter_s": per_letter,
        "matches_max": max(len(r.updates) for r in results),
        "error_max": max(len(r.error or "") for r in results),
        "failed": sum(r.status.value == "failed" for r in results),
    }


def write_letters(inbox: Path, n_letters: int) -> tuple[list, list[tuple[str, str]]]:
    """``n_letters`` born-digital test letters in ``inbox`` (each on one topic in one city), and their
    (city, topic) pairs; returns the ingested letters and the pairs."""
    from pipeline.samplegen import write_text_pdf
    from pipeline.stages import ingest

    inbox.mkdir(parents=True, exist_ok=True)
    cities = _cities()
    pairs = []
    for i in range(n_letters):
        city = cities[i % len(cities)]
        obj = _OBJECTS[i % len(_OBJECTS)]
        topic = f"ремонту {obj}"
        pairs.append((city, topic))
        write_text_pdf([[f"{city.upper()} МІСЬКА РАДА", "ВИКОНАВЧИЙ КОМІТЕТ", "",
                         f"{10 + i % 18:02d}.09.2017 № 01-{i + 1}/2017", "", "ГО «Прозорий контроль»", "",
                         f"Щодо {topic} у місті {city}.",
                         f"Роботи з {topic} завершено, об'єкт введено в експлуатацію.", "",
                         "Міський голова          Іван ПЕТРЕНКО"]], inbox / f"letter-{i}.pdf")
    return ingest.discover(inbox, Settings().limits).letters, pairs


def _small(pairs: list[tuple[str, str]]) -> list[Promise]:
    return [Promise(f"S-{k}", "Петро Іваненко", "міський голова", c, None, t.capitalize(),
                    f"Обіцянка щодо {t} у місті {c}", "uk") for k, (c, t) in enumerate(pairs)]


def run(n_promises: int, n_letters: int, models_dir: Path | None = None) -> dict[str, dict[str, float]]:
    settings = Settings() if models_dir is None else Settings(models_dir=models_dir)
    with tempfile.TemporaryDirectory(prefix="letters-bench-registry-") as tmp:
        letters, pairs = write_letters(Path(tmp) / "in", n_letters)
        from pipeline.api import Processor

        Processor([], settings).process(letters[0])  # warm-up: imports, model and lexicons loaded once
        small = _small(pairs)
        return {"small": measure(small, letters, settings),
                "big": measure(small + big_registry(n_promises - len(small), pairs), letters, settings)}


def stage_ms(sizes: tuple[int, ...], n_letters: int, settings: Settings, rounds: int = 2) -> dict[str, dict[str, float]]:
    """For each registry size: the Processor's build seconds and the fields + match + verdict CPU
    milliseconds per letter (mean over ``rounds`` passes after a warm-up pass; single-threaded, so
    the idle machine's wall time), on born-digital letters whose city holds a crowd of near-tie
    promises on the letter's own topic (the matcher's worst case)."""
    from pipeline.api import Processor
    from pipeline.stages.dates import iso_date
    from pipeline.stages.fields import extract_fields
    from pipeline.stages.match import match_letter
    from pipeline.stages.text import extract_text

    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="letters-bench-registry-") as tmp:
        letters, pairs = write_letters(Path(tmp) / "in", n_letters)
        texts = [(letter, extract_text(letter, settings)) for letter in letters]
        for n in sizes:
            t0, c0 = time.perf_counter(), time.process_time()
            proc = Processor(_small(pairs) + big_registry(n - len(pairs), pairs), settings)
            build, build_cpu = time.perf_counter() - t0, time.process_time() - c0

            def one(letter: Letter, text: LetterText, proc: Processor = proc) -> tuple[float, int]:
                c0 = time.process_time()
                fields = extract_fields(text)
                matches = match_letter(text, fields, proc.index, settings.match_threshold, settings.near_tie_margin)
                for m in matches:
                    proc._update(letter, m, fields.language.value, iso_date(fields.letter_date.value))
                return time.process_time() - c0, len(matches)

            for letter, text in texts:  # warm-up: lazy loads and the promises' terms are start-up, not per letter
                one(letter, text)
            timed = [one(letter, text) for _ in range(rounds) for letter, text in texts]
            stages = [t for t, _ in timed]
            out[str(n)] = {"promises": n, "build_s": round(build, 2), "build_cpu_s": round(build_cpu, 2),
                           "ms_per_letter": round(1000 * sum(stages) / len(stages), 2),
                           "ms_max": round(1000 * max(stages), 2), "matches_max": max(k for _, k in timed)}
            del proc
    return out


def cli(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipeline.bench.registry", description=__doc__.split("\n\n")[0])
    ap.add_argument("--promises", type=int, default=100_000)
    ap.add_argument("--letters", type=int, default=8)
    ap.add_argument("--models", type=Path, default=None)
    args = ap.parse_args(argv)
    res = run(args.promises, args.letters, args.models)
    s, b = res["small"], res["big"]
    print(f"{args.letters} letters; registry of {args.letters} promises (small) vs {args.promises} (big)")
    for key in ("build_s", "per_letter_s", "matches_max", "error_max", "failed"):
        ratio = b[key] / s[key] if s[key] else float("nan")
        print(f"{key:14s} small {s[key]:10.3f}   big {b[key]:10.3f}   ratio x{ratio:.1f}")


if __name__ == "__main__":
    cli()
