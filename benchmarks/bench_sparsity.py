"""Accuracy against synapse sparsity for the delay SNN, with synaptic operations and energy per sample beside it.

One delay SNN is trained on the synthetic ``shd`` set (``spikerec data synth --kind shd``: 20 classes, the
SHD file layout) with the ``synthetic`` recipe (one hidden layer, learned delays, BatchNorm). Then, for every
sparsity S in ``--sparsities`` and every method in ``--methods``, ``spikerec prune --run`` does what a user
does: prune S of every weight matrix's synapses (:func:`spikerec.pruning.prune_run.prune_run`), fine-tune
``--finetune-epochs`` epochs with the pruned synapses masked, and write an ordinary run directory. Each row
reports the test accuracy right after pruning and after fine-tuning, the synapses left in the exported
Network IR (``spikerec export --format network``), and the measured workload and energy on the test set
(``spikerec energy``: synaptic operations per sample, memory-inclusive joules per sample on each hardware
model). S = 0 is the dense network fine-tuned for the same epochs, so every one-shot row has had the same training.
Method ``gradual`` is magnitude pruning in steps along ``--sparsities``: each step prunes the previous step's
fine-tuned run (``spikerec prune --run PREVIOUS``; masks only narrow) to the next sparsity and fine-tunes it
``--finetune-epochs`` epochs, so its row at step k has had k times the fine-tuning (``finetune_epochs_total``).

Writes ``benchmarks/results/sparsity.json`` (+ ``.md``) and ``docs/sparsity.png``.

Run: ``nice -n 10 .venv/bin/python -m benchmarks.bench_sparsity`` (about 12 min on 2 loaded cores with the
defaults, ``--threads 1``); ``--from-results`` redraws the plot from the stored JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS_DIR, set_threads, write_result

NAME = "sparsity"
PLOT = Path(__file__).resolve().parents[1] / "docs" / "sparsity.png"
HARDWARE = "digital-45nm"  # the hardware model whose energy the plot shows (every model's is in the JSON)


def _train_dense(data_dir: Path, out: Path, args) -> dict:
    from spikerec.config import load_recipe
    from spikerec.training import train

    recipe = load_recipe("synthetic", [f"train.epochs={args.epochs}", f"model.hidden_sizes=[{args.hidden}]",
                                       f"train.seed={args.seed}"])
    return train(recipe, data_dir, out, progress=False)


def _measure(run_dir: Path, data_dir: Path) -> dict:
    """Exported synapses, synaptic operations and energy per test sample of a run."""
    from spikerec.hardware.energy.measure import run_energy
    from spikerec.hardware.ir.export import export_run

    network = export_run(run_dir, "network", run_dir / "network.h5")["network"]
    report = run_energy(run_dir, data_dir, out_dir=run_dir / "energy")
    return {"exported_synapses": network["n_synapses"], "synaptic_ops": report["synaptic_ops"],
            "joules": {h: v["memory_inclusive_joules"] for h, v in report["hardware"].items()}}


def run(args) -> tuple[list[dict], dict]:
    from spikerec.datasets import synthesize
    from spikerec.pruning.prune_run import prune_run

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_sparsity_"))
    data_dir = work / "data"
    synthesize("shd", data_dir, n_train=args.n_train, n_test=args.n_test, seed=args.seed)
    t0 = time.perf_counter()
    dense = _train_dense(data_dir, work / "dense", args)
    print(f"dense: test accuracy {dense['test_accuracy']:.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    dense_synapses = _measure(work / "dense", data_dir)["exported_synapses"]
    rows = []
    for method in args.methods:
        source, done, step = work / "dense", 0.0, 0  # gradual: the previous step's run and its sparsity
        for sparsity in sorted(args.sparsities):
            if sparsity == 0 and method != args.methods[0]:
                continue  # S = 0 prunes nothing: one row serves every method
            out = work / f"{method}-{sparsity:g}"
            t0 = time.perf_counter()
            if method == "gradual":  # prune the share of the remaining synapses that takes the network to `sparsity`
                result = prune_run(source, "magnitude", 1.0 - (1.0 - sparsity) / (1.0 - done), data_dir,
                                   args.finetune_epochs, out, seed=args.seed, progress=False)
                source, done, step = out, sparsity, step + 1
            else:
                result = prune_run(work / "dense", method, sparsity, data_dir, args.finetune_epochs, out,
                                   seed=args.seed, progress=False)
                step = 1
            row = {"method": method if sparsity else "dense", "target_sparsity": sparsity,
                   "synapse_sparsity": 1.0 - result["synapses_after"] / dense_synapses,
                   "synapses": result["synapses_after"], "finetune_epochs_total": step * args.finetune_epochs,
                   "pruned_test_accuracy": result["pruned_test_accuracy"], "test_accuracy": result["test_accuracy"],
                   "val_accuracy": result["val_accuracy"], **_measure(out, data_dir),
                   "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(f"{row['method']} {sparsity:g}: {row['synapses']} synapses, test {row['pruned_test_accuracy']:.3f} "
                  f"pruned -> {row['test_accuracy']:.3f} fine-tuned, {row['synaptic_ops']:.0f} SynOps/sample",
                  file=sys.stderr, flush=True)
    for row in rows:
        row["energy_uj"] = 1e6 * row["joules"][HARDWARE]
    return rows, dense


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    dense = [r for r in rows if r["method"] == "dense"]
    for method in sorted({r["method"] for r in rows} - {"dense"}):
        pts = sorted(dense + [r for r in rows if r["method"] == method], key=lambda r: r["target_sparsity"])
        x = [100 * r["synapse_sparsity"] for r in pts]
        line, = axes[0].plot(x, [100 * r["test_accuracy"] for r in pts], "o-", label=f"{method}, fine-tuned")
        axes[0].plot(x, [100 * r["pruned_test_accuracy"] for r in pts], "x--", color=line.get_color(),
                     label=f"{method}, before fine-tuning")
        axes[1].plot(x, [r["synaptic_ops"] for r in pts], "o-", label=method)
        axes[2].plot(x, [r["energy_uj"] for r in pts], "o-", label=method)
    for ax, ylabel in zip(axes, ("test accuracy (%)", "synaptic operations / sample",
                                 f"µJ / sample ({HARDWARE}, memory incl.)")):
        ax.set_xlabel("synapse sparsity (%)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Delay SNN on synthetic SHD: synapse pruning of a trained run (spikerec prune --run)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95])
    parser.add_argument("--methods", nargs="+", default=["magnitude", "random", "gradual"],
                        help="magnitude, random, lnp-scores (one-shot from the dense run) or gradual (magnitude in steps)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10, help="dense training epochs")
    parser.add_argument("--finetune-epochs", type=int, default=10, help="fine-tuning epochs per pruning step")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", help="directory for the data and runs (default: a new temporary directory)")
    parser.add_argument("--from-results", action="store_true", help="redraw the plot from the stored JSON")
    args = parser.parse_args(argv)
    if args.from_results:
        plot(json.loads((RESULTS_DIR / f"{NAME}.json").read_text())["rows"], PLOT)
        return 0
    set_threads(args.threads)
    rows, dense = run(args)
    config = {"data": f"synthetic shd ({args.n_train} train incl. validation / {args.n_test} test, 20 classes)",
              "model": f"delay_snn, recipe 'synthetic', hidden [{args.hidden}]", "dense_epochs": args.epochs,
              "dense_test_accuracy": dense["test_accuracy"], "finetune_epochs": args.finetune_epochs,
              "seed": args.seed, "threads": args.threads, "energy_column": HARDWARE}
    write_result(NAME, "Synapse pruning of a trained delay SNN: accuracy, SynOps and energy against sparsity", rows,
                 config, columns=["method", "synapse_sparsity", "synapses", "finetune_epochs_total",
                                  "pruned_test_accuracy", "test_accuracy", "synaptic_ops", "energy_uj"])
    plot(rows, PLOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
