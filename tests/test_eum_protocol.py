"""Bueno de Mesquita's expected-utility model over a whole negotiation problem, issue by issue.

The scenario ``scenarios/scholz2011_eum.yaml`` is the 10-country example of Scholz, Calbert &
Smith (2011), Table 1, on this project's [0, 1] scale (positions / 10, capabilities / 0.16).
Run issue by issue from the compiled problem, the model must give the replication's numbers of
``tests/test_eum.py`` divided by 10. The scenario is read with ``yaml.safe_load`` and compiled
under the ``package`` protocol, so these tests do not depend on the ``eum`` protocol's wiring.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from model import scenario
from model.core import eum
from tests.factories import SCHOLZ_TABLE1_CSV
from tests.test_eum import REPLICATED_MEANS, REPLICATED_ROUNDS, TOL

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "scholz2011_eum.yaml"
ISSUE = "emission_standards"


def _data() -> dict[str, Any]:
    data = yaml.safe_load(SCENARIO.read_text())
    data["protocol"]["kind"] = "package"
    return data


def _compile(data: dict[str, Any]) -> scenario.Scenario:
    return scenario.parse(copy.deepcopy(data))


def _forecast(sc: scenario.Scenario, rounds: int = 10, capability: np.ndarray | None = None) -> list[eum.IssueForecast]:
    cap, sal = eum.spec_inputs(sc.spec)
    return eum.forecast_problem(sc.problem, cap if capability is None else capability, rounds, salience=sal)


@pytest.fixture(scope="module")
def example() -> scenario.Scenario:
    return _compile(_data())


@pytest.fixture(scope="module")
def forecast(example: scenario.Scenario) -> eum.IssueForecast:
    (only,) = _forecast(example)
    return only


# --------------------------------------------------------------------------------------------
# the published example


def test_the_scenario_is_the_published_table_rescaled(example: scenario.Scenario) -> None:
    # positions / 10, capabilities / 0.16 (the largest), saliences as published
    table = eum.scholz_example()
    actors = example.spec.actors
    assert tuple(a.name for a in actors) == table.names
    np.testing.assert_array_equal([a.issues[ISSUE].position for a in actors], table.position / 10)
    np.testing.assert_array_equal([a.issues[ISSUE].salience for a in actors], table.salience)
    np.testing.assert_allclose([a.capability * 0.16 for a in actors], table.capability, rtol=1e-12)
    assert example.problem.space.ids == (ISSUE,)
    np.testing.assert_array_equal(example.problem.prefs.ideal[:, 0], table.position / 10)
    if SCHOLZ_TABLE1_CSV.exists():  # and the shared CSV says the same
        with open(SCHOLZ_TABLE1_CSV, newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["Actor"] for r in rows] == [a.name for a in actors]
        published = [float(r["Position"]) / 10 for r in rows]
        np.testing.assert_allclose(published, [a.issues[ISSUE].position for a in actors], rtol=1e-15)


def test_the_example_starts_at_median_0_7_and_mean_0_738996(forecast: eum.IssueForecast) -> None:
    assert forecast.issue == ISSUE
    assert forecast.median[0] == 0.7
    assert forecast.mean[0] == pytest.approx(0.738996, abs=5e-7)
    assert forecast.mean[0] == pytest.approx(0.5003 / 0.677, abs=1e-12)  # sum c s x / sum c s on [0, 1]


def test_the_issue_by_issue_forecast_gives_the_replications_means_divided_by_10(
    forecast: eum.IssueForecast,
) -> None:
    assert forecast.positions.shape == (11, 10)
    np.testing.assert_allclose(forecast.mean * 10, REPLICATED_MEANS, rtol=0, atol=TOL)


def test_every_round_moves_the_same_actors_to_a_tenth_of_the_replications_positions(
    forecast: eum.IssueForecast,
) -> None:
    names = list(eum.scholz_example().names)
    movers = [names.index(n) for n in ("Belgium", "Luxembourg", "Ireland")]
    for round_, (_, new_positions) in enumerate(REPLICATED_ROUNDS, start=1):
        np.testing.assert_allclose(forecast.positions[round_, movers] * 10, new_positions, rtol=0, atol=TOL)


def test_on_0_1_the_model_gives_the_papers_scale_numbers_divided_by_10(forecast: eum.IssueForecast) -> None:
    # Scale-equivariance: positions, weighted medians and means are the 4-10 run's / 10.
    paper = eum.run(rounds=10)
    np.testing.assert_allclose(forecast.positions * 10, paper.positions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(forecast.median * 10, paper.median, rtol=0, atol=1e-12)
    np.testing.assert_allclose(forecast.mean * 10, paper.mean, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("a", "b"), [(0.1, 0.0), (0.05, 0.5), (1 / 6, -4 / 6), (3.0, 2.0)])
def test_the_model_is_equivariant_to_an_increasing_affine_change_of_scale(a: float, b: float) -> None:
    # The model sees positions only through distances over the range of the initial positions.
    table = eum.scholz_example()
    paper = eum.run(table, rounds=10)
    moved = eum.forecast_issue("x", a * table.position + b, table.salience, table.capability, 10)
    np.testing.assert_allclose((moved.positions - b) / a, paper.positions, rtol=0, atol=1e-9)
    np.testing.assert_allclose((moved.mean - b) / a, paper.mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose((moved.median - b) / a, paper.median, rtol=0, atol=1e-9)


@pytest.mark.parametrize("factor", [0.16, 1.0, 7.3, 1e-3])
def test_a_common_factor_on_capabilities_changes_nothing(example: scenario.Scenario, factor: float) -> None:
    # The scenario's capabilities are the published ones / 0.16: factor 0.16 gives the table's.
    cap, _ = eum.spec_inputs(example.spec)
    (base,) = _forecast(example)
    (scaled,) = _forecast(example, capability=cap * factor)
    np.testing.assert_allclose(scaled.positions, base.positions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scaled.median, base.median, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scaled.mean, base.mean, rtol=0, atol=1e-12)


def test_the_forecast_package_is_the_last_rounds_median_or_mean(forecast: eum.IssueForecast) -> None:
    np.testing.assert_array_equal(eum.forecast_package([forecast]), [forecast.median[-1]])
    np.testing.assert_array_equal(eum.forecast_package([forecast], which="mean"), [forecast.mean[-1]])
    assert eum.forecast_package([forecast], which="mean")[0] == pytest.approx(REPLICATED_MEANS[-1] / 10, abs=1e-10)
    with pytest.raises(ValueError, match="median"):
        eum.forecast_package([forecast], which="mode")  # type: ignore[arg-type]


def test_the_compiled_problems_normalised_weights_are_not_the_eums_saliences(example: scenario.Scenario) -> None:
    # A Problem keeps saliences normalised per actor: with one issue every weight is 1. The EUM
    # needs the raw saliences (spec_inputs); with the weights it forecasts another example.
    np.testing.assert_array_equal(example.problem.prefs.weight, 1.0)
    cap, sal = eum.spec_inputs(example.spec)
    np.testing.assert_array_equal(sal[:, 0], eum.scholz_example().salience)
    (with_weights,) = eum.forecast_problem(example.problem, cap, 10)
    assert np.abs(with_weights.mean * 10 - REPLICATED_MEANS).max() > 0.1


# --------------------------------------------------------------------------------------------
# several issues, and who takes part


def _two_issue_data() -> dict[str, Any]:
    """The example plus a second issue on which Luxembourg and Ireland do not care (salience 0)."""
    data = _data()
    data["issues"].append({"id": "test_cycle", "label": "A second issue", "status_quo": 0.5})
    second = {  # position, salience on the second issue
        "NLD": (0.9, 0.3), "BEL": (0.2, 0.9), "LUX": (0.05, 0.0), "DEU": (0.6, 0.5), "FRA": (0.1, 0.7),
        "ITA": (0.35, 0.2), "GBR": (0.8, 0.4), "IRL": (0.95, 0.0), "DNK": (0.5, 0.6), "GRC": (0.2, 0.8),
    }
    for act in data["actors"]:
        pos, sal = second[act["id"]]
        act["issues"]["test_cycle"] = {"position": pos, "salience": sal}
    return data


@pytest.fixture(scope="module")
def two_issues() -> scenario.Scenario:
    return _compile(_two_issue_data())


def test_each_issue_of_a_two_issue_problem_is_forecast_as_on_its_own(two_issues: scenario.Scenario) -> None:
    cap, sal = eum.spec_inputs(two_issues.spec)
    ideal = two_issues.problem.prefs.ideal
    forecasts = eum.forecast_problem(two_issues.problem, cap, 10, salience=sal)
    assert [f.issue for f in forecasts] == ["emission_standards", "test_cycle"]
    # issue 1: the published example, untouched by the second issue
    np.testing.assert_allclose(forecasts[0].mean * 10, REPLICATED_MEANS, rtol=0, atol=TOL)
    # issue 2: the single-issue model run on the actors that care about it
    keep = sal[:, 1] > 0
    names = tuple(a for a, k in zip(two_issues.problem.actor_ids, keep, strict=True) if k)
    alone = eum.run(eum.Actors(names, cap[keep], ideal[keep, 1], sal[keep, 1]), rounds=10)
    assert np.abs(np.diff(alone.positions, axis=0)).max() > 0.1  # actors do move on this issue
    np.testing.assert_array_equal(forecasts[1].positions[:, keep], alone.positions)
    np.testing.assert_array_equal(forecasts[1].median, alone.median)
    np.testing.assert_array_equal(forecasts[1].mean, alone.mean)
    package = eum.forecast_package(forecasts)
    np.testing.assert_array_equal(package, [forecasts[0].median[-1], alone.median[-1]])


def test_actors_with_zero_salience_take_no_part_and_stay_at_their_ideal(two_issues: scenario.Scenario) -> None:
    cap, sal = eum.spec_inputs(two_issues.spec)
    ids = two_issues.problem.actor_ids
    out = [ids.index("LUX"), ids.index("IRL")]
    second = eum.forecast_problem(two_issues.problem, cap, 10, salience=sal)[1]
    assert set(second.participants) == set(range(len(ids))) - set(out)
    np.testing.assert_array_equal(second.positions[:, out], np.tile([0.05, 0.95], (11, 1)))
    # Where they stand does not matter to the others: move them, and nothing else changes.
    data = _two_issue_data()
    for act in data["actors"]:
        if act["id"] in ("LUX", "IRL"):
            act["issues"]["test_cycle"]["position"] = 0.5
    moved = eum.forecast_problem(_compile(data).problem, cap, 10, salience=sal)[1]
    keep = [a for a in range(len(ids)) if a not in out]
    np.testing.assert_array_equal(moved.positions[:, keep], second.positions[:, keep])
    np.testing.assert_array_equal(moved.median, second.median)
    np.testing.assert_array_equal(moved.mean, second.mean)


def test_an_issue_nobody_weighs_is_forecast_at_its_status_quo_and_one_participant_stays_put() -> None:
    data = _two_issue_data()
    for act in data["actors"]:
        act["issues"]["test_cycle"]["salience"] = 0.0
    sc = _compile(data)
    cap, sal = eum.spec_inputs(sc.spec)
    nobody = eum.forecast_problem(sc.problem, cap, 5, salience=sal)[1]
    assert nobody.participants == ()
    np.testing.assert_array_equal(nobody.median, 0.5)
    np.testing.assert_array_equal(nobody.mean, 0.5)
    np.testing.assert_array_equal(nobody.positions, np.tile(sc.problem.prefs.ideal[:, 1], (6, 1)))
    sal[0, 1] = 0.3  # the Netherlands alone: nobody to bargain with
    alone = eum.forecast_problem(sc.problem, cap, 5, salience=sal)[1]
    assert alone.participants == (0,)
    np.testing.assert_array_equal(alone.median, 0.9)
    np.testing.assert_allclose(alone.mean, 0.9, rtol=1e-15)


def test_bad_inputs_are_refused(example: scenario.Scenario) -> None:
    cap, sal = eum.spec_inputs(example.spec)
    with pytest.raises(ValueError, match="capability"):
        eum.forecast_problem(example.problem, cap[:-1], 10, salience=sal)
    with pytest.raises(ValueError, match="salience"):
        eum.forecast_problem(example.problem, cap, 10, salience=sal[:, :0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        eum.forecast_problem(example.problem, cap, 10, salience=sal * 80)  # saliences on 0-100


# ---------------------------------------------------------------------------- no utopia point where none is read


def _eum_baseline() -> scenario.Scenario:
    data = scenario.load_data(Path(__file__).resolve().parents[1] / "scenarios" / "belarus_us_2025.yaml")[0]
    data["protocol"]["kind"] = "eum"
    return scenario.parse(data)


def test_a_sweep_run_of_the_eum_computes_no_utopia_and_answers_as_a_recorded_run() -> None:
    """The EUM reads no aspiration, so a run that records nothing (a sweep's) leaves them NaN
    and never computes the utopia point (one program per actor: half a new 100 x 50 point's
    time); a run that records them (``bargain run``) has them as before; both end alike, with
    the same row (zone of agreement included, asked of a program with unit spans)."""
    from model.negotiation import Negotiation
    from model.sweep import run_one

    quiet = _eum_baseline()
    m = Negotiation(quiet, rng=3, collect=False)
    assert not m.aspirations_kept
    o = m.run()
    assert "utopia" not in quiet.problem.__dict__
    assert all(np.isnan(a.best) and np.isnan(a.aspiration) for a in m.actors)
    m.actors[0].refresh()  # (after a shock: still no utopia point)
    assert np.isnan(m.actors[0].best) and "utopia" not in quiet.problem.__dict__
    row = run_one(quiet, 3)
    assert "utopia" not in quiet.problem.__dict__

    recorded = _eum_baseline()
    r = Negotiation(recorded, rng=3)
    assert r.aspirations_kept
    ro = r.run()
    assert "utopia" in recorded.problem.__dict__
    asp = r.datacollector.get_agent_vars_dataframe()["aspiration"]
    assert asp.notna().all()
    assert (ro.agreed, ro.reason, ro.rounds) == (o.agreed, o.reason, o.rounds)
    np.testing.assert_array_equal(ro.package, o.package)
    assert r.information_summary() == m.information_summary()
    again = run_one(recorded, 3)
    assert row.keys() == again.keys()
    assert all(row[k] == again[k] or (row[k] != row[k] and again[k] != again[k]) for k in row)  # (NaN: no value)


@pytest.mark.parametrize("seed", range(6))
def test_the_zone_of_agreement_is_asked_of_the_true_reservations(seed: int) -> None:
    """A zone exists where some package gives every party its reservation: with reservations at
    the status quo it always does (the status quo itself, even where nobody can gain: all
    parties on one issue, two camps at its ends); with reservations above what the others allow
    together it does not."""
    from model.core.beliefs import zone_of_agreement
    from tests.test_offers_columns import synthetic

    data = synthetic(5, 6, n_lines=seed % 3, seed=seed)
    if seed % 2:
        for act in data["actors"]:
            act["reservation"] = 0.9
    assert zone_of_agreement(scenario.parse(data).problem) is (seed % 2 == 0)
    camps = synthetic(6, 1, seed=seed)
    for k, act in enumerate(camps["actors"]):
        act["reservation"] = "status_quo"
        act["issues"]["i0"] = {"position": float(k % 2), "salience": 1.0}
    p = scenario.parse(camps).problem
    assert np.allclose(p.utopia[list(p.parties)], p.reservation[list(p.parties)], atol=1e-6)  # nobody gains
    assert zone_of_agreement(p)
