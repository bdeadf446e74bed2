"""Train a pruned HRSNN for a task with the project trainer (surrogate-gradient BPTT).

LNP works without task data, so the pruned network has no task-specific input or readout size.
``adapt_for_task`` gives it a fresh input layer and readout for the task (seeded), keeping the
pruned recurrent part (weights, mask, timescales, thresholds); ``train_pruned`` runs
``spikerec.training``'s ``Trainer`` on it and stores the network's configuration (``hrsnn.json``)
in the run directory. The mask stays a structural zero during training (W * mask).
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from spikerec.config import Recipe
from spikerec.errors import ConfigError
from spikerec.models.hrsnn import HRSNN

# Recipe keys that change what the pruned network computes: they must match the network LNP pruned.
DYNAMICS_KEYS = ("dt_ms", "threshold", "reset", "v_reset", "decay_input")
# Recipe keys that only shape training (gradients, regularisers, readout): taken from the recipe.
TRAINING_KEYS = ("surrogate", "surrogate_alpha", "detach_reset", "learn_tau", "batchnorm", "dropout", "readout_tau_ms")
RECURRENT_STATE = ("blocks.0.neuron.recurrent_weight", "blocks.0.neuron.recurrent_mask", "blocks.0.neuron.threshold",
                   "cluster_ids")


def task_config(model: HRSNN, recipe: Recipe, n_inputs: int, n_outputs: int):
    """The pruned network's config with the task's sizes and the recipe's training keys; raises
    ``ConfigError`` naming every dynamics key where the recipe and the pruned network disagree."""
    from spikerec.models.builders import hrsnn_config

    wanted = hrsnn_config(recipe, n_inputs, n_outputs)
    clash = [f"{k} (recipe {getattr(wanted, k)!r}, pruned network {getattr(model.config, k)!r})"
             for k in DYNAMICS_KEYS if getattr(wanted, k) != getattr(model.config, k)]
    if clash:
        raise ConfigError(f"the recipe and the pruned network disagree on {', '.join(clash)}; prune with the "
                          f"recipe's settings (dt_ms = data.bin_ms) or change the recipe")
    return replace(model.config, n_inputs=n_inputs, n_outputs=n_outputs,
                   **{k: getattr(wanted, k) for k in TRAINING_KEYS})


def adapt_for_task(model: HRSNN, n_inputs: int, n_outputs: int, seed: int = 0, config=None) -> HRSNN:
    """A copy of ``model``'s recurrent layer with new input (n_inputs) and readout (n_outputs) layers.

    Input weights ~ N(0, input_scale^2 / n_inputs) and bias = config.bias, as at construction;
    the readout gets PyTorch's default Linear init under ``seed``. ``config`` (default: the model's
    with the new sizes) may change training-only options (see :func:`task_config`).
    """
    cfg = config or replace(model.config, n_inputs=n_inputs, n_outputs=n_outputs)
    torch.manual_seed(seed)
    new = HRSNN(cfg, initialize=False)
    state = new.state_dict()
    state.update({k: v for k, v in model.state_dict().items() if k in RECURRENT_STATE})
    new.load_state_dict(state)
    new.set_tau_ms(model.tau_ms.detach())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        new.input.weight.copy_(torch.randn(model.n_neurons, n_inputs, generator=gen)
                               * (cfg.input_scale / math.sqrt(n_inputs)))
        new.input.bias.fill_(cfg.bias)
    return new


def train_pruned(model_dir: str | Path, recipe: Recipe, data_dir: str | Path, run_dir: str | Path,
                 progress: bool = True) -> dict[str, Any]:
    """Train the HRSNN saved in ``model_dir`` (e.g. by ``spikerec prune --out``) on the recipe's
    data; returns the trainer's summary (``test_accuracy`` ...) plus the network size. The run
    directory gets ``hrsnn.json`` (the trained network's configuration) beside the checkpoints.

    The recipe's dynamics (bin width = dt_ms, threshold, reset, decay_input) must be the pruned network's.
    """
    from spikerec.training.runs import load_datasets
    from spikerec.training.seeding import seed_everything
    from spikerec.training.trainer import Trainer

    model = HRSNN.load(model_dir)
    seed_everything(recipe.train.seed)
    datasets = load_datasets(recipe, data_dir)
    train_set = datasets["train"]
    cfg = task_config(model, recipe, train_set.n_channels, train_set.n_classes)
    model = adapt_for_task(model, train_set.n_channels, train_set.n_classes, seed=recipe.train.seed, config=cfg)
    model.save_config(Path(run_dir))
    trainer = Trainer(model, recipe, datasets, run_dir, n_classes=train_set.n_classes, progress=progress,
                      val_source=getattr(datasets.get("val"), "val_source", ""))
    summary = trainer.fit()
    summary.update({"neurons": model.n_neurons, "synapses": model.n_synapses(), "hrsnn_config": asdict(model.config)})
    return summary
