"""The observed track: its schema (``TrackSpec``), reading and checking it against the scenario
(``read_track``, ``check_track``, ``load_track``), and runs read into the same form (``track_of``).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict

from model import scenario as scn
from model.core.space import BoolArray, FloatArray
from model.errors import Fault, InputError
from model.experiment import display_path
from model.negotiation import Negotiation
from model.protocols.base import Delivery
from model.scenario import Identifier, SourceSpec, Text, Unit
from model.yamlio import LineMap, fault, load_yaml, read_model

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
    spec, lines = read_model(path, TrackSpec)
    file = str(path)
    out = _track_faults(spec, lines)
    if out:
        raise InputError(file, out)
    return spec, lines


def _track_faults(spec: TrackSpec, lines: LineMap) -> list[Fault]:
    """The faults of a schema-valid track on its own, in the order of the file's parts."""
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
    _totals_faults(spec, bad)
    return out


def _totals_faults(spec: TrackSpec, bad: Callable[[tuple[str | int, ...], str], None]) -> None:
    """The cumulative band, the prisoners freed against the scale, the weights and the cited sources."""
    cum = spec.targets.cumulative
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
