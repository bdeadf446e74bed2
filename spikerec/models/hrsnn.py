"""Heterogeneous recurrent spiking neural network (HRSNN), built on the common SpikingNetwork path.

One recurrent layer of leaky integrate-and-fire neurons whose membrane time constants are drawn
per neuron from a gamma distribution (Chakraborty & Mukhopadhyay, ICLR 2024), with sparse random
or small-world recurrent connectivity, an optional excitatory/inhibitory (Dale) sign structure and
an optional clustered variant (several clusters, each with its own timescale distribution, sparsely
inter-connected).

The network is a :class:`~spikerec.models.network.SpikingNetwork` like every other model: one
:class:`~spikerec.models.network.SpikingBlock` whose synapse is an ``nn.Linear`` (input weights, the
bias is a constant drive per neuron) and whose neuron is a :class:`~spikerec.neurons.RecurrentLIF`
with per-neuron ``tau_ms`` and a structural ``recurrent_mask``; then the standard ``Readout``
(``nn.Linear`` into a leaky integrator ``LI``). The dynamics are therefore the fused
``lif_multistep`` kernel of :mod:`spikerec.neurons.functional` and nothing else. With the defaults
(time in ms, ``beta = 1 - dt/tau`` per neuron, hard reset to 0, input low-pass filtered)::

    h_t = beta * v_{t-1} + (1 - beta) * (W_rec s_{t-1} + W_in x_t + b),   s_t = H(h_t - threshold)
    v_t = 0 where s_t else h_t

so every timescale has unit DC gain and heterogeneity changes dynamics, not gain. A pruned synapse is
a zero in the mask (no effect, no gradient); a pruned neuron is removed (:meth:`HRSNN.select`).
The same recurrent layer as a map on the pre-reset membrane, with its Jacobians, is
:class:`spikerec.pruning.spiking_map.RecurrentLIFMap`.
"""

from __future__ import annotations

import copy
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
from spikerec.models.network import Readout, SpikingBlock, SpikingNetwork
from spikerec.neurons import LI, RecurrentLIF
from spikerec.neurons.functional import li_multistep
from spikerec.neurons.surrogate import Surrogate
from spikerec.neurons.surrogate import get as get_surrogate
from spikerec.neurons.timescales import gamma_tau_ms, tau_floor_ms

FORMAT_VERSION = 2
CONFIG_FILE = "hrsnn.json"
STATE_FILE = "hrsnn.pt"


@dataclass
class HRSNNConfig:
    """Everything needed to build an HRSNN. Times in ms.

    Structure: ``topology`` "random" (Erdos-Renyi, probability ``p_connect``) or "small_world"
    (Watts-Strogatz ring with ``small_world_k`` neighbours, rewiring probability ``small_world_p``;
    edges directed both ways). ``excitatory_fraction`` None gives zero-mean Gaussian weights of either
    sign; a value in (0, 1) gives Dale's law (each presynaptic neuron all-positive or all-negative,
    inhibitory weights scaled so the expected row sum is zero). Weights are rescaled so the spectral
    radius of W equals ``spectral_radius``. Input weights ~ N(0, input_scale^2 / n_inputs), input
    bias = ``bias`` (a constant drive). Clustered variant: ``n_clusters`` > 1 splits the neurons into
    equal clusters wired internally by ``topology``/``p_connect`` and between clusters with probability
    ``p_inter``; cluster c draws tau from gamma(``cluster_tau_shapes[c]``, mean ``cluster_tau_means_ms[c]``)
    (default means spread geometrically over [tau_mean_ms / 2, 2 tau_mean_ms]).

    Neuron (the :class:`~spikerec.neurons.RecurrentLIF` options): ``threshold``, ``reset``,
    ``v_reset``, ``detach_reset``, ``decay_input``, ``surrogate`` and its one shape parameter
    ``surrogate_alpha`` (slope, alpha, width or sigma, whichever the surrogate has), ``learn_tau``.
    Block: ``batchnorm``, ``dropout``. Readout: LI with ``readout_tau_ms`` (None: max(10, 2 dt)).
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
    reset: str = "hard"
    v_reset: float = 0.0
    detach_reset: bool = True
    decay_input: bool = True
    surrogate: str = "fast_sigmoid"
    surrogate_alpha: float = 5.0
    learn_tau: bool = False
    batchnorm: bool = False
    dropout: float = 0.0
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
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"HRSNN dropout must be in [0, 1), got {self.dropout}")
        for name in ("cluster_tau_means_ms", "cluster_tau_shapes"):
            value = getattr(self, name)
            if value is not None and len(value) != self.n_clusters:
                raise ConfigError(f"{name} needs one entry per cluster ({self.n_clusters}), got {len(value)}")
        surrogate_from(self.surrogate, self.surrogate_alpha)

    @property
    def readout_tau_effective_ms(self) -> float:
        """Readout time constant: ``readout_tau_ms`` or, when None, max(10 ms, 2 * dt_ms)."""
        return self.readout_tau_ms if self.readout_tau_ms is not None else max(10.0, 2.0 * self.dt_ms)

    @property
    def tau_floor_ms(self) -> float:
        """Smallest allowed tau: ``tau_min_ms`` or, when None, 2 * dt_ms."""
        return self.tau_min_ms if self.tau_min_ms is not None else tau_floor_ms(self.dt_ms)

    @classmethod
    def from_dict(cls, data: dict) -> "HRSNNConfig":
        known = {f.name for f in fields(cls)}
        data = {("v_reset" if k == "reset_value" else k): v for k, v in data.items()}  # files before the rename
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown HRSNN config keys {unknown}; known: {sorted(known)}")
        return cls(**data)


def surrogate_from(name: str, shape: float) -> Surrogate:
    """The surrogate ``name`` with its one shape parameter (slope, alpha, width or sigma) set to ``shape``."""
    default = get_surrogate(name)
    (param,) = [f.name for f in fields(default) if f.name != "scale"]
    return get_surrogate(name, **{param: float(shape)})


# ----------------------------------------------------------------------------------------------
# Pure functions: timescales, connectivity
# ----------------------------------------------------------------------------------------------

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
        tau[idx] = np.clip(gamma_tau_ms(len(idx), shapes[c], means_ms[c], rng), tau_min_ms, tau_max_ms)
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


# ----------------------------------------------------------------------------------------------
# Module
# ----------------------------------------------------------------------------------------------

# How each state-dict entry follows a neuron selection: the dimensions indexed by the neuron id.
_NEURON_DIMS = {"blocks.0.synapse.weight": (0,), "blocks.0.synapse.bias": (0,), "blocks.0.norm.weight": (0,),
                "blocks.0.norm.bias": (0,), "blocks.0.norm.running_mean": (0,), "blocks.0.norm.running_var": (0,),
                "blocks.0.neuron.recurrent_weight": (0, 1), "blocks.0.neuron.recurrent_mask": (0, 1),
                "blocks.0.neuron.tau.fixed": (0,), "blocks.0.neuron.tau.raw": (0,), "blocks.0.neuron.threshold": (0,),
                "readout.synapse.weight": (1,), "cluster_ids": (0,)}


class HRSNN(SpikingNetwork):
    """Heterogeneous recurrent SNN: ``nn.Linear`` input -> :class:`RecurrentLIF` (masked W, per-neuron
    tau) -> ``Readout`` (``nn.Linear`` -> ``LI``); ``forward(x [T, B, n_inputs])`` -> readout membrane
    [T, B, n_outputs], exactly :class:`SpikingNetwork`'s.

    Views: ``input`` (the input ``nn.Linear``), ``recurrent`` (the RecurrentLIF), ``weight``/``mask``
    [N, N] (post, pre), ``tau_ms`` [N], ``cluster_ids`` [N] (buffer). ``run(x)`` gives the hidden
    spikes and membrane.
    """

    def __init__(self, config: HRSNNConfig | None = None, initialize: bool = True, **overrides):
        """Build from ``config`` (plus keyword overrides). ``initialize=False`` allocates tensors of
        the configured size without sampling (used when loading or selecting)."""
        cfg = config if config is not None else HRSNNConfig()
        if overrides:
            cfg = HRSNNConfig(**{**asdict(cfg), **overrides})
        cfg.validate()
        n = cfg.n_neurons
        neuron = RecurrentLIF(n, tau_ms=cfg.tau_mean_ms, dt_ms=cfg.dt_ms, threshold=cfg.threshold, reset=cfg.reset,
                              v_reset=cfg.v_reset, detach_reset=cfg.detach_reset,
                              surrogate=surrogate_from(cfg.surrogate, cfg.surrogate_alpha),
                              decay_input=cfg.decay_input, learn_tau=cfg.learn_tau,
                              recurrent_mask=torch.zeros(n, n))
        block = SpikingBlock(nn.Linear(cfg.n_inputs, n, bias=True), neuron, n, batchnorm=cfg.batchnorm,
                             dropout=cfg.dropout)
        readout = Readout(nn.Linear(n, cfg.n_outputs),
                          LI(cfg.n_outputs, tau_ms=cfg.readout_tau_effective_ms, dt_ms=cfg.dt_ms,
                             decay_input=cfg.decay_input))
        super().__init__([block], readout, kind="hrsnn")
        self.config = cfg
        self.register_buffer("cluster_ids", torch.zeros(n, dtype=torch.long))
        if initialize:
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
            self.cluster_ids.copy_(torch.from_numpy(cluster_ids))
        self.set_tau_ms(torch.from_numpy(tau))

    # -- views -----------------------------------------------------------------------------
    @property
    def input(self) -> nn.Linear:
        return self.blocks[0].synapse

    @property
    def recurrent(self) -> RecurrentLIF:
        return self.blocks[0].neuron

    @property
    def weight(self) -> nn.Parameter:
        """Recurrent weights [N, N] (post, pre), before the mask."""
        return self.recurrent.recurrent_weight

    @property
    def mask(self) -> torch.Tensor:
        """Structural mask [N, N] (post, pre), 0/1."""
        return self.recurrent.recurrent_mask

    @property
    def tau_ms(self) -> torch.Tensor:
        return self.recurrent.tau_ms

    def set_tau_ms(self, tau_ms: torch.Tensor) -> None:
        """Overwrite the per-neuron membrane time constants [N] (ms)."""
        self.recurrent.tau.set_tau_ms(tau_ms)

    @property
    def n_neurons(self) -> int:
        return int(self.weight.shape[0])

    def effective_weight(self) -> torch.Tensor:
        """Masked recurrent weights W * mask, [N, N] (post, pre)."""
        return self.recurrent.effective_recurrent_weight()

    def n_synapses(self) -> int:
        """Number of recurrent synapses (non-zero mask entries)."""
        return int(self.mask.count_nonzero())

    # -- dynamics ----------------------------------------------------------------------------
    def currents(self, x: torch.Tensor) -> torch.Tensor:
        """Input currents of the recurrent layer (input synapse, then BatchNorm if any): [T, B, C] -> [T, B, N]."""
        if x.dim() != 3 or x.shape[-1] != self.config.n_inputs:
            raise ShapeError(f"HRSNN expects input [T, B, {self.config.n_inputs}], got {tuple(x.shape)}")
        block = self.blocks[0]
        return block._normalise(block.synapse(x), None)

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden (spikes, membrane after reset), each [T, B, N], for input x [T, B, n_inputs]."""
        return self.recurrent(self.currents(x), return_membrane=True)

    def readout_features(self, spikes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The readout as a linear map: ``readout(s) = W_out f + b_out g`` with f = LI(spikes) [T, B, N]
        and g = LI(1) [T, B, 1] (the bias passes the same leaky integrator). Needs one readout tau."""
        decay = self.readout.integrator.decay.detach()
        if not bool((decay == decay[0]).all()):
            raise ConfigError("readout_features needs one readout time constant for every output (learn_tau "
                              "made them differ); evaluate the model's readout instead")
        d = self.readout.integrator.decay_input
        ones = torch.ones(*spikes.shape[:2], 1, dtype=spikes.dtype, device=spikes.device)
        return li_multistep(spikes, None, decay[0], d), li_multistep(ones, None, decay[0], d)

    # -- structure ---------------------------------------------------------------------------
    def select(self, keep: Sequence[int] | torch.Tensor) -> "HRSNN":
        """A new HRSNN with only the neurons ``keep`` (indices, in order); removed neurons take
        their synapses, input rows and readout columns with them. Config records the new size."""
        keep = torch.as_tensor(keep, dtype=torch.long)
        if keep.numel() < 2:
            raise ConfigError(f"cannot keep fewer than 2 neurons (got {keep.numel()})")
        new = HRSNN(HRSNNConfig(**{**asdict(self.config), "n_neurons": int(keep.numel())}), initialize=False)
        state = {}
        for key, value in self.state_dict().items():
            for dim in _NEURON_DIMS.get(key, ()):
                value = value.index_select(dim, keep.to(value.device))
            state[key] = value.clone()
        new.load_state_dict(state)
        return new.train(self.training)

    def copy(self) -> "HRSNN":
        """An independent deep copy."""
        return copy.deepcopy(self)

    # -- persistence -------------------------------------------------------------------------
    def save_config(self, directory: str | Path) -> Path:
        """Write ``hrsnn.json`` (config + format version) into ``directory`` atomically."""
        path = Path(directory) / CONFIG_FILE
        write_json(path, {"format_version": FORMAT_VERSION, "config": asdict(self.config)})
        return path

    def save(self, directory: str | Path) -> Path:
        """Write ``hrsnn.pt`` (state dict) and ``hrsnn.json`` (config + format version) atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / STATE_FILE) as tmp:
            torch.save(self.state_dict(), tmp)
        self.save_config(directory)
        return directory

    @classmethod
    def load_config(cls, directory: str | Path) -> HRSNNConfig:
        """The :class:`HRSNNConfig` stored in ``directory/hrsnn.json``."""
        path = Path(directory) / CONFIG_FILE
        if not path.exists():
            raise CheckpointError(f"{directory}: expected {CONFIG_FILE} written by HRSNN.save()")
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{path}: cannot read the HRSNN config ({err}); re-save the model") from err
        if meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{path}: format_version {meta.get('format_version')!r}, this spikerec reads "
                                  f"{FORMAT_VERSION} (HRSNNs written before the SpikingNetwork rewrite cannot be "
                                  f"read; prune again)")
        return HRSNNConfig.from_dict(meta["config"])

    @classmethod
    def load(cls, directory: str | Path) -> "HRSNN":
        """Load a model written by ``save`` (tensors only: ``torch.load(weights_only=True)``)."""
        directory = Path(directory)
        cfg = cls.load_config(directory)
        state_path = directory / STATE_FILE
        if not state_path.exists():
            raise CheckpointError(f"{directory}: expected {STATE_FILE} written by HRSNN.save()")
        try:
            state = torch.load(state_path, map_location="cpu", weights_only=True)
        except (OSError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"{state_path}: cannot read HRSNN weights ({err}); re-save the model") from err
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


def synaptic_operations(model: HRSNN, spikes: torch.Tensor) -> float:
    """Recurrent synaptic operations per sample: sum over steps of spikes x out-degree. spikes [T, B, N]."""
    out_degree = model.mask.sum(dim=0)  # column j = presynaptic neuron j
    return float((spikes * out_degree).sum() / spikes.shape[1])


# ----------------------------------------------------------------------------------------------
# Readout training (closed form): the reservoir-computing route, no backprop through time
# ----------------------------------------------------------------------------------------------

def ridge_regression(features: torch.Tensor, targets: torch.Tensor, ridge: float,
                     bias_feature: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Ridge fit ``targets ~ features @ W.T + b * bias_feature`` (bias_feature None: ones).

    features [S, F], targets [S, O], bias_feature [S] -> (W [O, F], b [O]). float64 normal equations;
    the penalty ``ridge * S`` applies to W only, never to the bias.
    """
    f, y = features.double(), targets.double()
    g = torch.ones(f.shape[0], 1, dtype=torch.float64) if bias_feature is None else bias_feature.double().reshape(-1, 1)
    x = torch.cat([f, g], dim=1)
    penalty = torch.full((x.shape[1],), ridge * f.shape[0], dtype=torch.float64)
    penalty[-1] = 0.0
    theta = torch.linalg.solve(x.T @ x + torch.diag(penalty), x.T @ y)  # [F + 1, O]
    return theta[:-1].T.float(), theta[-1].float()


def fit_readout(model: HRSNN, x: torch.Tensor, targets: torch.Tensor, washout: int = 0, ridge: float = 1e-3) -> HRSNN:
    """Fit ``model.readout``'s linear synapse in closed form (ridge); returns model.

    x: [T, B, n_inputs]. targets: [T, B, n_outputs] float (per-step regression of the readout
    membrane, the first ``washout`` steps ignored) or LongTensor [B] of class labels (classification:
    one-hot targets against the time-averaged readout; predict with ``model(x).mean(0).argmax(-1)``).
    Exact for the model's own readout: the bias passes the readout's leaky integrator too.
    """
    with torch.no_grad():
        spikes, _ = model.run(x)
        feats, bias_trace = model.readout_features(spikes)
        if targets.dtype in (torch.int64, torch.int32):
            f, g = feats.mean(0), bias_trace.mean(0)
            y = torch.nn.functional.one_hot(targets.long(), model.config.n_outputs).float()
        else:
            if targets.shape[:2] != x.shape[:2]:
                raise ShapeError(f"regression targets must be [T, B, O] matching x {tuple(x.shape[:2])}, "
                                 f"got {tuple(targets.shape)}")
            f = feats[washout:].reshape(-1, feats.shape[-1])
            g = bias_trace[washout:].reshape(-1)
            y = targets[washout:].reshape(-1, targets.shape[-1])
        w, b = ridge_regression(f, y, ridge, g)
        model.readout.synapse.weight.copy_(w)
        model.readout.synapse.bias.copy_(b)
    return model


__all__ = ["HRSNN", "HRSNNConfig", "surrogate_from", "spectral_radius", "sample_taus_for_clusters", "cluster_tau_params", "sparsity_counts", "ridge_regression", "fit_readout",
           "synaptic_operations", "FORMAT_VERSION"]
