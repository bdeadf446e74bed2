"""Heterogeneous timescale initialisers."""

from __future__ import annotations

import math

import pytest
import torch

from spikerec.errors import ConfigError, ParameterError
from spikerec.neurons import LIF, AdaptiveLIF
from spikerec.neurons.timescales import init_tau_, sample_tau_ms


@pytest.mark.parametrize("distribution,params,mean,std", [
    ("gamma", {"mean_ms": 20.0, "shape": 4.0}, 20.0, 10.0),
    ("lognormal", {"median_ms": 10.0, "sigma": 0.3}, 10.0 * math.exp(0.045), 10.0 * math.exp(0.045) * math.sqrt(math.exp(0.09) - 1)),
    ("uniform", {"low_ms": 5.0, "high_ms": 25.0}, 15.0, 20.0 / math.sqrt(12)),
])
def test_sample_moments_and_reproducible(distribution, params, mean, std):
    tau = sample_tau_ms(20000, distribution, torch.Generator().manual_seed(0), **params)
    assert tau.dtype == torch.float32 and tau.shape == (20000,) and bool((tau > 0).all())
    assert float(tau.mean()) == pytest.approx(mean, rel=0.03)
    assert float(tau.std()) == pytest.approx(std, rel=0.05)
    again = sample_tau_ms(20000, distribution, torch.Generator().manual_seed(0), **params)
    assert torch.equal(tau, again)


def test_init_records_distribution_and_clips_counted():
    lif = LIF(500, dt_ms=1.0, learn_tau=True)
    rec = init_tau_(lif, "gamma", torch.Generator().manual_seed(1), mean_ms=3.0, shape=1.0)
    assert lif.tau_distribution is rec and rec["distribution"] == "gamma" and rec["shape"] == 1.0
    assert rec["n_clipped"] > 0 and float(lif.tau_ms.detach().min()) == pytest.approx(2.0, abs=1e-4)  # 2 dt
    assert rec["n_clipped"] == int((lif.tau_ms < 2.0 + 1e-4).sum())
    adlif = AdaptiveLIF(10)
    init_tau_(adlif, "uniform", attr="tau_adapt", low_ms=100.0, high_ms=300.0)
    assert adlif.tau_adapt_distribution["high_ms"] == 300.0
    assert bool((adlif.tau_adapt.tau_ms() >= 100.0 - 1e-3).all())


def test_bad_distribution_arguments():
    with pytest.raises(ConfigError, match="unknown tau distribution"):
        sample_tau_ms(3, "poisson")
    with pytest.raises(ConfigError, match="no parameter"):
        sample_tau_ms(3, "gamma", scale=2.0)
    with pytest.raises(ParameterError, match="low_ms < high_ms"):
        sample_tau_ms(3, "uniform", low_ms=5.0, high_ms=5.0)
    with pytest.raises(ParameterError, match="sigma=-1"):
        sample_tau_ms(3, "lognormal", sigma=-1)


def test_inverse_softplus_round_trips_small_and_large_values():
    from torch.nn import functional as F

    from spikerec.neurons.functional import inverse_softplus

    y = torch.tensor([1e-6, 0.3, 1.0, 25.0, 80.0], dtype=torch.float64)
    x = inverse_softplus(y)
    assert torch.allclose(F.softplus(x), y, rtol=1e-12, atol=0)
    assert x[0] < -13 and abs(float(x[-1]) - 80.0) < 1e-12  # log(expm1(y)): -13.8 near 0, y for large y
