"""Stage 1 of LNP: noise-driven synapse sampling with a Lyapunov term (Moore & Chaudhuri 2020;
Chakraborty et al. 2024).

Moore & Chaudhuri drive a recurrent network with noise and sample synapse j -> i with a probability
proportional to its weight times the noise-driven variance of the *difference* of the activities it
joins (for an inhibitory synapse, of their sum), and re-weight a kept synapse to w_ij / p_ij so the
pruned matrix equals W in expectation. LNP multiplies that importance by a Lyapunov term: the
harmonic mean of the Lyapunov exponents of the neurons around the synapse. Here::

    s_ij      = |w_ij| (C_ii + C_jj - 2 sign(w_ij) C_ij)                       (Moore-Chaudhuri score)
    Lambda_ij = HM{ exp(lambda_k dt) : k in N(i) u N(j) }                      (Lyapunov matrix)
    p_ij      = min(1, kappa * s_ij * Lambda_ij),      kept: w_ij -> w_ij / p_ij

C: covariance of the membrane potentials under independent current noise; N(i): neurons joined to i
by a synapse either way; lambda_k: per-neuron exponent (:func:`spikerec.pruning.lyapunov.neuron_exponents`);
HM: harmonic mean. The exponents are rates, so they enter as the per-step growth factor
exp(lambda dt) > 0, which the harmonic mean (the mean suited to rates, robust to a few large values)
needs. ``kappa`` is not a setting: :func:`keep_probabilities` finds the kappa that keeps an expected
fraction of synapses, and the LNP pipeline searches that fraction for the sparsest one whose Lyapunov
exponent stays equivalent to the dense network's (:mod:`spikerec.pruning.decision`).
"""

from __future__ import annotations

from typing import Sequence

import torch

from spikerec.errors import ConfigError, ShapeError


def noise_drive(n_steps: int, n_neurons: int, noise_std: float, bias: torch.Tensor, seeds: Sequence[int]
                ) -> torch.Tensor:
    """Independent Gaussian current noise per neuron around ``bias`` [N], one drive per seed:
    [T, R, N] float64. Drive r depends only on ``seeds[r]``, so drives are reproducible and pairable."""
    drives = [noise_std * torch.randn(n_steps, n_neurons, generator=torch.Generator().manual_seed(int(s)),
                                      dtype=torch.float64) for s in seeds]
    return torch.stack(drives, dim=1) + bias.detach().double().cpu()


def noise_covariance(layer, currents: torch.Tensor, n_transient: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Covariance [N, N] of the membrane potentials of a recurrent neuron ``layer`` (an HRSNN's ``recurrent``, any
    ``RecurrentLIF`` or recurrent ``AdaptiveLIF``: whatever its ``return_membrane`` gives) driven by ``currents``
    [T, N] or [T, R, N] (the R runs pooled), and the mean firing rate per neuron [N] (spikes per step). The first
    ``n_transient`` steps of each run are discarded."""
    drive = currents if currents.dim() == 3 else currents.unsqueeze(1)
    if drive.shape[-1] != layer.n_neurons or drive.shape[0] <= n_transient:
        raise ShapeError(f"noise_covariance expects currents [T > {n_transient}, (R,) {layer.n_neurons}], "
                         f"got {tuple(currents.shape)}")
    with torch.no_grad():
        spikes, membrane = layer(drive.to(layer.decay.dtype), return_membrane=True)
    u = membrane[n_transient:].double()
    u = (u - u.mean(dim=0, keepdim=True)).reshape(-1, u.shape[-1])
    cov = u.T @ u / max(u.shape[0] - drive.shape[1], 1)
    return cov, spikes[n_transient:].double().mean(dim=(0, 1))


def repeat_rates(model, currents: torch.Tensor, n_transient: int = 100) -> torch.Tensor:
    """Mean firing rate (spikes per step and neuron) of the recurrent layer under each drive of
    ``currents`` [T, R, N]: [R] float64, the first ``n_transient`` steps discarded."""
    layer = model.recurrent
    with torch.no_grad():
        spikes = layer(currents.to(layer.decay.dtype))
    return spikes[n_transient:].double().mean(dim=(0, 2))


def synapse_scores(weight: torch.Tensor, mask: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """Moore-Chaudhuri importance |w_ij| (C_ii + C_jj - 2 sign(w_ij) C_ij) of each synapse j -> i.

    weight, mask, cov: [N, N] (post i, pre j). Zero where the mask is zero. Non-negative (the
    bracket is Var(x_i -/+ x_j) >= 0; clamped against round-off).
    """
    var = cov.diagonal()
    w = weight.double() * mask.double()
    bracket = (var[:, None] + var[None, :] - 2.0 * torch.sign(w) * cov).clamp_min(0.0)
    return w.abs() * bracket


def lyapunov_matrix(mask: torch.Tensor, neuron_exponents: torch.Tensor, dt_ms: float) -> torch.Tensor:
    """Lambda_ij [N, N] = harmonic mean of exp(lambda_k dt) over k in N(i) u N(j), on the synapses of
    ``mask`` (0 elsewhere). neuron_exponents [N] in 1/ms. N(i) = pre- and postsynaptic partners of i."""
    adj = (mask.bool() | mask.bool().T).double()  # undirected neighbourhood
    inv = torch.exp(-neuron_exponents.double() * dt_ms)  # 1 / growth factor per step
    # |N(i) u N(j)| and sum over it of 1/g, by inclusion-exclusion on the neighbourhood indicator
    count = adj.sum(1)[:, None] + adj.sum(1)[None, :] - adj @ adj.T
    total = (adj @ inv)[:, None] + (adj @ inv)[None, :] - adj @ (adj * inv).T
    hm = count / total.clamp_min(1e-300)
    return torch.where(mask.bool(), hm, torch.zeros_like(hm))


def keep_probabilities(importance: torch.Tensor, mask: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """p_ij = min(1, kappa * importance_ij) on existing synapses, kappa found by bisection so that the
    expected number kept, sum(p), is ``keep_fraction`` of the synapses. [N, N] float64, 0 off the mask.

    Synapses of zero importance get probability 0; if fewer have a positive importance than the
    target, all of those are kept (p = 1) and the shortfall shows in the achieved sparsity.
    """
    if not 0.0 < keep_fraction <= 1.0:
        raise ConfigError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    on = mask.bool()
    target = keep_fraction * int(on.sum())
    s = importance.double() * on
    if int((s > 0).sum()) <= target:
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


__all__ = ["noise_drive", "noise_covariance", "repeat_rates", "synapse_scores", "lyapunov_matrix", "keep_probabilities",
           "sample_pruned_weights"]
