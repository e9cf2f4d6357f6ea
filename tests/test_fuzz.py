"""Fuzzing the two loaders: whatever a file holds, ``model.scenario.load`` and ``model.experiment.load``
either accept it or raise ``InputError`` with a one-line message, never any other exception.

Three sources of files: (a) arbitrary text and bytes; (b) random YAML documents (nested mappings,
lists and scalars, some with the schemas' own field names so that they get past the first checks);
(c) valid scenarios and experiments with one to three random mutations (a key deleted or misspelt,
a leaf replaced by a value of another type, an id duplicated, a reference pointed elsewhere, ...).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from model import experiment as exm
from model import scenario as scn
from model.errors import InputError
from tests.factories import small

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "belarus_us_2025.yaml"
LOADERS: dict[str, Callable[[Path], Any]] = {"scenario": scn.load, "experiment": exm.load}

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is a real, repeatable bug
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every example: the base scenario of the experiments sits beside their files."""
    d = tmp_path_factory.mktemp("fuzz")
    (d / "base.yaml").write_text(yaml.safe_dump(small(), sort_keys=False), encoding="utf-8")
    return d


def check_loads_or_input_error(loader: Callable[[Path], Any], f: Path) -> InputError | None:
    """The one property: loads, or raises ``InputError`` whose message and every problem line are one line."""
    try:
        loader(f)
    except InputError as e:
        msg = str(e)
        assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
        assert e.lines() and all("\n" not in ln and "\r" not in ln for ln in e.lines()), e.lines()
        assert "Traceback" not in msg
        return e
    return None


def write(f: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_bytes(content.encode("utf-8", errors="surrogatepass"))
    return f


# --------------------------------------------------------------------------------------------
# (a) arbitrary text and bytes

YAMLISH = st.sampled_from(
    ["name: ", "actors:", "  - id: ", "issues:\n", "{", "}", "[", "]", ": ", "- ", "&a ", "*a", "!!int ", "!!str ",
     "? ", "|", ">", "'", '"', "#", "\t", "\n", "---\n", "...\n", "%YAML 1.1\n", "\x00", "\ufeff", "\\", "0x1F",
     "2025-13-45", ".nan", ".inf", "~", "null", "yes", "1e5", "-0", "<<: *a", "!!python/object:os.system "]
)


@pytest.mark.slow
@FUZZ
@given(st.text(max_size=300), st.sampled_from(sorted(LOADERS)))
def test_arbitrary_text(folder: Path, text: str, kind: str) -> None:
    check_loads_or_input_error(LOADERS[kind], write(folder / f"{kind}.yaml", text))


@FUZZ
@given(st.lists(YAMLISH | st.text(max_size=8), max_size=40).map("".join), st.sampled_from(sorted(LOADERS)))
def test_text_made_of_yaml_tokens(folder: Path, text: str, kind: str) -> None:
    check_loads_or_input_error(LOADERS[kind], write(folder / f"{kind}.yaml", text))


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(sorted(LOADERS)))
def test_arbitrary_bytes(folder: Path, data: bytes, kind: str) -> None:
    check_loads_or_input_error(LOADERS[kind], write(folder / f"{kind}.yaml", data))


# --------------------------------------------------------------------------------------------
# (b) generated YAML documents

FIELD_NAMES = sorted(
    {"name", "title", "seed", "issues", "actors", "protocol", "sources", "id", "label", "kind", "levels", "value",
     "status_quo", "position", "salience", "red_lines", "issue", "min", "max", "when", "above", "below", "strategy",
     "params", "exponent", "reservation", "consent", "capability", "curvature", "discount", "max_rounds",
     "breakdown_risk", "order", "scenario", "design", "axes", "path", "values", "range", "steps", "integer",
     "samples", "points", "replicates", "chunk_size", "second_order", "source", "date", "url", "note"}
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["package", "ordinal", "continuous", "grid", "lhs", "sobol", "list", "boulware", "conceder",
                       "linear", "time_dependent", "status_quo", "base.yaml", "actors.X.capability", "a", "X"])
)
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=10) | st.integers(-5, 5) | st.booleans()
DOCS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=40,
)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@FUZZ
@given(DOCS, st.sampled_from(sorted(LOADERS)))
def test_random_yaml_documents(folder: Path, data: Any, kind: str) -> None:
    check_loads_or_input_error(LOADERS[kind], write(folder / f"{kind}.yaml", dump(data)))


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELD_NAMES), DOCS, min_size=1, max_size=10), st.sampled_from(sorted(LOADERS)))
def test_random_mappings_of_schema_fields(folder: Path, data: dict[str, Any], kind: str) -> None:
    check_loads_or_input_error(LOADERS[kind], write(folder / f"{kind}.yaml", dump(data)))


# --------------------------------------------------------------------------------------------
# (c) mutated valid scenarios and experiments


def nodes(data: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The location of every node of nested data (the root is ``()``)."""
    out = [loc]
    if isinstance(data, dict):
        for k, v in data.items():
            out += nodes(v, (*loc, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += nodes(v, (*loc, i))
    return out


def get(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def strings_in(data: Any) -> list[str]:
    return [v for loc in nodes(data) if isinstance(v := get(data, loc), str)]


OTHER_VALUE = (
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([10**30, -(10**30), 2**63, 10_001])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["", " ", "yes", "1e-1", "none", "full", "half", "X", "Y", "a", "b", "c", "status_quo"])
    | st.lists(st.integers(0, 1) | st.text(max_size=3), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(0, 1), max_size=2)
)
MUTATIONS = ("delete", "replace", "duplicate", "misspell", "add_key", "repoint", "wrap", "empty")


def mutate(draw: st.DrawFn, data: Any) -> Any:
    """One random change somewhere in ``data`` (in place where possible; returns the new root)."""
    how = draw(st.sampled_from(MUTATIONS))
    locs = nodes(data)
    loc = draw(st.sampled_from(locs))
    if not loc:  # the root itself
        return draw(OTHER_VALUE) if how == "replace" else data
    parent, key = get(data, loc[:-1]), loc[-1]
    node = parent[key]
    if how == "delete":
        del parent[key]
    elif how == "replace":
        parent[key] = draw(OTHER_VALUE.filter(lambda v: type(v) is not type(node)))
    elif how == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(node))  # two issues, actors, levels, red lines ... alike
    elif how == "misspell" and isinstance(parent, dict) and isinstance(key, str) and key:
        i = draw(st.integers(0, len(key) - 1))
        parent[key[:i] + key[i + 1 :] or "x"] = parent.pop(key)
    elif how == "add_key" and isinstance(node, dict):
        node[draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=6))] = draw(OTHER_VALUE)
    elif how == "repoint" and isinstance(node, str):
        parent[key] = draw(st.sampled_from(strings_in(data)))  # an id or level name used elsewhere
    elif how == "wrap":
        parent[key] = [node]
    elif how == "empty" and isinstance(node, dict | list):
        parent[key] = type(node)()
    return data


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> Any:
    data = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        data = mutate(draw, data)
    return data


BASELINE_DATA = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
VALID_EXPERIMENT = {
    "name": "fuzz",
    "scenario": "base.yaml",
    "design": {"kind": "grid"},
    "axes": [
        {"path": "protocol.max_rounds", "values": [5, 10]},
        {"path": "actors.X.red_lines[0].min", "range": [0.1, 0.4], "steps": 2},
        {"path": "actors.Y.strategy.name", "values": ["conceder", "linear"]},
    ],
    "replicates": 2,
    "seed": 3,
}


def test_the_unmutated_documents_are_valid(folder: Path) -> None:
    assert scn.load(write(folder / "scenario.yaml", dump(small())))
    assert scn.load(write(folder / "scenario.yaml", dump(BASELINE_DATA)))
    assert exm.load(write(folder / "experiment.yaml", dump(VALID_EXPERIMENT))).n_runs == 16


@pytest.mark.slow
@FUZZ
@given(mutated(small()))
def test_mutated_small_scenario(folder: Path, data: Any) -> None:
    check_loads_or_input_error(scn.load, write(folder / "scenario.yaml", dump(data)))


@pytest.mark.slow
@settings(FUZZ, max_examples=30)
@given(mutated(BASELINE_DATA))
def test_mutated_baseline_scenario(folder: Path, data: Any) -> None:
    check_loads_or_input_error(scn.load, write(folder / "scenario.yaml", dump(data)))


@FUZZ
@given(mutated(VALID_EXPERIMENT))
def test_mutated_experiment(folder: Path, data: Any) -> None:
    check_loads_or_input_error(exm.load, write(folder / "experiment.yaml", dump(data)))


@pytest.mark.slow
@FUZZ
@given(mutated(small()))
def test_experiment_over_a_mutated_base_scenario(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    d = tmp_path_factory.mktemp("mutated_base")
    write(d / "base.yaml", dump(data))
    e = check_loads_or_input_error(exm.load, write(d / "experiment.yaml", dump(VALID_EXPERIMENT)))
    if e is not None and e.file.endswith("base.yaml"):
        assert str(e).startswith(str(d / "base.yaml")), str(e)  # the fault is named in the base scenario


@FUZZ
@given(st.data())
def test_mutated_scenarios_in_memory(data: st.DataObject) -> None:
    """``parse`` on data that YAML could not even write (tuples, sets, NaN keys, objects) also says InputError."""
    doc = data.draw(mutated(small()))
    odd = data.draw(st.sampled_from([(1, 2), {1, 2}, object(), math.nan, b"bytes", 1 + 2j, Path("x")]))
    for loc in nodes(doc):
        if loc and data.draw(st.booleans()) and isinstance(get(doc, loc), str | int | float):
            get(doc, loc[:-1])[loc[-1]] = odd
            break
    assume(isinstance(doc, dict))
    try:
        scn.parse(doc)
    except InputError as e:
        assert "\n" not in str(e), str(e)


def test_a_key_with_a_line_break_is_quoted_in_the_field_path() -> None:
    """A key holding a line break is quoted in the field path, so the message stays on one line."""
    data = small()
    data["actors"][0]["issues"]["a\nb"] = {"position": 0.5, "salience": 0.5}
    with pytest.raises(InputError) as info:
        scn.parse(data)
    assert "\n" not in str(info.value)
    assert re.search(r"issues\['a\\nb'\]: unknown issue", str(info.value)), str(info.value)
