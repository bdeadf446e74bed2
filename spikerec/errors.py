"""Typed errors. Every error says what was wrong, where (file, sample, layer) and what to do.

The CLI prints a ``SpikerecError`` as one line and exits non-zero; anything else is a bug.
Subsystems may subclass these for finer handling, but should not invent unrelated roots.
"""

from __future__ import annotations


class SpikerecError(Exception):
    """Root of all errors spikerec raises on purpose."""

    exit_code = 2


class ConfigError(SpikerecError, ValueError):
    """A recipe, option or argument is invalid (unknown key, wrong type, out of range)."""


class ShapeError(SpikerecError, ValueError):
    """A tensor or array has the wrong rank or size; the message names expected vs. got."""


class ParameterError(SpikerecError, ValueError):
    """A model parameter has an invalid value (e.g. tau <= dt, NaN weight, negative delay)."""


class NonFiniteError(SpikerecError, ValueError):
    """NaN or inf where finite numbers are required (inputs in training, weights, times)."""


class DataError(SpikerecError):
    """A dataset file or sample is unreadable or inconsistent; names the file and sample index."""

    def __init__(self, message: str, *, path: str | None = None, sample: int | None = None):
        where = []
        if path is not None:
            where.append(str(path))
        if sample is not None:
            where.append(f"sample {sample}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)
        self.path = path
        self.sample = sample


class DownloadError(SpikerecError):
    """A download failed (offline, bad checksum, server error); says how to get the file by hand."""


class CheckpointError(SpikerecError):
    """A checkpoint or exported network file is missing, damaged or of an unknown version."""
