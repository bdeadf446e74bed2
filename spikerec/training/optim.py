"""Per-parameter-group optimisers and learning-rate schedules (SNN-delays reference set-up).

* weights: Adam(lr, weight_decay) with a OneCycle schedule stepped once per epoch (peak ``max_lr``);
  BatchNorm parameters and other 1-D parameters (biases, per-neuron time constants) get no decay.
* delay positions: Adam(positions_lr, no weight decay) with cosine annealing over all epochs.
"""

from __future__ import annotations

import torch
from torch import nn

from spikerec.config import OptimConfig


def parameter_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter], list[nn.Parameter]]:
    """Split trainable parameters into (decayed weights, undecayed weights, delay positions)."""
    from spikerec.delays import split_delay_parameters

    positions, others = split_delay_parameters(model)
    position_ids = {id(p) for p in positions}
    norm_ids = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for p in others:
        if not p.requires_grad or id(p) in position_ids:
            continue
        (no_decay if id(p) in norm_ids or p.dim() <= 1 else decay).append(p)
    return decay, no_decay, [p for p in positions if p.requires_grad]


def _schedule(optimizer: torch.optim.Optimizer, kind: str, epochs: int, max_lr: float):
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=epochs)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def build_optimizers(model: nn.Module, cfg: OptimConfig, epochs: int):
    """Return ``(optimizers, schedulers)``: weights first, then positions when the model has any.

    Schedulers are stepped once per epoch, so ``epochs`` is the schedule length.
    """
    decay, no_decay, positions = parameter_groups(model)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    weights = torch.optim.Adam(groups, lr=cfg.lr)
    optimizers = [weights]
    schedulers = [_schedule(weights, cfg.schedule, epochs, cfg.max_lr)]
    if positions:
        pos_opt = torch.optim.Adam(positions, lr=cfg.positions_lr, weight_decay=0.0)
        optimizers.append(pos_opt)
        schedulers.append(_schedule(pos_opt, cfg.positions_schedule, epochs, cfg.positions_lr))
    return optimizers, schedulers
