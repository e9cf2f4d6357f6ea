"""Column generation for large programs (``model.core.offers._ColumnSolver``) against the whole
program (``_Solver``): the same optimum, the same judged utilities, the same runs, and the
theory tests through the engine when every offer comes from column generation.

The whole program is the reference here: it is a different solve of the same linear program
(every weight a column, from a fresh model each time), so agreement is not by construction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import model.core.offers as offers
from model import scenario
from model.negotiation import Negotiation


@pytest.fixture(autouse=True)
def _fresh_utopias() -> None:
    """Each test here watches the utopia's programs run: none is answered from an earlier test's
    (``offers._UTOPIAS``, tested in ``test_utopia_cache.py``)."""
    offers._UTOPIAS.clear()


def synthetic(n_actors: int, n_issues: int, n_lines: int = 0, seed: int = 0, ordinal: int = 0,
              curvature: float = 1.0) -> dict[str, Any]:
    """Random ideal points and saliences; ``n_lines`` conditional red lines of the first actor
    on pairs of issues; the last ``ordinal`` issues ordinal with five levels."""
    rng = np.random.default_rng(seed)
    issues: list[dict[str, Any]] = []
    for k in range(n_issues):
        iss: dict[str, Any] = {"id": f"i{k}", "label": f"i{k}", "status_quo": 0.5}
        if k >= n_issues - ordinal:
            iss["kind"] = "ordinal"
            iss["levels"] = [{"name": f"l{v}", "value": v / 4} for v in range(5)]
            iss["status_quo"] = "l2"
        issues.append(iss)
    actors = []
    for a in range(n_actors):
        stances: dict[str, Any] = {}
        for iss in issues:
            pos: Any = round(float(rng.uniform()), 3)
            if "levels" in iss:
                pos = f"l{int(rng.integers(0, 5))}"
            stances[iss["id"]] = {"position": pos, "salience": round(float(rng.uniform(0.1, 1)), 3)}
        act: dict[str, Any] = {"id": f"A{a}", "name": f"A{a}", "curvature": curvature, "issues": stances}
        if a == 0 and n_lines:
            act["red_lines"] = [{"issue": f"i{2 * k + 1}", "min": 0.6, "when": {"issue": f"i{2 * k}", "above": 0.5}}
                                for k in range(n_lines)]
        actors.append(act)
    return {"name": "synthetic", "title": "synthetic", "issues": issues, "actors": actors,
            "protocol": {"kind": "package", "max_rounds": 30}}


def demands(p: Any, rng: np.random.Generator, trial: int) -> tuple[dict[int, float], dict[int, float]]:
    parties = list(p.parties)
    soft = {a: float(p.reservation[a] + rng.uniform(0.0, 0.3)) for a in parties}
    hard: dict[int, float] = {}
    if trial % 3 == 1:  # the proposer's own demand is hard, as in the "propose" program
        a = parties[0]
        soft.pop(a)
        hard = {a: float(p.reservation[a] + rng.uniform(0.0, 0.4))}
    return soft, hard


CASES = [
    (5, 10, 0, 0, 1.0), (7, 12, 2, 0, 1.0), (4, 9, 1, 3, 1.0),
    (6, 8, 0, 0, 2.0), (5, 10, 1, 0, 0.5), (3, 14, 3, 2, 1.0),
]


@pytest.mark.parametrize(("n_actors", "n_issues", "n_lines", "ordinal", "curvature"), CASES)
def test_both_forms_reach_the_same_optimum_and_utilities(
    n_actors: int, n_issues: int, n_lines: int, ordinal: int, curvature: float
) -> None:
    p = scenario.parse(synthetic(n_actors, n_issues, n_lines, seed=n_actors * n_issues, ordinal=ordinal,
                                 curvature=curvature)).problem
    whole, cols = offers._Solver(p, None), offers._ColumnSolver(p, None)
    rng = np.random.default_rng(n_issues)
    solved = 0
    for trial in range(24):
        soft, hard = demands(p, rng, trial)
        polish = trial % 2 == 0
        a, b = whole.solve(dict(soft), dict(hard), {}, polish), cols.solve(dict(soft), dict(hard), {}, polish)
        assert (a is None) == (b is None), (trial, soft, hard)
        if a is None or b is None:
            continue
        solved += 1
        assert b[0] == pytest.approx(a[0], abs=1e-7)
        np.testing.assert_allclose(p.utility(b[1]), p.utility(a[1]), atol=1e-6)
        assert bool(p.feasible(b[1][None, :])[0])
    assert solved >= 8  # the cases ask questions with answers, not only infeasible ones


def test_column_generation_proves_infeasibility() -> None:
    """Phase I: demands no package meets get no answer from either form."""
    p = scenario.parse(synthetic(6, 10, seed=3)).problem
    too_much = {a: 1.5 for a in p.parties}  # above anyone's best utility
    assert offers._Solver(p, None).solve({}, too_much, {}) is None
    assert offers._ColumnSolver(p, None).solve({}, too_much, {}) is None


@pytest.mark.parametrize("n_lines", [0, 1])
def test_a_chain_of_questions_answers_as_fresh_ones(monkeypatch: pytest.MonkeyPatch, n_lines: int) -> None:
    """``utopia`` asks one program per actor along a chain (each from where the last ended; with
    no lines, one feasible set and only the objective changing): the same utopia point as the
    whole program's, and as the same questions asked afresh."""
    data = synthetic(12, 15, n_lines=n_lines, seed=11)
    monkeypatch.setattr(offers, "COLUMNS_MIN_COEFFS", 10**12)
    reference = scenario.parse(data).problem.utopia
    monkeypatch.setattr(offers, "COLUMNS_MIN_COEFFS", 0)
    p = scenario.parse(data).problem
    np.testing.assert_allclose(p.utopia, reference, atol=1e-9)
    fresh = offers._ColumnSolver(p, None, span=np.ones(p.n_actors))
    parties = list(p.parties)
    for a in parties[:4]:
        hit = fresh.solve({a: 0.0}, {j: float(p.reservation[j]) for j in parties if j != a}, {}, polish=False)
        assert hit is not None
        assert min(p.best_utility[a], hit[0]) == pytest.approx(p.utopia[a], abs=1e-9)


def test_runs_agree_with_either_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole runs with patrons' pull, a trust discount, private information and conditional
    lines (shipped scenarios) and a synthetic one give the same outcomes with every offer from
    column generation as from the whole program."""
    names = ["belarus_russian_veto", "belarus_minsk_doubts_us", "belarus_private_veto", "belarus_us_2025"]

    def outcomes() -> list[tuple[Any, ...]]:
        scs = [scenario.load(f"scenarios/{n}.yaml") for n in names] + [scenario.parse(synthetic(8, 12, 2, seed=4))]
        out = []
        for sc in scs:
            for seed in range(2):
                o = Negotiation(sc, rng=seed, collect=False).run()
                pk = None if o.package is None else np.round(np.asarray(o.package, dtype=float), 9).tolist()
                out.append((o.agreed, o.reason, o.rounds, pk, len(o.events)))
        return out

    monkeypatch.setattr(offers, "COLUMNS_MIN_COEFFS", 10**12)
    whole = outcomes()
    monkeypatch.setattr(offers, "COLUMNS_MIN_COEFFS", 0)
    assert outcomes() == whole


def test_the_form_is_chosen_by_size_and_shipped_scenarios_keep_the_whole_program() -> None:
    from pathlib import Path

    for f in sorted(Path("scenarios").glob("*.yaml")):
        p = scenario.load(f).problem
        assert not offers.applies(p) or not offers.generates_columns(p), f.name
    big = scenario.parse(synthetic(40, 20, seed=1)).problem
    assert offers.generates_columns(big)
    assert isinstance(offers._solver(big, None), offers._ColumnSolver)


@pytest.mark.parametrize("name", [
    "test_rubinstein_split_with_the_equilibrium_strategies",
    "test_random_two_party_problems_with_gains_agree_near_the_nash_product",
    "test_zeuthens_rule_in_the_engine_reaches_the_nash_point_on_random_problems",
    "test_tightening_a_red_line_lowers_agreement_through_the_bargaining",
])
def test_theory_through_the_engine_with_every_offer_from_column_generation(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's own agreements reproduce Rubinstein's split, the Nash product and Zeuthen's
    rule, and red lines bite, when large-problem offers (column generation) make every offer."""
    from tests import test_engine_theory as theory

    monkeypatch.setattr(offers, "COLUMNS_MIN_COEFFS", 0)
    fn = getattr(theory, name)
    if name == "test_rubinstein_split_with_the_equilibrium_strategies":
        for d1, d2 in ((0.9, 0.9), (0.95, 0.8), (0.7, 0.9)):
            fn(d1, d2)
    else:
        fn()


def test_a_solve_cut_short_is_solved_again_from_no_basis(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simplex run that stalls is cut and solved again from no basis (``_solve_restricted``;
    a primal run that cycled without end hung a 100-actor point): with every first run cut at
    once, every answer comes from the second solve, and they are still the whole program's."""
    p = scenario.parse(synthetic(7, 12, 2, seed=84)).problem
    whole = offers._Solver(p, None)
    monkeypatch.setattr(offers, "STALL_PER_ROW", 0)
    cols = offers._ColumnSolver(p, None)
    rng = np.random.default_rng(5)
    solved = 0
    for trial in range(12):
        soft, hard = demands(p, rng, trial)
        a, b = whole.solve(dict(soft), dict(hard), {}), cols.solve(dict(soft), dict(hard), {})
        assert (a is None) == (b is None), trial
        if a is not None and b is not None:
            solved += 1
            assert b[0] == pytest.approx(a[0], abs=1e-7)
            np.testing.assert_allclose(p.utility(b[1]), p.utility(a[1]), atol=1e-6)
    assert solved >= 4
    assert cols.stalls > 0  # the second solve did the work


def test_searches_start_from_the_weights_the_utopia_chain_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where every party gains, later searches start from the weights some utopia program used
    (fewer than it priced); where no party can gain (no zone of agreement), from every weight
    priced. Either way the searches' answers are the whole program's (see the tests above)."""
    monkeypatch.setattr(offers, "COLUMNS_MIN_COEFFS", 0)
    made: list[Any] = []
    plain = offers._plain_solver

    def keep(problem: Any, chained: bool = False) -> Any:
        made.append(plain(problem, chained))
        return made[-1]

    monkeypatch.setattr(offers, "_plain_solver", keep)
    p = scenario.parse(synthetic(12, 15, seed=11)).problem
    parties = list(p.parties)
    assert np.all(p.utopia[parties] - p.reservation[parties] > offers._MIN_SPAN)
    chain = made[-1]
    start = p.__dict__["_priced_cells"]
    np.testing.assert_array_equal(start, np.flatnonzero(chain.used))
    assert 0 < len(start) < len(chain.cells_in())
    # no zone: two camps with opposite ideals and one salience everywhere, reservations at the
    # status quo: what one camp gains the other loses, on every issue alike
    data = synthetic(12, 15, seed=11)
    for k, act in enumerate(data["actors"]):
        act["reservation"] = "status_quo"
        for iss in act["issues"].values():
            iss["position"] = 0.0 if k % 2 else 1.0
            iss["salience"] = 0.5
    q = scenario.parse(data).problem
    assert np.all(q.utopia[parties] - q.reservation[parties] <= offers._MIN_SPAN)
    np.testing.assert_array_equal(q.__dict__["_priced_cells"], made[-1].cells_in())


@pytest.mark.parametrize(("kind", "n_lines"), [(offers._ColumnSolver, 0), (offers._Solver, 0), (offers._Solver, 2)])
def test_searches_start_from_one_fixed_basis_and_answer_in_any_order(
    monkeypatch: pytest.MonkeyPatch, kind: Any, n_lines: int
) -> None:
    """Every search starts from one basis per solver (``_start_basis``: a fixed program, solved
    once), whole program or column generation, so an answer depends on its own inputs only: the
    same questions asked in the reverse order, or each on a solver of its own, give the same
    answers bit for bit; and the start saves the searches simplex iterations against starting
    from no basis."""
    p = scenario.parse(synthetic(12, 15, n_lines=n_lines, seed=4)).problem
    rng = np.random.default_rng(7)
    questions = [demands(p, rng, trial) for trial in range(12)]

    def ask(solver: Any, qs: list[Any]) -> list[Any]:
        return [solver.solve(dict(s), dict(h), {}, True) for s, h in qs]

    forward = ask(kind(p, None), questions)
    backward = ask(kind(p, None), questions[::-1])[::-1]
    alone = [ask(kind(p, None), [q])[0] for q in questions]
    assert sum(a is not None for a in forward) >= 6
    for f, b, a in zip(forward, backward, alone, strict=True):
        assert (f is None) == (b is None) == (a is None)
        if f is not None:
            assert f[0] == b[0] == a[0]
            np.testing.assert_array_equal(f[1], b[1])
            np.testing.assert_array_equal(f[1], a[1])
    solver = kind(p, None)
    ask(solver, questions[:1])
    assert solver._start is not None and solver._start_basis() is solver._start  # solved once, kept

    def iterations(start: bool) -> int:
        s = kind(p, None)
        if not start:
            s._start = None
        count = 0
        run = s.h.run

        def counted() -> Any:
            nonlocal count
            out = run()
            count += s.h.getInfo().simplex_iteration_count
            return out

        monkeypatch.setattr(s.h, "run", counted)
        ask(s, questions)
        return count

    assert iterations(True) < iterations(False)


class _Faulty:
    """A HiGHS instance whose every ``every``-th run reports a solver error (as HiGHS does when
    its dual ratio test fails on excessive dual values), all else passed through."""

    def __init__(self, h: Any, every: int) -> None:
        self._h, self._every, self._runs, self._failed = h, every, 0, False
        self.faults = 0

    def run(self) -> Any:
        out = self._h.run()
        self._runs += 1
        self._failed = self._runs % self._every == 0
        self.faults += self._failed
        return out

    def clearSolver(self) -> Any:  # noqa: N802 - HiGHS's name
        self._failed = False
        return self._h.clearSolver()

    def getModelStatus(self) -> Any:  # noqa: N802 - HiGHS's name
        import highspy

        return highspy.HighsModelStatus.kSolveError if self._failed else self._h.getModelStatus()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._h, name)


@pytest.mark.parametrize("kind", [offers._Solver, offers._ColumnSolver])
def test_a_run_that_ends_in_a_solver_error_is_solved_again_not_taken_for_infeasible(kind: Any) -> None:
    """Every third run reports an error: each is solved again from no basis, and every search
    answers as on a solver without faults (with lines, so that branch and bound runs nodes)."""
    p = scenario.parse(synthetic(6, 8, n_lines=2, seed=9)).problem
    rng = np.random.default_rng(3)
    questions = [demands(p, rng, trial) for trial in range(10)]
    clean, faulty = kind(p, None), kind(p, None)
    faulty.h = _Faulty(faulty.h, 3)
    for soft, hard in questions:
        a, b = clean.solve(dict(soft), dict(hard), {}), faulty.solve(dict(soft), dict(hard), {})
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert b[0] == pytest.approx(a[0], abs=1e-9)
            np.testing.assert_allclose(p.utility(b[1]), p.utility(a[1]), atol=1e-7)
    assert faulty.h.faults >= 5
    assert sum(x is not None for x in (clean.solve(dict(s), dict(h), {}) for s, h in questions)) >= 4
