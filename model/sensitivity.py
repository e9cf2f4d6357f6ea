"""Global sensitivity of a sweep's outcome to its conditions: Sobol indices and Morris screening.

Both work on a finished sweep (``model.results.load`` and ``model.results.manifest``) whose design
was drawn for the method: ``sobol`` (Saltelli's scheme) for :func:`sobol_indices`, ``morris``
(elementary-effect trajectories) for :func:`morris_indices`. The outcome at a design point is the
mean over its replicates of one result column: ``agreed`` counted as 0/1 (so the agreement rate),
or a numeric column such as ``rounds``, ``nash_product`` or ``utility.BLR``. Runs that failed are
left out. Every point of the design needs an outcome: the estimators use the points' positions in
the design, so a missing point cannot simply be dropped.

The design is drawn on the unit cube and mapped to each axis's range (``design_points`` in
``model.experiment``), so the analysis uses the unit cube too: Sobol indices do not depend on the
scale of the inputs; Morris elementary effects are per unit of the axis's *whole range* (see
:func:`morris_indices`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["morris_indices", "sensitivity_plot", "sobol_convergence", "sobol_indices", "sobol_warnings"]

#: The widest confidence half-width of a Sobol index taken as converged (shares of variance).
CONF_THRESHOLD = 0.1


def _listing(ids: list[int], n: int = 10) -> str:
    more = f", ... ({len(ids)} in all)" if len(ids) > n else ""
    return ", ".join(str(i) for i in ids[:n]) + more


def _axes(manifest: dict[str, Any]) -> list[str]:
    axes = manifest.get("axes")
    if not axes:
        raise ValueError("the manifest names no axes: is this a sweep's manifest.json?")
    return [str(a) for a in axes]


def _spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest.get("experiment_spec")
    if not isinstance(spec, dict):
        raise ValueError("the manifest has no experiment_spec: the sweep was written by an older version")
    return spec


def _check_design(manifest: dict[str, Any], kind: str, what: str, how: str) -> None:
    design = manifest.get("design")
    if design != kind:
        name = manifest.get("experiment", "this sweep")
        raise ValueError(f"{name} was run with a {design} design; {what} need a {kind} design ({how})")


def _outcome_values(df: pd.DataFrame, outcome: str) -> pd.Series:
    """The outcome column as floats (``agreed`` and other true/false columns as 0/1)."""
    if outcome not in df.columns:
        numeric = [c for c in df.columns if c in ("agreed", "rounds", "nash_product")
                   or c.startswith(("utility.", "value."))]
        raise ValueError(f"no outcome column {outcome!r} in the results (choose one of: {', '.join(numeric)})")
    col = df[outcome]
    if pd.api.types.is_bool_dtype(col.dtype):
        return col.astype("boolean").astype("Float64").astype("float64")
    if not pd.api.types.is_numeric_dtype(col.dtype):
        raise ValueError(f"outcome {outcome!r} is not a number or true/false column (it holds {col.dtype})")
    return col.astype("Float64").astype("float64")


def _per_point(df: pd.DataFrame, manifest: dict[str, Any], outcome: str, what: str) -> np.ndarray:
    """Mean outcome over the finished replicates of each point, in point order; every point must have one."""
    n_points = int(manifest["n_points"])
    if df.empty or "point_id" not in df.columns:
        status = manifest.get("status", "unknown")
        raise ValueError(f"the sweep is incomplete: no finished runs yet (status {status}); {what} need every point")
    y = _outcome_values(df, outcome)
    failed = df["error"].notna() if "error" in df.columns else pd.Series(False, index=df.index)
    present = set(df["point_id"].astype(int).unique().tolist())
    absent = [p for p in range(n_points) if p not in present]
    if absent:
        status = manifest.get("status", "unknown")
        raise ValueError(f"the sweep is incomplete: {len(absent)} of {n_points} points have no runs yet "
                         f"(points {_listing(absent)}; status {status}); run the sweep again to finish it, "
                         f"{what} need every point")
    ok = df.loc[~failed]
    done = set(ok["point_id"].astype(int).unique().tolist())
    all_failed = [p for p in range(n_points) if p not in done]
    if all_failed:
        raise ValueError(f"no finished run at point{'s' * (len(all_failed) > 1)} {_listing(all_failed)} "
                         f"(every run there failed: see the error column); {what} need the outcome at every point")
    means = y.loc[~failed].groupby(ok["point_id"].astype(int)).mean().reindex(range(n_points))
    undefined = [int(p) for p in means.index[means.isna()]]
    if undefined:
        raise ValueError(f"outcome {outcome!r} is missing at point{'s' * (len(undefined) > 1)} "
                         f"{_listing(undefined)} in every finished run (value.* columns are empty where there "
                         f"was no agreement): choose another outcome")
    return means.to_numpy(dtype=float)


def sobol_indices(
    df: pd.DataFrame,
    manifest: dict[str, Any],
    outcome: str = "agreed",
    *,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    seed: int | None = 0,
    base: int | None = None,
) -> pd.DataFrame:
    """Sobol sensitivity indices of ``outcome`` for a sweep run with the ``sobol`` design.

    The outcome per point (mean over replicates; ``agreed`` as 0/1, i.e. the agreement rate) is
    given to ``SALib.analyze.sobol.analyze`` in the design's point order, with the problem on the
    unit cube (names: the axis paths) and the design's ``second_order`` setting.

    Args:
        df: the sweep's results (``model.results.load``).
        manifest: its manifest (``model.results.manifest``).
        outcome: a result column: ``agreed`` or a numeric one (``rounds``, ``utility.BLR``, ...).
        num_resamples, conf_level, seed: for the bootstrap confidence intervals (the same seed
            gives the same intervals).
        base: use only the design's first ``base`` base samples (its first ``base * (D + 2)``
            points; Saltelli's scheme keeps each base sample's points together), to see how the
            indices move with the sample size (``sobol_convergence``); default: all of them.

    Returns:
        One row per axis (index: the axis path), columns ``S1``, ``S1_conf``, ``ST``, ``ST_conf``
        (``*_conf`` is the half-width of the ``conf_level`` interval). ``attrs`` holds ``method``,
        ``outcome`` and, with second order, ``S2`` and ``S2_conf`` (``{(a, b): value}``).

    Raises:
        ValueError: (one line) the design is not sobol, the sweep is incomplete, a point has no
            finished run, or the outcome does not vary at all (the indices are then undefined).
    """
    from SALib.analyze import sobol as sobol_analyze

    what = "Sobol indices"
    _check_design(manifest, "sobol", what, "design: {kind: sobol, samples: N}")
    axes = _axes(manifest)
    design = _spec(manifest).get("design", {})
    second = bool(design.get("second_order", False))
    d = len(axes)
    n_points = int(manifest["n_points"])
    per_base = 2 * d + 2 if second else d + 2
    samples = design.get("samples")
    if n_points != (samples or 0) * per_base:
        raise ValueError(f"{n_points} points is not a Saltelli design over {d} axes with {samples} samples "
                         f"({'with' if second else 'without'} second order: {per_base} points per sample)")
    y = _per_point(df, manifest, outcome, what)
    if base is not None:
        if not 1 <= base <= samples:
            raise ValueError(f"base {base} is not between 1 and the design's {samples} samples")
        y = y[: base * per_base]
    if np.ptp(y) == 0:
        raise ValueError(f"outcome {outcome!r} is {y[0]:g} at every point: it does not vary, so there is no "
                         f"variance for the Sobol indices to share out")
    problem = {"num_vars": d, "names": axes, "bounds": [[0.0, 1.0]] * d}
    # a Generator, not the number: SALib 1.6 ignores a seed of 0 (``if seed:``) and draws unseeded
    rng = None if seed is None else np.random.default_rng(seed)
    si = sobol_analyze.analyze(problem, y, calc_second_order=second, num_resamples=num_resamples,
                               conf_level=conf_level, seed=rng)
    table = pd.DataFrame(
        {k: np.asarray(si[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")},
        index=pd.Index(axes, name="axis"),
    )
    table.attrs.update(method="sobol", outcome=outcome, points=len(y), samples=len(y) // per_base,
                       replicates=manifest.get("replicates"))
    if second:
        s2, s2c = np.asarray(si["S2"], dtype=float), np.asarray(si["S2_conf"], dtype=float)
        table.attrs["S2"] = {(axes[i], axes[j]): float(s2[i, j]) for i in range(d) for j in range(i + 1, d)}
        table.attrs["S2_conf"] = {(axes[i], axes[j]): float(s2c[i, j]) for i in range(d) for j in range(i + 1, d)}
    return table


def sobol_convergence(df: pd.DataFrame, manifest: dict[str, Any], outcome: str = "agreed",
                      fractions: tuple[float, ...] = (0.25, 0.5, 1.0), **kwargs: Any) -> pd.DataFrame:
    """Sobol indices at growing sample sizes (by default N/4, N/2 and N base samples of the design's
    N), so one sees whether they have settled: converged indices change little from N/2 to N, and
    their intervals shrink about as ``1/sqrt(N)``.

    Returns:
        One row per sample size and axis: ``samples``, ``axis``, ``S1``, ``S1_conf``, ``ST``,
        ``ST_conf`` (sizes too small to estimate, below 2 base samples, are left out).
    """
    samples = int(_spec(manifest).get("design", {}).get("samples") or 0)
    sizes = sorted({int(samples * f) for f in fractions if int(samples * f) >= 2})
    frames = []
    for n in sizes:
        t = sobol_indices(df, manifest, outcome, base=n, **kwargs)
        frames.append(t.reset_index().assign(samples=n))
    cols = ["samples", "axis", "S1", "S1_conf", "ST", "ST_conf"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def samples_needed(samples: int, widest: float, threshold: float = CONF_THRESHOLD) -> int:
    """The base sample size at which the widest half-width ``widest`` (at ``samples``) should fall
    to ``threshold``, as intervals shrink with ``1/sqrt(N)``: rounded up to a power of 2 (Sobol
    sequences are balanced at powers of 2)."""
    want = samples * (widest / threshold) ** 2
    return int(2 ** int(np.ceil(np.log2(max(want, samples + 1)))))


def sobol_warnings(table: pd.DataFrame, threshold: float = CONF_THRESHOLD) -> list[str]:
    """What makes ``table`` (``sobol_indices``) untrustworthy, one sentence each, with the sample
    size to run: intervals wider than ``threshold``; indices outside [0, 1] beyond their interval
    (a share of variance lies in [0, 1]: outside it, the estimate has not converged); a first-order
    index above its total beyond their intervals. Empty when none applies.
    """
    samples = int(table.attrs.get("samples") or 0)
    out: list[str] = []
    conf = table[["S1_conf", "ST_conf"]].to_numpy(dtype=float)
    widest = float(np.nanmax(conf)) if conf.size else 0.0
    names = [str(n) for n in table.index]
    outside = [n for n, r in zip(names, table.itertuples(), strict=True)
               if r.S1 + r.S1_conf < 0 or r.ST - r.ST_conf > 1 or r.S1 - r.S1_conf > 1 or r.ST + r.ST_conf < 0]
    above = [n for n, r in zip(names, table.itertuples(), strict=True) if r.S1 - r.S1_conf > r.ST + r.ST_conf]
    if widest > threshold:
        out.append(f"confidence intervals are wide (up to ±{widest:.2f}, more than ±{threshold:g}) with {samples} "
                   f"samples: run the design with samples: {samples_needed(samples, widest, threshold)}")
    if outside:
        more = samples_needed(samples, max(widest, 2 * threshold), threshold)
        out.append(f"indices outside [0, 1] beyond their interval ({', '.join(outside[:3])}): the estimates have "
                   f"not converged; run more samples (samples: {more})")
    if above:
        out.append(f"first-order above total beyond their intervals ({', '.join(above[:3])}): not converged")
    reps = table.attrs.get("replicates")
    if out and isinstance(reps, int) and reps > 1:
        out.append(f"the outcome is a mean over {reps} replicates per point: noise between replicates adds "
                   "variance no condition explains, which more replicates reduce")
    return out


def _unit_column(values: pd.Series, axis: dict[str, Any], levels: int) -> np.ndarray:
    """Map one axis's values back to the unit cube of the design (see ``morris_indices``)."""
    path = axis["path"]
    if axis.get("values") is not None:
        choices = list(axis["values"])
        n = len(choices)
        out = np.empty(len(values))
        for k, v in enumerate(values.tolist()):
            try:
                idx = next(i for i, c in enumerate(choices) if c == v and isinstance(c, bool) == isinstance(v, bool))
            except StopIteration:
                raise ValueError(f"axis {path}: value {v!r} is not one of its values {choices}") from None
            out[k] = (idx + 0.5) / n
        return out
    lo, hi = (float(b) for b in axis["range"])
    u = (values.to_numpy(dtype=float) - lo) / (hi - lo)
    return np.clip(np.round(u * (levels - 1)) / (levels - 1), 0.0, 1.0)  # back onto Morris's grid


def morris_indices(
    df: pd.DataFrame,
    manifest: dict[str, Any],
    outcome: str = "agreed",
    *,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Morris elementary-effects screening of ``outcome`` for a sweep run with the ``morris`` design.

    The design's unit-cube matrix ``X`` is rebuilt from the axis columns, point by point:

    * a ``range`` axis: ``(v - lo) / (hi - lo)``, snapped to the nearest of Morris's grid levels
      ``k / (levels - 1)`` (which undoes the rounding of ``integer`` axes as long as
      ``hi - lo > levels - 1``);
    * a ``values`` axis: the middle of the value's bin, ``(index + 0.5) / len(values)``.

    ``SALib.analyze.morris.analyze`` (unscaled) uses ``X`` only to find which axis changed between
    consecutive points of a trajectory and in which direction; each elementary effect is the change
    in outcome divided by the design's fixed step ``levels / (2 (levels - 1))`` of the unit cube.
    So ``mu_star`` is in outcome units per whole axis range: for an outcome ``c * x`` on a range
    axis ``[lo, hi]``, every effect is ``c * (hi - lo)`` and ``mu_star = |c| * (hi - lo)``. For a
    ``values`` axis an effect is the change from one value to another, as if it were that step.
    When a step of the design moves an axis within one bin of a ``values`` axis (fewer values than
    levels) or between levels that round to the same whole number, the runs did not change that
    axis at all: SALib counts that effect as 0; ``attrs["steps_without_change"]`` says how many.

    Args:
        df, manifest, outcome: as for :func:`sobol_indices`.
        num_resamples, conf_level, seed: for the bootstrap interval of ``mu_star``.

    Returns:
        One row per axis (index: the axis path), columns ``mu_star``, ``mu_star_conf``, ``sigma``
        and ``mu`` (the signed mean: far below ``mu_star`` means effects of both signs). ``attrs``
        holds ``method``, ``outcome``, ``levels`` and ``steps_without_change``.

    Raises:
        ValueError: (one line) the design is not morris, the sweep is incomplete, a point has no
            finished run, or the points are not in the design's trajectory order.
    """
    from SALib.analyze import morris as morris_analyze

    what = "Morris effects"
    _check_design(manifest, "morris", what, "design: {kind: morris, samples: N, levels: 4}")
    axes = _axes(manifest)
    spec = _spec(manifest)
    levels = int(spec.get("design", {}).get("levels", 4))
    by_path = {a["path"]: a for a in spec.get("axes", [])}
    d = len(axes)
    n_points = int(manifest["n_points"])
    samples = spec.get("design", {}).get("samples")
    if n_points != (samples or 0) * (d + 1):
        raise ValueError(f"{n_points} points is not {samples} Morris trajectories over {d} axes "
                         f"({d + 1} points each)")
    y = _per_point(df, manifest, outcome, what)
    first = df.sort_values(["point_id", "run_id"] if "run_id" in df.columns else ["point_id"]).groupby("point_id")
    cols = []
    for path in axes:
        col = f"axis.{path}"
        if col not in df.columns or path not in by_path:
            raise ValueError(f"axis {path} has no column {col} or no entry in the manifest's experiment_spec")
        cols.append(_unit_column(first[col].first().reindex(range(n_points)), by_path[path], levels))
    x = np.column_stack(cols)
    steps = np.diff(x.reshape(-1, d + 1, d), axis=1)
    changed = (steps != 0).sum(axis=2)
    if (changed > 1).any():
        raise ValueError("the points are not in Morris trajectory order (more than one axis changes in a step): "
                         "was the sweep run with this design?")
    problem = {"num_vars": d, "names": axes, "bounds": [[0.0, 1.0]] * d}
    si = morris_analyze.analyze(problem, x, y, num_resamples=num_resamples, conf_level=conf_level,
                                num_levels=levels, seed=seed)
    table = pd.DataFrame(
        {k: np.asarray(si[k], dtype=float) for k in ("mu_star", "mu_star_conf", "sigma", "mu")},
        index=pd.Index(axes, name="axis"),
    )
    table.attrs.update(method="morris", outcome=outcome, levels=levels, points=n_points,
                       steps_without_change=int((changed == 0).sum()))
    return table


def sensitivity_plot(table: pd.DataFrame, title: str | None = None,
                     names_of: Mapping[str, str] | None = None) -> Figure:
    """Horizontal bars per condition: ``S1`` and ``ST`` with their confidence intervals (Sobol,
    sorted by ``ST``), or ``mu_star`` (with its interval) and ``sigma`` (Morris, sorted by ``mu_star``);
    the most influential condition on top, named by its label (``names_of``: column -> label, as
    ``model.results.load`` gives in ``df.attrs["labels"]``) or else its path."""
    from model.plots import OKABE_ITO, _figure, plain

    if {"S1", "ST"} <= set(table.columns):
        sobol = True
        first, second, key = "S1", "ST", "ST"
        labels = ("S1: first order (alone)", "ST: total (with interactions)")
        errs = (table.get("S1_conf"), table.get("ST_conf"))
        xlabel = "Sobol index"
    elif {"mu_star", "sigma"} <= set(table.columns):
        sobol = False
        first, second, key = "mu_star", "sigma", "mu_star"
        labels = ("mu*: mean absolute effect", "sigma: spread of effects (interactions, nonlinearity)")
        errs = (table.get("mu_star_conf"), None)
        xlabel = "mu* (mean absolute elementary effect)"
    else:
        raise ValueError("not a sensitivity table: needs columns S1 and ST (Sobol) or mu_star and sigma (Morris)")
    t = table.sort_values(key, ascending=True, na_position="first")
    names = [(names_of or {}).get(str(n)) or str(n).removeprefix("axis.") for n in t.index]
    n = len(t)
    fig = _figure(figsize=(7.5, 0.55 * n + 1.9), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(n)
    h = 0.38
    for k, (col, label, err) in enumerate(zip((first, second), labels, errs, strict=True)):
        vals = t[col].to_numpy(dtype=float)
        xerr = None if err is None else np.nan_to_num(t[err.name].to_numpy(dtype=float))
        ax.barh(pos + (h / 2 if k == 0 else -h / 2), np.nan_to_num(vals), height=h, xerr=xerr,
                color=OKABE_ITO[k], label=label, error_kw={"ecolor": "0.25", "capsize": 3, "lw": 1})
    ax.set_yticks(pos, [plain(nm) for nm in names])
    ax.axvline(0.0, color="0.3", lw=0.8)
    if sobol:  # indices are shares of variance: show them on a 0..1 scale (wider if estimates spill over)
        lo, hi = ax.get_xlim()
        ax.set_xlim(min(lo, -0.02), max(hi, 1.02))
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.25, axis="x")
    ax.legend(frameon=False, fontsize=8, title_fontsize=8, loc="upper center", ncols=2,
              bbox_to_anchor=(0.5, -0.14 - 0.5 / (n + 2)),  # below the axes: never over a bar
              title="error bars: 95% bootstrap confidence intervals")
    outcome = table.attrs.get("outcome")
    what = "agreement" if outcome == "agreed" else outcome
    ax.set_title(plain(title or (f"Sensitivity of {what}" if what else "Sensitivity")))
    return fig
