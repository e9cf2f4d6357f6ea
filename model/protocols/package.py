"""``package``: the grand bargain, as multilateral alternating offers of full packages.

In round ``t`` the proposer is the ``t``-th party in the rotation; it offers the package it
prefers for the others among those that give it at least its current aspiration (as it judges
them, its patrons' gains weighed in) and cross none of its red lines (``model.core.search``). A
patron's veto applies to its client's own offer as to its answers. Every other party accepts or
rejects; all accept, no patron vetoes, every collective whose issues move consents and every home constituency ratifies:
agreement. Otherwise, with the protocol's breakdown risk the talks end; at the deadline they end
in breakdown.
"""

from __future__ import annotations

from model.core.space import FloatArray
from model.negotiation import Response
from model.protocols import Protocol


class PackageProtocol(Protocol):
    name = "package"

    def round(self) -> None:
        m = self.model
        proposer = m.proposer_now()
        walker = m.walk_away()
        if walker is not None:  # its outside option beats what it expects from going on: it leaves
            text = f"{walker.actor_id} walked away in round {m.round}: {walker.response.detail}."  # type: ignore[union-attr]
            m._end(False, "walk-away", None, text)
            assert m.outcome is not None
            m.outcome.blocked_by = [(walker.actor_id, "walk-away", walker.response.detail)]  # type: ignore[union-attr]
            return
        hit = proposer.propose()
        if hit is None:  # nothing it could offer beats no deal for it: it passes
            m.table(None)
            proposer.response = Response(False, "no offer", note="nothing within the red lines beats no deal for it")
            m.fail_round(None, [proposer])
            return
        offer = hit.package
        # offers cross no party's red line (by construction) and carry their utilities
        m.table(offer, hit.utilities, parties_ok=True)
        vetoed = m.veto_check(proposer.index, offer)  # a patron's veto binds its client's own offers too
        if vetoed is not None:
            proposer.response = vetoed
            m.fail_round(offer, [proposer])
            return
        rejecters = m.consult(offer, proposer.index)
        if not rejecters:
            self.agreed(offer, f"All parties accepted {proposer.actor_id}'s offer in round {m.round}.")
        else:
            m.fail_round(offer, rejecters)

    def agreed(self, offer: FloatArray, text: str) -> None:
        m = self.model
        m.state = offer.copy()
        m._end(True, "agreement", offer, text)
