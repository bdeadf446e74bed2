"""The espeak-ng speech set (``make speech-data``): SNN recipes beside non-spiking baselines on one split.

Models, all on the same train/validation/test split (validation: the recipes' seeded 10 % of the
training speakers' recordings; test: held-out speakers), same 10 ms bins and 5-unit pooling (140 inputs):

- ``shd-delays`` and ``shd-adlif``, CPU-sized with ``--set`` overrides (fewer epochs, smaller layers;
  printed in the table), trained and evaluated with ``spikerec.training`` exactly as ``spikerec train``
  / ``spikerec eval`` do (integer delays at evaluation);
- logistic regression (scikit-learn, L2, strength chosen on validation) on log spike counts in 100 ms x
  5-unit cells;
- a GRU (torch, 1 layer) reading standardised log counts frame by frame, its outputs averaged over the
  sample's own frames and classified; epoch chosen on validation.

Run: ``.venv/bin/python -m benchmarks.bench_speech [--data data/speech] [--epochs 30] [--hidden 128]``.
Existing runs in ``--runs`` with the same overrides are reused (``--retrain`` forces training).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks import harness

THREADS = 2


def count_features(ds, t_bins: int, window: int) -> np.ndarray:
    """log1p of counts summed over ``window`` frames, on a grid of ``t_bins`` frames (zero-padded) -> [N, F]."""
    out = np.zeros((len(ds), t_bins // window, ds.n_channels), np.float32)
    for i in range(len(ds)):
        x = ds[i][0].numpy()[:t_bins]
        padded = np.zeros((t_bins, ds.n_channels), np.float32)
        padded[:len(x)] = x
        out[i] = padded.reshape(t_bins // window, window, -1).sum(1)
    return np.log1p(out).reshape(len(ds), -1)


def logistic_regression(sets: dict, t_bins: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    feats = {k: count_features(v, t_bins, 10) for k, v in sets.items()}
    scaler = StandardScaler().fit(feats["train"])
    feats = {k: scaler.transform(v) for k, v in feats.items()}
    best = None
    for c in (0.001, 0.01, 0.1):
        clf = LogisticRegression(C=c, max_iter=1000).fit(feats["train"], sets["train"].labels)
        val = clf.score(feats["val"], sets["val"].labels)
        if best is None or val > best[0]:
            best = (val, c, clf)
    val, c, clf = best
    return {"model": "logistic regression (100 ms x 5-unit log counts)", "val_accuracy": val,
            "test_accuracy": clf.score(feats["test"], sets["test"].labels), "train_s": time.perf_counter() - t0,
            "settings": f"C={c} (chosen on val from 0.001, 0.01, 0.1), {feats['train'].shape[1]} features"}


def gru(sets: dict, hidden: int, epochs: int, seed: int) -> dict:
    """A 1-layer GRU on standardised log counts per frame; the class is read from its outputs averaged over the
    sample's own frames (the last state alone, after up to 1.2 s of noisy frames, did not learn: see docs/audio.md)."""
    import torch
    from torch import nn

    from spikerec.datasets import pad_collate
    from spikerec.window import time_mask

    torch.manual_seed(seed)
    n_in, n_cls = sets["train"].n_channels, sets["train"].n_classes
    train_frames = torch.cat([torch.log1p(sets["train"][i][0]) for i in range(len(sets["train"]))])
    mean, std = train_frames.mean(0), train_frames.std(0) + 1e-3

    class GRUClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(n_in, hidden)
            self.out = nn.Linear(hidden, n_cls)

        def forward(self, x, lengths):
            h, _ = self.gru((torch.log1p(x) - mean) / std)  # [T, B, hidden]
            valid = time_mask(lengths, x.shape[0]).unsqueeze(2)  # [T, B, 1]: the sample's own frames
            return self.out((h * valid).sum(0) / lengths.unsqueeze(1))

    model = GRUClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-5)
    loaders = {k: torch.utils.data.DataLoader(v, batch_size=32, shuffle=k == "train", collate_fn=pad_collate,
                                              generator=torch.Generator().manual_seed(seed)) for k, v in sets.items()}

    def accuracy(split):
        model.eval()
        correct = 0
        with torch.no_grad():
            for b in loaders[split]:
                correct += int((model(b.frames, b.lengths).argmax(1) == b.labels).sum())
        return correct / len(sets[split])

    t0 = time.perf_counter()
    best = (-1.0, None, 0)
    for epoch in tqdm(range(epochs), desc="GRU", unit="epoch", file=sys.stderr):
        model.train()
        for b in loaders["train"]:
            opt.zero_grad()
            nn.functional.cross_entropy(model(b.frames, b.lengths), b.labels).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        val = accuracy("val")
        if val > best[0]:
            best = (val, {k: v.clone() for k, v in model.state_dict().items()}, epoch + 1)
    model.load_state_dict(best[1])
    return {"model": f"GRU (1 x {hidden}, standardised log counts per 10 ms frame, mean over the sample's frames)",
            "val_accuracy": best[0], "test_accuracy": accuracy("test"), "train_s": time.perf_counter() - t0,
            "settings": f"{epochs} epochs, Adam 2e-3, clip 1.0, batch 32, best val at epoch {best[2]}"}


def snn(recipe_name: str, overrides: list[str], data: Path, runs: Path, retrain: bool) -> dict:
    from spikerec.config import load_recipe
    from spikerec.training import evaluate_run, train

    run_dir = runs / recipe_name
    tag = run_dir / "bench_overrides.json"
    if retrain or not (run_dir / "summary.json").is_file() or not tag.is_file() \
            or json.loads(tag.read_text()) != overrides:
        t0 = time.perf_counter()
        summary = train(load_recipe(recipe_name, overrides), data, run_dir, progress=True)
        summary["seconds"] = summary.get("seconds", time.perf_counter() - t0)
        tag.write_text(json.dumps(overrides))
    summary = json.loads((run_dir / "summary.json").read_text())
    report = evaluate_run(run_dir, data, split="test")
    return {"model": f"SNN {recipe_name}", "val_accuracy": summary["val_accuracy"], "test_accuracy": report["accuracy"],
            "train_s": summary.get("seconds"), "settings": "--set " + " --set ".join(overrides)}


def plot_examples(data: Path, png: Path, n: int = 4) -> None:
    """Spike rasters of the first test recordings of ``n`` different words (what the SNNs see, before binning)."""
    import matplotlib.pyplot as plt

    from spikerec.datasets import load_events

    ev = load_events(data / "shd_test.h5")
    rows = [int(np.flatnonzero(ev.labels == c)[0]) for c in np.unique(ev.labels)[:n]]
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), sharey=True)
    for ax, r in zip(axes, rows):
        t, u = ev.sample(r)
        ax.scatter(t, u, s=0.2, c="k", linewidths=0)
        ax.set_title(f"'{ev.class_names[ev.labels[r]]}' ({len(t)} spikes)")
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel("unit (0 = 7 kHz base ... 699 = 50 Hz apex)")
    axes[0].set_ylim(700, 0)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/speech")
    ap.add_argument("--runs", default="runs/speech")
    ap.add_argument("--epochs", type=int, default=10, help="SNN epochs")
    ap.add_argument("--hidden", type=int, default=64, help="SNN hidden layer size (2 layers)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--gru-hidden", type=int, default=128)
    ap.add_argument("--gru-epochs", type=int, default=15, help="0 skips the GRU baseline")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-snn", action="store_true")
    ap.add_argument("--retrain", action="store_true")
    ap.add_argument("--plot", default="docs/audio_speech_raster.png", help="raster figure of encoded test words")
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    from spikerec.config import load_recipe
    from spikerec.training.runs import load_datasets

    data = Path(args.data)
    if args.plot:
        plot_examples(data, Path(args.plot))
    sets = load_datasets(load_recipe("shd-delays", [f"train.seed={args.seed}"]), data)  # the SNN runs' split
    t_bins = int(np.ceil(max(int(s.lengths.max()) for s in sets.values()) / 10) * 10)
    rows = [logistic_regression(sets, t_bins)]
    if args.gru_epochs > 0:
        rows.append(gru(sets, args.gru_hidden, args.gru_epochs, args.seed))
    print(rows, file=sys.stderr)
    if not args.skip_snn:
        common = [f"train.epochs={args.epochs}", f"model.hidden_sizes=[{args.hidden},{args.hidden}]",
                  f"train.batch_size={args.batch_size}", f"train.seed={args.seed}"]
        for name in ("shd-delays", "shd-adlif"):
            rows.append(snn(name, common, data, Path(args.runs), args.retrain))
            print(rows[-1], file=sys.stderr)
    info = json.loads((data / "shd_encoding.json").read_text()) if (data / "shd_encoding.json").is_file() else {}
    config = {"data": str(data), "train": len(sets["train"]), "val": len(sets["val"]), "test": len(sets["test"]),
              "classes": sets["train"].n_classes, "speakers": info.get("speakers"), "bin_ms": 10, "pool": 5,
              "threads": THREADS, "sample_windows": "SNNs trained and evaluated on each sample's own frames + drain"}
    harness.write_result("speech", "espeak-ng speech set: SNN recipes vs non-spiking baselines (test accuracy)",
                         rows, config, columns=["model", "test_accuracy", "val_accuracy", "train_s", "settings"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
