"""Run a Xylo-profile quantised Network on SynSense's bit-accurate simulator, ``xylosim.v1.XyloLayer``.

``xylosim`` (PyPI, C++, builds from source in about a minute; ``pip install spikerec[xylo]``) simulates Xylo's
input -> hidden (recurrent) -> readout core. A spikerec chain maps onto it as: layer 0's weights are the input
weights; every hidden layer is a block of the hidden population, and the weights between consecutive hidden
layers and each hidden layer's recurrent weights form the hidden-to-hidden matrix; the last layer is the readout.
XyloLayer delivers hidden spikes one step later, so hidden layer ``l`` (from 0) appears ``l`` steps late and the
readout ``n_hidden_layers`` steps late; :func:`run_xylosim` runs that many extra input-free steps and shifts the
recordings back, so they line up with spikerec's :class:`~spikerec.hardware.simulators.fixed_point.
FixedPointSimulator` step for step.

XyloLayer does not check its arguments (a synapse that targets a missing neuron, or parameter lists of different
lengths, crash the process), so :func:`xylo_spec` validates everything first and raises
:class:`~spikerec.errors.ConfigError` naming the limit. :func:`compare_with_xylosim` runs XyloLayer in a child
Python process, so even a crash there becomes a typed error here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from spikerec.errors import ConfigError, SpikerecError
from spikerec.hardware.ir.network import Network, to_dense
from spikerec.hardware.ir.quantized import check_limits

__all__ = ["XyloSpec", "xylo_spec", "run_xylosim", "compare_with_xylosim", "XylosimError", "xylosim_available"]

# Constants compiled into xylosim 0.1.3 (src/v1/cpp/XyloIAFNeuron.h): state and weight widths, spike caps.
_XYLOSIM = {"activation_bits": 16, "membrane_bits": 16, "weight_bits": 8, "input_bits": 4, "max_spikes": 31,
            "max_spikes_output": 1, "threshold_compare": ">=", "decay_bits": 4}


class XylosimError(SpikerecError):
    """xylosim is missing, or crashed while simulating (the message says which)."""


def xylosim_available() -> bool:
    try:
        import xylosim.v1  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class XyloSpec:
    """XyloLayer's constructor arguments as plain Python data (picklable): synapse lists hold
    ``(target, synapse id, weight)`` triples per presynaptic neuron."""

    synapses_in: list
    synapses_rec: list
    synapses_out: list
    threshold: list
    threshold_out: list
    weight_shift_inp: int
    weight_shift_rec: int
    weight_shift_out: int
    dash_mem: list
    dash_mem_out: list
    dash_syns: list
    dash_syns_out: list
    hidden_sizes: list

    @property
    def n_hidden(self) -> int:
        return sum(self.hidden_sizes)


def _fail(msg: str) -> None:
    raise ConfigError(f"xylosim: {msg}")


def xylo_spec(network: Network) -> XyloSpec:
    """Validate ``network`` against XyloLayer and build its arguments (ConfigError naming the limit otherwise)."""
    network.validate()
    p = network.profile
    if p is None or p.family != "shift":
        _fail(f"the network must be quantised for a shift-family (Xylo) profile, got "
              f"{'no profile' if p is None else repr(p.name)}")
    for key, value in _XYLOSIM.items():
        if getattr(p, key) != value:
            _fail(f"profile {p.name!r} has {key}={getattr(p, key)!r}; xylosim is compiled with {value!r}")
    check_limits(network, p, _fail)
    layers = network.layers
    if len(layers) < 2:
        _fail("Xylo routes inputs to hidden neurons only: the network needs at least one hidden layer")
    hidden, readout = layers[:-1], layers[-1]
    if readout.recurrent_weight is not None:
        _fail(f"the readout layer {readout.name!r} is recurrent; Xylo's output neurons are not")
    for layer in layers:
        if layer.max_delay:
            _fail(f"layer {layer.name!r} has synaptic delays; Xylo has none")
    rec_exps = {la.quant.recurrent_exp for la in hidden if la.recurrent_weight is not None}
    rec_exps |= {la.quant.weight_exp for la in hidden[1:]}
    if len(rec_exps) > 1:
        _fail(f"the hidden-to-hidden weights use exponents {sorted(rec_exps)}; Xylo has one weight_shift_rec")
    for layer in layers:
        for exp in (layer.quant.weight_exp, layer.quant.recurrent_exp):
            if not 0 <= exp <= 8:
                _fail(f"layer {layer.name!r}: weight shift {exp} outside [0, 8] (w << shift must fit 16 bits)")
        if np.any(layer.quant.threshold < 1) or np.any(layer.quant.threshold > 32767):
            _fail(f"layer {layer.name!r}: thresholds must lie in [1, 32767] (int16, positive)")
    offsets = np.concatenate([[0], np.cumsum([la.n_out for la in hidden])]).astype(int)
    n_hidden = int(offsets[-1])
    synapses_in = _synapse_lists(layers[0].quant.weight, network.n_inputs, 0)
    synapses_rec: list[list] = [[] for _ in range(n_hidden)]
    for i, layer in enumerate(hidden):
        if layer.quant.recurrent_weight is not None:
            _extend(synapses_rec, offsets[i], _synapse_lists(layer.quant.recurrent_weight, layer.n_out, offsets[i]))
        if i + 1 < len(hidden):
            _extend(synapses_rec, offsets[i], _synapse_lists(hidden[i + 1].quant.weight, layer.n_out, offsets[i + 1]))
    for row in synapses_rec:
        row.sort()
    synapses_out: list[list] = [[] for _ in range(n_hidden)]
    _extend(synapses_out, offsets[-2], _synapse_lists(readout.quant.weight, hidden[-1].n_out, 0))
    cat = np.concatenate
    return XyloSpec(
        synapses_in, synapses_rec, synapses_out,
        threshold=cat([la.quant.threshold for la in hidden]).astype(int).tolist(),
        threshold_out=readout.quant.threshold.astype(int).tolist(),
        weight_shift_inp=int(layers[0].quant.weight_exp), weight_shift_rec=int(rec_exps.pop()) if rec_exps else 0,
        weight_shift_out=int(readout.quant.weight_exp),
        dash_mem=cat([la.quant.decay for la in hidden]).astype(int).tolist(),
        dash_mem_out=readout.quant.decay.astype(int).tolist(),
        dash_syns=[[int(d)] for d in cat([la.quant.synapse_decay for la in hidden])],
        dash_syns_out=[[int(d)] for d in readout.quant.synapse_decay],
        hidden_sizes=[la.n_out for la in hidden])


def _synapse_lists(weight, n_pre: int, post_offset: int) -> list[list[tuple[int, int, int]]]:
    """Per presynaptic neuron, its ``(post + post_offset, 0, weight)`` synapses in ascending post order."""
    w = to_dense(weight) if not sp.issparse(weight) else weight.toarray()
    out = []
    for j in range(n_pre):
        posts = np.nonzero(w[:, j])[0]
        out.append([(int(o) + post_offset, 0, int(w[o, j])) for o in posts])
    return out


def _extend(target: list, offset: int, lists: list) -> None:
    for j, row in enumerate(lists):
        target[offset + j].extend(row)


def run_xylosim(spec: XyloSpec, frames: np.ndarray) -> dict[str, Any]:
    """One sample through XyloLayer in this process: ``frames`` [T, n_inputs] non-negative integer counts.

    Returns ``{"hidden": [T, n_hidden] spike counts per hidden layer (list), "readout_v": [T, n_out] int,
    "readout_spikes": [T, n_out]}``, aligned with spikerec's unshifted steps (see the module docstring).
    """
    try:
        from xylosim.v1 import XyloLayer, XyloSynapse
    except ImportError as err:
        raise XylosimError("xylosim is not installed: pip install 'spikerec[xylo]' (builds from source, needs a C++ "
                           "compiler)") from err
    x = np.asarray(frames)
    if x.ndim != 2 or x.shape[1] != len(spec.synapses_in) or (x.size and (x.min() < 0 or x.max() > 255)):
        raise ConfigError(f"xylosim: frames must be [T, {len(spec.synapses_in)}] counts in [0, 255], got "
                          f"{list(x.shape)}")
    def synapses(lists):
        return [[XyloSynapse(o, s, w) for o, s, w in row] for row in lists]

    # XyloLayer keeps raw pointers to the XyloSynapse objects: they must outlive it (freed ones crash evolve)
    keep = [synapses(spec.synapses_in), synapses(spec.synapses_rec), synapses(spec.synapses_out)]
    layer = XyloLayer(synapses_in=keep[0], synapses_rec=keep[1], synapses_out=keep[2],
                      aliases=[[] for _ in range(spec.n_hidden)],
                      threshold=spec.threshold, threshold_out=spec.threshold_out,
                      weight_shift_inp=spec.weight_shift_inp, weight_shift_rec=spec.weight_shift_rec,
                      weight_shift_out=spec.weight_shift_out, dash_mem=spec.dash_mem, dash_mem_out=spec.dash_mem_out,
                      dash_syns=spec.dash_syns, dash_syns_out=spec.dash_syns_out, name="spikerec")
    lag = len(spec.hidden_sizes)
    T = x.shape[0]
    raster = np.concatenate([x, np.zeros((lag, x.shape[1]), x.dtype)]).astype(np.uint8)
    out_spikes = np.asarray(layer.evolve(raster.tolist()), dtype=np.int64).reshape(T + lag, -1)
    rec = np.asarray(layer.rec_recurrent_spikes, dtype=np.int64).reshape(T + lag, spec.n_hidden)
    v_out = np.asarray(layer.rec_v_mem_out, dtype=np.int64).reshape(-1, T + lag).T
    offsets = np.concatenate([[0], np.cumsum(spec.hidden_sizes)]).astype(int)
    hidden = [rec[i:i + T, offsets[i]:offsets[i + 1]] for i in range(lag)]
    return {"hidden": hidden, "readout_v": v_out[lag:lag + T], "readout_spikes": out_spikes[lag:lag + T]}


def _child_main() -> None:
    """Child-process entry: a pickled (spec, samples) on stdin, the pickled results on stdout."""
    import pickle
    import sys

    spec, samples = pickle.load(sys.stdin.buffer)
    pickle.dump([run_xylosim(spec, x) for x in samples], sys.stdout.buffer)


def _run_isolated(spec: XyloSpec, samples: list[np.ndarray]) -> list[dict[str, Any]]:
    """:func:`run_xylosim` on every sample in a fresh Python process: a crash there is an error here."""
    import pickle
    import subprocess
    import sys

    code = "from spikerec.hardware.simulators.xylosim import _child_main; _child_main()"
    proc = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((spec, samples)), capture_output=True)
    if proc.returncode != 0:
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise XylosimError(f"xylosim failed in its child process ({how}) {tail[0]}".rstrip())
    return pickle.loads(proc.stdout)


def compare_with_xylosim(network: Network, frames, window=None) -> dict[str, Any]:
    """Spike trains and readout membranes of spikerec's integer simulation vs XyloLayer, sample by sample.

    ``frames`` [T, B, n_inputs] integer counts, ``window`` [B] (each sample is run for its own steps). XyloLayer runs
    in a child process. Returns per-sample equality and totals (``identical_samples``, ``spikes``,
    ``spike_mismatches``, ``membrane_mismatches`` over every hidden neuron and step inside the windows).
    """
    from spikerec.hardware.simulators.fixed_point import FixedPointSimulator, integer_frames

    spec = xylo_spec(network)
    if not xylosim_available():
        raise XylosimError("xylosim is not installed: pip install 'spikerec[xylo]' (builds from source, needs a C++ "
                           "compiler)")
    x = integer_frames(frames)
    T, B, _ = x.shape
    steps = np.full(B, T) if window is None else np.asarray(window, dtype=np.int64).reshape(B)
    ours = FixedPointSimulator(network).run(x, steps)
    samples = [x[:steps[b], b] for b in range(B)]
    theirs = _run_isolated(spec, samples)
    same = np.ones(B, dtype=bool)
    spikes = spike_mismatch = mem_mismatch = 0
    for b, res in enumerate(theirs):
        n = steps[b]
        for ours_l, theirs_l in zip(ours.spikes[:-1], res["hidden"]):
            diff = int(np.count_nonzero(ours_l[:n, b].astype(np.int64) != theirs_l))
            spikes += int(theirs_l.sum())
            spike_mismatch += diff
            same[b] &= diff == 0
        if ours.integer_membrane[-1] is not None:
            diff = int(np.count_nonzero(ours.integer_membrane[-1][:n, b] != res["readout_v"]))
        else:
            diff = int(np.count_nonzero(ours.spikes[-1][:n, b].astype(np.int64) != res["readout_spikes"]))
        mem_mismatch += diff
        same[b] &= diff == 0
    return {"samples": B, "identical_samples": int(same.sum()), "agreement": float(same.mean()) if B else 1.0,
            "hidden_spikes": spikes, "spike_mismatches": spike_mismatch, "readout_mismatches": mem_mismatch,
            "steps": int(steps.sum())}
