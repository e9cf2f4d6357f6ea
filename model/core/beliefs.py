"""What parties do not know: private reservations and red lines, beliefs, and learning from answers.

Representation (docs/model.md, "What parties do not know"). For each actor ``j`` whose
information is private (``PrivateInfo``), every other actor ``i`` holds

* a discrete belief over ``j``'s reservation utility: weights over ``K`` candidate types
  (``types``), by default a grid on [0, 1] with a normal prior centred on a *public estimate*
  with a *width* (its standard deviation), or an explicit list of types and prior weights;
* per private red line of ``j``, the probability that ``j`` holds it (the line's bound is known
  when it exists: each line is one binary type).

Beliefs about different actors, and about a reservation and a line, are independent (a product
of marginals). Everyone starts from the same public prior; then each observer receives its own
private *signal* of the truth (drawn from the run's generator, so a seeded run is reproducible)
with a precision ``signal`` in [0, 1]: for a reservation a normal observation of the truth with
standard deviation ``prior_sd * (1 - signal) / signal`` (0: no information, 1/2: as informative
as the prior, 1: the truth itself), for a red line a report that it exists, right with
probability ``(1 + signal) / 2``. The posterior is prior times likelihood (Bayes' rule).

Answers at the table are public and everyone learns from them: a refusal of an offer that gave
``j`` (judged) utility ``u``, on utility grounds, says that ``j``'s floor ``max(aspiration_j,
r_j) + margin`` is above ``u``; an acceptance that it is not. Types that contradict the answer
are not removed but down-weighted by the factor ``TREMBLE`` (a trembling hand: the truth may lie
between the grid's types, and one answer must not make the belief empty). A refusal on a red
line names the line: every observer then knows it exists. ``j``'s aspirations stay public.

A patron's veto strength (the probability that it vetoes a deal moving its veto issues against
it) can be private too (``PrivateVeto``): every party but the client holds a discrete belief
over it (by default the types 0, 1/4, 1/2, 3/4, 1), drawn like a reservation's from a public
prior and a private signal. A proposer counts ``P(no veto) = 1 - E[s]`` into its chance that an
offer moving those issues against the patron is accepted, and every veto test at the table
updates everyone's belief by Bayes' rule (likelihood ``s`` for a veto, ``1 - s`` for none).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from model.core.analysis import best_compromise
from model.core.offers import applies, most_for
from model.core.space import FloatArray
from model.core.strategies import ACCEPT_TOL

if TYPE_CHECKING:
    from model.core.problem import Problem

#: Likelihood of a type that contradicts an observed answer (relative to 1 for one that fits it).
TREMBLE = 1e-3
#: Number of grid types of a reservation belief when no explicit types are given.
GRID_TYPES = 41
#: Belief quantiles at which a proposer computes its candidate offers (the same level for every
#: uncertain party: a handful of offers, not ``K ** n`` combinations). The top level stops short
#: of 1 so that types down-weighted by a tremble do not count as possible.
QUANTILES = (0.999, 0.95, 0.9, 0.75, 0.5, 0.25, 0.1, 0.02)
#: The quantile of the prior a party with a private reservation concedes toward in what it says
#: (its aspiration schedule's floor): its stated demands reveal no more than the prior.
POSTURE_QUANTILE = 0.02
#: ``i`` misjudged ``j`` when its belief mean of ``j``'s reservation ends further than this from the truth.
MISJUDGE_TOL = 0.1
#: A line believed to exist with less than this probability is left out of the proposer's program.
LINE_BELIEVED = 0.5


@dataclass(frozen=True)
class PrivateInfo:
    """The private part of one actor's information and the public prior over it.

    ``types`` and ``prior``: the candidate reservations and their prior weights (empty when the
    reservation is public); ``lines``: indices, in the problem's red-line set, of its private
    red lines, with ``line_prior`` the prior probability that it holds each; ``signal``: the
    precision of the signal each other actor receives."""

    actor: int
    types: FloatArray
    prior: FloatArray
    signal: float
    lines: tuple[int, ...] = ()
    line_prior: float = 0.5

    @property
    def reservation_private(self) -> bool:
        return len(self.types) > 0

    @property
    def prior_sd(self) -> float:
        return _sd(self.types, self.prior)

    def posture(self) -> float:
        """The floor its stated demands concede toward (``POSTURE_QUANTILE`` of the prior)."""
        return quantile(self.types, self.prior, POSTURE_QUANTILE)


def _sd(types: FloatArray, prior: FloatArray) -> float:
    """The standard deviation of a discrete prior (0 for an empty one)."""
    if len(types) == 0:
        return 0.0
    mean = float(prior @ types)
    return float(np.sqrt(max(float(prior @ (types - mean) ** 2), 1e-12)))


#: The veto-strength types of a private veto when no explicit types are given.
VETO_TYPES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class PrivateVeto:
    """A patron's private veto strength: ``influence`` indexes ``Mechanics.influence`` (the
    client's tie to the patron); ``types`` and ``prior``: the candidate strengths and their
    public prior weights; ``signal``: the precision of each observer's private signal."""

    influence: int
    client: int
    patron: int
    types: FloatArray
    prior: FloatArray
    signal: float

    @property
    def prior_sd(self) -> float:
        return _sd(self.types, self.prior)


@dataclass(frozen=True)
class Information:
    """Who holds what privately: ``PrivateInfo`` per actor (``None``: all public), and the
    patrons' private veto strengths."""

    private: tuple[PrivateInfo | None, ...]
    mediator_signal: float = 0.0
    vetoes: tuple[PrivateVeto, ...] = ()

    @property
    def any_private(self) -> bool:
        return any(p is not None for p in self.private) or bool(self.vetoes)

    @property
    def private_lines(self) -> tuple[int, ...]:
        return tuple(k for p in self.private if p is not None for k in p.lines)


def grid_prior(estimate: float, width: float, k: int = GRID_TYPES) -> tuple[FloatArray, FloatArray]:
    """A grid of ``k`` types on [0, 1] with a normal prior (mean ``estimate``, sd ``width``)."""
    types = np.linspace(0.0, 1.0, k)
    w = np.exp(-0.5 * ((types - estimate) / width) ** 2)
    return types, w / w.sum()


def quantile(types: FloatArray, weights: FloatArray, q: float) -> float:
    """The smallest type whose cumulative weight reaches ``q`` (types in increasing order)."""
    cdf = np.cumsum(weights)
    k = int(np.searchsorted(cdf, q * cdf[-1] - 1e-12))
    return float(types[min(k, len(types) - 1)])


def signal_posterior(info: PrivateInfo | PrivateVeto, truth: float, rng: np.random.Generator) -> FloatArray:
    """One observer's posterior over ``info``'s types (a reservation's or a veto strength's)
    after its private signal."""
    s = info.signal
    if s <= 0.0:
        return info.prior.copy()
    sd = max(info.prior_sd * (1.0 - s) / s, 1e-6)
    obs = truth + sd * float(rng.standard_normal())
    logw = np.log(np.maximum(info.prior, 1e-300)) - 0.5 * ((obs - info.types) / sd) ** 2
    w = np.exp(logw - logw.max())
    return w / w.sum()


def line_posterior(prior: float, signal: float, rng: np.random.Generator) -> float:
    """One observer's belief that a (truly held) private line exists after its private signal."""
    if signal <= 0.0:
        return prior
    says = bool(rng.random() < (1.0 + signal) / 2.0)
    right, wrong = (1.0 + signal) / 2.0, (1.0 - signal) / 2.0
    yes = prior * (right if says else wrong)
    no = (1.0 - prior) * (wrong if says else right)
    return yes / (yes + no) if yes + no > 0 else prior


def mediator_means(info: Information, truth: FloatArray, signal: float, rng: np.random.Generator) -> dict[int, float]:
    """A mediator's belief mean of each private reservation after its own signal of precision
    ``signal`` (1: the truth itself, not its nearest type)."""
    out: dict[int, float] = {}
    for p in info.private:
        if p is None or not p.reservation_private:
            continue
        if signal >= 1.0:
            out[p.actor] = float(truth[p.actor])
        else:
            w = signal_posterior(dataclasses.replace(p, signal=signal), float(truth[p.actor]), rng)
            out[p.actor] = float(w @ p.types)
    return out


@dataclass
class Beliefs:
    """Every observer's beliefs about every other actor's private information, during one run.

    ``res[(i, j)]``: observer ``i``'s weights over ``j``'s reservation types; ``line[(i, k)]``:
    ``i``'s probability that private line ``k`` exists; ``veto[(i, v)]``: ``i``'s weights over
    the strength types of private veto ``v`` (an index in ``info.vetoes``); ``refused``: pairs
    ``(i, j)`` where ``j`` refused an offer of ``i`` that ``i`` believed ``j`` would more likely
    than not accept."""

    info: Information
    observers: tuple[int, ...]
    line_owner: dict[int, int]
    res: dict[tuple[int, int], FloatArray] = field(default_factory=dict)
    line: dict[tuple[int, int], float] = field(default_factory=dict)
    veto: dict[tuple[int, int], FloatArray] = field(default_factory=dict)
    refused: set[tuple[int, int]] = field(default_factory=set)

    @classmethod
    def draw(cls, info: Information, observers: tuple[int, ...], truth: FloatArray,
             line_owner: dict[int, int], rng: np.random.Generator,
             veto_truth: tuple[float, ...] = ()) -> Beliefs:
        """The beliefs at the start: the public prior updated by each observer's private signal
        (drawn in a fixed order: observers, then the actors they observe, then their lines;
        then the private vetoes, observer by observer; ``veto_truth``: each one's true strength).
        The client and the patron know a veto's strength: they hold no belief over it."""
        b = cls(info, observers, line_owner)
        for i in observers:
            for p in info.private:
                if p is None or p.actor == i:
                    continue
                if p.reservation_private:
                    b.res[(i, p.actor)] = signal_posterior(p, float(truth[p.actor]), rng)
                for k in p.lines:
                    b.line[(i, k)] = line_posterior(p.line_prior, p.signal, rng)
        for i in observers:
            for v, pv in enumerate(info.vetoes):
                if i not in (pv.client, pv.patron):
                    b.veto[(i, v)] = signal_posterior(pv, float(veto_truth[v]), rng)
        return b

    # -- what an observer believes --------------------------------------------------------------
    def private(self, j: int) -> PrivateInfo | None:
        return self.info.private[j]

    def floor_at(self, i: int, j: int, q: float, stated: float, margin: float) -> float:
        """``i``'s belief of ``j``'s floor at quantile ``q``: ``max(stated aspiration, r_q) + margin``."""
        w = self.res.get((i, j))
        p = self.private(j)
        if w is None or p is None:
            return np.nan
        return max(stated, quantile(p.types, w, q)) + margin

    def p_accepts(self, i: int, j: int, u: float, stated: float, margin: float, slope: float = 0.0) -> float:
        """``i``'s probability that ``j``'s floor is met by the (judged) utility ``u + slope r_j``
        (``slope``: the weight ``j`` gives its patrons' gains, since it judges its own gain from
        its reservation ``r_j``: ``u`` is its judged utility with ``r_j = 0``)."""
        w = self.res.get((i, j))
        p = self.private(j)
        if w is None or p is None:
            return 1.0
        ok = np.maximum(stated, p.types) + margin <= u + slope * p.types + ACCEPT_TOL
        return float(w[ok].sum() / w.sum())

    def believes_line(self, i: int, k: int) -> float:
        return self.line.get((i, k), 1.0)

    def p_no_veto(self, i: int, v: int) -> float:
        """``i``'s probability that private veto ``v``'s patron lets a deal it objects to pass:
        ``1 - E[strength]`` under ``i``'s belief (``nan`` if ``i`` holds none: it knows)."""
        w = self.veto.get((i, v))
        return np.nan if w is None else 1.0 - float(w @ self.info.vetoes[v].types / w.sum())

    def mean(self, i: int, j: int) -> float:
        w = self.res.get((i, j))
        p = self.private(j)
        return np.nan if w is None or p is None else float(w @ p.types / w.sum())

    # -- learning from answers -------------------------------------------------------------------
    def observe_answer(self, j: int, accepted: bool, u: float, stated: float, margin: float,
                       slope: float = 0.0) -> None:
        """Every observer learns from ``j``'s answer (on utility grounds) to an offer worth
        ``u + slope r_j`` to it (``p_accepts``)."""
        p = self.private(j)
        if p is None or not p.reservation_private:
            return
        met = np.maximum(stated, p.types) + margin <= u + slope * p.types + ACCEPT_TOL
        lik = np.where(met == accepted, 1.0, TREMBLE)
        for i in self.observers:
            w = self.res.get((i, j))
            if w is not None:
                w2 = w * lik
                self.res[(i, j)] = w2 / w2.sum()

    def observe_veto(self, v: int, vetoed: bool) -> None:
        """Everyone saw private veto ``v`` tested (a deal its patron objects to, that the client
        would take): Bayes' rule with likelihood ``s`` for a veto and ``1 - s`` for none."""
        types = self.info.vetoes[v].types
        lik = types if vetoed else 1.0 - types
        for i in self.observers:
            w = self.veto.get((i, v))
            if w is not None:
                w2 = w * lik
                total = float(w2.sum())
                # (a veto seen under a belief of strength 0 only: keep the belief rather than empty it)
                self.veto[(i, v)] = w2 / total if total > 0.0 else w

    def reveal_line(self, k: int) -> None:
        """A refusal named private line ``k``: everyone now knows it exists."""
        for i in self.observers:
            if (i, k) in self.line:
                self.line[(i, k)] = 1.0

    # -- misjudgement ---------------------------------------------------------------------------
    def misjudged(self, truth: FloatArray) -> list[tuple[int, int]]:
        """Pairs ``(i, j)``: ``i`` misjudged ``j`` (``refused`` on a false belief, a belief mean of
        ``j``'s reservation off by more than ``MISJUDGE_TOL`` at the end, or a private line of
        ``j`` believed absent at the end)."""
        out = set(self.refused)
        for (i, j), _w in self.res.items():
            if abs(self.mean(i, j) - float(truth[j])) > MISJUDGE_TOL:
                out.add((i, j))
        for (i, k), pr in self.line.items():
            if pr < LINE_BELIEVED:
                out.add((i, self.line_owner[k]))
        return sorted(out)


def expected_value(p_accept: float, own: float, going_on: float) -> float:
    """A proposer's expected utility of an offer: ``P(all accept) u_own + (1 - P) v_going_on``."""
    return p_accept * own + (1.0 - p_accept) * going_on


@lru_cache(maxsize=64)
def zone_of_agreement(problem: Problem) -> bool:
    """Whether a zone of agreement exists under the TRUE information: some package within every
    party's red lines gives every party at least its reservation utility. Asked of a program with
    unit spans (not the offers' own, normalised by the utopia point: where no party can gain its
    spans fall to 1e-6 and that program misjudged the status quo itself; and a run that never
    needs the utopia point, the EUM's, does not compute it). Kept per problem."""
    got = problem.__dict__.get("_zone_of_agreement")
    if got is None:
        got = problem.__dict__["_zone_of_agreement"] = _zone_of_agreement(problem)
    return bool(got)


def _zone_of_agreement(problem: Problem) -> bool:
    parties = list(problem.parties)
    if not problem.has_zone_of_agreement_by_red_lines or not parties:
        return False
    if applies(problem):
        first = parties[0]
        got = most_for(problem, first, {j: float(problem.reservation[j]) for j in parties[1:]}, unit=True)
        return got is not None and got >= float(problem.reservation[first]) - 1e-9
    pk = best_compromise(problem)
    if pk is None:
        return False
    gains = problem.utility(pk)[parties] - problem.reservation[parties]
    return bool(np.all(gains >= -1e-9))
