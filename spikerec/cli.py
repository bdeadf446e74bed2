"""The ``spikerec`` command. Thin: parses arguments, calls the library, prints results.

Each subsystem owns its subcommands in a ``cli`` module exposing ``register(subparsers)``;
``register`` adds a parser and sets ``func=callable(args) -> int``. Numbers go to stdout
(with ``--json``: one JSON object on the last line); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Sequence

from spikerec.errors import SpikerecError
from spikerec.io import to_jsonable

# Modules whose ``register`` adds subcommands, in the order they appear in ``--help``.
SUBCOMMAND_MODULES = [
    "spikerec.datasets.cli",
    "spikerec.training.cli",
    "spikerec.pruning.cli",
    "spikerec.hardware.cli",
    "spikerec.hardware.energy_cli",
    "spikerec.demo.cli",
]


def print_result(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print a command's result: one JSON object on the last stdout line, or ``human`` text."""
    if as_json:
        print(json.dumps(to_jsonable(result), sort_keys=True))
    else:
        print(human if human is not None else json.dumps(to_jsonable(result), indent=2, sort_keys=True))


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
