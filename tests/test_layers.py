"""The layering of ``model`` (docs/architecture.md), read from the source with ``ast``: the core imports
numpy, scipy, highspy and the standard library only; the theory imports only the core; the input layer
(files, paths, schemas, scenarios) imports nothing above it; and no modules import each other in a
cycle, counting imports inside functions (which hide cycles) but not those under ``TYPE_CHECKING``
(type hints only, never run).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "model"

#: What the core may import besides the standard library and itself.
CORE_THIRD_PARTY = {"numpy", "scipy", "highspy"}

#: The input layer: reading and checking files, paths into their data, the scenario schema.
INPUT_LAYER = ("model.errors", "model.yamlio", "model.paths", "model.strategy_params", "model.scenario",
               "model.scenario.schema", "model.scenario.compiler", "model.scenario.checks", "model.scenario.loader")

#: The protocol contract (``model/protocols/``): each protocol's parameters (part of the scenario
#: schema, so the input layer reads them), its rules and its events. It plays the Mesa model through
#: the contract only: at run time it imports the core and itself, never the shell or Mesa.
CONTRACT = ("model.protocols",)

#: Modules above the input layer: running, sweeping, reporting, and the entry points.
ABOVE_INPUT = ("model.negotiation", "model.agents", "model.experiment", "model.sweep", "model.results",
               "model.calibrate", "model.report", "model.plots", "model.htmlreport", "model.discovery",
               "model.sensitivity", "model.backtest", "model.cli", "model.cli_backtest", "model.app")

#: No cycle is allowed any more (the engine and its protocols no longer import each other at run time).
ELSEWHERE: tuple[str, ...] = ()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, *, runtime_only: bool) -> list[str]:
    """Every module name imported anywhere in ``tree`` (``from a import b`` gives ``a.b`` if that is
    a module of the package, else ``a``), skipping ``if TYPE_CHECKING:`` blocks if ``runtime_only``."""
    out: list[str] = []
    for node in ast.iter_child_nodes(tree):
        if runtime_only and isinstance(node, ast.If) and _is_type_checking(node):
            out += [n for child in node.orelse for n in _imports(child, runtime_only=True)]
            continue
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                out.append(full if full in MODULES else node.module)
        out += _imports(node, runtime_only=runtime_only)
    return out


def imports_of(module: str, *, runtime_only: bool = True) -> set[str]:
    return set(_imports(ast.parse(MODULES[module].read_text(encoding="utf-8")), runtime_only=runtime_only))


def graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports at run time (a package's ``__init__`` as the package)."""
    return {m: {i for i in imports_of(m) if i in MODULES and i != m} for m in MODULES}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``g`` with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_package_is_found() -> None:
    assert {"model.core", "model.core.strategies", "model.core.eum", "model.scenario", "model.theory"} <= set(MODULES)


@pytest.mark.parametrize("module", [m for m in MODULES if _under(m, ("model.core",))])
def test_the_core_imports_numpy_scipy_highspy_and_itself_only(module: str) -> None:
    bad = []
    for name in imports_of(module, runtime_only=False):
        top = name.split(".")[0]
        if top == "model":
            if not _under(name, ("model.core",)):
                bad.append(name)
        elif top not in sys.stdlib_module_names and top not in CORE_THIRD_PARTY:
            bad.append(name)
    assert not bad, f"{module} imports {sorted(bad)}: the core may import only {sorted(CORE_THIRD_PARTY)}, " \
        "the standard library and model.core"


@pytest.mark.parametrize("module", [m for m in MODULES if _under(m, ("model.theory",))])
def test_the_theory_imports_only_the_core(module: str) -> None:
    bad = [n for n in imports_of(module, runtime_only=False)
           if n.split(".")[0] == "model" and not _under(n, ("model.core", "model.theory"))]
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize("module", [m for m in MODULES if _under(m, CONTRACT)])
def test_the_protocol_contract_imports_only_the_core_and_itself_at_run_time(module: str) -> None:
    bad = []
    for name in imports_of(module, runtime_only=True):
        top = name.split(".")[0]
        if (top == "model" and not _under(name, ("model.core", *CONTRACT))) or top == "mesa":
            bad.append(name)
    assert not bad, f"{module} imports {sorted(bad)} at run time: the protocols see the shell through their contract"


@pytest.mark.parametrize("module", INPUT_LAYER)
def test_the_input_layer_imports_nothing_above_it(module: str) -> None:
    bad = [n for n in imports_of(module, runtime_only=False) if _under(n, ABOVE_INPUT)]
    assert not bad, f"{module} imports {sorted(bad)}, which is above it"


def test_nothing_imports_the_entry_points() -> None:
    g = graph()
    entry = ("model.cli", "model.cli_backtest", "model.app")
    bad = {m: sorted(i for i in deps if _under(i, entry)) for m, deps in g.items() if not _under(m, entry)}
    assert not any(bad.values()), {m: v for m, v in bad.items() if v}


def test_no_import_cycles() -> None:
    found = [c for c in cycles(graph()) if not all(_under(m, ELSEWHERE) for m in c)]
    assert not found, f"modules that import each other (also through imports inside functions): {found}"


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# --------------------------------------------------------------------------------------------
# one definition of each rule


def _defined(name: str) -> list[str]:
    return [m for m, p in MODULES.items() for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef) and node.name == name]


@pytest.mark.parametrize("name", ["get_path", "set_path", "parse_path"])
def test_paths_into_scenario_data_are_defined_once(name: str) -> None:
    assert _defined(name) == ["model.paths"]


def test_the_calibration_design_is_the_experiments_latin_hypercube() -> None:
    """``model.experiment.latin_hypercube`` is the one sampler: calibration's design calls it (and
    draws no design of its own), giving the same points from the same seed."""
    from model import calibrate as cal

    assert _defined("latin_hypercube") == ["model.experiment"]
    assert "latin_hypercube" in (PACKAGE / "calibrate" / "search.py").read_text(encoding="utf-8")
    assert "LatinHypercube" not in (PACKAGE / "calibrate" / "search.py").read_text(encoding="utf-8")
    space = cal.search_space("BLR", "USA")
    # the points the calibration drew before it shared the sampler (pinned: the fit report depends on them)
    assert cal.design(space, 3, 3) == [
        {"actors.BLR.trust.prior": 0.223, "actors.BLR.trust.threshold": 0.353, "actors.BLR.trust.memory": 0.848,
         "actors.USA.delivery.full": 0.764, "actors.USA.delivery.partial": 0.122},
        {"actors.BLR.trust.prior": 0.553, "actors.BLR.trust.threshold": 0.127, "actors.BLR.trust.memory": 0.29,
         "actors.USA.delivery.full": 0.62, "actors.USA.delivery.partial": 0.048},
        {"actors.BLR.trust.prior": 0.806, "actors.BLR.trust.threshold": 0.589, "actors.BLR.trust.memory": 0.514,
         "actors.USA.delivery.full": 0.23, "actors.USA.delivery.partial": 0.596},
    ]
    for n, seed in ((1, 0), (40, 2**40)):  # every point inside the space, with partial <= 1 - full
        for point in cal.design(space, n, seed):
            assert all(par.low <= point[par.path] <= par.high or par.of_rest for par in space)
            assert point["actors.USA.delivery.partial"] <= 1 - point["actors.USA.delivery.full"] + 1e-3


@pytest.mark.parametrize("package, order", [
    ("model.scenario", ["schema", "compiler", "checks", "loader"]),
    ("model.calibrate", ["track", "distance", "search", "report"]),
    ("model.sweep", ["series", "rows", "executors", "storage", "sweep"]),
    ("model.backtest", ["case", "score", "plots"]),
])
def test_split_packages_import_their_seams_in_order(package: str, order: list[str]) -> None:
    """``model/scenario/`` (the schema, compilation, the checks, loading), ``model/calibrate/``
    (the track, the distance, the search, the report) and ``model/sweep/`` (the rows and what a
    worker runs, the executors, the results folder, the sweep): each module imports only those
    before it (docs/architecture.md), and none imports its package itself."""
    order = [f"{package}.{m}" for m in order]
    for k, module in enumerate(order):
        inside = {i for i in imports_of(module, runtime_only=False) if _under(i, (package,))}
        assert inside <= set(order[:k]), f"{module} imports {sorted(inside - set(order[:k]))}"


def test_the_sweep_package_re_exports_every_name_and_workers_find_their_functions() -> None:
    """``from model.sweep import ...`` gives every name it gave as one module, and what a worker
    process unpickles (the task function, its task, the initializer) is importable by module path."""
    import pickle

    import model.sweep as sweep
    from model.sweep import executors, rows

    assert set(sweep.__all__) <= set(dir(sweep))
    for f in (rows.run_task, rows.Task, executors._worker_init, executors._ready):
        assert pickle.loads(pickle.dumps(f)) is f
        assert f.__module__.startswith("model.sweep.")
