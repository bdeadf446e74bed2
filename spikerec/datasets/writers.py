"""Write spike data in the official SHD/SSC HDF5 layout (ragged float16 seconds, ragged uint16 units)."""

from __future__ import annotations

import os
from typing import Sequence

import h5py
import numpy as np

from spikerec.datasets.readers import KEYS_KEY, LABELS_KEY, SPEAKER_KEY, TIMES_KEY, UNITS_KEY
from spikerec.errors import ShapeError
from spikerec.io import atomic_path


def write_spike_file(path: str | os.PathLike, times_s: Sequence[np.ndarray], units: Sequence[np.ndarray],
                     labels: Sequence[int], speakers: Sequence[int] | None = None,
                     class_names: Sequence[str] | None = None) -> None:
    """Write one file atomically. ``times_s``: per-sample spike times in seconds (stored float16)."""
    n = len(labels)
    if len(times_s) != n or len(units) != n or (speakers is not None and len(speakers) != n):
        raise ShapeError(f"need one times/units/speaker row per label: got {len(times_s)} times, "
                         f"{len(units)} units, {n} labels")
    times_obj = np.empty(n, dtype=object)
    units_obj = np.empty(n, dtype=object)
    for i in range(n):
        times_obj[i] = np.asarray(times_s[i], dtype=np.float16)
        units_obj[i] = np.asarray(units[i], dtype=np.uint16)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(TIMES_KEY, data=times_obj, dtype=h5py.vlen_dtype(np.float16))
            f.create_dataset(UNITS_KEY, data=units_obj, dtype=h5py.vlen_dtype(np.uint16))
            f.create_dataset(LABELS_KEY, data=np.asarray(labels, dtype=np.uint16))
            if speakers is not None:
                f.create_dataset(SPEAKER_KEY, data=np.asarray(speakers, dtype=np.uint16))
            if class_names is not None:
                f.create_dataset(KEYS_KEY, data=np.array([s.encode() for s in class_names]))
