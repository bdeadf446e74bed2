"""Probabilistic meta-neuron: sampling modes, expectation/export equivalence, gradients to internal parameters."""

from __future__ import annotations

import pytest
import torch

from spikerec.errors import ConfigError, ShapeError
from spikerec.neurons import functional as NF
from spikerec.neurons.meta import MetaNeuron


def _layer(**kw):
    torch.manual_seed(0)
    return MetaNeuron(12, 5, tau_ms=10.0, release_prob=0.3, quantal_amplitude=1.5, inhibition=0.2,
                      generator=torch.Generator().manual_seed(1), **kw)


def _spikes(T=20, B=4, n=12, seed=0):
    return (torch.rand(T, B, n, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def test_expectation_equals_plain_lif_with_expected_weight_and_eval_is_deterministic():
    layer = _layer().eval()
    x = _spikes()
    s1, v1 = layer(x, return_membrane=True)
    assert torch.equal(layer(x), s1)  # deterministic in eval mode
    with torch.no_grad():
        current = x @ layer.expected_weight().t()
        s2, _, v2 = NF.lif_multistep(current, None, layer.tau.decay(), layer.threshold, reset="hard",
                                     decay_input=False, return_membrane=True)
    torch.testing.assert_close(v1, v2, rtol=1e-5, atol=1e-5)
    assert torch.equal(s1, s2)


@pytest.mark.parametrize("mode", ["gaussian", "relaxed"])
def test_stochastic_release_has_the_model_mean_and_variance(mode):
    layer = _layer()
    x = _spikes(T=1, B=1)
    with torch.no_grad():
        draws = torch.stack([layer._excitation(x, mode) for _ in range(4000)])
        expect = layer._excitation(x, "expectation")
        p, w, q = layer.release_prob, layer.weight, layer.quantal_amplitude
        var = (x * x) @ (p * (1 - p) * w * w).t() * q * q
    torch.testing.assert_close(draws.mean(0), expect, atol=4 * float(var.max().sqrt()) / 60, rtol=0)
    torch.testing.assert_close(draws.var(0), var, rtol=0.12, atol=1e-4)
    if mode == "relaxed":  # straight-through: each synapse releases all or nothing in the forward
        one = torch.zeros(1, 1, 12)
        one[..., 3] = 1.0
        with torch.no_grad():
            base = layer.inhibition * one.mean(-1, keepdim=True)
            ratio = torch.stack([(layer._excitation(one, mode) + base) / (q * w[:, 3]) for _ in range(50)])
        assert bool(((ratio - 0).abs() < 1e-5).logical_or((ratio - 1).abs() < 1e-5).all())


@pytest.mark.parametrize("mode", ["gaussian", "relaxed", "expectation"])
def test_gradients_reach_every_internal_parameter(mode):
    layer = _layer(sampling=mode).train()
    x = _spikes() * 3
    spikes, v = layer(x, return_membrane=True)
    (spikes.sum() + v.square().sum()).backward()
    for name in ("weight", "release_logit", "quantal_raw", "inhibition_raw", "threshold_raw", "tau.raw"):
        grad = layer.get_parameter(name).grad
        assert grad is not None and bool(torch.isfinite(grad).all()) and grad.abs().sum() > 0, name


def test_training_moves_firing_rate_to_target():
    layer = _layer(sampling="gaussian")
    x = _spikes(T=30, B=8) * 2
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    target = 0.4

    def loss():
        return (layer(x).mean() - target) ** 2

    first = float(loss().detach())
    for _ in range(40):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert float(loss().detach()) < 0.25 * first


def test_bad_arguments():
    with pytest.raises(ConfigError):
        MetaNeuron(3, 2, sampling="exact")
    layer = _layer()
    with pytest.raises(ShapeError, match=r"\[T, B, 12\]"):
        layer(torch.zeros(5, 2, 11))
    with pytest.raises(ConfigError, match="gaussian"):
        MetaNeuron(2000, 2000, sampling="relaxed")(torch.zeros(20, 2, 2000))
