"""``spikerec train`` and ``spikerec eval``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from spikerec.config import list_recipes, load_recipe


def _train(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.training.runs import train

    overrides = list(args.set or [])
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.device is not None:
        overrides.append(f"train.device={args.device}")
    recipe = load_recipe(args.recipe, overrides)
    out = Path(args.out) if args.out else Path("runs") / recipe.name
    summary = train(recipe, args.data, out, resume=args.resume, download=args.download, progress=not args.quiet)
    summary["run_dir"] = str(out)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return 0
    human = (f"{recipe.name}: val accuracy {_pct(summary['val_accuracy'])}, test accuracy "
             f"{_pct(summary['test_accuracy'])} (model selected on {summary['selected_on']}, best epoch "
             f"{summary['best_epoch']}), {summary['epochs']} epochs in {summary['seconds']:.1f} s -> {out}")
    print_result(summary, args.json, human)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.training.runs import evaluate_run

    report = evaluate_run(args.run_dir, args.data, split=args.split, device=args.device, batch_size=args.batch_size)
    human = (f"{args.run_dir}: {args.split} accuracy {_pct(report['accuracy'])} on {report['n']} samples "
             f"({'integer' if report['integer_delays'] else 'continuous'} delays; {report['window']['text']}); "
             f"confusion matrix -> {report['confusion_png']}")
    if report["trained_with"] == "batch padding":
        human += ("\nnote: this run was trained before sample windows (its loss read each batch's padding), so "
                  "this accuracy can differ from its training summary")
    print_result(report, args.json, human)
    return 0


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a recipe on SHD/SSC (or synthetic) data",
                              description="Train a packaged recipe (" + ", ".join(list_recipes()) + ") or a "
                              "recipe .toml file. Progress goes to stderr; the run directory gets checkpoints, "
                              "metrics.jsonl/csv, curves.png, summary.json and the resolved recipe.toml.")
    p.add_argument("--recipe", required=True, help="recipe name or path to a .toml file")
    p.add_argument("--data", required=True, help="directory with shd_train.h5/shd_test.h5 or the ssc_*.h5 files")
    p.add_argument("--epochs", type=int, help="shortcut for --set train.epochs=N")
    p.add_argument("--out", help="run directory (default runs/RECIPE)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set model.hidden_sizes=[128,128] (repeatable)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="shortcut for --set train.device=...")
    p.add_argument("--download", action="store_true", help="download the data set into --data if missing")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt exactly")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=_train)

    e = subparsers.add_parser("eval", help="evaluate a trained run (integer delays) and plot its confusion matrix")
    e.add_argument("run_dir", help="run directory written by 'spikerec train'")
    e.add_argument("--data", required=True, help="data directory (same layout as for training)")
    e.add_argument("--split", choices=["test", "val"], default="test")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    e.add_argument("--batch-size", type=int, help="samples per batch (default: the recipe's); the result does not "
                   "depend on it: every sample is scored on its own window")
    e.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    e.set_defaults(func=_eval)
