"""Several reviewers on one letter (issue 16, part 2): every reviewer's own response is kept; the
value in force is the adjudicated one, else the agreed one, else the latest, and a disagreement
goes to the adjudication queue; Cohen's kappa per reviewer pair and per verdict on /stats and in
the export. Over a real SQLite file through HTTP."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.api import export_records
from pipeline.review import auth
from pipeline.review.agreement import agreement, cohen_kappa
from pipeline.store.db import Database
from pipeline.store.repo import Decision
from tests import test_review as _base
from tests.test_review import LETTER_A, LETTER_B, ReviewDb, client, decide, login, reviews, version_of

_cheap_argon2, _template_db, rdb, app = _base._cheap_argon2, _base._template_db, _base.rdb, _base.app
_pg_template_db = _base._pg_template_db  # the PostgreSQL case of rdb
JUDY = "judy-pass-4444"


def _add_adjudicator(rdb: ReviewDb) -> None:
    db = Database(rdb.path)
    with db.session() as s:
        auth.add_user(s, "judy", "adjudicator", JUDY)
    db.close()


def test_cohen_kappa_by_hand() -> None:
    # 10 items, raters agree on 7; a: 5 yes 5 no, b: 6 yes 4 no -> pe = (5*6 + 5*4) / 100 = 0.5.
    a = ["y"] * 5 + ["n"] * 5
    b = ["y", "y", "y", "y", "n", "y", "y", "n", "n", "n"]
    assert sum(x == y for x, y in zip(a, b, strict=True)) == 7
    assert cohen_kappa(a, b) == pytest.approx((0.7 - 0.5) / 0.5)
    assert cohen_kappa(["y", "n"], ["y", "n"]) == pytest.approx(1.0)
    assert cohen_kappa(["y", "y"], ["y", "y"]) is None  # chance agreement is 1: undefined
    assert cohen_kappa([], []) is None


def test_agreement_per_pair_and_per_verdict() -> None:
    def d(*responses: tuple[str, str]) -> Decision:
        return Decision(1, responses[-1][1], None, responses[-1][0], "correct", None, "agreed", responses)

    human = {
        ("l1", "verdict", "p"): d(("ann", "fulfilled"), ("ben", "fulfilled")),
        ("l2", "verdict", "p"): d(("ann", "in_progress"), ("ben", "not_fulfilled")),
        ("l3", "verdict", "p"): d(("ann", "not_fulfilled"), ("ben", "not_fulfilled"), ("cat", "fulfilled")),
        ("l4", "field", "letter_date"): d(("ann", "2020-01-01"), ("ben", "2020-01-02")),  # not a verdict
    }
    rows = {(r.scope, r.reviewer_a, r.reviewer_b, r.verdict): r for r in agreement(human)}
    ab = rows[("pair", "ann", "ben", None)]
    assert (ab.items, ab.agreed) == (3, 2)
    # ann: F, I, N; ben: F, N, N -> po 2/3, pe (1*1 + 1*0 + 1*2) / 9 = 1/3 -> kappa 0.5
    assert ab.kappa == pytest.approx(0.5)
    assert rows[("pair", "ann", "cat", None)].items == 1
    f = rows[("verdict", None, None, "fulfilled")]
    assert f.items == 5  # pooled pair items: ann-ben 3, ann-cat 1, ben-cat 1


def test_disagreement_is_kept_flagged_and_adjudicated(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    """Defect 7: one sets not_fulfilled, another later accepts fulfilled: both are kept, the
    letter is disputed (not reviewed), and the adjudicator's verdict decides."""
    _add_adjudicator(rdb)
    alice, bob, judy = client(app), client(app), client(app)
    ta, tb, tj = login(alice, "alice"), login(bob, "bob"), login(judy, "judy", JUDY)
    r = decide(alice, ta, LETTER_B, version_of(alice, LETTER_B), {"kind": "verdict", "key": "P-PARK",
                                                                  "value": "not_fulfilled"})
    assert r.json()["promises"][0]["basis"] == "single"
    r = decide(bob, tb, LETTER_B, version_of(bob, LETTER_B), {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    card = r.json()["promises"][0]
    assert card["basis"] == "disputed" and card["verdict"] == "fulfilled"  # the latest, flagged
    assert card["responses"] == [["alice", "not_fulfilled"], ["bob", "fulfilled"]]
    assert [(x.reviewer, x.human_value) for x in reviews(rdb)] == [("alice", "not_fulfilled"), ("bob", "fulfilled")]
    html = bob.get(f"/letters/{LETTER_B}").text
    assert "they disagree" in html and "alice: not fulfilled" in html
    # The queue is for adjudicators and admins only.
    assert bob.get("/adjudicate").status_code == 403
    page = judy.get("/adjudicate").text
    assert 'id="dispute-count">1 open disagreement' in page and f'data-letter-id="{LETTER_B}"' in page
    out = rdb.tmp / "out"
    export_records(rdb.path, out)
    letters = pd.read_csv(out / "letters.csv", dtype=str).set_index("letter_id")
    assert letters.loc[LETTER_B, "status"] == "ok"  # disputed: not reviewed yet
    # The adjudicator's verdict is written as an adjudication and is the value in force.
    r = decide(judy, tj, LETTER_B, version_of(judy, LETTER_B), {"kind": "verdict", "key": "P-PARK",
                                                                "value": "not_fulfilled"})
    card = r.json()["promises"][0]
    assert card["basis"] == "adjudicated" and card["verdict"] == "not_fulfilled"
    assert reviews(rdb)[-1].action == "adjudicate"
    assert "No disagreements to decide" in judy.get("/adjudicate").text
    # Bob pressing his key again changes nothing: the adjudication stands.
    r = decide(bob, tb, LETTER_B, version_of(bob, LETTER_B), {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    assert r.json()["promises"][0]["verdict"] == "not_fulfilled" and len(reviews(rdb)) == 3
    export_records(rdb.path, out)
    updates = pd.read_csv(out / "updates.csv", dtype=str).set_index(["letter_id", "promise_id"])
    assert updates.loc[(LETTER_B, "P-PARK"), "verdict"] == "not_fulfilled"
    assert updates.loc[(LETTER_B, "P-PARK"), "reviewer"] == "judy"
    letters = pd.read_csv(out / "letters.csv", dtype=str).set_index("letter_id")
    assert letters.loc[LETTER_B, "status"] == "reviewed"


def test_agreed_responses_and_stats_page_and_export(app, rdb: ReviewDb) -> None:  # noqa: ANN001
    alice, bob = client(app), client(app)
    ta, tb = login(alice, "alice"), login(bob, "bob")
    for c, t, school in ((alice, ta, "in_progress"), (bob, tb, "not_fulfilled")):
        r = decide(c, t, LETTER_A, version_of(c, LETTER_A), {"kind": "verdict", "key": "P-BRIDGE", "value": "fulfilled"},
                   {"kind": "verdict", "key": "P-SCHOOL", "value": school})
        assert r.status_code == 200
    r = decide(alice, ta, LETTER_B, version_of(alice, LETTER_B), {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    r = decide(bob, tb, LETTER_B, version_of(bob, LETTER_B), {"kind": "verdict", "key": "P-PARK", "value": "fulfilled"})
    assert r.json()["promises"][0]["basis"] == "agreed"
    html = alice.get("/stats").text
    # alice F, I, F; bob F, N, F -> po 2/3; pe = (2*2 + 1*0 + 0*1) / 9 = 4/9 -> kappa (2/3-4/9)/(5/9) = 0.4
    assert 'data-pair="alice|bob"' in html and '<td class="kappa">0.40</td>' in html
    assert 'id="open-disputes">1<' in html
    out = rdb.tmp / "out"
    export_records(rdb.path, out)
    agree = pd.read_csv(out / "agreement.csv")
    pair = agree[agree["scope"] == "pair"].iloc[0]
    assert (pair["reviewer_a"], pair["reviewer_b"], pair["items"], pair["agreed"]) == ("alice", "bob", 3, 2)
    assert pair["kappa"] == pytest.approx(0.4)
    assert set(agree[agree["scope"] == "verdict"]["verdict"]) == {"fulfilled", "in_progress", "not_fulfilled"}
