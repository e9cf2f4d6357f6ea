"""The mechanisms around the bargaining table: who delivers what, trust, outside pull, vetoes,
ratification and spoiler events. Pure numpy; the Mesa shell (``model.negotiation`` and
``model.protocols``) applies them round by round. docs/protocols.md states each rule.

- **Delivery.** A promise made in a step-by-step protocol is delivered by the actor that controls
  the issue: fully with probability ``full``, partly (the share ``share`` of the promised move)
  with probability ``partial``, otherwise not at all (``draw_delivery``).
- **Trust** is Beta-Bernoulli (``Trust``): actor ``a``'s trust in ``b`` is the mean
  ``alpha / (alpha + beta)`` of a Beta prior with mean ``prior`` and pseudo-count ``strength``;
  each delivery of a fraction ``f`` of what was due is a fractional Bernoulli observation,
  ``alpha <- m * alpha + f``, ``beta <- m * beta + (1 - f)`` (``m`` = memory; 1 is the
  textbook conjugate update, smaller values forget old evidence geometrically). An actor whose
  trust in a counterpart falls below its ``threshold`` pauses.
- **Influence** (Moscow over Minsk): a client judges a deal by
  ``r_c + (1 - w) * (u_c - r_c) + w * (u_p - r_p)``: its own gain mixed with its patron's.
- **Veto**: a patron holding a veto over issues objects to a deal that crosses one of its red lines
  on those issues or lowers its utility on them; the objection blocks the deal with probability
  ``veto_strength``.
- **Ratification**: moving an issue owned by a collective (EU sanctions) needs every member's
  consent: none of the member's red lines crossed and at least its reservation utility. An actor's
  domestic win-set moves its floor to ``reservation - slack``; ratification at home fails when its
  utility falls below that plus a normal shock of s.d. ``noise``.
- **Promises under distrust** (``promise_factors``, ``judged_utility``): when a package protocol
  discounts promises, actor ``a`` counts the move of issue ``k`` away from the status quo with the
  factor ``f_ak = 1 - w * (1 - trust_a(controller_k))`` (1 for its own issues and issues without a
  controller): the expected utility of the deal if each controller delivers its move with the
  probability ``a`` trusts it to (all or nothing per issue). It is affine in each issue's value,
  so the offer programs stay exact for linear utilities.
- **Spoilers** fire in each round with probability ``rate`` or in scheduled rounds, and shift
  trust, change a salience or an ideal position, or move the status quo of an issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from model.core.space import BoolArray, FloatArray

if TYPE_CHECKING:
    from model.core.problem import Problem


@dataclass(frozen=True)
class Delivery:
    full: float = 1.0
    partial: float = 0.0
    share: float = 0.5
    lag: int = 0


def draw_delivery(rng: np.random.Generator, d: Delivery) -> float:
    """The fraction of a promised move that is delivered: 1, ``share`` or 0.

    One uniform draw is consumed unless delivery is certain (``full == 1``).
    """
    if d.full >= 1.0:
        return 1.0
    x = rng.random()
    if x < d.full:
        return 1.0
    if x < d.full + d.partial:
        return d.share
    return 0.0


@dataclass(frozen=True)
class Influence:
    client: int
    patron: int
    weight: float
    veto: tuple[int, ...] = ()
    veto_strength: float = 1.0


@dataclass(frozen=True)
class Collective:
    id: str
    members: tuple[int, ...]
    issues: tuple[int, ...]
    included: bool = True


@dataclass(frozen=True)
class Effect:
    kind: str  # "trust" | "salience" | "position" | "status_quo"
    actor: int = -1
    toward: int = -1
    issue: int = -1
    change: float = 0.0
    value: float = 0.0
    probability: float = 1.0


@dataclass(frozen=True)
class Spoiler:
    id: str
    label: str
    rate: float
    rounds: frozenset[int]
    effects: tuple[Effect, ...]

    def fires(self, rng: np.random.Generator, round_: int) -> bool:
        """Whether the event happens in ``round_``; draws one number only if ``rate > 0``."""
        hit = round_ in self.rounds
        if self.rate > 0.0:
            hit = (rng.random() < self.rate) or hit
        return hit


@dataclass(frozen=True, eq=False)
class Mechanics:
    """Everything beyond preferences and red lines that the protocols use, as arrays.

    Args:
        controller: ``(I,)`` the actor that delivers moves on each issue, -1 if none (the move
            takes effect at once).
        trust_prior: ``(A, A)`` prior mean trust of row actor in column actor.
        trust_strength, trust_memory, trust_threshold: ``(A,)`` per truster.
        delivery: per actor.
        salience: ``(A, I)`` raw saliences (spoilers change them; preferences normalise them).
        sq_reservation: ``(A,)`` whether the actor's reservation is its status-quo utility.
    """

    controller: np.ndarray
    trust_prior: FloatArray
    trust_strength: FloatArray
    trust_memory: FloatArray
    trust_threshold: FloatArray
    delivery: tuple[Delivery, ...]
    influence: tuple[Influence, ...] = ()
    collectives: tuple[Collective, ...] = ()
    slack: FloatArray = field(default_factory=lambda: np.zeros(0))
    noise: FloatArray = field(default_factory=lambda: np.zeros(0))
    spoilers: tuple[Spoiler, ...] = ()
    salience: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    sq_reservation: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: ``(A, I)`` the factor each actor counts each issue's promised move with (``promise_factors``);
    #: ``None``: every promise counts in full (the default: no trust discount)
    promises: FloatArray | None = None

    @classmethod
    def neutral(cls, problem: Problem) -> Mechanics:
        """No controllers, full trust and delivery, no influence, vetoes, collectives or spoilers."""
        n_a, n_i = problem.n_actors, problem.space.n_issues
        return cls(
            controller=np.full(n_i, -1),
            trust_prior=np.ones((n_a, n_a)),
            trust_strength=np.full(n_a, 2.0),
            trust_memory=np.ones(n_a),
            trust_threshold=np.zeros(n_a),
            delivery=tuple(Delivery() for _ in range(n_a)),
            slack=np.zeros(n_a),
            noise=np.zeros(n_a),
            salience=problem.prefs.weight.copy() if hasattr(problem.prefs, "weight") else np.ones((n_a, n_i)),
            sq_reservation=np.zeros(n_a, dtype=bool),
        )

    def patrons_of(self, actor: int) -> tuple[Influence, ...]:
        if not self.influence:  # (the common case, asked every round)
            return ()
        return tuple(inf for inf in self.influence if inf.client == actor)

    def collective_of(self, issue: int) -> Collective | None:
        for c in self.collectives:
            if issue in c.issues:
                return c
        return None

    @property
    def package_neutral(self) -> bool:
        """Whether the package protocol needs nothing beyond the parties' own utilities and red
        lines: no influence or veto, no collective consent, no ratification noise, no spoilers."""
        return not (self.influence or any(c.included for c in self.collectives) or self.noise.any() or self.spoilers)

    @property
    def excluded_issues(self) -> tuple[int, ...]:
        return tuple(sorted(i for c in self.collectives if not c.included for i in c.issues))


class Trust:
    """Beta-Bernoulli trust of every actor in every other: ``mean[a, b]`` is a's trust in b."""

    def __init__(self, mech: Mechanics) -> None:
        s = mech.trust_strength[:, None]
        self.alpha = mech.trust_prior * s
        self.beta = (1.0 - mech.trust_prior) * s
        self.memory = mech.trust_memory
        self.threshold = mech.trust_threshold

    @property
    def mean(self) -> FloatArray:
        return self.alpha / (self.alpha + self.beta)

    def observe(self, trusters: np.ndarray | list[int], trustee: int, fraction: float) -> None:
        """Each of ``trusters`` sees ``trustee`` deliver ``fraction`` of what was due.

        (Element by element in Python floats: the same IEEE products and sums as the array form
        ``m * alpha[t, trustee] + fraction``, without numpy's fixed cost per call on a few pairs.)"""
        alpha, beta, memory = self.alpha, self.beta, self.memory
        miss = 1.0 - fraction
        for a in trusters if isinstance(trusters, list) else np.asarray(trusters, dtype=int).tolist():
            m = float(memory[a])
            alpha[a, trustee] = m * float(alpha[a, trustee]) + fraction
            beta[a, trustee] = m * float(beta[a, trustee]) + miss

    def shift(self, truster: int, trustee: int, change: float) -> None:
        """Move a's trust in b by ``change`` (clipped to [0.01, 0.99]), keeping its strength."""
        n = self.alpha[truster, trustee] + self.beta[truster, trustee]
        new = float(np.clip(self.mean[truster, trustee] + change, 0.01, 0.99))
        self.alpha[truster, trustee] = new * n
        self.beta[truster, trustee] = (1.0 - new) * n

    def paused(self, counterparts: list[list[int]]) -> BoolArray:
        """Whether each actor's trust in any of its counterparts is below its threshold."""
        below = (self.mean < (self.threshold - 1e-12)[:, None]).tolist()  # one comparison, then plain lists
        return np.array([any(below[a][c] for c in cs) for a, cs in enumerate(counterparts)], dtype=bool)


def promise_factors(controller: np.ndarray, trust: FloatArray, weight: float) -> FloatArray:
    """``(A, I)``: how much actor ``a`` counts the promised move of issue ``k``,
    ``1 - weight * (1 - trust[a, controller[k]])``; 1 where ``a`` controls ``k`` itself or nobody
    does (the move takes effect at once)."""
    ctrl = np.asarray(controller, dtype=int)
    n_a = trust.shape[0]
    f = np.ones((n_a, len(ctrl)))
    has = ctrl >= 0
    if has.any():
        t = trust[:, ctrl[has]]  # (A, issues with a controller)
        f[:, has] = 1.0 - weight * (1.0 - t)
        own = np.arange(n_a)[:, None] == ctrl[None, :]
        f[own] = 1.0
    return f


def judged_utility(problem: Problem, package: FloatArray, factors: FloatArray) -> FloatArray:
    """``(A,)``: each actor's expected utility of ``package`` when the move of issue ``k`` from
    the status quo happens with probability ``factors[a, k]`` (else the issue stays put):
    ``sum_k w_ak * (f_ak * v_ak(x_k) + (1 - f_ak) * v_ak(sq_k))``. For a linear utility that
    does not turn between ``sq_k`` and ``x_k`` it equals the utility of the expected delivered
    package ``sq + f * (x - sq)``; with curvature above 1 it is below it (Jensen: the
    all-or-nothing lottery is worth less than its mean to a concave utility)."""
    sq = problem.space.status_quo
    pts = np.stack([np.asarray(package, dtype=float), sq], axis=1)  # (I, 2)
    wv = problem.prefs.weight[:, :, None] * problem.prefs.issue_values(pts)  # (A, I, 2)
    return np.asarray((factors * wv[:, :, 0] + (1.0 - factors) * wv[:, :, 1]).sum(axis=1))


def effective_utility(u: FloatArray, reservation: FloatArray, mech: Mechanics) -> FloatArray:
    """Utilities as each actor judges a deal, its patrons' gains weighed in: ``(..., A)``."""
    if not mech.influence:
        return u
    out = np.array(u, dtype=float, copy=True)
    for inf in mech.influence:
        c, p, w = inf.client, inf.patron, inf.weight
        own_gain = u[..., c] - reservation[c]
        out[..., c] -= w * own_gain
        out[..., c] += w * (u[..., p] - reservation[p])
    return out


def veto_objection(problem: Problem, inf: Influence, offer: FloatArray, base: FloatArray) -> str | None:
    """Why the patron objects to ``offer`` on its veto issues (``None``: it does not).

    It objects if the offer crosses one of its red lines on those issues, or lowers its
    utility on them compared with ``base`` (the status quo, or the current state).
    """
    if not inf.veto:
        return None
    p = inf.patron
    for line in problem.redlines.crossed(offer, p):
        if line.issue in inf.veto:
            return f"crosses its red line {line.describe(problem.space, problem.actor_ids)}"
    idx = list(inf.veto)
    x = base.copy()
    x[idx] = offer[idx]
    if problem.utility(x)[p] < problem.utility(base)[p] - 1e-9:
        moved = [problem.space.ids[i] for i in idx if abs(offer[i] - base[i]) > 1e-9]
        return f"moves {', '.join(moved)} against it"
    return None


def certainly_vetoed(
    problem: Problem, mech: Mechanics, client: int, packages: FloatArray, base: FloatArray
) -> BoolArray:
    """Which of ``packages`` ``(n, I)`` a patron of ``client`` with a certain veto (strength 1)
    objects to: ``(n,)`` booleans. A client never proposes these."""
    out = np.zeros(len(packages), dtype=bool)
    for inf in mech.patrons_of(client):
        if inf.veto and inf.veto_strength >= 1.0:
            out |= np.array([veto_objection(problem, inf, x, base) is not None for x in packages], dtype=bool)
    return out


def collective_refusals(
    problem: Problem, mech: Mechanics, offer: FloatArray, base: FloatArray
) -> list[tuple[int, str]]:
    """Members of collectives that refuse consent to moving the collective's issues:
    ``(member, why)`` pairs. A member consents iff the offer crosses none of its red lines and
    gives it at least its reservation utility."""
    out: list[tuple[int, str]] = []
    u = None
    for col in mech.collectives:
        moved = [i for i in col.issues if abs(offer[i] - base[i]) > 1e-9]
        if not moved:
            continue
        if u is None:
            u = problem.utility(offer)
        for m in col.members:
            crossed = problem.redlines.crossed(offer, m)
            if crossed:
                out.append((m, f"{col.id} consent refused: {crossed[0].describe(problem.space, problem.actor_ids)}"))
            elif u[m] < problem.reservation[m] - 1e-9:
                out.append((m, f"{col.id} consent refused: utility {u[m]:.3f} < reservation "
                               f"{problem.reservation[m]:.3f}"))
    return out
