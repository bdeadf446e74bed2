"""Meta-neuron: does evaluation behave like training? And the SNN+LZC readout beside the trained one.

For each configuration and seed, the ``shd-meta`` recipe (CPU-sized by ``--set``-style overrides,
listed in the JSON config) is trained on the synthetic ``shd`` set (``spikerec.datasets.synthesize``,
1000 train / 300 test samples, 20 classes), and its selected model is run on the test set in four
modes, each over ``--draws`` seeded noise draws (firing rates and scores over each sample's window:
its own frames plus the drain, :mod:`spikerec.window`):

- ``train``: ``model.train()`` as the trainer runs it (stochastic release, dropout on, continuous delays);
- ``train_nodrop``: the same without dropout (dropout is a regulariser, not part of the model);
- ``eval_sample``: ``spikerec`` evaluation with ``neuron.meta_eval = "sample"`` (default): integer
  delays, draws seeded independently of the train-mode draws (the first two are checked to equal those
  of :func:`spikerec.training.draws.evaluate_draws`, the library's Monte-Carlo evaluation);
- ``eval_sample_cont``: the same with continuous (not rounded) delays, which separates the readout's
  delay rounding from the neurons;
- ``eval_mean``: the deterministic mean-field network (``neuron.meta_eval = "mean"``), exportable.

``rate_vs_train_nodrop`` is the mean rate ratio to ``train_nodrop`` per layer (worst layer shown).
SNN+LZC (Rudnicka et al.): the last hidden layer's spike trains (one seeded ``eval_sample`` draw)
-> normalised LZ76 complexity per neuron (over each sample's window) -> logistic regression
fitted on the training split (:class:`spikerec.neurons.LZCClassifier`); the same head on spike counts
is the rate-code control. Configurations: ``recipe`` (binned counts, the recipe threshold) and
``binary`` (binary frames, threshold 1.5: a harder, sparser task where the input noise matters more).

Run: ``.venv/bin/python -m benchmarks.bench_meta`` (~25 min on 2 idle cores); writes
``benchmarks/results/meta.json``/``.md`` and ``docs/meta_consistency.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.harness import RESULTS_DIR, set_threads, write_result

BASE = ["model.hidden_sizes=[128,128]", "train.batch_size=64"]
CONFIGS = {"recipe": [], "binary": ["data.binary=true", "neuron.threshold=1.5"]}
PLOT = Path(__file__).resolve().parents[1] / "docs" / "meta_consistency.png"
MODES = ("train", "train_nodrop", "eval_sample", "eval_sample_cont", "eval_mean")


def _batches(dataset, collate, batch_size: int = 100) -> list:
    """The whole ``dataset`` as a list of window batches (a list, unlike a DataLoader, draws no RNG)."""
    return [collate([dataset[i] for i in range(s, min(s + batch_size, len(dataset)))])
            for s in range(0, len(dataset), batch_size)]


def run_mode(model, batches, mode: str, seed: int, keep_last: bool = False) -> dict:
    """One seeded draw of ``model`` in ``mode`` over ``batches``: rates per meta layer, accuracy, and
    (``keep_last``) the last hidden layer's spikes with the lengths per batch."""
    from spikerec.neurons.meta import meta_eval_mode
    from spikerec.training.evaluate import delay_eval_context
    from spikerec.training.losses import class_scores
    from spikerec.window import time_mask

    spikes: dict[int, torch.Tensor] = {}
    hooks = [b.layer.register_forward_hook(lambda m, a, o, i=i: spikes.__setitem__(i, o))
             for i, b in enumerate(model.blocks)]
    model.train(mode.startswith("train"))
    if mode == "train_nodrop":
        for block in model.blocks:
            if block.dropout is not None:
                block.dropout.eval()
    counts, steps, correct, n, last = [0.0] * len(model.blocks), 0.0, 0, 0, []
    torch.manual_seed(seed)
    with torch.no_grad(), meta_eval_mode(model, "mean" if mode == "eval_mean" else "sample"), \
            delay_eval_context(model, integer_delays=mode in ("eval_sample", "eval_mean")):
        for frames, labels, window, _ in batches:
            out = model(frames, window=window)
            valid = time_mask(window, frames.shape[0]).float()[..., None]
            for i, s in spikes.items():
                counts[i] += float((s * valid).sum()) / s.shape[-1]
            steps += float(window.sum())
            correct += int((class_scores(out, window).argmax(1) == labels).sum())
            n += len(labels)
            if keep_last:
                last.append((spikes[len(model.blocks) - 1], window))
    for h in hooks:
        h.remove()
    return {"rates": [c / steps for c in counts], "accuracy": correct / n, "last_spikes": last}


def lzc_and_count_features(draw: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(normalised LZC [n, N], spike counts [n, N]) of the last hidden layer, each over its sample's window."""
    from spikerec.neurons.lzc import lempel_ziv_complexity

    lzc = torch.cat([lempel_ziv_complexity(s, lengths=window) for s, window in draw["last_spikes"]])
    count = torch.cat([s.sum(0) for s, _ in draw["last_spikes"]])
    return lzc, count


def fit_head(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
             test_labels: torch.Tensor, n_classes: int) -> float:
    """Test accuracy of :class:`LZCClassifier`'s logistic head fitted on ``train_feats``."""
    from spikerec.neurons.lzc import LZCClassifier

    torch.manual_seed(0)
    head = LZCClassifier(train_feats.shape[1], n_classes)
    head.fit(train_feats, train_labels)
    with torch.no_grad():
        return float((head.classify_features(test_feats).argmax(1) == test_labels).float().mean())


def run_config(name: str, overrides: list[str], seed: int, data_dir: Path, work: Path, draws: int) -> list[dict]:
    from spikerec.config import load_recipe
    from spikerec.models import build_model
    from spikerec.training.checkpoint import load_checkpoint
    from spikerec.training.draws import evaluate_draws
    from spikerec.training.runs import load_datasets, train
    from spikerec.training.windows import window_collate

    recipe = load_recipe("shd-meta", [*overrides, f"train.seed={seed}"])
    run_dir = work / f"{name}-{seed}"
    started = time.perf_counter()
    summary = train(recipe, data_dir, run_dir, progress=False)
    print(f"[{name} seed {seed}] trained {summary['epochs']} epochs in {time.perf_counter() - started:.0f} s, "
          f"val {summary['val_accuracy']:.3f}", file=sys.stderr)
    datasets = load_datasets(recipe, data_dir)
    test, train_set = datasets["test"], datasets["train"]
    model = build_model(recipe, test.n_channels, test.n_classes)
    model.load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    collate = window_collate(recipe, model)
    test_batches = _batches(test, collate)
    rows, per_mode = [], {}
    for mode in MODES:
        n = 1 if mode == "eval_mean" else draws
        base = 1000 if mode.startswith("eval") else 0  # evaluation draws independent of the train-mode draws
        per_mode[mode] = [run_mode(model, test_batches, mode, base + k, keep_last=(mode == "eval_sample" and k == 0))
                          for k in range(n)]
    # the same batches (a DataLoader would draw from the RNG when it starts iterating), so the same draws
    mc = evaluate_draws(model, test_batches, test.n_classes, torch.device("cpu"), n_draws=min(draws, 2), seed=1000)
    ref_rates = [statistics.fmean(r["rates"][i] for r in per_mode["train_nodrop"]) for i in range(len(model.blocks))]
    for mode in MODES:
        results = per_mode[mode]
        rates = [statistics.fmean(r["rates"][i] for r in results) for i in range(len(model.blocks))]
        accs = [r["accuracy"] for r in results]
        if mode == "eval_sample":  # the library's Monte-Carlo evaluation draws the same first draws
            assert mc["accuracies"] == accs[:len(mc["accuracies"])], (mc["accuracies"], accs)
        worst = max((r / ref - 1 if ref > 0 else (0.0 if r == 0 else float("inf"))
                     for r, ref in zip(rates, ref_rates)), key=abs)
        rows.append({"config": name, "seed": seed, "mode": mode, "draws": len(results),
                     **{f"rate_hidden{i}": r for i, r in enumerate(rates)}, "rate_vs_train_nodrop": 1 + worst,
                     "accuracy": statistics.fmean(accs),
                     "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0})
    # SNN+LZC beside the surrogate-gradient readout, features from one evaluation draw
    train_draw = run_mode(model, _batches(train_set, collate), "eval_sample", 2000, keep_last=True)
    test_draw = per_mode["eval_sample"][0]
    train_labels = torch.tensor([train_set[i][1] for i in range(len(train_set))])
    test_labels = torch.cat([batch.labels for batch in test_batches])
    (lzc_tr, cnt_tr), (lzc_te, cnt_te) = lzc_and_count_features(train_draw), lzc_and_count_features(test_draw)
    for mode, (ftr, fte) in (("lzc_logistic", (lzc_tr, lzc_te)), ("count_logistic", (cnt_tr, cnt_te))):
        rows.append({"config": name, "seed": seed, "mode": mode, "draws": 1,
                     "accuracy": fit_head(ftr, train_labels, fte, test_labels, test.n_classes), "accuracy_std": 0.0})
    rows.append({"config": name, "seed": seed, "mode": "readout_one_draw", "draws": 1,
                 "accuracy": test_draw["accuracy"], "accuracy_std": 0.0})
    return rows


def plot(rows: list[dict], path: Path) -> None:
    """Left: each mode's rate per layer relative to ``train_nodrop`` (10 % band); right: accuracy +- draw std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = sorted({r["config"] for r in rows}, key=list(CONFIGS).index)
    layers = sorted(k for k in rows[0] if k.startswith("rate_hidden"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(MODES)
    for j, mode in enumerate(MODES):
        xs, ratios, accs, errs = [], [], [], []
        for c, config in enumerate(configs):
            sel = {r["seed"]: r for r in rows if r["config"] == config and r["mode"] == mode}
            ref = {r["seed"]: r for r in rows if r["config"] == config and r["mode"] == "train_nodrop"}
            for li, key in enumerate(layers):
                xs.append(c * (len(layers) + 1) + li + j * width)
                ratios.append(statistics.fmean(sel[s][key] / ref[s][key] for s in sel if ref[s][key] > 0))
            accs.append(statistics.fmean(r["accuracy"] for r in sel.values()))
            errs.append(statistics.fmean(r["accuracy_std"] for r in sel.values()))
        axes[0].bar(xs, ratios, width, label=mode)
        axes[1].bar([c + j * width for c in range(len(configs))], accs, width, yerr=errs, capsize=3, label=mode)
    for y in (0.9, 1.1):
        axes[0].axhline(y, color="gray", lw=0.8, ls="--")
    axes[0].set_xticks([c * (len(layers) + 1) + li + 0.4 for c in range(len(configs)) for li in range(len(layers))],
                       [f"{cfg}\n{key[5:]}" for cfg in configs for key in layers])
    axes[0].set_ylabel("firing rate / train_nodrop rate")
    lo = min(min(b.get_height() for b in axes[0].patches), 0.85)
    axes[0].set_ylim(lo - 0.02, max(b.get_height() for b in axes[0].patches) + 0.05)
    axes[1].set_xticks([c + 0.4 for c in range(len(configs))], configs)
    axes[1].set_ylabel("test accuracy (mean over seeds, +- std over draws)")
    axes[1].set_ylim(0.0, 1.0)
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("meta-neuron (shd-meta, synthetic shd): training vs evaluation modes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plot-only", action="store_true", help="redraw the plot from results/meta.json")
    args = ap.parse_args(argv)
    if args.plot_only:
        plot(json.loads((RESULTS_DIR / "meta.json").read_text())["rows"], PLOT)
        return 0
    set_threads(args.threads)
    from spikerec.datasets.synthetic import synthesize

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "shd"
        synthesize("shd", data_dir, seed=0)
        for name in args.configs:
            for seed in args.seeds:
                rows += run_config(name, [*BASE, f"train.epochs={args.epochs}", *CONFIGS[name]], seed, data_dir,
                                   Path(tmp), args.draws)
    config = {"recipe": "shd-meta", "overrides": " ".join(BASE + [f"train.epochs={args.epochs}"]),
              "configs": {k: " ".join(v) or "-" for k, v in CONFIGS.items() if k in args.configs},
              "data": "spikerec data synth --kind shd (1000 train incl. 10% val / 300 test, seed 0)",
              "seeds": args.seeds, "draws": args.draws, "threads": args.threads}
    columns = ["config", "seed", "mode", "draws", "rate_hidden0", "rate_hidden1", "rate_vs_train_nodrop", "accuracy",
               "accuracy_std"]
    path = write_result("meta", "Meta-neuron: training vs evaluation modes, and the SNN+LZC readout", rows, config,
                        columns)
    plot(rows, PLOT)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
