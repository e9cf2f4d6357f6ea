"""The ``package`` protocol as a plain loop over the core, without Mesa.

The Mesa model (``model.negotiation``) runs the same rounds with agents and a DataCollector;
this loop is the reference it must agree with (same outcome for the same seed, a test) and the
baseline against which the framework's cost is measured (``make bench``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from model.core.offers import applies, demands_of, frontier_offer
from model.core.problem import Problem
from model.core.search import OfferTable, choose_offer_index, offer_table
from model.core.space import BoolArray, FloatArray
from model.core.strategies import Situation, Strategy, TimeDependent, meets, schedules


@dataclass
class CoreOutcome:
    agreed: bool
    reason: str  # "agreement" | "deadline" | "breakdown risk" | "no zone of agreement"
    rounds: int
    package: FloatArray | None
    rejecters: list[int] = field(default_factory=list)


def responses(problem: Problem, offer: FloatArray, aspiration: FloatArray) -> tuple[np.ndarray, np.ndarray]:
    """Each actor's verdict on ``offer``: (accepts, crosses one of its red lines), shape ``(A,)``.

    An actor accepts iff the offer crosses none of its red lines and its utility meets both its
    aspiration and its reservation utility.
    """
    u = problem.utility(offer)
    lines_ok = problem.redlines.satisfied(offer)[0]
    accept = lines_ok & meets(u, np.maximum(aspiration, problem.reservation))
    return accept, ~lines_ok


def run_package_protocol(
    problem: Problem,
    strategies: Sequence[Strategy],
    order: Sequence[int],
    max_rounds: int,
    breakdown_risk: float,
    rng: np.random.Generator,
) -> CoreOutcome:
    """Multilateral alternating offers of full packages (see docs/model.md)."""
    if not problem.has_zone_of_agreement_by_red_lines:
        return CoreOutcome(False, "no zone of agreement", 0, None)
    parties = np.asarray(problem.parties)
    best = problem.utopia
    floor = problem.reservation
    offer: FloatArray | None = None
    kappa = kappas(problem, breakdown_risk)
    frontier = applies(problem)
    # time-only strategies: their schedules, the very numbers the Mesa model and the vectorised
    # engine demand (a strategy's one-round ``aspiration`` can differ from them in the last bit,
    # and an offer answers its demands to the bit)
    table = schedules(strategies, best, floor, max_rounds, kappa) if vectorisable(strategies) else None
    for t in range(1, max_rounds + 1):
        aspiration = table[t - 1] if table is not None else np.array([
            s.aspiration(Situation(t - 1, max_rounds, best[a], floor[a], continuation=float(kappa[a])))
            for a, s in enumerate(strategies)
        ])
        proposer = order[(t - 1) % len(order)]
        got = _offer(problem, proposer, aspiration, frontier)
        if got is None:
            offer = None
            rejecters = [proposer]
        else:
            offer, u = got
            # offers cross no party's red line by construction: utilities decide
            accept = meets(u, np.maximum(aspiration, floor))
            rejecters = [int(a) for a in parties if a != proposer and not accept[a]]
            if not rejecters:
                return CoreOutcome(True, "agreement", t, offer.copy())
        if t == max_rounds:
            return CoreOutcome(False, "deadline", t, offer, rejecters)
        if breakdown_risk > 0 and rng.random() < breakdown_risk:
            return CoreOutcome(False, "breakdown risk", t, offer, rejecters)
    raise AssertionError("unreachable")  # pragma: no cover


#: Up to how many cells (rounds x actors) a run's turn tables and concession curves are kept for
#: the runs after it (the caches then hold a few megabytes at most).
KEPT_CELLS = 2**16


def _turns(
    order: tuple[int, ...], max_rounds: int, n_actors: int, parties: tuple[int, ...]
) -> tuple[np.ndarray, BoolArray]:
    """``_turns_kept``, kept only when small (``KEPT_CELLS``)."""
    fn = _turns_kept if max_rounds * n_actors <= KEPT_CELLS else _turns_kept.__wrapped__
    return fn(order, max_rounds, n_actors, parties)


@lru_cache(maxsize=64)
def _turns_kept(
    order: tuple[int, ...], max_rounds: int, n_actors: int, parties: tuple[int, ...]
) -> tuple[np.ndarray, BoolArray]:
    """The proposer of every round ``(T,)``, and whose verdict does not count in each ``(T, A)``
    (the proposer's own and non-parties'); read-only, shared by every run of that form."""
    proposer_of = np.asarray(order)[np.arange(max_rounds) % len(order)]
    excused = np.ones((max_rounds, n_actors), dtype=bool)
    excused[:, list(parties)] = False
    excused[np.arange(max_rounds), proposer_of] = True
    for arr in (proposer_of, excused):
        arr.setflags(write=False)
    return proposer_of, excused


def kappas(problem: Problem, breakdown_risk: float) -> FloatArray:
    """Every actor's continuation factor ``discount * (1 - breakdown_risk)``."""
    # ``continuation`` of every actor at once: the same product, element by element
    out: FloatArray = np.asarray(problem.discount, dtype=float) * (1.0 - float(breakdown_risk))
    return out


def _offer(
    problem: Problem, proposer: int, aspiration: FloatArray, frontier: bool
) -> tuple[FloatArray, FloatArray] | None:
    """The proposer's offer and its utilities: the frontier offer given every demand, or on a
    value-table domain the grid search's choice."""
    if frontier:
        o = frontier_offer(problem, proposer, demands_of(problem, aspiration))
        return None if o is None else (o.package, o.utilities)
    hit = choose_offer_index(problem, proposer, float(aspiration[proposer]))
    if hit is None:
        return None
    table, k = hit
    return table.packages[k], table.utilities[k]


def run_package_vectorised(
    problem: Problem,
    strategies: Sequence[TimeDependent],
    order: Sequence[int],
    max_rounds: int,
    breakdown_risk: float,
    rng: np.random.Generator,
) -> CoreOutcome:
    """The same negotiation as ``run_package_protocol``, computed as arrays over all rounds.

    With time-dependent strategies every aspiration is known in advance, so each proposer's
    offers follow from one vectorised search of its offer table, and acceptance is a
    (rounds x actors) comparison. Random draws are consumed as the round-by-round loop consumes
    them (one per failed round before the last), so the outcome is identical for the same seed.
    """
    if not problem.has_zone_of_agreement_by_red_lines:
        return CoreOutcome(False, "no zone of agreement", 0, None)
    n_a = problem.n_actors
    floor = problem.reservation
    asp = schedules(strategies, problem.utopia, floor, max_rounds, kappas(problem, breakdown_risk))
    if applies(problem):
        got = _frontier_vectorised(problem, asp, order, max_rounds, breakdown_risk, rng)
        if got is not None:
            return got
        return run_package_protocol(problem, strategies, order, max_rounds, breakdown_risk, rng)
    need = np.maximum(asp, floor) - 1e-9  # (T, A)
    n_o = len(order)
    proposer_of, excused = _turns(tuple(int(q) for q in order), max_rounds, n_a, problem.parties)
    offered_u = np.full((n_a, max_rounds), -np.inf)  # actor-major: the verdicts reduce over a short axis
    has_offer = np.zeros(max_rounds, dtype=bool)
    offer_row = np.zeros(max_rounds, dtype=np.int64)
    tables: dict[int, OfferTable] = {}
    for p in sorted({int(q) for q in order}):
        turns = [j for j, q in enumerate(order) if q == p]
        # the rounds it proposes in: every n_o-th from its turn (a slice: cheaper than an index)
        rounds: slice | np.ndarray = slice(turns[0], None, n_o) if len(turns) == 1 else np.flatnonzero(proposer_of == p)
        table = offer_table(problem, p)
        tables[p] = table
        if len(table.own) == 0:
            continue
        # its choice for every threshold, and past the last (aspiration above anything feasible)
        # its own best, if that beats no deal
        k = table.own.searchsorted(need[rounds, p], side="left")
        has_offer[rounds] = True if table.own[-1] >= floor[p] - 1e-9 else k < len(table.own)
        offer_row[rounds] = rows = table.choice[k]
        offered_u[:, rounds] = table.utilities[rows].T
    # every other party accepts: its utility meets its need (the proposer's and non-parties' don't count)
    accepted = has_offer & np.logical_and.reduce((offered_u >= need.T) | excused.T, axis=0)
    hit = np.flatnonzero(accepted)
    end = int(hit[0]) + 1 if len(hit) else max_rounds  # 1-based round where talks end at the latest

    def offer_at(t: int) -> FloatArray | None:
        return tables[int(proposer_of[t - 1])].packages[offer_row[t - 1]].copy() if has_offer[t - 1] else None

    def rejecters_at(t: int) -> list[int]:
        p = int(proposer_of[t - 1])
        if not has_offer[t - 1]:
            return [p]
        return [a for a in problem.parties if a != p and offered_u[a, t - 1] < need[t - 1, a]]

    if breakdown_risk > 0 and end > 1:
        draws = rng.random(end - 1)  # one per failed round before ``end`` (the loop draws no more)
        broke = np.flatnonzero(draws < breakdown_risk)
        if len(broke):
            t = int(broke[0]) + 1
            return CoreOutcome(False, "breakdown risk", t, offer_at(t), rejecters_at(t))
    if len(hit):
        return CoreOutcome(True, "agreement", end, offer_at(end))
    return CoreOutcome(False, "deadline", max_rounds, offer_at(max_rounds), rejecters_at(max_rounds))


def _frontier_vectorised(
    problem: Problem,
    asp: FloatArray,
    order: Sequence[int],
    max_rounds: int,
    breakdown_risk: float,
    rng: np.random.Generator,
) -> CoreOutcome | None:
    """``run_package_vectorised`` under the frontier offer rule (``model.core.offers``).

    The demands of every round are known in advance. Before the demands are compatible the
    proposer's offer meets its own demand, so some other party's is not met and the offer is
    rejected (each round's offer is judged as the responders judge it: at the acceptance rule's
    tolerance a proposal may still meet every demand); once they are compatible the proposer
    offers the equal split of the excess, which every party accepts. So the talks agree in the
    first round whose demands are compatible (found by bisection when no demand ever rises), unless
    the breakdown draws end them
    earlier; only the offer of the round the talks end in is computed. If a search that judged
    some round's demands incompatible was cut short by its limits (``Offer.exact``), that round's
    proposal might still be accepted, so ``None`` is returned and the caller plays the rounds one
    by one (``run_package_protocol``: the same outcome by construction)."""
    demand = np.maximum(asp, problem.reservation[None, :])  # (T, A)
    proposer_of = np.asarray(order)[np.arange(max_rounds) % len(order)]
    try:
        first, meet = _first_meeting(problem, demand, proposer_of)
    except _Undecided:  # a search was cut short: a proposal might yet be accepted; play the rounds
        return None
    end = first + 1 if first is not None else max_rounds
    if breakdown_risk > 0 and end > 1:
        draws = rng.random(end - 1)  # one per failed round before ``end`` (the loop draws no more)
        broke = np.flatnonzero(draws < breakdown_risk)
        if len(broke):
            t = int(broke[0]) + 1
            return _failed(problem, "breakdown risk", t, demand, proposer_of)
    if first is not None and meet is not None:
        return CoreOutcome(True, "agreement", end, meet)
    return _failed(problem, "deadline", max_rounds, demand, proposer_of)


class _Undecided(Exception):
    """A round's demands were judged incompatible by a search cut short (``Offer.exact``)."""


def _meets(problem: Problem, demand: FloatArray, proposer: int) -> FloatArray | None:
    """The round's offer if the demands are compatible and every other party accepts it."""
    o = frontier_offer(problem, proposer, demand)
    if o is not None and not o.exact:
        raise _Undecided
    if o is None:
        return None
    # judged as the responders judge it, whatever program gave it: a proposal (the meet program
    # fell short by a hair more than MEET_TOL) can still meet every demand within the acceptance
    # rule's 1e-9, and the round-by-round engines then agree on it
    judges = [a for a in problem.parties if a != proposer]
    return o.package if bool(np.all(meets(o.utilities[judges], demand[judges]))) else None


def _first_meeting(
    problem: Problem, demand: FloatArray, proposer_of: np.ndarray
) -> tuple[int | None, FloatArray | None]:
    """The first (0-based) round whose offer every party accepts, and that offer.

    When no demand rises and the last round's demands meet, the earlier rounds' do from some
    round on, which bisection finds. When the last round's do not meet, the rounds are scanned
    one by one: an earlier round may still meet where the last one's offer would be the status
    quo itself, which is no offer when it gives nobody a gain."""
    n = len(demand)
    lo, hi = 0, n - 1
    last = _meets(problem, demand[hi], int(proposer_of[hi])) if np.all(np.diff(demand, axis=0) <= 0.0) else None
    if last is None:  # a demand rises, or the last round does not meet: round by round
        for t in range(n):
            got = _meets(problem, demand[t], int(proposer_of[t]))
            if got is not None:
                return t, got
        return None, None
    found = (hi, last)
    while lo < hi:
        mid = (lo + hi) // 2
        got = _meets(problem, demand[mid], int(proposer_of[mid]))
        if got is not None:
            hi, found = mid, (mid, got)
        else:
            lo = mid + 1
    return found


def _failed(problem: Problem, reason: str, t: int, demand: FloatArray, proposer_of: np.ndarray) -> CoreOutcome:
    """The outcome of talks that end without agreement in (1-based) round ``t``."""
    p = int(proposer_of[t - 1])
    o = frontier_offer(problem, p, demand[t - 1])
    if o is None:
        return CoreOutcome(False, reason, t, None, [p])
    rej = [a for a in problem.parties if a != p and o.utilities[a] < demand[t - 1, a] - 1e-9]
    return CoreOutcome(False, reason, t, o.package, rej)


def vectorisable(strategies: Sequence[Strategy]) -> bool:
    """Whether ``run_package_vectorised`` applies: every aspiration depends on time only (the
    strategy gives all rounds' aspirations at once with ``schedule``)."""
    return all(callable(getattr(s, "schedule", None)) for s in strategies)
