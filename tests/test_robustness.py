"""Levers against uncertainties: the design (every policy in every world, common random numbers), the
ranking by regret on a table with a known answer, the checks, and ``bargain robustness`` end to end."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from model import experiment as exm
from model import results
from model import robustness as rb
from model.cli import main
from model.errors import InputError
from model.sweep import rerun
from tests.factories import small, write_experiment

ROOT = Path(__file__).resolve().parents[1]

# agreed per (policy, world), two replicates each; worlds 1-4
AGREED = {
    "A": [(1, 1), (1, 0), (0, 0), (1, 1)],
    "B": [(1, 0), (1, 1), (1, 0), (1, 0)],
    "C": [(0, 0), (1, 1), (1, 1), (0, 0)],
}
# a second outcome (the same in both replicates)
UTILITY = {"A": [0.6, 0.2, 0.1, 0.7], "B": [0.5, 0.5, 0.5, 0.5], "C": [0.1, 0.6, 0.6, 0.0]}


def _table() -> pd.DataFrame:
    rows = []
    for pol, per_world in AGREED.items():
        for w, reps in enumerate(per_world, 1):
            for a in reps:
                rows.append({"axis.protocol.kind": pol, "axis.u": float(w), "agreed": bool(a),
                             "utility.X": UTILITY[pol][w - 1], "error": None})
    # a failed run: it must count neither as agreement nor as a failure to agree
    rows.append({"axis.protocol.kind": "A", "axis.u": 3.0, "agreed": None, "utility.X": np.nan, "error": "boom"})
    df = pd.DataFrame(rows)
    df["agreed"] = df["agreed"].astype("boolean")
    return df


def test_the_ranking_on_a_table_with_regrets_computed_by_hand() -> None:
    # By hand: the best rate per world is 1 in every world (A in 1 and 4; B and C in 2; C in 3).
    # Regret A = (0, .5, 1, 0), B = (.5, 0, .5, .5), C = (1, 0, 0, 1): max 1, .5, 1; mean .375, .375, .5.
    # Rates: A .625, B .625, C .5. Works (rate >= .5): A 3 of 4 worlds, B 4 of 4, C 2 of 4.
    r = rb.robustness(_table(), ["protocol.kind"], ["u"], outcome="utility.X")
    t = r.table.set_index("axis.protocol.kind")
    assert list(r.table["axis.protocol.kind"]) == ["B", "A", "C"]  # minimax regret, then the rate
    assert t["agreement_rate"].to_dict() == pytest.approx({"A": 0.625, "B": 0.625, "C": 0.5})
    assert t["max_regret"].to_dict() == pytest.approx({"A": 1.0, "B": 0.5, "C": 1.0})
    assert t["mean_regret"].to_dict() == pytest.approx({"A": 0.375, "B": 0.375, "C": 0.5})
    assert t["satisficing_share"].to_dict() == pytest.approx({"A": 0.75, "B": 1.0, "C": 0.5})
    assert t["rank_by_rate"].to_dict() == {"A": 1, "B": 1, "C": 3}
    assert t["rank_by_regret"].to_dict() == {"A": 2, "B": 1, "C": 2}
    assert t["runs"].to_dict() == {"A": 8, "B": 8, "C": 8}  # the failed run left out
    # utility: best per world (.6, .6, .6, .7); regret A (0, .4, .5, 0), B (.1, .1, .1, .2), C (.5, 0, 0, .7)
    assert t["outcome_max_regret"].to_dict() == pytest.approx({"A": 0.5, "B": 0.2, "C": 0.7})
    assert t["outcome_mean_regret"].to_dict() == pytest.approx({"A": 0.225, "B": 0.125, "C": 0.3})
    assert t["outcome_mean"].to_dict() == pytest.approx({"A": 0.4, "B": 0.5, "C": 0.325})


def test_regret_follows_the_outcomes_direction_and_the_satisficing_level() -> None:
    low = rb.robustness(_table(), ["protocol.kind"], ["u"], outcome="utility.X", higher_is_better=False)
    # lower is better: best per world (.1, .2, .1, 0); regret A (.5, 0, 0, .7)
    assert low.table.set_index("axis.protocol.kind").loc["A", "outcome_max_regret"] == pytest.approx(0.7)
    strict = rb.robustness(_table(), ["protocol.kind"], ["u"], satisfice=1.0)
    assert strict.table.set_index("axis.protocol.kind")["satisficing_share"].to_dict() == pytest.approx(
        {"A": 0.5, "B": 0.25, "C": 0.5})


def test_the_summary_and_markdown_name_the_most_robust_policy_in_words() -> None:
    r = rb.robustness(_table(), ["protocol.kind"], ["u"], labels={"axis.protocol.kind": "Sequencing"})
    assert r.table["policy"].iloc[0] == "Sequencing = B"
    text = rb.summary(r)
    assert text.startswith("Most robust across 4 worlds: Sequencing = B (agreement in 62% of runs, works in "
                           "100% of worlds, at worst 50% short of the best policy in a world).")
    md = rb.markdown(r, "t")
    assert "| Sequencing = B | 0.625 | 1 | 0.5 | 0.375 | 4 | 8 |" in md


def test_robustness_refuses_missing_columns_and_no_levers() -> None:
    with pytest.raises(ValueError, match="the results have no column 'axis.nope'"):
        rb.robustness(_table(), ["nope"], ["u"])
    with pytest.raises(ValueError, match="no levers"):
        rb.robustness(_table(), [], ["u"])


# ---------------------------------------------------------------------------- the design

LEVERS = [{"path": "protocol.max_rounds", "label": "Deadline", "values": [2, 20]},
          {"path": "actors.X.strategy.params.exponent", "range": [1.5, 4.5], "steps": 2}]
UNCERTAINTIES = [{"path": "protocol.breakdown_risk", "label": "Breakdown risk", "range": [0.0, 0.1]},
                 {"path": "actors.X.red_lines[0].min", "range": [0.1, 0.4]}]


def _lever_experiment(tmp: Path, **fields: object) -> Path:
    design = fields.pop("design", {"kind": "lhs", "samples": 5})
    return write_experiment(tmp, [], design=design, levers=fields.pop("levers", LEVERS),  # type: ignore[arg-type]
                            uncertainties=fields.pop("uncertainties", UNCERTAINTIES), replicates=2, **fields)


def test_every_policy_meets_the_same_worlds_and_the_same_chance_events(tmp_path: Path) -> None:
    exp = exm.load(_lever_experiment(tmp_path))
    assert exp.axis_paths == [p["path"] for p in LEVERS + UNCERTAINTIES]  # levers first
    assert len(exp.points) == 4 * 5 and exp.n_runs == 40 and exm.design_size(exp.spec) == 20
    policies = [tuple(p[a["path"]] for a in LEVERS) for p in exp.points]
    assert sorted(set(policies)) == sorted(itertools.product([2, 20], [1.5, 4.5]))
    worlds = [[{k: p[k] for k in (u["path"] for u in UNCERTAINTIES)} for p in exp.points[5 * k: 5 * k + 5]]
              for k in range(4)]
    assert all(w == worlds[0] for w in worlds)  # the same five worlds, in the same order, for each policy
    lo = sorted(w["protocol.breakdown_risk"] for w in worlds[0])  # a Latin hypercube: one per stratum
    assert [int(v / 0.1 * 5) for v in lo] == [0, 1, 2, 3, 4]
    seeds = [[exp.seed_of(run) for run in range(10 * k, 10 * k + 10)] for k in range(4)]
    assert all(s == seeds[0] for s in seeds) and len(set(seeds[0])) == 10  # shared by policies, distinct within


def test_an_experiment_without_levers_keeps_one_seed_per_run(tmp_path: Path) -> None:
    exp = exm.load(write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [2, 20]}]))
    assert [exp.seed_of(k) for k in range(6)] == [exm.run_seed(99, k) for k in range(6)]


@pytest.mark.parametrize(("fields", "where", "words"), [
    ({"design": {"kind": "sobol", "samples": 4}}, "design.kind", "levers and uncertainties take an lhs design"),
    ({"design": {"kind": "lhs"}}, "design", "an lhs design needs samples (how many worlds"),
    ({"levers": [{"path": "protocol.max_rounds", "range": [2, 20]}]}, "levers[0]",
     "a lever with a range needs steps"),
    ({"uncertainties": [{"path": "actors.X.red_lines.nope.min", "range": [0.1, 0.4]}]}, "uncertainties[0].path",
     "no entry with id 'nope' in actors[0].red_lines"),
])
def test_a_bad_lever_experiment_is_one_line_naming_the_field(tmp_path: Path, fields: dict, where: str,
                                                              words: str) -> None:
    f = _lever_experiment(tmp_path, **fields)
    with pytest.raises(InputError) as info:
        exm.load(f)
    msg = str(info.value)
    assert "\n" not in msg and f": {where}: " in msg and words in msg, msg


def test_axes_and_levers_together_are_refused(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [3]}], levers=LEVERS)
    with pytest.raises(InputError, match="give either axes or levers and uncertainties, not both"):
        exm.load(f)


def test_robustness_of_a_sweep_without_levers_is_one_line(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, [{"path": "protocol.max_rounds", "values": [2, 3]}], replicates=1)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["robustness", str(out)])
    assert r.exit_code != 0
    assert "experiment: declares no levers" in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_bargain_robustness_ranks_the_short_deadline_first_when_talks_can_collapse(tmp_path: Path) -> None:
    # Theory (deadline effect): time-dependent negotiators concede as the deadline nears, so a short
    # deadline brings agreement early, before the per-round breakdown risk has added up; with no risk
    # both deadlines agree. So the 2-round policy is never worse in any world.
    levers = [{"path": "protocol.max_rounds", "label": "Deadline", "values": [2, 20]}]
    unc = [{"path": "protocol.breakdown_risk", "label": "Breakdown risk", "range": [0.0, 0.15]}]
    f = _lever_experiment(tmp_path, levers=levers, uncertainties=unc, design={"kind": "lhs", "samples": 6},
                          scenario=small(protocol={"max_rounds": 20}))
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", str(f), "--backend", "serial", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["robustness", str(out), "--outcome", "utility.X"])
    assert r.exit_code == 0, r.output
    assert "Most robust across 6 worlds: Deadline = 2" in r.output
    table = pd.read_csv(out / "robustness.csv")
    assert list(table["axis.protocol.max_rounds"]) == [2, 20]
    assert table["max_regret"].iloc[0] == 0.0 and table["agreement_rate"].iloc[0] > table["agreement_rate"].iloc[1]
    assert (out / "robustness.md").read_text().startswith("# t: robustness")
    assert (out / "plots" / "robustness.png").stat().st_size > 0
    # runs in the same world share their seed across policies, and any run repeats alone
    rows = results.load(out)
    assert list(rows["seed"].iloc[:12]) == list(rows["seed"].iloc[12:])
    again = rerun(out, 17)
    assert again["agreed"] == rows.loc[17, "agreed"] and again["rounds"] == rows.loc[17, "rounds"]


def test_the_shipped_robustness_experiment_is_small_and_splits_levers_from_uncertainties() -> None:
    exp = exm.load(ROOT / "experiments" / "which_grand_bargain.yaml")
    assert exp.spec.is_robustness and exp.spec.levers and exp.spec.uncertainties
    assert exp.n_runs <= 400  # about a minute
    assert exp.notes == []


def test_the_robustness_plot_lists_the_policies_best_first() -> None:
    r = rb.robustness(_table(), ["protocol.kind"], ["u"], labels={"axis.protocol.kind": "Sequencing"})
    fig = rb.robustness_plot(r)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["Sequencing = B", "Sequencing = A", "Sequencing = C"]
    assert fig.axes[1].get_xlabel().startswith("regret on agreement")
