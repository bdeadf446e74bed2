"""Synapse pruning of a trained :class:`~spikerec.models.SpikingNetwork` to a target sparsity.

Every synaptic matrix of the network (each layer's feed-forward weights, the readout's included, and
each recurrent matrix) loses the same fraction ``S`` of the synapses it has (a synapse exists where its
effective weight is non-zero, the IR's counting convention); at least ``S`` goes from each matrix (the
kept count is rounded down), so the whole network keeps at most ``1 - S`` of its synapses. Which synapses
go is decided per matrix by a score, lowest first (ties by index):

- ``magnitude``: ``|w|`` of the weight the network computes with: the L2 norm over a synapse's delay
  taps, times the eval-mode BatchNorm scale ``|gamma / sqrt(var + eps)|`` of its output channel where a
  BatchNorm follows (so the exported, BN-folded weight's magnitude);
- ``random``: uniform random scores (seeded): the null hypothesis every rule must beat;
- ``lnp-scores``: the Moore-Chaudhuri importance LNP's first stage samples with
  (:func:`spikerec.pruning.noise_pruning.synapse_scores`), ``|w_ij| (C_ii + C_jj - 2 sign(w_ij) C_ij)``,
  C the covariance of the layer's membrane potentials when each neuron is driven by independent
  Gaussian current noise (``LNPConfig.noise_std``, ``noise_steps``, ``repeats``) around its constant input
  current (the layer's BN-folded bias). It is defined for a synapse whose two ends are neurons of the same
  noise-driven layer, so it scores **recurrent** matrices only; feed-forward matrices (whose presynaptic side
  is the input or another layer) are left as they are, and a network without recurrent synapses is refused.
  Unlike LNP it ranks instead of sampling and does not re-weight: the target sparsity is met exactly and
  fine-tuning re-fits the kept weights.

The pruned synapses are masked (:mod:`spikerec.models.synapse_masks`) and stay pruned while fine-tuning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spikerec.errors import ConfigError

__all__ = ["METHODS", "SynapticMatrix", "synaptic_matrices", "synapse_counts", "keep_top", "synapse_scores_for",
           "prune_synapses"]

METHODS = ("magnitude", "lnp-scores", "random")


@dataclass
class SynapticMatrix:
    """One weight matrix of a network: ``layer`` (IR name), ``kind`` ("feedforward" | "recurrent"), the module
    holding it and its attribute ``name``, and the layer's ``block`` (block or readout)."""

    layer: str
    kind: str
    module: nn.Module
    name: str
    block: nn.Module

    @property
    def key(self) -> str:
        return f"{self.layer}.{'recurrent' if self.kind == 'recurrent' else 'feedforward'}"

    def values(self) -> torch.Tensor:
        """Effective weights as the network computes with them (all masks applied), [out, in, taps], detached."""
        with torch.no_grad():
            w = self.module.effective_recurrent_weight() if self.kind == "recurrent" else getattr(self.module, self.name)
        w = w.detach()
        return w.reshape(w.shape[0], w.shape[1], -1)

    def existing(self) -> torch.Tensor:
        """bool [out, in]: the synapses present (a non-zero tap)."""
        return (self.values() != 0).any(dim=2)


def synaptic_matrices(model: nn.Module) -> list[SynapticMatrix]:
    """Every feed-forward and recurrent weight matrix of a SpikingNetwork, in layer order."""
    from spikerec.models.walk import layer_modules

    out = []
    for layer, kind, block in layer_modules(model):
        out.append(SynapticMatrix(layer, "feedforward", block.synapse, "weight", block))
        neuron = block.neuron if kind == "lif" else None
        if getattr(neuron, "recurrent_weight", None) is not None:
            out.append(SynapticMatrix(layer, "recurrent", neuron, "recurrent_weight", block))
    return out


def synapse_counts(model: nn.Module) -> dict[str, int]:
    """Synapses present per matrix (:attr:`SynapticMatrix.key`)."""
    return {m.key: int(m.existing().sum()) for m in synaptic_matrices(model)}


def keep_top(scores: torch.Tensor, existing: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """bool mask: the ``floor(keep_fraction * n)`` highest-scoring of the ``n`` existing synapses (ties: lower
    flat index kept). scores, existing: [out, in]."""
    n_keep = math.floor(keep_fraction * int(existing.sum()) + 1e-9)
    ranked = torch.where(existing, scores.double(), torch.full_like(scores, -math.inf, dtype=torch.float64))
    order = torch.argsort(-ranked.flatten(), stable=True)[:n_keep]
    keep = torch.zeros(existing.numel(), dtype=torch.bool)
    keep[order] = True
    return keep.reshape(existing.shape)


def _batchnorm_scale(block: nn.Module, n_out: int) -> torch.Tensor:
    """|BatchNorm scale| per output channel of ``block`` [n_out] float64 (ones without BatchNorm)."""
    from spikerec.models.walk import batchnorm_affine

    norm = getattr(block, "norm", None)
    if norm is None:
        return torch.ones(n_out, dtype=torch.float64)
    return torch.from_numpy(batchnorm_affine(norm)[0]).abs()


def _input_current(block: nn.Module, n_out: int) -> torch.Tensor:
    """Constant input current of a layer with silent input: its synapse bias through BatchNorm, [n_out] float64."""
    from spikerec.models.walk import batchnorm_affine

    bias = block.synapse.bias
    b = torch.zeros(n_out, dtype=torch.float64) if bias is None else bias.detach().double().cpu()
    norm = getattr(block, "norm", None)
    if norm is None:
        return b
    scale, shift = (torch.from_numpy(a) for a in batchnorm_affine(norm))
    return b * scale + shift


def noise_scores(matrix: SynapticMatrix, config) -> torch.Tensor:
    """Moore-Chaudhuri importance [N, N] of a recurrent matrix under the noise drives of ``config``
    (:class:`~spikerec.pruning.lnp.LNPConfig`)."""
    from spikerec.pruning.noise_pruning import noise_covariance, noise_drive, synapse_scores

    neuron = matrix.module
    n = neuron.n_neurons
    drives = noise_drive(config.noise_steps, n, config.noise_std, _input_current(matrix.block, n),
                         [config.seed * 10007 + r for r in range(config.repeats)])
    cov, _ = noise_covariance(neuron, drives, config.n_transient)
    w = matrix.values()[:, :, 0].cpu()
    return synapse_scores(w, (w != 0), cov)


def synapse_scores_for(method: str, matrix: SynapticMatrix, generator: torch.Generator, lnp_config) -> torch.Tensor:
    """Score [out, in] (float64; higher = keep) of every synapse of ``matrix`` under ``method``."""
    if method == "magnitude":
        w = matrix.values().double().cpu()
        norm = w.norm(dim=2)
        return norm * _batchnorm_scale(matrix.block, w.shape[0])[:, None] if matrix.kind == "feedforward" else norm
    if method == "random":
        return torch.rand(matrix.values().shape[:2], generator=generator, dtype=torch.float64)
    return noise_scores(matrix, lnp_config)


def prune_synapses(model: nn.Module, method: str, sparsity: float, seed: int = 0, lnp_config=None) -> dict[str, Any]:
    """Prune ``sparsity`` of the synapses of every matrix ``method`` scores (all for magnitude and random, the
    recurrent ones for lnp-scores) in place; returns a JSON-ready report: counts per matrix and in total,
    before and after, and the achieved ``synapse_sparsity`` over all synapses of the network."""
    from spikerec.pruning.lnp import LNPConfig
    from spikerec.models.synapse_masks import mask_synapses

    if method not in METHODS:
        raise ConfigError(f"unknown synapse pruning method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"--synapse-sparsity must be in [0, 1), got {sparsity}")
    matrices = synaptic_matrices(model)
    targets = [m for m in matrices if method != "lnp-scores" or m.kind == "recurrent"]
    if not targets:
        raise ConfigError(f"lnp-scores scores recurrent synapses (the noise covariance of the two neurons a synapse "
                          f"joins), and this {getattr(model, 'kind', '') or type(model).__name__} network has none; "
                          f"use --method magnitude or random")
    lnp_config = lnp_config or LNPConfig(seed=seed)
    generator = torch.Generator().manual_seed(int(seed))
    before = synapse_counts(model)
    keeps = {m.key: keep_top(synapse_scores_for(method, m, generator, lnp_config), m.existing().cpu(), 1.0 - sparsity)
             for m in targets}
    for m in targets:
        mask_synapses(m.module, m.name, keeps[m.key].to(m.values().device))
    after = synapse_counts(model)
    total_before, total_after = sum(before.values()), sum(after.values())
    return {
        "method": method, "target_sparsity": sparsity, "seed": seed,
        "synapses_before": total_before, "synapses_after": total_after,
        "synapse_sparsity": 1.0 - total_after / max(total_before, 1),
        "matrices": [{"matrix": m.key, "kind": m.kind, "pruned": m in targets, "synapses_before": before[m.key],
                      "synapses_after": after[m.key], "sparsity": 1.0 - after[m.key] / max(before[m.key], 1)}
                     for m in matrices],
        **({"noise": {k: getattr(lnp_config, k) for k in ("noise_std", "noise_steps", "n_transient", "repeats")}}
           if method == "lnp-scores" else {}),
    }
