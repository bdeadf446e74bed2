"""Hardware path: the Network IR, exporters (NIR, Lava-dl netx), event-driven and crossbar simulators, energy.

Importing this package is cheap: names resolve lazily from their submodules on first use
(``from spikerec.hardware import Network, EventSimulator``). To add a public name, add one line to
``_LAZY`` mapping it to its module.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "Layer": "spikerec.hardware.network",
    "Network": "spikerec.hardware.network",
    "EventSimulator": "spikerec.hardware.event_sim",
    "SimResult": "spikerec.hardware.event_sim",
    "torch_reference": "spikerec.hardware.reference",
    "to_nir": "spikerec.hardware.nir_export",
    "from_nir": "spikerec.hardware.nir_export",
    "export_lava": "spikerec.hardware.lava_export",
    "simulate_crossbar": "spikerec.hardware.crossbar.evaluate",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spikerec.hardware' has no attribute {name!r}")
