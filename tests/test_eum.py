"""Bueno de Mesquita's expected-utility model reproduces the published replication.

The reference numbers come from the public replication of Scholz, Calbert & Smith (2011)
(jmckib/bdm-scholz-expected-utility-model, run as dmasad/bdm-scholz-expected-utility-model,
file ``Example.log``: ``python bdm_scholz_model.py ExampleActors.csv 10``); its author reports that
it reproduces the paper's 10 rounds. The paper's own round-by-round values were not available
as numbers (see ``docs/validity.md``). The start values (median 7, mean 7.38996) are stated in
``/work/shared/validation/README.md``.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.core import eum
from tests.factories import SCHOLZ_TABLE1_CSV

#: Mean position at the start and after rounds 1..10 (replication log, printed to 16 digits).
REPLICATED_MEANS = [
    7.389955686853767,
    7.461314378277189,
    7.552500865855845,
    7.590144997451547,
    7.358130531334201,
    7.3491739896752115,
    7.414877545372958,
    7.510457183677219,
    7.5724470975503,
    7.324989065683666,
    7.242130958473938,
]

#: The moves of each round in the log, with the new positions of Belgium, Luxembourg, Ireland.
REPLICATED_ROUNDS = [
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Luxembourg"], [8.415932315426764, 7.0, 4.0]),
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Luxembourg"], [9.610859134120188, 8.415932315426764, 7.0]),
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Luxembourg"], [9.961979590401311, 9.610859134120188, 8.415932315426764]),
    (["Belgium compromises with Netherlands", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Luxembourg"], [4.800881140632622, 9.961979590401311, 9.610859134120188]),
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Luxembourg"], [5.524237694197356, 4.800881140632622, 9.961979590401311]),
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Belgium"], [7.47204636191629, 5.524237694197356, 5.524237694197356]),
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Belgium"], [8.824593855262423, 7.47204636191629, 7.47204636191629]),
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Belgium"], [9.671129769802048, 8.824593855262423, 8.824593855262423]),
    (["Belgium compromises with Netherlands", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Belgium"], [4.144849062500606, 9.671129769802048, 9.671129769802048]),
    (["Belgium compromises with France", "Luxembourg loses confrontation to Belgium",
      "Ireland loses confrontation to Belgium"], [4.291541224979646, 4.144849062500606, 4.144849062500606]),
]

#: Positions are compared to 1e-9 (the log prints 16 significant digits; the two codes sum in
#: different orders, which moves the last digits).
TOL = 1e-9


@pytest.fixture(scope="module")
def run() -> eum.EUMRun:
    return eum.run(rounds=10)


def test_the_shared_csv_is_the_built_in_example() -> None:
    if not SCHOLZ_TABLE1_CSV.exists():
        pytest.skip(f"{SCHOLZ_TABLE1_CSV} is not here")
    from_csv, built_in = eum.load_actors(SCHOLZ_TABLE1_CSV), eum.scholz_example()
    assert from_csv.names == built_in.names
    for field in ("capability", "position", "salience"):
        np.testing.assert_array_equal(getattr(from_csv, field), getattr(built_in, field))
    np.testing.assert_array_equal(eum.run(SCHOLZ_TABLE1_CSV).positions, eum.run().positions)


def test_the_example_starts_at_median_7_and_mean_7_38996(run: eum.EUMRun) -> None:
    assert run.median[0] == 7.0
    assert run.mean[0] == pytest.approx(7.38996, abs=5e-6)
    assert run.mean[0] == pytest.approx(5.003 / 0.677, abs=1e-12)  # sum c s x / sum c s, by hand


def test_ten_rounds_of_mean_positions_match_the_replication(run: eum.EUMRun) -> None:
    np.testing.assert_allclose(run.mean, REPLICATED_MEANS, atol=TOL)


@pytest.mark.parametrize("round_", range(1, 11))
def test_each_round_makes_the_replications_moves(run: eum.EUMRun, round_: int) -> None:
    moves, new_positions = REPLICATED_ROUNDS[round_ - 1]
    assert run.moves(round_) == moves
    movers = [run.names.index(n) for n in ("Belgium", "Luxembourg", "Ireland")]
    np.testing.assert_allclose(run.positions[round_, movers], new_positions, atol=TOL)
    others = [i for i in range(len(run.names)) if i not in movers]
    np.testing.assert_array_equal(run.positions[round_, others], run.positions[0, others])


def test_the_mean_position_oscillates_rather_than_converging(run: eum.EUMRun) -> None:
    # Up in rounds 1-3, down in 4-5, up in 6-8, down in 9-10: four turns, no settling down.
    steps = np.diff(run.mean)
    turns = int(np.sum(np.sign(steps[1:]) != np.sign(steps[:-1])))
    assert turns >= 3
    assert run.mean[-5:].max() - run.mean[-5:].min() > 0.2  # the last five rounds still swing
    assert np.abs(run.positions[-1] - run.positions[-2]).max() > 1.0  # and actors still move far


def test_the_weighted_median_minimises_weighted_distance(run: eum.EUMRun) -> None:
    votes = eum.scholz_example().votes
    for x, m in zip(run.positions, run.median, strict=True):
        cost = np.array([(votes * np.abs(x - c)).sum() for c in x])
        assert m == x[int(np.argmin(cost))]


def test_risk_exponents_span_half_to_two(run: eum.EUMRun) -> None:
    # R_i is rescaled to [-1, 1] across actors, so r_i = (1 - R/3) / (1 + R/3) spans [0.5, 2].
    np.testing.assert_allclose(run.risk.min(axis=1), 0.5)
    np.testing.assert_allclose(run.risk.max(axis=1), 2.0)


def test_two_actor_quantities_by_hand() -> None:
    # Two actors at 0 and 10 (span 10), c = 0.05, risk exponents 1. Voter 0 backs 0 over 10 with
    # 0.05 * (1 - 0) and voter 1 backs 10 with 0.05; summed over both ordered pairs the absolute
    # votes are 0.2, so P = 0.05 / 0.2 = 0.25 each way ("all_pairs"); by the dyad it is 0.5.
    x = np.array([0.0, 10.0])
    votes = np.array([0.05, 0.05])
    ones = np.ones(2)
    p_all = eum.success_probability(x, votes, ones, 10.0, "all_pairs")
    p_dyad = eum.success_probability(x, votes, ones, 10.0, "dyad")
    np.testing.assert_allclose(p_all, [[0.0, 0.25], [0.25, 0.0]])
    np.testing.assert_allclose(p_dyad, [[0.0, 0.5], [0.5, 0.0]])
    # At full distance with r = 1: U_s = 2, U_f = -2, U_sq = 0. With the target's salience s:
    # EU = s (0.25 * 2 - 0.75 * 2) + (1 - s) * 2 = 2 - 3 s.
    for s in (1.0, 0.5):
        eu_ij, eu_ji = eum.challenge_utilities(x, np.array([s, s]), p_all, ones, 10.0, q=1.0)
        assert eu_ij[0, 1] == pytest.approx(2 - 3 * s)
        assert eu_ji[0, 1] == pytest.approx(2 - 3 * s)
    u_s, u_f, u_sq = eum.basic_utilities(np.array([[5.0]]), np.array([2.0]), 10.0)
    # r = 2 at half distance: U_s = 2 - 4 * 0.25^2 = 1.75, U_f = 2 - 4 * 0.75^2 = -0.25, U_sq = 1
    assert (u_s[0, 0], u_f[0, 0], u_sq[0]) == pytest.approx((1.75, -0.25, 1.0))


def test_the_reconstruction_choices_matter() -> None:
    # The replication's choices (see docs/validity.md) are needed to reproduce its numbers: with
    # the text's nearest compromise the paths part in round 4 (Belgium then compromises with
    # France, not the Netherlands), and with dyadic probabilities everyone soon piles up at 7.
    nearest = eum.run(options=eum.EUMOptions(compromise_choice="nearest"))
    np.testing.assert_allclose(nearest.mean[:4], REPLICATED_MEANS[:4], atol=TOL)
    assert abs(nearest.mean[4] - REPLICATED_MEANS[4]) > 0.2
    dyad = eum.run(options=eum.EUMOptions(probability_norm="dyad"))
    assert np.all(dyad.positions[-1] == 7.0)
    # The text's capitulation never applies in this example, so the replication's missing
    # capitulation does not change its numbers.
    with_capitulation = eum.run(options=eum.EUMOptions(capitulation=True))
    np.testing.assert_allclose(with_capitulation.mean, REPLICATED_MEANS, atol=TOL)
