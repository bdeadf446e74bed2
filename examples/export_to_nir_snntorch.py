"""Export a trained delay-free SNN to NIR and run it in snntorch and norse: do their output spikes
match spikerec's event-driven simulator?

    python examples/export_to_nir_snntorch.py --data data/synth --out runs/nir-example
    python examples/export_to_nir_snntorch.py --importer norse

Trains the `synthetic` recipe with plain synapses (`model.delays=false`), exports it with
`network_from_model` (BatchNorm folded into weights and biases) and writes `network.nir` (the
whole network, which spikerec's own `load_nir` reads back exactly). Neither importer maps NIR's LI
readout or Delay nodes, so, as in tests/test_hardware_nir.py, the peers get the spiking layers
only, exported with each importer's conventions (docs/hardware.md): snntorch hard-codes
dt = 1e-4 s (`to_nir(dt_s=1e-4)`), norse ignores the input scaling r (`to_nir(unit_r=True)`, and
`from_nir(dt=...)`). Prints, per importer, the fraction of test samples whose spike trains are
identical to the event simulator's and the fraction of identical spike entries.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from _common import log, parser, test_batch, train_small, ensure_data


def spiking_part(network):
    """The network without its LI readout: the hidden LIF layers, the last one as output."""
    from spikerec.hardware import Network

    layers = network.layers[:-1]
    return Network(layers=layers, dt_ms=network.dt_ms, n_inputs=network.n_inputs,
                   input_pooling=network.input_pooling, n_classes=layers[-1].n_out, readout="membrane_sum",
                   metadata=network.metadata)


def run_snntorch(network, frames: np.ndarray) -> np.ndarray:
    from snntorch.import_nir import import_from_nir

    from spikerec.hardware.ir.nir import to_nir

    module = import_from_nir(to_nir(network, dt_s=1e-4))  # snntorch's importer assumes dt = 1e-4 s
    outs = []
    with torch.no_grad():
        for t in range(frames.shape[0]):
            out = module(torch.from_numpy(frames[t]))
            outs.append(out[0] if isinstance(out, tuple) else out)
    return torch.stack(outs).numpy()


def run_norse(network, frames: np.ndarray) -> np.ndarray:
    import norse.torch as norse

    from spikerec.hardware.ir.nir import to_nir

    logging.getLogger().setLevel(logging.ERROR)  # norse warns about every node it does not map
    module = norse.from_nir(to_nir(network, unit_r=True), dt=network.dt_ms * 1e-3)  # norse ignores r
    state, outs = None, []
    with torch.no_grad():
        for t in range(frames.shape[0]):
            z, state = module(torch.from_numpy(frames[t]), state)
            outs.append(z)
    return torch.stack(outs).numpy()


IMPORTERS = {"snntorch": run_snntorch, "norse": run_norse}


def main() -> int:
    p = parser(__doc__, out_default="runs/nir-example")
    p.add_argument("--importer", choices=[*IMPORTERS, "both"], default="both")
    p.add_argument("--samples", type=int, default=64, help="test samples to compare")
    args = p.parse_args()

    from spikerec.hardware import EventSimulator, network_from_model
    from spikerec.hardware.ir.nir import load_nir, save_nir

    out = Path(args.out)
    data = ensure_data(args.data, args.seed)
    _, model, recipe = train_small(data, out / "run", args.quick, args.seed, extra=("model.delays=false",))
    network = network_from_model(model)
    nir_file = save_nir(network, out / "network.nir")
    back = load_nir(nir_file)
    log(f"wrote {nir_file}; spikerec's load_nir reads back {len(back.layers)} layers, {back.n_synapses} synapses")

    frames = test_batch(recipe, data, 16 if args.quick else args.samples).frames.numpy().astype(np.float32)
    hidden = spiking_part(network)
    ours = EventSimulator(hidden).run(frames).spikes[-1]
    log(f"event simulator: {int(ours.sum())} spikes in the last hidden layer over {frames.shape[1]} samples")

    for name in IMPORTERS if args.importer == "both" else [args.importer]:
        try:
            theirs = IMPORTERS[name](hidden, frames)
        except ImportError as err:
            print(f"{name}: not installed ({err}); pip install {name}")
            continue
        same_sample = np.all(theirs == ours, axis=(0, 2))
        print(f"{name}: identical spike trains in {same_sample.mean():.4f} of {len(same_sample)} samples, "
              f"identical spike entries {np.mean(theirs == ours):.6f} "
              f"({int(theirs.sum())} vs {int(ours.sum())} spikes)")
    print(f"NIR file: {nir_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
