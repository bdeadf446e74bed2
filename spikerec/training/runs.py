"""End-to-end entry points behind ``spikerec train`` and ``spikerec eval``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from spikerec.config import Recipe, load_recipe
from spikerec.errors import CheckpointError, ConfigError
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


def load_run_recipe(run_dir: str | Path) -> Recipe:
    """The resolved recipe a run directory was trained with (``RUN_DIR/recipe.toml``)."""
    path = Path(run_dir) / "recipe.toml"
    if not path.exists():
        raise CheckpointError(f"{run_dir}: no recipe.toml; is this a run directory written by 'spikerec train'?")
    return load_recipe(path)


def _io_sizes_from_state(run_dir: Path, recipe: Recipe, state: dict) -> tuple[int, int]:
    """(n_inputs, n_classes) of a stacked :class:`~spikerec.models.SpikingNetwork` from its weight shapes (a masked
    weight is stored as ``parametrizations.weight.original``)."""
    def weight(prefix: str):
        return state.get(f"{prefix}.weight", state.get(f"{prefix}.parametrizations.weight.original"))

    first, readout = weight("blocks.0.synapse"), weight("readout.synapse")
    if first is None or readout is None:
        raise ConfigError(f"{run_dir}: cannot infer the input and class counts of a {recipe.model.kind!r} model "
                          "from its checkpoint; pass sizes=(n_inputs, n_classes)")
    return int(first.shape[1]), int(readout.shape[0])


def build_run_model(run_dir: str | Path, recipe: Recipe, state: dict, sizes: tuple[int, int] | None = None) -> nn.Module:
    """The (untrained) model a run's checkpoint ``state`` fits: the network stored in the run directory
    (``hrsnn.json``, written by ``spikerec prune-train``: a pruned HRSNN's own size and structure) or else the
    recipe's, for ``sizes`` = (n_inputs, n_classes) (default: read off ``state``); with the synapse masks
    ``state`` holds (:mod:`spikerec.models.synapse_masks`). The one place a run's model is rebuilt."""
    from spikerec.models import build_model
    from spikerec.models.hrsnn import CONFIG_FILE, HRSNN
    from spikerec.models.synapse_masks import restore_masks

    run_dir = Path(run_dir)
    if (run_dir / CONFIG_FILE).exists():
        model = HRSNN(HRSNN.load_config(run_dir), initialize=False)
        stored = (model.config.n_inputs, model.config.n_outputs)
        if sizes is not None and tuple(sizes) != stored:
            raise ConfigError(f"{run_dir}: the run's network ({CONFIG_FILE}) reads {stored[0]} channels and has "
                              f"{stored[1]} classes, but the data have {sizes[0]} channels and {sizes[1]} classes; "
                              "check the data directory and the recipe's data settings")
    else:
        n_inputs, n_classes = sizes if sizes is not None else _io_sizes_from_state(run_dir, recipe, state)
        model = build_model(recipe, n_inputs, n_classes)
    restore_masks(model, state)
    return model


def load_run_model(run_dir: str | Path, checkpoint: str = "best", device: str = "cpu",
                   sizes: tuple[int, int] | None = None) -> tuple[nn.Module, Recipe]:
    """(model in eval mode, recipe) of a run directory written by :func:`train`, ``spikerec prune-train`` or
    ``spikerec prune --run``; no data needed.

    ``checkpoint`` is ``"best"`` (the selected epoch) or ``"last"``. ``sizes`` = (n_inputs, n_classes) is checked
    against, or (recipe-built models) used for, the model (:func:`build_run_model`).
    """
    run_dir = Path(run_dir)
    recipe = load_run_recipe(run_dir)
    target = resolve_device(device)
    state = load_checkpoint(run_dir / f"{checkpoint}.pt", map_location=target)["model"]
    model = build_run_model(run_dir, recipe, state, sizes)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{run_dir / f'{checkpoint}.pt'}: the checkpoint does not fit the model rebuilt from "
                              f"the run directory ({err})") from err
    return model.to(target).eval(), recipe


def run_trained_window(run_dir: str | Path) -> str:
    """How a run was trained: ``"sample windows"``, or ``"batch padding"`` for runs that predate sample windows
    (their ``summary.json`` has no ``window``: the loss then summed over each batch's padding steps)."""
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        return "unknown (no summary.json)"
    return "sample windows" if "window" in json.loads(path.read_text()) else "batch padding"


def evaluate_run(run_dir: str | Path, data_dir: str | Path, split: str = "test", device: str = "auto",
                 integer_delays: bool | None = None, batch_size: int | None = None) -> dict[str, Any]:
    """Accuracy of a run's selected model (``best.pt``) on ``split``, using the run's own recipe.

    Every sample is scored on its own window (:mod:`spikerec.window`), so ``batch_size`` (default: the
    recipe's) does not change the result. Writes ``confusion_{split}.png`` into ``run_dir``; integer
    delays unless the recipe says otherwise. ``window`` in the report states the semantics used and
    ``trained_with`` how the run was trained.
    """
    from spikerec.training.windows import window_collate, window_summary

    run_dir = Path(run_dir)
    recipe = load_run_recipe(run_dir)
    dataset = load_datasets(recipe, data_dir)[split]
    if len(dataset) == 0:
        raise CheckpointError(f"{data_dir}: split '{split}' is empty; choose another --split")
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    target = resolve_device(device)
    model, _ = load_run_model(run_dir, device=device, sizes=(dataset.n_channels, dataset.n_classes))
    use_integer = recipe.delays.integer_eval if integer_delays is None else integer_delays
    collate = window_collate(recipe, model)
    loader = eval_loader(dataset, batch_size or recipe.train.batch_size, collate, DistInfo())
    result = evaluate(model, loader, dataset.n_classes, target, integer_delays=use_integer)
    confusion_png = run_dir / f"confusion_{split}.png"
    plot_confusion(confusion_png, result["confusion"], f"{recipe.name}: {split} accuracy {result['accuracy']:.4f}")
    report = {"accuracy": result["accuracy"], "loss": result["loss"], "n": result["n"], "split": split,
              "integer_delays": use_integer, "batch_size": batch_size or recipe.train.batch_size,
              "window": window_summary(collate), "trained_with": run_trained_window(run_dir),
              "confusion": result["confusion"], "confusion_png": str(confusion_png), "run_dir": str(run_dir)}
    write_json(run_dir / f"eval_{split}.json", report)
    return report
