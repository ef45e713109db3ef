"""The matcher's sparse matrices (numpy only) against scipy.sparse, which they replace in the
worker: the same floats, bit for bit, on matrices shaped as the matcher makes them (no repeated
cells, empty rows and columns, rows taken again)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from pipeline.stages.term_matrix import TermMatrix


def _random(rng: np.random.Generator, n: int, m: int, nnz: int) -> tuple[TermMatrix, sparse.csr_matrix]:
    cells = rng.choice(n * m, size=min(nnz, n * m), replace=False)  # unique cells, in no order
    rows, cols = cells // m, cells % m
    vals = rng.random(len(cells)) * 3
    return TermMatrix.from_triples(rows, cols, vals, (n, m)), sparse.csr_matrix((vals, (rows, cols)), shape=(n, m))


def _scipy_normalise(m: sparse.csr_matrix, l1: bool) -> sparse.csr_matrix:
    norms = np.asarray(abs(m).sum(axis=1)).ravel() if l1 else np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms).dot(m).tocsr()


@pytest.mark.parametrize("seed", range(40))
def test_every_operation_gives_scipys_floats(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m, q = int(rng.integers(1, 40)), int(rng.integers(1, 60)), int(rng.integers(1, 8))
    a, sa = _random(rng, n, m, int(rng.integers(0, n * m // 2 + 2)))
    b, sb = _random(rng, q, m, int(rng.integers(0, q * m // 2 + 2)))
    assert np.array_equal(a.toarray(), sa.toarray())
    assert np.array_equal(a.column_counts(), np.asarray((sa > 0).sum(axis=0)).ravel())
    idf = rng.random(m) + 1.0
    for l1 in (True, False):
        ours = a.scale_columns(idf).normalise_rows(l1=l1)
        theirs = _scipy_normalise(sa.multiply(idf).tocsr(), l1=l1)
        assert np.array_equal(ours.toarray(), theirs.toarray())
    mixed = a.scale(0.6).plus(a.scale_columns(idf).scale(0.4))
    assert np.array_equal(mixed.toarray(), (0.6 * sa + 0.4 * sa.multiply(idf)).toarray())
    assert np.array_equal(b.dot_t(a), np.asarray(sb.dot(sa.T).todense()))
    picked = rng.integers(0, n, size=6)  # with repeats, in no order
    assert np.array_equal(b.dot_t(a.take(picked)), np.asarray(sb.dot(sa[picked].T).todense()))
    for i, j in zip(rng.integers(0, n, 20), rng.integers(0, m, 20), strict=True):
        assert a[int(i), int(j)] == sa[int(i), int(j)]


def test_repeated_cells_are_summed_and_empty_rows_stay_empty() -> None:
    m = TermMatrix.from_triples([2, 0, 2, 2], [1, 3, 1, 0], [1.0, 2.0, 0.5, 4.0], (4, 5))
    assert m.nnz == 3
    assert m.toarray().tolist() == [[0, 0, 0, 2.0, 0], [0] * 5, [4.0, 1.5, 0, 0, 0], [0] * 5]
    assert m.normalise_rows(l1=True).toarray()[1].tolist() == [0.0] * 5  # an empty row is not divided by 0
    assert m.row_sums().tolist() == [2.0, 0.0, 5.5, 0.0]
    assert m[1, 1] == 0.0 and m[2, 1] == 1.5 and m[3, 4] == 0.0


def test_empty_matrices_multiply_to_zeros() -> None:
    nothing = TermMatrix.from_triples([], [], [], (3, 4))
    some = TermMatrix.from_triples([0, 1], [0, 3], [1.0, 2.0], (2, 4))
    assert nothing.dot_t(some).tolist() == [[0.0, 0.0]] * 3
    assert some.dot_t(nothing).shape == (2, 3) and not some.dot_t(nothing).any()
    assert some.take([]).shape == (0, 4) and some.dot_t(some.take([])).shape == (2, 0)


def test_shapes_that_do_not_fit_are_refused() -> None:
    a = TermMatrix.from_triples([0], [0], [1.0], (1, 3))
    b = TermMatrix.from_triples([0], [0], [1.0], (1, 4))
    with pytest.raises(ValueError, match="columns differ"):
        a.dot_t(b)
    with pytest.raises(ValueError, match="shapes differ"):
        a.plus(b)
