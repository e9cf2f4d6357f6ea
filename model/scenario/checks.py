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
from model.core.redlines import RedLine, RedLineSet
from model.core.space import EPS
from model.errors import Fault
from model.scenario.compiler import _built_space, _red_line, _space_key, _SpaceKey
from model.scenario.schema import IssueSpec, ScenarioSpec, level_value
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
            sq = level_value(iss, iss.status_quo)
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
                bad(("actors", a, "issues", iid), f"unknown issue {iid!r} (known: {short_list(known_issues)})")
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
        if not act.issues:
            bad(("actors", a, "issues"), f"{act.id} lists no issues: give it a position and salience on at least one")
        elif total <= 0:
            bad(("actors", a, "issues"), f"every salience of {act.id} is zero: the actor cares about no issue")
        for r, rl in enumerate(act.red_lines):
            loc: Loc = ("actors", a, "red_lines", r)
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
        st_name = act.strategy.name
        if st_name not in core.STRATEGIES:
            bad(("actors", a, "strategy", "name"),
                f"unknown strategy {st_name!r} (known: {', '.join(sorted(core.STRATEGIES))})")
        else:
            try:
                STRATEGY_PARAMS[st_name](**act.strategy.params)
            except ValidationError as e:
                for f in validation_faults(e, act.strategy.params, {}, STRATEGY_PARAMS[st_name]):
                    bad(("actors", a, "strategy", "params", *([f.path] if f.path else [])), f.message)
    if sum(act.consent for act in spec.actors) < 2:
        bad(("actors",), "at least two actors must be parties whose consent is needed (consent: true)")
    if spec.protocol.order is not None:
        for k, aid in enumerate(spec.protocol.order):
            if aid not in actors:
                bad(("protocol", "order", k), f"unknown actor {aid!r} (known: {short_list(list(actors))})")
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
    known_actors = short_list(list(actors))
    known_issues = short_list(list(issues))

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
                    elif level_value(issues[eff.issue], eff.value) is None:
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
