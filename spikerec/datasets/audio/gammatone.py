"""Gammatone filter bank: the basilar membrane as a bank of band-pass filters, one per cochlear place.

The gammatone impulse response (Patterson, Nimmo-Smith, Holdsworth & Rice 1987; Patterson et al. 1992,
"Complex sounds and auditory images", Adv. Biosci. 83, 429-446) of order ``n`` at centre frequency fc::

    g(t) = t^(n-1) * exp(-2 pi b t) * cos(2 pi fc t),   t >= 0,   b = 1.019 * ERB(fc)

with n = 4 and b = 1.019 ERB, which match human auditory-filter shapes from notched-noise masking
(Patterson et al. 1992; ERB from Glasberg & Moore 1990, see :mod:`.erb`). Its magnitude response near
fc is ``(1 + ((f - fc) / b)^2)^(-n/2)`` relative to the peak.

The impulse responses are sampled exactly (an FIR, no recursive approximation), truncated where the
envelope of the longest (lowest-fc) response has fallen ``tail_db`` below its peak, and scaled so each
filter has unit gain at its own fc: a tone at fc of amplitude a comes out with amplitude a. Signals
are filtered block by block (overlap-add with the filter spectra computed once), so memory stays
bounded for long recordings and the result equals one long convolution.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import scipy.fft

from spikerec.datasets.audio.erb import erb_bandwidth
from spikerec.errors import ConfigError

ORDER = 4  # Patterson et al. (1992): order 4 fits human auditory-filter shapes
BANDWIDTH_FACTOR = 1.019  # b = 1.019 ERB (Patterson et al. 1992; Slaney 1993, Apple TR 35)
TAIL_DB = -80.0  # truncate the impulse responses once their envelope is this far below its peak


def gammatone_impulse_responses(cf_hz: np.ndarray, sample_rate_hz: float, order: int = ORDER,
                                bandwidth_factor: float = BANDWIDTH_FACTOR, tail_db: float = TAIL_DB) -> np.ndarray:
    """Sampled gammatone impulse responses [C, L] (float64), unit gain at each centre frequency.

    ``cf_hz`` [C] centre frequencies (Hz), each below the Nyquist frequency.
    """
    cf = np.asarray(cf_hz, dtype=np.float64)
    if cf.ndim != 1 or len(cf) == 0 or np.any(cf <= 0) or np.any(cf >= sample_rate_hz / 2):
        raise ConfigError(f"centre frequencies must be a non-empty 1-D array in (0, {sample_rate_hz / 2}) Hz "
                          f"(the Nyquist frequency); got {cf_hz!r}")
    if order < 1:
        raise ConfigError(f"gammatone order must be >= 1, got {order}")
    b = bandwidth_factor * erb_bandwidth(cf)  # [C] Hz
    # Envelope t^(n-1) exp(-2 pi b t) peaks at t_peak = (n-1) / (2 pi b); relative to that peak it is
    # 20 log10(e) ((n-1) ln(t / t_peak) - 2 pi b (t - t_peak)) dB. Cut where the slowest one reaches tail_db.
    b_min = float(b.min())
    t = np.arange(1, int(sample_rate_hz * 2.0)) / sample_rate_hz  # up to 2 s is far more than any speech filter needs
    t_peak = max(order - 1, 1e-9) / (2 * np.pi * b_min)
    env_db = 20 * np.log10(np.e) * ((order - 1) * np.log(t / t_peak) - 2 * np.pi * b_min * (t - t_peak))
    beyond = np.flatnonzero((t > t_peak) & (env_db < tail_db))
    n_taps = int(beyond[0]) + 1 if len(beyond) else len(t)
    tt = np.arange(n_taps) / sample_rate_hz
    ir = tt ** (order - 1) * np.exp(-2 * np.pi * b[:, None] * tt) * np.cos(2 * np.pi * cf[:, None] * tt)
    response_at_cf = np.abs(np.sum(ir * np.exp(-2j * np.pi * cf[:, None] * tt), axis=1))
    return ir / response_at_cf[:, None]


class GammatoneBank:
    """A gammatone filter bank at ``cf_hz`` [C] for signals sampled at ``sample_rate_hz``.

    ``filter(x)`` returns [C, N] float32 outputs of a 1-D signal ``x`` [N]; ``blocks(x, n)`` yields the
    same outputs as consecutive [C, <=n] blocks (bounded memory for long signals).
    """

    def __init__(self, cf_hz: np.ndarray, sample_rate_hz: float, order: int = ORDER,
                 bandwidth_factor: float = BANDWIDTH_FACTOR, tail_db: float = TAIL_DB):
        self.cf_hz = np.asarray(cf_hz, dtype=np.float64)
        self.sample_rate_hz = float(sample_rate_hz)
        self.impulse_responses = gammatone_impulse_responses(cf_hz, sample_rate_hz, order, bandwidth_factor, tail_db)
        self._spectra: dict[int, np.ndarray] = {}

    @property
    def n_taps(self) -> int:
        return int(self.impulse_responses.shape[1])

    def _spectrum(self, n_fft: int) -> np.ndarray:
        if n_fft not in self._spectra:
            self._spectra[n_fft] = scipy.fft.rfft(self.impulse_responses, n_fft, axis=1).astype(np.complex64)
        return self._spectra[n_fft]

    def blocks(self, x: np.ndarray, block_len: int = 8192) -> Iterator[np.ndarray]:
        """Filter ``x`` [N] and yield the outputs as consecutive float32 blocks [C, <=block_len]."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ConfigError(f"GammatoneBank filters a 1-D signal, got shape {x.shape}")
        n_fft = scipy.fft.next_fast_len(block_len + self.n_taps - 1, real=True)
        spec = self._spectrum(n_fft)
        carry = np.zeros((len(self.cf_hz), self.n_taps - 1), dtype=np.float32)  # overlap-add tail
        for start in range(0, len(x), block_len):
            seg = x[start:start + block_len]
            # Linear convolution of the block (length len(seg) + L - 1 >= L - 1, so the tail always fits).
            y = scipy.fft.irfft(spec * scipy.fft.rfft(seg, n_fft)[None, :], n_fft, axis=1)
            y = y[:, :len(seg) + self.n_taps - 1].astype(np.float32)
            y[:, :self.n_taps - 1] += carry
            out, carry = y[:, :len(seg)], y[:, len(seg):]
            yield out

    def filter(self, x: np.ndarray) -> np.ndarray:
        """Outputs [C, N] (float32) of the whole signal ``x`` [N]."""
        parts = list(self.blocks(x))
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(self.cf_hz), 0), np.float32)
