"""Sample windows: the ``shd-delays`` recipe on the synthetic ``shd`` set, evaluated at batch 1 and batch 256.

With sample windows (``spikerec.window``) each sample is read from its own frames plus a drain of
``D`` steps (the network's end-to-end delay), so ``spikerec eval`` at batch 256, ``eval --batch-size 1``
and the event simulator at batch 1 and 64 must report the same test accuracy: this benchmark checks
that on a trained model and reports what the drain costs in time steps.

The negative control reproduces the semantics spikerec had before: the same recipe trained and
evaluated on batches padded to their longest sample, the readout summed over every padded step
(no window, no drain). Its accuracy at batch 1 (what streaming hardware sees) against batch 256 shows
what the windows fix.

The recipe is shd-delays (2 x 256, delays up to 250 ms) with fewer epochs than the paper's 150, on the
synthetic SHD-like set (20 classes, utterances 0.3-1.5 s, disjoint speakers).

Run: ``.venv/bin/python -m benchmarks.bench_window [--epochs 20] [--no-control]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import harness

THREADS = 2


def _padded_batch(items):
    """The old semantics: (frames padded to the batch's longest sample, labels) and no window, so the loss and
    the prediction sum the readout over every padded step."""
    from spikerec.datasets import pad_collate

    return tuple(pad_collate(items)[:2])


def _legacy_accuracy(model, dataset, batch_size: int, n_classes: int) -> float:
    import torch
    from torch.utils.data import DataLoader

    from spikerec.training.evaluate import evaluate

    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=_padded_batch)
    return evaluate(model, loader, n_classes, torch.device("cpu"))["accuracy"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-control", action="store_true", help="skip the padded-batch negative control")
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    import numpy as np

    from spikerec.config import load_recipe
    from spikerec.datasets import synthesize
    from spikerec.hardware.ir.load import network_data_loader, network_from_run
    from spikerec.hardware.simulators.agreement import simulate_event
    from spikerec.models import build_model
    from spikerec.training import evaluate_run, load_datasets, train
    from spikerec.training.runs import load_run_model
    from spikerec.training.seeding import seed_everything
    from spikerec.training.trainer import Trainer
    from spikerec.training.windows import window_collate

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data, run = Path(tmp) / "data", Path(tmp) / "run"
        synthesize("shd", data, seed=args.seed)
        recipe = load_recipe("shd-delays", [f"train.epochs={args.epochs}", f"train.seed={args.seed}"])
        summary = train(recipe, data, run, progress=False)
        print(f"trained: test {summary['test_accuracy']:.4f} ({summary['seconds']:.0f} s)", file=sys.stderr)
        test = load_datasets(recipe, data)["test"]
        model, _ = load_run_model(run)
        drain = window_collate(recipe, model).drain_steps
        lengths = test.lengths
        for batch in (256, 1):
            r = evaluate_run(run, data, batch_size=batch)
            rows.append({"semantics": "sample windows", "command": f"spikerec eval --batch-size {batch}",
                         "batch_size": batch, "test_accuracy": r["accuracy"]})
        net = network_from_run(run)
        for batch in (64, 1):
            r = simulate_event(net, network_data_loader(net, str(data), "test", batch_size=batch), str(run))
            rows.append({"semantics": "sample windows", "command": f"spikerec simulate --backend event --batch-size {batch}",
                         "batch_size": batch, "test_accuracy": r["accuracy"], "agreement": r["agreement"]})
        if not args.no_control:
            seed_everything(args.seed)
            datasets = load_datasets(recipe, data)
            seed_everything(args.seed)
            legacy = build_model(recipe, datasets["train"].n_channels, datasets["train"].n_classes)
            Trainer(legacy, recipe, datasets, Path(tmp) / "legacy", n_classes=test.n_classes,
                    collate_fn=_padded_batch, progress=False).fit()
            for batch in (256, 1):
                rows.append({"semantics": "padded batches (before)", "command": f"evaluate, batch {batch}",
                             "batch_size": batch,
                             "test_accuracy": _legacy_accuracy(legacy.eval(), test, batch, test.n_classes)})
    harness.write_result(
        "window", "Sample windows: shd-delays on the synthetic shd set, same accuracy at every batch size", rows,
        {"recipe": "shd-delays", "epochs": args.epochs, "data": "synthetic shd (1000 train / 300 test, 20 classes)",
         "drain_steps": drain, "mean_frames": float(np.mean(lengths)), "min_frames": int(lengths.min()),
         "max_frames": int(lengths.max()), "mean_window_steps": float(np.mean(lengths + drain)),
         "drain_cost": f"{drain} steps per sample = {100 * drain / float(np.mean(lengths)):.0f} % more steps "
                       f"than the mean utterance", "threads": THREADS},
        columns=["semantics", "command", "batch_size", "test_accuracy", "agreement"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
