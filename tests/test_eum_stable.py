"""The stable EUM forecast: a stopping rule, and a forecast that does not hinge on the horizon's parity.

Issue 19: the EUM's forecast is the weighted median after exactly ``max_rounds`` rounds, and the
rounds cycle. In the example of Scholz et al. (2011) the median is 0.70 after 10 rounds (the
parties accept it) and 0.967 after 9 (they reject it); in a 5-actor example the median alternates
between 0.5 and about 0.12 for ever. ``forecast: stable`` stops when the positions settle or
repeat and forecasts the mean over the cycle; ``forecast: scholz`` stays the replication.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model import scenario
from model.core import eum
from model.negotiation import Negotiation
from model.protocols import EventKind
from tests.test_eum import REPLICATED_MEANS, TOL

SCHOLZ = Path(__file__).resolve().parents[1] / "scenarios" / "scholz2011_eum.yaml"


def _scholz(max_rounds: int, forecast: str | None = None) -> scenario.Scenario:
    data: dict[str, Any] = copy.deepcopy(scenario.load_data(SCHOLZ)[0])
    data["protocol"]["max_rounds"] = max_rounds
    if forecast is not None:
        data["protocol"]["forecast"] = forecast
    return scenario.parse(data)


# --------------------------------------------------------------------------------------------
# the two examples of the issue, as the Scholz forecast gives them


def test_scholz_gives_0_70_at_ten_rounds_and_0_967_at_nine() -> None:
    ten = Negotiation(_scholz(10), collect=False).run()
    nine = Negotiation(_scholz(9), collect=False).run()
    assert ten.agreed and ten.package is not None and ten.package[0] == pytest.approx(0.70, abs=1e-12)
    assert not nine.agreed and nine.package is not None
    assert nine.package[0] == pytest.approx(0.967, abs=5e-4)


def test_the_five_actor_example_alternates_0_5_and_0_12_for_ever() -> None:
    run = eum.run(eum.cycling_example(), rounds=40)
    odd, even = run.median[1::2], run.median[2::2]
    np.testing.assert_array_equal(odd, 0.5)
    np.testing.assert_allclose(even, 0.1205, atol=5e-5)
    # the positions themselves repeat every two rounds from round 1 on: a true cycle
    np.testing.assert_array_equal(run.positions[3:], run.positions[1:-2])
    assert not np.array_equal(run.positions[2], run.positions[1])


# --------------------------------------------------------------------------------------------
# the stopping rule


def test_the_stopping_rule_finds_the_two_round_cycle_and_forecasts_its_mean() -> None:
    run = eum.run(eum.cycling_example(), rounds=30)
    st = eum.stable_forecast(run.positions, run.median)
    assert (st.rule, st.period, st.start, st.stop) == ("cycle", 2, 1, 3)
    assert st.value == pytest.approx((0.5 + run.median[2]) / 2, abs=1e-15)


@pytest.mark.parametrize("horizon", range(3, 31))
def test_on_the_cycle_every_horizon_gives_the_same_forecast(horizon: int) -> None:
    run = eum.run(eum.cycling_example(), rounds=horizon)
    ref = eum.run(eum.cycling_example(), rounds=3)
    assert eum.stable_forecast(run.positions, run.median).value == eum.stable_forecast(ref.positions, ref.median).value


def test_positions_that_stop_moving_are_settled_at_the_first_still_round() -> None:
    # two actors who both hold their ground: nothing moves in round 1
    positions = np.array([[0.2, 0.8], [0.3, 0.7], [0.4, 0.6], [0.4, 0.6], [0.4, 0.6]])
    median = np.array([0.8, 0.7, 0.6, 0.6, 0.6])
    st = eum.stable_forecast(positions, median)
    assert (st.rule, st.stop, st.period, st.value) == ("settled", 3, 1, 0.6)


def test_a_path_that_never_repeats_is_forecast_by_its_time_average() -> None:
    positions = np.arange(6, dtype=float)[:, None] / 10
    median = positions[:, 0]
    st = eum.stable_forecast(positions, median)
    assert (st.rule, st.stop, st.period) == ("average", 5, 0)
    assert st.value == pytest.approx(0.25)


def test_a_tolerance_counts_near_repeats_as_repeats() -> None:
    positions = np.array([[0.0], [1.0], [0.0 + 1e-4], [1.0]])
    median = positions[:, 0]
    assert eum.stable_forecast(positions, median, tol=0.0).rule == "cycle"  # row 3 repeats row 1 exactly
    assert eum.stable_forecast(positions[:3], median[:3], tol=0.0).rule == "average"
    near = eum.stable_forecast(positions[:3], median[:3], tol=1e-3)
    assert (near.rule, near.period, near.value) == ("cycle", 2, 0.5)


# --------------------------------------------------------------------------------------------
# robustness to the horizon


def test_the_scholz_example_swings_with_the_horizon_and_the_stable_forecast_much_less() -> None:
    run = eum.run(rounds=30)
    rows = eum.horizon_report(run.positions, run.median, range(5, 31))
    scholz = np.array([r[1] for r in rows])
    stable = np.array([r[2] for r in rows])
    # the replication's path never repeats exactly within 30 rounds: the time average applies
    assert {r[3] for r in rows} == {"average"}
    # Scholz's forecast jumps between the ends of the swing (7.0 and ~9.96 on the paper's scale) ...
    assert scholz.max() - scholz.min() > 2.9
    assert abs(scholz[10 - 5] - scholz[9 - 5]) > 2.6
    # ... the stable forecast moves by less than a third of that, and from 10 rounds on by less
    # than a sixth (0.5 on the 4-10 scale) between any two horizons
    assert stable.max() - stable.min() < (scholz.max() - scholz.min()) / 3
    assert stable[5:].max() - stable[5:].min() < 0.5
    # and by little from one horizon to the next (no parity effect)
    assert np.abs(np.diff(stable[5:])).max() < 0.2


def test_the_horizon_report_reads_one_long_path_as_the_short_runs() -> None:
    long = eum.run(rounds=20)
    rows = eum.horizon_report(long.positions, long.median, range(5, 21))
    for h, scholz, stable, _ in rows:
        short = eum.run(rounds=h)
        assert scholz == short.median[-1]
        assert stable == eum.stable_forecast(short.positions, short.median).value
    with pytest.raises(ValueError, match="needs 21"):
        eum.horizon_report(long.positions, long.median, range(5, 22))


# --------------------------------------------------------------------------------------------
# the protocol's option


def test_the_scholz_option_is_the_default_and_is_the_replication() -> None:
    sc = _scholz(10)
    assert sc.params.forecast == "scholz"  # type: ignore[attr-defined]
    explicit = Negotiation(_scholz(10, "scholz"), collect=False).run()
    default = Negotiation(sc, collect=False).run()
    assert explicit.package is not None and default.package is not None
    np.testing.assert_array_equal(explicit.package, default.package)
    assert explicit.events == [] and default.events == []
    m = Negotiation(sc, collect=False)
    m.run()
    (f,) = m.protocol.forecasts  # type: ignore[attr-defined]
    np.testing.assert_allclose(f.mean * 10, REPLICATED_MEANS, atol=TOL)


@pytest.mark.parametrize("max_rounds", [9, 10, 11, 20])
def test_the_stable_protocol_forecast_is_the_time_average_for_the_scholz_example(max_rounds: int) -> None:
    o = Negotiation(_scholz(max_rounds, "stable"), collect=False).run()
    run = eum.run(rounds=max_rounds)
    assert o.rounds == max_rounds  # the path neither settles nor repeats: it runs to the horizon
    assert o.package is not None
    assert o.package[0] == pytest.approx(run.median.mean() / 10, abs=1e-12)
    assert "stable EUM forecast" in o.explanation and "1 average" in o.explanation


def test_the_stable_protocol_stops_at_the_cycle_and_records_every_round() -> None:
    ex = eum.cycling_example()
    issue = "x"
    data = {
        "name": "cycling", "title": "five actors in a two-round cycle",
        "protocol": {"kind": "eum", "max_rounds": 25, "forecast": "stable"},
        "issues": [{"id": issue, "label": "x"}],
        "actors": [{"id": n, "name": n, "capability": float(c),
                    "issues": {issue: {"position": float(x), "salience": float(s)}}}
                   for n, c, x, s in zip(ex.names, ex.capability, ex.position, ex.salience, strict=True)],
    }
    for rounds in (24, 25):
        data["protocol"]["max_rounds"] = rounds
        m = Negotiation(scenario.parse(copy.deepcopy(data)), collect=False)
        o = m.run()
        assert o.rounds == 3  # stopped where the cycle was found, whatever the horizon
        assert o.package is not None and o.package[0] == pytest.approx((0.5 + 0.12046572691094787) / 2, abs=1e-9)
        assert "1 cycle" in o.explanation
        rounds_seen = [e.round for e in o.events if e.kind == EventKind.EUM_ROUND]
        assert rounds_seen == [1, 2, 3]
        (last,) = [e for e in o.events if e.round == 2]
        assert dict(last.positions[0][1])["A"] == pytest.approx(0.120466, abs=1e-6)  # type: ignore[attr-defined]
        assert "A 0.1205" in last.text
