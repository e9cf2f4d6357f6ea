"""Outcomes over time: one row per run and round (the offer on the table per issue, each actor's
utility of it, its trust where the protocol has trust, the state, and the run's counts so far),
recorded by the worker beside the run's end-of-run row and written to ``series/part-NNNNNN.parquet``
with the same integrity machinery as the main parts (atomic parts, sha256 in the journal, resume).

Recording is off unless a sweep asks for it (``bargain sweep --series``): a run then goes through
the Mesa model round by round even where the vectorised engine would serve (the same outcome for
the same seed, tested in tests/test_sweep.py), and the table is about ``rounds`` times the main one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.negotiation import Negotiation, Outcome

#: The folder of the series parts, inside the results folder.
SERIES_DIR = "series"
#: Protocols that keep trust (the others report it as missing).
TRUST_PROTOCOLS = ("incremental", "framework")


def series_columns(issue_ids: tuple[str, ...], actor_ids: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The series table's columns, in order, with their Parquet types."""
    from model.negotiation import METRICS

    return (("run_id", "int64"), ("round", "int64"), ("proposer", "string"),
            *((f"offer.{i}", "float64") for i in issue_ids), *((f"state.{i}", "float64") for i in issue_ids),
            *((f"utility.{a}", "float64") for a in actor_ids), *((f"trust.{a}", "float64") for a in actor_ids),
            *((f"metric.{k}", "float64") for k in METRICS))


def series_part_name(chunk: int) -> str:
    """The journal's name of a chunk's series part (relative to the results folder)."""
    return f"{SERIES_DIR}/part-{chunk:06d}.parquet"


def _round_record(m: Negotiation, has_trust: bool) -> dict[str, Any]:
    """What the table shows after one round of ``m``."""
    from model.negotiation import METRICS

    p = m.problem
    rec: dict[str, Any] = {"round": int(m.round), "proposer": m.proposer_id or None}
    offer = m.offer
    for i, iid in enumerate(p.space.ids):
        rec[f"offer.{iid}"] = math.nan if offer is None else float(offer[i])
    for i, iid in enumerate(p.space.ids):
        rec[f"state.{iid}"] = float(m.state[i])
    for a in m.actors:
        rec[f"utility.{a.actor_id}"] = a.offer_utility
    for a in m.actors:
        rec[f"trust.{a.actor_id}"] = a.trust if has_trust and m.counterparts[a.index] else math.nan
    for k in METRICS:
        rec[f"metric.{k}"] = float(m.counts[k])
    return rec


def run_recording(m: Negotiation, series: list[dict[str, Any]]) -> Outcome:
    """Run ``m`` to its end as ``Negotiation.run`` does, appending one record per round to ``series``.

    ``metric.delivered_share`` is the running sum of delivered shares (the run's outcome divides it
    by the deliveries at the end); the other counts are as they stand after the round.
    """
    has_trust = m.kind in TRUST_PROTOCOLS
    while m.running:
        m.step()
        series.append(_round_record(m, has_trust))
    assert m.outcome is not None
    return m.outcome
