"""Plots: functions that take results and return a matplotlib ``Figure``. They never run a model.

Colours are the Okabe-Ito palette, which stays distinct under the common colour-vision
deficiencies.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from model.report import History

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def _figure(**kwargs: object) -> Figure:
    from matplotlib.figure import Figure

    return Figure(**kwargs)  # type: ignore[arg-type]


def trajectory(history: History, title: str | None = None) -> Figure:
    """Each actor's aspiration and its utility of the offer on the table, round by round.

    One panel per actor: the aspiration (line), the utility of the current offer (dots; filled
    where the actor proposed it), and the reservation utility (dotted). The round of
    agreement, if any, is marked.
    """
    n = len(history.actor_ids)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = _figure(figsize=(4.2 * cols, 2.9 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    t = history.rounds
    for a, aid in enumerate(history.actor_ids):
        ax = axes[a // cols][a % cols]
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
        ax.set_title(aid)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.25)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("round")
    for r in range(rows):
        axes[r][0].set_ylabel("utility")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    outcome = f"agreement in round {t[-1]}" if history.agreed and len(t) else f"no agreement ({history.reason})"
    fig.suptitle(f"{title + ': ' if title else ''}{outcome}")
    return fig
