"""Lyapunov Noise Pruning (LNP): prune an untrained HRSNN into a stable sparse one, task-agnostic.

Chakraborty, Kang, Kumar & Mukhopadhyay, ICLR 2024. Only noise ever enters the network (independent
Gaussian currents per neuron around its bias): no task inputs, no labels. Four stages, each a function
``(state, config) -> (model, info)`` here:

1. ``noise_prune_synapses``: sample synapses with p_ij = min(1, kappa s_ij Lambda_ij) (Moore-Chaudhuri
   score times the Lyapunov matrix, :mod:`spikerec.pruning.noise_pruning`), re-weight by 1/p; kappa is
   the sparsest whose network stays equivalent to the dense one;
2. ``prune_nodes``: remove neurons in order of increasing betweenness centrality for as long as the
   network stays equivalent;
3. ``delocalize_edges``: add edges that lower the leading eigenvectors' mean inverse participation ratio;
4. ``assign_timescales``: Bayesian optimisation of the per-cluster gamma timescale distribution towards
   the target exponent and the dense network's firing rate.

"Equivalent" is decided on intervals (:mod:`spikerec.pruning.decision`): the paired confidence interval
of the difference in largest Lyapunov exponent, over ``repeats`` independent noise drives, must lie
within the margin (the exponent's spread across randomly redrawn dense networks). So the amount pruned
comes out of the rule, not out of a target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from spikerec.errors import ConfigError
from spikerec.models.hrsnn import HRSNN, spectral_radius
from spikerec.pruning.decision import Equivalence, family_margin, largest_accepted
from spikerec.pruning.delocalization import delocalize
from spikerec.pruning.lyapunov import METHODS, LyapunovEstimate, estimate_lyapunov
from spikerec.pruning.node_pruning import betweenness, keep_after_removing
from spikerec.pruning.noise_pruning import (keep_probabilities, lyapunov_matrix, noise_covariance, noise_drive,
                                            repeat_rates, sample_pruned_weights, synapse_scores)
from spikerec.pruning.timescales import TimescaleSearch, optimize_timescales


@dataclass
class LNPConfig:
    """LNP settings. Times in ms; Lyapunov exponents in 1/ms; rates in spikes per step.

    noise_std: std of the independent current noise on each neuron (around its input bias).
    noise_steps / n_transient: length of each drive and its unaveraged start.
    repeats: independent drives (and tangent draws) per estimate; confidence: level of the intervals
      (0.9 = a two one-sided test at 5 %).
    lyapunov: estimator of the largest exponent behind every decision: "surrogate" (default: the
      Jacobian training uses, whose exponents are the growth rates of gradients through time), "exact"
      (the spiking map's own Jacobian: right, but blind to the synapses, see docs/pruning.md) or
      "finite_size" (two trajectories ``finite_size_delta`` apart; None: the noise's per-step membrane
      kick, median (1 - beta) * noise_std).
    margin: equivalence margin (1/ms); None = the spread over ``family_size`` random networks of the
      dense network's configuration.
    keep_resolution: stage 1 searches the kept fraction in steps of 1 / keep_resolution.
    delocalize_edges: most edges stage 3 may add (it stops earlier when no candidate lowers the IPR).
    timescale_trials: optuna trials of stage 4 (0 keeps the timescales); lambda_target: exponent it
      aims at (None: the dense network's).
    """

    noise_std: float = 1.0
    noise_steps: int = 1000
    n_transient: int = 200
    repeats: int = 6
    confidence: float = 0.9
    lyapunov: str = "surrogate"
    lyapunov_k: int = 8
    finite_size_delta: float | None = None
    margin: float | None = None
    family_size: int = 5
    keep_resolution: int = 64
    delocalize_edges: int = 16
    n_eigenvectors: int = 5
    timescale_trials: int = 20
    lambda_target: float | None = None
    seed: int = 0

    def validate(self) -> None:
        if self.noise_steps <= self.n_transient:
            raise ConfigError("noise_steps must exceed n_transient")
        if self.repeats < 2 or not 0.0 < self.confidence < 1.0:
            raise ConfigError(f"LNP needs repeats >= 2 and confidence in (0, 1), got {self.repeats}, {self.confidence}")
        if self.lyapunov not in METHODS:
            raise ConfigError(f"LNP lyapunov must be one of {list(METHODS)}, got {self.lyapunov!r}")
        if self.margin is None and self.family_size < 2:
            raise ConfigError("margin=None needs family_size >= 2 random networks")
        if self.keep_resolution < 2 or self.delocalize_edges < 0 or self.timescale_trials < 0 or self.lyapunov_k < 1:
            raise ConfigError("keep_resolution >= 2, delocalize_edges >= 0, timescale_trials >= 0, lyapunov_k >= 1")


@dataclass
class PruningResult:
    """A pruned model and its JSON-ready report."""

    model: HRSNN
    report: dict[str, Any]


@dataclass
class LNPState:
    """What every stage reads: the dense network, its noise drives [T, R, N_dense], its estimate,
    the equivalence test, and which dense neurons the current network keeps."""

    dense: HRSNN
    drives: torch.Tensor
    reference: LyapunovEstimate
    equivalence: Equivalence
    config: LNPConfig
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    family: list[float] = field(default_factory=list)

    def estimate(self, model: HRSNN, kept: np.ndarray | None = None) -> LyapunovEstimate:
        """Lyapunov estimate of ``model`` (whose neurons are the dense ones ``kept``) on the paired drives."""
        kept = self.kept if kept is None else kept
        c = self.config
        return estimate_lyapunov(model, self.drives[:, :, torch.from_numpy(kept)], method=c.lyapunov,
                                 k=c.lyapunov_k, n_transient=c.n_transient, delta=finite_size_delta(model, c),
                                 confidence=c.confidence, seed=c.seed)

    def test(self, model: HRSNN, kept: np.ndarray | None = None) -> tuple[dict, LyapunovEstimate]:
        est = self.estimate(model, kept)
        return self.equivalence.test(est, self.reference), est


def finite_size_delta(model: HRSNN, cfg: LNPConfig) -> float:
    """Perturbation size of the finite-size estimator: ``finite_size_delta`` or the noise's median
    per-step kick to the membrane, (1 - beta) * noise_std (or noise_std without decay_input)."""
    if cfg.finite_size_delta is not None:
        return cfg.finite_size_delta
    gain = (1.0 - model.recurrent.decay.detach()) if model.config.decay_input else torch.ones(1)
    return float(gain.median()) * cfg.noise_std


def _with_weights(model: HRSNN, weight: torch.Tensor, mask: torch.Tensor) -> HRSNN:
    new = model.copy()
    with torch.no_grad():
        new.weight.copy_(weight * mask)
        new.mask.copy_(mask)
    return new


def network_summary(model: HRSNN, estimate: LyapunovEstimate, drives: torch.Tensor, cfg: LNPConfig) -> dict:
    """Neurons, synapses, spectral radius of W*mask, mean rate under the drives, the Lyapunov estimate."""
    return {"neurons": model.n_neurons, "synapses": model.n_synapses(),
            "spectral_radius": spectral_radius(model.effective_weight()),
            "rate": float(repeat_rates(model, drives, cfg.n_transient).mean()), "lyapunov": estimate.to_dict(),
            "lyapunov_max": estimate.max}


def noise_prune_synapses(model: HRSNN, state: LNPState) -> tuple[HRSNN, dict]:
    """Stage 1: Moore-Chaudhuri sampling with the Lyapunov term; the kept fraction is the smallest
    (on a grid of 1/keep_resolution) whose sampled network passes the equivalence test."""
    cfg = state.config
    drives = state.drives[:, :, torch.from_numpy(state.kept)]
    cov, _ = noise_covariance(model.recurrent, drives, cfg.n_transient)
    scores = synapse_scores(model.weight.detach(), model.mask, cov)
    lam = lyapunov_matrix(model.mask, state.reference.neuron.mean(0), model.config.dt_ms)
    importance = scores * lam
    steps = cfg.keep_resolution
    drawn: dict[int, HRSNN] = {0: model}

    def accept(n_removed: int) -> dict:
        probs = keep_probabilities(importance, model.mask, 1.0 - n_removed / steps)
        weight, mask = sample_pruned_weights(model.weight.detach(), probs, torch.Generator().manual_seed(cfg.seed))
        drawn[n_removed] = _with_weights(model, weight, mask)
        record, _ = state.test(drawn[n_removed])
        return {"keep_fraction": 1.0 - n_removed / steps, "synapses": drawn[n_removed].n_synapses(), **record}

    n_removed, probes = largest_accepted(0, steps - 1, accept)
    on = model.mask.bool()
    return drawn[n_removed], {"keep_fraction": 1.0 - n_removed / steps, "probes": probes,
                              "lyapunov_term": {"min": float(lam[on].min()), "max": float(lam[on].max()),
                                                "mean": float(lam[on].mean())},
                              "synapses_before": model.n_synapses(), "synapses_after": drawn[n_removed].n_synapses()}


def prune_nodes(model: HRSNN, state: LNPState) -> tuple[HRSNN, dict, np.ndarray]:
    """Stage 2: remove neurons by increasing betweenness centrality while the network stays equivalent.

    Returns (model, info, kept indices into the dense network's neurons)."""
    centrality = betweenness(model.weight.detach(), model.mask, seed=state.config.seed)

    def accept(n_remove: int) -> dict:
        keep = keep_after_removing(centrality, n_remove)
        record, _ = state.test(model.select(torch.from_numpy(keep)), state.kept[keep])
        return record

    n_remove, probes = largest_accepted(0, model.n_neurons - 2, accept)
    keep = keep_after_removing(centrality, n_remove)
    removed = np.setdiff1d(np.arange(model.n_neurons), keep)
    info = {"neurons_before": model.n_neurons, "neurons_after": len(keep), "removed": state.kept[removed].tolist(),
            "max_removed_centrality": float(centrality[removed].max()) if len(removed) else None,
            "min_kept_centrality": float(centrality[keep].min()), "probes": probes}
    return model.select(torch.from_numpy(keep)), info, state.kept[keep]


def delocalize_edges(model: HRSNN, state: LNPState) -> tuple[HRSNN, dict]:
    """Stage 3: add up to ``delocalize_edges`` edges that lower the leading eigenvectors' mean IPR."""
    cfg = state.config
    weight, mask, info = delocalize(model.weight.detach(), model.mask, cfg.delocalize_edges,
                                    n_eigenvectors=cfg.n_eigenvectors, seed=cfg.seed)
    return _with_weights(model, weight, mask), info


def assign_timescales(model: HRSNN, state: LNPState, dense_rate: float) -> tuple[HRSNN, dict]:
    """Stage 4: optuna search of per-cluster gamma (shape, mean tau); per-drive loss
    |lambda_max - target| / margin + |log(rate / dense_rate)|, accepted on its paired interval."""
    cfg = state.config
    target = state.reference.max if cfg.lambda_target is None else cfg.lambda_target
    drives = state.drives[:, :, torch.from_numpy(state.kept)]
    eps = 1e-4

    def loss(candidate: HRSNN) -> torch.Tensor:
        lam = state.estimate(candidate).max_samples
        rate = repeat_rates(candidate, drives, cfg.n_transient)
        return (lam - target).abs() / max(state.equivalence.margin, 1e-12) + ((rate + eps) / (dense_rate + eps)).log().abs()

    search = TimescaleSearch(n_trials=cfg.timescale_trials, confidence=cfg.confidence, seed=cfg.seed)
    tuned, info = optimize_timescales(model, loss, search)
    info.update({"lambda_target": target, "target_rate": dense_rate})
    return tuned, info


class LyapunovNoisePruning:
    """Task-agnostic LNP pipeline. ``LyapunovNoisePruning(seed=0).prune(model)`` -> PruningResult."""

    def __init__(self, config: LNPConfig | None = None, **overrides):
        cfg = config or LNPConfig()
        if overrides:
            cfg = LNPConfig(**{**asdict(cfg), **overrides})
        cfg.validate()
        self.config = cfg

    def drives(self, model: HRSNN) -> torch.Tensor:
        """The noise drives [noise_steps, repeats, N] of ``model`` (seeded by ``seed`` and the repeat)."""
        c = self.config
        return noise_drive(c.noise_steps, model.n_neurons, c.noise_std, model.input.bias,
                           [c.seed * 10007 + r for r in range(c.repeats)])

    def margin(self, model: HRSNN, reference: LyapunovEstimate, drives: torch.Tensor) -> tuple[float, list[float]]:
        """The equivalence margin and the family's exponents (the configured margin and [] if set)."""
        c = self.config
        if c.margin is not None:
            return c.margin, []
        family = [reference.max]
        for f in range(1, c.family_size):
            other = HRSNN(replace(model.config, seed=model.config.seed + 7919 * f))
            family.append(estimate_lyapunov(other, drives, method=c.lyapunov, k=c.lyapunov_k,
                                            n_transient=c.n_transient, delta=finite_size_delta(other, c),
                                            confidence=c.confidence, seed=c.seed).max)
        return family_margin(torch.tensor(family)), family

    def reference(self, model: HRSNN) -> LNPState:
        """Drives, the dense estimate and the equivalence test for ``model`` (stage-independent part)."""
        c = self.config
        drives = self.drives(model)
        reference = estimate_lyapunov(model, drives, method=c.lyapunov, k=c.lyapunov_k, n_transient=c.n_transient,
                                      delta=finite_size_delta(model, c), confidence=c.confidence, seed=c.seed)
        margin, family = self.margin(model, reference, drives)
        return LNPState(model, drives, reference, Equivalence(margin), c, np.arange(model.n_neurons), family)

    def prune(self, model: HRSNN, progress: bool = False) -> PruningResult:
        """Run the four stages on ``model`` (left unchanged); ``progress`` shows a bar on stderr."""
        from tqdm.auto import tqdm

        cfg = self.config
        bar = tqdm(total=5, desc="LNP", disable=not progress)
        bar.set_postfix_str("dense network and its random family")
        state = self.reference(model)
        before = network_summary(model, state.reference, state.drives, cfg)
        stages = []

        def record(name: str, current: HRSNN, info: dict) -> dict:
            test, est = state.test(current)
            summary = network_summary(current, est, state.drives[:, :, torch.from_numpy(state.kept)], cfg)
            stages.append({"stage": name, **summary, "equivalence": test, "info": info})
            bar.update()
            bar.set_postfix_str(f"{name}: {summary['neurons']} neurons, {summary['synapses']} synapses")
            return summary

        bar.update()
        m1, info1 = noise_prune_synapses(model, state)
        record("noise_synapse_pruning", m1, info1)
        m2, info2, state.kept = prune_nodes(m1, state)
        record("betweenness_node_pruning", m2, info2)
        m3, info3 = delocalize_edges(m2, state)
        record("delocalization", m3, info3)
        m4, info4 = assign_timescales(m3, state, before["rate"])
        after = record("timescale_optimization", m4, info4)
        bar.close()
        report = {
            "method": "lnp", "task_agnostic": True, "config": asdict(cfg), "model_config": asdict(model.config),
            "kept_neurons": state.kept.tolist(), "before": before, "after": after, "stages": stages,
            "equivalence_margin": state.equivalence.margin, "family_lambda_max": state.family,
            "neuron_sparsity": 1.0 - after["neurons"] / before["neurons"],
            "synapse_sparsity": 1.0 - after["synapses"] / max(before["synapses"], 1),
            "lyapunov_max_before": before["lyapunov_max"], "lyapunov_max_after": after["lyapunov_max"],
            "lyapunov_ci_before": before["lyapunov"]["lambda_max_ci"],
            "lyapunov_ci_after": after["lyapunov"]["lambda_max_ci"],
            "spectral_radius_before": before["spectral_radius"], "spectral_radius_after": after["spectral_radius"],
        }
        return PruningResult(model=m4, report=report)


__all__ = ["LNPConfig", "LNPState", "LyapunovNoisePruning", "PruningResult", "noise_prune_synapses", "prune_nodes",
           "delocalize_edges", "assign_timescales", "network_summary", "finite_size_delta"]
