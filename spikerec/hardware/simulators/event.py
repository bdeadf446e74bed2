"""Event-driven simulator of a :class:`~spikerec.hardware.ir.network.Network`, the way neuromorphic chips run it.

Only spikes move. Each event (a spike, or a non-zero input-frame entry carrying its value) is fanned
out through its presynaptic CSR row ``(post, weight, delay)`` into a per-layer ring buffer of
``max_delay + 1`` slots, at slot ``(t + delay) mod R``; recurrent spikes land in a separate buffer read
at ``t + 1``. On the dt grid every neuron then reads its slot, updates with the exported parameters
(the exact formulas of :mod:`spikerec.neurons.functional`, operation for operation) and emits
spikes (:func:`~spikerec.hardware.ir.dynamics.update_neurons`, the IR's update written once). Work is
``O(events x fan-out)`` for synapses plus ``O(n_out)`` neuron updates per step.

Precision policy: currents and membranes are float64 (parameters are the IR's float32 values).
Event accumulation sums synapses in a different order than a matmul, so spike-exactness against
a torch model holds by design when that model also runs in float64 with the same parameters
(:func:`spikerec.hardware.simulators.reference.torch_reference`): the order-dependent error (~1e-16 relative)
can only flip a spike whose membrane is that close to threshold. Against the trained float32
model the agreement is measured and reported (docs/hardware.md).

Sample windows (:mod:`spikerec.window`): ``run(frames, window)`` simulates sample ``b`` for its
``window[b]`` steps only (its frames and drain; later steps of the padded batch are not run, their spikes
and membranes stay 0), reads its prediction from those steps and counts them. Streaming:
:meth:`EventSimulator.predict_stream` feeds one sample's frames and then ``network.drain_steps`` empty
frames through :meth:`EventSimulator.step`, exactly as a chip would see it.

Quantised networks (``network.profile`` set) run in exact integer arithmetic:
:class:`~spikerec.hardware.simulators.fixed_point.FixedPointSimulator` takes over ``run``, ``initial_state`` and ``step``.

Counts (per layer, and ``"total"``): ``input_spikes`` (events arriving), ``synaptic_events``
(events x fan-out actually delivered, feed-forward + recurrent), ``neuron_updates`` (``n_out`` per
step) and ``spikes_out``; per-sample means under those names and sums under ``<name>_total``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from spikerec.errors import ShapeError
from spikerec.hardware.ir.dynamics import predict_from_outputs, readout_scores, update_neurons
from spikerec.hardware.ir.network import Layer, Network
from spikerec.hardware.simulators.event_tables import SIM_COUNT_KEYS, SimResult, fanout, summarize_counts, window_steps

__all__ = ["EventSimulator", "SimResult", "SimState", "SIM_COUNT_KEYS"]

# itself (spikerec.hardware.energy.counts.COUNT_KEYS is the full workload; Workload.simulator_counts maps it to these)
_EMPTY_I = np.zeros(1, dtype=np.int64)
_EMPTY_F = np.zeros(1, dtype=np.float64)


# -- kernels (one sample, one step; the batched and streaming paths both call these) -------------

@njit(cache=True, nogil=True)
def _layer_step(in_idx, in_val, n_events, ff_ptr, ff_post, ff_w, ff_d, rec_ptr, rec_post, rec_w, has_rec,
                ring, t, v, syn, rec_cur, bias, alpha, has_syn, beta, k, th, vr, decay_input, hard, spiking, out_idx,
                counts):
    """Deliver ``n_events`` input events, update the layer, emit spikes into ``out_idx``.

    ``counts`` [4] int64 accumulates input events, synaptic events, neuron updates, spikes.
    Returns the number of output spikes. ``v`` holds the membrane after the step (non-spiking kinds: output),
    ``syn`` the synaptic currents (kinds "cuba_*").
    """
    R = ring.shape[0]
    slot = t % R
    ops = 0
    for e in range(n_events):
        j = in_idx[e]
        x = in_val[e]
        start, stop = ff_ptr[j], ff_ptr[j + 1]
        for p in range(start, stop):
            ring[(slot + ff_d[p]) % R, ff_post[p]] += ff_w[p] * x
        ops += stop - start
    cur = ring[slot]
    n_spk = update_neurons(v, syn, cur, bias, rec_cur, has_rec, alpha, has_syn, beta, k, th, vr, decay_input, hard,
                           spiking, out_idx)
    cur[:] = 0.0
    if has_rec:
        rec_cur[:] = 0.0
    if has_rec:
        for e in range(n_spk):
            j = out_idx[e]
            start, stop = rec_ptr[j], rec_ptr[j + 1]
            for p in range(start, stop):
                rec_cur[rec_post[p]] += rec_w[p]
            ops += stop - start
    counts[0] += n_events
    counts[1] += ops
    counts[2] += v.shape[0]
    counts[3] += n_spk
    return n_spk


@njit(cache=True, nogil=True)
def _frame_events(frame, idx, val):
    """Non-zero entries of one input frame as an event list; returns the count."""
    n = 0
    for j in range(frame.shape[0]):
        x = frame[j]
        if x != 0.0:
            idx[n] = j
            val[n] = x
            n += 1
    return n


@njit(cache=True, nogil=True)
def _network_step(frame, t, n_in, n_out, ff_ptr, ff_ptr_off, ff_post, ff_w, ff_d, syn_off, rec_ptr, rec_ptr_off,
                  rec_post, rec_w, rec_off, slots, flags, neuron_off, bias, alpha, beta, k, th, vr, ring, ring_off, v,
                  syn, rec_cur, idx, val, ones, spk_idx, spk_n, counts):
    """One step of every layer for one sample, tables flattened across layers (one dispatch per step).

    ``flags`` [L, 5]: has_rec, decay_input, hard reset, spiking, has_syn. Spiking neuron indices of layer ``l``
    land in ``spk_idx[neuron_off[l]:][:spk_n[l]]``.
    """
    n = _frame_events(frame, idx, val)
    ev_idx, ev_val = idx, val
    for l in range(n_out.shape[0]):
        ni, no, nb = n_in[l], n_out[l], neuron_off[l]
        fp = ff_ptr[ff_ptr_off[l]:ff_ptr_off[l] + ni + 1]
        so, se = syn_off[l], syn_off[l + 1]
        rp = rec_ptr[rec_ptr_off[l]:rec_ptr_off[l] + no + 1]
        ro, re = rec_off[l], rec_off[l + 1]
        ring_l = ring[ring_off[l]:ring_off[l] + slots[l] * no].reshape((slots[l], no))
        out = spk_idx[nb:nb + no]
        n = _layer_step(ev_idx, ev_val, n, fp, ff_post[so:se], ff_w[so:se], ff_d[so:se], rp, rec_post[ro:re],
                        rec_w[ro:re], flags[l, 0] != 0, ring_l, t, v[nb:nb + no], syn[nb:nb + no], rec_cur[nb:nb + no],
                        bias[nb:nb + no], alpha[nb:nb + no], flags[l, 4] != 0, beta[nb:nb + no], k[nb:nb + no],
                        th[nb:nb + no], vr[l], flags[l, 1] != 0, flags[l, 2] != 0, flags[l, 3] != 0, out, counts[l])
        spk_n[l] = n
        ev_idx, ev_val = out, ones


# -- compiled layer tables ------------------------------------------------------------------------

@dataclass
class _Tables:
    """Per-layer fan-out tables (presynaptic CSR) and float64 parameters."""

    ff_ptr: np.ndarray
    ff_post: np.ndarray
    ff_w: np.ndarray
    ff_d: np.ndarray
    rec_ptr: np.ndarray
    rec_post: np.ndarray
    rec_w: np.ndarray
    has_rec: bool
    ring_slots: int
    bias: np.ndarray
    alpha: np.ndarray  # synaptic decay (zeros without a synaptic state)
    has_syn: bool
    beta: np.ndarray
    k: np.ndarray
    th: np.ndarray
    vr: float
    decay_input: bool
    hard: bool
    spiking: bool


def _tables(layer: Layer) -> _Tables:
    ff_ptr, ff_post, ff_w, ff_d = fanout(layer.weight, layer.delay)
    if layer.recurrent_weight is not None:
        rec_ptr, rec_post, rec_w, _ = fanout(layer.recurrent_weight, None)
        has_rec = True
    else:
        rec_ptr, rec_post, rec_w, has_rec = np.zeros(2, np.int64), _EMPTY_I, _EMPTY_F, False
    beta = layer.decay.astype(np.float64)
    bias = np.zeros(layer.n_out) if layer.bias is None else layer.bias.astype(np.float64)
    alpha = np.zeros(layer.n_out) if layer.syn_decay is None else layer.syn_decay.astype(np.float64)
    return _Tables(ff_ptr, ff_post, ff_w, ff_d, rec_ptr, rec_post, rec_w, has_rec,
                   int(ff_d.max()) + 1 if ff_d.size else 1, bias, alpha, layer.has_synapse, beta, 1.0 - beta,
                   layer.threshold.astype(np.float64), float(layer.v_reset), bool(layer.decay_input),
                   layer.reset == "hard", layer.spiking)


def _flatten(network: Network, tables: list[_Tables]) -> dict[str, np.ndarray]:
    """Concatenate the per-layer tables for :func:`_network_step` (offsets index the pieces)."""
    def offsets(sizes):
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    layers = network.layers
    n_out = np.array([la.n_out for la in layers], dtype=np.int64)
    flat = {
        "n_in": np.array([la.n_in for la in layers], dtype=np.int64), "n_out": n_out,
        "ff_ptr": np.concatenate([tb.ff_ptr for tb in tables]),
        "ff_ptr_off": offsets([tb.ff_ptr.size for tb in tables])[:-1],
        "ff_post": np.concatenate([tb.ff_post for tb in tables]), "ff_w": np.concatenate([tb.ff_w for tb in tables]),
        "ff_d": np.concatenate([tb.ff_d for tb in tables]), "syn_off": offsets([tb.ff_post.size for tb in tables]),
        "rec_ptr": np.concatenate([tb.rec_ptr if tb.has_rec else np.zeros(la.n_out + 1, np.int64)
                                   for la, tb in zip(layers, tables)]),
        "rec_ptr_off": offsets([la.n_out + 1 for la in layers])[:-1],
        "rec_post": np.concatenate([tb.rec_post[:tb.rec_ptr[-1]] for tb in tables]),
        "rec_w": np.concatenate([tb.rec_w[:tb.rec_ptr[-1]] for tb in tables]),
        "rec_off": offsets([int(tb.rec_ptr[-1]) for tb in tables]),
        "slots": np.array([tb.ring_slots for tb in tables], dtype=np.int64),
        "flags": np.array([[tb.has_rec, tb.decay_input, tb.hard, tb.spiking, tb.has_syn] for tb in tables],
                          dtype=np.int64),
        "neuron_off": offsets(n_out)[:-1],
        "bias": np.concatenate([tb.bias for tb in tables]), "alpha": np.concatenate([tb.alpha for tb in tables]),
        "beta": np.concatenate([tb.beta for tb in tables]),
        "k": np.concatenate([tb.k for tb in tables]), "th": np.concatenate([tb.th for tb in tables]),
        "vr": np.array([tb.vr for tb in tables], dtype=np.float64),
    }
    flat["ring_off"] = offsets([tb.ring_slots * la.n_out for la, tb in zip(layers, tables)])
    return flat


# -- state and results ----------------------------------------------------------------------------

@dataclass
class SimState:
    """Streaming state for ``batch_size`` samples, all layers concatenated along the last axis
    (layer ``l`` owns neurons ``neuron_off[l]:neuron_off[l+1]`` and ring cells ``ring_off[l]:ring_off[l+1]``)."""

    t: int
    v: np.ndarray  # [B, total neurons] float64 membranes
    syn: np.ndarray  # [B, total neurons] float64 synaptic currents (0 for layers without one)
    ring: np.ndarray  # [B, total ring cells] float64 delay buffers (slot-major per layer)
    rec: np.ndarray  # [B, total neurons] float64 recurrent input for the next step
    counts: np.ndarray  # [n_layers, B, 4] int64 running counts (SIM_COUNT_KEYS order)


# -- simulator ------------------------------------------------------------------------------------

class EventSimulator:
    """Event-driven simulation of ``network``: ``run(frames [T, B, n_inputs])`` or streaming ``step``."""

    def __init__(self, network: Network):
        network.validate()
        self.network = network
        self.tables = [_tables(layer) for layer in network.layers]
        self.names = [layer.name for layer in network.layers]
        self._flat = _flatten(network, self.tables)
        width = max(network.n_inputs, *(la.n_out for la in network.layers))
        n_neurons = int(self._flat["n_out"].sum())
        self._scratch = (np.empty(width, np.int64), np.empty(width), np.ones(width), np.empty(n_neurons, np.int64),
                         np.zeros(len(network.layers), np.int64))
        self._fixed = None
        if network.profile is not None:
            from spikerec.hardware.simulators.fixed_point import FixedPointSimulator

            self._fixed = FixedPointSimulator(network)

    # streaming --------------------------------------------------------------------------------
    def initial_state(self, batch_size: int = 1) -> SimState:
        """Membranes at each layer's initial value (``Layer.initial_membrane``), empty buffers."""
        if self._fixed is not None:
            return self._fixed.initial_state(batch_size)
        f = self._flat
        v0 = np.concatenate([la.initial_membrane() for la in self.network.layers])
        n = v0.size
        return SimState(0, np.tile(v0, (batch_size, 1)), np.zeros((batch_size, n)),
                        np.zeros((batch_size, int(f["ring_off"][-1]))), np.zeros((batch_size, n)),
                        np.zeros((len(self.tables), batch_size, 4), dtype=np.int64))

    def step(self, frame_t, state: SimState) -> tuple[dict[str, Any], SimState]:
        """One dt step for ``frame_t`` [B, n_inputs] (or [n_inputs] for batch 1); updates ``state`` in place.

        Returns ``({"spikes": per layer, per sample the indices of the neurons that spiked,
        "output": last layer's membrane [B, n_out] float64}, state)``.
        """
        if self._fixed is not None:
            return self._fixed.step(frame_t, state)
        frame = np.asarray(frame_t, dtype=np.float64)
        if frame.ndim == 1:
            frame = frame[None]
        B = state.v.shape[0]
        if frame.shape != (B, self.network.n_inputs):
            raise ShapeError(f"EventSimulator.step: frame must be [{B}, {self.network.n_inputs}], got {list(frame.shape)}")
        f, (idx, val, ones, spk_idx, spk_n) = self._flat, self._scratch
        offs = f["neuron_off"]
        spikes: list[list[np.ndarray]] = [[] for _ in self.tables]
        for b in range(B):
            _network_step(frame[b], state.t, f["n_in"], f["n_out"], f["ff_ptr"], f["ff_ptr_off"], f["ff_post"],
                          f["ff_w"], f["ff_d"], f["syn_off"], f["rec_ptr"], f["rec_ptr_off"], f["rec_post"],
                          f["rec_w"], f["rec_off"], f["slots"], f["flags"], offs, f["bias"], f["alpha"], f["beta"],
                          f["k"], f["th"], f["vr"], state.ring[b], f["ring_off"], state.v[b], state.syn[b], state.rec[b],
                          idx, val, ones, spk_idx, spk_n, state.counts[:, b])
            for li in range(len(self.tables)):
                spikes[li].append(spk_idx[offs[li]:offs[li] + spk_n[li]].copy())
        state.t += 1
        last = offs[-1]
        return {"spikes": spikes, "output": state.v[:, last:].copy()}, state

    def predict_stream(self, frames) -> tuple[int, np.ndarray]:
        """Stream one sample through :meth:`step`: its frames [T_i, n_inputs], then ``network.drain_steps``
        empty frames; returns (predicted class, class scores [n_classes]) read over that window."""
        x = np.asarray(frames, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.network.n_inputs:
            raise ShapeError(f"EventSimulator.predict_stream: frames must be [T, {self.network.n_inputs}] (one sample), "
                             f"got {list(x.shape)}")
        state = self.initial_state(1)
        drain = np.zeros((self.network.drain_steps, x.shape[1]))
        outputs, spikes = [], []
        for frame in np.concatenate([x, drain]):
            out, state = self.step(frame, state)
            outputs.append(out["output"])
            spikes.append(np.bincount(out["spikes"][-1][0], minlength=self.network.n_classes))
        if self.tables[-1].spiking:
            scores = np.sum(spikes, axis=0).astype(np.float64)
        else:
            scores = readout_scores(np.stack(outputs), self.network.readout)[0]
        return int(scores.argmax()), scores

    # batched ----------------------------------------------------------------------------------
    def run(self, frames, window=None) -> SimResult:
        """Simulate ``frames`` [T, B, n_inputs] (numpy or torch); returns a :class:`SimResult`.

        ``window`` [B] (a :class:`~spikerec.datasets.Batch`'s ``window``: own frames + drain): sample ``b``
        is simulated, read and counted for its first ``window[b]`` steps only. None: all T steps.
        """
        if self._fixed is not None:
            return self._fixed.run(frames, window)
        x = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != self.network.n_inputs:
            raise ShapeError(f"EventSimulator.run: frames must be [T, B, {self.network.n_inputs}] (time-major), "
                             f"got {list(x.shape)}")
        T, B, _ = x.shape
        steps = window_steps(window, B, T, "EventSimulator.run")
        counts = np.zeros((len(self.tables), B, 4), dtype=np.int64)
        spikes, membranes = [], []
        inp = x
        for li, (layer, tb) in enumerate(zip(self.network.layers, self.tables)):
            spk = np.zeros((T, B, layer.n_out), dtype=np.uint8) if tb.spiking else None
            mem = None if tb.spiking else np.zeros((T, B, layer.n_out), dtype=np.float32)
            v = np.tile(layer.initial_membrane(), (B, 1))
            _run_layer(inp, tb.ff_ptr, tb.ff_post, tb.ff_w, tb.ff_d, tb.rec_ptr, tb.rec_post, tb.rec_w, tb.has_rec,
                       np.zeros((B, tb.ring_slots, layer.n_out)), v, np.zeros((B, layer.n_out)),
                       np.zeros((B, layer.n_out)), tb.bias, tb.alpha, tb.has_syn, tb.beta, tb.k, tb.th, tb.vr,
                       tb.decay_input, tb.hard, tb.spiking, spk if spk is not None else np.zeros((1, 1, 1), np.uint8),
                       mem if mem is not None else np.zeros((1, 1, 1), np.float32), counts[li], steps)
            spikes.append(spk)
            membranes.append(mem)
            inp = spk
        preds = predict_from_outputs(membranes, spikes, self.network.readout, steps)
        return SimResult(spikes, membranes, preds, summarize_counts(counts, self.names), counts, steps)


@njit(cache=True, nogil=True)
def _run_layer(inp, ff_ptr, ff_post, ff_w, ff_d, rec_ptr, rec_post, rec_w, has_rec, ring, v, syn, rec_cur, bias, alpha,
               has_syn, beta, k, th, vr, decay_input, hard, spiking, spk_out, mem_out, counts, steps):
    """A whole layer over the samples' windows: ``inp`` [T, B, n_in] (frames or 0/1 spikes); sample ``b``
    runs (and is counted) for its first ``steps[b]`` steps only."""
    T, B, n_in = inp.shape
    n_out = v.shape[1]
    idx = np.empty(n_in, dtype=np.int64)
    val = np.empty(n_in, dtype=np.float64)
    out_idx = np.empty(n_out, dtype=np.int64)
    frame = np.empty(n_in, dtype=np.float64)
    step_counts = np.zeros(4, dtype=np.int64)
    for b in range(B):
        for t in range(steps[b]):
            for j in range(n_in):
                frame[j] = inp[t, b, j]
            n = _frame_events(frame, idx, val)
            n_spk = _layer_step(idx, val, n, ff_ptr, ff_post, ff_w, ff_d, rec_ptr, rec_post, rec_w, has_rec,
                                ring[b], t, v[b], syn[b], rec_cur[b], bias, alpha, has_syn, beta, k, th, vr,
                                decay_input, hard, spiking, out_idx, step_counts)
            counts[b] += step_counts
            step_counts[:] = 0
            if spiking:
                for e in range(n_spk):
                    spk_out[t, b, out_idx[e]] = 1
            else:
                for o in range(n_out):
                    mem_out[t, b, o] = v[b, o]
