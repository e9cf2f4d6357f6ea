"""``mediated``: a mediator's single negotiating text (Raiffa 1982; Klein et al. 2003).

The mediator drafts one text (``model.core.mediated.initial_text``); each round the parties
whose aspiration it does not meet object, and the mediator revises the text from their
objections (``revise_text``). When every party's aspiration is met by the text, it is put to
them as a deal (vetoes, collectives' consent and ratification apply): agreement. At the deadline
the talks end without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, SerializerFunctionWrapHandler, Strict, model_serializer

from model.core.mediated import initial_text, revise_text, text_offer
from model.protocols.base import OfferParams, OutcomeReason, Protocol, ProtocolParams, Unit

if TYPE_CHECKING:
    from model.negotiation import Negotiation


class MediatedParams(OfferParams):
    kind: Literal["mediated"] = "mediated"
    #: the most the mediator moves an issue of its text in one revision
    mediator_step: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.25
    #: the precision of the mediator's signal of the parties' private reservations (docs/model.md,
    #: "What parties do not know"): it drafts and revises with its belief mean of each (1: the
    #: truth, a fully informed mediator; 0: the public prior's mean). No effect when all is public.
    mediator_signal: Unit = 1.0

    @model_serializer(mode="wrap")
    def _default_unsaid(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave ``mediator_signal`` out at its default, so that a scenario's digest is what it
        was before the field existed."""
        data = handler(self)
        if self.mediator_signal == 1.0 and isinstance(data, dict):
            data.pop("mediator_signal", None)
        return data


class MediatedProtocol(Protocol):
    name = "mediated"
    Params: ClassVar[type[ProtocolParams]] = MediatedParams

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        super().__init__(model, params)
        assert isinstance(params, MediatedParams)
        self.text: np.ndarray | None = None
        self.step = params.mediator_step

    def round(self) -> None:
        m = self.model
        m.proposer_id = "mediator"
        p = m.problem
        seen = m.mediator_problem()  # (the problem itself unless some reservation is private)
        if self.text is None:
            self.text = initial_text(seen)
        need = np.array([a.need + m.margin for a in m.actors])
        rev = revise_text(seen, self.text, need, m.rng, max_step=self.step)
        self.text = rev.text
        # the text's values, utilities and red-line check, remembered per text (the same numbers
        # as ``m.table(offer)`` computes)
        offer, utilities, parties_ok = text_offer(p, rev.text)
        m.table(offer, utilities, parties_ok)
        rejecters = m.consult(offer, None)
        if not rejecters:
            m.state = offer.copy()
            m.end(True, OutcomeReason.AGREEMENT, offer, f"All parties accepted the mediator's text in round {m.round}.")
        else:
            m.fail_round(offer, rejecters)
