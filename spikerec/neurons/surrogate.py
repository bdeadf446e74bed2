"""Surrogate gradients for the spike nonlinearity.

A spike is the Heaviside step ``H(x) = 1 if x >= 0 else 0`` of ``x = v - threshold``. Its
derivative is zero almost everywhere, so training replaces it in the backward pass by the
derivative of a smooth function. Each surrogate here is a small object holding its width/scale
parameters and exposing ``grad(x)`` (the pseudo-derivative, elementwise). The fused neuron kernels
call ``grad`` on whole ``[T, B, N]`` tensors; ``surrogate(x)`` applies the spike function with that
backward as a standalone autograd op.

Conventions match the peers so that equivalence tests can compare them term by term:

- ``atan(alpha=2)``: ``alpha / 2 / (1 + (pi/2 * alpha * x)^2)`` — SpikingJelly ``ATan(alpha)`` and
  snntorch ``atan(alpha)`` use exactly this.
- ``fast_sigmoid(slope=25)``: ``1 / (1 + slope*|x|)^2`` — snntorch ``fast_sigmoid(slope)``.
- ``sigmoid(alpha=4)``: ``alpha * sig(alpha x) * (1 - sig(alpha x))`` — SpikingJelly ``Sigmoid(alpha)``,
  snntorch ``sigmoid(slope)`` with ``slope = alpha``.
- ``triangle(width=1)``: ``max(0, 1 - |x|/width) / width`` (unit area).
- ``gaussian(sigma=0.5)``: normal density with standard deviation ``sigma`` (unit area).

Every surrogate also takes ``scale`` (default 1), a multiplier on the pseudo-derivative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from spikerec.errors import ConfigError, ParameterError

__all__ = ["Surrogate", "ATan", "FastSigmoid", "Sigmoid", "Triangle", "Gaussian", "get", "names", "spike"]


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward, surrogate backward (for use outside the fused kernels)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: "Surrogate") -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.grad(x), None


@dataclass(frozen=True)
class Surrogate:
    """Base class: subclasses define ``name`` and ``grad``; fields are the shape parameters."""

    scale: float = 1.0
    name = "surrogate"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ParameterError(f"surrogate {self.name!r}: parameter {f.name}={value!r} must be a positive finite number")

    def grad(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _SpikeFunction.apply(x, self)

    def params(self) -> dict:
        """Shape parameters as a plain dict (for configs, checkpoints and NIR metadata)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ATan(Surrogate):
    alpha: float = 2.0
    name = "atan"

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        g = (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * x).square())
        return g if self.scale == 1.0 else g * self.scale


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    slope: float = 25.0
    name = "fast_sigmoid"

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        g = (self.slope * x.abs() + 1).square().reciprocal()
        return g if self.scale == 1.0 else g * self.scale


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    alpha: float = 4.0
    name = "sigmoid"

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        sg = torch.sigmoid(self.alpha * x)
        g = self.alpha * sg * (1 - sg)
        return g if self.scale == 1.0 else g * self.scale


@dataclass(frozen=True)
class Triangle(Surrogate):
    width: float = 1.0
    name = "triangle"

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        g = (1 - x.abs() / self.width).clamp_min(0) / self.width
        return g if self.scale == 1.0 else g * self.scale


@dataclass(frozen=True)
class Gaussian(Surrogate):
    sigma: float = 0.5
    name = "gaussian"

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.exp(-0.5 * (x / self.sigma).square()) / (self.sigma * math.sqrt(2 * math.pi))
        return g if self.scale == 1.0 else g * self.scale


BUILTIN = (ATan, FastSigmoid, Sigmoid, Triangle, Gaussian)
_REGISTRY: dict[str, type[Surrogate]] = {cls.name: cls for cls in BUILTIN}


def names() -> list[str]:
    """Names accepted by :func:`get`."""
    return sorted(_REGISTRY)


def get(name: "str | Surrogate", **params) -> Surrogate:
    """Surrogate by name (``atan``, ``fast_sigmoid``, ``sigmoid``, ``triangle``, ``gaussian``).

    ``params`` are the shape parameters, e.g. ``get("atan", alpha=2.0)``; a ``Surrogate`` instance is
    returned unchanged (``params`` must then be empty).
    """
    if isinstance(name, Surrogate):
        if params:
            raise ConfigError(f"surrogate {name.name!r} is already built; do not pass parameters {sorted(params)}")
        return name
    key = str(name).lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ConfigError(f"unknown surrogate {name!r}; choose one of {names()}")
    cls = _REGISTRY[key]
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(f"surrogate {key!r} has no parameter(s) {unknown}; allowed: {sorted(allowed)}")
    return cls(**params)


def spike(x: torch.Tensor, surrogate: "str | Surrogate" = "atan") -> torch.Tensor:
    """Heaviside ``x >= 0`` as float, with the surrogate's gradient in the backward pass."""
    return get(surrogate)(x)
