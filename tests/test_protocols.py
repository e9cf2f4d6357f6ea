"""The protocols (``model.protocols``) played by the Mesa model: package, incremental, framework,
mediated and eum, on small hand-checked cases and on the scenarios in ``scenarios/``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from model import scenario
from model.core import eum, make_strategy
from model.core.mechanics import Delivery
from model.core.protocol import vectorisable
from model.core.tranche import concession_mask, partial_value, relaxed_redlines
from model.negotiation import Negotiation
from model.sweep import run_one
from tests.factories import small

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
BASELINE = SCENARIOS / "belarus_us_2025.yaml"
STEPWISE = SCENARIOS / "belarus_stepwise.yaml"
SCHOLZ = SCENARIOS / "scholz2011_eum.yaml"


def run(data: dict[str, Any], seed: int | None = None) -> Negotiation:
    m = Negotiation(scenario.parse(copy.deepcopy(data)), rng=seed)
    m.run()
    return m


def states(m: Negotiation) -> dict[str, np.ndarray]:
    """The implemented state of each issue at the end of every round."""
    df = m.datacollector.get_model_vars_dataframe()
    return {c.removeprefix("state."): df[c].to_numpy() for c in df.columns if c.startswith("state.")}


# --------------------------------------------------------------------------------------------
# package


def test_the_baseline_package_scenario_agrees_before_its_deadline() -> None:
    """Round 16 of 24 since offers are frontier programs and concession reads the discounts
    (round 22, set by the deadline, before)."""
    sc = scenario.load(BASELINE)
    o = Negotiation(sc, rng=2025).run()
    assert o.agreed and o.reason == "agreement" and o.rounds == 16


def test_the_mesa_model_and_the_vectorised_engine_agree_on_the_baseline() -> None:
    sc = scenario.load(BASELINE)
    strategies = [make_strategy(a.strategy.name, a.strategy.params) for a in sc.spec.actors]
    assert sc.mech.package_neutral and vectorisable(strategies)  # run_one takes the vectorised path
    o = Negotiation(sc, rng=2025, collect=False).run()
    row = run_one(sc, 2025)
    assert (row["agreed"], row["reason"], row["rounds"]) == (o.agreed, o.reason, o.rounds)
    np.testing.assert_array_equal([row[f"value.{iid}"] for iid in sc.problem.space.ids], o.package)
    assert row["blocked_by"] == ""


# --------------------------------------------------------------------------------------------
# incremental: a hand-checked two-party exchange


def exchange(sal_a: tuple[float, float] = (0.4, 0.6), sal_b: tuple[float, float] = (0.6, 0.4),
             a: dict[str, Any] | None = None, b: dict[str, Any] | None = None, **protocol: Any) -> dict[str, Any]:
    """A controls x, which B wants (A at 0, B at 1); B controls y, which A wants (A at 1, B at 0).
    Status quo 0 on both; trust 0.9 both ways; A proposes first."""
    actor_a = {"id": "A", "name": "A", "trust": {"prior": 0.9},
               "issues": {"x": {"position": 0.0, "salience": sal_a[0]}, "y": {"position": 1.0, "salience": sal_a[1]}}}
    actor_b = {"id": "B", "name": "B", "trust": {"prior": 0.9},
               "issues": {"x": {"position": 1.0, "salience": sal_b[0]}, "y": {"position": 0.0, "salience": sal_b[1]}}}
    actor_a.update(a or {})
    actor_b.update(b or {})
    proto = {"kind": "incremental", "max_rounds": 12, "step": 0.1, "step_growth": 2.0, "order": ["A", "B"]}
    proto.update(protocol)
    return {
        "name": "exchange", "title": "two parties trading concessions", "seed": 1,
        "issues": [{"id": "x", "label": "x", "status_quo": 0.0, "controlled_by": "A"},
                   {"id": "y", "label": "y", "status_quo": 0.0, "controlled_by": "B"}],
        "actors": [actor_a, actor_b],
        "protocol": proto,
    }


def tranche_moves(events: list[tuple[int, str]]) -> list[dict[str, tuple[float, float]]]:
    """For each agreed tranche, in order: issue -> (from, to)."""
    out = []
    for _, e in events:
        if re.match(r"tranche \d+ \(", e):
            out.append({iid: (float(a), float(b)) for iid, a, b in re.findall(r"(\w+) ([\d.]+)->([\d.]+)", e)})
    return out


def test_tranche_caps_start_at_step_and_grow_after_each_tranche_delivered_in_full() -> None:
    m = Negotiation(scenario.parse(exchange()), rng=0)
    caps = []
    for _ in range(4):
        caps.append(m.protocol.caps().tolist())
        m.step()
    # before tranche k + 1 the cap is step * growth ** k: k tranches were delivered in full
    assert caps == [[0.1, 0.1], [0.2, 0.2], [0.4, 0.4], [0.8, 0.8]]
    moves = tranche_moves(m.events)
    assert len(moves) == 4 and m.protocol.delivered_in_full == 4
    for k, tr in enumerate(moves):
        assert set(tr) == {"x", "y"}
        assert all(abs(b - a) <= min(1.0, 0.1 * 2**k) + 1e-9 for a, b in tr.values())
    assert moves[0] == {"x": (0.0, 0.1), "y": (0.0, 0.1)}  # both gain most from the other's issue: full caps
    assert any(abs(b - a) > 0.1 + 1e-9 for a, b in moves[1].values())  # the second tranche uses the larger cap
    np.testing.assert_allclose(m.state, [1.0, 1.0])


def test_full_delivery_raises_the_other_partys_trust() -> None:
    m = Negotiation(scenario.parse(exchange()), rng=0)
    m.step()  # both deliver tranche 1 at once (lag 0): alpha 1.8 + 1, beta 0.2
    assert m.events[1:] == [(1, "A delivered on tranche 1 fully (x 0->0.1)"),
                            (1, "B delivered on tranche 1 fully (y 0->0.1)")]
    np.testing.assert_allclose(m.trust.mean, [[1.0, 2.8 / 3.0], [2.8 / 3.0, 1.0]])
    m.step()  # (2.8 + 1) / 4
    np.testing.assert_allclose(m.trust.mean[0, 1], 0.95)


def test_tranches_move_controlled_issues_only_in_directions_the_other_party_does_not_lose_from() -> None:
    d = exchange()
    # z: controlled by A, which wants it up; B wants it down. u: no controller.
    d["issues"] += [{"id": "z", "label": "z", "status_quo": 0.5, "controlled_by": "A"},
                    {"id": "u", "label": "u", "status_quo": 0.5}]
    d["actors"][0]["issues"].update(z={"position": 1.0, "salience": 0.3}, u={"position": 1.0, "salience": 0.3})
    d["actors"][1]["issues"].update(z={"position": 0.0, "salience": 0.1}, u={"position": 0.8, "salience": 0.3})
    sc = scenario.parse(d)
    p = sc.problem
    ok = concession_mask(p, p.space.status_quo, sc.mech.controller)
    g = p.space.grid
    valid = p.space.grid_mask
    assert np.all(g[0][ok[0] & valid[0]] >= 0.0) and ok[0][valid[0]].all()  # x: B gains from every rise
    assert np.all(g[2][ok[2] & valid[2]] <= 0.5 + 1e-9) and not np.any(ok[2][valid[2]] & (g[2][valid[2]] > 0.5))
    assert ok[3].all()  # u: anywhere
    m = Negotiation(sc, rng=0)
    m.run()
    s = states(m)
    assert np.all(np.diff(s["x"]) >= -1e-12) and np.all(np.diff(s["y"]) >= -1e-12)
    assert np.all(s["z"] <= 0.5 + 1e-12)  # A never takes z up, though it wants it there
    assert m.outcome.metrics["tranches"] >= 2


def test_a_step_never_carries_the_state_further_past_a_red_line() -> None:
    # B allows y up to 0.3; w (no controller, status quo 0.6) is already past A's line w <= 0.4,
    # and B would like it at 1
    d = exchange(b={"red_lines": [{"issue": "y", "max": 0.3}]}, a={"red_lines": [{"issue": "w", "max": 0.4}]})
    d["issues"].append({"id": "w", "label": "w", "status_quo": 0.6})
    d["actors"][0]["issues"]["w"] = {"position": 0.5, "salience": 0.05}
    d["actors"][1]["issues"]["w"] = {"position": 1.0, "salience": 0.3}
    m = run(d, seed=0)
    s = states(m)
    assert np.all(s["y"] <= 0.3 + 1e-12) and s["y"].max() == pytest.approx(0.3)
    assert np.all(s["w"] <= 0.6 + 1e-12)
    d["actors"][0]["red_lines"] = []  # without A's line the tranches do take w up
    assert states(run(d, seed=0))["w"].max() > 0.6 + 1e-9
    rl = relaxed_redlines(m.problem.redlines, np.array([0.0, 0.0, 0.6]))
    bounds = {(ln.actor, ln.issue): (ln.lo, ln.hi) for ln in rl.lines}
    assert bounds == {(0, 2): (0.0, 0.6), (1, 1): (0.0, 0.3)}  # widened to the state, no further
    rl = relaxed_redlines(m.problem.redlines, np.array([0.0, 0.0, 0.3]))
    assert {(ln.actor, ln.issue): (ln.lo, ln.hi) for ln in rl.lines}[(0, 2)] == (0.0, 0.4)


def test_partial_delivery_moves_half_way_is_corrected_later_and_lowers_trust() -> None:
    d = exchange(b={"trust": {"prior": 0.9}, "delivery": {"full": 0.0, "partial": 1.0, "share": 0.5}}, step=0.2)
    m = Negotiation(scenario.parse(d), rng=0)
    m.step()
    (tr,) = tranche_moves(m.events)
    start, target = tr["y"]
    assert (start, target) == (0.0, 0.2)
    assert m.state[1] == pytest.approx(0.1)  # half-way
    assert (1, "B delivered on tranche 1 partly (y 0->0.2)") in m.events
    assert m.trust.mean[0, 1] == pytest.approx((1.8 + 0.5) / 3.0)  # A's trust in B falls from 0.9
    assert m.trust.mean[1, 0] == pytest.approx(2.8 / 3.0)  # A delivered x in full
    assert m.protocol.caps().tolist() == [0.2, 0.0]  # no growth; y frozen while still owed
    m.step()  # the correction: half of what is left
    assert m.events[-1] == (2, "B delivered on tranche 1 partly (y 0.1->0.2)")
    assert m.state[1] == pytest.approx(0.15)
    assert m.trust.mean[0, 1] == pytest.approx((2.3 + 0.5) / 4.0)
    # from now on B delivers in full: the remainder arrives, then a new tranche from there
    m.mech = dataclasses.replace(m.mech, delivery=(Delivery(), Delivery()))
    m.step()
    assert m.events[-4:] == [
        (3, "B delivered on tranche 1 fully (y 0.15->0.2)"),
        (3, "tranche 2 (A proposed, all accepted): A: x 0.2->0.4; B: y 0.2->0.4"),  # the cap did not grow
        (3, "A delivered on tranche 2 fully (x 0.2->0.4)"),
        (3, "B delivered on tranche 2 fully (y 0.2->0.4)"),
    ]
    assert not m.protocol.promises
    assert m.protocol.delivered_in_full == 1  # tranche 2 only: tranche 1 fell short
    assert m.protocol.caps().tolist() == [0.4, 0.4]
    assert m.trust.mean[0, 1] == pytest.approx((2.8 + 1.0 + 1.0) / 6.0)


def test_a_paused_actor_moves_its_issues_by_a_gesture_only_and_resumes_when_trust_recovers() -> None:
    d = exchange(sal_a=(0.1, 0.9), sal_b=(0.9, 0.1), a={"trust": {"prior": 0.3, "threshold": 0.5}},
                 step=0.2, gesture=0.05)
    m = Negotiation(scenario.parse(d), rng=0)
    m.step()
    assert (1, "A pauses: its trust 0.30 is below its threshold 0.5") in m.events
    assert m.actors[0].paused and not m.actors[1].paused
    (tr,) = tranche_moves(m.events)
    assert tr["x"][1] - tr["x"][0] <= 0.05 + 1e-9  # A's gesture
    assert tr["y"][1] - tr["y"][0] > 0.05 + 1e-9  # B is not paused: up to the step
    assert m.trust.mean[0, 1] == pytest.approx(1.6 / 3.0)  # B delivered in full: 0.6 + 1 over 3
    m.step()
    assert (2, "A resumes: its trust is back at 0.53") in m.events
    assert not m.actors[0].paused
    m.run()
    later = tranche_moves(m.events)[1:]
    assert any(t["x"][1] - t["x"][0] > 0.05 + 1e-9 for t in later if "x" in t)
    assert m.outcome.metrics["pauses"] == 1 and m.outcome.metrics["pause_rounds"] == 1


# --------------------------------------------------------------------------------------------
# incremental: the observed shape on belarus_stepwise


@pytest.fixture(scope="module")
def stepwise_runs() -> list[Any]:
    sc = scenario.load(STEPWISE)
    return [Negotiation(sc, rng=seed, collect=False).run() for seed in range(30)]


def test_stepwise_pauses_follow_short_deliveries_and_resumptions_follow_full_ones(stepwise_runs: list[Any]) -> None:
    late_pauses = 0
    for seed, o in enumerate(stepwise_runs):
        ev = o.events
        for k, (r, e) in enumerate(ev):
            if e.startswith("BLR pauses") and r > 1:
                late_pauses += 1
                usa = [x for _, x in ev[:k] if x.startswith("USA delivered")]
                short = bool(usa) and (" partly (" in usa[-1] or " not at all (" in usa[-1])
                balloon = any(rr == r and x.startswith("spoiler balloon") and "BLR's trust in USA" in x
                              for rr, x in ev[:k])
                assert short or balloon, (seed, r, usa[-1:] if usa else None)
            if e.startswith("BLR resumes"):
                same_round = [x for rr, x in ev[:k] if rr == r and x.startswith("USA delivered")]
                assert any(" fully (" in x for x in same_round), (seed, r, same_round)
    assert late_pauses >= 1  # the pause after a partial delivery is observed in some run


def observed_shape(events: list[tuple[int, str]]) -> bool:
    """DOMAIN.md 3.1 #3-#4: after the goodwill phase, Minsk pauses following a short U.S. delivery,
    resumes when Washington delivers in full, and its next release is no smaller than the last
    one before the pause."""
    releases = [(r, float(b) - float(a)) for r, e in events if re.match(r"tranche \d+ \(", e)
                for a, b in re.findall(r"prisoner_releases ([\d.]+)->([\d.]+)", e)]
    for k, (r, e) in enumerate(events):
        if not (e.startswith("BLR pauses") and r > 1):
            continue
        usa = [x for _, x in events[:k] if x.startswith("USA delivered")]
        if not usa or " fully (" in usa[-1]:
            continue
        resumed = [rr for rr, x in events[k:] if x.startswith("BLR resumes")]
        if not resumed:
            continue
        before = [size for rr, size in releases if rr <= r]
        after = [size for rr, size in releases if rr >= resumed[0]]
        if before and after and after[0] >= before[-1] - 1e-9:
            return True
    return False


def test_stepwise_reproduces_the_observed_shape(stepwise_runs: list[Any]) -> None:
    """The issue's shape test, on the shipped step-by-step variant over 30 seeds."""
    shaped = [seed for seed, o in enumerate(stepwise_runs) if observed_shape(o.events)]
    assert len(shaped) >= 20, shaped  # 27 of 30 when written
    # no settlement inside the observed window (rounds 1-17 = m 0-16; 3.1 #8): every seed did
    # while concession followed the deadline; since it reads the discounts (Washington's 0.90 a
    # month makes it concede within about a year) 7 of 30 seeds settle by month 16, a miss
    # against history that the fit report shows (docs/calibration_report.md)
    early = [seed for seed, o in enumerate(stepwise_runs) if o.agreed and o.rounds <= 17]
    assert len(early) <= 8, early
    for seed, o in enumerate(stepwise_runs):
        # Minsk's red lines hold: no tranche moves its Russia alignment or China ties (3.1 #6)
        for t in tranche_moves(o.events):
            assert "russia_alignment" not in t and "china_ties" not in t, (seed, t)
        # the first prisoner release is small: at most the cap after one tranche delivered in
        # full, 0.05 * 2 (3.1 #1)
        first = next(t["prisoner_releases"] for t in tranche_moves(o.events) if "prisoner_releases" in t)
        assert first[1] - first[0] <= 0.1 + 1e-9


def test_stepwise_tranches_grow(stepwise_runs: list[Any]) -> None:
    for seed, o in enumerate(stepwise_runs):
        moves = [t["prisoner_releases"] for t in tranche_moves(o.events) if "prisoner_releases" in t]
        sizes = [b - a for a, b in moves]
        assert sizes and sizes[0] <= 0.1 + 1e-9, (seed, sizes)
        assert max(sizes[1:], default=0.0) > sizes[0] + 1e-9, (seed, sizes)


# --------------------------------------------------------------------------------------------
# framework


def framework(a: dict[str, Any] | None = None, **protocol: Any) -> dict[str, Any]:
    d = exchange(a=a, kind="framework", phases=4, max_rounds=20, **protocol)
    for act in d["actors"]:
        act["strategy"] = {"name": "conceder"}
    return d


def test_a_framework_is_agreed_and_then_implemented_in_phases() -> None:
    m = run(framework(), seed=0)
    o = m.outcome
    start = next(r for r, e in o.events if e.startswith("framework agreed"))
    assert o.agreed and o.reason == "agreement" and o.rounds == start + 4
    np.testing.assert_allclose(o.package, [1.0, 1.0])
    s = states(m)
    for k in range(5):  # the state moves a quarter of the way each phase
        np.testing.assert_allclose([s["x"][start - 1 + k], s["y"][start - 1 + k]], [0.25 * k, 0.25 * k])
    assert (start + 1, "A delivered phase 1 of 4 fully (x 0->0.25)") in o.events
    assert o.metrics["implemented"] == 1.0
    assert f"implemented in full by round {start + 4}" in o.explanation


def test_framework_implementation_stalls_when_the_debtor_distrusts_its_counterpart() -> None:
    # A's trust in B is low and hard to move (strength 100): B implements its part, A never starts
    m = run(framework(a={"trust": {"prior": 0.3, "strength": 100.0, "threshold": 0.5},
                         "strategy": {"name": "conceder"}}), seed=0)
    o = m.outcome
    assert o.agreed and o.reason == "implementation stalled"
    assert o.blocked_by == [("A", "paused", "trust below its threshold")]
    np.testing.assert_allclose(o.state, [0.0, 1.0])
    assert o.metrics["implemented"] == pytest.approx(0.5)
    assert "implementation stalled" in o.explanation and "A suspended" in o.explanation
    assert sum("A suspends its phase" in e for _, e in o.events) == 4


def test_framework_phase_targets_are_grid_points_on_the_way() -> None:
    p = scenario.parse(framework()).problem
    assert [partial_value(p, 0, 0.0, 1.0, k / 4) for k in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert partial_value(p, 0, 0.1, 0.2, 0.5) == pytest.approx(0.15)
    assert partial_value(p, 0, 0.15, 0.2, 0.5) == pytest.approx(0.15)  # a tie is rounded toward the start


# --------------------------------------------------------------------------------------------
# mediated


def test_the_mediators_text_reaches_the_logrolling_deal_meeting_both_aspirations() -> None:
    m = run(small(protocol={"kind": "mediated", "max_rounds": 30}), seed=0)
    o = m.outcome
    assert o.agreed and o.reason == "agreement" and o.proposer == "mediator"
    np.testing.assert_allclose(o.package, [1.0, 0.0, 1.0])  # X gets a and c, Y gets b
    u = m.problem.utility(o.package)
    for a in m.actors:
        assert u[a.index] >= a.need + m.margin - 1e-9
        assert u[a.index] >= a.reservation - 1e-9


# --------------------------------------------------------------------------------------------
# eum


def eum_case() -> dict[str, Any]:
    """Two issues; every actor's saliences sum to 1, so the normalised weights are the saliences."""
    actors = []
    for k, (p0, p1, s0) in enumerate([(0.1, 0.9, 0.3), (0.5, 0.2, 0.6), (0.8, 0.4, 0.5), (0.3, 0.7, 0.9)]):
        actors.append({"id": f"A{k}", "name": f"A{k}", "capability": [1.0, 0.5, 0.8, 0.3][k],
                       "issues": {"i0": {"position": p0, "salience": s0},
                                  "i1": {"position": p1, "salience": round(1.0 - s0, 10)}}})
    return {"name": "eum2", "title": "t", "issues": [{"id": "i0", "label": "i0"}, {"id": "i1", "label": "i1"}],
            "actors": actors, "protocol": {"kind": "eum", "max_rounds": 6}}


def test_the_eum_protocol_puts_the_forecast_median_of_each_round_on_the_table() -> None:
    m = run(eum_case())
    sc = m.config
    cap, sal = eum.spec_inputs(sc.spec)
    forecasts = eum.forecast_problem(sc.problem, cap, 6, salience=sal)
    df = m.datacollector.get_model_vars_dataframe()
    for i, f in enumerate(forecasts):
        np.testing.assert_allclose(df[f"offer.i{i}"].to_numpy()[:6], f.median[1:7])
    assert m.outcome.rounds == 6 and m.outcome.reason in ("forecast", "forecast rejected")


def test_bargain_run_on_the_scholz_scenario_reports_the_forecast() -> None:
    from model.cli import main

    res = CliRunner().invoke(main, ["run", str(SCHOLZ), "--json", "--no-plot"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    sc = scenario.load(SCHOLZ)
    cap, sal = eum.spec_inputs(sc.spec)
    (f,) = eum.forecast_problem(sc.problem, cap, 10, salience=sal)
    assert (summary["protocol"], summary["reason"], summary["rounds"]) == ("eum", "forecast", 10)
    assert summary["package"]["emission_standards"]["value"] == pytest.approx(f.median[-1])
    assert summary["explanation"].startswith("EUM forecast after 10 rounds")


def test_the_eum_protocol_on_scholz_gives_the_published_forecast_each_round() -> None:
    sc = scenario.load(SCHOLZ)
    m = Negotiation(sc)
    m.run()
    cap, sal = eum.spec_inputs(sc.spec)
    (f,) = eum.forecast_problem(sc.problem, cap, 10, salience=sal)
    offers = m.datacollector.get_model_vars_dataframe()["offer.emission_standards"].to_numpy()
    np.testing.assert_allclose(offers, f.median[1:11])


# --------------------------------------------------------------------------------------------
# every scenario file


SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))


def is_variant(path: Path) -> bool:
    data = yaml.safe_load(path.read_text())
    return isinstance(data, dict) and "extends" in data


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_every_scenario_loads_and_runs_to_an_explained_outcome(path: Path) -> None:
    sc = scenario.load(path)
    o = Negotiation(sc, collect=False).run()
    assert o.explanation.strip()
    assert 0 <= o.rounds <= sc.spec.protocol.max_rounds


@pytest.mark.parametrize("path", [p for p in SCENARIO_FILES if is_variant(p)],
                         ids=[p.name for p in SCENARIO_FILES if is_variant(p)])
def test_every_variant_says_what_question_it_asks(path: Path) -> None:
    leading = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        leading.append(line)
    assert any("Question" in line for line in leading), f"{path.name}: no leading comment line with 'Question'"


def test_there_is_at_least_one_variant() -> None:
    assert any(is_variant(p) for p in SCENARIO_FILES)


# --------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("kind", ["incremental", "framework"])
def test_same_seed_same_outcome_and_events(kind: str) -> None:
    unreliable = {"delivery": {"full": 0.5, "partial": 0.3, "share": 0.5}}
    d = exchange(a=unreliable, b=dict(unreliable), kind=kind, max_rounds=20)
    for act in d["actors"]:
        act["strategy"] = {"name": "conceder"}
    sc = scenario.parse(d)
    runs = {}
    for seed in range(6):
        a, b = Negotiation(sc, rng=seed).run(), Negotiation(sc, rng=seed).run()
        assert (a.agreed, a.reason, a.rounds, a.blocked_by, a.events) == (b.agreed, b.reason, b.rounds,
                                                                           b.blocked_by, b.events)
        np.testing.assert_array_equal(a.state, b.state)
        assert a.metrics == b.metrics
        runs[seed] = a.events
    assert len({tuple(e) for e in runs.values()}) > 1  # the seed matters: deliveries are drawn


def test_an_issue_no_party_weighs_stays_where_it_is_in_tranches() -> None:
    d = exchange()
    d["issues"].append({"id": "z", "label": "z", "status_quo": 0.5})
    for act in d["actors"]:
        act["issues"]["z"] = {"position": 1.0, "salience": 0.0}
    m = Negotiation(scenario.parse(d), rng=0)
    o = m.run()
    assert o.metrics["tranches"] >= 1
    df = m.datacollector.get_model_vars_dataframe()
    assert (df["state.z"] == 0.5).all()
    assert all("z" not in t for t in tranche_moves(o.events))


def test_delivered_share_is_the_mean_fraction_delivered() -> None:
    half = {"delivery": {"full": 0.0, "partial": 1.0, "share": 0.5}}
    o = Negotiation(scenario.parse(exchange(b=half)), rng=0).run()
    labels = [e.split(" delivered on tranche ")[1].split(" (")[0].split(" ", 1)[1]
              for _, e in o.events if " delivered on tranche " in e]
    n, full, partly = len(labels), labels.count("fully"), labels.count("partly")
    assert o.metrics["deliveries"] == n > 0 and partly > 0
    # each partial delivery counts its fraction, strictly between 0 and 1
    assert full / n < o.metrics["delivered_share"] < (full + partly) / n


def test_the_eum_forecast_holds_an_excluded_collectives_issues_at_the_status_quo() -> None:
    d = exchange(kind="eum", max_rounds=4)
    d["collectives"] = [{"id": "C", "name": "C", "members": ["B"], "issues": ["y"], "inclusion": "excluded"}]
    m = Negotiation(scenario.parse(d), rng=0)
    o = m.run()
    assert o.package is not None and o.package[1] == 0.0
    df = m.datacollector.get_model_vars_dataframe()
    assert (df["offer.y"] == 0.0).all()
