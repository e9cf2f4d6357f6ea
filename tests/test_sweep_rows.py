"""``model.sweep.rows.run_traced`` on the arrays (package protocol, time-only strategies): its
row is the outcome of ``run_package_vectorised`` under the seed's own generator, and it says
whether the run drew a random number, whatever generator the run was first given."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from model import scenario
from model.core import protocol
from model.sweep import rows
from tests.factories import peer_case


def _peer(risk: float, k: int = 0, n_parties: int = 2) -> scenario.Scenario:
    return peer_case(n_parties, k, {"max_rounds": 40 * n_parties, "breakdown_risk": risk})


def _direct(sc: scenario.Scenario, seed: int) -> protocol.CoreOutcome:
    strategies = rows._vectorised_strategies(sc)
    assert strategies is not None  # the arrays apply
    return protocol.run_package_vectorised(sc.problem, strategies, sc.proposer_order(), sc.params.max_rounds,
                                           sc.params.breakdown_risk, np.random.default_rng(seed))


def _same(row: dict[str, Any], o: protocol.CoreOutcome) -> bool:
    deal = [row[f"value.i{j}"] for j in range(3)]
    return (row["agreed"] == o.agreed and row["reason"] == o.reason and row["rounds"] == o.rounds
            and (not o.agreed or deal == np.asarray(o.package).tolist()))


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_run_with_breakdown_risk_draws_and_follows_its_seed(seed: int) -> None:
    sc = _peer(0.05, k=seed)
    row, drew = rows.run_traced(sc, seed)
    assert drew
    assert _same(row, _direct(sc, seed))


def test_a_run_without_risk_draws_nothing_and_every_seed_gives_its_row() -> None:
    sc = _peer(0.0, k=3)
    got = [rows.run_traced(sc, seed) for seed in (0, 5, 11)]
    assert [d for _, d in got] == [False] * 3
    assert got[0][0] == got[1][0] == got[2][0]
    assert _same(got[0][0], _direct(sc, 0))


def test_a_run_that_draws_where_none_was_expected_is_run_again_on_its_seeds_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection: an engine that draws once even without risk (and lets the draw pick
    the deadline). The row must be the seed's outcome, and the run counted as drawing."""
    real = protocol.run_package_vectorised

    def drawing(problem, strategies, order, max_rounds, risk, rng):  # type: ignore[no-untyped-def]
        cut = 2 + int(rng.integers(0, max_rounds - 2))
        return real(problem, strategies, order, cut, risk, rng)

    monkeypatch.setattr(protocol, "run_package_vectorised", drawing)
    sc = _peer(0.0, k=4)
    for seed in (0, 1, 2, 3):
        row, drew = rows.run_traced(sc, seed)
        assert drew
        assert _same(row, drawing(sc.problem, rows._vectorised_strategies(sc), sc.proposer_order(),
                                  sc.params.max_rounds, 0.0, np.random.default_rng(seed)))
