"""``bargain app``: the sidebar's controls, and the app end to end in a real headless browser.

The browser test starts ``bargain app`` on a free port, drives Debian's chromium with Playwright
(``/usr/bin/chromium``; Playwright's own browser download is not used), shortens the deadline,
resets, runs, and checks that the summary and the plots follow. It is skipped only when chromium
or Playwright is missing; ``make test`` installs Playwright and ``.ci/run`` installs chromium.
``UPDATE_APP_SCREENSHOT=1`` also saves the final page as ``docs/img/app.png``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
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

    settings = {s.path: s for s in web.app_scenario(ROOT / "scenarios" / "belarus_us_2025.yaml").settings}
    kinds = settings["protocol.kind"]
    assert kinds.default == "package"
    assert "package" in kinds.options
    assert set(kinds.options) <= set(web.protocol_kinds())
    assert settings["protocol.max_rounds"].default == 24
    for actor in ("USA", "BLR", "RUS", "LTU", "POL", "EU"):
        assert settings[f"actors.{actor}.strategy.name"].options == tuple(STRATEGIES)


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
    assert bound[0].user_param()["type"] == "SliderInt"


def test_settings_apply_when_the_model_is_built(web: Any) -> None:
    m = web.AppNegotiation(protocol_max_rounds=6, actors_BLR_strategy_name="linear")
    assert m.max_rounds == 6
    assert m.config.spec.actors[1].strategy.name == "linear"
    assert m.config.spec.actors[1].strategy.params == {}  # Boulware's exponent does not carry over
    assert not m.errors
    m.run()
    text = web.summary_markdown(m)
    assert re.search(r"(Agreement in round \d+|No agreement \(.+\) after \d+) of 6", text)
    assert "Deadline (rounds): 24 \u2192 6" in text


def test_settings_that_break_the_scenario_fall_back_to_the_file(web: Any) -> None:
    m = web.AppNegotiation(protocol_max_rounds=0)
    assert m.max_rounds == 24
    assert m.errors and "max_rounds" in m.errors[0]
    assert "do not make a valid scenario" in web.summary_markdown(m)


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
    exe = Path(sys.executable).with_name("bargain")
    cmd = [str(exe) if exe.exists() else shutil.which("bargain") or "bargain", "app", "--port", str(port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(server)
            summary = page.locator(".bargain-summary")
            expect(summary).to_contain_text("Round 0 of 24", timeout=45_000)
            utilities = page.locator(".bargain-utilities img")
            issues = page.locator(".bargain-issues img")
            before = (utilities.get_attribute("src"), issues.get_attribute("src"))

            # the deadline slider: 24 -> 8 rounds, applied on reset
            deadline = page.locator(".v-input", has_text="Deadline (rounds)").locator("[role=slider]")
            expect(deadline).to_have_attribute("aria-valuenow", "24")
            deadline.focus()
            for _ in range(16):
                deadline.press("ArrowLeft")
            expect(deadline).to_have_attribute("aria-valuenow", "8")
            page.get_by_role("button", name="Reset").click()
            expect(summary).to_contain_text("Round 0 of 8")
            expect(summary).to_contain_text("Deadline (rounds): 24 \u2192 8")

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
            page.screenshot(path=str(tmp_path / "app.png"))
            if os.environ.get("UPDATE_APP_SCREENSHOT"):
                page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
