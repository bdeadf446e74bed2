"""Model-level helpers for networks containing ``DelayedLinear`` layers."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

from spikerec.delays.layer import DelayedLinear
from spikerec.errors import SpikerecError


def delay_layers(model: nn.Module) -> list[tuple[str, DelayedLinear]]:
    """``(qualified name, layer)`` for every ``DelayedLinear`` in ``model`` (itself included)."""
    return [(name or type(model).__name__, m) for name, m in model.named_modules() if isinstance(m, DelayedLinear)]


def set_sigma(model: nn.Module, sigma: float) -> int:
    """Set the Gaussian ``sigma`` (DCLS SIG, steps) of every delay layer; returns how many were set."""
    layers = delay_layers(model)
    for name, layer in layers:
        with _named(name):
            layer.sigma = sigma
    return len(layers)


def clamp_positions(model: nn.Module) -> int:
    """Clamp every delay layer's positions into range; call after each optimiser step. Returns count."""
    layers = delay_layers(model)
    for _, layer in layers:
        layer.clamp_positions_()
    return len(layers)


def split_delay_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(positions, others)``: trainable delay positions and every other trainable parameter.

    The reference trains positions with their own Adam and a learning rate 100x the weights'.
    """
    position_ids = {id(layer.positions) for _, layer in delay_layers(model)}
    positions, others = [], []
    for p in model.parameters():  # parameters() de-duplicates shared tensors
        if p.requires_grad:
            (positions if id(p) in position_ids else others).append(p)
    return positions, others


@contextlib.contextmanager
def integer_delay_mode(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Within the block every delay layer computes with its rounded integer delays (or not, when
    ``enabled`` is False); previous modes are restored afterwards. Checks all delays up front."""
    layers = delay_layers(model)
    previous = [layer.integer_mode for _, layer in layers]
    if enabled:
        for name, layer in layers:
            with _named(name):
                layer.integer_delays()
    try:
        for _, layer in layers:
            layer.integer_mode = enabled
        yield model
    finally:
        for (_, layer), mode in zip(layers, previous):
            layer.integer_mode = mode


def has_delays(model: nn.Module) -> bool:
    """True when ``model`` contains at least one learnable-delay layer."""
    return bool(delay_layers(model))


def delay_eval_context(model: nn.Module, integer_delays: bool = True):
    """Context in which ``model`` computes with rounded integer delays when ``integer_delays`` (what an exported
    network and every simulator run); a no-op for models without delay layers."""
    if integer_delays and has_delays(model):
        return integer_delay_mode(model, True)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _named(name: str) -> Iterator[None]:
    """Prefix a SpikerecError raised inside with the module's qualified name."""
    try:
        yield
    except SpikerecError as err:
        err.args = (f"{name}: {err}",) + err.args[1:]
        raise
