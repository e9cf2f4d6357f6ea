"""The mediator's single negotiating text: one draft, revised round by round in answer to objections.

Raiffa (1982, *The Art and Science of Negotiation*, ch. 14) describes the single negotiating text
used at Camp David: instead of the parties trading offers, a mediator writes one draft agreement,
asks each side not to accept or reject it but to criticise it, and rewrites it in the light of the
criticisms, again and again, until no side can improve it for itself without hurting the others.
Klein, Faratin, Sayama & Bar-Yam (2003, "Negotiating complex contracts", *Group Decision and
Negotiation* 12) formalise this as mediated single-text negotiation: a mediator proposes changes
to one contract, the parties respond, and the mediator keeps the changes that the parties' answers
support. This module is the pure numpy rule of one revision; the Mesa shell calls ``revise_text``
once per round with each actor's current *need* (its aspiration, never below its reservation).

All texts are grid packages: one grid index per issue into ``problem.space.grid``. A text is
*feasible* when it crosses no party's red line, i.e. lies in one of the feasible boxes.
*Normalised surplus* is ``(u_a - r_a) / (best_a - r_a)``: 0 at the actor's reservation utility, 1 at
its best feasible package.

**The first draft** (``initial_text``): the feasible grid package with the largest sum over the
parties of normalised surplus (the utilitarian text, found issue by issue inside each feasible box;
ties go to the first box). With no feasible box there is no text: ``ValueError``.

**One revision** (``revise_text``):

1. *Objections.* Every party whose need the text does not meet names one change: the single-issue
   move that raises its own utility most, among the moves that keep the text feasible and move the
   issue at most ``max_step`` from its current value. On an issue whose grid points lie further
   apart than ``max_step`` (an ordinal issue with few levels) the next grid point on either side is
   also allowed, so that no issue is frozen. Ties go to the lowest issue, then the lowest grid
   index. A party with no move that raises its utility makes no objection.
2. *Candidates.* The mediator considers (a) each objection alone, in party order; (b) all objections
   together, if they name different issues (or the same value) and the result is feasible; (c) each
   of these combined with a compensating move for the party hurt most by it (the largest drop in
   normalised surplus against the current text; lowest index on ties; none if nobody loses): that
   party's best single-issue move, by the rule of step 1, on an issue none of the applied objections
   touches, that keeps the text feasible and raises its utility.
3. *Choice.* The objective of a text is, first, the smallest normalised surplus among the parties
   whose need the current text does not meet and, second, the sum of normalised surplus over all
   parties. The mediator takes the candidate with the best objective (the lowest candidate index on
   exact ties, in the order a, b, c) and adopts it only if its objective is strictly better than the
   current text's; otherwise the text stays as it is (``changed=False``). When every party's need is
   met nobody objects and the text stays.

The revised text never leaves the feasible region: every candidate is checked against the boxes.
The rule is deterministic; ``rng`` is accepted so that the shell can pass its generator (and for
random candidate moves in a later variant) but is not used, so the same inputs always give the
same revision.

**Implementation.** Utilities are additive, so every party's gain from every single-issue move is
one array over ``(party, issue, grid index)``, and the candidates' utilities are added up issue by
issue exactly as ``Problem.grid_utility`` does. Which moves keep a feasible text feasible depends
only on the issues where the boxes' masks differ (elsewhere every box admits the same points), so
feasibility is looked up from per-problem tables and, on those few issues, remembered per text.
The revision depends on ``need`` only through the set of parties whose need the text does not
meet, so revisions are remembered per problem by (text, unmet parties, ``max_step``), and each
text's utilities and red-line checks by text. Tables and memos live as long as the problem.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from model.core.problem import Problem
from model.core.search import normalised_surplus
from model.core.space import EPS, BoolArray, FloatArray

#: Smallest change of utility or objective that counts as an improvement (guards against rounding).
_TOL = 1e-12

#: How many texts and revisions are remembered per problem (the oldest are forgotten first).
_MEMO_SIZE = 8192

#: A single-issue move: (issue index, grid index).
Move = tuple[int, int]

#: What ``_revise`` finds: the revised text, whether it changed, the objections.
_Found = tuple[np.ndarray, bool, dict[int, Move]]

#: What is remembered of a text: the text (``int`` indices), its utilities ``(A,)``, whose red
#: lines it keeps ``(A,)`` and whether it lies in a feasible box.
_TextInfo = tuple[np.ndarray, FloatArray, BoolArray, bool]


@dataclass(frozen=True, eq=False)
class Revision:
    """The outcome of one round of the single negotiating text.

    Attributes:
        text: ``(I,)`` grid indices of the revised text (equal to the old one when unchanged).
        changed: whether the mediator adopted a revision.
        objections: party index -> ``(issue index, grid index it asked for)``.
        satisfied: ``(A,)`` whose need the revised text meets (its red lines hold and ``u >= need``).
    """

    text: np.ndarray
    changed: bool
    objections: dict[int, tuple[int, int]]
    satisfied: np.ndarray


def initial_text(problem: Problem) -> np.ndarray:
    """The mediator's first draft: the feasible grid package maximising the parties' total normalised surplus.

    Raises:
        ValueError: no package satisfies every party's red lines.
    """
    if len(problem.boxes) == 0:
        raise ValueError("no package satisfies every party's red lines: there is no text to draft")
    tb = _tables(problem)
    if tb.initial is None:
        parties = tb.party_list
        span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
        coefs = np.zeros((1, problem.n_actors))
        coefs[0, parties] = 1.0 / span[parties]
        idx = problem.maximize_weighted_indexed(coefs, values=False)[1]  # (B, I)
        total = normalised_surplus(problem, problem.grid_utility(idx))[:, parties].sum(axis=1)
        best = int(np.argmax(total))
        tb.initial = np.array(idx[best], dtype=int)
    return tb.initial.copy()


def revise_text(
    problem: Problem,
    text: np.ndarray,
    need: np.ndarray,
    rng: np.random.Generator,
    max_step: float = 0.25,
) -> Revision:
    """One round: the parties object to the text, the mediator revises it (see the module docstring).

    Args:
        problem: the negotiation.
        text: ``(I,)`` grid indices of the current text (a feasible text, as ``initial_text`` and
            earlier revisions give).
        need: ``(A,)`` each actor's current acceptance threshold.
        rng: the shell's generator; not used (the rule is deterministic).
        max_step: how far, on the issue's [0, 1] scale, one move may shift an issue.
    """
    del rng  # deterministic rule; see the module docstring
    tb = _tables(problem)
    t, u_now, lines_now, feasible = tb.text_info(problem, text)
    need = np.asarray(need, dtype=float)
    if need.shape != (problem.n_actors,):
        raise ValueError(f"need has shape {need.shape}, expected ({problem.n_actors},)")
    limit = need - 1e-9
    meets = lines_now & (u_now >= limit)
    unmet = tuple(tb.parties[~meets[tb.parties]].tolist())

    key = (t.tobytes(), unmet, max_step)
    found = tb.revisions.get(key)
    if found is None:
        found = _revise(problem, tb, t, u_now, feasible, unmet, max_step)
        _remember(tb.revisions, key, found)
    new_text, changed, objections = found
    if changed:
        new_text, u_new, lines_new, _ = tb.text_info(problem, new_text)
    else:
        new_text, u_new, lines_new = t, u_now, lines_now
    satisfied = np.asarray(lines_new & (u_new >= limit), dtype=bool)
    return Revision(new_text.copy(), changed, dict(objections), satisfied)


def text_offer(problem: Problem, text: np.ndarray) -> tuple[FloatArray, FloatArray, bool]:
    """What the shell puts on the table for a text: its package values ``(I,)``, every actor's
    utility of them (``Problem.utility``, ``(A,)``) and whether they cross no party's red line.
    Remembered per problem and text, so asking again for the same text costs nothing."""
    tb = _tables(problem)
    t = tb.text_info(problem, text)[0]
    return tb.offer(problem, t)


# ---------------------------------------------------------------------------- per-problem tables


class _Tables:
    """What the revision rule needs of one problem, computed once, and the memos of texts and
    revisions. Grid point g of issue i has the flat index ``i * G + g``."""

    def __init__(self, problem: Problem) -> None:
        grid = problem.space.grid
        n_i, n_g = grid.shape
        self.n_i, self.n_g = n_i, n_g
        self.rows = np.arange(n_i)
        self.offset = self.rows * n_g
        self.parties = np.array(problem.parties, dtype=int)
        self.party_list = list(problem.parties)
        self.wv = problem.weighted_values  # (A, I, G)
        self.wv_flat = self.wv.reshape(self.wv.shape[0], -1)  # (A, I * G)
        self.wv_by_point = np.ascontiguousarray(self.wv.transpose(1, 2, 0)).reshape(n_i * n_g, -1)  # (I * G, A)
        self.bm = problem.box_masks  # (B, I, G)
        self.bm_flat = self.bm.reshape(self.bm.shape[0], -1)  # (B, I * G)
        self.span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
        self.lines_ok = problem.redlines.grid_checker(grid)
        self.views: dict[bool, _View] = {}
        self.texts: dict[bytes, _TextInfo] = {}
        self.offers: dict[bytes, tuple[FloatArray, FloatArray, bool]] = {}
        self.moves: dict[tuple[bytes, float], list[Move | None]] = {}
        self.revisions: dict[tuple[bytes, tuple[int, ...], float], _Found] = {}
        self.initial: np.ndarray | None = None

    def utilities(self, texts: np.ndarray) -> FloatArray:
        """``Problem.grid_utility(texts)`` ``(n, A)``, the same numbers: for each text and actor the
        issues' terms are added up in the same order (the gather only lays them out in memory as
        ``grid_utility``'s does, issue-major with the actors innermost)."""
        return self.wv_by_point[texts + self.offset].sum(axis=1)

    def view(self, feasible: bool) -> _View:
        """How the boxes are seen from a text: from a feasible text only the issues on which the
        boxes differ need looking at (``_View``); from any other, every issue."""
        v = self.views.get(feasible)
        if v is None:
            if feasible:
                v = _View(self, np.flatnonzero((self.bm != self.bm[:1]).any(axis=(0, 2))), self.bm[0])
            else:
                v = _View(self, self.rows, None)
            self.views[feasible] = v
        return v

    def text_info(self, problem: Problem, text: np.ndarray) -> _TextInfo:
        """What is known of a text (checked on first sight: ``ValueError`` if it is malformed)."""
        t = np.asarray(text)
        found = None
        if t.shape == (self.n_i,) and t.dtype.kind in "iu":
            found = self.texts.get(t.astype(int).tobytes())
        if found is None:
            t = _check_text(problem, text)
            u = problem.grid_utility(t[None, :])[0]
            found = self.add_text(problem, t, u, bool(self.bm_flat[:, t + self.offset].all(axis=1).any()))
        return found

    def add_text(self, problem: Problem, text: np.ndarray, u: FloatArray, feasible: bool) -> _TextInfo:
        """Remember a valid text with its utilities (as ``Problem.grid_utility`` gives them) and
        whether it lies in a feasible box."""
        lines_ok = self.lines_ok(text)
        for a in (text, u, lines_ok):
            a.setflags(write=False)
        found = (text, u, lines_ok, feasible)
        _remember(self.texts, text.tobytes(), found)
        return found

    def offer(self, problem: Problem, text: np.ndarray) -> tuple[FloatArray, FloatArray, bool]:
        """A remembered text's package values, every actor's ``Problem.utility`` of them and
        whether they cross no party's red line (copies)."""
        key = text.tobytes()
        found = self.offers.get(key)
        if found is None:
            values = problem.space.grid[self.rows, text].astype(float)
            lines_ok = self.text_info(problem, text)[2]
            found = (values, problem.utility(values), bool(lines_ok[self.parties].all()))
            _remember(self.offers, key, found)
        return found[0].copy(), found[1].copy(), found[2]


class _View:
    """The boxes restricted to the issues ``V`` that decide feasibility of single-issue moves.

    From a text inside a feasible box every box admits the text's value on each issue where all
    boxes have the same mask (such a box admits it there), so on those issues the moves that keep
    the text feasible are the common mask's points, and whether a box admits a text depends only
    on its values on ``V``. The same holds for every candidate text, all feasible. The view of a
    text outside every box takes ``V`` = all issues (nothing is assumed).
    """

    def __init__(self, tb: _Tables, varying: np.ndarray, common: BoolArray | None) -> None:
        self.tb = tb
        self.v = varying
        self.n_v = len(varying)
        self.offset = np.arange(self.n_v) * tb.n_g
        self.bm = tb.bm[:, varying, :]  # (B, |V|, G)
        self.bm_flat = self.bm.reshape(self.bm.shape[0], -1)  # (B, |V| * G)
        # where a move may go as far as the boxes are concerned, off V: the common mask
        self.common = np.ones((tb.n_i, tb.n_g), dtype=bool)
        if common is not None:
            off = np.setdiff1d(tb.rows, varying)
            self.common[off] = common[off]
        self.step_masks: dict[float, BoolArray] = {}
        self.reached: dict[bytes, BoolArray] = {}

    def steps(self, problem: Problem, max_step: float) -> BoolArray:
        """``(I * G, G)``: from grid point t of issue i (flat index), the grid indices of issue i one
        move may reach (a real change, within ``max_step`` or the next grid point on either side),
        off ``V`` limited to the common mask."""
        s = self.step_masks.get(max_step)
        if s is None:
            grid, mask = problem.space.grid, problem.space.grid_mask
            cols = np.arange(self.tb.n_g)
            near = np.abs(grid[:, None, :] - grid[:, :, None]) <= max_step + EPS  # [i, t, g]
            neighbour = np.abs(cols[None, :] - cols[:, None]) == 1  # [t, g]
            other = cols[None, :] != cols[:, None]
            s = ((mask & self.common)[:, None, :] & (near | neighbour[None]) & other[None]).reshape(-1, self.tb.n_g)
            self.step_masks[max_step] = s
        return s

    def reach(self, texts: np.ndarray) -> list[BoolArray]:
        """For each of ``texts`` ``(n, I)``: ``(I, G)``, true off ``V`` and, on each issue of ``V``, at
        the grid points that some box admits together with the text's values on the other issues
        of ``V`` (remembered by the text's values on ``V``)."""
        tv = texts[:, self.v]
        keys = [row.tobytes() for row in tv]
        found = [self.reached.get(k) for k in keys]
        missing = [n for n, f in enumerate(found) if f is None]
        if missing:
            inbox = self.bm_flat[:, tv[missing] + self.offset]  # (B, m, |V|): box b admits the value
            others_ok = inbox.sum(axis=2, keepdims=True) - inbox >= self.n_v - 1
            new = np.ones((len(missing), self.tb.n_i, self.tb.n_g), dtype=bool)
            new[:, self.v] = (others_ok[..., None] & self.bm[:, None]).any(axis=0)
            new.setflags(write=False)
            for n, w in zip(missing, new, strict=True):
                found[n] = w
                _remember(self.reached, keys[n], w)
        return found  # type: ignore[return-value]

    def allowed(self, problem: Problem, texts: np.ndarray, max_step: float) -> BoolArray:
        """Single-issue moves from each of ``texts`` ``(n, I)``: ``(n, I, G)``, true where setting
        issue i to grid index g is a real change, within the step limit, and keeps the text feasible."""
        ok = self.steps(problem, max_step)[texts + self.tb.offset]
        if self.n_v:
            reach = self.reach(texts)
            ok &= reach[0] if len(reach) == 1 else np.array(reach)
        return ok

    def feasible(self, text: np.ndarray) -> bool:
        """Whether a text that differs from a feasible one (of this view) only by moves it allows
        lies in a feasible box."""
        return bool(self.bm_flat[:, text[self.v] + self.offset].all(axis=1).any())


_TABLES: weakref.WeakKeyDictionary[Problem, _Tables] = weakref.WeakKeyDictionary()


def _tables(problem: Problem) -> _Tables:
    tb = _TABLES.get(problem)
    if tb is None:
        tb = _TABLES[problem] = _Tables(problem)
    return tb


def _remember(memo: dict, key: object, value: object) -> None:  # type: ignore[type-arg]
    if len(memo) >= _MEMO_SIZE:
        memo.pop(next(iter(memo)))  # the oldest
    memo[key] = value


# ---------------------------------------------------------------------------- the rule


def _check_text(problem: Problem, text: np.ndarray) -> np.ndarray:
    t = np.asarray(text)
    n_i, n_g = problem.space.grid.shape
    if t.shape != (n_i,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"text must be {n_i} integer grid indices, got shape {t.shape} and dtype {t.dtype}")
    if np.any(t < 0) or np.any(t >= n_g) or not np.all(problem.space.grid_mask[np.arange(n_i), t]):
        raise ValueError(f"text has grid indices outside the issues' grids: {t.tolist()}")
    return t.astype(int)


def _best(gain: FloatArray, ok: BoolArray) -> list[Move | None]:
    """Row by row of ``gain`` and ``ok`` ``(n, I, G)``: the best allowed move (issue, grid index), or
    ``None`` when it raises utility by no more than ``_TOL``. Ties: lowest issue, then lowest grid index."""
    n, _, n_g = gain.shape
    flat = np.where(ok, gain, -np.inf).reshape(n, -1)
    arg = flat.argmax(axis=1).tolist()
    raises = (flat.max(axis=1) > _TOL).tolist()
    return [divmod(a, n_g) if r else None for a, r in zip(arg, raises, strict=True)]


def _revise(
    problem: Problem,
    tb: _Tables,
    text: np.ndarray,
    u_now: FloatArray,
    feasible: bool,
    unmet: tuple[int, ...],
    max_step: float,
) -> _Found:
    """The revised text, whether it changed and the objections (steps 1-3 of the module docstring).

    Every party's gain from every single-issue move off ``text`` is one array, ``gain[a, i, g] =
    wv[a, i, g] - wv[a, i, text[i]]``. A compensating move never touches the issues the
    objections moved, and on the other issues a candidate keeps the text's values, so its gains
    are the same entries of that array (the same numbers); only which moves keep it feasible
    differ. Candidates' utilities are computed row by row as ``Problem.grid_utility`` does.
    """
    objections: dict[int, Move] = {}
    if not unmet:
        return text, False, objections
    view = tb.view(feasible)
    gain = tb.wv - tb.wv_flat[:, text + tb.offset][:, :, None]  # (A, I, G)
    key = (text.tobytes(), max_step)
    best = tb.moves.get(key)  # every actor's best move off the text
    if best is None:
        best = _best(gain, view.allowed(problem, text[None, :], max_step))
        _remember(tb.moves, key, best)
    objectors = list(unmet)
    for a in objectors:
        move = best[a]
        if move is not None:
            objections[a] = move
    if not objections:
        return text, False, objections

    base, touched = _candidate_rows(text, list(objections.values()), view)
    texts = np.array(base)
    parties = tb.party_list
    reservation, span = problem.reservation, tb.span
    s_now = (u_now - reservation) / span
    u = tb.utilities(texts)
    s = (u - reservation) / span
    s_now_l = s_now.tolist()
    s_rows = s.tolist()
    comp, hurt = [], []
    for c, s_c in enumerate(s_rows):
        drop = [s_now_l[a] - s_c[a] for a in parties]
        top = max(drop)
        if top > _TOL:
            comp.append(c)
            hurt.append(parties[drop.index(top)])  # the party hurt most (lowest index on ties)
    cands = texts
    if comp:  # (c) each with a compensating move for that party, off the issues it touches
        ok = view.allowed(problem, texts[comp], max_step)
        ok[[n for n, c in enumerate(comp) for _ in touched[c]], [i for c in comp for i in touched[c]]] = False
        extra = []
        for c, move in zip(comp, _best(gain[hurt], ok), strict=True):
            if move is not None:
                extra.append(base[c].copy())
                extra[-1][move[0]] = move[1]
        if extra:
            more = np.array(extra)
            cands = np.concatenate([texts, more])
            u = np.concatenate([u, tb.utilities(more)])
            s = (u - reservation) / span
            s_rows = s.tolist()

    k = _choice(s_now, s, s_rows, objectors, parties)
    if k is not None:
        new = cands[k].copy()
        tb.add_text(problem, new, u[k].copy(), True)
        return new, True, objections
    return text, False, objections


def _candidate_rows(text: np.ndarray, moves: list[Move], view: _View) -> tuple[list[list[int]], list[list[int]]]:
    """Candidates (a) each objection alone (feasible by construction), (b) all together if they
    do not clash and stay feasible; as lists (a handful of short rows), with the issues each moved."""
    row = text.tolist()
    base: list[list[int]] = []
    touched: list[list[int]] = []
    for i, v in moves:
        base.append(row.copy())
        base[-1][i] = v
        touched.append([i])
    if len(moves) > 1:
        asked: dict[int, int] = {}
        clash = False
        for i, v in moves:
            clash |= asked.setdefault(i, v) != v
        if not clash:
            both = row.copy()
            for i, v in asked.items():
                both[i] = v
            if view.feasible(np.array(both)):
                base.append(both)
                touched.append(list(asked))
    return base, touched


def _choice(
    s_now: FloatArray, s: FloatArray, s_rows: list[list[float]], objectors: list[int], parties: list[int]
) -> int | None:
    """The candidate that raises the objectors' worst normalised surplus most (then the parties'
    total), if it improves on the text; ``None`` if none does."""
    s_now_l = s_now.tolist()
    cur = (min(s_now_l[a] for a in objectors), float(s_now[parties].sum()))
    worst = [min(s_c[a] for a in objectors) for s_c in s_rows]
    total = s[:, parties].sum(axis=1).tolist()
    w_top = max(worst) - _TOL
    t_top = max(t for w, t in zip(worst, total, strict=True) if w >= w_top) - _TOL
    k = next(n for n, (w, t) in enumerate(zip(worst, total, strict=True)) if w >= w_top and t >= t_top)
    if worst[k] > cur[0] + _TOL or (worst[k] >= cur[0] - _TOL and total[k] > cur[1] + _TOL):
        return k
    return None
