"""The mechanisms around the table (``model.core.mechanics``) and how the Mesa model applies them.

Hand-checked numbers: Beta-Bernoulli trust with memory, delivery and spoiler frequencies, the
influence formula, patrons' vetoes, collectives' consent (the EU case with Lithuania), domestic
win-sets, and the scenario checks of every mechanism field (each bad field gives an
``InputError`` naming the field and the fault).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from model import scenario
from model.core.mechanics import (
    Delivery,
    Influence,
    Mechanics,
    Spoiler,
    Trust,
    collective_refusals,
    draw_delivery,
    effective_utility,
    veto_objection,
)
from model.core.search import offer_table
from model.errors import InputError
from model.negotiation import Negotiation
from tests.factories import small


def run(data: dict[str, Any], seed: int | None = None) -> Negotiation:
    m = Negotiation(scenario.parse(copy.deepcopy(data)), rng=seed)
    m.run()
    return m


def three_sigma(count: float, n: int, p: float) -> bool:
    """Whether ``count`` successes in ``n`` trials is within 3 standard errors of ``n * p``."""
    return abs(count - n * p) <= 3.0 * np.sqrt(n * p * (1.0 - p))


# --------------------------------------------------------------------------------------------
# trust


def two_actor_mechanics(memory: tuple[float, float] = (1.0, 0.5)) -> Mechanics:
    """Actor 0 trusts 1 at 0.6 with strength 5; actor 1 trusts 0 at 0.25 with strength 4."""
    return Mechanics(
        controller=np.array([0, 1]),
        trust_prior=np.array([[1.0, 0.6], [0.25, 1.0]]),
        trust_strength=np.array([5.0, 4.0]),
        trust_memory=np.array(memory),
        trust_threshold=np.array([0.5, 0.3]),
        delivery=(Delivery(), Delivery()),
    )


def test_prior_mean_and_strength_give_alpha_and_beta() -> None:
    t = Trust(two_actor_mechanics())
    assert t.alpha[0, 1] == pytest.approx(3.0) and t.beta[0, 1] == pytest.approx(2.0)  # 0.6 * 5, 0.4 * 5
    assert t.alpha[1, 0] == pytest.approx(1.0) and t.beta[1, 0] == pytest.approx(3.0)  # 0.25 * 4, 0.75 * 4
    np.testing.assert_allclose(t.mean, [[1.0, 0.6], [0.25, 1.0]])


def test_a_scenarios_trust_fields_compile_to_the_prior_matrix() -> None:
    d = small()
    d["actors"][0]["trust"] = {"prior": 0.3, "strength": 10.0, "memory": 0.8, "threshold": 0.2}
    d["actors"][1]["trust"] = {"prior": 0.5, "toward": {"X": 0.9}}
    m = Negotiation(scenario.parse(d))
    np.testing.assert_allclose(m.trust.mean, [[1.0, 0.3], [0.9, 1.0]])
    assert m.trust.alpha[0, 1] == pytest.approx(3.0) and m.trust.beta[0, 1] == pytest.approx(7.0)
    assert m.trust.alpha[1, 0] == pytest.approx(1.8) and m.trust.beta[1, 0] == pytest.approx(0.2)  # default strength 2
    np.testing.assert_allclose(m.trust.memory, [0.8, 1.0])
    np.testing.assert_allclose(m.trust.threshold, [0.2, 0.0])


def test_observe_with_memory_1_is_the_conjugate_update_for_a_fractional_delivery() -> None:
    t = Trust(two_actor_mechanics())
    t.observe(np.array([0]), 1, 0.3)  # alpha 3 + 0.3, beta 2 + 0.7
    assert t.alpha[0, 1] == pytest.approx(3.3) and t.beta[0, 1] == pytest.approx(2.7)
    assert t.mean[0, 1] == pytest.approx(0.55)
    t.observe(np.array([0]), 1, 1.0)  # 4.3 / 7
    assert t.mean[0, 1] == pytest.approx(4.3 / 7.0)
    t.observe(np.array([0]), 1, 0.0)  # 4.3 / 8
    assert t.mean[0, 1] == pytest.approx(4.3 / 8.0)
    assert t.alpha[0, 1] + t.beta[0, 1] == pytest.approx(8.0)  # each observation adds one pseudo-count
    assert t.mean[1, 0] == pytest.approx(0.25)  # nobody else's trust moved


def test_memory_below_1_forgets_old_evidence_geometrically() -> None:
    t = Trust(two_actor_mechanics())  # actor 1 has memory 0.5: alpha 1, beta 3
    t.observe(np.array([1]), 0, 1.0)
    assert t.alpha[1, 0] == pytest.approx(1.5) and t.beta[1, 0] == pytest.approx(1.5)
    t.observe(np.array([1]), 0, 1.0)
    assert t.alpha[1, 0] == pytest.approx(1.75) and t.beta[1, 0] == pytest.approx(0.75)
    assert t.mean[1, 0] == pytest.approx(0.7)
    for _ in range(8):  # ten full deliveries in all: alpha = m^n alpha0 + (1 - m^n) / (1 - m), beta = m^n beta0
        t.observe(np.array([1]), 0, 1.0)
    m, n = 0.5, 10
    assert t.alpha[1, 0] == pytest.approx(m**n * 1.0 + (1 - m**n) / (1 - m))
    assert t.beta[1, 0] == pytest.approx(m**n * 3.0)
    # the strength m^n * 4 + (1 - m^n) / (1 - m) tends to 1 / (1 - m) = 2, whatever the prior's
    assert t.alpha[1, 0] + t.beta[1, 0] == pytest.approx(2.0 + m**n * (4.0 - 2.0))


def test_with_memory_the_latest_deliveries_outweigh_the_old_ones() -> None:
    # the same history (a full delivery, then a default) judged with and without forgetting
    keep, forget = Trust(two_actor_mechanics((1.0, 1.0))), Trust(two_actor_mechanics((0.5, 0.5)))
    for t in (keep, forget):
        t.observe(np.array([1]), 0, 1.0)
        t.observe(np.array([1]), 0, 0.0)
    assert keep.mean[1, 0] == pytest.approx(2.0 / 6.0)
    assert forget.mean[1, 0] == pytest.approx(0.75 / 2.5)  # alpha 0.5*(0.5+1) = 0.75, beta 0.5*1.5 + 1 = 1.75
    assert forget.mean[1, 0] < keep.mean[1, 0]


def test_shift_keeps_the_strength_and_clips_the_mean() -> None:
    t = Trust(two_actor_mechanics())
    t.shift(0, 1, 0.2)
    assert t.mean[0, 1] == pytest.approx(0.8)
    assert t.alpha[0, 1] == pytest.approx(4.0) and t.beta[0, 1] == pytest.approx(1.0)
    t.shift(0, 1, 0.5)
    assert t.mean[0, 1] == pytest.approx(0.99) and t.alpha[0, 1] + t.beta[0, 1] == pytest.approx(5.0)
    t.shift(1, 0, -1.0)
    assert t.mean[1, 0] == pytest.approx(0.01) and t.alpha[1, 0] + t.beta[1, 0] == pytest.approx(4.0)


def test_an_actor_pauses_when_its_trust_in_a_counterpart_is_below_its_threshold() -> None:
    t = Trust(two_actor_mechanics())  # 0 trusts 1 at 0.6 (threshold 0.5); 1 trusts 0 at 0.25 (threshold 0.3)
    assert t.paused([[1], [0]]).tolist() == [False, True]
    assert t.paused([[], []]).tolist() == [False, False]  # no counterpart, no pause
    t.shift(0, 1, -0.1)  # exactly at its threshold: not below it
    assert t.paused([[1], [0]]).tolist() == [False, True]
    t.shift(0, 1, -0.01)
    t.shift(1, 0, 0.05)
    assert t.paused([[1], [0]]).tolist() == [True, False]


# --------------------------------------------------------------------------------------------
# delivery


def test_draw_delivery_frequencies_match_full_partial_and_none() -> None:
    d = Delivery(full=0.5, partial=0.3, share=0.4)
    rng = np.random.default_rng(7)
    n = 20_000
    draws = np.array([draw_delivery(rng, d) for _ in range(n)])
    assert set(np.unique(draws)) == {0.0, 0.4, 1.0}
    for value, p in ((1.0, 0.5), (0.4, 0.3), (0.0, 0.2)):
        assert three_sigma(np.sum(draws == value), n, p), (value, np.mean(draws == value))


def test_certain_delivery_draws_no_random_number() -> None:
    rng = np.random.default_rng(3)
    before = copy.deepcopy(rng.bit_generator.state)
    assert all(draw_delivery(rng, Delivery(full=1.0, partial=0.0)) == 1.0 for _ in range(50))
    assert rng.bit_generator.state == before
    draw_delivery(rng, Delivery(full=0.99, partial=0.0))
    assert rng.bit_generator.state != before  # any uncertainty draws one number


def test_delivery_that_never_comes_is_zero_and_partial_only_is_the_share() -> None:
    rng = np.random.default_rng(0)
    assert {draw_delivery(rng, Delivery(full=0.0, partial=0.0)) for _ in range(100)} == {0.0}
    assert {draw_delivery(rng, Delivery(full=0.0, partial=1.0, share=0.25)) for _ in range(100)} == {0.25}


# --------------------------------------------------------------------------------------------
# spoilers


def test_scheduled_spoilers_always_fire_and_draw_nothing_without_a_rate() -> None:
    sp = Spoiler("s", "s", 0.0, frozenset({2, 5}), ())
    rng = np.random.default_rng(1)
    before = copy.deepcopy(rng.bit_generator.state)
    assert [sp.fires(rng, r) for r in range(1, 8)] == [False, True, False, False, True, False, False]
    assert rng.bit_generator.state == before


def test_a_spoilers_rate_is_its_firing_frequency_and_its_rounds_fire_anyway() -> None:
    sp = Spoiler("s", "s", 0.3, frozenset({3}), ())
    n = 20_000
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        hits = sum(sp.fires(rng, 1) for _ in range(n))
        assert three_sigma(hits, n, 0.3), hits / n
        assert all(sp.fires(rng, 3) for _ in range(200))


def spoiler_scenario(rate: float, rounds: int = 3) -> dict[str, Any]:
    d = small(protocol={"max_rounds": rounds})
    for a in d["actors"]:  # hardliners: every run lasts to the deadline
        a["strategy"] = {"name": "boulware", "params": {"exponent": 50}}
    d["spoilers"] = [{"id": "incident", "rate": rate,
                      "effects": [{"kind": "trust", "actor": "X", "toward": "Y", "change": -0.1}]}]
    return d


def test_spoiler_events_fire_at_the_set_rate_over_many_seeded_runs() -> None:
    sc = scenario.parse(spoiler_scenario(0.3))
    fired = rounds = 0
    for seed in range(2000):
        o = Negotiation(sc, rng=seed, collect=False).run()
        fired += o.metrics["spoilers"]
        rounds += o.rounds
    assert rounds == 3 * 2000
    assert three_sigma(fired, rounds, 0.3), fired / rounds


def test_a_fired_spoiler_is_logged_and_applies_its_effect() -> None:
    d = spoiler_scenario(0.0)
    d["spoilers"][0]["rounds"] = [2]
    m = Negotiation(scenario.parse(d))
    m.step()
    assert m.trust.mean[0, 1] == pytest.approx(0.5) and m.counts["spoilers"] == 0
    m.step()
    assert m.trust.mean[0, 1] == pytest.approx(0.4) and m.counts["spoilers"] == 1
    assert m.events[-1] == (2, "spoiler incident: X's trust in Y -0.1")


# --------------------------------------------------------------------------------------------
# influence and vetoes


def test_effective_utility_mixes_the_clients_gain_with_its_patrons() -> None:
    mech = Mechanics.neutral(small_problem())
    mech3 = Mechanics(
        controller=np.array([-1]), trust_prior=np.ones((3, 3)), trust_strength=np.full(3, 2.0),
        trust_memory=np.ones(3), trust_threshold=np.zeros(3), delivery=(Delivery(),) * 3,
        influence=(Influence(client=1, patron=2, weight=0.25),),
    )
    u = np.array([0.8, 0.4, 0.9])
    r = np.array([0.5, 0.2, 0.6])
    # r_c + (1 - w)(u_c - r_c) + w (u_p - r_p) = 0.2 + 0.75 * 0.2 + 0.25 * 0.3 = 0.425
    np.testing.assert_allclose(effective_utility(u, r, mech3), [0.8, 0.425, 0.9])
    batch = np.array([u, [0.1, 0.2, 0.3]])  # (n, A): every row judged alike
    np.testing.assert_allclose(effective_utility(batch, r, mech3)[1], [0.1, 0.2 + 0.0 + 0.25 * (0.3 - 0.6), 0.3])
    assert effective_utility(u, r, mech) is u  # no influence: the utilities themselves


def small_problem():  # noqa: ANN201 - a core.Problem
    return scenario.parse(small()).problem


def patron_scenario(strength: float = 1.0, weight: float = 0.0, veto: tuple[str, ...] = ("align",),
                    **extra: Any) -> dict[str, Any]:
    """X and the client C both want ``align`` (at 0) moved to 1; C's patron P (not a party) wants it
    at 0. X wants trade at 0, C at 1 (status quo 0)."""
    d: dict[str, Any] = {
        "name": "patron", "title": "a client, its patron and a counterpart", "seed": 5,
        "issues": [{"id": "trade", "label": "trade", "status_quo": 0.0},
                   {"id": "align", "label": "alignment", "status_quo": 0.0}],
        "actors": [
            {"id": "X", "name": "X", "issues": {"trade": {"position": 0.0, "salience": 0.3},
                                               "align": {"position": 1.0, "salience": 0.7}}},
            {"id": "C", "name": "C", "issues": {"trade": {"position": 1.0, "salience": 0.7},
                                               "align": {"position": 1.0, "salience": 0.3}},
             "influence": [{"patron": "P", "weight": weight, "veto": list(veto), "veto_strength": strength}]},
            {"id": "P", "name": "P", "consent": False, "issues": {"align": {"position": 0.0, "salience": 1.0}}},
        ],
        "protocol": {"max_rounds": 8},
    }
    d.update(extra)
    return d


def test_veto_objection_on_red_lines_and_moves_of_the_veto_issues_only() -> None:
    d = {
        "name": "veto", "title": "t",
        "issues": [{"id": "z", "label": "z", "status_quo": 0.2}, {"id": "w", "label": "w", "status_quo": 0.5}],
        "actors": [
            {"id": "C", "name": "C", "issues": {"z": {"position": 1.0, "salience": 0.5},
                                               "w": {"position": 1.0, "salience": 0.5}}},
            {"id": "P", "name": "P", "issues": {"z": {"position": 0.0, "salience": 0.5},
                                               "w": {"position": 0.0, "salience": 0.5}},
             "red_lines": [{"issue": "z", "max": 0.6}, {"issue": "w", "max": 0.6}]},
        ],
    }
    p = scenario.parse(d).problem
    inf = Influence(client=0, patron=1, weight=0.0, veto=(0,))
    base = np.array([0.2, 0.5])
    assert veto_objection(p, inf, np.array([0.7, 0.5]), base) == "crosses its red line P: z <= 0.6"
    assert veto_objection(p, inf, np.array([0.4, 0.5]), base) == "moves z against it"
    assert veto_objection(p, inf, np.array([0.2, 0.9]), base) is None  # w: against P, past its line, no veto
    assert veto_objection(p, inf, np.array([0.0, 0.9]), base) is None  # z moves toward P
    assert veto_objection(p, Influence(0, 1, 0.0, veto=()), np.array([0.7, 0.5]), base) is None
    # against the current state rather than the status quo: z 0.4 -> 0.3 is toward P
    assert veto_objection(p, inf, np.array([0.3, 0.5]), np.array([0.4, 0.5])) is None


def test_a_patron_with_full_veto_strength_blocks_its_clients_acceptance() -> None:
    m = run(patron_scenario(strength=1.0), seed=0)
    df = m.datacollector.get_agent_vars_dataframe().reset_index()
    props = m.datacollector.get_model_vars_dataframe()
    # every offer X made moved align 0 -> 1 against P; C answered with P's veto whenever it
    # would otherwise have accepted, and never accepted one
    x_rounds = props.index[props["proposer"] == "X"] + 1
    c_answers = df[(df["actor"] == "C") & df["Step"].isin(x_rounds)]["response"].tolist()
    assert (props.loc[props["proposer"] == "X", "offer.align"] == 1.0).all()
    assert "veto" in c_answers and "accepted" not in c_answers
    c = m.actors[1]
    m.table(np.array([1.0, 1.0]))
    c.aspiration = c.reservation
    r = c.respond(m.offer)
    assert not r.accepted and r.reason == "veto" and r.detail == "P vetoes it: it moves align against it"


def test_a_veto_strength_of_0_never_blocks() -> None:
    for seed in range(3):
        m = run(patron_scenario(strength=0.0), seed=seed)
        df = m.datacollector.get_agent_vars_dataframe()
        assert "veto" not in set(df["response"])
        assert m.outcome.agreed and m.outcome.package[1] == 1.0


def test_with_full_veto_strength_no_agreed_deal_moves_the_veto_issue_against_the_patron() -> None:
    for seed in range(3):
        o = run(patron_scenario(strength=1.0), seed=seed).outcome
        assert not o.agreed or o.package[1] == 0.0, (o.rounds, o.proposer, o.package)


def test_influence_weight_turns_an_accepted_offer_into_a_rejected_one() -> None:
    # at the status quo (0, 0): u_C = 0 = r_C, u_P = 1 = r_P; the offer (1, 1) gives C 1 and P 0
    answers = {}
    for w in (0.0, 0.3, 1.0):
        m = Negotiation(scenario.parse(patron_scenario(weight=w, veto=())))
        c = m.actors[1]
        c.aspiration = c.reservation
        m.table(np.array([1.0, 1.0]))
        # r_c + (1 - w)(u_c - r_c) + w (u_p - r_p) = 0 + (1 - w) * 1 + w * (0 - 1)
        assert m.offer_effective[1] == pytest.approx(1.0 - 2.0 * w)
        answers[w] = c.respond(m.offer)
    assert answers[0.0].accepted and answers[0.3].accepted
    assert not answers[1.0].accepted and answers[1.0].reason == "below reservation"
    assert answers[1.0].utility == pytest.approx(-1.0)


def test_a_client_fully_under_its_patrons_pull_agrees_to_nothing_its_patron_loses_from() -> None:
    for seed in range(3):
        m = run(patron_scenario(weight=1.0, veto=()), seed=seed)
        o = m.outcome
        assert not o.agreed, (o.rounds, o.proposer, o.package)


def test_a_client_never_offers_what_its_patrons_certain_veto_blocks() -> None:
    sc = scenario.parse(patron_scenario(strength=1.0))
    table = offer_table(sc.problem, 1, sc.mech)
    assert len(table.own) > 0
    assert np.all(table.packages[:, 1] == 0.0)  # align never moves toward 1, which P vetoes
    plain = offer_table(sc.problem, 1)  # without the mechanics: the veto issue does move
    assert np.any(plain.packages[:, 1] > 0.0)


def test_no_offer_is_the_status_quo_and_a_clients_own_utility_carries_the_pull() -> None:
    sc = scenario.parse(patron_scenario(weight=0.5, veto=()))
    p = sc.problem
    table = offer_table(p, 1, sc.mech)
    assert not np.any(np.all(table.packages == p.space.status_quo, axis=1))
    u = table.utilities
    # r_c + (1 - w)(u_c - r_c) + w (u_p - r_p), with w = 0.5
    want = p.reservation[1] + 0.5 * (u[:, 1] - p.reservation[1]) + 0.5 * (u[:, 2] - p.reservation[2])
    np.testing.assert_allclose(table.own, want)
    assert np.all(np.diff(table.own) >= 0)


def test_a_weaker_veto_is_drawn_on_the_clients_own_offers() -> None:
    vetoed_own, proposed = 0, 0
    for seed in range(20):
        m = run(patron_scenario(strength=0.5), seed=seed)
        df = m.datacollector.get_agent_vars_dataframe()
        mine = df[(df["actor"] == "C") & df["proposed"]]
        proposed += len(mine)
        vetoed_own += int((mine["response"] == "veto").sum())
        o = m.outcome
        if o.agreed and o.proposer == "C":
            assert o.package[1] == 0.0 or (mine["response"] == "veto").sum() < len(mine)
    # C's own offers move align (it wants it at 1), so about half of them are vetoed
    assert 0 < vetoed_own < proposed


def test_the_incremental_protocol_applies_the_veto_and_the_pull_to_the_clients_own_tranches() -> None:
    inc = {"kind": "incremental", "max_rounds": 10, "step": 0.5, "step_growth": 1.0, "order": ["C", "X"]}
    for seed in range(3):
        vetoed = run(patron_scenario(strength=1.0, protocol=inc), seed=seed)
        df = vetoed.datacollector.get_model_vars_dataframe()
        assert (df["state.align"] == 0.0).all()  # align never moves against P
        free = run(patron_scenario(strength=0.0, protocol=inc), seed=seed)
        assert free.state[1] > 0.0  # without the veto it does
        pulled = run(patron_scenario(weight=1.0, veto=(), protocol=inc), seed=seed)
        assert pulled.state[1] == 0.0


# --------------------------------------------------------------------------------------------
# collectives and ratification


def eu_case(ltu_max: float, inclusion: str = "party", slack: float = 0.0) -> dict[str, Any]:
    """USA and BLR (the parties) both want eu_sanctions at 0.5 (status quo 0); it belongs to a
    collective whose member Lithuania is not a party and allows at most ``ltu_max``."""
    return {
        "name": "eu", "title": "a deal needing EU consent", "seed": 3,
        "issues": [{"id": "prisoners", "label": "p", "status_quo": 0.0},
                   {"id": "relief", "label": "r", "status_quo": 0.0},
                   {"id": "eu_sanctions", "label": "e", "status_quo": 0.0}],
        "actors": [
            {"id": "USA", "name": "USA", "issues": {"prisoners": {"position": 1.0, "salience": 0.8},
                                                   "relief": {"position": 0.0, "salience": 0.2},
                                                   "eu_sanctions": {"position": 0.5, "salience": 0.1}}},
            {"id": "BLR", "name": "BLR", "issues": {"prisoners": {"position": 0.0, "salience": 0.2},
                                                   "relief": {"position": 1.0, "salience": 0.5},
                                                   "eu_sanctions": {"position": 0.5, "salience": 0.6}}},
            {"id": "LTU", "name": "LTU", "consent": False, "reservation": 0.0,
             "issues": {"eu_sanctions": {"position": 0.0, "salience": 1.0}},
             "red_lines": [{"issue": "eu_sanctions", "max": ltu_max}],
             "win_set": {"slack": slack}},
        ],
        "collectives": [{"id": "EU", "members": ["LTU"], "issues": ["eu_sanctions"], "inclusion": inclusion}],
        "protocol": {"max_rounds": 6},
    }


def test_a_package_needing_eu_consent_fails_when_lithuanias_red_line_is_crossed() -> None:
    offer = np.array([1.0, 1.0, 0.5])
    m = Negotiation(scenario.parse(eu_case(0.4)))
    for a in m.actors:
        a.aspiration = a.reservation
    m.table(offer)
    blockers = m.consult(offer, proposer=0)
    assert [a.actor_id for a in blockers] == ["LTU"]
    assert blockers[0].response.reason == "no consent"
    assert blockers[0].response.detail == "EU consent refused: LTU: eu_sanctions <= 0.4"
    m = Negotiation(scenario.parse(eu_case(0.6)))
    for a in m.actors:
        a.aspiration = a.reservation
    m.table(offer)
    assert m.consult(offer, proposer=0) == []


def test_a_proposer_foresees_the_refusal_and_leaves_the_eu_issue_alone() -> None:
    m = run(eu_case(0.4))
    o = m.outcome
    assert o.agreed and o.package[2] <= 0.4
    offers = m.datacollector.get_model_vars_dataframe()["offer.eu_sanctions"]
    assert (offers.dropna() <= 0.4).all()  # no offer crossed Lithuania's line
    df = m.datacollector.get_agent_vars_dataframe()
    assert "no consent" not in set(df["response"])


def test_the_same_package_passes_when_lithuanias_red_line_is_not_crossed() -> None:
    o = run(eu_case(0.6)).outcome
    assert o.agreed and o.reason == "agreement"
    assert o.package[2] == 0.5 and not o.blocked_by


def test_an_excluded_collective_keeps_its_issues_at_the_status_quo_in_every_package() -> None:
    sc = scenario.parse(eu_case(0.4, inclusion="excluded"))
    assert sc.problem.fixed == (2,)
    assert sc.mech.excluded_issues == (2,) and sc.mech.package_neutral
    m = Negotiation(sc)
    o = m.run()
    assert o.agreed and o.package[2] == 0.0
    assert (m.datacollector.get_model_vars_dataframe()["offer.eu_sanctions"] == 0.0).all()


def test_collective_refusals_name_the_member_and_why() -> None:
    sc = scenario.parse(eu_case(0.4))
    p, mech = sc.problem, sc.mech
    base = p.space.status_quo
    assert collective_refusals(p, mech, np.array([1.0, 1.0, 0.0]), base) == []  # its issue does not move
    assert collective_refusals(p, mech, np.array([0.0, 0.0, 0.3]), base) == []
    assert collective_refusals(p, mech, np.array([0.0, 0.0, 0.5]), base) == [
        (2, "EU consent refused: LTU: eu_sanctions <= 0.4")]
    # below its reservation: LTU wants eu_sanctions at 0, utility 1 - x
    d = eu_case(1.0)
    d["actors"][2]["reservation"] = 0.8
    sc = scenario.parse(d)
    assert collective_refusals(sc.problem, sc.mech, np.array([0.0, 0.0, 0.15]), base) == []
    assert collective_refusals(sc.problem, sc.mech, np.array([0.0, 0.0, 0.25]), base) == [
        (2, "EU consent refused: utility 0.750 < reservation 0.800")]


def test_a_members_win_set_slack_lowers_its_consent_floor_once() -> None:
    d = eu_case(1.0, slack=0.2)
    d["actors"][2]["reservation"] = 0.5  # floor 0.5 - 0.2 = 0.3; LTU's utility is 1 - eu_sanctions
    sc = scenario.parse(d)
    assert sc.problem.reservation[2] == pytest.approx(0.3)
    base = sc.problem.space.status_quo
    assert collective_refusals(sc.problem, sc.mech, np.array([0.0, 0.0, 0.65]), base) == []  # 0.35 >= 0.3
    assert [r[0] for r in collective_refusals(sc.problem, sc.mech, np.array([0.0, 0.0, 0.8]), base)] == [2]


def test_win_set_slack_lowers_the_reservation_used_in_the_problem() -> None:
    d = small()
    d["actors"][0]["win_set"] = {"slack": 0.1}
    d["actors"][1]["reservation"] = 0.4
    d["actors"][1]["win_set"] = {"slack": -0.05}  # a negative slack raises it
    base = scenario.parse(small()).problem.reservation
    p = scenario.parse(d).problem
    assert p.reservation[0] == pytest.approx(base[0] - 0.1)
    assert p.reservation[1] == pytest.approx(0.45)
    np.testing.assert_allclose(scenario.parse(d).mech.slack, [0.1, -0.05])


def ratification_case(noise: float) -> dict[str, Any]:
    d = small(protocol={"max_rounds": 4})
    for a in d["actors"]:  # hardliners agree in the last round, at their reservations
        a["strategy"] = {"name": "boulware", "params": {"exponent": 30}}
    d["actors"][1]["win_set"] = {"noise": noise}
    return d


def test_ratification_noise_sometimes_fails_a_deal_and_is_deterministic_for_a_seed() -> None:
    assert all(run(ratification_case(0.0), seed=s).outcome.agreed for s in range(5))
    sc = scenario.parse(ratification_case(0.3))
    outcomes = [Negotiation(sc, rng=s).run() for s in range(40)]
    failed = [o for o in outcomes if not o.agreed]
    assert failed and len(failed) < len(outcomes)
    for o in failed:
        assert o.reason == "deadline" and o.rounds == 4
        assert [(b[0], b[1]) for b in o.blocked_by] == [("Y", "not ratified")]
        assert "its home constituency wants" in o.blocked_by[0][2]
    for s in (0, 1, 2):
        a, b = Negotiation(sc, rng=s).run(), Negotiation(sc, rng=s).run()
        assert (a.agreed, a.reason, a.rounds, a.blocked_by) == (b.agreed, b.reason, b.rounds, b.blocked_by)


# --------------------------------------------------------------------------------------------
# scenario checks of the mechanisms


def three_actors() -> dict[str, Any]:
    d = small()
    d["actors"].append({"id": "Z", "name": "Z", "consent": False, "issues": {"a": {"position": 0.5, "salience": 1.0}}})
    return d


def expect_fault(data: dict[str, Any], *parts: str) -> None:
    with pytest.raises(InputError) as e:
        scenario.parse(data)
    text = "\n".join(e.value.lines())
    for part in parts:
        assert part in text, text


def with_change(change: Any) -> dict[str, Any]:
    d = three_actors()
    change(d)
    return d


BAD_MECHANISMS = {
    "controller": (lambda d: d["issues"][0].update(controlled_by="Q"),
                   ["issues[0].controlled_by", "unknown actor 'Q'"]),
    "trust toward": (lambda d: d["actors"][0].update(trust={"toward": {"Q": 0.5}}),
                     ["actors[0].trust.toward.Q", "unknown actor 'Q'"]),
    "trust in itself": (lambda d: d["actors"][0].update(trust={"toward": {"X": 0.5}}),
                        ["actors[0].trust.toward.X", "cannot set its trust in itself"]),
    "full + partial": (lambda d: d["actors"][1].update(delivery={"full": 0.7, "partial": 0.5}),
                       ["actors[1].delivery.partial", "full (0.7) + partial (0.5) exceeds 1"]),
    "unknown patron": (lambda d: d["actors"][1].update(influence=[{"patron": "Q", "weight": 0.2}]),
                       ["actors[1].influence[0].patron", "unknown actor 'Q'"]),
    "own patron": (lambda d: d["actors"][1].update(influence=[{"patron": "Y"}]),
                   ["actors[1].influence[0].patron", "Y cannot be its own patron"]),
    "unknown veto issue": (lambda d: d["actors"][1].update(influence=[{"patron": "X", "veto": ["q"]}]),
                           ["actors[1].influence[0].veto[0]", "unknown issue 'q'"]),
    "weights above 1": (lambda d: d["actors"][1].update(influence=[{"patron": "X", "weight": 0.6},
                                                                   {"patron": "Z", "weight": 0.6}]),
                        ["actors[1].influence", "the patrons' weights add up to 1.2; at most 1"]),
    "a weight above 1": (lambda d: d["actors"][1].update(influence=[{"patron": "X", "weight": 1.5}]),
                         ["actors[1].influence[0].weight", "less than or equal to 1 (got 1.5)"]),
    "collective member": (lambda d: d.update(collectives=[{"id": "EU", "members": ["Q"], "issues": ["a"]}]),
                          ["collectives[0].members[0]", "unknown actor 'Q'"]),
    "collective issue": (lambda d: d.update(collectives=[{"id": "EU", "members": ["Z"], "issues": ["q"]}]),
                         ["collectives[0].issues[0]", "unknown issue 'q'"]),
    "issue in two collectives": (
        lambda d: d.update(collectives=[{"id": "EU", "members": ["Z"], "issues": ["a"]},
                                        {"id": "NATO", "members": ["X"], "issues": ["a"]}]),
        ["collectives[1].issues[0]", "'a' already belongs to collective 'EU'"]),
    "spoiler never fires": (
        lambda d: d.update(spoilers=[{"id": "s", "effects": [{"kind": "status_quo", "issue": "a", "value": 0.1}]}]),
        ["spoilers[0]", "spoiler 's' never fires: give it a rate above 0 or rounds"]),
    "spoiler after the deadline": (
        lambda d: d.update(spoilers=[{"id": "s", "rounds": [21],
                                      "effects": [{"kind": "status_quo", "issue": "a", "value": 0.1}]}]),
        ["spoilers[0].rounds[0]", "round 21 is after the deadline (protocol.max_rounds 20)"]),
    "trust effect without change": (
        lambda d: d.update(spoilers=[{"id": "s", "rate": 0.1,
                                      "effects": [{"kind": "trust", "actor": "X", "toward": "Y"}]}]),
        ["spoilers[0].effects[0]", "a trust effect needs a change"]),
    "trust effect without actor": (
        lambda d: d.update(spoilers=[{"id": "s", "rate": 0.1,
                                      "effects": [{"kind": "trust", "toward": "Y", "change": 0.1}]}]),
        ["spoilers[0].effects[0]", "this effect needs an actor"]),
    "trust effect toward unknown": (
        lambda d: d.update(spoilers=[{"id": "s", "rate": 0.1,
                                      "effects": [{"kind": "trust", "actor": "X", "toward": "Q", "change": 0.1}]}]),
        ["spoilers[0].effects[0].toward", "unknown actor 'Q'"]),
    "salience effect without issue": (
        lambda d: d.update(spoilers=[{"id": "s", "rate": 0.1,
                                      "effects": [{"kind": "salience", "actor": "X", "change": 0.1}]}]),
        ["spoilers[0].effects[0]", "this effect needs an issue"]),
    "status quo effect without value": (
        lambda d: d.update(spoilers=[{"id": "s", "rate": 0.1, "effects": [{"kind": "status_quo", "issue": "a"}]}]),
        ["spoilers[0].effects[0]", "a status_quo effect needs a value"]),
    "position effect off the levels": (
        lambda d: d.update(spoilers=[{"id": "s", "rate": 0.1, "effects": [
            {"kind": "position", "actor": "X", "issue": "c", "value": 0.3}]}]),
        ["spoilers[0].effects[0].value", "0.3 is not a level of ordinal issue 'c'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_MECHANISMS))
def test_a_bad_mechanism_field_gives_an_input_error_naming_the_field_and_fault(case: str) -> None:
    change, parts = BAD_MECHANISMS[case]
    expect_fault(with_change(change), *parts)


def test_the_unchanged_three_actor_scenario_is_valid() -> None:  # so each case above fails for its own fault
    scenario.parse(three_actors())


# --------------------------------------------------------------------------------------------
# variant files (extends: / set:)


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_variant_changes_its_base_with_set(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", small())
    f = write(tmp_path / "v.yaml", {"extends": "base.yaml", "name": "v", "set": {
        "protocol.kind": "incremental", "actors.Y.trust.prior": 0.2, "issues.a.controlled_by": "X"}})
    sc = scenario.load(f)
    assert sc.spec.name == "v" and sc.spec.protocol.kind == "incremental"
    assert sc.spec.actors[1].trust.prior == 0.2 and sc.mech.controller.tolist() == [0, -1, -1]
    assert sc.spec.title == small()["title"]


@pytest.mark.parametrize(
    ("variant", "parts"),
    [
        ({"extends": "base.yaml", "issues": []}, ["issues", "a variant (extends:) may only set"]),
        ({"extends": "missing.yaml"}, ["extends", "its base missing.yaml is not valid", "no such file"]),
        ({"extends": "v.yaml"}, ["extends", "v.yaml extends this file again: a cycle"]),
        ({"extends": "w.yaml"}, ["extends", "cycle"]),
        ({"extends": "base.yaml", "set": {"actors.Q.trust.prior": 0.5}},
         ["set.actors.Q.trust.prior", "points nowhere"]),
        ({"extends": "base.yaml", "set": {"protocol.kind": "nonsense"}},
         ["v.yaml:3: protocol.kind", "(got 'nonsense')"]),
        ({"extends": "base.yaml", "set": ["protocol.kind"]}, ["set", "set needs a mapping"]),
        ({"extends": ""}, ["extends", "extends needs the base scenario's file name"]),
        ({"extends": "bad_base.yaml"}, ["extends", "its base bad_base.yaml is not valid", "unknown actor 'Q'"]),
    ],
)
def test_variant_errors_name_the_field_and_the_problem(tmp_path: Path, variant: dict[str, Any],
                                                        parts: list[str]) -> None:
    write(tmp_path / "base.yaml", small())
    bad = small()
    bad["issues"][0]["controlled_by"] = "Q"
    write(tmp_path / "bad_base.yaml", bad)
    write(tmp_path / "w.yaml", {"extends": "v.yaml"})
    f = write(tmp_path / "v.yaml", variant)
    with pytest.raises(InputError) as e:
        scenario.load(f)
    text = "\n".join(e.value.lines())
    assert str(f) in text
    for part in parts:
        assert part in text, text
