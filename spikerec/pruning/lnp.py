"""Lyapunov Noise Pruning (LNP): prune an untrained HRSNN into a stable sparse one, task-agnostic.

Chakraborty, Kang, Kumar & Mukhopadhyay, ICLR 2024. Four stages, each a function here that takes
a model and the fixed noise drive and returns (new model, info dict):

1. ``noise_prune_synapses`` — Moore-Chaudhuri noise-driven synapse sampling with 1/p re-weighting,
   at the sparsest keep fraction whose Lyapunov spectrum stays within ``spectrum_tol``;
2. ``prune_nodes`` — remove the ``neuron_fraction`` neurons of lowest betweenness centrality;
3. ``delocalize_edges`` — add a few edges that lower the mean IPR of the leading eigenvectors;
4. ``assign_timescales`` — optuna search of the gamma timescale parameters for stability
   (lambda_max near/below 0) and activity (firing rate of the unpruned network).

Only noise is ever fed to the network: no task inputs, no labels. ``LyapunovNoisePruning.prune``
chains the stages and returns the pruned model and a JSON-ready report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from spikerec.errors import ConfigError
from spikerec.models.hrsnn import HRSNN, spectral_radius
from spikerec.pruning.delocalization import delocalize
from spikerec.pruning.lyapunov import LyapunovResult, hrsnn_lyapunov_spectrum
from spikerec.pruning.node_pruning import betweenness, lowest_betweenness_nodes
from spikerec.pruning.noise_pruning import (choose_keep_fraction, keep_probabilities, noise_covariance,
                                            noise_currents, sample_pruned_weights, synapse_scores)
from spikerec.pruning.timescales import TimescaleSearch, optimize_timescales


@dataclass
class LNPConfig:
    """LNP settings. Times in ms; Lyapunov exponents in 1/ms; rates in spikes per step.

    noise_std: std of the independent current noise on each neuron (added to its bias).
    keep_candidates: synapse keep fractions tried in stage 1, sparsest first.
    spectrum_tol: stage 1 accepts a keep fraction if the mean |change| of the ``lyapunov_k``
      leading exponents is at most this.
    neuron_fraction: share of neurons removed in stage 2.
    delocalize_edges: most edges stage 3 may add.
    """

    noise_std: float = 1.0
    noise_steps: int = 600
    n_transient: int = 100
    lyapunov_k: int = 8
    keep_candidates: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.8)
    spectrum_tol: float = 0.002
    neuron_fraction: float = 0.45
    delocalize_edges: int = 8
    n_eigenvectors: int = 5
    timescale_trials: int = 20
    lambda_target: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        if not self.keep_candidates or not all(0.0 < k <= 1.0 for k in self.keep_candidates):
            raise ConfigError(f"keep_candidates must be fractions in (0, 1], got {self.keep_candidates}")
        if not 0.0 <= self.neuron_fraction < 1.0:
            raise ConfigError(f"neuron_fraction must be in [0, 1), got {self.neuron_fraction}")
        if self.noise_steps <= self.n_transient:
            raise ConfigError("noise_steps must exceed n_transient")
        if self.delocalize_edges < 0 or self.timescale_trials < 0 or self.lyapunov_k < 1:
            raise ConfigError("delocalize_edges and timescale_trials must be >= 0, lyapunov_k >= 1")


def _spectrum(model: HRSNN, currents: torch.Tensor, cfg: LNPConfig) -> LyapunovResult:
    return hrsnn_lyapunov_spectrum(model, currents=currents, k=cfg.lyapunov_k, n_transient=cfg.n_transient,
                                   seed=cfg.seed)


def _with_weights(model: HRSNN, weight: torch.Tensor, mask: torch.Tensor) -> HRSNN:
    new = model.copy()
    with torch.no_grad():
        new.weight.copy_(weight * mask)
        new.mask.copy_(mask)
    return new


def network_summary(model: HRSNN, currents: torch.Tensor, cfg: LNPConfig) -> dict:
    """Neurons, synapses, spectral radius of W*mask, Lyapunov spectrum and mean rate under noise."""
    spec = _spectrum(model, currents, cfg)
    _, rate = noise_covariance(model, currents, cfg.n_transient)
    return {"neurons": model.n_neurons, "synapses": model.n_synapses(),
            "spectral_radius": spectral_radius(model.effective_weight()), "lyapunov": spec.to_dict(),
            "lyapunov_max": spec.max, "rate": float(rate.mean())}


def noise_prune_synapses(model: HRSNN, currents: torch.Tensor, cfg: LNPConfig) -> tuple[HRSNN, dict]:
    """Stage 1: Moore-Chaudhuri noise pruning at a keep fraction set from the Lyapunov spectrum.

    For each candidate keep fraction (sparsest first) draw one pruned network (seeded) and compare
    its k leading exponents with the original's under the same noise; keep the first whose mean
    absolute change is <= ``spectrum_tol`` (else the densest candidate).
    """
    cov, _ = noise_covariance(model, currents, cfg.n_transient)
    scores = synapse_scores(model.weight.detach(), model.mask, cov)
    reference = _spectrum(model, currents, cfg).exponents
    drawn: dict[float, HRSNN] = {}

    def draw(keep: float) -> HRSNN:
        gen = torch.Generator().manual_seed(cfg.seed)
        probs = keep_probabilities(scores, model.mask, keep)
        weight, mask = sample_pruned_weights(model.weight.detach(), probs, gen)
        return _with_weights(model, weight, mask)

    def change(keep: float) -> float:
        drawn[keep] = draw(keep)
        return float((_spectrum(drawn[keep], currents, cfg).exponents - reference).abs().mean())

    keep, trace = choose_keep_fraction(cfg.keep_candidates, change, cfg.spectrum_tol)
    pruned = drawn[keep]
    return pruned, {"keep_fraction": keep, "candidates": trace,
                    "synapses_before": model.n_synapses(), "synapses_after": pruned.n_synapses()}


def prune_nodes(model: HRSNN, currents: torch.Tensor, cfg: LNPConfig) -> tuple[HRSNN, dict, np.ndarray]:
    """Stage 2: remove the ``neuron_fraction`` neurons of lowest betweenness centrality.

    Returns (model, info, kept indices into the input model's neurons).
    """
    centrality = betweenness(model.weight.detach(), model.mask, seed=cfg.seed)
    keep, removed = lowest_betweenness_nodes(centrality, cfg.neuron_fraction)
    info = {"neurons_before": model.n_neurons, "neurons_after": len(keep), "removed": removed.tolist(),
            "max_removed_centrality": float(centrality[removed].max()) if len(removed) else None,
            "min_kept_centrality": float(centrality[keep].min())}
    return model.select(torch.from_numpy(keep)), info, keep


def delocalize_edges(model: HRSNN, currents: torch.Tensor, cfg: LNPConfig) -> tuple[HRSNN, dict]:
    """Stage 3: add up to ``delocalize_edges`` edges that lower the leading eigenvectors' mean IPR."""
    weight, mask, info = delocalize(model.weight.detach(), model.mask, cfg.delocalize_edges,
                                    n_eigenvectors=cfg.n_eigenvectors, seed=cfg.seed)
    return _with_weights(model, weight, mask), info


def assign_timescales(model: HRSNN, currents: torch.Tensor, cfg: LNPConfig, target_rate: float
                      ) -> tuple[HRSNN, dict]:
    """Stage 4: optuna search of per-cluster gamma (shape, mean tau) for stability and activity."""

    def evaluate(candidate: HRSNN) -> tuple[float, float]:
        _, rate = noise_covariance(candidate, currents, cfg.n_transient)
        return _spectrum(candidate, currents, cfg).max, float(rate.mean())

    search = TimescaleSearch(n_trials=cfg.timescale_trials, lambda_target=cfg.lambda_target, seed=cfg.seed)
    return optimize_timescales(model, evaluate, target_rate, search)


@dataclass
class PruningResult:
    """A pruned model and its JSON-ready report."""

    model: HRSNN
    report: dict[str, Any]


class LyapunovNoisePruning:
    """Task-agnostic LNP pipeline. ``LyapunovNoisePruning(seed=0).prune(model)`` -> PruningResult.

    The noise drive (independent Gaussian currents around each neuron's bias, ``noise_steps`` steps)
    is drawn once from ``seed``; after node pruning the kept neurons keep their own noise columns.
    """

    def __init__(self, config: LNPConfig | None = None, **overrides):
        cfg = config or LNPConfig()
        if overrides:
            cfg = LNPConfig(**{**asdict(cfg), **overrides})
        cfg.validate()
        self.config = cfg

    def noise_drive(self, model: HRSNN) -> torch.Tensor:
        """The fixed noise currents [noise_steps, N] for ``model``."""
        gen = torch.Generator().manual_seed(self.config.seed)
        bias = model.input.bias.detach().float()
        return noise_currents(self.config.noise_steps, model.n_neurons, self.config.noise_std, bias, gen)

    def prune(self, model: HRSNN) -> PruningResult:
        cfg = self.config
        currents = self.noise_drive(model)
        before = network_summary(model, currents, cfg)
        stages = []

        def record(name: str, current: HRSNN, drive: torch.Tensor, info: dict) -> None:
            summary = network_summary(current, drive, cfg)
            stages.append({"stage": name, "neurons": summary["neurons"], "synapses": summary["synapses"],
                           "spectral_radius": summary["spectral_radius"], "lyapunov_max": summary["lyapunov_max"],
                           "rate": summary["rate"], "info": info})

        m1, info1 = noise_prune_synapses(model, currents, cfg)
        record("noise_synapse_pruning", m1, currents, info1)
        m2, info2, keep = prune_nodes(m1, currents, cfg)
        currents = currents[:, torch.from_numpy(keep)]
        record("betweenness_node_pruning", m2, currents, info2)
        m3, info3 = delocalize_edges(m2, currents, cfg)
        record("delocalization", m3, currents, info3)
        m4, info4 = assign_timescales(m3, currents, cfg, target_rate=before["rate"])
        after = network_summary(m4, currents, cfg)
        stages.append({"stage": "timescale_optimization", "neurons": after["neurons"], "synapses": after["synapses"],
                       "spectral_radius": after["spectral_radius"], "lyapunov_max": after["lyapunov_max"],
                       "rate": after["rate"], "info": info4})
        report = {
            "method": "lnp", "task_agnostic": True, "config": asdict(cfg), "model_config": asdict(model.config),
            "kept_neurons": keep.tolist(), "before": before, "after": after, "stages": stages,
            "neuron_sparsity": 1.0 - after["neurons"] / before["neurons"],
            "synapse_sparsity": 1.0 - after["synapses"] / max(before["synapses"], 1),
            "lyapunov_max_before": before["lyapunov_max"], "lyapunov_max_after": after["lyapunov_max"],
            "spectral_radius_before": before["spectral_radius"], "spectral_radius_after": after["spectral_radius"],
        }
        return PruningResult(model=m4, report=report)
