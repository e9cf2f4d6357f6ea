"""Outcome analysis: individual rationality, the Nash product, Pareto dominance, the Nash point.

Everything here works on a compiled ``Problem`` and plain arrays; nothing runs a negotiation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from model.core.chunks import CHUNK_TERMS
from model.core.offers import lp_compromise, lp_dominating, lp_frontier_packages
from model.core.problem import Problem
from model.core.space import EPS, FloatArray


def individually_rational(problem: Problem, package: FloatArray) -> np.ndarray:
    """Whether each actor gets at least its reservation utility from ``package``."""
    return problem.utility(package) >= problem.reservation - 1e-9


def nash_product(
    problem: Problem, package: FloatArray, actors: Sequence[int] | None = None, utilities: FloatArray | None = None
) -> float:
    """``prod_a (u_a(x) - r_a)`` over ``actors`` (default: the parties); 0 if any gain is negative.
    ``utilities``: ``problem.utility(package)``, when the caller has it already."""
    idx = list(problem.parties if actors is None else actors)
    u = problem.utility(package) if utilities is None else utilities
    gains = u[idx] - problem.reservation[idx]
    if np.any(gains < 0):
        return 0.0
    return float(np.prod(gains))


def _weight_samples(n_actors: int, idx: Sequence[int], n: int, rng: np.random.Generator) -> FloatArray:
    w = np.zeros((n + len(idx), n_actors))
    w[:n, list(idx)] = rng.dirichlet(np.ones(len(idx)), size=n)
    w[n:, list(idx)] = np.eye(len(idx))
    return w


def find_dominating(
    problem: Problem,
    package: FloatArray,
    rng: np.random.Generator | None = None,
    n_weights: int = 256,
    tol: float = 1e-6,
) -> FloatArray | None:
    """A feasible package that leaves every party at least as well off as ``package`` and one
    strictly better (by more than ``tol``), or ``None`` if the search finds none.

    The search looks at the supported Pareto-optimal packages (weighted sums of utilities with
    random weights) and at every single-issue change of ``package`` on the grid. Finding none
    is evidence, not proof, that ``package`` is Pareto-optimal.
    """
    if problem.boxless:  # too many conditional lines for the boxes: the program answers (exactly)
        return lp_dominating(problem, package, tol)
    rng = rng if rng is not None else np.random.default_rng(0)
    parties = list(problem.parties)
    x = np.asarray(package, dtype=float)
    u0 = problem.utility(x)[parties]
    best: tuple[float, FloatArray] | None = None
    for pk in _dominating_candidates(problem, x, _weight_samples(problem.n_actors, parties, n_weights, rng)):
        pk = pk[problem.feasible(pk)]
        if pk.shape[0] == 0:
            continue
        u = problem.utility(pk)[:, parties]
        dom = np.all(u >= u0 - EPS, axis=1) & np.any(u > u0 + tol, axis=1)
        if not dom.any():
            continue
        gain = (u - u0)[dom].sum(axis=1)
        k = int(np.argmax(gain))
        if best is None or gain[k] > best[0]:  # the first of the largest gains, as over one batch
            best = (float(gain[k]), pk[dom][k].copy())
    return None if best is None else best[1]


def _dominating_candidates(problem: Problem, x: FloatArray, weights: FloatArray) -> Iterator[FloatArray]:
    """The candidates of ``find_dominating`` in batches of bounded size, in order: the supported
    Pareto-optimal packages, then every single-issue change of ``x`` on the grid, a few issues at
    a time (at the schema's limits they are some 60,000 packages: gigabytes at once)."""
    yield problem.maximize_weighted(weights)
    grid, mask = problem.space.grid, problem.space.grid_mask
    n_i = problem.space.n_issues
    per_issue = max(1, int(mask.sum(axis=1).max()))
    step = max(1, CHUNK_TERMS // max(per_issue * problem.n_actors * n_i, 1))
    for start in range(0, n_i, step):
        moves = []
        for i in range(start, min(start + step, n_i)):
            vals = grid[i][mask[i]]
            moved = np.repeat(x[None, :], len(vals), axis=0)
            moved[:, i] = vals
            moves.append(moved)
        yield np.concatenate(moves)


def _log_nash(problem: Problem, pk: FloatArray, idx: Sequence[int]) -> FloatArray:
    gains = problem.utility(pk)[..., list(idx)] - problem.reservation[list(idx)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.all(gains > 0, axis=-1), np.log(np.maximum(gains, 1e-300)).sum(axis=-1), -np.inf)
    return out


def _mixtures(problem: Problem, pk: FloatArray, rng: np.random.Generator, n: int = 256) -> FloatArray:
    """Random convex combinations of packages from the same feasible box (so still feasible),
    with ordinal issues snapped to a level: interior candidates where weighted sums give only
    corners (linear frontiers)."""
    n_box = len(problem.boxes)
    per_box = pk.reshape(n_box, -1, pk.shape[1])
    out = []
    for b in range(n_box):
        i = rng.integers(0, per_box.shape[1], size=(2, n))
        lam = rng.random((n, 1))
        mix = problem.space.snap(lam * per_box[b, i[0]] + (1 - lam) * per_box[b, i[1]])
        out.append(mix[problem.boxes[b].contains(mix)])
    return np.concatenate(out) if out else np.zeros((0, pk.shape[1]))


def nash_point(
    problem: Problem,
    actors: Sequence[int] | None = None,
    rng: np.random.Generator | None = None,
    n_weights: int = 512,
    refine_steps: int = 40,
) -> FloatArray | None:
    """The feasible package maximising the Nash product of ``actors`` (default: the parties).

    Candidates are supported Pareto-optimal packages (weighted sums), then the best one is
    refined by coordinate ascent: ordinal issues over their levels, continuous issues by a
    shrinking local search inside the feasible box that holds the package. Returns ``None``
    when no feasible package gives every actor more than its reservation utility, and when the
    problem is ``boxless`` (its conditional red lines too many to enumerate the boxes the search
    refines in; the Nash product is not linear, so no program stands in for it).
    """
    if problem.boxless:
        return None
    rng = rng if rng is not None else np.random.default_rng(0)
    idx = list(problem.parties if actors is None else actors)
    pk = problem.maximize_weighted(_weight_samples(problem.n_actors, idx, n_weights, rng))
    if pk.shape[0] == 0:
        return None
    pk = np.concatenate([pk, _mixtures(problem, pk, rng)])
    score = _log_nash(problem, pk, idx)
    best = int(np.argmax(score))
    if not np.isfinite(score[best]):
        return None
    x = pk[best].copy()
    box = next(b for b in problem.boxes if b.contains(x)[0])
    space = problem.space
    current = float(score[best])
    step = 0.25
    for _ in range(refine_steps):
        improved = False
        for i, issue in enumerate(space.issues):
            if issue.is_ordinal:
                lv = issue.level_values
                vals = lv[(lv >= box.lo[i] - EPS) & (lv <= box.hi[i] + EPS)]
            else:
                vals = np.clip(x[i] + np.linspace(-step, step, 33), box.lo[i], box.hi[i])
            trial = np.repeat(x[None, :], len(vals), axis=0)
            trial[:, i] = vals
            s = _log_nash(problem, trial, idx)
            j = int(np.argmax(s))
            if s[j] > current + 1e-13:
                x, current, improved = trial[j], float(s[j]), True
        if not improved:
            step /= 4.0
            if step < 1e-10:
                break
    return x


def pareto_frontier(
    problem: Problem, a: int, b: int, n: int = 201
) -> FloatArray:
    """Points ``(u_a, u_b)`` of the Pareto frontier of two actors over feasible packages,
    sorted by ``u_a``: the upper-right envelope of weighted-sum optima and the Nash point (or,
    when the problem is ``boxless``, of the programs' optima at ``n // 5`` levels of ``u_b``)."""
    if problem.boxless:
        pk = lp_frontier_packages(problem, a, b, max(n // 5, 2))
    else:
        lam = np.linspace(0.0, 1.0, n)
        coefs = np.zeros((n, problem.n_actors))
        coefs[:, a] = lam
        coefs[:, b] = 1.0 - lam
        pk = problem.maximize_weighted(coefs)
    if pk.shape[0] == 0:
        return np.zeros((0, 2))
    u = problem.utility(pk)[:, [a, b]]
    u = u[np.lexsort((-u[:, 1], u[:, 0]))]
    keep = []
    best_b = -np.inf
    for k in range(u.shape[0] - 1, -1, -1):  # scan from the right: keep non-dominated points
        if u[k, 1] > best_b + 1e-12:
            keep.append(k)
            best_b = u[k, 1]
    return u[sorted(keep)]


#: ``_seeded_weights`` by its arguments (a few shapes per process).
_SEEDED: dict[tuple[int, tuple[int, ...], int], FloatArray] = {}


def _seeded_weights(n_actors: int, idx: tuple[int, ...], n: int) -> FloatArray:
    """``_weight_samples`` drawn by a fresh ``default_rng(0)`` (read-only): the same at every call,
    so drawn once per shape."""
    key = (n_actors, idx, n)
    w = _SEEDED.get(key)
    if w is None:
        w = _weight_samples(n_actors, idx, n, np.random.default_rng(0))
        w.setflags(write=False)
        if len(_SEEDED) >= 64:
            _SEEDED.pop(next(iter(_SEEDED)))
        _SEEDED[key] = w
    return w


def best_compromise(
    problem: Problem, rng: np.random.Generator | None = None, n_weights: int = 256
) -> FloatArray | None:
    """The feasible package whose worst-off party gains most, in normalised surplus
    ``(u - r) / (best - r)`` (an egalitarian compromise); ``None`` if nothing is feasible."""
    if rng is None and n_weights == 256:  # the default search depends on the problem alone: kept on it
        if "_best_compromise" not in problem.__dict__:
            problem.__dict__["_best_compromise"] = _compromise(problem, None, n_weights)
        kept = problem.__dict__["_best_compromise"]
        return None if kept is None else kept.copy()
    return _compromise(problem, rng, n_weights)


def _compromise(problem: Problem, rng: np.random.Generator | None, n_weights: int) -> FloatArray | None:
    from model.core.search import normalised_surplus

    if problem.boxless:  # too many conditional lines for the boxes: the program answers
        return lp_compromise(problem)
    parties = list(problem.parties)
    if rng is None:  # ``default_rng(0)``'s weights: the same at every call, drawn once
        w = _seeded_weights(problem.n_actors, tuple(parties), n_weights)
    else:
        w = _weight_samples(problem.n_actors, parties, n_weights, rng)
    w = w / np.maximum(problem.best_utility - problem.reservation, 1e-9)[None, :]
    pk, idx = problem.maximize_weighted_indexed(w)
    if idx.shape[0] == 0 or pk is None:
        return None
    s = normalised_surplus(problem, problem.grid_package_utility(pk, idx))[:, parties]
    return pk[int(np.argmax(s.min(axis=1)))].copy()
