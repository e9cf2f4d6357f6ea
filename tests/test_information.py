"""Private information (issue #18, part 1): beliefs over private reservations and red lines, offers
against beliefs, learning from answers, misjudgement as an outcome (docs/model.md, "What parties
do not know"). Every check runs the engine (``Negotiation(...).run()`` or the sweep's ``run_one``)."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from model import scenario
from model.core.beliefs import TREMBLE
from model.errors import InputError
from model.negotiation import Negotiation
from model.sweep.rows import run_one
from tests.factories import small

ROOT = Path(__file__).resolve().parents[1]


def _outcome_key(sc: scenario.Scenario, seed: int) -> tuple[Any, ...]:
    o = Negotiation(sc, rng=seed, collect=False).run()
    pk = None if o.package is None else np.asarray(o.package).tobytes()
    return (o.agreed, o.reason, o.rounds, pk, np.asarray(o.state).tobytes(), o.blocked_by,
            [e.pair() for e in o.events])


# --------------------------------------------------------------------------------------------
# public information: nothing changes


@pytest.mark.parametrize("name", ["belarus_us_2025.yaml", "belarus_package.yaml", "belarus_russian_veto.yaml"])
def test_public_information_block_changes_nothing(name: str) -> None:
    """An ``information`` block that keeps everything public gives bit-for-bit the same runs (and
    the same digest only when absent: the block is part of the scenario's content)."""
    data = scenario.load_data(ROOT / "scenarios" / name)[0]
    marked = copy.deepcopy(data)
    for act in marked["actors"]:
        act["information"] = {"reservation": "public", "signal": 0.7}
    a, b = scenario.parse(data), scenario.parse(marked)
    assert b.information is None
    for seed in range(3):
        assert _outcome_key(a, seed) == _outcome_key(b, seed)


def test_public_runs_report_no_misjudgement() -> None:
    sc = scenario.load(ROOT / "scenarios" / "belarus_us_2025.yaml")
    row = run_one(sc, 0)
    assert row["misjudged"] == "" and row["misjudged_count"] == 0
    assert isinstance(row["zone_existed"], bool)


# --------------------------------------------------------------------------------------------
# screening: one round, the responder's reservation r_L (prob p) or r_H


def _split(r_true: float, r_l: float, r_h: float, p: float, signal: float = 0.0, rounds: int = 1,
           types: list[float] | None = None, prior: list[float] | None = None) -> dict[str, Any]:
    """A pie of size 1 (``x``: the proposer's share; linear utilities ``x`` and ``1 - x``); the
    responder's reservation is private, the proposer's prior is ``{r_L: p, r_H: 1 - p}``."""
    return {
        "name": "screen", "title": "take it or leave it, two types",
        "issues": [{"id": "x", "label": "the proposer's share", "status_quo": 0.0}],
        "actors": [
            {"id": "P", "name": "proposer", "issues": {"x": {"position": 1.0, "salience": 1.0}},
             "reservation": 0.0, "strategy": {"name": "hardliner", "params": {"level": 1.0}}},
            {"id": "R", "name": "responder", "issues": {"x": {"position": 0.0, "salience": 1.0}},
             "reservation": r_true, "strategy": {"name": "hardliner", "params": {"level": 0.0}},
             "information": {"reservation": "private", "types": types or [r_l, r_h],
                             "prior": prior or [p, 1.0 - p], "signal": signal}},
        ],
        "protocol": {"kind": "package", "max_rounds": rounds, "order": ["P"]},
    }


@lru_cache(maxsize=32)
def _screen(r_true: float, r_l: float, r_h: float, p: float, signal: float = 0.0) -> scenario.Scenario:
    return scenario.parse(_split(r_true, r_l, r_h, p, signal))


#: (r_L, r_H, p): the first offers r_H (1 - r_H >= p (1 - r_L)), the second r_L, the third is the tie
REGIMES = [(0.2, 0.5, 0.5), (0.2, 0.5, 0.8), (0.2, 0.6, 0.5)]


@pytest.mark.parametrize(("r_l", "r_h", "p"), REGIMES)
def test_screening_offer_is_the_analytic_one(r_l: float, r_h: float, p: float) -> None:
    """The proposer offers the responder r_H iff 1 - r_H >= p (1 - r_L), else r_L, whatever the
    responder's true type (its information is private and no signal is received); the responder
    accepts iff the offer meets its true reservation."""
    screen_high = 1.0 - r_h >= p * (1.0 - r_l) - 1e-12
    offered = r_h if screen_high else r_l
    for r_true in (r_l, r_h):
        o = Negotiation(_screen(r_true, r_l, r_h, p), rng=0, collect=False).run()
        last = o.package if o.agreed else None
        got = 1.0 - float(o.package[0]) if last is not None else None
        if o.agreed:
            assert got == pytest.approx(offered, abs=1e-6)
        assert o.agreed == (offered >= r_true - 1e-9)
        if not o.agreed:
            assert o.blocked_by[0][:2] == ("R", "below reservation")


@pytest.mark.slow
@pytest.mark.parametrize(("r_l", "r_h", "p"), REGIMES[:2])
def test_screening_over_many_seeds_matches_the_analytic_values(r_l: float, r_h: float, p: float) -> None:
    """Nature draws the responder's type (r_L w.p. p) in each of N seeded runs: the agreement
    rate and the expected shares match the screening values within 4 binomial standard errors
    (screen r_H: agreement 1, shares (1 - r_H, r_H); screen r_L: agreement p, shares
    (p (1 - r_L), p r_L))."""
    n = 200
    rng = np.random.default_rng(18)
    agreed, share_p, share_r = [], [], []
    for seed in range(n):
        r_true = r_l if rng.random() < p else r_h
        o = Negotiation(_screen(r_true, r_l, r_h, p), rng=seed, collect=False).run()
        agreed.append(o.agreed)
        x = float(o.package[0]) if o.agreed else 0.0  # no deal: each keeps its reservation (not counted)
        share_p.append(x)
        share_r.append(1.0 - x if o.agreed else 0.0)
    want = (1.0, 1.0 - r_h, r_h) if 1.0 - r_h >= p * (1.0 - r_l) else (p, p * (1.0 - r_l), p * r_l)
    se = 4 * np.sqrt(p * (1 - p) / n)
    assert np.mean(agreed) == pytest.approx(want[0], abs=se)
    assert np.mean(share_p) == pytest.approx(want[1], abs=se)
    assert np.mean(share_r) == pytest.approx(want[2], abs=se)


# --------------------------------------------------------------------------------------------
# learning


def test_beliefs_converge_toward_the_truth_under_refusals() -> None:
    """The proposer concedes over ten rounds; every refusal is honest (the responder answers on
    its true floor), so the posterior mass on the true type never falls and ends far above the
    prior's, and the proposer's belief mean ends near the truth."""
    types = [round(0.1 * k, 1) for k in range(11)]
    data = _split(0.4, 0.0, 0.0, 0.0, rounds=10, types=types, prior=[1 / 11] * 11)
    data["actors"][0]["strategy"] = {"name": "linear"}
    m = Negotiation(scenario.parse(data), rng=3, collect=False)
    assert m.beliefs is not None
    true_k = types.index(0.4)
    mass = [float(m.beliefs.res[(0, 1)][true_k])]
    while m.running:
        m.step()
        mass.append(float(m.beliefs.res[(0, 1)][true_k]))
    assert all(b >= a - 1e-12 for a, b in zip(mass, mass[1:], strict=False))
    assert mass[-1] > 5 * mass[0]
    assert abs(m.beliefs.mean(0, 1) - 0.4) < 0.1


def test_refusal_downweights_by_the_tremble_only() -> None:
    """A refusal leaves contradicted types with the tremble's weight, never zero."""
    m = Negotiation(_screen(0.5, 0.2, 0.5, 0.8), rng=0, collect=False)
    m.run()
    assert m.beliefs is not None
    w = m.beliefs.res[(0, 1)]
    # r_L was offered and refused: r_L is down-weighted by TREMBLE relative to r_H
    assert w[0] / w[1] == pytest.approx(TREMBLE * 0.8 / 0.2, rel=1e-9)
    assert m.information_summary()["misjudged"] == "P->R"


def test_signals_are_seeded_and_informative() -> None:
    """The same seed gives the same beliefs; over seeds, a precise signal puts more mass on the
    true type than the prior does."""
    types = [round(0.1 * k, 1) for k in range(11)]
    data = _split(0.7, 0.0, 0.0, 0.0, signal=0.8, types=types, prior=[1 / 11] * 11)
    sc = scenario.parse(data)
    a = Negotiation(sc, rng=5, collect=False).beliefs
    b = Negotiation(sc, rng=5, collect=False).beliefs
    assert a is not None and b is not None
    assert np.array_equal(a.res[(0, 1)], b.res[(0, 1)])
    means = [Negotiation(sc, rng=s, collect=False).beliefs.mean(0, 1) for s in range(40)]  # type: ignore[union-attr]
    assert abs(float(np.mean(means)) - 0.7) < 0.05
    assert float(np.std(means)) < 0.15


def test_private_red_line_is_refused_and_revealed() -> None:
    """X's red line on ``a`` is private and Y believes it absent (prior 0, so no signal can show
    it): Y's first offer crosses it, X refuses with a red-line reason, everyone then knows the
    line, and the talks still reach a deal that keeps it."""
    d = small()
    d["actors"][0]["information"] = {"red_lines": [0], "red_line_prior": 0.0}
    d["actors"][0]["red_lines"] = [{"issue": "a", "min": 0.6}]
    d["protocol"] = {"max_rounds": 20, "order": ["Y", "X"]}
    m = Negotiation(scenario.parse(d), rng=0)
    m.step()
    assert m.actors[0].response is not None and m.actors[0].response.reason == "red line"
    assert m.beliefs is not None and m.beliefs.line[(1, 0)] == 1.0
    o = m.run()
    assert o.agreed and float(o.package[0]) >= 0.6 - 1e-9
    assert "Y->X" in m.information_summary()["misjudged"]


# --------------------------------------------------------------------------------------------
# the mediator's information


def _mediated_private(signal: float, estimate: float = 0.6) -> scenario.Scenario:
    data = scenario.load_data(ROOT / "scenarios" / "belarus_private_veto.yaml")[0]
    d = copy.deepcopy(data)
    d["protocol"] = {"kind": "mediated", "mediator_signal": signal, "max_rounds": 18}
    d["actors"][1]["information"]["estimate"] = estimate
    return scenario.parse(d)


def test_mediator_drafts_with_its_belief_of_private_reservations() -> None:
    """A fully informed mediator (signal 1) drafts on the true problem; one with no signal drafts
    with the public prior's mean for Minsk's reservation, and its first text differs (the
    normalised surplus it maximises moves with that belief)."""
    informed = Negotiation(_mediated_private(1.0), rng=1, collect=False)
    assert informed.mediator_problem() is informed.problem
    blind = Negotiation(_mediated_private(0.0), rng=1, collect=False)
    info = blind.config.information
    assert info is not None and info.private[1] is not None
    prior_mean = float(info.private[1].prior @ info.private[1].types)
    assert blind.mediator_problem().reservation[1] == pytest.approx(prior_mean)
    assert np.array_equal(blind.mediator_problem().reservation[[0, 2]], blind.problem.reservation[[0, 2]])
    informed.step()
    blind.step()
    assert informed.offer is not None and blind.offer is not None
    assert not np.array_equal(informed.offer, blind.offer)


def test_mediator_signal_precision_narrows_its_error() -> None:
    """Over the same seeds, a more precise mediator signal puts its belief mean closer to the truth
    (a prior far off the truth: centred on 0.6 against about 0.37)."""
    truth = float(_mediated_private(1.0).problem.reservation[1])

    def error(signal: float) -> float:
        sc = _mediated_private(signal, estimate=0.6)
        return float(np.mean([abs(Negotiation(sc, rng=s, collect=False).mediator_problem().reservation[1] - truth)
                              for s in range(30)]))

    assert error(0.9) < error(0.5) < error(0.1)


# --------------------------------------------------------------------------------------------
# misjudgement as an outcome: agreement falls as information worsens, a zone existing


@pytest.mark.slow
def test_agreement_rises_with_signal_precision_while_a_zone_exists() -> None:
    """With r_L = 0.2 (p = 0.8) and r_H = 0.5, a proposer without information screens r_L and
    loses the deal with the high type; a precise signal lets it offer each type its floor. Over
    the same 60 seeds per precision (nature's draw shared), every run has a zone of agreement,
    the agreement rate never falls by more than 0.05 from one precision to the next (the
    criterion: monotone up to sampling noise) and rises by at least 0.1 from 0 to 1."""
    rates = []
    for signal in (0.0, 0.5, 0.9, 1.0):
        rng = np.random.default_rng(7)
        ok = []
        for seed in range(60):
            r_true = 0.2 if rng.random() < 0.8 else 0.5
            row = run_one(_screen(r_true, 0.2, 0.5, 0.8, signal), seed)
            assert row["zone_existed"] is True
            ok.append(row["agreed"])
        rates.append(float(np.mean(ok)))
    assert all(b >= a - 0.05 for a, b in zip(rates, rates[1:], strict=False)), rates
    assert rates[-1] >= rates[0] + 0.1, rates


# --------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(("info", "field", "words"), [
    ({"reservation": "private", "signal": 1.5}, "actors[0].information.signal", "less than or equal to 1"),
    ({"reservation": "private", "width": 0.0}, "actors[0].information.width", "greater than 0"),
    ({"red_lines": [3]}, "actors[0].information.red_lines[0]", "X has no red line 3"),
    ({"reservation": "public", "estimate": 0.3}, "actors[0].information.estimate", "reservation is public"),
    ({"reservation": "private", "types": [0.1, 0.2], "prior": [0.5, 0.6]}, "actors[0].information.prior",
     "add up to 1.1"),
    ({"reservation": "private", "types": [0.3, 0.2]}, "actors[0].information.types", "must increase"),
])
def test_bad_information_is_one_line_naming_file_and_field(
    tmp_path: Path, info: dict[str, Any], field: str, words: str
) -> None:
    d = small()
    d["actors"][0]["information"] = info
    f = tmp_path / "bad_info.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(InputError) as e:
        scenario.load(f)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(f) in msg and field in msg and words in msg


# --------------------------------------------------------------------------------------------
# a patron's private veto strength


def _veto_case(types: list[float], prior: list[float], truth: float, rounds: int = 1) -> dict[str, Any]:
    """P proposes to R, client of the patron S, who may veto any deal that moves ``y`` off 0.
    P wants x = 1 (salience 0.6) and y = 1 (0.4); R wants x = 0 and needs 0.2; S's veto
    strength ``truth`` is private: P holds the prior ``types``/``prior`` over it."""
    return {
        "name": "veto", "title": "take it or leave it under a patron's private veto",
        "issues": [{"id": "x", "label": "P's share", "status_quo": 0.0},
                   {"id": "y", "label": "the patron's issue", "status_quo": 0.0}],
        "actors": [
            {"id": "P", "name": "proposer", "reservation": 0.0,
             "issues": {"x": {"position": 1.0, "salience": 0.6}, "y": {"position": 1.0, "salience": 0.4}},
             "strategy": {"name": "hardliner", "params": {"level": 1.0}}},
            {"id": "R", "name": "client", "reservation": 0.2, "issues": {"x": {"position": 0.0, "salience": 1.0}},
             "strategy": {"name": "hardliner", "params": {"level": 0.0}},
             "influence": [{"patron": "S", "weight": 0.0, "veto": ["y"], "veto_strength": truth,
                            "information": {"veto_strength": "private", "types": types, "prior": prior}}]},
            {"id": "S", "name": "patron", "consent": False, "issues": {"y": {"position": 0.0, "salience": 1.0}}},
        ],
        "protocol": {"kind": "package", "max_rounds": rounds, "order": ["P"]},
    }


#: P's utilities of (x, y) = (0.8, 1) (R gets its floor 0.2, y moves) and (0.8, 0) (y stays):
#: it moves y iff (1 - E[s]) u_move >= u_stay, i.e. E[s] <= 1 - 0.48 / 0.88 = 0.4545...
U_MOVE, U_STAY = 0.6 * 0.8 + 0.4, 0.6 * 0.8
VETO_THRESHOLD = 1.0 - U_STAY / U_MOVE


@pytest.mark.parametrize("belief", [0.0, 0.3, VETO_THRESHOLD - 0.01, VETO_THRESHOLD + 0.01, 0.7, 1.0])
def test_private_veto_choice_flips_at_the_belief_threshold(belief: float) -> None:
    """With the belief {0: 1 - q, 1: q} over the veto strength (E[s] = q), P offers the deal that
    moves the veto issue iff (1 - q) u_move >= u_stay (the disagreement value is 0), else the one
    that leaves it alone; the true strength does not enter P's choice."""
    for truth in (0.0, 1.0):
        m = Negotiation(scenario.parse(_veto_case([0.0, 1.0], [1.0 - belief, belief], truth)), rng=0, collect=False)
        u = m.problem.utility(np.array([[0.8, 1.0], [0.8, 0.0]]))[:, 0]
        assert u == pytest.approx([U_MOVE, U_STAY], abs=1e-9)
        m.step()
        assert m.offer is not None
        moves = belief <= VETO_THRESHOLD
        assert m.offer == pytest.approx([0.8, 1.0 if moves else 0.0], abs=1e-6)
        o = m.outcome
        assert o is not None and o.agreed == (not moves or truth == 0.0)
        if moves and truth == 1.0:
            assert o.blocked_by[0][:2] == ("R", "veto")


@pytest.mark.parametrize("truth", [0.0, 1.0])
def test_a_veto_test_updates_the_belief_by_bayes(truth: float) -> None:
    """The prior over the strength types 0, 1/4, ..., 1 puts E[s] = 0.25 below the threshold, so
    P's offer moves the veto issue; the patron vetoes (strength 1) or does not (0), and P's
    belief becomes prior times s (a veto) or prior times 1 - s (none), renormalised. The client
    and the patron hold no belief over a strength they know."""
    types, prior = [0.0, 0.25, 0.5, 0.75, 1.0], [0.6, 0.1, 0.1, 0.1, 0.1]
    m = Negotiation(scenario.parse(_veto_case(types, prior, truth)), rng=0, collect=False)
    assert m.beliefs is not None and set(m.beliefs.veto) == {(0, 0)}
    m.step()
    lik = np.array(types) if truth == 1.0 else 1.0 - np.array(types)
    want = np.array(prior) * lik
    assert m.beliefs.veto[(0, 0)] == pytest.approx(want / want.sum(), abs=1e-12)
    assert m.beliefs.p_no_veto(0, 0) == pytest.approx(1.0 - float(want @ types / want.sum()))


@pytest.mark.parametrize(("info", "field", "words"), [
    ({"veto_strength": "private", "prior": [0.5, 0.6]}, "prior", "2 prior weights for 5 types"),
    ({"veto_strength": "private", "types": [0.0, 1.0], "prior": [0.5, 0.6]}, "prior", "add up to 1.1"),
    ({"veto_strength": "private", "types": [0.5, 0.2]}, "types", "must increase"),
    ({"veto_strength": "public", "estimate": 0.3}, "estimate", "veto_strength is public"),
    ({"veto_strength": "private", "signal": 2.0}, "signal", "less than or equal to 1"),
])
def test_bad_veto_information_is_one_line_naming_file_and_field(
    tmp_path: Path, info: dict[str, Any], field: str, words: str
) -> None:
    d = _veto_case([0.0, 1.0], [0.5, 0.5], 0.5)
    d["actors"][1]["influence"][0]["information"] = info
    f = tmp_path / "bad_veto.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(InputError) as e:
        scenario.load(f)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(f) in msg and f"actors[1].influence[0].information.{field}" in msg and words in msg


def test_private_strength_without_veto_issues_is_refused(tmp_path: Path) -> None:
    d = _veto_case([0.0, 1.0], [0.5, 0.5], 0.5)
    d["actors"][1]["influence"][0]["veto"] = []
    f = tmp_path / "no_veto.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(InputError, match=r"influence\[0\]\.information\.veto_strength.*no veto issues"):
        scenario.load(f)


# --------------------------------------------------------------------------------------------
# private red lines by id


def test_private_red_lines_by_id_are_those_by_index() -> None:
    """``information.red_lines`` may name a line by its id: the compiled information, and the
    runs, are those of the same line given by its index."""
    d = small()
    d["actors"][0]["red_lines"] = [{"id": "keep_b", "issue": "b", "max": 0.9},
                                   {"id": "keep_a", "issue": "a", "min": 0.6}]
    by_index, by_id = copy.deepcopy(d), copy.deepcopy(d)
    by_index["actors"][0]["information"] = {"red_lines": [1], "red_line_prior": 0.0}
    by_id["actors"][0]["information"] = {"red_lines": ["keep_a"], "red_line_prior": 0.0}
    a, b = scenario.parse(by_index), scenario.parse(by_id)
    assert a.information is not None and b.information is not None
    assert a.information.private_lines == b.information.private_lines
    assert _outcome_key(a, 0) == _outcome_key(b, 0)


def test_unknown_private_red_line_id_names_the_known_ids(tmp_path: Path) -> None:
    d = small()
    d["actors"][0]["red_lines"] = [{"id": "keep_a", "issue": "a", "min": 0.6}]
    d["actors"][0]["information"] = {"red_lines": ["keep_b"]}
    f = tmp_path / "bad_id.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(InputError) as e:
        scenario.load(f)
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg and "actors[0].information.red_lines[0]" in msg
    assert "no red line with id 'keep_b'" in msg and "keep_a" in msg


# --------------------------------------------------------------------------------------------
# no truth leaks into a proposer's reasoning


def test_first_offer_ignores_the_true_private_reservation() -> None:
    """Two rounds, prior {0.2: 0.2, 0.5: 0.8}, no signal: the proposer's first offer and its
    value of going on depend on its beliefs only, not on the responder's true reservation (0.2,
    0.35 or 0.6). Its value of going on is the deal that leaves the responder its believed mean
    floor, 1 - E[r] = 0.56, so it screens (offers 0.2): 0.2 * 0.8 + 0.8 * 0.56 > 0.5, the worth
    of offering r_H. (Part 1 read the true floor there: with r = 0.6 it expected 0.4 from going
    on and offered 0.5.)"""
    mean_r = 0.2 * 0.2 + 0.8 * 0.5
    offers, values = [], []
    for r_true in (0.2, 0.35, 0.6):
        m = Negotiation(scenario.parse(_split(r_true, 0.2, 0.5, 0.2, rounds=2)), rng=0, collect=False)
        m.round = 1
        for a in m.actors:
            a.update_aspiration()
        values.append(m.value_of_going_on(0, 1))
        m.round = 0
        m.step()
        assert m.offer is not None
        offers.append(float(m.offer[0]))
    assert values == pytest.approx([1.0 - mean_r] * 3, abs=1e-6)
    assert 0.2 * 0.8 + 0.8 * (1.0 - mean_r) > 1.0 - 0.5
    assert offers == pytest.approx([0.8] * 3, abs=1e-6)


def test_zeuthen_risk_reads_the_believed_reservation() -> None:
    """The smallest Zeuthen risk among the others, as a party with beliefs sees it, uses its
    belief mean of a private reservation, whatever the truth."""
    risks = []
    for r_true in (0.2, 0.6):
        m = Negotiation(scenario.parse(_split(r_true, 0.2, 0.5, 0.2, rounds=4)), rng=0, collect=False)
        r = m.actors[1]
        r.previous, r.received = 0.9, [0.5]
        risks.append(m.others_risk(0))
    assert risks[0] == pytest.approx(risks[1])


# --------------------------------------------------------------------------------------------
# two-period screening: the continuation after a refusal uses what the refusal teaches


@pytest.mark.parametrize(("p", "delta"), [(0.5, 0.9), (0.5, 0.2), (0.45, 0.5), (0.5, 0.5), (0.3, 0.9)])
def test_two_period_screening_matches_the_skimming_result(p: float, delta: float) -> None:
    """Two rounds, the proposer offering in both with discount factor delta; the responder's
    floor is r_L = 0.2 (probability p) or r_H = 0.5, and it takes any offer that meets it (the
    myopic buyer of the two-period durable-goods model, Fudenberg & Tirole 1991, Game Theory,
    ch. 10.2, with the buyer's discount factor 0). Backward induction: a refusal of r_L reveals
    r_H, so round 2 offers r_H; in round 1 the proposer skims (offers r_L, the high type agreeing
    at r_H in round 2) iff p (1 - r_L) + (1 - p) delta (1 - r_H) > 1 - r_H, else it offers r_H at
    once and both types agree in round 1."""
    r_l, r_h = 0.2, 0.5
    skim = p * (1 - r_l) + (1 - p) * delta * (1 - r_h) > 1 - r_h + 1e-12
    for r_true in (r_l, r_h):
        d = _split(r_true, r_l, r_h, p, rounds=2)
        d["actors"][0]["discount"] = delta
        o = Negotiation(scenario.parse(d), rng=0, collect=False).run()
        assert o.agreed
        share = 1.0 - float(o.package[0])
        if skim:
            assert (o.rounds, share) == (1 if r_true == r_l else 2, pytest.approx(r_true, abs=1e-6))
        else:
            assert (o.rounds, share) == (1, pytest.approx(r_h, abs=1e-6))
