"""``bargain export`` (a sweep's results as CSV or an Excel workbook) and ``bargain rerun`` (one run
of a finished sweep again, from the experiment and scenario stored in its results folder).

Entry points, registered in ``model.cli``; they do not import it (nothing imports the entry point),
so they print with ``click.echo``, user text through ``_shown``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from model.errors import whole_input_error


def _shown(text: object) -> str:
    """``text`` with characters that are not printable (but tab and newline) shown as escapes."""
    return "".join(c if c.isprintable() or c in "\t\n" else repr(c)[1:-1] for c in str(text))


def _sweep_manifest(results_dir: Path) -> None:
    """One line, if ``results_dir`` is not a sweep's results folder."""
    from model import results

    try:
        results.manifest(results_dir)
    except (OSError, ValueError):
        raise whole_input_error(str(results_dir), "no readable sweep manifest.json: is this a sweep's results "
                                "folder?") from None


@click.command()
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--csv", "as_csv", is_flag=True, help="runs.csv, series.csv (with --series sweeps), manifest.csv.")
@click.option("--xlsx", "as_xlsx", is_flag=True, help="results.xlsx, one sheet per table (the export extra).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write into [default: RESULTS_DIR/export].")
def export(results_dir: Path, as_csv: bool, as_xlsx: bool, out_dir: Path | None) -> None:
    """Write a sweep's results for spreadsheets: CSV files (the default) and/or an Excel workbook."""
    from model import results

    _sweep_manifest(results_dir)
    formats = tuple(f for f, on in (("csv", as_csv), ("xlsx", as_xlsx)) if on) or ("csv",)
    try:
        written = results.export(results_dir, out_dir, formats)
    except (results.ExportError, results.DamagedResults, FileNotFoundError) as e:
        raise whole_input_error(str(results_dir), str(e)) from None
    for w in written:
        click.echo(f"wrote {_shown(w)}")


@click.command()
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("run_id", type=click.IntRange(min=0))
def rerun(results_dir: Path, run_id: int) -> None:
    """Run RUN_ID of a finished sweep again and print its row as JSON (from any folder: the
    experiment and scenario come from RESULTS_DIR/experiment.resolved.json), and whether it equals
    the stored row."""
    from model import results
    from model.sweep import rerun as rerun_one

    _sweep_manifest(results_dir)
    again = rerun_one(results_dir, run_id)
    stored = results.load(results_dir)
    row = stored[stored["run_id"] == run_id]
    click.echo(json.dumps(again, indent=2, default=str))
    if row.empty:
        click.echo(f"run {run_id} is not on disk yet: nothing to compare with", err=True)
        return
    old = row.iloc[0]
    differ = [k for k, v in again.items() if not _same(v, old[k])]
    if differ:
        raise whole_input_error(str(results_dir), f"run {run_id} gives other values than its stored row "
                                f"({', '.join(differ[:5])}): the code has changed since the sweep (see the manifest's "
                                "git and versions)")
    click.echo(f"run {run_id}: the same as its stored row", err=True)


def _same(a: object, b: object) -> bool:
    import pandas as pd

    if (a is None or a != a) and (b is None or b is pd.NA or b != b):  # missing on both sides
        return True
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-12 * max(1.0, abs(a))
    return bool(a == b)
