"""``spikerec export`` (run dir -> Network / NIR / Lava-dl netx) and ``spikerec simulate`` (event or crossbar)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spikerec.errors import ConfigError


# -- loading ------------------------------------------------------------------------------------------

def network_from_run(run_dir: str | Path, checkpoint: str = "best"):
    """The Network IR of a run (data settings and provenance in its metadata)."""
    from spikerec.hardware.network import Network
    from spikerec.training.runs import load_run_model
    from spikerec.training.trainer import window_collate

    model, recipe = load_run_model(run_dir, checkpoint)
    d = recipe.data
    meta = {"recipe": recipe.name, "run_dir": str(run_dir), "checkpoint": checkpoint,
            "data": {"dataset": d.dataset, "bin_ms": d.bin_ms, "pool": d.pool,
                     "max_duration_ms": d.max_duration_ms or None, "binary": d.binary, "window": d.window}}
    return Network.from_model(model, input_pooling=d.pool, drain_steps=window_collate(recipe, model).drain_steps,
                              metadata=meta)


def load_network_file(path: str | Path):
    """A Network from a spikerec network HDF5 file or (``.nir`` suffix) a NIR file."""
    from spikerec.hardware.network import Network

    if Path(path).suffix.lower() == ".nir":
        from spikerec.hardware.nir_export import load_nir

        return load_nir(path)
    return Network.load(path)


# -- export -------------------------------------------------------------------------------------------

def export_run(run_dir: str | Path, fmt: str, out: str | Path, checkpoint: str = "best") -> dict[str, Any]:
    """Export a run to ``out`` as ``fmt`` ("network", "nir" or "lava"); returns a summary dict."""
    net = network_from_run(run_dir, checkpoint)
    result: dict[str, Any] = {"format": fmt, "path": str(out), "network": net.summary()}
    if fmt == "network":
        net.save(out)
    elif fmt == "nir":
        from spikerec.hardware.nir_export import save_nir

        save_nir(net, out)
    elif fmt == "lava":
        from spikerec.hardware.lava_export import export_lava

        result["lava"] = export_lava(net, out)
    else:
        raise ConfigError(f"unknown export format {fmt!r}; choose network, nir or lava")
    return result


def _export(args: argparse.Namespace) -> int:
    from spikerec.cli import print_result

    result = export_run(args.run_dir, args.format, args.output, args.checkpoint)
    s = result["network"]
    human = (f"{args.run_dir} -> {args.output} ({args.format}): {len(s['layers'])} layers, {s['n_synapses']} synapses, "
             f"max delay {s['max_delay_steps']} steps")
    print_result(result, args.json, human)
    return 0


# -- simulate -----------------------------------------------------------------------------------------

def network_collate(net):
    """The :class:`~spikerec.datasets.WindowCollate` of a network: its ``drain_steps``, and a fixed duration when
    its data metadata says ``window = "fixed"``."""
    from spikerec.datasets import WindowCollate, max_frames

    d = dict(net.metadata.get("data") or {})
    fixed = 0
    if d.get("window") == "fixed":
        fixed = max_frames(float(d["max_duration_ms"]), float(d.get("bin_ms", net.dt_ms)))
    return WindowCollate(drain_steps=int(net.drain_steps), fixed_steps=fixed)


def network_data_loader(net, data_dir: str, split: str, batch_size: int = 64, limit: int | None = None):
    """DataLoader of sample windows over ``split`` of ``data_dir``, binned as the network's ``metadata["data"]``
    says, each sample followed by the network's ``drain_steps``."""
    from torch.utils.data import DataLoader, Subset

    from spikerec.datasets import build_frame_datasets

    d = dict(net.metadata.get("data") or {})
    datasets = build_frame_datasets(data_dir, dataset=d.get("dataset", "shd"), bin_ms=float(d.get("bin_ms", net.dt_ms)),
                                    pool=int(d.get("pool", net.input_pooling)), max_duration_ms=d.get("max_duration_ms"),
                                    binary=bool(d.get("binary", False)))
    ds = datasets[split]
    if ds.n_channels != net.n_inputs:
        raise ConfigError(f"{data_dir}: split {split!r} has {ds.n_channels} channels after pooling but the network "
                          f"expects {net.n_inputs}; check the data directory and the network's data metadata")
    if limit:
        ds = Subset(ds, range(min(limit, len(ds))))
    return DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=network_collate(net))


def simulate_event(net, loader, run_dir: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Accuracy, agreement with the torch model and counts of the event simulator over ``loader``.

    Reference: the trained model of ``run_dir`` in integer-delay mode run in float64, or (no run dir)
    :func:`~spikerec.hardware.reference.torch_reference` of the same Network in float64.
    """
    import numpy as np

    from spikerec.hardware.event_sim import EventSimulator, summarize_counts
    from spikerec.hardware.reference import torch_reference

    sim = EventSimulator(net)
    model = None
    if run_dir is not None:
        from spikerec.training.runs import load_run_model

        model, _ = load_run_model(run_dir)
        model = model.double()
    correct = same_spikes = same_pred = n = 0
    counts = []
    for frames, labels, window, *_ in loader:
        res = sim.run(frames, window)
        ref_spikes, ref_pred = _reference(net, model, frames, window, torch_reference)
        sim_spikes = [s for s in res.spikes if s is not None]
        equal = np.ones(frames.shape[1], dtype=bool)
        for a, b in zip(sim_spikes, ref_spikes):
            equal &= (a == b).all(axis=(0, 2))
        same_spikes += int(equal.sum())
        same_pred += int((res.predictions == ref_pred).sum())
        correct += int((res.predictions == labels.numpy()).sum())
        n += frames.shape[1]
        counts.append(res.counts_per_sample)
        if progress:
            print(f"\rsimulate: {n} samples", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    if n == 0:
        raise ConfigError("simulate: the selected split is empty")
    per_sample = np.concatenate(counts, axis=1)
    summary = summarize_counts(per_sample, sim.names)
    return {"backend": "event", "accuracy": correct / n, "agreement": same_spikes / n,
            "prediction_agreement": same_pred / n, "n_samples": n,
            "reference": "trained model (float64, integer delays)" if model is not None else "torch_reference (float64)",
            "window": {"drain_steps": int(net.drain_steps), "batch_size": loader.batch_size},
            "synaptic_ops": summary["total"]["synaptic_events"], "counts": summary}


def _reference(net, model, frames, window, torch_reference):
    """(spike trains of the spiking layers as numpy arrays, 0 after each sample's window; predictions) of the
    reference."""
    import torch

    from spikerec.hardware.event_sim import predict_from_membrane
    from spikerec.window import time_mask

    if model is None:
        outs = torch_reference(net, frames, window)
        spikes = [o.numpy() for o, la in zip(outs, net.layers) if la.kind == "lif"]
        membrane = outs[-1].float().numpy()
    else:
        from spikerec.training.evaluate import delay_eval_context

        inside = time_mask(window, frames.shape[0]).unsqueeze(2)
        with delay_eval_context(model, True), torch.no_grad():
            h = frames.double()
            spikes = []
            for block in model.blocks:
                h = block(h)
                spikes.append((h * inside).numpy())
            membrane = model.readout(h).float().numpy()
    return spikes, predict_from_membrane(membrane, net.readout, window.numpy())


def _simulate(args: argparse.Namespace) -> int:
    from spikerec.cli import print_result

    net = load_network_file(args.file)
    loader = network_data_loader(net, args.data, args.split, args.batch_size, args.limit)
    if args.backend == "event":
        result = simulate_event(net, loader, args.run, progress=not args.json)
        human = (f"{args.file}: event simulator accuracy {result['accuracy']:.4f} on {result['n_samples']} samples; "
                 f"agreement with {result['reference']} {result['agreement']:.4f} (spike trains), "
                 f"{result['prediction_agreement']:.4f} (predictions); {result['synaptic_ops']:.0f} synaptic ops/sample")
    else:
        try:
            from spikerec.hardware.crossbar import simulate_crossbar
        except ImportError as err:
            raise ConfigError(f"simulate: the crossbar backend is not available ({err})") from None
        result = simulate_crossbar(net, loader, preset=args.device_preset, sweep=args.sweep, seed=args.seed,
                                   out_dir=args.out_dir)
        result["backend"] = "crossbar"
        human = f"{args.file}: crossbar ({args.device_preset}) accuracy {result['accuracy']:.4f}"
        if result.get("sweep"):
            sw = result["sweep"]
            human += "; sweep " + ", ".join(f"{sw['param']}={v}: {a:.4f}" for v, a in zip(sw["values"], sw["accuracy"]))
    print_result(result, args.json, human)
    return 0


def register(subparsers) -> None:
    e = subparsers.add_parser("export", help="export a trained run to the Network IR, NIR or Lava-dl netx",
                              description="Round delays, fold BatchNorm, drop dropout, apply pruning masks and write "
                                          "the network as a spikerec Network HDF5 (network), NIR (nir) or Lava-dl "
                                          "netx HDF5 (lava) file.")
    e.add_argument("run_dir", help="run directory written by 'spikerec train'")
    e.add_argument("--format", choices=["network", "nir", "lava"], default="network")
    e.add_argument("-o", "--output", required=True, help="output file")
    e.add_argument("--checkpoint", choices=["best", "last"], default="best")
    e.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    e.set_defaults(func=_export)

    s = subparsers.add_parser("simulate", help="run an exported network on the event-driven or crossbar simulator",
                              description="Accuracy (and, for the event backend, spike-train agreement with the torch "
                                          "model and synaptic operation counts) of an exported network on a data split.")
    s.add_argument("file", help="network file from 'spikerec export' (.h5 Network or .nir)")
    s.add_argument("--data", required=True, help="data directory (same layout as for training)")
    s.add_argument("--split", choices=["test", "val", "train"], default="test")
    s.add_argument("--backend", choices=["event", "crossbar"], default="event")
    s.add_argument("--run", help="run directory: compare against its trained model instead of the IR's torch reference")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--limit", type=int, help="only the first N samples of the split")
    s.add_argument("--device-preset", default="pcm", help="crossbar device preset (crossbar backend)")
    s.add_argument("--sweep", help="crossbar sweep, e.g. adc_bits=4,6,8 (crossbar backend)")
    s.add_argument("--seed", type=int, default=0, help="seed of the crossbar's random effects")
    s.add_argument("--out-dir", help="where the crossbar sweep plot goes")
    s.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    s.set_defaults(func=_simulate)
