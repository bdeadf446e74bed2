"""Workload counting, spikerec ``count_workload`` vs NeuroBench ``SynapticOperations + ActivationSparsity``.

Workload: an SHD-sized recurrent SNN (140 -> 256 -> 256 recurrent LIF -> 20 LI, 30 % of the weights
pruned), ``T=100, B=64`` binned frames (5 % non-zero, counts 1-2). spikerec counts every workload figure
(synaptic ops incl. recurrent, activation sparsity, memory traffic) in one forward with hooks;
NeuroBench runs its ``Benchmark`` with the two metrics on :func:`neurobench_view` (which lets it see the
recurrent synapses), as its users do. Both give the same numbers (checked in the run).

Run: ``.venv/bin/python -m benchmarks.bench_energy [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import sys

import torch

from benchmarks import harness

T, B, C = 100, 64, 140
THREADS = 2


def _model_and_frames():
    from spikerec.config import load_recipe
    from spikerec.models import build_model

    recipe = load_recipe("synthetic", ["model.hidden_sizes=[256,256]", "model.kind=lif_rsnn", "model.delays=false",
                                       "model.dropout=0.0"])
    torch.manual_seed(0)
    model = build_model(recipe, C, 20).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() >= 2:
                p.mul_(3.0 * (torch.rand(p.shape, generator=g) < 0.7))
    frames = (torch.rand(T, B, C, generator=g) < 0.05).float() * torch.randint(1, 3, (T, B, C), generator=g).float()
    return model, frames


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    harness.set_threads(THREADS)

    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel
    from torch.utils.data import DataLoader, TensorDataset

    from spikerec.hardware.energy.counts import count_workload
    from spikerec.hardware.energy.neurobench import neurobench_view
    from spikerec.neurons import LIF

    model, frames = _model_and_frames()
    wrapped = TorchModel(neurobench_view(model))
    wrapped.add_activation_module(LIF)
    loader = DataLoader(TensorDataset(frames.transpose(0, 1), torch.zeros(B, dtype=torch.long)), batch_size=B)
    bench = Benchmark(wrapped, loader, [], [], [[], [SynapticOperations, ActivationSparsity]])

    def ours():
        return count_workload(model, frames)

    def peer():
        with torch.no_grad():
            return bench.run(quiet=True)

    w, nb = ours(), peer()
    total = w.per_sample()["total"]
    ours_ops = total["synaptic_ops"] + total["recurrent_ops"]
    peer_ops = nb["SynapticOperations"]["Effective_ACs"] + nb["SynapticOperations"]["Effective_MACs"]
    if abs(ours_ops - peer_ops) > 1e-9 * peer_ops or abs(w.activation_sparsity - nb["ActivationSparsity"]) > 1e-9:
        print(f"bench_energy: counts disagree (synops {ours_ops} vs {peer_ops}, sparsity {w.activation_sparsity} vs "
              f"{nb['ActivationSparsity']}); not timing", file=sys.stderr)
        return 1
    t_ours = harness.time_median(ours, repeat=args.repeat)
    t_peer = harness.time_median(peer, repeat=args.repeat)
    rows = [{"task": "synaptic ops + activation sparsity", "spikerec_s": t_ours["median_s"],
             "neurobench_s": t_peer["median_s"], "ratio": t_peer["median_s"] / t_ours["median_s"],
             "synops_spikerec": ours_ops, "synops_neurobench": peer_ops,
             "sparsity_spikerec": w.activation_sparsity, "sparsity_neurobench": nb["ActivationSparsity"]}]
    path = harness.write_result(
        "energy", "Workload counting: spikerec count_workload vs NeuroBench (same model, same frames)", rows,
        {"T": T, "B": B, "C": C, "hidden": "256,256 recurrent LIF", "pruned": "30 %", "threads": THREADS,
         "repeat": args.repeat})
    print(path.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
