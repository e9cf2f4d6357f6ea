"""The EUM's fast probabilities of success (``model.core.eum.fast``) against the ``n^3`` sum.

``prob_sorted`` computes ``sum_k max(0, w_k (d_kj - d_ki))`` and its normalisers from running
sums over the voters sorted by position. It is the same number in exact arithmetic, so it is
checked against ``engine._prob_block`` (the bit-for-bit batch of ``success_probability``) to
within rounding: under ``"all_pairs"`` to ``1e-12`` of the issue's largest probability; under
``"dyad"`` to a few ``eps`` of the condition of each probability (the size of its terms over
its normaliser, large only for two nearly coincident positions), the bound the ``n^3`` sum
itself keeps from the sum in extended precision. Then whole forecasts and runs of every shipped
scenario and case with the fast kernel forced, and the threshold that keeps small models on the
``n^3`` sum (and their bit-for-bit results).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model import scenario
from model.core import eum
from model.core.eum import engine as eum_engine
from model.core.eum import fast
from model.core.eum import forecast as eum_forecast
from model.negotiation import Negotiation

ROOT = Path(__file__).resolve().parents[1]
EPS = float(np.finfo(float).eps)


def random_issues(rng: np.random.Generator, sizes: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    """Positions, votes and exponents of a padded batch, as the engine builds it: a padding
    column copies the issue's first position and has no votes. Positions on a grid (ties, voters
    exactly at midpoints, coincident actors) or anywhere, some nearly coincident; some actors
    without votes; exponents 1 (the risk step), the ends 0.5 and 2, or anywhere in [0.5, 2]."""
    b = sizes.size
    x = np.empty((b, width))
    for k, m in enumerate(sizes):
        kind = rng.integers(4)
        if kind == 0:
            row = rng.choice(np.linspace(0.0, 1.0, int(rng.integers(2, 7))), size=m)
        elif kind == 1:
            row = rng.random(m)
            row[rng.random(m) < 0.3] = row[0] + rng.choice([0.0, 1e-9, 1e-6, 1e-3])  # (nearly) with actor 0
        else:
            row = rng.random(m) * rng.choice([1.0, 7.0]) - rng.choice([0.0, 3.0])
        row[0], row[-1] = min(row.min(), 0.0), max(row.max(), 1.0)  # a range to divide by
        x[k, :m], x[k, m:] = row, row[0]
    votes = rng.random((b, width)) * rng.choice([1.0, 40.0])
    votes[rng.random((b, width)) < 0.15] = 0.0
    votes[np.arange(width)[None, :] >= sizes[:, None]] = 0.0
    r = rng.choice([np.ones((b, width)), rng.choice([0.5, 2.0], (b, width)), rng.uniform(0.5, 2.0, (b, width))])
    return x, votes, r


def distance_powers(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``d[b, k, m] = (|x_k - x_m| / span) ** r_k``, as ``engine._round_batch`` computes it."""
    span = (x.max(axis=1) - x.min(axis=1))[:, None, None]
    return (np.abs(x[:, :, None] - x[:, None, :]) / span) ** r[:, :, None]


def groups_of(sizes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    return [(int(m), np.flatnonzero(sizes == m)) for m in np.unique(sizes)]


def condition(d: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """The size of the terms of each ``"dyad"`` probability over its normaliser."""
    w = votes[:, :, None, None]
    size = (w * (d[:, :, None, :] + d[:, :, :, None])).sum(axis=1)
    bottom = np.abs(w * (d[:, :, None, :] - d[:, :, :, None])).sum(axis=1)
    return np.where(bottom > 0, size / np.where(bottom > 0, bottom, 1.0), 0.0)


@pytest.mark.parametrize("seed", range(12))
def test_the_fast_kernel_gives_the_n3_sum_to_rounding(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    width = int(rng.choice([2, 3, 7, 16, 25, 40]))
    sizes = rng.integers(2, width + 1, size=int(rng.integers(1, 6)))
    sizes[0] = width
    x, votes, r = random_issues(rng, sizes, width)
    d = distance_powers(x, r)
    groups = groups_of(sizes)
    real = [np.ix_([b], np.arange(m), np.arange(m)) for b, m in enumerate(sizes)]
    for norm in ("all_pairs", "dyad"):
        ref = eum_engine._prob_block(d, votes, norm, groups)
        got = fast.prob_sorted(d, votes, norm, groups, fast.SortedPairs(x))
        for b, block in enumerate(real):
            want, have = ref[block], got[block]
            if norm == "all_pairs":
                np.testing.assert_allclose(have, want, rtol=1e-12, atol=1e-12 * want.max())
            else:
                bound = 4 * EPS * condition(d[b : b + 1], votes[b : b + 1])[0, : sizes[b], : sizes[b]]
                assert np.all(np.abs(have - want)[0] <= bound + 1e-300), norm
            # exact where it must be: nothing for coincident positions, and P in [0, 1]
            same = x[b, : sizes[b], None] == x[b, None, : sizes[b]]
            assert np.all(have[0][same] == 0.0)
            assert np.all((have >= 0) & (have <= 1))


def test_the_fast_kernel_is_as_near_the_exact_value_as_the_n3_sum() -> None:
    """Against the model summed in extended precision, the fast kernel errs by at most a few
    ``eps`` times the condition of each probability, as the ``n^3`` sum does."""
    if np.finfo(np.longdouble).eps >= EPS:
        pytest.skip("no extended precision on this platform")
    rng = np.random.default_rng(11)
    worst_fast = worst_ref = 0.0
    for _ in range(20):
        n = int(rng.integers(20, 45))
        x = rng.random((3, n))
        x[:, 1] = x[:, 0] + rng.choice([1e-7, 1e-5, 1e-3], 3)  # a nearly coincident pair
        r = rng.uniform(0.5, 2.0, (3, n))
        votes = rng.random((3, n))
        d = distance_powers(x, r)
        xl, rl = x.astype(np.longdouble), r.astype(np.longdouble)
        exact = eum_engine._prob_block(distance_powers(xl, rl), votes.astype(np.longdouble), "dyad",
                                       [(n, np.arange(3))]).astype(float)
        cond = EPS * np.maximum(condition(d, votes), 1.0)
        got = fast.prob_sorted(d, votes, "dyad", [(n, np.arange(3))], fast.SortedPairs(x))
        ref = eum_engine._prob_block(d, votes, "dyad", [(n, np.arange(3))])
        worst_fast = max(worst_fast, float((np.abs(got - exact) / cond).max()))
        worst_ref = max(worst_ref, float((np.abs(ref - exact) / cond).max()))
    assert worst_ref > 0.1  # the nearly coincident pairs are ill-conditioned for both
    assert worst_fast <= 8.0 and worst_ref <= 8.0


def test_no_contest_when_every_position_coincides() -> None:
    x = np.full((2, 5), 0.3)
    d = np.zeros((2, 5, 5))
    votes = np.ones((2, 5))
    for norm in ("all_pairs", "dyad"):
        np.testing.assert_array_equal(fast.prob_sorted(d, votes, norm, [(5, np.arange(2))], fast.SortedPairs(x)), 0.0)
    with pytest.raises(ValueError, match="unknown probability_norm"):
        fast.prob_sorted(d, votes, "pairs", [(5, np.arange(2))], fast.SortedPairs(x))


def test_a_hand_count() -> None:
    """Voters of weight 1 at 0, 0.5 and 1, exponent 1 (span 1). Between 0 and 1, the voter at 0
    gives 1 to the first, the one at 1 gives 1 to the second, the one at the midpoint nothing.
    Between 0 and 0.5, the voter at 0 gives 0.5 to the first; those at 0.5 and 1 give 0.5 each
    to the second."""
    x = np.array([[0.0, 0.5, 1.0]])
    d = distance_powers(x, np.ones((1, 3)))
    top = fast._support(d, np.ones((1, 3)), fast.SortedPairs(x))[0]
    np.testing.assert_array_equal(top, [[0.0, 0.5, 1.0], [1.0, 0.0, 1.0], [1.0, 0.5, 0.0]])


def test_the_batch_takes_the_fast_kernel_from_the_threshold_only() -> None:
    """``_prob_batch`` is the ``n^3`` sum, bit for bit, below ``FAST_FROM`` actors and the fast
    kernel from it; and every shipped scenario and case is below it (so the fingerprint stays)."""
    rng = np.random.default_rng(3)
    for width in (fast.FAST_FROM - 1, fast.FAST_FROM):
        sizes = np.array([width, width])
        x = rng.random((2, width))  # distinct positions: the two kernels differ in the last bits
        votes, r = rng.random((2, width)), rng.uniform(0.5, 2.0, (2, width))
        d = distance_powers(x, r)
        groups = groups_of(sizes)
        got = eum_engine._prob_batch(d, votes, "all_pairs", groups, eum_engine._sorted_pairs(x))
        ref = eum_engine._prob_block(d, votes, "all_pairs", groups)
        if width < fast.FAST_FROM:
            np.testing.assert_array_equal(got, ref)
        else:
            np.testing.assert_array_equal(got, fast.prob_sorted(d, votes, "all_pairs", groups, fast.SortedPairs(x)))
            assert not np.array_equal(got, ref)
    for sc in shipped():
        widest = int((np.asarray(sc.raw_salience) > 0).sum(axis=0).max())
        assert widest < fast.FAST_FROM


def shipped() -> list[scenario.Scenario]:
    files = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "backtest" / "cases").glob("*/scenario.yaml"))
    return [scenario.load(f) for f in files]


def forecasts(sc: scenario.Scenario, rounds: int, options: eum.EUMOptions | None) -> list[eum.IssueForecast]:
    return eum.forecast_problem(sc.problem, sc.capability, rounds, options, salience=sc.raw_salience)


@pytest.mark.parametrize("options", [None, eum.EUMOptions(probability_norm="dyad", capitulation=True),
                                     eum.EUMOptions(compromise_choice="nearest", q=0.5)])
def test_shipped_forecasts_with_the_fast_kernel_forced(
    options: eum.EUMOptions | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = shipped()
    ref = [forecasts(sc, 20, options) for sc in cases]
    monkeypatch.setattr(fast, "FAST_FROM", 2)
    got = [forecasts(sc, 20, options) for sc in cases]
    moved = 0
    for a_case, b_case in zip(ref, got, strict=True):
        for a, b in zip(a_case, b_case, strict=True):
            assert a.issue == b.issue and a.participants == b.participants
            for name in ("positions", "median", "mean"):
                np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12, atol=1e-12)
            moved += int(np.any(a.positions[-1] != a.positions[0]))
    assert moved > 10  # the forecasts compared do move


def test_the_published_example_with_the_fast_kernel_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    opts = [eum.EUMOptions(), eum.EUMOptions(probability_norm="dyad"), eum.EUMOptions(capitulation=True)]
    ref = [eum.run(options=o, rounds=12) for o in opts]
    monkeypatch.setattr(fast, "FAST_FROM", 2)
    for o, a in zip(opts, ref, strict=True):
        b = eum.run(options=o, rounds=12)
        np.testing.assert_allclose(b.positions, a.positions, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b.risk, a.risk, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(b.kind, a.kind)
        np.testing.assert_array_equal(b.partner, a.partner)


def eum_runs() -> list[tuple[str, scenario.Scenario]]:
    """The shipped EUM scenario and the baseline under the ``eum`` protocol, each loaded anew
    (the protocol keeps each problem's forecasts)."""
    data = scenario.load_data(ROOT / "scenarios" / "belarus_us_2025.yaml")[0]
    data["protocol"]["kind"] = "eum"
    return [("scholz2011_eum", scenario.load(ROOT / "scenarios" / "scholz2011_eum.yaml")),
            ("baseline/eum", scenario.parse(json.loads(json.dumps(data))))]


def test_shipped_eum_runs_have_the_same_outcomes_with_the_fast_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = {name: Negotiation(sc, rng=0, collect=False).run() for name, sc in eum_runs()}
    monkeypatch.setattr(fast, "FAST_FROM", 2)
    eum_forecast._CACHE.clear()
    for name, sc in eum_runs():
        a, b = ref[name], Negotiation(sc, rng=0, collect=False).run()
        assert (b.agreed, b.reason, b.rounds) == (a.agreed, a.reason, a.rounds), name
        for pa, pb in ((a.package, b.package), (a.state, b.state)):
            assert (pa is None) == (pb is None)
            if pa is not None:
                np.testing.assert_allclose(np.asarray(pb, dtype=float), np.asarray(pa, dtype=float), atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_splitting_a_round_by_issues_changes_no_bit(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """From ``FAST_FROM`` actors, ``ROUND_TERMS`` splits a round of many issues into parts (to
    keep its arrays small); every part's numbers are the whole batch's, bit for bit."""
    rng = np.random.default_rng(900 + seed)
    width = int(rng.choice([fast.FAST_FROM, fast.FAST_FROM + 7]))
    sizes = rng.integers(2, width + 1, size=7)
    sizes[0] = width
    x, votes, _ = random_issues(rng, sizes, width)
    sal = rng.uniform(0.05, 1.0, x.shape)
    opts = eum.EUMOptions(probability_norm="dyad") if seed % 2 else eum.EUMOptions()
    monkeypatch.setattr(eum_engine, "ROUND_TERMS", 10**9)
    whole = eum_engine._run_batch(x, votes, sal, 8, opts, sizes)
    monkeypatch.setattr(eum_engine, "ROUND_TERMS", int(rng.choice([1, 2 * width * width])))
    parts = eum_engine._run_batch(x, votes, sal, 8, opts, sizes)
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_array_equal(a, b)
