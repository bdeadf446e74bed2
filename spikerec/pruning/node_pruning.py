"""Stage 2 of LNP: remove the neurons of lowest betweenness centrality.

Betweenness of a node = fraction of shortest paths between other node pairs that pass through it
(networkx ``betweenness_centrality``). Neurons that few signal paths traverse are the least
needed to keep the recurrent graph integrated. Path length: each synapse j -> i has length
1 / |w_ij| (strong synapses are short paths) — the ICLR paper does not say whether its graph is
weighted; we chose the weighted form so centrality reflects synaptic strength. For graphs above
``exact_limit`` nodes the estimate samples ``exact_limit`` source nodes (seeded), as networkx allows.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

from spikerec.errors import ConfigError


def weighted_digraph(weight: torch.Tensor, mask: torch.Tensor) -> nx.DiGraph:
    """Directed graph pre -> post of the synapses in ``mask`` with attribute ``length`` = 1/|w|."""
    w = (weight * mask).detach().cpu().double().numpy()
    post, pre = np.nonzero(mask.detach().cpu().numpy())
    graph = nx.DiGraph()
    graph.add_nodes_from(range(w.shape[0]))
    graph.add_edges_from((int(j), int(i), {"length": 1.0 / max(abs(w[i, j]), 1e-12)}) for i, j in zip(post, pre))
    return graph


def betweenness(weight: torch.Tensor, mask: torch.Tensor, seed: int = 0, exact_limit: int = 400) -> np.ndarray:
    """Betweenness centrality per neuron [N] on the weighted synapse graph."""
    graph = weighted_digraph(weight, mask)
    n = graph.number_of_nodes()
    sample = None if n <= exact_limit else exact_limit
    scores = nx.betweenness_centrality(graph, k=sample, weight="length", seed=seed)
    return np.array([scores[i] for i in range(n)])


def lowest_betweenness_nodes(centrality: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(keep, removed) neuron indices, removing round(fraction * N) nodes of lowest centrality.

    Ties are broken by index (stable sort) so the result is deterministic.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"node pruning fraction must be in [0, 1), got {fraction}")
    n = len(centrality)
    n_remove = min(int(round(fraction * n)), n - 2)
    order = np.argsort(centrality, kind="stable")
    return np.sort(order[n_remove:]), np.sort(order[:n_remove])
