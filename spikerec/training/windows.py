"""The sample window (:mod:`spikerec.window`) a recipe gives a model: what the trainer, ``spikerec eval``,
the exporters and the energy counts all batch with, so every number of a run is read the same way."""

from __future__ import annotations

from typing import Any

from torch import nn

from spikerec.config import Recipe
from spikerec.errors import ConfigError


def window_collate(recipe: Recipe, model: nn.Module):
    """The :class:`~spikerec.datasets.WindowCollate` of ``recipe`` for ``model``: drain ``data.drain_steps``, or
    (-1) the model's end-to-end delay ``latency_steps``; ``data.window = "fixed"`` crops/pads every sample to
    ``data.max_duration_ms``."""
    from spikerec.datasets import WindowCollate, max_frames

    d = recipe.data
    drain = d.drain_steps
    if drain < 0:
        if not hasattr(model, "latency_steps"):
            raise ConfigError(f"{type(model).__name__} has no latency_steps to derive the drain from; "
                              "set data.drain_steps to the number of input-free steps after each sample")
        drain = int(model.latency_steps)
    fixed = max_frames(d.max_duration_ms, d.bin_ms) if d.window == "fixed" else 0
    return WindowCollate(drain_steps=drain, fixed_steps=fixed)


def window_summary(collate) -> dict[str, Any]:
    """What a report states about the sample window its numbers were computed with."""
    from spikerec.window import describe

    rule = "fixed" if collate.fixed_steps else "sample"
    return {"rule": rule, "drain_steps": collate.drain_steps, "fixed_steps": collate.fixed_steps,
            "text": describe(collate.drain_steps, rule, collate.fixed_steps)}
