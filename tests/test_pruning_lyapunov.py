"""Lyapunov spectra: known maps, batching, the HRSNN map's two Jacobians against autograd and known
cases, the two-trajectory estimate, repeated estimates with intervals."""

from __future__ import annotations

import math

import pytest
import torch

from spikerec.errors import ConfigError, ShapeError
from spikerec.models.hrsnn import HRSNN
from spikerec.neurons.functional import reset_membrane
from spikerec.neurons.surrogate import spike
from spikerec.pruning.lyapunov import (estimate_lyapunov, finite_difference_lyapunov, henon_step,
                                       hrsnn_lyapunov_spectrum, linear_map_step, lyapunov_spectrum,
                                       neuron_exponents, paired_difference, t_interval)
from spikerec.pruning.spiking_map import RecurrentLIFMap


def test_linear_map_exponents_are_log_abs_eigenvalues():
    gen = torch.Generator().manual_seed(0)
    basis = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    eig = torch.tensor([1.3, -0.8, 0.5, 0.2], dtype=torch.float64)
    a = basis @ torch.diag(eig) @ torch.linalg.inv(basis)
    res = lyapunov_spectrum(linear_map_step(a), torch.ones(4), n_steps=2000, n_transient=200, generator=gen)
    expected = torch.sort(eig.abs().log(), descending=True).values
    assert torch.allclose(res.exponents, expected, atol=5e-3)
    assert res.converged and torch.allclose(res.vector_weights.sum(0), torch.ones(4, dtype=torch.float64))
    assert float(neuron_exponents(res).sum()) == pytest.approx(float(expected.sum()), abs=1e-2)


def test_linear_map_rotation_pair_shares_modulus():
    r, theta = 0.9, 0.7
    a = torch.tensor([[r * math.cos(theta), -r * math.sin(theta)], [r * math.sin(theta), r * math.cos(theta)]])
    res = lyapunov_spectrum(linear_map_step(a), torch.ones(2), n_steps=3000, n_transient=100)
    assert torch.allclose(res.exponents, torch.full((2,), math.log(r), dtype=torch.float64), atol=2e-3)


def test_henon_largest_exponent_and_batch_equals_singles():
    res = lyapunov_spectrum(henon_step(), torch.tensor([0.1, 0.1]), n_steps=6000, n_transient=500,
                            generator=torch.Generator().manual_seed(1))
    assert res.max == pytest.approx(0.419, abs=0.01)
    # Sum of exponents = log|det J| = log 0.3 for the Henon map.
    assert float(res.exponents.sum()) == pytest.approx(math.log(0.3), abs=1e-3)
    assert res.converged and res.window_std.max() < 5e-3
    a = torch.diag(torch.tensor([0.5, 0.9], dtype=torch.float64))
    batch = lyapunov_spectrum(linear_map_step(a), torch.ones(3, 2), n_steps=200, n_transient=100,
                              generator=torch.Generator().manual_seed(0))
    assert batch.exponents.shape == (3, 2) and batch.running.shape == (3, 200, 2)
    assert torch.allclose(batch.exponents, torch.log(torch.tensor([0.9, 0.5], dtype=torch.float64)).expand(3, 2))


def test_diagnostics_shapes_and_bad_arguments():
    res = lyapunov_spectrum(henon_step(), torch.tensor([0.1, 0.1]), n_steps=400, k=1, dt=0.5, window=50)
    assert res.running.shape == (400, 1) and res.window == 50 and res.window_std.shape == (1,)
    assert res.to_dict()["n_steps"] == 400 and "running" in res.to_dict(include_running=True)
    with pytest.raises(ShapeError):
        lyapunov_spectrum(henon_step(), torch.zeros(2, 2, 2), n_steps=10)
    with pytest.raises(ConfigError):
        lyapunov_spectrum(henon_step(), torch.zeros(2), n_steps=10, k=3)


def _autograd_step(layer: RecurrentLIFMap, x: torch.Tensor, surrogate: bool):
    """The map written with autograd ops: spikes through the surrogate's backward, or held constant."""

    def step(h: torch.Tensor) -> torch.Tensor:
        s = spike(h - layer.threshold, layer.cfg.surrogate) if surrogate else layer.spikes(h).detach()
        v = reset_membrane(h, s, layer.threshold, layer.cfg)
        return layer.decay * v + layer.input_gain * (x + layer.weight @ s) + layer.cfg.v_reset * (1 - layer.decay)

    return step


@pytest.mark.parametrize("options", [{}, {"detach_reset": False}, {"reset": "soft", "detach_reset": False},
                                     {"decay_input": False, "v_reset": 0.3}])
def test_both_jacobians_match_autograd_of_the_map(options):
    model = HRSNN(n_neurons=12, p_connect=0.4, seed=3, **options)
    layer = RecurrentLIFMap.from_layer(model.recurrent)
    x = torch.randn(12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    h = torch.linspace(0.2, 1.6, 12, dtype=torch.float64)  # some above threshold: spiking neurons
    eye = torch.eye(12, dtype=torch.float64)
    for surrogate, jac in ((True, layer.surrogate_jacobian), (False, layer.exact_jacobian)):
        expected = torch.autograd.functional.jacobian(_autograd_step(layer, x, surrogate), h)
        assert torch.allclose(jac(h)(eye), expected, atol=1e-12), surrogate
        assert torch.allclose(layer.step(h, x), _autograd_step(layer, x, surrogate)(h))


def test_uncoupled_silent_neurons_decay_at_log_beta():
    """Known case: no recurrence, drive below threshold -> every exponent is log(beta_i)/dt, for both
    Jacobians and for two trajectories."""
    model = HRSNN(n_neurons=6, seed=0, dt_ms=0.5)
    with torch.no_grad():
        model.weight.zero_()
    currents = 0.5 + 0.1 * torch.randn(3000, 6, generator=torch.Generator().manual_seed(0))
    expected = torch.sort(torch.log(model.recurrent.decay.double()) / 0.5, descending=True).values
    for jacobian in ("exact", "surrogate"):
        res = hrsnn_lyapunov_spectrum(model, currents, k=6, n_transient=500, jacobian=jacobian)
        assert float(res.exponents.sum()) == pytest.approx(float(expected.sum()), abs=1e-9)  # log det J, exactly
        assert torch.allclose(res.exponents, expected, atol=2e-3), jacobian
    lam, where = finite_difference_lyapunov(model, currents, delta=1e-6, n_transient=100)
    assert float(lam[0]) == pytest.approx(float(expected[0]), abs=1e-3)
    assert int(where[0].argmax()) == int(model.recurrent.decay.argmax())  # the slowest neuron holds the gap


def test_exact_jacobian_agrees_with_two_nearby_trajectories():
    """The exact Jacobian's largest exponent is the two-trajectory estimate as delta -> 0, on a
    coupled spiking network (the reference of the comparison in docs/pruning.md)."""
    model = HRSNN(n_neurons=40, p_connect=0.2, spectral_radius=16.0, seed=0)
    currents = 1.0 + torch.randn(1100, 40, generator=torch.Generator().manual_seed(10))
    exact = hrsnn_lyapunov_spectrum(model, currents, k=1, jacobian="exact").max
    fd, _ = finite_difference_lyapunov(model, currents, delta=1e-3)
    assert exact < 0 and float(fd[0]) == pytest.approx(exact, abs=5e-3)


def test_soft_reset_exact_spectrum_is_log_beta_even_while_spiking():
    model = HRSNN(n_neurons=8, p_connect=0.5, reset="soft", seed=2)
    currents = 1.5 + torch.randn(3000, 8, generator=torch.Generator().manual_seed(1))
    res = hrsnn_lyapunov_spectrum(model, currents, k=8, n_transient=500, jacobian="exact")
    with torch.no_grad():
        assert float(model.recurrent(currents[:, None, :]).mean()) > 0.05  # it does spike
    expected = torch.sort(torch.log(model.recurrent.decay.double()), descending=True).values
    assert float(res.exponents.sum()) == pytest.approx(float(expected.sum()), abs=1e-9)
    assert torch.allclose(res.exponents, expected, atol=3e-3)


def test_t_interval_by_hand_and_repeated_estimates():
    mean, lo, hi = t_interval(torch.tensor([1.0, 3.0]), 0.95)
    half = 12.706204736 * math.sqrt(2.0) / math.sqrt(2)  # t_{0.975, 1} * s / sqrt(n), s = sqrt(2)
    assert (mean, lo, hi) == pytest.approx((2.0, 2.0 - half, 2.0 + half), rel=1e-6)
    model = HRSNN(n_neurons=30, seed=1)
    drives = 1.0 + torch.randn(400, 4, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for method in ("exact", "surrogate", "finite_size"):
        est = estimate_lyapunov(model, drives, method=method, k=3, n_transient=50)
        m, lo, hi = est.interval()
        assert est.samples.shape[0] == 4 and est.neuron.shape == (4, 30) and lo <= m <= hi
        assert est.to_dict()["lambda_max_ci"] == [lo, hi] and est.to_dict()["method"] == method
        again = estimate_lyapunov(model, drives, method=method, k=3, n_transient=50)
        assert paired_difference(again, est) == (0.0, 0.0, 0.0)
    with pytest.raises(ShapeError):
        estimate_lyapunov(model, drives[:, :1], method="exact")
    with pytest.raises(ConfigError):
        estimate_lyapunov(model, drives, method="bogus")
