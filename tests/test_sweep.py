"""Sweeps: designs, seeds, identical rows on every backend, resume, and failure isolation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from model import experiment as exm
from model import results
from model.cli import main
from model.sweep import Sweep, executor, rerun
from tests.factories import small, write_experiment

ROOT = Path(__file__).resolve().parents[1]




GRID_AXES = [
    {"path": "protocol.max_rounds", "values": [5, 20]},
    {"path": "actors.X.strategy.params.exponent", "range": [1.5, 6.0], "steps": 3},
]


# ---------------------------------------------------------------------------- designs and seeds


def test_a_grid_design_is_the_full_factorial_of_the_axes(tmp_path: Path) -> None:
    exp = exm.load(write_experiment(tmp_path, GRID_AXES))
    pts = [(p["protocol.max_rounds"], p["actors.X.strategy.params.exponent"]) for p in exp.points]
    assert pts == [(5, 1.5), (5, 3.75), (5, 6.0), (20, 1.5), (20, 3.75), (20, 6.0)]
    assert exp.n_runs == 6 * 3


def test_integer_range_axes_take_whole_distinct_values(tmp_path: Path) -> None:
    axes = [{"path": "protocol.max_rounds", "range": [2, 5], "steps": 7, "integer": True}]
    exp = exm.load(write_experiment(tmp_path, axes))
    assert [p["protocol.max_rounds"] for p in exp.points] == [2, 3, 4, 5]


def test_a_latin_hypercube_puts_one_point_in_each_stratum_of_every_axis(tmp_path: Path) -> None:
    axes = [{"path": "actors.X.reservation", "range": [0.2, 0.6]},
            {"path": "protocol.breakdown_risk", "range": [0.0, 0.5]},
            {"path": "actors.Y.strategy.name", "values": ["conceder", "linear"]}]
    exp = exm.load(write_experiment(tmp_path, axes, {"kind": "lhs", "samples": 40}))
    assert len(exp.points) == 40
    for path, (lo, hi) in (("actors.X.reservation", (0.2, 0.6)), ("protocol.breakdown_risk", (0.0, 0.5))):
        x = np.array([p[path] for p in exp.points])
        strata = np.floor((x - lo) / (hi - lo) * 40).astype(int)
        assert sorted(strata.tolist()) == list(range(40))
    names = [p["actors.Y.strategy.name"] for p in exp.points]
    assert names.count("conceder") == 20 and names.count("linear") == 20
    again = exm.load(write_experiment(tmp_path, axes, {"kind": "lhs", "samples": 40}))
    assert again.points == exp.points  # the same master seed gives the same design


def test_a_sobol_design_has_saltellis_number_of_points(tmp_path: Path) -> None:
    axes = [{"path": "actors.X.reservation", "range": [0.2, 0.6]},
            {"path": "protocol.breakdown_risk", "range": [0.0, 0.5]},
            {"path": "protocol.max_rounds", "range": [5, 40], "integer": True}]
    first = exm.load(write_experiment(tmp_path, axes, {"kind": "sobol", "samples": 16}))
    assert len(first.points) == 16 * (3 + 2)
    second = exm.load(write_experiment(tmp_path, axes, {"kind": "sobol", "samples": 16, "second_order": True}))
    assert len(second.points) == 16 * (2 * 3 + 2)
    assert all(isinstance(p["protocol.max_rounds"], int) and 5 <= p["protocol.max_rounds"] <= 40 for p in first.points)


def test_a_list_design_runs_exactly_the_points_given(tmp_path: Path) -> None:
    pts = [{"protocol.max_rounds": 7}, {"protocol.max_rounds": 11}]
    exp = exm.load(write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [7, 11]}],
                                    {"kind": "list", "points": pts}))
    assert exp.points == pts


def test_run_seeds_are_the_master_seeds_spawned_children_and_all_differ() -> None:
    children = np.random.SeedSequence(1234).spawn(50)
    for k in (0, 1, 49):
        state = children[k].generate_state(2, np.uint32)
        assert exm.run_seed(1234, k) == (int(state[0]) << 31) | (int(state[1]) >> 1)
    seeds = {exm.run_seed(1234, k) for k in range(20_000)}
    assert len(seeds) == 20_000 and all(0 <= s < 2**63 for s in seeds)
    assert exm.run_seed(1234, 5) != exm.run_seed(1235, 5)


def test_an_axis_sets_the_scenario_field_it_names(tmp_path: Path) -> None:
    exp = exm.load(write_experiment(tmp_path, GRID_AXES))
    sc = exp.scenario_for({"protocol.max_rounds": 20, "actors.X.strategy.params.exponent": 3.75})
    assert sc.spec.protocol.max_rounds == 20
    assert sc.spec.actors[0].strategy.params == {"exponent": 3.75}


# ---------------------------------------------------------------------------- running


def _sweep(f: Path, out: Path, backend: str = "serial", workers: int = 1) -> pd.DataFrame:
    sw = Sweep(exm.load(f), out)
    with executor(backend, workers) as pool:
        sw.run(pool)
    return results.load(out)


def test_a_sweep_writes_one_row_per_run_and_a_manifest(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    df = _sweep(f, tmp_path / "out")
    assert len(df) == 18 and df["run_id"].tolist() == list(range(18))
    assert df["error"].isna().all()
    assert {"axis.protocol.max_rounds", "agreed", "rounds", "value.a", "utility.X", "nash_product"} <= set(df.columns)
    assert df.loc[df["agreed"], "value.a"].notna().all() and df.loc[~df["agreed"], "value.a"].isna().all()
    assert (df["rounds"] <= df["axis.protocol.max_rounds"]).all()
    mf = results.manifest(tmp_path / "out")
    assert mf["status"] == "complete" and mf["n_runs"] == 18 and mf["n_chunks"] == 5
    assert len(mf["experiment_sha256"]) == 64 and len(mf["scenario_sha256"]) == 64
    assert mf["versions"]["mesa"].startswith("3.") and "numpy" in mf["versions"]
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 5


def test_replicates_differ_by_seed_and_any_run_repeats_alone(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    df = _sweep(f, tmp_path / "out")
    assert df.groupby("point_id")["seed"].nunique().eq(3).all()
    assert df["rounds"].nunique() > 3  # breakdown risk: replicates end at different rounds
    for run_id in (0, 7, 17):
        row = df.loc[run_id]
        again = rerun(tmp_path / "out", run_id)
        assert again["rounds"] == row["rounds"] and again["agreed"] == row["agreed"]
        assert again["reason"] == row["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["process", "dask"])
def test_every_backend_gives_the_same_rows_as_a_serial_sweep(tmp_path: Path, backend: str) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    serial = _sweep(f, tmp_path / "serial")
    other = _sweep(f, tmp_path / backend, backend=backend, workers=2)
    pd.testing.assert_frame_equal(serial, other)


def _worker_settings() -> tuple[bool, float]:
    import dask

    return (dask.config.get("distributed.worker.profile.enabled"),
            dask.utils.parse_timedelta(dask.config.get("distributed.admin.tick.interval")))


@pytest.mark.slow
def test_the_local_dask_cluster_runs_quietly_and_reruns_a_resubmitted_chunk() -> None:
    """Its workers sample no profiles and tick once a second (the housekeeping that competed
    with them on two cores), and the same call submitted twice runs twice: Dask does not hash
    the arguments into one key (``pure=False``)."""
    with executor("dask", 2) as pool:
        settings = pool._client.run(_worker_settings)
        assert len(settings) == 2 and all(s == (False, 1.0) for s in settings.values())
        a, b = pool.ex.submit(os.getpid), pool.ex.submit(os.getpid)
        assert a.result() > 0 and b.result() > 0
        keys = [f.key for f in pool.ex._futures]
        assert len(keys) == 2 and len(set(keys)) == 2


def test_an_interrupted_sweep_resumes_without_losing_or_repeating_a_row(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=2)
    full = _sweep(f, tmp_path / "full")
    out = tmp_path / "resumed"
    sw = Sweep(exm.load(f), out)
    calls = []

    def interrupt_after_four_chunks(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), executor("serial") as ex:
        sw.run(ex, progress=interrupt_after_four_chunks)
    assert results.manifest(out)["status"] == "interrupted"
    assert len(results.load(out)) == 8  # four chunks of two runs were written
    again = Sweep(exm.load(f), out)
    with executor("serial") as ex:
        stats = again.run(ex)
    assert stats["runs_skipped_as_done"] == 8
    df = results.load(out)
    assert df["run_id"].is_unique
    pd.testing.assert_frame_equal(df, full)


@pytest.mark.slow
def test_a_killed_sweep_resumes_to_the_same_rows(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=1, replicates=6)
    full = _sweep(f, tmp_path / "full")
    out = tmp_path / "killed"
    bargain = [sys.executable, "-m", "model.cli"]
    p = subprocess.Popen([*bargain, "sweep", str(f), "--backend", "serial", "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("part-*.parquet"))) < 5:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    written = len(results.load(out))
    assert 5 <= written < 36
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert f"{written} already on disk, skipped" in r.output
    pd.testing.assert_frame_equal(results.load(out), full)


def test_a_run_that_fails_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    # each value alone is valid, but min 0.8 with max 0.5 on one issue contradicts: those runs fail
    data = small(protocol={"max_rounds": 10})
    data["actors"][0]["red_lines"] = [{"issue": "a", "min": 0.3}, {"issue": "a", "max": 1.0}]
    axes = [{"path": "actors.X.red_lines[0].min", "values": [0.3, 0.8]},
            {"path": "actors.X.red_lines[1].max", "values": [0.5, 1.0]}]
    f = write_experiment(tmp_path, axes, scenario=data, replicates=2, chunk_size=3)
    df = _sweep(f, tmp_path / "out")
    assert len(df) == 8
    bad = (df["axis.actors.X.red_lines[0].min"] == 0.8) & (df["axis.actors.X.red_lines[1].max"] == 0.5)
    assert df.loc[bad, "error"].str.contains("contradicts").all()
    assert df.loc[~bad, "error"].isna().all() and df.loc[~bad, "agreed"].notna().all()
    rates = results.agreement_rates(df, ["axis.actors.X.red_lines[0].min", "axis.actors.X.red_lines[1].max"])
    assert rates["failures"].tolist() == [0, 0, 2, 0]


def test_results_of_another_experiment_are_never_mixed_in(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    _sweep(f, tmp_path / "out")
    g = write_experiment(tmp_path, GRID_AXES, chunk_size=4, seed=100)
    r = CliRunner().invoke(main, ["sweep", str(g), "--backend", "serial", "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "another experiment" in r.output
    assert results.manifest(tmp_path / "out")["seed"] == 99


def test_bargain_sweep_prints_progress_and_an_agreement_table(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "6 points x 3 replicates = 18 runs" in r.output
    assert "Agreement rate" in r.output and "X: strategy exponent" in r.output  # the label, not the path


def test_the_shipped_experiments_load() -> None:
    files = sorted((ROOT / "experiments").glob("*.yaml"))
    assert len(files) >= 3
    for f in files:
        exp = exm.load(f)
        assert exp.n_runs >= 1


def test_bargain_plot_writes_the_sweep_figures(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["plot", str(out)])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert names == ["agreement_by_actors_X_strategy_params_exponent.png", "agreement_by_protocol_max_rounds.png",
                     "agreement_heatmap.png", "rounds_to_agreement.png", "utility_at_agreement.png"]
    r = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert r.exit_code == 2 and "manifest.json" in r.output


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_its_own_run(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    full = _sweep(f, tmp_path / "full")
    sw = Sweep(exm.load(f), tmp_path / "out")
    sw.kill_worker_at = (5,)  # run 5 kills its worker process, as an OOM kill would
    with executor("process", 2) as pool:
        stats = sw.run(pool)
    df = results.load(tmp_path / "out")
    assert df["run_id"].tolist() == list(range(18))
    assert df.loc[5, "error"].startswith("worker process died")
    assert df.drop(index=5)["error"].isna().all()
    assert stats["worker_restarts"] >= 1 and stats["failures_this_session"] == 1
    pd.testing.assert_frame_equal(df.drop(index=5), full.drop(index=5))


def test_a_morris_design_has_trajectories_of_one_step_per_axis(tmp_path: Path) -> None:
    axes = [{"path": "actors.X.reservation", "range": [0.2, 0.6]},
            {"path": "protocol.breakdown_risk", "range": [0.0, 0.5]},
            {"path": "protocol.max_rounds", "range": [5, 40], "integer": True}]
    exp = exm.load(write_experiment(tmp_path, axes, {"kind": "morris", "samples": 10, "levels": 4}))
    assert len(exp.points) == 10 * (3 + 1)
    res = np.array([p["actors.X.reservation"] for p in exp.points])
    assert set(np.round((res - 0.2) / 0.4 * 3, 6)) <= {0.0, 1.0, 2.0, 3.0}  # on the 4-level grid
    for t in range(10):  # along a trajectory, each step changes exactly one axis
        traj = exp.points[4 * t: 4 * t + 4]
        for a, b in zip(traj, traj[1:], strict=False):
            assert sum(a[k] != b[k] for k in a) == 1


@pytest.mark.slow
def test_bargain_sensitivity_and_report_on_a_sobol_sweep(tmp_path: Path) -> None:
    axes = [{"path": "actors.X.reservation", "range": [0.2, 0.6]},
            {"path": "protocol.breakdown_risk", "range": [0.0, 0.3]}]
    f = write_experiment(tmp_path, axes, {"kind": "sobol", "samples": 16}, replicates=1)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["sensitivity", str(out), "--outcome", "rounds"])
    assert r.exit_code == 0, r.output
    assert "Sobol indices of rounds" in r.output and "protocol.breakdown_risk" in r.output
    assert (out / "plots" / "sensitivity_rounds.png").read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(main, ["report", str(out)])
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "Sobol" in html


def test_bargain_sensitivity_refuses_a_design_without_indices(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["sensitivity", str(out)])
    assert r.exit_code == 2 and "need a sweep with the sobol or morris design, not 'grid'" in r.output
    assert "Traceback" not in r.output


@pytest.mark.slow
def test_bargain_discover_prints_boxes_as_sentences_with_their_peeling_plots(tmp_path: Path) -> None:
    # a high breakdown risk ends the talks before the conceder and the Boulware actor meet
    axes = [{"path": "protocol.breakdown_risk", "range": [0.0, 0.15]},
            {"path": "actors.X.reservation", "range": [0.2, 0.5]}]
    f = write_experiment(tmp_path, axes, {"kind": "lhs", "samples": 300}, replicates=1)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["discover", str(out)])
    assert r.exit_code == 0, r.output
    assert "PRIM boxes for agreement" in r.output
    assert "1. agreement in" in r.output and "risk of breakdown per round ≤" in r.output
    assert (out / "plots" / "prim_peeling_1.png").exists()
    r = CliRunner().invoke(main, ["discover", str(out), "--outcome", "nonsense>>"])
    assert r.exit_code == 2 and "no column 'nonsense'" in r.output
