"""Energy estimates from measured workloads (:mod:`spikerec.hardware.energy.counts`) and sourced energy models.

``load_model(name | path)`` reads a model table (packaged: ``list_models()``), ``estimate_energy(workload,
model)`` prices a workload, ``energy_report`` / ``write_report`` put several models side by side with the
ANN baseline (JSON, markdown, PNG). See docs/energy.md.
"""

from __future__ import annotations

from spikerec.hardware.energy.estimate import EnergyEstimate, estimate_energy
from spikerec.hardware.energy.report import (BASELINE, DEFAULT_HARDWARE, energy_report, markdown_report, plot_report,
                                             write_report)
from spikerec.hardware.energy.tables import EnergyModel, list_models, load_model, parse_model

__all__ = ["BASELINE", "DEFAULT_HARDWARE", "EnergyEstimate", "EnergyModel", "energy_report", "estimate_energy",
           "list_models", "load_model", "markdown_report", "parse_model", "plot_report", "write_report"]
