"""Invariants of the negotiation over generated valid scenarios (2-8 actors, 1-20 issues, random red
lines with bounds and conditions, random strategies, reservations and breakdown risk):

* no agreement crosses a party's red line, and no offer on the table does either;
* no party gets less than its reservation utility from an agreement;
* in the round of an agreement every party but the proposer answered "accepted";
* aspirations and offer utilities lie in [0, 1];
* the run ends within ``max_rounds``, for the reason its round count says;
* the same scenario and seed give the same run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from model import scenario as scn
from model.errors import InputError
from model.negotiation import Negotiation
from model.report import History

TOL = 1e-9
UNIT = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def issue(draw: st.DrawFn, k: int) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"id": f"i{k}", "label": f"issue {k}", "status_quo": draw(UNIT)}
    values = sorted(draw(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1.0]),
                                  min_size=2, max_size=5, unique=True)))
    levels = [{"name": f"l{j}", "value": v} for j, v in enumerate(values)]
    return {"id": f"i{k}", "label": f"issue {k}", "kind": "ordinal", "levels": levels,
            "status_quo": draw(st.sampled_from([lv["name"] for lv in levels]))}


@st.composite
def red_line(draw: st.DrawFn, issues: list[dict[str, Any]]) -> dict[str, Any]:
    iss = draw(st.sampled_from(issues))
    line: dict[str, Any] = {"issue": iss["id"]}
    if iss.get("kind") == "ordinal":  # bounds that admit at least one level
        values = [lv["value"] for lv in iss["levels"]]
        a, b = sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2)))
    else:
        a, b = sorted([draw(UNIT), draw(UNIT)])
    bounds = draw(st.sampled_from(["min", "max", "both"]))
    if bounds in ("min", "both"):
        line["min"] = a
    if bounds in ("max", "both"):
        line["max"] = b
    if draw(st.integers(0, 2)) == 0:
        line["when"] = {"issue": draw(st.sampled_from(issues))["id"], draw(st.sampled_from(["above", "below"])):
                        draw(UNIT)}
    return line


STRATEGIES = st.one_of(
    st.just({"name": "linear"}),
    st.builds(lambda e: {"name": "boulware", "params": {"exponent": e}}, st.floats(1.01, 10.0)),
    st.builds(lambda e: {"name": "conceder", "params": {"exponent": e}}, st.floats(0.05, 0.99)),
    st.builds(lambda e: {"name": "time_dependent", "params": {"exponent": e}}, st.floats(0.05, 10.0)),
    st.sampled_from([{"name": "boulware"}, {"name": "conceder"}]),
)


@st.composite
def actor(draw: st.DrawFn, a: int, issues: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(issues), min_size=1, max_size=len(issues), unique_by=lambda i: i["id"]))
    stances = {}
    for iss in chosen:
        if iss.get("kind") == "ordinal" and draw(st.booleans()):
            position: Any = draw(st.sampled_from([lv["name"] for lv in iss["levels"]]))
        else:
            position = draw(UNIT)
        stances[iss["id"]] = {"position": position, "salience": draw(st.floats(0.0, 1.0))}
    if sum(s["salience"] for s in stances.values()) <= 0.01:  # an actor must care about something
        stances[chosen[0]["id"]]["salience"] = 0.5
    out: dict[str, Any] = {
        "id": f"A{a}", "name": f"actor {a}", "issues": stances,
        "red_lines": draw(st.lists(red_line(issues), max_size=3)),
        "strategy": draw(STRATEGIES),
        "reservation": draw(st.just("status_quo") | st.floats(0.0, 1.0)),
        "curvature": draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])),
        "consent": draw(st.integers(0, 5)) > 0,
    }
    if draw(st.booleans()):
        out["discount"] = draw(st.floats(0.5, 1.0))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n_i = draw(st.integers(1, 20))
    n_a = draw(st.integers(2, 8))
    issues = [draw(issue(k)) for k in range(n_i)]
    actors = [draw(actor(a, issues)) for a in range(n_a)]
    if sum(a["consent"] for a in actors) < 2:
        actors[0]["consent"] = actors[1]["consent"] = True
    protocol = {"max_rounds": draw(st.integers(1, 40)),
                "breakdown_risk": draw(st.sampled_from([0.0, 0.0, 0.02, 0.1, 0.3])),
                "discount": draw(st.floats(0.5, 1.0))}
    return {"name": "generated", "title": "generated", "seed": draw(st.integers(0, 2**32)), "issues": issues,
            "actors": actors, "protocol": protocol}


def compile_or_skip(data: dict[str, Any]) -> scn.Scenario:
    """The scenario; one whose actor's own red lines contradict is an input error, and skipped."""
    try:
        return scn.parse(data)
    except InputError as e:
        assert "contradict" in str(e), f"the generator made an invalid scenario: {e}"
        assume(False)
        raise


def run(sc: scn.Scenario, seed: int) -> tuple[Negotiation, History]:
    """The finished model and its history."""
    m = Negotiation(sc, rng=seed)
    m.run()
    assert m.outcome is not None
    return m, History.from_model(m)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(scenarios(), st.integers(0, 2**32))
def test_negotiation_invariants(data: dict[str, Any], seed: int) -> None:
    sc = compile_or_skip(data)
    p = sc.problem
    parties = list(p.parties)
    m, hist = run(sc, seed)
    o = m.outcome
    assert o is not None
    event(f"outcome: {o.reason}")
    event(f"actors: {'2-4' if p.n_actors <= 4 else '5-8'}, issues: {'1-9' if p.space.n_issues < 10 else '10-20'}")

    # it ends within max_rounds, for the reason its rounds say
    assert 0 <= o.rounds <= sc.spec.protocol.max_rounds
    assert o.reason in ("agreement", "deadline", "breakdown risk", "no zone of agreement")
    if o.reason == "no zone of agreement":
        assert o.rounds == 0 and not p.boxes
    else:
        assert o.rounds >= 1 and p.boxes
    if o.reason == "deadline":
        assert o.rounds == sc.spec.protocol.max_rounds
    if o.reason == "breakdown risk":
        assert sc.spec.protocol.breakdown_risk > 0
    assert o.agreed == (o.reason == "agreement") == (o.package is not None and o.reason == "agreement")

    assert len(hist.rounds) == len(hist.proposer) == len(hist.offers) == o.rounds
    if o.rounds:
        # aspirations and the utilities of offers lie in [0, 1]
        for arr in (hist.aspiration, hist.offer_utility):
            seen = arr[~np.isnan(arr)]
            assert np.all((seen >= -TOL) & (seen <= 1 + TOL)), seen
        assert not np.isnan(hist.aspiration).any()
        # no offer on the table crosses a party's red line
        offered = hist.offers[~np.isnan(hist.offers).any(axis=1)]
        if len(offered):
            assert p.redlines.satisfied(offered, parties).all()

    if o.agreed:
        assert o.package is not None
        # no agreement crosses a party's red line or leaves a party below its reservation utility
        assert p.redlines.satisfied(o.package, parties).all()
        u = p.utility(o.package)
        assert np.all(u[parties] >= p.reservation[parties] - TOL), (u, p.reservation)
        assert np.all((u >= -TOL) & (u <= 1 + TOL))
        # in the final round every party other than the proposer accepted
        last = hist.response[-1]
        assert hist.proposer[-1] == o.proposer
        for a in parties:
            if p.actor_ids[a] == o.proposer:
                assert last[a] == "proposed"
            else:
                assert last[a] == "accepted", (p.actor_ids[a], last)
        np.testing.assert_array_equal(hist.offers[-1], o.package)
        # (the Mesa DataCollector says the same)
        df = m.datacollector.get_agent_vars_dataframe().reset_index()
        final = df[(df["Step"] == df["Step"].max()) & ~df["proposed"].astype(bool)]
        party_ids = {p.actor_ids[a] for a in parties}
        assert set(final.loc[final["actor"].isin(party_ids), "response"]) == {"accepted"}

    # the same seed gives the same run
    m2, hist2 = run(sc, seed)
    o2 = m2.outcome
    assert o2 is not None
    assert (o2.agreed, o2.reason, o2.rounds, o2.explanation, o2.blocked_by, o2.proposer) == (
        o.agreed, o.reason, o.rounds, o.explanation, o.blocked_by, o.proposer)
    if o.package is None:
        assert o2.package is None
    else:
        np.testing.assert_array_equal(o.package, o2.package)
    np.testing.assert_array_equal(hist.offers, hist2.offers)  # the whole history, round by round
    np.testing.assert_array_equal(hist.aspiration, hist2.aspiration)
    assert hist.response == hist2.response


def test_the_largest_generated_size_runs_with_the_same_invariants() -> None:
    """8 actors over 20 issues, each wanting the opposite of its neighbour: the top of the generator's range."""
    data = {
        "name": "g", "title": "g", "issues": [{"id": f"i{k}", "label": "x", "status_quo": 0.5} for k in range(20)],
        "actors": [{"id": f"A{a}", "name": "a", "issues": {f"i{k}": {"position": float((a + k) % 2), "salience": 0.5}
                                                           for k in range(20)},
                    "red_lines": [{"issue": f"i{a}", "min": 0.2}]} for a in range(8)],
        "protocol": {"max_rounds": 10},
    }
    sc = scn.parse(data)
    m, hist = run(sc, 1)
    o = m.outcome
    assert o is not None and 1 <= o.rounds <= 10
    if o.agreed:
        assert sc.problem.redlines.satisfied(o.package).all()
