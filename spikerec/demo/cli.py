"""``spikerec demo [--out DIR] [--quick] [--json]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.demo import run_demo

    results = run_demo(args.out, quick=args.quick, seed=args.seed)
    out = Path(args.out)
    human = "\n".join([
        f"Demo finished in {results['seconds']:.0f} s. Report: {out / 'report.md'} (figures and artefacts beside it).",
        "Next: train on the real data with `spikerec train --recipe shd-delays --data DATA_DIR --download`,",
        f"      or inspect the trained run with `spikerec eval {out / 'runs' / 'delays'} --data {out / 'data'}`.",
    ])
    print_result(results, args.json, human)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the whole toolkit end to end on built-in synthetic data",
                              description="Generate synthetic data, train with and without delays, evaluate with "
                              "integer delays, prune a heterogeneous recurrent SNN, and write a report folder.")
    p.add_argument("--out", default="demo-out", help="report folder (default demo-out)")
    p.add_argument("--quick", action="store_true", help="smaller data and fewer epochs (about a minute)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=_demo)
