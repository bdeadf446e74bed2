"""``spikerec energy RUN_DIR|NETWORK_FILE --data DIR``: measured workload and energy per sample.

A run directory (written by ``spikerec train``) is counted with its torch model (best.pt, integer
delays); a network file (``.h5`` hardware IR, or ``.nir``) with the event simulator, on data binned as
its ``metadata["data"]`` says (``spikerec export`` writes it). Each sample is counted over its own window
(its frames and the drain, :mod:`spikerec.window`): the numbers do not depend on ``--batch-size``.
Writes ``energy.json``, ``energy.md`` and ``energy.png`` into ``--out`` (default
``RUN_DIR/energy_<split>`` or ``<file stem>_energy_<split>`` next to the network file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spikerec.errors import ConfigError


def _dataset_kind(data: dict, data_dir: Path) -> str:
    """Which data set a network file was trained on: its metadata, else the files present in ``data_dir``."""
    if data.get("dataset"):
        return str(data["dataset"])
    found = [k for k in ("shd", "ssc") if (data_dir / f"{k}_test.h5").exists()]
    if len(found) != 1:
        raise ConfigError(f"{data_dir}: cannot tell the data set of this network (its metadata has no data.dataset "
                          f"and the directory holds {'both' if found else 'neither'} shd_test.h5 / ssc_test.h5)")
    return found[0]


def _datasets_for_network(network, data_dir: str):
    """Frame datasets binned as the network's ``metadata["data"]`` says (written by ``spikerec export``)."""
    from spikerec.datasets import build_frame_datasets

    data = dict(network.metadata.get("data") or {})
    datasets = build_frame_datasets(data_dir, dataset=_dataset_kind(data, Path(data_dir)),
                                    bin_ms=float(data.get("bin_ms", network.dt_ms)),
                                    pool=int(data.get("pool", network.input_pooling)),
                                    max_duration_ms=data.get("max_duration_ms") or None,
                                    binary=bool(data.get("binary", False)))
    channels = datasets["test"].n_channels
    if channels != network.n_inputs:
        raise ConfigError(f"{data_dir}: the data have {channels} channels after pooling but the network reads "
                          f"{network.n_inputs}; check the data directory and the network's data metadata")
    return datasets


def _crossbar_overrides(items: list[str] | None) -> dict[str, Any] | None:
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in ("rows", "cols", "adc_bits"):
            raise ConfigError(f"--crossbar {item!r}: expected KEY=INT with KEY one of rows, cols, adc_bits")
        try:
            out[key] = int(value)
        except ValueError:
            raise ConfigError(f"--crossbar {item!r}: {value!r} is not an integer") from None
    return out


def run_energy(target: str | Path, data_dir: str, hardware: list[str] | None = None, split: str = "test",
               baseline: str = "ann-45nm", out_dir: str | Path | None = None, batch_size: int = 64,
               max_samples: int | None = None, crossbar_config: Any = None) -> dict[str, Any]:
    """Count the workload of a run directory or network file on ``split`` and write the energy report."""
    from torch.utils.data import DataLoader

    from spikerec.hardware.counts import count_dataset
    from spikerec.hardware.energy.report import (DEFAULT_HARDWARE, crossbar_geometry, energy_report,
                                                 resolve_models, write_report)

    models = resolve_models(hardware or DEFAULT_HARDWARE, baseline, crossbar_config)
    target = Path(target)
    if target.is_dir():
        from spikerec.training.runs import load_datasets, load_run_model, load_run_recipe
        from spikerec.training.trainer import window_collate

        recipe = load_run_recipe(target)
        datasets = load_datasets(recipe, data_dir)
        sizes = (datasets[split].n_channels, datasets[split].n_classes)
        subject, _ = load_run_model(target, sizes=sizes)
        collate = window_collate(recipe, subject)
        default_out = target / f"energy_{split}"
    else:
        from spikerec.hardware.cli import load_network_file, network_collate

        subject = load_network_file(target)  # .h5 network or .nir graph
        datasets = _datasets_for_network(subject, data_dir)
        collate = network_collate(subject)
        default_out = target.with_name(f"{target.stem}_energy_{split}")
    dataset = datasets[split]
    if len(dataset) == 0:
        raise ConfigError(f"{data_dir}: split '{split}' is empty; choose another --split")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    workload = count_dataset(subject, loader, crossbar=crossbar_geometry(models), max_samples=max_samples)
    report = energy_report(workload, models, baseline)
    report.update({"target": str(target), "split": split, "window": {"drain_steps": collate.drain_steps,
                                                                      "fixed_steps": collate.fixed_steps}})
    report["files"] = write_report(report, out_dir or default_out)
    return report


def _energy(args: argparse.Namespace) -> int:
    from spikerec.cli import print_result
    from spikerec.hardware.energy.report import markdown_report

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
                   help="crossbar models: tile rows, cols (column pairs) and adc_bits, e.g. --crossbar rows=128 (repeatable)")
    p.add_argument("--max-samples", type=int, help="count only the first N samples of the split")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", help="report directory (default RUN_DIR/energy_SPLIT or FILE_energy_SPLIT)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=_energy)
