"""The Mesa model on value-table domains (the peer case shared with NegMAS): a proposer whose
aspiration depends on time only offers, round by round, what the grid search chooses at that
round's aspiration (``model.core.search.choose_offer_index``), and the runs end as the core
loop's (``model.core.protocol.run_package_protocol``)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model import scenario
from model.agents import STEPS_LISTED, _schedule_of, best_hoped, posture_floor
from model.core.protocol import run_package_protocol
from model.core.search import choose_offer_index
from model.negotiation import Negotiation, _shared
from tests.factories import peer_case


def _peer(n_parties: int, k: int, rounds: int = 100, other: str | None = None) -> scenario.Scenario:
    """Negotiation ``k`` of the peer case, Boulware and Conceder in turn (``other``: the last
    party's strategy instead)."""
    strategies: list[dict[str, Any]] = [
        {"name": "boulware" if p % 2 == 0 else "conceder", "params": {"exponent": 4.0 if p % 2 == 0 else 0.25}}
        for p in range(n_parties)]
    if other is not None:
        strategies[-1] = {"name": other}
    return peer_case(n_parties, k, {"max_rounds": rounds * n_parties, "order": [f"p{p}" for p in range(n_parties)]},
                     strategies)


@pytest.mark.parametrize("n_parties", [2, 3, 4])
def test_each_rounds_offer_is_the_grid_searchs_choice_at_that_rounds_aspiration(n_parties: int) -> None:
    for k in range(4):
        sc = _peer(n_parties, k)
        m = Negotiation(sc, rng=k, collect=True)
        out = m.run()
        p = sc.problem
        rows = m.datacollector.get_model_vars_dataframe()
        agents = m.datacollector.get_agent_vars_dataframe()
        assert len(rows) == out.rounds
        for t in range(1, out.rounds + 1):
            proposer = sc.order[(t - 1) % len(sc.order)]
            aspiration = float(agents.loc[(t, proposer + 1), "aspiration"])  # (Mesa's agent ids start at 1)
            hit = choose_offer_index(p, proposer, aspiration, sc.mech)
            tabled = [rows.loc[t - 1, f"offer.i{j}"] for j in range(3)]
            if hit is None:
                assert all(math.isnan(v) for v in tabled)
            else:
                assert tabled == hit[0].packages[hit[1]].tolist()


@pytest.mark.parametrize("n_parties", [2, 4])
def test_the_mesa_model_ends_as_the_core_loop_on_the_peer_case(n_parties: int) -> None:
    for k in range(8):
        sc = _peer(n_parties, k)
        o = Negotiation(sc, rng=k, collect=False).run()
        core = run_package_protocol(sc.problem, list(sc.strategies), sc.proposer_order(), sc.params.max_rounds,
                                    0.0, np.random.default_rng(k))
        assert (o.agreed, o.rounds) == (core.agreed, core.rounds)
        if o.agreed:
            assert np.asarray(o.package).tobytes() == np.asarray(core.package).tobytes()


def test_a_proposer_with_nothing_above_its_reservation_passes_round_after_round() -> None:
    sc = _peer(2, 5, rounds=6)
    reservation = sc.problem.reservation.copy()
    reservation[0] = 1.5  # no package gives p0 that much: it offers nothing, and accepts nothing
    sc = dataclasses.replace(sc, problem=sc.problem.with_preferences(sc.problem.prefs, reservation))
    m = Negotiation(sc, rng=0, collect=True)
    out = m.run()
    assert not out.agreed and out.rounds == 12
    rows = m.datacollector.get_model_vars_dataframe()
    for t in range(0, out.rounds, 2):  # p0's rounds: nothing on the table
        assert all(math.isnan(rows.loc[t, f"offer.i{j}"]) for j in range(3))
    for t in range(1, out.rounds, 2):  # p1's: an offer every time
        assert not any(math.isnan(rows.loc[t, f"offer.i{j}"]) for j in range(3))


@pytest.mark.parametrize(
    "name", ["belarus_us_2025.yaml", "belarus_stepwise.yaml", "peer", "tit_for_tat", "rubinstein", "hardliner"])
def test_the_schedules_made_side_by_side_are_each_strategys_own(name: str) -> None:
    if name.endswith(".yaml"):
        sc = scenario.load(Path(__file__).resolve().parents[1] / "scenarios" / name)
    else:  # the last party's strategy depends on more than time (no schedule), or has its own schedule
        sc = _peer(3, 2, other=None if name == "peer" else name)
    shared = _shared(sc)
    p = sc.problem
    for i, s in enumerate(sc.strategies):
        own = _schedule_of(s, best_hoped(sc, p, i), posture_floor(sc, i, float(p.reservation[i])),
                           sc.params.max_rounds, float(shared.kappa[i]))
        got = shared.schedules[i]
        if own is None:
            assert got is None and shared.steps[i] is None
            continue
        assert got is not None and got.tobytes() == own.tobytes() and not got.flags.writeable
        listed = shared.steps[i]  # its first steps (the actors list more as their runs reach them)
        assert listed is not None and len(listed) >= min(len(own), STEPS_LISTED)
        assert listed == own.tolist()[: len(listed)]


@pytest.mark.parametrize("rounds", [1, 5, STEPS_LISTED - 1, STEPS_LISTED, STEPS_LISTED + 1, 3 * STEPS_LISTED + 7])
def test_an_actors_aspiration_is_its_schedules_step_past_the_listed_steps_and_the_deadline(rounds: int) -> None:
    # two runs of one scenario share the listed steps: each round one of them lists them
    # further while the other is behind; past the deadline (as after an extension) the last step
    sc = _peer(2, 3, rounds=rounds)
    runs = [Negotiation(sc, rng=0, collect=False) for _ in range(2)]
    want = [_schedule_of(s, best_hoped(sc, sc.problem, i), posture_floor(sc, i, float(sc.problem.reservation[i])),
                         sc.params.max_rounds, float(runs[0].actors[i].kappa)).tolist()
            for i, s in enumerate(sc.strategies)]
    for t in range(2 * rounds + 2 * STEPS_LISTED + 3):
        for m in runs if t % 3 else runs[::-1]:
            for i, a in enumerate(m.actors):
                a.update_aspiration(t)
                at = min(t, len(want[i]) - 1)
                assert (a.aspiration, a._at) == (want[i][at], at)


def test_the_model_steps_every_actor_along_its_schedule_round_by_round() -> None:
    # a run that goes to its deadline, far past the steps listed at first: p0 wants more than
    # any package gives it, so nothing is ever agreed
    rounds = 2 * STEPS_LISTED + 5
    sc = _peer(2, 5, rounds=rounds)
    reservation = sc.problem.reservation.copy()
    reservation[0] = 1.5
    sc = dataclasses.replace(sc, problem=sc.problem.with_preferences(sc.problem.prefs, reservation))
    m = Negotiation(sc, rng=0, collect=True)
    assert m._all_timed
    out = m.run()
    assert not out.agreed and out.rounds == 2 * rounds
    got = m.datacollector.get_agent_vars_dataframe()["aspiration"]
    for i, a in enumerate(m.actors):
        assert a._schedule is not None
        want = a._schedule.tolist()
        assert [got.loc[(t, i + 1)] for t in range(1, out.rounds + 1)] == want[: out.rounds]


def test_the_actors_are_the_mesa_models_agents_in_the_problems_order() -> None:
    for sc in (_peer(4, 1), scenario.load(Path(__file__).resolve().parents[1] / "scenarios" / "belarus_us_2025.yaml")):
        m = Negotiation(sc, rng=0, collect=False)
        assert [a.index for a in m.actors] == list(range(sc.problem.n_actors))
        assert m.actors == sorted(m.agents, key=lambda a: a.index) and len(m.agents) == len(m.actors)
        assert all(a.model is m for a in m.actors)


def test_scenarios_that_differ_in_preferences_alone_share_their_structure_and_it_is_a_fresh_ones() -> None:
    from model import negotiation as neg

    a, b = _peer(3, 0), _peer(3, 1)
    b = dataclasses.replace(b, mechanics=a.mechanics, params=a.params, strategies=a.strategies, order=a.order,
                            problem=dataclasses.replace(b.problem, consent=a.problem.consent,
                                                        discount=a.problem.discount))
    assert neg._structure(a, a.problem, a.mech) is neg._structure(b, b.problem, b.mech)
    # a scenario of its own (new parameters, equal in value) gets a structure of its own, with the same numbers
    c = dataclasses.replace(b, params=b.params.model_copy())
    own, shared = neg._structure(c, c.problem, c.mech), neg._structure(b, b.problem, b.mech)
    assert own is not shared
    for f in dataclasses.fields(own):
        x, y = getattr(own, f.name), getattr(shared, f.name)
        assert x.tobytes() == y.tobytes() if isinstance(x, np.ndarray) else x == y
    sb, sc_ = _shared(b), _shared(c)
    assert (sb.walkers, sb.responders, sb.counterparts, sb.issue_ids) == (sc_.walkers, sc_.responders,
                                                                          sc_.counterparts, sc_.issue_ids)
    for _ in range(neg._STRUCTURES_KEPT + 5):  # the structures kept stay bounded
        d = dataclasses.replace(b, params=b.params.model_copy())
        neg._structure(d, d.problem, d.mech)
    assert len(neg._STRUCTURES) <= neg._STRUCTURES_KEPT
