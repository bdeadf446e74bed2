"""Scaling of the event-driven simulator: time and peak memory against T, batch, layer width N and activity,
beside the torch model it was exported from.

Workload: the ``shd-delays`` network shape of ``bench_event_sim`` (140 inputs -> N -> N -> 20 LI readout,
per-synapse delays up to 24 steps, BatchNorm folded, random weights), every layer's threshold calibrated so
that it fires at the target activity (fraction of neurons spiking per step; the input frames have the same
density). Each axis varies around the base point ``T=100, B=4, N=256, activity=0.05``. Per point, one
inference over the whole sequence (no gradient):

* ``spikerec event``: ``EventSimulator.run(frames)``: work ~ events x fan-out + neuron updates;
* ``torch model``: the trained model's multi-step forward with integer delays (``integer_delay_mode``), the
  dense computation a torch user runs.

An ideal event-driven simulator grows linearly in T and B, like N^2 at fixed activity (spikes ~ N, fan-out ~
N), and linearly in the activity once synaptic events dominate the fixed neuron-update cost. The dense model
does not depend on the activity. Time: both interleaved, median of ``--repeat`` after a warm-up, on one thread
as that thread's CPU time by default. Memory: the peak a run adds, in a fresh process per library
(:func:`benchmarks.scaling.step_memory_mib`).

Writes ``benchmarks/results/scaling_event.json`` (every point), ``scaling_event.md`` (growth exponents) and
the plot ``docs/scaling_event.png``.
Run: ``.venv/bin/python -m benchmarks.bench_scaling_event [--axes T B N activity] [--repeat 3] [--points K]``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import torch

from benchmarks import bench_event_sim, scaling

BASE = {"T": 100, "B": 4, "N": 256, "activity": 0.05}
AXES = {"T": [50, 100, 200, 400, 800], "B": [1, 4, 16, 64], "N": [64, 128, 256, 512, 1024],
        "activity": [0.01, 0.02, 0.05, 0.1, 0.2]}
EXPECTED = {"spikerec event": {"T": "1", "B": "1", "N": "2", "activity": "0..1"},
            "torch model": {"T": "1", "B": "<= 1", "N": "2", "activity": "0"}}
LIBRARIES = ("spikerec event", "torch model")
DOCS = Path(__file__).resolve().parent.parent / "docs"


@functools.lru_cache(maxsize=4)
def _network(n: int, activity: float):
    """(model, Network) of width ``n`` calibrated to ``activity`` (cached: calibration costs more than a run)."""
    model, net, _ = bench_event_sim.build(activity, hidden=(n, n))
    return model, net


def make_run(lib: str, p: dict):
    """Zero-arg callable: one inference of ``lib`` over ``p["T"]`` steps of a ``p["B"]``-sample batch."""
    from spikerec.delays import integer_delay_mode
    from spikerec.hardware import EventSimulator

    model, net = _network(p["N"], p["activity"])
    g = torch.Generator().manual_seed(1)
    frames = (torch.rand(p["T"], p["B"], bench_event_sim.N_IN, generator=g) < p["activity"]).float()
    if lib == "spikerec event":
        sim, x = EventSimulator(net), frames.numpy()
        return lambda: sim.run(x)

    def run():
        with torch.no_grad(), integer_delay_mode(model):
            model(frames)

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--axes", nargs="+", default=list(AXES), choices=list(AXES))
    scaling.add_arguments(ap)
    args = ap.parse_args(argv)
    axes_values = {a: v[:args.points] if args.points else v for a, v in AXES.items()}
    plan = list(scaling.axis_points(BASE, axes_values, args.axes))
    makers = {lib: functools.partial(make_run, lib) for lib in LIBRARIES}
    points = scaling.measure(plan, makers, args.repeat, args.threads, not args.no_memory)
    rows = scaling.curve_rows(points, args.axes, lambda lib, axis: EXPECTED[lib][axis])
    config = {"base": BASE, "axes": {a: axes_values[a] for a in args.axes}, "threads": args.threads,
              "clock": "thread CPU time" if args.threads == 1 else "wall", "repeat": args.repeat,
              "network": f"{bench_event_sim.N_IN}-N-N-{bench_event_sim.N_OUT}, delays <= 24 steps",
              "ratio": "library time / event-simulator time at each point (min..max over the curve)"}
    scaling.write_curves("scaling_event", "Event-driven simulator scaling: growth exponents of time and memory",
                         rows, config, points)
    if not args.no_plots:
        scaling.plot_curves(DOCS / "scaling_event.png", args.axes, points, BASE,
                            "Event-driven simulator vs the torch model (inference, integer delays)",
                            time_label="time per run (ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
