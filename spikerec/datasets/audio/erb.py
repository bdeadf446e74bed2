"""The ERB frequency scale of Glasberg & Moore (1990): auditory-filter bandwidths and centre frequencies.

Glasberg, B. R. & Moore, B. C. J. (1990), "Derivation of auditory filter shapes from notched-noise
data", Hearing Research 47, 103-138, eq. 3 and 4:

    ERB(f) = 24.7 * (4.37 * f / 1000 + 1)              Hz, equivalent rectangular bandwidth at f (Hz)
    E(f)   = 21.4 * log10(4.37 * f / 1000 + 1)         ERB-number ("Cam"), the place along the cochlea

Equal steps of E(f) are equal distances along the basilar membrane, so a filter bank with centre
frequencies spaced evenly in E covers the cochlea evenly (as the 700 places of SHD's model do).
"""

from __future__ import annotations

import numpy as np

ERB_MIN_HZ = 24.7  # Glasberg & Moore (1990) eq. 3: bandwidth of a filter at 0 Hz
ERB_SLOPE = 4.37e-3  # 1/Hz, Glasberg & Moore (1990) eq. 3
ERB_NUMBER_SCALE = 21.4  # Cams per decade of (ERB_SLOPE * f + 1), Glasberg & Moore (1990) eq. 4


def erb_bandwidth(f_hz: np.ndarray | float) -> np.ndarray:
    """Equivalent rectangular bandwidth (Hz) of the auditory filter centred at ``f_hz`` (Hz)."""
    return ERB_MIN_HZ * (ERB_SLOPE * np.asarray(f_hz, dtype=np.float64) + 1.0)


def erb_number(f_hz: np.ndarray | float) -> np.ndarray:
    """ERB-number (Cam) of frequency ``f_hz`` (Hz)."""
    return ERB_NUMBER_SCALE * np.log10(ERB_SLOPE * np.asarray(f_hz, dtype=np.float64) + 1.0)


def erb_number_to_hz(e: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`erb_number`: frequency (Hz) of ERB-number ``e`` (Cam)."""
    return (10.0 ** (np.asarray(e, dtype=np.float64) / ERB_NUMBER_SCALE) - 1.0) / ERB_SLOPE


def erb_space(f_min_hz: float, f_max_hz: float, n: int) -> np.ndarray:
    """``n`` centre frequencies (Hz), evenly spaced in ERB-number from ``f_min_hz`` to ``f_max_hz``, ascending."""
    return erb_number_to_hz(np.linspace(erb_number(f_min_hz), erb_number(f_max_hz), n))
