"""A shared battery (as Axelrod's strategy tests): every protocol and every strategy keeps the
same invariants. ``ProtocolBattery`` is subclassed once per protocol in ``model.protocols.PROTOCOLS``
(on small scenarios and on the baseline under that protocol); ``StrategyBattery`` once per
strategy in ``model.core.strategies.STRATEGIES``. A test checks that none is left out.
"""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from model import scenario
from model.core.strategies import STRATEGIES, Situation, make_strategy
from model.negotiation import Negotiation, Outcome
from model.protocols import AGREED_REASONS, PROTOCOLS, Event, EventKind, OutcomeReason, ResponseReason
from model.protocols.package import PackageParams
from tests.factories import small
from tests.test_engine_theory import split, squeeze, with_actor_fields

ZEUTHEN = {"name": "zeuthen", "params": {"step": 0.03}}
STUBBORN = {"name": "hardliner", "params": {"level": 0.7}}

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "belarus_us_2025.yaml"

#: small scenarios every protocol runs: the small one, one with a breakdown risk and a controller
#: (so that step-by-step protocols deliver), and one where a party has an outside option
SMALLS: dict[str, dict[str, Any]] = {
    "small": small(),
    "risky": small(protocol={"max_rounds": 12, "breakdown_risk": 0.1}),
    "controlled": (lambda d: (d["issues"][0].update(controlled_by="X"), d["issues"][1].update(controlled_by="Y"),
                              d)[-1])(small(protocol={"max_rounds": 15})),
}


def with_kind(data: dict[str, Any], kind: str) -> dict[str, Any]:
    d = copy.deepcopy(data)
    d["protocol"] = {**d.get("protocol", {}), "kind": kind}
    return d


_BASE_DATA: dict[str, Any] = {}


def baseline_data() -> dict[str, Any]:
    if not _BASE_DATA:
        _BASE_DATA.update(scenario.load_data(BASELINE)[0])
    return copy.deepcopy(_BASE_DATA)


class ProtocolBattery:
    """The invariants of every protocol. Subclasses set ``kind``."""

    kind: ClassVar[str]
    seeds: ClassVar[tuple[int, ...]] = (0, 1, 2)

    @pytest.fixture(params=[*SMALLS, "baseline"])
    def compiled(self, request: pytest.FixtureRequest) -> scenario.Scenario:
        data = baseline_data() if request.param == "baseline" else SMALLS[request.param]
        return scenario.parse(with_kind(data, self.kind))

    def outcomes(self, sc: scenario.Scenario) -> list[tuple[Negotiation, Outcome]]:
        out = []
        for seed in self.seeds:
            m = Negotiation(sc, rng=seed, collect=False)
            out.append((m, m.run()))
        return out

    def test_it_is_the_protocol_asked_for(self, compiled: scenario.Scenario) -> None:
        m = Negotiation(compiled, rng=0, collect=False)
        assert m.protocol.name == self.kind and isinstance(m.protocol, PROTOCOLS[self.kind])
        assert isinstance(compiled.params, PROTOCOLS[self.kind].Params)

    def test_an_agreement_crosses_no_red_line_and_leaves_no_party_below_its_reservation(
        self, compiled: scenario.Scenario
    ) -> None:
        for m, o in self.outcomes(compiled):
            if not o.agreed or o.package is None:
                continue
            p = m.problem
            ok = p.redlines.satisfied(o.package)[0]
            u = p.utility(o.package)
            for a in p.parties:
                assert ok[a], (self.kind, p.actor_ids[a], o.reason)
                assert u[a] >= p.reservation[a] - 1e-9, (self.kind, p.actor_ids[a], u[a], p.reservation[a])

    def test_the_same_seed_gives_the_same_outcome(self, compiled: scenario.Scenario) -> None:
        def key(o: Outcome) -> tuple[Any, ...]:
            pk = None if o.package is None else tuple(np.round(o.package, 12))
            st = None if o.state is None else tuple(np.round(o.state, 12))
            return (o.agreed, o.reason, o.rounds, pk, st, tuple(o.blocked_by), tuple(e.pair() for e in o.events))

        first = [key(o) for _, o in self.outcomes(compiled)]
        again = [key(o) for _, o in self.outcomes(compiled)]
        assert first == again

    def test_it_ends_by_its_deadline(self, compiled: scenario.Scenario) -> None:
        params = compiled.params
        extra = params.extensions * params.extension_rounds if isinstance(params, PackageParams) else 0
        for _, o in self.outcomes(compiled):
            assert 0 <= o.rounds <= params.max_rounds + extra

    def test_reasons_come_from_the_enums(self, compiled: scenario.Scenario) -> None:
        for _, o in self.outcomes(compiled):
            assert isinstance(o.reason, OutcomeReason)
            assert o.agreed == (o.reason in AGREED_REASONS)
            for actor, why, detail in o.blocked_by:
                assert isinstance(actor, str) and isinstance(detail, str)
                assert why in set(ResponseReason), why

    def test_events_are_structured(self, compiled: scenario.Scenario) -> None:
        for m, o in self.outcomes(compiled):
            rounds = [e.round for e in o.events]
            assert rounds == sorted(rounds)
            for e in o.events:
                assert isinstance(e, Event) and isinstance(e.kind, EventKind)
                assert 0 <= e.round <= o.rounds
                assert e.actor is None or e.actor in m.problem.actor_ids
                assert isinstance(e.text, str) and e.text and tuple(e) == (e.round, e.text)


class TestPackage(ProtocolBattery):
    kind = "package"


class TestIncremental(ProtocolBattery):
    kind = "incremental"


class TestFramework(ProtocolBattery):
    kind = "framework"


class TestMediated(ProtocolBattery):
    kind = "mediated"


class TestEUM(ProtocolBattery):
    kind = "eum"


class TestSequence(ProtocolBattery):
    """An interim package on the first two issues, then the package on all (half the rounds each),
    every promise delivered (with a shortfall a party's reservation in the main talks is its
    utility of what was delivered, which may be below the one the invariant checks)."""

    kind = "sequence"

    @pytest.fixture(params=[*SMALLS, "baseline"])
    def compiled(self, request: pytest.FixtureRequest) -> scenario.Scenario:
        data = baseline_data() if request.param == "baseline" else copy.deepcopy(SMALLS[request.param])
        proto = {k: v for k, v in data.get("protocol", {}).items() if k in ("discount", "breakdown_risk", "order")}
        half = max(1, data.get("protocol", {}).get("max_rounds", 60) // 2)
        first = [iss["id"] for iss in data["issues"][:2]]
        data["protocol"] = {"kind": "sequence", "phases": [
            {**proto, "issues": first, "max_rounds": half}, {**proto, "max_rounds": half}]}
        for a in data["actors"]:
            a["delivery"] = {"full": 1.0}
        return scenario.parse(data)


class TestPackageWithExtensionsAndOutsideOptions(ProtocolBattery):
    """The package protocol's own hooks: deadline extensions and walking away (the cases of
    tests/test_engine_theory.py)."""

    kind = "package"
    CASES: ClassVar[dict[str, Any]] = {
        "extended": lambda: with_actor_fields(
            split(strategies=(ZEUTHEN, ZEUTHEN), max_rounds=20, discount=(1.0, 1.0)),
            protocol={"extensions": 2, "extension_rounds": 6}),
        "extensions run out": lambda: with_actor_fields(
            split(strategies=(STUBBORN, STUBBORN), max_rounds=10), protocol={"extensions": 2, "extension_rounds": 3}),
        "walks": lambda: squeeze(0.85),
        "waits": lambda: squeeze(0.999),
    }

    @pytest.fixture(params=list(CASES))
    def compiled(self, request: pytest.FixtureRequest) -> scenario.Scenario:
        return self.CASES[request.param]()

    def test_the_hooks_fire(self) -> None:
        kinds = set()
        reasons = set()
        for make in self.CASES.values():
            for _, o in self.outcomes(make()):
                kinds |= {e.kind for e in o.events}
                reasons.add(o.reason)
        assert {EventKind.EXTENSION, EventKind.EXTENSION_REFUSED} & kinds
        assert OutcomeReason.WALK_AWAY in reasons and OutcomeReason.AGREEMENT in reasons


def test_every_protocol_has_its_battery() -> None:
    covered = {cls.kind for cls in ProtocolBattery.__subclasses__()}
    assert covered == set(PROTOCOLS)


# --------------------------------------------------------------------------------------------
# strategies


def situations() -> list[Situation]:
    out = []
    for t, n, (best, floor), prev, rec, rec0, risk, kappa, share in itertools.product(
        (0, 1, 5, 9), (10,), ((0.9, 0.3), (0.6, 0.6), (0.5, 0.7)), (math.nan, 0.8), (math.nan, 0.4, 0.85),
        (math.nan, 0.35), (math.nan, 0.2, 0.9), (1.0, 0.9), (math.nan, 0.5),
    ):
        out.append(Situation(t, n, best, floor, previous=prev, received=rec, received_before=rec0,
                             delivered=math.nan, others_risk=risk, continuation=kappa, share=share))
    return out


SITUATIONS = situations()


class StrategyBattery:
    """The invariants of every strategy. Subclasses set ``name``."""

    name: ClassVar[str]
    #: whether it asks for its best in the first round (tit-for-tat opens with a goodwill move)
    opens_at_best: ClassVar[bool] = True

    def make(self) -> Any:
        return make_strategy(self.name, {})

    def test_its_aspiration_stays_between_its_floor_and_its_best(self) -> None:
        s = self.make()
        for sit in SITUATIONS:
            a = s.aspiration(sit)
            lo = min(sit.floor, sit.best)
            assert lo - 1e-9 <= a <= sit.best + 1e-9, (self.name, sit, a)

    def test_it_is_deterministic(self) -> None:
        a, b = self.make(), self.make()
        for sit in SITUATIONS:
            x = a.aspiration(sit)
            assert x == a.aspiration(sit) == b.aspiration(sit)

    def test_it_starts_at_its_best(self) -> None:
        s = self.make()
        sit = Situation(0, 10, 0.9, 0.3)
        if self.opens_at_best:
            assert s.aspiration(sit) == pytest.approx(0.9)
        else:
            assert 0.3 <= s.aspiration(sit) < 0.9

    def test_a_schedule_is_what_it_says_round_by_round(self) -> None:
        s = self.make()
        schedule = getattr(s, "schedule", None)
        if schedule is None:
            pytest.skip("its aspiration depends on more than time")
        got = schedule(0.9, 0.3, 10, 1.0)
        want = [s.aspiration(Situation(t, 10, 0.9, 0.3, continuation=1.0)) for t in range(10)]
        assert np.allclose(got, want)


class TestTimeDependent(StrategyBattery):
    name = "time_dependent"


class TestBoulware(StrategyBattery):
    name = "boulware"


class TestLinear(StrategyBattery):
    name = "linear"


class TestConceder(StrategyBattery):
    name = "conceder"


class TestTitForTat(StrategyBattery):
    name = "tit_for_tat"
    opens_at_best = False


class TestZeuthen(StrategyBattery):
    name = "zeuthen"


class TestHardliner(StrategyBattery):
    name = "hardliner"


class TestRubinstein(StrategyBattery):
    name = "rubinstein"


def test_every_strategy_has_its_battery() -> None:
    covered = {cls.name for cls in StrategyBattery.__subclasses__()}
    assert covered == set(STRATEGIES)
