r"""Probabilistic meta-neuron layer with learned internal parameters.

After Rudnicka, Szczepanski & Pregowska, "Learning Internal Biological Neuron Parameters and
Complexity-Based Encoding for Improved Spiking Neural Networks Performance" (arXiv 2508.11674),
whose meta-neuron learns, together with the weights, the synaptic release (transmission)
probability, the quantal amplitude, the inhibition strength, the threshold and the leak. The
paper builds on the authors' earlier Levy-Baxter-type stochastic neuron (synaptic failures with
success probability ``p``, random quantal amplitudes, feed-forward inhibition of strength ``b``,
firing threshold). The paper's full text was not available while this was written, so the exact
equations below are this implementation's and are stated in full; the parameter set is the paper's.

For presynaptic activity ``x_i(t)`` (spikes or non-negative rates, ``[T, B, N_in]``) and output
neuron ``j``::

    release     xi_ij(t) ~ Bernoulli(p_ij)                  p_ij = sigmoid(rho_ij)   (per synapse)
    excitation  E_j(t) = q_j * sum_i w_ij xi_ij(t) x_i(t)    q_j  = softplus(.)       (quantal amplitude)
    inhibition  I_j(t) = b_j * mean_i x_i(t)                 b_j  = softplus(.)       (feed-forward inhibition)
    membrane    V_j(t) = lambda_j V_j(t-1) (1 - S_j(t-1)) + E_j(t) - I_j(t)           (leak lambda = 1 - dt/tau)
    spike       S_j(t) = H(V_j(t) - theta_j)                 theta_j = softplus(.)    (threshold > 0)

The membrane/spike part is the fused :func:`~spikerec.neurons.functional.lif_multistep`
(``decay_input=False``, hard reset to 0, per-neuron learnable tau and threshold) with a surrogate
gradient. Choices made here: inhibition proportional to the mean presynaptic activity (a
feed-forward inhibitory neuron seeing the same inputs), ``q``/``b``/``theta`` per output neuron,
``p`` per synapse, softplus/sigmoid parameterisations to keep them in range.

Sampling modes of the release (``sampling``):

- ``"relaxed"``: per-synapse relaxed Bernoulli (binary Concrete, temperature ``temperature``); with
  ``straight_through`` the forward uses the hard 0/1 sample and the backward the relaxed gradient.
  Exact per-synapse noise, memory ``T*B*N_in*N_out``: for small layers.
- ``"gaussian"``: the sum over synapses is sampled from its Gaussian approximation (mean
  ``x @ (p w)^T``, variance ``x^2 @ (p (1-p) w^2)^T``, the local reparameterisation trick);
  differentiable and as cheap as two matmuls.
- ``"expectation"``: ``E = q * x @ (p w)^T``, deterministic. Used automatically in ``eval()`` mode;
  :meth:`MetaNeuron.expected_weight` gives the equivalent plain weight matrix for export.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from spikerec.errors import ConfigError, ParameterError, ShapeError
from spikerec.neurons import functional as NF
from spikerec.neurons.modules import TimeConstant
from spikerec.neurons.surrogate import Surrogate, get as get_surrogate

__all__ = ["MetaNeuron"]

_MODES = ("relaxed", "gaussian", "expectation")
_RELAXED_LIMIT = 50_000_000  # elements of the per-synapse release tensor before "relaxed" refuses


def _inv_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class MetaNeuron(nn.Module):
    """Stochastic meta-neuron layer ``[T, B, in_features]`` -> spikes ``[T, B, out_features]``.

    See the module docstring for the equations. ``release_prob`` initialises ``p``, ``quantal_amplitude``
    ``q``, ``inhibition`` ``b``, ``threshold`` ``theta``, ``tau_ms`` the leak. All are learned.
    """

    def __init__(self, in_features: int, out_features: int, tau_ms: float | torch.Tensor = 20.0, dt_ms: float = 1.0,
                 release_prob: float = 0.5, quantal_amplitude: float = 1.0, inhibition: float = 0.1,
                 threshold: float = 1.0, sampling: str = "gaussian", temperature: float = 0.5,
                 straight_through: bool = True, surrogate: str | Surrogate = "atan", learn_tau: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        if sampling not in _MODES:
            raise ConfigError(f"sampling must be one of {list(_MODES)}, got {sampling!r}")
        if not 0.0 < release_prob < 1.0:
            raise ParameterError(f"release_prob must be in (0, 1), got {release_prob}")
        for name, v in (("quantal_amplitude", quantal_amplitude), ("inhibition", inhibition), ("threshold", threshold),
                        ("temperature", temperature)):
            if not v > 0:
                raise ParameterError(f"{name} must be > 0, got {v}")
        self.in_features, self.out_features = in_features, out_features
        self.sampling, self.temperature, self.straight_through = sampling, float(temperature), straight_through
        self.surrogate = get_surrogate(surrogate)
        self.generator = generator
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        logit = math.log(release_prob / (1 - release_prob))
        self.release_logit = nn.Parameter(torch.full((out_features, in_features), logit))
        self.quantal_raw = nn.Parameter(torch.full((out_features,), _inv_softplus(quantal_amplitude)))
        self.inhibition_raw = nn.Parameter(torch.full((out_features,), _inv_softplus(inhibition)))
        self.threshold_raw = nn.Parameter(torch.full((out_features,), _inv_softplus(threshold)))
        self.tau = TimeConstant(tau_ms, out_features, dt_ms, learn_tau)
        self.tau_distribution: dict | None = None

    # learned internal parameters, in their natural ranges
    @property
    def release_prob(self) -> torch.Tensor:
        return torch.sigmoid(self.release_logit)

    @property
    def quantal_amplitude(self) -> torch.Tensor:
        return F.softplus(self.quantal_raw)

    @property
    def inhibition(self) -> torch.Tensor:
        return F.softplus(self.inhibition_raw)

    @property
    def threshold(self) -> torch.Tensor:
        return F.softplus(self.threshold_raw)

    @property
    def tau_ms(self) -> torch.Tensor:
        return self.tau.tau_ms()

    def expected_weight(self) -> torch.Tensor:
        """Deterministic equivalent weight ``[out, in]``: ``q_j p_ij w_ij - b_j / N_in`` (expectation mode)."""
        return (self.quantal_amplitude[:, None] * self.release_prob * self.weight
                - self.inhibition[:, None] / self.in_features)

    def _excitation(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        p, w = self.release_prob, self.weight
        if mode == "expectation":
            drive = F.linear(x, p * w)
        elif mode == "gaussian":
            mean = F.linear(x, p * w)
            var = F.linear(x * x, p * (1 - p) * w * w)
            noise = torch.randn(mean.shape, generator=self.generator, device=x.device, dtype=x.dtype)
            drive = mean + var.clamp_min(1e-12).sqrt() * noise
        else:
            T, B, _ = x.shape
            n = T * B * self.in_features * self.out_features
            if n > _RELAXED_LIMIT:
                raise ConfigError(f"sampling='relaxed' would draw {n} per-synapse releases (> {_RELAXED_LIMIT}); "
                                  "use sampling='gaussian' for layers this large")
            u = torch.rand((T, B, self.out_features, self.in_features), generator=self.generator, device=x.device,
                           dtype=x.dtype).clamp_(1e-6, 1 - 1e-6)
            soft = torch.sigmoid((self.release_logit + torch.log(u) - torch.log1p(-u)) / self.temperature)
            xi = (soft > 0.5).to(x.dtype) + soft - soft.detach() if self.straight_through else soft
            drive = torch.einsum("tboi,oi,tbi->tbo", xi, w, x)
        return self.quantal_amplitude * drive - self.inhibition * x.mean(-1, keepdim=True)

    def forward(self, x: torch.Tensor, return_membrane: bool = False, sampling: str | None = None):
        """``x`` ``[T, B, in_features]`` -> spikes ``[T, B, out_features]`` (and the membrane).

        ``sampling`` overrides the layer's mode for this call; in ``eval()`` mode the default is ``"expectation"``.
        """
        if x.dim() != 3 or x.shape[-1] != self.in_features:
            raise ShapeError(f"MetaNeuron expects input [T, B, {self.in_features}], got {list(x.shape)}")
        if self.training:
            NF.check_finite(x, "MetaNeuron input")
        mode = sampling or (self.sampling if self.training else "expectation")
        if mode not in _MODES:
            raise ConfigError(f"sampling must be one of {list(_MODES)}, got {mode!r}")
        current = self._excitation(x, mode)
        out = NF.lif_multistep(current, None, self.tau.decay(), self.threshold, reset="hard", decay_input=False,
                               surrogate=self.surrogate, return_membrane=return_membrane)
        return (out[0], out[2]) if return_membrane else out[0]

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, sampling={self.sampling!r}, "
                f"temperature={self.temperature}, straight_through={self.straight_through}")
