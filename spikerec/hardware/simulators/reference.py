"""Dense torch evaluation of a :class:`~spikerec.hardware.ir.network.Network` with spikerec's own kernels.

This is the trained model's integer-delay evaluation path (``integer_delayed_linear`` +
``lif_multistep``/``li_multistep``) with the IR's parameters (BN already folded), run in float64 by
default. It is the reference the event simulator must match spike for spike, and what
``spikerec simulate`` compares against when no run directory is given. Layers with a synaptic current
("cuba_*" kinds) filter their input first, ``I[t] = syn_decay*I[t-1] + X[t]`` (``li_multistep`` without input
decay), then run the same membrane kernels on ``I``; a recurrent "cuba_lif" layer, whose spikes feed back into
``I``, runs a plain torch loop over time.
"""

from __future__ import annotations

import numpy as np
import torch

from spikerec.delays.functional import integer_delayed_linear
from spikerec.errors import ShapeError
from spikerec.hardware.ir.network import Network, to_dense
from spikerec.neurons import functional as NF
from spikerec.window import time_mask

__all__ = ["torch_reference"]


@torch.no_grad()
def torch_reference(network: Network, frames, window=None, dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    """Per layer: spikes [T, B, n_out] (``lif``) or membrane [T, B, n_out] (``li``), in ``dtype``.

    ``window`` [B] (steps of each sample's window; None = all T): outputs after a sample's window are set to
    0, as the event simulator leaves them (the dense kernels run them, but nothing inside the window
    depends on them: every layer is causal).
    """
    x = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames).to(dtype)
    if x.dim() != 3 or x.shape[2] != network.n_inputs:
        raise ShapeError(f"torch_reference: frames must be [T, B, {network.n_inputs}], got {list(x.shape)}")
    inside = None if window is None else time_mask(torch.as_tensor(np.asarray(window)), x.shape[0]).unsqueeze(2)
    outputs = []
    for layer in network.layers:
        w = torch.from_numpy(to_dense(layer.weight)).to(dtype)
        bias = None if layer.bias is None else torch.from_numpy(layer.bias).to(dtype)
        if layer.delay is None:
            y = torch.matmul(x, w.t())
            y = y if bias is None else y + bias
        else:
            d = torch.from_numpy(layer.dense_delay())
            y = integer_delayed_linear(x, w.unsqueeze(2), d.unsqueeze(2), bias=bias, kernel_size=int(d.max()) + 1)
        decay = torch.from_numpy(layer.decay).to(dtype)
        v0 = None if layer.v_init is None else torch.from_numpy(layer.initial_membrane()).to(dtype).expand(x.shape[1], -1)
        rec = None if layer.recurrent_weight is None else torch.from_numpy(to_dense(layer.recurrent_weight)).to(dtype)
        if layer.has_synapse and rec is not None:
            x = _cuba_recurrent(y, v0, layer, rec, dtype)
        else:
            if layer.has_synapse:
                y = NF.li_multistep(y, None, torch.from_numpy(layer.syn_decay).to(dtype), decay_input=False)
            if not layer.spiking:
                x = NF.li_multistep(y, v0, decay, layer.decay_input)
            else:
                x, _ = NF.lif_multistep(y, v0, decay, torch.from_numpy(layer.threshold).to(dtype),
                                        v_reset=layer.v_reset, reset=layer.reset, decay_input=layer.decay_input,
                                        recurrent_weight=rec)
        if inside is not None:
            x = x * inside
        outputs.append(x)
    return outputs


def _cuba_recurrent(y: torch.Tensor, v0, layer, rec: torch.Tensor, dtype) -> torch.Tensor:
    """Spikes [T, B, n] of a recurrent "cuba_lif" layer on input current ``y`` [T, B, n], step by step:
    ``I = a*I + y[t] + s[t-1] @ R^T``, then the LIF membrane update on ``I`` (see the IR's dynamics)."""
    T, B, n = y.shape
    a = torch.from_numpy(layer.syn_decay).to(dtype)
    beta = torch.from_numpy(layer.decay).to(dtype)
    k = 1.0 - beta
    th = torch.from_numpy(layer.threshold).to(dtype)
    vr = float(layer.v_reset)
    v = torch.full((B, n), vr, dtype=dtype) if v0 is None else v0.clone()
    i = torch.zeros(B, n, dtype=dtype)
    s = torch.zeros(B, n, dtype=dtype)
    out = torch.zeros(T, B, n, dtype=dtype)
    for t in range(T):
        i = a * i + y[t] + s @ rec.t()
        h = beta * v + (k * (i + vr) if layer.decay_input else i + k * vr)
        s = (h >= th).to(dtype)
        v = torch.where(s > 0, torch.full_like(h, vr), h) if layer.reset == "hard" else h - th * s
        out[t] = s
    return out
