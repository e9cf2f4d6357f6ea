"""The fast single negotiating text (model.core.mediated) gives exactly what the straightforward rule gives.

``reference_revise`` below is the rule as first written (one party, one text at a time, every
feasibility check against all boxes, nothing remembered); the module computes all moves as
arrays, looks at the boxes only on the issues where they differ and remembers texts and
revisions per problem. Both must agree bit for bit: texts, objections, ``changed`` and
``satisfied``, on random problems, on the shipped scenarios, from feasible and infeasible texts,
and when a revision is asked for again (from the memo).
"""

from __future__ import annotations

import glob

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import core
from model import scenario as scn
from model.core import mediated
from model.core.mediated import initial_text, revise_text, text_offer
from model.core.redlines import RedLine
from model.core.search import normalised_surplus
from model.core.space import EPS
from tests.test_mediated import make_problem, random_problems, tiny_problem

_TOL = 1e-12


# ---------------------------------------------------------------------------- the straightforward rule


def _meets(problem: core.Problem, text: np.ndarray, u: np.ndarray, need: np.ndarray) -> np.ndarray:
    values = problem.space.grid[np.arange(problem.space.n_issues), text]
    lines_ok = problem.redlines.satisfied(values[None, :])[0]
    return np.asarray(lines_ok & (u >= need - 1e-9), dtype=bool)


def _feasible(problem: core.Problem, texts: np.ndarray) -> np.ndarray:
    n_i = problem.space.n_issues
    inside = problem.box_masks[:, np.arange(n_i)[None, :], texts]
    return np.asarray(inside.all(axis=2).any(axis=0), dtype=bool)


def _allowed_moves(problem: core.Problem, text: np.ndarray, max_step: float) -> np.ndarray:
    grid, mask, bm = problem.space.grid, problem.space.grid_mask, problem.box_masks
    n_i, n_g = grid.shape
    rows = np.arange(n_i)
    cur = grid[rows, text]
    cols = np.arange(n_g)[None, :]
    near = np.abs(grid - cur[:, None]) <= max_step + EPS
    neighbour = np.abs(cols - text[:, None]) == 1
    step_ok = mask & (near | neighbour) & (cols != text[:, None])
    inbox = bm[:, rows, text]
    others_ok = inbox.sum(axis=1, keepdims=True) - inbox >= n_i - 1
    reach = (others_ok[:, :, None] & bm).any(axis=0)
    return np.asarray(step_ok & reach, dtype=bool)


def _best_move(
    problem: core.Problem, actor: int, text: np.ndarray, allowed: np.ndarray, exclude: frozenset[int]
) -> tuple[int, int] | None:
    wv = problem.weighted_values[actor]
    rows = np.arange(wv.shape[0])
    gain = wv - wv[rows, text][:, None]
    ok = allowed.copy()
    if exclude:
        ok[sorted(exclude), :] = False
    gain = np.where(ok, gain, -np.inf)
    i, g = divmod(int(np.argmax(gain)), wv.shape[1])
    if not gain[i, g] > _TOL:
        return None
    return int(i), int(g)


def _candidates(
    problem: core.Problem, text: np.ndarray, objections: dict[int, tuple[int, int]], max_step: float
) -> np.ndarray:
    base: list[tuple[np.ndarray, frozenset[int]]] = []
    for i, g in objections.values():
        t = text.copy()
        t[i] = g
        base.append((t, frozenset({i})))
    if len(objections) > 1:
        asked: dict[int, int] = {}
        clash = False
        for i, g in objections.values():
            clash |= asked.setdefault(i, g) != g
        if not clash:
            t = text.copy()
            for i, g in asked.items():
                t[i] = g
            if _feasible(problem, t[None, :])[0]:
                base.append((t, frozenset(asked)))
    parties = list(problem.parties)
    s_now = normalised_surplus(problem, problem.grid_utility(text[None, :])[0])[parties]
    s_base = normalised_surplus(problem, problem.grid_utility(np.array([t for t, _ in base])))[:, parties]
    out = [t for t, _ in base]
    for (t, issues), s in zip(base, s_base, strict=True):
        drop = s_now - s
        k = int(np.argmax(drop))
        if not drop[k] > _TOL:
            continue
        move = _best_move(problem, parties[k], t, _allowed_moves(problem, t, max_step), issues)
        if move is not None:
            c = t.copy()
            c[move[0]] = move[1]
            out.append(c)
    return np.array(out, dtype=int)


def reference_revise(
    problem: core.Problem, text: np.ndarray, need: np.ndarray, max_step: float = 0.25
) -> tuple[np.ndarray, bool, dict[int, tuple[int, int]], np.ndarray]:
    text = np.asarray(text).astype(int)
    parties = list(problem.parties)
    u_now = problem.grid_utility(text[None, :])[0]
    unmet = [a for a in parties if not _meets(problem, text, u_now, need)[a]]
    objections: dict[int, tuple[int, int]] = {}
    allowed = _allowed_moves(problem, text, max_step)
    for a in unmet:
        move = _best_move(problem, a, text, allowed, frozenset())
        if move is not None:
            objections[a] = move
    new_text, changed = text, False
    if objections:
        cands = _candidates(problem, text, objections, max_step)
        s_now = normalised_surplus(problem, u_now)
        cur = (float(s_now[unmet].min()), float(s_now[parties].sum()))
        s = normalised_surplus(problem, problem.grid_utility(cands))
        worst = s[:, unmet].min(axis=1)
        total = s[:, parties].sum(axis=1)
        top = worst >= worst.max() - _TOL
        k = int(np.flatnonzero(top & (total >= total[top].max() - _TOL))[0])
        if worst[k] > cur[0] + _TOL or (worst[k] >= cur[0] - _TOL and total[k] > cur[1] + _TOL):
            new_text, changed = cands[k].copy(), True
    u_new = problem.grid_utility(new_text[None, :])[0]
    return new_text, changed, objections, _meets(problem, new_text, u_new, need)


def assert_same(problem: core.Problem, text: np.ndarray, need: np.ndarray, step: float) -> np.ndarray:
    """The module's revision equals the reference's, asked twice (the second from the memo)."""
    want = reference_revise(problem, text, need, step)
    for _ in range(2):
        rev = revise_text(problem, text.copy(), need, np.random.default_rng(0), max_step=step)
        np.testing.assert_array_equal(rev.text, want[0])
        assert rev.text.dtype == want[0].dtype
        assert rev.changed == want[1]
        assert rev.objections == want[2]
        assert list(rev.objections) == list(want[2])  # party order
        np.testing.assert_array_equal(rev.satisfied, want[3])
        rev.text[:] = 0  # the caller's copy: changing it must not change what is remembered
    return want[0]


def all_texts(problem: core.Problem, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random valid grid texts (feasible or not)."""
    sizes = problem.space.grid_mask.sum(axis=1)
    return (rng.random((n, len(sizes))) * sizes).astype(int)


# ---------------------------------------------------------------------------- agreement


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problems(), st.integers(0, 2**32 - 1), st.sampled_from([0.05, 0.1, 0.25, 0.5]))
def test_revisions_equal_the_straightforward_rule_on_random_problems(
    case: tuple[core.Problem, np.ndarray], seed: int, step: float
) -> None:
    p, need = case
    rng = np.random.default_rng(seed)
    if p.boxes:  # a shell's run: from the first draft, with falling needs
        text = initial_text(p)
        for r in range(8):
            text = assert_same(p, text, np.maximum(need * (1 - r / 8), p.reservation), step)
    for text in all_texts(p, rng, 6):  # any valid text, inside the boxes or not
        assert_same(p, text, rng.random(p.n_actors) * 1.2, step)


@st.composite
def tied_problems(draw: st.DrawFn) -> core.Problem:
    """Few distinct numbers (and sometimes twin parties): equal gains, equal drops and equal
    objectives abound, so every tie-break of the rule is exercised."""
    n_a = draw(st.integers(2, 4))
    n_i = draw(st.integers(2, 3))
    coarse = st.sampled_from([0.0, 0.5, 1.0])
    ideal = [[draw(coarse) for _ in range(n_i)] for _ in range(n_a)]
    sal = [[draw(st.sampled_from([0.5, 1.0])) for _ in range(n_i)] for _ in range(n_a)]
    if draw(st.booleans()):  # a twin
        ideal[1], sal[1] = list(ideal[0]), list(sal[0])
    lines = [RedLine(0, 0, 0.0, 0.5, when_issue=1, when_above=0.5)] if draw(st.booleans()) else []
    ordinal = [n_i - 1] if draw(st.booleans()) else []
    return make_problem(ideal, sal, [draw(coarse) for _ in range(n_i)], lines, ordinal=ordinal)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problems(), st.integers(0, 2**32 - 1), st.sampled_from([0.25, 0.5]))
def test_ties_are_broken_as_the_straightforward_rule_breaks_them(p: core.Problem, seed: int, step: float) -> None:
    rng = np.random.default_rng(seed)
    for text in all_texts(p, rng, 8):
        assert_same(p, text, np.full(p.n_actors, 2.0), step)  # everybody objects
        assert_same(p, text, p.reservation + rng.choice([0.0, 0.2, 2.0], p.n_actors), step)


def test_the_party_hurt_most_is_the_first_on_ties() -> None:
    # found by search: two parties lose equally from the answer to the third's objection, and
    # compensating the first gives a better text than compensating the second
    p = make_problem([[0.0, 0.5, 1.0], [1.0, 0.0, 0.5], [1.0, 0.5, 0.0]], np.ones((3, 3)), [0.5, 1.0, 1.0])
    need = np.array([0.8666666666666667, 0.5333333333333334, 0.33333333333333337])
    assert_same(p, np.array([17, 16, 18]), need, 0.25)


@pytest.mark.parametrize("path", sorted(glob.glob("scenarios/*.yaml")))
def test_revisions_equal_the_straightforward_rule_on_the_scenarios(path: str) -> None:
    p = scn.load(path).problem
    rng = np.random.default_rng(7)
    text = initial_text(p)
    best = p.best_utility
    for r in range(12):
        need = p.reservation + (best - p.reservation) * (1 - r / 12) * rng.uniform(0.5, 1.2, p.n_actors)
        text = assert_same(p, text, need, 0.25)
    feasible = [t for t in all_texts(p, rng, 400) if _feasible(p, t[None, :])[0]][:10]
    for text in [*feasible, *all_texts(p, rng, 4)]:
        for step in (0.1, 0.25):
            assert_same(p, text, p.reservation + (best - p.reservation) * rng.uniform(0.3, 1.1, p.n_actors), step)


@pytest.mark.parametrize("seed", range(6))
def test_the_first_draft_is_unchanged_and_not_shared(seed: int) -> None:
    p = tiny_problem(seed)
    if not p.boxes:
        return
    first = initial_text(p)
    first[:] = -1
    again = initial_text(p)
    assert (again >= 0).all()
    np.testing.assert_array_equal(again, reference_initial_text(p))


def reference_initial_text(problem: core.Problem) -> np.ndarray:
    parties = list(problem.parties)
    span = np.maximum(problem.best_utility - problem.reservation, 1e-9)
    coefs = np.zeros((1, problem.n_actors))
    coefs[0, parties] = 1.0 / span[parties]
    idx = problem.maximize_weighted_indexed(coefs, values=False)[1]
    total = normalised_surplus(problem, problem.grid_utility(idx))[:, parties].sum(axis=1)
    return np.array(idx[int(np.argmax(total))], dtype=int)


# ---------------------------------------------------------------------------- the pieces


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 30), st.integers(1, 15), st.integers(0, 2**32 - 1))
def test_utilities_add_up_as_grid_utility_does(n_a: int, n_i: int, n: int, seed: int) -> None:
    """Bit for bit, whatever the number of actors, issues and texts (row by row, in any batch)."""
    rng = np.random.default_rng(seed)
    wv = rng.normal(size=(n_a, n_i, 9)) * 10.0 ** rng.integers(-3, 3, size=(n_a, n_i, 1))

    class Fake:  # only what _Tables reads for the utilities
        pass

    tb = Fake()
    tb.offset = np.arange(n_i) * 9  # type: ignore[attr-defined]
    tb.wv_by_point = np.ascontiguousarray(wv.transpose(1, 2, 0)).reshape(n_i * 9, -1)  # type: ignore[attr-defined]
    texts = rng.integers(0, 9, size=(n, n_i))
    want = wv[:, np.arange(n_i)[None, :], texts].sum(axis=2).T  # Problem.grid_utility
    got = mediated._Tables.utilities(tb, texts)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, want)
    for k in range(n):
        np.testing.assert_array_equal(mediated._Tables.utilities(tb, texts[k : k + 1])[0], want[k])  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problems(), st.integers(0, 2**32 - 1))
def test_the_grid_red_line_check_equals_satisfied(case: tuple[core.Problem, np.ndarray], seed: int) -> None:
    p, _ = case
    check = p.redlines.grid_checker(p.space.grid)
    rows = np.arange(p.space.n_issues)
    for text in all_texts(p, np.random.default_rng(seed), 20):
        want = p.redlines.satisfied(p.space.grid[rows, text][None, :])[0]
        np.testing.assert_array_equal(check(text), want)


@pytest.mark.parametrize("path", sorted(glob.glob("scenarios/*.yaml")))
def test_what_goes_on_the_table_is_what_the_shell_computed(path: str) -> None:
    p = scn.load(path).problem
    rows = np.arange(p.space.n_issues)
    for text in all_texts(p, np.random.default_rng(3), 20):
        for _ in range(2):
            values, u, parties_ok = text_offer(p, text)
            offer = p.space.grid[rows, text].astype(float)
            np.testing.assert_array_equal(values, offer)
            np.testing.assert_array_equal(u, p.utility(offer))
            assert parties_ok == bool(p.redlines.satisfied(offer)[0][list(p.parties)].all())
            values[:] = -1.0  # a copy: the remembered one stays
            u[:] = -1.0
