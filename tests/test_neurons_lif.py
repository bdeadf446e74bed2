"""Fused LIF / LI / recurrent LIF kernels vs a plain unfused autograd loop, on both kernel backends."""

from __future__ import annotations

import itertools

import pytest
import torch

from spikerec.errors import ConfigError, NonFiniteError, ParameterError, ShapeError
from spikerec.neurons import LI, LIF, RecurrentLIF
from spikerec.neurons import functional as NF
from spikerec.neurons import surrogate as SG
from spikerec.neurons._cpu_kernel import library

from kernel_backends import assert_backends_agree, on_both_backends

BACKENDS = ["torch"] + (["c"] if library() is not None else [])


def reference_lif(x, v0, beta, th, vr, reset, detach, decay_input, sg, W=None, s0=None):
    """Unfused LIF written step by step with autograd (same float operations as the kernel)."""
    v, s_prev, S, V, Hs = v0, (torch.zeros_like(v0) if s0 is None else s0), [], [], []
    k = 1 - beta
    for t in range(x.shape[0]):
        inp = x[t] if W is None else x[t] + s_prev @ W.t()
        if decay_input:
            h = v * beta + (inp + vr) * k
        else:
            h = v * beta + (inp + k * vr if vr != 0 else inp)
        s = sg(h - th)
        sr = s.detach() if detach else s
        v = h * (1 - sr) + vr * sr if reset == "hard" else h - th * sr
        S.append(s), V.append(v), Hs.append(h)
        s_prev = s
    return torch.stack(S), torch.stack(V)


def _params(T=7, B=3, N=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=g, dtype=dtype) + 0.8).requires_grad_()
    v0 = (0.3 * torch.randn(B, N, generator=g, dtype=dtype)).requires_grad_()
    beta = (torch.rand(N, generator=g, dtype=dtype) * 0.8 + 0.1).requires_grad_()
    th = (torch.rand(N, generator=g, dtype=dtype) + 0.5).requires_grad_()
    return x, v0, beta, th


CASES = list(itertools.product(["hard", "soft"], [False, True], [True, False]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,detach,decay_input", CASES)
def test_lif_matches_reference(backend, reset, detach, decay_input):
    x, v0, beta, th = _params()
    vr = 0.1 if reset == "hard" else 0.0
    sg = SG.get("atan", alpha=2.0)
    with NF.backend(backend):
        S1, vlast, V1 = NF.lif_multistep(x, v0, beta, th, v_reset=vr, reset=reset, detach_reset=detach,
                                        decay_input=decay_input, surrogate=sg, return_membrane=True)
    S2, V2 = reference_lif(x, v0, beta, th, vr, reset, detach, decay_input, sg)
    assert torch.equal(S1, S2) and torch.equal(V1, V2) and torch.equal(vlast, V2[-1])
    assert 0 < S1.mean() < 1  # the case actually spikes and resets
    gs = torch.randn_like(S1)
    args = (x, v0, beta, th)
    g1 = torch.autograd.grad((S1 * gs).sum() + (V1 * V1).sum(), args)
    g2 = torch.autograd.grad((S2 * gs).sum() + (V2 * V2).sum(), args)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,detach,decay_input", CASES)
def test_lif_gradcheck_float64(backend, reset, detach, decay_input):
    # The spike is a step, so finite differences see the dynamics with a locally fixed spike pattern.
    # A surrogate that is zero away from the threshold (triangle of tiny width) makes the analytic
    # gradient the exact derivative of that piecewise-smooth map: gradcheck then verifies the whole
    # hand-written BPTT (decay, reset Jacobian, learnable tau/threshold, initial state).
    x, v0, beta, th = _params(T=5, B=2, N=3)
    vr = 0.2 if reset == "hard" else 0.0
    sg = SG.get("triangle", width=1e-7)

    def f(x, v0, beta, th):
        with NF.backend(backend):
            S, vlast, V = NF.lif_multistep(x, v0, beta, th, v_reset=vr, reset=reset, detach_reset=detach,
                                           decay_input=decay_input, surrogate=sg, return_membrane=True)
        return V, vlast

    assert torch.autograd.gradcheck(f, (x, v0, beta, th), eps=1e-7, atol=1e-6)


def _recurrent(N=4, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    W = (0.6 * torch.randn(N, N, dtype=dtype, generator=g)).requires_grad_()
    s0 = ((torch.rand(2, N, generator=g, dtype=dtype) < 0.5) * 0.7).to(dtype).requires_grad_()  # any state
    return W, s0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,detach,decay_input", CASES)
def test_recurrent_lif_matches_reference(backend, reset, detach, decay_input):
    x, v0, beta, th = _params(T=8, B=2, N=4, seed=3)
    W, s0 = _recurrent()
    vr = 0.1 if reset == "hard" else 0.0
    sg = SG.get("fast_sigmoid")
    with NF.backend(backend):
        S1, _, V1 = NF.lif_multistep(x, v0, beta, th, v_reset=vr, reset=reset, detach_reset=detach,
                                     decay_input=decay_input, surrogate=sg, recurrent_weight=W, s0=s0,
                                     return_membrane=True)
    S2, V2 = reference_lif(x, v0, beta, th, vr, reset, detach, decay_input, sg, W, s0)
    assert torch.equal(S1, S2) and 0 < S1.mean() < 1
    torch.testing.assert_close(V1, V2, rtol=0, atol=1e-12)
    gs = torch.randn_like(S1)
    args = (x, v0, s0, beta, th, W)
    g1 = torch.autograd.grad((S1 * gs).sum() + (V1 * V1).sum(), args)
    g2 = torch.autograd.grad((S2 * gs).sum() + (V2 * V2).sum(), args)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,decay_input", [("hard", True), ("hard", False), ("soft", True), ("soft", False)])
def test_recurrent_lif_gradcheck_float64(backend, reset, decay_input):
    x, v0, beta, th = _params(T=5, B=2, N=4, seed=3)
    W, s0 = _recurrent()
    flat = SG.get("triangle", width=1e-7)  # see test_lif_gradcheck_float64

    def f(x, v0, s0, beta, th, W):
        with NF.backend(backend):
            return NF.lif_multistep(x, v0, beta, th, reset=reset, decay_input=decay_input, surrogate=flat,
                                    recurrent_weight=W, s0=s0, return_membrane=True)[2]

    assert torch.autograd.gradcheck(f, (x, v0, s0, beta, th, W), eps=1e-7, atol=1e-6)


@pytest.mark.skipif(len(BACKENDS) < 2, reason="no C compiler: only the torch kernel exists")
@pytest.mark.parametrize("reset,decay_input", [("hard", True), ("soft", False)])
def test_recurrent_backends_agree_with_threads_and_padding(reset, decay_input):
    # Large enough for the C forward to split batch rows over 2 threads; N = 70 leaves a partial column
    # block in the packed recurrent weights (blocks of 32 doubles). Float64: the two backends sum the
    # recurrent input in different orders, and chaotic recurrent dynamics amplify float32 rounding.
    g = torch.Generator().manual_seed(11)
    T, B, N = 40, 48, 70
    x = (torch.randn(T, B, N, generator=g, dtype=torch.float64) * 0.6 + (1.5 if decay_input else 0.3)).requires_grad_()
    beta = (torch.rand(N, generator=g, dtype=torch.float64) * 0.5 + 0.4).requires_grad_()
    th = (torch.rand(N, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    W = (torch.randn(N, N, generator=g, dtype=torch.float64) * 0.3).requires_grad_()
    gs, gv = (torch.randn(T, B, N, generator=g, dtype=torch.float64) for _ in range(2))

    def run():
        S, _, V = NF.lif_multistep(x, None, beta, th, reset=reset, decay_input=decay_input, surrogate="atan",
                                   recurrent_weight=W, return_membrane=True)
        return S, V, torch.autograd.grad((S * gs).sum() + (V * gv).sum(), (x, beta, th, W))

    assert_backends_agree(*on_both_backends(run))


@pytest.mark.skipif(len(BACKENDS) < 2, reason="no C compiler: only the torch kernel exists")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_event_driven_and_dense_recurrent_input_are_bitwise_equal(monkeypatch, dtype):
    # The compiled forward adds the recurrent input event by event (few spikes) or as a dense product (many):
    # the same terms in the same order with exact 0/1 products, so forcing either path gives the same bits.
    from spikerec.neurons import _cpu_kernel

    g = torch.Generator().manual_seed(4)
    T, B, N = 30, 9, 300  # 9 rows: 2 full groups of 4 and a short one; 300: a partial column block, 3 term chunks
    x = (torch.randn(T, B, N, generator=g) * 0.7 + 0.4).to(dtype)
    W = (torch.randn(N, N, generator=g) * 0.3).to(dtype)
    out = []
    for fraction in (-1.0, 2.0):  # always dense, never dense
        monkeypatch.setattr(_cpu_kernel, "DENSE_FRACTION", fraction)
        with NF.backend("c"):
            S, _, V = NF.lif_multistep(x, None, 0.8, 1.0, decay_input=False, recurrent_weight=W, return_membrane=True)
        out.append((S, V))
    assert 0.05 < out[0][0].mean() < 0.6
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
    with NF.backend("torch"):  # BLAS sums in another order: equal to rounding
        S_t, _, V_t = NF.lif_multistep(x.double(), None, 0.8, 1.0, decay_input=False, recurrent_weight=W.double(),
                                       return_membrane=True)
    if dtype == torch.float64:
        assert torch.equal(S_t, out[0][0])
        torch.testing.assert_close(V_t, out[0][1], rtol=0, atol=1e-12)


@pytest.mark.skipif(len(BACKENDS) < 2, reason="no C compiler: only the torch kernel exists")
@pytest.mark.parametrize("surrogate", SG.names())
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_backends_agree_float32(surrogate, reset):
    g = torch.Generator().manual_seed(5)
    x = (torch.randn(30, 4, 33, generator=g) * 0.7 + 0.5).requires_grad_()
    beta = torch.full((33,), 0.9, requires_grad=True)
    th = torch.tensor(1.0, requires_grad=True)
    out = []
    for b in ("torch", "c"):
        with NF.backend(b):
            S, _, V = NF.lif_multistep(x, None, beta, th, reset=reset, surrogate=surrogate, return_membrane=True)
            grads = torch.autograd.grad(S.sum() + V.square().sum(), (x, beta, th))
        out.append((S, V, grads))
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])  # bitwise forward
    for a, b in zip(out[0][2], out[1][2]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_li_matches_reference_and_gradcheck():
    x, v0, beta, _ = _params(T=6, B=2, N=3)
    for decay_input in (True, False):
        H = NF.li_multistep(x, v0, beta, decay_input)
        v, ref = v0, []
        for t in range(6):
            v = v * beta + (x[t] * (1 - beta) if decay_input else x[t])
            ref.append(v)
        assert torch.equal(H, torch.stack(ref))
        assert torch.autograd.gradcheck(lambda a, b, c: NF.li_multistep(a, b, c, decay_input), (x, v0, beta))


def test_modules_learnable_tau_threshold_gradients_and_streaming():
    torch.manual_seed(0)
    lif = LIF(6, tau_ms=torch.linspace(3, 30, 6), dt_ms=1.0, reset="soft", learn_tau=True, learn_threshold=True)
    torch.testing.assert_close(lif.tau_ms, torch.linspace(3, 30, 6))
    x = torch.rand(12, 4, 6) * 1.5
    spikes, v = lif(x, return_membrane=True)
    (spikes.sum() + v.sum()).backward()
    assert lif.tau.raw.grad.abs().sum() > 0 and lif.threshold.grad.abs().sum() > 0
    state, outs = lif.initial_state(4), []
    for t in range(12):
        s, state = lif.step(x[t], state)
        outs.append(s)
    assert torch.equal(torch.stack(outs), spikes)
    # tau stays valid (tau >= dt, so the Euler decay stays in [0, 1)) whatever the optimiser does to raw
    for raw in (-1e4, -3.0, 0.0, 50.0):
        with torch.no_grad():
            lif.tau.raw.fill_(raw)
        assert bool((lif.tau_ms >= lif.dt_ms).all()) and bool(((lif.decay >= 0) & (lif.decay < 1)).all())
        assert bool(torch.isfinite(lif(x)).all())


def test_recurrent_module_mask_and_streaming():
    torch.manual_seed(0)
    mask = torch.rand(8, 8) > 0.6
    layer = RecurrentLIF(8, tau_ms=5.0, recurrent_mask=mask)
    x = torch.rand(10, 3, 8) * 3.0
    spikes = layer(x)
    spikes.sum().backward()
    assert bool((layer.recurrent_weight.grad[~mask] == 0).all()) and layer.recurrent_weight.grad[mask].abs().sum() > 0
    state, outs = layer.initial_state(3), []
    for t in range(10):
        s, state = layer.step(x[t], state)
        outs.append(s)
    assert torch.equal(torch.stack(outs), spikes)


def test_li_module_streaming():
    li = LI(4, tau_ms=10.0)
    x = torch.randn(5, 2, 4)
    full = li(x)
    state, outs = li.initial_state(2), []
    for t in range(5):
        h, state = li.step(x[t], state)
        outs.append(h)
    assert torch.equal(torch.stack(outs), full)


def test_bad_input_raises_typed_errors():
    lif = LIF(4, tau_ms=10.0)
    with pytest.raises(ShapeError, match=r"\[5, 2, 3\]"):
        lif(torch.zeros(5, 2, 3))
    with pytest.raises(ShapeError, match=r"\[2, 4\]"):
        lif(torch.zeros(2, 4))
    with pytest.raises(ParameterError, match="tau_ms=1.0"):
        LIF(4, tau_ms=1.0, dt_ms=1.0)
    with pytest.raises(ParameterError, match="tau_ms=-2"):
        LI(3, tau_ms=torch.tensor([5.0, -2.0, 3.0]))
    with pytest.raises(ConfigError):
        LIF(4, reset="zero")
    with pytest.raises(ConfigError, match="unknown surrogate"):
        LIF(4, surrogate="relu")
    bad = torch.zeros(3, 2, 4)
    bad[1, 0, 2] = float("nan")
    for backend in BACKENDS:
        with NF.backend(backend), pytest.raises(NonFiniteError, match=r"\[1, 0, 2\]"):
            lif.train()(bad)
    lif.eval()(bad)  # evaluation tolerates NaN (no check on the hot path)
    with pytest.raises(NonFiniteError):
        LI(4).train()(bad)
    with pytest.raises(ConfigError):
        NF.set_backend("cuda-magic")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_cuda_matches_cpu(reset, recurrent):
    # float64: with recurrence, CPU and GPU sum the recurrent input in different orders
    x, v0, beta, th = _params(T=20, B=4, N=16)
    W = _recurrent(N=16)[0] if recurrent else None
    outs = []
    for device in ("cpu", "cuda"):
        args = [t.detach().to(device).requires_grad_() for t in (x, v0, beta, th) + ((W,) if recurrent else ())]
        S, _, V = NF.lif_multistep(*args[:4], reset=reset, recurrent_weight=args[4] if recurrent else None,
                                   return_membrane=True)
        grads = torch.autograd.grad(S.sum() + V.square().sum(), args)
        outs.append([t.cpu() for t in (S, V, *grads)])
    assert torch.equal(outs[0][0], outs[1][0])
    for a, b in zip(outs[0][1:], outs[1][1:]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("reset,decay_input", [("hard", True), ("soft", False)])
def test_torch_backward_in_time_chunks_matches_reference(monkeypatch, recurrent, reset, decay_input):
    monkeypatch.setattr(NF, "_time_chunk", lambda H: 3)  # 3-step chunks: exercises the chunk seams
    x, v0, beta, th = _params(T=10, B=2, N=4, seed=7)
    W = (0.5 * torch.randn(4, 4, dtype=torch.float64)).requires_grad_() if recurrent else None
    sg = SG.get("sigmoid")
    with NF.backend("torch"):
        S1, _, V1 = NF.lif_multistep(x, v0, beta, th, v_reset=0.0, reset=reset, decay_input=decay_input, surrogate=sg,
                                     recurrent_weight=W, return_membrane=True)
    S2, V2 = reference_lif(x, v0, beta, th, 0.0, reset, False, decay_input, sg, W)
    assert torch.equal(S1, S2)
    args = (x, v0, beta, th) + ((W,) if recurrent else ())
    gs = torch.randn_like(S1)
    g1 = torch.autograd.grad((S1 * gs).sum() + (V1 * V1).sum(), args)
    g2 = torch.autograd.grad((S2 * gs).sum() + (V2 * V2).sum(), args)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_empty_sequence_is_a_shape_error():
    with pytest.raises(ShapeError, match="T >= 1"):
        LIF(4)(torch.zeros(0, 2, 4))


@pytest.mark.skipif(len(BACKENDS) < 2, reason="no C compiler: only the torch kernel exists")
def test_mixed_dtypes_are_cast_for_every_compiled_kernel():
    # The C kernels read every buffer with the input's element type: float32 state, parameters and recurrent
    # weights with float64 input must be cast first (they would be read out of bounds as float64). The float32
    # values are exact in float64, so the all-float64 run is the reference.
    g = torch.Generator().manual_seed(2)
    x = torch.randn(15, 3, 8, generator=g, dtype=torch.float64) + 0.6
    v0, beta = torch.rand(3, 8, generator=g), torch.rand(8, generator=g)
    W, s0 = torch.rand(8, 8, generator=g) - 0.5, (torch.rand(3, 8, generator=g) > 0.5).float()

    def f64(ts):
        return [None if t is None else t.double() for t in ts]

    with NF.backend("c"):
        for rec, spikes0 in ((None, None), (W, s0)):
            mixed = NF.lif_multistep(x, v0, beta, torch.tensor(0.5), recurrent_weight=rec, s0=spikes0,
                                     return_membrane=True)
            v, b, r, sp = f64([v0, beta, rec, spikes0])
            ref = NF.lif_multistep(x, v, b, 0.5, recurrent_weight=r, s0=sp, return_membrane=True)
            assert 0 < ref[0].mean() < 1
            for a, b in zip(ref, mixed):
                torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        state = [v0, s0, v0 * 0.1]
        params = [beta, torch.full((8,), 0.9), torch.full((8,), 0.3), torch.ones(8), torch.tensor(0.5)]
        mixed = NF.adlif_multistep(x * 3, tuple(state), *params, recurrent_weight=W)
        ref = NF.adlif_multistep(x * 3, tuple(f64(state)), *f64(params), recurrent_weight=W.double())
        assert 0 < ref[0].mean() < 1
        for a, b in zip(ref[:3], mixed[:3]):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
