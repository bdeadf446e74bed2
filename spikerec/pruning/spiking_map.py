"""A recurrent LIF layer as a discrete-time map on its pre-reset membrane, with two Jacobians.

State ``h_t`` [N] is the membrane *before* reset at step t (spikes ``s_t = H(h_t - threshold)`` are a
function of it). With ``beta = 1 - dt/tau`` per neuron, ``g = 1 - beta`` (``decay_input``) or 1, and
``R`` the reset of :func:`spikerec.neurons.functional.reset_membrane` (hard: ``v_reset`` where
``s``; soft: ``h - threshold * s``)::

    h_t = beta * R(h_{t-1}, s_{t-1}) + g * (x_t + W s_{t-1}) + c,    c = g * v_reset (decay_input) else (1-beta) v_reset

This is the update of :func:`spikerec.neurons.functional.lif_multistep` with a recurrent weight,
rewritten in the state ``h`` so that it is a map; ``tests/test_hrsnn.py`` checks that iterating it
reproduces the model's own run spike for spike in float64.

Jacobians of ``h_{t-1} -> h_t`` (as products ``J q`` for q [N, k]):

- ``exact``: the Jacobian of the spiking map itself. ``s`` is piecewise constant, so between spikes
  the map is linear and ``W`` drops out; the reset is handled explicitly: a hard reset sets the
  membrane to a constant, so a neuron that spiked forgets its perturbation (row zero), a soft reset
  subtracts a constant (row ``beta``). ``J = diag(beta * dR/dh)``, ``dR/dh = 1 - s`` (hard) or 1 (soft).
- ``surrogate``: the pseudo-Jacobian of training, the spike's derivative replaced by the surrogate's
  ``sigma'(h - threshold)``: ``J = diag(beta * dR/dh) + diag(g) W diag(sigma')``, with the reset's own
  surrogate term unless ``detach_reset``.

Which one predicts the divergence of two nearby trajectories is measured, not assumed:
:func:`spikerec.pruning.lyapunov.finite_difference_lyapunov` and ``docs/pruning.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from spikerec.errors import ConfigError, ShapeError
from spikerec.neurons.functional import LIFConfig, reset_membrane

JACOBIANS = ("exact", "surrogate")


@dataclass(frozen=True)
class RecurrentLIFMap:
    """Parameters of one recurrent LIF layer, float64. weight [N, N] (post, pre, masked); decay,
    threshold [N]; cfg the layer's :class:`~spikerec.neurons.functional.LIFConfig`."""

    weight: torch.Tensor
    decay: torch.Tensor
    threshold: torch.Tensor
    cfg: LIFConfig

    @classmethod
    def from_layer(cls, neuron) -> "RecurrentLIFMap":
        """The map of a :class:`~spikerec.neurons.RecurrentLIF` (its current parameters, detached)."""
        with torch.no_grad():
            w = neuron.effective_recurrent_weight().detach().double().cpu()
            n = w.shape[0]
            return cls(w, neuron.decay.detach().double().cpu().expand(n).clone(),
                       torch.as_tensor(neuron.threshold).detach().double().cpu().expand(n).clone(), neuron.cfg)

    @property
    def n(self) -> int:
        return int(self.weight.shape[0])

    @property
    def input_gain(self) -> torch.Tensor:
        """g [N]: what multiplies the input and recurrent current (1 - beta with decay_input, else 1)."""
        return 1.0 - self.decay if self.cfg.decay_input else torch.ones_like(self.decay)

    def initial_state(self, batch: int | None = None) -> torch.Tensor:
        """h_0 = v_reset for every neuron (no spike, nothing remembered): [N] or [batch, N] float64."""
        shape = (self.n,) if batch is None else (batch, self.n)
        return torch.full(shape, self.cfg.v_reset, dtype=torch.float64)

    def spikes(self, h: torch.Tensor) -> torch.Tensor:
        return (h >= self.threshold).to(h.dtype)

    def step(self, h_prev: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        """h_t from h_{t-1} and the external current x_t (input synapse output, bias included), each
        [N] or [B, N] (B independent copies)."""
        s_prev = self.spikes(h_prev)
        v_prev = reset_membrane(h_prev, s_prev, self.threshold, self.cfg)
        leak_target = self.cfg.v_reset * (1.0 - self.decay)
        return self.decay * v_prev + self.input_gain * (x_t + s_prev @ self.weight.T) + leak_target

    def run(self, currents: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """Iterate the map over currents [T, N] or [T, B, N]; returns the pre-reset membranes, same shape."""
        if currents.dim() not in (2, 3) or currents.shape[-1] != self.n:
            raise ShapeError(f"RecurrentLIFMap.run expects currents [T, N] or [T, B, N] with N={self.n}, "
                             f"got {tuple(currents.shape)}")
        batch = None if currents.dim() == 2 else currents.shape[1]
        h = self.initial_state(batch) if h0 is None else h0.double()
        out = torch.empty(currents.shape, dtype=torch.float64)
        for t in range(currents.shape[0]):
            h = out[t] = self.step(h, currents[t].double())
        return out

    def _reset_slope(self, h: torch.Tensor, s: torch.Tensor, surrogate_term: bool) -> torch.Tensor:
        """dR/dh [N]: with ``surrogate_term`` the spike inside the reset passes the surrogate derivative."""
        hard = self.cfg.reset == "hard"
        slope = 1.0 - s if hard else torch.ones_like(h)
        if surrogate_term and not self.cfg.detach_reset:
            sg = self.cfg.surrogate.grad(h - self.threshold)
            slope = slope + (self.cfg.v_reset - h) * sg if hard else slope - self.threshold * sg
        return slope

    def exact_jacobian(self, h_prev: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """q [..., N, k] -> J q for the spiking map at h_{t-1} [..., N]: diag(beta * dR/dh)."""
        diag = self.decay * self._reset_slope(h_prev, self.spikes(h_prev), surrogate_term=False)
        return lambda q: diag.unsqueeze(-1) * q

    def surrogate_jacobian(self, h_prev: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """q [..., N, k] -> J q with the spike derivative replaced by the surrogate's (training convention)."""
        diag = self.decay * self._reset_slope(h_prev, self.spikes(h_prev), surrogate_term=True)
        sg = self.cfg.surrogate.grad(h_prev - self.threshold)
        gain = self.input_gain.unsqueeze(1)
        return lambda q: diag.unsqueeze(-1) * q + gain * torch.matmul(self.weight, sg.unsqueeze(-1) * q)

    def jacobian(self, kind: str) -> Callable[[torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
        """``exact_jacobian`` or ``surrogate_jacobian`` by name."""
        if kind not in JACOBIANS:
            raise ConfigError(f"unknown Jacobian {kind!r}; choose one of {list(JACOBIANS)}")
        return self.exact_jacobian if kind == "exact" else self.surrogate_jacobian


__all__ = ["RecurrentLIFMap", "JACOBIANS"]
