"""Concession strategies: the time-dependent family and the behaviour-dependent ones
(tit-for-tat, Zeuthen's risk rule) and the hardliner, on hand-computed numbers."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from pydantic import ValidationError

from model import core
from model.core.strategies import (
    Boulware,
    Conceder,
    Hardliner,
    Linear,
    Situation,
    TimeDependent,
    TitForTat,
    Zeuthen,
    accepts,
    make_strategy,
    zeuthen_risk,
)

BEST, FLOOR = 0.9, 0.4  # span 0.5


def sit(t: int = 3, **kw: float) -> Situation:
    return Situation(t, 10, best=kw.pop("best", BEST), floor=kw.pop("floor", FLOOR), **kw)


# ---------------------------------------------------------------------------- Situation


def test_situation_keeps_its_field_order_and_the_new_fields_default_to_nan() -> None:
    names = [f.name for f in dataclasses.fields(Situation)]
    assert names == ["round", "max_rounds", "best", "floor", "previous", "received", "received_before",
                     "delivered", "others_risk", "continuation", "share"]
    s = Situation(2, 10, 0.9, 0.3)  # the old positional call
    assert (s.round, s.max_rounds, s.best, s.floor) == (2, 10, 0.9, 0.3)
    assert all(math.isnan(getattr(s, n)) for n in names[4:9]) and math.isnan(s.share)
    assert s.continuation == 1.0  # delay costs nothing unless the protocol says so


# ---------------------------------------------------------------------------- existing strategies


@pytest.mark.parametrize("t", [0, 3, 7, 9])
def test_time_dependent_aspirations_are_unchanged(t: int) -> None:
    tau = t / 9
    s = Situation(t, 10, best=BEST, floor=FLOOR)
    assert Boulware().aspiration(s) == pytest.approx(FLOOR + 0.5 * (1 - tau**4), abs=1e-15)
    assert Boulware(6.0).aspiration(s) == pytest.approx(FLOOR + 0.5 * (1 - tau**6), abs=1e-15)
    assert Linear().aspiration(s) == pytest.approx(FLOOR + 0.5 * (1 - tau), abs=1e-15)
    assert Conceder().aspiration(s) == pytest.approx(FLOOR + 0.5 * (1 - tau**0.25), abs=1e-15)
    assert TimeDependent(2.0).schedule(BEST, FLOOR, 10)[t] == pytest.approx(FLOOR + 0.5 * (1 - tau**2), abs=1e-15)
    # they ignore what the others do
    told = dataclasses.replace(s, previous=0.1, received=0.8, received_before=0.2, delivered=0.0, others_risk=0.0)
    assert Boulware().aspiration(told) == Boulware().aspiration(s)


def test_existing_names_and_defaults_are_unchanged() -> None:
    assert {"time_dependent", "boulware", "linear", "conceder"} <= set(core.STRATEGIES)
    assert core.STRATEGIES["boulware"] is Boulware and core.STRATEGIES["time_dependent"] is TimeDependent
    b = make_strategy("boulware", {})
    assert isinstance(b, Boulware) and b.exponent == 4.0
    assert isinstance(make_strategy("linear", {}), Linear)


# ---------------------------------------------------------------------------- tit for tat


def test_tit_for_tat_opens_with_its_goodwill_concession() -> None:
    assert TitForTat().aspiration(sit(0)) == pytest.approx(BEST - 0.05 * 0.5)
    assert TitForTat(opening=0.2).aspiration(sit(0)) == pytest.approx(0.8)
    assert TitForTat(opening=0.0).aspiration(sit(0)) == BEST
    assert TitForTat(opening=1.0).aspiration(sit(0)) == pytest.approx(FLOOR)
    # the first round ignores any history it is given
    assert TitForTat(opening=0.2).aspiration(sit(0, previous=0.5, received=0.7, received_before=0.4)) == (
        pytest.approx(0.8))


@pytest.mark.parametrize("reciprocity", [0.5, 1.0, 2.0])
def test_tit_for_tat_returns_reciprocity_times_the_others_concession(reciprocity: float) -> None:
    s = sit(previous=0.8, received=0.5, received_before=0.45)  # the others conceded 0.05 in its utility
    assert TitForTat(reciprocity=reciprocity).aspiration(s) == pytest.approx(0.8 - reciprocity * 0.05)


def test_tit_for_tat_does_not_concede_unless_the_others_do() -> None:
    t = TitForTat()
    assert t.aspiration(sit(previous=0.8, received=0.45, received_before=0.5)) == 0.8  # they retreated
    assert t.aspiration(sit(previous=0.8, received=0.5, received_before=0.5)) == 0.8  # they held
    assert t.aspiration(sit(previous=0.8, received=0.5)) == 0.8  # only one offer so far
    assert t.aspiration(sit(previous=0.8)) == 0.8  # nothing received
    assert t.aspiration(sit(received=0.5, received_before=0.45)) == pytest.approx(BEST - 0.05)  # no previous: best


def test_tit_for_tat_retaliates_in_proportion_to_the_undelivered_share() -> None:
    # 0.5 * (1 - 0.6) * 0.5 = 0.1 back up
    assert TitForTat().aspiration(sit(previous=0.7, delivered=0.6)) == pytest.approx(0.8)
    assert TitForTat(retaliation=0.8).aspiration(sit(previous=0.4, delivered=0.25)) == pytest.approx(0.4 + 0.3)
    assert TitForTat(retaliation=0.0).aspiration(sit(previous=0.7, delivered=0.0)) == 0.7
    assert TitForTat().aspiration(sit(previous=0.7, delivered=1.0)) == 0.7  # promise kept
    # concession and retaliation together: -1.0 * 0.05 + 0.5 * 0.5 * 0.5
    both = sit(previous=0.6, received=0.5, received_before=0.45, delivered=0.5)
    assert TitForTat().aspiration(both) == pytest.approx(0.6 - 0.05 + 0.125)


def test_tit_for_tat_stays_between_floor_and_best() -> None:
    assert TitForTat(retaliation=1.0).aspiration(sit(previous=0.85, delivered=0.0)) == BEST
    assert TitForTat(reciprocity=5.0).aspiration(sit(previous=0.5, received=0.8, received_before=0.2)) == FLOOR
    # a floor above the best package: the aspiration is the best package
    assert TitForTat(reciprocity=5.0).aspiration(
        sit(best=0.3, floor=0.4, previous=0.3, received=0.3, received_before=0.0)) == 0.3
    rng = np.random.default_rng(0)
    t = TitForTat(reciprocity=5.0, opening=0.5, retaliation=1.0)
    for _ in range(500):
        v = rng.random(5)
        a = t.aspiration(sit(int(v[0] * 3), previous=v[1], received=v[2], received_before=v[3], delivered=v[4]))
        assert FLOOR <= a <= BEST


# ---------------------------------------------------------------------------- Zeuthen


def test_zeuthen_risk_is_the_share_of_the_gain_the_offer_gives_up() -> None:
    assert zeuthen_risk(0.8, 0.5, 0.2) == pytest.approx(0.5)
    assert zeuthen_risk(1.0, 0.25, 0.0) == pytest.approx(0.75)
    assert zeuthen_risk(0.8, 0.9, 0.2) == 0.0  # the offer beats its aspiration
    assert zeuthen_risk(0.8, 0.1, 0.2) == 1.0  # the offer is worse than conflict
    assert zeuthen_risk(0.2, 0.1, 0.2) == 1.0  # nothing to lose by conflict
    assert zeuthen_risk(0.1, 0.1, 0.2) == 1.0
    assert math.isnan(zeuthen_risk(0.8, math.nan, 0.2))


def test_zeuthen_concedes_one_step_when_its_risk_is_smaller() -> None:
    # own risk (0.8 - 0.4) / (0.8 - 0.2) = 2/3 < 0.9: concede step * (best - floor)
    s = Situation(3, 10, best=1.0, floor=0.2, previous=0.8, received=0.4, others_risk=0.9)
    assert Zeuthen().aspiration(s) == pytest.approx(0.8 - 0.1 * 0.8)
    assert Zeuthen(step=0.25).aspiration(s) == pytest.approx(0.8 - 0.25 * 0.8)


def test_zeuthen_holds_when_its_risk_is_larger() -> None:
    s = Situation(3, 10, best=1.0, floor=0.2, previous=0.8, received=0.4, others_risk=0.6)
    assert Zeuthen().aspiration(s) == 0.8
    assert Zeuthen().aspiration(dataclasses.replace(s, others_risk=2 / 3 - 1e-6)) == 0.8
    assert Zeuthen().aspiration(dataclasses.replace(s, others_risk=2 / 3 + 1e-6)) == pytest.approx(0.72)


def test_both_zeuthen_actors_concede_at_a_tie() -> None:
    # A (best 1, floor 0) stands by 0.8 and is offered 0.4; B (best 1, floor 0.2) stands by 0.7 and
    # is offered 0.45: both risk 0.5, so both concede a step of their own best - floor.
    risk_a = zeuthen_risk(0.8, 0.4, 0.0)
    risk_b = zeuthen_risk(0.7, 0.45, 0.2)
    assert risk_a == pytest.approx(0.5) and risk_b == pytest.approx(0.5)
    a = Zeuthen().aspiration(Situation(3, 10, 1.0, 0.0, previous=0.8, received=0.4, others_risk=risk_b))
    b = Zeuthen().aspiration(Situation(3, 10, 1.0, 0.2, previous=0.7, received=0.45, others_risk=risk_a))
    assert a == pytest.approx(0.7) and b == pytest.approx(0.62)


def test_zeuthen_holds_in_the_first_round_and_while_it_cannot_compare() -> None:
    z = Zeuthen()
    assert z.aspiration(Situation(0, 10, 1.0, 0.2, previous=0.8, received=0.4, others_risk=1.0)) == 0.8
    assert z.aspiration(Situation(0, 10, 1.0, 0.2)) == 1.0
    assert z.aspiration(Situation(3, 10, 1.0, 0.2, previous=0.8, others_risk=1.0)) == 0.8
    assert z.aspiration(Situation(3, 10, 1.0, 0.2, previous=0.8, received=0.4)) == 0.8
    # no previous aspiration: it starts from its best
    assert z.aspiration(Situation(3, 10, 1.0, 0.2, received=0.4, others_risk=1.0)) == pytest.approx(0.92)


def test_zeuthen_never_concedes_below_its_floor() -> None:
    s = Situation(3, 10, best=1.0, floor=0.2, previous=0.25, received=0.0, others_risk=1.0)
    assert Zeuthen().aspiration(s) == 0.2
    assert Zeuthen().aspiration(dataclasses.replace(s, previous=0.2)) == 0.2


def _split_the_pie(step: float, floors: tuple[float, float], max_rounds: int = 10_000) -> tuple[float, int]:
    """Two Zeuthen actors split a pie: ``x`` is A's share, u_A = x, u_B = 1 - x (both best 1).

    They take turns (A in even rounds): the proposer sets its aspiration from the other's
    standing offer and the other's risk facing its own standing offer, then offers the split
    worth exactly its aspiration; the other accepts if that meets its own aspiration. Returns
    the agreed ``x`` and the round."""
    players = (Zeuthen(step), Zeuthen(step))

    def u(i: int, x: float) -> float:
        return x if i == 0 else 1.0 - x

    def split(i: int, a: float) -> float:
        return a if i == 0 else 1.0 - a

    asp = [1.0, 1.0]
    standing = [split(0, 1.0), split(1, 1.0)]
    got: list[list[float]] = [[], []]
    for t in range(max_rounds):
        p, q = t % 2, 1 - t % 2
        if accepts(u(p, standing[q]), asp[p], floors[p], True):
            return standing[q], t
        got[p].append(u(p, standing[q]))
        s = Situation(
            t, max_rounds, best=1.0, floor=floors[p], previous=asp[p], received=got[p][-1],
            received_before=got[p][-2] if len(got[p]) > 1 else math.nan,
            others_risk=zeuthen_risk(asp[q], u(q, standing[p]), floors[q]),
        )
        new = players[p].aspiration(s)
        assert floors[p] <= new <= asp[p]  # monotonic concession
        asp[p] = new
        standing[p] = split(p, new)
        if accepts(u(q, standing[p]), asp[q], floors[q], True):
            return standing[p], t
    raise AssertionError("no agreement")


@pytest.mark.parametrize("step", [0.1, 0.07, 0.03, 0.013, 0.001])
def test_two_zeuthen_actors_agree_within_one_step_of_the_equal_split(step: float) -> None:
    x, rounds = _split_the_pie(step, (0.0, 0.0))
    assert abs(x - 0.5) <= step + 1e-9  # the Nash bargaining solution of this problem
    assert rounds < 3 / step


def test_two_zeuthen_actors_agree_near_the_nash_point_with_unequal_floors() -> None:
    # Nash: max (x - 0.2) * (1 - x)  ->  x = 0.6
    for step in (0.05, 0.01, 0.002):
        x, _ = _split_the_pie(step, (0.2, 0.0))
        assert abs(x - 0.6) <= step + 1e-9


def test_with_steps_of_one_tenth_the_pie_is_split_exactly_in_half() -> None:
    # hand-traced: B concedes at the opening tie, then the higher aspiration concedes in turn
    x, rounds = _split_the_pie(0.1, (0.0, 0.0))
    assert x == pytest.approx(0.5) and rounds == 10


# ---------------------------------------------------------------------------- hardliner


@pytest.mark.parametrize(("level", "expected"), [(1.0, BEST), (0.5, 0.65), (0.0, FLOOR)])
def test_the_hardliner_insists_on_a_constant_level(level: float, expected: float) -> None:
    h = Hardliner(level)
    values = [h.aspiration(Situation(t, 10, BEST, FLOOR, previous=0.5, received=0.8, received_before=0.1,
                                     delivered=0.0, others_risk=0.0)) for t in range(10)]
    assert values == pytest.approx([expected] * 10)
    sched = h.schedule(BEST, FLOOR, 10)
    assert sched.shape == (10,)
    assert np.allclose(sched, [h.aspiration(Situation(t, 10, BEST, FLOOR)) for t in range(10)], rtol=0, atol=0)


def test_the_hardliner_with_a_floor_above_its_best_asks_for_its_best() -> None:
    assert Hardliner(0.3).aspiration(Situation(0, 5, best=0.3, floor=0.5)) == 0.3
    assert np.all(Hardliner(0.3).schedule(0.3, 0.5, 5) == 0.3)


# ---------------------------------------------------------------------------- by name


def test_the_new_strategies_are_built_by_name_with_their_parameters() -> None:
    t = make_strategy("tit_for_tat", {"reciprocity": 2.0, "retaliation": 0.25})
    assert isinstance(t, TitForTat) and (t.reciprocity, t.opening, t.retaliation) == (2.0, 0.05, 0.25)
    d = make_strategy("tit_for_tat", {})
    assert isinstance(d, TitForTat) and (d.reciprocity, d.opening, d.retaliation) == (1.0, 0.05, 0.5)
    z = make_strategy("zeuthen", {"step": 0.02})
    assert isinstance(z, Zeuthen) and z.step == 0.02
    assert isinstance(zd := make_strategy("zeuthen", {}), Zeuthen) and zd.step == 0.1
    h = make_strategy("hardliner", {"level": 0.75})
    assert isinstance(h, Hardliner) and h.level == 0.75
    assert isinstance(hd := make_strategy("hardliner", {}), Hardliner) and hd.level == 1.0
    for name, cls in (("tit_for_tat", TitForTat), ("zeuthen", Zeuthen), ("hardliner", Hardliner)):
        assert core.STRATEGIES[name] is cls and cls.name == name


@pytest.mark.parametrize(("name", "params"), [
    ("tit_for_tat", {"reciprocity": 0.0}),
    ("tit_for_tat", {"reciprocity": 5.5}),
    ("tit_for_tat", {"opening": -0.1}),
    ("tit_for_tat", {"opening": 1.5}),
    ("tit_for_tat", {"retaliation": 2.0}),
    ("tit_for_tat", {"exponent": 2.0}),
    ("zeuthen", {"step": 0.0}),
    ("zeuthen", {"step": 1.5}),
    ("zeuthen", {"step": math.nan}),
    ("zeuthen", {"speed": 0.1}),
    ("hardliner", {"level": -0.1}),
    ("hardliner", {"level": 1.1}),
])
def test_bad_parameters_are_rejected(name: str, params: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        make_strategy(name, params)
