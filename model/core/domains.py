"""Random negotiation domains that other simulators can regenerate from a seed.

``peer_case`` follows ``shared/bench/PEER_CASE.md``, the benchmark case shared with NegMAS:
``n_issues`` discrete issues of ``n_values`` values each; for negotiation ``k`` a generator
``default_rng(seed + k)`` draws, party by party, the issue weights, one value table per issue
(rescaled to [0, 1]) and a reservation value ``uniform(0, 0.5)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.core.preferences import TablePreferences
from model.core.problem import Problem
from model.core.redlines import RedLineSet
from model.core.space import FloatArray, Issue, OutcomeSpace


@dataclass(frozen=True)
class TableDomain:
    """Raw draws of a peer-case domain (what any simulator needs to rebuild it)."""

    weights: FloatArray  # (P, I)
    tables: FloatArray  # (P, I, V)
    reservation: FloatArray  # (P,)


@dataclass(frozen=True)
class TableDomains:
    """``K`` table domains of one shape, stacked: what ``TableDomain`` holds, with a leading axis."""

    weights: FloatArray  # (K, P, I)
    tables: FloatArray  # (K, P, I, V)
    reservation: FloatArray  # (K, P)

    @classmethod
    def stack(cls, domains: Sequence[TableDomain]) -> TableDomains:
        shapes = {d.tables.shape for d in domains}
        if len(shapes) != 1:
            raise ValueError(f"the domains must share one shape (parties, issues, values); got {sorted(shapes)}")
        return cls(np.stack([d.weights for d in domains]), np.stack([d.tables for d in domains]),
                   np.stack([d.reservation for d in domains]))

    def __len__(self) -> int:
        return int(self.tables.shape[0])


def _from_draws(draws: FloatArray, n_issues: int, n_values: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weights, tables and reservation values from the raw draws ``(..., P, per party)``."""
    w = draws[..., :n_issues]
    weights = w / w.sum(axis=-1, keepdims=True)
    v = draws[..., n_issues:-1].reshape(*draws.shape[:-1], n_issues, n_values)
    lo, hi = v.min(axis=-1, keepdims=True), v.max(axis=-1, keepdims=True)
    tables = (v - lo) / (hi - lo)
    reservation = 0.5 * draws[..., -1]  # ``uniform(0, 0.5)`` is ``0 + 0.5 * draw``
    return weights, tables, reservation


def peer_case_draws(seed: int, k: int, n_parties: int, n_issues: int = 3, n_values: int = 10) -> TableDomain:
    """Domain ``k`` of the peer case: for each party in turn, ``n_issues`` weights (normalised
    to sum 1), then one table of ``n_values`` uniform draws per issue (scaled to span [0, 1]),
    then its reservation value, uniform on [0, 0.5], all from ``default_rng(seed + k)``."""
    # ``default_rng(s)`` is ``Generator(PCG64(s))``; built directly, it costs half as much
    rng = np.random.Generator(np.random.PCG64(seed + k))
    # every draw is one double from the stream, in the order above: one block per party
    draws = rng.random((n_parties, n_issues + n_issues * n_values + 1))
    return TableDomain(*_from_draws(draws, n_issues, n_values))


def peer_case_batch(
    seed: int, ks: range | Sequence[int], n_parties: int, n_issues: int = 3, n_values: int = 10
) -> TableDomains:
    """Domains ``ks`` of the peer case, stacked: the same draws as ``peer_case_draws`` for each
    (one generator per domain), with the arithmetic done once for all."""
    per_party = n_issues + n_issues * n_values + 1
    draws = np.empty((len(ks), n_parties, per_party))
    for j, k in enumerate(ks):
        # ``default_rng(s)`` is ``Generator(PCG64(s))``; built directly, it costs half as much
        np.random.Generator(np.random.PCG64(seed + k)).random(out=draws[j])
    return TableDomains(*_from_draws(draws, n_issues, n_values))


def table_problem(d: TableDomain) -> Problem:
    """A core ``Problem`` over ordinal issues with levels v0..v{n-1} at ``j / (n - 1)``.

    Every domain of one shape has the same issues, red lines (none) and feasible box: they are
    built once per shape (``_table_template``) and each domain only brings its preferences
    and reservations (``Problem.with_preferences``)."""
    template = _table_template(*d.tables.shape)
    assert isinstance(template.prefs, TablePreferences)
    prefs = TablePreferences(template.prefs.levels, d.weights, d.tables)
    return template.with_preferences(prefs, d.reservation.copy())


@lru_cache(maxsize=16)
def _table_template(n_p: int, n_i: int, n_v: int) -> Problem:
    """The problem of every table domain of this shape, but for its preferences (zero tables)
    and reservations, with what depends on its geometry alone computed (``Problem._GEOMETRY``)."""
    values = np.linspace(0.0, 1.0, n_v)
    issues = [Issue(f"i{j}", f"issue {j}", tuple((f"v{m}", float(values[m])) for m in range(n_v))) for j in range(n_i)]
    space = OutcomeSpace.build(issues, [0.0] * n_i)
    levels = np.tile(values, (n_i, 1))
    consent, discount = np.ones(n_p, dtype=bool), np.ones(n_p)
    for arr in (levels, consent, discount):
        arr.setflags(write=False)
    template = Problem(
        actor_ids=tuple(f"p{p}" for p in range(n_p)),
        space=space,
        prefs=TablePreferences(levels, np.zeros((n_p, n_i)), np.zeros((n_p, n_i, n_v))),
        reservation=np.zeros(n_p),
        redlines=RedLineSet([], n_p, n_i),
        consent=consent,
        discount=discount,
    )
    for name in Problem._GEOMETRY:
        getattr(template, name)
    return template


def peer_case(seed: int, k: int, n_parties: int, n_issues: int = 3, n_values: int = 10) -> Problem:
    return table_problem(peer_case_draws(seed, k, n_parties, n_issues, n_values))
