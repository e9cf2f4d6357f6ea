"""One run and one chunk of runs, and the one row layout they fill (``row_columns``): what a worker
process runs. ``run_task`` is pickled by reference, so it stays importable from here."""

from __future__ import annotations

import json
import os
import random
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from model import scenario as scn
from model.alloc import keep_heap_slack
from model.errors import InputError
from model.experiment import Experiment

#: The key under which a row carries its run's per-round records to the writer (never a column).
SERIES_KEY = "_series"
#: How an error that is not the run's own starts (its worker process died under it): retried on resume.
WORKER_DIED = "worker process died: "


@dataclass(frozen=True)
class Task:
    """One chunk of runs, self-contained so that any worker can run it."""

    chunk: int
    base: dict[str, Any]
    digest: str
    scenario_file: str
    runs: tuple[tuple[int, int, int, int, tuple[tuple[str, Any], ...]], ...]  # run, point, rep, seed, point
    kill_worker_at: tuple[int, ...] = ()  # fault injection for tests: these runs kill their worker
    columns: tuple[str, ...] = ()  # the result columns every run must give (the base scenario's layout)
    series: bool = False  # also record each run's rounds (``model.sweep.series``), as the row's ``SERIES_KEY``


# --------------------------------------------------------------------------------------------
# in the worker


@lru_cache(maxsize=32)
def _compiled(digest: str, point: tuple[tuple[str, Any], ...], base_json: str, scenario_file: str) -> scn.Scenario:
    from model.experiment import set_path

    data = json.loads(base_json)
    for path, value in point:
        set_path(data, path, value)
    return scn.parse(data, file=scenario_file)


# --------------------------------------------------------------------------------------------
# the row layout: defined once, used by the row builder (``run_one``) and the Parquet schema

#: The identifying columns of every row, before the axes.
KEY_COLUMNS: tuple[tuple[str, str], ...] = (("run_id", "int64"), ("point_id", "int64"), ("replicate", "int64"),
                                            ("seed", "int64"))
#: A run's outcome columns, before the per-issue, per-actor and metric columns.
OUTCOME_COLUMNS: tuple[tuple[str, str], ...] = (("agreed", "bool"), ("reason", "string"), ("rounds", "int64"),
                                                ("nash_product", "float64"), ("blocked_by", "string"))


@lru_cache(maxsize=64)
def result_columns(issue_ids: tuple[str, ...], actor_ids: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Every column ``run_one`` gives, in order, with its Parquet type: the outcome, then the
    agreed package (``value.*``), the final state (``state.*``), the utilities (``utility.*``)
    and the run's counts (``metric.*``, ``model.negotiation.METRICS``)."""
    from model.negotiation import METRICS

    return (*OUTCOME_COLUMNS, *((f"value.{i}", "float64") for i in issue_ids),
            *((f"state.{i}", "float64") for i in issue_ids), *((f"utility.{a}", "float64") for a in actor_ids),
            *((f"metric.{k}", "float64") for k in METRICS), *INFORMATION_COLUMNS)


#: Misjudgement as an outcome (``Negotiation.information_summary``): whether a zone of agreement
#: existed under the true information, who misjudged whom (``"USA->BLR;..."``) and how many pairs.
INFORMATION_COLUMNS: tuple[tuple[str, str], ...] = (("zone_existed", "bool"), ("misjudged", "string"),
                                                    ("misjudged_count", "int64"))


def axis_type(ax: Any) -> str:
    """The Parquet type of an axis column (an ``AxisSpec``)."""
    if ax.values is None:
        return "int64" if ax.integer else "float64"
    vals = list(ax.values)
    if all(isinstance(v, bool) for v in vals):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "int64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return "float64"
    return "string"


def row_columns(exp: Experiment) -> tuple[tuple[str, str], ...]:
    """The full row layout of a sweep of ``exp``: keys, axes, results (``result_columns`` of the
    base scenario) and the error."""
    p = exp.base_scenario.problem
    return (*KEY_COLUMNS, *((f"axis.{ax.path}", axis_type(ax)) for ax in exp.spec.axes),
            *result_columns(tuple(p.space.ids), tuple(p.actor_ids)), ("error", "string"), ("replicate_of", "int64"))


class LayoutError(ValueError):
    """A run gave other result columns than the sweep's layout (an axis renamed an issue or an actor)."""


#: Per compiled scenario: the time-dependent strategies when a run of it is computed as arrays
#: (``run_package_vectorised``), else ``None``. Their schedules depend on their arguments only,
#: so one list serves every run; a Mesa run builds its own agents.
_VECTORISED: weakref.WeakKeyDictionary[scn.Scenario, list[Any] | None] = weakref.WeakKeyDictionary()


def _vectorised_strategies(sc: scn.Scenario) -> list[Any] | None:
    from model.core.protocol import vectorisable

    if sc in _VECTORISED:
        return _VECTORISED[sc]
    proto = sc.params  # the compiled scenario: what a run reads (docs/architecture.md)
    strategies = list(sc.strategies)
    ok = (proto.kind == "package" and getattr(proto, "margin", 0.0) == 0.0 and sc.mech.package_neutral
          and getattr(proto, "trust_discount", 0.0) == 0.0 and not getattr(proto, "implement", False)
          and vectorisable(strategies) and getattr(proto, "extensions", 0) == 0 and bool(np.all(np.isnan(sc.outside)))
          and sc.information is None)  # private information: the Mesa model (beliefs), not the arrays
    _VECTORISED[sc] = strategies if ok else None
    return _VECTORISED[sc]


#: The generator a run on the arrays gets when nothing in it can draw (no breakdown risk).
_IDLE = np.random.Generator(np.random.PCG64(0))


def _seeded(seed: int) -> np.random.Generator:
    """``np.random.default_rng(seed)``, built directly (the same generator, at less cost)."""
    return np.random.Generator(np.random.PCG64(seed))


def _on_arrays(sc: scn.Scenario, strategies: list[Any], rng: np.random.Generator) -> tuple[Any, bool]:
    """``run_package_vectorised`` on the compiled scenario, and whether it drew from ``rng``."""
    from model.core.protocol import run_package_vectorised

    proto = sc.params
    start = rng.bit_generator.state
    c = run_package_vectorised(sc.problem, strategies, sc.proposer_order(), proto.max_rounds, proto.breakdown_risk, rng)
    return c, rng.bit_generator.state != start


def run_one(sc: scn.Scenario, seed: int, series: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run one negotiation and return its result columns (``run_traced`` without the trace)."""
    return run_traced(sc, seed, series)[0]


def run_traced(sc: scn.Scenario, seed: int, series: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], bool]:
    """Run one negotiation: its result columns, and whether it drew a random number.

    A run that drew none is a function of its scenario alone (the seed reaches a run only
    through its generators), so every seed gives the same row: ``run_task`` runs such a point
    once. Whether it drew is read off the generators themselves, not declared: the state of
    the numpy generator (and of Mesa's ``random.Random``) after the run equals the state
    the seed gave it.

    A ``package`` run whose strategies depend on time only, with no mechanism that draws or
    judges beyond the parties' own utilities (influence, collectives' consent, ratification
    noise, spoilers, a margin), is computed as arrays (``model.core.protocol.run_package_vectorised``,
    the same outcome as the Mesa model for the same seed, tested); every other run goes through
    the Mesa model round by round. Every run reports the same columns, whatever its protocol.
    Given a ``series`` list, the run goes through the Mesa model and appends a record per round
    to it (``model.sweep.series.run_recording``).
    """
    from model.core import nash_product
    from model.core.beliefs import zone_of_agreement
    from model.negotiation import METRICS

    p = sc.problem
    proto = sc.params
    metrics = dict.fromkeys(METRICS, 0.0)
    time_only = _vectorised_strategies(sc) if series is None else None
    if time_only is not None:
        # Without a breakdown risk the arrays draw nothing: a shared generator stands in for the
        # seed's own (whose seeding costs a tenth of the run); should the run draw from it after
        # all, it is run again on the seed's own generator, so the outcome is always the seed's.
        idle = proto.breakdown_risk <= 0
        c, drew = _on_arrays(sc, time_only, _IDLE if idle else _seeded(seed))
        if drew and idle:
            c, drew = _on_arrays(sc, time_only, _seeded(seed))
        agreed, reason, rounds, package = c.agreed, c.reason, c.rounds, c.package
        blocked = sorted({p.actor_ids[a] for a in c.rejecters})
        state = package if agreed and package is not None else p.space.status_quo
        info: dict[str, Any] = {"zone_existed": zone_of_agreement(p), "misjudged": "", "misjudged_count": 0}
    else:
        from model.negotiation import Negotiation

        m = Negotiation(sc, rng=seed, collect=False)
        if series is None:
            o = m.run()
        else:
            from model.sweep.series import run_recording

            o = run_recording(m, series)
        drew = m.rng.bit_generator.state != m._rng or m.random.getstate() != random.Random(seed).getstate()
        agreed, reason, rounds, package = o.agreed, o.reason, o.rounds, o.package
        blocked = sorted({b[0] for b in o.blocked_by})
        metrics.update(o.metrics)
        state = o.state if o.state is not None else p.space.status_quo
        info = m.information_summary()
        p = m.problem  # (shocks may have changed it)
    deal = package if agreed and package is not None else None
    util = p.utility(deal) if deal is not None else p.reservation
    n = len(p.space.ids)
    # (``tolist`` gives the same Python floats as ``float`` of each element)
    values = np.asarray(deal, dtype=float).tolist() if deal is not None else [float("nan")] * n
    nash = float(nash_product(p, deal, utilities=util)) if deal is not None else 0.0
    cells = [bool(agreed), reason, int(rounds), nash,
             ",".join(blocked), *values, *np.asarray(state, dtype=float).tolist(),
             *np.asarray(util, dtype=float).tolist(), *(float(metrics[k]) for k in METRICS),
             bool(info["zone_existed"]), str(info["misjudged"]), int(info["misjudged_count"])]
    columns = result_columns(tuple(p.space.ids), tuple(p.actor_ids))
    row = dict(zip((c for c, _ in columns), cells, strict=True))
    return row, drew


#: Result columns of points whose run drew no random number, by (experiment, point, base).
#: Bounded; a point that falls out is computed again.
_SAME_EVERY_SEED: dict[tuple[str, tuple[tuple[str, Any], ...], str], dict[str, Any]] = {}
_SAME_KEPT = 4096


def _result(task: Task, base_json: str, seed: int, point: tuple[tuple[str, Any], ...],
            trace: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], bool]:
    """A run's result columns, and whether the point's runs draw no random number (then the
    columns were computed once for the point, in this process, and are the same for every seed).
    A run that records its rounds (``trace``) is always run: its series is its own."""
    key = (task.digest, point, base_json)
    kept = _SAME_EVERY_SEED.get(key) if trace is None else None
    if kept is not None:
        return dict(kept), True
    sc = _compiled(task.digest, point, base_json, task.scenario_file)
    result, drew = run_traced(sc, seed, trace)
    if not drew and trace is None:
        if len(_SAME_EVERY_SEED) >= _SAME_KEPT:
            _SAME_EVERY_SEED.pop(next(iter(_SAME_EVERY_SEED)))
        _SAME_EVERY_SEED[key] = dict(result)
    return result, not drew


def run_task(task: Task) -> list[dict[str, Any]]:
    """Run every run of a chunk; a run that raises becomes a row with its error.

    A point whose run drew no random number is run once per worker process and its other
    replicates copy the result. ``replicate_of`` marks the replicates of such a point (all but
    the first): the run id of the point's first replicate, whose row theirs repeat (``None`` on a
    first replicate and on every run of a point that draws). It depends on the point only, not on
    which process ran what, so every backend and chunking gives the same rows."""
    keep_heap_slack()  # once per process: see model.alloc
    base_json = json.dumps(task.base, sort_keys=True, default=str)
    rows = []
    for run_id, point_id, rep, seed, point in task.runs:
        if run_id in task.kill_worker_at:
            os.kill(os.getpid(), 9)  # as an out-of-memory kill or a crash in native code would
        row: dict[str, Any] = {"run_id": run_id, "point_id": point_id, "replicate": rep, "seed": seed}
        row.update({f"axis.{k}": v for k, v in point})
        row["replicate_of"] = None
        try:
            trace: list[dict[str, Any]] | None = [] if task.series else None
            result, same = _result(task, base_json, seed, point, trace)
            row["replicate_of"] = run_id - rep if same and rep > 0 else None
            if task.columns and tuple(result) != task.columns:
                extra = sorted(set(result) - set(task.columns)) or sorted(set(task.columns) - set(result))
                raise LayoutError(f"this point gives other result columns than the base scenario ({', '.join(extra)}"
                                  "): an axis may not rename or add issues or actors")
            row.update(result)
            row["error"] = None
            if trace is not None:
                row[SERIES_KEY] = [{"run_id": run_id, **r} for r in trace]
        except InputError as e:
            row["error"] = f"invalid scenario at this point: {e}"
        except Exception as e:  # noqa: BLE001 - recorded, and the sweep goes on
            row["error"] = f"{type(e).__name__}: {e}"
        rows.append(row)
    return rows
