"""Network builders: feedforward delay SNN, recurrent LIF/adLIF baselines, meta-neuron variant.

HRSNN (heterogeneous recurrent SNN) lives in :mod:`spikerec.models.hrsnn`.
``build_model(recipe, n_inputs, n_classes)`` picks the builder named by ``recipe.model.kind``.
"""

from __future__ import annotations

from spikerec.models.builders import MODEL_BUILDERS, build_model
from spikerec.models.hrsnn import HRSNN, HRSNNConfig
from spikerec.models.network import MetaBlock, Readout, SpikingBlock, SpikingNetwork

__all__ = ["HRSNN", "HRSNNConfig", "MODEL_BUILDERS", "MetaBlock", "Readout", "SpikingBlock", "SpikingNetwork",
           "build_model"]
