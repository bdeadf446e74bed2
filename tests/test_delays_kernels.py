"""Compute kernels: compiled (numba) paths against the dense torch definitions."""

from __future__ import annotations

import pytest
import torch

from spikerec.delays import functional as Fd
from spikerec.delays import kernels

pytestmark = pytest.mark.skipif(kernels._event_kernels is None, reason="numba not installed")


def sparse_input(t, b, c, density, seed=0, binary=True):
    gen = torch.Generator().manual_seed(seed)
    mask = (torch.rand(t, b, c, generator=gen) < density).float()
    return mask if binary else mask * torch.randn(t, b, c, generator=gen)


@pytest.mark.parametrize("binary", [True, False])
def test_event_product_matches_dense_conv_with_gradients(binary):
    torch.manual_seed(0)
    kall = torch.randn(7, 9, 5)  # [Cin, K, Cout]
    x = sparse_input(30, 3, 7, 0.15, binary=binary)
    outs = []
    for fn in (kernels.delayed_matmul, kernels.dense_delayed_matmul):
        xi, ki = x.clone().requires_grad_(True), kall.clone().requires_grad_(True)
        y = fn(xi, ki)
        (y * torch.arange(y.numel()).reshape(y.shape).sin()).sum().backward()
        outs.append((y, xi.grad, ki.grad))
    for a, b in zip(*outs):
        assert torch.allclose(a, b, atol=1e-5)
    assert outs[0][0].abs().sum() > 0


def test_dense_input_takes_dense_path(monkeypatch):
    def fail(*args):
        raise AssertionError("event path used for dense input")

    monkeypatch.setattr(kernels._EventDelayedMatmul, "apply", fail)
    kernels.delayed_matmul(torch.randn(10, 2, 4), torch.randn(4, 3, 2))


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


def test_integer_inference_matches_one_hot_kernel():
    torch.manual_seed(2)
    w = torch.randn(5, 6, 2)
    d = torch.randint(0, 8, (5, 6, 2))
    x = sparse_input(20, 3, 6, 0.2, binary=False)
    with torch.no_grad():
        y = kernels.integer_delayed_matmul(x, w, d, 8)
    ref = kernels.dense_delayed_matmul(x, kernels.integer_kernel(w, d, 8))
    assert torch.allclose(y, ref, atol=1e-5)


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
        assert torch.allclose(a, b, atol=1e-5)
