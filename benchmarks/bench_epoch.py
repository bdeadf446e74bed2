"""One training epoch of the ``shd-delays`` recipe: spikerec vs the SNN-delays reference model.

The reference is the model of Hammouamri et al.'s SNN-delays code, assembled from its building
blocks: DCLS ``Dcls1d`` (version "gauss", SIG frozen, input padded K-1 steps on the left so it is
causal like ``DelayedLinear``) -> ``BatchNorm1d`` over ``[T*B, C]`` -> SpikingJelly
``LIFNode(step_mode="m", decay_input=False, detach_reset=True, ATan(alpha=5))`` -> Dropout, and a
readout ``Dcls1d`` -> ``LIFNode(v_threshold=1e9)`` whose membrane sequence is the output (the
reference's readout); ``functional.reset_net`` after every batch. Both models start from the SAME
weights and delay positions (copied from the spikerec model), see the same batches in the same
order, use the same loss (cross-entropy of the summed per-step softmax), the same optimisers (Adam
weights lr 1e-3 / wd 1e-5, none on BatchNorm, OneCycle to 5e-3 per epoch; Adam positions lr 0.1,
cosine) and clamp positions after every step. Before training, the two models' outputs on the first
batch (eval mode) are compared and the gap is reported. Only dropout masks differ, so the loss curves agree within noise.

Data: synthetic SHD-layout files (700 channels pooled by 5 -> 140 inputs, 10 ms bins; the
synthetic samples are 0.4-0.9 s long, median 62 bins) with FEWER samples than SHD's 8156 (default
256 generated, ~243 after the 5 % validation hold-out: one batch of 256) so the benchmark finishes in minutes on 2 cores; time per
sample is what carries over. Each implementation trains ``warmup + repeat`` consecutive epochs, the
two alternating epoch by epoch (the machine is shared: both then see the same load); the timed ones
give the median epoch time, and the mean training loss of every epoch is reported.
Two phases are measured: the first epochs (sigma = K//2: wide Gaussian, dense kernel) and the
epochs after annealing (sigma = 0.23, 3/4 of a full run); the last row weights them like a full run.
Each is timed with 2 threads on the wall clock and with 1 thread on CPU time (``time.thread_time``:
on a shared, loaded machine the 2-thread wall clock also measures how each library copes with
descheduled threads; the 1-thread CPU time compares the work itself).

Run: ``.venv/bin/python -m benchmarks.bench_epoch [--samples 256] [--repeat 5] [--device cpu|cuda]
[--timings wall2 cpu1] [--phases early late]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks import harness

THREADS = 2


def load_batches(samples: int, batch_size: int, device: str):
    """Synthetic SHD-layout data, binned/pooled like shd-delays, collated once into fixed batches."""
    from spikerec.datasets import build_frame_datasets, pad_collate
    from spikerec.datasets.synthetic import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        synthesize("shd", tmp, n_train=samples, n_test=32, seed=0)
        data = build_frame_datasets(tmp, dataset="shd", bin_ms=10.0, pool=5, val_fraction=0.05, cache_dir=False)
    train = data["train"]
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).tolist()
    batches = []
    for start in range(0, len(order), batch_size):
        frames, labels = pad_collate([train[i] for i in order[start:start + batch_size]])[:2]  # (+ lengths or window)
        batches.append((frames.to(device), labels.to(device)))
    return batches, train.n_channels, train.n_classes


def class_loss(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(F.softmax(out, dim=2).sum(0), labels)


class ReferenceSNN(nn.Module):
    """SNN-delays model from Dcls1d + SpikingJelly LIFNode, initialised from a spikerec SpikingNetwork."""

    def __init__(self, source: nn.Module, tau_steps: float):
        super().__init__()
        from DCLS.construct.modules import Dcls1d
        from spikingjelly.activation_based import neuron, surrogate

        def dcls_from(layer):
            m = Dcls1d(layer.in_features, layer.out_features, kernel_count=layer.kernel_count, groups=1,
                       dilated_kernel_size=layer.max_delay_steps, bias=False, version="gauss")
            with torch.no_grad():
                m.weight.copy_(layer.weight)
                m.P.copy_(layer.positions.unsqueeze(0))
                m.SIG.fill_(layer.sigma)
            m.SIG.requires_grad_(False)
            return m

        def lif(threshold, store_v):
            return neuron.LIFNode(tau=tau_steps, v_threshold=threshold, v_reset=0.0, decay_input=False,
                                  detach_reset=True, surrogate_function=surrogate.ATan(alpha=5.0), step_mode="m",
                                  store_v_seq=store_v)

        self.k = source.blocks[0].synapse.max_delay_steps
        self.convs = nn.ModuleList(dcls_from(b.synapse) for b in source.blocks)
        self.norms = nn.ModuleList(nn.BatchNorm1d(b.synapse.out_features) for b in source.blocks)
        self.lifs = nn.ModuleList(lif(1.0, False) for _ in source.blocks)
        self.dropouts = nn.ModuleList(nn.Dropout(b.dropout.p if b.dropout is not None else 0.0) for b in source.blocks)
        self.out_conv = dcls_from(source.readout.synapse)
        self.out_lif = lif(1e9, True)

    def _delay(self, conv, x):
        return conv(F.pad(x.permute(1, 2, 0), (self.k - 1, 0))).permute(2, 0, 1)

    def forward(self, x):
        for conv, norm, lif, drop in zip(self.convs, self.norms, self.lifs, self.dropouts):
            y = self._delay(conv, x)
            y = norm(y.flatten(0, 1)).view(y.shape)
            x = drop(lif(y.contiguous()))
        self.out_lif(self._delay(self.out_conv, x).contiguous())
        return self.out_lif.v_seq

    def clamp(self):
        for conv in [*self.convs, self.out_conv]:
            conv.clamp_parameters()

    def reset_states(self):
        from spikingjelly.activation_based import functional

        functional.reset_net(self)


def reference_optimizers(model: ReferenceSNN, recipe):
    """The SNN-delays optimisers and per-epoch schedules, written out as in the reference code."""
    o, epochs = recipe.optim, recipe.train.epochs
    weights = [c.weight for c in [*model.convs, model.out_conv]]
    bn = [p for n in model.norms for p in n.parameters()]
    positions = [c.P for c in [*model.convs, model.out_conv]]
    opt_w = torch.optim.Adam([{"params": weights, "weight_decay": o.weight_decay},
                              {"params": bn, "weight_decay": 0.0}], lr=o.lr)
    opt_p = torch.optim.Adam(positions, lr=o.positions_lr, weight_decay=0.0)
    schedules = [torch.optim.lr_scheduler.OneCycleLR(opt_w, max_lr=o.max_lr, total_steps=epochs),
                 torch.optim.lr_scheduler.CosineAnnealingLR(opt_p, T_max=epochs)]
    return [opt_w, opt_p], schedules


def epoch_runner(model, forward, batches, optimizers, schedulers, after_step, losses: list):
    """Zero-arg callable that trains one epoch (then steps the per-epoch schedules) and records its mean loss.

    These are the first epochs of the recipe's 150-epoch schedules (OneCycle starts at max_lr / 25)."""

    def run():
        model.train()
        total = 0.0
        for frames, labels in batches:
            loss = class_loss(forward(frames), labels)
            loss.backward()
            for opt in optimizers:
                opt.step()
                opt.zero_grad(set_to_none=True)
            after_step()
            total += loss.item()
        for scheduler in schedulers:
            scheduler.step()
        losses.append(total / len(batches))

    return run


def run_phase(recipe, batches, n_in, n_classes, sigma, args, dev, clock=time.perf_counter):
    """Fresh models with identical weights at ``sigma``; train both; return {name: (timing, losses)}, init gap."""
    from spikerec.delays import clamp_positions, set_sigma
    from spikerec.models import build_model
    from spikerec.training import build_optimizers

    sync = torch.cuda.synchronize if dev == "cuda" else None
    torch.manual_seed(0)
    ours = build_model(recipe, n_in, n_classes).to(dev)
    set_sigma(ours, sigma)
    ref = ReferenceSNN(ours, tau_steps=recipe.neuron.tau_ms / recipe.data.bin_ms).to(dev)
    ours.eval(), ref.eval()
    with torch.no_grad():
        ref.reset_states()
        init_gap = (ours(batches[0][0]) - ref(batches[0][0])).abs().max().item()
    ref.reset_states()
    runners = {
        "spikerec": (ours, ours, *build_optimizers(ours, recipe.optim, recipe.train.epochs),
                     lambda: clamp_positions(ours)),
        "reference": (ref, lambda x: (ref.reset_states(), ref(x))[1], *reference_optimizers(ref, recipe),
                      lambda: (ref.clamp(), ref.reset_states())),
    }
    losses: dict[str, list[float]] = {name: [] for name in runners}
    epochs = {name: epoch_runner(model, forward, batches, optimizers, schedulers, after, losses[name])
              for name, (model, forward, optimizers, schedulers, after) in runners.items()}
    started = time.perf_counter()
    # epochs alternate (spikerec, reference, spikerec, ...) so both see the same machine load
    timings = harness.time_interleaved(epochs, repeat=args.repeat, warmup=args.warmup, sync=sync, clock=clock)
    for name, timing in timings.items():
        print(f"sigma {sigma:.2f} {name}: median epoch {timing['median_s']:.2f} s, losses "
              f"{[round(v, 4) for v in losses[name]]}", file=sys.stderr)
    print(f"phase took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {name: (timings[name], losses[name]) for name in runners}, init_gap


# timing modes: (label, threads, clock); CPU time of one thread is the steadier measure on a loaded machine
TIMINGS = {"wall2": ("2 threads, wall", THREADS, time.perf_counter), "cpu1": ("1 thread, CPU time", 1, time.thread_time)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=256, help="training samples (SHD has 8156)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--timings", nargs="+", default=list(TIMINGS), choices=list(TIMINGS),
                    help="wall2: 2 threads, wall clock; cpu1: 1 thread, CPU time (CPU only)")
    ap.add_argument("--phases", nargs="+", default=["early", "late"], choices=["early", "late"])
    args = ap.parse_args(argv)
    timings = ["wall2"] if args.device == "cuda" else args.timings
    harness.set_threads(THREADS)
    from spikerec.config import load_recipe
    from spikerec.delays import SigmaAnnealing

    recipe = load_recipe("shd-delays")
    dev = args.device
    batches, n_in, n_classes = load_batches(args.samples, recipe.train.batch_size, dev)
    n_samples = sum(len(labels) for _, labels in batches)
    print(f"{n_samples} samples, {len(batches)} batches, T max {max(f.shape[0] for f, _ in batches)}",
          file=sys.stderr)
    k = int(round(recipe.delays.max_delay_ms / recipe.data.bin_ms))
    schedule = SigmaAnnealing.reference(k, recipe.train.epochs)
    anneal = schedule.anneal_epochs
    # Early epochs run with a wide Gaussian (sigma K//2); after epochs//4 it stays at 0.23, where
    # most of the kernel taps are zero. A full run spends ~1/4 of its epochs in the first regime.
    phases = {"early": ("early (sigma=K//2, epoch 0)", schedule.sigma_at(0), anneal),
              "late": (f"late (sigma=0.23, epochs >= {anneal})", schedule.sigma_at(anneal),
                       recipe.train.epochs - anneal)}
    rows, gaps = [], []
    for mode in timings:
        label_t, threads, clock = TIMINGS[mode]
        harness.set_threads(threads)
        epoch_s = {"spikerec": 0.0, "reference": 0.0}
        for phase in args.phases:
            label, sigma, weight = phases[phase]
            results, init_gap = run_phase(recipe, batches, n_in, n_classes, sigma, args, dev, clock)
            (ours_t, ours_l), (ref_t, ref_l) = results["spikerec"], results["reference"]
            for name, (timing, _) in results.items():
                epoch_s[name] += weight * timing["median_s"]
            gaps.append(max(abs(a - b) for a, b in zip(ours_l, ref_l)) / statistics.mean(ours_l))
            rows.append({"phase": label, "timing": label_t, "device": dev, "spikerec_epoch_s": ours_t["median_s"],
                         "reference_epoch_s": ref_t["median_s"], "ratio": ref_t["median_s"] / ours_t["median_s"],
                         "spikerec_loss_per_epoch": " ".join(f"{v:.3f}" for v in ours_l),
                         "reference_loss_per_epoch": " ".join(f"{v:.3f}" for v in ref_l),
                         "initial_output_gap": f"{init_gap:.1e}"})
        if len(args.phases) == 2:
            rows.append({"phase": f"full {recipe.train.epochs}-epoch run (weighted)", "timing": label_t, "device": dev,
                         "spikerec_epoch_s": epoch_s["spikerec"] / recipe.train.epochs,
                         "reference_epoch_s": epoch_s["reference"] / recipe.train.epochs,
                         "ratio": epoch_s["reference"] / epoch_s["spikerec"]})
    harness.write_result(
        "epoch" if dev == "cpu" else f"epoch_{dev}",
        f"One shd-delays training epoch ({dev}): spikerec vs SNN-delays reference (SpikingJelly LIFNode + DCLS Dcls1d)",
        rows,
        {"samples": n_samples, "batch": recipe.train.batch_size, "hidden": recipe.model.hidden_sizes,
         "max_delay_steps": k, "repeat": args.repeat, "warmup": args.warmup, "timing": "epochs interleaved",
         "max_loss_gap_over_mean": round(max(gaps), 4)},
        columns=["phase", "timing", "device", "spikerec_epoch_s", "reference_epoch_s", "ratio",
                 "spikerec_loss_per_epoch", "reference_loss_per_epoch", "initial_output_gap"])
    summary = ", ".join(f"{row['phase']} [{row['timing']}]: {row['ratio']:.2f}x" for row in rows)
    print(f"ratio reference/spikerec: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
