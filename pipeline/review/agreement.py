"""Agreement between reviewers and the adjudication queue, from each reviewer's own responses.

Every reviewer's latest response per (letter, kind, key) is kept (see
:func:`pipeline.store.repo.effective_decisions`); where two reviewers answered the same
verdict, the pair counts towards Cohen's kappa. Figures are per reviewer pair (all verdicts)
and per verdict (that verdict against the rest, pooled over every pair).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.schema import Verdict
from pipeline.store.repo import Decision, effective_decisions
from pipeline.store.tables import LetterRow

AGREEMENT_COLUMNS = ("scope", "reviewer_a", "reviewer_b", "verdict", "items", "agreed", "observed", "kappa")
LETTER_KINDS = ("field", "verdict", "match", "letter")


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None when it is undefined (no items,
    or both raters used one and the same label throughout, so chance agreement is 1)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if pe >= 1.0:
        return None
    return (po - pe) / (1.0 - pe)


@dataclass
class AgreementRow:
    scope: str  # "pair" | "verdict"
    reviewer_a: str | None
    reviewer_b: str | None
    verdict: str | None
    items: int
    agreed: int
    kappa: float | None

    @property
    def observed(self) -> float | None:
        return self.agreed / self.items if self.items else None

    def record(self) -> dict[str, object]:
        return {"scope": self.scope, "reviewer_a": self.reviewer_a, "reviewer_b": self.reviewer_b,
                "verdict": self.verdict, "items": self.items, "agreed": self.agreed,
                "observed": round(self.observed, 4) if self.observed is not None else None,
                "kappa": round(self.kappa, 4) if self.kappa is not None else None}


def agreement(human: dict[tuple[str, str, str], Decision]) -> list[AgreementRow]:
    """Kappa per reviewer pair over the verdicts both gave, then per verdict (one against the rest)."""
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for (_lid, kind, _key), d in sorted(human.items()):
        if kind != "verdict":
            continue
        given = {who: v for who, v in d.responses if v}
        for ra, rb in combinations(sorted(given), 2):
            pairs[(ra, rb)].append((given[ra], given[rb]))
    rows = []
    for (ra, rb), items in sorted(pairs.items()):
        a, b = [x for x, _ in items], [y for _, y in items]
        rows.append(AgreementRow("pair", ra, rb, None, len(items), sum(x == y for x, y in items), cohen_kappa(a, b)))
    pooled = [item for items in pairs.values() for item in items]
    for v in (x.value for x in Verdict):
        a = [x == v for x, _ in pooled]
        b = [y == v for _, y in pooled]
        labels_a, labels_b = [str(x) for x in a], [str(y) for y in b]
        rows.append(AgreementRow("verdict", None, None, v, len(pooled), sum(x == y for x, y in zip(a, b, strict=True)),
                                 cohen_kappa(labels_a, labels_b)))
    return rows


@dataclass
class AgreementScope:
    """Which letters the figures are over: with the overlap setting on, only the letters assigned
    to two reviewers (a planned sample, not the letters two people happened to open)."""

    overlap: float | None  # the share set, or None: every letter two reviewers answered
    letters: int  # letters in scope that two reviewers both answered


def scoped_agreement(session: Session, human: dict[tuple[str, str, str], Decision] | None = None,
                     ) -> tuple[list[AgreementRow], AgreementScope]:
    """Kappa rows over the overlapped letters when the overlap setting is on, else over all."""
    from pipeline.store import queue

    human = effective_decisions(session) if human is None else human
    assigned = queue.assignment(session)
    if assigned is not None:
        human = {k: d for k, d in human.items() if assigned.is_overlapped(k[0])}
    both = {k[0] for k, d in human.items() if k[1] == "verdict" and len([v for _, v in d.responses if v]) >= 2}
    return agreement(human), AgreementScope(queue.get_overlap(session) if assigned else None, len(both))


def agreement_records(session: Session) -> list[dict[str, object]]:
    return [r.record() for r in scoped_agreement(session)[0]]


@dataclass
class Dispute:
    letter_id: str
    source_file: str
    kind: str
    key: str
    responses: tuple[tuple[str, str | None], ...]
    latest: str | None


def disputes(session: Session, limit: int = 500) -> tuple[list[Dispute], int]:
    """The adjudication queue: targets where reviewers' responses differ and nobody adjudicated,
    oldest letter first; with the total before ``limit``."""
    human = effective_decisions(session)
    found = [(k, d) for k, d in human.items() if d.disputed and k[1] in LETTER_KINDS and k[0]]
    files: dict[str, str] = {}
    if found:
        q = select(LetterRow.letter_id, LetterRow.source_file).where(
            LetterRow.letter_id.in_(sorted({k[0] for k, _ in found})))
        files = {lid: src for lid, src in session.execute(q)}
    out = [Dispute(lid, files.get(lid, ""), kind, key, d.responses, d.human_value)
           for (lid, kind, key), d in found if lid in files]
    out.sort(key=lambda x: (x.source_file, x.letter_id, x.kind, x.key))
    return out[:limit], len(out)
