"""The parameters a scenario may set for each concession strategy, as pydantic models.

The strategies themselves (``model.core.strategies``) are plain classes over numpy; their
parameters' ranges, defaults and descriptions are checked here, on the input side, so that the
core imports no pydantic. ``PARAMS`` maps each strategy's name (``model.core.STRATEGIES``) to its
model; the defaults are the strategies' constructor defaults (``tests/test_strategies.py`` checks
that they agree).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model.core.strategies import STRATEGIES, Strategy
from model.core.strategies import make_strategy as _build


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeDependentParams(_Params):
    exponent: float = Field(1.0, gt=0.0, le=100.0, description="concession exponent")


class BoulwareParams(_Params):
    exponent: float = Field(4.0, gt=1.0, le=100.0)


class LinearParams(_Params):
    pass


class ConcederParams(_Params):
    exponent: float = Field(0.25, gt=0.0, lt=1.0)


class TitForTatParams(_Params):
    reciprocity: float = Field(
        1.0, gt=0.0, le=5.0, description="share of the others' concession (in own utility) it returns")
    opening: float = Field(
        0.05, ge=0.0, le=1.0, description="goodwill concession in the first round, as a fraction of best - floor")
    retaliation: float = Field(
        0.5, ge=0.0, le=1.0,
        description="rise of the aspiration after a broken promise, as a fraction of best - floor, "
                    "times the undelivered share")


class ZeuthenParams(_Params):
    step: float = Field(0.1, gt=0.0, le=1.0, description="concession per round, as a fraction of best - floor")


class HardlinerParams(_Params):
    level: float = Field(1.0, ge=0.0, le=1.0, description="fraction of the way from floor to best it insists on")


class RubinsteinParams(_Params):
    pass


#: Strategy name -> the model of the parameters a scenario may give it.
PARAMS: dict[str, type[_Params]] = {
    "time_dependent": TimeDependentParams,
    "boulware": BoulwareParams,
    "linear": LinearParams,
    "conceder": ConcederParams,
    "tit_for_tat": TitForTatParams,
    "zeuthen": ZeuthenParams,
    "hardliner": HardlinerParams,
    "rubinstein": RubinsteinParams,
}
assert set(PARAMS) == set(STRATEGIES), "every strategy needs a parameter model, and only strategies"


def checked_params(name: str, params: dict[str, Any]) -> dict[str, float]:
    """The strategy's parameters, checked and completed with the defaults.

    Raises:
        KeyError: no strategy has this name.
        pydantic.ValidationError: a parameter is unknown or out of its range.
    """
    return PARAMS[name](**params).model_dump()


def make_strategy(name: str, params: dict[str, Any]) -> Strategy:
    """Build a strategy from its scenario name and parameters, checking them first."""
    return _build(name, checked_params(name, params))
