"""Plot functions take results and return figures with the expected axes, labels and artists."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
    assert axes[0].get_ylabel() == "utility" and axes[0].get_xlabel() == "round"
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
    assert "deadline: 1" in ax.get_title()


def test_agreement_by_axis_draws_one_line_per_protocol() -> None:
    df = _sweep_frame().rename(columns={"axis.y": "axis.protocol.kind"})
    fig = plots.agreement_by_axis(df, "axis.x", by="axis.protocol.kind")
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.lines] == ["protocol.kind = a", "protocol.kind = b"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.5, 0.75, 1.0])
    assert len(ax.collections) == 2  # a band for each
