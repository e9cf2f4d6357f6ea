"""Scenario files: the pydantic schema, cross-reference checks, and compilation to the core.

A scenario is data: issues, actors (positions, saliences, red lines, strategy), the protocol
and its settings, a seed, and the sources of every number taken from the world. ``load``
reads and checks a file and returns a compiled ``Scenario``; every fault in the file becomes
one line naming the file, the YAML line, the field and what is wrong (``InputError``).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from model import core
from model.core.mechanics import Collective, Delivery, Effect, Influence, Mechanics, Spoiler
from model.core.redlines import RedLine, RedLineSet
from model.core.space import EPS
from model.errors import Fault, InputError, shorten
from model.yamlio import LineMap, Loc, display_path, fault, load_yaml, validation_faults

Unit = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(max_length=2000)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Spec):
    name: Identifier
    value: Unit


class IssueSpec(_Spec):
    """An issue on [0, 1]: continuous, or ordinal with named levels."""

    id: Identifier
    label: Text
    kind: Literal["continuous", "ordinal"] = "continuous"
    levels: list[Level] | None = None
    status_quo: Unit | Identifier = 0.0
    controlled_by: Identifier | None = None
    description: Text | None = None
    source: Text | None = None


class Condition(_Spec):
    """The *if* part of a conditional red line: the issue's value is above or below a threshold."""

    issue: Identifier
    above: Unit | None = None
    below: Unit | None = None
    source: Text | None = None


class RedLineSpec(_Spec):
    """A hard bound on one issue (``min``/``max``), optionally only ``when`` a condition holds."""

    issue: Identifier
    min: Unit | None = None
    max: Unit | None = None
    when: Condition | None = None
    source: Text | None = None
    note: Text | None = None


class Stance(_Spec):
    """An actor's ideal position on an issue (a number, or a level name) and its salience."""

    position: Unit | Identifier
    salience: Unit
    source: Text | None = None


class StrategySpec(_Spec):
    name: Identifier = "boulware"
    params: dict[str, Any] = Field(default_factory=dict)


Count = Annotated[float, Strict(), Field(gt=0.0, le=1000.0)]


class TrustSpec(_Spec):
    """Beta-Bernoulli trust in the other actors' delivery (used by step-by-step protocols).

    ``prior`` is the prior mean (``toward`` overrides it per actor), ``strength`` the prior's
    pseudo-count alpha + beta, ``memory`` the factor old evidence is kept with at each update
    (1: plain Beta-Bernoulli), ``threshold`` the trust below which the actor pauses.
    """

    prior: Unit = 0.5
    toward: dict[Identifier, Unit] = Field(default_factory=dict)
    strength: Count = 2.0
    memory: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 1.0
    threshold: Unit = 0.0
    source: Text | None = None


class DeliverySpec(_Spec):
    """How the actor delivers what it promised: fully with probability ``full``, partly (the
    share ``share`` of the promised move) with probability ``partial``, otherwise not at all;
    ``lag`` rounds after the promise."""

    full: Unit = 1.0
    partial: Unit = 0.0
    share: Unit = 0.5
    lag: Annotated[int, Strict(), Field(ge=0, le=1000)] = 0
    source: Text | None = None


class InfluenceSpec(_Spec):
    """A patron's pull on this actor: its acceptance weighs the patron's gain with ``weight``;
    the patron may veto deals that move the ``veto`` issues against it (with ``veto_strength``
    the probability that it does)."""

    patron: Identifier
    weight: Unit = 0.0
    veto: list[Identifier] = Field(default_factory=list)
    veto_strength: Unit = 1.0
    source: Text | None = None


class WinSetSpec(_Spec):
    """Domestic ratification (Putnam's win-set): the actor accepts and ratifies deals down to
    ``reservation - slack``; ratification fails when the utility falls short of that threshold
    plus a normal shock with standard deviation ``noise``."""

    slack: Annotated[float, Strict(), Field(ge=-1.0, le=1.0)] = 0.0
    noise: Unit = 0.0
    source: Text | None = None


class ActorSpec(_Spec):
    id: Identifier
    name: Text
    capability: Unit = 1.0
    consent: bool = True
    issues: dict[str, Stance]
    reservation: Unit | Literal["status_quo"] = "status_quo"
    #: The utility of walking away from the talks for good (an alternative deal elsewhere); it
    #: accepts nothing worth less, and walks when it beats the expected value of going on
    #: (``package`` protocol; docs/model.md, "Time that costs"). ``None``: no such option.
    outside_option: Unit | None = None
    curvature: Annotated[float, Strict(), Field(gt=0.0, le=10.0)] = 1.0
    discount: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] | None = None
    red_lines: list[RedLineSpec] = Field(default_factory=list)
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    trust: TrustSpec = Field(default_factory=TrustSpec)
    delivery: DeliverySpec = Field(default_factory=DeliverySpec)
    influence: list[InfluenceSpec] = Field(default_factory=list)
    win_set: WinSetSpec = Field(default_factory=WinSetSpec)
    source: Text | None = None


ProtocolKind = Literal["package", "incremental", "framework", "mediated", "eum"]


class ProtocolSpec(_Spec):
    """How the negotiation runs (docs/protocols.md).

    ``package``: multilateral alternating offers of full packages (the grand bargain);
    ``incremental``: step-by-step tranches, delivered with each actor's reliability, under trust;
    ``framework``: a package agreed first, then implemented in ``phases`` under the same trust rules;
    ``mediated``: a mediator's single negotiating text, revised from the parties' objections;
    ``eum``: the expected-utility model's forecast, issue by issue, over ``max_rounds`` rounds.
    """

    kind: ProtocolKind = "package"
    max_rounds: Annotated[int, Strict(), Field(ge=1, le=10_000)] = 60
    discount: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 1.0
    breakdown_risk: Annotated[float, Strict(), Field(ge=0.0, lt=1.0)] = 0.0
    order: list[Identifier] | None = None
    margin: Annotated[float, Strict(), Field(ge=0.0, le=0.5)] = 0.0
    step: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.1
    step_growth: Annotated[float, Strict(), Field(ge=1.0, le=10.0)] = 1.5
    gesture: Unit = 0.05
    phases: Annotated[int, Strict(), Field(ge=1, le=100)] = 4
    mediator_step: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.25
    #: ``package``: how many times the parties may agree to extend the deadline, and by how many
    #: rounds each time (every party must expect more from going on than from walking away).
    extensions: Annotated[int, Strict(), Field(ge=0, le=10)] = 0
    extension_rounds: Annotated[int, Strict(), Field(ge=1, le=1000)] = 6


class CollectiveSpec(_Spec):
    """Issues owned by a collective (the EU's sanctions): moving them needs every member's consent.
    ``inclusion: excluded`` keeps them off the table (at the status quo)."""

    id: Identifier
    name: Text | None = None
    members: Annotated[list[Identifier], Field(min_length=1)]
    issues: Annotated[list[Identifier], Field(min_length=1)]
    inclusion: Literal["excluded", "party"] = "party"
    source: Text | None = None


class EffectSpec(_Spec):
    """What a spoiler event does: shift ``actor``'s trust ``toward`` another (``change``), change
    ``actor``'s salience on ``issue`` (``change``), set ``actor``'s ideal position on ``issue``
    (``value``), or set the status quo (the current state) of ``issue`` (``value``); each with
    ``probability`` when the event fires."""

    kind: Literal["trust", "salience", "position", "status_quo"]
    actor: Identifier | None = None
    toward: Identifier | None = None
    issue: Identifier | None = None
    change: Annotated[float, Strict(), Field(ge=-1.0, le=1.0)] | None = None
    value: Unit | Identifier | None = None
    probability: Unit = 1.0


class SpoilerSpec(_Spec):
    """A shock: it fires in each round with probability ``rate`` and in the listed ``rounds``."""

    id: Identifier
    label: Text | None = None
    rate: Unit = 0.0
    rounds: list[Annotated[int, Strict(), Field(ge=1, le=10_000)]] = Field(default_factory=list)
    effects: Annotated[list[EffectSpec], Field(min_length=1)]
    source: Text | None = None


class SourceSpec(_Spec):
    title: Text | None = None
    url: Text | None = None
    date: dt.date | Text | None = None
    note: Text | None = None


class ScenarioSpec(_Spec):
    name: Identifier
    title: Text
    description: Text | None = None
    seed: Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)] = 0
    issues: Annotated[list[IssueSpec], Field(min_length=1, max_length=500)]
    actors: Annotated[list[ActorSpec], Field(min_length=2, max_length=100)]
    protocol: ProtocolSpec = Field(default_factory=ProtocolSpec)
    collectives: list[CollectiveSpec] = Field(default_factory=list)
    spoilers: list[SpoilerSpec] = Field(default_factory=list)
    sources: dict[Identifier, SourceSpec | Text] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# cross-reference checks


_TAG = re.compile(r"\[([A-Za-z][A-Za-z0-9_.-]*)\]")


def _iter_sources(obj: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every ``source`` text in the checked scenario, with where it stands, in field order."""
    out: list[tuple[Loc, str]] = []
    _collect_sources(obj, loc, out)
    return iter(out)


#: Values that hold no ``source`` field (the walk skips them without a look inside).
_LEAVES = (int, float, str, bool, type(None))


def _collect_sources(obj: Any, loc: Loc, out: list[tuple[Loc, str]]) -> None:
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            if name == "source" and isinstance(value, str):
                out.append(((*loc, name), value))
            elif not isinstance(value, _LEAVES):
                _collect_sources(value, (*loc, name), out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if not isinstance(v, _LEAVES):
                _collect_sources(v, (*loc, i), out)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(v, _LEAVES):
                _collect_sources(v, (*loc, k), out)


def _short_list(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def _level_value(issue: IssueSpec, value: float | str) -> float | None:
    """The numeric value of ``value`` on ``issue``; ``None`` if it names no level."""
    if isinstance(value, str):
        for lv in issue.levels or []:
            if lv.name == value:
                return lv.value
        return None
    return float(value)


def check(spec: ScenarioSpec, lines: LineMap) -> list[Fault]:
    """Every cross-reference and consistency fault of a schema-valid scenario."""
    out: list[Fault] = []

    def bad(loc: Loc, msg: str) -> None:
        out.append(fault(lines, loc, msg))

    issues: dict[str, IssueSpec] = {}
    for k, iss in enumerate(spec.issues):
        if iss.id in issues:
            bad(("issues", k, "id"), f"duplicate issue id {iss.id!r}")
        issues[iss.id] = iss
        if iss.kind == "ordinal":
            if not iss.levels or len(iss.levels) < 2:
                bad(("issues", k, "levels"), "an ordinal issue needs at least two levels")
                continue
            names = [lv.name for lv in iss.levels]
            for j, name in enumerate(names):
                if name in names[:j]:
                    bad(("issues", k, "levels", j, "name"), f"duplicate level name {name!r}")
            vals = [lv.value for lv in iss.levels]
            for j in range(1, len(vals)):
                if vals[j] <= vals[j - 1]:
                    bad(
                        ("issues", k, "levels", j, "value"),
                        f"level values must increase: {vals[j]:g} follows {vals[j - 1]:g}",
                    )
            sq = _level_value(iss, iss.status_quo)
            if sq is None:
                bad(("issues", k, "status_quo"), f"{iss.status_quo!r} is not a level of {iss.id!r} "
                    f"(levels: {', '.join(names)})")
            elif not any(abs(sq - v) < EPS for v in vals):
                bad(("issues", k, "status_quo"), f"{sq:g} is not the value of a level of {iss.id!r} "
                    f"(values: {', '.join(f'{v:g}' for v in vals)})")
        else:
            if iss.levels is not None:
                bad(("issues", k, "levels"), "only an ordinal issue has levels (set kind: ordinal)")
            if isinstance(iss.status_quo, str):
                bad(("issues", k, "status_quo"), f"a continuous issue needs a number, not {iss.status_quo!r}")
    known_issues = list(issues)

    actors: dict[str, int] = {}
    for a, act in enumerate(spec.actors):
        if act.id in actors:
            bad(("actors", a, "id"), f"duplicate actor id {act.id!r}")
        actors[act.id] = a
        total = 0.0
        for iid, st in act.issues.items():
            if iid not in issues:
                bad(("actors", a, "issues", iid), f"unknown issue {iid!r} (known: {_short_list(known_issues)})")
                continue
            total += st.salience
            if isinstance(st.position, str):
                iss = issues[iid]
                if iss.kind != "ordinal":
                    bad(("actors", a, "issues", iid, "position"),
                        f"{iid!r} is continuous: the position must be a number, not {st.position!r}")
                elif iss.levels and _level_value(iss, st.position) is None:  # no levels: faulted above
                    level_names = ", ".join(lv.name for lv in iss.levels)
                    bad(("actors", a, "issues", iid, "position"),
                        f"{st.position!r} is not a level of {iid!r} (levels: {level_names})")
        if not act.issues:
            bad(("actors", a, "issues"), f"{act.id} lists no issues: give it a position and salience on at least one")
        elif total <= 0:
            bad(("actors", a, "issues"), f"every salience of {act.id} is zero: the actor cares about no issue")
        for r, rl in enumerate(act.red_lines):
            loc: Loc = ("actors", a, "red_lines", r)
            if rl.issue not in issues:
                bad((*loc, "issue"), f"unknown issue {rl.issue!r} (known: {_short_list(known_issues)})")
            if rl.min is None and rl.max is None:
                bad(loc, "a red line needs a min, a max or both")
            if rl.min is not None and rl.max is not None and rl.min > rl.max:
                bad((*loc, "min"), f"min {rl.min:g} is above max {rl.max:g}: no value satisfies it")
            elif rl.issue in issues and issues[rl.issue].levels and issues[rl.issue].kind == "ordinal":
                lo = rl.min if rl.min is not None else 0.0
                hi = rl.max if rl.max is not None else 1.0
                lvls = issues[rl.issue].levels or []
                if not any(lo - EPS <= lv.value <= hi + EPS for lv in lvls):
                    bad(loc, f"no level of ordinal issue {rl.issue!r} lies in [{lo:g}, {hi:g}] "
                        f"(values: {', '.join(f'{lv.value:g}' for lv in lvls)})")
            if rl.when is not None:
                if rl.when.issue not in issues:
                    bad((*loc, "when", "issue"),
                        f"unknown issue {rl.when.issue!r} (known: {_short_list(known_issues)})")
                if (rl.when.above is None) == (rl.when.below is None):
                    bad((*loc, "when"), "a condition needs exactly one of above or below")
        st_name = act.strategy.name
        if st_name not in core.STRATEGIES:
            bad(("actors", a, "strategy", "name"),
                f"unknown strategy {st_name!r} (known: {', '.join(sorted(core.STRATEGIES))})")
        else:
            try:
                core.STRATEGIES[st_name].Params(**act.strategy.params)
            except ValidationError as e:
                for f in validation_faults(e, act.strategy.params, {}, core.STRATEGIES[st_name].Params):
                    bad(("actors", a, "strategy", "params", *([f.path] if f.path else [])), f.message)
    if sum(act.consent for act in spec.actors) < 2:
        bad(("actors",), "at least two actors must be parties whose consent is needed (consent: true)")
    if spec.protocol.order is not None:
        for k, aid in enumerate(spec.protocol.order):
            if aid not in actors:
                bad(("protocol", "order", k), f"unknown actor {aid!r} (known: {_short_list(list(actors))})")
            elif not spec.actors[actors[aid]].consent:
                bad(("protocol", "order", k), f"{aid} is not a party (consent: false) and cannot propose")
    _check_mechanics(spec, issues, actors, bad)
    for loc, text in _iter_sources(spec, ()):
        for tag in _TAG.findall(text):
            if tag not in spec.sources:
                bad(loc, f"cites [{tag}], which is not in the sources map")
    if not out:
        out.extend(_contradictions(spec, lines))
    return out


def _check_mechanics(
    spec: ScenarioSpec, issues: dict[str, IssueSpec], actors: dict[str, int], bad: Callable[[Loc, str], None]
) -> None:
    """Cross-references of the mechanisms: controllers, trust, influence, collectives, spoilers."""
    known_actors = _short_list(list(actors))
    known_issues = _short_list(list(issues))

    def actor_ref(loc: Loc, aid: str | None, what: str = "actor") -> bool:
        if aid is None:
            bad(loc[:-1], f"this effect needs an {what}")
            return False
        if aid not in actors:
            bad(loc, f"unknown actor {aid!r} (known: {known_actors})")
            return False
        return True

    def issue_ref(loc: Loc, iid: str | None) -> bool:
        if iid is None:
            bad(loc[:-1], "this effect needs an issue")
            return False
        if iid not in issues:
            bad(loc, f"unknown issue {iid!r} (known: {known_issues})")
            return False
        return True

    for k, iss in enumerate(spec.issues):
        if iss.controlled_by is not None and iss.controlled_by not in actors:
            bad(("issues", k, "controlled_by"), f"unknown actor {iss.controlled_by!r} (known: {known_actors})")
    for a, act in enumerate(spec.actors):
        for other in act.trust.toward:
            if other not in actors:
                bad(("actors", a, "trust", "toward", other), f"unknown actor {other!r} (known: {known_actors})")
            elif other == act.id:
                bad(("actors", a, "trust", "toward", other), f"{act.id} cannot set its trust in itself")
        if act.delivery.full + act.delivery.partial > 1.0 + 1e-12:
            bad(("actors", a, "delivery", "partial"),
                f"full ({act.delivery.full:g}) + partial ({act.delivery.partial:g}) exceeds 1")
        patrons: set[str] = set()
        for j, inf in enumerate(act.influence):
            loc: Loc = ("actors", a, "influence", j)
            if inf.patron not in actors:
                bad((*loc, "patron"), f"unknown actor {inf.patron!r} (known: {known_actors})")
            elif inf.patron == act.id:
                bad((*loc, "patron"), f"{act.id} cannot be its own patron")
            elif inf.patron in patrons:
                bad((*loc, "patron"), f"{inf.patron} is already a patron of {act.id}")
            patrons.add(inf.patron)
            for v, iid in enumerate(inf.veto):
                if iid not in issues:
                    bad((*loc, "veto", v), f"unknown issue {iid!r} (known: {known_issues})")
        total = sum(inf.weight for inf in act.influence)
        if total > 1.0 + 1e-12:
            bad(("actors", a, "influence"), f"the patrons' weights add up to {total:g}; at most 1")
    owner: dict[str, str] = {}
    seen: set[str] = set()
    for c, col in enumerate(spec.collectives):
        loc = ("collectives", c)
        if col.id in seen:
            bad((*loc, "id"), f"duplicate collective id {col.id!r}")
        seen.add(col.id)
        for m, aid in enumerate(col.members):
            if aid not in actors:
                bad((*loc, "members", m), f"unknown actor {aid!r} (known: {known_actors})")
        for j, iid in enumerate(col.issues):
            if iid not in issues:
                bad((*loc, "issues", j), f"unknown issue {iid!r} (known: {known_issues})")
            elif iid in owner:
                bad((*loc, "issues", j), f"{iid!r} already belongs to collective {owner[iid]!r}")
            else:
                owner[iid] = col.id
    seen = set()
    for e, sp in enumerate(spec.spoilers):
        loc = ("spoilers", e)
        if sp.id in seen:
            bad((*loc, "id"), f"duplicate spoiler id {sp.id!r}")
        seen.add(sp.id)
        if sp.rate == 0.0 and not sp.rounds:
            bad(loc, f"spoiler {sp.id!r} never fires: give it a rate above 0 or rounds")
        for r, rnd in enumerate(sp.rounds):
            if rnd > spec.protocol.max_rounds:
                bad((*loc, "rounds", r), f"round {rnd} is after the deadline (protocol.max_rounds "
                    f"{spec.protocol.max_rounds})")
        for j, eff in enumerate(sp.effects):
            el: Loc = (*loc, "effects", j)
            if eff.kind == "trust":
                both = actor_ref((*el, "actor"), eff.actor) and actor_ref((*el, "toward"), eff.toward, "actor to trust")
                if both and eff.actor == eff.toward:
                    bad((*el, "toward"), "an actor's trust in itself does not change")
                if eff.change is None:
                    bad(el, "a trust effect needs a change (-1 to 1)")
            elif eff.kind == "salience":
                actor_ref((*el, "actor"), eff.actor)
                issue_ref((*el, "issue"), eff.issue)
                if eff.change is None:
                    bad(el, "a salience effect needs a change (-1 to 1)")
            else:
                if eff.kind == "position":
                    actor_ref((*el, "actor"), eff.actor)
                if issue_ref((*el, "issue"), eff.issue):
                    assert eff.issue is not None
                    if eff.value is None:
                        bad(el, f"a {eff.kind} effect needs a value")
                    elif issues[eff.issue].kind == "ordinal" and isinstance(eff.value, float):
                        if not any(abs(lv.value - eff.value) < EPS for lv in issues[eff.issue].levels or []):
                            bad((*el, "value"), f"{eff.value:g} is not a level of ordinal issue {eff.issue!r}")
                    elif _level_value(issues[eff.issue], eff.value) is None:
                        bad((*el, "value"), f"{eff.value!r} is not a level of {eff.issue!r}")


@functools.lru_cache(maxsize=1024)
def _lines_feasible(key: _SpaceKey, lines: tuple[RedLine, ...]) -> bool:
    """Whether one actor's red lines leave some package (cached: a sweep rarely moves them)."""
    space = _built_space(*key, ())
    return bool(RedLineSet(list(lines), 1, space.n_issues).feasible_boxes(space, [0]))


def _contradictions(spec: ScenarioSpec, lines: LineMap) -> list[Fault]:
    """Each actor's red lines must leave at least one package; say which lines clash if not."""
    out: list[Fault] = []
    key = _space_key(spec)
    space = _built_space(*key, ())
    for a, act in enumerate(spec.actors):
        lines_a = [_red_line(spec, space, 0, rl) for rl in act.red_lines]
        if _lines_feasible(key, tuple(lines_a)):
            continue
        loc: Loc = ("actors", a, "red_lines")
        # find a pair of lines that clash on their own
        for j in range(len(lines_a)):
            for k in range(j + 1, len(lines_a)):
                pair = RedLineSet([lines_a[j], lines_a[k]], 1, space.n_issues)
                if not pair.feasible_boxes(space, [0]):
                    out.append(fault(lines, (*loc, k), f"contradicts red_lines[{j}] of {act.id}: "
                                     "no package satisfies both"))
                    break
            else:
                continue
            break
        else:
            out.append(fault(lines, loc, f"the red lines of {act.id} contradict each other: "
                             "no package satisfies them all"))
    return out


# --------------------------------------------------------------------------------------------
# compilation


_SpaceKey = tuple[tuple[core.Issue, ...], tuple[float, ...]]


def _space_key(spec: ScenarioSpec) -> _SpaceKey:
    """The scenario's issues and status quo, as the core's values."""
    issues = []
    sq = []
    for iss in spec.issues:
        levels = tuple((lv.name, lv.value) for lv in iss.levels) if iss.kind == "ordinal" and iss.levels else None
        issues.append(core.Issue(iss.id, iss.label, levels))
        v = _level_value(iss, iss.status_quo)
        sq.append(0.0 if v is None else v)
    return tuple(issues), tuple(sq)


def _space(spec: ScenarioSpec, special: list[tuple[int, float]] | None = None) -> core.OutcomeSpace:
    return _built_space(*_space_key(spec), tuple(special or ()))


@functools.lru_cache(maxsize=256)
def _built_space(
    issues: tuple[core.Issue, ...], sq: tuple[float, ...], special: tuple[tuple[int, float], ...]
) -> core.OutcomeSpace:
    """One space per distinct content: a sweep that leaves the issues alone builds it once
    (spaces are immutable; the problem and the runs copy what they change)."""
    return core.OutcomeSpace.build(issues, sq, special)


def _red_line(spec: ScenarioSpec, space: core.OutcomeSpace, actor: int, rl: RedLineSpec) -> RedLine:
    w = rl.when
    return RedLine(
        actor=actor,
        issue=space.index(rl.issue),
        lo=0.0 if rl.min is None else rl.min,
        hi=1.0 if rl.max is None else rl.max,
        when_issue=None if w is None else space.index(w.issue),
        when_above=None if w is None else w.above,
        when_below=None if w is None else w.below,
    )


@dataclass(frozen=True, eq=False)
class Scenario:
    """A checked scenario compiled for the core: the problem plus how to run it."""

    spec: ScenarioSpec
    problem: core.Problem
    file: str = "<memory>"
    mechanics: Mechanics | None = None

    @property
    def mech(self) -> Mechanics:
        """The compiled mechanisms (neutral ones for a scenario built without them)."""
        return self.mechanics if self.mechanics is not None else Mechanics.neutral(self.problem)

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def digest(self) -> str:
        """SHA-256 of the scenario's canonical content (independent of formatting and comments)."""
        blob = json.dumps(self.spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def proposer_order(self) -> list[int]:
        order = self.spec.protocol.order
        if order:
            return [self.problem.actor_ids.index(a) for a in order]
        return list(self.problem.parties)


def compile_spec(spec: ScenarioSpec, file: str = "<memory>") -> Scenario:
    """Compile a checked scenario into the arrays the core uses."""
    base = _space(spec)
    n_i, n_a = base.n_issues, len(spec.actors)
    ideal = np.tile(base.status_quo, (n_a, 1))
    salience = np.zeros((n_a, n_i))
    special: list[tuple[int, float]] = []
    red: list[RedLine] = []
    for a, act in enumerate(spec.actors):
        for iid, st in act.issues.items():
            i = base.index(iid)
            v = _level_value(spec.issues[i], st.position)
            ideal[a, i] = 0.0 if v is None else v
            salience[a, i] = st.salience
            special.append((i, ideal[a, i]))
        for rl in act.red_lines:
            line = _red_line(spec, base, a, rl)
            red.append(line)
            special += [(line.issue, line.lo), (line.issue, line.hi)]
            if line.when_issue is not None:
                thr = line.when_above if line.when_above is not None else line.when_below
                special.append((line.when_issue, float(thr or 0.0)))
    for sp in spec.spoilers:
        for eff in sp.effects:
            if eff.kind in ("position", "status_quo") and eff.issue is not None and eff.value is not None:
                i = base.index(eff.issue)
                v = _level_value(spec.issues[i], eff.value)
                special.append((i, 0.0 if v is None else v))
    space = _space(spec, special)
    prefs = core.Preferences.build(ideal, salience, np.array([act.curvature for act in spec.actors]))
    u_sq = prefs.utility(space.status_quo)
    slack = np.array([act.win_set.slack for act in spec.actors])
    reservation = np.array(
        [u_sq[a] if act.reservation == "status_quo" else float(act.reservation) for a, act in enumerate(spec.actors)]
    ) - slack
    # no party accepts less than its outside option
    outside = np.array([np.nan if act.outside_option is None else act.outside_option for act in spec.actors])
    reservation = np.where(np.isnan(outside), reservation, np.fmax(reservation, outside))
    discount = np.array(
        [spec.protocol.discount if act.discount is None else act.discount for act in spec.actors]
    )
    problem = core.Problem(
        actor_ids=tuple(act.id for act in spec.actors),
        space=space,
        prefs=prefs,
        reservation=reservation,
        redlines=RedLineSet(red, n_a, n_i),
        consent=np.array([act.consent for act in spec.actors]),
        discount=discount,
        actor_names=tuple(act.name for act in spec.actors),
    )
    mech = _mechanics(spec, space, salience, slack)
    if mech.excluded_issues:
        problem = dataclasses.replace(problem, fixed=mech.excluded_issues)
    return Scenario(spec, problem, file, mech)


def _mechanics(spec: ScenarioSpec, space: core.OutcomeSpace, salience: np.ndarray, slack: np.ndarray) -> Mechanics:
    ids = [act.id for act in spec.actors]
    n_a = len(ids)

    def value(issue: int, v: float | str | None) -> float:
        out = _level_value(spec.issues[issue], v) if v is not None else None
        return 0.0 if out is None else out

    prior = np.ones((n_a, n_a))
    for a, act in enumerate(spec.actors):
        prior[a, :] = act.trust.prior
        for other, t in act.trust.toward.items():
            prior[a, ids.index(other)] = t
        prior[a, a] = 1.0
    spoilers = []
    for sp in spec.spoilers:
        effects = []
        for eff in sp.effects:
            i = -1 if eff.issue is None else space.index(eff.issue)
            effects.append(Effect(
                kind=eff.kind,
                actor=-1 if eff.actor is None else ids.index(eff.actor),
                toward=-1 if eff.toward is None else ids.index(eff.toward),
                issue=i,
                change=0.0 if eff.change is None else eff.change,
                value=value(i, eff.value) if i >= 0 else 0.0,
                probability=eff.probability,
            ))
        spoilers.append(Spoiler(sp.id, sp.label or sp.id, sp.rate, frozenset(sp.rounds), tuple(effects)))
    return Mechanics(
        controller=np.array([-1 if iss.controlled_by is None else ids.index(iss.controlled_by) for iss in spec.issues]),
        trust_prior=prior,
        trust_strength=np.array([act.trust.strength for act in spec.actors]),
        trust_memory=np.array([act.trust.memory for act in spec.actors]),
        trust_threshold=np.array([act.trust.threshold for act in spec.actors]),
        delivery=tuple(Delivery(act.delivery.full, act.delivery.partial, act.delivery.share, act.delivery.lag)
                       for act in spec.actors),
        influence=tuple(
            Influence(a, ids.index(inf.patron), inf.weight, tuple(space.index(i) for i in inf.veto), inf.veto_strength)
            for a, act in enumerate(spec.actors) for inf in act.influence
        ),
        collectives=tuple(
            Collective(c.id, tuple(ids.index(m) for m in c.members), tuple(space.index(i) for i in c.issues),
                       c.inclusion == "party")
            for c in spec.collectives
        ),
        slack=slack,
        noise=np.array([act.win_set.noise for act in spec.actors]),
        spoilers=tuple(spoilers),
        salience=salience,
        sq_reservation=np.array([act.reservation == "status_quo" for act in spec.actors]),
    )


def parse(data: dict[str, Any], file: str = "<memory>", lines: LineMap | None = None) -> Scenario:
    """Check a scenario given as data (as read from YAML) and compile it."""
    lines = lines or {}
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as e:
        raise InputError(file, validation_faults(e, data, lines, ScenarioSpec)) from None
    faults = check(spec, lines)
    if faults:
        raise InputError(file, faults)
    return compile_spec(spec, file)


#: What a variant file (``extends:``) may hold besides ``set``.
VARIANT_KEYS = ("extends", "name", "title", "description", "seed", "sources", "set")
#: At most this many ``extends:`` steps from a file to its last base.
MAX_EXTENDS_DEPTH = 64
#: Set to 1 (or ``bargain --allow-extends-outside``) to let ``extends:`` name any file.
ALLOW_EXTENDS_ENV = "BARGAIN_ALLOW_EXTENDS_OUTSIDE"
#: The project's own scenarios: any variant may extend them.
PROJECT_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


class _TooDeep(Exception):
    """The chain of bases is longer than ``MAX_EXTENDS_DEPTH``, reached at ``where`` (passed up unwrapped)."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _extends_outside_allowed() -> bool:
    return os.environ.get(ALLOW_EXTENDS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _inside(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def changed_ids(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """What a change did to the actors' or issues' ids, if it changed them: ``the ids of the actors
    (X, Y -> Q, Y)``; ``None`` if it left them alone (or either side is no list of entries)."""
    for key, what in (("actors", "actors"), ("issues", "issues")):
        old, new = before.get(key), after.get(key)
        if not isinstance(old, list) or not isinstance(new, list):
            continue
        if not all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in [*old, *new]):
            continue  # not lists of entries with ids: the schema says what is wrong
        ids_old = [x["id"] for x in old]
        ids_new = [x["id"] for x in new]
        if ids_old != ids_new:
            return f"the ids of the {what} ({_short_list(ids_old)} -> {_short_list(ids_new)})"
    return None


def load_data(
    path: str | Path, _seen: tuple[Path, ...] = (), _roots: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], LineMap]:
    """Read a scenario file as data, resolving a variant (``extends:``) against its base.

    A variant names its base scenario (``extends``, relative to the variant's folder), may give
    its own ``name``, ``title``, ``description``, ``seed`` and extra ``sources``, and changes
    the base with ``set``: a mapping from field paths (as in experiment axes, e.g.
    ``protocol.kind`` or ``actors.BLR.trust.prior``) to new values. The base must be valid on
    its own; faults the changes cause are reported at the variant's lines. A variant may not
    change the ids of actors or issues (results are kept by id).

    The base must lie in the folder of the file first read (or below it) or in the project's
    ``scenarios/`` folder, after symbolic links are followed; ``--allow-extends-outside`` (or
    ``BARGAIN_ALLOW_EXTENDS_OUTSIDE=1``) lifts that. A chain of bases ends within
    ``MAX_EXTENDS_DEPTH`` steps.

    Raises:
        InputError: the file, its base or the merged scenario is faulty.
    """
    from model.experiment import PathError, set_path

    data, lines = load_yaml(path)
    if "extends" not in data:
        return data, lines
    name = str(path)
    here = Path(path).resolve()
    roots = _roots or (here.parent, PROJECT_SCENARIOS)
    faults = [fault(lines, (k,), f"a variant (extends:) may only set {', '.join(VARIANT_KEYS)}; change other "
                    "fields with set: {path: value}") for k in data if k not in VARIANT_KEYS]
    base_ref = data["extends"]
    if not isinstance(base_ref, str) or not base_ref:
        faults.append(fault(lines, ("extends",), "extends needs the base scenario's file name"))
    changes = data.get("set", {})
    if not isinstance(changes, dict):
        faults.append(fault(lines, ("set",), "set needs a mapping from field paths to values"))
    if faults:
        raise InputError(name, faults)
    shown_ref = shorten(base_ref)
    base_path = (here.parent / base_ref).resolve()
    if base_path in (*_seen, here):
        raise InputError(name, [fault(lines, ("extends",), f"{shown_ref} extends this file again: a cycle")])
    if not any(_inside(base_path, r) for r in roots) and not _extends_outside_allowed():
        raise InputError(name, [fault(lines, ("extends",), (
            f"{shown_ref} is outside the scenario's folder ({display_path(roots[0])}) and the project's "
            f"scenarios/ folder; to allow it, pass --allow-extends-outside or set {ALLOW_EXTENDS_ENV}=1"))])
    if len(_seen) >= MAX_EXTENDS_DEPTH:  # this file is the deepest base allowed, and extends another
        raise _TooDeep(name)
    base_name = display_path(base_path)
    try:
        base, _ = load_data(Path(base_name), (*_seen, here), roots)
        parse(copy.deepcopy(base), base_name, None)  # the base must be valid on its own
    except InputError as e:
        raise InputError(name, [fault(lines, ("extends",), f"its base {shown_ref} is not valid: {e}")]) from None
    except _TooDeep as e:
        if _seen:
            raise
        raise InputError(name, [fault(lines, ("extends",), (
            f"the chain of bases is more than {MAX_EXTENDS_DEPTH} files deep: {e.where} extends yet another "
            "file; merge some of the variants"))]) from None
    merged = copy.deepcopy(base)
    new_lines: LineMap = {}
    for key in ("name", "title", "description", "seed"):
        if key in data:
            merged[key] = data[key]
            new_lines[(key,)] = lines[(key,)]
    if isinstance(data.get("sources"), dict):
        merged_sources = dict(merged.get("sources") or {})
        merged_sources.update(data["sources"])
        merged["sources"] = merged_sources
        for loc, ln in lines.items():
            if loc[:1] == ("sources",):
                new_lines[loc] = ln
    for key, value in changes.items():
        before = {k: copy.deepcopy(merged.get(k)) for k in ("actors", "issues")}
        try:
            loc = set_path(merged, str(key), copy.deepcopy(value))
        except PathError as e:
            faults.append(fault(lines, ("set", key), f"{shorten(repr(key))} points nowhere in {shown_ref}: {e}"))
            continue
        if (what := changed_ids(before, merged)) is not None:
            faults.append(fault(lines, ("set", key), f"changes {what}; a variant may not rename, add or remove "
                                "actors or issues"))
            continue
        line = lines.get(("set", key))
        if line is not None:
            new_lines[loc] = line
            for sub, ln in lines.items():
                if sub[:2] == ("set", key) and len(sub) > 2:
                    new_lines[(*loc, *sub[2:])] = ln
    if faults:
        raise InputError(name, faults)
    merged.pop("extends", None)
    return merged, new_lines


def load(path: str | Path) -> Scenario:
    """Read, check and compile a scenario file (a variant is merged with its base first).

    Raises:
        InputError: anything wrong with the file, one line per fault.
    """
    data, lines = load_data(path)
    return parse(data, str(path), lines)
