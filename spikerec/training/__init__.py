"""Surrogate-gradient training: trainer, losses, schedules, checkpoints, DDP, SLTT.

Quick use::

    from spikerec.config import load_recipe
    from spikerec.training import train
    summary = train(load_recipe("synthetic", ["train.epochs=3"]), "data/", "runs/demo")
"""

from __future__ import annotations

from spikerec.training.callbacks import Callback, EarlyStopping, PositionClampCallback, SigmaAnnealingCallback
from spikerec.training.checkpoint import load_checkpoint, save_checkpoint
from spikerec.training.evaluate import evaluate
from spikerec.training.losses import class_scores, predict, softmax_sum_cross_entropy
from spikerec.training.optim import build_optimizers
from spikerec.training.runs import evaluate_run, load_datasets, load_run_model, train
from spikerec.training.seeding import seed_everything
from spikerec.training.sltt import sltt_backward
from spikerec.training.trainer import Trainer

__all__ = [
    "Callback", "EarlyStopping", "PositionClampCallback", "SigmaAnnealingCallback", "Trainer",
    "build_optimizers", "class_scores", "evaluate", "evaluate_run", "load_checkpoint", "load_datasets", "load_run_model",
    "predict", "save_checkpoint", "seed_everything", "sltt_backward", "softmax_sum_cross_entropy", "train",
]
