"""Heterogeneous time constants: draw per-neuron ``tau_ms`` from gamma, log-normal or uniform laws.

HRSNN (Chakraborty et al., ICLR 2024) draws membrane time constants from a gamma distribution;
log-normal and uniform are common alternatives. :func:`init_tau_` writes the draw into a neuron
module and records the distribution (name, parameters, seed handling, clipped count) on it as
``module.<attr>_distribution`` (``module.tau_distribution`` for the membrane), so experiments can
report exactly what was used.

Parameters (all in ms):

- ``gamma``: ``mean_ms`` (default 20), ``shape`` k (default 3); scale = mean/k.
- ``lognormal``: ``median_ms`` (default 20), ``sigma`` (std of log tau, default 0.5).
- ``uniform``: ``low_ms`` (default 5), ``high_ms`` (default 50).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from spikerec.errors import ConfigError, ParameterError

__all__ = ["sample_tau_ms", "gamma_tau_ms", "tau_floor_ms", "init_tau_", "DISTRIBUTIONS"]

DISTRIBUTIONS = {
    "gamma": {"mean_ms": 20.0, "shape": 3.0},
    "lognormal": {"median_ms": 20.0, "sigma": 0.5},
    "uniform": {"low_ms": 5.0, "high_ms": 50.0},
}


def tau_floor_ms(dt_ms: float) -> float:
    """Smallest time constant a draw may take: ``2 dt`` (Euler decay ``1 - dt/tau >= 1/2``, a stable contraction)."""
    return 2.0 * float(dt_ms)


def gamma_tau_ms(n: int, shape: float, mean_ms: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` time constants (ms, float64) from gamma(shape k, scale mean/k): the one gamma draw of the package."""
    return rng.gamma(shape, mean_ms / shape, size=n)


def _params(distribution: str, params: dict) -> dict:
    if distribution not in DISTRIBUTIONS:
        raise ConfigError(f"unknown tau distribution {distribution!r}; choose one of {sorted(DISTRIBUTIONS)}")
    unknown = sorted(set(params) - set(DISTRIBUTIONS[distribution]))
    if unknown:
        raise ConfigError(f"tau distribution {distribution!r} has no parameter(s) {unknown}; "
                          f"allowed: {sorted(DISTRIBUTIONS[distribution])}")
    full = {**DISTRIBUTIONS[distribution], **{k: float(v) for k, v in params.items()}}
    for key, value in full.items():
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(f"tau distribution {distribution!r}: {key}={value} must be positive and finite")
    if distribution == "uniform" and not full["low_ms"] < full["high_ms"]:
        raise ParameterError(f"uniform tau distribution needs low_ms < high_ms, got {full['low_ms']} >= {full['high_ms']}")
    return full


def sample_tau_ms(n: int, distribution: str = "gamma", generator: torch.Generator | None = None,
                  **params) -> torch.Tensor:
    """``n`` time constants in ms (float32 ``[n]``) drawn from ``distribution`` with ``params``.

    ``generator`` (a ``torch.Generator``) makes the draw reproducible; the gamma draw is seeded from it.
    """
    if n <= 0:
        raise ParameterError(f"n must be positive, got {n}")
    p = _params(distribution, params)
    if distribution == "uniform":
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        tau = p["low_ms"] + (p["high_ms"] - p["low_ms"]) * u
    elif distribution == "lognormal":
        z = torch.randn(n, generator=generator, dtype=torch.float64)
        tau = torch.exp(math.log(p["median_ms"]) + p["sigma"] * z)
    else:
        # torch's gamma sampler takes no generator: seed numpy's from the torch generator instead.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
        tau = torch.from_numpy(gamma_tau_ms(n, p["shape"], p["mean_ms"], np.random.default_rng(seed)))
    return tau.to(torch.float32)


def init_tau_(module: torch.nn.Module, distribution: str = "gamma", generator: torch.Generator | None = None,
              attr: str = "tau", min_ms: float | None = None, **params) -> dict:
    """Draw per-neuron time constants into ``module.<attr>`` (a ``TimeConstant``) and record them.

    Draws below ``min_ms`` (default :func:`tau_floor_ms`, ``2 * dt_ms``) are raised to it;
    their number is recorded as ``n_clipped``. Returns the record, also stored as
    ``module.tau_distribution`` (``attr="tau"``) or ``module.<attr>_distribution``.
    """
    tc = getattr(module, attr, None)
    if tc is None or not hasattr(tc, "set_tau_ms"):
        raise ConfigError(f"{type(module).__name__} has no time constant {attr!r} to initialise")
    n = tc.tau_ms().shape[0]
    floor = tau_floor_ms(tc.dt_ms) if min_ms is None else float(min_ms)
    if floor <= tc.dt_ms:
        raise ParameterError(f"min_ms={floor} must exceed dt_ms={tc.dt_ms}")
    tau = sample_tau_ms(n, distribution, generator, **params)
    clipped = tau < floor
    tau = torch.where(clipped, torch.full_like(tau, floor), tau)
    tc.set_tau_ms(tau)
    record = {"distribution": distribution, **_params(distribution, params), "min_ms": floor,
              "n_clipped": int(clipped.sum()), "n": n, "sample_mean_ms": float(tau.mean()),
              "sample_std_ms": float(tau.std()) if n > 1 else 0.0}
    setattr(module, "tau_distribution" if attr == "tau" else f"{attr}_distribution", record)
    return record
