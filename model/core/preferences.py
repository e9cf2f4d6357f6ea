"""Actors' preferences over packages: additive, salience-weighted distance to an ideal point.

For actor ``a`` with ideal point ``p_a``, normalised saliences ``w_a`` (summing to 1) and
curvature ``g_a > 0``, the utility of package ``x`` is

    u_a(x) = sum_i w_ai * (1 - |x_i - p_ai| ** g_a)            (in [0, 1])

``g = 1`` is the linear (city-block) loss of spatial models of negotiation; ``g = 2`` is the
quadratic loss, flat near the ideal point; ``g < 1`` is steep near the ideal point. The utility is
additive over issues, so an actor trades a small loss on an issue it cares little about for a
gain on one it cares much about: the logrolling at the heart of a package deal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from model.core.chunks import by_rows
from model.core.space import FloatArray


@dataclass(frozen=True)
class Preferences:
    """Ideal points, saliences and curvatures of all actors, as arrays.

    Args:
        ideal: shape ``(n_actors, n_issues)``, ideal positions in [0, 1].
        salience: shape ``(n_actors, n_issues)``, raw saliences >= 0 (normalised per actor here).
        curvature: shape ``(n_actors,)``, exponents > 0.
    """

    ideal: FloatArray
    weight: FloatArray
    curvature: FloatArray

    @classmethod
    def build(cls, ideal: FloatArray, salience: FloatArray, curvature: FloatArray) -> Preferences:
        ideal = np.asarray(ideal, dtype=float)
        salience = np.asarray(salience, dtype=float)
        totals = salience.sum(axis=1, keepdims=True)
        if np.any(totals <= 0):
            raise ValueError("every actor needs at least one issue with salience above zero")
        weight = salience / totals
        curv = np.asarray(curvature, dtype=float)
        for arr in (ideal, weight, curv):
            arr.setflags(write=False)
        return cls(ideal, weight, curv)

    @property
    def linear(self) -> bool:
        """Whether every actor's curvature is 1 (the loss is linear)."""
        return bool(np.all(self.curvature == 1.0))

    @property
    def n_actors(self) -> int:
        return int(self.ideal.shape[0])

    def utility(self, packages: FloatArray) -> FloatArray:
        """Utilities of packages ``(n, n_issues)`` for all actors: shape ``(n, n_actors)``.

        A single package ``(n_issues,)`` gives shape ``(n_actors,)``.
        """
        x = np.asarray(packages, dtype=float)
        single = x.ndim == 1
        x2 = x[None, :] if single else x
        u = by_rows(self._utility_rows, x2, self.ideal.size)
        return u[0] if single else u

    def _utility_rows(self, x2: FloatArray) -> FloatArray:
        dist = np.abs(x2[:, None, :] - self.ideal[None, :, :])
        if not self.linear:
            dist = dist ** self.curvature[None, :, None]
        return np.asarray(1.0 - np.einsum("nai,ai->na", dist, self.weight))

    def issue_values(self, grid: FloatArray) -> FloatArray:
        """Per-issue value ``1 - |g - p_ai| ** g_a`` of every grid point: ``(n_actors, I, G)``."""
        dist = np.abs(grid[None, :, :] - self.ideal[:, :, None])
        return 1.0 - dist ** self.curvature[:, None, None]


#: From how many values on ``TablePreferences`` finds their levels by a binary search (which
#: costs more calls than the direct comparison with every level, and less work on many values).
_SEARCHED = 32


#: ``TablePreferences._shared_levels`` per ``levels`` array, by the array's id.
_SHARED: dict[int, tuple[FloatArray, FloatArray | None]] = {}
#: ``TablePreferences._grid_index`` by grid: (grid, levels, issues, level indices)
_GRID_INDEX: dict[int, tuple[FloatArray, FloatArray, np.ndarray, np.ndarray]] = {}


@dataclass(frozen=True)
class TablePreferences:
    """Linear-additive utilities with a value table per issue (how GENIUS and NegMAS domains
    are written): ``u_a(x) = sum_i w_ai * t_ai[level of x_i]``, every issue ordinal.

    Args:
        levels: shape ``(I, L)``, each issue's level values in increasing order (padded with
            the last value where an issue has fewer levels).
        weight: shape ``(A, I)``, weights summing to 1 per actor.
        tables: shape ``(A, I, L)``, each actor's value in [0, 1] of each level of each issue.
    """

    levels: FloatArray
    weight: FloatArray
    tables: FloatArray

    linear = True

    @property
    def n_actors(self) -> int:
        return int(self.weight.shape[0])

    @cached_property
    def _shared_levels(self) -> FloatArray | None:
        """The levels when every issue has the same ones, ascending (as the domains of
        ``model.core.domains`` do), else ``None``. Domains of one shape share their ``levels``
        array, so the answer is kept per array (``_SHARED``)."""
        kept = _SHARED.get(id(self.levels))
        if kept is not None and kept[0] is self.levels:
            return kept[1]
        first = self.levels[0]
        out = first if bool(np.all(self.levels == first)) and bool(np.all(np.diff(first) >= 0)) else None
        if len(_SHARED) >= 64:
            _SHARED.pop(next(iter(_SHARED)))
        _SHARED[id(self.levels)] = (self.levels, out)  # the array itself is kept: its id stays its own
        return out

    def _index(self, x: FloatArray) -> np.ndarray:
        """The level of every value: the nearest (the first of equally near ones)."""
        lv = self._shared_levels
        if lv is not None and x.size >= _SEARCHED:
            j = np.minimum(lv.searchsorted(x), len(lv) - 1)  # the first level at or above each value
            if np.array_equal(lv[j], x):  # every value is a level: its first, the nearest, as below
                return j
        return np.abs(x[..., :, None] - self.levels).argmin(axis=-1)

    def utility(self, packages: FloatArray) -> FloatArray:
        x = np.asarray(packages, dtype=float)
        single = x.ndim == 1
        x2 = x[None, :] if single else x
        u = by_rows(self._utility_rows, x2, self.weight.size)
        return u[0] if single else u

    def _utility_rows(self, x2: FloatArray) -> FloatArray:
        idx = self._index(x2)  # (n, I)
        n_i = self.levels.shape[0]
        vals = self.tables[:, np.arange(n_i)[None, :], idx]  # (A, n, I)
        return np.asarray(np.einsum("ani,ai->na", vals, self.weight))

    def issue_values(self, grid: FloatArray) -> FloatArray:
        """Values of every grid point: ``(A, I, G)`` (the grid of an ordinal issue is its levels)."""
        issues, idx = self._grid_index(grid)
        return self.tables[:, issues, idx]

    def _grid_index(self, grid: FloatArray) -> tuple[np.ndarray, np.ndarray]:
        """The level of every grid point, ``(I, G)``, and the issues' numbers ``(I, 1)``: kept per
        read-only grid and levels (the domains of one shape share both, ``model.core.domains``)."""
        key = id(grid)
        kept = _GRID_INDEX.get(key)
        if kept is not None and kept[0] is grid and kept[1] is self.levels:
            return kept[2], kept[3]
        idx = self._index(grid.T).T  # (I, G)
        issues = np.arange(self.levels.shape[0])[:, None]
        if not grid.flags.writeable and not self.levels.flags.writeable:
            idx.setflags(write=False)
            issues.setflags(write=False)
            if len(_GRID_INDEX) >= 64:
                _GRID_INDEX.pop(next(iter(_GRID_INDEX)))
            _GRID_INDEX[key] = (grid, self.levels, issues, idx)  # the arrays are kept: their ids stay their own
        return issues, idx
