"""Reading YAML input with line numbers, and turning pydantic errors into one-line faults."""

from __future__ import annotations

import difflib
import re
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from model.errors import Fault, InputError, echo, shorten

#: Input files larger than this are refused before parsing.
MAX_FILE_BYTES = 2_000_000
#: YAML documents with more nodes than this are refused (guards against alias bombs).
MAX_NODES = 200_000

Loc = tuple[str | int, ...]
LineMap = dict[Loc, int]


#: Keys that read as field names (or paths) are shown as they are in field paths. Others are quoted, and cut to
#: ``SHOWN_KEY`` characters when longer than ``MAX_KEY``: such a key may be a line of some other
#: file read as YAML (``root:*:20228:0:99999:7:::``), which an error message should not copy out.
_NAME_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\[\]-]{0,299}$")  # names, and field paths (design points, set:)
MAX_KEY = 16
SHOWN_KEY = 8


def render_path(loc: Loc) -> str:
    """``('actors', 2, 'red_lines', 0, 'min')`` -> ``actors[2].red_lines[0].min``."""
    out = ""
    for part in loc:
        key = str(part)
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _NAME_KEY.match(key) and len(key) > MAX_KEY:
            r = repr(key[:SHOWN_KEY])
            out += f"[{r[:-1]}\u2026{r[-1]}]"  # quoted and cut
        elif not key.isprintable() or not key:
            out += f"[{key!r}]"  # a key with a line break or control character: quoted, on one line
        else:
            out += ("." if out else "") + str(part)
    return out


def display_path(p: str | Path) -> str:
    """``p`` for messages: relative to the working folder when it lies inside it, else absolute."""
    q = Path(p).absolute()
    try:
        return str(q.relative_to(Path.cwd()))
    except ValueError:
        return str(q)


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


class _Loader(yaml.SafeLoader):
    """The safe loader, but a scalar it cannot convert (``2025-13-45``, ``!!int abc``) is a marked YAML error."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, LookupError, AttributeError, OverflowError) as e:  # `!!int ''`: IndexError
            kind = str(node.tag).rsplit(":", 1)[-1]
            kind = "date" if kind == "timestamp" else kind
            kind = ("an " if kind[:1] in "aeiou" else "a ") + kind
            why = f" ({e})" if isinstance(e, ValueError | OverflowError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {echo(node.value)} as {kind}{shorten(why, 300)}",
                node.start_mark
            ) from None


def load_yaml(path: str | Path) -> tuple[dict[str, Any], LineMap]:
    """Read a YAML mapping from ``path`` with a map from field paths to line numbers.

    Raises:
        InputError: the file is missing, too large, not UTF-8, not YAML, or not a mapping.
    """
    p = Path(path)
    name = str(path)
    raw = _read_limited(p, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.object[: e.start].count(b"\n") + 1
        raise InputError(name, [Fault("", f"not a UTF-8 text file ({e.reason} at byte {e.start})", at)]) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as read_text gives
    try:
        loader = _Loader(text)  # the reader refuses control characters at once
    except yaml.reader.ReaderError as e:
        raise InputError(name, [_reader_fault(text, e)]) from None
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
        began = e.context_mark.line + 1 if e.context_mark and e.problem_mark else None
        context = f"{e.context} (from line {began})" if e.context and began and began != line else e.context
        what = " ".join(": ".join(x for x in (context, e.problem) if x).split())  # on one line
        raise InputError(name, [Fault("", f"not valid YAML: {what}", line)]) from None
    except yaml.reader.ReaderError as e:
        raise InputError(name, [_reader_fault(text, e)]) from None
    except yaml.YAMLError as e:
        raise InputError(name, [Fault("", f"not valid YAML: {' '.join(str(e).split())}")]) from None
    except _TooBig:
        raise InputError(name, [Fault("", f"document has more than {MAX_NODES:,} elements")]) from None
    except RecursionError:
        raise InputError(name, [Fault("", "document is nested too deeply")]) from None
    finally:
        loader.dispose()
    if faults:
        raise InputError(name, faults)
    if not isinstance(data, dict):
        kind = {list: "a list", str: "text", type(None): "nothing"}.get(type(data), type(data).__name__)
        raise InputError(name, [Fault("", f"expected a mapping of fields at the top level, found {kind}")])
    return data, lines


def _read_limited(p: Path, name: str) -> bytes:
    """The bytes of the regular file ``p``, at most ``MAX_FILE_BYTES`` of them.

    Opened without blocking (a FIFO has no writer) and checked on the open file: a FIFO, a device
    or a socket is no scenario. Reads at most one byte past the limit whatever the size the system
    reports (``/proc`` files say 0).
    """
    import errno
    import os
    import stat

    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(name, [Fault("", "no such file")]) from None
    except IsADirectoryError:
        raise InputError(name, [Fault("", "is a directory, not a file")]) from None
    except OSError as e:
        if e.errno == errno.ENOTDIR:  # a part of the path is a file
            raise InputError(name, [Fault("", "no such file (a part of the path is a file, not a folder)")]) from None
        raise InputError(name, [Fault("", f"cannot read the file: {e.strerror or e}")]) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputError(name, [Fault("", "is a directory, not a file")])
        if not stat.S_ISREG(st.st_mode):
            raise InputError(name, [Fault("", "not a regular file")])
        if st.st_size > MAX_FILE_BYTES:
            raise InputError(
                name, [Fault("", f"file is too large ({st.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,})")]
            )
        chunks: list[bytes] = []
        got = 0
        while got <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except OSError as e:
        raise InputError(name, [Fault("", f"cannot read the file: {e.strerror or e}")]) from None
    finally:
        os.close(fd)
    if got > MAX_FILE_BYTES:
        too_large = f"file is too large (more than {MAX_FILE_BYTES:,} bytes; the limit is {MAX_FILE_BYTES:,})"
        raise InputError(name, [Fault("", too_large)])
    return b"".join(chunks)


def _reader_fault(text: str, e: yaml.reader.ReaderError) -> Fault:
    """A character YAML does not allow (a NUL byte, a control character): one line, with its line."""
    at = text[: e.position].count("\n") + 1
    what = f"character #x{e.character:04x}" if isinstance(e.character, int) else f"byte {e.character!r}"
    return Fault("", f"not valid YAML: {what} is not allowed in a YAML file (is it a binary file?)", at)


_MESSAGES = {
    "missing": "missing required field",
    "extra_forbidden": "unknown field",
    "dict_type": "input should be a mapping of key: value pairs",
    "model_type": "input should be a mapping of key: value pairs",
}

#: Plain words for the string patterns of the schemas.
_PATTERNS = {
    r"^[A-Za-z][A-Za-z0-9_]*$": "must be an identifier: a letter, then letters, digits or underscores",
}

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _members(tp: Any) -> list[Any]:
    """The alternatives of a type annotation (through ``Annotated``, ``Optional`` and unions)."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(tp) for m in _members(arg)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and get_origin(tp) is None and issubclass(tp, BaseModel)


def _field_names(model: type[BaseModel] | None, loc: Loc) -> list[str]:
    """The fields allowed at ``loc`` (a location in the data) of ``model``; [] if that cannot be told."""
    found: list[Any] = [] if model is None else [model]
    for part in loc:
        step: list[Any] = []
        for tp in (m for t in found for m in _members(t)):
            origin, args = get_origin(tp), get_args(tp)
            if _is_model(tp) and isinstance(part, str) and part in tp.model_fields:
                step.append(tp.model_fields[part].annotation)
            elif origin is list and isinstance(part, int) and args:
                step.append(args[0])
            elif origin is dict and len(args) == 2:
                step.append(args[1])
        found = step
    return sorted({f for t in found for m in _members(t) if _is_model(m) for f in m.model_fields})


def _concrete_loc(data: Any, loc: Loc, missing: bool = False) -> tuple[Loc, int | None]:
    """The parts of a pydantic location that are keys or indices of the data, and where the first
    union tag was dropped (the length of the location there; ``None``: no tag).

    Pydantic puts the name of each alternative of a union in the location (``float``,
    ``SourceSpec``, ``function-after[...]``): those are dropped, wherever they are. The last
    part of a ``missing`` error names the missing field, and is kept.
    """
    out: list[str | int] = []
    tag_at: int | None = None
    cur = data
    for k, part in enumerate(loc):
        if isinstance(cur, dict) and part in cur:  # noqa: SIM114 - two branches let mypy narrow the types
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif missing and k == len(loc) - 1 and isinstance(cur, dict) and isinstance(part, str):
            out.append(part)  # a missing field
        elif tag_at is None:
            tag_at = len(out)
    return tuple(out), tag_at


def validation_faults(
    err: ValidationError, data: Any, lines: LineMap, model: type[BaseModel] | None = None
) -> list[Fault]:
    """One fault per distinct field of a pydantic ``ValidationError`` (``model``: to suggest field names)."""
    errors = err.errors(include_url=False)
    found = [_concrete_loc(data, tuple(e["loc"]), e["type"] == "missing") for e in errors]
    # a union reports every alternative: where one of them went into the data (a field of a
    # mapping given for a model), the others' complaints about the value as a whole are noise
    deeper = {(loc[:at], at) for loc, at in found if at is not None and len(loc) > at}
    keep = [at is None or len(loc) > at or (loc, at) not in deeper for loc, at in found]
    errors = [e for e, k in zip(errors, keep, strict=True) if k]
    locs = [loc for (loc, _), k in zip(found, keep, strict=True) if k]
    # a word a union also allows (``reservation: status_quo``): say so beside "a valid number"
    words = {loc: e["ctx"]["expected"] for loc, e in zip(locs, errors, strict=True)
             if e["type"] == "literal_error" and "expected" in e.get("ctx", {})}
    # an unknown field that looks like a misspelt missing one: one fault, at the misspelling
    missing = {loc for loc, e in zip(locs, errors, strict=True) if e["type"] == "missing"}
    hints: dict[Loc, str] = {}
    for loc, e in zip(locs, errors, strict=True):
        if e["type"] != "extra_forbidden" or not loc:
            continue
        parent, key = loc[:-1], str(loc[-1])
        absent = [str(m[-1]) for m in missing if m[:-1] == parent]
        if close := difflib.get_close_matches(key, absent, 1, 0.8):
            missing.discard((*parent, close[0]))
            hints[loc] = f" (did you mean {close[0]!r}?)"
        elif allowed := _field_names(model, parent):
            close = difflib.get_close_matches(key, allowed, 1, 0.8)
            hints[loc] = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
    faults: list[Fault] = []
    seen: set[Loc] = set()
    for loc, e in zip(locs, errors, strict=True):
        if loc in seen or (e["type"] == "missing" and loc not in missing):
            continue  # a union reports each alternative (the first reads best); a misspelling, once
        seen.add(loc)
        msg = _MESSAGES.get(e["type"], e["msg"]).replace(" after validation", "")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] == "string_pattern_mismatch" and e.get("ctx", {}).get("pattern") in _PATTERNS:
            msg = _PATTERNS[e["ctx"]["pattern"]]
        if e["type"] in ("float_type", "int_type") and loc in words:
            msg += f" or {words[loc]}"
        msg += hints.get(loc, "")
        given = e.get("input")
        if e["type"] in ("missing", "extra_forbidden"):
            pass
        elif isinstance(given, str) and e["type"] == "float_type" and _NUMBER.fullmatch(given) and len(given) < 100:
            mantissa, exponent = re.split("[eE]", given)
            better = f"{mantissa}{'' if '.' in mantissa else '.0'}e{'' if exponent[0] in '+-' else '+'}{exponent}"
            msg += f" (got {given!r}, which YAML reads as text: write {better})"
        elif isinstance(given, bool) and e["type"] == "string_type":
            msg += f" (got {given!r}: YAML reads a bare yes, no, on, off, true or false as a boolean; quote it)"
        elif isinstance(given, str | int | float | bool):
            msg += f" (got {echo(given)})"
        elif e["type"].endswith("_type"):
            got = {dict: "a mapping", list: "a list", type(None): "an empty value"}.get(type(given))
            msg += f" (got {got})" if got else ""
        faults.append(fault(lines, loc, msg[0].lower() + msg[1:] if msg else msg))
    return faults



def read_model[M: BaseModel](path: str | Path, model: type[M]) -> tuple[M, LineMap]:
    """Read a YAML file and validate it as ``model``: the spec and the line of every field.

    Raises:
        InputError: a file that cannot be read or parsed, or one line per schema fault, each
            naming the file, the line and the field.
    """
    data, lines = load_yaml(path)
    try:
        return model.model_validate(data), lines
    except ValidationError as e:
        raise InputError(str(path), validation_faults(e, data, lines, model)) from None
