"""Choosing an offer: the proposer's best package for the others, given its own aspiration.

The proposer maximises a weighted sum of the others' utilities plus ``mu`` times its own, for a
range of ``mu`` and a few weightings of the others, inside every feasible box. Because
utilities are additive this is a per-issue maximisation: each issue goes to whoever values it
most per unit of the proposer's loss, so the proposer concedes first on the issues it cares
least about (logrolling). Among the resulting packages that give the proposer at least its
aspiration, it offers the one whose worst-off other party gains most (normalised surplus over
reservation), breaking ties by the total. It never offers the status quo itself (nothing would
change).

A client under a patron's pull (``model.core.mechanics``) judges its own offers as it judges
others': its utility is ``r_c + (1 - w) * (u_c - r_c) + w * (u_p - r_p)``, so its weightings
include its patrons' utilities, and it never offers a package that a patron's certain veto
(strength 1) would block. A veto of lower strength is drawn when the offer is made (the
protocols do it). Nor does a proposer offer a package that moves a collective's issues when a
member would refuse its consent (the members' red lines and reservations are known).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import _CacheInfo, cached_property, lru_cache, wraps
from typing import Any

import numpy as np

from model.core.mechanics import Mechanics, collective_refusals, effective_utility, veto_objection
from model.core.problem import Problem
from model.core.space import BoolArray, FloatArray


class _PerProblem:
    """A function of ``(problem, proposer, mech)`` kept on the problem itself, one entry per
    proposer (and pull): every proposer of a run is kept however many actors there are (an
    ``lru_cache`` of fixed size cycled past it: each replicate recomputed every table), and the
    entries go with the problem. ``cache_info()`` counts hits and misses as ``lru_cache`` does."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.slot = f"_memo_{fn.__name__}"
        self.hits = self.misses = 0
        wraps(fn)(self)

    def __call__(self, problem: Problem, *key: Any) -> Any:
        memo = problem.__dict__.get(self.slot)
        if memo is None:
            memo = problem.__dict__[self.slot] = {}
        out = memo.get(key, _MISSING)  # (not ``memo[key]``: a fresh problem's first calls would raise)
        if out is _MISSING:
            self.misses += 1
            out = memo[key] = self.fn(problem, *key)
            return out
        self.hits += 1
        return out

    def cache_info(self) -> _CacheInfo:
        return _CacheInfo(self.hits, self.misses, None, -1)

    def cache_clear(self) -> None:
        """Reset the counters (the entries live on their problems)."""
        self.hits = self.misses = 0


#: A ``_PerProblem`` entry not computed yet.
_MISSING = object()


def per_problem[T](fn: Callable[..., T]) -> Callable[..., T]:
    """Decorate ``fn(problem, *key)`` as a ``_PerProblem`` cache."""
    return _PerProblem(fn)


#: Multipliers on the proposer's own utility (relative to the others' normalised weights).
MU_GRID = np.concatenate([np.geomspace(0.02, 50.0, 24), [1e6]])


def normalised_surplus(problem: Problem, utilities: FloatArray) -> FloatArray:
    """``(u - r) / (best - r)`` per actor: 0 at reservation, 1 at the actor's best package."""
    span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
    return (utilities - problem.reservation) / span


def _pulled(proposer: int, mech: Mechanics | None) -> Mechanics | None:
    """``mech`` if it bears on the proposer's offers (it has a patron, or a collective must
    consent to moving some issues), else ``None``."""
    if mech is None:
        return None
    return mech if mech.patrons_of(proposer) or any(c.included for c in mech.collectives) else None


def offer_weightings(span: FloatArray, proposer: int, others: list[int]) -> FloatArray:
    """The weightings a proposer searches with, given every actor's span of utility ``best -
    reservation`` (``(..., A)``, any leading axes): ``(..., C, A)``, ``C = (len(others) + 1) *
    len(MU_GRID)``. Rows run over (variant, mu): the others' utilities divided by their spans,
    in variant ``j > 0`` with ``others[j - 1]`` weighted 4 times over; the proposer's own utility
    times ``mu / span``."""
    lead, n_a = span.shape[:-1], span.shape[-1]
    n_v, n_m = len(others) + 1, len(MU_GRID)
    grid = np.zeros((*lead, n_v, n_m, n_a))
    grid[..., others] = (1.0 / span[..., others])[..., None, None, :]
    grid[..., np.arange(1, n_v), :, others] *= 4.0  # variant j favours others[j - 1]
    out = grid.reshape(*lead, n_v * n_m, n_a)
    own = MU_GRID / span[..., proposer, None]  # (..., n_m)
    out[..., proposer] = np.broadcast_to(own[..., None, :], (*lead, n_v, n_m)).reshape(*lead, n_v * n_m)
    return out


@per_problem
def _offer_coefficients(problem: Problem, proposer: int, mech: Mechanics | None = None) -> FloatArray:
    others = [a for a in problem.parties if a != proposer]
    span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
    out = offer_weightings(span, proposer, others)
    if mech is not None:  # the proposer's effective utility: (1 - sum w) u_c + sum w u_p, plus a constant
        own = out[:, proposer].copy()
        pulls = mech.patrons_of(proposer)
        out[:, proposer] = own * (1.0 - sum(inf.weight for inf in pulls))
        for inf in pulls:
            out[:, inf.patron] += own * inf.weight
    out.setflags(write=False)
    return out


def candidate_offers(
    problem: Problem, proposer: int, mech: Mechanics | None = None
) -> tuple[FloatArray, FloatArray]:
    """All packages the proposer considers, with their utilities: ``(n, I)`` and ``(n, A)``."""
    return _candidates(problem, proposer, _pulled(proposer, mech))


@per_problem
def _candidates(problem: Problem, proposer: int, mech: Mechanics | None) -> tuple[FloatArray, FloatArray]:
    # many weightings give the same package: each once, in order of first appearance
    idx = problem.maximize_weighted_distinct(_offer_coefficients(problem, proposer, mech))
    pk = problem.space.grid[np.arange(problem.space.n_issues)[None, :], idx]
    sq = problem.space.status_quo
    certain = [] if mech is None else [i for i in mech.patrons_of(proposer) if i.veto and i.veto_strength >= 1.0]
    owned = [] if mech is None else [c for c in mech.collectives if c.included]
    if certain or owned:
        # a package a certain veto blocks, or that a collective's member refuses, is no offer:
        # try each with the veto issues, and with the collectives' issues, left alone too
        kept = sorted({i for inf in certain for i in inf.veto})
        held = sorted({i for c in owned for i in c.issues})
        variants = [pk]
        for issues in (kept, held, sorted(set(kept) | set(held))):
            if issues:
                left = pk.copy()
                left[:, issues] = sq[issues]
                variants.append(left)
        pk = np.unique(np.concatenate(variants), axis=0)
        ok = np.array([
            not any(veto_objection(problem, inf, x, sq) for inf in certain)
            and not (mech is not None and owned and collective_refusals(problem, mech, x, sq))
            for x in pk
        ], dtype=bool)
        pk = pk[ok & problem.redlines.satisfied(pk, problem.parties).all(axis=1)]
        pk = pk[np.any(np.abs(pk - sq[None, :]) > 1e-9, axis=1)]  # the status quo is no offer
        u = problem.utility(pk) if pk.shape[0] else np.zeros((0, problem.n_actors))
    else:
        moves = np.any(np.abs(pk - sq[None, :]) > 1e-9, axis=1)  # the status quo is no offer
        pk, idx = pk[moves], idx[moves]
        u = problem.grid_utility(idx) if pk.shape[0] else np.zeros((0, problem.n_actors))
    pk.setflags(write=False)
    u.setflags(write=False)
    return pk, u


@dataclass(frozen=True)
class OfferTable:
    """A proposer's candidate offers, sorted by its own utility, with for every threshold the
    candidate it would choose: ``best_from[k]`` is the preferred candidate among ``k, k+1, ...``
    (those giving the proposer at least ``own[k]``). Choosing an offer is then a binary search.
    """

    packages: FloatArray  # (n, I), sorted by the proposer's utility
    utilities: FloatArray  # (n, A)
    own: FloatArray  # (n,) the proposer's utility (with its patrons' pull), ascending
    best_from: np.ndarray  # (n,) index of the chosen candidate for each threshold position

    @cached_property
    def choice(self) -> np.ndarray:
        """``best_from`` and one more entry, the choice past every threshold (an aspiration above
        anything feasible): the preferred among the proposer's best packages, ``(n + 1,)``, so
        ``choice[own.searchsorted(need)]`` is the offer at any need (read-only)."""
        if len(self.own) == 0:
            return np.zeros(1, dtype=np.int64)
        top = self.best_from[int(self.own.searchsorted(self.own[-1], side="left"))]  # the first of its best
        out = np.empty(len(self.best_from) + 1, dtype=self.best_from.dtype)  # (``np.append``, without its wrappers)
        out[:-1] = self.best_from
        out[-1] = top
        out.setflags(write=False)
        return out

    def choose(self, threshold: float) -> int | None:
        k = int(np.searchsorted(self.own, threshold - 1e-9, side="left"))
        return None if k >= len(self.own) else int(self.best_from[k])


def offer_table(problem: Problem, proposer: int, mech: Mechanics | None = None) -> OfferTable:
    """The proposer's candidates and choices (``mech``: its patrons' pull and vetoes, if any)."""
    return _offer_table(problem, proposer, _pulled(proposer, mech))


@per_problem
def _offer_table(problem: Problem, proposer: int, mech: Mechanics | None) -> OfferTable:
    if mech is None and proposer in problem.parties and _one_box(problem):
        return _party_tables(problem)[proposer]  # every party's at once: the same tables
    return _one_table(problem, proposer, mech)


def _one_table(problem: Problem, proposer: int, mech: Mechanics | None) -> OfferTable:
    """One proposer's table, from its candidates (``_candidates``)."""
    pk, u = _candidates(problem, proposer, mech)
    own = u[:, proposer] if mech is None else effective_utility(u, problem.reservation, mech)[:, proposer]
    others = [a for a in problem.parties if a != proposer]
    s = normalised_surplus(problem, u)[:, others]
    worst = s.min(axis=1) if others else np.zeros(len(pk))
    total = s.sum(axis=1) if others else np.zeros(len(pk))
    # preference among candidates: best worst-off surplus, then total surplus, then own utility
    rank = np.empty(len(pk), dtype=np.int64)
    rank[np.lexsort((own, total, np.round(worst, 9)))] = np.arange(len(pk))
    order = np.argsort(own, kind="stable")
    pk, u, own, rank = pk[order], u[order], own[order], rank[order]
    # suffix arg-max of rank: the preferred candidate among those from position k on
    position_of_rank = np.empty(len(pk), dtype=np.int64)
    position_of_rank[rank] = np.arange(len(pk))
    best_from = position_of_rank[np.maximum.accumulate(rank[::-1])[::-1]]
    for arr in (pk, u, best_from):
        arr.setflags(write=False)
    own.setflags(write=False)
    return OfferTable(pk, u, own, best_from)


#: The most scores (parties x weightings x issues x grid points) ``_party_tables`` holds at once
#: (16 MB); past it the tables are built one proposer at a time (the scores grow as parties^2).
STACK_CELLS = 2**21


def _one_box(problem: Problem) -> bool:
    """Whether every party's table is built at once (``_party_tables``): two parties or more,
    the packages no red line forbids make one box, and the scores fit in ``STACK_CELLS``."""
    n_p = len(problem.parties)
    cells = n_p * n_p * len(MU_GRID) * problem.space.grid.size
    return n_p >= 2 and cells <= STACK_CELLS and len(problem.boxes) == 1


@dataclass(frozen=True)
class _Stack:
    """What ``_party_tables`` needs besides the problem's numbers, for ``A`` actors of whom
    ``P`` are parties (``C`` weightings each): ``offer_weightings`` of every party as proposer
    before the division by the spans (``(P, C, A)`` numerators: 1, or 4 for the favoured
    other, on the others; ``MU_GRID`` on the proposer's own column, ``own``), and for every
    row of the flattened ``(P * C)`` candidates its proposer (``proposer``) and the others
    (``others``, ``(P * C, P - 1)``). ``numerator * (1 / span)`` off the own column and
    ``numerator / span`` on it are ``offer_weightings``'s numbers, bit for bit (it scales
    ``1 / span`` by 1 or 4 and divides ``MU_GRID`` by the span)."""

    numerators: FloatArray
    own: BoolArray
    proposer: np.ndarray
    others: np.ndarray
    rows: np.ndarray  # (P * C,) every row's position
    own_at: np.ndarray  # (P * C,) where each row's proposer's column is in a flattened ``(P * C, A)`` array
    others_at: np.ndarray  # (P * C, P - 1) where the others' columns are in it
    block: np.ndarray  # (P, 1) every block's number
    steps: np.ndarray  # (C,) the positions within a block
    start: np.ndarray  # (P, 1) where each block starts among the rows


@lru_cache(maxsize=8)  # a few scenarios' parties: each holds up to ~STACK_CELLS numbers
def _stack(n_actors: int, parties: tuple[int, ...]) -> _Stack:
    ones = np.ones(n_actors)
    num = np.stack([offer_weightings(ones, p, [a for a in parties if a != p]) for p in parties])
    n_p, n_c = num.shape[:2]
    own = np.zeros(num.shape, dtype=bool)
    own[np.arange(n_p), :, list(parties)] = True
    proposer = np.repeat(np.asarray(parties), n_c)
    others = np.repeat(np.array([[a for a in parties if a != p] for p in parties]), n_c, axis=0)
    block = np.arange(n_p)[:, None]
    rows = np.arange(n_p * n_c)
    out = _Stack(num, own, proposer, others, rows, rows * n_actors + proposer, rows[:, None] * n_actors + others,
                 block, np.arange(n_c), n_c * block)
    for f in dataclasses.fields(out):
        getattr(out, f.name).setflags(write=False)
    return out


@per_problem
def _party_tables(problem: Problem) -> dict[int, OfferTable]:
    """Every party's ``OfferTable`` (no patrons' pull) on a problem whose feasible packages form
    one box, built at once: the steps of ``_candidates`` and ``_offer_table`` on the
    proposers' candidates side by side (``P`` blocks of ``C`` rows), so a run pays for a few
    larger numpy calls instead of many small ones per proposer. The tables are those of the
    one-proposer path, bit for bit (``tests/test_search_tables.py``): the weightings'
    products are computed block by block by the stacked matrix product, each proposer's
    candidates are the first appearances in its block, in order, and the preference and the
    thresholds are ranked among them alone (the repeats and the status quo rank below every
    candidate and sort after them)."""
    parties = problem.parties
    n_p, n_a, n_i = len(parties), problem.n_actors, problem.space.n_issues
    st = _stack(n_a, parties)
    span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
    coefs = st.numerators * (1.0 / span)  # ``offer_weightings``: on the own columns, divided by the span
    np.divide(st.numerators, span, out=coefs, where=st.own)
    wv = problem.weighted_values
    score = (coefs @ wv.reshape(n_a, -1)).reshape(n_p, -1, *wv.shape[1:]) + problem._one_box_offset
    n_c = score.shape[1]
    flat = score.argmax(axis=-1).reshape(-1, n_i)  # (P * C, I): grid index of each candidate
    valid = _new_moves(flat, n_c, problem.space.grid.shape[1], problem.at_status_quo).reshape(n_p, n_c)
    u = problem.grid_utility(flat)  # (P * C, A)
    # (gathers by flat positions, ``_Stack``: ``u[rows, proposer]`` and ``x[rows[:, None], others]``)
    own = u.ravel()[st.own_at].reshape(n_p, n_c)
    s = ((u - problem.reservation) / span).ravel()[st.others_at]  # ``normalised_surplus``, (P * C, P - 1)
    worst, total = _min_and_sum(s)
    worst, total = worst.reshape(n_p, n_c), total.reshape(n_p, n_c)
    # preference: best worst-off surplus, then total, then own; the repeats rank below all
    block, steps = st.block, st.steps
    rank = np.empty((n_p, n_c), dtype=np.int64)
    # (the arrays' own methods: ``np.round`` and ``np.argsort`` call them through a Python wrapper)
    rank[block, np.lexsort((own, total, worst.round(9), valid), axis=1)] = steps
    by_own = np.where(valid, own, np.inf).argsort(axis=1, kind="stable")  # the repeats sort last
    rank_s = rank[block, by_own]
    position_of_rank = np.empty_like(rank_s)
    position_of_rank[block, rank_s] = steps
    best_from = position_of_rank[block, np.maximum.accumulate(rank_s[:, ::-1], axis=1)[:, ::-1]]
    at = (by_own + st.start).ravel()  # each block's candidates by own utility
    pk = problem.space.grid[_issue_row(n_i), flat[at]].reshape(n_p, n_c, n_i)
    u, own = u[at].reshape(n_p, n_c, n_a), own.ravel()[at].reshape(n_p, n_c)
    for arr in (pk, u, own, best_from):
        arr.setflags(write=False)
    n_valid = valid.sum(axis=1).tolist()
    return {p: OfferTable(pk[j, : n_valid[j]], u[j, : n_valid[j]], own[j, : n_valid[j]], best_from[j, : n_valid[j]])
            for j, p in enumerate(parties)}


@lru_cache(maxsize=64)
def _issue_row(n_i: int) -> np.ndarray:
    """``np.arange(n_i)[None, :]``, read-only: the issue of each column of a package of grid indices."""
    out = np.arange(n_i)[None, :]
    out.setflags(write=False)
    return out


def _min_and_sum(s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``s.min(axis=1)`` and ``s.sum(axis=1)`` of a ``(n, k)`` array, the same numbers, column by
    column when ``k`` is small (numpy reduces a short last axis row by row, slowly): a minimum
    is exact in any order, and numpy adds fewer than 8 terms one after another from the first
    (past that, in 8 running sums: then ``sum`` itself)."""
    if s.shape[1] >= 8:
        return s.min(axis=1), s.sum(axis=1)
    worst = total = s[:, 0]
    for j in range(1, s.shape[1]):
        col = s[:, j]
        worst, total = np.minimum(worst, col), total + col
    return worst, total


def _new_moves(rows: np.ndarray, block: int, n_g: int, at_status_quo: BoolArray) -> BoolArray:
    """Whether each row of ``rows`` (grid indices below ``n_g``, ``(n, I)``) is the first of its
    value within its block of ``block`` consecutive rows (``_first_per_block``) and moves some
    issue from the status quo (``at_status_quo``, ``(I, n_g)``: the status quo is no offer).
    When the status quo is one grid point on every issue, a row is the status quo iff its
    integer key (its digits base ``n_g``) is the status quo's: the keys that find the first
    appearances tell it too."""
    n, n_i = rows.shape
    n_blocks = n // block
    sq = _status_quo_key(at_status_quo, n_g) if n_blocks * float(n_g) ** n_i < 2**62 else None
    if sq is None:  # read the status quo issue by issue (its issues as rows: a long axis)
        issues = np.arange(n_i)[:, None]
        moves = ~np.logical_and.reduce(at_status_quo[issues, rows.T], axis=0)
        return _first_per_block(rows, block, n_g) & moves
    digits, offset = _block_keys(n_blocks, block, n_g, n_i)
    own = rows @ digits
    return _first_of_keys(own + offset) & (own != sq)


def _status_quo_key(at_status_quo: BoolArray, n_g: int) -> int | None:
    """The integer key (digits base ``n_g``, ``_block_keys``) of the status quo's grid indices
    when it is one grid point on every issue; -1 (no key) when some issue has none; ``None``
    when some issue has two (padded levels). Kept per array (read-only: problems of one geometry
    share it)."""
    got = _SQ_KEYS.get(id(at_status_quo))
    if got is not None and got[0] is at_status_quo:
        return got[1]
    at = [np.flatnonzero(row).tolist() for row in at_status_quo]
    key: int | None = -1
    if all(len(i) == 1 for i in at):
        key = sum(i[0] * n_g**j for j, i in enumerate(at))
    elif any(len(i) > 1 for i in at):
        key = None
    if len(_SQ_KEYS) >= 64:
        _SQ_KEYS.pop(next(iter(_SQ_KEYS)))
    _SQ_KEYS[id(at_status_quo)] = (at_status_quo, key)  # the array itself is kept: its id stays its own
    return key


_SQ_KEYS: dict[int, tuple[BoolArray, int | None]] = {}


def _first_of_keys(keys: np.ndarray) -> BoolArray:
    """Whether each of ``keys`` is the first of its value (by position)."""
    order = keys.argsort(kind="stable")
    s = keys[order]
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    new[1:] = s[1:] != s[:-1]
    out = np.empty(len(keys), dtype=bool)
    out[order] = new
    return out


def _first_per_block(rows: np.ndarray, block: int, n_g: int) -> BoolArray:
    """Whether each row of ``rows`` (grid indices below ``n_g``, ``(n, I)``) is the first of its
    value within its block of ``block`` consecutive rows."""
    n, n_i = rows.shape
    n_blocks = n // block
    if n_blocks * float(n_g) ** n_i < 2**62:  # one integer per row: its block, then its digits base n_g
        digits, offset = _block_keys(n_blocks, block, n_g, n_i)
        return _first_of_keys(rows @ digits + offset)
    who = np.repeat(np.arange(n_blocks), block)
    order = np.lexsort(np.vstack([rows.T, who]))  # by block, then the row's values; stable
    s2, w = rows[order], who[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (w[1:] != w[:-1]) | np.any(s2[1:] != s2[:-1], axis=1)
    out = np.empty(n, dtype=bool)
    out[order] = new
    return out


@lru_cache(maxsize=8)
def _block_keys(n_blocks: int, block: int, n_g: int, n_i: int) -> tuple[np.ndarray, np.ndarray]:
    """``_first_per_block``'s integer key of a row: ``row @ digits + offset`` (read-only)."""
    digits = n_g ** np.arange(n_i, dtype=np.int64)
    offset = np.repeat(np.arange(n_blocks, dtype=np.int64) * n_g**n_i, block)
    for arr in (digits, offset):
        arr.setflags(write=False)
    return digits, offset


def choose_offer_index(
    problem: Problem, proposer: int, aspiration: float, mech: Mechanics | None = None
) -> tuple[OfferTable, int] | None:
    """The proposer's offer at this aspiration, as (its table, the row in it); see ``choose_offer``."""
    table = offer_table(problem, proposer, mech)
    if len(table.own) == 0:
        return None
    floor = float(problem.reservation[proposer])
    k = table.choose(max(aspiration, floor))
    if k is None:  # aspiration above anything feasible: offer its own best, if that beats no deal
        if table.own[-1] < floor - 1e-9:
            return None
        k = int(np.flatnonzero(table.own == table.own[-1])[0])
        k = int(table.best_from[k])
    return table, k


def choose_offer_indices(
    problem: Problem, proposer: int, aspirations: FloatArray, mech: Mechanics | None = None
) -> tuple[OfferTable, np.ndarray]:
    """``choose_offer_index`` at many aspirations at once (a time-only strategy's schedule):
    the proposer's table and, for each aspiration, the row it offers (-1: it passes). The same
    comparisons on the same floats, element by element: ``max(aspiration, floor)``, less
    1e-9, searched in the table's own utilities; past them all, the first of its best
    packages' choice, unless even that falls short of its reservation."""
    table = offer_table(problem, proposer, mech)
    n = len(table.own)
    if n == 0:
        return table, np.full(len(aspirations), -1, dtype=np.int64)
    floor = float(problem.reservation[proposer])
    k = table.own.searchsorted(np.maximum(aspirations, floor) - 1e-9, side="left")
    out = table.choice[k]
    if table.own[-1] < floor - 1e-9:  # its best falls short of no deal: past every package, it passes
        out = np.where(k >= n, -1, out)
    return table, out


def choose_offer(problem: Problem, proposer: int, aspiration: float) -> FloatArray | None:
    """The package ``proposer`` offers at this aspiration.

    Among the packages that cross no party's red line and give the proposer at least
    ``max(aspiration, reservation)``, the one whose worst-off other party gains most in normalised
    surplus, then the largest total surplus, then the proposer's own utility. ``None`` when it has
    nothing to offer: no such package beats no deal for the proposer. A proposer never offers
    less than its reservation utility.
    """
    hit = choose_offer_index(problem, proposer, aspiration)
    return None if hit is None else hit[0].packages[hit[1]].copy()
