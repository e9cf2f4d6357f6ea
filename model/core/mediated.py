"""The mediator's single negotiating text: one draft, revised round by round in answer to objections.

Raiffa (1982, *The Art and Science of Negotiation*, ch. 14) describes the single negotiating text
used at Camp David: instead of the parties trading offers, a mediator writes one draft agreement,
asks each side not to accept or reject it but to criticise it, and rewrites it in the light of the
criticisms, again and again, until no side can improve it for itself without hurting the others.
Klein, Faratin, Sayama & Bar-Yam (2003, "Negotiating complex contracts", *Group Decision and
Negotiation* 12) formalise this as mediated single-text negotiation: a mediator proposes changes
to one contract, the parties respond, and the mediator keeps the changes that the parties' answers
support. This module is the pure numpy rule of one revision; the Mesa shell calls ``revise_text``
once per round with each actor's current *need* (its aspiration, never below its reservation).

All texts are grid packages: one grid index per issue into ``problem.space.grid``. A text is
*feasible* when it crosses no party's red line, i.e. lies in one of the feasible boxes.
*Normalised surplus* is ``(u_a - r_a) / (best_a - r_a)``: 0 at the actor's reservation utility, 1 at
its best feasible package.

**The first draft** (``initial_text``): the feasible grid package with the largest sum over the
parties of normalised surplus (the utilitarian text, found issue by issue inside each feasible box;
ties go to the first box). With no feasible box there is no text: ``ValueError``.

**One revision** (``revise_text``):

1. *Objections.* Every party whose need the text does not meet names one change: the single-issue
   move that raises its own utility most, among the moves that keep the text feasible and move the
   issue at most ``max_step`` from its current value. On an issue whose grid points lie further
   apart than ``max_step`` (an ordinal issue with few levels) the next grid point on either side is
   also allowed, so that no issue is frozen. Ties go to the lowest issue, then the lowest grid
   index. A party with no move that raises its utility makes no objection.
2. *Candidates.* The mediator considers (a) each objection alone, in party order; (b) all objections
   together, if they name different issues (or the same value) and the result is feasible; (c) each
   of these combined with a compensating move for the party hurt most by it (the largest drop in
   normalised surplus against the current text; lowest index on ties; none if nobody loses): that
   party's best single-issue move, by the rule of step 1, on an issue none of the applied objections
   touches, that keeps the text feasible and raises its utility.
3. *Choice.* The objective of a text is, first, the smallest normalised surplus among the parties
   whose need the current text does not meet and, second, the sum of normalised surplus over all
   parties. The mediator takes the candidate with the best objective (the lowest candidate index on
   exact ties, in the order a, b, c) and adopts it only if its objective is strictly better than the
   current text's; otherwise the text stays as it is (``changed=False``). When every party's need is
   met nobody objects and the text stays.

The revised text never leaves the feasible region: every candidate is checked against the boxes.
The rule is deterministic; ``rng`` is accepted so that the shell can pass its generator (and for
random candidate moves in a later variant) but is not used, so the same inputs always give the
same revision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.problem import Problem
from model.core.search import normalised_surplus
from model.core.space import EPS, BoolArray, FloatArray

#: Smallest change of utility or objective that counts as an improvement (guards against rounding).
_TOL = 1e-12


@dataclass(frozen=True, eq=False)
class Revision:
    """The outcome of one round of the single negotiating text.

    Attributes:
        text: ``(I,)`` grid indices of the revised text (equal to the old one when unchanged).
        changed: whether the mediator adopted a revision.
        objections: party index -> ``(issue index, grid index it asked for)``.
        satisfied: ``(A,)`` whose need the revised text meets (its red lines hold and ``u >= need``).
    """

    text: np.ndarray
    changed: bool
    objections: dict[int, tuple[int, int]]
    satisfied: np.ndarray


def initial_text(problem: Problem) -> np.ndarray:
    """The mediator's first draft: the feasible grid package maximising the parties' total normalised surplus.

    Raises:
        ValueError: no package satisfies every party's red lines.
    """
    if len(problem.boxes) == 0:
        raise ValueError("no package satisfies every party's red lines: there is no text to draft")
    parties = list(problem.parties)
    span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
    coefs = np.zeros((1, problem.n_actors))
    coefs[0, parties] = 1.0 / span[parties]
    idx = problem.maximize_weighted_indexed(coefs, values=False)[1]  # (B, I)
    total = normalised_surplus(problem, problem.grid_utility(idx))[:, parties].sum(axis=1)
    best = int(np.argmax(total))
    return np.array(idx[best], dtype=int)


def revise_text(
    problem: Problem,
    text: np.ndarray,
    need: np.ndarray,
    rng: np.random.Generator,
    max_step: float = 0.25,
) -> Revision:
    """One round: the parties object to the text, the mediator revises it (see the module docstring).

    Args:
        problem: the negotiation.
        text: ``(I,)`` grid indices of the current text (a feasible text, as ``initial_text`` and
            earlier revisions give).
        need: ``(A,)`` each actor's current acceptance threshold.
        rng: the shell's generator; not used (the rule is deterministic).
        max_step: how far, on the issue's [0, 1] scale, one move may shift an issue.
    """
    del rng  # deterministic rule; see the module docstring
    text = _check_text(problem, text)
    need = np.asarray(need, dtype=float)
    if need.shape != (problem.n_actors,):
        raise ValueError(f"need has shape {need.shape}, expected ({problem.n_actors},)")
    parties = list(problem.parties)
    u_now = problem.grid_utility(text[None, :])[0]
    unmet = [a for a in parties if not _meets(problem, text, u_now, need)[a]]

    objections: dict[int, tuple[int, int]] = {}
    allowed = _allowed_moves(problem, text, max_step)
    for a in unmet:
        move = _best_move(problem, a, text, allowed, frozenset())
        if move is not None:
            objections[a] = move

    new_text, changed = text, False
    if objections:
        cands = _candidates(problem, text, objections, max_step)
        s_now = normalised_surplus(problem, u_now)
        cur = (float(s_now[unmet].min()), float(s_now[parties].sum()))
        s = normalised_surplus(problem, problem.grid_utility(cands))
        worst = s[:, unmet].min(axis=1)
        total = s[:, parties].sum(axis=1)
        top = worst >= worst.max() - _TOL
        k = int(np.flatnonzero(top & (total >= total[top].max() - _TOL))[0])
        if worst[k] > cur[0] + _TOL or (worst[k] >= cur[0] - _TOL and total[k] > cur[1] + _TOL):
            new_text, changed = cands[k].copy(), True

    u_new = problem.grid_utility(new_text[None, :])[0]
    return Revision(new_text, changed, objections, _meets(problem, new_text, u_new, need))


# ---------------------------------------------------------------------------- helpers


def _check_text(problem: Problem, text: np.ndarray) -> np.ndarray:
    t = np.asarray(text)
    n_i, n_g = problem.space.grid.shape
    if t.shape != (n_i,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"text must be {n_i} integer grid indices, got shape {t.shape} and dtype {t.dtype}")
    if np.any(t < 0) or np.any(t >= n_g) or not np.all(problem.space.grid_mask[np.arange(n_i), t]):
        raise ValueError(f"text has grid indices outside the issues' grids: {t.tolist()}")
    return t.astype(int)


def _meets(problem: Problem, text: np.ndarray, u: FloatArray, need: FloatArray) -> BoolArray:
    """Whose need the text meets: the actor's own red lines hold and its utility reaches its need."""
    values = problem.space.grid[np.arange(problem.space.n_issues), text]
    lines_ok = problem.redlines.satisfied(values[None, :])[0]
    return np.asarray(lines_ok & (u >= need - 1e-9), dtype=bool)


def _feasible(problem: Problem, texts: np.ndarray) -> BoolArray:
    """Whether each grid package ``(n, I)`` lies in some feasible box: ``(n,)``."""
    n_i = problem.space.n_issues
    inside = problem.box_masks[:, np.arange(n_i)[None, :], texts]  # (B, n, I)
    return np.asarray(inside.all(axis=2).any(axis=0), dtype=bool)


def _allowed_moves(problem: Problem, text: np.ndarray, max_step: float) -> BoolArray:
    """Single-issue moves from ``text``: ``(I, G)``, true where setting issue i to grid index g is a
    real change, within the step limit and keeps the text feasible."""
    grid, mask, bm = problem.space.grid, problem.space.grid_mask, problem.box_masks
    n_i, n_g = grid.shape
    rows = np.arange(n_i)
    cur = grid[rows, text]
    cols = np.arange(n_g)[None, :]
    near = np.abs(grid - cur[:, None]) <= max_step + EPS
    neighbour = np.abs(cols - text[:, None]) == 1  # the next grid point on either side, however far
    step_ok = mask & (near | neighbour) & (cols != text[:, None])
    inbox = bm[:, rows, text]  # (B, I): box b admits the text's value on issue i
    others_ok = inbox.sum(axis=1, keepdims=True) - inbox >= n_i - 1  # (B, I): all other issues admitted
    reach = (others_ok[:, :, None] & bm).any(axis=0)  # (I, G)
    return np.asarray(step_ok & reach, dtype=bool)


def _best_move(
    problem: Problem, actor: int, text: np.ndarray, allowed: BoolArray, exclude: frozenset[int]
) -> tuple[int, int] | None:
    """The actor's best single-issue move among ``allowed`` off the ``exclude`` issues, or ``None``
    when no move raises its utility. Ties: lowest issue, then lowest grid index."""
    wv = problem.weighted_values[actor]  # (I, G)
    rows = np.arange(wv.shape[0])
    gain = wv - wv[rows, text][:, None]
    ok = allowed.copy()
    if exclude:
        ok[sorted(exclude), :] = False
    gain = np.where(ok, gain, -np.inf)
    flat = int(np.argmax(gain))
    i, g = divmod(flat, wv.shape[1])
    if not gain[i, g] > _TOL:
        return None
    return int(i), int(g)


def _candidates(
    problem: Problem, text: np.ndarray, objections: dict[int, tuple[int, int]], max_step: float
) -> np.ndarray:
    """The mediator's feasible candidate texts ``(n, I)``, in the order a, b, c of the module docstring."""
    base: list[tuple[np.ndarray, frozenset[int]]] = []
    for i, g in objections.values():  # (a) each objection alone (feasible by construction)
        t = text.copy()
        t[i] = g
        base.append((t, frozenset({i})))
    if len(objections) > 1:  # (b) all objections together, if they agree and are feasible
        asked: dict[int, int] = {}
        clash = False
        for i, g in objections.values():
            clash |= asked.setdefault(i, g) != g
        if not clash:
            t = text.copy()
            for i, g in asked.items():
                t[i] = g
            if _feasible(problem, t[None, :])[0]:
                base.append((t, frozenset(asked)))
    parties = list(problem.parties)
    s_now = normalised_surplus(problem, problem.grid_utility(text[None, :])[0])[parties]
    s_base = normalised_surplus(problem, problem.grid_utility(np.array([t for t, _ in base])))[:, parties]
    out = [t for t, _ in base]
    for (t, issues), s in zip(base, s_base, strict=True):  # (c) with a compensating move
        drop = s_now - s
        k = int(np.argmax(drop))
        if not drop[k] > _TOL:
            continue
        move = _best_move(problem, parties[k], t, _allowed_moves(problem, t, max_step), issues)
        if move is not None:
            c = t.copy()
            c[move[0]] = move[1]
            out.append(c)
    return np.array(out, dtype=int)
