"""Dense HRSNN vs LNP vs activity vs magnitude pruning at matched sparsity.

Tasks (all generated in code, offline):
- Lorenz-63 and Rossler: the 3-D state at step t drives the network; a ridge readout on the
  filtered spikes predicts the state ``HORIZON`` steps ahead. Metric: NRMSE on held-out steps.
- SHD-layout synthetic classification (spikerec.datasets.synthesize "shd", binned to 10 ms,
  700 channels pooled by 10): ridge readout on filtered spikes averaged over 4 time segments.

For each seed, LNP prunes one random dense HRSNN once (task-agnostic, noise only: the input layer
plays no part) and the SAME sparse recurrent network is then used for every task, with the task's
own input layer (the paper's "prune once, train for several tasks"). For each task, we also
prune the dense model with activity-based pruning (rates on the task's training inputs, of
the dense model whose readout was trained) and magnitude pruning at LNP's achieved neuron and
synapse sparsity. Every model's readout is (re)fit on the training split. There is no peer
library for LNP, so no time ratio is reported; the table compares quality and cost.

Run: ``.venv/bin/python -m benchmarks.bench_pruning`` (a few minutes on one core).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import asdict

import numpy as np
import torch

from benchmarks.harness import set_threads, write_result
from spikerec.models.hrsnn import HRSNN, HRSNNConfig, fit_readout, ridge_regression, synaptic_operations
from spikerec.pruning import LyapunovNoisePruning, PruningResult, activity_prune, magnitude_prune

HORIZON = 5
N_NEURONS = 200


def integrate(f, x0, dt: float, n: int, sub: int, skip: int = 500) -> np.ndarray:
    """RK4 trajectory of dx/dt = f(x), keeping every ``sub``-th step after ``skip`` samples; z-scored."""
    x, out = np.asarray(x0, float), []
    for i in range((n + skip) * sub):
        k1 = f(x)
        k2 = f(x + dt / 2 * k1)
        k3 = f(x + dt / 2 * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if i % sub == 0:
            out.append(x.copy())
    a = np.array(out[skip:])
    return (a - a.mean(0)) / a.std(0)


def lorenz(n: int) -> np.ndarray:
    return integrate(lambda s: np.array([10 * (s[1] - s[0]), s[0] * (28 - s[2]) - s[1], s[0] * s[1] - 8 / 3 * s[2]]),
                     [1.0, 1.0, 1.0], dt=0.01, n=n, sub=2)


def rossler(n: int) -> np.ndarray:
    return integrate(lambda s: np.array([-s[1] - s[2], s[0] + 0.2 * s[1], 0.2 + s[2] * (s[0] - 5.7)]),
                     [1.0, 1.0, 0.0], dt=0.05, n=n, sub=4)


class SeriesTask:
    """Multi-step-ahead prediction of a chaotic 3-D series with a ridge readout."""

    n_inputs, n_outputs, metric = 3, 3, "nrmse"

    def __init__(self, series: np.ndarray, n_train: int = 2000, washout: int = 100):
        data = torch.tensor(series, dtype=torch.float32)
        self.x, self.y = data[:-HORIZON, None, :], data[HORIZON:, None, :]
        self.n_train, self.washout = n_train, washout

    def train_inputs(self) -> torch.Tensor:
        return self.x[: self.n_train]

    def evaluate(self, model: HRSNN) -> tuple[float, float]:
        fit_readout(model, self.x[: self.n_train], self.y[: self.n_train], washout=self.washout, ridge=1e-4)
        with torch.no_grad():
            pred, spikes, _ = model(self.x, return_states=True)
        p, t = pred[self.n_train:, 0], self.y[self.n_train:, 0]
        nrmse = float((((p - t) ** 2).mean(0).sqrt() / t.std(0)).mean())
        return nrmse, synaptic_operations(model, spikes[self.n_train:]) / (len(t) / 1000.0)


class ShdTask:
    """SHD-layout synthetic classification: segment-averaged filtered spikes -> ridge -> argmax."""

    n_outputs, metric, segments = 20, "accuracy", 4

    def __init__(self, n_train: int = 400, n_test: int = 200, pool: int = 10):
        from spikerec.datasets import build_frame_datasets, pad_collate, synthesize

        with tempfile.TemporaryDirectory() as tmp:
            synthesize("shd", tmp, n_train=n_train, n_test=n_test, n_classes=self.n_outputs, seed=0)
            sets = build_frame_datasets(tmp, "shd", bin_ms=10.0, pool=pool, val_fraction=0.1,
                                        cache_dir=False)
            train = [sets["train"][i] for i in range(len(sets["train"]))] + \
                    [sets["val"][i] for i in range(len(sets["val"]))]
            test = [sets["test"][i] for i in range(len(sets["test"]))]
        self.x_train, self.y_train, _ = pad_collate(train)
        self.x_test, self.y_test, _ = pad_collate(test)
        scale = self.x_train.std()
        self.x_train, self.x_test = self.x_train / scale, self.x_test / scale
        self.n_inputs = self.x_train.shape[-1]

    def train_inputs(self) -> torch.Tensor:
        return self.x_train

    def _features(self, model: HRSNN, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            spikes, _ = model.run(x)
            feats = model.features(spikes)
        chunks = torch.tensor_split(feats, self.segments, dim=0)
        return torch.cat([c.mean(0) for c in chunks], dim=1), spikes

    def evaluate(self, model: HRSNN) -> tuple[float, float]:
        f_train, _ = self._features(model, self.x_train)
        onehot = torch.nn.functional.one_hot(self.y_train, self.n_outputs).float()
        w, b = ridge_regression(f_train, onehot, ridge=1e-2)
        f_test, spikes = self._features(model, self.x_test)
        acc = float(((f_test @ w.T + b).argmax(1) == self.y_test).float().mean())
        return acc, synaptic_operations(model, spikes)


def dense_config(task, seed: int) -> HRSNNConfig:
    return HRSNNConfig(n_inputs=task.n_inputs, n_outputs=task.n_outputs, n_neurons=N_NEURONS, input_scale=6.0,
                       readout_tau_ms=5.0, seed=seed)


def lnp_for_task(lnp: PruningResult, dense: HRSNN) -> HRSNN:
    """The LNP-pruned recurrent network (kept neurons, weights, mask, taus) under ``dense``'s input layer."""
    model = dense.select(lnp.report["kept_neurons"])
    with torch.no_grad():
        for name in ("weight", "mask", "tau_ms"):
            getattr(model, name).copy_(getattr(lnp.model, name))
    return model


def run_task(name: str, task, lnp_by_seed: dict[int, tuple[PruningResult, float, PruningResult]]) -> list[dict]:
    per_method: dict[str, list[dict]] = {}
    for seed, (lnp, lnp_s, lnp_fixed_tau) in lnp_by_seed.items():
        dense = HRSNN(dense_config(task, seed))
        rep = lnp.report
        dense_score, dense_ops = task.evaluate(dense)  # dense readout trained: activity pruning starts here
        act = activity_prune(dense, task.train_inputs(), rep["neuron_sparsity"], rep["synapse_sparsity"])
        mag = magnitude_prune(dense, rep["neuron_sparsity"], rep["synapse_sparsity"])
        models = (("dense", dense), ("lnp", lnp_for_task(lnp, dense)),
                  ("lnp_stages_1-3", lnp_for_task(lnp_fixed_tau, dense)), ("activity", act.model),
                  ("magnitude", mag.model))
        for method, model in models:
            score, ops = (dense_score, dense_ops) if method == "dense" else task.evaluate(model)
            per_method.setdefault(method, []).append({
                "score": score, "neurons": model.n_neurons, "synapses": model.n_synapses(), "synops": ops,
                "lnp_s": lnp_s if method == "lnp" else None,
                "lmax_before": rep["lyapunov_max_before"], "lmax_after": rep["lyapunov_max_after"]})
        print(f"{name} seed {seed}: " + ", ".join(f"{m}={v[-1]['score']:.3f}" for m, v in per_method.items()),
              flush=True)
    rows = []
    for method, runs in per_method.items():
        scores = [r["score"] for r in runs]
        row = {"task": name, "method": method, task.metric: statistics.mean(scores),
               f"{task.metric}_std": statistics.pstdev(scores) if len(scores) > 1 else 0.0,
               "neurons": statistics.mean(r["neurons"] for r in runs),
               "synapses": statistics.mean(r["synapses"] for r in runs),
               "neuron_sparsity": 1 - statistics.mean(r["neurons"] for r in runs) / N_NEURONS,
               "synapse_sparsity": 1 - statistics.mean(r["synapses"] for r in runs)
               / statistics.mean(r["synapses"] for r in per_method["dense"]),
               "synops": statistics.mean(r["synops"] for r in runs), "seeds": len(runs)}
        if method == "lnp":
            row["lnp_time_s"] = statistics.mean(r["lnp_s"] for r in runs)
            row["lambda_max_before"] = statistics.mean(r["lmax_before"] for r in runs)
            row["lambda_max_after"] = statistics.mean(r["lmax_after"] for r in runs)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--tasks", default="lorenz,rossler,shd")
    args = parser.parse_args()
    # One thread: LNP and the readouts are thousands of tiny ops (N <= 200, batch 1) where intra-op
    # threads only add spin-wait; no timing is compared against a peer here.
    set_threads(1)
    seeds = list(range(args.seeds))
    makers = {"lorenz": lambda: SeriesTask(lorenz(3000)), "rossler": lambda: SeriesTask(rossler(3000)),
              "shd": ShdTask}
    lnp_by_seed = {}
    for seed in seeds:
        t0 = time.perf_counter()
        # n_inputs does not matter: LNP drives the recurrent layer with noise currents only.
        source = HRSNN(HRSNNConfig(**{**asdict(dense_config(SeriesTask, seed)), "n_inputs": 1}))
        result = LyapunovNoisePruning(seed=seed, timescale_trials=args.trials).prune(source)
        seconds = time.perf_counter() - t0
        # Ablation: stages 1-3 only (zero optuna trials keep the original timescales).
        fixed_tau = LyapunovNoisePruning(seed=seed, timescale_trials=0).prune(source)
        lnp_by_seed[seed] = (result, seconds, fixed_tau)
        print(f"LNP seed {seed}: {lnp_by_seed[seed][1]:.1f} s", flush=True)
    rows = []
    for name in args.tasks.split(","):
        rows += run_task(name, makers[name](), lnp_by_seed)
    for r in rows:
        r["score"] = r.get("nrmse", r.get("accuracy"))
        r["metric"] = "nrmse" if "nrmse" in r else "accuracy"
        r["score_std"] = r.get("nrmse_std", r.get("accuracy_std"))
    columns = ["task", "method", "metric", "score", "score_std", "neurons", "synapses", "neuron_sparsity", "synapse_sparsity",
               "synops"]
    write_result("pruning", "HRSNN pruning: dense vs LNP vs activity vs magnitude (matched sparsity)", rows,
                 {"neurons": N_NEURONS, "seeds": len(seeds), "optuna_trials": args.trials, "horizon": HORIZON,
                  "threads": 1}, columns)
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
