"""Compute kernels for delayed linear maps (tensor in, tensor out).

Kernels are kept "delay-major": ``kall`` [Cin, K, Cout] with ``kall[i, d, o]`` the weight from input
``i`` delayed by ``d`` steps to output ``o`` (``Dcls1d``'s [Cout, Cin, K] with taps reversed).
``delayed_matmul(x, kall)``: y[t, b, o] = sum_{i,d} kall[i, d, o] x[t - d, b, i], causal, time-major.

Paths: CPU float32 with numba -> compiled kernel construction with a closed-form backward and, for
sparse inputs (spikes), event-driven products whose cost scales with the active inputs; otherwise
dense torch ops (``conv1d``, what ``Dcls1d`` runs), which also serve CUDA.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading

import torch
import torch.nn.functional as F

try:  # optional accelerator, see _event_kernels
    from spikerec.delays import _event_kernels
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _event_kernels = None

# Above this fraction of non-zero inputs the dense conv1d beats the event-driven loops.
EVENT_DENSITY_MAX = 0.3


def compiled_available(*tensors: torch.Tensor) -> bool:
    """True when the numba kernels can serve these tensors (CPU, float32)."""
    return _event_kernels is not None and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_KEY = (0, 0)  # (process id, workers): a forked child (DataLoader worker) builds its own pool
_POOL_LOCK = threading.Lock()


def _parallel(kernel, n: int, *args) -> None:
    """Run ``kernel(*args, start, stop)`` over [0, n) split into torch.get_num_threads() chunks."""
    global _POOL, _POOL_KEY
    parts = max(1, min(torch.get_num_threads(), n))
    bounds = [n * j // parts for j in range(parts + 1)]
    if parts == 1:
        kernel(*args, 0, n)
        return
    with _POOL_LOCK:
        if _POOL_KEY[0] != os.getpid() or _POOL_KEY[1] < parts - 1:
            if _POOL is not None and _POOL_KEY[0] == os.getpid():
                _POOL.shutdown(wait=False)
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="spikerec-delays")
            _POOL_KEY = (os.getpid(), parts - 1)
        pool = _POOL
    futures = [pool.submit(kernel, *args, bounds[j], bounds[j + 1]) for j in range(1, parts)]
    kernel(*args, bounds[0], bounds[1])
    for f in futures:
        f.result()


def _np(t: torch.Tensor):
    return t.detach().contiguous().numpy()


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
        kall = torch.empty(weight.shape[1], kernel_size, weight.shape[0], dtype=weight.dtype)
        _parallel(_event_kernels.build_kernel, weight.shape[1], _np(weight), _np(positions), std, gauss, window,
                  kall.numpy())
        ctx.save_for_backward(weight, positions)
        ctx.args = (std, gauss, window)
        return kall

    @staticmethod
    def backward(ctx, gkall):
        weight, positions = ctx.saved_tensors
        gw, gp = torch.empty_like(weight), torch.empty_like(positions)
        _parallel(_event_kernels.build_kernel_grad, weight.shape[1], _np(weight), _np(positions), *ctx.args,
                  _np(gkall), gw.numpy(), gp.numpy())
        return gw, gp, None, None, None, None


# -- delayed products ------------------------------------------------------------------------
def delayed_matmul(x: torch.Tensor, kall: torch.Tensor) -> torch.Tensor:
    """y[t, b, o] = sum_{i,d} kall[i, d, o] x[t - d, b, i]; x [T, B, Cin], kall [Cin, K, Cout]."""
    if compiled_available(x, kall) and x.numel() > 0 and kall.numel() > 0 \
            and float(torch.count_nonzero(x)) <= EVENT_DENSITY_MAX * x.numel():
        return _EventDelayedMatmul.apply(x, kall)
    return dense_delayed_matmul(x, kall)


def dense_delayed_matmul(x: torch.Tensor, kall: torch.Tensor) -> torch.Tensor:
    """The same product as a dense causal ``conv1d`` (left padding K-1, like SNN-delays)."""
    k = kall.shape[1]
    kernel = kall.permute(2, 0, 1).flip(-1)  # [Cout, Cin, K] tap order
    return F.conv1d(F.pad(x.permute(1, 2, 0), (k - 1, 0)), kernel).permute(2, 0, 1)


class _EventDelayedMatmul(torch.autograd.Function):
    """Event-driven forward and dL/dkall; dL/dx is dense and goes to conv_transpose1d.

    dL/dkall[i, d, o] = sum_{t,b} x[t, b, i] dL/dy[t + d, b, o] (only active inputs contribute);
    dL/dx[t, b, i] = sum_{d,o} kall[i, d, o] dL/dy[t + d, b, o].
    """

    @staticmethod
    def forward(ctx, x, kall):
        yb = torch.empty(x.shape[1], x.shape[0], kall.shape[2], dtype=x.dtype)  # batch-major, see delayed_forward
        _parallel(_event_kernels.delayed_forward, x.shape[1], _np(x), _np(kall), yb.numpy())
        ctx.save_for_backward(x, kall)
        return yb.permute(1, 0, 2).contiguous()

    @staticmethod
    def backward(ctx, gy):
        x, kall = ctx.saved_tensors
        gx = gk = None
        if ctx.needs_input_grad[1]:
            gk = torch.empty(kall.shape, dtype=kall.dtype)
            gyb = gy.detach().permute(1, 0, 2).contiguous().numpy()  # batch-major, see delayed_kernel_grad
            _parallel(_event_kernels.delayed_kernel_grad, x.shape[2], _np(x), gyb, gk.numpy())
        if ctx.needs_input_grad[0]:
            k = kall.shape[1]
            kernel = kall.permute(2, 0, 1).flip(-1)
            gxp = F.conv_transpose1d(gy.permute(1, 2, 0), kernel)  # [B, Cin, T + K - 1]
            gx = gxp[:, :, k - 1:].permute(2, 0, 1)
        return gx, gk


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

    Inference (no gradient needed) on CPU float32 runs event-driven over the synapses of active
    inputs (zero weights, e.g. pruned synapses, are skipped): cost ~ active inputs x fan-out.
    Otherwise the one-hot kernel goes through ``delayed_matmul`` (differentiable in x and weight).
    """
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    if needs_grad or not compiled_available(x, weight):
        return delayed_matmul(x, integer_kernel(weight, delays, kernel_size))
    n_t, n_b, n_in = x.shape
    n_out = weight.shape[0]
    w = weight.detach().permute(1, 0, 2).reshape(n_in, -1)  # [Cin, Cout * kc]: synapses by input channel
    d = delays.permute(1, 0, 2).reshape(n_in, -1)
    out = torch.arange(n_out).repeat_interleave(weight.shape[2]).expand(n_in, -1)
    key = d.masked_fill(w == 0, kernel_size)  # pruned (zero-weight) synapses sort last and are dropped
    order = torch.argsort(key, dim=1, stable=True)
    key, w, out = key.gather(1, order), w.gather(1, order), out.gather(1, order)
    keep = key < kernel_size
    ptr = torch.zeros(n_in + 1, dtype=torch.long)
    ptr[1:] = keep.sum(1).cumsum(0)
    n_reach = torch.searchsorted(key, torch.arange(kernel_size + 1).expand(n_in, -1).contiguous())  # # delay < r
    offset = (key * n_out + out)[keep]
    yb = torch.zeros(n_b, n_t, n_out, dtype=x.dtype)  # batch-major, see _event_kernels.integer_forward
    _parallel(_event_kernels.integer_forward, n_b, _np(x), ptr.numpy(), offset.numpy(), _np(w[keep]),
              n_reach.numpy(), yb.numpy())
    return yb.permute(1, 0, 2).contiguous()
