"""Robustness of policies across an ensemble of worlds: which lever setting works whatever happens?

An experiment with ``levers`` (what the U.S. and the EU choose) and ``uncertainties`` (what they
do not) runs every policy (a combination of lever values) in every world (an uncertainty sample,
``model.experiment.robustness_points``). For each policy this module measures, over the worlds:

* the **agreement rate** (the mean over worlds of the share of its runs that agreed);
* the **satisficing share**: the share of worlds in which it reaches agreement in at least
  ``satisfice`` of its runs (with one replicate: the share of worlds with agreement);
* the **regret** (Savage's): in each world, the shortfall of the policy from the best policy *in
  that world*, on the agreement rate and, optionally, on a chosen outcome (e.g. ``utility.USA``);
  its maximum over worlds (minimax regret ranks by it) and its mean. Ties are broken by the
  agreement rate, the mean regret, then the outcome's maximum and mean regret.

The vocabulary is that of EMA workbench and Robust Decision Making (levers, uncertainties,
satisficing, regret); the code is our own and works on a results DataFrame
(``model.results.load``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from model.labels import label_of

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: The default share of a world's runs that must agree for the policy to "work" in that world.
SATISFICE = 0.5


@dataclass(frozen=True)
class Robustness:
    """The ranking (``table``: one row per policy, best first) and its per-world basis
    (``per_world``: one row per policy and world, with the rate, the outcome and the regrets)."""

    table: pd.DataFrame
    per_world: pd.DataFrame
    levers: tuple[str, ...]
    uncertainties: tuple[str, ...]
    outcome: str | None
    satisfice: float = SATISFICE


def policy_name(values: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> str:
    """A policy in words: ``<lever label> = <value>`` for each lever, joined by ``; ``."""
    labels = labels or {}
    parts = []
    for path, v in values.items():
        shown = f"{v:g}" if isinstance(v, float) else str(v)
        parts.append(f"{labels.get(path) or label_of(path)} = {shown}")
    return "; ".join(parts)


def _world_rates(df: pd.DataFrame, levers: list[str], worlds: list[str], outcome: str | None) -> pd.DataFrame:
    """The agreement rate (and the outcome's mean) of each policy in each world, over the finished runs."""
    ok = df["error"].isna() if "error" in df.columns else np.ones(len(df), dtype=bool)
    frame = df.loc[ok, [*levers, *worlds]].copy()
    frame["_agreed"] = df.loc[ok, "agreed"].astype("float64")
    agg: dict[str, tuple[str, str]] = {"rate": ("_agreed", "mean"), "runs": ("_agreed", "size")}
    if outcome is not None:
        frame["_outcome"] = df.loc[ok, outcome].astype("float64")
        agg["outcome"] = ("_outcome", "mean")
    if not worlds:
        frame["_world"] = 0
        worlds = ["_world"]
    return frame.groupby([*levers, *worlds], dropna=False, sort=True).agg(**agg).reset_index()


def _regret(per: pd.DataFrame, worlds: list[str], column: str, higher_is_better: bool) -> pd.Series:
    """Per row: the best value of ``column`` among the policies in the row's world, minus the row's."""
    best = per.groupby(worlds, dropna=False)[column].transform("max" if higher_is_better else "min")
    gap = best - per[column] if higher_is_better else per[column] - best
    return gap.clip(lower=0.0)


def robustness(
    df: pd.DataFrame,
    levers: Sequence[str],
    uncertainties: Sequence[str],
    outcome: str | None = None,
    higher_is_better: bool = True,
    satisfice: float = SATISFICE,
    labels: Mapping[str, str] | None = None,
) -> Robustness:
    """Rank the policies of a levers-by-uncertainties sweep by regret and agreement across worlds.

    Args:
        df: a sweep's rows (``model.results.load``): ``axis.<path>`` columns, ``agreed``, ``error``.
        levers, uncertainties: the paths (with or without ``axis.``) that make a policy and a world.
        outcome: a second result column to compute regret on (``utility.USA``, ``value.eu_sanctions``);
            its mean per world is over the runs where it is given (``value.*`` only where agreed).
        higher_is_better: the direction of ``outcome``.
        satisfice: the share of a world's runs that must agree for the policy to work there.
        labels: labels of the paths (default ``df.attrs["labels"]``, then ``label_of``).

    Raises:
        ValueError: a lever, uncertainty or the outcome is not a column of ``df``, or no run finished.
    """
    lev = [c if c.startswith("axis.") else f"axis.{c}" for c in levers]
    unc = [c if c.startswith("axis.") else f"axis.{c}" for c in uncertainties]
    for c in [*lev, *unc, *([outcome] if outcome else [])]:
        if c not in df.columns:
            raise ValueError(f"the results have no column {c!r}")
    if not lev:
        raise ValueError("no levers: robustness compares policies, i.e. settings of at least one lever")
    per = _world_rates(df, lev, unc, outcome)
    if per.empty:
        raise ValueError("no run finished without an error: nothing to rank")
    worlds = unc or ["_world"]
    per["regret"] = _regret(per, worlds, "rate", True)
    if outcome is not None:
        per["outcome_regret"] = _regret(per, worlds, "outcome", higher_is_better)
    per["works"] = per["rate"] >= satisfice - 1e-12
    names = dict(getattr(df, "attrs", {}).get("labels") or {})
    names.update(labels or {})
    table = _rank(per, lev, outcome, {c: names.get(c, label_of(c)) for c in lev})
    return Robustness(table, per, tuple(lev), tuple(unc), outcome, satisfice)


def _rank(per: pd.DataFrame, lev: list[str], outcome: str | None, names: Mapping[str, str]) -> pd.DataFrame:
    """One row per policy: its measures over the worlds, ranked by maximum regret, then by rate."""
    agg: dict[str, tuple[str, str]] = {
        "agreement_rate": ("rate", "mean"),
        "satisficing_share": ("works", "mean"),
        "max_regret": ("regret", "max"),
        "mean_regret": ("regret", "mean"),
        "worlds": ("rate", "size"),
        "runs": ("runs", "sum"),
    }
    if outcome is not None:
        agg.update(outcome_mean=("outcome", "mean"), outcome_max_regret=("outcome_regret", "max"),
                   outcome_mean_regret=("outcome_regret", "mean"))
    t = per.groupby(lev, dropna=False, sort=True).agg(**agg).reset_index()
    t.insert(0, "policy", [policy_name({c: row[c] for c in lev}, names) for _, row in t.iterrows()])
    t["satisficing_share"] = t["satisficing_share"].astype(float)
    t["rank_by_rate"] = t["agreement_rate"].rank(ascending=False, method="min").astype(int)
    t["rank_by_regret"] = t["max_regret"].rank(ascending=True, method="min").astype(int)
    keys = ["max_regret", "agreement_rate", "mean_regret", *(["outcome_max_regret", "outcome_mean_regret"]
                                                              if outcome is not None else [])]
    t = t.sort_values(keys, ascending=[True, False, True, True, True][: len(keys)], kind="stable")
    return t.reset_index(drop=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "–" if v != v else f"{float(v):.3g}"
    return str(v)


def markdown(r: Robustness, title: str) -> str:
    """The ranking as a Markdown table, with a sentence on the most robust policy and what each
    column means."""
    cols = ["policy", "agreement_rate", "satisficing_share", "max_regret", "mean_regret"]
    heads = ["policy", "agreement rate", "satisficing share", "max regret (agreement)", "mean regret (agreement)"]
    if r.outcome is not None:
        cols += ["outcome_mean", "outcome_max_regret"]
        o = label_of(r.outcome)
        heads += [f"{o}: mean", f"{o}: max regret"]
    cols += ["worlds", "runs"]
    heads += ["worlds", "runs"]
    lines = [f"# {title}", "", summary(r), "",
             "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for _, row in r.table.iterrows():
        lines.append("| " + " | ".join(_fmt(row[c]).replace("|", "/") for c in cols) + " |")
    lines += ["", "Agreement rate: the mean over the worlds of the share of runs that agreed. Satisficing share: "
              f"the share of worlds in which the policy agreed in at least {r.satisfice:.0%} of its runs. "
              "Regret: in each world, how far the policy falls short of the best policy in that world; the table "
              "is ranked by the maximum regret (minimax regret), then by the agreement rate.", ""]
    return "\n".join(lines)


def summary(r: Robustness) -> str:
    """One sentence: the most robust policy, its worst shortfall and its agreement rate."""
    best = r.table.iloc[0]
    top_rate = r.table.sort_values("agreement_rate", ascending=False, kind="stable").iloc[0]
    text = (f"Most robust across {int(best['worlds'])} worlds: {best['policy']} (agreement in "
            f"{best['agreement_rate']:.0%} of runs, works in {best['satisficing_share']:.0%} of worlds, "
            f"at worst {best['max_regret']:.0%} short of the best policy in a world).")
    ties = int(((r.table["max_regret"] - best["max_regret"]).abs().lt(1e-12)
                & (r.table["agreement_rate"] - best["agreement_rate"]).abs().lt(1e-12)).sum()) - 1
    if ties:
        text += (f" {ties} other {'policy does' if ties == 1 else 'policies do'} as well on agreement"
                 + (f" (their order follows the regret on {label_of(r.outcome)})." if r.outcome else "."))
    if top_rate["policy"] != best["policy"] and top_rate["agreement_rate"] > best["agreement_rate"]:
        text += (f" The highest agreement rate on average is {top_rate['policy']}'s ({top_rate['agreement_rate']:.0%}),"
                 f" but it falls up to {top_rate['max_regret']:.0%} short in some world.")
    return text


def robustness_plot(r: Robustness, title: str | None = None) -> Figure:
    """Per policy (best first, top to bottom): its agreement rate in each world (dots) and on
    average (a bar), and its maximum and mean regret on agreement."""
    from model.plots import _figure, plain

    t = r.table
    n = len(t)
    fig = _figure(figsize=(12.0, 1.8 + 0.42 * n), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    ys = np.arange(n)[::-1]
    key = {tuple(row[c] for c in r.levers): y for y, (_, row) in zip(ys, t.iterrows(), strict=True)}
    per_y = np.array([key[tuple(row[c] for c in r.levers)] for _, row in r.per_world.iterrows()], dtype=float)
    jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(per_y))  # fixed: the same plot every time
    left.barh(ys, t["agreement_rate"], color="#9ecae1", height=0.6, label="mean over worlds")
    left.scatter(r.per_world["rate"], per_y + jitter, s=9, color="#08519c", alpha=0.6, label="one world", zorder=3)
    left.set_xlim(-0.02, 1.02)
    left.set_xlabel("agreement rate")
    left.set_yticks(ys, [plain(p) for p in t["policy"]], fontsize=8)
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=7, frameon=False)
    right.barh(ys + 0.15, t["max_regret"], height=0.3, color="#de2d26", label="maximum")
    right.barh(ys - 0.15, t["mean_regret"], height=0.3, color="#fc9272", label="mean")
    right.set_xlim(0, max(0.05, float(t["max_regret"].max()) * 1.1))
    right.set_xlabel("regret on agreement\n(shortfall from the best policy in a world)")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=7, frameon=False)
    fig.suptitle(plain(title or "Policies across the worlds (best first)"))
    return fig


def table_rows(r: Robustness) -> list[dict[str, Any]]:
    """The ranking as CSV rows (paths as column names, policies in words)."""
    rows: list[dict[str, Any]] = r.table.to_dict(orient="records")
    return [{str(k): (None if isinstance(v, float) and v != v else v) for k, v in row.items()} for row in rows]
