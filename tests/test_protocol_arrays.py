"""The arrays the vectorised package engine reads, against their one-actor definitions: every
actor's continuation factor (``kappas``), every round's aspiration (``strategies.schedules``),
and each offer table's choice past its last threshold (``OfferTable.choice``). Bit for bit:
the engine's outcome must not depend on how they are computed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model.core.domains import peer_case_draws, table_problem
from model.core.protocol import kappas
from model.core.search import choose_offer_index, offer_table
from model.core.strategies import (
    Boulware,
    Conceder,
    Hardliner,
    Linear,
    Situation,
    TimeDependent,
    continuation,
    schedules,
    schedules_by_actor,
)


@pytest.mark.parametrize("risk", [0.0, 0.013, 0.5])
def test_kappas_are_each_actors_continuation_factor(risk: float) -> None:
    discount = np.array([1.0, 0.97, 0.9, 0.5])
    got = kappas(dataclasses.replace(table_problem(peer_case_draws(3, 0, 4)), discount=discount), risk)
    assert got.tolist() == [continuation(d, risk) for d in discount]


@pytest.mark.parametrize("strategies", [
    [Boulware(4.0), Conceder(0.25)],
    [Boulware(4.0), Conceder(0.25), Linear(), TimeDependent(1.7)],
    [Boulware(4.0), Hardliner(0.6), Conceder(0.25)],  # not all time-dependent: column by column
])
@pytest.mark.parametrize("max_rounds", [1, 2, 37, 400])
def test_schedules_are_every_strategys_own_schedule(strategies: list, max_rounds: int) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(max_rounds)
    n = len(strategies)
    best, floor = 0.5 + 0.5 * rng.random(n), 0.6 * rng.random(n)
    floor[0] = best[0] + 0.1  # a floor above the best: the schedule starts and stays at the best
    kappa = np.array([1.0, 0.95, 0.8, 0.999][:n])
    got = schedules(strategies, best, floor, max_rounds, kappa)
    want = np.stack([s.schedule(float(best[a]), float(floor[a]), max_rounds, float(kappa[a]))
                     for a, s in enumerate(strategies)], 1)
    assert got.shape == (max_rounds, n) and np.array_equal(got, want)
    for a, s in enumerate(strategies):  # and the one-round rule the Mesa model asks, round by round
        if isinstance(s, TimeDependent) and max_rounds > 1:
            for t in (0, max_rounds // 2, max_rounds - 1):
                sit = Situation(t, max_rounds, float(best[a]), float(floor[a]), continuation=float(kappa[a]))
                assert got[t, a] == pytest.approx(s.aspiration(sit), abs=1e-12)


@pytest.mark.parametrize("strategies", [
    [Boulware(4.0), Conceder(0.25)],
    [Boulware(4.0), Conceder(0.25), Linear(), TimeDependent(1.7)],
    [Boulware(4.0), Hardliner(0.6), Conceder(0.25)],  # not all time-dependent: column by column
])
@pytest.mark.parametrize("max_rounds", [1, 2, 37, 400, 1 + 2**16 // 3])  # (the last past what is kept)
def test_schedules_by_actor_are_the_schedules_transposed_bit_for_bit(strategies: list, max_rounds: int) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(max_rounds + 1)
    n = len(strategies)
    best, floor = 0.5 + 0.5 * rng.random(n), 0.6 * rng.random(n)
    floor[-1] = best[-1] + 0.1  # a floor above the best
    kappa = np.array([1.0, 0.95, 0.8, 0.999][:n])
    got = schedules_by_actor(strategies, best.tolist(), floor.tolist(), max_rounds, kappa)
    assert got.shape == (n, max_rounds) and got.flags.c_contiguous
    assert got.tobytes() == np.ascontiguousarray(schedules(strategies, best, floor, max_rounds, kappa).T).tobytes()


def test_the_choice_past_every_threshold_is_the_proposers_own_best_offer() -> None:
    p = table_problem(peer_case_draws(8, 2, 3))
    for a in range(3):
        t = offer_table(p, a)
        assert len(t.choice) == len(t.own) + 1
        assert np.array_equal(t.choice[:-1], t.best_from)
        hit = choose_offer_index(p, a, 10.0)  # an aspiration above anything feasible
        assert hit is not None and t.choice[-1] == hit[1]


def test_long_schedules_and_turn_tables_are_the_same_and_not_kept() -> None:
    from model.core import protocol, strategies

    st = [Boulware(4.0), Conceder(0.25), Linear()]
    best, floor, kappa = np.array([0.9, 0.8, 0.7]), np.array([0.2, 0.1, 0.3]), np.ones(3)
    long = 1 + strategies._STACK_KEPT // 3  # past what is kept
    before = strategies._still_asked_by.cache_info().currsize
    got = schedules(st, best, floor, long, kappa)
    assert strategies._still_asked_by.cache_info().currsize == before
    want = np.stack([s.schedule(float(best[a]), float(floor[a]), long, 1.0) for a, s in enumerate(st)], 1)
    assert np.array_equal(got, want)
    rounds = 1 + protocol.KEPT_CELLS // 3
    before = protocol._turns_kept.cache_info().currsize
    proposer_of, excused = protocol._turns((2, 0), rounds, 3, (0, 2))
    assert protocol._turns_kept.cache_info().currsize == before
    assert proposer_of[:4].tolist() == [2, 0, 2, 0]
    assert excused[0].tolist() == [False, True, True] and excused[1].tolist() == [True, True, False]
