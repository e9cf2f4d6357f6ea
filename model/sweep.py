"""Running an experiment: many negotiations, in chunks, on any ``concurrent.futures`` executor.

Three backends share one interface (an ``Executor`` whose ``submit`` runs a chunk of runs):
``serial`` (in this process), ``process`` (a local process pool, the default) and ``dask``
(``distributed``: a cluster given by its scheduler address, or a ``LocalCluster``). Results stream
to disk as chunks finish: one Parquet part per chunk, written atomically, plus ``manifest.json``.
Re-running the same sweep into the same folder skips the chunks already written, so an
interrupted sweep loses at most the chunks in flight, and never writes a row twice. A run that
raises is recorded with its error and the sweep goes on.

The results folder holds: ``part-NNNNNN.parquet`` (one per chunk; every row has the columns of
``row_columns``, the one layout ``run_one`` fills), ``parts.jsonl`` (the sha256 of each part,
recorded before the part gets its name; also in the manifest's ``parts``), ``manifest.json``
(status ``running``, ``complete``, ``incomplete`` when runs lost their worker process,
``interrupted`` or ``stopped`` by an environment fault), ``experiment.resolved.json`` (the
experiment and base scenario as run, for ``rerun``) and ``.lock`` (held by the sweep writing the
folder). A resumed sweep redoes every part that is not exactly as recorded, and every chunk with
a run whose worker died.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
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
#: The checksum journal: one JSON line per part, appended (and synced) before the part gets its name.
JOURNAL_FILE = "parts.jsonl"
#: The advisory lock of a results folder (``fcntl.flock``); it names the sweep that holds it.
LOCK_FILE = ".lock"
#: The experiment and base scenario as run (what ``rerun`` repeats, whatever happens to the files).
RESOLVED_FILE = "experiment.resolved.json"
#: Space kept free while a sweep runs, so that its manifest can still say how it ended on a full disk.
RESERVE_FILE = ".reserve"
#: The manifest layout: 2 records a sha256 per part.
MANIFEST_FORMAT = 2
#: How an error that is not the run's own starts (its worker process died under it): retried on resume.
WORKER_DIED = "worker process died: "
#: At most this many worker processes per core (more only thrash: 48 workers on 2 cores ran 14x slower).
MAX_WORKERS_PER_CPU = 4


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
            *((f"metric.{k}", "float64") for k in METRICS))


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
            *result_columns(tuple(p.space.ids), tuple(p.actor_ids)), ("error", "string"))


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
          and vectorisable(strategies) and getattr(proto, "extensions", 0) == 0 and bool(np.all(np.isnan(sc.outside))))
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
    proto = sc.params
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
    n = len(p.space.ids)
    # (``tolist`` gives the same Python floats as ``float`` of each element)
    values = np.asarray(deal, dtype=float).tolist() if deal is not None else [float("nan")] * n
    cells = [bool(agreed), reason, int(rounds), float(nash_product(p, deal)) if deal is not None else 0.0,
             ",".join(blocked), *values, *np.asarray(state, dtype=float).tolist(),
             *np.asarray(util, dtype=float).tolist(), *(float(metrics[k]) for k in METRICS)]
    columns = result_columns(tuple(p.space.ids), tuple(p.actor_ids))
    row = dict(zip((c for c, _ in columns), cells, strict=True))
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
            result = run_one(sc, seed)
            if task.columns and tuple(result) != task.columns:
                extra = sorted(set(result) - set(task.columns)) or sorted(set(task.columns) - set(result))
                raise LayoutError(f"this point gives other result columns than the base scenario ({', '.join(extra)}"
                                  "): an axis may not rename or add issues or actors")
            row.update(result)
            row["error"] = None
        except InputError as e:
            row["error"] = f"invalid scenario at this point: {e}"
        except Exception as e:  # noqa: BLE001 - recorded, and the sweep goes on
            row["error"] = f"{type(e).__name__}: {e}"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# executors


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal test above is all there is


def _worker_init(main_pid: int) -> None:
    """Set up a pool worker: the allocator (``model.alloc``); Ctrl-C left to the main process
    (which stops the workers itself, so that a Ctrl-C to the process group ends cleanly); and
    a worker never outlives its sweep: it dies with its parent (``PR_SET_PDEATHSIG`` on Linux)
    and, on every system, a watchdog thread ends it within half a second of the main process's
    death (a ``kill -9`` of ``bargain sweep`` leaves no worker behind)."""
    keep_heap_slack()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent or not _pid_alive(main_pid):
                os._exit(1)

    threading.Thread(target=watch, name="sweep-watchdog", daemon=True).start()


def check_workers(workers: int | None, backend: str = "process", scheduler: str | None = None) -> None:
    """Refuse more local workers than ``MAX_WORKERS_PER_CPU`` per core (a remote cluster has its own)."""
    cpus = os.cpu_count() or 1
    if workers is not None and backend != "serial" and not scheduler and workers > MAX_WORKERS_PER_CPU * cpus:
        cap = MAX_WORKERS_PER_CPU * cpus
        raise whole_input_error("--workers", f"{workers} workers is more than {MAX_WORKERS_PER_CPU} per core "
                                f"({cpus} cores here): use at most {cap}")


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
        check_workers(workers, backend, scheduler)
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

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._close(stop=exc_type is not None)

    def _make(self) -> cf.Executor:
        if self.backend == "serial":
            return SerialExecutor()
        if self.backend == "process":
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["model.sweep"])
            # every worker sets up its allocator when it starts (``model.alloc``), and dies with the sweep
            ex = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_worker_init,
                                        initargs=(os.getpid(),))
            # start the workers now (as a Dask cluster does), not inside the first chunk's time
            try:
                for f in [ex.submit(_ready) for _ in range(self.workers)]:
                    f.result()
            except BaseException:  # interrupted while starting: leave no worker behind
                for proc in list((ex._processes or {}).values()):
                    with contextlib.suppress(OSError):
                        proc.kill()
                ex.shutdown(wait=True, cancel_futures=True)
                raise
            return ex
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            msg = "the dask backend needs the extra: pip install 'grand-bargain[dask]'"
            raise whole_input_error("--backend dask", msg) from None
        if self.scheduler:
            try:
                self._client = Client(self.scheduler)
            except (OSError, TimeoutError) as e:
                first = (str(e).splitlines() or [type(e).__name__])[0]
                raise whole_input_error("--scheduler", f"cannot reach the Dask scheduler at {self.scheduler}: "
                                        f"{first}") from None
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

    def _close(self, stop: bool = True) -> None:
        """Shut the executor down; ``stop``: end its workers now (an interruption, a broken pool).
        A process pool is always waited for, so that its manager thread has ended before the
        interpreter does (else a Ctrl-C could end in "Exception ignored ... Bad file descriptor")."""
        if isinstance(self.ex, cf.ProcessPoolExecutor):
            if stop:
                for proc in list((self.ex._processes or {}).values()):  # (no public way to stop running tasks)
                    with contextlib.suppress(OSError):
                        proc.kill()
            self.ex.shutdown(wait=True, cancel_futures=True)
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
# the results folder: checksums, lock, environment faults


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def part_records(folder: Path, manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]] | None:
    """What was recorded of each part when it was written (``sha256``, ``rows``, ``chunk``,
    ``worker_died``), by file name: the manifest's ``parts``, updated by the journal
    (``parts.jsonl``, one JSON line per part written; a later line wins, a torn last line is
    skipped). ``None`` for a folder written before parts had checksums (nothing to check)."""
    records: dict[str, dict[str, Any]] = {}
    legacy = True
    if isinstance(manifest, dict):
        if isinstance(manifest.get("parts"), dict):
            records.update({k: v for k, v in manifest["parts"].items() if isinstance(v, dict)})
        legacy = not isinstance(manifest.get("format"), int) or manifest["format"] < MANIFEST_FORMAT
    journal = folder / JOURNAL_FILE
    if journal.is_file():
        legacy = False
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict) and isinstance(rec.get("part"), str):
                    records[rec["part"]] = rec
    return None if legacy else records


def part_fault(path: Path, record: dict[str, Any] | None) -> str | None:
    """Why the part at ``path`` is not the one recorded when it was written, or ``None`` if it is."""
    if record is None:
        return "it was not recorded when the sweep wrote its parts (a foreign or unfinished file)"
    try:
        digest = file_sha256(path)
    except OSError as e:
        return f"it cannot be read ({e.strerror or e})"
    if digest != record.get("sha256"):
        return "its content differs from the sha256 recorded when it was written (damaged, or replaced by another file)"
    return None


@contextlib.contextmanager
def on_disk(what: str | Path, doing: str = "write") -> Iterator[None]:
    """Turn an environment fault (read-only or full disk, a path under a file, no permission)
    into one line naming the path, instead of an internal error."""
    try:
        yield
    except OSError as e:
        if isinstance(e, BlockingIOError | InterruptedError) or e.errno is None:
            raise
        where = e.filename if isinstance(e.filename, str) and e.filename else str(what)
        why = e.strerror or str(e)
        hint = ": free some space, then run the same command again to resume" if e.errno in (
            errno.ENOSPC, errno.EDQUOT) else ""
        raise whole_input_error(where, f"cannot {doing} ({why}){hint}") from e


class Interrupted(KeyboardInterrupt):
    """The sweep was stopped by a signal (``signum``): SIGINT (Ctrl-C), SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` in the main thread, once: the sweep then
    stops its workers and marks its manifest ``interrupted`` (a second signal during that clean-up
    is ignored, so it cannot leave a half-written manifest or a traceback)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


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


def resolved_experiment(exp: Experiment) -> dict[str, Any]:
    """The experiment as run, self-contained: its spec and its base scenario's data."""
    return {"experiment_sha256": exp.digest, "experiment_file": exp.file, "scenario_file": exp.scenario_file,
            "experiment": exp.spec.model_dump(mode="json"), "scenario": exp.base}


class Sweep:
    """An experiment's runs, written to ``out``: plan, resume state, and execution."""

    def __init__(self, exp: Experiment, out: Path) -> None:
        self.exp = exp
        self.out = Path(out)
        self.chunk_size = exp.chunk_size()
        self.n_runs = exp.n_runs
        self.n_chunks = -(-self.n_runs // self.chunk_size)
        self.kill_worker_at: tuple[int, ...] = ()  # fault injection, for tests only
        self.runs_done = 0  # on disk, as the sweep goes
        self._records: dict[str, dict[str, Any]] = {}
        self._lock_fd: int | None = None

    def part_path(self, chunk: int) -> Path:
        return self.out / f"part-{chunk:06d}.parquet"

    # ---------------------------------------------------------------- the lock

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's advisory lock (``.lock``, ``fcntl.flock``): one sweep writes a folder
        at a time. Another holder gives a one-line ``InputError`` naming it. The lock ends with its
        process, however it ends, so a stale ``.lock`` of a dead sweep is simply taken over. A
        folder this call created and that holds nothing else afterwards is removed again."""
        if self._lock_fd is not None:  # (re-entered: already held)
            yield
            return
        created = not self.out.exists()
        with on_disk(self.out, "create the results folder"):
            self.out.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise whole_input_error(str(self.out), f"in use by another sweep ({self._holder()}): wait for it to "
                                    "finish, or use another --out") from None
        try:
            info = {"pid": os.getpid(), "host": socket.gethostname(), "experiment": self.exp.spec.name,
                    "experiment_sha256": self.exp.digest, "since": _now()}
            with on_disk(self.out / LOCK_FILE):
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            self._lock_fd = fd
            yield
        finally:
            self._lock_fd = None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # held by nobody: says nobody
            if created and {p.name for p in self.out.iterdir()} <= {LOCK_FILE}:
                with contextlib.suppress(OSError):
                    (self.out / LOCK_FILE).unlink()
                    self.out.rmdir()
            os.close(fd)

    def _holder(self) -> str:
        for _ in range(20):  # the holder writes its name just after it took the lock
            try:
                info = json.loads((self.out / LOCK_FILE).read_text())
                return (f"pid {info['pid']} on {info.get('host', '?')}, experiment {info.get('experiment')} "
                        f"{str(info.get('experiment_sha256'))[:12]}, since {info.get('since')}")
            except (OSError, ValueError, KeyError, TypeError):
                time.sleep(0.05)
        return "a process that has not said which"

    # ---------------------------------------------------------------- what is on disk

    def _old_manifest(self) -> dict[str, Any] | None:
        try:
            old = json.loads((self.out / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        return old if isinstance(old, dict) else None

    def done_chunks(self) -> set[int]:
        """The chunks whose part is on disk and exactly as recorded when it was written (its
        sha256, so also its rows and chunk), and none of whose runs lost its worker. Any other
        part (damaged, replaced by another chunk's or a foreign file, unrecorded, or with runs
        whose worker process died) is removed, so that its runs are done again."""
        records = part_records(self.out, self._old_manifest()) or {}
        done = set()
        keep: dict[str, dict[str, Any]] = {}
        for p in self.out.glob(PART_GLOB):
            rec = records.get(p.name)
            try:
                c = int(p.stem.split("-")[1])
            except (ValueError, IndexError):
                c = -1
            ok = (0 <= c < self.n_chunks and p.name == self.part_path(c).name and rec is not None
                  and rec.get("chunk") == c and rec.get("rows") == self._chunk_len(c)
                  and not rec.get("worker_died") and part_fault(p, rec) is None)
            if ok and rec is not None:
                done.add(c)
                keep[p.name] = rec
            else:
                with on_disk(p, "remove a damaged part"):
                    p.unlink(missing_ok=True)
        self._records = keep
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
        except (OSError, ValueError):
            raise whole_input_error(str(mf), "unreadable manifest: use another --out") from None
        if not isinstance(old, dict):
            raise whole_input_error(str(mf), f"not a sweep's manifest (a JSON {type(old).__name__}, not a mapping): "
                                    "use another --out")
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
        return Task(chunk, exp.base, exp.digest, exp.scenario_file, tuple(runs), self.kill_worker_at,
                    self._result_names)

    @property
    def _result_names(self) -> tuple[str, ...]:
        p = self.exp.base_scenario.problem
        return tuple(c for c, _ in result_columns(tuple(p.space.ids), tuple(p.actor_ids)))

    def manifest(self, status: str, started: str, stats: dict[str, Any]) -> dict[str, Any]:
        exp = self.exp
        return {
            "format": MANIFEST_FORMAT,
            "experiment": exp.spec.name,
            "experiment_file": exp.file,
            "experiment_sha256": exp.digest,
            "scenario": exp.base_scenario.spec.name,
            "scenario_file": exp.scenario_file,
            "scenario_sha256": exp.base_scenario.digest,
            "resolved": RESOLVED_FILE,
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
            "parts": {k: {f: v for f, v in r.items() if f != "part"} for k, r in sorted(self._records.items())},
        }

    def write_part(self, chunk: int, rows: list[dict[str, Any]]) -> None:
        """Write a chunk's part: its sha256 goes to the journal (synced) before the part gets its
        name, so every part under its name has a record to check it against."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from model.report import atomic_write

        schema = self.schema(rows)
        extra = {k for r in rows for k in r} - set(schema.names)
        if extra:  # pyarrow would drop them silently
            raise LayoutError(f"rows have columns the sweep's layout lacks: {', '.join(sorted(extra))}")
        table = pa.Table.from_pylist(rows, schema=schema)
        name = self.part_path(chunk).name
        died = sum(1 for r in rows if str(r.get("error") or "").startswith(WORKER_DIED))

        def write(tmp: str) -> None:
            pq.write_table(table, tmp, compression="zstd")
            rec = {"part": name, "chunk": chunk, "rows": len(rows), "sha256": file_sha256(tmp), "worker_died": died}
            with open(self.out / JOURNAL_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._records[name] = rec

        atomic_write(self.part_path(chunk), write)

    def schema(self, rows: list[dict[str, Any]] | None = None):  # noqa: ANN201 - pyarrow.Schema
        """One fixed column layout for every part (``row_columns``: the same layout ``run_one``
        and ``run_task`` fill), so parts concatenate whatever they hold."""
        import pyarrow as pa

        return pa.schema([(name, pa.type_for_alias(t)) for name, t in row_columns(self.exp)])

    def _write_manifest(self, m: dict[str, Any]) -> None:
        from model.report import write_json

        path = self.out / "manifest.json"
        try:
            with on_disk(path):
                write_json(path, m)
        except InputError:
            reserve = self.out / RESERVE_FILE
            if not reserve.exists():
                raise
            reserve.unlink()  # the space kept for this moment (a full disk)
            with on_disk(path):
                write_json(path, m)

    def _reserve_space(self, manifest_size: int) -> None:
        """Keep room for the last manifest (with every part's record) on a disk that may fill up."""
        size = 2 * manifest_size + 200 * self.n_chunks + 4096
        path = self.out / RESERVE_FILE
        try:
            with on_disk(path), open(path, "wb") as f:
                try:
                    os.posix_fallocate(f.fileno(), 0, size)
                except OSError as e:
                    if e.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    f.write(b"\0" * size)  # (a file system without fallocate)
                    f.flush()
                    os.fsync(f.fileno())
        except InputError:
            path.unlink(missing_ok=True)
            raise

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
        failed with that error (``WORKER_DIED``), the sweep goes on and ends ``incomplete``, and
        the next session runs that chunk again.
        """
        with self.lock():
            return self._run(pool, workers, progress)

    def _run(
        self,
        pool: Pool,
        workers: int | None,
        progress: Callable[[int, int], None] | None,
    ) -> dict[str, Any]:
        from model.report import atomic_write

        self.check_resumable()
        with on_disk(self.out, "clear temporary files in"):
            for tmp in self.out.glob(".part-*"):  # a crash's leftovers (no other writer: we hold the lock)
                tmp.unlink(missing_ok=True)
        started = _now()
        done = self.done_chunks()
        todo = [c for c in range(self.n_chunks) if c not in done]
        runs_done = sum(self._chunk_len(c) for c in done)
        self.runs_done = runs_done
        skipped = runs_done
        failures = 0
        died = 0
        # the record of what is on disk, compacted to the parts just checked, and the experiment as run
        with on_disk(self.out / JOURNAL_FILE):
            def journal(tmp: str) -> None:
                with open(tmp, "w", encoding="utf-8") as f:
                    f.writelines(json.dumps(r) + "\n" for _, r in sorted(self._records.items()))

            atomic_write(self.out / JOURNAL_FILE, journal)
        from model.report import write_json

        with on_disk(self.out / RESOLVED_FILE):
            write_json(self.out / RESOLVED_FILE, resolved_experiment(self.exp))
        first = self.manifest("running", started, {"runs_done": runs_done})
        self._reserve_space(len(json.dumps(first)))
        self._write_manifest(first)
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
        error: str | None = None

        def finish(chunk: int, rows: list[dict[str, Any]]) -> None:
            nonlocal runs_done, failures, died
            rows.sort(key=lambda r: r["run_id"])
            with on_disk(self.part_path(chunk)):
                self.write_part(chunk, rows)
            failures += sum(1 for r in rows if r["error"])
            died += sum(1 for r in rows if str(r["error"] or "").startswith(WORKER_DIED))
            runs_done += len(rows)
            self.runs_done = runs_done
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
                                           "error": f"{WORKER_DIED}{type(err).__name__}: {err}"}])
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
                    retries.extend(Task(t.chunk, t.base, t.digest, t.scenario_file, (r,), t.kill_worker_at, t.columns)
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
            status = "incomplete" if died else "complete"
        except (KeyboardInterrupt, InputError, OSError) as e:
            if not isinstance(e, KeyboardInterrupt):
                status, error = "stopped", str(e)
            raise
        finally:
            for f in inflight:
                f.cancel()
            stats = {
                "runs_done": runs_done,
                "runs_skipped_as_done": skipped,
                "failures_this_session": failures,
                "runs_failed_by_infrastructure": died,
                "worker_restarts": pool.respawns,
                "seconds_this_session": round(time.perf_counter() - t0, 3),
                **({"error": error} if error else {}),
            }
            self._write_manifest(self.manifest(status, started, stats))
            with contextlib.suppress(OSError):
                (self.out / RESERVE_FILE).unlink()
        return stats

    def _chunk_len(self, c: int) -> int:
        return min(self.n_runs, (c + 1) * self.chunk_size) - c * self.chunk_size


def rerun(results_dir: str | Path, run_id: int) -> dict[str, Any]:
    """Repeat one run of a finished sweep alone: the same result as its row.

    The experiment comes from the folder itself (``experiment.resolved.json``: the experiment and
    base scenario as run), checked against the manifest's ``experiment_sha256``, so later edits
    to the files, or the working folder, do not matter. (A folder from before that file existed
    falls back to the experiment file the manifest names, checked the same way.)

    Raises:
        InputError: the folder's record of its experiment is missing or does not match its manifest.
    """
    from model import experiment as exm

    d = Path(results_dir)
    mf_path = d / "manifest.json"
    try:
        mf = json.loads(mf_path.read_text())
        want = mf["experiment_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise whole_input_error(str(mf_path), "no readable manifest with an experiment_sha256") from None
    resolved = d / RESOLVED_FILE
    if resolved.is_file():
        try:
            stored = json.loads(resolved.read_text())
            exp = exm.from_resolved(stored, str(resolved))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise whole_input_error(str(resolved), f"unreadable record of the experiment as run ({e})") from None
        source = str(resolved)
    else:
        source = str(mf.get("experiment_file"))
        exp = exm.load(source)
    if exp.digest != want:
        raise whole_input_error(source, f"its sha256 ({exp.digest[:12]}) is not the experiment_sha256 of "
                                f"{mf_path} ({str(want)[:12]}): not the experiment this sweep ran")
    if not 0 <= run_id < exp.n_runs:
        raise whole_input_error(str(d), f"no run {run_id} (runs 0 to {exp.n_runs - 1})")
    point_id = run_id // exp.spec.replicates
    sc = exp.scenario_for(exp.points[point_id])
    return run_one(sc, run_seed(exp.spec.seed, run_id))
