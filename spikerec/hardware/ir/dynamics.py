"""The IR's neuron update and readout rule, written once for every numpy simulator.

Neuron update of one layer for one sample and one step (``beta = decay``, ``k = 1 - beta``, ``X`` the
synaptic current of the step, ``r`` the recurrent current of the previous step's spikes), in this order::

    "cuba_*" only: I = syn_decay*I + (X + bias) [+ r];  then X + bias := I and r := 0 below
    decay_input=True : H = beta*V + k*(X + bias + v_reset) + k*r
    decay_input=False: H = beta*V + (X + bias + k*v_reset) + r
    "lif", "cuba_lif": S = H >= threshold; hard reset V = v_reset where S, soft reset V = H - threshold*S
    "li", "cuba_li"  : V = H (no spikes; the membrane is the output)

For "lif"/"li" this is :mod:`spikerec.neurons.functional`'s LIF/LI (the torch and C kernels, tested against
:func:`update_neurons` in tests/test_hardware_dynamics.py), in the same order of operations, so float64
results are bit-identical to a float64 torch run. The event simulator, the crossbar simulator and the Brian2
model (:mod:`spikerec.hardware.ir.brian2_model`, the same operations as Brian2 statements) all follow
:func:`update_neurons`; the dense torch reference calls the torch kernels (and a torch loop for "cuba_*").

Readout rule over a sample's window (:mod:`spikerec.window`): "softmax_sum" scores class ``k`` with
``sum_{t < W} softmax(V_t)_k`` of the last (``li``) layer, "membrane_sum" with ``sum_{t < W} V_t[k]``; a spiking
last layer scores each neuron by its spike count. :func:`spikerec.training.losses.class_scores` is the torch
twin of :func:`readout_scores` (tested against it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spikerec.window import time_mask

__all__ = ["update_neurons", "readout_scores", "predict_from_membrane", "predict_from_outputs"]


@njit(cache=True, nogil=True)
def update_neurons(v, syn, current, bias, rec, has_rec, alpha, has_syn, beta, k, th, vr, decay_input, hard, spiking,
                   out_idx):
    """Update the membranes ``v`` [n] (and synaptic currents ``syn`` [n] when ``has_syn``) in place for one
    step; returns how many neurons spiked.

    ``current`` [n] synaptic input of the step, ``bias`` [n], ``rec`` [n] recurrent current (read only when
    ``has_rec``), ``alpha`` [n] synaptic decay (read only when ``has_syn``), ``beta``/``k``/``th`` [n]
    float64, ``vr`` the reset value. Spiking neurons' indices go to ``out_idx[:n_spikes]`` in increasing order.
    """
    n_spk = 0
    for o in range(v.shape[0]):
        xo = current[o] + bias[o]
        membrane_rec = has_rec
        if has_syn:
            i = syn[o] * alpha[o]
            i = i + xo
            if has_rec:
                i = i + rec[o]
            syn[o] = i
            xo = i
            membrane_rec = False
        if decay_input:
            u = xo * k[o] if vr == 0.0 else (xo + vr) * k[o]
        else:
            u = xo if vr == 0.0 else xo + k[o] * vr
        h = v[o] * beta[o]
        h = h + u
        if membrane_rec:
            h = h + rec[o] * k[o] if decay_input else h + rec[o]
        if spiking and h >= th[o]:
            out_idx[n_spk] = o
            n_spk += 1
            v[o] = vr if hard else h - th[o]
        else:
            v[o] = h
    return n_spk


def readout_scores(membrane: np.ndarray, readout: str = "softmax_sum", window=None) -> np.ndarray:
    """Class scores [B, K] from a readout membrane [T, B, K] over each sample's window (float64)."""
    m = np.asarray(membrane, dtype=np.float64)
    if readout == "membrane_sum":
        per_step = m
    else:
        e = np.exp(m - m.max(axis=2, keepdims=True))
        per_step = e / e.sum(axis=2, keepdims=True)
    if window is not None:
        per_step = per_step * time_mask(np.asarray(window), m.shape[0])[:, :, None]
    return per_step.sum(axis=0)


def predict_from_membrane(membrane: np.ndarray, readout: str = "softmax_sum", window=None) -> np.ndarray:
    """Predicted class per sample from a readout membrane [T, B, K] over each sample's window."""
    return readout_scores(membrane, readout, window).argmax(axis=1)


def predict_from_outputs(membranes: list, spikes: list, readout: str, window=None) -> np.ndarray:
    """Predicted class per sample from the last layer: its membrane readout when it is non-spiking, otherwise
    the most active output neuron (``membranes``/``spikes`` as a simulator returns them, 0 after each window)."""
    if membranes[-1] is not None:
        return predict_from_membrane(membranes[-1], readout, window)
    return spikes[-1].sum(axis=0).argmax(axis=1)
