"""A compiled negotiation problem: everything the core needs, as plain arrays.

Scenario files are validated once and compiled into a ``Problem``; runs and sweeps use only
this. Derived arrays (the search tables, the feasible boxes, each party's best package) are
computed once per problem and cached.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from model.core.offers import lp_best_packages, lp_feasible
from model.core.offers import utopia as offers_utopia
from model.core.preferences import Preferences, TablePreferences
from model.core.redlines import MAX_BOXES, Box, RedLine, RedLineSet
from model.core.space import BoolArray, FloatArray, OutcomeSpace


class TooManyBoxes(ValueError):
    """The parties' conditional red lines split the feasible packages into more than
    ``MAX_BOXES`` boxes. The search covers the feasible set box by box; rather than search part
    of it and say nothing, the problem is refused, naming the lines that split it."""

    def __init__(self, lines: list[RedLine], actor_ids: tuple[str, ...], issue_ids: list[str]) -> None:
        self.lines = tuple(lines)
        named = [_name_line(ln, actor_ids, issue_ids) for ln in lines]
        shown = ", ".join(named[:8]) + (f" and {len(named) - 8} more" if len(named) > 8 else "")
        super().__init__(
            f"the parties' conditional red lines split the feasible packages into more than {MAX_BOXES:,} "
            f"boxes (each line that can be on or off doubles them): {len(lines)} such lines, {shown}; "
            "merge or drop some of them (the package protocol needs no boxes: its offers are linear "
            "programs; this search goes box by box)"
        )


def _name_line(ln: RedLine, actor_ids: tuple[str, ...], issue_ids: list[str]) -> str:
    """``ACTOR: issue in [lo, hi] when other > t``: one conditional line in a message."""
    assert ln.when_issue is not None
    cond = f"> {ln.when_above:g}" if ln.when_above is not None else f"< {ln.when_below:g}"
    bound = f"{issue_ids[ln.issue]} in [{ln.lo:g}, {ln.hi:g}]"
    return f"{actor_ids[ln.actor]}: {bound} when {issue_ids[ln.when_issue]} {cond}"


def splitting_lines(redlines: RedLineSet, space: OutcomeSpace, parties: list[int]) -> list[RedLine]:
    """The parties' conditional lines that split the feasible set at its root: the condition can
    both hold and fail within the plain bounds, and the bound is not already implied. Each such
    line can double the number of boxes; these are the lines a too-large enumeration names."""
    lo = redlines.lo[parties].max(axis=0)
    hi = redlines.hi[parties].min(axis=0)
    eps = 1e-9
    out = []
    for ln in redlines.lines:
        if not ln.conditional or ln.actor not in parties:
            continue
        w = int(ln.when_issue or 0)
        if ln.when_above is not None:
            both = hi[w] > ln.when_above + eps and lo[w] <= ln.when_above + eps
        else:
            both = lo[w] < (ln.when_below or 0.0) - eps and hi[w] >= (ln.when_below or 0.0) - eps
        if both and not (lo[ln.issue] >= ln.lo - eps and hi[ln.issue] <= ln.hi + eps):
            out.append(ln)
    return out


def checked_boxes(
    redlines: RedLineSet, space: OutcomeSpace, parties: list[int], actor_ids: tuple[str, ...]
) -> list[Box]:
    """``redlines.feasible_boxes(space, parties)``, all of them: ``TooManyBoxes`` past ``MAX_BOXES``
    (never a silent part of the feasible set)."""
    boxes = redlines.feasible_boxes(space, parties)
    if getattr(redlines, "truncated", False):
        raise TooManyBoxes(splitting_lines(redlines, space, parties), actor_ids, [iss.id for iss in space.issues])
    return boxes


#: Weight of the tie-break that keeps issues nobody weighs at their status quo.
_TIE_BREAK = 1e-7


@dataclass(frozen=True, eq=False)
class Problem:
    """A negotiation: outcome space, preferences, reservation utilities and red lines.

    Args:
        actor_ids: short ids, in actor order.
        space: the issues and their grids.
        prefs: ideal points, saliences, curvatures.
        reservation: each actor's reservation utility (what no agreement gives it).
        redlines: every actor's red lines.
        consent: whether each actor's consent is needed for an agreement (a party).
        discount: each actor's per-round discount factor in (0, 1].
        fixed: issues off the table: every package keeps them at the status quo.
    """

    actor_ids: tuple[str, ...]
    space: OutcomeSpace
    prefs: Preferences | TablePreferences
    reservation: FloatArray
    redlines: RedLineSet
    consent: BoolArray
    discount: FloatArray
    actor_names: tuple[str, ...] = field(default=())
    fixed: tuple[int, ...] = field(default=())

    @property
    def n_actors(self) -> int:
        return len(self.actor_ids)

    @cached_property
    def parties(self) -> tuple[int, ...]:
        """Indices of the actors whose consent an agreement needs."""
        return tuple(int(i) for i in np.flatnonzero(self.consent))

    def utility(self, packages: FloatArray) -> FloatArray:
        return self.prefs.utility(packages)

    @cached_property
    def weighted_values(self) -> FloatArray:
        """``w_ai * v_ai(g)`` for every actor, issue and grid point: ``(A, I, G)``."""
        v = self.prefs.issue_values(self.space.grid)
        return self.prefs.weight[:, :, None] * v

    @cached_property
    def tie_break(self) -> FloatArray:
        """A tiny penalty on moving an issue away from its status quo: ``(I, G)``."""
        return -_TIE_BREAK * np.abs(self.space.grid - self.space.status_quo[:, None])

    @cached_property
    def boxes(self) -> tuple[Box, ...]:
        """Boxes whose union holds exactly the packages no party's red line forbids (and that
        keep the issues off the table at their status quo). ``TooManyBoxes`` if there are more
        than ``MAX_BOXES`` of them (see ``checked_boxes``)."""
        boxes = checked_boxes(self.redlines, self.space, list(self.parties), self.actor_ids)
        if not self.fixed:
            return tuple(boxes)
        out = []
        for b in boxes:
            lo, hi = b.lo.copy(), b.hi.copy()
            sq = self.space.status_quo[list(self.fixed)]
            if np.any(sq < lo[list(self.fixed)] - 1e-9) or np.any(sq > hi[list(self.fixed)] + 1e-9):
                continue
            lo[list(self.fixed)] = sq
            hi[list(self.fixed)] = sq
            out.append(Box(lo, hi))
        return tuple(out)

    @cached_property
    def box_masks(self) -> BoolArray:
        """Which grid points each feasible box admits: ``(B, I, G)``."""
        g = self.space.grid
        if not self.boxes:
            return np.zeros((0, *g.shape), dtype=bool)
        lo = np.array([b.lo for b in self.boxes])[:, :, None]
        hi = np.array([b.hi for b in self.boxes])[:, :, None]
        return self.space.grid_mask[None] & (g[None] >= lo - 1e-9) & (g[None] <= hi + 1e-9)

    @cached_property
    def boxless(self) -> bool:
        """Whether the feasible set is left to the linear programs alone, its boxes never
        enumerated: spatial preferences (whose offers are programs, ``model.core.offers``) and
        more conditional lines splitting it than ``MAX_BOXES`` boxes hold (each such line at
        most doubles them, ``splitting_lines``). Zone of agreement, best utilities and utopia
        then come from programs; what searches the grid box by box (value tables, the mediated
        text, the Nash point) stops with ``TooManyBoxes``. Below that many lines every path is
        as before (the boxes are at most ``MAX_BOXES``)."""
        if not isinstance(self.prefs, Preferences):
            return False
        return 2 ** len(splitting_lines(self.redlines, self.space, list(self.parties))) > MAX_BOXES

    #: What depends only on the space, the red lines and the fixed issues (not on preferences).
    _GEOMETRY = ("parties", "tie_break", "boxes", "box_masks", "_mask_table", "_mask_off", "_index_dtype",
                 "boxless", "has_zone_of_agreement_by_red_lines", "_one_box_offset", "at_status_quo")

    def with_preferences(self, prefs: Preferences | TablePreferences, reservation: FloatArray) -> Problem:
        """The same problem with new preferences and reservation utilities (a shock to saliences
        or positions): what depends only on the space and red lines is carried over, not recomputed."""
        out = dataclasses.replace(self, prefs=prefs, reservation=reservation)
        for name in self._GEOMETRY:
            if name in self.__dict__:
                out.__dict__[name] = self.__dict__[name]
        return out

    @cached_property
    def has_zone_of_agreement_by_red_lines(self) -> bool:
        """Whether some package crosses no party's red line: a feasible box, or (``boxless``) a
        feasible program."""
        return lp_feasible(self) if self.boxless else len(self.boxes) > 0

    @cached_property
    def _mask_table(self) -> tuple[BoolArray, np.ndarray, np.ndarray]:
        """The distinct per-issue masks of the boxes: ``masks (K, G)``, the issue of each
        ``(K,)``, and which mask each box uses on each issue ``(B, I)``.

        Boxes differ on few issues, so there are far fewer distinct (issue, mask) rows than
        boxes times issues; the search maximises once per distinct row.
        """
        bm = self.box_masks
        n_b, n_i, n_g = bm.shape
        if n_b == 1:  # one box: one mask per issue
            return bm[0].copy(), np.arange(n_i), np.arange(n_i)[None, :]
        # one key per (issue, box): the issue, then the mask's bits; equal keys, equal rows
        per_issue = bm.transpose(1, 0, 2).reshape(n_i * n_b, n_g)
        bits = np.packbits(per_issue, axis=1)
        keys = np.concatenate([np.repeat(np.arange(n_i, dtype=">u4"), n_b).view(np.uint8).reshape(-1, 4), bits], 1)
        keys = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1])))[:, 0]
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        masks = per_issue[first]
        return masks, first // n_b, inverse.reshape(n_i, n_b).T.copy()

    @cached_property
    def _mask_off(self) -> BoolArray:
        """Where each distinct mask of ``_mask_table`` excludes a grid point: ``(K, G)``."""
        return ~self._mask_table[0]

    @cached_property
    def _one_box_offset(self) -> FloatArray:
        """What a search of a one-box problem adds to every weighted score ``(I, G)``: the tie-break, and
        ``-inf`` where the box excludes a grid point (the same scores as adding the tie-break
        and then setting the excluded ones to ``-inf``: a finite score plus ``-inf`` is ``-inf``)."""
        out = np.where(self.box_masks[0], self.tie_break, -np.inf)
        out.setflags(write=False)
        return out

    @cached_property
    def at_status_quo(self) -> BoolArray:
        """Which grid points are the status quo of their issue (within ``1e-9``): ``(I, G)``. A
        package of grid indices ``idx`` is the status quo iff ``at_status_quo[i, idx[i]]`` holds
        on every issue (its value is within ``1e-9`` of the status quo on each)."""
        out = ~(np.abs(self.space.grid - self.space.status_quo[:, None]) > 1e-9)
        out.setflags(write=False)
        return out

    @cached_property
    def _index_dtype(self) -> type[np.signedinteger]:
        """The smallest integer type that holds every grid index."""
        return np.int16 if self.space.grid.shape[1] < 2**15 else np.intp

    def maximize_weighted(self, coefs: FloatArray) -> FloatArray:
        pk = self.maximize_weighted_indexed(coefs)[0]
        assert pk is not None
        return pk

    @cached_property
    def _values_by_issue(self) -> FloatArray:
        """``weighted_values`` laid out issue-major with the actors innermost: ``(I, G, A)``."""
        out = np.ascontiguousarray(self.weighted_values.transpose(1, 2, 0))
        out.setflags(write=False)
        return out

    def grid_utility(self, index: np.ndarray) -> FloatArray:
        """Utilities of grid packages given by their grid indices ``(n, I)``: ``(n, A)``.

        A table look-up (``w_ai * v_ai(g)`` summed over issues), much cheaper than
        ``utility`` on the package values. For each package and actor the issues' terms are
        added one issue after another, in issue order: the gather lays them out ``(I, n, A)``
        and the sum runs over the outermost axis (whole ``(n, A)`` slabs at a time).
        """
        by_issue = self._values_by_issue
        terms = by_issue[_issue_column(by_issue.shape[0]), np.asarray(index).T]  # (I, n, A)
        out: FloatArray = np.add.reduce(terms, axis=0)
        return out

    def maximize_weighted_indexed(
        self, coefs: FloatArray, values: bool = True
    ) -> tuple[FloatArray | None, np.ndarray]:
        """For each row of ``coefs`` (``(C, A)``), the feasible grid package maximising
        ``sum_a coefs[c, a] * u_a(x)``, in every feasible box: shape ``(B * C, I)``, box-major.

        Utilities are additive, so the maximisation runs issue by issue over the grid, once
        per distinct (issue, box mask) pair.
        """
        coefs = np.atleast_2d(np.asarray(coefs, dtype=float))
        n_b = len(self.boxes)
        n_i = self.space.n_issues
        if n_b == 0:
            return np.zeros((0, n_i)), np.zeros((0, n_i), dtype=int)
        _, issue_of, index = self._mask_table
        wv = self.weighted_values
        raw = (coefs @ wv.reshape(wv.shape[0], -1)).reshape(coefs.shape[0], *wv.shape[1:])
        if n_b == 1:  # one box: one mask per issue, and the arg-max is the answer
            arg = (raw + self._one_box_offset).argmax(axis=-1)
            return (self.space.grid[np.arange(n_i)[None, :], arg] if values else None), arg
        score = raw + self.tie_break[None]
        masked = score[:, issue_of, :]  # (C, K, G)
        np.copyto(masked, -np.inf, where=self._mask_off[None])
        # (K, C) as small integers: the gather below then moves a quarter of the bytes
        best = np.ascontiguousarray(masked.argmax(axis=-1).T, dtype=self._index_dtype)
        out = np.empty((len(index), coefs.shape[0], n_i), dtype=np.intp)  # (B, C, I): grid index per box and issue
        out[...] = best[index].transpose(0, 2, 1)
        arg = out.reshape(-1, n_i)
        return (self.space.grid[np.arange(n_i)[None, :], arg] if values else None), arg

    def maximize_weighted_distinct(self, coefs: FloatArray) -> np.ndarray:
        """The distinct rows of ``maximize_weighted_indexed(coefs)[1]`` (grid indices), each
        once, in order of first appearance (box-major, then weighting).

        Neighbouring weightings often pick the same grid value under every box mask; such a
        weighting gives, in every box, a package an earlier weighting already gave in that
        box, so it is dropped before the packages are formed across the boxes.
        """
        coefs = np.atleast_2d(np.asarray(coefs, dtype=float))
        n_b = len(self.boxes)
        n_i = self.space.n_issues
        if n_b == 0:
            return np.zeros((0, n_i), dtype=int)
        _, issue_of, index = self._mask_table
        wv = self.weighted_values
        raw = (coefs @ wv.reshape(wv.shape[0], -1)).reshape(coefs.shape[0], *wv.shape[1:])
        if n_b == 1:
            return _distinct_rows((raw + self._one_box_offset).argmax(axis=-1))
        score = raw + self.tie_break[None]
        masked = score[:, issue_of, :]  # (C, K, G)
        np.copyto(masked, -np.inf, where=self._mask_off[None])
        best = masked.argmax(axis=-1).astype(self._index_dtype)  # (C, K)
        best = best[_first_distinct(best)]  # (C', K), first appearances in order
        out = best.T[index]  # (B, I, C')
        return _distinct_rows(out.transpose(0, 2, 1).reshape(-1, n_i)).astype(np.intp)

    def grid_package_utility(self, packages: FloatArray, index: np.ndarray) -> FloatArray:
        """``utility(packages)`` of grid packages whose grid indices ``index`` are known
        (``maximize_weighted_indexed`` gives both): on value tables read off the grid (the same
        numbers: the same terms added in the same order), else ``utility``."""
        if isinstance(self.prefs, TablePreferences):
            return self.grid_utility(index)
        return self.utility(packages)

    @cached_property
    def best_utility(self) -> FloatArray:
        """Each actor's utility of its best package among those no party's red line forbids
        (the grid search, or one program per actor when ``boxless``)."""
        if self.boxless:
            pk = lp_best_packages(self)
            pk = pk[~np.isnan(pk).any(axis=1)]
            u = self.utility(pk) if pk.shape[0] else pk
        elif isinstance(self.prefs, TablePreferences) and len(self.boxes) == 1 and self._finite_values:
            # one box on value tables: actor a's weighting is row a of the identity, whose
            # product with the finite weighted values is actor a's own values (1 * x plus zeros:
            # the same numbers but for the sign of a zero, which no arg-max tells apart), and the
            # utilities are read off the grid (``grid_package_utility`` on value tables)
            u = self.grid_utility((self.weighted_values + self._one_box_offset).argmax(axis=-1))
        else:
            got, idx = self.maximize_weighted_indexed(np.eye(self.n_actors))
            assert got is not None
            u = self.grid_package_utility(got, idx) if idx.shape[0] else idx  # (B * A, A)
        if u.shape[0] == 0:
            return self.reservation.copy()
        return u.max(axis=0)

    @cached_property
    def _finite_values(self) -> bool:
        """Whether every weighted value is finite (``best_utility``'s short way needs it), or
        ``False`` when the values are too large to tell by their sum."""
        # a finite sum has finite terms (an infinite or NaN term makes it infinite or NaN; a sum
        # that overflows only sends the search the long way)
        return math.isfinite(float(np.add.reduce(self.weighted_values, axis=None)))

    @cached_property
    def utopia(self) -> FloatArray:
        """Each actor's best utility among the packages that no party's red line forbids and that
        give every other party at least its reservation utility: the ideal point of the
        bargaining set (Kalai & Smorodinsky 1975), where the strategies' aspirations start and
        by which the offers normalise gains. Its best utility (``best_utility``) where no such
        package exists, and on value-table domains (whose offers come from the grid search)."""
        return offers_utopia(self)

    def feasible(self, packages: FloatArray) -> BoolArray:
        """Whether each package crosses no party's red line."""
        return np.all(self.redlines.satisfied(packages, self.parties), axis=1)


@lru_cache(maxsize=64)
def _issue_column(n_i: int) -> np.ndarray:
    """``np.arange(n_i)[:, None]``, read-only (``grid_utility``'s gather)."""
    out = np.arange(n_i)[:, None]
    out.setflags(write=False)
    return out


def _first_distinct(rows: np.ndarray) -> np.ndarray:
    """Indices of the distinct rows of a 2-d integer array, first appearances, in order."""
    if len(rows) <= 1:
        return np.arange(len(rows))
    r = np.ascontiguousarray(rows)
    keys = r.view(np.dtype((np.void, r.shape[1] * r.itemsize)))[:, 0]
    return np.sort(np.unique(keys, return_index=True)[1])


def _distinct_rows(rows: np.ndarray) -> np.ndarray:
    """The distinct rows of a 2-d integer array, each once, in order of first appearance."""
    return rows[_first_distinct(rows.astype(np.int16) if rows.max(initial=0) < 2**15 else rows)]
