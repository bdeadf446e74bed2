"""Read one audio file as a mono float64 waveform, with a ``DataError`` naming any file that cannot be read.

wav, flac and ogg go through ``soundfile`` (libsndfile); if ``soundfile`` is not installed, wav files
are read with ``scipy.io.wavfile`` (integer PCM is scaled to [-1, 1)).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikerec.errors import DataError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """``(waveform [N] float64, sample_rate_hz)``; channels are averaged to mono."""
    path = Path(path)
    if not path.is_file():
        raise DataError("audio file not found", path=str(path))
    try:
        x, rate = _read(path)
    except DataError:
        raise
    except Exception as err:  # every decoder error (format, truncation, permissions) is a bad file
        raise DataError(f"cannot read audio ({type(err).__name__}: {err})", path=str(path)) from None
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or len(x) == 0:
        raise DataError(f"no audio samples (shape {x.shape})", path=str(path))
    if not np.all(np.isfinite(x)):
        raise DataError("audio contains NaN or infinite samples", path=str(path))
    return x, int(rate)


def _read(path: Path) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError:
        soundfile = None
    if soundfile is not None:
        x, rate = soundfile.read(str(path), dtype="float64", always_2d=False)
        return x, rate
    if path.suffix.lower() != ".wav":
        raise DataError(f"reading {path.suffix} files needs the soundfile package (pip install soundfile)",
                        path=str(path))
    import scipy.io.wavfile

    rate, x = scipy.io.wavfile.read(str(path))
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    return x, rate
