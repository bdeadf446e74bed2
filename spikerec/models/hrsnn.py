"""Heterogeneous recurrent spiking neural network (HRSNN).

A recurrent layer of leaky integrate-and-fire neurons whose membrane time constants are drawn
per neuron from a gamma distribution (Chakraborty & Mukhopadhyay, ICLR 2024), with sparse random
or small-world recurrent connectivity, an optional excitatory/inhibitory (Dale) sign structure and
an optional clustered variant (several clusters, each with its own timescale distribution, sparsely
inter-connected). A binary ``mask`` multiplies the recurrent weights, so pruning is structural:
a pruned synapse is a zero in the mask, a pruned neuron is physically removed (see ``select``).

Dynamics per step t (time in ms, ``alpha = 1 - dt/tau`` per neuron, reset detached)::

    u_t = alpha * u_{t-1} * (1 - s_{t-1}) + (1 - alpha) * (W s_{t-1} + W_in x_t + b)
    s_t = H(u_t - threshold)

i.e. the LIF of ``spikerec.neurons`` with ``decay_input=True`` (input is low-pass filtered, so every
timescale has unit DC gain and heterogeneity changes dynamics, not gain), hard reset to 0 with
``detach_reset=True``; the forward and its hand-written BPTT backward are the fused
``spikerec.neurons.functional.lif_multistep`` kernel with a recurrent weight. Gradients use the
fast-sigmoid surrogate ``1 / (1 + slope |u - threshold|)^2`` for dH/du; the Lyapunov Jacobian uses
the same derivative (see ``step_jacobian_product``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Sequence

import networkx as nx
import numpy as np
import torch
from torch import nn

from spikerec.errors import CheckpointError, ConfigError, ShapeError
from spikerec.io import atomic_path, write_json
from spikerec.neurons.functional import decay_from_tau, li_multistep, lif_multistep
from spikerec.neurons.surrogate import Surrogate
from spikerec.neurons.surrogate import get as get_surrogate

FORMAT_VERSION = 1


@dataclass
class HRSNNConfig:
    """Everything needed to build an HRSNN. Times in ms.

    topology: "random" (Erdos-Renyi, probability ``p_connect``) or "small_world" (Watts-Strogatz
    ring with ``small_world_k`` neighbours, rewiring probability ``small_world_p``; edges directed
    both ways). ``excitatory_fraction`` None gives zero-mean Gaussian weights of either sign;
    a value in (0, 1) gives Dale's law (each presynaptic neuron all-positive or all-negative,
    inhibitory weights scaled so the expected row sum is zero). Weights are rescaled so the
    spectral radius of W equals ``spectral_radius``.
    Clustered variant: ``n_clusters`` > 1 splits the neurons into equal clusters wired internally
    by ``topology``/``p_connect`` and between clusters with probability ``p_inter``; cluster c
    draws tau from gamma(``cluster_tau_shapes[c]``, mean ``cluster_tau_means_ms[c]``)
    (default means spread geometrically over [tau_mean_ms / 2, 2 tau_mean_ms]).
    """

    n_inputs: int = 1
    n_neurons: int = 200
    n_outputs: int = 1
    topology: str = "random"
    p_connect: float = 0.1
    small_world_k: int = 10
    small_world_p: float = 0.1
    excitatory_fraction: float | None = None
    spectral_radius: float = 16.0
    input_scale: float = 2.0
    bias: float = 1.0
    tau_shape: float = 3.0
    tau_mean_ms: float = 20.0
    tau_min_ms: float | None = None
    tau_max_ms: float = 500.0
    n_clusters: int = 1
    p_inter: float = 0.01
    cluster_tau_means_ms: list[float] | None = None
    cluster_tau_shapes: list[float] | None = None
    dt_ms: float = 1.0
    threshold: float = 1.0
    surrogate_slope: float = 5.0
    readout_tau_ms: float | None = None
    seed: int = 0

    def validate(self) -> None:
        if self.n_neurons < 2 or self.n_inputs < 1 or self.n_outputs < 1:
            raise ConfigError(f"HRSNN needs n_neurons >= 2, n_inputs >= 1, n_outputs >= 1; got "
                              f"{self.n_neurons}, {self.n_inputs}, {self.n_outputs}")
        if self.topology not in ("random", "small_world"):
            raise ConfigError(f"HRSNN topology must be 'random' or 'small_world', got {self.topology!r}")
        if not 0.0 < self.p_connect <= 1.0:
            raise ConfigError(f"HRSNN p_connect must be in (0, 1], got {self.p_connect}")
        if self.excitatory_fraction is not None and not 0.0 < self.excitatory_fraction < 1.0:
            raise ConfigError(f"excitatory_fraction must be None or in (0, 1), got {self.excitatory_fraction}")
        if self.tau_shape <= 0 or self.tau_mean_ms <= 0 or self.dt_ms <= 0:
            raise ConfigError("tau_shape, tau_mean_ms and dt_ms must be positive")
        if self.tau_min_ms is not None and self.tau_min_ms <= self.dt_ms:
            raise ConfigError(f"tau_min_ms ({self.tau_min_ms}) must exceed dt_ms ({self.dt_ms}) for a stable "
                              f"Euler step; leave it None for 2 * dt_ms")
        if self.readout_tau_ms is not None and self.readout_tau_ms <= self.dt_ms:
            raise ConfigError(f"readout_tau_ms ({self.readout_tau_ms}) must exceed dt_ms ({self.dt_ms}); "
                              f"leave it None for max(10, 2 * dt_ms)")
        if self.n_clusters < 1 or self.n_clusters > self.n_neurons:
            raise ConfigError(f"n_clusters must be in [1, n_neurons], got {self.n_clusters}")
        for name in ("cluster_tau_means_ms", "cluster_tau_shapes"):
            value = getattr(self, name)
            if value is not None and len(value) != self.n_clusters:
                raise ConfigError(f"{name} needs one entry per cluster ({self.n_clusters}), got {len(value)}")

    @property
    def readout_tau_effective_ms(self) -> float:
        """Readout filter time constant: ``readout_tau_ms`` or, when None, max(10 ms, 2 * dt_ms)."""
        return self.readout_tau_ms if self.readout_tau_ms is not None else max(10.0, 2.0 * self.dt_ms)

    @property
    def tau_floor_ms(self) -> float:
        """Smallest allowed tau: ``tau_min_ms`` or, when None, 2 * dt_ms."""
        return self.tau_min_ms if self.tau_min_ms is not None else 2.0 * self.dt_ms

    @classmethod
    def from_dict(cls, data: dict) -> "HRSNNConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown HRSNN config keys {unknown}; known: {sorted(known)}")
        return cls(**data)


# ----------------------------------------------------------------------------------------------
# Pure functions: timescales, connectivity, dynamics
# ----------------------------------------------------------------------------------------------

def sample_gamma_tau_ms(n: int, shape: float, mean_ms: float, rng: np.random.Generator,
                        tau_min_ms: float, tau_max_ms: float) -> np.ndarray:
    """n membrane time constants (ms) from gamma(shape, scale=mean/shape), clipped to [min, max].

    Clipping keeps tau > dt so the Euler update stays a contraction; the clip range is recorded in
    the config, nothing is changed silently.
    """
    return np.clip(rng.gamma(shape, mean_ms / shape, size=n), tau_min_ms, tau_max_ms)


def cluster_assignment(n: int, n_clusters: int) -> np.ndarray:
    """Cluster id per neuron: contiguous, as equal as possible. Shape [n], int64."""
    return np.repeat(np.arange(n_clusters), np.diff(np.linspace(0, n, n_clusters + 1).round().astype(int)))


def cluster_tau_params(cfg: HRSNNConfig) -> tuple[list[float], list[float]]:
    """(shapes, means_ms) per cluster; defaults spread means geometrically around tau_mean_ms."""
    if cfg.cluster_tau_means_ms is not None:
        means = list(cfg.cluster_tau_means_ms)
    elif cfg.n_clusters == 1:
        means = [cfg.tau_mean_ms]
    else:
        means = list(cfg.tau_mean_ms * np.geomspace(0.5, 2.0, cfg.n_clusters))
    shapes = list(cfg.cluster_tau_shapes) if cfg.cluster_tau_shapes is not None else [cfg.tau_shape] * cfg.n_clusters
    return shapes, means


def sample_taus_for_clusters(cluster_ids: np.ndarray, shapes: Sequence[float], means_ms: Sequence[float],
                             rng: np.random.Generator, tau_min_ms: float, tau_max_ms: float) -> np.ndarray:
    """Per-neuron tau (ms): neurons of cluster c draw from gamma(shapes[c], mean means_ms[c])."""
    tau = np.empty(len(cluster_ids))
    for c in range(len(shapes)):
        idx = np.flatnonzero(cluster_ids == c)
        tau[idx] = sample_gamma_tau_ms(len(idx), shapes[c], means_ms[c], rng, tau_min_ms, tau_max_ms)
    return tau


def _block_adjacency(n: int, cfg: HRSNNConfig, rng: np.random.Generator) -> np.ndarray:
    """Boolean [n, n] adjacency (post, pre) of one block, no self-connections."""
    if cfg.topology == "random":
        adj = rng.random((n, n)) < cfg.p_connect
    else:
        k = min(cfg.small_world_k, n - 1 - (n - 1) % 2) if n > 2 else 1
        graph = nx.watts_strogatz_graph(n, max(k, 1), cfg.small_world_p, seed=int(rng.integers(2**31)))
        adj = nx.to_numpy_array(graph, dtype=bool)
    np.fill_diagonal(adj, False)
    return adj


def build_adjacency(cfg: HRSNNConfig, cluster_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Recurrent adjacency [N, N] (post, pre): topology inside each cluster, p_inter between."""
    n = cfg.n_neurons
    adj = rng.random((n, n)) < cfg.p_inter if cfg.n_clusters > 1 else np.zeros((n, n), dtype=bool)
    for c in range(cfg.n_clusters):
        idx = np.flatnonzero(cluster_ids == c)
        adj[np.ix_(idx, idx)] = _block_adjacency(len(idx), cfg, rng)
    np.fill_diagonal(adj, False)
    return adj


def build_recurrent_weights(cfg: HRSNNConfig, adj: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Weights [N, N] on the adjacency, optional Dale signs, rescaled to ``cfg.spectral_radius``."""
    n = cfg.n_neurons
    if cfg.excitatory_fraction is None:
        w = rng.standard_normal((n, n))
    else:
        fe = cfg.excitatory_fraction
        excitatory = rng.random(n) < fe
        # Inhibitory synapses are stronger by fe/(1-fe) so the expected input to a neuron is zero.
        sign = np.where(excitatory, 1.0, -fe / (1.0 - fe))
        w = np.abs(rng.standard_normal((n, n))) * sign[None, :]
    w = w * adj
    radius = spectral_radius(w)
    if radius > 0:
        w = w * (cfg.spectral_radius / radius)
    return w


def spectral_radius(weight: np.ndarray | torch.Tensor) -> float:
    """Largest |eigenvalue| of a square matrix (0 for an empty matrix)."""
    w = weight.detach().cpu().double() if isinstance(weight, torch.Tensor) else torch.from_numpy(np.asarray(weight, float))
    if w.numel() == 0:
        return 0.0
    return float(torch.linalg.eigvals(w).abs().max())  # torch, not numpy: obeys torch's thread count


def surrogate_for(slope: float) -> Surrogate:
    """The fast-sigmoid surrogate ``1 / (1 + slope |x|)^2`` used for training and the Jacobian."""
    return get_surrogate("fast_sigmoid", slope=float(slope))


def hrsnn_run(currents: torch.Tensor, weight: torch.Tensor, alpha: torch.Tensor, threshold: float,
              slope: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the recurrent LIF layer over time (fused ``lif_multistep`` kernel).

    currents: [T, B, N] external input currents (W_in x_t + b). weight: [N, N] effective recurrent
    weights (post, pre), already masked. alpha: [N] per-neuron decay 1 - dt/tau.
    Returns (spikes [T, B, N], membrane [T, B, N]) with membrane the potential after reset.
    """
    if currents.dim() != 3 or currents.shape[-1] != weight.shape[0]:
        raise ShapeError(f"hrsnn_run expects currents [T, B, {weight.shape[0]}], got {tuple(currents.shape)}")
    spikes, _, membrane = lif_multistep(currents, None, alpha, threshold, reset="hard", detach_reset=True,
                                        decay_input=True, surrogate=surrogate_for(slope),
                                        recurrent_weight=weight, return_membrane=True)
    return spikes, membrane


def step_jacobian_product(q: torch.Tensor, u_prev: torch.Tensor, weight: torch.Tensor, alpha: torch.Tensor,
                          threshold: float, slope: float) -> torch.Tensor:
    """J_t @ q for the map u_{t-1} -> u_t, without forming J (q: [N, k]).

    J_t = diag(alpha (1 - s_{t-1})) + diag(1 - alpha) W diag(sigma'(u_{t-1} - threshold)),
    with s_{t-1} = H(u_{t-1} - threshold), u the pre-reset potential, sigma' the surrogate derivative
    and the reset treated as detached (the same convention as training), so a spiking neuron
    forgets its past potential.
    """
    s = (u_prev >= threshold).to(q.dtype)
    leak = (alpha * (1.0 - s)).unsqueeze(1) * q
    through = weight @ (surrogate_for(slope).grad(u_prev - threshold).unsqueeze(1) * q)
    return leak + (1.0 - alpha).unsqueeze(1) * through


def exponential_trace(spikes: torch.Tensor, tau_ms: float, dt_ms: float) -> torch.Tensor:
    """Low-pass filtered spikes r_t = beta r_{t-1} + (1 - beta) s_t, beta = 1 - dt/tau: a leaky
    integrator (``li_multistep``, decay_input=True) over [T, B, N]."""
    return li_multistep(spikes, None, decay_from_tau(tau_ms, dt_ms).item(), decay_input=True)


# ----------------------------------------------------------------------------------------------
# Module
# ----------------------------------------------------------------------------------------------

class HRSNN(nn.Module):
    """Heterogeneous recurrent SNN: input layer -> recurrent LIF (masked W, per-neuron tau) -> readout.

    forward(x [T, B, n_inputs]) -> readout output [T, B, n_outputs], a linear map of the
    exponentially filtered spikes (``readout_tau_ms``, default max(10, 2 dt) ms). ``forward(x, return_states=True)`` also
    returns (spikes, membrane) [T, B, N]. Buffers: ``mask`` [N, N] (post, pre), ``tau_ms`` [N],
    ``cluster_ids`` [N]. Parameters: ``input.weight`` [N, n_inputs], ``weight`` [N, N],
    ``readout`` (Linear N -> n_outputs).
    """

    def __init__(self, config: HRSNNConfig | None = None, initialize: bool = True, **overrides):
        """Build from ``config`` (plus keyword overrides). ``initialize=False`` allocates zero
        tensors of the configured size without sampling (used when loading or selecting)."""
        super().__init__()
        cfg = config if config is not None else HRSNNConfig()
        if overrides:
            cfg = HRSNNConfig(**{**asdict(cfg), **overrides})
        n = cfg.n_neurons
        self.config = cfg
        self.input = nn.Linear(cfg.n_inputs, n, bias=True)
        self.weight = nn.Parameter(torch.zeros(n, n))
        self.register_buffer("mask", torch.zeros(n, n))
        self.register_buffer("tau_ms", torch.full((n,), float(cfg.tau_mean_ms)))
        self.register_buffer("cluster_ids", torch.zeros(n, dtype=torch.long))
        self.readout = nn.Linear(n, cfg.n_outputs)
        if initialize:
            cfg.validate()
            self._sample(cfg)

    def _sample(self, cfg: HRSNNConfig) -> None:
        """Draw timescales, connectivity and weights from ``cfg.seed`` (numpy Generator)."""
        rng = np.random.default_rng(cfg.seed)
        n = cfg.n_neurons
        cluster_ids = cluster_assignment(n, cfg.n_clusters)
        shapes, means = cluster_tau_params(cfg)
        tau = sample_taus_for_clusters(cluster_ids, shapes, means, rng, cfg.tau_floor_ms, cfg.tau_max_ms)
        adj = build_adjacency(cfg, cluster_ids, rng)
        w = build_recurrent_weights(cfg, adj, rng)
        w_in = rng.standard_normal((n, cfg.n_inputs)) * cfg.input_scale / math.sqrt(cfg.n_inputs)
        with torch.no_grad():
            self.input.weight.copy_(torch.from_numpy(w_in))
            self.input.bias.fill_(cfg.bias)
            self.weight.copy_(torch.from_numpy(w))
            self.mask.copy_(torch.from_numpy(adj.astype(np.float32)))
            self.tau_ms.copy_(torch.from_numpy(tau))
            self.cluster_ids.copy_(torch.from_numpy(cluster_ids))

    # -- views -----------------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return int(self.weight.shape[0])

    @property
    def alpha(self) -> torch.Tensor:
        """Per-neuron decay 1 - dt/tau, [N] (``spikerec.neurons.functional.decay_from_tau``)."""
        return decay_from_tau(self.tau_ms, self.config.dt_ms).to(self.tau_ms)

    def effective_weight(self) -> torch.Tensor:
        """Masked recurrent weights W * mask, [N, N] (post, pre)."""
        return self.weight * self.mask

    def n_synapses(self) -> int:
        """Number of recurrent synapses (non-zero mask entries)."""
        return int(self.mask.count_nonzero())

    # -- dynamics ----------------------------------------------------------------------------
    def currents(self, x: torch.Tensor) -> torch.Tensor:
        """External input currents W_in x + b for all steps at once: [T, B, C] -> [T, B, N]."""
        if x.dim() != 3 or x.shape[-1] != self.config.n_inputs:
            raise ShapeError(f"HRSNN expects input [T, B, {self.config.n_inputs}], got {tuple(x.shape)}")
        return self.input(x)

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(spikes, membrane), each [T, B, N], for input x [T, B, n_inputs]."""
        cfg = self.config
        return hrsnn_run(self.currents(x), self.effective_weight(), self.alpha, cfg.threshold, cfg.surrogate_slope)

    def features(self, spikes: torch.Tensor) -> torch.Tensor:
        """Readout features: spikes low-pass filtered with ``readout_tau_ms``. [T, B, N]."""
        return exponential_trace(spikes, self.config.readout_tau_effective_ms, self.config.dt_ms)

    latency_steps = 0  # no delays: a sample window needs no drain

    def forward(self, x: torch.Tensor, return_states: bool = False, *, window: torch.Tensor | None = None):
        """Readout [T, B, n_outputs] of input x [T, B, n_inputs]; causal with no reduction over time, so
        ``window`` (steps per sample) changes nothing here (see :mod:`spikerec.window`)."""
        spikes, membrane = self.run(x)
        out = self.readout(self.features(spikes))
        return (out, spikes, membrane) if return_states else out

    # -- structure ---------------------------------------------------------------------------
    def select(self, keep: Sequence[int] | torch.Tensor) -> "HRSNN":
        """A new HRSNN with only the neurons ``keep`` (indices, in order); removed neurons take
        their synapses, input rows and readout columns with them. Config records the new size."""
        keep = torch.as_tensor(keep, dtype=torch.long)
        if keep.numel() < 2:
            raise ConfigError(f"cannot keep fewer than 2 neurons (got {keep.numel()})")
        new = HRSNN(HRSNNConfig(**{**asdict(self.config), "n_neurons": int(keep.numel())}), initialize=False)
        with torch.no_grad():
            new.weight.copy_(self.weight[keep][:, keep])
            new.mask.copy_(self.mask[keep][:, keep])
            new.tau_ms.copy_(self.tau_ms[keep])
            new.cluster_ids.copy_(self.cluster_ids[keep])
            new.input.weight.copy_(self.input.weight[keep])
            new.input.bias.copy_(self.input.bias[keep])
            new.readout.weight.copy_(self.readout.weight[:, keep])
            new.readout.bias.copy_(self.readout.bias)
        return new

    def copy(self) -> "HRSNN":
        """An independent deep copy."""
        return self.select(torch.arange(self.n_neurons))

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``hrsnn.pt`` (state dict) and ``hrsnn.json`` (config + format version) atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "hrsnn.pt") as tmp:
            torch.save(self.state_dict(), tmp)
        write_json(directory / "hrsnn.json", {"format_version": FORMAT_VERSION, "config": asdict(self.config)})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "HRSNN":
        """Load a model written by ``save`` (tensors only: ``torch.load(weights_only=True)``)."""
        directory = Path(directory)
        meta_path, state_path = directory / "hrsnn.json", directory / "hrsnn.pt"
        if not meta_path.exists() or not state_path.exists():
            raise CheckpointError(f"{directory}: expected hrsnn.json and hrsnn.pt written by HRSNN.save()")
        try:
            meta = json.loads(meta_path.read_text())
            state = torch.load(state_path, map_location="cpu", weights_only=True)
        except (OSError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"{directory}: cannot read HRSNN files ({err}); re-save the model") from err
        if meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{meta_path}: format_version {meta.get('format_version')!r}, "
                                  f"this spikerec reads {FORMAT_VERSION}")
        cfg = HRSNNConfig.from_dict(meta["config"])
        model = cls(cfg, initialize=False)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise CheckpointError(f"{state_path}: state does not match its config ({err})") from err
        return model


def sparsity_counts(model: HRSNN, reference: HRSNN) -> dict:
    """Neurons and synapses of ``model`` vs ``reference`` (the unpruned network), as counts and
    sparsities in [0, 1] (1 - kept / original)."""
    n0, s0 = reference.n_neurons, reference.n_synapses()
    n1, s1 = model.n_neurons, model.n_synapses()
    return {"neurons_before": n0, "neurons_after": n1, "synapses_before": s0, "synapses_after": s1,
            "neuron_sparsity": 1.0 - n1 / n0, "synapse_sparsity": 1.0 - s1 / max(s0, 1)}





# ----------------------------------------------------------------------------------------------
# Readout training (closed form): the reservoir-computing route, no backprop through time
# ----------------------------------------------------------------------------------------------

def ridge_regression(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Ridge fit targets ~ features @ W.T + b. features [S, F], targets [S, O] -> (W [O, F], b [O]).

    Solved in float64 on centred data (the bias is not penalised).
    """
    f, y = features.double(), targets.double()
    f_mean, y_mean = f.mean(0), y.mean(0)
    fc, yc = f - f_mean, y - y_mean
    gram = fc.T @ fc + ridge * fc.shape[0] * torch.eye(fc.shape[1], dtype=torch.float64)
    w = torch.linalg.solve(gram, fc.T @ yc).T
    return w.float(), (y_mean - w @ f_mean).float()


def fit_readout(model: HRSNN, x: torch.Tensor, targets: torch.Tensor, washout: int = 0, ridge: float = 1e-3) -> HRSNN:
    """Fit ``model.readout`` in closed form (ridge) on the filtered-spike features; returns model.

    x: [T, B, n_inputs]. targets: [T, B, n_outputs] float (per-step regression, the first
    ``washout`` steps ignored) or LongTensor [B] of class labels (classification: one-hot targets
    against the time-averaged features; predict with ``model(x).mean(0).argmax(-1)``).
    """
    with torch.no_grad():
        spikes, _ = model.run(x)
        feats = model.features(spikes)
        if targets.dtype in (torch.int64, torch.int32):
            f = feats.mean(0)
            y = torch.nn.functional.one_hot(targets.long(), model.config.n_outputs).float()
        else:
            if targets.shape[:2] != x.shape[:2]:
                raise ShapeError(f"regression targets must be [T, B, O] matching x {tuple(x.shape[:2])}, "
                                 f"got {tuple(targets.shape)}")
            f = feats[washout:].reshape(-1, feats.shape[-1])
            y = targets[washout:].reshape(-1, targets.shape[-1])
        w, b = ridge_regression(f, y, ridge)
        model.readout.weight.copy_(w)
        model.readout.bias.copy_(b)
    return model


def synaptic_operations(model: HRSNN, spikes: torch.Tensor) -> float:
    """Recurrent synaptic operations per sample: sum over steps of spikes x out-degree. spikes [T, B, N]."""
    out_degree = model.mask.sum(dim=0)  # column j = presynaptic neuron j
    return float((spikes * out_degree).sum() / spikes.shape[1])


__all__ = ["HRSNN", "HRSNNConfig", "hrsnn_run", "surrogate_for", "step_jacobian_product", "spectral_radius",
           "sample_gamma_tau_ms", "sample_taus_for_clusters", "cluster_tau_params", "exponential_trace",
           "sparsity_counts", "ridge_regression", "fit_readout", "synaptic_operations"]
