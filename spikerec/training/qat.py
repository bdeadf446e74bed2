"""Quantisation-aware training: straight-through rounding of the synaptic weights (recipe key ``train.qat_weight_bits``).

While :func:`rounded_weights` is active, every synaptic weight tensor of the model (parameters named ``*weight``
with two or more dimensions: feed-forward, delay and recurrent synapses; not BatchNorm's scale) holds its value
rounded to ``bits``-bit signed integers with one symmetric scale per tensor::

    q(W) = s * round(W / s),   s = max|W| / (2^(bits-1) - 1)

The trainer runs each batch's forward and backward inside it, so the gradient is taken at ``q(W)`` and applied to
the float ``W`` restored afterwards: the straight-through estimator (dq/dW := 1; Courbariaux et al., BinaryConnect,
NeurIPS 2015; Jacob et al., CVPR 2018). Checkpoints and evaluation hold the float weights; ``spikerec quantize``
then rounds them for a target. The grid matches a target's exactly for networks without BatchNorm (folding
BatchNorm scales each row differently) and with one weight exponent per matrix (``int8``; Loihi's exponent is
chosen per matrix too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["fake_quantize", "rounded_weights", "synaptic_weights"]


def fake_quantize(w: torch.Tensor, bits: int) -> torch.Tensor:
    """``w`` rounded to ``bits``-bit signed integers times one symmetric scale (a new tensor, same shape)."""
    peak = w.detach().abs().max()
    if peak == 0:
        return w.detach().clone()
    scale = peak / (2 ** (bits - 1) - 1)
    return torch.round(w.detach() / scale) * scale


def synaptic_weights(model: nn.Module) -> list[nn.Parameter]:
    """The model's synaptic weight tensors (parameters named ``*weight`` with two or more dimensions)."""
    return [p for name, p in model.named_parameters() if name.rsplit(".", 1)[-1] == "weight" and p.dim() >= 2]


@contextmanager
def rounded_weights(model: nn.Module, bits: int) -> Iterator[None]:
    """Inside: the synaptic weights hold ``fake_quantize(W, bits)``; on exit the float ``W`` (bit for bit).
    ``bits = 0``: nothing changes."""
    if not bits:
        yield
        return
    params = synaptic_weights(model)
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.copy_(fake_quantize(p, bits))
    try:
        yield
    finally:
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)
