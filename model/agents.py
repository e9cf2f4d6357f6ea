"""The Mesa agents: a negotiating ``Actor`` owns a strategy; its preferences live in the model's
problem (``model.negotiation.Negotiation`` is the Mesa model that holds them and runs the protocol).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa

from model.core import Situation, accepts
from model.core.offers import Offer, applies, frontier_offer, most_for
from model.core.search import OfferTable, choose_offer_index, choose_offer_indices
from model.core.space import FloatArray
from model.core.strategies import Strategy, meets
from model.protocols.base import ACCEPTED, Response, ResponseReason

if TYPE_CHECKING:
    from model.core.mechanics import Mechanics
    from model.core.problem import Problem
    from model.negotiation import Negotiation
    from model.scenario import Scenario


class Actor(mesa.Agent):
    """A negotiating actor: its preferences live in the model's problem; it owns a strategy.

    Args:
        model: the negotiation.
        index: the actor's row in the problem's arrays.
        strategy: how its aspiration moves over the rounds.
    """

    def __init__(
        self, model: Negotiation, index: int, strategy: Strategy, schedule: FloatArray | None = None,
        steps: list[float] | None = None, hopes: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(model)
        self.index = index
        self.actor_id = model.problem.actor_ids[index]
        self.strategy = strategy
        self.is_party = bool(model.problem.consent[index])
        self.discount = float(model.problem.discount[index])
        self.kappa = float(model._kappa[index])
        self._response: Response | None = None
        #: a refusal not yet written out as a ``Response``: (reason, utility, threshold)
        self._short: tuple[ResponseReason, float, float] | None = None
        self.proposed = False
        self.previous = math.nan
        self.received: list[float] = []  # its utility of each offer others made, oldest first
        self.delivered = math.nan  # share of what was due to it delivered at the latest delivery
        self.paused = False
        self._plan: _Plan | None = None  # its offers over its schedule, on a value-table domain
        self._at = -1  # the step of its schedule its aspiration is at (-1: none)
        self.refresh(schedule, steps, hopes)
        self.aspiration = self.best

    def refresh(self, schedule: FloatArray | None = None, steps: list[float] | None = None,
                hopes: tuple[float, float] | None = None) -> None:
        """Re-read best and reservation utilities from the model's problem (after a shock).
        ``schedule``: this actor's aspirations over the rounds when already known (``steps``: the
        same as a list of floats, if known too; ``hopes``: its ``best_hoped`` and
        ``posture_floor`` on the model's problem, if known)."""
        p = self.model.problem
        self.reservation = float(p.reservation[self.index])
        if hopes is None:  # (NaN where the run keeps no aspirations: ``Negotiation.aspirations_kept``)
            self.best = best_hoped(self.model.config, p, self.index) if self.model.aspirations_kept else math.nan
            #: the floor its stated demands concede toward: its reservation, unless that is private
            self.posture = posture_floor(self.model.config, self.index, self.reservation)
        else:
            self.best, self.posture = hopes
        if schedule is None:
            schedule = _schedule_of(self.strategy, self.best, self.posture, self.model.deadline, self.kappa)
        self._schedule = schedule
        self._plan = None  # (planned over the schedule it had)
        self._at = -1
        #: the same as Python floats (read one round at a time; its first ``STEPS_LISTED`` at
        #: least, more as the rounds reach them: ``_reach``), and its last round
        if steps is None and schedule is not None:
            steps = schedule[:STEPS_LISTED].tolist()
        self._steps = steps
        self._last = -1 if schedule is None else len(schedule) - 1
        #: the rounds below this one are listed in ``_steps`` and before its last
        self._known = -1 if steps is None else min(len(steps) - 1, self._last)

    @property
    def offer_utility(self) -> float:
        """This actor's utility of the offer on the table (NaN when there is none)."""
        return math.nan if self.model.offer is None else float(self.model.offer_utilities[self.index])

    @property
    def trust(self) -> float:
        """Its lowest trust in a counterpart that delivers to it (1 when none does)."""
        cs = self.model.counterparts[self.index]
        return float(self.model.trust.mean[self.index, cs].min()) if cs else 1.0

    @property
    def need(self) -> float:
        """The least utility it accepts now: its aspiration, and never below its reservation."""
        return max(self.aspiration, self.reservation)

    def update_aspiration(self, t: int | None = None) -> None:
        """Set this round's aspiration (rounds are 1-based; the strategy sees 0-based time ``t``,
        the model's round less one unless given)."""
        if t is None:
            t = self.model.round - 1
        self.previous = self.aspiration if t > 0 else math.nan
        steps = self._steps
        if steps is not None:  # (past the deadline, after an extension: its last value)
            self._at = at = t if t < self._known else self._reach(t)
            self.aspiration = steps[at]
        else:
            self._at = -1
            r = self.received
            self.aspiration = self.strategy.aspiration(Situation(
                t, self.model.deadline, self.best, self.posture,
                previous=self.previous,
                received=r[-1] if r else math.nan,
                received_before=r[-2] if len(r) > 1 else math.nan,
                delivered=self.delivered,
                others_risk=self.model.others_risk(self.index),
                continuation=self.kappa,
                share=self.model.share_now(self.index),
            ))
        self.proposed = False
        self._response = self._short = None

    def _reach(self, t: int) -> int:
        """The step of its schedule at time ``t`` (its last, past the deadline), its schedule
        listed as floats that far and ``STEPS_LISTED`` steps on (``_steps`` may be shared by the
        runs of a scenario: another may have listed it further already)."""
        steps, schedule = self._steps, self._schedule
        assert steps is not None and schedule is not None
        at = t if t < self._last else self._last
        if at >= len(steps):
            steps.extend(schedule[len(steps): at + STEPS_LISTED].tolist())
        self._known = min(len(steps) - 1, self._last)
        return at

    def propose(self) -> Offer | None:
        """The package this actor offers now (``None``: it passes): the frontier offer given
        every party's current demand (``model.core.offers``), or on a value-table domain the
        grid search's choice (``model.core.search``). A client weighs its patrons' gains in and
        offers nothing a certain veto blocks."""
        self.proposed = True
        m = self.model
        plan = self._plan
        at = self._at
        if plan is not None and at >= 0 and plan.problem is m.problem and plan.mech is m.mech:
            k = plan.rows[at]  # its offer at this step of its schedule, planned (-1: it passes)
            if k < 0:
                return None
            got = plan.offers.get(k)
            if got is None:
                got = plan.offers[k] = _row_offer(plan.table, k)  # (kept by the plan, shared as it is)
            return got
        if applies(m.problem):
            if m.beliefs is not None:  # some information private: offers against beliefs
                return m.propose_against_beliefs(self)
            return frontier_offer(m.problem, self.index, m.demands(self.index), m.mech)
        if at >= 0 and self._schedule is not None:  # its aspiration depends on time only: its offers too
            self._plan = _plan_of(m.problem, self.index, m.mech, self._schedule)
            return self.propose()  # (from its plan)
        hit = choose_offer_index(m.problem, self.index, self.aspiration, m.mech)
        if hit is None:
            return None
        table, k = hit
        return _grid_offer(m.problem, table, k)

    @property
    def response(self) -> Response | None:
        """Its answer this round (``None``: none yet). A refusal for falling short of its
        reservation or aspiration is kept as its reason and numbers until someone reads it."""
        r = self._response
        if r is None and self._short is not None:
            r = self._response = Response(False, *self._short)
            self._short = None
        return r

    @response.setter
    def response(self, r: Response | None) -> None:
        self._response, self._short = r, None

    def respond(self, offer: FloatArray) -> Response:
        """Accept iff the offer crosses none of its red lines, meets its aspiration and
        reservation utility as it judges them (its patrons' gains weighed in), and no patron
        vetoes it (``model.core.accepts``, ``model.core.mechanics``)."""
        self.accepts(offer)
        r = self.response
        assert r is not None
        return r

    def accepts(self, offer: FloatArray) -> bool:
        """``respond``, returning whether it accepts (its ``response`` says why)."""
        m = self.model
        i = self.index
        u = m.effective_list[i]
        if not m.lines_ok_list[i]:
            crossed = m.problem.redlines.crossed(offer, i)
            text = crossed[0].describe(m.problem.space, m.problem.actor_ids)
            self.response = Response(False, ResponseReason.RED_LINE, note=text)
            return False
        res = self.reservation
        if not meets(u, res):
            self._response, self._short = None, (ResponseReason.BELOW_RESERVATION, u, res)
            return False
        margin = m.margin
        need = self.aspiration + margin
        if not accepts(u, need, res + margin, True):
            self._response, self._short = None, (ResponseReason.BELOW_ASPIRATION, u, need)
            return False
        r = (m.veto_check(self.index, offer) or ACCEPTED) if m.has_patrons[self.index] else ACCEPTED
        self.response = r
        return r.accepted


#: How many steps of an aspiration schedule are listed as Python floats at a time: a run that
#: ends early (most end long before their deadline) converts no more of its schedule than it reads.
STEPS_LISTED = 64


class _Plan:
    """A proposer's offers on a value-table domain when its aspiration depends on time only:
    the row of its offer table it offers at each step of its schedule
    (``model.core.search.choose_offer_indices``, -1: it passes), worked out once for the
    problem and mechanisms it was made for, and the offers of the rows asked for so far
    (``Actor.propose`` reads them: what ``choose_offer_index`` gives at that step's aspiration)."""

    __slots__ = ("problem", "mech", "table", "rows", "offers")

    def __init__(self, problem: Problem, mech: Mechanics, table: OfferTable, rows: list[int]) -> None:
        self.problem, self.mech, self.table, self.rows = problem, mech, table, rows
        self.offers: dict[int, Offer] = {}


#: Plans kept per problem (proposers x mechanisms x schedules); past it they are made afresh.
_PLANS_KEPT = 1024


def _plan_of(problem: Problem, index: int, mech: Mechanics, schedule: FloatArray) -> _Plan:
    """``index``'s ``_Plan`` over ``schedule`` on ``problem``, kept on the problem by proposer,
    mechanisms and schedule (the runs of one compiled scenario share their schedules)."""
    memo = problem.__dict__.get("_plans")
    if memo is None:
        memo = problem.__dict__["_plans"] = {}
    key = (index, mech, id(schedule))
    got = memo.get(key)
    if got is None or got[0] is not schedule:  # (the schedule is kept with its plan: its id stays its own)
        if len(memo) >= _PLANS_KEPT:  # runs that make their own schedules do not pile plans up
            memo.clear()
        table, rows = choose_offer_indices(problem, index, schedule, mech)
        got = memo[key] = (schedule, _Plan(problem, mech, table, rows.tolist()))
    return got[1]


def _grid_offer(problem: Problem, table: OfferTable, k: int) -> Offer:
    """The offer of row ``k`` of a proposer's offer table, made once per problem: offers are
    read-only and shared (``Offer``), and a proposer whose aspiration moves little offers the
    same row round after round."""
    memo = problem.__dict__.get("_grid_offers")
    if memo is None:
        memo = problem.__dict__["_grid_offers"] = {}
    key = (id(table), k)
    got = memo.get(key)
    if got is None or got[0] is not table:  # (the table is kept with its offer: its id stays its own)
        got = memo[key] = (table, _row_offer(table, k))
    return got[1]


def _row_offer(table: OfferTable, k: int) -> Offer:
    """The offer of row ``k`` of a proposer's offer table (read-only, as every ``Offer``)."""
    return Offer(table.packages[k], table.utilities[k], "grid", math.nan)


def posture_floor(sc: Scenario, actor: int, reservation: float) -> float:
    """The floor an actor's stated demands (its aspiration schedule) concede toward: its
    reservation, or, when that is private, no higher than the low end of the public prior
    (``model.core.beliefs.POSTURE_QUANTILE``), so that what it says reveals no more than the prior."""
    info = sc.information
    pi = None if info is None else info.private[actor]
    if pi is None or not pi.reservation_private:
        return reservation
    return min(pi.posture(), reservation)


def best_hoped(sc: Scenario, problem: Problem, actor: int) -> float:
    """The best an actor may hope for (where its aspiration starts): its utopia, the most it can
    get with every other party at its reservation; when some of those are private, at the floor
    their stated demands concede toward instead (``posture_floor``): the truth is not used."""
    info = sc.information
    best = float(problem.utopia[actor])
    if info is None or not applies(problem):
        return best
    others = [j for j in problem.parties if j != actor]
    if not any(info.private[j] is not None and info.private[j].reservation_private for j in others):  # type: ignore[union-attr]
        return best
    floors = {j: posture_floor(sc, j, float(problem.reservation[j])) for j in others}
    got = most_for(problem, actor, floors)
    return best if got is None else min(float(problem.best_utility[actor]), got)


def _schedule_of(
    strategy: Strategy, best: float, reservation: float, max_rounds: int, kappa: float
) -> FloatArray | None:
    """All rounds' aspirations at once for a strategy that depends on time only (else ``None``)."""
    schedule = getattr(strategy, "schedule", None)
    if schedule is None:
        return None
    out: FloatArray = schedule(best, reservation, max_rounds, kappa)
    out.flags.writeable = False
    return out
