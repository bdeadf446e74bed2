"""The layers of a trained :class:`~spikerec.models.SpikingNetwork` as hardware and pruning see them.

:func:`layer_modules` is the one walk of a model's layers under their IR names (the exporter, the workload
counts, the simulators' torch reference and synapse pruning share it); :func:`batchnorm_affine` is an
eval-mode BatchNorm as the per-channel affine map that export folds into the synapses.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from spikerec.errors import ConfigError

__all__ = ["layer_modules", "batchnorm_affine"]


def layer_modules(model: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """``(IR name, kind, module)`` of every layer of a :class:`~spikerec.models.SpikingNetwork`: ``("hidden<i>",
    "lif", block)`` then ``("readout", "li", readout)``; every module has a ``synapse``. The one walk of a torch
    model that the exporter, the workload counts and synapse pruning share."""
    from spikerec.models.network import SpikingNetwork

    if not isinstance(model, SpikingNetwork) or not all(hasattr(b, "synapse") for b in model.blocks):
        raise ConfigError(f"expected a spikerec.models.SpikingNetwork of synapse -> neuron blocks (delay_snn, lif_rsnn, "
                          f"adlif_rsnn, hrsnn); got {type(model).__name__} {getattr(model, 'kind', '')!r}")
    return [*((f"hidden{i}", "lif", block) for i, block in enumerate(model.blocks)), ("readout", "li", model.readout)]


def batchnorm_affine(norm: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode BatchNorm1d as ``y * scale + shift`` per channel, float64 [C] each:
    ``scale = gamma / sqrt(var + eps)``, ``shift = beta - mean * scale``."""
    if not norm.track_running_stats or norm.running_mean is None:
        raise ConfigError("BatchNorm without running statistics cannot be folded")
    mean = norm.running_mean.detach().double().cpu().numpy()
    var = norm.running_var.detach().double().cpu().numpy()
    gamma = norm.weight.detach().double().cpu().numpy() if norm.affine else np.ones_like(mean)
    beta = norm.bias.detach().double().cpu().numpy() if norm.affine else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + norm.eps)
    return scale, beta - mean * scale
