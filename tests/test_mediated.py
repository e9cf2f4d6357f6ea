"""The mediator's single negotiating text (model.core.mediated)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import core
from model.core.mediated import Revision, initial_text, revise_text
from model.core.redlines import RedLine, RedLineSet
from model.core.search import normalised_surplus

LEVELS = (("low", 0.0), ("mid", 0.5), ("high", 1.0))


def make_problem(
    ideal: Sequence[Sequence[float]] | np.ndarray,
    salience: Sequence[Sequence[float]] | np.ndarray,
    status_quo: Sequence[float],
    lines: Sequence[RedLine] = (),
    ordinal: Sequence[int] = (),
    consent: Sequence[bool] | None = None,
) -> core.Problem:
    """A problem built directly from the core; reservation = utility of the status quo."""
    ideal_a = np.asarray(ideal, dtype=float)
    n_a, n_i = ideal_a.shape
    issues = [core.Issue(f"i{k}", f"issue {k}", LEVELS if k in ordinal else None) for k in range(n_i)]
    special = [(i, float(ideal_a[a, i])) for a in range(n_a) for i in range(n_i)]
    special += [(ln.issue, b) for ln in lines for b in (ln.lo, ln.hi)]
    space = core.OutcomeSpace.build(issues, status_quo, special)
    prefs = core.Preferences.build(ideal_a, np.asarray(salience, dtype=float), np.ones(n_a))
    sq = space.snap(np.asarray(status_quo, dtype=float))
    return core.Problem(
        actor_ids=tuple(f"A{a}" for a in range(n_a)),
        space=space,
        prefs=prefs,
        reservation=prefs.utility(sq),
        redlines=RedLineSet(list(lines), n_a, n_i),
        consent=np.array(consent if consent is not None else [True] * n_a),
        discount=np.ones(n_a),
    )


def index_of(problem: core.Problem, values: Sequence[float]) -> np.ndarray:
    """Grid indices of a package given by its values."""
    g = problem.space.grid
    idx = [int(np.flatnonzero(problem.space.grid_mask[i] & np.isclose(g[i], v))[0]) for i, v in enumerate(values)]
    return np.array(idx)


def values_of(problem: core.Problem, text: np.ndarray) -> np.ndarray:
    return problem.space.grid[np.arange(problem.space.n_issues), text]


def feasible_by_red_lines(problem: core.Problem, text: np.ndarray) -> bool:
    """Checked on the red lines themselves, not on the boxes the module uses."""
    return bool(problem.feasible(values_of(problem, text)[None, :])[0])


def logrolling() -> core.Problem:
    # X cares most about issue 0 (wants 1), Y about issue 1 (wants 0); status quo in the middle.
    return make_problem([[1.0, 1.0], [0.0, 0.0]], [[0.8, 0.2], [0.2, 0.8]], [0.5, 0.5])


# ---------------------------------------------------------------------------- logrolling by hand


def test_the_first_draft_gives_each_issue_to_the_party_that_cares_most() -> None:
    p = logrolling()
    np.testing.assert_allclose(values_of(p, initial_text(p)), [1.0, 0.0])


def test_a_revision_moves_each_issue_toward_the_party_that_cares_most() -> None:
    p = logrolling()
    text = index_of(p, [0.5, 0.5])  # u_X = u_Y = 0.5 = reservation
    need = np.array([0.75, 0.75])
    rev = revise_text(p, text, need, np.random.default_rng(0))
    # X's best move within 0.25: issue 0 to 0.75 (+0.8 * 0.25); Y's: issue 1 to 0.25 (+0.8 * 0.25)
    assert rev.objections == {0: (0, int(index_of(p, [0.75, 0.5])[0])), 1: (1, int(index_of(p, [0.5, 0.25])[1]))}
    # alone, each objection gives the objector 0.7 and the other 0.45 (below its reservation 0.5);
    # together both get 0.65: the worst-off unmet party is best off with both answered
    assert rev.changed
    np.testing.assert_allclose(values_of(p, rev.text), [0.75, 0.25])
    np.testing.assert_allclose(p.grid_utility(rev.text[None, :])[0], [0.65, 0.65])
    assert rev.satisfied.tolist() == [False, False]


def test_repeated_revisions_with_fixed_needs_reach_a_text_meeting_both() -> None:
    p = logrolling()
    text = index_of(p, [0.5, 0.5])
    need = np.array([0.75, 0.75])
    rng = np.random.default_rng(1)
    for _ in range(10):
        rev = revise_text(p, text, need, rng)
        text = rev.text
        if rev.satisfied.all():
            break
    assert rev.satisfied.all()
    np.testing.assert_allclose(values_of(p, text), [1.0, 0.0])
    assert np.all(p.grid_utility(text[None, :])[0] >= need)
    again = revise_text(p, text, need, rng)
    assert not again.changed and again.objections == {}


def test_the_party_hurt_by_an_answer_is_compensated_on_another_issue() -> None:
    # X cares only about issue 0; Y cares equally about both and wants issue 1 raised.
    p = make_problem([[1.0, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.5, 0.5]], [0.5, 0.5])
    text = index_of(p, [0.5, 0.5])
    need = np.array([1.0, p.reservation[1]])  # X unmet, Y met
    rev = revise_text(p, text, need, np.random.default_rng(0))
    assert list(rev.objections) == [0]
    # X's objection alone hurts Y; Y's best move on issue 1 costs X nothing, so the sum rises
    np.testing.assert_allclose(values_of(p, rev.text), [0.75, 0.75])


def test_objections_are_answered_together_and_the_third_party_compensated() -> None:
    # A cares only about issue 0, B only about issue 1; C wants both low and issue 2 high.
    p = make_problem([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.0, 0.0, 1.0]],
                     [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.4, 0.4, 0.2]], [0.5, 0.5, 0.5])
    text = index_of(p, [0.5, 0.5, 0.5])
    rev = revise_text(p, text, np.array([1.0, 1.0, 0.0]), np.random.default_rng(0))  # A, B unmet; C met
    assert sorted(rev.objections) == [0, 1]
    # alone, each objection leaves the other objector where it was (and C's compensation on the
    # other objector's issue would hurt it); together both gain, and C is compensated on issue 2
    np.testing.assert_allclose(values_of(p, rev.text), [0.75, 0.75, 0.75])


# ---------------------------------------------------------------------------- rules


def test_nothing_changes_when_every_need_is_met() -> None:
    p = logrolling()
    text = index_of(p, [0.5, 0.5])
    rev = revise_text(p, text, p.reservation.copy(), np.random.default_rng(0))
    assert not rev.changed and rev.objections == {}
    np.testing.assert_array_equal(rev.text, text)
    assert rev.satisfied.tolist() == [True, True]


def test_the_text_stays_when_no_candidate_improves_on_it() -> None:
    # the text is each party's ideal on the issue it cares about: every move hurts the other more
    p = logrolling()
    text = index_of(p, [1.0, 0.0])
    rev = revise_text(p, text, np.array([0.9, 0.9]), np.random.default_rng(0))
    assert rev.objections  # both still object (each would like the other issue)
    assert not rev.changed
    np.testing.assert_array_equal(rev.text, text)


def test_no_feasible_box_means_no_text() -> None:
    lines = [RedLine(0, 0, lo=0.8), RedLine(1, 0, hi=0.2)]
    p = make_problem([[1.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]], [0.5, 0.5], lines)
    with pytest.raises(ValueError, match="red lines"):
        initial_text(p)


def test_an_ordinal_issue_with_levels_wider_than_the_step_can_still_move() -> None:
    p = make_problem([[1.0, 1.0], [0.0, 0.0]], [[0.8, 0.2], [0.2, 0.8]], [0.0, 0.5], ordinal=[0])
    text = index_of(p, [0.0, 0.5])
    rev = revise_text(p, text, np.array([0.9, 0.0]), np.random.default_rng(0), max_step=0.25)
    assert rev.objections == {0: (0, int(index_of(p, [0.5, 0.5])[0]))}  # one level up, 0.5 away


def test_a_non_party_neither_objects_nor_blocks_but_its_red_lines_count_for_its_satisfaction() -> None:
    lines = [RedLine(2, 0, hi=0.6)]  # the observer's red line does not bound the text
    p = make_problem([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]], [[0.8, 0.2], [0.2, 0.8], [1.0, 1.0]],
                     [0.5, 0.5], lines, consent=[True, True, False])
    text = index_of(p, [0.5, 0.5])
    need = np.array([0.75, 0.75, 0.0])
    for _ in range(5):
        rev = revise_text(p, text, need, np.random.default_rng(0))
        assert 2 not in rev.objections
        text = rev.text
    np.testing.assert_allclose(values_of(p, text), [1.0, 0.0])
    assert rev.satisfied.tolist() == [True, True, False]  # issue 0 at 1.0 crosses the observer's line


def test_a_malformed_text_is_refused() -> None:
    p = logrolling()
    with pytest.raises(ValueError, match="grid indices"):
        revise_text(p, np.array([0, 999]), p.reservation, np.random.default_rng(0))
    with pytest.raises(ValueError, match="integer grid indices"):
        revise_text(p, np.array([0.5, 0.5]), p.reservation, np.random.default_rng(0))


# ---------------------------------------------------------------------------- brute force


def tiny_problem(seed: int) -> core.Problem:
    """Two parties, three issues (one ordinal), a bound and a conditional red line."""
    rng = np.random.default_rng(seed)
    lines = [
        RedLine(0, 1, lo=float(rng.choice([0.0, 0.2, 0.4]))),
        RedLine(1, 2, hi=0.5, when_issue=0, when_above=float(rng.choice([0.3, 0.6]))),
    ]
    return make_problem(rng.random((2, 3)).round(2), rng.random((2, 3)) + 0.05, [0.5, 0.5, 0.5], lines, ordinal=[2])


def all_feasible_texts(problem: core.Problem) -> np.ndarray:
    sizes = problem.space.grid_mask.sum(axis=1)
    idx = np.array(list(itertools.product(*(range(int(n)) for n in sizes))))
    vals = problem.space.grid[np.arange(problem.space.n_issues)[None, :], idx]
    return idx[problem.feasible(vals)]


@pytest.mark.parametrize("seed", range(8))
def test_an_objection_is_the_objectors_best_single_issue_move(seed: int) -> None:
    p = tiny_problem(seed)
    texts = all_feasible_texts(p)
    rng = np.random.default_rng(100 + seed)
    step = 0.25
    for text in texts[rng.choice(len(texts), size=6, replace=False)]:
        need = np.full(2, 2.0)  # nobody is satisfied: both object if they can
        rev = revise_text(p, text, need, rng, max_step=step)
        x = values_of(p, text)
        u_now = p.utility(x)
        for a in (0, 1):
            best = 0.0
            for i in range(3):
                n_g = int(p.space.grid_mask[i].sum())
                for g in range(n_g):
                    y = x.copy()
                    y[i] = p.space.grid[i, g]
                    close = abs(y[i] - x[i]) <= step + 1e-9 or abs(g - text[i]) == 1
                    if g != text[i] and close and p.feasible(y[None, :])[0]:
                        best = max(best, float(p.utility(y)[a] - u_now[a]))
            if best <= 1e-12:
                assert a not in rev.objections
                continue
            i, g = rev.objections[a]
            y = x.copy()
            y[i] = p.space.grid[i, g]
            assert p.feasible(y[None, :])[0]
            assert abs(y[i] - x[i]) <= step + 1e-9 or abs(g - text[i]) == 1
            assert p.utility(y)[a] - u_now[a] == pytest.approx(best, abs=1e-12)


# ---------------------------------------------------------------------------- properties


@st.composite
def random_problems(draw: st.DrawFn) -> tuple[core.Problem, np.ndarray]:
    n_a = draw(st.integers(2, 4))
    n_i = draw(st.integers(1, 4))
    unit = st.floats(0.0, 1.0).map(lambda v: round(v, 2))
    ideal = [[draw(unit) for _ in range(n_i)] for _ in range(n_a)]
    sal = [[draw(unit) + 0.01 for _ in range(n_i)] for _ in range(n_a)]
    sq = [draw(unit) for _ in range(n_i)]
    ordinal = [i for i in range(n_i) if draw(st.booleans())]
    lines: list[RedLine] = []
    for _ in range(draw(st.integers(0, 4))):
        a, i = draw(st.integers(0, n_a - 1)), draw(st.integers(0, n_i - 1))
        lo = draw(st.sampled_from([0.0, 0.2, 0.4]))
        hi = draw(st.sampled_from([0.6, 0.8, 1.0]))
        if n_i > 1 and draw(st.booleans()):
            w = draw(st.sampled_from([j for j in range(n_i) if j != i]))
            lines.append(RedLine(a, i, lo, hi, when_issue=w, when_above=draw(st.sampled_from([0.3, 0.5, 0.7]))))
        else:
            lines.append(RedLine(a, i, lo, hi))
    consent = [True, True] + [draw(st.booleans()) for _ in range(n_a - 2)]
    p = make_problem(ideal, sal, sq, lines, ordinal, consent)
    need = np.array([draw(st.floats(0.0, 1.0)) for _ in range(n_a)])
    return p, need


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problems(), st.integers(0, 2**32 - 1), st.sampled_from([0.1, 0.25, 0.5]))
def test_the_text_never_crosses_a_red_line(case: tuple[core.Problem, np.ndarray], seed: int, step: float) -> None:
    p, need = case
    if not p.boxes:
        with pytest.raises(ValueError):
            initial_text(p)
        return
    text = initial_text(p)
    assert feasible_by_red_lines(p, text)
    rng = np.random.default_rng(seed)
    for r in range(8):
        need_r = np.maximum(need * (1 - r / 8), p.reservation)  # needs fall as a shell would lower them
        rev = revise_text(p, text, need_r, rng, max_step=step)
        assert feasible_by_red_lines(p, rev.text)
        assert set(rev.objections) <= set(p.parties)
        u = p.grid_utility(rev.text[None, :])[0]
        lines_ok = p.redlines.satisfied(values_of(p, rev.text)[None, :])[0]
        np.testing.assert_array_equal(rev.satisfied, lines_ok & (u >= need_r - 1e-9))
        if not rev.changed:
            np.testing.assert_array_equal(rev.text, text)
        else:  # an adopted revision raises the objective: worst unmet party first, then the total
            old_u = p.grid_utility(text[None, :])[0]
            unmet = [a for a in p.parties if old_u[a] < need_r[a] - 1e-9]
            s_old, s_new = normalised_surplus(p, old_u), normalised_surplus(p, u)
            worst_old, worst_new = s_old[unmet].min(), s_new[unmet].min()
            total_old, total_new = s_old[list(p.parties)].sum(), s_new[list(p.parties)].sum()
            assert worst_new > worst_old + 1e-13 or (worst_new >= worst_old - 1e-12 and total_new > total_old)
        text = rev.text


def run_rounds(p: core.Problem, need: np.ndarray, seed: int, rounds: int = 6) -> list[Revision]:
    rng = np.random.default_rng(seed)
    text = initial_text(p)
    out = []
    for r in range(rounds):
        rev = revise_text(p, text, np.maximum(need * (1 - r / rounds), p.reservation), rng)
        out.append(rev)
        text = rev.text
    return out


def test_the_same_seed_gives_the_same_revisions() -> None:
    p = tiny_problem(3)
    need = np.array([0.95, 0.95])
    first, second = run_rounds(p, need, seed=7), run_rounds(p, need, seed=7)
    assert any(rev.changed for rev in first)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.text, b.text)
        np.testing.assert_array_equal(a.satisfied, b.satisfied)
        assert (a.changed, a.objections) == (b.changed, b.objections)
