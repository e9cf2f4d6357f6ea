"""Running an experiment: many negotiations, in chunks, on any ``concurrent.futures`` executor.

Three backends share one interface (an ``Executor`` whose ``submit`` runs a chunk of runs):
``serial`` (in this process), ``process`` (a local process pool, the default) and ``dask``
(``distributed``: a cluster given by its scheduler address, or a ``LocalCluster``). Results stream
to disk as chunks finish: one Parquet part per chunk, written atomically, plus ``manifest.json``.
Re-running the same sweep into the same folder skips the chunks already written, so an
interrupted sweep loses at most the chunks in flight, and never writes a row twice. A run that
raises is recorded with its error and the sweep goes on.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import platform
import subprocess
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import model
from model import scenario as scn
from model.alloc import keep_heap_slack
from model.errors import InputError, whole_input_error
from model.experiment import Experiment, run_seed

PART_GLOB = "part-*.parquet"


@dataclass(frozen=True)
class Task:
    """One chunk of runs, self-contained so that any worker can run it."""

    chunk: int
    base: dict[str, Any]
    digest: str
    scenario_file: str
    runs: tuple[tuple[int, int, int, int, tuple[tuple[str, Any], ...]], ...]  # run, point, rep, seed, point
    kill_worker_at: tuple[int, ...] = ()  # fault injection for tests: these runs kill their worker


# --------------------------------------------------------------------------------------------
# in the worker


@lru_cache(maxsize=32)
def _compiled(digest: str, point: tuple[tuple[str, Any], ...], base_json: str, scenario_file: str) -> scn.Scenario:
    from model.experiment import set_path

    data = json.loads(base_json)
    for path, value in point:
        set_path(data, path, value)
    return scn.parse(data, file=scenario_file)


@lru_cache(maxsize=64)
def _columns(issue_ids: tuple[str, ...], actor_ids: tuple[str, ...]) -> tuple[list[str], list[str], list[str]]:
    """The names of the per-issue and per-actor result columns."""
    return ([f"value.{i}" for i in issue_ids], [f"state.{i}" for i in issue_ids], [f"utility.{a}" for a in actor_ids])


#: Per compiled scenario: the time-dependent strategies when a run of it is computed as arrays
#: (``run_package_vectorised``), else ``None``. Their schedules depend on their arguments only,
#: so one list serves every run; a Mesa run builds its own agents.
_VECTORISED: weakref.WeakKeyDictionary[scn.Scenario, list[Any] | None] = weakref.WeakKeyDictionary()


def _vectorised_strategies(sc: scn.Scenario) -> list[Any] | None:
    from model.core import make_strategy
    from model.core.protocol import vectorisable

    if sc in _VECTORISED:
        return _VECTORISED[sc]
    proto = sc.spec.protocol
    strategies = [make_strategy(a.strategy.name, a.strategy.params) for a in sc.spec.actors]
    ok = (proto.kind == "package" and proto.margin == 0.0 and sc.mech.package_neutral and vectorisable(strategies)
          and proto.extensions == 0 and all(a.outside_option is None for a in sc.spec.actors))
    _VECTORISED[sc] = strategies if ok else None
    return _VECTORISED[sc]


def run_one(sc: scn.Scenario, seed: int) -> dict[str, Any]:
    """Run one negotiation and return its result columns.

    A ``package`` run whose strategies depend on time only, with no mechanism that draws or
    judges beyond the parties' own utilities (influence, collectives' consent, ratification
    noise, spoilers, a margin), is computed as arrays (``model.core.protocol.run_package_vectorised``,
    the same outcome as the Mesa model for the same seed, tested); every other run goes through
    the Mesa model round by round. Every run reports the same columns, whatever its protocol.
    """
    from model.core import nash_product
    from model.core.protocol import run_package_vectorised
    from model.negotiation import METRICS

    p = sc.problem
    proto = sc.spec.protocol
    metrics = dict.fromkeys(METRICS, 0.0)
    time_only = _vectorised_strategies(sc)
    if time_only is not None:
        c = run_package_vectorised(p, time_only, sc.proposer_order(), proto.max_rounds, proto.breakdown_risk,
                                   np.random.default_rng(seed))
        agreed, reason, rounds, package = c.agreed, c.reason, c.rounds, c.package
        blocked = sorted({p.actor_ids[a] for a in c.rejecters})
        state = package if agreed and package is not None else p.space.status_quo
    else:
        from model.negotiation import Negotiation

        m = Negotiation(sc, rng=seed, collect=False)
        o = m.run()
        agreed, reason, rounds, package = o.agreed, o.reason, o.rounds, o.package
        blocked = sorted({b[0] for b in o.blocked_by})
        metrics.update(o.metrics)
        state = o.state if o.state is not None else p.space.status_quo
        p = m.problem  # (shocks may have changed it)
    deal = package if agreed and package is not None else None
    util = p.utility(deal) if deal is not None else p.reservation
    row: dict[str, Any] = {
        "agreed": bool(agreed),
        "reason": reason,
        "rounds": int(rounds),
        "nash_product": float(nash_product(p, deal)) if deal is not None else 0.0,
        "blocked_by": ",".join(blocked),
    }
    value_cols, state_cols, utility_cols = _columns(p.space.ids, p.actor_ids)
    # (``tolist`` gives the same Python floats as ``float`` of each element)
    values = np.asarray(deal, dtype=float).tolist() if deal is not None else [float("nan")] * len(value_cols)
    row.update(zip(value_cols, values, strict=True))
    row.update(zip(state_cols, np.asarray(state, dtype=float).tolist(), strict=True))
    row.update(zip(utility_cols, np.asarray(util, dtype=float).tolist(), strict=True))
    for k in METRICS:
        row[f"metric.{k}"] = float(metrics[k])
    return row


def run_task(task: Task) -> list[dict[str, Any]]:
    """Run every run of a chunk; a run that raises becomes a row with its error."""
    keep_heap_slack()  # once per process: see model.alloc
    base_json = json.dumps(task.base, sort_keys=True, default=str)
    rows = []
    for run_id, point_id, rep, seed, point in task.runs:
        if run_id in task.kill_worker_at:
            os.kill(os.getpid(), 9)  # as an out-of-memory kill or a crash in native code would
        row: dict[str, Any] = {"run_id": run_id, "point_id": point_id, "replicate": rep, "seed": seed}
        row.update({f"axis.{k}": v for k, v in point})
        try:
            sc = _compiled(task.digest, point, base_json, task.scenario_file)
            row.update(run_one(sc, seed))
            row["error"] = None
        except InputError as e:
            row["error"] = f"invalid scenario at this point: {e}"
        except Exception as e:  # noqa: BLE001 - recorded, and the sweep goes on
            row["error"] = f"{type(e).__name__}: {e}"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# executors


class SerialExecutor(cf.Executor):
    """Runs each task at once, in this process (for debugging and tiny sweeps)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        f: cf.Future[Any] = cf.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001
            f.set_exception(e)
        return f


class Pool:
    """An executor for ``backend`` (``serial``, ``process`` or ``dask``) that can be replaced by
    a fresh one when a worker process dies and breaks it. Use as a context manager."""

    def __init__(self, backend: str, workers: int | None = None, scheduler: str | None = None) -> None:
        if backend not in ("serial", "process", "dask"):
            raise whole_input_error("--backend", f"unknown backend {backend!r} (serial, process, dask)")
        self.backend = backend
        self.workers = 1 if backend == "serial" else (workers or os.cpu_count() or 1)
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None
        self.ex: cf.Executor = SerialExecutor()
        self.respawns = 0

    def __enter__(self) -> Pool:
        self.ex = self._make()
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _make(self) -> cf.Executor:
        if self.backend == "serial":
            return SerialExecutor()
        if self.backend == "process":
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["model.sweep"])
            # every worker sets up its allocator when it starts (``model.alloc``)
            ex = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=keep_heap_slack)
            # start the workers now (as a Dask cluster does), not inside the first chunk's time
            for f in [ex.submit(_ready) for _ in range(self.workers)]:
                f.result()
            return ex
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            msg = "the dask backend needs the extra: pip install 'grand-bargain[dask]'"
            raise whole_input_error("--backend dask", msg) from None
        if self.scheduler:
            self._client = Client(self.scheduler)
        else:
            import dask

            with dask.config.set(_QUIET_LOCAL_CLUSTER):
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
            self._client = Client(self._cluster)
        # every worker imports the model now (unpickling ``_ready`` does), not inside the first chunk
        self._client.run(_ready)
        # ``pure=False``: a chunk is run each time it is submitted, under a fresh key; Dask's
        # default would hash every chunk's arguments (about 10 ms each, in this process) to
        # find an earlier identical call, and would not rerun a chunk resubmitted after a failure
        return self._client.get_executor(pure=False)

    def _close(self) -> None:
        if isinstance(self.ex, cf.ProcessPoolExecutor):
            self.ex.shutdown(wait=False, cancel_futures=True)
        else:
            self.ex.shutdown(wait=False)
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def respawn(self) -> None:
        """Replace a broken executor with a new one."""
        self._close()
        self.ex = self._make()
        self.respawns += 1


#: A local cluster's housekeeping, slowed down: with the dashboard off, nobody reads the worker
#: profiles (a stack sample every 10 ms) or the 20 ms event-loop ticks, and on two cores their
#: wake-ups took a seventh of a core from the workers (a 2-worker cluster left idle for 10 s:
#: 1.5 s of CPU with the defaults, 0.23 s with these). An external scheduler keeps its own.
_QUIET_LOCAL_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "1s",
}


def _ready() -> bool:
    """A task that does (almost) nothing: a worker that ran it has started, imported the model
    and set up its allocator (``model.alloc``)."""
    keep_heap_slack()
    return True


@contextlib.contextmanager
def executor(backend: str, workers: int | None = None, scheduler: str | None = None) -> Iterator[Pool]:
    """A ``Pool`` for ``backend``: ``serial``, ``process`` or ``dask``."""
    with Pool(backend, workers, scheduler) as pool:
        yield pool



# --------------------------------------------------------------------------------------------
# the sweep


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "grand-bargain": model.__version__}
    for pkg in ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "SALib"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def _git_revision() -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                           cwd=Path(__file__).resolve().parent)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Sweep:
    """An experiment's runs, written to ``out``: plan, resume state, and execution."""

    def __init__(self, exp: Experiment, out: Path) -> None:
        self.exp = exp
        self.out = Path(out)
        self.chunk_size = exp.chunk_size()
        self.n_runs = exp.n_runs
        self.n_chunks = -(-self.n_runs // self.chunk_size)
        self.kill_worker_at: tuple[int, ...] = ()  # fault injection, for tests only

    def part_path(self, chunk: int) -> Path:
        return self.out / f"part-{chunk:06d}.parquet"

    def done_chunks(self) -> set[int]:
        """The chunks whose part is on disk, readable and complete. A part damaged after it was
        written (it cannot be read, or holds the wrong number of rows) is removed so that its
        runs are done again."""
        import pyarrow.parquet as pq

        done = set()
        for p in self.out.glob(PART_GLOB):
            try:
                c = int(p.stem.split("-")[1])
                ok = 0 <= c < self.n_chunks and pq.read_metadata(p).num_rows == self._chunk_len(c)
            except (ValueError, OSError):
                ok = False
            if ok:
                done.add(c)
            else:
                p.unlink(missing_ok=True)
        return done

    def check_resumable(self) -> None:
        """A folder that holds another experiment's results is never mixed with this one."""
        mf = self.out / "manifest.json"
        if not mf.exists():
            if any(self.out.glob(PART_GLOB)):
                raise whole_input_error(str(self.out), "holds result parts but no manifest.json: use another --out")
            return
        try:
            old = json.loads(mf.read_text())
        except (OSError, json.JSONDecodeError):
            raise whole_input_error(str(mf), "unreadable manifest: use another --out") from None
        if old.get("experiment_sha256") != self.exp.digest or old.get("chunk_size") != self.chunk_size:
            raise whole_input_error(
                str(self.out),
                f"holds results of another experiment or version of it ({old.get('experiment')}, "
                f"{str(old.get('experiment_sha256'))[:12]}): use another --out",
            )

    def task(self, chunk: int) -> Task:
        exp = self.exp
        reps = exp.spec.replicates
        runs = []
        for run_id in range(chunk * self.chunk_size, min(self.n_runs, (chunk + 1) * self.chunk_size)):
            point_id, rep = divmod(run_id, reps)
            point = tuple(exp.points[point_id].items())
            runs.append((run_id, point_id, rep, run_seed(exp.spec.seed, run_id), point))
        return Task(chunk, exp.base, exp.digest, exp.scenario_file, tuple(runs), self.kill_worker_at)

    def manifest(self, status: str, started: str, stats: dict[str, Any]) -> dict[str, Any]:
        exp = self.exp
        return {
            "experiment": exp.spec.name,
            "experiment_file": exp.file,
            "experiment_sha256": exp.digest,
            "scenario": exp.base_scenario.spec.name,
            "scenario_file": exp.scenario_file,
            "scenario_sha256": exp.base_scenario.digest,
            "design": exp.spec.design.kind,
            "axes": exp.axis_paths,
            "replicates": exp.spec.replicates,
            "seed": exp.spec.seed,
            "n_points": len(exp.points),
            "n_runs": self.n_runs,
            "chunk_size": self.chunk_size,
            "n_chunks": self.n_chunks,
            "status": status,
            "started": started,
            "updated": _now(),
            "versions": _versions(),
            "git_revision": _git_revision(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            **stats,
            "experiment_spec": exp.spec.model_dump(mode="json"),
        }

    def write_part(self, chunk: int, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from model.report import atomic_write

        table = pa.Table.from_pylist(rows, schema=self.schema(rows))

        def write(tmp: str) -> None:
            pq.write_table(table, tmp, compression="zstd")

        atomic_write(self.part_path(chunk), write)

    def schema(self, rows: list[dict[str, Any]]):  # noqa: ANN201 - pyarrow.Schema
        """One fixed column layout for every part (so parts concatenate whatever they hold)."""
        import pyarrow as pa

        sc = self.exp.base_scenario.problem
        fields = [("run_id", pa.int64()), ("point_id", pa.int64()), ("replicate", pa.int64()), ("seed", pa.int64())]
        for ax in self.exp.spec.axes:
            vals = list(ax.values) if ax.values is not None else [0.0]
            if ax.values is None:
                t = pa.int64() if ax.integer else pa.float64()
            elif all(isinstance(v, bool) for v in vals):
                t = pa.bool_()
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
                t = pa.int64()
            elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
                t = pa.float64()
            else:
                t = pa.string()
            fields.append((f"axis.{ax.path}", t))
        fields += [("agreed", pa.bool_()), ("reason", pa.string()), ("rounds", pa.int64()),
                   ("nash_product", pa.float64()), ("blocked_by", pa.string())]
        fields += [(f"value.{i}", pa.float64()) for i in sc.space.ids]
        fields += [(f"utility.{a}", pa.float64()) for a in sc.actor_ids]
        fields.append(("error", pa.string()))
        return pa.schema(fields)

    def run(
        self,
        pool: Pool,
        workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Run every chunk not yet on disk; return counts. ``progress(done, total)`` is called
        as runs finish (it starts with the runs already on disk).

        A chunk whose worker died (the pool breaks, or Dask loses the worker) is run again one
        run per task on a fresh pool; a run that kills its worker a second time is recorded as
        failed with that error, and the sweep goes on.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        self.check_resumable()
        for tmp in self.out.glob(".part-*"):  # a crash's leftovers: never read, never kept
            tmp.unlink(missing_ok=True)
        started = _now()
        done = self.done_chunks()
        todo = [c for c in range(self.n_chunks) if c not in done]
        runs_done = sum(self._chunk_len(c) for c in done)
        skipped = runs_done
        failures = 0
        from model.report import write_json

        write_json(self.out / "manifest.json", self.manifest("running", started, {"runs_done": runs_done}))
        if progress:
            progress(runs_done, self.n_runs)
        window = max(2, 2 * (workers or pool.workers))
        queue: list[Task] = [self.task(c) for c in reversed(todo[:window])]
        later = iter(todo[window:])
        retries: list[Task] = []  # single runs of chunks whose worker died, each run alone
        partial: dict[int, list[dict[str, Any]]] = {}
        expected: dict[int, int] = {}
        inflight: dict[cf.Future[list[dict[str, Any]]], Task] = {}
        t0 = time.perf_counter()
        status = "interrupted"

        def finish(chunk: int, rows: list[dict[str, Any]]) -> None:
            nonlocal runs_done, failures
            rows.sort(key=lambda r: r["run_id"])
            self.write_part(chunk, rows)
            failures += sum(1 for r in rows if r["error"])
            runs_done += len(rows)
            if progress:
                progress(runs_done, self.n_runs)

        def collect(chunk: int, rows: list[dict[str, Any]]) -> None:
            partial[chunk].extend(rows)
            if len(partial[chunk]) == expected[chunk]:
                del expected[chunk]
                finish(chunk, partial.pop(chunk))

        try:
            while queue or retries or inflight:
                if retries and not inflight:  # alone on the pool: a failure is this run's own
                    t = retries.pop()
                    try:
                        f = pool.ex.submit(run_task, t)
                    except cf.BrokenExecutor:  # a worker died after the last wait: a new pool, then again
                        retries.append(t)
                        pool.respawn()
                        continue
                    cf.wait([f])
                    err = f.exception()
                    if err is None:
                        collect(t.chunk, f.result())
                    else:
                        run_id, point_id, rep, seed, point = t.runs[0]
                        collect(t.chunk, [{"run_id": run_id, "point_id": point_id, "replicate": rep, "seed": seed,
                                           **{f"axis.{k}": v for k, v in point},
                                           "error": f"worker process died: {type(err).__name__}: {err}"}])
                        if isinstance(err, cf.BrokenExecutor):
                            pool.respawn()
                    continue
                while not retries and queue and len(inflight) < window:
                    t = queue.pop()
                    try:
                        inflight[pool.ex.submit(run_task, t)] = t
                    except cf.BrokenExecutor:  # a worker died after the last wait
                        queue.append(t)
                        if not inflight:  # nothing left to collect: replace the pool now
                            pool.respawn()
                        break  # otherwise the futures in flight report the break below
                if not inflight:
                    continue
                finished, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
                broken = False
                for f in finished:
                    t = inflight.pop(f)
                    err = f.exception()
                    if err is None:
                        finish(t.chunk, f.result())
                        continue
                    # the worker died under this chunk (or with the pool): run its runs again, one by one
                    broken |= isinstance(err, cf.BrokenExecutor)
                    expected[t.chunk] = len(t.runs)
                    partial[t.chunk] = []
                    retries.extend(Task(t.chunk, t.base, t.digest, t.scenario_file, (r,), t.kill_worker_at)
                                   for r in reversed(t.runs))
                if broken:  # the other tasks in flight went down with the pool: queue them again
                    for f, t in inflight.items():
                        f.cancel()
                        queue.append(t)
                    inflight.clear()
                    pool.respawn()
                if len(queue) + len(inflight) < window:
                    for c in later:
                        queue.insert(0, self.task(c))
                        if len(queue) + len(inflight) >= window:
                            break
            status = "complete"
        finally:
            for f in inflight:
                f.cancel()
            stats = {
                "runs_done": runs_done,
                "runs_skipped_as_done": skipped,
                "failures_this_session": failures,
                "worker_restarts": pool.respawns,
                "seconds_this_session": round(time.perf_counter() - t0, 3),
            }
            write_json(self.out / "manifest.json", self.manifest(status, started, stats))
        return stats

    def _chunk_len(self, c: int) -> int:
        return min(self.n_runs, (c + 1) * self.chunk_size) - c * self.chunk_size


def rerun(results_dir: str | Path, run_id: int) -> dict[str, Any]:
    """Repeat one run of a finished sweep alone, from its manifest and row: the same result."""
    from model import experiment as exm

    mf = json.loads((Path(results_dir) / "manifest.json").read_text())
    exp = exm.load(mf["experiment_file"])
    point_id = run_id // exp.spec.replicates
    sc = exp.scenario_for(exp.points[point_id])
    return run_one(sc, run_seed(exp.spec.seed, run_id))

