"""spikerec LIF configured like SpikingJelly's LIFNode / snntorch's Leaky reproduces their spike trains.

Mapping (documented in docs/neurons.md):
- SpikingJelly ``LIFNode(tau=r, decay_input=d, v_threshold=th, v_reset=vr)`` (tau in steps) ==
  ``LIF(N, tau_ms=r*dt_ms, dt_ms=dt_ms, threshold=th, reset="hard", v_reset=vr, decay_input=d)``;
  ``v_reset=None`` == ``reset="soft"``.
- snntorch ``Leaky(beta=b, threshold=th, reset_mechanism="zero"|"subtract", reset_delay=False)`` ==
  ``LIF(N, tau_ms=dt_ms/(1-b), dt_ms=dt_ms, threshold=th, reset="hard"|"soft", decay_input=False)``.
"""

from __future__ import annotations

import pytest
import torch

from spikerec.neurons import LIF
from spikerec.neurons import functional as NF
from spikerec.neurons._cpu_kernel import library

BACKENDS = ["torch"] + (["c"] if library() is not None else [])


def _x(T=50, B=4, N=64, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, N, generator=g) * scale + 0.4 * scale


@pytest.mark.peers
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("v_reset", [0.0, -0.5, None])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("tau", [2.0, 4.0])
def test_matches_spikingjelly_lifnode(backend, v_reset, decay_input, tau):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    from spikingjelly.activation_based import surrogate as sjs

    x = _x(scale=1.5 if decay_input else 0.6)
    node = sj.LIFNode(tau=tau, decay_input=decay_input, v_threshold=1.0, v_reset=v_reset,
                      surrogate_function=sjs.ATan(alpha=2.0), step_mode="m", store_v_seq=True)
    xs = x.clone().requires_grad_()
    s_sj = node(xs)
    ours = LIF(64, tau_ms=tau * 0.5, dt_ms=0.5, threshold=1.0, reset="soft" if v_reset is None else "hard",
               v_reset=0.0 if v_reset is None else v_reset, decay_input=decay_input, surrogate="atan",
               surrogate_kwargs={"alpha": 2.0})
    xo = x.clone().requires_grad_()
    with NF.backend(backend):
        s_ours, v_ours = ours(xo, return_membrane=True)
    assert 0.02 < s_ours.mean() < 0.9
    assert torch.equal(s_ours, s_sj)
    torch.testing.assert_close(v_ours, node.v_seq, rtol=1e-5, atol=1e-5)
    w = torch.randn_like(s_sj)
    (s_sj * w).sum().backward()
    with NF.backend(backend):
        (s_ours * w).sum().backward()
    torch.testing.assert_close(xo.grad, xs.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.peers
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mechanism,reset", [("zero", "hard"), ("subtract", "soft")])
@pytest.mark.parametrize("beta", [0.5, 0.875])
def test_matches_snntorch_leaky(backend, mechanism, reset, beta):
    snn = pytest.importorskip("snntorch")
    # snntorch's reset_delay=False soft reset differs from a plain subtraction once the membrane exceeds
    # twice the threshold; inputs <= 0.95 keep H = beta*V + X below 2 (V < 1 after every reset).
    x = _x(scale=0.6, seed=1).clamp(max=0.95)
    leaky = snn.Leaky(beta=beta, threshold=1.0, spike_grad=snn.surrogate.atan(), reset_mechanism=mechanism,
                      reset_delay=False)
    mem = leaky.reset_mem()
    spikes = []
    for t in range(x.shape[0]):
        spk, mem = leaky(x[t], mem)
        spikes.append(spk)
    s_snn = torch.stack(spikes)
    ours = LIF(64, tau_ms=1.0 / (1.0 - beta), dt_ms=1.0, threshold=1.0, reset=reset, decay_input=False)
    with NF.backend(backend):
        s_ours = ours(x)
    assert 0.02 < s_ours.mean() < 0.9
    assert torch.equal(s_ours, s_snn)
