"""Trainer core on a tiny plain module: exact resume, selection, early stopping, files, safe checkpoints."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from torch import nn

from spikerec.config import load_recipe
from spikerec.errors import CheckpointError, ConfigError
from spikerec.training import (Callback, Trainer, build_optimizers, class_scores, load_checkpoint, save_checkpoint,
                               seed_everything, softmax_sum_cross_entropy)
from spikerec.training.metrics import read_metrics


class Tiny(nn.Module):
    """Linear -> BatchNorm -> ReLU -> Dropout -> Linear, applied per time step: [T, B, 6] -> [T, B, 3]."""

    def __init__(self):
        super().__init__()
        self.fc, self.bn, self.drop, self.out = nn.Linear(6, 16), nn.BatchNorm1d(16), nn.Dropout(0.3), nn.Linear(16, 3)

    def forward(self, x):
        h = self.bn(self.fc(x).flatten(0, 1)).view(*x.shape[:2], -1)
        return self.out(self.drop(torch.relu(h)))


def collate(batch):
    return torch.stack([f for f, _ in batch], dim=1), torch.tensor([label for _, label in batch])


def toy_split(n, seed):
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        x = (torch.rand(8, 6, generator=g) < 0.2).float()
        x[:, i % 3] += 1.0
        items.append((x, i % 3))
    return items


def recipe(*overrides):
    return load_recipe("synthetic", ["train.epochs=4", "train.batch_size=16", "model.delays=false", *overrides])


def fit(run_dir, r, resume=False, callbacks=None):
    seed_everything(r.train.seed)
    model = Tiny()
    data = {"train": toy_split(60, 0), "val": toy_split(20, 1), "test": toy_split(20, 2)}
    trainer = Trainer(model, r, data, run_dir, n_classes=3, collate_fn=collate, progress=False, callbacks=callbacks)
    return trainer.fit(resume=resume), model


class Interrupt(Callback):
    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt


def _without_times(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_loss_is_cross_entropy_of_summed_per_step_softmax():
    out = torch.randn(5, 4, 3)
    labels = torch.tensor([0, 2, 1, 1])
    scores = torch.softmax(out, dim=2).sum(0)
    assert torch.allclose(class_scores(out), scores)
    assert torch.allclose(softmax_sum_cross_entropy(out, labels), nn.CrossEntropyLoss()(scores, labels))


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    full, full_model = fit(tmp_path / "full", recipe())
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "cut", recipe(), callbacks=[Interrupt(after_epoch=2)])
    assert len(read_metrics(tmp_path / "cut")) == 2  # epochs 0 and 1 were checkpointed
    resumed, resumed_model = fit(tmp_path / "cut", recipe(), resume=True)
    assert _without_times(read_metrics(tmp_path / "cut")) == _without_times(read_metrics(tmp_path / "full"))
    for key in ("val_accuracy", "test_accuracy", "val_loss", "test_loss", "best_epoch", "epochs"):
        assert resumed[key] == full[key], key
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_refuses_a_changed_recipe(tmp_path):
    fit(tmp_path, recipe("train.epochs=1"))
    with pytest.raises(ConfigError, match="optim.lr"):
        fit(tmp_path, recipe("train.epochs=1", "optim.lr=0.5"), resume=True)


def test_run_directory_contents_and_honest_selection(tmp_path):
    summary, _ = fit(tmp_path, recipe())
    for name in ("recipe.toml", "last.pt", "best.pt", "metrics.jsonl", "metrics.csv", "curves.png", "summary.json"):
        assert (tmp_path / name).is_file(), name
    rows = read_metrics(tmp_path)
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 5
    assert "test_accuracy" not in rows[0]  # test is never looked at during training unless asked
    best = max(rows, key=lambda r: r["val_accuracy"])  # first maximum wins
    assert summary["best_epoch"] == best["epoch"] and summary["selected_on"] == "val"
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["test_accuracy"] == summary["test_accuracy"] and 0 <= summary["test_accuracy"] <= 1
    assert summary["epochs"] == 4 and summary["seconds"] > 0


def test_early_stopping_stops(tmp_path):
    summary, _ = fit(tmp_path, recipe("train.epochs=30", "train.early_stop_patience=1", "optim.lr=1e-9",
                                      "optim.max_lr=1e-9"))
    assert summary["epochs"] < 30


def test_amp_and_compile_are_cuda_only_and_ignored_on_cpu(tmp_path):
    summary, _ = fit(tmp_path, recipe("train.epochs=1", "train.amp=true", "train.compile=true", "train.device=cpu",
                                      "optim.grad_clip=0.5"))
    assert summary["device"] == "cpu" and summary["epochs"] == 1


def test_select_on_val_needs_a_validation_split(tmp_path):
    with pytest.raises(ConfigError, match="validation split is empty"):
        Trainer(Tiny(), recipe(), {"train": toy_split(10, 0), "val": [], "test": toy_split(5, 1)}, tmp_path,
                n_classes=3, collate_fn=collate)


def test_weight_decay_groups_exclude_batchnorm_and_biases():
    (opt,), _ = build_optimizers(Tiny(), recipe().optim, epochs=4)
    decayed, undecayed = opt.param_groups
    assert decayed["weight_decay"] == 1e-5 and undecayed["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in undecayed["params"])


def test_checkpoints_load_safely(tmp_path):
    save_checkpoint(tmp_path / "ok.pt", {"epoch": 3, "model": {"w": torch.ones(2)}})
    assert load_checkpoint(tmp_path / "ok.pt")["epoch"] == 3

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"format": "spikerec-checkpoint", "version": 1, "x": Evil()}, fh, protocol=2)
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "evil.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a spikerec checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
