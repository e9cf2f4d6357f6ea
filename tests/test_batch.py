"""The batch engine (``model.core.batch``) against the engines that run one negotiation at a time.

The batch engine negotiates many same-shaped table domains at once. It must give, domain by
domain, exactly the outcome of ``run_package_vectorised`` and of the round-by-round loop
``run_package_protocol`` on ``table_problem`` of that domain: same verdict, same reason, same
round, same package.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.core.batch import REASONS, run_table_batch
from model.core.domains import TableDomain, TableDomains, peer_case_batch, peer_case_draws, table_problem
from model.core.protocol import CoreOutcome, run_package_protocol, run_package_vectorised
from model.core.strategies import TimeDependent

PEER_EXPONENTS = [4.0, 0.25, 4.0, 0.25]


def _one_at_a_time(domains: TableDomains, ks: range, exponents: list[float], order: list[int], max_rounds: int,
                   risk: float, engine: str) -> list[CoreOutcome]:
    run = run_package_vectorised if engine == "vectorised" else run_package_protocol
    out = []
    for j, k in enumerate(ks):
        d = TableDomain(domains.weights[j], domains.tables[j], domains.reservation[j])
        out.append(run(table_problem(d), [TimeDependent(e) for e in exponents], order, max_rounds, risk,
                       np.random.default_rng(k)))
    return out


def _assert_same(domains: TableDomains, ks: range, exponents: list[float], order: list[int], max_rounds: int,
                 risk: float = 0.0, engines: tuple[str, ...] = ("vectorised",)) -> None:
    b = run_table_batch(domains, exponents, order, max_rounds, risk, [np.random.default_rng(k) for k in ks])
    n_i, n_v = domains.tables.shape[2:]
    levels = np.linspace(0.0, 1.0, n_v)
    for engine in engines:
        for j, o in enumerate(_one_at_a_time(domains, ks, exponents, order, max_rounds, risk, engine)):
            where = f"{engine}, domain {ks[j]}"
            assert bool(b.agreed[j]) == o.agreed, where
            assert REASONS[b.reason[j]] == o.reason, where
            assert int(b.rounds[j]) == o.rounds, where
            if o.package is None:
                assert np.all(b.package[j] == -1), where
            else:
                np.testing.assert_array_equal(levels[b.package[j]], o.package, err_msg=where)


def test_peer_case_batch_draws_what_peer_case_draws_draws() -> None:
    """One generator per domain, ``default_rng(seed + k)``, the arithmetic done for all at once."""
    for n_parties, n_issues, n_values in ((2, 3, 10), (4, 3, 10), (3, 5, 4)):
        ks = range(5, 60)
        b = peer_case_batch(2024, ks, n_parties, n_issues, n_values)
        s = TableDomains.stack([peer_case_draws(2024, k, n_parties, n_issues, n_values) for k in ks])
        for name in ("weights", "tables", "reservation"):
            np.testing.assert_array_equal(getattr(b, name), getattr(s, name))
        assert len(b) == len(ks)


@pytest.mark.slow
@pytest.mark.parametrize(("n_parties", "count"), [(2, 120), (4, 40)])
def test_batch_reproduces_the_peer_case_outcome_by_outcome(n_parties: int, count: int) -> None:
    """PEER_CASE.md's set-up: Boulware and Conceder in turn, 100 rounds of every party's turn."""
    ks = range(count)
    _assert_same(peer_case_batch(2024, ks, n_parties), ks, PEER_EXPONENTS[:n_parties], list(range(n_parties)),
                 100 * n_parties, engines=("vectorised", "loop"))


def test_batch_peer_case_agrees_as_negmas_reports() -> None:
    """PEER_CASE.md gives NegMAS's figures: 2 parties all agree after 24 rounds on average, 4
    parties all agree after 74. The same strategies on the same domains come close (our rounds:
    every party's turn counts as one round, as NegMAS counts)."""
    for n_parties, count, negmas_rounds in ((2, 500, 24.0), (4, 200, 74.0)):
        b = run_table_batch(peer_case_batch(2024, range(count), n_parties), PEER_EXPONENTS[:n_parties],
                            list(range(n_parties)), 100 * n_parties)
        assert b.agreed.all()
        rounds = -(-b.rounds // n_parties)
        assert abs(rounds.mean() - negmas_rounds) / negmas_rounds < 0.1, rounds.mean()


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    n_parties=st.integers(2, 5),
    n_issues=st.integers(1, 4),
    n_values=st.integers(2, 7),
    exponents=st.lists(st.sampled_from([0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0]), min_size=5, max_size=5),
    order_seed=st.integers(0, 10_000),
    max_rounds=st.integers(1, 60),
    risk=st.sampled_from([0.0, 0.0, 0.03, 0.2]),
    seed=st.integers(0, 10_000),
)
def test_batch_equals_one_negotiation_at_a_time(n_parties: int, n_issues: int, n_values: int, exponents: list[float],
                                                order_seed: int, max_rounds: int, risk: float, seed: int) -> None:
    """Any shape, exponents, proposing order (parties may repeat or never propose), deadline and
    breakdown risk: the batch gives each domain's outcome exactly."""
    rng = np.random.default_rng(order_seed)
    order = [int(q) for q in rng.integers(0, n_parties, size=int(rng.integers(1, 2 * n_parties + 1)))]
    ks = range(seed, seed + 12)
    _assert_same(peer_case_batch(0, ks, n_parties, n_issues, n_values), ks, exponents[:n_parties], order,
                 max_rounds, risk, engines=("vectorised", "loop"))


def test_batch_rejects_what_it_cannot_run() -> None:
    d2 = peer_case_batch(1, range(3), 2)
    with pytest.raises(ValueError, match="one shape"):
        TableDomains.stack([peer_case_draws(1, 0, 2), peer_case_draws(1, 0, 3)])
    with pytest.raises(ValueError, match="one exponent above 0 per party"):
        run_table_batch(d2, [4.0], [0, 1], 10)
    with pytest.raises(ValueError, match="one exponent above 0 per party"):
        run_table_batch(d2, [4.0, 0.0], [0, 1], 10)
    with pytest.raises(ValueError, match="proposing order"):
        run_table_batch(d2, [4.0, 0.25], [0, 2], 10)
    with pytest.raises(ValueError, match="max_rounds"):
        run_table_batch(d2, [4.0, 0.25], [0, 1], 0)
    with pytest.raises(ValueError, match="random generator per domain"):
        run_table_batch(d2, [4.0, 0.25], [0, 1], 10, breakdown_risk=0.1)
    with pytest.raises(ValueError, match="at least 2 parties"):
        run_table_batch(peer_case_batch(1, range(3), 1), [4.0], [0], 10)
