"""HRSNN pruning: dense vs LNP vs random vs activity vs magnitude at matched sparsity, plus the two
measurements behind LNP's choices (which Lyapunov estimator, and what each estimator makes LNP do).

Tasks (all generated in code, offline):
- Lorenz-63 and Rossler: the 3-D state at step t drives the network; a ridge readout (the model's own
  Linear -> LI readout, fitted in closed form) predicts the state ``HORIZON`` steps ahead. Metric:
  NRMSE on held-out steps (lower is better).
- Synthetic SHD (``spikerec.datasets.synthesize("shd")``: 20 classes, 8 training samples per class,
  10-ms bins, 700 channels pooled by 10; one network step per bin): ridge readout on the readout
  traces averaged over 4 segments of each sample's own window (``spikerec.window``: no drain, the
  HRSNN has no delays; batch padding is never read). Metric: test accuracy. Sized so the dense HRSNN
  stays below 95 % (the task must be able to separate the methods).

For each seed, LNP prunes one random dense HRSNN once (task-agnostic, noise only) and that same sparse
recurrent network serves every task, under the task's own input layer. The baselines prune the dense
network to LNP's achieved neuron and synapse sparsity: random (seeded), magnitude, and activity (rates
of the dense network on the task's training inputs). Every readout is re-fit. SynOps = recurrent
spikes x out-degree (per 1000 steps for the series, per sample for SHD). lambda_max: the largest
Lyapunov exponent (LNP's estimator) with its 90 % interval over LNP's noise drives.

Sections written besides the table (into ``benchmarks/results/pruning.json``):
- ``jacobian_comparison``: on small networks, the exact and surrogate Jacobians' largest exponents
  against two nearby trajectories at several separations, and how each responds to pruning;
- ``finite_size_ablation``: what LNP decides when the two-trajectory estimate drives it (seed 0);
- ``reweighting_check``: random pruning at LNP's sparsity with and without LNP's 1/p re-weighting.

LNP runs once per Lyapunov estimator in ``--lnp-estimators`` (default: surrogate, the library default,
and exact); each variant gets its own matched baselines.

Run: ``nice -n 10 .venv/bin/python -m benchmarks.bench_pruning`` (about 30 min on 2 loaded cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict, replace

import numpy as np
import torch

from benchmarks.harness import set_threads, write_result
from spikerec.models.hrsnn import HRSNN, HRSNNConfig, fit_readout, ridge_regression, spectral_radius, synaptic_operations
from spikerec.pruning import (LyapunovNoisePruning, PruningResult, activity_prune, estimate_lyapunov,
                              finite_difference_lyapunov, hrsnn_lyapunov_spectrum, magnitude_prune, random_prune)
from spikerec.pruning.lnp import finite_size_delta
from spikerec.pruning.noise_pruning import keep_probabilities, noise_covariance, noise_drive, sample_pruned_weights, \
    synapse_scores

HORIZON = 5
N_NEURONS = 200
METHODS = ("dense", "lnp", "random", "activity", "magnitude")


# ----------------------------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------------------------

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
    """Multi-step-ahead prediction of a chaotic 3-D series with the model's readout fitted by ridge."""

    n_inputs, n_outputs, metric = 3, 3, "nrmse"

    def __init__(self, series: np.ndarray, n_train: int = 2000, washout: int = 100):
        data = torch.tensor(series, dtype=torch.float32)
        self.x, self.y = data[:-HORIZON, None, :], data[HORIZON:, None, :]
        self.n_train, self.washout = n_train, washout

    def train_inputs(self) -> tuple[torch.Tensor, None]:
        """(inputs, window): one sample, every step in its window."""
        return self.x[: self.n_train], None

    def evaluate(self, model: HRSNN) -> tuple[float, float]:
        fit_readout(model, self.x[: self.n_train], self.y[: self.n_train], washout=self.washout, ridge=1e-4)
        with torch.no_grad():
            pred = model(self.x)
            spikes, _ = model.run(self.x)
        p, t = pred[self.n_train:, 0], self.y[self.n_train:, 0]
        nrmse = float((((p - t) ** 2).mean(0).sqrt() / t.std(0)).mean())
        return nrmse, synaptic_operations(model, spikes[self.n_train:]) / (len(t) / 1000.0)


class ShdTask:
    """Synthetic SHD: readout traces averaged over 4 segments of each sample's own window -> ridge -> argmax.

    The HRSNN has no delays, so a sample's window is its own frames (no drain, :mod:`spikerec.window`);
    features and synaptic operations are read from that window only, never from batch padding.
    """

    n_outputs, metric, segments = 20, "accuracy", 4

    def __init__(self, n_train: int = 160, n_test: int = 200, pool: int = 10):
        from spikerec.datasets import build_frame_datasets, pad_collate, synthesize

        with tempfile.TemporaryDirectory() as tmp:
            synthesize("shd", tmp, n_train=n_train, n_test=n_test, n_classes=self.n_outputs, seed=0)
            sets = build_frame_datasets(tmp, "shd", bin_ms=10.0, pool=pool, val_fraction=0.1, cache_dir=False)
            train = pad_collate([sets[s][i] for s in ("train", "val") for i in range(len(sets[s]))])
            test = pad_collate([sets["test"][i] for i in range(len(sets["test"]))])
        scale = train.frames.std()
        self.x_train, self.y_train, self.w_train = train.frames / scale, train.labels, train.window
        self.x_test, self.y_test, self.w_test = test.frames / scale, test.labels, test.window
        self.n_inputs = self.x_train.shape[-1]

    def train_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_train, self.w_train

    def _features(self, model: HRSNN, x: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Segment means of the readout traces inside each window [B, segments * N], and in-window spikes."""
        with torch.no_grad():
            spikes, _ = model.run(x)
            traces, _ = model.readout_features(spikes)
        t = torch.arange(x.shape[0]).unsqueeze(1)  # [T, 1]
        segment = (t * self.segments) // window.unsqueeze(0)  # [T, B]: segment of step t in sample b's window
        feats = []
        for k in range(self.segments):
            inside = (segment == k).unsqueeze(-1).to(traces.dtype)
            feats.append((traces * inside).sum(0) / inside.sum(0).clamp_min(1.0))
        return torch.cat(feats, dim=1), spikes * (segment < self.segments).unsqueeze(-1)

    def evaluate(self, model: HRSNN) -> tuple[float, float]:
        f_train, _ = self._features(model, self.x_train, self.w_train)
        onehot = torch.nn.functional.one_hot(self.y_train, self.n_outputs).float()
        w, b = ridge_regression(f_train, onehot, ridge=1e-2)
        f_test, spikes = self._features(model, self.x_test, self.w_test)
        acc = float(((f_test @ w.T + b).argmax(1) == self.y_test).float().mean())
        return acc, synaptic_operations(model, spikes)


def dense_config(n_inputs: int, n_outputs: int, seed: int) -> HRSNNConfig:
    return HRSNNConfig(n_inputs=n_inputs, n_outputs=n_outputs, n_neurons=N_NEURONS, input_scale=6.0,
                       readout_tau_ms=5.0, seed=seed)


def lnp_for_task(lnp: PruningResult, dense: HRSNN) -> HRSNN:
    """The LNP-pruned recurrent network (kept neurons, weights, mask, taus) under ``dense``'s input layer."""
    model = dense.select(lnp.report["kept_neurons"])
    with torch.no_grad():
        model.weight.copy_(lnp.model.weight)
        model.mask.copy_(lnp.model.mask)
    model.set_tau_ms(lnp.model.tau_ms.detach())
    return model


# ----------------------------------------------------------------------------------------------
# Main comparison
# ----------------------------------------------------------------------------------------------

def lyapunov_of(model: HRSNN, kept, lnp: LyapunovNoisePruning, drives: torch.Tensor) -> dict:
    """lambda_max of ``model`` (neurons = dense ``kept``) with its interval, on LNP's noise drives."""
    c = lnp.config
    est = estimate_lyapunov(model, drives[:, :, torch.as_tensor(kept)], method=c.lyapunov, k=c.lyapunov_k,
                            n_transient=c.n_transient, delta=finite_size_delta(model, c), confidence=c.confidence,
                            seed=c.seed)
    mean, lo, hi = est.interval()
    return {"lambda_max": mean, "lambda_max_ci": [lo, hi]}


def pruned_models(dense: HRSNN, lnp: PruningResult, task, seed: int) -> dict[str, tuple[HRSNN, list[int]]]:
    """LNP's network and the baselines at its sparsity for this task and seed, with the dense neurons kept."""
    ns, ss = lnp.report["neuron_sparsity"], lnp.report["synapse_sparsity"]
    inputs, window = task.train_inputs()
    out = {"lnp": (lnp_for_task(lnp, dense), lnp.report["kept_neurons"])}
    for name, result in (("random", random_prune(dense, ns, ss, seed=seed)),
                         ("activity", activity_prune(dense, inputs, ns, ss, window=window)),
                         ("magnitude", magnitude_prune(dense, ns, ss))):
        out[name] = (result.model, result.report["kept_neurons"])
    return out


def _row(task: str, metric: str, estimator: str, method: str, rs: list[dict], dense_synapses: float) -> dict:
    scores = [r["score"] for r in rs]
    return {"task": task, "lnp_lyapunov": estimator, "method": method, "metric": metric,
            "score": statistics.mean(scores), "score_std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "neurons": statistics.mean(r["neurons"] for r in rs), "synapses": statistics.mean(r["synapses"] for r in rs),
            "neuron_sparsity": 1 - statistics.mean(r["neurons"] for r in rs) / N_NEURONS,
            "synapse_sparsity": 1 - statistics.mean(r["synapses"] for r in rs) / dense_synapses,
            "synops": statistics.mean(r["synops"] for r in rs),
            "spectral_radius": statistics.mean(r["spectral_radius"] for r in rs),
            "lambda_max": statistics.mean(r["lambda_max"] for r in rs),
            "lambda_max_std": statistics.stdev(r["lambda_max"] for r in rs) if len(rs) > 1 else 0.0,
            "per_seed": rs, "seeds": len(rs)}


def run_task(name: str, task, variants: dict[str, dict[int, PruningResult]], lnp: LyapunovNoisePruning) -> list[dict]:
    """Rows for one task: the dense network, then per LNP variant (its Lyapunov estimator) LNP and the
    baselines at that variant's sparsity. lambda_max is measured with the default (``lnp``) estimator."""
    runs: dict[tuple[str, str], list[dict]] = {}
    seeds = sorted(next(iter(variants.values())))
    for seed in seeds:
        dense = HRSNN(dense_config(task.n_inputs, task.n_outputs, seed))
        lnp_seeded = LyapunovNoisePruning(replace(lnp.config, seed=seed))
        drives = lnp_seeded.drives(dense)  # the drives LNP used: the same bias, the same seeds
        models = {("", "dense"): (dense, list(range(dense.n_neurons)))}
        for estimator, by_seed in variants.items():
            models.update({(estimator, m): v for m, v in pruned_models(dense, by_seed[seed], task, seed).items()})
        for key, (model, kept) in models.items():
            score, ops = task.evaluate(model)
            runs.setdefault(key, []).append({"score": score, "neurons": model.n_neurons, "synapses": model.n_synapses(),
                                             "synops": ops, "spectral_radius": spectral_radius(model.effective_weight()),
                                             **lyapunov_of(model, kept, lnp_seeded, drives)})
        print(f"{name} seed {seed}: " + ", ".join(f"{e or 'dense'}/{m}={v[-1]['score']:.3f}"
                                                   for (e, m), v in runs.items()), flush=True)
    dense_synapses = statistics.mean(r["synapses"] for r in runs[("", "dense")])
    return [_row(name, task.metric, e, m, rs, dense_synapses) for (e, m), rs in runs.items()]


# ----------------------------------------------------------------------------------------------
# The estimator behind the decisions
# ----------------------------------------------------------------------------------------------

def jacobian_comparison(seeds: int = 2) -> dict:
    """Exact vs surrogate Jacobian against two nearby trajectories (small networks), and how each
    estimator responds to synapse pruning of a 200-neuron network."""
    from scipy.stats import spearmanr

    deltas = [1e-3, 1e-2, 3e-2, 0.1, 0.3]
    rows = []
    for radius in (2.0, 4.0, 8.0, 16.0, 32.0):
        for seed in range(seeds):
            model = HRSNN(n_neurons=40, seed=seed, spectral_radius=radius, p_connect=0.2)
            drive = 1.0 + torch.randn(1100, 2, 40, generator=torch.Generator().manual_seed(seed + 10))
            row = {"spectral_radius": radius, "seed": seed}
            for jac in ("exact", "surrogate"):
                row[jac] = float(hrsnn_lyapunov_spectrum(model, drive, k=1, jacobian=jac).exponents[:, 0].mean())
            for d in deltas:
                row[f"fd_{d:g}"] = float(finite_difference_lyapunov(model, drive, d)[0].mean())
            rows.append(row)
            print(f"jacobians: radius {radius} seed {seed}: exact {row['exact']:.4f}, surrogate {row['surrogate']:.4f}, "
                  + ", ".join(f"fd({d:g}) {row[f'fd_{d:g}']:.4f}" for d in deltas), flush=True)
    agreement = {}
    for d in deltas:
        fd = [r[f"fd_{d:g}"] for r in rows]
        agreement[f"{d:g}"] = {f"{jac}_{stat}": value for jac in ("exact", "surrogate") for stat, value in (
            ("spearman", float(spearmanr([r[jac] for r in rows], fd).statistic)),
            ("median_abs_error", float(np.median(np.abs(np.array([r[jac] for r in rows]) - np.array(fd))))))}
    return {"networks": rows, "deltas": deltas, "agreement": agreement, "pruning_response": pruning_response()}


def pruning_response(repeats: int = 6) -> list[dict]:
    """lambda_max (mean, 90 % interval) of one 200-neuron network after Moore-Chaudhuri sampling at
    several kept fractions, for each estimator: which ones see the synapses go?"""
    model = HRSNN(n_neurons=N_NEURONS, seed=0)
    drives = noise_drive(1000, N_NEURONS, 1.0, model.input.bias, list(range(repeats)))
    cov, _ = noise_covariance(model.recurrent, drives, 200)
    scores = synapse_scores(model.weight.detach(), model.mask, cov)
    rows = []
    for keep in (1.0, 0.5, 0.25, 0.1):
        pruned = model.copy()
        if keep < 1.0:
            probs = keep_probabilities(scores, model.mask, keep)
            weight, mask = sample_pruned_weights(model.weight.detach(), probs, torch.Generator().manual_seed(0))
            with torch.no_grad():
                pruned.weight.copy_(weight * mask)
                pruned.mask.copy_(mask)
        row = {"keep_fraction": keep, "synapses": pruned.n_synapses()}
        for method in ("exact", "surrogate", "finite_size"):
            est = estimate_lyapunov(pruned, drives, method=method, k=1, n_transient=200, delta=0.06, confidence=0.9)
            mean, lo, hi = est.interval()
            row[method] = {"lambda_max": mean, "ci": [lo, hi]}
        rows.append(row)
        print(f"pruning response keep {keep}: " + ", ".join(f"{m} {row[m]['lambda_max']:.4f} "
                                                            f"[{row[m]['ci'][0]:.4f}, {row[m]['ci'][1]:.4f}]"
                                                            for m in ("exact", "surrogate", "finite_size")), flush=True)
    return rows


def reweighting_check(task, variant: dict[int, PruningResult]) -> dict:
    """Why LNP trails random pruning on the series: random pruning at LNP's sparsity, with and without
    LNP's 1/p re-weighting (kept synapses scaled by 1/q, q = the kept share among the kept neurons,
    so the expected matrix is the dense one, as in LNP). Scores and spectral radii per seed."""
    out = {"random": [], "random_reweighted": [], "radius_random": [], "radius_reweighted": []}
    for seed, result in variant.items():
        dense = HRSNN(dense_config(task.n_inputs, task.n_outputs, seed))
        pruned = random_prune(dense, result.report["neuron_sparsity"], result.report["synapse_sparsity"], seed=seed)
        reweighted = pruned.model.copy()
        q = pruned.model.n_synapses() / dense.select(pruned.report["kept_neurons"]).n_synapses()
        with torch.no_grad():
            reweighted.weight.div_(q)
        out["random"].append(task.evaluate(pruned.model)[0])
        out["random_reweighted"].append(task.evaluate(reweighted)[0])
        out["radius_random"].append(spectral_radius(pruned.model.effective_weight()))
        out["radius_reweighted"].append(spectral_radius(reweighted.effective_weight()))
    return {k: {"mean": statistics.mean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "per_seed": v}
            for k, v in out.items()}


def finite_size_ablation(trials: int) -> dict:
    """What LNP decides on the seed-0 network when the two-trajectory estimate drives its decisions."""
    t0 = time.perf_counter()
    rep = LyapunovNoisePruning(seed=0, lyapunov="finite_size", timescale_trials=trials).prune(
        HRSNN(dense_config(1, 1, 0))).report
    row = {"lyapunov": "finite_size", "neuron_sparsity": rep["neuron_sparsity"],
           "synapse_sparsity": rep["synapse_sparsity"], "margin": rep["equivalence_margin"],
           "lambda_max_before_ci": rep["lyapunov_ci_before"],
           "stage1_probes": [{k: p[k] for k in ("keep_fraction", "difference_ci", "accepted")}
                             for p in rep["stages"][0]["info"]["probes"]], "seconds": time.perf_counter() - t0}
    print(f"finite-size ablation: {row}", flush=True)
    return row


# ----------------------------------------------------------------------------------------------
# Plots and entry point
# ----------------------------------------------------------------------------------------------

def plot(rows: list[dict], comparison: dict | None, directory) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    colours = {"dense": "grey", "lnp": "C0", "random": "C7", "activity": "C1", "magnitude": "C2"}
    fig, axes = plt.subplots(2, len(tasks), figsize=(5.5 * len(tasks), 7), squeeze=False)
    for col, task in enumerate(tasks):
        sel = [r for r in rows if r["task"] == task]
        names = [f"{r['method']}\n{r['lnp_lyapunov']}" if r["lnp_lyapunov"] else r["method"] for r in sel]
        ax = axes[0, col]
        ax.bar(names, [r["score"] for r in sel], yerr=[r["score_std"] for r in sel], capsize=3,
               color=[colours[r["method"]] for r in sel])
        ax.tick_params(axis="x", labelsize=7)
        lo = min(r["score"] - r["score_std"] for r in sel)
        hi = max(r["score"] + r["score_std"] for r in sel)
        ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
        ax.set_title(f"{task}: {sel[0]['metric']} (mean ± std, {sel[0]['seeds']} seeds)")
        ax = axes[1, col]
        ax.bar(names, [r["synops"] / sel[0]["synops"] for r in sel], color="C4")
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title("recurrent SynOps / dense")
    fig.tight_layout()
    fig.savefig(directory / "pruning_benchmark.png", dpi=110)
    plt.close(fig)
    if comparison is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, net in enumerate(comparison["networks"]):
        if net["seed"] != 0:
            continue
        line, = ax.plot(comparison["deltas"], [net[f"fd_{d:g}"] for d in comparison["deltas"]], "o-",
                        label=f"radius {net['spectral_radius']:g}")
        ax.axhline(net["exact"], color=line.get_color(), ls="--", lw=0.8)
        ax.axhline(net["surrogate"], color=line.get_color(), ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_ylim(-0.5, 0.2)
    ax.set_xlabel("separation delta of the two trajectories")
    ax.set_ylabel("largest exponent [1/ms]")
    ax.set_title("two trajectories (o), exact Jacobian (--), surrogate (:)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(directory / "pruning_jacobians.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--tasks", default="lorenz,rossler,shd")
    parser.add_argument("--lnp-estimators", default="surrogate,exact",
                        help="LNP variants (Lyapunov estimator behind its decisions), each with its matched baselines")
    parser.add_argument("--skip-estimators", action="store_true", help="skip the Jacobian comparison and ablation")
    args = parser.parse_args()
    # One thread: thousands of tiny ops (N <= 200) where intra-op threads only add spin-wait.
    set_threads(1)
    t_start = time.perf_counter()
    comparison = None if args.skip_estimators else jacobian_comparison()
    lnp = LyapunovNoisePruning(timescale_trials=args.trials)
    variants: dict[str, dict[int, PruningResult]] = {}
    lnp_seconds: dict[str, list[float]] = {}
    for estimator in args.lnp_estimators.split(","):
        variants[estimator], lnp_seconds[estimator] = {}, []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            # n_inputs does not matter: LNP drives the recurrent layer with noise currents only.
            source = HRSNN(dense_config(1, 1, seed))
            variants[estimator][seed] = LyapunovNoisePruning(
                replace(lnp.config, seed=seed, lyapunov=estimator)).prune(source)
            lnp_seconds[estimator].append(time.perf_counter() - t0)
            rep = variants[estimator][seed].report
            print(f"LNP ({estimator}) seed {seed}: {lnp_seconds[estimator][-1]:.0f} s, neurons {rep['after']['neurons']},"
                  f" synapses {rep['after']['synapses']} (sparsity {rep['neuron_sparsity']:.3f} / "
                  f"{rep['synapse_sparsity']:.3f})", flush=True)
    makers = {"lorenz": lambda: SeriesTask(lorenz(3000)), "rossler": lambda: SeriesTask(rossler(3000)),
              "shd": ShdTask}
    rows, why = [], {}
    for name in args.tasks.split(","):
        task = makers[name]()
        rows += run_task(name, task, variants, lnp)
        why[name] = reweighting_check(task, variants[lnp.config.lyapunov])
        print(f"re-weighting check {name}: " + ", ".join(f"{k} {v['mean']:.3f}" for k, v in why[name].items()),
              flush=True)
    ablation = None if args.skip_estimators else finite_size_ablation(args.trials)
    columns = ["task", "lnp_lyapunov", "method", "metric", "score", "score_std", "neurons", "synapses", "neuron_sparsity",
               "synapse_sparsity", "synops", "spectral_radius", "lambda_max", "lambda_max_std"]
    config = {"neurons": N_NEURONS, "seeds": args.seeds, "optuna_trials": args.trials, "horizon": HORIZON,
              "threads": 1, "lambda_max_by": lnp.config.lyapunov, "repeats": lnp.config.repeats,
              "confidence": lnp.config.confidence}
    path = write_result("pruning", "HRSNN pruning: dense vs LNP vs random vs activity vs magnitude (sparsity "
                        "decided by LNP)", rows, config, columns)
    payload = json.loads(path.read_text())
    payload.update({"lnp_per_seed": [{"lyapunov": e, "seed": s, "seconds": t, "neuron_sparsity": r.report["neuron_sparsity"],
                                      "synapse_sparsity": r.report["synapse_sparsity"],
                                      "equivalence_margin": r.report["equivalence_margin"],
                                      "stages": [{k: st[k] for k in ("stage", "neurons", "synapses", "lyapunov_max",
                                                                      "rate")} | {"lambda_max_ci": st["lyapunov"]["lambda_max_ci"],
                                                                                  "equivalent": st["equivalence"]["accepted"]}
                                                 for st in r.report["stages"]],
                                      "keep_fraction": r.report["stages"][0]["info"]["keep_fraction"],
                                      "lyapunov_term": r.report["stages"][0]["info"]["lyapunov_term"],
                                      "timescale_decision": r.report["stages"][3]["info"].get("decision")}
                                     for e in variants for (s, r), t in zip(variants[e].items(), lnp_seconds[e])],
                    "jacobian_comparison": comparison, "finite_size_ablation": ablation, "reweighting_check": why,
                    "lnp_config": asdict(lnp.config), "total_seconds": time.perf_counter() - t_start})
    path.write_text(json.dumps(payload, indent=2) + "\n")
    from pathlib import Path

    plot(rows, comparison, Path(__file__).resolve().parents[1] / "docs")
    for r in rows:
        print({k: r[k] for k in columns})
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {path}", flush=True)


if __name__ == "__main__":
    main()
