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
import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.core.problem import Problem
from model.core.redlines import RedLine, RedLineSet
from model.core.search import MU_GRID
from model.core.space import EPS, BoolArray, FloatArray, OutcomeSpace


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


def concession_mask(
    problem: Problem, state: FloatArray, controller: np.ndarray, state_index: np.ndarray | None = None
) -> BoolArray:
    """Where each controlled issue may move in a tranche: ``(I, G)``.

    A tranche is an exchange of concessions, not of takings: an actor moves an issue it controls
    only in a direction that no other party loses from on that issue. Issues no one controls
    may move anywhere the parties agree to. (``state_index``: the state's grid indices, when known.)
    """
    wv = problem.weighted_values
    idx = grid_index(problem, state) if state_index is None else state_index
    n_a, n_i = wv.shape[0], problem.space.n_issues
    here = wv[:, np.arange(n_i), idx]  # (A, I)
    ctrl = np.asarray(controller)
    # the parties other than the controller of each controlled issue: ``(A, I)``
    judges = problem.consent.astype(bool)[:, None] & (ctrl >= 0)[None, :] & (np.arange(n_a)[:, None] != ctrl[None, :])
    return np.all((wv >= (here - 1e-12)[:, :, None]) | ~judges[:, :, None], axis=0)


#: Per outcome space: the relaxed feasible boxes' grid masks by state (see ``_relaxed_box_masks``).
_STATES_KEPT = 2048
_BOX_SETS_KEPT = 256


def _relaxed_box_masks(problem: Problem, state: FloatArray) -> BoolArray:
    """Which grid points each box of the relaxed red lines (``relaxed_redlines``) admits, the
    grid's padding not left out: ``(B, I, G)``, read-only. The boxes depend only on the red
    lines, the parties and the state, so they are kept (on the outcome space, by state)."""
    space = problem.space
    memo = space.memo.setdefault("tranche_boxes", {})
    key = (problem.redlines, problem.parties, np.asarray(state).tobytes())
    found = memo.get(key)
    if found is not None:
        return found
    boxes = problem.redlines.relaxed_feasible_boxes(space, problem.parties, state)
    g = space.grid
    if boxes:
        lo = np.array([b.lo for b in boxes])
        hi = np.array([b.hi for b in boxes])
        sets = space.memo.setdefault("tranche_box_sets", {})
        skey = (lo.tobytes(), hi.tobytes())
        found = sets.get(skey)
        if found is None:
            found = (g[None] >= lo[:, :, None] - EPS) & (g[None] <= hi[:, :, None] + EPS)
            found.setflags(write=False)
            if len(sets) >= _BOX_SETS_KEPT:
                sets.pop(next(iter(sets)))
            sets[skey] = found
    else:
        found = np.zeros((0, *g.shape), dtype=bool)
        found.setflags(write=False)
    if len(memo) >= _STATES_KEPT:
        memo.pop(next(iter(memo)))
    memo[key] = found
    return found


def allowed_masks(
    problem: Problem, state: FloatArray, caps: FloatArray, directions: BoolArray | None = None
) -> BoolArray:
    """For each feasible box of a step from ``state``: which grid points each issue may take ``(B, I, G)``
    (``directions``: where each issue may move at all, see ``concession_mask``)."""
    space = problem.space
    g = space.grid
    inbox = _relaxed_box_masks(problem, state)
    near = space.grid_mask & (np.abs(g - state[:, None]) <= caps[:, None] + EPS)
    if directions is not None:
        near &= directions
    if problem.fixed:
        fixed = list(problem.fixed)
        near[fixed] &= np.abs(g[fixed] - state[fixed, None]) <= EPS
    m = inbox & near[None]
    keep = m.any(axis=2).all(axis=1)
    return m if keep.all() else m[keep]


def _unique_rows(arg: np.ndarray, n_g: int) -> np.ndarray:
    """``np.unique(arg, axis=0)`` for grid indices ``(n, I)`` (rows in lexicographic order)."""
    n, n_i = arg.shape
    if n_g > 256 or n_i == 0:
        return np.unique(arg, axis=0)
    # one byte per index: byte strings compare as the rows do
    raw = arg.astype(np.uint8).tobytes()
    rows = sorted({raw[k : k + n_i] for k in range(0, n * n_i, n_i)})
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), n_i).astype(arg.dtype)


class _Points:
    """The grid points a tranche may take, as ``tranche_candidates`` searches them: the points
    some box admits, ``K`` of them in (issue, grid) order, with every issue among them.

    ``sel``: which points of a longer list these are (``_Step``); ``mask``: which points each
    box admits ``(B, K)``; ``starts``: where each issue's points begin. An issue with one point
    is settled (``base``: each issue's point, ``base_grid``: its grid index); the ``F`` issues
    with more (``free``) have their places among the ``KF`` free points (``free_pts``) side by
    side in ``slot`` ``(F, W)``, padded with ``KF`` (a place no box admits), with their grid
    indices in ``grid_of``; ``radix``: weights
    that make a choice of slots one integer, ordered as the rows of grid indices (``None``:
    too many choices for an integer).
    """

    __slots__ = ("sel", "iss", "gix", "mask", "starts", "base", "base_grid", "free", "slot", "grid_of", "radix",
                 "free_pts", "free_mask", "one_box", "tie")

    def __init__(self, sel: np.ndarray, iss: np.ndarray, gix: np.ndarray, mask: BoolArray, n_i: int) -> None:
        counts = np.bincount(iss, minlength=n_i)
        starts = np.cumsum(counts) - counts
        self.sel, self.iss, self.gix, self.mask, self.starts = sel, iss, gix, mask, starts
        self.base = starts.copy()  # a settled issue's only point (a free issue's first)
        self.base_grid = gix[starts]
        free = np.flatnonzero(counts > 1)
        self.free = free
        in_free = counts[iss] > 1
        self.free_pts = np.flatnonzero(in_free)  # the free issues' points, in order
        f_iss, f_gix = iss[in_free], gix[in_free]
        f_row = np.cumsum(counts > 1)[f_iss] - 1  # each free point's row in ``slot``
        pos = self.free_pts - starts[f_iss]
        n_f, n_fk = len(free), len(self.free_pts)
        width = int(counts.max()) if n_f else 0
        self.slot = np.full((n_f, width), n_fk)  # places among the free points
        self.slot[f_row, pos] = np.arange(n_fk)
        self.grid_of = np.zeros((n_f, width), dtype=np.intp)
        self.grid_of[f_row, pos] = f_gix
        self.free_mask = mask[:, self.free_pts]
        # a choice of slots as one integer: the first free issue weighs most (then the integers
        # sort as the rows of grid indices do, the settled issues being equal)
        sizes = [int(k) for k in counts[free]]
        self.radix: np.ndarray | None = None
        if math.prod(sizes) < 2**62:
            radix = [1] * n_f
            for f in range(n_f - 2, -1, -1):
                radix[f] = radix[f + 1] * sizes[f + 1]
            self.radix = np.array(radix, dtype=np.int64)
        self.one_box = len(mask) == 1  # then the box admits every point
        self.tie: FloatArray | None = None  # the tie-break penalty at the free points, when kept

    @classmethod
    def of(
        cls, sel: np.ndarray, iss: np.ndarray, gix: np.ndarray, boxes: BoolArray, n_i: int
    ) -> _Points | None:
        """The points among ``iss, gix`` (in (issue, grid) order) that some box of ``boxes``
        ``(B, K)`` admits, keeping the boxes that admit a point of every issue, as
        ``allowed_masks`` keeps them (``None``: no box does)."""
        if boxes.shape[0] == 0:
            return None
        counts = np.bincount(iss, minlength=n_i)
        if not counts.all():
            return None
        covered = np.logical_or.reduceat(boxes, np.cumsum(counts) - counts, axis=1)  # (B, I)
        keep = covered.all(axis=1)
        if not keep.any():
            return None
        m = boxes if keep.all() else boxes[keep]
        used = m.any(axis=0)
        if not used.all():
            m = m[:, used]
            sel, iss, gix = sel[used], iss[used], gix[used]
        return cls(sel, iss, gix, m, n_i)


def _candidates(
    pts: _Points, proposer: int, others: list[int], g_sub: FloatArray, tie: FloatArray | None, n_g: int
) -> tuple[np.ndarray, FloatArray]:
    """``tranche_candidates`` on the points ``pts``: ``g_sub`` holds the gains there ``(A, K)``,
    ``tie`` the tie-break penalty at the free issues' points (``None``: none). Every number is
    computed as over the whole grid (the same operations, element by element), so the
    candidates are the same and come in the same order (rows of grid indices, ascending)."""
    n_a, n_k = g_sub.shape
    n_i = len(pts.starts)
    n_f = len(pts.free)
    if n_f == 0:  # nothing can move: one candidate
        arg = pts.base_grid[None, :].copy()
        kk = pts.base[None, :]
    else:
        # each actor's largest gain on each issue, summed: as ``max`` over the whole masked grid
        # (``(A, I)`` C-contiguous, as the whole-grid ``max`` leaves it, so the sum adds alike)
        top = np.ascontiguousarray(np.maximum.reduceat(g_sub, pts.starts, axis=1)).clip(min=0.0).sum(axis=1)
        scale = 1.0 / np.maximum(top, 1e-9)
        coefs = np.zeros((len(MU_GRID), n_a))
        coefs[:, others] = scale[others]
        coefs[:, proposer] = MU_GRID * scale[proposer]
        # C-contiguous, with at least two points (a free issue has two): ``einsum`` then runs the
        # same loop as over the whole table ``(A, I, G)``, with the same sum at every point (a
        # gathered array is laid out otherwise, and ``einsum`` would add in another order)
        g_free = np.ascontiguousarray(g_sub[:, pts.free_pts])
        n_fk = g_free.shape[1]
        score = np.einsum("ca,ak->ck", coefs, g_free)  # (C, KF): each point as over the whole grid
        if tie is not None:  # ties go to the value nearest the state
            score = score - tie[None]
        if pts.one_box:
            masked = np.empty((1, score.shape[0], n_fk + 1))
            masked[0, :, :n_fk] = score
            masked[0, :, n_fk] = -np.inf
        else:
            masked = np.full((len(pts.mask), score.shape[0], n_fk + 1), -np.inf)  # (B, C, KF + 1)
            np.copyto(masked[:, :, :n_fk], score[None], where=pts.free_mask[:, None])
        best = masked[:, :, pts.slot].argmax(axis=-1).reshape(-1, n_f)  # (B*C, F): each free issue's first best slot
        # the distinct choices, ordered as their rows of grid indices (slots ascend with them)
        if pts.radix is not None:
            key = best @ pts.radix
            order = key.argsort(kind="stable")
            key = key[order]
            first = np.empty(len(key), dtype=bool)
            first[0] = True
            np.not_equal(key[1:], key[:-1], out=first[1:])
            best = best[order[first]]
        else:
            best = _unique_rows(best, pts.slot.shape[1])
        n = len(best)
        arg = np.empty((n, n_i), dtype=np.intp)
        arg[:] = pts.base_grid
        arg[:, pts.free] = pts.grid_of[np.arange(n_f), best]
        kk = np.empty((n, n_i), dtype=np.intp)
        kk[:] = pts.base
        kk[:, pts.free] = pts.free_pts[pts.slot[np.arange(n_f), best]]
    u = g_sub[:, kk].sum(axis=2).T  # (n, A), as ``gains[:, np.arange(I)[None, :], arg]`` sums them
    return arg, u


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
    # only the points some box admits matter (every box admits a point of every issue)
    iss, gix = np.nonzero(masks[0] if len(masks) == 1 else masks.any(axis=0))
    pts = _Points(np.arange(len(iss)), iss, gix, masks[:, iss, gix], n_i)
    f_iss, f_gix = iss[pts.free_pts], gix[pts.free_pts]
    tie = None if state is None else 1e-9 * np.abs(problem.space.grid[f_iss, f_gix] - state[f_iss])
    return _candidates(pts, proposer, others, gains[:, iss, gix], tie, n_g)


class _Step:
    """What a step from one state under one set of caps may reach, before the directions
    (``concession_mask``): the state's grid indices, the ``K0`` grid points within the caps
    (issues off the table stay), which of them each relaxed box admits ``(B0, K0)``, their
    tie-break penalty, and the points left under each set of directions (``_Points``)."""

    __slots__ = ("x_idx", "iss", "gix", "boxes", "tie", "judges", "points")

    def __init__(self, problem: Problem, state: FloatArray, caps: FloatArray) -> None:
        space = problem.space
        g = space.grid
        self.x_idx = grid_index(problem, state)
        near = space.grid_mask & (np.abs(g - state[:, None]) <= caps[:, None] + EPS)
        if problem.fixed:
            fixed = list(problem.fixed)
            near[fixed] &= np.abs(g[fixed] - state[fixed, None]) <= EPS
        self.iss, self.gix = np.nonzero(near)
        self.boxes = _relaxed_box_masks(problem, state)[:, self.iss, self.gix]  # (B0, K0)
        self.tie = 1e-9 * np.abs(g[self.iss, self.gix] - state[self.iss])
        self.judges: dict[bytes, BoolArray] = {}  # by controller: who is not a judge of each point
        self.points: dict[bytes | None, _Points | None] = {}  # by the directions at the points


_STEPS_KEPT = 2048
_POINT_SETS_KEPT = 16


def _step(problem: Problem, state: FloatArray, caps: FloatArray) -> _Step:
    """The ``_Step`` from ``state`` under ``caps``, kept on the outcome space (it depends only on
    the space, the red lines, the parties, the issues off the table, the state and the caps)."""
    memo = problem.space.memo.setdefault("tranche_steps", {})
    key = (problem.redlines, problem.parties, problem.fixed, np.asarray(state).tobytes(), np.asarray(caps).tobytes())
    st = memo.get(key)
    if st is None:
        st = _Step(problem, state, caps)
        if len(memo) >= _STEPS_KEPT:
            memo.pop(next(iter(memo)))
        memo[key] = st
    return st


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
    # as tranche_candidates(problem, proposer, parties, trusted_gain_table(...),
    # allowed_masks(problem, state, caps, concession_mask(...)), state), on the grid points
    # within the caps only, keeping what depends on the state and caps alone (``_step``)
    st = _step(problem, state, caps)
    x_idx = st.x_idx
    wv = problem.weighted_values
    n_i, n_g = problem.space.grid.shape
    here = wv[:, np.arange(n_i), x_idx]  # (A, I)
    wv0 = wv[:, st.iss, st.gix]  # (A, K0)
    here0 = here[:, st.iss]
    dkey: bytes | None = None
    if controller is not None:  # concession_mask at the points
        ctrl = np.asarray(controller)
        ckey = ctrl.tobytes()
        not_judge = st.judges.get(ckey)
        if not_judge is None:
            others = np.arange(wv.shape[0])[:, None] != ctrl[None, :]
            judges = problem.consent.astype(bool)[:, None] & (ctrl >= 0)[None, :] & others
            not_judge = st.judges[ckey] = ~judges[:, st.iss]
        dkey = ((wv0 >= here0 - 1e-12) | not_judge).all(axis=0).tobytes()
    if dkey in st.points:
        pts = st.points[dkey]
    else:
        sel = np.arange(len(st.iss)) if dkey is None else np.flatnonzero(np.frombuffer(dkey, dtype=bool))
        pts = _Points.of(sel, st.iss[sel], st.gix[sel], st.boxes[:, sel], n_i)
        if pts is not None:
            pts.tie = st.tie[pts.sel[pts.free_pts]]
        if len(st.points) >= _POINT_SETS_KEPT:
            st.points.pop(next(iter(st.points)))
        st.points[dkey] = pts
    if pts is None:
        return None
    g_sub = multipliers[:, st.iss] * (wv0 - here0)  # trusted_gain_table at the points
    if len(pts.sel) < len(st.iss):
        g_sub = g_sub[:, pts.sel]
    others = [a for a in parties if a != proposer]
    idx, u = _candidates(pts, proposer, others, g_sub, pts.tie, n_g)
    if len(idx) == 0:
        return None
    judged = u if effective is None else effective(u)
    ok = (judged[:, proposer] > 1e-9) & np.all(judged[:, others] >= accept_gain[others] - 1e-12, axis=1)
    moved = np.any(idx != x_idx[None, :], axis=1)
    ok &= moved
    if not ok.any():
        return None
    cand = np.flatnonzero(ok)
    total = u[cand][:, others].sum(axis=1) if others else np.zeros(len(cand))
    order = np.lexsort((total, np.round(judged[cand, proposer], 12)))  # best last
    pick = order[-1]
    if vetoed is not None:
        # the best candidate no certain veto blocks (the lexsort is stable, so dropping the
        # vetoed ones first would pick the same): ask about the best first, then the rest
        rows = np.arange(problem.space.n_issues)[None, :]
        if vetoed(problem.space.grid[rows, idx[cand[order[-1:]]]])[0]:
            rest = order[:-1]
            if len(rest):
                rest = rest[~vetoed(problem.space.grid[rows, idx[cand[rest]]])]
            if not len(rest):
                return None
            pick = rest[-1]
    best = cand[pick]
    k = idx[best]
    values = problem.space.grid[np.arange(problem.space.n_issues), k]
    return Tranche(values.copy(), k.copy(), u[best].copy())


#: How many tranche choices ``kept_tranche`` keeps per problem.
_CHOICES_KEPT = 8192


def kept_tranche(problem: Problem, key: tuple[object, ...], choose: Callable[[], Tranche | None]) -> Tranche | None:
    """``choose()``, kept on the problem under ``key``, which must hold every input of the choice
    besides the problem (proposer, state, caps, trust, margin, the mechanics). ``choose_tranche``
    is a function of its inputs, and the replicates of a sweep point meet the same states again
    and again (three in four choices on the baseline), so a kept choice is what a fresh one gives;
    each caller gets its own copy."""
    memo = problem.__dict__.get("_kept_tranches")
    if memo is None:
        memo = problem.__dict__["_kept_tranches"] = {}
    if key in memo:
        tr = memo[key]
    else:
        tr = memo[key] = choose()
        if len(memo) > _CHOICES_KEPT:
            memo.pop(next(iter(memo)))  # the oldest
    return None if tr is None else Tranche(tr.values.copy(), tr.index.copy(), tr.gains.copy())


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


def partial_values(
    problem: Problem, issues: np.ndarray | list[int], starts: FloatArray, targets: FloatArray, fraction: float
) -> FloatArray:
    """``partial_value`` for several issues at once (the same values): ``(k,)``.

    A move's few issues are done in plain floats (numpy's fixed cost per call outweighs the
    work): each issue's valid grid values ascend, so the point nearest to the target share is
    one of the few around it (``bisect``), and ``_partial_one`` computes the same distances with
    the same operations as the array form below, which stays for any case it leaves."""
    starts = np.asarray(starts, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if fraction >= 1.0:
        return targets.copy()
    if fraction <= 0.0:
        return starts.copy()
    # a function of the grid and its arguments, and the runs of one scenario make the same moves
    # again and again (a framework's phases, a partial delivery): kept on the outcome space
    which = tuple(np.asarray(issues).tolist())
    key = (which, starts.tobytes(), targets.tobytes(), fraction)
    memo = problem.space.memo.setdefault("partial_values", {})
    found = memo.get(key)
    if found is None:
        found = _partial_values(problem, which, starts, targets, fraction)
        found.setflags(write=False)
        if len(memo) >= _PARTIALS_KEPT:
            memo.pop(next(iter(memo)))  # the oldest
        memo[key] = found
    return found.copy()


#: How many partial moves ``partial_values`` keeps per outcome space.
_PARTIALS_KEPT = 8192


def _partial_values(
    problem: Problem, issues: tuple[int, ...], starts: FloatArray, targets: FloatArray, fraction: float
) -> FloatArray:
    """``partial_values`` for ``0 < fraction < 1``, computed."""
    levels = _valid_grid(problem.space)
    got = [_partial_one(levels[i], s, t, fraction)
           for i, s, t in zip(issues, starts.tolist(), targets.tolist(), strict=True)]
    if None not in got:
        return np.array(got, dtype=float)
    rows = list(issues)  # (a list: a tuple would index the grid's two axes)
    g = problem.space.grid[rows]  # (k, W)
    lo, hi = np.minimum(starts, targets)[:, None], np.maximum(starts, targets)[:, None]
    between = problem.space.grid_mask[rows] & (g >= lo - EPS) & (g <= hi + EPS)
    want = (starts + fraction * (targets - starts))[:, None]
    d = np.where(between, np.abs(g - want) + 1e-12 * np.abs(g - starts[:, None]), np.inf)
    return g[np.arange(len(g)), d.argmin(axis=1)]


def _valid_grid(space: OutcomeSpace) -> list[list[float]]:
    """Each issue's valid grid values, ascending, as floats (kept on the space)."""
    memo = space.memo.setdefault("valid_grid", {})
    got = memo.get(None)
    if got is None:
        got = memo[None] = [space.grid[i][space.grid_mask[i]].tolist() for i in range(space.n_issues)]
    return got


def _partial_one(vals: list[float], start: float, target: float, fraction: float) -> float | None:
    """``partial_values`` on one issue from its ascending valid values: the value between
    ``start`` and ``target`` (within ``EPS``) nearest to ``start + fraction * (target - start)``,
    a tie going to the first (as ``argmin``); the candidates are the two values on either side of
    that point (the distance is convex along the grid), computed as the array form computes
    them. ``None``: no value between (the caller falls back to the array form)."""
    lo, hi = min(start, target), max(start, target)
    want = start + fraction * (target - start)
    j = bisect_left(vals, want)
    best, best_d = None, math.inf
    for g in vals[max(0, j - 2): j + 2]:
        if g >= lo - EPS and g <= hi + EPS:
            d = abs(g - want) + 1e-12 * abs(g - start)
            if d < best_d:
                best, best_d = g, d
    return best
