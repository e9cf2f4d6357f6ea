"""Outcomes over time across a sweep's replicates: per round, the median and the 10-90% band of a
series column (``model.results.load_series``), one line and band per condition.

A run that ended (agreement, breakdown, deadline) keeps its last value in later rounds: its offer
utility, trust and counts stand as they were when it ended, so every round's band is over all the
runs of a condition, not over a shrinking set of the slow ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from model.plots import OKABE_ITO, _figure, plain

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Counts worth following over time when they move (``metric.<name>``).
COUNTS = ("tranches", "deliveries", "pauses", "pause_rounds", "implemented", "spoilers")


def carried(series: pd.DataFrame, column: str) -> pd.DataFrame:
    """``column`` per run (columns) and round (index), each run's last value carried to the last
    round any run reached."""
    wide = series.pivot_table(index="round", columns="run_id", values=column, aggfunc="last", dropna=False)
    last = int(series["round"].max())
    return wide.reindex(range(1, last + 1)).ffill()


def bands(series: pd.DataFrame, column: str, by: str | None = None) -> pd.DataFrame:
    """Per condition (the values of ``by``, or all runs) and round: the median, 10th and 90th
    percentile of ``column`` over the runs, and their number (``runs``)."""
    groups = [(None, series)] if by is None else list(series.groupby(by, sort=True, dropna=False))
    out = []
    for value, g in groups:
        wide = carried(g, column)
        q = wide.quantile([0.1, 0.5, 0.9], axis=1).T
        frame = pd.DataFrame({"round": wide.index, "p10": q[0.1].to_numpy(), "median": q[0.5].to_numpy(),
                              "p90": q[0.9].to_numpy(), "runs": wide.notna().sum(axis=1).to_numpy()})
        frame.insert(0, "condition", value)
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def default_columns(series: pd.DataFrame, limit: int = 6) -> list[str]:
    """What to show by default: trust columns that the protocol has, counts that move, and if none
    of these says anything, every actor's utility of the offer on the table."""
    cols = [c for c in series.columns if c.startswith("trust.") and series[c].notna().any()
            and series[c].nunique() > 1]
    cols += [f"metric.{k}" for k in COUNTS if f"metric.{k}" in series.columns and series[f"metric.{k}"].nunique() > 1]
    if not cols:
        cols = [c for c in series.columns if c.startswith("utility.")]
    return cols[:limit]


def trajectory_bands(series: pd.DataFrame, columns: list[str] | None = None, by: str | None = None,
                     title: str | None = None) -> Figure:
    """One panel per column: per round, the median (line) and 10-90% band (shaded) over the runs of
    each value of ``by`` (an ``axis.*`` column; all runs together without it). Other swept axes are
    pooled, which the subtitle says.

    Raises:
        ValueError: no series rows, or a column or ``by`` the series lack.
    """
    if series.empty:
        raise ValueError("no series rows to plot (did the sweep run with --series?)")
    columns = columns or default_columns(series)
    missing = [c for c in [*columns, *([by] if by else [])] if c not in series.columns]
    if missing:
        raise ValueError(f"the series have no column {missing[0]!r}")
    n = len(columns)
    cols = min(3, n)
    rows = -(-n // cols)
    fig = _figure(figsize=(4.4 * cols, 3.0 * rows + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, col in zip(axes, columns, strict=False):
        table = bands(series, col, by)
        for k, (value, g) in enumerate(table.groupby("condition", sort=True, dropna=False)):
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            label = "all runs" if by is None else f"{plain(by.removeprefix('axis.'))} = {plain(value)}"
            ax.fill_between(g["round"], g["p10"], g["p90"], color=colour, alpha=0.18, lw=0)
            ax.plot(g["round"], g["median"], color=colour, lw=1.8, label=label)
        ax.set_title(plain(col))
        ax.set_xlabel("round")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.25)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), frameon=False, fontsize=8)
    pooled = [c.removeprefix("axis.") for c in series.columns if c.startswith("axis.") and c != by
              and series[c].nunique() > 1]
    note = "median and 10-90% band over runs" + (f"; pooled over {', '.join(pooled)}" if pooled else "")
    fig.suptitle(plain(f"{title}\n{note}" if title else note), fontsize=10)
    return fig
