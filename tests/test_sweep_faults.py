"""Faults during sweeps: a ``bargain sweep`` killed with SIGKILL at random points keeps every finished
result, and resuming it (the same command again) ends with exactly the rows of an uninterrupted sweep,
on the serial and the process backends. What a kill leaves is never read as a result: parts are
renamed into place once fully written, temporary files (``.part-*``) are skipped and cleared.

A part damaged after it was written (planted here by hand: a disk fault, a bad copy) is a different
matter: reading it gives a clear error naming the file, and a resumed sweep runs its chunk again.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from model import results
from tests.factories import small

ROOT = Path(__file__).resolve().parents[1]
REPLICATES = 4
N_RUNS = 3 * 4 * REPLICATES  # the grid below, one run per part (chunk_size 1)


def write_experiment(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenario.yaml").write_text(
        yaml.safe_dump(small(protocol={"max_rounds": 40, "breakdown_risk": 0.05}), sort_keys=False), encoding="utf-8")
    exp = {"name": "faults", "scenario": "scenario.yaml", "design": {"kind": "grid"},
           "axes": [{"path": "protocol.max_rounds", "values": [5, 20, 40]},
                    {"path": "actors.X.strategy.params.exponent", "range": [1.5, 6.0], "steps": 4}],
           "replicates": REPLICATES, "seed": 7, "chunk_size": 1}
    f = folder / "exp.yaml"
    f.write_text(yaml.safe_dump(exp, sort_keys=False), encoding="utf-8")
    return f


def command(exp: Path, out: Path, backend: str) -> list[str]:
    cmd = [sys.executable, "-m", "model.cli", "sweep", str(exp), "--backend", backend, "--out", str(out)]
    return cmd + (["--workers", "2"] if backend == "process" else [])


def parts(out: Path) -> list[Path]:
    return sorted(out.glob("part-*.parquet"))


def finish(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    return r


def kill_after(cmd: list[str], out: Path, k: int) -> None:
    """Start the sweep and SIGKILL it once ``k`` parts are on disk (``k = 0``: once its manifest is)."""
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if (len(parts(out)) >= k) if k else (out / "manifest.json").exists():
                break
            time.sleep(0.002)
        os.kill(p.pid, signal.SIGKILL)  # as the OOM killer or a lost node would: no cleanup at all
        p.wait(timeout=60)
        assert p.returncode == -signal.SIGKILL, f"the sweep ended by itself before {k} parts ({p.returncode})"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)  # its orphaned workers (its own process group) too
        if p.poll() is None:
            p.kill()
            p.wait()


def check_what_a_kill_left(out: Path, full: pd.DataFrame) -> int:
    """Every part on disk is whole and holds its own run; the results read are rows of the full sweep."""
    for f in parts(out):
        chunk = int(f.stem.split("-")[1])
        table = pq.read_table(f)  # a whole Parquet file, never a torn one
        assert table.column("run_id").to_pylist() == [chunk], f
    mf = json.loads((out / "manifest.json").read_text())  # written atomically: always whole
    assert mf["status"] == "running" and mf["n_runs"] == N_RUNS
    # a temporary file of the kind a kill leaves mid-write: never read as a result
    (out / ".part-000999.parquet.abc123").write_bytes(b"PAR1 half a file")
    df = results.load(out)
    if not parts(out):
        assert df.empty  # killed before its first part: nothing finished, nothing to read
        return 0
    assert df["run_id"].is_unique
    assert df["run_id"].tolist() == [int(f.stem.split("-")[1]) for f in parts(out)]
    expected = full[full["run_id"].isin(df["run_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(df, expected)
    return len(df)


@pytest.fixture(scope="module")
def full_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of an uninterrupted sweep (the serial backend; every backend gives the same rows)."""
    d = tmp_path_factory.mktemp("full")
    exp = write_experiment(d)
    finish(command(exp, d / "out", "serial"))
    return d / "out"


@pytest.fixture(scope="module")
def full(full_out: Path) -> pd.DataFrame:
    df = results.load(full_out)
    assert len(df) == N_RUNS and df["run_id"].tolist() == list(range(N_RUNS))
    assert df["error"].isna().all()
    return df


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "seed"), [("serial", 1), ("process", 2)])
def test_a_sweep_killed_at_random_points_resumes_to_the_rows_of_an_uninterrupted_one(
    tmp_path: Path, full: pd.DataFrame, backend: str, seed: int
) -> None:
    exp = write_experiment(tmp_path)
    out = tmp_path / "out"
    cmd = command(exp, out, backend)
    rng = random.Random(seed)
    ks = [0, *sorted(rng.sample(range(1, N_RUNS - 8), 3))]  # 0: killed before its first part
    on_disk = 0
    for k in ks:
        kill_after(cmd, out, max(k, on_disk + 1) if k else 0)  # each kill is of a resumed sweep
        done = check_what_a_kill_left(out, full)
        assert done >= on_disk, "a kill lost results that were on disk"
        on_disk = done
        if k:
            assert done >= k
    assert on_disk < N_RUNS
    r = finish(cmd)
    assert f"({on_disk} already on disk, skipped)" in r.stdout, r.stdout
    df = results.load(out)
    assert df["run_id"].is_unique and df["run_id"].tolist() == list(range(N_RUNS))
    pd.testing.assert_frame_equal(df, full)
    assert not list(out.glob(".part-*")), "a resumed sweep clears what kills left"
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_each_kill_resumed_at_once_to_the_end(tmp_path: Path, full: pd.DataFrame) -> None:
    """Killed at a random point, then run to completion, twice over (fresh folders)."""
    exp = write_experiment(tmp_path)
    for j, k in enumerate(sorted(random.Random(3).sample(range(1, N_RUNS - 8), 2))):
        out = tmp_path / f"out{j}"
        cmd = command(exp, out, "serial")
        kill_after(cmd, out, k)
        done = check_what_a_kill_left(out, full)
        r = finish(cmd)
        assert f"({done} already on disk, skipped)" in r.stdout, r.stdout
        pd.testing.assert_frame_equal(results.load(out), full)


# --------------------------------------------------------------------------------------------
# a part damaged after it was written (a disk fault, a bad copy, a hand edit)


def _with_corrupt_part(tmp_path: Path, full_out: Path, damage: Any) -> tuple[list[str], Path]:
    """A finished sweep's folder (a copy: the same experiment, so the same command resumes it), one part damaged."""
    exp = write_experiment(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(full_out, out)
    cmd = command(exp, out, "serial")
    bad = out / "part-000003.parquet"
    damage(bad)
    return cmd, bad


def _truncate(f: Path) -> None:
    f.write_bytes(f.read_bytes()[:100])


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_truncate, lambda f: f.write_bytes(b"")], ids=["truncated", "empty"])
def test_loading_a_damaged_part_gives_a_clear_error_naming_it(tmp_path: Path, full_out: Path, damage: Any) -> None:
    """Not pyarrow's exception (which `bargain` would call an internal error), but one line naming the part."""
    _, bad = _with_corrupt_part(tmp_path, full_out, damage)
    with pytest.raises(Exception) as info:  # noqa: PT011 - which exception is the point of the test
        results.load(bad.parent)
    assert not type(info.value).__module__.startswith("pyarrow"), type(info.value)
    assert "part-000003.parquet" in str(info.value) and "\n" not in str(info.value)
    r = subprocess.run([sys.executable, "-m", "model.cli", "plot", str(bad.parent)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "part-000003.parquet" in r.stderr, r.stderr


@pytest.mark.slow
def test_a_resumed_sweep_runs_a_damaged_part_again(tmp_path: Path, full_out: Path, full: pd.DataFrame) -> None:
    """A damaged part is not done: the same command runs its chunk again, and the results are whole."""
    cmd, bad = _with_corrupt_part(tmp_path, full_out, _truncate)
    r = finish(cmd)
    assert f"({N_RUNS - 1} already on disk, skipped)" in r.stdout, r.stdout
    pd.testing.assert_frame_equal(results.load(bad.parent), full)


def _flip_a_bit_in_a_data_page(f: Path) -> None:
    """One bit of the column data changed; the footer (schema, row counts) intact, as a disk fault may leave it."""
    data = bytearray(f.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    start, end = 4, len(data) - 8 - footer
    pos = start + (end - start) // 2
    data[pos] ^= 0x10
    f.write_bytes(bytes(data))
    assert pq.read_metadata(f).num_rows == 1  # the footer still reads


def _swap_with_another_chunks_part(f: Path) -> None:
    shutil.copyfile(f.with_name("part-000000.parquet"), f)


def _foreign_schema(f: Path) -> None:
    import pyarrow as pa

    pq.write_table(pa.table({"run_id": [3], "something": ["else"]}), f)


DAMAGES = [_flip_a_bit_in_a_data_page, _swap_with_another_chunks_part, _foreign_schema]


@pytest.mark.parametrize("damage", DAMAGES, ids=["bit-flip", "swapped", "foreign-schema"])
def test_a_damaged_or_replaced_part_is_named_on_load_and_redone_on_resume(
    tmp_path: Path, full_out: Path, full: pd.DataFrame, damage: Any
) -> None:
    """Checked against the sha256 recorded when the part was written: the error names the part and how
    to redo it, and doing so (the same command) really redoes it, so the advice never loops."""
    cmd, bad = _with_corrupt_part(tmp_path, full_out, damage)
    with pytest.raises(results.DamagedResults) as info:
        results.load(bad.parent)
    msg = str(info.value)
    assert "part-000003.parquet" in msg and "bargain sweep" in msg and "\n" not in msg, msg
    for command in ("plot", "report"):
        r = subprocess.run([sys.executable, "-m", "model.cli", command, str(bad.parent)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "part-000003.parquet" in r.stderr and "internal error" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = finish(cmd)
    assert f"({N_RUNS - 1} already on disk, skipped)" in r.stdout, r.stdout
    pd.testing.assert_frame_equal(results.load(bad.parent), full)
    r = finish(cmd)  # and the folder is now whole: nothing left to redo
    assert f"({N_RUNS} already on disk, skipped)" in r.stdout, r.stdout


def test_each_part_s_checksum_is_in_the_manifest(full_out: Path) -> None:
    import hashlib

    mf = json.loads((full_out / "manifest.json").read_text())
    assert len(mf["parts"]) == N_RUNS
    for f in parts(full_out):
        assert mf["parts"][f.name]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
