"""Running the EUM: :func:`run` on one issue's actors, and the batch that runs many issues at once
(bit for bit the rounds of the one-issue functions in ``model.core.eum.rounds``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.core.chunks import CHUNK_TERMS
from model.core.eum import fast
from model.core.eum.rounds import (
    CAPITULATION,
    COMPROMISE,
    CONFRONTATION,
    NONE,
    Actors,
    EUMOptions,
    _weighted_median_rows,
    weighted_mean,
)
from model.core.eum.scholz import load_actors, scholz_example
from model.core.space import FloatArray

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


def _prob_batch(d: FloatArray, votes: FloatArray, norm: str, groups: list[tuple[int, np.ndarray]],
                pairs: fast.SortedPairs | None = None) -> FloatArray:
    """:func:`success_probability` for ``B`` issues, from the distance powers ``d`` ``(B, N, N)``.

    With the :class:`~model.core.eum.fast.SortedPairs` of the positions (:func:`_sorted_pairs`:
    from ``fast.FAST_FROM`` actors), by running sums over the voters sorted by position
    (:func:`~model.core.eum.fast.prob_sorted`: ``O(N^2 log N)`` an issue, the same numbers up to
    rounding). Without, bit for bit the ``n^3`` sum of :func:`success_probability`, a few issues
    at a time: each issue's votes are an ``(N, N, N)`` block, so the batch is split to keep at
    most ``CHUNK_TERMS`` of them at once. Each issue's sums are taken on its own block either
    way, so splitting changes no bit."""
    if pairs is not None:
        return fast.prob_sorted(d, votes, norm, groups, pairs)
    b, n = d.shape[0], d.shape[1]
    step = max(1, CHUNK_TERMS // max(n**3, 1))
    if b <= step:
        return _prob_block(d, votes, norm, groups)
    out = np.empty((b, n, n))
    for start in range(0, b, step):
        stop = min(b, start + step)
        part = [(m, idx[(idx >= start) & (idx < stop)] - start) for m, idx in groups]
        out[start:stop] = _prob_block(d[start:stop], votes[start:stop], norm, [(m, i) for m, i in part if i.size])
    return out


def _sorted_pairs(x: FloatArray) -> fast.SortedPairs | None:
    """The pairs of the positions ``x`` ``(B, N)`` for the fast kernel, from ``fast.FAST_FROM``
    actors; below, ``None`` (the ``n^3`` sum, bit for bit)."""
    return fast.SortedPairs(x) if x.shape[1] >= fast.FAST_FROM else None


def _prob_block(d: FloatArray, votes: FloatArray, norm: str, groups: list[tuple[int, np.ndarray]]) -> FloatArray:
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
    pairs = _sorted_pairs(x)
    prob = _prob_batch(d1, c.votes, norm, c.groups, pairs)
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
    prob = _prob_batch(d1**rr, c.votes, norm, c.groups, pairs)
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


#: On the fast kernel's sizes (``fast.FAST_FROM`` actors and up), the most (issue, actor, actor)
#: terms a round's arrays hold at once. A round makes some 60 arrays of ``B x N x N`` terms;
#: kept under 128 KiB each (glibc maps a larger block fresh from the system on each allocation,
#: or trims it back once freed, and every page of it then faults in again), the allocator
#: recycles them. Measured at 100 actors x 50 issues: 2,600-4,900 page faults and 0.9-1.3 s
#: for a forecast, against up to 1.1 million and 1.9-2.8 s with the whole batch at once (at
#: 30 and 60 actors, parts of 128 KiB or more fault as much). The issues of a round are
#: independent and each one's sums are taken on its own rows, so splitting changes no bit; below
#: ``fast.FAST_FROM`` the batch stays whole, as before.
ROUND_TERMS = 8192


def _parts(batch: _Batch) -> list[tuple[slice, _Batch]]:
    """The batch split into runs of issues of at most ``ROUND_TERMS`` terms (at least one issue)
    from ``fast.FAST_FROM`` actors; below, the whole batch."""
    b, n = batch.size.size, batch.diagonal.shape[0]
    step = max(1, ROUND_TERMS // (n * n)) if n >= fast.FAST_FROM else b
    if b <= step:
        return [(slice(0, b), batch)]
    out = []
    for start in range(0, b, step):
        keep = np.zeros(b, dtype=bool)
        keep[start : start + step] = True
        out.append((slice(start, start + step), batch.subset(keep)))
    return out


def _round_parts(
    x: FloatArray, parts: list[tuple[slice, _Batch]]
) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray]:
    """:func:`_round_batch` on each part of the batch (:func:`_parts`), put together."""
    if len(parts) == 1:
        return _round_batch(x, parts[0][1])
    new, r = np.empty(x.shape), np.empty(x.shape)
    kind, partner = np.empty(x.shape, dtype=int), np.empty(x.shape, dtype=int)
    for part, batch in parts:
        new[part], r[part], kind[part], partner[part] = _round_batch(x[part], batch)
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
    parts = _parts(batch)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(rounds):
            x, r, kind, partner = _round_parts(x, parts)
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
                parts = _parts(batch)
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
