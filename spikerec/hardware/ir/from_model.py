"""Export a trained torch model to the :class:`~spikerec.hardware.ir.network.Network` IR.

What changes on export (and why it does not change what the network computes in evaluation):

* delays are rounded to integer steps (``DelayedLinear.integer_delays()``, i.e. integer-delay mode);
* eval-mode BatchNorm ``y*s + (beta - mean*s)``, ``s = gamma/sqrt(var+eps)``, is folded into the
  synapse: ``W' = s[:, None] * W`` and ``bias' = s*bias + beta - mean*s`` (float32, so folded
  weights carry one float32 rounding; see docs/hardware.md for the agreement policy);
* dropout is dropped (identity in evaluation);
* pruning masks (a synapse-mask parametrization of :mod:`spikerec.models.synapse_masks`,
  ``torch.nn.utils.prune``'s ``weight_mask``, ``RecurrentLIF.recurrent_mask``, ``HRSNN.mask``) are applied, and
  feed-forward ones kept in ``Layer.mask``; each matrix is stored as CSR when at most half of it is non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from spikerec.errors import ConfigError
from spikerec.hardware.ir.network import Layer, Network
from spikerec.models.synapse_masks import applied_mask
from spikerec.models.walk import batchnorm_affine, layer_modules

__all__ = ["network_from_model", "model_layers", "ModelLayer"]


@dataclass
class ModelLayer:
    """One layer of a :class:`~spikerec.models.SpikingNetwork` as the IR sees it (before BatchNorm folding).

    ``weight`` float64 [out, in] (delay taps merged), ``delay`` int64 [out, in] or None, ``bias`` [out] or None,
    ``mask`` bool [out, in] or None (already applied), ``norm`` the BatchNorm or None, ``neuron`` the module
    (LIF/RecurrentLIF/AdaptiveLIF ... for hidden layers, the LI integrator for the readout).
    """

    name: str
    kind: str  # "lif" (hidden, spiking) | "li" (readout)
    weight: np.ndarray
    delay: np.ndarray | None
    bias: np.ndarray | None
    mask: np.ndarray | None
    norm: nn.Module | None
    neuron: nn.Module
    module: nn.Module  # the block (or readout) holding them

    def recurrent_weight(self) -> np.ndarray | None:
        """The neuron's effective (masked) recurrent weights [out, out] float64, or None."""
        if not hasattr(self.neuron, "effective_recurrent_weight"):
            return None
        with torch.no_grad():
            return self.neuron.effective_recurrent_weight().detach().double().cpu().numpy()


def model_layers(model: nn.Module) -> list[ModelLayer]:
    """The layers of a :class:`~spikerec.models.SpikingNetwork` under their IR names (:func:`layer_modules`), with
    their synapses as numpy arrays."""
    out = []
    for name, kind, module in layer_modules(model):
        weight, delay, bias, mask = _synapse_arrays(module.synapse, name)
        if kind == "li":
            out.append(ModelLayer(name, kind, weight, delay, bias, mask, None, module.integrator, module))
        else:
            out.append(ModelLayer(name, kind, weight, delay, bias, mask, module.norm, module.neuron, module))
    return out


def network_from_model(model: nn.Module, *, sparse: str | bool = "auto", n_inputs: int | None = None,
                       input_pooling: int = 1, drain_steps: int | None = None, metadata: dict | None = None) -> Network:
    """IR of a :class:`~spikerec.models.SpikingNetwork` (LIF / recurrent LIF hidden blocks, LI readout).

    ``sparse``: store weights as CSR (True), dense (False) or CSR when at most half the weights
    are non-zero ("auto"). ``input_pooling``: channel pooling the model's data used (metadata only).
    ``drain_steps``: the sample window's drain the model was trained with (default: its ``latency_steps``).
    """
    from spikerec.neurons import LIF

    layers: list[Layer] = []
    dt_ms = None
    for ml in model_layers(model):
        neuron = ml.neuron
        dt_ms = _same_dt(dt_ms, neuron.dt_ms, ml.name)
        if ml.kind == "li":
            layers.append(_layer(ml.name, "li", ml.weight, ml.delay, ml.bias, neuron.decay, torch.zeros(neuron.n_neurons),
                                 "hard", 0.0, neuron.decay_input, None, ml.mask, sparse))
            continue
        if not isinstance(neuron, LIF):  # RecurrentLIF is a LIF
            raise ConfigError(f"network_from_model: layer {ml.name!r} uses {type(neuron).__name__}; only LIF and "
                              f"RecurrentLIF neurons have an IR equivalent (adaptive and meta-neurons do not)")
        weight, bias = _fold_batchnorm(ml.norm, ml.weight, ml.bias)
        layers.append(_layer(ml.name, "lif", weight, ml.delay, bias, neuron.decay, neuron.threshold, neuron.cfg.reset,
                             neuron.cfg.v_reset, neuron.cfg.decay_input, ml.recurrent_weight(), ml.mask, sparse))
    first_in = layers[0].n_in
    if n_inputs is not None and n_inputs != first_in:
        raise ConfigError(f"network_from_model: n_inputs={n_inputs} but the first layer reads {first_in} channels")
    net = Network(layers=layers, dt_ms=float(dt_ms), n_inputs=first_in, input_pooling=int(input_pooling),
                  n_classes=layers[-1].n_out, readout="softmax_sum",
                  drain_steps=model.latency_steps if drain_steps is None else int(drain_steps),
                  metadata={"source": type(model).__name__, "model_kind": getattr(model, "kind", ""),
                            **(metadata or {})})
    return net.validate("network_from_model")


def _same_dt(current: float | None, new: float, where: str) -> float:
    if current is not None and abs(current - new) > 1e-9:
        raise ConfigError(f"network_from_model: layer {where!r} has dt_ms={new} but earlier layers use {current}")
    return float(new)


def _synapse_arrays(synapse: nn.Module, name: str):
    """(weight float64 [out, in], delay int64 [out, in] | None, bias float64 [out] | None, mask bool | None)."""
    from spikerec.delays import DelayedLinear

    with torch.no_grad():
        mask = applied_mask(synapse, "weight")
        bias = None if synapse.bias is None else synapse.bias.detach().double().cpu().numpy()
        if isinstance(synapse, DelayedLinear):
            w = synapse.weight.detach().double().cpu().numpy()
            d = synapse.integer_delays().cpu().numpy()
            m = None if mask is None else mask.detach().cpu().numpy().astype(bool)
            weight, delay = _merge_taps(w, d, name)
            if m is not None:
                m = m.any(axis=2)
            return weight, delay, bias, m
        if isinstance(synapse, nn.Linear):
            m = None if mask is None else mask.detach().cpu().numpy().astype(bool)
            return synapse.weight.detach().double().cpu().numpy(), None, bias, m
    raise ConfigError(f"network_from_model: layer {name!r} has synapse {type(synapse).__name__}; "
                      f"supported: nn.Linear, DelayedLinear")


def _merge_taps(w: np.ndarray, d: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One (weight, delay) per synapse from [out, in, kernel_count] taps; taps must share a delay."""
    if w.shape[2] == 1:
        return w[:, :, 0], d[:, :, 0]
    live = w != 0
    d_live = np.where(live, d, -1)
    first = d_live.max(axis=2, keepdims=True)
    clash = live & (d != first)
    if clash.any():
        o, i, _ = np.argwhere(clash)[0]
        raise ConfigError(f"network_from_model: layer {name!r} has {int(clash.any(axis=2).sum())} synapse(s) whose "
                          f"kernel_count={w.shape[2]} taps round to different delays (first: out {o}, in {i}); the IR "
                          f"holds one delay per synapse, so train with kernel_count=1")
    return w.sum(axis=2), np.maximum(first[:, :, 0], 0)


def _fold_batchnorm(norm: nn.Module | None, weight: np.ndarray, bias: np.ndarray | None):
    """Fold eval-mode BatchNorm1d into (weight, bias) in float64."""
    if norm is None:
        return weight, bias
    scale, shift = batchnorm_affine(norm)
    b = np.zeros_like(scale) if bias is None else bias
    return weight * scale[:, None], b * scale + shift


def _layer(name, kind, weight, delay, bias, decay, threshold, reset, v_reset, decay_input, rec, mask,
           sparse) -> Layer:
    n_out = weight.shape[0]
    w32 = weight.astype(np.float32)
    if mask is not None:
        w32 = np.where(mask, w32, np.float32(0))
    as_csr = _want_sparse(w32, sparse)
    d = None
    if delay is not None and delay.size and delay.max() > 0:
        d = np.where(w32 != 0, delay, 0).astype(np.int32)
    rec32 = None if rec is None else rec.astype(np.float32)
    if as_csr:
        csr = _csr(w32)
        if d is not None:
            rows = np.repeat(np.arange(n_out), np.diff(csr.indptr))
            d = sp.csr_array((d[rows, csr.indices].astype(np.int32), csr.indices.copy(), csr.indptr.copy()),
                             shape=csr.shape)
        w32 = csr
    if rec32 is not None and _want_sparse(rec32, sparse):  # decided on its own: an HRSNN's input is dense
        rec32 = _csr(rec32)
    return Layer(name=name, kind=kind, weight=w32, delay=d,
                 bias=None if bias is None else np.asarray(bias, dtype=np.float32),
                 decay=_f32(decay), threshold=_f32(threshold, n_out), reset=reset, v_reset=float(v_reset),
                 decay_input=bool(decay_input), recurrent_weight=rec32,
                 mask=None if mask is None else np.asarray(mask, dtype=bool))


def _csr(dense: np.ndarray) -> sp.csr_array:
    """CSR of the non-zero entries, indices sorted."""
    csr = sp.csr_array(dense)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def _want_sparse(w: np.ndarray, sparse: str | bool) -> bool:
    if sparse == "auto":
        return np.count_nonzero(w) <= 0.5 * w.size
    return bool(sparse)


def _f32(value: Any, n: int | None = None) -> np.ndarray:
    """The float32 values the torch kernel uses (decay is computed in float32 there)."""
    arr = torch.as_tensor(value).detach().float().cpu().numpy() if torch.is_tensor(value) else np.asarray(value, np.float32)
    return np.broadcast_to(arr, (n,)).copy() if n is not None and arr.ndim == 0 else arr.astype(np.float32)
