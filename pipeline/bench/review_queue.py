"""Benchmark: the review queue over many letters (10,000 by default).

    python -m pipeline.bench.review_queue [--letters 10000] [--db POSTGRESQL_URL | --no-pg]

Fills new databases on both backends, a SQLite file and PostgreSQL (the empty database given
with --db, else a throwaway server started the way the tests start one, tests/pgserver.py),
with invented letters: two promises matched per letter on average, six fields, some flagged for
review and some already decided by two reviewers; then times, through the app over HTTP (in
process), the queue page unfiltered, with a surname filter, a city prefix, a full-text search,
the letter screen and ``n``. Prints the median of repeated requests next to the 100-letter
figures (the ratio is what to watch), per backend. The first queue request, which builds the
queue rows of letters inserted behind the app's back, is timed apart ("queue rows built").
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from pipeline.review import auth

_SURNAMES = ["Коваленко", "Бондар", "Ткачук", "Мороз", "Лисенко", "Гнатюк", "Шевчук", "Кравець", "Олійник", "Поліщук"]
_NAMES = ["Олена", "Петро", "Ірина", "Андрій", "Марія", "Тарас"]
_TOWNS = ["Зеленодольськ", "Тихоград", "Вишнівка", "Озерне", "Кам'янець-Степовий", "Нове Поле", "Сонячне", "Яблунів"]
_WORDS = ["ремонт", "школи", "мосту", "парку", "дороги", "водогону", "завершено", "триває", "не розпочато", "лікарні"]


def fill(db_url: str | Path, letters: int, seed: int = 7) -> None:
    from pipeline.store.db import Database
    from pipeline.store.tables import FieldRow, LetterRow, MatchRow, PromiseRow, ReviewRow

    rng = random.Random(seed)
    db = Database(db_url)
    promises = []
    for i in range(400):
        promises.append(PromiseRow(promise_id=f"P{i:04d}", politician=f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)}",
                                   office="мер", city=rng.choice(_TOWNS), said_on=dt.date(2020, 1, 1),
                                   title=f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}", lang="uk"))
    with db.session() as s:
        s.add_all(promises)
        auth.add_user(s, "bench", "admin", "bench-password-1")
    verdicts = ["fulfilled", "in_progress", "not_fulfilled"]
    now = dt.datetime(2026, 1, 1)
    batch = 1000
    for start in range(0, letters, batch):
        with db.session() as s:
            children: list[object] = []
            for n in range(start, min(letters, start + batch)):
                lid = f"{n:016x}"
                town = rng.choice(_TOWNS)
                text = " ".join(rng.choice(_WORDS) for _ in range(80))
                flagged = rng.random() < 0.3
                s.add(LetterRow(letter_id=lid, sha256=f"{n:064x}", source_file=f"{town}/{n}.pdf", source_paths=[],
                                kind="pdf", pages=1, language="uk", text_source="text_layer",
                                status="needs_review" if flagged else "ok", error="unsure" if flagged else None,
                                text=text, version=1))
                for name, value in (("letter_date", f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"),
                                    ("sender_city", town), ("outgoing_number", str(n)), ("request_number", "1"),
                                    ("signatory_name", f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)}"),
                                    ("language", "uk")):
                    children.append(FieldRow(letter_id=lid, name=name, value=value, confidence=0.9))
                for k, p in enumerate(rng.sample(promises, rng.randint(1, 3))):
                    children.append(MatchRow(letter_id=lid, promise_id=p.promise_id, match_score=0.8, passage_index=k,
                                   passage_text=text[:200], passage_start=0, passage_end=200, passage_page=1,
                                   features={}, alternatives=[], near_tie=False, verdict=rng.choice(verdicts),
                                   confidence=round(rng.uniform(0.4, 0.99), 3), probabilities={},
                                   model_version="bench", needs_review=flagged))
                    if rng.random() < 0.1:
                        for who in ("ann", "ben"):
                            children.append(ReviewRow(letter_id=lid, kind="verdict", key=p.promise_id, machine_value=None,
                                            human_value=rng.choice(verdicts), action="correct", reviewer=who,
                                            created_at=now))
            s.flush()  # the letters first: fields and matches refer to them
            s.add_all(children)
    db.close()


def _median_ms(client, url: str, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code in (200, 303), (url, r.status_code)
    return statistics.median(times)


def measure(db_url: str | Path, repeats: int) -> dict[str, float]:
    import re

    from fastapi.testclient import TestClient

    from pipeline.review.app import create_app

    c = TestClient(create_app(db_url, secret_key="bench-secret-key-0123456789abcdef0123456789"), follow_redirects=False)
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    c.post("/login", data={"name": "bench", "password": "bench-password-1", "csrf_token": token, "next": "/queue"})
    first = f"{0:016x}"
    t0 = time.perf_counter()
    assert c.get("/queue").status_code == 200
    built = (time.perf_counter() - t0) * 1000
    return {
        "queue rows built": built,
        "queue": _median_ms(c, "/queue", repeats),
        "queue, surname": _median_ms(c, "/queue?politician=Гнатюк", repeats),
        "queue, city prefix": _median_ms(c, "/queue?city=Зелен", repeats),
        "queue, full text": _median_ms(c, "/queue?text=водогону%20лікарні", repeats),
        "queue, all filters": _median_ms(c, "/queue?state=all&needs=1&verdict=fulfilled&city=Зелен&politician=Гнатюк"
                                            "&date_from=2024-02-01&date_to=2024-11-30&text=ремонт", repeats),
        "queue, page 20": _median_ms(c, "/queue?state=all&page=20", repeats),
        "letter screen": _median_ms(c, f"/letters/{first}", repeats),
        "n (next letter)": _median_ms(c, f"/letters/{first}/next", repeats),
        "agreement page": _median_ms(c, "/stats", repeats),
    }


def _backend(label: str, small: str | Path, big: str | Path, letters: int, repeats: int) -> None:
    fill(small, 100)
    t0 = time.perf_counter()
    fill(big, letters)
    print(f"{label}: filled {letters} letters in {time.perf_counter() - t0:.1f} s")
    base = measure(small, repeats)
    found = measure(big, repeats)
    print(f"{label + ' request':<26}{'100 letters':>14}{f'{letters} letters':>18}{'ratio':>8}")
    for k, v in found.items():
        print(f"{k:<26}{base[k]:>11.1f} ms{v:>15.1f} ms{v / base[k]:>8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--letters", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--db", default=None, help="an empty PostgreSQL database URL (default: a throwaway server)")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _backend("SQLite", Path(tmp) / "small.db", Path(tmp) / "big.db", args.letters, args.repeats)
        if args.no_pg:
            return
        if args.db:
            from pipeline.store.db import database_url

            # The 100-letter baseline goes to a second database beside the given one.
            small_url = _sibling_database(database_url(args.db))
            _backend("PostgreSQL", small_url, args.db, args.letters, args.repeats)
            return
        try:
            from tests import pgserver  # the tests' throwaway server: run from the repository's root
        except ImportError:
            raise SystemExit("PostgreSQL: give --db postgresql://… (tests/pgserver.py is not importable here)") from None
        server = pgserver.start_server()
        try:
            _backend("PostgreSQL", server.create_database(), server.create_database(), args.letters, args.repeats)
        finally:
            server.stop()


def _sibling_database(url: str) -> str:
    """A new database on the server of ``url`` (named after it), for the small baseline."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    name = f"{u.database}_bench_small"
    engine = create_engine(u, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return u.set(database=name).render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
