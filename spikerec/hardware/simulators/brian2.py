"""Brian2 as a simulator of a Network IR, checked spike for spike against the event simulator.

``simulate_brian2(net, loader)`` builds each batch in Brian2 (:mod:`spikerec.hardware.ir.brian2_model`: per-synapse
delays, recurrent synapses, spikerec's discrete-time update statement by statement), runs it, and compares every
sample's spike trains (inside its window, every spiking layer) and prediction with
:class:`~spikerec.hardware.simulators.event.EventSimulator` on the same frames. It is what
``spikerec simulate NET --backend brian2`` reports. Needs the ``brian2`` extra.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from spikerec.errors import ConfigError
from spikerec.hardware.ir.brian2 import network_params
from spikerec.hardware.ir.dynamics import predict_from_outputs
from spikerec.hardware.ir.network import Network
from spikerec.hardware.simulators.event import EventSimulator
from spikerec.window import time_mask

__all__ = ["run_brian2", "simulate_brian2", "TARGETS"]

TARGETS = ("numpy", "cython")


def _model():
    try:
        from spikerec.hardware.ir import brian2_model
    except ImportError as e:  # brian2 itself is missing or broken
        raise ConfigError(f"the brian2 backend needs Brian2 (pip install 'spikerec[brian2]'): {e}") from e
    return brian2_model


def run_brian2(net: Network, frames, window=None, target: str = "numpy") -> tuple[list, list, np.ndarray]:
    """Run ``frames`` [T, B, n_inputs] in Brian2: (spikes per layer [T, B, n] uint8 or None, membranes per layer
    [T, B, n] float64 or None, predictions [B]), 0 after each sample's ``window`` (default: all T steps)."""
    if target not in TARGETS:
        raise ConfigError(f"brian2 target must be one of {list(TARGETS)}, got {target!r}")
    x = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    x = np.asarray(x, dtype=np.float64)
    T, B = x.shape[:2]
    steps = np.full(B, T) if window is None else np.asarray(window).reshape(B)
    spikes, membranes = _model().run(network_params(net), x, target)
    inside = time_mask(steps, T)[:, :, None]
    spikes = [None if s is None else (s * inside).astype(np.uint8) for s in spikes]
    membranes = [None if m is None else m * inside for m in membranes]
    return spikes, membranes, predict_from_outputs(membranes, spikes, net.readout, steps)


def simulate_brian2(net: Network, loader, target: str = "numpy", progress: bool = False) -> dict[str, Any]:
    """Accuracy of Brian2 over ``loader`` (batches of sample windows) and its agreement with the event simulator:
    the fraction of samples whose spike trains are identical in every spiking layer, of equal predictions, and the
    largest readout-membrane difference."""
    from tqdm.auto import tqdm

    sim = EventSimulator(net)
    correct = same_spikes = same_pred = n = 0
    max_mem_diff, seconds = 0.0, {"brian2": 0.0, "event": 0.0}
    with tqdm(total=len(loader.dataset), desc=f"brian2 ({target})", unit="sample", file=sys.stderr,
              disable=not progress) as bar:
        for frames, labels, window, *_ in loader:
            t0 = time.perf_counter()
            spikes, membranes, preds = run_brian2(net, frames, window.numpy(), target)
            t1 = time.perf_counter()
            ref = sim.run(frames, window)
            seconds["brian2"] += t1 - t0
            seconds["event"] += time.perf_counter() - t1
            equal = np.ones(frames.shape[1], dtype=bool)
            for a, b in zip(spikes, ref.spikes):
                if a is not None:
                    equal &= (a == b).all(axis=(0, 2))
            if membranes[-1] is not None:  # the event simulator keeps float32 membranes
                max_mem_diff = max(max_mem_diff, float(np.abs(membranes[-1] - ref.membrane[-1]).max()))
            same_spikes += int(equal.sum())
            same_pred += int((preds == ref.predictions).sum())
            correct += int((preds == labels.numpy()).sum())
            n += frames.shape[1]
            bar.update(frames.shape[1])
    if n == 0:
        raise ConfigError("simulate: the selected split is empty")
    return {"backend": "brian2", "target": target, "accuracy": correct / n, "agreement": same_spikes / n,
            "prediction_agreement": same_pred / n, "max_readout_membrane_diff": max_mem_diff, "n_samples": n,
            "reference": "event simulator (float64)", "seconds": seconds,
            "window": {"drain_steps": int(net.drain_steps), "batch_size": loader.batch_size}}
