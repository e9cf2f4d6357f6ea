"""The distance between a simulated and the observed track: one component in [0, 1] per feature
(``components``), their weighted mean (``distance``). docs/model.md ("Calibration") gives every formula.
"""

from __future__ import annotations

import numpy as np

from model.calibrate.track import MOVE, YEAR, Observed, Track, WeightsSpec
from model.core.space import BoolArray, FloatArray

# --------------------------------------------------------------------------------------------
# the distance

#: The components of the distance, each in [0, 1] (0: as observed), in plain words.
COMPONENTS: dict[str, str] = {
    "trajectory": "root-mean-square gap between simulated and observed values, over every month and tracked issue",
    "release_timing": "Jaccard distance between the months with a release, simulated and observed",
    "release_count": "release months in the first year, relative gap to the observed count",
    "cumulative": "prisoners freed by the target month outside the target band, relative to its upper end",
    "pause_timing": "Jaccard distance between the paused months, simulated and observed",
    "pause_cause": "1 if no pause starts in the month of a partial delivery or soon after it",
    "resumption": "1 without a release after that pause, 1/2 if the first release after it is not larger "
                  "than the last one before it, 0 if it is",
    "settlement": "1 if the run settles within the window (none observed)",
}


def increments(values: FloatArray, start: float) -> FloatArray:
    """Month-by-month change of one issue, the first month against ``start``."""
    return np.diff(values, prepend=start)


def jaccard_distance(a: BoolArray, b: BoolArray) -> float:
    """``1 - |A ∩ B| / |A ∪ B|`` for two sets of months given as masks (0 when both are empty)."""
    union = int(np.sum(a | b))
    return 0.0 if union == 0 else 1.0 - int(np.sum(a & b)) / union


def spells(mask: BoolArray) -> list[tuple[int, int]]:
    """The runs of consecutive months in ``mask``, as (first, last) month."""
    out: list[tuple[int, int]] = []
    for m in np.flatnonzero(mask):
        if out and out[-1][1] == m - 1:
            out[-1] = (out[-1][0], int(m))
        else:
            out.append((int(m), int(m)))
    return out


def caused_pauses(track: Track, within: int) -> list[tuple[int, int]]:
    """The pauses that start in the month of a partial delivery or up to ``within`` months after it."""
    partial = np.flatnonzero(track.partial)
    return [(a, b) for a, b in spells(track.paused) if np.any((a - partial >= 0) & (a - partial <= within))]


def resumption_miss(track: Track, released: FloatArray, within: int) -> float:
    """0 if the first pause caused by a partial delivery (else the first pause) is followed by a
    release larger than the last release before it; 1/2 if the first release after it is not
    larger, or there was none before it to compare with; 1 if there is no pause, or no release
    after it within the window."""
    pauses = caused_pauses(track, within) or spells(track.paused)
    if not pauses:
        return 1.0
    first, last = pauses[0]
    months = np.flatnonzero(released > MOVE)
    after = months[months > last]
    if len(after) == 0:
        return 1.0
    before = months[months < first]
    larger = len(before) > 0 and released[after[0]] > released[before[-1]] + MOVE
    return 0.0 if larger else 0.5


def components(sim: Track, obs: Observed) -> dict[str, float]:
    """Each component of the distance between one run and the observed track (docs/model.md)."""
    o = obs.track
    within = obs.spec.pause.within
    rel_sim = increments(sim.values[:, 0], float(obs.status_quo[0]))
    rel_obs = increments(o.values[:, 0], float(obs.status_quo[0]))
    year = min(YEAR, obs.months)
    n_sim = int(np.sum(rel_sim[:year] > MOVE))
    n_obs = int(np.sum(rel_obs[:year] > MOVE))
    lo, hi = obs.band
    freed = float(sim.values[obs.spec.targets.cumulative.month, 0] - obs.status_quo[0])
    return {
        "trajectory": float(np.sqrt(np.mean((sim.values - o.values) ** 2))),
        "release_timing": jaccard_distance(rel_sim > MOVE, rel_obs > MOVE),
        "release_count": min(1.0, abs(n_sim - n_obs) / max(n_obs, 1)),
        "cumulative": min(1.0, max(lo - freed - MOVE, freed - hi - MOVE, 0.0) / hi),
        "pause_timing": jaccard_distance(sim.paused, o.paused),
        "pause_cause": 0.0 if caused_pauses(sim, within) else 1.0,
        "resumption": resumption_miss(sim, rel_sim, within),
        "settlement": 0.0 if (sim.settled is None) == (o.settled is None) else 1.0,
    }


def distance(parts: dict[str, float], weights: WeightsSpec) -> float:
    """The weighted mean of the components: ``D = Σ w_k d_k / Σ w_k``."""
    w = weights.model_dump()
    return sum(w[k] * parts[k] for k in COMPONENTS) / sum(w[k] for k in COMPONENTS)
