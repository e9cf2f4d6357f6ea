"""The outcome space: issues, their scales and the candidate values the search looks at.

Every issue lies on [0, 1]. A continuous issue takes any value; an ordinal issue takes only the
values of its named levels. A *package* is one value per issue, an array of shape ``(n_issues,)``;
many packages are an array of shape ``(n, n_issues)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Values of a continuous issue that every search looks at (besides the special points).
CONTINUOUS_GRID = np.linspace(0.0, 1.0, 21)
_CONTINUOUS_VALUES = tuple(CONTINUOUS_GRID.tolist())

#: Tolerance for comparing issue values (red-line bounds, levels).
EPS = 1e-9


@dataclass(frozen=True)
class Issue:
    """One negotiated issue.

    Args:
        id: short identifier used in files and tables.
        label: readable name.
        levels: for an ordinal issue, its ``(name, value)`` levels in increasing order; ``None``
            for a continuous issue.
    """

    id: str
    label: str
    levels: tuple[tuple[str, float], ...] | None = None

    @property
    def is_ordinal(self) -> bool:
        return self.levels is not None

    @property
    def level_values(self) -> FloatArray:
        if self.levels is None:
            raise ValueError(f"issue {self.id!r} is continuous and has no levels")
        return np.array([v for _, v in self.levels], dtype=float)

    def level_name(self, value: float) -> str | None:
        """Name of the level nearest to ``value`` (``None`` for a continuous issue)."""
        if self.levels is None:
            return None
        i = int(np.argmin(np.abs(self.level_values - value)))
        return self.levels[i][0]


@dataclass(frozen=True)
class OutcomeSpace:
    """The issues under negotiation, with the status quo and a search grid per issue.

    The grid of an ordinal issue is its levels. The grid of a continuous issue is
    ``CONTINUOUS_GRID`` plus any special points (ideal points, red-line bounds, the status quo),
    so that piecewise-linear utilities reach their optimum exactly on the grid.
    Grids have different lengths; they are padded to one width and ``grid_mask`` marks the
    real entries.
    """

    issues: tuple[Issue, ...]
    status_quo: FloatArray
    grid: FloatArray = field(repr=False)
    grid_mask: BoolArray = field(repr=False)

    @classmethod
    def build(
        cls,
        issues: Sequence[Issue],
        status_quo: Sequence[float],
        special_points: Iterable[tuple[int, float]] = (),
    ) -> OutcomeSpace:
        per_issue: list[set[float]] = []
        for issue in issues:
            if issue.levels is not None:
                per_issue.append({float(v) for _, v in issue.levels})
            else:
                per_issue.append(set(_CONTINUOUS_VALUES))
        for i, x in enumerate(status_quo):
            if not issues[i].is_ordinal:
                per_issue[i].add(float(x))
        for i, x in special_points:
            if not issues[i].is_ordinal and 0.0 <= x <= 1.0:
                per_issue[i].add(round(float(x), 12))
        rows = [sorted(values) for values in per_issue]
        width = max(len(r) for r in rows)
        grid = np.array([r + [r[-1]] * (width - len(r)) for r in rows], dtype=float).reshape(len(rows), width)
        mask = np.arange(width)[None, :] < np.array([len(r) for r in rows])[:, None]
        grid.setflags(write=False)
        mask.setflags(write=False)
        sq = np.asarray(status_quo, dtype=float)
        sq.setflags(write=False)
        return cls(tuple(issues), sq, grid, mask)

    @cached_property
    def ordinal_mask(self) -> BoolArray:
        """Which issues are ordinal: ``(I,)``."""
        out = np.array([i.is_ordinal for i in self.issues], dtype=bool)
        out.setflags(write=False)
        return out

    @cached_property
    def memo(self) -> dict[str, dict[Any, Any]]:
        """Results derived from this space alone, kept by the functions that compute them
        (``RedLineSet.feasible_boxes``); not part of the space's value."""
        return {}

    @cached_property
    def level_lists(self) -> tuple[tuple[float, ...] | None, ...]:
        """Each ordinal issue's levels in increasing order, as floats (``None``: a continuous issue)."""
        return tuple(
            tuple(float(v) for v in self.grid[i][self.grid_mask[i]]) if issue.is_ordinal else None
            for i, issue in enumerate(self.issues)
        )

    @property
    def n_issues(self) -> int:
        return len(self.issues)

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.issues)

    def index(self, issue_id: str) -> int:
        return self.ids.index(issue_id)

    def snap(self, packages: FloatArray) -> FloatArray:
        """Move each ordinal issue's value to its nearest level; clip everything to [0, 1]."""
        x = np.clip(np.asarray(packages, dtype=float), 0.0, 1.0)
        for i, issue in enumerate(self.issues):
            if issue.is_ordinal:
                lv = issue.level_values
                idx = np.abs(x[..., i, None] - lv).argmin(axis=-1)
                x[..., i] = lv[idx]
        return x

    def describe(self, package: FloatArray) -> dict[str, tuple[float, str | None]]:
        """Each issue's value with its level name (``None`` for continuous issues)."""
        return {
            issue.id: (float(package[i]), issue.level_name(float(package[i])))
            for i, issue in enumerate(self.issues)
        }
