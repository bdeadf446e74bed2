"""``spikerec export`` (run dir -> Network / NIR / Lava-dl netx / Brian2 script), ``spikerec quantize`` (a fixed-point
target's integer network) and ``spikerec simulate`` (event, crossbar or Brian2; a data split or an input array): parse,
call :mod:`spikerec.hardware`, print."""

from __future__ import annotations

import argparse


def _export(args: argparse.Namespace) -> int:
    from spikerec.hardware.ir.export import export_run
    from spikerec.io import print_result

    result = export_run(args.run_dir, args.format, args.output, args.checkpoint)
    s = result["network"]
    human = (f"{args.run_dir} -> {args.output} ({args.format}): {len(s['layers'])} layers, {s['n_synapses']} synapses, "
             f"max delay {s['max_delay_steps']} steps")
    print_result(result, args.json, human)
    return 0


def _quantize(args: argparse.Namespace) -> int:
    from spikerec.hardware.simulators.quantized import quantize_target
    from spikerec.io import print_result

    r = quantize_target(args.source, args.target, args.output, args.data, split=args.split,
                        calibration_split=args.calibration_split, calibration_samples=args.calibration_samples,
                        batch_size=args.batch_size, limit=args.limit, delays=args.delays, checkpoint=args.checkpoint,
                        progress=not args.json)
    sat, rounded = r["saturated"], r["rounded"]
    lines = [f"{args.source} -> {args.output} ({r['profile']}, {r['family']} family): "
             f"{rounded['weights_zeroed']} of {rounded['synapses']} weights rounded to 0, "
             f"{sat['weights']} weights / {sat['thresholds']} thresholds / {sat['biases']} biases saturated, "
             f"{r['rounded_delays']['synapses']} delays clipped"]
    lines += [f"  approximation: {a}" for a in r["approximations"]]
    if r["accuracy_float"] is not None:
        lines.append(f"  accuracy on {r['n_samples']} {r['split']} samples: float {r['accuracy_float']:.4f}, "
                     f"quantised {r['accuracy_quantized']:.4f} (same prediction {r['prediction_agreement']:.4f}); "
                     f"overflows in simulation {sat['simulation']}")
    print_result(r, args.json, "\n".join(lines))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from spikerec.errors import ConfigError
    from spikerec.hardware.ir.load import load_network_file

    if (args.data is None) == (args.input is None):
        raise ConfigError("simulate: give exactly one of --data DIR (a data split) or --input SPIKES.npy (an array)")
    if args.run is not None and (args.backend != "event" or args.input is not None):
        raise ConfigError("simulate: --run (compare with the trained model) works with --backend event and --data only")
    net = load_network_file(args.file, dt_ms=args.dt_ms, discretization=args.discretization, reset=args.reset)
    if args.input is not None:
        return _simulate_array(net, args)
    from spikerec.hardware.ir.load import network_data_loader
    from spikerec.io import print_result

    loader = network_data_loader(net, args.data, args.split, args.batch_size, args.limit)
    if args.backend == "event":
        from spikerec.hardware.simulators.agreement import simulate_event

        result = simulate_event(net, loader, args.run, progress=not args.json)
        human = (f"{args.file}: event simulator accuracy {result['accuracy']:.4f} on {result['n_samples']} samples; "
                 f"agreement with {result['reference']} {result['agreement']:.4f} (spike trains), "
                 f"{result['prediction_agreement']:.4f} (predictions); {result['synaptic_ops']:.0f} synaptic ops/sample")
    elif args.backend == "brian2":
        from spikerec.hardware.simulators.brian2 import simulate_brian2

        result = simulate_brian2(net, loader, args.brian2_target, progress=not args.json)
        human = (f"{args.file}: Brian2 ({args.brian2_target}) accuracy {result['accuracy']:.4f} on "
                 f"{result['n_samples']} samples; agreement with the {result['reference']} {result['agreement']:.4f} "
                 f"(spike trains), {result['prediction_agreement']:.4f} (predictions)")
    else:
        from spikerec.hardware.simulators.crossbar import simulate_crossbar

        result = simulate_crossbar(net, loader, preset=args.device_preset, sweep=args.sweep, seed=args.seed,
                                   out_dir=args.out_dir)
        result["backend"] = "crossbar"
        human = f"{args.file}: crossbar ({args.device_preset}) accuracy {result['accuracy']:.4f}"
        if result.get("sweep"):
            sw = result["sweep"]
            human += "; sweep " + ", ".join(f"{sw['param']}={v}: {a:.4f}" for v, a in zip(sw["values"], sw["accuracy"]))
    print_result(result, args.json, human)
    return 0


def _simulate_array(net, args: argparse.Namespace) -> int:
    import numpy as np

    from spikerec.hardware.simulators.arrays import load_frames, simulate_frames
    from spikerec.io import print_result

    frames = load_frames(args.input, net.n_inputs)
    sim = simulate_frames(net, frames, args.backend, args.brian2_target)
    if args.save_spikes:
        np.savez_compressed(args.save_spikes, **sim["outputs"])
    result = {"backend": args.backend, "steps": frames.shape[0], "samples": frames.shape[1],
              "spike_counts": sim["spike_counts"], "predictions": sim["predictions"].tolist(),
              "saved": args.save_spikes}
    human = (f"{args.file} on {args.input} ({frames.shape[0]} steps x {frames.shape[1]} samples, {args.backend}): "
             + ", ".join(f"{k} {v} spikes" for k, v in sim["spike_counts"].items()))
    print_result(result, args.json, human)
    return 0


def register(subparsers) -> None:
    from spikerec.hardware.ir.export import FORMATS

    e = subparsers.add_parser("export", help="export a trained run to the Network IR, NIR, Lava-dl netx or a Brian2 script",
                              description="Round delays, fold BatchNorm, drop dropout, apply pruning masks and write "
                                          "the network as a spikerec Network HDF5 (network), NIR (nir) or Lava-dl "
                                          "netx HDF5 (lava) file, or a standalone Brian2 script (brian2: OUT.py "
                                          "plus its arrays OUT.npz; needs only numpy and brian2).")
    e.add_argument("run_dir", help="run directory written by 'spikerec train'")
    e.add_argument("--format", choices=FORMATS, default="network")
    e.add_argument("-o", "--output", required=True, help="output file")
    e.add_argument("--checkpoint", choices=["best", "last"], default="best")
    e.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    e.set_defaults(func=_export)

    from spikerec.hardware.ir.profile import list_profiles
    from spikerec.hardware.ir.quantize import DELAY_POLICIES

    q = subparsers.add_parser("quantize", help="quantise a run or network for a fixed-point target (loihi2, xylo, int8)",
                              description="Integer weights, decays and thresholds for a target profile (a packaged "
                                          "name or a profile .toml file), a report of everything rounded, saturated or "
                                          "approximated, and with --data the accuracy of the float and the quantised "
                                          "network (integer event simulation) side by side.")
    q.add_argument("source", help="run directory written by 'spikerec train', or a network file (.h5 / .nir)")
    q.add_argument("--target", required=True, help=f"target profile: {', '.join(list_profiles())} or a .toml path")
    q.add_argument("-o", "--output", required=True, help="quantised network file (.h5)")
    q.add_argument("--data", help="data directory: calibrate the scales and report accuracy")
    q.add_argument("--split", choices=["test", "val", "train"], default="test", help="split to report accuracy on")
    q.add_argument("--calibration-split", choices=["train", "val", "test"], default="train")
    q.add_argument("--calibration-samples", type=int, default=256, help="samples used to calibrate the scales")
    q.add_argument("--delays", choices=DELAY_POLICIES, default="error",
                   help="delays beyond the target's limit: error (default) or clip them (reported)")
    q.add_argument("--batch-size", type=int, default=64)
    q.add_argument("--limit", type=int, help="only the first N samples of the evaluation split")
    q.add_argument("--checkpoint", choices=["best", "last"], default="best")
    q.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    q.set_defaults(func=_quantize)

    s = subparsers.add_parser("simulate", help="run a network file on the event-driven, crossbar or Brian2 simulator",
                              description="Accuracy of a network file (.h5 Network or any .nir graph) on a data split "
                                          "(event backend: spike-train agreement with the torch model and synaptic "
                                          "operation counts; brian2: agreement with the event simulator), or its "
                                          "layer outputs on an input array (--input).")
    s.add_argument("file", help="network file from 'spikerec export' (.h5 Network or .nir)")
    s.add_argument("--data", help="data directory (same layout as for training)")
    s.add_argument("--input", help="instead of --data: a .npy array of frames [T, C] or [T, B, C], run for T steps")
    s.add_argument("--save-spikes", help="with --input: write each layer's spikes (membranes of non-spiking "
                                         "layers) [T, B, n] to this .npz, named by layer")
    s.add_argument("--dt-ms", type=float, help=".nir files: simulation step in ms (default: the graph's metadata)")
    s.add_argument("--discretization", choices=["euler", "exact"],
                   help=".nir files: how continuous-time nodes become steps (default: the graph's metadata, else euler)")
    s.add_argument("--reset", choices=["subtract"], help=".nir files: subtract the threshold instead of resetting "
                                                           "to v_reset (what the graph says)")
    s.add_argument("--split", choices=["test", "val", "train"], default="test")
    s.add_argument("--backend", choices=["event", "crossbar", "brian2"], default="event")
    s.add_argument("--brian2-target", choices=["numpy", "cython"], default="numpy",
                   help="Brian2 code generation (brian2 backend)")
    s.add_argument("--run", help="run directory: compare against its trained model instead of the IR's torch reference")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--limit", type=int, help="only the first N samples of the split")
    s.add_argument("--device-preset", default="pcm", help="crossbar device preset (crossbar backend)")
    s.add_argument("--sweep", help="crossbar sweep, e.g. adc_bits=4,6,8 (crossbar backend)")
    s.add_argument("--seed", type=int, default=0, help="seed of the crossbar's random effects")
    s.add_argument("--out-dir", help="where the crossbar sweep plot goes")
    s.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    s.set_defaults(func=_simulate)
