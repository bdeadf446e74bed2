"""Training hooks: sigma annealing, delay-position clamping, early stopping.

A callback gets the :class:`~spikerec.training.trainer.Trainer` and may read ``trainer.model``
(the unwrapped module), ``trainer.recipe``, ``trainer.history``, and set ``trainer.should_stop``.
Callbacks that carry state across epochs implement ``state_dict``/``load_state_dict`` so resumed
runs behave exactly like uninterrupted ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spikerec.training.trainer import Trainer


class Callback:
    """Base class: every hook is a no-op."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called before the first batch of ``epoch`` (0-based)."""

    def on_batch_end(self, trainer: Trainer, batch_index: int) -> None:
        """Called after every optimiser step."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, Any]) -> None:
        """Called after validation, with the epoch's metrics row."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class SigmaAnnealingCallback(Callback):
    """Set every delay layer's Gaussian sigma from a :class:`spikerec.delays.SigmaAnnealing` schedule."""

    def __init__(self, schedule) -> None:
        self.schedule = schedule

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        from spikerec.delays import set_sigma

        set_sigma(trainer.model, self.schedule.sigma_at(epoch))

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, Any]) -> None:
        metrics["sigma"] = self.schedule.sigma_at(epoch)


class PositionClampCallback(Callback):
    """Clamp delay positions into their valid range after every optimiser step (as the reference)."""

    def on_batch_end(self, trainer: Trainer, batch_index: int) -> None:
        from spikerec.delays import clamp_positions

        clamp_positions(trainer.model)


class EarlyStopping(Callback):
    """Stop when ``monitor`` (higher is better) has not improved for ``patience`` epochs."""

    def __init__(self, patience: int, monitor: str = "val_accuracy") -> None:
        self.patience = patience
        self.monitor = monitor
        self.best: float | None = None
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, Any]) -> None:
        value = metrics.get(self.monitor)
        if value is None:
            return
        if self.best is None or value > self.best:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]
