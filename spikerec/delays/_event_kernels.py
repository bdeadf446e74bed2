"""Event-driven CPU kernels for delayed linear maps on sparse (spike) inputs, compiled with numba.

Why hand-written: with binary inputs at ~10 % density a dense temporal convolution spends 90 % of
its multiply-adds on zeros, and no torch op gathers "all kernel rows of the inputs active in the
last K steps" without materialising the K-times unfolded input. These loops touch only the active
inputs. ``numba`` ships with spikerec's dependencies (tonic -> librosa -> numba); without it
``kernels`` falls back to dense torch ops.

The kernels are serial and release the GIL; ``kernels`` splits each call over torch's thread
count with a Python thread pool. (numba's own parallel backends spin up a second OpenMP runtime
next to torch's, and the two fight over the cores.)

Layouts (float32, C-contiguous): x [T, B, Cin]; ``kall`` [Cin, K, Cout] with ``kall[i, d, o]`` the
weight of input ``i`` delayed by ``d`` steps onto output ``o``; y, gy [T, B, Cout].
"""

from __future__ import annotations

import numpy as np
from numba import njit

TINY = 1e-30  # kernel entries smaller than this are left at zero (see build_kernel)


@njit(nogil=True, fastmath=True, cache=True)
def delayed_forward(x, kall, yb, start, stop):
    """yb[b, t + d, :] += x[t, b, i] * kall[i, d, :] for every active input x[t, b, i] != 0 and d < K,
    for batch elements start <= b < stop (yb overwritten).

    ``yb`` is batch-major [B, T, Cout]: a spike reads one contiguous [K, Cout] block of ``kall`` and
    updates one contiguous [K, Cout] window of ``yb``.
    """
    n_t, n_b, n_in = x.shape
    n_k, n_out = kall.shape[1], kall.shape[2]
    for b in range(start, stop):
        yb[b, :, :] = 0.0
        for t in range(n_t):
            dmax = min(n_k, n_t - t)
            for i in range(n_in):
                v = x[t, b, i]
                if v != 0.0:
                    ki = kall[i]
                    for d in range(dmax):
                        dst = yb[b, t + d]
                        src = ki[d]
                        for o in range(n_out):
                            dst[o] += v * src[o]


@njit(nogil=True, fastmath=True, cache=True)
def delayed_kernel_grad(x, gyb, gk, start, stop):
    """gk[i, d, :] = sum_{t, b} x[t, b, i] * gyb[b, t + d, :] over active inputs only (gk overwritten)
    for input channels start <= i < stop (split by channel so every thread owns its rows of gk).

    ``gyb`` is dL/dy batch-major [B, T, Cout]: the K rows a spike reaches are one contiguous block
    (time-major rows would sit B * Cout floats apart and collide in the same L1 cache sets).
    """
    n_t, n_b, n_in = x.shape
    n_k, n_out = gk.shape[1], gk.shape[2]
    for i in range(start, stop):
        gki = gk[i]
        gki[:, :] = 0.0
        for b in range(n_b):
            for t in range(n_t):
                v = x[t, b, i]
                if v != 0.0:
                    for d in range(min(n_k, n_t - t)):
                        src = gyb[b, t + d]
                        dst = gki[d]
                        for o in range(n_out):
                            dst[o] += v * src[o]


@njit(nogil=True, fastmath=True, cache=True)
def integer_forward(x, syn_ptr, syn_offset, syn_weight, n_reach, yb, start, stop):
    """Event-driven integer-delay product for batch elements start <= b < stop (yb zeroed by caller).

    ``yb`` is batch-major [B, T, Cout] so the K rows an input spike reaches are one contiguous block.
    Synapses of input ``i`` are ``syn_ptr[i] : syn_ptr[i + 1]``, sorted by delay; ``syn_offset`` is
    ``delay * Cout + out`` (flat distance from yb[b, t, 0] to yb[b, t + delay, out]) and
    ``n_reach[i, r]`` how many of input i's synapses have delay < r (r = 0 .. K), so an input active
    at step t only walks the synapses that land before T.
    """
    n_t, n_b, n_in = x.shape
    n_out = yb.shape[2]
    n_k = n_reach.shape[1] - 1
    for b in range(start, stop):
        flat = yb[b].reshape(-1)
        for t in range(n_t):
            base = t * n_out
            reach = min(n_k, n_t - t)
            for i in range(n_in):
                v = x[t, b, i]
                if v != 0.0:
                    first = syn_ptr[i]
                    for s in range(first, first + n_reach[i, reach]):
                        flat[base + syn_offset[s]] += v * syn_weight[s]


@njit(nogil=True, fastmath=True, cache=True)
def build_kernel(weight, positions, sigma, gauss, window, kall, start, stop):
    """kall[i, K-1-k, o] = sum_c W[o,i,c] g_k(P[o,i,c]) with DCLS's normalised interpolation.

    g_k = e_k / (sum_j e_j + 1e-7) over the ``window`` taps nearest the centre c = P + K//2;
    gauss: e_k = exp(-((k - c) / sigma)^2 / 2), linear: e_k = max(0, 1 - |k - c|). Fills (and first
    zeroes) kall[i] for input channels start <= i < stop.
    """
    n_out, n_in, n_c = weight.shape
    n_k = kall.shape[1]
    for i in range(start, stop):
        kall[i, :, :] = 0.0
        e = np.empty(window, np.float64)
        for o in range(n_out):
            for c in range(n_c):
                centre = positions[o, i, c] + n_k // 2
                k0 = _first_tap(centre, gauss, window, n_k)
                _taps(centre, k0, sigma, gauss, e)
                total = 0.0
                for j in range(window):
                    total += e[j]
                scale = weight[o, i, c] / (total + 1e-7)
                for j in range(window):
                    value = e[j] * scale
                    # below float32's normal range (~1e-38) values turn denormal, and every
                    # multiply-add with a denormal is ~100x slower; they change nothing, drop them
                    if abs(value) > TINY:
                        kall[i, n_k - 1 - (k0 + j), o] += value


@njit(nogil=True, fastmath=True, cache=True)
def build_kernel_grad(weight, positions, sigma, gauss, window, gkall, gw, gp, start, stop):
    """Gradients of ``build_kernel`` with respect to weight and positions (gw, gp overwritten).

    With u_k = k - c, e_k' = de_k/dc, S = sum e + 1e-7 and G_k = dL/dkall[i, K-1-k, o]:
    dL/dW = sum_k G_k e_k / S;  dL/dc = W (sum_k G_k e_k' / S - (sum_k G_k e_k)(sum_k e_k') / S^2),
    for input channels start <= i < stop.
    """
    n_out, n_in, n_c = weight.shape
    n_k = gkall.shape[1]
    for i in range(start, stop):
        e = np.empty(window, np.float64)
        for o in range(n_out):
            for c in range(n_c):
                centre = positions[o, i, c] + n_k // 2
                k0 = _first_tap(centre, gauss, window, n_k)
                _taps(centre, k0, sigma, gauss, e)
                total = 0.0
                ge = 0.0
                gde = 0.0
                de_sum = 0.0
                for j in range(window):
                    u = k0 + j - centre
                    ej = e[j]
                    dej = _tap_dc(u, ej, sigma, gauss)
                    gk = gkall[i, n_k - 1 - (k0 + j), o]
                    total += ej
                    ge += gk * ej
                    gde += gk * dej
                    de_sum += dej
                s = total + 1e-7
                gw[o, i, c] = ge / s
                gp[o, i, c] = weight[o, i, c] * (gde / s - ge * de_sum / (s * s))


@njit(inline="always")
def _first_tap(centre, gauss, window, n_k):
    if window >= n_k:
        return 0
    start = np.floor(centre) if not gauss else np.round(centre) - window // 2
    return int(min(max(start, 0.0), n_k - window))


@njit(inline="always")
def _taps(centre, k0, sigma, gauss, e):
    """e[j] = unnormalised weight of tap k0 + j (float64).

    Gaussian taps use exp(-(u+1)^2/2s^2) = exp(-u^2/2s^2) * exp(-(2u+1)/2s^2), whose second factor
    shrinks by exp(-1/s^2) per tap: four exp calls per position instead of one per tap, walking
    outwards from the tap nearest the centre so nothing underflows before it should.
    """
    window = e.shape[0]
    if not gauss:
        for j in range(window):
            e[j] = max(0.0, 1.0 - abs(k0 + j - centre))
        return
    inv = 1.0 / (2.0 * sigma * sigma)
    q = np.exp(-2.0 * inv)
    m = int(min(max(np.round(centre), k0), k0 + window - 1)) - k0
    u = k0 + m - centre
    e[m] = np.exp(-u * u * inv)
    r = np.exp(-(2.0 * u + 1.0) * inv)
    for j in range(m + 1, window):
        e[j] = e[j - 1] * r
        r *= q
    r = np.exp(-(1.0 - 2.0 * u) * inv)
    for j in range(m - 1, -1, -1):
        e[j] = e[j + 1] * r
        r *= q


@njit(inline="always")
def _tap_dc(u, e, sigma, gauss):
    """d e / d centre where u = k - centre."""
    if gauss:
        return e * u / (sigma * sigma)
    if abs(u) < 1.0 and u != 0.0:
        return 1.0 if u > 0 else -1.0
    return 0.0
