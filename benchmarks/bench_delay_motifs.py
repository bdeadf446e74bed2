"""Learned delays vs the same network without delays on ``delay-motifs`` synthetic data.

``spikerec data synth --kind delay-motifs``: four channel groups each fire one synchronous volley;
the class is ONLY the order of the volleys' relative offsets (0/40/80/120 ms permuted), so spike
counts per channel carry no information and a feedforward LIF network with ~10 ms membranes cannot
integrate across the 40 ms gaps. Learnable delays can shift the volleys into coincidence.

Both runs use the ``synthetic`` recipe (1 hidden layer of 64 LIF neurons, 150 ms max delay) and
differ only in ``model.delays``; same data, seeds, epochs and optimiser settings. Reported: test
accuracy of the model selected on the validation split (integer delays at evaluation), per seed.

Run: ``.venv/bin/python -m benchmarks.bench_delay_motifs [--epochs 10] [--seeds 0 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks import harness

THREADS = 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    from spikerec.config import load_recipe
    from spikerec.datasets.synthetic import DEFAULT_SIZES, synthesize
    from spikerec.training import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        synthesize("delay-motifs", data, seed=0)
        for delays in (True, False):
            accs, seconds = [], []
            for seed in args.seeds:
                recipe = load_recipe("synthetic", [f"model.delays={str(delays).lower()}", f"train.epochs={args.epochs}",
                                                   f"train.seed={seed}", "data.cache_dir=" + str(Path(tmp) / "cache")])
                summary = train(recipe, data, Path(tmp) / f"run-{delays}-{seed}", progress=False)
                accs.append(summary["test_accuracy"])
                seconds.append(summary["seconds"])
                print(f"delays={delays} seed={seed}: val {summary['val_accuracy']:.3f} test "
                      f"{summary['test_accuracy']:.3f} ({summary['seconds']:.0f} s)", file=sys.stderr)
            rows.append({"model": "learned delays" if delays else "no delays (same network)",
                         "test_accuracy_mean": statistics.mean(accs),
                         "test_accuracy_per_seed": " ".join(f"{a:.3f}" for a in accs),
                         "train_s_per_run": statistics.mean(seconds)})
    n_classes, sizes = DEFAULT_SIZES["delay-motifs"]
    harness.write_result(
        "delay_motifs", "Learned delays vs no delays on delay-motifs synthetic data (test accuracy)", rows,
        {"classes": n_classes, "train": sizes["train"], "test": sizes["test"], "epochs": args.epochs,
         "seeds": args.seeds, "recipe": "synthetic", "threads": THREADS},
        columns=["model", "test_accuracy_mean", "test_accuracy_per_seed", "train_s_per_run"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
