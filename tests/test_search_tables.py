"""Every party's offer table built at once (``model.core.search._party_tables``) against the
tables built one proposer at a time (``_one_table``): the same candidates, in the same order,
with the same utilities and choices, bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model.core.domains import peer_case_draws, table_problem
from model.core.preferences import Preferences
from model.core.problem import Problem
from model.core.redlines import RedLineSet
from model.core.search import (
    _first_per_block,
    _min_and_sum,
    _new_moves,
    _one_box,
    _one_table,
    _party_tables,
    choose_offer_index,
    choose_offer_indices,
    offer_table,
)
from model.core.space import Issue, OutcomeSpace


def _assert_same(problem, proposer: int) -> None:  # type: ignore[no-untyped-def]
    fused = _party_tables(problem)[proposer]
    one = _one_table(problem, proposer, None)
    for name in ("packages", "utilities", "own", "best_from"):
        a, b = getattr(fused, name), getattr(one, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert np.array_equal(a, b), f"{name} differs for proposer {proposer}"


@pytest.mark.parametrize("n_parties", [2, 3, 4, 9, 12])
def test_every_partys_table_at_once_is_the_one_proposer_table(n_parties: int) -> None:
    # many parties: the sums over the others then run past numpy's unrolled blocks of 8
    for k in range(12):
        d = peer_case_draws(31 + n_parties, k, n_parties, n_issues=1 + k % 5, n_values=2 + k % 11)
        p = table_problem(d)
        assert _one_box(p)
        for a in range(n_parties):
            _assert_same(p, a)
            assert offer_table(p, a) is _party_tables(p)[a]  # the protocols' tables are these


def test_wide_domains_whose_packages_overflow_an_integer_key_give_the_same_tables() -> None:
    # 6 ** 25 packages: the first appearances are found by sorting the rows themselves
    for k in range(3):
        p = table_problem(peer_case_draws(11, k, 3, n_issues=25, n_values=6))
        assert _one_box(p)
        for a in range(3):
            _assert_same(p, a)


def test_the_status_quo_and_repeats_are_no_candidates() -> None:
    p = table_problem(peer_case_draws(5, 0, 3, n_issues=2, n_values=4))
    for a in range(3):
        t = _party_tables(p)[a]
        keys = {tuple(x) for x in t.packages.tolist()}
        assert len(keys) == len(t.packages)  # each candidate once
        assert tuple(p.space.status_quo.tolist()) not in keys
        assert np.all(np.diff(t.own) >= 0)  # sorted by the proposer's own utility


def _spatial(seed: int, n_actors: int, n_issues: int, consent: list[bool]) -> Problem:
    rng = np.random.default_rng(seed)
    issues = [Issue(f"i{j}", f"issue {j}") for j in range(n_issues)]
    space = OutcomeSpace.build(issues, rng.random(n_issues).round(2).tolist())
    prefs = Preferences.build(rng.random((n_actors, n_issues)), rng.random((n_actors, n_issues)) + 0.1,
                              rng.choice([0.5, 1.0, 2.0], n_actors))
    return Problem(tuple(f"a{j}" for j in range(n_actors)), space, prefs, 0.3 * rng.random(n_actors),
                   RedLineSet([], n_actors, n_issues), np.array(consent), np.ones(n_actors))


@pytest.mark.parametrize("consent", [[True, True, True], [True, False, True, True], [False, True, True]])
def test_spatial_problems_and_actors_who_are_no_party_give_the_same_tables(consent: list[bool]) -> None:
    for seed in range(6):
        p = _spatial(seed, len(consent), 2 + seed % 3, consent)
        assert _one_box(p)
        for a in p.parties:
            _assert_same(p, a)
        outsider = [a for a in range(len(consent)) if not consent[a]]
        for a in outsider:  # not a party: its table is built on its own, as before
            assert np.array_equal(offer_table(p, a).packages, _one_table(p, a, None).packages)


@pytest.mark.parametrize("n_issues", [1, 3, 8, 9, 40])
def test_grid_utility_adds_the_issues_terms_one_issue_after_another(n_issues: int) -> None:
    # the order the mediated text search and the offer tables rely on (past 8 terms numpy's own
    # sum of a row would pair them up instead)
    rng = np.random.default_rng(n_issues)
    p = table_problem(peer_case_draws(17, n_issues, 5, n_issues=n_issues, n_values=7))
    idx = rng.integers(0, 7, size=(300, n_issues))
    wv = p.weighted_values
    want = np.empty((300, 5))
    for k in range(300):
        acc = wv[:, 0, idx[k, 0]].copy()
        for i in range(1, n_issues):
            acc = acc + wv[:, i, idx[k, i]]
        want[k] = acc
    assert np.array_equal(p.grid_utility(idx), want)
    assert p.grid_utility(idx[:0]).shape == (0, 5)


@pytest.mark.parametrize(("n_issues", "n_packages"), [(1, 1), (3, 258), (7, 5), (8, 40), (9, 1), (30, 300)])
def test_table_utilities_add_the_issues_terms_in_order_and_match_the_grids(n_issues: int, n_packages: int) -> None:
    # the same numbers as the einsum the value tables used before, and as ``grid_utility``
    rng = np.random.default_rng(n_issues * 1000 + n_packages)
    p = table_problem(peer_case_draws(23, n_issues, 4, n_issues=n_issues, n_values=6))
    idx = rng.integers(0, 6, size=(n_packages, n_issues))
    pk = p.space.grid[np.arange(n_issues)[None, :], idx]
    prefs = p.prefs
    vals = prefs.tables[:, np.arange(n_issues)[None, :], idx]
    assert np.array_equal(p.utility(pk), np.einsum("ani,ai->na", vals, prefs.weight))
    assert np.array_equal(p.utility(pk), p.grid_utility(idx))
    assert np.array_equal(p.utility(pk[0]), p.utility(pk)[0])  # one package: ``(A,)``
    off = pk + 0.06 * rng.random(pk.shape) * (pk < 1.0)  # off the levels (0.2 apart): the nearest level
    assert np.array_equal(p.utility(off), p.utility(pk))


def test_a_value_table_partys_best_utility_is_read_off_the_grid_with_utilitys_numbers() -> None:
    for k in range(10):
        p = table_problem(peer_case_draws(29, k, 2 + k % 4, n_issues=1 + k % 9, n_values=2 + k % 7))
        pk = p.maximize_weighted(np.eye(p.n_actors))
        assert np.array_equal(p.best_utility, p.utility(pk).max(axis=0))


def test_a_one_box_value_table_problems_best_utility_is_the_identity_weightings_search_bit_for_bit() -> None:
    # ``best_utility``'s short way (each actor's own weighted values, no product with the
    # identity) against the search it stands for, on domains of many shapes and some with ties
    for k in range(40):
        d = peer_case_draws(37, k, 2 + k % 5, n_issues=1 + k % 6, n_values=2 + k % 9)
        if k % 4 == 0:  # equal levels: ties that only the tie-break and the arg-max's order settle
            d = dataclasses.replace(d, tables=np.round(d.tables, 1))
        p = table_problem(d)
        assert len(p.boxes) == 1 and p._finite_values
        got, idx = p.maximize_weighted_indexed(np.eye(p.n_actors))
        assert got is not None
        assert p.best_utility.tobytes() == p.grid_package_utility(got, idx).max(axis=0).tobytes()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_value_table_with_a_value_that_is_not_finite_takes_the_long_way(bad: float) -> None:
    d = peer_case_draws(41, 0, 3)
    tables = d.tables.copy()
    tables[1, 2, 4] = bad
    p = table_problem(dataclasses.replace(d, tables=tables))
    assert not p._finite_values
    assert table_problem(d)._finite_values
    with np.errstate(invalid="ignore"):  # (0 * inf in the product with the identity: what the guard is for)
        got, idx = p.maximize_weighted_indexed(np.eye(p.n_actors))
        assert got is not None
        want = p.grid_package_utility(got, idx).max(axis=0)
        assert np.array_equal(p.best_utility, want, equal_nan=True)


def test_grid_package_utility_is_utility_on_tables_and_on_spatial_preferences() -> None:
    rng = np.random.default_rng(3)
    for p in (table_problem(peer_case_draws(31, 0, 3, n_issues=5, n_values=4)), _spatial(1, 3, 4, [True] * 3)):
        w = rng.random((40, 3))
        pk, idx = p.maximize_weighted_indexed(w)
        assert pk is not None
        assert np.array_equal(p.grid_package_utility(pk, idx), p.utility(pk))


@pytest.mark.parametrize("n_parties", [2, 3, 4])
def test_choices_at_many_aspirations_are_the_choices_one_at_a_time(n_parties: int) -> None:
    rng = np.random.default_rng(n_parties)
    for k in range(6):
        p = table_problem(peer_case_draws(7, k, n_parties, n_issues=1 + k % 4, n_values=3 + k))
        for a in range(n_parties):
            t = offer_table(p, a)
            # the table's own utilities exactly, 1e-9 either side of them, past them all, under the floor
            asp = np.concatenate([t.own, t.own - 1e-9, t.own + 1e-9, t.own - 2e-9, rng.uniform(-0.2, 1.3, 200),
                                  [t.own[-1] + 1.0, float(p.reservation[a]), -1.0]])
            table, rows = choose_offer_indices(p, a, asp)
            assert table is t and rows.dtype == np.int64
            for x, row in zip(asp.tolist(), rows.tolist(), strict=True):
                hit = choose_offer_index(p, a, x)
                assert (-1 if hit is None else hit[1]) == row


def test_a_proposer_whose_best_falls_short_of_its_reservation_passes_at_every_aspiration() -> None:
    d = peer_case_draws(3, 1, 3)
    reservation = d.reservation.copy()
    reservation[1] = 1.5  # above anything it can get
    p = table_problem(dataclasses.replace(d, reservation=reservation))
    asp = np.linspace(-0.5, 2.0, 41)
    _, rows = choose_offer_indices(p, 1, asp)
    assert rows.tolist() == [-1] * len(asp)
    assert all(choose_offer_index(p, 1, float(x)) is None for x in asp)
    _, rows0 = choose_offer_indices(p, 0, asp)  # the others still offer
    assert (rows0 >= 0).all()


@pytest.mark.parametrize("kind", ["one point", "none on an issue", "two on an issue"])
def test_new_candidates_by_key_are_the_first_appearances_that_move_from_the_status_quo(kind: str) -> None:
    rng = np.random.default_rng(len(kind))
    for trial in range(30):
        n_i, n_g, block = 1 + trial % 4, 2 + trial % 6, 1 + trial % 9
        rows = rng.integers(0, n_g, (block * (1 + trial % 5), n_i))
        at = np.zeros((n_i, n_g), dtype=bool)
        sq = rng.integers(0, n_g, n_i)
        at[np.arange(n_i), sq] = True
        rows[:: max(1, block // 2)] = sq  # some rows at the status quo
        if kind == "none on an issue":
            at[0] = False
        elif kind == "two on an issue" and n_g > 1:
            at[0, (sq[0] + 1) % n_g] = True
        moves = ~np.logical_and.reduce(at[np.arange(n_i)[:, None], rows.T], axis=0)
        want = _first_per_block(rows, block, n_g) & moves
        assert _new_moves(rows, block, n_g, at).tolist() == want.tolist()


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 8, 11])
def test_min_and_sum_column_by_column_are_numpys_own(k: int) -> None:
    rng = np.random.default_rng(k)
    # magnitudes far apart: a sum in another order gives other last bits
    s = rng.random((5000, k)) * rng.choice([1e-8, 1.0, 1e8], (5000, k)) - 0.5
    worst, total = _min_and_sum(s)
    assert worst.tobytes() == s.min(axis=1).tobytes()
    assert total.tobytes() == s.sum(axis=1).tobytes()


def test_value_tables_read_their_grids_levels_once_per_grid_and_as_fresh() -> None:
    for k in range(8):
        d = peer_case_draws(13, k, 3, n_issues=1 + k % 4, n_values=3 + k)
        p = table_problem(d)
        got = p.prefs.issue_values(p.space.grid)
        fresh = p.prefs._index(p.space.grid.T).T
        want = p.prefs.tables[:, np.arange(p.space.n_issues)[:, None], fresh]
        assert got.tobytes() == want.tobytes() and got.flags.writeable  # (each caller's own array)
        issues, idx = p.prefs._grid_index(p.space.grid)
        assert idx.tobytes() == fresh.tobytes() and not idx.flags.writeable
        other = table_problem(peer_case_draws(14, k, 3, n_issues=1 + k % 4, n_values=3 + k))
        assert other.prefs._grid_index(other.space.grid)[1] is idx  # the domains of one shape share it
