"""``nn.Module`` shells around the fused kernels: LIF, LI readout, recurrent LIF, adaptive LIF.

Modules hold parameters (time constants, thresholds, recurrent weights) and validate inputs; the
math is in :mod:`spikerec.neurons.functional`. All take time-major ``[T, B, N]`` input currents.
Multi-step: ``spikes = layer(x)``; streaming: ``state = layer.initial_state(B)`` then
``spk_t, state = layer.step(x_t, state)`` with ``x_t`` ``[B, N]``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from spikerec.errors import ParameterError, ShapeError
from spikerec.neurons import functional as NF
from spikerec.neurons.surrogate import Surrogate, get as get_surrogate

__all__ = ["TimeConstant", "LIF", "LI", "RecurrentLIF", "AdaptiveLIF", "LIFState", "RecurrentState", "AdaptiveState"]


class TimeConstant(nn.Module):
    """Per-neuron time constant ``tau_ms`` ``[N]`` that stays valid (``tau > dt``) while training.

    Learnable: ``tau = dt + softplus(raw)`` with an unconstrained parameter ``raw``, so the Euler decay
    ``beta = 1 - dt/tau`` stays in ``[0, 1)`` (0 only where softplus underflows); fixed: the exact
    values in a buffer (so fixed-tau dynamics are bit-reproducible).
    """

    def __init__(self, tau_ms: float | torch.Tensor, n: int, dt_ms: float, learn: bool = False):
        super().__init__()
        tau = torch.as_tensor(tau_ms, dtype=torch.float32)
        if tau.dim() > 1 or (tau.dim() == 1 and tau.shape[0] != n):
            raise ShapeError(f"tau_ms must be a scalar or of shape [{n}], got {list(tau.shape)}")
        tau = tau.expand(n).clone()
        NF.decay_from_tau(tau, dt_ms)  # raises ParameterError for tau <= dt
        self.dt_ms = float(dt_ms)
        self.learn = learn
        if learn:
            y = (tau - dt_ms).double()
            self.raw = nn.Parameter((y + torch.log(-torch.expm1(-y))).float())  # inverse softplus, stable
        else:
            self.register_buffer("fixed", tau)

    def tau_ms(self) -> torch.Tensor:
        return self.dt_ms + F.softplus(self.raw) if self.learn else self.fixed

    def decay(self) -> torch.Tensor:
        """``beta = 1 - dt/tau`` ``[N]`` (differentiable when learnable)."""
        return 1.0 - self.dt_ms / self.tau_ms()

    @torch.no_grad()
    def set_tau_ms(self, tau_ms: torch.Tensor) -> None:
        """Overwrite the time constants (e.g. from a heterogeneous initialiser)."""
        tau = torch.as_tensor(tau_ms, dtype=torch.float32).expand(self.tau_ms().shape[0])
        NF.decay_from_tau(tau, self.dt_ms)
        if self.learn:
            self.raw.copy_(NF.inverse_softplus(tau - self.dt_ms).float())
        else:
            self.fixed.copy_(tau)

    def extra_repr(self) -> str:
        return f"dt_ms={self.dt_ms}, learn={self.learn}"


class _TimeConstantViews:
    """``tau_ms`` [N] and per-step ``decay`` [N] of a layer that holds its time constants in ``self.tau``."""

    tau: TimeConstant

    @property
    def tau_ms(self) -> torch.Tensor:
        return self.tau.tau_ms()

    @property
    def decay(self) -> torch.Tensor:
        return self.tau.decay()


class LIFState(NamedTuple):
    v: torch.Tensor  # [B, N] membrane after reset


class RecurrentState(NamedTuple):
    v: torch.Tensor  # [B, N] membrane after reset
    s: torch.Tensor  # [B, N] spikes of the last step (fed back through the recurrent weights)


class LIF(_TimeConstantViews, nn.Module):
    """Leaky integrate-and-fire layer, ``[T, B, N]`` currents -> ``[T, B, N]`` spikes.

    Dynamics (see :mod:`spikerec.neurons.functional`): ``H = beta V + (1-beta)(X + v_reset)``
    (``decay_input``) or ``H = beta V + (1-beta) v_reset + X``, spike when ``H >= threshold``, then
    hard reset to ``v_reset`` or soft reset (subtract threshold). ``beta = 1 - dt_ms/tau_ms``.
    """

    def __init__(self, n_neurons: int, tau_ms: float | torch.Tensor = 20.0, dt_ms: float = 1.0,
                 threshold: float | torch.Tensor = 1.0, reset: str = "hard", v_reset: float = 0.0,
                 detach_reset: bool = False, surrogate: str | Surrogate = "atan",
                 surrogate_kwargs: dict | None = None, decay_input: bool = True, learn_tau: bool = False,
                 learn_threshold: bool = False):
        super().__init__()
        if n_neurons <= 0:
            raise ParameterError(f"n_neurons must be positive, got {n_neurons}")
        self.n_neurons = int(n_neurons)
        self.dt_ms = float(dt_ms)
        self.tau = TimeConstant(tau_ms, n_neurons, dt_ms, learn_tau)
        th = torch.as_tensor(threshold, dtype=torch.float32).expand(n_neurons).clone()
        if not bool(torch.isfinite(th).all()):
            raise ParameterError(f"threshold must be finite, got {threshold}")
        if learn_threshold:
            self.threshold = nn.Parameter(th)
        else:
            self.register_buffer("threshold", th)
        self.cfg = NF.LIFConfig(v_reset=float(v_reset), reset=reset, detach_reset=detach_reset,
                                decay_input=decay_input, surrogate=get_surrogate(surrogate, **(surrogate_kwargs or {})))
        self.tau_distribution: dict | None = None  # filled by spikerec.neurons.timescales initialisers

    @property
    def surrogate(self) -> Surrogate:
        return self.cfg.surrogate

    def _check(self, x: torch.Tensor) -> None:
        NF.check_sequence(x, self.n_neurons)

    def _run(self, x: torch.Tensor, state, return_membrane: bool):
        v0 = None if state is None else state.v
        out = NF.lif_multistep(x, v0, self.decay, self.threshold, v_reset=self.cfg.v_reset, reset=self.cfg.reset,
                               detach_reset=self.cfg.detach_reset, decay_input=self.cfg.decay_input,
                               surrogate=self.cfg.surrogate, return_membrane=return_membrane,
                               check_finite=self.training)
        return out[0], LIFState(out[1]), (out[2] if return_membrane else None)

    def forward(self, x: torch.Tensor, return_membrane: bool = False, state=None):
        """``x`` ``[T, B, N]`` -> spikes, or ``(spikes, membrane)`` with the membrane after reset."""
        self._check(x)
        spikes, _, v_seq = self._run(x, state, return_membrane)
        return (spikes, v_seq) if return_membrane else spikes

    def initial_state(self, batch_size: int, device=None, dtype=torch.float32) -> LIFState:
        return LIFState(torch.full((batch_size, self.n_neurons), self.cfg.v_reset, device=device, dtype=dtype))

    def step(self, x_t: torch.Tensor, state=None):
        """One time step: ``x_t`` ``[B, N]`` -> ``(spikes [B, N], new_state)``."""
        if x_t.dim() != 2:
            raise ShapeError(f"step expects x_t of shape [B, {self.n_neurons}], got {list(x_t.shape)}")
        x = x_t.unsqueeze(0)
        self._check(x)
        spikes, new_state, _ = self._run(x, state, False)
        return spikes[0], new_state

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"{self.n_neurons}, dt_ms={self.dt_ms}, reset={c.reset!r}, v_reset={c.v_reset}, "
                f"detach_reset={c.detach_reset}, decay_input={c.decay_input}, surrogate={c.surrogate}")


class _RecurrentWeights:
    """Optional recurrent weights ``W_rec`` [N, N] with a fixed sparsity ``recurrent_mask`` (bool or 0/1)."""

    def _init_recurrence(self, n_neurons: int, recurrent: bool, recurrent_mask: torch.Tensor | None) -> None:
        if recurrent:
            bound = 1.0 / math.sqrt(n_neurons)
            self.recurrent_weight = nn.Parameter(torch.empty(n_neurons, n_neurons).uniform_(-bound, bound))
        else:
            self.recurrent_weight = None
        if recurrent_mask is None:
            self.recurrent_mask = None
            return
        if not recurrent:
            raise ParameterError("recurrent_mask given but recurrent=False")
        mask = torch.as_tensor(recurrent_mask)
        if mask.shape != (n_neurons, n_neurons):
            raise ShapeError(f"recurrent_mask must have shape [{n_neurons}, {n_neurons}], got {list(mask.shape)}")
        self.register_buffer("recurrent_mask", mask.to(torch.float32))

    def effective_recurrent_weight(self) -> torch.Tensor | None:
        """``W_rec * mask`` (None without recurrence): masked weights get no gradient and no effect."""
        w = self.recurrent_weight
        return w if (w is None or self.recurrent_mask is None) else w * self.recurrent_mask


class RecurrentLIF(_RecurrentWeights, LIF):
    """LIF layer whose spikes feed back through recurrent weights ``W_rec`` ``[N, N]``.

    Input currents ``X[t]`` get ``S[t-1] @ (W_rec * mask)^T`` added before the LIF update; the
    recurrence runs inside the fused kernel (BPTT through the recurrent matmul in its backward).
    ``recurrent_mask`` (``[N, N]``, bool or 0/1) fixes a sparsity pattern; masked weights get no
    gradient and stay out of the dynamics. The diagonal is kept unless the mask removes it.
    """

    def __init__(self, n_neurons: int, *args, recurrent_mask: torch.Tensor | None = None, **kwargs):
        super().__init__(n_neurons, *args, **kwargs)
        self._init_recurrence(n_neurons, True, recurrent_mask)

    def _run(self, x: torch.Tensor, state, return_membrane: bool):
        v0, s0 = (None, None) if state is None else (state.v, state.s)
        out = NF.lif_multistep(x, v0, self.decay, self.threshold, v_reset=self.cfg.v_reset, reset=self.cfg.reset,
                               detach_reset=self.cfg.detach_reset, decay_input=self.cfg.decay_input,
                               surrogate=self.cfg.surrogate, recurrent_weight=self.effective_recurrent_weight(),
                               s0=s0, return_membrane=return_membrane, check_finite=self.training)
        return out[0], RecurrentState(out[1], out[0][-1]), (out[2] if return_membrane else None)

    def initial_state(self, batch_size: int, device=None, dtype=torch.float32) -> RecurrentState:
        v = super().initial_state(batch_size, device, dtype).v
        return RecurrentState(v, torch.zeros_like(v))


class LI(_TimeConstantViews, nn.Module):
    """Non-spiking leaky integrator readout: ``[T, B, N]`` currents -> membrane ``[T, B, N]``.

    ``H[t] = beta H[t-1] + (1-beta) X[t]`` (``decay_input``) or ``beta H[t-1] + X[t]``, ``beta = 1 - dt/tau``.
    """

    def __init__(self, n_neurons: int, tau_ms: float | torch.Tensor = 20.0, dt_ms: float = 1.0,
                 decay_input: bool = True, learn_tau: bool = False):
        super().__init__()
        self.n_neurons = int(n_neurons)
        self.dt_ms = float(dt_ms)
        self.decay_input = decay_input
        self.tau = TimeConstant(tau_ms, n_neurons, dt_ms, learn_tau)
        self.tau_distribution: dict | None = None

    def forward(self, x: torch.Tensor, state: LIFState | None = None) -> torch.Tensor:
        NF.check_sequence(x, self.n_neurons)
        if self.training:
            NF.check_finite(x, "LI input")
        return NF.li_multistep(x, None if state is None else state.v, self.decay, self.decay_input)

    def initial_state(self, batch_size: int, device=None, dtype=torch.float32) -> LIFState:
        return LIFState(torch.zeros(batch_size, self.n_neurons, device=device, dtype=dtype))

    def step(self, x_t: torch.Tensor, state: LIFState | None = None):
        """One step: ``x_t`` ``[B, N]`` -> ``(membrane [B, N], new_state)``."""
        if x_t.dim() != 2:
            raise ShapeError(f"step expects x_t of shape [B, {self.n_neurons}], got {list(x_t.shape)}")
        h = self.forward(x_t.unsqueeze(0), state)[0]
        return h, LIFState(h)


class AdaptiveState(NamedTuple):
    u: torch.Tensor  # [B, N] membrane of the last step, before reset
    s: torch.Tensor  # [B, N] spikes of the last step
    w: torch.Tensor  # [B, N] adaptation current


class AdaptiveLIF(_TimeConstantViews, _RecurrentWeights, nn.Module):
    """Adaptive LIF (adLIF) layer after Bittar & Garner (2022), optionally recurrent.

    ``W[t] = beta_w W[t-1] + a U[t-1] + b S[t-1]``;
    ``U[t] = beta (U[t-1] - threshold S[t-1]) + (1 - beta)(X[t] + S[t-1] W_rec^T - W[t])``;
    ``S[t] = U[t] >= threshold``. ``beta = 1 - dt/tau_ms`` (the membrane decay, as for :class:`LIF`),
    ``beta_w = 1 - dt/tau_adapt_ms`` (the adaptation decay) (Euler, as for
    :class:`LIF`; the paper uses ``exp(-dt/tau)``, which differs by O((dt/tau)^2)). ``a`` (sub-threshold
    coupling) and ``b`` (spike-triggered adaptation) are per-neuron and, like the paper, kept in
    ``[-1, 1]`` and ``[0, 2]`` (clamped in the forward). ``reset="soft"`` is the paper's; ``"hard"`` is offered.
    """

    def __init__(self, n_neurons: int, tau_ms: float | torch.Tensor = 20.0, tau_adapt_ms: float | torch.Tensor = 150.0,
                 a: float | torch.Tensor = 0.0, b: float | torch.Tensor = 1.0, dt_ms: float = 1.0,
                 threshold: float = 1.0, reset: str = "soft", v_reset: float = 0.0, detach_reset: bool = False,
                 surrogate: str | Surrogate = "atan", surrogate_kwargs: dict | None = None, recurrent: bool = False,
                 recurrent_mask: torch.Tensor | None = None, learn_tau: bool = True, learn_adaptation: bool = True,
                 learn_threshold: bool = False):
        super().__init__()
        self.n_neurons = int(n_neurons)
        self.dt_ms = float(dt_ms)
        self.tau = TimeConstant(tau_ms, n_neurons, dt_ms, learn_tau)
        self.tau_adapt = TimeConstant(tau_adapt_ms, n_neurons, dt_ms, learn_tau)
        for name, value in (("a", a), ("b", b), ("threshold", threshold)):
            t = torch.as_tensor(value, dtype=torch.float32).expand(n_neurons).clone()
            learn = learn_threshold if name == "threshold" else learn_adaptation
            if learn:
                setattr(self, name, nn.Parameter(t))
            else:
                self.register_buffer(name, t)
        self.cfg = NF.LIFConfig(v_reset=float(v_reset), reset=reset, detach_reset=detach_reset, decay_input=True,
                                surrogate=get_surrogate(surrogate, **(surrogate_kwargs or {})))
        self._init_recurrence(n_neurons, recurrent, recurrent_mask)
        self.tau_distribution: dict | None = None

    def _run(self, x: torch.Tensor, state):
        NF.check_sequence(x, self.n_neurons)
        return NF.adlif_multistep(x, None if state is None else tuple(state), self.tau.decay(), self.tau_adapt.decay(),
                                  self.a.clamp(-1.0, 1.0), self.b.clamp(0.0, 2.0), self.threshold,
                                  v_reset=self.cfg.v_reset, reset=self.cfg.reset, detach_reset=self.cfg.detach_reset,
                                  surrogate=self.cfg.surrogate, recurrent_weight=self.effective_recurrent_weight(),
                                  check_finite=self.training)

    def forward(self, x: torch.Tensor, return_membrane: bool = False, state: AdaptiveState | None = None):
        """``x`` ``[T, B, N]`` -> spikes, or ``(spikes, membrane before reset)``."""
        spikes, u, _, _ = self._run(x, state)
        return (spikes, u) if return_membrane else spikes

    def initial_state(self, batch_size: int, device=None, dtype=torch.float32) -> AdaptiveState:
        z = torch.zeros(batch_size, self.n_neurons, device=device, dtype=dtype)
        return AdaptiveState(z, z.clone(), z.clone())

    def step(self, x_t: torch.Tensor, state: AdaptiveState | None = None):
        """One step: ``x_t`` ``[B, N]`` -> ``(spikes [B, N], new_state)``."""
        if x_t.dim() != 2:
            raise ShapeError(f"step expects x_t of shape [B, {self.n_neurons}], got {list(x_t.shape)}")
        spikes, _, _, last = self._run(x_t.unsqueeze(0), state)
        return spikes[0], AdaptiveState(*last)
