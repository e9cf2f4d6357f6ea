"""Sweep results back as a pandas DataFrame: one call, for notebooks and for the plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from model.sweep import PART_GLOB, SERIES_DIR, part_fault, part_records


class DamagedResults(ValueError):
    """A results folder's content is not what the sweep wrote (a part damaged, replaced or foreign,
    or a manifest that does not describe the parts). The message is one line naming the file."""


def _redo(d: Path, mf: dict[str, Any] | None) -> str:
    exp = (mf or {}).get("experiment_file") or "EXPERIMENT.yaml"
    return f"run `bargain sweep {exp} --out {d}` again to redo its runs"


def load(results_dir: str | Path, labels: bool = False) -> pd.DataFrame:
    """All rows of a sweep, one per run, ordered by ``run_id`` (``_rows``), with their labels.

    Columns are paths (``axis.<path>``, ``value.<issue>``, ...); ``df.attrs["labels"]`` maps each
    to its label (``model.labels``: the experiment's ``label:`` of an axis, the scenario's labels
    of issues and red lines). With ``labels=True`` the columns are the labels instead, and
    ``df.attrs["paths"]`` maps each label back to its column.

    Raises:
        DamagedResults: see ``_rows``.
    """
    df = _rows(results_dir)
    names = column_labels_of(results_dir, [str(c) for c in df.columns])
    if labels:
        df = df.rename(columns=names)
        df.attrs["paths"] = {lab: col for col, lab in names.items()}
    df.attrs["labels"] = names
    return df


def _rows(results_dir: str | Path) -> pd.DataFrame:
    """All rows of a sweep, one per run, ordered by ``run_id``.

    Only finished parts are read (a part is renamed into place once fully written), so a
    sweep that is still running or was interrupted loads what it has finished. Every part is
    checked against the sha256 recorded when it was written, and the rows against the manifest.

    Raises:
        DamagedResults: (one line) a part is damaged, replaced by another, foreign or unrecorded,
            the parts disagree, or the manifest names columns the parts lack; the message names
            the file and how to redo it (the same sweep command, which redoes exactly those runs).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = Path(results_dir)
    parts = sorted(d.glob(PART_GLOB))
    mf = _manifest_or_none(d)
    if not parts:
        if not (d / "manifest.json").exists():
            raise FileNotFoundError(f"{d} holds no sweep results (no manifest.json)")
        return pd.DataFrame()
    records = part_records(d, mf)
    tables: list[pa.Table] = []
    for p in parts:
        if records is not None:
            why = part_fault(p, records.get(p.name))
            if why:
                raise DamagedResults(f"{p}: {why}; {_redo(d, mf)}")
        try:
            t = pq.read_table(p)
        except (pa.ArrowInvalid, OSError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DamagedResults(f"{p}: not a readable Parquet part ({first}); {_redo(d, mf)}") from None
        if tables and not t.schema.equals(tables[0].schema):
            raise DamagedResults(f"{p}: its columns differ from those of {parts[0].name} (a foreign part); "
                                 f"{_redo(d, mf)}")
        tables.append(t)
    table = pa.concat_tables(tables)
    df = table.to_pandas()
    dup = df["run_id"][df["run_id"].duplicated()]
    if len(dup):
        run = int(dup.iloc[0])
        holders = [p.name for p, t in zip(parts, tables, strict=True) if run in t.column("run_id").to_pylist()]
        raise DamagedResults(f"{d / holders[-1]}: holds run {run}, which {holders[0]} holds too (a "
                             f"part copied over another); {_redo(d, mf)}")
    if mf is not None:
        missing = [f"axis.{a}" for a in mf.get("axes") or [] if f"axis.{a}" not in df.columns]
        if missing:
            raise DamagedResults(f"{d / 'manifest.json'}: names axes the result parts lack ({', '.join(missing)}): "
                                 "it does not describe this folder's parts")
    df["agreed"] = df["agreed"].astype("boolean")  # missing where a run failed
    df["rounds"] = df["rounds"].astype("Int64")
    if "zone_existed" in df.columns:  # (missing where a run failed, as above)
        df["zone_existed"] = df["zone_existed"].astype("boolean")
        df["misjudged_count"] = df["misjudged_count"].astype("Int64")
    return df.sort_values("run_id", kind="stable").reset_index(drop=True)


def load_series(results_dir: str | Path) -> pd.DataFrame:
    """The sweep's outcomes over time (``bargain sweep --series``): one row per run and round, in
    order of ``run_id`` and ``round``, with the run's ``point_id``, ``replicate`` and ``axis.*``
    columns first, then ``round``, ``proposer``, ``offer.<issue>`` (the offer on the table after
    the round; missing where there was none), ``state.<issue>``, ``utility.<actor>`` (its utility
    of that offer), ``trust.<actor>`` (its lowest trust in a counterpart that delivers to it, on
    the incremental and framework protocols; missing elsewhere) and ``metric.<count>`` (the run's
    counts so far: tranches, deliveries, pauses, ...).

    Every series part is checked against the sha256 recorded when it was written, as ``load``
    checks the main parts; only runs whose main row is on disk are returned.

    Raises:
        FileNotFoundError: the folder holds no series (the sweep ran without ``--series``).
        DamagedResults: (one line) a series part is damaged, replaced, foreign or unrecorded.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = Path(results_dir)
    rows = load(d)
    mf = _manifest_or_none(d)
    parts = sorted((d / SERIES_DIR).glob(PART_GLOB))
    if not parts and not (mf or {}).get("series"):
        raise FileNotFoundError(f"{d} holds no series: run the sweep with --series (bargain sweep EXPERIMENT "
                                f"--series --out {d}) to record outcomes over time")
    records = part_records(d, mf) or {}
    tables = []
    for p in parts:
        why = part_fault(p, records.get(f"{SERIES_DIR}/{p.name}"))
        if why:
            raise DamagedResults(f"{p}: {why}; {_redo(d, mf)}")
        try:
            tables.append(pq.read_table(p))
        except (pa.ArrowInvalid, OSError) as e:
            raise DamagedResults(f"{p}: not a readable Parquet part ({e}); {_redo(d, mf)}") from None
    if not tables or rows.empty:
        return pd.DataFrame()
    series = pa.concat_tables(tables).to_pandas()
    keys = rows[["run_id", "point_id", "replicate", *axis_columns(rows)]]
    out = keys.merge(series, on="run_id", how="inner", validate="one_to_many")
    return out.sort_values(["run_id", "round"], kind="stable").reset_index(drop=True)


def _manifest_or_none(d: Path) -> dict[str, Any] | None:
    if not (d / "manifest.json").exists():
        return None
    try:
        return manifest(d)
    except (OSError, ValueError) as e:
        raise DamagedResults(f"{d / 'manifest.json'}: not a readable sweep manifest ({e})") from None


def manifest(results_dir: str | Path) -> dict[str, Any]:
    """A sweep's manifest.

    Raises:
        OSError: it cannot be read. ValueError: it is not JSON, or not a sweep's manifest.
    """
    path = Path(results_dir) / "manifest.json"
    mf = json.loads(path.read_text())
    if not isinstance(mf, dict):
        raise ValueError(f"{path}: a JSON {type(mf).__name__}, not a sweep's manifest (a mapping)")
    if not isinstance(mf.get("axes"), list) or not all(isinstance(a, str) for a in mf["axes"]):
        raise ValueError(f"{path}: names no axes (a list of paths): not a sweep's manifest")
    return mf


def axis_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("axis.")]


def agreement_rates(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """For each combination of the ``by`` columns: the agreement rate over the runs that
    finished (missing where every run failed), their number, and the number of runs that failed."""
    ok = df["error"].isna()
    agreed = df["agreed"].map({True: 1.0, False: 0.0}).astype("float64").where(ok)
    frame = df[by].assign(_agreed=agreed, _ok=ok.astype(int), _failed=(~ok).astype(int))
    g = frame.groupby(by, dropna=False, sort=True)
    out = g.agg(rate=("_agreed", "mean"), runs=("_ok", "sum"), failures=("_failed", "sum")).reset_index()
    return out


def column_labels_of(results_dir: str | Path, columns: list[str]) -> dict[str, str]:
    """The labels of a sweep's columns, from the experiment and scenario stored with its results
    (``experiment.resolved.json``); the paths' own words where it is missing or unreadable.
    Labels that two columns would share get the path added, so each stays a distinct column."""
    from model.labels import column_labels

    stored: dict[str, Any] = {}
    try:
        got = json.loads((Path(results_dir) / "experiment.resolved.json").read_text())
        stored = got if isinstance(got, dict) else {}
    except (OSError, ValueError):
        pass
    spec = stored.get("experiment") if isinstance(stored.get("experiment"), dict) else {}
    axes = [a for a in (spec or {}).get("axes") or [] if isinstance(a, dict)]
    given = {str(a.get("path")): a.get("label") for a in axes}
    scenario = stored.get("scenario") if isinstance(stored.get("scenario"), dict) else None
    names = column_labels(columns, scenario, given)
    seen: dict[str, int] = {}
    for lab in names.values():
        seen[lab] = seen.get(lab, 0) + 1
    return {c: lab if seen[lab] == 1 else f"{lab} [{c}]" for c, lab in names.items()}


#: Excel's most rows in one sheet (with the header row).
EXCEL_MAX_ROWS = 1_048_576
#: What ``export`` writes, by format: the runs, the series (when the sweep recorded them), the manifest.
EXPORT_FILES = {"csv": ("runs.csv", "series.csv", "manifest.csv"), "xlsx": ("results.xlsx",)}


class ExportError(ValueError):
    """An export that cannot be made as asked (one line: what, and what to do instead)."""


def manifest_rows(mf: dict[str, Any]) -> pd.DataFrame:
    """The manifest as ``key``/``value`` rows (nested entries as dotted keys; the per-part records
    and the experiment spec left out: they are in manifest.json and experiment.resolved.json)."""
    import pandas as pd

    rows: list[tuple[str, str]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        else:
            rows.append((prefix, json.dumps(v) if isinstance(v, list) else "" if v is None else str(v)))

    walk("", {k: v for k, v in mf.items() if k not in ("parts", "experiment_spec")})
    return pd.DataFrame(rows, columns=["key", "value"])


def export(results_dir: str | Path, out: str | Path | None = None, formats: tuple[str, ...] = ("csv",)) -> list[Path]:
    """Write a sweep's results for spreadsheets and other tools, and return the files written.

    ``csv``: ``runs.csv`` (``load``: one row per run, the same columns and values), ``series.csv``
    (``load_series``, when the sweep recorded series) and ``manifest.csv`` (``manifest_rows``).
    ``xlsx``: ``results.xlsx`` with the same tables as sheets ``runs``, ``series`` and ``manifest``
    (needs openpyxl: the ``export`` extra). Missing values are empty cells. All files are written
    to temporary files first and renamed into place together (``model.fileio.OutputSet``), into
    ``out`` (default: ``RESULTS_DIR/export``).

    Raises:
        ExportError: an unknown format, xlsx without openpyxl, or a table longer than an Excel sheet.
        DamagedResults, FileNotFoundError: as ``load``.
    """
    from model.fileio import OutputSet

    d = Path(results_dir)
    target = Path(out) if out is not None else d / "export"
    unknown = sorted(set(formats) - set(EXPORT_FILES))
    if unknown:
        raise ExportError(f"unknown export format {unknown[0]!r} (known: {', '.join(EXPORT_FILES)})")
    if "xlsx" in formats:
        try:
            import openpyxl  # noqa: F401
        except ModuleNotFoundError:
            raise ExportError("--xlsx needs openpyxl: pip install -c constraints.txt 'grand-bargain[export]' "
                              "(or use --csv)") from None
    mf = manifest(d)
    tables = {"runs": load(d), "manifest": manifest_rows(mf)}
    if mf.get("series") or (d / SERIES_DIR).is_dir():
        tables["series"] = load_series(d)
    written = []
    with OutputSet(target) as files:
        if "csv" in formats:
            for name, table in tables.items():
                files.add(f"{name}.csv", _csv_writer(table))
                written.append(target / f"{name}.csv")
        if "xlsx" in formats:
            long = [n for n, t in tables.items() if len(t) >= EXCEL_MAX_ROWS]
            if long:
                raise ExportError(f"the {long[0]} table has {len(tables[long[0]])} rows, more than an Excel sheet "
                                  f"holds ({EXCEL_MAX_ROWS - 1}): use --csv")
            files.add("results.xlsx", _xlsx_writer(tables))
            written.append(target / "results.xlsx")
        files.commit()
    return written


def _csv_writer(table: pd.DataFrame) -> Any:
    def write(tmp: str) -> None:
        table.to_csv(tmp, index=False, lineterminator="\n")

    return write


def _xlsx_writer(tables: dict[str, pd.DataFrame]) -> Any:
    import pandas as pd

    def write(tmp: str) -> None:
        import io

        buf = io.BytesIO()  # (openpyxl refuses a file name without the .xlsx extension, as temporary files have)
        with pd.ExcelWriter(buf, engine="openpyxl") as xl:
            for name, table in tables.items():
                table.to_excel(xl, sheet_name=name, index=False)
        Path(tmp).write_bytes(buf.getvalue())

    return write
