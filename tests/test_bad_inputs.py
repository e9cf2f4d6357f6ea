"""The corpus of bad input files in ``tests/bad_inputs/``: for every file, the loader raises ``InputError``
with the one-line message stored beside it (``NAME.expected``), and the real command line (``bargain
validate`` for scenarios, ``bargain sweep`` for experiments, run in-process) exits 2, prints ``error:``
lines and no traceback, and writes nothing. Also: a file over the size limit, ``--debug``, and red lines of
different parties that leave no package (a warning, not an input error).

The loaders run from the repository's root with the files' relative paths, so the messages read
exactly as ``bargain`` prints them there (see ``tests/bad_inputs/README.md``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from model import experiment as exm
from model import scenario as scn
from model import yamlio
from model.cli import main
from model.errors import InputError
from model.negotiation import Negotiation

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "bad_inputs"
REL = BAD.relative_to(ROOT)
FILES = sorted(f for f in BAD.glob("*.yaml") if f.name.startswith(("scenario_", "experiment_")))
BARGAIN = str(Path(sys.executable).parent / "bargain")
NO_ZONE = REL / "valid_no_zone_of_agreement.yaml"


def is_scenario(f: Path) -> bool:
    return f.name.startswith("scenario_")


def expected(f: Path) -> str:
    return f.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")


def matches(message: str, pattern: str) -> bool:
    """``message`` is ``pattern``, where each ``...`` in the pattern stands for any text."""
    pieces = pattern.split("...")
    if not message.startswith(pieces[0]):
        return False
    pos = len(pieces[0])
    for piece in pieces[1:]:
        k = message.find(piece, pos)
        if k < 0:
            return False
        pos = k + len(piece)
    return pos == len(message) or (len(pieces) > 1 and message.endswith(pieces[-1]))


def ids(files: list[Path]) -> list[str]:
    return [f.stem for f in files]


# --------------------------------------------------------------------------------------------
# the corpus itself


def test_the_corpus_has_enough_files_of_both_kinds_each_with_its_expected_message() -> None:
    scenarios = [f for f in FILES if is_scenario(f)]
    experiments = [f for f in FILES if not is_scenario(f)]
    assert len(FILES) >= 40 and len(scenarios) >= 20 and len(experiments) >= 15, (len(scenarios), len(experiments))
    for f in FILES:
        text = expected(f)
        assert text and "\n" not in text, f
        # the file's own name; an experiment whose base scenario is bad names that scenario (a file here)
        named = text.split(".yaml", 1)[0] + ".yaml"
        assert named == str(REL / f.name) or (not is_scenario(f) and Path(ROOT / named) in FILES), text
    stray = {p.stem for p in BAD.glob("*.expected")} - {f.stem for f in FILES}
    assert not stray, f"expected messages without a file: {sorted(stray)}"
    others = {p.name for p in BAD.iterdir()} - {g.name for f in FILES for g in (f, f.with_suffix(".expected"))}
    assert others == {"README.md", "valid_base_scenario.yaml", "valid_no_zone_of_agreement.yaml"}, others


def test_the_valid_files_beside_the_bad_ones_are_valid() -> None:
    assert scn.load(BAD / "valid_base_scenario.yaml").problem.actor_ids == ("X", "Y")
    assert not scn.load(BAD / "valid_no_zone_of_agreement.yaml").problem.boxes


def test_the_matcher() -> None:
    assert matches("f:4: x: a or b (got 'c')", "f:4: x: a or b (got 'c')")
    assert not matches("f:4: x: a or b (got 'c') and more", "f:4: x: a or b (got 'c')")
    assert matches("f:4: x: 'a', 'b', 'c' or 'd' (got 'e')", "f:4: x: 'a', ... (got 'e')")
    assert not matches("f:4: x: 'a', 'b' (got 'f')", "f:4: x: 'a', ... (got 'e')")


# --------------------------------------------------------------------------------------------
# the loaders


@pytest.mark.parametrize("f", FILES, ids=ids(FILES))
def test_the_loader_raises_input_error_with_the_expected_line(f: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    loader = scn.load if is_scenario(f) else exm.load
    with pytest.raises(InputError) as info:
        loader(REL / f.name)
    e = info.value
    msg = str(e)
    assert "\n" not in msg and "\r" not in msg, repr(msg)
    assert all("\n" not in ln for ln in e.lines())
    assert msg.startswith(e.lines()[0])
    assert matches(e.lines()[0], expected(f)), f"\n got:      {e.lines()[0]}\n expected: {expected(f)}"


@pytest.mark.parametrize(("source", "problem"), [
    ({"titl": "x"}, "sources.W1.titl: unknown field (did you mean 'title'?)"),
    ({"title": ["x"]}, "sources.W1.title: input should be a valid string (got a list)"),
    ({"date": {"y": 2025}}, "sources.W1.date: input should be a valid date (got a mapping)"),
    (5, "sources.W1: input should be a mapping of key: value pairs (got 5)"),
])
def test_union_alternatives_never_show_as_field_names(source: object, problem: str) -> None:
    """``sources`` entries are a mapping or text: pydantic's labels for the two (``SourceSpec``, ``str``)
    are not fields, and the alternative that does not fit a mapping is not a second problem."""
    from tests.factories import small

    with pytest.raises(InputError) as info:
        scn.parse(small(sources={"W1": source}))
    assert info.value.lines() == [f"<memory>: {problem}"]


# --------------------------------------------------------------------------------------------
# the command line, on every file (in-process, through click's runner: a fresh process per file
# checks nothing more, and cost a minute and a half; the tests below still start the real `bargain`)


Ran = tuple[Result, list[str]]  # what the command did, and what it left in its folder


def _run_cli(f: Path, tmp: Path) -> Ran:
    args = ["validate", str(REL / f.name)] if is_scenario(f) else [
        "sweep", str(REL / f.name), "--backend", "serial", "--out", str(tmp / "out")]
    r = CliRunner().invoke(main, args)
    return r, sorted(p.name for p in tmp.iterdir())


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Ran]:
    before = _digest(BAD)
    tmps = {f: tmp_path_factory.mktemp(f.stem) for f in FILES}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        out = {f: _run_cli(f, tmps[f]) for f in FILES}
    assert _digest(BAD) == before, "running the command line changed or added files in tests/bad_inputs"
    return out


@pytest.mark.parametrize("f", FILES, ids=ids(FILES))
def test_the_command_line_exits_2_with_error_lines_and_writes_nothing(
    f: Path, cli_results: dict[Path, Ran]
) -> None:
    r, written = cli_results[f]
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr, r.exception)
    assert isinstance(r.exception, SystemExit), r.exception  # an exit, not an escaped exception
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    assert "internal error" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert lines and all(ln.startswith("error: ") for ln in lines), r.stderr
    first = lines[0].removeprefix("error: ")
    assert matches(first, expected(f)), f"\n got:      {first}\n expected: {expected(f)}"
    assert written == [], f"wrote {written} although the input is bad"


# --------------------------------------------------------------------------------------------
# a file over the size limit (made here: megabytes are not kept in the repository)


def _huge(path: Path, head: str) -> Path:
    padding = "# " + "x" * 98 + "\n"
    n = yamlio.MAX_FILE_BYTES // len(padding) + 1
    path.write_text(head + padding * n, encoding="utf-8")
    assert path.stat().st_size > yamlio.MAX_FILE_BYTES
    return path


@pytest.mark.slow
def test_huge_files_are_refused_before_reading(tmp_path: Path) -> None:
    base = (BAD / "valid_base_scenario.yaml").read_text(encoding="utf-8")
    sc = _huge(tmp_path / "huge_scenario.yaml", base)
    exp = _huge(tmp_path / "huge_experiment.yaml", f"name: huge\nscenario: {BAD / 'valid_base_scenario.yaml'}\n"
                "design: {kind: grid}\naxes:\n  - path: protocol.max_rounds\n    values: [5, 10]\n")
    limit = f"the limit is {yamlio.MAX_FILE_BYTES:,})"
    for f, loader in ((sc, scn.load), (exp, exm.load)):
        with pytest.raises(InputError) as info:
            loader(f)
        size = f.stat().st_size
        assert str(info.value) == f"{f}: file is too large ({size:,} bytes; {limit}"
    out = tmp_path / "out"
    for cmd in ([BARGAIN, "validate", str(sc)], [BARGAIN, "sweep", str(exp), "--out", str(out)]):
        r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith("error: ") and "file is too large" in r.stderr and limit in r.stderr
        assert len(r.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge_experiment.yaml", "huge_scenario.yaml"]


# --------------------------------------------------------------------------------------------
# --debug: tracebacks for developers, never for users


@pytest.mark.slow
def test_sweep_with_debug_shows_the_traceback_and_without_it_none(tmp_path: Path) -> None:
    f = str(REL / "experiment_unknown_path.yaml")
    plain = subprocess.run([BARGAIN, "sweep", f, "--out", str(tmp_path / "a")], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    debug = subprocess.run([BARGAIN, "--debug", "sweep", f, "--out", str(tmp_path / "b")], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert "model.errors.InputError" in debug.stderr and "points nowhere" in debug.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_validate_with_debug_shows_the_traceback() -> None:
    """(`validate` goes on to the next file after a bad one, so it handles InputError itself.)"""
    f = str(REL / "scenario_salience_too_high.yaml")
    plain = subprocess.run([BARGAIN, "validate", f], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = subprocess.run([BARGAIN, "--debug", "validate", f], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert "Traceback (most recent call last)" in debug.stderr, debug.stderr


# --------------------------------------------------------------------------------------------
# red lines of different parties that leave no package: valid input, a warning, talks that end at once


def test_validate_warns_when_no_package_satisfies_every_party() -> None:
    r = subprocess.run([BARGAIN, "validate", str(NO_ZONE)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"ok {NO_ZONE}:")
    assert "warning: no package satisfies every party's red lines: X needs a >= 0.3 but Y allows at most 0.2" \
        in r.stdout
    assert r.stderr == ""


def test_a_run_without_a_zone_of_agreement_ends_at_once_naming_the_actors() -> None:
    m = Negotiation(scn.load(BAD / NO_ZONE.name))
    o = m.run()
    assert (o.agreed, o.reason, o.rounds, o.package) == (False, "no zone of agreement", 0, None)
    assert "X needs a >= 0.3" in o.explanation and "Y allows at most 0.2" in o.explanation


@pytest.mark.slow
def test_bargain_run_without_a_zone_of_agreement_reports_it(tmp_path: Path) -> None:
    r = subprocess.run([BARGAIN, "run", str(NO_ZONE), "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["agreed"], s["reason"], s["rounds"]) == (False, "no zone of agreement", 0)
    assert "X needs a >= 0.3" in s["explanation"] and "Y allows at most 0.2" in s["explanation"]
    r = subprocess.run([BARGAIN, "run", str(NO_ZONE), "--out", str(tmp_path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "NO AGREEMENT" in r.stdout and "X needs a >= 0.3" in r.stdout, r.stderr
