"""``spikerec energy RUN_DIR|NETWORK_FILE --data DIR``: parse, call
:func:`spikerec.hardware.energy.measure.run_energy`, print."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spikerec.errors import ConfigError


def _crossbar_overrides(items: list[str] | None) -> dict[str, Any] | None:
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in ("tile_rows", "tile_cols", "adc_bits"):
            raise ConfigError(f"--crossbar {item!r}: expected KEY=INT with KEY one of tile_rows, tile_cols, adc_bits")
        try:
            out[key] = int(value)
        except ValueError:
            raise ConfigError(f"--crossbar {item!r}: {value!r} is not an integer") from None
    return out


def _energy(args: argparse.Namespace) -> int:
    from spikerec.hardware.energy.measure import run_energy
    from spikerec.hardware.energy.report import markdown_report
    from spikerec.io import print_result

    print(f"spikerec energy: counting {args.target} on split '{args.split}' ...", file=sys.stderr)
    report = run_energy(args.target, args.data, args.hardware, args.split, args.baseline, args.out, args.batch_size,
                        args.max_samples, _crossbar_overrides(args.crossbar))
    human = markdown_report(report) + f"\nreport: {report['files']['markdown']}, plot: {report['files']['plot']}"
    print_result(report, args.json, human)
    return 0


def register(subparsers) -> None:
    from spikerec.hardware.energy.report import BASELINE, DEFAULT_HARDWARE
    from spikerec.hardware.energy.tables import list_models

    p = subparsers.add_parser(
        "energy", help="measured workload (synaptic ops, spikes, memory traffic) and energy per sample",
        description="Count the workload of a trained run (RUN_DIR) or an exported network file (.h5) on a data "
                    "split and price it with energy models (packaged: " + ", ".join(list_models()) + "; or a "
                    "path to your own .toml). Energies are joules per sample: SynOps-only and memory-inclusive, "
                    "beside the ANN baseline.")
    p.add_argument("target", help="run directory written by 'spikerec train', or a network .h5 / .nir file")
    p.add_argument("--data", required=True, help="data directory (shd_*.h5 or ssc_*.h5)")
    p.add_argument("--hardware", nargs="+", metavar="NAME", default=list(DEFAULT_HARDWARE),
                   help=f"energy models (names or .toml paths; default: {' '.join(DEFAULT_HARDWARE)})")
    p.add_argument("--baseline", default=BASELINE, help=f"ANN baseline model (default {BASELINE})")
    p.add_argument("--split", choices=["test", "val", "train"], default="test")
    p.add_argument("--crossbar", action="append", metavar="KEY=INT",
                   help="crossbar models: tile_rows, tile_cols (column pairs) and adc_bits, e.g. --crossbar tile_rows=128 "
                        "(repeatable)")
    p.add_argument("--max-samples", type=int, help="count only the first N samples of the split")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", help="report directory (default RUN_DIR/energy_SPLIT or FILE_energy_SPLIT)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=_energy)
