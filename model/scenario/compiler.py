"""Compilation of a checked scenario into the core's values: the outcome space, the problem, the
mechanisms and everything a run reads (``Scenario``, ``compile_spec``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from model import core
from model.core.beliefs import VETO_TYPES, Information, PrivateInfo, PrivateVeto, grid_prior
from model.core.mechanics import Collective, Delivery, Effect, Influence, Mechanics, Spoiler
from model.core.redlines import RedLine, RedLineSet
from model.core.strategies import Strategy
from model.protocols.base import ProtocolParams
from model.scenario.schema import RedLineSpec, ScenarioSpec, level_value

_SpaceKey = tuple[tuple[core.Issue, ...], tuple[float, ...]]


def _space_key(spec: ScenarioSpec) -> _SpaceKey:
    """The scenario's issues and status quo, as the core's values."""
    issues = []
    sq = []
    for iss in spec.issues:
        levels = tuple((lv.name, lv.value) for lv in iss.levels) if iss.kind == "ordinal" and iss.levels else None
        issues.append(core.Issue(iss.id, iss.label, levels))
        v = level_value(iss, iss.status_quo)
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
    """A checked scenario compiled for the core: the problem plus how to run it.

    A run reads only the compiled parts (``problem``, ``mech``, ``params``, ``strategies``,
    ``order``, ``outside``, ``flow``, ``capability``, ``raw_salience``); ``spec`` is kept for
    reports and digests. ``compile_spec`` fills them (a ``Scenario`` made by hand gets them
    compiled from its spec).
    """

    spec: ScenarioSpec
    problem: core.Problem
    file: str = "<memory>"
    mechanics: Mechanics | None = None
    #: the protocol's parameters (its ``Params`` model: ``model.protocols``)
    params: ProtocolParams = dataclasses.field(default=None)  # type: ignore[assignment]
    #: each actor's strategy, built once (they keep no state between calls)
    strategies: tuple[Strategy, ...] = ()
    #: the proposers' rotation, as actor indices
    order: tuple[int, ...] = ()
    #: each actor's outside option (nan: none)
    outside: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: what each actor gets while there is no agreement (its reservation before the outside option)
    flow: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: each actor's capability and *raw* saliences (the EUM's inputs; ``problem`` keeps normalised weights)
    capability: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    raw_salience: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: who keeps what private, and the public priors (``None``: everything public)
    information: Information | None = None

    def __post_init__(self) -> None:
        if self.params is None:
            for k, v in _run_inputs(self.spec, self.problem).items():
                object.__setattr__(self, k, v)

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
        return list(self.order)


def _run_inputs(spec: ScenarioSpec, problem: core.Problem) -> dict[str, Any]:
    """What a run reads besides the problem and the mechanisms, compiled from ``spec``."""
    from model.core.eum import spec_inputs

    order = spec.protocol.order
    u_sq = problem.utility(problem.space.status_quo)
    capability, raw_salience = spec_inputs(spec)
    return {
        "params": spec.protocol,
        "strategies": tuple(core.make_strategy(a.strategy.name, a.strategy.params) for a in spec.actors),
        "order": tuple(problem.actor_ids.index(a) for a in order) if order else tuple(int(a) for a in problem.parties),
        "outside": np.array([np.nan if a.outside_option is None else a.outside_option for a in spec.actors]),
        "flow": np.array([
            (u_sq[i] if a.reservation == "status_quo" else float(a.reservation)) - a.win_set.slack
            for i, a in enumerate(spec.actors)
        ]),
        "capability": capability,
        "raw_salience": raw_salience,
        "information": _information(spec),
    }


def _information(spec: ScenarioSpec) -> Information | None:
    """The actors' private information and the public priors over it (``None``: all public).
    A private red line (given by its id or its index in the actor's list) is named by its index
    in the problem's red-line set (the actors' lines in the order the compiler adds them: actor
    by actor, each in its file order)."""
    out: list[PrivateInfo | None] = []
    offset = 0
    for a, act in enumerate(spec.actors):
        inf = act.information
        if inf is None or (inf.reservation == "public" and not inf.red_lines):
            out.append(None)
        else:
            types, prior = np.zeros(0), np.zeros(0)
            if inf.reservation == "private":
                if inf.types is not None:
                    types = np.array(inf.types, dtype=float)
                    w = np.full(len(types), 1.0 / len(types)) if inf.prior is None else np.array(inf.prior, dtype=float)
                    prior = w / w.sum()
                else:
                    types, prior = grid_prior(0.5 if inf.estimate is None else inf.estimate, inf.width)
            ids = [ln.id for ln in act.red_lines]
            own = {ids.index(x) if isinstance(x, str) else x for x in inf.red_lines}
            lines = tuple(offset + k for k in sorted(own))
            out.append(PrivateInfo(a, types, prior, inf.signal, lines, inf.red_line_prior))
        offset += len(act.red_lines)
    vetoes = _private_vetoes(spec)
    if all(p is None for p in out) and not vetoes:
        return None
    return Information(tuple(out), vetoes=vetoes)


def _private_vetoes(spec: ScenarioSpec) -> tuple[PrivateVeto, ...]:
    """The patrons' private veto strengths, each with its public prior (indexed like
    ``Mechanics.influence``: actor by actor, each influence in file order)."""
    ids = [act.id for act in spec.actors]
    out: list[PrivateVeto] = []
    k = 0
    for a, act in enumerate(spec.actors):
        for inf in act.influence:
            vi = inf.information
            if vi is not None and vi.veto_strength == "private" and inf.veto:
                types = np.array(VETO_TYPES if vi.types is None else vi.types, dtype=float)
                if vi.prior is not None:
                    w = np.array(vi.prior, dtype=float)
                elif vi.estimate is not None:
                    w = np.exp(-0.5 * ((types - vi.estimate) / vi.width) ** 2)
                else:
                    w = np.ones(len(types))
                out.append(PrivateVeto(k, a, ids.index(inf.patron), types, w / w.sum(), vi.signal))
            k += 1
    return tuple(out)


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
            v = level_value(spec.issues[i], st.position)
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
                v = level_value(spec.issues[i], eff.value)
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
    return Scenario(spec, problem, file, mech, **_run_inputs(spec, problem))


def _mechanics(spec: ScenarioSpec, space: core.OutcomeSpace, salience: np.ndarray, slack: np.ndarray) -> Mechanics:
    ids = [act.id for act in spec.actors]
    n_a = len(ids)

    def value(issue: int, v: float | str | None) -> float:
        out = level_value(spec.issues[issue], v) if v is not None else None
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


#: Phases compiled, per scenario, by (state, protocol, issues): the replicates of a sweep point
#: meet the same phases, and a phase compiled once keeps its offer programs (built per problem).
_PHASES: weakref.WeakKeyDictionary[Scenario, dict[tuple[bytes, str, tuple[str, ...]], Scenario]] = (
    weakref.WeakKeyDictionary())


def compile_phase(sc: Scenario, state: np.ndarray, params: ProtocolParams, issues: list[str]) -> Scenario:
    """``_compile_phase``, kept: the same inputs give the same (immutable) compiled phase."""
    key = (np.asarray(state, dtype=float).tobytes(), params.model_dump_json(), tuple(issues))
    known = _PHASES.setdefault(sc, {})
    got = known.get(key)
    if got is None:
        if len(known) >= 64:
            known.clear()
        got = known[key] = _compile_phase(sc, state, params, issues)
    return got


def _compile_phase(sc: Scenario, state: np.ndarray, params: ProtocolParams, issues: list[str]) -> Scenario:
    """One phase of a ``sequence`` (``model.protocols.sequence``): ``sc`` with ``state`` as its
    status quo (reservations at the status quo move with it), ``params`` as its protocol, and
    every issue not in ``issues`` held where it is (off the table, as a collective's excluded
    issues are). A red line on an issue off the table does not bind the phase: an interim deal
    leaves that issue where it is and so cannot cross it (the main talks, where it is on the
    table, still must keep it); a red line on an issue on the table whose condition is on an
    issue off the table is judged with that issue where it stands."""
    spec = sc.spec
    new_issues = [iss.model_copy(update={"status_quo": float(v)}) for iss, v in zip(spec.issues, state, strict=True)]
    on = set(issues)
    actors = [a.model_copy(update={"red_lines": [rl for rl in a.red_lines if rl.issue in on]}) for a in spec.actors]
    phase = compile_spec(spec.model_copy(update={"issues": new_issues, "actors": actors, "protocol": params}), sc.file)
    off = {i for i, iss in enumerate(spec.issues) if iss.id not in issues}
    if not off:
        return phase
    fixed = tuple(sorted(set(phase.problem.fixed) | off))
    return dataclasses.replace(phase, problem=dataclasses.replace(phase.problem, fixed=fixed))
