"""A whole negotiation problem forecast issue by issue with the EUM (what the ``eum`` protocol reads)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from model.core.eum import fast
from model.core.eum.engine import _run_batch, run
from model.core.eum.rounds import Actors, EUMOptions, _weighted_median_rows, weighted_mean, weighted_median
from model.core.preferences import Preferences, TablePreferences
from model.core.space import FloatArray

if TYPE_CHECKING:
    from model.core.problem import Problem


# --------------------------------------------------------------------------------------------
# a whole negotiation problem, issue by issue


@dataclass(frozen=True)
class IssueForecast:
    """The EUM run on one issue of a problem. Row 0 is the start; row ``t`` is after round ``t``.

    ``positions`` has a column for every actor of the problem; an actor that takes no part in the
    issue (salience 0) keeps its ideal position in every row. ``median`` and ``mean`` are over
    the actors that take part, weighted by their votes ``c_i s_i``: the weighted median is the
    median voter position, which beats every other in a pairwise vote with these votes (Black
    1958; Bueno de Mesquita's forecast of the outcome); the weighted mean ``sum_i c_i s_i x_i /
    sum_i c_i s_i`` is the mean position the replication reports round by round (7.38996 at the
    start of the example). ``participants`` are the indices of the actors that take part.
    """

    issue: str
    positions: FloatArray  # (rounds + 1, A)
    median: FloatArray  # (rounds + 1,)
    mean: FloatArray  # (rounds + 1,)
    participants: tuple[int, ...] = ()


def spec_inputs(spec: Any) -> tuple[FloatArray, FloatArray]:
    """The capabilities ``(A,)`` and *raw* saliences ``(A, I)`` of a scenario spec.

    ``spec`` is a ``model.scenario.ScenarioSpec`` (read by attribute: ``spec.issues[i].id``,
    ``spec.actors[a].capability`` and ``spec.actors[a].issues[issue].salience``); an issue an
    actor does not list has salience 0. A compiled :class:`~model.core.Problem` keeps only each
    actor's saliences normalised to sum to 1 (``prefs.weight``), which is not the EUM's salience;
    pass these to :func:`forecast_problem` instead.
    """
    column: dict[str, int] = {}
    for k, iss in enumerate(spec.issues):
        column.setdefault(iss.id, k)
    capability = np.array([float(act.capability) for act in spec.actors])
    salience = np.zeros((len(spec.actors), len(spec.issues)))
    for a, act in enumerate(spec.actors):
        for iid, stance in act.issues.items():
            col = column.get(iid)
            if col is not None:
                salience[a, col] = float(stance.salience)
    return capability, salience


def ideal_positions(prefs: Preferences | TablePreferences) -> FloatArray:
    """Every actor's ideal position on every issue, ``(A, I)``.

    :class:`~model.core.preferences.Preferences` store them; for value tables
    (:class:`~model.core.preferences.TablePreferences`) it is each actor's best level.
    """
    if not isinstance(prefs, TablePreferences):
        return np.asarray(prefs.ideal, dtype=float)
    best = np.argmax(prefs.tables, axis=2)  # (A, I): first level of highest value
    n_issues = prefs.levels.shape[0]
    return np.asarray(prefs.levels[np.arange(n_issues)[None, :], best], dtype=float)


def forecast_issue(
    issue: str,
    position: FloatArray,
    salience: FloatArray,
    capability: FloatArray,
    rounds: int,
    options: EUMOptions | None = None,
    names: tuple[str, ...] | None = None,
    status_quo: float | None = None,
) -> IssueForecast:
    """The EUM on one issue, for actors ``(A,)`` of whom those with ``salience > 0`` take part.

    The participants are run through :func:`run` (their positions, saliences, capabilities);
    the others keep their column at ``position``. When nothing can move (fewer than two
    participants, or all at one position) the positions stay as they are for ``rounds`` rounds.
    When no participant has a vote (``c_i s_i`` all 0), the median and mean are ``status_quo``
    (``nan`` if it is not given): the EUM has no forecast for an issue nobody weighs.
    """
    x0 = np.asarray(position, dtype=float)
    s = np.asarray(salience, dtype=float)
    c = np.asarray(capability, dtype=float)
    n = x0.size
    if s.shape != (n,) or c.shape != (n,):
        raise ValueError(f"issue {issue!r}: position, salience and capability need shape ({n},)")
    if np.any(s < 0) or np.any(s > 1):
        raise ValueError(f"issue {issue!r}: saliences must lie in [0, 1] (the EUM reads them as probabilities)")
    if np.any(c < 0):
        raise ValueError(f"issue {issue!r}: capabilities must be >= 0")
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    names = names if names is not None else tuple(str(a) for a in range(n))
    active = np.flatnonzero(s > 0)
    positions = np.tile(x0, (rounds + 1, 1))
    votes = c[active] * s[active]
    if votes.sum() <= 0:
        fill = np.nan if status_quo is None else float(status_quo)
        flat = np.full(rounds + 1, fill)
        return IssueForecast(issue, positions, flat, flat.copy(), tuple(int(a) for a in active))
    xa = x0[active]
    if active.size >= 2 and xa.max() > xa.min():
        sub = Actors(tuple(names[a] for a in active), c[active], xa, s[active])
        result = run(sub, rounds, options)
        positions[:, active] = result.positions
        median, mean = result.median, result.mean
    else:
        median = np.full(rounds + 1, weighted_median(xa, votes))
        mean = np.full(rounds + 1, weighted_mean(xa, votes))
    return IssueForecast(issue, positions, median, mean, tuple(int(a) for a in active))


def forecast_problem(
    problem: Problem,
    capability: FloatArray,
    rounds: int,
    options: EUMOptions | None = None,
    *,
    salience: FloatArray | None = None,
) -> list[IssueForecast]:
    """Bueno de Mesquita's EUM on every issue of a negotiation problem, one issue at a time.

    The EUM is a model of one issue (Scholz et al. 2011: "the model deals with a single
    'issue'", each actor holding one position, capability and salience on it); a problem of
    several issues is forecast issue by issue, as in Bueno de Mesquita's applications, with no
    trade between issues. On each issue the actors are the problem's, at their ideal positions
    (``problem.prefs.ideal[:, i]``), with their capability ``c_a`` and their salience on that
    issue; an actor with salience 0 there takes no part (:func:`forecast_issue`). Each round
    is the one of :func:`run`: risk exponents from the others' expected utilities of
    challenging each actor, ``r_i = (1 - R_i/3)/(1 + R_i/3)``; probabilities of success from
    the votes ``c_k s_k (d_kj - d_ki)``; the expected utilities of challenging,
    ``s_b [P U_s + (1 - P) U_f] + (1 - s_b) U_s - Q U_sq``; and the offers (confrontation,
    compromise, capitulation). The formulas are in the docstrings of those functions; the
    paper's equation numbers could not be checked (see the module docstring).

    **Scale.** Issues here lie on [0, 1]; the paper's example is on a 4-10 scale. The model
    reads positions only through distances divided by the range of the participants' initial
    positions (the replication's ``span``), and moves actors to other actors' positions or
    part of the way to them. It is therefore equivariant to any increasing affine change of the
    scale (``x -> a x + b``, ``a > 0``): positions on [0, 1] equal to the paper's divided by 10
    give the paper's positions, medians and means divided by 10 (to rounding; tested). The
    issue's own [0, 1] range plays no part: a group whose positions span 0.4-1.0 behaves as
    one spanning 0-1. The model is also invariant to a common factor on all capabilities
    (they enter only through ratios of votes).

    **Salience.** The EUM's salience ``s_a`` is a probability (that the actor resists a
    challenge), read per issue on its own. A compiled problem keeps only saliences normalised
    per actor (``problem.prefs.weight``, summing to 1 over issues); pass the raw saliences
    ``(A, I)`` in ``salience`` (:func:`spec_inputs` reads them from a scenario). Without it the
    normalised weights are used, which equal the raw saliences only if each actor's saliences
    sum to 1 (with a single issue every actor then has salience 1).

    Args:
        problem: a :class:`~model.core.Problem`.
        capability: ``(A,)``, each actor's capability ``c_a >= 0`` (any common scale).
        rounds: number of rounds of the EUM on each issue.
        options: the reconstruction's switches (:class:`EUMOptions`).
        salience: ``(A, I)`` raw saliences in [0, 1]; default ``problem.prefs.weight``.

    Returns:
        one :class:`IssueForecast` per issue, in the order of ``problem.space.ids``. An issue no
        actor weighs is forecast at its status quo.
    """
    ideal = ideal_positions(problem.prefs)
    n_actors, n_issues = ideal.shape
    sal = np.asarray(problem.prefs.weight if salience is None else salience, dtype=float)
    cap = np.asarray(capability, dtype=float)
    if sal.shape != (n_actors, n_issues):
        raise ValueError(f"salience has shape {sal.shape}, the problem needs {(n_actors, n_issues)}")
    if cap.shape != (n_actors,):
        raise ValueError(f"capability has shape {cap.shape}, the problem needs ({n_actors},)")
    names = tuple(problem.actor_ids)
    sq = np.asarray(problem.space.status_quo, dtype=float)
    opts = options if options is not None else EUMOptions()
    # (with the size from which the probabilities take the fast kernel, whose results differ by rounding)
    key = (tuple(problem.space.ids), names, ideal.shape, ideal.tobytes(), sal.tobytes(), cap.tobytes(),
           sq.tobytes(), int(rounds), opts, fast.FAST_FROM)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
    if cached is None:
        cached = _forecast_issues(tuple(problem.space.ids), ideal, sal, cap, rounds, opts, names, sq)
        with _CACHE_LOCK:
            _CACHE[key] = cached
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    # fresh arrays for the caller, who may change them
    return [IssueForecast(f.issue, f.positions.copy(), f.median.copy(), f.mean.copy(), f.participants) for f in cached]


#: Forecasts of the last few problems (:func:`forecast_problem` is a function of its inputs only,
#: and a sweep asks for the same one again for every seed).
_CACHE: OrderedDict[tuple[Any, ...], list[IssueForecast]] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def _check_inputs(ids: tuple[str, ...], sal: FloatArray, cap: FloatArray, rounds: int) -> None:
    """Raise the ``ValueError`` :func:`forecast_issue` would raise first, looping over the issues:
    issue 0's checks (saliences, capabilities, rounds), then the other issues' saliences."""
    n_issues = sal.shape[1]
    bad_salience = np.flatnonzero(np.any((sal < 0) | (sal > 1), axis=0))
    first = int(bad_salience[0]) if bad_salience.size else n_issues
    if first == 0 or first < n_issues and not np.any(cap < 0) and rounds >= 0:
        raise ValueError(f"issue {ids[first]!r}: saliences must lie in [0, 1] (the EUM reads them as probabilities)")
    if np.any(cap < 0):
        raise ValueError(f"issue {ids[0]!r}: capabilities must be >= 0")
    if rounds < 0:
        raise ValueError("rounds must be >= 0")


def _forecast_issues(
    ids: tuple[str, ...],
    ideal: FloatArray,
    sal: FloatArray,
    cap: FloatArray,
    rounds: int,
    options: EUMOptions,
    names: tuple[str, ...],
    status_quo: FloatArray,
) -> list[IssueForecast]:
    """:func:`forecast_issue` on every issue (column) of ``ideal`` and ``sal`` ``(A, I)``: the
    same checks in the same order and the same numbers, but every issue that moves runs in one
    batch (:func:`_run_batch`) instead of one :func:`run` each."""
    n_actors, n_issues = ideal.shape
    if n_issues == 0:
        return []
    _check_inputs(ids, sal, cap, rounds)
    out: list[IssueForecast | None] = [None] * n_issues
    runs: list[tuple[int, np.ndarray]] = []
    # every issue's positions start (and, for an actor not taking part, stay) at the ideal points
    all_positions = np.empty((n_issues, rounds + 1, n_actors))
    all_positions[:] = ideal.T[:, None, :]
    for i in range(n_issues):
        s = sal[:, i]
        active = np.flatnonzero(s > 0)
        votes = cap[active] * s[active]
        if votes.sum() <= 0:
            flat = np.full(rounds + 1, float(status_quo[i]))
            out[i] = IssueForecast(ids[i], all_positions[i], flat, flat.copy(), tuple(int(a) for a in active))
            continue
        xa = ideal[active, i]
        if active.size >= 2 and xa.max() > xa.min():
            runs.append((i, active))
            continue
        median = np.full(rounds + 1, weighted_median(xa, votes))
        mean = np.full(rounds + 1, weighted_mean(xa, votes))
        out[i] = IssueForecast(ids[i], all_positions[i], median, mean, tuple(int(a) for a in active))
    if runs:
        # every issue that moves, in one batch: its participants first, padded to the largest
        size = np.array([a.size for _, a in runs])
        width = int(size.max())
        issues = np.array([i for i, _ in runs])
        member = np.zeros((len(runs), width), dtype=int)
        for b, (_, active) in enumerate(runs):
            member[b, : active.size] = active
        x0 = ideal[member, issues[:, None]]
        s_b = sal[member, issues[:, None]]
        votes_b = cap[member] * s_b  # as Actors.votes, c_i * s_i
        pos, _, _, _, source = _run_batch(x0, votes_b, s_b, rounds, options, size)
        by_issue = pos.transpose(1, 0, 2)  # (B, rounds + 1, N)
        medians = np.empty((len(runs), rounds + 1))
        for m in np.unique(size):
            idx = np.flatnonzero(size == m)
            medians[idx] = _weighted_median_rows(by_issue[idx, :, :m], votes_b[idx, None, :m])
        dot = np.dot
        computed = source.max(axis=0) + 1  # rows after these repeat earlier ones
        for b, (i, active) in enumerate(runs):
            n = active.size
            positions = all_positions[i]
            track = by_issue[b, :, :n]
            positions[:, active] = track
            v = votes_b[b, :n].copy()
            # weighted_mean of each row: the same dot product and division
            mean = (np.array([dot(v, p) for p in track[: computed[b]]]) / v.sum())[source[:, b]]
            out[i] = IssueForecast(ids[i], positions, medians[b], mean, tuple(int(a) for a in active))
    return [f for f in out if f is not None]


def forecast_package(forecasts: list[IssueForecast], which: Literal["median", "mean"] = "median") -> FloatArray:
    """The forecast package ``(I,)``: each issue's weighted median (or mean) after the last round."""
    if which not in ("median", "mean"):
        raise ValueError(f"which must be 'median' or 'mean', not {which!r}")
    return np.array([float(getattr(f, which)[-1]) for f in forecasts])
