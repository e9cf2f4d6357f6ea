"""``bargain robustness RESULTS_DIR``: rank the policies of a levers-by-uncertainties sweep.

The sweep's experiment (stored with its results) says which axes are ``levers`` and which are
``uncertainties``; ``model.robustness`` ranks every lever setting by its regret and agreement
rate across the ensemble of worlds. Writes ``robustness.md``, ``robustness.csv`` and
``plots/robustness.png`` (and ``.svg`` with ``--svg``) in the results folder, all or none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from model.errors import whole_input_error


def _levers_and_uncertainties(results_dir: Path) -> tuple[list[str], list[str], dict[str, Any]]:
    """The lever and uncertainty paths of the experiment stored with the results, and the experiment."""
    stored_file = results_dir / "experiment.resolved.json"
    try:
        stored = json.loads(stored_file.read_text())
        spec = stored["experiment"]
    except (OSError, ValueError, KeyError, TypeError):
        raise whole_input_error(str(results_dir), "no readable experiment.resolved.json: is this a sweep's "
                                "results folder?") from None
    if not isinstance(spec, dict):
        raise whole_input_error(str(stored_file), "experiment: not a mapping")
    levers = [str(a["path"]) for a in spec.get("levers") or [] if isinstance(a, dict) and "path" in a]
    unc = [str(a["path"]) for a in spec.get("uncertainties") or [] if isinstance(a, dict) and "path" in a]
    if not levers:
        raise whole_input_error(str(stored_file), "experiment: declares no levers (robustness compares lever "
                                "settings across uncertainties: give the experiment levers: and uncertainties:)")
    return levers, unc, spec


def _text_writer(text: str) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    return write


def _table(r: Any, labels: dict[str, str]) -> Any:
    """The ranking for the terminal: one column per lever (headed by its label), then the measures."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="Policies ranked by maximum regret on agreement (then by agreement rate)", title_justify="left")
    t.add_column("rank", justify="right")
    for lever in r.levers:
        t.add_column(escape(labels.get(lever, lever.removeprefix("axis."))))
    for col in ("agreement", "works in", "max regret", "mean regret"):
        t.add_column(col, justify="right")
    for k, row in r.table.iterrows():
        values = [f"{v:g}" if isinstance(v, float) else str(v) for v in (row[c] for c in r.levers)]
        t.add_row(str(k + 1), *map(escape, values), f"{row['agreement_rate']:.0%}", f"{row['satisficing_share']:.0%}",
                  f"{row['max_regret']:.0%}", f"{row['mean_regret']:.0%}")
    return t


@click.command()
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--outcome", default=None,
              help="Also compute regret on this result: utility.<actor> (the reservation utility where no deal), "
                   "nash_product, rounds, or value.<issue> (over the runs that agreed).")
@click.option("--lower-is-better", is_flag=True, help="The outcome is better when lower (e.g. rounds).")
@click.option("--satisfice", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="The share of a world's runs that must agree for a policy to work in that world.")
@click.option("--svg", is_flag=True, help="Also write the plot as SVG.")
def robustness(results_dir: Path, outcome: str | None, lower_is_better: bool, satisfice: float, svg: bool) -> None:
    """Which policy works across the plausible worlds: lever settings ranked by regret and agreement."""
    from rich.console import Console
    from rich.markup import escape

    from model import results
    from model import robustness as rb
    from model.fileio import OutputSet
    from model.report import csv_writer, figure_writer

    out = Console(highlight=False, emoji=False)
    levers, unc, spec = _levers_and_uncertainties(results_dir)
    try:
        df = results.load(results_dir)
    except (OSError, ValueError) as e:
        raise whole_input_error(str(results_dir), str(e)) from None
    if df.empty:
        raise whole_input_error(str(results_dir), "holds no finished runs yet")
    if outcome is not None and outcome not in df.columns:
        known = [c for c in df.columns if c.startswith(("utility.", "value.")) or c in ("nash_product", "rounds")]
        raise whole_input_error("--outcome", f"{outcome!r} is not a result column (e.g. {', '.join(known[:6])})")
    try:
        r = rb.robustness(df, levers, unc, outcome, not lower_is_better, satisfice)
    except ValueError as e:
        raise whole_input_error(str(results_dir), str(e)) from None
    name = str(spec.get("name") or results_dir.name)
    fig = rb.robustness_plot(r, f"{name}: policies across {int(r.table['worlds'].iloc[0])} worlds (best first)")
    written = ["robustness.md", "robustness.csv", "plots/robustness.png", *(["plots/robustness.svg"] if svg else [])]
    with OutputSet(results_dir, owned=("robustness.md", "robustness.csv")) as files:
        files.add("robustness.md", _text_writer(rb.markdown(r, f"{name}: robustness")))
        files.add("robustness.csv", csv_writer(rb.table_rows(r)))
        files.commit()
    with OutputSet(results_dir / "plots") as plots_set:
        for ext in ("png", "svg") if svg else ("png",):
            plots_set.add(f"robustness.{ext}", figure_writer(fig, ext))
        plots_set.commit()
    out.print(_table(r, df.attrs.get("labels") or {}))
    out.print(escape(rb.summary(r)), soft_wrap=True)
    for w in written:
        out.print(f"wrote {escape(str(results_dir / w))}")
