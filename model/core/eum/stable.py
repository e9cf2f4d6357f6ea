"""A forecast from the EUM that does not hinge on the horizon: a stopping rule and the cycle's mean.

Bueno de Mesquita's model forecasts the weighted median of positions after a fixed number of
rounds. The rounds need not converge: in the example of Scholz et al. (2011) Belgium keeps
swinging between France and the Netherlands, and the median is 0.70 after 10 rounds but 0.967
after 9 (on this project's [0, 1] scale); in a small 5-actor example
(:data:`CYCLING_EXAMPLE`) the positions repeat every two rounds and the median alternates
0.5 / 0.1205 for ever. The forecast then depends on whether the horizon is odd or even, which
says nothing about the negotiation.

The *stable* forecast reads the whole path of positions, row 0 (the start) to row ``H`` (the
horizon), and applies the first rule that holds:

* **settled**: some round ``t`` leaves every position within ``tol`` of the round before
  (``max_i |x_i(t) - x_i(t-1)| <= tol``): the forecast is the median after round ``t``;
* **cycle**: the positions after round ``t`` repeat, within ``tol``, those after an earlier
  round ``s`` (the most recent such ``s``, so the shortest period ``p = t - s``): since a round
  is a function of the positions alone, the path repeats the ``p`` rounds from ``s`` forever,
  and the forecast is the mean of the medians over one period, ``mean(median[s:t])``, which
  every long horizon averages to whatever its parity;
* **average**: neither happens by the horizon (the Scholz example wanders without ever
  repeating exactly): the forecast is the mean of the medians over all rows ``0..H``, the time
  average of the median, which moves by ``O(1/H)`` from one horizon to the next instead of
  jumping between the ends of the swing.

Both stopping rules are checked round by round, so a path that settles or cycles stops at the
first round where it does (the *stop round*); a longer horizon then gives the same forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from model.core.eum.rounds import Actors
from model.core.space import FloatArray

#: How a stable forecast was found.
Rule = Literal["settled", "cycle", "average"]

#: A 5-actor issue on [0, 1] whose positions repeat every two rounds from round 1 on, so that
#: the weighted median alternates between 0.5 (after odd rounds) and 0.1205 (after even ones)
#: for ever: (actor, capability, position, salience). In odd rounds A and E lose confrontations
#: to D (moving to 0.5); in even rounds both compromise with B (moving to 0.1205). Found by a
#: search over positions, capabilities and saliences on a 0.05 grid for a two-round cycle of
#: the median between 0.5 and the issue's 0.123 (the closest found is 0.1205; the issue's own
#: example was not given). An illustration of cycling, not a claim about any real group.
CYCLING_EXAMPLE: tuple[tuple[str, float, float, float], ...] = (
    ("A", 0.9, 0.65, 0.2),
    ("B", 0.9, 0.05, 1.0),
    ("C", 0.6, 0.6, 1.0),
    ("D", 0.7, 0.5, 0.4),
    ("E", 0.2, 0.0, 0.2),
)

#: The default tolerance of both stopping rules (on the [0, 1] scale of this project).
DEFAULT_TOL = 1e-9


@dataclass(frozen=True)
class StableForecast:
    """The stable forecast of one issue.

    ``value`` is the forecast; ``rule`` how it was found; ``stop`` the round at which the rule
    fired (the horizon for ``"average"``); ``start`` the first row of the rows averaged
    (``stop - period`` for a cycle, ``stop`` when settled, 0 for ``"average"``); ``period``
    the length of the cycle (1 when settled, 0 for ``"average"``).
    """

    value: float
    rule: Rule
    stop: int
    start: int
    period: int


def stable_forecast(positions: FloatArray, median: FloatArray, tol: float = DEFAULT_TOL) -> StableForecast:
    """The stable forecast of one issue from its path: ``positions`` ``(H + 1, n)``, ``median`` ``(H + 1,)``.

    Row 0 is the start and row ``t`` is after round ``t`` (as in :class:`~model.core.eum.EUMRun`
    and :class:`~model.core.eum.IssueForecast`). The rules are in the module docstring.
    """
    x = np.asarray(positions, dtype=float)
    med = np.asarray(median, dtype=float)
    if x.ndim != 2 or med.shape != (x.shape[0],):
        raise ValueError(f"positions need shape (H + 1, n) and median (H + 1,), not {x.shape} and {med.shape}")
    if tol < 0:
        raise ValueError("tol must be >= 0")
    horizon = x.shape[0] - 1
    for t in range(1, horizon + 1):
        gap = np.abs(x[:t] - x[t]).max(axis=1) if x.shape[1] else np.zeros(t)
        close = np.flatnonzero(gap <= tol)
        if close.size == 0:
            continue
        s = int(close[-1])
        period = t - s
        if period == 1:
            return StableForecast(float(med[t]), "settled", t, t, 1)
        return StableForecast(float(med[s:t].mean()), "cycle", t, s, period)
    return StableForecast(float(med.mean()), "average", horizon, 0, 0)


def horizon_report(
    positions: FloatArray, median: FloatArray, horizons: range = range(5, 31), tol: float = DEFAULT_TOL
) -> list[tuple[int, float, float, Rule]]:
    """The forecast at every horizon in ``horizons``: ``(H, Scholz's median after H rounds,
    the stable forecast from rows 0..H, its rule)``.

    A round depends only on the positions before it, so the first ``H`` rounds of a longer run
    are the ``H``-round run: one path of at least ``max(horizons)`` rounds serves every horizon.
    """
    x = np.asarray(positions, dtype=float)
    med = np.asarray(median, dtype=float)
    if len(horizons) and max(horizons) > x.shape[0] - 1:
        raise ValueError(f"the path has {x.shape[0] - 1} rounds; the report needs {max(horizons)}")
    rows = []
    for h in horizons:
        st = stable_forecast(x[: h + 1], med[: h + 1], tol)
        rows.append((int(h), float(med[h]), st.value, st.rule))
    return rows


def spread(values: FloatArray) -> float:
    """The range ``max - min`` of forecasts (over horizons): 0 for a forecast the horizon cannot move."""
    v = np.asarray(values, dtype=float)
    return float(v.max() - v.min()) if v.size else 0.0


def cycling_example() -> Actors:
    """The 5-actor example of :data:`CYCLING_EXAMPLE`, whose median alternates 0.5 / 0.1205."""
    return Actors.from_rows(CYCLING_EXAMPLE)
