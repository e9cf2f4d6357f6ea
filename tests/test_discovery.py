"""PRIM scenario discovery finds the known boxes of synthetic sweeps, counts their runs right,
and says them in plain sentences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from model import discovery
from model.discovery import Box, describe, discover, find_boxes, outcome_mask, peeling_plot, prim

Limits = Mapping[str, tuple[float | None, float | None]]

#: The outcome of the synthetic sweep: x1 ≥ 0.6 and x2 ≤ 0.4 and cat in {a, b}.
TRUE_BOX: Limits = {"x1": (0.6, None), "x2": (None, 0.4)}
TRUE_CATS = frozenset({"a", "b"})


def _conditions(seed: int = 0, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({f"x{i}": rng.uniform(size=n) for i in range(1, 5)})
    x["cat"] = rng.choice(["a", "b", "c", "d"], size=n)
    return x


def _noisy(truth: np.ndarray, seed: int, rate: float = 0.02) -> np.ndarray:
    flip = np.random.default_rng(seed + 1000).uniform(size=len(truth)) < rate
    return truth ^ flip


def _in(x: pd.DataFrame, limits: Limits) -> np.ndarray:
    m = np.ones(len(x), dtype=bool)
    for name, (lo, hi) in limits.items():
        if lo is not None:
            m &= x[name].to_numpy() >= lo
        if hi is not None:
            m &= x[name].to_numpy() <= hi
    return m


def _lower(box: Box, name: str) -> float:
    lim = box.limits[name]
    assert isinstance(lim, tuple)
    return lim[0]


def _sweep(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    x = _conditions(seed)
    truth = _in(x, TRUE_BOX) & x["cat"].isin(TRUE_CATS).to_numpy()
    return x, _noisy(truth, seed)


def _assert_limits(box: Box, expected: Limits, tol: float = 0.05) -> None:
    numeric = {k: v for k, v in box.restricted.items() if isinstance(v, tuple)}
    assert set(numeric) == set(expected), box.restricted
    for name, (lo, hi) in expected.items():
        got_lo, got_hi = numeric[name]
        assert (got_lo is None) == (lo is None) and (got_hi is None) == (hi is None), (name, numeric[name])
        if lo is not None:
            assert got_lo is not None and abs(got_lo - lo) <= tol, (name, got_lo)
        if hi is not None:
            assert got_hi is not None and abs(got_hi - hi) <= tol, (name, got_hi)


# --- peeling, the chosen box and its statistics --------------------------------------------------------------------


def test_prim_recovers_the_known_box_within_0_05_and_leaves_the_irrelevant_conditions_unrestricted() -> None:
    x, y = _sweep()
    box = prim(x, y).box
    _assert_limits(box, TRUE_BOX)
    assert box.restricted["cat"] == TRUE_CATS
    assert "x3" not in box.restricted and "x4" not in box.restricted
    assert box.limits["x3"] == box.bounds["x3"] and box.limits["x4"] == box.bounds["x4"]
    assert box.density > 0.9 and box.coverage > 0.75


def test_prim_recovers_the_box_on_other_samples_too() -> None:
    for seed in (1, 2, 3):
        x, y = _sweep(seed)
        box = prim(x, y).box
        _assert_limits(box, TRUE_BOX)
        assert box.restricted["cat"] == TRUE_CATS


def test_coverage_density_mass_and_run_counts_match_direct_counts_at_every_step() -> None:
    x, y = _sweep()
    result = prim(x, y)
    for box in [*result.trajectory, result.box]:
        inside = box.contains(x)
        assert box.n == inside.sum()
        assert box.n_interest == y[inside].sum()
        assert box.density == pytest.approx(y[inside].mean())
        assert box.coverage == pytest.approx(y[inside].sum() / y.sum())
        assert box.mass == pytest.approx(inside.mean())
    stats = result.stats
    assert list(stats.columns) == ["coverage", "density", "mass", "n", "n_interest", "restricted"]
    assert len(stats) == len(result.trajectory)
    assert stats["n"].iloc[0] == len(x) and stats["coverage"].iloc[0] == 1.0


def test_the_trajectory_starts_with_every_run_shrinks_at_each_step_and_stops_at_the_minimum_mass() -> None:
    x, y = _sweep()
    result = prim(x, y, mass_min=0.05)
    first = result.trajectory[0]
    assert first.n_restricted == 0 and first.density == pytest.approx(y.mean())
    n = [b.n for b in result.trajectory]
    assert all(a > b for a, b in zip(n, n[1:], strict=False))
    assert all(b.mass >= 0.05 for b in result.trajectory)
    assert result.trajectory[-1].mass < 0.05 / 0.95 + 0.01  # one more 5% peel would go below


def test_the_default_threshold_is_the_overall_rate_plus_half_the_distance_to_one_and_the_chosen_box_meets_it() -> None:
    x, y = _sweep()
    result = prim(x, y)
    assert result.threshold == pytest.approx(y.mean() + (1 - y.mean()) / 2)
    assert result.meets_threshold and result.box.density >= result.threshold
    strict = prim(x, y, threshold=0.97)
    assert strict.threshold == 0.97
    assert strict.trajectory[strict.chosen].density >= 0.97
    unreachable = prim(x, y, threshold=1.0)  # the label noise leaves no step that pure
    assert max(b.density for b in unreachable.trajectory) < 1.0
    assert not unreachable.meets_threshold


def test_categorical_peeling_removes_the_irrelevant_categories() -> None:
    rng = np.random.default_rng(5)
    x = pd.DataFrame({"x1": rng.uniform(size=2000), "strategy": rng.choice(list("abcde"), size=2000)})
    y = _noisy(x["strategy"].eq("b").to_numpy(), 5)
    box = prim(x, y).box
    assert box.restricted == {"strategy": frozenset({"b"})}
    assert box.bounds["strategy"] == frozenset("abcde")


def test_an_integer_condition_is_peeled_value_by_value_and_limited_at_a_value_in_the_data() -> None:
    rng = np.random.default_rng(6)
    x = pd.DataFrame({"max_rounds": rng.integers(1, 21, size=2000), "x1": rng.uniform(size=2000)})
    assert x["max_rounds"].dtype == np.int64
    y = _noisy((x["max_rounds"] >= 12).to_numpy(), 6)
    box = prim(x, y).box
    assert box.restricted == {"max_rounds": (12.0, None)}


def test_pasting_widens_an_overshot_limit_while_that_raises_the_density() -> None:
    x1 = np.linspace(0, 1, 1000)
    y = x1 >= 0.5
    y[np.flatnonzero(x1 >= 0.6)[::10]] = False  # 90% above 0.6, all of [0.5, 0.6)
    x = pd.DataFrame({"x1": x1})
    unpasted = prim(x, y, peel_alpha=0.3, paste_alpha=0)
    step = unpasted.trajectory[unpasted.chosen]
    assert unpasted.box == step
    assert _lower(step, "x1") > 0.505  # a 30% peel overshoots 0.5
    pasted = prim(x, y, peel_alpha=0.3, paste_alpha=0.01)
    assert pasted.chosen == unpasted.chosen
    assert 0.5 <= _lower(pasted.box, "x1") < _lower(step, "x1")
    assert pasted.box.density > step.density and pasted.box.n > step.n


def _two_boxes(seed: int) -> tuple[pd.DataFrame, np.ndarray, Limits, Limits]:
    x = _conditions(seed)
    a: Limits = {"x1": (None, 0.4), "x2": (None, 0.4)}
    b: Limits = {"x1": (0.75, None), "x3": (0.75, None)}
    return x, _noisy(_in(x, a) | _in(x, b), seed), a, b


def test_restrictions_the_data_do_not_support_are_dropped_by_their_quasi_p_value() -> None:
    stray = 0
    for seed in range(4):
        x, y, a, b = _two_boxes(seed)
        loose = [r.box for r in find_boxes(x, y, max_quasi_p=None)]
        pruned = [r.box for r in find_boxes(x, y)]
        assert [set(p.restricted) for p in pruned] == [set(a), set(b)]
        for p, q in zip(pruned, loose, strict=True):
            assert set(p.restricted) <= set(q.restricted)
        stray += sum(len(set(q.restricted) - set(p.restricted)) for p, q in zip(pruned, loose, strict=True))
    assert stray > 0  # without the test, some sample keeps a stray peel (of x4)


def test_select_picks_another_step_of_the_trajectory() -> None:
    x, y = _sweep()
    result = prim(x, y, paste_alpha=0, max_quasi_p=None)
    assert result.select(0) == result.trajectory[0] and result.chosen == 0
    assert result.select(-1) == result.trajectory[-1] and result.chosen == len(result.trajectory) - 1
    with pytest.raises(IndexError):
        result.select(len(result.trajectory))


def test_prim_rejects_inputs_it_cannot_use() -> None:
    x, y = _sweep()
    with pytest.raises(ValueError, match="rows"):
        prim(x, y[:-1])
    with pytest.raises(ValueError, match="missing"):
        prim(x.assign(x1=x["x1"].where(x["x1"] > 0.01)), y)
    with pytest.raises(ValueError, match="boolean"):
        prim(x, np.full(len(x), 0.5))
    with pytest.raises(ValueError, match="peel_alpha"):
        prim(x, y, peel_alpha=0.6)


# --- several boxes -----------------------------------------------------------------------------------------------


def test_a_second_box_is_found_when_the_outcome_is_the_union_of_two_disjoint_boxes() -> None:
    x, y, a, b = _two_boxes(0)
    results = find_boxes(x, y, n_boxes=5)
    assert len(results) == 2  # the rest is noise: no third box
    first, second = (r.box for r in results)
    _assert_limits(first, a)
    _assert_limits(second, b)
    assert (first.index, second.index) == (0, 1)
    assert first.coverage + second.coverage > 0.85
    # the second box's runs exclude the first box's; coverage and mass stay shares of all runs
    rest = ~first.contains(x)
    inside = second.contains(x) & rest
    assert second.n == inside.sum()
    assert second.density == pytest.approx(y[inside].mean())
    assert second.coverage == pytest.approx(y[inside].sum() / y.sum())
    assert second.mass == pytest.approx(inside.sum() / len(x))
    with pytest.raises(RuntimeError):
        results[0].select(0)  # later boxes depend on it


def test_no_box_is_found_when_the_outcome_does_not_depend_on_the_conditions() -> None:
    x = _conditions(7)
    y = np.random.default_rng(99).uniform(size=len(x)) < 0.3
    assert find_boxes(x, y) == []


# --- sentences -------------------------------------------------------------------------------------------------


def test_the_sentence_names_the_limits_and_percentages_of_the_box() -> None:
    x, y = _sweep()
    box = prim(x, y).box
    text = describe(box)
    lo = box.restricted["x1"][0]  # type: ignore[index]
    hi = box.restricted["x2"][1]  # type: ignore[index]
    assert text.startswith(f"agreement in {100 * box.density:.0f}% of runs when ")
    assert f"x1 ≥ {lo:.3g}" in text and f"x2 ≤ {hi:.3g}" in text and "cat is a or b" in text
    assert f"these {box.n} runs cover {100 * box.coverage:.0f}% of all agreements" in text
    assert "x3" not in text and "x4" not in text


def _hand_made_box(index: int = 0) -> Box:
    strategies = frozenset({"hawk", "dove", "tit_for_tat", "random"})
    return Box(
        limits={
            "axis.actors.BLR.trust": (0.61834, 1.0),
            "axis.actors.RUS.influence": (0.0, 0.35),
            "axis.protocol.max_rounds": (12.0, 30.0),
            "axis.issues.eu_sanctions.weight": (0.0, 1.0),
            "axis.actors.Y.strategy.name": frozenset({"hawk", "dove"}),
            "axis.budget": (1234.5, 9000.0),
        },
        bounds={
            "axis.actors.BLR.trust": (0.0, 1.0),
            "axis.actors.RUS.influence": (0.0, 1.0),
            "axis.protocol.max_rounds": (5.0, 40.0),
            "axis.issues.eu_sanctions.weight": (0.0, 1.0),
            "axis.actors.Y.strategy.name": strategies,
            "axis.budget": (0.0, 9000.0),
        },
        coverage=0.714,
        density=0.8702,
        mass=0.104,
        n=312,
        n_interest=271,
        index=index,
    )


def test_the_sentence_uses_readable_names_three_significant_digits_ranges_and_categories() -> None:
    assert describe(_hand_made_box()) == (
        "agreement in 87% of runs when actors.BLR.trust ≥ 0.618, actors.RUS.influence ≤ 0.35, "
        "protocol.max_rounds between 12 and 30, actors.Y.strategy.name is dove or hawk and budget ≥ 1230; "
        "these 312 runs cover 71% of all agreements"
    )


def test_the_sentence_of_a_later_box_says_its_runs_exclude_the_earlier_boxes_and_takes_another_outcome() -> None:
    assert "% of runs outside the first box when" in describe(_hand_made_box(index=1))
    assert "% of runs outside the first 2 boxes when" in describe(_hand_made_box(index=2))
    text = describe(_hand_made_box(), outcome_label="value.eu_sanctions>0.2")
    assert text.startswith("value.eu_sanctions>0.2 in 87% of runs")
    assert text.endswith("cover 71% of all runs with value.eu_sanctions>0.2")


def test_a_single_excluded_category_reads_as_is_not() -> None:
    assert discovery.condition("axis.s", frozenset("abd"), frozenset("abcd")) == "s is not c"
    assert discovery.condition("axis.s", frozenset("abc"), frozenset("abcde")) == "s is a, b or c"
    assert discovery.condition("axis.s", frozenset("ab"), frozenset("abc")) == "s is not c"
    assert discovery.condition("axis.s", frozenset("b"), frozenset("ab")) == "s is b"
    assert discovery.condition("axis.x", (0.2, 0.6)) == "x between 0.2 and 0.6"


# --- the peeling plot --------------------------------------------------------------------------------------------


def test_the_peeling_plot_shows_coverage_against_density_for_every_step_with_the_chosen_box_marked() -> None:
    x, y = _sweep()
    result = prim(x, y)
    fig = peeling_plot(result)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "coverage" and ax.get_ylabel() == "density"
    points, chosen = (c for c in ax.collections if isinstance(c, PathCollection))
    offsets = np.asarray(points.get_offsets())
    assert len(offsets) == len(result.trajectory)
    np.testing.assert_allclose(offsets[:, 0], [b.coverage for b in result.trajectory])
    np.testing.assert_allclose(offsets[:, 1], [b.density for b in result.trajectory])
    np.testing.assert_array_equal(points.get_array(), [b.n_restricted for b in result.trajectory])
    np.testing.assert_allclose(np.asarray(chosen.get_offsets()), [[result.box.coverage, result.box.density]])
    assert fig.axes[1].get_ylabel() == "restricted dimensions"  # the colour bar
    legend = ax.get_legend()
    assert legend is not None and any("chosen box" in t.get_text() for t in legend.get_texts())


# --- on sweep results --------------------------------------------------------------------------------------------


def _results_frame(seed: int = 8, n: int = 2000, failed: int = 120) -> pd.DataFrame:
    """Shaped like ``model.results.load``: ``axis.`` columns, ``agreed`` ("boolean", missing where the
    run failed), ``error``, ``rounds``, ``value.`` and ``utility.`` columns."""
    rng = np.random.default_rng(seed)
    trust = rng.uniform(size=n)
    max_rounds = rng.choice([5, 8, 12, 20, 30], size=n)
    strategy = rng.choice(["hawk", "dove", "tit_for_tat", "random"], size=n)
    agreed = (trust >= 0.6) & (max_rounds >= 12) & np.isin(strategy, ["dove", "tit_for_tat"])
    agreed = _noisy(agreed, seed)
    df = pd.DataFrame({
        "run_id": np.arange(n),
        "axis.actors.BLR.trust": trust,
        "axis.protocol.max_rounds": max_rounds,
        "axis.actors.Y.strategy.name": pd.Series(strategy, dtype="str"),
        "axis.protocol.seed": np.full(n, 42),  # swept, but only one value here
        "agreed": pd.array(agreed, dtype="boolean"),
        "error": pd.Series([None] * n, dtype="object"),
        "rounds": pd.array(rng.integers(1, 30, size=n), dtype="Int64"),
        "value.eu_sanctions": 0.5 * trust + rng.normal(0, 0.005, size=n),
        "utility.BLR": rng.uniform(size=n),
    })
    # failed runs, all in a corner where agreement would otherwise be likely
    bad = np.flatnonzero(agreed)[:failed]
    df.loc[bad, "error"] = "ValueError: boom"
    df.loc[bad, "agreed"] = pd.NA
    df.loc[bad, "value.eu_sanctions"] = np.nan
    df.loc[bad, "rounds"] = pd.NA
    return df


def test_discover_on_sweep_results_ignores_failed_runs_and_conditions_that_do_not_vary() -> None:
    df = _results_frame()
    boxes = discover(df)
    assert boxes
    box = boxes[0]
    assert "axis.protocol.seed" not in box.limits
    assert set(box.limits) == {"axis.actors.BLR.trust", "axis.protocol.max_rounds", "axis.actors.Y.strategy.name"}
    _assert_limits(box, {"axis.actors.BLR.trust": (0.6, None), "axis.protocol.max_rounds": (12.0, None)})
    assert box.restricted["axis.actors.Y.strategy.name"] == frozenset({"dove", "tit_for_tat"})
    ok = df[df["error"].isna()]
    inside = box.contains(ok)
    agreed = ok["agreed"].to_numpy(dtype=bool)
    assert box.n == inside.sum()  # failed runs are not counted, though many lie inside the box
    assert box.contains(df).sum() > box.n
    assert box.density == pytest.approx(agreed[inside].mean())
    assert box.coverage == pytest.approx(agreed[inside].sum() / agreed.sum())
    assert box.mass == pytest.approx(inside.sum() / len(ok))
    text = describe(box)
    assert "protocol.max_rounds ≥ 12" in text and "axis." not in text


def test_discover_takes_an_outcome_expression_and_named_axes() -> None:
    df = _results_frame()
    boxes = discover(df, outcome="value.eu_sanctions>0.2")
    assert len(boxes) >= 1
    _assert_limits(boxes[0], {"axis.actors.BLR.trust": (0.4, None)})
    assert boxes[0].density > 0.95
    named = discover(df, outcome="value.eu_sanctions>0.2", axes=["actors.BLR.trust"], n_boxes=1)
    assert len(named) == 1 and list(named[0].limits) == ["axis.actors.BLR.trust"]


@pytest.mark.parametrize(
    ("outcome", "column", "expected"),
    [
        ("value.eu_sanctions>0.2", "value.eu_sanctions", lambda v: v > 0.2),
        ("value.eu_sanctions < 0.2", "value.eu_sanctions", lambda v: v < 0.2),
        ("value.eu_sanctions>=0.25", "value.eu_sanctions", lambda v: v >= 0.25),
        ("value.eu_sanctions<=0.25", "value.eu_sanctions", lambda v: v <= 0.25),
        ("axis.protocol.max_rounds==12", "axis.protocol.max_rounds", lambda v: v == 12),
        ("axis.actors.Y.strategy.name==dove", "axis.actors.Y.strategy.name", lambda v: v == "dove"),
        ("axis.actors.Y.strategy.name!='dove'", "axis.actors.Y.strategy.name", lambda v: v != "dove"),
        ("agreed==False", "agreed", lambda v: ~v.astype(bool)),
    ],
)
def test_the_outcome_expression_forms_select_the_rows_they_say(outcome: str, column: str, expected: Any) -> None:
    df = _results_frame()
    got = outcome_mask(df, outcome)
    assert got.dtype == "boolean"
    missing = df[column].isna()
    assert got[missing].isna().all()
    defined = df.loc[~missing, column]
    np.testing.assert_array_equal(got[~missing].to_numpy(dtype=bool), np.asarray(expected(defined), dtype=bool))


def test_the_outcome_is_missing_where_the_run_failed_and_bad_expressions_are_refused() -> None:
    df = _results_frame()
    failed = df["error"].notna()
    assert outcome_mask(df, "agreed")[failed].isna().all()
    assert outcome_mask(df, "value.eu_sanctions>0.2")[failed].isna().all()
    for bad in ("value.eu_sanctions", "value.nope>1", "value.eu_sanctions>high", "axis.actors.Y.strategy.name>a",
                "trust and rounds"):
        with pytest.raises(ValueError):
            outcome_mask(df, bad)
