"""Event -> frame binning, vectorised over many samples at once.

A sample's events (times in ms, channel units) become a time-major count matrix ``[T, C]``:
bin ``k`` holds events with ``k * bin_ms <= t < (k + 1) * bin_ms``, counted from t = 0 (not from
the first event), so frames of different samples are aligned in time. ``T = floor(t_last / bin_ms) + 1``,
capped at ``ceil(max_duration_ms / bin_ms)`` when a maximum duration is given (later events are
dropped and counted). Channel pooling sums groups of ``pool`` adjacent channels
(``C = ceil(n_channels / pool)``, e.g. 700 -> 140 for pool 5, the DCLS-delays recipe).
``binary=True`` clips counts to 1.

Why not tonic's ``ToFrame``: it slices each sample in a Python loop and calls ``np.add.at`` once
per frame. Here every event of many samples gets one flat index (frame row * C + channel) and a
single ``np.bincount`` per cache-sized chunk fills all frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikerec.errors import ConfigError, DataError, ShapeError

_CHUNK_CELLS = 1 << 15  # frame cells per bincount call: the int64 scratch (256 KiB) stays in L2 cache


@dataclass
class BinnedFrames:
    """Frames of N samples stacked along time: sample ``i`` is ``frames[offsets[i]:offsets[i + 1]]``.

    ``frames`` [sum T_i, C] unsigned integer counts: uint8, widened to uint16/uint32 only when a
    count needs it. ``dropped_events`` [N]: events at or beyond ``max_duration_ms`` per sample.
    """

    frames: np.ndarray
    offsets: np.ndarray
    dropped_events: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sample(self, i: int) -> np.ndarray:
        return self.frames[self.offsets[i]:self.offsets[i + 1]]


def pooled_channels(n_channels: int, pool: int) -> int:
    return -(-int(n_channels) // int(pool))


def max_frames(max_duration_ms: float, bin_ms: float) -> int:
    """Frames that hold ``max_duration_ms`` of events: ``ceil(max_duration_ms / bin_ms)``."""
    return math.ceil(max_duration_ms / bin_ms - 1e-9)


def check_params(bin_ms: float, pool: int, max_duration_ms: float | None) -> None:
    if not (isinstance(bin_ms, (int, float)) and math.isfinite(bin_ms) and bin_ms > 0):
        raise ConfigError(f"bin_ms must be a positive number of milliseconds, got {bin_ms!r}")
    if not (isinstance(pool, (int, np.integer)) and pool >= 1):
        raise ConfigError(f"pool must be an integer >= 1, got {pool!r}")
    if max_duration_ms is not None and not (math.isfinite(max_duration_ms) and max_duration_ms > 0):
        raise ConfigError(f"max_duration_ms must be positive or None, got {max_duration_ms!r}")


def bin_ragged(times_ms: np.ndarray, units: np.ndarray, offsets: np.ndarray, n_channels: int, bin_ms: float,
               max_duration_ms: float | None = None, pool: int = 1, binary: bool = False) -> BinnedFrames:
    """Bin many samples given as flat events plus ``offsets`` [N + 1] (sample i = events offsets[i]:offsets[i+1]).

    ``times_ms`` >= 0 finite, ``units`` in [0, n_channels): validate with the readers first.
    Every sample gets at least one frame (an all-zero frame if all its events were dropped).
    """
    check_params(bin_ms, pool, max_duration_ms)
    times_ms = np.asarray(times_ms, dtype=np.float64)
    units = np.asarray(units)
    offsets = np.asarray(offsets, dtype=np.int64)
    if times_ms.shape != units.shape or times_ms.ndim != 1:
        raise ShapeError(f"times_ms and units must be 1-D of equal length, got {times_ms.shape} and {units.shape}")
    if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(times_ms) \
            or np.any(np.diff(offsets) < 0):
        raise ShapeError(f"offsets must run from 0 to {len(times_ms)} without decreasing")
    n = len(offsets) - 1
    c_out = pooled_channels(n_channels, pool)
    counts = np.diff(offsets)
    if len(times_ms):  # cheap guards: a bad event would silently land in another sample's frame
        if not (times_ms.min() >= 0 and np.isfinite(times_ms.max())):
            raise DataError("spike times must be finite and >= 0 ms; validate the events first")
        if units.min() < 0 or units.max() >= n_channels:
            raise DataError(f"units must lie in [0, {n_channels}); validate the events first")
    bins = (times_ms / bin_ms).astype(np.int64)  # truncation == floor for t >= 0
    dropped = np.zeros(n, dtype=np.int64)
    if max_duration_ms is not None:
        t_max = max_frames(max_duration_ms, bin_ms)
        late = (times_ms >= max_duration_ms) | (bins >= t_max)
        if late.any():
            dropped = np.bincount(np.repeat(np.arange(n), counts)[late], minlength=n)
            bins, units = bins[~late], units[~late]
            counts = counts - dropped
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    # frames per sample: last occupied bin + 1, at least 1 (an all-zero frame for an empty sample)
    lengths = np.ones(n, dtype=np.int64)
    busy = counts > 0
    if busy.any():
        lengths[busy] = np.maximum.reduceat(bins, starts[busy]) + 1
    frame_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=frame_offsets[1:])
    rows = bins  # global frame row of each event, computed in place
    rows += np.repeat(frame_offsets[:-1], counts)
    channel = units // pool if pool > 1 else units
    frames = _fill(rows, channel.astype(np.int64, copy=False), int(frame_offsets[-1]), c_out, binary)
    return BinnedFrames(frames=frames, offsets=frame_offsets, dropped_events=dropped)


def _fill(rows: np.ndarray, channel: np.ndarray, n_rows: int, c_out: int, binary: bool) -> np.ndarray:
    """Count events per (row, channel) cell into ``[n_rows, c_out]``, one bincount per chunk of rows."""
    if len(rows) > 1 and np.any(rows[1:] < rows[:-1]):  # unsorted spike times: order events by row once
        order = np.argsort(rows, kind="stable")
        rows, channel = rows[order], channel[order]
    chunk_rows = max(1, _CHUNK_CELLS // c_out)
    starts = np.arange(0, n_rows, chunk_rows)
    bounds = np.searchsorted(rows, np.append(starts, n_rows))
    # Counts go into uint8 (half the memory traffic of tonic's int16). A cell can only exceed 255 in a
    # chunk that has a frame row with more than 255 events; only those chunks check their maximum, and
    # the array is widened before a count could wrap: counts are always exact.
    row_events = np.bincount(rows, minlength=n_rows)
    risky = np.maximum.reduceat(row_events, starts) > 0xFF if n_rows else np.zeros(0, bool)
    out = np.zeros((n_rows, c_out), dtype=np.uint8)
    flat = out.reshape(-1)
    for k, lo in enumerate(starts):
        a, b = bounds[k], bounds[k + 1]
        if a == b:
            continue
        hi = min(lo + chunk_rows, n_rows)
        cell = rows[a:b] - lo
        cell *= c_out
        cell += channel[a:b]
        c = np.bincount(cell, minlength=(hi - lo) * c_out)
        if binary:
            np.minimum(c, 1, out=c)
        elif risky[k] and c.max() > np.iinfo(out.dtype).max:
            out = out.astype(np.uint16 if c.max() <= 0xFFFF else np.uint32)
            flat = out.reshape(-1)
        flat[lo * c_out:hi * c_out] = c
    return out


def bin_events(times_ms: np.ndarray, units: np.ndarray, n_channels: int, bin_ms: float,
               max_duration_ms: float | None = None, pool: int = 1, binary: bool = False) -> np.ndarray:
    """Bin one sample: returns counts ``[T, ceil(n_channels / pool)]`` (see module doc)."""
    times_ms = np.asarray(times_ms, dtype=np.float64)
    return bin_ragged(times_ms, units, np.array([0, len(times_ms)]), n_channels, bin_ms,
                      max_duration_ms=max_duration_ms, pool=pool, binary=binary).frames
