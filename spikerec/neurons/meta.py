r"""Probabilistic meta-neuron layer: Levy-Baxter stochastic synapses with learned internal parameters.

Sources. Rudnicka, Szczepanski & Pregowska, "Learning Internal Biological Neuron Parameters and
Complexity-Based Encoding for Improved Spiking Neural Networks Performance" (arXiv 2508.11674; [R])
replace the perceptron-style unit of an SNN by a probabilistic *meta neuron* whose internal
parameters are learned jointly with the weights. The neuron is the one of Levy & Baxter,
"Energy-efficient neuronal computation via quantal synaptic failures" (J. Neurosci. 22:4746, 2002;
[LB]) as used by the same group (Paprocki & Szczepanski, BioSystems 2011; Neurocomputing 104:50,
2013; [PS]): each input spike crosses its synapse only with the success probability ``s`` (quantal
failure), a successful release carries a random quantal amplitude ``Q`` (amplitude fluctuation),
the releases are summed dendrosomatically, a feed-forward inhibitory neuron of strength ``b``
driven by the same inputs subtracts its share, and the spike generator fires when the sum reaches
the activation threshold ``g``. Only the abstracts of [R], [LB] and [PS] could be read while this
was written (they name these ingredients; the equations below restate the LB model from memory of
[PS], and no section or equation number of [R] is verified), so every step says which part is the
LB model and which part is a choice made here.

For presynaptic spikes ``x_i(t) >= 0`` (``[T, B, N_in]``; a value other than 0/1, e.g. a binned
count or a dropout-scaled spike, is one release event of that amplitude) and output neuron ``j``::

    release    xi_ij(t) ~ Bernoulli(p_ij)                            [LB] failures (p = s), per synapse here
    amplitude  Q_ij(t) = q_j (1 + sqrt(3) c_j u_ij(t)),  u ~ U(-1, 1)  [LB]/[PS] random quantal amplitude
    inhibition I_j(t) = b_j sum_i x_i(t)                               [LB]/[PS] feed-forward inhibitory neuron
    summation  X_j(t) = sum_i w_ij xi_ij(t) Q_ij(t) x_i(t) - I_j(t)     [LB] dendrosomatic sum, weights w from [R]
    membrane   V_j(t) = lambda_j V_j(t-1) (1 - S_j(t-1)) + X_j(t)       leak (choice; [R] learns a leak)
    spike      S_j(t) = H(V_j(t) - theta_j)                             [LB] threshold g = theta

Every internal parameter is learned ([R]): ``p = sigmoid(.)`` (release probability, per synapse),
``q = softplus(.)`` (mean quantal amplitude, per neuron), ``c = sigmoid(.) / sqrt(3)`` (the
amplitude's coefficient of variation, per neuron; ``c -> 1/sqrt(3)`` is the "uniform" fluctuation
``Q ~ U[0, 2q]`` of [PS]; the bound keeps ``Q >= 0``), ``b = softplus(.)`` (inhibition, per
neuron), ``theta = softplus(.)`` (threshold) and ``lambda = 1 - dt/tau`` with learnable ``tau``
(the project's Euler leak). Choices where the sources are silent: the uniform amplitude law, the
deterministic inhibitory neuron, the leaky membrane with hard reset to 0 (LB's neuron is
memoryless per time step; ``tau -> dt`` recovers it), a surrogate gradient for ``H``.

Moments of one synapse's contribution per unit input (``E[xi Q] = p q``,
``Var[xi Q] = p q^2 (1 - p + c^2)``) give the mean-field summation::

    mean       E[X_j]   = sum_i W_ij x_i,   W_ij = q_j p_ij w_ij - b_j     (:meth:`MetaNeuron.effective_weight`)
    variance   Var[X_j] = q_j^2 sum_i p_ij (1 - p_ij + c_j^2) w_ij^2 x_i^2

Sampling of the release (``sampling``, training and ``eval_mode="sample"``):

- ``"gaussian"``: ``X`` drawn from the Gaussian with those two moments (the local reparameterisation
  trick; the sum over many independent synapses is close to Gaussian): two matmuls.
- ``"relaxed"``: every ``xi_ij(t)`` and ``Q_ij(t)`` drawn (binary Concrete release at temperature
  ``temperature``, hard 0/1 in the forward with ``straight_through``); exact per-synapse noise, memory
  ``T*B*N_in*N_out``: for small layers.
- ``"mean"``: ``X = E[X]``, deterministic: exactly a LIF layer with weights ``W``
  (:meth:`MetaNeuron.ir_terms`).

Evaluation (``eval_mode``): ``"sample"`` (default) evaluates the trained stochastic neuron itself,
drawing the same noise as in training, so firing rates and accuracy are those of the trained model
(one draw per forward; :func:`spikerec.training.draws.evaluate_draws` averages ``n`` draws and reports
their spread). ``"mean"`` evaluates the deterministic mean-field network, which is exportable but
is a different model: a thresholded neuron fires at a different rate without its input noise
(measured in docs/neurons.md).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from spikerec.errors import ConfigError, ParameterError, ShapeError
from spikerec.neurons import functional as NF
from spikerec.neurons.modules import TimeConstant
from spikerec.neurons.surrogate import Surrogate, get as get_surrogate

__all__ = ["MetaNeuron", "MetaIRTerms", "NoExactIRError", "meta_eval_mode", "SAMPLING_MODES", "EVAL_MODES"]

SAMPLING_MODES = ("gaussian", "relaxed", "mean")
EVAL_MODES = ("sample", "mean")
_RELAXED_LIMIT = 50_000_000  # elements of the per-synapse release tensor before "relaxed" refuses
_SQRT3 = math.sqrt(3.0)
_MAX_CV = 1.0 / _SQRT3  # Q = q (1 + sqrt(3) c u) stays >= 0 for c <= 1/sqrt(3)


class NoExactIRError(ConfigError):
    """A meta-neuron layer has no exact deterministic (Network IR) equivalent; the message says why."""


@dataclass(frozen=True)
class MetaIRTerms:
    """The exact discrete-time LIF equivalent of a deterministic meta-neuron layer, in Network IR terms.

    Per step ``H = decay * V + X`` with ``X = weight @ x`` (``decay_input=False``, no bias), spike
    ``H >= threshold``, hard reset to ``v_reset``. The feed-forward inhibition ``-b_j sum_i x_i``
    is folded into ``weight`` (``-inhibition[j]`` on every input of neuron ``j``; kept for reporting).
    """

    weight: np.ndarray  # [n_out, n_in] float64, q_j p_ij w_ij - b_j
    decay: np.ndarray  # [n_out] float32, the beta = 1 - dt/tau the torch kernel uses
    threshold: np.ndarray  # [n_out] float32
    inhibition: np.ndarray  # [n_out] float64, b_j (already inside weight)
    dt_ms: float
    reset: str = "hard"
    v_reset: float = 0.0
    decay_input: bool = False
    bias: None = None


def _logit(y: float) -> float:
    return math.log(y / (1.0 - y))


class MetaNeuron(nn.Module):
    """Stochastic meta-neuron layer ``[T, B, in_features]`` -> spikes ``[T, B, out_features]``.

    See the module docstring for the equations and their sources. Initial values: ``release_prob``
    ``p``, ``quantal_amplitude`` ``q``, ``quantal_cv`` ``c`` (in ``(0, 1/sqrt(3))``), ``inhibition``
    ``b`` (per input spike), ``threshold`` ``theta``, ``tau_ms`` the leak. All are learned
    (``tau`` only with ``learn_tau``). ``sampling`` is the noise path of training and of
    ``eval_mode="sample"``; ``eval_mode="mean"`` makes evaluation deterministic.
    """

    def __init__(self, in_features: int, out_features: int, tau_ms: float | torch.Tensor = 20.0, dt_ms: float = 1.0,
                 release_prob: float = 0.5, quantal_amplitude: float = 1.0, quantal_cv: float = 0.3,
                 inhibition: float = 1e-3, threshold: float = 1.0, sampling: str = "gaussian",
                 eval_mode: str = "sample", temperature: float = 0.5, straight_through: bool = True,
                 surrogate: str | Surrogate = "atan", learn_tau: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        if sampling not in SAMPLING_MODES:
            raise ConfigError(f"MetaNeuron: sampling must be one of {list(SAMPLING_MODES)}, got {sampling!r}")
        if eval_mode not in EVAL_MODES:
            raise ConfigError(f"MetaNeuron: eval_mode must be one of {list(EVAL_MODES)}, got {eval_mode!r}")
        if not 0.0 < release_prob < 1.0:
            raise ParameterError(f"MetaNeuron: release_prob must be in (0, 1), got {release_prob}")
        if not 0.0 < quantal_cv < _MAX_CV:
            raise ParameterError(f"MetaNeuron: quantal_cv must be in (0, 1/sqrt(3) = {_MAX_CV:.4f}), got {quantal_cv}")
        for name, v in (("quantal_amplitude", quantal_amplitude), ("inhibition", inhibition), ("threshold", threshold),
                        ("temperature", temperature)):
            if not v > 0:
                raise ParameterError(f"MetaNeuron: {name} must be > 0, got {v}")
        self.in_features, self.out_features = in_features, out_features
        self.sampling, self.eval_mode = sampling, eval_mode
        self.temperature, self.straight_through = float(temperature), straight_through
        self.surrogate = get_surrogate(surrogate)
        self.generator = generator
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.release_logit = nn.Parameter(torch.full((out_features, in_features), _logit(release_prob)))
        self.quantal_raw = nn.Parameter(torch.full((out_features,), float(NF.inverse_softplus(quantal_amplitude))))
        self.quantal_cv_logit = nn.Parameter(torch.full((out_features,), _logit(quantal_cv / _MAX_CV)))
        self.inhibition_raw = nn.Parameter(torch.full((out_features,), float(NF.inverse_softplus(inhibition))))
        self.threshold_raw = nn.Parameter(torch.full((out_features,), float(NF.inverse_softplus(threshold))))
        self.tau = TimeConstant(tau_ms, out_features, dt_ms, learn_tau)
        self.tau_distribution: dict | None = None

    # learned internal parameters, in their natural ranges
    @property
    def release_prob(self) -> torch.Tensor:
        """``p`` ``[out, in]`` in (0, 1)."""
        return torch.sigmoid(self.release_logit)

    @property
    def quantal_amplitude(self) -> torch.Tensor:
        """Mean quantal amplitude ``q`` ``[out]`` > 0."""
        return F.softplus(self.quantal_raw)

    @property
    def quantal_cv(self) -> torch.Tensor:
        """Coefficient of variation ``c`` ``[out]`` of the quantal amplitude, in (0, 1/sqrt(3))."""
        return _MAX_CV * torch.sigmoid(self.quantal_cv_logit)

    @property
    def inhibition(self) -> torch.Tensor:
        """Feed-forward inhibition ``b`` ``[out]`` > 0, per input spike."""
        return F.softplus(self.inhibition_raw)

    @property
    def threshold(self) -> torch.Tensor:
        return F.softplus(self.threshold_raw)

    @property
    def tau_ms(self) -> torch.Tensor:
        return self.tau.tau_ms()

    @property
    def dt_ms(self) -> float:
        return self.tau.dt_ms

    def effective_weight(self) -> torch.Tensor:
        """Mean-field weight ``W = q_j p_ij w_ij - b_j`` ``[out, in]``: ``E[X] = x @ W^T``."""
        return (self.quantal_amplitude[:, None] * self.release_prob * self.weight - self.inhibition[:, None])

    def noise_weight(self) -> torch.Tensor:
        """Variance weight ``q_j^2 p_ij (1 - p_ij + c_j^2) w_ij^2`` ``[out, in]``: ``Var[X] = x^2 @ it^T``."""
        p, q, c = self.release_prob, self.quantal_amplitude, self.quantal_cv
        return (q * q)[:, None] * p * (1 - p + (c * c)[:, None]) * self.weight.square()

    def summation(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """The dendrosomatic sum ``X`` ``[T, B, out]`` of inputs ``x`` ``[T, B, in]`` under ``mode``."""
        if mode == "mean":
            return F.linear(x, self.effective_weight())
        if mode == "gaussian":
            mean = F.linear(x, self.effective_weight())
            var = F.linear(x * x, self.noise_weight())
            # exactly no noise where the variance is 0 (no input, or p = 1 and c = 0); finite gradients near 0
            std = torch.where(var > 0, var.clamp_min(1e-12).sqrt(), torch.zeros_like(var))
            return mean + std * torch.randn(mean.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        T, B, _ = x.shape
        n = T * B * self.in_features * self.out_features
        if n > _RELAXED_LIMIT:
            raise ConfigError(f"MetaNeuron: sampling='relaxed' would draw {n} per-synapse releases "
                              f"(> {_RELAXED_LIMIT}); use sampling='gaussian' for layers this large")
        shape = (T, B, self.out_features, self.in_features)
        u = torch.rand(shape, generator=self.generator, device=x.device, dtype=x.dtype).clamp_(1e-6, 1 - 1e-6)
        soft = torch.sigmoid((self.release_logit + torch.log(u) - torch.log1p(-u)) / self.temperature)
        release = (soft > 0.5).to(x.dtype) + soft - soft.detach() if self.straight_through else soft
        spread = 2 * torch.rand(shape, generator=self.generator, device=x.device, dtype=x.dtype) - 1
        amplitude = self.quantal_amplitude[:, None] * (1 + _SQRT3 * self.quantal_cv[:, None] * spread)
        excitation = torch.einsum("tboi,oi,tbi->tbo", release * amplitude, self.weight, x)
        return excitation - self.inhibition * x.sum(-1, keepdim=True)

    def mode(self) -> str:
        """The summation mode a forward call uses now: ``sampling`` in training or ``eval_mode="sample"``."""
        return self.sampling if self.training or self.eval_mode == "sample" else "mean"

    def forward(self, x: torch.Tensor, return_membrane: bool = False, sampling: str | None = None):
        """``x`` ``[T, B, in_features]`` -> spikes ``[T, B, out_features]`` (and the membrane after reset).

        ``sampling`` overrides :meth:`mode` for this call (one of ``SAMPLING_MODES``).
        """
        if x.dim() != 3 or x.shape[-1] != self.in_features:
            raise ShapeError(f"MetaNeuron expects input [T, B, {self.in_features}], got {list(x.shape)}")
        if self.training:
            NF.check_finite(x, "MetaNeuron input")
        mode = sampling or self.mode()
        if mode not in SAMPLING_MODES:
            raise ConfigError(f"MetaNeuron: sampling must be one of {list(SAMPLING_MODES)}, got {mode!r}")
        out = NF.lif_multistep(self.summation(x, mode), None, self.tau.decay(), self.threshold, reset="hard",
                               decay_input=False, surrogate=self.surrogate, return_membrane=return_membrane)
        return (out[0], out[2]) if return_membrane else out[0]

    @torch.no_grad()
    def ir_terms(self, name: str = "meta") -> MetaIRTerms:
        """The exact Network-IR (LIF) equivalent of this layer as it evaluates, or :class:`NoExactIRError`.

        Exact when evaluation is deterministic: ``eval_mode="mean"``, or a layer whose release and
        amplitude noise is zero in float32. ``name`` (e.g. ``"hidden0"``) goes into the error message.
        """
        noise = self.noise_weight()
        if self.eval_mode == "sample" and bool((noise > 0).any()):
            p, c = self.release_prob, self.quantal_cv
            raise NoExactIRError(
                f"layer {name!r}: the meta-neuron evaluates with stochastic synaptic release and quantal amplitude "
                f"(eval_mode='sample'; release probability {float(p.min()):.3f}..{float(p.max()):.3f}, amplitude CV "
                f"{float(c.min()):.3f}..{float(c.max()):.3f}); the Network IR is deterministic, so it has no exact "
                "equivalent. To export the deterministic mean-field network instead, evaluate it first with "
                "recipe key neuron.meta_eval=\"mean\" (its firing rate and accuracy differ from the stochastic model's)")
        return MetaIRTerms(weight=self.effective_weight().double().cpu().numpy(),
                           decay=self.tau.decay().float().cpu().numpy(),
                           threshold=self.threshold.float().cpu().numpy(),
                           inhibition=self.inhibition.double().cpu().numpy(), dt_ms=self.dt_ms)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, sampling={self.sampling!r}, "
                f"eval_mode={self.eval_mode!r}, temperature={self.temperature}, "
                f"straight_through={self.straight_through}")


@contextlib.contextmanager
def meta_eval_mode(model: nn.Module, mode: str):
    """Within the block every :class:`MetaNeuron` in ``model`` evaluates with ``eval_mode=mode``."""
    if mode not in EVAL_MODES:
        raise ConfigError(f"meta_eval_mode: mode must be one of {list(EVAL_MODES)}, got {mode!r}")
    layers = [m for m in model.modules() if isinstance(m, MetaNeuron)]
    saved = [m.eval_mode for m in layers]
    for m in layers:
        m.eval_mode = mode
    try:
        yield model
    finally:
        for m, old in zip(layers, saved):
            m.eval_mode = old
