"""Compute kernels for delayed linear maps (tensor in, tensor out).

``delayed_matmul(x, kernel)``: y[t] = sum_k kernel[:, :, k] @ x[t - (K - 1 - k)], x [T, B, Cin],
kernel [Cout, Cin, K] in ``Dcls1d`` tap order, zeros before t = 0 (causal).
``integer_delayed_matmul(x, weight, delays)``: the same with one tap per (synapse, count).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def delayed_matmul(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Causal temporal convolution of time-major ``x`` [T, B, Cin] with ``kernel`` [Cout, Cin, K]."""
    k = kernel.shape[-1]
    y = F.conv1d(F.pad(x.permute(1, 2, 0), (k - 1, 0)), kernel)
    return y.permute(2, 0, 1)


def integer_delayed_matmul(x: torch.Tensor, weight: torch.Tensor, delays: torch.Tensor,
                           kernel_size: int | None = None) -> torch.Tensor:
    """``y[t, b, o] = sum_{i,c} W[o,i,c] x[t - D[o,i,c], b, i]`` for integer ``delays`` >= 0."""
    k = int(delays.max()) + 1 if kernel_size is None else kernel_size
    kernel = weight.new_zeros(weight.shape[0], weight.shape[1], k)
    kernel = kernel.scatter_add(2, (k - 1 - delays).long(), weight)
    return delayed_matmul(x, kernel)
