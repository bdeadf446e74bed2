"""Evaluation: accuracy, loss and confusion matrix over sample windows, optionally with rounded integer delays."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from spikerec.delays import delay_eval_context
from spikerec.training.distributed import DistInfo, ShuffleShardSampler, all_reduce_sum
from spikerec.training.losses import class_scores


def forward_windows(forward: Callable, frames: torch.Tensor, window: torch.Tensor | None,
                    takes_window: bool) -> torch.Tensor:
    """``forward(frames, window=window)`` for models that take the sample windows (spikerec's models: their
    BatchNorm statistics skip padding), ``forward(frames)`` for plain models (which see the padded batch;
    the loss and prediction are masked to each window either way)."""
    return forward(frames, window=window) if takes_window and window is not None else forward(frames)


def takes_window(model: nn.Module) -> bool:
    """True when ``model.forward`` accepts a ``window`` argument (see :func:`forward_windows`)."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return "window" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def unpack_batch(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(frames [T, B, C], labels [B][, window [B], ...])`` (a :class:`~spikerec.datasets.Batch`) -> (frames,
    labels, window) on ``device``; window None when the batch has none (every sample spans all T steps)."""
    frames, labels = batch[0], batch[1]
    window = batch[2].to(device, non_blocking=True) if len(batch) > 2 else None
    return frames.to(device, non_blocking=True), labels.to(device, non_blocking=True), window


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

    Each sample is scored on its own window (the batch's ``window``), so the result does not depend on the
    batch size or order. ``forward`` defaults to ``model``; pass a compiled/wrapped callable to use it instead.
    Counts are summed over ranks under DDP, so every rank returns the global result.
    """
    forward = forward or model
    windowed = takes_window(model)
    was_training = model.training
    model.eval()
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.float64, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    with delay_eval_context(model, integer_delays):
        for batch in loader:
            frames, labels, window = unpack_batch(batch, device)
            with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
                out = forward_windows(forward, frames, window, windowed)
            scores = class_scores(out, window)
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
