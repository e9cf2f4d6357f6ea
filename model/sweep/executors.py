"""The executors a sweep runs its chunks on (``serial``, ``process``, ``dask``), behind one ``Pool``
that is replaced when a worker dies; the worker initializer (allocator, Ctrl-C, death watch); and
the signals that stop a sweep cleanly (``stop_on_signals``)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from model.alloc import keep_heap_slack
from model.errors import whole_input_error

#: At most this many worker processes per core (more only thrash: 48 workers on 2 cores ran 14x slower).
MAX_WORKERS_PER_CPU = 4


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


class Interrupted(KeyboardInterrupt):
    """The sweep was stopped by a signal (``signum``): SIGINT (Ctrl-C), SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: A signal that arrives during a finaliser is raised again this many seconds later.
REDELIVER_S = 0.05


def _in_finaliser(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside an object's ``__del__`` (where Python drops exceptions)."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` in the main thread, once: the sweep then
    stops its workers and marks its manifest ``interrupted`` (a second signal during that clean-up
    is ignored, so it cannot leave a half-written manifest or a traceback). A signal that lands
    in a finaliser, where the exception would be dropped and the sweep run on, is raised again
    a moment later."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired:
            return
        if _in_finaliser(frame):
            # an exception raised in a ``__del__`` (a Parquet writer's, say) is printed and dropped:
            # the signal comes again in a moment, to stop the sweep where it can be stopped
            threading.Timer(REDELIVER_S, signal.raise_signal, (signum,)).start()
            return
        fired.append(signum)
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
