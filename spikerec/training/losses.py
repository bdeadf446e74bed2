"""Loss and prediction from a readout membrane trace, as in the SNN-delays reference, over sample windows.

The readout is a leaky integrator whose membrane ``out`` [T, B, K] is read at every step of a sample's
window (:mod:`spikerec.window`); the class score is the sum over those steps of the per-step softmax, and
the loss is the cross-entropy of that score (which applies one more log-softmax, exactly like the
reference's ``CrossEntropyLoss``). Steps past a sample's window (batch padding) contribute nothing.
The numpy twin used by the simulators is :func:`spikerec.hardware.ir.dynamics.readout_scores`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spikerec.errors import ShapeError
from spikerec.window import time_mask


def class_scores(out: torch.Tensor, window: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over each sample's window of the per-step softmax of the readout membrane: [T, B, K] -> [B, K].

    ``window`` [B]: steps of each sample's window (None: all T steps).
    """
    if out.dim() != 3:
        raise ShapeError(f"readout output must be [T, B, classes], got shape {tuple(out.shape)}")
    p = F.softmax(out if out.dtype == torch.float64 else out.float(), dim=2)  # AMP halves -> float32
    if window is not None:
        if window.shape != (out.shape[1],):
            raise ShapeError(f"window must be [B={out.shape[1]}], got shape {tuple(window.shape)}")
        p = p * time_mask(window.to(out.device), out.shape[0]).unsqueeze(2)
    return p.sum(dim=0)


def softmax_sum_cross_entropy(out: torch.Tensor, labels: torch.Tensor,
                              window: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy of :func:`class_scores` against integer ``labels`` [B]."""
    return F.cross_entropy(class_scores(out, window), labels)


def predict(out: torch.Tensor, window: torch.Tensor | None = None) -> torch.Tensor:
    """Predicted class per sample [B] (argmax of the per-step softmax summed over its window)."""
    return class_scores(out, window).argmax(dim=1)
