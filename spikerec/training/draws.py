"""Monte-Carlo evaluation of a stochastic model (e.g. meta-neurons with ``eval_mode="sample"``).

A stochastic network gives a different accuracy at every evaluation; one number hides how much.
:func:`evaluate_draws` evaluates ``n_draws`` independent noise draws (draw ``k`` seeded with
``seed + k``, so the whole report is reproducible) and reports their mean and spread.
"""

from __future__ import annotations

import statistics
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from spikerec.errors import ConfigError
from spikerec.training.evaluate import evaluate

__all__ = ["evaluate_draws"]


def evaluate_draws(model: nn.Module, loader: DataLoader, n_classes: int, device: torch.device, n_draws: int = 8,
                   seed: int = 0, **evaluate_kwargs: Any) -> dict[str, Any]:
    """Accuracy and loss of ``n_draws`` seeded evaluations: mean, sample std, min, max and every draw.

    ``evaluate_kwargs`` go to :func:`spikerec.training.evaluate.evaluate`. The global torch RNG is
    restored afterwards. A deterministic model gives ``accuracy_std == 0``.
    """
    if n_draws < 1:
        raise ConfigError(f"evaluate_draws: n_draws must be >= 1, got {n_draws}")
    devices = [device] if device.type == "cuda" else []
    results = []
    with torch.random.fork_rng(devices=devices):
        for k in range(n_draws):
            torch.manual_seed(seed + k)
            results.append(evaluate(model, loader, n_classes, device, **evaluate_kwargs))
    acc = [r["accuracy"] for r in results]
    loss = [r["loss"] for r in results]
    return {"accuracy": statistics.fmean(acc), "accuracy_std": statistics.stdev(acc) if n_draws > 1 else 0.0,
            "accuracy_min": min(acc), "accuracy_max": max(acc), "accuracies": acc,
            "loss": statistics.fmean(loss), "n": results[0]["n"], "n_draws": n_draws, "seed": seed}
