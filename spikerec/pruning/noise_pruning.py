"""Stage 1 of LNP: noise-driven synapse pruning (after Moore & Chaudhuri, NeurIPS 2020).

Moore & Chaudhuri drive a recurrent network with noise and keep synapse j -> i with probability
proportional to its weight times the noise-driven variance of the *difference* of the activities
it joins (the "difference of covariances" of their Eq. 4; for an inhibitory synapse, the variance
of the sum):

    score_ij = |w_ij| * (C_ii + C_jj - 2 sign(w_ij) C_ij),     p_ij = min(1, c * score_ij)

and a kept synapse is re-weighted to w_ij / p_ij, so the pruned matrix equals W in expectation
(E[w'_ij] = p_ij * w_ij / p_ij = w_ij), hence the expected input to every neuron is unchanged and,
for the network classes of their proof (symmetric / diagonally dominant, graph-Laplacian-like
matrices), the spectrum is preserved with high probability. Redundant synapses (between neurons
that co-fluctuate anyway) get low scores; synapses that carry otherwise-missing signal get high ones.
This is effective-resistance graph sparsification (Spielman & Srivastava) computed from noise.

What we chose where the sources leave freedom (see docs/pruning.md):
- activity x = membrane potential u of each LIF neuron (the continuous analogue of the rate units
  in the linear theory), driven by independent Gaussian current noise on every neuron;
- c is found by bisection so the expected number of kept synapses hits a target keep fraction;
- the target keep fraction is chosen from the Lyapunov spectrum (``choose_keep_fraction``): the
  sparsest candidate whose pruned network's leading exponents stay within a tolerance of the
  original's, evaluated on the same noise drive.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from spikerec.errors import ConfigError, ShapeError


def noise_currents(n_steps: int, n_neurons: int, noise_std: float, bias: float | torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    """Independent Gaussian current noise per neuron around ``bias``: [T, N] float32."""
    return bias + noise_std * torch.randn(n_steps, n_neurons, generator=generator)


def noise_covariance(model, currents: torch.Tensor, n_transient: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Covariance [N, N] of the membrane potentials of ``model`` driven by ``currents`` [T, N],
    and the mean firing rate per neuron [N] (spikes per step). The first ``n_transient`` steps
    are discarded."""
    from spikerec.models.hrsnn import hrsnn_run

    if currents.dim() != 2 or currents.shape[1] != model.n_neurons:
        raise ShapeError(f"noise_covariance expects currents [T, {model.n_neurons}], got {tuple(currents.shape)}")
    cfg = model.config
    with torch.no_grad():
        spikes, membrane = hrsnn_run(currents[:, None, :].float(), model.effective_weight(), model.alpha,
                                     cfg.threshold, cfg.surrogate_slope)
    u = membrane[n_transient:, 0].double()
    u = u - u.mean(dim=0)
    cov = u.T @ u / max(u.shape[0] - 1, 1)
    return cov, spikes[n_transient:, 0].mean(dim=0)


def synapse_scores(weight: torch.Tensor, mask: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """Moore-Chaudhuri importance |w_ij| (C_ii + C_jj - 2 sign(w_ij) C_ij) of each synapse j -> i.

    weight, mask, cov: [N, N] (post i, pre j). Zero where the mask is zero. Non-negative (the
    bracket is Var(x_i -/+ x_j) >= 0; clamped against round-off).
    """
    var = cov.diagonal()
    w = weight.double() * mask.double()
    bracket = (var[:, None] + var[None, :] - 2.0 * torch.sign(w) * cov).clamp_min(0.0)
    return w.abs() * bracket


def keep_probabilities(scores: torch.Tensor, mask: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """p_ij = min(1, c * score_ij) on existing synapses with c set by bisection so that
    sum(p) = keep_fraction * (number of synapses). [N, N] float64, 0 off the mask.

    Synapses of zero score get probability 0; if fewer synapses have a positive score than the
    target, all of them are kept (p = 1) and the shortfall shows in the achieved sparsity.
    """
    if not 0.0 < keep_fraction <= 1.0:
        raise ConfigError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    on = mask.bool()
    target = keep_fraction * int(on.sum())
    s = scores.double() * on
    positive = int((s > 0).sum())
    if positive <= target:
        return (s > 0).double()
    lo, hi = 0.0, 1.0 / float(s[s > 0].min())
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if float((mid * s).clamp(max=1.0).sum()) < target:
            lo = mid
        else:
            hi = mid
    return (hi * s).clamp(max=1.0)


def sample_pruned_weights(weight: torch.Tensor, probs: torch.Tensor, generator: torch.Generator
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep each synapse with probability p_ij and re-weight it to w_ij / p_ij.

    Returns (new_weight, new_mask), [N, N]. E[new_weight] = weight * (p > 0): the expected input
    to every neuron for any presynaptic activity is preserved.
    """
    keep = torch.rand(probs.shape, generator=generator, dtype=torch.float64) < probs
    scale = torch.where(keep, 1.0 / probs.clamp_min(1e-300), torch.zeros_like(probs))
    return (weight.double() * scale).to(weight.dtype), keep.to(weight.dtype)


def choose_keep_fraction(candidates: Sequence[float], evaluate: Callable[[float], float], tol: float
                         ) -> tuple[float, list[dict]]:
    """The smallest keep fraction whose spectrum change ``evaluate(keep)`` is <= ``tol``.

    Candidates are tried from sparsest to densest; the first acceptable one wins. If none is
    acceptable, the densest candidate is returned. Also returns the trace of every evaluation.
    """
    trace = []
    ordered = sorted(candidates)
    for keep in ordered:
        change = float(evaluate(keep))
        trace.append({"keep_fraction": keep, "spectrum_change": change, "accepted": change <= tol})
        if change <= tol:
            return keep, trace
    return ordered[-1], trace
