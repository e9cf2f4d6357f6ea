"""Reading YAML input with line numbers, and turning pydantic errors into one-line faults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from model.errors import Fault, InputError

#: Input files larger than this are refused before parsing.
MAX_FILE_BYTES = 2_000_000
#: YAML documents with more nodes than this are refused (guards against alias bombs).
MAX_NODES = 200_000

Loc = tuple[str | int, ...]
LineMap = dict[Loc, int]


def render_path(loc: Loc) -> str:
    """``('actors', 2, 'red_lines', 0, 'min')`` -> ``actors[2].red_lines[0].min``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def line_of(lines: LineMap, loc: Loc) -> int | None:
    """The YAML line of ``loc``, or of its nearest ancestor that has one."""
    for k in range(len(loc), 0, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None


def fault(lines: LineMap, loc: Loc, message: str) -> Fault:
    return Fault(render_path(loc), message, line_of(lines, loc))


def _walk(node: yaml.Node, loc: Loc, lines: LineMap, faults: list[Fault], count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _TooBig
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                faults.append(
                    Fault(render_path((*loc, key)), f"duplicate key (first at line {seen[key]})", line)
                )
            seen[key] = line
            lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), lines, faults, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), lines, faults, count)


class _TooBig(Exception):
    pass


def load_yaml(path: str | Path) -> tuple[dict[str, Any], LineMap]:
    """Read a YAML mapping from ``path`` with a map from field paths to line numbers.

    Raises:
        InputError: the file is missing, too large, not UTF-8, not YAML, or not a mapping.
    """
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise InputError(name, [Fault("", "no such file")])
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(
            name, [Fault("", f"file is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})")]
        )
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(name, [Fault("", f"not a UTF-8 text file ({e.reason} at byte {e.start})")]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(name, [Fault("", "the file is empty")])
        lines: LineMap = {}
        faults: list[Fault] = []
        _walk(node, (), lines, faults, [0])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise InputError(name, [Fault("", f"not valid YAML: {what}", line)]) from None
    except yaml.YAMLError as e:
        raise InputError(name, [Fault("", f"not valid YAML: {e}")]) from None
    except _TooBig:
        raise InputError(name, [Fault("", f"document has more than {MAX_NODES:,} elements")]) from None
    except RecursionError:
        raise InputError(name, [Fault("", "document is nested too deeply")]) from None
    finally:
        loader.dispose()
    if faults:
        raise InputError(name, faults)
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InputError(name, [Fault("", f"expected a mapping of fields at the top level, found {kind}")])
    return data, lines


_MESSAGES = {
    "missing": "missing required field",
    "extra_forbidden": "unknown field",
}


def _concrete_loc(data: Any, loc: Loc) -> Loc:
    """Drop the parts of a pydantic location that are not keys of the data (union tags)."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_dict or in_list:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict | list):
            # a missing field, or a union/validator tag: keep missing field names only
            if isinstance(part, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) and isinstance(cur, dict):
                out.append(part)
                cur = None
            continue
        else:
            continue
    return tuple(out)


def validation_faults(err: ValidationError, data: Any, lines: LineMap) -> list[Fault]:
    """One fault per distinct field of a pydantic ``ValidationError``."""
    faults: list[Fault] = []
    seen: set[Loc] = set()
    for e in err.errors(include_url=False):
        loc = _concrete_loc(data, tuple(e["loc"]))
        if loc in seen:  # a union reports each alternative; the first reads best
            continue
        seen.add(loc)
        msg = _MESSAGES.get(e["type"], e["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        given = e.get("input")
        if e["type"] not in ("missing", "extra_forbidden") and isinstance(given, str | int | float | bool):
            msg += f" (got {given!r})"
        faults.append(fault(lines, loc, msg[0].lower() + msg[1:] if msg else msg))
    return faults
