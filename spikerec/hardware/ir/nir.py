"""NIR in and out: export a :class:`~spikerec.hardware.ir.network.Network` to NIR, import any NIR graph whose
stateful nodes form a chain of discrete-time spiking layers (``nir`` package).

Export (:func:`to_nir`). NIR's ``LIF`` is ``tau dv/dt = (v_leak - v) + r I`` with reset to ``v_reset``; forward
Euler with step ``dt`` gives ``v' = (1 - dt/tau) v + (dt/tau)(v_leak + r I)``. The IR update maps onto
it with ``tau = dt / (1 - decay)`` (seconds), ``v_leak = v_reset`` (the IR's ``v_reset``) and
``r = 1`` (``decay_input=True``) or ``r = tau/dt`` (``decay_input=False``, so ``(dt/tau) r = 1``).
``LI`` readouts map to NIR ``LI`` the same way (``v_leak = 0``); "cuba_*" layers to ``CubaLIF``/``CubaLI`` with
``tau_syn = dt / (1 - syn_decay)`` and ``w_in = tau_syn / dt``. The time base ``dt_s`` defaults to
the network's ``dt_ms`` in seconds; importers that assume another step (snntorch uses 1e-4 s) need
``to_nir(network, dt_s=their_dt)``: only ``tau`` (and ``r``) change, the dynamics per step do not.
Soft reset has no NIR equivalent (NIR ``LIF`` resets to ``v_reset``) and is refused.

Per-synapse delays. NIR's ``Delay`` delays whole channels, so the synapses of a layer are grouped
by their integer delay ``d``: each group is one ``Linear`` (weights of that group, zeros elsewhere)
followed, for ``d > 0``, by a ``Delay`` of ``d * dt_s`` seconds on all ``n_out`` channels; all
branches feed the neuron node, whose input is their sum. Bias goes on the undelayed branch (an
``Affine``). Recurrent weights are a ``Linear`` from the neuron back to itself (one step of latency,
as in every NIR simulator). Graph metadata keeps ``dt_s``, the discretisation, the IR metadata and the sample
window's ``drain_steps`` and ``readout`` rule (NIR has no field for them: a consumer runs each sample's frames,
then ``drain_steps`` empty steps, and reads the prediction from that window) so :func:`from_nir` reproduces
the network exactly (weights float32, time constants float64). Initial membranes other than the default
(``Layer.v_init``) have no NIR field and are refused.
Node names: ``input``, ``<layer>.w<d>`` / ``<layer>.delay<d>``, ``<layer>.<kind>``, ``<layer>.rec``, ``output``.

Import (:func:`from_nir`). Nested ``NIRGraph`` nodes are inlined and the stateless nodes (``Linear``, ``Affine``,
``Scale``, ``Delay``, ``Flatten``) between stateful ones compose into delayed linear maps
(:mod:`spikerec.hardware.ir.nir_graph`); several edges into a node are summed. The neuron nodes must form a
chain, each reading the previous one (the first the Input) and optionally itself (recurrence, one step of
latency); a linear map between the last neuron node and the Output becomes a memoryless readout layer ("li",
decay 0). Neurons, with ``dt`` the step and ``f`` the input factor of a step::

    discretization   decay of tau          f
    "euler"          1 - dt/tau            dt/tau          (forward Euler; needs tau >= dt)
    "exact"          exp(-dt/tau)          1 - exp(-dt/tau) (exact for an input held over the step)

    LIF      -> "lif":      decay(tau), input gain f*r, threshold v_threshold, hard reset to v_reset;
                            v_leak != v_reset becomes a bias (the IR leaks towards v_reset)
    LI       -> "li":       decay(tau), gain f*r, leak towards v_leak (as a bias)
    CubaLIF  -> "cuba_lif": syn_decay(tau_syn), decay(tau_mem), gain f_syn*w_in * f_mem*r (v_leak must = v_reset)
    CubaLI   -> "cuba_li":  the same without spikes, leak towards v_leak
    IF       -> "lif" with decay 1 (dv/dt = r I: each step adds dt*r*I), threshold, reset to v_reset
    I        -> "li" with decay 1 and gain dt*r
    Threshold-> "lif" with decay 0 (a memoryless unit: S = input >= threshold)

A current-based layer integrates the synaptic current first and the membrane reads the updated current in the
same step (the order snntorch's Synaptic and rockpool's LIFTorch use). The gain multiplies every input of the
node: a gain of 1 keeps the weights (``decay_input=False``), a gain of ``1 - decay`` keeps them with
``decay_input=True``, any other is multiplied into the weights and bias. Spikes are binary, at ``v >= threshold``
(NIR says ``v > threshold``; equality has measure zero for real-valued inputs). ``reset="subtract"`` replaces
every reset by subtraction of the threshold (the IR's soft reset). Anything else (convolutions, pooling,
branches, per-neuron reset values, delays that are not whole steps) raises ``ConfigError`` naming the node and
the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikerec.errors import CheckpointError, ConfigError
from spikerec.hardware.ir.network import Layer, Network, to_dense
from spikerec.io import atomic_path, to_jsonable

__all__ = ["to_nir", "from_nir", "save_nir", "load_nir", "DISCRETIZATIONS"]

DISCRETIZATIONS = ("euler", "exact")


def to_nir(network: Network, dt_s: float | None = None, unit_r: bool = False):
    """NIR graph of ``network`` (see module docstring for the encoding).

    ``unit_r``: emit ``r = 1`` everywhere, folding ``r = tau/dt`` of ``decay_input=False`` layers into
    their input and recurrent weights (for importers that ignore ``r``, e.g. norse; costs one float32
    rounding of those weights, so the round trip is then no longer bit-exact).
    """
    import nir

    network.validate()
    dt_s = network.dt_ms * 1e-3 if dt_s is None else float(dt_s)
    nodes = {"input": nir.Input(input_type=np.array([network.n_inputs]))}
    edges = []
    prev = "input"
    for layer in network.layers:
        if layer.v_init is not None:
            raise ConfigError(f"to_nir: layer {layer.name!r} starts from a non-default membrane (v_init); NIR nodes "
                              f"have no initial-state field")
        if layer.reset != "hard":
            raise ConfigError(f"to_nir: layer {layer.name!r} uses reset={layer.reset!r}; NIR's LIF only resets to "
                              f"v_reset (hard reset), so soft-reset networks cannot be exported")
        neuron = f"{layer.name}.{layer.kind}"
        nodes[neuron], r = _neuron_node(layer, dt_s, unit_r)
        scale = r if unit_r and not layer.decay_input else None
        w = _scaled(to_dense(layer.weight), scale)
        d = layer.dense_delay()
        groups = sorted(set(np.unique(d[w != 0]).tolist()) | ({0} if layer.bias is not None or not w.any() else set()))
        for delay in groups:
            wd = np.where(d == delay, w, np.float32(0)) if len(groups) > 1 else w
            key = f"{layer.name}.w{delay}"
            bias = _scaled(layer.bias, scale) if delay == 0 and layer.bias is not None else None
            nodes[key] = nir.Affine(weight=wd, bias=bias) if bias is not None \
                else nir.Linear(weight=wd)
            edges.append((prev, key))
            if delay == 0:
                edges.append((key, neuron))
            else:
                dkey = f"{layer.name}.delay{delay}"
                nodes[dkey] = nir.Delay(delay=np.full(layer.n_out, delay * dt_s))
                edges += [(key, dkey), (dkey, neuron)]
        if layer.recurrent_weight is not None:
            nodes[f"{layer.name}.rec"] = nir.Linear(weight=_scaled(to_dense(layer.recurrent_weight), scale))
            edges += [(neuron, f"{layer.name}.rec"), (f"{layer.name}.rec", neuron)]
        prev = neuron
    nodes["output"] = nir.Output(output_type=np.array([network.n_classes]))
    edges.append((prev, "output"))
    meta = {"spikerec_format": 1, "discretization": "euler", "dt_s": dt_s, "dt_ms": network.dt_ms, "input_pooling": network.input_pooling,
            "n_classes": network.n_classes, "readout": network.readout, "drain_steps": int(network.drain_steps),
            "layer_names": json.dumps([la.name for la in network.layers]),
            "ir_metadata": json.dumps(to_jsonable(network.metadata), sort_keys=True)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _scaled(a: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    """``a`` (rows scaled by ``scale`` [n_out] in float64 first) as float32."""
    if scale is None:
        return np.asarray(a, dtype=np.float32)
    return (a.astype(np.float64) * (scale[:, None] if a.ndim == 2 else scale)).astype(np.float32)


def _neuron_node(layer: Layer, dt_s: float, unit_r: bool = False):
    """(NIR neuron node, the r the IR dynamics need [n_out])."""
    import nir

    beta = layer.decay.astype(np.float64)
    if np.any(beta >= 1.0):
        raise ConfigError(f"to_nir: layer {layer.name!r} has decay 1 (no leak, tau = inf); NIR needs a finite tau")
    tau = dt_s / (1.0 - beta)
    r = np.ones_like(tau) if layer.decay_input else tau / dt_s
    r_node = np.ones_like(tau) if unit_r else r
    vr = np.full_like(tau, layer.v_reset)
    if layer.has_synapse:  # I' = a I + (dt/tau_syn) w_in x with w_in = tau_syn/dt: the IR's I = a I + x
        alpha = layer.syn_decay.astype(np.float64)
        if np.any(alpha >= 1.0):
            raise ConfigError(f"to_nir: layer {layer.name!r} has syn_decay 1 (tau_syn = inf); NIR needs a finite tau")
        tau_syn = dt_s / (1.0 - alpha)
        common = dict(tau_syn=tau_syn, tau_mem=tau, r=r_node, w_in=tau_syn / dt_s)
        if layer.kind == "cuba_li":
            return nir.CubaLI(v_leak=vr, **common), r
        return nir.CubaLIF(v_leak=vr, v_threshold=layer.threshold.astype(np.float32), v_reset=vr.copy(), **common), r
    if layer.kind == "li":
        return nir.LI(tau=tau, r=r_node, v_leak=np.zeros_like(tau)), r
    return nir.LIF(tau=tau, r=r_node, v_leak=vr, v_threshold=layer.threshold.astype(np.float32), v_reset=vr.copy()), r


def save_nir(network: Network, path: str | Path, dt_s: float | None = None) -> Path:
    """Write ``to_nir(network)`` to ``path`` (NIR's HDF5 format, atomically)."""
    import nir

    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, to_nir(network, dt_s))
    return path


def load_nir(path: str | Path, dt_ms: float | None = None, discretization: str | None = None,
             reset: str | None = None) -> Network:
    """Read a NIR file and convert it with :func:`from_nir`."""
    import nir

    try:
        graph = nir.read(path)
    except Exception as err:  # nir raises KeyError/OSError/ValueError for foreign or damaged files
        raise CheckpointError(f"{path}: not a readable NIR file ({type(err).__name__}: {err})") from err
    return from_nir(graph, dt_ms=dt_ms, discretization=discretization, reset=reset)


def from_nir(graph, dt_ms: float | None = None, discretization: str | None = None, reset: str | None = None) -> Network:
    """Network from a NIR graph whose stateful nodes form a chain (see the module docstring).

    ``dt_ms``: the simulation step, default the graph metadata (spikerec exports), required otherwise.
    ``discretization``: "euler" or "exact" (default the graph metadata, else "euler"). ``reset``: None keeps the
    graph's reset (to ``v_reset``); "subtract" makes every spiking node subtract its threshold instead (what
    sinabs, rockpool and snntorch simulate, though their graphs say otherwise). Raises ``ConfigError`` naming the
    node and field it cannot map.
    """
    from spikerec.hardware.ir.nir_graph import flatten_graph, graph_io, signals_into

    meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in dict(getattr(graph, "metadata", {}) or {}).items()}
    if dt_ms is None:
        if "dt_ms" not in meta:
            raise ConfigError("from_nir: the graph has no dt metadata; pass dt_ms (the simulation step in ms)")
        dt_ms = float(meta["dt_ms"])
    if not (float(dt_ms) > 0 and math.isfinite(float(dt_ms))):
        raise ConfigError(f"from_nir: dt_ms must be a finite number > 0, got {dt_ms!r}")
    dt_s = float(meta["dt_s"]) if "dt_s" in meta and "dt_ms" in meta and float(meta["dt_ms"]) == float(dt_ms) \
        else float(dt_ms) * 1e-3
    method = discretization or str(meta.get("discretization", "euler"))
    if method not in DISCRETIZATIONS:
        raise ConfigError(f"from_nir: discretization must be one of {list(DISCRETIZATIONS)}, got {method!r}")
    if reset not in (None, "subtract"):
        raise ConfigError(f"from_nir: reset must be None (the graph's) or 'subtract', got {reset!r}")
    nodes, edges = flatten_graph(graph)
    input_key, output_key = graph_io(nodes, edges)
    n_inputs = _input_size(nodes, edges, input_key)
    neurons = {k for k, n in nodes.items() if isinstance(n, _neuron_types())}
    if not neurons:
        raise ConfigError("from_nir: the graph has no neuron node (LIF, CubaLIF, IF, LI, CubaLI, I, Threshold)")
    signals = signals_into(nodes, edges, neurons, input_key, n_inputs, dt_s, neurons | {output_key})
    chain = _chain(signals, neurons, input_key)
    names = json.loads(meta["layer_names"]) if "layer_names" in meta else None
    layers, prev, n_in = [], input_key, n_inputs
    for i, key in enumerate(chain):
        name = names[i] if names and i < len(names) else (key.rsplit(".", 1)[0] if "." in key else key)
        params = _discretize(key, nodes[key], signals[key].n, dt_s, method)
        layers.append(_layer(name, key, params, signals[key], prev, n_in, reset))
        prev, n_in = key, layers[-1].n_out
    out = signals[output_key]
    if out.sources != {prev}:
        raise ConfigError(f"from_nir: the Output node must read the last neuron node {prev!r} only, it reads "
                          f"{sorted(out.sources)}")
    if not _is_identity(out, prev):  # a linear map after the last neuron: a memoryless readout layer
        ident = _Neuron("li", np.zeros(out.n), None, np.ones(out.n), np.zeros(out.n), 0.0, np.zeros(out.n))
        layers.append(_layer("output", output_key, ident, out, prev, n_in, None))
    ir_meta = json.loads(meta["ir_metadata"]) if "ir_metadata" in meta else {
        "source": "nir", "discretization": method, "reset": reset or "graph"}
    spiking_out = layers[-1].spiking
    net = Network(layers=layers, dt_ms=float(dt_ms), n_inputs=n_inputs, input_pooling=int(meta.get("input_pooling", 1)),
                  n_classes=int(meta.get("n_classes", layers[-1].n_out)),
                  readout=str(meta.get("readout", "membrane_sum" if spiking_out else "softmax_sum")),
                  drain_steps=int(meta["drain_steps"]) if "drain_steps" in meta else None, metadata=ir_meta)
    return net.validate("from_nir")


def _neuron_types():
    import nir

    return (nir.LIF, nir.CubaLIF, nir.IF, nir.LI, nir.CubaLI, nir.I, nir.Threshold)


def _input_size(nodes, edges, input_key: str) -> int:
    """Channels of the graph's Input. sinabs writes the time axis into it ([T, C]): when the Linear/Affine nodes
    reading the Input all take its last dimension, that dimension is the channel count."""
    import nir

    from spikerec.hardware.ir.nir_graph import as_array

    node = nodes[input_key]
    shape = [int(d) for d in np.asarray(next(iter(node.input_type.values()))).reshape(-1)]
    n = int(np.prod(shape)) if shape else 0
    widths = {as_array(nodes[dst].weight).shape[1] for src, dst in edges
              if src == input_key and isinstance(nodes[dst], (nir.Linear, nir.Affine))}
    if len(shape) > 1 and widths == {shape[-1]} and n != shape[-1]:
        return shape[-1]
    if n < 1:
        raise ConfigError(f"from_nir: node {input_key!r} (Input) field 'input_type' is {shape}; need a channel count")
    return n


def _chain(signals, neurons: set[str], input_key: str) -> list[str]:
    """Neuron nodes in chain order: each reads only the previous one (the first the Input), and itself."""
    chain, prev, left = [], input_key, set(neurons)
    while True:
        nxt = sorted(k for k in left if signals[k].sources - {k} == {prev})
        if len(nxt) > 1:
            raise ConfigError(f"from_nir: node {prev!r} feeds several neuron nodes {nxt}; spikerec's IR is a chain of "
                              f"layers")
        if not nxt:
            break
        chain.append(nxt[0])
        left.discard(nxt[0])
        prev = nxt[0]
    if left:
        key = sorted(left)[0]
        raise ConfigError(f"from_nir: node {key!r} reads {sorted(signals[key].sources)}; spikerec's IR is a chain of "
                          f"layers, each reading only the previous one (and itself, recurrently)")
    if not chain:
        raise ConfigError("from_nir: no neuron node reads the Input node")
    return chain


def _is_identity(sig, source: str) -> bool:
    m = sig.terms.get((source, 0))
    return len(sig.terms) == 1 and m is not None and m.shape[0] == m.shape[1] and np.array_equal(m, np.eye(m.shape[0])) \
        and (sig.bias is None or not sig.bias.any())


@dataclass
class _Neuron:
    """Discrete-time parameters of one NIR neuron node, float64 [n]: the IR kind, decays, the gain that multiplies
    every input of the node, threshold, reset value and the leak offset ``v_leak - v_reset``."""

    kind: str
    decay: np.ndarray
    syn_decay: np.ndarray | None
    gain: np.ndarray
    threshold: np.ndarray
    v_reset: float
    leak_offset: np.ndarray


def _decay(node, key: str, name: str, n: int, dt_s: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(decay per step, the step's input factor) of time constant field ``name``: euler ``(1 - dt/tau, dt/tau)``,
    exact ``(exp(-dt/tau), 1 - exp(-dt/tau))``."""
    tau = _field(node, key, name, n)
    if np.any(tau <= 0):
        raise ConfigError(f"from_nir: node {key!r} field {name!r} must be > 0, got min {tau.min()}")
    if method == "euler":
        if np.any(tau < dt_s):
            raise ConfigError(f"from_nir: node {key!r} field {name!r} has tau < dt ({tau.min()} s < {dt_s} s); forward "
                              f"Euler would overshoot: use discretization='exact' or a smaller dt")
        return 1.0 - dt_s / tau, dt_s / tau
    beta = np.exp(-dt_s / tau)
    return beta, 1.0 - beta


def _field(node, key: str, name: str, n: int) -> np.ndarray:
    from spikerec.hardware.ir.nir_graph import as_array

    value = as_array(getattr(node, name)).reshape(-1)
    if value.size not in (1, n):
        raise ConfigError(f"from_nir: node {key!r} field {name!r} has {value.size} values for {n} neurons")
    return np.broadcast_to(value, (n,)).copy()


def _uniform(node, key: str, name: str, n: int) -> float:
    value = _field(node, key, name, n)
    if np.unique(value).size != 1:
        raise ConfigError(f"from_nir: node {key!r} field {name!r} differs between neurons; spikerec's IR holds one "
                          f"value per layer")
    return float(value[0])


def _discretize(key: str, node, n: int, dt_s: float, method: str) -> _Neuron:
    """The IR parameters of neuron node ``node`` (``n`` neurons) at step ``dt_s`` (module docstring, Neurons)."""
    import nir

    zeros, ones = np.zeros(n), np.ones(n)
    if isinstance(node, nir.Threshold):
        return _Neuron("lif", zeros, None, ones, _field(node, key, "threshold", n), 0.0, zeros)
    if isinstance(node, (nir.IF, nir.I)):  # dv/dt = r I: no leak, the step adds dt * r * I
        gain = dt_s * _field(node, key, "r", n)
        if isinstance(node, nir.I):
            return _Neuron("li", ones, None, gain, zeros, 0.0, zeros)
        return _Neuron("lif", ones, None, gain, _field(node, key, "v_threshold", n),
                       _uniform(node, key, "v_reset", n), zeros)
    cuba = isinstance(node, (nir.CubaLIF, nir.CubaLI))
    beta, f = _decay(node, key, "tau_mem" if cuba else "tau", n, dt_s, method)
    gain = f * _field(node, key, "r", n)
    syn_decay = None
    if cuba:
        syn_decay, fs = _decay(node, key, "tau_syn", n, dt_s, method)
        gain = gain * fs * _field(node, key, "w_in", n)
    v_leak = _field(node, key, "v_leak", n)
    spiking = isinstance(node, (nir.LIF, nir.CubaLIF))
    if not spiking:  # the IR's leaky integrator leaks towards v_reset, which it never resets to
        if cuba:
            return _Neuron("cuba_li", beta, syn_decay, gain, zeros, _uniform(node, key, "v_leak", n), zeros)
        return _Neuron("li", beta, None, gain, zeros, 0.0, v_leak)
    v_reset = _uniform(node, key, "v_reset", n)
    if cuba and np.any(v_leak != v_reset):
        raise ConfigError(f"from_nir: node {key!r} field 'v_leak' differs from v_reset; a current-based layer of "
                          f"spikerec's IR leaks towards v_reset")
    return _Neuron("cuba_lif" if cuba else "lif", beta, syn_decay, gain, _field(node, key, "v_threshold", n), v_reset,
                   v_leak - v_reset)


def _layer(name: str, key: str, p: _Neuron, sig, prev: str, n_in: int, reset: str | None) -> Layer:
    """An IR layer from a neuron's parameters and its input signal (from ``prev``, plus itself recurrently).

    Input scaling: a gain of 1 (within 1e-6) keeps the weights as they are with ``decay_input=False``; a gain equal
    to ``k = 1 - decay`` keeps them with ``decay_input=True``; any other gain is multiplied into the weights and
    bias (float64, then float32) with ``decay_input=False``. A leak offset ``v_leak - v_reset`` becomes bias."""
    n = sig.n
    k = 1.0 - p.decay
    if np.allclose(p.gain, 1.0, rtol=1e-6, atol=0.0):
        decay_input, scale = False, None
    elif np.all(k > 0) and np.allclose(p.gain, k, rtol=1e-6, atol=0.0):
        decay_input, scale = True, None
    else:
        decay_input, scale = False, p.gain
    weight = np.zeros((n, n_in))
    delay = np.zeros((n, n_in), dtype=np.int64)
    owner = np.zeros((n, n_in), dtype=bool)
    rec = None
    for (src, d), m in sorted(sig.terms.items()):
        if src == key:
            if d != 0:
                raise ConfigError(f"from_nir: the recurrent path of node {key!r} passes a Delay of {d} steps; the IR's "
                                  f"recurrence has a latency of exactly one step")
            rec = m
            continue
        live = m != 0
        if np.any(live & owner):
            raise ConfigError(f"from_nir: node {key!r} receives some synapses through paths with different delays; "
                              f"the IR holds one delay per synapse")
        weight += m
        delay[live] = d
        owner |= live
    bias = np.zeros(n) if sig.bias is None else sig.bias.copy()
    if scale is not None:
        weight, bias = weight * scale[:, None], bias * scale
        rec = None if rec is None else rec * scale[:, None]
    if np.any(p.leak_offset != 0):
        bias = bias + (p.leak_offset if decay_input else k * p.leak_offset)
    spiking = p.kind in ("lif", "cuba_lif")
    return Layer(name=name, kind=p.kind, weight=weight.astype(np.float32),
                 delay=delay.astype(np.int32) if delay.any() else None,
                 bias=bias.astype(np.float32) if bias.any() else None, decay=p.decay.astype(np.float32),
                 threshold=p.threshold.astype(np.float32), reset="soft" if spiking and reset == "subtract" else "hard",
                 v_reset=p.v_reset, decay_input=decay_input,
                 recurrent_weight=None if rec is None else rec.astype(np.float32),
                 syn_decay=None if p.syn_decay is None else p.syn_decay.astype(np.float32))
