"""The integer half of a quantised Network: per-layer integer arrays, their HDF5 group, their validation.

A quantised :class:`~spikerec.hardware.ir.network.Network` carries its :class:`~spikerec.hardware.ir.profile.
TargetProfile` (``Network.profile``) and on every layer a :class:`LayerQuant` (``Layer.quant``). The layer's float
fields then hold the *dequantised* values (so float-only tools, the crossbar simulator, NIR export and the
counts, read the same network)::

    weight    = w * unit(e) / scale        unit(e) = gain * 2^(e + activation_shift)
    threshold = th / scale ("lif"; 0 for "li"),  bias = b / scale
    decay     = 1 - d / 2^F (multiply) or 1 - 2^-dash_mem (shift)

``gain`` is 1 for the multiply family and ``1 - 2^-dash_syn`` for the shift family (a spike's first-step effect on
the membrane through the synaptic current). ``decay_input`` is False and ``v_reset`` 0 on quantised layers (the
input decay is folded into the weights). The integer simulators (:mod:`spikerec.hardware.simulators.fixed_point`)
run the integers; :mod:`spikerec.hardware.ir.integer_dynamics` says what they mean.

HDF5 (additive to format version 2): root attr ``profile`` (JSON of ``TargetProfile.to_dict()``); per layer a group
``/layers/<i>/quant`` with attrs ``weight_exp``, ``recurrent_exp``, ``scale`` and datasets ``weight``,
``[recurrent_weight]`` (dense or CSR like the float matrices), ``threshold``, ``decay``, ``[bias]``,
``[synapse_decay]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from spikerec.errors import CheckpointError
from spikerec.hardware.ir.matrices import nonzero_count, read_matrix, to_dense, write_matrix
from spikerec.hardware.ir.profile import TargetProfile, profile_from_dict

__all__ = ["LayerQuant", "weight_unit", "dequantized_decay", "crossbar_levels", "validate_quantization", "check_limits",
           "threshold_ceiling", "write_quant", "read_quant", "write_profile", "read_profile"]

_VECTORS = ("threshold", "decay", "bias", "synapse_decay")


@dataclass
class LayerQuant:
    """Integer parameters of one layer (see the module docstring); all arrays numpy."""

    weight: Any  # int32 dense or CSR [n_out, n_in]: stored weight values (multiples of the profile's lsb)
    weight_exp: int
    threshold: np.ndarray  # int64 [n_out]: spike when v >= threshold
    decay: np.ndarray  # int32 [n_out]: multiply: d; shift: dash_mem
    scale: float  # membrane integer units per float unit
    recurrent_weight: Any = None  # int32 [n_out, n_out] or None
    recurrent_exp: int = 0
    bias: np.ndarray | None = None  # int64 [n_out] (multiply family)
    synapse_decay: np.ndarray | None = None  # int32 [n_out]: dash_syn (shift family)


def weight_unit(profile: TargetProfile, exponent: int, synapse_dash: np.ndarray | int | None = None) -> Any:
    """Membrane units one stored weight step carries on the step it arrives (``unit(e)`` above)."""
    gain = 1.0
    if profile.family == "shift":
        dash = profile.synapse_dash if synapse_dash is None else synapse_dash
        gain = 1.0 - 2.0 ** -np.asarray(dash, dtype=np.float64)
    return gain * 2.0 ** (exponent + profile.activation_shift)


def dequantized_decay(profile: TargetProfile, decay: np.ndarray) -> np.ndarray:
    """The float beta of integer decays (float32 [n])."""
    d = np.asarray(decay, dtype=np.float64)
    beta = 1.0 - d / 2.0 ** profile.decay_bits if profile.family == "multiply" else 1.0 - 2.0 ** -d
    return beta.astype(np.float32)


def crossbar_levels(q: LayerQuant, profile: TargetProfile) -> tuple[int, int | None]:
    """Conductance levels per device that hold the stored weights exactly when a matrix's largest magnitude maps to
    g_max: (feed-forward, recurrent or None)."""
    def levels(m) -> int:
        values = np.abs(m.data if sp.issparse(m) else np.asarray(m))
        return int(values.max(initial=0)) // profile.weight_lsb + 1 if values.size else 2

    return max(2, levels(q.weight)), None if q.recurrent_weight is None else max(2, levels(q.recurrent_weight))


# -- validation ---------------------------------------------------------------------------------------

def validate_quantization(network, fail) -> None:
    """Check a quantised network against its profile; ``fail(msg)`` raises (Network.validate's error naming)."""
    p: TargetProfile | None = network.profile
    quant = [layer.quant is not None for layer in network.layers]
    if p is None:
        if any(quant):
            fail("layers carry integer parameters ('quant') but the network has no target profile")
        return
    if not all(quant):
        fail(f"network has target profile {p.name!r} but layer(s) {[i for i, q in enumerate(quant) if not q]} have "
             f"no integer parameters; re-quantise it with 'spikerec quantize'")
    check_limits(network, p, fail)
    w_lo, w_hi = p.weight_range
    e_lo, e_hi = p.weight_exponent
    for index, layer in enumerate(network.layers):
        q: LayerQuant = layer.quant
        n = layer.n_out

        def bad(msg: str, i=index, la=layer) -> None:
            fail(f"layer {i} ({la.name!r}): quant: {msg}")

        if not (isinstance(q.scale, float) and np.isfinite(q.scale) and q.scale > 0):
            bad(f"scale must be a finite float > 0, got {q.scale!r}")
        if layer.decay_input or layer.v_reset != 0.0 or layer.v_init is not None:
            bad("quantised layers have decay_input=False, v_reset=0 and no v_init (the input decay is folded into "
                "the weights)")
        if layer.kind == "lif" and layer.reset not in p.reset_modes:
            bad(f"reset {layer.reset!r} is not one of the target's {list(p.reset_modes)}")
        if layer.max_delay > p.max_delay:
            bad(f"delays up to {layer.max_delay} steps exceed the target's {p.max_delay}")
        for name, exp, stored, floats in (("weight", q.weight_exp, q.weight, layer.weight),
                                          ("recurrent_weight", q.recurrent_exp, q.recurrent_weight,
                                           layer.recurrent_weight)):
            if (stored is None) != (floats is None):
                bad(f"{name} is present in only one of the float and integer parameters")
            if stored is None:
                continue
            values = stored.data if sp.issparse(stored) else np.asarray(stored)
            if not np.issubdtype(values.dtype, np.integer) or tuple(stored.shape) != tuple(floats.shape):
                bad(f"{name} must be an integer matrix of shape {list(floats.shape)}, got {values.dtype} "
                    f"{list(stored.shape)}")
            if not (isinstance(exp, (int, np.integer)) and e_lo <= exp <= e_hi):
                bad(f"{name} exponent {exp!r} is outside the target's [{e_lo}, {e_hi}]")
            if values.size and (values.min() < w_lo or values.max() > w_hi or np.any(values % p.weight_lsb)):
                bad(f"{name} holds values outside the target's weights ({w_lo}..{w_hi} in steps of {p.weight_lsb})")
            dense = to_dense(stored).astype(np.float64)
            unit = weight_unit(p, int(exp), q.synapse_decay)
            unit = unit[:, None] if np.ndim(unit) else unit
            expected = (dense * unit / q.scale).astype(np.float32)
            if nonzero_count(stored) != nonzero_count(floats) or not np.allclose(
                    to_dense(floats), expected, rtol=1e-6, atol=0.0):
                bad(f"float {name} is not the dequantised integer {name} (integer * unit / scale)")
        for name in _VECTORS:
            value = getattr(q, name)
            required = name in ("threshold", "decay") or (name == "synapse_decay" and p.family == "shift")
            if value is None:
                if required:
                    bad(f"field {name!r} is missing")
                continue
            if name == "synapse_decay" and p.family != "shift":
                bad("synapse_decay is only used by the shift family")
            if name == "bias" and not p.bias_bits:
                bad(f"the target {p.name!r} has no neuron bias")
            if not (isinstance(value, np.ndarray) and value.shape == (n,) and np.issubdtype(value.dtype, np.integer)):
                bad(f"{name} must be an integer array of shape [{n}]")
        if np.any(q.decay < 0) or np.any(q.decay > p.decay_max):
            bad(f"decay values must lie in [0, {p.decay_max}]")
        if q.synapse_decay is not None and (np.any(q.synapse_decay < 1) or np.any(q.synapse_decay > p.decay_max)):
            bad(f"synapse_decay values must lie in [1, {p.decay_max}]")
        if layer.kind == "lif" and (np.any(q.threshold < 1) or np.any(q.threshold > threshold_ceiling(p))):
            bad(f"thresholds must lie in [1, {threshold_ceiling(p)}] (the target's threshold register)")


def threshold_ceiling(p: TargetProfile) -> int:
    """Largest effective (``>=``) threshold the profile's register can express."""
    strict = 1 if p.threshold_compare == ">" else 0
    return (p.threshold_max << p.threshold_shift) + strict


def check_limits(network, p: TargetProfile, fail) -> None:
    """Size limits of the profile (0 = unlimited), each naming the limit."""
    hidden = network.layers[:-1]
    checks = [("inputs", network.n_inputs), ("outputs", network.n_classes),
              ("hidden_neurons", sum(la.n_out for la in hidden))]
    for name, value in checks:
        if p.limit(name) and value > p.limit(name):
            fail(f"{value} {name.replace('_', ' ')} exceed the target {p.name!r} limit of {p.limit(name)}")
    if p.limit("fan_out"):
        for i, layer in enumerate(hidden):
            fan = np.count_nonzero(to_dense(network.layers[i + 1].weight), axis=0)
            if layer.recurrent_weight is not None:
                fan = fan + np.count_nonzero(to_dense(layer.recurrent_weight), axis=0)
            if fan.max(initial=0) > p.limit("fan_out"):
                fail(f"layer {i} ({layer.name!r}): a neuron has fan-out {int(fan.max())}, above the target "
                     f"{p.name!r} limit of {p.limit('fan_out')} (recurrent + next-layer synapses)")


# -- HDF5 -------------------------------------------------------------------------------------------

def write_profile(f, profile: TargetProfile | None) -> None:
    if profile is not None:
        f.attrs["profile"] = json.dumps(profile.to_dict(), sort_keys=True)


def read_profile(f, where: str) -> TargetProfile | None:
    text = f.attrs.get("profile")
    if text is None:
        return None
    return profile_from_dict(json.loads(text.decode() if isinstance(text, bytes) else str(text)), f"{where}: profile")


def write_quant(g, q: LayerQuant | None) -> None:
    """Write ``q`` into the layer group ``g`` (nothing when None)."""
    if q is None:
        return
    sub = g.create_group("quant")
    sub.attrs.update({"weight_exp": int(q.weight_exp), "recurrent_exp": int(q.recurrent_exp), "scale": float(q.scale)})
    for name in ("weight", "recurrent_weight"):
        if getattr(q, name) is not None:
            write_matrix(sub, name, getattr(q, name))
    for name in _VECTORS:
        if getattr(q, name) is not None:
            sub.create_dataset(name, data=getattr(q, name))


def read_quant(g, where: str) -> LayerQuant | None:
    """The layer group's integer parameters, or None when it has none."""
    if "quant" not in g:
        return None
    sub = g["quant"]
    vectors = {name: (sub[name][()] if name in sub else None) for name in _VECTORS}
    weight = read_matrix(sub, "weight", f"{where}: quant")
    if weight is None:
        raise CheckpointError(f"{where}: quant: field 'weight' is missing")
    return LayerQuant(weight=weight, weight_exp=int(sub.attrs["weight_exp"]), scale=float(sub.attrs["scale"]),
                      recurrent_weight=read_matrix(sub, "recurrent_weight", f"{where}: quant"),
                      recurrent_exp=int(sub.attrs["recurrent_exp"]), **vectors)
