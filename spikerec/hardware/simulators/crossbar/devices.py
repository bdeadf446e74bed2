"""Device model of a memristive crossbar: configuration, presets (plain data with their sources), and
the conductance pipeline target -> levels -> programming noise -> drift + 1/f read noise -> stuck-at faults.

Conductances are in microsiemens (uS), times in seconds. Every random draw comes from the numpy
``Generator`` passed in, so a seed fixes the whole simulation.

Equations (``g`` a device conductance, ``g_rel = g / g_max``)::

    levels L      : g <- g_min + round((g - g_min) / step) * step,  step = (g_max - g_min) / (L - 1)
    programming   : g_prog = max(0, g + s_p * sigma_p(g) * N(0,1)),
                    sigma_p(g) = (g_max / g_ref) * sum_k c_k g_rel^k                      [uS]
    drift         : g_drift = g_prog * ((t + t0) / t0) ^ (-nu),   nu ~ |N(mu_nu(g), sd_nu(g))| * s_d
                    mu_nu = clip(a ln g_rel + b, lo, hi), sd_nu likewise (per-device spread)
    1/f read noise: g(t) = max(0, g_drift + s_r |g_drift| q(g_prog) sqrt(ln((t + t0 + t_read) / (2 t_read))) N(0,1)),
                    q = min(c / max(g_rel^e, 1e-3), q_max)
    stuck-at      : with probability p_stuck_min a device sits at g_min, with p_stuck_max at g_max
                    (independent of its target; it neither drifts nor is noisy)

``t`` is ``t_inference_s``, the time since programming finished (aihwkit's convention: drift is
counted from ``t0`` after programming). The PCM constants are those of IBM aihwkit's
``PCMLikeNoiseModel`` (Nandakumar et al., ICECS 2019). Per-read (cycle-to-cycle) noise and the
periphery (ADC, IR drop) are applied when the crossbar is read, see :mod:`.periphery`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikerec.errors import ConfigError

__all__ = ["CrossbarConfig", "PRESETS", "PRESET_SOURCES", "get_config", "sweepable_parameters",
           "quantize_levels", "programming_noise_std", "program", "drift_exponents", "drift_and_read_noise",
           "stuck_at_faults", "device_conductances"]


@dataclass(frozen=True)
class CrossbarConfig:
    """All device and periphery parameters of a crossbar simulation (one flat namespace, so that every
    field can be overridden or swept by name). Conductances in uS, times in seconds."""

    name: str = "custom"
    source: str = ""
    # array geometry
    tile_rows: int = 256  # word lines (inputs) per tile
    tile_cols: int = 256  # differential column pairs (outputs) per tile
    # device conductance range and programming resolution
    g_min_us: float = 0.0
    g_max_us: float = 25.0
    levels: int | None = None  # programmable conductance levels per device; None = continuous
    # programming noise sigma_p(g) = (g_max / g_ref) * sum_k c_k (g/g_max)^k  [uS]
    prog_noise_coeffs_us: tuple[float, ...] = ()
    prog_noise_g_ref_us: float = 25.0
    prog_noise_scale: float = 1.0
    # drift exponent nu: mean and spread, each clip(a*ln(g/g_max) + b, lo, hi)
    drift_nu_mean: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    drift_nu_std: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    drift_scale: float = 1.0
    t0_s: float = 20.0
    t_inference_s: float = 0.0
    drift_compensation: bool = True  # one digital gain per matrix undoing the mean drift (aihwkit's global one)
    # accumulated 1/f read noise (c, e, q_max), None = off; per-read cycle-to-cycle noise (fraction of |g|)
    read_noise_1f: tuple[float, float, float] | None = None
    t_read_s: float = 250e-9
    read_noise_scale: float = 1.0
    read_noise_rel: float = 0.0
    # stuck-at faults (probabilities per device)
    p_stuck_min: float = 0.0
    p_stuck_max: float = 0.0
    # periphery: ADC on every column pair (None = ideal), range in units of the matrix's max |weight|
    adc_bits: int | None = None
    adc_range: float = 8.0
    # IR drop: fractional attenuation at the far corner of a tile when its column carries full-scale current
    ir_drop: float = 0.0

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ConfigError(f"crossbar config {self.name!r}: {msg}")

        if self.tile_rows < 1 or self.tile_cols < 1:
            bad(f"tile_rows and tile_cols must be >= 1, got {self.tile_rows} x {self.tile_cols}")
        if not (0.0 <= self.g_min_us < self.g_max_us) or not math.isfinite(self.g_max_us):
            bad(f"need 0 <= g_min_us < g_max_us, got g_min_us={self.g_min_us}, g_max_us={self.g_max_us}")
        if self.levels is not None and self.levels < 2:
            bad(f"levels must be >= 2 or None (continuous), got {self.levels}")
        for name in ("prog_noise_scale", "drift_scale", "read_noise_scale", "read_noise_rel", "ir_drop",
                     "t_inference_s", "t0_s", "t_read_s", "prog_noise_g_ref_us"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                bad(f"{name} must be a finite number >= 0, got {value}")
        if self.t0_s <= 0 or self.t_read_s <= 0:
            bad("t0_s and t_read_s must be > 0")
        if self.ir_drop >= 1:
            bad(f"ir_drop must lie in [0, 1), got {self.ir_drop}")
        for name in ("p_stuck_min", "p_stuck_max"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                bad(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.p_stuck_min + self.p_stuck_max > 1:
            bad(f"p_stuck_min + p_stuck_max must be <= 1, got {self.p_stuck_min + self.p_stuck_max}")
        if self.adc_bits is not None and not 2 <= self.adc_bits <= 24:
            bad(f"adc_bits must be in 2..24 or None (ideal ADC), got {self.adc_bits}")
        if not (math.isfinite(self.adc_range) and self.adc_range > 0):
            bad(f"adc_range must be a finite number > 0, got {self.adc_range}")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Presets are data: each is a dict of CrossbarConfig fields, including where the numbers come from.
PRESET_SOURCES = {
    "pcm": "IBM aihwkit PCMLikeNoiseModel (aihwkit/inference/noise/pcm.py), fitted on ~1M PCM devices: "
           "S. R. Nandakumar et al., 'Phase-change memory models for deep learning training and inference', "
           "ICECS 2019; programming-noise polynomial, drift-exponent and 1/f constants as in aihwkit; "
           "g_max = 25 uS single-pair conductance converter (g_min = 0).",
    "rram": "IBM aihwkit ReRamWan2022NoiseModel (aihwkit/inference/noise/reram.py): 4th-order polynomial fit of "
            "the programming error vs conductance of the NeuRRAM chip, W. Wan et al., 'A compute-in-memory chip "
            "based on resistive random-access memory', Nature 608, 504 (2022), g_max = 40 uS; no power-law drift; "
            "short-term read noise ~1 % of g per read as aihwkit recommends for this model.",
    "ideal": "No non-idealities: continuous conductances, no noise, drift, faults, IR drop or ADC quantisation.",
}

PRESETS: dict[str, dict[str, Any]] = {
    "pcm": dict(
        name="pcm", source=PRESET_SOURCES["pcm"], g_min_us=0.0, g_max_us=25.0, levels=None,
        prog_noise_coeffs_us=(0.26348, 1.9650, -1.1731), prog_noise_g_ref_us=25.0,
        drift_nu_mean=(-0.0155, 0.0244, 0.049, 0.1), drift_nu_std=(-0.0125, -0.0059, 0.008, 0.045),
        t0_s=20.0, read_noise_1f=(0.0088, 0.65, 0.2), t_read_s=250e-9, read_noise_rel=0.0,
        adc_bits=8, adc_range=8.0,
    ),
    "rram": dict(
        name="rram", source=PRESET_SOURCES["rram"], g_min_us=0.0, g_max_us=40.0, levels=None,
        prog_noise_coeffs_us=(0.348, 16.030, -43.853, 45.393, -16.815), prog_noise_g_ref_us=40.0,
        read_noise_1f=None, read_noise_rel=0.01, adc_bits=8, adc_range=8.0,
    ),
    "ideal": dict(name="ideal", source=PRESET_SOURCES["ideal"], g_min_us=0.0, g_max_us=25.0),
}


def sweepable_parameters() -> list[str]:
    """Numeric fields that ``--sweep`` and overrides accept."""
    return [f.name for f in dataclasses.fields(CrossbarConfig)
            if f.name not in ("name", "source", "prog_noise_coeffs_us", "drift_nu_mean", "drift_nu_std",
                              "read_noise_1f")]


def get_config(preset: str | CrossbarConfig = "pcm", **overrides: Any) -> CrossbarConfig:
    """A preset by name (or a config) with ``overrides`` applied; unknown names raise ``ConfigError``."""
    if isinstance(preset, CrossbarConfig):
        base = preset.as_dict()
    elif preset in PRESETS:
        base = dict(PRESETS[preset])
    else:
        raise ConfigError(f"unknown crossbar device preset {preset!r}; choose one of {sorted(PRESETS)}")
    known = {f.name for f in dataclasses.fields(CrossbarConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown crossbar parameter(s) {unknown}; valid: {sorted(known)}")
    base.update(overrides)
    return CrossbarConfig(**base)


# -- device physics (pure functions) -----------------------------------------------------------------

def quantize_levels(g: np.ndarray, cfg: CrossbarConfig) -> np.ndarray:
    """Round target conductances onto ``cfg.levels`` equally spaced levels in [g_min, g_max]."""
    if cfg.levels is None:
        return g
    step = (cfg.g_max_us - cfg.g_min_us) / (cfg.levels - 1)
    return cfg.g_min_us + np.round((g - cfg.g_min_us) / step) * step


def programming_noise_std(g: np.ndarray, cfg: CrossbarConfig) -> np.ndarray:
    """sigma_p(g) in uS: the polynomial in g/g_max, rescaled from the fit's g_ref to this g_max."""
    g_rel = np.asarray(g, dtype=np.float64) / cfg.g_max_us
    sigma = np.zeros_like(g_rel)
    for k, c in enumerate(cfg.prog_noise_coeffs_us):
        sigma += c * g_rel ** k
    return np.maximum(sigma, 0.0) * (cfg.g_max_us / cfg.prog_noise_g_ref_us)


def program(g_target: np.ndarray, cfg: CrossbarConfig, rng: np.random.Generator) -> np.ndarray:
    """Conductances right after programming: level rounding, then conductance-dependent Gaussian noise."""
    g = quantize_levels(np.asarray(g_target, dtype=np.float64), cfg)
    if cfg.prog_noise_scale == 0 or not cfg.prog_noise_coeffs_us:
        return g
    noisy = g + cfg.prog_noise_scale * programming_noise_std(g, cfg) * rng.standard_normal(g.shape)
    return np.maximum(noisy, 0.0)  # a conductance cannot be negative


def _clipped_log_fit(params: tuple[float, float, float, float], g_rel: np.ndarray) -> np.ndarray:
    a, b, lo, hi = params
    return np.clip(a * np.log(np.maximum(g_rel, 1e-7)) + b, lo, hi)


def drift_exponents(g_target: np.ndarray, cfg: CrossbarConfig, rng: np.random.Generator) -> np.ndarray:
    """Per-device drift exponents nu >= 0 (mean and spread depend on the target conductance)."""
    g_rel = np.abs(np.asarray(g_target, dtype=np.float64)) / cfg.g_max_us
    mean = _clipped_log_fit(cfg.drift_nu_mean, g_rel)
    std = _clipped_log_fit(cfg.drift_nu_std, g_rel)
    if not np.any(std):
        return np.abs(mean) * cfg.drift_scale
    return np.abs(mean + std * rng.standard_normal(g_rel.shape)) * cfg.drift_scale


def drift_and_read_noise(g_prog: np.ndarray, nu: np.ndarray, cfg: CrossbarConfig,
                         rng: np.random.Generator) -> np.ndarray:
    """Conductance at ``cfg.t_inference_s`` after programming: power-law drift plus accumulated 1/f noise."""
    t = cfg.t_inference_s + cfg.t0_s
    g = g_prog * (t / cfg.t0_s) ** (-nu) if cfg.t_inference_s > 0 else g_prog.copy()
    if cfg.read_noise_1f is not None and cfg.read_noise_scale > 0:
        c, e, q_max = cfg.read_noise_1f
        q = np.minimum(c / np.maximum((np.abs(g_prog) / cfg.g_max_us) ** e, 1e-3), q_max)
        sigma = q * math.sqrt(math.log((t + cfg.t_read_s) / (2 * cfg.t_read_s)))
        g = g + np.abs(g) * cfg.read_noise_scale * sigma * rng.standard_normal(g.shape)
    return np.maximum(g, 0.0)


def stuck_at_faults(g: np.ndarray, cfg: CrossbarConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Replace faulty devices: returns (conductances, code) with code 0 = healthy, -1 = stuck at g_min,
    +1 = stuck at g_max."""
    code = np.zeros(g.shape, dtype=np.int8)
    if cfg.p_stuck_min == 0 and cfg.p_stuck_max == 0:
        return g, code
    u = rng.random(g.shape)
    code[u < cfg.p_stuck_min] = -1
    code[(u >= cfg.p_stuck_min) & (u < cfg.p_stuck_min + cfg.p_stuck_max)] = 1
    out = np.where(code == -1, cfg.g_min_us, np.where(code == 1, cfg.g_max_us, g))
    return out, code


def device_conductances(g_target: np.ndarray, cfg: CrossbarConfig, rng: np.random.Generator) -> np.ndarray:
    """The whole device pipeline for an array of target conductances: program, drift + 1/f, faults."""
    g_prog = program(g_target, cfg, rng)
    nu = drift_exponents(g_target, cfg, rng)
    g = drift_and_read_noise(g_prog, nu, cfg, rng)
    return stuck_at_faults(g, cfg, rng)[0]
