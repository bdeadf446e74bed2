"""A :class:`~spikerec.hardware.ir.network.Network` as Brian2 parameters, and as a standalone Brian2 script.

:func:`network_params` flattens the IR into the arrays :mod:`spikerec.hardware.ir.brian2_model` builds from
(synapse lists, float64 neuron parameters exactly as the event simulator uses them). :func:`export_brian2` writes
``net.py`` (the model file itself plus a command line) and ``net.npz`` (those arrays): the script needs only numpy
and brian2, and runs ``python net.py --input frames.npy [--target cython] [--save out.npz]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from spikerec.hardware.ir.network import Layer, Network

__all__ = ["network_params", "export_brian2"]

_MAIN = '''

# ---- command line (written by `spikerec export --format brian2`) ----------------------------------------------
if __name__ == "__main__":
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Run the exported spikerec network in Brian2 on input frames.")
    parser.add_argument("--input", required=True, help=".npy frames [T, C] or [T, B, C] (C = n_inputs), one row a step")
    parser.add_argument("--params", default=str(Path(__file__).with_suffix(".npz")), help="the network's .npz arrays")
    parser.add_argument("--target", default="numpy", choices=["numpy", "cython"], help="Brian2 code generation")
    parser.add_argument("--save", help="write every layer's spikes / membranes [T, B, n] to this .npz")
    args = parser.parse_args()
    params = dict(np.load(args.params))
    frames = np.load(args.input)
    frames = frames[:, None, :] if frames.ndim == 2 else frames
    # a sample is its frames followed by drain_steps input-free steps (spikerec's sample window)
    drain = np.zeros((int(params["drain_steps"]), *frames.shape[1:]))
    spikes, membranes = run(params, np.concatenate([frames, drain]), args.target)
    out = {}
    for layer, (s, m) in enumerate(zip(spikes, membranes)):
        name = str(params[f"l{layer}_name"])
        if s is not None:
            out[name] = s
            print(f"{name}: {int(s.sum())} spikes")
        else:
            out[name] = m
            print(f"{name}: membrane of the last step {np.round(m[-1], 4).tolist()}")
    if args.save:
        np.savez_compressed(args.save, **out)
'''


def _synapse_list(weight, delay) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pre, post, weight float64, delay int64) of the non-zero weights, by presynaptic then postsynaptic index."""
    coo = sp.coo_array(weight)
    keep = coo.data != 0
    rows, cols, vals = coo.row[keep], coo.col[keep], coo.data[keep]
    order = np.lexsort((rows, cols))
    rows, cols, vals = rows[order], cols[order], vals[order]
    if delay is None:
        d = np.zeros(rows.size, dtype=np.int64)
    else:
        d = np.asarray(sp.csr_array(delay)[rows, cols]).reshape(-1).astype(np.int64) if rows.size else np.zeros(0, np.int64)
    return cols.astype(np.int64), rows.astype(np.int64), vals.astype(np.float64), d


def _layer_params(layer: Layer) -> dict[str, Any]:
    pre, post, w, d = _synapse_list(layer.weight, layer.delay)
    if layer.recurrent_weight is not None:
        rpre, rpost, rw, _ = _synapse_list(layer.recurrent_weight, None)
    else:
        rpre, rpost, rw = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    beta = layer.decay.astype(np.float64)
    n = layer.n_out
    return {"name": np.str_(layer.name), "n_out": n, "pre": pre, "post": post, "w": w, "delay": d,
            "rec_pre": rpre, "rec_post": rpost, "rec_w": rw, "beta": beta, "k": 1.0 - beta,
            "th": layer.threshold.astype(np.float64),
            "bias": np.zeros(n) if layer.bias is None else layer.bias.astype(np.float64),
            "alpha": np.zeros(n) if layer.syn_decay is None else layer.syn_decay.astype(np.float64),
            "v_init": layer.initial_membrane().astype(np.float64), "vr": float(layer.v_reset),
            "decay_input": bool(layer.decay_input), "hard": layer.reset == "hard", "spiking": layer.spiking,
            "has_syn": layer.has_synapse}


def network_params(net: Network) -> dict[str, np.ndarray]:
    """The flat array dict of :mod:`~spikerec.hardware.ir.brian2_model` (layer ``l``'s keys prefixed ``l{l}_``)."""
    net.validate()
    params: dict[str, Any] = {"dt_ms": float(net.dt_ms), "n_inputs": int(net.n_inputs), "n_layers": len(net.layers),
                              "drain_steps": int(net.drain_steps), "readout": np.str_(net.readout)}
    for i, layer in enumerate(net.layers):
        params.update({f"l{i}_{key}": val for key, val in _layer_params(layer).items()})
    return {key: np.asarray(val) for key, val in params.items()}


def export_brian2(net: Network, out: str | Path) -> dict[str, Any]:
    """Write the standalone script ``out`` (.py) and its arrays ``out`` with suffix .npz; returns their paths."""
    out = Path(out)
    weights = out.with_suffix(".npz")
    np.savez(weights, **network_params(net))
    out.write_text(Path(__file__).with_name("brian2_model.py").read_text() + _MAIN)
    return {"script": str(out), "params": str(weights)}
