"""Scenario files: the pydantic schema, the semantic checks, compilation to the core, and loading.

A scenario is data: issues, actors (positions, saliences, red lines, strategy), the protocol
and its settings, a seed, and the sources of every number taken from the world. ``load``
reads and checks a file and returns a compiled ``Scenario``; every fault in the file becomes
one line naming the file, the YAML line, the field and what is wrong (``InputError``).

The package has one module per seam, each importing only those before it:

- ``schema``: the pydantic model of a file (``ScenarioSpec`` and its parts);
- ``compiler``: a checked spec compiled for the core (``compile_spec``, ``Scenario``);
- ``checks``: the semantic checks of a schema-valid spec (``check``), red lines that contradict
  each other included (these build the outcome space, hence after ``compiler``);
- ``loader``: reading a file, variants (``extends:``), ``parse`` and ``load``.

Every name is re-exported here: ``from model.scenario import ...`` is the way in.
"""

from model.protocols.base import Identifier, Unit
from model.scenario.checks import check, short_list
from model.scenario.compiler import Scenario, compile_phase, compile_spec
from model.scenario.loader import (
    ALLOW_EXTENDS_ENV,
    MAX_EXTENDS_DEPTH,
    PROJECT_SCENARIOS,
    VARIANT_KEYS,
    changed_ids,
    load,
    load_data,
    parse,
    switched_kind_lines,
)
from model.scenario.schema import (
    ActorSpec,
    CollectiveSpec,
    Condition,
    Count,
    DeliverySpec,
    EffectSpec,
    InfluenceSpec,
    IssueSpec,
    Level,
    ProtocolKind,
    RedLineSpec,
    ScenarioSpec,
    SourceSpec,
    SpoilerSpec,
    Stance,
    StrategySpec,
    Text,
    TrustSpec,
    WinSetSpec,
    level_value,
)

__all__ = [
    "ALLOW_EXTENDS_ENV", "MAX_EXTENDS_DEPTH", "PROJECT_SCENARIOS", "VARIANT_KEYS",
    "ActorSpec", "CollectiveSpec", "Condition", "Count", "DeliverySpec", "EffectSpec", "Identifier",
    "InfluenceSpec", "IssueSpec", "Level", "ProtocolKind", "RedLineSpec", "Scenario", "ScenarioSpec",
    "SourceSpec", "SpoilerSpec", "Stance", "StrategySpec", "Text", "TrustSpec", "Unit", "WinSetSpec",
    "changed_ids", "check", "compile_phase", "compile_spec", "level_value", "load", "load_data", "parse", "short_list",
    "switched_kind_lines",
]
