"""Concession strategies: how an actor's aspiration falls from its best package to its floor.

A strategy is a small class with a readable ``name``, a constructor taking its parameters (floats,
with their defaults) as keyword arguments, and one decision method. Scenarios name strategies
through ``STRATEGIES``; the ranges a scenario may give the parameters are checked outside the core
(``model.strategy_params``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Protocol

import numpy as np

from model.core.space import FloatArray


@dataclass(frozen=True)
class Situation:
    """What an actor knows when it sets its aspiration.

    Args:
        round: the current round, 0-based.
        max_rounds: the deadline (number of rounds).
        best: the actor's utility of its best feasible package.
        floor: the lowest utility it may accept: its reservation utility. (The status quo is a
            flow that lasts until agreement, so discounting shrinks the present value of a
            deal's gain, ``discount**round * (u - reservation)``, but not which deals beat the
            status quo.)

    The remaining fields describe the other parties' behaviour, for behaviour-dependent
    strategies. They are optional: each is ``nan`` when it is unknown or not yet defined, and
    time-dependent strategies ignore them.

    Args:
        previous: the actor's own aspiration in the previous round (``nan`` in the first round).
        received: the actor's utility of the most recent offer (in step-by-step protocols: the
            most recent tranche) made by another party (``nan`` if there is none yet).
        received_before: its utility of the offer by others before that one (``nan`` if none).
        delivered: in step-by-step protocols, the fraction (0..1) of what the others promised
            this actor that they actually delivered at the latest delivery (``nan`` if nothing
            was due).
        continuation: the actor's continuation factor ``discount * (1 - breakdown_risk)``
            (``continuation``): how much a round's delay shrinks its expected gain. Time-dependent
            strategies concede by the expected discounted time that has passed (``relative_time``).
        share: the actor's stationary subgame-perfect share of the gains in this round's role
            (``stationary_shares``), for ``rubinstein`` (``nan`` if the protocol sets none).
        others_risk: the smallest Zeuthen risk (:func:`zeuthen_risk`) among the other parties,
            each facing this actor's own latest offer, i.e. the offer the actor stands by
            (``nan`` if unknown). As in Zeuthen's rule, each side's risk is about the *other*
            side's offer: the actor's own risk is about ``received``, the others' about its offer.
    """

    round: int
    max_rounds: int
    best: float
    floor: float
    previous: float = math.nan
    received: float = math.nan
    received_before: float = math.nan
    delivered: float = math.nan
    others_risk: float = math.nan
    continuation: float = 1.0
    share: float = math.nan


def continuation(discount: float, breakdown_risk: float) -> float:
    """The factor by which a round's delay shrinks a deal's expected gain: ``discount * (1 -
    breakdown_risk)`` (the talks survive the round with probability ``1 - breakdown_risk``, and
    what survives is discounted; Binmore, Rubinstein & Wolinsky 1986)."""
    return float(discount) * (1.0 - float(breakdown_risk))


def relative_time(t: int | np.ndarray, max_rounds: int, kappa: float = 1.0) -> np.ndarray:
    """Time as a strategy reads it: the share of the negotiation's expected discounted time
    that has passed by (0-based) round ``t``,

        tau(t) = (1 - kappa ** t) / (1 - kappa ** (T - 1)),   tau(t) = t / (T - 1) when kappa = 1,

    with ``kappa`` the actor's continuation factor (``continuation``). Delay that costs makes
    the early rounds weigh more, so the same strategy concedes sooner when its discount or the
    breakdown risk is higher: with ``kappa < 1`` and a far deadline it has conceded half its way
    (for the linear strategy) after about ``ln 2 / (1 - kappa)`` rounds, its expected remaining
    horizon, not after half the deadline. ``tau = 1`` in the last round (and when ``T = 1``)."""
    t = np.asarray(t, dtype=float)
    if max_rounds <= 1:
        return np.ones_like(t)
    if kappa >= 1.0 - 1e-12:
        return np.minimum(1.0, t / (max_rounds - 1))
    return np.minimum(1.0, -np.expm1(t * math.log(kappa)) / -math.expm1((max_rounds - 1) * math.log(kappa)))


def zeuthen_risk(aspiration: float, utility: float, floor: float) -> float:
    """Zeuthen's (1930) risk of an actor facing an offer: the largest probability of conflict it
    would accept rather than take the offer,

        risk = (aspiration - utility) / (aspiration - floor), clipped to [0, 1],

    with ``aspiration`` the utility of the actor's own offer and ``utility`` its utility of the
    offer it faces. An actor whose aspiration is at or below its floor has nothing to lose by
    conflict, so its risk is 1, as in :func:`model.theory.bargaining.zeuthen_negotiation` (the
    convention of Rosenschein & Zlotkin 1994): it is never the one that must concede, so two
    parties cannot deadlock on one that is already at its floor. ``nan`` if any input is.
    """
    if math.isnan(aspiration) or math.isnan(utility) or math.isnan(floor):
        return math.nan
    gain = aspiration - floor
    if gain <= 0.0:
        return 1.0
    return min(1.0, max(0.0, (aspiration - utility) / gain))


class Strategy(Protocol):
    name: ClassVar[str]

    def aspiration(self, s: Situation) -> float: ...


class TimeDependent:
    """Time-dependent concession (Faratin, Sierra & Jennings 1998; NegMAS's ``TimeBasedNegotiator``).

    The aspiration at relative time ``tau`` (``relative_time``: ``round / (max_rounds - 1)``
    when delay costs nothing, earlier when the actor's continuation factor is below one) is

        a(tau) = floor + (best - floor) * (1 - tau ** exponent)

    so it starts at the actor's best package and reaches its floor in the last round.
    ``exponent > 1`` concedes late (Boulware), ``exponent = 1`` linearly, ``exponent < 1`` early
    (Conceder). A Boulware actor's aspiration is never below a Conceder's with the same best
    and floor, at any round.
    """

    name: ClassVar[str] = "time_dependent"

    def __init__(self, exponent: float = 1.0) -> None:
        self.exponent = exponent

    def aspiration(self, s: Situation) -> float:
        tau = float(relative_time(s.round, s.max_rounds, s.continuation))
        floor = min(s.floor, s.best)
        return floor + (s.best - floor) * (1.0 - tau**self.exponent)

    def schedule(
        self, best: float | FloatArray, floor: float | FloatArray, max_rounds: int, kappa: float = 1.0
    ) -> np.ndarray:
        """The aspiration in every round at once (it depends on time only): shape ``(max_rounds,)``,
        or ``(*shape, max_rounds)`` for arrays of bests and floors (many negotiations at once).
        ``kappa``: the actor's continuation factor (``continuation``)."""
        b = np.asarray(best, dtype=float)[..., None]
        lo = np.minimum(np.asarray(floor, dtype=float)[..., None], b)
        return lo + (b - lo) * _still_asked(max_rounds, float(kappa), self.exponent)


#: Up to how many cells (rounds x actors) ``_still_asked_by`` keeps a table for later runs.
_STACK_KEPT = 2**16


@lru_cache(maxsize=64)
def _still_asked(max_rounds: int, kappa: float, exponent: float) -> FloatArray:
    """``1 - tau ** exponent`` in every round (read-only): the share of its span ``best - floor``
    a time-dependent actor still asks for. It depends on time only, so every run with the same
    deadline, continuation factor and exponent shares it."""
    tau = np.ones(1) if max_rounds <= 1 else relative_time(np.arange(max_rounds), max_rounds, kappa)
    out = 1.0 - tau**exponent
    out.setflags(write=False)
    return out


@lru_cache(maxsize=64)
def _still_asked_by(max_rounds: int, kappas: tuple[float, ...], exponents: tuple[float, ...]) -> FloatArray:
    """``_still_asked`` of every actor side by side: ``(max_rounds, A)``, read-only (kept only
    when small: ``schedules`` builds larger ones afresh, ``_STACK_KEPT``)."""
    out = np.stack([_still_asked(max_rounds, k, e) for k, e in zip(kappas, exponents, strict=True)], 1)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=64)
def _still_asked_rows(max_rounds: int, kappas: tuple[float, ...], exponents: tuple[float, ...]) -> FloatArray:
    """``_still_asked_by`` laid out actor by actor: ``(A, max_rounds)``, read-only (kept only when
    small, as ``_still_asked_by``)."""
    out = np.stack([_still_asked(max_rounds, k, e) for k, e in zip(kappas, exponents, strict=True)], 0)
    out.setflags(write=False)
    return out


def schedules_by_actor(strategies: Sequence[Any], best: Sequence[float], floor: Sequence[float], max_rounds: int,
                       kappa: FloatArray) -> FloatArray:
    """``schedules(...).T`` as a C-ordered ``(A, max_rounds)`` array: row ``a`` is actor ``a``'s
    schedule, the same numbers (the same arithmetic element by element). Laid out this way, the
    arithmetic runs along the rounds (numpy's inner loops are as long as the deadline, not as
    the number of actors) and each row is contiguous."""
    if not all(type(s).schedule is TimeDependent.schedule for s in strategies):
        return np.ascontiguousarray(schedules(strategies, np.asarray(best, dtype=float),
                                              np.asarray(floor, dtype=float), max_rounds, kappa).T)
    fn = _still_asked_rows if max_rounds * len(strategies) <= _STACK_KEPT else _still_asked_rows.__wrapped__
    share = fn(max_rounds, tuple(np.asarray(kappa, dtype=float).tolist()), tuple(s.exponent for s in strategies))
    b = np.asarray(best, dtype=float)[:, None]
    lo = np.minimum(np.asarray(floor, dtype=float)[:, None], b)
    out: FloatArray = lo + (b - lo) * share
    return out


def schedules(strategies: Sequence[Any], best: FloatArray, floor: FloatArray, max_rounds: int,
              kappa: FloatArray) -> FloatArray:
    """Every actor's aspiration in every round, ``(max_rounds, A)``: column ``a`` is
    ``strategies[a].schedule(best[a], floor[a], max_rounds, kappa[a])``, the same numbers. When
    every strategy is a ``TimeDependent`` the columns are computed at once (the same arithmetic,
    element by element, on the actors side by side)."""
    if all(type(s).schedule is TimeDependent.schedule for s in strategies):
        fn = _still_asked_by if max_rounds * len(strategies) <= _STACK_KEPT else _still_asked_by.__wrapped__
        share = fn(max_rounds, tuple(np.asarray(kappa, dtype=float).tolist()), tuple(s.exponent for s in strategies))
        b = np.asarray(best, dtype=float)
        lo = np.minimum(np.asarray(floor, dtype=float), b)
        out: FloatArray = lo + (b - lo) * share
        return out
    return np.stack([s.schedule(float(best[a]), float(floor[a]), max_rounds, float(kappa[a]))
                     for a, s in enumerate(strategies)], 1)


class Boulware(TimeDependent):
    """Time-dependent concession that holds out until late (default exponent 4, as in NegMAS)."""

    name: ClassVar[str] = "boulware"

    def __init__(self, exponent: float = 4.0) -> None:
        super().__init__(exponent)


class Linear(TimeDependent):
    """Time-dependent concession at a constant rate (exponent 1)."""

    name: ClassVar[str] = "linear"

    def __init__(self) -> None:
        super().__init__(1.0)


class Conceder(TimeDependent):
    """Time-dependent concession that gives ground early (default exponent 0.25, as in NegMAS)."""

    name: ClassVar[str] = "conceder"

    def __init__(self, exponent: float = 0.25) -> None:
        super().__init__(exponent)


def _start(s: Situation) -> float:
    """The aspiration a behaviour-dependent strategy moves from: the previous one, else its best."""
    return s.best if math.isnan(s.previous) else s.previous


def _clip(a: float, s: Situation) -> float:
    """``a`` clipped to ``[floor', best]`` with ``floor' = min(floor, best)``."""
    return min(s.best, max(min(s.floor, s.best), a))


class TitForTat:
    """Reciprocity: concede as much as the others last conceded (Axelrod 1984; the "relative
    tit-for-tat" behaviour-dependent tactic of Faratin, Sierra & Jennings 1998).

    With ``r = floor' = min(floor, best)``, ``b = best`` and the other parties' concession
    measured in the actor's own utility, ``c = max(0, received - received_before)``:

        a_0 = b - opening * (b - r)                       (first round: a goodwill move)
        a_t = previous - reciprocity * c                  (c only when both offers are known)
            + retaliation * (1 - delivered) * (b - r)     (only when delivered < 1 is known)

    clipped to ``[r, b]``. Without a previous aspiration after the first round it starts from
    ``b``. It never concedes unless the others do, and it takes back ground, in proportion to
    the undelivered share, when a promise to it was broken.
    """

    name: ClassVar[str] = "tit_for_tat"

    def __init__(self, reciprocity: float = 1.0, opening: float = 0.05, retaliation: float = 0.5) -> None:
        self.reciprocity = reciprocity
        self.opening = opening
        self.retaliation = retaliation

    def aspiration(self, s: Situation) -> float:
        span = s.best - min(s.floor, s.best)
        if s.round == 0:
            return _clip(s.best - self.opening * span, s)
        a = _start(s)
        if not (math.isnan(s.received) or math.isnan(s.received_before)):
            a -= self.reciprocity * max(0.0, s.received - s.received_before)
        if not math.isnan(s.delivered) and s.delivered < 1.0:
            a += self.retaliation * (1.0 - max(0.0, s.delivered)) * span
        return _clip(a, s)


class Zeuthen:
    """Zeuthen's (1930) risk rule, as formalised by Harsanyi (1956).

    With the actor's own risk ``rho = zeuthen_risk(previous, received, floor)`` (how much
    conflict it would risk rather than take the others' latest offer) and ``rho_o =
    others_risk`` (the smallest risk among the others, facing its own offer), ``r = floor' =
    min(floor, best)`` and ``b = best``:

        a_t = previous - step * (b - r)   if rho <= rho_o   (the less daring side concedes;
                                                              at a tie both do)
        a_t = previous                    otherwise

    clipped to ``[r, b]``. In the first round, or while ``received`` or ``others_risk`` is
    unknown, it holds at ``previous`` (its best if there is none).

    Harsanyi showed that comparing the risks compares the Nash products of the two offers, so
    in the two-party case this concession rule drives the offers to the Nash bargaining
    solution in the limit of small steps (with a finite ``step``, to within about one step); the
    exact protocol, whose outcome is checked against the Nash point, is
    :func:`model.theory.bargaining.zeuthen_negotiation`.
    """

    name: ClassVar[str] = "zeuthen"

    def __init__(self, step: float = 0.1) -> None:
        self.step = step

    def aspiration(self, s: Situation) -> float:
        a = _start(s)
        if s.round == 0 or math.isnan(s.received) or math.isnan(s.others_risk):
            return _clip(a, s)
        own = zeuthen_risk(a, s.received, s.floor)
        if own <= s.others_risk + 1e-12:
            a -= self.step * (s.best - min(s.floor, s.best))
        return _clip(a, s)


class Hardliner:
    """Never concedes below a fixed level: with ``r = floor' = min(floor, best)`` and ``b = best``,

        a = r + level * (b - r)   in every round,

    so ``level = 1`` insists on its best package throughout (the take-it-or-leave-it baseline,
    NegMAS's ``ToughNegotiator``), ``level = 0`` accepts anything that beats its floor. It
    depends on time only, so it has a ``schedule``; it is not a ``TimeDependent`` (that family
    reaches the floor at the deadline and has an ``exponent``).
    """

    name: ClassVar[str] = "hardliner"

    def __init__(self, level: float = 1.0) -> None:
        self.level = level

    def aspiration(self, s: Situation) -> float:
        lo = min(s.floor, s.best)
        return lo + self.level * (s.best - lo)

    def schedule(self, best: float, floor: float, max_rounds: int, kappa: float = 1.0) -> np.ndarray:
        """The aspiration in every round at once: shape ``(max_rounds,)``, constant."""
        lo = min(floor, best)
        return np.full(max_rounds, lo + self.level * (best - lo))


class Rubinstein:
    """The stationary subgame-perfect demand of alternating offers (Rubinstein 1982): in the
    round's role, demand the share of the gains that the equilibrium gives,

        a = r + share * (b - r),

    with ``share`` (``Situation.share``) the actor's equilibrium share when the round's
    proposer makes its offer, computed by the protocol from every party's continuation factor
    ``kappa = discount * (1 - breakdown_risk)`` and the rotation (``stationary_shares``). With
    two parties the proposer ``i`` demands ``(1 - kappa_j) / (1 - kappa_i kappa_j)`` and the
    responder ``kappa_j`` times its own share as the next proposer, so a one-issue split agrees
    in the first round at Rubinstein's division; breakdown risk acts as a common discount
    (Binmore, Rubinstein & Wolinsky 1986). Shares are of the normalised gains ``(u - r) /
    (b - r)``, so on problems other than a split they are the equilibrium of the normalised
    problem, not of the actual one. Without a share (a protocol that sets none) it demands its
    best.
    """

    name: ClassVar[str] = "rubinstein"

    def aspiration(self, s: Situation) -> float:
        lo = min(s.floor, s.best)
        share = 1.0 if math.isnan(s.share) else min(1.0, max(0.0, s.share))
        return lo + share * (s.best - lo)


def stationary_shares(kappa: FloatArray, order: list[int] | tuple[int, ...], parties: list[int]) -> np.ndarray:
    """The stationary subgame-perfect division of one unit among ``parties`` under unanimity
    with proposers in the rotation ``order``: ``W[s, a]``, actor ``a``'s share when the ``s``-th
    proposer of the rotation offers. A responder gets what it would get, discounted by its
    ``kappa``, when the next proposer offers; the proposer keeps the rest:

        W[s, j] = kappa_j * W[s + 1, j]   (j != order[s]),    sum_j W[s, j] = 1.

    Two parties alternating give Rubinstein's ``(1 - k2) / (1 - k1 k2)``. Solved as one linear
    system; with every ``kappa = 1`` the division is not determined, and the limit (equal
    shares among the proposers, by continuity) is returned."""
    n_s, n_a = len(order), len(kappa)
    k = np.minimum(np.asarray(kappa, dtype=float), 1.0 - 1e-9)
    m = np.zeros((n_s * n_a, n_s * n_a))
    rhs = np.zeros(n_s * n_a)
    for s in range(n_s):
        p = order[s]
        nxt = (s + 1) % n_s
        for j in range(n_a):
            r = s * n_a + j
            if j not in parties:
                m[r, r] = 1.0  # no share
            elif j != p:
                m[r, r] = 1.0
                m[r, nxt * n_a + j] = -k[j]
            else:
                m[r, [s * n_a + a for a in parties]] = 1.0
                rhs[r] = 1.0
    return np.linalg.solve(m, rhs).reshape(n_s, n_a)


type StrategyClass = type[TimeDependent] | type[TitForTat] | type[Zeuthen] | type[Hardliner] | type[Rubinstein]
"""A strategy class as ``STRATEGIES`` holds it: a ``name`` and a constructor taking its parameters as
keyword arguments (``TimeDependent`` covers its subclasses)."""

STRATEGIES: dict[str, StrategyClass] = {
    cls.name: cls for cls in (TimeDependent, Boulware, Linear, Conceder, TitForTat, Zeuthen, Hardliner, Rubinstein)
}


def make_strategy(name: str, params: dict[str, float]) -> Strategy:
    """Build a strategy from its scenario name and (already validated) parameters, taken as floats.

    The core does not check them: a scenario's are checked when it is read, and
    ``model.strategy_params.make_strategy`` checks them first."""
    cls = STRATEGIES[name]
    return cls(**{k: float(v) for k, v in params.items()})


#: How far below a need an offer may fall and still meet it (rounding in the utilities).
ACCEPT_TOL = 1e-9


def meets(utility: Any, need: Any) -> Any:
    """Whether a utility meets a need, ``utility >= need - ACCEPT_TOL``: the one comparison every
    acceptance (offers, tranches, settlements, reservations) uses; floats or arrays."""
    return utility >= need - ACCEPT_TOL


def accepts(utility: float, aspiration: float, floor: float, red_lines_ok: bool) -> bool:
    """The acceptance rule: no red line crossed, and the offer meets the aspiration and floor."""
    return red_lines_ok and bool(meets(utility, max(aspiration, floor)))
