"""``spikerec prune --method lnp|activity|magnitude``."""

from __future__ import annotations

import argparse
import sys


def _prune(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from spikerec.io import print_result
    from spikerec.errors import DataError, ShapeError
    from spikerec.models.hrsnn import HRSNN, HRSNNConfig
    from spikerec.pruning.lnp import LNPConfig
    from spikerec.pruning.run import run_pruning, save_result

    torch.manual_seed(args.seed)
    if args.model:
        model = HRSNN.load(args.model)
    else:
        model = HRSNN(HRSNNConfig(n_neurons=args.neurons, dt_ms=args.dt_ms, seed=args.seed))
    inputs = None
    if args.inputs:
        try:
            inputs = torch.from_numpy(np.load(args.inputs)).float()
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read inputs ({err}); expected a .npy array [T, B, C]", path=args.inputs) from err
        if inputs.dim() != 3:
            raise ShapeError(f"{args.inputs}: inputs must be [T, B, C], got {tuple(inputs.shape)}")
    if not args.json:
        print(f"prune: method={args.method} ...", file=sys.stderr)
    lnp_config = LNPConfig(seed=args.seed, neuron_fraction=args.neuron_sparsity, timescale_trials=args.trials)
    result = run_pruning(args.method, model=model, n_neurons=args.neurons, seed=args.seed, inputs=inputs,
                         neuron_sparsity=args.neuron_sparsity, synapse_sparsity=args.synapse_sparsity,
                         lnp_config=lnp_config)
    rep = result.report
    summary = {key: rep[key] for key in ("neuron_sparsity", "synapse_sparsity", "lyapunov_max_before",
                                         "lyapunov_max_after", "spectral_radius_before", "spectral_radius_after")}
    summary.update({"method": args.method, "neurons_before": rep["before"]["neurons"],
                    "neurons_after": rep["after"]["neurons"], "synapses_before": rep["before"]["synapses"],
                    "synapses_after": rep["after"]["synapses"], "seed": args.seed})
    if args.out:
        summary["files"] = {k: str(v) for k, v in save_result(result, args.out).items()}
    human = (f"{args.method}: neurons {summary['neurons_before']} -> {summary['neurons_after']} "
             f"(sparsity {summary['neuron_sparsity']:.2f}), synapses {summary['synapses_before']} -> "
             f"{summary['synapses_after']} (sparsity {summary['synapse_sparsity']:.2f}), lambda_max "
             f"{summary['lyapunov_max_before']:.4f} -> {summary['lyapunov_max_after']:.4f} 1/ms"
             + (f"; saved to {args.out}" if args.out else ""))
    print_result(summary, args.json, human)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("prune", help="prune a heterogeneous recurrent SNN (LNP or a baseline)",
                              description="Prune an HRSNN. lnp is task-agnostic: without --model it builds a "
                                          "random HRSNN (--neurons) and prunes it using noise only.")
    p.add_argument("--method", choices=("lnp", "activity", "magnitude"), default="lnp")
    p.add_argument("--neurons", type=int, default=200, help="size of the random HRSNN built when no --model")
    p.add_argument("--model", help="directory with hrsnn.pt + hrsnn.json (HRSNN.save)")
    p.add_argument("--dt-ms", type=float, default=1.0,
                   help="time step of the random HRSNN built when no --model (use the data's bin_ms to train it)")
    p.add_argument("--inputs", help="activity baseline: task inputs as .npy [T, B, C] (default: noise)")
    p.add_argument("--neuron-sparsity", type=float, default=0.45,
                   help="lnp: share of neurons removed by betweenness; baselines: target neuron sparsity")
    p.add_argument("--synapse-sparsity", type=float, default=0.7, help="baselines: target synapse sparsity")
    p.add_argument("--trials", type=int, default=20, help="lnp: optuna trials for the timescale stage")
    p.add_argument("--out", help="directory for the pruned model, report.json and plots")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=_prune)

    t = subparsers.add_parser("prune-train", help="train a pruned HRSNN (spikerec prune --out) with a recipe",
                              description="Give the pruned HRSNN an input layer and readout for the data set and "
                                          "train it with the project trainer (the pruned structure is kept).")
    t.add_argument("--model", required=True, help="directory written by 'spikerec prune --out'")
    t.add_argument("--recipe", default="hrsnn-lnp", help="recipe name or TOML path (default hrsnn-lnp)")
    t.add_argument("--data", required=True, help="directory with {dataset}_train.h5 / _test.h5")
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="recipe override, repeatable")
    t.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    t.set_defaults(func=_prune_train)


def _prune_train(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.config import load_recipe
    from spikerec.pruning.train import train_pruned

    recipe = load_recipe(args.recipe, list(args.set or []))
    summary = train_pruned(args.model, recipe, args.data, args.out, progress=not args.json)
    summary["run_dir"] = args.out
    print_result(summary, args.json, f"pruned HRSNN ({summary['neurons']} neurons, {summary['synapses']} synapses): "
                                     f"test accuracy {summary['test_accuracy']:.4f} -> {args.out}")
    return 0
