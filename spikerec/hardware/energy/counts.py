"""Workload counts of a spiking network on real inputs: what an energy model multiplies by pJ.

``count_workload(network_or_model, frames, window=None)`` runs a
:class:`~spikerec.models.SpikingNetwork` (torch, eval mode, integer delays; the HRSNN is one) or a
:class:`~spikerec.hardware.ir.network.Network` (through the event simulator) on ``frames`` [T, B, C] and
counts, per layer and per sample, the steps of each sample's window (:mod:`spikerec.window`: its frames and
drain; steps ``t >= window[b]`` are batch padding and are not counted):

* ``input_spikes``: input events, i.e. non-zero input entries (a frame bin holding k spikes is one
  event whose value scales the weight, as in the IR and NeuroBench);
* ``synaptic_ops``: feed-forward synaptic events = sum over events of the presynaptic fan-out
  (non-zero weights only, so pruned synapses cost nothing). Delays move an event in time but not its
  count: every event is delivered to all its targets;
* ``recurrent_ops``: spikes emitted x recurrent fan-out (they arrive one step later);
* ``dense_macs``: MACs of the same layer run densely as an ANN, ``steps x n_in x n_out`` (+ ``n_out^2``
  recurrent), i.e. NeuroBench's "Dense"; ``ann_macs``: the same ANN skipping pruned weights
  (``steps x`` non-zero synapses), the baseline the energy report uses;
* ``neuron_updates`` (``steps x n_out``; every neuron is updated every step) and ``spikes_out``;
* memory traffic: ``weight_reads`` (one per synaptic event), ``state_reads``/``state_writes`` (membrane
  read and written once per neuron update), and for the ANN baseline ``ann_weight_reads``,
  ``ann_activation_reads`` (``steps x n_in``, plus ``n_out`` with recurrence) and ``ann_activation_writes`` (``steps x n_out``);
* ``time_steps``.

Whole-network figures: ``activation_sparsity`` (1 - spikes / (spiking neurons x steps), over the
spiking layers only, NeuroBench's definition with our LIF registered as activation),
``connection_sparsity`` (zero weights / all weights), ``parameter_count`` and ``footprint_bytes``.
Optionally (``crossbar=CrossbarGeometry(...)``) crossbar counts for the memristive energy model:
``crossbar_row_reads``, ``adc_conversions``, ``tile_steps`` (see :class:`CrossbarGeometry`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp
import torch

from spikerec.errors import ConfigError, ShapeError
from spikerec.hardware.ir.network import SPIKING_KINDS
from spikerec.window import time_mask

__all__ = ["COUNT_KEYS", "CrossbarGeometry", "LayerStructure", "Workload", "count_workload", "count_dataset",
           "structure_from_model", "structure_from_network"]

COUNT_KEYS = ("time_steps", "input_spikes", "synaptic_ops", "recurrent_ops", "dense_macs", "ann_macs",
              "neuron_updates", "spikes_out", "weight_reads", "state_reads", "state_writes", "ann_weight_reads",
              "ann_activation_reads", "ann_activation_writes")
CROSSBAR_KEYS = ("crossbar_row_reads", "adc_conversions", "tile_steps")


@dataclass(frozen=True)
class CrossbarGeometry:
    """How a layer's weight matrix is cut into crossbar tiles, as :mod:`spikerec.hardware.simulators.crossbar` does.

    Inputs drive word lines (``tile_rows`` per tile); each output is a differential column pair (``tile_cols``
    pairs per tile) with its own ADC. Per step, every input event drives its row in each column tile of
    the layer (``crossbar_row_reads``); every tile with at least one driven row converts each of its
    column pairs once (``adc_conversions``); ``tile_steps`` = tiles x steps (static periphery). A
    recurrent weight matrix occupies its own tiles, driven by the layer's spikes.
    """

    tile_rows: int = 256  # the crossbar simulator's CrossbarConfig names
    tile_cols: int = 256

    def __post_init__(self):
        for name in ("tile_rows", "tile_cols"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"crossbar geometry: {name} must be an integer >= 1, got {getattr(self, name)!r}")

    def column_tiles(self, n_out: int) -> int:
        return math.ceil(n_out / self.tile_cols)

    def row_tiles(self, n_in: int) -> int:
        return math.ceil(n_in / self.tile_rows)

    def tiles(self, n_in: int, n_out: int) -> int:
        """Tiles of a [n_out, n_in] matrix (``MappedMatrix.n_tiles`` of the crossbar simulator)."""
        return self.row_tiles(n_in) * self.column_tiles(n_out)


@dataclass
class LayerStructure:
    """What counting needs to know about one layer (no weights values, only who connects to whom)."""

    name: str
    kind: str  # a Network layer kind: spiking ("lif", "cuba_lif") or not ("li", "cuba_li")
    n_in: int
    n_out: int
    fan_out: np.ndarray  # int64 [n_in]: non-zero feed-forward synapses per presynaptic channel
    recurrent_fan_out: np.ndarray | None  # int64 [n_out] or None
    n_parameters: int = 0

    @property
    def n_state(self) -> int:
        """State variables updated per step (one membrane per neuron)."""
        return self.n_out

    @property
    def n_synapses(self) -> int:
        return int(self.fan_out.sum())

    @property
    def n_recurrent_synapses(self) -> int:
        return 0 if self.recurrent_fan_out is None else int(self.recurrent_fan_out.sum())

    @property
    def n_possible(self) -> int:
        """All feed-forward + recurrent weight positions (dense size)."""
        return self.n_in * self.n_out + (self.n_out * self.n_out if self.recurrent_fan_out is not None else 0)


@dataclass
class Workload:
    """Counts summed over ``n_samples`` samples; ``per_sample()`` gives the means.

    ``layers``: {layer name: {count key: total}}; ``structure``: the layers counted; whole-network
    ``parameter_count``, ``footprint_bytes`` and ``connection_sparsity`` are static.
    """

    structure: list[LayerStructure]
    layers: dict[str, dict[str, float]]
    n_samples: int
    parameter_count: int
    footprint_bytes: int
    crossbar: CrossbarGeometry | None = None
    source: str = ""  # "model" (torch) | "network" (IR through the event simulator)

    @property
    def keys(self) -> tuple[str, ...]:
        return COUNT_KEYS + (CROSSBAR_KEYS if self.crossbar is not None else ())

    def total(self) -> dict[str, float]:
        """Counts summed over layers (still summed over samples)."""
        return {k: float(sum(layer[k] for layer in self.layers.values())) for k in self.keys}

    def per_sample(self) -> dict[str, dict[str, float]]:
        """{layer name | "total": {key: mean per sample}}."""
        n = max(self.n_samples, 1)
        out = {name: {k: v / n for k, v in counts.items()} for name, counts in self.layers.items()}
        out["total"] = {k: v / n for k, v in self.total().items()}
        return out

    @property
    def activation_sparsity(self) -> float:
        """1 - spikes / (neuron updates), over spiking layers; NaN without spiking layers."""
        spiking = [s.name for s in self.structure if s.kind in SPIKING_KINDS]
        updates = sum(self.layers[n]["neuron_updates"] for n in spiking)
        spikes = sum(self.layers[n]["spikes_out"] for n in spiking)
        return 1.0 - spikes / updates if updates else float("nan")

    @property
    def connection_sparsity(self) -> float:
        """Fraction of zero weights among all feed-forward and recurrent weight positions."""
        possible = sum(s.n_possible for s in self.structure)
        present = sum(s.n_synapses + s.n_recurrent_synapses for s in self.structure)
        return 1.0 - present / possible

    def merge(self, other: "Workload") -> "Workload":
        """Sum of two workloads of the same network (e.g. two batches)."""
        if [s.name for s in self.structure] != [s.name for s in other.structure] or self.crossbar != other.crossbar:
            raise ConfigError("Workload.merge: the workloads come from different networks or crossbar geometries")
        layers = {name: {k: v + other.layers[name][k] for k, v in counts.items()} for name, counts in self.layers.items()}
        return Workload(self.structure, layers, self.n_samples + other.n_samples, self.parameter_count,
                        self.footprint_bytes, self.crossbar, self.source)

    def simulator_counts(self) -> dict[str, dict[str, float]]:
        """The counts under the event simulator's names and layout (``EventSimulator.run(...).counts``):
        per-sample means and ``<name>_total`` sums; ``synaptic_events`` = ``synaptic_ops + recurrent_ops``."""
        n = max(self.n_samples, 1)
        out = {}
        for name, c in [*self.layers.items(), ("total", self.total())]:
            sums = {"input_spikes": c["input_spikes"], "synaptic_events": c["synaptic_ops"] + c["recurrent_ops"],
                    "neuron_updates": c["neuron_updates"], "spikes_out": c["spikes_out"]}
            out[name] = {**{k: v / n for k, v in sums.items()}, **{f"{k}_total": int(v) for k, v in sums.items()}}
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: per-sample means per layer and in total, plus the static figures."""
        per, total = self.per_sample(), self.total()
        return {
            "n_samples": self.n_samples,
            "source": self.source,
            "synaptic_ops": (total["synaptic_ops"] + total["recurrent_ops"]) / max(self.n_samples, 1),
            "activation_sparsity": self.activation_sparsity,
            "connection_sparsity": self.connection_sparsity,
            "parameter_count": self.parameter_count,
            "footprint_bytes": self.footprint_bytes,
            "per_sample": per,
            "layers": [{"name": s.name, "kind": s.kind, "n_in": s.n_in, "n_out": s.n_out, "n_synapses": s.n_synapses,
                        "n_recurrent_synapses": s.n_recurrent_synapses} for s in self.structure],
            **({"crossbar": vars(self.crossbar)} if self.crossbar is not None else {}),
        }


# -- structure ------------------------------------------------------------------------------------

def _column_nonzeros(m) -> np.ndarray:
    """Non-zero entries per column of a dense/CSR matrix [n_out, n_in] -> int64 [n_in] (the fan-out)."""
    if sp.issparse(m):
        coo = sp.coo_array(m)
        return np.bincount(coo.col[coo.data != 0], minlength=m.shape[1]).astype(np.int64)
    return np.count_nonzero(np.asarray(m), axis=0).astype(np.int64)


def structure_from_network(network) -> list[LayerStructure]:
    """Counting structure of a :class:`~spikerec.hardware.ir.network.Network`.

    ``n_parameters`` = synapses + stored delays + per-neuron decay, threshold (and bias).
    """
    from spikerec.hardware.ir.network import nonzero_count

    out = []
    for layer in network.layers:
        rec = None if layer.recurrent_weight is None else _column_nonzeros(layer.recurrent_weight)
        n_delays = 0 if layer.delay is None else nonzero_count(layer.weight)  # one stored delay per synapse
        n_params = layer.n_synapses + n_delays + layer.n_out * 2 + (0 if layer.bias is None else layer.n_out)
        out.append(LayerStructure(layer.name, layer.kind, layer.n_in, layer.n_out, _column_nonzeros(layer.weight),
                                  rec, n_params))
    return out


def structure_from_model(model: torch.nn.Module) -> list[LayerStructure]:
    """Counting structure of a :class:`~spikerec.models.SpikingNetwork` (layer names as in the IR), from the
    exporter's own walk of the model (:func:`~spikerec.hardware.ir.from_model.model_layers`): a synapse exists
    where its (tap-merged, masked) weight is non-zero. ``n_parameters`` counts the torch parameters."""
    from spikerec.hardware.ir.from_model import model_layers

    out = []
    for layer in model_layers(model):
        rec = layer.recurrent_weight()
        out.append(LayerStructure(layer.name, layer.kind, layer.weight.shape[1], layer.weight.shape[0],
                                  _column_nonzeros(layer.weight), None if rec is None else _column_nonzeros(rec),
                                  sum(p.numel() for p in layer.module.parameters())))
    return out


# -- activity -------------------------------------------------------------------------------------

def _model_activity(model: torch.nn.Module, frames: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Run ``model`` (eval, integer delays) and capture (layer input, layer output spikes) per layer."""
    from spikerec.delays import delay_eval_context

    was_training = model.training
    model.eval()
    try:
        return _hooked_activity(model, frames, delay_eval_context)
    finally:
        model.train(was_training)


def _hooked_activity(model: torch.nn.Module, frames: torch.Tensor, delay_eval_context):
    """Forward hooks on every synapse (its input) and hidden neuron (its spikes) of a SpikingNetwork."""
    from spikerec.models.walk import layer_io_modules, layer_modules

    layers = [layer_io_modules(kind, module) for _, kind, module in layer_modules(model)]
    captured: dict[int, list] = {i: [None, None] for i in range(len(layers))}
    handles = []
    for index, (first, spiking) in enumerate(layers):
        handles.append(first.register_forward_pre_hook(
            lambda mod, args, i=index: captured[i].__setitem__(0, args[0].detach())))
        if spiking is not None:
            handles.append(spiking.register_forward_hook(
                lambda mod, args, out, i=index: captured[i].__setitem__(1, out.detach())))
    try:
        with torch.no_grad(), delay_eval_context(model, True):
            model(frames)
    finally:
        for h in handles:
            h.remove()
    return [(captured[i][0], captured[i][1]) for i in range(len(layers))]


def _network_activity(network, frames: torch.Tensor, window: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Run the event simulator on ``frames`` over each sample's window; (layer input, layer output spikes) per layer."""
    from spikerec.hardware.simulators.event import EventSimulator

    result = EventSimulator(network).run(frames, window)
    out, x = [], frames
    for layer, spikes in zip(network.layers, result.spikes):
        s = None if not layer.spiking else torch.as_tensor(np.asarray(spikes)).to(torch.float32)
        out.append((x, s))
        x = s
    return out


# -- counting -------------------------------------------------------------------------------------

def _events_per_channel(x: torch.Tensor, valid: torch.Tensor) -> np.ndarray:
    """Non-zero entries per (sample, channel) over valid steps: int64 [B, C]."""
    return ((x != 0) & valid.unsqueeze(-1)).sum(dim=0).cpu().numpy().astype(np.int64)


def _row_block_activity(x: torch.Tensor, valid: torch.Tensor, rows: int) -> np.ndarray:
    """Steps at which each row block of ``rows`` channels has at least one event: int64 [B] summed over blocks."""
    t, b, c = x.shape
    pad = (-c) % rows
    active = (x != 0) & valid.unsqueeze(-1)
    if pad:
        active = torch.cat([active, active.new_zeros(t, b, pad)], dim=-1)
    return active.view(t, b, -1, rows).any(dim=-1).sum(dim=(0, 2)).cpu().numpy().astype(np.int64)


def _layer_counts(s: LayerStructure, x: torch.Tensor, spikes: torch.Tensor | None, window: np.ndarray,
                  valid: torch.Tensor, crossbar: CrossbarGeometry | None) -> dict[str, np.ndarray]:
    """Per-sample counts (int64 [B]) of one layer over each sample's window."""
    events = _events_per_channel(x, valid)  # [B, n_in]
    steps = window.astype(np.int64)
    c: dict[str, np.ndarray] = {"time_steps": steps, "input_spikes": events.sum(axis=1),
                                "synaptic_ops": events @ s.fan_out}
    spikes_out = np.zeros_like(steps)
    recurrent = np.zeros_like(steps)
    if spikes is not None:
        out_events = _events_per_channel(spikes, valid)  # [B, n_out]
        spikes_out = out_events.sum(axis=1)
        if s.recurrent_fan_out is not None:
            recurrent = out_events @ s.recurrent_fan_out
    c["recurrent_ops"] = recurrent
    c["dense_macs"] = steps * s.n_possible
    c["ann_macs"] = steps * (s.n_synapses + s.n_recurrent_synapses)
    c["neuron_updates"] = steps * s.n_state
    c["spikes_out"] = spikes_out
    c["weight_reads"] = c["synaptic_ops"] + recurrent
    c["state_reads"] = c["neuron_updates"]
    c["state_writes"] = c["neuron_updates"]
    c["ann_weight_reads"] = c["ann_macs"]
    c["ann_activation_reads"] = steps * (s.n_in + (s.n_out if s.recurrent_fan_out is not None else 0))
    c["ann_activation_writes"] = steps * s.n_out
    if crossbar is not None:
        col_tiles = crossbar.column_tiles(s.n_out)
        tiles = crossbar.tiles(s.n_in, s.n_out)
        active_blocks = _row_block_activity(x, valid, crossbar.tile_rows)
        row_reads = c["input_spikes"] * col_tiles
        if s.recurrent_fan_out is not None and spikes is not None:
            tiles += crossbar.tiles(s.n_out, s.n_out)
            # recurrent tiles are driven by the layer's own spikes (read one step later; like recurrent_ops,
            # every spike counts, also those of the last step)
            active_blocks = active_blocks + _row_block_activity(spikes, valid, crossbar.tile_rows)
            row_reads = row_reads + spikes_out * col_tiles
        c["crossbar_row_reads"] = row_reads
        c["adc_conversions"] = active_blocks * s.n_out  # one per column pair of the active row block's tiles
        c["tile_steps"] = steps * tiles
    return c


def _as_frames(frames) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames).to(torch.float32).cpu()
    if x.dim() != 3:
        raise ShapeError(f"count_workload: frames must be [T, B, C] (time-major), got shape {list(x.shape)}")
    return x


def count_workload(network_or_model, frames, window=None, *, crossbar: CrossbarGeometry | None = None) -> Workload:
    """Count the workload of ``network_or_model`` on ``frames`` [T, B, C] (see the module docstring).

    ``window`` [B] (steps of each sample's window, default T): later steps are padding and are not counted.
    A torch :class:`~spikerec.models.SpikingNetwork` (the HRSNN is one) runs in eval
    mode with integer delays; a :class:`~spikerec.hardware.ir.network.Network` runs in the event simulator.
    """
    from spikerec.hardware.ir.network import Network

    x = _as_frames(frames)
    t, b, _ = x.shape
    window = np.full(b, t, dtype=np.int64) if window is None else np.asarray(
        torch.as_tensor(window).cpu(), dtype=np.int64)
    if window.shape != (b,) or (window < 0).any() or (window > t).any():
        raise ShapeError(f"count_workload: window must be [B={b}] integers in [0, T={t}], got {window.tolist()}")
    is_network = isinstance(network_or_model, Network)
    if is_network:
        structure = structure_from_network(network_or_model)
    elif isinstance(network_or_model, torch.nn.Module):
        structure = structure_from_model(network_or_model)
    else:
        raise ConfigError(f"count_workload: expected a spikerec Network or SpikingNetwork, got "
                          f"{type(network_or_model).__name__}")
    if structure[0].n_in != x.shape[2]:
        raise ShapeError(f"count_workload: frames have {x.shape[2]} channels but the first layer reads "
                         f"{structure[0].n_in}")
    if is_network:
        activity = _network_activity(network_or_model, x, window)
        n_params = sum(s.n_parameters for s in structure)
        footprint = _network_footprint(network_or_model)
    else:
        param = next(network_or_model.parameters())
        activity = [(a.cpu(), None if s is None else s.cpu())
                    for a, s in _model_activity(network_or_model, x.to(param.device, param.dtype))]
        n_params = sum(p.numel() for p in network_or_model.parameters())
        footprint = sum(p.numel() * p.element_size() for p in network_or_model.parameters()) + sum(
            buf.numel() * buf.element_size() for buf in network_or_model.buffers())
    valid = time_mask(torch.as_tensor(window), t)
    layers = {}
    for s, (inp, spikes) in zip(structure, activity):
        counts = _layer_counts(s, inp, spikes, window, valid, crossbar)
        layers[s.name] = {k: float(v.sum()) for k, v in counts.items()}
    return Workload(structure, layers, b, int(n_params), int(footprint), crossbar, "network" if is_network else "model")


def _network_footprint(network) -> int:
    """Bytes of the IR's arrays as stored (dense arrays, or CSR data + indices + indptr)."""
    total = 0
    for layer in network.layers:
        for value in (layer.weight, layer.delay, layer.recurrent_weight, layer.bias, layer.decay, layer.threshold):
            if value is None:
                continue
            if sp.issparse(value):
                total += value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
            else:
                total += np.asarray(value).nbytes
    return total


def count_dataset(network_or_model, batches: Iterable, *, crossbar: CrossbarGeometry | None = None,
                  max_samples: int | None = None) -> Workload:
    """Sum :func:`count_workload` over ``batches`` of ``(frames [T, B, C], labels, window, ...)``
    (:class:`~spikerec.datasets.Batch`)."""
    total = None
    seen = 0
    for batch in batches:
        frames = batch[0]
        window = batch[2] if len(batch) > 2 else None
        if max_samples is not None and seen + frames.shape[1] > max_samples:
            keep = max_samples - seen
            frames = frames[:, :keep]
            window = None if window is None else window[:keep]
        if frames.shape[1] == 0:
            break
        w = count_workload(network_or_model, frames, window, crossbar=crossbar)
        total = w if total is None else total.merge(w)
        seen += frames.shape[1]
        if max_samples is not None and seen >= max_samples:
            break
    if total is None:
        raise ConfigError("count_dataset: no samples to count (empty data split?)")
    return total
