"""Test accuracy of the ``shd-delays`` recipe trained with BPTT vs SLTT on synthetic SHD-layout data.

CPU-sized: ``spikerec data synth --kind shd`` data (700 channels pooled to 140, ``--classes`` classes,
``--train``/``--test`` samples), the ``shd-delays`` recipe with smaller hidden layers (``--hidden``), ``--epochs``
epochs (sigma annealed over the first quarter, as the recipe), batch 32; the two runs differ only in
``train.sltt`` (same data, seed, optimiser and schedules). Reported: test accuracy of the model selected on the
validation split (integer delays at evaluation) and training time.

Run: ``.venv/bin/python -m benchmarks.bench_sltt_accuracy [--epochs 8] [--hidden 64]``.
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
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    from spikerec.config import load_recipe
    from spikerec.datasets.synthetic import synthesize
    from spikerec.training import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        synthesize("shd", data, n_train=args.train, n_test=args.test, n_classes=args.classes, seed=args.seed)
        for sltt in (False, True):
            recipe = load_recipe("shd-delays", [
                f"model.hidden_sizes=[{args.hidden}, {args.hidden}]", f"train.epochs={args.epochs}",
                "train.batch_size=32", f"train.seed={args.seed}", f"train.sltt={str(sltt).lower()}",
                "data.cache_dir=" + str(Path(tmp) / "cache")])
            summary = train(recipe, data, Path(tmp) / f"run-{sltt}", progress=False)
            row = {"method": "SLTT" if sltt else "BPTT", "test_accuracy": summary["test_accuracy"],
                   "val_accuracy": summary["val_accuracy"], "train_s": summary["seconds"]}
            print(row, file=sys.stderr)
            rows.append(row)
    rows.append({"method": "SLTT - BPTT (points)",
                 "test_accuracy": round(100 * (rows[1]["test_accuracy"] - rows[0]["test_accuracy"]), 2)})
    harness.write_result(
        "sltt_accuracy", "shd-delays on synthetic SHD: BPTT vs SLTT (test accuracy, CPU-sized)", rows,
        {"classes": args.classes, "train": args.train, "test": args.test, "hidden": [args.hidden] * 2,
         "epochs": args.epochs, "batch": 32, "seed": args.seed, "threads": THREADS,
         "machine_load": "shared, loaded (2 cores, several engineers)"},
        columns=["method", "test_accuracy", "val_accuracy", "train_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
