"""A historical case: a scenario as the talks stood before the deal, and the real outcome.

A case is a folder ``<case_id>/`` with ``scenario.yaml`` (a grand-bargain scenario: positions,
saliences, capabilities and red lines as publicly known before the deal, each issue mapped to
[0, 1] with the mapping stated in its description) and ``outcome.yaml`` (:class:`OutcomeSpec`:
the real terms on each issue's scale, the dates, whether the talks settled and how many of the
scenario's rounds they took, every number with a source). ``docs/backtest.md`` describes both.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict

from model import scenario as scn
from model.core.space import FloatArray
from model.errors import Fault, InputError, whole_input_error
from model.scenario import Identifier, SourceSpec, Text, Unit
from model.yamlio import LineMap, fault, read_model

#: The two files of a case folder.
SCENARIO_FILE = "scenario.yaml"
OUTCOME_FILE = "outcome.yaml"

#: A citation of a source in a text: ``[tag]``.
_CITE = re.compile(r"\[([A-Za-z0-9_\-]+)\]")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TermSpec(_Spec):
    """The real term on one issue: its ``value`` on the issue's [0, 1] scale, or ``null`` when
    the deal left it open or it is not known (the issue is then left out of the scores)."""

    value: Unit | None
    source: Text
    note: Text | None = None


class DurationSpec(_Spec):
    """How long the real talks took: ``rounds`` of the scenario (one round is one ``unit``) from
    the start to the deal, or to the end of the record when they did not settle."""

    rounds: Annotated[int, Strict(), Field(ge=1, le=10_000)]
    unit: Literal["day", "week", "month"]
    source: Text


class OutcomeSpec(_Spec):
    """``outcome.yaml``: what really happened."""

    case: Identifier
    title: Text
    kind: Text
    start: dt.date
    end: dt.date
    settled: bool
    settled_source: Text
    duration: DurationSpec
    terms: Annotated[dict[Identifier, TermSpec], Field(min_length=1)]
    sources: Annotated[dict[Identifier, SourceSpec | Text], Field(min_length=1)]
    note: Text | None = None


@dataclass(frozen=True)
class Case:
    """A case read and checked: its scenario, the scenario's data (to run it under other
    protocols), the outcome, and the real terms ``(I,)`` in the order of the scenario's issues
    (``nan`` where ``value`` is ``null``)."""

    case_id: str
    folder: Path
    scenario: scn.Scenario
    data: dict[str, Any]
    outcome: OutcomeSpec
    real: FloatArray

    @property
    def issues(self) -> tuple[str, ...]:
        return tuple(self.scenario.problem.space.ids)


def read_outcome(path: str | Path) -> tuple[OutcomeSpec, LineMap]:
    """Read an outcome file and check it on its own (dates in order, every cited source listed).

    Raises:
        InputError: one line per fault, naming the file, the line and the field.
    """
    spec, lines = read_model(path, OutcomeSpec)
    file = str(path)
    out: list[Fault] = []
    if spec.end < spec.start:
        out.append(fault(lines, ("end",), f"{spec.end} is before the start {spec.start}"))
    for loc, text in _cited(spec):
        for tag in _CITE.findall(text):
            if tag not in spec.sources:
                out.append(fault(lines, loc, f"cites [{tag}], which is not in sources"))
    if out:
        raise InputError(file, out)
    return spec, lines


def _cited(spec: OutcomeSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """Every text that cites sources, with its place in the file."""
    out: list[tuple[tuple[str | int, ...], str]] = [(("settled_source",), spec.settled_source),
                                                    (("duration", "source"), spec.duration.source)]
    out += [(("terms", iid, "source"), t.source) for iid, t in spec.terms.items()]
    return out


def check_outcome(spec: OutcomeSpec, lines: LineMap, file: str, folder: Path, sc: scn.Scenario) -> FloatArray:
    """Check an outcome against its folder and scenario; return the real terms ``(I,)``.

    Raises:
        InputError: a case id that is not the folder's name, a term on an issue the scenario does
            not have, or an issue of the scenario without a term.
    """
    ids = list(sc.problem.space.ids)
    out: list[Fault] = []
    if spec.case != folder.name:
        out.append(fault(lines, ("case",), f"{spec.case!r} is not the name of its folder {folder.name!r}"))
    for iid in spec.terms:
        if iid not in ids:
            out.append(fault(lines, ("terms", iid), f"unknown issue {iid!r} in {sc.file} (known: {', '.join(ids)})"))
    missing = [iid for iid in ids if iid not in spec.terms]
    if missing:
        out.append(fault(lines, ("terms",), f"no term for {', '.join(missing)} of {sc.file} "
                         "(give value: null for an issue the deal left open)"))
    if not any(t.value is not None for t in spec.terms.values()):
        out.append(fault(lines, ("terms",), "every value is null: nothing to score"))
    if out:
        raise InputError(file, out)
    return np.array([np.nan if spec.terms[iid].value is None else float(spec.terms[iid].value)  # type: ignore[arg-type]
                     for iid in ids])


def load_case(folder: str | Path) -> Case:
    """Read and check the case in ``folder`` (its ``scenario.yaml`` and ``outcome.yaml``).

    Raises:
        InputError: a missing file, or the first file's faults (one line each).
    """
    d = Path(folder)
    for name in (SCENARIO_FILE, OUTCOME_FILE):
        if not (d / name).is_file():
            raise whole_input_error(str(d), f"a case needs {name} (see docs/backtest.md)")
    sc = scn.load(d / SCENARIO_FILE)
    data, _ = scn.load_data(d / SCENARIO_FILE)
    spec, lines = read_outcome(d / OUTCOME_FILE)
    real = check_outcome(spec, lines, str(d / OUTCOME_FILE), d, sc)
    return Case(d.name, d, sc, data, spec, real)


def case_folders(root: str | Path) -> list[Path]:
    """The case folders under ``root`` (every folder with an ``outcome.yaml``), by name.

    Raises:
        InputError: ``root`` is not a folder, or holds no case.
    """
    r = Path(root)
    if not r.is_dir():
        raise whole_input_error(str(r), "is not a folder of cases")
    found = sorted(p for p in r.iterdir() if p.is_dir() and (p / OUTCOME_FILE).is_file())
    if not found:
        raise whole_input_error(str(r), f"holds no case (a folder with {OUTCOME_FILE}; see docs/backtest.md)")
    return found


def load_cases(root: str | Path) -> list[Case]:
    """Every case under ``root`` (:func:`case_folders`), read and checked."""
    return [load_case(f) for f in case_folders(root)]
