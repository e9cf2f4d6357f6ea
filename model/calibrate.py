"""Calibration: how far the step-by-step protocol's runs are from an observed track, and which
trust and delivery parameters bring them closest (``bargain calibrate``).

An *observed track* (``scenarios/observed/*.yaml``, schema ``TrackSpec``) gives, month by month,
the values of the issues that moved on the real track, the prisoners freed (as counts), the
months an actor paused and the partial deliveries before it, and a target band for the
cumulative releases. A run is read into the same form (``track_of``), and ``components``
compares the two, one number in [0, 1] per feature (0: as observed); the distance is their
weighted mean, averaged over seeds. docs/model.md ("Calibration") gives every formula.

The search (``calibrate``) runs the scenario's own values and a Latin hypercube over the
pausing actor's trust and its counterpart's delivery (``search_space``), every point with the
same seeds, on the sweep's executors (``model.sweep.executor``), and keeps the point with the
smallest mean distance. ``report_markdown`` says how well or badly that fits, and
``variant_text`` writes it as a scenario variant.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import datetime as dt
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from model import scenario as scn
from model.core.space import BoolArray, FloatArray
from model.errors import Fault, InputError
from model.experiment import DESIGN_KEY, display_path, get_path, run_seed
from model.negotiation import Negotiation
from model.protocols.base import Delivery
from model.scenario import Identifier, SourceSpec, Text, Unit
from model.sweep import _compiled
from model.yamlio import LineMap, fault, load_yaml, validation_faults

#: Where ``bargain calibrate`` looks for the track when none is given (from the scenario's folder).
DEFAULT_TRACK = Path("observed") / "belarus_track_2025_26.yaml"

#: Months in a year: the release count compares the first year of the track.
YEAR = 12

#: Smallest change of an issue's value that counts as a move (a release, a delivery).
MOVE = 1e-9

Month = Annotated[int, Strict(), Field(ge=0, le=1000)]
Weight = Annotated[float, Strict(), Field(ge=0.0, le=100.0)]


# --------------------------------------------------------------------------------------------
# the observed track: schema


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepSpec(_Spec):
    """From ``month`` on, the issue stands at ``value`` (until a later step)."""

    month: Month
    value: Unit
    source: Text
    note: Text | None = None


class IssueTrackSpec(_Spec):
    """An issue's observed path: its status quo (January of the first month), then its steps."""

    status_quo: Unit = 0.0
    steps: Annotated[list[StepSpec], Field(min_length=1)]


class ReleaseSpec(_Spec):
    """Prisoners freed in one event."""

    month: Month
    count: Annotated[int, Strict(), Field(ge=1, le=10_000_000)]
    source: Text
    note: Text | None = None


class ReleasesSpec(_Spec):
    """The releases, as counts; the ``issue``'s value is the cumulative count over ``scale`` (the
    number of prisoners that is the whole scale)."""

    issue: Identifier
    scale: Annotated[int, Strict(), Field(ge=1, le=10_000_000)]
    scale_source: Text
    events: Annotated[list[ReleaseSpec], Field(min_length=1)]


class PauseSpec(_Spec):
    """The months ``actor`` paused, and the months ``counterpart`` delivered less than it promised.
    A pause counts as caused by a partial delivery when it starts in its month or up to ``within``
    months after it."""

    actor: Identifier
    counterpart: Identifier
    months: list[Month]
    partial_delivery: list[Month]
    within: Annotated[int, Strict(), Field(ge=0, le=1000)] = 2
    source: Text


class CumulativeSpec(_Spec):
    """By the end of ``month``, between ``low`` and ``high`` prisoners freed in all."""

    month: Month
    low: Annotated[int, Strict(), Field(ge=0)]
    high: Annotated[int, Strict(), Field(ge=1)]
    source: Text


class TargetsSpec(_Spec):
    cumulative: CumulativeSpec


class WeightsSpec(_Spec):
    """The weight of each component in the distance (docs/model.md, "Calibration")."""

    trajectory: Weight = 1.0
    release_timing: Weight = 1.0
    release_count: Weight = 1.0
    cumulative: Weight = 1.0
    pause_timing: Weight = 1.0
    pause_cause: Weight = 1.0
    resumption: Weight = 1.0
    settlement: Weight = 1.0


class TrackSpec(_Spec):
    """An observed negotiation track, month by month from ``start`` (month 0 = round 1).

    ``scenario`` names the step-by-step scenario that models this track (relative to the track
    file): ``bargain calibrate`` runs it when given that scenario's base.
    """

    name: Identifier
    title: Text
    description: Text | None = None
    scenario: Text | None = None
    start: dt.date
    months: Annotated[int, Strict(), Field(ge=2, le=1000)]
    releases: ReleasesSpec
    issues: dict[Identifier, IssueTrackSpec] = Field(default_factory=dict)
    pause: PauseSpec
    targets: TargetsSpec
    weights: WeightsSpec = Field(default_factory=WeightsSpec)
    sources: dict[Identifier, SourceSpec | Text] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# tracks: observed and simulated in one form


@dataclass(frozen=True)
class Track:
    """A negotiation month by month, as calibration reads it (observed, or one run).

    Args:
        values: ``(M, I)`` each tracked issue's value at the end of month ``m`` (the release
            issue first).
        paused: ``(M,)`` whether the pausing actor was paused in month ``m``.
        partial: ``(M,)`` whether its counterpart delivered less than it promised in month ``m``.
        settled: the month of a settlement every party accepted (``None``: none in the window).
    """

    values: FloatArray
    paused: BoolArray
    partial: BoolArray
    settled: int | None = None


@dataclass(frozen=True)
class Probe:
    """What to read from a run: the tracked issues, who pauses, who delivers, and for how long."""

    issues: tuple[str, ...]
    actor: str
    counterpart: str
    months: int


@dataclass(frozen=True)
class Observed:
    """A checked observed track, ready to compare runs with.

    Args:
        spec: the track file's content.
        file: its path (for messages).
        status_quo: ``(I,)`` the tracked issues' values before month 0.
        track: the observed values, pauses and partial deliveries (no settlement).
    """

    spec: TrackSpec
    file: str
    status_quo: FloatArray
    track: Track

    @property
    def issues(self) -> tuple[str, ...]:
        return (self.spec.releases.issue, *self.spec.issues)

    @property
    def months(self) -> int:
        return self.spec.months

    @property
    def band(self) -> tuple[float, float]:
        """The cumulative target as shares of the release issue's scale."""
        c = self.spec.targets.cumulative
        return c.low / self.spec.releases.scale, c.high / self.spec.releases.scale

    @property
    def probe(self) -> Probe:
        return Probe(self.issues, self.spec.pause.actor, self.spec.pause.counterpart, self.months)

    def month_label(self, m: int) -> str:
        k = self.spec.start.year * 12 + self.spec.start.month - 1 + m
        return f"{k // 12}-{k % 12 + 1:02d}"


_TAG = re.compile(r"\[([A-Za-z][A-Za-z0-9_.-]*)\]")


def read_track(path: str | Path) -> tuple[TrackSpec, LineMap]:
    """Read a track file and check it on its own: months inside the window, steps in order,
    every cited source in its ``sources`` map.

    Raises:
        InputError: one line per fault, naming the file, the line and the field.
    """
    data, lines = load_yaml(path)
    file = str(path)
    try:
        spec = TrackSpec.model_validate(data)
    except ValidationError as e:
        raise InputError(file, validation_faults(e, data, lines, TrackSpec)) from None
    out: list[Fault] = []

    def bad(loc: tuple[str | int, ...], msg: str) -> None:
        out.append(fault(lines, loc, msg))

    def in_window(loc: tuple[str | int, ...], month: int) -> None:
        if month >= spec.months:
            bad(loc, f"month {month} is outside the track's {spec.months} months (0 to {spec.months - 1})")

    for k, ev in enumerate(spec.releases.events):
        in_window(("releases", "events", k, "month"), ev.month)
    for iid, it in spec.issues.items():
        if iid == spec.releases.issue:
            bad(("issues", iid), f"{iid} is the release issue: its values come from releases.events")
        for k, st in enumerate(it.steps):
            in_window(("issues", iid, "steps", k, "month"), st.month)
            if k and st.month <= it.steps[k - 1].month:
                bad(("issues", iid, "steps", k, "month"),
                    f"steps must come in order of month: {st.month} follows {it.steps[k - 1].month}")
    for key in ("months", "partial_delivery"):
        for k, month in enumerate(getattr(spec.pause, key)):
            in_window(("pause", key, k), month)
    if spec.pause.actor == spec.pause.counterpart:
        bad(("pause", "counterpart"), "an actor does not pause because of its own deliveries")
    cum = spec.targets.cumulative
    in_window(("targets", "cumulative", "month"), cum.month)
    if cum.low > cum.high:
        bad(("targets", "cumulative", "low"), f"low {cum.low} is above high {cum.high}")
    total = sum(ev.count for ev in spec.releases.events)
    if total > spec.releases.scale:
        bad(("releases", "scale"), f"{total} prisoners freed in all, more than the scale's {spec.releases.scale}")
    if sum(spec.weights.model_dump().values()) <= 0:
        bad(("weights",), "at least one weight must be above 0")
    for loc, text in _cited(spec):
        for tag in _TAG.findall(text):
            if tag not in spec.sources:
                bad(loc, f"cites [{tag}], which is not in the sources map")
    if out:
        raise InputError(file, out)
    return spec, lines


def _cited(spec: TrackSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """Every source text of the track, with its location."""
    out: list[tuple[tuple[str | int, ...], str]] = [
        (("releases", "scale_source"), spec.releases.scale_source),
        (("pause", "source"), spec.pause.source),
        (("targets", "cumulative", "source"), spec.targets.cumulative.source),
    ]
    out += [(("releases", "events", k, "source"), ev.source) for k, ev in enumerate(spec.releases.events)]
    out += [(("issues", iid, "steps", k, "source"), st.source)
            for iid, it in spec.issues.items() for k, st in enumerate(it.steps)]
    return out


def check_track(spec: TrackSpec, lines: LineMap, file: str, sc: scn.Scenario) -> Observed:
    """Check a track against the scenario it is compared with, and build the observed ``Track``.

    Raises:
        InputError: an issue or actor the scenario does not have, a status quo that differs from
            the scenario's, or a track longer than the scenario's deadline.
    """
    p = sc.problem
    ids = list(p.space.ids)
    out: list[Fault] = []
    where = f"in {sc.file}"
    known = ", ".join(ids[:8]) + (f", ... ({len(ids)} in all)" if len(ids) > 8 else "")
    rel = spec.releases.issue
    if rel not in ids:
        out.append(fault(lines, ("releases", "issue"), f"unknown issue {rel!r} {where} (known: {known})"))
    elif abs(p.space.status_quo[ids.index(rel)]) > MOVE:
        out.append(fault(lines, ("releases", "issue"), f"{rel} starts at {p.space.status_quo[ids.index(rel)]:g} "
                         f"{where}: releases are counted from 0"))
    for iid, it in spec.issues.items():
        if iid not in ids:
            out.append(fault(lines, ("issues", iid), f"unknown issue {iid!r} {where} (known: {known})"))
            continue
        sq = float(p.space.status_quo[ids.index(iid)])
        if abs(sq - it.status_quo) > 1e-6:
            out.append(fault(lines, ("issues", iid, "status_quo"),
                             f"{it.status_quo:g} differs from the scenario's status quo {sq:g} {where}"))
    for key in ("actor", "counterpart"):
        aid = getattr(spec.pause, key)
        if aid not in p.actor_ids:
            out.append(fault(lines, ("pause", key), f"unknown actor {aid!r} {where} "
                             f"(known: {', '.join(p.actor_ids)})"))
    deadline = sc.spec.protocol.max_rounds
    if spec.months > deadline:
        out.append(fault(lines, ("months",), f"{spec.months} months, but the scenario {sc.file} stops after "
                         f"protocol.max_rounds = {deadline} rounds (one round per month)"))
    if out:
        raise InputError(file, out)
    m_all = spec.months
    values = np.zeros((m_all, 1 + len(spec.issues)))
    freed = np.zeros(m_all, dtype=np.int64)
    for ev in spec.releases.events:
        freed[ev.month] += ev.count
    values[:, 0] = np.cumsum(freed) / spec.releases.scale
    for j, it in enumerate(spec.issues.values(), start=1):
        values[:, j] = it.status_quo
        for st in it.steps:
            values[st.month:, j] = st.value
    paused = np.zeros(m_all, dtype=bool)
    paused[spec.pause.months] = True
    partial = np.zeros(m_all, dtype=bool)
    partial[spec.pause.partial_delivery] = True
    status_quo = np.array([0.0, *(it.status_quo for it in spec.issues.values())])
    return Observed(spec, file, status_quo, Track(values, paused, partial, None))


def load_track(path: str | Path, sc: scn.Scenario) -> Observed:
    """Read a track file and check it against ``sc`` (``read_track``, then ``check_track``)."""
    spec, lines = read_track(path)
    return check_track(spec, lines, str(path), sc)


def calibration_scenario(scenario_file: Path, spec: TrackSpec, track_file: Path) -> tuple[Path, str | None]:
    """The step-by-step scenario to calibrate when asked for ``scenario_file``, and a note when it
    is another file.

    The observed track is a sequence of tranches, so only the ``incremental`` protocol can be
    compared with it. A scenario that runs another protocol is calibrated through the track's
    own scenario (``spec.scenario``), if that one extends it (``belarus_us_2025.yaml`` runs
    the package protocol, and ``belarus_stepwise.yaml`` is its step-by-step variant).

    Raises:
        InputError: the scenario is not incremental, and the track's scenario does not extend it or is
            not incremental either.
    """
    data, lines = scn.load_data(scenario_file)
    kind = scn.parse(copy.deepcopy(data), str(scenario_file), lines).spec.protocol.kind
    if kind == "incremental":
        return scenario_file, None
    ours = (track_file.parent / spec.scenario).resolve() if spec.scenario else None
    via = ours if ours is not None and scenario_file.resolve() in _bases(ours) else None
    if via is not None and scn.load(via).spec.protocol.kind == "incremental":
        note = (f"{scenario_file} runs the {kind} protocol; calibrating its step-by-step variant "
                f"{display_path(via)}, the scenario the track {track_file.name} names")
        return Path(display_path(via)), note
    hint = f" such as {display_path(ours)}" if ours is not None and ours.is_file() else ""
    raise InputError(str(scenario_file), [fault(lines, ("protocol", "kind"), (
        f"the scenario runs the {kind} protocol, but calibration compares step-by-step runs with the observed "
        f"track: give a scenario with protocol.kind incremental{hint}"))])


def _bases(path: Path) -> list[Path]:
    """The files a scenario extends, nearest first (its ``extends:`` chain)."""
    out: list[Path] = []
    here = path
    while here.is_file() and len(out) < 100:
        try:
            data, _ = load_yaml(here)
        except InputError:
            break
        ref = data.get("extends")
        if not isinstance(ref, str):
            break
        here = (here.parent / ref).resolve()
        out.append(here)
    return out


# --------------------------------------------------------------------------------------------
# reading a run

def track_of(m: Negotiation, probe: Probe) -> Track:
    """Read a run (collected with the DataCollector), finished or stopped at the window's end, as a ``Track``.

    Month ``m`` is round ``m + 1``. Values are the DataCollector's ``state.<issue>`` after each
    round, pauses its ``paused`` record of the pausing actor, partial deliveries the counterpart's
    ``Delivery`` events short of full. After a run that ended before the last month,
    the state holds and no one pauses.
    """
    n_m = probe.months
    mdf = m.datacollector.get_model_vars_dataframe()
    n = min(len(mdf), n_m)
    idx = [m.problem.space.index(i) for i in probe.issues]
    values = np.empty((n_m, len(idx)))
    values[n:] = m.state[idx]
    if n:
        values[:n] = mdf[[f"state.{i}" for i in probe.issues]].to_numpy(dtype=float)[:n]
    paused = np.zeros(n_m, dtype=bool)
    adf = m.datacollector.get_agent_vars_dataframe()
    if len(adf):
        rows = adf[adf["actor"] == probe.actor].sort_index(level=0)
        flags = rows["paused"].to_numpy(dtype=bool)[:n_m]
        paused[: len(flags)] = flags
    partial = np.zeros(n_m, dtype=bool)
    for ev in m.events:  # the counterpart's deliveries short of full (``Negotiation.deliver``)
        if isinstance(ev, Delivery) and ev.actor == probe.counterpart and not ev.full and 1 <= ev.round <= n_m:
            partial[ev.round - 1] = True
    o = m.outcome
    settled = o.rounds - 1 if o is not None and o.agreed and o.rounds <= n_m else None
    return Track(values, paused, partial, settled)


# --------------------------------------------------------------------------------------------
# the distance

#: The components of the distance, each in [0, 1] (0: as observed), in plain words.
COMPONENTS: dict[str, str] = {
    "trajectory": "root-mean-square gap between simulated and observed values, over every month and tracked issue",
    "release_timing": "Jaccard distance between the months with a release, simulated and observed",
    "release_count": "release months in the first year, relative gap to the observed count",
    "cumulative": "prisoners freed by the target month outside the target band, relative to its upper end",
    "pause_timing": "Jaccard distance between the paused months, simulated and observed",
    "pause_cause": "1 if no pause starts in the month of a partial delivery or soon after it",
    "resumption": "1 without a release after that pause, 1/2 if the first release after it is not larger "
                  "than the last one before it, 0 if it is",
    "settlement": "1 if the run settles within the window (none observed)",
}


def increments(values: FloatArray, start: float) -> FloatArray:
    """Month-by-month change of one issue, the first month against ``start``."""
    return np.diff(values, prepend=start)


def jaccard_distance(a: BoolArray, b: BoolArray) -> float:
    """``1 - |A ∩ B| / |A ∪ B|`` for two sets of months given as masks (0 when both are empty)."""
    union = int(np.sum(a | b))
    return 0.0 if union == 0 else 1.0 - int(np.sum(a & b)) / union


def spells(mask: BoolArray) -> list[tuple[int, int]]:
    """The runs of consecutive months in ``mask``, as (first, last) month."""
    out: list[tuple[int, int]] = []
    for m in np.flatnonzero(mask):
        if out and out[-1][1] == m - 1:
            out[-1] = (out[-1][0], int(m))
        else:
            out.append((int(m), int(m)))
    return out


def caused_pauses(track: Track, within: int) -> list[tuple[int, int]]:
    """The pauses that start in the month of a partial delivery or up to ``within`` months after it."""
    partial = np.flatnonzero(track.partial)
    return [(a, b) for a, b in spells(track.paused) if np.any((a - partial >= 0) & (a - partial <= within))]


def resumption_miss(track: Track, released: FloatArray, within: int) -> float:
    """0 if the first pause caused by a partial delivery (else the first pause) is followed by a
    release larger than the last release before it; 1/2 if the first release after it is not
    larger, or there was none before it to compare with; 1 if there is no pause, or no release
    after it within the window."""
    pauses = caused_pauses(track, within) or spells(track.paused)
    if not pauses:
        return 1.0
    first, last = pauses[0]
    months = np.flatnonzero(released > MOVE)
    after = months[months > last]
    if len(after) == 0:
        return 1.0
    before = months[months < first]
    larger = len(before) > 0 and released[after[0]] > released[before[-1]] + MOVE
    return 0.0 if larger else 0.5


def components(sim: Track, obs: Observed) -> dict[str, float]:
    """Each component of the distance between one run and the observed track (docs/model.md)."""
    o = obs.track
    within = obs.spec.pause.within
    rel_sim = increments(sim.values[:, 0], float(obs.status_quo[0]))
    rel_obs = increments(o.values[:, 0], float(obs.status_quo[0]))
    year = min(YEAR, obs.months)
    n_sim = int(np.sum(rel_sim[:year] > MOVE))
    n_obs = int(np.sum(rel_obs[:year] > MOVE))
    lo, hi = obs.band
    freed = float(sim.values[obs.spec.targets.cumulative.month, 0] - obs.status_quo[0])
    return {
        "trajectory": float(np.sqrt(np.mean((sim.values - o.values) ** 2))),
        "release_timing": jaccard_distance(rel_sim > MOVE, rel_obs > MOVE),
        "release_count": min(1.0, abs(n_sim - n_obs) / max(n_obs, 1)),
        "cumulative": min(1.0, max(lo - freed - MOVE, freed - hi - MOVE, 0.0) / hi),
        "pause_timing": jaccard_distance(sim.paused, o.paused),
        "pause_cause": 0.0 if caused_pauses(sim, within) else 1.0,
        "resumption": resumption_miss(sim, rel_sim, within),
        "settlement": 0.0 if (sim.settled is None) == (o.settled is None) else 1.0,
    }


def distance(parts: dict[str, float], weights: WeightsSpec) -> float:
    """The weighted mean of the components: ``D = Σ w_k d_k / Σ w_k``."""
    w = weights.model_dump()
    return sum(w[k] * parts[k] for k in COMPONENTS) / sum(w[k] for k in COMPONENTS)


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
    from scipy.stats import qmc

    if n == 0:
        return []
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DESIGN_KEY,)))
    u = qmc.LatinHypercube(d=len(space), rng=rng).random(n)
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


# --------------------------------------------------------------------------------------------
# what the calibration writes


def points_rows(cal: Calibration) -> list[dict[str, Any]]:
    """One row per point: its values, the mean distance and each component (``points.csv``)."""
    rows = []
    for k, p in enumerate(cal.points):
        row: dict[str, Any] = {"point": k, "scenario_values": k == 0, "best": k == cal.best}
        row.update(p.values)
        row.update({"distance": p.distance, "distance_se": p.se})
        row.update(p.parts)
        row["settled_share"] = float(np.mean([t.settled is not None for t in p.tracks])) if p.tracks else float("nan")
        row["error"] = p.error or ""
        rows.append(row)
    return rows


def _mean(tracks: tuple[Track, ...]) -> FloatArray:
    return np.mean([t.values for t in tracks], axis=0)


def _share(flags: list[bool]) -> str:
    return f"{np.mean(flags):.0%}" if flags else "n/a"


def _verdict(d: float) -> str:
    return "fits" if d <= 0.1 else ("fits partly" if d <= 0.4 else "does not fit")


def _release_step(sc: scn.Scenario, issue: str) -> float:
    """The smallest move the model can make on ``issue`` (the spacing of its value grid)."""
    p = sc.problem.space
    i = p.index(issue)
    grid = np.unique(p.grid[i][p.grid_mask[i]])
    gaps = np.diff(grid)
    return float(gaps[gaps > MOVE].min()) if np.any(gaps > MOVE) else 1.0


def findings(cal: Calibration) -> list[str]:
    """Plain sentences on what fits at the best point and what does not, with the numbers."""
    obs = cal.observed
    spec = obs.spec
    best = cal.points[cal.best]
    scale = spec.releases.scale
    tracks = best.tracks
    out = []
    good = [k for k in COMPONENTS if best.parts[k] <= 0.1]
    partly = [k for k in COMPONENTS if 0.1 < best.parts[k] <= 0.4]
    poor = [k for k in COMPONENTS if best.parts[k] > 0.4]
    if good:
        out.append("Fits (component at most 0.1): " + ", ".join(good) + ".")
    if partly:
        out.append("Fits partly (0.1 to 0.4): " + ", ".join(partly) + ".")
    if poor:
        out.append("Does not fit (above 0.4): " + ", ".join(poor) + ".")
    cum = spec.targets.cumulative
    freed = [float(t.values[cum.month, 0] - obs.status_quo[0]) * scale for t in tracks]
    observed_freed = float(obs.track.values[cum.month, 0] - obs.status_quo[0]) * scale
    out.append(f"Releases: by {obs.month_label(cum.month)} (month {cum.month}) the runs have freed "
               f"{np.mean(freed):,.0f} prisoners on average (from {min(freed):,.0f} to {max(freed):,.0f}); "
               f"observed {observed_freed:,.0f}, target band {cum.low:,}-{cum.high:,}.")
    start = float(obs.status_quo[0])
    n_rel = [int(np.sum(increments(t.values[:, 0], start) > MOVE)) for t in tracks]
    n_obs = int(np.sum(increments(obs.track.values[:, 0], start) > MOVE))
    out.append(f"Release months: {np.mean(n_rel):.1f} of {obs.months} on average (observed {n_obs}).")
    step = _release_step(cal.scenario, spec.releases.issue)
    small = sum(1 for ev in spec.releases.events if ev.count / scale < step - MOVE)
    if small:
        out.append(f"The smallest move the model can make on {spec.releases.issue} is {step:g} of the scale "
                   f"(about {step * scale:,.0f} prisoners); {small} of the {len(spec.releases.events)} observed "
                   "releases are smaller, so the model cannot reproduce them as they were.")
    actor = spec.pause.actor
    paused = [bool(t.paused.any()) for t in tracks]
    caused = [bool(caused_pauses(t, spec.pause.within)) for t in tracks]
    share_by_month = np.mean([t.paused for t in tracks], axis=0)
    often = [obs.month_label(int(m)) for m in np.flatnonzero(share_by_month >= 0.5)]
    obs_pause = ", ".join(obs.month_label(int(m)) for m in np.flatnonzero(obs.track.paused)) or "none"
    out.append(f"Pauses: {actor} pauses at some point in {_share(paused)} of runs, and after a partial delivery "
               f"by {spec.pause.counterpart} in {_share(caused)}; paused in at least half the runs: "
               f"{', '.join(often) if often else 'no month'} (observed: {obs_pause}).")
    resumed = [resumption_miss(t, increments(t.values[:, 0], start), spec.pause.within) == 0.0 for t in tracks]
    out.append(f"Resumption with a larger tranche after the pause: {_share(resumed)} of runs.")
    settled = [t.settled for t in tracks if t.settled is not None]
    if settled:
        out.append(f"Settlement: {len(settled)} of {len(tracks)} runs settle within the window (median month "
                   f"{int(np.median(settled))}, {obs.month_label(int(np.median(settled)))}); none was observed.")
    else:
        out.append("Settlement: no run settles within the window, as observed.")
    gaps = np.sqrt(np.mean((_mean(tracks) - obs.track.values) ** 2, axis=0))
    worst = np.argsort(-gaps)[:3]
    out.append("Issues furthest from their observed path (root-mean-square gap of the mean run): "
               + ", ".join(f"{obs.issues[i]} {gaps[i]:.2f}" for i in worst) + ".")
    return out


def report_markdown(cal: Calibration, command: str, note: str | None, variant: Path | None) -> str:
    """The fit report: distances per component for the scenario's values and the best point, the
    best values, what fits and what does not, and the simulated and observed months side by side."""
    obs = cal.observed
    spec = obs.spec
    base, best = cal.baseline, cal.points[cal.best]
    n_ok = sum(1 for p in cal.points if p.error is None)
    lines = [
        f"# Calibration of {cal.scenario.spec.name} against {spec.name}",
        "",
        f"Generated by `{command}` on {dt.date.today().isoformat()} in {cal.seconds:.0f} s. Do not edit: run "
        "the command again. The distance and its components are defined in docs/model.md (\"Calibration\").",
        "",
        f"* Scenario: `{display_path(cal.scenario_file)}`" + (f" ({note})." if note else "."),
        f"* Observed track: `{display_path(Path(obs.file))}`: {spec.title}; {obs.months} months from "
        f"{obs.month_label(0)}, one round per month.",
        f"* Search: the scenario's own values and {len(cal.points) - 1} points of a Latin hypercube over "
        f"{len(cal.space)} parameters (seed {cal.seed}); every point runs the same {len(cal.seeds)} seeds. "
        f"{len(cal.points) - n_ok} points were invalid.",
    ]
    if variant is not None:
        lines.append(f"* Best fit written to `{display_path(variant)}`.")
    lines += ["", "## In short", ""]
    gain = base.distance - best.distance
    noise = 2 * np.hypot(base.se, best.se)
    if cal.best == 0:
        verdict = "none of the searched points comes closer than the scenario's own values"
    elif gain <= noise:
        verdict = (f"the best point is closer by {gain:.3f}, within twice the seed noise ({noise:.3f}): the "
                   "search finds no clear improvement")
    else:
        verdict = f"the best point is closer by {gain:.3f} (twice the seed noise: {noise:.3f})"
    lines.append(
        f"Distance to the observed track (0: the observed track exactly, 1: as far as each component goes): "
        f"**{base.distance:.3f}** ± {base.se:.3f} at the scenario's own values, **{best.distance:.3f}** ± "
        f"{best.se:.3f} at the best point; {verdict}. The model {_verdict(best.distance)} the observed track "
        "as a whole.")
    lines += ["", *[f"* {s}" for s in findings(cal)], ""]
    lines += ["## Parameters", "", "| parameter | meaning | searched | scenario | best fit |", "|---|---|---|---|---|"]
    for par in cal.space:
        rng = f"{par.low:g}-{par.high:g}" + (f" of 1 - {par.of_rest.rsplit('.', 1)[-1]}" if par.of_rest else "")
        lines.append(f"| `{par.path}` | {par.meaning} | {rng} | {base.values[par.path]:g} | "
                     f"{best.values[par.path]:g} |")
    w = spec.weights.model_dump()
    lines += ["", "## Distance by component", "",
              "Means over seeds; each component is in [0, 1], 0 as observed.", "",
              "| component | what it measures | weight | scenario | best fit |", "|---|---|---|---|---|"]
    for name, text in COMPONENTS.items():
        lines.append(f"| {name} | {text} | {w[name]:g} | {base.parts[name]:.3f} | {best.parts[name]:.3f} |")
    lines.append(f"| **distance** | weighted mean | | **{base.distance:.3f}** | **{best.distance:.3f}** |")
    scale = spec.releases.scale
    mb, mo = _mean(best.tracks), _mean(base.tracks)
    pb = np.mean([t.paused for t in best.tracks], axis=0)
    lines += ["", "## Month by month", "",
              f"Prisoners freed in all (observed, and the mean of the runs), and how often {spec.pause.actor} "
              "is paused.", "",
              "| month | | freed, observed | freed, best fit | freed, scenario | paused, observed | "
              "paused, best fit |", "|---|---|---|---|---|---|---|"]
    for m in range(obs.months):
        lines.append(f"| {m} | {obs.month_label(m)} | {obs.track.values[m, 0] * scale:,.0f} | "
                     f"{mb[m, 0] * scale:,.0f} | {mo[m, 0] * scale:,.0f} | "
                     f"{'yes' if obs.track.paused[m] else ''} | {pb[m]:.0%} |")
    last = obs.months - 1
    lines += ["", f"## Issues in {obs.month_label(last)} (month {last})", "",
              "| issue | observed | best fit (mean) | scenario (mean) | RMS gap over the months, best fit |",
              "|---|---|---|---|---|"]
    gaps = np.sqrt(np.mean((mb - obs.track.values) ** 2, axis=0))
    for i, iid in enumerate(obs.issues):
        lines.append(f"| {iid} | {obs.track.values[last, i]:.2f} | {mb[last, i]:.2f} | {mo[last, i]:.2f} | "
                     f"{gaps[i]:.3f} |")
    top = sorted((k for k, p in enumerate(cal.points) if p.error is None), key=lambda k: cal.points[k].distance)[:5]
    lines += ["", "## The closest points", "",
              "| point | " + " | ".join(f"`{par.path.split('.', 2)[-1]}`" for par in cal.space) + " | distance |",
              "|---|" + "---|" * (len(cal.space) + 1)]
    for k in top:
        p = cal.points[k]
        name = f"{k} (scenario)" if k == 0 else str(k)
        lines.append(f"| {name} | " + " | ".join(f"{p.values[par.path]:g}" for par in cal.space)
                     + f" | {p.distance:.3f} ± {p.se:.3f} |")
    lines += ["", "## What this search cannot change", "",
              "Only the trust and delivery parameters above are searched. Tranche sizes (`protocol.step`, "
              "`protocol.step_growth`, `protocol.gesture`), positions, saliences, red lines and spoiler rates "
              "stay as the scenario sets them: a component that stays far from 0 at every point is a finding "
              "about those parts of the model, not something a better trust value can fix. Points that differ "
              "by less than about twice their standard errors cannot be told apart with this many seeds.", ""]
    return "\n".join(lines)


def variant_text(cal: Calibration, path: Path, command: str, report: Path | None) -> str:
    """The best point as a scenario variant of the calibrated scenario, with a header that says
    where it comes from, how close it is, and what each value means."""
    sc = cal.scenario
    best, base = cal.points[cal.best], cal.baseline
    obs = cal.observed
    extends = os.path.relpath(cal.scenario_file.resolve(), path.resolve().parent)
    width = max(len(par.path) for par in cal.space)
    where = f"; report: {display_path(report)}" if report is not None else ""
    head = [
        "# " + "=" * 93,
        f"# {sc.spec.name}_fit: {sc.spec.name} with trust and delivery fitted to the observed track",
        "#",
        f"# Question: with the trust and delivery values that bring the {sc.spec.protocol.kind} protocol closest",
        f"# to the observed track ({obs.spec.name}), how does the step-by-step track run?",
        "#",
        f"# Generated by `{command}` on {dt.date.today().isoformat()}.",
        "# Do not edit by hand: run the command again.",
        "# Distance to the observed track (docs/model.md, Calibration; 0 = the observed track exactly,",
        f"# mean of {len(cal.seeds)} seeds): {best.distance:.3f} +- {best.se:.3f} at these values, "
        f"{base.distance:.3f} +- {base.se:.3f}",
        f"# at {sc.spec.name}'s own values (best of {len(cal.points)} points{where}).",
        "#",
        "# The fitted values (the scenario's own in brackets):",
    ]
    for par in cal.space:
        head.append(f"#   {par.path:<{width}}  {best.values[par.path]:<6g} [{base.values[par.path]:g}]  "
                    f"{par.meaning}")
    head.append("# " + "=" * 93)
    probe = obs.probe
    source = (f"fitted by bargain calibrate to the observed track {obs.spec.name} ({dt.date.today().isoformat()}, "
              f"distance {best.distance:.3f})")
    body: dict[str, Any] = {
        "extends": extends,
        "name": f"{sc.spec.name}_fit",
        "title": f"{sc.spec.title}, with trust and delivery fitted",
        "description": (f"As {sc.spec.name}, with {probe.actor}'s trust in {probe.counterpart} and "
                        f"{probe.counterpart}'s delivery reliability set to the values that bring the runs closest "
                        f"to the observed track {obs.spec.name} ({obs.spec.title}). Generated by bargain calibrate."),
        "set": {**{par.path: best.values[par.path] for par in cal.space},
                f"actors.{probe.actor}.trust.source": source,
                f"actors.{probe.counterpart}.delivery.source": source},
    }
    import yaml

    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(head) + "\n" + text


def check_variant_path(path: Path, scenario_file: Path) -> None:
    """A variant may not replace the scenario it extends, or any scenario that one extends.

    Raises:
        InputError: it would.
    """
    if path.resolve() in (scenario_file.resolve(), *_bases(scenario_file.resolve())):
        raise InputError(str(path), [Fault("", "is the scenario being calibrated or one it extends: the variant "
                                               "extends it and cannot replace it (choose another --write-variant)")])


def write_variant(cal: Calibration, path: Path, command: str, report: Path | None) -> None:
    """Write the variant atomically, after checking that it loads (a bad file is never left behind).

    Raises:
        InputError: the path is the calibrated scenario or one it extends (``check_variant_path``).
    """
    from model.report import atomic_write

    check_variant_path(path, cal.scenario_file)
    text = variant_text(cal, path, command, report)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")
        scn.load(tmp)  # the variant must load before it takes its name

    atomic_write(path, write)
