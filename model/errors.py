"""The project's error type for bad input: one line per problem, naming file, field and fault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: At most this many characters of a value from the input are echoed in a message.
MAX_ECHO = 200
#: An error line is cut to this many characters (its file, line and field come first).
MAX_LINE = 1000


def shorten(text: str, n: int = MAX_ECHO) -> str:
    """``text`` cut to ``n`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def echo(value: Any, n: int = MAX_ECHO) -> str:
    """``repr(value)`` for a message, at most about ``n`` characters: a long text is cut (inside its
    quotes, marked with an ellipsis) and its length given: ``'AAAA…' (3,000 characters)``."""
    if isinstance(value, str) and len(value) > n:
        r = repr(value[:n])
        return f"{r[:-1]}\u2026{r[-1]} ({len(value):,} characters)"
    try:
        r = repr(value)
    except ValueError:  # an int past Python's digit limit for conversion to text
        return "a number of more than 4,300 digits"
    return shorten(r, n)


@dataclass(frozen=True)
class Fault:
    """One thing wrong with an input file."""

    path: str  # field path such as ``actors[2].red_lines[0].min`` ('' for the whole file)
    message: str
    line: int | None = None  # 1-based YAML line, where known

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        field = f" {self.path}:" if self.path else ""
        return shorten(f"{where}:{field} {self.message}", MAX_LINE)


class InputError(Exception):
    """Bad input (scenario or experiment file). ``str()`` is the first problem, in one line."""

    def __init__(self, file: str, problems: list[Fault]) -> None:
        self.file = file
        self.problems = problems
        first = problems[0].render(file) if problems else f"{file}: invalid input"
        more = len(problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))

    def lines(self) -> list[str]:
        """Every problem, one line each."""
        return [p.render(self.file) for p in self.problems]


def whole_input_error(source: str, message: str) -> InputError:
    """An ``InputError`` about a whole input (a folder, an option) rather than a field in a file."""
    return InputError(source, [Fault("", message)])
