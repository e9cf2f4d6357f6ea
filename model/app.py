"""``bargain app``: explore a scenario in the browser with Mesa's SolaraViz.

``bargain app [SCENARIO]`` serves this module with solara (``serve``); the scenario file reaches
the page through the environment variable ``BARGAIN_APP_SCENARIO``. The sidebar holds the
scenario's main conditions, listed in ``CONTROLS`` (one line each: a label, a dotted path into
the scenario as in experiment files, and the values it takes). They apply when the model is
reset: the app sets each changed path in the scenario's YAML data (``model.experiment.set_path``)
and compiles it again (``model.scenario.parse``). A control whose path this scenario (or the
schema) does not have is left out, so controls for conditions the schema does not know yet
simply do not show.

The main page shows the outcome so far (``model.outcome``, who blocked), each actor's utility of
the offer on the table and its aspiration, and the issue values on the table, all read from the
model's DataCollector; the second page shows the per-actor and per-issue panels of
``model.plots``, which take longer to draw.

Needs the ``app`` extra (``mesa[viz]``, which brings solara).
"""

from __future__ import annotations

import copy
import functools
import io
import math
import os
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter
from pydantic import ValidationError

from model import scenario as scn
from model.core import STRATEGIES
from model.errors import InputError
from model.experiment import PathError, parse_path, set_path
from model.negotiation import Negotiation
from model.plots import OKABE_ITO, plain
from model.report import History
from model.yamlio import LineMap, load_yaml

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The environment variable that names the scenario file the page shows.
SCENARIO_ENV = "BARGAIN_APP_SCENARIO"
#: The scenario shown when none is given (relative to the working directory or the project).
DEFAULT_SCENARIO = Path("scenarios") / "belarus_us_2025.yaml"

Kind = Literal["int", "float", "choice"]


# --------------------------------------------------------------------------------------------
# the controls


def protocol_kinds() -> list[str]:
    """The protocols the scenario schema knows: the values of ``ProtocolSpec.kind``'s Literal."""
    return _literal_values(scn.ProtocolSpec.model_fields["kind"].annotation)


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
        STRATEGIES[str(name)].Params(**params)
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


#: The sidebar, in order. Adding a condition is one line.
CONTROLS: tuple[Control, ...] = (
    Control("Protocol", "protocol.kind", "choice", options=protocol_kinds, check_options=True),
    Control("Deadline (rounds)", "protocol.max_rounds", "int", 1, 120, 1),
    Control("Breakdown risk per round", "protocol.breakdown_risk", "float", 0.0, 0.2, 0.01),
    Control("{actor}: strategy", "actors.{actor}.strategy.name", "choice", options=strategy_names,
            after=_fit_strategy_params),
    Control("BLR: prior trust", "actors.BLR.trust.prior", "float"),
    Control("U.S. delivery reliability (promise kept in full)", "actors.USA.delivery.full", "float"),
    Control("Russian influence on Minsk's acceptance", "actors.BLR.influence[0].weight", "float"),
    Control("EU inclusion", "collectives.EU.inclusion", "choice", options=("excluded", "party")),
)


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


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (list items by ``id`` or ``[index]``); ``KeyError`` if absent."""
    cur = data
    for tok in parse_path(path):
        if isinstance(cur, list):
            if isinstance(tok, int):
                if not 0 <= tok < len(cur):
                    raise KeyError(path)
                cur = cur[tok]
            else:
                match = [x for x in cur if isinstance(x, dict) and x.get("id") == tok]
                if not match:
                    raise KeyError(path)
                cur = match[0]
        elif isinstance(cur, dict) and not isinstance(tok, int) and tok in cur:
            cur = cur[tok]
        else:
            raise KeyError(path)
    return cur


def _compiles(data: dict[str, Any], file: str, lines: LineMap, setting: Setting, value: Any) -> bool:
    trial = copy.deepcopy(data)
    try:
        setting.apply(trial, value)
        scn.parse(trial, file, lines)
    except (InputError, PathError, KeyError, TypeError, ValueError):
        return False
    return True


def bind_controls(
    data: dict[str, Any], file: str, lines: LineMap, base: scn.Scenario, controls: Sequence[Control] = CONTROLS
) -> list[Setting]:
    """The controls that apply to this scenario, with its values as defaults.

    A control is dropped when its path cannot be set in the scenario's data or the result does
    not compile (the schema does not know the field, or the scenario lacks the actor or entry).
    """
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
    """The scenario the app shows: its YAML data, the compiled scenario and the bound controls."""

    file: str
    data: dict[str, Any]
    lines: LineMap
    scenario: scn.Scenario
    settings: tuple[Setting, ...]

    def model_params(self) -> dict[str, Any]:
        return {s.name: s.user_param() for s in self.settings}


def scenario_file(given: str | Path | None = None) -> Path:
    """The scenario to show: ``given``, else ``$BARGAIN_APP_SCENARIO``, else the baseline (looked up
    in the working directory, then in the project)."""
    if given is not None:
        return Path(given)
    if os.environ.get(SCENARIO_ENV):
        return Path(os.environ[SCENARIO_ENV])
    if DEFAULT_SCENARIO.exists():
        return DEFAULT_SCENARIO
    return Path(__file__).resolve().parent.parent / DEFAULT_SCENARIO


@functools.lru_cache(maxsize=8)
def _load(file: str) -> AppScenario:
    data, lines = load_yaml(file)
    base = scn.parse(copy.deepcopy(data), file, lines)
    return AppScenario(file, data, lines, base, tuple(bind_controls(data, file, lines, base)))


def app_scenario(given: str | Path | None = None) -> AppScenario:
    """Load (once) and check the scenario the app shows. Raises ``InputError`` for a bad file."""
    return _load(str(scenario_file(given)))


class AppNegotiation(Negotiation):
    """The negotiation as the app builds it: the scenario's data with the sidebar's values applied.

    Keyword arguments are the settings' names (``protocol_max_rounds=12``); a value equal to the
    scenario's own is left alone. If the changed values do not make a valid scenario, the app
    runs the file's own scenario and ``errors`` says why.
    """

    def __init__(self, **values: Any) -> None:
        values.pop("scenario", None)  # Mesa's own scenario object, which SolaraViz passes on reset
        app = app_scenario()
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
            compiled = app.scenario if not changes else scn.parse(data, app.file, app.lines)
        except InputError as e:
            errors += e.lines()
        except ValueError as e:  # a combination the core refuses
            errors.append(str(e))
        if errors:
            compiled = app.scenario
        super().__init__(compiled)
        self.changes = {} if errors else changes
        self.errors = errors


# --------------------------------------------------------------------------------------------
# figures (one axes each: fast enough to redraw every round)


def utility_figure(h: History, max_rounds: int, names: Sequence[str] = ()) -> Figure:
    """Each actor's aspiration (line) and its utility of the offer on the table (dots), by round."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(5.4, 3.4), dpi=100)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.11, right=0.73, bottom=0.14, top=0.9)
    t = h.rounds
    handles = []
    for a, aid in enumerate(h.actor_ids):
        c = OKABE_ITO[a % len(OKABE_ITO)]
        ax.plot(t, h.aspiration[:, a], color=c, lw=2)
        ax.plot(t, h.offer_utility[:, a], color=c, lw=0.8, ls=":", marker="o", ms=3.5)
        handles.append(Line2D([], [], color=c, lw=2, label=plain(names[a] if a < len(names) else aid)))
    handles += [Line2D([], [], color="0.3", lw=2, label="aspiration"),
                Line2D([], [], color="0.3", lw=0.8, ls=":", marker="o", ms=3.5, label="utility of offer")]
    if h.agreed and len(t):
        ax.axvline(t[-1], color="0.2", lw=1, ls="--")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.02), frameon=False, fontsize=8)
    ax.set_xlim(0.5, max(max_rounds, 1) + 0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("round")
    ax.set_ylabel("utility")
    ax.grid(alpha=0.25)
    ax.set_title("Utility of the offer on the table and aspiration", fontsize=10)
    if not len(t):
        ax.text(0.5, 0.5, "no round played yet: press Step or \u25b6", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    return fig


def issue_figure(h: History, max_rounds: int) -> Figure:
    """The value of every issue in the offer on the table, round by round (grey: no offer)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    n = len(h.issue_ids)
    width = max(max_rounds, 1)
    grid = np.full((n, width), np.nan)
    for k, r in enumerate(h.rounds):
        if 1 <= r <= width:
            grid[:, r - 1] = h.offers[k]
    height = 0.15 * n + 1.2
    fig = Figure(figsize=(5.4, height), dpi=100)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.36, right=0.9, bottom=0.75 / height, top=1 - 0.4 / height)
    cmap = colormaps["cividis"].with_extremes(bad="0.93")
    im = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0,
                   interpolation="nearest", extent=(0.5, width + 0.5, n - 0.5, -0.5))
    ax.set_yticks(range(n), [plain(i) for i in h.issue_ids], fontsize=7)
    ax.set_xlabel("round")
    fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, label="0: no concession, 1: full")
    ax.set_title("Issue values on the table (grey: no offer)", fontsize=10)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
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
               f"breakdown risk {proto.breakdown_risk:g} \u00b7 seed {m.config.seed}")
    if m.changes:
        out.append("**Changed from the scenario file:** " + "; ".join(
            f"{_md(label)}: {_md(old)} \u2192 {_md(new)}" for label, (old, new) in m.changes.items()))
    if m.errors:
        out.append("**These settings do not make a valid scenario, so this is the file's own:**\n\n"
                   + "\n".join(f"* {_md(e)}" for e in m.errors))
    if m.round:
        rows = []
        for a in m.actors:
            resp = "proposed" if a.proposed else (a.response.reason if a.response else "")
            u = a.offer_utility
            rows.append(f"| {_md(a.actor_id)}{'' if a.is_party else ' (observer)'} | {a.aspiration:.3f} | "
                        f"{'' if np.isnan(u) else f'{u:.3f}'} | {a.reservation:.3f} | {_md(resp)} |")
        out.append(f"**Round {m.round}** (proposer {_md(m.proposer_id or '-')}):\n\n"
                   "| actor | aspiration | utility of offer | reservation | response |\n|---|---|---|---|---|\n"
                   + "\n".join(rows))
    return "\n\n".join(out)


# --------------------------------------------------------------------------------------------
# the page


def _key(m: AppNegotiation) -> list[Any]:
    return [id(m), m.round, m.running]


@solara.component
def Summary(model: AppNegotiation) -> None:
    update_counter.get()
    with solara.Column(classes=["bargain-summary"], style={"height": "100%", "overflow": "auto", "padding": "4px 8px"}):
        solara.Markdown(summary_markdown(model))


def _figure_panel(model: AppNegotiation, draw: Callable[[History], Any], css: str) -> None:
    """A figure of the run so far, redrawn only when the round changes (called inside a component)."""
    update_counter.get()
    png = solara.use_memo(lambda: _png(draw(History.from_model(model))), _key(model))
    with solara.Column(classes=[css]):
        solara.Image(png, width="100%")


@solara.component
def Utilities(model: AppNegotiation) -> None:
    names = model.problem.actor_ids
    _figure_panel(model, lambda h: utility_figure(h, model.max_rounds, names), "bargain-utilities")


@solara.component
def Issues(model: AppNegotiation) -> None:
    _figure_panel(model, lambda h: issue_figure(h, model.max_rounds), "bargain-issues")


@solara.component
def Trajectory(model: AppNegotiation) -> None:
    """The project's per-actor figure (``model.plots.trajectory``; slower to draw, so on the second page)."""
    from model import plots

    _figure_panel(model, lambda h: plots.trajectory(h, model.config.spec.name), "bargain-trajectory")


@solara.component
def IssuePanels(model: AppNegotiation) -> None:
    """The project's per-issue figure (``model.plots.issue_values``)."""
    from model import plots

    _figure_panel(model, plots.issue_values, "bargain-issue-panels")


@solara.component
def Page() -> None:
    app = app_scenario()
    model = solara.use_memo(AppNegotiation, [])
    components: list[Any] = [(Summary, 0), (Utilities, 0), (Issues, 0), (Trajectory, 1), (IssuePanels, 1)]
    SolaraViz(model, components=components, model_params=app.model_params(),
              name=f"bargain: {app.scenario.spec.title}")


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

