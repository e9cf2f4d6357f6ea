"""The EUM's input (:class:`Actors`), its switches (:class:`EUMOptions`) and the quantities of one round:
the one-issue functions that specify the model (``model.core.eum`` has the overview)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from model.core.space import FloatArray


@dataclass(frozen=True)
class Actors:
    """The input of the model: one row per actor."""

    names: tuple[str, ...]
    capability: FloatArray
    position: FloatArray
    salience: FloatArray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, float, float, float]]) -> Actors:
        """Actors from ``(name, capability, position, salience)`` rows, as published tables give them."""
        return cls(
            names=tuple(r[0] for r in rows),
            capability=np.array([r[1] for r in rows], dtype=float),
            position=np.array([r[2] for r in rows], dtype=float),
            salience=np.array([r[3] for r in rows], dtype=float),
        )

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
