"""The fast paths of the expected-utility model give bit-for-bit the results of the plain loop.

``model.core.eum.run`` and ``forecast_problem`` run many issues at once (``_run_batch``: a
leading batch axis, issues padded to the largest) and keep the last few forecasts. Here they are
compared, with ``np.array_equal`` (not a tolerance), to the round of the module's docstring
written as a loop over the one-issue functions (``risk_exponents``, ``success_probability``,
``challenge_utilities``, ``best_offers``), issue by issue, on random inputs: many sizes (below
and above 8 actors, where numpy's pairwise sums change their grouping), ties of position,
actors without votes, and every switch of ``EUMOptions``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from model.core import eum
from model.core.eum import engine as eum_engine
from model.core.eum import forecast as eum_forecast
from model.core.eum import rounds as eum_rounds
from model.core.eum import weighted_median


def reference_run(actors: eum.Actors, rounds: int, options: eum.EUMOptions | None = None) -> eum.EUMRun:
    """The model as a loop over rounds of the one-issue functions (the original ``run``)."""
    opts = options if options is not None else eum.EUMOptions()
    x = actors.position.astype(float).copy()
    span = float(x.max() - x.min())
    votes = actors.votes
    positions, risks, kinds, partners = [x.copy()], [], [], []
    for _ in range(rounds):
        r = eum.risk_exponents(x, actors, span, opts)
        prob = eum.success_probability(x, votes, r, span, opts.probability_norm)
        eu_ij, eu_ji = eum.challenge_utilities(x, actors.salience, prob, r, span, opts.q)
        x, kind, partner = eum.best_offers(x, eu_ij, eu_ji, opts)
        positions.append(x.copy())
        risks.append(r)
        kinds.append(kind)
        partners.append(partner)
    pos = np.array(positions)
    return eum.EUMRun(
        names=actors.names,
        positions=pos,
        median=np.array([weighted_median(p, votes) for p in pos]),
        mean=np.array([eum.weighted_mean(p, votes) for p in pos]),
        risk=np.array(risks).reshape(rounds, -1),
        kind=np.array(kinds, dtype=int).reshape(rounds, -1),
        partner=np.array(partners, dtype=int).reshape(rounds, -1),
        options=opts,
    )


def random_options(rng: np.random.Generator) -> eum.EUMOptions:
    return eum.EUMOptions(
        q=float(rng.choice([1.0, 0.5])),
        probability_norm=str(rng.choice(["all_pairs", "dyad"])),  # type: ignore[arg-type]
        compromise_choice=str(rng.choice(["weighted_point", "nearest"])),  # type: ignore[arg-type]
        capitulation=bool(rng.integers(2)),
    )


def random_actors(rng: np.random.Generator, n: int) -> eum.Actors:
    """Positions on a grid (ties) or anywhere; some actors without capability; distinct ends."""
    grid = rng.random() < 0.5
    x = rng.choice(np.linspace(0.0, 1.0, 5), size=n) if grid else rng.random(n)
    x[0], x[1] = 0.0, 1.0
    c = rng.random(n)
    c[rng.random(n) < 0.15] = 0.0
    c[0] = max(c[0], 0.1)
    s = np.round(rng.random(n), 1) + 0.05 if rng.random() < 0.3 else rng.uniform(0.01, 1.0, n)
    return eum.Actors(tuple(f"a{k}" for k in range(n)), c, x, s)


def assert_same_run(a: eum.EUMRun, b: eum.EUMRun) -> None:
    for name in ("positions", "median", "mean", "risk", "kind", "partner"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("seed", range(6))
def test_run_equals_the_loop_of_one_issue_functions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (2, 3, 5, 7, 8, 9, 12, 17):
        actors = random_actors(rng, n)
        opts = random_options(rng)
        rounds = int(rng.integers(1, 16))
        assert_same_run(eum.run(actors, rounds, opts), reference_run(actors, rounds, opts))


def test_run_equals_the_loop_on_the_published_example() -> None:
    for opts in (eum.EUMOptions(), eum.EUMOptions(probability_norm="dyad"),
                 eum.EUMOptions(compromise_choice="nearest"), eum.EUMOptions(capitulation=True)):
        assert_same_run(eum.run(options=opts, rounds=12), reference_run(eum.scholz_example(), 12, opts))


@pytest.mark.parametrize("chunk", [0, 1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_a_padded_batch_of_issues_equals_each_issue_alone(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with the batch split into chunks of ``chunk`` issues (as at 100 actors, to bound memory)."""
    rng = np.random.default_rng(100 + seed)
    sizes = rng.choice([2, 3, 4, 6, 7, 8, 9, 11], size=int(rng.integers(2, 8)))
    width = int(sizes.max())
    if chunk:
        monkeypatch.setattr(eum_engine, "CHUNK_TERMS", chunk * width**3)
    opts = random_options(rng)
    rounds = int(rng.integers(1, 12))
    issues = [random_actors(rng, int(n)) for n in sizes]
    x0 = rng.random((sizes.size, width)) * 7 - 3  # padding: junk, to be ignored
    votes = rng.random((sizes.size, width))
    sal = rng.random((sizes.size, width))
    for b, act in enumerate(issues):
        x0[b, : act.position.size] = act.position
        votes[b, : act.position.size] = act.votes
        sal[b, : act.position.size] = act.salience
    pos, risk, kind, partner, source = eum_engine._run_batch(x0, votes, sal, rounds, opts, sizes)
    for b, act in enumerate(issues):
        n = act.position.size
        ref = reference_run(act, rounds, opts)
        np.testing.assert_array_equal(pos[:, b, :n], ref.positions)
        np.testing.assert_array_equal(risk[:, b, :n], ref.risk)
        np.testing.assert_array_equal(kind[:, b, :n], ref.kind)
        np.testing.assert_array_equal(partner[:, b, :n], ref.partner)
        # a repeated row says which computed row it repeats
        assert np.all(source[:, b] <= np.arange(rounds + 1))
        np.testing.assert_array_equal(pos[source[:, b], b], pos[:, b])
        # padding neither moves nor is anyone's partner
        assert np.all(pos[:, b, n:] == pos[0, b, 0])
        assert np.all(kind[:, b, n:] == eum.NONE)
        assert np.all(partner[:, b, :] < n)


def test_weighted_median_of_rows_equals_weighted_median() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 9, 20):
        values = rng.choice(np.linspace(0, 1, 4), size=(30, n)) if n > 3 else rng.random((30, n))
        weights = rng.random(n)
        weights[rng.random(n) < 0.3] = 0.0
        got = eum_rounds._weighted_median_rows(values, weights)
        np.testing.assert_array_equal(got, [weighted_median(v, weights) for v in values])


def random_problem(rng: np.random.Generator, n_actors: int, n_issues: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """A duck-typed problem (what ``forecast_problem`` reads), capabilities, raw saliences."""
    ideal = rng.choice(np.linspace(0, 1, 6), size=(n_actors, n_issues))
    sal = np.round(rng.random((n_actors, n_issues)), 2)
    sal[rng.random((n_actors, n_issues)) < 0.35] = 0.0  # actors that take no part
    sal[:, 0] = 0.0  # an issue nobody weighs
    if n_issues > 1:
        sal[1:, 1] = 0.0  # an issue one actor weighs
    if n_issues > 2:
        ideal[:, 2] = 0.5  # an issue where everyone agrees
    cap = rng.random(n_actors)
    problem = SimpleNamespace(
        prefs=SimpleNamespace(ideal=ideal, weight=sal),
        space=SimpleNamespace(ids=tuple(f"i{k}" for k in range(n_issues)), status_quo=rng.random(n_issues)),
        actor_ids=tuple(f"a{k}" for k in range(n_actors)),
    )
    return problem, cap, sal


def reference_forecast(problem: Any, cap: np.ndarray, rounds: int, sal: np.ndarray,
                       options: eum.EUMOptions | None, monkeypatch: pytest.MonkeyPatch) -> list[eum.IssueForecast]:
    """The original ``forecast_problem``: ``forecast_issue`` on each issue, with the loop ``run``."""
    with monkeypatch.context() as m:
        m.setattr(eum_forecast, "run", reference_run)  # forecast_issue runs eum.run
        names = tuple(problem.actor_ids)
        return [eum.forecast_issue(iid, problem.prefs.ideal[:, i], sal[:, i], cap, rounds, options, names,
                                   float(problem.space.status_quo[i]))
                for i, iid in enumerate(problem.space.ids)]


@pytest.mark.parametrize("seed", range(8))
def test_forecast_problem_equals_the_issue_by_issue_forecast(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(200 + seed)
    problem, cap, sal = random_problem(rng, int(rng.integers(3, 13)), int(rng.integers(1, 25)))
    opts = random_options(rng) if seed % 2 else None
    rounds = int(rng.integers(0, 20))
    eum_forecast._CACHE.clear()
    got = eum.forecast_problem(problem, cap, rounds, opts, salience=sal)
    again = eum.forecast_problem(problem, cap, rounds, opts, salience=sal)  # from the cache
    if rounds == 0:  # the loop cannot run no round; the forecast is the start
        for f in got:
            assert f.positions.shape[0] == 1
        return
    ref = reference_forecast(problem, cap, rounds, sal, opts, monkeypatch)
    assert len(got) == len(again) == len(ref)
    for a, b, r in zip(got, again, ref, strict=True):
        assert a.issue == b.issue == r.issue
        assert a.participants == b.participants == r.participants
        for name in ("positions", "median", "mean"):
            np.testing.assert_array_equal(getattr(a, name), getattr(r, name), err_msg=f"{r.issue} {name}")
            np.testing.assert_array_equal(getattr(b, name), getattr(r, name), err_msg=f"{r.issue} {name}")


def test_the_cache_hands_out_fresh_arrays_and_tells_problems_apart() -> None:
    rng = np.random.default_rng(3)
    problem, cap, sal = random_problem(rng, 6, 5)
    first = eum.forecast_problem(problem, cap, 6, salience=sal)
    first[3].positions[:] = -1.0
    first[3].median[:] = -1.0
    second = eum.forecast_problem(problem, cap, 6, salience=sal)
    assert np.all(second[3].positions >= 0) and np.all(second[3].median >= 0)
    changed = sal.copy()
    changed[changed > 0] = np.minimum(changed[changed > 0] + 0.3, 1.0)
    other = eum.forecast_problem(problem, cap, 6, salience=changed)
    uncached = eum_forecast._forecast_issues(tuple(problem.space.ids), problem.prefs.ideal, changed, cap, 6,
                                    eum.EUMOptions(), tuple(problem.actor_ids), problem.space.status_quo)
    for a, b in zip(other, uncached, strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.median, b.median)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sal": (2, 1.5)}, "issue 'i2': saliences"),
        ({"cap": -1.0}, "issue 'i0': capabilities"),
        ({"sal": (0, 1.5), "cap": -1.0}, "issue 'i0': saliences"),
        ({"sal": (3, -0.5), "cap": -1.0}, "issue 'i0': capabilities"),
        ({"sal": (3, -0.5), "rounds": -1}, "rounds must be"),
        ({"rounds": -1}, "rounds must be"),
    ],
)
def test_bad_inputs_fail_as_issue_by_issue(change: dict[str, Any], message: str) -> None:
    rng = np.random.default_rng(4)
    problem, cap, sal = random_problem(rng, 4, 5)
    if "sal" in change:
        issue, value = change["sal"]
        sal[1, issue] = value
    if "cap" in change:
        cap[2] = change["cap"]
    with pytest.raises(ValueError, match=message):
        eum.forecast_problem(problem, cap, change.get("rounds", 5), salience=sal)
