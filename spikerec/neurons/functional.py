"""Fused multi-step neuron kernels over time-major tensors ``[T, B, N]``.

Each kernel is a ``torch.autograd.Function``: the forward runs the elementwise recurrence step by
step under no-grad (no T-long autograd graph), and a hand-written backward runs BPTT in reverse.
The backward needs only the pre-reset membrane ``H`` and the spikes ``S`` (both are outputs, so
saving them costs no extra memory), plus the (total) input when a decay gradient is asked for;
everything else (surrogate derivatives, the reset Jacobian, the previous membrane) is recomputed
from them. The torch-ops backward works chunk by chunk of time steps so the temporaries stay in
cache, with only the linear part of the adjoint recurrence in the Python loop (one ``addcmul`` per
step for LIF).

Discretisation (forward Euler, SpikingJelly's ``LIFNode`` convention), with per-neuron decay
``beta = 1 - dt/tau`` and ``k = 1 - beta = dt/tau``::

    decay_input=True :  H[t] = beta * V[t-1] + k * (X[t] + v_reset)
    decay_input=False:  H[t] = beta * V[t-1] + k * v_reset + X[t]
    S[t] = 1 if H[t] >= threshold else 0
    hard reset: V[t] = v_reset if S[t] else H[t]        soft reset: V[t] = H[t] - threshold * S[t]

(``beta*V + k*(X + v_reset)`` is SpikingJelly's ``V + (X - (V - v_reset))/tau`` rearranged.)
A recurrent layer adds ``S[t-1] @ W_rec^T`` to ``X[t]``. ``detach_reset`` stops the gradient through
the spike inside the reset (not through the spike output).

Backends: on CPU, when a C compiler is available, LIF, recurrent LIF and adaptive LIF run compiled C
kernels (:mod:`spikerec.neurons._cpu_kernel`: one C call per thread and direction over the whole
sequence, recurrent products inside it; bitwise-identical forward without recurrence). Everywhere else
(CUDA, no compiler, a custom surrogate) the same ``autograd.Function`` runs on plain torch ops, the same
float operations, whose whole-tensor backward suits GPUs. Choose with :func:`set_backend` or
``SPIKEREC_KERNEL``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from spikerec.errors import ConfigError, NonFiniteError, ParameterError, ShapeError
from spikerec.neurons import _cpu_kernel
from spikerec.neurons.surrogate import Surrogate, get as get_surrogate

__all__ = ["LIFConfig", "lif_multistep", "li_multistep", "adlif_multistep", "reset_membrane", "decay_from_tau", "inverse_softplus",
           "check_sequence", "check_finite", "set_backend", "get_backend", "backend"]

_BACKENDS = ("auto", "torch", "c")
_backend = os.environ.get("SPIKEREC_KERNEL", "auto")


def set_backend(name: str) -> None:
    """Kernel for the LIF family (LIF, recurrent, adaptive): ``"auto"`` (compiled C on CPU when a compiler
    exists, else torch ops), ``"torch"`` (always torch ops), ``"c"`` (compiled C; error if unavailable).
    Also settable with the environment variable ``SPIKEREC_KERNEL``."""
    global _backend
    if name not in _BACKENDS:
        raise ConfigError(f"unknown kernel backend {name!r}; choose one of {list(_BACKENDS)}")
    _backend = name


def get_backend() -> str:
    return _backend


@contextmanager
def backend(name: str):
    """Context manager form of :func:`set_backend` (restores the previous choice)."""
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def _use_c_kernel(x: torch.Tensor, cfg: "LIFConfig") -> bool:
    if _backend == "torch":
        return False
    ok = _cpu_kernel.supports(x, cfg.surrogate)
    if _backend == "c" and not ok:
        raise ConfigError("kernel backend 'c' requested but the compiled kernel cannot run this call "
                          f"(device={x.device}, dtype={x.dtype}, surrogate={cfg.surrogate}); use 'auto' or 'torch'")
    return ok


@dataclass(frozen=True)
class LIFConfig:
    """Static (non-tensor) options of the LIF kernel."""

    v_reset: float = 0.0
    reset: str = "hard"
    detach_reset: bool = False
    decay_input: bool = True
    surrogate: Surrogate = get_surrogate("atan")
    check_finite: bool = False  # raise NonFiniteError on NaN/inf input (modules set it in training mode)

    def __post_init__(self) -> None:
        if self.reset not in ("hard", "soft"):
            raise ConfigError(f"reset must be 'hard' or 'soft', got {self.reset!r}")


def decay_from_tau(tau_ms: torch.Tensor | float, dt_ms: float) -> torch.Tensor:
    """Per-neuron decay ``beta = 1 - dt/tau``; raises ``ParameterError`` unless every ``tau > dt``."""
    tau = torch.as_tensor(tau_ms, dtype=torch.get_default_dtype())
    if not (dt_ms > 0):
        raise ParameterError(f"dt_ms must be > 0, got {dt_ms}")
    bad = ~(tau > dt_ms)
    if bool(bad.any()):
        first = tau.reshape(-1)[bad.reshape(-1)][0].item()
        raise ParameterError(f"tau_ms must be > dt_ms={dt_ms} for every neuron (forward Euler is unstable otherwise); "
                             f"got tau_ms={first} ({int(bad.sum())} offending value(s))")
    return 1.0 - dt_ms / tau


def inverse_softplus(y: torch.Tensor | float) -> torch.Tensor:
    """``x`` with ``softplus(x) = log(1 + exp(x)) = y`` for ``y > 0``, in float64: ``y + log(-expm1(-y))``
    (stable for small and large ``y``); initialises parameters stored through a softplus."""
    y = torch.as_tensor(y, dtype=torch.float64)
    return y + torch.log(-torch.expm1(-y))


def check_finite(x: torch.Tensor, where: str) -> None:
    """Raise ``NonFiniteError`` if ``x`` holds NaN or inf (one reduction in the common, finite case)."""
    if bool(torch.isfinite(x.sum())):
        return
    bad = ~torch.isfinite(x)
    n_bad = int(bad.sum())
    if n_bad:
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise NonFiniteError(f"{where} holds {n_bad} NaN/inf value(s), first at index {list(first)} "
                             f"(value {x[first].item()}); clean the input or lower the learning rate")


def check_sequence(x: torch.Tensor, n_neurons: int, name: str = "input") -> None:
    """Raise ``ShapeError`` unless ``x`` is ``[T, B, n_neurons]`` with ``T >= 1``."""
    if x.dim() != 3 or x.shape[-1] != n_neurons or x.shape[0] == 0:
        raise ShapeError(f"{name} must have shape [T, B, {n_neurons}] (time-major, T >= 1), got {list(x.shape)}")


def reset_membrane(h: torch.Tensor, s: torch.Tensor, threshold: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    """Membrane after reset from the pre-reset membrane ``h`` and spikes ``s`` (differentiable)."""
    if cfg.detach_reset:
        s = s.detach()
    if cfg.reset == "hard":
        return h * (1 - s) + cfg.v_reset * s
    return h - threshold * s


def _reset_nograd(h: torch.Tensor, s: torch.Tensor, threshold: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    # Same values as reset_membrane (h*(1-s) + vr*s == where(s, vr, h) exactly for finite h), one op cheaper.
    if cfg.reset == "hard":
        return torch.where(s > 0, torch.as_tensor(cfg.v_reset, dtype=h.dtype, device=h.device), h)
    return h - threshold * s


def _per_neuron_grad(acc: torch.Tensor | None, p: torch.Tensor) -> torch.Tensor | None:
    """Sum a per-row accumulator ``[B, N]`` (or ``[T, B, N]``) to the shape of ``p`` (``[N]`` or scalar)."""
    if acc is None:
        return None
    g = acc.reshape(-1, acc.shape[-1]).sum(0)
    return g if p.dim() == 1 else g.sum()


def _recurrent_grads(gI: torch.Tensor, S: torch.Tensor, s0, weight, need_s0: bool, need_w: bool):
    """Gradients of the recurrent input ``I[t] = X[t] + S[t-1] @ W^T`` from ``gI = dL/dI`` ``[T, B, N]``:
    ``(dL/ds0, dL/dW)`` (None where not needed or without recurrence); ``dL/dW`` is one GEMM."""
    if weight is None:
        return None, None
    N = gI.shape[-1]
    gs0 = torch.mm(gI[0], weight) if need_s0 else None
    gw = None
    if need_w:  # sum over t, b of gI[t]^T S[t-1]: step 0 reads s0, the rest one GEMM without a shifted copy of S
        gw = torch.mm(gI[0].t(), s0)
        if S.shape[0] > 1:
            gw.addmm_(gI[1:].reshape(-1, N).t(), S[:-1].reshape(-1, N))
    return gs0, gw


def _drive(inp: torch.Tensor, k: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    """The input term of ``H`` (the C kernel's ``INPUT``): ``(I + v_reset) k`` or ``I + k v_reset``."""
    vr = cfg.v_reset
    if cfg.decay_input:
        return inp * k if vr == 0 else (inp + vr) * k
    return inp if vr == 0 else inp + k * vr


def _lif_forward_torch(x, v0, s0, beta, threshold, weight, cfg: LIFConfig, save_input: bool):
    """Torch-ops forward of :class:`_LIFFunction`: ``(S, H, I)``, ``I`` the total input when saved.

    The same float operations in the same order as the C kernel (bitwise-equal without recurrence);
    the recurrent input is a ``torch.mm`` per step."""
    T = x.shape[0]
    k = 1 - beta
    H, S = torch.empty_like(x), torch.empty_like(x)
    I = torch.empty_like(x) if save_input else None
    u = _drive(x, k, cfg) if weight is None else None
    vr_t = torch.as_tensor(cfg.v_reset, dtype=x.dtype, device=x.device)
    w_t = None if weight is None else weight.t()
    v, s_prev = v0, s0
    for t in range(T):
        h = torch.mul(v, beta, out=H[t])
        if weight is None:
            h.add_(u[t])
        else:
            inp = torch.mm(s_prev, w_t).add_(x[t])
            if I is not None:
                I[t] = inp
            h.add_(_drive(inp, k, cfg))
        spk = h >= threshold
        v = torch.where(spk, vr_t, h) if cfg.reset == "hard" else h - threshold * spk
        S[t] = spk
        s_prev = S[t]
    return S, H, I


class _LIFFunction(torch.autograd.Function):
    """Outputs ``(S, H)``: spikes and pre-reset membrane, both ``[T, B, N]``; ``weight`` adds ``S[t-1] W^T``."""

    @staticmethod
    def forward(ctx, x, v0, s0, beta, threshold, weight, cfg: LIFConfig):
        ctx.set_materialize_grads(False)  # an output without a gradient arrives as None, not a tensor of zeros
        ctx.cfg = cfg
        ctx.use_c = _use_c_kernel(x, cfg)
        # dH/dbeta reads the total input with decay_input; keep it only then (X, or X + S W^T with recurrence)
        keep_input = cfg.decay_input and ctx.needs_input_grad[3]
        save_input = keep_input and weight is not None
        if ctx.use_c:
            S, H, I, n_bad = _cpu_kernel.lif_forward(x, v0, s0, beta, threshold, cfg, weight, save_input)
            if n_bad and cfg.check_finite:
                check_finite(x, "LIF input")
                check_finite(v0, "LIF initial membrane")
        else:
            if cfg.check_finite:
                check_finite(x, "LIF input")
            S, H, I = _lif_forward_torch(x, v0, s0, beta, threshold, weight, cfg, save_input)
        ctx.save_for_backward(I if save_input else (x if keep_input else None), v0, s0, beta, threshold, weight, H, S)
        return S, H

    @staticmethod
    def backward(ctx, gS, gH):
        xin, v0, s0, beta, threshold, weight, H, S = ctx.saved_tensors
        cfg: LIFConfig = ctx.cfg
        need_x, need_v0, need_s0, need_beta, need_th, need_w = ctx.needs_input_grad[:6]
        if ctx.use_c:
            gI, gH0, accb, acct = _cpu_kernel.lif_backward(H if xin is None else xin, v0, beta, threshold, H, S, gS,
                                                           gH, cfg, need_beta, weight)
        else:
            gI, gH0, accb, acct = _lif_backward_torch(xin, v0, s0, beta, threshold, weight, H, S, gS, gH, cfg,
                                                      need_beta, need_th)
        gs0, gw = _recurrent_grads(gI, S, s0, weight, need_s0, need_w)
        return (gI if need_x else None, gH0 * beta if need_v0 else None, gs0, _per_neuron_grad(accb, beta),
                _per_neuron_grad(acct, threshold) if need_th else None, gw, None)


def _time_chunk(H: torch.Tensor) -> int:
    # CPU: chunks of at most 32K elements (torch's intra-op grain size) stay in cache and run serially;
    # larger ops fork to the OpenMP pool, which stalls badly on an oversubscribed machine. GPU: one chunk.
    if H.device.type != "cpu":
        return H.shape[0]
    return max(1, 32768 // max(1, H[0].numel()))


def _lif_backward_torch(xin, v0, s0, beta, threshold, weight, H, S, gS, gH, cfg: LIFConfig, need_beta, need_th):
    """BPTT for :class:`_LIFFunction` on torch ops, in reverse time chunks; returns what
    :func:`spikerec.neurons._cpu_kernel.lif_backward` returns (``gI``, ``dL/dH[0]``, accumulators).

    Per chunk, the surrogate derivative ``sg``, the reset Jacobian ``A = beta dV/dH`` and the direct
    output gradient ``C`` are whole-chunk ops; inside, the adjoint ``GH[t] = C[t] + A[t] GH[t+1]``
    (+ the recurrent term ``sg[t] gI[t+1] @ W``) is one ``addcmul`` per step.
    """
    T, B, N = H.shape
    k = 1 - beta
    vr = cfg.v_reset
    hard = cfg.reset == "hard"
    gI = torch.empty_like(H)  # adjoint of the total input I (= k * GH, or GH without decay_input)
    gh_next = torch.zeros_like(H[0])  # adjoint of H[t1] (the first step after the chunk)
    gbeta = torch.zeros_like(H[0]) if need_beta else None
    gth = torch.zeros_like(H[0]) if need_th else None
    chunk = _time_chunk(H)
    for t1 in range(T, 0, -chunk):
        t0 = max(0, t1 - chunk)
        Hc, Sc = H[t0:t1], S[t0:t1]
        sg = cfg.surrogate.grad(Hc - threshold)
        if hard:
            dvds = None if cfg.detach_reset else vr - Hc
            A = 1 - Sc if dvds is None else (1 - Sc).addcmul_(dvds, sg)
        else:
            dvds = None if cfg.detach_reset else -threshold
            A = torch.ones_like(Hc) if dvds is None else 1 - threshold * sg
        A.mul_(beta)
        GH = torch.zeros_like(Hc) if gS is None else gS[t0:t1] * sg  # direct gradient on H from the outputs
        if gH is not None:
            GH.add_(gH[t0:t1])
        GR = torch.zeros_like(Hc) if weight is not None else None  # recurrent input gradient on S[t]
        for t in range(t1 - t0 - 1, -1, -1):
            nxt = GH[t + 1] if t + 1 < t1 - t0 else gh_next
            GH[t].addcmul_(A[t], nxt)
            if weight is not None:
                torch.mm(nxt * k if cfg.decay_input else nxt, weight, out=GR[t])
                GH[t].addcmul_(sg[t], GR[t])
        gV = torch.cat([GH[1:], gh_next.unsqueeze(0)], 0).mul_(beta)  # gradient on V[t] from H[t+1]
        if cfg.decay_input:
            torch.mul(GH, k, out=gI[t0:t1])
        else:
            gI[t0:t1] = GH
        if need_beta:
            first = v0 if t0 == 0 else _reset_nograd(H[t0 - 1], S[t0 - 1], threshold, cfg)
            v_prev = torch.cat([first.unsqueeze(0), _reset_nograd(Hc[:-1], Sc[:-1], threshold, cfg)], 0)
            if cfg.decay_input:
                gbeta.add_((GH * v_prev.sub_(xin[t0:t1] if vr == 0 else xin[t0:t1] + vr)).sum(0))
            else:
                gbeta.add_((GH * v_prev.sub_(vr)).sum(0))
        if need_th:
            gs_tot = torch.zeros_like(Hc) if gS is None else gS[t0:t1].clone()
            if dvds is not None:
                gs_tot.addcmul_(gV, dvds)
            if weight is not None:
                gs_tot.add_(GR)
            g = -(gs_tot * sg)
            if not hard:
                g.sub_(gV * Sc)
            gth.add_(g.sum(0))
        gh_next = GH[0]
    return gI, gh_next, gbeta, gth


def lif_multistep(
    x: torch.Tensor,
    v0: torch.Tensor | None,
    decay: torch.Tensor | float,
    threshold: torch.Tensor | float = 1.0,
    *,
    v_reset: float = 0.0,
    reset: str = "hard",
    detach_reset: bool = False,
    decay_input: bool = True,
    surrogate: str | Surrogate = "atan",
    recurrent_weight: torch.Tensor | None = None,
    s0: torch.Tensor | None = None,
    return_membrane: bool = False,
    check_finite: bool = False,
):
    """Run a LIF layer over ``x`` ``[T, B, N]`` (input currents); fused forward and backward.

    ``decay`` is ``beta = 1 - dt/tau`` (scalar or ``[N]``), ``threshold`` scalar or ``[N]``; ``v0``
    ``[B, N]`` initial membrane (None = ``v_reset``). ``recurrent_weight`` ``[N, N]`` feeds ``S[t-1]``
    back (``s0`` ``[B, N]`` = spikes before the first step). Gradients flow to x, v0, s0, decay,
    threshold and recurrent_weight when they require grad. ``check_finite`` raises
    ``NonFiniteError`` for NaN/inf input (free on the compiled path, one reduction otherwise).

    Returns ``(spikes, v_last)`` or, with ``return_membrane``, ``(spikes, v_last, v_seq)`` where
    ``v_seq`` is the membrane after reset at every step (SpikingJelly's ``v_seq``).
    """
    if x.dim() != 3 or x.shape[0] == 0:
        raise ShapeError(f"lif_multistep expects x of shape [T, B, N] with T >= 1, got {list(x.shape)}")
    T, B, N = x.shape
    cfg = LIFConfig(v_reset=float(v_reset), reset=reset, detach_reset=detach_reset, decay_input=decay_input,
                    surrogate=get_surrogate(surrogate), check_finite=check_finite)
    beta = torch.as_tensor(decay, dtype=x.dtype, device=x.device)
    th = torch.as_tensor(threshold, dtype=x.dtype, device=x.device)
    for name, p in (("decay", beta), ("threshold", th)):
        if p.dim() > 1 or (p.dim() == 1 and p.shape[0] != N):
            raise ShapeError(f"{name} must be a scalar or of shape [{N}], got {list(p.shape)}")
    if v0 is None:
        v0 = torch.full((B, N), cfg.v_reset, dtype=x.dtype, device=x.device)
    elif v0.shape != (B, N):
        raise ShapeError(f"v0 must have shape [{B}, {N}], got {list(v0.shape)}")
    if recurrent_weight is not None:
        if recurrent_weight.shape != (N, N):
            raise ShapeError(f"recurrent_weight must have shape [{N}, {N}], got {list(recurrent_weight.shape)}")
        if s0 is None:
            s0 = torch.zeros(B, N, dtype=x.dtype, device=x.device)
        elif s0.shape != (B, N):
            raise ShapeError(f"s0 must have shape [{B}, {N}], got {list(s0.shape)}")
    else:
        s0 = None
    S, H = _LIFFunction.apply(x, v0, s0, beta, th, recurrent_weight, cfg)
    v_last = reset_membrane(H[-1], S[-1], th, cfg)
    if return_membrane:
        return S, v_last, reset_membrane(H, S, th, cfg)
    return S, v_last


class _LIFunction(torch.autograd.Function):
    """Leaky integrator ``H[t] = beta*H[t-1] + k*X[t]`` (``k = 1-beta`` or 1); outputs ``H``."""

    @staticmethod
    def forward(ctx, x, v0, beta, decay_input: bool):
        u = x * (1 - beta) if decay_input else x
        H = torch.empty_like(x)
        v = v0
        for t in range(x.shape[0]):
            torch.mul(v, beta, out=H[t])
            v = H[t].add_(u[t])
        ctx.decay_input = decay_input
        ctx.save_for_backward(x, v0, beta, H)
        return H

    @staticmethod
    def backward(ctx, gH):
        x, v0, beta, H = ctx.saved_tensors
        need_x, need_v0, need_beta = ctx.needs_input_grad[:3]
        G = gH.clone()
        for t in range(G.shape[0] - 2, -1, -1):
            G[t].addcmul_(G[t + 1], beta)
        gx = (G * (1 - beta) if ctx.decay_input else G) if need_x else None
        gv0 = G[0] * beta if need_v0 else None
        gbeta = None
        if need_beta:
            prev = torch.cat([v0.unsqueeze(0), H[:-1]], 0)
            d = prev - x if ctx.decay_input else prev
            gbeta = (G * d).sum((0, 1))
            gbeta = gbeta if beta.dim() == 1 else gbeta.sum()
        return gx, gv0, gbeta, None


def li_multistep(x: torch.Tensor, v0: torch.Tensor | None, decay: torch.Tensor | float,
                 decay_input: bool = True) -> torch.Tensor:
    """Non-spiking leaky integrator over ``x`` ``[T, B, N]``; returns the membrane ``[T, B, N]``.

    ``H[t] = beta*H[t-1] + (1-beta)*X[t]`` (``decay_input``) or ``beta*H[t-1] + X[t]``.
    """
    if x.dim() != 3:
        raise ShapeError(f"li_multistep expects x of shape [T, B, N], got {list(x.shape)}")
    T, B, N = x.shape
    beta = torch.as_tensor(decay, dtype=x.dtype, device=x.device)
    if beta.dim() > 1 or (beta.dim() == 1 and beta.shape[0] != N):
        raise ShapeError(f"decay must be a scalar or of shape [{N}], got {list(beta.shape)}")
    if v0 is None:
        v0 = torch.zeros(B, N, dtype=x.dtype, device=x.device)
    elif v0.shape != (B, N):
        raise ShapeError(f"v0 must have shape [{B}, {N}], got {list(v0.shape)}")
    return _LIFunction.apply(x, v0, beta, decay_input)


def _adlif_forward_torch(x, h0, s0, w0, beta, beta_w, a, b, threshold, weight, cfg: LIFConfig, save_input: bool):
    """Torch-ops forward of :class:`_AdLIFFunction`: ``(S, H, Wa, I)``; same float operations in the same
    order as the C kernel (bitwise-equal without recurrence)."""
    T = x.shape[0]
    k = 1 - beta
    H, S, Wa = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
    I = torch.empty_like(x) if save_input else None
    w_t = None if weight is None else weight.t()
    h_prev, s_prev, w = h0, s0, w0
    for t in range(T):
        w = torch.mul(w, beta_w, out=Wa[t]).add_(h_prev * a).add_(s_prev * b)
        inp = x[t] if weight is None else torch.mm(s_prev, w_t).add_(x[t])
        if I is not None:
            I[t] = inp
        h = torch.mul(_reset_nograd(h_prev, s_prev, threshold, cfg), beta, out=H[t]).add_((inp - w).mul_(k))
        S[t] = h >= threshold
        h_prev, s_prev = h, S[t]
    return S, H, Wa, I


def _adlif_backward_torch(xin, h0, s0, w0, beta, beta_w, a, b, threshold, weight, H, S, Wa, gS, gH, gWa,
                          cfg: LIFConfig, need_params: bool):
    """BPTT for :class:`_AdLIFFunction` on torch ops; returns what
    :func:`spikerec.neurons._cpu_kernel.adlif_backward` returns (per-row accumulators as ``[T, B, N]``)."""
    T, B, N = H.shape
    sg = cfg.surrogate.grad(H - threshold)
    if cfg.reset == "hard":
        dvds = None if cfg.detach_reset else (cfg.v_reset - H)
        dvdh = 1 - S
    else:
        dvds = None if cfg.detach_reset else -threshold * torch.ones_like(H)
        dvdh = torch.ones_like(H)
    A = (dvdh if dvds is None else dvdh + dvds * sg) * beta
    C = torch.zeros_like(H) if gS is None else gS * sg
    if gH is not None:
        C = C + gH
    k = 1 - beta
    GH, Gw = torch.empty_like(H), torch.empty_like(H)
    GR = torch.zeros_like(H) if weight is not None else None  # recurrent gradient on S[t]
    gh_next = gw_next = torch.zeros_like(H[0])
    for t in range(T - 1, -1, -1):
        # spike path at t: from W[t+1] (b), the recurrent input at t+1, plus the external/reset terms in C, A
        gs_extra = gw_next * b
        if weight is not None and t < T - 1:
            torch.mm(gh_next * k, weight, out=GR[t])
            gs_extra = gs_extra + GR[t]
        GH[t] = torch.addcmul(C[t], A[t], gh_next).addcmul_(gw_next, a).addcmul_(sg[t], gs_extra)
        Gw[t] = torch.mul(gw_next, beta_w).sub_(GH[t] * k)
        if gWa is not None:
            Gw[t].add_(gWa[t])
        gh_next, gw_next = GH[t], Gw[t]
    acc = {}
    if need_params:
        h_prev = torch.cat([h0.unsqueeze(0), H[:-1]], 0)
        s_prev = torch.cat([s0.unsqueeze(0), S[:-1]], 0)
        w_prev = torch.cat([w0.unsqueeze(0), Wa[:-1]], 0)
        acc["beta"] = GH * (_reset_nograd(h_prev, s_prev, threshold, cfg) - xin + Wa)  # dH/dbeta = V - I + W
        acc["beta_w"], acc["a"], acc["b"] = Gw * w_prev, Gw * h_prev, Gw * s_prev
    gV = torch.zeros_like(H)
    gV[:-1] = GH[1:] * beta
    gs_tot = torch.zeros_like(H) if gS is None else gS.clone()
    if dvds is not None:
        gs_tot.addcmul_(gV, dvds)
    gs_tot[:-1] += Gw[1:] * b
    if weight is not None:
        gs_tot.add_(GR)
    acc["th"] = -(gs_tot * sg)
    if cfg.reset == "soft":
        acc["th"].sub_(gV * S)
    return GH * k, GH[0], Gw[0], acc


class _AdLIFFunction(torch.autograd.Function):
    """Adaptive LIF (Bittar & Garner 2022); outputs spikes ``S``, pre-reset membrane ``H``, adaptation ``Wa``."""

    @staticmethod
    def forward(ctx, x, h0, s0, w0, beta, beta_w, a, b, threshold, weight, cfg: LIFConfig):
        ctx.set_materialize_grads(False)
        ctx.cfg = cfg
        ctx.use_c = _use_c_kernel(x, cfg)
        ctx.need_params = any(ctx.needs_input_grad[4:8])
        save_input = ctx.need_params and weight is not None  # dH/dbeta reads the total input
        if ctx.use_c:
            S, H, Wa, I, n_bad = _cpu_kernel.adlif_forward(x, h0, s0, w0, beta, beta_w, a, b, threshold, cfg, weight,
                                                           save_input)
            if n_bad and cfg.check_finite:
                check_finite(x, "AdaptiveLIF input")
        else:
            if cfg.check_finite:
                check_finite(x, "AdaptiveLIF input")
            S, H, Wa, I = _adlif_forward_torch(x, h0, s0, w0, beta, beta_w, a, b, threshold, weight, cfg, save_input)
        xin = I if save_input else (x if ctx.need_params else None)
        ctx.save_for_backward(xin, h0, s0, w0, beta, beta_w, a, b, threshold, weight, H, S, Wa)
        return S, H, Wa

    @staticmethod
    def backward(ctx, gS, gH, gWa):
        xin, h0, s0, w0, beta, beta_w, a, b, threshold, weight, H, S, Wa = ctx.saved_tensors
        cfg: LIFConfig = ctx.cfg
        needs = ctx.needs_input_grad
        params = (beta, beta_w, a, b, threshold)
        if ctx.use_c:
            gI, gH0, gW0, acc = _cpu_kernel.adlif_backward(H if xin is None else xin, h0, s0, w0, *params, H, S, Wa,
                                                           gS, gH, gWa, cfg, ctx.need_params, weight)
        else:
            gI, gH0, gW0, acc = _adlif_backward_torch(xin, h0, s0, w0, *params, weight, H, S, Wa, gS, gH, gWa, cfg,
                                                      ctx.need_params)
        # adjoints of the initial state (h0, s0, w0): the t = 0 step reads R(h0, s0), w0 and s0
        gv_init = gH0 * beta
        gh0 = gv_init * ((1 - s0) if cfg.reset == "hard" else 1) + gW0 * a
        gs0 = gW0 * b
        if not cfg.detach_reset:
            gs0 = gs0 + gv_init * ((cfg.v_reset - h0) if cfg.reset == "hard" else -threshold)
        gs0_rec, gW = _recurrent_grads(gI, S, s0, weight, needs[2], needs[9])
        if gs0_rec is not None:
            gs0 = gs0 + gs0_rec
        gth = _per_neuron_grad(acc["th"], threshold)
        if cfg.reset == "soft":  # the t = 0 step also resets the given initial state with the threshold
            gth = gth - _per_neuron_grad(gv_init * s0, threshold)
        grads = [_per_neuron_grad(acc.get(name), p) if need else None
                 for name, p, need in zip(("beta", "beta_w", "a", "b"), params, needs[4:8])]
        return (gI if needs[0] else None, gh0 if needs[1] else None, gs0 if needs[2] else None,
                gW0 * beta_w if needs[3] else None, *grads, gth if needs[8] else None, gW, None)


def adlif_multistep(
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    decay: torch.Tensor | float,
    adapt_decay: torch.Tensor | float,
    a: torch.Tensor | float,
    b: torch.Tensor | float,
    threshold: torch.Tensor | float = 1.0,
    *,
    v_reset: float = 0.0,
    reset: str = "soft",
    detach_reset: bool = False,
    surrogate: str | Surrogate = "atan",
    recurrent_weight: torch.Tensor | None = None,
    check_finite: bool = False,
):
    """Adaptive LIF (adLIF, Bittar & Garner 2022) over ``x`` ``[T, B, N]``; fused forward and backward.

    With ``beta`` = ``decay`` (the membrane decay, as for LIF) and ``beta_w`` = ``adapt_decay`` (per neuron),
    pre-reset membrane ``U`` and adaptation current ``W``::

        W[t] = beta_w W[t-1] + a U[t-1] + b S[t-1]
        U[t] = beta R(U[t-1], S[t-1]) + (1 - beta) (X[t] + S[t-1] @ W_rec^T - W[t])
        S[t] = U[t] >= threshold

    ``R`` is the reset (soft: ``U - threshold*S`` as in the paper; hard: ``v_reset`` where ``S``).
    ``state`` = ``(U, S, W)`` of the previous step, each ``[B, N]`` (None = zeros).
    Returns ``(spikes, membrane U, adaptation W, last_state)``.
    """
    if x.dim() != 3:
        raise ShapeError(f"adlif_multistep expects x of shape [T, B, N], got {list(x.shape)}")
    T, B, N = x.shape
    cfg = LIFConfig(v_reset=float(v_reset), reset=reset, detach_reset=detach_reset, decay_input=True,
                    surrogate=get_surrogate(surrogate), check_finite=check_finite)
    params = []
    for name, p in (("decay", decay), ("adapt_decay", adapt_decay), ("a", a), ("b", b), ("threshold", threshold)):
        p = torch.as_tensor(p, dtype=x.dtype, device=x.device)
        if p.dim() > 1 or (p.dim() == 1 and p.shape[0] != N):
            raise ShapeError(f"{name} must be a scalar or of shape [{N}], got {list(p.shape)}")
        params.append(p)
    if state is None:
        z = torch.zeros(B, N, dtype=x.dtype, device=x.device)
        state = (z, z, z)
    for name, s in zip(("U", "S", "W"), state):
        if s.shape != (B, N):
            raise ShapeError(f"state {name} must have shape [{B}, {N}], got {list(s.shape)}")
    if recurrent_weight is not None and recurrent_weight.shape != (N, N):
        raise ShapeError(f"recurrent_weight must have shape [{N}, {N}], got {list(recurrent_weight.shape)}")
    S, H, Wa = _AdLIFFunction.apply(x, *state, *params, recurrent_weight, cfg)
    return S, H, Wa, (H[-1], S[-1], Wa[-1])
