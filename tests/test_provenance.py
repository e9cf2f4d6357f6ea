"""Provenance of a results folder (issue #20, part 5): the git commit and dirty flag, package
versions, the scenario as run stored beside the results, ``bargain rerun`` from any folder, and
``bargain export`` giving exactly what the Parquet parts hold."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from model import experiment as exm
from model import results
from model import scenario as scn
from model.cli import main
from model.sweep import SCENARIO_FILE, Sweep, executor, git_state
from tests.factories import write_experiment

AXES = [{"path": "protocol.max_rounds", "values": [3, 30]}]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("prov")
    f = write_experiment(tmp, AXES, replicates=3)
    sw = Sweep(exm.load(f), tmp / "out", series=True)
    with executor("serial") as pool:
        sw.run(pool)
    return tmp / "out"


def _git(where: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=where, check=True,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_dirty_flag_follows_the_tracked_files_of_a_git_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    assert git_state(repo) == {"commit": "unknown", "dirty": "unknown"}  # not a checkout (tmp is outside any)
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "first")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert git_state(repo) == {"commit": head, "dirty": False}
    (repo / "results.csv").write_text("untracked output\n")
    assert git_state(repo)["dirty"] is False  # untracked files (results) do not count
    (repo / "a.txt").write_text("two\n")
    assert git_state(repo) == {"commit": head, "dirty": True}


def test_the_manifest_records_code_versions_and_the_scenario_as_run(swept: Path) -> None:
    mf = results.manifest(swept)
    assert set(mf["git"]) == {"commit", "dirty"}
    assert mf["git"] == git_state()  # the code's own checkout, as it is now
    for pkg in ("python", "grand-bargain", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "SALib"):
        assert mf["versions"][pkg]
    assert mf["resolved_scenario"] == SCENARIO_FILE and mf["series"] is True
    stored = scn.load(swept / SCENARIO_FILE)  # a scenario file `bargain run` reads
    exp = exm.from_resolved(json.loads((swept / mf["resolved"]).read_text()), "x")
    assert stored.digest == exp.base_scenario.digest == mf["scenario_sha256"]


def test_bargain_rerun_works_from_another_folder_after_the_files_are_gone(swept: Path, tmp_path: Path) -> None:
    copy = tmp_path / "moved"
    shutil.copytree(swept, copy)
    (swept.parent / "scenario.yaml").rename(swept.parent / "scenario.yaml.gone")
    try:
        r = subprocess.run([sys.executable, "-m", "model.cli", "rerun", str(copy), "4"], capture_output=True,
                           text=True, cwd=tmp_path, env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                           timeout=120)
    finally:
        (swept.parent / "scenario.yaml.gone").rename(swept.parent / "scenario.yaml")
    assert r.returncode == 0 and "the same as its stored row" in r.stderr, r.stderr
    row = results.load(swept).iloc[4]
    assert json.loads(r.stdout)["rounds"] == row["rounds"]


def _same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for c in want.columns:
        w = want[c]
        if pd.api.types.is_numeric_dtype(w.dtype) and not pd.api.types.is_bool_dtype(w.dtype):
            np.testing.assert_allclose(got[c].to_numpy(float), w.to_numpy(float, na_value=np.nan), rtol=1e-15,
                                       equal_nan=True, err_msg=c)
        else:
            norm = lambda s: ["" if pd.isna(v) else str(v) for v in s]  # noqa: E731
            assert norm(got[c]) == norm(w), c


def test_export_csv_and_xlsx_hold_exactly_the_parquet_content(swept: Path, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    r = CliRunner().invoke(main, ["export", str(swept), "--csv", "--xlsx", "--out", str(tmp_path / "x")])
    assert r.exit_code == 0, r.output
    runs, series = results.load(swept), results.load_series(swept)
    _same_table(pd.read_csv(tmp_path / "x" / "runs.csv", keep_default_na=True), runs)
    _same_table(pd.read_csv(tmp_path / "x" / "series.csv"), series)
    book = pd.read_excel(tmp_path / "x" / "results.xlsx", sheet_name=None)
    assert set(book) == {"runs", "series", "manifest"}
    _same_table(book["runs"], runs)
    _same_table(book["series"], series)
    m = dict(zip(book["manifest"]["key"], book["manifest"]["value"].astype(str), strict=True))
    assert m["experiment_sha256"] == results.manifest(swept)["experiment_sha256"] and "git.dirty" in m


def test_xlsx_without_openpyxl_is_one_line_naming_the_extra(swept: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if it were not installed
    r = CliRunner().invoke(main, ["export", str(swept), "--xlsx", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "grand-bargain[export]" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
