"""Gradient fidelity of SLTT on the ``shd-delays`` network: cosine similarity with BPTT, per parameter tensor.

One batch of random spike input [T=100, B=64, 140] (5 % of the entries spike), the ``shd-delays`` network
(140 -> 2 x 256 LIF with learnable delays, 25-step kernels -> 20 LI readouts), dropout off (its masks are drawn
in a different order per chunk), at the initial sigma (12 steps) and the final sigma (0.23). Three comparisons
of the SLTT gradient (:func:`spikerec.training.sltt_backward`) with BPTT (``model(frames)`` + ``backward``):

* ``bn_batch``: the recipe as trained, BatchNorm with batch statistics. SLTT must normalise each step with that
  step's statistics (online: the statistics pooled over all T are known only after the sequence), BPTT pools
  all T steps: the two *forward* passes differ, not only the gradients.
* ``bn_fixed``: BatchNorm with fixed statistics (eval mode) in both, set to this batch's pooled statistics (one
  no-grad training-mode forward with momentum 1): the same forward as ``bn_batch``'s BPTT up to the statistics'
  own gradient, so the gap is the method alone (SLTT drops the neuron state's temporal routes; the delayed
  synaptic routes are kept). A network without BatchNorm is silent above the first layer at initialisation
  (zero gradients), so it is no control here; the tests pin that case on a small network.

Run: ``.venv/bin/python -m benchmarks.bench_sltt_gradients``.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import harness

THREADS = 2
BATCH, STEPS = 64, 100


def cosines(variant: str, sigma: float | None) -> dict[str, float]:
    """Cosine similarity SLTT vs BPTT per weight/position/BN tensor of the ``variant`` network at ``sigma``."""
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
    if variant == "bn_fixed":
        for block in model.blocks:
            block.norm.momentum = 1.0  # running statistics := this batch's pooled statistics
        with torch.no_grad():
            model(frames)
        for block in model.blocks:
            block.norm.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}

    softmax_sum_cross_entropy(model(frames), labels).backward()
    bptt = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.load_state_dict(state)
    model.zero_grad(set_to_none=True)
    sltt_backward(model, frames, labels)
    sltt = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    if any(float(g.norm()) == 0.0 for g in bptt.values()):
        raise RuntimeError(f"{variant}: a BPTT gradient is zero (silent layer): no cosine to measure")
    return {name: round(float(torch.nn.functional.cosine_similarity(g.flatten(), sltt[name].flatten(), dim=0)), 4)
            for name, g in bptt.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    harness.set_threads(THREADS)
    from spikerec.config import load_recipe

    final = load_recipe("shd-delays").delays.sigma_final
    rows = []
    for variant in ("bn_batch", "bn_fixed"):
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
