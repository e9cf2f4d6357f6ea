"""README commands are tests (issue #20, part 6): every ``bargain ...`` command in README.md's shell
blocks (and the recipe of ``make run``) runs, in README order, in a copy of the project's shipped
data, and exits 0; the summary README shows is what the run prints; the Python snippets run; every
install command takes the pins; no command changes a tracked file.

Commands are found by extraction, so sections other people add are covered as they land. Left out:
``bargain app`` (a server that runs until stopped: tests/test_app.py drives it in a browser) and
``make test``/``make test-fast``/``make bench`` (this suite itself, and the benchmarks).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Fenced blocks, also indented ones inside list items: (language, body).
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[a-z]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
#: What the project ships that README commands read, copied with the code, when the checkout's file
#: list (``git ls-files``) is not at hand: the copy is a checkout of its own, so its ``scenarios/``
#: is the project's (``scenario.PROJECT_SCENARIOS``) and nothing tracked in this checkout changes.
SHIPPED = ("model", "scenarios", "experiments", "docs", "benchmarks", "backtest")

#: ``make`` targets whose recipe the test runs in place of ``make TARGET``.
MAKE_RUN = ("run",)
#: Subcommands left out (see the module docstring).
SKIP_SUBCOMMANDS = ("app",)


def blocks(lang: str, text: str | None = None) -> list[tuple[int, str]]:
    """README's fenced blocks of ``lang``: (line where it starts, body without the indent)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    out = []
    for m in FENCE.finditer(text):
        if m["lang"] == lang:
            indent = len(m["indent"])
            body = "\n".join(line[indent:] for line in m["body"].splitlines())
            out.append((text.count("\n", 0, m.start()) + 1, body))
    return out


def command_lines(text: str | None = None) -> list[str]:
    """Every command line of README's ``sh`` blocks, as written (bash drops the trailing comment
    and expands the globs when it runs them)."""
    lines = []
    for _, body in blocks("sh", text):
        for raw in body.splitlines():
            if shlex.split(raw, comments=True):
                lines.append(raw.strip())
    return lines


def make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, with ``$(BIN)`` and ``$(OUT)`` as the Makefile sets them."""
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M)
    assert m, f"no make target {target}"
    return [line.strip().replace("$(BIN)", ".venv/bin").replace("$(OUT)", "results")
            for line in m[1].splitlines()]


def runnable(lines: list[str]) -> list[str]:
    """The commands the test runs: bargain commands (not the skipped ones) and make's run recipe."""
    out = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if words[0] == "make" and len(words) > 1 and words[1] in MAKE_RUN:
            out.extend(make_recipe(words[1]))
        elif words[0].endswith("bargain"):
            sub = next((w for w in words[1:] if not w.startswith("-")), None)
            if sub not in SKIP_SUBCOMMANDS:
                out.append(line)
    return out


def _key_lines(text: str) -> list[str]:
    """The lines of a summary that do not depend on the terminal's width: the headline, the table
    rows (box characters and padding removed) and the Nash lines."""
    out = []
    for line in text.splitlines():
        if line.startswith(("AGREEMENT", "NO AGREEMENT", "Nash")) or line.startswith("│"):
            out.append(" ".join(line.replace("│", " ").split()))
    return out


def test_extraction_finds_indented_blocks_and_drops_comments() -> None:
    text = "a\n\n```sh\nbargain run x.yaml   # a comment\n```\n\n* item\n\n  ```sh\n  bargain plot results/q\n  ```\n"
    assert command_lines(text) == ["bargain run x.yaml   # a comment", "bargain plot results/q"]
    assert runnable(["bargain app my.yaml", "make run", "make test"])[0].startswith(".venv/bin/bargain validate")


def test_every_install_command_uses_the_pins() -> None:
    installs = [c.split("#")[0] for c in command_lines() if re.search(r"\bpip install\b", c)]
    prose = re.findall(r"`([^`]*\bpip install\b[^`]*)`", README.read_text(encoding="utf-8"))
    assert installs, "README has no install command to check"
    for c in installs + prose:
        assert "-c constraints.txt" in c, f"README installs without the pins: {c}"


def tracked_files() -> list[str]:
    """The checkout's tracked files that exist (``git ls-files``), or the ``SHIPPED`` folders' files."""
    try:
        r = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        names = [n for n in r.stdout.split("\0") if n] if r.returncode == 0 else []
    except OSError:
        names = []
    if not names:
        names = [str(p.relative_to(ROOT)) for d in SHIPPED if (ROOT / d).is_dir() for p in (ROOT / d).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
    return [n for n in names if (ROOT / n).is_file()]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout (code and shipped data) with ``.venv/bin/bargain`` and
    ``.venv/bin/python`` that run the copy's code."""
    tmp = tmp_path_factory.mktemp("readme")
    for rel in tracked_files():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tmp / rel)
    shutil.copy(ROOT / "constraints.txt", tmp / "constraints.txt")
    bin_dir = tmp / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, module in (("bargain", "-m model.cli "), ("python", "")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nPYTHONPATH="{tmp}" exec "{sys.executable}" {module}"$@"\n')
        script.chmod(0o755)
    return tmp


def _run(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=1800, env=env)


@pytest.mark.slow
def test_every_readme_command_runs_and_prints_what_readme_shows(project: Path) -> None:
    commands = runnable(command_lines())
    assert any(" sweep " in c for c in commands) and any(" calibrate " in c for c in commands)
    before = {project / rel: (project / rel).read_bytes() for rel in tracked_files()}
    printed = []
    for line in commands:
        r = _run(line, project)
        assert r.returncode == 0, f"README command failed (exit {r.returncode}): {line}\n{r.stdout[-2000:]}\n" \
                                  f"{r.stderr[-2000:]}"
        assert "internal error" not in r.stderr, f"{line}\n{r.stderr[-2000:]}"
        printed.append(r.stdout)
    # the summary README shows (the text block after "prints this summary") is what the run prints
    text = README.read_text(encoding="utf-8")
    shown = [body for start, body in blocks("text") if "prints this" in "\n".join(
        text.splitlines()[max(0, start - 5):start])]
    assert shown, "README shows no printed summary to check"
    said = set(_key_lines("\n".join(printed)))
    for body in shown:
        for key in _key_lines(body):
            assert key in said, f"README shows {key!r}, which no README command printed"
    # no command changes a shipped file (calibrate writes under results/ unless told otherwise)
    changed = [str(p.relative_to(project)) for p, data in before.items() if not p.exists() or p.read_bytes() != data]
    assert not changed, f"README commands changed shipped files: {changed}"


@pytest.mark.slow
def test_the_readme_python_snippets_run(project: Path) -> None:
    for start, body in blocks("python"):
        r = subprocess.run([sys.executable, "-c", body], cwd=project, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(project)})
        assert r.returncode == 0, f"README.md:{start}: the snippet fails:\n{r.stderr[-2000:]}"
