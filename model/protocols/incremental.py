"""``incremental``: step-by-step tranches under trust (the observed 2025-26 track).

Each round:

1. Promises falling due are delivered by the actors that control their issues, fully, partly or
   not at all (``delivery``); the state moves by what is delivered, every other party updates its
   Beta-Bernoulli trust in the deliverer, and what is still owed is due again the next round (a
   correction).
2. A party whose trust in a counterpart is below its threshold pauses: the issues it controls can
   move only by a gesture (``protocol.gesture``) until trust recovers.
3. The proposer in the rotation offers a tranche (``model.core.tranche.choose_tranche``): a move
   of at most ``step * step_growth ** k`` per issue from the current state, ``k`` being the number
   of tranches delivered in full so far, valued by every party with the other side's moves
   discounted by its trust in the actor that must deliver them (the proposer, like every party,
   weighs its patrons' gains in, and never offers what a patron's certain veto blocks; a weaker
   veto is drawn when it offers). Issues still owed do not move,
   and an actor moves the issues it controls only in directions no other party loses from (a
   tranche exchanges concessions, not takings).
4. Every other party accepts iff its trusted gain (its patrons' gains weighed in) is at least the
   protocol's margin and no patron vetoes it; a collective whose issues move must consent. An
   accepted tranche becomes promises, due after each deliverer's lag.

The talks settle (agreement) when nothing is owed and the state itself meets every party's
aspiration and reservation within its red lines. Otherwise they run to the deadline (or end by
breakdown risk, or stall when no one can offer a tranche for a whole rotation and nothing is
owed or can change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, Strict

from model.core.mechanics import certainly_vetoed, effective_utility
from model.core.space import FloatArray
from model.core.strategies import meets
from model.core.tranche import choose_tranche, kept_tranche
from model.protocols.base import (
    ACCEPTED,
    OfferParams,
    OutcomeReason,
    Protocol,
    ProtocolParams,
    Response,
    ResponseReason,
    Tranche,
    Unit,
)

if TYPE_CHECKING:
    from model.negotiation import Negotiation


class IncrementalParams(OfferParams):
    kind: Literal["incremental"] = "incremental"
    #: the first tranche moves an issue by at most ``step``; the cap grows by ``step_growth`` with
    #: every tranche delivered in full; a paused party's issues move by at most ``gesture``
    step: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.1
    step_growth: Annotated[float, Strict(), Field(ge=1.0, le=10.0)] = 1.5
    gesture: Unit = 0.05


@dataclass
class Promise:
    tranche: int
    debtor: int
    issues: list[int]
    targets: FloatArray
    due: int


class IncrementalProtocol(Protocol):
    name = "incremental"
    Params: ClassVar[type[ProtocolParams]] = IncrementalParams
    needs_zone = False
    stepwise = True

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        super().__init__(model, params)
        assert isinstance(params, IncrementalParams)
        self.step = params.step
        self.growth = params.step_growth
        self.gesture = params.gesture
        self.promises: list[Promise] = []
        self.delivered_in_full = 0
        self.tranches = 0
        self.idle = 0
        self.shortfall: dict[int, bool] = {}  # tranche -> some promise of it was not delivered in full
        self.open: dict[int, int] = {}  # tranche -> promises outstanding
        ctrl = np.asarray(model.mech.controller)
        cols = np.flatnonzero(ctrl >= 0)
        self._controlled = (cols, ctrl[cols])  # the issues someone controls, and who
        self._owner: list[int] = ctrl.tolist()  # each issue's controller (-1: no one), as Python ints
        # the last state ``settled`` judged (with its problem): its utilities and red-line checks
        self._judged: tuple[tuple[object, bytes], tuple[FloatArray, np.ndarray]] | None = None

    # -- deliveries ---------------------------------------------------------------------------

    def deliver_due(self) -> None:
        m = self.model
        due = [pr for pr in self.promises if pr.due <= m.round]
        for pr in due:
            f = m.deliver(pr.debtor, pr.issues, pr.targets, what=f"on tranche {pr.tranche}")
            if f >= 1.0:
                self.promises.remove(pr)
                self.open[pr.tranche] -= 1
                if self.open[pr.tranche] == 0:
                    if not self.shortfall[pr.tranche]:
                        self.delivered_in_full += 1
                    del self.open[pr.tranche]
            else:
                self.shortfall[pr.tranche] = True
                pr.due = m.round + max(1, m.mech.delivery[pr.debtor].lag)

    # -- the round ----------------------------------------------------------------------------

    def caps(self) -> FloatArray:
        m = self.model
        n_i = m.problem.space.n_issues
        base = min(1.0, self.step * self.growth**self.delivered_in_full)
        caps = np.full(n_i, base)
        ctrl = m.mech.controller
        for a in m.actors:
            if a.paused:
                caps[ctrl == a.index] = np.minimum(caps[ctrl == a.index], self.gesture)
        for pr in self.promises:
            caps[pr.issues] = 0.0
        return caps

    def multipliers(self) -> FloatArray:
        """``tau[a, i]``: a's trust in whoever must deliver issue ``i`` (1: itself, or no one)."""
        m = self.model
        cols, who = self._controlled
        mult = np.ones((m.problem.n_actors, len(m.mech.controller)))
        mult[:, cols] = m.trust.mean[:, who]
        mult[who, cols] = 1.0
        return mult

    def round(self) -> None:
        m = self.model
        self.deliver_due()
        m.update_pauses()
        proposer = m.proposer_now()
        p = m.problem
        parties = list(p.parties)

        def effective(g: FloatArray) -> FloatArray:
            return effective_utility(g, np.zeros(p.n_actors), m.mech) if m.mech.influence else g

        state = m.state.copy()

        def vetoed(values: FloatArray) -> np.ndarray:
            return certainly_vetoed(p, m.mech, proposer.index, values, state)

        caps, patrons = self.caps(), bool(m.mech.patrons_of(proposer.index))
        # the multipliers are a function of the trust counts (and the controllers, in the
        # mechanics): those go in the key, and the multipliers are computed only for a new choice
        trust = m.trust
        key = (m.mech, proposer.index, state.tobytes(), caps.tobytes(), trust.alpha.tobytes(),
               trust.beta.tobytes(), m.margin, patrons)
        tr = kept_tranche(p, key, lambda: choose_tranche(
            p, proposer.index, parties, state, caps, self.multipliers(), np.full(p.n_actors, m.margin), effective,
            m.mech.controller, vetoed if patrons else None))
        proposer.proposed = True
        if tr is None:
            m.table(None)
            proposer.response = Response(False, ResponseReason.NO_OFFER,
                                         note="no tranche that every party would accept gains it")
            self.idle += 1
            self.finish_round(False)
            return
        m.table(tr.values)
        own_veto = m.veto_check(proposer.index, tr.values, base=m.state)  # binds the client's own offers too
        if own_veto is not None:
            proposer.response = own_veto
            self.idle += 1
            self.finish_round(False, [proposer])
            return
        gains = effective(tr.gains).tolist()
        utilities = m.offer_utilities.tolist()
        rejecters = []
        for a in m.actors:
            if not a.is_party or a.index == proposer.index:
                continue
            a.received.append(utilities[a.index])
            if gains[a.index] < m.margin - 1e-12:
                a.response = Response(False, ResponseReason.BELOW_ASPIRATION, gains[a.index], m.margin,
                                      note=f"trusted gain {gains[a.index]:.3f} < margin {m.margin:g}")
            else:
                a.response = m.veto_check(a.index, tr.values, base=m.state) or ACCEPTED
            if not a.response.accepted:
                rejecters.append(a)
        if not rejecters:
            rejecters = m.collective_consent(tr.values, m.state)
        if rejecters:
            self.idle += 1
            self.finish_round(False, rejecters)
            return
        self.idle = 0
        self.accept(tr.values, proposer.actor_id)
        self.deliver_due()  # what is due at once (lag 0)
        self.finish_round(True)

    def accept(self, values: FloatArray, proposer: str) -> None:
        m = self.model
        self.tranches += 1
        m.counts["tranches"] += 1
        k = self.tranches
        # (in Python values: the same comparisons as ``np.abs(values - m.state) > 1e-9``)
        new, old = values.tolist(), m.state.tolist()
        moved = [i for i, (v, x) in enumerate(zip(new, old, strict=True)) if abs(v - x) > 1e-9]
        ctrl = self._owner
        ids = m.problem.space.ids
        parts: list[tuple[str, tuple[tuple[str, float, float], ...]]] = []
        self.open[k] = 0
        self.shortfall[k] = False
        for debtor in sorted({ctrl[i] for i in moved}):
            issues = [i for i in moved if ctrl[i] == debtor]
            if debtor < 0:
                m.state[issues] = values[issues]  # no one has to deliver: it takes effect at once
                who = "jointly"
                frm = new  # (the state has moved there)
            else:
                lag = m.mech.delivery[debtor].lag
                self.promises.append(Promise(k, debtor, issues, values[issues], m.round + lag))
                self.open[k] += 1
                who = m.problem.actor_ids[debtor]
                frm = old
            parts.append((who, tuple((ids[i], frm[i], new[i]) for i in issues)))
        if self.open[k] == 0:
            del self.open[k]
            self.delivered_in_full += 1
        m.record(Tranche(m.round, proposer, k, tuple(parts)))

    def settled(self) -> list[tuple[str, str, str]]:
        """Why the state is not yet a settlement every party accepts (empty: it is)."""
        m = self.model
        p = m.problem
        out: list[tuple[str, str, str]] = []
        if self.promises:
            owed = sorted({p.actor_ids[pr.debtor] for pr in self.promises})
            out.append((owed[0], ResponseReason.OWES, "promises still to deliver"))
        u, ok = self._judge_state()
        for a in m.actors:
            if not a.is_party:
                continue
            if not ok[a.index]:
                line = p.redlines.crossed(m.state, a.index)[0]
                out.append((a.actor_id, ResponseReason.RED_LINE, line.describe(p.space, p.actor_ids)))
            elif not meets(u[a.index], a.need + m.margin):
                out.append((a.actor_id, ResponseReason.BELOW_ASPIRATION,
                            f"utility {u[a.index]:.3f} < aspiration {a.need + m.margin:.3f}"))
        return out

    def _judge_state(self) -> tuple[FloatArray, np.ndarray]:
        """Every actor's utility of the state (its patrons' weighed in) and whether the state
        crosses none of its red lines (kept while the state and the problem stay the same)."""
        m = self.model
        p = m.problem
        key = (p, m.state.tobytes())
        if self._judged is not None and self._judged[0] == key:
            return self._judged[1]
        if m.mech.promises is None:  # as ``table`` judges the state (and keeps it for the next run)
            seen = m.tabled(m.state)
            u, ok = seen[2], seen[3]
        else:
            u = effective_utility(p.utility(m.state), p.reservation, m.mech)
            ok = p.redlines.satisfied(m.state)[0]
        self._judged = (key, (u, ok))
        return u, ok

    def is_settled(self) -> bool:
        """Whether ``settled`` finds nothing short of a settlement (without writing why)."""
        if self.promises:
            return False
        m = self.model
        u, ok = self._judge_state()
        return all(
            ok[a.index] and meets(u[a.index], a.need + m.margin) for a in m.actors if a.is_party
        )

    def finish_round(self, traded: bool, rejecters: list | None = None) -> None:
        m = self.model
        if self.is_settled():
            m.end(True, OutcomeReason.AGREEMENT, m.state.copy(),
                  f"The step-by-step track reached a settlement every party accepts in round {m.round}, "
                  f"after {self.tranches} tranches.")
            return
        last = m.round >= m.max_rounds
        stalled = self.idle >= len(m.order) and not self.promises and not m.mech.spoilers
        if last or stalled:
            short = self.settled()  # why not (for the outcome)
            reason = OutcomeReason.DEADLINE if last else OutcomeReason.STALLED
            head = (f"No settlement by the deadline (round {m.max_rounds})" if last else
                    f"Stalled in round {m.round}: no party could offer a tranche every other party accepts "
                    f"for a whole rotation, and nothing is owed")
            m.end(False, reason, None, head + "; " + self.track_summary(short), blocked_by=short)
            return
        if m.breakdown_risk > 0 and m.rng.random() < m.breakdown_risk:
            short = self.settled()
            m.end(False, OutcomeReason.BREAKDOWN, None,
                  f"Talks broke down in round {m.round} (per-round breakdown risk {m.breakdown_risk:g}); "
                  + self.track_summary(short), blocked_by=short)

    def track_summary(self, short: list[tuple[str, str, str]]) -> str:
        m = self.model
        p = m.problem
        pauses = int(m.counts["pauses"])
        moved = [
            f"{iid} {p.space.status_quo[i]:g}->{m.state[i]:g}"
            for i, iid in enumerate(p.space.ids) if abs(m.state[i] - p.space.status_quo[i]) > 1e-9
        ]
        text = (f"{self.tranches} tranches agreed, {self.delivered_in_full} delivered in full; "
                f"{pauses} pause{'s' if pauses != 1 else ''} ({int(m.counts['pause_rounds'])} rounds). ")
        text += ("Moved: " + ", ".join(moved) + ". ") if moved else "Nothing moved. "
        if short:
            text += "Short of a settlement: " + "; ".join(f"{a} ({r}: {d})" for a, r, d in short[:4]) + "."
        return text
