"""Train the `shd-delays` recipe (Hammouamri et al., ICLR 2024: learnable delays, 2 x 256 LIF) on the
Spiking Heidelberg Digits and report validation and test accuracy with integer (rounded) delays.

    python examples/train_shd_delays.py --data data/shd --download --out runs/shd-delays
    python examples/train_shd_delays.py --data data/shd --epochs 20 --device cuda

`--download` fetches shd_train.h5 / shd_test.h5 from the official host (md5-checked, resumable).
The full recipe is 150 epochs (hours on a GPU). `--quick` uses whatever SHD-layout files are in
--data (e.g. `spikerec data synth --kind shd --out DIR`), one epoch and 2 x 16 neurons.
"""

from __future__ import annotations

from pathlib import Path

from _common import log, parser


def main() -> int:
    p = parser(__doc__, out_default="runs/shd-delays", data_default="data/shd")
    p.add_argument("--download", action="store_true", help="download SHD into --data if the files are missing")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs (default: the recipe's 150)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    args = p.parse_args()

    from spikerec.config import load_recipe
    from spikerec.datasets import download_dataset
    from spikerec.training import evaluate_run, train

    if args.download:
        log(f"making sure SHD is in {args.data} (downloads about 0.5 GB if missing)")
        download_dataset("shd", args.data, verbose=True)
    overrides = [f"train.seed={args.seed}"]
    if args.quick:
        overrides += ["train.epochs=1", "model.hidden_sizes=[16,16]", "train.batch_size=32"]
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    recipe = load_recipe("shd-delays", overrides)
    log(f"training shd-delays for {recipe.train.epochs} epochs, hidden {recipe.model.hidden_sizes} -> {args.out}")
    summary = train(recipe, args.data, args.out, progress=not args.quick)
    log(f"model selected on {summary['selected_on']} (epoch {summary['best_epoch']})")

    results = {split: evaluate_run(args.out, args.data, split=split, device=args.device, integer_delays=True)
               for split in ("val", "test")}
    for split, r in results.items():
        print(f"{split} accuracy (integer delays): {r['accuracy']:.4f} on {r['n']} samples")
    out = Path(args.out)
    print(f"run directory: {out} (best.pt, last.pt, metrics.csv, curves.png, summary.json, "
          f"confusion_test.png, eval_test.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
