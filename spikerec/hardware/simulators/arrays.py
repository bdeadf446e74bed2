"""Any network on an input array: ``spikerec simulate FILE --input SPIKES.npy`` (no data set, no labels).

``load_frames(path, n_inputs)`` reads ``[T, C]`` or ``[T, B, C]`` frames (one row a step); ``simulate_frames``
runs them for exactly T steps on the event simulator or Brian2 and returns each layer's output by layer name
(spikes of spiking layers, membranes of the others) with spike counts per layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spikerec.errors import ConfigError, DataError, ShapeError
from spikerec.hardware.ir.network import Network

__all__ = ["load_frames", "simulate_frames", "ARRAY_BACKENDS"]

ARRAY_BACKENDS = ("event", "brian2")


def load_frames(path: str | Path, n_inputs: int) -> np.ndarray:
    """Frames [T, B, n_inputs] float64 from a ``.npy`` file holding [T, C] (one sample) or [T, B, C]."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read an input array ({e})") from e
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3 or x.shape[2] != n_inputs:
        raise ShapeError(f"{path}: input must be [T, {n_inputs}] or [T, B, {n_inputs}] (the network reads "
                         f"{n_inputs} channels), got {list(x.shape)}")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: the input array holds non-finite values")
    return x.astype(np.float64)


def simulate_frames(net: Network, frames: np.ndarray, backend: str = "event", target: str = "numpy") -> dict[str, Any]:
    """``{"outputs": {layer name: [T, B, n] spikes (uint8) or membranes (float)}, "spike_counts": {name: int},
    "predictions": [B]}`` of ``frames`` [T, B, n_inputs] run for all T steps."""
    if backend == "event":
        from spikerec.hardware.simulators.event import EventSimulator

        res = EventSimulator(net).run(frames)
        spikes, membranes, preds = res.spikes, res.membrane, res.predictions
    elif backend == "brian2":
        from spikerec.hardware.simulators.brian2 import run_brian2

        spikes, membranes, preds = run_brian2(net, frames, target=target)
    else:
        raise ConfigError(f"simulate --input runs on one of {list(ARRAY_BACKENDS)}, got backend {backend!r}")
    outputs = {la.name: (s if s is not None else m) for la, s, m in zip(net.layers, spikes, membranes)}
    counts = {la.name: int(s.sum()) for la, s in zip(net.layers, spikes) if s is not None}
    return {"outputs": outputs, "spike_counts": counts, "predictions": np.asarray(preds)}
