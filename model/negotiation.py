"""The Mesa shell: actors are ``mesa.Agent``s owning a strategy (``model.agents.Actor``); the
``mesa.Model`` here runs the scenario's protocol (``model.protocols``) round by round and
records what happens with a ``DataCollector``. It reads only the compiled scenario
(``model.scenario.compile_spec``): the problem, the mechanisms, the protocol's parameters and
the actors' strategies; what is particular to one protocol lives in its class, behind the
traits and hooks of ``model.protocols.base.Protocol``.

Each round: spoiler events fire (``model.core.mechanics``), every actor sets its aspiration
from its strategy, then the protocol plays the round: an offer, a tranche, a text revision or a
forecast step, the parties' answers, and deliveries. The model holds what the protocols share:
the offer on the table and how each actor judges it (its own red lines, its utility with its
patrons' pull, vetoes, collectives' consent and domestic ratification), trust, the implemented
state, and the log of events that explains the outcome.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import mesa
import numpy as np
from mesa.experimental.mesa_signals import Observable, ObservableSignals

from model.agents import STEPS_LISTED, Actor, _schedule_of, best_hoped, posture_floor
from model.core.analysis import best_compromise
from model.core.beliefs import LINE_BELIEVED, QUANTILES, Beliefs, expected_value, mediator_means, zone_of_agreement
from model.core.mechanics import (
    Influence,
    Mechanics,
    Trust,
    collective_refusals,
    draw_delivery,
    effective_utility,
    judged_utility,
    promise_factors,
    veto_objection,
)
from model.core.offers import Offer, judged_utilities, most_for, offers_against_beliefs
from model.core.preferences import Preferences
from model.core.problem import Problem
from model.core.redlines import RedLineSet, conflict_explanation
from model.core.space import FloatArray
from model.core.strategies import (
    ACCEPT_TOL,
    Rubinstein,
    Strategy,
    continuation,
    schedules_by_actor,
    stationary_shares,
    zeuthen_risk,
)
from model.core.tranche import partial_values
from model.protocols import PROTOCOLS, make_protocol
from model.protocols.base import (
    ACCEPTED,
    Delivery,
    Event,
    Outcome,
    OutcomeReason,
    Pause,
    PhaseEnded,
    PhaseStarted,
    ProtocolParams,
    Response,
    ResponseReason,
    Resume,
    SpoilerFired,
)
from model.scenario import Scenario, compile_phase

__all__ = ["ACCEPTED", "METRICS", "Actor", "Negotiation", "Outcome", "Response"]


#: Expected utilities of two candidate offers closer than this are a tie (the first is kept).
EV_TIE = 1e-8

#: Measures every run reports, whatever its protocol (sweeps need the same columns throughout).
#: ``delivered_share`` is the mean fraction delivered over the ``deliveries`` made (0 when none
#: was due).
METRICS = ("tranches", "deliveries", "delivered_share", "pauses", "pause_rounds", "implemented", "spoilers")


class Negotiation(mesa.Model):
    """A multi-party negotiation over linked issues, run round by round.

    Args:
        scenario: a compiled scenario.
        rng: seed or generator; defaults to the scenario's seed. The same scenario and seed
            always give the same run.
        collect: record per-round data with the DataCollector (sweeps, which keep only the
            outcome, turn it off).
    """

    time: float  # (Mesa's observable clock, as the type checker is to read it)

    def __init__(
        self, scenario: Scenario, rng: int | np.random.Generator | None = None, collect: bool = True
    ) -> None:
        seed = scenario.seed if rng is None else rng
        super().__init__(rng=seed)
        self.seed_used: int | None = int(seed) if isinstance(seed, int | np.integer) else None
        self.config = scenario  # (Mesa's Model owns the name `scenario`)
        self.problem = scenario.problem
        self.mech = scenario.mech
        params = scenario.params
        self.kind = params.kind
        self.max_rounds = params.max_rounds  # the deadline in force (extensions move it)
        self.deadline = params.max_rounds  # the first deadline: what the strategies plan by
        self.breakdown_risk = params.breakdown_risk
        self.margin = params.offer_margin
        self.round = 0
        self.order = list(scenario.order)
        self.offer: FloatArray | None = None
        self.offer_utilities = _all_nan(self.problem.n_actors)  # (read-only: ``table`` replaces it, never writes)
        self.offer_judged = self.offer_utilities  # as each judges promises (the same array without a trust discount)
        self.offer_effective = self.offer_utilities
        self.offer_lines_ok = _all_true(self.problem.n_actors)
        self.state = self.problem.space.status_quo.astype(float)  # (a copy)
        self._trust_mech = self.mech  # (``trust`` is made from these when first asked for)
        self.collect = collect
        self.proposer_id = ""
        self.outcome: Outcome | None = None
        self.events: list[Event] = []
        self.phase_results: list[dict[str, Any]] = []  # sequence: each phase's outcome
        self.counts = dict.fromkeys(METRICS, 0.0)
        self._ideal = self.problem.prefs.ideal.copy() if isinstance(self.problem.prefs, Preferences) else None
        self._salience = self.mech.salience.copy()
        #: whether the actors' aspirations are computed: for a protocol that reads them, or for a
        #: run that records them; else they stay NaN, and no utopia point is computed for them
        self.aspirations_kept = collect or PROTOCOLS[params.kind].uses_aspirations
        shared = _shared(scenario, self.aspirations_kept)
        self._shares = shared.shares
        self._kappa = shared.kappa
        # the agents (Mesa registers each in ``self.agents``), in the problem's order, for the
        # per-round loops
        self.actors: list[Actor] = [Actor(self, i, strategy, shared.schedules[i], shared.steps[i], shared.hopes[i])
                                    for i, strategy in enumerate(shared.strategies)]
        self._all_parties = shared.all_parties
        #: every actor's aspiration depends on time only (its schedule): ``_play_round`` steps them
        #: along their schedules itself
        self._all_timed = all(s is not None for s in shared.steps)
        actors = self.actors
        self._responders = {p: tuple([actors[a] for a in who]) for p, who in shared.responders.items()}
        self._trusters_of: dict[int, tuple[np.ndarray, list[int]]] = {}
        self._patrons = shared.patrons
        self.has_patrons = [bool(ps) for ps in shared.patrons]
        #: the mechanisms when nobody's judgement of an offer differs from its utility (no patrons'
        #: pull, no promises discounted), else ``None``: ``table``'s short way is for these
        self._plain_mech = self.mech if self.mech.promises is None and not self.mech.influence else None
        self._lines_all_ok = _all_true(self.problem.n_actors)
        self._lines_all_ok_list = [True] * self.problem.n_actors  # (read only, as the array)
        self.effective_list: list[float] = self.offer_effective.tolist()
        self.lines_ok_list: list[bool] = self.offer_lines_ok.tolist()
        self.counterparts = shared.counterparts
        self._noisy = shared.noisy  # some ratification noise (the mechanisms' noise never changes)
        self._pause_checks = shared.pause_checks
        self._datacollector = mesa.DataCollector(**shared.reporters) if collect else None
        self.protocol = make_protocol(self, params)
        self._believed: dict[Any, tuple[Problem, Problem]] = {}
        self._p_accept: dict[int, float] = {}  # the proposer's P(accept) per party, of its latest offer
        self._mediator_belief: dict[int, float] = {}  # the mediator's belief mean of private reservations
        self._mediator_seen: tuple[Problem, Problem] | None = None
        self.beliefs = self._draw_beliefs(scenario)
        # parties whose outside option beats the status quo may walk away (if the protocol lets them)
        self.walkers = list(shared.walkers) if self.protocol.walk_aways else []
        if not self.problem.has_zone_of_agreement_by_red_lines and self.protocol.needs_zone:
            why = conflict_explanation(
                self.problem.space, self.problem.redlines, self.problem.parties, self.problem.actor_ids
            )
            if self.problem.fixed:
                off = ", ".join(self.problem.space.ids[i] for i in self.problem.fixed)
                why += f" (issues off the table, kept at the status quo: {off})"
            self.end(False, OutcomeReason.NO_ZONE, None, f"No package satisfies every party's red lines: {why}.")

    @cached_property
    def trust(self) -> Trust:
        """Every actor's trust in every other (``model.core.mechanics.Trust``), from the
        scenario's mechanisms; made when first asked for (a run without trust dynamics never
        asks)."""
        return Trust(self._trust_mech)

    @property
    def datacollector(self) -> mesa.DataCollector:
        """The per-round records (only for a model made with ``collect=True``)."""
        if self._datacollector is None:
            raise RuntimeError("this negotiation was made with collect=False: it records no per-round data")
        return self._datacollector

    # ---------------------------------------------------------------------------------------
    # the round

    def step(self) -> None:
        """One round: shocks, aspirations, then the protocol's round; the DataCollector records it."""
        self._play_round()

    def _play_round(self) -> None:
        """The round ``step`` plays (Mesa wraps ``step`` to advance its clock and events)."""
        if not self.running:
            return
        self.round += 1
        if self.mech.spoilers and not self.protocol.phased:
            self._fire_spoilers()
        t = self.round - 1
        if self._all_timed:  # ``update_aspiration``'s time-only step, for every actor, without a call each
            first = t <= 0
            for a in self.actors:
                a.previous = math.nan if first else a.aspiration
                a._at = at = t if t < a._known else a._reach(t)
                a.aspiration = a._steps[at]  # type: ignore[index]
                a.proposed = False
                a._response = a._short = None
        else:
            for a in self.actors:
                a.update_aspiration(t)
        self.protocol.round()
        if self._datacollector is not None:
            self._datacollector.collect(self)

    def run(self) -> Outcome:
        """Run to the end and return the outcome.

        Each round is one Mesa step. While nothing but Mesa's own step schedule is pending (no
        event scheduled on the model, no simulator), the rounds are played without a trip
        through the event list per round: the step schedule is paused (``EventGenerator.pause``),
        each round advances ``time`` and ``steps`` by one as Mesa's step does, and the schedule is
        resumed at the end (its next step one unit on, where Mesa's step leaves it); while
        nobody observes ``time`` (Mesa's signals), the clock's value is stored as its observable
        stores it when it has no one to tell. An event scheduled on the model from within a
        round sends the rest through Mesa's step: once the schedule is paused the event list
        holds only cancelled events, and scheduling one adds to it (only Mesa's step takes
        events out), so a list as long as at the pause has nothing pending; otherwise the list
        is asked (``EventList.is_empty``)."""
        sched: Any = getattr(self, "_default_schedule", None)
        events: Any = getattr(self, "_event_list", None)
        fast = (sched is not None and events is not None and getattr(self, "_simulator", None) is None
                and sched.is_active and len(events) == 1 and sched.next_scheduled_time == self.time + 1)
        if fast:
            sched.pause()
            heap = getattr(events, "_events", None)
            if not isinstance(heap, list):
                heap = None
            paused = -1 if heap is None else len(heap)
            clock: float = self.time  # (``time`` is a Mesa observable: read once, set each round)
            slot = _clock_slot(type(self))
            listeners: Any = getattr(self, "subscribers", None)
            quiet = bool(slot) and isinstance(listeners, dict)
            values = self.__dict__
            try:
                while self.running and (
                        heap is not None and len(heap) == paused and events._events is heap or events.is_empty()):
                    clock += 1
                    if quiet and not listeners.get(_CLOCK_CHANGED):  # nobody observes the clock
                        values[slot] = clock  # (what the observable stores when it has no one to tell)
                    else:
                        self.time = clock
                    self.steps += 1
                    self._play_round()
            finally:
                sched.resume()
        while self.running:
            self.step()
        assert self.outcome is not None
        return self.outcome

    def demands(self, proposer: int) -> FloatArray:
        """Every actor's demand this round, as it judges offers: ``max(aspiration, reservation)``,
        plus the protocol's margin for all but the proposer."""
        d = np.array([a.need + (self.margin if a.index != proposer else 0.0) for a in self.actors])
        return d

    def share_now(self, actor: int) -> float:
        """The actor's stationary subgame-perfect share in this round's role (``rubinstein``)."""
        if self._shares is None:
            return math.nan
        return float(self._shares[(self.round - 1) % len(self.order), actor])

    def proposer_now(self) -> Actor:
        proposer = self.actors[self.order[(self.round - 1) % len(self.order)]]
        self.proposer_id = proposer.actor_id
        return proposer

    def others_risk(self, actor: int) -> float:
        """The smallest Zeuthen risk among the other parties for the latest offer they received."""
        res = self.problem.reservation if self.beliefs is None else self.believed_problem(actor).reservation
        risks = [
            zeuthen_risk(a.previous, a.received[-1], float(res[a.index]))
            for a in self.actors
            if a.is_party and a.index != actor and a.received and not math.isnan(a.previous)
        ]
        return min(risks) if risks else math.nan

    # ---------------------------------------------------------------------------------------
    # offers and answers

    def table(
        self, offer: FloatArray | None, utilities: FloatArray | None = None, parties_ok: bool = False
    ) -> None:
        """Put ``offer`` on the table: every actor sees its utility and whether it crosses a red line.

        ``utilities`` and ``parties_ok`` (no party's red line is crossed) may be passed when known.
        """
        self.offer = offer
        if utilities is not None and parties_ok and self.mech is self._plain_mech and self._all_parties:
            # every actor judges the offer by its utilities as they are and no red line is crossed
            # (what the general branch below computes, without its steps)
            self.offer_utilities = self.offer_judged = self.offer_effective = utilities
            self.offer_lines_ok = self._lines_all_ok
            self.effective_list = utilities.tolist()
            self.lines_ok_list = self._lines_all_ok_list
            return
        if offer is None:
            self.offer_utilities = _all_nan(self.problem.n_actors)
            self.offer_judged = self.offer_effective = self.offer_utilities
            self.offer_lines_ok = _all_true(self.problem.n_actors)
        elif utilities is None:
            # a package met before (the replicates of a point meet the same tranches and states
            # again and again) is judged as it was: a function of the problem, the mechanisms and
            # the package
            seen = self.tabled(offer)
            (self.offer_utilities, self.offer_judged, self.offer_effective, self.offer_lines_ok,
             effective_list, lines_ok_list) = seen
            self.effective_list, self.lines_ok_list = list(effective_list), list(lines_ok_list)
            return
        else:
            self.offer_utilities = utilities
            self.offer_judged = self._judged(offer)
            self.offer_effective = effective_utility(self.offer_judged, self.problem.reservation, self.mech)
            if parties_ok and self._all_parties:
                self.offer_lines_ok = _all_true(self.problem.n_actors)
            else:
                self.offer_lines_ok = self.problem.redlines.satisfied(offer)[0]
        # (as Python values, for the answers read one actor at a time)
        self.effective_list = self.offer_effective.tolist()
        self.lines_ok_list = self.offer_lines_ok.tolist()

    def plain_judging(self) -> bool:
        """Whether every actor judges an offer by its utilities as they are (no patrons' pull, no
        promises discounted) and every actor is a party: ``table``'s short way for an offer
        whose utilities are known and that crosses no party's red line."""
        return self.mech is self._plain_mech and self._all_parties

    def table_and_consult(self, offer: FloatArray, utilities: FloatArray, proposer: int) -> list[Actor]:
        """``table(offer, utilities, parties_ok=True)`` and then ``consult(offer, proposer)`` (the
        offer crosses no party's red line): the same steps in one call when ``plain_judging``."""
        if self.mech is not self._plain_mech or not self._all_parties:  # (not ``plain_judging``)
            self.table(offer, utilities, parties_ok=True)
            return self.consult(offer, proposer)
        # ``table``'s short way
        self.offer = offer
        self.offer_utilities = self.offer_judged = self.offer_effective = utilities
        self.offer_lines_ok = self._lines_all_ok
        u = self.effective_list = utilities.tolist()
        self.lines_ok_list = self._lines_all_ok_list
        # ``consult``: each hears it before anyone answers
        responders = self._responders.get(proposer)
        if responders is None:
            responders = tuple(a for a in self.actors if a.is_party and a.index != proposer)
        for a in responders:
            a.received.append(u[a.index])
        rejecters = [a for a in responders if not a.accepts(offer)]
        if rejecters:
            return rejecters
        return self.consent_and_ratification(offer, self.problem.space.status_quo)

    def tabled(self, offer: FloatArray) -> _Tabled:
        """How every actor judges ``offer`` as ``table`` puts it on the table (no utilities given):
        its utilities, judged and effective utilities and red lines kept (read-only arrays), and
        the last two as lists."""
        return _tabled(self.problem, self.mech, offer, self._tabled_fresh)

    def _tabled_fresh(self, offer: FloatArray) -> _Tabled:
        """What ``table`` computes for ``offer`` (no utilities given), as ``_tabled`` keeps it."""
        u = self.problem.utility(offer)
        judged = u if self.mech.promises is None else judged_utility(self.problem, offer, self.mech.promises)
        effective = effective_utility(judged, self.problem.reservation, self.mech)
        ok = self.problem.redlines.satisfied(offer)[0]
        return u, judged, effective, ok, effective.tolist(), ok.tolist()

    def consult(self, offer: FloatArray, proposer: int | None, base: FloatArray | None = None) -> list[Actor]:
        """Every party but the proposer answers the offer on the table; then the collectives'
        members and the parties' home constituencies (ratification) have their say.
        Returns the actors that block it."""
        responders = self._responders.get(proposer)
        if responders is None:
            responders = tuple(a for a in self.actors if a.is_party and a.index != proposer)
        # what each counts on (its promises discounted by its trust, if at all)
        u = self.effective_list if self.offer_judged is self.offer_effective else self.offer_judged.tolist()
        for a in responders:  # each hears it before anyone answers
            a.received.append(u[a.index])
        rejecters = [a for a in responders if not a.accepts(offer)]
        if rejecters:
            return rejecters
        return self.consent_and_ratification(offer, self.problem.space.status_quo if base is None else base)

    def veto_check(self, client: int, offer: FloatArray, base: FloatArray | None = None) -> Response | None:
        """A patron's veto on the client's acceptance (``None``: no veto exercised)."""
        for inf in self._patrons[client]:
            why = veto_objection(self.problem, inf, offer, self.problem.space.status_quo if base is None else base)
            if why is None:
                continue
            vetoed = inf.veto_strength >= 1.0 or (inf.veto_strength > 0.0 and self.rng.random() < inf.veto_strength)
            self._observe_veto(inf, vetoed)
            if vetoed:
                patron = self.problem.actor_ids[inf.patron]
                return Response(False, ResponseReason.VETO, note=f"{patron} vetoes it: it {why}")
        return None

    def collective_consent(self, offer: FloatArray, base: FloatArray) -> list[Actor]:
        """Members of collectives whose issues the offer moves that refuse their consent."""
        out: list[Actor] = []
        for member, why in collective_refusals(self.problem, self.mech, offer, base):
            act = self.actors[member]
            if act not in out:
                act.response = Response(False, ResponseReason.NO_CONSENT, note=why)
                out.append(act)
        return out

    def consent_and_ratification(self, offer: FloatArray, base: FloatArray) -> list[Actor]:
        """Collective consent (every member of a collective whose issues move) and domestic
        ratification (win-set with noise) of a deal every party accepted at the table."""
        out = self.collective_consent(offer, base)
        if out:
            return out
        noise = self.mech.noise
        if self._noisy:
            u = self.offer_utilities
            for a in self.problem.parties:
                if noise[a] > 0:
                    bar = self.problem.reservation[a] + noise[a] * self.rng.standard_normal()
                    if u[a] < bar - 1e-9:
                        act = self.actors[a]
                        act.response = Response(False, ResponseReason.NOT_RATIFIED, float(u[a]), float(bar),
                                                note=f"its home constituency wants {bar:.3f}, the deal gives "
                                                     f"{u[a]:.3f}")
                        out.append(act)
        return out

    # ---------------------------------------------------------------------------------------
    # time that costs (the protocols' walk-away and extension hooks ask this)

    def value_of_going_on(self, actor: int, rounds: int) -> float:
        """What ``actor`` expects from going on for at most ``rounds`` more rounds: the status quo
        flow, plus the gain of the best deal the others' demands leave it, discounted by its
        continuation factor for the wait. It expects the others to concede at an even pace to
        their floors by then, and takes the better of a deal now and one at the end."""
        if self.beliefs is not None:  # others' private floors at its belief means, not the truth
            problem = self.believed_problem(actor)
            return self._going_on(actor, rounds, problem, problem.reservation, 0)
        return self._going_on(actor, rounds, self.problem, self.problem.reservation, 0)

    def _going_on(self, actor: int, rounds: int, problem: Problem, res: FloatArray, first: int) -> float:
        """``value_of_going_on`` on ``problem`` with the others' floors ``res`` (their private
        ones at ``actor``'s belief), the next deal ``first`` rounds away at the earliest."""
        a = self.actors[actor]
        flow = float(self.config.flow[actor])
        b = self.beliefs
        now = {o.index: o.need if b is None or (actor, o.index) not in b.res else max(o.aspiration, float(res[o.index]))
               for o in self.actors if o.is_party and o.index != actor}
        best = flow
        for k in sorted({first, max(1, rounds)}):
            share = k / max(1, rounds)
            want = {j: d - share * (d - float(res[j])) for j, d in now.items()}
            g = most_for(problem, actor, want, self.mech)
            if g is not None:
                best = max(best, flow + a.kappa**k * (g - flow))
        return best

    def fail_round(self, offer: FloatArray | None, rejecters: list[Actor]) -> None:
        """No agreement this round: at the deadline (unless the parties extend it), or by breakdown
        risk, the talks end."""
        if self.round >= self.max_rounds and not self.protocol.extend():
            self.end(False, OutcomeReason.DEADLINE, offer, self._deadline_explanation(rejecters), _blocked(rejecters))
        elif self.breakdown_risk > 0 and self.rng.random() < self.breakdown_risk:
            text = f"Talks broke down in round {self.round} (per-round breakdown risk {self.breakdown_risk:g})."
            self.end(False, OutcomeReason.BREAKDOWN, offer, text, _blocked(rejecters))

    # ---------------------------------------------------------------------------------------
    # private information (model.core.beliefs; docs/model.md, "What parties do not know")

    def _draw_beliefs(self, sc: Scenario) -> Beliefs | None:
        """The parties' beliefs at the start (``None`` when everything is public: no draw)."""
        info = sc.information
        if info is None or not info.any_private:
            return None
        owners = {k: self.problem.redlines.lines[k].actor for k in info.private_lines}
        strengths = tuple(self.mech.influence[v.influence].veto_strength for v in info.vetoes)
        beliefs = Beliefs.draw(info, tuple(self.problem.parties), self.problem.reservation, owners, self.rng,
                               strengths)
        signal = getattr(sc.params, "mediator_signal", None)
        if signal is not None and signal < 1.0:  # the mediator's own signal of each private reservation
            self._mediator_belief = mediator_means(info, self.problem.reservation, float(signal), self.rng)
        return beliefs

    def mediator_problem(self) -> Problem:
        """The problem as the mediator sees it: private reservations at its belief means."""
        got = self._mediator_belief
        if not got:
            return self.problem
        p = self.problem
        if self._mediator_seen is None or self._mediator_seen[0] is not p:
            res = p.reservation.copy()
            for j, r in got.items():
                res[j] = r
            self._mediator_seen = (p, p.with_preferences(p.prefs, res))
        return self._mediator_seen[1]

    @property
    def private_lines(self) -> bool:
        """Whether some red line is private (an offer may then cross one: answers check them)."""
        return self.beliefs is not None and bool(self.beliefs.info.private_lines)

    def believed_reservation(self, i: int, at_zero: bool = False) -> FloatArray:
        """The reservations as ``i`` sees them: the others' private ones at its belief means
        (``at_zero``: at 0, for the judged utilities ``p_accepts`` shifts type by type)."""
        b = self.beliefs
        assert b is not None
        res = self.problem.reservation.copy()
        for (o, j) in b.res:
            if o == i:
                res[j] = 0.0 if at_zero else b.mean(i, j)
        return res

    def believed_problem(self, i: int) -> Problem:
        """The problem as ``i`` sees it: the private red lines of others it believes absent left
        out, and the others' private reservations at its belief means (so that the spans that
        normalise its offer programs, and what it expects from going on, read no truth)."""
        p = self.problem
        b = self.beliefs
        assert b is not None
        drop = tuple(k for k in b.info.private_lines
                     if b.line_owner[k] != i and b.believes_line(i, k) < 0.5)
        res = self.believed_reservation(i)
        same = bool(np.array_equal(res, p.reservation))
        if not drop and same:
            return p
        key = (drop, res.tobytes())
        got = self._believed.get(key)
        if got is not None and got[0] is p:
            return got[1]
        out = p
        if drop:
            kept = [ln for k, ln in enumerate(p.redlines.lines) if k not in drop]
            out = dataclasses.replace(p, redlines=RedLineSet(kept, p.redlines.n_actors, p.redlines.n_issues))
        if not same:
            out = out.with_preferences(out.prefs, res)
        if len(self._believed) > 256:  # (beliefs move with every answer: keep the cache small)
            self._believed.clear()
        self._believed[key] = (p, out)
        return out

    def propose_against_beliefs(self, actor: Actor) -> Offer | None:
        """``actor``'s offer when some information is private: among the candidate offers at the
        belief quantiles (``model.core.offers.offers_against_beliefs``), the one that maximises
        ``P(all accept | its beliefs) u_own + (1 - P) v``, ``v`` its value of going on (the
        disagreement value in the last round). Ties (within ``EV_TIE``, the offers' own 1e-9
        margins): the one more likely accepted."""
        b = self.beliefs
        assert b is not None
        i = actor.index
        stated = [a.aspiration for a in self.actors]
        base = self.demands(i)
        uncertain = [j for j in self.problem.parties if j != i and (i, j) in b.res]
        floor_sets = []
        for q in QUANTILES if uncertain else (1.0,):
            d = base.copy()
            for j in uncertain:
                d[j] = b.floor_at(i, j, q, stated[j], self.margin)
            floor_sets.append(d)
        cands = offers_against_beliefs(self.believed_problem(i), i, floor_sets, self.mech)
        safe = self._veto_free_problem(i)
        if safe is not None and safe.boxes:  # and offers that leave the uncertain vetoes' issues alone
            seen = {c.package.tobytes() for c in cands}
            cands += [c for c in offers_against_beliefs(safe, i, floor_sets, self.mech)
                      if c.package.tobytes() not in seen]
        left = self.max_rounds - self.round
        judged = [self._chances(i, c, stated) for c in cands]
        # the likeliest to be accepted first, so that a tie goes to it (the screening rule's tie)
        ranked = sorted(range(len(cands)), key=lambda k: -judged[k][0])
        best: tuple[float, Offer, dict[int, float]] | None = None
        for k in ranked:
            p_all, own, each = judged[k]
            going_on = self.value_after_refusal(i, cands[k], each, stated, left)
            ev = expected_value(p_all, own, going_on)
            if best is None or ev > best[0] + EV_TIE:
                best = (ev, cands[k], each)
        if best is None:
            return None
        self._p_accept = best[2]
        return best[1]

    def _chances(self, i: int, offer: Offer, stated: list[float]) -> tuple[float, float, dict[int, float]]:
        """``i``'s belief that every other party accepts ``offer`` (independent parties: the
        product of each one's chance that its floor is met and that it holds no private line
        the offer crosses), ``i``'s own (judged) utility of it, and each party's chance."""
        b = self.beliefs
        assert b is not None
        judged = judged_utilities(self.problem, self.mech, offer.utilities)
        if self.mech.influence:  # a client's own gain counts from its reservation: from 0, shifted per type
            judged = effective_utility(offer.utilities, self.believed_reservation(i, at_zero=True), self.mech)
        need = self.demands(i)
        # a party whose floor is public accepts iff the offer meets it (as the public path judges)
        each = {j: b.p_accepts(i, j, float(judged[j]), stated[j], self.margin, self._slope(j)) if (i, j) in b.res
                else float(float(judged[j]) >= float(need[j]) - ACCEPT_TOL) for j in self.problem.parties if j != i}
        for ln in self.problem.redlines.crossed(offer.package):
            k = self.problem.redlines.lines.index(ln)
            if ln.actor != i and k in b.info.private_lines:
                each[ln.actor] = each.get(ln.actor, 1.0) * (1.0 - b.believes_line(i, k))
        sq = self.problem.space.status_quo
        for v, pv in enumerate(b.info.vetoes):  # a patron's private veto: P(it lets the deal pass)
            inf = self.mech.influence[pv.influence]
            if pv.client in each and (i, v) in b.veto and veto_objection(self.problem, inf, offer.package, sq):
                each[pv.client] *= b.p_no_veto(i, v)
        return float(np.prod(list(each.values()))), float(judged[i]), each

    def value_after_refusal(self, i: int, offer: Offer, each: dict[int, float], stated: list[float],
                            left: int) -> float:
        """What ``i`` expects from going on if ``offer`` is refused, ``left`` rounds before the
        deadline: the flow in the last round; else ``value_of_going_on`` with the others'
        private floors at ``i``'s *posterior* means after that refusal (what the refusal would
        teach it: the types that would have accepted lose weight, by Bayes' rule over the event
        "not all accept", parties independent) and the next deal at least one round away
        (discounted by ``i``'s continuation factor). With two types the refusal of the offer
        only the low type takes reveals the high type: the two-period screening (skimming)
        result (docs/model.md)."""
        flow = float(self.config.flow[i])
        b = self.beliefs
        assert b is not None
        if left <= 0:
            return flow
        judged = judged_utilities(self.problem, self.mech, offer.utilities)
        if self.mech.influence:
            judged = effective_utility(offer.utilities, self.believed_reservation(i, at_zero=True), self.mech)
        res = self.believed_reservation(i)
        for (o, j), w in b.res.items():
            p = b.private(j)
            if o != i or j not in each or p is None:
                continue
            u_t = float(judged[j]) + self._slope(j) * p.types  # its judged utility, type by type
            ok = np.maximum(stated[j], p.types) + self.margin <= u_t + ACCEPT_TOL
            floor = float(w[ok].sum() / w.sum())
            rest = float(np.prod([v for k, v in each.items() if k != j]))
            factor = each[j] / floor if floor > 0.0 else 0.0  # (its lines' and patrons' vetoes' part)
            post = w * (1.0 - ok * factor * rest)
            if post.sum() > 0.0:
                res[j] = float(post @ p.types / post.sum())
        base = self.believed_problem(i)
        seen = base if np.array_equal(res, base.reservation) else base.with_preferences(base.prefs, res)
        return self._going_on(i, left, seen, res, 1)

    def _slope(self, j: int) -> float:
        """How ``j``'s judged utility moves with its own reservation: the weight it gives its
        patrons' gains (``model.core.mechanics.effective_utility``)."""
        return float(sum(inf.weight for inf in self._patrons[j]))

    def _observe_veto(self, inf: Influence, vetoed: bool) -> None:
        """Everyone saw ``inf``'s veto tested: if its strength is private, they learn from it."""
        b = self.beliefs
        if b is None:
            return
        for v, pv in enumerate(b.info.vetoes):
            if self.mech.influence[pv.influence] == inf:
                b.observe_veto(v, vetoed)

    def _veto_free_problem(self, i: int) -> Problem | None:
        """The problem as ``i`` sees it with the issues of the private vetoes it is unsure of
        kept at the status quo (``None``: no such veto), for a candidate no veto can block."""
        b = self.beliefs
        assert b is not None
        keep = sorted({k for v, pv in enumerate(b.info.vetoes) if (i, v) in b.veto
                       for k in self.mech.influence[pv.influence].veto})
        if not keep:
            return None
        base = self.believed_problem(i)
        key = ("veto-free", i, tuple(keep), id(base))
        got = self._believed.get(key)
        if got is not None and got[0] is base:
            return got[1]
        out = dataclasses.replace(base, fixed=tuple(sorted(set(base.fixed) | set(keep))))
        self._believed[key] = (base, out)
        return out

    def observe_answers(self, proposer: int, offer: FloatArray) -> None:
        """Everyone learns from the answers to ``proposer``'s offer: a red line named, a floor
        above or not above what the offer gave. A refusal of an offer the proposer believed
        would more likely than not be accepted counts as a misjudgement of the refuser."""
        b = self.beliefs
        if b is None:
            return
        lines = b.info.private_lines
        for j in self.problem.parties:
            r = self.actors[j].response
            if j == proposer or r is None:
                continue
            if r.reason == ResponseReason.RED_LINE:
                for ln in self.problem.redlines.crossed(offer, j):
                    k = self.problem.redlines.lines.index(ln)
                    if k in lines:
                        if b.believes_line(proposer, k) < LINE_BELIEVED:  # it offered across a line it thought absent
                            b.refused.add((proposer, j))
                        b.reveal_line(k)
            elif r.reason in (ResponseReason.ACCEPTED, ResponseReason.BELOW_RESERVATION,
                              ResponseReason.BELOW_ASPIRATION):
                slope = self._slope(j)  # (its judged utility with its reservation at 0, as p_accepts takes it)
                u0 = self.effective_list[j] - slope * float(self.problem.reservation[j])
                b.observe_answer(j, r.accepted, u0, self.actors[j].aspiration, self.margin, slope)
            else:
                continue
            if not r.accepted and b.private(j) is not None and self._p_accept.get(j, 0.0) >= 0.5:
                b.refused.add((proposer, j))
        self._p_accept = {}  # (read once: the next proposer's offer sets its own)

    def information_summary(self) -> dict[str, object]:
        """Misjudgement as an outcome: whether a zone of agreement existed under the true
        information, and who misjudged whom (``"USA->BLR;..."``) and how many such pairs."""
        zone = zone_of_agreement(self.problem)
        if self.beliefs is None:
            return {"zone_existed": zone, "misjudged": "", "misjudged_count": 0}
        ids = self.problem.actor_ids
        pairs = self.beliefs.misjudged(self.problem.reservation)
        return {"zone_existed": zone, "misjudged": ";".join(f"{ids[i]}->{ids[j]}" for i, j in pairs),
                "misjudged_count": len(pairs)}

    # ---------------------------------------------------------------------------------------
    # delivery and trust (step-by-step protocols)

    def deliver(self, debtor: int, issues: list[int], targets: FloatArray, what: str = "") -> float:
        """``debtor`` delivers moves of ``issues`` toward ``targets`` with its reliability; the
        state moves by what is delivered and every other party updates its trust in it by the
        fraction of the promised moves that was made. Returns that fraction (1 when all was
        delivered; a partial share rounded to the grid, so 0 when nothing moved)."""
        drawn = draw_delivery(self.rng, self.mech.delivery[debtor])
        # (a move's few issues one by one, in Python floats: the same values as fancy indexing)
        state = self.state
        now = state.tolist()
        frm = [now[i] for i in issues]
        to = np.asarray(targets, dtype=float).tolist()
        if drawn >= 1.0:  # all of it: the state takes the targets and the fraction is 1
            for i, v in zip(issues, to, strict=True):
                state[i] = v
            f = 1.0
        else:
            starts, targets = np.array(frm), np.array(to)
            state[issues] = partial_values(self.problem, issues, starts, targets, drawn)
            # what the others see is what moved: a partial move of an ordinal issue that reaches no
            # level in between moves nothing
            due = float(np.abs(targets - starts).sum())
            f = 1.0 if due <= 1e-12 else float(np.abs(self.state[issues] - starts).sum()) / due
            f = 1.0 if f > 1.0 - 1e-9 else f
        who = self._trusters(debtor)[1]
        if who:
            self.trust.observe(who, debtor, f)
            for a in who:
                self.actors[a].delivered = f
        ids = self.problem.space.ids
        moves = tuple(zip([ids[i] for i in issues], frm, to, strict=True))
        self.record(Delivery(self.round, self.problem.actor_ids[debtor], what, f, moves))
        self.counts["deliveries"] += 1
        self.counts["delivered_share"] += f  # a sum until the end (``_end``)
        return f

    def _trusters(self, debtor: int) -> tuple[np.ndarray, list[int]]:
        """The parties other than ``debtor`` (who watch it deliver), as an index array and a list;
        the same every round, so kept per debtor."""
        got = self._trusters_of.get(debtor)
        if got is None:
            who = [a for a in self.problem.parties if a != debtor]
            got = self._trusters_of[debtor] = (np.array(who, dtype=int), who)
        return got

    def paused_now(self) -> list[bool]:
        """Whether each actor's trust in any of its counterparts is below its threshold: what
        ``Trust.paused`` computes (the same IEEE operations, ``alpha / (alpha + beta) < threshold
        - 1e-12``), on plain floats for the few pairs that matter, as it runs every round."""
        t = self.trust
        alpha, beta = t.alpha.tolist(), t.beta.tolist()
        out = [False] * len(self.counterparts)
        for a, cs, lim in self._pause_checks:
            al, be = alpha[a], beta[a]
            for c in cs:
                if al[c] / (al[c] + be[c]) < lim:
                    out[a] = True
                    break
        return out

    def update_pauses(self) -> None:
        """Each party pauses while its trust in a counterpart is below its threshold."""
        paused = self.paused_now()
        for a in self.actors:
            was, a.paused = a.paused, paused[a.index]
            if a.paused and not was:
                self.counts["pauses"] += 1
                self.record(Pause(self.round, a.actor_id, a.trust, float(self.trust.threshold[a.index])))
            elif was and not a.paused:
                self.record(Resume(self.round, a.actor_id, a.trust))
        if any(paused):
            self.counts["pause_rounds"] += 1

    # ---------------------------------------------------------------------------------------
    # trust in package talks, renegotiation and phases (``package``'s trust discount and
    # implementation, ``sequence``)

    def _judged(self, offer: FloatArray) -> FloatArray:
        """Each actor's utility of ``offer`` as it judges promises: its raw utility, or under a
        trust discount the expected utility of what will be delivered (``judged_utility``)."""
        if self.mech.promises is None:
            return self.offer_utilities
        return judged_utility(self.problem, offer, self.mech.promises)

    def refresh_promises(self, weight: float) -> None:
        """Set the factors each actor counts promised moves with from its trust now
        (``promise_factors``). The mechanisms are replaced only when the factors change, and
        mechanisms with the same factors are shared, so the offer programs are built once each."""
        f = promise_factors(self.mech.controller, self.trust.mean, weight)
        if self.mech.promises is not None and np.array_equal(self.mech.promises, f):
            return
        base = self.config.mech
        f.setflags(write=False)
        key = f.tobytes()
        known = _PROMISED.setdefault(base, {})
        got = known.get(key)
        if got is None:
            if len(known) > 256:
                known.clear()
            got = known[key] = replace(base, promises=f)
        self.mech = got

    def reset_status_quo(self, sq: FloatArray) -> None:
        """The talks resume from ``sq`` as the new status quo (after a breach): the problem is
        rebuilt around it (reservations at the status quo move with it) and every actor
        re-reads its best and reservation utilities."""
        self._status_quo = np.asarray(sq, dtype=float).copy()
        self.state = self._status_quo.copy()
        self._rebuild()

    def play_phase(self, number: int, params: ProtocolParams, issues: Sequence[str] | None) -> Outcome:
        """Phase ``number`` of a ``sequence``: a whole negotiation under ``params`` over ``issues``
        (``None``: all), the others held at the state now, from the state now as its status quo
        and with the trust now as its prior (the Beta counts carried over exactly). Its rounds
        follow the ones played; its events, counts, end state and trust come back here."""
        on = list(self.problem.space.ids) if issues is None else list(issues)
        sc = compile_phase(self.config, self.state, params, on)
        # the phase draws from this run's generator, continuing its stream (Mesa takes a seed for
        # its ``random`` from a generator it is given: that draw is undone, so that a sequence of
        # one phase draws as the phase's protocol run alone)
        drawn = self.rng.bit_generator.state
        sub = Negotiation(sc, rng=self.rng, collect=False)
        self.rng.bit_generator.state = drawn
        sub.trust.alpha, sub.trust.beta = self.trust.alpha.copy(), self.trust.beta.copy()
        offset = self.round - 1
        self.record(PhaseStarted(offset + 1, None, number, params.kind, tuple(on)))
        before = self.state.copy()
        out = sub.run()
        for e in out.events:
            self.record(replace(e, round=e.round + offset))
        for k, v in sub.counts.items():
            self.counts[k] += v
        self.trust.alpha, self.trust.beta = sub.trust.alpha.copy(), sub.trust.beta.copy()
        if out.state is not None:
            self.state = np.asarray(out.state, dtype=float).copy()
        self.round = offset + max(out.rounds, 1)
        ids = self.problem.space.ids
        moves = tuple((ids[i], float(before[i]), float(self.state[i]))
                      for i in range(len(ids)) if abs(self.state[i] - before[i]) > 1e-12)
        self.record(PhaseEnded(self.round, None, number, str(out.reason), out.agreed, moves))
        return out

    def record(self, event: Event) -> None:
        """Add ``event`` to the log that explains the outcome."""
        self.events.append(event)

    # ---------------------------------------------------------------------------------------
    # shocks

    def _fire_spoilers(self) -> None:
        changed = False
        for sp in self.mech.spoilers:
            if not sp.fires(self.rng, self.round):
                continue
            self.counts["spoilers"] += 1
            done = []
            for eff in sp.effects:
                if eff.probability < 1.0 and self.rng.random() >= eff.probability:
                    continue
                ids = self.problem.actor_ids
                if eff.kind == "trust":
                    self.trust.shift(eff.actor, eff.toward, eff.change)
                    done.append(f"{ids[eff.actor]}'s trust in {ids[eff.toward]} {eff.change:+g}")
                elif eff.kind == "salience":
                    self._salience[eff.actor, eff.issue] = float(
                        np.clip(self._salience[eff.actor, eff.issue] + eff.change, 0.0, 1.0))
                    done.append(f"{ids[eff.actor]}'s salience on {self.problem.space.ids[eff.issue]} {eff.change:+g}")
                    changed = True
                elif eff.kind == "position" and self._ideal is not None:
                    self._ideal[eff.actor, eff.issue] = eff.value
                    done.append(f"{ids[eff.actor]} now wants {self.problem.space.ids[eff.issue]} at {eff.value:g}")
                    changed = True
                elif eff.kind == "status_quo":
                    self.state[eff.issue] = eff.value
                    if not self.protocol.stepwise:  # else the state moves, not the reference point
                        sq = self.problem.space.status_quo.copy()
                        sq[eff.issue] = eff.value
                        self._status_quo = sq
                        changed = True
                    done.append(f"{self.problem.space.ids[eff.issue]} set to {eff.value:g}")
            self.record(SpoilerFired(self.round, None, sp.label, tuple(done)))
        if changed:
            self._rebuild()

    def _rebuild(self) -> None:
        """Recompile the problem after a shock to saliences, positions or the status quo."""
        import dataclasses

        p = self.problem
        if self._ideal is None or not isinstance(p.prefs, Preferences):
            return
        weights_ok = self._salience.sum(axis=1) > 0
        sal = np.where(weights_ok[:, None], self._salience, p.prefs.weight)
        prefs = Preferences.build(self._ideal.copy(), sal.copy(), p.prefs.curvature)
        space = p.space
        sq = getattr(self, "_status_quo", None)
        if sq is not None:
            space = dataclasses.replace(space, status_quo=sq)
        u_sq = prefs.utility(space.status_quo)
        reservation = np.where(self.mech.sq_reservation, u_sq - self.mech.slack, p.reservation)
        if space is p.space:  # the boxes stand: only what the parties want changed
            self.problem = p.with_preferences(prefs, reservation)
        else:
            self.problem = dataclasses.replace(p, prefs=prefs, space=space, reservation=reservation)
        for a in self.actors:
            a.refresh()

    # ---------------------------------------------------------------------------------------
    # the end

    def end(
        self,
        agreed: bool,
        reason: OutcomeReason,
        package: FloatArray | None,
        text: str,
        blocked_by: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        """End the talks: record the ``Outcome`` (``text`` explains it; ``blocked_by``: who stood
        in the way, as (actor, reason, detail)) and stop the model."""
        metrics = {k: float(v) for k, v in self.counts.items()}
        if metrics["deliveries"]:
            metrics["delivered_share"] /= metrics["deliveries"]
        self.outcome = Outcome(agreed, OutcomeReason(reason), self.round, package, text,
                               blocked_by=list(blocked_by), proposer=self.proposer_id or None,
                               state=self.state.copy(), metrics=metrics, events=list(self.events),
                               phases=list(self.phase_results))
        self.running = False

    def _deadline_explanation(self, rejecters: list[Actor]) -> str:
        text = f"No agreement by the deadline (round {self.max_rounds}); "
        if self.offer is None:
            who = rejecters[0].actor_id if rejecters else "the proposer"
            text += f"in the last round {who} had no offer that beats no deal for it."
        else:
            names = ", ".join(f"{a.actor_id} ({a.response.reason})" for a in rejecters if a.response)
            text += f"the last offer was rejected by {names}."
        p = self.problem
        hopeless = [p.actor_ids[a] for a in p.parties if p.best_utility[a] < p.reservation[a] - 1e-9]
        if hopeless:
            return text + f" No package within the red lines gives {', '.join(hopeless)} its reservation utility."
        pk = best_compromise(p)
        if pk is not None:
            gains = p.utility(pk) - p.reservation
            short = [p.actor_ids[a] for a in p.parties if gains[a] < -1e-9]
            if short:
                text += (
                    " No package within the red lines gives every party its reservation utility:"
                    f" the best compromise still leaves {', '.join(short)} below it."
                )
        return text


#: The subscription key of a change of Mesa's clock (``HasObservables.subscribers``).
_CLOCK_CHANGED = ("time", ObservableSignals.CHANGED)


def _clock_slot(cls: type) -> str:
    """Where a model of class ``cls`` keeps the value of Mesa's observable ``time`` (its
    ``private_name``), or ``""`` if ``time`` is not such an observable (found once per class)."""
    got = _CLOCK_SLOTS.get(cls)
    if got is None:
        found = inspect.getattr_static(cls, "time", None)
        name = getattr(found, "private_name", None)
        got = _CLOCK_SLOTS[cls] = name if isinstance(found, Observable) and isinstance(name, str) else ""
    return got


_CLOCK_SLOTS: dict[type, str] = {}


def _blocked(rejecters: list[Actor]) -> list[tuple[str, str, str]]:
    """Who stood in the way, as ``Outcome.blocked_by`` lists them (written only when the talks end)."""
    return [(a.actor_id, a.response.reason, a.response.detail) for a in rejecters if a.response]


def _offer_reporter(i: int):  # noqa: ANN202 - a DataCollector reporter
    def report(m: Negotiation) -> float:
        return math.nan if m.offer is None else float(m.offer[i])

    return report


def _state_reporter(i: int):  # noqa: ANN202 - a DataCollector reporter
    def report(m: Negotiation) -> float:
        return float(m.state[i])

    return report


#: What ``Negotiation.table`` computes for a package: utilities, judged utilities, effective
#: utilities, red lines kept (read-only arrays), and the last two as Python lists.
_Tabled = tuple[FloatArray, FloatArray, FloatArray, np.ndarray, list[float], list[bool]]
#: How many tabled packages are kept per problem.
_TABLED_KEPT = 4096


def _tabled(problem: Problem, mech: Mechanics, offer: FloatArray,
            fresh: Callable[[FloatArray], _Tabled]) -> _Tabled:
    """``fresh(offer)``, kept on the problem by the mechanisms and the package's bytes: how every
    actor judges ``offer`` is a function of these alone, and the runs of one compiled scenario
    table the same packages again and again. The arrays are made read-only (they are shared)."""
    memo = problem.__dict__.get("_tabled")
    if memo is None:
        memo = problem.__dict__["_tabled"] = {}
    key = (mech, np.asarray(offer, dtype=float).tobytes())
    got = memo.get(key)
    if got is None:
        got = fresh(offer)
        for arr in got[:4]:
            arr.flags.writeable = False
        if len(memo) >= _TABLED_KEPT:
            memo.pop(next(iter(memo)))  # the oldest
        memo[key] = got
    return got


def _all_true(n: int) -> np.ndarray:
    """A read-only ``(n,)`` array of ``True`` (shared: nobody writes into ``offer_lines_ok``)."""
    out = _ALL_TRUE.get(n)
    if out is None:
        out = _ALL_TRUE[n] = np.ones(n, dtype=bool)
        out.flags.writeable = False
    return out


_ALL_TRUE: dict[int, np.ndarray] = {}


def _all_nan(n: int) -> FloatArray:
    """A read-only ``(n,)`` array of NaN: the utilities of no offer (shared, as ``_all_true``)."""
    out = _ALL_NAN.get(n)
    if out is None:
        out = _ALL_NAN[n] = np.full(n, np.nan)
        out.flags.writeable = False
    return out


_ALL_NAN: dict[int, FloatArray] = {}

#: Mechanisms with promise factors, by the scenario's mechanisms and the factors' bytes (runs of
#: one scenario with the same trust share one, and so the offer programs built for it).
_PROMISED: weakref.WeakKeyDictionary[Mechanics, dict[bytes, Mechanics]] = weakref.WeakKeyDictionary()


@dataclass
class _Shared:
    """What every run of one compiled scenario shares, computed once: the actors' strategies
    (they keep no state between calls) and their aspiration schedules, who answers whose offers,
    patrons, counterparts, and the DataCollector's reporters. (Nobody writes to it; it is not
    frozen because a frozen dataclass sets each field through ``object.__setattr__``, and a
    new one is made for every scenario.)"""

    strategies: tuple[Strategy, ...]
    schedules: tuple[FloatArray | None, ...]
    steps: tuple[list[float] | None, ...]  # the schedules' first steps as lists of floats (``STEPS_LISTED``)
    #: each actor's best hope and the floor its demands concede toward (``best_hoped``, ``posture_floor``)
    hopes: tuple[tuple[float, float], ...]
    kappa: FloatArray  # each actor's continuation factor, discount * (1 - breakdown risk)
    shares: FloatArray | None  # stationary subgame-perfect shares by rotation position (rubinstein)
    all_parties: bool
    responders: dict[int | None, tuple[int, ...]]  # proposer (None: no one) -> the other parties, in order
    patrons: tuple[tuple[Influence, ...], ...]  # client -> its patrons' influence
    counterparts: list[list[int]]  # actor -> the parties that control issues it cares about
    #: (actor, its counterparts, its threshold - 1e-12) for the actors with counterparts (``paused_now``)
    pause_checks: tuple[tuple[int, list[int], float], ...]
    #: the parties whose outside option beats the status quo (they may walk away, if the protocol lets them)
    walkers: list[int]
    issue_ids: tuple[str, ...]
    noisy: bool  # some ratification noise (the mechanisms' noise never changes)

    @cached_property
    def reporters(self) -> dict[str, dict[str, object]]:
        """The DataCollector's reporters (made for the first run that collects)."""
        ids = self.issue_ids
        issue_reporters = {f"offer.{iid}": _offer_reporter(i) for i, iid in enumerate(ids)}
        state_reporters = {f"state.{iid}": _state_reporter(i) for i, iid in enumerate(ids)}
        return {
            "model_reporters": {"round": "round", "proposer": "proposer_id", **issue_reporters, **state_reporters},
            "agent_reporters": {
                "actor": "actor_id",
                "aspiration": "aspiration",
                "reservation": "reservation",
                "offer_utility": "offer_utility",
                "proposed": "proposed",
                "response": _response_reason,
                "trust": "trust",
                "paused": "paused",
            },
        }


_SHARED: weakref.WeakKeyDictionary[Scenario, _Shared] = weakref.WeakKeyDictionary()
#: The same for runs that keep no aspirations (``Negotiation.aspirations_kept``): NaN hopes.
_SHARED_WITHOUT_HOPES: weakref.WeakKeyDictionary[Scenario, _Shared] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Structure:
    """The part of ``_Shared`` that depends on who the actors are and how they are organised, not
    on what they want: the mechanisms, the protocol's parameters, the strategies, the rotation,
    the parties and the discount factors. Scenarios that differ only in preferences and
    reservations (every domain of the peer case, a variant that moves a reservation) share one
    (``_structure``)."""

    kappa: FloatArray
    shares: FloatArray | None
    all_parties: bool
    parties: list[int]
    responders: dict[int | None, tuple[int, ...]]
    patrons: tuple[tuple[Influence, ...], ...]
    counterparts: list[list[int]]
    pause_checks: tuple[tuple[int, list[int], float], ...]
    noisy: bool


#: ``_Structure``s by the ids of what they are made of, each kept with those objects (the ids
#: stay theirs while they are kept); at most ``_STRUCTURES_KEPT`` of them, the oldest dropped.
_STRUCTURES: dict[tuple[int, ...], tuple[tuple[object, ...], _Structure]] = {}
_STRUCTURES_KEPT = 64


def _structure(sc: Scenario, p: Problem, mech: Mechanics) -> _Structure:
    """``sc``'s ``_Structure``, made once for every scenario of the same mechanisms, parameters,
    strategies, rotation, parties and discount factors (the same objects)."""
    parts = (mech, sc.params, sc.strategies, sc.order, p.consent, p.discount)
    key = tuple(map(id, parts))
    got = _STRUCTURES.get(key)
    if got is not None:  # (the objects of a key are kept with it: no other object has their ids)
        return got[1]
    kappa = np.array([continuation(p.discount[i], sc.params.breakdown_risk) for i in range(p.n_actors)])
    kappa.setflags(write=False)
    parties = [int(a) for a in p.parties]
    shares = None
    if any(isinstance(s, Rubinstein) for s in sc.strategies) and parties:
        shares = stationary_shares(kappa, list(sc.order), parties)
    ctrl = mech.controller.tolist()
    counterparts = [
        sorted({int(c) for c in ctrl if c >= 0 and c != a and c in parties}) if a in parties else []
        for a in range(p.n_actors)
    ]
    out = _Structure(
        kappa=kappa,
        shares=shares,
        all_parties=bool(p.consent.all()),
        parties=parties,
        responders={None: tuple(parties), **{q: tuple(a for a in parties if a != q) for q in set(sc.order)}},
        patrons=tuple(mech.patrons_of(a) for a in range(p.n_actors)),
        counterparts=counterparts,
        pause_checks=tuple((a, cs, lim) for a, (cs, lim) in
                           enumerate(zip(counterparts, (mech.trust_threshold - 1e-12).tolist(), strict=True)) if cs),
        noisy=bool(mech.noise.any()),
    )
    if len(_STRUCTURES) >= _STRUCTURES_KEPT:
        _STRUCTURES.pop(next(iter(_STRUCTURES)))  # the oldest
    _STRUCTURES[key] = (parts, out)
    return out


def _shared(sc: Scenario, hopes: bool = True) -> _Shared:
    """What every run of ``sc`` shares; without ``hopes`` every actor's best hope is NaN (its
    aspirations too): nothing asks for the utopia point."""
    kept = _SHARED if hopes else _SHARED_WITHOUT_HOPES
    got = kept.get(sc)
    if got is not None:
        return got
    p, mech = sc.problem, sc.mech
    st = _structure(sc, p, mech)
    strategies = sc.strategies
    best = [best_hoped(sc, p, i) if hopes else math.nan for i in range(len(strategies))]
    floor = [posture_floor(sc, i, float(p.reservation[i])) for i in range(len(strategies))]
    schedules, steps = _schedules(strategies, best, floor, sc.params.max_rounds, st.kappa)
    outside, flow = sc.outside.tolist(), sc.flow.tolist()
    out = kept[sc] = _Shared(
        strategies=strategies,
        schedules=schedules,
        steps=steps,
        hopes=tuple(zip(best, floor, strict=True)),
        kappa=st.kappa,
        shares=st.shares,
        all_parties=st.all_parties,
        responders=st.responders,
        patrons=st.patrons,
        counterparts=st.counterparts,
        pause_checks=st.pause_checks,
        walkers=[i for i in st.parties if not math.isnan(outside[i]) and outside[i] > flow[i] + 1e-9],
        issue_ids=tuple(p.space.ids),
        noisy=st.noisy,
    )
    return out


def _schedules(strategies: Sequence[Strategy], best: list[float], floor: list[float], max_rounds: int,
               kappa: FloatArray) -> tuple[tuple[FloatArray | None, ...], tuple[list[float] | None, ...]]:
    """Every actor's aspiration schedule (``None`` for a strategy that does not depend on time
    only) from its best hope and floor, read-only, and the first ``STEPS_LISTED`` of each as
    lists of floats (``Actor._reach`` lists more when a run gets that far). When every
    strategy has one they are computed side by side (``model.core.strategies.schedules_by_actor``:
    the same numbers as each strategy's ``schedule``), and made lists in one call."""
    if strategies and all(getattr(s, "schedule", None) is not None for s in strategies):
        table = schedules_by_actor(strategies, best, floor, max_rounds, kappa)  # (A, max_rounds)
        table.setflags(write=False)
        return tuple(table), tuple(table[:, :STEPS_LISTED].tolist())  # (the actors list more as they need it)
    each = tuple(_schedule_of(s, best[i], floor[i], max_rounds, float(kappa[i])) for i, s in enumerate(strategies))
    return each, tuple(None if s is None else s[:STEPS_LISTED].tolist() for s in each)


def _response_reason(a: Actor) -> str:
    return "" if a.response is None else a.response.reason
