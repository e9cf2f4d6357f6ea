"""Plots: functions that take results and return a matplotlib ``Figure``. They never run a model.

Colours are the Okabe-Ito palette, which stays distinct under the common colour-vision
deficiencies.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from model.labels import column_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.ticker import Locator

    from model.core import Problem
    from model.core.space import OutcomeSpace
    from model.protocols.base import Event
    from model.report import History

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def plain(text: object) -> str:
    """``text`` as matplotlib should show it, character for character: every ``$`` escaped, so that
    user text (titles, names, axis values) never reaches the mathtext parser (``Cost $5bn vs $10bn``
    would be read as a formula, and ``$x^$`` would crash it). Pass all user text through this."""
    return str(text).replace("$", r"\$")


def wrap(text: str, width: int, lines: int) -> str:
    """``text`` broken into at most ``lines`` lines of about ``width`` characters (the last one
    ending in an ellipsis if it had to be cut): long issue labels as panel titles."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, max_lines=lines, placeholder="…")) or text


def level_text(name: str) -> str:
    """An ordinal level's id as words on two short lines at most: ``pledge_to_stop`` -> ``pledge to stop``."""
    return wrap(name.replace("_", " "), 20, 2)


def _figure(**kwargs: object) -> Figure:
    from matplotlib.figure import Figure

    return Figure(**kwargs)  # type: ignore[arg-type]


def _panels(n: int, max_cols: int, size: tuple[float, float], extra_height: float, ylabel: str,
            sharey: bool = True) -> tuple:
    """A figure with ``n`` panels sharing their round axis in a grid (unused cells hidden), labelled
    "round" below and ``ylabel`` on the left: ``(figure, panels in order, the grid)``. ``sharey=False``
    lets each panel have its own value ticks (an ordinal issue's level names)."""
    cols = min(max_cols, n)
    rows = math.ceil(n / cols)
    fig = _figure(figsize=(size[0] * cols, size[1] * rows + extra_height), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, sharey=sharey, squeeze=False)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for c in range(cols):  # the lowest shown panel of each column carries the round axis
        bottom = axes[_last_row(n, cols, c)][c]
        bottom.xaxis.set_tick_params(labelbottom=True)
        bottom.set_xlabel("round")
    axes[0][0].xaxis.set_major_locator(_integer_ticks())  # shared: every panel gets whole rounds
    for r in range(rows):
        axes[r][0].set_ylabel(ylabel)
    return fig, [axes[k // cols][k % cols] for k in range(n)], axes


def _last_row(n: int, cols: int, c: int) -> int:
    """The row of the lowest of ``n`` panels (filled row by row) in column ``c``."""
    return (n - 1 - c) // cols if c < n else 0


def _integer_ticks() -> Locator:
    """A tick locator that puts ticks on whole numbers only (rounds, counts): never 7.5."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def trajectory(history: History, title: str | None = None, names: Sequence[str] = ()) -> Figure:
    """Each actor's aspiration and its utility of the offer on the table, round by round.

    One panel per actor (titled by its name, from ``names``, with its id): the aspiration (line),
    the utility of the current offer (dots; filled where the actor proposed it), and the
    reservation utility (dotted). The round of agreement, if any, is marked. Utility runs from 0
    (the actor's worst package) to 1 (its ideal).
    """
    fig, panels, _ = _panels(len(history.actor_ids), 3, (4.2, 2.9), 0.6, "utility (0 worst, 1 ideal)")
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
        ax.set_title(plain(_short_name(aid, names, a)))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.25)
    handles, labels = panels[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    outcome = f"agreement in round {t[-1]}" if history.agreed and len(t) else f"no agreement ({history.reason})"
    fig.suptitle(plain(f"{title + ': ' if title else ''}{outcome}"))
    return fig


def _tick(v: object) -> str:
    return plain(f"{v:g}" if isinstance(v, float) else v)


def _rate_grid(df: pd.DataFrame, x: str, y: str, xs: list, ys: list) -> tuple[np.ndarray, np.ndarray]:
    """The agreement rate and the number of runs in each ``(y, x)`` cell (NaN and 0: no runs)."""
    from model.results import agreement_rates

    grid = np.full((len(ys), len(xs)), np.nan)
    runs = np.zeros((len(ys), len(xs)), dtype=int)
    for r in agreement_rates(df, [y, x]).itertuples(index=False):
        i, j = ys.index(r[0]), xs.index(r[1])
        grid[i, j] = r.rate
        runs[i, j] = r.runs
    return grid, runs


def agreement_heatmap(df: pd.DataFrame, x: str, y: str, title: str | None = None, facet: str | None = None,
                      pooled: Sequence[str] = ()) -> Figure:
    """Agreement rate over two swept conditions, with the number of runs in each cell.

    Args:
        df: sweep results (``model.results.load``).
        x, y: the axis columns (``axis.<path>``) for the horizontal and vertical axes.
        facet: a third axis column: one panel per value of it (side by side, one colour scale),
            so that it is shown, not averaged over.
        pooled: further swept columns the rates are pooled over; named in the title.
    """
    from matplotlib import colormaps

    xs = sorted(df[x].dropna().unique())
    ys = sorted(df[y].dropna().unique())
    groups = [(None, df)] if facet is None else list(df.groupby(facet, sort=True))
    k = len(groups)
    fig = _figure(figsize=((1.1 * len(xs) + 1.2) * k + 2.0, 0.6 * len(ys) + 2.6), layout="constrained")
    axes = fig.subplots(1, k, sharey=True, squeeze=False)[0]
    im = None
    for ax, (value, part) in zip(axes, groups, strict=True):
        grid, runs = _rate_grid(part, x, y, xs, ys)
        im = ax.imshow(grid, cmap=colormaps["cividis"], vmin=0.0, vmax=1.0, origin="lower", aspect="auto")
        for i in range(len(ys)):
            for j in range(len(xs)):
                if runs[i, j]:
                    v = grid[i, j]
                    ax.text(j, i, f"{v:.0%}\nn={runs[i, j]}", ha="center", va="center", fontsize=8,
                            color="white" if v < 0.6 else "black")
        ax.set_xticks(range(len(xs)), [_tick(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
        ax.set_xlabel(plain(column_label(df, x)))
        if facet is not None:
            ax.set_title(plain(f"{column_label(df, facet)} = {_tick(value)}"), fontsize=9)
    axes[0].set_ylabel(plain(column_label(df, y)))
    assert im is not None  # (there is always a group: the frame has rows)
    fig.colorbar(im, ax=list(axes), label="agreement rate")
    head = title or "Agreement rate"
    if pooled:
        head += "\n(pooled over " + ", ".join(column_label(df, p) for p in pooled) + ")"
    fig.suptitle(plain(head))
    return fig


def agreement_by_axis(
    df: pd.DataFrame, x: str, title: str | None = None, bins: int = 10, by: str | None = None,
    pooled: Sequence[str] = (),
) -> Figure:
    """Agreement rate against one swept condition, with a 95% Wilson score band over the runs; with
    ``by`` (a categorical axis such as ``axis.protocol.kind``), one line and band per category.
    ``pooled``: the other swept columns, averaged over here, named in the title. A condition with
    whole-number values (rounds) gets whole-number ticks."""
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
        elif np.all(np.mod(np.asarray(xv, dtype=float), 1) == 0):
            ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(plain(column_label(df, x)))
    ax.set_ylabel("agreement rate")
    ax.grid(alpha=0.25)
    ax.legend(frameon=False)
    head = plain(title or "Agreement rate") + " (bands: 95% Wilson intervals)"
    if pooled:
        head += plain("\npooled over " + ", ".join(column_label(df, p) for p in pooled))
    ax.set_title(head, fontsize=10)
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
        parts = ax.boxplot(data, patch_artist=True, widths=0.6, medianprops={"color": "black", "lw": 1.5})
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
    text = "by reason: " + "; ".join(f"{k} {v}" for k, v in reasons.items())
    ax.set_xlabel("round of agreement")
    ax.set_ylabel("runs")
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.grid(alpha=0.25, axis="y")
    if len(agreed):
        ax.legend(frameon=False)
    ax.set_title(plain((f"{title}: " if title else "") + "rounds to agreement"
                       + (f"\n{len(failed)} runs ended without agreement ({text})" if len(reasons) else "")))
    return fig


def issue_values(history: History, space: OutcomeSpace | None = None, title: str | None = None,
                 agreement: np.ndarray | None = None) -> Figure:
    """Each issue's value in the offer on the table, round by round (one small panel per issue).

    With the outcome ``space``, panels are titled by the issues' labels, an ordinal issue's axis
    shows its level names, the status quo is drawn (dotted) and the agreed value, if ``agreement``
    is given, is marked (star) after the last round."""
    n = len(history.issue_ids)
    fig, panels, _ = _panels(n, 3 if space is not None else 4, (4.4, 2.3) if space is not None else (3.2, 1.9),
                             0.8, "value", sharey=space is None)
    t = history.rounds
    issues = space.issues if space is not None else ()
    for i, iid in enumerate(history.issue_ids):
        ax = panels[i]
        ax.step(t, history.offers[:, i], where="mid", color=OKABE_ITO[0], lw=1.5,
                label="offer on the table")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.25)
        if space is None:
            ax.set_title(plain(iid), fontsize=9)
            continue
        issue = issues[i]
        ax.set_title(plain(wrap(issue.label or iid, 48, 2)), fontsize=8.5)
        ax.axhline(float(space.status_quo[i]), color="0.35", ls=":", lw=1.2, label="status quo")
        if agreement is not None and len(t):
            ax.scatter([t[-1]], [float(agreement[i])], marker="*", s=90, color=OKABE_ITO[3], zorder=4,
                       label="agreed")
        if issue.levels is not None:
            ax.set_yticks([v for _, v in issue.levels], [plain(level_text(name)) for name, _ in issue.levels],
                          fontsize=7)
    if space is not None:
        handles, labels = panels[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    cols = min(3 if space is not None else 4, n)  # a narrow figure gets its title on two lines
    fig.suptitle(plain(wrap(f"{title + ': ' if title else ''}issue values on the table", 45 * cols + 10, 3)))
    return fig


#: How each kind of event is drawn on the timeline: (marker, colour, size).
EVENT_STYLE: dict[str, tuple[str, str, int]] = {
    "tranche": ("s", OKABE_ITO[0], 60),
    "delivery": ("o", OKABE_ITO[2], 60),
    "pause": ("v", OKABE_ITO[3], 70),
    "resume": ("^", OKABE_ITO[5], 70),
    "spoiler": ("X", OKABE_ITO[4], 90),
    "extension": ("P", OKABE_ITO[1], 70),
    "extension refused": ("x", OKABE_ITO[1], 70),
    "framework": ("D", OKABE_ITO[7], 60),
    "suspension": ("v", OKABE_ITO[6], 70),
    "phase": ("|", "0.3", 120),
    "phase end": ("4", "0.3", 90),
    "renegotiation": ("*", OKABE_ITO[3], 90),
}

#: Event kinds that are data, not part of the story (the EUM's per-round positions): not drawn.
NOT_DRAWN = frozenset({"eum round"})

#: The timeline's rows for events that belong to no one actor's conduct: the tranches the parties
#: agreed (whoever proposed them) and the outside shocks.
SHARED_ROWS = {"tranche": "tranches agreed", "spoiler": "spoiler shocks", "framework": "framework",
               "extension": "deadline", "extension refused": "deadline", "phase": "phases",
               "phase end": "phases", "renegotiation": "phases"}
#: The row of an event of some other kind that names no actor.
OTHER_ROW = "other events"


def _short_name(aid: str, names: Sequence[str], a: int) -> str:
    """An actor's name without its parenthetical detail, with its id: ``United States (USA)``."""
    name = (names[a] if a < len(names) else "").split(" (")[0].strip()
    return aid if not name or name == aid else f"{name} ({aid})"


def _timeline_rows(events: Sequence[Event], actor_ids: Sequence[str]) -> list[str]:
    """The rows of the timeline, top down: the shared rows in use, then each actor with an event."""
    shared = list(dict.fromkeys(SHARED_ROWS[str(e.kind)] for e in events if str(e.kind) in SHARED_ROWS))
    acting = {_row_of(e) for e in events if str(e.kind) not in SHARED_ROWS}
    other = [OTHER_ROW] if OTHER_ROW in acting else []
    return shared + [a for a in actor_ids if a in acting] + other


def _row_of(e: Event) -> str:
    return SHARED_ROWS.get(str(e.kind), e.actor or OTHER_ROW)


def _draw_event(ax: Any, e: Event, x: float, y: float, first: bool) -> None:
    """One event's marker at ``(x, y)``; a delivery is filled by its share (full, half: partly,
    empty: not at all)."""
    kind = str(e.kind)
    marker, colour, size = EVENT_STYLE.get(kind, ("o", "0.4", 50))
    if kind == "delivery":
        share = float(getattr(e, "share", 1.0))
        fill = "full" if share >= 1.0 or share <= 0 else "left"
        ax.plot([x], [y], marker=marker, ms=size ** 0.5, color=colour, fillstyle=fill, ls="none",
                markerfacecolor="white" if share <= 0 else colour, markerfacecoloralt="white", zorder=3,
                label="delivery (half: partly, empty: not at all)" if first else None)
    else:
        ax.scatter([x], [y], marker=marker, s=size, color=colour, zorder=3, label=kind if first else None)


def timeline(events: Sequence[Event], n_rounds: int, actor_ids: Sequence[str], title: str | None = None,
             names: Sequence[str] = ()) -> Figure:
    """The step-by-step story of a run from its typed event log: one marker per event, shaped and
    coloured by its kind. The tranches agreed and the spoiler shocks have a row each; below, each
    actor with an event has a row for its deliveries (full, partial or none), pauses and resumes,
    with the rounds it spent paused shaded.

    Args:
        events: the run's ``Outcome.events``.
        n_rounds: rounds played (the x range).
        actor_ids: the actors, in order; ``names`` their names (for the row labels).
    """
    events = [e for e in events if str(e.kind) not in NOT_DRAWN]
    rows = _timeline_rows(events, actor_ids)
    y = {r: len(rows) - 1 - k for k, r in enumerate(rows)}
    fig = _figure(figsize=(8.0, 0.5 * max(len(rows), 1) + 1.9), layout="constrained")
    ax = fig.subplots()
    drawn: set[str] = set()
    paused: dict[str, int] = {}
    ordered = sorted(events, key=lambda e: e.round)
    cell = Counter((_row_of(e), e.round) for e in ordered)  # events sharing a row and round sit side by side
    seen: Counter[tuple[str, int]] = Counter()
    for e in ordered:
        row, kind = _row_of(e), str(e.kind)
        k, n = seen[(row, e.round)], cell[(row, e.round)]
        seen[(row, e.round)] += 1
        _draw_event(ax, e, e.round + 0.22 * (k - (n - 1) / 2), y[row], kind not in drawn)
        drawn.add(kind)
        if kind in ("pause", "suspension"):
            paused.setdefault(row, e.round)
        elif kind == "resume" and row in paused:
            _shade(ax, paused.pop(row), e.round, y[row])
    for row, start in paused.items():  # paused to the end
        _shade(ax, start, n_rounds + 1, y[row])
    pos = {a: k for k, a in enumerate(actor_ids)}
    labels = [_short_name(r, names, pos[r]) if r in pos else r for r in rows]
    ax.set_yticks([y[r] for r in rows], [plain(lbl) for lbl in labels])
    ax.set_ylim(-0.6, max(len(rows), 1) - 0.4)
    ax.set_xlim(0.5, max(n_rounds, 1) + 0.5)
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("round")
    ax.grid(alpha=0.25, axis="x")
    if drawn:
        if any(str(e.kind) in ("pause", "suspension") for e in events):
            ax.fill_between([], [], [], color=OKABE_ITO[3], alpha=0.15, lw=0, label="paused")
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
    else:
        ax.text(0.5, 0.5, "no events in this run", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(plain(f"{title + ': ' if title else ''}step by step"), fontsize=10)
    return fig


def _shade(ax: Any, start: int, end: int, y: float) -> None:
    """The rounds ``start`` to ``end - 1`` on row ``y`` shaded: an actor paused."""
    ax.fill_between([start - 0.5, end - 0.5], y - 0.35, y + 0.35, color=OKABE_ITO[3], alpha=0.15, lw=0,
                    label=None)


def outcome_space(problem: Problem, agreement: np.ndarray | None = None, offers: np.ndarray | None = None,
                  title: str | None = None) -> Figure:
    """Every actor's utility at once (parallel coordinates): one axis per actor, one line per offer
    made, the agreement (bold) and the Nash bargaining point of all the parties (dashed), with
    each actor's reservation utility marked. Unlike a two-actor frontier, nothing is left out:
    a package that is Pareto-optimal for all the actors may sit inside any one pair's frontier.
    """
    from model.core import find_dominating, nash_point

    n = problem.n_actors
    xs = np.arange(n)
    fig = _figure(figsize=(max(5.5, 1.0 * n + 2.5), 4.4), layout="constrained")
    ax = fig.subplots()
    if offers is not None and len(offers):
        u = problem.utility(offers)
        for k, row in enumerate(u):
            ax.plot(xs, row, color=OKABE_ITO[5], lw=0.7, alpha=0.35, label="offers made" if k == 0 else None)
    nash = nash_point(problem)
    if nash is not None:
        ax.plot(xs, problem.utility(nash), "--", color=OKABE_ITO[4], lw=1.8, marker="D", ms=5,
                label="Nash point (all parties)")
    verdict = ""
    if agreement is not None:
        ax.plot(xs, problem.utility(agreement), "-", color=OKABE_ITO[3], lw=2.6, marker="o", ms=6,
                label="agreement")
        dom = find_dominating(problem, agreement)  # the same search as the summary's "Pareto-optimal"
        if dom is None:
            verdict = "\nno package found that leaves every party at least as well off (Pareto-optimal)"
        else:
            ax.plot(xs, problem.utility(dom), ":", color=OKABE_ITO[0], lw=2, marker="s", ms=5,
                    label="a package every party prefers")
            verdict = "\nnot Pareto-optimal: the dotted package leaves every party at least as well off"
    ax.scatter(xs, problem.reservation, marker="_", s=500, color="0.2", lw=2, zorder=5,
               label="reservation utility")
    ticks = [_short_name(aid, problem.actor_names, a) for a, aid in enumerate(problem.actor_ids)]
    parties = set(problem.parties)
    ax.set_xticks(xs, [plain(t + ("" if a in parties else "\n(no veto)")) for a, t in enumerate(ticks)],
                  rotation=30 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_xlim(-0.4, n - 0.6)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("utility (0 worst, 1 ideal)")
    ax.grid(alpha=0.25)
    fig.legend(loc="outside lower center", ncols=3, frameon=False)
    ax.set_title(plain(f"{title + ': ' if title else ''}every actor's utility{verdict}"), fontsize=10)
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
        two = "Pareto frontier" if problem.n_actors == 2 else "frontier for these two alone"
        ax.plot(front[:, 0], front[:, 1], "-", color="0.3", lw=1.5, label=two)
    if offers is not None and len(offers):
        u = problem.utility(offers)
        ax.scatter(u[:, a], u[:, b], s=14, color=OKABE_ITO[5], alpha=0.7, label="offers", zorder=3)
    ra, rb = problem.reservation[a], problem.reservation[b]
    ax.axvline(ra, color=OKABE_ITO[0], ls=":", lw=1.2, label=plain(f"reservation of {ids[a]}"))
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
    head = plain(f"{title + ': ' if title else ''}{ids[a]} and {ids[b]} in utility space")
    if problem.n_actors > 2:  # say what the curve is not: the agreement may be efficient for all
        head += plain(f"\n(the other {problem.n_actors - 2} actors' utilities are not shown: a package "
                      "inside this curve\ncan still be Pareto-optimal for all of them; see outcome_space)")
    ax.set_title(head, fontsize=9 if problem.n_actors > 2 else None)
    return fig
