"""Measured workload and energy per sample of a run directory or a network file on a data split.

A run directory (written by ``spikerec train``) is counted with its torch model (best.pt, integer delays);
a network file (``.h5`` Network IR, or ``.nir``) with the event simulator, on data binned as its
``metadata["data"]`` says (``spikerec export`` writes it). Each sample is counted over its own window (its
frames and the drain, :mod:`spikerec.window`), so the numbers do not depend on the batch size. This is what
``spikerec energy`` runs. A quantised network file (``spikerec quantize``) runs in integer arithmetic and the
hardware models (not the baseline) store its weights and membranes in its target profile's widths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikerec.errors import ConfigError

__all__ = ["run_energy"]


def run_energy(target: str | Path, data_dir: str | Path, hardware: list[str] | None = None, split: str = "test",
               baseline: str = "ann-45nm", out_dir: str | Path | None = None, batch_size: int = 64,
               max_samples: int | None = None, crossbar_config: Any = None) -> dict[str, Any]:
    """Count the workload of ``target`` on ``split`` and write ``energy.json``, ``energy.md`` and ``energy.png``
    into ``out_dir`` (default ``RUN_DIR/energy_<split>`` or ``<file stem>_energy_<split>`` next to the file)."""
    from torch.utils.data import DataLoader

    from spikerec.hardware.energy.counts import count_dataset
    from spikerec.hardware.energy.report import (DEFAULT_HARDWARE, crossbar_geometry, energy_report,
                                                 resolve_models, write_report)

    models = resolve_models(hardware or DEFAULT_HARDWARE, baseline, crossbar_config)
    target = Path(target)
    if target.is_dir():
        from spikerec.training.runs import load_datasets, load_run_model, load_run_recipe
        from spikerec.training.windows import window_collate

        recipe = load_run_recipe(target)
        datasets = load_datasets(recipe, data_dir)
        subject, _ = load_run_model(target, sizes=(datasets[split].n_channels, datasets[split].n_classes))
        collate = window_collate(recipe, subject)
        default_out = target / f"energy_{split}"
    else:
        from spikerec.hardware.ir.load import load_network_file, network_collate, network_datasets

        subject = load_network_file(target)
        if subject.profile is not None:  # a quantised network: its target's weight and membrane widths
            p = subject.profile
            models = [m if m.name == baseline else m.with_word_bits(p.weight_bits, p.membrane_bits) for m in models]
        datasets = network_datasets(subject, data_dir)
        collate = network_collate(subject)
        default_out = target.with_name(f"{target.stem}_energy_{split}")
    dataset = datasets[split]
    if len(dataset) == 0:
        raise ConfigError(f"{data_dir}: split '{split}' is empty; choose another --split")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    workload = count_dataset(subject, loader, crossbar=crossbar_geometry(models), max_samples=max_samples)
    report = energy_report(workload, models, baseline)
    report.update({"target": str(target), "split": split,
                   "window": {"drain_steps": collate.drain_steps, "fixed_steps": collate.fixed_steps}})
    report["files"] = write_report(report, out_dir or default_out)
    return report
