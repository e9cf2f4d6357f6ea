"""Red lines: hard constraints an actor never crosses, in any package it proposes or accepts.

Two forms:

* a bound on one issue: ``lo <= x[issue] <= hi`` ("Belarus never below 0.8 on keeping its
  Russia ties" is ``russia_alignment <= 0.2`` on the scale where 1 is full distance);
* a conditional bound: *if* ``x[when] > threshold`` (or ``< threshold``) *then*
  ``lo <= x[issue] <= hi`` ("the U.S. never lifts all sanctions without at least 0.5 of the
  prisoners released").

The feasible set of a collection of red lines is a union of boxes: each conditional line is
either *off* (its condition fails: a bound on the ``when`` issue) or *on* (its bound holds).
``feasible_boxes`` enumerates these boxes, which lets the search work issue by issue inside
each box, and tells exactly whether any package satisfies all the lines.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from model.core.chunks import by_rows
from model.core.space import EPS, BoolArray, FloatArray, OutcomeSpace

#: The box enumeration stops after this many boxes (what it found is still safe; see
#: ``RedLineSet.feasible_boxes``).
MAX_BOXES = 4096

#: How many enumerations ``feasible_boxes`` keeps per outcome space.
_MEMO_SIZE = 512


@dataclass(frozen=True)
class RedLine:
    """One red line of one actor (indices refer to the outcome space)."""

    actor: int
    issue: int
    lo: float = 0.0
    hi: float = 1.0
    when_issue: int | None = None
    when_above: float | None = None
    when_below: float | None = None
    label: str = ""

    @property
    def conditional(self) -> bool:
        return self.when_issue is not None

    def describe(self, space: OutcomeSpace, actor_ids: Sequence[str]) -> str:
        if self.label:
            return self.label
        name = space.issues[self.issue].id
        parts = []
        if self.lo > 0.0:
            parts.append(f"{name} >= {self.lo:g}")
        if self.hi < 1.0:
            parts.append(f"{name} <= {self.hi:g}")
        text = " and ".join(parts) or f"{name} in [0, 1]"
        if self.conditional:
            assert self.when_issue is not None
            w = space.issues[self.when_issue].id
            cond = (
                f"{w} > {self.when_above:g}"
                if self.when_above is not None
                else f"{w} < {self.when_below:g}"
            )
            text = f"if {cond} then {text}"
        return f"{actor_ids[self.actor]}: {text}"


@dataclass(frozen=True)
class Box:
    """An axis-aligned box of packages: ``lo <= x <= hi`` issue by issue."""

    lo: FloatArray
    hi: FloatArray

    def contains(self, packages: FloatArray) -> BoolArray:
        x = np.atleast_2d(packages)
        return np.all((x >= self.lo - EPS) & (x <= self.hi + EPS), axis=1)


class RedLineSet:
    """All red lines of a negotiation, checked on many packages at once."""

    def __init__(self, lines: Sequence[RedLine], n_actors: int, n_issues: int) -> None:
        self.lines = tuple(lines)
        self.n_actors = n_actors
        self.n_issues = n_issues
        lo = np.zeros((n_actors, n_issues))
        hi = np.ones((n_actors, n_issues))
        cond = [ln for ln in self.lines if ln.conditional]
        for ln in self.lines:
            if not ln.conditional:
                lo[ln.actor, ln.issue] = max(lo[ln.actor, ln.issue], ln.lo)
                hi[ln.actor, ln.issue] = min(hi[ln.actor, ln.issue], ln.hi)
        lo.setflags(write=False)
        hi.setflags(write=False)
        self.lo, self.hi = lo, hi
        self._cond = cond
        self.truncated = False
        self._c_actor = np.array([c.actor for c in cond], dtype=int)
        self._c_when = np.array([c.when_issue for c in cond], dtype=int)
        # condition holds when sign * (x[when] - threshold) > 0
        self._c_sign = np.array([1.0 if c.when_above is not None else -1.0 for c in cond])
        self._c_thr = np.array(
            [c.when_above if c.when_above is not None else c.when_below for c in cond], dtype=float
        )
        self._c_issue = np.array([c.issue for c in cond], dtype=int)
        self._c_lo = np.array([c.lo for c in cond], dtype=float)
        self._c_hi = np.array([c.hi for c in cond], dtype=float)
        self._c_owner = np.zeros((len(cond), n_actors), dtype=bool)  # line k belongs to actor a
        self._c_owner[np.arange(len(cond)), self._c_actor] = True
        # the bounds with their tolerance, as ``satisfied`` compares with them
        self._lo_eps, self._hi_eps = lo - EPS, hi + EPS
        self._c_lo_eps, self._c_hi_eps = self._c_lo - EPS, self._c_hi + EPS

    def satisfied(self, packages: FloatArray, actors: Sequence[int] | None = None) -> BoolArray:
        """Whether each package crosses none of each actor's lines: ``(n, n_actors)`` booleans."""
        x = np.atleast_2d(np.asarray(packages, dtype=float))
        ok = by_rows(self._within_bounds, x, self._lo_eps.size)
        if self._cond:
            active = self._c_sign * (x[:, self._c_when] - self._c_thr) > EPS
            xv = x[:, self._c_issue]
            broken = active & ~((xv >= self._c_lo_eps) & (xv <= self._c_hi_eps))  # (n, K)
            ok &= ~(broken @ self._c_owner)  # no line of the actor broken
        if actors is not None:
            ok = ok[:, list(actors)]
        return ok

    def _within_bounds(self, x: FloatArray) -> BoolArray:
        x3 = x[:, None, :]
        return np.asarray(((x3 >= self._lo_eps) & (x3 <= self._hi_eps)).all(axis=2))

    def grid_checker(self, grid: FloatArray) -> Callable[[np.ndarray], BoolArray]:
        """``check(index)``: ``satisfied`` of the grid package ``grid[i, index[i]]`` ``(I,)``, as
        ``(n_actors,)`` booleans: the same comparisons, made once per grid point and looked up.

        Args:
            grid: ``(I, G)`` the issues' grid values (``OutcomeSpace.grid``).
        """
        n_i, n_g = grid.shape
        offset = np.arange(n_i) * n_g
        bound_ok = ((grid[None] >= self._lo_eps[:, :, None]) & (grid[None] <= self._hi_eps[:, :, None]))
        bound_ok = bound_ok.reshape(self.n_actors, -1)  # (A, I * G)
        if not self._cond:
            return lambda index: bound_ok[:, index + offset].all(axis=1)
        k = np.arange(len(self._cond))
        active = self._c_sign[:, None] * (grid[self._c_when] - self._c_thr[:, None]) > EPS  # (K, G)
        xv = grid[self._c_issue]
        holds = (xv >= self._c_lo_eps[:, None]) & (xv <= self._c_hi_eps[:, None])  # (K, G)
        when, issue, owner = self._c_when, self._c_issue, self._c_owner

        def check(index: np.ndarray) -> BoolArray:
            broken = active[k, index[when]] & ~holds[k, index[issue]]  # (K,)
            return bound_ok[:, index + offset].all(axis=1) & ~(broken @ owner)

        return check

    def crossed(self, package: FloatArray, actor: int | None = None) -> list[RedLine]:
        """The lines a single package crosses (of one actor, or of all)."""
        x = np.asarray(package, dtype=float)
        out = []
        for ln in self.lines:
            if actor is not None and ln.actor != actor:
                continue
            if ln.conditional:
                assert ln.when_issue is not None
                v = x[ln.when_issue]
                on = (
                    v > ln.when_above + EPS
                    if ln.when_above is not None
                    else v < (ln.when_below or 0.0) - EPS
                )
                if not on:
                    continue
            if x[ln.issue] < ln.lo - EPS or x[ln.issue] > ln.hi + EPS:
                out.append(ln)
        return out

    def feasible_boxes(self, space: OutcomeSpace, actors: Sequence[int]) -> list[Box]:
        """The boxes whose union is the set of packages that satisfy every line of ``actors``.

        Every line is honoured: each box satisfies all of them. The enumeration branches on a
        conditional line only where the current box leaves both its *off* and *on* cases open,
        and drops boxes that hold no admissible value on some issue (ordinal issues: no level
        inside), so an empty list means that no package satisfies all the lines. Past
        ``MAX_BOXES`` boxes the rest are not enumerated: the union is then a subset of the
        feasible set (safe: no package in it crosses a line) and ``truncated`` is set.
        """
        actors = list(actors)
        lo = self.lo[actors].max(axis=0)
        hi = self.hi[actors].min(axis=0)
        cond: list[tuple[int, float | None, float | None, int, float, float]] = list(
            dict.fromkeys(
                (int(c.when_issue or 0), c.when_above, c.when_below, c.issue, c.lo, c.hi)
                for c in self._cond
                if c.actor in actors
            )
        )
        self.truncated = False
        admissible = _issue_admissible(space)
        root_lo, root_hi = lo.tolist(), hi.tolist()
        if not all(admissible(i, root_lo[i], root_hi[i]) for i in range(len(root_lo))):
            return []
        boxes, self.truncated = _memo_boxes(space, admissible, lo, hi, cond)
        return boxes

    def lines_of(self, actor: int) -> list[RedLine]:
        return [ln for ln in self.lines if ln.actor == actor]

    def relaxed_feasible_boxes(self, space: OutcomeSpace, actors: Sequence[int], state: FloatArray) -> list[Box]:
        """The feasible boxes of these lines as they bind a step from ``state``: the same boxes as
        ``model.core.tranche.relaxed_redlines(self, state).feasible_boxes(space, actors)``, found
        without building the relaxed lines (and shared with ``feasible_boxes``'s memo). Unlike
        ``feasible_boxes`` it leaves ``truncated`` alone: the relaxed set is not this one."""
        key = tuple(int(a) for a in actors)
        plans = self.__dict__.setdefault("_relax_plans", {})
        plan = plans.get(key)
        if plan is None:
            plain = tuple((ln.issue, ln.lo, ln.hi) for ln in self.lines if not ln.conditional and ln.actor in key)
            conds = tuple(
                (int(ln.when_issue or 0), ln.when_above, ln.when_below, ln.issue, ln.lo, ln.hi)
                for ln in self.lines
                if ln.conditional and ln.actor in key
            )
            plan = plans[key] = (plain, conds)
        plain, conds = plan
        x = np.asarray(state, dtype=float).tolist()
        n_i = self.n_issues
        lo_l, hi_l = [0.0] * n_i, [1.0] * n_i
        for i, lo_v, hi_v in plain:  # every plain line is widened to the state
            xi = x[i]
            lo_l[i] = max(lo_l[i], min(lo_v, xi))
            hi_l[i] = min(hi_l[i], max(hi_v, xi))
        relaxed = []
        for w, above, below, i, clo, chi in conds:
            v = x[w]
            on = v > above + EPS if above is not None else v < (below or 0.0) - EPS
            if on:  # switched on already: widened like a plain line
                clo, chi = min(clo, x[i]), max(chi, x[i])
            relaxed.append((w, above, below, i, clo, chi))
        cond = list(dict.fromkeys(relaxed))
        lo, hi = np.array(lo_l, dtype=float), np.array(hi_l, dtype=float)
        admissible = _issue_admissible(space)
        root_lo, root_hi = lo.tolist(), hi.tolist()
        # ``admissible`` on every issue: an empty bound anywhere, or no level inside on an ordinal issue
        if any(a > b + EPS for a, b in zip(root_lo, root_hi, strict=True)) or not all(
            admissible(i, root_lo[i], root_hi[i]) for i, lv in enumerate(space.level_lists) if lv is not None
        ):
            return []
        return _memo_boxes(space, admissible, lo, hi, cond)[0]


def _issue_admissible(space: OutcomeSpace) -> Callable[[int, float, float], bool]:
    """``ok(i, lo, hi)``: whether ``lo <= x_i <= hi`` (within ``EPS``) holds an admissible value
    of issue ``i``: ``lo <= hi`` and, on an ordinal issue, one of its levels."""
    levels = space.level_lists

    def ok(i: int, lo: float, hi: float) -> bool:
        if lo > hi + EPS:
            return False
        lv = levels[i]
        if lv is None:
            return True
        j = bisect_left(lv, lo - EPS)  # the first level >= lo - EPS (levels ascend)
        return j < len(lv) and lv[j] <= hi + EPS

    return ok


def conflict_explanation(
    space: OutcomeSpace, redlines: RedLineSet, actors: Sequence[int], actor_ids: Sequence[str]
) -> str:
    """A sentence saying why no package satisfies the red lines of ``actors`` together."""
    actors = list(actors)
    lo = redlines.lo[actors]
    hi = redlines.hi[actors]
    for i, issue in enumerate(space.issues):
        a_lo = int(np.argmax(lo[:, i]))
        a_hi = int(np.argmin(hi[:, i]))
        if lo[a_lo, i] > hi[a_hi, i] + EPS:
            return (
                f"{actor_ids[actors[a_lo]]} needs {issue.id} >= {lo[a_lo, i]:g} but "
                f"{actor_ids[actors[a_hi]]} allows at most {hi[a_hi, i]:g}"
            )
    involved = sorted({actor_ids[ln.actor] for ln in redlines.lines if ln.actor in actors})
    return "the red lines of " + ", ".join(involved) + " leave no package that all accept"


def _memo_boxes(
    space: OutcomeSpace,
    admissible: Callable[[int, float, float], bool],
    lo: FloatArray,
    hi: FloatArray,
    cond: list[tuple[int, float | None, float | None, int, float, float]],
) -> tuple[list[Box], bool]:
    """The boxes within admissible root bounds ``lo``/``hi`` under conditional lines ``cond``,
    and whether ``MAX_BOXES`` cut them short. With no conditional line the bounds are the one
    box. The boxes depend only on these bounds, the lines and the space: step-by-step protocols
    ask again and again for the same relaxed lines, so the answers are kept on the space."""
    if not cond:
        lo.setflags(write=False)
        hi.setflags(write=False)
        return [Box(lo, hi)], False
    memo = space.memo.setdefault("feasible_boxes", {})
    mkey = (lo.tobytes(), hi.tobytes(), tuple(cond))
    if mkey in memo:
        found, truncated = memo[mkey]
        return list(found), truncated
    boxes, truncated = _enumerate_boxes(admissible, lo.tolist(), hi.tolist(), cond)
    if len(memo) >= _MEMO_SIZE:
        memo.pop(next(iter(memo)))  # the oldest
    memo[mkey] = (tuple(boxes), truncated)
    return boxes, truncated


def _enumerate_boxes(
    admissible: Callable[[int, float, float], bool],
    root_lo: list[float],
    root_hi: list[float],
    cond: list[tuple[int, float | None, float | None, int, float, float]],
) -> tuple[list[Box], bool]:
    """The boxes of ``RedLineSet.feasible_boxes`` from its root bounds and conditional lines:
    the boxes and whether ``MAX_BOXES`` cut the enumeration short.

    Boxes are kept as lists of floats while enumerating (much cheaper than small arrays). A
    child box differs from its parent, which is admissible, on one issue only, so only that
    issue is checked again.
    """
    boxes: list[Box] = []
    seen: set[bytes] = set()
    truncated = False

    def visit(k: int, blo: list[float], bhi: list[float]) -> None:
        nonlocal truncated
        if len(boxes) >= MAX_BOXES:
            truncated = True
            return
        if k == len(cond):
            lo_a, hi_a = np.array(blo), np.array(bhi)
            lo_a.setflags(write=False)
            hi_a.setflags(write=False)
            key = np.concatenate([lo_a, hi_a]).round(12).tobytes()
            if key not in seen:
                seen.add(key)
                boxes.append(Box(lo_a, hi_a))
            return
        w, above, below, i, clo, chi = cond[k]
        if above is not None:
            can_hold, must_hold = bhi[w] > above + EPS, blo[w] > above + EPS
        else:
            assert below is not None
            can_hold, must_hold = blo[w] < below - EPS, bhi[w] < below - EPS
        bound_met = blo[i] >= clo - EPS and bhi[i] <= chi + EPS
        if not can_hold or bound_met:  # nothing to decide
            visit(k + 1, blo, bhi)
            return
        on_lo, on_hi = blo.copy(), bhi.copy()
        on_lo[i], on_hi[i] = max(blo[i], clo), min(bhi[i], chi)
        if len(boxes) >= MAX_BOXES or admissible(i, on_lo[i], on_hi[i]):
            visit(k + 1, on_lo, on_hi)
        if not must_hold:
            off_lo, off_hi = blo.copy(), bhi.copy()
            if above is not None:
                off_hi[w] = min(bhi[w], above)
            else:
                assert below is not None
                off_lo[w] = max(blo[w], below)
            if len(boxes) >= MAX_BOXES or admissible(w, off_lo[w], off_hi[w]):
                visit(k + 1, off_lo, off_hi)

    visit(0, root_lo, root_hi)
    return boxes, truncated
