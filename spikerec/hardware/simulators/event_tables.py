"""What the float and the integer event simulators share: presynaptic fan-out tables, the result of a run and
the summary of its counts (:mod:`spikerec.hardware.simulators.event`, :mod:`spikerec.hardware.simulators.fixed_point`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from spikerec.errors import ShapeError

__all__ = ["SIM_COUNT_KEYS", "SimResult", "fanout", "summarize_counts", "window_steps"]

SIM_COUNT_KEYS = ("input_spikes", "synaptic_events", "neuron_updates", "spikes_out")  # what the simulator counts


def fanout(matrix, delay) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Presynaptic CSR (ptr [n_in+1], post, weight float64, delay int64) of the non-zero weights."""
    w = sp.csr_array(matrix) if not sp.issparse(matrix) else matrix
    d = None
    if delay is not None:
        d = sp.csr_array(delay) if not sp.issparse(delay) else delay
    coo = sp.coo_array(w)
    keep = coo.data != 0
    rows, cols, vals = coo.row[keep], coo.col[keep], coo.data[keep]
    if d is None:
        dl = np.zeros(rows.size, dtype=np.int64)
    else:
        dl = np.asarray(sp.csr_array(d)[rows, cols]).astype(np.int64).reshape(-1) if rows.size else np.zeros(0, np.int64)
    order = np.lexsort((rows, cols))  # by presynaptic column, then postsynaptic row
    n_in = w.shape[1]
    ptr = np.zeros(n_in + 1, dtype=np.int64)
    np.add.at(ptr, cols + 1, 1)
    return (np.cumsum(ptr), rows[order].astype(np.int64), vals[order].astype(np.float64), dl[order])


@dataclass
class SimResult:
    """Output of :meth:`~spikerec.hardware.simulators.event.EventSimulator.run`.

    ``spikes``: per layer ``[T, B, n_out]`` uint8 (None for non-spiking layers); ``membrane``: per layer
    ``[T, B, n_out]`` float32 for non-spiking layers (None otherwise); both 0 after a sample's window;
    ``predictions`` [B]; ``counts`` (see module docstring); ``counts_per_sample`` [n_layers, B, 4] int64;
    ``window`` [B] steps simulated per sample. Quantised networks add ``integer_membrane`` (the integers behind
    ``membrane``) and ``overflow`` (:func:`~spikerec.hardware.simulators.fixed_point.summarize_overflow`).
    """

    spikes: list[np.ndarray | None]
    membrane: list[np.ndarray | None]
    predictions: np.ndarray
    counts: dict[str, dict[str, float]]
    counts_per_sample: np.ndarray = field(repr=False)
    window: np.ndarray = field(default=None, repr=False)
    integer_membrane: list | None = field(default=None, repr=False)
    overflow: dict | None = None

    @property
    def output(self) -> np.ndarray:
        """The last layer's membrane [T, B, n_classes] (float32)."""
        return self.membrane[-1]


def summarize_counts(per_sample: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    """Per-layer and total counts: means per sample under SIM_COUNT_KEYS, sums under ``<key>_total``."""
    out: dict[str, dict[str, float]] = {}
    b = max(per_sample.shape[1], 1)
    for name, rows in [*zip(names, per_sample), ("total", per_sample.sum(axis=0))]:
        totals = rows.sum(axis=0)
        entry = {key: float(totals[i]) / b for i, key in enumerate(SIM_COUNT_KEYS)}
        entry.update({f"{key}_total": int(totals[i]) for i, key in enumerate(SIM_COUNT_KEYS)})
        out[name] = entry
    return out


def window_steps(window, batch: int, steps: int, who: str) -> np.ndarray:
    """Steps simulated per sample [B] int64: ``window`` (numpy or torch [B]) or, when None, all ``steps``; values
    outside [0, steps] raise ShapeError naming ``who``."""
    out = np.full(batch, steps, dtype=np.int64) if window is None else \
        np.asarray(window.cpu() if hasattr(window, "cpu") else window, dtype=np.int64).reshape(batch)
    if (out < 0).any() or (out > steps).any():
        raise ShapeError(f"{who}: window must hold B={batch} step counts in [0, T={steps}], got {out.tolist()}")
    return out
