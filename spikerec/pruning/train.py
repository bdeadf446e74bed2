"""Train a pruned HRSNN for a task with the project trainer (surrogate-gradient BPTT).

LNP works without task data, so the pruned network has no task-specific input or readout size.
``adapt_for_task`` gives it a fresh input layer and readout for the task (seeded), keeping the
pruned recurrent part (weights, mask, timescales); ``train_pruned`` runs ``spikerec.training``'s
``Trainer`` on it. The mask stays a structural zero during training (W * mask).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spikerec.config import Recipe
from spikerec.errors import ConfigError
from spikerec.models.hrsnn import HRSNN, HRSNNConfig


def adapt_for_task(model: HRSNN, n_inputs: int, n_outputs: int, seed: int = 0) -> HRSNN:
    """A copy of ``model`` with new input (n_inputs) and readout (n_outputs) layers.

    Input weights ~ N(0, input_scale^2 / n_inputs) and bias = config.bias, as at construction;
    the readout gets PyTorch's default Linear init under ``seed``.
    """
    cfg = HRSNNConfig(**{**asdict(model.config), "n_inputs": n_inputs, "n_outputs": n_outputs})
    new = HRSNN(cfg, initialize=False)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in ("weight", "mask", "tau_ms", "cluster_ids"):
            getattr(new, name).copy_(getattr(model, name))
        new.input.weight.copy_(torch.randn(model.n_neurons, n_inputs, generator=gen)
                               * (cfg.input_scale / math.sqrt(n_inputs)))
        new.input.bias.fill_(cfg.bias)
        torch.manual_seed(seed)
        new.readout = nn.Linear(model.n_neurons, n_outputs)
    return new


def train_pruned(model_dir: str | Path, recipe: Recipe, data_dir: str | Path, run_dir: str | Path,
                 progress: bool = True) -> dict[str, Any]:
    """Train the HRSNN saved in ``model_dir`` (e.g. by ``spikerec prune --out``) on the recipe's
    data; returns the trainer's summary (``test_accuracy`` ...) plus the network size.

    The recipe's bin width must equal the model's ``dt_ms`` (prune with ``--dt-ms`` = ``bin_ms``).
    """
    from spikerec.training.runs import load_datasets
    from spikerec.training.seeding import seed_everything
    from spikerec.training.trainer import Trainer

    model = HRSNN.load(model_dir)
    if abs(model.config.dt_ms - recipe.data.bin_ms) > 1e-9:
        raise ConfigError(f"{model_dir}: model dt_ms={model.config.dt_ms} but recipe data.bin_ms="
                          f"{recipe.data.bin_ms}; prune with --dt-ms {recipe.data.bin_ms} or change the recipe")
    seed_everything(recipe.train.seed)
    datasets = load_datasets(recipe, data_dir)
    train_set = datasets["train"]
    model = adapt_for_task(model, train_set.n_channels, train_set.n_classes, seed=recipe.train.seed)
    trainer = Trainer(model, recipe, datasets, run_dir, n_classes=train_set.n_classes, progress=progress,
                      val_source=getattr(datasets.get("val"), "val_source", ""))
    summary = trainer.fit()
    summary.update({"neurons": model.n_neurons, "synapses": model.n_synapses()})
    return summary
