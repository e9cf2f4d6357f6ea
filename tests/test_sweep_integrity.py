"""Integrity of a sweep's results folder (issue #16): every result column stored, one writer per
folder, interrupted and failed sweeps that say so, designs refused before they are built, reruns that
repeat the stored run, and environment faults reported in one line.

The damaged-part cases (bit flip, swapped part, foreign schema) are in ``test_sweep_faults.py``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from model import experiment as exm
from model import results
from model import sweep as swm
from model.cli import main
from model.errors import InputError
from model.sweep import Sweep, executor, rerun
from tests.factories import small, write_experiment

ROOT = Path(__file__).resolve().parents[1]
BARGAIN = [sys.executable, "-m", "model.cli"]
GRID_AXES = [
    {"path": "protocol.max_rounds", "values": [5, 20]},
    {"path": "actors.X.strategy.params.exponent", "range": [1.5, 6.0], "steps": 3},
]


def _sweep(f: Path, out: Path, backend: str = "serial", workers: int = 1) -> pd.DataFrame:
    sw = Sweep(exm.load(f), out)
    with executor(backend, workers) as pool:
        sw.run(pool)
    return results.load(out)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or b is pd.NA or (isinstance(b, float) and math.isnan(b))
    return bool(a == b)


# ---------------------------------------------------------------------------- 1. every column stored


@pytest.mark.parametrize("kind", ["package", "incremental", "framework", "mediated", "eum"])
def test_every_column_run_one_gives_lands_in_the_parquet(tmp_path: Path, kind: str) -> None:
    """The row builder and the Parquet schema share one layout: no column is dropped, for any protocol."""
    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [6, 12]}],
                         scenario=small(protocol={"kind": kind, "max_rounds": 12}), replicates=2)
    exp = exm.load(f)
    df = _sweep(f, tmp_path / "out")
    assert len(df) == 4 and df["error"].isna().all()
    for run_id in range(4):
        point = exp.points[run_id // 2]
        row = swm.run_one(exp.scenario_for(point), exm.run_seed(exp.spec.seed, run_id))
        missing = set(row) - set(df.columns)
        assert not missing, f"columns dropped from the Parquet parts: {sorted(missing)}"
        for k, v in row.items():
            assert _same(v, df.loc[run_id, k]), (k, v, df.loc[run_id, k])
    assert {"state.a", "state.b", "state.c", "metric.tranches", "metric.spoilers"} <= set(df.columns)


def test_a_shipped_scenario_with_tranches_keeps_its_state_and_metric_columns(tmp_path: Path) -> None:
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump({
        "name": "stepwise", "scenario": str(ROOT / "scenarios" / "belarus_stepwise.yaml"),
        "design": {"kind": "grid"}, "axes": [{"path": "protocol.breakdown_risk", "values": [0.0, 0.05]}],
        "replicates": 2, "seed": 3}))
    exp = exm.load(exp_file)
    df = _sweep(exp_file, tmp_path / "out")
    row = swm.run_one(exp.scenario_for(exp.points[0]), exm.run_seed(3, 1))
    assert set(row) <= set(df.columns)
    assert all(_same(v, df.loc[1, k]) for k, v in row.items())


def test_a_row_with_a_column_the_layout_lacks_is_an_error_not_a_silent_drop(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    sw = Sweep(exm.load(f), tmp_path / "out")
    rows = [{"run_id": 0, "point_id": 0, "replicate": 0, "seed": 1, "surprise": 1.0, "error": None}]
    with pytest.raises(Exception, match="surprise"):  # noqa: PT011
        sw.write_part(0, rows)


def test_a_run_whose_columns_differ_from_the_layout_fails_instead_of_losing_them(tmp_path: Path) -> None:
    """(``load`` refuses axes that rename actors or issues; this guards the layout at run time too.)"""
    import dataclasses

    f = write_experiment(tmp_path, GRID_AXES, chunk_size=2)
    sw = Sweep(exm.load(f), tmp_path / "out")
    task = sw.task(0)
    assert "utility.Y" in task.columns
    rows = swm.run_task(dataclasses.replace(task, columns=tuple(c for c in task.columns if c != "utility.Y")))
    assert len(rows) == 2 and all("utility.Y" in r["error"] for r in rows)
    assert all(r["error"] is None for r in swm.run_task(task))


# ---------------------------------------------------------------------------- 2. one writer per folder


def _slow_experiment(tmp: Path, name: str = "slow", seed: int = 1, replicates: int = 600, chunk_size: int = 10) -> Path:
    """Two points x ``replicates`` runs of about half a millisecond each."""
    tmp.mkdir(parents=True, exist_ok=True)
    sc = tmp / "scenario.yaml"
    sc.write_text(yaml.safe_dump(small(protocol={"max_rounds": 60}), sort_keys=False))
    f = tmp / f"{name}_{seed}.yaml"
    f.write_text(yaml.safe_dump({"name": name, "scenario": "scenario.yaml", "design": {"kind": "grid"},
                                 "axes": [{"path": "protocol.max_rounds", "values": [40, 60]}],
                                 "replicates": replicates, "seed": seed, "chunk_size": chunk_size}))
    return f


def test_a_sweep_into_a_folder_another_sweep_holds_is_refused_in_one_line(tmp_path: Path) -> None:
    f = _slow_experiment(tmp_path)
    out = tmp_path / "out"
    holder = Sweep(exm.load(f), out)
    with holder.lock():
        r = subprocess.run([*BARGAIN, "sweep", str(f), "--backend", "serial", "--out", str(out)],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and f"pid {os.getpid()}" in lines[0], r.stderr
    assert not list(out.glob("part-*"))


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / swm.LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "experiment_sha256": "0" * 64}))
    df = _sweep(f, out)
    assert len(df) == 18


def test_two_concurrent_sweeps_into_one_folder_never_mix(tmp_path: Path) -> None:
    """Two experiments that share a name (so the same default folder), started together: one runs,
    the other is refused; the folder holds exactly the winner's rows."""
    a, b = _slow_experiment(tmp_path, seed=1, replicates=100), _slow_experiment(tmp_path, seed=2, replicates=100)
    procs = [subprocess.Popen([*BARGAIN, "sweep", str(x), "--backend", "serial"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for x in (a, b)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    loser = outs[[p.returncode for p in procs].index(2)][1]
    assert len(loser.strip().splitlines()) == 1 and "results/slow" in loser, loser
    winner = (a, b)[[p.returncode for p in procs].index(0)]
    mf = results.manifest(tmp_path / "results" / "slow")
    assert mf["experiment_sha256"] == exm.load(winner).digest and mf["status"] == "complete"
    pd.testing.assert_frame_equal(results.load(tmp_path / "results" / "slow"), _sweep(winner, tmp_path / "clean"))


def test_the_same_sweep_started_twice_leaves_the_first_running(tmp_path: Path) -> None:
    f = _slow_experiment(tmp_path, replicates=10_000, chunk_size=100)  # about 10 s
    out = tmp_path / "out"
    first = subprocess.Popen([*BARGAIN, "sweep", str(f), "--backend", "serial", "--out", str(out)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("part-*.parquet"))) < 2:
        time.sleep(0.02)
    second = subprocess.run([*BARGAIN, "sweep", str(f), "--backend", "serial", "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert first.poll() is None, "the first sweep ended before the second started: make it longer"
    o, e = first.communicate(timeout=300)
    assert second.returncode == 2 and "in use" in second.stderr, second.stderr
    assert first.returncode == 0, o + e
    assert len(results.load(out)) == 20_000


# ---------------------------------------------------------------------------- 4. infrastructure failures


def test_runs_whose_worker_died_are_retried_on_resume(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    full = _sweep(f, tmp_path / "full")
    out = tmp_path / "out"
    sw = Sweep(exm.load(f), out)
    sw.kill_worker_at = (5,)  # the run kills its worker every time in this session (the retry too)
    with executor("process", 2) as pool:
        stats = sw.run(pool)
    assert stats["runs_failed_by_infrastructure"] == 1
    mf = results.manifest(out)
    assert mf["status"] == "incomplete"
    df = results.load(out)
    assert df.loc[5, "error"].startswith("worker process died")
    again = Sweep(exm.load(f), out)  # no kill this time: the run is done again
    with executor("process", 2) as pool:
        stats = again.run(pool)
    assert stats["runs_skipped_as_done"] == 14  # the chunk of run 5 is redone
    assert results.manifest(out)["status"] == "complete"
    pd.testing.assert_frame_equal(results.load(out), full)


# ---------------------------------------------------------------------------- 5. signals


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            alive.add(p)
    return alive


def _start_process_sweep(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    f = _slow_experiment(tmp_path, replicates=30_000, chunk_size=100)  # 60,000 runs: about 15 s on 2 workers
    out = tmp_path / "out"
    p = subprocess.Popen([*BARGAIN, "sweep", str(f), "--backend", "process", "--workers", "2", "--out", str(out)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("part-*.parquet"))) < 2:
        time.sleep(0.02)
    assert p.poll() is None
    return p, out


def _reap(pids: set[int]) -> None:
    for q in _alive(pids):
        os.kill(q, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_sweep_and_its_workers_and_say_so(tmp_path: Path, sig: int) -> None:
    p, out = _start_process_sweep(tmp_path)
    kids = _descendants(p.pid)
    assert len(kids) >= 3
    try:
        os.kill(p.pid, sig)
        _, e = p.communicate(timeout=60)
        assert p.returncode == 128 + sig, e
        lines = e.strip().splitlines()
        assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in e, e
        assert results.manifest(out)["status"] == "interrupted"
        deadline = time.monotonic() + 5
        while _alive(kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(kids), "processes of the sweep outlived it"
    finally:
        _reap(kids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_after_kill_9_of_the_main_process_no_worker_survives(tmp_path: Path) -> None:
    p, _ = _start_process_sweep(tmp_path)
    kids = _descendants(p.pid)
    assert len(kids) >= 3
    try:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=60)
        deadline = time.monotonic() + 5
        while _alive(kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(kids), "workers, forkserver or resource tracker outlived the killed sweep"
    finally:
        _reap(kids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_to_the_process_group_ends_with_one_message_and_no_traceback(tmp_path: Path) -> None:
    for trial in range(2):
        p, out = _start_process_sweep(tmp_path / str(trial))
        kids = _descendants(p.pid)
        try:
            os.killpg(p.pid, signal.SIGINT)
            _, e = p.communicate(timeout=60)
            assert p.returncode == 130, e
            assert "Traceback" not in e and "Exception ignored" not in e, e
            assert "interrupted" in e and len(e.strip().splitlines()) == 1, e
            assert results.manifest(out)["status"] == "interrupted"
        finally:
            _reap(kids)


# ---------------------------------------------------------------------------- 6. designs too large to build


def _exp(tmp: Path, axes: list[dict[str, Any]], design: dict[str, Any], **fields: Any) -> Path:
    return write_experiment(tmp, axes, design, **fields)


RANGE = {"range": [0.0, 0.5], "steps": 10_000}
HUGE = [
    ("grid", [{"path": "actors.X.reservation", **RANGE}, {"path": "protocol.breakdown_risk", **RANGE},
              {"path": "actors.Y.reservation", **RANGE}], {"kind": "grid"}, {}, "axes"),
    ("lhs", [{"path": "actors.X.reservation", "range": [0.0, 0.5]}, {"path": "protocol.breakdown_risk",
                                                                      "range": [0.0, 0.5]}],
     {"kind": "lhs", "samples": 10_000_000}, {}, "design.samples"),
    ("sobol", [{"path": "actors.X.reservation", "range": [0.0, 0.5]}, {"path": "protocol.breakdown_risk",
                                                                        "range": [0.0, 0.5]}],
     {"kind": "sobol", "samples": 10_000_000, "second_order": True}, {}, "design.samples"),
    ("replicates", [{"path": "actors.X.reservation", **RANGE}], {"kind": "grid"}, {"replicates": 100_000},
     "replicates"),
]


@pytest.mark.parametrize(("axes", "design", "fields", "field"), [h[1:] for h in HUGE], ids=[h[0] for h in HUGE])
def test_a_design_too_large_to_build_is_refused_at_once(
    tmp_path: Path, axes: list[dict[str, Any]], design: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    f = _exp(tmp_path, axes, design, **fields)
    t = time.perf_counter()
    with pytest.raises(InputError) as info:
        exm.load(f)
    assert time.perf_counter() - t < 5
    msg = str(info.value)
    assert str(f) in msg and f" {field}:" in msg and "limit" in msg and "\n" not in msg, msg
    for cmd in (["validate", str(f)], ["sweep", str(f), "--backend", "serial", "--out", str(tmp_path / "o")]):
        r = CliRunner().invoke(main, cmd)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "limit" in r.output, r.output
    assert not (tmp_path / "o").exists()


def test_the_design_size_is_counted_without_building_it(tmp_path: Path) -> None:
    axes = [{"path": "protocol.max_rounds", "range": [2, 6], "steps": 9, "integer": True},
            {"path": "actors.X.reservation", "range": [0.0, 0.5], "steps": 4}]
    for design, n in [({"kind": "grid"}, 5 * 4), ({"kind": "lhs", "samples": 7}, 7),
                      ({"kind": "sobol", "samples": 8}, 8 * 4), ({"kind": "sobol", "samples": 8, "second_order": True},
                                                                 8 * 6),
                      ({"kind": "morris", "samples": 5}, 5 * 3)]:
        spec = exm.load(_exp(tmp_path, axes, design)).spec
        assert exm.design_size(spec) == n == len(exm.design_points(spec)), design


# ---------------------------------------------------------------------------- 7. rerun


def test_rerun_repeats_the_stored_run_after_the_experiment_changed_and_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [2, 30]}], replicates=2)
    monkeypatch.chdir(tmp_path)
    sw = Sweep(exm.load("exp.yaml"), Path("out"))
    with executor("serial") as pool:
        sw.run(pool)
    df = results.load("out")
    data = yaml.safe_load(f.read_text())
    data["axes"][0]["values"] = [30, 2]  # edited after the sweep
    f.write_text(yaml.safe_dump(data))
    (tmp_path / "scenario.yaml").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for run_id in range(4):
        again = rerun(tmp_path / "out", run_id)
        assert again["rounds"] == df.loc[run_id, "rounds"] and again["reason"] == df.loc[run_id, "reason"]
    resolved = tmp_path / "out" / swm.RESOLVED_FILE
    stored = json.loads(resolved.read_text())
    stored["experiment"]["seed"] = 5
    resolved.write_text(json.dumps(stored))
    with pytest.raises(InputError, match="sha256"):
        rerun(tmp_path / "out", 0)


# ---------------------------------------------------------------------------- 8. limits and environment faults


def test_too_many_workers_are_refused_in_one_line(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES)
    n = 4 * (os.cpu_count() or 1) + 1
    r = CliRunner().invoke(main, ["sweep", str(f), "--workers", str(n), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--workers" in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_a_sweep_where_every_run_failed_exits_non_zero_without_nan(tmp_path: Path) -> None:
    data = small(protocol={"max_rounds": 10})
    data["actors"][0]["red_lines"] = [{"issue": "a", "min": 0.3}, {"issue": "a", "max": 1.0}]
    axes = [{"path": "actors.X.red_lines[0].min", "values": [0.8, 0.9]},
            {"path": "actors.X.red_lines[1].max", "values": [0.5, 0.6]}]
    f = write_experiment(tmp_path, axes, scenario=data, replicates=1)
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "nan" not in r.output.lower(), r.output
    assert "every run failed" in r.output


@pytest.mark.parametrize("cmd", ["run", "calibrate"])
def test_a_seed_above_the_64_bit_range_is_refused(tmp_path: Path, cmd: str) -> None:
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(small()))
    r = CliRunner().invoke(main, [cmd, str(sc), "--seed", str(2**70)])
    assert r.exit_code == 2 and "--seed" in r.output, r.output


def test_out_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES)
    (tmp_path / "afile").write_text("x")
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(tmp_path / "afile" / "sub")])
    assert r.exit_code == 2 and "internal error" not in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and "afile" in r.output


def _fails_with(code: int, at: int) -> Any:
    real = Sweep.write_part

    def write_part(self: Sweep, chunk: int, rows: list[dict[str, Any]]) -> None:
        if chunk >= at:
            raise OSError(code, os.strerror(code), str(self.part_path(chunk)))
        real(self, chunk, rows)

    return write_part


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_disk_fault_during_a_sweep_is_one_line_and_the_manifest_says_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=2)
    out = tmp_path / "o"
    monkeypatch.setattr(Sweep, "write_part", _fails_with(code, 3))
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)])
    assert r.exit_code == 2 and "internal error" not in r.output, r.output
    assert len(r.output.strip().splitlines()) == 2 and "part-000003.parquet" in r.output, r.output  # header + error
    assert os.strerror(code) in r.output
    assert results.manifest(out)["status"] != "running"
    monkeypatch.undo()
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)])
    assert r.exit_code == 0 and "already on disk, skipped" in r.output, r.output
    pd.testing.assert_frame_equal(results.load(out), _sweep(f, tmp_path / "clean"))


def test_an_unreachable_dask_scheduler_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    f = write_experiment(tmp_path, GRID_AXES)
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    r = subprocess.run([*BARGAIN, "sweep", str(f), "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert r.returncode == 2 and "internal error" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "tcp://127.0.0.1:1" in r.stderr, r.stderr


@pytest.mark.parametrize("command", ["sweep", "plot", "report"])
def test_a_manifest_that_is_not_a_mapping_is_one_line(tmp_path: Path, command: str) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    out = tmp_path / "o"
    _sweep(f, out)
    (out / "manifest.json").write_text("[]")
    args = ["sweep", str(f), "--backend", "serial", "--out", str(out)] if command == "sweep" else [command, str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "internal error" not in r.output, r.output
    assert "manifest.json" in r.output and len(r.output.strip().splitlines()) <= 2, r.output


def test_a_manifest_naming_axes_the_parts_lack_is_one_line(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, GRID_AXES, chunk_size=4)
    out = tmp_path / "o"
    _sweep(f, out)
    mf = json.loads((out / "manifest.json").read_text())
    mf["axes"].append("protocol.nonexistent")
    (out / "manifest.json").write_text(json.dumps(mf))
    for command in ("plot", "report"):
        r = CliRunner().invoke(main, [command, str(out)])
        assert r.exit_code == 2 and "internal error" not in r.output, r.output
        assert "protocol.nonexistent" in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_a_signal_that_lands_in_a_finaliser_still_stops_the_sweep() -> None:
    """Python prints and drops an exception raised in a ``__del__``: a Ctrl-C that arrived while
    a Parquet writer was being collected let the sweep run on to the end (seen once in CI). The
    handler raises such a signal again a moment later, where it stops the sweep."""
    from model.sweep.executors import Interrupted, stop_on_signals

    class Collected:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)  # the handler runs here, inside the finaliser
            for _ in range(1000):  # bytecodes for Python to run the handler on
                pass

    with pytest.raises(Interrupted) as got, stop_on_signals():
        Collected()  # made and collected at once: the signal lands in its __del__
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # the sweep's own work, where the signal comes again
            time.sleep(0.01)
    assert got.value.signum == signal.SIGINT
