"""Time per training step: BPTT vs SLTT vs SLTT-K on the ``shd-delays`` network.

One training step (forward + backward of the SNN-delays loss; no optimiser step) of the ``shd-delays`` network
(140 -> 2 x 256 LIF with learnable delays, 25-step kernels -> 20) on random spike input [T, B=64, 140] (5 % of
the entries spike), dropout 0.4 and BatchNorm as in the recipe, at the initial and the final sigma. BPTT is
``model(frames)`` + ``backward``; SLTT is :func:`spikerec.training.sltt_backward` (a no-grad pass, then the
chunked backward pass); SLTT-K backpropagates K random steps only. The three run interleaved in one process
(median of repetitions after warm-up); an epoch is a fixed number of such steps, so the ratio is the epoch's.

Run: ``.venv/bin/python -m benchmarks.bench_sltt_time [--steps 100] [--k 10]``.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import harness

THREADS = 2
BATCH = 64


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    import torch

    from spikerec.config import load_recipe
    from spikerec.delays import set_sigma
    from spikerec.models import build_model
    from spikerec.training import sltt_backward, softmax_sum_cross_entropy

    recipe = load_recipe("shd-delays")
    torch.manual_seed(0)
    model = build_model(recipe, 140, 20).train()
    frames = (torch.rand(args.steps, BATCH, 140) < 0.05).float()
    labels = torch.randint(0, 20, (BATCH,))

    def bptt():
        model.zero_grad(set_to_none=True)
        softmax_sum_cross_entropy(model(frames), labels).backward()

    def sltt(k: int = 0):
        model.zero_grad(set_to_none=True)
        sltt_backward(model, frames, labels, k_steps=k)

    rows = []
    for label, sigma in (("initial", None), ("final", recipe.delays.sigma_final)):
        if sigma is not None:
            set_sigma(model, sigma)
        times = harness.time_interleaved({"bptt": bptt, "sltt": sltt, "sltt_k": lambda: sltt(args.k)},
                                         repeat=args.repeat, warmup=1)
        row = {"sigma": label, **{f"{name}_s": t["median_s"] for name, t in times.items()}}
        row["sltt_ratio"] = row["sltt_s"] / row["bptt_s"]
        row["sltt_k_ratio"] = row["sltt_k_s"] / row["bptt_s"]
        print(row, file=sys.stderr)
        rows.append(row)
    harness.write_result(
        "sltt_time", "Time per training step: BPTT vs SLTT vs SLTT-K (shd-delays network; ratio = x BPTT)", rows,
        {"batch": BATCH, "T": args.steps, "K": args.k, "threads": THREADS, "repeat": args.repeat,
         "input": "random spikes p=0.05", "machine_load": "shared, loaded (2 cores, several engineers)"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
