"""``bargain app``: explore a scenario in the browser (a Solara page).

``bargain app [SCENARIO]`` serves this module with solara (``serve``); the first scenario shown
reaches the page through the environment variable ``BARGAIN_APP_SCENARIO``. The sidebar has:

* a scenario picker: every file in the project's ``scenarios/`` (and the working folder's), plus
  files the user uploads, each checked as ``bargain validate`` does (one line per fault);
* the seed, and Reset / Step / run-to-the-end buttons;
* the conditions, generated from the scenario (``scenario_controls``): the protocol and each of
  its numeric settings (slider ranges from the schema's bounds), each actor's strategy, each red
  line by actor and issue label, and the trust, delivery and collective settings the file sets.
  Every control shows its value; they apply on Reset (``model.paths.set_path`` on the scenario's
  data, compiled again with ``model.scenario.parse``).

The main area has named tabs: the run (outcome, utilities, issue values), each actor, each issue,
the step-by-step timeline (for the incremental and framework protocols), every actor's utility
(outcome space), and a sweep's results folder (agreement heatmap and PRIM boxes). Figures are drawn
at their natural size and never shrink below it (they scroll instead).

Needs the ``app`` extra (``mesa[viz]``, which brings solara).
"""

from __future__ import annotations

import copy
import functools
import io
import math
import os
import tempfile
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import solara
from pydantic import ValidationError

from model import scenario as scn
from model.core import STRATEGIES
from model.errors import InputError
from model.negotiation import Negotiation
from model.paths import PathError, get_path, set_path
from model.plots import OKABE_ITO, plain, wrap
from model.report import History
from model.strategy_params import PARAMS as STRATEGY_PARAMS
from model.yamlio import LineMap

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The environment variable that names the scenario file the page shows first.
SCENARIO_ENV = "BARGAIN_APP_SCENARIO"
#: The scenario shown when none is given (relative to the working directory or the project).
DEFAULT_SCENARIO = Path("scenarios") / "belarus_us_2025.yaml"
#: The project's folder (scenarios/ and results/ are looked up here and in the working folder).
PROJECT = Path(__file__).resolve().parent.parent

Kind = Literal["int", "float", "choice"]


# --------------------------------------------------------------------------------------------
# the controls


def protocol_kinds() -> list[str]:
    """The protocols the scenario schema knows (``model.protocols.PROTOCOLS``)."""
    from model.protocols import PROTOCOLS

    return list(PROTOCOLS)


def strategy_names() -> list[str]:
    """The strategies an actor may use (``model.core.STRATEGIES``)."""
    return list(STRATEGIES)


def _literal_values(tp: Any) -> list[str]:
    """Every value of the Literal types inside ``tp`` (through unions and Annotated)."""
    if typing.get_origin(tp) is Literal:
        return [str(v) for v in typing.get_args(tp)]
    out: list[str] = []
    for arg in typing.get_args(tp):
        out += [v for v in _literal_values(arg) if v not in out]
    return out


def _fit_strategy_params(data: dict[str, Any], path: str, name: Any) -> None:
    """After a strategy change: keep the actor's strategy parameters only if the new one accepts them."""
    strategy = get_path(data, path.rsplit(".", 1)[0])
    params = strategy.get("params") or {}
    try:
        STRATEGY_PARAMS[str(name)](**params)
    except (KeyError, ValidationError, TypeError):
        strategy["params"] = {}


@dataclass(frozen=True)
class Control:
    """One condition in the sidebar.

    ``path`` is a dotted path into the scenario (``{actor}`` makes one control per actor, and
    ``label`` may use it too); ``kind`` is ``int`` or ``float`` (a slider from ``low`` to ``high``
    by ``step``) or ``choice`` (a selector over ``options``: a list, or a function giving one).
    ``check_options`` keeps only the options that make a valid scenario; ``after`` fixes up the
    data after a value is set.
    """

    label: str
    path: str
    kind: Kind
    low: float = 0.0
    high: float = 1.0
    step: float = 0.05
    options: Sequence[str] | Callable[[], Sequence[str]] = ()
    check_options: bool = False
    after: Callable[[dict[str, Any], str, Any], None] | None = None


#: Readable names of the protocols' common settings (any other is shown by its field name).
PROTOCOL_LABELS = {
    "max_rounds": "Deadline (rounds)",
    "breakdown_risk": "Breakdown risk per round",
    "discount": "Patience (discount per round)",
    "margin": "Offer margin",
}
#: The largest deadline a slider offers (the schema allows 10,000 rounds; beyond a few hundred a
#: slider is useless): twice the scenario's own, at least this.
MIN_DEADLINE_RANGE = 120


def _bounds(field: Any) -> tuple[float | None, float | None]:
    """A pydantic field's valid range from its metadata (an exclusive bound moved in by a hair)."""
    lo = hi = None
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            lo = float(m.ge)
        if getattr(m, "gt", None) is not None:
            lo = float(m.gt) + 0.01
        if getattr(m, "le", None) is not None:
            hi = float(m.le)
        if getattr(m, "lt", None) is not None:
            hi = float(m.lt) - 0.01
    return lo, hi


def _protocol_controls(spec: Any) -> list[Control]:
    """The protocol picker and a slider for each numeric setting of the scenario's protocol, its
    range the schema's (an integer's capped at a useful size)."""
    out = [Control("Protocol", "protocol.kind", "choice", options=protocol_kinds, check_options=True)]
    params = type(spec.protocol)
    for name, field in params.model_fields.items():
        if field.annotation not in (int, float) or name == "kind":
            continue
        if name == "renegotiations" and not getattr(spec.protocol, "implement", False):
            continue  # (renegotiations follow a breach, and only a deal that is implemented can be breached)
        lo, hi = _bounds(field)
        label = PROTOCOL_LABELS.get(name, name.replace("_", " ").capitalize())
        current = getattr(spec.protocol, name)
        if field.annotation is int:
            lo_i = int(lo if lo is not None else 0)
            if name == "max_rounds":  # a spoiler scheduled in round r needs a deadline of r or later
                lo_i = max([lo_i, *(r for sp in spec.spoilers for r in sp.rounds)])
            hi_i = int(min(hi if hi is not None else 1000, max(2 * current, MIN_DEADLINE_RANGE, lo_i + 10)))
            out.append(Control(label, f"protocol.{name}", "int", lo_i, hi_i, 1))
        else:
            out.append(Control(label, f"protocol.{name}", "float", lo if lo is not None else 0.0,
                               hi if hi is not None else 1.0, 0.01))
    return out


def _actor_controls(spec: Any, data: dict[str, Any]) -> list[Control]:
    """Each actor's strategy; each red line, named by actor and issue label; and the trust,
    delivery and patron settings the file itself sets (a mechanism it models)."""
    labels = {i.id: i.label for i in spec.issues}
    out: list[Control] = []
    written = {a.get("id"): a for a in data.get("actors") or [] if isinstance(a, dict)}
    for a in spec.actors:
        out.append(Control(f"{a.id}: strategy", f"actors.{a.id}.strategy.name", "choice", options=strategy_names,
                           after=_fit_strategy_params))
        for k, line in enumerate(a.red_lines):
            issue = wrap(labels.get(line.issue, line.issue), 44, 1)
            when = ""
            if line.when is not None:  # a conditional red line: say when it holds
                c = line.when
                when = f" (when {c.issue} {'above ' + f'{c.above:g}' if c.above is not None else ''}" \
                       f"{' and ' if c.above is not None and c.below is not None else ''}" \
                       f"{'below ' + f'{c.below:g}' if c.below is not None else ''})"
            for bound, words in (("min", "at least"), ("max", "at most")):
                if getattr(line, bound) is not None:
                    out.append(Control(f"{a.id} red line: {issue}, {words}{when}",
                                       f"actors.{a.id}.red_lines[{k}].{bound}", "float", 0.0, 1.0, 0.01))
        mine = written.get(a.id) or {}
        if "trust" in mine:
            out.append(Control(f"{a.id}: prior trust", f"actors.{a.id}.trust.prior", "float", 0.0, 1.0, 0.01))
            out.append(Control(f"{a.id}: trust threshold (pauses below)", f"actors.{a.id}.trust.threshold",
                               "float", 0.0, 1.0, 0.01))
        if "delivery" in mine:
            out.append(Control(f"{a.id}: delivers in full (probability)", f"actors.{a.id}.delivery.full",
                               "float", 0.0, round(1.0 - a.delivery.partial, 6), 0.01))  # full + partial <= 1
        for k, inf in enumerate(a.influence):
            out.append(Control(f"{a.id}: pull of {inf.patron} on its acceptance",
                               f"actors.{a.id}.influence[{k}].weight", "float", 0.0, 1.0, 0.01))
    return out


def scenario_controls(spec: Any, data: dict[str, Any]) -> list[Control]:
    """The sidebar's conditions for this scenario, generated from it (nothing is specific to one
    case): protocol, actors, red lines, mechanisms the file sets, and the collectives' inclusion."""
    out = _protocol_controls(spec) + _actor_controls(spec, data)
    for c in spec.collectives:
        out.append(Control(f"{c.name or c.id}: inclusion", f"collectives.{c.id}.inclusion", "choice",
                           options=("excluded", "party")))
    return out


@dataclass(frozen=True)
class Setting:
    """A control bound to one scenario: its model parameter name, its path and its default."""

    name: str
    label: str
    path: str
    kind: Kind
    default: Any
    low: float = 0.0
    high: float = 1.0
    step: float = 1.0
    options: tuple[str, ...] = ()
    after: Callable[[dict[str, Any], str, Any], None] | None = None

    def cast(self, value: Any) -> Any:
        """``value`` as this setting's type. A slider takes a finite number only (a widget message
        may carry anything): ``ValueError`` for text, NaN, infinity or a number too large for a float.
        The scenario's schema checks the range."""
        if self.kind == "choice":
            return str(value)
        try:
            x = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"not a number: {_short(value)}") from None
        if not math.isfinite(x):
            raise ValueError(f"not a finite number: {_short(value)}")
        return int(round(x)) if self.kind == "int" else round(x, 6)

    def apply(self, data: dict[str, Any], value: Any) -> None:
        """Set ``value`` at this setting's path in scenario ``data`` (in place)."""
        set_path(data, self.path, value)
        if self.after is not None:
            self.after(data, self.path, value)

    def user_param(self) -> dict[str, Any]:
        """The SolaraViz ``model_params`` entry."""
        if self.kind == "choice":
            return {"type": "Select", "label": self.label, "value": self.default, "values": list(self.options)}
        slider = "SliderInt" if self.kind == "int" else "SliderFloat"
        lo, hi, st = (int(self.low), int(self.high), int(self.step)) if self.kind == "int" else (
            self.low, self.high, self.step)
        return {"type": slider, "label": self.label, "value": self.default, "min": lo, "max": hi, "step": st}


def _short(value: Any, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _compiles(data: dict[str, Any], file: str, lines: LineMap, setting: Setting, value: Any) -> bool:
    trial = copy.deepcopy(data)
    try:
        setting.apply(trial, value)
        scn.parse(trial, file, scn.switched_kind_lines(trial, lines, data))
    except (InputError, PathError, KeyError, TypeError, ValueError):
        return False
    return True


def bind_controls(
    data: dict[str, Any], file: str, lines: LineMap, base: scn.Scenario, controls: Sequence[Control] | None = None
) -> list[Setting]:
    """The controls that apply to this scenario (by default those ``scenario_controls`` generates),
    with its values as defaults.

    A control is dropped when its path cannot be set in the scenario's data or the result does
    not compile (the schema does not know the field, or the scenario lacks the actor or entry).
    """
    if controls is None:
        controls = scenario_controls(base.spec, data)
    spec = base.spec.model_dump(mode="json")  # the scenario with the schema's defaults filled in
    actors = [a["id"] for a in spec["actors"]]
    out: list[Setting] = []
    for c in controls:
        pairs = [(c.path.format(actor=a), c.label.format(actor=a)) for a in actors] if "{actor}" in c.path else [
            (c.path, c.label)]
        for path, label in pairs:
            options = tuple(c.options() if callable(c.options) else c.options)
            name = "".join(ch if ch.isalnum() else "_" for ch in path)
            s = Setting(name, label, path, c.kind, None, c.low, c.high, c.step, options, c.after)
            try:
                current = get_path(spec, path)
            except (KeyError, PathError):
                current = None
            if current is None:  # not set: offer a value that compiles, applied only if changed
                current = options[0] if c.kind == "choice" and options else (c.low + c.high) / 2
            current = s.cast(current)
            if not _compiles(data, file, lines, s, current):
                continue
            if c.kind == "choice":
                options = tuple(o for o in options if o == current or not c.check_options
                                or _compiles(data, file, lines, s, o))
                if current not in options:
                    options = (current, *options)
            lo = min(c.low, current) if c.kind != "choice" else c.low
            hi = max(c.high, current) if c.kind != "choice" else c.high
            out.append(Setting(name, label, path, c.kind, current, lo, hi, c.step, options, c.after))
    return out


# --------------------------------------------------------------------------------------------
# the scenario and the model


@dataclass(frozen=True, eq=False)
class AppScenario:
    """The scenario the app shows: its data (a variant merged with its base), the compiled
    scenario and the bound controls."""

    file: str
    data: dict[str, Any]
    lines: LineMap
    scenario: scn.Scenario
    settings: tuple[Setting, ...]


def scenario_file(given: str | Path | None = None) -> Path:
    """The scenario to show first: ``given``, else ``$BARGAIN_APP_SCENARIO``, else the baseline
    (looked up in the working directory, then in the project)."""
    if given is not None:
        return Path(given)
    if os.environ.get(SCENARIO_ENV):
        return Path(os.environ[SCENARIO_ENV])
    if DEFAULT_SCENARIO.exists():
        return DEFAULT_SCENARIO
    return PROJECT / DEFAULT_SCENARIO


@functools.lru_cache(maxsize=16)
def _load(file: str, stamp: float) -> AppScenario:
    data, lines = scn.load_data(file)
    base = scn.parse(copy.deepcopy(data), file, lines)
    return AppScenario(file, data, lines, base, tuple(bind_controls(data, file, lines, base)))


def app_scenario(given: str | Path | None = None) -> AppScenario:
    """Load (once per version of the file) and check a scenario. Raises ``InputError`` for a bad file."""
    path = scenario_file(given)
    try:
        stamp = path.stat().st_mtime
    except OSError:
        stamp = 0.0  # load_data reports the missing file as one line
    return _load(str(path), stamp)


def scenario_choices(extra: Sequence[str | Path] = ()) -> dict[str, str]:
    """The scenarios the picker offers, ``{shown name: path}``: every ``*.yaml`` in the project's
    ``scenarios/`` and the working folder's, then ``extra`` (the first one shown, uploads)."""
    out: dict[str, str] = {}
    for folder in dict.fromkeys([PROJECT / "scenarios", Path.cwd() / "scenarios"]):
        for f in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            out.setdefault(f.name, str(f))
    for item in extra:
        p = Path(item)
        name = p.name if p.name not in out or out[p.name] == str(p) else f"{p.name} ({p.parent.name})"
        out.setdefault(name, str(p))
    return out


#: Where uploaded scenarios are kept while the server runs.
_UPLOADS = Path(tempfile.mkdtemp(prefix="bargain-app-uploads-"))


def save_upload(name: str, content: bytes) -> tuple[str | None, list[str]]:
    """Keep an uploaded scenario and check it as ``bargain validate`` does: ``(its path, [])``, or
    ``(None, the error lines)`` (one per fault, naming the file, line and field)."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in Path(name).name) or "upload.yaml"
    if not safe.endswith((".yaml", ".yml")):
        return None, [f"{safe}: not a YAML scenario file (.yaml or .yml)"]
    target = _UPLOADS / safe
    target.write_bytes(content)
    try:
        app_scenario(target)
    except InputError as e:
        return None, [line.replace(str(target), safe) for line in e.lines()]
    return str(target), []


class AppNegotiation(Negotiation):
    """The negotiation as the app builds it: a scenario's data with the sidebar's values applied.

    ``file`` is the scenario (default: the first one shown); ``seed`` overrides its seed; other
    keyword arguments are the settings' names (``protocol_max_rounds=12``); a value equal to the
    scenario's own is left alone. If the changed values do not make a valid scenario, the app runs
    the file's own scenario and ``errors`` says why.
    """

    def __init__(self, file: str | Path | None = None, seed: int | None = None, **values: Any) -> None:
        values.pop("scenario", None)
        app = app_scenario(file)
        data = copy.deepcopy(app.data)
        changes: dict[str, tuple[Any, Any]] = {}
        errors: list[str] = []
        for s in app.settings:
            if values.get(s.name) is None:
                continue
            try:
                value = s.cast(values[s.name])
            except ValueError as e:
                errors.append(f"{s.label}: {e}")
                continue
            if value != s.default:
                try:
                    s.apply(data, value)
                except (PathError, KeyError) as e:
                    errors.append(f"{s.label}: {e}")
                changes[s.label] = (s.default, value)
        try:
            compiled = app.scenario if not changes else scn.parse(
                data, app.file, scn.switched_kind_lines(data, app.lines, app.data))
        except InputError as e:
            errors += e.lines()
        except ValueError as e:  # a combination the core refuses
            errors.append(str(e))
        if errors:
            compiled = app.scenario
        super().__init__(compiled, rng=seed)
        self.file = app.file
        self.changes = {} if errors else changes
        self.errors = errors


# --------------------------------------------------------------------------------------------
# figures: drawn at a fixed size in pixels (the page never shrinks them; it scrolls)

#: The resolution of the page's figures: crisp on high-density screens at their natural size.
FIGURE_DPI = 110


def _names(m: Negotiation) -> tuple[str, ...]:
    return m.problem.actor_names or m.problem.actor_ids


def utility_figure(h: History, max_rounds: int, names: Sequence[str] = ()) -> Figure:
    """Each actor's aspiration (line) and its utility of the offer on the table (dots), by round."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    from model.plots import _short_name

    fig = Figure(figsize=(7.6, 3.8), dpi=FIGURE_DPI, layout="constrained")
    ax = fig.subplots()
    t = h.rounds
    handles = []
    for a, aid in enumerate(h.actor_ids):
        c = OKABE_ITO[a % len(OKABE_ITO)]
        ax.plot(t, h.aspiration[:, a], color=c, lw=2)
        ax.plot(t, h.offer_utility[:, a], color=c, lw=0.8, ls=":", marker="o", ms=3.5)
        handles.append(Line2D([], [], color=c, lw=2, label=plain(_short_name(aid, names, a))))
    handles += [Line2D([], [], color="0.3", lw=2, label="aspiration"),
                Line2D([], [], color="0.3", lw=0.8, ls=":", marker="o", ms=3.5, label="utility of offer")]
    if h.agreed and len(t):
        ax.axvline(t[-1], color="0.2", lw=1, ls="--")
    fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize=8)
    ax.set_xlim(0.5, max(max_rounds, 1) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("round")
    ax.set_ylabel("utility (0 worst, 1 ideal)")
    ax.grid(alpha=0.25)
    ax.set_title("Utility of the offer on the table, and aspiration", fontsize=10)
    if not len(t):
        ax.text(0.5, 0.5, "no round played yet: press Step or \u25b6", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    return fig


def issue_figure(h: History, max_rounds: int, labels: Sequence[str] = ()) -> Figure:
    """The value of every issue in the offer on the table, round by round (grey: no offer), each
    issue named by its label."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n = len(h.issue_ids)
    width = max(max_rounds, 1)
    grid = np.full((n, width), np.nan)
    for k, r in enumerate(h.rounds):
        if 1 <= r <= width:
            grid[:, r - 1] = h.offers[k]
    fig = Figure(figsize=(7.6, 0.24 * n + 1.4), dpi=FIGURE_DPI, layout="constrained")
    ax = fig.subplots()
    cmap = colormaps["cividis"].with_extremes(bad="0.93")
    im = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0,
                   interpolation="nearest", extent=(0.5, width + 0.5, n - 0.5, -0.5))
    names = [wrap(labels[i] if i < len(labels) else iid, 45, 1) for i, iid in enumerate(h.issue_ids)]
    ax.set_yticks(range(n), [plain(x) for x in names], fontsize=7.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, label="0: no concession, 1: full")
    ax.set_title("Issue values on the table (grey: no offer)", fontsize=10)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# the summary


def _md(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def summary_markdown(m: AppNegotiation) -> str:
    """The outcome so far, who blocked, each actor's position, and the conditions in force."""
    o = m.outcome
    n = m.max_rounds
    if o is None:
        head = f"Round {m.round} of {n}: " + ("ready (press Step or \u25b6)" if m.round == 0 else "talks go on")
    elif o.agreed:
        head = f"Agreement in round {o.rounds} of {n}"
    else:
        head = f"No agreement ({o.reason}) after {o.rounds} of {n} rounds"
    out = [f"### {_md(head)}"]
    if o is not None:
        out.append(f"**Outcome:** agreed: {'yes' if o.agreed else 'no'} \u00b7 reason: {_md(o.reason)} \u00b7 "
                   f"rounds: {o.rounds}")
        out.append(_md(o.explanation))
        if o.blocked_by:
            out.append("**Blocked by:**\n\n| actor | reason | detail |\n|---|---|---|\n" + "\n".join(
                f"| {_md(a)} | {_md(r)} | {_md(d)} |" for a, r, d in o.blocked_by))
    proto = m.config.spec.protocol
    out.append(f"**Conditions:** protocol {_md(proto.kind)} \u00b7 deadline {proto.max_rounds} rounds \u00b7 "
               f"breakdown risk {proto.breakdown_risk:g} \u00b7 seed {m.seed_used}")
    if m.changes:
        out.append("**Changed from the scenario file:** " + "; ".join(
            f"{_md(label)}: {_md(old)} \u2192 {_md(new)}" for label, (old, new) in m.changes.items()))
    if m.errors:
        out.append("**These settings do not make a valid scenario, so this is the file's own:**\n\n"
                   + "\n".join(f"* {_md(e)}" for e in m.errors))
    if m.round:
        rows = []
        from model.plots import _short_name

        ids = m.problem.actor_ids
        names = {aid: _short_name(aid, _names(m), k) for k, aid in enumerate(ids)}
        for a in m.actors:
            resp = "proposed" if a.proposed else (a.response.reason if a.response else "")
            u = a.offer_utility
            rows.append(f"| {_md(names[a.actor_id])}{'' if a.is_party else ' (no veto)'} | "
                        f"{a.aspiration:.3f} | {'' if np.isnan(u) else f'{u:.3f}'} | {a.reservation:.3f} | "
                        f"{_md(resp)} |")
        out.append(f"**Round {m.round}** (proposer {_md(m.proposer_id or '-')}):\n\n"
                   "| actor | aspiration | utility of offer | reservation | response |\n|---|---|---|---|---|\n"
                   + "\n".join(rows))
    return "\n\n".join(out)


# --------------------------------------------------------------------------------------------
# a sweep's results folder


def results_folders(roots: Sequence[Path] = ()) -> list[str]:
    """Sweep results folders (those with a ``manifest.json``) under ``results/`` of the working
    folder and the project, newest first."""
    found: dict[Path, float] = {}
    for root in roots or (Path.cwd() / "results", PROJECT / "results"):
        for mf in root.glob("*/manifest.json") if root.is_dir() else []:
            found[mf.parent.resolve()] = mf.stat().st_mtime
    return [str(p) for p, _ in sorted(found.items(), key=lambda kv: -kv[1])]


@dataclass(frozen=True)
class SweepView:
    """What the sweep tab shows for a results folder: a line of text, the agreement heatmap (PNG)
    and the PRIM boxes as sentences with their peeling figures (PNG)."""

    text: str
    heatmap: bytes | None
    boxes: tuple[tuple[str, bytes], ...]


def sweep_view(folder: str | Path, n_boxes: int = 2) -> SweepView:
    """The agreement heatmap and PRIM boxes of a sweep's results (the same figures as ``bargain plot``
    and ``bargain discover``). Raises ``ValueError`` (one line) for a folder that is not a sweep's."""
    from model import discovery, plots, results

    d = Path(folder)
    try:
        mf = results.manifest(d)
    except (OSError, ValueError):
        raise ValueError(f"{d}: no readable manifest.json: is this a sweep's results folder?") from None
    df = results.load(d)
    if df.empty:
        raise ValueError(f"{d}: holds no finished runs yet")
    varying = [f"axis.{p}" for p in mf.get("axes", []) if f"axis.{p}" in df and df[f"axis.{p}"].nunique() > 1]
    few = [a for a in varying if df[a].nunique() <= 12]
    heat = None
    name = str(mf.get("experiment", d.name))
    if len(few) >= 2:
        facet = few[2] if len(few) >= 3 and df[few[2]].nunique() <= 6 else None
        pooled = [a for a in varying if a not in (few[0], few[1], facet)]
        fig = plots.agreement_heatmap(df, few[1], few[0], f"{name}: agreement rate", facet, pooled)
        heat = _png(fig)
    elif varying:
        heat = _png(plots.agreement_by_axis(df, varying[0], f"{name}: agreement rate",
                                           pooled=[a for a in varying[1:]]))
    ok = df["error"].isna()
    rate = df.loc[ok, "agreed"].fillna(False).astype(bool).mean() if ok.any() else float("nan")
    text = f"{name}: {len(df)} runs, agreement in {rate:.0%} of the finished ones"
    boxes: list[tuple[str, bytes]] = []
    try:
        found = discovery.discover_results(df, "agreed", n_boxes=n_boxes)
    except ValueError as e:
        text += f"; no scenario discovery: {e}"
        found = []
    for k, r in enumerate(found, 1):
        boxes.append((f"{k}. {discovery.describe(r.box, 'agreement')}",
                      _png(discovery.peeling_plot(r, f"box {k}: agreement"))))
    if not found:
        text += "; PRIM found no box that separates the conditions"
    return SweepView(text, heat, tuple(boxes))


# --------------------------------------------------------------------------------------------
# the page

#: The state of one browser session (solara keeps a reactive variable per session).
_file = solara.reactive("")
_uploads: solara.Reactive[tuple[str, ...]] = solara.reactive(())
_upload_errors: solara.Reactive[tuple[str, ...]] = solara.reactive(())
_seed = solara.reactive("")  # as typed: empty is the scenario's own seed
_values: solara.Reactive[dict[str, Any]] = solara.reactive({})
_model: solara.Reactive[Any] = solara.reactive(None)
_tick = solara.reactive(0)
_results = solara.reactive("")


def _current_file() -> str:
    return _file.value or str(scenario_file())


def seed_value(text: str) -> int | None:
    """The seed typed in the sidebar: ``None`` (the scenario's own) when empty or not a whole
    number from 0 to 2**63 - 1 (the sidebar says so)."""
    t = text.strip()
    if not t.isdigit() or int(t) > 2**63 - 1:
        return None
    return int(t)


def _reset() -> None:
    """A new model from the chosen scenario, seed and settings (the Reset button)."""
    _model.value = AppNegotiation(_current_file(), seed_value(_seed.value), **_values.value)
    _tick.value += 1


def _step(to_end: bool = False) -> None:
    m = _model.value
    if m is None:
        return
    while m.outcome is None and m.running:
        m.step()
        if not to_end:
            break
    _tick.value += 1


def _choose(path: str) -> None:
    _file.value = path
    _values.value = {}
    _reset()


def _on_upload(info: Any) -> None:
    path, errors = save_upload(str(info["name"]), bytes(info["data"]))
    _upload_errors.value = tuple(errors)
    if path is not None:
        _uploads.value = (*[u for u in _uploads.value if u != path], path)
        _choose(path)


def _slider_label(s: Setting, value: Any) -> str:
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{s.label}: {shown}"


@solara.component
def SettingControl(s: Setting) -> None:
    """One condition: a selector, or a slider whose label shows its value (the range is valid)."""
    value = _values.value.get(s.name, s.default)

    def set_value(v: Any) -> None:
        _values.value = {**_values.value, s.name: v}

    with solara.Div(classes=["bargain-control"]):
        if s.kind == "choice":
            solara.Select(label=s.label, values=list(s.options), value=value, on_value=set_value)
        elif s.kind == "int":  # the label, with the value, on its own line: long labels stay readable
            solara.Text(_slider_label(s, int(value)), classes=["bargain-label"], style={"font-size": "0.9em"})
            solara.SliderInt(label="", value=int(value), min=int(s.low), max=int(s.high),
                             step=max(1, int(s.step)), on_value=set_value, thumb_label=True)
        else:
            solara.Text(_slider_label(s, float(value)), classes=["bargain-label"], style={"font-size": "0.9em"})
            solara.SliderFloat(label="", value=float(value), min=s.low, max=s.high,
                               step=s.step, on_value=set_value, thumb_label=True)


@solara.component
def Sidebar(app: AppScenario) -> None:
    choices = scenario_choices([str(scenario_file()), *_uploads.value])
    by_path = {v: k for k, v in choices.items()}
    with solara.Card("Scenario", classes=["bargain-scenario"]):
        solara.Select(label="Scenario file", values=list(choices), value=by_path.get(app.file, Path(app.file).name),
                      on_value=lambda name: _choose(choices[name]))
        solara.FileDrop(label="Or drop a scenario file (.yaml) here", on_file=_on_upload, lazy=False)
        for line in _upload_errors.value:
            solara.Error(line, classes=["bargain-upload-error"])
        solara.InputText("Seed (empty: the scenario's own)", value=_seed.value, on_value=_seed.set,
                         continuous_update=True)
        if _seed.value.strip() and seed_value(_seed.value) is None:
            solara.Warning("The seed is a whole number from 0 to 2**63 - 1; the scenario's own is used.")
        with solara.Row():
            solara.Button("Reset", on_click=_reset, color="primary")
            solara.Button("Step", on_click=lambda: _step(False))
            solara.Button("\u25b6", on_click=lambda: _step(True))
        solara.Markdown("Changed conditions apply on **Reset**. \u25b6 runs to the end.")
    with solara.Card("Conditions", classes=["bargain-conditions"]):
        for s in app.settings:
            SettingControl(s)


def _figure(png: bytes, css: str) -> None:
    """A figure at its natural size (never squeezed below it: the panel scrolls sideways)."""
    with solara.Div(classes=[css], style={"overflow-x": "auto", "max-width": "100%"}):
        solara.Image(png, width="auto")


@solara.component
def RunTab(m: AppNegotiation) -> None:
    _tick.value  # noqa: B018 - the run's panels follow every step (the sidebar does not redraw)
    h = History.from_model(m)
    labels = [i.label for i in m.problem.space.issues]
    utilities = solara.use_memo(lambda: _png(utility_figure(h, m.max_rounds, _names(m))), [id(m), _tick.value])
    issues = solara.use_memo(lambda: _png(issue_figure(h, m.max_rounds, labels)), [id(m), _tick.value])
    with solara.Div(classes=["bargain-summary"], style={"padding": "4px 8px"}):
        solara.Markdown(summary_markdown(m))
    _figure(utilities, "bargain-utilities")
    _figure(issues, "bargain-issues")


@solara.component
def FigureTab(m: AppNegotiation, which: str) -> None:
    """One of ``model.plots``' figures of the run so far (drawn when the tab is open)."""
    from model import plots

    _tick.value  # noqa: B018 - redrawn after every step

    def draw() -> bytes:
        h = History.from_model(m)
        p, title = m.problem, m.config.spec.title
        agreed = m.outcome.package if m.outcome is not None and m.outcome.agreed else None
        offers = h.offers[~np.isnan(h.offers).any(axis=1)] if len(h.offers) else None
        if which == "actors":
            fig = plots.trajectory(h, title, _names(m))
        elif which == "issues":
            fig = plots.issue_values(h, p.space, title, agreed)
        elif which == "timeline":
            fig = plots.timeline(m.events, max(m.round, 1), p.actor_ids, title, p.actor_names)
        else:
            fig = plots.outcome_space(p, agreed, offers, title)
        return _png(fig)

    png = solara.use_memo(draw, [id(m), _tick.value, which])
    _figure(png, f"bargain-{which}")


@solara.component
def SweepTab() -> None:
    folders = results_folders()
    chosen = _results.value or (folders[0] if folders else "")
    solara.InputText("Results folder (a sweep's --out)", value=chosen, on_value=_results.set, continuous_update=False)
    if folders:
        solara.Select(label="or pick one", values=folders, value=chosen if chosen in folders else folders[0],
                      on_value=lambda v: _results.set(v or ""))
    view, error = solara.use_memo(lambda: _safe_view(chosen) if chosen else (None, ""), [chosen])
    if not chosen:
        solara.Info("No results folder yet: run `bargain sweep EXPERIMENT --out results/NAME` first.")
        return
    if error:
        solara.Error(error)
        return
    assert view is not None
    with solara.Div(classes=["bargain-sweep"]):
        solara.Markdown(f"**{_md(view.text)}**")
        if view.heatmap:
            _figure(view.heatmap, "bargain-heatmap")
        for sentence, png in view.boxes:
            solara.Markdown(_md(sentence))
            _figure(png, "bargain-prim")


def _safe_view(folder: str) -> tuple[SweepView | None, str]:
    try:
        return sweep_view(folder), ""
    except ValueError as e:
        return None, str(e)


#: The main area's tabs: (name, what it shows); the timeline only for step-by-step protocols.
TABS = ("Run", "Per actor", "Per issue", "Step by step", "All actors' utility", "Sweep results")


@solara.component
def Page() -> None:
    try:
        app = app_scenario(_current_file())
    except InputError as e:  # a file changed on disk since it was picked
        solara.Error("\n".join(e.lines()))
        return
    if _model.value is None or getattr(_model.value, "file", None) != app.file:
        _model.value = AppNegotiation(app.file, seed_value(_seed.value), **_values.value)
    m = _model.value
    stepwise = bool(getattr(m.protocol, "stepwise", False))
    solara.Title(f"bargain: {app.scenario.spec.title}")
    with solara.AppBar():
        solara.AppBarTitle(f"bargain: {app.scenario.spec.title}")
    with solara.Sidebar():
        Sidebar(app)
    with solara.lab.Tabs():
        with solara.lab.Tab("Run"):
            RunTab(m)
        with solara.lab.Tab("Per actor"):
            FigureTab(m, "actors")
        with solara.lab.Tab("Per issue"):
            FigureTab(m, "issues")
        if stepwise:
            with solara.lab.Tab("Step by step"):
                FigureTab(m, "timeline")
        with solara.lab.Tab("All actors' utility"):
            FigureTab(m, "space")
        with solara.lab.Tab("Sweep results"):
            SweepTab()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free now."""
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve(scenario: str | Path | None = None, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the app with solara on ``host:port`` until interrupted (no browser is opened).

    Raises:
        InputError: the scenario file is bad (checked before the server starts).
    """
    from solara.__main__ import run
    from solara.server import settings

    path = scenario_file(scenario).resolve()
    app_scenario(path)
    os.environ[SCENARIO_ENV] = str(path)
    settings.telemetry.mixpanel_enable = False
    # solara warns about cookies on any host but "localhost", though plain http on 127.0.0.1 is what we serve
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https", category=UserWarning)
    run.main(["model.app", "--host", host, "--port", str(port), "--no-open", "--production",
              "--no-check-version"], prog_name="bargain app", standalone_mode=False)
