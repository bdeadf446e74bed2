"""Dense torch evaluation of a :class:`~spikerec.hardware.ir.network.Network` with spikerec's own kernels.

This is the trained model's integer-delay evaluation path (``integer_delayed_linear`` +
``lif_multistep``/``li_multistep``) with the IR's parameters (BN already folded), run in float64 by
default. It is the reference the event simulator must match spike for spike, and what
``spikerec simulate`` compares against when no run directory is given.
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
        if layer.kind == "li":
            x = NF.li_multistep(y, v0, decay, layer.decay_input)
        else:
            rec = None if layer.recurrent_weight is None else torch.from_numpy(to_dense(layer.recurrent_weight)).to(dtype)
            x, _ = NF.lif_multistep(y, v0, decay, torch.from_numpy(layer.threshold).to(dtype),
                                    v_reset=layer.v_reset, reset=layer.reset, decay_input=layer.decay_input,
                                    recurrent_weight=rec)
        if inside is not None:
            x = x * inside
        outputs.append(x)
    return outputs
