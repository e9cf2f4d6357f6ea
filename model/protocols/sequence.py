"""``sequence``: interim agreements, then the main talks: phases played one after another.

Each phase is a whole negotiation under its own protocol (any registered kind but ``sequence``)
over the issues it puts on the table (``issues``; all when omitted), the others held where they
stand. A phase starts from the state the phases before it left, as its status quo (reservations
at the status quo move with it), and from the trust they left, as its prior: the Beta counts
carry over exactly, so what was delivered in one phase is evidence in the next. A ``package``
phase's deal is implemented before it counts (``implement`` is on in a phase whatever the file
says: an interim deal becomes the status quo only as far as it is delivered, and its delivery
is what moves trust; give the controllers' ``delivery`` reliability in the actors).

A phase with ``skip: true`` is left out (the same file then runs, say, the main talks alone).
The sequence ends after its last phase: it is agreed iff the last phase is, for that phase's
reason, and its package is the last phase's deal (every issue: those off that phase's table where
the phases before left them); the state holds everything delivered in every phase, and
``Outcome.phases`` each phase's outcome. A phase that fails leaves the state and trust where
they were and the next one starts.
Rounds are counted across phases (a phase's round 1 follows the last round of the one before);
spoilers fire inside the phases, by the phase's own round numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, Strict, field_validator, model_validator

from model.protocols.base import Identifier, OutcomeReason, Protocol, ProtocolParams
from model.protocols.eum import EUMParams
from model.protocols.framework import FrameworkParams
from model.protocols.incremental import IncrementalParams
from model.protocols.mediated import MediatedParams
from model.protocols.package import PackageParams

if TYPE_CHECKING:
    from model.negotiation import Negotiation

#: the issues a phase puts on the table (``None``: every issue)
PhaseIssues = Annotated[list[Identifier] | None, Field(min_length=1, max_length=500)]
#: a phase left out (``true``): the sequence without it, e.g. the main talks without the interim
#: deal, from the same file (an experiment axis can switch it)
Skip = Annotated[bool, Strict()]


class PackagePhase(PackageParams):
    issues: PhaseIssues = None
    skip: Skip = False


class IncrementalPhase(IncrementalParams):
    issues: PhaseIssues = None
    skip: Skip = False


class FrameworkPhase(FrameworkParams):
    issues: PhaseIssues = None
    skip: Skip = False


class MediatedPhase(MediatedParams):
    issues: PhaseIssues = None
    skip: Skip = False


class EUMPhase(EUMParams):
    issues: PhaseIssues = None
    skip: Skip = False


#: One phase: a protocol's parameters (told apart by ``kind``; ``package`` when omitted) plus the
#: issues on the table. A ``sequence`` inside a sequence is not among the kinds.
PhaseSpec = Annotated[
    PackagePhase | IncrementalPhase | FrameworkPhase | MediatedPhase | EUMPhase, Field(discriminator="kind")
]


class SequenceParams(ProtocolParams):
    """The phases, in order. The sequence's own ``max_rounds`` is not used: each phase has its
    own (the total is their sum); ``discount``, ``breakdown_risk`` and ``order`` are each phase's."""

    kind: Literal["sequence"] = "sequence"
    phases: Annotated[list[PhaseSpec], Field(min_length=1, max_length=20)]

    @field_validator("phases", mode="before")
    @classmethod
    def _default_kind(cls, v: Any) -> Any:
        if isinstance(v, list):
            for k, p in enumerate(v):
                if isinstance(p, dict) and p.get("kind") == "sequence":
                    raise ValueError(f"phase {k} is itself a sequence: a sequence's phases are other protocols "
                                     "(list every phase in this one list)")
            return [{"kind": "package", **p} if isinstance(p, dict) and "kind" not in p else p for p in v]
        return v

    @model_validator(mode="after")
    def _one_played(self) -> SequenceParams:
        if not self.played:
            raise ValueError("every phase is skipped: at least one must be played")
        return self

    @property
    def played(self) -> list[ProtocolParams]:
        """The phases played, in order (those not skipped)."""
        return [p for p in self.phases if not p.skip]

    @property
    def total_rounds(self) -> int:
        """The rounds of the phases played together (without deadline extensions)."""
        return sum(p.max_rounds for p in self.played)


def phase_params(phase: ProtocolParams) -> ProtocolParams:
    """What a phase runs: its parameters, a ``package`` phase's with ``implement`` on."""
    if isinstance(phase, PackageParams) and not phase.implement:
        return phase.model_copy(update={"implement": True})
    return phase


class SequenceProtocol(Protocol):
    name = "sequence"
    Params: ClassVar[type[ProtocolParams]] = SequenceParams
    needs_zone = False  # each phase checks its own
    phased = True

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        super().__init__(model, params)
        assert isinstance(params, SequenceParams)
        self.phases = params.played
        self.numbers = [k + 1 for k, p in enumerate(params.phases) if not p.skip]  # as the file numbers them
        self.done = 0
        model.max_rounds = params.total_rounds

    def trust_now(self) -> dict[str, dict[str, float]]:
        """Each party's trust in every other party that controls an issue, as the phase left it."""
        m = self.model
        ids = m.problem.actor_ids
        parties = list(m.problem.parties)
        controllers = sorted({int(c) for c in m.mech.controller if c >= 0})
        mean = m.trust.mean
        return {ids[a]: {ids[b]: round(float(mean[a, b]), 6) for b in controllers if b != a} for a in parties}

    def round(self) -> None:
        """Play the next phase whole; after the last, end the sequence."""
        m = self.model
        phase = self.phases[self.done]
        number = self.numbers[self.done]
        self.done += 1
        issues = getattr(phase, "issues", None)
        out = m.play_phase(number, phase_params(phase), issues)
        m.phase_results.append({
            "phase": number, "protocol": phase.kind,
            "issues": list(issues) if issues is not None else list(m.problem.space.ids),
            "agreed": out.agreed, "reason": str(out.reason), "rounds": out.rounds,
            "explanation": out.explanation,
            "state": {iid: round(float(v), 6) for iid, v in zip(m.problem.space.ids, m.state, strict=True)},
            "trust": self.trust_now(),
        })
        if self.done < len(self.phases):
            return
        m.max_rounds = max(m.max_rounds, m.round)  # (a phase's extensions)
        heads = "; ".join(f"phase {r['phase']} ({r['protocol']}): {r['reason']}" for r in m.phase_results)
        package = None if out.package is None or not out.agreed else np.asarray(out.package, dtype=float).copy()
        text = f"{heads}. Last phase (its own rounds): {out.explanation}"
        m.end(out.agreed, OutcomeReason(out.reason), package, text, [(a, str(r), d) for a, r, d in out.blocked_by])
