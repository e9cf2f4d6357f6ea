"""Benchmarks from bargaining theory, computed on a compiled ``Problem``.

Not part of the model: the engine never calls these (they left ``model.core`` for that reason);
they are the exact answers the tests hold the engine to.

Where theory gives an exact answer, the model should reproduce it; these functions compute those
answers so that the tests can compare (``tests/test_validity.py``, ``docs/validity.md``):

* :func:`kalai_smorodinsky_point`: the Kalai–Smorodinsky solution (Kalai & Smorodinsky 1975);
* :func:`rubinstein_share` and :func:`backward_induction`: the alternating-offers game of the
  model's protocol, infinite horizon in closed form (Rubinstein 1982) and finite horizon by
  backward induction (Ståhl 1972);
* :func:`zeuthen_negotiation`: the monotonic concession protocol with Zeuthen's (1930) rule,
  which Harsanyi (1956) showed leads to the Nash bargaining solution;
* :func:`compromise_forecast`: the compromise model (capability × salience weighted mean of
  positions; Achen 2006) and the weighted median (Black 1958, ``model.core.eum.weighted_median``),
  baseline forecasters.

Two-party functions work on the Pareto frontier of the two actors, computed here to high
precision: the frontier point for weights ``(lam, 1 - lam)`` (normalised by each party's span
``best - reservation``) maximises a weighted sum of utilities, which is separable over issues;
the core finds it on the grid (:meth:`Problem.maximize_weighted_indexed`) and each continuous
issue is then refined by golden-section search between the neighbouring grid points (exact for
curvatures ``>= 1``, where the per-issue objective is concave). The frontier is exact on flat
segments (linear utilities), where packages and utilities interpolate linearly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import brentq

from model.core.eum import weighted_median
from model.core.preferences import Preferences
from model.core.problem import Problem
from model.core.space import BoolArray, FloatArray

#: The weight parameter is ``lam = 1 / (1 + exp(-s))`` for ``s`` in ``[-S_MAX, S_MAX]``. At the ends
#: the other party's weight (about 6e-6) still outweighs the core's status-quo tie-break (1e-7),
#: so the end points are Pareto-optimal.
S_MAX = 12.0

_INV_PHI = (np.sqrt(5.0) - 1.0) / 2.0


# --------------------------------------------------------------------------------------------
# weighted-sum optima, refined off the grid


def _pair(problem: Problem, actors: Sequence[int] | None) -> tuple[int, int]:
    idx = list(problem.parties if actors is None else actors)
    if len(idx) != 2:
        raise ValueError(f"this benchmark is for two parties; got {len(idx)}")
    return int(idx[0]), int(idx[1])


def _spans(problem: Problem) -> FloatArray:
    return np.maximum(problem.best_utility - problem.reservation, 1e-9)


def _coefs(problem: Problem, a: int, b: int, s: FloatArray) -> FloatArray:
    """Weights ``(lam / span_a, (1 - lam) / span_b)`` for each ``s``: ``(C, A)``."""
    s = np.atleast_1d(np.asarray(s, dtype=float))
    span = _spans(problem)
    coefs = np.zeros((s.size, problem.n_actors))
    coefs[:, a] = 1.0 / (1.0 + np.exp(-s)) / span[a]
    coefs[:, b] = 1.0 / (1.0 + np.exp(s)) / span[b]
    return coefs


def _golden_max(f: Callable[[FloatArray], FloatArray], lo: FloatArray, hi: FloatArray, iters: int = 75) -> FloatArray:
    """Element-wise golden-section search for the maximum of ``f`` on ``[lo, hi]`` (unimodal):
    the bracket shrinks by ``0.618 ** iters``."""
    a, b = lo.copy(), hi.copy()
    c = b - _INV_PHI * (b - a)
    d = a + _INV_PHI * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        left = fc >= fd  # the maximum is in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - _INV_PHI * (b - a), d)
        d_new = np.where(left, c, a + _INV_PHI * (b - a))
        f_new = f(np.where(left, c_new, d_new))
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
        c, d = c_new, d_new
    return 0.5 * (a + b)


def weighted_optima(problem: Problem, coefs: FloatArray) -> FloatArray:
    """For each row of ``coefs`` and each feasible box, the package maximising
    ``sum_a coefs[c, a] u_a(x)`` in the box: shape ``(B, C, I)``.

    The grid optimum of the core, with every continuous issue refined between its neighbouring
    grid points (which include every ideal point, so the objective is smooth there).
    """
    coefs = np.atleast_2d(np.asarray(coefs, dtype=float))
    n_b, n_c, n_i = len(problem.boxes), coefs.shape[0], problem.space.n_issues
    pk, idx = problem.maximize_weighted_indexed(coefs)
    assert pk is not None
    pk = pk.reshape(n_b, n_c, n_i).copy()
    idx = idx.reshape(n_b, n_c, n_i)
    cont = np.array([i for i, iss in enumerate(problem.space.issues) if not iss.is_ordinal], dtype=int)
    prefs = problem.prefs
    if n_b == 0 or cont.size == 0 or not isinstance(prefs, Preferences):  # value tables: grid is exact
        return pk
    cw = coefs[:, :, None] * prefs.weight[None, :, cont]  # (C, A, K)
    ideal = prefs.ideal[:, cont]  # (A, K)
    curv = prefs.curvature

    active = [a for a in range(problem.n_actors) if np.any(cw[:, a] != 0)]

    def f(x: FloatArray) -> FloatArray:  # x: (B, C, K) -> per-issue objective (B, C, K)
        out = np.zeros_like(x)
        for a in active:
            dist = np.abs(x - ideal[a])
            loss = dist if curv[a] == 1.0 else dist * dist if curv[a] == 2.0 else dist ** curv[a]
            out += cw[None, :, a, :] * (1.0 - loss)
        return out

    grid, mask = problem.space.grid, problem.space.grid_mask
    g_len = grid.shape[1]
    k = idx[:, :, cont]
    x0 = pk[:, :, cont]
    left = grid[cont[None, None, :], np.maximum(k - 1, 0)]
    right_ok = (k + 1 < g_len) & mask[cont[None, None, :], np.minimum(k + 1, g_len - 1)]
    right = np.where(right_ok, grid[cont[None, None, :], np.minimum(k + 1, g_len - 1)], x0)
    lo = np.array([b.lo[cont] for b in problem.boxes])[:, None, :]
    hi = np.array([b.hi[cont] for b in problem.boxes])[:, None, :]
    left = np.clip(left, lo, hi)
    right = np.clip(right, lo, hi)
    cands = [x0, _golden_max(f, left, x0), _golden_max(f, x0, right)]
    vals = np.stack([f(c) for c in cands])  # (3, B, C, K)
    best = vals.argmax(axis=0)
    better = vals.max(axis=0) > vals[0] + 1e-15
    choice = np.where(better, np.take_along_axis(np.stack(cands), best[None], 0)[0], x0)
    pk[:, :, cont] = choice
    return pk


def _convex_pair(problem: Problem, a: int, b: int) -> bool:
    """Whether mixing two packages of a box that lie on the two actors' frontier stays on it:
    continuous issues and concave utilities (curvature >= 1)."""
    prefs = problem.prefs
    if not isinstance(prefs, Preferences) or any(i.is_ordinal for i in problem.space.issues):
        return False
    return bool(np.all(prefs.curvature[[a, b]] >= 1.0))


# --------------------------------------------------------------------------------------------
# the Pareto frontier of two actors


@dataclass(frozen=True)
class Frontier:
    """The Pareto frontier of two actors as dense points, sorted by the first actor's utility.

    These are the *supported* Pareto-optimal points (weighted-sum optima): with ordinal issues or
    curvatures below 1, Pareto-optimal packages that no weighting selects are not included.

    ``joined[k]`` says whether the segment between points ``k`` and ``k + 1`` lies on the
    frontier (same feasible box, nothing in between), so that utilities and packages may be
    interpolated along it: exactly on flat parts, to within the spacing squared on curved ones.
    """

    actors: tuple[int, int]
    utility: FloatArray  # (K, 2)
    package: FloatArray  # (K, I)
    joined: BoolArray  # (K - 1,)

    def best_for(self, who: int, floor: float) -> tuple[FloatArray, FloatArray] | None:
        """The point maximising actor ``who`` (0 or 1, position in ``actors``) subject to the
        other getting at least ``floor``: ``(utilities (2,), package)``, or ``None``."""
        u, pk, joined = self.utility, self.package, self.joined
        if who == 1:  # reverse so that the chosen actor's utility increases along the arrays
            u, pk, joined = u[::-1, ::-1], pk[::-1], joined[::-1]
        other = u[:, 1]  # decreasing
        ok = other >= floor - 1e-15
        if not ok[0]:
            return None
        k = int(np.flatnonzero(ok)[-1])
        if k == len(other) - 1 or not joined[k] or other[k] == other[k + 1]:
            res_u, res_pk = u[k].copy(), pk[k].copy()
        else:
            t = (other[k] - floor) / (other[k] - other[k + 1])
            res_u = u[k] + t * (u[k + 1] - u[k])
            res_u[1] = floor
            res_pk = pk[k] + t * (pk[k + 1] - pk[k])
        return (res_u[::-1] if who == 1 else res_u), res_pk


def frontier(problem: Problem, a: int, b: int, resolution: float = 1e-3) -> Frontier:
    """The Pareto frontier of actors ``a`` and ``b`` over feasible packages, with consecutive
    points at most ``resolution`` apart in utility (on connected parts).

    Weighted-sum optima (:func:`weighted_optima`) are computed for weights whose log-odds are
    bisected until neighbouring points are close, in every feasible box. A jump that the weights
    cannot resolve is a flat part of the frontier; when mixing packages stays on the frontier
    (continuous issues, curvature >= 1) it is filled by linear interpolation, otherwise it is a
    gap. The boxes' curves are merged and dominated points dropped.
    """
    n_b = len(problem.boxes)
    if n_b == 0:
        return Frontier((a, b), np.zeros((0, 2)), np.zeros((0, problem.space.n_issues)), np.zeros(0, dtype=bool))
    s = np.linspace(-S_MAX, S_MAX, 129)
    pk = weighted_optima(problem, _coefs(problem, a, b, s))  # (B, S, I)
    u = problem.utility(pk.reshape(-1, pk.shape[-1]))[:, [a, b]].reshape(n_b, s.size, 2)
    for _ in range(80):
        gap = np.abs(np.diff(u, axis=1)).max(axis=(0, 2))
        need = (gap > resolution) & (np.diff(s) > 1e-12)
        if not need.any():
            break
        mid = 0.5 * (s[:-1] + s[1:])[need]
        pk_m = weighted_optima(problem, _coefs(problem, a, b, mid))
        u_m = problem.utility(pk_m.reshape(-1, pk_m.shape[-1]))[:, [a, b]].reshape(n_b, mid.size, 2)
        order = np.argsort(np.concatenate([s, mid]), kind="stable")
        s = np.concatenate([s, mid])[order]
        pk = np.concatenate([pk, pk_m], axis=1)[:, order]
        u = np.concatenate([u, u_m], axis=1)[:, order]
    convex = _convex_pair(problem, a, b)
    # points of every box in weight order; a flat part is filled (convex) or starts a new piece
    pts_u, pts_pk, pts_box, pts_piece = [], [], [], []
    for bi in range(n_b):
        piece = 0
        jumps = np.abs(np.diff(u[bi], axis=0)).max(axis=1)
        flats = np.flatnonzero((jumps > resolution) & (np.diff(s) <= 1e-12))
        start = 0
        for j in [*flats.tolist(), s.size - 1]:
            seg = slice(start, j + 1)
            pts_u.append(u[bi, seg])
            pts_pk.append(pk[bi, seg])
            pts_box.append(np.full(j + 1 - start, bi))
            pts_piece.append(np.full(j + 1 - start, piece))
            if j < s.size - 1:
                if convex:  # fill the flat part between points j and j + 1
                    n_fill = int(np.ceil(jumps[j] / resolution))
                    t = np.linspace(0.0, 1.0, n_fill + 1)[1:-1, None]
                    pts_u.append(u[bi, j] + t * (u[bi, j + 1] - u[bi, j]))
                    pts_pk.append(pk[bi, j] + t * (pk[bi, j + 1] - pk[bi, j]))
                    pts_box.append(np.full(t.shape[0], bi))
                    pts_piece.append(np.full(t.shape[0], piece))
                else:
                    piece += 1
            start = j + 1
    all_u = np.concatenate(pts_u)
    all_pk = np.concatenate(pts_pk)
    box_of = np.concatenate(pts_box)
    piece_of = np.concatenate(pts_piece)
    order = np.lexsort((-all_u[:, 1], all_u[:, 0]))
    all_u, all_pk, box_of, piece_of = all_u[order], all_pk[order], box_of[order], piece_of[order]
    # keep the points no other point dominates: better for b than everything to their right
    right_best = np.append(np.maximum.accumulate(all_u[::-1, 1])[::-1][1:], -np.inf)
    keep = all_u[:, 1] > right_best + 1e-13
    all_u, all_pk, box_of, piece_of = all_u[keep], all_pk[keep], box_of[keep], piece_of[keep]
    joined = (box_of[1:] == box_of[:-1]) & (piece_of[1:] == piece_of[:-1])
    return Frontier((a, b), all_u, all_pk, joined)


def _crossing(problem: Problem, a: int, b: int, box: int, h: Callable[[FloatArray], float]) -> FloatArray:
    """The package of box ``box`` on the frontier of ``a`` and ``b`` where ``h(u_a, u_b)``, a
    function that does not decrease as the weight moves from ``b`` to ``a``, crosses zero; an
    end of the frontier if it does not change sign there.

    Bisection on the weight to machine precision, then, between the two last optima (equal on
    a curved part, the ends of a flat part), a root along the segment joining them.
    """

    def opt(s: FloatArray) -> FloatArray:
        return weighted_optima(problem, _coefs(problem, a, b, s))[box]

    def hv(x: FloatArray) -> float:
        return float(h(problem.utility(x)[[a, b]]))

    lo, hi = -S_MAX, S_MAX
    x_lo, x_hi = opt(np.array([lo, hi]))
    if hv(x_lo) >= 0:
        return x_lo
    if hv(x_hi) <= 0:
        return x_hi
    for _ in range(40):  # shrink the bracket 64-fold per pass
        if hi - lo <= 1e-13:
            break
        s = np.linspace(lo, hi, 65)[1:-1]
        xs = opt(s)
        hs = np.array([h(u) for u in problem.utility(xs)[:, [a, b]]])
        k = int(np.searchsorted(hs >= 0, True))  # first weight where h >= 0 (h does not decrease)
        if k > 0:
            lo, x_lo = float(s[k - 1]), xs[k - 1]
        if k < s.size:
            hi, x_hi = float(s[k]), xs[k]
    ordinal = np.array([i.is_ordinal for i in problem.space.issues], dtype=bool)
    if np.any(x_lo[ordinal] != x_hi[ordinal]):
        return x_lo if abs(hv(x_lo)) <= abs(hv(x_hi)) else x_hi
    if hv(x_hi) == 0.0:  # otherwise h(x_lo) < 0 < h(x_hi)
        return x_hi
    t = brentq(lambda t: hv(x_lo + t * (x_hi - x_lo)), 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return x_lo + float(t) * (x_hi - x_lo)


# --------------------------------------------------------------------------------------------
# Kalai-Smorodinsky


def utopia_point(problem: Problem, actors: Sequence[int] | None = None) -> FloatArray | None:
    """Each of two parties' best utility among agreements that give the other at least its
    reservation: the ideal point of Kalai & Smorodinsky (1975). ``None`` if there is none."""
    a, b = _pair(problem, actors)
    d = problem.reservation
    best = np.full(2, -np.inf)
    for box in range(len(problem.boxes)):
        xa = _crossing(problem, a, b, box, lambda u: d[b] - u[1])  # max u_a s.t. u_b >= d_b
        ua = problem.utility(xa)
        if ua[b] >= d[b] - 1e-12:
            best[0] = max(best[0], ua[a])
        xb = _crossing(problem, a, b, box, lambda u: u[0] - d[a])  # max u_b s.t. u_a >= d_a
        ub = problem.utility(xb)
        if ub[a] >= d[a] - 1e-12:
            best[1] = max(best[1], ub[b])
    return best if np.all(np.isfinite(best)) else None


def kalai_smorodinsky_point(
    problem: Problem,
    actors: Sequence[int] | None = None,
    utopia: Literal["individually_rational", "unrestricted"] = "individually_rational",
    rng: np.random.Generator | None = None,
    n_weights: int = 512,
) -> FloatArray | None:
    """The Kalai–Smorodinsky bargaining solution (Kalai & Smorodinsky 1975).

    The Pareto-optimal feasible package where every party's gain over its reservation
    (disagreement) utility is the same share of its ideal gain,

        (u_a(x) - d_a) / (U_a - d_a)  equal for all parties a,

    the largest such point. ``U_a`` is the party's *utopia* utility: by default its best among
    agreements that give the other party at least its reservation (the definition of Kalai &
    Smorodinsky); ``utopia="unrestricted"`` uses ``Problem.best_utility`` (its best among all
    feasible packages), which differs when that package leaves the other below its
    reservation.

    For two parties the point is found by bisection on the weights of the frontier to machine
    precision, in each feasible box, and the box whose point is best for both is returned. For
    more parties it is approximate: the package that maximises the smallest share among
    weighted-sum optima with random weights and their mixtures (like ``nash_point``'s
    candidates, without refinement). ``None`` if no feasible package leaves every party at
    least at its reservation.
    """
    idx = list(problem.parties if actors is None else actors)
    if len(problem.boxes) == 0 or len(idx) < 2:
        return None
    d = problem.reservation
    if len(idx) > 2:
        return _ks_candidates(problem, idx, utopia, rng, n_weights)
    a, b = idx
    if utopia == "unrestricted":
        top = problem.best_utility[[a, b]]
    else:
        found = utopia_point(problem, idx)
        if found is None:
            return None
        top = found
    span = top - d[[a, b]]
    if np.any(span <= 1e-12):
        return None

    def h(u: FloatArray) -> float:
        return float((u[0] - d[a]) / span[0] - (u[1] - d[b]) / span[1])

    best_x, best_t = None, -np.inf
    for box in range(len(problem.boxes)):
        x = _crossing(problem, a, b, box, h)
        g = (problem.utility(x)[[a, b]] - d[[a, b]]) / span
        if g.min() > best_t + 1e-12:
            best_x, best_t = x, float(g.min())
    if best_x is None or best_t < -1e-9:
        return None
    return best_x


def _ks_candidates(
    problem: Problem, idx: list[int], utopia: str, rng: np.random.Generator | None, n_weights: int
) -> FloatArray | None:
    rng = rng if rng is not None else np.random.default_rng(0)
    d = problem.reservation[idx]
    w = np.zeros((n_weights + len(idx), problem.n_actors))
    w[:n_weights, idx] = rng.dirichlet(np.ones(len(idx)), size=n_weights)
    w[n_weights:, idx] = np.eye(len(idx))
    w /= _spans(problem)[None, :]
    pk = weighted_optima(problem, w)  # (B, C, I)
    mixes = []
    for b in range(pk.shape[0]):
        i = rng.integers(0, pk.shape[1], size=(2, 4 * n_weights))
        lam = rng.random((4 * n_weights, 1))
        mix = problem.space.snap(lam * pk[b, i[0]] + (1 - lam) * pk[b, i[1]])
        mixes.append(mix[problem.boxes[b].contains(mix)])
    cands = np.concatenate([pk.reshape(-1, pk.shape[-1]), *mixes])
    u = problem.utility(cands)[:, idx]
    rational = np.all(u >= d - 1e-12, axis=1)
    if not rational.any():
        return None
    top = problem.best_utility[idx] if utopia == "unrestricted" else u[rational].max(axis=0)
    span = top - d
    if np.any(span <= 1e-12):
        return None
    share = (u - d) / span
    score = np.where(rational, share.min(axis=1) + 1e-9 * share.sum(axis=1), -np.inf)
    return cands[int(np.argmax(score))].copy()


# --------------------------------------------------------------------------------------------
# alternating offers


def rubinstein_share(d1: float, d2: float) -> float:
    """The first proposer's share of a unit pie in the unique subgame-perfect equilibrium of
    the infinite-horizon alternating-offers game with discount factors ``d1`` (the first
    proposer) and ``d2``: ``(1 - d2) / (1 - d1 d2)`` (Rubinstein 1982)."""
    if not (0.0 <= d1 <= 1.0 and 0.0 <= d2 <= 1.0) or d1 * d2 >= 1.0:
        raise ValueError("discount factors must lie in [0, 1], not both 1")
    return (1.0 - d2) / (1.0 - d1 * d2)


@dataclass(frozen=True)
class AlternatingOffers:
    """Subgame-perfect equilibria of the finite-horizon alternating-offers game, one row per
    horizon ``1, ..., H`` (:func:`backward_induction`).

    ``utilities[h - 1]`` are the utilities of ``actors`` (first proposer, responder) in the game
    with horizon ``h``, valued at round 1 as in the model's protocol (a gain over reservation
    earned in round ``t`` counts ``delta ** (t - 1)``); ``packages[h - 1]`` is the agreed package
    (NaN if none) and ``rounds[h - 1]`` the round of agreement (0 if none).
    """

    actors: tuple[int, int]
    discounts: tuple[float, float]
    utilities: FloatArray  # (H, 2)
    packages: FloatArray  # (H, I)
    rounds: np.ndarray  # (H,)

    @property
    def agreed(self) -> BoolArray:
        return self.rounds > 0


def backward_induction(
    problem: Problem,
    proposer_first: int,
    discounts: Sequence[float] | FloatArray | None = None,
    horizon: int = 50,
    actors: Sequence[int] | None = None,
    resolution: float = 1e-4,
) -> AlternatingOffers:
    """Solve the alternating-offers game of the model's protocol for two parties by backward
    induction over their Pareto frontier (Ståhl 1972; Rubinstein 1982 as the horizon grows).

    Rounds ``t = 1..h``; the proposer alternates, ``proposer_first`` first. A rejected offer in
    the last round ends the talks at the reservation utilities ``d``. An agreement in round
    ``t`` is worth ``d_a + delta_a ** (t - 1) (u_a - d_a)``. In the last round the proposer
    takes the best frontier point that leaves the responder at its reservation; in round ``t``
    it offers the responder exactly the discounted value of the responder's continuation,
    ``d + delta (v_{t+1} - d)``, and takes the best frontier point that does so (or waits, if
    its own discounted continuation is better). The responder accepts when indifferent.

    Args:
        problem: the negotiation; its parties (or ``actors``) must be two.
        proposer_first: the actor index of the first proposer.
        discounts: per-round discount factors indexed by actor (default ``problem.discount``).
        horizon: the largest horizon ``H``; every horizon ``1..H`` is solved.
        actors: the two actors (default: the parties).
        resolution: spacing of the frontier points (exact on flat parts; interpolation error on
            curved parts is of order ``resolution ** 2``).
    """
    a, b = _pair(problem, actors)
    if proposer_first not in (a, b):
        raise ValueError(f"proposer_first {proposer_first} is not one of the two parties {a, b}")
    first, second = (a, b) if proposer_first == a else (b, a)
    delta_all = problem.discount if discounts is None else np.asarray(discounts, dtype=float)
    if delta_all.shape != (problem.n_actors,):
        raise ValueError(f"discounts must have one factor per actor ({problem.n_actors})")
    front = frontier(problem, first, second, resolution)
    d = problem.reservation[[first, second]]
    delta = delta_all[[first, second]]
    n_i = problem.space.n_issues
    nan_pk = np.full(n_i, np.nan)

    # game[who] for the current horizon: (utilities (2,), package, round of agreement)
    def solve_last(who: int) -> tuple[FloatArray, FloatArray, int]:
        other = 1 - who
        res = front.best_for(who, float(d[other]))
        if res is None or res[0][who] < d[who] - 1e-12:
            return d.copy(), nan_pk, 0
        return res[0], res[1], 1

    games = [solve_last(0), solve_last(1)]
    out_u, out_pk, out_r = [games[0][0]], [games[0][1]], [games[0][2]]
    for _ in range(2, horizon + 1):
        new = []
        for who in (0, 1):
            other = 1 - who
            cont_u, cont_pk, cont_r = games[other]  # the game one round shorter, other proposes
            wait_u = d + delta * (cont_u - d)  # its value now
            res = front.best_for(who, float(wait_u[other]))
            if res is not None and res[0][who] >= wait_u[who] - 1e-15:
                new.append((res[0], res[1], 1))
            else:
                new.append((wait_u, cont_pk, cont_r + 1 if cont_r > 0 else 0))
        games = new
        out_u.append(games[0][0])
        out_pk.append(games[0][1])
        out_r.append(games[0][2])
    return AlternatingOffers(
        actors=(first, second),
        discounts=(float(delta[0]), float(delta[1])),
        utilities=np.array(out_u),
        packages=np.array(out_pk),
        rounds=np.array(out_r, dtype=int),
    )


# --------------------------------------------------------------------------------------------
# Zeuthen


@dataclass(frozen=True)
class ZeuthenRun:
    """The offers of a Zeuthen negotiation (:func:`zeuthen_negotiation`).

    ``offers[t, k]`` is the package actor ``actors[k]`` offers after step ``t`` (row 0: the
    opening offers); ``utilities[t, k]`` its utilities to both actors. ``agreement`` is the
    agreed package (``None`` if the step limit came first or no deal beats disagreement).
    """

    actors: tuple[int, int]
    offers: FloatArray  # (T + 1, 2, I)
    utilities: FloatArray  # (T + 1, 2, 2)
    conceders: np.ndarray  # (T,): 0, 1 or 2 (both) for each step
    agreement: FloatArray | None
    agreement_utility: FloatArray | None

    @property
    def steps(self) -> int:
        return int(self.conceders.size)


def zeuthen_negotiation(
    problem: Problem, max_steps: int = 100_000, actors: Sequence[int] | None = None, resolution: float = 1e-4
) -> ZeuthenRun:
    """The monotonic concession protocol with Zeuthen's rule for two parties (Zeuthen 1930;
    Harsanyi 1956; Rosenschein & Zlotkin 1994).

    Each party opens with its best package; offers move along the Pareto frontier (discretised
    at ``resolution`` in utility). With ``x_i`` party ``i``'s offer and ``d_i`` its reservation,
    its *risk* — the largest probability of conflict it would accept rather than take the
    other's offer — is

        risk_i = (u_i(x_i) - u_i(x_j)) / (u_i(x_i) - d_i).

    The party with the smaller risk concedes (both if the risks are equal), just enough that
    the other party's risk becomes the smaller one, i.e. that the other must concede next. A
    party accepts the other's offer when it is worth at least its own; if no concession short
    of the other's offer would shift the risk, the conceder accepts the other's offer. Harsanyi
    showed that the risk comparison is a comparison of Nash products, so the offers close in
    on the Nash bargaining solution from both sides.
    """
    a, b = _pair(problem, actors)
    front = frontier(problem, a, b, resolution)
    n_pts = len(front.utility)
    d = problem.reservation[[a, b]]
    g = front.utility - d  # gains, (K, 2): g[:, 0] increases, g[:, 1] decreases with the index
    if n_pts == 0 or g[-1, 0] <= 0 or g[0, 1] <= 0 or np.all(g.min(axis=1) < 0):
        return ZeuthenRun((a, b), np.zeros((1, 2, problem.space.n_issues)), np.zeros((1, 2, 2)),
                          np.zeros(0, dtype=int), None, None)

    def risk(who: int, own: int, other: int) -> float:
        gain = g[own, who]
        return 1.0 if gain <= 0 else float((gain - g[other, who]) / gain)

    def concede(who: int, own: int, other: int) -> int:
        """The smallest concession of ``who`` from ``own`` (towards ``other``) after which the
        other party has the smaller risk; ``other`` itself (acceptance) if there is none."""
        step = -1 if who == 0 else 1
        k = own + step
        while k != other:
            if risk(1 - who, other, k) < risk(who, k, other):
                return k
            k += step
        return other

    ia, ib = n_pts - 1, 0  # a's best is the last point, b's best the first
    trace = [(ia, ib)]
    conceders: list[int] = []
    agreed: int | None = None
    for _ in range(max_steps):
        if ib >= ia:  # each finds the other's offer at least as good as its own
            agreed = ib
            break
        ra, rb = risk(0, ia, ib), risk(1, ib, ia)
        if ra < rb:
            ia, who = concede(0, ia, ib), 0
        elif rb < ra:
            ib, who = concede(1, ib, ia), 1
        else:
            ia, ib, who = concede(0, ia, ib), concede(1, ib, ia), 2
            if ib > ia:  # both conceded past each other: take the offer better for the two
                ia = ib = ia if np.prod(g[ia]) >= np.prod(g[ib]) else ib
        conceders.append(who)
        trace.append((ia, ib))
    else:
        if ib >= ia:
            agreed = ib
    idx = np.array(trace)
    offers = front.package[idx]
    utilities = front.utility[idx]
    return ZeuthenRun(
        actors=(a, b),
        offers=offers,
        utilities=utilities,
        conceders=np.array(conceders, dtype=int),
        agreement=None if agreed is None else front.package[agreed].copy(),
        agreement_utility=None if agreed is None else front.utility[agreed].copy(),
    )


# --------------------------------------------------------------------------------------------
# compromise model


def compromise_forecast(
    positions: FloatArray,
    capabilities: FloatArray,
    saliences: FloatArray,
    method: Literal["mean", "median"] = "mean",
) -> FloatArray:
    """A baseline forecast of the outcome of each issue from the actors' positions.

    ``method="mean"``: the compromise model, ``sum_k c_k s_ki x_ki / sum_k c_k s_ki`` (Achen
    2006; Bueno de Mesquita's "mean voter" forecast). ``method="median"``: the weighted median
    of positions with the same weights ``c_k s_ki`` (:func:`weighted_median`).

    Args:
        positions: ``(n,)`` for one issue or ``(n, I)``.
        capabilities: ``(n,)``.
        saliences: ``(n,)`` (the same on every issue) or shaped like ``positions``.

    Returns:
        the forecast, shaped ``positions.shape[1:]`` (a 0-d array for one issue).
    """
    x = np.asarray(positions, dtype=float)
    c = np.asarray(capabilities, dtype=float)
    s = np.asarray(saliences, dtype=float)
    one = x.ndim == 1
    x2 = x[:, None] if one else x
    s2 = np.broadcast_to(s[:, None] if s.ndim == 1 else s, x2.shape)
    w = c[:, None] * s2
    if np.any(w.sum(axis=0) <= 0):
        raise ValueError("every issue needs an actor with capability and salience above zero")
    if method == "mean":
        out = (w * x2).sum(axis=0) / w.sum(axis=0)
    elif method == "median":
        out = np.array([weighted_median(x2[:, i], w[:, i]) for i in range(x2.shape[1])])
    else:
        raise ValueError(f"unknown method {method!r}")
    return out[0] if one else out
