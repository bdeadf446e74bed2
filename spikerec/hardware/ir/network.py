"""The hardware-facing Network IR: framework-free numpy layers, HDF5 save/load with a validated schema.

A :class:`Network` is a chain of :class:`Layer` objects. Layer ``i`` reads layer ``i-1``'s output
spikes (layer 0 reads the input frames, ``n_inputs`` channels after ``input_pooling``). Per step
``t`` a layer with feed-forward weights ``W`` ``[n_out, n_in]``, integer delays ``D`` (steps) and
recurrent weights ``R`` ``[n_out, n_out]`` sees the input current::

    X[t, o] = sum_i W[o, i] * x[t - D[o, i], i]  (+ bias[o])          R-current: r[t, o] = sum_j R[o, j] * s[t-1, j]

and updates exactly like :mod:`spikerec.neurons.functional` (``beta = decay``, ``k = 1 - beta``), starting
from ``V = v_init`` (default ``v_reset`` for spiking kinds, 0 otherwise) and ``I = 0``::

    "lif", "li"          : U = X (+ bias)                     the membrane reads the step's input
    "cuba_lif", "cuba_li": I = syn_decay*I + X (+ bias) + r;  U = I   (a synaptic current state; r enters I)
    decay_input=True : H = beta*V + k*(U + v_reset) + k*r      decay_input=False: H = beta*V + k*v_reset + U + r
                       (the "+ r" terms only for "lif": a cuba layer's r is already in I)
    "lif", "cuba_lif": S = H >= threshold; hard reset V = v_reset where S, soft reset V = H - threshold*S
    "li", "cuba_li"  : V = H (no spikes; the membrane is the output)

An integrate-and-fire neuron is "lif" with ``decay = 1`` (no leak, ``k = 0``) and ``decay_input=False``; a
memoryless threshold unit is "lif" with ``decay = 0``; a plain integrator is "li" with ``decay = 1``; a linear
readout without state is "li" with ``decay = 0`` (NIR nodes map onto these, :mod:`spikerec.hardware.ir.nir`).

Time window (:mod:`spikerec.window`): a sample of ``L`` frames is run for ``L + drain_steps`` steps (its
frames, then input-free steps) and its prediction is read from those steps only: ``readout`` =
"softmax_sum" predicts ``argmax_k sum_t softmax(V_t)_k`` of the last (``li``) layer, "membrane_sum"
``argmax_k sum_t V_t[k]``; a spiking last layer predicts its most active neuron.

Counting convention (shared with the event simulator and ``spikerec.hardware.energy.counts``): a synapse
exists where its weight is non-zero (dense or CSR); the fan-out of presynaptic neuron ``j`` is the
number of non-zero entries in column ``j``; an input event is a non-zero frame entry (its value
scales the weight, so binned spike counts stay exact).

HDF5 layout (format version 3, which added the "cuba_*" kinds and ``syn_decay``; version 2 files are version
3 files without them; version 1 files, which lack ``drain_steps`` and ``v_init`` and call ``v_reset``
``reset_value``, still load, with the default drain)::

    /                     attrs: format="spikerec-network", format_version, dt_ms, n_inputs,
                                 input_pooling, n_classes, readout, drain_steps, n_layers, metadata (JSON text)
    /layers/<index>       attrs: name, kind, reset, v_reset, decay_input
        decay, threshold, [bias], [v_init], [syn_decay]   float32 [n_out]
        weight, [delay], [recurrent_weight], [mask] dense dataset [n_out, n_in] or a group with
                                 attrs encoding="csr", shape and datasets data, indices, indptr
    /layers/<index>/quant  only in quantised networks (root attr ``profile``): the integer parameters,
                           see :mod:`spikerec.hardware.ir.quantized`
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from spikerec.errors import CheckpointError
from spikerec.hardware.ir.matrices import nonzero_count, read_matrix, to_dense, write_matrix
from spikerec.hardware.ir.quantized import read_profile, read_quant, validate_quantization, write_profile, write_quant
from spikerec.io import atomic_path, to_jsonable
from spikerec.window import chain_drain_steps

__all__ = ["Layer", "Network", "FORMAT", "FORMAT_VERSION", "KINDS", "SPIKING_KINDS", "SYNAPSE_KINDS", "READOUTS",
           "to_dense", "nonzero_count"]

FORMAT = "spikerec-network"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
KINDS = ("lif", "li", "cuba_lif", "cuba_li")
SPIKING_KINDS = ("lif", "cuba_lif")
SYNAPSE_KINDS = ("cuba_lif", "cuba_li")  # kinds with a synaptic current state (field syn_decay)
READOUTS = ("softmax_sum", "membrane_sum")
_MATRIX_FIELDS = ("weight", "delay", "recurrent_weight", "mask")
_VECTOR_FIELDS = ("bias", "decay", "threshold", "v_init", "syn_decay")
_OPTIONAL_VECTORS = ("bias", "v_init", "syn_decay")


@dataclass
class Layer:
    """One layer of the IR (see the module docstring for the dynamics); all arrays numpy."""

    name: str
    kind: str
    weight: Any  # np.ndarray | sp.csr_array [n_out, n_in] float32
    delay: Any  # np.ndarray | sp.csr_array | None [n_out, n_in] int32 steps >= 0, same sparsity as weight
    bias: np.ndarray | None  # [n_out] float32
    decay: np.ndarray  # [n_out] float32, the exact beta the torch kernel uses
    threshold: np.ndarray  # [n_out] float32 (unused for "li")
    reset: str = "hard"
    v_reset: float = 0.0
    decay_input: bool = True
    recurrent_weight: Any = None  # np.ndarray | sp.csr_array | None [n_out, n_out]
    mask: np.ndarray | None = None  # [n_out, n_in] bool, already applied to weight
    v_init: np.ndarray | None = None  # [n_out] float32 initial membrane; None = v_reset (spiking) or 0
    syn_decay: np.ndarray | None = None  # [n_out] float32 synaptic current decay (kinds "cuba_*" only)
    quant: Any = None  # LayerQuant: integer parameters of a quantised network (spikerec.hardware.ir.quantized)

    @property
    def spiking(self) -> bool:
        """Whether the layer emits spikes ("lif", "cuba_lif") rather than exposing its membrane."""
        return self.kind in SPIKING_KINDS

    @property
    def has_synapse(self) -> bool:
        """Whether the layer keeps a synaptic current state ("cuba_lif", "cuba_li")."""
        return self.kind in SYNAPSE_KINDS

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_synapses(self) -> int:
        """Non-zero feed-forward plus recurrent weights."""
        return nonzero_count(self.weight) + nonzero_count(self.recurrent_weight)

    @property
    def max_delay(self) -> int:
        """Largest per-synapse delay in steps (0 without delays)."""
        if self.delay is None:
            return 0
        d = self.delay.data if sp.issparse(self.delay) else self.delay
        return int(d.max()) if d.size else 0

    def initial_membrane(self) -> np.ndarray:
        """Membrane before the first step, float64 [n_out]."""
        if self.v_init is not None:
            return self.v_init.astype(np.float64)
        return np.full(self.n_out, float(self.v_reset) if self.spiking else 0.0)

    def dense_delay(self) -> np.ndarray:
        """Delays as a dense int64 [n_out, n_in] array (zeros when ``delay`` is None)."""
        if self.delay is None:
            return np.zeros((self.n_out, self.n_in), dtype=np.int64)
        return to_dense(self.delay).astype(np.int64)


@dataclass
class Network:
    """A chain of layers plus metadata; ``save``/``load`` HDF5, ``validate``. A trained torch model becomes one
    with :func:`spikerec.hardware.ir.from_model.network_from_model` (this module stays free of torch)."""

    layers: list[Layer]
    dt_ms: float
    n_inputs: int
    input_pooling: int = 1
    n_classes: int = 0
    readout: str = "softmax_sum"
    drain_steps: int | None = None  # input-free steps after each sample's frames; None = chain_drain_steps of the layers
    format_version: int = FORMAT_VERSION
    metadata: dict = field(default_factory=dict)
    profile: Any = None  # TargetProfile of a quantised network (spikerec.hardware.ir.profile), else None

    def __post_init__(self):
        if self.drain_steps is None:
            self.drain_steps = chain_drain_steps(layer.max_delay for layer in self.layers)

    @property
    def n_synapses(self) -> int:
        return sum(layer.n_synapses for layer in self.layers)

    @property
    def max_delay(self) -> int:
        return max((layer.max_delay for layer in self.layers), default=0)

    def summary(self) -> dict[str, Any]:
        """Sizes per layer, for CLI output."""
        return {"n_inputs": self.n_inputs, "n_classes": self.n_classes, "dt_ms": self.dt_ms,
                "n_synapses": self.n_synapses, "max_delay_steps": self.max_delay, "drain_steps": self.drain_steps,
                "readout": self.readout, "profile": None if self.profile is None else self.profile.name,
                "layers": [{"name": la.name, "kind": la.kind, "n_in": la.n_in, "n_out": la.n_out,
                            "n_synapses": la.n_synapses, "max_delay": la.max_delay,
                            "recurrent": la.recurrent_weight is not None} for la in self.layers]}

    # -- validation -----------------------------------------------------------------------------
    def validate(self, source: str = "network") -> "Network":
        """Check every field; raise ``CheckpointError`` naming ``source``, the layer and the field."""
        def fail(msg: str) -> None:
            raise CheckpointError(f"{source}: {msg}")

        if self.format_version not in READABLE_VERSIONS:
            fail(f"format_version {self.format_version} is not supported (this spikerec reads {READABLE_VERSIONS}); "
                 f"re-export the network with this version")
        if not (isinstance(self.drain_steps, (int, np.integer)) and self.drain_steps >= 0):
            fail(f"drain_steps must be an integer >= 0, got {self.drain_steps!r}")
        if not (isinstance(self.dt_ms, (int, float)) and math.isfinite(self.dt_ms) and self.dt_ms > 0):
            fail(f"dt_ms must be a finite number > 0, got {self.dt_ms!r}")
        if self.n_inputs < 1 or self.input_pooling < 1:
            fail(f"n_inputs and input_pooling must be >= 1, got {self.n_inputs}, {self.input_pooling}")
        if self.readout not in READOUTS:
            fail(f"readout must be one of {list(READOUTS)}, got {self.readout!r}")
        if not self.layers:
            fail("has no layers")
        n_in = self.n_inputs
        for index, layer in enumerate(self.layers):
            _validate_layer(layer, index, n_in, lambda m, la=layer, i=index: fail(f"layer {i} ({la.name!r}): {m}"))
            n_in = layer.n_out
        last = self.layers[-1]
        if last.n_out != self.n_classes:
            fail(f"layer {len(self.layers) - 1} ({last.name!r}): n_out {last.n_out} != n_classes {self.n_classes}")
        for i, layer in enumerate(self.layers[:-1]):
            if not layer.spiking:
                fail(f"layer {i} ({layer.name!r}): kind {layer.kind!r} is only allowed as the last layer "
                     f"(hidden layers must spike)")
        validate_quantization(self, fail)
        return self

    # -- HDF5 -----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Validate, then write the network to ``path`` (HDF5, atomically)."""
        import h5py

        self.validate()
        path = Path(path)
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, "dt_ms": float(self.dt_ms),
                                "n_inputs": int(self.n_inputs), "input_pooling": int(self.input_pooling),
                                "n_classes": int(self.n_classes), "readout": self.readout,
                                "drain_steps": int(self.drain_steps),
                                "n_layers": len(self.layers),
                                "metadata": json.dumps(to_jsonable(self.metadata), sort_keys=True)})
                write_profile(f, self.profile)
                layers = f.create_group("layers")
                for index, layer in enumerate(self.layers):
                    g = layers.create_group(str(index))
                    g.attrs.update({"name": layer.name, "kind": layer.kind, "reset": layer.reset,
                                    "v_reset": float(layer.v_reset), "decay_input": bool(layer.decay_input)})
                    for name in _VECTOR_FIELDS:
                        value = getattr(layer, name)
                        if value is not None:
                            g.create_dataset(name, data=value)
                    for name in _MATRIX_FIELDS:
                        value = getattr(layer, name)
                        if value is not None:
                            write_matrix(g, name, value)
                    write_quant(g, layer.quant)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Network":
        """Read and validate a file written by :meth:`save`; damaged or inconsistent files raise
        ``CheckpointError`` naming the file, the layer and the field."""
        import h5py

        path = Path(path)
        if not path.exists():
            raise CheckpointError(f"{path}: network file not found; create it with 'spikerec export RUN_DIR -o FILE'")
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise CheckpointError(f"{path}: not a readable HDF5 network file ({err}); re-export it") from err
        with f:
            try:
                return _read_network(f, path).validate(str(path))
            except CheckpointError:
                raise
            except (KeyError, ValueError, TypeError, OSError) as err:
                raise CheckpointError(f"{path}: damaged network file ({type(err).__name__}: {err}); re-export it") from err


# -- helpers ------------------------------------------------------------------------------------------

def _validate_layer(layer: Layer, index: int, n_in: int, fail) -> None:
    if layer.kind not in KINDS:
        fail(f"field 'kind' must be one of {list(KINDS)}, got {layer.kind!r}")
    if layer.reset not in ("hard", "soft"):
        fail(f"field 'reset' must be 'hard' or 'soft', got {layer.reset!r}")
    if not math.isfinite(layer.v_reset):
        fail(f"field 'v_reset' must be finite, got {layer.v_reset}")
    w = layer.weight
    if not (isinstance(w, np.ndarray) or sp.issparse(w)) or len(w.shape) != 2:
        fail(f"field 'weight' must be a 2-D numpy array or CSR matrix, got {type(w).__name__}")
    n_out = w.shape[0]
    if w.shape[1] != n_in:
        fail(f"field 'weight' has shape {list(w.shape)} but the layer input has {n_in} channels "
             f"(expected [{n_out}, {n_in}])")
    _check_values(w, "weight", fail, np.floating)
    if layer.delay is not None:
        d = layer.delay
        if tuple(d.shape) != tuple(w.shape):
            fail(f"field 'delay' has shape {list(d.shape)}, expected {list(w.shape)} (same as weight)")
        _check_values(d, "delay", fail, np.integer)
        values = d.data if sp.issparse(d) else d
        if values.size and int(values.min()) < 0:
            fail(f"field 'delay' holds negative delays (min {int(values.min())}); delays are steps >= 0")
        if sp.issparse(d) != sp.issparse(w) or (sp.issparse(d) and not (
                np.array_equal(d.indptr, w.indptr) and np.array_equal(d.indices, w.indices))):
            fail("field 'delay' must have the same sparsity (dense or identical CSR pattern) as 'weight'")
    for name in _VECTOR_FIELDS:
        value = getattr(layer, name)
        if value is None:
            if name not in _OPTIONAL_VECTORS:
                fail(f"field {name!r} is missing")
            continue
        if not isinstance(value, np.ndarray) or value.shape != (n_out,):
            fail(f"field {name!r} must be a numpy array of shape [{n_out}], got "
                 f"{list(getattr(value, 'shape', [])) or type(value).__name__}")
        _check_values(value, name, fail, np.floating)
    if np.any((layer.decay < 0) | (layer.decay > 1)):
        fail(f"field 'decay' must lie in [0, 1] (beta = 1 - dt/tau), got min {layer.decay.min()} max {layer.decay.max()}")
    if layer.has_synapse != (layer.syn_decay is not None):
        fail(f"field 'syn_decay' must be given exactly for kinds {list(SYNAPSE_KINDS)} (kind {layer.kind!r})")
    if layer.syn_decay is not None and np.any((layer.syn_decay < 0) | (layer.syn_decay > 1)):
        fail(f"field 'syn_decay' must lie in [0, 1], got min {layer.syn_decay.min()} max {layer.syn_decay.max()}")
    if layer.recurrent_weight is not None:
        r = layer.recurrent_weight
        if tuple(r.shape) != (n_out, n_out):
            fail(f"field 'recurrent_weight' has shape {list(r.shape)}, expected [{n_out}, {n_out}]")
        if not layer.spiking:
            fail(f"field 'recurrent_weight' is only supported for spiking kinds {list(SPIKING_KINDS)}")
        _check_values(r, "recurrent_weight", fail, np.floating)
    if layer.mask is not None:
        m = layer.mask
        if not isinstance(m, np.ndarray) or m.shape != tuple(w.shape) or m.dtype != np.bool_:
            fail(f"field 'mask' must be a bool array of shape {list(w.shape)}, got "
                 f"{getattr(m, 'dtype', type(m).__name__)} {list(getattr(m, 'shape', []))}")
        if np.any(to_dense(w)[~m] != 0):
            fail("field 'mask' is not applied: weight is non-zero where the mask is False")


def _check_values(m, name: str, fail, kind) -> None:
    values = m.data if sp.issparse(m) else m
    if not np.issubdtype(values.dtype, kind):
        fail(f"field {name!r} has dtype {values.dtype}, expected {'an integer' if kind is np.integer else 'a float'} type")
    if kind is np.floating and values.size and not np.all(np.isfinite(values)):
        fail(f"field {name!r} holds {int((~np.isfinite(values)).sum())} NaN/inf value(s)")


def _read_network(f, path: Path) -> Network:
    if f.attrs.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a spikerec network file (missing format tag {FORMAT!r})")
    version = int(f.attrs.get("format_version", -1))
    if version not in READABLE_VERSIONS:
        raise CheckpointError(f"{path}: network format_version {version} is not supported (this spikerec reads "
                              f"{READABLE_VERSIONS}); re-export the network with this version")
    layers = []
    n_layers = int(f.attrs["n_layers"])
    for index in range(n_layers):
        key = f"layers/{index}"
        if key not in f:
            raise CheckpointError(f"{path}: layer {index} is missing (file declares {n_layers} layers)")
        g = f[key]
        where = f"{path}: layer {index} ({_text(g.attrs.get('name', '?'))!r})"
        vectors = {name: (g[name][()] if name in g else None) for name in _VECTOR_FIELDS}
        matrices = {name: read_matrix(g, name, where) for name in _MATRIX_FIELDS}
        if matrices["weight"] is None:
            raise CheckpointError(f"{where}: field 'weight' is missing")
        layers.append(Layer(name=_text(g.attrs["name"]), kind=_text(g.attrs["kind"]), reset=_text(g.attrs["reset"]),
                            v_reset=float(g.attrs["v_reset" if version >= 2 else "reset_value"]),
                            decay_input=bool(g.attrs["decay_input"]), quant=read_quant(g, where),
                            **vectors, **matrices))
    return Network(layers=layers, dt_ms=float(f.attrs["dt_ms"]), n_inputs=int(f.attrs["n_inputs"]),
                   input_pooling=int(f.attrs["input_pooling"]), n_classes=int(f.attrs["n_classes"]),
                   readout=_text(f.attrs["readout"]), format_version=version,
                   drain_steps=int(f.attrs["drain_steps"]) if "drain_steps" in f.attrs else None,
                   metadata=json.loads(_text(f.attrs.get("metadata", "{}"))), profile=read_profile(f, str(path)))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
