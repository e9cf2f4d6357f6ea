"""The engine's own agreements against bargaining theory.

Every deal here is made by the Mesa model (``Negotiation(...).run()``), not by a stand-alone
solver: the split of a one-issue pie with symmetric parties, the pull of a disagreement point,
Rubinstein's division under discounting, the Nash product on random problems with gains, the
proposer's order, and red lines that lower agreement through the bargaining.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from model import scenario
from model.core import analysis
from model.core.bargaining import rubinstein_share
from model.negotiation import Negotiation


def split(
    strategy: dict[str, Any] | None = None,
    max_rounds: int = 24,
    order: list[str] | None = None,
    res: tuple[float, float] = (0.0, 0.0),
    discount: tuple[float, float] = (0.95, 0.95),
    breakdown_risk: float = 0.0,
    strategies: tuple[dict[str, Any], dict[str, Any]] | None = None,
    red_line: dict[str, Any] | None = None,
) -> scenario.Scenario:
    """A one-issue linear split: X gets ``x``, Y gets ``1 - x`` (X's ideal 1, Y's ideal 0)."""
    strat = strategies or (strategy or {"name": "boulware"}, strategy or {"name": "boulware"})
    actors = []
    for k, (aid, ideal) in enumerate((("X", 1.0), ("Y", 0.0))):
        a: dict[str, Any] = {
            "id": aid, "name": aid, "reservation": res[k], "discount": discount[k], "strategy": strat[k],
            "issues": {"pie": {"position": ideal, "salience": 1.0}},
        }
        if red_line and red_line.get("actor") == aid:
            a["red_lines"] = [{k2: v for k2, v in red_line.items() if k2 != "actor"}]
        actors.append(a)
    proto: dict[str, Any] = {"kind": "package", "max_rounds": max_rounds, "breakdown_risk": breakdown_risk}
    if order:
        proto["order"] = order
    return scenario.parse({
        "name": "split", "title": "split",
        "issues": [{"id": "pie", "label": "X's share", "status_quo": 0.5}],
        "actors": actors, "protocol": proto,
    })


def deal(sc: scenario.Scenario, seed: int | None = None) -> Any:
    return Negotiation(sc, rng=seed, collect=False).run()


SYMMETRIC = [
    {"name": "boulware"}, {"name": "linear"}, {"name": "conceder"}, {"name": "boulware", "params": {"exponent": 8}},
]


@pytest.mark.parametrize("strategy", SYMMETRIC, ids=lambda s: str(s))
@pytest.mark.parametrize("max_rounds", [23, 24])
@pytest.mark.parametrize("order", [["X", "Y"], ["Y", "X"]])
def test_a_symmetric_split_is_even_whatever_the_deadline_and_who_proposes(
    strategy: dict[str, Any], max_rounds: int, order: list[str]
) -> None:
    o = deal(split(strategy, max_rounds, order))
    assert o.agreed
    assert abs(o.package[0] - 0.5) <= 0.05
    assert o.rounds < max_rounds  # not a deadline deal: the demands meet before the end


@pytest.mark.parametrize("strategy", SYMMETRIC, ids=lambda s: str(s))
def test_proposer_order_moves_no_share_by_more_than_005(strategy: dict[str, Any]) -> None:
    a = deal(split(strategy, 24, ["X", "Y"])).package[0]
    b = deal(split(strategy, 24, ["Y", "X"])).package[0]
    assert abs(a - b) <= 0.05


@pytest.mark.parametrize("r_x", [0.1, 0.2, 0.3, 0.4])
def test_a_disagreement_point_shifts_the_split_in_nashs_direction(r_x: float) -> None:
    x = deal(split(res=(r_x, 0.0))).package[0]
    nash = (1.0 + r_x) / 2.0  # the textbook Nash split with disagreement point (r_x, 0)
    assert 0.5 < x <= nash + 0.02
    # and the more X has outside, the more it gets
    assert deal(split(res=(r_x + 0.05, 0.0))).package[0] > x


@pytest.mark.parametrize(("d1", "d2"), [(0.9, 0.8), (0.8, 0.9), (0.95, 0.95), (0.6, 0.9), (0.99, 0.5)])
def test_rubinstein_split_with_the_equilibrium_strategies(d1: float, d2: float) -> None:
    sc = split(strategies=({"name": "rubinstein"}, {"name": "rubinstein"}), discount=(d1, d2))
    o = deal(sc)
    assert o.agreed and o.rounds == 1  # the equilibrium offer is accepted at once
    assert o.package[0] == pytest.approx(rubinstein_share(d1, d2), abs=0.02)
    assert o.package[0] == pytest.approx((1 - d2) / (1 - d1 * d2), abs=0.02)


def test_rubinstein_breakdown_risk_acts_as_a_common_discount() -> None:
    p = 0.1
    sc = split(strategies=({"name": "rubinstein"}, {"name": "rubinstein"}), discount=(1.0, 1.0), breakdown_risk=p)
    o = deal(sc, seed=3)
    q = 1 - p  # Binmore, Rubinstein & Wolinsky: the first proposer gets 1 / (1 + q)
    assert o.package[0] == pytest.approx(1 / (1 + q), abs=0.02)


def test_time_that_costs_brings_the_deal_forward() -> None:
    """The same strategies agree sooner when delay costs more (discount, breakdown risk)."""
    patient = deal(split({"name": "boulware"}, 36, discount=(1.0, 1.0))).rounds
    impatient = deal(split({"name": "boulware"}, 36, discount=(0.85, 0.85))).rounds
    risky = deal(split({"name": "boulware"}, 36, discount=(1.0, 1.0), breakdown_risk=0.1), seed=0)
    assert impatient < patient - 5
    if risky.agreed:
        assert risky.rounds < patient


def test_the_more_patient_party_gets_more() -> None:
    """Rubinstein's comparative static, through time-dependent strategies that read the discount."""
    x = deal(split({"name": "linear"}, 24, discount=(0.98, 0.85))).package[0]
    assert x > 0.55


def random_problem(rng: np.random.Generator, strategy: dict[str, Any]) -> scenario.Scenario:
    """Two parties, three continuous issues, random ideal points, saliences and status quo."""
    n = 3
    sq = rng.uniform(0.2, 0.8, n).round(3)
    issues = [{"id": f"i{k}", "label": f"issue {k}", "status_quo": float(sq[k])} for k in range(n)]
    actors = []
    for aid in ("X", "Y"):
        ideal = rng.uniform(0, 1, n).round(3)
        sal = rng.uniform(0.1, 1.0, n).round(3)
        actors.append({
            "id": aid, "name": aid, "strategy": strategy,
            "issues": {f"i{k}": {"position": float(ideal[k]), "salience": float(sal[k])} for k in range(n)},
        })
    return scenario.parse({
        "name": "random", "title": "random", "issues": issues, "actors": actors,
        "protocol": {"kind": "package", "max_rounds": 24},
    })


def _with_gains(n: int, seed: int) -> list[tuple[scenario.Scenario, float]]:
    """``n`` random problems whose Nash point gives both parties a gain, with that Nash product."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        strategy = {"name": "boulware"} if rng.random() < 0.5 else {"name": "linear"}
        sc = random_problem(rng, strategy)
        x = analysis.nash_point(sc.problem)
        if x is None:
            continue
        best = analysis.nash_product(sc.problem, x)
        if best > 1e-4:
            out.append((sc, best))
    return out


def test_random_two_party_problems_with_gains_agree_near_the_nash_product() -> None:
    ratios = []
    for sc, best in _with_gains(60, 2026):
        o = deal(sc)
        assert o.agreed, "a problem with gains ended without a deal"
        ratios.append(analysis.nash_product(sc.problem, o.package) / best)
    r = np.array(ratios)
    assert np.median(r) >= 0.97
    assert np.quantile(r, 0.1) >= 0.8


def test_on_random_problems_the_proposer_order_moves_no_share_by_more_than_005() -> None:
    for sc, _ in _with_gains(20, 7):
        data = sc.spec.model_dump(mode="json", exclude_none=True)
        data["protocol"]["order"] = ["Y", "X"]
        swapped = scenario.parse(data)
        a, b = deal(sc), deal(swapped)
        u_a, u_b = sc.problem.utility(a.package), sc.problem.utility(b.package)
        span = sc.problem.best_utility - sc.problem.reservation
        assert np.all(np.abs(u_a - u_b) / span <= 0.05)


def test_engine_offers_reach_interior_values() -> None:
    """0.37 on a continuous issue is a legal deal: with demands (0.37, 0.63) it is the deal."""
    sc = split(strategies=({"name": "hardliner", "params": {"level": 0.37}},
                           {"name": "hardliner", "params": {"level": 0.63}}))
    o = deal(sc)
    assert o.agreed and o.package[0] == pytest.approx(0.37, abs=1e-6)


def logroll(a_max: float, breakdown_risk: float = 0.05) -> scenario.Scenario:
    """Two issues, two parties with opposite ideals and opposite priorities: the gains come from
    the logroll (X gets ``a``, Y gets ``b``). Y's conditional red line, "if b < 0.3 then a <=
    a_max", forbids that trade when tight, but leaves each party's own best package legal."""
    actors = [
        {"id": "X", "name": "X", "strategy": {"name": "boulware"},
         "issues": {"a": {"position": 1.0, "salience": 0.8}, "b": {"position": 1.0, "salience": 0.2}}},
        {"id": "Y", "name": "Y", "strategy": {"name": "boulware"},
         "issues": {"a": {"position": 0.0, "salience": 0.2}, "b": {"position": 0.0, "salience": 0.8}},
         "red_lines": [{"issue": "a", "max": a_max, "when": {"issue": "b", "below": 0.3}}]},
    ]
    return scenario.parse({
        "name": "logroll", "title": "logroll",
        "issues": [{"id": "a", "label": "A", "status_quo": 0.5}, {"id": "b", "label": "B", "status_quo": 0.5}],
        "actors": actors, "protocol": {"kind": "package", "max_rounds": 30, "breakdown_risk": breakdown_risk},
    })


def test_tightening_a_red_line_lowers_agreement_through_the_bargaining() -> None:
    """Tightening the red line keeps a zone of agreement and each party's best package, but
    removes the logroll's joint gains: the demands, which start from the same bests, meet
    later, so more talks die of the breakdown risk first. Agreement falls though a deal is
    always possible."""
    def rate(a_max: float) -> tuple[float, float]:
        sc = logroll(a_max)
        assert sc.problem.boxes  # a zone of agreement remains
        runs = [deal(sc, seed=s) for s in range(200)]
        return float(np.mean([o.agreed for o in runs])), float(np.mean([o.rounds for o in runs if o.agreed]))

    loose, tight = logroll(1.0), logroll(0.4)
    np.testing.assert_allclose(loose.problem.best_utility, tight.problem.best_utility)
    (rate_loose, when_loose), (rate_tight, when_tight) = rate(1.0), rate(0.4)
    assert when_tight > when_loose
    assert rate_tight < rate_loose - 0.05


# ------------------------------------------------------------------ walking away, extending


def with_actor_fields(
    sc: scenario.Scenario, protocol: dict[str, Any] | None = None, **fields: dict[str, Any]
) -> scenario.Scenario:
    data = sc.spec.model_dump(mode="json", exclude_none=True)
    for a in data["actors"]:
        a.update(fields.get(a["id"], {}))
    data["protocol"].update(protocol or {})
    return scenario.parse(data)


def test_a_party_walks_away_when_its_outside_option_beats_any_deal() -> None:
    sc = with_actor_fields(split(), X={"outside_option": 0.45}, Y={"reservation": 0.6})
    o = deal(sc)
    assert not o.agreed and o.reason == "walk-away" and o.rounds == 1
    assert o.blocked_by[0][:2] == ("X", "walk-away")


def squeeze(discount_x: float) -> scenario.Scenario:
    """X wants both issues; Y wants ``a``, Z wants ``b``, each opposed to X. Each of Y's and Z's
    opening demands leaves X its outside option, but together they leave it nothing."""
    actors = [
        {"id": "X", "name": "X", "discount": discount_x, "outside_option": 0.3, "reservation": 0.0,
         "issues": {"a": {"position": 1.0, "salience": 0.5}, "b": {"position": 1.0, "salience": 0.5}}},
        {"id": "Y", "name": "Y", "discount": 1.0, "reservation": 0.0,
         "issues": {"a": {"position": 0.0, "salience": 1.0}}},
        {"id": "Z", "name": "Z", "discount": 1.0, "reservation": 0.0,
         "issues": {"b": {"position": 0.0, "salience": 1.0}}},
    ]
    return scenario.parse({
        "name": "squeeze", "title": "squeeze",
        "issues": [{"id": "a", "label": "A", "status_quo": 0.5}, {"id": "b", "label": "B", "status_quo": 0.5}],
        "actors": actors, "protocol": {"kind": "package", "max_rounds": 24},
    })


def test_a_squeezed_party_walks_away_if_waiting_costs_it_too_much() -> None:
    """The outside option principle: X leaves only when the deal it can expect, discounted for
    the wait, is worth less than its option. The impatient X walks at once; the patient one
    waits for Y and Z to concede, and gets a deal worth more than its option."""
    impatient = deal(squeeze(0.85))
    assert not impatient.agreed and impatient.reason == "walk-away" and impatient.rounds == 1
    patient = deal(squeeze(0.999))
    assert patient.agreed
    assert squeeze(0.999).problem.utility(patient.package)[0] >= 0.3


def test_an_outside_option_is_a_floor_and_no_walk_when_the_deal_beats_it() -> None:
    sc = with_actor_fields(split({"name": "linear"}), X={"outside_option": 0.3})
    o = deal(sc)
    assert o.agreed and o.package[0] >= 0.3
    assert deal(split({"name": "linear"})).package[0] < o.package[0]  # the option pulls the split its way


def test_parties_extend_a_deadline_when_going_on_pays() -> None:
    """Zeuthen's rule concedes a step a round: 20 rounds are too few to meet, two extensions of
    six rounds are enough."""
    zeuthen = {"name": "zeuthen", "params": {"step": 0.03}}
    base = split(strategies=(zeuthen, zeuthen), max_rounds=20, discount=(1.0, 1.0))
    short = deal(base)
    assert not short.agreed and short.reason == "deadline" and short.rounds == 20
    longer = deal(with_actor_fields(base, protocol={"extensions": 2, "extension_rounds": 6}))
    assert longer.agreed and 20 < longer.rounds <= 32
    assert any("extend the deadline" in e for _, e in longer.events)


def test_extensions_run_out() -> None:
    stubborn = {"name": "hardliner", "params": {"level": 0.7}}
    sc = with_actor_fields(split(strategies=(stubborn, stubborn), max_rounds=10),
                           protocol={"extensions": 2, "extension_rounds": 3})
    o = deal(sc)
    assert not o.agreed and o.reason == "deadline" and o.rounds == 16
