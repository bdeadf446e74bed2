"""Loss and prediction from a readout membrane trace, as in the SNN-delays reference.

The readout is a leaky integrator whose membrane ``out`` [T, B, K] is read at every step; the
class score is the sum over time of the per-step softmax, and the loss is the cross-entropy of
that score (which applies one more log-softmax, exactly like the reference's ``CrossEntropyLoss``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spikerec.errors import ShapeError


def class_scores(out: torch.Tensor) -> torch.Tensor:
    """Sum over time of the per-step softmax of the readout membrane: [T, B, K] -> [B, K]."""
    if out.dim() != 3:
        raise ShapeError(f"readout output must be [T, B, classes], got shape {tuple(out.shape)}")
    return F.softmax(out.float(), dim=2).sum(dim=0)


def softmax_sum_cross_entropy(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of :func:`class_scores` against integer ``labels`` [B]."""
    return F.cross_entropy(class_scores(out), labels)


def predict(out: torch.Tensor) -> torch.Tensor:
    """Predicted class per sample [B] (argmax of the summed per-step softmax)."""
    return class_scores(out).argmax(dim=1)
