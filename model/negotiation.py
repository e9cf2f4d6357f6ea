"""The Mesa shell: actors are ``mesa.Agent``s owning a strategy; the ``mesa.Model`` runs the
protocol round by round and records what happens with a ``DataCollector``.

Protocol ``package`` (multilateral alternating offers of full packages): in round ``t`` the
proposer is the ``t``-th party in the rotation; it offers the package it prefers for the others
among those that give it at least its current aspiration and cross none of its red lines.
Every other party accepts or rejects; all accept: agreement. Otherwise, with the protocol's
breakdown risk the talks end; at the deadline they end in breakdown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mesa
import numpy as np

from model.core import Situation, accepts, make_strategy
from model.core.analysis import best_compromise
from model.core.redlines import conflict_explanation
from model.core.search import OfferTable, choose_offer_index
from model.core.space import FloatArray
from model.core.strategies import Strategy
from model.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Response:
    """A party's answer to an offer, and why (the text is only written when someone reads it)."""

    accepted: bool
    reason: str  # "accepted", "red line", "below reservation", "below aspiration", "no offer"
    utility: float = math.nan
    threshold: float = math.nan
    note: str = ""

    @property
    def detail(self) -> str:
        if self.note:
            return self.note
        if self.reason in ("below reservation", "below aspiration"):
            what = self.reason.removeprefix("below ")
            return f"utility {self.utility:.3f} < {what} {self.threshold:.3f}"
        return ""


class Actor(mesa.Agent):
    """A negotiating actor: its preferences live in the model's problem; it owns a strategy.

    Args:
        model: the negotiation.
        index: the actor's row in the problem's arrays.
        strategy: how its aspiration falls over the rounds.
    """

    def __init__(self, model: Negotiation, index: int, strategy: Strategy) -> None:
        super().__init__(model)
        self.index = index
        self.actor_id = model.problem.actor_ids[index]
        self.strategy = strategy
        self.is_party = bool(model.problem.consent[index])
        self.best = float(model.problem.best_utility[index])
        self.reservation = float(model.problem.reservation[index])
        self.discount = float(model.problem.discount[index])
        self.aspiration = self.best
        self.response: Response | None = None
        self.proposed = False
        # a strategy whose aspiration depends on time only gives all rounds' values at once
        schedule = getattr(strategy, "schedule", None)
        self._schedule = None if schedule is None else schedule(self.best, self.reservation, model.max_rounds)

    @property
    def offer_utility(self) -> float:
        """This actor's utility of the offer on the table (NaN when there is none)."""
        return math.nan if self.model.offer is None else float(self.model.offer_utilities[self.index])

    def update_aspiration(self) -> None:
        """Set this round's aspiration (rounds are 1-based; the strategy sees 0-based time)."""
        t = self.model.round - 1
        if self._schedule is not None:
            self.aspiration = float(self._schedule[t])
        else:
            self.aspiration = self.strategy.aspiration(Situation(t, self.model.max_rounds, self.best, self.reservation))
        self.proposed = False
        self.response = None

    def propose(self) -> tuple[OfferTable, int] | None:
        """The offer this actor makes now: a row of its offer table (``None``: it passes)."""
        self.proposed = True
        return choose_offer_index(self.model.problem, self.index, self.aspiration)

    def respond(self, offer: FloatArray) -> Response:
        """Accept iff the offer crosses none of its red lines and meets its aspiration and
        reservation utility (``model.core.accepts``)."""
        u = self.offer_utility
        if not self.model.offer_lines_ok[self.index]:
            crossed = self.model.problem.redlines.crossed(offer, self.index)
            text = crossed[0].describe(self.model.problem.space, self.model.problem.actor_ids)
            r = Response(False, "red line", note=text)
        elif u < self.reservation - 1e-9:
            r = Response(False, "below reservation", u, self.reservation)
        elif not accepts(u, self.aspiration, self.reservation, True):
            r = Response(False, "below aspiration", u, self.aspiration)
        else:
            r = _ACCEPTED
        self.response = r
        return r


_ACCEPTED = Response(True, "accepted")


@dataclass
class Outcome:
    """How a negotiation ended."""

    agreed: bool
    reason: str  # "agreement" | "deadline" | "breakdown risk" | "no zone of agreement"
    rounds: int  # rounds played
    package: FloatArray | None
    explanation: str
    blocked_by: list[tuple[str, str, str]] = field(default_factory=list)  # (actor, reason, detail)
    proposer: str | None = None


class Negotiation(mesa.Model):
    """A multi-party negotiation over linked issues, run round by round.

    Args:
        scenario: a compiled scenario.
        rng: seed or generator; defaults to the scenario's seed. The same scenario and seed
            always give the same run.
        collect: record per-round data with the DataCollector (sweeps, which keep only the
            outcome, turn it off).
    """

    def __init__(
        self, scenario: Scenario, rng: int | np.random.Generator | None = None, collect: bool = True
    ) -> None:
        seed = scenario.seed if rng is None else rng
        super().__init__(rng=seed)
        self.seed_used: int | None = int(seed) if isinstance(seed, int | np.integer) else None
        self.config = scenario  # (Mesa's Model owns the name `scenario`)
        self.problem = scenario.problem
        proto = scenario.spec.protocol
        self.max_rounds = proto.max_rounds
        self.breakdown_risk = proto.breakdown_risk
        self.round = 0
        self.order = scenario.proposer_order()
        self.offer: FloatArray | None = None
        self.offer_utilities = np.full(self.problem.n_actors, np.nan)
        self.offer_lines_ok = np.ones(self.problem.n_actors, dtype=bool)
        self.collect = collect
        self.proposer_id = ""
        self.outcome: Outcome | None = None
        for i, act in enumerate(scenario.spec.actors):
            Actor(self, i, make_strategy(act.strategy.name, act.strategy.params))
        self.actors: list[Actor] = sorted(self.agents, key=lambda a: a.index)  # type: ignore[arg-type]
        self._all_parties = bool(self.problem.consent.all())
        self._responders = {
            p: self.agents.select(lambda a, p=p: a.is_party and a.index != p) for p in set(self.order)
        }
        issue_reporters = {
            f"offer.{iid}": _offer_reporter(i) for i, iid in enumerate(self.problem.space.ids)
        }
        self.datacollector = mesa.DataCollector(
            model_reporters={"round": "round", "proposer": "proposer_id", **issue_reporters},
            agent_reporters={
                "actor": "actor_id",
                "aspiration": "aspiration",
                "reservation": "reservation",
                "offer_utility": "offer_utility",
                "proposed": "proposed",
                "response": lambda a: "" if a.response is None else a.response.reason,
            },
        )
        if not self.problem.boxes:
            why = conflict_explanation(
                self.problem.space, self.problem.redlines, self.problem.parties, self.problem.actor_ids
            )
            self._end(False, "no zone of agreement", None, f"No package satisfies every party's red lines: {why}.")

    def step(self) -> None:
        """One round: aspirations update, the proposer offers, the others answer."""
        if not self.running:
            return
        self.round += 1
        self.agents.do("update_aspiration")
        proposer = self.actors[self.order[(self.round - 1) % len(self.order)]]
        self.proposer_id = proposer.actor_id
        hit = proposer.propose()
        if hit is None:  # nothing it could offer beats no deal for it: it passes
            offer = None
            self.table(None)
            proposer.response = Response(False, "no offer", note="nothing within the red lines beats no deal for it")
            rejecters = [proposer]
        else:
            table, k = hit
            offer = table.packages[k]
            # the table's candidates cross no party's red line and carry their utilities
            self.table(offer, table.utilities[k], parties_ok=True)
        if offer is not None:
            responders = self._responders[proposer.index]
            responses = responders.map("respond", offer)
            rejecters = [a for a, r in zip(responders, responses, strict=True) if not r.accepted]
        if self.collect:
            self.datacollector.collect(self)
        if offer is not None and not rejecters:
            text = f"All parties accepted {proposer.actor_id}'s offer in round {self.round}."
            self._end(True, "agreement", offer, text)
        elif self.round >= self.max_rounds:
            self._end(False, "deadline", offer, self._deadline_explanation(rejecters))
        elif self.breakdown_risk > 0 and self.rng.random() < self.breakdown_risk:
            text = f"Talks broke down in round {self.round} (per-round breakdown risk {self.breakdown_risk:g})."
            self._end(False, "breakdown risk", offer, text)
        if self.outcome is not None and not self.outcome.agreed:
            self.outcome.blocked_by = [
                (a.actor_id, a.response.reason, a.response.detail) for a in rejecters if a.response
            ]

    def table(
        self, offer: FloatArray | None, utilities: FloatArray | None = None, parties_ok: bool = False
    ) -> None:
        """Put ``offer`` on the table: every actor sees its utility and whether it crosses a red line.

        ``utilities`` and ``parties_ok`` (no party's red line is crossed) may be passed when known.
        """
        self.offer = offer
        if offer is None:
            self.offer_utilities = np.full(self.problem.n_actors, np.nan)
            self.offer_lines_ok = np.ones(self.problem.n_actors, dtype=bool)
        else:
            self.offer_utilities = self.problem.utility(offer) if utilities is None else utilities
            if parties_ok and self._all_parties:
                self.offer_lines_ok = np.ones(self.problem.n_actors, dtype=bool)
            else:
                self.offer_lines_ok = self.problem.redlines.satisfied(offer)[0]

    def run(self) -> Outcome:
        """Run to the end and return the outcome."""
        while self.running:
            self.step()
        assert self.outcome is not None
        return self.outcome

    def _end(self, agreed: bool, reason: str, package: FloatArray | None, text: str) -> None:
        self.outcome = Outcome(agreed, reason, self.round, package, text, proposer=self.proposer_id or None)
        self.running = False

    def _deadline_explanation(self, rejecters: list[Actor]) -> str:
        text = f"No agreement by the deadline (round {self.max_rounds}); "
        if self.offer is None:
            text += f"in the last round {rejecters[0].actor_id} had no offer that beats no deal for it."
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


def _offer_reporter(i: int):  # noqa: ANN202 - a DataCollector reporter
    def report(m: Negotiation) -> float:
        return math.nan if m.offer is None else float(m.offer[i])

    return report
