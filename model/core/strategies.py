"""Concession strategies: how an actor's aspiration falls from its best package to its floor.

A strategy is a small class with a readable ``name``, a pydantic ``Params`` model for the
parameters a scenario may set, and one decision method. Scenarios name strategies through
``STRATEGIES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Situation:
    """What an actor knows when it sets its aspiration.

    Args:
        round: the current round, 0-based.
        max_rounds: the deadline (number of rounds).
        best: the actor's utility of its best feasible package.
        floor: the lowest utility it may accept: its reservation utility. (The status quo is a
            flow that lasts until agreement, so discounting shrinks the present value of a
            deal's gain, ``discount**round * (u - reservation)``, but not which deals beat the
            status quo.)
    """

    round: int
    max_rounds: int
    best: float
    floor: float


class Strategy(Protocol):
    name: ClassVar[str]

    def aspiration(self, s: Situation) -> float: ...


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeDependent:
    """Time-dependent concession (Faratin, Sierra & Jennings 1998; NegMAS's ``TimeBasedNegotiator``).

    The aspiration at relative time ``tau = round / (max_rounds - 1)`` is

        a(tau) = floor + (best - floor) * (1 - tau ** exponent)

    so it starts at the actor's best package and reaches its floor in the last round.
    ``exponent > 1`` concedes late (Boulware), ``exponent = 1`` linearly, ``exponent < 1`` early
    (Conceder). A Boulware actor's aspiration is never below a Conceder's with the same best
    and floor, at any round.
    """

    name: ClassVar[str] = "time_dependent"

    class Params(_Params):
        exponent: float = Field(1.0, gt=0.0, le=100.0, description="concession exponent")

    def __init__(self, exponent: float = 1.0) -> None:
        self.exponent = exponent

    def aspiration(self, s: Situation) -> float:
        tau = 1.0 if s.max_rounds <= 1 else min(1.0, s.round / (s.max_rounds - 1))
        floor = min(s.floor, s.best)
        return floor + (s.best - floor) * (1.0 - tau**self.exponent)

    def schedule(self, best: float, floor: float, max_rounds: int) -> np.ndarray:
        """The aspiration in every round at once (it depends on time only): shape ``(max_rounds,)``."""
        tau = np.ones(1) if max_rounds <= 1 else np.arange(max_rounds) / (max_rounds - 1)
        lo = min(floor, best)
        return lo + (best - lo) * (1.0 - tau**self.exponent)


class Boulware(TimeDependent):
    """Time-dependent concession that holds out until late (default exponent 4, as in NegMAS)."""

    name: ClassVar[str] = "boulware"

    class Params(_Params):
        exponent: float = Field(4.0, gt=1.0, le=100.0)

    def __init__(self, exponent: float = 4.0) -> None:
        super().__init__(exponent)


class Linear(TimeDependent):
    """Time-dependent concession at a constant rate (exponent 1)."""

    name: ClassVar[str] = "linear"

    class Params(_Params):
        pass

    def __init__(self) -> None:
        super().__init__(1.0)


class Conceder(TimeDependent):
    """Time-dependent concession that gives ground early (default exponent 0.25, as in NegMAS)."""

    name: ClassVar[str] = "conceder"

    class Params(_Params):
        exponent: float = Field(0.25, gt=0.0, lt=1.0)

    def __init__(self, exponent: float = 0.25) -> None:
        super().__init__(exponent)


STRATEGIES: dict[str, type[TimeDependent]] = {
    cls.name: cls for cls in (TimeDependent, Boulware, Linear, Conceder)
}


def make_strategy(name: str, params: dict[str, float]) -> Strategy:
    """Build a strategy from its scenario name and (already validated) parameters."""
    cls = STRATEGIES[name]
    checked = cls.Params(**params)
    return cls(**checked.model_dump())


def accepts(utility: float, aspiration: float, floor: float, red_lines_ok: bool) -> bool:
    """The acceptance rule: no red line crossed, and the offer meets the aspiration and floor."""
    return red_lines_ok and utility >= max(aspiration, floor) - 1e-9
