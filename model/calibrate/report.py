"""What the calibration writes: the points as rows, the findings, the Markdown report and the
scenario variant with the best point.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import numpy as np

from model import scenario as scn
from model.calibrate.distance import COMPONENTS, caused_pauses, increments, resumption_miss
from model.calibrate.search import Calibration
from model.calibrate.track import MOVE, Track, _bases
from model.core.space import FloatArray
from model.errors import Fault, InputError
from model.experiment import display_path

# --------------------------------------------------------------------------------------------
# what the calibration writes


def points_rows(cal: Calibration) -> list[dict[str, Any]]:
    """One row per point: its values, the mean distance and each component (``points.csv``)."""
    rows = []
    for k, p in enumerate(cal.points):
        row: dict[str, Any] = {"point": k, "scenario_values": k == 0, "best": k == cal.best}
        row.update(p.values)
        row.update({"distance": p.distance, "distance_se": p.se})
        row.update(p.parts)
        row["settled_share"] = float(np.mean([t.settled is not None for t in p.tracks])) if p.tracks else float("nan")
        row["error"] = p.error or ""
        rows.append(row)
    return rows


def _mean(tracks: tuple[Track, ...]) -> FloatArray:
    return np.mean([t.values for t in tracks], axis=0)


def _share(flags: list[bool]) -> str:
    return f"{np.mean(flags):.0%}" if flags else "n/a"


def _verdict(d: float) -> str:
    return "fits" if d <= 0.1 else ("fits partly" if d <= 0.4 else "does not fit")


def _release_step(sc: scn.Scenario, issue: str) -> float:
    """The smallest move the model can make on ``issue`` (the spacing of its value grid)."""
    p = sc.problem.space
    i = p.index(issue)
    grid = np.unique(p.grid[i][p.grid_mask[i]])
    gaps = np.diff(grid)
    return float(gaps[gaps > MOVE].min()) if np.any(gaps > MOVE) else 1.0


def findings(cal: Calibration) -> list[str]:
    """Plain sentences on what fits at the best point and what does not, with the numbers."""
    obs = cal.observed
    spec = obs.spec
    best = cal.points[cal.best]
    scale = spec.releases.scale
    tracks = best.tracks
    out = []
    good = [k for k in COMPONENTS if best.parts[k] <= 0.1]
    partly = [k for k in COMPONENTS if 0.1 < best.parts[k] <= 0.4]
    poor = [k for k in COMPONENTS if best.parts[k] > 0.4]
    if good:
        out.append("Fits (component at most 0.1): " + ", ".join(good) + ".")
    if partly:
        out.append("Fits partly (0.1 to 0.4): " + ", ".join(partly) + ".")
    if poor:
        out.append("Does not fit (above 0.4): " + ", ".join(poor) + ".")
    cum = spec.targets.cumulative
    freed = [float(t.values[cum.month, 0] - obs.status_quo[0]) * scale for t in tracks]
    observed_freed = float(obs.track.values[cum.month, 0] - obs.status_quo[0]) * scale
    out.append(f"Releases: by {obs.month_label(cum.month)} (month {cum.month}) the runs have freed "
               f"{np.mean(freed):,.0f} prisoners on average (from {min(freed):,.0f} to {max(freed):,.0f}); "
               f"observed {observed_freed:,.0f}, target band {cum.low:,}-{cum.high:,}.")
    start = float(obs.status_quo[0])
    n_rel = [int(np.sum(increments(t.values[:, 0], start) > MOVE)) for t in tracks]
    n_obs = int(np.sum(increments(obs.track.values[:, 0], start) > MOVE))
    out.append(f"Release months: {np.mean(n_rel):.1f} of {obs.months} on average (observed {n_obs}).")
    step = _release_step(cal.scenario, spec.releases.issue)
    small = sum(1 for ev in spec.releases.events if ev.count / scale < step - MOVE)
    if small:
        out.append(f"The smallest move the model can make on {spec.releases.issue} is {step:g} of the scale "
                   f"(about {step * scale:,.0f} prisoners); {small} of the {len(spec.releases.events)} observed "
                   "releases are smaller, so the model cannot reproduce them as they were.")
    actor = spec.pause.actor
    paused = [bool(t.paused.any()) for t in tracks]
    caused = [bool(caused_pauses(t, spec.pause.within)) for t in tracks]
    share_by_month = np.mean([t.paused for t in tracks], axis=0)
    often = [obs.month_label(int(m)) for m in np.flatnonzero(share_by_month >= 0.5)]
    obs_pause = ", ".join(obs.month_label(int(m)) for m in np.flatnonzero(obs.track.paused)) or "none"
    out.append(f"Pauses: {actor} pauses at some point in {_share(paused)} of runs, and after a partial delivery "
               f"by {spec.pause.counterpart} in {_share(caused)}; paused in at least half the runs: "
               f"{', '.join(often) if often else 'no month'} (observed: {obs_pause}).")
    resumed = [resumption_miss(t, increments(t.values[:, 0], start), spec.pause.within) == 0.0 for t in tracks]
    out.append(f"Resumption with a larger tranche after the pause: {_share(resumed)} of runs.")
    settled = [t.settled for t in tracks if t.settled is not None]
    if settled:
        out.append(f"Settlement: {len(settled)} of {len(tracks)} runs settle within the window (median month "
                   f"{int(np.median(settled))}, {obs.month_label(int(np.median(settled)))}); none was observed.")
    else:
        out.append("Settlement: no run settles within the window, as observed.")
    gaps = np.sqrt(np.mean((_mean(tracks) - obs.track.values) ** 2, axis=0))
    worst = np.argsort(-gaps)[:3]
    out.append("Issues furthest from their observed path (root-mean-square gap of the mean run): "
               + ", ".join(f"{obs.issues[i]} {gaps[i]:.2f}" for i in worst) + ".")
    return out


def report_markdown(cal: Calibration, command: str, note: str | None, variant: Path | None) -> str:
    """The fit report: distances per component for the scenario's values and the best point, the
    best values, what fits and what does not, and the simulated and observed months side by side."""
    obs = cal.observed
    spec = obs.spec
    base, best = cal.baseline, cal.points[cal.best]
    n_ok = sum(1 for p in cal.points if p.error is None)
    lines = [
        f"# Calibration of {cal.scenario.spec.name} against {spec.name}",
        "",
        f"Generated by `{command}` on {dt.date.today().isoformat()} in {cal.seconds:.0f} s. Do not edit: run "
        "the command again. The distance and its components are defined in docs/model.md (\"Calibration\").",
        "",
        f"* Scenario: `{display_path(cal.scenario_file)}`" + (f" ({note})." if note else "."),
        f"* Observed track: `{display_path(Path(obs.file))}`: {spec.title}; {obs.months} months from "
        f"{obs.month_label(0)}, one round per month.",
        f"* Search: the scenario's own values and {len(cal.points) - 1} points of a Latin hypercube over "
        f"{len(cal.space)} parameters (seed {cal.seed}); every point runs the same {len(cal.seeds)} seeds. "
        f"{len(cal.points) - n_ok} points were invalid.",
    ]
    if variant is not None:
        lines.append(f"* Best fit written to `{display_path(variant)}`.")
    lines += ["", "## In short", ""]
    gain = base.distance - best.distance
    noise = 2 * np.hypot(base.se, best.se)
    if cal.best == 0:
        verdict = "none of the searched points comes closer than the scenario's own values"
    elif gain <= noise:
        verdict = (f"the best point is closer by {gain:.3f}, within twice the seed noise ({noise:.3f}): the "
                   "search finds no clear improvement")
    else:
        verdict = f"the best point is closer by {gain:.3f} (twice the seed noise: {noise:.3f})"
    lines.append(
        f"Distance to the observed track (0: the observed track exactly, 1: as far as each component goes): "
        f"**{base.distance:.3f}** ± {base.se:.3f} at the scenario's own values, **{best.distance:.3f}** ± "
        f"{best.se:.3f} at the best point; {verdict}. The model {_verdict(best.distance)} the observed track "
        "as a whole.")
    lines += ["", *[f"* {s}" for s in findings(cal)], ""]
    lines += ["## Parameters", "", "| parameter | meaning | searched | scenario | best fit |", "|---|---|---|---|---|"]
    for par in cal.space:
        rng = f"{par.low:g}-{par.high:g}" + (f" of 1 - {par.of_rest.rsplit('.', 1)[-1]}" if par.of_rest else "")
        lines.append(f"| `{par.path}` | {par.meaning} | {rng} | {base.values[par.path]:g} | "
                     f"{best.values[par.path]:g} |")
    w = spec.weights.model_dump()
    lines += ["", "## Distance by component", "",
              "Means over seeds; each component is in [0, 1], 0 as observed.", "",
              "| component | what it measures | weight | scenario | best fit |", "|---|---|---|---|---|"]
    for name, text in COMPONENTS.items():
        lines.append(f"| {name} | {text} | {w[name]:g} | {base.parts[name]:.3f} | {best.parts[name]:.3f} |")
    lines.append(f"| **distance** | weighted mean | | **{base.distance:.3f}** | **{best.distance:.3f}** |")
    scale = spec.releases.scale
    mb, mo = _mean(best.tracks), _mean(base.tracks)
    pb = np.mean([t.paused for t in best.tracks], axis=0)
    lines += ["", "## Month by month", "",
              f"Prisoners freed in all (observed, and the mean of the runs), and how often {spec.pause.actor} "
              "is paused.", "",
              "| month | | freed, observed | freed, best fit | freed, scenario | paused, observed | "
              "paused, best fit |", "|---|---|---|---|---|---|---|"]
    for m in range(obs.months):
        lines.append(f"| {m} | {obs.month_label(m)} | {obs.track.values[m, 0] * scale:,.0f} | "
                     f"{mb[m, 0] * scale:,.0f} | {mo[m, 0] * scale:,.0f} | "
                     f"{'yes' if obs.track.paused[m] else ''} | {pb[m]:.0%} |")
    last = obs.months - 1
    lines += ["", f"## Issues in {obs.month_label(last)} (month {last})", "",
              "| issue | observed | best fit (mean) | scenario (mean) | RMS gap over the months, best fit |",
              "|---|---|---|---|---|"]
    gaps = np.sqrt(np.mean((mb - obs.track.values) ** 2, axis=0))
    for i, iid in enumerate(obs.issues):
        lines.append(f"| {iid} | {obs.track.values[last, i]:.2f} | {mb[last, i]:.2f} | {mo[last, i]:.2f} | "
                     f"{gaps[i]:.3f} |")
    top = sorted((k for k, p in enumerate(cal.points) if p.error is None), key=lambda k: cal.points[k].distance)[:5]
    lines += ["", "## The closest points", "",
              "| point | " + " | ".join(f"`{par.path.split('.', 2)[-1]}`" for par in cal.space) + " | distance |",
              "|---|" + "---|" * (len(cal.space) + 1)]
    for k in top:
        p = cal.points[k]
        name = f"{k} (scenario)" if k == 0 else str(k)
        lines.append(f"| {name} | " + " | ".join(f"{p.values[par.path]:g}" for par in cal.space)
                     + f" | {p.distance:.3f} ± {p.se:.3f} |")
    lines += ["", "## What this search cannot change", "",
              "Only the trust and delivery parameters above are searched. Tranche sizes (`protocol.step`, "
              "`protocol.step_growth`, `protocol.gesture`), positions, saliences, red lines and spoiler rates "
              "stay as the scenario sets them: a component that stays far from 0 at every point is a finding "
              "about those parts of the model, not something a better trust value can fix. Points that differ "
              "by less than about twice their standard errors cannot be told apart with this many seeds.", ""]
    return "\n".join(lines)


def variant_text(cal: Calibration, path: Path, command: str, report: Path | None) -> str:
    """The best point as a scenario variant of the calibrated scenario, with a header that says
    where it comes from, how close it is, and what each value means."""
    sc = cal.scenario
    best, base = cal.points[cal.best], cal.baseline
    obs = cal.observed
    extends = os.path.relpath(cal.scenario_file.resolve(), path.resolve().parent)
    width = max(len(par.path) for par in cal.space)
    where = f"; report: {display_path(report)}" if report is not None else ""
    head = [
        "# " + "=" * 93,
        f"# {sc.spec.name}_fit: {sc.spec.name} with trust and delivery fitted to the observed track",
        "#",
        f"# Question: with the trust and delivery values that bring the {sc.spec.protocol.kind} protocol closest",
        f"# to the observed track ({obs.spec.name}), how does the step-by-step track run?",
        "#",
        f"# Generated by `{command}` on {dt.date.today().isoformat()}.",
        "# Do not edit by hand: run the command again.",
        "# Distance to the observed track (docs/model.md, Calibration; 0 = the observed track exactly,",
        f"# mean of {len(cal.seeds)} seeds): {best.distance:.3f} +- {best.se:.3f} at these values, "
        f"{base.distance:.3f} +- {base.se:.3f}",
        f"# at {sc.spec.name}'s own values (best of {len(cal.points)} points{where}).",
        "#",
        "# The fitted values (the scenario's own in brackets):",
    ]
    for par in cal.space:
        head.append(f"#   {par.path:<{width}}  {best.values[par.path]:<6g} [{base.values[par.path]:g}]  "
                    f"{par.meaning}")
    head.append("# " + "=" * 93)
    probe = obs.probe
    source = (f"fitted by bargain calibrate to the observed track {obs.spec.name} ({dt.date.today().isoformat()}, "
              f"distance {best.distance:.3f})")
    body: dict[str, Any] = {
        "extends": extends,
        "name": f"{sc.spec.name}_fit",
        "title": f"{sc.spec.title}, with trust and delivery fitted",
        "description": (f"As {sc.spec.name}, with {probe.actor}'s trust in {probe.counterpart} and "
                        f"{probe.counterpart}'s delivery reliability set to the values that bring the runs closest "
                        f"to the observed track {obs.spec.name} ({obs.spec.title}). Generated by bargain calibrate."),
        "set": {**{par.path: best.values[par.path] for par in cal.space},
                f"actors.{probe.actor}.trust.source": source,
                f"actors.{probe.counterpart}.delivery.source": source},
    }
    import yaml

    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(head) + "\n" + text


def check_variant_path(path: Path, scenario_file: Path) -> None:
    """A variant may not replace the scenario it extends, or any scenario that one extends, and
    must be able to extend it from where it is written (its folder or the project's scenarios/
    holds every base of the chain, as ``scenario.load_data`` requires).

    Raises:
        InputError: it would.
    """
    if path.resolve() in (scenario_file.resolve(), *_bases(scenario_file.resolve())):
        raise InputError(str(path), [Fault("", "is the scenario being calibrated or one it extends: the variant "
                                               "extends it and cannot replace it (choose another --write-variant)")])
    chain = (scenario_file.resolve(), *_bases(scenario_file.resolve()))
    roots = (path.resolve().parent, scn.PROJECT_SCENARIOS)
    outside = [f for f in chain if not any(f == r or r in f.parents for r in roots)]
    allowed = os.environ.get(scn.ALLOW_EXTENDS_ENV, "").strip().lower() not in ("", "0", "false", "no")
    if outside and not allowed:  # the variant would not load from there: say so before the runs
        raise InputError(str(path), [Fault("", (
            f"a variant here could not extend {display_path(outside[0])} (bases must lie in the variant's folder or "
            f"the project's scenarios/): give --write-variant in {display_path(outside[0].parent)}, or pass "
            "--allow-extends-outside"))])


def write_variant(cal: Calibration, path: Path, command: str, report: Path | None) -> None:
    """Write the variant atomically, after checking that it loads (a bad file is never left behind).

    Raises:
        InputError: the path is the calibrated scenario or one it extends (``check_variant_path``).
    """
    from model.report import atomic_write

    check_variant_path(path, cal.scenario_file)
    text = variant_text(cal, path, command, report)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")
        scn.load(tmp)  # the variant must load before it takes its name

    atomic_write(path, write)
