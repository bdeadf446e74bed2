"""A spikerec network in Brian2, with spikerec's exact discrete-time update (imports numpy and brian2 only).

This file is self-contained on purpose: ``spikerec export RUN --format brian2`` copies it into the standalone
script it writes, and ``spikerec simulate NET --backend brian2`` imports it, so the script a Brian2 user runs is
the model spikerec checks. The network comes as a flat dict of arrays (:func:`spikerec.hardware.ir.brian2.
network_params` writes it; the script reads it from an ``.npz`` file); layer ``l``'s entries are prefixed ``l{l}_``.

Model: one ``NeuronGroup`` per layer (variables ``v`` membrane, ``isyn`` synaptic current, ``X`` feed-forward and
``R`` recurrent input of the step), one ``Synapses`` per weight matrix with per-synapse delays, input frames as a
``SpikeGeneratorGroup`` whose events carry the frame value (a ``TimedArray`` read at the spike's emission time).
A batch of B samples runs as B disconnected copies of the network (neuron ``b * n + o``).

Operation order inside one step ``t`` (all objects share one scheduling slot; ``order`` sets the sequence)::

    input events of step t
    for each layer l in turn:
        feed-forward synapses into l deliver what arrives at t (zero delay: layer l-1's spikes of this very step)
        recurrent synapses of l deliver layer l's spikes of step t-1 (pushed before l's threshold runs again)
        update of l (run_regularly: the statements of spikerec.hardware.ir.dynamics.update_neurons, one binary
            operation per statement so that the float64 rounding is the same), then X = R = 0
        threshold v >= th, then reset (hard: v = vr; soft: v = v - th); spike and membrane monitors

Synaptic inputs accumulate in the order spikerec's event simulator adds them (emission step, then presynaptic
index), so float64 spike trains are identical, not just close (tests/test_hardware_brian2.py).
"""

from __future__ import annotations

import brian2 as b2
import numpy as np

__all__ = ["update_code", "build", "run"]

_ORDER = 10  # scheduling slots per layer


def _scalar(params: dict, key: str):
    return np.asarray(params[key]).item()


def update_code(has_syn: bool, has_rec: bool, decay_input: bool, vr_zero: bool) -> str:
    """Brian2 statements of one layer's neuron update (before threshold and reset): ``update_neurons`` of
    :mod:`spikerec.hardware.ir.dynamics`, one binary operation per statement (sympy may reorder operands of
    one operation, which is exact, never the grouping of several)."""
    lines = ["xo = X + bias"]
    membrane_rec = has_rec
    if has_syn:
        lines += ["idecay = isyn * alpha", "isyn = idecay + xo"]
        if has_rec:
            lines.append("isyn = isyn + R")
        lines.append("xo = isyn")
        membrane_rec = False
    if decay_input:
        lines += ["u = xo * k"] if vr_zero else ["xv = xo + vr", "u = xv * k"]
    else:
        lines += ["u = xo"] if vr_zero else ["kv = k * vr", "u = xo + kv"]
    lines += ["h = v * beta", "h = h + u"]
    if membrane_rec:
        lines += ["rk = R * k", "h = h + rk"] if decay_input else ["h = h + R"]
    lines += ["v = h", "X = 0", "R = 0"]
    return "\n".join(lines)


def build(params: dict, frames: np.ndarray):
    """A ``brian2.Network`` of ``params`` fed ``frames`` [T, B, n_inputs], and its monitors per layer
    (``SpikeMonitor`` for spiking layers, ``StateMonitor`` of ``v`` otherwise)."""
    T, B, n_in = frames.shape
    dt = float(_scalar(params, "dt_ms")) * b2.ms
    when = "synapses"
    flat = frames.reshape(T, B * n_in)
    t_idx, src = np.nonzero(flat)
    stim = b2.TimedArray(flat, dt=dt)
    source = b2.SpikeGeneratorGroup(B * n_in, src, t_idx * dt, dt=dt, when=when, order=-1)
    objects, monitors = [source], []
    binary = bool(np.all(flat[t_idx, src] == 1.0))
    n_pre = n_in
    for layer in range(int(_scalar(params, "n_layers"))):
        p = {key[len(f"l{layer}_"):]: val for key, val in params.items() if key.startswith(f"l{layer}_")}
        n = int(_scalar(p, "n_out"))
        spiking, hard = bool(_scalar(p, "spiking")), bool(_scalar(p, "hard"))
        has_syn, has_rec = bool(_scalar(p, "has_syn")), p["rec_w"].size > 0
        base = layer * _ORDER
        group = b2.NeuronGroup(
            B * n, """v : 1
            isyn : 1
            X : 1
            R : 1
            beta : 1 (constant)
            k : 1 (constant)
            th : 1 (constant)
            bias : 1 (constant)
            alpha : 1 (constant)
            vr : 1 (constant, shared)""",
            threshold="v >= th" if spiking else None, reset=("v = vr" if hard else "v = v - th") if spiking else None,
            dt=dt, name=f"layer{layer}")
        for var in ("beta", "k", "th", "bias", "alpha"):
            setattr(group, var, np.tile(p[var], B))
        group.v = np.tile(p["v_init"], B)
        group.vr = float(_scalar(p, "vr"))
        if spiking:
            for obj, order in ((group.thresholder["spike"], 3), (group.resetter["spike"], 4)):
                obj.when, obj.order = when, base + order
        group.run_regularly(update_code(has_syn, has_rec, bool(_scalar(p, "decay_input")), float(_scalar(p, "vr")) == 0),
                            dt=dt, when=when, order=base + 2)
        on_pre = "X_post += w" if layer > 0 or binary else "X_post += w * stim(t - delay, i)"
        ff = b2.Synapses(source, group, "w : 1 (constant)", on_pre=on_pre, dt=dt, namespace={"stim": stim},
                         name=f"synapses{layer}")
        _connect(ff, p["pre"], p["post"], p["w"], p["delay"], dt, B, n_pre, n)
        ff.pre.when, ff.pre.order = when, base
        objects += [group, ff]
        if has_rec:
            rec = b2.Synapses(group, group, "w : 1 (constant)", on_pre="R_post += w", dt=dt, name=f"recurrent{layer}")
            _connect(rec, p["rec_pre"], p["rec_post"], p["rec_w"], np.zeros(p["rec_w"].size, np.int64), dt, B, n, n)
            rec.pre.when, rec.pre.order = when, base + 1
            objects.append(rec)
        if spiking:
            monitors.append(b2.SpikeMonitor(group, when=when, order=base + 5))
        else:
            monitors.append(b2.StateMonitor(group, "v", record=True, dt=dt, when=when, order=base + 5))
        source, n_pre = group, n
    return b2.Network(*objects, *monitors), monitors


def _connect(syn, pre, post, w, delay, dt, B: int, n_pre: int, n_post: int) -> None:
    """Connect ``syn`` as B disconnected copies of the synapse list ``(pre, post, w, delay in steps of dt)``."""
    copies = np.arange(B)[:, None]
    syn.connect(i=(pre[None, :] + copies * n_pre).ravel(), j=(post[None, :] + copies * n_post).ravel())
    syn.w = np.tile(w, B)
    syn.delay = np.tile(delay, B) * dt


def run(params: dict, frames: np.ndarray, target: str = "numpy") -> tuple[list, list]:
    """Simulate ``frames`` [T, B, n_inputs] for T steps with Brian2's code generation ``target`` ("numpy" or
    "cython"). Returns per layer spikes [T, B, n] uint8 (None for non-spiking layers) and membranes [T, B, n]
    float64 (None for spiking layers)."""
    b2.prefs.codegen.target = target
    frames = np.asarray(frames, dtype=np.float64)
    T, B, _ = frames.shape
    net, monitors = build(params, frames)
    dt = float(_scalar(params, "dt_ms")) * b2.ms
    net.run(T * dt)
    spikes, membranes = [], []
    for layer, mon in enumerate(monitors):
        n = int(_scalar(params, f"l{layer}_n_out"))
        if isinstance(mon, b2.SpikeMonitor):
            s = np.zeros((T, B * n), dtype=np.uint8)
            s[np.round(np.asarray(mon.t / dt)).astype(np.int64), np.asarray(mon.i)] = 1
            spikes.append(s.reshape(T, B, n))
            membranes.append(None)
        else:
            spikes.append(None)
            membranes.append(np.asarray(mon.v).T.reshape(T, B, n))
    return spikes, membranes
