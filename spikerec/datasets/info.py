"""Summary statistics of one SHD/SSC-layout file (``spikerec data info``)."""

from __future__ import annotations

import os

import numpy as np

from spikerec.datasets.readers import N_CHANNELS, load_events


def _stats(x: np.ndarray) -> dict:
    if len(x) == 0:
        return {"min": None, "median": None, "mean": None, "max": None}
    return {"min": float(np.min(x)), "median": float(np.median(x)), "mean": float(np.mean(x)), "max": float(np.max(x))}


def dataset_info(path: str | os.PathLike, n_channels: int = N_CHANNELS, on_error: str = "raise") -> dict:
    """Samples, classes, channels, spikes per sample, durations (ms, last spike time), label histogram."""
    ev = load_events(path, n_channels=n_channels, on_error=on_error)
    spikes = np.diff(ev.offsets)
    durations = np.maximum.reduceat(ev.times_ms, ev.offsets[:-1]) if len(ev) else np.zeros(0)
    n_classes = len(ev.class_names) if ev.class_names else (int(ev.labels.max()) + 1 if len(ev) else 0)
    hist = np.bincount(ev.labels, minlength=n_classes)
    return {
        "path": str(path),
        "samples": len(ev),
        "classes": n_classes,
        "class_names": ev.class_names,
        "channels": n_channels,
        "channels_active": int(len(np.unique(ev.units))),
        "speakers": None if ev.speakers is None else int(len(np.unique(ev.speakers))),
        "spikes_total": int(len(ev.times_ms)),
        "spikes_per_sample": _stats(spikes),
        "duration_ms": _stats(durations),
        "label_histogram": {str(c): int(k) for c, k in enumerate(hist)},
        "skipped": ev.skipped.count,
        "skipped_samples": {str(k): v for k, v in ev.skipped.reasons.items()},
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
