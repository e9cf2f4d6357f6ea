"""The Mesa shell's fast paths against the plain forms they stand for: the rounds played without
Mesa's event list (the clock, the step count and the step schedule left as Mesa's step leaves
them; an event scheduled on the model still fires), packages judged once per problem, trust
updated in Python floats, pauses on precomputed pairs, deliveries on Python floats, partial moves
kept per outcome space, and the EUM's forecasts shared by the runs of a scenario. Each compares
with the array form bit for bit (``tobytes``) on the shipped scenarios, under every protocol.
The package protocol's plain rounds (and every actor's aspiration stepped along its schedule by
the model) are compared with the general round, record by record.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model import scenario
from model.core.eum import forecast_problem
from model.core.mechanics import Trust
from model.core.space import EPS
from model.core.tranche import _partial_values, partial_values
from model.negotiation import Negotiation

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
BASELINE = SCENARIOS / "belarus_us_2025.yaml"
KINDS = ("package", "incremental", "framework", "mediated", "eum")


def baseline(kind: str, **protocol: Any) -> scenario.Scenario:
    data, _ = scenario.load_data(BASELINE)
    d = copy.deepcopy(data)
    d["protocol"]["kind"] = kind
    d["protocol"].update(protocol)
    return scenario.parse(d)


def stepped(sc: scenario.Scenario, seed: int) -> Negotiation:
    """A run stepped through Mesa's own ``step`` (its event list, round by round)."""
    m = Negotiation(sc, rng=seed, collect=False)
    while m.running:
        m.step()
    return m


def same_outcome(a: Negotiation, b: Negotiation) -> None:
    oa, ob = a.outcome, b.outcome
    assert oa is not None and ob is not None
    assert (oa.agreed, oa.reason, oa.rounds, oa.explanation, oa.blocked_by) == (
        ob.agreed, ob.reason, ob.rounds, ob.explanation, ob.blocked_by)
    assert [e.pair() for e in oa.events] == [e.pair() for e in ob.events]
    assert oa.metrics == ob.metrics
    assert np.asarray(oa.state).tobytes() == np.asarray(ob.state).tobytes()
    assert (oa.package is None) == (ob.package is None)
    if oa.package is not None:
        assert np.asarray(oa.package).tobytes() == np.asarray(ob.package).tobytes()


@pytest.mark.parametrize("kind", KINDS)
def test_run_leaves_the_mesa_clock_as_mesas_step_does(kind: str) -> None:
    sc = baseline(kind)
    for seed in range(3):
        fast = Negotiation(sc, rng=seed, collect=False)
        fast.run()
        slow = stepped(sc, seed)
        same_outcome(fast, slow)
        assert fast.time == slow.time == float(fast.round)
        assert fast.steps == slow.steps == fast.round
        # the next step is scheduled one unit on, as Mesa's step leaves it
        assert fast._default_schedule.next_scheduled_time == slow._default_schedule.next_scheduled_time
        fast.step()  # and Mesa's step carries on from there
        assert (fast.time, fast.steps) == (slow.time + 1, slow.steps + 1)


def test_an_event_scheduled_on_the_model_still_fires_at_its_time() -> None:
    """One scheduled before the run (then every round goes through Mesa's step), and one
    scheduled from within a round (the rest of the run goes through Mesa's step)."""
    sc = baseline("incremental", breakdown_risk=0.0)
    for before in (True, False):
        m = Negotiation(sc, rng=1, collect=False)
        seen: list[tuple[float, int]] = []

        def note(m: Negotiation = m, seen: list[tuple[float, int]] = seen) -> None:
            seen.append((m.time, m.round))

        if before:
            m.schedule_event(note, at=3)
        else:
            play = m._play_round

            def play_and_schedule(m: Negotiation = m, play: Any = play) -> None:
                play()
                if m.round == 2:
                    m.schedule_event(note, at=5)

            m._play_round = play_and_schedule  # type: ignore[method-assign]
        m.run()
        assert m.outcome is not None and m.outcome.rounds > 5
        # Mesa runs the step of that time first (its priority is higher), then the event
        assert seen == ([(3.0, 3)] if before else [(5.0, 5)])
        same_outcome(m, stepped(sc, 1))
        assert m.steps == m.round and m.time == float(m.round)


@pytest.mark.parametrize("kind", KINDS)
def test_a_tabled_package_is_judged_as_the_arrays_judge_it(kind: str) -> None:
    sc = baseline(kind)
    m = Negotiation(sc, rng=0, collect=False)
    p = m.problem
    rng = np.random.default_rng(5)
    rows = np.arange(p.space.n_issues)
    for _ in range(20):
        x = p.space.grid[rows, rng.integers(0, p.space.grid_mask.sum(axis=1))]
        m.table(x)
        u = p.utility(x)
        ok = p.redlines.satisfied(x)[0]
        assert m.offer_utilities.tobytes() == u.tobytes()
        assert m.offer_effective.tobytes() == u.tobytes()  # (no influence, no promises on the baseline)
        assert m.offer_lines_ok.tobytes() == ok.tobytes()
        assert m.effective_list == u.tolist() and m.lines_ok_list == ok.tolist()
        assert not m.offer_utilities.flags.writeable  # shared by the runs: read-only
        before = m.offer_utilities
        m.table(x.copy())
        assert m.offer_utilities is before  # the same package met again: judged once


def test_trust_observed_in_floats_is_the_array_update() -> None:
    rng = np.random.default_rng(3)
    sc = baseline("incremental")
    for _ in range(50):
        t = Trust(sc.mech)
        n = t.alpha.shape[0]
        t.alpha, t.beta = rng.uniform(0.1, 5.0, (n, n)), rng.uniform(0.1, 5.0, (n, n))
        t.memory = rng.uniform(0.2, 1.0, n)
        alpha, beta = t.alpha.copy(), t.beta.copy()
        trustee = int(rng.integers(n))
        who = [a for a in range(n) if a != trustee]
        f = float(rng.choice([0.0, 0.5, 1.0, rng.random()]))
        idx = np.array(who)
        alpha[idx, trustee] = t.memory[idx] * alpha[idx, trustee] + f
        beta[idx, trustee] = t.memory[idx] * beta[idx, trustee] + (1.0 - f)
        t.observe(who if rng.random() < 0.5 else idx, trustee, f)
        assert t.alpha.tobytes() == alpha.tobytes() and t.beta.tobytes() == beta.tobytes()


@pytest.mark.parametrize("name", ["belarus_low_trust.yaml", "belarus_stepwise.yaml", "belarus_minsk_doubts_us.yaml"])
def test_pauses_on_precomputed_pairs_are_trusts_own(name: str) -> None:
    sc = scenario.load(SCENARIOS / name)
    m = Negotiation(sc, rng=0, collect=False)
    rng = np.random.default_rng(11)
    n = m.trust.alpha.shape[0]
    for _ in range(200):
        m.trust.alpha = rng.uniform(0.01, 3.0, (n, n))
        m.trust.beta = rng.uniform(0.01, 3.0, (n, n))
        assert m.paused_now() == m.trust.paused(m.counterparts).tolist()


def test_a_delivery_moves_the_state_as_fancy_indexing_does() -> None:
    sc = scenario.load(SCENARIOS / "belarus_low_trust.yaml")  # partial and failed deliveries
    for seed in range(20):
        m = Negotiation(sc, rng=seed, collect=False)
        rng = np.random.default_rng(seed)
        debtor = int(next(c for c in m.mech.controller if c >= 0))
        issues = [int(i) for i in np.flatnonzero(m.mech.controller == debtor)][:3]
        targets = m.problem.space.grid[issues, rng.integers(0, 3, len(issues))]
        before = m.state.copy()
        f = m.deliver(debtor, issues, targets)
        after = m.state
        untouched = [i for i in range(len(before)) if i not in issues]
        assert after[untouched].tobytes() == before[untouched].tobytes()
        ev = m.events[-1]
        assert [mv[1] for mv in ev.moves] == before[issues].tolist()
        assert [mv[2] for mv in ev.moves] == targets.tolist()
        if f >= 1.0:
            assert after[issues].tobytes() == targets.tobytes()
        due = np.abs(targets - before[issues]).sum()
        if due > 1e-12:
            share = np.abs(after[issues] - before[issues]).sum() / due
            assert f == (1.0 if share > 1.0 - 1e-9 else share)


def test_kept_partial_moves_are_the_computed_ones() -> None:
    sc = scenario.load(SCENARIOS / "belarus_framework.yaml")
    p = sc.problem
    rng = np.random.default_rng(2)
    n_i = p.space.n_issues
    for _ in range(300):
        issues = sorted(rng.choice(n_i, size=int(rng.integers(1, 4)), replace=False).tolist())
        valid = [p.space.grid[i][p.space.grid_mask[i]] for i in issues]
        starts = np.array([rng.choice(v) for v in valid])
        targets = np.array([rng.choice(v) for v in valid])
        frac = float(rng.choice([0.25, 0.5, 0.75, rng.random()]))
        got = partial_values(p, issues, starts, targets, frac)
        want = _partial_values(p, tuple(issues), starts, targets, frac)
        assert got.tobytes() == want.tobytes()
        # the array form (every grid point between start and target, the nearest to the share)
        for k, i in enumerate(issues):
            g = p.space.grid[i][p.space.grid_mask[i]]
            lo, hi = min(starts[k], targets[k]), max(starts[k], targets[k])
            between = g[(g >= lo - EPS) & (g <= hi + EPS)]
            aim = starts[k] + frac * (targets[k] - starts[k])
            d = np.abs(between - aim) + 1e-12 * np.abs(between - starts[k])
            assert got[k] == between[int(np.argmin(d))]
        got[:] = -1.0  # a caller's copy: what is kept stays as it was
        again = partial_values(p, issues, starts, targets, frac)
        assert again.tobytes() == want.tobytes()


def test_framework_remaining_is_the_array_comparison() -> None:
    sc = baseline("framework")
    for seed in range(10):
        m = Negotiation(sc, rng=seed, collect=False)
        while m.running:
            m.step()
            fw = m.protocol.framework
            if fw is not None and m.running:
                assert m.protocol.remaining() == np.flatnonzero(np.abs(fw - m.state) > 1e-9).tolist()


def test_eum_forecasts_are_computed_once_per_scenario_and_as_fresh() -> None:
    for forecast in ("scholz", "stable"):
        sc = baseline("eum", forecast=forecast)
        a = Negotiation(sc, rng=0, collect=False)
        b = Negotiation(sc, rng=1, collect=False)
        assert a.protocol.forecasts is b.protocol.forecasts
        fresh = forecast_problem(sc.problem, sc.capability, sc.params.max_rounds, salience=sc.raw_salience)
        medians = np.array([f.median for f in fresh], dtype=float).T.reshape(sc.params.max_rounds + 1, -1)
        assert a.protocol._medians.tobytes() == medians.tobytes()
        assert not a.protocol._medians.flags.writeable
        assert a.protocol.package_at(3).flags.writeable  # each round's package is the run's own


def _plain_cases() -> list[tuple[str, scenario.Scenario]]:
    """Package runs whose rounds are plain (``PackageProtocol.plain``): the peer case with two to
    four parties (a time-only and a behaviour-dependent strategy among them), a proposer that has
    nothing to offer, breakdown risk (draws), and the baseline (spatial preferences, offers from
    the programs)."""
    import dataclasses

    from tests.factories import peer_case

    out = [(f"peer{n}-{k}", peer_case(n, k, {"max_rounds": 60 * n})) for n in (2, 3, 4) for k in range(3)]
    out.append(("peer-tit-for-tat", peer_case(3, 1, {"max_rounds": 120},
                                              [{"name": "boulware"}, {"name": "conceder"}, {"name": "tit_for_tat"}])))
    out.append(("peer-risk", peer_case(2, 4, {"max_rounds": 200, "breakdown_risk": 0.02})))
    sc = peer_case(2, 5, {"max_rounds": 12})
    reservation = sc.problem.reservation.copy()
    reservation[0] = 1.5  # p0 has nothing above its reservation: it passes every time
    out.append(("peer-passes", dataclasses.replace(sc, problem=sc.problem.with_preferences(sc.problem.prefs,
                                                                                         reservation))))
    out.append(("baseline", scenario.load(BASELINE)))
    out.append(("baseline-risk", baseline("package", breakdown_risk=0.05)))
    return out


def _actor_state(m: Negotiation) -> list[tuple[Any, ...]]:
    """Every actor's state after a round (``previous`` as text: NaN equals NaN)."""
    return [(a.aspiration, repr(a.previous), a._at, a.proposed, a.response, list(a.received)) for a in m.actors]


@pytest.mark.parametrize("name,sc", _plain_cases(), ids=[c[0] for c in _plain_cases()])
def test_a_plain_package_round_is_the_general_round(name: str, sc: scenario.Scenario,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from model.protocols.package import PackageProtocol

    for seed in (0, 1):
        fast = Negotiation(sc, rng=seed, collect=True)
        assert fast.protocol.plain()  # type: ignore[attr-defined]  # (else this compares the general round with itself)
        with monkeypatch.context() as mp:
            mp.setattr(PackageProtocol, "plain", lambda self: False)
            general = Negotiation(sc, rng=seed, collect=True)
            general._all_timed = False  # each actor's own ``update_aspiration``
            while general.running:  # round by round, each actor's state compared after each
                general.step()
                fast.step()
                assert _actor_state(fast) == _actor_state(general)
        assert not fast.running
        same_outcome(fast, general)
        dc_f, dc_g = fast.datacollector, general.datacollector
        assert dc_f.get_model_vars_dataframe().equals(dc_g.get_model_vars_dataframe())
        assert dc_f.get_agent_vars_dataframe().equals(dc_g.get_agent_vars_dataframe())
        assert fast.rng.bit_generator.state == general.rng.bit_generator.state
        ran = Negotiation(sc, rng=seed, collect=False)  # and through ``run``'s own loop
        ran.run()
        same_outcome(ran, general)


@pytest.mark.parametrize("name", ["belarus_package.yaml", "belarus_private_veto.yaml", "belarus_minsk_doubts_us.yaml"])
def test_rounds_with_patrons_walkers_or_private_information_are_not_plain(name: str) -> None:
    m = Negotiation(scenario.load(SCENARIOS / name), rng=0, collect=False)
    assert not m.protocol.plain()  # type: ignore[attr-defined]
    discounted = Negotiation(baseline("package", trust_discount=0.5), rng=0, collect=False)
    assert not discounted.protocol.plain()  # type: ignore[attr-defined]
