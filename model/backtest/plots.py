"""The back-test plot: the model against each baseline, case by case. It takes the scored rows
(:func:`model.backtest.score.case_rows`); it never runs a model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Marker and colour of each kind of method: protocols filled circles, baselines open shapes.
_BASELINE_STYLE = {
    "compromise": ("s", "black"),
    "weighted_median": ("D", "tab:gray"),
    "nash": ("^", "tab:brown"),
    "eum_stable": ("v", "tab:purple"),
    "eum_scholz": ("x", "tab:pink"),
}


def plot_backtest(rows: Sequence[dict[str, Any]], title: str = "") -> Figure:
    """One row per case (and one for the mean over cases): each method's mean absolute error.

    Protocols (``model:<kind>``) are filled circles with their 95% interval over seeds; the
    baselines are open markers; the compromise model, the baseline to beat, is also drawn as a
    vertical tick line through its row. Lower is better; 0 is the real outcome.
    """
    from matplotlib.figure import Figure

    cases = list(dict.fromkeys(r["case"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["case"], r["method"]): r for r in rows}
    labels = [*cases, "mean over cases"]
    fig = Figure(figsize=(9, 1.0 + 0.6 * len(labels)), layout="constrained")
    ax = fig.add_subplot()
    offsets = {m: (k - (len(methods) - 1) / 2) * 0.6 / max(len(methods), 1) for k, m in enumerate(methods)}
    protocol_colours = iter(("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:olive", "tab:cyan"))
    for m in methods:
        marker, colour = _BASELINE_STYLE.get(m, ("o", next(protocol_colours, "tab:blue")))
        ys: list[float] = []
        xs: list[float] = []
        err_lo: list[float] = []
        err_hi: list[float] = []
        for row, c in enumerate(cases):
            r = by.get((c, m))
            if r is None:
                continue
            ys.append(row + offsets[m])
            xs.append(r["mae"])
            lo, hi = r.get("mae_lo", math.nan), r.get("mae_hi", math.nan)
            err_lo.append(0.0 if math.isnan(lo) else r["mae"] - lo)
            err_hi.append(0.0 if math.isnan(hi) else hi - r["mae"])
        have = [c for c in cases if (c, m) in by]
        if have:
            ys.append(len(cases) + offsets[m])
            xs.append(sum(by[c, m]["mae"] for c in have) / len(have))
            err_lo.append(0.0)
            err_hi.append(0.0)
        filled = m.startswith("model:")
        ax.errorbar(xs, ys, xerr=[err_lo, err_hi], fmt=marker, color=colour, ms=6, capsize=2, lw=1,
                    mfc=colour if filled else "none", label=m)
        if m == "compromise":
            for x, y in zip(xs, ys, strict=True):
                ax.plot([x, x], [y - 0.35, y + 0.35], color=colour, lw=0.8, alpha=0.6)
    ax.plot([], [], color="black", lw=0.8, label="(compromise: the baseline to beat)")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.axhline(len(cases) - 0.5, color="0.7", lw=0.8)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("mean absolute error per issue (0 = the real terms; [0, 1] scales)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    ax.set_title(title or "Back-test: the model's protocols against the baselines, case by case")
    return fig
