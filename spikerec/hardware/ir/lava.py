"""Export a :class:`~spikerec.hardware.ir.network.Network` to Lava-dl netx's HDF5 network description.

Layout (the netx protocol: ``layer/<i>`` from input to output, each with ``type`` and ``shape``)::

    layer/0   type="input", shape=[n_inputs], neuron={type="CUBA", iDecay, vDecay, vThMant, refDelay, gradedSpike}
    layer/i   type="dense", shape=[n_out], inFeatures, outFeatures, weight [n_out, n_in] (integers),
              [bias [n_out]], [delay [n_out, n_in] (per-synapse, steps)], neuron={...}
    simulation/Ts = 1, simulation/tSample
    attrs: spikerec_drain_steps, spikerec_readout (the sample window: run each sample's frames, then
           drain_steps empty steps, and read the prediction from that window)

Neuron mapping (Loihi CUBA, 12-bit decays): ``i[t] = (1 - iDecay/4096) i[t-1] + a[t]``,
``v[t] = (1 - vDecay/4096) v[t-1] + i[t]``, spike when ``v >= vThMant * 2^6`` then ``v = 0``.
The IR's LIF is the case ``iDecay = 4096`` (no synaptic filter) and ``vDecay = round(4096 (1 - decay))``;
``decay_input=True`` multiplies the input by ``k = 1 - decay``, which is folded into the weights.
Weights become integers ``round(w * 2^s)`` with the per-layer shift ``s`` chosen so the largest
weight fits ``weight_bits`` signed bits; the threshold becomes ``vThMant = round(threshold * 2^s)``
(netx applies the same ``2^6`` scale to the weight accumulator and the threshold). These roundings
are reported in the returned summary (``quantization``), never silently applied.

Limits (each a ``ConfigError`` naming the layer): delays above ``MAX_DELAY`` (62) steps, recurrent
weights (the netx protocol has no recurrent dense layer), soft reset or a non-zero reset value,
per-neuron thresholds or time constants differing within a layer (netx takes one ``vThMant`` and
one ``vDecay`` per layer). The LI readout becomes a non-spiking CUBA layer (``vThMant = 2^17``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spikerec.errors import ConfigError
from spikerec.hardware.ir.network import Layer, Network, to_dense
from spikerec.hardware.ir.profile import load_profile
from spikerec.io import atomic_path

__all__ = ["export_lava", "MAX_DELAY"]

_LOIHI = load_profile("loihi2")  # one description of Loihi 2's number formats (spikerec/hardware/targets/loihi2.toml)
MAX_DELAY = _LOIHI.max_delay
_NON_SPIKING_VTH = 1 << _LOIHI.threshold_bits


def export_lava(network: Network, path: str | Path, weight_bits: int = _LOIHI.weight_bits, t_sample: int = 0) -> dict[str, Any]:
    """Write ``network`` as a netx HDF5 file; returns a summary with per-layer quantization errors."""
    import h5py

    network.validate()
    plans = [_plan(layer, weight_bits) for layer in network.layers]
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            inp = f.create_group("layer/0")
            inp.create_dataset("type", data=np.bytes_("input"))
            inp.create_dataset("shape", data=np.array([network.n_inputs]))
            _neuron(inp, i_decay=4096, v_decay=4096, vth=1, graded=False)
            for i, (layer, plan) in enumerate(zip(network.layers, plans), start=1):
                g = f.create_group(f"layer/{i}")
                g.create_dataset("type", data=np.bytes_("dense"))
                g.create_dataset("shape", data=np.array([layer.n_out]))
                g.create_dataset("inFeatures", data=layer.n_in)
                g.create_dataset("outFeatures", data=layer.n_out)
                g.create_dataset("weight", data=plan["weight"])
                if plan["bias"] is not None:
                    g.create_dataset("bias", data=plan["bias"])
                if layer.max_delay > 0:
                    g.create_dataset("delay", data=layer.dense_delay().astype(np.int32))
                _neuron(g, i_decay=4096, v_decay=plan["v_decay"], vth=plan["vth"], graded=False)
            f.attrs.update({"spikerec_drain_steps": int(network.drain_steps), "spikerec_readout": network.readout})
            sim = f.create_group("simulation")
            sim.create_dataset("Ts", data=1)
            sim.create_dataset("tSample", data=int(t_sample))
    return {"path": str(path), "format": "lava-dl netx hdf5", "layers": len(network.layers) + 1,
            "drain_steps": int(network.drain_steps),
            "quantization": [{key: plan[key] for key in ("name", "weight_shift", "max_weight_error",
                                                         "weights_changed", "v_decay", "decay_error")}
                             for plan in plans]}


def _neuron(g, i_decay: int, v_decay: int, vth: int, graded: bool) -> None:
    n = g.create_group("neuron")
    n.create_dataset("type", data=np.bytes_("CUBA"))
    n.create_dataset("iDecay", data=int(i_decay))
    n.create_dataset("vDecay", data=int(v_decay))
    n.create_dataset("vThMant", data=int(vth))
    n.create_dataset("refDelay", data=1)
    n.create_dataset("gradedSpike", data=bool(graded))


def _plan(layer: Layer, weight_bits: int) -> dict[str, Any]:
    """Integer weights, threshold mantissa and decay for one layer (or ConfigError)."""
    where = f"export_lava: layer {layer.name!r}"
    if layer.max_delay > MAX_DELAY:
        raise ConfigError(f"{where} has delays up to {layer.max_delay} steps; Lava-dl netx (Loihi 2) supports at "
                          f"most {MAX_DELAY}; retrain with max_delay_ms <= {MAX_DELAY} * dt_ms or use NIR export")
    if layer.recurrent_weight is not None:
        raise ConfigError(f"{where} is recurrent; the netx HDF5 protocol has no recurrent dense layer")
    if layer.v_init is not None:
        raise ConfigError(f"{where} starts from a non-default membrane (v_init); netx neurons start at 0")
    if layer.kind not in ("lif", "li"):
        raise ConfigError(f"{where} is of kind {layer.kind!r}; this exporter writes LIF/LI layers only (CUBA layers "
                          f"with a synaptic decay are not mapped to netx's iDecay yet)")
    if layer.kind == "lif" and (layer.reset != "hard" or layer.v_reset != 0.0):
        raise ConfigError(f"{where} uses reset={layer.reset!r}, v_reset={layer.v_reset}; Loihi CUBA neurons "
                          f"reset to 0 (hard reset, v_reset=0)")
    for name, values in (("decay", layer.decay), ("threshold", layer.threshold)):
        if layer.kind == "lif" or name == "decay":
            if np.unique(values).size != 1:
                raise ConfigError(f"{where} has per-neuron {name} values; netx takes one value per layer")
    beta = float(layer.decay[0])
    k = 1.0 - beta
    gain = k if layer.decay_input else 1.0
    w = to_dense(layer.weight).astype(np.float64) * gain
    b = None if layer.bias is None else layer.bias.astype(np.float64) * gain
    largest = max(float(np.abs(w).max(initial=0.0)), float(np.abs(b).max(initial=0.0)) if b is not None else 0.0)
    limit = 2 ** (weight_bits - 1) - 1
    shift = int(np.floor(np.log2(limit / largest))) if largest > 0 else 0
    scale = 2.0 ** shift
    wq = np.rint(w * scale).astype(np.int32)
    err = np.abs(wq / scale - w)
    v_decay = int(round(4096 * k))
    vth = int(round(float(layer.threshold[0]) * scale)) if layer.kind == "lif" else _NON_SPIKING_VTH
    return {"name": layer.name, "weight": wq, "bias": None if b is None else np.rint(b * scale).astype(np.int32),
            "vth": vth, "v_decay": v_decay, "weight_shift": shift, "max_weight_error": float(err.max(initial=0.0)),
            "weights_changed": int(np.count_nonzero(err > 0)), "decay_error": abs(v_decay / 4096 - k)}
