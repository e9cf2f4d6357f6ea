"""Scenario discovery with PRIM: ranges of the swept conditions under which an outcome is likely.

PRIM, the Patient Rule Induction Method (Friedman & Fisher 1999), as used for scenario
discovery by Bryant & Lempert (2010). Starting from the box that holds every run, it
repeatedly *peels* a thin slice off the box: for each numeric condition the lowest or the
highest ``peel_alpha`` share of the runs inside, for each categorical condition one category.
It keeps the peel that raises the box's density in the outcome of interest the most per run
removed (Friedman & Fisher's original objective, the density after the peel, is an option) and
stops before the box would hold less than ``mass_min`` of all runs. Each step of this *peeling
trajectory* is a candidate box with

* **coverage**: the share of all runs with the outcome that fall inside the box,
* **density**: the share of the runs inside the box that have the outcome,
* **mass**: the share of all runs inside the box, and the number of runs inside,
* the **restricted dimensions**: the conditions whose limits are narrower than the data's range.

Coverage and density trade off; :func:`peeling_plot` draws the trade-off. The default
choice (see :class:`PrimResult`) is the box with the best coverage x density among those at
least as dense as a threshold; *pasting* then widens it again where that raises its density,
and restrictions the data do not support (quasi-p value above 0.05, Bryant & Lempert 2010) are
dropped.
:func:`find_boxes` finds several boxes by *covering*: it removes the runs inside a chosen box
and searches the rest again. :func:`describe` writes a box as a plain sentence and
:func:`discover` runs it all on a sweep's results (``model.results.load``).

Why not the EMA workbench's PRIM (``ema_workbench.analysis.prim``), the well-kept
implementation used in the scenario-discovery literature: ema-workbench 3.0 pulls in 31
packages / 555 MB (scikit-learn, statsmodels, ...) for this one algorithm, and with pandas 3,
which this project uses, ``Prim(...).find_box()`` raises on integer columns (upstream issue
#448, fixed only on its unreleased main branch) and ``inspect(style="table")`` fails on
categorical columns. The algorithm is short, so it is implemented here with numpy and pandas
only, following the published descriptions (not the workbench's code).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from model.plots import OKABE_ITO, _figure, plain

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The limits of one condition: ``(lo, hi)`` for a numeric one, the allowed categories otherwise.
Limit = tuple[float, float] | frozenset[Any]
#: A restricted condition: ``(lo, hi)`` with ``None`` for an end left at the data's range, or
#: the allowed categories.
Restriction = tuple[float | None, float | None] | frozenset[Any]

_EPS = 1e-12
#: How a peel is scored; see :func:`prim`.
OBJECTIVES = ("lenient", "density")


@dataclass(frozen=True)
class Box:
    """One PRIM box and its statistics.

    ``limits`` holds every condition's limits (numeric ``(lo, hi)``, both inclusive and equal to
    values seen in the data, or a frozenset of categories); ``bounds`` the same for the data's full
    range. Statistics: ``coverage`` (share of all runs with the outcome that are inside),
    ``density`` (share of the runs inside that have the outcome), ``mass`` (share of all runs
    inside), ``n`` (runs inside), ``n_interest`` (runs inside with the outcome). For a box found
    after others by :func:`find_boxes` (``index`` > 0) the runs inside exclude those of the
    earlier boxes, while coverage and mass stay shares of *all* runs.
    """

    limits: dict[str, Limit]
    bounds: dict[str, Limit]
    coverage: float
    density: float
    mass: float
    n: int
    n_interest: int
    index: int = 0

    @property
    def restricted(self) -> dict[str, Restriction]:
        """The conditions narrower than the data's range, in column order; a numeric end left
        at the data's range is ``None``."""
        out: dict[str, Restriction] = {}
        for name, lim in self.limits.items():
            bound = self.bounds[name]
            if isinstance(lim, frozenset):
                if lim != bound:
                    out[name] = lim
                continue
            assert isinstance(bound, tuple)
            lo = lim[0] if lim[0] > bound[0] else None
            hi = lim[1] if lim[1] < bound[1] else None
            if lo is not None or hi is not None:
                out[name] = (lo, hi)
        return out

    @property
    def n_restricted(self) -> int:
        return len(self.restricted)

    def contains(self, x: pd.DataFrame) -> np.ndarray:
        """Which rows of ``x`` (same column names) lie inside the box. Only the restricted limits
        are applied, so values beyond the data's range count as inside an unrestricted end."""
        mask = np.ones(len(x), dtype=bool)
        for name, r in self.restricted.items():
            col = x[name]
            if isinstance(r, frozenset):
                mask &= col.isin(list(r)).to_numpy(dtype=bool)
                continue
            v = col.to_numpy(dtype=float, na_value=np.nan)
            lo, hi = r
            if lo is not None:
                mask &= v >= lo
            if hi is not None:
                mask &= v <= hi
        return mask


@dataclass(eq=False)
class _Data:
    """The conditions as arrays: numeric columns as floats, categorical ones as integer codes."""

    names: list[str]
    values: list[np.ndarray]
    categories: list[list[Any] | None]  # None: numeric
    y: np.ndarray
    bounds: list[Limit]  # numeric: (min, max); categorical: all codes

    @classmethod
    def from_frame(cls, x: pd.DataFrame, y: np.ndarray | pd.Series) -> _Data:
        yb = _as_bool(y)
        if len(yb) != len(x):
            raise ValueError(f"x has {len(x)} rows but y has {len(yb)} values")
        if len(x) == 0 or x.shape[1] == 0:
            raise ValueError("PRIM needs at least one row and one condition column")
        names: list[str] = []
        values: list[np.ndarray] = []
        categories: list[list[Any] | None] = []
        bounds: list[Limit] = []
        for name in x.columns:
            s = x[name]
            if s.isna().any():
                raise ValueError(f"column {name!r} has missing values; drop those rows first")
            names.append(str(name))
            if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
                v = s.to_numpy(dtype=float)
                if not np.isfinite(v).all():
                    raise ValueError(f"column {name!r} has non-finite values")
                values.append(v)
                categories.append(None)
                bounds.append((float(v.min()), float(v.max())))
            else:
                codes, uniques = pd.factorize(s, sort=False)
                values.append(np.asarray(codes, dtype=np.int64))
                categories.append([_plain(u) for u in uniques])
                bounds.append(frozenset(range(len(uniques))))
        return cls(names, values, categories, yb, bounds)

    @property
    def n(self) -> int:
        return len(self.y)

    def column_mask(self, j: int, lim: Limit, rows: np.ndarray) -> np.ndarray:
        v = self.values[j][rows]
        if isinstance(lim, frozenset):
            return np.isin(v, np.fromiter(lim, dtype=np.int64, count=len(lim)))
        return (v >= lim[0]) & (v <= lim[1])

    def mask(self, lims: Sequence[Limit], rows: np.ndarray) -> np.ndarray:
        m = np.ones(len(rows), dtype=bool)
        for j, lim in enumerate(lims):
            if lim != self.bounds[j]:
                m &= self.column_mask(j, lim, rows)
        return m

    def n_restricted(self, lims: Sequence[Limit]) -> int:
        return sum(lim != b for lim, b in zip(lims, self.bounds, strict=True))

    def public(self, lim: Limit, j: int) -> Limit:
        cats = self.categories[j]
        if cats is None:
            return lim
        assert isinstance(lim, frozenset)
        return frozenset(cats[c] for c in lim)

    def box(self, lims: Sequence[Limit], inside: np.ndarray, index: int) -> Box:
        n_in = len(inside)
        hits = int(self.y[inside].sum())
        total = int(self.y.sum())
        return Box(
            limits={name: self.public(lim, j) for j, (name, lim) in enumerate(zip(self.names, lims, strict=True))},
            bounds={name: self.public(b, j) for j, (name, b) in enumerate(zip(self.names, self.bounds, strict=True))},
            coverage=hits / total if total else 0.0,
            density=hits / n_in if n_in else 0.0,
            mass=n_in / self.n,
            n=n_in,
            n_interest=hits,
            index=index,
        )


def _plain(v: Any) -> Any:
    """numpy scalars as Python ones, so that boxes print and compare plainly."""
    return v.item() if isinstance(v, np.generic) else v


def _as_bool(y: np.ndarray | pd.Series) -> np.ndarray:
    if isinstance(y, pd.Series):
        if y.isna().any():
            raise ValueError("y has missing values; drop those rows first")
        arr = y.to_numpy()
    else:
        arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError("y must be one-dimensional")
    if arr.dtype == bool:
        return arr
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError("y must be boolean (or 0/1)") from None
    if not np.isin(num, (0.0, 1.0)).all():
        raise ValueError("y must be boolean (or 0/1)")
    return num == 1.0


@dataclass(frozen=True)
class _Settings:
    peel_alpha: float
    paste_alpha: float
    mass_min: float
    threshold: float | None
    objective: str
    max_quasi_p: float | None

    def __post_init__(self) -> None:
        if not 0 < self.peel_alpha < 0.5:
            raise ValueError("peel_alpha must be in (0, 0.5)")
        if not 0 <= self.paste_alpha < 0.5:
            raise ValueError("paste_alpha must be in [0, 0.5) (0: no pasting)")
        if not 0 <= self.mass_min < 1:
            raise ValueError("mass_min must be in [0, 1)")
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValueError("threshold must be in [0, 1]")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
        if self.max_quasi_p is not None and not 0 <= self.max_quasi_p <= 1:
            raise ValueError("max_quasi_p must be in [0, 1] or None")


@dataclass(eq=False)
class _Search:
    """One PRIM search over some rows of the data (all of them, or those left by earlier boxes)."""

    data: _Data
    rows: np.ndarray
    index: int
    settings: _Settings

    def peel(self) -> list[tuple[list[Limit], np.ndarray]]:
        """The peeling trajectory: each step's limits and the rows inside."""
        d = self.data
        lims: list[Limit] = list(d.bounds)
        inside = self.rows.copy()
        steps = [(list(lims), inside)]
        min_count = math.ceil(self.settings.mass_min * d.n - 1e-9)
        while True:
            y_in = d.y[inside]
            now = float(y_in.mean())
            best: tuple[tuple[float, int, int], int, Limit, np.ndarray] | None = None
            for j in range(len(lims)):
                for new_lim, keep in self._peels(j, d.values[j][inside], lims[j]):
                    m = int(keep.sum())
                    if m < min_count or m == 0 or m == len(inside):
                        continue
                    density = float(y_in[keep].mean())
                    if self.settings.objective == "density":
                        score = density
                    else:  # density gained per share of all runs removed
                        score = (density - now) * d.n / (len(inside) - m)
                    trial = list(lims)
                    trial[j] = new_lim
                    # best score; then fewest restricted conditions; then the most runs kept
                    key = (round(score, 12), -d.n_restricted(trial), m)
                    if best is None or key > best[0]:
                        best = (key, j, new_lim, keep)
            if best is None:
                return steps
            _, j, new_lim, keep = best
            lims[j] = new_lim
            inside = inside[keep]
            steps.append((list(lims), inside))

    def _peels(self, j: int, v: np.ndarray, lim: Limit) -> Iterator[tuple[Limit, np.ndarray]]:
        if isinstance(lim, frozenset):
            present = np.unique(v)
            if len(present) > 1:
                for c in present:
                    yield lim - {int(c)}, v != c
            return
        n = len(v)
        if n < 2:
            return
        k = max(1, int(self.settings.peel_alpha * n))
        s = np.sort(v)
        keep = v > s[k - 1]  # the k lowest, and any ties with them
        if keep.any():
            yield (float(v[keep].min()), lim[1]), keep
        keep = v < s[n - k]
        if keep.any():
            yield (lim[0], float(v[keep].max())), keep

    def paste(self, lims: list[Limit]) -> tuple[list[Limit], np.ndarray]:
        """Widen the box, one slice at a time, while that raises its density."""
        d = self.data
        lims = list(lims)
        rows = self.rows
        y = d.y[rows]
        while self.settings.paste_alpha > 0:
            colmasks = [d.column_mask(j, lim, rows) for j, lim in enumerate(lims)]
            in_box = np.logical_and.reduce(colmasks) if colmasks else np.ones(len(rows), dtype=bool)
            n_in = int(in_box.sum())
            if n_in == 0:
                break
            density = float(y[in_box].mean())
            k = max(1, int(self.settings.paste_alpha * n_in))
            best: tuple[tuple[float, int], int, Limit] | None = None
            for j, lim in enumerate(lims):
                if lim == d.bounds[j]:
                    continue
                others = [m for i, m in enumerate(colmasks) if i != j]
                other = np.logical_and.reduce(others) if others else np.ones(len(rows), dtype=bool)
                for new_lim, add in self._pastes(j, d.values[j][rows], lim, other, k):
                    grown = in_box | add
                    key = (round(float(y[grown].mean()), 12), int(grown.sum()))
                    if best is None or key > best[0]:
                        best = (key, j, new_lim)
            if best is None or best[0][0] <= density + _EPS:
                break
            lims[best[1]] = best[2]
        return lims, rows[d.mask(lims, rows)]

    def prune(self, lims: list[Limit]) -> list[Limit]:
        """Drop the restrictions that the data do not support (Bryant & Lempert 2010): for each
        restricted end (or category set), the quasi-p value is the chance of at least the box's
        runs with the outcome among its runs if they had the density of the box without that
        restriction (one-sided binomial). The largest above ``max_quasi_p`` goes, and again."""
        from scipy.stats import binom

        d = self.data
        lims = list(lims)
        rows = self.rows
        y = d.y[rows]
        while self.settings.max_quasi_p is not None:
            inside = d.mask(lims, rows)
            n_in, hits = int(inside.sum()), int(y[inside].sum())
            if n_in == 0:
                break
            worst: tuple[float, list[Limit]] | None = None
            for j, lim in enumerate(lims):
                bound = d.bounds[j]
                if lim == bound:
                    continue
                wider: list[Limit] = []
                if isinstance(lim, frozenset):
                    wider.append(bound)
                else:  # each restricted end on its own
                    assert isinstance(bound, tuple)
                    if lim[0] > bound[0]:
                        wider.append((bound[0], lim[1]))
                    if lim[1] < bound[1]:
                        wider.append((lim[0], bound[1]))
                for w in wider:
                    trial = list(lims)
                    trial[j] = w
                    p = float(y[d.mask(trial, rows)].mean())
                    qp = float(binom.sf(hits - 1, n_in, p))
                    if worst is None or qp > worst[0]:
                        worst = (qp, trial)
            if worst is None or worst[0] <= self.settings.max_quasi_p:
                break
            lims = worst[1]
        return lims

    def _pastes(self, j: int, v: np.ndarray, lim: Limit, other: np.ndarray, k: int
                ) -> Iterator[tuple[Limit, np.ndarray]]:
        bound = self.data.bounds[j]
        if isinstance(lim, frozenset):
            assert isinstance(bound, frozenset)
            for c in sorted(bound - lim):
                add = other & (v == c)
                if add.any():
                    yield lim | {c}, add
            return
        below = other & (v < lim[0])
        if below.any():
            t = float(np.sort(v[below])[::-1][min(k, int(below.sum())) - 1])  # the k nearest below
            yield (t, lim[1]), below & (v >= t)
        above = other & (v > lim[1])
        if above.any():
            t = float(np.sort(v[above])[min(k, int(above.sum())) - 1])
            yield (lim[0], t), above & (v <= t)


def default_threshold(rate: float) -> float:
    """The default minimum density of a chosen box: the rate of the outcome among the runs
    searched, plus half the distance from there to 1."""
    return rate + (1.0 - rate) / 2.0


@dataclass(eq=False)
class PrimResult:
    """A PRIM search: the peeling trajectory and the chosen box.

    ``trajectory[i]`` is the box after ``i`` peels (``trajectory[0]`` holds every run searched).
    ``box`` is the chosen step, widened by pasting where that raised its density and freed of
    the restrictions the data do not support (``max_quasi_p``); ``chosen`` is its position on
    the trajectory. The default choice: among the steps at least as dense as
    ``threshold``, the one with the largest coverage x density (a further peel is worth it while
    the slice it removes is less than half as dense as the box); if no step reaches the
    threshold, the largest coverage x density over all steps, and ``meets_threshold`` is false.
    """

    trajectory: list[Box]
    threshold: float
    chosen: int
    box: Box
    _search: _Search = field(repr=False)
    _lims: list[list[Limit]] = field(repr=False)
    _inside: np.ndarray = field(repr=False)
    _frozen: bool = field(default=False, repr=False)

    @property
    def meets_threshold(self) -> bool:
        return self.box.density >= self.threshold - _EPS

    @property
    def stats(self) -> pd.DataFrame:
        """The trajectory as a table: coverage, density, mass, n, n_interest, restricted."""
        return pd.DataFrame(
            {
                "coverage": [b.coverage for b in self.trajectory],
                "density": [b.density for b in self.trajectory],
                "mass": [b.mass for b in self.trajectory],
                "n": [b.n for b in self.trajectory],
                "n_interest": [b.n_interest for b in self.trajectory],
                "restricted": [b.n_restricted for b in self.trajectory],
            }
        )

    def select(self, i: int) -> Box:
        """Choose step ``i`` of the trajectory instead (negative counts from the end), pasted and
        pruned as in the default choice; returns the new ``box``."""
        if self._frozen:
            raise RuntimeError("later boxes were found without this box's runs; re-run find_boxes instead")
        n = len(self.trajectory)
        if not -n <= i < n:
            raise IndexError(f"the trajectory has {n} steps")
        self.chosen = i % n
        self.box, self._inside = _finish(self._search, self._lims[self.chosen])
        return self.box


def _finish(search: _Search, lims: list[Limit]) -> tuple[Box, np.ndarray]:
    """The chosen step, pasted and then pruned of the restrictions the data do not support."""
    pasted, _ = search.paste(lims)
    final = search.prune(pasted)
    inside = search.rows[search.data.mask(final, search.rows)]
    return search.data.box(final, inside, search.index), inside


def _run(data: _Data, rows: np.ndarray, index: int, settings: _Settings) -> PrimResult:
    search = _Search(data, rows, index, settings)
    steps = search.peel()
    trajectory = [data.box(lims, inside, index) for lims, inside in steps]
    threshold = settings.threshold
    if threshold is None:
        threshold = default_threshold(float(data.y[rows].mean()) if len(rows) else 0.0)
    dense = [i for i, b in enumerate(trajectory) if b.density >= threshold - _EPS]
    candidates = dense or list(range(len(trajectory)))
    # best coverage x density; on a tie the earlier (larger) box
    chosen = max(candidates, key=lambda i: (round(trajectory[i].coverage * trajectory[i].density, 12), -i))
    lims = [s[0] for s in steps]
    box, inside = _finish(search, lims[chosen])
    return PrimResult(trajectory, threshold, chosen, box, search, lims, inside)


def prim(
    x: pd.DataFrame,
    y: np.ndarray | pd.Series,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    threshold: float | None = None,
    objective: str = "lenient",
    max_quasi_p: float | None = 0.05,
) -> PrimResult:
    """One PRIM box for the runs where ``y`` is true.

    Args:
        x: the conditions, one column each: numeric (ranges) or anything else (categories).
        y: the outcome of interest, boolean (or 0/1), one value per row of ``x``.
        peel_alpha: the share of the runs inside the box that one numeric peel removes (ties
            with the cut value go too, so an integer condition loses whole values).
        paste_alpha: the share of the box's runs one paste adds back; 0 turns pasting off.
        mass_min: peeling stops before the box would hold less than this share of all runs.
        threshold: the minimum density of the chosen box; default: the outcome's overall rate
            plus half the distance to 1 (:func:`default_threshold`).
        objective: how a peel is scored. ``"lenient"`` (default): the density gained per run
            removed, as the EMA workbench does by default; ``"density"``: the density after the
            peel (Friedman & Fisher's original). They rank numeric peels alike, since those remove
            about the same number of runs; they differ on peels of unequal size. Under
            ``"density"`` dropping a whole category (half the box, say) can win on a small, noisy
            gain before the cheap numeric peels have been tried, and the box misses the region.
        max_quasi_p: after pasting, drop the chosen box's restrictions whose quasi-p value
            (Bryant & Lempert 2010; see ``_Search.prune``) exceeds this, largest first, so that a
            stray peel of an irrelevant condition is not reported; ``None`` keeps them all.
    """
    settings = _Settings(peel_alpha, paste_alpha, mass_min, threshold, objective, max_quasi_p)
    data = _Data.from_frame(x, y)
    return _run(data, np.arange(data.n), 0, settings)


def find_boxes(
    x: pd.DataFrame,
    y: np.ndarray | pd.Series,
    n_boxes: int = 3,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    threshold: float | None = None,
    objective: str = "lenient",
    max_quasi_p: float | None = 0.05,
) -> list[PrimResult]:
    """Up to ``n_boxes`` PRIM boxes by covering: after each box, its runs are set aside and PRIM
    searches the rest.

    It stops early when no runs with the outcome are left, or when the chosen box restricts no
    condition or is not denser than the outcome's rate among the runs left. A box after the first
    must also reach the threshold (by default recomputed from the runs left: their rate plus half
    the distance to 1); the first is kept even below it, as the strongest pattern in the data,
    and its ``meets_threshold`` says so.
    Coverage and mass of every box are shares of all runs. The earlier results are frozen:
    :meth:`PrimResult.select` works on the last one only.
    """
    settings = _Settings(peel_alpha, paste_alpha, mass_min, threshold, objective, max_quasi_p)
    data = _Data.from_frame(x, y)
    remaining = np.arange(data.n)
    results: list[PrimResult] = []
    for index in range(n_boxes):
        if len(remaining) == 0 or not data.y[remaining].any():
            break
        rate = float(data.y[remaining].mean())
        res = _run(data, remaining, index, settings)
        b = res.box
        if b.n_restricted == 0 or b.density <= rate + _EPS or (index > 0 and not res.meets_threshold):
            break
        for earlier in results:
            earlier._frozen = True
        results.append(res)
        remaining = np.setdiff1d(remaining, res._inside, assume_unique=True)
    return results


# --- sentences -------------------------------------------------------------------------------------------------


def _num(v: float) -> str:
    """A number with 3 significant digits, without an exponent."""
    if not math.isfinite(v):
        return str(v)
    return str(np.format_float_positional(float(f"{v:.3g}"), trim="-"))


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _name(column: str, labels: Mapping[str, str] | None = None) -> str:
    """A condition's name in a sentence: its label (``model.labels``) if given, else its path."""
    return str((labels or {}).get(column) or column.removeprefix("axis."))


def _join(parts: list[str], word: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {word} {parts[-1]}"


def condition(column: str, restriction: Restriction, bounds: Limit | None = None,
              labels: Mapping[str, str] | None = None) -> str:
    """One restricted condition in words: ``trust ≥ 0.62``, ``trust between 0.2 and 0.6``,
    ``strategy is hawk or dove``; with the categories' ``bounds`` given, a single excluded
    category out of three or more reads ``strategy is not dove``. ``labels`` (a column's label,
    as ``model.results.load`` gives in ``df.attrs["labels"]``) name the condition."""
    name = _name(column, labels)
    if isinstance(restriction, frozenset):
        allowed = sorted(restriction, key=str)
        if isinstance(bounds, frozenset):
            excluded = sorted(bounds - restriction, key=str)
            if len(excluded) == 1 and len(allowed) >= 2:
                return f"{name} is not {excluded[0]}"
        return f"{name} is {_join([str(a) for a in allowed], 'or')}"
    lo, hi = restriction
    if lo is not None and hi is not None:
        return f"{name} between {_num(lo)} and {_num(hi)}"
    if lo is not None:
        return f"{name} ≥ {_num(lo)}"
    if hi is not None:
        return f"{name} ≤ {_num(hi)}"
    return f"{name} unrestricted"


def describe(box: Box, outcome_label: str = "agreement", labels: Mapping[str, str] | None = None) -> str:
    """The box as a plain sentence, e.g. "agreement in 87% of runs when trust ≥ 0.62 and
    influence ≤ 0.35; these 312 runs cover 71% of all agreements".

    Only the restricted conditions are named (by their ``labels`` where given, else by their
    path without the ``axis.`` prefix), numbers with 3 significant digits. A box found after
    others says that its runs exclude theirs.
    """
    where = "runs"
    if box.index == 1:
        where = "runs outside the first box"
    elif box.index > 1:
        where = f"runs outside the first {box.index} boxes"
    conds = [condition(c, r, box.bounds.get(c), labels) for c, r in box.restricted.items()]
    when = f" when {_join(conds, 'and')}" if conds else ", with no condition restricted"
    plural = f"{outcome_label}s" if re.fullmatch(r"[A-Za-z][A-Za-z ]*", outcome_label) else f"runs with {outcome_label}"
    return (f"{outcome_label} in {_pct(box.density)} of {where}{when}; "
            f"these {box.n} runs cover {_pct(box.coverage)} of all {plural}")


# --- plot --------------------------------------------------------------------------------------------------------


def peeling_plot(result: PrimResult, title: str | None = None) -> Figure:
    """The peeling trade-off: coverage (x) against density (y) of every step of the trajectory,
    coloured by the number of restricted conditions, with the chosen box starred and the
    density threshold dotted."""
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap

    traj = result.trajectory
    cov = np.array([b.coverage for b in traj])
    dens = np.array([b.density for b in traj])
    res = np.array([b.n_restricted for b in traj])
    top = max(int(res.max()), 1)
    palette = [c for c in OKABE_ITO if c != "#F0E442"]  # yellow is too faint for dots on white
    cmap: Colormap = (ListedColormap(palette[: top + 1]) if top < len(palette)
                      else colormaps["viridis"].resampled(top + 1))
    norm = BoundaryNorm(np.arange(-0.5, top + 1.5), cmap.N)

    fig = _figure(figsize=(6.0, 4.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(cov, dens, color="0.7", lw=0.8, zorder=2)
    points = ax.scatter(cov, dens, c=res, cmap=cmap, norm=norm, s=24, edgecolors="0.25", linewidths=0.4, zorder=3)
    b = result.box
    ax.scatter([b.coverage], [b.density], marker="*", s=320, facecolors="none", edgecolors="black", linewidths=1.4,
               zorder=4, label=f"chosen box (step {result.chosen})")
    ax.axhline(result.threshold, color="0.35", ls=":", lw=1.2, label=f"density threshold {_num(result.threshold)}")
    bar = fig.colorbar(points, ax=ax, ticks=list(range(top + 1)))
    bar.set_label("restricted dimensions")
    ax.set_xlabel("coverage")
    ax.set_ylabel("density")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.25)
    ax.legend(loc="lower left", frameon=False)
    ax.set_title(plain(title or f"PRIM peeling trajectory ({len(traj) - 1} peels)"))
    return fig


# --- on sweep results --------------------------------------------------------------------------------------------

_EXPR = re.compile(r"^\s*(?P<col>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<val>.+?)\s*$")


def outcome_mask(df: pd.DataFrame, outcome: str) -> pd.Series:
    """The outcome of interest per row as a pandas "boolean" Series (missing where undefined).

    ``outcome`` is a boolean column (``agreed``) or a simple comparison of one column with a
    value: ``value.eu_sanctions>0.2``, ``<``, ``>=``, ``<=``, ``==``, ``!=`` (text columns:
    ``==`` and ``!=`` only).
    """
    if outcome in df.columns:
        s = df[outcome]
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.astype("boolean")
        if pd.api.types.is_numeric_dtype(s.dtype) and s.dropna().isin([0, 1]).all():
            return s.astype("Float64").eq(1.0).astype("boolean")
        raise ValueError(f"outcome column {outcome!r} is not boolean; compare it, e.g. '{outcome}>0.5'")
    m = _EXPR.match(outcome)
    if m is None:
        raise ValueError(f"outcome {outcome!r} is neither a column nor a comparison such as 'value.x>0.2'")
    col, op, raw = m["col"], m["op"], m["val"].strip("'\"")
    if col not in df.columns:
        raise ValueError(f"outcome {outcome!r}: no column {col!r}")
    s = df[col]
    rhs: Any
    if pd.api.types.is_bool_dtype(s.dtype):
        if op not in ("==", "!=") or raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"outcome {outcome!r}: compare a boolean column with == or != True/False")
        s, rhs = s.astype("boolean"), raw.lower() in ("true", "1")
    elif pd.api.types.is_numeric_dtype(s.dtype):
        try:
            rhs = float(raw)
        except ValueError:
            raise ValueError(f"outcome {outcome!r}: {raw!r} is not a number") from None
        s = s.astype("Float64")
    else:
        if op not in ("==", "!="):
            raise ValueError(f"outcome {outcome!r}: a text column takes == or != only")
        s, rhs = s.astype("string"), raw
    ops = {">": s.gt, "<": s.lt, ">=": s.ge, "<=": s.le, "==": s.eq, "!=": s.ne}
    return ops[op](rhs).astype("boolean")


def discover(df: pd.DataFrame, outcome: str = "agreed", axes: list[str] | None = None, **kw: Any) -> list[Box]:
    """PRIM boxes (:func:`find_boxes`) on a sweep's results (``model.results.load``); see
    :func:`discover_results`, which also keeps each box's peeling trajectory."""
    return [r.box for r in discover_results(df, outcome, axes, **kw)]


def discover_results(
    df: pd.DataFrame, outcome: str = "agreed", axes: list[str] | None = None, **kw: Any
) -> list[PrimResult]:
    """PRIM (:func:`find_boxes`) on a sweep's results (``model.results.load``).

    Failed runs (``error`` set) and runs whose outcome or conditions are missing are left out.
    The conditions are the given ``axes`` (``axis.`` prefix optional) or all ``axis.`` columns,
    keeping those that vary. ``outcome``: see :func:`outcome_mask`. ``kw`` go to
    :func:`find_boxes` (``n_boxes``, ``peel_alpha``, ``paste_alpha``, ``mass_min``, ``threshold``).
    """
    if axes is None:
        cols = [str(c) for c in df.columns if str(c).startswith("axis.")]
    else:
        cols = []
        for a in axes:
            c = a if a in df.columns else f"axis.{a}"
            if c not in df.columns:
                raise ValueError(f"no condition column {a!r}")
            cols.append(c)
    y = outcome_mask(df, outcome)
    keep = np.array(y.notna(), dtype=bool)
    if "error" in df.columns:
        keep &= df["error"].isna().to_numpy(dtype=bool)
    if cols:
        keep &= df[cols].notna().all(axis=1).to_numpy(dtype=bool)
    runs = df.loc[keep, cols].reset_index(drop=True)
    cols = [c for c in cols if runs[c].nunique() > 1]
    if not cols or len(runs) == 0:
        return []
    return find_boxes(runs[cols], y[keep].to_numpy(dtype=bool), **kw)


__all__ = [
    "Box",
    "PrimResult",
    "condition",
    "default_threshold",
    "describe",
    "discover",
    "discover_results",
    "find_boxes",
    "outcome_mask",
    "peeling_plot",
    "prim",
]

