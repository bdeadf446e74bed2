"""The IR's neuron update and readout rule (spikerec.hardware.ir.dynamics), written once for the numpy
simulators, against the torch and C kernels of spikerec.neurons and the torch readout of spikerec.training."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from spikerec.hardware.ir.dynamics import readout_scores, update_neurons
from spikerec.neurons import functional as NF
from spikerec.training.losses import class_scores


def _run_update(x, v0, rec_w, beta, th, vr, decay_input, hard, spiking):
    """update_neurons step by step over x [T, N] (one sample); recurrent current from the previous spikes."""
    T, N = x.shape
    v, spikes, membranes = v0.copy(), np.zeros((T, N)), np.zeros((T, N))
    out_idx, rec = np.empty(N, np.int64), np.zeros(N)
    for t in range(T):
        n = update_neurons(v, np.zeros(N), x[t], np.zeros(N), rec, rec_w is not None, np.zeros(N), False, beta,
                           1.0 - beta, th, vr, decay_input, hard, spiking, out_idx)
        spikes[t, out_idx[:n]] = 1.0
        membranes[t] = v
        if rec_w is not None:
            rec = rec_w @ spikes[t]
    return spikes, membranes


@pytest.mark.parametrize("backend,decay_input,reset,v_reset,recurrent", [
    (b, d, r, v, rec) for b, d, r, v, rec in itertools.product(["c", "torch"], [True, False], ["hard", "soft"],
                                                                 [0.0, -0.3], [False, True])
    if not (b == "c" and rec)])  # the C kernel has no recurrent path in this release: torch runs it
def test_update_neurons_equals_the_lif_kernels(backend, decay_input, reset, v_reset, recurrent):
    rng = np.random.default_rng(0)
    T, B, N = 40, 3, 9
    x = rng.normal(0.4, 1.0, (T, B, N))
    beta = rng.uniform(0.5, 0.95, N)
    th = rng.uniform(0.6, 1.4, N)
    v0 = rng.normal(0, 0.3, (B, N))
    rec_w = rng.normal(0, 0.5, (N, N)) if recurrent else None
    with NF.backend(backend):
        spikes, v_last, v_seq = NF.lif_multistep(
            torch.from_numpy(x), torch.from_numpy(v0), torch.from_numpy(beta), torch.from_numpy(th), v_reset=v_reset,
            reset=reset, decay_input=decay_input, return_membrane=True,
            recurrent_weight=None if rec_w is None else torch.from_numpy(rec_w))
    assert spikes.sum() > 10 and (spikes == 0).sum() > 10  # both regimes exercised
    for b in range(B):
        s, m = _run_update(x[:, b], v0[b], rec_w, beta, th, v_reset, decay_input, reset == "hard", True)
        np.testing.assert_array_equal(s, spikes[:, b].numpy())
        # float64, same order of operations: bit-identical; a recurrent current is a sum over presynaptic
        # spikes that a matmul orders differently (rounding ~1e-16)
        np.testing.assert_allclose(m, v_seq[:, b].numpy(), rtol=1e-13 if recurrent else 0, atol=1e-14 if recurrent else 0)


@pytest.mark.parametrize("decay_input", [True, False])
def test_update_neurons_equals_the_leaky_integrator(decay_input):
    rng = np.random.default_rng(1)
    x, beta = rng.normal(0, 1, (30, 2, 5)), rng.uniform(0.3, 0.9, 5)
    ref = NF.li_multistep(torch.from_numpy(x), None, torch.from_numpy(beta), decay_input).numpy()
    for b in range(2):
        _, m = _run_update(x[:, b], np.zeros(5), None, beta, np.zeros(5), 0.0, decay_input, True, False)
        np.testing.assert_array_equal(m, ref[:, b])


@pytest.mark.parametrize("readout", ["softmax_sum", "membrane_sum"])
def test_readout_rule_equals_the_training_scores(readout):
    rng = np.random.default_rng(2)
    membrane, window = rng.normal(0, 2, (25, 6, 4)), np.array([25, 3, 10, 0, 17, 1])
    ours = readout_scores(membrane, readout, window)
    if readout == "softmax_sum":
        torch_scores = class_scores(torch.from_numpy(membrane), torch.from_numpy(window)).numpy()
        np.testing.assert_allclose(ours, torch_scores, rtol=1e-12, atol=1e-12)
    for b, w in enumerate(window):  # and against a plain per-sample loop over the window only
        steps = membrane[:w, b]
        per_step = np.exp(steps) / np.exp(steps).sum(axis=1, keepdims=True) if readout == "softmax_sum" else steps
        np.testing.assert_allclose(ours[b], per_step.sum(axis=0), rtol=1e-12, atol=1e-12)
