"""Plot functions take results and return figures with the expected axes, labels and artists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from model import plots, scenario
from model.negotiation import Negotiation
from model.report import History
from tests.factories import small


def _history() -> History:
    m = Negotiation(scenario.parse(small()))
    m.run()
    return History.from_model(m)


def test_trajectory_has_one_panel_per_actor_with_aspiration_offers_and_reservation() -> None:
    h = _history()
    fig = plots.trajectory(h, "Small")
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["X", "Y"]
    for a, ax in enumerate(axes):
        aspiration = ax.lines[0]
        np.testing.assert_allclose(aspiration.get_ydata(), h.aspiration[:, a])
        assert any(isinstance(c, PathCollection) for c in ax.collections)  # the offer dots
        reservation = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
        assert reservation and reservation[0].get_ydata()[0] == h.reservation[a]
    assert axes[0].get_ylabel().startswith("utility") and axes[-1].get_xlabel() == "round"
    assert "agreement in round" in fig._suptitle.get_text()  # type: ignore[union-attr]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:4] == ["aspiration", "utility of offer", "its own offer", "reservation"]


def _sweep_frame() -> pd.DataFrame:
    rows = []
    for x in (1, 2, 3):
        for y in ("a", "b"):
            for k in range(4):
                agreed = k < x + (y == "b")  # known rates: (x + [y == b]) / 4
                rows.append({"axis.x": x, "axis.y": y, "agreed": agreed, "error": None})
    rows.append({"axis.x": 1, "axis.y": "a", "agreed": None, "error": "boom"})
    return pd.DataFrame(rows)


def test_agreement_heatmap_shows_the_rate_and_run_count_of_each_cell() -> None:
    fig = plots.agreement_heatmap(_sweep_frame(), "axis.x", "axis.y")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    img = ax.images[0].get_array()
    np.testing.assert_allclose(img, [[0.25, 0.5, 0.75], [0.5, 0.75, 1.0]])
    texts = [t.get_text() for t in ax.texts]
    assert "25%\nn=4" in texts and "100%\nn=4" in texts and len(texts) == 6
    assert fig.axes[1].get_ylabel() == "agreement rate"  # the colour bar


def test_agreement_by_axis_plots_rates_with_an_interval() -> None:
    fig = plots.agreement_by_axis(_sweep_frame(), "axis.x")
    ax = fig.axes[0]
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_ydata(), [1.5 / 4, 2.5 / 4, 3.5 / 4])
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "agreement rate"
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() >= 0.0 and band[:, 1].max() <= 1.0


def test_issue_values_plot_has_one_panel_per_issue_following_the_offers() -> None:
    h = _history()
    fig = plots.issue_values(h)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    for i, ax in enumerate(axes):
        np.testing.assert_allclose(ax.lines[0].get_ydata(), h.offers[:, i])


def test_utility_space_shows_frontier_nash_point_reservations_and_agreement() -> None:
    sc = scenario.parse(small())
    m = Negotiation(sc)
    o = m.run()
    fig = plots.utility_space(sc.problem, 0, 1, o.package, History.from_model(m).offers)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "utility of X" and ax.get_ylabel() == "utility of Y"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Pareto frontier", "offers", "reservation of X", "reservation of Y", "Nash point (these two)",
                      "agreement"]
    frontier = ax.lines[0].get_xydata()
    assert np.all(np.diff(frontier[:, 0]) > 0) and np.all(np.diff(frontier[:, 1]) < 0)
    star = ax.collections[-1].get_offsets()[0]
    np.testing.assert_allclose(star, sc.problem.utility(o.package))


def test_utility_at_agreement_and_rounds_plots_use_only_agreed_runs() -> None:
    df = pd.DataFrame({
        "agreed": pd.array([True, True, False, None], dtype="boolean"),
        "error": [None, None, None, "boom"],
        "reason": ["agreement", "agreement", "deadline", None],
        "rounds": pd.array([3, 5, 10, None], dtype="Int64"),
        "utility.X": [0.8, 0.6, 0.3, np.nan],
        "utility.Y": [0.5, 0.7, 0.4, np.nan],
    })
    fig = plots.utility_at_agreement(df)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["X", "Y"]
    assert "2 of 3 runs" in ax.get_title()
    fig = plots.rounds_to_agreement(df)
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == 2
    assert "1 runs ended without agreement (by reason: deadline 1)" in ax.get_title()
    assert all(float(t).is_integer() for t in ax.get_xticks())  # whole rounds: never 7.5


def test_agreement_by_axis_draws_one_line_per_protocol() -> None:
    df = _sweep_frame().rename(columns={"axis.y": "axis.protocol.kind"})
    fig = plots.agreement_by_axis(df, "axis.x", by="axis.protocol.kind")
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.lines] == ["protocol.kind = a", "protocol.kind = b"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.5, 0.75, 1.0])
    assert len(ax.collections) == 2  # a band for each


# --------------------------------------------------------------------------------------------
# for a policy audience (issue #21): labels, level names, whole rounds, the story, every actor


def test_issue_panels_use_labels_level_names_status_quo_and_the_agreement() -> None:
    sc = scenario.parse(small())
    m = Negotiation(sc)
    o = m.run()
    h = History.from_model(m)
    fig = plots.issue_values(h, sc.problem.space, "Small", o.package)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["A", "B", "C"]  # labels, not the ids a, b, c
    assert [t.get_text() for t in axes[2].get_yticklabels()] == ["none", "half", "full"]
    np.testing.assert_allclose(axes[2].get_yticks(), [0.0, 0.5, 1.0])
    for i, ax in enumerate(axes):
        sq = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
        assert sq and sq[0].get_ydata()[0] == sc.problem.space.status_quo[i]
        star = ax.collections[-1].get_offsets()[0]
        assert star[0] == h.rounds[-1] and star[1] == o.package[i]
    for ax in axes:  # every bottom panel has round ticks, all whole numbers
        assert all(float(t).is_integer() for t in ax.get_xticks())
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["offer on the table", "status quo", "agreed"]


def test_long_labels_and_level_ids_are_wrapped_into_words() -> None:
    assert plots.level_text("continuing_arrests_forced_exile") == "continuing arrests\nforced exile"
    text = plots.wrap("U.S. financial-sector sanctions (Belinvestbank, Development Bank, MinFin sovereign debt, "
                      "Belarusian banks' correspondent accounts)", 48, 2)
    lines = text.split("\n")
    assert len(lines) == 2 and all(len(ln) <= 48 for ln in lines) and lines[-1].endswith("…")


def test_trajectory_titles_panels_by_actor_name_and_id_and_ticks_whole_rounds() -> None:
    h = _history()
    fig = plots.trajectory(h, "Small", ("Exland (Ministry of Trade)", "Y"))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["Exland (X)", "Y"]
    assert all(float(t).is_integer() for t in axes[0].get_xticks())


def _events() -> list:
    from model.protocols.base import Delivery, Pause, Resume, SpoilerFired, Tranche

    move = (("a", 0.0, 0.5),)
    return [
        Pause(1, "Y", 0.4, 0.5), Tranche(1, "X", 1, (("X", move),)), Resume(3, "Y", 0.7),
        Delivery(2, "X", "on tranche 1", 1.0, move), Delivery(4, "X", "on tranche 1", 0.4, move),
        Delivery(5, "X", "on tranche 1", 0.0, move), SpoilerFired(4, None, "shock", ()),
        SpoilerFired(6, None, "shock", ("a set to 0",)), Pause(6, "Y", 0.3, 0.5),
    ]


def test_timeline_draws_one_marker_per_event_of_each_kind_on_its_row() -> None:
    events = _events()
    fig = plots.timeline(events, 8, ("X", "Y"), "Small", ("Exland", "Whyland"))
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == ["tranches agreed", "spoiler shocks", "Exland (X)", "Whyland (Y)"]  # top down
    row_y = dict(zip(rows, ax.get_yticks(), strict=True))
    drawn: dict[str, list[tuple[float, float]]] = {}
    for c in ax.collections:  # scatter markers (pauses, resumes, tranches, spoilers)
        for off in (c.get_offsets() if isinstance(c, PathCollection) else []):
            drawn.setdefault(_kind_of(c), []).append(tuple(off))
    deliveries = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert len(deliveries) == 3  # full, partial, none
    assert [ln.get_fillstyle() for ln in deliveries] == ["full", "left", "full"]
    assert deliveries[2].get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))  # not at all: empty
    counts = {k: len(v) for k, v in drawn.items()}
    assert counts == {"pause": 2, "tranche": 1, "resume": 1, "spoiler": 2}
    assert {y for _, y in drawn["tranche"]} == {row_y["tranches agreed"]}
    assert {y for _, y in drawn["pause"]} == {row_y["Whyland (Y)"]}
    assert all(float(t).is_integer() for t in ax.get_xticks())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "paused" in legend and "delivery (half: partly, empty: not at all)" in legend


def _kind_of(c: PathCollection) -> str:
    """The event kind a scatter collection draws, by its marker colour (EVENT_STYLE)."""
    from matplotlib.colors import to_hex

    colour = to_hex(c.get_facecolor()[0])
    kinds = [k for k, (_, col, _) in plots.EVENT_STYLE.items() if col.lower() == colour.lower()]
    return kinds[0]


def test_timeline_of_a_stepwise_run_has_a_marker_for_every_logged_event() -> None:
    from pathlib import Path

    sc = scenario.load(Path(__file__).parent.parent / "scenarios" / "belarus_stepwise.yaml")
    m = Negotiation(sc)
    o = m.run()
    fig = plots.timeline(o.events, o.rounds, sc.problem.actor_ids)
    ax = fig.axes[0]
    scatter = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    lines = sum(1 for ln in ax.lines if ln.get_marker() == "o")
    assert lines == sum(1 for e in o.events if str(e.kind) == "delivery")
    assert scatter == sum(1 for e in o.events if str(e.kind) != "delivery")
    assert ax.get_xlim() == (0.5, o.rounds + 0.5)


def test_outcome_space_shows_every_actor_the_agreement_and_the_pareto_verdict() -> None:
    sc = scenario.parse(small())
    m = Negotiation(sc)
    o = m.run()
    p = sc.problem
    fig = plots.outcome_space(p, o.package, History.from_model(m).offers, "Small")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["X", "Y"]
    agreement = next(ln for ln in ax.lines if ln.get_label() == "agreement")
    np.testing.assert_allclose(agreement.get_ydata(), p.utility(o.package))
    reservation = next(c for c in ax.collections if c.get_label() == "reservation utility")
    np.testing.assert_allclose(reservation.get_offsets()[:, 1], p.reservation)
    from model.core import find_dominating

    dominated = find_dominating(p, o.package) is not None
    assert ("not Pareto-optimal" in ax.get_title()) == dominated


def test_utility_space_with_more_than_two_actors_does_not_call_the_pair_frontier_the_pareto_frontier() -> None:
    data = small()
    third = {"id": "Z", "name": "Z", "issues": {"a": {"position": 0.5, "salience": 0.5}}}
    data["actors"].append(third)
    sc = scenario.parse(data)
    fig = plots.utility_space(sc.problem, 0, 1)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Pareto frontier" not in labels and "frontier for these two alone" in labels
    assert "other 1 actors' utilities are not shown" in ax.get_title()


def test_a_third_swept_condition_is_a_panel_each_not_averaged() -> None:
    base = _sweep_frame()
    df = pd.concat([base.assign(**{"axis.z": 0}), base.assign(**{"axis.z": 1, "agreed": True})], ignore_index=True)
    fig = plots.agreement_heatmap(df, "axis.x", "axis.y", "t", facet="axis.z")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["z = 0", "z = 1"]
    np.testing.assert_allclose(panels[0].images[0].get_array(), [[0.25, 0.5, 0.75], [0.5, 0.75, 1.0]])
    np.testing.assert_allclose(panels[1].images[0].get_array(), np.ones((2, 3)))
    fig = plots.agreement_heatmap(df, "axis.x", "axis.y", "t", pooled=["axis.z"])
    assert "pooled over z" in fig._suptitle.get_text()  # type: ignore[union-attr]


def test_agreement_by_a_whole_number_condition_gets_whole_number_ticks_and_names_what_is_pooled() -> None:
    fig = plots.agreement_by_axis(_sweep_frame(), "axis.x", "t", pooled=["axis.y"])
    ax = fig.axes[0]
    assert all(float(t).is_integer() for t in ax.get_xticks())
    assert "95% Wilson" in ax.get_title() and "pooled over y" in ax.get_title()


def test_the_new_figures_draw_user_text_with_dollar_signs_as_text() -> None:
    import io

    data = small(title="Cost $5bn vs $x^$")
    data["actors"][0]["name"] = "$x^$ party"
    data["issues"][0]["label"] = "A $ label"
    sc = scenario.parse(data)
    m = Negotiation(sc)
    o = m.run()
    h = History.from_model(m)
    p = sc.problem
    for fig in (plots.timeline(_events(), 8, p.actor_ids, sc.spec.title, p.actor_names),
                plots.outcome_space(p, o.package, h.offers, sc.spec.title),
                plots.issue_values(h, p.space, sc.spec.title, o.package),
                plots.trajectory(h, sc.spec.title, p.actor_names)):
        fig.savefig(io.BytesIO(), format="png")  # mathtext would raise on "$x^$"


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(__file__).parent.parent / "scenarios").glob("*.yaml")))
def test_every_shipped_scenario_draws_its_timeline_with_every_event_on_a_row(name: str) -> None:
    """Every kind of event any protocol logs (phases, renegotiations, the EUM's rounds, ...) finds a
    row or is left out on purpose: a new kind must never break ``bargain run``'s figures."""
    sc = scenario.load(Path(__file__).parent.parent / "scenarios" / f"{name}.yaml")
    o = Negotiation(sc, rng=1).run()
    fig = plots.timeline(o.events, o.rounds, sc.problem.actor_ids)
    ax = fig.axes[0]
    drawn = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    drawn += sum(1 for ln in ax.lines if ln.get_marker() not in (None, "None", ""))
    assert drawn == sum(1 for e in o.events if str(e.kind) not in plots.NOT_DRAWN)


def test_timeline_puts_an_event_of_no_actor_and_no_shared_row_on_its_own_row() -> None:
    from model.protocols.base import EventKind, Extension

    class Untold(Extension):  # a kind the timeline has no row for, naming no actor
        kind = EventKind.SUSPENSION

    fig = plots.timeline([Untold(3, None, 2, 5)], 5, ["A", "B"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [plots.OTHER_ROW]
