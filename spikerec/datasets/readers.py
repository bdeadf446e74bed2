"""Readers for SHD/SSC files in the official Heidelberg HDF5 layout.

Layout (Cramer et al., "The Heidelberg Spiking Data Sets")::

    spikes/times    ragged float16, seconds, one array per sample
    spikes/units    ragged uint16, channel 0..699, same length as the sample's times
    labels          uint16 [N], class index
    extra/keys      [n_classes] class names (optional)
    extra/speaker   uint16 [N] speaker id (optional)

Times are converted float16 -> float64 before scaling to milliseconds, so no precision is lost
(float16 seconds * 1000 is exact in float64).

``SpikeFile`` opens the file lazily and keeps one h5py handle per process: a DataLoader worker
(forked or spawned) notices that ``os.getpid()`` changed and reopens, because an h5py handle
shared across a fork is not safe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from spikerec.errors import ConfigError, DataError

N_CHANNELS = 700
TIMES_KEY = "spikes/times"
UNITS_KEY = "spikes/units"
LABELS_KEY = "labels"
KEYS_KEY = "extra/keys"
SPEAKER_KEY = "extra/speaker"
ON_ERROR_CHOICES = ("raise", "skip")
DATASET_SPLITS = {"shd": ("train", "test"), "ssc": ("train", "valid", "test")}  # files {name}_{split}.h5


@dataclass
class SkipReport:
    """Samples left out in ``on_error="skip"`` mode: index -> reason, so nothing is dropped silently."""

    path: str
    reasons: dict[int, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.reasons)

    def summary(self, limit: int = 5) -> str:
        shown = ", ".join(f"#{i}: {r}" for i, r in list(self.reasons.items())[:limit])
        more = f" (+{self.count - limit} more)" if self.count > limit else ""
        return f"{self.path}: skipped {self.count} bad sample(s): {shown}{more}"


@dataclass
class RaggedEvents:
    """All valid samples of one file as flat arrays.

    ``times_ms`` float64 [E] and ``units`` int64 [E] hold every event; sample ``i`` is the slice
    ``offsets[i]:offsets[i + 1]``. ``index`` [N] maps each row back to its sample index in the
    file (rows differ from file indices only when bad samples were skipped).
    """

    times_ms: np.ndarray
    units: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray | None
    index: np.ndarray
    n_channels: int
    class_names: list[str] | None
    path: str
    skipped: SkipReport

    def __len__(self) -> int:
        return len(self.labels)

    def sample(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.offsets[row], self.offsets[row + 1]
        return self.times_ms[lo:hi], self.units[lo:hi]


def _check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR_CHOICES:
        raise ConfigError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")


class SpikeFile:
    """Lazy, fork-safe reader of one SHD/SSC HDF5 file.

    ``n_channels``: channel count the units must stay below (700 for SHD/SSC).
    ``n_classes``: labels must lie in ``[0, n_classes)``; default: length of ``extra/keys`` when
    present, else labels are only checked to be non-negative.
    """

    def __init__(self, path: str | os.PathLike, n_channels: int = N_CHANNELS, n_classes: int | None = None):
        self.path = Path(path)
        self.n_channels = int(n_channels)
        self._n_classes = n_classes
        self._file: h5py.File | None = None
        self._pid: int | None = None
        if not self.path.is_file():
            raise DataError("file not found; run `spikerec data download` or `spikerec data synth`, "
                            "or point --data at the folder holding the .h5 files", path=str(self.path))

    # -- handle management -------------------------------------------------------------------
    def _handle(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as err:
                raise DataError(f"not a readable HDF5 file (truncated or wrong format?): {err}",
                                path=str(self.path)) from None
            self._pid = os.getpid()
            for key in (TIMES_KEY, UNITS_KEY, LABELS_KEY):
                if key not in self._file:
                    raise DataError(f"missing dataset '{key}' (expected the official SHD/SSC layout: "
                                    f"{TIMES_KEY}, {UNITS_KEY}, {LABELS_KEY})", path=str(self.path))
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._pid = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None  # h5py handles do not pickle; the worker reopens
        state["_pid"] = None
        return state

    def __enter__(self) -> "SpikeFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- metadata ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._handle()[LABELS_KEY].shape[0])

    @property
    def class_names(self) -> list[str] | None:
        if not hasattr(self, "_class_names"):  # read once: sample() consults it on every call
            f = self._handle()
            self._class_names = ([k.decode() if isinstance(k, bytes) else str(k) for k in f[KEYS_KEY][()]]
                                 if KEYS_KEY in f else None)
        return self._class_names

    @property
    def n_classes(self) -> int | None:
        if self._n_classes is not None:
            return int(self._n_classes)
        names = self.class_names
        return len(names) if names is not None else None

    def labels(self) -> np.ndarray:
        return self._read(LABELS_KEY).astype(np.int64)

    def speakers(self) -> np.ndarray | None:
        return self._read(SPEAKER_KEY).astype(np.int64) if SPEAKER_KEY in self._handle() else None

    def _read(self, key: str, index=slice(None)):
        try:
            return self._handle()[key][index]
        except (OSError, ValueError, TypeError) as err:
            raise DataError(f"cannot read '{key}' (file truncated or damaged?): {err}", path=str(self.path)) from None

    # -- samples -------------------------------------------------------------------------------
    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Sample ``i`` as (times_ms float64 [E], units int64 [E], label), validated."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"{self.path}: sample {i} out of range for {n} samples")
        i = i % n
        times, units, label = self._read_sample(i)
        problem = sample_problem(times, units, label, self.n_channels, self.n_classes)
        if problem:
            raise DataError(problem, path=str(self.path), sample=i)
        return times.astype(np.float64) * 1000.0, units.astype(np.int64), int(label)

    def _read_sample(self, i: int):
        f = self._handle()
        try:
            return f[TIMES_KEY][i], f[UNITS_KEY][i], f[LABELS_KEY][i]
        except (OSError, ValueError, TypeError) as err:
            raise DataError(f"cannot read sample (file truncated or damaged?): {err}",
                            path=str(self.path), sample=i) from None

    def load(self, on_error: str = "raise", start: int = 0, stop: int | None = None) -> RaggedEvents:
        """Read and validate samples ``start:stop`` (default: all) in one bulk read.

        ``on_error="raise"`` stops at the first bad sample with a ``DataError`` naming file and
        index; ``"skip"`` leaves bad samples out and lists them in ``RaggedEvents.skipped``.
        Sample indices in errors, ``index`` and ``skipped`` are positions in the file.
        """
        _check_on_error(on_error)
        f = self._handle()
        total = len(self)
        for key in (TIMES_KEY, UNITS_KEY):
            if f[key].shape[0] != total:
                raise DataError(f"{key} has {f[key].shape[0]} rows but {LABELS_KEY} has {total}; "
                                "all must have one row per sample", path=str(self.path))
        speakers = self.speakers() if SPEAKER_KEY in f else None
        if speakers is not None and len(speakers) != total:
            raise DataError(f"{SPEAKER_KEY} has {len(speakers)} rows for {total} samples", path=str(self.path))
        start, stop, _ = slice(start, stop).indices(total)
        stop = max(start, stop)
        n = stop - start
        try:
            times = f[TIMES_KEY][start:stop]
            units = f[UNITS_KEY][start:stop]
        except (OSError, ValueError, TypeError):
            # Bulk read failed: locate the first unreadable sample so the error can name it.
            for i in range(start, stop):
                self._read_sample(i)
            raise DataError("cannot read spikes (file truncated or damaged?)", path=str(self.path)) from None
        labels = self.labels()[start:stop]
        if speakers is not None:
            speakers = speakers[start:stop]

        lengths = np.fromiter((len(t) for t in times), dtype=np.int64, count=n)
        unit_lengths = np.fromiter((len(u) for u in units), dtype=np.int64, count=n)
        flat_t = np.concatenate(list(times)).astype(np.float64) if n else np.zeros(0)
        flat_u = np.concatenate(list(units)).astype(np.int64) if n else np.zeros(0, np.int64)
        del times, units
        bad = {start + i: reason for i, reason in self._find_bad(flat_t, flat_u, lengths, unit_lengths, labels).items()}

        skipped = SkipReport(str(self.path))
        if bad:
            if on_error == "raise":
                first = min(bad)
                raise DataError(bad[first] + " (pass on_error='skip' / --skip-bad to leave bad samples out "
                                "and count them)", path=str(self.path), sample=first)
            skipped.reasons = dict(sorted(bad.items()))
        keep = np.ones(n, dtype=bool)
        keep[[i - start for i in skipped.reasons]] = False
        if skipped.count:
            # A mismatched sample has different lengths in the two arrays: filter each by its own lengths.
            flat_t = flat_t[np.repeat(keep, lengths)]
            flat_u = flat_u[np.repeat(keep, unit_lengths)]
        offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
        np.cumsum(lengths[keep], out=offsets[1:])
        flat_t *= 1000.0  # seconds -> ms, in float64 (exact for float16 inputs)
        return RaggedEvents(
            times_ms=flat_t, units=flat_u, offsets=offsets, labels=labels[keep],
            speakers=None if speakers is None else speakers[keep], index=start + np.flatnonzero(keep),
            n_channels=self.n_channels, class_names=self.class_names, path=str(self.path), skipped=skipped)

    def blocks(self, block_size: int = 4096, on_error: str = "raise") -> Iterator[RaggedEvents]:
        """``load`` in blocks of ``block_size`` samples, so memory stays bounded on large files (SSC)."""
        total = len(self)
        for start in range(0, total, block_size):
            yield self.load(on_error=on_error, start=start, stop=min(start + block_size, total))

    def _find_bad(self, flat_t, flat_u, lengths, unit_lengths, labels) -> dict[int, str]:
        """Vectorised validation of every sample; returns {sample index: reason} (first reason wins)."""
        bad: dict[int, str] = {}

        def mark(mask: np.ndarray, reason) -> None:
            for i in np.flatnonzero(mask):
                bad.setdefault(int(i), reason(int(i)) if callable(reason) else reason)

        mark(lengths != unit_lengths, lambda i: f"{lengths[i]} spike times but {unit_lengths[i]} units")
        mark(lengths == 0, "empty sample (no spikes)")
        mark(labels < 0, lambda i: f"negative label {labels[i]}")
        n_classes = self.n_classes
        if n_classes is not None:
            mark(labels >= n_classes, lambda i: f"label {labels[i]} out of range [0, {n_classes})")
        if np.array_equal(lengths, unit_lengths):  # vectorised per-event checks need aligned samples
            sample_of = np.repeat(np.arange(len(lengths)), lengths)
            bad_t = ~np.isfinite(flat_t) | (flat_t < 0)
            if bad_t.any():
                mark(np.bincount(sample_of[bad_t], minlength=len(lengths)) > 0,
                     "spike time negative, NaN or infinite")
            bad_u = flat_u >= self.n_channels
            if bad_u.any():
                mark(np.bincount(sample_of[bad_u], minlength=len(lengths)) > 0,
                     f"unit >= channel count {self.n_channels}")
        else:  # some sample is mismatched: check each aligned sample on its own
            t_off = np.concatenate([[0], np.cumsum(lengths)])
            u_off = np.concatenate([[0], np.cumsum(unit_lengths)])
            for i in range(len(lengths)):
                if i in bad:
                    continue
                problem = sample_problem(flat_t[t_off[i]:t_off[i + 1]], flat_u[u_off[i]:u_off[i + 1]],
                                         labels[i], self.n_channels, n_classes)
                if problem:
                    bad[i] = problem
        return bad


def sample_problem(times: np.ndarray, units: np.ndarray, label, n_channels: int, n_classes: int | None) -> str | None:
    """Why one sample is invalid, or None. Times in any unit (only sign/finiteness are checked)."""
    if len(times) != len(units):
        return f"{len(times)} spike times but {len(units)} units"
    if len(times) == 0:
        return "empty sample (no spikes)"
    t = np.asarray(times, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        return "spike time negative, NaN or infinite"
    if np.any(np.asarray(units, dtype=np.int64) >= n_channels):
        return f"unit >= channel count {n_channels}"
    if label < 0 or (n_classes is not None and label >= n_classes):
        return f"label {label} out of range [0, {n_classes})"
    return None


def load_events(path: str | os.PathLike, n_channels: int = N_CHANNELS, n_classes: int | None = None,
                on_error: str = "raise") -> RaggedEvents:
    """Read and validate a whole SHD/SSC file: see ``SpikeFile.load``."""
    with SpikeFile(path, n_channels=n_channels, n_classes=n_classes) as f:
        return f.load(on_error=on_error)
