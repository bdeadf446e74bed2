"""Evaluation: accuracy, loss and confusion matrix, optionally with rounded integer delays."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from spikerec.training.distributed import DistInfo, ShuffleShardSampler, all_reduce_sum
from spikerec.training.losses import class_scores


def has_delays(model: nn.Module) -> bool:
    """True when ``model`` contains at least one learnable-delay layer."""
    from spikerec.delays import DelayedLinear

    return any(isinstance(m, DelayedLinear) for m in model.modules())


def delay_eval_context(model: nn.Module, integer_delays: bool):
    """Context in which ``model`` computes with rounded integer delays (no-op without delay layers)."""
    if integer_delays and has_delays(model):
        from spikerec.delays import integer_delay_mode

        return integer_delay_mode(model, True)
    return contextlib.nullcontext()


def unpack_batch(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(frames [T, B, C], labels [B][, lengths])`` -> tensors on ``device``."""
    frames, labels = batch[0], batch[1]
    return frames.to(device, non_blocking=True), labels.to(device, non_blocking=True)


def eval_loader(dataset: Dataset, batch_size: int, collate_fn: Callable, info: DistInfo,
                num_workers: int = 0) -> DataLoader:
    """In-order loader over this rank's shard of ``dataset``."""
    sampler = ShuffleShardSampler(len(dataset), info, shuffle=False)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn,
                      num_workers=num_workers)


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, n_classes: int, device: torch.device, *,
             integer_delays: bool = True, info: DistInfo = DistInfo(), amp: bool = False,
             forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, Any]:
    """Accuracy (fraction), mean loss and confusion matrix [n_classes, n_classes] over ``loader``.

    ``forward`` defaults to ``model``; pass a compiled/wrapped callable to use it instead.
    Counts are summed over ranks under DDP, so every rank returns the global result.
    """
    forward = forward or model
    was_training = model.training
    model.eval()
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.float64, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    with delay_eval_context(model, integer_delays):
        for batch in loader:
            frames, labels = unpack_batch(batch, device)
            with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
                out = forward(frames)
            scores = class_scores(out)
            loss_sum += torch.nn.functional.cross_entropy(scores, labels, reduction="sum").double()
            index = labels * n_classes + scores.argmax(dim=1)
            confusion += torch.bincount(index, minlength=n_classes * n_classes).view(n_classes, n_classes)
    model.train(was_training)
    totals = all_reduce_sum(torch.cat([confusion.flatten(), loss_sum.view(1)]), info)
    confusion, loss_sum = totals[:-1].view(n_classes, n_classes), totals[-1]
    n = confusion.sum().item()
    return {
        "accuracy": confusion.diag().sum().item() / n if n else float("nan"),
        "loss": loss_sum.item() / n if n else float("nan"),
        "n": int(n),
        "confusion": confusion.long().cpu().tolist(),
    }
