"""Map a weight matrix ``W [n_out, n_in]`` onto tiles of differential conductance pairs and read it.

Mapping (as aihwkit's single-pair conductance converter, plus a ``g_min`` offset)::

    w_max = max |W|,   dg = g_max - g_min
    G+ = g_min + dg * max(W, 0) / w_max,   G- = g_min + dg * max(-W, 0) / w_max

Inputs drive word lines (rows), outputs are column pairs; the matrix is cut into tiles of
``tile_rows x tile_cols``. Each tile converts its differential column current ``I+ - I-`` with its
own ADC (in units of ``w_max``, i.e. ``y = (I+ - I-) / dg``); the partial sums of the row tiles are
added digitally and scaled back by ``w_max`` (and by the drift-compensation gain). So a read returns
``y ~= W @ x`` in weight units, exactly so for the ideal preset.

Drift compensation (aihwkit's ``GlobalDriftCompensation`` idea): one digital gain per matrix,
``mean_c |sum_r (G+ - G-)_cr|`` right after programming divided by the same at inference time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from spikerec.errors import NonFiniteError, ShapeError
from spikerec.hardware.simulators.crossbar import periphery
from spikerec.hardware.simulators.crossbar.devices import (CrossbarConfig, drift_and_read_noise, drift_exponents, program,
                                                stuck_at_faults)

__all__ = ["MappedMatrix", "map_matrix", "target_conductances"]

_SPARSE_DENSITY = 0.15  # below this fraction of active word lines a sparse product beats a dense matmul
_SPARSE_MIN_READS = 64


def target_conductances(w: np.ndarray, cfg: CrossbarConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """(G+ target, G- target, w_max) for a dense weight matrix (see the module docstring)."""
    w_max = float(np.max(np.abs(w))) if w.size else 0.0
    if w_max == 0.0:
        w_max = 1.0  # an all-zero matrix: every device at g_min
    dg = cfg.g_max_us - cfg.g_min_us
    w_rel = w / w_max
    return cfg.g_min_us + dg * np.maximum(w_rel, 0.0), cfg.g_min_us + dg * np.maximum(-w_rel, 0.0), w_max


@dataclass
class MappedMatrix:
    """A matrix programmed onto crossbar tiles; ``read(x)`` is the analog matrix-vector product."""

    g_pos: np.ndarray  # [n_out, n_in] uS at inference time
    g_neg: np.ndarray
    w_max: float
    gain: float  # digital drift-compensation gain (1.0 when off)
    cfg: CrossbarConfig
    stuck: np.ndarray  # [2, n_out, n_in] int8 fault codes of (G+, G-): 0 ok, -1 at g_min, +1 at g_max
    rng: np.random.Generator  # stream for per-read noise

    @property
    def shape(self) -> tuple[int, int]:
        return self.g_pos.shape

    @property
    def n_tiles(self) -> int:
        n_out, n_in = self.shape
        return -(-n_in // self.cfg.tile_rows) * -(-n_out // self.cfg.tile_cols)

    def effective_weight(self) -> np.ndarray:
        """The weights the programmed devices represent, ``(G+ - G-) / dg * w_max * gain`` (no periphery)."""
        return (self.g_pos - self.g_neg) * (self.w_max * self.gain / (self.cfg.g_max_us - self.cfg.g_min_us))

    def __post_init__(self) -> None:
        # Contiguous per-row-tile blocks, transposed to [rows, n_out], so every read is one plain matmul;
        # without IR drop the pair's difference is read in one product.
        cfg = self.cfg
        n_out, n_in = self.shape
        self._row_pos = periphery.tile_positions(n_in, cfg.tile_rows)
        self._col_pos = periphery.tile_positions(n_out, cfg.tile_cols)
        self._blocks = []
        for start in range(0, n_in, cfg.tile_rows):
            rows = slice(start, start + cfg.tile_rows)
            gp, gn = self.g_pos[:, rows], self.g_neg[:, rows]
            block = {"rows": rows}
            if cfg.ir_drop == 0:
                block["diff"] = np.ascontiguousarray((gp - gn).T)
            else:
                block["pos"], block["neg"] = np.ascontiguousarray(gp.T), np.ascontiguousarray(gn.T)
            if cfg.read_noise_rel > 0:
                block["sq"] = np.ascontiguousarray((gp * gp + gn * gn).T)
            self._blocks.append(block)

    def read(self, x: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, int, int]:
        """Binary reads ``x [M, n_in]`` (0/1, dense or scipy sparse) -> (outputs ``[M, n_out]`` in weight
        units, clipped conversions, total conversions). Read noise is drawn from ``rng`` (default: this
        matrix's own stream)."""
        cfg = self.cfg
        n_out, n_in = self.shape
        if x.ndim != 2 or x.shape[1] != n_in:
            raise ShapeError(f"crossbar read: expected inputs [M, {n_in}], got {list(x.shape)}")
        if sp.issparse(x):
            x = sp.csr_array(x, dtype=np.float64)
        else:
            x = np.asarray(x, dtype=np.float64)
            if x.shape[0] >= _SPARSE_MIN_READS and np.count_nonzero(x) < _SPARSE_DENSITY * x.size:
                x = sp.csr_array(x)  # spikes are sparse: cost ~ active word lines x columns, not all lines
        i_full = cfg.tile_rows * cfg.g_max_us
        dg = cfg.g_max_us - cfg.g_min_us
        out = np.zeros((x.shape[0], n_out))
        clipped = 0
        for block in self._blocks:
            rows = block["rows"]
            xs = x[:, rows]
            if "diff" in block:
                current = xs @ block["diff"]
            else:
                row_pos = self._row_pos[rows]
                current = (periphery.column_currents(xs, block["pos"], row_pos, self._col_pos, cfg.ir_drop, i_full)
                           - periphery.column_currents(xs, block["neg"], row_pos, self._col_pos, cfg.ir_drop, i_full))
            if "sq" in block:
                current += periphery.read_noise(xs, block["sq"], cfg.read_noise_rel, rng or self.rng)
            # the ADC works in units of w_max (current / dg); its range and step are scaled instead of the data
            y, n_clip = periphery.adc_convert(current, cfg.adc_bits, cfg.adc_range * dg)
            clipped += n_clip
            out += y
        return out * (self.w_max * self.gain / dg), clipped, x.shape[0] * n_out * len(self._blocks)


def map_matrix(w, cfg: CrossbarConfig, seed: np.random.SeedSequence | int = 0) -> MappedMatrix:
    """Program ``w`` (dense or CSR ``[n_out, n_in]``) onto crossbar tiles with the device model of ``cfg``.

    Each random stage (programming, drift exponents, 1/f noise, faults, per-read noise) has its own
    child stream of ``seed``, so changing one parameter (say ``adc_bits``) keeps every other draw equal.
    """
    w = np.asarray(w.toarray() if sp.issparse(w) else w, dtype=np.float64)
    if w.ndim != 2:
        raise ShapeError(f"crossbar mapping: expected a 2-D weight matrix [n_out, n_in], got shape {list(w.shape)}")
    if not np.all(np.isfinite(w)):
        raise NonFiniteError("crossbar mapping: the weight matrix holds NaN/inf values")
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    prog_rng, drift_rng, noise_rng, fault_rng, read_rng = (np.random.default_rng(s) for s in seq.spawn(5))
    g_pos_t, g_neg_t, w_max = target_conductances(w, cfg)
    targets = np.stack([g_pos_t, g_neg_t])
    g_prog = program(targets, cfg, prog_rng)
    nu = drift_exponents(targets, cfg, drift_rng)
    g_t = drift_and_read_noise(g_prog, nu, cfg, noise_rng)
    g_t, stuck = stuck_at_faults(g_t, cfg, fault_rng)
    gain = 1.0
    if cfg.drift_compensation and cfg.t_inference_s > 0:
        g_prog_faulty = np.where(stuck == 0, g_prog, g_t)
        before = np.abs((g_prog_faulty[0] - g_prog_faulty[1]).sum(axis=1)).mean()
        after = np.abs((g_t[0] - g_t[1]).sum(axis=1)).mean()
        gain = float(before / after) if after > 0 else 1.0
    return MappedMatrix(g_pos=g_t[0], g_neg=g_t[1], w_max=w_max, gain=gain, cfg=cfg, stuck=stuck, rng=read_rng)
