"""Compute kernels: compiled (C) and shifted-product paths against conv1d autograd and the torch definitions."""

from __future__ import annotations

import pytest
import torch

from spikerec.delays import _compiled, kernels
from spikerec.delays import functional as Fd

pytestmark = pytest.mark.skipif(not kernels.compiled_available(torch.zeros(1)),
                                reason="compiled delay kernels unavailable (no C compiler)")


def sparse_input(t, b, c, density, seed=0, binary=True):
    gen = torch.Generator().manual_seed(seed)
    mask = (torch.rand(t, b, c, generator=gen) < density).float()
    return mask if binary else mask * torch.randn(t, b, c, generator=gen)


def reference_product(x, kall, g):
    """Output and gradients (x, kall) of conv1d autograd for the loss sum(y * g)."""
    xr, kr = x.clone().requires_grad_(True), kall.clone().requires_grad_(True)
    y = kernels.dense_delayed_matmul(xr, kr)
    (y * g).sum().backward()
    return y.detach(), xr.grad, kr.grad


def assert_close(a, b, rel=1e-5):
    scale = b.abs().max().clamp(min=1.0)
    assert ((a - b).abs().max() / scale).item() < rel, ((a - b).abs().max() / scale).item()


# T, B, Cin, Cout, K: one channel group and several (Cin above the L1 tile), Cout below, at and above
# a 16-float block, T shorter than K, K above 16 (two delay tiles in the kernel gradient), B = 1, K = 1.
SHAPES = [(30, 3, 7, 5, 9), (41, 5, 33, 17, 16), (12, 2, 6, 20, 25), (25, 1, 40, 32, 25), (9, 4, 5, 3, 1),
          (37, 3, 11, 70, 40)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("binary", [True, False])
def test_event_product_matches_conv1d_autograd(shape, binary):
    t, b, cin, cout, k = shape
    torch.manual_seed(0)
    kall = torch.randn(cin, k, cout)
    x = sparse_input(t, b, cin, 0.15, binary=binary)
    g = torch.randn(t, b, cout)
    y_ref, gx_ref, gk_ref = reference_product(x, kall, g)
    xi, ki = x.clone().requires_grad_(True), kall.clone().requires_grad_(True)
    y = kernels.delayed_matmul(xi, ki)
    (y * g).sum().backward()
    assert y_ref.abs().sum() > 0
    for a, r in ((y, y_ref), (xi.grad, gx_ref), (ki.grad, gk_ref)):
        assert_close(a, r)


def test_dense_input_uses_shifted_products(monkeypatch):
    def fail(*args):
        raise AssertionError("event kernel used for dense input")

    monkeypatch.setattr(_compiled, "forward", fail)
    monkeypatch.setattr(_compiled, "kernel_grad", fail)
    x, kall, g = torch.randn(10, 2, 4), torch.randn(4, 3, 70), torch.randn(10, 2, 70)
    y_ref, gx_ref, gk_ref = reference_product(x, kall, g)
    xi, ki = x.clone().requires_grad_(True), kall.clone().requires_grad_(True)
    y = kernels.delayed_matmul(xi, ki)
    (y * g).sum().backward()
    for a, r in ((y, y_ref), (xi.grad, gx_ref), (ki.grad, gk_ref)):
        assert_close(a, r)


@pytest.mark.parametrize("n_out", [kernels.GEMM_MIN_OUT - 1, kernels.GEMM_MIN_OUT])  # conv1d / shifted GEMMs
def test_input_grad_both_forms(n_out):
    kall, g = torch.randn(6, 7, n_out), torch.randn(5, 3, n_out)  # T < K
    x = torch.randn(5, 3, 6)
    assert_close(kernels.input_grad(g, kall), reference_product(x, kall, g)[1])


@pytest.mark.parametrize("interpolation,sigma", [("gauss", 12.0), ("gauss", 0.23), ("gauss", 2.0), ("linear", 0.0)])
def test_compiled_kernel_construction_matches_torch(interpolation, sigma):
    torch.manual_seed(1)
    k = 25
    w = torch.randn(6, 5, 2, requires_grad=True)
    p = torch.empty(6, 5, 2).uniform_(-12, 12).requires_grad_(True)
    window = Fd.tap_window(sigma, k, interpolation)
    kall = kernels.build_kernel(w, p, Fd.effective_sigma(sigma), interpolation == "gauss", window, k)
    w2, p2 = w.detach().clone().requires_grad_(True), p.detach().clone().requires_grad_(True)
    ref = Fd.dense_kernel(w2, p2, sigma, k, interpolation).flip(-1).permute(1, 2, 0)  # all K taps
    assert torch.allclose(kall, ref, atol=1e-6)
    g = torch.randn_like(ref)
    (kall * g).sum().backward()
    (ref * g).sum().backward()
    assert torch.allclose(w.grad, w2.grad, atol=1e-5) and torch.allclose(p.grad, p2.grad, atol=1e-5)


def test_tap_window_shrinks_with_sigma():
    assert Fd.tap_window(12.0, 25, "gauss") == 25
    assert Fd.tap_window(0.23, 25, "gauss") == 9  # 7 std of 0.5 steps on each side of the centre tap
    assert Fd.tap_window(0.0, 25, "linear") == 2


@pytest.mark.parametrize("t", [20, 33, 3])  # below, above a 32-step tile; shorter than the delays
@pytest.mark.parametrize("kc", [1, 2])
def test_integer_inference_matches_one_hot_kernel(t, kc):
    torch.manual_seed(2)
    w = torch.randn(5, 6, kc)
    w[0, :3] = 0.0  # pruned synapses are skipped
    d = torch.randint(0, 8, (5, 6, kc))
    x = sparse_input(t, 3, 6, 0.2, binary=False)
    with torch.no_grad():
        y = kernels.integer_delayed_matmul(x, w, d, 8)
    ref = kernels.dense_delayed_matmul(x, kernels.integer_kernel(w, d, 8))
    assert ref.abs().sum() > 0
    assert_close(y, ref)


def test_integer_inference_by_hand():
    """y[t] = w x[t - d] for one synapse: an analytic case independent of every kernel."""
    x = torch.zeros(6, 1, 1)
    x[1, 0, 0] = 2.0
    w, d = torch.tensor([[[0.5]]]), torch.tensor([[[3]]])
    with torch.no_grad():
        y = kernels.integer_delayed_matmul(x, w, d, 4)
    assert y.flatten().tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_multithreaded_kernels_match_single_threaded():
    torch.manual_seed(3)
    kall = torch.randn(11, 6, 7, requires_grad=True)
    x = sparse_input(25, 5, 11, 0.1)
    delays = torch.randint(0, 6, (7, 11, 1))
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            kall.grad = None
            y = kernels.delayed_matmul(x, kall)
            y.pow(2).sum().backward()
            with torch.no_grad():
                yi = kernels.integer_delayed_matmul(x, kall[:, 0, :].t().unsqueeze(-1), delays, 6)
            results.append((y.detach(), kall.grad.clone(), yi))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results):
        assert torch.equal(a, b)  # each output is summed in the same order whatever the split


def test_kernel_env_switch_selects_torch(monkeypatch):
    monkeypatch.setenv("SPIKEREC_KERNEL", "torch")
    monkeypatch.setattr(_compiled, "_tried", False)
    monkeypatch.setattr(_compiled, "_lib", None)
    assert not kernels.compiled_available(torch.zeros(1))


def test_temporal_basis_spans_wide_gaussian_profiles_only():
    k = 25
    basis = Fd.temporal_basis(12.0, k)
    assert basis is not None and basis.shape[1] <= 8  # 25 taps, rank 8 at the initial sigma
    assert torch.allclose(basis.t() @ basis, torch.eye(basis.shape[1], dtype=torch.float64), atol=1e-12)
    # profiles at positions off the fitting grid, built independently with tap_weights (delay order)
    pos = torch.empty(500, dtype=torch.float64).uniform_(*Fd.position_limits(k))
    _, g = Fd.tap_weights(pos, 12.0, k)
    g = g.flip(-1)
    assert ((g - g @ basis @ basis.t()).abs().max() / g.abs().max()).item() < 1e-8
    assert Fd.temporal_basis(0.23, k) is None  # narrow: no saving
    assert Fd.temporal_basis(0.0, k, "linear") is None


@pytest.mark.parametrize("n_out,t", [(20, 40), (70, 12)])  # Cout tail of a 16-block; T < K
def test_low_rank_input_grad_matches_dense(n_out, t):
    torch.manual_seed(4)
    k, sigma = 25, 12.0
    w = torch.randn(n_out, 9, 1)
    p = torch.empty(n_out, 9, 1).uniform_(*Fd.position_limits(k))
    kall = Fd.dense_kernel(w, p, sigma, k).flip(-1).permute(1, 2, 0).contiguous()
    g = torch.randn(t, 3, n_out)
    exact = reference_product(torch.zeros(t, 3, 9), kall, g)[1]
    assert_close(kernels.input_grad(g, kall, Fd.temporal_basis(sigma, k)), exact)


def test_positions_out_of_range_skip_the_basis(monkeypatch):
    """The basis is fitted on position_limits only: an unclamped position must take the exact path."""
    calls = []
    monkeypatch.setattr(kernels, "delayed_matmul", lambda x, kall, basis=None: calls.append(basis) or x[..., :1])
    w, x = torch.ones(1, 1, 1), torch.zeros(3, 1, 1)
    Fd.delayed_linear(x, w, torch.full((1, 1, 1), 5.0), 12.0, 25)
    Fd.delayed_linear(x, w, torch.full((1, 1, 1), 13.0), 12.0, 25)  # limits are [-12, 12]
    assert calls[0] is not None and calls[1] is None
