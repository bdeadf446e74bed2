"""SLTT-style memory-efficient training (Meng et al., "Towards Memory- and Time-Efficient
Backpropagation for Training Spiking Neural Networks", ICCV 2023).

SLTT drops the temporal routes of backpropagation (neuron state, recurrent spikes, delayed input
history from earlier steps) and keeps only the spatial route through the layers at each time step.
Then every step's gradient can be computed as soon as the step is done, so no T-long graph is kept
and memory stays flat in T.

The SNN-delays loss ``CE(sum_t softmax(out_t), y)`` does not split into per-step terms, but it is a
function of the sum ``S = sum_t softmax(out_t)`` only, so ``dL/d softmax(out_t) = dL/dS`` for every
t. We therefore run the network twice, step by step: pass 1 without autograd gives S and ``g = dL/dS``;
pass 2 repeats the identical computation (same dropout masks: the RNG state is restored; BatchNorm
running statistics are restored so they update once) and backpropagates ``g`` at every step, with
the state handed to the next step detached. The result is exactly the SLTT gradient of the real loss,
at the cost of one extra forward pass.

Needs a model with ``supports_online`` true, ``online_state(batch, device)`` and
``online_step(x_t, state)`` (:class:`spikerec.models.SpikingNetwork` except the meta-neuron variant). BatchNorm uses per-step batch statistics in this mode.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikerec.errors import ConfigError
from spikerec.window import time_mask


SEQUENCE_CONSTANTS = ("kernel",)  # state entries computed once per sequence from parameters


def detach_state(state: Any) -> Any:
    """Detach every tensor in a nested state (dicts, lists, tuples, NamedTuples): cut the temporal routes.

    Entries named in ``SEQUENCE_CONSTANTS`` (a delay synapse's kernel, built from the parameters once
    per sequence) are not temporal routes and keep their gradient path to the parameters.
    """
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, dict):
        return {k: v if k in SEQUENCE_CONSTANTS else detach_state(v) for k, v in state.items()}
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_state(v) for v in state))
    if isinstance(state, (list, tuple)):
        return type(state)(detach_state(v) for v in state)
    return state


def _kernels_as_leaves(state: list[dict[str, Any]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Swap each layer's per-sequence delay kernel for a leaf copy; return (kernel, leaf) pairs.

    Steps then accumulate dL/dkernel in ``leaf.grad``, and one backward through the kernel
    construction per batch (instead of one per step) carries it to weights and positions.
    """
    pairs = []
    for layer_state in state:
        kernel = layer_state.get("kernel")
        if kernel is not None and kernel.requires_grad:
            leaf = kernel.detach().requires_grad_(True)
            layer_state["kernel"] = leaf
            pairs.append((kernel, leaf))
    return pairs


def check_sltt_model(model: nn.Module) -> None:
    if not getattr(model, "supports_online", False):
        raise ConfigError(f"train.sltt needs a model that runs one step at a time (online_state/online_step); "
                          f"{type(model).__name__} ({getattr(model, 'kind', '')}) cannot: set train.sltt=false")


def sltt_backward(model: nn.Module, frames: torch.Tensor, labels: torch.Tensor,
                  window: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Accumulate SLTT gradients of ``CE(sum_t softmax(out_t), labels)`` into ``model``'s parameters.

    frames [T, B, C_in], labels [B], window [B] (steps of each sample's window; the sum over t and the
    per-step BatchNorm statistics use in-window steps only; None = all T). Returns (loss, class scores
    [B, K]), both detached.
    """
    check_sltt_model(model)
    steps, batch = frames.shape[0], frames.shape[1]
    inside = None if window is None else time_mask(window.to(frames.device), steps)  # [T, B]

    def valid(t: int) -> torch.Tensor | None:
        return None if inside is None else inside[t]

    def masked(p: torch.Tensor, t: int) -> torch.Tensor:
        return p if inside is None else p * inside[t].unsqueeze(1)

    buffers = [b.detach().clone() for b in model.buffers()]
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state(frames.device) if frames.device.type == "cuda" else None

    with torch.no_grad():  # pass 1: the summed per-step softmax only
        state = model.online_state(batch, frames.device)
        scores = None
        for t in range(steps):
            out_t, state = model.online_step(frames[t], state, valid(t))
            p = masked(F.softmax(out_t.float(), dim=1), t)
            scores = p if scores is None else scores + p
    scores = scores.requires_grad_()
    loss = F.cross_entropy(scores, labels)
    (grad_per_step,) = torch.autograd.grad(loss, scores)

    for saved, live in zip(buffers, model.buffers()):
        live.copy_(saved)
    torch.set_rng_state(cpu_rng)
    if cuda_rng is not None:
        torch.cuda.set_rng_state(cuda_rng, frames.device)
    state = model.online_state(batch, frames.device)
    kernels = _kernels_as_leaves(state)
    for t in range(steps):  # pass 2: the same steps, backpropagating through space only
        out_t, state = model.online_step(frames[t], state, valid(t))
        masked(F.softmax(out_t.float(), dim=1), t).backward(grad_per_step)
        state = detach_state(state)
    used = [(kernel, leaf.grad) for kernel, leaf in kernels if leaf.grad is not None]
    if used:
        torch.autograd.backward([k for k, _ in used], [g for _, g in used])
    return loss.detach(), scores.detach()
