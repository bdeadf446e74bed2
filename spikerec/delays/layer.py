"""``DelayedLinear``: a fully connected layer with one learnable delay per synapse (DCLS).

Equivalent, for the same weight/positions/sigma, to the SNN-delays reference
``Dcls1d(Cin, Cout, kernel_count, dilated_kernel_size=K, bias=False, version="gauss")`` applied to
``F.pad(x.permute(1, 2, 0), (K - 1, 0))``, but time-major and faster (see ``kernels``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spikerec.delays import functional as Fd
from spikerec.delays import kernels
from spikerec.errors import ConfigError, NonFiniteError, ParameterError, ShapeError


class DelayedLinear(nn.Module):
    """[T, B, Cin] -> [T, B, Cout]; output at t sees input at t - d, d in 0 .. K-1 steps.

    Args:
        in_features, out_features: channel counts.
        max_delay_ms, dt_ms: kernel span; ``K = max_delay_steps = round(max_delay_ms / dt_ms)`` taps,
            delays 0 .. K-1 steps (SNN-delays uses an odd K, e.g. 250 ms / 10 ms = 25).
        bias: add a learnable bias [Cout].
        kernel_count: taps (weight + position) per synapse.
        interpolation: "gauss" (Dcls1d version "gauss") or "linear" (Dcls1d version "v1").
        sigma: DCLS ``SIG`` value (Gaussian std is ``|sigma| + 0.27`` steps); default ``K // 2``.
        learn_delays: False freezes the random initial positions, rounded to whole steps, and
            always computes with those integer delays (the fixed random delays baseline).
        init_positions: "uniform" (SNN-delays: U(-K//2, K//2) with Python floor division, then clamped).

    Attributes: ``weight`` and ``positions`` [Cout, Cin, kernel_count] (positions centred in steps,
    like ``Dcls1d.P[0]``: delay = K - 1 - K//2 - position), ``sigma`` (float, kept in a buffer),
    ``integer_mode`` (True: compute with ``integer_delays()``, exactly what hardware sees).
    """

    def __init__(self, in_features: int, out_features: int, max_delay_ms: float, dt_ms: float, bias: bool = False,
                 kernel_count: int = 1, interpolation: str = "gauss", sigma: float | None = None,
                 learn_delays: bool = True, init_positions: str = "uniform"):
        super().__init__()
        if in_features < 1 or out_features < 1 or kernel_count < 1:
            raise ConfigError(f"DelayedLinear: in_features, out_features and kernel_count must be >= 1, got "
                              f"{in_features}, {out_features}, {kernel_count}")
        if not (dt_ms > 0 and max_delay_ms > 0):
            raise ConfigError(f"DelayedLinear: max_delay_ms and dt_ms must be > 0, got {max_delay_ms}, {dt_ms}")
        k = Fd.kernel_size(max_delay_ms, dt_ms)
        if k < 1 or not math.isclose(k * dt_ms, max_delay_ms, rel_tol=1e-6):
            raise ConfigError(f"DelayedLinear: max_delay_ms={max_delay_ms} is not a whole number (>= 1) of "
                              f"dt_ms={dt_ms} steps; pick max_delay_ms = K * dt_ms")
        if interpolation not in Fd.INTERPOLATIONS:
            raise ConfigError(f"DelayedLinear: interpolation must be one of {Fd.INTERPOLATIONS}, got {interpolation!r}")
        if init_positions != "uniform":
            raise ConfigError(f"DelayedLinear: init_positions must be 'uniform', got {init_positions!r}")
        self.in_features, self.out_features, self.kernel_count = in_features, out_features, kernel_count
        self.max_delay_steps, self.dt_ms, self.interpolation = k, float(dt_ms), interpolation
        self.learn_delays = learn_delays
        self.integer_mode = False
        self.weight = nn.Parameter(torch.empty(out_features, in_features, kernel_count))
        self.positions = nn.Parameter(torch.empty(out_features, in_features, kernel_count), requires_grad=learn_delays)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("_sigma", torch.tensor(0.0))
        self._integer_cache: tuple | None = None  # (positions version key, integer delays), see forward
        self.sigma = k // 2 if sigma is None else sigma
        self.reset_parameters()

    # -- parameters ---------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """SNN-delays init: Kaiming-uniform (ReLU gain) weights, uniform positions clamped to range."""
        nn.init.kaiming_uniform_(self.weight, nonlinearity="relu")
        k = self.max_delay_steps
        with torch.no_grad():
            nn.init.uniform_(self.positions, (-k) // 2, k // 2)
            self.clamp_positions_()
            if not self.learn_delays:
                self.positions.round_()
            if self.bias is not None:
                bound = 1.0 / math.sqrt(self.in_features * self.kernel_count)
                nn.init.uniform_(self.bias, -bound, bound)

    @property
    def sigma(self) -> float:
        return float(self._sigma)

    @sigma.setter
    def sigma(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ParameterError(f"{self.describe()}: sigma must be finite and >= 0 (DCLS SIG, steps), got {value}")
        self._sigma.fill_(value)

    def position_limits(self) -> tuple[int, int]:
        """Inclusive position range; centres on kernel taps, delays 0 .. K-1 steps."""
        return Fd.position_limits(self.max_delay_steps)

    @torch.no_grad()
    def clamp_positions_(self) -> None:
        """Clamp positions into ``position_limits()`` (call after every optimiser step)."""
        self.positions.clamp_(*self.position_limits())

    def delays(self) -> torch.Tensor:
        """Continuous delays in steps [Cout, Cin, kernel_count] (detached)."""
        return Fd.delays_from_positions(self.positions.detach(), self.max_delay_steps)

    def integer_delays(self) -> torch.Tensor:
        """Rounded per-synapse delays in steps, LongTensor [Cout, Cin, kernel_count], each in [0, K-1].

        Raises ParameterError if a position rounds outside the kernel (forgot ``clamp_positions_``?)
        or is not finite.
        """
        if not torch.isfinite(self.positions).all():
            raise NonFiniteError(f"{self.describe()}: positions contain NaN/inf; the optimiser diverged")
        d = Fd.rounded_delays(self.positions, self.max_delay_steps)
        bad = int(((d < 0) | (d >= self.max_delay_steps)).sum())
        if bad:
            raise ParameterError(f"{self.describe()}: {bad} positions round to delays outside [0, "
                                 f"{self.max_delay_steps - 1}] steps; call clamp_positions_() after each optimiser step")
        return d

    def _current_integer_delays(self) -> torch.Tensor:
        """``integer_delays()``, recomputed only when the positions changed (inference calls the layer
        many times with the same positions; every in-place update bumps the parameter's version)."""
        key = (self.positions._version, self.positions.data_ptr(), self.positions.device)
        if self._integer_cache is None or self._integer_cache[0] != key:
            self._integer_cache = (key, self.integer_delays())
        return self._integer_cache[1]

    # -- forward ------------------------------------------------------------------------------
    def _check_finite(self) -> None:
        if not Fd.all_finite(self.weight):
            raise NonFiniteError(f"{self.describe()}: weight contains NaN/inf; lower the learning rate or check the loss")
        if not (self.integer_mode or not self.learn_delays or Fd.all_finite(self.positions)):
            raise NonFiniteError(f"{self.describe()}: positions contain NaN/inf; the optimiser diverged")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [T, B, Cin] -> y [T, B, Cout]."""
        if x.dim() != 3 or x.shape[-1] != self.in_features:
            raise ShapeError(f"{self.describe()}: expected input [T, B, {self.in_features}] (time-major), "
                             f"got {list(x.shape)}")
        self._check_finite()
        if self.integer_mode or not self.learn_delays:
            return Fd.integer_delayed_linear(x, self.weight, self._current_integer_delays(), self.max_delay_steps,
                                             self.bias)
        return Fd.delayed_linear(x, self.weight, self.positions, self.sigma, self.max_delay_steps,
                                 self.interpolation, self.bias)

    def delay_kernel(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The kernel ``forward`` applies, for callers that run the product themselves (chunked, per step):
        ``kall`` [Cin, K, Cout] (``kernels.delayed_matmul`` convention; one-hot at the rounded delays in integer
        mode or with frozen delays; differentiable) and the delay basis for its low-rank input gradient (or None)."""
        self._check_finite()
        if self.integer_mode or not self.learn_delays:
            return kernels.integer_kernel(self.weight, self._current_integer_delays(), self.max_delay_steps), None
        return Fd.delay_kernel(self.weight, self.positions, self.sigma, self.max_delay_steps, self.interpolation)

    # -- interop ------------------------------------------------------------------------------
    @classmethod
    def from_dcls(cls, module: nn.Module, dt_ms: float = 1.0) -> "DelayedLinear":
        """Build a layer holding the weight, positions, sigma (and bias) of a ``DCLS`` ``Dcls1d``.

        ``module`` must be a ``Dcls1d`` as the SNN-delays code builds it (groups=1, stride 1, no
        padding, version "gauss" or "v1") with one shared ``SIG`` value. ``dt_ms`` is the time step
        the module was trained at (the kernel spans ``dilated_kernel_size * dt_ms``).
        """
        name = type(module).__name__
        try:
            k = int(module.dilated_kernel_size[0])
            version, groups = module.version, module.groups
            stride, padding = tuple(module.stride), tuple(module.padding)
            weight, pos, sig = module.weight, module.P, module.SIG
        except AttributeError as err:
            raise ConfigError(f"from_dcls: {name} is not a DCLS Dcls1d module ({err})") from None
        if len(module.dilated_kernel_size) != 1 or weight.dim() != 3:
            raise ConfigError(f"from_dcls: {name} is not 1-D; only Dcls1d is supported")
        if groups != 1 or stride != (1,) or padding != (0,):
            raise ConfigError(f"from_dcls: {name} has groups={groups}, stride={stride}, padding={padding}; only "
                              f"groups=1, stride=1, padding=0 (SNN-delays pads outside the module) are supported")
        interp = {"gauss": "gauss", "v1": "linear"}.get(version)
        if interp is None:
            raise ConfigError(f"from_dcls: {name} has version={version!r}; supported: 'gauss', 'v1' (linear)")
        sigma = 0.0
        if interp == "gauss":
            s = sig.detach().abs()
            if not torch.allclose(s, s.flatten()[0].expand_as(s)):
                raise ParameterError(f"from_dcls: {name} has per-synapse SIG values; DelayedLinear keeps one shared sigma")
            sigma = float(s.flatten()[0])
        cout, cin, kc = weight.shape
        layer = cls(cin, cout, max_delay_ms=k * dt_ms, dt_ms=dt_ms, bias=module.bias is not None, kernel_count=kc,
                    interpolation=interp, sigma=sigma)
        lo, hi = layer.position_limits()
        p = pos.detach()[0]
        if ((p < lo) | (p > hi)).any():
            raise ParameterError(f"from_dcls: {name} has positions outside [{lo}, {hi}] (taps 0..{k - 1}); "
                                 f"call its clamp_parameters() first (for even kernel sizes the upper limit is one lower)")
        with torch.no_grad():
            layer.weight.copy_(weight.detach())
            layer.positions.copy_(p)
            if module.bias is not None:
                layer.bias.copy_(module.bias.detach())
        return layer.to(weight.device)

    def describe(self) -> str:
        """Short identity used in error messages."""
        return (f"DelayedLinear({self.in_features}->{self.out_features}, K={self.max_delay_steps}, "
                f"kernel_count={self.kernel_count})")

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, max_delay_steps={self.max_delay_steps}, dt_ms={self.dt_ms}, "
                f"kernel_count={self.kernel_count}, interpolation={self.interpolation!r}, sigma={self.sigma:.4g}, "
                f"learn_delays={self.learn_delays}, bias={self.bias is not None}, integer_mode={self.integer_mode}")
