"""Compute kernels for delayed linear maps (tensor in, tensor out).

Kernels are kept "delay-major": ``kall`` [Cin, K, Cout] with ``kall[i, d, o]`` the weight from input
``i`` delayed by ``d`` steps to output ``o`` (``Dcls1d``'s [Cout, Cin, K] with taps reversed).
``delayed_matmul(x, kall)``: y[t, b, o] = sum_{i,d} kall[i, d, o] x[t - d, b, i], causal, time-major.

Paths:
- CPU float32 with the compiled library (``_compiled``): kernel construction in C with a
  closed-form backward; for sparse inputs (spikes) an event-driven forward and kernel gradient whose
  cost scales with the active inputs; the dense parts (the input gradient, dense inputs) as K
  time-shifted matrix products, which need no unfolded copy because time-major rows of step t are
  one contiguous [B, C] block.
- Otherwise (CUDA, float64, no C compiler): dense torch ops (``conv1d``, what ``Dcls1d`` runs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spikerec.delays import _compiled

# Above this fraction of non-zero inputs the shifted matrix products beat the event-driven loops.
EVENT_DENSITY_MAX = 0.3


def compiled_available(*tensors: torch.Tensor) -> bool:
    """True when the compiled CPU kernels can serve these tensors (CPU, float32, library built)."""
    return _compiled.available(*tensors)


# -- kernel construction ---------------------------------------------------------------------
def build_kernel(weight: torch.Tensor, positions: torch.Tensor, std: float, gauss: bool, window: int,
                 kernel_size: int) -> torch.Tensor:
    """Compiled DCLS kernel construction: weight/positions [Cout, Cin, kc] -> kall [Cin, K, Cout].

    ``std`` is the Gaussian standard deviation in steps (|SIG| + 0.27); ``window`` taps per position.
    Differentiable with respect to weight and positions (hand-written backward, checked against DCLS).
    """
    return _BuildKernel.apply(weight, positions, float(std), bool(gauss), int(window), int(kernel_size))


class _BuildKernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, positions, std, gauss, window, kernel_size):
        ctx.save_for_backward(weight, positions)
        ctx.args = (std, gauss, window)
        return _compiled.build_kernel(weight, positions, std, gauss, window, kernel_size)

    @staticmethod
    def backward(ctx, gkall):
        weight, positions = ctx.saved_tensors
        gw, gp = _compiled.build_kernel_grad(weight, positions, *ctx.args, gkall)
        return gw, gp, None, None, None, None


# -- delayed products ------------------------------------------------------------------------
def delayed_matmul(x: torch.Tensor, kall: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
    """y[t, b, o] = sum_{i,d} kall[i, d, o] x[t - d, b, i]; x [T, B, Cin], kall [Cin, K, Cout].

    ``basis`` [K, r] (orthonormal, from ``functional.temporal_basis``): a delay basis spanning
    every kernel profile of ``kall``; when given, the compiled path computes dL/dx in rank r.
    """
    if compiled_available(x, kall) and x.numel() > 0 and kall.numel() > 0:
        return _CpuDelayedMatmul.apply(x, kall, basis)
    return dense_delayed_matmul(x, kall)


def dense_delayed_matmul(x: torch.Tensor, kall: torch.Tensor) -> torch.Tensor:
    """The same product as a dense causal ``conv1d`` (left padding K-1, like SNN-delays); any device."""
    k = kall.shape[1]
    kernel = kall.permute(2, 0, 1).flip(-1)  # [Cout, Cin, K] tap order
    return F.conv1d(F.pad(x.permute(1, 2, 0), (k - 1, 0)), kernel).permute(2, 0, 1)


def _sparse(x: torch.Tensor) -> bool:
    return _compiled.count_nonzero(x) <= EVENT_DENSITY_MAX * x.numel()


def shifted_forward(x: torch.Tensor, kall: torch.Tensor) -> torch.Tensor:
    """Dense y[t] = sum_d x[t - d] @ kall[:, d, :] as K matrix products over whole time blocks."""
    n_t, n_b, n_in = x.shape
    n_out = kall.shape[2]
    y = torch.mm(x.reshape(-1, n_in), kall[:, 0, :]).view(n_t, n_b, n_out)
    for d in range(1, min(kall.shape[1], n_t)):
        y[d:].view(-1, n_out).addmm_(x[:n_t - d].reshape(-1, n_in), kall[:, d, :])
    return y


# Below this many outputs the K products of ``input_grad`` are too thin for BLAS and each re-reads
# and re-writes dL/dx; one correlation (conv1d) is faster there (2x at Cout=20, measured).
GEMM_MIN_OUT = 64


def input_grad(gy: torch.Tensor, kall: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
    """Dense dL/dx[t, b, i] = sum_{d,o} kall[i, d, o] dL/dy[t + d, b, o] [T, B, Cin] (any device).

    With a delay ``basis`` V [K, r] (compiled path): kall = A V^T with A[i, o, r] = sum_d kall[i, d, o]
    V[d, r], so dL/dx = h @ A over h[t, b, r, o] = sum_d V[d, r] dL/dy[t + d, b, o] (r/K of the
    work). Otherwise K time-shifted matrix products (``dL/dx[t] += dL/dy[t + d] @ kall[:, d, :]^T``
    on whole [T - d, B] row blocks) or, for few outputs, one ``conv1d`` correlation.
    """
    n_t, n_b, n_out = gy.shape
    n_in, k, _ = kall.shape
    if basis is not None and compiled_available(gy, kall):
        return _low_rank_input_grad(gy.contiguous(), kall, basis.to(torch.float32).contiguous())
    if n_out < GEMM_MIN_OUT:
        return F.conv1d(F.pad(gy.permute(1, 2, 0), (0, k - 1)), kall.permute(0, 2, 1)).permute(2, 0, 1)
    gy = gy.contiguous()
    gx = torch.mm(gy.view(-1, n_out), kall[:, 0, :].t()).view(n_t, n_b, n_in)
    for d in range(1, min(kall.shape[1], n_t)):
        gx[:n_t - d].view(-1, n_in).addmm_(gy[d:].view(-1, n_out), kall[:, d, :].t())
    return gx


def shifted_kernel_grad(x: torch.Tensor, gy: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Dense dL/dkall[:, d, :] = sum_t x[t]^T dL/dy[t + d] [Cin, K, Cout] as K matrix products."""
    n_t, n_b, n_in = x.shape
    n_out = gy.shape[2]
    gk = x.new_zeros(n_in, kernel_size, n_out)
    for d in range(min(kernel_size, n_t)):
        torch.mm(x[:n_t - d].reshape(-1, n_in).t(), gy[d:].reshape(-1, n_out), out=gk[:, d, :])
    return gk


LOW_RANK_BLOCK_BYTES = 8 << 20  # filtered-gradient block multiplied at once: 8 MB (32 MB: ~7 % faster, 4x the memory)


def _low_rank_input_grad(gy: torch.Tensor, kall: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """dL/dx = h @ A block by block over time (see ``input_grad``); v [K, r] float32."""
    n_t, n_b, n_out = gy.shape
    n_in = kall.shape[0]
    c16 = -(-n_out // 16) * 16
    a = kall.permute(0, 2, 1) @ v  # A [Cin, Cout, r]
    a = F.pad(a.permute(2, 1, 0), (0, 0, 0, c16 - n_out)).reshape(-1, n_in)  # [(r, o16), Cin], zero padded rows
    step_bytes = n_b * a.shape[0] * 4
    block = max(1, min(n_t, LOW_RANK_BLOCK_BYTES // step_bytes))
    h = torch.empty(block * n_b * a.shape[0])
    gx = torch.empty(n_t, n_b, n_in)
    for t0 in range(0, n_t, block):
        t1 = min(n_t, t0 + block)
        hb = _compiled.time_filter(gy, v, t0, t1, h[:(t1 - t0) * step_bytes // 4])
        torch.mm(hb.view((t1 - t0) * n_b, -1), a, out=gx[t0:t1].view(-1, n_in))
    return gx


class _CpuDelayedMatmul(torch.autograd.Function):
    """Compiled CPU product: event-driven forward and dL/dkall for sparse x, shifted products otherwise;
    dL/dx (dense whatever x is) by ``input_grad``.

    dL/dkall[i, d, o] = sum_{t,b} x[t, b, i] dL/dy[t + d, b, o];
    dL/dx[t, b, i] = sum_{d,o} kall[i, d, o] dL/dy[t + d, b, o].
    """

    @staticmethod
    def forward(ctx, x, kall, basis):
        sparse = _sparse(x)
        ctx.sparse, ctx.basis = sparse, basis
        ctx.save_for_backward(x, kall)
        return _compiled.forward(x, kall) if sparse else shifted_forward(x.contiguous(), kall)

    @staticmethod
    def backward(ctx, gy):
        x, kall = ctx.saved_tensors
        gx = gk = None
        gy = gy.contiguous()
        if ctx.needs_input_grad[1]:
            k = kall.shape[1]
            gk = _compiled.kernel_grad(x, gy, k) if ctx.sparse else shifted_kernel_grad(x.contiguous(), gy, k)
        if ctx.needs_input_grad[0]:
            gx = input_grad(gy, kall, ctx.basis)
        return gx, gk, None


# -- integer delays --------------------------------------------------------------------------
def integer_kernel(weight: torch.Tensor, delays: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """One-hot delay-major kernel kall [Cin, K, Cout] for integer ``delays`` [Cout, Cin, kc]."""
    n_out, n_in, _ = weight.shape
    kall = weight.new_zeros(n_in, kernel_size, n_out)
    o = torch.arange(n_out, device=weight.device).view(-1, 1, 1).expand_as(delays)
    i = torch.arange(n_in, device=weight.device).view(1, -1, 1).expand_as(delays)
    return kall.index_put((i, delays, o), weight, accumulate=True)


def integer_delayed_matmul(x: torch.Tensor, weight: torch.Tensor, delays: torch.Tensor,
                           kernel_size: int) -> torch.Tensor:
    """``y[t, b, o] = sum_{i,c} W[o,i,c] x[t - D[o,i,c], b, i]`` for integer delays in [0, K-1].

    Inference (no gradient needed) on CPU float32 runs the compiled kernel: per synapse one shifted
    run of x, vectorised over time; zero weights (pruned synapses) are skipped, so the cost is
    ~ B x T x non-zero synapses. Otherwise the one-hot kernel goes through ``delayed_matmul``
    (differentiable in x and weight).
    """
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    if needs_grad or not compiled_available(x, weight) or x.numel() == 0:
        return delayed_matmul(x, integer_kernel(weight, delays, kernel_size))
    return _compiled.integer_forward(x, weight, delays, kernel_size)
