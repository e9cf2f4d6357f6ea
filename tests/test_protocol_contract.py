"""The protocol contract (``model.protocols.base``): the scenario's ``protocol:`` as a union on
``kind``, compiled parameters and strategies, structured events and reasons, ``Negotiation.end``."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from model import experiment, scenario
from model.errors import InputError
from model.negotiation import Actor, Negotiation, Outcome, Response
from model.protocols import PROTOCOLS, EventKind, OutcomeReason, ResponseReason
from model.protocols.base import Delivery, Event, Pause, Tranche
from model.protocols.framework import FrameworkParams
from model.protocols.incremental import IncrementalParams
from model.protocols.package import PackageParams
from tests.factories import small, write_experiment

ROOT = Path(__file__).resolve().parents[1]
STEPWISE = ROOT / "scenarios" / "belarus_stepwise.yaml"


def write(tmp: Path, data: dict, name: str = "s.yaml") -> Path:
    f = tmp / name
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


# --------------------------------------------------------------------------------------------
# the union on kind


def test_each_kind_compiles_to_its_own_parameters() -> None:
    assert isinstance(scenario.parse(small()).params, PackageParams)  # no kind: package
    sc = scenario.parse(small(protocol={"kind": "incremental", "max_rounds": 9, "step": 0.2}))
    assert isinstance(sc.params, IncrementalParams) and sc.params.step == 0.2 and sc.params.max_rounds == 9
    assert sc.params is sc.spec.protocol
    assert set(PROTOCOLS) == {"package", "incremental", "framework", "mediated", "eum", "sequence"}


def test_a_field_of_another_protocol_is_one_line_naming_file_line_and_field(tmp_path: Path) -> None:
    f = write(tmp_path, small(protocol={"kind": "package", "max_rounds": 20, "phases": 3}))
    with pytest.raises(InputError) as e:
        scenario.load(f)
    assert len(e.value.lines()) == 1
    line = e.value.lines()[0]
    assert re.match(rf"^{re.escape(str(f))}:\d+: protocol\.phases: phases is a setting of the framework and sequence "
                    r"protocols, "
                    r"not of package", line), line


def test_a_field_several_protocols_share_names_them_all(tmp_path: Path) -> None:
    f = write(tmp_path, small(protocol={"kind": "eum", "max_rounds": 5, "margin": 0.1}))
    with pytest.raises(InputError, match="margin is a setting of the package, incremental, framework and mediated "
                                         "protocols, not of eum"):
        scenario.load(f)


def test_an_unknown_kind_is_one_fault_at_kind(tmp_path: Path) -> None:
    f = write(tmp_path, small(protocol={"kind": "auction", "max_rounds": 20}))
    with pytest.raises(InputError) as e:
        scenario.load(f)
    assert len(e.value.lines()) == 1
    assert "protocol.kind: input should be 'package', 'incremental'" in e.value.lines()[0]


def test_a_variant_that_switches_kind_sets_the_bases_other_settings_aside(tmp_path: Path) -> None:
    base = write(tmp_path, small(protocol={"kind": "incremental", "max_rounds": 12, "step": 0.2}), "base.yaml")
    variant = write(tmp_path, {"extends": base.name, "set": {"protocol.kind": "framework", "protocol.phases": 2}},
                    "v.yaml")
    sc = scenario.load(variant)
    assert isinstance(sc.params, FrameworkParams) and sc.params.phases == 2 and sc.params.max_rounds == 12
    # but a variant that writes another protocol's field itself is told so, at its own line
    bad = write(tmp_path, {"extends": base.name, "set": {"protocol.kind": "package", "protocol.phases": 2}},
                "bad.yaml")
    with pytest.raises(InputError, match=r"bad\.yaml:\d+: protocol\.phases: phases is a setting of the framework"):
        scenario.load(bad)


def test_an_experiment_axis_may_switch_kind_on_a_base_with_another_protocols_settings() -> None:
    exp_file = ROOT / "experiments" / "protocol_x_horizon_x_reliability.yaml"
    exp = experiment.load(exp_file)
    kinds = {type(exp.scenario_for(p).params).__name__ for p in exp.points}
    assert kinds == {"PackageParams", "FrameworkParams", "IncrementalParams"}


def test_an_axis_that_switches_kind_in_a_small_experiment(tmp_path: Path) -> None:
    base = small(protocol={"kind": "incremental", "max_rounds": 12, "step": 0.2})
    f = write_experiment(tmp_path, [{"path": "protocol.kind", "values": ["package", "incremental", "mediated"]},
                                    {"path": "protocol.max_rounds", "values": [5, 8]}], scenario=base)
    exp = experiment.load(f)
    got = {(p["protocol.kind"], exp.scenario_for(p).params.max_rounds) for p in exp.points}
    assert got == {(k, r) for k in ("package", "incremental", "mediated") for r in (5, 8)}


# --------------------------------------------------------------------------------------------
# compiled once


def test_a_run_reads_the_compiled_strategies_and_parameters() -> None:
    sc = scenario.parse(small())
    a = Negotiation(sc, rng=1, collect=False)
    b = Negotiation(sc, rng=2, collect=False)
    assert [x.strategy for x in a.actors] == list(sc.strategies) == [x.strategy for x in b.actors]
    assert a.protocol.params is sc.params


def test_the_shell_and_the_protocols_never_read_the_spec_nor_test_kinds() -> None:
    for f in [ROOT / "model" / "negotiation.py", ROOT / "model" / "agents.py",
              *sorted((ROOT / "model" / "protocols").glob("*.py"))]:
        text = f.read_text()
        assert ".spec." not in text and "spec_inputs" not in text, f
        # (a spoiler effect's kind is no protocol's)
        assert not re.search(r"\b(self|m|model|params|proto)\.kind\s*(==|!=|in\b|not in\b)", text), f


# --------------------------------------------------------------------------------------------
# structured events and reasons


def stepwise_run(seed: int = 3) -> Negotiation:
    m = Negotiation(scenario.load(STEPWISE), rng=seed, collect=False)
    m.run()
    return m


def test_events_are_typed_and_still_read_as_round_and_text() -> None:
    m = stepwise_run()
    o = m.outcome
    assert o is not None and o.events
    kinds = {e.kind for e in o.events}
    assert EventKind.DELIVERY in kinds and EventKind.TRANCHE in kinds
    for e in o.events:
        assert isinstance(e, Event) and isinstance(e.kind, EventKind)
        rnd, text = e
        assert (rnd, text) == e and e == (rnd, text) and e[0] == e.round and e[1] == e.text == str(e)
        assert 1 <= e.round <= o.rounds
    d = next(e for e in o.events if isinstance(e, Delivery))
    assert d.actor in m.problem.actor_ids and 0.0 <= d.share <= 1.0
    assert d.how in ("fully", "partly", "not at all") and " delivered " in d.text and d.how in d.text
    t = next(e for e in o.events if isinstance(e, Tranche))
    assert t.text.startswith(f"tranche {t.number} ({t.actor} proposed, all accepted): ")


def test_the_texts_are_what_the_logs_always_said() -> None:
    p = Pause(4, "BLR", 0.3456, 0.35)
    assert p.text == "BLR pauses: its trust 0.35 is below its threshold 0.35"
    d = Delivery(2, "USA", "on tranche 1", 0.5, (("a", 0.0, 0.25), ("b", 1.0, 0.5)))
    assert d.text == "USA delivered on tranche 1 partly (a 0->0.25, b 1->0.5)"
    assert Delivery(2, "USA", "", 0.0, (("a", 0.0, 0.25),)).text == "USA delivered not at all (a 0->0.25)"


def test_reasons_are_enums_that_equal_their_old_strings() -> None:
    m = stepwise_run()
    o = m.outcome
    assert o is not None and isinstance(o.reason, OutcomeReason)
    assert o.reason == str(o.reason) and f"{o.reason}" == o.reason.value
    assert OutcomeReason.BREAKDOWN == "breakdown risk" and ResponseReason.WALK_AWAY == "walk-away"
    for _, why, _ in o.blocked_by:
        assert why in set(ResponseReason)


def test_negotiation_end_is_public() -> None:
    m = Negotiation(scenario.parse(small()), rng=1, collect=False)
    m.end(False, OutcomeReason.DEADLINE, None, "stopped by hand", [("X", ResponseReason.NO_OFFER, "")])
    assert not m.running and isinstance(m.outcome, Outcome)
    assert m.outcome.reason == "deadline" and m.outcome.blocked_by == [("X", "no offer", "")]


def test_the_old_imports_still_work() -> None:
    assert Response(False, ResponseReason.RED_LINE).reason == "red line"
    assert Actor.__module__ == "model.agents"
    assert Outcome.__module__ == "model.protocols.base"


def test_structured_delivery_events_find_the_same_partial_months_as_the_text_did() -> None:
    delivery_text = re.compile(r"^(?P<debtor>\S+) delivered .*?(?P<how>fully|partly|not at all) \(")  # as it was
    m = stepwise_run(7)
    by_text = {(r, h["debtor"], h["how"]) for r, t in m.events if (h := delivery_text.match(t))}
    by_event = {(e.round, e.actor, e.how) for e in m.events if isinstance(e, Delivery)}
    assert by_text == by_event and by_event


def test_a_copy_of_the_spec_data_round_trips() -> None:
    sc = scenario.load(STEPWISE)
    again = scenario.parse(copy.deepcopy(sc.spec.model_dump(mode="json")))
    assert again.params == sc.params and np.array_equal(again.flow, sc.flow)


def test_the_summary_and_events_csv_carry_the_structure() -> None:
    from model.report import summarize

    m = stepwise_run(7)
    rows = summarize(m)["events"]
    assert [list(r) for r in rows[:1]] == [["round", "kind", "actor", "share", "what"]]
    assert {r["kind"] for r in rows} <= {str(k) for k in EventKind}
    assert all((r["share"] is None) == (r["kind"] != "delivery") for r in rows)


def test_a_program_that_switches_kind_on_a_file_sets_its_other_settings_aside(tmp_path: Path) -> None:
    """As the app does: the file's lines, data changed by a control (``switched_kind_lines``)."""
    from model.yamlio import load_yaml

    f = write(tmp_path, small(protocol={"kind": "incremental", "max_rounds": 12, "step": 0.2}))
    data, lines = load_yaml(f)
    changed = copy.deepcopy(data)
    changed["protocol"]["kind"] = "package"
    with pytest.raises(InputError, match="step is a setting of the incremental protocol"):
        scenario.parse(copy.deepcopy(changed), str(f), lines)
    sc = scenario.parse(changed, str(f), scenario.switched_kind_lines(changed, lines, data))
    assert isinstance(sc.params, PackageParams) and sc.params.max_rounds == 12
    assert scenario.switched_kind_lines(data, lines, data) is lines
