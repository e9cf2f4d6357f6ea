"""Bad experiment files, one mistake each: every one must give an ``InputError`` whose one-line message
names the experiment file, the YAML line (where there is one), the field path and what is wrong; the
``bargain sweep`` command must print those lines, exit 2, never show a traceback and write nothing.

Each case is a YAML file written to ``tmp_path`` (so the line numbers are the real ones) whose
``scenario:`` is the baseline scenario's absolute path (the word SCENARIO in the texts below).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from model import experiment as exm
from model.cli import main
from model.errors import InputError

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "belarus_us_2025.yaml"

# the cases below rely on the line numbers of these texts: do not change them
HEAD = """\
name: t
scenario: SCENARIO
design: {kind: grid}
"""  # lines 1-3
AXES = """\
axes:
  - path: protocol.max_rounds
    values: [6, 12]
"""  # lines 4-6


def design(kind: str, rest: str = "") -> str:
    """The header with another design (lines 1-3; ``rest`` adds lines after line 3)."""
    return HEAD.replace("design: {kind: grid}\n", f"design: {kind}\n" + rest)


def axis(path: str, *lines: str) -> str:
    """A header and one axis: ``- path:`` on line 5, ``lines`` from line 6."""
    return HEAD + "axes:\n" + f"  - path: {path}\n" + "".join(f"    {ln}\n" for ln in lines)


def case(name: str, text: str, field: str, line: int | None, *words: str) -> pytest.param:
    return pytest.param(text, field, line, words, id=name)


CASES = [
    # --- the file as a whole
    case("not-yaml", "name: [t\n", "", 2, "not valid YAML", "expected ',' or ']'"),
    case("empty-file", "", "", None, "the file is empty"),
    case("top-level-list", "- name: t\n- axes: []\n", "", None, "expected a mapping of fields", "found a list"),
    case("top-level-text", "just some words\n", "", None, "expected a mapping of fields", "found text"),
    # --- required and unknown fields
    case("missing-name", HEAD.replace("name: t\n", "") + AXES, "name", None, "missing required field"),
    case("missing-scenario", HEAD.replace("scenario: SCENARIO\n", "") + AXES, "scenario", None,
         "missing required field"),
    case("missing-design", HEAD.replace("design: {kind: grid}\n", "") + AXES, "design", None,
         "missing required field"),
    case("missing-axes", HEAD, "axes", None, "missing required field"),
    case("no-axes", HEAD + "axes: []\n", "axes", 4, "at least 1 item"),
    case("typo-top-level", HEAD + AXES + "replicate: 3\n", "replicate", 7, "unknown field",
         "(did you mean 'replicates'?)"),
    case("typo-in-axis", axis("protocol.max_rounds", "value: [6, 12]"), "axes[0].value", 6, "unknown field",
         "(did you mean 'values'?)"),
    case("typo-in-design", design("{kind: lhs, sample: 8}") + AXES, "design.sample", 3, "unknown field",
         "(did you mean 'samples'?)"),
    case("unknown-field-lists-allowed", HEAD + AXES + "colour: red\n", "colour", 7, "unknown field",
         "allowed: axes, chunk_size, description, design, levers, name, replicates, scenario, seed, uncertainties"),
    case("bad-name", HEAD.replace("name: t", "name: my experiment") + AXES, "name", 1,
         "must be a name: a letter, then letters, digits, _ or -", "(got 'my experiment')"),
    case("scenario-missing", HEAD.replace("SCENARIO", "no_such_scenario.yaml") + AXES, "scenario", 2,
         "no scenario file at", "no_such_scenario.yaml", "relative path starts at the experiment's folder"),
    # --- design
    case("unknown-design-kind", design("{kind: factorial}") + AXES, "design.kind", 3,
         "'grid', 'lhs', 'sobol', 'morris' or 'list'", "(got 'factorial')"),
    case("design-not-a-mapping", design("grid") + AXES, "design", 3, "mapping", "(got 'grid')"),
    case("lhs-without-samples", design("{kind: lhs}") + AXES, "design", 3, "an lhs design needs samples"),
    case("sobol-without-samples", design("{kind: sobol}") + AXES, "design", 3, "a sobol design needs samples"),
    case("samples-zero", design("{kind: lhs, samples: 0}") + AXES, "design.samples", 3,
         "greater than or equal to 1", "(got 0)"),
    case("list-without-points", design("{kind: list}") + AXES, "design", 3, "a list design needs points"),
    case("list-point-missing-axis",
         design("", "  kind: list\n  points:\n    - {protocol.max_rounds: 6}\n    - {}\n") + AXES,
         "design.points[1]", 7, "no value for protocol.max_rounds"),
    case("list-point-names-non-axis",
         design("", "  kind: list\n  points:\n    - {protocol.max_rounds: 6, protocol.discount: 0.9}\n") + AXES,
         "design.points[0]", 6, "protocol.discount is not an axis"),
    case("list-point-rejected",
         design("", "  kind: list\n  points:\n    - {protocol.max_rounds: 6}\n    - {protocol.max_rounds: 0}\n")
         + AXES, "design.points[1]", 7, "rejected by the scenario: protocol.max_rounds",
         "greater than or equal to 1 (got 0)"),
    case("list-point-value-is-a-list",
         design("", "  kind: list\n  points:\n    - {protocol.max_rounds: [6]}\n") + AXES,
         "design.points[0].protocol.max_rounds", 6, "a value must be a number, text or true/false, not a list"),
    case("points-for-a-grid", design("", "  kind: grid\n  points:\n    - {protocol.max_rounds: 6}\n") + AXES,
         "design.points", 5, "points are only for a list design, not grid"),
    # --- axes: values, ranges, steps
    case("values-and-range", axis("protocol.discount", "values: [0.9]", "range: [0.5, 0.9]"), "axes[0]", 5,
         "exactly one of values or range"),
    case("neither-values-nor-range", axis("protocol.discount"), "axes[0]", 5, "exactly one of values or range"),
    case("range-high-to-low", axis("protocol.discount", "range: [0.9, 0.5]", "steps: 3"), "axes[0].range", 6,
         "range must go from low to high", "[0.9, 0.5]"),
    case("range-empty", axis("protocol.discount", "range: [0.5, 0.5]", "steps: 3"), "axes[0].range", 6,
         "range must go from low to high"),
    case("range-three-numbers", axis("protocol.discount", "range: [0.1, 0.5, 0.9]", "steps: 3"),
         "axes[0].range", 6, "at most 2 items"),
    case("range-in-grid-without-steps", axis("protocol.discount", "range: [0.5, 0.9]"), "axes[0]", 5,
         "a range axis in a grid design needs steps"),
    case("steps-below-2", axis("protocol.discount", "range: [0.5, 0.9]", "steps: 1"), "axes[0].steps", 7,
         "greater than or equal to 2", "(got 1)"),
    case("mixed-value-types", axis("protocol.max_rounds", "values: [6, twelve]"), "axes[0].values", 6,
         "values must all be numbers, all text or all true/false"),
    case("number-and-boolean", axis("protocol.max_rounds", "values: [6, true]"), "axes[0].values", 6,
         "values must all be numbers, all text or all true/false"),
    case("value-is-a-mapping", axis("protocol.max_rounds", "values: [{rounds: 6}]"), "axes[0].values[0]", 6,
         "a value must be a number, text or true/false, not a mapping"),
    case("no-values", axis("protocol.max_rounds", "values: []"), "axes[0].values", 6, "at least 1 item"),
    case("duplicate-axis", HEAD + AXES + "  - path: protocol.max_rounds\n    values: [24]\n", "axes[1].path", 7,
         "'protocol.max_rounds' is already axis 0"),
    # --- axes: paths that point nowhere
    case("path-empty-part", axis("actors..USA.capability", "values: [0.5]"), "axes[0].path", 5,
         "not a path: empty name between dots", "(got 'actors..USA.capability')"),
    case("path-bad-index", axis("actors.USA[x]", "values: [0.5]"), "axes[0].path", 5,
         "not a path: 'USA[x]': a list index is a whole number in brackets"),
    case("path-not-text", axis("5", "values: [0.5]"), "axes[0].path", 5, "valid string", "(got 5)"),
    case("unknown-actor", axis("actors.XYZ.capability", "values: [0.5]"), "axes[0].path", 5,
         "'actors.XYZ.capability' points nowhere in", "belarus_us_2025.yaml",
         "no entry with id 'XYZ' in actors (ids: USA, BLR, RUS, LTU, POL, EU)"),
    case("unknown-issue-close-to-known", axis("issues.eu_sanction.status_quo", "values: [0.5]"), "axes[0].path", 5,
         "points nowhere", "no entry with id 'eu_sanction' in issues (did you mean 'eu_sanctions'?"),
    case("index-out-of-range", axis("actors.USA.red_lines[9].min", "values: [0.5]"), "axes[0].path", 5,
         "points nowhere", "actors[0].red_lines has 4 entries; there is no [9]"),
    case("index-into-mapping", axis("protocol[0]", "values: [0.5]"), "axes[0].path", 5,
         "points nowhere", "protocol is a mapping, not a list: no [0]"),
    case("path-through-number", axis("protocol.max_rounds.foo", "values: [1]"), "axes[0].path", 5,
         "points nowhere", "protocol.max_rounds is a value (24), not a mapping or list"),
    case("unknown-actor-field", axis("actors.USA.salince", "values: [0.5]"), "axes[0].path", 5,
         "'actors.USA.salince' points nowhere", "actors[0].salince is not a scenario field",
         "allowed: capability, consent"),
    case("unknown-protocol-field", axis("protocol.speed", "values: [0.5]"), "axes[0].path", 5,
         "'protocol.speed' points nowhere", "protocol.speed is not a scenario field",
         "allowed: breakdown_risk, discount, extension_rounds, extensions, forecast, gesture, implement, kind, "
         "margin, max_rounds, mediator_signal, mediator_step, order, phases, renegotiations, step, step_growth, "
         "tolerance, trust_discount"),
    case("unknown-stance-issue", axis("actors.BLR.issues.russia_alignmnt.salience", "values: [0.5]"),
         "axes[0].path", 5, "points nowhere", "actors[1].issues has no 'russia_alignmnt'",
         "(did you mean 'russia_alignment'?)"),
    case("unknown-top-level-scenario-field", axis("foo.bar", "values: [1]"), "axes[0].path", 5,
         "'foo.bar' points nowhere", "foo is not a scenario field",
         "allowed: actors, collectives, description, issues"),
    case("unknown-strategy-param", axis("actors.BLR.strategy.params.exponentt", "values: [2.0]"), "axes[0].path",
         5, "points nowhere", "actors[1].strategy.params.exponentt is not a scenario field",
         "(did you mean 'exponent'?)"),
    # --- axes: values the scenario rejects
    case("red-line-above-1", HEAD + AXES + "  - path: actors.USA.red_lines[0].min\n    values: [0.5, 1.5]\n",
         "axes[1]", 7, "actors.USA.red_lines[0].min = 1.5 is rejected by the scenario",
         "actors[0].red_lines[0].min: input should be less than or equal to 1 (got 1.5)"),
    case("max-rounds-zero", axis("protocol.max_rounds", "values: [0, 12]"), "axes[0]", 5,
         "protocol.max_rounds = 0 is rejected by the scenario", "greater than or equal to 1 (got 0)"),
    case("max-rounds-decimal", axis("protocol.max_rounds", "values: [6.5]"), "axes[0]", 5,
         "protocol.max_rounds = 6.5 is rejected by the scenario", "valid integer"),
    case("protocol-kind-auction", axis("protocol.kind", "values: [package, auction]"), "axes[0]", 5,
         "protocol.kind = 'auction' is rejected by the scenario",
         "input should be 'package', 'incremental', 'framework', 'mediated', 'eum' or 'sequence' (got 'auction')"),
    case("unknown-strategy", axis("actors.BLR.strategy.name", "values: [tit_for_two_tats]"), "axes[0]", 5,
         "actors.BLR.strategy.name = 'tit_for_two_tats' is rejected by the scenario",
         "unknown strategy 'tit_for_two_tats' (known: boulware, conceder"),
    case("strategy-param-out-of-range", axis("actors.BLR.strategy.params.exponent", "values: [-2.0]"), "axes[0]",
         5, "actors.BLR.strategy.params.exponent = -2.0 is rejected", "actors[1].strategy.params.exponent"),
    case("status-quo-above-1", axis("issues.eu_sanctions.status_quo", "values: [2.0]"), "axes[0]", 5,
         "issues.eu_sanctions.status_quo = 2.0 is rejected", "issues[14].status_quo",
         "less than or equal to 1"),
    case("salience-range-too-high",
         axis("actors.BLR.issues.russia_alignment.salience", "range: [0.5, 1.5]", "steps: 3"), "axes[0]", 5,
         "actors.BLR.issues.russia_alignment.salience = 1.5 is rejected by the scenario",
         "less than or equal to 1 (got 1.5)"),
    case("range-of-decimals-for-whole-numbers", axis("protocol.max_rounds", "range: [6, 24]", "steps: 3"),
         "axes[0]", 5, "protocol.max_rounds = 6.0 is rejected", "valid integer", "add integer: true"),
    case("whole-actor-replaced", axis("actors.USA", "values: [0.5]"), "axes[0]", 5,
         "actors.USA = 0.5 is rejected by the scenario", "mapping"),
    # --- replicates, seed, chunks
    case("replicates-zero", HEAD + AXES + "replicates: 0\n", "replicates", 7,
         "greater than or equal to 1", "(got 0)"),
    case("replicates-text", HEAD + AXES + "replicates: many\n", "replicates", 7, "valid integer", "(got 'many')"),
    case("negative-seed", HEAD + AXES + "seed: -1\n", "seed", 7, "greater than or equal to 0", "(got -1)"),
    case("chunk-size-zero", HEAD + AXES + "chunk_size: 0\n", "chunk_size", 7, "greater than or equal to 1"),
]


def write(tmp_path: Path, text: str, name: str = "experiment.yaml") -> Path:
    f = tmp_path / name
    f.write_text(text.replace("SCENARIO", str(SCENARIO)), encoding="utf-8")
    return f


def test_the_texts_are_valid_without_the_mistake(tmp_path: Path) -> None:
    """The header and axes the cases edit load as they are (so each case has exactly its one mistake)."""
    exp = exm.load(write(tmp_path, HEAD + AXES))
    assert exp.points == [{"protocol.max_rounds": 6}, {"protocol.max_rounds": 12}]


@pytest.mark.parametrize(("text", "field", "line", "words"), CASES)
def test_bad_experiment(tmp_path: Path, text: str, field: str, line: int | None, words: tuple[str, ...]) -> None:
    f = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        exm.load(f)
    msg = str(info.value)
    assert "\n" not in msg
    where = f"{f}:{line}" if line else str(f)
    assert msg.startswith(f"{where}: {field}: " if field else f"{where}: "), msg
    first = info.value.problems[0]
    assert (first.path, first.line) == (field, line), msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    assert "Traceback" not in msg and "pydantic" not in msg.lower() and "pattern" not in msg


def test_all_problems_are_reported_each_on_one_line(tmp_path: Path) -> None:
    f = write(tmp_path, HEAD + AXES + "replicates: 0\nseed: -1\n")
    with pytest.raises(InputError) as info:
        exm.load(f)
    first = f"{f}:7: replicates: input should be greater than or equal to 1 (got 0)"
    assert str(info.value) == first + " (and 1 more problem)"
    assert info.value.lines() == [
        first,
        f"{f}:8: seed: input should be greater than or equal to 0 (got -1)",
    ]


def test_every_bad_axis_is_reported(tmp_path: Path) -> None:
    """The axis checks do not stop at the first bad axis."""
    text = HEAD + "axes:\n  - path: protocol.speed\n    values: [1]\n  - path: protocol.max_rounds\n    values: [0]\n"
    with pytest.raises(InputError) as info:
        exm.load(write(tmp_path, text))
    assert [(p.path, p.line) for p in info.value.problems] == [("axes[0].path", 5), ("axes[1]", 7)]


# --------------------------------------------------------------------------------------------
# the base scenario


def _baseline_with(old: str, new: str) -> str:
    text = SCENARIO.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_invalid_base_scenario_names_the_scenario_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad_scenario.yaml"
    bad.write_text(_baseline_with("max: 0.15,", "max: 1.5,"), encoding="utf-8")
    line = next(k for k, ln in enumerate(bad.read_text().splitlines(), 1) if "max: 1.5," in ln)
    f = write(tmp_path, HEAD.replace("SCENARIO", "bad_scenario.yaml") + AXES)
    with pytest.raises(InputError) as info:
        exm.load(f)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg == f"{bad}:{line}: actors[2].red_lines[0].max: input should be less than or equal to 1 (got 1.5)"


def test_base_scenario_not_yaml_names_the_scenario_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [x\n", encoding="utf-8")
    f = write(tmp_path, HEAD.replace("SCENARIO", str(bad)) + AXES)
    with pytest.raises(InputError) as info:
        exm.load(f)
    assert str(info.value).startswith(f"{bad}:2: not valid YAML"), str(info.value)


def test_scenario_path_is_relative_to_the_experiment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "base.yaml").write_text(SCENARIO.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "experiments").mkdir()
    good = write(tmp_path / "experiments", HEAD.replace("SCENARIO", "../scenarios/base.yaml") + AXES)
    monkeypatch.chdir(tmp_path / "scenarios")  # not the experiment's folder
    assert len(exm.load(good).points) == 2
    bad = write(tmp_path / "experiments", HEAD.replace("SCENARIO", "base.yaml") + AXES, "bad.yaml")
    with pytest.raises(InputError) as info:
        exm.load(bad)
    assert str(info.value) == (
        f"{bad}:2: scenario: no scenario file at {tmp_path / 'experiments' / 'base.yaml'} "
        "(a relative path starts at the experiment's folder)"
    )


def test_path_into_a_mapping_the_scenario_leaves_out(tmp_path: Path) -> None:
    """BLR without strategy params: the axis creates them; a bad value is rejected, not 'points nowhere'."""
    base = tmp_path / "base.yaml"
    base.write_text(_baseline_with("strategy: {name: boulware, params: {exponent: 4.0}}", "strategy: {name: boulware}"),
                    encoding="utf-8")
    good = write(tmp_path, axis("actors.BLR.strategy.params.exponent", "values: [2.0, 5.0]").replace(
        "SCENARIO", str(base)), "good.yaml")
    exp = exm.load(good)
    strategy = exp.scenario_data(exp.points[1])["actors"][1]["strategy"]
    assert strategy == {"name": "boulware", "params": {"exponent": 5.0}}
    bad = write(tmp_path, axis("actors.BLR.strategy.params.exponent", "values: [-2.0]").replace(
        "SCENARIO", str(base)), "bad.yaml")
    with pytest.raises(InputError) as info:
        exm.load(bad)
    assert str(info.value).startswith(
        f"{bad}:5: axes[0]: actors.BLR.strategy.params.exponent = -2.0 is rejected by the scenario: "
        "actors[1].strategy.params.exponent: input should be greater than"
    ), str(info.value)


def test_missing_absolute_scenario_path(tmp_path: Path) -> None:
    gone = tmp_path / "gone.yaml"
    f = write(tmp_path, HEAD.replace("SCENARIO", str(gone)) + AXES)
    with pytest.raises(InputError) as info:
        exm.load(f)
    assert str(info.value) == f"{f}:2: scenario: no scenario file at {gone}"


# --------------------------------------------------------------------------------------------
# the command line


CLI_CASES = [
    pytest.param("name: [t\n", "{f}:2: not valid YAML", id="not-yaml"),
    pytest.param(HEAD + AXES + "replicate: 3\n", "{f}:7: replicate: unknown field (did you mean 'replicates'?)",
                 id="typo"),
    pytest.param(axis("actors.XYZ.capability", "values: [0.5]"), "{f}:5: axes[0].path: 'actors.XYZ.capability' "
                 "points nowhere", id="unknown-actor"),
    pytest.param(axis("actors.USA.red_lines[0].min", "values: [1.5]"), "{f}:5: axes[0]: "
                 "actors.USA.red_lines[0].min = 1.5 is rejected by the scenario", id="value-rejected"),
    pytest.param(design("", "  kind: list\n  points:\n    - {protocol.max_rounds: 0}\n") + AXES,
                 "{f}:6: design.points[0]: rejected by the scenario", id="list-point-rejected"),
]


@pytest.mark.parametrize(("text", "expected"), CLI_CASES)
def test_cli_sweep_bad_file_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    f = write(tmp_path, text)
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["sweep", str(f), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert isinstance(r.exception, SystemExit), r.exception
    lines = r.stderr.splitlines()
    assert lines and all(ln.startswith("error: ") for ln in lines), r.stderr
    assert lines[0].startswith("error: " + expected.format(f=f)), r.stderr
    assert not out.exists(), "a bad experiment must not leave a results folder"
    assert not (tmp_path / "results").exists()


def test_cli_sweep_invalid_base_scenario_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad_scenario.yaml"
    bad.write_text(_baseline_with("max: 0.15,", "max: 1.5,"), encoding="utf-8")
    f = write(tmp_path, HEAD.replace("SCENARIO", str(bad)) + AXES)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", str(f), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert r.stderr.startswith(f"error: {bad}:"), r.stderr
    assert "actors[2].red_lines[0].max" in r.stderr
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# a valid experiment


def test_valid_experiment_points_are_as_declared(tmp_path: Path) -> None:
    text = HEAD + """\
axes:
  - path: actors.RUS.red_lines[0].max
    values: [0.0, 0.15]
  - path: protocol.max_rounds
    range: [6, 24]
    steps: 3
    integer: true
  - path: actors.BLR.strategy.name
    values: [boulware]
replicates: 3
seed: 7
"""
    exp = exm.load(write(tmp_path, text))
    assert exp.axis_paths == ["actors.RUS.red_lines[0].max", "protocol.max_rounds", "actors.BLR.strategy.name"]
    assert exp.points == [
        {"actors.RUS.red_lines[0].max": mx, "protocol.max_rounds": n, "actors.BLR.strategy.name": "boulware"}
        for mx in (0.0, 0.15)
        for n in (6, 15, 24)
    ]
    assert exp.n_runs == 18
    data = exp.scenario_data(exp.points[4])
    rus = next(a for a in data["actors"] if a["id"] == "RUS")
    assert (rus["red_lines"][0]["max"], data["protocol"]["max_rounds"]) == (0.15, 15)
    assert exp.scenario_for(exp.points[4]).spec.protocol.max_rounds == 15


def test_valid_list_design_keeps_its_points(tmp_path: Path) -> None:
    text = design("", "  kind: list\n  points:\n    - {protocol.max_rounds: 6, protocol.discount: 0.9}\n"
                  "    - {protocol.max_rounds: 30, protocol.discount: 0.5}\n") + """\
axes:
  - path: protocol.max_rounds
    values: [6, 30]
  - path: protocol.discount
    range: [0.5, 0.9]
"""
    exp = exm.load(write(tmp_path, text))
    assert exp.points == [
        {"protocol.max_rounds": 6, "protocol.discount": 0.9},
        {"protocol.max_rounds": 30, "protocol.discount": 0.5},
    ]
