"""Bueno de Mesquita's expected-utility model of group decisions, as reconstructed by Scholz et al.

Scholz, J. B., Calbert, G. J., Smith, G. A. (2011). Unravelling Bueno de Mesquita's group decision
model. *Journal of Theoretical Politics* 23(4):510–531 (a shorter version: ICAART 2011). They rebuild
the model of Bueno de Mesquita (1985, 1994) from the published descriptions and replicate his
10-country EU example (their Table 1 is built in: :func:`scholz_example`).

One issue, positions on a line. Each actor ``i`` has a position ``x_i``, a capability ``c_i`` and a
salience ``s_i``; its *votes* are ``c_i * s_i``. One round:

1. **Risk.** With every risk exponent at 1, each actor's *danger* is the sum over the others of
   their expected utility of challenging it; the danger is rescaled across actors to a risk
   acceptance ``R_i`` in [-1, 1] and to a risk exponent ``r_i = (1 - R_i/3) / (1 + R_i/3)`` in
   [0.5, 2] (:func:`risk_exponents`).
2. **Expected utilities.** With these exponents, each actor ``i`` computes, for every other actor
   ``j``, its own expected utility of challenging ``j`` and ``j``'s expected utility of challenging
   it (:func:`challenge_utilities`), both from ``i``'s point of view (with ``r_i``).
3. **Offers.** The pair of numbers puts the dyad in a region: ``i`` loses a confrontation (moves
   to ``x_j``), compromises (moves part of the way), or capitulates (moves to ``x_j``)
   (:func:`best_offers`). Every actor takes its best offer; all move at once.

The model reports the weighted median position (the position that beats every other in a
capability-times-salience weighted pairwise vote with linear loss) and the weighted mean
position (Bueno de Mesquita's forecast: the mean of positions weighted by votes).

**Which reconstruction.** The paper's text and the code the numbers come from differ in places.
This module follows the public Python replication (jmckib/bdm-scholz-expected-utility-model),
whose author reports that it reproduces the paper's 10 rounds, in three places where it says it
is "faithful to Scholz' code" or departs from the text. Each is a switch of
:class:`EUMOptions`; the defaults reproduce the replication (see ``docs/validity.md``):

* the probability of success is normalised by the sum of *all* actors' absolute votes over
  *all* ordered pairs of positions (``probability_norm="all_pairs"``), not by the two
  positions' own vote totals (``"dyad"``, which gives ``P(i, j) + P(j, i) = 1``);
* among compromises an actor takes the one with the smallest EU-weighted average of the two
  positions (``compromise_choice="weighted_point"``), not the smallest move (``"nearest"``);
* the replication never capitulates (a typo makes its condition always false);
  ``capitulation=False`` keeps that, ``True`` applies the condition of the text.

A whole negotiation problem is forecast issue by issue (:func:`forecast_problem`): the model
above on each issue, with the actors that weigh it, on the [0, 1] scale of this project (the
model is scale-equivariant, so this gives the paper's numbers on its own scale, rescaled).

Equation numbers of the 2011 paper are not cited: its full text was not available to check them.
The docstrings name each quantity and give its formula instead.

**Speed.** The one-issue functions above (``rounds.py``) are the specification; :func:`run` and
:func:`forecast_problem` compute the same rounds for many issues at once (``_run_batch``: all
issues and actor pairs as arrays, no Python loop inside a round; an issue whose positions repeat
an earlier round's is finished by copying), bit for bit the same numbers
(``tests/test_eum_speed.py``), and :func:`forecast_problem` keeps its last few results. From
``fast.FAST_FROM`` (20) actors an issue, the probabilities of success come from running sums over
the voters sorted by position (``fast``: ``O(n^2 log n)`` instead of ``O(n^3)``), the same
numbers up to rounding (``tests/test_eum_fast.py``).

**Modules.** ``rounds``: the input, the switches and one round (the specification); ``engine``:
:func:`run` and the batch; ``fast``: the probabilities of success at many actors; ``forecast``:
a whole problem, issue by issue; ``scholz``: the paper's Table 1; ``stable``: the stable
forecast (a stopping rule, and a forecast that does not hinge on the parity of the horizon).
Every public name is importable from ``model.core.eum``.
"""

from model.core.eum.engine import EUMRun, run
from model.core.eum.forecast import (
    IssueForecast,
    forecast_issue,
    forecast_package,
    forecast_problem,
    ideal_positions,
    spec_inputs,
)
from model.core.eum.rounds import (
    CAPITULATION,
    COMPROMISE,
    CONFRONTATION,
    MOVE_NAMES,
    NONE,
    Actors,
    EUMOptions,
    basic_utilities,
    best_offers,
    challenge_utilities,
    risk_exponents,
    success_probability,
    weighted_mean,
    weighted_median,
)
from model.core.eum.scholz import SCHOLZ_TABLE1_ROWS, load_actors, scholz_example
from model.core.eum.stable import (
    CYCLING_EXAMPLE,
    StableForecast,
    cycling_example,
    horizon_report,
    stable_forecast,
)

__all__ = [
    "CAPITULATION",
    "CYCLING_EXAMPLE",
    "COMPROMISE",
    "CONFRONTATION",
    "MOVE_NAMES",
    "NONE",
    "SCHOLZ_TABLE1_ROWS",
    "StableForecast",
    "Actors",
    "EUMOptions",
    "EUMRun",
    "IssueForecast",
    "basic_utilities",
    "best_offers",
    "challenge_utilities",
    "cycling_example",
    "forecast_issue",
    "forecast_package",
    "forecast_problem",
    "horizon_report",
    "ideal_positions",
    "load_actors",
    "risk_exponents",
    "run",
    "scholz_example",
    "spec_inputs",
    "stable_forecast",
    "success_probability",
    "weighted_mean",
    "weighted_median",
]
