"""A sample's time window: the one definition every consumer of frames uses.

A sample ``b`` with ``L_b`` frames of its own (or the recipe's fixed duration, when ``data.window =
"fixed"``) is run for ``W_b = L_b + D`` steps: its frames, then a *drain* of ``D`` steps with no input.
Its prediction, its loss and its workload counts are read from steps ``t < W_b`` only.

Why a drain: a delay synapse delivers a spike up to ``d_max`` steps after it was sent, so the last input
frame keeps changing the readout for up to ``D = sum over layers of d_max`` steps (the longest
end-to-end delay of the chain). By default ``D`` is exactly that bound, computed from the architecture
(``DelayedLinear.max_delay_steps - 1`` per layer, or the largest stored delay per layer of an exported
network), so every spike a sample causes reaches the readout inside its own window. A network without
delays has ``D = 0``.

Why this makes batching irrelevant: batches pad every sample to the longest window of the batch.
The networks are causal, so steps after ``W_b`` cannot change anything at ``t < W_b``, and every
reduction over time (loss, prediction, BatchNorm statistics, counts) is masked to ``t < W_b``. A
sample's numbers are therefore the same at batch size 1 (streaming, hardware) and 256, in any order.

Works on numpy arrays and torch tensors alike (the expressions below are valid for both).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

__all__ = ["WINDOW_RULES", "chain_drain_steps", "time_mask", "window_lengths", "describe"]

WINDOW_RULES = ("sample", "fixed")  # own frames | the recipe's fixed duration (cropped or padded)


def chain_drain_steps(max_delays: Iterable[int]) -> int:
    """Default drain ``D``: the longest end-to-end delay of a chain of layers (sum of each layer's largest delay, steps)."""
    return int(sum(int(d) for d in max_delays))


def window_lengths(lengths, drain_steps: int):
    """Steps in each sample's window ``[B]``: its own frames plus the drain."""
    return lengths + int(drain_steps)


def time_mask(window, steps: int):
    """``[steps, B]`` bool: step ``t`` lies inside sample ``b``'s window (``t < window[b]``).

    ``window`` may be a numpy array or a torch tensor; the mask has the same type (and device).
    """
    if hasattr(window, "unsqueeze"):  # a torch tensor
        import torch

        return torch.arange(steps, device=window.device).unsqueeze(1) < window.unsqueeze(0)
    return np.arange(steps)[:, None] < np.asarray(window)[None, :]


def describe(drain_steps: int, rule: str = "sample", fixed_steps: int = 0) -> str:
    """One line stating the window a number was computed with (for reports and CLI output)."""
    frames = f"a fixed {fixed_steps} steps" if rule == "fixed" else "the sample's own frames"
    return f"each sample's window = {frames} + {drain_steps} drain steps; prediction read from that window only"
