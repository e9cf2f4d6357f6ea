"""``bargain app``: the sidebar's controls, and the app end to end in a real headless browser.

The browser test starts ``bargain app`` on a free port, drives Debian's chromium with Playwright
(``/usr/bin/chromium``; Playwright's own browser download is not used), shortens the deadline,
resets, runs, and checks that the summary and the plots follow. It is skipped only when chromium
or Playwright is missing; ``make test`` installs Playwright and ``.ci/run`` installs chromium.
``UPDATE_APP_SCREENSHOT=1`` also saves the final page as ``docs/img/app.png``. Screenshots of the
run, the per-actor tab and the step-by-step timeline are left in the test's temporary folder
(``APP_SCREENSHOTS=DIR`` keeps them there instead) to be looked at.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a browser drives the app

ROOT = Path(__file__).resolve().parent.parent
#: A newcomer's own scenario (USA-EU-China trade, three parties): nothing in it is the Belarus case's.
TRADE = ROOT / "tests" / "data" / "trade3.yaml"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "docs" / "img" / "app.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def web() -> Any:
    try:
        from model import app
    except ModuleNotFoundError as e:
        pytest.fail(f"bargain app needs the app extra ({e.name} is not installed): pip install -e '.[app]' "
                    "(make test installs it)")
    return app


# --------------------------------------------------------------------------------------------
# the controls (no browser)


def test_controls_come_from_the_schema_and_the_scenario(web: Any) -> None:
    from model.core import STRATEGIES

    sc = web.app_scenario(ROOT / "scenarios" / "belarus_us_2025.yaml")
    settings = {s.path: s for s in sc.settings}
    kinds = settings["protocol.kind"]
    assert kinds.default == "package"
    assert "package" in kinds.options
    assert set(kinds.options) <= set(web.protocol_kinds())
    deadline = settings["protocol.max_rounds"]
    assert (deadline.default, deadline.low, deadline.kind) == (24, 1, "int")  # the schema's lower bound
    risk = settings["protocol.breakdown_risk"]
    assert risk.low == 0.0 and risk.high < 1.0  # the schema: 0 <= risk < 1
    for a in sc.scenario.spec.actors:
        assert settings[f"actors.{a.id}.strategy.name"].options == tuple(STRATEGIES)
        for k, line in enumerate(a.red_lines):  # every red line, named by the issue's label
            label = next(i.label for i in sc.scenario.spec.issues if i.id == line.issue)
            for bound in ("min", "max"):
                if getattr(line, bound) is not None:
                    s = settings[f"actors.{a.id}.red_lines[{k}].{bound}"]
                    assert s.default == getattr(line, bound) and label[:30] in s.label


def test_no_control_is_specific_to_one_case(web: Any) -> None:
    """A three-party trade scenario gets its own actors' and red lines' controls, and none of the
    Belarus case's (the newcomer saw "U.S. delivery reliability" on a trade scenario)."""
    sc = web.app_scenario(TRADE)
    labels = [s.label for s in sc.settings]
    paths = [s.path for s in sc.settings]
    assert {f"actors.{a}.strategy.name" for a in ("USA", "EU", "CHN")} <= set(paths)
    assert "USA red line: US/EU advanced-chip export controls relaxed, at most" in labels
    # (the package protocol's own settings, such as its trust_discount, are every scenario's: not the case's)
    own = [p for p in paths if not p.startswith("protocol.")]
    assert not any("BLR" in p or "trust" in p or "delivery" in p or "collectives" in p for p in own)


def test_every_slider_lies_within_the_schemas_range(web: Any) -> None:
    for f in sorted((ROOT / "scenarios").glob("*.yaml")):
        for s in web.app_scenario(f).settings:
            if s.kind == "choice":
                assert s.default in s.options, (f.name, s.path)
                continue
            assert s.low <= s.default <= s.high, (f.name, s.path)
            for value in (s.low, s.high):  # both ends make a valid scenario
                m = web.AppNegotiation(f, **{s.name: value})
                assert not m.errors, (f.name, s.path, value, m.errors)


def test_a_control_the_schema_does_not_know_is_left_out(web: Any) -> None:
    from model import scenario as scn
    from model.yamlio import load_yaml

    file = str(ROOT / "scenarios" / "belarus_us_2025.yaml")
    data, lines = load_yaml(file)
    base = scn.parse(data, file, lines)
    controls = (
        web.Control("Deadline", "protocol.max_rounds", "int", 1, 50, 1),
        web.Control("Nothing", "actors.BLR.no_such_field", "float"),
        web.Control("No actor", "actors.XYZ.strategy.name", "choice", options=("linear",)),
        web.Control("No list entry", "actors.BLR.red_lines[99].min", "float"),
    )
    bound = web.bind_controls(data, file, lines, base, controls)
    assert [s.path for s in bound] == ["protocol.max_rounds"]


def test_settings_and_the_seed_apply_when_the_model_is_built(web: Any) -> None:
    m = web.AppNegotiation(protocol_max_rounds=6, actors_BLR_strategy_name="linear", seed=11)
    assert m.max_rounds == 6 and m.seed_used == 11
    assert m.config.spec.actors[1].strategy.name == "linear"
    assert m.config.spec.actors[1].strategy.params == {}  # Boulware's exponent does not carry over
    assert not m.errors
    m.run()
    text = web.summary_markdown(m)
    assert re.search(r"(Agreement in round \d+|No agreement \(.+\) after \d+) of 6", text)
    assert "Deadline (rounds): 24 \u2192 6" in text and "seed 11" in text


def test_settings_that_break_the_scenario_fall_back_to_the_file(web: Any) -> None:
    m = web.AppNegotiation(protocol_max_rounds=0)
    assert m.max_rounds == 24
    assert m.errors and "max_rounds" in m.errors[0]
    assert "do not make a valid scenario" in web.summary_markdown(m)


def test_the_picker_lists_every_scenario_and_checks_an_upload(web: Any) -> None:
    choices = web.scenario_choices()
    assert {f.name for f in (ROOT / "scenarios").glob("*.yaml")} <= set(choices)
    path, errors = web.save_upload("trade3.yaml", TRADE.read_bytes())
    assert errors == [] and path is not None and Path(path).name == "trade3.yaml"
    assert "trade3.yaml" in web.scenario_choices([path])
    bad = TRADE.read_text(encoding="utf-8").replace("salience: 0.6", "saliance: 0.6", 1)
    path, errors = web.save_upload("../../bad.yaml", bad.encode())
    assert path is None and len(errors) == 1
    assert re.match(r"bad\.yaml:\d+: actors\[0\]\.issues\.\w+\.saliance: unknown field", errors[0]), errors
    assert web.save_upload("notes.txt", b"x") == (None, ["notes.txt: not a YAML scenario file (.yaml or .yml)"])


def test_the_sweep_view_has_the_heatmap_and_prim_boxes(web: Any, tmp_path: Path) -> None:
    from model import experiment as exm
    from model import results
    from model.sweep import Sweep, executor
    from tests.factories import write_experiment

    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [2, 4, 30]},
                                    {"path": "actors.X.reservation", "values": [0.0, 0.5]}], replicates=4)
    sw = Sweep(exm.load(f), tmp_path / "out")
    with executor("serial", 1) as pool:
        sw.run(pool)
    view = web.sweep_view(tmp_path / "out")
    df = results.load(tmp_path / "out")
    assert view.heatmap is not None and view.heatmap.startswith(b"\x89PNG")
    assert f"{len(df)} runs" in view.text
    for sentence, png in view.boxes:
        assert sentence[0].isdigit() and png.startswith(b"\x89PNG")
    assert web.results_folders([tmp_path]) == [str((tmp_path / "out").resolve())]
    with pytest.raises(ValueError, match="no readable manifest"):
        web.sweep_view(tmp_path)


# --------------------------------------------------------------------------------------------
# the app in a browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _browser_missing() -> str | None:
    """Why the browser test cannot run here, if it cannot."""
    if not CHROMIUM.exists():
        return f"no chromium at {CHROMIUM} (.ci/run installs it: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (the dev extra has it: pip install -e '.[dev,app]')"
    return None


@pytest.fixture(scope="module", autouse=True)
def _app_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str, Path] | None]:
    """``bargain app`` on a free localhost port, as a user starts it. Started before the module's first
    test, so that it boots while the others run; always stopped afterwards."""
    if _browser_missing():
        yield None
        return
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    # the checkout's code (the working folder comes first on the path), as `bargain app` runs it
    cmd = [sys.executable, "-m", "model.cli", "app", "--port", str(port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    env.pop("BARGAIN_APP_SCENARIO", None)  # the default scenario
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc, f"http://127.0.0.1:{port}/", log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server(_app_process: tuple[subprocess.Popen, str, Path] | None) -> str:
    """The app's address, once it answers."""
    if _app_process is None:
        pytest.skip(_browser_missing() or "no browser")
    proc, url, log = _app_process
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"bargain app exited with status {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as r:
            if r.status == 200:
                return url
        if time.monotonic() > deadline:
            pytest.fail(f"bargain app did not answer at {url} within 60 s:\n{log.read_text()}")
        time.sleep(0.3)


def test_app_in_the_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # a shared, loaded machine redraws slowly
    shots = Path(os.environ.get("APP_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(server)
            summary = page.locator(".bargain-summary")
            expect(summary).to_contain_text("Round 0 of 24", timeout=45_000)
            for name in ("Run", "Per actor", "Per issue", "All actors' utility", "Sweep results"):  # named tabs
                expect(page.get_by_role("tab", name=name)).to_be_visible()
            expect(page.get_by_text("Page 0")).to_have_count(0)
            utilities = page.locator(".bargain-utilities img")
            issues = page.locator(".bargain-issues img")
            before = (utilities.get_attribute("src"), issues.get_attribute("src"))

            # the deadline slider shows its value; 24 -> 8 rounds, applied on reset
            control = page.locator(".bargain-control", has_text="Deadline (rounds)")
            expect(control).to_contain_text("Deadline (rounds): 24")
            deadline = control.locator("[role=slider]")
            expect(deadline).to_have_attribute("aria-valuenow", "24")
            deadline.focus()
            for _ in range(16):
                deadline.press("ArrowLeft")
            expect(deadline).to_have_attribute("aria-valuenow", "8")
            expect(control).to_contain_text("Deadline (rounds): 8")
            page.get_by_label("Seed (empty: the scenario's own)").fill("5")
            page.get_by_role("button", name="Reset").click()
            expect(summary).to_contain_text("Round 0 of 8")
            expect(summary).to_contain_text("Deadline (rounds): 24 \u2192 8")
            expect(summary).to_contain_text("seed 5")

            page.get_by_role("button", name="Step").click()
            expect(summary).to_contain_text("Round 1 of 8")
            page.get_by_role("button", name="\u25b6").click()  # run to the end
            expect(summary).to_contain_text(
                re.compile(r"Agreement in round \d+ of 8|No agreement \(.+\) after \d+ of 8 rounds"), timeout=45_000)
            text = summary.inner_text()
            rounds = int(re.search(r"rounds: (\d+)", text).group(1))  # type: ignore[union-attr]
            assert 1 <= rounds <= 8
            assert "reason:" in text and "Outcome:" in text
            if "No agreement" in text:
                assert "Blocked by" in text
            page.wait_for_timeout(500)  # the last round's images
            after = (utilities.get_attribute("src"), issues.get_attribute("src"))
            assert after[0] != before[0], "the utility plot did not change"
            assert after[1] != before[1], "the issue plot did not change"
            _readable(page.locator(".bargain-utilities img"))
            page.screenshot(path=str(shots / "app.png"))
            if os.environ.get("UPDATE_APP_SCREENSHOT"):
                page.screenshot(path=str(SCREENSHOT))

            page.get_by_role("tab", name="Per actor").click()
            _readable(page.locator(".bargain-actors img"))
            page.wait_for_timeout(1000)  # the tab's slide
            page.screenshot(path=str(shots / "app_per_actor.png"))

            # another scenario from the picker: a step-by-step one gets its timeline tab
            page.locator(".bargain-scenario .v-select__selections").first.click()
            page.get_by_role("option", name="belarus_stepwise.yaml").click()
            expect(page.get_by_role("tab", name="Step by step")).to_be_visible()
            page.get_by_role("tab", name="Run").click()
            expect(summary).to_contain_text("protocol incremental", timeout=45_000)
            expect(page.locator(".bargain-control", has_text="BLR: prior trust")).to_be_visible()
            page.get_by_role("button", name="\u25b6").click()
            expect(summary).to_contain_text("Outcome:", timeout=45_000)
            page.get_by_role("tab", name="Step by step").click()
            _readable(page.locator(".bargain-timeline img"))
            page.wait_for_timeout(1000)  # the tab's slide
            page.screenshot(path=str(shots / "app_timeline.png"))
        finally:
            browser.close()


def _readable(img: Any) -> None:
    """A figure is shown at least 600 px wide (a readable size), not shrunk to a thumbnail."""
    from playwright.sync_api import expect

    expect(img).to_be_visible(timeout=45_000)
    box = img.bounding_box()
    assert box is not None and box["width"] >= 600, box


def test_the_typed_seed_is_a_whole_number_or_the_scenarios_own(web: Any) -> None:
    assert web.seed_value("5") == 5 and web.seed_value(" 42 ") == 42
    assert web.seed_value("") is None and web.seed_value("-1") is None and web.seed_value("1.5") is None
    assert web.seed_value(str(2**63)) is None and web.seed_value(str(2**63 - 1)) == 2**63 - 1
