"""Stage 4 of LNP: re-optimise the timescale distribution by Bayesian optimisation (optuna TPE).

Each neuron keeps its cluster; a trial proposes, per cluster, a gamma shape k and mean tau (ms),
re-draws every neuron's tau from gamma(k, mean/k) with a fixed random stream (so trials differ only
in the parameters, not the draw) and scores the network with ``loss(model) -> [R]``, one loss per
noise drive (the pipeline's loss: distance of the largest Lyapunov exponent from its target in
units of the equivalence margin, plus the log ratio of the firing rate to the dense network's).
The current taus are trial 0. The best trial replaces them only if the paired interval of
(loss_best - loss_current) over the R drives lies below 0; otherwise the current taus stay.
Task-agnostic: no inputs or labels of any task are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from spikerec.models.hrsnn import sample_taus_for_clusters
from spikerec.pruning.lyapunov import t_interval


@dataclass
class TimescaleSearch:
    """Search space: gamma shape and mean tau (ms) per cluster; ``n_trials`` TPE trials (0 = skip)."""

    n_trials: int = 20
    shape_range: tuple[float, float] = (1.0, 10.0)
    mean_range_ms: tuple[float, float] = (5.0, 100.0)
    confidence: float = 0.9
    seed: int = 0


def optimize_timescales(model, loss: Callable[[object], torch.Tensor], search: TimescaleSearch | None = None
                        ) -> tuple[object, dict]:
    """Return (model with the accepted tau_ms, info: trial history, best trial, the decision record)."""
    import optuna

    search = search or TimescaleSearch()
    cfg = model.config
    cluster_ids = model.cluster_ids.cpu().numpy()
    clusters = sorted(set(cluster_ids.tolist()))
    original_tau = model.tau_ms.detach().clone()
    candidate = model.copy()
    history: list[dict] = []
    losses: dict[int, torch.Tensor] = {}

    def taus(params: dict | None) -> torch.Tensor:
        if params is None:
            return original_tau
        shapes, means = np.ones(max(clusters) + 1), np.ones(max(clusters) + 1)
        for c in clusters:
            shapes[c], means[c] = params[f"shape_{c}"], params[f"mean_ms_{c}"]
        rng = np.random.default_rng(search.seed)
        return torch.from_numpy(sample_taus_for_clusters(cluster_ids, shapes, means, rng, cfg.tau_floor_ms,
                                                         cfg.tau_max_ms))

    def objective(trial) -> float:
        params = {}
        for c in clusters:
            params[f"shape_{c}"] = trial.suggest_float(f"shape_{c}", *search.shape_range, log=True)
            params[f"mean_ms_{c}"] = trial.suggest_float(f"mean_ms_{c}", *search.mean_range_ms, log=True)
        original = trial.number == 0
        candidate.set_tau_ms(taus(None if original else params))
        losses[trial.number] = loss(candidate).double()
        value = float(losses[trial.number].mean())
        history.append({"trial": trial.number, "original_taus": original, "params": None if original else params,
                        "loss": value})
        return value

    if search.n_trials < 1:
        return candidate, {"skipped": True, "history": []}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=search.seed))
    # Trial 0 stands for the current taus (its suggested values are placeholders within range).
    study.enqueue_trial({**{f"shape_{c}": search.shape_range[0] for c in clusters},
                         **{f"mean_ms_{c}": search.mean_range_ms[0] for c in clusters}})
    study.optimize(objective, n_trials=search.n_trials)
    best = min(history, key=lambda h: h["loss"])
    decision = {"accepted": False, "best_trial": best["trial"]}
    if not best["original_taus"]:
        mean, lo, hi = t_interval(losses[best["trial"]] - losses[0], search.confidence)
        decision.update({"accepted": hi < 0.0, "loss_difference": mean, "loss_difference_ci": [lo, hi]})
    candidate.set_tau_ms(taus(best["params"] if decision["accepted"] else None))
    info = {"skipped": False, "original_loss": history[0]["loss"], "best_loss": best["loss"],
            "best_params": best["params"], "decision": decision, "history": history}
    return candidate, info
