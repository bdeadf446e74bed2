"""Peak training memory vs sequence length T: BPTT vs SLTT-style online training.

One training step (forward + backward of the SNN-delays loss) of the ``shd-delays`` network
(140 inputs, 2 x 256 LIF with learnable delays, 25-step kernels, 20 classes) on random spike input
[T, B=64, 140]. BPTT keeps every layer's activations for all T steps; SLTT (``train.sltt = true``,
:mod:`spikerec.training.sltt`) runs the network in chunks and backpropagates each layer's chunk as soon
as its gradient is complete (the delay window's graph is kept, the neuron state's temporal routes are
dropped), so its graph covers O(layers x (chunk + K)) steps and memory should stay flat in T. Memory
is the peak RSS of a fresh process (``harness.peak_rss_mib``: imports, model, one warm-up and one
measured step), so the interesting number is the growth over the shortest T. SLTT pays for the flat
memory with time: it runs the network twice (a no-grad pass for dL/dS, then the chunked backward
pass), its neurons step by step.

Run: ``.venv/bin/python -m benchmarks.bench_sltt_memory [--steps 25 50 100 200]``.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import harness

THREADS = 2
BATCH = 64


def make_step(mode: str, steps: int):
    """Zero-arg callable running one training step (forward + backward) in ``mode`` (bptt | sltt)."""
    import torch

    from spikerec.config import load_recipe
    from spikerec.models import build_model
    from spikerec.training import sltt_backward, softmax_sum_cross_entropy

    torch.manual_seed(0)
    model = build_model(load_recipe("shd-delays"), 140, 20)
    frames = (torch.rand(steps, BATCH, 140) < 0.05).float()
    labels = torch.randint(0, 20, (BATCH,))

    def step():
        model.zero_grad(set_to_none=True)
        if mode == "sltt":
            sltt_backward(model, frames, labels)
        else:
            softmax_sum_cross_entropy(model(frames), labels).backward()

    return step


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100, 200])
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    rows = []
    base: dict[str, float] = {}
    for steps in args.steps:
        row = {"T": steps}
        for mode in ("bptt", "sltt"):
            started = time.perf_counter()
            peak = harness.peak_rss_mib(make_step, mode, steps, threads=THREADS)
            base.setdefault(mode, peak)
            row[f"{mode}_peak_mib"] = round(peak, 1)
            row[f"{mode}_growth_mib"] = round(peak - base[mode], 1)
            print(f"T={steps} {mode}: peak {peak:.0f} MiB ({time.perf_counter() - started:.0f} s incl. start-up)",
                  file=sys.stderr)
        rows.append(row)
    harness.write_result(
        "sltt_memory", "Peak training memory vs T: BPTT vs SLTT (shd-delays network, one training step)", rows,
        {"batch": BATCH, "hidden": [256, 256], "max_delay_steps": 25, "threads": THREADS,
         "measure": "peak RSS of a fresh process; growth = peak - peak at the smallest T"},
        columns=["T", "bptt_peak_mib", "bptt_growth_mib", "sltt_peak_mib", "sltt_growth_mib"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
