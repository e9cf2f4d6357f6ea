"""The semantic checks of a schema-valid scenario: cross-references (unknown ids, duplicates),
consistency (levels, red lines, weights), the mechanisms (controllers, trust, influence,
collectives, spoilers), cited sources, and red lines that contradict each other.

``check`` returns every fault, one line each, in the order the file is read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from model import core
from model.core.problem import TooManyBoxes, checked_boxes
from model.core.redlines import RedLine, RedLineSet
from model.core.space import EPS
from model.errors import Fault
from model.protocols.sequence import SequenceParams
from model.scenario.compiler import _built_space, _red_line, _space_key, _SpaceKey
from model.scenario.schema import ActorSpec, EffectSpec, IssueSpec, RedLineSpec, ScenarioSpec, level_value
from model.strategy_params import PARAMS as STRATEGY_PARAMS
from model.yamlio import LineMap, Loc, fault, validation_faults

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


def short_list(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


#: Where a fault stands and what is wrong: ``check`` turns each call into one ``Fault``.
Bad = Callable[[Loc, str], None]


def check(spec: ScenarioSpec, lines: LineMap) -> list[Fault]:
    """Every cross-reference and consistency fault of a schema-valid scenario."""
    out: list[Fault] = []

    def bad(loc: Loc, msg: str) -> None:
        out.append(fault(lines, loc, msg))

    issues = _check_issues(spec, bad)
    actors = _check_actors(spec, issues, bad)
    if sum(act.consent for act in spec.actors) < 2:
        bad(("actors",), "at least two actors must be parties whose consent is needed (consent: true)")
    _check_order(spec, actors, bad)
    _check_mechanics(spec, issues, actors, bad)
    for loc, text in _iter_sources(spec, ()):
        for tag in _TAG.findall(text):
            if tag not in spec.sources:
                bad(loc, f"cites [{tag}], which is not in the sources map")
    if not out:
        out.extend(_contradictions(spec, lines))
    if not out:
        out.extend(_box_limit(spec, lines))
    return out


# --------------------------------------------------------------------------------------------
# issues and actors


def _check_issues(spec: ScenarioSpec, bad: Bad) -> dict[str, IssueSpec]:
    """Duplicate ids, the levels of ordinal issues and each status quo; the issues by id."""
    issues: dict[str, IssueSpec] = {}
    for k, iss in enumerate(spec.issues):
        if iss.id in issues:
            bad(("issues", k, "id"), f"duplicate issue id {iss.id!r}")
        issues[iss.id] = iss
        if iss.kind == "ordinal":
            _check_levels(k, iss, bad)
        else:
            if iss.levels is not None:
                bad(("issues", k, "levels"), "only an ordinal issue has levels (set kind: ordinal)")
            if isinstance(iss.status_quo, str):
                bad(("issues", k, "status_quo"), f"a continuous issue needs a number, not {iss.status_quo!r}")
    return issues


def _check_levels(k: int, iss: IssueSpec, bad: Bad) -> None:
    """The levels of ordinal issue ``k``: at least two, distinct names, increasing values, and a
    status quo that is one of them."""
    if not iss.levels or len(iss.levels) < 2:
        bad(("issues", k, "levels"), "an ordinal issue needs at least two levels")
        return
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
    sq = level_value(iss, iss.status_quo)
    if sq is None:
        bad(("issues", k, "status_quo"), f"{iss.status_quo!r} is not a level of {iss.id!r} "
            f"(levels: {', '.join(names)})")
    elif not any(abs(sq - v) < EPS for v in vals):
        bad(("issues", k, "status_quo"), f"{sq:g} is not the value of a level of {iss.id!r} "
            f"(values: {', '.join(f'{v:g}' for v in vals)})")


def _check_actors(spec: ScenarioSpec, issues: dict[str, IssueSpec], bad: Bad) -> dict[str, int]:
    """Duplicate ids, each actor's stances, red lines and strategy; the actors' indices by id."""
    actors: dict[str, int] = {}
    for a, act in enumerate(spec.actors):
        if act.id in actors:
            bad(("actors", a, "id"), f"duplicate actor id {act.id!r}")
        actors[act.id] = a
        total = _check_stances(a, act, issues, bad)
        if not act.issues:
            bad(("actors", a, "issues"), f"{act.id} lists no issues: give it a position and salience on at least one")
        elif total <= 0:
            bad(("actors", a, "issues"), f"every salience of {act.id} is zero: the actor cares about no issue")
        _check_red_lines(a, act, issues, bad)
        _check_strategy(a, act, bad)
        _check_information(a, act, bad)
        _check_veto_information(a, act, bad)
    return actors


def _check_information(a: int, act: ActorSpec, bad: Bad) -> None:
    """Actor ``a``'s private information: its private red lines exist (each named once), and a
    prior given by types has increasing types and weights of the same number summing to 1."""
    inf = act.information
    if inf is None:
        return
    loc: Loc = ("actors", a, "information")
    _check_private_lines(act, inf.red_lines, loc, bad)
    if inf.reservation == "public":
        for name in ("estimate", "types", "prior"):
            if getattr(inf, name) is not None:
                bad((*loc, name), f"{name} describes a private reservation, but reservation is public "
                    "(set reservation: private)")
        return
    if inf.prior is not None and inf.types is None:
        bad((*loc, "prior"), "prior weights need the types they weigh (give types)")
    if inf.types is not None:
        if any(b <= t for t, b in zip(inf.types, inf.types[1:], strict=False)):
            bad((*loc, "types"), "types must increase")
        if inf.estimate is not None:
            bad((*loc, "estimate"), "give either types (and prior) or an estimate (and width), not both")
        if inf.prior is not None and len(inf.prior) != len(inf.types):
            bad((*loc, "prior"), f"{len(inf.prior)} prior weights for {len(inf.types)} types")
        elif inf.prior is not None and abs(sum(inf.prior) - 1.0) > 1e-6:
            bad((*loc, "prior"), f"the prior weights add up to {sum(inf.prior):g}, not 1")


def _check_private_lines(act: ActorSpec, given: list[int | str], loc: Loc, bad: Bad) -> None:
    """``information.red_lines``: each names one of the actor's lines (by id or index), once."""
    n = len(act.red_lines)
    ids = [ln.id for ln in act.red_lines]
    known = [x for x in ids if x is not None]
    seen: set[int] = set()
    for k, idx in enumerate(given):
        if isinstance(idx, str):
            if idx not in known:
                has = short_list(known) if known else "none has an id"
                bad((*loc, "red_lines", k), f"{act.id} has no red line with id {idx!r} (its ids: {has})")
                continue
            pos = ids.index(idx)
        elif idx >= n:
            has = "none" if n == 0 else ("index 0" if n == 1 else f"indices 0 to {n - 1}")
            bad((*loc, "red_lines", k), f"{act.id} has no red line {idx} (its red lines: {has})")
            continue
        else:
            pos = idx
        if pos in seen:
            bad((*loc, "red_lines", k), f"red line {idx!r} is listed twice" if isinstance(idx, str)
                else f"red line {idx} is listed twice")
        seen.add(pos)


def _check_veto_information(a: int, act: ActorSpec, bad: Bad) -> None:
    """Actor ``a``'s influences with ``information``: a private strength needs veto issues, and
    a prior over types has increasing types and weights of the same number summing to 1."""
    for m, inf in enumerate(act.influence):
        vi = inf.information
        if vi is None:
            continue
        loc: Loc = ("actors", a, "influence", m, "information")
        if vi.veto_strength == "public":
            for name in ("types", "prior", "estimate"):
                if getattr(vi, name) is not None:
                    bad((*loc, name), f"{name} describes a private veto strength, but veto_strength is public "
                        "(set veto_strength: private)")
            continue
        if not inf.veto:
            bad((*loc, "veto_strength"), f"{inf.patron} has no veto issues over {act.id}: "
                "there is no veto strength to keep private (give veto issues)")
        if vi.prior is not None and vi.estimate is not None:
            bad((*loc, "estimate"), "give either prior weights or an estimate (and width), not both")
        types = vi.types if vi.types is not None else [0.0, 0.25, 0.5, 0.75, 1.0]
        if any(b <= t for t, b in zip(types, types[1:], strict=False)):
            bad((*loc, "types"), "types must increase")
        if vi.prior is not None and len(vi.prior) != len(types):
            bad((*loc, "prior"), f"{len(vi.prior)} prior weights for {len(types)} types")
        elif vi.prior is not None and abs(sum(vi.prior) - 1.0) > 1e-6:
            bad((*loc, "prior"), f"the prior weights add up to {sum(vi.prior):g}, not 1")


def _check_stances(a: int, act: ActorSpec, issues: dict[str, IssueSpec], bad: Bad) -> float:
    """Actor ``a``'s stances name known issues (and levels of ordinal ones); its total salience."""
    total = 0.0
    for iid, st in act.issues.items():
        if iid not in issues:
            bad(("actors", a, "issues", iid), f"unknown issue {iid!r} (known: {short_list(list(issues))})")
            continue
        total += st.salience
        if isinstance(st.position, str):
            iss = issues[iid]
            if iss.kind != "ordinal":
                bad(("actors", a, "issues", iid, "position"),
                    f"{iid!r} is continuous: the position must be a number, not {st.position!r}")
            elif iss.levels and level_value(iss, st.position) is None:  # no levels: faulted above
                level_names = ", ".join(lv.name for lv in iss.levels)
                bad(("actors", a, "issues", iid, "position"),
                    f"{st.position!r} is not a level of {iid!r} (levels: {level_names})")
    return total


def _check_red_line(loc: Loc, rl: RedLineSpec, issues: dict[str, IssueSpec], bad: Bad) -> None:
    """One red line: a known issue, a bound, bounds in order that a level satisfies, a condition."""
    known_issues = list(issues)
    if rl.issue not in issues:
        bad((*loc, "issue"), f"unknown issue {rl.issue!r} (known: {short_list(known_issues)})")
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
                f"unknown issue {rl.when.issue!r} (known: {short_list(known_issues)})")
        if (rl.when.above is None) == (rl.when.below is None):
            bad((*loc, "when"), "a condition needs exactly one of above or below")


def _check_red_lines(a: int, act: ActorSpec, issues: dict[str, IssueSpec], bad: Bad) -> None:
    """Actor ``a``'s red lines, each on its own, and their ids unique within the actor (an id
    path such as ``actors.BLR.red_lines.no_russia_exit`` must name one line)."""
    seen: dict[str, int] = {}
    for r, rl in enumerate(act.red_lines):
        _check_red_line(("actors", a, "red_lines", r), rl, issues, bad)
        if rl.id is None:
            continue
        if rl.id in seen:
            bad(("actors", a, "red_lines", r, "id"), f"duplicate red line id {rl.id!r} in {act.id} "
                f"(red_lines[{seen[rl.id]}] has it): an experiment could not tell them apart")
        else:
            seen[rl.id] = r


def _check_strategy(a: int, act: ActorSpec, bad: Bad) -> None:
    """Actor ``a``'s strategy is known and its parameters are that strategy's."""
    st_name = act.strategy.name
    if st_name not in core.STRATEGIES:
        bad(("actors", a, "strategy", "name"),
            f"unknown strategy {st_name!r} (known: {', '.join(sorted(core.STRATEGIES))})")
        return
    try:
        STRATEGY_PARAMS[st_name](**act.strategy.params)
    except ValidationError as e:
        for f in validation_faults(e, act.strategy.params, {}, STRATEGY_PARAMS[st_name]):
            bad(("actors", a, "strategy", "params", *([f.path] if f.path else [])), f.message)


def _check_order(spec: ScenarioSpec, actors: dict[str, int], bad: Bad) -> None:
    """The proposers' order names known actors that are parties (a sequence's phases' orders too)."""
    _check_proposers(("protocol",), spec.protocol.order, spec, actors, bad)
    phases = spec.protocol.phases if isinstance(spec.protocol, SequenceParams) else []
    ids = [iss.id for iss in spec.issues]
    for k, phase in enumerate(phases):
        loc: Loc = ("protocol", "phases", k)
        _check_proposers(loc, phase.order, spec, actors, bad)
        on = phase.issues or []
        for j, iid in enumerate(on):
            if iid not in ids:
                bad((*loc, "issues", j), f"unknown issue {iid!r} (known: {short_list(ids)})")
            elif iid in on[:j]:
                bad((*loc, "issues", j), f"issue {iid!r} is listed twice")


def _check_proposers(loc: Loc, order: list[str] | None, spec: ScenarioSpec, actors: dict[str, int], bad: Bad) -> None:
    for k, aid in enumerate(order or []):
        if aid not in actors:
            bad((*loc, "order", k), f"unknown actor {aid!r} (known: {short_list(list(actors))})")
        elif not spec.actors[actors[aid]].consent:
            bad((*loc, "order", k), f"{aid} is not a party (consent: false) and cannot propose")


# --------------------------------------------------------------------------------------------
# the mechanisms


class _Refs:
    """References to actors and issues by id, each checked with one fault if it is unknown."""

    def __init__(self, issues: dict[str, IssueSpec], actors: dict[str, int], bad: Bad) -> None:
        self.issues = issues
        self.actors = actors
        self.bad = bad
        self.known_actors = short_list(list(actors))
        self.known_issues = short_list(list(issues))

    def unknown_actor(self, loc: Loc, aid: str) -> bool:
        """Fault ``aid`` at ``loc`` if no actor has that id (and say so)."""
        if aid not in self.actors:
            self.bad(loc, f"unknown actor {aid!r} (known: {self.known_actors})")
            return True
        return False

    def unknown_issue(self, loc: Loc, iid: str) -> bool:
        """Fault ``iid`` at ``loc`` if no issue has that id (and say so)."""
        if iid not in self.issues:
            self.bad(loc, f"unknown issue {iid!r} (known: {self.known_issues})")
            return True
        return False

    def actor(self, loc: Loc, aid: str | None, what: str = "actor") -> bool:
        """An effect's actor: given and known."""
        if aid is None:
            self.bad(loc[:-1], f"this effect needs an {what}")
            return False
        return not self.unknown_actor(loc, aid)

    def issue(self, loc: Loc, iid: str | None) -> bool:
        """An effect's issue: given and known."""
        if iid is None:
            self.bad(loc[:-1], "this effect needs an issue")
            return False
        return not self.unknown_issue(loc, iid)


def _check_mechanics(spec: ScenarioSpec, issues: dict[str, IssueSpec], actors: dict[str, int], bad: Bad) -> None:
    """Cross-references of the mechanisms: controllers, trust, influence, collectives, spoilers."""
    refs = _Refs(issues, actors, bad)
    for k, iss in enumerate(spec.issues):
        if iss.controlled_by is not None:
            refs.unknown_actor(("issues", k, "controlled_by"), iss.controlled_by)
    for a, act in enumerate(spec.actors):
        _check_trust_and_delivery(a, act, refs)
        _check_influence(a, act, refs)
    _check_collectives(spec, refs)
    seen: set[str] = set()
    for e, sp in enumerate(spec.spoilers):
        loc: Loc = ("spoilers", e)
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
            _check_effect((*loc, "effects", j), eff, refs)


def _check_trust_and_delivery(a: int, act: ActorSpec, refs: _Refs) -> None:
    """Actor ``a``'s trust toward others (known, not itself) and its chances of delivery."""
    for other in act.trust.toward:
        loc: Loc = ("actors", a, "trust", "toward", other)
        if not refs.unknown_actor(loc, other) and other == act.id:
            refs.bad(loc, f"{act.id} cannot set its trust in itself")
    if act.delivery.full + act.delivery.partial > 1.0 + 1e-12:
        refs.bad(("actors", a, "delivery", "partial"),
                 f"full ({act.delivery.full:g}) + partial ({act.delivery.partial:g}) exceeds 1")


def _check_influence(a: int, act: ActorSpec, refs: _Refs) -> None:
    """Actor ``a``'s patrons: known, not itself, each once, vetoes on known issues, weights at most 1."""
    patrons: set[str] = set()
    for j, inf in enumerate(act.influence):
        loc: Loc = ("actors", a, "influence", j)
        if not refs.unknown_actor((*loc, "patron"), inf.patron):
            if inf.patron == act.id:
                refs.bad((*loc, "patron"), f"{act.id} cannot be its own patron")
            elif inf.patron in patrons:
                refs.bad((*loc, "patron"), f"{inf.patron} is already a patron of {act.id}")
        patrons.add(inf.patron)
        for v, iid in enumerate(inf.veto):
            refs.unknown_issue((*loc, "veto", v), iid)
    total = sum(inf.weight for inf in act.influence)
    if total > 1.0 + 1e-12:
        refs.bad(("actors", a, "influence"), f"the patrons' weights add up to {total:g}; at most 1")


def _check_collectives(spec: ScenarioSpec, refs: _Refs) -> None:
    """Collectives: distinct ids, known members and issues, each issue owned by one collective."""
    owner: dict[str, str] = {}
    seen: set[str] = set()
    for c, col in enumerate(spec.collectives):
        loc: Loc = ("collectives", c)
        if col.id in seen:
            refs.bad((*loc, "id"), f"duplicate collective id {col.id!r}")
        seen.add(col.id)
        for m, aid in enumerate(col.members):
            refs.unknown_actor((*loc, "members", m), aid)
        for j, iid in enumerate(col.issues):
            if refs.unknown_issue((*loc, "issues", j), iid):
                continue
            if iid in owner:
                refs.bad((*loc, "issues", j), f"{iid!r} already belongs to collective {owner[iid]!r}")
            else:
                owner[iid] = col.id


def _check_effect(el: Loc, eff: EffectSpec, refs: _Refs) -> None:
    """One effect of a spoiler: the actor, issue, change or value its kind needs."""
    if eff.kind == "trust":
        both = refs.actor((*el, "actor"), eff.actor) and refs.actor((*el, "toward"), eff.toward, "actor to trust")
        if both and eff.actor == eff.toward:
            refs.bad((*el, "toward"), "an actor's trust in itself does not change")
        if eff.change is None:
            refs.bad(el, "a trust effect needs a change (-1 to 1)")
    elif eff.kind == "salience":
        refs.actor((*el, "actor"), eff.actor)
        refs.issue((*el, "issue"), eff.issue)
        if eff.change is None:
            refs.bad(el, "a salience effect needs a change (-1 to 1)")
    else:
        if eff.kind == "position":
            refs.actor((*el, "actor"), eff.actor)
        if refs.issue((*el, "issue"), eff.issue):
            assert eff.issue is not None
            issue = refs.issues[eff.issue]
            if eff.value is None:
                refs.bad(el, f"a {eff.kind} effect needs a value")
            elif issue.kind == "ordinal" and isinstance(eff.value, float):
                if not any(abs(lv.value - eff.value) < EPS for lv in issue.levels or []):
                    refs.bad((*el, "value"), f"{eff.value:g} is not a level of ordinal issue {eff.issue!r}")
            elif level_value(issue, eff.value) is None:
                refs.bad((*el, "value"), f"{eff.value!r} is not a level of {eff.issue!r}")


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
                    other = act.red_lines[j].id
                    named = f"red_lines[{j}]" + (f" ({other})" if other else "")
                    out.append(fault(lines, (*loc, k), f"contradicts {named} of {act.id}: "
                                     "no package satisfies both"))
                    break
            else:
                continue
            break
        else:
            out.append(fault(lines, loc, f"the red lines of {act.id} contradict each other: "
                             "no package satisfies them all"))
    return out


def _linear_programs_only(spec: ScenarioSpec) -> bool:
    """Whether every phase of the scenario runs the package protocol (whose offers need no boxes)."""
    proto = spec.protocol
    phases: list[Any] = list(getattr(proto, "phases", None) or []) if proto.kind == "sequence" else [proto]
    return bool(phases) and all(getattr(p, "kind", "") == "package" for p in phases)


def _box_limit(spec: ScenarioSpec, lines: LineMap) -> list[Fault]:
    """The parties' conditional red lines together must not split the feasible packages into
    more boxes than the search covers (``model.core.problem.TooManyBoxes``): one fault, at the
    first line that splits them, naming every such line. Only where a protocol searches the
    boxes: the package protocol's offers are linear programs that branch on the conditional
    lines (``model.core.offers``), so a scenario all of whose phases are package ones is never
    refused for its count of boxes (nor are they enumerated here)."""
    if _linear_programs_only(spec):
        return []
    space = _built_space(*_space_key(spec), ())
    parties = [a for a, act in enumerate(spec.actors) if act.consent]
    red: list[RedLine] = []
    where: dict[RedLine, Loc] = {}
    for a in parties:
        for j, rl in enumerate(spec.actors[a].red_lines):
            ln = _red_line(spec, space, a, rl)
            red.append(ln)
            where.setdefault(ln, ("actors", a, "red_lines", j))
    if not any(ln.conditional for ln in red):
        return []
    try:
        checked_boxes(RedLineSet(red, len(spec.actors), space.n_issues), space, parties,
                      tuple(act.id for act in spec.actors))
    except TooManyBoxes as e:
        loc = where[e.lines[0]] if e.lines else ("actors",)
        return [fault(lines, loc, str(e))]
    return []
