"""The scenario schema: the pydantic model of a scenario file (``ScenarioSpec`` and its parts).

Each part forbids unknown fields and is frozen; the protocol's parameters come from
``model.protocols`` (a discriminated union on ``kind``). Cross-references between the parts are
checked by ``model.scenario.checks``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, Strict, field_validator, model_serializer
from pydantic.functional_serializers import SerializerFunctionWrapHandler

from model.protocols import DEFAULT_KIND, ProtocolSpec
from model.protocols.base import Identifier, Unit
from model.protocols.package import PackageParams

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
    """A hard bound on one issue (``min``/``max``), optionally only ``when`` a condition holds.

    ``id`` names the line for experiments (``actors.BLR.red_lines.no_russia_exit.min``), so that
    reordering an actor's red lines cannot change what an experiment varies; ``label`` is what
    tables, plots and reports call it. Both are optional for old files: a line without an id can
    only be addressed by its position (``red_lines[2]``), which is deprecated."""

    id: Identifier | None = None
    label: Text | None = None
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


class VetoInformationSpec(_Spec):
    """Whether the others know how likely the patron is to veto (docs/model.md, "What parties
    do not know"). ``veto_strength: private``: every party but the client holds a belief over
    it, starting from a public prior over ``types`` (default 0, 0.25, 0.5, 0.75, 1) with the
    ``prior`` weights (default: a normal centred on ``estimate`` with standard deviation
    ``width`` over the types, or uniform without an estimate), sharpened by a private signal of
    precision ``signal``."""

    veto_strength: Literal["public", "private"] = "public"
    types: Annotated[list[Unit], Field(min_length=2, max_length=101)] | None = None
    prior: Annotated[list[Unit], Field(min_length=2, max_length=101)] | None = None
    estimate: Unit | None = None
    width: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.25
    signal: Unit = 0.0
    source: Text | None = None


class InfluenceSpec(_Spec):
    """A patron's pull on this actor: its acceptance weighs the patron's gain with ``weight``;
    the patron may veto deals that move the ``veto`` issues against it (with ``veto_strength``
    the probability that it does; ``information`` says whether the others know it)."""

    patron: Identifier
    weight: Unit = 0.0
    veto: list[Identifier] = Field(default_factory=list)
    veto_strength: Unit = 1.0
    information: VetoInformationSpec | None = None
    source: Text | None = None

    @model_serializer(mode="wrap")
    def _public_unsaid(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """Leave ``information`` out while it is unset (a scenario's digest stays what it was)."""
        data = handler(self)
        if self.information is None and isinstance(data, dict):
            data.pop("information", None)
        return data


class WinSetSpec(_Spec):
    """Domestic ratification (Putnam's win-set): the actor accepts and ratifies deals down to
    ``reservation - slack``; ratification fails when the utility falls short of that threshold
    plus a normal shock with standard deviation ``noise``."""

    slack: Annotated[float, Strict(), Field(ge=-1.0, le=1.0)] = 0.0
    noise: Unit = 0.0
    source: Text | None = None


class InformationSpec(_Spec):
    """What this actor keeps to itself and what the others believe about it (docs/model.md,
    "What parties do not know").

    ``reservation: private``: the others do not know its reservation utility; they start from a
    public prior, a normal centred on ``estimate`` with standard deviation ``width`` over a grid
    of types on [0, 1], or the explicit ``types`` with ``prior`` weights. ``red_lines``: the ids,
    or indices (0-based, in this actor's ``red_lines``), of the lines the others do not know it holds; each
    is believed held with probability ``red_line_prior``. ``signal``: the precision in [0, 1] of
    the private signal each other actor receives of the truth (0: none; 1: the truth)."""

    reservation: Literal["public", "private"] = "public"
    estimate: Unit | None = None
    width: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.2
    types: Annotated[list[Unit], Field(min_length=2, max_length=101)] | None = None
    prior: Annotated[list[Unit], Field(min_length=2, max_length=101)] | None = None
    signal: Unit = 0.0
    red_lines: list[Annotated[int, Strict(), Field(ge=0, le=1000)] | Identifier] = Field(default_factory=list)
    red_line_prior: Unit = 0.5
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
    #: What it keeps private (``None``: everything public, as without this block).
    information: InformationSpec | None = None
    source: Text | None = None

    @model_serializer(mode="wrap")
    def _public_unsaid(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """Leave ``information`` out while it is unset, so that a scenario's digest (and what
        is written back) is what it was before the field existed."""
        data = handler(self)
        if self.information is None and isinstance(data, dict):
            data.pop("information", None)
        return data


#: ``protocol:`` in a scenario: the parameters of one protocol, told apart by ``kind`` (the
#: protocols and their ``Params`` live in ``model.protocols``; docs/protocols.md). A mapping
#: without ``kind`` is a ``package`` protocol's.
ProtocolKind = str


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
    protocol: ProtocolSpec = Field(default_factory=PackageParams, discriminator="kind")
    collectives: list[CollectiveSpec] = Field(default_factory=list)
    spoilers: list[SpoilerSpec] = Field(default_factory=list)
    sources: dict[Identifier, SourceSpec | Text] = Field(default_factory=dict)

    @field_validator("protocol", mode="before")
    @classmethod
    def _default_kind(cls, v: Any) -> Any:
        if isinstance(v, dict) and "kind" not in v:
            return {"kind": DEFAULT_KIND, **v}
        return v


# --------------------------------------------------------------------------------------------
# cross-reference checks


def level_value(issue: IssueSpec, value: float | str) -> float | None:
    """The numeric value of ``value`` on ``issue``; ``None`` if it names no level."""
    if isinstance(value, str):
        for lv in issue.levels or []:
            if lv.name == value:
                return lv.value
        return None
    return float(value)
