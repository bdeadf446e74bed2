"""The hardware path, in three rooms:

- :mod:`spikerec.hardware.ir` — the Network IR (framework-free numpy layers) and its file formats: the HDF5
  Network file, NIR, Lava-dl netx; the exporter from a trained torch model; loading networks and their data.
- :mod:`spikerec.hardware.simulators` — what runs an IR: the event-driven simulator, the dense torch
  reference, the memristive crossbar simulator, and the agreement check of a simulator against a model.
- :mod:`spikerec.hardware.energy` — workload counts on real inputs and the energy models that price them.

Networks enter as IR objects; simulators and counts read nothing but the IR (and frames); numbers leave.
Command lines: :mod:`spikerec.hardware.cli` (export, simulate) and :mod:`spikerec.hardware.energy.cli`.
Importing this package is cheap: names resolve on first use (``from spikerec.hardware import Network``).
"""

from __future__ import annotations

from spikerec.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "Layer": "ir.network", "Network": "ir.network",
    "network_from_model": "ir.from_model", "network_from_run": "ir.load", "load_network_file": "ir.load",
    "to_nir": "ir.nir", "from_nir": "ir.nir", "export_lava": "ir.lava", "export_run": "ir.export",
    "EventSimulator": "simulators.event", "SimResult": "simulators.event",
    "torch_reference": "simulators.reference", "simulate_event": "simulators.agreement",
    "simulate_crossbar": "simulators.crossbar.evaluate",
})
