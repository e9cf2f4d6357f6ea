"""A fingerprint of what the model computes: every shipped scenario, and the baseline under every
protocol, over 20 seeds, hashed. A refactoring that must not change results keeps it.

    .venv/bin/python benchmarks/fingerprint.py            # print the digest and the per-case lines
    .venv/bin/python benchmarks/fingerprint.py --check F  # compare with a saved output (exit 1 if it differs)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model import scenario  # noqa: E402
from model.negotiation import Negotiation  # noqa: E402

PROTOCOLS = ("package", "incremental", "framework", "mediated", "eum")


def cases() -> list[tuple[str, scenario.Scenario]]:
    out = [(f.name, scenario.load(f)) for f in sorted((ROOT / "scenarios").glob("*.yaml"))]
    data = scenario.load_data(ROOT / "scenarios" / "belarus_us_2025.yaml")[0]
    for kind in PROTOCOLS:
        d = json.loads(json.dumps(data))
        d["protocol"]["kind"] = kind
        out.append((f"baseline/{kind}", scenario.parse(d)))
    return out


def line(name: str, sc: scenario.Scenario, seed: int) -> str:
    o = Negotiation(sc, rng=seed, collect=False).run()
    pk = "-" if o.package is None else ",".join(f"{v:.12g}" for v in np.asarray(o.package, dtype=float))
    st = "-" if o.state is None else ",".join(f"{v:.12g}" for v in np.asarray(o.state, dtype=float))
    blocked = ";".join(f"{a}:{r}" for a, r, _ in o.blocked_by)
    return f"{name} seed={seed} {o.agreed} {o.reason} {o.rounds} [{pk}] [{st}] {blocked} {len(o.events)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--check", type=Path, help="a saved output to compare with")
    args = ap.parse_args()
    lines = [line(name, sc, seed) for name, sc in cases() for seed in range(args.seeds)]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    text = f"digest {digest}\n" + "\n".join(lines) + "\n"
    if args.check:
        saved = args.check.read_text()
        if saved != text:
            old, new = saved.splitlines(), text.splitlines()
            diff = [f"- {a}\n+ {b}" for a, b in zip(old, new, strict=False) if a != b]
            print(f"DIFFERENT from {args.check}: {len(diff)} lines differ", *diff[:10], sep="\n")
            return 1
        print(f"IDENTICAL to {args.check} ({digest[:16]})")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
