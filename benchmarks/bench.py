"""grand-bargain benchmarks: speed and memory, as medians and as ratios against a baseline
measured in the same run (the machines are shared and noisy).

    python benchmarks/bench.py [--quick] [--only peer,shell,protocols,scaling,memory,startup]

``protocols`` (alias ``throughput``) measures runs/s per core of the baseline scenario under every
protocol, and of the shipped variants, through ``model.sweep.run_one``, with a profile of each.

Writes benchmarks/results.json and benchmarks/RESULTS.md and prints each ratio against its
target. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import dataclasses
import functools
import itertools
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model import scenario  # noqa: E402
from model.alloc import keep_heap_slack  # noqa: E402
from model.core import make_strategy  # noqa: E402
from model.core.batch import run_table_batch  # noqa: E402
from model.core.domains import peer_case_batch, peer_case_draws, table_problem  # noqa: E402
from model.core.protocol import run_package_protocol, run_package_vectorised  # noqa: E402
from model.core.strategies import Boulware, Conceder  # noqa: E402
from model.negotiation import Negotiation  # noqa: E402
from model.sweep import run_one  # noqa: E402

BASELINE = ROOT / "scenarios" / "belarus_us_2025.yaml"
BIN = Path(sys.executable).parent


def timed(fn: Callable[[], Any], reps: int) -> dict[str, float]:
    """Wall seconds of ``reps`` calls: median, min, max."""
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return {"median": statistics.median(ts), "min": min(ts), "max": max(ts), "reps": reps}


def rate(t: dict[str, float], n: int) -> dict[str, float]:
    """Items per second from a timing of ``n`` items (median, and the range)."""
    return {"median": n / t["median"], "min": n / t["max"], "max": n / t["min"], "reps": t["reps"]}


def _where(file: str, line: int, func: str) -> str:
    """A short name for a profiled function: the path below the project or site-packages."""
    if file == "~" or file.startswith("<"):
        return func
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    elif file.startswith(str(ROOT) + "/"):
        file = file[len(str(ROOT)) + 1:]
    elif "/lib/python3" in file:  # the standard library: lib/python3.x/...
        file = file.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return f"{file}:{line}({func})"


def _group(file: str) -> str:
    """The file of a profiled function in the project, or the installed package it belongs to."""
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    if file.startswith(str(ROOT) + "/"):
        return file[len(str(ROOT)) + 1:]
    return "stdlib"


def profile_top(fn: Callable[[], Any], n: int = 5) -> dict[str, Any]:
    """cProfile of one call of ``fn``: total seconds, the ``n`` functions with most own time, and
    own time by file (a built-in's time charged to the file of its caller)."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    st = pstats.Stats(prof)
    stats: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)
    total = float(st.total_tt)  # type: ignore[attr-defined]
    by_file: dict[str, float] = {}
    for (file, _, _), (_, _, tt, _, callers) in stats.items():
        if file == "~":  # a built-in: charge its callers
            for (cfile, _, _), cvals in callers.items():
                by_file[_group(cfile)] = by_file.get(_group(cfile), 0.0) + float(cvals[2])
        else:
            by_file[_group(file)] = by_file.get(_group(file), 0.0) + float(tt)
    files = sorted(by_file.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return {"total_s": total, "top": [
        {"function": _where(*key), "calls": int(v[1]), "own_s": float(v[2]), "cum_s": float(v[3]),
         "own_share": float(v[2]) / total if total else 0.0}
        for key, v in rows[:n]],
        "by_file": [{"file": f, "own_s": t, "own_share": t / total if total else 0.0} for f, t in files]}


def _by_file(prof: dict[str, Any]) -> str:
    return ", ".join(f"`{r['file']}` {100 * r['own_share']:.0f}%" for r in prof.get("by_file", []))


def _profile_lines(prof: dict[str, Any]) -> list[str]:
    rows = [f"| `{r['function']}` | {r['calls']} | {r['own_s']:.3f} | {100 * r['own_share']:.0f}% | {r['cum_s']:.3f} |"
            for r in prof["top"]]
    return [*rows, "", f"Own time by file (built-ins charged to their caller): {_by_file(prof)}."]


PROFILE_HEAD = ["| function | calls | own s | own share | cumulative s |", "|---|---|---|---|---|"]


# ---------------------------------------------------------------------------- 1. peer case

#: Boulware (4) and Conceder (0.25) in turn, party 0 Boulware (PEER_CASE.md).
PEER_EXPONENTS = [4.0 if p % 2 == 0 else 0.25 for p in range(8)]
#: Our engines. The headline is what users run: ``run`` is ``model.sweep.run_one`` on a compiled
#: scenario (what ``bargain run``/``sweep`` call: the arrays when the strategies depend on time
#: only, as here, else the Mesa model) and ``mesa`` the Mesa model itself (every other protocol
#: or strategy goes through it); ``batch`` (every domain of a size at once, ``model.core.batch``,
#: called by no command) is a separate line; ``vectorised`` and ``loop`` are the core engines.
PEER_ENGINES = ("run", "mesa", "batch", "vectorised", "loop")
#: A peer outcome: agreed, NegMAS rounds (every party one turn), the agreed level per issue (or None).
PeerOutcome = tuple[bool, int, tuple[int, ...] | None]


@functools.lru_cache(maxsize=8)
def peer_template(n_parties: int, n_issues: int = 3, n_values: int = 10) -> scenario.Scenario:
    """A scenario with the peer case's form (ordinal issues v0..v9 at ``m / 9``, Boulware and
    Conceder in turn, package protocol, 100 rounds of every party), compiled as ``bargain run``
    compiles a file; ``peer_scenario`` puts each domain's value tables in it."""
    levels = [{"name": f"v{m}", "value": round(m / (n_values - 1), 12)} for m in range(n_values)]
    data = {
        "name": f"peer_{n_parties}", "title": "peer case (shared/bench/PEER_CASE.md)", "seed": 0,
        "issues": [{"id": f"i{j}", "label": f"issue {j}", "kind": "ordinal", "levels": levels, "status_quo": "v0"}
                   for j in range(n_issues)],
        "actors": [{"id": f"p{p}", "name": f"p{p}", "reservation": 0.0,
                    "strategy": {"name": "boulware" if p % 2 == 0 else "conceder",
                                 "params": {"exponent": PEER_EXPONENTS[p]}},
                    "issues": {f"i{j}": {"position": "v0", "salience": 0.5} for j in range(n_issues)}}
                   for p in range(n_parties)],
        "protocol": {"kind": "package", "max_rounds": 100 * n_parties, "order": [f"p{p}" for p in range(n_parties)]},
    }
    return scenario.parse(data)


def peer_scenario(n_parties: int, k: int) -> scenario.Scenario:
    """Negotiation ``k`` of the peer case as a compiled scenario: the template with the domain's
    value tables and reservations (a value-table problem, ``model.core.domains.table_problem``)."""
    d = peer_case_draws(2024, k, n_parties)
    return dataclasses.replace(peer_template(n_parties), problem=table_problem(d), flow=d.reservation.copy())


def _levels(package: Any, n_values: int = 10) -> tuple[int, ...] | None:
    return None if package is None else tuple(int(round(float(v) * (n_values - 1))) for v in package)


def ours_peer(n_parties: int, count: int, engine: str) -> list[PeerOutcome]:
    if engine == "batch":  # all domains at once (``model.core.batch``), draws included
        b = run_table_batch(peer_case_batch(2024, range(count), n_parties), PEER_EXPONENTS[:n_parties],
                            list(range(n_parties)), 100 * n_parties)
        pk = [tuple(int(v) for v in row) if a else None for a, row in zip(b.agreed.tolist(), b.package, strict=True)]
        return list(zip(b.agreed.tolist(), (-(-b.rounds // n_parties)).tolist(), pk, strict=True))
    out: list[PeerOutcome] = []
    for k in range(count):
        if engine in ("run", "mesa"):
            sc = peer_scenario(n_parties, k)
            if engine == "run":
                r = run_one(sc, k)
                agreed, rounds = bool(r["agreed"]), int(r["rounds"])
                deal = [r[f"value.i{j}"] for j in range(3)] if agreed else None
            else:
                o = Negotiation(sc, rng=k, collect=False).run()
                agreed, rounds, deal = o.agreed, o.rounds, (o.package if o.agreed else None)
            out.append((agreed, -(-rounds // n_parties), _levels(deal)))
            continue
        p = table_problem(peer_case_draws(2024, k, n_parties))
        strategies = [Boulware(4.0) if i % 2 == 0 else Conceder(0.25) for i in range(n_parties)]
        fn = run_package_vectorised if engine == "vectorised" else run_package_protocol
        o = fn(p, strategies, list(range(n_parties)), 100 * n_parties, 0.0, np.random.default_rng(k))
        out.append((o.agreed, -(-o.rounds // n_parties), _levels(o.package if o.agreed else None)))
    return out


def negmas_peer(n_parties: int, count: int) -> list[PeerOutcome]:
    from negmas import SAOMechanism, make_issue
    from negmas.preferences import LinearAdditiveUtilityFunction
    from negmas.preferences.value_fun import TableFun
    from negmas.sao import BoulwareTBNegotiator, ConcederTBNegotiator

    out: list[PeerOutcome] = []
    for k in range(count):
        d = peer_case_draws(2024, k, n_parties)
        issues = [make_issue([f"v{m}" for m in range(10)], name=f"i{j}") for j in range(3)]
        mech = SAOMechanism(issues=issues, n_steps=100)
        for p in range(n_parties):
            u = LinearAdditiveUtilityFunction(
                values=[TableFun({f"v{m}": float(d.tables[p, j, m]) for m in range(10)}) for j in range(3)],
                weights=[float(w) for w in d.weights[p]],
                outcome_space=mech.outcome_space,
                reserved_value=float(d.reservation[p]),
            )
            mech.add(BoulwareTBNegotiator() if p % 2 == 0 else ConcederTBNegotiator(), preferences=u)
        state = mech.run()
        deal = state.agreement
        pk = None if deal is None else tuple(int(str(v).removeprefix("v")) for v in deal)
        out.append((deal is not None, int(state.step), pk))
    return out


def nash_distances(n_parties: int, outs: list[PeerOutcome]) -> list[float]:
    """For each agreement, the distance in utility space (Euclidean, utilities in [0, 1]) from
    the agreement to the Nash point: the package maximising the product of gains over
    reservation among all 1,000 packages (Nash 1950)."""
    import itertools as it

    grid = np.array(list(it.product(range(10), repeat=3)))  # every package, as level indices
    out = []
    for k, (agreed, _, pk) in enumerate(outs):
        if not agreed or pk is None:
            continue
        d = peer_case_draws(2024, k, n_parties)
        u_all = np.einsum("pj,pjn->np", d.weights, d.tables[:, np.arange(3)[:, None], grid.T])  # (N, P)
        gains = u_all - d.reservation[None, :]
        prod = np.where((gains >= 0).all(axis=1), np.prod(np.maximum(gains, 0.0), axis=1), -1.0)
        nash = u_all[int(prod.argmax())]
        mine = u_all[int(np.ravel_multi_index(pk, (10, 10, 10)))]
        out.append(float(np.linalg.norm(mine - nash)))
    return out


def compare_peer(n_parties: int, ours: list[PeerOutcome], theirs: list[PeerOutcome]) -> dict[str, Any]:
    """Negotiation by negotiation, over the domains both ran: how often both agree, how often on
    the very same package, and each engine's mean distance to the Nash point."""
    n = min(len(ours), len(theirs))
    both = [k for k in range(n) if ours[k][0] and theirs[k][0]]
    same = sum(1 for k in both if ours[k][2] == theirs[k][2])
    d_ours, d_theirs = nash_distances(n_parties, ours[:n]), nash_distances(n_parties, theirs[:n])
    return {"negotiations": n, "both_agree": len(both), "identical_packages": same,
            "share_identical": same / len(both) if both else float("nan"),
            "ours_mean_distance_to_nash": float(np.mean(d_ours)) if d_ours else float("nan"),
            "negmas_mean_distance_to_nash": float(np.mean(d_theirs)) if d_theirs else float("nan")}


def bench_peer(quick: bool) -> dict[str, Any]:
    res: dict[str, Any] = {}
    try:
        import negmas

        have_negmas = True
        res["negmas_version"] = negmas.__version__
    except ImportError:
        have_negmas = False
    for n_parties, count in ((2, 500), (4, 200)):
        if quick:
            count //= 5
        reps = 3 if quick else 7
        row: dict[str, Any] = {"negotiations": count}
        n_count = max(10, count // (5 if quick else 2))  # NegMAS is slow: fewer, same seeds
        outs: dict[str, list[PeerOutcome]] = {}
        times: dict[str, list[float]] = {e: [] for e in (*PEER_ENGINES, "negmas")}
        ratios: dict[str, list[float]] = {e: [] for e in PEER_ENGINES[:3]}
        peer_template(n_parties)  # compiled once, outside the timings (as a sweep compiles its point once)
        # The engines take turns, repetition by repetition, so that each ratio compares runs
        # made under the same load (the machine is shared and noisy).
        for _ in range(reps):
            for engine in PEER_ENGINES:
                t = time.perf_counter()
                outs[engine] = ours_peer(n_parties, count, engine)
                times[engine].append(time.perf_counter() - t)
            if have_negmas:
                t = time.perf_counter()
                outs["negmas"] = negmas_peer(n_parties, n_count)
                times["negmas"].append(time.perf_counter() - t)
                for engine, rs in ratios.items():
                    rs.append((count / times[engine][-1]) / (n_count / times["negmas"][-1]))
        for engine in ("run", "mesa", "vectorised"):
            if outs[engine] != outs["batch"]:
                raise AssertionError(f"the {engine} engine and the batch engine disagree on the peer case")

        def summary(engine: str, n: int) -> dict[str, Any]:
            ts = times[engine]  # noqa: B023
            t = {"median": statistics.median(ts), "min": min(ts), "max": max(ts), "reps": len(ts)}
            return {"negotiations": n, "negotiations_per_s": rate(t, n),
                    "agreement_rate": float(np.mean([o[0] for o in outs[engine]])),  # noqa: B023
                    "mean_rounds": float(np.mean([o[1] for o in outs[engine]]))}  # noqa: B023

        for engine in PEER_ENGINES:
            row[f"ours_{engine}"] = summary(engine, count)
        for engine in ("run", "batch"):
            row[f"profile_ours_{engine}"] = profile_top(lambda: ours_peer(n_parties, count, engine))  # noqa: B023
        if have_negmas:
            row["negmas"] = summary("negmas", n_count)
            # the median of the per-repetition ratios (each from runs made back to back); the
            # headline is the engine users run (``run``: bargain run/sweep), then the Mesa model
            for engine, rs in ratios.items():
                row[f"ratio_{engine}_vs_negmas"] = statistics.median(rs)
                row[f"ratio_{engine}_vs_negmas_range"] = [min(rs), max(rs)]
            row["comparison"] = compare_peer(n_parties, outs["run"], outs["negmas"])
        res[f"{n_parties}_parties"] = row
    return res


# ---------------------------------------------------------------------------- 2. thin shell


def bench_shell(quick: bool) -> dict[str, Any]:
    spec = scenario.load(BASELINE).spec
    n = 5 if quick else 10
    reps = 3 if quick else 5
    strategies = [make_strategy(a.strategy.name, a.strategy.params) for a in spec.actors]

    def fresh() -> scenario.Scenario:
        return scenario.compile_spec(spec)

    def core_loop(cached: scenario.Scenario | None) -> None:
        for s in range(n):
            sc = cached or fresh()
            proto = sc.spec.protocol
            run_package_protocol(sc.problem, strategies, sc.proposer_order(), proto.max_rounds, proto.breakdown_risk,
                                 np.random.default_rng(s))

    def mesa_model(cached: scenario.Scenario | None, collect: bool) -> None:
        for s in range(n):
            Negotiation(cached or fresh(), rng=s, collect=collect).run()

    warm = fresh()
    Negotiation(warm, rng=0).run()
    res: dict[str, Any] = {"runs": n}
    for label, cached in (("fresh_problem", None), ("cached_problem", warm)):
        # the three take turns, repetition by repetition (each ratio from runs back to back)
        ts: dict[str, list[float]] = {"core": [], "mesa": [], "mesa_dc": []}
        for _ in range(2 * reps + 1):
            for key, fn in (("core", functools.partial(core_loop, cached)),
                            ("mesa", functools.partial(mesa_model, cached, False)),
                            ("mesa_dc", functools.partial(mesa_model, cached, True))):
                t = time.perf_counter()
                fn()
                ts[key].append(time.perf_counter() - t)
        med = {k: statistics.median(v) for k, v in ts.items()}
        res[label] = {
            "core_loop_ms_per_run": med["core"] / n * 1e3,
            "mesa_ms_per_run": med["mesa"] / n * 1e3,
            "mesa_with_datacollector_ms_per_run": med["mesa_dc"] / n * 1e3,
            "ratio_mesa_vs_core": statistics.median([m / c for m, c in zip(ts["mesa"], ts["core"], strict=True)]),
            "ratio_mesa_datacollector_vs_core": statistics.median(
                [m / c for m, c in zip(ts["mesa_dc"], ts["core"], strict=True)]),
        }
    res["profile_cached_mesa"] = profile_top(lambda: mesa_model(warm, False), 8)
    res["profile_cached_core"] = profile_top(lambda: core_loop(warm), 5)
    return res


# ---------------------------------------------------------------------------- 3. throughput per protocol

PROTOCOLS = ("package", "incremental", "framework", "mediated", "eum")
#: Shipped scenarios that run each protocol as designed (the baseline with only ``protocol.kind``
#: changed keeps the package protocol's other settings).
VARIANTS = ("belarus_package", "belarus_stepwise", "belarus_framework", "scholz2011_eum")


def protocol_cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(case, protocol, scenario data): the baseline under every protocol, then the variants."""
    base, _ = scenario.load_data(BASELINE)
    cases = []
    for kind in PROTOCOLS:
        d = copy.deepcopy(base)
        d["protocol"]["kind"] = kind  # as `set: {protocol.kind: ...}` in a variant would
        cases.append((f"baseline/{kind}", kind, d))
    for name in VARIANTS:
        d, _ = scenario.load_data(ROOT / "scenarios" / f"{name}.yaml")
        cases.append((name, str(d["protocol"]["kind"]), d))
    return cases


def bench_protocols(quick: bool) -> dict[str, Any]:
    """Runs/s per core through ``model.sweep.run_one`` (what sweeps run), for every protocol.

    *New point each run*: each run checks and compiles its scenario from data (as a sweep
    worker does for a point it has not seen: ``scenario.parse``), then runs it; so each pays
    for the problem's derived tables (feasible boxes, offer tables, forecasts). Every new point
    moves the first actor's salience on its first issue a little (as a sweep axis would), so
    nothing that depends on preferences is found in a cache. *Replicates*: one compiled
    scenario, already run once, run again with new seeds (a sweep's replicates of one point).
    """
    reps = 3 if quick else 5
    budget = 0.15 if quick else 0.5  # seconds per repetition, roughly
    res: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for case, kind, data in protocol_cases():
            base_json = json.dumps(data, sort_keys=True, default=str)

            counter = itertools.count()

            def point() -> scenario.Scenario:
                d = json.loads(base_json)  # noqa: B023
                issues = d["actors"][0]["issues"]
                entry = issues[next(iter(issues))]
                k = next(counter)  # noqa: B023
                entry["salience"] = round(min(1.0, entry["salience"] * (0.9 + 0.2 * ((k * 0.618) % 1.0))), 6)
                return scenario.parse(d)

            sc = point()
            t0 = time.perf_counter()
            run_one(sc, 0)  # warm: imports, and the problem's tables
            t_warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            run_one(point(), 0)
            t_one = time.perf_counter() - t0
            n_new = max(3, min(200, round(budget / max(t_one, 1e-6))))
            t0 = time.perf_counter()
            run_one(sc, 1)
            n_rep = max(5, min(2000, round(budget / max(time.perf_counter() - t0, 1e-6))))
            rows: list[dict[str, Any]] = []

            def new_points(n: int = n_new) -> None:
                for s in range(n):
                    run_one(point(), s)  # noqa: B023

            def replicates(n: int = n_rep, keep: bool = False) -> None:
                for s in range(n):
                    r = run_one(sc, s)  # noqa: B023
                    if keep:
                        rows.append(r)  # noqa: B023

            t_new = timed(new_points, reps)
            t_rep = timed(replicates, reps)
            replicates(n_rep, True)
            res[case] = {
                "protocol": kind,
                "first_run_s": t_warm,
                "new_point_runs": n_new,
                "replicate_runs": n_rep,
                "new_point_runs_per_s": rate(t_new, n_new),
                "replicate_runs_per_s": rate(t_rep, n_rep),
                "agreement_rate": float(np.mean([r["agreed"] for r in rows])),
                "mean_rounds": float(np.mean([r["rounds"] for r in rows])),
                "profile_new_point": profile_top(lambda: new_points(max(3, n_new // 2))),  # noqa: B023
                "profile_replicate": profile_top(lambda: replicates(max(5, n_rep // 2))),  # noqa: B023
            }
            print(f"   {case}: {res[case]['new_point_runs_per_s']['median']:.1f} runs/s new point, "
                  f"{res[case]['replicate_runs_per_s']['median']:.1f} replicates", flush=True)
    return res


# ---------------------------------------------------------------------------- 4. scaling and 5. memory


def _small_scenario(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.factories import small

    f = tmp / "small.yaml"
    f.write_text(yaml.safe_dump(small(protocol={"max_rounds": 30, "breakdown_risk": 0.02}), sort_keys=False))
    return f


def _experiment(tmp: Path, name: str, design: dict[str, Any], axes: list[dict[str, Any]], replicates: int) -> Path:
    f = tmp / f"{name}.yaml"
    f.write_text(yaml.safe_dump({"name": name, "scenario": str(_small_scenario(tmp)), "design": design,
                                 "axes": axes, "replicates": replicates, "seed": 7}, sort_keys=False))
    return f


def bench_scaling(quick: bool) -> dict[str, Any]:
    from model import experiment as exm
    from model.sweep import Sweep, executor

    n = 1000 if quick else 5000
    res: dict[str, Any] = {"runs": n}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        axes: list[dict[str, Any]] = [{"path": "actors.X.reservation", "range": [0.2, 0.6]},
                {"path": "actors.Y.strategy.params.exponent", "range": [0.1, 0.9]},
                {"path": "protocol.max_rounds", "range": [5, 40], "integer": True}]
        f = _experiment(tmp, "scaling", {"kind": "lhs", "samples": n}, axes, 1)
        exp = exm.load(f)
        exp.points  # the design, computed once, outside every timing  # noqa: B018
        setups = (("process_1", "process", 1), ("process_2", "process", 2), ("dask_2", "dask", 2))
        ts: dict[str, list[float]] = {label: [] for label, _, _ in setups}
        # The set-ups take turns, repetition by repetition, so that each sees the same load.
        for rep in range(2 if quick else 3):
            for label, backend, workers in setups:
                out = tmp / f"{label}_{rep}"
                with executor(backend, workers) as pool:
                    t = time.perf_counter()
                    Sweep(exp, out).run(pool)
                    ts[label].append(time.perf_counter() - t)
        times = {label: statistics.median(v) for label, v in ts.items()}
        for label in times:
            res[label] = {"seconds": times[label], "runs_per_s": n / times[label]}
        res["speedup_2_vs_1_workers"] = statistics.median(
            [a / b for a, b in zip(ts["process_1"], ts["process_2"], strict=True)])
        res["ratio_dask_vs_process"] = statistics.median(
            [a / b for a, b in zip(ts["dask_2"], ts["process_2"], strict=True)])
    res["machine_ceiling"] = machine_ceiling(3 if quick else 5)
    res["speedup_share_of_ceiling"] = res["speedup_2_vs_1_workers"] / res["machine_ceiling"]["speedup"]
    return res


#: A pure-Python busy loop: no I/O, no shared state; what two of them gain is the machine's own
#: ceiling for two workers (shared cores, hyper-threads and neighbours on a VM all lower it).
_BUSY = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(6_000_000):\n    x += i * i\n" \
        "print(time.perf_counter() - t)"


def machine_ceiling(reps: int) -> dict[str, Any]:
    """Speed-up of two independent busy processes over one, on this machine, now: each rep
    runs the loop alone, then two copies at once (wall time until both finish)."""
    alone, pair = [], []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", _BUSY], check=True, capture_output=True)
        alone.append(time.perf_counter() - t)
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _BUSY], stdout=subprocess.DEVNULL) for _ in range(2)]
        for pr in procs:
            pr.wait()
        pair.append(time.perf_counter() - t)
    a, b = statistics.median(alone), statistics.median(pair)
    return {"one_s": a, "two_at_once_s": b, "speedup": 2 * a / b}


def _peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        raise RuntimeError(f"{cmd} failed with status {status}")
    return usage.ru_maxrss / 1024.0, time.perf_counter() - t


def bench_memory(quick: bool) -> dict[str, Any]:
    big = 10_000 if quick else 100_000
    res: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        axes = [{"path": "protocol.breakdown_risk", "values": [0.0, 0.02, 0.05, 0.1]},
                {"path": "actors.X.reservation", "values": [0.2, 0.4]}]
        for label, runs in (("small", 1000), ("large", big)):
            f = _experiment(tmp, f"memory_{label}", {"kind": "grid"}, axes, runs // 8)
            rss, secs = _peak_rss_mb([str(BIN / "bargain"), "sweep", str(f), "--backend", "serial",
                                      "--out", str(tmp / label)])
            res[label] = {"runs": runs, "peak_rss_mb": rss, "seconds": secs}
        res["ratio_large_vs_small"] = res["large"]["peak_rss_mb"] / res["small"]["peak_rss_mb"]
    return res


# ---------------------------------------------------------------------------- 5b. problem size


def synthetic(n_actors: int, n_issues: int, n_cond: int = 0, kind: str = "package", seed: int = 0) -> dict[str, Any]:
    """A synthetic scenario in the project's schema: ``n_actors`` parties with random ideal
    points and saliences on ``n_issues`` continuous issues (status quo 0.5, reservation at the
    status quo), and ``n_cond`` conditional red lines of the first actor, each on its own pair of
    issues (``i{2k+1} >= 0.6`` once ``i{2k} > 0.5``): independent, so ``2 ** n_cond`` feasible boxes."""
    rng = np.random.default_rng(seed)
    ids = [f"i{k}" for k in range(n_issues)]
    actors = []
    for a in range(n_actors):
        act: dict[str, Any] = {
            "id": f"A{a}", "name": f"A{a}", "reservation": "status_quo",
            "issues": {i: {"position": round(float(rng.uniform()), 3), "salience": round(float(rng.uniform(0.1, 1)), 3)}
                       for i in ids}}
        if a == 0 and n_cond:
            act["red_lines"] = [{"issue": f"i{2 * k + 1}", "min": 0.6, "when": {"issue": f"i{2 * k}", "above": 0.5}}
                                for k in range(n_cond)]
        actors.append(act)
    issues = [{"id": i, "label": i, "status_quo": 0.5} for i in ids]
    return {"name": "synthetic", "title": "synthetic", "issues": issues, "actors": actors,
            "protocol": {"kind": kind, "max_rounds": 30}}


def _rss_mb(field: str) -> float:
    for ln in Path("/proc/self/status").read_text().splitlines():
        if ln.startswith(field + ":"):
            return int(ln.split()[1]) / 1024.0
    return float("nan")


def size_point(n_actors: int, n_issues: int, n_cond: int, kind: str, seed: int = 0) -> dict[str, Any]:
    """One new point of a synthetic scenario (parse, check, compile and run, as a sweep worker at
    a new point), then one replicate, in this process (``bench_sizes`` runs each in a fresh one):
    seconds and the peak memory the point added (VmHWM reset before it, minus VmRSS then)."""
    run_one(scenario.parse(synthetic(3, 4, 0, kind, seed=99)), 0)  # imports and one-off set-up, outside
    data = synthetic(n_actors, n_issues, n_cond, kind, seed=seed)
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (Linux)
    before = _rss_mb("VmRSS")
    t = time.perf_counter()
    sc = scenario.parse(data)
    r = run_one(sc, 0)
    t_new = time.perf_counter() - t
    peak = _rss_mb("VmHWM") - before
    t = time.perf_counter()
    run_one(sc, 1)
    t_rep = time.perf_counter() - t
    # a sweep's next point that leaves the problem alone (here the deadline): parsed, compiled
    # and run afresh, with what the process kept of the first (the utopia point)
    other = json.loads(json.dumps(data))
    other["protocol"]["max_rounds"] = data["protocol"]["max_rounds"] - 5
    t = time.perf_counter()
    run_one(scenario.parse(other), 0)
    t_same = time.perf_counter() - t
    return {"actors": n_actors, "issues": n_issues, "conditional_lines": n_cond, "protocol": kind, "seed": seed,
            "new_point_s": t_new, "replicate_s": t_rep, "same_problem_point_s": t_same, "peak_added_mb": peak,
            "agreed": bool(r["agreed"]), "rounds": int(r["rounds"])}


def _size_in_child(n_actors: int, n_issues: int, n_cond: int, kind: str, timeout: float,
                   seed: int = 0) -> dict[str, Any]:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import bench; "
            f"print(json.dumps(bench.size_point({n_actors}, {n_issues}, {n_cond}, {kind!r}, {seed})))")
    t = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"actors": n_actors, "issues": n_issues, "conditional_lines": n_cond, "protocol": kind,
                "timeout_s": timeout}
    if p.returncode != 0:
        return {"actors": n_actors, "issues": n_issues, "conditional_lines": n_cond, "protocol": kind,
                "error": (p.stderr.strip().splitlines() or ["?"])[-1][:300], "seconds": time.perf_counter() - t}
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


#: The synthetic 100 x 50 scenarios measured: one seed can be lucky (seed 0 took 2 s a new point
#: under ``package`` while seed 1 hung the solver, before its stall guard), and the cases without a
#: zone of agreement are heavy-tailed (seed 1 about 8 s, seed 4 about a minute): the median and
#: the largest over five seeds are reported.
BIG_SEEDS = (0, 1, 2, 3, 4)


def _over_seeds(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over seeds of a size point's times and the largest peak memory, with each
    seed's point kept; a seed that timed out or failed counts as its time limit (``inf``)."""
    def t(r: dict[str, Any], k: str) -> float:
        return float(r[k]) if k in r else float("inf")
    out: dict[str, Any] = {"seeds": points}
    ok = [r for r in points if "new_point_s" in r]
    if not ok:
        return {**points[0], "seeds": points}
    out["new_point_s"] = statistics.median(t(r, "new_point_s") for r in points)
    out["new_point_s_max"] = max(t(r, "new_point_s") for r in points)
    out["replicate_s"] = statistics.median(t(r, "replicate_s") for r in points)
    out["same_problem_point_s"] = statistics.median(t(r, "same_problem_point_s") for r in points)
    out["peak_added_mb"] = max(float(r["peak_added_mb"]) for r in ok)
    out["agreed"] = [r.get("agreed") for r in points]
    return out


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    """The least-squares slope of ``log y`` on ``log x``: the exponent of a power law ``y ~ x^k``."""
    lx, ly = np.log(np.asarray(xs, dtype=float)), np.log(np.asarray(ys, dtype=float))
    return float(np.polyfit(lx, ly, 1)[0])


#: (axis, sizes quick, sizes full, fixed (actors, issues, conditional lines))
SIZE_AXES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("actors", (2, 4, 8, 16), (2, 4, 8, 16, 32)),
    ("issues", (5, 10, 20, 40), (5, 10, 20, 40, 80)),
    ("conditional_lines", (1, 4, 8, 12, 16, 20), (1, 2, 4, 8, 12, 16, 20)),
)


def bench_sizes(quick: bool) -> dict[str, Any]:
    """New-point and replicate time and peak memory against actors, issues and conditional red
    lines (synthetic scenarios, package protocol: the linear-program offers), each point in a
    fresh process, with the log-log slope of each; then the 100-actor x 50-issue point of #22."""
    res: dict[str, Any] = {}
    limit = 120.0 if quick else 600.0
    for axis, small_sizes, full_sizes in SIZE_AXES:
        rows = []
        for n in small_sizes if quick else full_sizes:
            shape = {"actors": (n, 10, 0), "issues": (4, n, 0), "conditional_lines": (4, 40, n)}[axis]
            rows.append(_size_in_child(*shape, "package", limit))
            print(f"   {axis}={n}: {rows[-1]}", flush=True)
        ok = [r for r in rows if "new_point_s" in r]
        out: dict[str, Any] = {"points": rows}
        if len(ok) >= 2:
            xs = [r[axis] for r in ok]
            out["slope_new_point"] = loglog_slope(xs, [r["new_point_s"] for r in ok])
            out["slope_replicate"] = loglog_slope(xs, [max(r["replicate_s"], 1e-6) for r in ok])
            out["slope_peak_memory"] = loglog_slope(xs, [max(r["peak_added_mb"], 0.1) for r in ok])
        res[axis] = out
    for kind in PROTOCOLS:  # the issue's target is for every protocol, on several random scenarios
        key = _big_key(kind)
        res[key] = _over_seeds([_size_in_child(100, 50, 0, kind, 180.0 if quick else 1800.0, seed)
                                for seed in BIG_SEEDS])
        print(f"   100 x 50, {kind}: {res[key]}", flush=True)
    # the schema's limits: 100 actors x 500 issues (package protocol)
    res["actors_100_issues_500"] = _size_in_child(100, 500, 0, "package", 120.0 if quick else 1800.0)
    print(f"   100 x 500: {res['actors_100_issues_500']}", flush=True)
    return res


# ---------------------------------------------------------------------------- 6. start-up


def bench_startup(quick: bool) -> dict[str, Any]:
    reps = 3 if quick else 5
    res: dict[str, Any] = {}
    for label, args in (("help", ["--help"]), ("run_baseline", ["run", str(BASELINE), "--no-plot"]),
                        ("run_baseline_with_plot", ["run", str(BASELINE), "--out", tempfile.mkdtemp()])):
        cmd = [str(BIN / "bargain"), *args]
        t = timed(functools.partial(subprocess.run, cmd, check=True, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL), reps)
        res[label] = {"seconds": t}
    t_py = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), reps)
    res["python_itself"] = {"seconds": t_py}
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c", "import model.cli"], capture_output=True,
                         text=True).stderr.splitlines()
    heavy = sorted(((int(ln.split("|")[1]), ln.split("|")[2].strip()) for ln in imp[1:] if ln.count("|") == 2),
                   reverse=True)[:5]
    res["import_model_cli_heaviest_us"] = heavy
    return res


# ---------------------------------------------------------------------------- report

def _big_key(kind: str) -> str:
    return "actors_100_issues_50" + ("" if kind == "package" else f"_{kind}")


#: (label, where the value is, comparison, target, where the profile that explains it is)
TARGETS: list[tuple[str, tuple[str, ...], str, float, tuple[str, ...] | None]] = [
    # the headline: what users run (bargain run / sweep: model.sweep.run_one), then the Mesa model
    *[(f"peer, {n} parties: {what} / NegMAS negotiations per s", ("peer", f"{n}_parties", f"ratio_{eng}_vs_negmas"),
       ">=", 20.0, ("peer", f"{n}_parties", f"profile_ours_{'batch' if eng == 'batch' else 'run'}"))
      for eng, what in (("run", "bargain run/sweep engine"), ("mesa", "Mesa model"),
                        ("batch", "batch engine (no command calls it)"))
      for n in (2, 4)],
    ("thin shell: Mesa model / core loop (fresh problem)", ("shell", "fresh_problem", "ratio_mesa_vs_core"), "<=", 1.5,
     None),
    ("thin shell: Mesa model / core loop (cached problem)", ("shell", "cached_problem", "ratio_mesa_vs_core"), "<=",
     1.5, ("shell", "profile_cached_mesa")),
    *[(f"runs/s per core, {k}, {label}", ("protocols", f"baseline/{k}", f"{key}_runs_per_s", "median"), ">=", 1000.0,
       ("protocols", f"baseline/{k}", f"profile_{key}"))
      for k in PROTOCOLS
      for label, key in (("new point each run", "new_point"), ("replicates of a point", "replicate"))],
    ("scaling: 2 workers / 1 worker speed-up", ("scaling", "speedup_2_vs_1_workers"), ">=", 1.8, None),
    ("scaling: Dask LocalCluster / process pool time", ("scaling", "ratio_dask_vs_process"), "<=", 1.25, None),
    ("memory: peak RSS large / small sweep", ("memory", "ratio_large_vs_small"), "<=", 1.5, None),
    *[(f"sizes: log-log slope of a new point's time in {axis.replace('_', ' ')}", ("sizes", axis, "slope_new_point"),
       "<=", 1.5, None) for axis, _, _ in SIZE_AXES],
    *[row for kind in PROTOCOLS for row in (
        (f"sizes: 100 actors x 50 issues, {kind}, a new point (s)", ("sizes", _big_key(kind), "new_point_s"), "<=",
         1.0, None),
        (f"sizes: 100 actors x 50 issues, {kind}, a replicate (s)", ("sizes", _big_key(kind), "replicate_s"), "<=",
         0.05, None),
        (f"sizes: 100 actors x 50 issues, {kind}, peak memory added (MB)", ("sizes", _big_key(kind), "peak_added_mb"),
         "<=", 500.0, None))],
    ("sizes: 100 actors x 500 issues (the schema's limits), a new point (s)",
     ("sizes", "actors_100_issues_500", "new_point_s"), "<=", 60.0, None),
]


def _get(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def machine() -> dict[str, Any]:
    vers = {}
    for pkg in ("grand-bargain", "mesa", "numpy", "pandas", "pyarrow", "negmas", "dask", "distributed"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            vers[pkg] = metadata.version(pkg)
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor(), "versions": vers,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = ["# Benchmark results", "",
             f"Measured {m['date']} on {m['platform']}, {m['cpus']} CPUs, Python {m['python']}; "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
             "Rerun with `make bench` (medians over repetitions; ratios are against a baseline measured in the "
             "same run). The bench process keeps heap slack as sweep workers and the CLI do (`model.alloc`): "
             + ("applied." if results.get("heap_slack") else "not available here."),
             "", "## Targets", "", "| measure | value | target | met |", "|---|---|---|---|"]
    notes: list[str] = []
    for label, path, op, target, prof_path in TARGETS:
        v = _get(results, path)
        if v is None:
            lines.append(f"| {label} | not measured | {op} {target:g} | - |")
            continue
        met = v >= target if op == ">=" else v <= target
        lines.append(f"| {label} | {v:.3g} | {op} {target:g} | {'yes' if met else 'NO'} |")
        if not met:
            short = target / v if op == ">=" and v > 0 else v / target
            note = f"- **{label}**: {v:.3g} against {op} {target:g}, missed by a factor {short:.2f}"
            prof = _get(results, prof_path) if prof_path else None
            if prof:
                top = ", ".join(f"`{r['function']}` {100 * r['own_share']:.0f}%" for r in prof["top"][:3])
                note += f". Most own time (cProfile): {top}; by file: {_by_file(prof)}"
            notes.append(note + ".")
    if notes:
        lines += ["", "### Missed targets", "", *notes]
    peer = results.get("peer", {})
    if peer:
        lines += ["", "## Peer case (shared/bench/PEER_CASE.md)", "",
                  "| parties | engine | negotiations/s (median, min-max) | agreement rate | mean rounds |",
                  "|---|---|---|---|---|"]
        for n in ("2_parties", "4_parties"):
            for eng in (*(f"ours_{e}" for e in PEER_ENGINES), "negmas"):
                r = peer.get(n, {}).get(eng)
                if r:
                    nps = r["negotiations_per_s"]
                    lines.append(f"| {n[0]} | {eng} | {nps['median']:.1f} ({nps['min']:.1f}-{nps['max']:.1f}) | "
                                 f"{r['agreement_rate']:.2f} | {r['mean_rounds']:.1f} |")
        lines.append("")
        for n in ("2_parties", "4_parties"):
            r = peer.get(n, {})
            for eng, what in (("run", "bargain run/sweep engine (`model.sweep.run_one`): the headline"),
                              ("mesa", "the Mesa model"), ("batch", "batch engine, called by no command")):
                if f"ratio_{eng}_vs_negmas" in r:
                    lo, hi = r[f"ratio_{eng}_vs_negmas_range"]
                    lines.append(f"- {n[0]} parties, {what}: {r[f'ratio_{eng}_vs_negmas']:.1f}x NegMAS (median of "
                                 f"the ratios of repetitions run back to back; range {lo:.1f}-{hi:.1f}x)")
            c = r.get("comparison")
            if c:
                lines.append(f"- {n[0]} parties, negotiation by negotiation ({c['negotiations']} domains, both agree "
                             f"in {c['both_agree']}): identical package in {c['identical_packages']} "
                             f"({100 * c['share_identical']:.0f}%); mean distance of the agreement to the Nash point "
                             f"(utility space): ours {c['ours_mean_distance_to_nash']:.3f}, NegMAS "
                             f"{c['negmas_mean_distance_to_nash']:.3f}")
        lines += ["", "`run` is what `bargain run`/`sweep` call (`model.sweep.run_one` on a compiled scenario of "
                  "the peer case's form: time-only strategies go through the arrays), `mesa` the Mesa model that "
                  "every other protocol or strategy goes through; `batch` (`model.core.batch`) negotiates all "
                  "domains of a size at once and no command calls it; `vectorised` and `loop` are the core "
                  "engines. All give the same outcomes (the bench checks each against the batch engine)."]
        for n in ("2_parties", "4_parties"):
            for engine in ("run", "batch"):
                prof = peer.get(n, {}).get(f"profile_ours_{engine}")
                if prof:
                    lines += ["", f"Where ours_{engine} spends its time, {n[0]} parties (cProfile, "
                              f"{prof['total_s']:.2f} s in all, top by own time):", "", *PROFILE_HEAD,
                              *_profile_lines(prof)]
    sh = results.get("shell")
    if sh:
        lines += ["", "## Thin shell (baseline scenario, ms per run, medians)", "",
                  "| problem | core loop | Mesa model | Mesa + DataCollector |", "|---|---|---|---|"]
        for k in ("fresh_problem", "cached_problem"):
            r = sh[k]
            lines.append(f"| {k} | {r['core_loop_ms_per_run']:.2f} | {r['mesa_ms_per_run']:.2f} | "
                         f"{r['mesa_with_datacollector_ms_per_run']:.2f} |")
        for key, what in (("profile_cached_mesa", "the Mesa model"), ("profile_cached_core", "the core loop")):
            prof = sh.get(key)
            if prof:
                lines += ["", f"Where {what} spends its time, cached problem, {sh['runs']} runs (cProfile, "
                          f"{prof['total_s']:.3f} s in all, top by own time):", "", *PROFILE_HEAD,
                          *_profile_lines(prof)]
    pr = results.get("protocols")
    if pr:
        lines += ["", "## Throughput per protocol (one core, through `model.sweep.run_one`)", "",
                  "`baseline/<kind>` is scenarios/belarus_us_2025.yaml with only `protocol.kind` changed; the "
                  "other rows are shipped variants. *New point*: every run parses, checks and compiles its "
                  "scenario, then runs (a sweep worker at a point it has not seen; each point moves the first "
                  "actor's first salience a little, so no preference-dependent table comes from a cache). "
                  "*Replicates*: one compiled "
                  "scenario run again with new seeds. Runs/s are medians over repetitions (min-max).", "",
                  "| case | protocol | new point runs/s | replicates runs/s | first run s | agreement rate | "
                  "mean rounds |", "|---|---|---|---|---|---|---|"]
        for case, r in pr.items():
            a, b = r["new_point_runs_per_s"], r["replicate_runs_per_s"]
            lines.append(f"| {case} | {r['protocol']} | {a['median']:.1f} ({a['min']:.1f}-{a['max']:.1f}) | "
                         f"{b['median']:.1f} ({b['min']:.1f}-{b['max']:.1f}) | {r['first_run_s']:.2f} | "
                         f"{r['agreement_rate']:.2f} | {r['mean_rounds']:.1f} |")
        lines += ["", "### Where the time goes (cProfile, top 5 by own time)"]
        for case, r in pr.items():
            if not case.startswith("baseline/"):
                continue
            for key, what in (("profile_new_point", "new point each run"), ("profile_replicate", "replicates")):
                prof = r[key]
                lines += ["", f"{case}, {what} ({prof['total_s']:.2f} s profiled):", "", *PROFILE_HEAD,
                          *_profile_lines(prof)]
    sc = results.get("scaling")
    if sc:
        lines += ["", f"## Scaling ({sc['runs']}-run LHS sweep of a small scenario)", ""]
        for k in ("process_1", "process_2", "dask_2"):
            lines.append(f"- {k}: {sc[k]['seconds']:.2f} s ({sc[k]['runs_per_s']:.0f} runs/s)")
        mc = sc.get("machine_ceiling")
        if mc:
            lines.append(f"- this machine's own ceiling, measured in the same run: two independent busy Python "
                         f"processes finish {mc['speedup']:.2f}x faster than one after the other "
                         f"({mc['one_s']:.2f} s alone, {mc['two_at_once_s']:.2f} s for two at once); the sweep's "
                         f"2-worker speed-up is {100 * sc['speedup_share_of_ceiling']:.0f}% of it")
    me = results.get("memory")
    if me:
        lines += ["", "## Memory (peak RSS of `bargain sweep`, serial backend)", ""]
        for k in ("small", "large"):
            lines.append(f"- {me[k]['runs']} runs: {me[k]['peak_rss_mb']:.0f} MB in {me[k]['seconds']:.1f} s")
    sz = results.get("sizes")
    if sz:
        lines += ["", "## Problem size (synthetic scenarios, package protocol, one fresh process per point)", "",
                  "A new point parses, checks, compiles and runs the scenario; a replicate runs it again with "
                  "another seed; peak memory is what the point added to the process (VmHWM over VmRSS before). "
                  "Slopes are least-squares slopes of log time on log size (a power law's exponent).", "",
                  "| axis | actors | issues | conditional lines | new point s | replicate s | peak MB | agreed |",
                  "|---|---|---|---|---|---|---|---|"]
        for axis, _, _ in SIZE_AXES:
            for r in sz.get(axis, {}).get("points", []):
                if "new_point_s" in r:
                    lines.append(f"| {axis} | {r['actors']} | {r['issues']} | {r['conditional_lines']} | "
                                 f"{r['new_point_s']:.3f} | {r['replicate_s']:.4f} | {r['peak_added_mb']:.0f} | "
                                 f"{r['agreed']} |")
                else:
                    why = f"timed out after {r['timeout_s']:.0f} s" if "timeout_s" in r else r.get("error", "?")
                    lines.append(f"| {axis} | {r['actors']} | {r['issues']} | {r['conditional_lines']} | {why} "
                                 "| | | |")
        lines.append("")
        for axis, _, _ in SIZE_AXES:
            a = sz.get(axis, {})
            if "slope_new_point" in a:
                lines.append(f"- slope in {axis.replace('_', ' ')}: new point {a['slope_new_point']:.2f}, "
                             f"replicate {a['slope_replicate']:.2f}, peak memory {a['slope_peak_memory']:.2f}")
        for key, what in [(_big_key(k), f"100 actors x 50 issues, {k}") for k in PROTOCOLS] + [
                ("actors_100_issues_500", "100 actors x 500 issues, package")]:
            big = sz.get(key, {})
            if "new_point_s" in big and "seeds" in big:
                each = ", ".join(f"{r['new_point_s']:.1f}" if "new_point_s" in r else "timed out" for r in big["seeds"])
                lines.append(f"- {what}: a new point {big['new_point_s']:.1f} s (median over seeds {BIG_SEEDS}: "
                             f"{each}), a new point that leaves the problem alone (another deadline) "
                             f"{big.get('same_problem_point_s', float('nan')):.2f} s, a replicate "
                             f"{big['replicate_s']:.3f} s, {big['peak_added_mb']:.0f} MB added at peak")
            elif "new_point_s" in big:
                lines.append(f"- {what}: a new point {big['new_point_s']:.1f} s, a replicate "
                             f"{big['replicate_s']:.3f} s, {big['peak_added_mb']:.0f} MB added at peak")
            elif big:
                why = big.get("error") or f"timed out after {big.get('timeout_s', 0):.0f} s"
                lines.append(f"- {what}: {why}")
    st = results.get("startup")
    if st:
        lines += ["", "## Start-up (wall seconds, median)", ""]
        for k in ("python_itself", "help", "run_baseline", "run_baseline_with_plot"):
            lines.append(f"- {k}: {st[k]['seconds']['median']:.2f} s")
        lines.append("- heaviest imports of `model.cli` (us): "
                     + ", ".join(f"{n} {us}" for us, n in st["import_model_cli_heaviest_us"]))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    ap.add_argument("--only", default="peer,shell,protocols,scaling,memory,sizes,startup",
                    help="comma-separated: peer, shell, protocols (alias throughput), scaling, memory, sizes, startup")
    ap.add_argument("--out", default=str(ROOT / "benchmarks"))
    args = ap.parse_args()
    benches = {"peer": bench_peer, "shell": bench_shell, "protocols": bench_protocols, "scaling": bench_scaling,
               "memory": bench_memory, "sizes": bench_sizes, "startup": bench_startup}
    # as every sweep worker and the CLI do (model.alloc): same results, fewer page faults
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "heap_slack": keep_heap_slack()}
    for name in args.only.split(","):
        name = "protocols" if name == "throughput" else name
        if name not in benches:
            ap.error(f"unknown benchmark {name!r} (choose from {', '.join(benches)})")
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        results[name] = benches[name](args.quick)
        print(f"   done in {time.perf_counter() - t:.1f} s", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    md = markdown(results)
    (out / "RESULTS.md").write_text(md)
    print()
    print(md)


if __name__ == "__main__":
    main()
