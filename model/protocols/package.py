"""``package``: the grand bargain, as multilateral alternating offers of full packages.

In round ``t`` the proposer is the ``t``-th party in the rotation; it offers the package it
prefers for the others among those that give it at least its current aspiration (as it judges
them, its patrons' gains weighed in) and cross none of its red lines (``model.core.search``). A
patron's veto applies to its client's own offer as to its answers. Every other party accepts or
rejects; all accept, no patron vetoes, every collective whose issues move consents and every home constituency ratifies:
agreement. Otherwise, with the protocol's breakdown risk the talks end; at the deadline they end
in breakdown, unless the parties extend it (``extensions``). A party whose outside option beats
what it expects from going on walks away.

Two settings, both off by default, bring trust and commitment in (docs/model.md, "Trust,
commitment and interim deals"): with ``trust_discount`` ``w > 0`` each party judges a package by
its expected delivered value, counting the move of an issue another party controls with
``1 - w * (1 - trust)`` (``model.core.mechanics.judged_utility``); with ``implement`` an agreed
package is then delivered by the issues' controllers, each with its ``delivery`` reliability, and
a shortfall (a breach) updates trust; ``renegotiations`` lets the talks resume from the delivered
state as the new status quo that many times, else the run ends in ``breach``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, Strict, model_validator

from model.core.space import FloatArray
from model.protocols.base import (
    Extension,
    ExtensionRefused,
    OfferParams,
    OutcomeReason,
    Protocol,
    ProtocolParams,
    Renegotiation,
    Response,
    ResponseReason,
    Unit,
)

if TYPE_CHECKING:
    from model.negotiation import Actor, Negotiation


class PackageParams(OfferParams):
    kind: Literal["package"] = "package"
    #: how many times the parties may agree to extend the deadline, and by how many rounds each
    #: time (every party must expect more from going on than from walking away).
    extensions: Annotated[int, Strict(), Field(ge=0, le=10)] = 0
    extension_rounds: Annotated[int, Strict(), Field(ge=1, le=1000)] = 6
    #: how much a party discounts promises from a partner it distrusts (0: not at all, 1: it
    #: counts each promised move with its trust in the issue's controller)
    trust_discount: Unit = 0.0
    #: whether an agreed package is delivered by the issues' controllers (with their ``delivery``
    #: reliability) before it counts; a shortfall is a breach
    implement: Annotated[bool, Strict()] = False
    #: after a breach, how many times the talks may resume from the delivered state
    renegotiations: Annotated[int, Strict(), Field(ge=0, le=10)] = 0

    @model_validator(mode="after")
    def _renegotiation_needs_implementation(self) -> PackageParams:
        if self.renegotiations and not self.implement:
            raise ValueError("renegotiations follow a breach, which needs implement: true")
        return self


#: The package settings of a protocol that plays package rounds without its own (``framework``):
#: the defaults, made once (only read).
_DEFAULTS = PackageParams()


class PackageProtocol(Protocol):
    name = "package"
    Params: ClassVar[type[ProtocolParams]] = PackageParams
    walk_aways = True

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        super().__init__(model, params)
        own = params if isinstance(params, PackageParams) else _DEFAULTS
        self.extensions_left = own.extensions
        self.trust_weight = float(own.trust_discount)
        self.implementing = own.implement
        self.renegotiations_left = own.renegotiations
        #: whether every round is plain (``plain``), found at the first round (the model sets
        #: its walkers and beliefs after making its protocol)
        self._plain: bool | None = None

    def plain(self) -> bool:
        """Whether a round needs none of this protocol's checks beyond the offer and the answers:
        no trust discount, nobody who may walk away, everything public, nobody under a patron's
        pull or veto, and every actor judging an offer by its utilities as they are (the model's
        ``table_and_consult`` short way). None of it changes during a run (a trust discount
        is what changes the mechanisms)."""
        m = self.model
        return (self.trust_weight == 0.0 and not m.walkers and m.beliefs is None and not any(m.has_patrons)
                and m.plain_judging())

    def round(self) -> None:
        """One round: the proposer's offer and the others' answers. A plain round (``plain``)
        takes the short way: none of the checks that find nothing to do, the offer tabled and
        answered in one step (``Negotiation.table_and_consult``); else ``_general_round``."""
        plain = self._plain
        if plain is None:
            plain = self._plain = self.plain()
        if not plain:
            self._general_round()
            return
        m = self.model
        proposer = m.actors[m.order[(m.round - 1) % len(m.order)]]  # (``proposer_now``)
        m.proposer_id = proposer.actor_id
        hit = proposer.propose()
        if hit is None:
            self._passes(proposer)
            return
        offer = hit.package
        rejecters = m.table_and_consult(offer, hit.utilities, proposer.index)
        if not rejecters:
            self.agreed(offer, f"All parties accepted {proposer.actor_id}'s offer in round {m.round}.")
        elif m.round >= m.max_rounds or m.breakdown_risk > 0:  # (else ``fail_round`` finds nothing to do)
            m.fail_round(offer, rejecters)

    def _general_round(self) -> None:
        """A round with every check: a trust discount, walking away, patrons' vetoes, private
        information."""
        m = self.model
        if self.trust_weight > 0.0:
            m.refresh_promises(self.trust_weight)
        proposer = m.proposer_now()
        walker = self.walk_away() if m.walkers else None
        if walker is not None:  # its outside option beats what it expects from going on: it leaves
            detail = walker.response.detail if walker.response else ""
            m.end(False, OutcomeReason.WALK_AWAY, None, f"{walker.actor_id} walked away in round {m.round}: {detail}.",
                  blocked_by=[(walker.actor_id, ResponseReason.WALK_AWAY, detail)])
            return
        hit = proposer.propose()
        if hit is None:  # nothing it could offer beats no deal for it: it passes
            self._passes(proposer)
            return
        offer = hit.package
        # offers cross no party's red line (by construction, unless some are private: then the
        # answers check them) and carry their utilities
        m.table(offer, hit.utilities, parties_ok=m.beliefs is None or not m.private_lines)
        if m.has_patrons[proposer.index]:  # a patron's veto binds its client's own offers too
            vetoed = m.veto_check(proposer.index, offer)
            if vetoed is not None:
                proposer.response = vetoed
                m.fail_round(offer, [proposer])
                return
        rejecters = m.consult(offer, proposer.index)
        if m.beliefs is not None:  # (nothing to learn when everything is public)
            m.observe_answers(proposer.index, offer)
        if not rejecters:
            self.agreed(offer, f"All parties accepted {proposer.actor_id}'s offer in round {m.round}.")
        else:
            m.fail_round(offer, rejecters)

    def _passes(self, proposer: Actor) -> None:
        """The proposer has nothing to offer that beats no deal for it: it passes."""
        m = self.model
        m.table(None)
        proposer.response = Response(False, ResponseReason.NO_OFFER,
                                     note="nothing within the red lines beats no deal for it")
        m.fail_round(None, [proposer])

    def agreed(self, offer: FloatArray, text: str) -> None:
        m = self.model
        if self.implementing:
            self.implement(offer, text)
            return
        m.state = offer.copy()
        m.end(True, OutcomeReason.AGREEMENT, offer, text)

    # -- commitment: delivering the deal, breaches and renegotiation ---------------------------

    def implement(self, offer: FloatArray, text: str) -> None:
        """Each controller delivers its moves of the agreed package (``Negotiation.deliver``:
        its ``delivery`` reliability draws full, partial or no delivery, and the other parties'
        trust in it is updated); moves of issues nobody controls take effect at once. All
        delivered: ``agreement``. A shortfall is a breach: the talks resume from the delivered
        state while renegotiations and rounds are left, else they end in ``breach`` (agreed,
        with the delivered state recorded)."""
        m = self.model
        ctrl = m.mech.controller
        moved = [i for i in range(len(offer)) if abs(float(offer[i]) - float(m.state[i])) > 1e-12]
        for i in moved:
            if ctrl[i] < 0:
                m.state[i] = offer[i]
        short: list[str] = []
        for debtor in sorted({int(ctrl[i]) for i in moved if ctrl[i] >= 0}):
            issues = [i for i in moved if ctrl[i] == debtor]
            if m.deliver(debtor, issues, offer[issues].astype(float), "its part of the deal") < 1.0:
                short.append(m.problem.actor_ids[debtor])
        if not short:
            m.end(True, OutcomeReason.AGREEMENT, offer, text + " Every party delivered its part.")
            return
        if self.renegotiations_left > 0 and m.round < m.max_rounds:
            self.renegotiations_left -= 1
            m.record(Renegotiation(m.round, None, tuple(short), self.renegotiations_left))
            m.reset_status_quo(m.state.copy())
            return
        m.end(True, OutcomeReason.BREACH, offer,
              text + f" Then {', '.join(short)} fell short of delivering its part (round {m.round}); "
                     "the delivered state stands.")

    # -- time that costs: walking away and extending the deadline ------------------------------

    def walk_away(self) -> Actor | None:
        """The first party whose outside option beats the expected value of going on, if any."""
        m = self.model
        if not m.walkers:
            return None
        left = m.max_rounds - m.round
        outside = m.config.outside
        for i in m.walkers:
            ev = m.value_of_going_on(i, left)
            if float(outside[i]) > ev + 1e-9:
                a = m.actors[i]
                a.response = Response(False, ResponseReason.WALK_AWAY, float(ev), float(outside[i]),
                                      note=f"its outside option {outside[i]:.3f} beats the {ev:.3f} it "
                                           f"expects from going on")
                return a
        return None

    def extend(self) -> bool:
        """At the deadline: every party votes to extend by ``extension_rounds`` iff it expects more
        from going on than from walking away (its outside option, or the status quo)."""
        if self.extensions_left <= 0 or not isinstance(self.params, PackageParams):
            return False
        m = self.model
        k = self.params.extension_rounds
        outside, flow = m.config.outside, m.config.flow
        for a in m.actors:
            if not a.is_party:
                continue
            walk = float(flow[a.index]) if np.isnan(outside[a.index]) else float(
                max(outside[a.index], flow[a.index]))
            if m.value_of_going_on(a.index, k) <= walk + 1e-9:
                m.record(ExtensionRefused(m.round, a.actor_id))
                return False
        self.extensions_left -= 1
        m.max_rounds += k
        m.record(Extension(m.round, None, k, m.max_rounds))
        return True
