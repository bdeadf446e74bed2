"""Pruning: Lyapunov spectra, Lyapunov noise pruning (LNP) of heterogeneous recurrent SNNs, baselines.

- ``lyapunov_spectrum`` (generic Benettin/QR core), ``hrsnn_lyapunov_spectrum`` (an HRSNN's recurrent
  layer, exact or surrogate Jacobian), ``estimate_lyapunov`` (repeated, with confidence intervals),
  ``finite_difference_lyapunov`` (two nearby trajectories);
- ``LyapunovNoisePruning`` / ``LNPConfig`` and its four stages ``noise_prune_synapses``,
  ``prune_nodes``, ``delocalize_edges``, ``assign_timescales``;
- baselines at matched sparsity: ``random_prune`` (the null hypothesis), ``activity_prune``, ``magnitude_prune``.
"""

from spikerec.pruning.baselines import activity_prune, magnitude_prune, neuron_rates, random_prune
from spikerec.pruning.lnp import (LNPConfig, LyapunovNoisePruning, PruningResult, assign_timescales,
                                  delocalize_edges, network_summary, noise_prune_synapses, prune_nodes)
from spikerec.pruning.lyapunov import (LyapunovEstimate, LyapunovResult, estimate_lyapunov, finite_difference_lyapunov,
                                       henon_step, hrsnn_lyapunov_spectrum, linear_map_step, lyapunov_spectrum)

__all__ = ["activity_prune", "magnitude_prune", "neuron_rates", "random_prune", "LNPConfig", "LyapunovNoisePruning",
           "PruningResult", "assign_timescales", "delocalize_edges", "network_summary", "noise_prune_synapses",
           "prune_nodes", "LyapunovEstimate", "LyapunovResult", "estimate_lyapunov", "finite_difference_lyapunov",
           "henon_step", "hrsnn_lyapunov_spectrum", "linear_map_step", "lyapunov_spectrum"]
