"""Periphery of a crossbar tile: binary word-line reads, IR drop, per-read noise and the column ADC.

A tile has ``R`` word lines (inputs, rows) and ``C`` bit lines (outputs, columns). One read applies a
binary pulse vector ``x`` (1 = spike on that word line) at unit read voltage; column ``c`` collects
``I_c = sum_r x_r g_cr`` (uS x V = uA). Everything here works on a batch of reads ``x [M, R]``.

IR-drop approximation (linear, first order in the wire resistance): the device at row position
``p_r`` and column position ``q_c`` (both in (0, 1], 1 = farthest from the driver / sense amplifier)
sees its read voltage lowered in proportion to the current its column carries::

    I'_c = sum_r x_r g_cr (1 - ir_drop * (p_r + q_c) / 2 * I_c / I_full),   I_full = R_tile * g_max

so ``ir_drop`` is the fractional attenuation of the farthest device when its column carries full-scale
current. It needs one extra matmul: ``I' = I - ir_drop * I / I_full * ((x * p) @ g^T + q * I) / 2``.

ADC: a mid-tread converter with ``2^bits - 1`` levels spanning ``[-range, range]`` (step
``2 range / (2^bits - 2)``, so 0 and +-range are exact levels); values beyond the range are clipped and
counted. For ``|y| <= range`` the quantisation error is at most half a step.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tile_positions", "column_currents", "read_noise", "adc_step", "adc_convert"]


def tile_positions(n: int, tile: int) -> np.ndarray:
    """Position in (0, 1] of each of ``n`` lines within its tile of size ``tile`` (1 = farthest)."""
    return (np.arange(n) % tile + 1) / float(tile)


def column_currents(x: np.ndarray, g_t: np.ndarray, row_pos: np.ndarray, col_pos: np.ndarray,
                    ir_drop: float, i_full: float) -> np.ndarray:
    """Column currents ``[M, C]`` for reads ``x [M, R]`` (dense or scipy sparse) of one tile's conductances
    ``g_t [R, C]`` (transposed: rows = word lines) with IR drop."""
    current = x @ g_t
    if ir_drop == 0:
        return current
    positional = x @ (row_pos[:, None] * g_t) + col_pos * current  # == (x * row_pos) @ g_t, also for sparse x
    return current - ir_drop * (current / i_full) * 0.5 * positional


def read_noise(x: np.ndarray, g_sq_t: np.ndarray, rel_std: float, rng: np.random.Generator) -> np.ndarray:
    """Per-read (cycle-to-cycle) noise on the column currents ``[M, C]``: every active device adds
    independent N(0, (rel_std * g)^2), so a column's noise is N(0, rel_std^2 * sum_r x_r g_rc^2) for binary x.
    ``g_sq_t [R, C]`` holds the summed squared conductances of the devices on each cross-point."""
    std = rel_std * np.sqrt(x @ g_sq_t)
    return std * rng.standard_normal(std.shape)


def adc_step(bits: int, full_range: float) -> float:
    """Quantisation step of the mid-tread ADC."""
    return 2.0 * full_range / (2 ** bits - 2)


def adc_convert(y: np.ndarray, bits: int | None, full_range: float) -> tuple[np.ndarray, int]:
    """Quantise ``y`` (any shape; overwritten in place) with the ADC; returns (converted values, number of
    clipped values). ``bits=None`` is an ideal converter (no quantisation, no clipping)."""
    if bits is None:
        return y, 0
    step = adc_step(bits, full_range)
    n_clipped = int(np.count_nonzero(np.abs(y) > full_range))
    y *= 1.0 / step
    np.rint(y, out=y)
    y *= step
    return np.clip(y, -full_range, full_range, out=y), n_clipped
