"""``bargain schema``: the JSON Schema of a scenario file, and the field reference drawn from it.

The schema is pydantic's ``ScenarioSpec.model_json_schema()`` (the model that reads every scenario,
so the two cannot drift apart), with a description on each field: the ``#:`` comment written above
the field in the source where there is one, else a note below (``NOTES``). Editors use it for
completion and inline errors (VS Code's YAML extension: ``# yaml-language-server: $schema=...``).
``docs/reference.md`` is ``reference_markdown()`` of it; ``tests/test_tutorial.py`` checks that the
committed file is up to date (regenerate: ``bargain schema --reference docs/reference.md``).
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from pathlib import Path
from typing import Any

import click

#: Descriptions of fields that have no ``#:`` comment in the source: what each means and what it
#: does in the model (docs/model.md and docs/protocols.md say more).
NOTES: dict[str, dict[str, str]] = {
    "ScenarioSpec": {
        "name": "Short id of the scenario (letters, digits, _); names its results.",
        "title": "One line saying what is modelled; the title of every figure and report.",
        "description": "A paragraph for readers: what the scenario models and where its numbers come from.",
        "seed": "Seed of the run's random draws (same seed, same run); `bargain run --seed` overrides it.",
        "issues": "The issues on the table, each on [0, 1] (at least one).",
        "actors": "The actors (at least two). Parties (`consent: true`) propose and must all accept.",
        "protocol": "How the talks proceed: `kind` (package, incremental, framework, mediated, eum, sequence) and its "
                    "settings. Left out: the package protocol with its defaults.",
        "collectives": "Issues owned by a group (the EU's sanctions): moving them needs every member's consent.",
        "spoilers": "Outside shocks that fire at random or in given rounds (step-by-step protocols).",
        "sources": "Citations, by key: a text or `{title, url, accessed, note}`. Fields cite them in `source:`.",
    },
    "IssueSpec": {
        "id": "Short id (letters, digits, _), used in stances, red lines and experiment paths.",
        "label": "The readable name: figures, reports and the explorer show it instead of the id.",
        "kind": "`continuous` (any value in [0, 1]) or `ordinal` (only the values of its `levels`).",
        "levels": "An ordinal issue's named levels, `{name, value}` in increasing value.",
        "status_quo": "Where the issue stands without agreement: a number, or a level name for an ordinal issue.",
        "controlled_by": "The actor that must deliver a move on this issue in the step-by-step protocols "
                         "(`incremental`, `framework`); its trust, delivery and pauses then apply. Without it "
                         "a move takes effect at once.",
        "description": "A longer explanation for readers.",
        "source": "Where the numbers come from (a key of `sources` or free text).",
    },
    "Level": {"name": "The level's id (letters, digits, _); figures show it with spaces.",
              "value": "Its place on [0, 1]."},
    "ActorSpec": {
        "id": "Short id (letters, digits, _): `USA`, `BLR`.",
        "name": "The readable name, shown in figures and reports.",
        "capability": "Power to move the outcome: its votes are capability x salience. Read only by the `eum` "
                      "protocol (expected-utility model).",
        "consent": "Whether an agreement needs this actor's acceptance (a party). `false`: an outside actor "
                   "with preferences, influence or spoilers but no vote.",
        "issues": "The actor's stance on each issue, by issue id: `{position, salience}`. An issue left out "
                  "gets salience 0 (the actor does not care about it); `bargain validate` warns.",
        "reservation": "The utility of no agreement: `status_quo` (its utility of the status quo) or a number.",
        "curvature": "The exponent γ of the loss `|x - ideal|^γ`: 1 linear (city-block), 2 quadratic (flat "
                     "near the ideal point, risk-averse), below 1 steep near the ideal point.",
        "discount": "Per-round patience in (0, 1]; left out: the protocol's `discount`.",
        "red_lines": "Hard bounds the actor never accepts a package outside of.",
        "strategy": "How the actor concedes over time: `{name, params}` (see Strategies below).",
        "trust": "Trust in the others' delivery (step-by-step protocols).",
        "delivery": "How reliably the actor delivers what it promised (step-by-step protocols).",
        "influence": "Patrons that pull on this actor's acceptance and may veto.",
        "win_set": "Domestic ratification: deals below a level may fail at home.",
        "source": "Where the actor's numbers come from.",
    },
    "Stance": {
        "position": "The actor's ideal value: a number in [0, 1], or a level name for an ordinal issue.",
        "salience": "How much the issue matters to the actor, in [0, 1]; normalised over its issues.",
        "source": "Where the numbers come from.",
    },
    "RedLineSpec": {
        "id": "Short id of the line (letters, digits, _), unique per actor; experiments address the line "
              "by it (`actors.BLR.red_lines.no_russia_exit.min`), so reordering lines changes nothing.",
        "label": "The readable name (\"Minsk's red line on Russia\"): tables, figures and reports show it.",
        "issue": "The issue bounded (its id).",
        "min": "The lowest value the actor accepts.",
        "max": "The highest value the actor accepts.",
        "when": "Only when this condition on another issue holds (a conditional red line).",
        "source": "Where the red line comes from.",
        "note": "A readable reason, for reports.",
    },
    "StrategySpec": {
        "name": "The concession strategy (see Strategies below).",
        "params": "Its parameters (each strategy's are listed below; others are an error).",
    },
    "Condition": {"issue": "The issue the condition reads.", "above": "Holds when the issue is above this value.",
                  "below": "Holds when the issue is below this value.", "source": "Where it comes from."},
}


#: The settings every protocol shares (``model.protocols.base.ProtocolParams`` and ``OfferParams``).
PROTOCOL_NOTES = {
    "kind": "Which protocol (docs/protocols.md).",
    "max_rounds": "The deadline: the talks end without agreement after this many rounds.",
    "discount": "Every actor's per-round discount factor (patience), unless the actor sets its own.",
    "breakdown_risk": "The chance, each round, that the talks collapse for good.",
    "order": "The order in which the parties propose (actor ids); left out: the actors' order.",
    "margin": "What the parties add to their aspiration when they judge an offer (0: no margin).",
}


def _field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comments above the fields of ``cls`` and of its bases (its own win)."""
    out: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if base.__module__.startswith("model."):
            out.update(_own_field_comments(base))
    return out


def _own_field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment lines written just above each field of ``cls``, joined: the source's own
    documentation of the field (an empty mapping when the source cannot be read)."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    src = textwrap.dedent("".join(lines))
    out: dict[str, str] = {}
    text = src.splitlines()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            k, note = node.lineno - 2, list[str]()
            while k >= 0 and text[k].strip().startswith("#:"):
                note.insert(0, text[k].strip().removeprefix("#:").strip())
                k -= 1
            if note:
                out[node.target.id] = " ".join(note)
    return out


def _models() -> dict[str, type]:
    """Every pydantic model the scenario schema is made of, by its name in ``$defs``."""
    from pydantic import BaseModel

    from model.scenario import ScenarioSpec

    found: dict[str, type] = {}

    def visit(cls: type) -> None:
        if cls.__name__ in found:
            return
        found[cls.__name__] = cls
        for f in cls.model_fields.values():  # type: ignore[attr-defined]
            for t in _types_in(f.annotation):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    visit(t)

    visit(ScenarioSpec)
    return found


def _types_in(annotation: Any) -> list[Any]:
    """Every type named in an annotation (through unions, lists, dicts and ``Annotated``)."""
    from typing import get_args

    out = [annotation]
    for a in get_args(annotation):
        out += _types_in(a)
    return out


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, with a description on every documented
    field and the known strategy names as an ``enum``."""
    from model.scenario import ScenarioSpec
    from model.strategy_params import PARAMS

    schema = ScenarioSpec.model_json_schema()
    models = _models()
    defs = schema.setdefault("$defs", {})
    for name, cls in models.items():
        target = schema if name == "ScenarioSpec" else defs.get(name)
        if target is None:
            continue
        common = PROTOCOL_NOTES if name.endswith("Params") else {}
        notes = {**common, **NOTES.get(name, {}), **_field_comments(cls)}
        for field, prop in target.get("properties", {}).items():
            if field in notes and "description" not in prop:
                prop["description"] = notes[field]
    strategy = defs.get("StrategySpec", {}).get("properties", {}).get("name")
    if strategy is not None:
        strategy["enum"] = sorted(PARAMS)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "grand-bargain scenario"
    schema["description"] = ("A scenario file of grand-bargain (YAML or JSON): the issues, the actors and the "
                             "protocol of one negotiation. Reference: docs/reference.md.")
    return schema


# --------------------------------------------------------------------------------------------
# the reference, as Markdown


def _type_text(prop: dict[str, Any]) -> str:
    """A property's type in words: ``number in [0, 1]``, ``list of ActorSpec``, ``one of ...``."""
    if "$ref" in prop:
        return f"[{prop['$ref'].rsplit('/', 1)[-1]}](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    for key in ("anyOf", "oneOf"):
        if key in prop:
            parts = [_type_text(p) for p in prop[key] if p.get("type") != "null"]
            return " or ".join(dict.fromkeys(parts))
    t = prop.get("type", "any")
    if t == "array":
        return "list of " + _type_text(prop.get("items", {}))
    if t == "object":
        inner = prop.get("additionalProperties") or next(iter(prop.get("patternProperties", {}).values()), None)
        return "mapping" + (" of " + _type_text(inner) if isinstance(inner, dict) and inner else "")
    return str(t) + _range_text(prop)


def _range_text(prop: dict[str, Any]) -> str:
    lo = prop.get("minimum", prop.get("exclusiveMinimum"))
    hi = prop.get("maximum", prop.get("exclusiveMaximum"))
    if lo is None and hi is None:
        return ""
    left = "(" if "exclusiveMinimum" in prop else "["
    right = ")" if "exclusiveMaximum" in prop else "]"
    if hi is None or hi > 2**62:  # unbounded above (a seed)
        return f" >= {_num(lo)}" if left == "[" else f" > {_num(lo)}"
    if lo is None:
        return f" <= {_num(hi)}" if right == "]" else f" < {_num(hi)}"
    return f" in {left}{_num(lo)}, {_num(hi)}{right}"


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _default_text(name: str, prop: dict[str, Any], required: list[str]) -> str:
    if name in required:
        return "**required**"
    if "default" not in prop:
        return ""
    d = prop["default"]
    return "none" if d is None else f"`{json.dumps(d)}`" if not isinstance(d, dict | list) or d else "empty"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _model_table(title: str, model: dict[str, Any]) -> list[str]:
    out = [f"## {title}", ""]
    if model.get("description"):
        out += [" ".join(model["description"].split()), ""]
    out += ["| field | type | default | what it means |", "| --- | --- | --- | --- |"]
    required = model.get("required", [])
    for name, prop in model.get("properties", {}).items():
        out.append(f"| `{name}` | {_cell(_type_text(prop))} | {_default_text(name, prop, required)} | "
                   f"{_cell(prop.get('description', ''))} |")
    return out + [""]


def _strategies() -> list[str]:
    from model.strategy_params import PARAMS

    out = ["## Strategies", "", "`strategy: {name: ..., params: {...}}`; a parameter not listed is an error.", "",
           "| strategy | parameter | default | what it means |", "| --- | --- | --- | --- |"]
    for name in sorted(PARAMS):
        fields = PARAMS[name].model_fields
        if not fields:
            out.append(f"| `{name}` | (none) | | |")
        for p, f in fields.items():
            out.append(f"| `{name}` | `{p}` | `{f.default}` | {_cell(f.description or '')} |")
    return out + [""]


def reference_markdown(schema: dict[str, Any] | None = None) -> str:
    """The field reference of a scenario file (``docs/reference.md``), from the JSON Schema."""
    s = schema if schema is not None else scenario_schema()
    out = ["# Scenario file reference", "",
           "<!-- Generated by `bargain schema --reference docs/reference.md` from the scenario schema "
           "(model/cli_schema.py); do not edit by hand. -->", "",
           "Every field of a scenario file, with its type, default and meaning. The same schema as JSON "
           "Schema, for editors: `bargain schema --out scenario.schema.json`, then put "
           "`# yaml-language-server: $schema=scenario.schema.json` at the top of a scenario. "
           "Unknown fields are errors. A walk-through: docs/tutorial.md.", ""]
    out += _model_table("Scenario (top level)", s)
    defs = s.get("$defs", {})
    order = ["IssueSpec", "Level", "ActorSpec", "Stance", "RedLineSpec", "Condition", "StrategySpec"]
    for name in order + sorted(k for k in defs if k not in order):
        out += _model_table(name, defs[name])
        if name == "StrategySpec":
            out += _strategies()
    return "\n".join(out).rstrip() + "\n"


@click.command()
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON Schema here [default: print it].")
@click.option("--reference", "reference_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the field reference (Markdown) here, as docs/reference.md is made.")
def schema(out_file: Path | None, reference_file: Path | None) -> None:
    """Print or write the JSON Schema of a scenario file (for editors' completion and checks)."""
    from model.fileio import write_text

    data = scenario_schema()
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        click.echo(text, nl=False)
    else:
        write_text(out_file, text)
        click.echo(f"wrote {out_file}")
    if reference_file is not None:
        write_text(reference_file, reference_markdown(data))
        click.echo(f"wrote {reference_file}")


# --------------------------------------------------------------------------------------------
# warnings: what a scenario leaves to a default the author may not know


def missing_stances(spec: Any) -> list[str]:
    """One warning per actor that has no stance on some issue: the model then gives it salience 0
    on that issue (its ideal is the status quo, and it does not care), which is rarely what an
    author who forgot the stance meant. Writing ``salience: 0`` explicitly silences it."""
    ids = [i.id for i in spec.issues]
    out = []
    for k, a in enumerate(spec.actors):
        missing = [i for i in ids if i not in a.issues]
        if not missing:
            continue
        shown = ", ".join(missing[:6]) + (f", ... ({len(missing) - 6} more)" if len(missing) > 6 else "")
        out.append(f"actors[{k}] ({a.id}): no stance on {len(missing)} of {len(ids)} issues ({shown}): "
                   "salience 0 there (it ignores them); write `salience: 0` to say so")
    return out
