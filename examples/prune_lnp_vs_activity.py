"""Lyapunov noise pruning (LNP) against activity pruning at the same sparsity, both then trained on
the task.

    python examples/prune_lnp_vs_activity.py --data data/synth --out runs/prune-example --neurons 128

LNP prunes a random heterogeneous recurrent SNN (HRSNN) without seeing any task data: noise drives
the network, and synapses, neurons and timescales are chosen from its covariance, centrality and
Lyapunov spectrum (docs/pruning.md). The activity baseline prunes the same dense network with the
firing rates it shows on the task's training inputs, at LNP's achieved neuron and synapse sparsity.
Each pruned network then gets a fresh input layer and readout and is trained with the `hrsnn-lnp`
recipe (`spikerec.pruning.train.train_pruned`; the pruning masks stay). Prints neurons, synapses
and test accuracy of each; writes both models, their training runs and comparison.json.
"""

from __future__ import annotations

from pathlib import Path

from _common import ensure_data, log, parser


def main() -> int:
    p = parser(__doc__, out_default="runs/prune-example")
    p.add_argument("--neurons", type=int, default=128, help="neurons of the dense HRSNN")
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    n_neurons, epochs, trials = (32, 1, 2) if args.quick else (args.neurons, args.epochs, 12)

    from spikerec.config import load_recipe
    from spikerec.datasets import pad_collate
    from spikerec.io import write_json
    from spikerec.models.hrsnn import HRSNN, HRSNNConfig
    from spikerec.pruning import LNPConfig
    from spikerec.pruning.run import run_pruning, save_result
    from spikerec.pruning.train import train_pruned
    from spikerec.training import load_datasets

    out = Path(args.out)
    data = ensure_data(args.data, args.seed)
    recipe = load_recipe("hrsnn-lnp", [f"train.epochs={epochs}", f"train.seed={args.seed}",
                                       f"model.hidden_sizes=[{n_neurons}]", "train.batch_size=32"])
    train_set = load_datasets(recipe, data)["train"]
    dense = HRSNN(HRSNNConfig(n_inputs=train_set.n_channels, n_neurons=n_neurons, dt_ms=recipe.data.bin_ms,
                              seed=args.seed))

    log(f"LNP on a random {n_neurons}-neuron HRSNN (noise only, no task data)")
    lnp = run_pruning("lnp", dense, seed=args.seed, lnp_config=LNPConfig(seed=args.seed, timescale_trials=trials))
    neuron_sparsity, synapse_sparsity = lnp.report["neuron_sparsity"], lnp.report["synapse_sparsity"]
    log(f"activity pruning of the same network on task inputs at neuron sparsity {neuron_sparsity:.3f}, "
        f"synapse sparsity {synapse_sparsity:.3f}")
    frames = pad_collate([train_set[i] for i in range(min(64, len(train_set)))]).frames
    activity = run_pruning("activity", dense, seed=args.seed, inputs=frames, neuron_sparsity=neuron_sparsity,
                           synapse_sparsity=synapse_sparsity)

    results = {}
    for name, pruned in (("lnp", lnp), ("activity", activity)):
        save_result(pruned, out / name)
        log(f"training the {name}-pruned network ({epochs} epochs)")
        summary = train_pruned(out / name, recipe, data, out / f"run-{name}", progress=not args.quick)
        results[name] = {"neurons": summary["neurons"], "synapses": summary["synapses"],
                         "neuron_sparsity": pruned.report["neuron_sparsity"],
                         "synapse_sparsity": pruned.report["synapse_sparsity"],
                         "lyapunov_max_after": pruned.report["lyapunov_max_after"],
                         "val_accuracy": summary["val_accuracy"], "test_accuracy": summary["test_accuracy"]}
    write_json(out / "comparison.json", {"dense_neurons": n_neurons, **results})

    print(f"{'method':<10} {'neurons':>8} {'synapses':>9} {'synapse sparsity':>17} {'max Lyapunov (1/ms)':>20} "
          f"{'test accuracy':>14}")
    for name, r in results.items():
        print(f"{name:<10} {r['neurons']:>8} {r['synapses']:>9} {r['synapse_sparsity']:>17.3f} "
              f"{r['lyapunov_max_after']:>20.4f} "
              f"{r['test_accuracy']:>14.4f}")
    print(f"wrote {out / 'comparison.json'}, the pruned models in {out / 'lnp'} and {out / 'activity'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
