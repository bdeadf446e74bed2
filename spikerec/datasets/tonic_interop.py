"""Interop with tonic: structured event arrays with ``t`` in microseconds, ``x`` = channel, ``p`` = 0.

``to_tonic_events`` / ``from_tonic_events`` convert single samples; ``TonicEvents`` serves a
SHD/SSC file the way ``tonic.datasets.SHD`` does, so tonic transforms keep working;
``ragged_from_tonic`` turns any tonic dataset (or list of ``(events, label)``) into the flat
arrays ``bin_ragged`` bins in one call.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable

import numpy as np

from spikerec.datasets.readers import N_CHANNELS, RaggedEvents, SkipReport, SpikeFile
from spikerec.errors import DataError

# tonic.datasets.SHD's dtype: int64 t (µs), x (channel), p (always 0)
TONIC_DTYPE = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])
SENSOR_SIZE = (N_CHANNELS, 1, 1)


def to_tonic_events(times_ms: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Events as tonic's structured array, sorted by time; ms -> µs rounded to the nearest µs.

    Times read from SHD/SSC (float16 seconds) are whole microseconds, so rounding changes nothing.
    """
    times_ms = np.asarray(times_ms, dtype=np.float64)
    order = np.argsort(times_ms, kind="stable")
    ev = np.empty(len(times_ms), dtype=TONIC_DTYPE)
    ev["t"] = np.rint(times_ms[order] * 1000.0)
    ev["x"] = np.asarray(units)[order]
    ev["p"] = 0
    return ev


def from_tonic_events(events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times_ms float64, units int64) from a tonic structured array with fields ``t`` (µs) and ``x``."""
    names = events.dtype.names or ()
    if "t" not in names or "x" not in names:
        raise DataError(f"tonic events need fields 't' (microseconds) and 'x' (channel); got {names}")
    if "y" in names and np.any(events["y"] != 0):
        raise DataError("events have a non-zero 'y' field: expected 1-D audio events (x = channel)")
    return events["t"].astype(np.float64) / 1000.0, events["x"].astype(np.int64)


class TonicEvents:
    """A SHD/SSC file as a tonic-style dataset: item ``i`` is ``(events, label)``.

    ``transform`` (e.g. ``tonic.transforms.ToFrame(sensor_size=TonicEvents.sensor_size, ...)``)
    is applied to the events, ``target_transform`` to the label. Fork-safe: reads through
    ``SpikeFile`` (one HDF5 handle per process).
    """

    sensor_size = SENSOR_SIZE
    dtype = TONIC_DTYPE
    ordering = "txp"

    def __init__(self, path: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None, n_channels: int = N_CHANNELS):
        self.file = SpikeFile(path, n_channels=n_channels)
        self.transform = transform
        self.target_transform = target_transform
        self.sensor_size = (n_channels, 1, 1)

    def __len__(self) -> int:
        return len(self.file)

    def __getitem__(self, i: int):
        times_ms, units, label = self.file.sample(i)
        events = to_tonic_events(times_ms, units)
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return events, label


def ragged_from_tonic(dataset: Iterable, n_channels: int = N_CHANNELS, path: str = "<tonic dataset>") -> RaggedEvents:
    """Flatten ``(events, label)`` pairs (a tonic dataset, list, ...) into ``RaggedEvents``."""
    times, units, labels = [], [], []
    for i, (events, label) in enumerate(dataset):
        t, x = from_tonic_events(events)
        if len(t) == 0 or not np.all(np.isfinite(t)) or np.any(t < 0) or np.any((x < 0) | (x >= n_channels)):
            raise DataError(f"empty sample, negative/non-finite time or channel outside [0, {n_channels})",
                            path=path, sample=i)
        times.append(t)
        units.append(x)
        labels.append(int(label))
    lengths = np.array([len(t) for t in times], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = len(labels)
    return RaggedEvents(
        times_ms=np.concatenate(times) if n else np.zeros(0), units=np.concatenate(units) if n else np.zeros(0, np.int64),
        offsets=offsets, labels=np.array(labels, dtype=np.int64), speakers=None, index=np.arange(n),
        n_channels=n_channels, class_names=None, path=path, skipped=SkipReport(path))
