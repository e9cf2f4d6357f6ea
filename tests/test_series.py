"""Outcomes over time in sweeps (issue #20, part 3): every run's rounds in ``series/`` parts, the
same as the Mesa model's own per-round record, resumed and checked like the main parts, loaded with
one call, and drawn as bands across replicates."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from model import experiment as exm
from model import results
from model.cli import main
from model.negotiation import METRICS, Negotiation
from model.plots_series import bands, trajectory_bands
from model.results import DamagedResults
from model.sweep import SERIES_DIR, Sweep, executor
from tests.factories import write_experiment

ROOT = Path(__file__).resolve().parents[1]


def _stepwise_experiment(tmp: Path, replicates: int = 3) -> Path:
    """A small sweep of the shipped step-by-step scenario (trust, tranches, pauses), 12 rounds."""
    f = tmp / "stepwise.yaml"
    f.write_text(yaml.safe_dump({
        "name": "stepwise_series", "scenario": str(ROOT / "scenarios" / "belarus_stepwise.yaml"),
        "design": {"kind": "grid"}, "replicates": replicates, "seed": 7, "chunk_size": 2,
        "axes": [{"path": "actors.BLR.trust.prior", "values": [0.2, 0.6]},
                 {"path": "protocol.max_rounds", "values": [12]}],
    }, sort_keys=False))
    return f


def _sweep(f: Path, out: Path, series: bool = True, progress: Any = None) -> Sweep:
    sw = Sweep(exm.load(f), out, series=series)
    with executor("serial") as pool:
        sw.run(pool, progress=progress)
    return sw


@pytest.fixture(scope="module")
def stepwise(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("series")
    f = _stepwise_experiment(tmp)
    _sweep(f, tmp / "out")
    return f, tmp / "out"


def test_the_series_are_the_models_own_rounds_and_end_where_the_row_ends(stepwise: tuple[Path, Path]) -> None:
    f, out = stepwise
    rows, series = results.load(out), results.load_series(out)
    exp = exm.load(f)
    assert set(series["run_id"]) == set(rows["run_id"])
    for _, row in rows.iterrows():
        s = series[series["run_id"] == row["run_id"]]
        assert list(s["round"]) == list(range(1, int(row["rounds"]) + 1))
        last = s.iloc[-1]
        for k in METRICS:
            if k != "delivered_share":  # (a running sum; the row holds the mean)
                assert last[f"metric.{k}"] == row[f"metric.{k}"], k
        for iid in exp.base_scenario.problem.space.ids:
            assert last[f"state.{iid}"] == pytest.approx(row[f"state.{iid}"])
    # one run against the Mesa model's DataCollector: the same offers, utilities and trust
    row = rows.iloc[4]
    sc = exp.scenario_for(exp.points[int(row["point_id"])])
    m = Negotiation(sc, rng=int(row["seed"]))
    m.run()
    mdf = m.datacollector.get_model_vars_dataframe()
    adf = m.datacollector.get_agent_vars_dataframe().reset_index()
    s = series[series["run_id"] == row["run_id"]].reset_index(drop=True)
    offer_cols = [c for c in mdf.columns if c.startswith("offer.")]
    np.testing.assert_array_equal(s[offer_cols].to_numpy(float), mdf[offer_cols].to_numpy(float))
    blr = adf[adf["actor"] == "BLR"].reset_index(drop=True)
    np.testing.assert_allclose(s["utility.BLR"], blr["offer_utility"])
    np.testing.assert_allclose(s["trust.BLR"], blr["trust"])
    assert s["trust.BLR"].between(0, 1).all() and s["metric.tranches"].is_monotonic_increasing


def test_recording_series_changes_no_row(tmp_path: Path) -> None:
    """A package sweep goes through the vectorised engine without series and the Mesa model with
    them: the rows are the same."""
    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [5, 20]}], replicates=3)
    _sweep(f, tmp_path / "with")
    _sweep(f, tmp_path / "without", series=False)
    pd.testing.assert_frame_equal(results.load(tmp_path / "with"), results.load(tmp_path / "without"))
    s = results.load_series(tmp_path / "with")
    assert s["trust.X"].isna().all()  # the package protocol has no trust
    assert s.groupby("run_id")["round"].max().tolist() == results.load(tmp_path / "with")["rounds"].tolist()
    with pytest.raises(FileNotFoundError, match="--series"):
        results.load_series(tmp_path / "without")


def test_an_interrupted_sweep_resumed_gives_the_same_series(tmp_path: Path,
                                                            stepwise: tuple[Path, Path]) -> None:
    f, clean = stepwise

    def stop(done: int, total: int) -> None:
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _sweep(f, tmp_path / "out", progress=stop)
    parts = sorted((tmp_path / "out" / SERIES_DIR).glob("part-*.parquet"))
    assert 0 < len(parts) < 3
    # resumed without --series: the folder keeps recording them
    sw = _sweep(f, tmp_path / "out", series=False)
    assert sw.series
    pd.testing.assert_frame_equal(results.load_series(tmp_path / "out"), results.load_series(clean))
    pd.testing.assert_frame_equal(results.load(tmp_path / "out"), results.load(clean))


def test_a_damaged_series_part_is_named_and_redone_on_resume(tmp_path: Path) -> None:
    f = _stepwise_experiment(tmp_path, replicates=1)
    out = tmp_path / "out"
    _sweep(f, out)
    before = results.load_series(out)
    part = out / SERIES_DIR / "part-000000.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(DamagedResults, match="part-000000.parquet"):
        results.load_series(out)
    _sweep(f, out)
    pd.testing.assert_frame_equal(results.load_series(out), before)


def test_bands_are_the_quantiles_over_runs_with_ended_runs_carried() -> None:
    # two conditions; run 1 ends in round 2 and keeps its last value in round 3
    s = pd.DataFrame({
        "run_id": [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3],
        "round": [1, 2, 3, 1, 2, 1, 2, 3, 1, 2, 3],
        "axis.a": [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
        "v": [0.0, 1.0, 2.0, 10.0, 20.0, 5.0, 5.0, 5.0, 1.0, 1.0, 1.0],
    })
    b = bands(s, "v", "axis.a").set_index(["condition", "round"])
    assert b.loc[(0, 3), "median"] == pytest.approx(11.0)  # runs 0 (2) and 1 (20, carried)
    assert b.loc[(0, 3), "p10"] == pytest.approx(2 + 0.1 * 18)
    assert b.loc[(0, 3), "runs"] == 2
    assert b.loc[(1, 2), "p90"] == pytest.approx(1 + 0.9 * 4)
    fig = trajectory_bands(s, ["v"], by="axis.a", title="t")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and math.isclose(ax.lines[0].get_ydata()[2], 11.0)
    with pytest.raises(ValueError, match="no column"):
        trajectory_bands(s, ["w"])


def test_bargain_sweep_series_then_plot_draws_the_bands(tmp_path: Path) -> None:
    f = _stepwise_experiment(tmp_path, replicates=1)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--series", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["plot", str(out)])
    assert r.exit_code == 0 and (out / "plots" / "series_bands.png").stat().st_size > 0, r.output
