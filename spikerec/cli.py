"""The ``spikerec`` command. Thin: parses arguments, calls the library, prints results.

Each subsystem owns its subcommands in a ``cli`` module exposing ``register(subparsers)``;
``register`` adds a parser and sets ``func=callable(args) -> int``. Numbers go to stdout
(:func:`spikerec.io.print_result`; with ``--json``: one JSON object on the last line); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from spikerec.errors import SpikerecError

# Modules whose ``register`` adds subcommands, in the order they appear in ``--help``.
SUBCOMMAND_MODULES = [
    "spikerec.datasets.cli",
    "spikerec.training.cli",
    "spikerec.pruning.cli",
    "spikerec.hardware.cli",
    "spikerec.hardware.energy.cli",
    "spikerec.demo.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikerec",
        description="Spiking neural networks with learnable delays: data, training, pruning, hardware export, energy.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SpikerecError as err:
        print(f"spikerec {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"spikerec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
