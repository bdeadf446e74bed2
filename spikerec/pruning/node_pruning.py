"""Stage 2 of LNP: remove the neurons of lowest betweenness centrality.

Betweenness of a node = fraction of shortest paths between other node pairs that pass through it
(networkx ``betweenness_centrality``). Neurons that few signal paths traverse are the least
needed to keep the recurrent graph integrated. Path length: each synapse j -> i has length
1 / |w_ij| (strong synapses are short paths); the graph is directed. For graphs above
``exact_limit`` nodes the estimate samples ``exact_limit`` source nodes (seeded), as networkx allows.
How many neurons go is not a setting: the LNP pipeline removes them in this order for as long as
the network's Lyapunov exponent stays equivalent to the dense network's (:mod:`spikerec.pruning.decision`).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch


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


def removal_order(centrality: np.ndarray) -> np.ndarray:
    """Neuron indices by increasing centrality (the order LNP removes them); ties by index."""
    return np.argsort(centrality, kind="stable")


def keep_after_removing(centrality: np.ndarray, n_remove: int) -> np.ndarray:
    """Sorted indices of the neurons left after removing the ``n_remove`` of lowest centrality."""
    return np.sort(removal_order(centrality)[n_remove:])
