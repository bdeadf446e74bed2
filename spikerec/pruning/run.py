"""One entry point for every pruning method, with a uniform report; saving of results."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from spikerec.errors import ConfigError
from spikerec.io import write_json
from spikerec.models.hrsnn import HRSNN, HRSNNConfig
from spikerec.pruning.baselines import activity_prune, magnitude_prune
from spikerec.pruning.lnp import LNPConfig, LyapunovNoisePruning, PruningResult, network_summary
from spikerec.pruning.plots import plot_report

METHODS = ("lnp", "activity", "magnitude")


def run_pruning(method: str, model: HRSNN | None = None, n_neurons: int = 200, seed: int = 0,
                inputs: torch.Tensor | None = None, neuron_sparsity: float = 0.45, synapse_sparsity: float = 0.7,
                lnp_config: LNPConfig | None = None) -> PruningResult:
    """Prune ``model`` (default: a fresh random ``HRSNN(n_neurons=..., seed=seed)``) with ``method``.

    lnp ignores the sparsity targets (its stages set them). activity needs task inputs
    ``inputs`` [T, B, n_inputs]; without them it uses Gaussian noise inputs and says so in the report.
    Every report carries neuron/synapse sparsity, spectral radius and the Lyapunov spectrum before
    and after, measured under the same seeded noise drive.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown pruning method {method!r}; choose one of {', '.join(METHODS)}")
    model = model if model is not None else HRSNN(HRSNNConfig(n_neurons=n_neurons, seed=seed))
    lnp = LyapunovNoisePruning(lnp_config or LNPConfig(seed=seed))
    if method == "lnp":
        return lnp.prune(model)
    if method == "activity":
        source = "task inputs"
        if inputs is None:
            gen = torch.Generator().manual_seed(seed)
            inputs = torch.randn(500, 4, model.config.n_inputs, generator=gen)
            source = "gaussian noise inputs (no task inputs given)"
        result = activity_prune(model, inputs, neuron_sparsity, synapse_sparsity)
        result.report["activity_source"] = source
    else:
        result = magnitude_prune(model, neuron_sparsity, synapse_sparsity)
    currents = lnp.noise_drive(model)
    before = network_summary(model, currents, lnp.config)
    after = network_summary(result.model, currents[:, torch.tensor(result.report["kept_neurons"])], lnp.config)
    result.report.update({
        "task_agnostic": method == "magnitude", "model_config": asdict(model.config), "before": before, "after": after,
        "lyapunov_max_before": before["lyapunov_max"], "lyapunov_max_after": after["lyapunov_max"],
        "spectral_radius_before": before["spectral_radius"], "spectral_radius_after": after["spectral_radius"],
        "targets": {"neuron_sparsity": neuron_sparsity, "synapse_sparsity": synapse_sparsity}})
    return result


def save_result(result: PruningResult, directory: str | Path) -> dict[str, Path]:
    """Write the pruned model (``hrsnn.pt`` + ``hrsnn.json``), ``report.json`` and plots into directory."""
    directory = Path(directory)
    result.model.save(directory)
    write_json(directory / "report.json", result.report)
    plots = plot_report(result.report, directory)
    return {"model": directory / "hrsnn.pt", "config": directory / "hrsnn.json",
            "report": directory / "report.json", **{p.stem: p for p in plots}}
