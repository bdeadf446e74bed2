"""Scaling of the LIF family (LIF, RecurrentLIF, AdaptiveLIF): time and peak memory against T, N, batch and
input density, spikerec against the peers that run the same layer.

One training step per point: forward over the sequence, backward of a fixed dense random gradient on the
spikes. Input currents are sparse events: ``x = (U < density) * amplitude``, the amplitude chosen per layer
so that one input event drives a resting neuron to threshold (so the output activity follows the density).
Each axis varies around the base point ``T=100, B=16, N=256, density=0.1`` with the others fixed.

Peers: LIF vs SpikingJelly ``LIFNode(step_mode='m')`` and snntorch ``Leaky`` (looped over T);
RecurrentLIF vs snntorch ``RLeaky(all_to_all=True)`` (same dynamics: no recurrent bias, no reset delay);
AdaptiveLIF vs the same equations as a plain autograd loop (no peer library has this adLIF).

Time: all libraries of a point interleaved round-robin, median of ``--repeat`` after a warm-up, on one
thread by default and measured as that thread's CPU time (``time.thread_time``), which a shared, loaded
machine disturbs least (``--threads 2`` measures wall clock instead). Memory: in a fresh process per
(layer, library), the peak resident memory a step adds above what its inputs and parameters already hold
(``VmHWM`` after ``/proc/self/clear_refs``, minus ``VmRSS`` before the step); glibc's mmap threshold is fixed
and ``malloc_trim`` runs before each step, so freed memory (large tensors or many small per-step ones) has
left the resident set and every library's step is charged for all it allocates.

Writes ``benchmarks/results/scaling_neurons.json`` (every point), a summary table ``scaling_neurons.md``
(log-log growth exponent per curve) and plots ``docs/scaling_neurons_{lif,recurrent,adaptive}.png``.
Run: ``.venv/bin/python -m benchmarks.bench_scaling_neurons [--layers LIF ...] [--axes T N ...] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import torch

from benchmarks import bench_lif, harness, scaling

BASE = {"T": 100, "B": 16, "N": 256, "density": 0.1}
AXES = {"T": [25, 50, 100, 200, 400, 800], "B": [1, 4, 16, 64, 256], "N": [64, 128, 256, 512, 1024, 2048],
        "density": [0.01, 0.03, 0.1, 0.3, 1.0]}
# Growth exponent of spikerec's time an ideal implementation shows: linear in T and B; in N linear without
# recurrence, quadratic with N x N weights (the dense backward product); none in the input density without
# recurrence (a dense kernel), up to linear with it (the event-driven forward; the backward stays dense).
EXPECTED = {"T": "1", "B": "1", "N": {"LIF": "1", "RecurrentLIF": "2", "AdaptiveLIF": "2"},
            "density": {"LIF": "0", "RecurrentLIF": "0..1", "AdaptiveLIF": "0..1"}}
PLOTS = {"LIF": "lif", "RecurrentLIF": "recurrent", "AdaptiveLIF": "adaptive"}
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _inputs(T: int, B: int, N: int, density: float, amplitude: float):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(T, B, N, generator=g) < density).float() * amplitude
    return x, torch.randn(T, B, N, generator=g)


def _step(fn, T, B, N, density, amplitude):
    """Zero-arg callable: fresh leaf input, forward, backward of a fixed dense gradient on the spikes."""
    x0, grad = _inputs(T, B, N, density, amplitude)

    def run():
        x = x0.clone().requires_grad_(True)
        fn(x).backward(grad)

    return run


# --- LIF: tau = 2 steps, hard reset to 0, threshold 1 (input decay: one event of 2.5 reaches 1.25) ---------------

def lif_spikerec(T, B, N, density):
    from spikerec.neurons import LIF

    return _step(LIF(N, tau_ms=2.0, dt_ms=1.0), T, B, N, density, 2.5)


def lif_spikingjelly(T, B, N, density):
    return _step(bench_lif.spikingjelly_lif(), T, B, N, density, 2.5)


def lif_snntorch(T, B, N, density):
    return _step(bench_lif.snntorch_leaky(), T, B, N, density, 2.5)


# --- RecurrentLIF: as LIF without input decay (one event of 1.5 spikes), N x N weights +-1/sqrt(N) --------------

def recurrent_spikerec(T, B, N, density):
    from spikerec.neurons import RecurrentLIF

    torch.manual_seed(0)
    return _step(RecurrentLIF(N, tau_ms=2.0, dt_ms=1.0, decay_input=False), T, B, N, density, 1.5)


def recurrent_snntorch(T, B, N, density):
    return _step(bench_lif.snntorch_rleaky(N), T, B, N, density, 1.5)


# --- AdaptiveLIF: recurrent, tau 20 ms, adaptation 150 ms, a = 0, b = 1 (one event of 25 adds 1.25) --------------

def _adaptive(N):
    from spikerec.neurons import AdaptiveLIF

    torch.manual_seed(0)
    return AdaptiveLIF(N, tau_ms=20.0, tau_adapt_ms=150.0, recurrent=True)


def adaptive_spikerec(T, B, N, density):
    return _step(_adaptive(N), T, B, N, density, 25.0)


def adaptive_autograd(T, B, N, density):
    return _step(bench_lif.autograd_adlif(_adaptive(N), return_membrane=False), T, B, N, density, 25.0)


LAYERS = {
    "LIF": {"spikerec": (lif_spikerec, None), "SpikingJelly LIFNode": (lif_spikingjelly, "spikingjelly"),
            "snntorch Leaky": (lif_snntorch, "snntorch")},
    "RecurrentLIF": {"spikerec": (recurrent_spikerec, None), "snntorch RLeaky": (recurrent_snntorch, "snntorch")},
    "AdaptiveLIF": {"spikerec": (adaptive_spikerec, None), "plain autograd loop": (adaptive_autograd, None)},
}


def _make_step(layer: str, lib: str, p: dict):
    """The training step of ``layer`` in ``lib`` at point ``p`` (picklable through functools.partial)."""
    return LAYERS[layer][lib][0](p["T"], p["B"], p["N"], p["density"])


def _ideal(axis: str, layer: str) -> str:
    """The growth exponent an ideal implementation of ``layer`` shows along ``axis`` (``EXPECTED``)."""
    return EXPECTED[axis] if isinstance(EXPECTED[axis], str) else EXPECTED[axis][layer]


def measure(layers: list[str], axes: list[str], repeat: int, threads: int, with_memory: bool) -> list[dict]:
    """Every point of every curve: ``{"layer", "axis", "value", "library", T, B, N, density, "time_s", "peak_mib"}``."""
    plan = list(scaling.axis_points(BASE, AXES, axes))
    points = []
    for layer in layers:
        makers = {lib: functools.partial(_make_step, layer, lib) for lib, spec in LAYERS[layer].items()
                  if bench_lif.available(spec[1])}
        points += scaling.measure(plan, makers, repeat, threads, with_memory, tag={"layer": layer})
    return points


def summarise(points: list[dict]) -> list[dict]:
    """One row per (layer, axis): spikerec's growth exponents (time over the whole curve and between its two
    largest points, memory) next to the ideal one, and per peer its time exponent and the range of
    peer/spikerec time ratios over the curve."""
    rows = []
    for layer, axis in dict.fromkeys((q["layer"], q["axis"]) for q in points):
        curve = [q for q in points if q["layer"] == layer and q["axis"] == axis]
        ours = [q for q in curve if q["library"] == "spikerec"]
        xs = [q["value"] for q in ours]
        ideal = _ideal(axis, layer)
        row = {"layer": layer, "axis": axis, "range": f"{xs[0]:g}..{xs[-1]:g}",
               "time_exponent": scaling.growth_exponent(xs, [q["time_s"] for q in ours]),
               "time_exponent_top": scaling.growth_exponent(xs[-2:], [q["time_s"] for q in ours[-2:]]), "ideal_exponent": ideal,
               "memory_exponent": scaling.growth_exponent(xs, [q["peak_mib"] for q in ours]),
               "time_at_max_s": ours[-1]["time_s"], "peak_mib_at_max": ours[-1]["peak_mib"]}
        peers = [lib for lib in dict.fromkeys(q["library"] for q in curve) if lib != "spikerec"]
        by_value = {q["value"]: q["time_s"] for q in ours}
        described = []
        for lib in peers:
            pts = [q for q in curve if q["library"] == lib]
            ratios = [q["time_s"] / by_value[q["value"]] for q in pts]
            exponent = scaling.growth_exponent([q["value"] for q in pts], [q["time_s"] for q in pts])
            described.append(f"{lib}: exponent {exponent:.2f}, {min(ratios):.1f}x..{max(ratios):.1f}x")
        row["peers (time exponent, ratio peer/spikerec)"] = "; ".join(described)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS))
    ap.add_argument("--axes", nargs="+", default=list(AXES), choices=list(AXES))
    scaling.add_arguments(ap)
    ap.add_argument("--from-results", action="store_true",
                    help="measure nothing: summarise and plot the points already in results/scaling_neurons.json")
    args = ap.parse_args(argv)
    path = harness.RESULTS_DIR / "scaling_neurons.json"
    if args.from_results:
        previous = json.loads(path.read_text())
        points, config = previous["points"], previous["config"]
        for axis, values in config["axes"].items():
            AXES[axis] = values
        layers = list(dict.fromkeys(q["layer"] for q in points))
        axes = list(config["axes"])
    else:
        if args.points:
            for axis in AXES:
                AXES[axis] = AXES[axis][:args.points]
        layers, axes = args.layers, args.axes
        points = measure(layers, axes, args.repeat, args.threads, not args.no_memory)
        config = {"base": BASE, "axes": {a: AXES[a] for a in axes}, "threads": args.threads,
                  "clock": "thread CPU time" if args.threads == 1 else "wall", "repeat": args.repeat,
                  "work": "forward + backward of a fixed dense random gradient on the spikes"}
    rows = summarise(points)
    harness.write_result("scaling_neurons", "LIF family scaling: growth exponents of time and peak memory", rows,
                         config)
    payload = json.loads(path.read_text())
    payload["points"] = points
    path.write_text(json.dumps(payload, indent=2) + "\n")
    if not args.no_plots:
        for layer in layers:
            out = DOCS / f"scaling_neurons_{PLOTS[layer]}.png"
            scaling.plot_curves(out, axes, [q for q in points if q["layer"] == layer], BASE,
                                f"{layer}: training step (forward + backward, dense gradient), spikerec vs peers",
                                time_label="time per step (ms)", xlabels={"density": "input density"},
                                ideal=lambda axis, layer=layer: _ideal(axis, layer))
            print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
