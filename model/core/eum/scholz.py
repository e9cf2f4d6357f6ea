"""The example of Scholz et al. (2011), Table 1: the data their replication starts from."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from model.core.eum.rounds import Actors

#: The example of Scholz et al. (2011), Table 1 (Bueno de Mesquita 1994, p. 78): (actor, capability,
#: position on the 4-10 scale, salience).
SCHOLZ_TABLE1_ROWS: tuple[tuple[str, float, float, float], ...] = (
    ("Netherlands", 0.08, 4, 0.8),
    ("Belgium", 0.08, 7, 0.4),
    ("Luxembourg", 0.03, 4, 0.2),
    ("Germany", 0.16, 4, 0.8),
    ("France", 0.16, 10, 0.6),
    ("Italy", 0.16, 10, 0.6),
    ("UK", 0.16, 10, 0.9),
    ("Ireland", 0.05, 7, 0.1),
    ("Denmark", 0.05, 4, 1.0),
    ("Greece", 0.08, 7, 0.7),
)



def scholz_example() -> Actors:
    """The 10-actor example of Scholz et al. (2011), Table 1."""
    return Actors.from_rows(SCHOLZ_TABLE1_ROWS)


def load_actors(path: str | Path) -> Actors:
    """Read actors from a CSV with columns ``Actor, Capability, Position, Salience``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return Actors(
        names=tuple(r["Actor"] for r in rows),
        capability=np.array([float(r["Capability"]) for r in rows]),
        position=np.array([float(r["Position"]) for r in rows]),
        salience=np.array([float(r["Salience"]) for r in rows]),
    )
