"""Calibration: the distance to an observed track, reading runs, the search and `bargain calibrate`."""

from __future__ import annotations

import copy
import csv
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from model import calibrate as cal
from model import scenario as scn
from model.cli import main
from model.errors import InputError
from model.negotiation import Negotiation
from model.sweep import executor

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TRACK = SCENARIOS / "observed" / "belarus_track_2025_26.yaml"

# Two parties trade releases (p, delivered by X at once) for sanctions relief (s, delivered by Y
# a month later, half the time only in part). X trusts Y at 0.8 and pauses below 0.7, so one
# partial delivery makes it pause, and the correction makes it resume.
TINY: dict[str, Any] = {
    "name": "tiny",
    "title": "Releases for relief",
    "seed": 3,
    "issues": [
        {"id": "p", "label": "prisoners freed", "status_quo": 0.0, "controlled_by": "X"},
        {"id": "s", "label": "sanctions lifted", "status_quo": 0.0, "controlled_by": "Y"},
    ],
    "actors": [
        {"id": "X", "name": "X", "issues": {"p": {"position": 0.0, "salience": 0.4},
                                            "s": {"position": 1.0, "salience": 0.6}},
         "trust": {"prior": 0.8, "strength": 2.0, "memory": 0.5, "threshold": 0.7}},
        {"id": "Y", "name": "Y", "issues": {"p": {"position": 1.0, "salience": 0.6},
                                            "s": {"position": 0.0, "salience": 0.4}},
         "delivery": {"full": 0.5, "partial": 0.5, "share": 0.5, "lag": 1}, "trust": {"prior": 0.9}},
    ],
    "protocol": {"kind": "incremental", "max_rounds": 8, "order": ["X", "Y"], "step": 0.1, "step_growth": 2.0},
}

# Four months: 1 of 10 prisoners freed in month 0 and 2 more in month 2; relief to 0.5 in month
# 1, short of what was promised; X pauses in month 1 and resumes with a larger release.
TINY_TRACK: dict[str, Any] = {
    "name": "tiny_track",
    "title": "A tiny observed track",
    "start": "2025-01-01",
    "months": 4,
    "releases": {"issue": "p", "scale": 10, "scale_source": "[T1]",
                 "events": [{"month": 0, "count": 1, "source": "[T1]"}, {"month": 2, "count": 2, "source": "[T1]"}]},
    "issues": {"s": {"status_quo": 0.0, "steps": [{"month": 1, "value": 0.5, "source": "[T1]"}]}},
    "pause": {"actor": "X", "counterpart": "Y", "months": [1], "partial_delivery": [0], "within": 1,
              "source": "[T1]"},
    "targets": {"cumulative": {"month": 3, "low": 3, "high": 3, "source": "[T1]"}},
    "sources": {"T1": {"title": "a made-up source", "date": "2025-01-01"}},
}


def tiny_scenario() -> scn.Scenario:
    return scn.parse(copy.deepcopy(TINY))


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_observed(tmp_path: Path, **changes: Any) -> cal.Observed:
    data = copy.deepcopy(TINY_TRACK)
    data.update(changes)
    return cal.load_track(write(tmp_path / "track.yaml", data), tiny_scenario())


def like(obs: cal.Observed, **changes: Any) -> cal.Track:
    """The observed track with some fields replaced (a simulated run that differs from it)."""
    t = obs.track
    fields = {"values": t.values.copy(), "paused": t.paused.copy(), "partial": t.partial.copy(), "settled": t.settled}
    fields.update(changes)
    return cal.Track(**fields)


# ---------------------------------------------------------------------------- the distance


def test_the_observed_track_is_at_distance_zero_from_itself(tmp_path: Path) -> None:
    obs = tiny_observed(tmp_path)
    np.testing.assert_allclose(obs.track.values, [[0.1, 0.0], [0.1, 0.5], [0.3, 0.5], [0.3, 0.5]])
    parts = cal.components(obs.track, obs)
    assert parts == dict.fromkeys(cal.COMPONENTS, 0.0)
    assert cal.distance(parts, obs.spec.weights) == 0.0


def test_relief_overshot_by_0_2_in_one_month_costs_its_rms_share(tmp_path: Path) -> None:
    obs = tiny_observed(tmp_path)
    values = obs.track.values.copy()
    values[3, 1] = 0.7  # one of 4 months x 2 issues is off by 0.2
    parts = cal.components(like(obs, values=values), obs)
    assert parts["trajectory"] == pytest.approx(math.sqrt(0.2**2 / 8))
    assert sum(parts.values()) == pytest.approx(parts["trajectory"])
    assert cal.distance(parts, obs.spec.weights) == pytest.approx(math.sqrt(0.005) / 8)


def test_the_distance_grows_with_the_gap(tmp_path: Path) -> None:
    obs = tiny_observed(tmp_path)
    d = []
    for gap in (0.0, 0.1, 0.2, 0.4):
        values = obs.track.values.copy()
        values[1:, 1] += gap
        d.append(cal.distance(cal.components(like(obs, values=values), obs), obs.spec.weights))
    assert d[0] == 0.0 and d == sorted(d) and len(set(d)) == 4


def test_a_release_a_month_late_costs_trajectory_and_timing_but_not_count_or_total(tmp_path: Path) -> None:
    obs = tiny_observed(tmp_path)
    values = obs.track.values.copy()
    values[2, 0] = 0.1  # the second release comes in month 3, not 2
    parts = cal.components(like(obs, values=values), obs)
    assert parts["trajectory"] == pytest.approx(math.sqrt(0.2**2 / 8))
    assert parts["release_timing"] == pytest.approx(2 / 3)  # months {0, 3} against {0, 2}
    assert parts["release_count"] == 0.0 and parts["cumulative"] == 0.0
    assert parts["resumption"] == 0.0  # still a larger release after the pause
    assert cal.distance(parts, obs.spec.weights) == pytest.approx((math.sqrt(0.005) + 2 / 3) / 8)


def test_a_run_that_never_pauses_and_settles_misses_the_pause_resumption_and_settlement(tmp_path: Path) -> None:
    obs = tiny_observed(tmp_path)
    parts = cal.components(like(obs, paused=np.zeros(4, dtype=bool), settled=2), obs)
    assert {k: v for k, v in parts.items() if v} == {"pause_timing": 1.0, "pause_cause": 1.0, "resumption": 1.0,
                                                     "settlement": 1.0}


def test_a_pause_without_a_partial_delivery_before_it_has_no_cause(tmp_path: Path) -> None:
    obs = tiny_observed(tmp_path)
    parts = cal.components(like(obs, partial=np.zeros(4, dtype=bool)), obs)
    assert parts["pause_cause"] == 1.0 and parts["pause_timing"] == 0.0


def test_a_resumption_with_a_smaller_release_counts_half(tmp_path: Path) -> None:
    obs = tiny_observed(tmp_path)
    values = obs.track.values.copy()
    values[2:, 0] = 0.15  # after the pause: 0.05, smaller than the 0.1 before it
    parts = cal.components(like(obs, values=values), obs)
    assert parts["resumption"] == 0.5
    assert parts["cumulative"] == pytest.approx(0.15 / 0.3)  # 0.15 below the band [0.3, 0.3]


def test_weights_decide_how_much_each_component_counts(tmp_path: Path) -> None:
    weights = dict.fromkeys(cal.COMPONENTS, 0.0) | {"settlement": 1.0}
    obs = tiny_observed(tmp_path, weights=weights)
    run = like(obs, paused=np.zeros(4, dtype=bool), settled=2)
    assert cal.distance(cal.components(run, obs), obs.spec.weights) == 1.0


def test_the_shipped_track_fits_itself_and_meets_the_brief_s_shape_targets() -> None:
    sc = scn.load(SCENARIOS / "belarus_stepwise.yaml")
    obs = cal.load_track(TRACK, sc)
    assert cal.components(obs.track, obs) == dict.fromkeys(cal.COMPONENTS, 0.0)
    freed = np.round(obs.track.values[:, 0] * obs.spec.releases.scale).astype(int)
    released = cal.increments(obs.track.values[:, 0], 0.0)
    assert int(np.sum(released[:12] > 0)) == 8  # "release events per year ~8" (3.1)
    assert 460 <= freed[14] <= 510 and freed[-1] == 509  # "cumulative 460-510 by m = 14"
    assert cal.spells(obs.track.paused) == [(9, 10)]  # Oct-Nov 2025
    assert np.flatnonzero(obs.track.partial).tolist() == [8]  # the Belavia general license, Sep 2025
    assert freed[11] - freed[10] > freed[8] - freed[7]  # 123 after the pause > 52 before it
    assert obs.month_label(0) == "2025-01" and obs.month_label(16) == "2026-05"


# ---------------------------------------------------------------------------- reading a run


def test_a_run_is_read_month_by_month_as_its_events_and_data_say() -> None:
    sc = tiny_scenario()
    obs_probe = cal.Probe(("p", "s"), "X", "Y", 8)
    seen_pause = seen_partial = False
    for seed in range(4):
        m = Negotiation(sc, rng=seed)
        m.run()
        t = cal.track_of(m, obs_probe)
        partial, paused, released = set(), set(), {}
        state = None
        for rnd, text in m.events:
            if text.startswith("Y delivered") and (" partly " in text or " not at all " in text):
                partial.add(rnd - 1)
            elif text.startswith("X pauses"):
                state = rnd - 1
            elif text.startswith("X resumes"):
                assert state is not None
                paused |= set(range(state, rnd - 1))
                state = None
            elif text.startswith("X delivered"):
                released[rnd - 1] = float(re.search(r"p [\d.]+->([\d.]+)", text).group(1))  # type: ignore[union-attr]
        if state is not None:  # paused until the talks ended (a run that stalls ends early)
            paused |= set(range(state, m.outcome.rounds))
        assert set(np.flatnonzero(t.partial)) == partial
        assert set(np.flatnonzero(t.paused)) == paused
        months = np.flatnonzero(cal.increments(t.values[:, 0], 0.0) > 0)
        assert {int(k): float(t.values[k, 0]) for k in months} == pytest.approx(released)
        np.testing.assert_allclose(t.values[-1], m.state[[0, 1]])
        assert t.settled == (m.outcome.rounds - 1 if m.outcome.agreed else None)
        seen_pause |= bool(paused)
        seen_partial |= bool(partial)
    assert seen_pause and seen_partial, "the tiny scenario should show a pause after a partial delivery"


def test_a_run_stopped_at_the_window_s_end_reads_as_the_whole_run_does() -> None:
    sc = tiny_scenario()
    probe = cal.Probe(("p", "s"), "X", "Y", 5)
    for seed in range(4):
        whole = Negotiation(sc, rng=seed)
        whole.run()
        part = Negotiation(sc, rng=seed)
        while part.running and part.round < 5:
            part.step()
        a, b = cal.track_of(whole, probe), cal.track_of(part, probe)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.paused.tolist() == b.paused.tolist() and a.partial.tolist() == b.partial.tolist()
        assert a.settled == b.settled


# ---------------------------------------------------------------------------- the search


@pytest.mark.slow
def test_the_design_starts_nowhere_outside_its_ranges_and_never_promises_more_than_certainty() -> None:
    space = cal.search_space("X", "Y")
    points = cal.design(space, 50, seed=4)
    assert points == cal.design(space, 50, seed=4) and points != cal.design(space, 50, seed=5)
    for pt in points:
        for par in space:
            if par.of_rest is None:
                assert par.low <= pt[par.path] <= par.high
        assert pt["actors.Y.delivery.full"] + pt["actors.Y.delivery.partial"] <= 1.0


@pytest.mark.slow
def test_the_search_gives_the_same_fit_serially_and_on_two_processes(tmp_path: Path) -> None:
    scenario_file = write(tmp_path / "tiny.yaml", TINY)
    obs = cal.load_track(write(tmp_path / "track.yaml", TINY_TRACK), scn.load(scenario_file))
    fits = []
    for backend, workers in (("serial", 1), ("process", 2)):
        with executor(backend, workers) as pool:
            fits.append(cal.calibrate(scenario_file, obs, n_points=3, n_seeds=2, seed=11, pool=pool))
    a, b = fits
    assert a.best == b.best
    assert [p.values for p in a.points] == [p.values for p in b.points]
    assert [p.distance for p in a.points] == [p.distance for p in b.points]
    for pa, pb in zip(a.points, b.points, strict=True):
        for ta, tb in zip(pa.tracks, pb.tracks, strict=True):
            np.testing.assert_array_equal(ta.values, tb.values)
    assert a.points[0].values == {"actors.X.trust.prior": 0.8, "actors.X.trust.threshold": 0.7,
                                  "actors.X.trust.memory": 0.5, "actors.Y.delivery.full": 0.5,
                                  "actors.Y.delivery.partial": 0.5}


@pytest.mark.slow
def test_the_baseline_scenario_is_calibrated_through_its_step_by_step_variant() -> None:
    spec, _ = cal.read_track(TRACK)
    target, note = cal.calibration_scenario(SCENARIOS / "belarus_us_2025.yaml", spec, TRACK)
    assert target.resolve() == (SCENARIOS / "belarus_stepwise.yaml").resolve()
    assert note and "package" in note
    same, none = cal.calibration_scenario(SCENARIOS / "belarus_low_trust.yaml", spec, TRACK)
    assert same == SCENARIOS / "belarus_low_trust.yaml" and none is None


def test_a_package_scenario_the_track_does_not_model_is_refused_in_one_line() -> None:
    spec, _ = cal.read_track(TRACK)
    with pytest.raises(InputError) as e:
        cal.calibration_scenario(SCENARIOS / "scholz2011_eum.yaml", spec, TRACK)
    assert "protocol.kind" in str(e.value) and "incremental" in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------------------- bargain calibrate


def test_bargain_calibrate_writes_a_variant_that_validates_and_loads(tmp_path: Path) -> None:
    scenario_file = write(tmp_path / "scenarios" / "tiny.yaml", TINY)
    track = write(tmp_path / "scenarios" / "observed" / "track.yaml", TINY_TRACK)
    variant = tmp_path / "scenarios" / "tiny_fit.yaml"
    r = CliRunner().invoke(main, ["calibrate", str(scenario_file), "--track", str(track), "--points", "2", "--seeds",
                                  "2", "--backend", "serial", "--out", str(tmp_path / "out"), "--write-variant",
                                  str(variant)])
    assert r.exit_code == 0, r.output
    v = CliRunner().invoke(main, ["validate", str(variant)])
    assert v.exit_code == 0 and "ok" in v.output
    fitted = scn.load(variant)
    assert fitted.spec.name == "tiny_fit"
    text = variant.read_text()
    assert text.startswith("# ") and "Question" in text and "Generated by `bargain calibrate" in text
    assert yaml.safe_load(text)["extends"] == "tiny.yaml"
    with open(tmp_path / "out" / "points.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    best = next(row for row in rows if row["best"] == "True")
    assert fitted.spec.actors[0].trust.prior == pytest.approx(float(best["actors.X.trust.prior"]))
    assert fitted.spec.actors[1].delivery.full == pytest.approx(float(best["actors.Y.delivery.full"]))
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Distance by component" in report and f"**{float(best['distance']):.3f}**" in report
    assert not list((tmp_path / "scenarios").glob(".tiny_fit.yaml.*")), "no temporary file is left behind"


def test_a_bad_track_file_gives_one_line_naming_file_line_and_field(tmp_path: Path) -> None:
    scenario_file = write(tmp_path / "tiny.yaml", TINY)
    bad = copy.deepcopy(TINY_TRACK)
    bad["issues"]["s"]["steps"][0]["value"] = 1.5
    track = write(tmp_path / "track.yaml", bad)
    r = CliRunner().invoke(main, ["calibrate", str(scenario_file), "--track", str(track), "--backend", "serial"])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output
    assert re.match(rf"error: {re.escape(str(track))}:\d+: issues\.s\.steps\[0\]\.value: .*less than or equal to 1",
                    lines[0])
    assert not (tmp_path / "tiny_fit.yaml").exists()


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"releases": {**TINY_TRACK["releases"], "issue": "q"}}, "releases.issue", "unknown issue 'q'"),
    ({"pause": {**TINY_TRACK["pause"], "months": [9]}}, "pause.months[0]", "outside the track's 4 months"),
    ({"months": 20}, "months", "protocol.max_rounds = 8"),
    ({"issues": {"s": {"status_quo": 0.2, "steps": [{"month": 1, "value": 0.5, "source": "[T1]"}]}}},
     "issues.s.status_quo", "differs from the scenario's status quo 0"),
    ({"issues": {"s": {"steps": [{"month": 1, "value": 0.5, "source": "[T9]"}]}}},
     "issues.s.steps[0].source", "cites [T9]"),
])
def test_a_track_that_does_not_fit_its_scenario_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InputError) as e:
        tiny_observed(tmp_path, **change)
    assert f" {field}: " in str(e.value) and says in str(e.value)


def test_a_variant_may_not_replace_the_scenario_it_extends(tmp_path: Path) -> None:
    scenario_file = write(tmp_path / "tiny.yaml", TINY)
    track = write(tmp_path / "track.yaml", TINY_TRACK)
    before = scenario_file.read_text()
    r = CliRunner().invoke(main, ["calibrate", str(scenario_file), "--track", str(track), "--backend", "serial",
                                  "--write-variant", str(scenario_file)])
    assert r.exit_code == 2 and "cannot replace it" in r.output
    assert scenario_file.read_text() == before


def test_a_variant_that_does_not_load_is_never_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario_file = write(tmp_path / "tiny.yaml", TINY)
    obs = cal.load_track(write(tmp_path / "track.yaml", TINY_TRACK), scn.load(scenario_file))
    with executor("serial") as pool:
        fit = cal.calibrate(scenario_file, obs, n_points=0, n_seeds=1, seed=0, pool=pool)

    def broken(path: Any) -> None:
        raise InputError(str(path), [])

    monkeypatch.setattr(cal.scn, "load", broken)
    with pytest.raises(InputError):
        cal.write_variant(fit, tmp_path / "tiny_fit.yaml", "bargain calibrate tiny.yaml", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml", "track.yaml"]


def test_the_variant_goes_to_the_output_folder_unless_told_and_never_beside_the_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bargain calibrate`` changes no scenario file unless ``--write-variant`` names one (issue #20)."""
    monkeypatch.chdir(tmp_path)
    base = write(tmp_path / "my" / "tiny.yaml", TINY)
    # tiny.yaml lies outside the project's scenarios/: a variant under results/ could not extend it
    track = write(tmp_path / "my" / "observed" / "track.yaml", TINY_TRACK)
    r = CliRunner().invoke(main, ["calibrate", str(base), "--track", str(track), "--points", "0", "--seeds", "1",
                                  "--backend", "serial"])
    assert r.exit_code == 2 and "--write-variant in my" in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "results").exists()  # refused before any run
    # a scenario of the project's own scenarios/ may be extended from anywhere: the default is OUT
    project = scn.PROJECT_SCENARIOS / "belarus_stepwise.yaml"
    cal.check_variant_path(tmp_path / "results" / "calibrate" / "x" / "belarus_stepwise_fit.yaml", project)
    r = CliRunner().invoke(main, ["calibrate", str(base), "--track", str(track), "--points", "0", "--seeds", "1",
                                  "--backend", "serial", "--out", "my/out", "--write-variant", "my/tiny_fit.yaml"])
    assert r.exit_code == 0 and (tmp_path / "my" / "tiny_fit.yaml").is_file(), r.output
    monkeypatch.setenv(scn.ALLOW_EXTENDS_ENV, "1")
    r = CliRunner().invoke(main, ["calibrate", str(base), "--track", str(track), "--points", "0", "--seeds", "1",
                                  "--backend", "serial"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "results" / "calibrate" / "tiny" / "tiny_fit.yaml").is_file()
