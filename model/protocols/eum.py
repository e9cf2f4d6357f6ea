"""``eum``: the expected-utility model as a forecast, issue by issue.

Bueno de Mesquita's expected-utility model as reconstructed by Scholz, Calbert and Smith (2011,
Journal of Theoretical Politics 23(4)); ``model.core.eum`` has the equations. Each issue is
forecast on its own from the actors' ideal positions, their salience on it and their capability;
a round of the model is a round of the EUM on every issue, and the package on the table is the
forecast (the capability-and-salience weighted median of positions); issues an excluded collective
holds stay at the status quo. After ``max_rounds`` rounds
the forecast is put to the parties: it is an agreement if it crosses none of their red lines and
gives every party at least its reservation utility; otherwise the summary says who it fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from model.core.eum import forecast_package, forecast_problem
from model.core.strategies import meets
from model.protocols.base import OutcomeReason, Protocol, ProtocolParams, Response, ResponseReason

if TYPE_CHECKING:
    from model.negotiation import Negotiation


class EUMParams(ProtocolParams):
    """The EUM reads only ``max_rounds`` (the common settings shape the actors' aspirations,
    which its forecast does not use)."""

    kind: Literal["eum"] = "eum"


class EUMProtocol(Protocol):
    name = "eum"
    Params: ClassVar[type[ProtocolParams]] = EUMParams
    needs_zone = False

    def __init__(self, model: Negotiation, params: ProtocolParams) -> None:
        super().__init__(model, params)
        # capabilities and raw saliences, compiled with the scenario (not the normalised weights)
        cap, salience = model.config.capability, model.config.raw_salience
        self.forecasts = forecast_problem(model.problem, cap, model.max_rounds, salience=salience)
        # the forecast median of every issue after every round, (max_rounds + 1, I)
        self._medians = np.array([f.median for f in self.forecasts], dtype=float).T.reshape(model.max_rounds + 1, -1)

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
        if t < m.max_rounds:
            return
        final = self.held(m.problem.space.snap(forecast_package(self.forecasts)))  # ordinal: nearest level
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
        moved = ", ".join(f"{iid} {final[i]:.3g}" for i, iid in enumerate(p.space.ids))
        head = f"EUM forecast after {m.max_rounds} rounds (Scholz, Calbert & Smith 2011): {moved}"
        if not rejecters:
            m.state = final.copy()
            m.end(True, OutcomeReason.FORECAST, final, head + "; every party prefers it to no deal and none of its "
                  "red lines is crossed.")
        else:
            m.end(False, OutcomeReason.FORECAST_REJECTED, final, head + "; rejected by "
                  + ", ".join(f"{a.actor_id} ({a.response.reason})" for a in rejecters if a.response) + ".",
                  blocked_by=[(a.actor_id, a.response.reason, a.response.detail) for a in rejecters if a.response])
