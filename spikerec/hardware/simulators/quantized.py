"""A float network and its quantised twin on data: calibration peaks, and accuracy side by side (``spikerec quantize``).

``calibration_ranges(net, loader)`` runs the float network on the event simulator and measures, per layer, the
peak synaptic input of a step (feed-forward from the actual presynaptic spikes, with delays, plus recurrent
and bias, the input decay folded in) and the readout membrane's peak, inside each sample's window
(:mod:`spikerec.window`). ``compare_accuracy(float_net, q_net, loader)`` runs both (the quantised one in integer
arithmetic) on the same batches of sample windows. ``quantize_target(...)`` is the whole command: load a run or a
network file, calibrate on a training split, quantise (:func:`~spikerec.hardware.ir.quantize.quantize_network`),
save, and report accuracy of the float and the quantised network on the evaluation split.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from spikerec.errors import ConfigError
from spikerec.hardware.ir.integer_dynamics import OVERFLOW_KEYS
from spikerec.hardware.ir.network import Layer, Network
from spikerec.hardware.ir.quantize import LayerRange, check_target, effective_synapses, quantize_network
from spikerec.hardware.simulators.event import EventSimulator
from spikerec.window import time_mask

__all__ = ["calibration_ranges", "compare_accuracy", "quantize_target"]


def _layer_currents(layer: Layer, inp: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """Synaptic input per step [T, B, n_out] (float64) of ``layer`` given its input [T, B, n_in] and, for recurrent
    layers, its own spikes [T, B, n_out] (they arrive one step later)."""
    w, r, b = effective_synapses(layer)
    d = layer.dense_delay()
    T, B, n_in = inp.shape
    flat = inp.reshape(T * B, n_in)
    x = np.zeros((T * B, layer.n_out))
    for delay in np.unique(d[w != 0]):
        x[delay * B:] += flat[:(T - delay) * B] @ np.where(d == delay, w, 0.0).T
    if r is not None and out is not None and T > 1:
        x[B:] += out[:-1].reshape((T - 1) * B, -1).astype(np.float64) @ r.T
    x = x.reshape(T, B, layer.n_out)
    return x if b is None else x + b


def calibration_ranges(net: Network, loader, progress: bool = False) -> list[LayerRange]:
    """Per-layer peaks (:class:`~spikerec.hardware.ir.quantize.LayerRange`) of the float ``net`` over ``loader``."""
    from tqdm.auto import tqdm

    sim = EventSimulator(net)
    current = np.zeros(len(net.layers))
    membrane = np.zeros(len(net.layers))
    for frames, _, window, *_ in tqdm(loader, desc="calibrate", unit="batch", file=sys.stderr, disable=not progress):
        res = sim.run(frames, window)
        inside = time_mask(np.asarray(window), frames.shape[0])[:, :, None]
        inp = np.asarray(frames, dtype=np.float64)
        for i, layer in enumerate(net.layers):
            x = _layer_currents(layer, inp, res.spikes[i])
            current[i] = max(current[i], float(np.abs(x * inside).max(initial=0.0)))
            if res.membrane[i] is not None:
                membrane[i] = max(membrane[i], float(np.abs(res.membrane[i]).max(initial=0.0)))
            if res.spikes[i] is not None:
                inp = res.spikes[i].astype(np.float64)
    return [LayerRange(float(c), float(m)) for c, m in zip(current, membrane)]


def compare_accuracy(float_net: Network, q_net: Network, loader, progress: bool = False) -> dict[str, Any]:
    """Accuracy of the float and the quantised network on the same sample windows, their prediction agreement, and
    the quantised run's overflow counts (summed over the samples)."""
    from tqdm.auto import tqdm

    sims = EventSimulator(float_net), EventSimulator(q_net)
    correct = np.zeros(2, dtype=np.int64)
    same = n = 0
    overflow = dict.fromkeys(OVERFLOW_KEYS, 0)
    for frames, labels, window, *_ in tqdm(loader, desc="accuracy", unit="batch", file=sys.stderr,
                                           disable=not progress):
        res_f, res_q = (sim.run(frames, window) for sim in sims)
        y = np.asarray(labels)
        correct += [int((res_f.predictions == y).sum()), int((res_q.predictions == y).sum())]
        same += int((res_f.predictions == res_q.predictions).sum())
        n += len(y)
        for key in OVERFLOW_KEYS:
            overflow[key] += res_q.overflow["total"][key]
    if n == 0:
        raise ConfigError("quantize: the evaluation split is empty")
    return {"accuracy_float": correct[0] / n, "accuracy_quantized": correct[1] / n, "prediction_agreement": same / n,
            "n_samples": n, "overflow": overflow}


def quantize_target(source: str | Path, target: str | Path, output: str | Path, data_dir: str | Path | None = None, *,
                    split: str = "test", calibration_split: str = "train", calibration_samples: int = 256,
                    batch_size: int = 64, limit: int | None = None, delays: str = "error", checkpoint: str = "best",
                    progress: bool = False) -> dict[str, Any]:
    """Quantise a run directory or network file for ``target`` (profile name or TOML path), write ``output``.

    With ``data_dir``: scales are calibrated on the first ``calibration_samples`` of ``calibration_split`` and the
    float and quantised networks are evaluated on ``split`` (first ``limit`` samples). The report holds
    ``accuracy_float``, ``accuracy_quantized`` (None without data), ``saturated`` (quantisation, and overflows in
    the simulation), ``rounded``, ``rounded_delays``, ``approximations`` and per-layer details.
    """
    from spikerec.hardware.ir.load import load_network_file, network_data_loader, network_from_run
    from spikerec.hardware.ir.profile import load_profile

    profile = load_profile(target)
    net = network_from_run(source, checkpoint) if Path(source).is_dir() else load_network_file(source)
    check_target(net, profile, delays)  # before calibration: what cannot fit fails fast
    ranges = calibrated = None
    if data_dir is not None:
        cal = network_data_loader(net, data_dir, calibration_split, batch_size, calibration_samples)
        ranges = calibration_ranges(net, cal, progress)
        calibrated = {"split": calibration_split, "samples": len(cal.dataset)}
    result = quantize_network(net, profile, ranges, delays=delays)
    result.network.save(output)
    report = {"source": str(source), "output": str(output), "calibration": calibrated, **result.report,
              "accuracy_float": None, "accuracy_quantized": None}
    if data_dir is not None:
        loader = network_data_loader(net, data_dir, split, batch_size, limit)
        acc = compare_accuracy(net, result.network, loader, progress)
        report["saturated"]["simulation"] = acc.pop("overflow")
        report.update(acc, split=split, window={"drain_steps": int(net.drain_steps), "batch_size": batch_size})
    return report
