"""The SHD-style cochlea: a waveform in, spike events (times, units) in the official SHD layout out.

Pipeline (each stage in its own module; every constant's source is in that module or below):

    waveform --resample--> level (dB SPL) --ramp--> gammatone bank (ERB-spaced places, :mod:`.gammatone`)
      --> per place, ``fibres_per_place`` threshold classes --> inner hair cell + synapse (Meddis)
      --> ``anf_per_unit`` auditory-nerve fibres --> one bushy cell = one output unit (:mod:`.periphery`)

This follows the structure of the Lauscher model that produced SHD and SSC (Cramer et al. 2022, IEEE
TNNLS 33, 2744-2757: basilar membrane, Meddis hair cells, 40 fibres converging on each of 700 bushy
cells), with two deliberate differences: a gammatone filter bank on the ERB scale instead of the
hydrodynamic basilar-membrane model of Sieroka, Dosch & Rupp (2006), and ``fibres_per_place``
threshold classes per place. Auditory-nerve fibres of one place differ in threshold by several tens of
dB (Liberman 1978, JASA 63, 442-455: high-, medium- and low-spontaneous-rate fibres span about 0-60 dB
above the best threshold); here class k sees the place's drive attenuated by ``k * threshold_step_db``,
so loud sounds recruit more units per place (a rate code for level that survives saturation of the
most sensitive fibres).

Unit layout: ``unit = place * fibres_per_place + k``. Places run from the cochlear base (highest
centre frequency) at unit 0 to the apex, as in SHD's model (``unit0_at_base=False`` reverses it), so
pooling ``fibres_per_place`` adjacent units (the recipes' ``pool = 5``) sums one place's classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import gcd

import numpy as np
import scipy.signal

from spikerec.datasets.audio.erb import erb_space
from spikerec.datasets.audio.gammatone import GammatoneBank
from spikerec.datasets.audio.periphery import MeddisParams, PeripheryState, periphery_block
from spikerec.datasets.readers import N_CHANNELS
from spikerec.errors import ConfigError, ShapeError

BLOCK_SAMPLES = 8192  # samples per block: bounds memory at about U * 8192 * 5 bytes whatever the signal length


@dataclass(frozen=True)
class CochleaConfig:
    """Every constant of the front end. Times in ms, frequencies in Hz, levels in dB.

    - ``n_units``: output units (SHD: 700); must be a multiple of ``fibres_per_place``.
    - ``sample_rate_hz``: internal rate; input is resampled to it (16 kHz: the speech band up to 8 kHz).
    - ``f_min_hz``, ``f_max_hz``: centre frequencies of the outermost places, ERB-spaced in between; 50 Hz
      lies below any voice's fundamental, 7 kHz is the highest best frequency of SHD's model
      (Lauscher's basilar membrane: resonance sqrt(c0 / m) / 2 pi = 7.1 kHz at the base).
    - ``level_db_spl``: every recording is scaled to this RMS level (1 unit = 20 uPa). 65 dB SPL is
      conversational speech at 1 m (ANSI S3.5-1997 gives 62.35 dB for "normal" vocal effort; Pearsons
      et al. 1977 about 55-65 dB). Lauscher likewise normalises every recording's RMS.
    - ``silence_floor_dbfs``: recordings quieter than this (RMS re full scale 1.0) are scaled as if they
      were this loud, so silence and faint noise stay quiet instead of being amplified to speech level.
    - ``ramp_ms``: raised-cosine on/off ramp, so the cut at the file edges is not a click that excites
      every place (5 ms is a common onset ramp in psychoacoustics; Lauscher windows the whole waveform).
    - ``fibres_per_place``, ``threshold_step_db``: threshold classes per place, ``step`` dB apart
      (5 classes x 10 dB span 40 dB: Liberman 1978's threshold spread of fibres at one place).
    - ``anf_per_unit``, ``anf_refractory_ms``: fibres converging on one bushy cell and their dead time
      (40 and 1 ms: Lauscher's ``n_convergence`` and ``tau_refrac``).
    - ``bushy_*``: the bushy cell (tau_mem 1 ms, tau_syn 0.5 ms, refractory 1 ms, summed weight 13000/s:
      Lauscher's ``BushyCell`` defaults; threshold 1, reset 0).
    - ``unit0_at_base``: unit 0 is the highest-frequency place (SHD's order).
    """

    n_units: int = N_CHANNELS
    fibres_per_place: int = 5
    sample_rate_hz: float = 16000.0
    f_min_hz: float = 50.0
    f_max_hz: float = 7000.0
    level_db_spl: float = 65.0
    silence_floor_dbfs: float = -60.0
    ramp_ms: float = 5.0
    threshold_step_db: float = 10.0
    anf_per_unit: int = 40
    anf_refractory_ms: float = 1.0
    bushy_tau_mem_ms: float = 1.0
    bushy_tau_syn_ms: float = 0.5
    bushy_refractory_ms: float = 1.0
    bushy_weight: float = 13000.0
    unit0_at_base: bool = True
    meddis: MeddisParams = field(default_factory=MeddisParams)

    def __post_init__(self):
        if not 1 <= self.n_units <= 2 ** 16 or self.fibres_per_place < 1 or self.n_units % self.fibres_per_place:
            raise ConfigError(f"n_units ({self.n_units}) must be a multiple of fibres_per_place "
                              f"({self.fibres_per_place}) in [1, 65536] (units are stored as uint16)")
        if not 0 < self.f_min_hz < self.f_max_hz < self.sample_rate_hz / 2:
            raise ConfigError(f"need 0 < f_min_hz ({self.f_min_hz}) < f_max_hz ({self.f_max_hz}) < "
                              f"sample_rate_hz / 2 ({self.sample_rate_hz / 2})")
        if self.anf_per_unit < 1:
            raise ConfigError(f"anf_per_unit must be >= 1, got {self.anf_per_unit}")
        for name in ("ramp_ms", "threshold_step_db", "anf_refractory_ms", "bushy_refractory_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("bushy_tau_mem_ms", "bushy_tau_syn_ms", "bushy_weight"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        self.meddis.check_sample_rate(self.sample_rate_hz)

    @property
    def n_places(self) -> int:
        return self.n_units // self.fibres_per_place

    def to_dict(self) -> dict:
        return asdict(self)


class Cochlea:
    """The front end for one configuration; ``encode(waveform, sample_rate_hz, seed)`` -> events.

    ``place_cf_hz`` [n_places] and ``unit_cf_hz`` [n_units] give each place's and unit's centre frequency;
    ``unit_threshold_db`` [n_units] each unit's threshold offset (dB above its place's most sensitive class).
    """

    def __init__(self, config: CochleaConfig | None = None):
        self.config = cfg = config or CochleaConfig()
        cf = erb_space(cfg.f_min_hz, cfg.f_max_hz, cfg.n_places)
        self.place_cf_hz = cf[::-1].copy() if cfg.unit0_at_base else cf
        self.bank = GammatoneBank(self.place_cf_hz, cfg.sample_rate_hz)
        k = np.arange(cfg.fibres_per_place)
        self.class_gain = (10.0 ** (-k * cfg.threshold_step_db / 20.0)).astype(np.float64)
        self.unit_cf_hz = np.repeat(self.place_cf_hz, cfg.fibres_per_place)
        self.unit_threshold_db = np.tile(k * cfg.threshold_step_db, cfg.n_places)
        fs = cfg.sample_rate_hz
        self._dt = 1.0 / fs
        self._ring_len = max(int(round(cfg.anf_refractory_ms * 1e-3 * fs)) - 1, 0)
        self._bushy_refr = int(round(cfg.bushy_refractory_ms * 1e-3 * fs))
        self._a_mem = float(np.exp(-self._dt / (cfg.bushy_tau_mem_ms * 1e-3)))
        self._a_syn = float(np.exp(-self._dt / (cfg.bushy_tau_syn_ms * 1e-3)))
        m = cfg.meddis
        self._mp = (m.A, m.B, m.g, m.y, m.l, m.r, m.x, m.M, m.h)

    # -- waveform conditioning -------------------------------------------------------------------
    def prepare(self, waveform: np.ndarray, sample_rate_hz: float) -> np.ndarray:
        """Resample to the internal rate, scale to ``level_db_spl`` (20 uPa units), ramp the edges."""
        cfg = self.config
        x = np.asarray(waveform, dtype=np.float64)
        if x.ndim != 1:
            raise ShapeError(f"encode takes a mono waveform [N], got shape {x.shape} (mix channels down first)")
        if not np.all(np.isfinite(x)):
            raise ConfigError("waveform contains NaN or infinite samples")
        x = resample(x, sample_rate_hz, cfg.sample_rate_hz)
        rms = float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0
        floor = 10.0 ** (cfg.silence_floor_dbfs / 20.0)
        x = x * (10.0 ** (cfg.level_db_spl / 20.0) / max(rms, floor))
        n_ramp = min(int(round(cfg.ramp_ms * 1e-3 * cfg.sample_rate_hz)), len(x) // 2)
        if n_ramp > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_ramp) + 0.5) / n_ramp)
            x[:n_ramp] *= ramp
            x[len(x) - n_ramp:] *= ramp[::-1]
        return x

    # -- encoding ----------------------------------------------------------------------------------
    def encode(self, waveform: np.ndarray, sample_rate_hz: float, seed: int | np.random.SeedSequence = 0
               ) -> tuple[np.ndarray, np.ndarray]:
        """Spike events of one recording: ``(times_s float64 [E], units int64 [E])``, sorted by time then unit.

        ``waveform`` [N] mono samples at ``sample_rate_hz`` (any scale: the level is normalised). Times are
        seconds from the start of the recording; the result is a deterministic function of ``seed``.
        """
        x = self.prepare(waveform, sample_rate_hz)
        return self.encode_prepared(x, seed)

    def encode_prepared(self, x: np.ndarray, seed: int | np.random.SeedSequence = 0) -> tuple[np.ndarray, np.ndarray]:
        """``encode`` for a waveform already at the internal rate and in 20 uPa units (see ``prepare``)."""
        cfg = self.config
        rng = np.random.default_rng(seed)
        state = PeripheryState(cfg.n_units, cfg.meddis, self._ring_len)
        spikes = np.zeros((cfg.n_units, BLOCK_SAMPLES), np.uint8)
        times, units = [], []
        for drive in self.bank.blocks(x, BLOCK_SAMPLES):
            n_t = drive.shape[1]
            uniforms = rng.random((cfg.n_units, n_t), dtype=np.float32)
            periphery_block(drive, self.class_gain, uniforms, state.t, state.q, state.c, state.w, state.busy,
                            state.ring, state.v, state.isyn, state.refr, self._mp, cfg.anf_per_unit,
                            cfg.bushy_weight / cfg.anf_per_unit * self._dt, self._a_mem, self._a_syn,
                            self._bushy_refr, self._dt, spikes[:, :n_t])
            t_idx, u_idx = np.nonzero(spikes[:, :n_t].T)
            times.append(t_idx + state.t)
            units.append(u_idx)
            state.t += n_t
        if not times:
            return np.zeros(0), np.zeros(0, np.int64)
        return np.concatenate(times) * self._dt, np.concatenate(units).astype(np.int64)


def resample(x: np.ndarray, rate_in_hz: float, rate_out_hz: float) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``, Kaiser-windowed anti-alias FIR) between rates.

    Rates must be whole numbers of Hz (every audio format stores them so).
    """
    if rate_in_hz <= 0 or rate_out_hz <= 0 or rate_in_hz != int(rate_in_hz) or rate_out_hz != int(rate_out_hz):
        raise ConfigError(f"sample rates must be positive whole numbers of Hz, got {rate_in_hz} -> {rate_out_hz}")
    if rate_in_hz == rate_out_hz or len(x) == 0:
        return np.array(x, dtype=np.float64, copy=True)
    d = gcd(int(rate_in_hz), int(rate_out_hz))
    return scipy.signal.resample_poly(x, int(rate_out_hz) // d, int(rate_in_hz) // d)
