"""The sweep: an experiment's runs, chunk by chunk, on a ``Pool``, into a results folder that it
checks, resumes and records (``Sweep``); and ``rerun``, one run of a finished sweep again."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from model.errors import InputError, whole_input_error
from model.experiment import Experiment
from model.sweep.executors import Pool
from model.sweep.rows import (
    SERIES_KEY,
    WORKER_DIED,
    LayoutError,
    Task,
    result_columns,
    row_columns,
    run_one,
    run_task,
)
from model.sweep.series import SERIES_DIR, series_columns, series_part_name
from model.sweep.storage import (
    MANIFEST_FORMAT,
    PART_GLOB,
    RESERVE_FILE,
    RESOLVED_FILE,
    SCENARIO_FILE,
    _now,
    _versions,
    append_journal,
    compact_journal,
    file_sha256,
    folder_lock,
    git_state,
    on_disk,
    part_fault,
    part_records,
    reserve_space,
    resolved_experiment,
    write_manifest,
    write_scenario_yaml,
)


class Sweep:
    """An experiment's runs, written to ``out``: plan, resume state, and execution.

    With ``series``, every run's rounds are recorded too (``model.sweep.series``), one part per
    chunk in ``out/series/``. A folder whose manifest says it records series keeps recording them
    when resumed, so that its series cover every run.
    """

    def __init__(self, exp: Experiment, out: Path, series: bool = False) -> None:
        self.exp = exp
        self.out = Path(out)
        self.series = series
        self.chunk_size = exp.chunk_size()
        self.n_runs = exp.n_runs
        self.n_chunks = -(-self.n_runs // self.chunk_size)
        self.kill_worker_at: tuple[int, ...] = ()  # fault injection, for tests only
        self.runs_done = 0  # on disk, as the sweep goes
        self._records: dict[str, dict[str, Any]] = {}
        self._lock_fd: int | None = None
        self._git = git_state()  # the code's checkout as the sweep starts (commit, dirty)

    def part_path(self, chunk: int) -> Path:
        return self.out / f"part-{chunk:06d}.parquet"

    def series_path(self, chunk: int) -> Path:
        return self.out / series_part_name(chunk)

    # ---------------------------------------------------------------- the lock

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's advisory lock (``storage.folder_lock``): one sweep writes a folder at a
        time; another holder gives a one-line ``InputError`` naming it. Re-entered, it is already held."""
        if self._lock_fd is not None:  # (re-entered: already held)
            yield
            return
        about = {"experiment": self.exp.spec.name, "experiment_sha256": self.exp.digest}
        with folder_lock(self.out, about) as fd:
            self._lock_fd = fd
            try:
                yield
            finally:
                self._lock_fd = None

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
            srec = records.get(series_part_name(c)) if ok else None
            if ok and self.series:  # its series part must be there and as recorded too
                sp = self.series_path(c)
                ok = srec is not None and srec.get("chunk") == c and sp.is_file() and part_fault(sp, srec) is None
            if ok and rec is not None:
                done.add(c)
                keep[p.name] = rec
                if self.series and srec is not None:
                    keep[series_part_name(c)] = srec
            else:
                with on_disk(p, "remove a damaged part"):
                    p.unlink(missing_ok=True)
        for sp in (self.out / SERIES_DIR).glob(PART_GLOB):  # series of chunks to redo (or not recorded)
            if f"{SERIES_DIR}/{sp.name}" not in keep:
                with on_disk(sp, "remove a damaged part"):
                    sp.unlink(missing_ok=True)
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
            runs.append((run_id, point_id, rep, exp.seed_of(run_id), point))
        return Task(chunk, exp.base, exp.digest, exp.scenario_file, tuple(runs), self.kill_worker_at,
                    self._result_names, self.series)

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
            "resolved_scenario": SCENARIO_FILE,
            "series": self.series,
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
            "git_revision": None if self._git["commit"] == "unknown" else self._git["commit"],
            "git": self._git,
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

        trace = [r for row in rows for r in row.pop(SERIES_KEY, None) or ()]
        if self.series:  # first: a chunk is done only once its main part has its name
            self._write_series(chunk, trace)
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
            append_journal(self.out, rec)
            self._records[name] = rec

        atomic_write(self.part_path(chunk), write)

    def _write_series(self, chunk: int, trace: list[dict[str, Any]]) -> None:
        """Write a chunk's series part, recorded in the journal like a main part."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from model.report import atomic_write

        p = self.exp.base_scenario.problem
        schema = pa.schema([(n, pa.type_for_alias(t)) for n, t in
                            series_columns(tuple(p.space.ids), tuple(p.actor_ids))])
        table = pa.Table.from_pylist(trace, schema=schema)
        name = series_part_name(chunk)
        path = self.series_path(chunk)
        with on_disk(path.parent, "create the series folder"):
            path.parent.mkdir(exist_ok=True)

        def write(tmp: str) -> None:
            pq.write_table(table, tmp, compression="zstd")
            rec = {"part": name, "chunk": chunk, "rows": len(trace), "sha256": file_sha256(tmp)}
            append_journal(self.out, rec)
            self._records[name] = rec

        atomic_write(path, write)

    def schema(self, rows: list[dict[str, Any]] | None = None):  # noqa: ANN201 - pyarrow.Schema
        """One fixed column layout for every part (``row_columns``: the same layout ``run_one``
        and ``run_task`` fill), so parts concatenate whatever they hold."""
        import pyarrow as pa

        return pa.schema([(name, pa.type_for_alias(t)) for name, t in row_columns(self.exp)])

    def _write_manifest(self, m: dict[str, Any]) -> None:
        write_manifest(self.out, m)

    def _reserve_space(self, manifest_size: int) -> None:
        """Keep room for the last manifest (with every part's record) on a disk that may fill up."""
        reserve_space(self.out, 2 * manifest_size + 200 * self.n_chunks + 4096)

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
        from model.report import write_json

        self.check_resumable()
        self.series = self.series or bool((self._old_manifest() or {}).get("series"))
        with on_disk(self.out, "clear temporary files in"):
            for tmp in (*self.out.glob(".part-*"), *(self.out / SERIES_DIR).glob(".part-*")):  # a crash's leftovers
                tmp.unlink(missing_ok=True)
        started = _now()
        done = self.done_chunks()
        todo = [c for c in range(self.n_chunks) if c not in done]
        skipped = self.runs_done = sum(self._chunk_len(c) for c in done)
        # the record of what is on disk, compacted to the parts just checked, and the experiment as run
        compact_journal(self.out, self._records)
        with on_disk(self.out / RESOLVED_FILE):
            write_json(self.out / RESOLVED_FILE, resolved_experiment(self.exp))
            write_scenario_yaml(self.out / SCENARIO_FILE, self.exp.base)
        first = self.manifest("running", started, {"runs_done": skipped})
        self._reserve_space(len(json.dumps(first)))
        self._write_manifest(first)
        if progress:
            progress(skipped, self.n_runs)
        window = max(2, 2 * (workers or pool.workers))
        session = _Session(self, pool, window, progress, skipped, [self.task(c) for c in reversed(todo[:window])],
                           iter(todo[window:]))
        t0 = time.perf_counter()
        status = "interrupted"
        error: str | None = None
        try:
            session.run()
            status = "incomplete" if session.died else "complete"
        except (KeyboardInterrupt, InputError, OSError) as e:
            if not isinstance(e, KeyboardInterrupt):
                status, error = "stopped", str(e)
            raise
        finally:
            for f in session.inflight:
                f.cancel()
            stats = {
                "runs_done": session.runs_done,
                "runs_skipped_as_done": skipped,
                "failures_this_session": session.failures,
                "runs_failed_by_infrastructure": session.died,
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



class _Session:
    """One session of a sweep on a pool: the chunks waiting (``queue``, then ``later``), in flight
    (at most ``window``), and retried one run per task (``retries``) after their worker died;
    and the counts (runs done, failures, runs whose worker died)."""

    def __init__(self, sweep: Sweep, pool: Pool, window: int, progress: Callable[[int, int], None] | None,
                 runs_done: int, queue: list[Task], later: Iterator[int]) -> None:
        self.sweep = sweep
        self.pool = pool
        self.window = window
        self.progress = progress
        self.runs_done = runs_done
        self.queue = queue
        self.later = later
        self.retries: list[Task] = []  # single runs of chunks whose worker died, each run alone
        self.partial: dict[int, list[dict[str, Any]]] = {}
        self.expected: dict[int, int] = {}
        self.inflight: dict[cf.Future[list[dict[str, Any]]], Task] = {}
        self.failures = 0
        self.died = 0

    def run(self) -> None:
        while self.queue or self.retries or self.inflight:
            if self.retries and not self.inflight:  # alone on the pool: a failure is this run's own
                self._run_alone()
                continue
            self._submit()
            if self.inflight:
                self._wait()

    def _finish(self, chunk: int, rows: list[dict[str, Any]]) -> None:
        sweep = self.sweep
        rows.sort(key=lambda r: r["run_id"])
        with on_disk(sweep.part_path(chunk)):
            sweep.write_part(chunk, rows)
        self.failures += sum(1 for r in rows if r["error"])
        self.died += sum(1 for r in rows if str(r["error"] or "").startswith(WORKER_DIED))
        self.runs_done += len(rows)
        sweep.runs_done = self.runs_done
        if self.progress:
            self.progress(self.runs_done, sweep.n_runs)

    def _collect(self, chunk: int, rows: list[dict[str, Any]]) -> None:
        self.partial[chunk].extend(rows)
        if len(self.partial[chunk]) == self.expected[chunk]:
            del self.expected[chunk]
            self._finish(chunk, self.partial.pop(chunk))

    def _run_alone(self) -> None:
        """Run the next retried run alone on the pool; if its worker dies again, record that."""
        t = self.retries.pop()
        try:
            f = self.pool.ex.submit(run_task, t)
        except cf.BrokenExecutor:  # a worker died after the last wait: a new pool, then again
            self.retries.append(t)
            self.pool.respawn()
            return
        cf.wait([f])
        err = f.exception()
        if err is None:
            self._collect(t.chunk, f.result())
            return
        run_id, point_id, rep, seed, point = t.runs[0]
        self._collect(t.chunk, [{"run_id": run_id, "point_id": point_id, "replicate": rep, "seed": seed,
                                 **{f"axis.{k}": v for k, v in point},
                                 "error": f"{WORKER_DIED}{type(err).__name__}: {err}"}])
        if isinstance(err, cf.BrokenExecutor):
            self.pool.respawn()

    def _submit(self) -> None:
        """Submit queued chunks until the window is full."""
        while not self.retries and self.queue and len(self.inflight) < self.window:
            t = self.queue.pop()
            try:
                self.inflight[self.pool.ex.submit(run_task, t)] = t
            except cf.BrokenExecutor:  # a worker died after the last wait
                self.queue.append(t)
                if not self.inflight:  # nothing left to collect: replace the pool now
                    self.pool.respawn()
                break  # otherwise the futures in flight report the break below

    def _wait(self) -> None:
        """Wait for a chunk in flight to finish; write it, or queue its runs again one by one if its
        worker died; then top the queue up from ``later``."""
        finished, _ = cf.wait(self.inflight, return_when=cf.FIRST_COMPLETED)
        broken = False
        for f in finished:
            t = self.inflight.pop(f)
            err = f.exception()
            if err is None:
                self._finish(t.chunk, f.result())
                continue
            # the worker died under this chunk (or with the pool): run its runs again, one by one
            broken |= isinstance(err, cf.BrokenExecutor)
            self.expected[t.chunk] = len(t.runs)
            self.partial[t.chunk] = []
            self.retries.extend(dataclasses.replace(t, runs=(r,)) for r in reversed(t.runs))
        if broken:  # the other tasks in flight went down with the pool: queue them again
            for f, t in self.inflight.items():
                f.cancel()
                self.queue.append(t)
            self.inflight.clear()
            self.pool.respawn()
        if len(self.queue) + len(self.inflight) < self.window:
            for c in self.later:
                self.queue.insert(0, self.sweep.task(c))
                if len(self.queue) + len(self.inflight) >= self.window:
                    break


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
    return run_one(sc, exp.seed_of(run_id))


def summary_frame(results_dir: str | Path, axes: list[str]) -> Any:
    """What the closing summary of a sweep needs, read from the parts column by column in
    batches (``pyarrow.dataset``): ``run_id``, the first two axis columns, ``agreed`` and
    ``error``, ordered by ``run_id`` and typed as ``model.results.load`` types them. The
    summary's rates come out as from every row loaded (tested), at a few bytes a run instead
    of every column (about 1 KB a run)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads

    parts = sorted(Path(results_dir).glob(PART_GLOB))
    if not parts:
        return pd.DataFrame()
    cols = ["run_id", *axes[:2], "agreed", "error"]
    data = pads.dataset([str(p) for p in parts], format="parquet")
    batches = [b for b in data.to_batches(columns=cols, batch_size=65_536) if b.num_rows]
    if not batches:
        return pd.DataFrame()
    df = pa.Table.from_batches(batches).to_pandas()
    df["agreed"] = df["agreed"].astype("boolean")
    return df.sort_values("run_id", kind="stable").reset_index(drop=True)
