"""Where bargaining theory gives an exact answer, the model reproduces it.

Each test states a result from the literature and the tolerance to which the model meets it.
References are computed here independently of the model: in closed form, or with scipy on the
analytic Pareto frontier of the test problem. See ``docs/validity.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from model.core import analysis
from model.core.problem import Problem
from model.theory import bargaining as bg
from tests.factories import two_party

#: Tolerance for the core's Nash point against the textbook answer (utilities and packages).
NASH_TOL = 1e-5
#: Tolerance for the Kalai-Smorodinsky point (found by bisection to machine precision).
KS_TOL = 1e-8


# ---------------------------------------------------------------------------------- problems


def pie(r_x: float = 0.0, r_y: float = 0.0, g_x: float = 1.0, g_y: float = 1.0) -> Problem:
    """One issue split between X (wants 1) and Y (wants 0): ``u_X = 1 - (1 - x) ** g_x``,
    ``u_Y = 1 - x ** g_y``; reservation (disagreement) utilities ``r_x``, ``r_y``."""
    return two_party([1.0], [0.0], [1.0], [1.0], status_quo=[0.0],
                     X={"reservation": r_x, "curvature": g_x}, Y={"reservation": r_y, "curvature": g_y}).problem


def logroll(w_x: tuple[float, ...], w_y: tuple[float, ...], r_x: float, r_y: float, g: float) -> Problem:
    """Issues on which X wants 1 and Y wants 0, with saliences ``w_x``, ``w_y``."""
    n = len(w_x)
    return two_party([1.0] * n, [0.0] * n, list(w_x), list(w_y), status_quo=[0.5] * n,
                     X={"reservation": r_x, "curvature": g}, Y={"reservation": r_y, "curvature": g}).problem


# A parametric Pareto frontier: t -> (package, (u_X, u_Y)), u_X increasing and u_Y decreasing in t.
Curve = Callable[[float], tuple[np.ndarray, np.ndarray]]


def pie_curve(g_x: float, g_y: float) -> tuple[Curve, float, float]:
    def point(t: float) -> tuple[np.ndarray, np.ndarray]:
        return np.array([t]), np.array([1 - (1 - t) ** g_x, 1 - t**g_y])

    return point, 0.0, 1.0


def quadratic_logroll_curve(w_x: tuple[float, ...], w_y: tuple[float, ...]) -> tuple[Curve, float, float]:
    """Weighted-sum optima of quadratic losses: issue i goes to ``lam w_xi / (lam w_xi + (1 - lam) w_yi)``
    (saliences normalised to sum to 1, as the model does)."""
    wx, wy = np.array(w_x) / sum(w_x), np.array(w_y) / sum(w_y)

    def point(lam: float) -> tuple[np.ndarray, np.ndarray]:
        x = lam * wx / (lam * wx + (1 - lam) * wy)
        return x, np.array([wx @ (1 - (1 - x) ** 2), wy @ (1 - x**2)])

    return point, 0.0, 1.0


def linear_logroll_curve(w_x: tuple[float, float], w_y: tuple[float, float]) -> tuple[Curve, float, float]:
    """Linear losses, X values issue 0 more: from Y's best (0, 0) X first gets issue 0, then 1."""
    wx, wy = np.array(w_x), np.array(w_y)

    def point(t: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.array([t, 0.0]) if t <= 1 else np.array([1.0, t - 1])
        return x, np.array([wx @ x, wy @ (1 - x)])

    return point, 0.0, 2.0


def textbook_nash(curve: tuple[Curve, float, float], d: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The Nash bargaining solution (Nash 1950) on an analytic frontier: maximise
    ``(u_X - d_X)(u_Y - d_Y)`` over the individually rational part, with scipy."""
    point, t0, t1 = curve
    lo = brentq(lambda t: point(t)[1][0] - d[0], t0, t1, xtol=1e-15) if point(t0)[1][0] < d[0] else t0
    hi = brentq(lambda t: point(t)[1][1] - d[1], t0, t1, xtol=1e-15) if point(t1)[1][1] < d[1] else t1
    res = minimize_scalar(lambda t: -np.prod(point(t)[1] - d), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-13})
    return point(float(res.x))


def textbook_ks(curve: tuple[Curve, float, float], d: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The Kalai-Smorodinsky solution (Kalai & Smorodinsky 1975) on an analytic frontier: the
    frontier point on the segment from the disagreement point to the utopia point, the utopia
    being each party's best among agreements that leave the other at least its disagreement."""
    point, t0, t1 = curve
    t_top_x = brentq(lambda t: point(t)[1][1] - d[1], t0, t1, xtol=1e-15) if point(t1)[1][1] < d[1] else t1
    t_top_y = brentq(lambda t: point(t)[1][0] - d[0], t0, t1, xtol=1e-15) if point(t0)[1][0] < d[0] else t0
    top = np.array([point(t_top_x)[1][0], point(t_top_y)[1][1]])
    dd = np.array(d)

    def gap(t: float) -> float:
        g = (point(t)[1] - dd) / (top - dd)
        return float(g[0] - g[1])

    return point(brentq(gap, t_top_y, t_top_x, xtol=1e-15))


W6_X = (0.9, 0.1, 0.5, 0.3, 0.7, 0.2)
W6_Y = (0.2, 0.6, 0.4, 0.9, 0.1, 0.5)

# Cases: (name, problem, analytic frontier, disagreement point)
CURVED_CASES = [
    ("quadratic pie, symmetric d", pie(0.0, 0.0, 2, 2), pie_curve(2, 2), (0.0, 0.0)),
    ("quadratic pie, asymmetric d", pie(0.1, 0.4, 2, 2), pie_curve(2, 2), (0.1, 0.4)),
    ("quadratic pie, d near X's end", pie(0.6, 0.05, 2, 2), pie_curve(2, 2), (0.6, 0.05)),
    ("asymmetric frontier (X quadratic, Y linear)", pie(0.0, 0.0, 2, 1), pie_curve(2, 1), (0.0, 0.0)),
    ("asymmetric frontier, asymmetric d", pie(0.3, 0.2, 1, 2), pie_curve(1, 2), (0.3, 0.2)),
    ("quadratic two-issue logroll", logroll((0.7, 0.3), (0.2, 0.8), 0.0, 0.0, 2.0),
     quadratic_logroll_curve((0.7, 0.3), (0.2, 0.8)), (0.0, 0.0)),
    ("quadratic two-issue logroll, asymmetric d", logroll((0.7, 0.3), (0.2, 0.8), 0.1, 0.45, 2.0),
     quadratic_logroll_curve((0.7, 0.3), (0.2, 0.8)), (0.1, 0.45)),
    ("quadratic six-issue logroll, asymmetric d", logroll(W6_X, W6_Y, 0.15, 0.3, 2.0),
     quadratic_logroll_curve(W6_X, W6_Y), (0.15, 0.3)),
    ("linear two-issue logroll, asymmetric d", logroll((0.6, 0.4), (0.4, 0.6), 0.5, 0.0, 1.0),
     linear_logroll_curve((0.6, 0.4), (0.4, 0.6)), (0.5, 0.0)),
]
CASE_IDS = [c[0] for c in CURVED_CASES]


# ------------------------------------------------------------------ Nash and Kalai-Smorodinsky


@pytest.mark.parametrize(("r_x", "r_y"), [(0.0, 0.0), (0.2, 0.0), (0.0, 0.3), (0.1, 0.5), (0.35, 0.35)])
def test_on_a_linear_frontier_nash_and_kalai_smorodinsky_split_the_surplus_equally(r_x: float, r_y: float) -> None:
    # u_X = x, u_Y = 1 - x: both solutions give each party its disagreement value plus half the
    # surplus 1 - r_x - r_y, i.e. x = (1 + r_x - r_y) / 2 (Nash 1950; Kalai & Smorodinsky 1975).
    p = pie(r_x, r_y)
    expected = (1 + r_x - r_y) / 2
    nash = analysis.nash_point(p)
    ks = bg.kalai_smorodinsky_point(p)
    assert nash is not None and ks is not None
    assert nash[0] == pytest.approx(expected, abs=NASH_TOL)
    assert ks[0] == pytest.approx(expected, abs=KS_TOL)


@pytest.mark.parametrize(("name", "problem", "curve", "d"), CURVED_CASES, ids=CASE_IDS)
def test_the_core_nash_point_is_the_textbook_nash_bargaining_solution(
    name: str, problem: Problem, curve: tuple[Curve, float, float], d: tuple[float, float]
) -> None:
    x_ref, u_ref = textbook_nash(curve, d)
    x = analysis.nash_point(problem)
    assert x is not None
    np.testing.assert_allclose(problem.utility(x), u_ref, atol=NASH_TOL)
    np.testing.assert_allclose(x, x_ref, atol=NASH_TOL)


@pytest.mark.parametrize(("name", "problem", "curve", "d"), CURVED_CASES, ids=CASE_IDS)
def test_the_kalai_smorodinsky_point_is_the_textbook_one(
    name: str, problem: Problem, curve: tuple[Curve, float, float], d: tuple[float, float]
) -> None:
    x_ref, u_ref = textbook_ks(curve, d)
    x = bg.kalai_smorodinsky_point(problem)
    assert x is not None
    np.testing.assert_allclose(problem.utility(x), u_ref, atol=KS_TOL)
    np.testing.assert_allclose(x, x_ref, atol=1e-6)  # packages: flatter, so less well conditioned
    assert analysis.find_dominating(problem, x) is None  # and it is Pareto-optimal


def test_closed_forms_on_the_linear_logroll() -> None:
    # X values issue 0 at 0.6, Y issue 1 at 0.6; d = (0.5, 0). Both solutions lie on the flat part
    # where X has issue 0 and gets t of issue 1: u = (0.6 + 0.4 t, 0.6 (1 - t)).
    # Nash: maximise (0.1 + 0.4 t) 0.6 (1 - t)  => t = 3/8.
    # KS: utopia (1, 2/3); (0.1 + 0.4 t) / 0.5 = 0.6 (1 - t) / (2/3)  => t = 7/17.
    p = logroll((0.6, 0.4), (0.4, 0.6), 0.5, 0.0, 1.0)
    nash = analysis.nash_point(p)
    ks = bg.kalai_smorodinsky_point(p)
    assert nash is not None and ks is not None
    np.testing.assert_allclose(nash, [1.0, 3 / 8], atol=NASH_TOL)
    np.testing.assert_allclose(ks, [1.0, 7 / 17], atol=KS_TOL)
    utopia = bg.utopia_point(p)
    assert utopia is not None
    np.testing.assert_allclose(utopia, [1.0, 2 / 3], atol=KS_TOL)


@pytest.mark.parametrize(
    ("problem", "point"),
    [(pie(0.1, 0.1, 2, 2), [0.5]), (pie(0.0, 0.0, 1, 1), [0.5]),
     (logroll((0.7, 0.3), (0.3, 0.7), 0.2, 0.2, 2.0), [0.7, 0.3])],
    ids=["quadratic pie", "linear pie", "mirror-image logroll"],
)
def test_on_a_symmetric_problem_nash_and_kalai_smorodinsky_coincide(problem: Problem, point: list[float]) -> None:
    # Both solutions are symmetric, so on a symmetric problem both pick the symmetric frontier point.
    nash = analysis.nash_point(problem)
    ks = bg.kalai_smorodinsky_point(problem)
    assert nash is not None and ks is not None
    np.testing.assert_allclose(nash, point, atol=NASH_TOL)
    np.testing.assert_allclose(ks, point, atol=KS_TOL)


def test_on_an_asymmetric_frontier_nash_and_kalai_smorodinsky_differ() -> None:
    # u_X = 1 - (1 - x)^2 (risk-averse X), u_Y = 1 - x, d = 0. With y = 1 - x:
    # Nash maximises (1 - y^2) y  => y = 1/sqrt(3);  KS sets 1 - y^2 = y  => y = (sqrt(5) - 1) / 2.
    # The risk-averse party gets less under both, and less still under KS.
    p = pie(0.0, 0.0, 2, 1)
    nash = analysis.nash_point(p)
    ks = bg.kalai_smorodinsky_point(p)
    assert nash is not None and ks is not None
    assert nash[0] == pytest.approx(1 - 1 / np.sqrt(3), abs=NASH_TOL)
    assert ks[0] == pytest.approx((3 - np.sqrt(5)) / 2, abs=KS_TOL)
    assert nash[0] - ks[0] > 0.04


def test_the_unrestricted_utopia_variant_of_kalai_smorodinsky() -> None:
    # With the utopia at each party's best package regardless of the other's reservation,
    # (x - 0.2) / 0.8 = (1 - x) / 1  => x = 5/9, not the textbook 0.6.
    p = pie(0.2, 0.0)
    ks = bg.kalai_smorodinsky_point(p, utopia="unrestricted")
    assert ks is not None
    assert ks[0] == pytest.approx(5 / 9, abs=KS_TOL)


def test_no_kalai_smorodinsky_point_without_gains_from_agreement() -> None:
    assert bg.kalai_smorodinsky_point(pie(0.6, 0.5)) is None  # r_x + r_y > 1: nothing beats no deal


# -------------------------------------------------------------------------- alternating offers


def alternating_sum(d1: float, d2: float, horizon: int) -> float:
    """The first proposer's share of a unit pie in the ``horizon``-round game (Ståhl 1972):
    ``1 - d2 + d1 d2 - d1 d2^2 + d1^2 d2^2 - ...``, ``horizon`` terms."""
    return sum((-1) ** k * d2 ** ((k + 1) // 2) * d1 ** (k // 2) for k in range(horizon))


def test_rubinstein_share_closed_form() -> None:
    assert bg.rubinstein_share(0.9, 0.9) == pytest.approx(1 / 1.9)
    assert bg.rubinstein_share(0.9, 0.8) == pytest.approx(0.2 / 0.28)
    assert bg.rubinstein_share(0.0, 0.5) == pytest.approx(0.5)  # an impatient first proposer
    with pytest.raises(ValueError):
        bg.rubinstein_share(1.0, 1.0)


@pytest.mark.parametrize(("d1", "d2"), [(0.9, 0.8), (0.8, 0.9), (0.95, 0.6), (0.5, 0.5)])
def test_finite_horizon_shares_are_the_alternating_sums(d1: float, d2: float) -> None:
    # One round is an ultimatum (the proposer takes all); two rounds give the responder what it
    # would get proposing next, discounted; and so on, by backward induction.
    game = bg.backward_induction(pie(), 0, [d1, d2], horizon=30)
    shares = game.utilities[:, 0]
    expected = [alternating_sum(d1, d2, h) for h in range(1, 31)]
    np.testing.assert_allclose(shares, expected, atol=1e-12)
    np.testing.assert_allclose(game.utilities.sum(axis=1), 1.0, atol=1e-12)  # no delay, no waste
    assert np.all(game.rounds == 1)
    np.testing.assert_allclose(game.packages[:, 0], shares, atol=1e-12)


@pytest.mark.parametrize(("d1", "d2"), [(0.9, 0.8), (0.8, 0.9), (0.95, 0.6), (0.99, 0.9)])
def test_as_the_horizon_grows_the_first_share_tends_to_rubinstein(d1: float, d2: float) -> None:
    # The finite games bracket the limit: odd horizons (first proposer also proposes last) give
    # more, even horizons less, and both converge to (1 - d2) / (1 - d1 d2) (Rubinstein 1982).
    horizon = 2000
    shares = bg.backward_induction(pie(), 0, [d1, d2], horizon=horizon).utilities[:, 0]
    limit = bg.rubinstein_share(d1, d2)
    assert shares[-1] == pytest.approx(limit, abs=1e-6)
    assert np.all(shares[0::2] >= limit - 1e-12) and np.all(shares[1::2] <= limit + 1e-12)
    assert np.all(np.diff(shares[0::2]) <= 1e-12) and np.all(np.diff(shares[1::2]) >= -1e-12)


def test_who_proposes_first_matters() -> None:
    # Equal patience: the first proposer gets 1 / (1 + delta) > 1/2, whoever it is.
    x_first = bg.backward_induction(pie(), 0, [0.9, 0.9], horizon=400).utilities[-1]
    y_first = bg.backward_induction(pie(), 1, [0.9, 0.9], horizon=400).utilities[-1]
    assert x_first[0] == pytest.approx(1 / 1.9, abs=1e-9)
    assert y_first[0] == pytest.approx(1 / 1.9, abs=1e-9)  # utilities of (Y, X) when Y opens
    assert y_first[1] == pytest.approx(0.9 / 1.9, abs=1e-9)


def test_patience_is_bargaining_power() -> None:
    # X (0.95) is more patient than Y (0.7): X gets more than half even when Y proposes first.
    x_first = bg.backward_induction(pie(), 0, [0.95, 0.7], horizon=400)
    y_first = bg.backward_induction(pie(), 1, [0.95, 0.7], horizon=400)
    assert x_first.utilities[-1, 0] == pytest.approx(bg.rubinstein_share(0.95, 0.7), abs=1e-9)
    x_share_when_y_opens = 1 - bg.rubinstein_share(0.7, 0.95)
    assert y_first.utilities[-1, 1] == pytest.approx(x_share_when_y_opens, abs=1e-9)
    assert x_share_when_y_opens > 0.5


def test_discounting_applies_to_the_gain_over_reservation() -> None:
    # The protocol values an agreement in round t at d + delta^(t-1) (u - d): the parties split the
    # surplus 1 - d_X - d_Y in Rubinstein's proportions, on top of their reservation utilities.
    game = bg.backward_induction(pie(0.2, 0.1), 0, [0.9, 0.8], horizon=400)
    surplus = 1 - 0.2 - 0.1
    share = bg.rubinstein_share(0.9, 0.8)
    np.testing.assert_allclose(game.utilities[-1], [0.2 + share * surplus, 0.1 + (1 - share) * surplus], atol=1e-9)


def test_as_patience_grows_the_equilibrium_tends_to_the_nash_solution() -> None:
    # Binmore, Rubinstein & Wolinsky (1986): with a common discount factor delta, the two
    # stationary equilibrium agreements (X or Y proposing) have equal Nash products, lie on either
    # side of the Nash bargaining solution at a distance O(1 - delta), and their midpoint is within
    # O((1 - delta)^2) of it. Curved frontier, asymmetric disagreement point.
    p = pie(0.1, 0.3, 2, 2)
    _, u_nash = textbook_nash(pie_curve(2, 2), (0.1, 0.3))
    delta = 0.99
    x_first = bg.backward_induction(p, 0, [delta, delta], horizon=2000).utilities[-1]
    y_first = bg.backward_induction(p, 1, [delta, delta], horizon=2000).utilities[-1][::-1]
    d = np.array([0.1, 0.3])
    assert np.prod(x_first - d) == pytest.approx(np.prod(y_first - d), abs=1e-7)
    assert np.abs(x_first - u_nash).max() <= 1 - delta
    assert np.abs(y_first - u_nash).max() <= 1 - delta
    assert x_first[0] > u_nash[0] > y_first[0]
    assert np.abs((x_first + y_first) / 2 - u_nash).max() <= (1 - delta) ** 2


# ---------------------------------------------------------------------------------------- Zeuthen

ZEUTHEN_CASES = [
    ("linear pie", pie(0.0, 0.0), pie_curve(1, 1), (0.0, 0.0)),
    ("linear pie, asymmetric d", pie(0.2, 0.0), pie_curve(1, 1), (0.2, 0.0)),
    ("quadratic pie, asymmetric d", pie(0.1, 0.4, 2, 2), pie_curve(2, 2), (0.1, 0.4)),
    ("asymmetric frontier", pie(0.0, 0.0, 2, 1), pie_curve(2, 1), (0.0, 0.0)),
    ("asymmetric frontier, asymmetric d", pie(0.3, 0.2, 1, 2), pie_curve(1, 2), (0.3, 0.2)),
    ("quadratic logroll, asymmetric d", logroll((0.7, 0.3), (0.2, 0.8), 0.1, 0.45, 2.0),
     quadratic_logroll_curve((0.7, 0.3), (0.2, 0.8)), (0.1, 0.45)),
]

#: Zeuthen's protocol runs on the frontier discretised at this spacing in utility.
ZEUTHEN_RESOLUTION = 1e-4


@pytest.mark.parametrize(("name", "problem", "curve", "d"), ZEUTHEN_CASES, ids=[c[0] for c in ZEUTHEN_CASES])
def test_two_zeuthen_negotiators_converge_to_the_nash_bargaining_solution(
    name: str, problem: Problem, curve: tuple[Curve, float, float], d: tuple[float, float]
) -> None:
    # Harsanyi (1956): under Zeuthen's rule the party whose offer has the smaller Nash product
    # concedes, so the offers close in on the Nash bargaining solution from both sides; on a
    # frontier discretised at spacing h the agreement is within h of it.
    _, u_nash = textbook_nash(curve, d)
    run = bg.zeuthen_negotiation(problem, resolution=ZEUTHEN_RESOLUTION)
    assert run.agreement is not None and run.agreement_utility is not None
    np.testing.assert_allclose(run.agreement_utility, u_nash, atol=ZEUTHEN_RESOLUTION)
    np.testing.assert_allclose(problem.utility(run.agreement), run.agreement_utility, atol=1e-9)


def test_zeuthen_concessions_are_monotonic_and_shift_the_risk() -> None:
    p = pie(0.1, 0.4, 2, 2)
    run = bg.zeuthen_negotiation(p, resolution=1e-3)
    d = p.reservation
    u = run.utilities  # (step, offerer, utility to X and Y)
    # both open with their best package
    assert u[0, 0, 0] == pytest.approx(1.0, abs=1e-9) and u[0, 1, 1] == pytest.approx(1.0, abs=1e-9)
    # nobody ever asks for more than before
    assert np.all(np.diff(u[:, 0, 0]) <= 1e-12) and np.all(np.diff(u[:, 1, 1]) <= 1e-12)
    # after a lone concession, the conceder's offer has the larger Nash product (the other's risk
    # is now the smaller one), unless the conceder accepted the other's offer
    nash = np.prod(u - d[None, None, :], axis=2)  # (step, offerer)
    for t, who in enumerate(run.conceders, start=1):
        accepted = np.allclose(u[t, 0], u[t, 1])
        if who in (0, 1) and not accepted:
            assert nash[t, who] > nash[t, 1 - who]
    assert run.steps < 10_000


def test_no_zeuthen_agreement_when_nothing_beats_disagreement() -> None:
    run = bg.zeuthen_negotiation(pie(0.6, 0.5))
    assert run.agreement is None


# ------------------------------------------------------------------------------ compromise model


def test_compromise_forecast_on_hand_computed_numbers() -> None:
    # Three actors, two issues. Weights c * s on issue 0: 0.5*0.2 = 0.1, 0.3*0.5 = 0.15,
    # 0.2*1.0 = 0.2 (total 0.45); on issue 1: 0.5*0.8 = 0.4, 0.3*0.5 = 0.15, 0.2*0 = 0 (0.55).
    x = np.array([[0.0, 10.0], [50.0, 40.0], [100.0, 90.0]])
    c = np.array([0.5, 0.3, 0.2])
    s = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])
    mean = bg.compromise_forecast(x, c, s)
    np.testing.assert_allclose(mean, [(0.15 * 50 + 0.2 * 100) / 0.45, (0.4 * 10 + 0.15 * 40) / 0.55])
    # medians: issue 0 accumulates 0.1, 0.25, 0.45 and half (0.225) is passed at 50;
    # issue 1 has 0.4 >= 0.275 at its first position, 10
    np.testing.assert_allclose(bg.compromise_forecast(x, c, s, method="median"), [50.0, 10.0])


def test_compromise_forecast_of_the_scholz_example() -> None:
    # Bueno de Mesquita's EU example (Scholz et al. 2011, Table 1): mean 7.38996, median 7.
    x = np.array([4, 7, 4, 4, 10, 10, 10, 7, 4, 7], dtype=float)
    c = np.array([0.08, 0.08, 0.03, 0.16, 0.16, 0.16, 0.16, 0.05, 0.05, 0.08])
    s = np.array([0.8, 0.4, 0.2, 0.8, 0.6, 0.6, 0.9, 0.1, 1.0, 0.7])
    assert float(bg.compromise_forecast(x, c, s)) == pytest.approx(5.003 / 0.677, abs=1e-12)
    assert float(bg.compromise_forecast(x, c, s)) == pytest.approx(7.38996, abs=5e-6)
    assert float(bg.compromise_forecast(x, c, s, method="median")) == 7.0
