"""The EUM's probabilities of success in ``O(n^2 log n)`` per issue instead of ``O(n^3)``.

The probability that ``i`` beats ``j`` sums every voter's support (``success_probability``):

    top[i, j] = sum_k max(0, v_k(i, j)),    v_k(i, j) = w_k (d_kj - d_ki),

with ``d_km = (|x_k - x_m| / span) ** r_k`` and ``r_k > 0``: ``n`` terms for each of ``n^2``
pairs. Each ``d_k.`` is an increasing function of the distance from ``x_k``, so ``v_k(i, j) > 0``
exactly when ``x_k`` is nearer ``x_i`` than ``x_j``: with ``x_i < x_j``, the voters strictly
below the midpoint ``(x_i + x_j) / 2``; with ``x_i > x_j``, those strictly above it; nobody
when ``x_i = x_j``. A voter at the midpoint has ``v = 0``. With the voters sorted by position,
the supporters of ``i`` against ``j`` are therefore a run at one end, and

    top[i, j] = B[t, j] - B[t, i]  (x_i < x_j, t = voters below the midpoint)
    top[i, j] = A[t, j] - A[t, i]  (x_i > x_j, t = voters at or below it)

with ``B[t, m]`` the sum of ``w_k d_km`` over the ``t`` lowest voters and ``A[t, m]`` the sum
over the others: two ``(n + 1, n)`` tables of running sums per issue, and a binary search
(``np.searchsorted``) for each pair's midpoint. The normalisers follow from ``top`` alone, as
``|v_k(i, j)| = max(0, v_k(i, j)) + max(0, v_k(j, i))``: ``"all_pairs"`` divides by
``sum_{i, j} (top[i, j] + top[j, i])``, ``"dyad"`` each pair by ``top[i, j] + top[j, i]``.

This is the same number in exact arithmetic, not bit for bit the one of the ``n^3`` sum: the
difference of two running sums rounds differently from the sum of the differences (about
``1e-16`` of the running sums; measured against ``_prob_block`` in ``tests/test_eum_fast.py``),
and a voter within rounding of a midpoint may be counted on the other side, where its term is
itself a rounding error. A tiny negative difference is read as 0. The engine uses this kernel
only for issues of at least :data:`FAST_FROM` actors (``engine._prob_batch``), so every model
with fewer actors computes the bit-for-bit numbers it always has.
"""

from __future__ import annotations

import numpy as np

from model.core.chunks import CHUNK_TERMS
from model.core.space import FloatArray

#: The fewest actors (the width of a batch of issues, padding included) from which the engine
#: computes the probabilities of success with :func:`prob_sorted` instead of the ``n^3`` sum.
#: Measured (CPU time, 50 issues a batch): the ``n^3`` sum is ahead below about 12 actors, the
#: fast kernel 3x ahead at 24 and 10x at 50. Every shipped scenario has fewer actors, so keeps
#: the ``n^3`` sum and its bit-for-bit results.
FAST_FROM = 32


def prob_sorted(
    d: FloatArray, x: FloatArray, votes: FloatArray, norm: str, groups: list[tuple[int, np.ndarray]]
) -> FloatArray:
    """``engine._prob_block`` (the probabilities of success of ``B`` issues) from the same inputs
    and the positions ``x`` ``(B, N)`` that ``d`` ``(B, N, N)`` was computed from, in
    ``O(N^2 log N)`` an issue. ``groups`` are the issues of each size (padding after its actors:
    zero votes, any position); only each issue's own ``(n, n)`` block enters the ``"all_pairs"``
    total. Split into chunks of issues of at most ``CHUNK_TERMS`` table entries."""
    if norm not in ("all_pairs", "dyad"):
        raise ValueError(f"unknown probability_norm {norm!r}")
    b, n = x.shape
    step = max(1, CHUNK_TERMS // (4 * n * (n + 1)))
    top = np.empty((b, n, n))
    for start in range(0, b, step):
        stop = min(b, start + step)
        top[start:stop] = _support(d[start:stop], x[start:stop], votes[start:stop])
    if norm == "dyad":
        bottom = top + top.transpose(0, 2, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)
    total = _pair_total(top, groups)
    ok = total > 0  # 0 when every position of an issue coincides: no contest, P = 0
    prob = top / np.where(ok, total, 1.0)[:, None, None]
    prob[~ok] = 0.0
    return prob


def _pair_total(top: FloatArray, groups: list[tuple[int, np.ndarray]]) -> FloatArray:
    """``sum_{k, i, j} |v_k(i, j)| = 2 sum_{i, j} top[i, j]`` over each issue's own actors."""
    b, n = top.shape[0], top.shape[1]
    if len(groups) == 1 and groups[0][0] == n:
        return 2.0 * top.reshape(b, -1).sum(axis=1)
    total = np.empty(b)
    for m, idx in groups:
        total[idx] = 2.0 * top[idx, :m, :m].reshape(idx.size, -1).sum(axis=1)
    return total


def _support(d: FloatArray, x: FloatArray, votes: FloatArray) -> FloatArray:
    """``top[b, i, j] = sum_k max(0, w_k (d_kj - d_ki))`` by running sums over the voters sorted
    by position (see the module docstring). The pairs are taken in that order too: ``i`` before
    ``j`` has ``x_i <= x_j``, its supporters are the voters below the midpoint and ``j``'s those
    above it, and the midpoints of each ``i`` with the actors after it come in increasing order
    (which halves the time of the binary searches)."""
    b, n = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    at = order + n * np.arange(b)[:, None]  # the s-th lowest actor of each issue, in x.ravel()
    xs = x.ravel()[at]
    tables = _running_sums(votes.ravel()[at][:, :, None] * d.reshape(b * n, n)[at])
    first, second = np.triu_indices(n, 1)  # the pairs of places s < s' in the order
    mid = 0.5 * (xs[:, first] + xs[:, second])
    below = np.empty(mid.shape, dtype=np.intp)  # voters below each midpoint
    for k in range(b):
        below[k] = np.searchsorted(xs[k], mid[k], side="left")
    upto = _at_or_below(xs, mid, below)
    # the actors at those places, as columns of the tables, of top and of the batch
    i, j = order[:, first], order[:, second]
    base = (2 * (n + 1) * n) * np.arange(b)[:, None]
    flat = tables.ravel()
    row = base + below * n
    top_ij = flat[row + j] - flat[row + i]
    row = base + (upto + n + 1) * n
    top_ji = flat[row + i] - flat[row + j]
    # x_i = x_j: columns i and j of the tables are equal, so both are 0 already
    top = np.zeros((b, n, n))
    out = top.reshape(-1)
    cell = (n * n) * np.arange(b)[:, None]
    out[cell + i * n + j] = np.maximum(top_ij, 0.0)
    out[cell + j * n + i] = np.maximum(top_ji, 0.0)
    return top


def _running_sums(wd: FloatArray) -> FloatArray:
    """``tables[b, t, m]`` from ``wd[b, s, m]``: for ``t <= n`` the sum over the ``t`` first ``s``,
    for ``t > n`` the sum over ``s >= t - n - 1``; each accumulated on its own (no total minus a
    part, which would cancel). A loop over ``s`` on ``(B, N)`` slices: numpy's ``cumsum`` along
    a middle axis is three times slower."""
    b, n, _ = wd.shape
    tables = np.zeros((b, 2 * (n + 1), n))
    for s in range(n):
        np.add(tables[:, s], wd[:, s], out=tables[:, s + 1])
    for s in range(n - 1, -1, -1):
        np.add(tables[:, n + 2 + s], wd[:, s], out=tables[:, n + 1 + s])
    return tables


def _at_or_below(xs: FloatArray, mid: FloatArray, below: np.ndarray) -> np.ndarray:
    """The voters at or below each midpoint, from those below it: past the run of voters at the
    midpoint's position when the next voter is there (``searchsorted(side="right")``)."""
    b, n = xs.shape
    # end[b, s]: one past the last place with the position of place s
    starts = np.ones((b, n), dtype=bool)
    starts[:, 1:] = xs[:, 1:] != xs[:, :-1]
    place = np.broadcast_to(np.arange(n), (b, n))
    stops = np.ones((b, n), dtype=bool)
    stops[:, :-1] = starts[:, 1:]
    end = np.minimum.accumulate(np.where(stops, place + 1, n)[:, ::-1], axis=1)[:, ::-1]
    nxt = np.minimum(below, n - 1)
    rows = np.arange(b)[:, None]
    hit = (below < n) & (xs[rows, nxt] == mid)
    return np.where(hit, end[rows, nxt], below)
