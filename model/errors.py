"""The project's error type for bad input: one line per problem, naming file, field and fault."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One thing wrong with an input file."""

    path: str  # field path such as ``actors[2].red_lines[0].min`` ('' for the whole file)
    message: str
    line: int | None = None  # 1-based YAML line, where known

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


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
