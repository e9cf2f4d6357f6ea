"""``framework``: agree a framework package first, then implement it in phases under trust.

The first stage is the ``package`` protocol. Once every party accepts a framework ``F``, issues
that no one controls take effect at once; each actor that controls issues then implements its
part in ``protocol.phases`` equal phases, one phase a round: it delivers the move from the current
state to ``x0 + (k / phases) * (F - x0)`` on its issues (``k``: its phase) with its reliability,
and every other party updates its trust in it. An actor whose trust in a counterpart is below its
threshold suspends its own phases until that counterpart delivers again. The run ends when the
framework is implemented in full (``agreement``), when every actor that still owes is suspended
(``implementation stalled``), or at the deadline (``partly implemented``); all three count as
agreed, and ``implemented`` reports the share of the framework's moves carried out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, Strict

from model.core.space import FloatArray
from model.core.tranche import partial_values
from model.protocols.base import (
    FrameworkAgreed,
    OfferParams,
    OutcomeReason,
    ProtocolParams,
    ResponseReason,
    Suspension,
)
from model.protocols.package import PackageProtocol

if TYPE_CHECKING:
    from model.negotiation import Negotiation


class FrameworkParams(OfferParams):
    kind: Literal["framework"] = "framework"
    #: the framework is implemented in this many equal phases
    phases: Annotated[int, Strict(), Field(ge=1, le=100)] = 4


class FrameworkProtocol(PackageProtocol):
    name = "framework"
    Params: ClassVar[type[ProtocolParams]] = FrameworkParams
    stepwise = True
    walk_aways = False

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        super().__init__(model, params)
        assert isinstance(params, FrameworkParams)
        self.phases = params.phases
        self.framework: FloatArray | None = None
        self.start: FloatArray | None = None
        self.agreed_round = 0
        self.phase: dict[int, int] = {}
        self._owner: list[int] = model.mech.controller.tolist()  # each issue's controller (-1: no one)
        self._total = 0.0  # the framework's moves from the start, summed (``implemented``)

    def agreed(self, offer: FloatArray, text: str) -> None:
        m = self.model
        self.framework = offer.copy()
        self.start = m.state.copy()
        self.agreed_round = m.round
        self._total = np.abs(self.framework - self.start).sum()
        m.record(FrameworkAgreed(m.round, None, text))
        owner = self._owner
        free = [i for i in range(len(offer)) if owner[i] < 0]
        m.state[free] = offer[free]
        self.phase = {c: 0 for c in {owner[i] for i in self.remaining()} if c >= 0}
        self.check_done()

    def remaining(self) -> list[int]:
        """The issues not yet where the framework puts them (the same comparisons as
        ``np.abs(framework - state) > 1e-9``, on Python floats)."""
        assert self.framework is not None
        return [i for i, (f, x) in enumerate(zip(self.framework.tolist(), self.model.state.tolist(), strict=True))
                if abs(f - x) > 1e-9]

    def implemented(self) -> float:
        assert self.framework is not None and self.start is not None
        total = self._total  # (the framework's moves from the start: fixed once it is agreed)
        if total <= 1e-12:
            return 1.0
        return float(1.0 - np.abs(self.framework - self.model.state).sum() / total)

    def round(self) -> None:
        if self.framework is None:
            super().round()
            return
        m = self.model
        m.proposer_id = ""
        m.table(self.framework)
        m.update_pauses()
        assert self.start is not None
        waiting = []
        # a delivery moves only its debtor's issues, so what remains of the others' is read once
        rem, owner = self.remaining(), self._owner
        for debtor in sorted(self.phase):
            issues = [i for i in rem if owner[i] == debtor]
            if not issues:
                continue
            if m.actors[debtor].paused:
                waiting.append(debtor)
                m.record(Suspension(m.round, m.problem.actor_ids[debtor]))
                continue
            self.phase[debtor] = min(self.phases, self.phase[debtor] + 1)
            share = self.phase[debtor] / self.phases
            targets = partial_values(m.problem, issues, self.start[issues], self.framework[issues], share)
            m.deliver(debtor, issues, targets, what=f"phase {self.phase[debtor]} of {self.phases}")
        self.check_done(waiting)

    def check_done(self, waiting: list[int] | None = None) -> None:
        m = self.model
        assert self.framework is not None
        m.counts["implemented"] = self.implemented()
        head = f"A framework was agreed in round {self.agreed_round}"
        rem = self.remaining()
        if not rem:
            m.end(True, OutcomeReason.AGREEMENT, self.framework, f"{head} and implemented in full by round {m.round}.")
            return
        owner = self._owner
        owing = {owner[i] for i in rem if owner[i] >= 0}
        if waiting is not None and owing and owing <= set(waiting):
            names = ", ".join(m.problem.actor_ids[a] for a in sorted(owing))
            m.end(True, OutcomeReason.IMPLEMENTATION_STALLED, self.framework,
                  f"{head}, but implementation stalled in round {m.round}: {names} suspended their phases "
                  f"for lack of trust; {self.implemented():.0%} implemented.",
                  blocked_by=[(m.problem.actor_ids[a], ResponseReason.PAUSED, "trust below its threshold")
                              for a in sorted(owing)])
            return
        if m.round >= m.max_rounds:
            m.end(True, OutcomeReason.PARTLY_IMPLEMENTED, self.framework,
                   f"{head}; by the deadline (round {m.max_rounds}) {self.implemented():.0%} of it was implemented.")
