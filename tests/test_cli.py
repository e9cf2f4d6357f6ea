"""The command line, end to end: the baseline scenario through `bargain run` and `validate`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from model import scenario
from model.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "belarus_us_2025.yaml"


@pytest.mark.slow
def test_bargain_run_on_the_baseline_prints_a_summary_and_writes_its_outputs(tmp_path: Path) -> None:
    out = tmp_path / "baseline"
    r = CliRunner().invoke(main, ["run", str(BASELINE), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "AGREEMENT" in r.output  # "AGREEMENT" or "NO AGREEMENT"
    assert "Actors" in r.output and "BLR" in r.output and "USA" in r.output
    outcome = json.loads((out / "outcome.json").read_text())
    assert outcome["scenario"] == "belarus_us_2025"
    assert set(outcome["actors"]) >= {"USA", "BLR", "RUS", "LTU", "POL", "EU"}
    assert len(outcome["scenario_sha256"]) == 64
    if outcome["agreed"]:
        pkg = outcome["package"]
        assert pkg["russia_alignment"]["value"] <= 0.15 + 1e-9  # Minsk's and Moscow's red lines hold
        assert pkg["china_ties"]["value"] <= 0.10 + 1e-9
        assert all(a["above_reservation"] for a in outcome["actors"].values())
    else:
        assert outcome["blocked_by"] or outcome["reason"] == "no zone of agreement"
    rows = (out / "rounds.csv").read_text().splitlines()
    assert rows[0].startswith("round,proposer,actor,aspiration,offer_utility")
    assert len(rows) == 1 + outcome["rounds"] * len(outcome["actors"])
    png = (out / "trajectory.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


@pytest.mark.slow
def test_same_scenario_and_seed_give_identical_files(tmp_path: Path) -> None:
    for d in ("a", "b"):
        r = CliRunner().invoke(main, ["run", str(BASELINE), "--seed", "7", "--out", str(tmp_path / d), "--no-plot"])
        assert r.exit_code == 0, r.output
    for f in ("outcome.json", "rounds.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert json.loads((tmp_path / "a" / "outcome.json").read_text())["seed"] == 7


def test_run_json_prints_the_outcome_as_data() -> None:
    r = CliRunner().invoke(main, ["run", str(BASELINE), "--json", "--no-plot"])
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert data["scenario"] == "belarus_us_2025" and isinstance(data["agreed"], bool)


@pytest.mark.slow
def test_every_shipped_scenario_validates() -> None:
    files = sorted(str(p) for p in (ROOT / "scenarios").glob("*.yaml"))
    assert files
    r = CliRunner().invoke(main, ["validate", *files])
    assert r.exit_code == 0, r.output
    assert r.output.count("ok ") == len(files)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml")))
def test_every_shipped_scenario_runs_and_writes_its_figures(name: str, tmp_path: Path) -> None:
    """``bargain run`` end to end on every shipped file: whatever its protocol logs, the summary,
    tables and figures are written, and no internal error."""
    r = CliRunner().invoke(main, ["run", str(ROOT / "scenarios" / f"{name}.yaml"), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "internal error" not in r.output
    assert (tmp_path / "outcome.json").exists() and any(tmp_path.glob("*.png"))


@pytest.mark.slow
def test_the_installed_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "bargain"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    r = subprocess.run([str(exe), "run", str(BASELINE), "--out", str(tmp_path)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert (tmp_path / "outcome.json").exists()


# ---------------------------------------------------------------------------- the baseline's content


def test_baseline_covers_the_actors_issues_and_red_lines_of_the_brief() -> None:
    sc = scenario.load(BASELINE)
    spec = sc.spec
    ids = {a.id for a in spec.actors}
    assert ids >= {"USA", "BLR", "RUS", "LTU", "POL", "EU"}
    issues = {i.id for i in spec.issues}
    assert len(issues) >= 10
    assert issues >= {
        "prisoner_releases", "us_sanctions_belavia", "us_sanctions_potash", "us_sanctions_banks", "us_embassy",
        "envoy_moscow_channel", "non_interference", "russia_alignment", "china_ties", "eu_sanctions",
        "lithuania_apology",
    }
    blr = next(a for a in spec.actors if a.id == "BLR")
    lines = {(r.issue, r.min, r.max) for r in blr.red_lines}
    assert ("russia_alignment", None, 0.2) in lines
    assert ("china_ties", None, 0.1) in lines


def test_every_number_in_the_baseline_cites_a_source() -> None:
    spec = scenario.load(BASELINE).spec
    for iss in spec.issues:
        assert iss.source, f"issue {iss.id} has no source"
    for a in spec.actors:
        assert a.source, f"actor {a.id} has no source"
        for iid, st in a.issues.items():
            assert st.source, f"{a.id}.{iid} has no source"
        for k, rl in enumerate(a.red_lines):
            assert rl.source, f"{a.id}.red_lines[{k}] has no source"
    assert {"S1", "S2"} <= set(spec.sources)


# ---------------------------------------------------------------------------- the README


def _readme_blocks(lang: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_the_readme_summary_is_what_bargain_run_prints_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # the README shows a 100-column terminal
    shown = _readme_blocks("text")[0]
    r = CliRunner().invoke(main, ["run", str(BASELINE), "--no-plot"], terminal_width=100)
    assert r.exit_code == 0
    actual = r.output
    for key in ("AGREEMENT after", "NO AGREEMENT after", "Nash product"):
        lines = [ln.strip() for ln in shown.splitlines() if ln.startswith(key)]
        for ln in lines:
            assert ln in actual, f"README shows {ln!r} but bargain run prints something else: regenerate it"
    def cells(text: str) -> list[tuple[str, ...]]:  # table rows as cell tuples, whatever the width
        return [tuple(c.strip() for c in ln.strip("│ ").split("│")) for ln in text.splitlines() if ln.startswith("│")]

    assert cells(shown) and cells(shown) == cells(actual)


def test_the_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    code = _readme_blocks("python")[0]
    exec(compile(textwrap.dedent(code), "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert printed[0] in ("True", "False") and printed[1].isdigit()


def test_the_readme_batch_example_runs_and_prints_the_peer_case(capsys: pytest.CaptureFixture[str]) -> None:
    """The random-domain example: every 2-party peer domain agrees, after 24 rounds of both
    parties' turns on average (PEER_CASE.md reports the same for NegMAS)."""
    code = _readme_blocks("python")[1]
    exec(compile(textwrap.dedent(code), "README.md", "exec"), {})
    share, offers = (float(x) for x in capsys.readouterr().out.split())
    assert share == 1.0 and 46 <= offers <= 50
