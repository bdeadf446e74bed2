"""Pure functions for per-synapse delays (DCLS convention).

Every synapse ``(o, i)`` owns ``kernel_count`` taps, each with a weight ``W[o, i, c]`` and a
real-valued position ``P[o, i, c]`` (centred, in time steps, as ``Dcls1d.P``). A temporal kernel
of ``K = kernel_size`` taps is built by spreading each weight over the taps with a normalised
interpolation function centred at ``P + K // 2``:

    gauss:  g_k = exp(-((k - P - K//2) / s)^2 / 2) / (sum_k' exp(...) + 1e-7),  s = |sigma| + 0.27
    linear: g_k = relu(1 - |k - P - K//2|) / (sum_k' relu(...) + 1e-7)
    kernel[o, i, k] = sum_c W[o, i, c] * g_k[o, i, c]

and applied causally: ``y[t] = sum_k kernel[:, :, k] @ x[t - (K - 1 - k)]``, i.e. tap ``k`` is a
delay of ``K - 1 - k`` steps (the SNN-delays code pads ``K - 1`` zeros on the left).
The constants 0.27 and 1e-7 are the ones ``DCLS`` uses, so results match ``Dcls1d`` exactly.
"""

from __future__ import annotations

import functools
import math

import torch

from spikerec.delays import kernels

SIGMA_OFFSET = 0.27  # DCLS adds this to |SIG|: the Gaussian never gets narrower than 0.27 steps
NORM_EPS = 1e-7  # DCLS normalisation guard
INTERPOLATIONS = ("gauss", "linear")
# Gaussian taps further than this many standard deviations from the centre weigh < exp(-7^2/2) ~ 2e-11
# relative to the centre; dropping them changes nothing at float32 precision.
TRUNCATE_SIGMAS = 7.0
# A delay basis must reproduce every kernel profile to this fraction of its largest tap (far below
# float32 resolution, so the low-rank input gradient differs from the dense one only by rounding).
BASIS_TOL = 1e-8
BASIS_SAMPLES_PER_STEP = 32  # positions per step at which the basis is fitted and checked
MAX_BASIS_RANK = 16  # the compiled temporal filter holds at most this many outputs in registers


def kernel_size(max_delay_ms: float, dt_ms: float) -> int:
    """Number of kernel taps ``K = round(max_delay_ms / dt_ms)``; delays span 0 .. K-1 steps."""
    return int(round(max_delay_ms / dt_ms))


def position_limits(kernel_size: int) -> tuple[int, int]:
    """Inclusive range of positions whose centre lies on a kernel tap (delay 0 .. K-1 steps).

    For odd K this is ``[-K//2, K//2]``, exactly the ``Dcls1d.clamp_parameters`` range.
    """
    return -(kernel_size // 2), kernel_size - 1 - kernel_size // 2


def delays_from_positions(positions: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Continuous delays in steps, ``K - 1 - (P + K//2)``, same shape as ``positions``."""
    return (kernel_size - 1 - kernel_size // 2) - positions


def rounded_delays(positions: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Integer delays in steps (LongTensor): positions rounded half-to-even like ``P.round_()``."""
    return ((kernel_size - 1 - kernel_size // 2) - torch.round(positions.detach())).long()


def effective_sigma(sigma: float) -> float:
    """Standard deviation in steps of the Gaussian for a DCLS-style ``SIG`` value."""
    return abs(float(sigma)) + SIGMA_OFFSET


def tap_window(sigma: float, kernel_size: int, interpolation: str) -> int:
    """Number of taps around each position that carry non-negligible weight (<= K).

    Linear interpolation touches 2 taps; a Gaussian ``TRUNCATE_SIGMAS`` standard deviations on
    each side of its (rounded) centre.
    """
    if interpolation == "linear":
        return min(kernel_size, 2)
    radius = math.ceil(TRUNCATE_SIGMAS * effective_sigma(sigma))
    return min(kernel_size, 2 * radius + 1)


def tap_weights(positions: torch.Tensor, sigma: float, kernel_size: int, interpolation: str = "gauss",
                window: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised interpolation weights of each position over a window of taps.

    positions: [..., ] centred positions in steps. Returns ``(first_tap, g)`` with ``first_tap``
    (LongTensor, shape of ``positions``) the kernel index of the window's first tap and ``g``
    ([..., window]) the weights of taps ``first_tap + j``. ``window=None`` (or >= K) gives all K
    taps, which is DCLS's construction verbatim; a smaller window drops only taps whose weight
    underflows (see ``tap_window``). Differentiable with respect to ``positions``.
    """
    window = kernel_size if window is None else min(window, kernel_size)
    centre = positions + kernel_size // 2
    if window >= kernel_size:
        first = torch.zeros(positions.shape, dtype=torch.long, device=positions.device)
    else:
        # linear: the two taps around the centre; gauss: a window centred on the nearest tap
        start = centre.detach().floor() if interpolation == "linear" else torch.round(centre.detach()) - window // 2
        first = start.clamp(0, kernel_size - window).long()
    taps = first.unsqueeze(-1) + torch.arange(window, device=positions.device)
    dist = taps.to(positions.dtype) - centre.unsqueeze(-1)
    if interpolation == "gauss":
        g = torch.exp(-0.5 * (dist / effective_sigma(sigma)) ** 2)
    elif interpolation == "linear":
        g = torch.relu(1.0 - dist.abs())
    else:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    return first, g / (g.sum(-1, keepdim=True) + NORM_EPS)


def dense_kernel(weight: torch.Tensor, positions: torch.Tensor, sigma: float, kernel_size: int,
                 interpolation: str = "gauss") -> torch.Tensor:
    """Dense delay kernel [Cout, Cin, K] (tap order of ``Dcls1d``) from weight/positions [Cout, Cin, kc]."""
    _, g = tap_weights(positions, sigma, kernel_size, interpolation)
    return (weight.unsqueeze(-1) * g).sum(2)


def banded_kernel(weight: torch.Tensor, positions: torch.Tensor, sigma: float, kernel_size: int,
                  interpolation: str = "gauss") -> torch.Tensor:
    """Same kernel as ``dense_kernel`` but built only from the taps within ``tap_window`` of each
    position and scattered into the dense [Cout, Cin, K] layout (cheaper when sigma is small)."""
    window = tap_window(sigma, kernel_size, interpolation)
    if window >= kernel_size:
        return dense_kernel(weight, positions, sigma, kernel_size, interpolation)
    first, g = tap_weights(positions, sigma, kernel_size, interpolation, window)
    taps = first.unsqueeze(-1) + torch.arange(window, device=weight.device)
    contrib = (weight.unsqueeze(-1) * g).flatten(2)  # [Cout, Cin, kc * window]
    kernel = weight.new_zeros(weight.shape[0], weight.shape[1], kernel_size)
    return kernel.scatter_add(2, taps.flatten(2), contrib)


@functools.lru_cache(maxsize=16)
def temporal_basis(sigma: float, kernel_size: int, interpolation: str = "gauss") -> torch.Tensor | None:
    """Orthonormal delay basis V [K, r] (float64, delay order d = K - 1 - tap) of all kernel profiles, or None.

    Every delay kernel is a weighted sum of normalised interpolation profiles, one per position; a
    wide Gaussian is smooth, so all profiles (positions in ``position_limits``, sampled
    ``BASIS_SAMPLES_PER_STEP`` per step) lie within ``BASIS_TOL`` of an r-dimensional subspace (r = 7
    of K = 25 at the initial sigma 12). Then ``kall[i, d, o] = sum_r A[i, o, r] V[d, r]`` and the
    input gradient costs r/K of the dense one. Returns None when r exceeds ``K // 2`` or
    ``MAX_BASIS_RANK`` (narrow Gaussians, linear interpolation: no saving).
    """
    lo, hi = position_limits(kernel_size)
    grid = torch.linspace(lo, hi, (hi - lo) * BASIS_SAMPLES_PER_STEP + 1, dtype=torch.float64).view(-1, 1, 1)
    profiles = banded_kernel(torch.ones_like(grid), grid, sigma, kernel_size, interpolation)[:, 0].flip(-1)
    _, _, vh = torch.linalg.svd(profiles, full_matrices=False)
    scale = profiles.abs().max()
    for rank in range(1, min(kernel_size // 2, MAX_BASIS_RANK) + 1):
        v = vh[:rank].t()
        if (profiles - profiles @ v @ v.t()).abs().max() <= BASIS_TOL * scale:
            return v
    return None


def all_finite(t: torch.Tensor) -> bool:
    """True when ``t`` holds no NaN/inf (one reduction: min and max are finite exactly then)."""
    lo, hi = torch.aminmax(t.detach())
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


def positions_in_range(positions: torch.Tensor, kernel_size: int) -> bool:
    """True when every position lies in ``position_limits`` (where ``temporal_basis`` is fitted)."""
    lo, hi = position_limits(kernel_size)
    pmin, pmax = torch.aminmax(positions.detach())
    return bool((pmin >= lo) & (pmax <= hi))


def delay_kernel(weight: torch.Tensor, positions: torch.Tensor, sigma: float, kernel_size: int,
                 interpolation: str = "gauss") -> tuple[torch.Tensor, torch.Tensor | None]:
    """The delay-major kernel ``kall`` [Cin, K, Cout] of weight/positions [Cout, Cin, kc] (differentiable) and its
    delay basis [K, r] for the low-rank input gradient (None: compiled path unavailable or no saving)."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    window = tap_window(sigma, kernel_size, interpolation)
    basis = None  # delay basis for the low-rank input gradient (compiled path only; fitted inside position_limits)
    if kernels.compiled_available(weight, positions):
        kall = kernels.build_kernel(weight, positions, effective_sigma(sigma), interpolation == "gauss", window,
                                    kernel_size)
        if positions_in_range(positions, kernel_size):
            basis = temporal_basis(float(sigma), kernel_size, interpolation)
    else:
        kall = banded_kernel(weight, positions, sigma, kernel_size, interpolation).flip(-1).permute(1, 2, 0)
    return kall, basis


def delayed_linear(x: torch.Tensor, weight: torch.Tensor, positions: torch.Tensor, sigma: float,
                   kernel_size: int, interpolation: str = "gauss", bias: torch.Tensor | None = None) -> torch.Tensor:
    """Causal delayed linear map: x [T, B, Cin] -> y [T, B, Cout] with interpolated delays."""
    kall, basis = delay_kernel(weight, positions, sigma, kernel_size, interpolation)
    y = kernels.delayed_matmul(x, kall, basis)
    return y if bias is None else y + bias


def integer_delayed_linear(x: torch.Tensor, weight: torch.Tensor, delays: torch.Tensor, kernel_size: int,
                           bias: torch.Tensor | None = None) -> torch.Tensor:
    """Causal linear map with integer delays: ``y[t, b, o] = sum_{i,c} W[o,i,c] x[t - D[o,i,c], b, i]``.

    x [T, B, Cin]; weight and delays [Cout, Cin, kc]; delays in steps, each in [0, kernel_size-1].
    Differentiable with respect to ``x`` and ``weight``.
    """
    y = kernels.integer_delayed_matmul(x, weight, delays, kernel_size)
    return y if bias is None else y + bias
