"""Names for readers: the one place where a condition's path or a result column gets its label.

Experiments, tables and DataFrames address things by path (``actors.BLR.red_lines.no_russia_exit.min``)
or by column (``axis.<path>``, ``value.<issue>``); a reader wants "Minsk's red line on Russia:
maximum" or "EU sanctions (agreed value)". ``label_of`` turns a path into such a label from the
scenario's own ``label`` fields (issues, red lines) and actor names; ``column_labels`` does it for
every column of a sweep's results (``model.results.load`` puts the mapping in ``df.attrs["labels"]``).
Paths stay the keys: a label is for display only and never parsed back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from model.paths import PathError, parse_path

#: Labels of a run's outcome columns (``model.sweep.rows.OUTCOME_COLUMNS``) and row keys.
OUTCOME_LABELS: dict[str, str] = {
    "agreed": "Agreement",
    "reason": "How the talks ended",
    "rounds": "Rounds",
    "nash_product": "Nash product",
    "blocked_by": "Blocked by",
    "error": "Error",
    "run_id": "Run",
    "point_id": "Point",
    "replicate": "Replicate",
    "seed": "Seed",
}

#: Labels of the run counts (``metric.<name>``, ``model.negotiation.METRICS``).
METRIC_LABELS: dict[str, str] = {
    "tranches": "Tranches agreed",
    "deliveries": "Deliveries made",
    "delivered_share": "Share delivered",
    "pauses": "Pauses",
    "pause_rounds": "Rounds in pause",
    "implemented": "Implemented moves",
    "spoilers": "Spoiler events",
}

#: How per-issue and per-actor columns read: ``value.<issue>`` -> "<issue label> (agreed value)".
COLUMN_FORMS: dict[str, str] = {
    "value": "{} (agreed value)",
    "state": "{} (final state)",
    "utility": "Utility of {}",
}

#: Words for scenario fields that read badly as they are.
FIELD_WORDS: dict[str, str] = {
    "min": "minimum",
    "max": "maximum",
    "position": "ideal position",
    "reservation": "value of no deal",
    "max_rounds": "number of rounds",
    "breakdown_risk": "risk of breakdown per round",
    "params": "",
    "full": "full delivery",
    "prior": "prior",
}


def scenario_data(scenario: Any) -> Mapping[str, Any]:
    """Scenario data from a data mapping, a ``ScenarioSpec`` or a compiled ``Scenario``."""
    if isinstance(scenario, Mapping):
        return scenario
    spec = getattr(scenario, "spec", scenario)
    dump = getattr(spec, "model_dump", None)
    return dump(mode="json") if callable(dump) else {}


def _find(items: Any, key: str | int) -> Any:
    """The item of a list that ``key`` names (an index or an ``id``), or ``None``."""
    if not isinstance(items, list):
        return None
    if isinstance(key, int):
        return items[key] if 0 <= key < len(items) else None
    return next((it for it in items if isinstance(it, dict) and it.get("id") == key), None)


def actor_name(data: Mapping[str, Any], actor: str) -> str:
    """An actor's short name: its ``name`` up to the first parenthesis ("United States"), or its id."""
    act = _find(data.get("actors"), actor)
    name = str(act.get("name") or actor) if isinstance(act, dict) else actor
    return name.split(" (")[0].strip() or actor


def issue_label(data: Mapping[str, Any], issue: str) -> str:
    """An issue's ``label``, or its id."""
    iss = _find(data.get("issues"), issue)
    return str(iss.get("label") or issue) if isinstance(iss, dict) else issue


def red_line_label(data: Mapping[str, Any], actor: str, key: str | int) -> str | None:
    """A red line's ``label``, else "<actor>'s red line on <issue>"; ``None`` if there is no such line."""
    act = _find(data.get("actors"), actor)
    rl = _find(act.get("red_lines") if isinstance(act, dict) else None, key)
    if not isinstance(rl, dict):
        return None
    return str(rl.get("label") or f"{actor_name(data, actor)}'s red line on {issue_label(data, str(rl.get('issue')))}")


def _words(tokens: Iterable[str | int]) -> str:
    out = []
    for t in tokens:
        word = FIELD_WORDS.get(t, str(t).replace("_", " ")) if isinstance(t, str) else f"#{t + 1}"
        if word:
            out.append(word)
    return " ".join(out)


def _actor_part(data: Mapping[str, Any], actor: str, rest: list[str | int]) -> str:
    """The label of a path below ``actors.<actor>``."""
    who = actor_name(data, actor)
    if len(rest) >= 2 and rest[0] == "red_lines":
        line = red_line_label(data, actor, rest[1])
        if line is not None:
            tail = _words(rest[2:])
            return f"{line}: {tail}" if tail else line
    if len(rest) >= 2 and rest[0] == "issues" and isinstance(rest[1], str):
        tail = _words(rest[2:]) or "stance"
        return f"{who}: {tail} on {issue_label(data, rest[1])}"
    if len(rest) >= 2 and rest[0] == "influence":
        act = _find(data.get("actors"), actor)
        inf = _find(act.get("influence") if isinstance(act, dict) else None, rest[1])
        if isinstance(inf, dict) and inf.get("patron"):
            return f"{who}: {actor_name(data, str(inf['patron']))}'s {_words(rest[2:]) or 'influence'}".rstrip()
    return f"{who}: {_words(rest)}" if rest else who


def label_of(path: str, scenario: Any = None) -> str:
    """A reader's label for a condition's path or a result column.

    ``scenario`` (data, spec or compiled scenario) supplies the issues', red lines' and actors'
    names; without it, or where the path names nothing in it, the label falls back to the
    path's own words. Never raises: a label is for display.
    """
    data = scenario_data(scenario) if scenario is not None else {}
    if path.startswith("axis."):
        return label_of(path.removeprefix("axis."), data)
    if path in OUTCOME_LABELS:
        return OUTCOME_LABELS[path]
    head, _, tail = path.partition(".")
    if head == "metric" and tail:
        return METRIC_LABELS.get(tail, tail.replace("_", " "))
    if head in COLUMN_FORMS and tail and "." not in tail:
        name = actor_name(data, tail) if head == "utility" else issue_label(data, tail)
        return COLUMN_FORMS[head].format(name)
    try:
        tokens = parse_path(path)
    except PathError:
        return path
    if tokens[0] == "actors" and len(tokens) >= 2:
        return _actor_part(data, str(tokens[1]), tokens[2:])
    if tokens[0] == "issues" and len(tokens) >= 2:
        return f"{issue_label(data, str(tokens[1]))}: {_words(tokens[2:])}".rstrip(": ")
    if tokens[0] == "protocol" and len(tokens) >= 2:  # the protocol's own words read in a sentence
        return "protocol" if tokens[1:] == ["kind"] else _words(tokens[1:])
    return _words(tokens) or path


def column_labels(columns: Iterable[str], scenario: Any = None,
                  axis_labels: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The label of every column: ``axis.<path>`` from ``axis_labels`` (an experiment's own
    ``label:`` for a path) where given, else ``label_of``."""
    given = {p: lab for p, lab in (axis_labels or {}).items() if lab}
    data = scenario_data(scenario) if scenario is not None else {}
    out: dict[str, str] = {}
    for c in columns:
        p = c.removeprefix("axis.")
        out[c] = given[p] if c.startswith("axis.") and p in given else label_of(c, data)
    return out


def column_label(df: Any, column: str) -> str:
    """The label of a DataFrame's column: from ``df.attrs["labels"]`` (``model.results.load``),
    else the column without its ``axis.`` prefix (a frame built by hand)."""
    labels = getattr(df, "attrs", {}).get("labels") or {}
    return str(labels.get(column) or column.removeprefix("axis."))
