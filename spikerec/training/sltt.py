"""SLTT: Spatial Learning Through Time (Meng et al., "Towards Memory- and Time-Efficient Backpropagation for
Training Spiking Neural Networks", ICCV 2023), for networks with delay synapses, and SLTT-K.

SLTT drops the temporal routes of backpropagation *through the neuron state* (membrane, reset, recurrent
spikes, adaptation: every neuron's step starts from a detached state) and keeps every route through the
synapses. A delay synapse is a synaptic route that spans time: the output of layer l at step t reads layer
l-1's spikes at t-d for every tap d < K, and all these taps keep their gradient. So the gradient computed
here is, exactly, the gradient of "BPTT with the neuron state detached between steps" (tested against that
graph built with plain autograd).

Memory stays flat in T. The network runs in chunks of C steps (``model.online_chunk``); each layer's chunk
keeps its own autograd graph, its input being the previous layer's chunk as a leaf. A step's spikes reach the
next layer's outputs up to K-1 steps later, so a chunk's gradient is complete once the layer above has been
backpropagated over those later steps: the readout's chunk is backpropagated as soon as it is computed, and
each lower layer's chunk a K-1 step horizon later (top-down, a wavefront). Only the chunks inside that
horizon are alive: O(layers x (C + K)) steps of graph, whatever T is.

The SNN-delays loss ``CE(sum_t softmax(out_t), y)`` does not split into per-step terms, but it depends on the
outputs only through ``S = sum_t softmax(out_t)``, so ``dL/dsoftmax(out_t) = dL/dS`` for every t. Pass 1 runs
the network without autograd for S and ``g = dL/dS``; pass 2 repeats the identical computation (same dropout
masks: the RNG state is restored; BatchNorm running statistics are restored, so they update once) and
backpropagates ``g`` at every step, chunk by chunk. BatchNorm uses per-step batch statistics in this mode.

SLTT-K (the paper's variant for speed; the authors' ``train_SLTTK.py``): each batch draws K distinct steps
uniformly (``randperm(T)[:K]``, shared by the batch) and backpropagates the loss only at those steps (the other
steps' loss terms are forward-only; no rescaling, as in the authors' code). Chunks that no chosen step can
reach run without autograd, and pass 2 stops after the last chosen step.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from spikerec.errors import ConfigError
from spikerec.models.network import synapse_span
from spikerec.window import time_mask


def check_sltt_model(model: nn.Module) -> None:
    if not getattr(model, "supports_online", False):
        raise ConfigError(f"train.sltt needs a model that runs a chunk of steps at a time (online_state/online_chunk); "
                          f"{type(model).__name__} ({getattr(model, 'kind', '')}) cannot: set train.sltt=false")


def default_chunk_steps(model: nn.Module) -> int:
    """Chunk length: the longest delay span (K steps) of the model, at least 16 steps."""
    return max(16, *(synapse_span(layer.synapse) for layer in model.layers))


def pick_steps(steps: int, k: int, device: torch.device) -> torch.Tensor | None:
    """SLTT-K: [T] bool, K distinct steps drawn uniformly (``randperm``, torch's global RNG); None when k is 0 or
    at least T (every step)."""
    if k <= 0 or k >= steps:
        return None
    picked = torch.zeros(steps, dtype=torch.bool, device=device)
    picked[torch.randperm(steps)[:k].to(device)] = True
    return picked


class _Chunk(NamedTuple):
    start: int
    stop: int
    output: torch.Tensor  # this layer's spikes [C, B, N] with their autograd graph
    leaf: torch.Tensor  # the same values, detached: the next layer's input, collecting dL/dspikes


def sltt_backward(model: nn.Module, frames: torch.Tensor, labels: torch.Tensor, window: torch.Tensor | None = None,
                  *, k_steps: int = 0, chunk_steps: int = 0, amp: bool = False,
                  scaler: torch.amp.GradScaler | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Accumulate SLTT gradients of ``CE(sum_t softmax(out_t), labels)`` into ``model``'s parameters.

    frames [T, B, C_in], labels [B], window [B] (steps of each sample's window; the sum over t and the per-step
    BatchNorm statistics use in-window steps only; None = all T). ``k_steps``: SLTT-K (0 = every step).
    ``chunk_steps``: steps per chunk (0 = :func:`default_chunk_steps`). ``amp``: autocast both passes (CUDA);
    ``scaler``: a GradScaler whose scale multiplies the backpropagated gradient. Returns (loss, class scores
    [B, n_classes]), both detached; the loss covers every step even under SLTT-K.
    """
    check_sltt_model(model)
    steps, batch = frames.shape[0], frames.shape[1]
    inside = None if window is None else time_mask(window.to(frames.device), steps)  # [T, B]
    chunk = chunk_steps or default_chunk_steps(model)
    bounds = [(start, min(start + chunk, steps)) for start in range(0, steps, chunk)]
    picked = pick_steps(steps, k_steps, frames.device)
    autocast = torch.autocast(frames.device.type) if amp else contextlib.nullcontext()

    start_buffers, start_rng = _snapshot(model, frames.device)
    with torch.no_grad(), autocast:  # pass 1: the summed per-step softmax only
        state = model.online_state(batch, frames.device)
        scores = None
        for start, stop in bounds:
            out, state = model.online_chunk(frames[start:stop], state, _rows(inside, start, stop))
            p = _masked_softmax(out, inside, start, stop).sum(0)
            scores = p if scores is None else scores + p
    scores = scores.requires_grad_()
    loss = F.cross_entropy(scores, labels)
    (grad_scores,) = torch.autograd.grad(loss, scores)
    if scaler is not None and scaler.is_enabled():
        grad_scores = scaler.scale(grad_scores)

    end_buffers, end_rng = _snapshot(model, frames.device)
    _restore(model, start_buffers, start_rng, frames.device)
    _spatial_backward(model, frames, inside, picked, bounds, grad_scores, autocast)
    _restore(model, end_buffers, end_rng, frames.device)  # pass 2 may stop early (SLTT-K): pass 1's end state
    return loss.detach(), scores.detach()


def _spatial_backward(model: nn.Module, frames: torch.Tensor, inside: torch.Tensor | None,
                      picked: torch.Tensor | None, bounds: list[tuple[int, int]], grad_scores: torch.Tensor,
                      autocast) -> None:
    """Pass 2: the same chunks with autograd, backpropagating ``grad_scores`` [B, K] (dL/dS) along the wavefront."""
    layers = model.layers
    spans = [synapse_span(layer.synapse) for layer in layers]
    # reach[l]: how many steps after step t of layer l the readout can still depend on it (delay taps above l)
    reach = [sum(span - 1 for span in spans[l + 1:]) for l in range(len(layers))]
    steps = frames.shape[0]
    last = steps - 1 if picked is None else int(picked.nonzero().max())
    picked_before = None if picked is None else torch.cat([picked.new_zeros(1, dtype=torch.long),
                                                          picked.long().cumsum(0)]).tolist()

    def needs_graph(l: int, start: int, stop: int) -> bool:
        """Can a chosen loss step see layer l's steps [start, stop)? (SLTT-K; always when every step counts)."""
        if picked_before is None:
            return True
        return picked_before[min(stop + reach[l], steps)] > picked_before[start]

    state = model.online_state(frames.shape[1], frames.device)
    kernels = _kernels_as_leaves(state)
    pending: list[deque[_Chunk]] = [deque() for _ in layers[:-1]]
    for start, stop in bounds:
        if start > last:
            break
        x = frames[start:stop]
        for l, layer in enumerate(layers):
            graph = needs_graph(l, start, stop)
            with torch.set_grad_enabled(graph), autocast:
                out, state[l] = layer.online_chunk(x, state[l], _rows(inside, start, stop), detach_neuron_state=True)
            if l == len(layers) - 1:
                if graph:
                    weight = grad_scores if picked is None else grad_scores * picked[start:stop, None, None]
                    (_masked_softmax(out, inside, start, stop) * weight).sum().backward()
            elif graph:
                x = out.detach().requires_grad_()
                pending[l].append(_Chunk(start, stop, out, x))
            else:
                x = out
        _backward_ready(pending, spans, stop, steps)
    _backward_ready(pending, spans, steps, steps)
    used = [(kernel, leaf.grad) for kernel, leaf in kernels if leaf.grad is not None]
    if used:  # one backward through each kernel's construction, with the gradient summed over all chunks
        torch.autograd.backward([k for k, _ in used], [g for _, g in used])


def _backward_ready(pending: list[deque[_Chunk]], spans: list[int], frontier: int, steps: int) -> None:
    """Backpropagate, top layer first, every pending hidden chunk whose spikes' gradient is complete.

    Layer l's chunk [start, stop) is read by layer l+1 up to ``stop + K_{l+1} - 1``; its gradient is complete
    once the forward passed that step (``frontier``) and layer l+1 has no pending chunk starting before it.
    """
    for l in reversed(range(len(pending))):
        while pending[l]:
            chunk = pending[l][0]
            horizon = min(chunk.stop + spans[l + 1] - 1, steps)
            above = pending[l + 1] if l + 1 < len(pending) else ()
            if frontier < horizon or (above and above[0].start < horizon):
                break
            pending[l].popleft()
            if chunk.leaf.grad is not None:
                torch.autograd.backward(chunk.output, chunk.leaf.grad)


def _masked_softmax(out: torch.Tensor, inside: torch.Tensor | None, start: int, stop: int) -> torch.Tensor:
    """Per-step softmax of the readout [C, B, K] (float32 under AMP), zero outside each sample's window."""
    p = F.softmax(out.float(), dim=2)
    return p if inside is None else p * inside[start:stop].unsqueeze(2)


def _rows(inside: torch.Tensor | None, start: int, stop: int) -> torch.Tensor | None:
    return None if inside is None else inside[start:stop]


def _kernels_as_leaves(state: list[dict[str, Any]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Swap each layer's per-sequence delay kernel for a leaf copy; return (kernel, leaf) pairs.

    Chunks accumulate dL/dkernel in ``leaf.grad``; one backward through the kernel construction per batch
    (instead of one per chunk) carries it to weights and positions.
    """
    pairs = []
    for layer_state in state:
        if layer_state["kernel"] is None:
            continue
        kernel, basis = layer_state["kernel"]
        if kernel.requires_grad:
            leaf = kernel.detach().requires_grad_(True)
            layer_state["kernel"] = (leaf, basis)
            pairs.append((kernel, leaf))
    return pairs


def _snapshot(model: nn.Module, device: torch.device) -> tuple[list[torch.Tensor], tuple]:
    """Copies of the model's buffers (BatchNorm running statistics) and the RNG states dropout draws from."""
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return [b.detach().clone() for b in model.buffers()], (torch.get_rng_state(), cuda)


def _restore(model: nn.Module, buffers: list[torch.Tensor], rng: tuple, device: torch.device) -> None:
    with torch.no_grad():
        for saved, live in zip(buffers, model.buffers()):
            live.copy_(saved)
    torch.set_rng_state(rng[0])
    if rng[1] is not None:
        torch.cuda.set_rng_state(rng[1], device)
