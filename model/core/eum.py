"""Bueno de Mesquita's expected-utility model of group decisions, as reconstructed by Scholz et al.

Scholz, J. B., Calbert, G. J., Smith, G. A. (2011). Unravelling Bueno de Mesquita's group decision
model. *Journal of Theoretical Politics* 23(4):510–531 (a shorter version: ICAART 2011). They rebuild
the model of Bueno de Mesquita (1985, 1994) from the published descriptions and replicate his
10-country EU example (their Table 1 is built in: :func:`scholz_example`).

One issue, positions on a line. Each actor ``i`` has a position ``x_i``, a capability ``c_i`` and a
salience ``s_i``; its *votes* are ``c_i * s_i``. One round:

1. **Risk.** With every risk exponent at 1, each actor's *danger* is the sum over the others of
   their expected utility of challenging it; the danger is rescaled across actors to a risk
   acceptance ``R_i`` in [-1, 1] and to a risk exponent ``r_i = (1 - R_i/3) / (1 + R_i/3)`` in
   [0.5, 2] (:func:`risk_exponents`).
2. **Expected utilities.** With these exponents, each actor ``i`` computes, for every other actor
   ``j``, its own expected utility of challenging ``j`` and ``j``'s expected utility of challenging
   it (:func:`challenge_utilities`), both from ``i``'s point of view (with ``r_i``).
3. **Offers.** The pair of numbers puts the dyad in a region: ``i`` loses a confrontation (moves
   to ``x_j``), compromises (moves part of the way), or capitulates (moves to ``x_j``)
   (:func:`best_offers`). Every actor takes its best offer; all move at once.

The model reports the weighted median position (the position that beats every other in a
capability-times-salience weighted pairwise vote with linear loss) and the weighted mean
position (Bueno de Mesquita's forecast: the mean of positions weighted by votes).

**Which reconstruction.** The paper's text and the code the numbers come from differ in places.
This module follows the public Python replication (jmckib/bdm-scholz-expected-utility-model),
whose author reports that it reproduces the paper's 10 rounds, in three places where it says it
is "faithful to Scholz' code" or departs from the text. Each is a switch of
:class:`EUMOptions`; the defaults reproduce the replication (see ``docs/validity.md``):

* the probability of success is normalised by the sum of *all* actors' absolute votes over
  *all* ordered pairs of positions (``probability_norm="all_pairs"``), not by the two
  positions' own vote totals (``"dyad"``, which gives ``P(i, j) + P(j, i) = 1``);
* among compromises an actor takes the one with the smallest EU-weighted average of the two
  positions (``compromise_choice="weighted_point"``), not the smallest move (``"nearest"``);
* the replication never capitulates (a typo makes its condition always false);
  ``capitulation=False`` keeps that, ``True`` applies the condition of the text.

A whole negotiation problem is forecast issue by issue (:func:`forecast_problem`): the model
above on each issue, with the actors that weigh it, on the [0, 1] scale of this project (the
model is scale-equivariant, so this gives the paper's numbers on its own scale, rescaled).

Equation numbers of the 2011 paper are not cited: its full text was not available to check them.
The docstrings name each quantity and give its formula instead.

**Speed.** The one-issue functions above are the specification; :func:`run` and
:func:`forecast_problem` compute the same rounds for many issues at once (``_run_batch``: all
issues and actor pairs as arrays, no Python loop inside a round; an issue whose positions repeat
an earlier round's is finished by copying), bit for bit the same numbers
(``tests/test_eum_speed.py``), and :func:`forecast_problem` keeps its last few results.
"""

from __future__ import annotations

import csv
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from model.core.preferences import Preferences, TablePreferences
from model.core.space import FloatArray

if TYPE_CHECKING:
    from model.core.problem import Problem

__all__ = [
    "Actors",
    "EUMOptions",
    "EUMRun",
    "IssueForecast",
    "forecast_issue",
    "forecast_package",
    "forecast_problem",
    "load_actors",
    "run",
    "scholz_example",
    "spec_inputs",
    "weighted_mean",
    "weighted_median",
]

#: The example of Scholz et al. (2011), Table 1 (Bueno de Mesquita 1994, p. 78): (actor, capability,
#: position on the 4-10 scale, salience).
SCHOLZ_TABLE1_ROWS: tuple[tuple[str, float, float, float], ...] = (
    ("Netherlands", 0.08, 4, 0.8),
    ("Belgium", 0.08, 7, 0.4),
    ("Luxembourg", 0.03, 4, 0.2),
    ("Germany", 0.16, 4, 0.8),
    ("France", 0.16, 10, 0.6),
    ("Italy", 0.16, 10, 0.6),
    ("UK", 0.16, 10, 0.9),
    ("Ireland", 0.05, 7, 0.1),
    ("Denmark", 0.05, 4, 1.0),
    ("Greece", 0.08, 7, 0.7),
)


@dataclass(frozen=True)
class Actors:
    """The input of the model: one row per actor."""

    names: tuple[str, ...]
    capability: FloatArray
    position: FloatArray
    salience: FloatArray

    @property
    def votes(self) -> FloatArray:
        """``c_i * s_i``: the weight of each actor in votes, medians and means."""
        return self.capability * self.salience


@dataclass(frozen=True)
class EUMOptions:
    """Switches between the paper's text and the replication (defaults: the replication).

    Args:
        q: probability that the status quo holds if ``i`` does not challenge (``Q``; 1 in the
            replication, so the status-quo term is ``- Q * U_sq``).
        probability_norm: ``"all_pairs"`` (replication) or ``"dyad"`` (text), see the module doc.
        compromise_choice: ``"weighted_point"`` (replication) or ``"nearest"`` (text).
        capitulation: whether an actor capitulates when ``EU_ji > 0 > EU_ij`` and
            ``EU_ji < |EU_ij|`` (the text; never in the replication).
    """

    q: float = 1.0
    probability_norm: Literal["all_pairs", "dyad"] = "all_pairs"
    compromise_choice: Literal["weighted_point", "nearest"] = "weighted_point"
    capitulation: bool = False


def scholz_example() -> Actors:
    """The 10-actor example of Scholz et al. (2011), Table 1."""
    rows = SCHOLZ_TABLE1_ROWS
    return Actors(
        names=tuple(r[0] for r in rows),
        capability=np.array([r[1] for r in rows], dtype=float),
        position=np.array([r[2] for r in rows], dtype=float),
        salience=np.array([r[3] for r in rows], dtype=float),
    )


def load_actors(path: str | Path) -> Actors:
    """Read actors from a CSV with columns ``Actor, Capability, Position, Salience``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return Actors(
        names=tuple(r["Actor"] for r in rows),
        capability=np.array([float(r["Capability"]) for r in rows]),
        position=np.array([float(r["Position"]) for r in rows]),
        salience=np.array([float(r["Salience"]) for r in rows]),
    )


# --------------------------------------------------------------------------------------------
# the quantities of one round


def weighted_mean(x: FloatArray, votes: FloatArray) -> float:
    """The mean position ``sum_i c_i s_i x_i / sum_i c_i s_i`` (Bueno de Mesquita's forecast)."""
    return float(np.dot(votes, x) / votes.sum())


def weighted_median(values: FloatArray, weights: FloatArray) -> float:
    """The smallest value with at least half the total weight at or below it: a minimiser of
    ``sum_k w_k |v_k - m|`` (the weighted median voter; Black 1958)."""
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, 0.5 * cum[-1] * (1.0 - 1e-12)))
    return float(values[order][min(k, values.size - 1)])


def _weighted_median_rows(values: FloatArray, weights: FloatArray) -> FloatArray:
    """:func:`weighted_median` of every row of ``values`` ``(..., n)`` with ``weights`` ``(n,)`` (or one row of
    weights per row, broadcast against ``values``).

    The same stable sort, the same cumulative sum along the row and the same threshold;
    ``searchsorted`` (the first ``k`` with ``cum[k] >= t``) is the count of ``cum[k] < t``, as
    ``cum`` never decreases (weights are >= 0).
    """
    order = np.argsort(values, axis=-1, kind="stable")
    cum = np.cumsum(np.take_along_axis(np.broadcast_to(weights, values.shape), order, axis=-1), axis=-1)
    k = np.count_nonzero(cum < (0.5 * cum[..., -1] * (1.0 - 1e-12))[..., None], axis=-1)
    k = np.minimum(k, values.shape[-1] - 1)
    return np.take_along_axis(np.take_along_axis(values, order, axis=-1), k[..., None], axis=-1)[..., 0]


def _distance_powers(x: FloatArray, r: FloatArray, span: float) -> FloatArray:
    """``(|x_k - x_m| / span) ** r_k`` for voter ``k`` and position ``m``: ``(n, n)``."""
    return (np.abs(x[:, None] - x[None, :]) / span) ** r[:, None]


def success_probability(
    x: FloatArray, votes: FloatArray, r: FloatArray, span: float, norm: str = "all_pairs"
) -> FloatArray:
    """``P[i, j]``: the probability that ``i`` wins a contest against ``j``.

    Voter ``k`` supports ``i`` against ``j`` with ``v_k(i, j) = c_k s_k (d_kj - d_ki)`` where
    ``d_km = (|x_k - x_m| / span) ** r_k``. Then

        P[i, j] = sum_k max(0, v_k(i, j)) / N

    with ``N = sum_k sum_{l, m} |v_k(l, m)|`` (``"all_pairs"``, the replication) or
    ``N = sum_k |v_k(i, j)|`` (``"dyad"``, Bueno de Mesquita's text). ``P[i, j] = 0`` when the
    two positions coincide.
    """
    d = _distance_powers(x, r, span)
    v = votes[:, None, None] * (d[:, None, :] - d[:, :, None])  # v[k, i, j] = w_k (d_kj - d_ki)
    top = np.maximum(v, 0.0).sum(axis=0)
    if norm == "all_pairs":
        total = np.abs(v).sum()  # 0 when every position coincides: no contest, P = 0
        return top / total if total > 0 else np.zeros_like(top)
    if norm == "dyad":
        bottom = np.abs(v).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)
    raise ValueError(f"unknown probability_norm {norm!r}")


def basic_utilities(distance: FloatArray, r: FloatArray, span: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Utilities of success, failure and the status quo, seen with risk exponent ``r``:

        U_s  = 2 - 4 (0.5 - 0.5 |x_i - x_j| / span) ** r
        U_f  = 2 - 4 (0.5 + 0.5 |x_i - x_j| / span) ** r
        U_sq = 2 - 4 (0.5) ** r

    (Bueno de Mesquita 1985, 1994). ``distance`` has the perceiver on axis 0 and ``r`` one
    exponent per perceiver. ``r < 1`` is risk-acceptant, ``r > 1`` risk-averse.
    """
    rr = r[:, None]
    half = 0.5 * distance / span
    u_s = 2.0 - 4.0 * (0.5 - half) ** rr
    u_f = 2.0 - 4.0 * (0.5 + half) ** rr
    u_sq = 2.0 - 4.0 * 0.5**r
    return u_s, u_f, u_sq


def challenge_utilities(
    x: FloatArray, salience: FloatArray, prob: FloatArray, r: FloatArray, span: float, q: float
) -> tuple[FloatArray, FloatArray]:
    """``(EU_ij, EU_ji)``, both as actor ``i`` perceives them (with its exponent ``r_i``).

    The expected utility of ``a`` challenging ``b``, perceived by ``p``, is

        EU_p(a, b) = s_b [P(a, b) U_s + (1 - P(a, b)) U_f] + (1 - s_b) U_s - Q U_sq

    with the utilities of :func:`basic_utilities` at distance ``|x_a - x_b|`` and exponent
    ``r_p``: ``b`` resists with probability ``s_b`` (its salience), and does not otherwise.
    Returns ``EU_ij[i, j] = EU_i(i, j)`` (``i`` challenges ``j``) and ``EU_ji[i, j] =
    EU_i(j, i)`` (``j`` challenges ``i``).
    """
    dist = np.abs(x[:, None] - x[None, :])
    u_s, u_f, u_sq = basic_utilities(dist, r, span)
    status_quo = q * u_sq[:, None]
    eu_ij = salience[None, :] * (prob * u_s + (1 - prob) * u_f) + (1 - salience[None, :]) * u_s - status_quo
    p_ji = prob.T
    eu_ji = salience[:, None] * (p_ji * u_s + (1 - p_ji) * u_f) + (1 - salience[:, None]) * u_s - status_quo
    return eu_ij, eu_ji


def risk_exponents(x: FloatArray, actors: Actors, span: float, options: EUMOptions) -> FloatArray:
    """Each actor's risk exponent for this round.

    With all exponents at 1, actor ``i``'s danger is ``D_i = sum_{j != i} EU_i(j, i)``, the sum
    of the others' expected utilities of challenging it. Then

        R_i = (2 D_i - max_k D_k - min_k D_k) / (max_k D_k - min_k D_k)      (in [-1, 1])
        r_i = (1 - R_i / 3) / (1 + R_i / 3)                                  (in [0.5, 2])

    (Bueno de Mesquita 1985; the comparison across actors is the reconstruction's, see
    ``docs/validity.md``).
    """
    ones = np.ones_like(x)
    prob = success_probability(x, actors.votes, ones, span, options.probability_norm)
    _, eu_ji = challenge_utilities(x, actors.salience, prob, ones, span, options.q)
    np.fill_diagonal(eu_ji, 0.0)
    danger = eu_ji.sum(axis=1)
    lo, hi = danger.min(), danger.max()
    if hi - lo <= 0:
        return ones
    big_r = (2 * danger - hi - lo) / (hi - lo)
    return (1 - big_r / 3) / (1 + big_r / 3)


#: Kinds of move in :class:`Round`.
NONE, CONFRONTATION, COMPROMISE, CAPITULATION = 0, 1, 2, 3
MOVE_NAMES = {NONE: "none", CONFRONTATION: "confrontation", COMPROMISE: "compromise", CAPITULATION: "capitulation"}


def best_offers(
    x: FloatArray, eu_ij: FloatArray, eu_ji: FloatArray, options: EUMOptions
) -> tuple[FloatArray, np.ndarray, np.ndarray]:
    """Each actor's new position, kind of move and partner (``-1`` if it stays).

    For actor ``i`` and another actor ``j`` at a different position:

    * confrontation, ``EU_ji > EU_ij > 0``: both would challenge and ``j`` gains more; ``i``
      loses and moves to ``x_j``;
    * compromise, ``EU_ji > 0 > EU_ij`` and ``EU_ji > |EU_ij|``: ``i`` moves to
      ``x_i + (x_j - x_i) |EU_ij / EU_ji|``;
    * capitulation, ``EU_ji > 0 > EU_ij`` and ``EU_ji < |EU_ij|`` (only if
      ``options.capitulation``): ``i`` moves to ``x_j``.

    An actor facing confrontations takes the one that moves it least; else a compromise (by
    ``options.compromise_choice``); else the capitulation that moves it least. Ties go to the
    actor listed first.
    """
    n = x.size
    other = x[None, :] != x[:, None]
    conf = other & (eu_ji > eu_ij) & (eu_ij > 0)
    comp = other & (eu_ji > 0) & (eu_ij < 0) & (eu_ji > np.abs(eu_ij))
    capit = other & (eu_ji > 0) & (eu_ij < 0) & (eu_ji < np.abs(eu_ij)) if options.capitulation else np.zeros_like(conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        comp_pos = x[:, None] + (x[None, :] - x[:, None]) * np.abs(eu_ij / eu_ji)
        total = np.abs(eu_ij) + np.abs(eu_ji)
        weighted_point = (np.abs(eu_ij) * x[:, None] + np.abs(eu_ji) * x[None, :]) / total
    move = np.abs(x[None, :] - x[:, None])
    new = x.copy()
    kind = np.full(n, NONE)
    partner = np.full(n, -1)
    for i in range(n):
        if conf[i].any():
            j = int(np.argmin(np.where(conf[i], move[i], np.inf)))
            new[i], kind[i] = x[j], CONFRONTATION
        elif comp[i].any():
            key = weighted_point[i] if options.compromise_choice == "weighted_point" else np.abs(comp_pos[i] - x[i])
            j = int(np.argmin(np.where(comp[i], key, np.inf)))
            new[i], kind[i] = comp_pos[i, j], COMPROMISE
        elif capit[i].any():
            j = int(np.argmin(np.where(capit[i], move[i], np.inf)))
            new[i], kind[i] = x[j], CAPITULATION
        else:
            continue
        partner[i] = j
    return new, kind, partner


# --------------------------------------------------------------------------------------------
# running the model


@dataclass(frozen=True)
class EUMRun:
    """The result of :func:`run`. Row 0 of ``positions``, ``median`` and ``mean`` is the start;
    row ``t`` is after round ``t``. ``risk``, ``kind`` and ``partner`` have one row per round."""

    names: tuple[str, ...]
    positions: FloatArray  # (rounds + 1, n)
    median: FloatArray  # (rounds + 1,)
    mean: FloatArray  # (rounds + 1,)
    risk: FloatArray  # (rounds, n): the exponents used in each round
    kind: np.ndarray  # (rounds, n): NONE, CONFRONTATION, COMPROMISE, CAPITULATION
    partner: np.ndarray  # (rounds, n): whom each actor moved towards, -1 if none
    options: EUMOptions = field(default_factory=EUMOptions)

    def moves(self, round_: int) -> list[str]:
        """The moves of a round (1-based) in words: ``"Belgium compromises with France"``."""
        verbs = {CONFRONTATION: "loses confrontation to", COMPROMISE: "compromises with",
                 CAPITULATION: "capitulates to"}
        out = []
        for i, (k, j) in enumerate(zip(self.kind[round_ - 1], self.partner[round_ - 1], strict=True)):
            if k != NONE:
                out.append(f"{self.names[i]} {verbs[int(k)]} {self.names[int(j)]}")
        return out


def run(actors: Actors | str | Path | None = None, rounds: int = 10, options: EUMOptions | None = None) -> EUMRun:
    """Run the model for ``rounds`` rounds: positions, weighted median and mean after each.

    ``actors`` is an :class:`Actors`, the path of a CSV (:func:`load_actors`), or ``None`` for
    the example of Scholz et al. (2011), Table 1.

    Positions are rescaled by the range of the *initial* positions throughout (as in the
    replication), so utilities stay in [-2, 2] while actors move inside that range.
    """
    opts = options if options is not None else EUMOptions()
    if actors is None:
        act = scholz_example()
    elif isinstance(actors, Actors):
        act = actors
    else:
        act = load_actors(actors)
    x = act.position.astype(float).copy()
    if float(x.max() - x.min()) <= 0:
        raise ValueError("all actors start at the same position: nothing to model")
    votes = act.votes
    positions, risk, kind, partner, _ = _run_batch(x[None, :], votes[None, :], act.salience[None, :], rounds, opts)
    pos = positions[:, 0]
    return EUMRun(
        names=act.names,
        positions=pos,
        median=_weighted_median_rows(pos, votes),
        mean=np.array([weighted_mean(p, votes) for p in pos]),
        risk=risk[:, 0],
        kind=kind[:, 0],
        partner=partner[:, 0],
        options=opts,
    )


# --------------------------------------------------------------------------------------------
# many issues at once
#
# :func:`_run_batch` is :func:`run` on ``B`` independent issues at once: every array gets a
# leading batch axis, and issues with fewer actors than the largest are padded with dummy actors
# (no votes, never moving, never a partner) after their own. Every value of a real actor is
# computed with the same operations, in the same order, as by the one-issue functions above, so
# the results are bit-for-bit those of the one-issue loop (``tests/test_eum_speed.py``):
#
# * elementwise operations give the same result whatever the shape of the array;
# * the sums over voters ``k`` (of ``max(v, 0)``, and of ``|v|`` for ``"dyad"``) run in order of
#   ``k`` along a leading axis, as in :func:`success_probability`; a dummy voter's terms are
#   ``0 * (d_kj - d_ki) = +-0``, which leave a sum unchanged (but for the sign of a zero, which
#   no comparison or later sum can see);
# * the sums whose order depends on the length of the axis (numpy sums a contiguous axis
#   pairwise, in blocks of 8): the ``"all_pairs"`` total of ``|v|`` over all ``n**3`` terms and
#   each actor's danger over ``n`` terms, are taken per size of issue, on exactly the
#   ``(n, n, n)`` and ``(n, n)`` blocks of the one-issue functions.


def _total_abs(v: FloatArray, groups: list[tuple[int, np.ndarray]]) -> FloatArray:
    """``np.abs(v_b).sum()`` of each issue's own ``(n_b, n_b, n_b)`` block of ``v`` ``(B, N, N, N)``."""
    b, n = v.shape[0], v.shape[1]
    if len(groups) == 1 and groups[0][0] == n:
        return np.abs(v).reshape(b, -1).sum(axis=1)
    total = np.empty(b)
    for m, idx in groups:
        total[idx] = np.abs(v[idx, :m, :m, :m]).reshape(idx.size, -1).sum(axis=1)
    return total


def _prob_batch(d: FloatArray, votes: FloatArray, norm: str, groups: list[tuple[int, np.ndarray]]) -> FloatArray:
    """:func:`success_probability` for ``B`` issues, from the distance powers ``d`` ``(B, N, N)``."""
    v = votes[:, :, None, None] * (d[:, :, None, :] - d[:, :, :, None])  # v[b, k, i, j] = w_k (d_kj - d_ki)
    top = np.maximum(v, 0.0).sum(axis=1)
    if norm == "all_pairs":
        total = _total_abs(v, groups)
        ok = total > 0  # 0 when every position of an issue coincides: no contest, P = 0
        if ok.all():
            return top / total[:, None, None]
        prob = top / np.where(ok, total, 1.0)[:, None, None]
        prob[~ok] = 0.0
        return prob
    if norm == "dyad":
        bottom = np.abs(v).sum(axis=1)
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)
    raise ValueError(f"unknown probability_norm {norm!r}")


class _Batch:
    """What stays the same from round to round for a batch of issues (see :func:`_run_batch`)."""

    def __init__(self, votes: FloatArray, salience: FloatArray, span: FloatArray, size: np.ndarray,
                 width: int, options: EUMOptions) -> None:
        cols = np.arange(width)[None, :]
        real = cols < size[:, None]
        self.src = np.where(real, cols, 0)  # a padding column copies column 0
        self.votes = np.where(real, votes, 0.0)
        s = np.where(real, salience, 0.0)
        self.s_i, self.s_j = s[:, :, None], s[:, None, :]
        self.not_s_i, self.not_s_j = 1 - self.s_i, 1 - self.s_j
        self.span = span
        self.pairs = real[:, :, None] & real[:, None, :]
        self.size = size
        self.options = options
        self.diagonal = np.eye(width, dtype=bool)
        self._index(width)

    def _index(self, width: int) -> None:
        b = self.size.size
        self.rows = np.arange(b)[:, None]
        self.cols = np.arange(width)[None, :]
        self.groups = [(int(m), np.flatnonzero(self.size == m)) for m in np.unique(self.size)]
        self.one_size = len(self.groups) == 1 and self.groups[0][0] == width

    def subset(self, keep: np.ndarray) -> _Batch:
        """The batch of the issues ``keep`` (a boolean mask)."""
        new = object.__new__(_Batch)
        for name in ("src", "votes", "s_i", "s_j", "not_s_i", "not_s_j", "span", "pairs", "size"):
            setattr(new, name, getattr(self, name)[keep])
        new.options, new.diagonal = self.options, self.diagonal
        new._index(self.diagonal.shape[0])
        return new


def _round_batch(x: FloatArray, c: _Batch) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray]:
    """One round of :func:`run` on every issue of the batch: new positions, exponents, kinds,
    partners. Call with numpy's divide and invalid warnings off (masked entries divide by 0)."""
    opts = c.options
    q, norm, span, rows, cols = opts.q, opts.probability_norm, c.span, c.rows, c.cols
    xi, xj = x[:, :, None], x[:, None, :]
    dist = np.abs(xi - xj)
    half = 0.5 * dist / span
    d1 = dist / span
    near, far = 0.5 - half, 0.5 + half

    # risk exponents (risk_exponents): every exponent 1, and a ** 1.0 == a exactly
    prob = _prob_batch(d1, c.votes, norm, c.groups)
    p_ji = prob.transpose(0, 2, 1)
    u_s = 2.0 - 4.0 * near
    u_f = 2.0 - 4.0 * far
    eu_ji = c.s_i * (p_ji * u_s + (1 - p_ji) * u_f) + c.not_s_i * u_s
    status_quo_1 = q * (2.0 - 4.0 * 0.5)  # q U_sq with exponent 1 (0.5 ** 1.0 == 0.5)
    if status_quo_1 != 0.0 or math.copysign(1.0, status_quo_1) < 0:  # a - (+0.0) == a
        eu_ji -= status_quo_1
    if eu_ji.flags.c_contiguous:
        eu_ji.reshape(eu_ji.shape[0], -1)[:, :: eu_ji.shape[1] + 1] = 0.0  # the diagonals
    else:
        eu_ji[:, c.diagonal] = 0.0
    if c.one_size:
        danger = np.ascontiguousarray(eu_ji).sum(axis=2)
    else:
        b, n = x.shape
        danger = np.zeros((b, n))
        for m, idx in c.groups:
            danger[idx, :m] = eu_ji[idx, :m, :m].sum(axis=2)
        danger = danger[rows, c.src]
    lo, hi = danger.min(axis=1, keepdims=True), danger.max(axis=1, keepdims=True)
    width = hi - lo
    flat = width <= 0
    if flat.any():
        big_r = (2 * danger - hi - lo) / np.where(flat, 1.0, width)
        r = np.where(flat, 1.0, (1 - big_r / 3) / (1 + big_r / 3))
    else:
        big_r = (2 * danger - hi - lo) / width
        r = (1 - big_r / 3) / (1 + big_r / 3)

    # expected utilities (success_probability, challenge_utilities) with these exponents
    rr = r[:, :, None]
    prob = _prob_batch(d1**rr, c.votes, norm, c.groups)
    not_prob = 1 - prob
    u_s = 2.0 - 4.0 * near**rr
    u_f = 2.0 - 4.0 * far**rr
    status_quo = q * (2.0 - 4.0 * 0.5**r)[:, :, None]
    eu_ij = c.s_j * (prob * u_s + not_prob * u_f) + c.not_s_j * u_s - status_quo
    eu_ji = c.s_i * (prob.transpose(0, 2, 1) * u_s + not_prob.transpose(0, 2, 1) * u_f) + c.not_s_i * u_s - status_quo

    # offers (best_offers)
    other = (xj != xi) & c.pairs
    abs_ij = np.abs(eu_ij)
    conf = other & (eu_ji > eu_ij) & (eu_ij > 0)
    comp = other & (eu_ji > 0) & (eu_ij < 0)
    capit = comp & (eu_ji < abs_ij) if opts.capitulation else None
    comp &= eu_ji > abs_ij
    if opts.compromise_choice == "weighted_point":
        abs_ji = np.abs(eu_ji)
        key = (abs_ij * xi + abs_ji * xj) / (abs_ij + abs_ji)
    else:
        key = np.abs(xi + (xj - xi) * np.abs(eu_ij / eu_ji) - xi)
    has_conf = conf.any(axis=2)
    has_comp = comp.any(axis=2) & ~has_conf
    j_conf = np.where(conf, dist, np.inf).argmin(axis=2)
    j_comp = np.where(comp, key, np.inf).argmin(axis=2)
    # the compromise position x_i + (x_j - x_i) |EU_ij / EU_ji| at the chosen partner
    comp_pos = x + (x[rows, j_comp] - x) * np.abs(eu_ij[rows, cols, j_comp] / eu_ji[rows, cols, j_comp])
    new = np.where(has_conf, x[rows, j_conf], np.where(has_comp, comp_pos, x))
    kind = np.where(has_conf, CONFRONTATION, np.where(has_comp, COMPROMISE, NONE))
    partner = np.where(has_conf, j_conf, np.where(has_comp, j_comp, -1))
    if capit is not None:
        has_capit = capit.any(axis=2) & ~has_conf & ~has_comp
        j_capit = np.where(capit, dist, np.inf).argmin(axis=2)
        new = np.where(has_capit, x[rows, j_capit], new)
        kind = np.where(has_capit, CAPITULATION, kind)
        partner = np.where(has_capit, j_capit, partner)
    return new, r, kind, partner


def _run_batch(
    x0: FloatArray,
    votes: FloatArray,
    salience: FloatArray,
    rounds: int,
    options: EUMOptions,
    size: np.ndarray | None = None,
) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`run` for ``B`` issues at once.

    ``x0``, ``votes`` and ``salience`` are ``(B, N)``; issue ``b`` has the actors in its first
    ``size[b]`` columns (default: all ``N``), and whatever is in its other columns is ignored.
    Returns positions ``(rounds + 1, B, N)``; risk exponents, kinds of move and partners
    ``(rounds, B, N)`` (a padding column keeps the issue's first position, some exponent in
    [0.5, 2], no move and no partner); and ``source`` ``(rounds + 1, B)``: the row of
    ``positions`` that each row repeats (itself for the rows computed).

    A round is a function of the positions alone (the votes, saliences and span stay), so once
    an issue's positions repeat an earlier round's (most often: nobody moves any more), every
    later round repeats the rounds since then; the issue leaves the batch, and its remaining
    rounds are copied.
    """
    b, n = np.shape(x0)
    size = np.full(b, n) if size is None else np.asarray(size, dtype=int)
    votes = np.asarray(votes, dtype=float)
    salience = np.asarray(salience, dtype=float)
    cols = np.arange(n)[None, :]
    x = np.asarray(x0, dtype=float)[np.arange(b)[:, None], np.where(cols < size[:, None], cols, 0)]
    span = (x.max(axis=1) - x.min(axis=1))[:, None, None]
    if np.any(span <= 0):
        raise ValueError("all actors start at the same position: nothing to model")
    positions = np.empty((rounds + 1, b, n))
    risks = np.empty((rounds, b, n))
    kinds = np.empty((rounds, b, n), dtype=int)
    partners = np.empty((rounds, b, n), dtype=int)
    positions[0] = x
    # a repeat: issue b's positions after round t equal those after round start[b]
    start = np.full(b, -1)
    until = np.full(b, rounds)
    live = np.arange(b)
    batch = _Batch(votes, salience, span, size, n, options)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(rounds):
            x, r, kind, partner = _round_batch(x, batch)
            positions[t + 1, live] = x
            risks[t, live] = r
            kinds[t, live] = kind
            partners[t, live] = partner
            if t + 1 == rounds:
                break
            same = (positions[: t + 1, live] == x).all(axis=2)  # (t + 1, live)
            done = same.any(axis=0)
            if done.any():
                gone = live[done]
                start[gone] = np.argmax(same[:, done], axis=0)
                until[gone] = t + 1
                keep = ~done
                live, x = live[keep], x[keep]
                if live.size == 0:
                    break
                batch = batch.subset(keep)
    source = np.repeat(np.arange(rounds + 1)[:, None], b, axis=1)
    gone = np.flatnonzero(start >= 0)
    if gone.size:
        # positions[u] = positions[s + (u - s) % p] for u > t, and so the rounds' records
        s, t_end = start[gone], until[gone]
        period = t_end - s
        u = np.arange(rounds + 1)[:, None]
        src = np.where(u <= t_end, u, s + (u - s) % period)
        positions[:, gone] = positions[src, gone]
        source[:, gone] = src
        src = np.where(u[:rounds] < t_end, u[:rounds], s + (u[:rounds] - s) % period)
        risks[:, gone] = risks[src, gone]
        kinds[:, gone] = kinds[src, gone]
        partners[:, gone] = partners[src, gone]
    return positions, risks, kinds, partners, source


# --------------------------------------------------------------------------------------------
# a whole negotiation problem, issue by issue


@dataclass(frozen=True)
class IssueForecast:
    """The EUM run on one issue of a problem. Row 0 is the start; row ``t`` is after round ``t``.

    ``positions`` has a column for every actor of the problem; an actor that takes no part in the
    issue (salience 0) keeps its ideal position in every row. ``median`` and ``mean`` are over
    the actors that take part, weighted by their votes ``c_i s_i``: the weighted median is the
    median voter position, which beats every other in a pairwise vote with these votes (Black
    1958; Bueno de Mesquita's forecast of the outcome); the weighted mean ``sum_i c_i s_i x_i /
    sum_i c_i s_i`` is the mean position the replication reports round by round (7.38996 at the
    start of the example). ``participants`` are the indices of the actors that take part.
    """

    issue: str
    positions: FloatArray  # (rounds + 1, A)
    median: FloatArray  # (rounds + 1,)
    mean: FloatArray  # (rounds + 1,)
    participants: tuple[int, ...] = ()


def spec_inputs(spec: Any) -> tuple[FloatArray, FloatArray]:
    """The capabilities ``(A,)`` and *raw* saliences ``(A, I)`` of a scenario spec.

    ``spec`` is a ``model.scenario.ScenarioSpec`` (read by attribute: ``spec.issues[i].id``,
    ``spec.actors[a].capability`` and ``spec.actors[a].issues[issue].salience``); an issue an
    actor does not list has salience 0. A compiled :class:`~model.core.Problem` keeps only each
    actor's saliences normalised to sum to 1 (``prefs.weight``), which is not the EUM's salience;
    pass these to :func:`forecast_problem` instead.
    """
    column: dict[str, int] = {}
    for k, iss in enumerate(spec.issues):
        column.setdefault(iss.id, k)
    capability = np.array([float(act.capability) for act in spec.actors])
    salience = np.zeros((len(spec.actors), len(spec.issues)))
    for a, act in enumerate(spec.actors):
        for iid, stance in act.issues.items():
            col = column.get(iid)
            if col is not None:
                salience[a, col] = float(stance.salience)
    return capability, salience


def _ideal_positions(prefs: Preferences | TablePreferences) -> FloatArray:
    """Every actor's ideal position on every issue, ``(A, I)``.

    :class:`~model.core.preferences.Preferences` store them; for value tables
    (:class:`~model.core.preferences.TablePreferences`) it is each actor's best level.
    """
    if not isinstance(prefs, TablePreferences):
        return np.asarray(prefs.ideal, dtype=float)
    best = np.argmax(prefs.tables, axis=2)  # (A, I): first level of highest value
    n_issues = prefs.levels.shape[0]
    return np.asarray(prefs.levels[np.arange(n_issues)[None, :], best], dtype=float)


def forecast_issue(
    issue: str,
    position: FloatArray,
    salience: FloatArray,
    capability: FloatArray,
    rounds: int,
    options: EUMOptions | None = None,
    names: tuple[str, ...] | None = None,
    status_quo: float | None = None,
) -> IssueForecast:
    """The EUM on one issue, for actors ``(A,)`` of whom those with ``salience > 0`` take part.

    The participants are run through :func:`run` (their positions, saliences, capabilities);
    the others keep their column at ``position``. When nothing can move (fewer than two
    participants, or all at one position) the positions stay as they are for ``rounds`` rounds.
    When no participant has a vote (``c_i s_i`` all 0), the median and mean are ``status_quo``
    (``nan`` if it is not given): the EUM has no forecast for an issue nobody weighs.
    """
    x0 = np.asarray(position, dtype=float)
    s = np.asarray(salience, dtype=float)
    c = np.asarray(capability, dtype=float)
    n = x0.size
    if s.shape != (n,) or c.shape != (n,):
        raise ValueError(f"issue {issue!r}: position, salience and capability need shape ({n},)")
    if np.any(s < 0) or np.any(s > 1):
        raise ValueError(f"issue {issue!r}: saliences must lie in [0, 1] (the EUM reads them as probabilities)")
    if np.any(c < 0):
        raise ValueError(f"issue {issue!r}: capabilities must be >= 0")
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    names = names if names is not None else tuple(str(a) for a in range(n))
    active = np.flatnonzero(s > 0)
    positions = np.tile(x0, (rounds + 1, 1))
    votes = c[active] * s[active]
    if votes.sum() <= 0:
        fill = np.nan if status_quo is None else float(status_quo)
        flat = np.full(rounds + 1, fill)
        return IssueForecast(issue, positions, flat, flat.copy(), tuple(int(a) for a in active))
    xa = x0[active]
    if active.size >= 2 and xa.max() > xa.min():
        sub = Actors(tuple(names[a] for a in active), c[active], xa, s[active])
        result = run(sub, rounds, options)
        positions[:, active] = result.positions
        median, mean = result.median, result.mean
    else:
        median = np.full(rounds + 1, weighted_median(xa, votes))
        mean = np.full(rounds + 1, weighted_mean(xa, votes))
    return IssueForecast(issue, positions, median, mean, tuple(int(a) for a in active))


def forecast_problem(
    problem: Problem,
    capability: FloatArray,
    rounds: int,
    options: EUMOptions | None = None,
    *,
    salience: FloatArray | None = None,
) -> list[IssueForecast]:
    """Bueno de Mesquita's EUM on every issue of a negotiation problem, one issue at a time.

    The EUM is a model of one issue (Scholz et al. 2011: "the model deals with a single
    'issue'", each actor holding one position, capability and salience on it); a problem of
    several issues is forecast issue by issue, as in Bueno de Mesquita's applications, with no
    trade between issues. On each issue the actors are the problem's, at their ideal positions
    (``problem.prefs.ideal[:, i]``), with their capability ``c_a`` and their salience on that
    issue; an actor with salience 0 there takes no part (:func:`forecast_issue`). Each round
    is the one of :func:`run`: risk exponents from the others' expected utilities of
    challenging each actor, ``r_i = (1 - R_i/3)/(1 + R_i/3)``; probabilities of success from
    the votes ``c_k s_k (d_kj - d_ki)``; the expected utilities of challenging,
    ``s_b [P U_s + (1 - P) U_f] + (1 - s_b) U_s - Q U_sq``; and the offers (confrontation,
    compromise, capitulation). The formulas are in the docstrings of those functions; the
    paper's equation numbers could not be checked (see the module docstring).

    **Scale.** Issues here lie on [0, 1]; the paper's example is on a 4-10 scale. The model
    reads positions only through distances divided by the range of the participants' initial
    positions (the replication's ``span``), and moves actors to other actors' positions or
    part of the way to them. It is therefore equivariant to any increasing affine change of the
    scale (``x -> a x + b``, ``a > 0``): positions on [0, 1] equal to the paper's divided by 10
    give the paper's positions, medians and means divided by 10 (to rounding; tested). The
    issue's own [0, 1] range plays no part: a group whose positions span 0.4-1.0 behaves as
    one spanning 0-1. The model is also invariant to a common factor on all capabilities
    (they enter only through ratios of votes).

    **Salience.** The EUM's salience ``s_a`` is a probability (that the actor resists a
    challenge), read per issue on its own. A compiled problem keeps only saliences normalised
    per actor (``problem.prefs.weight``, summing to 1 over issues); pass the raw saliences
    ``(A, I)`` in ``salience`` (:func:`spec_inputs` reads them from a scenario). Without it the
    normalised weights are used, which equal the raw saliences only if each actor's saliences
    sum to 1 (with a single issue every actor then has salience 1).

    Args:
        problem: a :class:`~model.core.Problem`.
        capability: ``(A,)``, each actor's capability ``c_a >= 0`` (any common scale).
        rounds: number of rounds of the EUM on each issue.
        options: the reconstruction's switches (:class:`EUMOptions`).
        salience: ``(A, I)`` raw saliences in [0, 1]; default ``problem.prefs.weight``.

    Returns:
        one :class:`IssueForecast` per issue, in the order of ``problem.space.ids``. An issue no
        actor weighs is forecast at its status quo.
    """
    ideal = _ideal_positions(problem.prefs)
    n_actors, n_issues = ideal.shape
    sal = np.asarray(problem.prefs.weight if salience is None else salience, dtype=float)
    cap = np.asarray(capability, dtype=float)
    if sal.shape != (n_actors, n_issues):
        raise ValueError(f"salience has shape {sal.shape}, the problem needs {(n_actors, n_issues)}")
    if cap.shape != (n_actors,):
        raise ValueError(f"capability has shape {cap.shape}, the problem needs ({n_actors},)")
    names = tuple(problem.actor_ids)
    sq = np.asarray(problem.space.status_quo, dtype=float)
    opts = options if options is not None else EUMOptions()
    key = (tuple(problem.space.ids), names, ideal.shape, ideal.tobytes(), sal.tobytes(), cap.tobytes(),
           sq.tobytes(), int(rounds), opts)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
    if cached is None:
        cached = _forecast_issues(tuple(problem.space.ids), ideal, sal, cap, rounds, opts, names, sq)
        with _CACHE_LOCK:
            _CACHE[key] = cached
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    # fresh arrays for the caller, who may change them
    return [IssueForecast(f.issue, f.positions.copy(), f.median.copy(), f.mean.copy(), f.participants) for f in cached]


#: Forecasts of the last few problems (:func:`forecast_problem` is a function of its inputs only,
#: and a sweep asks for the same one again for every seed).
_CACHE: OrderedDict[tuple[Any, ...], list[IssueForecast]] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def _forecast_issues(
    ids: tuple[str, ...],
    ideal: FloatArray,
    sal: FloatArray,
    cap: FloatArray,
    rounds: int,
    options: EUMOptions,
    names: tuple[str, ...],
    status_quo: FloatArray,
) -> list[IssueForecast]:
    """:func:`forecast_issue` on every issue (column) of ``ideal`` and ``sal`` ``(A, I)``: the
    same checks in the same order and the same numbers, but every issue that moves runs in one
    batch (:func:`_run_batch`) instead of one :func:`run` each."""
    n_actors, n_issues = ideal.shape
    if n_issues == 0:
        return []
    bad_salience = np.flatnonzero(np.any((sal < 0) | (sal > 1), axis=0))
    # the first failure forecast_issue would meet: issue 0's checks, then the other issues'
    first = int(bad_salience[0]) if bad_salience.size else n_issues
    if first == 0 or first < n_issues and not np.any(cap < 0) and rounds >= 0:
        raise ValueError(f"issue {ids[first]!r}: saliences must lie in [0, 1] (the EUM reads them as probabilities)")
    if np.any(cap < 0):
        raise ValueError(f"issue {ids[0]!r}: capabilities must be >= 0")
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    out: list[IssueForecast | None] = [None] * n_issues
    runs: list[tuple[int, np.ndarray]] = []
    # every issue's positions start (and, for an actor not taking part, stay) at the ideal points
    all_positions = np.empty((n_issues, rounds + 1, n_actors))
    all_positions[:] = ideal.T[:, None, :]
    for i in range(n_issues):
        s = sal[:, i]
        active = np.flatnonzero(s > 0)
        votes = cap[active] * s[active]
        if votes.sum() <= 0:
            flat = np.full(rounds + 1, float(status_quo[i]))
            out[i] = IssueForecast(ids[i], all_positions[i], flat, flat.copy(), tuple(int(a) for a in active))
            continue
        xa = ideal[active, i]
        if active.size >= 2 and xa.max() > xa.min():
            runs.append((i, active))
            continue
        median = np.full(rounds + 1, weighted_median(xa, votes))
        mean = np.full(rounds + 1, weighted_mean(xa, votes))
        out[i] = IssueForecast(ids[i], all_positions[i], median, mean, tuple(int(a) for a in active))
    if runs:
        # every issue that moves, in one batch: its participants first, padded to the largest
        size = np.array([a.size for _, a in runs])
        width = int(size.max())
        issues = np.array([i for i, _ in runs])
        member = np.zeros((len(runs), width), dtype=int)
        for b, (_, active) in enumerate(runs):
            member[b, : active.size] = active
        x0 = ideal[member, issues[:, None]]
        s_b = sal[member, issues[:, None]]
        votes_b = cap[member] * s_b  # as Actors.votes, c_i * s_i
        pos, _, _, _, source = _run_batch(x0, votes_b, s_b, rounds, options, size)
        by_issue = pos.transpose(1, 0, 2)  # (B, rounds + 1, N)
        medians = np.empty((len(runs), rounds + 1))
        for m in np.unique(size):
            idx = np.flatnonzero(size == m)
            medians[idx] = _weighted_median_rows(by_issue[idx, :, :m], votes_b[idx, None, :m])
        dot = np.dot
        computed = source.max(axis=0) + 1  # rows after these repeat earlier ones
        for b, (i, active) in enumerate(runs):
            n = active.size
            positions = all_positions[i]
            track = by_issue[b, :, :n]
            positions[:, active] = track
            v = votes_b[b, :n].copy()
            # weighted_mean of each row: the same dot product and division
            mean = (np.array([dot(v, p) for p in track[: computed[b]]]) / v.sum())[source[:, b]]
            out[i] = IssueForecast(ids[i], positions, medians[b], mean, tuple(int(a) for a in active))
    return [f for f in out if f is not None]


def forecast_package(forecasts: list[IssueForecast], which: Literal["median", "mean"] = "median") -> FloatArray:
    """The forecast package ``(I,)``: each issue's weighted median (or mean) after the last round."""
    if which not in ("median", "mean"):
        raise ValueError(f"which must be 'median' or 'mean', not {which!r}")
    return np.array([float(getattr(f, which)[-1]) for f in forecasts])
