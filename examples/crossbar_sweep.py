"""How much accuracy does a trained SNN keep on a memristive (PCM) crossbar? Sweep ADC resolution
and conductance-drift time and save the accuracy plots.

    python examples/crossbar_sweep.py --data data/synth --out runs/crossbar-example
    python examples/crossbar_sweep.py --run runs/synth --data data/synth --preset rram

Trains the small `synthetic` delay SNN (or loads `--run`, a `spikerec train` run directory), exports
it to the Network IR (integer delays become delay lines on the crossbar) and runs
`spikerec.hardware.simulate_crossbar` on the test set: one sweep over `adc_bits`, one over
`t_inference_s` (time since programming: drift, compensated globally). Writes
crossbar_sweep_adc_bits.png, crossbar_sweep_t_inference_s.png and sweeps.json into --out.
"""

from __future__ import annotations

from pathlib import Path

from _common import log, parser, test_batch, trained_or_loaded

SWEEPS = {"adc_bits": "adc_bits=3,4,6,8,none",
          "t_inference_s": "t_inference_s=0,3600,86400,2592000,31536000"}  # 0, 1 h, 1 day, 30 days, 1 year


def main() -> int:
    p = parser(__doc__, out_default="runs/crossbar-example")
    p.add_argument("--run", default=None, help="a trained run directory to use instead of training one")
    p.add_argument("--preset", default="pcm", choices=["pcm", "rram", "ideal"])
    p.add_argument("--samples", type=int, default=200, help="test samples to simulate")
    args = p.parse_args()

    from spikerec.hardware import network_from_model
    from spikerec.hardware.simulators.crossbar import simulate_crossbar
    from spikerec.io import write_json

    out = Path(args.out)
    model, recipe = trained_or_loaded(args)
    network = network_from_model(model)
    network.save(out / "network.h5")
    batch = test_batch(recipe, args.data, 16 if args.quick else args.samples, network.drain_steps)
    frames, batches = batch.frames, [batch]

    results = {}
    for param, sweep in SWEEPS.items():
        log(f"crossbar ({args.preset}) sweep {sweep} on {frames.shape[1]} test samples")
        r = simulate_crossbar(network, batches, preset=args.preset, sweep=sweep, seed=args.seed, out_dir=out)
        results[param] = {"values": r["sweep"]["values"], "accuracy": r["sweep"]["accuracy"],
                          "agreement_with_ideal": r["sweep"]["agreement_with_ideal"],
                          "ideal_accuracy": r["ideal_accuracy"], "plot": r["plot"]}
        pairs = ", ".join(f"{v}: {a:.3f}" for v, a in zip(r["sweep"]["values"], r["sweep"]["accuracy"]))
        print(f"{param} -> accuracy  {pairs}  (ideal crossbar {r['ideal_accuracy']:.3f})")
    write_json(out / "sweeps.json", {"preset": args.preset, "n_samples": int(frames.shape[1]), **results})
    print(f"plots: {', '.join(str(r['plot']) for r in results.values())}; numbers: {out / 'sweeps.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
