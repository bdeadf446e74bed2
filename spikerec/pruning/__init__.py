"""Pruning: Lyapunov spectra, Lyapunov noise pruning (LNP) of heterogeneous recurrent SNNs, baselines.

- ``lyapunov_spectrum`` (generic Benettin/QR core), ``hrsnn_lyapunov_spectrum`` (driven HRSNN);
- ``LyapunovNoisePruning`` / ``LNPConfig`` and its four stages ``noise_prune_synapses``,
  ``prune_nodes``, ``delocalize_edges``, ``assign_timescales``;
- baselines ``activity_prune`` and ``magnitude_prune`` at matched sparsity.
"""

from spikerec.pruning.baselines import activity_prune, magnitude_prune, neuron_rates
from spikerec.pruning.lnp import (LNPConfig, LyapunovNoisePruning, PruningResult, assign_timescales,
                                  delocalize_edges, network_summary, noise_prune_synapses, prune_nodes)
from spikerec.pruning.lyapunov import (LyapunovResult, henon_step, hrsnn_lyapunov_spectrum, linear_map_step,
                                       lyapunov_spectrum)

__all__ = ["activity_prune", "magnitude_prune", "neuron_rates", "LNPConfig", "LyapunovNoisePruning", "PruningResult", "assign_timescales", "delocalize_edges",
           "network_summary", "noise_prune_synapses", "prune_nodes", "LyapunovResult", "henon_step",
           "hrsnn_lyapunov_spectrum", "linear_map_step", "lyapunov_spectrum"]
