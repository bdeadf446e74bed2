"""Memristive crossbar simulator: device presets, tiles of differential conductance pairs, periphery
(binary word-line reads, ADC, IR drop) and an SNN runner whose synaptic currents come from the crossbars.

Names resolve lazily from their submodules (importing the package is cheap).
"""

from __future__ import annotations

from spikerec.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "simulate_crossbar": "evaluate", "parse_sweep": "evaluate", "plot_sweep": "evaluate",
    "CrossbarSimulator": "simulate", "CrossbarResult": "simulate",
    "CrossbarConfig": "devices", "PRESETS": "devices", "get_config": "devices",
    "MappedMatrix": "tiles", "map_matrix": "tiles",
})
