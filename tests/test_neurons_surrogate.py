"""Surrogate registry: names, parameters, peer conventions, standalone spike op."""

from __future__ import annotations

import math

import pytest
import torch

from spikerec.errors import ConfigError, ParameterError
from spikerec.neurons import surrogate as SG


def test_registry_names_and_params():
    assert SG.names() == ["atan", "fast_sigmoid", "gaussian", "sigmoid", "triangle"]
    s = SG.get("atan", alpha=3.0, scale=0.5)
    assert s.params() == {"scale": 0.5, "alpha": 3.0} and SG.get(s) is s
    assert isinstance(SG.get("Fast-Sigmoid"), SG.FastSigmoid)
    with pytest.raises(ConfigError, match="unknown surrogate 'relu'"):
        SG.get("relu")
    with pytest.raises(ConfigError, match="no parameter"):
        SG.get("atan", slope=3)
    with pytest.raises(ParameterError, match="alpha=-1"):
        SG.get("atan", alpha=-1)


@pytest.mark.parametrize("name", ["atan", "sigmoid", "triangle", "gaussian"])
def test_unit_area_and_peak_at_threshold(name):
    z = torch.linspace(-50, 50, 400001, dtype=torch.float64)
    g = SG.get(name).grad(z)
    area = torch.trapezoid(g, z).item()
    assert area == pytest.approx(1.0, abs=2e-2 if name == "atan" else 1e-4)  # atan has heavy tails
    assert int(g.argmax()) == 200000


def test_fast_sigmoid_matches_snntorch_formula():
    z = torch.linspace(-1, 1, 11)
    torch.testing.assert_close(SG.get("fast_sigmoid", slope=25).grad(z), 1 / (25 * z.abs() + 1) ** 2)


def test_spike_forward_heaviside_backward_surrogate():
    z = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    s = SG.spike(z, "atan")
    assert s.tolist() == [0.0, 1.0, 1.0]
    s.sum().backward()
    expect = 1.0 / (1 + (math.pi / 2 * 2 * z.detach()) ** 2)
    torch.testing.assert_close(z.grad, expect)


@pytest.mark.peers
def test_atan_and_sigmoid_match_spikingjelly():
    sjs = pytest.importorskip("spikingjelly.activation_based.surrogate")
    z = torch.linspace(-2, 2, 101)
    for ours, theirs in ((SG.get("atan", alpha=3.0), sjs.ATan(alpha=3.0)), (SG.get("sigmoid", alpha=4.0), sjs.Sigmoid(alpha=4.0))):
        zz = z.clone().requires_grad_()
        theirs(zz).sum().backward()
        torch.testing.assert_close(ours.grad(z), zz.grad)


@pytest.mark.peers
def test_atan_matches_snntorch():
    snn = pytest.importorskip("snntorch")
    z = torch.linspace(-2, 2, 101).requires_grad_()
    snn.surrogate.atan(alpha=2.0)(z).sum().backward()
    torch.testing.assert_close(SG.get("atan", alpha=2.0).grad(z.detach()), z.grad)
