"""``mediated``: a mediator's single negotiating text (Raiffa 1982; Klein et al. 2003).

The mediator drafts one text (``model.core.mediated.initial_text``); each round the parties
whose aspiration it does not meet object, and the mediator revises the text from their
objections (``revise_text``). When every party's aspiration is met by the text, it is put to
them as a deal (vetoes, collectives' consent and ratification apply): agreement. At the deadline
the talks end without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, Strict

from model.core.mediated import initial_text, revise_text, text_offer
from model.protocols.base import OfferParams, OutcomeReason, Protocol, ProtocolParams

if TYPE_CHECKING:
    from model.negotiation import Negotiation


class MediatedParams(OfferParams):
    kind: Literal["mediated"] = "mediated"
    #: the most the mediator moves an issue of its text in one revision
    mediator_step: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.25


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
        if self.text is None:
            self.text = initial_text(p)
        need = np.array([a.need + m.margin for a in m.actors])
        rev = revise_text(p, self.text, need, m.rng, max_step=self.step)
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
