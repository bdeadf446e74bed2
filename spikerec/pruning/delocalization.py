"""Stage 3 of LNP: add a few edges that keep the leading eigenvectors delocalised.

Pruning can concentrate the leading eigenvectors of W on a few neurons (localisation), which
makes the dynamics depend on a handful of units. The ICLR paper adds edges that raise local
degree heterogeneity to counter this but gives no formula, so we make the criterion explicit:

    IPR(v) = sum_i |v_i|^4 / (sum_i |v_i|^2)^2      (1/N: spread over all N neurons; 1: one neuron)

averaged over the ``n_eigenvectors`` eigenvectors of largest |eigenvalue| ("mean IPR"). Greedy
step: candidate edges j -> i join a neuron j carrying much of the leading eigenvectors' mass
(top localisation weight) to a neuron i carrying little, i.e. they add degree where the modes are
localised; each candidate gets weight median|w| with the sign of j's existing outgoing synapses
(random sign if j has none), and the candidate lowering the mean IPR most is added. Stop after
``n_edges`` edges or when no candidate lowers the mean IPR. Degree heterogeneity (coefficient of
variation of total degree) is reported before/after as a diagnostic.
"""

from __future__ import annotations

import numpy as np
import torch


def _leading_eigvec_power(weight: np.ndarray, n_eigenvectors: int) -> np.ndarray:
    """|v_i|^2 of the eigenvectors with the largest |eigenvalue|, [N, n_eigenvectors].

    torch.linalg.eig rather than numpy: it obeys torch's thread setting, whereas numpy's BLAS
    threads oversubscribe a busy machine (100x slower on small matrices in our runs).
    """
    vals, vecs = torch.linalg.eig(torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float64)))
    top = torch.argsort(-vals.abs())[:n_eigenvectors]
    return (vecs[:, top].abs() ** 2).numpy()


def mean_ipr(weight: np.ndarray, n_eigenvectors: int) -> float:
    """Mean inverse participation ratio of the eigenvectors with the largest |eigenvalue|."""
    p = _leading_eigvec_power(weight, n_eigenvectors)
    return float(np.mean((p**2).sum(axis=0) / p.sum(axis=0) ** 2))


def localisation_weight(weight: np.ndarray, n_eigenvectors: int) -> np.ndarray:
    """Per-neuron share of the leading eigenvectors' squared magnitude, [N] summing to 1."""
    p = _leading_eigvec_power(weight, n_eigenvectors)
    mass = (p / p.sum(axis=0)).sum(axis=1)
    return mass / mass.sum()


def degree_heterogeneity(mask: np.ndarray) -> float:
    """Coefficient of variation (std / mean) of total (in + out) degree."""
    degree = mask.sum(axis=0) + mask.sum(axis=1)
    return float(degree.std() / max(degree.mean(), 1e-12))


def delocalize(weight: torch.Tensor, mask: torch.Tensor, n_edges: int, n_eigenvectors: int = 5,
               n_candidates: int = 16, top_fraction: float = 0.1, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Greedily add up to ``n_edges`` synapses that lower the mean IPR (see module docstring).

    weight, mask: [N, N] (post, pre). Returns (new_weight, new_mask, info) where info holds
    ``edges_added`` (list of (pre, post)), ``ipr_before``/``ipr_after`` and
    ``degree_heterogeneity_before``/``_after``.
    """
    rng = np.random.default_rng(seed)
    m = mask.detach().cpu().numpy().astype(bool)
    w = (weight.detach().cpu().double().numpy()) * m
    n = w.shape[0]
    k = min(n_eigenvectors, n)
    magnitude = float(np.median(np.abs(w[m]))) if m.any() else 1.0
    info = {"ipr_before": mean_ipr(w, k), "degree_heterogeneity_before": degree_heterogeneity(m), "edges_added": []}
    current = info["ipr_before"]
    n_top = max(1, int(round(top_fraction * n)))
    for _ in range(n_edges):
        order = np.argsort(-localisation_weight(w, k))
        hubs, periphery = order[:n_top], order[n_top:]
        best = None
        for _ in range(n_candidates):
            j, i = int(rng.choice(hubs)), int(rng.choice(periphery))
            if m[i, j] or i == j:
                continue
            out = w[:, j][m[:, j]]
            sign = float(np.sign(out.sum())) if out.size and out.sum() != 0 else float(rng.choice([-1.0, 1.0]))
            trial = w.copy()
            trial[i, j] = sign * magnitude
            score = mean_ipr(trial, k)
            if score < current and (best is None or score < best[0]):
                best = (score, i, j, sign * magnitude)
        if best is None:
            break
        current, i, j, value = best
        w[i, j], m[i, j] = value, True
        info["edges_added"].append((j, i))
    info["ipr_after"] = current
    info["degree_heterogeneity_after"] = degree_heterogeneity(m)
    new_w = weight.detach().clone()
    new_w.copy_(torch.from_numpy(w))
    return new_w, torch.from_numpy(m.astype(np.float32)), info
