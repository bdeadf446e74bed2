"""Event-driven simulator vs stepping the dense torch model, batch 1 streaming, and cost vs activity.

Workload: the SHD delay SNN shape (140 inputs -> 256 -> 256 -> 20 LI readout, per-synapse delays up to
24 steps at 10 ms bins, BatchNorm folded), random weights. Each layer's threshold is calibrated so
every layer fires at the target activity (fraction of neurons spiking per step, also for the input).
Per step, batch 1:

* ``spikerec event``: ``EventSimulator.step`` (work = spikes x fan-out + neuron updates);
* ``torch online_step``: the trained model's own streaming path (``SpikingNetwork.online_step``,
  integer delays), which is how a torch user steps it;
* ``torch dense ring``: a best-case dense step, one matmul per layer against the unrolled
  [n_out, n_in * K] delay kernel and a history ring (no per-step graph, no Python per synapse).

The three run interleaved (round-robin, median of ``--repeat`` after warm-up). Ratios are torch time /
spikerec time (> 1: the event simulator is faster).
Run: ``.venv/bin/python -m benchmarks.bench_event_sim [--repeat 5] [--steps 100]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from benchmarks import harness

N_IN, HIDDEN, N_OUT, T_CAL = 140, (256, 256), 20, 100
THREADS = 2


def build(activity: float, seed: int = 0, hidden: tuple[int, ...] = HIDDEN):
    """(model, network, frames [T, 1, N_IN]) with every layer firing at about ``activity``."""
    from spikerec.config import load_recipe
    from spikerec.delays import integer_delay_mode
    from spikerec.hardware import network_from_model
    from spikerec.models import build_model

    recipe = load_recipe("shd-delays", [f"model.hidden_sizes=[{','.join(map(str, hidden))}]"])
    torch.manual_seed(seed)
    model = build_model(recipe, N_IN, N_OUT).eval()
    g = torch.Generator().manual_seed(seed + 1)
    frames = (torch.rand(T_CAL, 1, N_IN, generator=g) < activity).float()
    with torch.no_grad(), integer_delay_mode(model):
        x = frames
        for block in model.blocks:
            currents = block._normalise(block.synapse(x), None)
            block.neuron.threshold.fill_(_calibrate(block.neuron, currents, activity))
            x = block(x)
    return model, network_from_model(model), frames


def _calibrate(neuron, currents: torch.Tensor, activity: float) -> float:
    """Threshold (bisection) at which ``neuron`` fed ``currents`` fires at ``activity``."""
    lo, hi = 1e-3, 1e3
    for _ in range(40):
        mid = (lo * hi) ** 0.5
        neuron.threshold.fill_(mid)
        rate = float(neuron(currents).mean())
        lo, hi = (mid, hi) if rate > activity else (lo, mid)
    return (lo * hi) ** 0.5


def event_stream(net, frames):
    from spikerec.hardware import EventSimulator

    sim = EventSimulator(net)
    x = frames[:, 0].numpy().astype(np.float64)

    def run():
        state = sim.initial_state(1)
        for t in range(x.shape[0]):
            sim.step(x[t], state)
        return state

    return run, sim


def torch_online(model, frames):
    from spikerec.delays import integer_delay_mode

    def run():
        with torch.no_grad(), integer_delay_mode(model):
            state = model.online_state(1, torch.device("cpu"))
            for t in range(frames.shape[0]):
                _, state = model.online_step(frames[t], state)

    return run


def torch_dense_ring(net, frames):
    """One matmul per layer per step against the unrolled delay kernel (dense best case)."""
    from spikerec.hardware.ir.network import to_dense
    from spikerec.neurons import functional as NF

    layers = []
    for layer in net.layers:
        w, d = to_dense(layer.weight), layer.dense_delay()
        k = int(d.max()) + 1
        unrolled = np.zeros((layer.n_out, k, layer.n_in), dtype=np.float32)
        rows, cols = np.nonzero(w)
        unrolled[rows, d[rows, cols], cols] = w[rows, cols]
        layers.append((torch.from_numpy(unrolled.reshape(layer.n_out, -1)), k, layer))

    def run():
        with torch.no_grad():
            hist = [torch.zeros(k, 1, layer.n_in) for _, k, layer in layers]
            v = [torch.zeros(1, layer.n_out) for *_, layer in layers]
            for t in range(frames.shape[0]):
                x = frames[t]
                for i, (w, k, layer) in enumerate(layers):
                    hist[i] = torch.cat([x.unsqueeze(0), hist[i][:-1]])  # newest first: slot d = x[t - d]
                    cur = hist[i].permute(1, 0, 2).reshape(1, -1) @ w.t()
                    if layer.bias is not None:
                        cur = cur + torch.from_numpy(layer.bias)
                    decay = torch.from_numpy(layer.decay)
                    if layer.kind == "li":
                        v[i] = NF.li_multistep(cur.unsqueeze(0), v[i], decay, layer.decay_input)[0]
                        x = v[i]
                    else:
                        spk, v[i] = NF.lif_multistep(cur.unsqueeze(0), v[i], decay, torch.from_numpy(layer.threshold),
                                                     decay_input=layer.decay_input)
                        x = spk[0]

    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=T_CAL, help="time steps per timed run")
    parser.add_argument("--activities", default="0.01,0.02,0.05,0.1,0.2")
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv)
    harness.set_threads(args.threads)
    rows = []
    for activity in [float(a) for a in args.activities.split(",")]:
        model, net, frames = build(activity)
        frames = frames[: args.steps]
        ev_run, sim = event_stream(net, frames)
        res = sim.run(frames)
        rates = [float(s.mean()) for s in res.spikes if s is not None]
        steps = frames.shape[0]
        timed = harness.time_interleaved({"event": ev_run, "online": torch_online(model, frames),
                                          "dense": torch_dense_ring(net, frames)}, repeat=args.repeat)
        ev, online, dense = (timed[k]["median_s"] / steps for k in ("event", "online", "dense"))
        rows.append({"activity": activity, "measured_rates": ", ".join(f"{r:.3f}" for r in rates),
                     "syn_events_per_step": res.counts["total"]["synaptic_events"] / steps,
                     "event_step_s": ev, "torch_online_step_s": online, "torch_dense_ring_step_s": dense,
                     "ratio_online": online / ev, "ratio_dense_ring": dense / ev})
        print(rows[-1], file=sys.stderr, flush=True)
    harness.write_result(
        "event_sim", "Event-driven simulator vs dense torch stepping (batch 1, per step)", rows,
        {"network": f"{N_IN}-{'-'.join(map(str, HIDDEN))}-{N_OUT} delays<=24 steps", "threads": THREADS,
         "repeat": args.repeat, "steps": args.steps},
        ["activity", "measured_rates", "syn_events_per_step", "event_step_s", "torch_online_step_s",
         "torch_dense_ring_step_s", "ratio_online", "ratio_dense_ring"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
