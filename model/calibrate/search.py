"""The search: the parameters varied (``search_space``), the Latin hypercube over them (``design``), the
runs of each point with every seed and their fit, and the best point (``calibrate``).
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import scenario as scn
from model.calibrate.distance import COMPONENTS, components, distance
from model.calibrate.track import Observed, Probe, Track, track_of
from model.errors import InputError
from model.experiment import get_path, latin_hypercube, run_seed
from model.negotiation import Negotiation
from model.sweep import _compiled

# --------------------------------------------------------------------------------------------
# the search


@dataclass(frozen=True)
class Parameter:
    """A scenario field the search varies, over ``[low, high]``; with ``of_rest``, the value is
    that share of ``1 -`` the value at the path ``of_rest`` (so the two never sum above 1)."""

    path: str
    low: float
    high: float
    meaning: str
    of_rest: str | None = None


def search_space(actor: str, counterpart: str) -> tuple[Parameter, ...]:
    """The pausing actor's trust and its counterpart's delivery reliability."""
    full = f"actors.{counterpart}.delivery.full"
    return (
        Parameter(f"actors.{actor}.trust.prior", 0.1, 0.9, f"{actor}'s prior trust that {counterpart} delivers"),
        Parameter(f"actors.{actor}.trust.threshold", 0.1, 0.7, f"{actor} pauses while its trust is below this"),
        Parameter(f"actors.{actor}.trust.memory", 0.2, 1.0,
                  f"share of old evidence {actor} keeps at each delivery (1: it forgets nothing)"),
        Parameter(full, 0.2, 1.0, f"probability that {counterpart} delivers a promise in full"),
        Parameter(f"actors.{counterpart}.delivery.partial", 0.0, 1.0,
                  "probability that it delivers only part of it (searched as a share of 1 - full)", of_rest=full),
    )


def design(space: tuple[Parameter, ...], n: int, seed: int) -> list[dict[str, float]]:
    """``n`` points of a Latin hypercube over ``space`` (values rounded to 3 decimals), drawn
    from the seed's design stream (as experiment designs are)."""
    if n == 0:
        return []
    u = latin_hypercube(len(space), n, seed)
    points = []
    for row in u:
        point: dict[str, float] = {}
        for par, x in zip(space, row, strict=True):
            v = par.low + float(x) * (par.high - par.low)
            if par.of_rest is not None:
                v *= 1.0 - point[par.of_rest]
            point[par.path] = round(v, 3)
        points.append(point)
    return points


@dataclass(frozen=True)
class PointTask:
    """One point of the search with every seed, self-contained so that any worker can run it."""

    point: int
    values: tuple[tuple[str, Any], ...]
    base_json: str
    digest: str
    scenario_file: str
    seeds: tuple[int, ...]
    probe: Probe


@dataclass(frozen=True)
class PointRuns:
    point: int
    tracks: tuple[Track, ...]
    error: str | None = None


def simulate_point(task: PointTask) -> PointRuns:
    """Run the scenario at one point once per seed, through the track's window (in a worker); an
    invalid point is reported."""
    try:
        sc = _compiled(task.digest, task.values, task.base_json, task.scenario_file)
    except InputError as e:
        return PointRuns(task.point, (), f"invalid scenario at this point: {e}")
    tracks = []
    for seed in task.seeds:
        m = Negotiation(sc, rng=seed, collect=True)
        while m.running and m.round < task.probe.months:  # the rounds after the window change nothing in it
            m.step()
        tracks.append(track_of(m, task.probe))
    return PointRuns(task.point, tuple(tracks))


@dataclass(frozen=True)
class PointFit:
    """A point of the search: its values, its runs, and the seed means of the distance."""

    values: dict[str, float]
    tracks: tuple[Track, ...]
    parts: dict[str, float]  # each component's mean over seeds
    distance: float  # mean over seeds
    se: float  # standard error of that mean
    error: str | None = None


def fit_point(values: dict[str, float], runs: PointRuns, obs: Observed) -> PointFit:
    """The seed means of the distance and its components at one point."""
    if runs.error is not None or not runs.tracks:
        nan = dict.fromkeys(COMPONENTS, float("nan"))
        return PointFit(values, runs.tracks, nan, float("nan"), float("nan"), runs.error or "no runs")
    per_run = [components(t, obs) for t in runs.tracks]
    d = np.array([distance(p, obs.spec.weights) for p in per_run])
    parts = {k: float(np.mean([p[k] for p in per_run])) for k in COMPONENTS}
    se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return PointFit(values, runs.tracks, parts, float(np.mean(d)), se)


@dataclass(frozen=True)
class Calibration:
    """The search's result: every point (the scenario's own values first) and the best."""

    observed: Observed
    scenario: scn.Scenario
    scenario_file: Path
    space: tuple[Parameter, ...]
    points: list[PointFit]
    seed: int
    seeds: tuple[int, ...]
    seconds: float

    @property
    def best(self) -> int:
        """The point with the smallest mean distance (the first of equals)."""
        d = np.array([p.distance for p in self.points])
        return int(np.nanargmin(d)) if np.isfinite(d).any() else 0

    @property
    def baseline(self) -> PointFit:
        return self.points[0]


def calibrate(
    scenario_file: Path,
    observed: Observed,
    n_points: int,
    n_seeds: int,
    seed: int,
    pool: Any,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Run the scenario's own values and ``n_points`` points of a Latin hypercube over the search
    space, each with the same ``n_seeds`` seeds (children of ``seed``), on ``pool`` (a
    ``model.sweep.Pool``); ``progress(done, total)`` counts runs. The same arguments give the
    same result on every backend."""
    data, lines = scn.load_data(scenario_file)
    sc = scn.parse(copy.deepcopy(data), str(scenario_file), lines)
    probe = observed.probe
    space = search_space(probe.actor, probe.counterpart)
    current = sc.spec.model_dump()
    points = [{par.path: float(get_path(current, par.path)) for par in space}, *design(space, n_points, seed)]
    seeds = tuple(run_seed(seed, k) for k in range(n_seeds))
    base_json = json.dumps(data, sort_keys=True, default=str)
    digest = hashlib.sha256(base_json.encode()).hexdigest()
    tasks = [PointTask(k, tuple(pt.items()), base_json, digest, str(scenario_file), seeds, probe)
             for k, pt in enumerate(points)]
    t0 = time.perf_counter()
    total = len(tasks) * n_seeds
    done = 0
    if progress:
        progress(0, total)
    results: dict[int, PointRuns] = {}
    futures = [pool.ex.submit(simulate_point, t) for t in tasks]
    for f in cf.as_completed(futures):
        r = f.result()
        results[r.point] = r
        done += n_seeds
        if progress:
            progress(done, total)
    fits = [fit_point(points[k], results[k], observed) for k in range(len(points))]
    return Calibration(observed, sc, scenario_file, space, fits, seed, seeds, time.perf_counter() - t0)
