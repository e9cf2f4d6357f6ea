"""The protocol contract: what every protocol owns, what it answers with, and what it records.

- ``Protocol``: one protocol's rules for a round. A subclass sets ``name``, its ``Params`` (a
  pydantic model: the protocol's settings, the flat ``protocol:`` mapping of a scenario file) and
  its traits (``needs_zone``, ``stepwise``, ``walk_aways``), and implements ``round``; it may
  override the hooks ``extend`` (a deadline extension) and ``walk_away`` (a party leaving).
  It reads only compiled objects: its ``params`` and the Mesa model's arrays.
- ``Response``: a party's answer to an offer, with a ``ResponseReason``.
- ``Outcome``: how a negotiation ended, with an ``OutcomeReason`` and its structured ``events``.
- Events: a small frozen dataclass per ``EventKind`` (``Delivery``, ``Pause``, ...), each with
  its round, actor and fields, and a ``.text`` for logs. An event still reads as the
  ``(round, text)`` pair it used to be (``rnd, text = event``; ``event == (3, "...")``).

The reasons and kinds are ``StrEnum``s: they compare equal to (and serialise as) the plain
strings they replace, so results, JSON and parquet columns are unchanged.

This module imports neither the Mesa shell nor the scenario schema (``model.negotiation`` and
``model.scenario`` import it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, Strict

from model.core.space import FloatArray

if TYPE_CHECKING:
    from model.negotiation import Actor, Negotiation

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]
Unit = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]


# --------------------------------------------------------------------------------------------
# reasons


class OutcomeReason(StrEnum):
    """Why a negotiation ended (``Outcome.reason``)."""

    AGREEMENT = "agreement"
    DEADLINE = "deadline"
    BREAKDOWN = "breakdown risk"
    NO_ZONE = "no zone of agreement"
    WALK_AWAY = "walk-away"
    STALLED = "stalled"  # incremental: no tranche for a whole rotation, nothing owed
    IMPLEMENTATION_STALLED = "implementation stalled"  # framework
    PARTLY_IMPLEMENTED = "partly implemented"  # framework
    FORECAST = "forecast"  # eum
    FORECAST_REJECTED = "forecast rejected"  # eum
    BREACH = "breach"  # package with implementation: a promise broken, no renegotiation left


#: Outcome reasons that count as agreed.
AGREED_REASONS = frozenset({
    OutcomeReason.AGREEMENT, OutcomeReason.IMPLEMENTATION_STALLED, OutcomeReason.PARTLY_IMPLEMENTED,
    OutcomeReason.FORECAST, OutcomeReason.BREACH,
})


class ResponseReason(StrEnum):
    """Why a party answered as it did (``Response.reason``, the reasons in ``Outcome.blocked_by``)."""

    ACCEPTED = "accepted"
    RED_LINE = "red line"
    BELOW_RESERVATION = "below reservation"
    BELOW_ASPIRATION = "below aspiration"
    NO_OFFER = "no offer"
    VETO = "veto"
    NO_CONSENT = "no consent"
    NOT_RATIFIED = "not ratified"
    WALK_AWAY = "walk-away"
    OWES = "owes"  # incremental: promises still to deliver
    PAUSED = "paused"  # framework: phases suspended for lack of trust


@dataclass(frozen=True, slots=True)
class Response:
    """A party's answer to an offer, and why (the text is only written when someone reads it)."""

    accepted: bool
    reason: ResponseReason
    utility: float = math.nan
    threshold: float = math.nan
    note: str = ""

    @property
    def detail(self) -> str:
        if self.note:
            return self.note
        if self.reason in (ResponseReason.BELOW_RESERVATION, ResponseReason.BELOW_ASPIRATION):
            what = str(self.reason).removeprefix("below ")
            return f"utility {self.utility:.3f} < {what} {self.threshold:.3f}"
        return ""


ACCEPTED = Response(True, ResponseReason.ACCEPTED)


# --------------------------------------------------------------------------------------------
# events


class EventKind(StrEnum):
    DELIVERY = "delivery"
    PAUSE = "pause"
    RESUME = "resume"
    TRANCHE = "tranche"
    SPOILER = "spoiler"
    EXTENSION = "extension"
    EXTENSION_REFUSED = "extension refused"
    FRAMEWORK = "framework"
    SUSPENSION = "suspension"
    EUM_ROUND = "eum round"
    RENEGOTIATION = "renegotiation"
    PHASE = "phase"
    PHASE_END = "phase end"


@dataclass(frozen=True, slots=True, eq=False)
class Event:
    """Something that happened in a round. Subclasses set ``kind`` and write ``text``.

    It unpacks, indexes and compares as the ``(round, text)`` pair ``Outcome.events`` held."""

    kind: ClassVar[EventKind]
    round: int
    actor: str | None

    @property
    def text(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def pair(self) -> tuple[int, str]:
        return (self.round, self.text)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.pair())

    def __len__(self) -> int:
        return 2

    def __getitem__(self, k: int) -> Any:
        return self.pair()[k]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Event):
            return type(self) is type(other) and self.pair() == other.pair()
        if isinstance(other, tuple):
            return self.pair() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.pair())

    def __str__(self) -> str:
        return self.text


Move = tuple[str, float, float]  # (issue, from, to)


def _moves(moves: tuple[Move, ...]) -> str:
    return ", ".join(f"{iid} {a:g}->{b:g}" for iid, a, b in moves)


@dataclass(frozen=True, slots=True, eq=False)
class Delivery(Event):
    """``actor`` delivered (a share of) what it owed: ``share`` of the moves, ``how`` in words."""

    kind: ClassVar[EventKind] = EventKind.DELIVERY
    what: str
    share: float
    moves: tuple[Move, ...]

    @property
    def how(self) -> str:
        return "fully" if self.share >= 1.0 else ("partly" if self.share > 0 else "not at all")

    @property
    def full(self) -> bool:
        return self.share >= 1.0

    @property
    def text(self) -> str:
        return f"{self.actor} delivered {self.what + ' ' if self.what else ''}{self.how} ({_moves(self.moves)})"


@dataclass(frozen=True, slots=True, eq=False)
class Pause(Event):
    kind: ClassVar[EventKind] = EventKind.PAUSE
    trust: float
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.actor} pauses: its trust {self.trust:.2f} is below its threshold {self.threshold:g}"


@dataclass(frozen=True, slots=True, eq=False)
class Resume(Event):
    kind: ClassVar[EventKind] = EventKind.RESUME
    trust: float

    @property
    def text(self) -> str:
        return f"{self.actor} resumes: its trust is back at {self.trust:.2f}"


@dataclass(frozen=True, slots=True, eq=False)
class Tranche(Event):
    """Tranche ``number``, proposed by ``actor``, accepted: each debtor's moves (``jointly``: no one's)."""

    kind: ClassVar[EventKind] = EventKind.TRANCHE
    number: int
    parts: tuple[tuple[str, tuple[Move, ...]], ...]

    @property
    def text(self) -> str:
        body = "; ".join(who + ": " + _moves(moves) for who, moves in self.parts)
        return f"tranche {self.number} ({self.actor} proposed, all accepted): " + body


@dataclass(frozen=True, slots=True, eq=False)
class SpoilerFired(Event):
    kind: ClassVar[EventKind] = EventKind.SPOILER
    label: str
    effects: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"spoiler {self.label}: " + ("; ".join(self.effects) if self.effects else "no effect this time")


@dataclass(frozen=True, slots=True, eq=False)
class Extension(Event):
    kind: ClassVar[EventKind] = EventKind.EXTENSION
    rounds: int
    deadline: int

    @property
    def text(self) -> str:
        return f"the parties extend the deadline by {self.rounds} rounds, to round {self.deadline}"


@dataclass(frozen=True, slots=True, eq=False)
class ExtensionRefused(Event):
    kind: ClassVar[EventKind] = EventKind.EXTENSION_REFUSED

    @property
    def text(self) -> str:
        return f"{self.actor} refuses to extend the deadline: it expects no more from going on"


@dataclass(frozen=True, slots=True, eq=False)
class FrameworkAgreed(Event):
    kind: ClassVar[EventKind] = EventKind.FRAMEWORK
    how: str

    @property
    def text(self) -> str:
        return f"framework agreed: {self.how}"


@dataclass(frozen=True, slots=True, eq=False)
class Suspension(Event):
    kind: ClassVar[EventKind] = EventKind.SUSPENSION

    @property
    def text(self) -> str:
        return f"{self.actor} suspends its phase (trust below its threshold)"


@dataclass(frozen=True, slots=True, eq=False)
class Renegotiation(Event):
    """After a breach the talks resume from the delivered state (``left``: renegotiations still allowed)."""

    kind: ClassVar[EventKind] = EventKind.RENEGOTIATION
    breached_by: tuple[str, ...]
    left: int

    @property
    def text(self) -> str:
        return (f"{', '.join(self.breached_by)} fell short of the deal: talks resume from the delivered state "
                f"as the new status quo ({self.left} renegotiation{'s' if self.left != 1 else ''} left)")


@dataclass(frozen=True, slots=True, eq=False)
class PhaseStarted(Event):
    """Phase ``number`` of a ``sequence`` opens: its protocol and the issues on the table."""

    kind: ClassVar[EventKind] = EventKind.PHASE
    number: int
    protocol: str
    issues: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"phase {self.number} ({self.protocol}) opens on {', '.join(self.issues)}"


@dataclass(frozen=True, slots=True, eq=False)
class PhaseEnded(Event):
    """Phase ``number`` of a ``sequence`` ends: how, and what stands as the next status quo."""

    kind: ClassVar[EventKind] = EventKind.PHASE_END
    number: int
    reason: str
    agreed: bool
    moves: tuple[Move, ...]

    @property
    def text(self) -> str:
        head = f"phase {self.number} ends: {self.reason}"
        return head + (f"; the new status quo moves {_moves(self.moves)}" if self.moves else "; the status quo stands")


# --------------------------------------------------------------------------------------------
# the outcome


@dataclass
class Outcome:
    """How a negotiation ended."""

    agreed: bool
    reason: OutcomeReason
    rounds: int  # rounds played
    package: FloatArray | None
    explanation: str
    blocked_by: list[tuple[str, str, str]] = field(default_factory=list)  # (actor, reason, detail)
    proposer: str | None = None
    state: FloatArray | None = None  # what was implemented by the end (step-by-step protocols)
    metrics: dict[str, float] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # what happened, in order (each also a (round, text))
    phases: list[dict[str, Any]] = field(default_factory=list)  # sequence: each phase's outcome, in order


# --------------------------------------------------------------------------------------------
# parameters


class ProtocolParams(BaseModel):
    """The settings every protocol reads (the aspiration schedules and Rubinstein shares read
    ``discount``, ``breakdown_risk`` and ``order`` whatever the protocol). A protocol's own
    ``Params`` adds its ``kind`` and its settings; a field of another protocol is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    max_rounds: Annotated[int, Strict(), Field(ge=1, le=10_000)] = 60
    discount: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 1.0
    breakdown_risk: Annotated[float, Strict(), Field(ge=0.0, lt=1.0)] = 0.0
    order: list[Identifier] | None = None

    @property
    def offer_margin(self) -> float:
        """What the parties add to their aspiration when they judge an offer (0: no margin)."""
        return 0.0


Margin = Annotated[float, Strict(), Field(ge=0.0, le=0.5)]


class OfferParams(ProtocolParams):
    """Protocols whose parties judge offers against their aspiration plus a ``margin``."""

    margin: Margin = 0.0

    @property
    def offer_margin(self) -> float:
        return self.margin


# --------------------------------------------------------------------------------------------
# the protocol


class Protocol:
    """One protocol's rules for a round.

    Subclasses set ``name`` and ``Params``, may change the traits, and implement ``round``.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[ProtocolParams]] = ProtocolParams
    #: whether the talks cannot start without a package inside every party's red lines
    needs_zone: ClassVar[bool] = True
    #: whether the state moves step by step from the status quo (a shock to the status quo then
    #: moves the state, not the parties' reference point)
    stepwise: ClassVar[bool] = False
    #: whether a party whose outside option beats going on walks away (``walk_away``)
    walk_aways: ClassVar[bool] = False
    #: whether the protocol plays whole negotiations of its own (``sequence``): the spoilers then
    #: fire inside those, not around them
    phased: ClassVar[bool] = False
    #: whether its rounds read the actors' aspirations (demands, answers, offers). Where they do
    #: not (``eum``), the aspirations are computed only for a run that records them
    #: (``collect=True``): their start, each actor's utopia, is one program per actor
    uses_aspirations: ClassVar[bool] = True

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        self.model = model
        self.params = params

    def round(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def extend(self) -> bool:
        """At the deadline, without agreement: whether the parties extend it (default: never)."""
        return False

    def walk_away(self) -> Actor | None:
        """A party that leaves the talks now, if any (default: none)."""
        return None
