"""Scoring forecasts against the real outcomes of historical cases.

Every *method* gives a forecast package for a case: the model under each protocol (run through
:class:`~model.negotiation.Negotiation` with the case's scenario and the protocol changed, over
seeds), and the baselines (one deterministic package each). A method is scored on a case by:

* **MAE**: the mean absolute error over the issues whose real term is known,
  ``mean_i |forecast_i - real_i|`` on the issues' [0, 1] scales (a run's forecast is what it
  ends with: the agreed package, or the state it leaves, which is the status quo when talks
  fail; see :func:`run_forecast`);
* **settled or not** (protocols only; a baseline predicts terms, not whether they are agreed):
  the share ``p`` of seeds that agree, its Brier score ``(p - y)^2`` against the real ``y``
  (1 settled, 0 not) and whether ``p >= 0.5`` hits ``y``;
* **time to settle**: when the case and a run both settled, the run's rounds over the real
  rounds (1: on time), averaged over the runs that settled.

**Intervals.** Per case, a protocol's MAE is a mean over seeds with a 95% Student-t interval
(seeds are independent draws; a baseline has one value and no interval). Overall, a method's
MAE is the mean over cases of its per-case MAE, with a 95% percentile bootstrap interval over
cases (the cases are the sample that matters for "does it beat the baseline on another
negotiation"; :data:`BOOTSTRAP` resamples from a fixed seed, so the table is reproducible).
The same bootstrap gives the interval of each method's mean difference from the compromise
model.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from model import scenario as scn
from model.backtest.case import Case
from model.core.analysis import nash_point
from model.core.eum import forecast_problem, ideal_positions
from model.core.eum.stable import stable_forecast
from model.core.space import FloatArray
from model.negotiation import Negotiation
from model.theory.bargaining import compromise_forecast

#: The protocols a case is run under (each applies to any scenario).
PROTOCOLS: tuple[str, ...] = ("package", "mediated", "incremental", "framework", "eum")

#: The baselines: the compromise model (capability x salience weighted mean), the weighted
#: median, the Nash bargaining point, and the EUM's forecast (stable, and Scholz's last median).
BASELINES: tuple[str, ...] = ("compromise", "weighted_median", "nash", "eum_stable", "eum_scholz")

#: The settings every protocol shares; a case run under another protocol keeps only these.
COMMON = ("max_rounds", "discount", "breakdown_risk", "order")

#: Bootstrap resamples for the intervals over cases, and their seed.
BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0

#: Rounds of the EUM baselines (a horizon of its own: the cases' deadlines differ widely).
EUM_ROUNDS = 30


def method_label(method: str) -> str:
    """A protocol's rows are ``model:<protocol>``; a baseline's its own name."""
    return f"model:{method}" if method in PROTOCOLS else method


# --------------------------------------------------------------------------------------------
# the forecasts


def protocol_data(case: Case, kind: str) -> dict[str, Any]:
    """The case's scenario data under protocol ``kind``: its own protocol settings if it already
    uses ``kind``, else only the common ones (:data:`COMMON`); the ``eum`` protocol is given
    the stable forecast (``forecast: stable``) unless the case chose one."""
    data = copy.deepcopy(case.data)
    own = dict(data.get("protocol") or {})
    if own.get("kind", "package") == kind:
        proto = own
    else:
        proto = {k: own[k] for k in COMMON if k in own}
        proto["kind"] = kind
    if kind == "eum":
        proto.setdefault("forecast", "stable")
    data["protocol"] = proto
    return data


def protocol_scenario(case: Case, kind: str) -> scn.Scenario:
    """:func:`protocol_data` compiled (named after the case's scenario file, for messages)."""
    return scn.parse(protocol_data(case, kind), str(case.folder / "scenario.yaml"))


def run_forecast(sc: scn.Scenario, seed: int) -> tuple[FloatArray, bool, int]:
    """Run ``sc`` with ``seed``: the package the run ends with, whether it agreed, its rounds.

    The package is the run's final state (what was agreed, or implemented by the end under a
    step-by-step protocol; the status quo when no deal was made), or the agreed package for a
    protocol that keeps no state.
    """
    o = Negotiation(sc, rng=seed, collect=False).run()
    if o.state is not None:
        pk = np.asarray(o.state, dtype=float)
    elif o.package is not None and o.agreed:
        pk = np.asarray(o.package, dtype=float)
    else:
        pk = np.asarray(sc.problem.space.status_quo, dtype=float)
    return pk.copy(), bool(o.agreed), int(o.rounds)


def _weighted(case: Case, method: str) -> FloatArray:
    """The compromise model or the weighted median, issue by issue, over the actors that weigh
    the issue (weights capability x raw salience); an issue nobody weighs stays at its status quo."""
    sc = case.scenario
    x = ideal_positions(sc.problem.prefs)
    c = np.asarray(sc.capability, dtype=float)
    s = np.asarray(sc.raw_salience, dtype=float)
    out = np.asarray(sc.problem.space.status_quo, dtype=float).copy()
    weighed = (c[:, None] * s).sum(axis=0) > 0
    if weighed.any():
        wx, ws = x[:, weighed], s[:, weighed]
        out[weighed] = (compromise_forecast(wx, c, ws, "mean") if method == "compromise"
                        else compromise_forecast(wx, c, ws, "median"))
    return out


def _eum(case: Case, which: str) -> FloatArray:
    sc = case.scenario
    fc = forecast_problem(sc.problem, sc.capability, EUM_ROUNDS, salience=sc.raw_salience)
    if which == "eum_scholz":
        return np.array([float(f.median[-1]) for f in fc])
    return np.array([stable_forecast(f.positions[:, list(f.participants)], f.median).value for f in fc])


def baseline_forecast(case: Case, method: str) -> FloatArray:
    """The package baseline ``method`` (:data:`BASELINES`) forecasts for ``case``, ``(I,)``.

    ``nash``: the Nash bargaining point of the case's problem (the parties' Nash product over
    the feasible packages, ``model.core.analysis.nash_point``); the status quo when no package
    gives every party more than its reservation. ``eum_*``: the EUM over :data:`EUM_ROUNDS`
    rounds, issue by issue; no acceptance test (that is the ``eum`` protocol's).
    """
    if method in ("compromise", "weighted_median"):
        return _weighted(case, method)
    if method == "nash":
        p = case.scenario.problem
        pk = nash_point(p)
        return np.asarray(p.space.status_quo if pk is None else pk, dtype=float).copy()
    if method in ("eum_stable", "eum_scholz"):
        return _eum(case, method)
    raise ValueError(f"unknown baseline {method!r} (known: {', '.join(BASELINES)})")


# --------------------------------------------------------------------------------------------
# scores


def abs_errors(forecast: FloatArray, real: FloatArray) -> FloatArray:
    """``|forecast - real|`` per issue; ``nan`` where the real term is unknown."""
    return np.abs(np.asarray(forecast, dtype=float) - np.asarray(real, dtype=float))


def mae(forecast: FloatArray, real: FloatArray) -> float:
    """The mean absolute error over the issues whose real term is known."""
    e = abs_errors(forecast, real)
    return float(np.nanmean(e))


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of independent values (``nan`` bounds for fewer than two)."""
    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - half, m + half


def bootstrap_interval(values: Sequence[float], level: float = 0.95, n: int = BOOTSTRAP,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval of ``values`` (resampled with replacement)."""
    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return m, float(lo), float(hi)


@dataclass(frozen=True)
class RunScore:
    """One forecast of one case: a protocol's run with one seed, or a baseline (``seed`` -1)."""

    case: str
    method: str
    seed: int
    forecast: FloatArray
    errors: FloatArray  # (I,) |forecast - real|, nan where unknown
    agreed: bool | None  # None: a baseline
    rounds: int | None

    @property
    def mae(self) -> float:
        return float(np.nanmean(self.errors))


def score_case(case: Case, seeds: Sequence[int], protocols: Sequence[str] = PROTOCOLS,
               baselines: Sequence[str] = BASELINES,
               progress: Callable[[int], None] | None = None) -> list[RunScore]:
    """Every forecast of ``case``: each protocol over ``seeds``, then each baseline once.

    ``progress(n)`` is called after each run with the number of runs just done (1)."""
    out: list[RunScore] = []
    for kind in protocols:
        sc = protocol_scenario(case, kind)
        for seed in seeds:
            pk, agreed, rounds = run_forecast(sc, int(seed))
            out.append(RunScore(case.case_id, method_label(kind), int(seed), pk, abs_errors(pk, case.real),
                                agreed, rounds))
            if progress is not None:
                progress(1)
    for b in baselines:
        pk = baseline_forecast(case, b)
        out.append(RunScore(case.case_id, b, -1, pk, abs_errors(pk, case.real), None, None))
    return out


def case_rows(case: Case, runs: Sequence[RunScore]) -> list[dict[str, Any]]:
    """One row per method of ``case``: MAE with its interval, settlement and time scores."""
    y = 1.0 if case.outcome.settled else 0.0
    real_rounds = case.outcome.duration.rounds
    rows = []
    for method in dict.fromkeys(r.method for r in runs if r.case == case.case_id):
        mine = [r for r in runs if r.case == case.case_id and r.method == method]
        m, lo, hi = t_interval([r.mae for r in mine])
        row: dict[str, Any] = {"case": case.case_id, "method": method, "n": len(mine), "mae": m,
                               "mae_lo": lo, "mae_hi": hi, "real_settled": bool(case.outcome.settled),
                               "p_settled": math.nan, "brier": math.nan, "hit": math.nan, "time_ratio": math.nan}
        if mine[0].agreed is not None:
            p = float(np.mean([bool(r.agreed) for r in mine]))
            row.update(p_settled=p, brier=(p - y) ** 2, hit=float((p >= 0.5) == bool(y)))
            settled = [r.rounds for r in mine if r.agreed and r.rounds is not None]
            if case.outcome.settled and settled:
                row["time_ratio"] = float(np.mean(settled)) / real_rounds
        rows.append(row)
    return rows


def issue_rows(case: Case, runs: Sequence[RunScore]) -> list[dict[str, Any]]:
    """One row per method and issue of ``case``: the real term, the mean forecast, the mean error."""
    rows = []
    for method in dict.fromkeys(r.method for r in runs if r.case == case.case_id):
        mine = [r for r in runs if r.case == case.case_id and r.method == method]
        fc = np.mean([r.forecast for r in mine], axis=0)
        err = np.mean([r.errors for r in mine], axis=0)
        for i, iid in enumerate(case.issues):
            rows.append({"case": case.case_id, "method": method, "issue": iid,
                         "real": float(case.real[i]), "forecast": float(fc[i]), "abs_error": float(err[i])})
    return rows


def overall_rows(rows: Sequence[dict[str, Any]], reference: str = "compromise") -> list[dict[str, Any]]:
    """One row per method over all cases: mean MAE over cases with a bootstrap interval, the
    mean difference from ``reference`` (negative: better) with its interval, the cases where the
    method beats the reference, and the mean Brier score, hit rate and time ratio."""
    cases = list(dict.fromkeys(r["case"] for r in rows))
    by = {(r["case"], r["method"]): r for r in rows}
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        have = [c for c in cases if (c, method) in by]
        maes = [by[c, method]["mae"] for c in have]
        m, lo, hi = bootstrap_interval(maes)
        row: dict[str, Any] = {"method": method, "cases": len(have), "mae": m, "mae_lo": lo, "mae_hi": hi}
        paired = [c for c in have if (c, reference) in by]
        diffs = [by[c, method]["mae"] - by[c, reference]["mae"] for c in paired]
        d, dlo, dhi = bootstrap_interval(diffs) if diffs else (math.nan, math.nan, math.nan)
        row.update(diff_vs_ref=d, diff_lo=dlo, diff_hi=dhi, better_than_ref=sum(x < -1e-12 for x in diffs))
        for key in ("brier", "hit", "time_ratio"):
            vals = [by[c, method][key] for c in have if not math.isnan(by[c, method][key])]
            row[key] = float(np.mean(vals)) if vals else math.nan
        out.append(row)
    return out


@dataclass(frozen=True)
class Backtest:
    """A whole back-test: every run's score, the per-case rows, the per-issue rows, the overall rows."""

    seeds: tuple[int, ...]
    runs: list[RunScore]
    cases: list[dict[str, Any]]
    issues: list[dict[str, Any]]
    overall: list[dict[str, Any]]


def backtest(cases: Sequence[Case], seeds: Sequence[int], protocols: Sequence[str] = PROTOCOLS,
             baselines: Sequence[str] = BASELINES,
             progress: Callable[[int, int], None] | None = None) -> Backtest:
    """Score every case (:func:`score_case`) and summarise (``progress(done, total)`` after each run)."""
    total = len(cases) * len(protocols) * len(seeds)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    runs: list[RunScore] = []
    rows: list[dict[str, Any]] = []
    irows: list[dict[str, Any]] = []
    for case in cases:
        mine = score_case(case, seeds, protocols, baselines, tick)
        runs += mine
        rows += case_rows(case, mine)
        irows += issue_rows(case, mine)
    return Backtest(tuple(int(s) for s in seeds), runs, rows, irows, overall_rows(rows))
