"""Run a :class:`~spikerec.hardware.ir.network.Network` with every synaptic current computed by crossbars.

Per layer, the feed-forward matrix and (if present) the recurrent matrix are each programmed onto
crossbar tiles (:func:`~spikerec.hardware.simulators.crossbar.tiles.map_matrix`). Per-synapse delays become
delay lines: every distinct (presynaptic neuron ``j``, delay ``d``) pair present in the layer gets its
own word line driven by ``s_j[t - d]``, and the column of synapse ``(o, j)`` sits on line
``(j, D[o, j])``. Input frames holding integer spike counts are applied bit-serially: bit plane ``b`` of
the counts is one binary read, whose converted output is shifted by ``2^b`` and added digitally (the
usual multi-bit input scheme of crossbar accelerators, e.g. ISAAC, Shafiee et al., ISCA 2016).
Biases are added digitally. Neurons update with the IR's own update
(:func:`~spikerec.hardware.ir.dynamics.update_neurons`, float64, the function the event simulator runs), and
the readout is :func:`~spikerec.hardware.ir.dynamics.predict_from_outputs`.

A quantised network (``spikerec quantize``) is programmed from its stored integer weights: each matrix gets as
many conductance levels as its integers need (unless ``levels`` is set), so an ideal device holds them exactly;
the neurons still update in float64 on the dequantised parameters (the integer neuron arithmetic is the event
simulator's, :mod:`spikerec.hardware.simulators.fixed_point`).

Sample windows (:mod:`spikerec.window`): each sample runs for its own ``window[b]`` steps (frames and
drain) and is read from those alone. Per-read noise of a sample comes from a stream seeded by the
simulator's seed and the sample's own frames, so a sample's result depends neither on the other samples
of its batch nor on its position in the data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from spikerec.errors import ShapeError
from spikerec.hardware.simulators.crossbar.devices import CrossbarConfig, get_config
from spikerec.hardware.simulators.crossbar.tiles import MappedMatrix, map_matrix
from spikerec.hardware.ir.dynamics import predict_from_outputs, update_neurons
from spikerec.hardware.ir.network import Layer, Network, to_dense
from spikerec.hardware.ir.quantized import crossbar_levels
from spikerec.hardware.simulators.event_tables import window_steps

__all__ = ["CrossbarSimulator", "CrossbarResult", "delay_lines"]

_CHUNK_ELEMENTS = 4_000_000  # reads x word lines per matmul block (bounds memory at ~32 MB per block)


def delay_lines(layer: Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word lines of a layer: (weights ``[n_out, L]``, source neuron ``[L]``, delay ``[L]``).

    Without delays the lines are the inputs themselves. With delays there is one line per distinct
    (source, delay) pair among the non-zero synapses, ordered by source then delay.
    """
    w = to_dense(layer.weight).astype(np.float64)
    if layer.max_delay == 0:
        return w, np.arange(layer.n_in), np.zeros(layer.n_in, dtype=np.int64)
    d = layer.dense_delay()
    post, pre = np.nonzero(w)
    span = layer.max_delay + 1
    keys = pre * span + d[post, pre]
    line_keys, line_of = np.unique(keys, return_inverse=True)
    w_lines = np.zeros((layer.n_out, line_keys.size))
    w_lines[post, line_of] = w[post, pre]
    return w_lines, line_keys // span, line_keys % span


@dataclass
class _MappedLayer:
    layer: Layer
    src: np.ndarray
    delay: np.ndarray
    ff: MappedMatrix
    rec: MappedMatrix | None


@dataclass
class CrossbarResult:
    """Output of :meth:`CrossbarSimulator.run`: ``spikes`` per layer ``[T, B, n_out]`` uint8 (None for
    ``li``), ``membrane`` per layer (``li`` only, float32), ``predictions`` [B], ADC ``clipped`` and
    ``conversions`` counts per layer."""

    spikes: list[np.ndarray | None]
    membrane: list[np.ndarray | None]
    predictions: np.ndarray
    clipped: list[int] = field(default_factory=list)
    conversions: list[int] = field(default_factory=list)


class CrossbarSimulator:
    """A Network programmed onto crossbars with a device preset; ``run(frames [T, B, n_inputs])``.

    The programmed conductances (all device randomness) are fixed at construction from ``seed``;
    per-read noise draws continue across ``run`` calls.
    """

    def __init__(self, network: Network, preset: str | CrossbarConfig = "pcm", seed: int = 0, **overrides: Any):
        network.validate()
        self.network = network
        self.config = get_config(preset, **overrides)
        self.seed = seed
        root = np.random.SeedSequence(seed)
        self._read_entropy = root.generate_state(2)
        self.layers: list[_MappedLayer] = []
        for layer, (ff_seed, rec_seed) in zip(network.layers, (s.spawn(2) for s in root.spawn(len(network.layers)))):
            w_lines, src, delay = delay_lines(layer)
            ff_cfg, rec_cfg = self._layer_configs(layer)
            rec = None if layer.recurrent_weight is None else map_matrix(layer.recurrent_weight, rec_cfg, rec_seed)
            self.layers.append(_MappedLayer(layer, src, delay, map_matrix(w_lines, ff_cfg, ff_seed), rec))

    def _layer_configs(self, layer: Layer) -> tuple[CrossbarConfig, CrossbarConfig]:
        """Device configs of a layer's (feed-forward, recurrent) matrices. A quantised network (``network.profile``)
        programs its stored integer weights: unless the preset or the caller fixed ``levels``, each matrix gets the
        conductance levels that hold them exactly (:func:`~spikerec.hardware.ir.quantized.crossbar_levels`)."""
        if self.network.profile is None or self.config.levels is not None:
            return self.config, self.config
        ff, rec = crossbar_levels(layer.quant, self.network.profile)
        return replace(self.config, levels=ff), replace(self.config, levels=rec or ff)

    def layer_report(self) -> list[dict[str, Any]]:
        """Per layer: word lines, tiles, devices, stuck devices and the drift-compensation gain."""
        out = []
        for m in self.layers:
            mats = [m.ff] + ([m.rec] if m.rec is not None else [])
            out.append({"name": m.layer.name, "word_lines": int(m.src.size) + (m.layer.n_out if m.rec else 0),
                        "tiles": sum(x.n_tiles for x in mats), "devices": sum(2 * x.g_pos.size for x in mats),
                        "stuck_devices": sum(int(np.count_nonzero(x.stuck)) for x in mats),
                        "drift_gain": [x.gain for x in mats]})
        return out

    def _line_inputs(self, m: _MappedLayer, spikes: np.ndarray) -> np.ndarray:
        """Word-line drive ``[T, B, L]`` from presynaptic activity ``[T, B, n_in]`` through the delay lines."""
        T = spikes.shape[0]
        if not m.delay.any():
            return spikes[:, :, m.src]
        pad = int(m.delay.max())
        padded = np.concatenate([np.zeros((pad,) + spikes.shape[1:], spikes.dtype), spikes])
        out = np.empty(spikes.shape[:2] + (m.src.size,), spikes.dtype)
        for d in np.unique(m.delay):
            lines = np.nonzero(m.delay == d)[0]
            out[:, :, lines] = padded[pad - d:pad - d + T][:, :, m.src[lines]]
        return out

    def _feedforward(self, m: _MappedLayer, drive: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
        """Crossbar currents ``[T, B, n_out]`` for a non-negative integer drive ``[T, B, L]`` (bit-serial reads)."""
        T, B, L = drive.shape
        flat = drive.reshape(T * B, L)
        out = np.zeros((T * B, m.layer.n_out))
        clipped = conversions = 0
        step = max(1, _CHUNK_ELEMENTS // max(L, 1))
        for start in range(0, T * B, step):
            block = flat[start:start + step]
            for bit in range(int(block.max(initial=0)).bit_length()):
                plane = (block >> bit) & 1
                if not plane.any():
                    continue
                y, c, n = m.ff.read(plane.astype(np.float64), rng)
                out[start:start + step] += y * float(1 << bit)  # shift-and-add of the bit-serial reads
                clipped, conversions = clipped + c, conversions + n
        return out.reshape(T, B, m.layer.n_out), clipped, conversions

    def _sample_stream(self, frames: np.ndarray) -> np.random.Generator:
        """Per-read noise stream of one sample: seeded by the simulator's seed and the sample's frames."""
        digest = hashlib.blake2b(np.ascontiguousarray(frames).tobytes(), digest_size=16).digest()
        return np.random.default_rng([*self._read_entropy, *np.frombuffer(digest, dtype=np.uint32)])

    def run(self, frames, window=None) -> CrossbarResult:
        """Simulate ``frames`` [T, B, n_inputs] (numpy or torch; binary or non-negative integer counts).

        ``window`` [B]: sample ``b`` runs for its first ``window[b]`` steps (its frames and drain); its outputs
        after that stay 0 and its prediction is read from its window only. None: all T steps.
        """
        x = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
        if x.ndim != 3 or x.shape[2] != self.network.n_inputs:
            raise ShapeError(f"crossbar simulation: frames must be [T, B, {self.network.n_inputs}] (time-major), "
                             f"got {list(x.shape)}")
        if x.size and (np.any(x < 0) or np.any(x != np.round(x))):
            raise ShapeError("crossbar simulation: word lines take binary spikes; frames must hold non-negative "
                             "integer spike counts (bin without normalisation, or use binary=True)")
        T, B, _ = x.shape
        steps = window_steps(window, B, T, "crossbar simulation")
        counts = x.astype(np.min_scalar_type(int(x.max(initial=0))))  # the drive copies stay small
        spikes = [np.zeros((T, B, m.layer.n_out), dtype=np.uint8) for m in self.layers]
        membranes = [np.zeros((T, B, m.layer.n_out), dtype=np.float32) for m in self.layers]
        clipped = np.zeros(len(self.layers), dtype=np.int64)
        conversions = np.zeros(len(self.layers), dtype=np.int64)
        for b in range(B):
            activity = counts[:steps[b], b:b + 1]
            rng = self._sample_stream(activity)
            for li, m in enumerate(self.layers):
                spk, mem, c, n = self._run_layer(m, activity, rng)
                spikes[li][:steps[b], b:b + 1], membranes[li][:steps[b], b:b + 1] = spk, mem
                clipped[li] += c
                conversions[li] += n
                activity = spk
        spikes_out = [s if m.layer.spiking else None for s, m in zip(spikes, self.layers)]
        membrane_out = [None if m.layer.spiking else v for v, m in zip(membranes, self.layers)]
        preds = predict_from_outputs(membrane_out, spikes_out, self.network.readout, steps)
        return CrossbarResult(spikes_out, membrane_out, preds, clipped.tolist(), conversions.tolist())

    def _run_layer(self, m: _MappedLayer, activity: np.ndarray, rng: np.random.Generator):
        """One layer over one sample's ``activity`` [T, 1, n_in] -> (spikes uint8, membrane float32 [T, 1, n_out],
        clipped, conversions)."""
        layer = m.layer
        T = activity.shape[0]
        current, c, n = self._feedforward(m, self._line_inputs(m, activity), rng)
        if layer.bias is not None:
            current += layer.bias.astype(np.float64)
        beta = layer.decay.astype(np.float64)
        th = layer.threshold.astype(np.float64)
        no_bias = np.zeros(layer.n_out)
        v = layer.initial_membrane()
        spk = np.zeros((T, 1, layer.n_out), dtype=np.uint8)
        mem = np.zeros((T, 1, layer.n_out), dtype=np.float32)
        out_idx = np.empty(layer.n_out, dtype=np.int64)
        rec = np.zeros(layer.n_out)
        syn = np.zeros(layer.n_out)
        alpha = no_bias if layer.syn_decay is None else layer.syn_decay.astype(np.float64)
        for t in range(T):
            n_spk = update_neurons(v, syn, current[t, 0], no_bias, rec, m.rec is not None, alpha, layer.has_synapse,
                                   beta, 1.0 - beta, th, float(layer.v_reset), layer.decay_input, layer.reset == "hard",
                                   layer.spiking, out_idx)
            spk[t, 0, out_idx[:n_spk]] = 1
            mem[t, 0] = v
            if m.rec is not None and t + 1 < T:  # the recurrent crossbar reads this step's spikes for the next step
                rec, cr, nr = m.rec.read(spk[t].astype(np.float64), rng) if n_spk else (np.zeros((1, layer.n_out)), 0, 0)
                rec, c, n = rec[0], c + cr, n + nr
        return spk, mem, c, n
