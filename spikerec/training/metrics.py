"""Per-epoch metric logs (``metrics.jsonl`` + ``metrics.csv``) and training-curve plots.

The history lives in memory (and in the checkpoint); every write rewrites both files atomically
from it, so a resumed run never duplicates or loses epochs.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from spikerec.io import atomic_path, atomic_write_text, to_jsonable


def write_metrics(run_dir: str | Path, history: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` and ``metrics.csv`` in ``run_dir`` from ``history`` (one dict per epoch)."""
    run_dir = Path(run_dir)
    rows = [to_jsonable(row) for row in history]
    atomic_write_text(run_dir / "metrics.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(run_dir / "metrics.csv", buffer.getvalue())


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Read ``metrics.jsonl`` back (one dict per epoch)."""
    text = (Path(run_dir) / "metrics.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path: str | Path, history: list[dict[str, Any]]) -> None:
    """Loss and accuracy per epoch (train and validation) as a PNG."""
    plt = _figure()
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        for split in ("train", "val", "test"):
            values = [row.get(f"{split}_{key}") for row in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [float("nan") if v is None else v for v in values], marker=".", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if history:
            ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_confusion(path: str | Path, confusion: list[list[int]], title: str) -> None:
    """Per-class confusion matrix (rows: true class, columns: predicted) as a PNG."""
    plt = _figure()
    n = len(confusion)
    fig, ax = plt.subplots(figsize=(max(4, n * 0.35 + 2), max(4, n * 0.35 + 1.5)))
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
