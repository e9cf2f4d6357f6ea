"""Back-testing against real negotiations: historical cases, scores and baselines.

``case``: a case folder (``scenario.yaml`` and ``outcome.yaml``) read and checked; ``score``:
the forecasts of every protocol and baseline scored against the real terms; ``plots``: the
model against each baseline, case by case. ``from model.backtest import ...`` is the way in;
``docs/backtest.md`` describes the case format and ``bargain backtest`` runs it all.
"""

from model.backtest.case import (
    Case,
    DurationSpec,
    OutcomeSpec,
    TermSpec,
    case_folders,
    load_case,
    load_cases,
    read_outcome,
)
from model.backtest.plots import plot_backtest
from model.backtest.score import (
    BASELINES,
    PROTOCOLS,
    Backtest,
    RunScore,
    backtest,
    baseline_forecast,
    bootstrap_interval,
    mae,
    protocol_scenario,
    run_forecast,
    score_case,
    t_interval,
)

__all__ = [
    "BASELINES",
    "PROTOCOLS",
    "Backtest",
    "Case",
    "DurationSpec",
    "OutcomeSpec",
    "RunScore",
    "TermSpec",
    "backtest",
    "baseline_forecast",
    "bootstrap_interval",
    "case_folders",
    "load_case",
    "load_cases",
    "mae",
    "plot_backtest",
    "protocol_scenario",
    "read_outcome",
    "run_forecast",
    "score_case",
    "t_interval",
]
