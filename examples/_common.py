"""Shared pieces of the example scripts: the command-line options every script has, progress
logging to stderr, synthetic data when none is given, and a small trained delay SNN."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parser(doc: str, out_default: str, data_default: str = "data/synth") -> argparse.ArgumentParser:
    """``--data``, ``--out``, ``--quick`` and ``--seed``; the script's docstring is the help text."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=data_default,
                   help="directory with shd_train.h5 / shd_test.h5 (synthetic ones are written if missing)")
    p.add_argument("--out", default=out_default, help="output directory")
    p.add_argument("--quick", action="store_true", help="tiny sizes and one epoch (smoke test)")
    p.add_argument("--seed", type=int, default=0)
    return p


def log(message: str) -> None:
    print(f"[example] {message}", file=sys.stderr, flush=True)


def ensure_data(data_dir: str | Path, seed: int = 0) -> Path:
    """Use the SHD-layout files in ``data_dir``; write synthetic ones there if there are none."""
    from spikerec.datasets import synthesize

    data_dir = Path(data_dir)
    if not (data_dir / "shd_train.h5").is_file():
        log(f"no shd_train.h5 in {data_dir}: writing synthetic SHD-like data there")
        synthesize("shd", data_dir, seed=seed)
    return data_dir


def small_recipe(quick: bool, seed: int = 0, extra: tuple[str, ...] = ()):
    """The ``synthetic`` recipe (one hidden layer of LIF neurons with learnable delays), smaller with ``quick``."""
    from spikerec.config import load_recipe

    sizes = ["train.epochs=1", "model.hidden_sizes=[16]"] if quick else []
    return load_recipe("synthetic", [*sizes, f"train.seed={seed}", *extra])


def train_small(data_dir: Path, run_dir: Path, quick: bool, seed: int = 0, extra: tuple[str, ...] = ()):
    """Train :func:`small_recipe` into ``run_dir``; returns (summary, model in eval mode, recipe)."""
    from spikerec.training import load_run_model, train

    summary = train(small_recipe(quick, seed, extra), data_dir, run_dir, progress=not quick)
    log(f"trained {run_dir}: val accuracy {summary['val_accuracy']:.3f}, test accuracy {summary['test_accuracy']:.3f}")
    model, recipe = load_run_model(run_dir)
    return summary, model, recipe


def trained_or_loaded(args) -> tuple:
    """(model, recipe) of ``args.run`` if given, else of a small model trained into ``args.out/run``."""
    from spikerec.training import load_run_model

    if getattr(args, "run", None):
        log(f"loading the trained model of {args.run}")
        return load_run_model(args.run)
    _, model, recipe = train_small(ensure_data(args.data, args.seed), Path(args.out) / "run", args.quick, args.seed)
    return model, recipe


def test_batch(recipe, data_dir: str | Path, max_samples: int, drain_steps: int = 0):
    """The first ``max_samples`` test samples as one batch of sample windows (each sample's frames, then
    ``drain_steps`` empty steps): a ``Batch(frames [T, B, C], labels [B], window [B], lengths [B])``."""
    from spikerec.datasets import WindowCollate
    from spikerec.training import load_datasets

    test = load_datasets(recipe, data_dir)["test"]
    return WindowCollate(drain_steps=drain_steps)([test[i] for i in range(min(max_samples, len(test)))])
