"""Baseline pruners at matched sparsity: random (the null hypothesis), activity and magnitude.

All three remove neurons first (to hit the neuron count) and then synapses among the kept neurons
(to hit the synapse count); none re-weights what is kept. Sparsities are relative to the model
passed in. If removing neurons already removes more synapses than asked, no synapse is removed
and the report shows the achieved value.

- random: neurons and synapses drawn uniformly (seeded): what any pruning rule must beat;
- activity: neuron score = mean firing rate on task inputs (the classic "train dense, drop
  silent neurons" recipe); synapse score = |w_ij| x rate of the presynaptic neuron j;
- magnitude: neuron score = total |w| in + out (node strength); synapse score = |w_ij|.
"""

from __future__ import annotations

import numpy as np
import torch

from spikerec.errors import ConfigError
from spikerec.models.hrsnn import HRSNN, sparsity_counts
from spikerec.pruning.lnp import PruningResult
from spikerec.window import time_mask


def neuron_rates(model: HRSNN, x: torch.Tensor, window: torch.Tensor | None = None) -> torch.Tensor:
    """Mean firing rate per neuron (spikes per step) on inputs x [T, B, n_inputs]: [N], over the steps
    of each sample's window (``window`` [B], :mod:`spikerec.window`; None: all T steps)."""
    with torch.no_grad():
        spikes, _ = model.run(x)
    if window is None:
        return spikes.mean(dim=(0, 1))
    inside = time_mask(torch.as_tensor(window), x.shape[0]).unsqueeze(-1).to(spikes.dtype)
    return (spikes * inside).sum(dim=(0, 1)) / inside.sum()


def prune_to_sparsity(model: HRSNN, neuron_score: torch.Tensor, synapse_score: torch.Tensor,
                      neuron_sparsity: float, synapse_sparsity: float) -> tuple[HRSNN, np.ndarray]:
    """Keep the highest-scoring neurons, then the highest-scoring synapses among them.

    neuron_score [N], synapse_score [N, N] (post, pre). Ties break by index. Returns (model, kept).
    """
    if not 0.0 <= neuron_sparsity < 1.0 or not 0.0 <= synapse_sparsity < 1.0:
        raise ConfigError(f"sparsities must be in [0, 1), got neurons {neuron_sparsity}, synapses {synapse_sparsity}")
    n = model.n_neurons
    n_keep = max(2, int(round((1.0 - neuron_sparsity) * n)))
    order = np.argsort(-neuron_score.detach().cpu().numpy(), kind="stable")
    keep = np.sort(order[:n_keep])
    target_synapses = int(round((1.0 - synapse_sparsity) * model.n_synapses()))
    pruned = model.select(torch.from_numpy(keep))
    excess = pruned.n_synapses() - target_synapses
    if excess > 0:
        idx = torch.from_numpy(keep)
        score = synapse_score[idx][:, idx].double().masked_fill(pruned.mask == 0, float("inf")).flatten()
        drop = torch.argsort(score, stable=True)[:excess]
        with torch.no_grad():
            flat = pruned.mask.view(-1)
            flat[drop] = 0.0
            pruned.weight.mul_(pruned.mask)
    return pruned, keep


def _result(method: str, model: HRSNN, pruned: HRSNN, keep: np.ndarray) -> PruningResult:
    return PruningResult(pruned, {"method": method, "kept_neurons": keep.tolist(), **sparsity_counts(pruned, model)})


def random_prune(model: HRSNN, neuron_sparsity: float, synapse_sparsity: float, seed: int = 0) -> PruningResult:
    """Uniformly random neurons, then uniformly random synapses among them (seeded): the null hypothesis."""
    gen = torch.Generator().manual_seed(int(seed))
    neuron_score = torch.rand(model.n_neurons, generator=gen, dtype=torch.float64)
    synapse_score = torch.rand(model.n_neurons, model.n_neurons, generator=gen, dtype=torch.float64)
    pruned, keep = prune_to_sparsity(model, neuron_score, synapse_score, neuron_sparsity, synapse_sparsity)
    return _result("random", model, pruned, keep)


def activity_prune(model: HRSNN, x: torch.Tensor, neuron_sparsity: float, synapse_sparsity: float,
                   window: torch.Tensor | None = None) -> PruningResult:
    """Activity-based pruning using task inputs ``x`` [T, B, n_inputs] (no labels needed; rates over each
    sample's ``window`` when given)."""
    rates = neuron_rates(model, x, window)
    syn = model.effective_weight().detach().abs() * rates[None, :]
    pruned, keep = prune_to_sparsity(model, rates, syn, neuron_sparsity, synapse_sparsity)
    return _result("activity", model, pruned, keep)


def magnitude_prune(model: HRSNN, neuron_sparsity: float, synapse_sparsity: float) -> PruningResult:
    """Magnitude pruning: node strength for neurons, |w| for synapses."""
    w = model.effective_weight().detach().abs()
    strength = w.sum(dim=0) + w.sum(dim=1)
    pruned, keep = prune_to_sparsity(model, strength, w, neuron_sparsity, synapse_sparsity)
    return _result("magnitude", model, pruned, keep)
