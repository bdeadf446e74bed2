"""A stack of spiking blocks and a leaky-integrator readout, multi-step and online (per-step).

Every model in :mod:`spikerec.models` is a :class:`SpikingNetwork`: hidden blocks
``synapse -> BatchNorm1d -> spiking neuron -> Dropout`` and a readout ``synapse -> LI``; builders
only choose the synapse (``DelayedLinear`` or ``nn.Linear``) and the neuron (LIF, recurrent LIF,
adaptive LIF, meta-neuron); the HRSNN is one block with a heterogeneous, masked recurrent LIF.
``forward(frames [T, B, C_in], window [B])`` returns the readout membrane
[T, B, n_classes]. ``online_state``/``online_step`` run one time step at a time for SLTT training.

Sample windows (:mod:`spikerec.window`): every layer is causal, so steps after a sample's window cannot
change its earlier steps; the only reduction over time inside the model, BatchNorm's training-mode
statistics, is taken over in-window steps only. Given no ``window``, the whole input is one window per
sample. ``latency_steps`` is the default drain (the chain's end-to-end delay bound).
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
        return {**_synapse_state(self.synapse, batch_size, device, dtype),
                "neuron": self.neuron.initial_state(batch_size, device=device, dtype=dtype)}

    def online_step(self, x_t: torch.Tensor, state: dict[str, Any],
                    valid: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """One step [B, Cin] -> spikes [B, Cout]; BatchNorm uses this step's statistics over the samples whose
        window includes the step (``valid`` [B] bool; all when None)."""
        y_t, window = _synapse_step(self.synapse, x_t, state)
        spikes, neuron_state = self.neuron.step(self._normalise(y_t, valid), state["neuron"])
        if self.dropout is not None:
            spikes = self.dropout(spikes)
        return spikes, {**state, "window": window, "neuron": neuron_state}


class MetaBlock(nn.Module):
    """A meta-neuron layer (synapses + neurons in one module) followed by Dropout; no per-step mode."""

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
        return {**_synapse_state(self.synapse, batch_size, device, dtype),
                "neuron": self.integrator.initial_state(batch_size, device=device, dtype=dtype)}

    def online_step(self, x_t: torch.Tensor, state: dict[str, Any],
                    valid: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        y_t, window = _synapse_step(self.synapse, x_t, state)
        membrane, neuron_state = self.integrator.step(y_t, state["neuron"])
        return membrane, {**state, "window": window, "neuron": neuron_state}


def _synapse_state(synapse: nn.Module, batch_size: int, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Per-step synapse state: the zero history of the K-1 previous inputs a delay synapse reads
    (causal zero padding) and its dense delay kernel as [K*Cin, Cout], built once per sequence."""
    span = synapse_span(synapse)
    if span == 1:
        return {"window": None, "kernel": None}
    window = torch.zeros(span - 1, batch_size, synapse.in_features, device=device, dtype=dtype)
    if synapse.integer_mode or not synapse.learn_delays:
        return {"window": window, "kernel": None}
    from spikerec.delays import functional as delay_fn

    kernel = delay_fn.dense_kernel(synapse.weight, synapse.positions, synapse.sigma, synapse.max_delay_steps,
                                   synapse.interpolation)  # [Cout, Cin, K]
    return {"window": window, "kernel": kernel.permute(2, 1, 0).reshape(span * synapse.in_features, -1)}


def _synapse_step(synapse: nn.Module, x_t: torch.Tensor, state: dict[str, Any]):
    """Output of ``synapse`` at the newest step [B, Cout], reading the stored history; returns (y_t, new window).

    For a delay synapse only the newest output step is computed: one matmul of the last K inputs
    [B, K*Cin] with the dense kernel laid out as [K*Cin, Cout] (Dcls1d tap order: tap j reads the
    input K-1-j steps back). Integer mode and frozen delays run the layer's own (gather) path.
    """
    window = state["window"]
    if window is None:
        return synapse(x_t), None
    history = torch.cat([window, x_t.unsqueeze(0)])  # [K, B, Cin], oldest first
    if state["kernel"] is None:
        return synapse(history)[-1], history[1:]
    y = history.transpose(0, 1).reshape(x_t.shape[0], -1) @ state["kernel"]
    return (y if synapse.bias is None else y + synapse.bias), history[1:]


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
    def latency_steps(self) -> int:
        """Longest end-to-end delay of the chain in steps (the default drain of a sample window)."""
        return chain_drain_steps(synapse_span(layer.synapse) - 1 for layer in [*self.blocks, self.readout]
                                 if hasattr(layer, "synapse"))

    @property
    def supports_online(self) -> bool:
        """True when every layer can run one time step at a time (needed for SLTT training)."""
        return all(hasattr(layer, "online_step") for layer in [*self.blocks, self.readout])

    def online_state(self, batch_size: int, device: torch.device) -> list[dict[str, Any]]:
        """Initial per-layer state for :meth:`online_step`, in the dtype of the model's parameters."""
        dtype = next(self.parameters()).dtype
        return [layer.online_state(batch_size, device, dtype) for layer in [*self.blocks, self.readout]]

    def online_step(self, x_t: torch.Tensor, state: list[dict[str, Any]],
                    valid: torch.Tensor | None = None) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """One time step: frames [B, C_in] -> readout membrane [B, K], next state; ``valid`` [B]: samples whose
        window includes this step (None: all)."""
        new_state = []
        for layer, layer_state in zip([*self.blocks, self.readout], state):
            x_t, layer_state = layer.online_step(x_t, layer_state, valid)
            new_state.append(layer_state)
        return x_t, new_state
