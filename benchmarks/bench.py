"""grand-bargain benchmarks: speed and memory, as medians and as ratios against a baseline
measured in the same run (the machines are shared and noisy).

    python benchmarks/bench.py [--quick] [--only peer,shell,throughput,scaling,memory,startup]

Writes benchmarks/results.json and benchmarks/RESULTS.md and prints each ratio against its
target. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model import scenario  # noqa: E402
from model.core import make_strategy  # noqa: E402
from model.core.domains import peer_case_draws, table_problem  # noqa: E402
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


# ---------------------------------------------------------------------------- 1. peer case


def ours_peer(n_parties: int, count: int, engine: str) -> list[tuple[bool, int]]:
    out = []
    for k in range(count):
        p = table_problem(peer_case_draws(2024, k, n_parties))
        strategies = [Boulware(4.0) if i % 2 == 0 else Conceder(0.25) for i in range(n_parties)]
        fn = run_package_vectorised if engine == "vectorised" else run_package_protocol
        o = fn(p, strategies, list(range(n_parties)), 100 * n_parties, 0.0, np.random.default_rng(k))
        out.append((o.agreed, -(-o.rounds // n_parties)))  # NegMAS rounds: every party one turn
    return out


def negmas_peer(n_parties: int, count: int) -> list[tuple[bool, int]]:
    from negmas import SAOMechanism, make_issue
    from negmas.preferences import LinearAdditiveUtilityFunction
    from negmas.preferences.value_fun import TableFun
    from negmas.sao import BoulwareTBNegotiator, ConcederTBNegotiator

    out = []
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
        out.append((state.agreement is not None, int(state.step)))
    return out


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
        reps = 3 if quick else 5
        row: dict[str, Any] = {"negotiations": count}
        for engine in ("vectorised", "loop"):
            outs: list[list[tuple[bool, int]]] = []
            t = timed(lambda e=engine: outs.append(ours_peer(n_parties, count, e)), reps)  # noqa: B023
            row[f"ours_{engine}"] = {
                "negotiations_per_s": rate(t, count),
                "agreement_rate": float(np.mean([a for a, _ in outs[0]])),
                "mean_rounds": float(np.mean([r for _, r in outs[0]])),
            }
        if have_negmas:
            n_count = max(10, count // (5 if quick else 2))  # NegMAS is slow: fewer, same seeds
            outs = []
            t = timed(lambda: outs.append(negmas_peer(n_parties, n_count)), 3 if quick else 5)  # noqa: B023
            row["negmas"] = {
                "negotiations": n_count,
                "negotiations_per_s": rate(t, n_count),
                "agreement_rate": float(np.mean([a for a, _ in outs[0]])),
                "mean_rounds": float(np.mean([r for _, r in outs[0]])),
            }
            row["ratio_vs_negmas"] = (
                row["ours_vectorised"]["negotiations_per_s"]["median"] / row["negmas"]["negotiations_per_s"]["median"]
            )
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
        t_core = timed(lambda c=cached: core_loop(c), reps)  # noqa: B023
        t_mesa = timed(lambda c=cached: mesa_model(c, False), reps)  # noqa: B023
        t_mesa_dc = timed(lambda c=cached: mesa_model(c, True), reps)  # noqa: B023
        res[label] = {
            "core_loop_ms_per_run": t_core["median"] / n * 1e3,
            "mesa_ms_per_run": t_mesa["median"] / n * 1e3,
            "mesa_with_datacollector_ms_per_run": t_mesa_dc["median"] / n * 1e3,
            "ratio_mesa_vs_core": t_mesa["median"] / t_core["median"],
            "ratio_mesa_datacollector_vs_core": t_mesa_dc["median"] / t_core["median"],
        }
    return res


# ---------------------------------------------------------------------------- 3. baseline throughput


def bench_throughput(quick: bool) -> dict[str, Any]:
    spec = scenario.load(BASELINE).spec
    n = 10 if quick else 30

    def sweep_like() -> None:  # each run at a new point: compile, then run as a sweep does
        for s in range(n):
            run_one(scenario.compile_spec(spec), s)

    def replicates() -> None:  # replicates of one point: the compiled problem is reused
        sc = scenario.compile_spec(spec)
        for s in range(n):
            run_one(sc, s)

    t_new = timed(sweep_like, 3 if quick else 5)
    t_rep = timed(replicates, 3 if quick else 5)
    prof = cProfile.Profile()
    prof.enable()
    sweep_like()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(8)
    top = [ln.strip() for ln in buf.getvalue().splitlines() if "(" in ln and "/" in ln][:8]
    return {
        "protocol": "package",
        "runs": n,
        "new_point_runs_per_s": rate(t_new, n),
        "replicate_runs_per_s": rate(t_rep, n),
        "profile_top_tottime": top,
    }


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
        axes = [{"path": "actors.X.reservation", "range": [0.2, 0.6]},
                {"path": "actors.Y.strategy.params.exponent", "range": [0.1, 0.9]},
                {"path": "protocol.max_rounds", "range": [5, 40], "integer": True}]
        f = _experiment(tmp, "scaling", {"kind": "lhs", "samples": n}, axes, 1)
        exp = exm.load(f)
        times = {}
        for label, backend, workers in (("process_1", "process", 1), ("process_2", "process", 2),
                                        ("dask_2", "dask", 2)):
            ts = []
            for rep in range(2 if quick else 3):
                out = tmp / f"{label}_{rep}"
                with executor(backend, workers) as pool:
                    t = time.perf_counter()
                    Sweep(exp, out).run(pool)
                    ts.append(time.perf_counter() - t)
            times[label] = statistics.median(ts)
            res[label] = {"seconds": times[label], "runs_per_s": n / times[label]}
        res["speedup_2_vs_1_workers"] = times["process_1"] / times["process_2"]
        res["ratio_dask_vs_process"] = times["dask_2"] / times["process_2"]
    return res


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


# ---------------------------------------------------------------------------- 6. start-up


def bench_startup(quick: bool) -> dict[str, Any]:
    reps = 3 if quick else 5
    res = {}
    for label, args in (("help", ["--help"]), ("run_baseline", ["run", str(BASELINE), "--no-plot"]),
                        ("run_baseline_with_plot", ["run", str(BASELINE), "--out", tempfile.mkdtemp()])):
        t = timed(lambda a=args: subprocess.run([str(BIN / "bargain"), *a], check=True,  # noqa: B023
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), reps)
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

TARGETS = [
    ("peer, 2 parties: ours / NegMAS negotiations per s", ("peer", "2_parties", "ratio_vs_negmas"), ">=", 20.0),
    ("peer, 4 parties: ours / NegMAS negotiations per s", ("peer", "4_parties", "ratio_vs_negmas"), ">=", 20.0),
    ("thin shell: Mesa model / core loop (fresh problem)", ("shell", "fresh_problem", "ratio_mesa_vs_core"), "<=", 1.5),
    ("thin shell: Mesa model / core loop (cached problem)", ("shell", "cached_problem", "ratio_mesa_vs_core"), "<=",
     1.5),
    ("baseline runs per s per core, new point each run", ("throughput", "new_point_runs_per_s", "median"), ">=",
     1000.0),
    ("baseline runs per s per core, replicates of a point", ("throughput", "replicate_runs_per_s", "median"), ">=",
     1000.0),
    ("scaling: 2 workers / 1 worker speed-up", ("scaling", "speedup_2_vs_1_workers"), ">=", 1.8),
    ("scaling: Dask LocalCluster / process pool time", ("scaling", "ratio_dask_vs_process"), "<=", 1.25),
    ("memory: peak RSS large / small sweep", ("memory", "ratio_large_vs_small"), "<=", 1.5),
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
             "same run).", "", "## Targets", "", "| measure | value | target | met |", "|---|---|---|---|"]
    for label, path, op, target in TARGETS:
        v = _get(results, path)
        if v is None:
            lines.append(f"| {label} | not measured | {op} {target:g} | - |")
            continue
        met = v >= target if op == ">=" else v <= target
        lines.append(f"| {label} | {v:.3g} | {op} {target:g} | {'yes' if met else 'NO'} |")
    peer = results.get("peer", {})
    if peer:
        lines += ["", "## Peer case (shared/bench/PEER_CASE.md)", "",
                  "| parties | engine | negotiations/s (median, min-max) | agreement rate | mean rounds |",
                  "|---|---|---|---|---|"]
        for n in ("2_parties", "4_parties"):
            for eng in ("ours_vectorised", "ours_loop", "negmas"):
                r = peer.get(n, {}).get(eng)
                if r:
                    nps = r["negotiations_per_s"]
                    lines.append(f"| {n[0]} | {eng} | {nps['median']:.1f} ({nps['min']:.1f}-{nps['max']:.1f}) | "
                                 f"{r['agreement_rate']:.2f} | {r['mean_rounds']:.1f} |")
    sh = results.get("shell")
    if sh:
        lines += ["", "## Thin shell (baseline scenario, ms per run, medians)", "",
                  "| problem | core loop | Mesa model | Mesa + DataCollector |", "|---|---|---|---|"]
        for k in ("fresh_problem", "cached_problem"):
            r = sh[k]
            lines.append(f"| {k} | {r['core_loop_ms_per_run']:.2f} | {r['mesa_ms_per_run']:.2f} | "
                         f"{r['mesa_with_datacollector_ms_per_run']:.2f} |")
    th = results.get("throughput")
    if th:
        lines += ["", "## Baseline throughput (package protocol, one core)", "",
                  f"- new point each run (compile + run): {th['new_point_runs_per_s']['median']:.1f} runs/s",
                  f"- replicates of one point: {th['replicate_runs_per_s']['median']:.1f} runs/s",
                  "- where the time goes (cProfile, top by own time):", "", "```"]
        lines += th["profile_top_tottime"] + ["```"]
    sc = results.get("scaling")
    if sc:
        lines += ["", f"## Scaling ({sc['runs']}-run LHS sweep of a small scenario)", ""]
        for k in ("process_1", "process_2", "dask_2"):
            lines.append(f"- {k}: {sc[k]['seconds']:.2f} s ({sc[k]['runs_per_s']:.0f} runs/s)")
    me = results.get("memory")
    if me:
        lines += ["", "## Memory (peak RSS of `bargain sweep`, serial backend)", ""]
        for k in ("small", "large"):
            lines.append(f"- {me[k]['runs']} runs: {me[k]['peak_rss_mb']:.0f} MB in {me[k]['seconds']:.1f} s")
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
    ap.add_argument("--only", default="peer,shell,throughput,scaling,memory,startup")
    ap.add_argument("--out", default=str(ROOT / "benchmarks"))
    args = ap.parse_args()
    benches = {"peer": bench_peer, "shell": bench_shell, "throughput": bench_throughput, "scaling": bench_scaling,
               "memory": bench_memory, "startup": bench_startup}
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    for name in args.only.split(","):
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
