"""A sweep's results as one self-contained HTML file, for readers who will not run the tool.

``bargain report RESULTS_DIR`` writes ``RESULTS_DIR/report.html``: the experiment (question,
base scenario, design, axes), the agreement rates, the main plots (embedded as PNG), the
sensitivity indices where the design allows them (``sobol`` or ``morris``), the conditions under
which agreement happens (scenario discovery, when ``model.discovery`` is available) and the
record of the run (hashes, versions, git revision, counts and failures). No external resources:
styles are in the page, images are ``data:`` URIs, there is no script.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

import model
from model.fileio import write_text
from model.labels import column_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["build_report", "write_report"]

#: Axes with at most this many distinct values are shown value by value; more are binned.
FEW = 12
#: At most this many "agreement rate by axis" plots (the first axes of the experiment).
MAX_AXIS_PLOTS = 20

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1b1b1b; background: #fff; margin: 0; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 1.5rem 3rem; }
h1 { font-size: 1.7rem; margin: 0.2rem 0 0.3rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.2rem; border-bottom: 2px solid #0072B2; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 0.4rem; }
p.sub { color: #555; margin-top: 0; }
.description { white-space: pre-wrap; background: #f4f7fa; border-left: 4px solid #0072B2;
               padding: 0.6rem 0.9rem; margin: 0.8rem 0; }
.warning { background: #fff4e5; border-left: 4px solid #D55E00; padding: 0.6rem 0.9rem; margin: 0.8rem 0; }
.note { color: #555; font-size: 0.92rem; }
.glance { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; padding: 0; list-style: none; }
.glance li { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.5rem 0.9rem; min-width: 8rem; }
.glance b { display: block; font-size: 1.3rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f7fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em;
              overflow-wrap: anywhere; }
figure { margin: 1rem 0 1.6rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e8eb; }
figcaption { color: #555; font-size: 0.9rem; }
ul.boxes li { margin-bottom: 0.4rem; }
footer { margin-top: 3rem; color: #777; font-size: 0.85rem; }
"""


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "-"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _table(header: Iterable[str] | None, rows: Iterable[Iterable[Any]], numeric: Iterable[int] = (),
           cls: str | None = None) -> str:
    """An HTML table (no header row if ``header`` is None); cells are escaped (pass pre-built
    markup as ``_Raw``)."""
    num = set(numeric)
    out = [f'<table class="{_e(cls)}">' if cls else "<table>"]
    if header is not None:
        out += ["<thead><tr>", *(f"<th>{_e(h)}</th>" for h in header), "</tr></thead>"]
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>")
        for k, c in enumerate(r):
            attr = ' class="num"' if k in num else ""
            cell = c.html if isinstance(c, _Raw) else _e(c)
            out.append(f"<td{attr}>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class _Raw:
    """Markup that is already escaped."""

    def __init__(self, html_text: str) -> None:
        self.html = html_text


def _kv(rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of names and values (values escaped, or ``_Raw``)."""
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{v.html if isinstance(v, _Raw) else _e(_fmt(v))}</td></tr>"
                    for k, v in rows)
    return f'<table class="kv"><tbody>{cells}</tbody></table>'


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_html(fig: Figure, alt: str, caption: str | None = None) -> str:
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{_png(fig)}" alt="{_e(alt)}">{cap}</figure>'


# --------------------------------------------------------------------------------------------
# sections


def _axis_rows(spec: dict[str, Any], labels: dict[str, str] | None = None) -> list[list[Any]]:
    """One row per axis: its label, path, kind (a lever or an uncertainty where the experiment
    splits them) and values."""
    rows: list[list[Any]] = []
    role = {str(a.get("path")): "lever" for a in spec.get("levers") or []}
    role.update({str(a.get("path")): "uncertainty" for a in spec.get("uncertainties") or []})
    for ax in spec.get("axes", []):
        if ax.get("values") is not None:
            vals = ", ".join(_fmt(v) for v in ax["values"])
            what = f"values ({len(ax['values'])})"
        else:
            lo, hi = ax.get("range") or (None, None)
            vals = f"{_fmt(lo)} to {_fmt(hi)}"
            extra = []
            if ax.get("steps"):
                extra.append(f"{ax['steps']} steps")
            if ax.get("integer"):
                extra.append("whole numbers")
            what = "range" + (f" ({', '.join(extra)})" if extra else "")
        path = str(ax.get("path"))
        name = ax.get("label") or (labels or {}).get(f"axis.{path}") or path
        if path in role:
            what = f"{role[path]}: {what}"
        rows.append([name, _Raw(f"<code>{_e(path)}</code>"), what, vals])
    return rows


def _design_text(mf: dict[str, Any], spec: dict[str, Any]) -> str:
    d = spec.get("design", {}) or {}
    kind = d.get("kind", mf.get("design"))
    n = mf.get("n_points")
    if kind == "grid":
        return f"full grid (every combination of the axes' values): {n} points"
    if kind == "lhs":
        return f"Latin hypercube, {d.get('samples')} samples: {n} points"
    if kind == "sobol":
        so = "with" if d.get("second_order") else "without"
        return (f"Sobol / Saltelli scheme, {d.get('samples')} base samples, {so} second-order indices: "
                f"{n} points")
    if kind == "morris":
        return f"Morris screening, {d.get('samples')} trajectories on {d.get('levels', 4)} levels: {n} points"
    if kind == "list":
        return f"an explicit list of {n} points"
    return f"{kind}: {n} points"


def _experiment_section(mf: dict[str, Any], spec: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    parts = ["<h2>The experiment</h2>"]
    desc = spec.get("description")
    if desc:
        parts.append(f'<div class="description">{_e(str(desc).strip())}</div>')
    parts.append(_kv([
        ("Experiment", _Raw(f"<b>{_e(mf.get('experiment'))}</b> (<code>{_e(mf.get('experiment_file'))}</code>)")),
        ("Base scenario", _Raw(f"{_e(mf.get('scenario'))} (<code>{_e(mf.get('scenario_file'))}</code>)")),
        ("Design", _design_text(mf, spec)),
        ("Replicates per point", mf.get("replicates")),
        ("Runs", mf.get("n_runs")),
        ("Master seed", _Raw(f"<code>{_e(mf.get('seed'))}</code> (run k uses child k of "
                             "<code>numpy.random.SeedSequence(seed)</code>)")),
    ]))
    parts.append("<h3>Conditions varied (axes)</h3>")
    parts.append(_table(["condition", "path into the scenario", "kind", "values"], _axis_rows(spec, labels)))
    return "".join(parts)


def _bins(s: pd.Series, n: int = 5) -> tuple[pd.Series, dict[float, str]]:
    """A sampled numeric axis as ``n`` equal-width bins: each value's bin (as its left edge, so
    that bins sort in order) and the bins' labels (``lo to hi``)."""
    cut = pd.cut(s, n)
    labels = {float(iv.left): f"{max(iv.left, s.min()):.3g} to {iv.right:.3g}" for iv in cut.cat.categories}
    return cut.map(lambda iv: iv.left).astype(float), labels


def _few(df: pd.DataFrame, mf: dict[str, Any], col: str) -> bool:
    """Whether an axis takes few values by design (so it is shown value by value, not in bins):
    a grid, list or Morris design (a few levels), a ``values`` axis, or an integer range of few
    whole numbers; a range sampled by a Latin hypercube or a Sobol design is not, whatever the
    number of distinct values a small sample happens to give it."""
    if df[col].nunique() > FEW:
        return False
    if mf.get("design") in ("grid", "list", "morris"):
        return True
    spec = {a.get("path"): a for a in (mf.get("experiment_spec") or {}).get("axes", [])}
    ax = spec.get(col.removeprefix("axis."), {})
    if ax.get("values") is not None:
        return True
    lo, hi = ax.get("range") or (0, FEW + 1)
    return bool(ax.get("integer")) and hi - lo + 1 <= FEW


def _rates_section(df: pd.DataFrame, mf: dict[str, Any], axes: list[str]) -> str:
    from model.results import agreement_rates

    parts = ["<h3>Agreement rate by condition</h3>"]
    varying = [a for a in axes if df[a].nunique() > 1] or axes[:1]
    by = varying[:2] if len(varying) >= 2 and all(_few(df, mf, a) for a in varying[:2]) else varying[:1]
    data = df
    labels: dict[float, str] | None = None
    if not _few(df, mf, by[0]) and pd.api.types.is_numeric_dtype(df[by[0]].dtype) and df[by[0]].nunique() > 5:
        binned, labels = _bins(df[by[0]])
        data = df.assign(**{by[0]: binned})
    rates = agreement_rates(data, by)
    rows = []
    for r in rates.itertuples(index=False):
        vals = list(r)
        rate = vals[len(by)]
        keys = [labels.get(float(v), _fmt(v)) if labels is not None and k == 0 else _fmt(v)
                for k, v in enumerate(vals[: len(by)])]
        rows.append([*keys, "-" if pd.isna(rate) else f"{rate:.0%}", vals[len(by) + 1], vals[len(by) + 2]])
    header = [column_label(df, a) for a in by] + ["agreement", "runs finished", "runs failed"]
    nums = range(len(by), len(by) + 3)
    parts.append(_table(header, rows, numeric=nums, cls="rates"))
    note = "Agreement rate over the runs that finished (failed runs are counted apart)."
    if labels is not None:
        note += f" {column_label(df, by[0])} was sampled, so it is shown in 5 equal-width bins."
    parts.append(f'<p class="note">{_e(note)}</p>')
    return "".join(parts)


def _plots_section(df: pd.DataFrame, mf: dict[str, Any], axes: list[str], name: str) -> str:
    from model import plots

    parts: list[str] = []
    varying = [a for a in axes if df[a].nunique() > 1]
    few = [a for a in varying if _few(df, mf, a)]
    if len(few) >= 2:  # a third axis with few values: a panel each, not averaged over
        facet = few[2] if len(few) >= 3 and df[few[2]].nunique() <= 6 else None
        pooled = [a for a in varying if a not in (few[0], few[1], facet)]
        fig = plots.agreement_heatmap(df, few[1], few[0], f"{name}: agreement rate", facet, pooled)
        x, y = column_label(df, few[1]), column_label(df, few[0])
        by = f", one panel per value of {column_label(df, facet)}" if facet else ""
        rest = f"; pooled over {', '.join(column_label(df, a) for a in pooled)}" if pooled else ""
        parts.append(_figure_html(fig, f"agreement rate over {x} and {y}",
                                  f"Agreement rate over {x} and {y}{by}, with the number of finished runs per "
                                  f"cell{rest}."))
    for a in varying[:MAX_AXIS_PLOTS]:
        label = column_label(df, a)
        fig = plots.agreement_by_axis(df, a, f"{name}: agreement rate", pooled=[o for o in varying if o != a])
        parts.append(_figure_html(fig, f"agreement rate by {label}",
                                  f"Agreement rate by {label} (all other conditions pooled), with a 95% interval."))
    if len(varying) > MAX_AXIS_PLOTS:
        parts.append(f'<p class="note">Plots for the first {MAX_AXIS_PLOTS} of {len(varying)} axes only.</p>')
    fig = plots.utility_at_agreement(df, name)
    parts.append(_figure_html(fig, "utility at agreement", "Each actor's utility in the runs that agreed."))
    fig = plots.rounds_to_agreement(df, name)
    parts.append(_figure_html(fig, "rounds to agreement", "The round in which runs agreed; why the others did not."))
    return "".join(parts)


def _spec_samples(mf: dict[str, Any]) -> Any:
    return ((mf.get("experiment_spec") or {}).get("design") or {}).get("samples", "these")


def _sensitivity_section(df: pd.DataFrame, mf: dict[str, Any]) -> str:
    from model import sensitivity

    design = mf.get("design")
    if design not in ("sobol", "morris"):
        return ""
    parts = ["<h2>Sensitivity of agreement</h2>"]
    try:
        if design == "sobol":
            table = sensitivity.sobol_indices(df, mf, "agreed")
        else:
            table = sensitivity.morris_indices(df, mf, "agreed")
    except ValueError as e:
        parts.append(f'<p class="warning">No sensitivity indices: {_e(e)}</p>')
        return "".join(parts)
    fig = sensitivity.sensitivity_plot(table, f"{mf.get('experiment')}: sensitivity of agreement")
    if design == "sobol":
        parts.append('<p class="note">Sobol indices of the agreement rate (per point, over its replicates): '
                     "S1 is the share of its variance due to a condition alone, ST the share including that "
                     "condition's interactions with the others. Intervals are 95% bootstrap intervals.</p>")
        t = table.sort_values("ST", ascending=False)
        rows = [[_Raw(f"<code>{_e(ax)}</code>"), f"{r.S1:.3f}", f"± {r.S1_conf:.3f}", f"{r.ST:.3f}",
                 f"± {r.ST_conf:.3f}"] for ax, r in zip(t.index, t.itertuples(index=False), strict=True)]
        parts.append(_table(["condition", "S1", "95% interval", "ST", "95% interval"], rows, numeric=range(1, 5),
                            cls="sensitivity"))
        wide = float(table[["S1_conf", "ST_conf"]].max().max())
        if wide > 0.15:
            parts.append(f'<p class="warning">The intervals are wide (up to ± {wide:.2f}): with '
                         f"{_e(_spec_samples(mf))} base samples these indices are rough; rerun with more samples "
                         "before drawing conclusions from them.</p>")
        s2 = table.attrs.get("S2")
        if s2:
            top = sorted(s2.items(), key=lambda kv: -abs(kv[1]))[:10]
            conf = table.attrs.get("S2_conf", {})
            rows = [[_Raw(f"<code>{_e(a)}</code> &amp; <code>{_e(b)}</code>"), f"{v:.3f}",
                     f"± {conf.get((a, b), float('nan')):.3f}"] for (a, b), v in top]
            parts.append("<h3>Second-order indices (largest)</h3>")
            parts.append(_table(["pair of conditions", "S2", "95% interval"], rows, numeric=(1, 2)))
    else:
        parts.append('<p class="note">Morris screening of the agreement rate, from one-at-a-time steps: mu* is '
                     "the mean absolute change in the agreement rate per whole range of a condition; sigma, the "
                     "spread of those changes, is large where the condition interacts with others or acts "
                     "nonlinearly; mu keeps the sign (negative: more of the condition, less agreement).</p>")
        t = table.sort_values("mu_star", ascending=False)
        rows = [[_Raw(f"<code>{_e(ax)}</code>"), f"{r.mu_star:.3f}", f"± {r.mu_star_conf:.3f}", f"{r.sigma:.3f}",
                 f"{r.mu:.3f}"] for ax, r in zip(t.index, t.itertuples(index=False), strict=True)]
        parts.append(_table(["condition", "mu*", "95% interval", "sigma", "mu (signed)"], rows,
                            numeric=range(1, 5), cls="sensitivity"))
        wide = float((table["mu_star_conf"] / table["mu_star"].max()).max()) if table["mu_star"].max() > 0 else 0.0
        if wide > 0.25:
            parts.append(f'<p class="warning">The intervals are wide compared with the effects: with '
                         f"{_e(_spec_samples(mf))} trajectories this ranking is rough; rerun with more trajectories "
                         "before drawing conclusions from it.</p>")
        lost = table.attrs.get("steps_without_change", 0)
        if lost:
            parts.append(f'<p class="note">{lost} design steps left their condition unchanged (a values axis '
                         "with fewer values than levels, or whole numbers rounding together); they count as no "
                         "effect.</p>")
    parts.append(_figure_html(fig, "sensitivity bar plot", "Sensitivity of agreement to each condition."))
    return "".join(parts)


def _discovery_section(df: pd.DataFrame) -> str:
    """Scenario discovery boxes as sentences, if ``model.discovery`` is there with the expected API."""
    import importlib

    try:
        discovery = importlib.import_module("model.discovery")
    except ImportError:
        return ""
    discover = getattr(discovery, "discover", None)
    describe = getattr(discovery, "describe", None)
    if not callable(discover) or not callable(describe):
        return ""
    parts = ["<h2>When does agreement happen? (scenario discovery)</h2>"]
    try:
        boxes = discover(df, outcome="agreed")
        sentences = [str(describe(b, "agreement", df.attrs.get("labels"))) for b in boxes]
    except Exception as e:  # noqa: BLE001 - another module's API: the report goes on without this section
        warnings.warn(f"scenario discovery left out of the report: {type(e).__name__}: {e}", stacklevel=2)
        return ""
    if not sentences:
        parts.append('<p class="note">No region of the conditions stands out.</p>')
        return "".join(parts)
    parts.append('<p class="note">Regions of the conditions where agreement is much more common than overall '
                 "(PRIM boxes): how often the runs inside agreed, and what share of all agreements they hold.</p>")
    parts.append('<ul class="boxes">' + "".join(f"<li>{_e(s)}</li>" for s in sentences) + "</ul>")
    return "".join(parts)


def _record_section(df: pd.DataFrame, mf: dict[str, Any]) -> str:
    parts = ["<h2>Record of the run</h2>"]
    failed = df["error"].notna()
    rows: list[tuple[str, Any]] = [
        ("Status", mf.get("status")),
        ("Runs on disk", f"{len(df)} of {mf.get('n_runs')}"),
        ("Failed runs", int(failed.sum())),
        ("Experiment SHA-256", _Raw(f'<span class="mono">{_e(mf.get("experiment_sha256"))}</span>')),
        ("Scenario SHA-256", _Raw(f'<span class="mono">{_e(mf.get("scenario_sha256"))}</span>')),
        ("Git revision", _Raw(f'<span class="mono">{_e(mf.get("git_revision") or "unknown")}</span>')),
        ("Started / last updated", f"{_fmt(mf.get('started'))} / {_fmt(mf.get('updated'))}"),
        ("Chunks", f"{_fmt(mf.get('n_chunks'))} chunks of up to {_fmt(mf.get('chunk_size'))} runs"),
    ]
    if "seconds_this_session" in mf:
        rows.append(("Last session", f"{mf.get('seconds_this_session')} s, {mf.get('runs_skipped_as_done', 0)} runs "
                                     f"already on disk, {mf.get('worker_restarts', 0)} worker restarts"))
    machine = mf.get("machine") or {}
    if machine:
        rows.append(("Machine", f"{machine.get('platform')}, {machine.get('cpus')} CPUs"))
    parts.append(_kv(rows))
    versions = mf.get("versions") or {}
    if versions:
        parts.append("<h3>Versions</h3>")
        parts.append(_table(["package", "version"], sorted(versions.items(), key=lambda kv: kv[0].lower())))
    if failed.any():
        parts.append("<h3>Failures</h3>")
        counts = df.loc[failed, "error"].astype(str).value_counts()
        rows2 = [[n, msg] for msg, n in counts.head(10).items()]
        parts.append(_table(["runs", "error"], rows2, numeric=(0,)))
        if len(counts) > 10:
            parts.append(f'<p class="note">and {len(counts) - 10} other messages.</p>')
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# the report


def _load(results_dir: Path, allow_incomplete: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    from model import results

    if not results_dir.is_dir():
        raise ValueError(f"{results_dir}: no such folder")
    try:
        mf = results.manifest(results_dir)
    except (OSError, ValueError):
        raise ValueError(f"{results_dir}: no readable manifest.json: is this a sweep's results folder?") from None
    if not isinstance(mf, dict) or "axes" not in mf:
        raise ValueError(f"{results_dir}: manifest.json is not a sweep's manifest")
    df = results.load(results_dir)
    status = mf.get("status", "unknown")
    if df.empty:
        raise ValueError(f"{results_dir} holds no finished runs yet (status {status}): run the sweep first")
    n_runs = mf.get("n_runs")
    if not allow_incomplete and (status != "complete" or (n_runs is not None and len(df) < int(n_runs))):
        raise ValueError(f"{results_dir}: the sweep is incomplete ({len(df)} of {n_runs} runs on disk, status "
                         f"{status}): run the same sweep command again to finish it (or report it as partial)")
    return df, mf


#: Above this many issues the report's issue table starts folded.
MAX_OPEN_ISSUES = 8


def _scenario_as_run(results_dir: Path, mf: dict[str, Any]) -> dict[str, Any] | None:
    """The scenario the sweep ran, as data: from the resolved experiment the sweep stored beside
    its results (``None`` when there is none or it is unreadable: an older results folder)."""
    name = mf.get("resolved")
    if not isinstance(name, str):
        return None
    try:
        data = json.loads((results_dir / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    sc = data.get("scenario") if isinstance(data, dict) else None
    return sc if isinstance(sc, dict) else None


def _modelled_section(sc: dict[str, Any] | None) -> str:
    """What was modelled, for a reader who never opens the scenario file: its title and description,
    the actors (by name, and whether an agreement needs their consent), the issues (by label, with
    their levels) and the protocol with its settings."""
    if sc is None:
        return '<p class="note">The scenario as run is not stored with these results.</p>'
    parts = [f'<p class="sub"><b>{_e(sc.get("title") or sc.get("name"))}</b></p>']
    if sc.get("description"):
        parts.append(f"<p>{_e(str(sc['description']).strip())}</p>")
    actors = [a for a in sc.get("actors") or [] if isinstance(a, dict)]
    rows = [[a.get("name") or a.get("id"), a.get("id"), "yes" if a.get("consent", True) else "no (outside party)",
             (a.get("strategy") or {}).get("name", "")] for a in actors]
    parts.append(f"<h3>Actors ({len(actors)})</h3>"
                 + _table(["actor", "id", "its consent needed", "strategy"], rows))
    issues = [i for i in sc.get("issues") or [] if isinstance(i, dict)]
    rows = [[i.get("label") or i.get("id"), i.get("id"),
             ", ".join(str(lv.get("name")).replace("_", " ") for lv in i.get("levels") or [] if isinstance(lv, dict))
             or "continuous, 0 to 1", _fmt(i.get("status_quo")).replace("_", " ")] for i in issues]
    table = _table(["issue", "id", "levels (low to high)", "status quo"], rows)
    if len(issues) > MAX_OPEN_ISSUES:  # a long list folds away: the results stay near the top
        table = f"<details><summary>show the {len(issues)} issues</summary>{table}</details>"
    parts.append(f"<h3>Issues ({len(issues)})</h3>" + table)
    proto = sc.get("protocol") or {}
    settings = ", ".join(f"{k} {_fmt(v)}" for k, v in proto.items() if k != "kind" and not isinstance(v, dict | list))
    parts.append(f"<h3>Protocol</h3><p>{_e(proto.get('kind', 'package'))}"
                 f"{': ' + _e(settings) if settings else ''}</p>")
    return "<section><h2>What was modelled</h2>" + "".join(parts) + "</section>"


def build_report(results_dir: str | Path, *, allow_incomplete: bool = False) -> str:
    """The HTML report of a sweep's results folder, as one self-contained page.

    Raises:
        ValueError: (one line) the folder is not a sweep's results, holds no finished runs, or the
            sweep is incomplete (unless ``allow_incomplete``: then the page says it is partial).
    """
    d = Path(results_dir)
    df, mf = _load(d, allow_incomplete)
    spec = mf.get("experiment_spec") or {}
    name = str(mf.get("experiment", d.name))
    axes = [f"axis.{p}" for p in mf["axes"] if f"axis.{p}" in df.columns]
    if not axes:
        raise ValueError(f"{d}: the results have none of the manifest's axis columns")
    ok = df["error"].isna()
    finished = int(ok.sum())
    agreed = int(df.loc[ok, "agreed"].fillna(False).astype(bool).sum())
    failed = len(df) - finished
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    body: list[str] = []
    body.append(f"<header><h1>{_e(name)}</h1>")
    sc = _scenario_as_run(d, mf)
    what = f"{sc.get('title') or sc.get('name')}" if sc else mf.get("scenario")
    body.append(f'<p class="sub">Sweep report: scenario {_e(what)}, '
                f"{_e(_design_text(mf, spec))}, {_e(mf.get('replicates'))} replicate(s) each.</p></header>")
    n_runs = mf.get("n_runs")
    if mf.get("status") != "complete" or (n_runs is not None and len(df) < int(n_runs)):
        body.append(f'<p class="warning">Partial results: {len(df)} of {_e(n_runs)} runs are on disk '
                    f"(status {_e(mf.get('status'))}). Every number below covers those runs only.</p>")
    rate = f"{agreed / finished:.0%}" if finished else "-"
    glance = [("runs", len(df)), ("points", mf.get("n_points")), ("agreement", rate), ("failed runs", failed)]
    body.append('<ul class="glance">' + "".join(f"<li><b>{_e(v)}</b>{_e(k)}</li>" for k, v in glance) + "</ul>")
    body.append(_modelled_section(sc))
    body.append(_experiment_section(mf, spec, df.attrs.get("labels")))

    body.append("<h2>Results</h2>")
    if finished:
        body.append(_rates_section(df, mf, axes))
        body.append(_plots_section(df, mf, axes, name))
    else:
        body.append('<p class="warning">Every run failed: see the failures below.</p>')
    if finished:
        body.append(_sensitivity_section(df, mf))
        body.append(_discovery_section(df))
    body.append(_record_section(df, mf))
    body.append(f"<footer>Written by grand-bargain {_e(model.__version__)} on {_e(now)} from "
                f"<code>{_e(d)}</code>. The experiment as run:"
                f"<details><summary>experiment spec (JSON)</summary><pre>"
                f"{_e(json.dumps(spec, indent=2, ensure_ascii=False))}</pre></details></footer>")

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(name)}: sweep report</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def write_report(results_dir: str | Path, path: str | Path | None = None, *, allow_incomplete: bool = False) -> Path:
    """Write the report (default ``RESULTS_DIR/report.html``) atomically; return its path."""
    text = build_report(results_dir, allow_incomplete=allow_incomplete)
    target = Path(path) if path is not None else Path(results_dir) / "report.html"
    write_text(target, text)  # synced, renamed into place, with the umask's mode
    return target
