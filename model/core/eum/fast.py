"""The EUM's probabilities of success in ``O(n^2 log n)`` per issue instead of ``O(n^3)``.

The probability that ``i`` beats ``j`` sums every voter's support (``success_probability``):

    top[i, j] = sum_k max(0, v_k(i, j)),    v_k(i, j) = w_k (d_kj - d_ki),

with ``d_km = (|x_k - x_m| / span) ** r_k`` and ``r_k > 0``: ``n`` terms for each of ``n^2``
pairs. Each ``d_k.`` is an increasing function of the distance from ``x_k``, so ``v_k(i, j) > 0``
exactly when ``x_k`` is nearer ``x_i`` than ``x_j``: with ``x_i < x_j``, the voters strictly
below the midpoint ``(x_i + x_j) / 2``; nobody when ``x_i = x_j``; a voter at the midpoint has
``v = 0``. With the voters sorted by position, ``i``'s supporters against ``j`` are the first
``t`` of them (``t`` from a binary search, ``np.searchsorted``), and

    top[i, j] = S[t, j] - S[t, i]      (x_i < x_j)

with ``S[t, m]`` the sum of ``w_k d_km`` over the ``t`` lowest voters: one ``(n + 1, n)`` table
of running sums per issue. The other direction needs no search: ``top[i, j] - top[j, i] =
sum_k v_k(i, j) = S[n, j] - S[n, i]``. The normalisers follow from ``top`` alone, as
``|v_k(i, j)| = max(0, v_k(i, j)) + max(0, v_k(j, i))``: ``"all_pairs"`` divides by
``sum_{i, j} (top[i, j] + top[j, i])``, ``"dyad"`` each pair by ``top[i, j] + top[j, i]``.

**Accuracy.** The same number in exact arithmetic, not bit for bit the one of the ``n^3`` sum:
a difference of running sums rounds differently from a sum of differences. Both are off the
exact value by a few ``eps`` times the size of the terms, ``sum_k w_k (d_kj + d_ki)``, over the
normaliser; measured (``tests/test_eum_fast.py``) this kernel stays within ``3 eps`` of that
bound from the ``n^3`` sum, which is itself ``2 eps`` of it from the sum in extended precision.
That bound is large only for a pair whose positions nearly coincide (``|x_i - x_j|`` a
millionth of the range: ``1e-11`` under ``"dyad"``); under ``"all_pairs"`` the largest
difference seen is ``2e-15`` of the largest probability. A voter within rounding of a midpoint
may be counted on the other side, where its term is itself a rounding error; a difference
that rounds below 0 is read as 0.

The engine uses this kernel only for issues of at least :data:`FAST_FROM` actors
(``engine._prob_batch``); every model with fewer actors computes, bit for bit, the numbers it
always has.
"""

from __future__ import annotations

import functools

import numpy as np

from model.core.space import FloatArray

#: The fewest actors (the width of a batch of issues, padding included) from which the engine
#: computes the probabilities of success with :func:`prob_sorted` instead of the ``n^3`` sum.
#: Measured on a whole EUM forecast of 50 issues (CPU time, median of 5): the two break even
#: at about 12 actors; this kernel takes 0.4x the time at 16, 0.28x at 20, 0.2x at 32. At 20
#: it is well ahead, and every shipped scenario and case (at most 10 actors) and the bit-for-bit
#: tests of the batch (``tests/test_eum_speed.py``, up to 17) stay on the ``n^3`` sum.
FAST_FROM = 20


class SortedPairs:
    """What :func:`prob_sorted` needs of the positions ``x`` ``(B, N)`` alone (a round asks for
    two sets of probabilities at the same positions, so it finds these once).

    Actors at one position have the same support, so the pairs are those of the distinct
    positions (``U`` of them in the widest issue; the others padded), in increasing order:
    for ``p`` before ``q``, ``p``'s supporters are the voters below the midpoint, found by a
    binary search (the midpoints of ``p`` with the positions after it come in increasing order,
    which halves its time). ``q``'s support needs no search: ``top[p, q] - top[q, p] =
    sum_k v_k(p, q) = T_q - T_p`` with ``T_m = sum_k w_k d_km`` (a voter at the midpoint adds 0
    to both sides). Each actor then reads the pairs of its position.
    """

    def __init__(self, x: FloatArray) -> None:
        b, n = x.shape
        order = np.argsort(x, axis=1, kind="stable")
        self.at = order + n * np.arange(b)[:, None]  # the s-th lowest voter of each issue, in x.ravel()
        xs = x.ravel()[self.at]
        new = np.ones((b, n), dtype=bool)
        new[:, 1:] = xs[:, 1:] != xs[:, :-1]
        place = np.cumsum(new, axis=1) - 1  # the rank of each voter's position among the distinct ones
        u = int(place[:, -1].max()) + 1
        self.shape = (b, n, u)
        # the first voter at each distinct position (past an issue's last, its first voter's:
        # padding no actor reads)
        first = np.zeros((b, u), dtype=np.intp)
        rows, cols = np.nonzero(new)
        first[rows, place[rows, cols]] = cols
        ux = np.take_along_axis(xs, first, axis=1)  # the distinct positions, increasing (then padding)
        # d[k, m] for the s-th lowest voter k and an actor m at each distinct position
        self.d_at = self.at[:, :, None] * n + np.take_along_axis(order, first, axis=1)[:, None, :]
        lo, hi = _places(u)  # the pairs of distinct positions p < q
        mid = 0.5 * (ux[:, lo] + ux[:, hi])
        below = np.empty(mid.shape, dtype=np.intp)  # voters below each midpoint
        for k in range(b):
            below[k] = np.searchsorted(xs[k], mid[k], side="left")
        table = ((n + 1) * u) * np.arange(b)[:, None]  # the tables S (B, N + 1, U)
        row = below * u + table
        self.s_p, self.s_q = row + lo, row + hi  # S[t, p] and S[t, q]
        row = table + n * u
        self.t_p, self.t_q = row + lo, row + hi  # T_p = S[N, p] and T_q
        cell = (u * u) * np.arange(b)[:, None]  # top of the positions (B, U, U)
        self.pq, self.qp = cell + lo * u + hi, cell + hi * u + lo
        # each actor's position, and so each pair of actors' cell
        pos = np.empty((b, n), dtype=np.intp)
        np.put_along_axis(pos, order, place, axis=1)
        self.cells = (pos[:, :, None] * u + pos[:, None, :]) + (u * u) * np.arange(b)[:, None, None]


def prob_sorted(d: FloatArray, votes: FloatArray, norm: str, groups: list[tuple[int, np.ndarray]],
                pairs: SortedPairs) -> FloatArray:
    """``engine._prob_block`` (the probabilities of success of ``B`` issues) from the same inputs
    and the :class:`SortedPairs` of the positions ``d`` ``(B, N, N)`` was computed from, in
    ``O(N^2 log N)`` an issue. ``groups`` are the issues of each size (padding after its actors:
    zero votes, any position); only each issue's own ``(n, n)`` block enters the ``"all_pairs"``
    total. It holds a few arrays of ``B x N x N`` terms at once, as the rest of a round does
    (the engine bounds ``B`` by ``engine.ROUND_TERMS``)."""
    if norm not in ("all_pairs", "dyad"):
        raise ValueError(f"unknown probability_norm {norm!r}")
    top = _support(d, votes, pairs)
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


def _support(d: FloatArray, votes: FloatArray, pairs: SortedPairs) -> FloatArray:
    """``top[b, i, j] = sum_k max(0, w_k (d_kj - d_ki))`` from the running sums ``S[t, p]`` of
    ``w_k d_kp`` over the voters sorted by position (see the module docstring), for the distinct
    positions ``p`` (:class:`SortedPairs`)."""
    b, n, u = pairs.shape
    tables = np.zeros((b, n + 1, u))
    np.cumsum(votes.ravel()[pairs.at][:, :, None] * d.ravel()[pairs.d_at], axis=1, out=tables[:, 1:])
    flat = tables.ravel()
    top_pq = flat[pairs.s_q] - flat[pairs.s_p]
    top_qp = top_pq - (flat[pairs.t_q] - flat[pairs.t_p])
    top = np.zeros(b * u * u)  # 0 for one position against itself
    top[pairs.pq] = np.maximum(top_pq, 0.0)  # rounding may leave a 0 slightly below
    top[pairs.qp] = np.maximum(top_qp, 0.0)
    return top[pairs.cells]


@functools.lru_cache(maxsize=128)
def _places(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, 1)``, kept (read-only) for the next call (a round of an issue of 100
    actors asks for up to 100 sizes: one per count of distinct positions)."""
    first, second = np.triu_indices(n, 1)
    first.setflags(write=False)
    second.setflags(write=False)
    return first, second
