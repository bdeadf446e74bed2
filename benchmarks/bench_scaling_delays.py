"""Scaling of the learnable-delay layer: time and peak memory against T, N, batch, input density and sigma,
``DelayedLinear`` against DCLS ``Dcls1d`` (SNN-delays padding).

One training step per point, a hidden layer's: forward over the sequence, backward of a fixed dense
random gradient on every output to the input, the weights and the positions (SIG frozen, as the
reference trains it). Input: binary spikes at the given density. Each axis varies around the base
point ``T=100, B=16, N=128 (Cin = Cout), density=0.1, sigma=12, K=25`` with the others fixed.

Time: both libraries of a point interleaved round-robin, median of ``--repeat`` after a warm-up, on
one thread as that thread's CPU time (``time.thread_time``: a shared, loaded machine disturbs it
least; ``--threads 2`` measures wall clock). Memory: in a fresh process per library, the peak resident
memory a step adds above what its inputs and parameters already hold (``VmHWM`` after
``/proc/self/clear_refs``, minus ``VmRSS`` before), glibc's mmap threshold fixed so freed tensors leave.

Writes ``benchmarks/results/scaling_delays.json`` (every point, plus the log-log growth exponent of
each curve), ``scaling_delays.md`` and the plot ``docs/scaling_delays.png``.
Run: ``.venv/bin/python -m benchmarks.bench_scaling_delays [--axes T N ...] [--repeat 3] [--points K]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks import scaling

K = 25
BASE = {"T": 100, "B": 16, "N": 128, "density": 0.1, "sigma": 12.0}
AXES = {"T": [25, 50, 100, 200, 400, 800], "B": [1, 4, 16, 64], "N": [32, 64, 128, 256, 512],
        "density": [0.01, 0.03, 0.1, 0.3, 1.0], "sigma": [0.23, 1.0, 3.0, 7.0, 12.0]}
# Growth of spikerec's time an ideal implementation shows: linear in T and B; quadratic in N (Cin x Cout
# synapses); in the density between 0 (the dense input gradient dominates) and 1 (the event-driven
# forward and kernel gradient); in sigma none, except the drop where the low-rank input gradient starts.
EXPECTED = {"T": "1", "B": "1", "N": "2", "density": "0..1", "sigma": "<= 0"}
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _inputs(p: dict):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(p["T"], p["B"], p["N"], generator=g) < p["density"]).float()
    return x, torch.randn(p["T"], p["B"], p["N"], generator=g)


def spikerec_step(p: dict):
    from spikerec.delays import DelayedLinear

    torch.manual_seed(0)
    layer = DelayedLinear(p["N"], p["N"], max_delay_ms=float(K), dt_ms=1.0, sigma=p["sigma"])
    return _step(layer, layer, p)


def dcls_step(p: dict):
    from DCLS.construct.modules import Dcls1d

    torch.manual_seed(0)
    m = Dcls1d(p["N"], p["N"], kernel_count=1, groups=1, dilated_kernel_size=K, bias=False, version="gauss")
    with torch.no_grad():
        torch.nn.init.uniform_(m.P, (-K) // 2, K // 2)
        m.clamp_parameters()
        m.SIG.fill_(p["sigma"])
    m.SIG.requires_grad_(False)
    return _step(m, lambda x: m(F.pad(x.permute(1, 2, 0), (K - 1, 0))).permute(2, 0, 1), p)


def _step(module, forward, p):
    x0, grad = _inputs(p)

    def run():
        module.zero_grad(set_to_none=True)
        x = x0.clone().requires_grad_(True)
        forward(x).backward(grad)

    return run


LIBRARIES = {"spikerec": spikerec_step, "Dcls1d": dcls_step}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--axes", nargs="+", default=list(AXES), choices=list(AXES))
    scaling.add_arguments(ap)
    args = ap.parse_args(argv)
    if args.points:
        for axis in AXES:
            AXES[axis] = AXES[axis][:args.points]
    plan = list(scaling.axis_points(BASE, AXES, args.axes))
    points = scaling.measure(plan, LIBRARIES, args.repeat, args.threads, not args.no_memory)
    rows = scaling.curve_rows(points, args.axes, lambda lib, axis: EXPECTED[axis] if lib == "spikerec" else "")
    config = {"base": BASE, "K": K, "axes": {a: AXES[a] for a in args.axes}, "threads": args.threads,
              "clock": "thread CPU time" if args.threads == 1 else "wall", "repeat": args.repeat,
              "work": "forward + backward of a fixed dense random gradient to input, weights, positions",
              "ratio": "Dcls1d time / spikerec time at each point (min..max over the curve)"}
    scaling.write_curves("scaling_delays", "DelayedLinear scaling: growth exponent of time and peak memory", rows,
                         config, points)
    if not args.no_plots:
        out = DOCS / "scaling_delays.png"
        scaling.plot_curves(out, args.axes, points, BASE, "DelayedLinear vs Dcls1d: one training step (forward + "
                            f"dense-gradient backward), K={K}", time_label="time per step (ms)",
                            xlabels={"density": "input density", "sigma": "sigma (DCLS SIG, steps)"},
                            ideal=EXPECTED.get)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
