"""Encode one audio file (the unit of work of a data set encoding, run in worker processes).

Kept apart from :mod:`.encode` so a worker process imports only numpy/scipy/numba, not torch.
"""

from __future__ import annotations

import numpy as np

from spikerec.datasets.audio.audiofile import read_audio
from spikerec.datasets.audio.cochlea import Cochlea, CochleaConfig
from spikerec.errors import DataError

_COCHLEA: Cochlea | None = None


def init_worker(config: CochleaConfig) -> None:
    """Pool initializer: build the cochlea (filter spectra, compiled kernel) once per process."""
    global _COCHLEA
    _COCHLEA = Cochlea(config)


def encode_file(job: tuple[int, str, int]) -> tuple[int, np.ndarray | None, np.ndarray | None, float, str | None]:
    """``job = (index, path, seed)`` -> ``(index, times_s float64, units uint16, audio seconds, error or None)``.

    Errors are returned as text, not raised, so one bad file does not stop a pool; the caller decides.
    """
    index, path, seed = job
    try:
        x, rate = read_audio(path)
        times, units = _COCHLEA.encode(x, rate, seed=np.random.SeedSequence([seed, index]))
        if len(times) == 0:
            raise DataError("the cochlea produced no spikes (silent or very quiet recording)", path=path)
        return index, times, units.astype(np.uint16), len(x) / rate, None
    except DataError as err:
        return index, None, None, 0.0, str(err)
