"""The pure domain core: outcome space, utilities, red lines, strategies, search and analysis.

Nothing here imports Mesa; everything works on numpy arrays.
"""

from model.core.analysis import (
    best_compromise,
    find_dominating,
    individually_rational,
    nash_point,
    nash_product,
    pareto_frontier,
)
from model.core.preferences import Preferences
from model.core.problem import Problem
from model.core.redlines import Box, RedLine, RedLineSet
from model.core.search import choose_offer
from model.core.space import Issue, OutcomeSpace
from model.core.strategies import STRATEGIES, Situation, accepts, make_strategy

__all__ = [
    "STRATEGIES",
    "best_compromise",
    "Box",
    "Issue",
    "OutcomeSpace",
    "Preferences",
    "Problem",
    "RedLine",
    "RedLineSet",
    "Situation",
    "accepts",
    "choose_offer",
    "find_dominating",
    "individually_rational",
    "make_strategy",
    "nash_point",
    "nash_product",
    "pareto_frontier",
]
