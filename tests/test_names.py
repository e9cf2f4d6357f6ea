"""Names for conditions and outcomes: red lines addressed by id, and labels wherever a reader sees them
(tables, plot axes, PRIM sentences, the report, DataFrame columns)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from model import discovery, labels, results
from model import experiment as exm
from model import scenario as scn
from model.cli import main
from model.errors import InputError
from model.paths import PathError, get_path, set_path
from tests.factories import small, write_experiment

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "belarus_us_2025.yaml"
NI = "actors.BLR.red_lines.non_interference_guarantee.min"


def _baseline() -> dict:
    return scn.load_data(BASELINE)[0]


def _named_small() -> dict:
    """The small scenario with two named red lines on actor X."""
    data = small(protocol={"max_rounds": 20, "breakdown_risk": 0.1})
    data["actors"][0]["red_lines"] = [
        {"id": "floor_a", "label": "X's floor on A", "issue": "a", "min": 0.3},
        {"id": "cap_b", "label": "X's cap on B", "issue": "b", "max": 0.9},
    ]
    return data


# ---------------------------------------------------------------------------- paths by id


def test_an_id_path_reads_and_writes_the_red_line_with_that_id_and_positions_still_work() -> None:
    data = _baseline()
    blr = next(a for a in data["actors"] if a["id"] == "BLR")
    assert get_path(data, NI) == 0.67
    assert get_path(data, "actors.BLR.red_lines[2].min") == 0.67  # the same line, by position
    loc = set_path(data, NI, 1.0)
    assert loc == ("actors", 1, "red_lines", 2, "min")
    assert blr["red_lines"][2] == {**blr["red_lines"][2], "issue": "non_interference", "min": 1.0}


def test_reordering_red_lines_does_not_change_what_an_id_path_sweeps(tmp_path: Path) -> None:
    data = _baseline()
    shuffled = copy.deepcopy(data)
    blr = next(a for a in shuffled["actors"] if a["id"] == "BLR")
    blr["red_lines"].append(blr["red_lines"].pop(0))  # the first line moves to the end
    axes = [{"path": NI, "values": [0.33, 1.0]}]
    for name, base in (("as_shipped", data), ("reordered", shuffled)):
        d = tmp_path / name
        d.mkdir()
        exp = exm.load(write_experiment(d, axes, scenario=base, replicates=1))
        for point in exp.points:
            sc = exp.scenario_for(point)
            lines = {rl.id: rl for rl in next(a for a in sc.spec.actors if a.id == "BLR").red_lines}
            assert lines["non_interference_guarantee"].issue == "non_interference"
            assert lines["non_interference_guarantee"].min == point[NI]
            assert lines["no_apology_to_lithuania"].max == 0.33  # no other line moved
    # by position, the same experiment would have varied another line after the reordering
    assert get_path(shuffled, "actors.BLR.red_lines[2].id") == "repression_discretion"
    assert get_path(shuffled, "actors.BLR.red_lines.non_interference_guarantee.min") == 0.67


@pytest.mark.parametrize(("rid", "hint"), [("no_such_line", "ids: floor_a, cap_b"),
                                           ("flor_a", "did you mean 'floor_a'?")])
def test_an_unknown_red_line_id_is_one_line_naming_the_file_the_field_and_the_known_ids(
        tmp_path: Path, rid: str, hint: str) -> None:
    f = write_experiment(tmp_path, [{"path": f"actors.X.red_lines.{rid}.min", "values": [0.2]}],
                         scenario=_named_small())
    with pytest.raises(InputError) as info:
        exm.load(f)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{f}:6: axes[0].path: 'actors.X.red_lines.{rid}.min' points nowhere")
    assert msg.endswith(f"no entry with id '{rid}' in actors[0].red_lines ({hint})")


def test_red_lines_without_ids_say_how_to_address_them() -> None:
    with pytest.raises(PathError, match=r"its entries have no ids \(give them an id, or address them by position, "
                                        r"\[0\] to \[0\]\)"):
        get_path(small(), "actors.X.red_lines.floor_a.min")


def test_two_red_lines_of_one_actor_may_not_share_an_id() -> None:
    data = _named_small()
    data["actors"][0]["red_lines"][1]["id"] = "floor_a"
    with pytest.raises(InputError, match=r"actors\[0\]\.red_lines\[1\]\.id: duplicate red line id 'floor_a' in X "
                                         r"\(red_lines\[0\] has it\)"):
        scn.parse(data)
    other = _named_small()  # the same id on another actor's line is fine: paths name the actor first
    other["actors"][1]["red_lines"] = [{"id": "floor_a", "issue": "b", "max": 0.8}]
    scn.parse(other)


def test_a_position_path_to_a_red_line_gets_a_deprecation_note_and_an_id_path_none(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    by_pos = exm.load(write_experiment(tmp_path / "a", [{"path": "actors.X.red_lines[0].min", "values": [0.2]}],
                                       scenario=_named_small()))
    by_id = exm.load(write_experiment(tmp_path / "b", [{"path": "actors.X.red_lines.floor_a.min", "values": [0.2]}],
                                      scenario=_named_small()))
    assert len(by_pos.notes) == 1 and "axes[0].path: actors.X.red_lines[0].min addresses a red line by its position, "\
        "which is deprecated" in by_pos.notes[0]
    assert by_id.notes == []
    r = CliRunner().invoke(main, ["sweep", str(tmp_path / "a" / "exp.yaml"), "--backend", "serial", "--out",
                                  str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "note:" in r.output and "deprecated" in r.output


def test_every_red_line_of_the_shipped_scenarios_has_an_id_and_a_label_and_no_experiment_uses_positions() -> None:
    for f in sorted((ROOT / "scenarios").glob("*.yaml")):
        for act in scn.load(f).spec.actors:
            for k, rl in enumerate(act.red_lines):
                assert rl.id and rl.label, f"{f.name}: {act.id}.red_lines[{k}] has no id or no label"
    for f in sorted((ROOT / "experiments").glob("*.yaml")):
        assert exm.load(f).notes == [], f.name


# ---------------------------------------------------------------------------- labels


def test_label_of_names_red_lines_issues_actors_and_outcomes_from_the_scenario() -> None:
    data = _baseline()
    assert labels.label_of(NI, data) == "Minsk's demand for non-interference: minimum"
    assert labels.label_of("axis.actors.RUS.red_lines.alignment_tolerance.max", data) == \
        "Moscow's tolerance of Minsk's distancing: maximum"
    assert labels.label_of("actors.BLR.red_lines[0].max", data) == "Minsk's red line on Russia: maximum"
    eu = next(i for i in data["issues"] if i["id"] == "eu_sanctions")["label"]
    assert labels.label_of("value.eu_sanctions", data) == f"{eu} (agreed value)"
    assert labels.label_of("utility.USA", data) == "Utility of United States"
    assert labels.label_of("agreed", data) == "Agreement"
    assert labels.label_of("protocol.max_rounds", data) == "number of rounds"
    assert labels.label_of("axis.protocol.kind", data) == "protocol"
    assert labels.label_of("actors.BLR.issues.russia_alignment.salience", data).startswith("Belarus: salience on ")
    # a line without a label is named by its actor and issue
    bare = small()
    assert labels.label_of("actors.X.red_lines[0].min", bare) == "X's red line on A: minimum"
    assert labels.label_of("not a path!", bare) == "not a path!"  # never raises


@pytest.fixture(scope="module")
def labelled_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sweep over a named red line (with the experiment's own label on the other axis)."""
    tmp = tmp_path_factory.mktemp("names")
    axes = [{"path": "actors.X.red_lines.floor_a.min", "values": [0.2, 0.6, 0.95]},
            {"path": "protocol.max_rounds", "label": "Deadline (rounds)", "values": [4, 20]}]
    f = write_experiment(tmp, axes, scenario=_named_small(), replicates=2)
    out = tmp / "out"
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_results_carry_the_labels_and_give_them_as_columns_on_request(labelled_sweep: Path) -> None:
    df = results.load(labelled_sweep)
    assert df.attrs["labels"]["axis.actors.X.red_lines.floor_a.min"] == "X's floor on A: minimum"
    assert df.attrs["labels"]["axis.protocol.max_rounds"] == "Deadline (rounds)"
    assert df.attrs["labels"]["value.a"] == "A (agreed value)"
    named = results.load(labelled_sweep, labels=True)
    assert "X's floor on A: minimum" in named.columns and "Agreement" in named.columns
    assert named.attrs["paths"]["X's floor on A: minimum"] == "axis.actors.X.red_lines.floor_a.min"
    assert list(named["Agreement"]) == list(df["agreed"])


def test_plot_axes_and_the_sweep_table_use_the_labels(labelled_sweep: Path) -> None:
    from model import plots

    df = results.load(labelled_sweep)
    fig = plots.agreement_heatmap(df, "axis.protocol.max_rounds", "axis.actors.X.red_lines.floor_a.min")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Deadline (rounds)", "X's floor on A: minimum")
    fig = plots.agreement_by_axis(df, "axis.actors.X.red_lines.floor_a.min")
    assert fig.axes[0].get_xlabel() == "X's floor on A: minimum"


def test_prim_sentences_and_the_report_name_conditions_by_their_labels(labelled_sweep: Path) -> None:
    from model import htmlreport

    col = "axis.actors.X.red_lines.floor_a.min"
    names = {col: "X's floor on A: minimum"}
    assert discovery.condition(col, (0.5, None), labels=names) == "X's floor on A: minimum ≥ 0.5"
    assert discovery.condition(col, (0.5, None)) == "actors.X.red_lines.floor_a.min ≥ 0.5"
    page = htmlreport.build_report(labelled_sweep)
    assert "X&#x27;s floor on A: minimum" in page or "X's floor on A: minimum" in page
    assert "Deadline (rounds)" in page


def test_a_scenario_file_with_ids_round_trips_through_yaml(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(_named_small(), sort_keys=False))
    sc = scn.load(f)
    assert [(rl.id, rl.label) for rl in sc.spec.actors[0].red_lines] == [("floor_a", "X's floor on A"),
                                                                         ("cap_b", "X's cap on B")]
