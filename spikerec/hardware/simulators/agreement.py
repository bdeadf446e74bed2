"""The event simulator over a data split, checked against an independent reference, sample by sample.

``simulate_event(net, loader, run_dir)`` runs :class:`~spikerec.hardware.simulators.event.EventSimulator` on
every batch of sample windows and compares each sample's spike trains (inside its window) and prediction
with a reference computed by other code: the trained model of ``run_dir`` (torch, float64, integer delays),
or without a run the dense torch evaluation of the same IR (:func:`~spikerec.hardware.simulators.reference.
torch_reference`). It is what ``spikerec simulate --backend event`` reports.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

from spikerec.errors import ConfigError
from spikerec.hardware.ir.network import Network
from spikerec.hardware.ir.dynamics import predict_from_membrane
from spikerec.hardware.simulators.event import EventSimulator, summarize_counts
from spikerec.hardware.simulators.reference import torch_reference
from spikerec.window import time_mask

__all__ = ["simulate_event"]


def simulate_event(net: Network, loader, run_dir: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Accuracy, spike-train and prediction agreement with the reference, and counts, over ``loader``
    (batches of sample windows, e.g. :func:`~spikerec.hardware.ir.load.network_data_loader`)."""
    from tqdm.auto import tqdm

    sim = EventSimulator(net)
    model = None
    if run_dir is not None:
        from spikerec.training.runs import load_run_model

        model = load_run_model(run_dir)[0].double()
        _check_same_layers(net, model)
    correct = same_spikes = same_pred = n = 0
    counts = []
    with tqdm(total=len(loader.dataset), desc="simulate", unit="sample", file=sys.stderr, disable=not progress) as bar:
        for frames, labels, window, *_ in loader:
            res = sim.run(frames, window)
            ref_spikes, ref_pred = _reference(net, model, frames, window)
            equal = np.ones(frames.shape[1], dtype=bool)
            for a, b in zip([s for s in res.spikes if s is not None], ref_spikes):
                equal &= (a == b).all(axis=(0, 2))
            same_spikes += int(equal.sum())
            same_pred += int((res.predictions == ref_pred).sum())
            correct += int((res.predictions == labels.numpy()).sum())
            n += frames.shape[1]
            counts.append(res.counts_per_sample)
            bar.update(frames.shape[1])
    if n == 0:
        raise ConfigError("simulate: the selected split is empty")
    summary = summarize_counts(np.concatenate(counts, axis=1), sim.names)
    return {"backend": "event", "accuracy": correct / n, "agreement": same_spikes / n,
            "prediction_agreement": same_pred / n, "n_samples": n,
            "reference": "trained model (float64, integer delays)" if model is not None else "torch_reference (float64)",
            "window": {"drain_steps": int(net.drain_steps), "batch_size": loader.batch_size},
            "synaptic_ops": summary["total"]["synaptic_events"], "counts": summary}


@torch.no_grad()
def _reference(net: Network, model, frames: torch.Tensor, window: torch.Tensor) -> tuple[list[np.ndarray], np.ndarray]:
    """(spike trains of the spiking layers, 0 after each sample's window; predictions) of the reference."""
    if model is None:
        outs = torch_reference(net, frames, window)
        spikes = [o.numpy() for o, la in zip(outs, net.layers) if la.kind == "lif"]
        membrane = outs[-1].float().numpy()
    else:
        from spikerec.delays import delay_eval_context
        from spikerec.models.walk import layer_modules

        inside = time_mask(window, frames.shape[0]).unsqueeze(2)
        with delay_eval_context(model, True):
            h = frames.double()
            spikes = []
            for _, kind, module in layer_modules(model):  # the exporter's walk: the IR's layers in order
                h = module(h)
                if kind == "lif":
                    spikes.append((h * inside).numpy())
            membrane = h.float().numpy()
    return spikes, predict_from_membrane(membrane, net.readout, window.numpy())


def _check_same_layers(net: Network, model) -> None:
    """ConfigError unless ``model``'s layers (exporter names and sizes) are ``net``'s."""
    from spikerec.models.walk import layer_modules

    ours = [(name, m.synapse.out_features, m.synapse.in_features) for name, _, m in layer_modules(model)]
    theirs = [(la.name, la.n_out, la.n_in) for la in net.layers]
    if ours != theirs:
        raise ConfigError(f"simulate --run: the network's layers (name, n_out, n_in) {theirs} are not the run's "
                          f"{ours}; was the file exported from this run?")
