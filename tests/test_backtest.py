"""Back-testing against real negotiations: the cases, the scores, the baselines, the command.

Every shipped case must read and check; scores are computed from the files (a case whose
outcome file holds a forecast scores 0 against that forecast, and a shifted outcome gives the
shift as its error); the intervals are the textbook ones; the command writes the same tables
twice for the same seeds, and a bad outcome file is one line naming the file and the field.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from model import backtest as bt
from model.backtest import score
from model.cli import main
from model.core.analysis import nash_point
from model.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "backtest" / "cases"
SHIPPED = sorted(p.name for p in CASES.iterdir() if (p / "outcome.yaml").is_file())


def _copy_case(tmp_path: Path, name: str = "camp_david_1978") -> Path:
    dest = tmp_path / "cases" / name
    shutil.copytree(CASES / name, dest)
    return dest


def _edit_outcome(folder: Path, change: Any) -> None:
    path = folder / "outcome.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# the cases


def test_there_are_at_least_four_historical_cases_and_belarus() -> None:
    assert "belarus_2025_26" in SHIPPED
    assert len([c for c in SHIPPED if not c.startswith("belarus")]) >= 4


@pytest.mark.parametrize("name", SHIPPED)
def test_each_case_reads_checks_and_cites_a_source_for_every_number(name: str) -> None:
    case = bt.load_case(CASES / name)
    assert case.case_id == name == case.outcome.case
    assert case.outcome.end >= case.outcome.start
    assert case.real.shape == (len(case.issues),) and np.any(~np.isnan(case.real))
    assert all(t.source.strip() for t in case.outcome.terms.values())
    known = case.real[~np.isnan(case.real)]
    assert np.all((known >= 0) & (known <= 1))
    spec = case.scenario.spec
    if not name.startswith("belarus"):  # the new cases are small and say how each issue maps to [0, 1]
        assert 3 <= len(spec.actors) <= 6 and 3 <= len(spec.issues) <= 6
        assert all(iss.description and iss.source for iss in spec.issues)
        assert all(a.source for a in spec.actors)
        assert all(st.source for a in spec.actors for st in a.issues.values())


@pytest.mark.parametrize("name", SHIPPED)
def test_each_case_compiles_under_every_protocol(name: str) -> None:
    case = bt.load_case(CASES / name)
    for kind in bt.PROTOCOLS:
        sc = bt.protocol_scenario(case, kind)
        assert sc.params.kind == kind
        assert sc.params.max_rounds == case.scenario.params.max_rounds
    assert bt.protocol_scenario(case, "eum").params.forecast == "stable"  # type: ignore[attr-defined]


def test_the_belarus_case_takes_its_terms_from_the_observed_track() -> None:
    case = bt.load_case(CASES / "belarus_2025_26")
    track = yaml.safe_load((ROOT / "scenarios" / "observed" / "belarus_track_2025_26.yaml").read_text())
    ids = list(case.issues)
    for iid, it in track["issues"].items():
        assert case.real[ids.index(iid)] == it["steps"][-1]["value"]  # the last step holds at month 16
    freed = sum(ev["count"] for ev in track["releases"]["events"])
    assert case.real[ids.index("prisoner_releases")] == pytest.approx(freed / track["releases"]["scale"], abs=1e-4)
    assert not case.outcome.settled and case.scenario.params.max_rounds == track["months"]


# --------------------------------------------------------------------------------------------
# scores from files


def test_a_case_scored_against_its_own_forecast_has_no_error(tmp_path: Path) -> None:
    folder = _copy_case(tmp_path)
    case = bt.load_case(folder)
    package, agreed, rounds = bt.run_forecast(bt.protocol_scenario(case, "package"), 0)
    assert agreed

    def set_terms(d: dict[str, Any]) -> None:
        for iid, v in zip(case.issues, package, strict=True):
            d["terms"][iid]["value"] = float(v)
        d["duration"]["rounds"] = rounds

    _edit_outcome(folder, set_terms)
    own = bt.load_case(folder)
    (run,) = [r for r in bt.score_case(own, [0], ["package"], []) if r.method == "model:package"]
    assert run.mae == 0.0
    (row,) = score.case_rows(own, [run])
    assert (row["mae"], row["brier"], row["hit"], row["time_ratio"]) == (0.0, 0.0, 1.0, 1.0)


def test_a_shifted_outcome_gives_the_shift_as_its_error(tmp_path: Path) -> None:
    folder = _copy_case(tmp_path)
    case = bt.load_case(folder)
    median = bt.baseline_forecast(case, "weighted_median")
    shift = np.where(median > 0.5, -0.1, 0.1)  # 0.1 away from the forecast, inside [0, 1]
    shift[0] = np.nan  # and one issue left open: it must not count

    def set_terms(d: dict[str, Any]) -> None:
        for iid, v, s in zip(case.issues, median, shift, strict=True):
            d["terms"][iid]["value"] = None if np.isnan(s) else float(v + s)

    _edit_outcome(folder, set_terms)
    shifted = bt.load_case(folder)
    runs = bt.score_case(shifted, [], [], ["weighted_median"])
    assert runs[0].mae == pytest.approx(0.1, abs=1e-12)
    assert np.isnan(runs[0].errors[0])


def test_the_mae_counts_only_known_terms() -> None:
    assert bt.mae(np.array([0.2, 0.5, 1.0]), np.array([0.0, np.nan, 0.5])) == pytest.approx(0.35)


def test_the_t_interval_is_students() -> None:
    m, lo, hi = bt.t_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert (m, lo, hi) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert math.isnan(bt.t_interval([0.4])[1])


def test_the_bootstrap_interval_is_reproducible_and_brackets_the_mean() -> None:
    values = [0.1, 0.3, 0.2, 0.6, 0.25]
    first, again = bt.bootstrap_interval(values), bt.bootstrap_interval(values)
    assert first == again
    m, lo, hi = first
    assert lo < m < hi and min(values) <= lo and hi <= max(values)
    assert bt.bootstrap_interval([0.2] * 4)[1:] == (0.2, 0.2)


# --------------------------------------------------------------------------------------------
# the baselines


def test_the_compromise_baseline_is_the_capability_times_salience_weighted_mean() -> None:
    case = bt.load_case(CASES / "camp_david_1978")
    spec = case.scenario.spec
    forecast = bt.baseline_forecast(case, "compromise")
    for i, iss in enumerate(spec.issues):
        w = np.array([a.capability * a.issues[iss.id].salience for a in spec.actors])
        x = np.array([a.issues[iss.id].position for a in spec.actors])
        assert forecast[i] == pytest.approx(float((w * x).sum() / w.sum()), abs=1e-12)


def test_the_weighted_median_baseline_is_a_position_that_halves_the_weight() -> None:
    case = bt.load_case(CASES / "good_friday_1998")
    spec = case.scenario.spec
    forecast = bt.baseline_forecast(case, "weighted_median")
    for i, iss in enumerate(spec.issues):
        w = np.array([a.capability * a.issues[iss.id].salience for a in spec.actors])
        x = np.array([a.issues[iss.id].position for a in spec.actors])
        assert forecast[i] in x
        assert w[x < forecast[i]].sum() <= w.sum() / 2 and w[x > forecast[i]].sum() <= w.sum() / 2


def test_the_nash_baseline_is_the_nash_point() -> None:
    case = bt.load_case(CASES / "dayton_1995")
    expected = nash_point(case.scenario.problem)
    assert expected is not None
    np.testing.assert_array_equal(bt.baseline_forecast(case, "nash"), expected)


def test_the_overall_rows_compare_with_the_compromise_model_case_by_case() -> None:
    rows = [
        {"case": "a", "method": "compromise", "mae": 0.2, "brier": math.nan, "hit": math.nan, "time_ratio": math.nan},
        {"case": "b", "method": "compromise", "mae": 0.4, "brier": math.nan, "hit": math.nan, "time_ratio": math.nan},
        {"case": "a", "method": "model:package", "mae": 0.1, "brier": 0.0, "hit": 1.0, "time_ratio": 1.0},
        {"case": "b", "method": "model:package", "mae": 0.5, "brier": 1.0, "hit": 0.0, "time_ratio": math.nan},
    ]
    by = {r["method"]: r for r in score.overall_rows(rows)}
    model = by["model:package"]
    assert model["mae"] == pytest.approx(0.3) and model["diff_vs_ref"] == pytest.approx(0.0)
    assert model["better_than_ref"] == 1 and model["brier"] == 0.5 and model["time_ratio"] == 1.0
    assert by["compromise"]["diff_vs_ref"] == 0.0 and by["compromise"]["better_than_ref"] == 0


@pytest.mark.slow
def test_the_plot_shows_every_case_and_method() -> None:
    case = bt.load_case(CASES / "camp_david_1978")
    runs = bt.score_case(case, [0], ["package"], ["compromise", "nash"])
    fig = bt.plot_backtest(score.case_rows(case, runs))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["camp_david_1978", "mean over cases"]
    labels = ax.get_legend_handles_labels()[1]
    assert {"model:package", "compromise", "nash"} <= set(labels)


# --------------------------------------------------------------------------------------------
# the command


def _two_cases(tmp_path: Path) -> Path:
    for name in ("camp_david_1978", "new_start_2010"):
        _copy_case(tmp_path, name)
    return tmp_path / "cases"


TABLES = ("backtest.md", "overall.csv", "cases.csv", "issues.csv", "runs.csv", "horizon.csv")


@pytest.mark.slow
def test_the_report_is_reproducible_by_seed(tmp_path: Path) -> None:
    cases = _two_cases(tmp_path)
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        r = CliRunner().invoke(main, ["backtest", str(cases), "--out", str(out), "--seeds", "2",
                                      "--protocols", "package,incremental,eum"])
        assert r.exit_code == 0, r.output
        outs.append(out)
    for name in TABLES:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert (outs[0] / "backtest.png").stat().st_size > 0
    import json

    mf = json.loads((outs[0] / "manifest.json").read_text())
    assert mf["seeds"] == [0, 1] and set(mf["cases"]) == {"camp_david_1978", "new_start_2010"}
    assert mf["protocols"] == ["package", "incremental", "eum"]
    runs = (outs[0] / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 2 * (3 * 2 + len(bt.BASELINES))


@pytest.mark.parametrize("change, field, words", [
    (lambda d: d["terms"]["sinai_withdrawal"].update(value=1.5), "terms.sinai_withdrawal.value", "or equal to 1"),
    (lambda d: d["terms"].update(golan={"value": 0.5, "source": "x"}), "terms.golan", "unknown issue"),
    (lambda d: d["terms"].pop("normalization"), "terms", "no term for normalization"),
    (lambda d: d.update(case="camp_david"), "case", "not the name of its folder"),
    (lambda d: d["terms"]["normalization"].update(source="[nowhere] p. 3"), "terms.normalization.source", "[nowhere]"),
    (lambda d: d.pop("settled"), "settled", "missing"),
])
def test_a_bad_outcome_file_is_one_line_naming_the_file_and_the_field(tmp_path: Path, change: Any, field: str,
                                                                      words: str) -> None:
    folder = _copy_case(tmp_path)
    _edit_outcome(folder, change)
    with pytest.raises(InputError) as e:
        bt.load_case(folder)
    line = str(e.value)
    assert "\n" not in line and "outcome.yaml" in line and f" {field}:" in line and words in line
    r = CliRunner().invoke(main, ["backtest", str(folder.parent), "--out", str(tmp_path / "out"), "--seeds", "1"])
    assert r.exit_code == 2
    (err,) = [ln for ln in r.output.splitlines() if ln.strip()]
    assert err.startswith("error:") and "outcome.yaml" in err and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_folder_without_cases_is_one_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["backtest", str(tmp_path), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "holds no case" in r.output and len(r.output.strip().splitlines()) == 1
