"""A batch engine: many table domains of one shape, negotiated at once as arrays.

``run_package_vectorised`` (``model.core.protocol``) computes one negotiation as arrays over its
rounds; most of its cost is then many small numpy calls per negotiation (the offer tables, each
party's best package). When many negotiations share a shape (``K`` random domains of ``P``
parties, ``I`` issues of ``V`` values, as in the peer benchmark case or a study of random
domains), every step of that computation can carry a leading axis over the domains instead.

The negotiation is the same as the ``package`` protocol's with time-dependent strategies and
no red lines (so every package is feasible), and the status quo at the first level of every
issue. Each proposer's candidates come from the same weightings (``model.core.search``), in
the same order, with the same preference among them, so every outcome equals
``run_package_vectorised`` on ``table_problem`` of that domain, bit for bit (a test checks it).
Candidates are kept in fixed-width arrays, one slot per weighting, with a mask for the slots
that repeat an earlier candidate or propose the status quo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.core.domains import TableDomains
from model.core.problem import _TIE_BREAK
from model.core.search import offer_weightings
from model.core.space import BoolArray, FloatArray
from model.core.strategies import TimeDependent, continuation

#: Outcome codes of ``BatchOutcome.reason``.
REASONS = ("agreement", "deadline", "breakdown risk")


@dataclass(frozen=True)
class BatchOutcome:
    """Outcomes of ``K`` negotiations.

    ``reason`` indexes ``REASONS``; ``rounds`` is the round the talks ended in (1-based, a
    round being one offer); ``package`` holds the level index of every issue in the agreement,
    or in the last offer on the table when the talks failed, and ``-1`` where there was none.
    """

    agreed: BoolArray  # (K,)
    reason: np.ndarray  # (K,) int, into REASONS
    rounds: np.ndarray  # (K,) int
    package: np.ndarray  # (K, I) int, level indices; -1 where no offer

    def reasons(self) -> list[str]:
        return [REASONS[int(r)] for r in self.reason]


def _first_appearances(keys: np.ndarray) -> BoolArray:
    """``(K, C)`` integer keys: whether each is the first of its value along its row."""
    order = np.argsort(keys, axis=1, kind="stable")
    s = np.take_along_axis(keys, order, axis=1)
    first_sorted = np.ones(keys.shape, dtype=bool)
    first_sorted[:, 1:] = s[:, 1:] != s[:, :-1]  # stable: the first of a run appeared first
    out = np.empty(keys.shape, dtype=bool)
    np.put_along_axis(out, order, first_sorted, axis=1)
    return out


def _gather_utilities(wv: FloatArray, idx: np.ndarray) -> FloatArray:
    """Utilities of packages given by level indices ``idx (K, C, I)``: ``(K, C, P)``.

    The same sum as ``Problem.grid_utility`` (``w * t`` per issue, summed over the issues).
    """
    n_k, n_p, n_i, n_v = wv.shape
    flat = (idx + n_v * np.arange(n_i)).reshape(n_k, 1, -1)  # (K, 1, C * I) into the (I * V) axis
    vals = np.take_along_axis(wv.reshape(n_k, n_p, n_i * n_v), flat, axis=2)  # (K, P, C * I)
    return vals.reshape(n_k, n_p, -1, n_i).sum(axis=3).transpose(0, 2, 1)


def run_table_batch(
    domains: TableDomains,
    exponents: Sequence[float],
    order: Sequence[int],
    max_rounds: int,
    breakdown_risk: float = 0.0,
    rngs: Sequence[np.random.Generator] | None = None,
) -> BatchOutcome:
    """Negotiate every domain under the ``package`` protocol; party ``p`` concedes with the
    time-dependent exponent ``exponents[p]`` (4 Boulware, 0.25 Conceder), proposers take turns
    in ``order``, at most ``max_rounds`` offers.

    With ``breakdown_risk > 0``, ``rngs[k]`` draws domain ``k``'s breakdowns as the round loop
    would (one draw per failed offer before the last).
    """
    wv_raw, res = domains.weights[..., None] * domains.tables, domains.reservation
    n_k, n_p, n_i, n_v = wv_raw.shape
    if n_p < 2:
        raise ValueError(f"a negotiation needs at least 2 parties, not {n_p}")
    if len(exponents) != n_p or not all(float(e) > 0 for e in exponents):
        raise ValueError(f"one exponent above 0 per party: {n_p} parties, exponents {list(exponents)}")
    if not len(order) or not all(0 <= int(q) < n_p for q in order):
        raise ValueError(f"the proposing order must name parties 0..{n_p - 1}, not {list(order)}")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, not {max_rounds}")
    if breakdown_risk > 0 and (rngs is None or len(rngs) != n_k):
        raise ValueError("a breakdown risk needs one random generator per domain")
    levels = np.linspace(0.0, 1.0, n_v)
    tie = -_TIE_BREAK * np.abs(levels)  # the status quo is the first level of every issue
    kk = np.arange(n_k)
    ii = np.arange(n_i)

    # each party's best package: the per-issue arg-max of its own weighted values
    score_own = wv_raw + tie  # (K, P, I, V)
    arg_own = score_own.argmax(axis=3)  # (K, P, I)
    u_best = _gather_utilities(wv_raw, arg_own)  # (K, P packages, P actors)
    best = u_best.max(axis=1)  # (K, P)
    span = np.maximum(best - res, 1e-9)

    # value-table domains do not discount (``domains.table_problem``): the breakdown risk alone costs time
    kappa = continuation(1.0, breakdown_risk)
    asp = np.stack([TimeDependent(float(e)).schedule(best[:, p], res[:, p], max_rounds, kappa)
                    for p, e in enumerate(exponents)], axis=2)  # (K, T, P)
    need = np.maximum(asp, res[:, None, :]) - 1e-9
    order_arr = np.asarray(order)
    n_o = len(order_arr)
    proposer_of = order_arr[np.arange(max_rounds) % n_o]

    offered_u = np.full((n_k, max_rounds, n_p), -np.inf)
    has_offer = np.zeros((n_k, max_rounds), dtype=bool)
    offer_idx = np.zeros((n_k, max_rounds, n_i), dtype=np.intp)
    wv_flat = wv_raw.reshape(n_k, n_p, n_i * n_v)
    for p in sorted({int(q) for q in order_arr}):
        rounds = np.flatnonzero(proposer_of == p)
        if not len(rounds):
            continue
        others = [a for a in range(n_p) if a != p]
        coefs = offer_weightings(span, p, others)  # (K, C, P): the weightings of the search
        score = (coefs @ wv_flat).reshape(n_k, -1, n_i, n_v) + tie
        idx = score.argmax(axis=3)  # (K, C, I)
        keys = (idx * (n_v ** ii)).sum(axis=2)
        valid = _first_appearances(keys) & (keys != 0)  # level 0 everywhere is the status quo: no offer
        u = _gather_utilities(wv_raw, idx)  # (K, C, P)
        own = u[:, :, p]
        s = (u[:, :, others] - res[:, None, others]) / span[:, None, others]
        worst, total = s.min(axis=2), s.sum(axis=2)
        # preference: worst-off surplus, then total, then own; the repeats rank below all
        rank = np.empty(own.shape, dtype=np.int64)
        np.put_along_axis(rank, np.lexsort((own, total, np.round(worst, 9), valid), axis=1),
                          np.broadcast_to(np.arange(own.shape[1]), own.shape), axis=1)
        own_key = np.where(valid, own, np.inf)  # the repeats sort last, beyond every threshold
        by_own = np.argsort(own_key, axis=1, kind="stable")
        own_s = np.take_along_axis(own_key, by_own, axis=1)
        rank_s = np.take_along_axis(rank, by_own, axis=1)
        position_of_rank = np.empty_like(rank_s)
        np.put_along_axis(position_of_rank, rank_s, np.broadcast_to(np.arange(own.shape[1]), own.shape), axis=1)
        best_from = np.take_along_axis(position_of_rank, np.maximum.accumulate(rank_s[:, ::-1], axis=1)[:, ::-1], 1)
        n_valid = valid.sum(axis=1)  # (K,)
        last_pos = np.maximum(n_valid - 1, 0)[:, None]  # position of the proposer's best candidate
        # a binary search per round (``searchsorted``, left): how many candidates fall short
        k = (own_s[:, None, :] < need[:, rounds, p][:, :, None]).sum(axis=2)  # (K, R)
        last = np.take_along_axis(own_s, last_pos, axis=1)[:, 0]
        top = np.take_along_axis(best_from, (own_s < last[:, None]).sum(axis=1)[:, None], axis=1)  # (K, 1)
        above = k >= n_valid[:, None]
        has_offer[:, rounds] = (n_valid[:, None] > 0) & (~above | (last >= res[:, p] - 1e-9)[:, None])
        rows = np.where(above, top, np.take_along_axis(best_from, np.minimum(k, last_pos), axis=1))
        chosen = np.take_along_axis(by_own, rows, axis=1)  # slot of each offer, (K, R)
        offered_u[:, rounds] = np.take_along_axis(u, chosen[:, :, None], axis=1)
        offer_idx[:, rounds] = np.take_along_axis(idx, chosen[:, :, None], axis=1)

    judges = np.ones((max_rounds, n_p), dtype=bool)
    judges[np.arange(max_rounds), proposer_of] = False
    accepted = has_offer & np.all((offered_u >= need) | ~judges[None], axis=2)  # (K, T)
    any_hit = accepted.any(axis=1)
    end = np.where(any_hit, accepted.argmax(axis=1) + 1, max_rounds)
    reason = np.where(any_hit, 0, 1)
    if breakdown_risk > 0:
        assert rngs is not None
        for j in range(n_k):
            e = int(end[j])
            if e > 1:
                broke = np.flatnonzero(rngs[j].random(e - 1) < breakdown_risk)
                if len(broke):
                    end[j], reason[j] = int(broke[0]) + 1, 2
    at = end - 1
    package = np.where(has_offer[kk, at][:, None], offer_idx[kk, at], -1)
    return BatchOutcome(reason == 0, reason, end, package)
