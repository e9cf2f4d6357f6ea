"""docs/tutorial.md is run as written, docs/reference.md is up to date, and ``bargain schema`` gives
a JSON Schema that accepts the project's scenarios and rejects a misspelt field.

The tutorial's blocks are read in order: a block after ``<!-- file: NAME -->`` is written to NAME;
every ``bargain ...`` line of a ``sh`` block is run (``mkdir``/``cd`` lines set up the folder, which
is the test's temporary folder); a ``text`` block after ``<!-- output -->`` holds lines each of which
must appear in what the commands before it printed; ``<!-- files: a, b -->`` lists files that must
exist by then; ``<!-- json: FILE: key.path = value; ... -->`` values the text states about a result.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from model.cli import main
from model.cli_schema import missing_stances, reference_markdown, scenario_schema

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"

_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)
_MARK = re.compile(r"<!--\s*(file|output|files|json):?\s*(.*?)\s*-->\s*$", re.S)


def steps(text: str) -> list[tuple[str, str, str]]:
    """The tutorial as ``(kind, argument, body)`` steps, in order: ``file``, ``sh``, ``output``,
    ``files`` and ``json``."""
    out: list[tuple[str, str, str]] = []
    pos = 0
    for m in _BLOCK.finditer(text):
        out += _marks(text[pos:m.start()])
        before = text[:m.start()].rstrip()
        mark = _MARK.search(before[before.rfind("<!--"):]) if before.endswith("-->") else None
        lang, body = m.group(1), m.group(2)
        if mark and mark.group(1) == "file":
            out.append(("file", mark.group(2), body))
        elif mark and mark.group(1) == "output":
            out.append(("output", "", body))
        elif lang == "sh":
            out.append(("sh", "", body))
        pos = m.end()
    return out + _marks(text[pos:])


def _marks(prose: str) -> list[tuple[str, str, str]]:
    return [(k, arg, "") for k, arg in re.findall(r"<!--\s*(files|json):\s*(.*?)\s*-->", prose, re.S)]


def _get(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data[key]
    return data


def _run(line: str, cwd: Path) -> str:
    args = line.split()
    assert args[0] == "bargain", line
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1"}
    r = subprocess.run([sys.executable, "-m", "model.cli", *args[1:]], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def _check_output(expected: str, printed: str) -> None:
    flat = " ".join(printed.split())
    for want in expected.strip().splitlines():
        assert " ".join(want.split()) in flat, f"the tutorial says {want!r}, but the commands printed:\n{printed}"


def test_the_tutorial_has_the_steps_it_promises() -> None:
    kinds = [k for k, _, _ in steps(TUTORIAL.read_text(encoding="utf-8"))]
    assert kinds.count("file") == 2 and kinds.count("output") >= 4 and kinds.count("files") >= 4
    commands = [ln for k, _, body in steps(TUTORIAL.read_text(encoding="utf-8")) if k == "sh"
                for ln in body.splitlines()]
    for verb in ("validate", "run", "sweep", "plot", "report", "schema"):
        assert any(ln.startswith(f"bargain {verb} ") for ln in commands), verb


def test_the_tutorial_scenario_has_three_parties_and_a_stance_on_every_issue() -> None:
    from model import scenario

    (body,) = [b for k, arg, b in steps(TUTORIAL.read_text(encoding="utf-8")) if k == "file" and arg == "river.yaml"]
    sc = scenario.parse(yaml.safe_load(body))
    assert len(sc.problem.parties) == 3
    assert missing_stances(sc.spec) == []  # the tutorial practises what it preaches


@pytest.mark.slow
def test_the_tutorial_runs_as_written_in_an_empty_folder(tmp_path: Path) -> None:
    printed = ""
    for kind, arg, body in steps(TUTORIAL.read_text(encoding="utf-8")):
        if kind == "file":
            (tmp_path / arg).write_text(body, encoding="utf-8")
        elif kind == "sh":
            printed = ""
            for line in body.strip().splitlines():
                if line.startswith(("mkdir ", "cd ")):
                    continue  # the folder: tmp_path
                printed += _run(line, tmp_path)
        elif kind == "output":
            _check_output(body, printed)
        elif kind == "files":
            for name in [n.strip() for n in arg.split(",")]:
                assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0, name
        elif kind == "json":
            file, _, claims = arg.partition(":")
            data = json.loads((tmp_path / file.strip()).read_text(encoding="utf-8"))
            for claim in claims.split(";"):
                key, _, want = (x.strip() for x in claim.partition("="))
                got = _get(data, key)
                assert (got == pytest.approx(float(want), abs=0.005) if isinstance(got, float) else str(got) == want), \
                    f"{file}: {key} is {got!r}, the tutorial says {want}"
    schema = json.loads((tmp_path / "scenario.schema.json").read_text(encoding="utf-8"))
    assert schema == scenario_schema()


# --------------------------------------------------------------------------------------------
# the schema and the reference


def test_the_committed_reference_is_the_one_the_schema_gives() -> None:
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "docs/reference.md is stale: bargain schema --reference docs/reference.md"


def test_the_reference_documents_every_field_of_actors_issues_and_stances() -> None:
    s = scenario_schema()
    for name in ("ActorSpec", "IssueSpec", "Stance", "RedLineSpec", "Level", "StrategySpec"):
        props = s["$defs"][name]["properties"]
        undocumented = [f for f, p in props.items() if not p.get("description")]
        assert not undocumented, (name, undocumented)
    text = reference_markdown(s)
    for strategy in ("boulware", "conceder", "linear", "tit_for_tat"):
        assert f"| `{strategy}` |" in text


def test_the_schema_accepts_the_projects_scenarios_and_rejects_a_misspelt_field() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(scenario_schema())
    whole = [f for f in sorted((ROOT / "scenarios").glob("*.yaml"))
             if "extends" not in (yaml.safe_load(f.read_text(encoding="utf-8")) or {})]
    assert len(whole) >= 2
    for f in whole:
        errors = list(validator.iter_errors(yaml.safe_load(f.read_text(encoding="utf-8"))))
        assert not errors, (f.name, [e.message for e in errors[:3]])
    data = yaml.safe_load((ROOT / "scenarios" / "belarus_us_2025.yaml").read_text(encoding="utf-8"))
    stance = next(iter(data["actors"][0]["issues"].values()))
    stance["saliance"] = stance.pop("salience")
    assert any("saliance" in e.message for e in validator.iter_errors(data))
    data["actors"][0]["strategy"] = {"name": "lineer"}
    assert any("lineer" in e.message for e in validator.iter_errors(data))


def test_bargain_schema_prints_or_writes_the_schema(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["schema"])
    assert r.exit_code == 0 and json.loads(r.output) == scenario_schema()
    r = CliRunner().invoke(main, ["schema", "--out", str(tmp_path / "s.json"), "--reference", str(tmp_path / "r.md")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["title"] == "grand-bargain scenario"
    assert (tmp_path / "r.md").read_text(encoding="utf-8") == reference_markdown()


# --------------------------------------------------------------------------------------------
# the warning for a missing stance, and error lines that stay text


def _without_a_stance(tmp_path: Path) -> Path:
    from tests.factories import small

    data = small()
    del data["actors"][1]["issues"]["b"]
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return f


def test_an_actor_with_no_stance_on_an_issue_is_a_warning_in_validate_and_run(tmp_path: Path) -> None:
    f = _without_a_stance(tmp_path)
    for args in (["validate", str(f)], ["run", str(f), "--no-plot"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output  # a warning, not an error
        assert "warning:" in r.output and "actors[1] (Y): no stance on 1 of 3 issues (b): salience 0" in r.output


def test_a_complete_scenario_gives_no_stance_warning(tmp_path: Path) -> None:
    from tests.factories import small

    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(small(), sort_keys=False), encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 0 and "warning" not in r.output


def test_a_line_number_such_as_100_is_printed_as_text_not_as_an_emoji(tmp_path: Path) -> None:
    lines = ["# padding"] * 99 + yaml.safe_dump({"name": "x", "title": "t", "issues": [], "actors": []}).splitlines()
    lines[99] = "nmae: x"  # line 100: an unknown field
    f = tmp_path / "e.yaml"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 2
    assert "e.yaml:100:" in r.output and "\U0001f4af" not in r.output


# --------------------------------------------------------------------------------------------
# packaging: licence, citation, the shadowing warning


def test_the_licence_and_the_citation_file_agree_with_pyproject() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"  # CFF 1.2's required keys, and the same version and licence
    assert cff["message"] and cff["title"] and cff["authors"] and all("name" in a or "family-names" in a
                                                                        for a in cff["authors"])
    assert str(cff["version"]) == project["version"] and cff["license"] == project["license"]


def test_a_model_py_in_the_working_folder_is_named_in_a_warning(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from model.cli import shadowing_model

    assert shadowing_model(ROOT) is None  # the project's own package is not a shadow
    assert shadowing_model(tmp_path) is None
    (tmp_path / "model.py").write_text("class MyModel: ...\n", encoding="utf-8")
    assert shadowing_model(tmp_path) == tmp_path / "model.py"
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["schema", "--out", str(tmp_path / "s.json")])
    assert r.exit_code == 0 and "model.py shadows grand-bargain's `model` package" in r.output
