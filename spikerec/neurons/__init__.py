"""Spiking neuron models: fused LIF family, LI readout, adaptive LIF, probabilistic meta-neuron,
surrogate gradients, heterogeneous timescale initialisers, Lempel-Ziv complexity.

Tensors are time-major ``[T, B, N]`` float32; times in ms. Math lives in
:mod:`spikerec.neurons.functional` (fused kernels); the modules here hold parameters and call it.
"""

from __future__ import annotations

from spikerec.neurons import functional, surrogate, timescales
from spikerec.neurons.lzc import LZCClassifier, lempel_ziv_complexity
from spikerec.neurons.meta import MetaNeuron
from spikerec.neurons.modules import (AdaptiveLIF, AdaptiveState, LI, LIF, LIFState, RecurrentLIF, RecurrentState,
                                      TimeConstant)
from spikerec.neurons.surrogate import Surrogate
from spikerec.neurons.timescales import init_tau_, sample_tau_ms

__all__ = ["LIF", "LI", "RecurrentLIF", "AdaptiveLIF", "MetaNeuron", "LIFState", "RecurrentState", "AdaptiveState",
           "TimeConstant", "Surrogate", "LZCClassifier", "lempel_ziv_complexity", "sample_tau_ms", "init_tau_",
           "functional", "surrogate", "timescales"]
