"""The allocator setting of ``model.alloc``: where it applies, and that it does what it is for.

What it is for is fewer page faults (a run's numpy temporaries reuse heap memory instead of
asking the system again), so the test counts page faults, which the machine's load does not
change, rather than timing anything. The workload is a loop of such temporaries: since the
package protocol's offers became linear programs (HiGHS keeps its own long-lived memory at the
top of the heap) a model run alone no longer shows the effect; the test also checks that the
setting changes no result.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from model import alloc
from model.sweep import executor

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                           reason="the setting exists in glibc only")

_NEW_POINTS = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from model import alloc, scenario
    from model.sweep import run_one

    if sys.argv[1] == "slack":
        assert alloc.keep_heap_slack()

    def cycle():  # a run's temporaries: many small arrays (below the mmap threshold) that grow the heap
        held = [np.ones(8000) for _ in range(60)]
        return float(sum(h[0] for h in held))

    cycle()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        cycle()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    sc = scenario.load("scenarios/belarus_us_2025.yaml")
    rows = [run_one(sc, k) for k in range(3)]
    print(json.dumps([[r["agreed"], r["rounds"], r["reason"], r["nash_product"]] for r in rows]))
""")


def _new_points(mode: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TOP_PAD_"}
    out = subprocess.run([sys.executable, "-c", _NEW_POINTS, mode], capture_output=True, text=True, check=True,
                         env=env).stdout.split("\n")
    return int(out[0]), out[1]


@glibc
def test_heap_slack_cuts_the_page_faults_of_temporaries_and_changes_no_result() -> None:
    faults_default, rows_default = _new_points("default")
    faults_slack, rows_slack = _new_points("slack")
    assert rows_slack == rows_default
    assert faults_slack < 0.5 * faults_default, (faults_slack, faults_default)


@glibc
def test_keep_heap_slack_applies_once_and_yields_to_the_users_setting() -> None:
    assert alloc.keep_heap_slack() and alloc.applied()
    assert alloc.keep_heap_slack()  # idempotent
    code = "from model import alloc; print(alloc.keep_heap_slack(), alloc.applied())"
    env = {**os.environ, "MALLOC_TOP_PAD_": "1048576"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "False"]


@glibc
@pytest.mark.parametrize("backend", ["process", "dask"])
def test_sweep_workers_keep_heap_slack_from_the_start(backend: str) -> None:
    """Every worker, before it runs anything (the process pool's initializer; Dask's
    ``client.run`` on every worker), not only those that happened to run the warm-up task."""
    with executor(backend, 2) as pool:
        answers = [pool.ex.submit(alloc.applied) for _ in range(16)]
        assert all(f.result() for f in answers)
