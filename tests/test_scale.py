"""Scale: no silent cap on the feasible boxes, offer caches sized to the proposers,
deterministic replicates run once, and sweep summaries read in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from model import scenario
from model.core.problem import TooManyBoxes
from model.core.redlines import MAX_BOXES
from model.errors import InputError


def conditional_scenario(n_lines: int, n_actors: int = 2, kind: str = "package") -> dict[str, Any]:
    """``n_lines`` pairs of issues ``a_k``/``b_k``; the first actor's red line ``k`` asks for
    ``b_k >= 0.6`` once ``a_k > 0.5``. The lines are independent, so the feasible packages are
    ``2 ** n_lines`` boxes (each line on or off)."""
    issues = [{"id": f"{p}{k}", "label": f"{p}{k}", "status_quo": 0.5} for k in range(n_lines) for p in "ab"]
    rng = np.random.default_rng(n_lines)
    actors = []
    for a in range(n_actors):
        act: dict[str, Any] = {
            "id": f"P{a}", "name": f"P{a}",
            "issues": {iss["id"]: {"position": float(rng.uniform()), "salience": float(rng.uniform(0.1, 1.0))}
                       for iss in issues},
        }
        if a == 0:
            act["red_lines"] = [{"issue": f"b{k}", "min": 0.6, "when": {"issue": f"a{k}", "above": 0.5}}
                                for k in range(n_lines)]
        actors.append(act)
    return {"name": "cond", "title": "conditional lines", "issues": issues, "actors": actors,
            "protocol": {"kind": kind, "max_rounds": 10}}


def test_boxes_below_the_limit_are_all_covered() -> None:
    sc = scenario.parse(conditional_scenario(10))
    assert len(sc.problem.boxes) == 2**10  # every box, none dropped


def test_too_many_boxes_is_a_one_line_error_naming_the_lines(tmp_path: Path) -> None:
    """Where a protocol searches the boxes (the mediated text), too many of them is refused."""
    n = 13  # 2 ** 13 = 8192 > 4096
    assert 2**n > MAX_BOXES
    f = tmp_path / "cond.yaml"
    f.write_text(yaml.safe_dump(conditional_scenario(n, kind="mediated"), sort_keys=False))
    with pytest.raises(InputError) as err:
        scenario.load(f)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(f) in msg and "actors[0].red_lines[0]" in msg
    assert f"more than {MAX_BOXES:,} boxes" in msg and f"{n} such lines" in msg
    assert "P0: b0 in [0.6, 1] when a0 > 0.5" in msg


def test_the_core_refuses_a_truncated_enumeration() -> None:
    """A problem built around the scenario checks still never searches part of its feasible set."""
    from model.core.problem import checked_boxes
    from model.core.redlines import RedLine, RedLineSet
    from model.core.space import Issue, OutcomeSpace

    n = 13
    space = OutcomeSpace.build([Issue(f"x{k}", f"x{k}") for k in range(2 * n)], [0.5] * (2 * n))
    lines = [RedLine(0, 2 * k + 1, 0.6, 1.0, when_issue=2 * k, when_above=0.5) for k in range(n)]
    with pytest.raises(TooManyBoxes) as err:
        checked_boxes(RedLineSet(lines, 2, 2 * n), space, [0, 1], ("A", "B"))
    assert len(err.value.lines) == n


def test_offer_tables_are_kept_for_every_proposer_past_64_actors() -> None:
    """The offer tables were kept in caches of 64 entries while a run cycles through every
    proposer: past 64 actors every replicate rebuilt every table. Now the second replicate of
    a 66-actor value-table domain builds none: every look-up is a hit."""
    from model.core import search
    from model.core.domains import peer_case_draws, table_problem
    from model.core.protocol import run_package_protocol
    from model.core.strategies import Boulware

    n = 66
    p = table_problem(peer_case_draws(7, 0, n))
    strategies = [Boulware(4.0)] * n
    tables = search._offer_table
    first = run_package_protocol(p, strategies, list(range(n)), 2 * n, 0.0, np.random.default_rng(0))
    assert first.rounds > 64  # every proposer had its turn, past the old cache size
    before = tables.cache_info()
    again = run_package_protocol(p, strategies, list(range(n)), 2 * n, 0.0, np.random.default_rng(1))
    after = tables.cache_info()
    assert after.misses == before.misses  # no table rebuilt
    assert after.hits - before.hits == again.rounds  # one look-up per offer, each a hit
    assert again.agreed == first.agreed and again.rounds == first.rounds


# ---------------------------------------------------------------------------- deterministic replicates


def _sweep_df(f: Path, out: Path) -> Any:
    from model import experiment as exm
    from model import results
    from model.sweep import Sweep, executor

    with executor("serial", 1) as pool:
        Sweep(exm.load(f), out).run(pool)
    return results.load(out)


@pytest.mark.parametrize("kind", ["package", "mediated"])
def test_a_point_that_draws_nothing_runs_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """No breakdown risk, time-only strategies (package, through the arrays) or a mediator
    without noise (through the Mesa model): no run draws a random number, so each point is run
    once and its replicates copy the row; the rows are those of running every replicate."""
    from model import experiment as exm
    from model.sweep import rows
    from tests.factories import small, write_experiment

    calls: list[int] = []
    traced = rows.run_traced

    def counting(sc: scenario.Scenario, seed: int, series: Any = None) -> tuple[dict[str, Any], bool]:
        calls.append(seed)
        return traced(sc, seed, series)

    monkeypatch.setattr(rows, "run_traced", counting)
    monkeypatch.setattr(rows, "_SAME_EVERY_SEED", {})
    base = small(protocol={"kind": kind, "max_rounds": 30})
    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [5, 12, 30]}],
                         scenario=base, replicates=4, chunk_size=5)
    df = _sweep_df(f, tmp_path / "out")
    assert len(df) == 12 and df["error"].isna().all()
    assert len(calls) == 3  # one run per point, although chunks split the points
    first = df["replicate"] == 0
    assert df.loc[first, "replicate_of"].isna().all()
    assert (df.loc[~first, "replicate_of"] == df.loc[~first, "run_id"] - df.loc[~first, "replicate"]).all()
    exp = exm.load(f)
    result_cols = [c for c in df.columns if c not in ("run_id", "point_id", "replicate", "seed", "replicate_of")
                   and not c.startswith("axis.") and c != "error"]
    for r in df.itertuples(index=False):
        sc = exp.scenario_for(exp.points[r.point_id])
        alone = traced(sc, int(r.seed))[0]  # every replicate run on its own
        got = dict(zip(df.columns, r, strict=True))
        for c in result_cols:
            a, b = got[c], alone[c]
            assert (a == b) or (a != a and b != b) or (a is None and b in ("", None)), (c, a, b)


def test_a_point_that_draws_runs_every_replicate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.sweep import rows
    from tests.factories import small, write_experiment

    monkeypatch.setattr(rows, "_SAME_EVERY_SEED", {})
    base = small(protocol={"max_rounds": 30, "breakdown_risk": 0.1})
    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [12, 30]}], scenario=base, replicates=3)
    df = _sweep_df(f, tmp_path / "out")
    assert df["replicate_of"].isna().all()


# ---------------------------------------------------------------------------- streaming summary


@pytest.mark.parametrize("axes", [
    [{"path": "protocol.max_rounds", "values": [5, 12, 30]}, {"path": "protocol.breakdown_risk", "values": [0.0, 0.2]}],
    [{"path": "protocol.breakdown_risk", "range": [0.0, 0.5]}],  # a sampled axis: shown in bins
])
def test_the_sweep_summary_read_in_batches_equals_the_full_load(tmp_path: Path, axes: list[dict[str, Any]]) -> None:
    import pandas as pd

    from model import results
    from model.sweep.sweep import summary_frame
    from tests.factories import small, write_experiment

    design = {"kind": "grid"} if "values" in axes[0] else {"kind": "lhs", "samples": 20}
    f = write_experiment(tmp_path, axes, design, scenario=small(protocol={"max_rounds": 30}), chunk_size=4)
    full = _sweep_df(f, tmp_path / "out")
    full.loc[full.index[::5], "error"] = "boom"  # as failed runs would read
    cols = [f"axis.{a['path']}" for a in axes]
    part = summary_frame(tmp_path / "out", cols)
    assert list(part.columns) == ["run_id", *cols[:2], "agreed", "error"]
    assert len(part) == len(full)
    part.loc[part.index[::5], "error"] = "boom"
    for df in (full, part):
        if df[cols[0]].nunique() > 12:  # as the CLI bins a sampled axis
            df[cols[0]] = pd.cut(df[cols[0]], 5)
    pd.testing.assert_frame_equal(results.agreement_rates(full, cols[:2]), results.agreement_rates(part, cols[:2]))


# ---------------------------------------------------------------------------- scalar paths, bit for bit


def test_partial_values_in_plain_floats_equal_the_array_form() -> None:
    """Deliveries of a share of a move: the plain-float path gives the very values of the array
    form it replaced (every grid value between start and target, the nearest to the share)."""
    from model.core.space import EPS
    from model.core.tranche import partial_values

    sc = scenario.load(Path(__file__).resolve().parents[1] / "scenarios" / "belarus_us_2025.yaml")
    p = sc.problem
    rng = np.random.default_rng(3)
    n_i = p.space.n_issues
    for _ in range(2000):
        issues = np.sort(rng.choice(n_i, size=int(rng.integers(1, 4)), replace=False))
        pick = lambda i: float(p.space.grid[i][p.space.grid_mask[i]][rng.integers(p.space.grid_mask[i].sum())])  # noqa: E731
        starts = np.array([pick(i) for i in issues])
        targets = np.array([pick(i) for i in issues])
        f = float(rng.choice([rng.uniform(), 0.5, 0.25, 1e-9]))
        g = p.space.grid[issues]
        lo, hi = np.minimum(starts, targets)[:, None], np.maximum(starts, targets)[:, None]
        between = p.space.grid_mask[issues] & (g >= lo - EPS) & (g <= hi + EPS)
        want = (starts + f * (targets - starts))[:, None]
        d = np.where(between, np.abs(g - want) + 1e-12 * np.abs(g - starts[:, None]), np.inf)
        expected = g[np.arange(len(g)), d.argmin(axis=1)]
        got = partial_values(p, issues, starts, targets, f)
        assert got.tobytes() == expected.tobytes()


@pytest.mark.slow
def test_copied_replicates_are_the_same_rows_on_a_process_pool(tmp_path: Path) -> None:
    """``replicate_of`` depends on the point, not on which worker ran what: two worker
    processes, each computing the points of its chunks, give the serial sweep's rows."""
    import pandas as pd

    from model import experiment as exm
    from model import results
    from model.sweep import Sweep, executor
    from tests.factories import small, write_experiment

    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [5, 12, 30]}],
                         scenario=small(protocol={"max_rounds": 30}), replicates=4, chunk_size=3)
    serial = _sweep_df(f, tmp_path / "serial")
    with executor("process", 2) as pool:
        Sweep(exm.load(f), tmp_path / "process").run(pool)
    pd.testing.assert_frame_equal(serial, results.load(tmp_path / "process"))
    assert serial["replicate_of"].notna().sum() == 9


def _crosses_none(package: np.ndarray, n_lines: int, ids: list[str]) -> bool:
    """Every line of ``conditional_scenario`` checked by hand: ``b_k >= 0.6`` wherever ``a_k > 0.5``."""
    at = dict(zip(ids, package.tolist(), strict=True))
    return all(at[f"a{k}"] <= 0.5 + 1e-9 or at[f"b{k}"] >= 0.6 - 1e-9 for k in range(n_lines))


def test_twenty_conditional_lines_validate_and_run_without_boxes(tmp_path: Path) -> None:
    """2 ** 20 boxes: the package protocol's programs branch on the lines instead, so the scenario
    validates, runs to an agreement that crosses no line, and no box is ever enumerated."""
    from model.core.offers import applies
    from model.negotiation import Negotiation
    from model.sweep.rows import run_one

    n = 20
    f = tmp_path / "cond20.yaml"
    f.write_text(yaml.safe_dump(conditional_scenario(n, n_actors=3), sort_keys=False))
    sc = scenario.load(f)
    p = sc.problem
    assert p.boxless and p.has_zone_of_agreement_by_red_lines and applies(p)
    row = run_one(sc, 0)
    assert row["agreed"]
    pk = np.array([row[f"value.{i}"] for i in p.space.ids])
    assert _crosses_none(pk, n, list(p.space.ids)) and bool(p.feasible(pk[None, :])[0])
    o = Negotiation(sc, rng=0, collect=False).run()  # the Mesa model, round by round
    assert o.agreed and o.package is not None and _crosses_none(np.asarray(o.package), n, list(p.space.ids))
    u = p.utility(np.asarray(o.package))
    assert np.all(u[list(p.parties)] >= p.reservation[list(p.parties)] - 1e-9)
    assert np.all(p.utopia <= p.best_utility + 1e-9)
    from model.core.analysis import find_dominating, nash_point, pareto_frontier

    front = pareto_frontier(p, 0, 1, n=20)  # the plot's frontier, from the programs
    assert len(front) >= 2 and np.all(np.diff(front[:, 0]) > 0) and np.all(np.diff(front[:, 1]) < 0)
    assert find_dominating(p, np.asarray(o.package)) is None  # the frontier offer is Pareto-optimal
    assert nash_point(p) is None  # not computed without boxes (said in its docstring)
    assert "boxes" not in p.__dict__  # never enumerated (nor refused)


def test_the_programs_answer_as_the_boxes_do() -> None:
    """Below the limit both ways can be asked: feasibility and each actor's best agree (linear
    utilities: the program's optimum is a grid package), the program's compromise is at least as
    fair as the grid's, a package it finds dominating does dominate, and an offer on the frontier
    is dominated by nothing."""
    from model.core.analysis import best_compromise
    from model.core.offers import frontier_offer, lp_best_packages, lp_compromise, lp_dominating, lp_feasible

    p = scenario.parse(conditional_scenario(6, n_actors=3)).problem
    assert not p.boxless and len(p.boxes) == 2**6
    assert lp_feasible(p)
    best_lp = p.utility(lp_best_packages(p)).max(axis=0)
    np.testing.assert_allclose(best_lp, p.best_utility, atol=1e-9)
    parties = list(p.parties)
    span = p.utopia - p.reservation

    def worst(x: np.ndarray) -> float:
        return float(((p.utility(x) - p.reservation) / span)[parties].min())

    grid, lp = best_compromise(p), lp_compromise(p)
    assert grid is not None and lp is not None and p.feasible(lp[None, :])[0]
    assert worst(lp) >= worst(grid) - 1e-9
    sq = p.space.status_quo
    dom = lp_dominating(p, sq)
    assert dom is not None and p.feasible(dom[None, :])[0]
    gain = p.utility(dom)[parties] - p.utility(sq)[parties]
    assert np.all(gain >= -1e-9) and gain.max() > 1e-6
    offer = frontier_offer(p, 0, p.reservation.copy())
    assert offer is not None and lp_dominating(p, offer.package) is None


def test_a_long_run_shows_progress_and_the_same_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    """``bargain run`` steps the model itself to print progress: the outcome is what ``run`` gives,
    and progress lines (thresholds set to zero here, not a timing) go to standard error only."""
    from model.cli import _run_with_progress, _SetUpProgress
    from model.negotiation import Negotiation

    sc = scenario.parse(conditional_scenario(3, n_actors=3))
    ref = Negotiation(sc, rng=5)
    plain = ref.run()
    with _SetUpProgress(after=0.0, every=3600.0):  # the set-up's line: from its thread or on leaving
        m = Negotiation(sc, rng=5)
    setup = capsys.readouterr()
    assert setup.out == "" and setup.err.startswith("run: setting up the problem, ")
    _run_with_progress(m, after=0.0, every=0.0)
    assert m.outcome is not None and m.round == ref.round
    assert (m.outcome.agreed, m.outcome.reason) == (plain.agreed, plain.reason)
    assert np.array_equal(np.asarray(m.outcome.package), np.asarray(plain.package))
    got = capsys.readouterr()
    lines = got.err.strip().splitlines()
    assert got.out == "" and lines[-1].startswith(f"run: done after {m.round} rounds")
    assert len(lines) == m.round  # one a round but the last, then the closing line
    assert lines[0].startswith(f"run: round 1 of {m.max_rounds}")


def test_offers_are_kept_per_problem_for_every_proposer_and_round() -> None:
    """The package protocol's offers are kept on their problem, as many as a run's proposers x
    rounds need (no fixed 4,096 shared by every problem): a replicate finds every offer kept
    and computes none, and a kept offer is the very object a first search gave."""
    from model.core import offers
    from model.negotiation import Negotiation

    sc = scenario.parse(conditional_scenario(3, n_actors=4))
    p = sc.problem
    first = Negotiation(sc, rng=0, collect=False).run()
    kept = offers._kept_offers(p)
    n = len(kept)
    assert n >= min(first.rounds, 2)
    again = Negotiation(sc, rng=1, collect=False).run()
    assert len(kept) == n  # nothing new computed
    assert (again.agreed, again.rounds) == (first.agreed, first.rounds)
    (proposer, key, mech), offer = next(iter(kept.items()))
    assert offers.frontier_offer(p, proposer, np.frombuffer(key), mech) is offer
    # the size: at least the old shared cache; on a small problem every proposer's offers over
    # 10,000 rounds (the schema's limit) fit
    assert offers.offer_cache_size(p) >= max(4096, len(p.parties) * 10_000)


def test_batches_evaluated_in_chunks_give_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Utilities, red-line checks and the search for a dominating package bound their memory by
    evaluating packages a few rows at a time (``model.core.chunks``): forcing chunks of one or
    two rows must change no number, including which dominating package is found first."""
    import model.core.analysis as analysis
    import model.core.chunks as chunks
    from model.core import find_dominating

    sc = scenario.parse(conditional_scenario(3, n_actors=4))
    p = sc.problem
    rng = np.random.default_rng(5)
    pk = rng.uniform(size=(257, p.space.n_issues))
    start = p.space.status_quo.copy()
    whole = (p.utility(pk), p.redlines.satisfied(pk), find_dominating(p, start))
    assert whole[2] is not None  # the status quo is dominated here: the search has something to find
    for terms in (1, 2 * p.n_actors * p.space.n_issues):
        monkeypatch.setattr(chunks, "CHUNK_TERMS", terms)
        monkeypatch.setattr(analysis, "CHUNK_TERMS", terms)
        assert np.array_equal(p.utility(pk), whole[0])
        assert np.array_equal(p.redlines.satisfied(pk), whole[1])
        found = find_dominating(p, start)
        assert found is not None and np.array_equal(found, whole[2])
