"""Sensitivity analysis of sweeps: Sobol indices against the Ishigami function's analytical values,
Morris screening on a function with known elementary effects, the errors, and the bar plot."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from model.experiment import AxisSpec, DesignSpec, ExperimentSpec, design_points
from model.sensitivity import (
    morris_indices,
    samples_needed,
    sensitivity_plot,
    sobol_convergence,
    sobol_indices,
    sobol_warnings,
)

# Ishigami (a=7, b=0.1) on [-pi, pi]^3: analytical first-order and total indices.
A, B = 7.0, 0.1
_V1 = 0.5 * (1 + B * math.pi**4 / 5) ** 2
_V2 = A**2 / 8
_V13 = B**2 * math.pi**8 * (1 / 18 - 1 / 50)
_V = _V1 + _V2 + _V13
ISHIGAMI_S1 = np.array([_V1 / _V, _V2 / _V, 0.0])  # (0.314, 0.442, 0.0)
ISHIGAMI_ST = np.array([(_V1 + _V13) / _V, _V2 / _V, _V13 / _V])  # (0.558, 0.442, 0.244)
#: Saltelli's estimators with N = 2048 base samples stay within 0.018 of the analytical values
#: over 20 design seeds (largest error seen); the test allows 0.03.
SOBOL_TOL = 0.03


def ishigami(p: dict[str, Any]) -> float:
    x1, x2, x3 = p["x1"], p["x2"], p["x3"]
    return math.sin(x1) + A * math.sin(x2) ** 2 + B * x3**4 * math.sin(x1)


def sweep_like(spec: ExperimentSpec, f: Callable[[dict[str, Any]], float], replicates: int = 1,
               outcome: str = "y") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Results and manifest shaped like a real sweep's, with ``f`` of the point as the outcome."""
    points = design_points(spec)
    rows = []
    for pid, p in enumerate(points):
        for rep in range(replicates):
            rows.append({"run_id": pid * replicates + rep, "point_id": pid, "replicate": rep, "seed": 0,
                         **{f"axis.{k}": v for k, v in p.items()}, outcome: f(p), "error": None})
    df = pd.DataFrame(rows)
    manifest = {
        "experiment": spec.name, "design": spec.design.kind, "axes": [a.path for a in spec.axes],
        "replicates": replicates, "seed": spec.seed, "n_points": len(points), "n_runs": len(rows),
        "status": "complete", "runs_done": len(rows), "scenario_sha256": "0" * 64,
        "experiment_spec": spec.model_dump(mode="json"),
    }
    return df, manifest


def ishigami_spec(samples: int, second_order: bool = False) -> ExperimentSpec:
    axes = [AxisSpec(path=f"x{i}", range=(-math.pi, math.pi)) for i in (1, 2, 3)]
    design = DesignSpec(kind="sobol", samples=samples, second_order=second_order)
    return ExperimentSpec(name="ishigami", scenario="none.yaml", design=design, axes=axes, seed=11)


# ---------------------------------------------------------------------------- Sobol


def test_a_small_sample_is_warned_about_with_the_power_of_2_to_run_and_that_size_converges() -> None:
    df, mf = sweep_like(ishigami_spec(128), ishigami)
    t = sobol_indices(df, mf, "y")
    warnings = sobol_warnings(t)
    assert len(warnings) == 1 and "intervals are wide" in warnings[0] and "128 samples" in warnings[0]
    advised = int(warnings[0].rsplit("samples: ", 1)[1])
    assert advised > 128 and advised & (advised - 1) == 0  # a larger power of 2
    # intervals shrink as 1/sqrt(N): at the advised size they are within the threshold
    df, mf = sweep_like(ishigami_spec(advised), ishigami)
    big = sobol_indices(df, mf, "y")
    assert sobol_warnings(big) == [] and big[["S1_conf", "ST_conf"]].max().max() <= 0.1


def test_indices_outside_0_1_beyond_their_interval_are_flagged() -> None:
    t = pd.DataFrame({"S1": [-0.3, 0.2], "S1_conf": [0.05, 0.05], "ST": [1.2, 0.3], "ST_conf": [0.05, 0.05]},
                     index=pd.Index(["a", "b"], name="axis"))
    t.attrs.update(samples=256, replicates=5)
    w = sobol_warnings(t)
    assert any("outside [0, 1]" in x and "(a)" in x for x in w)
    assert any("5 replicates" in x for x in w)  # replicate noise named as a cause
    assert samples_needed(256, 0.2) == 1024 and samples_needed(100, 0.05) == 128


def test_convergence_gives_the_indices_at_a_quarter_half_and_all_of_the_samples() -> None:
    df, mf = sweep_like(ishigami_spec(256), ishigami)
    c = sobol_convergence(df, mf, "y")
    assert sorted(set(c["samples"])) == [64, 128, 256] and len(c) == 9
    full = sobol_indices(df, mf, "y")
    last = c[c["samples"] == 256].set_index("axis")
    np.testing.assert_allclose(last["ST"], full["ST"])
    # the first quarter: the first 64 base samples' points alone, as an experiment's
    quarter = sobol_indices(df[df["point_id"] < 64 * 5], {**mf, "n_points": 64 * 5,
                            "experiment_spec": {**mf["experiment_spec"], "design": {"kind": "sobol", "samples": 64}}},
                            "y")
    np.testing.assert_allclose(c[c["samples"] == 64].set_index("axis")["ST"], quarter["ST"])
    widths = c.groupby("samples")["ST_conf"].max()
    assert widths[256] < widths[64]  # intervals narrow as the sample grows


@pytest.mark.slow
def test_sobol_indices_of_the_ishigami_function_match_the_analytical_values() -> None:
    df, mf = sweep_like(ishigami_spec(2048), ishigami)
    assert len(df) == 2048 * (3 + 2)
    t = sobol_indices(df, mf, "y")
    assert list(t.index) == ["x1", "x2", "x3"]
    assert list(t.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    np.testing.assert_allclose(t["S1"], ISHIGAMI_S1, atol=SOBOL_TOL)
    np.testing.assert_allclose(t["ST"], ISHIGAMI_ST, atol=SOBOL_TOL)
    assert (t["S1_conf"] > 0).all() and (t["ST_conf"] < 0.1).all()
    assert t.attrs["method"] == "sobol" and t.attrs["outcome"] == "y"


def test_second_order_designs_give_second_order_indices_too() -> None:
    df, mf = sweep_like(ishigami_spec(1024, second_order=True), ishigami)
    assert len(df) == 1024 * (2 * 3 + 2)
    t = sobol_indices(df, mf, "y")
    np.testing.assert_allclose(t["ST"], ISHIGAMI_ST, atol=SOBOL_TOL + 0.01)
    s2 = t.attrs["S2"]
    assert s2[("x1", "x3")] == pytest.approx(ISHIGAMI_ST[2], abs=0.08)  # x3 acts only with x1
    assert abs(s2[("x1", "x2")]) < 0.08 and abs(s2[("x2", "x3")]) < 0.08


def test_the_outcome_is_averaged_over_replicates_and_failed_runs_are_left_out() -> None:
    spec = ishigami_spec(64)
    one, mf1 = sweep_like(spec, ishigami)
    two, mf2 = sweep_like(spec, ishigami, replicates=3)
    two.loc[two["replicate"] == 1, "y"] = 1e6  # garbage in runs that failed
    two.loc[two["replicate"] == 1, "error"] = "RuntimeError: boom"
    pd.testing.assert_frame_equal(sobol_indices(one, mf1, "y"), sobol_indices(two, mf2, "y"))


def test_agreed_counts_as_zero_or_one() -> None:
    df, mf = sweep_like(ishigami_spec(256), lambda p: float(p["x2"] > 0.5), outcome="agreed")
    df["agreed"] = df["agreed"].astype(bool).astype("boolean")
    t = sobol_indices(df, mf)  # default outcome: agreed
    assert t.loc["x2", "S1"] == pytest.approx(1.0, abs=0.05)
    assert t.loc["x1", "ST"] == pytest.approx(0.0, abs=0.05)


def test_a_sweep_without_the_sobol_design_is_refused_in_one_line() -> None:
    df, mf = sweep_like(ishigami_spec(16), ishigami)
    mf = {**mf, "design": "lhs"}
    with pytest.raises(ValueError, match="lhs design; Sobol indices need a sobol design") as e:
        sobol_indices(df, mf, "y")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="Morris effects need a morris design"):
        morris_indices(*sweep_like(ishigami_spec(16), ishigami), "y")


def test_missing_points_are_named() -> None:
    df, mf = sweep_like(ishigami_spec(16), ishigami)
    with pytest.raises(ValueError, match=r"incomplete: 2 of 80 points have no runs yet \(points 3, 17;") as e:
        sobol_indices(df[~df["point_id"].isin([3, 17])], {**mf, "status": "interrupted"}, "y")
    assert "\n" not in str(e.value) and "status interrupted" in str(e.value)
    with pytest.raises(ValueError, match="no finished runs yet"):
        sobol_indices(df.iloc[0:0], mf, "y")


def test_points_where_every_run_failed_are_named() -> None:
    df, mf = sweep_like(ishigami_spec(16), ishigami, replicates=2)
    df.loc[df["point_id"] == 4, "error"] = "invalid scenario at this point: ..."
    df.loc[(df["point_id"] == 9) & (df["replicate"] == 0), "error"] = "boom"  # one replicate left: fine
    with pytest.raises(ValueError, match=r"no finished run at point 4 \(every run there failed"):
        sobol_indices(df, mf, "y")


def test_an_outcome_that_never_varies_or_is_not_there_is_refused() -> None:
    df, mf = sweep_like(ishigami_spec(16), lambda p: 1.0)
    with pytest.raises(ValueError, match="'y' is 1 at every point: it does not vary"):
        sobol_indices(df, mf, "y")
    with pytest.raises(ValueError, match=r"no outcome column 'utility.ZZZ'"):
        sobol_indices(df, mf, "utility.ZZZ")
    df["value.a"] = np.nan
    with pytest.raises(ValueError, match="'value.a' is missing at points 0, 1, 2"):
        sobol_indices(df, mf, "value.a")


def test_a_design_of_the_wrong_size_is_refused() -> None:
    df, mf = sweep_like(ishigami_spec(16), ishigami)
    mf["experiment_spec"]["design"]["second_order"] = True  # 16 * 8 points, not 16 * 5
    with pytest.raises(ValueError, match="80 points is not a Saltelli design over 3 axes with 16 samples"):
        sobol_indices(df, mf, "y")
    with pytest.raises(ValueError, match="80 points is not a Saltelli design"):
        sobol_indices(df, {**mf, "n_points": 80, "experiment_spec": {"design": {"samples": 20}}}, "y")


# ---------------------------------------------------------------------------- Morris


def morris_spec(trajectories: int = 60, levels: int = 4) -> ExperimentSpec:
    axes = [
        AxisSpec(path="x1", range=(0.0, 2.0)),  # linear, 3 per unit: mu* = 3 * 2 = 6
        AxisSpec(path="x2", range=(0.0, 1.0)),  # inert: mu* = 0
        AxisSpec(path="x3", range=(0.0, 1.0)),  # 4 * x3 * x4: interacting, sigma > 0
        AxisSpec(path="x4", range=(0.0, 1.0)),
        AxisSpec(path="x5", values=["low", "high"]),  # +1 when high: |effect| = 1 / delta = 1.5
        AxisSpec(path="x6", range=(0.0, 30.0), integer=True),  # 0.1 per unit: mu* = 0.1 * 30 = 3
    ]
    design = DesignSpec(kind="morris", samples=trajectories, levels=levels)
    return ExperimentSpec(name="screen", scenario="none.yaml", design=design, axes=axes, seed=5)


def screened(p: dict[str, Any]) -> float:
    return 3 * p["x1"] + 4 * p["x3"] * p["x4"] + (1.0 if p["x5"] == "high" else 0.0) + 0.1 * p["x6"]


def test_morris_screening_ranks_the_factors_and_measures_linear_effects_exactly() -> None:
    # SALib divides each change in outcome by the design's step delta = levels / (2 (levels - 1))
    # of the unit cube (2/3 for 4 levels), and a step moves a range axis by delta * (hi - lo): so a
    # linear factor c * x has mu* = |c| * (hi - lo) exactly, whatever the number of levels.
    df, mf = sweep_like(morris_spec(), screened)
    assert len(df) == 60 * 7
    t = morris_indices(df, mf, "y")
    assert list(t.columns[:3]) == ["mu_star", "mu_star_conf", "sigma"]
    assert t.loc["x1", "mu_star"] == pytest.approx(6.0, rel=1e-9)
    assert t.loc["x1", "sigma"] == pytest.approx(0.0, abs=1e-9)
    assert t.loc["x6", "mu_star"] == pytest.approx(3.0, rel=1e-9)  # integer axis: 0, 10, 20, 30 exactly
    assert t.loc["x5", "mu_star"] == pytest.approx(1.0 / (4 / 6), rel=1e-9)  # values axis: one change per step
    assert t.loc["x2", "mu_star"] == pytest.approx(0.0, abs=1e-12)
    assert t.loc["x3", "sigma"] > 0.5 and t.loc["x4", "sigma"] > 0.5  # the interaction
    ranking = list(t["mu_star"].sort_values(ascending=False).index)
    assert ranking[0] == "x1" and ranking[-1] == "x2"
    assert t.attrs["steps_without_change"] == 0


@pytest.mark.parametrize("levels", [4, 6])
def test_linear_effects_do_not_depend_on_the_number_of_levels(levels: int) -> None:
    df, mf = sweep_like(morris_spec(20, levels), screened)
    t = morris_indices(df, mf, "y")
    assert t.loc["x1", "mu_star"] == pytest.approx(6.0, rel=1e-9)
    assert t.attrs["levels"] == levels


def test_morris_needs_every_point_and_the_trajectory_order() -> None:
    df, mf = sweep_like(morris_spec(10), screened)
    with pytest.raises(ValueError, match=r"incomplete: 1 of 70 points have no runs yet \(points 12;"):
        morris_indices(df[df["point_id"] != 12], mf, "y")
    shuffled = df.copy()
    shuffled["point_id"] = np.random.default_rng(0).permutation(len(df))
    with pytest.raises(ValueError, match="not in Morris trajectory order"):
        morris_indices(shuffled, mf, "y")


# ---------------------------------------------------------------------------- the plot


def test_the_sobol_plot_has_one_bar_group_per_condition_sorted_by_total_index() -> None:
    t = pd.DataFrame({"S1": [0.1, 0.5, 0.0], "S1_conf": [0.02, 0.03, 0.01], "ST": [0.3, 0.6, 0.05],
                      "ST_conf": [0.04, 0.05, 0.02]},
                     index=["axis.actors.USA.reservation", "axis.protocol.max_rounds", "axis.other"])
    fig = sensitivity_plot(t, title="Sensitivity of agreement")
    ax = fig.axes[0]
    labels = [lab.get_text() for lab in ax.get_yticklabels()]
    assert labels == ["other", "actors.USA.reservation", "protocol.max_rounds"]  # bottom to top: largest on top
    assert len(ax.patches) == 2 * 3
    assert ax.get_xlabel() == "Sobol index"
    assert ax.get_title() == "Sensitivity of agreement"
    legend = ax.get_legend()
    assert legend is not None and [txt.get_text().split(":")[0] for txt in legend.get_texts()] == ["S1", "ST"]
    colours = {tuple(p.get_facecolor()) for p in ax.patches}
    assert len(colours) == 2


def test_the_morris_plot_shows_mu_star_and_sigma() -> None:
    df, mf = sweep_like(morris_spec(10), screened)
    t = morris_indices(df, mf, "y")
    ax = sensitivity_plot(t).axes[0]
    assert len(ax.patches) == 2 * 6
    assert ax.get_xlabel() == "mu* (mean absolute elementary effect)"
    assert [lab.get_text() for lab in ax.get_yticklabels()][-1] == "x1"
    assert ax.get_title() == "Sensitivity of y"


def test_the_plot_refuses_a_table_that_is_not_a_sensitivity_table() -> None:
    with pytest.raises(ValueError, match="not a sensitivity table"):
        sensitivity_plot(pd.DataFrame({"rate": [0.5]}))


def test_the_plot_names_conditions_by_their_labels_where_given() -> None:
    t = pd.DataFrame({"S1": [0.1, 0.5], "S1_conf": [0.02, 0.03], "ST": [0.3, 0.6], "ST_conf": [0.04, 0.05]},
                     index=["axis.actors.USA.reservation", "axis.protocol.max_rounds"])
    fig = sensitivity_plot(t, names_of={"axis.protocol.max_rounds": "deadline (rounds)"})
    labels = [lab.get_text() for lab in fig.axes[0].get_yticklabels()]
    assert labels == ["actors.USA.reservation", "deadline (rounds)"]  # a label where given, else the path
