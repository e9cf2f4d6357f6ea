"""The fast tranche search (``model.core.tranche``) against the straightforward one it replaced:
the same boxes, masks, candidates and tranches, bit for bit, on the shipped scenarios' problems
at random states, caps and trust.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from model import scenario
from model.core.problem import Problem
from model.core.search import MU_GRID
from model.core.space import EPS
from model.core.tranche import (
    allowed_masks,
    choose_tranche,
    concession_mask,
    grid_index,
    relaxed_redlines,
    tranche_candidates,
    trusted_gain_table,
)
from tests.factories import small

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))


# -- the straightforward versions (as they were before the search was made fast) ---------------


def ref_concession_mask(problem: Problem, state: np.ndarray, controller: np.ndarray) -> np.ndarray:
    wv = problem.weighted_values
    idx = grid_index(problem, state)
    n_i = problem.space.n_issues
    here = wv[:, np.arange(n_i), idx]
    ok = np.ones(problem.space.grid.shape, dtype=bool)
    parties = np.array(problem.parties)
    for i in range(n_i):
        c = int(controller[i])
        if c < 0:
            continue
        others = parties[parties != c]
        if len(others):
            ok[i] = np.all(wv[others, i, :] >= here[others, i, None] - 1e-12, axis=0)
    return ok


def ref_allowed_masks(
    problem: Problem, state: np.ndarray, caps: np.ndarray, directions: np.ndarray | None
) -> np.ndarray:
    space = problem.space
    boxes = relaxed_redlines(problem.redlines, state).feasible_boxes(space, problem.parties)
    g = space.grid
    near = space.grid_mask & (np.abs(g - state[:, None]) <= caps[:, None] + EPS)
    if directions is not None:
        near &= directions
    fixed = list(problem.fixed)
    masks = []
    for b in boxes:
        m = near & (g >= b.lo[:, None] - EPS) & (g <= b.hi[:, None] + EPS)
        if fixed:
            m[fixed] &= np.abs(g[fixed] - state[fixed, None]) <= EPS
        if m.any(axis=1).all():
            masks.append(m)
    if not masks:
        return np.zeros((0, *g.shape), dtype=bool)
    return np.stack(masks)


def ref_tranche_candidates(
    problem: Problem, proposer: int, parties: list[int], gains: np.ndarray, masks: np.ndarray,
    state: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    n_a, n_i, n_g = gains.shape
    if len(masks) == 0:
        return np.zeros((0, n_i), dtype=int), np.zeros((0, n_a))
    others = [a for a in parties if a != proposer]
    any_mask = masks.any(axis=0)
    top = np.where(any_mask[None], gains, -np.inf).max(axis=2).clip(min=0.0).sum(axis=1)
    scale = 1.0 / np.maximum(top, 1e-9)
    coefs = np.zeros((len(MU_GRID), n_a))
    coefs[:, others] = scale[others]
    coefs[:, proposer] = MU_GRID * scale[proposer]
    score = np.einsum("ca,aig->cig", coefs, gains)
    if state is not None:
        score = score - 1e-9 * np.abs(problem.space.grid - state[:, None])[None]
    masked = np.where(masks[:, None], score[None], -np.inf)
    arg = masked.argmax(axis=-1).reshape(-1, n_i)
    arg = np.unique(arg, axis=0)
    u = gains[:, np.arange(n_i)[None, :], arg].sum(axis=2).T
    return arg, u


def ref_choose(problem: Problem, proposer: int, parties: list[int], state: np.ndarray, caps: np.ndarray,
               mult: np.ndarray, accept: np.ndarray, controller: np.ndarray | None,
               vetoed=None) -> tuple[np.ndarray, np.ndarray] | None:  # noqa: ANN001
    x_idx = grid_index(problem, state)
    gains = trusted_gain_table(problem, x_idx, mult)
    directions = None if controller is None else ref_concession_mask(problem, state, controller)
    masks = ref_allowed_masks(problem, state, caps, directions)
    idx, u = ref_tranche_candidates(problem, proposer, parties, gains, masks, state)
    if len(idx) == 0:
        return None
    others = [a for a in parties if a != proposer]
    ok = (u[:, proposer] > 1e-9) & np.all(u[:, others] >= accept[others] - 1e-12, axis=1)
    ok &= np.any(idx != x_idx[None, :], axis=1)
    if vetoed is not None and ok.any():
        cand = np.flatnonzero(ok)
        ok[cand[vetoed(problem.space.grid[np.arange(problem.space.n_issues)[None, :], idx[cand]])]] = False
    if not ok.any():
        return None
    cand = np.flatnonzero(ok)
    total = u[cand][:, others].sum(axis=1) if others else np.zeros(len(cand))
    best = cand[np.lexsort((total, np.round(u[cand, proposer], 12)))[-1]]
    return idx[best], u[best]


# -- random situations on the shipped scenarios ---------------------------------------------------


def problems() -> list[tuple[str, Problem, np.ndarray]]:
    out = []
    for f in FILES:
        sc = scenario.load(f)
        out.append((f.name, sc.problem, np.asarray(sc.mech.controller)))
    data, lines = scenario.load_data(SCENARIOS / "belarus_us_2025.yaml")
    data = copy.deepcopy(data)
    data["protocol"]["kind"] = "incremental"
    sc = scenario.parse(data, lines=lines)
    out.append(("baseline/incremental", sc.problem, np.asarray(sc.mech.controller)))
    d = small(protocol={"kind": "incremental", "max_rounds": 20})
    d["issues"][0]["controlled_by"] = "X"
    d["issues"][2]["controlled_by"] = "Y"
    sc = scenario.parse(d)
    out.append(("small", sc.problem, np.asarray(sc.mech.controller)))
    return out


PROBLEMS = problems()


def random_state(p: Problem, rng: np.random.Generator) -> np.ndarray:
    """A grid state near the status quo (some issues moved), with the fixed issues kept."""
    g, ok = p.space.grid, p.space.grid_mask
    x = p.space.status_quo.copy()
    for i in range(p.space.n_issues):
        if i in p.fixed or rng.random() < 0.5:
            continue
        x[i] = rng.choice(g[i][ok[i]])
    return x


def random_caps(p: Problem, rng: np.random.Generator) -> np.ndarray:
    base = rng.choice([0.05, 0.1, 0.2, 0.4, 1.0])
    caps = np.full(p.space.n_issues, base)
    caps[rng.random(p.space.n_issues) < 0.3] = 0.0  # issues still owed
    return caps


def random_mult(p: Problem, rng: np.random.Generator) -> np.ndarray:
    mult = rng.uniform(0.05, 1.0, (p.n_actors, p.space.n_issues))
    mult[rng.random(mult.shape) < 0.4] = 1.0
    return mult


@pytest.mark.parametrize("name,p,ctrl", PROBLEMS, ids=[n for n, _, _ in PROBLEMS])
def test_masks_and_directions_are_as_before(name: str, p: Problem, ctrl: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    for _ in range(40):
        x = random_state(p, rng)
        caps = random_caps(p, rng)
        d = concession_mask(p, x, ctrl)
        assert np.array_equal(d, ref_concession_mask(p, x, ctrl))
        for directions in (None, d):
            assert np.array_equal(allowed_masks(p, x, caps, directions), ref_allowed_masks(p, x, caps, directions))
        boxes = p.redlines.relaxed_feasible_boxes(p.space, p.parties, x)
        ref = relaxed_redlines(p.redlines, x).feasible_boxes(p.space, p.parties)
        assert [(b.lo.tolist(), b.hi.tolist()) for b in boxes] == [(b.lo.tolist(), b.hi.tolist()) for b in ref]


@pytest.mark.parametrize("name,p,ctrl", PROBLEMS, ids=[n for n, _, _ in PROBLEMS])
def test_candidates_and_tranches_are_as_before(name: str, p: Problem, ctrl: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    parties = list(p.parties)
    seen = 0
    for k in range(60):
        x = random_state(p, rng)
        caps = random_caps(p, rng)
        if k % 10 == 0:
            caps[:] = 0.0  # nothing may move: one candidate, the state
        mult = random_mult(p, rng)
        proposer = int(rng.choice(parties))
        gains = trusted_gain_table(p, grid_index(p, x), mult)
        masks = ref_allowed_masks(p, x, caps, ref_concession_mask(p, x, ctrl))
        for state in (x, None):
            idx, u = tranche_candidates(p, proposer, parties, gains, masks, state)
            ridx, ru = ref_tranche_candidates(p, proposer, parties, gains, masks, state)
            assert np.array_equal(idx, ridx) and np.array_equal(u, ru)
            seen += len(idx) > 1
        accept = np.full(p.n_actors, rng.choice([0.0, 0.001, 0.01]))
        controller = ctrl if k % 3 else None
        # a veto that blocks about half the candidates, by their values
        veto = None if k % 2 else (lambda v: (np.round(v.sum(axis=1) * 1e6).astype(np.int64) % 2) == 0)
        for _ in range(2):  # twice: the second time from what is kept
            tr = choose_tranche(p, proposer, parties, x, caps, mult, accept, None, controller, veto)
            ref = ref_choose(p, proposer, parties, x, caps, mult, accept, controller, veto)
            assert (tr is None) == (ref is None)
            if tr is not None and ref is not None:
                assert np.array_equal(tr.index, ref[0]) and np.array_equal(tr.gains, ref[1])
                assert np.array_equal(tr.values, p.space.grid[np.arange(p.space.n_issues), ref[0]])
    assert seen > 0  # some searches had a choice to make


def test_candidates_as_before_with_every_grid_point_free() -> None:
    # every point of every issue open: more choices than one integer holds
    name, p, ctrl = next(t for t in PROBLEMS if t[0] == "baseline/incremental")
    rng = np.random.default_rng(3)
    parties = list(p.parties)
    grid_mask = p.space.grid_mask
    for _ in range(10):
        x = random_state(p, rng)
        mult = random_mult(p, rng)
        gains = trusted_gain_table(p, grid_index(p, x), mult)
        other_box = grid_mask & (rng.random(grid_mask.shape) < 0.5)
        other_box[np.arange(p.space.n_issues), grid_index(p, x)] = True
        for masks in (grid_mask[None], np.stack([grid_mask, other_box])):
            idx, u = tranche_candidates(p, parties[0], parties, gains, masks, x)
            ridx, ru = ref_tranche_candidates(p, parties[0], parties, gains, masks, x)
            assert len(idx) > 1
            assert np.array_equal(idx, ridx) and np.array_equal(u, ru)


@pytest.mark.parametrize("name", ["belarus_stepwise", "belarus_us_2025", "belarus_framework"])
def test_partial_values_equal_partial_value_issue_by_issue(name: str) -> None:
    from model.core.tranche import partial_value, partial_values

    p = scenario.load(f"scenarios/{name}.yaml").problem
    rng = np.random.default_rng(7)
    n_i = p.space.n_issues
    for _ in range(300):
        issues = np.sort(rng.choice(n_i, size=int(rng.integers(1, n_i + 1)), replace=False))
        cols = [p.space.grid[i][p.space.grid_mask[i]] for i in issues]
        starts = np.array([rng.choice(c) for c in cols])
        targets = np.array([rng.choice(c) for c in cols])
        fraction = float(rng.choice([0.0, 1.0, rng.random(), 0.5]))
        want = [partial_value(p, int(i), float(s), float(t), fraction)
                for i, s, t in zip(issues, starts, targets, strict=True)]
        np.testing.assert_array_equal(partial_values(p, issues, starts, targets, fraction), want)
