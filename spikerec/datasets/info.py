"""Summary statistics of one SHD/SSC-layout file (``spikerec data info``)."""

from __future__ import annotations

import os

import numpy as np

from spikerec.datasets.readers import N_CHANNELS, SpikeFile


def _stats(x: np.ndarray) -> dict:
    if len(x) == 0:
        return {"min": None, "median": None, "mean": None, "max": None}
    return {"min": float(np.min(x)), "median": float(np.median(x)), "mean": float(np.mean(x)), "max": float(np.max(x))}


def dataset_info(path: str | os.PathLike, n_channels: int = N_CHANNELS, on_error: str = "raise") -> dict:
    """Samples, classes, channels, spikes per sample, durations (ms, last spike time), label histogram.

    Reads the file block by block, so memory stays bounded on large files.
    """
    spikes, durations, labels, speakers, skipped = [], [], [], [], {}
    active = np.zeros(n_channels, dtype=bool)
    with SpikeFile(path, n_channels=n_channels) as f:
        class_names = f.class_names
        for ev in f.blocks(on_error=on_error):
            spikes.append(np.diff(ev.offsets))
            if len(ev):
                durations.append(np.maximum.reduceat(ev.times_ms, ev.offsets[:-1]))
            labels.append(ev.labels)
            if ev.speakers is not None:
                speakers.append(ev.speakers)
            active[np.unique(ev.units)] = True
            skipped.update(ev.skipped.reasons)
    spikes_all = np.concatenate(spikes) if spikes else np.zeros(0, np.int64)
    labels_all = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    n_classes = len(class_names) if class_names else (int(labels_all.max()) + 1 if len(labels_all) else 0)
    hist = np.bincount(labels_all, minlength=n_classes)
    return {
        "path": str(path),
        "samples": int(len(labels_all)),
        "classes": n_classes,
        "class_names": class_names,
        "channels": n_channels,
        "channels_active": int(active.sum()),
        "speakers": int(len(np.unique(np.concatenate(speakers)))) if speakers else None,
        "spikes_total": int(spikes_all.sum()),
        "spikes_per_sample": _stats(spikes_all),
        "duration_ms": _stats(np.concatenate(durations) if durations else np.zeros(0)),
        "label_histogram": {str(c): int(k) for c, k in enumerate(hist)},
        "skipped": len(skipped),
        "skipped_samples": {str(k): v for k, v in skipped.items()},
    }


def format_info(info: dict) -> str:
    """Human-readable summary of ``dataset_info``."""
    sp, du = info["spikes_per_sample"], info["duration_ms"]
    lines = [
        f"{info['path']}",
        f"  samples   {info['samples']}   classes {info['classes']}   channels {info['channels']} "
        f"({info['channels_active']} active)   speakers {info['speakers']}",
        f"  spikes/sample  min {sp['min']:.0f}  median {sp['median']:.0f}  max {sp['max']:.0f}"
        if info["samples"] else "  no samples",
        f"  duration (ms)  min {du['min']:.1f}  median {du['median']:.1f}  max {du['max']:.1f}"
        if info["samples"] else "",
        "  labels    " + " ".join(f"{c}:{k}" for c, k in info["label_histogram"].items()),
    ]
    if info["skipped"]:
        lines.append(f"  skipped {info['skipped']} bad sample(s): "
                     + ", ".join(f"#{k}: {v}" for k, v in list(info["skipped_samples"].items())[:5]))
    return "\n".join(line for line in lines if line)
