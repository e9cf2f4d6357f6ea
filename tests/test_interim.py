"""Trust in package talks, commitment and interim deals (issue 18, part 2), through
``Negotiation(...).run()``: the defaults change nothing, the trust discount moves a pie split as
the offer rule says it must, an interim deal sets the next phase's status quo and trust prior,
breaches happen at the reliability's rate and update trust by the Beta-Bernoulli rule, a breach
can be renegotiated from the delivered state, and bad phases are one-line errors.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom

from model import scenario
from model.core.protocol import run_package_vectorised
from model.errors import InputError
from model.negotiation import Negotiation
from model.paths import set_path
from model.protocols.base import AGREED_REASONS, Delivery, OutcomeReason, PhaseEnded, PhaseStarted, Renegotiation
from tests.factories import small

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# scenarios


def pie(trust: float, weight: float = 1.0, rounds: int = 40) -> dict[str, Any]:
    """A pie split: ``x`` is A's share, B must hand it over (``controlled_by: B``), the pie is
    lost without a deal (reservations 0), both concede linearly; A trusts B with ``trust``."""
    return {
        "name": "pie", "title": "pie", "seed": 3,
        "issues": [{"id": "x", "label": "A's share", "status_quo": 0.0, "controlled_by": "B"}],
        "actors": [
            {"id": "A", "name": "A", "reservation": 0.0, "strategy": {"name": "linear"},
             "trust": {"prior": trust}, "issues": {"x": {"position": 1.0, "salience": 1.0}}},
            {"id": "B", "name": "B", "reservation": 0.0, "strategy": {"name": "linear"},
             "issues": {"x": {"position": 0.0, "salience": 1.0}}},
        ],
        "protocol": {"max_rounds": rounds, "trust_discount": weight},
    }


def swap(protocol: dict[str, Any], full: float = 1.0) -> dict[str, Any]:
    """Two parties trading moves each controls: M frees prisoners (``p``), U lifts sanctions
    (``s``) and opens an embassy (``e``); U delivers in full with probability ``full`` (else
    nothing); M's trust in U starts at 0.4 with strength 2."""
    return {
        "name": "swap", "title": "swap", "seed": 5,
        "issues": [
            {"id": "p", "label": "prisoners", "status_quo": 0.0, "controlled_by": "M"},
            {"id": "s", "label": "sanctions relief", "status_quo": 0.0, "controlled_by": "U"},
            {"id": "e", "label": "embassy", "status_quo": 0.0, "controlled_by": "U"},
        ],
        "actors": [
            {"id": "U", "name": "U", "strategy": {"name": "linear"},
             "delivery": {"full": full, "partial": 0.0},
             "issues": {"p": {"position": 1.0, "salience": 0.7}, "s": {"position": 0.0, "salience": 0.2},
                        "e": {"position": 0.0, "salience": 0.1}}},
            {"id": "M", "name": "M", "strategy": {"name": "linear"}, "trust": {"prior": 0.4, "strength": 2.0},
             "issues": {"p": {"position": 0.0, "salience": 0.2}, "s": {"position": 1.0, "salience": 0.5},
                        "e": {"position": 1.0, "salience": 0.3}}},
        ],
        "protocol": protocol,
    }


INTERIM = {"kind": "sequence", "phases": [
    {"issues": ["p", "s"], "max_rounds": 10, "trust_discount": 1.0},
    {"max_rounds": 12, "trust_discount": 1.0},
]}


def run(data: dict[str, Any], seed: int | None = None) -> Negotiation:
    m = Negotiation(scenario.parse(data), rng=seed)
    m.run()
    return m


# --------------------------------------------------------------------------------------------
# defaults: nothing changes


@pytest.mark.parametrize("protocol", [{"max_rounds": 20}, {"max_rounds": 8, "breakdown_risk": 0.2}])
def test_a_package_run_with_the_new_settings_off_is_the_core_engines_run(protocol: dict[str, Any]) -> None:
    """The Mesa model with trust discount, implementation and renegotiation off (the defaults)
    negotiates as the vectorised core engine, which knows nothing of them."""
    sc = scenario.parse(small(protocol=protocol))
    assert sc.params.trust_discount == 0.0 and not sc.params.implement and sc.params.renegotiations == 0
    for seed in range(4):
        o = Negotiation(sc, rng=seed).run()
        c = run_package_vectorised(sc.problem, list(sc.strategies), sc.proposer_order(), sc.params.max_rounds,
                                   sc.params.breakdown_risk, np.random.default_rng(seed))
        assert (o.agreed, str(o.reason), o.rounds) == (c.agreed, c.reason, c.rounds)
        if o.agreed:
            assert c.package is not None and o.package is not None
            np.testing.assert_array_equal(o.package, c.package)
        assert not o.phases and o.metrics["deliveries"] == 0


def test_full_trust_under_the_discount_and_a_one_phase_sequence_change_nothing() -> None:
    """Trust 1 makes every promise count in full: the discount is then no discount. A sequence of
    one package phase over every issue, delivered in full, is the package itself."""
    plain = run(swap({"max_rounds": 12}))
    trusting = swap({"max_rounds": 12, "trust_discount": 1.0})
    for a in trusting["actors"]:
        a["trust"] = {"prior": 1.0}
    full = run(trusting)
    one = run(swap({"kind": "sequence", "phases": [{"max_rounds": 12}]}))
    for m in (full, one):
        assert m.outcome is not None and plain.outcome is not None
        assert (m.outcome.agreed, m.outcome.reason, m.outcome.rounds) == (True, OutcomeReason.AGREEMENT,
                                                                         plain.outcome.rounds)
        np.testing.assert_allclose(m.state, plain.state, atol=1e-9)


def test_a_sequence_of_one_phase_is_that_phase_alone_draw_for_draw() -> None:
    """A phase draws from the run's generator where the protocol run alone would: with U's
    delivery drawn (full with probability 0.5), every seed gives the same breaches, state,
    rounds and events (the phase events aside)."""
    alone = scenario.parse(swap({"max_rounds": 12, "trust_discount": 1.0, "implement": True, "renegotiations": 1},
                                full=0.5))
    one = scenario.parse(swap({"kind": "sequence", "phases": [
        {"max_rounds": 12, "trust_discount": 1.0, "implement": True, "renegotiations": 1}]}, full=0.5))
    kept = set()
    for seed in range(12):
        a, b = Negotiation(alone, rng=seed).run(), Negotiation(one, rng=seed).run()
        kept |= {e.share >= 1.0 for e in a.events if isinstance(e, Delivery) and e.actor == "U"}
        assert (b.agreed, b.reason, b.rounds) == (a.agreed, a.reason, a.rounds)
        np.testing.assert_array_equal(b.state, a.state)
        assert [e for e in b.events if not isinstance(e, PhaseStarted | PhaseEnded)] == a.events
    assert kept == {True, False}  # U's promise was drawn kept and broken


# --------------------------------------------------------------------------------------------
# the trust discount


@pytest.mark.parametrize(("trust", "weight"), [(1.0, 1.0), (0.8, 1.0), (0.5, 1.0), (0.5, 0.5), (0.3, 1.0)])
def test_a_distrusting_party_gets_the_share_that_equalises_expected_gains(trust: float, weight: float) -> None:
    """A counts B's promise of ``x`` with ``f = 1 - w (1 - t)``: its judged gain is ``f x``, B's
    ``1 - x``. With equal demands ``d`` the meet rule splits the excess equally in normalised
    units (spans 1): ``f x - d = 1 - x - d``, so ``x = 1 / (1 + f)`` whenever they meet
    (the midpoint 1/2 at full trust): the distrusting party demands more of the issue it cannot
    deliver itself, as much as makes its expected delivered share equal B's."""
    m = run(pie(trust, weight))
    o = m.outcome
    assert o is not None and o.agreed and o.package is not None
    f = 1.0 - weight * (1.0 - trust)
    assert o.package[0] == pytest.approx(1.0 / (1.0 + f), abs=1e-9)
    judged = m.offer_effective
    assert judged[0] == pytest.approx(f * o.package[0], abs=1e-9)  # what A counts on
    assert judged[0] == pytest.approx(judged[1], abs=1e-9)  # equal expected gains


def test_the_discount_counts_own_issues_and_issues_without_a_controller_in_full() -> None:
    """B controls ``x``: B judges it in full whatever its trust; with no controller, A does too."""
    data = pie(0.5)
    data["actors"][1]["trust"] = {"prior": 0.1}  # B's distrust of A is about nothing A delivers
    assert run(data).outcome.package[0] == pytest.approx(1.0 / 1.5, abs=1e-9)  # type: ignore[union-attr]
    data["issues"][0]["controlled_by"] = None
    assert run(data).outcome.package[0] == pytest.approx(0.5, abs=1e-9)  # type: ignore[union-attr]


@pytest.mark.parametrize("curvature", [1.0, 2.0, 0.5])
def test_the_judged_utility_is_the_expected_utility_of_the_delivery_lottery(curvature: float) -> None:
    """``judged_utility`` against its definition: each issue's move delivered or not,
    independently, with probability ``f[a, k]``; the expected utility over all 2^I outcomes.
    For linear utilities it is also the utility of the expected delivered package when no ideal
    point lies between the status quo and the deal."""
    import itertools

    from model.core.mechanics import judged_utility, promise_factors

    data = swap({"max_rounds": 5})
    for a in data["actors"]:
        a["curvature"] = curvature
    p = scenario.parse(data).problem
    x = np.array([0.7, 0.4, 0.9])
    sq = p.space.status_quo
    f = promise_factors(np.array([1, 0, 0]), np.array([[1.0, 0.3], [0.6, 1.0]]), 1.0)
    expected = np.zeros(2)
    for hit in itertools.product([0, 1], repeat=3):
        pk = np.where(np.array(hit, dtype=bool), x, sq)
        prob = np.prod(np.where(np.array(hit)[None, :] == 1, f, 1.0 - f), axis=1)
        expected += prob * p.utility(pk)
    np.testing.assert_allclose(judged_utility(p, x, f), expected, atol=1e-12)
    if curvature == 1.0:
        np.testing.assert_allclose(judged_utility(p, x, f), [p.utility(sq + f[a] * (x - sq))[a] for a in range(2)],
                                   atol=1e-12)


# --------------------------------------------------------------------------------------------
# interim deals


def test_an_interim_deal_becomes_the_status_quo_and_the_trust_prior_of_the_next_phase() -> None:
    """Phase 1 on ``p`` and ``s`` is the package the same talks give with ``e`` held at the
    status quo (as an excluded collective holds it); its delivery in full moves M's trust in U
    from the Beta(0.8, 1.2) prior to Beta(1.8, 1.2), mean 0.6 (and U's in M, seeing M deliver,
    from Beta(1, 1) to Beta(2, 1), mean 2/3); phase 2 is the package of a scenario whose status
    quo is phase 1's deal and whose priors are those Betas, every reservation at its new status quo."""
    m = run(swap(INTERIM))
    o = m.outcome
    assert o is not None and len(o.phases) == 2 and o.phases[0]["agreed"]
    # phase 1 = the package over p and s alone
    held = swap({"max_rounds": 10, "trust_discount": 1.0, "implement": True})
    held["actors"].append({"id": "Z", "name": "Z", "consent": False, "issues": {"e": {"position": 0.0,
                                                                                       "salience": 1.0}}})
    held["collectives"] = [{"id": "C", "members": ["Z"], "issues": ["e"], "inclusion": "excluded"}]
    ref1 = run(held)
    assert ref1.outcome is not None and ref1.outcome.agreed
    after1 = o.phases[0]["state"]
    assert [after1["p"], after1["s"], after1["e"]] == pytest.approx(list(ref1.state), abs=1e-6)
    assert after1["e"] == 0.0 and after1["p"] > 0 and after1["s"] > 0
    assert o.phases[0]["rounds"] == ref1.outcome.rounds
    assert o.phases[0]["trust"] == {"U": {"M": pytest.approx(2.0 / 3.0)}, "M": {"U": pytest.approx(0.6)}}
    # phase 2 = the package from phase 1's deal, under the trust phase 1 left
    second = swap({"max_rounds": 12, "trust_discount": 1.0, "implement": True})
    for iss in second["issues"]:
        iss["status_quo"] = float(ref1.state[["p", "s", "e"].index(iss["id"])])
    second["actors"][1]["trust"] = {"prior": 0.6, "strength": 3.0}
    second["actors"][0]["trust"] = {"prior": 2.0 / 3.0, "strength": 3.0}
    ref2 = run(second)
    assert ref2.outcome is not None and o.phases[1]["reason"] == ref2.outcome.reason
    np.testing.assert_allclose(m.state, ref2.state, atol=1e-9)
    assert o.rounds == ref1.outcome.rounds + ref2.outcome.rounds
    u_sq2 = ref2.problem.utility(ref2.problem.space.status_quo)
    assert np.all(ref2.problem.utility(m.state) >= u_sq2 - 1e-9)  # nobody below its new status quo
    # by the end: one more full delivery by U in phase 2 (its issues moved), as in the reference
    n_u = sum(1 for e in o.events if getattr(e, "actor", None) == "U" and e.kind == "delivery")
    assert n_u == 2
    assert m.trust.mean[1, 0] == pytest.approx(2.8 / 4.0) == ref2.trust.mean[1, 0]
    kinds = [type(e) for e in o.events if isinstance(e, PhaseStarted | PhaseEnded)]
    assert kinds == [PhaseStarted, PhaseEnded, PhaseStarted, PhaseEnded]


def test_a_phase_delivered_only_partly_leaves_the_delivered_state_and_lower_trust() -> None:
    """U never delivers: phase 1 ends in breach with only M's move made; M's trust in U falls to
    0.8 / 3 = 0.267 (one failure on the Beta(0.8, 1.2) prior), which phase 2 starts from."""
    m = run(swap(INTERIM, full=0.0))
    o = m.outcome
    assert o is not None and o.phases[0]["reason"] == "breach"
    first = o.phases[0]["state"]
    assert first["s"] == 0.0 and first["p"] > 0.0  # M freed prisoners, U lifted nothing
    fails = sum(1 for e in o.events if getattr(e, "actor", None) == "U" and e.kind == "delivery")
    assert fails >= 1
    assert m.trust.mean[1, 0] == pytest.approx(0.8 / (2.0 + fails))


# --------------------------------------------------------------------------------------------
# commitment


def commit(q: float, renegotiations: int = 0, rounds: int = 12) -> dict[str, Any]:
    data = swap({"max_rounds": rounds, "implement": True, "renegotiations": renegotiations}, full=1.0 - q)
    return data


def test_breaches_happen_at_the_reneging_probability() -> None:
    """U reneges (delivers nothing) with probability q = 0.3: over 150 seeds the share of runs
    ending in breach lies in the binomial 99.9% interval; each breach lowers M's trust in U by
    the Beta-Bernoulli update (one failure on Beta(0.8, 1.2): 0.8 / 3), each full delivery
    raises it (1.8 / 3)."""
    q, n = 0.3, 150
    sc = scenario.parse(commit(q))
    breaches = 0
    for seed in range(n):
        m = Negotiation(sc, rng=seed, collect=False)
        o = m.run()
        assert o.agreed and o.reason in AGREED_REASONS
        if o.reason == OutcomeReason.BREACH:
            breaches += 1
            assert m.trust.mean[1, 0] == pytest.approx(0.8 / 3.0)
            assert m.state[1] == 0.0 and m.state[2] == 0.0  # nothing of U's moves
        else:
            assert m.trust.mean[1, 0] == pytest.approx(1.8 / 3.0)
    lo, hi = binom.interval(0.999, n, q)
    assert lo <= breaches <= hi


def test_a_breach_is_renegotiated_from_the_delivered_state() -> None:
    """With one renegotiation allowed and U reneging, the talks resume after the breach with the
    delivered state (M's move made, U's not) as the new status quo: reservations at the status
    quo move to its utility, and the run goes on past the round of the breach."""
    data = commit(0.5, renegotiations=1, rounds=30)
    sc = scenario.parse(data)
    for seed in range(40):
        m = Negotiation(sc, rng=seed)
        o = m.run()
        reneg = [e for e in o.events if isinstance(e, Renegotiation)]
        if not reneg:
            continue
        r = reneg[0].round
        assert reneg[0].breached_by == ("U",)
        sq = m.problem.space.status_quo
        assert sq[0] > 0.0 and sq[1] == 0.0 and sq[2] == 0.0  # p delivered, s and e not
        np.testing.assert_allclose(m.problem.reservation, m.problem.utility(sq), atol=1e-12)
        assert o.rounds > r
        assert m.trust.mean[1, 0] < 0.4  # the breach was seen
        return
    pytest.fail("no breach in 40 seeds at q = 0.5")


# --------------------------------------------------------------------------------------------
# bad input, paths, the Belarus files


@pytest.mark.parametrize(("protocol", "where", "says"), [
    ({"kind": "sequence", "phases": [{"issues": ["zz"], "max_rounds": 3}]}, "protocol.phases[0].issues[0]",
     "unknown issue 'zz'"),
    ({"kind": "sequence", "phases": [{"kind": "sequence", "phases": [{"max_rounds": 3}]}]}, "protocol.phases",
     "phase 0 is itself a sequence"),
    ({"kind": "sequence", "phases": []}, "protocol.phases", "at least 1 item"),
    ({"kind": "sequence", "phases": [{"max_rounds": 0}]}, "protocol.phases[0].max_rounds",
     "greater than or equal to 1"),
    ({"kind": "sequence", "phases": [{"skip": True}]}, "protocol", "at least one must be played"),
    ({"max_rounds": 5, "renegotiations": 1}, "protocol", "needs implement: true"),
])
def test_bad_phases_are_one_line_errors_naming_file_and_field(
    tmp_path: Path, protocol: dict[str, Any], where: str, says: str
) -> None:
    import yaml

    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(small(protocol=protocol), sort_keys=False))
    with pytest.raises(InputError) as e:
        scenario.load(f)
    text = str(e.value)
    assert len(text.splitlines()) == 1
    assert text.startswith(f"{f}:") and f" {where}: " in text and says in text


def test_a_phase_setting_is_a_sweepable_path() -> None:
    data = swap(copy.deepcopy(INTERIM))
    set_path(data, "protocol.phases[0].max_rounds", 4)
    set_path(data, "protocol.phases[0].skip", True)
    sc = scenario.parse(data)
    assert sc.params.phases[0].max_rounds == 4 and sc.params.phases[0].skip
    o = Negotiation(sc).run()
    assert [p["phase"] for p in o.phases] == [2]  # the skipped phase is not played


@pytest.mark.parametrize("name", ["belarus_interim_then_package", "belarus_minsk_doubts_us"])
def test_the_belarus_files_load_and_run(name: str) -> None:
    sc = scenario.load(ROOT / "scenarios" / f"{name}.yaml")
    o = Negotiation(sc, rng=1, collect=False).run()
    assert o.rounds <= 18 and not math.isnan(float(o.metrics["deliveries"]))
    assert o.metrics["deliveries"] >= 1  # every deal here is implemented


@pytest.mark.slow
def test_bargain_run_writes_a_sequences_phases_events_and_plots(tmp_path: Path) -> None:
    """``bargain run`` on a sequence: ``outcome.json`` holds each phase's outcome, ``events.csv``
    the phase events, and the plots that read the per-round records are written."""
    import csv
    import json

    import yaml
    from click.testing import CliRunner

    from model.cli import main

    f = tmp_path / "swap.yaml"
    f.write_text(yaml.safe_dump(swap(copy.deepcopy(INTERIM)), sort_keys=False))
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(f), "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "outcome.json").read_text())
    assert data["protocol"] == "sequence" and [p["phase"] for p in data["phases"]] == [1, 2]
    assert data["phases"][0]["trust"]["M"]["U"] == pytest.approx(0.6)
    kinds = [row["kind"] for row in csv.DictReader((out / "events.csv").open())]
    assert kinds.count("phase") == 2 and kinds.count("phase end") == 2
    assert all((out / name).stat().st_size > 0 for name in ("trajectory.png", "issues.png", "utility_space.png"))
