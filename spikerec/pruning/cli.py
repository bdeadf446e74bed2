"""``spikerec prune --method lnp|activity|magnitude``."""

from __future__ import annotations

import argparse
import sys


def _prune(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from spikerec.cli import print_result
    from spikerec.errors import DataError, ShapeError
    from spikerec.models.hrsnn import HRSNN
    from spikerec.pruning.lnp import LNPConfig
    from spikerec.pruning.run import run_pruning, save_result

    torch.manual_seed(args.seed)
    model = HRSNN.load(args.model) if args.model else None
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
    p.add_argument("--inputs", help="activity baseline: task inputs as .npy [T, B, C] (default: noise)")
    p.add_argument("--neuron-sparsity", type=float, default=0.45,
                   help="lnp: share of neurons removed by betweenness; baselines: target neuron sparsity")
    p.add_argument("--synapse-sparsity", type=float, default=0.7, help="baselines: target synapse sparsity")
    p.add_argument("--trials", type=int, default=20, help="lnp: optuna trials for the timescale stage")
    p.add_argument("--out", help="directory for the pruned model, report.json and plots")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=_prune)
