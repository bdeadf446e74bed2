"""Adaptive LIF (adLIF) fused kernel vs an unfused autograd loop; gradcheck; module behaviour."""

from __future__ import annotations

import pytest
import torch

from spikerec.errors import ShapeError
from spikerec.neurons import AdaptiveLIF
from spikerec.neurons import functional as NF
from spikerec.neurons import surrogate as SG
from spikerec.neurons._cpu_kernel import library

from kernel_backends import assert_backends_agree, on_both_backends

BACKENDS = ["torch"] + (["c"] if library() is not None else [])


def reference_adlif(x, state, alpha, beta, a, b, th, vr, reset, detach, sg, W=None):
    h, s, w = state
    S, H, Wa = [], [], []
    for t in range(x.shape[0]):
        w = beta * w + a * h + b * s
        sr = s.detach() if detach else s
        v = h * (1 - sr) + vr * sr if reset == "hard" else h - th * sr
        inp = x[t] if W is None else x[t] + s @ W.t()
        h = alpha * v + (1 - alpha) * (inp - w)
        s = sg(h - th)
        S.append(s), H.append(h), Wa.append(w)
    return torch.stack(S), torch.stack(H), torch.stack(Wa)


def _args(rec: bool, seed: int = 0, T=8, B=2, N=4):
    g = torch.Generator().manual_seed(seed)
    dt = torch.float64

    def r(*shape):
        return torch.rand(*shape, generator=g, dtype=dt)

    x = (torch.randn(T, B, N, generator=g, dtype=dt) * 1.5 + 1).requires_grad_()
    state = ((0.5 * r(B, N)).requires_grad_(), (r(B, N) > 0.5).to(dt).requires_grad_(), (0.3 * r(B, N)).requires_grad_())
    alpha = (r(N) * 0.5 + 0.4).requires_grad_()
    beta = (r(N) * 0.3 + 0.6).requires_grad_()
    a = (r(N) * 2 - 1).requires_grad_()
    b = (r(N) * 2).requires_grad_()
    th = (r(N) + 0.5).requires_grad_()
    W = (torch.randn(N, N, generator=g, dtype=dt) * 0.5).requires_grad_() if rec else None
    return x, state, alpha, beta, a, b, th, W


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rec", [False, True])
@pytest.mark.parametrize("reset,detach", [("soft", False), ("soft", True), ("hard", False), ("hard", True)])
def test_adlif_matches_reference(backend, reset, detach, rec):
    x, state, alpha, beta, a, b, th, W = _args(rec)
    vr = 0.1 if reset == "hard" else 0.0
    sg = SG.get("atan")
    with NF.backend(backend):
        S1, H1, W1, last = NF.adlif_multistep(x, state, alpha, beta, a, b, th, v_reset=vr, reset=reset,
                                              detach_reset=detach, surrogate=sg, recurrent_weight=W)
    S2, H2, W2 = reference_adlif(x, state, alpha, beta, a, b, th, vr, reset, detach, sg, W)
    assert torch.equal(S1, S2) and 0 < S1.mean() < 1
    torch.testing.assert_close(H1, H2, rtol=0, atol=1e-12)
    torch.testing.assert_close(W1, W2, rtol=0, atol=1e-12)
    assert torch.equal(last[0], H1[-1]) and torch.equal(last[2], W1[-1])
    args = [x, *state, alpha, beta, a, b, th] + ([W] if rec else [])
    gs = torch.randn_like(S1)
    g1 = torch.autograd.grad((S1 * gs).sum() + (H1 ** 2).sum() + W1.sum(), args)
    g2 = torch.autograd.grad((S2 * gs).sum() + (H2 ** 2).sum() + W2.sum(), args)
    for p, q in zip(g1, g2):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rec", [False, True])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_adlif_gradcheck_float64(backend, reset, rec):
    x, state, alpha, beta, a, b, th, W = _args(rec, seed=1, T=5)
    flat = SG.get("triangle", width=1e-7)  # see test_neurons_lif.test_lif_gradcheck_float64

    s0 = state[1].detach()  # binary: finite differences of a 0/1 input are meaningless

    def f(x, h0, w0, alpha, beta, a, b, th, *w):
        with NF.backend(backend):
            S, H, Wa, _ = NF.adlif_multistep(x, (h0, s0, w0), alpha, beta, a, b, th, reset=reset, surrogate=flat,
                                             recurrent_weight=w[0] if w else None)
        return H, Wa

    args = (x, state[0], state[2], alpha, beta, a, b, th) + ((W,) if rec else ())
    assert torch.autograd.gradcheck(f, args, eps=1e-7, atol=1e-6)


@pytest.mark.skipif(len(BACKENDS) < 2, reason="no C compiler: only the torch kernel exists")
@pytest.mark.parametrize("surrogate", SG.names())
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_adlif_backends_agree_float32(surrogate, reset):
    # without recurrence the compiled forward is bitwise the torch one (same operations, same order)
    x, state, alpha, beta, a, b, th, _ = _args(False, seed=4, T=12, B=4, N=33)
    x32, state32 = x.detach().float().requires_grad_(), [s.detach().float().requires_grad_() for s in state]
    params = [p.detach().float().requires_grad_() for p in (alpha, beta, a, b, th)]
    out = []
    for backend in ("torch", "c"):
        with NF.backend(backend):
            S, H, Wa, _ = NF.adlif_multistep(x32, tuple(state32), *params, reset=reset, surrogate=surrogate)
            loss = (S * torch.linspace(-1, 1, 33)).sum() + H.square().sum() + Wa.sum()
            out.append((S, H, Wa, torch.autograd.grad(loss, [x32, *state32, *params])))
    assert 0 < out[0][0].mean() < 1
    for i in range(3):
        assert torch.equal(out[0][i], out[1][i])
    for p, q in zip(out[0][3], out[1][3]):  # float32 rounding, relative to each gradient's scale
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-5 * float(p.abs().max()))


@pytest.mark.skipif(len(BACKENDS) < 2, reason="no C compiler: only the torch kernel exists")
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_recurrent_adlif_backends_agree_with_threads(reset):
    # two row threads in the compiled forward, a partial block of packed weights (N = 70), float64
    g = torch.Generator().manual_seed(12)
    T, B, N = 40, 48, 70
    dt = torch.float64
    x = (torch.randn(T, B, N, generator=g, dtype=dt) * 1.5 + 1.5).requires_grad_()
    params = [(torch.rand(N, generator=g, dtype=dt) * 0.5 + 0.4).requires_grad_(),
              (torch.rand(N, generator=g, dtype=dt) * 0.3 + 0.6).requires_grad_(),
              (torch.rand(N, generator=g, dtype=dt) * 2 - 1).requires_grad_(),
              (torch.rand(N, generator=g, dtype=dt) * 2).requires_grad_(),
              (torch.rand(N, generator=g, dtype=dt) + 0.5).requires_grad_()]
    W = (torch.randn(N, N, generator=g, dtype=dt) * 0.3).requires_grad_()
    gs = torch.randn(T, B, N, generator=g, dtype=dt)

    def run():
        S, H, Wa, _ = NF.adlif_multistep(x, None, *params, reset=reset, recurrent_weight=W)
        return S, H, torch.autograd.grad((S * gs).sum() + H.sum(), [x, *params, W])

    assert_backends_agree(*on_both_backends(run))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("rec", [False, True])
def test_cuda_matches_cpu(rec):
    x, state, alpha, beta, a, b, th, W = _args(rec, T=12)
    leaves = [x, *state, alpha, beta, a, b, th] + ([W] if rec else [])
    outs = []
    for device in ("cpu", "cuda"):
        args = [t.detach().to(device).requires_grad_() for t in leaves]
        S, H, Wa, _ = NF.adlif_multistep(args[0], tuple(args[1:4]), *args[4:9],
                                         recurrent_weight=args[9] if rec else None)
        grads = torch.autograd.grad((S * torch.linspace(-1, 1, 4, device=device)).sum() + H.square().sum(), args)
        outs.append([t.cpu() for t in (S, H, Wa, *grads)])
    assert torch.equal(outs[0][0], outs[1][0])
    for p, q in zip(outs[0][1:], outs[1][1:]):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-9)


def test_adaptive_module_streaming_learning_and_clamps():
    torch.manual_seed(0)
    layer = AdaptiveLIF(6, tau_ms=torch.linspace(5, 25, 6), tau_adapt_ms=200.0, a=torch.linspace(-3, 3, 6),
                        b=1.5, recurrent=True, recurrent_mask=torch.rand(6, 6) > 0.5)
    x = torch.rand(15, 3, 6) * 4
    spikes, u = layer(x, return_membrane=True)
    (spikes.sum() + u.sum()).backward()
    for p in (layer.tau.raw, layer.tau_adapt.raw, layer.b, layer.recurrent_weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert layer.a.grad[0] == 0 and layer.a.grad[-1] == 0  # clamped to [-1, 1]: no gradient outside
    state, outs = layer.initial_state(3), []
    for t in range(15):
        s, state = layer.step(x[t], state)
        outs.append(s)
    assert torch.equal(torch.stack(outs), spikes)
    with pytest.raises(ShapeError):
        layer(torch.zeros(3, 2, 5))
