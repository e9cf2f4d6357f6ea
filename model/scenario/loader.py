"""Loading scenarios: reading a file (a variant merged with its base, ``extends:``), checking it
against the schema and the semantic checks, and compiling it (``load``, ``load_data``, ``parse``).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from model.errors import Fault, InputError, echo, shorten
from model.paths import PathError, set_path
from model.protocols import DEFAULT_KIND, PROTOCOLS
from model.scenario.checks import check, short_list
from model.scenario.compiler import Scenario, compile_spec
from model.scenario.schema import ScenarioSpec
from model.yamlio import LineMap, display_path, fault, load_yaml, validation_faults


def parse(data: dict[str, Any], file: str = "<memory>", lines: LineMap | None = None) -> Scenario:
    """Check a scenario given as data (as read from YAML) and compile it."""
    lines = lines or {}
    data, early = _protocol_fields(data, lines)
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as e:
        raise InputError(file, early + validation_faults(e, data, lines, ScenarioSpec)) from None
    if early:
        raise InputError(file, early)
    faults = check(spec, lines)
    if faults:
        raise InputError(file, faults)
    return compile_spec(spec, file)


def _protocol_fields(data: dict[str, Any], lines: LineMap) -> tuple[dict[str, Any], list[Fault]]:
    """Check ``protocol:`` against its kind before the schema does (for one-line faults).

    An unknown ``kind`` is a fault at ``protocol.kind``. A field of another protocol (``phases``
    in a ``package`` scenario) is a fault where the file writes it; one the file does not write
    (carried over from a base, or left by an experiment axis or the app that switched ``kind``)
    belongs to the protocol it was written for and is set aside. Returns the data to validate
    and the faults.
    """
    proto = data.get("protocol") if isinstance(data, dict) else None
    if not isinstance(proto, dict):
        return data, []
    kind = proto.get("kind", DEFAULT_KIND)
    if not isinstance(kind, str) or kind not in PROTOCOLS:
        kinds = [repr(k) for k in PROTOCOLS]
        msg = f"input should be {', '.join(kinds[:-1])} or {kinds[-1]} (got {echo(kind)})"
        return {k: v for k, v in data.items() if k != "protocol"}, [fault(lines, ("protocol", "kind"), msg)]
    own = PROTOCOLS[kind].Params.model_fields
    owners: dict[str, list[str]] = {}
    for name, cls in PROTOCOLS.items():
        for f in cls.Params.model_fields:
            if f not in own:
                owners.setdefault(f, []).append(name)
    faults = []
    kept = {}
    for key, value in proto.items():
        if not isinstance(key, str) or key not in owners:
            kept[key] = value
        elif ("protocol", key) in lines:
            whose = owners[key]
            names = whose[0] if len(whose) == 1 else ", ".join(whose[:-1]) + " and " + whose[-1]
            faults.append(fault(lines, ("protocol", key), (
                f"{key} is a setting of the {names} protocol{'s' if len(whose) > 1 else ''}, not of {kind} "
                f"(protocol.kind: {kind}); remove it or change the kind")))
    if len(kept) == len(proto):
        return data, faults
    return {**data, "protocol": kept}, faults


def switched_kind_lines(data: dict[str, Any], lines: LineMap, written: dict[str, Any]) -> LineMap:
    """The lines of ``written`` (a file as read) for ``data`` (changed from it by a program):
    where the change switched ``protocol.kind``, without the lines of the fields the file wrote
    for its own protocol, so that ``parse`` sets them aside rather than report them."""
    def kind(d: dict[str, Any]) -> Any:
        proto = d.get("protocol")
        return proto.get("kind", DEFAULT_KIND) if isinstance(proto, dict) else DEFAULT_KIND

    if kind(data) == kind(written) or not isinstance(kind(data), str) or kind(data) not in PROTOCOLS:
        return lines
    own = PROTOCOLS[kind(data)].Params.model_fields
    return {loc: ln for loc, ln in lines.items()
            if not (len(loc) >= 2 and loc[0] == "protocol" and isinstance(loc[1], str) and loc[1] not in own)}


#: What a variant file (``extends:``) may hold besides ``set``.
VARIANT_KEYS = ("extends", "name", "title", "description", "seed", "sources", "set")
#: At most this many ``extends:`` steps from a file to its last base.
MAX_EXTENDS_DEPTH = 64
#: Set to 1 (or ``bargain --allow-extends-outside``) to let ``extends:`` name any file.
ALLOW_EXTENDS_ENV = "BARGAIN_ALLOW_EXTENDS_OUTSIDE"
#: The project's own scenarios: any variant may extend them.
PROJECT_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


class _TooDeep(Exception):
    """The chain of bases is longer than ``MAX_EXTENDS_DEPTH``, reached at ``where`` (passed up unwrapped)."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _extends_outside_allowed() -> bool:
    return os.environ.get(ALLOW_EXTENDS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _inside(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def changed_ids(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """What a change did to the actors' or issues' ids, if it changed them: ``the ids of the actors
    (X, Y -> Q, Y)``; ``None`` if it left them alone (or either side is no list of entries)."""
    for key, what in (("actors", "actors"), ("issues", "issues")):
        old, new = before.get(key), after.get(key)
        if not isinstance(old, list) or not isinstance(new, list):
            continue
        if not all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in [*old, *new]):
            continue  # not lists of entries with ids: the schema says what is wrong
        ids_old = [x["id"] for x in old]
        ids_new = [x["id"] for x in new]
        if ids_old != ids_new:
            return f"the ids of the {what} ({short_list(ids_old)} -> {short_list(ids_new)})"
    return None


def load_data(
    path: str | Path, _seen: tuple[Path, ...] = (), _roots: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], LineMap]:
    """Read a scenario file as data, resolving a variant (``extends:``) against its base.

    A variant names its base scenario (``extends``, relative to the variant's folder), may give
    its own ``name``, ``title``, ``description``, ``seed`` and extra ``sources``, and changes
    the base with ``set``: a mapping from field paths (as in experiment axes, e.g.
    ``protocol.kind`` or ``actors.BLR.trust.prior``) to new values. The base must be valid on
    its own; faults the changes cause are reported at the variant's lines. A variant may not
    change the ids of actors or issues (results are kept by id).

    The base must lie in the folder of the file first read (or below it) or in the project's
    ``scenarios/`` folder, after symbolic links are followed; ``--allow-extends-outside`` (or
    ``BARGAIN_ALLOW_EXTENDS_OUTSIDE=1``) lifts that. A chain of bases ends within
    ``MAX_EXTENDS_DEPTH`` steps.

    Raises:
        InputError: the file, its base or the merged scenario is faulty.
    """
    data, lines = load_yaml(path)
    if "extends" not in data:
        return data, lines
    name = str(path)
    here = Path(path).resolve()
    roots = _roots or (here.parent, PROJECT_SCENARIOS)
    faults = _variant_faults(data, lines)
    if faults:
        raise InputError(name, faults)
    base_ref: str = data["extends"]
    shown_ref = shorten(base_ref)
    base_path = (here.parent / base_ref).resolve()
    _check_base_path(name, lines, shown_ref, base_path, here, _seen, roots)
    base = _valid_base(name, lines, shown_ref, display_path(base_path), (*_seen, here), roots)
    merged, new_lines = _merge_own_fields(base, data, lines)
    faults = _apply_changes(merged, new_lines, data.get("set", {}), lines, shown_ref)
    if faults:
        raise InputError(name, faults)
    merged.pop("extends", None)
    return merged, new_lines


def _variant_faults(data: dict[str, Any], lines: LineMap) -> list[Fault]:
    """What is wrong with a variant's own keys: only ``VARIANT_KEYS``, a base's name, a ``set`` mapping."""
    faults = [fault(lines, (k,), f"a variant (extends:) may only set {', '.join(VARIANT_KEYS)}; change other "
                    "fields with set: {path: value}") for k in data if k not in VARIANT_KEYS]
    base_ref = data["extends"]
    if not isinstance(base_ref, str) or not base_ref:
        faults.append(fault(lines, ("extends",), "extends needs the base scenario's file name"))
    changes = data.get("set", {})
    if not isinstance(changes, dict):
        faults.append(fault(lines, ("set",), "set needs a mapping from field paths to values"))
    return faults


def _check_base_path(
    name: str, lines: LineMap, shown_ref: str, base_path: Path, here: Path, seen: tuple[Path, ...],
    roots: tuple[Path, ...],
) -> None:
    """The base is no file of the chain so far (a cycle), lies in an allowed folder, and the chain is
    not too deep (``_TooDeep``, passed up to the file first read)."""
    if base_path in (*seen, here):
        raise InputError(name, [fault(lines, ("extends",), f"{shown_ref} extends this file again: a cycle")])
    if not any(_inside(base_path, r) for r in roots) and not _extends_outside_allowed():
        raise InputError(name, [fault(lines, ("extends",), (
            f"{shown_ref} is outside the scenario's folder ({display_path(roots[0])}) and the project's "
            f"scenarios/ folder; to allow it, pass --allow-extends-outside or set {ALLOW_EXTENDS_ENV}=1"))])
    if len(seen) >= MAX_EXTENDS_DEPTH:  # this file is the deepest base allowed, and extends another
        raise _TooDeep(name)


def _valid_base(
    name: str, lines: LineMap, shown_ref: str, base_name: str, seen: tuple[Path, ...], roots: tuple[Path, ...]
) -> dict[str, Any]:
    """The base's data (itself resolved against its own base), which must be valid on its own."""
    try:
        base, _ = load_data(Path(base_name), seen, roots)
        parse(copy.deepcopy(base), base_name, None)  # the base must be valid on its own
    except InputError as e:
        raise InputError(name, [fault(lines, ("extends",), f"its base {shown_ref} is not valid: {e}")]) from None
    except _TooDeep as e:
        if len(seen) > 1:  # not the file first read: pass it up
            raise
        raise InputError(name, [fault(lines, ("extends",), (
            f"the chain of bases is more than {MAX_EXTENDS_DEPTH} files deep: {e.where} extends yet another "
            "file; merge some of the variants"))]) from None
    return base


def _merge_own_fields(base: dict[str, Any], data: dict[str, Any], lines: LineMap) -> tuple[dict[str, Any], LineMap]:
    """A copy of ``base`` with the variant's own ``name``, ``title``, ``description``, ``seed`` and
    extra ``sources``, and the variant's lines of those."""
    merged = copy.deepcopy(base)
    new_lines: LineMap = {}
    for key in ("name", "title", "description", "seed"):
        if key in data:
            merged[key] = data[key]
            new_lines[(key,)] = lines[(key,)]
    if isinstance(data.get("sources"), dict):
        merged_sources = dict(merged.get("sources") or {})
        merged_sources.update(data["sources"])
        merged["sources"] = merged_sources
        for loc, ln in lines.items():
            if loc[:1] == ("sources",):
                new_lines[loc] = ln
    return merged, new_lines


def _apply_changes(
    merged: dict[str, Any], new_lines: LineMap, changes: dict[str, Any], lines: LineMap, shown_ref: str
) -> list[Fault]:
    """Apply the variant's ``set`` to ``merged`` in place (its lines to ``new_lines``); the faults:
    paths that point nowhere, changes to the actors' or issues' ids."""
    faults = []
    for key, value in changes.items():
        before = {k: copy.deepcopy(merged.get(k)) for k in ("actors", "issues")}
        try:
            loc = set_path(merged, str(key), copy.deepcopy(value))
        except PathError as e:
            faults.append(fault(lines, ("set", key), f"{shorten(repr(key))} points nowhere in {shown_ref}: {e}"))
            continue
        if (what := changed_ids(before, merged)) is not None:
            faults.append(fault(lines, ("set", key), f"changes {what}; a variant may not rename, add or remove "
                                "actors or issues"))
            continue
        line = lines.get(("set", key))
        if line is not None:
            new_lines[loc] = line
            for sub, ln in lines.items():
                if sub[:2] == ("set", key) and len(sub) > 2:
                    new_lines[(*loc, *sub[2:])] = ln
    return faults


def load(path: str | Path) -> Scenario:
    """Read, check and compile a scenario file (a variant is merged with its base first).

    Raises:
        InputError: anything wrong with the file, one line per fault.
    """
    data, lines = load_data(path)
    return parse(data, str(path), lines)
