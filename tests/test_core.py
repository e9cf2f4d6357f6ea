"""The pure core: utilities, red lines, strategies, the offer search and outcome analysis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import core, strategy_params
from model.core.redlines import RedLine, RedLineSet
from model.core.search import choose_offer
from model.core.strategies import Boulware, Conceder, Linear, Situation, TimeDependent
from tests.factories import two_party

# ---------------------------------------------------------------------------- utilities


def test_utility_is_salience_weighted_distance_to_the_ideal_point() -> None:
    prefs = core.Preferences.build(np.array([[1.0, 0.0]]), np.array([[3.0, 1.0]]), np.array([1.0]))
    # weights 0.75 / 0.25; linear loss
    assert prefs.utility(np.array([1.0, 0.0]))[0] == pytest.approx(1.0)
    assert prefs.utility(np.array([0.5, 0.5]))[0] == pytest.approx(0.75 * 0.5 + 0.25 * 0.5)
    assert prefs.utility(np.array([0.0, 1.0]))[0] == pytest.approx(0.0)
    assert prefs.utility(np.array([0.8, 0.4]))[0] == pytest.approx(0.75 * 0.8 + 0.25 * 0.6)


def test_curvature_two_is_quadratic_loss() -> None:
    prefs = core.Preferences.build(np.array([[1.0, 0.0]]), np.array([[3.0, 1.0]]), np.array([2.0]))
    assert prefs.utility(np.array([0.5, 0.5]))[0] == pytest.approx(0.75 * 0.75 + 0.25 * 0.75)
    assert prefs.utility(np.array([0.8, 0.4]))[0] == pytest.approx(0.75 * (1 - 0.04) + 0.25 * (1 - 0.16))


def test_utilities_of_many_packages_for_many_actors_at_once() -> None:
    rng = np.random.default_rng(3)
    ideal, sal = rng.random((4, 6)), rng.random((4, 6))
    prefs = core.Preferences.build(ideal, sal, np.array([1.0, 2.0, 0.5, 1.5]))
    x = rng.random((50, 6))
    u = prefs.utility(x)
    assert u.shape == (50, 4)
    for a in range(4):
        w = sal[a] / sal[a].sum()
        expected = (w * (1 - np.abs(x - ideal[a]) ** prefs.curvature[a])).sum(axis=1)
        np.testing.assert_allclose(u[:, a], expected)
    assert np.all((u >= 0) & (u <= 1))


def test_an_actor_that_cares_about_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="salience"):
        core.Preferences.build(np.zeros((1, 2)), np.zeros((1, 2)), np.ones(1))


# ---------------------------------------------------------------------------- red lines


def test_a_bound_red_line_forbids_values_beyond_it() -> None:
    rs = RedLineSet([RedLine(actor=0, issue=0, hi=0.2)], n_actors=1, n_issues=2)
    ok = rs.satisfied(np.array([[0.2, 1.0], [0.21, 0.0], [0.0, 0.5]]))[:, 0]
    assert ok.tolist() == [True, False, True]


def test_a_conditional_red_line_binds_only_when_its_condition_holds() -> None:
    # the U.S. never lifts sanctions (issue 0) above 0.5 without at least 0.4 of prisoners (issue 1)
    rs = RedLineSet([RedLine(actor=0, issue=1, lo=0.4, when_issue=0, when_above=0.5)], 1, 2)
    x = np.array([[0.6, 0.3], [0.6, 0.5], [0.5, 0.0], [1.0, 0.4]])
    assert rs.satisfied(x)[:, 0].tolist() == [False, True, True, True]
    crossed = rs.crossed(x[0])
    assert len(crossed) == 1 and crossed[0].issue == 1


def test_red_lines_are_checked_per_actor() -> None:
    rs = RedLineSet([RedLine(0, 0, hi=0.2), RedLine(1, 0, lo=0.8)], 2, 1)
    assert rs.satisfied(np.array([[0.1], [0.9], [0.5]])).tolist() == [[True, False], [False, True], [False, False]]


_space1 = core.OutcomeSpace.build([core.Issue(f"i{k}", "") for k in range(3)], [0.5, 0.5, 0.5])


@st.composite
def _red_line_sets(draw: st.DrawFn) -> list[RedLine]:
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        issue = draw(st.integers(0, 2))
        lo = draw(st.floats(0, 1))
        hi = draw(st.floats(lo, 1))
        if draw(st.booleans()):
            w = draw(st.integers(0, 2))
            thr = draw(st.floats(0, 1))
            above = draw(st.booleans())
            lines.append(RedLine(draw(st.integers(0, 1)), issue, lo, hi, w, thr if above else None,
                                 None if above else thr))
        else:
            lines.append(RedLine(draw(st.integers(0, 1)), issue, lo, hi))
    return lines


@settings(max_examples=150, deadline=None)
@given(_red_line_sets(), st.lists(st.tuples(*[st.floats(0, 1)] * 3), min_size=1, max_size=30))
def test_feasible_boxes_hold_exactly_the_packages_no_red_line_forbids(lines: list[RedLine], pts: list) -> None:
    rs = RedLineSet(lines, 2, 3)
    boxes = rs.feasible_boxes(_space1, [0, 1])
    x = np.array(pts)
    in_some_box = np.zeros(len(x), dtype=bool)
    for b in boxes:
        in_some_box |= b.contains(x)
    ok = rs.satisfied(x).all(axis=1)
    # points within 1e-9 of a threshold may go either way; the rest must agree exactly
    near = np.zeros(len(x), dtype=bool)
    for ln in lines:
        points = ((ln.lo, ln.issue), (ln.hi, ln.issue), (ln.when_above, ln.when_issue), (ln.when_below, ln.when_issue))
        for v, i in points:
            if v is not None and i is not None:
                near |= np.abs(x[:, i] - v) < 1e-8
    assert np.array_equal(in_some_box[~near], ok[~near])


# ---------------------------------------------------------------------------- strategies


def test_time_dependent_aspiration_runs_from_best_to_reservation() -> None:
    s = TimeDependent(2.0)
    assert s.aspiration(Situation(0, 11, best=0.9, floor=0.3)) == pytest.approx(0.9)
    assert s.aspiration(Situation(10, 11, best=0.9, floor=0.3)) == pytest.approx(0.3)
    assert s.aspiration(Situation(5, 11, best=0.9, floor=0.3)) == pytest.approx(0.3 + 0.6 * (1 - 0.5**2))


def test_a_boulware_actor_concedes_less_than_a_conceder_at_every_round() -> None:
    b, lin, c = Boulware(), Linear(), Conceder()
    prev = [np.inf] * 3
    for t in range(50):
        sit = Situation(t, 50, best=1.0, floor=0.2)
        ab, al, ac = b.aspiration(sit), lin.aspiration(sit), c.aspiration(sit)
        assert ab >= al >= ac
        for k, a in enumerate((ab, al, ac)):
            assert a <= prev[k] + 1e-12  # aspirations never rise
            prev[k] = a
    mid = Situation(25, 50, best=1.0, floor=0.2)
    assert b.aspiration(mid) - c.aspiration(mid) > 0.5


def test_strategies_are_built_by_name_with_checked_parameters() -> None:
    s = core.make_strategy("boulware", {"exponent": 6})
    assert isinstance(s, Boulware) and s.exponent == 6
    assert core.make_strategy("conceder", {}).exponent == 0.25  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        strategy_params.make_strategy("boulware", {"exponent": 0.5})


def test_acceptance_needs_aspiration_reservation_and_no_red_line() -> None:
    assert core.accepts(0.7, aspiration=0.6, floor=0.5, red_lines_ok=True)
    assert not core.accepts(0.55, aspiration=0.6, floor=0.5, red_lines_ok=True)
    assert not core.accepts(0.45, aspiration=0.3, floor=0.5, red_lines_ok=True)
    assert not core.accepts(0.9, aspiration=0.6, floor=0.5, red_lines_ok=False)


# ---------------------------------------------------------------------------- offers


def test_the_proposer_concedes_on_the_issue_it_cares_least_about() -> None:
    # X cares about i0, Y about i1; they want opposite ends of both
    sc = two_party([1, 1], [0, 0], [0.9, 0.1], [0.1, 0.9])
    offer = choose_offer(sc.problem, 0, aspiration=0.85)
    np.testing.assert_allclose(offer, [1.0, 0.0])  # X keeps i0, gives Y all of i1


def test_logrolling_across_twelve_issues_gives_away_the_least_salient_first() -> None:
    rng = np.random.default_rng(7)
    sal_x = rng.uniform(0.05, 0.95, 12)
    sal_y = 1.0 - sal_x  # opposite priorities
    sc = two_party([1.0] * 12, [0.0] * 12, sal_x.tolist(), sal_y.tolist(), status_quo=[0.5] * 12)
    offer = choose_offer(sc.problem, 0, aspiration=0.7)
    assert sc.problem.utility(offer)[0] >= 0.7 - 1e-9
    conceded = offer < 0.5  # moved past the status quo toward Y
    held = offer > 0.5
    assert conceded.any() and held.any()
    # every issue X gave away matters less to X (relative to Y) than every issue it kept
    ratio = sal_x / sal_y
    assert ratio[conceded].max() < ratio[held].min()
    # and nothing better for Y exists at X's aspiration (it is on the Pareto frontier)
    assert core.find_dominating(sc.problem, offer) is None


def test_no_offer_crosses_the_proposers_or_anyone_elses_red_line() -> None:
    sc = two_party([1, 1], [0, 0], [0.5, 0.5], [0.5, 0.5],
                   X={"red_lines": [{"issue": "i0", "min": 0.6}]},
                   Y={"red_lines": [{"issue": "i1", "max": 0.3, "when": {"issue": "i0", "above": 0.7}}]})
    for aspiration in np.linspace(0.0, 1.0, 11):
        for proposer in (0, 1):
            offer = choose_offer(sc.problem, proposer, float(aspiration))
            assert offer is not None
            assert sc.problem.feasible(offer[None, :])[0]


# ---------------------------------------------------------------------------- analysis


def test_nash_product_of_a_package() -> None:
    sc = two_party([1.0], [0.0], [1.0], [1.0], status_quo=[0.5])
    p = sc.problem  # reservations: 0.5 each (the status quo)
    assert core.nash_product(p, np.array([0.5])) == pytest.approx(0.0)
    # give both more than the status quo: impossible on one issue; a gain for one is a loss for the other
    assert core.nash_product(p, np.array([0.8])) == 0.0
    assert core.individually_rational(p, np.array([0.5])).all()
    assert core.individually_rational(p, np.array([0.8])).tolist() == [True, False]


@pytest.mark.parametrize(
    ("r_x", "r_y", "expected"),
    [(0.0, 0.0, 0.5), (0.2, 0.0, 0.6), (0.0, 0.3, 0.35), (0.1, 0.5, 0.3)],
)
def test_nash_point_splits_the_pie_by_the_textbook_formula(r_x: float, r_y: float, expected: float) -> None:
    # u_X = x, u_Y = 1 - x: maximise (x - r_x)(1 - x - r_y)  =>  x = (1 + r_x - r_y) / 2
    sc = two_party([1.0], [0.0], [1.0], [1.0], status_quo=[0.0],
                   X={"reservation": r_x}, Y={"reservation": r_y})
    x = core.nash_point(sc.problem)
    assert x is not None
    assert x[0] == pytest.approx(expected, abs=1e-6)


def test_a_package_that_wastes_value_is_pareto_dominated_and_a_logroll_is_not() -> None:
    sc = two_party([1, 1], [0, 0], [0.9, 0.1], [0.1, 0.9])
    waste = np.array([0.0, 1.0])  # each side gets the issue it cares little about
    dom = core.find_dominating(sc.problem, waste)
    assert dom is not None
    u_dom, u_w = sc.problem.utility(dom), sc.problem.utility(waste)
    assert np.all(u_dom >= u_w) and np.any(u_dom > u_w)
    assert core.find_dominating(sc.problem, np.array([1.0, 0.0])) is None


def test_pareto_frontier_of_two_actors_is_decreasing() -> None:
    sc = two_party([1, 1], [0, 0], [0.9, 0.1], [0.1, 0.9])
    f = core.pareto_frontier(sc.problem, 0, 1)
    assert len(f) >= 3
    assert np.all(np.diff(f[:, 0]) > 0) and np.all(np.diff(f[:, 1]) < 0)
    assert f[-1, 0] == pytest.approx(1.0) and f[0, 1] == pytest.approx(1.0)


@pytest.mark.parametrize("n_parties", [2, 4])
def test_peer_case_draws_follow_the_documented_order(n_parties: int) -> None:
    """PEER_CASE.md: per party, weights, then each issue's table, then the reservation value,
    all from ``default_rng(seed + k)`` (drawn one by one here, as NegMAS's side reads them)."""
    from model.core.domains import peer_case_draws

    for k in range(25):
        d = peer_case_draws(2024, k, n_parties)
        rng = np.random.default_rng(2024 + k)
        for p in range(n_parties):
            w = rng.random(3)
            np.testing.assert_array_equal(d.weights[p], w / w.sum())
            for j in range(3):
                v = rng.random(10)
                np.testing.assert_array_equal(d.tables[p, j], (v - v.min()) / (v.max() - v.min()))
            assert d.reservation[p] == rng.uniform(0.0, 0.5)


def test_with_preferences_keeps_the_geometry_and_recomputes_what_the_parties_want() -> None:
    """A shock to saliences keeps the boxes (same objects) but every preference-dependent value
    is that of a problem built from scratch."""
    import dataclasses

    from model import scenario as scn

    p = scn.load("scenarios/belarus_stepwise.yaml").problem
    _ = p.best_utility, p._mask_table
    w = p.prefs.weight.copy()
    w[0] = w[0][::-1]
    prefs = dataclasses.replace(p.prefs, weight=w)
    reservation = p.reservation - 0.05
    kept = p.with_preferences(prefs, reservation)
    fresh = dataclasses.replace(p, prefs=prefs, reservation=reservation)
    assert kept.boxes is p.boxes
    assert kept._mask_table is p._mask_table
    np.testing.assert_array_equal(kept.best_utility, fresh.best_utility)
    np.testing.assert_array_equal(kept.weighted_values, fresh.weighted_values)
    assert not np.array_equal(kept.best_utility, p.best_utility)
