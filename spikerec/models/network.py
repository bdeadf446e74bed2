"""A stack of spiking blocks and a leaky-integrator readout, multi-step and online (per-step).

Every model in :mod:`spikerec.models` is a :class:`SpikingNetwork`: hidden blocks
``synapse -> BatchNorm1d -> spiking neuron -> Dropout`` and a readout ``synapse -> LI``; builders
only choose the synapse (``DelayedLinear`` or ``nn.Linear``) and the neuron (LIF, recurrent LIF,
adaptive LIF, meta-neuron); the HRSNN is one block with a heterogeneous, masked recurrent LIF.
``forward(frames [T, B, C_in], window [B])`` returns the readout membrane
[T, B, n_classes]. ``online_state``/``online_chunk`` run the same network a chunk of steps at a time, carrying
the state (neuron states and the inputs a delay synapse still reads) from chunk to chunk; ``online_step`` is a
chunk of one step (streaming). SLTT training (:mod:`spikerec.training.sltt`) uses the chunked path.

Sample windows (:mod:`spikerec.window`): every layer is causal, so steps after a sample's window cannot
change its earlier steps; the only reduction over time inside the model, BatchNorm's training-mode
statistics, is taken over in-window steps only. Given no ``window``, the whole input is one window per
sample. ``latency_steps`` is the default drain (the chain's end-to-end delay bound). In the chunked path
BatchNorm (training mode) uses each step's own statistics over the samples whose window contains the step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spikerec.window import chain_drain_steps, time_mask


def synapse_span(synapse: nn.Module) -> int:
    """How many time steps of input one output step of ``synapse`` reads (1 for ``nn.Linear``)."""
    return int(getattr(synapse, "max_delay_steps", 1))


def batch_norm_rows(norm: nn.BatchNorm1d, rows: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """BatchNorm over ``rows`` [N, C]; in training mode its statistics (and running-statistic update) use
    only the ``valid`` rows [N] bool, so padding never shifts them. Invalid rows come out as 0.

    With fewer than two valid rows there are no batch statistics: the running ones are used, not updated.
    """
    if not norm.training or valid is None:
        return norm(rows)
    n_valid = int(valid.sum())
    if n_valid == valid.numel():
        return norm(rows)
    index = valid.nonzero().squeeze(1)
    picked = rows.index_select(0, index)
    if n_valid >= 2:
        normed = norm(picked)
    else:
        normed = nn.functional.batch_norm(picked, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                                          False, 0.0, norm.eps)
    return rows.new_zeros(rows.shape).index_copy(0, index, normed)


class SpikingBlock(nn.Module):
    """``synapse -> BatchNorm1d (per step, over channels) -> neuron -> Dropout``: [T, B, Cin] -> spikes [T, B, Cout].

    BatchNorm normalises ``[T*B, C]``: statistics pool all in-window time steps (the SNN-delays reference
    pools all steps of the padded batch, padding included).
    """

    def __init__(self, synapse: nn.Module, neuron: nn.Module, out_features: int, batchnorm: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.synapse = synapse
        self.norm = nn.BatchNorm1d(out_features) if batchnorm else None
        self.neuron = neuron
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def _normalise(self, y: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        """BatchNorm of ``y`` [..., C] with statistics over the ``valid`` [...] entries (all when None)."""
        if self.norm is None:
            return y
        rows = None if valid is None else valid.reshape(-1)
        return batch_norm_rows(self.norm, y.reshape(-1, y.shape[-1]), rows).reshape(y.shape)

    def forward(self, x: torch.Tensor, window: torch.Tensor | None = None) -> torch.Tensor:
        y = self.synapse(x)
        valid = None if window is None or self.norm is None else time_mask(window.to(y.device), y.shape[0])
        spikes = self.neuron(self._normalise(y, valid))
        return spikes if self.dropout is None else self.dropout(spikes)

    def online_state(self, batch_size: int, device: torch.device, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
        return {**synapse_state(self.synapse, batch_size, device, dtype),
                "neuron": self.neuron.initial_state(batch_size, device=device, dtype=dtype)}

    def online_chunk(self, x: torch.Tensor, state: dict[str, Any], valid: torch.Tensor | None = None,
                     detach_neuron_state: bool = False) -> tuple[torch.Tensor, dict[str, Any]]:
        """The next C steps [C, B, Cin] -> spikes [C, B, Cout], continuing ``state``. BatchNorm uses each step's
        statistics over the samples whose window includes the step (``valid`` [C, B] bool; all when None).
        ``detach_neuron_state``: cut the neuron state's autograd path between steps (SLTT)."""
        y, synapse = synapse_chunk(self.synapse, x, state)
        if self.norm is not None:
            y = batch_norm_steps(self.norm, y, valid)
        spikes, neuron = neuron_steps(self.neuron, y, state["neuron"], detach_neuron_state)
        if self.dropout is not None:
            spikes = self.dropout(spikes)
        return spikes, {**synapse, "neuron": neuron}


class MetaBlock(nn.Module):
    """A meta-neuron layer (synapses + neurons in one module) followed by Dropout; no chunked mode."""

    def __init__(self, layer: nn.Module, dropout: float = 0.0) -> None:
        super().__init__()
        self.layer = layer
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: torch.Tensor, window: torch.Tensor | None = None) -> torch.Tensor:
        spikes = self.layer(x)  # no reduction over time or batch: the window changes nothing here
        return spikes if self.dropout is None else self.dropout(spikes)


class Readout(nn.Module):
    """``synapse -> LI``: [T, B, Cin] -> membrane [T, B, n_classes]."""

    def __init__(self, synapse: nn.Module, integrator: nn.Module) -> None:
        super().__init__()
        self.synapse = synapse
        self.integrator = integrator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.integrator(self.synapse(x))

    def online_state(self, batch_size: int, device: torch.device, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
        return {**synapse_state(self.synapse, batch_size, device, dtype),
                "neuron": self.integrator.initial_state(batch_size, device=device, dtype=dtype)}

    def online_chunk(self, x: torch.Tensor, state: dict[str, Any], valid: torch.Tensor | None = None,
                     detach_neuron_state: bool = False) -> tuple[torch.Tensor, dict[str, Any]]:
        """The next C steps [C, B, Cin] -> membrane [C, B, n_classes] (``valid`` unused: no batch statistics)."""
        y, synapse = synapse_chunk(self.synapse, x, state)
        membrane, neuron = neuron_steps(self.integrator, y, state["neuron"], detach_neuron_state)
        return membrane, {**synapse, "neuron": neuron}


def batch_norm_steps(norm: nn.BatchNorm1d, y: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """BatchNorm of every step of ``y`` [C, B, N] with that step's own statistics over its ``valid`` [C, B] samples.

    Step by step it is :func:`batch_norm_rows` (biased batch variance in the output, unbiased in the running
    variance; a step with fewer than two valid samples uses the running statistics and does not update them;
    invalid rows come out as 0), computed for the whole chunk in a few tensor operations: only the running
    statistics' update runs step by step, on [N] vectors.
    """
    if not norm.training:
        return norm(y.reshape(-1, y.shape[-1])).reshape(y.shape)
    mask = (torch.ones(y.shape[:2], dtype=torch.bool, device=y.device) if valid is None else valid).unsqueeze(2)
    counts = mask.sum(dim=1, keepdim=True)  # [C, 1, 1]
    n = counts.clamp(min=1).to(y.dtype)
    mean = (y * mask).sum(dim=1, keepdim=True) / n
    var = (((y - mean) * mask) ** 2).sum(dim=1, keepdim=True) / n  # biased, [C, 1, N]
    enough = counts >= 2
    running_mean, running_var = _running_statistics(norm, mean.detach(), var.detach(), counts, enough)
    mean = torch.where(enough, mean, running_mean)
    var = torch.where(enough, var, running_var)
    out = (y - mean) * torch.rsqrt(var + norm.eps) * norm.weight + norm.bias
    return out * mask


@torch.no_grad()
def _running_statistics(norm: nn.BatchNorm1d, mean: torch.Tensor, var: torch.Tensor, counts: torch.Tensor,
                        enough: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Update ``norm``'s running statistics with the batch statistics (mean, biased var [C, 1, N]) of the steps
    that have ``enough`` samples, in step order; returns the running statistics each step starts from [C, 1, N]."""
    seen_mean, seen_var = [], []
    for t in range(mean.shape[0]):
        seen_mean.append(norm.running_mean.clone())
        seen_var.append(norm.running_var.clone())
        if not bool(enough[t]):
            continue
        norm.num_batches_tracked += 1
        factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
        n = float(counts[t])
        norm.running_mean.mul_(1 - factor).add_(factor * mean[t, 0])
        norm.running_var.mul_(1 - factor).add_(factor * var[t, 0] * n / (n - 1))
    return torch.stack(seen_mean).unsqueeze(1), torch.stack(seen_var).unsqueeze(1)


def neuron_steps(neuron: nn.Module, x: torch.Tensor, state: Any,
                 detach_state: bool = False) -> tuple[torch.Tensor, Any]:
    """``neuron.step`` over the C steps of ``x`` [C, B, N] from ``state``: (outputs [C, B, N], last state).

    ``detach_state``: every step starts from a detached state (no temporal route through the neuron state).
    """
    outputs = []
    for t in range(x.shape[0]):
        if detach_state:
            state = type(state)(*(v.detach() for v in state))
        out_t, state = neuron.step(x[t], state)
        outputs.append(out_t)
    return torch.stack(outputs), state


def synapse_state(synapse: nn.Module, batch_size: int, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Per-sequence state of ``synapse`` for :func:`synapse_chunk`: ``inputs``, the input steps a delay synapse
    still reads (a list of [n, B, Cin] pieces covering the last K-1 steps; zeros at the start: causal padding),
    and ``kernel``, its ``(kall, basis)`` from ``DelayedLinear.delay_kernel``, built once per sequence."""
    span = synapse_span(synapse)
    if span == 1:
        return {"inputs": None, "kernel": None}
    zeros = torch.zeros(span - 1, batch_size, synapse.in_features, device=device, dtype=dtype)
    return {"inputs": [zeros], "kernel": synapse.delay_kernel()}


def synapse_chunk(synapse: nn.Module, x: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
    """Output of ``synapse`` for the next C input steps ``x`` [C, B, Cin], reading the K-1 stored earlier steps:
    (y [C, B, Cout], new state).

    The stored inputs stay the tensors they arrived as (no copy), so autograd routes the gradient of a delayed
    tap back into the chunk that produced its input. One step (C = 1) is one product of the last K inputs
    [B, K*Cin] with the kernel; a longer chunk runs ``kernels.delayed_matmul`` over its K-1+C input steps.
    """
    if state["inputs"] is None:
        return synapse(x), state
    from spikerec.delays import kernels

    span, steps = synapse_span(synapse), x.shape[0]
    pieces = [*state["inputs"], x]
    seq = torch.cat(pieces)[-(span - 1 + steps):]  # [K-1+C, B, Cin], oldest first
    kall, basis = state["kernel"]
    if steps == 1:  # delay d reads seq[K-1-d]: newest first, as [B, Cin, K] to meet kall [Cin, K, Cout]
        y = (seq.flip(0).permute(1, 2, 0).reshape(x.shape[1], -1) @ kall.reshape(-1, kall.shape[2])).unsqueeze(0)
    else:
        y = kernels.delayed_matmul(seq, kall, basis)[span - 1:]
    while sum(p.shape[0] for p in pieces[1:]) >= span - 1:
        pieces.pop(0)  # no longer read by later steps
    if synapse.bias is not None:
        y = y + synapse.bias
    return y, {**state, "inputs": pieces}


class SpikingNetwork(nn.Module):
    """Hidden :class:`SpikingBlock` stack + :class:`Readout`: frames [T, B, C_in] -> membrane [T, B, K]."""

    def __init__(self, blocks: list[nn.Module], readout: Readout, kind: str = "") -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.readout = readout
        self.kind = kind

    def forward(self, x: torch.Tensor, window: torch.Tensor | None = None) -> torch.Tensor:
        """frames [T, B, C_in], window [B] (steps of each sample's window; None = all T) -> membrane [T, B, K]."""
        for block in self.blocks:
            x = block(x, window)
        return self.readout(x)

    @property
    def layers(self) -> list[nn.Module]:
        """The hidden blocks and the readout, input to output."""
        return [*self.blocks, self.readout]

    @property
    def latency_steps(self) -> int:
        """Longest end-to-end delay of the chain in steps (the default drain of a sample window)."""
        return chain_drain_steps(synapse_span(layer.synapse) - 1 for layer in self.layers if hasattr(layer, "synapse"))

    @property
    def supports_online(self) -> bool:
        """True when every layer can run a chunk of steps at a time (needed for SLTT training)."""
        return all(hasattr(layer, "online_chunk") for layer in self.layers)

    def online_state(self, batch_size: int, device: torch.device) -> list[dict[str, Any]]:
        """Initial per-layer state for :meth:`online_chunk`, in the dtype of the model's parameters."""
        dtype = next(self.parameters()).dtype
        return [layer.online_state(batch_size, device, dtype) for layer in self.layers]

    def online_chunk(self, x: torch.Tensor, state: list[dict[str, Any]], valid: torch.Tensor | None = None,
                     detach_neuron_state: bool = False) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """The next C steps: frames [C, B, C_in] -> readout membrane [C, B, K], next state; ``valid`` [C, B]:
        samples whose window includes each step (None: all)."""
        new_state = []
        for layer, layer_state in zip(self.layers, state):
            x, layer_state = layer.online_chunk(x, layer_state, valid, detach_neuron_state)
            new_state.append(layer_state)
        return x, new_state

    def online_step(self, x_t: torch.Tensor, state: list[dict[str, Any]],
                    valid: torch.Tensor | None = None) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """One time step: frames [B, C_in] -> readout membrane [B, K], next state (a chunk of one step)."""
        out, state = self.online_chunk(x_t.unsqueeze(0), state, None if valid is None else valid.unsqueeze(0))
        return out[0], state
