"""Checkpoints: atomic writes, safe loading (``weights_only=True``: no arbitrary pickle code runs).

A training checkpoint holds everything ``--resume`` needs to continue exactly: model, optimiser and
scheduler states, the AMP scaler, the RNG states of torch, numpy and Python, the completed epoch,
the metric history and the model-selection / early-stopping state. RNG states are stored as
tensors and plain tuples so the restricted unpickler accepts them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikerec.errors import CheckpointError
from spikerec.io import atomic_path

FORMAT = "spikerec-checkpoint"
VERSION = 1


def rng_state() -> dict[str, Any]:
    """Capture torch (CPU and CUDA), numpy and Python RNG states in a weights_only-safe form."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states captured by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus format/version tags) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, **payload}, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with the safe (weights-only) unpickler."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found; train first (spikerec train ... --out RUN_DIR)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError ... for bad files
        raise CheckpointError(f"{path}: not a readable spikerec checkpoint ({err}); delete it and retrain") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a spikerec checkpoint (missing format tag '{FORMAT}')")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported "
                              f"(this spikerec reads version {VERSION})")
    return payload
