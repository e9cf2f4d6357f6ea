"""Offers on the Pareto frontier, inside the red-line boxes: the package protocol's offer rule.

Every round each party states its *demand* ``d_a = max(aspiration_a, reservation_a)`` (plus the
protocol's margin for the responders): the least it will accept now. Demands are public, as
in Zeuthen's and Rosenschein & Zlotkin's monotonic concession protocol, where both sides'
current proposals are on the table every round. The proposer then solves one of two linear
programs, in normalised units ``s_a = best_a - reservation_a``:

* **meet** (the demands are compatible: some feasible package gives every party at least its
  demand): the proposer offers the package that maximises the smallest normalised excess
  over the demands, ``max_x min_a (u_a(x) - d_a) / s_a``, itself included. The excess of the
  zone the demands leave is split equally: on a one-issue split with demands ``d_X`` and
  ``d_Y`` the offer is ``x = (1 + d_X - d_Y) / 2``, the midpoint rule of the k = 1/2 double
  auction (Chatterjee & Samuelson 1983). Every party accepts it: agreement.
* **propose** (no package meets every demand): the proposer offers the package that gives the
  others the most, ``max_x min_{j != p} (u_j(x) - r_j) / s_j`` subject to ``u_p(x) >= d_p``:
  the max-min (egalitarian) rule in normalised units (Kalai 1977; Kalai & Smorodinsky 1975).
  Max-min rather than the Nash product because a unanimity rule is bound by the least
  satisfied party, and because it is a linear program (exact and fast with HiGHS). A second
  program keeps that minimum and maximises the parties' total normalised utility, so the
  offer is Pareto-optimal, not only weakly. If nothing feasible gives the proposer its demand
  it offers its own best (the best for the others among its best), or nothing when its best
  is below its reservation.

Utilities are additive, so each issue enters the program as a convex combination of its grid
points (``lambda`` weights summing to one; the package is ``x_i = sum_g lambda_ig g``). For
linear utilities (curvature 1) the grid holds every kink, so the program is exact and any
value of a continuous issue is reachable, not only grid points; for concave utilities
(curvature > 1) it is a safe inner approximation (the package is worth at least what the
program counted); for other utilities the offer is checked and falls back to the grid search
(``model.core.search``). Ordinal issues snap to one level: those the solution splits are set
to their heaviest level and the program is solved again with them fixed (the check). Each
feasible red-line box is its own program; boxes are visited best bound first and skipped when
their bound cannot beat the best found (branch and bound over the union of boxes).

A client under a patron's pull judges offers by its effective utility (affine in the
utilities, so still linear); under a trust discount (``Mechanics.promises``) each actor judges
promised moves by its expected value (affine in each issue's value, so the programs stay exact
for linear utilities; the patron's gain a client weighs in is the patron's own judged gain);
a package a patron's certain veto blocks, or that a collective's member refuses, is re-solved
with those issues left at the status quo, as the grid search does.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import highspy
import numpy as np

from model.core.mechanics import Mechanics, collective_refusals, effective_utility, veto_objection
from model.core.preferences import Preferences
from model.core.redlines import EPS
from model.core.space import FloatArray

if TYPE_CHECKING:  # offers are computed for a Problem, which asks for them (Problem.utopia)
    from model.core.problem import Problem

#: How far below zero the best smallest excess may be and the demands still count as compatible.
MEET_TOL = 1e-9
#: The search over ordinal levels and red-line branches stops improving an offer by less than
#: this (in normalised utility): the optimality gap of the branch and bound.
GAP = 1e-3
#: At most this many programs per search once an incumbent is known (the search is then
#: cut short: the offer is the best found, deterministically, but may be short of the optimum).
NODE_LIMIT = 200
#: Smallest span ``best - reservation`` used to normalise (an actor with nothing to gain).
_MIN_SPAN = 1e-6


@dataclass(frozen=True)
class Offer:
    """A proposer's offer: the package, every actor's (raw) utility of it, and which rule made
    it: ``"meet"`` (the demands were compatible), ``"propose"`` or ``"best"`` (its own best)."""

    package: FloatArray
    utilities: FloatArray
    kind: str
    excess: float  # the program's optimum: the smallest normalised excess (meet) or surplus
    #: whether "the demands are compatible" was decided by a search that ran to its end (a meet
    #: always is; a propose may come from a search cut short by the limits, ``NODE_LIMIT``)
    exact: bool = True

    def __post_init__(self) -> None:  # offers are kept and shared (``frontier_offer``): read-only
        self.package.setflags(write=False)
        self.utilities.setflags(write=False)


def applies(problem: Problem) -> bool:
    """Whether offers come from the programs here: spatial preferences (continuous or ordinal
    issues). Value-table domains (every issue a list of discrete levels, the GENIUS/NegMAS
    form) keep the grid search, whose candidates are their supported packages. Asks only
    whether some package crosses no party's red line (``Problem.has_zone_of_agreement_by_red_lines``,
    itself a program when the conditional lines are too many to enumerate the boxes)."""
    return isinstance(problem.prefs, Preferences) and problem.has_zone_of_agreement_by_red_lines


def _plain_solver(problem: Problem, chained: bool = False) -> _Solver:
    """A one-off solver with unit spans and no patrons' pull: raw utilities, for the questions
    a problem asks before it has spans (feasibility, each actor's best). ``chained``: the caller
    asks a fixed sequence of questions, each of which may start where the last ended."""
    kind = _ColumnSolver if generates_columns(problem) else _Solver
    solver = kind(problem, None, span=np.ones(problem.n_actors))
    solver.chained = chained
    return solver


def lp_feasible(problem: Problem) -> bool:
    """Whether some package crosses no party's red line, by the program (branch and bound on
    the conditional lines): no box is enumerated."""
    return _plain_solver(problem).solve({}, {}, {}, polish=False) is not None


def lp_best_packages(problem: Problem) -> FloatArray:
    """Each actor's best package among those no party's red line forbids, one program per actor:
    ``(A, I)`` (NaN rows if nothing is feasible). The boxless counterpart of the grid search
    behind ``Problem.best_utility``; for linear utilities both give the same optimum."""
    solver = _plain_solver(problem, chained=True)
    out = np.full((problem.n_actors, problem.space.n_issues), np.nan)
    for a in range(problem.n_actors):
        hit = solver.solve({a: 0.0}, {}, {}, polish=False)
        if hit is not None:
            out[a] = hit[1]
    return out


def _mech_key(mech: Mechanics | None, proposer: int) -> Mechanics | None:
    if mech is None:
        return None
    return mech if (mech.influence or any(c.included for c in mech.collectives) or mech.promises is not None) else None


@lru_cache(maxsize=64)
def _affine(problem: Problem, mech: Mechanics | None) -> tuple[FloatArray, FloatArray]:
    """``(M, k)`` with effective utilities ``u_eff = M @ u + k`` (the identity without influence)."""
    n = problem.n_actors
    if mech is None or not mech.influence:
        return np.eye(n), np.zeros(n)
    basis = np.vstack([np.zeros(n), np.eye(n)])
    eff = effective_utility(basis, problem.reservation, mech)
    k = eff[0]
    return (eff[1:] - k).T.copy(), k.copy()


@dataclass(frozen=True)
class _Program:
    """The problem's feasible set in the programs' variables: one weight ``lambda`` per
    admissible grid cell (issue, grid point), then one binary per conditional red line (on:
    its bound holds; off: its condition fails), then ``z``. Ordinal issues' weights are binary
    (one level each)."""

    cells: np.ndarray  # flat (issue * G + g) index of each weight
    issue: np.ndarray  # its issue
    value: np.ndarray  # its grid value
    integral: np.ndarray  # (n_vars,) 1 for binaries
    lines: tuple[int, ...]  # the conditional lines (indices in the red-line set), one column each
    rows: np.ndarray  # (R, n_vars) the red-line rows (z column 0); each issue's weights sum to one besides
    lo: np.ndarray  # (R,)
    hi: np.ndarray  # (R,)
    n_lines: int


@lru_cache(maxsize=64)
def _program(problem: Problem) -> _Program:
    space = problem.space
    n_i, n_g = space.grid.shape
    rl = problem.redlines
    parties = list(problem.parties)
    lo = rl.lo[parties].max(axis=0)
    hi = rl.hi[parties].min(axis=0)
    ok = space.grid_mask & (space.grid >= lo[:, None] - EPS) & (space.grid <= hi[:, None] + EPS)
    for i in problem.fixed:  # off the table: at the status quo
        ok[i] &= np.abs(space.grid[i] - space.status_quo[i]) <= 1e-9
    cells = np.flatnonzero(ok.ravel())
    issue = cells // n_g
    value = space.grid.ravel()[cells]
    lines = [k for k, a in enumerate(rl._c_actor) if int(a) in parties]
    n_l = len(lines)
    n = len(cells)
    n_vars = n + n_l + 1
    rows, rlo, rhi = [], [], []
    for j, k in enumerate(lines):
        w, c = int(rl._c_when[k]), int(rl._c_issue[k])
        active = (rl._c_sign[k] * (value - rl._c_thr[k]) > EPS) & (issue == w)
        outside = ((value < rl._c_lo[k] - EPS) | (value > rl._c_hi[k] + EPS)) & (issue == c)
        r = np.zeros(n_vars)  # off (y = 0): no weight where the condition holds
        r[:n][active] = 1.0
        r[n + j] = -1.0
        rows.append(r)
        rlo.append(-np.inf)
        rhi.append(0.0)
        r = np.zeros(n_vars)  # on (y = 1): no weight outside the bound
        r[:n][outside] = 1.0
        r[n + j] = 1.0
        rows.append(r)
        rlo.append(-np.inf)
        rhi.append(1.0)
    integral = np.zeros(n_vars)
    integral[:n][space.ordinal_mask[issue]] = 1.0
    integral[n:n + n_l] = 1.0
    return _Program(cells, issue, value, integral, tuple(lines), np.array(rows).reshape(len(rows), n_vars),
                    np.array(rlo), np.array(rhi), n_l)


@lru_cache(maxsize=64)
def _cell_values(problem: Problem, mech: Mechanics | None) -> FloatArray:
    """Effective weighted values of every admissible cell: ``(A, n_cells)`` (plus ``k`` of ``_affine``).
    Under a trust discount (``mech.promises``) each actor's values are its expected ones,
    ``f * v(g) + (1 - f) * v(sq)`` per issue (``model.core.mechanics.judged_utility``): a constant
    added to every cell of an issue adds it to the utility, as each issue's weights sum to one."""
    wv = problem.weighted_values
    if mech is not None and mech.promises is not None:
        wv = _promised_values(problem, mech.promises)
    m, _ = _affine(problem, mech)
    return (m @ wv.reshape(wv.shape[0], -1))[:, _program(problem).cells]


def _promised_values(problem: Problem, factors: FloatArray) -> FloatArray:
    """``(A, I, G)`` weighted values with each issue's move from the status quo counted with
    ``factors[a, i]``: ``f * w v(g) + (1 - f) * w v(sq)``."""
    sq = problem.space.status_quo[:, None]
    at_sq = problem.prefs.weight[:, :, None] * problem.prefs.issue_values(sq)  # (A, I, 1)
    f = factors[:, :, None]
    return np.asarray(f * problem.weighted_values + (1.0 - f) * at_sq)


def _span(problem: Problem) -> FloatArray:
    return np.maximum(problem.utopia - problem.reservation, _MIN_SPAN)


#: Utopia points this process has computed, by the digest of what their programs read
#: (``_utopia_key``), each with the weights its chain priced in (``_priced_cells``): the points
#: of a sweep that leave the problem alone (a strategy's, the protocol's, trust or delivery
#: settings) pay for it once per process, not once per point (about 1 s at 100 actors x 50
#: issues). Bounded, oldest out; an entry is two small arrays.
_UTOPIAS: OrderedDict[bytes, tuple[FloatArray, np.ndarray | None]] = OrderedDict()
UTOPIAS_KEPT = 32


def _on_grid(problem: Problem) -> np.ndarray:
    """The issues the programs search on their grid points alone (one level each): ordinal ones,
    and every issue when some utility is not concave (curvature < 1: worth less between grid
    points than the weights count)."""
    convex = bool(np.any(getattr(problem.prefs, "curvature", np.ones(1)) < 1.0))
    n_i = problem.space.n_issues
    return np.ones(n_i, dtype=bool) if convex else np.asarray(problem.space.ordinal_mask, dtype=bool)


def _utopia_key(problem: Problem) -> bytes:
    """A digest of everything ``utopia``'s programs read: the program (admissible weights, their
    issues and values, the red-line rows), every actor's values of the weights, the
    reservations, parties, best utilities, the grid and status quo (where column generation
    starts), the issues searched on their grid points, the red lines as the branch and bound
    checks them, the issues off the table, and the solver's settings. The same digest gives the
    same programs, so the same answers: a hit is what a fresh computation returns, bit for bit."""
    prog = _program(problem)
    rl = problem.redlines
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((generates_columns(problem), COLUMNS_MIN_COEFFS, PRICE_TOL, PER_ISSUE, STALL_PER_ROW, COLD_PER_ROW,
                   problem.n_actors, tuple(problem.parties), tuple(problem.fixed), prog.lines,
                   problem.space.grid.shape)).encode())
    for arr in (prog.cells, prog.issue, prog.value, prog.integral, prog.rows, prog.lo, prog.hi,
                _cell_values(problem, None), problem.reservation, problem.best_utility, problem.space.grid,
                problem.space.status_quo, _on_grid(problem), rl.lo, rl.hi, rl._c_actor, rl._c_when, rl._c_sign,
                rl._c_thr, rl._c_issue, rl._c_lo, rl._c_hi):
        a = np.ascontiguousarray(arr)
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.digest()


def utopia(problem: Problem) -> FloatArray:
    """``Problem.utopia``: each actor's best utility over the feasible packages that give every
    other party at least its reservation (one program per actor). Computed once per content in
    a process (``_UTOPIAS``)."""
    best = problem.best_utility.copy()
    if not applies(problem):
        return best
    key = _utopia_key(problem)
    kept = _UTOPIAS.get(key)
    if kept is not None:
        _UTOPIAS.move_to_end(key)
        if kept[1] is not None:
            problem.__dict__["_priced_cells"] = kept[1]
        return kept[0]
    best = _utopia_programs(problem, best)
    priced = problem.__dict__.get("_priced_cells")
    if priced is not None:
        priced.setflags(write=False)
    _UTOPIAS[key] = (best, priced)
    if len(_UTOPIAS) > UTOPIAS_KEPT:
        _UTOPIAS.popitem(last=False)
    return best


def _utopia_programs(problem: Problem, best: FloatArray) -> FloatArray:
    """``utopia``'s programs, from each actor's best utility (``best``, lowered in place)."""
    parties = list(problem.parties)
    # a one-off solver with unit spans (the normalisation cannot depend on what it computes)
    solver = _plain_solver(problem, chained=True)
    shared = solver.maximise_each(parties, problem.reservation) if isinstance(solver, _ColumnSolver) else None
    if shared is not None:
        for a, value in zip(parties, shared, strict=True):
            best[a] = min(best[a], value)
    else:
        for a in parties:
            others = {j: float(problem.reservation[j]) for j in parties if j != a}
            hit = solver.solve({a: 0.0}, others, {}, polish=False) if others else None
            if hit is not None:
                best[a] = min(best[a], hit[0] * solver.span[a])
    if isinstance(solver, _ColumnSolver):  # the weights the chain priced in: where later searches start
        gains = shared is not None and bool(np.all(best[parties] - problem.reservation[parties] > _MIN_SPAN))
        problem.__dict__["_priced_cells"] = solver.cells_for_searches(gains)
    best.setflags(write=False)
    return best


_BANNER_SHOWN = False


def _highs() -> highspy.Highs:
    """A silent HiGHS instance (the library prints a banner, to the process's standard output,
    when the first one is made: it is sent to /dev/null)."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    # one thread: these programs are small (a run's fixed cost halves, 70 -> 35 us, and the utopia
    # chain at 100 actors x 50 issues takes a quarter less), and sweeps are parallel across
    # processes, where HiGHS's workers would only compete for the same cores
    h.setOptionValue("threads", 1)
    # offers at the edge of a demand must meet it to within the acceptance rule's 1e-9
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    return h


class _Solver:
    """One linear program per problem (and patrons' pull), kept between calls so that HiGHS
    starts each solve from the last basis (a re-solve with new demands takes about 0.1 ms).

    Columns: the weights of ``_Program``, its line variables (relaxed to [0, 1]) and ``z``.
    Rows: the program's rows, then per actor a *soft* row ``u_a - s_a z >= floor`` and a *hard*
    row ``u_a >= level``, inactive (lower bound -inf) unless a call sets them. The red-line
    disjunctions are kept exactly by branching on a line the relaxed solution breaks (branch
    and bound, best bound pruning); ordinal issues are snapped to their heaviest level and the
    program solved again with them fixed.
    """

    def __init__(self, problem: Problem, mech: Mechanics | None, span: FloatArray | None = None) -> None:
        self.problem = problem
        prog = _program(problem)
        self.prog = prog
        self.vals = _cell_values(problem, mech)
        self.k = _affine(problem, mech)[1]
        self.span = _span(problem) if span is None else span
        n, n_l = len(prog.cells), prog.n_lines
        self.n, self.n_vars = n, n + n_l + 1
        self.z = self.n_vars - 1
        n_a = problem.n_actors
        self.n_a = n_a
        lb = np.zeros(self.n_vars)
        ub = np.ones(self.n_vars)
        lb[-1], ub[-1] = -1e4, 1e4
        self.lb0, self.ub0 = lb, ub
        self.cost_z = np.zeros(self.n_vars)
        self.cost_z[-1] = -1.0
        self.all_cols = np.arange(self.n_vars, dtype=np.int32)
        self.row0 = problem.space.n_issues + prog.rows.shape[0]  # the first soft row
        self._build()
        self.n_a = n_a
        self.ordinal = [int(i) for i in np.flatnonzero(_on_grid(problem))]
        self.cells_of = [np.flatnonzero(prog.issue == i) for i in range(problem.space.n_issues)]
        self.inf = highspy.kHighsInf
        self.exact = True  # whether the last search ran to its end (not cut by the limits)
        # whether a search starts where the last ended (its weights and basis), not from the program
        # as built: only for a fixed sequence of searches (one per actor, in order: ``utopia``),
        # whose answers then still depend on the problem alone (column generation uses it)
        self.chained = False
        self.max_depth = min(n + n_l + 2, 400)  # each branch removes a weight or fixes a line; a finite stack
        self.runs = 0  # programs solved (for the bench)
        self.resolved = 0  # runs HiGHS could not finish from the last basis, solved again from none

    def _build(self) -> None:
        """The whole program in one HiGHS model: every weight a column, every actor's rows dense."""
        prog, n, n_a = self.prog, self.n, self.n_a
        h = _highs()
        self.h = h
        h.addVars(self.n_vars, self.lb0, self.ub0)
        h.changeColsCost(self.n_vars, self.all_cols, self.cost_z)
        for i in range(self.problem.space.n_issues):  # each issue's weights sum to one
            cells = np.flatnonzero(prog.issue == i).astype(np.int32)
            h.addRow(1.0, 1.0, len(cells), cells, np.ones(len(cells)))
        for r in range(prog.rows.shape[0]):
            idx = np.flatnonzero(prog.rows[r])
            h.addRow(prog.lo[r], prog.hi[r], len(idx), idx.astype(np.int32), prog.rows[r, idx])
        cols = np.arange(n, dtype=np.int32)
        for a in range(n_a):  # soft rows
            h.addRow(-np.inf, np.inf, n + 1, np.append(cols, self.z).astype(np.int32),
                     np.append(self.vals[a], -self.span[a]))
        for a in range(n_a):  # hard rows
            h.addRow(-np.inf, np.inf, n, cols, self.vals[a])
        self.lp = h.getLp()  # the model as built: every search starts from a fresh copy of it

    def _set_cost(self, cost: FloatArray) -> None:
        self.h.changeColsCost(self.n_vars, self.all_cols, cost)

    # -- one relaxed solve --------------------------------------------------------------------
    def _run(self, lb: FloatArray, ub: FloatArray) -> tuple[float, FloatArray] | None:
        """One solve with bounds ``lb``/``ub`` from the last basis: ``(z, x)``, or ``None`` if the
        program is infeasible. A run that ends neither optimal nor infeasible (HiGHS could not
        tell: from some warm bases, after an infeasible node, its dual ratio test fails on
        excessive dual values) is solved again from no basis, so that a solver error is never
        taken for infeasibility (it had cut feasible branches from a search)."""
        h = self.h
        h.changeColsBounds(self.n_vars, self.all_cols, lb, ub)
        h.run()
        self.runs += 1
        status = h.getModelStatus()
        if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kInfeasible):
            self.resolved += 1
            h.clearSolver()
            h.run()
            status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(h.getSolution().col_value)
        return float(x[-1]), x

    def _package(self, x: FloatArray) -> FloatArray:
        pk = np.bincount(self.prog.issue, weights=x[: self.n] * self.prog.value, minlength=self.problem.space.n_issues)
        return np.clip(pk, 0.0, 1.0)

    def _split(self, x: FloatArray) -> dict[int, float]:
        """Ordinal issues whose weight is split between levels: each to its heaviest level."""
        out: dict[int, float] = {}
        w = x[: self.n]
        heavy = np.zeros(self.problem.space.n_issues)
        np.maximum.at(heavy, self.prog.issue, w)
        for i in self.ordinal:
            if heavy[i] < 1.0 - 1e-7:
                cells = self.cells_of[i]
                out[i] = float(self.prog.value[cells[int(w[cells].argmax())]])
        return out

    def _lowest(self, x: FloatArray, i: int) -> float:
        cells = self.cells_of[i]
        return float(self.prog.value[cells][x[cells] > 1e-9].min())

    def _highest(self, x: FloatArray, i: int) -> float:
        cells = self.cells_of[i]
        return float(self.prog.value[cells][x[cells] > 1e-9].max())

    def _fix(self, ub: FloatArray, fixed: dict[int, float]) -> bool:
        """Hold each fixed issue at its value (its other weights 0); False if a value is not admissible."""
        for i, v in fixed.items():
            cells = self.cells_of[i]
            hit = np.abs(self.prog.value[cells] - v) <= 1e-9
            if not np.any(hit & (ub[cells] > 0)):
                return False
            ub[cells[~hit]] = 0.0
        return True

    def solve(
        self,
        soft: dict[int, float],
        hard: dict[int, float],
        fixed: dict[int, float],
        polish: bool = True,
        after_last: bool = False,
    ) -> tuple[float, FloatArray] | None:
        """``max z`` s.t. ``u_a - s_a z >= soft[a]`` and ``u_a >= hard[a]`` over the packages no
        party's red line forbids, ``fixed`` issues held; then (``polish``) with that ``z`` kept,
        the largest total normalised utility of the actors named (Pareto), staying at the status
        quo on issues nobody weighs. ``(z, package)``, or ``None`` if nothing is feasible.
        ``after_last``: the next question of one offer, asked after the last in a fixed order
        (column generation goes on from where that search ended; see ``_frontier_offer``)."""
        self._set_demands(soft, hard, after_last)
        lb, ub = self.lb0.copy(), self.ub0.copy()
        if not self._fix(ub, fixed):
            return None
        best: list[Any] = [None]  # (z, x, lb, ub) of the best leaf
        start = self.runs
        self.exact = True
        self._dive(lb, ub, best)  # a first incumbent, so that the search below prunes early
        self._node(lb, ub, best, start, 0)
        if best[0] is None:
            return None
        z, x, lb, ub = best[0]
        if polish:
            polished = self._polish(z, x, lb, ub, soft, hard)
            if polished is not None:
                return z, polished
        return z, self._snap_exact(self._package(x))

    def _set_demands(self, soft: dict[int, float], hard: dict[int, float], after_last: bool = False) -> None:
        """Start from a fresh copy of the model as built and the solver's fixed start basis
        (``_start_basis``), so that a search's answer depends on its inputs only, not on what the
        solver did before, and set the rows of the demands ``soft`` and ``hard`` (see
        :meth:`solve`). The whole program always starts so (``after_last`` is for column
        generation: a cold start there costs ten times more)."""
        h = self.h
        start = self._start_basis()
        h.passModel(self.lp)
        if start is not None:
            h.setBasis(start)
        self._demand_rows(soft, hard)

    def _demand_rows(self, soft: dict[int, float], hard: dict[int, float]) -> None:
        """The demands' rows on the model as built: soft ``u_a - s_a z >= soft[a]``, hard
        ``u_a >= hard[a]`` (the others stay free)."""
        for a, f in soft.items():
            self.h.changeRowBounds(self.row0 + a, f - self.k[a], self.inf)
        for a, level in hard.items():
            self.h.changeRowBounds(self.row0 + self.n_a + a, level - self.k[a], self.inf)

    def _at_reservations(self) -> dict[int, float]:
        """Every party's reservation, as the start program's soft demands (``_start_basis``)."""
        return {a: float(self.problem.reservation[a]) for a in self.problem.parties}

    def _start_basis(self) -> highspy.HighsBasis | None:
        """Where every search starts: the optimal basis of one fixed program (every party's soft
        demand at its reservation, ``max z``), solved once per solver; ``None`` (no basis: HiGHS
        starts afresh) if that program has no optimum. A search moves only the demands' bounds,
        so the basis stays dual feasible and HiGHS goes on from it without presolving: the
        baseline's new points 17-26% faster by protocol, the same answers (the fingerprint is
        unchanged). The start is a function of the problem, the patrons' pull and the spans
        alone, so every answer still depends only on its search's inputs."""
        if "_start" not in self.__dict__:
            h = self.h
            h.passModel(self.lp)
            self._demand_rows(self._at_reservations(), {})
            h.run()
            optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            self._start: highspy.HighsBasis | None = h.getBasis() if optimal else None
        return self._start

    def _dive(self, lb: FloatArray, ub: FloatArray, best: list[Any]) -> None:
        """Round every split ordinal issue to its heaviest level until none is split; branch
        on lines as the search does, but down the first side only."""
        ub = ub.copy()
        lb = lb.copy()
        for _ in range(len(self.ordinal) + self.prog.n_lines + 1):
            hit = self._run(lb, ub)
            if hit is None:
                return
            z, x = hit
            split = self._split(x)
            if split:
                if not self._fix(ub, split):
                    return
                continue
            broken = self._broken(self._package(x), lb, ub)
            if broken is None:
                if best[0] is None or z > best[0][0]:
                    best[0] = (z, x, lb, ub)
                return
            lb[broken] = ub[broken] = 0.0

    def _node(self, lb: FloatArray, ub: FloatArray, best: list[Any], start: int, depth: int) -> None:
        """One node of the branch and bound (``start``: the count of programs solved when it began).
        The search stops at ``NODE_LIMIT`` programs once it has an answer, at five times that
        without one, and below a depth that every progressing branch stays within; a search cut
        short is marked inexact (``exact``)."""
        spent = self.runs - start
        if (spent >= NODE_LIMIT and best[0] is not None) or spent >= 5 * NODE_LIMIT or depth > self.max_depth:
            self.exact = False
            return
        hit = self._run(lb, ub)
        if hit is None:
            return
        z, x = hit
        if best[0] is not None and z <= best[0][0] + GAP and not (best[0][0] < -MEET_TOL <= z):
            return  # (a bound that could still make the demands compatible is explored)
        split = self._split(x)
        if split:  # branch on the first split issue: its levels up to its value, then those above
            i = next(iter(split))
            v = self._package(x)[i]
            on = self.prog.issue == i
            low = on & (self.prog.value > v + 1e-9)  # excluded on the low side
            high = on & (self.prog.value <= v + 1e-9)  # excluded on the high side
            sides = [low, high] if v - self._lowest(x, i) <= self._highest(x, i) - v else [high, low]
            for cut in sides:
                ub2 = ub.copy()
                ub2[: self.n][cut] = 0.0
                self._node(lb, ub2, best, start, depth + 1)
            return
        pk = self._package(x)
        broken = self._broken(pk, lb, ub)
        if broken is None:
            best[0] = (z, x, lb, ub)
            return
        for side in (0.0, 1.0):  # the line off (its condition fails), then on (its bound holds)
            lb2, ub2 = lb.copy(), ub.copy()
            lb2[broken] = ub2[broken] = side
            self._node(lb2, ub2, best, start, depth + 1)

    def _polish(
        self, z: float, x: FloatArray, lb: FloatArray, ub: FloatArray, soft: dict[int, float], hard: dict[int, float]
    ) -> FloatArray | None:
        """With ``z`` kept, the package of the largest total normalised utility of the actors in
        the demands (ties: the status quo on issues nobody weighs), if it keeps every demand as
        tightly as ``x`` met it and breaks no line; else ``None``."""
        lb, ub = lb.copy(), ub.copy()
        self._fix(ub, {i: v for i, v in zip(self.ordinal, self._package(x)[self.ordinal], strict=True)})
        lb[-1] = z
        who = sorted(set(soft) | set(hard))
        sq = self.problem.space.status_quo
        prog = self.prog
        cost = np.zeros(self.n_vars)
        cost[: self.n] = -(self.vals[who] / self.span[who, None]).sum(axis=0)
        cost[: self.n] += 1e-6 * np.abs(prog.value - sq[prog.issue])
        self._set_cost(cost)
        hit = self._run(lb, ub)
        self._set_cost(self.cost_z)
        if hit is not None and not self._split(hit[1]) and self._keeps(hit[1], x, soft, hard, z):
            pk = self._package(hit[1])
            if self._broken(pk, lb, ub) is None:
                return self._snap_exact(pk)
        return None

    def _keeps(
        self, new: FloatArray, old: FloatArray, soft: dict[int, float], hard: dict[int, float], z: float
    ) -> bool:
        """Whether the polished solution keeps every constraint as tightly as the first one met
        it (the polish may not trade a demand's last 1e-9 for the tie-break)."""
        u_new = self.vals @ new[: self.n] + self.k
        u_old = self.vals @ old[: self.n] + self.k
        for a, f in soft.items():
            need = min(f + self.span[a] * z, u_old[a])
            if u_new[a] < need - 1e-12:
                return False
        return all(u_new[a] >= min(level, u_old[a]) - 1e-12 for a, level in hard.items())

    def _snap_exact(self, pk: FloatArray) -> FloatArray:
        grid = self.problem.space.grid
        for i in self.ordinal:  # clear the solver's rounding: exactly one level
            pk[i] = grid[i][int(np.abs(grid[i] - pk[i]).argmin())]
        return pk

    def _broken(self, pk: FloatArray, lb: FloatArray, ub: FloatArray) -> int | None:
        """The column of a conditional line the package breaks and that is not yet branched on."""
        if self.prog.n_lines == 0:
            return None
        if bool(self.problem.feasible(pk[None, :])[0]):
            return None
        rl = self.problem.redlines
        for j, kline in enumerate(self.prog.lines):
            col = self.n + j
            if lb[col] == ub[col]:
                continue
            active = rl._c_sign[kline] * (pk[rl._c_when[kline]] - rl._c_thr[kline]) > EPS
            v = pk[rl._c_issue[kline]]
            if active and not (rl._c_lo_eps[kline] <= v <= rl._c_hi_eps[kline]):
                return col
        # the package breaks a line already branched on only by the solver's rounding: take the first open one
        for j in range(self.prog.n_lines):
            col = self.n + j
            if lb[col] != ub[col]:
                return col
        return None


#: Column generation (``_ColumnSolver``) is used when the whole program's actor rows would hold
#: more than this many coefficients (2 x actors x admissible cells): from about 16 actors on 10
#: issues, or 10 on 20. Both give the program's optimum; below this the whole program is faster
#: (the baseline, 6 x 21 at 2,436: 0.09 against 0.12 s a new point), above it column generation
#: (16 x 10: 0.17 against 0.07 s; 100 x 50: 430 against 2 s). Every shipped scenario is below.
COLUMNS_MIN_COEFFS = 10_000
#: A weight enters the restricted program when its reduced cost is below minus this.
PRICE_TOL = 1e-9
#: Weights added per issue and round of pricing (the most negative reduced costs first).
PER_ISSUE = 2
#: A simplex run of the restricted program from the last basis (warm), and one from none (cold),
#: is cut after this many iterations per row (see ``_ColumnSolver._solve_restricted``).
STALL_PER_ROW = 50
COLD_PER_ROW = 100


def generates_columns(problem: Problem) -> bool:
    """Whether offers for ``problem`` come from column generation (a large program)."""
    return 2 * problem.n_actors * len(_program(problem).cells) >= COLUMNS_MIN_COEFFS


class _ColumnSolver(_Solver):
    """The same program, solved by column generation (Dantzig & Wolfe 1960; Gilmore & Gomory
    1961): the restricted program holds the line variables, ``z``, an artificial column per
    row and direction, and only the weights that have been priced in; each solve of it gives
    the rows' duals, and every weight left out whose reduced cost ``c_j - y A_j`` is negative
    (at most ``PER_ISSUE`` per issue, most negative first) is added, until none is. At that point
    the restricted optimum is the whole program's (the LP optimality conditions hold for every
    column). Pricing every weight at once is one product of the duals with the actors' values.

    Artificial columns make the restricted program feasible whenever the whole one is: a
    solve that finds it infeasible minimises their sum first (phase I, priced the same way), and
    the program is infeasible only if that minimum stays above zero with no column to add.

    Each search starts from the same restricted program (the start weights, ``_start_cells``)
    and the same basis (``_start_basis``), so an answer depends only on the search's inputs, as
    the whole program's does. Where the program
    has several optima the two may pick different ones (``tests/test_offers_columns.py`` checks
    that they reach the same optimum and the same judged utilities); the choice between them is
    by size alone (``generates_columns``), so a scenario always gets the same one.
    """

    def _build(self) -> None:
        prog, n, n_a = self.prog, self.n, self.n_a
        n_i, n_l = self.problem.space.n_issues, prog.n_lines
        self.n_rows = self.row0 + n_a  # one row per actor: soft (with z) or hard (without) per search
        self.line_rows = np.ascontiguousarray(prog.rows[:, :n])  # (2 n_l, n)
        # master columns: line variables, z, artificials (+ and - per row), then weights as priced
        h = _highs()
        self.h = h
        fixed_cols = list(range(n, n + n_l)) + [self.z]
        h.addVars(len(fixed_cols), self.lb0[fixed_cols], self.ub0[fixed_cols])
        for _i in range(n_i):  # each issue's weights sum to one (filled as weights come in)
            h.addRow(1.0, 1.0, 0, np.zeros(0, dtype=np.int32), np.zeros(0))
        for r in range(prog.rows.shape[0]):
            idx = np.flatnonzero(prog.rows[r, n:])  # the line variable (and z's zero)
            h.addRow(prog.lo[r], prog.hi[r], len(idx), idx.astype(np.int32), prog.rows[r, n + idx])
        self.zc = n_l  # z's position among the master's columns
        for _a in range(n_a):
            h.addRow(-np.inf, np.inf, 0, np.zeros(0, dtype=np.int32), np.zeros(0))
        n_art = 2 * self.n_rows
        rows = np.repeat(np.arange(self.n_rows, dtype=np.int32), 2)
        signs = np.tile([1.0, -1.0], self.n_rows)
        h.addCols(n_art, np.zeros(n_art), np.zeros(n_art), np.zeros(n_art), n_art,
                  np.arange(n_art, dtype=np.int32), rows, signs)
        self.art = np.arange(len(fixed_cols), len(fixed_cols) + n_art, dtype=np.int32)
        # the full index of each master column (-1: an artificial one)
        self.base_cols = np.array(fixed_cols + [-1] * n_art, dtype=np.int64)
        first = self._start_cells()
        self._add_cells(h, first, np.zeros(len(first)))
        self.lp = h.getLp()
        self.lp_cols = self.cols.copy()
        self.cost = self.cost_z.copy()
        self._cold = False  # whether the next solve starts a search (from the program as built)
        self.pricings = 0  # rounds of pricing (for the bench)
        self.stalls = 0  # runs that stalled and were solved again (for the bench)

    def _start_cells(self) -> np.ndarray:
        """The weights to start from: the admissible cell nearest the status quo on every issue,
        and those the problem's ``utopia`` chain priced in (a fixed set for the problem: every
        actor's best with the others held to their reservations), in index order."""
        prog, sq = self.prog, self.problem.space.status_quo
        out = []
        for i in range(self.problem.space.n_issues):
            cells = np.flatnonzero(prog.issue == i)
            out.append(int(cells[int(np.abs(prog.value[cells] - sq[i]).argmin())]))
        seen = self.problem.__dict__.get("_priced_cells", np.zeros(0, dtype=np.int64))
        return np.union1d(np.array(out, dtype=np.int64), seen)

    def maximise_each(self, parties: list[int], floors: FloatArray) -> list[float] | None:
        """Each party's largest utility over one feasible set, every party at least its floor:
        the utopia point's programs when the set is the same for all (``None`` if it is empty,
        or if the problem needs branching: conditional lines, levels).

        ``utopia`` asks, for each party, its best with the *others* at their floors; when some
        package gives every party its floor, that best also gives the party its own (the package
        does), so the programs share their feasible set and differ only in the objective. Along
        the chain the last basis then stays feasible and the primal simplex goes on from it."""
        if self.prog.n_lines or self.ordinal or len(parties) < 2:
            return None
        self._set_demands({}, {j: float(floors[j]) for j in parties})  # the same rows for every party
        self.used = np.zeros(self.n, dtype=bool)
        out = []
        for a in parties:
            cost = np.zeros(self.n_vars)
            cost[: self.n] = -self.vals[a]
            self._set_cost(cost)
            hit = self._run(self.lb0.copy(), self.ub0.copy())
            if hit is None:
                self._set_cost(self.cost_z)
                self._started = False  # the next search starts afresh
                return None
            out.append(float(self.vals[a] @ hit[1][: self.n] + self.k[a]))
            self.used |= hit[1][: self.n] > 1e-12
        self._set_cost(self.cost_z)
        return out

    def cells_in(self) -> np.ndarray:
        """The weights now in the restricted program (full indices, sorted)."""
        return np.sort(self.cols[(self.cols >= 0) & (self.cols < self.n)])

    def cells_for_searches(self, gains: bool) -> np.ndarray:
        """The weights later searches start from (full indices, sorted): those some program of
        the ``maximise_each`` chain used (a weight above zero in its answer) when every party
        gains from the best the others allow it (``gains``), else every weight the chain priced.

        A cold search's dual simplex costs, per iteration, a product over every weight it holds;
        the used ones (about 200 at 100 actors x 50 issues, against 600 priced) are where offers
        go, and the search prices in the rest it needs: framework's new point 2-2.6x faster,
        package's 1.1-1.4x. Where no party gains (no zone of agreement: every answer of the
        chain sits at the reservations, the programs are degenerate) the used weights are a poor
        start: the cold searches took four times the iterations, so those start from all."""
        if gains and "used" in self.__dict__:
            return np.flatnonzero(self.used)
        return self.cells_in()

    def _add_cells(self, h: highspy.Highs, cells: np.ndarray, cost: FloatArray) -> None:
        """Add weights ``cells`` (full indices) to the restricted program, with their costs."""
        n_i = self.problem.space.n_issues
        block = np.zeros((self.n_rows, len(cells)))  # the new columns, dense, then as sparse columns
        block[self.prog.issue[cells], np.arange(len(cells))] = 1.0
        block[n_i : self.row0] = self.line_rows[:, cells]
        block[self.row0 :] = self.vals[:, cells]
        col, row = np.nonzero(block.T)
        starts = np.searchsorted(col, np.arange(len(cells))).astype(np.int32)
        h.addCols(len(cells), cost, np.zeros(len(cells)), np.ones(len(cells)), len(row),
                  starts, row.astype(np.int32), block[row, col])
        prior = self.__dict__.get("cols", self.base_cols)
        self.cols = np.concatenate([prior, cells])

    def _set_demands(self, soft: dict[int, float], hard: dict[int, float], after_last: bool = False) -> None:
        """As the whole program's, with one row per actor: ``u_a - s_a z >= soft[a]`` (z's
        coefficient set) or ``u_a >= hard[a]`` (none), free if the actor is in neither.

        ``after_last``: the search goes on from where the last one ended (its weights and basis),
        by the dual simplex, as only the demands' bounds (and z's coefficients) move; the caller
        asks it only for the next question of one offer, in a fixed order, so the answer still
        depends on the offer's inputs alone."""
        if set(soft) & set(hard):
            raise ValueError("an actor's demand is soft or hard, not both")
        h = self.h
        if after_last and self.__dict__.get("_started"):
            self._cold = True
            h.setOptionValue("simplex_strategy", 1)
        elif not self.chained or not self.__dict__.get("_started"):
            start = None if self.chained else self._start_basis()
            self._started = True
            self.cols = self.lp_cols.copy()
            h.passModel(self.lp)
            if start is not None:
                h.setBasis(start)
            # a search's first solve starts cold: the dual simplex; after it (a column priced in,
            # or the next actor's question along a chain) the last basis stays primal feasible,
            # or nearly, so the primal simplex goes on from it
            self._cold = not self.chained
            h.setOptionValue("simplex_strategy", 1 if self._cold else 4)
        self._demand_rows(soft, hard)

    def _demand_rows(self, soft: dict[int, float], hard: dict[int, float]) -> None:
        """The demands' rows, one per actor: soft (``z``'s coefficient set), hard or free."""
        h = self.h
        lo = np.full(self.n_a, -highspy.kHighsInf)
        zcoef = np.zeros(self.n_a)
        for a, f in soft.items():
            lo[a] = f - self.k[a]
            zcoef[a] = -float(self.span[a])
        for a, level in hard.items():
            lo[a] = level - self.k[a]
        for a in range(self.n_a):
            h.changeRowBounds(self.row0 + a, float(lo[a]), highspy.kHighsInf)
            h.changeCoeff(self.row0 + a, self.zc, float(zcoef[a]))

    def _start_basis(self) -> highspy.HighsBasis | None:
        """Where a search's dual simplex starts: the optimal basis of one fixed program on the
        restricted program as built (every party's demand soft at its reservation, ``max z``),
        solved once per solver (``None`` if it is not solved to optimality within the cold limit:
        the searches then start from no basis). A search changes only the demands' bounds and
        rows' ``z`` coefficients, so the basis stays dual feasible, or nearly, and the dual
        simplex goes on from it: at 100 actors x 50 issues a new point's searches took 2.9x
        (package) and 3.5x (framework) fewer iterations than from no basis. The start is a
        function of the problem, the patrons' pull and the spans alone, so every answer still
        depends only on its search's inputs."""
        if "_start" in self.__dict__:
            return self._start
        h = self.h
        h.passModel(self.lp)
        self.cols = self.lp_cols.copy()
        self._demand_rows(self._at_reservations(), {})
        self._master_costs(self.cost_z)
        h.setOptionValue("simplex_strategy", 1)
        h.setOptionValue("simplex_iteration_limit", COLD_PER_ROW * self.n_rows)
        h.run()
        optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        self._start = h.getBasis() if optimal else None
        return self._start

    def _set_cost(self, cost: FloatArray) -> None:
        self.cost = cost

    def _run(self, lb: FloatArray, ub: FloatArray) -> tuple[float, FloatArray] | None:
        h = self.h
        self.runs += 1
        real = self.cols >= 0  # the master's columns but the artificial ones
        at = np.flatnonzero(real).astype(np.int32)
        h.changeColsBounds(len(at), at, lb[self.cols[real]], ub[self.cols[real]])
        h.changeColsBounds(len(self.art), self.art, np.zeros(len(self.art)), np.zeros(len(self.art)))
        self._phase_two_costs()
        if not self._generate(ub, phase=2):
            if not self._phase_one(ub):
                return None
            if not self._generate(ub, phase=2):
                return None
        x = np.zeros(self.n_vars)
        val = np.asarray(h.getSolution().col_value)
        real = self.cols >= 0
        x[self.cols[real]] = val[real]
        return float(x[-1]), x

    def _phase_two_costs(self) -> None:
        """The master's costs from the program's (``self.cost``)."""
        self._master_costs(self.cost)

    def _master_costs(self, cost: FloatArray) -> None:
        """The master's costs from the program's ``cost``; the artificial columns' zero."""
        real = self.cols >= 0
        c = np.zeros(len(self.cols))
        c[real] = cost[self.cols[real]]
        self.h.changeColsCost(len(c), np.arange(len(c), dtype=np.int32), c)

    def _phase_one(self, ub: FloatArray) -> bool:
        """Minimise the artificial columns' sum; True if it reaches zero (the program is feasible),
        then with them held at zero and the costs restored for phase II."""
        h = self.h
        m = len(self.cols)
        inf = np.full(len(self.art), highspy.kHighsInf)
        h.changeColsBounds(len(self.art), self.art, np.zeros(len(self.art)), inf)
        c1 = np.zeros(m)
        c1[self.art] = 1.0
        h.changeColsCost(m, np.arange(m, dtype=np.int32), c1)
        if not self._generate(ub, phase=1) or h.getInfo().objective_function_value > 1e-9:
            return False
        h.changeColsBounds(len(self.art), self.art, np.zeros(len(self.art)), np.zeros(len(self.art)))
        self._phase_two_costs()
        return True

    def _solve_restricted(self) -> None:
        """One solve of the restricted program: the dual simplex for a search's cold start, the
        primal simplex after it (the last basis stays primal feasible as columns come in or the
        objective changes).

        On these dense programs, with the tolerances the acceptance rule needs, HiGHS's primal
        simplex can stall: a run was seen to cycle for 10^5 iterations and more without end
        (100 actors x 50 issues, seed 1 of the bench's synthetic scenario). So a warm run is cut
        at ``STALL_PER_ROW`` iterations per row (a healthy one takes one to ten) and then solved
        again from no basis by the dual simplex; a cold run, and that second solve, are cut at
        ``COLD_PER_ROW`` (a healthy one takes about ten). A run cut short, or a status HiGHS
        cannot tell, is left to the caller: phase I decides whether the program is feasible. A
        run that ends in a solver error (``_Solver._run``) is solved again from no basis too."""
        h = self.h
        cold = self._cold
        h.setOptionValue("simplex_iteration_limit", (COLD_PER_ROW if cold else STALL_PER_ROW) * self.n_rows)
        h.run()
        if cold:
            self._cold = False
            h.setOptionValue("simplex_strategy", 4)
        status = h.getModelStatus()
        failed = status in (highspy.HighsModelStatus.kNotset, highspy.HighsModelStatus.kSolveError)
        if not failed and (cold or status != highspy.HighsModelStatus.kIterationLimit):
            return
        self.stalls += 1
        h.clearSolver()
        h.setOptionValue("simplex_strategy", 1)
        h.setOptionValue("simplex_iteration_limit", COLD_PER_ROW * self.n_rows)
        h.run()
        h.setOptionValue("simplex_strategy", 4)

    def _generate(self, ub: FloatArray, phase: int) -> bool:
        """Solve the restricted program and price weights in until none has a negative reduced
        cost; False if the restricted program is infeasible."""
        h = self.h
        n, prog = self.n, self.prog
        n_i = self.problem.space.n_issues
        while True:
            self._solve_restricted()
            # not optimal: infeasible, or HiGHS could not tell (then phase I decides)
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return False
            y = np.asarray(h.getSolution().row_dual)
            self.pricings += 1
            dual = y[:n_i][prog.issue] + y[self.row0 :] @ self.vals
            if self.line_rows.shape[0]:
                dual += y[n_i : self.row0] @ self.line_rows
            cost = self.cost[:n] if phase == 2 else np.zeros(n)
            red = cost - dual
            inside = self.cols[(self.cols >= 0) & (self.cols < n)]
            red[inside] = np.inf  # already in
            red[ub[:n] <= 0.0] = np.inf  # held at zero by the search
            new = self._best_per_issue(red)
            if len(new) == 0:
                return True
            self._add_cells(h, new, cost[new])

    def _best_per_issue(self, red: FloatArray) -> np.ndarray:
        """The weights of negative reduced cost to add: up to ``PER_ISSUE`` per issue, most
        negative first (in full index order within ties)."""
        cand = np.flatnonzero(red < -PRICE_TOL)
        if len(cand) == 0:
            return cand
        order = cand[np.lexsort((cand, red[cand], self.prog.issue[cand]))]
        iss = self.prog.issue[order]
        first = np.searchsorted(iss, iss)  # where each issue's run starts
        rank = np.arange(len(order)) - first
        return np.sort(order[rank < PER_ISSUE])


@lru_cache(maxsize=32)
def _solver(problem: Problem, mech: Mechanics | None) -> _Solver:
    return (_ColumnSolver if generates_columns(problem) else _Solver)(problem, mech)


def _objections(problem: Problem, mech: Mechanics | None, proposer: int, x: FloatArray) -> tuple[list[int], list[int]]:
    """Issues to leave at the status quo because a certain veto, or a collective's member,
    blocks ``x``: (veto issues, collective issues)."""
    if mech is None:
        return [], []
    sq = problem.space.status_quo
    certain = [i for i in mech.patrons_of(proposer) if i.veto and i.veto_strength >= 1.0]
    kept = sorted({i for inf in certain for i in inf.veto if veto_objection(problem, inf, x, sq) is not None})
    held: list[int] = []
    if any(c.included for c in mech.collectives) and collective_refusals(problem, mech, x, sq):
        held = sorted({i for c in mech.collectives if c.included for i in c.issues})
    return kept, held


def frontier_offer(
    problem: Problem,
    proposer: int,
    demands: FloatArray,
    mech: Mechanics | None = None,
) -> Offer | None:
    """The proposer's offer given every actor's current demand (``(A,)``, in the utility each
    judges offers by: its patrons' gains weighed in). ``demands[proposer]`` is its own
    ``max(aspiration, reservation)``. ``None``: nothing feasible beats no deal for it.

    Offers are kept by their inputs (the replicates of a sweep point meet the same demands
    round after round); each is what a fresh search gives, so keeping them changes nothing."""
    d = np.ascontiguousarray(demands, dtype=float)
    mk = _mech_key(mech, proposer)
    kept = _kept_offers(problem)
    key = (proposer, d.tobytes(), mk)
    try:
        hit = kept[key]
    except KeyError:
        hit = kept[key] = _frontier_offer(problem, proposer, key[1], mk)
        if len(kept) > offer_cache_size(problem):
            kept.popitem(last=False)  # the least recently used
        return hit
    kept.move_to_end(key)
    return hit


#: Memory the offers kept for one problem may take (each holds a package, every actor's
#: utility of it and its key, the demands): past it the least recently used are dropped.
OFFER_CACHE_BYTES = 64 * 2**20


def offer_cache_size(problem: Problem) -> int:
    """How many offers are kept per problem: at least 4,096 (the size of the one cache all
    problems shared before), and as many as ``OFFER_CACHE_BYTES`` holds, so that every
    proposer's offers over the rounds of a run stay kept for its replicates (the baseline's 6
    actors x 20 issues: about 100,000; 100 actors x 500 issues: about 11,000)."""
    per = 8 * (problem.space.n_issues + 2 * problem.n_actors) + 400  # arrays, key, objects
    return max(4096, OFFER_CACHE_BYTES // per)


def _kept_offers(problem: Problem) -> OrderedDict[tuple[int, bytes, Mechanics | None], Offer | None]:
    """The offers kept for ``problem`` (on the problem: they go with it), least recently used first."""
    kept = problem.__dict__.get("_kept_offers")
    if kept is None:
        kept = problem.__dict__["_kept_offers"] = OrderedDict()
    return kept


def _frontier_offer(problem: Problem, proposer: int, key: bytes, mech: Mechanics | None) -> Offer | None:
    demands = np.frombuffer(key, dtype=float)
    solver = _solver(problem, mech)
    parties = list(problem.parties)
    others = [a for a in parties if a != proposer]
    floor_p = float(problem.reservation[proposer])
    own = max(float(demands[proposer]), floor_p)
    sq = problem.space.status_quo
    res = {a: float(problem.reservation[a]) for a in others}
    fixed: dict[int, float] = {}
    for _attempt in range(3):
        # meet: every party's demand, the proposer's included, with the excess split equally
        soft = {a: (own if a == proposer else float(demands[a])) for a in parties}
        meet = solver.solve(soft, {}, fixed)
        decided = solver.exact
        if meet is not None and meet[0] >= -MEET_TOL:
            offer = Offer(meet[1], problem.utility(meet[1]), "meet", meet[0])
        else:
            prop = solver.solve(res, {proposer: own}, fixed, after_last=True)
            if prop is not None:
                offer = Offer(prop[1], problem.utility(prop[1]), "propose", prop[0], decided)
            else:  # its demand is above anything feasible: its own best, if that beats no deal
                top = solver.solve({proposer: 0.0}, {}, fixed, polish=False, after_last=True)
                if top is None:
                    return None
                level = top[0] * float(solver.span[proposer]) - 1e-9
                if level < floor_p - 1e-9:
                    return None
                prop = solver.solve(res, {proposer: level}, fixed, after_last=True)
                if prop is None:
                    return None
                offer = Offer(prop[1], problem.utility(prop[1]), "best", prop[0], decided)
        kept, held = _objections(problem, mech, proposer, offer.package)
        if not kept and not held:
            gains = offer.utilities[parties] > problem.reservation[parties] + 1e-9
            if np.all(np.abs(offer.package - sq) <= 1e-9) and not gains.any():
                return None  # the status quo is no offer when it is what no deal gives
            return offer
        for i in kept + held:
            fixed[i] = float(sq[i])
    return None


def lp_dominating(problem: Problem, package: FloatArray, tol: float = 1e-6) -> FloatArray | None:
    """A feasible package that leaves every party at least as well off as ``package`` and one
    better by more than ``tol``, by the program (``None`` if there is none): every party's
    utility of ``package`` is its demand, and the polish maximises their total normalised utility
    keeping it. Exact for linear utilities, where the grid search behind
    ``model.core.analysis.find_dominating`` only samples; used when the problem is ``boxless``."""
    parties = list(problem.parties)
    u0 = problem.utility(np.asarray(package, dtype=float))
    hit = _solver(problem, None).solve({a: float(u0[a]) for a in parties}, {}, {})
    if hit is None:
        return None
    u = problem.utility(hit[1])
    if np.all(u[parties] >= u0[parties] - 1e-9) and np.any(u[parties] > u0[parties] + tol):
        return hit[1]
    return None


def lp_frontier_packages(problem: Problem, a: int, b: int, n: int) -> FloatArray:
    """Packages on the Pareto frontier of actors ``a`` and ``b`` over the feasible set, by the
    program: for ``n`` levels of ``u_b`` from what ``a``'s best leaves it up to its own best,
    the most ``a`` can get with ``b`` at that level (``(k, I)``, ``k <= n``). The boxless
    counterpart of the weighted sums behind ``model.core.analysis.pareto_frontier``; it also
    finds the frontier's non-supported (concave) stretches that weighted sums miss."""
    solver = _plain_solver(problem)
    first = solver.solve({a: 0.0}, {}, {}, polish=False)
    top = solver.solve({b: 0.0}, {}, {}, polish=False)
    if first is None or top is None:
        return np.zeros((0, problem.space.n_issues))
    low, high = float(problem.utility(first[1])[b]), float(problem.utility(top[1])[b])
    out = [first[1], top[1]]
    for level in np.linspace(low, high, n)[1:-1]:
        hit = solver.solve({a: 0.0}, {b: float(level)}, {}, polish=False)
        if hit is not None:
            out.append(hit[1])
    return np.array(out)


def lp_compromise(problem: Problem) -> FloatArray | None:
    """The feasible package whose worst-off party gains most in normalised surplus over its
    reservation (``None`` if nothing is feasible), by the program: the boxless counterpart of
    ``model.core.analysis.best_compromise``, normalised by the utopia as the offers are."""
    hit = _solver(problem, None).solve({a: float(problem.reservation[a]) for a in problem.parties}, {}, {})
    return None if hit is None else hit[1]


def most_for(problem: Problem, actor: int, demands: dict[int, float], mech: Mechanics | None = None,
             unit: bool = False) -> float | None:
    """The most ``actor`` can get (as it judges offers) from a feasible package that gives every
    other party in ``demands`` at least its demand; ``None`` if no package does. ``unit``: by a
    one-off program with unit spans and no patrons' pull (the offers' own program is normalised
    by the utopia point, which this then does not compute)."""
    solver = _plain_solver(problem) if unit else _solver(problem, _mech_key(mech, actor))
    hit = solver.solve({actor: 0.0}, demands, {}, polish=False)
    return None if hit is None else hit[0] * float(solver.span[actor])


def demands_of(
    problem: Problem, aspiration: FloatArray, margin: float = 0.0, proposer: int | None = None
) -> FloatArray:
    """Every actor's demand: ``max(aspiration, reservation)``, plus ``margin`` for all but the proposer."""
    d = np.maximum(np.asarray(aspiration, dtype=float), problem.reservation)
    if margin:
        d = d + margin
        if proposer is not None:
            d[proposer] -= margin
    return d


def judged_utilities(problem: Problem, mech: Mechanics | None, u: FloatArray) -> FloatArray:
    """Utilities as each actor judges an offer (its patrons' gains weighed in)."""
    return u if mech is None else effective_utility(u, problem.reservation, mech)


def offers_against_beliefs(
    problem: Problem, proposer: int, floor_sets: list[FloatArray], mech: Mechanics | None = None
) -> list[Offer]:
    """A proposer's candidate offers when others' floors are private (``model.core.beliefs``).

    ``floor_sets``: demand vectors, each the others' *believed* floors at one belief quantile and
    the proposer's own demand. For each: the frontier offer of those demands (the rule above), and,
    when the proposer's demand is more than those floors leave it, the offer that gives every
    other party exactly its believed floor and the proposer the rest (``most_for``). Distinct
    packages, in the order found. The public path (``frontier_offer`` on the true demands) is
    untouched: this is only called when some information is private."""
    out: list[Offer] = []
    seen: set[bytes] = set()
    parties = list(problem.parties)

    def add(hit: Offer | None) -> None:
        if hit is not None and hit.package.tobytes() not in seen:
            seen.add(hit.package.tobytes())
            out.append(hit)

    for d in floor_sets:
        add(frontier_offer(problem, proposer, d, mech))
        others = {a: float(d[a]) for a in parties if a != proposer}
        level = most_for(problem, proposer, others, mech) if others else None
        if level is not None and level < float(d[proposer]) - 1e-9:
            d2 = np.array(d, dtype=float)
            d2[proposer] = level - 1e-9
            add(frontier_offer(problem, proposer, d2, mech))
    return out
