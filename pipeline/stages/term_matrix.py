"""Sparse rows of term weights (promises x terms, passages x terms), in plain numpy.

Matching needs only a handful of sparse operations: build from (row, column, value)
triples, scale columns, normalise rows, add two matrices, take some rows, and the dense
product of one matrix with the transpose of another. This module does just those, so a
worker does not import scipy.sparse (~0.15 s of CPU at every worker's start, for every
batch, beside Tesseract).

Rows are kept in canonical CSR form: column indices sorted within a row, no duplicates.
Products accumulate each cell in the order of the left matrix's columns, as scipy's
CSR product does, so scores are the same floats.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TermMatrix:
    """A sparse ``rows x columns`` matrix of float64 in CSR form."""

    __slots__ = ("indptr", "indices", "data", "shape", "_by_column")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, shape: tuple[int, int]) -> None:
        self.indptr, self.indices, self.data, self.shape = indptr, indices, data, shape
        self._by_column: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_triples(cls, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray,
                     vals: Sequence[float] | np.ndarray, shape: tuple[int, int]) -> TermMatrix:
        """The matrix with ``vals`` at (``rows``, ``cols``); values at the same cell are summed."""
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        v = np.asarray(vals, dtype=np.float64)
        order = np.lexsort((c, r))  # stable: summed cells add up in the order given
        r, c, v = r[order], c[order], v[order]
        if len(r):
            first = np.ones(len(r), dtype=bool)
            first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
            if not first.all():
                starts = np.flatnonzero(first)
                v = np.add.reduceat(v, starts)
                r, c = r[starts], c[starts]
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=shape[0]), out=indptr[1:])
        return cls(indptr, c, v, shape)

    # --- what a matrix is made of --------------------------------------------------------------

    @property
    def nnz(self) -> int:
        return len(self.data)

    def row_of_each(self) -> np.ndarray:
        """The row of each stored value."""
        return np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(self.indptr))

    def __getitem__(self, cell: tuple[int, int]) -> float:
        i, j = cell
        lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
        k = lo + int(np.searchsorted(self.indices[lo:hi], j))
        return float(self.data[k]) if k < hi and self.indices[k] == j else 0.0

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.float64)
        out[self.row_of_each(), self.indices] = self.data
        return out

    def column_counts(self) -> np.ndarray:
        """How many rows hold a positive value in each column (document frequency)."""
        return np.bincount(self.indices[self.data > 0], minlength=self.shape[1])

    # --- new matrices ----------------------------------------------------------------------

    def _with_data(self, data: np.ndarray) -> TermMatrix:
        return TermMatrix(self.indptr, self.indices, data, self.shape)

    def scale(self, factor: float) -> TermMatrix:
        return self._with_data(self.data * factor)

    def scale_columns(self, weights: np.ndarray) -> TermMatrix:
        return self._with_data(self.data * weights[self.indices])

    def normalise_rows(self, l1: bool) -> TermMatrix:
        """Each row divided by its L1 (``l1``) or L2 norm; empty rows stay empty."""
        norms = self.row_sums(np.abs(self.data) if l1 else self.data * self.data)
        if not l1:
            norms = np.sqrt(norms)
        norms[norms == 0] = 1.0
        return self._with_data(self.data * (1.0 / norms)[self.row_of_each()])

    def row_sums(self, values: np.ndarray | None = None) -> np.ndarray:
        """The sum of each row (of ``values`` in place of the stored ones), added up as scipy does."""
        values = self.data if values is None else values
        sums = np.zeros(self.shape[0], dtype=np.float64)
        filled = np.flatnonzero(np.diff(self.indptr))
        if len(filled):
            sums[filled] = np.add.reduceat(values, self.indptr[filled])
        return sums

    def plus(self, other: TermMatrix) -> TermMatrix:
        """Cell-wise sum with a matrix of the same shape."""
        if other.shape != self.shape:
            raise ValueError(f"shapes differ: {self.shape} and {other.shape}")
        return TermMatrix.from_triples(
            np.concatenate([self.row_of_each(), other.row_of_each()]),
            np.concatenate([self.indices, other.indices]),
            np.concatenate([self.data, other.data]),
            self.shape,
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> TermMatrix:
        """These rows, in this order (repeats allowed)."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        counts = ends - starts
        indptr = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        pos = _spans(starts, counts)
        return TermMatrix(indptr, self.indices[pos], self.data[pos], (len(idx), self.shape[1]))

    # --- products --------------------------------------------------------------------------

    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column-major view (column pointers, rows, values), built on first use and kept:
        the registry's matrices are multiplied by every letter's passages."""
        if self._by_column is None:
            order = np.argsort(self.indices, kind="stable")  # rows stay ascending within a column
            colptr = np.zeros(self.shape[1] + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.indices, minlength=self.shape[1]), out=colptr[1:])
            self._by_column = (colptr, self.row_of_each()[order], self.data[order])
        return self._by_column

    def dot_t(self, other: TermMatrix) -> np.ndarray:
        """The dense ``self @ other.T`` (``self.rows x other.rows``)."""
        if other.shape[1] != self.shape[1]:
            raise ValueError(f"columns differ: {self.shape} and {other.shape}")
        n, m = self.shape[0], other.shape[0]
        colptr, o_rows, o_vals = other._columns()
        starts = colptr[self.indices]
        counts = colptr[self.indices + 1] - starts
        left = np.repeat(np.arange(self.nnz, dtype=np.int64), counts)  # the stored value of self each term meets
        pos = _spans(starts, counts)
        cells = self.row_of_each()[left] * m + o_rows[pos]
        # bincount adds in array order: each cell sums over self's columns in their stored order
        out = np.bincount(cells, weights=self.data[left] * o_vals[pos], minlength=n * m)
        return out.reshape(n, m)


def _spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The positions ``starts[k] .. starts[k] + counts[k] - 1`` of every k, one after another."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


__all__ = ["TermMatrix"]
