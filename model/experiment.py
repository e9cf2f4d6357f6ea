"""Experiment files: which conditions to vary over a base scenario, and how to sample them.

An experiment names a base scenario, *axes* (dotted paths into the scenario with values or a
range), a *design* (full grid, Latin hypercube, Sobol/Saltelli, or an explicit list of points),
a number of replicates per point and a master seed. Every run's seed derives from the master
seed by ``numpy.random.SeedSequence(master).spawn``: run ``k`` gets child ``k``, so any run can be
repeated alone from its row. An experiment may instead split its conditions into ``levers`` and
``uncertainties``: every policy (lever setting) then runs in every world (uncertainty sample), and
runs in the same world and replicate share their seed whatever the policy (``Experiment.seed_of``).

Paths address the scenario's YAML structure: mapping keys and list items, where a list item
is picked by its ``id`` (``actors.USA``, ``issues.eu_sanctions``) or by its index
(``red_lines[0]``): ``actors.USA.red_lines[0].min``, ``protocol.max_rounds``,
``actors.BLR.strategy.params.exponent``.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

from model import scenario as scn
from model.errors import Fault, InputError, echo
from model.paths import PathError as PathError  # re-exported (it was defined here)
from model.paths import get_path as get_path
from model.paths import parse_path as parse_path
from model.paths import render_loc as _render
from model.paths import set_path as set_path
from model.paths import short_list as _short
from model.yamlio import LineMap, fault, read_model
from model.yamlio import display_path as display_path  # re-exported (it was defined here)


def _scalar(v: Any) -> Any:
    if isinstance(v, dict | list):
        kind = "mapping" if isinstance(v, dict) else "list"
        raise ValueError(f"a value must be a number, text or true/false, not a {kind}")
    return v


def _path(v: str) -> str:
    try:
        parse_path(v)
    except PathError as e:
        raise ValueError(f"not a path: {e}; write e.g. actors.USA.red_lines[0].min") from None
    return v


def _name(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", v):
        raise ValueError("must be a name: a letter, then letters, digits, _ or -")
    return v


Scalar = Annotated[
    Annotated[float, Strict()] | Annotated[int, Strict()] | Annotated[bool, Strict()] | str, BeforeValidator(_scalar)
]

#: Spawn key used for the design's own random numbers (never a run id).
DESIGN_KEY = 2**62

#: At most this many runs (points x replicates) in one experiment.
MAX_RUNS = 10_000_000
#: At most this much memory for a design's points, estimated before any is built (``design_bytes``).
MAX_DESIGN_BYTES = 2**30


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AxisSpec(_Spec):
    """One condition to vary: a path into the scenario and its ``values`` or its ``range``;
    ``label`` is what tables, plots and reports call it (default: ``model.labels.label_of``)."""

    path: Annotated[str, Field(max_length=300), AfterValidator(_path)]
    label: Annotated[str, Field(max_length=200)] | None = None
    values: Annotated[list[Scalar], Field(min_length=1, max_length=10_000)] | None = None
    range: tuple[Annotated[float, Strict()], Annotated[float, Strict()]] | None = None
    steps: Annotated[int, Strict(), Field(ge=2, le=10_000)] | None = None
    integer: bool = False


class DesignSpec(_Spec):
    """How points are chosen: ``grid`` (full factorial), ``lhs`` (Latin hypercube, ``samples``
    points), ``sobol`` (Saltelli's scheme for Sobol indices, ``samples`` base points, giving
    ``samples * (D + 2)`` points, or ``samples * (2D + 2)`` with ``second_order``), ``morris``
    (Morris's elementary-effects screening: ``samples`` trajectories of ``D + 1`` points on a
    grid of ``levels`` levels), ``list`` (the ``points`` given)."""

    kind: Literal["grid", "lhs", "sobol", "morris", "list"]
    samples: Annotated[int, Strict(), Field(ge=1, le=10_000_000)] | None = None
    second_order: bool = False
    levels: Annotated[int, Strict(), Field(ge=2, le=100)] = 4
    points: list[dict[str, Scalar]] | None = None


class ExperimentSpec(_Spec):
    """An experiment file. Either ``axes`` (conditions sampled by the ``design``), or ``levers``
    (what the U.S. and the EU can choose: every combination of their values is a policy) and
    ``uncertainties`` (what nobody chooses: the ``design``, ``lhs`` or ``grid``, samples an
    ensemble of worlds from them); every policy then runs in every world (EMA workbench's
    split). The levers and uncertainties become the experiment's ``axes``, levers first, so
    sweeps, results and discovery read them as any axes."""

    name: Annotated[str, Field(max_length=64), AfterValidator(_name)]
    description: str | None = None
    scenario: str
    design: DesignSpec
    axes: Annotated[list[AxisSpec], Field(min_length=1, max_length=100)]
    levers: Annotated[list[AxisSpec], Field(max_length=20)] = Field(default_factory=list)
    uncertainties: Annotated[list[AxisSpec], Field(max_length=50)] = Field(default_factory=list)
    replicates: Annotated[int, Strict(), Field(ge=1, le=100_000)] = 1
    seed: Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)] = 0
    chunk_size: Annotated[int, Strict(), Field(ge=1, le=100_000)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _levers_are_axes(cls, data: Any) -> Any:
        """``levers`` and ``uncertainties`` given: they are the axes (levers first)."""
        if not isinstance(data, dict) or not (data.get("levers") or data.get("uncertainties")):
            return data
        levers, unc = data.get("levers") or [], data.get("uncertainties") or []
        if not isinstance(levers, list) or not isinstance(unc, list):
            return data  # the field's own check says what is wrong
        if data.get("axes") not in (None, [], [*levers, *unc]):
            raise ValueError("give either axes or levers and uncertainties, not both")
        return {**data, "axes": [*levers, *unc]}

    @property
    def is_robustness(self) -> bool:
        """Whether the experiment splits its axes into levers and uncertainties."""
        return bool(self.levers or self.uncertainties)


# --------------------------------------------------------------------------------------------
# paths


# (in model.paths: parse_path, set_path, get_path and PathError, re-exported here)


# --------------------------------------------------------------------------------------------
# designs


def _axis_levels(ax: AxisSpec) -> list[Any]:
    if ax.values is not None:
        return list(ax.values)
    assert ax.range is not None and ax.steps is not None
    vals = np.linspace(ax.range[0], ax.range[1], ax.steps)
    if ax.integer:
        return sorted({int(round(v)) for v in vals})
    return [float(v) for v in vals]


def _from_unit(ax: AxisSpec, u: np.ndarray) -> list[Any]:
    """Map numbers in [0, 1) to axis values: a range linearly, values by equal-width bins."""
    if ax.values is not None:
        idx = np.minimum((u * len(ax.values)).astype(int), len(ax.values) - 1)
        return [ax.values[i] for i in idx]
    assert ax.range is not None
    lo, hi = ax.range
    x = lo + u * (hi - lo)
    return [int(round(v)) for v in x] if ax.integer else [float(v) for v in x]


def latin_hypercube(dims: int, n: int, seed: int) -> np.ndarray:
    """``n`` points of a Latin hypercube on the unit cube ``[0, 1)^dims``, shape ``(n, dims)``, drawn from
    the seed's design stream (``DESIGN_KEY``): the one sampler of experiment and calibration designs."""
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DESIGN_KEY,)))
    return qmc.LatinHypercube(d=dims, rng=rng).random(n)


def _axis_count(ax: AxisSpec) -> int | None:
    """How many levels ``_axis_levels`` gives, without building them for a long range (``None``: no steps)."""
    if ax.values is not None:
        return len(ax.values)
    if ax.range is None or ax.steps is None:
        return None
    return len(_axis_levels(ax)) if ax.integer else ax.steps


def design_size(exp: ExperimentSpec) -> int | None:
    """The number of points ``design_points`` gives, counted without building them (``None`` if
    the design is incomplete, e.g. a grid's range axis without steps: ``load`` reports that)."""
    d = exp.design
    n_axes = len(exp.axes)
    if exp.is_robustness:
        return _robustness_size(exp)
    if d.kind == "grid":
        counts = [_axis_count(ax) for ax in exp.axes]
        return None if any(c is None for c in counts) else math.prod(c for c in counts if c is not None)
    if d.kind == "list":
        return len(d.points or [])
    if d.samples is None:
        return None
    if d.kind == "lhs":
        return d.samples
    if d.kind == "sobol":
        return d.samples * (2 * n_axes + 2 if d.second_order else n_axes + 2)
    return d.samples * (n_axes + 1)  # morris


def design_bytes(n_points: int, n_axes: int) -> int:
    """Memory a design of ``n_points`` points over ``n_axes`` axes takes (measured: a dict per
    point, about 190 + 80 bytes per axis), with the sampler's own arrays."""
    return n_points * (200 + 90 * n_axes + 16 * n_axes)


def _size_faults(spec: ExperimentSpec, lines: LineMap) -> list[Fault]:
    """Refuse, before anything is built, a design too large for memory or too many runs."""
    n = design_size(spec)
    if n is None:
        return []
    d = spec.design
    where: tuple[str | int, ...] = ("axes",) if d.kind == "grid" else ("design", "points" if d.kind == "list" else
                                                                      "samples")
    what = ("the grid of the axes' levels" if d.kind == "grid" else f"the {d.kind} design")
    need = design_bytes(n, len(spec.axes))
    if need > MAX_DESIGN_BYTES:
        return [fault(lines, where, f"{what} has {n:,} points, about {need / 2**30:,.1f} GiB in memory, above the "
                      f"limit of {MAX_DESIGN_BYTES / 2**30:g} GiB for a design: use fewer points")]
    runs = n * spec.replicates
    if runs > MAX_RUNS:
        loc = ("replicates",) if n <= MAX_RUNS else where
        return [fault(lines, loc, f"{n:,} points x {spec.replicates:,} replicates = {runs:,} runs, above the limit "
                      f"of {MAX_RUNS:,} runs in one experiment: use fewer replicates or points")]
    return []


def design_points(exp: ExperimentSpec) -> list[dict[str, Any]]:
    """The experiment's points: one ``{path: value}`` per point, in a fixed order."""
    axes = exp.axes
    d = exp.design
    ss = np.random.SeedSequence(exp.seed, spawn_key=(DESIGN_KEY,))
    if exp.is_robustness:
        return robustness_points(exp)
    if d.kind == "grid":
        levels = [_axis_levels(ax) for ax in axes]
        return [dict(zip([ax.path for ax in axes], combo, strict=True)) for combo in itertools.product(*levels)]
    if d.kind == "list":
        return [dict(p) for p in d.points or []]
    assert d.samples is not None
    if d.kind == "lhs":
        u = latin_hypercube(len(axes), d.samples, exp.seed)
    else:  # sobol (Saltelli) or morris: SALib draws the points on the unit cube
        problem = {"num_vars": len(axes), "names": [ax.path for ax in axes], "bounds": [[0.0, 1.0]] * len(axes)}
        seed = int(ss.generate_state(1)[0])
        if d.kind == "sobol":
            from SALib.sample import sobol as sobol_sample

            u = sobol_sample.sample(problem, d.samples, calc_second_order=d.second_order, seed=seed)
        else:
            from SALib.sample import morris as morris_sample

            u = morris_sample.sample(problem, d.samples, num_levels=d.levels, seed=seed)
        u = np.clip(u, 0.0, np.nextafter(1.0, 0.0))
    cols = [_from_unit(ax, u[:, j]) for j, ax in enumerate(axes)]
    return [dict(zip([ax.path for ax in axes], row, strict=True)) for row in zip(*cols, strict=True)]


def _grid(axes: list[AxisSpec]) -> list[dict[str, Any]]:
    levels = [_axis_levels(ax) for ax in axes]
    return [dict(zip([ax.path for ax in axes], combo, strict=True)) for combo in itertools.product(*levels)]


def worlds(exp: ExperimentSpec) -> list[dict[str, Any]]:
    """The ensemble of uncertainty samples (``{path: value}`` each): a Latin hypercube of
    ``samples`` worlds (``latin_hypercube``, the design's seed stream) or the grid of their levels."""
    unc = exp.uncertainties
    if not unc:
        return [{}]
    if exp.design.kind == "grid":
        return _grid(unc)
    assert exp.design.samples is not None
    u = latin_hypercube(len(unc), exp.design.samples, exp.seed)
    cols = [_from_unit(ax, u[:, j]) for j, ax in enumerate(unc)]
    return [dict(zip([ax.path for ax in unc], row, strict=True)) for row in zip(*cols, strict=True)]


def policies(exp: ExperimentSpec) -> list[dict[str, Any]]:
    """Every lever setting (a policy, ``{path: value}``): the full grid of the levers' levels."""
    return _grid(exp.levers) if exp.levers else [{}]


def robustness_points(exp: ExperimentSpec) -> list[dict[str, Any]]:
    """Levers x uncertainty ensemble: every policy in every world, policy by policy, the worlds
    in the same order for each (so a world is the same draw whichever policy meets it)."""
    ws = worlds(exp)
    return [{**pol, **w} for pol in policies(exp) for w in ws]


def _robustness_size(exp: ExperimentSpec) -> int | None:
    counts = [_axis_count(ax) for ax in exp.levers]
    if any(c is None for c in counts):
        return None
    if exp.design.kind == "grid":
        unc = [_axis_count(ax) for ax in exp.uncertainties]
        if any(c is None for c in unc):
            return None
        n_worlds = math.prod(c for c in unc if c is not None)
    elif exp.design.samples is None:
        return None
    else:
        n_worlds = exp.design.samples if exp.uncertainties else 1
    return math.prod(c for c in counts if c is not None) * n_worlds


def run_seed(master: int, run_id: int) -> int:
    """The seed of run ``run_id``: child ``run_id`` of ``SeedSequence(master)`` (as ``spawn`` gives)."""
    state = np.random.SeedSequence(master, spawn_key=(run_id,)).generate_state(2, np.uint32)
    return (int(state[0]) << 31) | (int(state[1]) >> 1)  # 63 bits: fits a signed 64-bit column


# --------------------------------------------------------------------------------------------
# the checked experiment


@dataclass(frozen=True, eq=False)
class Experiment:
    """A checked experiment: its spec, the base scenario data, and its points."""

    spec: ExperimentSpec
    base: dict[str, Any]
    base_scenario: scn.Scenario
    file: str
    scenario_file: str

    @cached_property
    def points(self) -> list[dict[str, Any]]:
        return design_points(self.spec)

    @property
    def n_runs(self) -> int:
        n = design_size(self.spec)
        return (len(self.points) if n is None else n) * self.spec.replicates

    @property
    def axis_paths(self) -> list[str]:
        return [ax.path for ax in self.spec.axes]

    @cached_property
    def n_worlds(self) -> int:
        """How many worlds (uncertainty samples) a robustness experiment has (1 for other experiments)."""
        return len(worlds(self.spec)) if self.spec.is_robustness else 1

    def seed_of(self, run_id: int) -> int:
        """The seed of run ``run_id``: ``run_seed(seed, run_id)``; in a robustness experiment,
        ``run_seed(seed, k)`` with ``k`` the run's world and replicate (``world * replicates +
        replicate``), the same for every policy: each policy meets the same chance events in the
        same world (common random numbers), so a regret measures the policy, not the draws."""
        if not self.spec.is_robustness:
            return run_seed(self.spec.seed, run_id)
        point_id, rep = divmod(run_id, self.spec.replicates)
        return run_seed(self.spec.seed, (point_id % self.n_worlds) * self.spec.replicates + rep)

    @property
    def notes(self) -> list[str]:
        """Deprecation notes: axes that address a red line by its position (``red_lines[2]``),
        which silently changes meaning when the scenario's red lines are reordered."""
        out = []
        for k, ax in enumerate(self.spec.axes):
            tokens = parse_path(ax.path)
            if any(a == "red_lines" and isinstance(b, int) for a, b in itertools.pairwise(tokens)):
                out.append(f"{self.file}: {_render(axis_loc(self.spec, k))}.path: {ax.path} addresses a red line by "
                           "its position, which is deprecated (reordering the red lines would change what it "
                           "varies): give the red line an id in the scenario and write red_lines.<id>")
        return out

    @cached_property
    def digest(self) -> str:
        """SHA-256 of what determines the results: the experiment and the base scenario's content."""
        blob = json.dumps({"experiment": _digest_fields(self.spec), "scenario": self.base}, sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def chunk_size(self) -> int:
        if self.spec.chunk_size:
            return self.spec.chunk_size
        return int(min(200, max(1, math.ceil(self.n_runs / 16))))

    def scenario_data(self, point: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(self.base)
        for path, value in point.items():
            set_path(data, path, value)
        return data

    def scenario_for(self, point: dict[str, Any]) -> scn.Scenario:
        """The compiled scenario at one point (raises ``InputError`` if the point is invalid)."""
        return scn.parse(self.scenario_data(point), file=f"{self.scenario_file} at {point}")


def axis_loc(spec: ExperimentSpec, k: int) -> tuple[str, int]:
    """Where axis ``k`` is written in the file: ``axes[k]``, or the lever or uncertainty it is."""
    if not spec.is_robustness:
        return ("axes", k)
    n = len(spec.levers)
    return ("levers", k) if k < n else ("uncertainties", k - n)


def _digest_fields(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as hashed: without ``chunk_size`` (it changes no result), and without the fields
    added later (levers, uncertainties, an axis's label) where they are unset, so that an older
    experiment keeps its hash and its results folder stays resumable."""
    data = spec.model_dump(mode="json", exclude={"chunk_size"})
    for key in ("levers", "uncertainties"):
        if not data.get(key):
            data.pop(key, None)
    for key in ("axes", "levers", "uncertainties"):
        for ax in data.get(key) or []:
            if ax.get("label") is None:
                ax.pop("label", None)
    return data


def _check_axes(spec: ExperimentSpec, base: dict[str, Any], lines: LineMap, scenario_file: str) -> list[Fault]:
    out: list[Fault] = []
    paths = [ax.path for ax in spec.axes]
    for k, ax in enumerate(spec.axes):
        problem = (_axis_shape_fault(spec, k, paths, lines)
                   or _probe_axis(ax, axis_loc(spec, k), base, lines, scenario_file))
        if problem is not None:
            out.append(problem)
    return out + _check_design(spec, paths, lines)


def _axis_shape_fault(spec: ExperimentSpec, k: int, paths: list[str], lines: LineMap) -> Fault | None:
    """What is wrong with axis ``k`` itself (its path repeated, values and range, steps), if anything."""
    ax = spec.axes[k]
    loc = axis_loc(spec, k)
    if paths.index(ax.path) != k:
        first = axis_loc(spec, paths.index(ax.path))
        where = f"axis {first[1]}" if first[0] == "axes" else _render(first)
        return fault(lines, (*loc, "path"), f"{ax.path!r} is already {where}")
    if (ax.values is None) == (ax.range is None):
        what = {"axes": "an axis", "levers": "a lever", "uncertainties": "an uncertainty"}[loc[0]]
        return fault(lines, loc, f"{what} needs exactly one of values or range")
    if ax.range is not None:
        if not ax.range[0] < ax.range[1]:
            return fault(lines, (*loc, "range"), f"range must go from low to high, got {list(ax.range)}")
        if spec.design.kind == "grid" and ax.steps is None:
            return fault(lines, loc, "a range axis in a grid design needs steps (how many values)")
        if loc[0] == "levers" and ax.steps is None:
            return fault(lines, loc, "a lever with a range needs steps (how many settings to compare)")
    if ax.values is not None and len({type(v) for v in ax.values} - {int, float}) > 0 and len(
        {type(v) for v in ax.values}
    ) > 1:
        return fault(lines, (*loc, "values"), "values must all be numbers, all text or all true/false")
    return None


def _probe_axis(ax: Any, loc: tuple[str | int, ...], base: dict[str, Any], lines: LineMap,
                scenario_file: str) -> Fault | None:
    """The first fault of setting the axis to its values (or its range's ends) in the base scenario."""
    probes: list[Any]
    if ax.values is not None:
        probes = list(ax.values)
    else:
        assert ax.range is not None
        probes = [int(round(v)) for v in ax.range] if ax.integer else list(ax.range)
    for value in probes:
        data = copy.deepcopy(base)
        try:
            where = set_path(data, ax.path, value)
        except PathError as e:
            return fault(lines, (*loc, "path"), f"{ax.path!r} points nowhere in {scenario_file}: {e}")
        if (what := scn.changed_ids(base, data)) is not None:
            return fault(lines, loc, f"{ax.path} = {echo(value)} changes {what}; an axis may not rename, "
                         "add or remove actors or issues")
        try:
            scn.parse(data, file=scenario_file)
        except InputError as e:
            return _rejected(ax, loc, value, where, e, base, lines, scenario_file)
    return None


def _rejected(ax: Any, loc: tuple[str | int, ...], value: Any, where: tuple[str | int, ...], e: InputError,
              base: dict[str, Any], lines: LineMap, scenario_file: str) -> Fault:
    """The fault of an axis value the scenario rejects: a path to no field, a mapping the path had
    to create (with the keys there are), or the scenario's own message."""
    target = _render(where)
    hit = next((p for p in e.problems if _under(p.path, target) or _under(target, p.path)), None)
    new = _new_part(base, where)  # a mapping the path had to create: is it really there?
    in_new = next((p for p in e.problems if new and _under(p.path, _render(new))
                   and p.message.startswith("missing required field")), None)
    nowhere = f"{ax.path!r} points nowhere in {scenario_file}"
    if hit is not None and hit.message.startswith("unknown field"):
        why = hit.message.removeprefix("unknown field")
        return fault(lines, (*loc, "path"), f"{nowhere}: {hit.path} is not a scenario field{why}")
    if new and in_new is not None:
        keys = [str(key) for key in _at(base, new[:-1])]
        close = difflib.get_close_matches(str(new[-1]), keys, 1, 0.8)
        has = f"did you mean {close[0]!r}?" if close else f"has: {_short(keys)}"
        msg = f"{nowhere}: {_render(new[:-1]) or 'the scenario'} has no {new[-1]!r} ({has})"
        return fault(lines, (*loc, "path"), msg)
    p = hit or e.problems[0]
    hint = ""
    wants_int = p.message.startswith("input should be a valid integer")
    if ax.range is not None and not ax.integer and wants_int:
        hint = " (a range gives decimal numbers: add integer: true for whole numbers)"
    return fault(lines, loc, f"{ax.path} = {echo(value)} is rejected by the scenario: "
                 f"{p.path + ': ' if p.path else ''}{p.message}{hint}")


def _check_design(spec: ExperimentSpec, paths: list[str], lines: LineMap) -> list[Fault]:
    """The design's faults: samples missing, a list design's points (none, or not the axes)."""
    out: list[Fault] = []
    d = spec.design
    if spec.is_robustness and d.kind not in ("lhs", "grid"):
        return [fault(lines, ("design", "kind"), f"levers and uncertainties take an lhs design (an ensemble of "
                      f"sampled worlds) or a grid of the uncertainties, not {d.kind}")]
    if spec.is_robustness and d.kind == "lhs" and d.samples is None:
        return [fault(lines, ("design",), "an lhs design needs samples (how many worlds to draw from the "
                      "uncertainties)")]
    if d.kind in ("lhs", "sobol", "morris") and d.samples is None:
        article = "an" if d.kind == "lhs" else "a"
        out.append(fault(lines, ("design",), f"{article} {d.kind} design needs samples (how many points)"))
    if d.kind == "list":
        if not d.points:
            out.append(fault(lines, ("design",), "a list design needs points"))
        for j, point in enumerate(d.points or []):
            missing = [p for p in paths if p not in point]
            extra = [p for p in point if p not in paths]
            if missing or extra:
                what = (f"no value for {', '.join(missing)}" if missing else "") + (
                    ("; " if missing and extra else "") + f"{', '.join(extra)} is not an axis" if extra else ""
                )
                out.append(fault(lines, ("design", "points", j), what))
    elif d.points is not None:
        out.append(fault(lines, ("design", "points"), f"points are only for a list design, not {d.kind}"))
    return out


def _at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def _new_part(base: dict[str, Any], where: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The first part of ``where`` that is not in ``base`` (``set_path`` creates it), or ``None``."""
    cur: Any = base
    for k, part in enumerate(where[:-1]):
        if isinstance(cur, dict) and cur.get(part) is None:
            return where[: k + 1]
        cur = cur[part]
    return None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def load(path: str | Path) -> Experiment:
    """Read and check an experiment file and its base scenario.

    Every axis is checked before anything runs: its path must point into the scenario, and
    each of its values (a range's two ends) must give a valid scenario.

    Raises:
        InputError: one line per fault, naming the file, the field and what is wrong.
    """
    spec, lines = read_model(path, ExperimentSpec)
    file = str(path)
    too_large = _size_faults(spec, lines)  # counted, not built: before anything is allocated
    if too_large:
        raise InputError(file, too_large)
    scenario_path = (Path(path).parent / spec.scenario).resolve()
    rel = display_path(scenario_path)
    if not scenario_path.exists():  # (a folder or a special file: load_data says so)
        where = "" if Path(spec.scenario).is_absolute() else " (a relative path starts at the experiment's folder)"
        raise InputError(file, [fault(lines, ("scenario",), f"no scenario file at {rel}{where}")])
    base, base_lines = scn.load_data(scenario_path)
    base_scenario = scn.parse(base, rel, base_lines)  # the base scenario itself must be valid
    faults = _check_axes(spec, base, lines, rel)
    if faults:
        raise InputError(file, faults)
    exp = Experiment(spec, base, base_scenario, file, rel)
    if exp.spec.design.kind == "list":
        for j, point in enumerate(exp.points):
            if (what := scn.changed_ids(base, exp.scenario_data(point))) is not None:
                raise InputError(file, [fault(lines, ("design", "points", j), f"changes {what}; a point may not "
                                              "rename, add or remove actors or issues")])
            try:
                exp.scenario_for(point)
            except InputError as e:
                p = e.problems[0]
                raise InputError(file, [fault(lines, ("design", "points", j), "rejected by the scenario: "
                                              f"{p.path + ': ' if p.path else ''}{p.message}")]) from None
    return exp


def from_resolved(stored: dict[str, Any], file: str) -> Experiment:
    """The experiment a sweep ran, from its results folder's record (``model.sweep.resolved_experiment``)."""
    spec = ExperimentSpec.model_validate(stored["experiment"])
    base = stored["scenario"]
    scenario_file = str(stored.get("scenario_file") or file)
    return Experiment(spec, base, scn.parse(copy.deepcopy(base), scenario_file), file, scenario_file)

#: Fields only an experiment file has (a scenario file has none of them).
EXPERIMENT_KEYS = ("scenario", "design", "axes", "levers", "uncertainties", "replicates", "chunk_size")
#: Fields only a scenario file (or a variant) has.
SCENARIO_KEYS = ("actors", "issues", "extends", "set", "protocol", "title")


def looks_like_experiment(data: dict[str, Any]) -> bool:
    """Whether file data is meant as an experiment (to check it as one and name its real faults):
    it has a field only experiments have and none only scenarios have."""
    return any(k in data for k in EXPERIMENT_KEYS) and not any(k in data for k in SCENARIO_KEYS)
