"""Synapse masks: a pruned synapse stays pruned in the forward pass, in the gradients and in the checkpoint.

A pruned weight matrix gets a :class:`SynapseMask` parametrization (``torch.nn.utils.parametrize``): the
module keeps the trained values as ``parametrizations.<name>.original`` and a 0/1 ``mask`` buffer of the
same shape, and every read of ``module.<name>`` (forward, export, counting) computes ``original * mask``.
The gradient of ``original`` is the upstream gradient times the mask, so a pruned entry gets exactly 0 and
no optimiser step can revive it (Adam's update of a zero gradient is zero; weight decay shrinks the zeroed
stored value, which stays 0). Both tensors are in ``state_dict()``, so checkpoints carry the mask; a loader
calls :func:`restore_masks` on a freshly built model before ``load_state_dict``.

Works for any weight: ``nn.Linear.weight`` [out, in], ``DelayedLinear.weight`` [out, in, taps] (a synapse's
taps share its mask), ``RecurrentLIF.recurrent_weight`` [N, N] (on top of a structural ``recurrent_mask``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from spikerec.errors import CheckpointError, ShapeError

__all__ = ["SynapseMask", "mask_synapses", "synapse_mask", "applied_mask", "restore_masks"]

_ORIGINAL = ".original"


class SynapseMask(nn.Module):
    """Parametrization ``weight -> weight * mask`` with ``mask`` a buffer shaped like the weight (0/1)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.detach().clone().float())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask.to(weight.dtype)


def synapse_mask(module: nn.Module, name: str) -> SynapseMask | None:
    """The :class:`SynapseMask` on ``module.<name>``, or None."""
    if not parametrize.is_parametrized(module, name):
        return None
    return next((p for p in getattr(module.parametrizations, name) if isinstance(p, SynapseMask)), None)


def applied_mask(module: nn.Module, name: str) -> torch.Tensor | None:
    """The pruning mask already applied to ``module.<name>`` (same shape), or None: a parametrization holding a
    ``mask`` buffer (:class:`SynapseMask`) or ``torch.nn.utils.prune``'s
    ``<name>_mask``."""
    if parametrize.is_parametrized(module, name):
        for parametrization in getattr(module.parametrizations, name):
            if hasattr(parametrization, "mask"):
                return parametrization.mask
    return getattr(module, f"{name}_mask", None)


def _full_mask(keep: torch.Tensor, weight: torch.Tensor, where: str) -> torch.Tensor:
    """``keep`` [out, in] (one entry per synapse) broadcast to the weight's shape (taps share it)."""
    if tuple(keep.shape) != tuple(weight.shape[:2]):
        raise ShapeError(f"{where}: keep mask has shape {list(keep.shape)}, the weight's synapses are "
                         f"{list(weight.shape[:2])}")
    shaped = keep.reshape(*keep.shape, *([1] * (weight.dim() - 2)))
    return shaped.expand(weight.shape).to(device=weight.device, dtype=torch.float32)


@torch.no_grad()
def mask_synapses(module: nn.Module, name: str, keep: torch.Tensor) -> None:
    """Prune ``module.<name>`` to the synapses where ``keep`` [out, in] (bool) is True.

    A mask already on the weight is narrowed (a synapse pruned once stays pruned); the stored values of
    pruned synapses are set to 0 as well, so nothing hidden is left behind the mask.
    """
    existing = synapse_mask(module, name)
    if existing is None:
        weight = getattr(module, name)
        mask = _full_mask(keep.bool(), weight, f"{type(module).__name__}.{name}")
        parametrize.register_parametrization(module, name, SynapseMask(mask))
    else:
        existing.mask.mul_(_full_mask(keep.bool(), existing.mask, f"{type(module).__name__}.{name}"))
    original = getattr(module.parametrizations, name).original
    original.mul_(synapse_mask(module, name).mask.to(original.dtype))


def restore_masks(model: nn.Module, state: dict[str, torch.Tensor]) -> int:
    """Give ``model`` a :class:`SynapseMask` on every weight that ``state`` (a ``state_dict`` of a masked model)
    stores as ``<module>.parametrizations.<name>.original``, so ``model.load_state_dict(state)`` fits; the
    masks' values then come from ``state``. Returns how many weights were masked."""
    count = 0
    for key in state:
        if ".parametrizations." not in key or not key.endswith(_ORIGINAL):
            continue
        path, _, name = key[:-len(_ORIGINAL)].rpartition(".parametrizations.")
        if f"{path}.parametrizations.{name}.0.mask" not in state:
            raise CheckpointError(f"checkpoint entry {key!r} is a parametrized weight without a synapse mask "
                                  f"(expected {path}.parametrizations.{name}.0.mask); spikerec cannot rebuild it")
        try:
            module = model.get_submodule(path)
        except AttributeError as err:
            raise CheckpointError(f"checkpoint entry {key!r} names module {path!r}, which the model built from the "
                                  f"run's recipe does not have ({err})") from None
        if synapse_mask(module, name) is None:
            weight = getattr(module, name)
            parametrize.register_parametrization(module, name, SynapseMask(torch.ones_like(weight)))
        count += 1
    return count
