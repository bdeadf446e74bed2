"""``spikerec prune --run``: synapse-prune a trained run, fine-tune it, and write an ordinary run directory.

``prune_run(RUN_DIR, method, sparsity, DATA_DIR, finetune_epochs, OUT)`` loads the run's selected model
(``best.pt``), prunes ``sparsity`` of its synapses (:func:`~spikerec.pruning.synapse_pruning.prune_synapses`),
and fine-tunes it with the project trainer under the run's own recipe (``train.epochs`` = ``finetune_epochs``,
the delay layers' sigma kept at its trained value, any ``overrides``). The pruned synapses are masked
(:mod:`spikerec.models.synapse_masks`), so they stay pruned and the checkpoints carry the masks. ``OUT``
holds what ``spikerec train`` writes (recipe.toml, best.pt, last.pt, metrics, curves.png, summary.json), the
run's ``hrsnn.json`` when it has one, and ``pruning.json`` (the pruning report, the source run's accuracy,
the accuracy right after pruning and after fine-tuning); ``spikerec eval``, ``export``, ``simulate`` and
``energy`` work on it as on any run. With ``finetune_epochs = 0`` the pruned model is evaluated as it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from spikerec.config import Recipe, apply_overrides
from spikerec.errors import ConfigError
from spikerec.io import write_json

__all__ = ["prune_run", "finetune_recipe"]


def finetune_recipe(recipe: Recipe, model, epochs: int, overrides: list[str] | None = None) -> Recipe:
    """The run's recipe for fine-tuning: ``epochs`` epochs, delay sigma held at the model's trained value (the
    recipe's annealing would otherwise restart from a wide Gaussian), then ``overrides`` (``section.key=value``)."""
    from spikerec.delays import delay_layers

    changes = [f"train.epochs={epochs}"]
    layers = delay_layers(model)
    if layers:
        sigma = layers[0][1].sigma
        if sigma <= 0:
            raise ConfigError("the run's delay layers have sigma 0, which a recipe cannot hold (delays.sigma_start = 0 "
                              "means max_delay_steps // 2); fine-tune with --set delays.sigma_start=... explicitly")
        changes += [f"delays.sigma_start={sigma!r}", f"delays.sigma_final={sigma!r}"]
    return apply_overrides(recipe, changes + list(overrides or []))


def _source_accuracy(run_dir: Path) -> dict[str, Any]:
    """val/test accuracy of the run being pruned, from its summary.json (None when it has none)."""
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text()) if path.exists() else {}
    return {"val_accuracy": summary.get("val_accuracy"), "test_accuracy": summary.get("test_accuracy")}


def prune_run(run_dir: str | Path, method: str, sparsity: float, data_dir: str | Path, finetune_epochs: int,
              out: str | Path, *, overrides: list[str] | None = None, seed: int = 0, lnp_config=None,
              checkpoint: str = "best", progress: bool = True) -> dict[str, Any]:
    """Prune, fine-tune and evaluate a run into ``out`` (see the module docstring); returns the fine-tuned run's
    summary (``val_accuracy``, ``test_accuracy``, ...) with the pruning figures (``synapse_sparsity``,
    ``synapses_before``/``after``) and the accuracies before pruning (``dense_*``) and before fine-tuning
    (``pruned_*``)."""
    from spikerec.config import recipe_to_dict, save_recipe
    from spikerec.models.walk import layer_modules
    from spikerec.pruning.synapse_pruning import prune_synapses
    from spikerec.training.checkpoint import save_checkpoint
    from spikerec.training.runs import load_datasets, load_run_model
    from spikerec.training.seeding import seed_everything
    from spikerec.training.trainer import Trainer

    run_dir, out = Path(run_dir), Path(out)
    if finetune_epochs < 0:
        raise ConfigError(f"--finetune-epochs must be >= 0, got {finetune_epochs}")
    if out.resolve() == run_dir.resolve():
        raise ConfigError(f"--out {out} is the run being pruned; write the pruned run to a new directory")
    model, recipe = load_run_model(run_dir, checkpoint)
    tuned = finetune_recipe(recipe, model, finetune_epochs, overrides) if finetune_epochs else recipe
    seed_everything(tuned.train.seed)
    datasets = load_datasets(tuned, data_dir)
    train_set = datasets["train"]
    layers = layer_modules(model)
    n_inputs, n_classes = layers[0][2].synapse.in_features, layers[-1][2].synapse.out_features
    if (train_set.n_channels, train_set.n_classes) != (n_inputs, n_classes):
        raise ConfigError(f"{data_dir}: the data have {train_set.n_channels} channels and {train_set.n_classes} "
                          f"classes, the run's network reads {n_inputs} channels into {n_classes} classes; use the "
                          f"data directory the run was trained on")
    report = prune_synapses(model, method, sparsity, seed=seed, lnp_config=lnp_config)
    if progress:
        print(f"prune: {method} kept {report['synapses_after']} of {report['synapses_before']} synapses "
              f"(sparsity {report['synapse_sparsity']:.3f}); fine-tuning {finetune_epochs} epochs", file=sys.stderr,
              flush=True)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "save_config"):  # an HRSNN: the run directory describes its network
        model.save_config(out)
    trainer = Trainer(model, tuned, datasets, out, n_classes=train_set.n_classes, progress=progress,
                      val_source=getattr(datasets.get("val"), "val_source", ""))
    pruned = {f"pruned_{split}_accuracy": trainer.evaluate_split(split)["accuracy"] if len(datasets.get(split) or [])
              else None for split in ("val", "test")}
    if finetune_epochs:
        summary = trainer.fit()
    else:
        save_recipe(tuned, out / "recipe.toml")
        save_checkpoint(out / "best.pt", {"epoch": None, "model": model.state_dict(), "recipe": recipe_to_dict(tuned)})
        summary = trainer.finish()
    dense = {f"dense_{k}": v for k, v in _source_accuracy(run_dir).items()}
    record = {"source_run": str(run_dir), "checkpoint": checkpoint, "finetune_epochs": finetune_epochs,
              "overrides": list(overrides or []), **report, **dense, **pruned,
              "val_accuracy": summary["val_accuracy"], "test_accuracy": summary["test_accuracy"]}
    write_json(out / "pruning.json", record)
    return {**summary, **{k: record[k] for k in ("method", "target_sparsity", "synapse_sparsity", "synapses_before",
                                                 "synapses_after", "finetune_epochs", "source_run")},
            **dense, **pruned, "matrices": report["matrices"], "run_dir": str(out)}
