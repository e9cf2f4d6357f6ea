"""The utopia point is computed once per content in a process (``model.core.offers._UTOPIAS``):
a sweep's points that leave the problem alone (a strategy's, the protocol's settings) reuse it,
a change to anything its programs read computes it afresh, and a run at a point that reused it
is the run a fresh computation gives, bit for bit."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import model.core.offers as offers
from model import scenario
from model.sweep import run_one
from tests.test_offers_columns import synthetic


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """An empty cache, column generation on every program (so that the chain also prices the
    weights later searches start from), and a count of the utopias actually solved."""
    offers._UTOPIAS.clear()
    monkeypatch.setattr(offers, "COLUMNS_MIN_COEFFS", 0)
    solved: list[int] = []
    programs = offers._utopia_programs

    def counted(problem: Any, best: Any) -> Any:
        solved.append(problem.n_actors)
        return programs(problem, best)

    monkeypatch.setattr(offers, "_utopia_programs", counted)
    return solved


def _point(data: dict[str, Any], **protocol: Any) -> scenario.Scenario:
    d = copy.deepcopy(data)
    d["protocol"].update(protocol)
    return scenario.parse(d)


def test_a_point_that_leaves_the_problem_alone_reuses_the_utopia(_fresh: list[int]) -> None:
    data = synthetic(8, 6, seed=3)
    a = _point(data, max_rounds=30)
    b = _point(data, max_rounds=12, kind="incremental")
    assert a.problem is not b.problem
    ua = a.problem.utopia
    assert _fresh == [8]
    ub = b.problem.utopia
    assert _fresh == [8]  # answered from the first point's
    np.testing.assert_array_equal(ua, ub)
    np.testing.assert_array_equal(a.problem.__dict__["_priced_cells"], b.problem.__dict__["_priced_cells"])


@pytest.mark.parametrize("change", ["salience", "position", "reservation", "red_line", "party"])
def test_a_change_the_programs_read_computes_it_again(_fresh: list[int], change: str) -> None:
    data = synthetic(8, 6, seed=3)
    base = _point(data).problem.utopia
    d = copy.deepcopy(data)
    act = d["actors"][2]
    if change == "salience":
        act["issues"]["i1"]["salience"] = round(act["issues"]["i1"]["salience"] * 0.5, 3)
    elif change == "position":
        act["issues"]["i1"]["position"] = round(1.0 - act["issues"]["i1"]["position"], 3)
    elif change == "reservation":
        act["reservation"] = 0.2
    elif change == "red_line":
        act["red_lines"] = [{"issue": "i3", "max": 0.6}]
    else:  # an actor that no longer has to consent: it stops constraining the others' best
        act["consent"] = False
    other = scenario.parse(d).problem.utopia
    assert _fresh == [8, 8]
    assert not np.array_equal(base, other)


def test_runs_after_a_reused_utopia_are_the_runs_of_a_fresh_one(_fresh: list[int]) -> None:
    data = synthetic(8, 6, seed=5)
    first = run_one(_point(data), 0)
    reused = run_one(_point(data), 0)
    assert _fresh == [8]
    offers._UTOPIAS.clear()
    fresh = run_one(_point(data), 0)
    assert _fresh == [8, 8]
    assert reused == fresh == first


def test_the_cache_keeps_at_most_its_bound(_fresh: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offers, "UTOPIAS_KEPT", 2)
    for seed in range(4):
        assert scenario.parse(synthetic(5, 4, seed=seed)).problem.utopia is not None
    assert len(offers._UTOPIAS) == 2
    scenario.parse(synthetic(5, 4, seed=0)).problem.utopia  # noqa: B018 - fell out: solved again
    assert _fresh == [5] * 5
