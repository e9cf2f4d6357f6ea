"""``eum``: the expected-utility model as a forecast, issue by issue.

Bueno de Mesquita's expected-utility model as reconstructed by Scholz, Calbert and Smith (2011,
Journal of Theoretical Politics 23(4)); ``model.core.eum`` has the equations. Each issue is
forecast on its own from the actors' ideal positions, their salience on it and their capability;
a round of the model is a round of the EUM on every issue, and the package on the table is the
forecast (the capability-and-salience weighted median of positions); issues an excluded collective
holds stay at the status quo. After ``max_rounds`` rounds
the forecast is put to the parties: it is an agreement if it crosses none of their red lines and
gives every party at least its reservation utility; otherwise the summary says who it fails.

``forecast`` chooses what is put to the parties. ``scholz`` (the default): the median after
exactly ``max_rounds`` rounds, Bueno de Mesquita's forecast as replicated by Scholz et al.
(kept as the default so that every existing ``eum`` result and the replication stay exactly as
they were). ``stable``: the forecast of ``model.core.eum.stable`` (the median once the positions
settle, the mean of the medians over a cycle once they repeat, else the time average of the
median), which does not hinge on the parity of the horizon; the talks end at the round where
every issue has settled or cycled (the stop round), and every round records each actor's
position on every issue as an ``eum round`` event.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, Strict

from model.core.eum import IssueForecast, forecast_package, forecast_problem
from model.core.eum.stable import DEFAULT_TOL, StableForecast, stable_forecast
from model.core.strategies import meets
from model.protocols.base import (
    Event,
    EventKind,
    OutcomeReason,
    Protocol,
    ProtocolParams,
    Response,
    ResponseReason,
)

if TYPE_CHECKING:
    from model.core.problem import Problem
    from model.negotiation import Negotiation


class EUMParams(ProtocolParams):
    """The EUM reads ``max_rounds``, ``forecast`` and ``tolerance`` (the common settings shape the
    actors' aspirations, which its forecast does not use).

    ``forecast``: ``scholz`` (the median after ``max_rounds`` rounds) or ``stable`` (see the
    module docstring); ``tolerance``: how close positions must be to count as settled or
    repeated (``stable`` only; on the [0, 1] scale)."""

    kind: Literal["eum"] = "eum"
    forecast: Literal["scholz", "stable"] = "scholz"
    tolerance: Annotated[float, Strict(), Field(ge=0.0, le=0.1)] = DEFAULT_TOL


@dataclass(frozen=True, slots=True, eq=False)
class EUMRound(Event):
    """The positions after a round of the EUM: ``positions`` as (issue, ((actor, position), ...))
    for the actors that take part in each issue."""

    kind: ClassVar[EventKind] = EventKind.EUM_ROUND
    positions: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]

    @property
    def text(self) -> str:
        return "positions: " + "; ".join(
            iid + " " + ", ".join(f"{aid} {x:.4g}" for aid, x in row) for iid, row in self.positions)


#: Each issue's forecast, the forecast medians ``(max_rounds + 1, I)`` (read-only), each issue's
#: stable forecast (``stable`` only; empty under ``scholz``) and the round the talks end.
_Forecasts = tuple[list[IssueForecast], np.ndarray, list[StableForecast], int]
#: What an EUM run forecasts, by problem and then (capabilities, saliences, horizon, stable, tolerance).
_FORECASTS: weakref.WeakKeyDictionary[Problem, dict[tuple[object, ...], _Forecasts]] = weakref.WeakKeyDictionary()


def _forecasts(model: Negotiation, cap: np.ndarray, salience: np.ndarray, stable: bool, tol: float) -> _Forecasts:
    """The forecasts an EUM run reads (``EUMProtocol``), computed for a problem and its inputs."""
    forecasts = forecast_problem(model.problem, cap, model.max_rounds, salience=salience)
    # the forecast median of every issue after every round, (max_rounds + 1, I)
    medians = np.array([f.median for f in forecasts], dtype=float).T.reshape(model.max_rounds + 1, -1)
    medians.setflags(write=False)
    stables = ([stable_forecast(f.positions[:, list(f.participants)], f.median, tol) for f in forecasts]
               if stable else [])
    # the round the talks end: the horizon, or (``stable``) when every issue has settled or cycled
    stop = max((f.stop for f in stables), default=model.max_rounds)
    return forecasts, medians, stables, stop


class EUMProtocol(Protocol):
    name = "eum"
    Params: ClassVar[type[ProtocolParams]] = EUMParams
    needs_zone = False
    uses_aspirations = False  # the forecast moves positions; the parties judge it by their reservations

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        super().__init__(model, params)
        self.stable = isinstance(params, EUMParams) and params.forecast == "stable"
        tol = params.tolerance if isinstance(params, EUMParams) else DEFAULT_TOL
        # capabilities and raw saliences, compiled with the scenario (not the normalised weights)
        cap, salience = model.config.capability, model.config.raw_salience
        # (a function of the problem, these inputs and the horizon: every run of a scenario shares it)
        kept = _FORECASTS.setdefault(model.problem, {})
        key = (np.asarray(cap, dtype=float).tobytes(), np.asarray(salience, dtype=float).tobytes(),
               model.max_rounds, self.stable, tol)
        got = kept.get(key)
        if got is None:
            got = kept[key] = _forecasts(model, cap, salience, self.stable, tol)
        self.forecasts, self._medians, self.stable_forecasts, self.stop = got

    def final_package(self) -> np.ndarray:
        """The forecast put to the parties: Scholz's last median, or each issue's stable forecast."""
        if self.stable:
            return np.array([f.value for f in self.stable_forecasts], dtype=float)
        return forecast_package(self.forecasts)

    def _record_positions(self, t: int) -> None:
        ids = self.model.problem.actor_ids
        rows = tuple((f.issue, tuple((ids[a], round(float(f.positions[t, a]), 6)) for a in f.participants))
                     for f in self.forecasts if len(f.participants) >= 2)
        self.model.record(EUMRound(t, None, rows))

    def _headline(self, final: np.ndarray) -> str:
        moved = ", ".join(f"{iid} {final[i]:.3g}" for i, iid in enumerate(self.model.problem.space.ids))
        if not self.stable:
            return f"EUM forecast after {self.model.max_rounds} rounds (Scholz, Calbert & Smith 2011): {moved}"
        rules = {"settled": 0, "cycle": 0, "average": 0}
        for f in self.stable_forecasts:
            rules[f.rule] += 1
        how = ", ".join(f"{n} {r}" for r, n in rules.items() if n)
        return f"stable EUM forecast after {self.stop} rounds ({how}): {moved}"

    def held(self, package: np.ndarray) -> np.ndarray:
        """Issues kept off the table (an excluded collective's) stay at the status quo."""
        problem = self.model.problem
        if problem.fixed:
            fixed = list(problem.fixed)
            package[fixed] = problem.space.status_quo[fixed]
        return package

    def package_at(self, t: int) -> np.ndarray:
        return self.held(self._medians[t].copy())

    def round(self) -> None:
        m = self.model
        m.proposer_id = "forecast"
        t = m.round
        offer = self.package_at(t)
        m.table(offer)
        if self.stable:
            self._record_positions(t)
        if t < self.stop:
            return
        final = self.held(m.problem.space.snap(self.final_package()))  # ordinal: nearest level
        m.table(final)
        p = m.problem
        rejecters = []
        for a in m.actors:
            if not a.is_party:
                continue
            if not m.offer_lines_ok[a.index]:
                line = p.redlines.crossed(final, a.index)[0]
                a.response = Response(False, ResponseReason.RED_LINE, note=line.describe(p.space, p.actor_ids))
            elif not meets(m.offer_utilities[a.index], a.reservation):
                a.response = Response(False, ResponseReason.BELOW_RESERVATION, float(m.offer_utilities[a.index]),
                                      a.reservation)
            else:
                a.response = Response(True, ResponseReason.ACCEPTED)
                continue
            rejecters.append(a)
        head = self._headline(final)
        if not rejecters:
            m.state = final.copy()
            m.end(True, OutcomeReason.FORECAST, final, head + "; every party prefers it to no deal and none of its "
                  "red lines is crossed.")
        else:
            m.end(False, OutcomeReason.FORECAST_REJECTED, final, head + "; rejected by "
                  + ", ".join(f"{a.actor_id} ({a.response.reason})" for a in rejecters if a.response) + ".",
                  blocked_by=[(a.actor_id, a.response.reason, a.response.detail) for a in rejecters if a.response])
