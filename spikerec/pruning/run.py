"""One entry point for every pruning method, with a uniform report; saving of results."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from spikerec.errors import ConfigError
from spikerec.io import write_json
from spikerec.models.hrsnn import HRSNN
from spikerec.pruning.baselines import activity_prune, magnitude_prune, random_prune
from spikerec.pruning.lnp import LNPConfig, LyapunovNoisePruning, PruningResult, finite_size_delta, network_summary
from spikerec.pruning.lyapunov import LyapunovEstimate, estimate_lyapunov, paired_difference
from spikerec.pruning.plots import plot_report

METHODS = ("lnp", "random", "activity", "magnitude")


def measure(model: HRSNN, kept: np.ndarray, drives: torch.Tensor, cfg: LNPConfig) -> tuple[dict, LyapunovEstimate]:
    """:func:`network_summary` of ``model``, whose neurons are the columns ``kept`` of ``drives``."""
    sub = drives[:, :, torch.from_numpy(np.asarray(kept))]
    est = estimate_lyapunov(model, sub, method=cfg.lyapunov, k=cfg.lyapunov_k, n_transient=cfg.n_transient,
                            delta=finite_size_delta(model, cfg), confidence=cfg.confidence, seed=cfg.seed)
    return network_summary(model, est, sub, cfg), est


def run_pruning(method: str, model: HRSNN, inputs: torch.Tensor | None = None, neuron_sparsity: float | None = None,
                synapse_sparsity: float | None = None, lnp_config: LNPConfig | None = None, seed: int = 0,
                progress: bool = False) -> PruningResult:
    """Prune ``model`` with ``method`` (``lnp``, ``random``, ``activity``, ``magnitude``).

    lnp decides its own sparsity; the baselines need ``neuron_sparsity`` and ``synapse_sparsity``
    (e.g. LNP's achieved values). activity needs task inputs ``inputs`` [T, B, n_inputs]. Every
    report carries sparsities, spectral radius and the largest Lyapunov exponent with its interval
    before and after, measured under the same seeded noise drives (``lnp_config``), and the paired
    interval of their difference.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown pruning method {method!r}; choose one of {', '.join(METHODS)}")
    lnp = LyapunovNoisePruning(lnp_config or LNPConfig(seed=seed))
    if method == "lnp":
        return lnp.prune(model, progress=progress)
    if neuron_sparsity is None or synapse_sparsity is None:
        raise ConfigError(f"pruning method {method!r} needs a neuron and a synapse sparsity (for example LNP's "
                          f"achieved values: --neuron-sparsity and --synapse-sparsity)")
    if method == "random":
        result = random_prune(model, neuron_sparsity, synapse_sparsity, seed=seed)
    elif method == "activity":
        if inputs is None:
            raise ConfigError("activity pruning ranks neurons by their firing on task inputs; pass them (--inputs "
                              "FILE.npy, [T, B, C])")
        result = activity_prune(model, inputs, neuron_sparsity, synapse_sparsity)
    else:
        result = magnitude_prune(model, neuron_sparsity, synapse_sparsity)
    drives = lnp.drives(model)
    before, est_before = measure(model, np.arange(model.n_neurons), drives, lnp.config)
    after, est_after = measure(result.model, np.asarray(result.report["kept_neurons"]), drives, lnp.config)
    mean, lo, hi = paired_difference(est_after, est_before)
    result.report.update({
        "task_agnostic": method in ("random", "magnitude"), "model_config": asdict(model.config), "before": before,
        "after": after, "lyapunov_max_before": before["lyapunov_max"], "lyapunov_max_after": after["lyapunov_max"],
        "lyapunov_ci_before": before["lyapunov"]["lambda_max_ci"], "lyapunov_ci_after": after["lyapunov"]["lambda_max_ci"],
        "lyapunov_difference": mean, "lyapunov_difference_ci": [lo, hi],
        "spectral_radius_before": before["spectral_radius"], "spectral_radius_after": after["spectral_radius"],
        "targets": {"neuron_sparsity": neuron_sparsity, "synapse_sparsity": synapse_sparsity},
        "lyapunov_config": asdict(lnp.config)})
    return result


def save_result(result: PruningResult, directory: str | Path) -> dict[str, Path]:
    """Write the pruned model (``hrsnn.pt`` + ``hrsnn.json``), ``report.json`` and plots into directory."""
    directory = Path(directory)
    result.model.save(directory)
    write_json(directory / "report.json", result.report)
    plots = plot_report(result.report, directory)
    return {"model": directory / "hrsnn.pt", "config": directory / "hrsnn.json",
            "report": directory / "report.json", **{p.stem: p for p in plots}}
