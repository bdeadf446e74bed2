"""Gradient fidelity of SLTT on the ``shd-delays`` network: cosine similarity with BPTT, per parameter tensor.

One batch of random spike input [T=100, B=64, 140] (5 % of the entries spike), the ``shd-delays`` network
(140 -> 2 x 256 LIF with learnable delays, 25-step kernels -> 20 LI readouts), dropout off (its masks are drawn
in a different order per chunk), at the initial sigma (12 steps) and the final sigma (0.23). Three comparisons
of gradients (SLTT: :func:`spikerec.training.sltt_backward`; BPTT ``model(frames)`` + ``backward``):

* ``bn_batch``: the recipe as trained, BatchNorm with batch statistics. SLTT must normalise each step with that
  step's statistics (online: the statistics pooled over all T are known only after the sequence), BPTT pools
  all T steps: the two *forward* passes differ, not only the gradients.
* ``bn_fixed``: BatchNorm with fixed statistics (eval mode) in both, set to this batch's pooled statistics (one
  no-grad training-mode forward with momentum 1): the same forward in both, so the gap is the method alone
  (SLTT drops the neuron state's temporal routes; the delayed synaptic routes are kept).
* ``stats_route``: BPTT against BPTT with the fixed statistics: how much of BPTT's gradient runs through the
  BatchNorm statistics (the route from every step and sample through the batch mean and variance), the part
  no method that treats the statistics as constants (as any online method must) can recover.

A network without BatchNorm is silent above the first layer at initialisation (zero gradients), so it is no
control here; the tests pin that case on a small network.

Run: ``.venv/bin/python -m benchmarks.bench_sltt_gradients``.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import harness

THREADS = 2
BATCH, STEPS = 64, 100


COMPARISONS = {  # name: (gradient A, gradient B), each (method, BatchNorm statistics)
    "bn_batch": (("bptt", "batch"), ("sltt", "batch")),
    "bn_fixed": (("bptt", "fixed"), ("sltt", "fixed")),
    "stats_route": (("bptt", "batch"), ("bptt", "fixed")),
}


def gradients(method: str, stats: str, sigma: float | None) -> dict:
    """Gradients of one batch of the ``shd-delays`` network (dropout off) at ``sigma``: ``method`` bptt | sltt,
    BatchNorm ``stats`` batch (training mode) | fixed (eval mode with this batch's pooled statistics)."""
    import torch

    from spikerec.config import load_recipe
    from spikerec.delays import set_sigma
    from spikerec.models import build_model
    from spikerec.training import sltt_backward, softmax_sum_cross_entropy

    torch.manual_seed(0)
    model = build_model(load_recipe("shd-delays", ["model.dropout=0.0"]), 140, 20)
    if sigma is not None:
        set_sigma(model, sigma)
    model.train()
    frames = (torch.rand(STEPS, BATCH, 140) < 0.05).float()
    labels = torch.randint(0, 20, (BATCH,))
    if stats == "fixed":
        for block in model.blocks:
            block.norm.momentum = 1.0  # running statistics := this batch's pooled statistics
        with torch.no_grad():
            model(frames)
        for block in model.blocks:
            block.norm.eval()
    if method == "sltt":
        sltt_backward(model, frames, labels)
    else:
        softmax_sum_cross_entropy(model(frames), labels).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    if any(float(g.norm()) == 0.0 for g in grads.values()):
        raise RuntimeError(f"{method}/{stats}: a gradient is zero (silent layer): no cosine to measure")
    return grads


def cosines(comparison: str, sigma: float | None) -> dict[str, float]:
    """Cosine similarity per weight/position/BN tensor of the two gradients of ``comparison`` at ``sigma``."""
    import torch

    first, second = (gradients(*which, sigma) for which in COMPARISONS[comparison])
    return {name: round(float(torch.nn.functional.cosine_similarity(g.flatten(), second[name].flatten(), dim=0)), 4)
            for name, g in first.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    harness.set_threads(THREADS)
    from spikerec.config import load_recipe

    final = load_recipe("shd-delays").delays.sigma_final
    rows = []
    for variant in COMPARISONS:
        for label, sigma in (("initial", None), ("final", final)):
            row = {"variant": variant, "sigma": label, **cosines(variant, sigma)}
            tensors = [k for k in row if k.endswith(("weight", "positions"))]
            row["min_weight_position"] = min(row[k] for k in tensors)
            print(row, file=sys.stderr)
            rows.append(row)
    harness.write_result(
        "sltt_gradients", "Cosine similarity of SLTT and BPTT gradients per tensor (shd-delays network, one batch)",
        rows, {"batch": BATCH, "T": STEPS, "input": "random spikes p=0.05", "dropout": 0.0,
               "sigma_initial": "recipe start (12 steps)", "sigma_final": final, "threads": THREADS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
