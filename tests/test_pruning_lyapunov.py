"""Lyapunov spectrum (Benettin/QR): known maps, diagnostics, HRSNN Jacobian."""

from __future__ import annotations

import math

import pytest
import torch

from spikerec.errors import ConfigError, ShapeError
from spikerec.models.hrsnn import HRSNN, step_jacobian_product, surrogate_for
from spikerec.pruning.lyapunov import henon_step, hrsnn_lyapunov_spectrum, linear_map_step, lyapunov_spectrum


def test_linear_map_exponents_are_log_abs_eigenvalues():
    gen = torch.Generator().manual_seed(0)
    basis = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    eig = torch.tensor([1.3, -0.8, 0.5, 0.2], dtype=torch.float64)
    a = basis @ torch.diag(eig) @ torch.linalg.inv(basis)
    res = lyapunov_spectrum(linear_map_step(a), torch.ones(4), n_steps=2000, n_transient=200, generator=gen)
    expected = torch.sort(eig.abs().log(), descending=True).values
    assert torch.allclose(res.exponents, expected, atol=5e-3)
    assert res.converged


def test_linear_map_rotation_pair_shares_modulus():
    r, theta = 0.9, 0.7
    a = torch.tensor([[r * math.cos(theta), -r * math.sin(theta)], [r * math.sin(theta), r * math.cos(theta)]])
    res = lyapunov_spectrum(linear_map_step(a), torch.ones(2), n_steps=3000, n_transient=100)
    assert torch.allclose(res.exponents, torch.full((2,), math.log(r), dtype=torch.float64), atol=2e-3)


def test_henon_largest_exponent():
    res = lyapunov_spectrum(henon_step(), torch.tensor([0.1, 0.1]), n_steps=6000, n_transient=500,
                            generator=torch.Generator().manual_seed(1))
    assert res.max == pytest.approx(0.419, abs=0.01)
    # Sum of exponents = log|det J| = log 0.3 for the Henon map.
    assert float(res.exponents.sum()) == pytest.approx(math.log(0.3), abs=1e-3)
    assert res.converged and res.window_std.max() < 5e-3


def test_diagnostics_shapes_and_units():
    res = lyapunov_spectrum(henon_step(), torch.tensor([0.1, 0.1]), n_steps=400, k=1, dt=0.5, window=50)
    assert res.running.shape == (400, 1) and res.window == 50 and res.window_std.shape == (1,)
    assert res.to_dict()["n_steps"] == 400
    assert "running" in res.to_dict(include_running=True)


def test_rejects_bad_arguments():
    with pytest.raises(ShapeError):
        lyapunov_spectrum(henon_step(), torch.zeros(2, 2), n_steps=10)
    with pytest.raises(ConfigError):
        lyapunov_spectrum(henon_step(), torch.zeros(2), n_steps=10, k=3)


def test_hrsnn_jacobian_product_matches_autograd():
    model = HRSNN(n_neurons=12, p_connect=0.4, seed=3)
    alpha, w = model.alpha.double(), model.effective_weight().detach().double()
    cur = torch.randn(12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    u = torch.linspace(0.2, 1.6, 12, dtype=torch.float64)
    theta, slope = model.config.threshold, model.config.surrogate_slope

    def step(v):
        s = surrogate_for(slope)(v - theta)
        return alpha * v * (1 - s.detach()) + (1 - alpha) * (w @ s + cur)

    jac = torch.autograd.functional.jacobian(step, u)
    q = torch.eye(12, dtype=torch.float64)
    assert torch.allclose(step_jacobian_product(q, u, w, alpha, theta, slope), jac, atol=1e-10)


def test_hrsnn_spectrum_is_seeded_and_finite():
    model = HRSNN(n_neurons=30, seed=1)
    x = torch.randn(300, 1, generator=torch.Generator().manual_seed(0))
    a = hrsnn_lyapunov_spectrum(model, x, k=4, n_transient=50, seed=2)
    b = hrsnn_lyapunov_spectrum(model, x, k=4, n_transient=50, seed=2)
    assert torch.equal(a.exponents, b.exponents) and torch.isfinite(a.exponents).all()
    assert a.unit == "1/ms" and list(a.exponents) == sorted(a.exponents, reverse=True)
    with pytest.raises(ConfigError):
        hrsnn_lyapunov_spectrum(model, x, currents=torch.zeros(300, 30))
