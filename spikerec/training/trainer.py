"""The training loop: per-group optimisers, callbacks, checkpoints, exact resume, model selection.

A :class:`Trainer` owns one run directory::

    RUN_DIR/recipe.toml       the resolved recipe (``spikerec eval`` needs nothing else)
    RUN_DIR/last.pt           full state after the latest epoch (``--resume`` continues from it)
    RUN_DIR/best.pt           model weights chosen on the selection split (validation by default)
    RUN_DIR/metrics.jsonl     one JSON object per epoch (also metrics.csv)
    RUN_DIR/curves.png        loss/accuracy per epoch
    RUN_DIR/summary.json      val/test accuracy of the selected model, which split selected it, the
                              sample window it was trained and evaluated with, time

Every batch is a batch of sample windows (:mod:`spikerec.window`): the loss and every accuracy read each
sample's own frames plus its drain only, so they do not depend on the batch size or the sample order.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from spikerec.config import Recipe, recipe_to_dict, save_recipe
from spikerec.errors import ConfigError, NonFiniteError
from spikerec.io import write_json
from spikerec.training.callbacks import Callback, EarlyStopping, PositionClampCallback, SigmaAnnealingCallback
from spikerec.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from spikerec.training.distributed import (DistInfo, ShuffleShardSampler, all_reduce_sum, average_gradients,
                                           barrier, init_distributed, resolve_device)
from spikerec.delays import has_delays
from spikerec.training.evaluate import eval_loader, evaluate, forward_windows, takes_window, unpack_batch
from spikerec.training.losses import class_scores, softmax_sum_cross_entropy
from spikerec.training.metrics import plot_curves, write_metrics
from spikerec.training.optim import build_optimizers
from spikerec.training.qat import rounded_weights
from spikerec.training.sltt import check_sltt_model, sltt_backward
from spikerec.training.windows import window_collate, window_summary


def default_callbacks(recipe: Recipe, model: nn.Module) -> list[Callback]:
    """Sigma annealing and position clamping for delay models, early stopping when asked."""
    callbacks: list[Callback] = []
    if has_delays(model):
        from spikerec.delays import DelayedLinear, SigmaAnnealing

        steps = next(m for m in model.modules() if isinstance(m, DelayedLinear)).max_delay_steps
        start = recipe.delays.sigma_start or float(steps // 2)
        anneal = int(recipe.train.epochs * recipe.delays.anneal_fraction)  # reference: epochs // 4
        callbacks.append(SigmaAnnealingCallback(SigmaAnnealing(start, recipe.delays.sigma_final, anneal)))
        if recipe.delays.clamp:
            callbacks.append(PositionClampCallback())
    if recipe.train.early_stop_patience > 0:
        callbacks.append(EarlyStopping(recipe.train.early_stop_patience, monitor=_selection_key(recipe)))
    return callbacks


def _selection_key(recipe: Recipe) -> str:
    return {"val": "val_accuracy", "test": "test_accuracy", "last": "epoch"}[recipe.train.select_on]


def _flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class Trainer:
    """Train ``model`` on ``datasets["train"]``, select on ``datasets["val"]``, report ``datasets["test"]``.

    ``datasets`` maps split names to datasets whose items are ``(frames [T, C], label)``;
    ``collate_fn`` batches them to ``(frames [T, B, C], labels [B], window [B], ...)`` (default:
    :func:`window_collate` of the recipe and model). ``model(frames, window=window)`` must return the readout
    membrane [T, B, n_classes].
    """

    def __init__(self, model: nn.Module, recipe: Recipe, datasets: dict[str, Dataset], run_dir: str | Path, *,
                 n_classes: int, collate_fn: Callable | None = None, callbacks: list[Callback] | None = None,
                 progress: bool = True, val_source: str = "") -> None:
        if collate_fn is None:
            collate_fn = window_collate(recipe, model)
        self.recipe, self.datasets, self.n_classes = recipe, datasets, n_classes
        self.run_dir, self.collate_fn, self.progress, self.val_source = Path(run_dir), collate_fn, progress, val_source
        cfg = recipe.train
        if cfg.select_on == "val" and len(datasets.get("val") or []) == 0:
            raise ConfigError("train.select_on is 'val' but the validation split is empty; "
                              "set data.val_fraction > 0 or train.select_on=last")
        self.info: DistInfo = init_distributed(cfg.device)
        self.device = resolve_device(cfg.device, self.info.local_rank)
        self.amp = cfg.amp and self.device.type == "cuda"
        if cfg.sltt:
            check_sltt_model(model)
        self.model = model.to(self.device)
        self.takes_window = takes_window(model)
        self.net: Callable = model
        if self.info.enabled:
            self.net = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if cfg.compile and self.device.type == "cuda":
            self.net = torch.compile(self.net)
        self.optimizers, self.schedulers = build_optimizers(model, recipe.optim, cfg.epochs)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.callbacks = default_callbacks(recipe, model) + list(callbacks or [])
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"metric": None, "epoch": None}
        self.start_epoch = 0
        self.should_stop = False
        self.train_sampler = ShuffleShardSampler(len(datasets["train"]), self.info, seed=cfg.seed)
        self.train_loader = DataLoader(datasets["train"], batch_size=cfg.batch_size, sampler=self.train_sampler,
                                       collate_fn=collate_fn, num_workers=recipe.data.num_workers)

    # ------------------------------------------------------------------ state
    def state_dict(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "scaler": self.scaler.state_dict(),
            "callbacks": [c.state_dict() for c in self.callbacks],
            "rng": rng_state(),
            "history": self.history,
            "best": self.best,
            "recipe": recipe_to_dict(self.recipe),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        for obj, saved in zip(self.optimizers, state["optimizers"]):
            obj.load_state_dict(saved)
        for obj, saved in zip(self.schedulers, state["schedulers"]):
            obj.load_state_dict(saved)
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        for obj, saved in zip(self.callbacks, state["callbacks"]):
            obj.load_state_dict(saved)
        self.history = list(state["history"])
        self.best = dict(state["best"])
        self.start_epoch = state["epoch"] + 1
        set_rng_state(state["rng"])

    # ------------------------------------------------------------------ steps
    def _loss_and_backward(self, frames: torch.Tensor, labels: torch.Tensor,
                           window: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward + backward of one batch; returns (loss, class scores), both detached."""
        cfg = self.recipe.train
        if cfg.sltt:  # runs the bare model (not the DDP wrapper), so the gradients are averaged here
            loss, scores = sltt_backward(self.model, frames, labels, window, k_steps=cfg.sltt_k, amp=self.amp,
                                         scaler=self.scaler)
            average_gradients(self.model, self.info)
            return loss, scores
        with torch.autocast(self.device.type, enabled=self.amp):
            out = forward_windows(self.net, frames, window, self.takes_window)
        loss = softmax_sum_cross_entropy(out, labels, window)
        self.scaler.scale(loss).backward()
        return loss.detach(), class_scores(out.detach(), window)

    def _optimizer_step(self) -> None:
        clip = self.recipe.optim.grad_clip
        if clip > 0:
            for opt in self.optimizers:
                self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        for opt in self.optimizers:
            self.scaler.step(opt)
        self.scaler.update()
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)

    def train_epoch(self, epoch: int, bar) -> dict[str, float]:
        self.model.train()
        self.train_sampler.set_epoch(epoch)
        totals = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss sum, correct, count
        for index, batch in enumerate(self.train_loader):
            frames, labels, window = unpack_batch(batch, self.device)
            with rounded_weights(self.model, self.recipe.train.qat_weight_bits):
                loss, scores = self._loss_and_backward(frames, labels, window)
            if not torch.isfinite(loss):
                raise NonFiniteError(f"training loss became {loss.item()} at epoch {epoch}, batch {index}; "
                                     "lower optim.lr / optim.max_lr or set optim.grad_clip")
            self._optimizer_step()
            for cb in self.callbacks:
                cb.on_batch_end(self, index)
            totals += torch.stack([loss.double() * len(labels), (scores.argmax(1) == labels).sum().double(),
                                   torch.tensor(float(len(labels)), dtype=torch.float64, device=self.device)])
            bar.update(1)
        loss_sum, correct, count = all_reduce_sum(totals, self.info).tolist()
        return {"train_loss": loss_sum / count, "train_accuracy": correct / count}

    def evaluate_split(self, split: str, integer_delays: bool | None = None) -> dict[str, Any]:
        """Evaluate the current model on ``split`` (integer delays per the recipe unless given)."""
        if integer_delays is None:
            integer_delays = self.recipe.delays.integer_eval
        loader = eval_loader(self.datasets[split], self.recipe.train.batch_size, self.collate_fn, self.info,
                             self.recipe.data.num_workers)
        return evaluate(self.model, loader, self.n_classes, self.device, integer_delays=integer_delays,
                        info=self.info, amp=self.amp)

    def _resume(self) -> None:
        """Continue from ``last.pt`` if there is one; the recipe must be the one it was trained with."""
        path = self.run_dir / "last.pt"
        if not path.exists():
            if self.info.is_main:
                print(f"spikerec train: no {path} yet; starting from epoch 0", file=sys.stderr)
            return
        state = load_checkpoint(path, map_location=self.device)
        saved, current = _flatten(state["recipe"]), _flatten(recipe_to_dict(self.recipe))
        changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
        if changed:
            raise ConfigError(f"{path}: cannot resume with a different recipe (changed: {', '.join(changed)}); "
                              "use the run's recipe.toml or a new --out directory")
        self.load_state_dict(state)

    # ------------------------------------------------------------------ loop
    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Train for ``recipe.train.epochs`` epochs (continuing ``last.pt`` if ``resume``); return the summary."""
        cfg = self.recipe.train
        if self.info.is_main:
            save_recipe(self.recipe, self.run_dir / "recipe.toml")
        if resume:
            self._resume()
        key = _selection_key(self.recipe)
        from tqdm.auto import tqdm

        bar = tqdm(total=(cfg.epochs - self.start_epoch) * len(self.train_loader), file=sys.stderr,
                   disable=not (self.progress and self.info.is_main), desc=f"train {self.recipe.name}",
                   unit="batch", dynamic_ncols=True)
        with bar:
            for epoch in range(self.start_epoch, cfg.epochs):
                if self.should_stop:
                    break
                started = time.perf_counter()
                for cb in self.callbacks:
                    cb.on_epoch_start(self, epoch)
                row: dict[str, Any] = {"epoch": epoch, **self.train_epoch(epoch, bar)}
                row["lr"] = self.optimizers[0].param_groups[0]["lr"]
                if len(self.optimizers) > 1:
                    row["positions_lr"] = self.optimizers[1].param_groups[0]["lr"]
                for scheduler in self.schedulers:
                    scheduler.step()
                if len(self.datasets.get("val") or []):
                    result = self.evaluate_split("val")
                    row["val_loss"], row["val_accuracy"] = result["loss"], result["accuracy"]
                if cfg.select_on == "test":
                    result = self.evaluate_split("test")
                    row["test_loss"], row["test_accuracy"] = result["loss"], result["accuracy"]
                row["seconds"] = time.perf_counter() - started
                for cb in self.callbacks:
                    cb.on_epoch_end(self, epoch, row)
                self.history.append(row)
                improved = self.best["metric"] is None or row[key] > self.best["metric"]
                if improved:
                    self.best = {"metric": row[key], "epoch": epoch}
                if self.info.is_main:
                    if improved:
                        save_checkpoint(self.run_dir / "best.pt", {"epoch": epoch, "model": self.model.state_dict(),
                                                                  "recipe": recipe_to_dict(self.recipe)})
                    save_checkpoint(self.run_dir / "last.pt", self.state_dict(epoch))
                    write_metrics(self.run_dir, self.history)
                barrier(self.info)
                bar.set_postfix(epoch=epoch, loss=f"{row['train_loss']:.3f}",
                                val=f"{row.get('val_accuracy', math.nan):.3f}")
        return self.finish()

    def finish(self) -> dict[str, Any]:
        """Reload the selected weights, evaluate val and test, write ``summary.json`` and plots."""
        started = time.perf_counter()
        best = load_checkpoint(self.run_dir / "best.pt", map_location=self.device)
        self.model.load_state_dict(best["model"])
        summary: dict[str, Any] = {
            "recipe": self.recipe.name,
            "selected_on": self.recipe.train.select_on,
            "val_source": self.val_source,
            "best_epoch": best["epoch"],
            "epochs": len(self.history),
            "integer_delays": bool(self.recipe.delays.integer_eval and has_delays(self.model)),
            "device": str(self.device),
            "world_size": self.info.world_size,
            "n_parameters": sum(p.numel() for p in self.model.parameters()),
        }
        if hasattr(self.collate_fn, "drain_steps"):
            summary["window"] = window_summary(self.collate_fn)
        for split in ("val", "test"):
            if len(self.datasets.get(split) or []):
                result = self.evaluate_split(split)
                summary[f"{split}_accuracy"], summary[f"{split}_loss"] = result["accuracy"], result["loss"]
            else:
                summary[f"{split}_accuracy"] = summary[f"{split}_loss"] = None
        summary["seconds"] = sum(row["seconds"] for row in self.history) + time.perf_counter() - started
        if self.info.is_main:
            write_json(self.run_dir / "summary.json", summary)
            plot_curves(self.run_dir / "curves.png", self.history)
        barrier(self.info)
        return summary
