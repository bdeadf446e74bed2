"""Sigma annealing of the Gaussian delay kernels, as in the SNN-delays recipe.

The reference (``decrease_sig`` in Hammouamri et al.'s code) starts ``SIG`` at ``K // 2`` and, after
each training epoch ``e < anneal_epochs`` while ``SIG > sigma_final``, multiplies it in float32 by
``alpha = (sigma_final / sigma_start) ** (1 / anneal_epochs)``; ``anneal_epochs = epochs // 4``
and ``sigma_final = 0.23`` (Gaussian std 0.23 + 0.27 = 0.5 steps). ``sigma_at`` reproduces that
sequence bit for bit.
"""

from __future__ import annotations

import torch
from torch import nn

from spikerec.errors import ConfigError

REFERENCE_SIGMA_FINAL = 0.23


class SigmaAnnealing:
    """Exponential sigma schedule: ``sigma_at(epoch)`` is the sigma to use during (0-based) ``epoch``."""

    def __init__(self, sigma_start: float, sigma_final: float = REFERENCE_SIGMA_FINAL, anneal_epochs: int = 0):
        if not (sigma_start >= 0 and sigma_final >= 0) or anneal_epochs < 0:
            raise ConfigError(f"SigmaAnnealing: need sigma_start >= 0, sigma_final >= 0, anneal_epochs >= 0; got "
                              f"{sigma_start}, {sigma_final}, {anneal_epochs}")
        self.sigma_start, self.sigma_final, self.anneal_epochs = float(sigma_start), float(sigma_final), int(anneal_epochs)
        shrinks = anneal_epochs > 0 and sigma_start > sigma_final
        self.alpha = (sigma_final / sigma_start) ** (1.0 / anneal_epochs) if shrinks else 1.0

    @classmethod
    def reference(cls, max_delay_steps: int, epochs: int) -> "SigmaAnnealing":
        """The SNN-delays setting: from ``K // 2`` to 0.23 over the first quarter of ``epochs``."""
        return cls(max_delay_steps // 2, REFERENCE_SIGMA_FINAL, epochs // 4)

    def sigma_at(self, epoch: int) -> float:
        """Sigma during ``epoch`` (0-based): the value after ``min(epoch, anneal_epochs)`` shrink steps."""
        if epoch < 0:
            raise ConfigError(f"SigmaAnnealing.sigma_at: epoch must be >= 0, got {epoch}")
        sig = torch.tensor(self.sigma_start, dtype=torch.float32)  # the reference keeps SIG in a float32 tensor
        for _ in range(min(epoch, self.anneal_epochs)):
            if sig > self.sigma_final:
                sig *= self.alpha
        return float(sig)

    def apply(self, model: nn.Module, epoch: int) -> float:
        """Set every ``DelayedLinear`` in ``model`` to ``sigma_at(epoch)``; returns that sigma."""
        from spikerec.delays.model_helpers import set_sigma

        sigma = self.sigma_at(epoch)
        set_sigma(model, sigma)
        return sigma

    def __repr__(self) -> str:
        return (f"SigmaAnnealing(sigma_start={self.sigma_start}, sigma_final={self.sigma_final}, "
                f"anneal_epochs={self.anneal_epochs})")
