"""Spiking neuron models: fused LIF family, LI readout, surrogate gradients, timescale initialisers.

Tensors are time-major ``[T, B, N]`` float32; times in ms. Math lives in
:mod:`spikerec.neurons.functional`; the modules here hold parameters and call it.
"""

from __future__ import annotations

from spikerec.neurons import functional, surrogate
from spikerec.neurons.modules import (AdaptiveLIF, AdaptiveState, LI, LIF, LIFState, RecurrentLIF, RecurrentState,
                                      TimeConstant)
from spikerec.neurons.surrogate import Surrogate

__all__ = ["LIF", "LI", "RecurrentLIF", "AdaptiveLIF", "LIFState", "RecurrentState", "AdaptiveState", "TimeConstant",
           "Surrogate",
           "functional", "surrogate"]
