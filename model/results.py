"""Sweep results back as a pandas DataFrame: one call, for notebooks and for the plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from model.sweep import PART_GLOB


class DamagedResults(ValueError):
    """A result part on disk cannot be read (damaged after it was written)."""


def load(results_dir: str | Path) -> pd.DataFrame:
    """All rows of a sweep, one per run, ordered by ``run_id``.

    Only finished parts are read (a part is renamed into place once fully written), so a
    sweep that is still running or was interrupted loads what it has finished.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = Path(results_dir)
    parts = sorted(d.glob(PART_GLOB))
    if not parts:
        if not (d / "manifest.json").exists():
            raise FileNotFoundError(f"{d} holds no sweep results (no manifest.json)")
        return pd.DataFrame()
    tables = []
    for p in parts:
        try:
            tables.append(pq.read_table(p))
        except (pa.ArrowInvalid, OSError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DamagedResults(f"{p}: not a readable Parquet part ({first}); re-run the sweep "
                                 "into this folder to redo its runs") from None
    table = pa.concat_tables(tables)
    df = table.to_pandas()
    df["agreed"] = df["agreed"].astype("boolean")  # missing where a run failed
    df["rounds"] = df["rounds"].astype("Int64")
    return df.sort_values("run_id", kind="stable").reset_index(drop=True)


def manifest(results_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(results_dir) / "manifest.json").read_text())


def axis_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("axis.")]


def agreement_rates(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """For each combination of the ``by`` columns: the agreement rate over the runs that
    finished, their number, and the number of runs that failed."""
    ok = df["error"].isna()
    agreed = df["agreed"].map({True: 1.0, False: 0.0}).astype("float64").where(ok)
    frame = df[by].assign(_agreed=agreed, _ok=ok.astype(int), _failed=(~ok).astype(int))
    g = frame.groupby(by, dropna=False, sort=True)
    out = g.agg(rate=("_agreed", "mean"), runs=("_ok", "sum"), failures=("_failed", "sum")).reset_index()
    return out
