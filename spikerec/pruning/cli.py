"""``spikerec prune`` (an HRSNN with lnp|random|activity|magnitude, or with ``--run`` the synapses of a trained run
with magnitude|lnp-scores|random) and ``spikerec prune-train``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _baseline_targets(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """(neuron, synapse) sparsity for a baseline: ``--match REPORT`` (an LNP report.json) or the flags."""
    from spikerec.errors import ConfigError, DataError

    if not args.match:
        return args.neuron_sparsity, args.synapse_sparsity
    if args.neuron_sparsity is not None or args.synapse_sparsity is not None:
        raise ConfigError("give either --match or --neuron-sparsity/--synapse-sparsity, not both")
    try:
        report = json.loads(Path(args.match).read_text())
        return float(report["neuron_sparsity"]), float(report["synapse_sparsity"])
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"cannot read neuron_sparsity and synapse_sparsity ({err}); expected a report.json written "
                        f"by 'spikerec prune --out'", path=args.match) from err


def _summary(method: str, report: dict, seed: int) -> dict:
    """The CLI's JSON: sparsities, counts, lambda_max with intervals before/after, per-stage effects."""
    summary = {key: report[key] for key in ("neuron_sparsity", "synapse_sparsity", "lyapunov_max_before",
                                            "lyapunov_max_after", "lyapunov_ci_before", "lyapunov_ci_after",
                                            "spectral_radius_before", "spectral_radius_after")}
    summary.update({"method": method, "neurons_before": report["before"]["neurons"],
                    "neurons_after": report["after"]["neurons"], "synapses_before": report["before"]["synapses"],
                    "synapses_after": report["after"]["synapses"], "lyapunov_method": report["before"]["lyapunov"]["method"],
                    "confidence": report["before"]["lyapunov"]["confidence"], "seed": seed})
    if "lyapunov_difference_ci" in report:
        summary["lyapunov_difference_ci"] = report["lyapunov_difference_ci"]
    if report.get("stages"):
        summary["equivalence_margin"] = report["equivalence_margin"]
        summary["stages"] = [{"stage": s["stage"], "neurons": s["neurons"], "synapses": s["synapses"],
                              "lyapunov_max": s["lyapunov_max"], "lyapunov_ci": s["lyapunov"]["lambda_max_ci"],
                              "equivalent_to_dense": s["equivalence"]["accepted"], "rate": s["rate"]}
                             for s in report["stages"]]
    return summary


RUN_METHODS = ("magnitude", "lnp-scores", "random")  # spikerec.pruning.synapse_pruning.METHODS
HRSNN_METHODS = ("lnp", "random", "activity", "magnitude")  # spikerec.pruning.run.METHODS


def _check_form(args: argparse.Namespace) -> None:
    """The two forms of ``spikerec prune`` take different flags: say which one a flag belongs to."""
    from spikerec.errors import ConfigError

    if args.run is None:
        if args.method not in HRSNN_METHODS:
            raise ConfigError(f"--method {args.method} prunes the synapses of a trained run: give --run RUN_DIR "
                              f"(with --synapse-sparsity, --data and --out)")
        misplaced = [flag for flag, value in (("--data", args.data), ("--finetune-epochs", args.finetune_epochs),
                                              ("--set", args.set)) if value is not None]
        if misplaced:
            raise ConfigError(f"{', '.join(misplaced)} only apply with --run RUN_DIR (synapse pruning of a trained run)")
        return
    if args.method not in RUN_METHODS:
        raise ConfigError(f"--run prunes the synapses of a trained run with --method {'|'.join(RUN_METHODS)}; "
                          f"{args.method!r} prunes an HRSNN (--model DIR or --neurons N, without --run)")
    misplaced = [flag for flag, value in (("--model", args.model), ("--match", args.match), ("--inputs", args.inputs),
                                          ("--neuron-sparsity", args.neuron_sparsity)) if value is not None]
    if misplaced:
        raise ConfigError(f"{', '.join(misplaced)} do(es) not apply with --run (it removes synapses, not neurons)")
    missing = [flag for flag, value in (("--synapse-sparsity", args.synapse_sparsity), ("--data", args.data),
                                        ("--out", args.out)) if value is None]
    if missing:
        raise ConfigError(f"--run needs {', '.join(missing)}")


def _prune(args: argparse.Namespace) -> int:
    _check_form(args)
    if args.run is not None:
        return _prune_run(args)
    import numpy as np
    import torch

    from spikerec.io import print_result
    from spikerec.errors import DataError, ShapeError
    from spikerec.models.hrsnn import HRSNN, HRSNNConfig
    from spikerec.pruning.lnp import LNPConfig
    from spikerec.pruning.run import run_pruning, save_result

    torch.manual_seed(args.seed)
    neuron_sparsity, synapse_sparsity = _baseline_targets(args)
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
    lnp_config = LNPConfig(seed=args.seed, timescale_trials=args.trials, repeats=args.repeats,
                           noise_steps=args.noise_steps, lyapunov=args.lyapunov, margin=args.margin)
    result = run_pruning(args.method, model, inputs=inputs, neuron_sparsity=neuron_sparsity,
                         synapse_sparsity=synapse_sparsity, lnp_config=lnp_config, seed=args.seed,
                         progress=not args.json)
    summary = _summary(args.method, result.report, args.seed)
    if args.out:
        summary["files"] = {k: str(v) for k, v in save_result(result, args.out).items()}
    lo, hi = summary["lyapunov_ci_after"]
    human = (f"{args.method}: neurons {summary['neurons_before']} -> {summary['neurons_after']} "
             f"(sparsity {summary['neuron_sparsity']:.2f}), synapses {summary['synapses_before']} -> "
             f"{summary['synapses_after']} (sparsity {summary['synapse_sparsity']:.2f}), lambda_max "
             f"{summary['lyapunov_max_before']:.4f} -> {summary['lyapunov_max_after']:.4f} 1/ms "
             f"({summary['confidence']:.0%} interval [{lo:.4f}, {hi:.4f}])"
             + (f"; saved to {args.out}" if args.out else ""))
    print_result(summary, args.json, human)
    return 0


def _prune_run(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.pruning.lnp import LNPConfig
    from spikerec.pruning.prune_run import prune_run

    epochs = 5 if args.finetune_epochs is None else args.finetune_epochs
    result = prune_run(args.run, args.method, args.synapse_sparsity, args.data, epochs, args.out,
                       overrides=args.set, seed=args.seed, progress=not args.json,
                       lnp_config=LNPConfig(seed=args.seed, repeats=args.repeats, noise_steps=args.noise_steps))
    dense = result["dense_test_accuracy"]
    human = (f"{args.method}: synapses {result['synapses_before']} -> {result['synapses_after']} (sparsity "
             f"{result['synapse_sparsity']:.3f}); test accuracy "
             + (f"{dense:.4f} dense, " if dense is not None else "")
             + f"{result['pruned_test_accuracy']:.4f} pruned, {result['test_accuracy']:.4f} after {epochs} epochs "
             f"of fine-tuning -> {args.out}")
    print_result(result, args.json, human)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("prune", help="prune an HRSNN (LNP or a baseline) or the synapses of a trained run",
                              description="Prune an HRSNN. lnp is task-agnostic and decides how much to prune: "
                                          "without --model it builds a random HRSNN (--neurons) and prunes it using "
                                          "noise only. The baselines prune to a given sparsity (--match an LNP "
                                          "report.json, or --neuron-sparsity and --synapse-sparsity). With --run "
                                          "RUN_DIR: remove --synapse-sparsity of every weight matrix of a trained run "
                                          "(magnitude, random, or lnp-scores: Moore-Chaudhuri noise scores of the "
                                          "recurrent synapses), fine-tune and write a new run directory (--out).")
    p.add_argument("--method", choices=tuple(dict.fromkeys(HRSNN_METHODS + RUN_METHODS)), default="lnp")
    p.add_argument("--run", help="run directory of a trained model whose synapses to prune (train, prune-train or "
                                 "prune --run output)")
    p.add_argument("--data", help="--run: data directory the run was trained on (for fine-tuning and accuracy)")
    p.add_argument("--finetune-epochs", type=int, help="--run: epochs of fine-tuning with the run's recipe (default 5; "
                                                       "0 evaluates the pruned model as it is)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="--run: fine-tuning recipe override, repeatable")
    p.add_argument("--neurons", type=int, default=200, help="size of the random HRSNN built when no --model")
    p.add_argument("--model", help="directory with hrsnn.pt + hrsnn.json (HRSNN.save)")
    p.add_argument("--dt-ms", type=float, default=1.0,
                   help="time step of the random HRSNN built when no --model (use the data's bin_ms to train it)")
    p.add_argument("--inputs", help="activity: task inputs as .npy [T, B, C]")
    p.add_argument("--match", help="baselines: take the neuron and synapse sparsity of this LNP report.json")
    p.add_argument("--neuron-sparsity", type=float, help="baselines: neuron sparsity to prune to")
    p.add_argument("--synapse-sparsity", type=float, help="baselines and --run: synapse sparsity to prune to")
    p.add_argument("--lyapunov", choices=("surrogate", "exact", "finite_size"), default="surrogate",
                   help="estimator of the largest Lyapunov exponent behind every decision (see docs/pruning.md)")
    p.add_argument("--repeats", type=int, default=6, help="independent noise drives per Lyapunov estimate (and per "
                                                          "lnp-scores covariance)")
    p.add_argument("--noise-steps", type=int, default=1000,
                   help="steps per noise drive (longer: tighter intervals, slower); the first 200 are not averaged")
    p.add_argument("--margin", type=float, help="lnp: equivalence margin in 1/ms (default: the exponent's spread "
                                                "over random networks of the same configuration)")
    p.add_argument("--trials", type=int, default=20, help="lnp: optuna trials for the timescale stage")
    p.add_argument("--out", help="directory for the pruned model, report.json and plots (--run: the new run directory)")
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
