"""The ``bargain`` command line: run, validate (and, as they land, sweep, plot, ...).

Bad input gives one line per fault (file:line: field: what is wrong) and exit status 2, never a
traceback; ``--debug`` shows tracebacks for developers.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table
from rich.text import Text

from model import __version__
from model.alloc import keep_heap_slack
from model.errors import InputError, shorten, whole_input_error

#: C0 and C1 control characters but tab and newline, and the bidirectional overrides: never printed
#: raw (they can move the cursor, clear the screen, set the window title, colour the terminal or
#: reorder what it shows: a scenario file is foreign text).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text: str) -> str:
    """``text`` with every control character but tab and newline shown as an escape (``\\x1b``)."""
    return _CONTROL.sub(_escaped, text)


def escape(text: object) -> str:
    """User text for rich markup: control characters shown as escapes, markup brackets escaped."""
    return _markup_escape(visible(str(text)))


class _SafeConsole(Console):
    """A console that never writes a control character it did not put there itself: every string
    it renders (printed text, table cells and titles, progress text) shows them as escapes."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible(text), **kwargs)


# emoji=False: a scenario's ``file:100:`` must stay text, not become an emoji code (issue #21)
out = _SafeConsole(highlight=False, emoji=False)
err = _SafeConsole(stderr=True, highlight=False, emoji=False)

#: The formats figures are written in (``--format``; PNG at the dpi of ``model.report.figure_writer``).
FIGURE_FORMATS = ("png", "svg", "pdf")
FORMAT_OPTION = click.option(
    "--format", "formats", type=click.Choice(FIGURE_FORMATS), multiple=True, default=("png",), show_default=True,
    help="Figure format; repeat for several (--format png --format pdf).")

#: The seeds a scenario takes (``seed`` in a scenario or experiment file): ``--seed`` takes the same.
SEED = click.IntRange(0, 2**63 - 1)

#: Set (to 1) by ``--allow-extends-outside``: ``extends:`` may then name any file (see model.scenario).
ALLOW_EXTENDS_ENV = "BARGAIN_ALLOW_EXTENDS_OUTSIDE"


def os_error_line(e: OSError) -> str:
    """A fault of the environment as one line: the path and the system's reason."""
    reason = e.strerror or str(e) or type(e).__name__
    if e.filename is not None:
        path = os.fsdecode(e.filename)
        if e.filename2 is not None:
            path += f" -> {os.fsdecode(e.filename2)}"
        return f"{shorten(path)}: {reason}"
    return reason


class _Group(click.Group):
    """Turns the project's errors into clean messages (tracebacks only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            for line in e.lines():
                err.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)
            sys.exit(2)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            sys.exit(130)
        except OSError as e:  # the environment: a read-only or full disk, a missing folder, no permission
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if e.errno is None and e.filename is None:  # not the file system's: a bug or a network fault
                _internal_error(e)
            err.print(f"[bold red]error:[/] {escape(os_error_line(e))}", soft_wrap=True)
            sys.exit(2)
        except Exception as e:  # noqa: BLE001 - the last line of defence for users
            if ctx.obj and ctx.obj.get("debug"):
                raise
            from model.results import DamagedResults

            if isinstance(e, DamagedResults):  # bad input found on disk: one clear line
                err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
                sys.exit(2)
            _internal_error(e)


def shadowing_model(folder: Path) -> Path | None:
    """A ``model.py`` or ``model/`` package in ``folder`` that is not grand-bargain's: Python started
    there (``python -m``, a notebook, a script) imports it instead of this package, which then
    fails with "cannot import name 'scenario' from 'model'" (Mesa's tutorial layout has a model.py)."""
    ours = Path(__file__).resolve().parent
    for candidate in (folder / "model.py", folder / "model" / "__init__.py"):
        if candidate.is_file() and candidate.resolve().parent != ours:
            return candidate
    return None


def _warn_if_shadowed(folder: Path) -> None:
    found = shadowing_model(folder)
    if found is not None:
        err.print(f"[yellow]warning:[/] {escape(shorten(str(found)))} shadows grand-bargain's `model` package in "
                  "Python started in this folder (notebooks, python -m, scripts): there, `import model` gets "
                  "that file. The bargain command is not affected; rename the file or work in another folder.",
                  soft_wrap=True)


def _internal_error(e: BaseException) -> None:
    err.print(f"[bold red]internal error:[/] {type(e).__name__}: {escape(shorten(str(e), 2000))}", soft_wrap=True)
    err.print("Run again with --debug for a traceback, and please report it.")
    sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bargain")
@click.option("--debug", is_flag=True, help="Show tracebacks (for developers).")
@click.option("--allow-extends-outside", is_flag=True,
              help="Let extends: name files outside the scenario's folder and the project's scenarios/ "
                   f"(or set {ALLOW_EXTENDS_ENV}=1).")
@click.pass_context
def main(ctx: click.Context, debug: bool, allow_extends_outside: bool) -> None:
    """Simulate multi-party negotiations over linked issues."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _warn_if_shadowed(Path.cwd())
    if allow_extends_outside:
        os.environ[ALLOW_EXTENDS_ENV] = "1"  # also for worker processes
    keep_heap_slack()  # see model.alloc: faster runs, same results


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario and experiment files without running them."""
    from model import experiment as exp
    from model import scenario as scn
    from model.core.redlines import conflict_explanation
    from model.yamlio import load_yaml

    failed = 0
    for f in files:
        try:
            data, _ = load_yaml(f)
            if exp.looks_like_experiment(data):
                e = exp.load(f)
                out.print(f"[green]ok[/] {escape(str(f))}: experiment on {escape(e.scenario_file)}, "
                          f"{len(e.points)} points x {e.spec.replicates} replicates = {e.n_runs} runs", soft_wrap=True)
                for note in e.notes:
                    err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
                continue
            s = scn.load(f)
        except InputError as e:
            if click.get_current_context().obj.get("debug"):
                raise
            failed += 1
            for line in e.lines():
                err.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)
            continue
        p = s.problem
        _warn_missing_stances(f, s.spec)
        note = ""
        if not p.has_zone_of_agreement_by_red_lines:
            why = conflict_explanation(p.space, p.redlines, p.parties, p.actor_ids)
            note = f" [yellow](warning: no package satisfies every party's red lines: {escape(why)})[/]"
        out.print(
            f"[green]ok[/] {escape(str(f))}: {len(p.actor_ids)} actors, {p.space.n_issues} issues, "
            f"{len(p.redlines.lines)} red lines{note}",
            soft_wrap=True,
        )
    if failed:
        sys.exit(2)


@main.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=SEED, default=None, help="Override the scenario's seed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write outcome.json, rounds.csv and trajectory.png here.")
@click.option("--plot/--no-plot", default=True, show_default=True,
              help="Write trajectory.png, issues.png and utility_space.png.")
@click.option("--pair", default=None, metavar="A,B",
              help="The two actors of utility_space.png [default: the first two parties].")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON instead of a summary.")
@FORMAT_OPTION
def run(
    scenario_file: Path, seed: int | None, out_dir: Path | None, plot: bool, pair: str | None, as_json: bool,
    formats: tuple[str, ...],
) -> None:
    """Run one negotiation and print what happened."""
    import json

    from model import scenario as scn
    from model.negotiation import Negotiation
    from model.report import History, summarize

    s = scn.load(scenario_file)
    _warn_missing_stances(scenario_file, s.spec)
    ids = s.problem.actor_ids
    if pair is None:
        two = list(s.problem.parties[:2])
    else:
        names = [x.strip() for x in pair.split(",")]
        unknown = [x for x in names if x not in ids]
        if len(names) != 2 or unknown or names[0] == names[1]:
            raise click.BadParameter(f"give two different actors of the scenario as A,B (actors: {', '.join(ids)})",
                                     param_hint="--pair")
        two = [ids.index(x) for x in names]
    with _SetUpProgress():  # a large problem's set-up (each actor's utopia: a program each) takes a while
        m = Negotiation(s, rng=seed)
    _run_with_progress(m)
    with _SetUpProgress("summarising the outcome"):  # (the search for a dominating package, at scale)
        summary = summarize(m)
    history = History.from_model(m)
    if out_dir is not None:
        _write_run(out_dir, summary, history, plot, s.spec.title, m, two, formats)
    if as_json:  # JSON escapes C0 control characters; C1 ones (such as CSI, U+009B) as well here
        text = json.dumps(summary, indent=2, ensure_ascii=False)
        click.echo(_CONTROL.sub(lambda c: f"\\u{ord(c.group()):04x}", text))
    else:
        print_summary(summary)
        if out_dir is not None:
            files = "outcome.json, rounds.csv" + (", events.csv" if summary["events"] else "")
            stems = [f for f in RUN_FIGURES if f != "timeline" or summary["events"]]
            files += "".join(f", {f}.{'|'.join(formats)}" for f in stems) if plot else ""
            out.print(f"\nWrote {files} to {escape(out_dir)}/", soft_wrap=True)


#: A run longer than this many seconds reports its progress on standard error, at most this often.
PROGRESS_AFTER_S = 3.0
PROGRESS_EVERY_S = 5.0


class _SetUpProgress:
    """While the block runs (a model's set-up, which cannot report rounds), a line on standard
    error once it has taken ``after`` seconds and then every ``every`` seconds, from a helper
    thread; on leaving, the line is printed once more if the block outlasted ``after`` with none
    shown yet, so that any set-up that long is seen."""

    def __init__(self, what: str = "setting up the problem", after: float = PROGRESS_AFTER_S,
                 every: float = PROGRESS_EVERY_S) -> None:
        self.what = what
        self.after, self.every = after, every
        self.done = threading.Event()
        self.shown = False
        self.start = 0.0

    def _say(self) -> None:
        err.print(f"run: {self.what}, {time.perf_counter() - self.start:.0f} s elapsed", soft_wrap=True)
        self.shown = True

    def _tick(self) -> None:
        wait = self.after
        while not self.done.wait(wait):
            self._say()
            wait = self.every

    def __enter__(self) -> _SetUpProgress:
        self.start = time.perf_counter()
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        if not self.shown and time.perf_counter() - self.start >= self.after:
            self._say()


def _run_with_progress(m: Any, after: float = PROGRESS_AFTER_S, every: float = PROGRESS_EVERY_S) -> None:
    """``m.run()`` round by round, with a line on standard error (``round r of R, s elapsed``)
    once the run has taken ``after`` seconds and then every ``every`` seconds, and a closing
    line if any was printed: a long run (say 100 actors x 500 issues) is seen to move.
    Stepping is exactly what ``run`` does, so the outcome is the same."""
    start = time.perf_counter()
    next_at = start + after
    shown = False
    while m.running:
        m.step()
        now = time.perf_counter()
        if now >= next_at and m.running:
            err.print(f"run: round {m.round} of {m.max_rounds}, {now - start:.0f} s elapsed", soft_wrap=True)
            next_at, shown = now + every, True
    if shown:
        err.print(f"run: done after {m.round} rounds, {time.perf_counter() - start:.0f} s", soft_wrap=True)


#: The figures of one run (the timeline only for a run with events: a step-by-step protocol's).
RUN_FIGURES = ("trajectory", "issues", "utility_space", "outcome_space", "timeline")
#: The files of one run in ``--out`` (replaced together: none of an earlier run's is left beside them).
RUN_FILES = ("outcome.json", "rounds.csv", "events.csv",
             *(f"{f}.{ext}" for f in RUN_FIGURES for ext in FIGURE_FORMATS))


def _write_run(
    out_dir: Path, summary: dict[str, Any], history: Any, plot: bool, title: str, m: Any, pair: list[int],
    formats: tuple[str, ...] = ("png",),
) -> None:
    """Write a run's files as a set: drawn and written to temporary files first, then renamed into
    place together; a failure on the way leaves the folder as it was."""
    from model.fileio import OutputSet
    from model.report import csv_writer, figure_writer, json_writer

    figures = {}
    if plot:  # draw everything before writing anything
        from model import plots

        offers = history.offers[~np.isnan(history.offers).any(axis=1)] if len(history.offers) else None
        p, agreed = m.problem, (m.outcome.package if m.outcome.agreed else None)
        figures = {
            "trajectory": plots.trajectory(history, title, p.actor_names),
            "issues": plots.issue_values(history, p.space, title, agreed),
            "utility_space": plots.utility_space(p, pair[0], pair[1], agreed, offers, title),
            "outcome_space": plots.outcome_space(p, agreed, offers, title),
        }
        if m.outcome.events:
            figures["timeline"] = plots.timeline(m.outcome.events, m.outcome.rounds, p.actor_ids, title,
                                                 p.actor_names)
    with OutputSet(out_dir, owned=RUN_FILES) as files:
        files.add("outcome.json", json_writer(summary))
        files.add("rounds.csv", csv_writer(history.to_rows()))
        if summary.get("events"):
            files.add("events.csv", csv_writer(summary["events"]))
        for name, fig in figures.items():
            for ext in formats:
                files.add(f"{name}.{ext}", figure_writer(fig, ext))
        files.commit()


def print_summary(s: dict[str, Any]) -> None:
    """The readable summary of one run."""
    head = "[bold green]AGREEMENT[/]" if s["agreed"] else "[bold red]NO AGREEMENT[/]"
    out.print(f"[bold]{escape(s['title'])}[/] (scenario {s['scenario']}, seed {s['seed']}, protocol {s['protocol']})")
    out.print(f"{head} after {s['rounds']} of {s['max_rounds']} rounds: {escape(s['explanation'])}", soft_wrap=True)
    if s["package"]:
        t = Table(title="Agreed package", title_justify="left")
        t.add_column("issue")
        t.add_column("status quo", justify="right")
        t.add_column("agreed", justify="right")
        t.add_column("level", overflow="fold")
        for iid, v in s["package"].items():
            t.add_row(iid, f"{v['status_quo']:.2f}", f"{v['value']:.2f}", v["level"] or "")
        out.print(t)
    t = Table(title="Actors", title_justify="left")
    columns = (("actor", "left"), ("utility", "right"), ("reservation", "right"), ("above reservation", "center"))
    for col, just in columns:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for aid, a in s["actors"].items():
        mark = "[green]yes[/]" if a["above_reservation"] else "[red]no[/]"
        t.add_row(aid + ("" if a["party"] else " (observer)"), f"{a['utility']:.3f}", f"{a['reservation']:.3f}", mark)
    out.print(t)
    if s["blocked_by"]:
        out.print("[bold]Blocked by:[/]")
        for b in s["blocked_by"]:
            out.print(escape(f"  {b['actor']}: {b['reason']} ({b['detail']})"), soft_wrap=True)
    # routine full deliveries are left to events.csv; shocks, tranches, pauses and shortfalls are shown
    from model.protocols.base import EventKind

    events = [e for e in s.get("events", []) if not (e.get("kind") == EventKind.DELIVERY and e.get("share") == 1.0)]
    if events:
        shown = events if len(events) <= 14 else events[:7] + events[-7:]
        out.print(f"[bold]What happened[/] ({len(s['events'])} events; all in events.csv):")
        for k, e in enumerate(shown):
            if len(events) > 14 and k == 7:
                out.print(f"  ... {len(events) - 14} more ...")
            out.print(escape(f"  round {e['round']}: {e['what']}"), soft_wrap=True)
    if s["agreed"]:
        po = (
            "yes (no dominating package found)"
            if s.get("pareto_optimal")
            else "no: another package makes every party at least as well off"
        )
        out.print(f"Nash product {s['nash_product']:.4g}; Pareto-optimal: {po}")
        if "nash_point" in s:
            out.print(f"Nash bargaining point's product: {s['nash_point']['nash_product']:.4g}")


@main.command()
@click.argument("experiment_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--backend", type=click.Choice(["process", "serial", "dask"]), default="process", show_default=True,
              help="Where runs execute: local processes, this process, or Dask (a cluster or a LocalCluster).")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786); none: a LocalCluster.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder [default: results/<experiment name>]. Re-running into it resumes.")
@click.option("--series", is_flag=True,
              help="Also record every run round by round (offers, utilities, trust, counts) in OUT/series/: "
                   "model.results.load_series; bargain plot draws them. Kept on when the folder is resumed.")
def sweep(
    experiment_file: Path, workers: int | None, backend: str, scheduler: str | None, out_dir: Path | None,
    series: bool,
) -> None:
    """Run an experiment: many negotiations over a design of conditions, with replicates."""
    import os
    import signal

    from model import experiment as exm
    from model import results
    from model.sweep import Interrupted, Sweep, check_workers, executor, stop_on_signals
    from model.sweep.sweep import summary_frame

    check_workers(workers, backend, scheduler)
    exp = exm.load(experiment_file)
    for note in exp.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    out_dir = out_dir or Path("results") / exp.spec.name
    sw = Sweep(exp, out_dir, series=series)
    n_workers = 1 if backend == "serial" else (workers or os.cpu_count() or 1)
    # SIGINT (Ctrl-C), SIGTERM and SIGHUP all stop the workers, mark the manifest and say so in one line
    with stop_on_signals():
        try:
            with sw.lock():  # one sweep per folder: a second one is refused here, in one line
                sw.check_resumable()
                out.print(
                    f"[bold]{exp.spec.name}[/]: {len(exp.points)} points x {exp.spec.replicates} replicates = "
                    f"{sw.n_runs} runs in {sw.n_chunks} chunks of {sw.chunk_size}, backend {backend} "
                    f"({n_workers} workers) -> {out_dir}/",
                    soft_wrap=True,
                )
                with _progress_bar() as progress, executor(backend, n_workers, scheduler) as pool:
                    stats = sw.run(pool, progress=progress)
        except KeyboardInterrupt as e:
            signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
            name = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
            err.print(f"[yellow]interrupted{name}[/]: {sw.runs_done} of {sw.n_runs} runs are on disk in {out_dir}/; "
                      "run the same command again to resume.", soft_wrap=True)
            sys.exit(128 + signum)
    skipped = stats["runs_skipped_as_done"]
    out.print(f"Done: {stats['runs_done']} runs ({skipped} already on disk, skipped) in "
              f"{stats['seconds_this_session']:.1f} s; {stats['failures_this_session']} failed runs this session.")
    df = summary_frame(out_dir, [f"axis.{p}" for p in exp.axis_paths])  # only the columns it shows
    df.attrs["labels"] = results.column_labels_of(out_dir, list(df.columns))
    _print_rates(df, [f"axis.{p}" for p in exp.axis_paths][:2])
    if stats["runs_failed_by_infrastructure"]:
        err.print(f"[bold red]error:[/] {stats['runs_failed_by_infrastructure']} runs failed because their worker "
                  f"process died (not because of the model): run the same command again to retry them.")
        sys.exit(1)
    if not df.empty and df["error"].notna().all():
        first = str(df["error"].iloc[0])
        err.print(f"[bold red]error:[/] every run failed; the first: {escape(first[:300])}", soft_wrap=True)
        sys.exit(1)


@main.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--track", "track_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The observed track [default: observed/belarus_track_2025_26.yaml in the scenario's folder].")
@click.option("--seeds", "n_seeds", type=click.IntRange(1, 10_000), default=10, show_default=True,
              help="Runs per point (the same seeds at every point).")
@click.option("--points", "n_points", type=click.IntRange(0, 100_000), default=48, show_default=True,
              help="Points of the Latin hypercube, besides the scenario's own values.")
@click.option("--seed", type=SEED, default=None,
              help="Root seed of the design and the runs [default: the scenario's seed].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--backend", type=click.Choice(["process", "serial"]), default="process", show_default=True,
              help="Where runs execute: local processes or this process.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for points.csv and report.md [default: results/calibrate/<scenario name>].")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the fit report [default: OUT/report.md].")
@click.option("--write-variant", "variant_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the best fit as a scenario variant [default: OUT/<scenario>_fit.yaml; "
                   "scenarios/<scenario>_fit.yaml replaces the shipped variant].")
def calibrate(
    scenario_file: Path, track_file: Path | None, n_seeds: int, n_points: int, seed: int | None,
    workers: int | None, backend: str, out_dir: Path | None, report_file: Path | None, variant_file: Path | None,
) -> None:
    """Fit trust and delivery to the observed track: a distance per component, the best fit as a variant.

    A scenario that does not run the incremental protocol is calibrated through the step-by-step
    scenario that the track names, if that one extends it (belarus_us_2025.yaml ->
    belarus_stepwise.yaml). docs/model.md ("Calibration") defines the distance.
    """
    import os

    from model import calibrate as cal
    from model import scenario as scn
    from model.report import atomic_write, write_csv
    from model.sweep import executor

    given = [*(["--track", str(track_file)] if track_file else []),
             *(["--seed", str(seed)] if seed is not None else [])]
    command = " ".join(["bargain calibrate", str(scenario_file), *given, "--seeds", str(n_seeds), "--points",
                        str(n_points)])
    track_file = track_file or scenario_file.parent / cal.DEFAULT_TRACK
    spec, lines = cal.read_track(track_file)
    target, note = cal.calibration_scenario(scenario_file, spec, track_file)
    sc = scn.load(target)
    observed = cal.check_track(spec, lines, str(track_file), sc)
    seed = sc.seed if seed is None else seed
    out_dir = out_dir or Path("results") / "calibrate" / sc.spec.name
    report_file = report_file or out_dir / "report.md"
    variant_file = variant_file or out_dir / f"{target.stem}_fit.yaml"  # never a tracked file unless asked
    cal.check_variant_path(variant_file, target)
    n_workers = 1 if backend == "serial" else (workers or os.cpu_count() or 1)
    if note:
        out.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    out.print(f"[bold]{sc.spec.name}[/] against {spec.name}: {n_points + 1} points x {n_seeds} seeds = "
              f"{(n_points + 1) * n_seeds} runs, backend {backend} ({n_workers} workers)", soft_wrap=True)
    with _progress_bar() as progress, executor(backend, n_workers) as pool:
        result = cal.calibrate(target, observed, n_points, n_seeds, seed, pool, progress)
    report = cal.report_markdown(result, command, note, variant_file)
    cal.write_variant(result, variant_file, command, report_file)

    def write_report(tmp: str) -> None:
        Path(tmp).write_text(report, encoding="utf-8")

    atomic_write(report_file, write_report)
    write_csv(out_dir / "points.csv", cal.points_rows(result))
    base, best = result.baseline, result.points[result.best]
    t = Table(title=f"Distance to the observed track ({n_seeds} seeds; 0 = as observed)", title_justify="left")
    for col, just in (("component", "left"), ("scenario", "right"), ("best fit", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for k in cal.COMPONENTS:
        t.add_row(k, f"{base.parts[k]:.3f}", f"{best.parts[k]:.3f}")
    t.add_row("[bold]distance[/]", f"[bold]{base.distance:.3f}[/] ± {base.se:.3f}",
              f"[bold]{best.distance:.3f}[/] ± {best.se:.3f}")
    out.print(t)
    for par in result.space:
        out.print(f"  {par.path} = {best.values[par.path]:g} (scenario: {base.values[par.path]:g})")
    out.print(f"Done in {result.seconds:.1f} s. Wrote {escape(str(variant_file))}, {escape(str(report_file))} and "
              f"{escape(str(out_dir / 'points.csv'))}", soft_wrap=True)


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar of runs on stderr (off when stderr is not a terminal), as ``progress(done, total)``."""
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False, disable=not err.is_terminal) as bar:
        task = bar.add_task("runs", total=None, rate="")
        start: list[float] = []

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if not start:  # the rate counts this session's runs only (a resumed sweep starts part done)
                start.extend([now, done])
            rate = (done - start[1]) / (now - start[0]) if now > start[0] else 0.0
            bar.update(task, completed=done, total=total, rate=f"{rate:,.1f} runs/s" if rate else "")

        yield progress


@main.command()
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--svg", is_flag=True, help="Also write SVG files (the same as --format png --format svg).")
@FORMAT_OPTION
def plot(results_dir: Path, svg: bool, formats: tuple[str, ...]) -> None:
    """Plot a sweep's results into RESULTS_DIR/plots/."""
    from model import plots, results
    from model.fileio import OutputSet
    from model.report import figure_writer

    mf = _manifest(results_dir)
    df = results.load(results_dir)
    if df.empty:
        raise whole_input_error(str(results_dir), "holds no finished runs yet")
    lost = [p for p in mf["axes"] if f"axis.{p}" not in df.columns]
    if lost:
        raise whole_input_error(str(results_dir), f"the results have no column for the manifest's axis {lost[0]}")
    varying = [f"axis.{p}" for p in mf["axes"] if df[f"axis.{p}"].nunique() > 1]
    figures = {}
    few = [a for a in varying if df[a].nunique() <= 12]
    if len(few) >= 2:  # a third axis with few values is a panel each, never silently averaged
        title = f"{mf['experiment']}: agreement rate"
        facet = few[2] if len(few) >= 3 and df[few[2]].nunique() <= 6 else None
        pooled = [a for a in varying if a not in (few[0], few[1], facet)]
        figures["agreement_heatmap"] = plots.agreement_heatmap(df, few[1], few[0], title, facet, pooled)
    by = "axis.protocol.kind" if "axis.protocol.kind" in varying else None  # one line per protocol
    for a in varying:
        name = "agreement_by_" + a.removeprefix("axis.").replace(".", "_").replace("[", "").replace("]", "")
        pooled = [o for o in varying if o not in (a, by)]
        figures[name] = plots.agreement_by_axis(df, a, f"{mf['experiment']}: agreement rate",
                                                by=None if a == by else by, pooled=pooled)
    figures["utility_at_agreement"] = plots.utility_at_agreement(df, mf["experiment"])
    figures["rounds_to_agreement"] = plots.rounds_to_agreement(df, mf["experiment"])
    if mf.get("series"):  # outcomes over time, by the first axis with few values
        from model.plots_series import trajectory_bands

        trace = results.load_series(results_dir)
        if not trace.empty:
            figures["series_bands"] = trajectory_bands(trace, by=few[0] if few else None,
                                                       title=f"{mf['experiment']}: over time")
    written = []
    with OutputSet(results_dir / "plots") as files:  # all plots replaced together, or none
        for name, fig in figures.items():
            for ext in _formats(formats, svg):
                files.add(f"{name}.{ext}", figure_writer(fig, ext))
                written.append(results_dir / "plots" / f"{name}.{ext}")
        files.commit()
    for w in written:
        out.print(f"wrote {escape(str(w))}")


@main.command()
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--outcome", default="agreed", show_default=True,
              help="The runs of interest: agreed, or a comparison such as 'value.eu_sanctions>0.2' or 'rounds<=12'.")
@click.option("--boxes", "n_boxes", type=click.IntRange(1, 10), default=3, show_default=True,
              help="How many boxes to look for (each among the runs the earlier ones leave).")
def discover(results_dir: Path, outcome: str, n_boxes: int) -> None:
    """Scenario discovery (PRIM): ranges of the swept conditions under which the outcome is likely."""
    from model import discovery, results
    from model.report import save_figure

    _manifest(results_dir)
    df = results.load(results_dir)
    try:
        found = discovery.discover_results(df, outcome, n_boxes=n_boxes)
    except ValueError as e:
        raise whole_input_error(str(results_dir), str(e)) from None
    label = "agreement" if outcome == "agreed" else outcome
    if not found:
        out.print(f"No box found: the {label} rate does not depend on the swept conditions enough to separate them.")
        return
    t = Table(title=f"PRIM boxes for {label}", title_justify="left")
    for col in ("box", "density", "coverage", "runs inside", "restricted conditions"):
        t.add_column(col, justify="left" if col == "box" else "right")
    for k, r in enumerate(found, 1):
        b = r.box
        t.add_row(str(k), f"{b.density:.0%}", f"{b.coverage:.0%}", str(b.n), str(b.n_restricted))
    out.print(t)
    for k, r in enumerate(found, 1):
        weak = "" if r.meets_threshold else f" (below the density threshold of {r.threshold:.0%}: a weak pattern)"
        out.print(f"{k}. {escape(discovery.describe(r.box, label, df.attrs.get('labels')))}{weak}", soft_wrap=True)
    for k, r in enumerate(found, 1):
        target = results_dir / "plots" / f"prim_peeling_{k}.png"
        save_figure(target, discovery.peeling_plot(r, f"box {k}"))
        out.print(f"wrote {escape(str(target))}")


@main.command()
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--outcome", default="agreed", show_default=True,
              help="What to explain: agreed, rounds, nash_product, value.<issue> or utility.<actor>.")
@click.option("--svg", is_flag=True, help="Also write an SVG file.")
def sensitivity(results_dir: Path, outcome: str, svg: bool) -> None:
    """Sobol indices (for a sweep with the sobol design) or Morris screening (morris design)."""
    from model import results
    from model.report import save_figure
    from model.sensitivity import morris_indices, sensitivity_plot, sobol_indices

    mf = _manifest(results_dir)
    df = results.load(results_dir)
    design = mf.get("design")
    try:
        if design == "sobol":
            table = sobol_indices(df, mf, outcome)
            cols = ["S1", "S1_conf", "ST", "ST_conf"]
        elif design == "morris":
            table = morris_indices(df, mf, outcome)
            cols = ["mu_star", "mu_star_conf", "sigma"]
        else:
            raise ValueError(f"sensitivity indices need a sweep with the sobol or morris design, not {design!r}")
    except ValueError as e:
        raise whole_input_error(str(results_dir), str(e)) from None
    t = Table(title=f"{'Sobol indices' if design == 'sobol' else 'Morris screening'} of {outcome}",
              title_justify="left")
    t.add_column("condition")
    for c in cols:
        t.add_column(c, justify="right")
    labels = df.attrs.get("labels") or {}
    for name, row in table.iterrows():
        t.add_row(escape(labels.get(str(name)) or str(name)), *[f"{row[c]:.3f}" for c in cols])
    out.print(t)
    if design == "sobol":
        _print_convergence(df, mf, outcome, table)
    fig = sensitivity_plot(table, f"{mf['experiment']}: {labels.get(outcome) or outcome}", labels)
    for ext in ("png", "svg") if svg else ("png",):
        target = results_dir / "plots" / f"sensitivity_{outcome.replace('.', '_')}.{ext}"
        save_figure(target, fig)
        out.print(f"wrote {escape(str(target))}")


def _print_convergence(df: Any, mf: dict[str, Any], outcome: str, table: Any) -> None:
    """The total indices at N/4, N/2 and N base samples, then a warning per reason not to trust them."""
    from model.sensitivity import sobol_convergence, sobol_warnings

    conv = sobol_convergence(df, mf, outcome)
    sizes = sorted(set(conv["samples"]))
    if len(sizes) > 1:
        t = Table(title="Convergence: ST (± half-width) by base samples", title_justify="left")
        t.add_column("condition")
        for n in sizes:
            t.add_column(f"N={n}", justify="right")
        labels = df.attrs.get("labels") or {}
        for axis, g in conv.groupby("axis", sort=False):
            cells = [f"{r.ST:.3f} ± {r.ST_conf:.3f}" for r in g.itertuples()]
            t.add_row(escape(labels.get(str(axis)) or str(axis)), *cells)
        out.print(t)
    for w in sobol_warnings(table):
        err.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)


@main.command()
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the HTML [default: RESULTS_DIR/report.html].")
@click.option("--partial", is_flag=True, help="Report an unfinished sweep (marked as partial).")
def report(results_dir: Path, path: Path | None, partial: bool) -> None:
    """One self-contained HTML report of a sweep, for people who will not run the tool."""
    from model.htmlreport import write_report

    try:
        p = write_report(results_dir, path, allow_incomplete=partial)
    except ValueError as e:
        raise whole_input_error(str(results_dir), str(e)) from None
    out.print(f"wrote {escape(str(p))}")


@main.command()
@click.argument("scenario_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
def app(scenario_file: Path | None, port: int, host: str) -> None:
    """Explore scenarios in the browser (a Solara page) [default: scenarios/belarus_us_2025.yaml].

    Pick a scenario (or drop one in), set the seed and conditions, press Reset, then Step or run. Opens no browser:
    visit the address it prints. Needs the app extra: pip install 'grand-bargain[app]'.
    """
    try:
        from model import app as web
    except ModuleNotFoundError as e:
        raise click.ClickException(
            f"bargain app needs the app extra ({e.name} is not installed): pip install 'grand-bargain[app]'"
        ) from None
    path = web.scenario_file(scenario_file)
    web.app_scenario(path)  # a bad file stops here, with one line per fault
    port = port or web.free_port(host)
    out.print(f"Serving {escape(str(path))} at http://{host}:{port}/ (Ctrl-C to stop)", soft_wrap=True)
    web.serve(path, host=host, port=port)


def _warn_missing_stances(path: Path, spec: Any) -> None:
    """Warn (on stderr; not an error) about each actor with no stance on some issue."""
    from model.cli_schema import missing_stances

    for line in missing_stances(spec):
        err.print(f"[yellow]warning:[/] {escape(str(path))}: {escape(line)}", soft_wrap=True)


def _formats(formats: tuple[str, ...], svg: bool) -> tuple[str, ...]:
    """The formats to write: ``--format`` (each once, in order), plus PNG and SVG for ``--svg``."""
    return tuple(dict.fromkeys((*formats, *(("png", "svg") if svg else ()))))


def _manifest(results_dir: Path) -> dict[str, Any]:
    import json

    from model import results

    try:
        mf = results.manifest(results_dir)
    except (OSError, json.JSONDecodeError):
        msg = "no readable manifest.json: is this a sweep's results folder?"
        raise whole_input_error(str(results_dir), msg) from None
    except ValueError:  # (JSON, but not a mapping with axes)
        raise whole_input_error(str(results_dir), "manifest.json is not a sweep's manifest") from None
    if not isinstance(mf, dict) or not isinstance(mf.get("axes"), list) or "experiment" not in mf:
        raise whole_input_error(str(results_dir), "manifest.json is not a sweep's manifest")
    return mf



def _print_rates(df: Any, axes: list[str]) -> None:
    from model import results
    from model.labels import column_label

    if df.empty:
        return
    by = axes[:2] if all(df[a].nunique() <= 12 for a in axes[:2]) else axes[:1]
    if df[by[0]].nunique() > 12:  # a sampled axis: show it in bins, in order
        import pandas as pd

        df = df.copy()
        df[by[0]] = pd.cut(df[by[0]], 5)
        by = by[:1]
    rates = results.agreement_rates(df, by)
    t = Table(title="Agreement rate", title_justify="left")
    for c in by:
        t.add_column(column_label(df, c))
    for c in ("agreement", "runs", "failed"):
        t.add_column(c, justify="right")
    for r in rates.itertuples(index=False):
        vals = list(r)
        rate = vals[len(by)]
        t.add_row(*[f"{v:g}" if isinstance(v, float) else str(v) for v in vals[: len(by)]],
                  "–" if rate != rate else f"{rate:.0%}", str(vals[len(by) + 1]), str(vals[len(by) + 2]))
    out.print(t)

from model.cli_backtest import backtest as _backtest  # noqa: E402 - registered beside the commands above

main.add_command(_backtest)

from model.cli_robustness import robustness  # noqa: E402

main.add_command(robustness)

from model.cli_schema import schema  # noqa: E402 - registered below, beside the other helpers' commands

main.add_command(schema)

from model.cli_export import export, rerun  # noqa: E402 - the commands of model/cli_export.py

main.add_command(export)
main.add_command(rerun)

if __name__ == "__main__":  # pragma: no cover
    main()
