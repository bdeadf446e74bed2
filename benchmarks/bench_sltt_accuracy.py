"""Test accuracy of the ``shd-delays`` recipe trained with BPTT vs SLTT on synthetic SHD-layout data.

CPU-sized: ``spikerec data synth --kind shd`` data (700 channels pooled to 140, ``--classes`` classes,
``--train``/``--test`` samples), the ``shd-delays`` recipe with smaller hidden layers (``--hidden``), ``--epochs``
epochs (sigma annealed over the first quarter, as the recipe), batch 32; the two runs differ only in
``train.sltt`` (same data, seed, optimiser and schedules). Reported: test accuracy of the model selected on the
validation split (integer delays at evaluation) and training time, per seed (the seed draws the data set and
the run).

Run: ``.venv/bin/python -m benchmarks.bench_sltt_accuracy [--epochs 8] [--hidden 64] [--seeds 0 1]``;
the session's run: ``--epochs 6 --train 200 --test 100 --classes 5 --hidden 32 --seeds 0 1``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import harness

THREADS = 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    from spikerec.config import load_recipe
    from spikerec.datasets.synthetic import synthesize
    from spikerec.training import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:  # the seed draws the data set and the training run
            data = Path(tmp) / f"data-{seed}"
            synthesize("shd", data, n_train=args.train, n_test=args.test, n_classes=args.classes, seed=seed)
            pair = []
            for sltt in (False, True):
                recipe = load_recipe("shd-delays", [
                    f"model.hidden_sizes=[{args.hidden}, {args.hidden}]", f"train.epochs={args.epochs}",
                    "train.batch_size=32", f"train.seed={seed}", f"train.sltt={str(sltt).lower()}",
                    "data.cache_dir=" + str(Path(tmp) / f"cache-{seed}")])
                summary = train(recipe, data, Path(tmp) / f"run-{seed}-{sltt}", progress=False)
                row = {"seed": seed, "method": "SLTT" if sltt else "BPTT", "test_accuracy": summary["test_accuracy"],
                       "val_accuracy": summary["val_accuracy"], "train_s": summary["seconds"]}
                print(row, file=sys.stderr)
                pair.append(row)
            rows += pair
            rows.append({"seed": seed, "method": "SLTT - BPTT (points)",
                         "test_accuracy": round(100 * (pair[1]["test_accuracy"] - pair[0]["test_accuracy"]), 2)})
    harness.write_result(
        "sltt_accuracy", "shd-delays on synthetic SHD: BPTT vs SLTT (test accuracy, CPU-sized)", rows,
        {"classes": args.classes, "train": args.train, "test": args.test, "hidden": [args.hidden] * 2,
         "epochs": args.epochs, "batch": 32, "seeds": args.seeds, "threads": THREADS,
         "machine_load": "shared, loaded (2 cores, several engineers)"},
        columns=["seed", "method", "test_accuracy", "val_accuracy", "train_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
