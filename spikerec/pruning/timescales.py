"""Stage 4 of LNP: re-optimise the timescale distribution by Bayesian optimisation (optuna TPE).

Each neuron keeps its cluster; a trial proposes, per cluster, a gamma shape k and mean tau (ms),
re-draws every neuron's tau from gamma(k, mean/k) with a fixed random stream (so trials differ
only in the parameters, not the draw), and scores the network under the fixed noise drive:

    loss = (relu(lambda_max - lambda_target) + 0.1 |lambda_max - lambda_target|) / lambda_scale
           + |log((rate + eps) / (target_rate + eps))|

i.e. stability first (largest Lyapunov exponent at or just below ``lambda_target``, default 0:
the edge of chaos), then activity (mean firing rate close to ``target_rate``, by default the rate
of the unpruned network under the same noise, so pruning does not silence or saturate it).
Task-agnostic: no inputs or labels of any task are used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from spikerec.models.hrsnn import sample_taus_for_clusters


@dataclass
class TimescaleSearch:
    """Search space and objective weights. Times in ms, lambda in 1/ms, rate in spikes/step."""

    n_trials: int = 20
    shape_range: tuple[float, float] = (1.0, 10.0)
    mean_range_ms: tuple[float, float] = (5.0, 100.0)
    lambda_target: float = 0.0
    lambda_scale: float = 0.002
    seed: int = 0


def timescale_loss(lambda_max: float, rate: float, target_rate: float, search: TimescaleSearch) -> float:
    """Stability + activity loss of one candidate (see module docstring)."""
    excess = lambda_max - search.lambda_target
    eps = 1e-4
    return (max(excess, 0.0) + 0.1 * abs(excess)) / search.lambda_scale + abs(
        math.log((rate + eps) / (target_rate + eps)))


def optimize_timescales(model, evaluate: Callable[[object], tuple[float, float]], target_rate: float,
                        search: TimescaleSearch | None = None) -> tuple[object, dict]:
    """Return (model with optimised tau_ms, info). ``evaluate(model) -> (lambda_max, rate)``.

    The unmodified taus are evaluated as trial 0 (enqueued), so the result is never worse than
    the input under the objective. info: best params, best loss, loss of the original taus, and
    the trial history.
    """
    import optuna

    search = search or TimescaleSearch()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = model.config
    cluster_ids = model.cluster_ids.cpu().numpy()
    clusters = sorted(set(cluster_ids.tolist()))
    original_tau = model.tau_ms.clone()
    candidate = model.copy()
    history = []

    def apply(params: dict | None) -> None:
        with torch.no_grad():
            if params is None:
                candidate.tau_ms.copy_(original_tau)
                return
            shapes = np.ones(max(clusters) + 1)
            means = np.ones(max(clusters) + 1)
            for c in clusters:
                shapes[c], means[c] = params[f"shape_{c}"], params[f"mean_ms_{c}"]
            rng = np.random.default_rng(search.seed)
            tau = sample_taus_for_clusters(cluster_ids, shapes, means, rng, cfg.tau_floor_ms, cfg.tau_max_ms)
            candidate.tau_ms.copy_(torch.from_numpy(tau))

    def objective(trial) -> float:
        keep_original = trial.number == 0
        params = {}
        for c in clusters:
            params[f"shape_{c}"] = trial.suggest_float(f"shape_{c}", *search.shape_range, log=True)
            params[f"mean_ms_{c}"] = trial.suggest_float(f"mean_ms_{c}", *search.mean_range_ms, log=True)
        apply(None if keep_original else params)
        lam, rate = evaluate(candidate)
        loss = timescale_loss(lam, rate, target_rate, search)
        history.append({"trial": trial.number, "original_taus": keep_original, "params": params,
                        "lambda_max": lam, "rate": rate, "loss": loss})
        return loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=search.seed))
    # Trial 0 stands for the current taus (its suggested values are placeholders within range).
    study.enqueue_trial({**{f"shape_{c}": search.shape_range[0] for c in clusters},
                         **{f"mean_ms_{c}": search.mean_range_ms[0] for c in clusters}})
    study.optimize(objective, n_trials=max(1, search.n_trials))
    best = min(history, key=lambda h: h["loss"])
    apply(None if best["original_taus"] else best["params"])
    info = {"best_params": None if best["original_taus"] else best["params"], "best_loss": best["loss"],
            "original_loss": history[0]["loss"], "kept_original_taus": best["original_taus"],
            "lambda_max": best["lambda_max"], "rate": best["rate"], "target_rate": target_rate,
            "history": history}
    return candidate, info
