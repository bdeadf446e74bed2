"""What do learnable delays cost in energy? Train the delay SNN and the same network with plain
synapses, measure both workloads on the test set and price them on the packaged hardware models.

    python examples/energy_two_models.py --data data/synth --out runs/energy-example

Both models use the `synthetic` recipe (same data, seed and epochs; `model.delays=false` for the
second). `spikerec.hardware.energy.counts.count_dataset` counts synaptic operations, neuron updates and
spikes per sample on real inputs (integer delays, padding excluded); `spikerec.hardware.energy`
prices them on digital-45nm, loihi and crossbar-pcm next to the ANN baseline, SynOps-only and
memory-inclusive (docs/energy.md). Writes energy_comparison.md (a side-by-side table plus each
model's full report) and energy_comparison.json into --out.
"""

from __future__ import annotations

from pathlib import Path

from _common import ensure_data, log, parser, train_small

MODELS = {"delays": (), "no-delays": ("model.delays=false",)}


def main() -> int:
    p = parser(__doc__, out_default="runs/energy-example")
    p.add_argument("--hardware", nargs="+", default=["digital-45nm", "loihi", "crossbar-pcm"],
                   help="packaged energy model names or TOML files")
    p.add_argument("--max-samples", type=int, default=None, help="test samples to count (default: all)")
    args = p.parse_args()

    from torch.utils.data import DataLoader

    from spikerec.hardware.energy.counts import count_dataset
    from spikerec.hardware.energy import energy_report, markdown_report
    from spikerec.hardware.energy.report import crossbar_geometry, resolve_models
    from spikerec.io import atomic_write_text, write_json
    from spikerec.training import load_datasets
    from spikerec.training.windows import window_collate

    out = Path(args.out)
    data = ensure_data(args.data, args.seed)
    energy_models = resolve_models(args.hardware, baseline="ann-45nm")
    reports, accuracy = {}, {}
    for name, extra in MODELS.items():
        summary, model, recipe = train_small(data, out / f"run-{name}", args.quick, args.seed, extra)
        accuracy[name] = summary["test_accuracy"]
        loader = DataLoader(load_datasets(recipe, data)["test"], batch_size=64,
                            collate_fn=window_collate(recipe, model))  # each sample: its frames + drain
        log(f"counting the workload of '{name}' on the test set")
        workload = count_dataset(model, loader, crossbar=crossbar_geometry(energy_models),
                                 max_samples=16 if args.quick else args.max_samples)
        reports[name] = energy_report(workload, energy_models, baseline="ann-45nm")

    names = list(MODELS)
    table = ["# Energy per sample: delay SNN vs the same network without delays", "",
             "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|",
             "| test accuracy | " + " | ".join(f"{accuracy[n]:.4f}" for n in names) + " |",
             "| synaptic ops | " + " | ".join(f"{reports[n]['synaptic_ops']:.4g}" for n in names) + " |",
             "| activation sparsity | " + " | ".join(f"{reports[n]['activation_sparsity']:.4f}" for n in names) + " |"]
    for hw in reports[names[0]]["hardware"]:
        for kind in ("synops_only_joules", "memory_inclusive_joules"):
            label = f"{hw} {kind.replace('_joules', '').replace('_', '-')} (J)"
            table.append(f"| {label} | " + " | ".join(f"{reports[n]['hardware'][hw][kind]:.3g}" for n in names) + " |")
    full = [*table, ""]
    for name in names:
        full += [f"## {name}", "", markdown_report(reports[name])]
    atomic_write_text(out / "energy_comparison.md", "\n".join(full))
    write_json(out / "energy_comparison.json", {"test_accuracy": accuracy, "reports": reports})
    print("\n".join(table))
    print(f"wrote {out / 'energy_comparison.md'} and {out / 'energy_comparison.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
