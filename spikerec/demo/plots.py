"""Figures the demo report shows that no other module draws: the spike raster of one sample."""

from __future__ import annotations

from pathlib import Path

import torch


def layer_spikes(model, frames: torch.Tensor) -> list[torch.Tensor]:
    """Spikes of every hidden block of a :class:`~spikerec.models.SpikingNetwork` for frames [T, B, C]."""
    spikes, x = [], frames
    with torch.no_grad():
        for block in model.blocks:
            x = block(x)
            spikes.append(x)
    return spikes


def raster_png(run_dir: str | Path, data_dir: str | Path, path: str | Path) -> Path:
    """Plot input frames and hidden spikes of the first test sample of a trained run, integer delays."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikerec.delays import integer_delay_mode
    from spikerec.training.runs import load_datasets, load_run_model

    model, recipe = load_run_model(run_dir)
    frames, label = load_datasets(recipe, data_dir)["test"][0]
    with integer_delay_mode(model):
        hidden = layer_spikes(model, frames.unsqueeze(1))
    panels = [("input (pooled channels)", frames), *[(f"hidden layer {i}", s[:, 0]) for i, s in enumerate(hidden)]]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True)
    for ax, (title, trace) in zip(axes, panels):
        t, n = torch.nonzero(trace > 0, as_tuple=True)
        ax.scatter(t.numpy(), n.numpy(), s=2, c="k", marker="|")
        ax.set_ylabel("neuron")
        ax.set_title(f"{title}: {int((trace > 0).sum())} spikes", fontsize=9)
    axes[-1].set_xlabel("time step")
    fig.suptitle(f"first test sample (class {label})", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
