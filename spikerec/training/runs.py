"""End-to-end entry points behind ``spikerec train`` and ``spikerec eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from spikerec.config import Recipe, load_recipe
from spikerec.errors import CheckpointError
from spikerec.io import write_json
from spikerec.training.checkpoint import load_checkpoint
from spikerec.training.distributed import DistInfo, resolve_device
from spikerec.training.evaluate import eval_loader, evaluate
from spikerec.training.metrics import plot_confusion
from spikerec.training.seeding import seed_everything
from spikerec.training.trainer import Trainer


def load_datasets(recipe: Recipe, data_dir: str | Path, download: bool = False) -> dict:
    """Frame datasets {"train", "val", "test"} as the recipe's ``[data]`` section describes."""
    from spikerec.datasets import build_frame_datasets

    d = recipe.data
    split = {"val_by": d.val_by} if d.val_by else {"val_fraction": d.val_fraction}
    return build_frame_datasets(data_dir, dataset=d.dataset, bin_ms=d.bin_ms, pool=d.pool,
                                max_duration_ms=d.max_duration_ms or None, binary=d.binary, seed=recipe.train.seed,
                                cache_dir=d.cache_dir or None, download=download, **split)


def train(recipe: Recipe, data_dir: str | Path, run_dir: str | Path, *, resume: bool = False, download: bool = False,
          progress: bool = True) -> dict[str, Any]:
    """Train ``recipe`` on the data in ``data_dir``; write checkpoints, metrics and summary to ``run_dir``.

    Returns the summary dict (``val_accuracy``, ``test_accuracy``, ``epochs``, ``seconds``, ...).
    """
    from spikerec.models import build_model

    seed_everything(recipe.train.seed)
    datasets = load_datasets(recipe, data_dir, download)
    train_set = datasets["train"]
    seed_everything(recipe.train.seed)  # model init must not depend on how much RNG data loading used
    model = build_model(recipe, train_set.n_channels, train_set.n_classes)
    trainer = Trainer(model, recipe, datasets, run_dir, n_classes=train_set.n_classes, progress=progress,
                      val_source=getattr(datasets.get("val"), "val_source", ""))
    return trainer.fit(resume=resume)


def load_run_model(run_dir: str | Path, data_dir: str | Path,
                   device: str = "cpu") -> tuple[nn.Module, Recipe, dict]:
    """The selected model (``best.pt``) of a run written by :func:`train` in eval mode, its recipe and datasets.

    The run's own ``recipe.toml`` decides the architecture and how the data in ``data_dir`` is binned.
    """
    from spikerec.models import build_model

    run_dir = Path(run_dir)
    if not (run_dir / "recipe.toml").exists():
        raise CheckpointError(f"{run_dir}: no recipe.toml; is this a run directory written by 'spikerec train'?")
    recipe = load_recipe(run_dir / "recipe.toml")
    datasets = load_datasets(recipe, data_dir)
    train_set = datasets["train"]
    model = build_model(recipe, train_set.n_channels, train_set.n_classes)
    model.load_state_dict(load_checkpoint(run_dir / "best.pt", map_location=resolve_device(device))["model"])
    return model.to(resolve_device(device)).eval(), recipe, datasets


def evaluate_run(run_dir: str | Path, data_dir: str | Path, split: str = "test", device: str = "auto",
                 integer_delays: bool | None = None) -> dict[str, Any]:
    """Accuracy of a run's selected model (``best.pt``) on ``split``, using the run's own recipe.

    Writes ``confusion_{split}.png`` into ``run_dir``; integer delays unless the recipe says otherwise.
    """
    from spikerec.datasets import pad_collate

    run_dir = Path(run_dir)
    model, recipe, datasets = load_run_model(run_dir, data_dir, device)
    dataset = datasets[split]
    if len(dataset) == 0:
        raise CheckpointError(f"{data_dir}: split '{split}' is empty; choose another --split")
    target = resolve_device(device)
    use_integer = recipe.delays.integer_eval if integer_delays is None else integer_delays
    loader = eval_loader(dataset, recipe.train.batch_size, pad_collate, DistInfo())
    result = evaluate(model, loader, dataset.n_classes, target, integer_delays=use_integer)
    confusion_png = run_dir / f"confusion_{split}.png"
    plot_confusion(confusion_png, result["confusion"], f"{recipe.name}: {split} accuracy {result['accuracy']:.4f}")
    report = {"accuracy": result["accuracy"], "loss": result["loss"], "n": result["n"], "split": split,
              "integer_delays": use_integer, "confusion": result["confusion"], "confusion_png": str(confusion_png),
              "run_dir": str(run_dir)}
    write_json(run_dir / f"eval_{split}.json", report)
    return report
