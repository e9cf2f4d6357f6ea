"""Small scenarios built in code, for tests."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from model import scenario

#: Table 1 of Scholz et al. (2011) as a CSV shared on the project's machines (``Actor, Capability, Position,
#: Salience``); the tests that compare it with the built-in table skip where it is not.
SCHOLZ_TABLE1_CSV = Path(os.environ.get("BARGAIN_SCHOLZ_CSV", "/work/shared/validation/scholz2011_table1.csv"))

SMALL: dict[str, Any] = {
    "name": "small",
    "title": "Two parties, three issues",
    "seed": 1,
    "issues": [
        {"id": "a", "label": "A", "status_quo": 0.5},
        {"id": "b", "label": "B", "status_quo": 0.5},
        {
            "id": "c",
            "label": "C",
            "kind": "ordinal",
            "levels": [{"name": "none", "value": 0.0}, {"name": "half", "value": 0.5}, {"name": "full", "value": 1.0}],
            "status_quo": "none",
        },
    ],
    "actors": [
        {
            "id": "X",
            "name": "X",
            "issues": {
                "a": {"position": 1.0, "salience": 0.8},
                "b": {"position": 1.0, "salience": 0.2},
                "c": {"position": "full", "salience": 0.5},
            },
            "red_lines": [{"issue": "a", "min": 0.3}],
        },
        {
            "id": "Y",
            "name": "Y",
            "strategy": {"name": "conceder"},
            "issues": {
                "a": {"position": 0.0, "salience": 0.2},
                "b": {"position": 0.0, "salience": 0.8},
                "c": {"position": "none", "salience": 0.1},
            },
        },
    ],
    "protocol": {"max_rounds": 20},
}


def small(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the small scenario with top-level fields replaced."""
    data = copy.deepcopy(SMALL)
    data.update(changes)
    return data


def two_party(
    ideal_x: list[float],
    ideal_y: list[float],
    sal_x: list[float],
    sal_y: list[float],
    status_quo: list[float] | None = None,
    **actor_fields: Any,
) -> scenario.Scenario:
    """Two parties X and Y over continuous issues i0, i1, ..."""
    n = len(ideal_x)
    sq = status_quo if status_quo is not None else [0.5] * n
    issues = [{"id": f"i{k}", "label": f"issue {k}", "status_quo": sq[k]} for k in range(n)]

    def actor(aid: str, ideal: list[float], sal: list[float]) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": aid,
            "name": aid,
            "issues": {f"i{k}": {"position": ideal[k], "salience": sal[k]} for k in range(n)},
        }
        d.update(actor_fields.get(aid, {}))
        return d

    data = {
        "name": "two_party",
        "title": "two parties",
        "issues": issues,
        "actors": [actor("X", ideal_x, sal_x), actor("Y", ideal_y, sal_y)],
        "protocol": actor_fields.get("protocol", {"max_rounds": 30}),
    }
    return scenario.parse(data)


def write_experiment(tmp: Path, axes: list[dict[str, Any]], design: dict[str, Any] | None = None,
                     scenario: dict[str, Any] | None = None, **fields: Any) -> Path:
    """An experiment file (and its base scenario, by default the small one with a breakdown risk) in ``tmp``."""
    sc = tmp / "scenario.yaml"
    base = scenario or small(protocol={"max_rounds": 30, "breakdown_risk": 0.1})
    sc.write_text(yaml.safe_dump(base, sort_keys=False))
    exp = {"name": "t", "scenario": "scenario.yaml", "design": design or {"kind": "grid"}, "axes": axes,
           "replicates": 3, "seed": 99, **fields}
    f = tmp / "exp.yaml"
    f.write_text(yaml.safe_dump(exp, sort_keys=False))
    return f


def peer_case(n_parties: int, k: int, protocol: dict[str, Any],
              strategies: list[dict[str, Any]] | None = None) -> scenario.Scenario:
    """Negotiation ``k`` of the peer case shared with NegMAS (shared/bench/PEER_CASE.md): three
    ten-level issues, each party's values drawn by ``peer_case_draws``; Boulware and Conceder in
    turn unless ``strategies`` says otherwise; the package protocol with ``protocol``'s fields."""
    import dataclasses

    from model.core.domains import peer_case_draws, table_problem

    levels = [{"name": f"v{m}", "value": round(m / 9, 12)} for m in range(10)]
    turn = [{"name": "boulware" if p % 2 == 0 else "conceder"} for p in range(n_parties)]
    data: dict[str, Any] = {
        "name": "peer", "title": "peer", "seed": 0,
        "issues": [{"id": f"i{j}", "label": f"issue {j}", "kind": "ordinal", "levels": levels, "status_quo": "v0"}
                   for j in range(3)],
        "actors": [{"id": f"p{p}", "name": f"p{p}", "reservation": 0.0, "strategy": s,
                    "issues": {f"i{j}": {"position": "v0", "salience": 0.5} for j in range(3)}}
                   for p, s in enumerate(strategies or turn)],
        "protocol": {"kind": "package", **protocol},
    }
    d = peer_case_draws(2024, k, n_parties)
    return dataclasses.replace(scenario.parse(data), problem=table_problem(d), flow=d.reservation.copy())
