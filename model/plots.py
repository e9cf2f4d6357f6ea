"""Plots: functions that take results and return a matplotlib ``Figure``. They never run a model.

Colours are the Okabe-Ito palette, which stays distinct under the common colour-vision
deficiencies.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from model.labels import column_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from model.core import Problem
    from model.report import History

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def plain(text: object) -> str:
    """``text`` as matplotlib should show it, character for character: every ``$`` escaped, so that
    user text (titles, names, axis values) never reaches the mathtext parser (``Cost $5bn vs $10bn``
    would be read as a formula, and ``$x^$`` would crash it). Pass all user text through this."""
    return str(text).replace("$", r"\$")


def _figure(**kwargs: object) -> Figure:
    from matplotlib.figure import Figure

    return Figure(**kwargs)  # type: ignore[arg-type]


def _panels(n: int, max_cols: int, size: tuple[float, float], extra_height: float, ylabel: str) -> tuple:
    """A figure with ``n`` panels sharing their axes in a grid (unused cells hidden), labelled
    "round" below and ``ylabel`` on the left: ``(figure, panels in order, the grid)``."""
    cols = min(max_cols, n)
    rows = math.ceil(n / cols)
    fig = _figure(figsize=(size[0] * cols, size[1] * rows + extra_height), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("round")
    for r in range(rows):
        axes[r][0].set_ylabel(ylabel)
    return fig, [axes[k // cols][k % cols] for k in range(n)], axes


def trajectory(history: History, title: str | None = None) -> Figure:
    """Each actor's aspiration and its utility of the offer on the table, round by round.

    One panel per actor: the aspiration (line), the utility of the current offer (dots; filled
    where the actor proposed it), and the reservation utility (dotted). The round of
    agreement, if any, is marked.
    """
    fig, panels, _ = _panels(len(history.actor_ids), 3, (4.2, 2.9), 0.6, "utility")
    t = history.rounds
    for a, aid in enumerate(history.actor_ids):
        ax = panels[a]
        colour = OKABE_ITO[a % len(OKABE_ITO)]
        ax.plot(t, history.aspiration[:, a], color=colour, lw=2, label="aspiration")
        proposed = np.array([history.proposer[k] == aid for k in range(len(t))], dtype=bool)
        ax.plot(t, history.offer_utility[:, a], color=colour, lw=0.8, alpha=0.6)
        ax.scatter(t[~proposed], history.offer_utility[~proposed, a], s=14, facecolors="white",
                   edgecolors=colour, zorder=3, label="utility of offer")
        ax.scatter(t[proposed], history.offer_utility[proposed, a], s=18, color=colour, zorder=3,
                   label="its own offer")
        ax.axhline(history.reservation[a], color="0.35", ls=":", lw=1.2, label="reservation")
        if history.agreed and len(t):
            ax.axvline(t[-1], color="0.2", lw=1, ls="--", label="agreement")
        ax.set_title(plain(aid))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.25)
    handles, labels = panels[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    outcome = f"agreement in round {t[-1]}" if history.agreed and len(t) else f"no agreement ({history.reason})"
    fig.suptitle(plain(f"{title + ': ' if title else ''}{outcome}"))
    return fig


def agreement_heatmap(df: pd.DataFrame, x: str, y: str, title: str | None = None) -> Figure:
    """Agreement rate over two swept conditions, with the number of runs in each cell.

    Args:
        df: sweep results (``model.results.load``).
        x, y: the axis columns (``axis.<path>``) for the horizontal and vertical axes.
    """
    from matplotlib import colormaps

    from model.results import agreement_rates

    rates = agreement_rates(df, [y, x])
    xs = sorted(rates[x].unique())
    ys = sorted(rates[y].unique())
    grid = np.full((len(ys), len(xs)), np.nan)
    runs = np.zeros((len(ys), len(xs)), dtype=int)
    for r in rates.itertuples(index=False):
        i, j = ys.index(r[0]), xs.index(r[1])
        grid[i, j] = r.rate
        runs[i, j] = r.runs
    fig = _figure(figsize=(1.1 * len(xs) + 3.2, 0.6 * len(ys) + 2.4), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(grid, cmap=colormaps["cividis"], vmin=0.0, vmax=1.0, origin="lower", aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            if runs[i, j]:
                v = grid[i, j]
                ax.text(j, i, f"{v:.0%}\nn={runs[i, j]}", ha="center", va="center", fontsize=8,
                        color="white" if v < 0.6 else "black")
    ax.set_xticks(range(len(xs)), [plain(f"{v:g}" if isinstance(v, float) else v) for v in xs])
    ax.set_yticks(range(len(ys)), [plain(f"{v:g}" if isinstance(v, float) else v) for v in ys])
    ax.set_xlabel(plain(column_label(df, x)))
    ax.set_ylabel(plain(column_label(df, y)))
    fig.colorbar(im, ax=ax, label="agreement rate")
    ax.set_title(plain(title or "Agreement rate"))
    return fig


def agreement_by_axis(
    df: pd.DataFrame, x: str, title: str | None = None, bins: int = 10, by: str | None = None
) -> Figure:
    """Agreement rate against one swept condition, with a 95% Wilson band over the runs; with
    ``by`` (a categorical axis such as ``axis.protocol.kind``), one line and band per category."""
    from model.results import agreement_rates

    data = df
    if df[x].nunique() > 12:  # a sampled axis: bin it
        data = df.assign(**{x: pd.cut(df[x], bins).map(lambda iv: iv.mid).astype(float)})
    groups = [(None, data)] if by is None else [(g, d) for g, d in data.groupby(by, sort=True)]
    fig = _figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.subplots()
    z = 1.96
    for k, (group, part) in enumerate(groups):
        rates = agreement_rates(part, [x]).dropna(subset=["rate"])
        n = rates["runs"].to_numpy(dtype=float)
        p = rates["rate"].to_numpy(dtype=float)
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        xv = rates[x].to_numpy()
        numeric = np.issubdtype(np.asarray(xv).dtype, np.number)
        pos = xv if numeric else np.arange(len(xv))
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        name = "agreement rate" if group is None else plain(f"{column_label(df, str(by))} = {group}")
        ax.fill_between(pos, centre - half, centre + half, color=colour, alpha=0.2,
                        label="95% interval" if group is None else None)
        ax.plot(pos, p, "o-", color=colour, label=name)
        if not numeric:
            ax.set_xticks(pos, [plain(v) for v in xv])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(plain(column_label(df, x)))
    ax.set_ylabel("agreement rate")
    ax.grid(alpha=0.25)
    ax.legend(frameon=False)
    ax.set_title(plain(title or "Agreement rate") + ("" if by is None else " (bands: 95% intervals)"))
    return fig


def utility_at_agreement(df: pd.DataFrame, title: str | None = None) -> Figure:
    """Distribution of each actor's utility in the runs that ended in agreement (box plots),
    with the share of runs that agreed in the title."""
    agreed = df[df["agreed"].fillna(False).astype(bool) & df["error"].isna()]
    cols = [c for c in df.columns if c.startswith("utility.")]
    names = [c.removeprefix("utility.") for c in cols]
    fig = _figure(figsize=(max(4.5, 0.9 * len(cols) + 2.0), 3.8), layout="constrained")
    ax = fig.subplots()
    if len(agreed):
        data = [agreed[c].to_numpy(dtype=float) for c in cols]
        parts = ax.boxplot(data, patch_artist=True, widths=0.6)
        ax.set_xticks(range(1, len(names) + 1), [plain(n) for n in names])
        for k, box in enumerate(parts["boxes"]):
            box.set_facecolor(OKABE_ITO[k % len(OKABE_ITO)])
            box.set_alpha(0.6)
    else:
        ax.text(0.5, 0.5, "no run ended in agreement", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("actor")
    ax.set_ylabel("utility of the agreed package")
    ax.grid(alpha=0.25, axis="y")
    finished = int(df["error"].isna().sum())
    share = len(agreed) / finished if finished else 0.0
    ax.set_title(plain(f"{title + ': ' if title else ''}utility at agreement ({len(agreed)} of {finished} runs, "
                       f"{share:.0%})"))
    return fig


def rounds_to_agreement(df: pd.DataFrame, title: str | None = None) -> Figure:
    """Histogram of the round in which runs agreed, with the runs that did not agree by reason."""
    ok = df[df["error"].isna()]
    agreed = ok[ok["agreed"].fillna(False).astype(bool)]
    fig = _figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.subplots()
    if len(agreed):
        r = agreed["rounds"].to_numpy(dtype=float)
        bins = np.arange(0.5, r.max() + 1.5, max(1, int(np.ceil(r.max() / 40))))
        ax.hist(r, bins=bins.tolist(), color=OKABE_ITO[0], alpha=0.8, label=f"agreement ({len(agreed)} runs)")
    failed = ok[~ok["agreed"].fillna(False).astype(bool)]
    reasons = failed["reason"].value_counts()
    text = "; ".join(f"{k}: {v}" for k, v in reasons.items())
    ax.set_xlabel("round of agreement")
    ax.set_ylabel("runs")
    ax.grid(alpha=0.25, axis="y")
    if len(agreed):
        ax.legend(frameon=False)
    ax.set_title(plain((f"{title}: " if title else "") + "rounds to agreement"
                       + (f"\nno agreement: {text}" if text else "")))
    return fig


def issue_values(history: History, space: object | None = None, title: str | None = None) -> Figure:
    """Each issue's value in the offer on the table, round by round (one small panel per issue)."""
    fig, panels, _ = _panels(len(history.issue_ids), 4, (3.2, 1.9), 0.8, "value")
    t = history.rounds
    for i, iid in enumerate(history.issue_ids):
        ax = panels[i]
        ax.step(t, history.offers[:, i], where="mid", color=OKABE_ITO[0], lw=1.5)
        ax.set_title(plain(iid), fontsize=8)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.25)
    fig.suptitle(plain(f"{title + ': ' if title else ''}issue values on the table"))
    return fig


def utility_space(problem: Problem, a: int, b: int, agreement: np.ndarray | None = None,
                  offers: np.ndarray | None = None, title: str | None = None) -> Figure:
    """Two actors' utilities: the Pareto frontier of the feasible packages, the Nash bargaining
    point, the reservation utilities, the offers made and the agreement."""
    from model.core import nash_point, pareto_frontier

    ids = problem.actor_ids
    fig = _figure(figsize=(5.4, 5.0), layout="constrained")
    ax = fig.subplots()
    front = pareto_frontier(problem, a, b)
    if len(front):
        ax.plot(front[:, 0], front[:, 1], "-", color="0.3", lw=1.5, label="Pareto frontier")
    if offers is not None and len(offers):
        u = problem.utility(offers)
        ax.scatter(u[:, a], u[:, b], s=14, color=OKABE_ITO[5], alpha=0.7, label="offers", zorder=3)
    ra, rb = problem.reservation[a], problem.reservation[b]
    ax.axvline(ra, color=OKABE_ITO[1], ls=":", lw=1.2, label=plain(f"reservation of {ids[a]}"))
    ax.axhline(rb, color=OKABE_ITO[2], ls=":", lw=1.2, label=plain(f"reservation of {ids[b]}"))
    nash = nash_point(problem, [a, b])
    if nash is not None:
        un = problem.utility(nash)
        ax.scatter([un[a]], [un[b]], marker="D", s=50, color=OKABE_ITO[4], label="Nash point (these two)", zorder=4)
    if agreement is not None:
        ua = problem.utility(agreement)
        ax.scatter([ua[a]], [ua[b]], marker="*", s=160, color=OKABE_ITO[3], label="agreement", zorder=5)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(plain(f"utility of {ids[a]}"))
    ax.set_ylabel(plain(f"utility of {ids[b]}"))
    ax.grid(alpha=0.25)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    ax.set_title(plain(f"{title + ': ' if title else ''}{ids[a]} and {ids[b]} in utility space"))
    return fig
