"""An actor's answer in the Mesa model (``model.agents.Actor.accepts`` and ``respond``): a refusal
for falling short of its reservation or aspiration is kept as its reason and numbers and written
out as a ``Response`` when read, the same ``Response`` the acceptance rule gives; a response set
afterwards replaces it. And Mesa's clock as a run leaves it, whether someone observes it or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model import scenario
from model.core.strategies import meets
from model.negotiation import Negotiation
from model.protocols.base import ACCEPTED, Response, ResponseReason

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "belarus_us_2025.yaml"


def _expected(m: Negotiation, i: int) -> Response:
    """The answer of actor ``i`` to the offer on the table, from the rule itself."""
    a = m.actors[i]
    u = float(m.offer_effective[i])
    if not m.offer_lines_ok[i]:
        return Response(False, ResponseReason.RED_LINE)  # (its note is compared apart)
    if not meets(u, a.reservation):
        return Response(False, ResponseReason.BELOW_RESERVATION, u, a.reservation)
    if not meets(u, max(a.aspiration + m.margin, a.reservation + m.margin)):
        return Response(False, ResponseReason.BELOW_ASPIRATION, u, a.aspiration + m.margin)
    return ACCEPTED


def test_each_answer_is_the_rules_and_is_written_out_once() -> None:
    sc = scenario.load(BASELINE)
    m = Negotiation(sc, rng=0, collect=False)
    p = m.problem
    rng = np.random.default_rng(4)
    rows = np.arange(p.space.n_issues)
    seen = set()
    for r in range(1, 30):
        m.round = r
        for a in m.actors:
            a.update_aspiration()
        x = p.space.grid[rows, rng.integers(0, p.space.grid_mask.sum(axis=1))]
        m.table(x)
        for i in p.parties:
            a = m.actors[i]
            if m.has_patrons[i]:
                continue  # (a patron's veto may draw)
            want = _expected(m, i)
            ok = a.accepts(x)
            assert ok == want.accepted
            got = a.response
            assert got is not None and got is a.response  # written out once, then kept
            assert (got.accepted, got.reason) == (want.accepted, want.reason)
            if want.reason != ResponseReason.RED_LINE:
                assert got == want
            seen.add(got.reason)
            assert a.respond(x) == got
    assert {ResponseReason.BELOW_ASPIRATION, ResponseReason.ACCEPTED} <= seen


def test_a_response_set_after_a_refusal_replaces_it_and_a_new_round_clears_it() -> None:
    sc = scenario.load(BASELINE)
    m = Negotiation(sc, rng=0, collect=False)
    m.round = 1
    for a in m.actors:
        a.update_aspiration()
    x = m.problem.space.status_quo.copy()  # nobody's aspiration is met at the start
    m.table(x)
    a = m.actors[m.problem.parties[0]]
    assert not a.accepts(x)
    vetoed = Response(False, ResponseReason.VETO, note="a patron vetoes it")
    a.response = vetoed
    assert a.response is vetoed
    m.round = 2
    a.update_aspiration()
    assert a.response is None


def test_an_observer_of_the_clock_hears_every_round_and_the_clock_reads_the_same_without_one() -> None:
    from mesa.experimental.mesa_signals import ObservableSignals

    sc = scenario.load(BASELINE)
    heard: list[tuple[float, float]] = []

    def on_time(signal: object) -> None:
        kw = signal.additional_kwargs  # type: ignore[attr-defined]
        heard.append((kw["old"], kw["new"]))

    watched = Negotiation(sc, rng=2, collect=False)
    watched.observe("time", ObservableSignals.CHANGED, on_time)
    out = watched.run()
    assert heard == [(float(t), float(t + 1)) for t in range(out.rounds)]
    plain = Negotiation(sc, rng=2, collect=False)
    assert plain.run().rounds == out.rounds
    assert plain.time == watched.time == float(out.rounds) and type(plain.time) is float
    assert plain.steps == watched.steps == out.rounds
