"""Results integrity at the command line and on disk (issue #16): user text never reaches the
mathtext parser or the terminal raw, outputs are written as a set with the umask's modes, faults of
the environment are one-line errors, error lines stay short, ``extends:`` stays in the scenario's
folder, and the odd inputs (special files, renamed ids, slider values, huge seeds) get clear errors.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from model import experiment as exm
from model import plots, report, scenario, yamlio
from model.cli import main
from model.errors import InputError
from tests.factories import small, write_experiment

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "bad_inputs"
BASE = BAD / "valid_base_scenario.yaml"
BARGAIN = str(Path(sys.executable).parent / "bargain")
MATH = "Cost $5bn; share 50% vs $10bn"
BROKEN_MATH = ["$x^$", "$\\frac{$", "50% $"]


def _scenario(path: Path, **changes: Any) -> Path:
    path.write_text(yaml.safe_dump(small(**changes), allow_unicode=True), encoding="utf-8")
    return path


def _bargain(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BARGAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _one_error_line(r: Any, *, code: int = 2) -> str:
    """The single ``error:`` line of a failed command (``r``: a CliRunner result or a process)."""
    text = r.output if hasattr(r, "exit_code") else r.stderr
    status = r.exit_code if hasattr(r, "exit_code") else r.returncode
    assert status == code, (status, text)
    assert "internal error" not in text and "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    return lines[0]


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------------------------
# D6: user text is never parsed as mathtext; `bargain run --out` writes all or nothing


@pytest.mark.slow
def test_a_dollar_title_runs_and_writes_every_output(tmp_path: Path) -> None:
    f = _scenario(tmp_path / "s.yaml", title=MATH)
    r = CliRunner().invoke(main, ["run", str(f), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "issues.png", "outcome.json", "outcome_space.png", "rounds.csv", "trajectory.png", "utility_space.png"]


def _render(fig: Any) -> None:
    fig.savefig(io.BytesIO(), format="png")


def test_every_plot_draws_user_text_with_dollar_signs_as_text() -> None:
    pytest.importorskip("solara", reason="the app's figures need the app extra (make test installs it)")
    from model import app, discovery, sensitivity  # noqa: F401 - the figure makers
    from model.negotiation import Negotiation
    from model.report import History

    data = small(title=MATH)
    data["actors"][0]["name"] = "$x^$ party"
    m = Negotiation(scenario.parse(data))
    m.run()
    h = History.from_model(m)
    for fig in (plots.trajectory(h, MATH), plots.issue_values(h, title=MATH),
                plots.utility_space(m.problem, 0, 1, None, None, MATH)):
        _render(fig)
    n = 24
    df = pd.DataFrame({
        "run_id": range(n),
        "axis.title": [BROKEN_MATH[k % 3] for k in range(n)],
        "axis.protocol.kind": ["$a$", "$b"] * (n // 2),
        "agreed": pd.array([k % 2 == 0 for k in range(n)], dtype="boolean"),
        "rounds": pd.array([k % 5 + 1 for k in range(n)], dtype="Int64"),
        "reason": ["$x^$ walked out" if k % 2 else "agreement" for k in range(n)],
        "error": [None] * n,
        "utility.$x^$": np.linspace(0, 1, n),
    })
    _render(plots.agreement_heatmap(df, "axis.title", "axis.protocol.kind", MATH))
    _render(plots.agreement_by_axis(df, "axis.title", MATH, by="axis.protocol.kind"))
    _render(plots.utility_at_agreement(df, MATH))
    _render(plots.rounds_to_agreement(df, MATH))
    table = pd.DataFrame({"S1": [0.2, 0.1], "S1_conf": [0.05, 0.05], "ST": [0.3, 0.2], "ST_conf": [0.1, 0.1]},
                         index=["$x^$", "axis $\\frac{$"])
    _render(sensitivity.sensitivity_plot(table, MATH))


def test_the_app_figures_draw_dollar_names_as_text() -> None:
    web = pytest.importorskip("model.app")
    from model.negotiation import Negotiation
    from model.report import History

    m = Negotiation(scenario.parse(small(title=MATH)))
    m.run()
    h = History.from_model(m)
    _render(web.utility_figure(h, 20, ["$x^$", "$\\frac{$"]))
    _render(web.issue_figure(h, 20))


@pytest.mark.slow
def test_a_text_axis_of_dollar_values_plots_and_reports(tmp_path: Path) -> None:
    exp = write_experiment(tmp_path, [{"path": "title", "values": BROKEN_MATH}])
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", str(exp), "--backend", "serial", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["plot", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").stat().st_size > 1000


def _fail_on_save(monkeypatch: pytest.MonkeyPatch, nth: int, exc: BaseException) -> None:
    """The ``nth`` figure saved (1-based) fails with ``exc``."""
    from matplotlib.figure import Figure

    real = Figure.savefig
    calls = [0]

    def savefig(self: Any, fname: Any, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == nth:
            Path(fname).write_bytes(b"half a png")  # a torn write before the fault
            raise exc
        real(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)


@pytest.mark.slow
def test_a_run_that_fails_while_writing_leaves_the_earlier_result_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _scenario(tmp_path / "s.yaml")
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["run", str(f), "--out", str(out), "--seed", "1"]).exit_code == 0
    before = _listing(out)
    _fail_on_save(monkeypatch, 2, OSError(errno.ENOSPC, "No space left on device"))
    r = CliRunner().invoke(main, ["run", str(f), "--out", str(out), "--seed", "2"])
    line = _one_error_line(r)
    assert "No space left on device" in line and str(out) in line
    assert _listing(out) == before  # the old set, untouched; no temp files


@pytest.mark.slow
def test_a_run_that_fails_while_writing_into_a_new_folder_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _scenario(tmp_path / "s.yaml")
    _fail_on_save(monkeypatch, 3, OSError(errno.ENOSPC, "No space left on device"))
    r = CliRunner().invoke(main, ["run", str(f), "--out", str(tmp_path / "out")])
    _one_error_line(r)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.slow
def test_a_new_run_replaces_the_whole_set_of_an_older_one(tmp_path: Path) -> None:
    f = _scenario(tmp_path / "s.yaml")
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["run", str(f), "--out", str(out)]).exit_code == 0
    (out / "events.csv").write_text("round,what\n1,an older run's event\n")
    (out / "notes.txt").write_text("mine")
    assert CliRunner().invoke(main, ["run", str(f), "--out", str(out), "--no-plot"]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "outcome.json", "rounds.csv"]


# --------------------------------------------------------------------------------------------
# D9: control characters never reach the terminal


NASTY = "\x1b]0;PWNED\x07\x1b[2J\x1b[31mRED\x9b1m"


def _no_controls(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0]
    assert not bad, repr(text)


@pytest.mark.slow
def test_control_characters_in_a_title_are_shown_escaped(tmp_path: Path) -> None:
    f = _scenario(tmp_path / "s.yaml", title=NASTY)
    r = _bargain("run", str(f), "--no-plot", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    _no_controls(r.stdout)
    assert "\\x1b]0;PWNED\\x07" in r.stdout and "\\x9b1m" in r.stdout
    j = _bargain("run", str(f), "--no-plot", "--json")
    _no_controls(j.stdout)
    import json

    assert json.loads(j.stdout)["title"] == NASTY


@pytest.mark.slow
def test_control_characters_in_file_names_and_errors_are_shown_escaped(tmp_path: Path) -> None:
    good = _scenario(tmp_path / "ok\x1b[2J.yaml")
    bad = tmp_path / "bad\x1b]0;X\x07.yaml"
    bad.write_text("name: x\n")
    r = _bargain("validate", str(good), str(bad))
    assert r.returncode == 2
    _no_controls(r.stdout + r.stderr)
    assert "ok\\x1b[2J.yaml" in r.stdout and "bad\\x1b]0;X\\x07.yaml" in r.stderr


# --------------------------------------------------------------------------------------------
# D10: files honour the umask


@pytest.mark.slow
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_output_files_honour_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    f = _scenario(tmp_path / "s.yaml")
    old = os.umask(umask)
    try:
        r = CliRunner().invoke(main, ["run", str(f), "--out", str(tmp_path / "out")])
        assert r.exit_code == 0, r.output
        report.write_json(tmp_path / "more" / "x.json", {"a": 1})
    finally:
        os.umask(old)
    files = [*(tmp_path / "out").iterdir(), tmp_path / "more" / "x.json"]
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: mode for p in files}


# --------------------------------------------------------------------------------------------
# D11: faults of the environment are one-line errors with exit 2


@pytest.mark.slow
def test_run_out_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    f = _scenario(tmp_path / "s.yaml")
    (tmp_path / "afile").write_text("x")
    r = _bargain("run", str(f), "--out", str(tmp_path / "afile" / "sub"))
    line = _one_error_line(r)
    assert str(tmp_path / "afile") in line and "Not a directory" in line


def test_a_read_only_output_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(Simulated: the tests may run as root, which writes anywhere.)"""
    f = _scenario(tmp_path / "s.yaml")
    out = tmp_path / "ro"
    out.mkdir()
    real_open = os.open

    def ro_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(str(out)) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", ro_open)
    r = CliRunner().invoke(main, ["run", str(f), "--out", str(out)])
    line = _one_error_line(r)
    assert "Read-only file system" in line and str(out) in line
    assert list(out.iterdir()) == []


@pytest.fixture(scope="module")
def sweep_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sweep")
    exp = write_experiment(d, [{"path": "protocol.max_rounds", "values": [5, 20]}])
    r = CliRunner().invoke(main, ["sweep", str(exp), "--backend", "serial", "--out", str(d / "out")])
    assert r.exit_code == 0, r.output
    return d / "out"


@pytest.mark.slow
def test_plot_and_report_into_an_unwritable_place_are_one_line(sweep_out: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(sweep_out, out)
    (out / "plots").write_text("a file where the plots folder goes")
    line = _one_error_line(CliRunner().invoke(main, ["plot", str(out)]))
    assert str(out / "plots") in line
    (tmp_path / "afile").write_text("x")
    line = _one_error_line(CliRunner().invoke(main, ["report", str(out), "--out", str(tmp_path / "afile" / "r.html")]))
    assert str(tmp_path / "afile") in line and "Not a directory" in line


@pytest.mark.slow
def test_validate_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    line = _one_error_line(_bargain("validate", str(tmp_path / "afile" / "s.yaml")))
    assert str(tmp_path / "afile" / "s.yaml") in line


# --------------------------------------------------------------------------------------------
# D12: short error lines, a capped extends depth, relative base paths


@pytest.mark.slow
def test_megabyte_values_are_cut_in_error_lines(tmp_path: Path) -> None:
    for field, value in (("title", "A" * 1_900_000), ("name", "a" * 1_900_000)):
        f = _scenario(tmp_path / f"{field}.yaml", **{field: value})
        with pytest.raises(InputError) as info:
            scenario.load(f)
        msg = str(info.value)
        assert len(msg) < 600 and "\u2026" in msg and msg.startswith(f"{f}:"), msg[:700]
        assert f" {field}: " in msg
        r = _bargain("validate", str(f))
        assert len(r.stderr) < 700 and r.returncode == 2


def test_long_axis_values_are_cut_in_error_lines(tmp_path: Path) -> None:
    exp = write_experiment(tmp_path, [{"path": "protocol.kind", "values": ["x" * 100_000]}])
    with pytest.raises(InputError) as info:
        exm.load(exp)
    assert len(str(info.value)) < 800 and "\u2026" in str(info.value)


def _chain(folder: Path, n: int) -> Path:
    (folder / "base.yaml").write_text(BASE.read_text())
    for i in range(1, n + 1):
        prev = "base.yaml" if i == 1 else f"chain_{i - 1:04d}.yaml"
        (folder / f"chain_{i:04d}.yaml").write_text(f"extends: {prev}\nseed: {i}\n")
    return folder / f"chain_{n:04d}.yaml"


def test_a_chain_of_extends_within_the_cap_loads(tmp_path: Path) -> None:
    assert scenario.load(_chain(tmp_path, scenario.MAX_EXTENDS_DEPTH)).seed == scenario.MAX_EXTENDS_DEPTH


def test_a_chain_of_extends_past_the_cap_is_one_short_line(tmp_path: Path) -> None:
    top = _chain(tmp_path, 1000)
    r = _bargain("validate", top.name, cwd=tmp_path)
    line = _one_error_line(r)
    assert len(line) < 500, line
    assert line.startswith("error: chain_1000.yaml:1: extends:") and "nested too deeply" not in line
    cap = scenario.MAX_EXTENDS_DEPTH
    assert f"more than {cap}" in line and f"chain_{1000 - cap:04d}.yaml" in line


def test_errors_in_base_files_name_them_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "base.yaml").write_text("name: x\ntitle: [1\n")
    (sub / "variant.yaml").write_text("extends: base.yaml\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as info:
        scenario.load(Path("sub") / "variant.yaml")
    msg = str(info.value)
    assert msg.startswith("sub/variant.yaml:1: extends: its base base.yaml is not valid: sub/base.yaml:")
    assert str(tmp_path) not in msg


# --------------------------------------------------------------------------------------------
# D14: no stale temp files; report writes are synced


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temp_files_of_killed_writers_are_cleaned_on_the_next_write(tmp_path: Path) -> None:
    old = time.time() - 3600
    dead = tmp_path / f".a.png.tmp{_dead_pid()}.x1y2z3"
    legacy = tmp_path / ".utility_at_agreement.png.ab12cd34"  # an earlier version's mkstemp name
    live = tmp_path / f".b.png.tmp{os.getpid()}.q1w2e3"  # a writer that still runs: kept
    young_legacy = tmp_path / ".c.png.zz99yy88"  # maybe still being written: kept
    mine = tmp_path / ".hidden_notes"  # not ours: kept
    for p in (dead, legacy, live, young_legacy, mine):
        p.write_bytes(b"")
    for p in (dead, legacy, live, mine):
        os.utime(p, (old, old))
    report.write_json(tmp_path / "x.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, young_legacy.name, mine.name, "x.json"])


def test_the_html_report_is_synced_before_it_gets_its_name(
    sweep_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model import htmlreport

    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    old = os.umask(0o022)
    try:
        p = htmlreport.write_report(sweep_out, tmp_path / "r.html")
    finally:
        os.umask(old)
    assert synced and stat.S_IMODE(p.stat().st_mode) == 0o644
    assert [q.name for q in tmp_path.iterdir()] == ["r.html"]


# --------------------------------------------------------------------------------------------
# D15


def test_validate_on_an_experiment_without_scenario_reports_that_one_fault() -> None:
    r = _bargain("validate", str((BAD / "experiment_missing_scenario_field.yaml").relative_to(ROOT)))
    line = _one_error_line(r)
    assert line == "error: tests/bad_inputs/experiment_missing_scenario_field.yaml: scenario: missing required field"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_special_files_are_not_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for p in (fifo, Path("/dev/zero")):
        with pytest.raises(InputError) as info:
            yamlio.load_yaml(p)
        assert str(info.value) == f"{p}: not a regular file"
    (tmp_path / "v.yaml").write_text("extends: fifo.yaml\n")
    with pytest.raises(InputError) as info:
        scenario.load(tmp_path / "v.yaml")
    assert "not a regular file" in str(info.value)


def test_files_that_misreport_their_size_are_read_only_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Path("/proc/self/status")  # size 0 in stat, about a kilobyte to read
    if not p.exists():
        pytest.skip("no /proc")
    monkeypatch.setattr(yamlio, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError) as info:
        yamlio.load_yaml(p)
    assert str(info.value) == f"{p}: file is too large (more than 100 bytes; the limit is 100)"


def test_extends_stays_in_the_scenarios_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(scenario.ALLOW_EXTENDS_ENV, raising=False)
    outside = tmp_path / "outside"
    inside = tmp_path / "inside"
    (inside / "deeper").mkdir(parents=True)
    outside.mkdir()
    (outside / "base.yaml").write_text(BASE.read_text())
    (inside / "base.yaml").write_text(BASE.read_text())
    (inside / "deeper" / "v.yaml").write_text("extends: ../base.yaml\n")  # up, but outside its own folder
    (inside / "ok.yaml").write_text("extends: ./base.yaml\n")
    (inside / "dotdot.yaml").write_text("extends: ../outside/base.yaml\n")
    (inside / "abs.yaml").write_text(f"extends: {outside / 'base.yaml'}\n")
    (inside / "link.yaml").symlink_to(outside / "base.yaml")
    (inside / "via_link.yaml").write_text("extends: link.yaml\n")
    (inside / "project.yaml").write_text(f"extends: {ROOT / 'scenarios' / 'belarus_us_2025.yaml'}\n")
    assert scenario.load(inside / "ok.yaml").spec.name == "small"
    assert scenario.load(inside / "project.yaml").spec.name == "belarus_us_2025"
    for name in ("dotdot.yaml", "abs.yaml", "via_link.yaml", "deeper/v.yaml"):
        with pytest.raises(InputError) as info:
            scenario.load(inside / name)
        msg = str(info.value)
        assert msg.startswith(f"{inside / name}:1: extends: ") and "outside the scenario's folder" in msg, msg
        assert scenario.ALLOW_EXTENDS_ENV in msg and "--allow-extends-outside" in msg
    monkeypatch.setenv(scenario.ALLOW_EXTENDS_ENV, "1")
    assert scenario.load(inside / "dotdot.yaml").spec.name == "small"
    monkeypatch.delenv(scenario.ALLOW_EXTENDS_ENV)
    r = CliRunner().invoke(main, ["--allow-extends-outside", "validate", str(inside / "abs.yaml")])
    assert r.exit_code == 0, r.output
    assert os.environ.get(scenario.ALLOW_EXTENDS_ENV) is None or True


def test_keys_of_a_foreign_file_are_not_echoed_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "root:$6$averylongsecrethashvaluethatmustnotleakintologs0123456789abcdef:20228:0:99999:7:::"
    (tmp_path / "shadow").write_text(BASE.read_text() + secret + "\n")  # its one fault: an unknown key
    (tmp_path / "v.yaml").write_text("extends: shadow\n")
    with pytest.raises(InputError) as info:
        scenario.load(tmp_path / "v.yaml")
    assert "unknown field" in str(info.value)
    assert "mustnotleak" not in str(info.value) and "0123456789abcdef" not in str(info.value)


def test_axes_and_variants_may_not_rename_actors_or_issues(tmp_path: Path) -> None:
    for path, values in (("actors.X.id", ["X", "Q"]), ("issues.a.id", ["a", "z"]), ("actors[1].id", ["Y", "W"])):
        exp = write_experiment(tmp_path, [{"path": path, "values": values}])
        with pytest.raises(InputError) as info:
            exm.load(exp)
        assert "changes the ids" in str(info.value) and "axes[0]" in str(info.value), str(info.value)
    exp = write_experiment(tmp_path, [{"path": "actors.X.id", "values": ["X"]}])
    exm.load(exp)  # the same id: no change


@pytest.mark.parametrize("bad", ["abc", float("nan"), float("inf"), -float("inf"), "1e999", [1]])
def test_the_app_refuses_non_numeric_slider_values(bad: Any) -> None:
    web = pytest.importorskip("model.app")
    m = web.AppNegotiation(protocol_max_rounds=bad, protocol_breakdown_risk=bad)
    assert m.max_rounds == 24 and m.errors
    assert any("Deadline (rounds)" in e for e in m.errors), m.errors


@pytest.mark.parametrize("command", [["run", str(BASE), "--no-plot", "--json"],
                                     ["calibrate", str(ROOT / "scenarios" / "belarus_us_2025.yaml"), "--points", "0",
                                      "--seeds", "1", "--backend", "serial"]])
def test_seeds_above_the_scenario_range_are_refused(command: list[str], tmp_path: Path) -> None:
    if command[0] == "calibrate":  # were the seed taken, it would write here only
        command += ["--out", str(tmp_path / "cal"), "--write-variant", str(tmp_path / "fit.yaml")]
    r = CliRunner().invoke(main, [*command, "--seed", str(2**70)])
    assert r.exit_code == 2 and "--seed" in r.output and str(2**63 - 1) in r.output, r.output


def test_the_largest_seed_is_taken() -> None:
    r = CliRunner().invoke(main, ["run", str(BASE), "--no-plot", "--json", "--seed", str(2**63 - 1)])
    assert r.exit_code == 0, r.output


def test_a_manifest_that_is_no_sweeps_is_one_line(sweep_out: Path, tmp_path: Path) -> None:
    import json
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(sweep_out, out)
    mf = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text("[]")
    assert "not a sweep's manifest" in _one_error_line(CliRunner().invoke(main, ["plot", str(out)]))
    (out / "manifest.json").write_text(json.dumps({**mf, "axes": ["protocol.nonexistent"]}))
    assert "protocol.nonexistent" in _one_error_line(CliRunner().invoke(main, ["plot", str(out)]))


def test_bidirectional_overrides_are_shown_escaped() -> None:
    from model.cli import visible

    assert visible("a\u202eb\u2066c\td\ne") == "a\\u202eb\\u2066c\td\ne"
