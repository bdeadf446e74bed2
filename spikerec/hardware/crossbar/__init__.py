"""Memristive crossbar simulator: device presets, tiles of differential conductance pairs, periphery
(binary word-line reads, ADC, IR drop) and an SNN runner whose synaptic currents come from the crossbars.

Names resolve lazily from their submodules (importing the package is cheap).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "simulate_crossbar": "spikerec.hardware.crossbar.evaluate",
    "parse_sweep": "spikerec.hardware.crossbar.evaluate",
    "plot_sweep": "spikerec.hardware.crossbar.evaluate",
    "CrossbarSimulator": "spikerec.hardware.crossbar.simulate",
    "CrossbarResult": "spikerec.hardware.crossbar.simulate",
    "CrossbarConfig": "spikerec.hardware.crossbar.devices",
    "PRESETS": "spikerec.hardware.crossbar.devices",
    "get_config": "spikerec.hardware.crossbar.devices",
    "MappedMatrix": "spikerec.hardware.crossbar.tiles",
    "map_matrix": "spikerec.hardware.crossbar.tiles",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spikerec.hardware.crossbar' has no attribute {name!r}")
