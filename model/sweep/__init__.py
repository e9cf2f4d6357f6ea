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
experiment and base scenario as run, for ``rerun``), ``scenario.resolved.yaml`` (the base scenario
as run, which ``bargain run`` reads), with ``--series`` ``series/part-NNNNNN.parquet`` (every
run round by round, ``model.sweep.series``; checked and resumed like the main parts) and
``.lock`` (held by the sweep writing the folder). A resumed sweep redoes every part that is not
exactly as recorded, and every chunk with a run whose worker died.

The package, along its seams (each module imports only those before it): ``series`` (the
per-round records), ``rows`` (the row layout,
``run_one`` and ``run_task``, what a worker runs), ``executors`` (``SerialExecutor``, ``Pool``,
``executor``, the worker initializer and death watch, the signals), ``storage`` (the folder's files:
parts, checksums, journal, manifest, lock) and ``sweep`` (``Sweep`` and ``rerun``). Every name is
re-exported here: ``from model.sweep import ...`` stays the way in.
"""

from model.sweep.executors import (
    MAX_WORKERS_PER_CPU,
    Interrupted,
    Pool,
    SerialExecutor,
    check_workers,
    executor,
    stop_on_signals,
)
from model.sweep.rows import (
    KEY_COLUMNS,
    OUTCOME_COLUMNS,
    WORKER_DIED,
    LayoutError,
    Task,
    _compiled,
    axis_type,
    result_columns,
    row_columns,
    run_one,
    run_task,
)
from model.sweep.series import SERIES_DIR, series_columns
from model.sweep.storage import (
    JOURNAL_FILE,
    LOCK_FILE,
    MANIFEST_FORMAT,
    PART_GLOB,
    RESERVE_FILE,
    RESOLVED_FILE,
    SCENARIO_FILE,
    file_sha256,
    git_state,
    on_disk,
    part_fault,
    part_records,
    resolved_experiment,
)
from model.sweep.sweep import Sweep, rerun

__all__ = [
    "JOURNAL_FILE", "KEY_COLUMNS", "LOCK_FILE", "MANIFEST_FORMAT", "MAX_WORKERS_PER_CPU", "OUTCOME_COLUMNS",
    "PART_GLOB", "RESERVE_FILE", "RESOLVED_FILE", "SCENARIO_FILE", "SERIES_DIR", "WORKER_DIED", "Interrupted",
    "LayoutError", "Pool", "SerialExecutor", "Sweep", "Task", "_compiled", "axis_type", "check_workers", "executor",
    "file_sha256", "git_state", "on_disk", "part_fault", "part_records", "rerun", "resolved_experiment",
    "result_columns", "row_columns", "run_one", "run_task", "series_columns", "stop_on_signals",
]
