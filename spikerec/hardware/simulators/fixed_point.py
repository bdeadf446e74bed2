"""Event-driven simulation of a quantised Network in exact integer arithmetic: what the chip computes, bit for bit.

:class:`~spikerec.hardware.simulators.event.EventSimulator` hands a network with a target profile to
:class:`FixedPointSimulator`; the interface (``run``, ``initial_state``, ``step``) and :class:`~spikerec.hardware.
simulators.event.SimResult` are the same. Events are fanned out through the presynaptic CSR rows of the *stored
integer* weights. The neuron update is the profile family's (:mod:`spikerec.hardware.ir.integer_dynamics`):

* multiply: each step's integer sums per neuron, per weight matrix (a ring buffer of ``max_delay + 1`` int64
  slots for delays), then :func:`~spikerec.hardware.ir.integer_dynamics.multiply_update`;
* shift: every spike is one saturating add into the neuron's synaptic current, in the order the chip adds them
  (the step's feed-forward events by ascending presynaptic index, then the previous step's recurrent spikes),
  then :func:`~spikerec.hardware.ir.integer_dynamics.shift_update` (up to ``max_spikes`` spikes per neuron).

Input frames must hold non-negative integer counts; counts above the profile's input range are clipped (and
counted). ``SimResult.spikes`` holds spike counts (uint8), ``membrane`` the dequantised readout membrane (integer /
scale, float32, so the readout rule reads float units), ``integer_membrane`` the integers, and ``overflow`` per
layer and in total how often each overflow rule fired (``activation``, ``membrane``, ``input_counts``,
``spike_counts``). Counts follow the event simulator, except that ``synaptic_events`` of the shift family counts
every add (a spike count ``c`` costs ``c x`` fan-out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from spikerec.errors import ShapeError
from spikerec.hardware.ir.integer_dynamics import (OVERFLOW_KEYS, exp_shift, multiply_update, saturating_add,
                                                   shift_update)
from spikerec.hardware.ir.network import Layer, Network
from spikerec.hardware.ir.dynamics import predict_from_outputs
from spikerec.hardware.simulators.event_tables import SimResult, fanout, summarize_counts, window_steps

__all__ = ["FixedPointSimulator", "IntState", "integer_frames", "summarize_overflow"]

_MULTIPLY, _SHIFT = 0, 1


# -- kernels: one layer, one sample, one step --------------------------------------------------------

@njit(cache=True, nogil=True)
def _layer_step(family, in_idx, in_val, n_events, ff_ptr, ff_post, ff_w, ff_d, rec_ptr, rec_post, rec_w, has_rec,
                e_ff, e_rec, ring, t, v, isyn, rec_acc, prev, prev_n, bias, decay, syn, th, spiking, hard, max_spikes,
                act_shift, act_bits, act_wrap, decay_bits, mem_bits, mem_wrap, out_idx, out_cnt, counts, overflow):
    """Deliver the step's events, update the layer, write its spiking neurons to ``out_idx``/``out_cnt``.

    ``prev`` [2, n] / ``prev_n`` [1]: the previous step's spikes (indices, counts), which the shift family's
    recurrent synapses deliver now. ``counts`` [4] accumulates input events, synaptic events, neuron updates
    and spikes. Returns how many neurons spiked.
    """
    ops = 0
    if family == _MULTIPLY:
        R = ring.shape[0]
        slot = t % R
        for e in range(n_events):
            j = in_idx[e]
            for p in range(ff_ptr[j], ff_ptr[j + 1]):
                ring[(slot + ff_d[p]) % R, ff_post[p]] += ff_w[p] * in_val[e]
            ops += ff_ptr[j + 1] - ff_ptr[j]
        n_spk = multiply_update(v, ring[slot], rec_acc, has_rec, e_ff, e_rec, act_shift, act_bits, act_wrap, bias,
                                decay, decay_bits, mem_bits, mem_wrap, th, spiking, hard, out_idx, overflow)
        ring[slot, :] = 0
        rec_acc[:] = 0
        total = n_spk
        for e in range(n_spk):
            out_cnt[e] = 1
            if has_rec:
                j = out_idx[e]
                for p in range(rec_ptr[j], rec_ptr[j + 1]):
                    rec_acc[rec_post[p]] += rec_w[p]
                ops += rec_ptr[j + 1] - rec_ptr[j]
    else:
        for e in range(n_events):
            j = in_idx[e]
            for p in range(ff_ptr[j], ff_ptr[j + 1]):
                w = exp_shift(ff_w[p], e_ff)
                o = ff_post[p]
                for _ in range(in_val[e]):
                    s, f = saturating_add(isyn[o], w, act_bits)
                    isyn[o] = s
                    overflow[0] += f
            ops += (ff_ptr[j + 1] - ff_ptr[j]) * in_val[e]
        if has_rec:
            for e in range(prev_n[0]):
                j = prev[0, e]
                for p in range(rec_ptr[j], rec_ptr[j + 1]):
                    w = exp_shift(rec_w[p], e_rec)
                    o = rec_post[p]
                    for _ in range(prev[1, e]):
                        s, f = saturating_add(isyn[o], w, act_bits)
                        isyn[o] = s
                        overflow[0] += f
                ops += (rec_ptr[j + 1] - rec_ptr[j]) * prev[1, e]
        n_spk = shift_update(v, isyn, decay, syn, th, max_spikes, mem_bits, out_idx, out_cnt, overflow)
        if not spiking:  # a "li" readout: the same neuron, read through its membrane; its spikes go nowhere
            n_spk = 0
        total = 0
        for e in range(n_spk):
            prev[0, e] = out_idx[e]
            prev[1, e] = out_cnt[e]
            total += out_cnt[e]
        prev_n[0] = n_spk
    counts[0] += n_events
    counts[1] += ops
    counts[2] += v.shape[0]
    counts[3] += total
    return n_spk


@njit(cache=True, nogil=True)
def _frame_events(frame, input_max, idx, val, overflow):
    """Non-zero entries of one integer frame as events, counts clipped to ``input_max``; returns the count."""
    n = 0
    for j in range(frame.shape[0]):
        x = frame[j]
        if x != 0:
            if x > input_max:
                x = input_max
                overflow[2] += 1
            idx[n] = j
            val[n] = x
            n += 1
    return n


@njit(cache=True, nogil=True)
def _run_layer(family, inp, input_max, ff_ptr, ff_post, ff_w, ff_d, rec_ptr, rec_post, rec_w, has_rec, e_ff, e_rec,
               slots, v0, bias, decay, syn, th, spiking, hard, max_spikes, act_shift, act_bits, act_wrap, decay_bits,
               mem_bits, mem_wrap, steps, spk_out, mem_out, counts, overflow):
    """A whole layer over the samples' windows: ``inp`` [T, B, n_in] int64 (counts); sample ``b`` runs for its first
    ``steps[b]`` steps. Spike counts go to ``spk_out`` [T, B, n] (spiking layers), membranes to ``mem_out``."""
    T, B, n_in = inp.shape
    n = v0.shape[0]
    idx = np.empty(n_in, dtype=np.int64)
    val = np.empty(n_in, dtype=np.int64)
    out_idx = np.empty(n, dtype=np.int64)
    out_cnt = np.empty(n, dtype=np.int64)
    for b in range(B):
        v = v0.copy()
        isyn = np.zeros(n, dtype=np.int64)
        ring = np.zeros((slots, n), dtype=np.int64)
        rec_acc = np.zeros(n, dtype=np.int64)
        prev = np.zeros((2, n), dtype=np.int64)
        prev_n = np.zeros(1, dtype=np.int64)
        for t in range(steps[b]):
            k = _frame_events(inp[t, b], input_max, idx, val, overflow)
            n_spk = _layer_step(family, idx, val, k, ff_ptr, ff_post, ff_w, ff_d, rec_ptr, rec_post, rec_w, has_rec,
                                e_ff, e_rec, ring, t, v, isyn, rec_acc, prev, prev_n, bias, decay, syn, th, spiking,
                                hard, max_spikes, act_shift, act_bits, act_wrap, decay_bits, mem_bits, mem_wrap,
                                out_idx, out_cnt, counts[b], overflow)
            if spiking:
                for e in range(n_spk):
                    spk_out[t, b, out_idx[e]] = out_cnt[e]
            else:
                for o in range(n):
                    mem_out[t, b, o] = v[o]


# -- tables -----------------------------------------------------------------------------------------

@dataclass
class _IntTables:
    """One layer's integer fan-out tables (presynaptic CSR of the stored weights) and parameters."""

    ff_ptr: np.ndarray
    ff_post: np.ndarray
    ff_w: np.ndarray
    ff_d: np.ndarray
    rec_ptr: np.ndarray
    rec_post: np.ndarray
    rec_w: np.ndarray
    has_rec: bool
    e_ff: int
    e_rec: int
    slots: int
    bias: np.ndarray
    decay: np.ndarray
    syn: np.ndarray
    th: np.ndarray
    spiking: bool
    hard: bool
    max_spikes: int
    scale: float

    def kernel_args(self) -> tuple:
        """The table part of :func:`_run_layer`'s arguments, in order (after ``inp, input_max``)."""
        return (self.ff_ptr, self.ff_post, self.ff_w, self.ff_d, self.rec_ptr, self.rec_post, self.rec_w, self.has_rec,
                self.e_ff, self.e_rec, self.slots)

    def neuron_args(self) -> tuple:
        return self.bias, self.decay, self.syn, self.th, self.spiking, self.hard, self.max_spikes


def _tables(layer: Layer, last: bool, profile) -> _IntTables:
    q = layer.quant
    ff_ptr, ff_post, ff_w, ff_d = fanout(q.weight, layer.delay)
    if q.recurrent_weight is not None:
        rec_ptr, rec_post, rec_w, _ = fanout(q.recurrent_weight, None)
    else:
        rec_ptr, rec_post, rec_w = np.zeros(layer.n_out + 1, np.int64), np.zeros(1, np.int64), np.zeros(1)
    n = layer.n_out
    return _IntTables(ff_ptr, ff_post, ff_w.astype(np.int64), ff_d, rec_ptr, rec_post, rec_w.astype(np.int64),
                      q.recurrent_weight is not None, int(q.weight_exp), int(q.recurrent_exp),
                      int(ff_d.max()) + 1 if ff_d.size else 1,
                      np.zeros(n, np.int64) if q.bias is None else q.bias.astype(np.int64), q.decay.astype(np.int64),
                      np.zeros(n, np.int64) if q.synapse_decay is None else q.synapse_decay.astype(np.int64),
                      q.threshold.astype(np.int64), layer.kind == "lif", layer.reset == "hard",
                      profile.max_spikes_output if last else profile.max_spikes, float(q.scale))


def integer_frames(frames, input_max: int | None = None) -> np.ndarray:
    """Frames [T, B, C] (numpy or torch) as int64 counts; non-integer or negative values raise ShapeError."""
    x = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    if x.size and (np.any(x < 0) or np.any(x != np.round(x))):
        raise ShapeError("fixed-point simulation: input events are spike counts; frames must hold non-negative "
                         "integers (bin without normalisation)")
    return np.ascontiguousarray(x, dtype=np.int64)


def summarize_overflow(per_layer: np.ndarray, names: list[str]) -> dict[str, dict[str, int]]:
    """Overflow counters [n_layers, 4] as {layer: {key: n}, "total": {...}}."""
    out = {name: {k: int(row[i]) for i, k in enumerate(OVERFLOW_KEYS)} for name, row in zip(names, per_layer)}
    out["total"] = {k: int(per_layer[:, i].sum()) for i, k in enumerate(OVERFLOW_KEYS)}
    return out


# -- simulator --------------------------------------------------------------------------------------

@dataclass
class IntState:
    """Streaming state of ``B`` samples: per layer membranes, synaptic currents, delay rings, recurrent sums and
    the previous step's spikes (all int64)."""

    t: int
    v: list[np.ndarray]  # [B, n]
    isyn: list[np.ndarray]  # [B, n]
    ring: list[np.ndarray]  # [B, slots, n]
    rec: list[np.ndarray]  # [B, n]
    prev: list[np.ndarray]  # [B, 2, n]
    prev_n: list[np.ndarray]  # [B, 1]
    counts: np.ndarray  # [n_layers, B, 4]
    overflow: np.ndarray  # [n_layers, 4]


class FixedPointSimulator:
    """Integer event-driven simulation of a quantised ``network`` (``network.profile`` set)."""

    def __init__(self, network: Network):
        network.validate()
        p = network.profile
        if p is None:
            raise ShapeError("FixedPointSimulator: the network has no target profile; quantise it first "
                             "('spikerec quantize')")
        self.network, self.profile = network, p
        self.family = _MULTIPLY if p.family == "multiply" else _SHIFT
        last = len(network.layers) - 1
        self.tables = [_tables(layer, i == last, p) for i, layer in enumerate(network.layers)]
        self.names = [layer.name for layer in network.layers]
        self._arith = (p.activation_shift, p.activation_bits, p.activation_overflow == "wrap", p.decay_bits,
                       p.membrane_bits, p.membrane_overflow == "wrap")

    def run(self, frames, window=None):
        """Simulate ``frames`` [T, B, n_inputs] (integer counts) over each sample's window; a
        :class:`~spikerec.hardware.simulators.event.SimResult` with ``integer_membrane`` and ``overflow``."""
        x = integer_frames(frames)
        if x.ndim != 3 or x.shape[2] != self.network.n_inputs:
            raise ShapeError(f"FixedPointSimulator.run: frames must be [T, B, {self.network.n_inputs}] (time-major), "
                             f"got {list(x.shape)}")
        T, B, _ = x.shape
        steps = window_steps(window, B, T, "FixedPointSimulator.run")
        counts = np.zeros((len(self.tables), B, 4), dtype=np.int64)
        overflow = np.zeros((len(self.tables), 4), dtype=np.int64)
        spikes, membranes, integer = [], [], []
        inp, input_max = x, self.profile.input_max
        for li, (layer, tb) in enumerate(zip(self.network.layers, self.tables)):
            spk = np.zeros((T, B, layer.n_out), dtype=np.uint8) if tb.spiking else None
            mem = None if tb.spiking else np.zeros((T, B, layer.n_out), dtype=np.int64)
            _run_layer(self.family, inp, input_max, *tb.kernel_args(), np.zeros(layer.n_out, np.int64), *tb.neuron_args(), *self._arith,
                       steps, spk if spk is not None else np.zeros((1, 1, 1), np.uint8),
                       mem if mem is not None else np.zeros((1, 1, 1), np.int64), counts[li], overflow[li])
            spikes.append(spk)
            integer.append(mem)
            membranes.append(None if mem is None else (mem / tb.scale).astype(np.float32))
            if spk is not None:
                inp, input_max = spk.astype(np.int64), np.iinfo(np.int64).max
        preds = predict_from_outputs(membranes, spikes, self.network.readout, steps)
        return SimResult(spikes, membranes, preds, summarize_counts(counts, self.names), counts, steps,
                         integer_membrane=integer, overflow=summarize_overflow(overflow, self.names))

    # streaming -----------------------------------------------------------------------------------
    def initial_state(self, batch_size: int = 1) -> IntState:
        layers = self.network.layers
        zeros = [np.zeros((batch_size, la.n_out), np.int64) for la in layers]
        return IntState(0, [np.zeros((batch_size, la.n_out), np.int64) for la in layers], zeros,
                        [np.zeros((batch_size, tb.slots, la.n_out), np.int64) for la, tb in zip(layers, self.tables)],
                        [z.copy() for z in zeros], [np.zeros((batch_size, 2, la.n_out), np.int64) for la in layers],
                        [np.zeros((batch_size, 1), np.int64) for _ in layers],
                        np.zeros((len(layers), batch_size, 4), np.int64), np.zeros((len(layers), 4), np.int64))

    def step(self, frame_t, state: IntState) -> tuple[dict[str, Any], IntState]:
        """One step for ``frame_t`` [B, n_inputs] (or [n_inputs]); updates ``state`` in place. Returns
        ``({"spikes": per layer, per sample the spiking neurons' indices (repeated per spike), "output": the last
        layer's dequantised membrane [B, n_out] float64}, state)``."""
        frame = integer_frames(np.asarray(frame_t))
        if frame.ndim == 1:
            frame = frame[None]
        B = state.v[0].shape[0]
        if frame.shape != (B, self.network.n_inputs):
            raise ShapeError(f"FixedPointSimulator.step: frame must be [{B}, {self.network.n_inputs}], "
                             f"got {list(frame.shape)}")
        spikes: list[list[np.ndarray]] = [[] for _ in self.tables]
        width = max(self.network.n_inputs, *(la.n_out for la in self.network.layers))
        idx, val = np.empty(width, np.int64), np.empty(width, np.int64)
        for b in range(B):
            k = _frame_events(frame[b], self.profile.input_max, idx, val, state.overflow[0])
            ev_idx, ev_val = idx, val
            for li, tb in enumerate(self.tables):
                out_idx, out_cnt = np.empty(tb.th.size, np.int64), np.empty(tb.th.size, np.int64)
                k = _layer_step(self.family, ev_idx, ev_val, k, tb.ff_ptr, tb.ff_post, tb.ff_w, tb.ff_d, tb.rec_ptr,
                                tb.rec_post, tb.rec_w, tb.has_rec, tb.e_ff, tb.e_rec, state.ring[li][b], state.t,
                                state.v[li][b], state.isyn[li][b], state.rec[li][b], state.prev[li][b],
                                state.prev_n[li][b], *tb.neuron_args(), *self._arith, out_idx, out_cnt,
                                state.counts[li, b], state.overflow[li])
                spikes[li].append(np.repeat(out_idx[:k], out_cnt[:k]))
                ev_idx, ev_val = out_idx, out_cnt
        state.t += 1
        last = self.tables[-1]
        return {"spikes": spikes, "output": state.v[-1] / last.scale}, state
