"""Run NeuroBench's workload metrics on a spikerec model, and the mapping to spikerec's counts.

NeuroBench (``neurobench`` package, optional peer) counts synaptic operations with forward
pre-hooks on ``nn.Linear``/``nn.Conv``/``nn.RNNCell`` layers (non-zero inputs x non-zero weights;
"Effective_ACs" when the layer input is in {-1, 0, 1}, else "Effective_MACs") and activation sparsity
with forward hooks on registered activation modules. A spikerec model needs three adaptations,
made by :func:`neurobench_view` without changing what the model computes:

* NeuroBench data are batch-first ``[B, T, C]``; spikerec is time-major -> a transposing wrapper;
* spikerec's ``LIF`` (and ``RecurrentLIF``) are registered as activation modules; the LI readout is
  not (its membrane is not an activation), as in spikerec's ``activation_sparsity``;
* ``DelayedLinear`` and the recurrent weights inside ``RecurrentLIF`` are not layers NeuroBench
  knows. Each gets a *probe*: an ``nn.Linear`` holding the synapse's non-zero pattern that sees the
  same input (events for delays, the layer's own spikes for recurrence), so NeuroBench counts every
  event x fan-out irrespective of its delay — spikerec's definition. Without probes NeuroBench
  silently counts zero operations for these synapses.

Mapping (tested in tests/test_energy_neurobench.py): ``Effective_ACs + Effective_MACs`` =
``synaptic_ops + recurrent_ops`` (spikerec does not split by input type; binned frames with counts > 1
make the first layer "MACs" in NeuroBench); ``Dense`` = ``dense_macs``; ``ActivationSparsity`` =
``activation_sparsity``; ``ParameterCount``/``Footprint`` are the model's own parameters/buffers (probes
excluded). Padding: NeuroBench counts every step of a padded batch, spikerec only the real steps when
given ``lengths``; with equal-length samples (or ``lengths=None``) they agree exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["neurobench_view", "neurobench_metrics"]


class _TimeMajor(nn.Module):
    """NeuroBench calls ``net(x [B, T, C])``; spikerec models take ``[T, B, C]``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(0, 1)).transpose(0, 1)


def _probe_linear(pattern: torch.Tensor) -> nn.Linear:
    """An ``nn.Linear`` whose weights are 1 where a synapse exists (NeuroBench binarises weights anyway)."""
    probe = nn.Linear(pattern.shape[1], pattern.shape[0], bias=False)
    with torch.no_grad():
        probe.weight.copy_(pattern.to(probe.weight.dtype))
    probe.requires_grad_(False)
    return probe


class _ProbedSynapse(nn.Module):
    """A synapse NeuroBench cannot see (``DelayedLinear``), plus a probe seeing the same events."""

    def __init__(self, synapse: nn.Module):
        super().__init__()
        self.synapse = synapse
        self.probe = _probe_linear(synapse.weight.detach().ne(0).any(dim=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.probe(x.to(self.probe.weight.dtype))
        return self.synapse(x)


class _ProbedRecurrence(nn.Module):
    """A ``RecurrentLIF`` plus a probe fed with its output spikes (each one crosses the recurrent synapses)."""

    def __init__(self, neuron: nn.Module):
        super().__init__()
        self.neuron = neuron
        self.probe = _probe_linear(neuron.effective_recurrent_weight().detach().ne(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spikes = self.neuron(x)
        self.probe(spikes.to(self.probe.weight.dtype))
        return spikes


def neurobench_view(model: nn.Module) -> nn.Module:
    """A batch-first copy of a :class:`~spikerec.models.SpikingNetwork` with probes, for NeuroBench's hooks.

    A deep copy, so NeuroBench's hooks never attach to (and accumulate inputs from) ``model`` itself.
    Run it in eval mode with integer delays, as spikerec counts.
    """
    import copy

    from spikerec.delays import DelayedLinear
    from spikerec.hardware.energy.counts import structure_from_model

    structure_from_model(model)  # raises ConfigError for unsupported models
    view = copy.deepcopy(model)
    for layer in [*view.blocks, view.readout]:
        if isinstance(layer.synapse, DelayedLinear):
            layer.synapse = _ProbedSynapse(layer.synapse)
    for block in view.blocks:
        if hasattr(block.neuron, "effective_recurrent_weight"):
            block.neuron = _ProbedRecurrence(block.neuron)
    return _TimeMajor(view)


def neurobench_metrics(model: nn.Module, frames: torch.Tensor, batch_size: int = 8) -> dict[str, Any]:
    """NeuroBench's SynapticOperations, ActivationSparsity, ParameterCount, Footprint and ConnectionSparsity
    of ``model`` on ``frames`` [T, B, C] (equal-length samples), in eval mode with integer delays."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel
    from torch.utils.data import DataLoader, TensorDataset

    from spikerec.neurons import LIF
    from spikerec.delays import delay_eval_context

    view = neurobench_view(model)
    wrapped = TorchModel(view)
    wrapped.add_activation_module(LIF)
    data = TensorDataset(frames.transpose(0, 1), torch.zeros(frames.shape[1], dtype=torch.long))
    bench = Benchmark(wrapped, DataLoader(data, batch_size=batch_size), [], [],
                      [[ParameterCount, Footprint, ConnectionSparsity], [SynapticOperations, ActivationSparsity]])
    with torch.no_grad(), delay_eval_context(view, True):
        results = bench.run(quiet=True)
    wrapped.cleanup_hooks()
    # the probes are ours, not the model's: parameter count and footprint are taken on the model itself
    was_training = model.training
    bare = TorchModel(model)  # (sets eval mode)
    results["ParameterCount"] = ParameterCount()(bare)
    results["Footprint"] = Footprint()(bare)
    model.train(was_training)
    return results
