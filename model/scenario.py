"""Scenario files: the pydantic schema, cross-reference checks, and compilation to the core.

A scenario is data: issues, actors (positions, saliences, red lines, strategy), the protocol
and its settings, a seed, and the sources of every number taken from the world. ``load``
reads and checks a file and returns a compiled ``Scenario``; every fault in the file becomes
one line naming the file, the YAML line, the field and what is wrong (``InputError``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from model import core
from model.core.redlines import RedLine, RedLineSet
from model.core.space import EPS
from model.errors import Fault, InputError
from model.yamlio import LineMap, Loc, fault, load_yaml, validation_faults

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


class ActorSpec(_Spec):
    id: Identifier
    name: Text
    capability: Unit = 1.0
    consent: bool = True
    issues: dict[str, Stance]
    reservation: Unit | Literal["status_quo"] = "status_quo"
    curvature: Annotated[float, Strict(), Field(gt=0.0, le=10.0)] = 1.0
    discount: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] | None = None
    red_lines: list[RedLineSpec] = Field(default_factory=list)
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    source: Text | None = None


class ProtocolSpec(_Spec):
    """How the negotiation runs. ``package``: multilateral alternating offers of full packages."""

    kind: Literal["package"] = "package"
    max_rounds: Annotated[int, Strict(), Field(ge=1, le=10_000)] = 60
    discount: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 1.0
    breakdown_risk: Annotated[float, Strict(), Field(ge=0.0, lt=1.0)] = 0.0
    order: list[Identifier] | None = None


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
    sources: dict[Identifier, SourceSpec | Text] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# cross-reference checks


_TAG = re.compile(r"\[([A-Za-z][A-Za-z0-9_.-]*)\]")


def _iter_sources(obj: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            if name == "source" and isinstance(value, str):
                yield (*loc, name), value
            else:
                yield from _iter_sources(value, (*loc, name))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _iter_sources(v, (*loc, i))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _iter_sources(v, (*loc, k))


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
    for loc, text in _iter_sources(spec, ()):
        for tag in _TAG.findall(text):
            if tag not in spec.sources:
                bad(loc, f"cites [{tag}], which is not in the sources map")
    if not out:
        out.extend(_contradictions(spec, lines))
    return out


def _contradictions(spec: ScenarioSpec, lines: LineMap) -> list[Fault]:
    """Each actor's red lines must leave at least one package; say which lines clash if not."""
    out: list[Fault] = []
    space = _space(spec)
    for a, act in enumerate(spec.actors):
        lines_a = [_red_line(spec, space, 0, rl) for rl in act.red_lines]
        rs = RedLineSet(lines_a, 1, space.n_issues)
        if rs.feasible_boxes(space, [0]):
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


def _space(spec: ScenarioSpec, special: list[tuple[int, float]] | None = None) -> core.OutcomeSpace:
    issues = []
    sq = []
    for iss in spec.issues:
        levels = tuple((lv.name, lv.value) for lv in iss.levels) if iss.kind == "ordinal" and iss.levels else None
        issues.append(core.Issue(iss.id, iss.label, levels))
        v = _level_value(iss, iss.status_quo)
        sq.append(0.0 if v is None else v)
    return core.OutcomeSpace.build(issues, sq, special or [])


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
    space = _space(spec, special)
    prefs = core.Preferences.build(ideal, salience, np.array([act.curvature for act in spec.actors]))
    u_sq = prefs.utility(space.status_quo)
    reservation = np.array(
        [u_sq[a] if act.reservation == "status_quo" else float(act.reservation) for a, act in enumerate(spec.actors)]
    )
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
    return Scenario(spec, problem, file)


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


def load(path: str | Path) -> Scenario:
    """Read, check and compile a scenario file.

    Raises:
        InputError: anything wrong with the file, one line per fault.
    """
    data, lines = load_yaml(path)
    return parse(data, str(path), lines)
