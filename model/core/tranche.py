"""Step-by-step exchanges: the tranche a proposer offers from the current state.

A *tranche* moves some issues from the current state ``x`` by at most a cap per issue (a small
step early on, growing as exchanges are delivered). Each actor values it by its gain over ``x``,
discounting moves that another actor must still deliver by its trust in that actor:

    g_a(y) = sum_i  tau_a,c(i) * w_ai * (v_ai(y_i) - v_ai(x_i))

where ``c(i)`` controls issue ``i`` and ``tau_a,c = 1`` for the actor's own issues and issues no
one controls. Utilities are additive, so the proposer's search runs issue by issue, as in the
package search (``model.core.search``): for a range of weights ``mu`` on its own gain against
the others' normalised gains, every issue goes to the best grid value within the cap.

Red lines apply to where a step leads, not to where the talks stand: a tranche may not carry an
issue further past an actor's bound than it already is (``relaxed_redlines``): a bound that
the state already violates is widened to the state's value, and a conditional line binds as soon
as the tranche would switch its condition on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.core.problem import Problem
from model.core.redlines import RedLine, RedLineSet
from model.core.search import MU_GRID
from model.core.space import EPS, BoolArray, FloatArray


def relaxed_redlines(redlines: RedLineSet, state: FloatArray) -> RedLineSet:
    """Red lines as they bind a step from ``state``: none may be crossed further than it already is."""
    out: list[RedLine] = []
    for ln in redlines.lines:
        x = float(state[ln.issue])
        if ln.conditional:
            assert ln.when_issue is not None
            v = float(state[ln.when_issue])
            on = v > ln.when_above + EPS if ln.when_above is not None else v < (ln.when_below or 0.0) - EPS
            if not on:  # switching it on needs the bound to hold
                out.append(ln)
                continue
        out.append(dataclasses.replace(ln, lo=min(ln.lo, x), hi=max(ln.hi, x)))
    return RedLineSet(out, redlines.n_actors, redlines.n_issues)


@dataclass(frozen=True)
class Tranche:
    values: FloatArray  # (I,) the state after the tranche
    index: np.ndarray  # (I,) grid indices
    gains: FloatArray  # (A,) trusted gains of every actor


def grid_index(problem: Problem, values: FloatArray) -> np.ndarray:
    """Grid index of each issue's value (the nearest valid grid point)."""
    g = problem.space.grid
    d = np.where(problem.space.grid_mask, np.abs(g - np.asarray(values)[:, None]), np.inf)
    return d.argmin(axis=1)


def trusted_gain_table(
    problem: Problem, state_index: np.ndarray, multipliers: FloatArray, weighted_values: FloatArray | None = None
) -> FloatArray:
    """``tau_a,c(i) * w_ai * (v_ai(g) - v_ai(x_i))`` for every actor, issue and grid point: ``(A, I, G)``."""
    wv = problem.weighted_values if weighted_values is None else weighted_values
    n_i = problem.space.n_issues
    here = wv[:, np.arange(n_i), state_index]  # (A, I)
    return multipliers[:, :, None] * (wv - here[:, :, None])


def concession_mask(problem: Problem, state: FloatArray, controller: np.ndarray) -> BoolArray:
    """Where each controlled issue may move in a tranche: ``(I, G)``.

    A tranche is an exchange of concessions, not of takings: an actor moves an issue it controls
    only in a direction that no other party loses from on that issue. Issues no one controls
    may move anywhere the parties agree to.
    """
    wv = problem.weighted_values
    idx = grid_index(problem, state)
    n_i = problem.space.n_issues
    here = wv[:, np.arange(n_i), idx]  # (A, I)
    ok = np.ones(problem.space.grid.shape, dtype=bool)
    parties = np.array(problem.parties)
    for i in range(n_i):
        c = int(controller[i])
        if c < 0:
            continue
        others = parties[parties != c]
        if len(others):
            ok[i] = np.all(wv[others, i, :] >= here[others, i, None] - 1e-12, axis=0)
    return ok


def allowed_masks(
    problem: Problem, state: FloatArray, caps: FloatArray, directions: BoolArray | None = None
) -> BoolArray:
    """For each feasible box of a step from ``state``: which grid points each issue may take ``(B, I, G)``
    (``directions``: where each issue may move at all, see ``concession_mask``)."""
    space = problem.space
    rl = relaxed_redlines(problem.redlines, state)
    boxes = rl.feasible_boxes(space, problem.parties)
    g = space.grid
    near = space.grid_mask & (np.abs(g - state[:, None]) <= caps[:, None] + EPS)
    if directions is not None:
        near &= directions
    fixed = list(problem.fixed)
    masks = []
    for b in boxes:
        m = near & (g >= b.lo[:, None] - EPS) & (g <= b.hi[:, None] + EPS)
        if fixed:
            m[fixed] &= np.abs(g[fixed] - state[fixed, None]) <= EPS
        if m.any(axis=1).all():
            masks.append(m)
    if not masks:
        return np.zeros((0, *g.shape), dtype=bool)
    return np.stack(masks)


def tranche_candidates(
    problem: Problem, proposer: int, parties: list[int], gains: FloatArray, masks: BoolArray,
    state: FloatArray | None = None,
) -> tuple[np.ndarray, FloatArray]:
    """Candidate tranches (grid indices ``(n, I)``) and every actor's trusted gain ``(n, A)``.

    For each weighting (the proposer's own gain times each ``mu`` in ``MU_GRID``, plus the
    others' gains, normalised by the largest gain each could get) every issue takes, within
    each box, the grid value that maximises the weighted gain; among equal values, the one
    nearest the ``state`` (an issue no one weighs stays where it is).
    """
    n_a, n_i, n_g = gains.shape
    if len(masks) == 0:
        return np.zeros((0, n_i), dtype=int), np.zeros((0, n_a))
    others = [a for a in parties if a != proposer]
    any_mask = masks.any(axis=0)
    top = np.where(any_mask[None], gains, -np.inf).max(axis=2).clip(min=0.0).sum(axis=1)  # (A,)
    scale = 1.0 / np.maximum(top, 1e-9)
    coefs = np.zeros((len(MU_GRID), n_a))
    coefs[:, others] = scale[others]
    coefs[:, proposer] = MU_GRID * scale[proposer]
    score = np.einsum("ca,aig->cig", coefs, gains)  # (C, I, G)
    if state is not None:  # ties go to the value nearest the state
        score = score - 1e-9 * np.abs(problem.space.grid - state[:, None])[None]
    masked = np.where(masks[:, None], score[None], -np.inf)  # (B, C, I, G)
    arg = masked.argmax(axis=-1).reshape(-1, n_i)  # (B*C, I)
    arg = np.unique(arg, axis=0)
    u = gains[:, np.arange(n_i)[None, :], arg].sum(axis=2).T  # (n, A)
    return arg, u


def choose_tranche(
    problem: Problem,
    proposer: int,
    parties: list[int],
    state: FloatArray,
    caps: FloatArray,
    multipliers: FloatArray,
    accept_gain: FloatArray,
    effective: Callable[[FloatArray], FloatArray] | None = None,
    controller: np.ndarray | None = None,
    vetoed: Callable[[FloatArray], np.ndarray] | None = None,
) -> Tranche | None:
    """The proposer's tranche: among candidates that give every other party a trusted gain of at
    least ``accept_gain`` (its margin) and the proposer a positive one, the one best for the
    proposer (then for the others in total). ``None``: no tranche is worth offering.

    ``effective`` maps trusted gains to gains as each actor judges them (its patrons' weighed
    in), for the proposer too; ``vetoed`` marks candidate values ``(n, I)`` that a certain veto
    would block, which the proposer never offers."""
    x_idx = grid_index(problem, state)
    gains = trusted_gain_table(problem, x_idx, multipliers)
    directions = None if controller is None else concession_mask(problem, state, controller)
    masks = allowed_masks(problem, state, caps, directions)
    idx, u = tranche_candidates(problem, proposer, parties, gains, masks, state)
    if len(idx) == 0:
        return None
    others = [a for a in parties if a != proposer]
    judged = u if effective is None else effective(u)
    ok = (judged[:, proposer] > 1e-9) & np.all(judged[:, others] >= accept_gain[others] - 1e-12, axis=1)
    moved = np.any(idx != x_idx[None, :], axis=1)
    ok &= moved
    if vetoed is not None and ok.any():
        cand = np.flatnonzero(ok)
        ok[cand[vetoed(problem.space.grid[np.arange(problem.space.n_issues)[None, :], idx[cand]])]] = False
    if not ok.any():
        return None
    cand = np.flatnonzero(ok)
    total = u[cand][:, others].sum(axis=1) if others else np.zeros(len(cand))
    best = cand[np.lexsort((total, np.round(judged[cand, proposer], 12)))[-1]]
    k = idx[best]
    values = problem.space.grid[np.arange(problem.space.n_issues), k]
    return Tranche(values.copy(), k.copy(), u[best].copy())


def partial_value(problem: Problem, issue: int, start: float, target: float, fraction: float) -> float:
    """The grid value reached when ``fraction`` of a move from ``start`` to ``target`` is made:
    the grid point between them nearest to ``start + fraction * (target - start)``, rounded
    toward ``start`` on a tie."""
    if fraction >= 1.0:
        return target
    if fraction <= 0.0:
        return start
    g = problem.space.grid[issue][problem.space.grid_mask[issue]]
    lo, hi = min(start, target), max(start, target)
    between = g[(g >= lo - EPS) & (g <= hi + EPS)]
    want = start + fraction * (target - start)
    d = np.abs(between - want) + 1e-12 * np.abs(between - start)
    return float(between[int(np.argmin(d))])
