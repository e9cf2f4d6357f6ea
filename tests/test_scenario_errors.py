"""Bad scenario files, one mistake each: every one must give an ``InputError`` whose one-line message
names the file, the YAML line (where there is one), the field path and what is wrong; the CLI must
print those lines and exit 2, never a traceback.

Each case is a YAML file written to ``tmp_path`` so the line numbers are the real ones.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from model import scenario, yamlio
from model.cli import main
from model.errors import InputError

# the cases below rely on the line numbers of this text: do not change it
SMALL = """\
name: small
title: Two parties, three issues
seed: 1
issues:
  - {id: a, label: A, status_quo: 0.5}
  - {id: b, label: B, status_quo: 0.5}
  - id: c
    label: C
    kind: ordinal
    levels: [{name: none, value: 0}, {name: half, value: 0.5}, {name: full, value: 1}]
    status_quo: none
actors:
  - id: X
    name: X
    issues:
      a: {position: 1, salience: 0.8}
      b: {position: 1, salience: 0.2}
      c: {position: full, salience: 0.5, source: "[S1]"}
    red_lines:
      - {issue: a, min: 0.3}
  - id: Y
    name: Y
    strategy: {name: conceder}
    issues:
      a: {position: 0, salience: 0.2}
      b: {position: 0, salience: 0.8}
      c: {position: none, salience: 0.1}
protocol: {max_rounds: 20}
sources:
  S1: {title: "A source", date: "2025-01-01"}
"""

LEVELS = "levels: [{name: none, value: 0}, {name: half, value: 0.5}, {name: full, value: 1}]"
Y_ISSUES = """\
    issues:
      a: {position: 0, salience: 0.2}
      b: {position: 0, salience: 0.8}
      c: {position: none, salience: 0.1}
"""
RED_LINE = "{issue: a, min: 0.3}"
X_A = "a: {position: 1, salience: 0.8}"


def small() -> str:
    """A fresh copy of the valid scenario's text."""
    return SMALL


def edit(old: str, new: str, text: str | None = None) -> str:
    """``text`` (default: the small scenario) with its one occurrence of ``old`` replaced by ``new``."""
    text = small() if text is None else text
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_with(text: str, needle: str) -> int:
    """The 1-based line of ``text`` that contains ``needle`` (which must occur on one line only)."""
    hits = [k for k, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def case(
    id: str, text: str | bytes, path: str, *words: str, line: int | str | None = None, count: int | None = None
) -> Any:
    """A bad file: ``path`` is the field path ('' for the whole file), ``words`` must be in the message,
    ``line`` is the YAML line (a number, or a string found on that line of ``text``; None: no line),
    ``count`` is the exact number of faults, where that matters."""
    if isinstance(line, str):
        assert isinstance(text, str)
        line = line_with(text, line)
    return pytest.param(text, path, words, line, count, id=id)


CASES = [
    # ---- not a YAML mapping at all
    case("not-yaml-unclosed-brace", edit("status_quo: 0.5}\n  - {id: b", "status_quo: 0.5\n  - {id: b"), "",
         "not valid YAML", "while parsing a flow mapping (from line 5)", "expected ',' or '}'", line=6),
    case("not-yaml-tab-indent", edit("    name: X\n", "\tname: X\n"), "",
         "not valid YAML", "found character '\\t' that cannot start any token", line="\tname: X"),
    case("not-yaml-prose", "This file: is: not a scenario\n", "",
         "not valid YAML", "mapping values are not allowed here", line=1),
    case("not-yaml-two-documents", small() + "---\nname: other\n", "",
         "not valid YAML", "expected a single document", "found another document", line="---"),
    case("not-yaml-impossible-date", edit('date: "2025-01-01"', "date: 2025-13-45"), "",
         "not valid YAML", "cannot read '2025-13-45' as a date", "month must be in 1..12", line="2025-13-45"),
    case("not-yaml-bad-explicit-tag", edit("seed: 1", "seed: !!int one"), "",
         "not valid YAML", "cannot read 'one' as an int", line="seed:"),
    case("empty-file", "", "", "the file is empty"),
    case("only-comments", "# to do: write the scenario\n\n", "", "the file is empty"),
    case("top-level-list", "- name: small\n- title: x\n", "", "expected a mapping of fields at the top level",
         "found a list"),
    case("top-level-text", "small\n", "", "expected a mapping of fields at the top level", "found text"),
    case("non-utf8-bytes", edit("title: Two parties", "title: Caf\xe9").encode("latin-1"), "",
         "not a UTF-8 text file", "invalid continuation byte", line=2),
    case("duplicate-key", edit("seed: 1\n", "seed: 1\nseed: 2\n"), "seed",
         "duplicate key (first at line 3)", line=4),
    case("duplicate-nested-key", edit("      b: {position: 1", "      a: {position: 1"), "actors[0].issues.a",
         "duplicate key (first at line 16)", line=17),
    # ---- schema: missing, unknown and mistyped fields
    case("missing-name", edit("name: small\n", ""), "name", "missing required field"),
    case("missing-issues", small().split("issues:", 1)[0] + "actors:" + small().split("\nactors:", 1)[1], "issues",
         "missing required field"),
    case("missing-actor-issues", edit(Y_ISSUES, ""), "actors[1].issues", "missing required field",
         line="  - id: Y"),
    case("missing-position", edit(X_A, "a: {salience: 0.8}"),
         "actors[0].issues.a.position", "missing required field", line="a: {salience: 0.8}"),
    case("typo-required-field", edit(X_A, "a: {position: 1, salince: 0.8}"),
         "actors[0].issues.a.salince", "unknown field", "did you mean 'salience'?", line="salince", count=1),
    case("typo-optional-field", edit("    name: X\n", "    name: X\n    capabilty: 0.5\n"), "actors[0].capabilty",
         "unknown field", "did you mean 'capability'?", line="capabilty"),
    case("unknown-top-level-field", edit("seed: 1\n", "seed: 1\nauthor: me\n"), "author",
         "unknown field",
         "allowed: actors, collectives, description, issues, name, protocol, seed, sources, spoilers, title",
         line="author"),
    case("salience-is-a-word", edit(X_A, "a: {position: 1, salience: high}"),
         "actors[0].issues.a.salience", "input should be a valid number", "(got 'high')", line="high"),
    case("salience-exponent-read-as-text", edit(X_A, "a: {position: 1, salience: 8e-1}"),
         "actors[0].issues.a.salience", "valid number", "'8e-1', which YAML reads as text", "write 8.0e-1",
         line="8e-1"),
    case("max-rounds-not-integer", edit("max_rounds: 20", "max_rounds: 2.5"), "protocol.max_rounds",
         "input should be a valid integer", "(got 2.5)", line="protocol:"),
    case("consent-maybe", edit("    name: Y\n", "    name: Y\n    consent: maybe\n"), "actors[1].consent",
         "valid boolean", "(got 'maybe')", line="consent"),
    case("name-not-identifier", edit("name: small", "name: small scenario"), "name",
         "must be an identifier: a letter, then letters, digits or underscores", "(got 'small scenario')", line=1),
    case("title-empty", edit("title: Two parties, three issues", "title:"), "title",
         "valid string", "(got an empty value)", line=2),
    case("level-name-read-as-boolean", edit("{name: none, value: 0}", "{name: off, value: 0}"),
         "issues[2].levels[0].name", "valid string", "(got False: YAML reads a bare yes, no, on, off", "quote it",
         line="levels:"),
    case("actor-issues-a-list", edit(Y_ISSUES, "    issues: [a, b, c]\n"), "actors[1].issues",
         "should be a mapping of key: value pairs", "(got a list)", line="issues: [a, b, c]"),
    case("red-lines-a-mapping", edit(f"      - {RED_LINE}", "      a: {min: 0.3}"), "actors[0].red_lines",
         "valid list", "(got a mapping)", line="red_lines:"),
    case("condition-not-a-mapping", edit(RED_LINE, "{issue: a, min: 0.3, when: b}"), "actors[0].red_lines[0].when",
         "should be a mapping of key: value pairs", "(got 'b')", line="when: b"),
    case("issue-kind-typo", edit("kind: ordinal", "kind: ordnial"), "issues[2].kind",
         "input should be 'continuous' or 'ordinal'", "(got 'ordnial')", line="ordnial"),
    case("protocol-kind-unknown", edit("max_rounds: 20", "kind: auction, max_rounds: 20"), "protocol.kind",
         "input should be 'package'", "(got 'auction')", line="auction"),
    case("only-one-actor", small().split("  - id: Y")[0] + "protocol:" + small().split("protocol:")[1], "actors",
         "list should have at least 2 items, not 1", line="actors:"),
    # ---- schema: numbers out of range
    case("salience-above-one", edit(X_A, "a: {position: 1, salience: 1.5}"), "actors[0].issues.a.salience",
         "less than or equal to 1", "(got 1.5)", line="1.5"),
    case("position-negative", edit("a: {position: 1,", "a: {position: -0.1,"), "actors[0].issues.a.position",
         "greater than or equal to 0", "(got -0.1)", line="-0.1"),
    case("discount-zero", edit("max_rounds: 20", "max_rounds: 20, discount: 0"), "protocol.discount",
         "greater than 0", "(got 0)", line="discount"),
    case("breakdown-risk-one", edit("max_rounds: 20", "max_rounds: 20, breakdown_risk: 1.0"),
         "protocol.breakdown_risk", "less than 1", "(got 1.0)", line="breakdown_risk"),
    case("red-line-min-above-one", edit(RED_LINE, "{issue: a, min: 1.2}"), "actors[0].red_lines[0].min",
         "less than or equal to 1", "(got 1.2)", line="min: 1.2"),
    case("seed-negative", edit("seed: 1", "seed: -1"), "seed", "greater than or equal to 0", "(got -1)", line=3),
    # ---- cross-references and consistency
    case("duplicate-issue-id", edit("{id: b, label: B", "{id: a, label: B"), "issues[1].id",
         "duplicate issue id 'a'", line="label: B"),
    case("duplicate-actor-id", edit("  - id: Y", "  - id: X"), "actors[1].id", "duplicate actor id 'X'", line=21),
    case("unknown-issue-in-actor", edit("      b: {position: 1", "      d: {position: 1"), "actors[0].issues.d",
         "unknown issue 'd'", "(known: a, b, c)", line="d: {position"),
    case("unknown-issue-in-red-line", edit(RED_LINE, "{issue: z, min: 0.3}"), "actors[0].red_lines[0].issue",
         "unknown issue 'z'", "(known: a, b, c)", line="issue: z"),
    case("unknown-issue-in-condition", edit(RED_LINE, "{issue: a, min: 0.3, when: {issue: z, above: 0.5}}"),
         "actors[0].red_lines[0].when.issue", "unknown issue 'z'", "(known: a, b, c)", line="issue: z"),
    case("position-not-a-level", edit("c: {position: full", "c: {position: most"), "actors[0].issues.c.position",
         "'most' is not a level of 'c'", "(levels: none, half, full)", line="most"),
    case("level-name-on-continuous-issue", edit("a: {position: 1,", "a: {position: high,"),
         "actors[0].issues.a.position", "'a' is continuous", "must be a number, not 'high'", line="high"),
    case("status-quo-not-a-level-name", edit("status_quo: none", "status_quo: some"), "issues[2].status_quo",
         "'some' is not a level of 'c'", "(levels: none, half, full)", line="some"),
    case("status-quo-not-a-level-value", edit("status_quo: none", "status_quo: 0.3"), "issues[2].status_quo",
         "0.3 is not the value of a level of 'c'", "(values: 0, 0.5, 1)", line="status_quo: 0.3"),
    case("status-quo-name-on-continuous", edit("A, status_quo: 0.5}", "A, status_quo: half}"),
         "issues[0].status_quo", "a continuous issue needs a number, not 'half'", line="status_quo: half"),
    case("ordinal-one-level", edit(LEVELS, "levels: [{name: none, value: 0}]"), "issues[2].levels",
         "an ordinal issue needs at least two levels", line="levels:"),
    case("ordinal-without-levels", edit(f"    {LEVELS}\n", ""), "issues[2].levels",
         "an ordinal issue needs at least two levels", line="  - id: c", count=1),
    case("ordinal-levels-not-increasing", edit("{name: full, value: 1}", "{name: full, value: 0.4}"),
         "issues[2].levels[2].value", "level values must increase: 0.4 follows 0.5", line="levels:"),
    case("ordinal-duplicate-level-name", edit("{name: full, value: 1}", "{name: half, value: 1}"),
         "issues[2].levels[2].name", "duplicate level name 'half'", line="levels:"),
    case("levels-on-continuous-issue", edit("{id: a, label: A, status_quo: 0.5}",
                                            "{id: a, label: A, status_quo: 0.5, " + LEVELS + "}"),
         "issues[0].levels", "only an ordinal issue has levels", "set kind: ordinal", line="{id: a,"),
    case("all-saliences-zero", edit(Y_ISSUES, Y_ISSUES.replace("salience: 0.2", "salience: 0")
                                    .replace("salience: 0.8", "salience: 0").replace("salience: 0.1", "salience: 0")),
         "actors[1].issues", "every salience of Y is zero", line=24),
    case("actor-lists-no-issues", edit(Y_ISSUES, "    issues: {}\n"), "actors[1].issues", "Y lists no issues",
         line="issues: {}"),
    case("red-line-without-bounds", edit(RED_LINE, "{issue: a}"), "actors[0].red_lines[0]",
         "a red line needs a min, a max or both", line="{issue: a}"),
    case("red-line-min-above-max", edit(RED_LINE, "{issue: a, min: 0.6, max: 0.4}"), "actors[0].red_lines[0].min",
         "min 0.6 is above max 0.4", "no value satisfies it", line="max: 0.4"),
    case("condition-above-and-below", edit(RED_LINE, "{issue: a, min: 0.3, when: {issue: b, above: 0.2, below: 0.8}}"),
         "actors[0].red_lines[0].when", "a condition needs exactly one of above or below", line="when:"),
    case("condition-neither-above-nor-below", edit(RED_LINE, "{issue: a, min: 0.3, when: {issue: b}}"),
         "actors[0].red_lines[0].when", "a condition needs exactly one of above or below", line="when:"),
    case("red-line-admits-no-level", edit(RED_LINE, "{issue: c, min: 0.6, max: 0.9}"), "actors[0].red_lines[0]",
         "no level of ordinal issue 'c' lies in [0.6, 0.9]", "(values: 0, 0.5, 1)", line="issue: c"),
    case("red-lines-contradict", edit(f"      - {RED_LINE}\n", "      - {issue: a, min: 0.8}\n"
                                      "      - {issue: a, max: 0.2}\n"),
         "actors[0].red_lines[1]", "contradicts red_lines[0] of X", "no package satisfies both", line="max: 0.2"),
    case("red-lines-contradict-three-way", edit(f"      - {RED_LINE}\n", "      - {issue: a, min: 0.8}\n"
                                                "      - {issue: b, max: 0.2, when: {issue: a, above: 0.5}}\n"
                                                "      - {issue: b, min: 0.5}\n"),
         "actors[0].red_lines", "the red lines of X contradict each other", "no package satisfies them all",
         line="red_lines:"),
    case("unknown-strategy", edit("{name: conceder}", "{name: tit_for_two_tats}"), "actors[1].strategy.name",
         "unknown strategy 'tit_for_two_tats'", "known: boulware, conceder", line="tit_for_two_tats"),
    case("boulware-exponent-below-one", edit("{name: conceder}", "{name: boulware, params: {exponent: 0.5}}"),
         "actors[1].strategy.params.exponent", "greater than 1", "(got 0.5)", line="exponent"),
    case("unknown-strategy-parameter", edit("{name: conceder}", "{name: conceder, params: {speed: 2}}"),
         "actors[1].strategy.params.speed", "unknown field", "(allowed: exponent)", line="speed"),
    case("order-names-unknown-actor", edit("max_rounds: 20", "max_rounds: 20, order: [X, Z]"), "protocol.order[1]",
         "unknown actor 'Z'", "(known: X, Y)", line="order:"),
    case("fewer-than-two-parties", edit("    name: Y\n", "    name: Y\n    consent: false\n"), "actors",
         "at least two actors must be parties whose consent is needed", line="actors:"),
    case("source-tag-not-in-sources", edit('"[S1]"', '"[S2]"'), "actors[0].issues.c.source",
         "cites [S2], which is not in the sources map", line="[S2]"),
    case("source-key-not-identifier", edit("  S1: {", "  S-1: {").replace('"[S1]"', '"[S-1]"'), "sources.S-1",
         "must be an identifier", "(got 'S-1')", line="S-1: {"),
]


def write(tmp_path: Path, text: str | bytes, name: str = "scenario.yaml") -> Path:
    f = tmp_path / name
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text, encoding="utf-8")
    return f


def check_message(msg: str, file: Path, path: str, words: tuple[str, ...], line: int | None) -> None:
    """The one-line form ``FILE:LINE: field.path: message``, with the expected content."""
    assert "\n" not in msg, msg
    where = f"{file}:{line}:" if line is not None else f"{file}:"
    assert msg.startswith(where), f"expected {where!r} at the start of {msg!r}"
    if line is None:
        assert not re.match(re.escape(str(file)) + r":\d", msg), f"no line expected in {msg!r}"
    rest = msg[len(where) :]
    if path:
        assert rest.startswith(f" {path}: "), f"expected field {path!r} in {msg!r}"
    else:
        assert not re.match(r" [A-Za-z_][\w.\[\]-]*: ", rest), f"no field expected in {msg!r}"
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_the_small_scenario_is_valid(tmp_path: Path) -> None:
    s = scenario.load(write(tmp_path, small()))
    assert s.problem.actor_ids == ("X", "Y")
    assert s.problem.space.n_issues == 3


def test_there_are_enough_distinct_cases() -> None:
    texts = [p.values[0] for p in CASES]
    assert len(CASES) >= 30
    assert len(set(texts)) == len(texts), "two cases test the same file"


@pytest.mark.parametrize(("text", "path", "words", "line", "count"), CASES)
def test_bad_file_gives_one_line_naming_file_line_field_and_fault(
    tmp_path: Path, text: str | bytes, path: str, words: tuple[str, ...], line: int | None, count: int | None
) -> None:
    f = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        scenario.load(f)
    e = info.value
    check_message(str(e), f, path, words, line)
    assert e.lines()[0] == str(e).split(" (and ")[0]
    assert all("\n" not in x and x.startswith(f"{f}:") for x in e.lines())
    if count is not None:
        assert len(e.lines()) == count, e.lines()


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path, small())
    size = f.stat().st_size
    monkeypatch.setattr(yamlio, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(InputError) as info:
        scenario.load(f)
    check_message(str(info.value), f, "", ("file is too large", f"({size:,} bytes; the limit is {size - 1:,})"), None)
    monkeypatch.setattr(yamlio, "MAX_FILE_BYTES", size)
    assert scenario.load(f).spec.name == "small"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        scenario.load(tmp_path / "nope.yaml")
    check_message(str(info.value), tmp_path / "nope.yaml", "", ("no such file",), None)
    with pytest.raises(InputError) as info:
        scenario.load(tmp_path)
    check_message(str(info.value), tmp_path, "", ("is a directory, not a file",), None)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path, small())

    real_open = os.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:  # (the tests may run as root, who reads anything)
        if Path(path) == f:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(InputError) as info:
        scenario.load(f)
    check_message(str(info.value), f, "", ("cannot read the file: Permission denied",), None)


def test_alias_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_NODES", 50)
    text = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\n"
    with pytest.raises(InputError) as info:
        scenario.load(write(tmp_path, text))
    assert "document has more than 50 elements" in str(info.value)


def test_several_schema_faults_are_all_listed_in_order(tmp_path: Path) -> None:
    text = edit("name: small\n", "")
    text = edit(X_A, "a: {position: 1, salience: high}", text)
    text = edit("max_rounds: 20", "max_rounds: 2.5", text)
    f = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        scenario.load(f)
    e = info.value
    assert e.lines() == [
        f"{f}: name: missing required field",
        f"{f}:15: actors[0].issues.a.salience: input should be a valid number (got 'high')",
        f"{f}:27: protocol.max_rounds: input should be a valid integer (got 2.5)",
    ]
    assert str(e) == e.lines()[0] + " (and 2 more problems)"


def test_several_cross_reference_faults_are_all_listed(tmp_path: Path) -> None:
    text = edit("  - id: Y", "  - id: X")
    text = edit("{name: conceder}", "{name: tit_for_two_tats}", text)
    text = edit('"[S1]"', '"[S9]"', text)
    f = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        scenario.load(f)
    lines = info.value.lines()
    assert len(lines) == 3, lines
    assert lines[0] == f"{f}:21: actors[1].id: duplicate actor id 'X'"
    assert lines[1].startswith(f"{f}:23: actors[1].strategy.name: unknown strategy 'tit_for_two_tats'")
    assert lines[2] == f"{f}:18: actors[0].issues.c.source: cites [S9], which is not in the sources map"
    assert str(info.value).endswith(" (and 2 more problems)")


def test_one_fault_says_nothing_more() -> None:
    assert str(InputError("f.yaml", [yamlio.Fault("x", "bad", 3)])) == "f.yaml:3: x: bad"
    assert str(InputError("f.yaml", [yamlio.Fault("x", "bad", 3)] * 2)) == "f.yaml:3: x: bad (and 1 more problem)"


def test_parse_checks_data_in_memory_without_line_numbers() -> None:
    data = yaml.safe_load(small())
    data["actors"][1]["issues"]["b"]["salience"] = 2.0
    with pytest.raises(InputError) as info:
        scenario.parse(data, file="<memory>")
    assert str(info.value) == "<memory>: actors[1].issues.b.salience: input should be less than or equal to 1 (got 2.0)"
    with pytest.raises(InputError) as info:
        scenario.parse(["not", "a", "mapping"], file="<memory>")  # type: ignore[arg-type]
    assert str(info.value) == "<memory>: input should be a mapping of key: value pairs (got a list)"


# ---- the command line


def bad_files(tmp_path: Path) -> tuple[Path, Path]:
    """One file with two faults (salience 'high', unknown strategy parameter), one with a syntax error."""
    two = edit(X_A, "a: {position: 1, salience: high}")
    two = edit("max_rounds: 20", "max_rounds: 20, colour: red", two)
    return write(tmp_path, two, "two.yaml"), write(tmp_path, "name: [unclosed\n", "syntax.yaml")


def test_cli_validate_prints_every_fault_and_exits_2(tmp_path: Path) -> None:
    two, syntax = bad_files(tmp_path)
    good = write(tmp_path, small(), "good.yaml")
    r = CliRunner().invoke(main, ["validate", str(good), str(two), str(syntax)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert isinstance(r.exception, SystemExit)
    assert r.stderr.splitlines() == [
        f"error: {two}:16: actors[0].issues.a.salience: input should be a valid number (got 'high')",
        f"error: {two}:28: protocol.colour: unknown field (allowed: breakdown_risk, discount, extension_rounds, "
        "extensions, forecast, gesture, implement, kind, margin, max_rounds, mediator_signal, mediator_step, order, "
        "phases, renegotiations, step, step_growth, tolerance, trust_discount)",
        f"error: {syntax}:2: not valid YAML: while parsing a flow sequence (from line 1): "
        "expected ',' or ']', but got '<stream end>'",
    ]
    assert r.stdout.startswith(f"ok {good}: 2 actors, 3 issues, 1 red lines")


def test_cli_run_on_a_bad_file_prints_the_fault_and_exits_2(tmp_path: Path) -> None:
    f = write(tmp_path, edit("  - id: Y", "  - id: X"))
    r = CliRunner().invoke(main, ["run", str(f), "--no-plot"])
    assert r.exit_code == 2, r.output
    assert r.stderr == f"error: {f}:21: actors[1].id: duplicate actor id 'X'\n"
    assert "Traceback" not in r.output
    assert r.stdout == ""


def test_cli_validate_accepts_a_valid_file(tmp_path: Path) -> None:
    f = write(tmp_path, small())
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"ok {f}: 2 actors, 3 issues, 1 red lines"
    assert r.stderr == ""


def test_cli_prints_brackets_in_messages_verbatim(tmp_path: Path) -> None:
    f = write(tmp_path, edit('"[S1]"', '"[eu_report]"'))
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 2
    assert "cites [eu_report], which is not in the sources map" in r.stderr


@pytest.mark.slow
def test_real_bargain_validate_process_exits_2_without_traceback(tmp_path: Path) -> None:
    bargain = Path(sys.executable).parent / "bargain"
    if not bargain.exists():
        pytest.skip("the bargain script is not installed next to this Python")
    two, syntax = bad_files(tmp_path)
    p = subprocess.run([str(bargain), "validate", str(two), str(syntax)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    errors = p.stderr.splitlines()
    assert len(errors) == 3, p.stderr
    assert all(x.startswith("error: ") for x in errors)
    assert errors[0] == f"error: {two}:16: actors[0].issues.a.salience: input should be a valid number (got 'high')"
    assert errors[2].startswith(f"error: {syntax}:2: not valid YAML")
    good = write(tmp_path, small(), "good.yaml")
    p = subprocess.run([str(bargain), "validate", str(good)], capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"ok {good}")
