"""Paths into scenario data: ``actors.USA.red_lines[0].min`` addresses mapping keys and list items,
where a list item is picked by its ``id`` (``actors.USA``, ``issues.eu_sanctions``,
``red_lines.no_russia_exit``) or by its index (``red_lines[0]``; deprecated for red lines: reordering
them changes what an index names, never what an id names). Experiments' axes, variants' ``set:``
and the app's controls all read and write scenario data through these functions.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from model.errors import echo
from model.yamlio import render_path


class PathError(ValueError):
    pass


def parse_path(path: str) -> list[str | int]:
    """``actors.USA.red_lines[0].min`` -> ``['actors', 'USA', 'red_lines', 0, 'min']``."""
    out: list[str | int] = []
    for part in path.split("."):
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)$", part)
        if not part:
            raise PathError("empty name between dots" if "." in path else "empty path")
        if not m and re.match(r"^[A-Za-z_][A-Za-z0-9_]*\[", part):
            raise PathError(f"{part!r}: a list index is a whole number in brackets, like [0]")
        if not m:
            raise PathError(f"{part!r} is not a field name")
        out.append(m.group(1))
        out.extend(int(k) for k in re.findall(r"\[([0-9]+)\]", m.group(2)))
    return out


def set_path(data: dict[str, Any], path: str, value: Any) -> tuple[str | int, ...]:
    """Set ``value`` at ``path`` in scenario data (in place); return the data location
    (with list items as indices) for error messages. Missing mappings on the way are created;
    the scenario schema then says whether the field exists."""
    tokens = parse_path(path)
    cur: Any = data
    loc: list[str | int] = []
    for k, tok in enumerate(tokens):
        last = k == len(tokens) - 1
        if isinstance(cur, list):
            idx = _list_index(cur, tok, loc)
            loc.append(idx)
            if last:
                cur[idx] = value
            else:
                cur = cur[idx]
        elif isinstance(cur, dict):
            if isinstance(tok, int):
                raise PathError(f"{render_loc(loc) or 'the scenario'} is a mapping, not a list: no [{tok}]")
            loc.append(tok)
            if last:
                cur[tok] = value
            else:
                if tok not in cur or cur[tok] is None:
                    cur[tok] = {}
                cur = cur[tok]
        else:
            raise PathError(f"{render_loc(loc)} is a value ({echo(cur, 60)}), not a mapping or list")
    return tuple(loc)


def get_path(data: Any, path: str) -> Any:
    """The value at ``path`` in scenario data, addressed as in ``set_path``.

    Raises:
        PathError: the path leads nowhere in ``data``.
    """
    cur: Any = data
    loc: list[str | int] = []
    for tok in parse_path(path):
        idx: str | int
        if isinstance(cur, list):
            idx = _list_index(cur, tok, loc)
        elif isinstance(cur, dict):
            if tok not in cur:
                raise PathError(f"{render_loc(loc) or 'the scenario'} has no {tok!r}")
            idx = tok
        else:
            raise PathError(f"{render_loc(loc)} is a value ({echo(cur, 60)}), not a mapping or list")
        loc.append(idx)
        cur = cur[idx]
    return cur


def _list_index(items: list[Any], tok: str | int, loc: list[str | int]) -> int:
    """The position in ``items`` (at ``loc``) of the entry ``tok`` names: an index, or an item's ``id``."""
    if isinstance(tok, int):
        if not 0 <= tok < len(items):
            entries = "1 entry" if len(items) == 1 else f"{len(items)} entries"
            raise PathError(f"{render_loc(loc)} has {entries}; there is no [{tok}]")
        return tok
    ids = [item.get("id") if isinstance(item, dict) else None for item in items]
    if tok not in ids:
        known = [str(i) for i in ids if i is not None]
        if not known:
            raise PathError(f"no entry with id {tok!r} in {render_loc(loc)}: its entries have no ids (give them "
                            f"an id, or address them by position, [0] to [{len(items) - 1}])")
        close = difflib.get_close_matches(tok, known, 1, 0.8)
        hint = f"did you mean {close[0]!r}?" if close else f"ids: {short_list(known)}"
        raise PathError(f"no entry with id {tok!r} in {render_loc(loc)} ({hint})")
    return ids.index(tok)


def render_loc(loc: list[str | int] | tuple[str | int, ...]) -> str:
    """A data location as a path, as error messages show it."""
    return render_path(tuple(loc))


def short_list(items: list[str], n: int = 8) -> str:
    """The first ``n`` of ``items``, and how many there are in all if there are more."""
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")
