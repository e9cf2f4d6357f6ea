"""What a finished run says: the outcome summary, the per-round history, and writing them out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import model
from model.core import find_dominating, nash_point, nash_product
from model.core.space import FloatArray
from model.fileio import atomic_write as atomic_write  # re-exported: the sweep and calibration use it
from model.negotiation import Negotiation
from model.protocols.base import Delivery, Event


@dataclass(frozen=True)
class History:
    """Per-round record of a run, as arrays (rows: rounds, columns: actors or issues)."""

    actor_ids: tuple[str, ...]
    issue_ids: tuple[str, ...]
    rounds: np.ndarray  # (T,)
    proposer: tuple[str, ...]  # (T,)
    offers: FloatArray  # (T, I)
    aspiration: FloatArray  # (T, A)
    offer_utility: FloatArray  # (T, A)
    response: tuple[tuple[str, ...], ...]  # (T, A): "", "accepted", "red line", ...
    reservation: FloatArray  # (A,)
    agreed: bool
    reason: str

    @classmethod
    def from_model(cls, m: Negotiation) -> History:
        p = m.problem
        mdf = m.datacollector.get_model_vars_dataframe()
        n_t = len(mdf)
        adf = m.datacollector.get_agent_vars_dataframe().reset_index() if n_t else None
        ids = list(p.actor_ids)
        pos = {a: i for i, a in enumerate(ids)}
        asp = np.full((n_t, len(ids)), np.nan)
        util = np.full((n_t, len(ids)), np.nan)
        resp = [["" for _ in ids] for _ in range(n_t)]
        step_index = {} if adf is None else {s: k for k, s in enumerate(sorted(adf["Step"].unique()))}
        for row in [] if adf is None else adf.itertuples(index=False):
            t, a = step_index[row.Step], pos[row.actor]
            asp[t, a] = row.aspiration
            util[t, a] = row.offer_utility
            resp[t][a] = row.response if not row.proposed else "proposed"
        offer_cols = [f"offer.{i}" for i in p.space.ids]
        offers = mdf[offer_cols].to_numpy(dtype=float) if n_t else np.zeros((0, p.space.n_issues))
        outcome = m.outcome
        return cls(
            actor_ids=tuple(ids),
            issue_ids=p.space.ids,
            rounds=mdf["round"].to_numpy(dtype=int) if n_t else np.zeros(0, dtype=int),
            proposer=tuple(mdf["proposer"].tolist()) if n_t else (),
            offers=offers,
            aspiration=asp,
            offer_utility=util,
            response=tuple(tuple(r) for r in resp),
            reservation=p.reservation.copy(),
            agreed=bool(outcome and outcome.agreed),
            reason=outcome.reason if outcome else "running",
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """Long format: one row per round and actor."""
        rows = []
        for t in range(len(self.rounds)):
            for a, aid in enumerate(self.actor_ids):
                rows.append(
                    {
                        "round": int(self.rounds[t]),
                        "proposer": self.proposer[t],
                        "actor": aid,
                        "aspiration": float(self.aspiration[t, a]),
                        "offer_utility": float(self.offer_utility[t, a]),
                        "reservation": float(self.reservation[a]),
                        "response": self.response[t][a],
                        **{f"offer.{iid}": float(self.offers[t, i]) for i, iid in enumerate(self.issue_ids)},
                    }
                )
        return rows


def event_row(e: Event) -> dict[str, Any]:
    """One event as plain data (a row of ``events.csv``): its round, kind, actor, the share
    delivered (deliveries only; else empty) and what happened in words."""
    return {"round": e.round, "kind": str(e.kind), "actor": e.actor or "",
            "share": e.share if isinstance(e, Delivery) else None, "what": e.text}


def summarize(m: Negotiation) -> dict[str, Any]:
    """The outcome of a finished run as plain data (what ``outcome.json`` holds)."""
    assert m.outcome is not None, "the run has not finished"
    o = m.outcome
    p = m.problem
    sc = m.config
    pk = o.package if o.agreed else None
    util = p.utility(pk) if pk is not None else p.reservation.copy()
    out: dict[str, Any] = {
        "scenario": sc.spec.name,
        "title": sc.spec.title,
        "file": sc.file,
        "scenario_sha256": sc.digest,
        "seed": m.seed_used,
        "version": model.__version__,
        "protocol": sc.spec.protocol.kind,
        "agreed": o.agreed,
        "reason": o.reason,
        "rounds": o.rounds,
        "max_rounds": m.max_rounds,
        "explanation": o.explanation,
        "proposer": o.proposer,
        "blocked_by": [{"actor": a, "reason": r, "detail": d} for a, r, d in o.blocked_by],
        "package": None,
        "state": {iid: round(float(v), 6) for iid, v in zip(p.space.ids, o.state, strict=True)}
        if o.state is not None else None,
        "metrics": o.metrics,
        "information": m.information_summary(),
        "events": [event_row(e) for e in o.events],
        "actors": {},
    }
    if o.phases:  # sequence: each phase's outcome
        out["phases"] = o.phases
    if pk is not None:
        out["package"] = {
            iss.id: {
                "value": round(float(pk[i]), 6),
                "level": iss.level_name(float(pk[i])),
                "status_quo": round(float(p.space.status_quo[i]), 6),
                "label": iss.label,
            }
            for i, iss in enumerate(p.space.issues)
        }
    for a, aid in enumerate(p.actor_ids):
        gain = float(util[a] - p.reservation[a])
        out["actors"][aid] = {
            "name": p.actor_names[a] if p.actor_names else aid,
            "party": bool(p.consent[a]),
            "utility": round(float(util[a]), 6),
            "reservation": round(float(p.reservation[a]), 6),
            "above_reservation": bool(util[a] >= p.reservation[a] - 1e-9),
            "discounted_gain": round(gain * float(p.discount[a]) ** max(o.rounds - 1, 0), 6),
        }
    if pk is not None:
        out["nash_product"] = nash_product(p, pk)
        dom = find_dominating(p, pk)
        out["pareto_optimal"] = dom is None
        if dom is not None:
            u_dom = p.utility(dom)
            out["dominated_by"] = {
                "package": {iid: round(float(dom[i]), 6) for i, iid in enumerate(p.space.ids)},
                "utilities": {aid: round(float(u_dom[a]), 6) for a, aid in enumerate(p.actor_ids)},
            }
    nash = nash_point(p)
    if nash is not None:
        u_n = p.utility(nash)
        out["nash_point"] = {
            "nash_product": nash_product(p, nash),
            "utilities": {aid: round(float(u_n[a]), 6) for a, aid in enumerate(p.actor_ids)},
        }
    return out


def json_writer(data: Any) -> Callable[[str], None]:
    """What writes ``data`` as ``outcome.json`` is written (for ``atomic_write`` or an ``OutputSet``)."""

    def w(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")

    return w


def csv_writer(rows: list[dict[str, Any]]) -> Callable[[str], None]:
    """What writes ``rows`` as CSV (numbers with 6 significant digits)."""
    import csv

    def w(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            if not rows:
                return
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            for r in rows:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})

    return w


def figure_writer(fig: Any, fmt: str) -> Callable[[str], None]:
    """What saves a matplotlib figure in format ``fmt`` (``png`` at 200 dpi, ``svg``, ``pdf``)."""

    def w(tmp: str) -> None:
        fig.savefig(tmp, format=fmt, dpi=200, bbox_inches="tight")  # 200 dpi (was 130): for print

    return w


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json_writer(data))


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write(path, csv_writer(rows))


def save_figure(path: Path, fig: Any) -> None:
    atomic_write(path, figure_writer(fig, path.suffix.lstrip(".")))
