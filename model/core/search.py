"""Choosing an offer: the proposer's best package for the others, given its own aspiration.

The proposer maximises a weighted sum of the others' utilities plus ``mu`` times its own, for a
range of ``mu`` and a few weightings of the others, inside every feasible box. Because
utilities are additive this is a per-issue maximisation: each issue goes to whoever values it
most per unit of the proposer's loss, so the proposer concedes first on the issues it cares
least about (logrolling). Among the resulting packages that give the proposer at least its
aspiration, it offers the one whose worst-off other party gains most (normalised surplus over
reservation), breaking ties by the total.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from model.core.problem import Problem
from model.core.space import FloatArray

#: Multipliers on the proposer's own utility (relative to the others' normalised weights).
MU_GRID = np.concatenate([np.geomspace(0.02, 50.0, 24), [1e6]])


def normalised_surplus(problem: Problem, utilities: FloatArray) -> FloatArray:
    """``(u - r) / (best - r)`` per actor: 0 at reservation, 1 at the actor's best package."""
    span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
    return (utilities - problem.reservation) / span


@lru_cache(maxsize=64)
def _offer_coefficients(problem: Problem, proposer: int) -> FloatArray:
    others = [a for a in problem.parties if a != proposer]
    span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
    base = np.zeros(problem.n_actors)
    base[others] = 1.0 / span[others]
    variants = [base]
    for j in others:  # one variant favouring each other party
        v = base.copy()
        v[j] *= 4.0
        variants.append(v)
    rows = []
    for v in variants:
        for mu in MU_GRID:
            r = v.copy()
            r[proposer] = mu / span[proposer]
            rows.append(r)
    out = np.array(rows)
    out.setflags(write=False)
    return out


def candidate_offers(problem: Problem, proposer: int) -> tuple[FloatArray, FloatArray]:
    """All packages the proposer considers, with their utilities: ``(n, I)`` and ``(n, A)``."""
    return _candidates(problem, proposer)


@lru_cache(maxsize=64)
def _candidates(problem: Problem, proposer: int) -> tuple[FloatArray, FloatArray]:
    pk, idx = problem.maximize_weighted_indexed(_offer_coefficients(problem, proposer))
    u = problem.grid_utility(idx) if pk.shape[0] else np.zeros((0, problem.n_actors))
    pk.setflags(write=False)
    u.setflags(write=False)
    return pk, u


def choose_offer(problem: Problem, proposer: int, aspiration: float) -> FloatArray | None:
    """The package ``proposer`` offers at this aspiration.

    ``None`` when it has nothing to offer: no package crosses no party's red line and gives
    the proposer at least its reservation utility. A proposer never offers less than that.
    """
    pk, u = candidate_offers(problem, proposer)
    if pk.shape[0] == 0:
        return None
    floor = float(problem.reservation[proposer])
    ok = u[:, proposer] >= max(aspiration, floor) - 1e-9
    if not ok.any():
        best = int(np.argmax(u[:, proposer]))
        # aspiration above anything feasible: offer its own best, if that beats no deal
        return pk[best].copy() if u[best, proposer] >= floor - 1e-9 else None
    others = [a for a in problem.parties if a != proposer]
    s = normalised_surplus(problem, u[ok])[:, others]
    worst = s.min(axis=1) if others else np.zeros(int(ok.sum()))
    # lexicographic: best worst-off surplus, then total surplus, then the proposer's utility
    key = np.lexsort((u[ok, proposer], s.sum(axis=1), np.round(worst, 9)))
    return pk[ok][key[-1]].copy()
