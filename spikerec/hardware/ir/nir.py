"""Export a :class:`~spikerec.hardware.ir.network.Network` to NIR and import it back (``nir`` package).

Neurons. NIR's ``LIF`` is ``tau dv/dt = (v_leak - v) + r I`` with reset to ``v_reset``; forward
Euler with step ``dt`` gives ``v' = (1 - dt/tau) v + (dt/tau)(v_leak + r I)``. The IR update maps onto
it with ``tau = dt / (1 - decay)`` (seconds), ``v_leak = v_reset`` (the IR's ``v_reset``) and
``r = 1`` (``decay_input=True``) or ``r = tau/dt`` (``decay_input=False``, so ``(dt/tau) r = 1``).
``LI`` readouts map to NIR ``LI`` the same way (``v_leak = 0``). The time base ``dt_s`` defaults to
the network's ``dt_ms`` in seconds; importers that assume another step (snntorch uses 1e-4 s) need
``to_nir(network, dt_s=their_dt)``: only ``tau`` (and ``r``) change, the dynamics per step do not.
Soft reset has no NIR equivalent (NIR ``LIF`` resets to ``v_reset``) and is refused.

Per-synapse delays. NIR's ``Delay`` delays whole channels, so the synapses of a layer are grouped
by their integer delay ``d``: each group is one ``Linear`` (weights of that group, zeros elsewhere)
followed, for ``d > 0``, by a ``Delay`` of ``d * dt_s`` seconds on all ``n_out`` channels; all
branches feed the neuron node, whose input is their sum. Bias goes on the undelayed branch (an
``Affine``). Recurrent weights are a ``Linear`` from the neuron back to itself (one step of latency,
as in every NIR simulator). Graph metadata keeps ``dt_s``, the IR metadata and the sample window's
``drain_steps`` and ``readout`` rule (NIR has no field for them: a consumer runs each sample's frames, then
``drain_steps`` empty steps, and reads the prediction from that window) so :func:`from_nir` reproduces
the network exactly (weights float32, time constants float64). Initial membranes other than the default
(``Layer.v_init``) have no NIR field and are refused.

Node names: ``input``, ``<layer>.w<d>`` / ``<layer>.delay<d>``, ``<layer>.lif`` or ``<layer>.li``,
``<layer>.rec``, ``output``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spikerec.errors import CheckpointError, ConfigError
from spikerec.hardware.ir.network import Layer, Network, to_dense
from spikerec.io import atomic_path, to_jsonable

__all__ = ["to_nir", "from_nir", "save_nir", "load_nir"]


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
    meta = {"spikerec_format": 1, "dt_s": dt_s, "dt_ms": network.dt_ms, "input_pooling": network.input_pooling,
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


def load_nir(path: str | Path, dt_ms: float | None = None) -> Network:
    """Read a NIR file and convert it with :func:`from_nir`."""
    import nir

    try:
        graph = nir.read(path)
    except Exception as err:  # nir raises KeyError/OSError/ValueError for foreign or damaged files
        raise CheckpointError(f"{path}: not a readable NIR file ({type(err).__name__}: {err})") from err
    return from_nir(graph, dt_ms=dt_ms)


def from_nir(graph, dt_ms: float | None = None) -> Network:
    """Network from a NIR graph: a chain of neuron nodes (``LIF``/``LI``), each fed by ``Linear``/``Affine``
    branches (optionally through ``Delay``) from the previous neuron node or the input, plus an optional
    recurrent ``Linear``/``Affine`` from itself. ``dt_ms`` defaults to the graph metadata
    (spikerec exports) and is required otherwise. Raises ``ConfigError`` naming the node it cannot map.
    """
    import nir

    meta = dict(getattr(graph, "metadata", {}) or {})
    meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in meta.items()}
    if dt_ms is None:
        if "dt_ms" not in meta:
            raise ConfigError("from_nir: the graph has no dt metadata; pass dt_ms (the simulation step in ms)")
        dt_ms = float(meta["dt_ms"])
    dt_s = float(meta.get("dt_s", dt_ms * 1e-3))
    nodes, edges = graph.nodes, list(graph.edges)
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for src, dst in edges:
        preds[dst].append(src)
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"from_nir: need exactly one Input and one Output node, got {inputs} and {outputs}")
    n_inputs = int(np.prod(nodes[inputs[0]].input_type["input"]))
    names = json.loads(meta["layer_names"]) if "layer_names" in meta else None
    layers, prev, n_in = [], inputs[0], n_inputs
    while True:
        succ = [dst for src, dst in edges if src == prev and not isinstance(nodes[dst], nir.Output)]
        targets = {_neuron_of(dst, nodes, edges) for dst in succ} - {prev}
        if not targets:
            break
        if len(targets) != 1:
            raise ConfigError(f"from_nir: node {prev!r} feeds several neuron nodes {sorted(targets)}; only chains are supported")
        neuron = targets.pop()
        name = names[len(layers)] if names and len(layers) < len(names) else neuron.rsplit(".", 1)[0]
        layers.append(_import_layer(neuron, name, prev, n_in, nodes, preds, dt_s))
        prev, n_in = neuron, layers[-1].n_out
    if not layers:
        raise ConfigError("from_nir: no LIF/LI node reachable from the Input node")
    if prev not in preds[outputs[0]]:
        raise ConfigError(f"from_nir: the Output node is not fed by the last neuron node {prev!r}")
    ir_meta = json.loads(meta["ir_metadata"]) if "ir_metadata" in meta else {"source": "nir"}
    net = Network(layers=layers, dt_ms=float(dt_ms), n_inputs=n_inputs, input_pooling=int(meta.get("input_pooling", 1)),
                  n_classes=int(meta.get("n_classes", layers[-1].n_out)), readout=str(meta.get("readout", "softmax_sum")),
                  drain_steps=int(meta["drain_steps"]) if "drain_steps" in meta else None, metadata=ir_meta)
    return net.validate("from_nir")


def _is_neuron(node) -> bool:
    import nir

    return isinstance(node, (nir.LIF, nir.LI))


def _neuron_of(key: str, nodes, edges) -> str:
    """The neuron node a weight (or weight -> delay) branch starting at ``key`` ends in."""
    import nir

    node = nodes[key]
    if _is_neuron(node):
        return key
    if isinstance(node, (nir.Linear, nir.Affine, nir.Delay)):
        nxt = [dst for src, dst in edges if src == key]
        if len(nxt) == 1:
            return _neuron_of(nxt[0], nodes, edges)
    raise ConfigError(f"from_nir: node {key!r} ({type(node).__name__}) is not part of a "
                      f"Linear/Affine [-> Delay] -> LIF/LI branch; spikerec cannot map it")


def _import_layer(neuron: str, name: str, prev: str, n_in: int, nodes, preds, dt_s: float) -> Layer:
    import nir

    node = nodes[neuron]
    n_out = int(np.asarray(node.tau).size)
    weight = np.zeros((n_out, n_in), dtype=np.float64)
    delay = np.zeros((n_out, n_in), dtype=np.int64)
    owner = np.zeros((n_out, n_in), dtype=bool)
    bias = np.zeros(n_out)
    has_bias = False
    rec = None
    for src in preds[neuron]:
        steps = np.zeros(n_out, dtype=np.int64)
        wkey = src
        if isinstance(nodes[src], nir.Delay):
            seconds = np.broadcast_to(np.asarray(nodes[src].delay, dtype=np.float64), (n_out,))
            steps = np.rint(seconds / dt_s).astype(np.int64)
            if np.any(np.abs(steps * dt_s - seconds) > 1e-6 * dt_s) or np.any(steps < 0):
                raise ConfigError(f"from_nir: Delay node {src!r} holds delays that are not whole steps of {dt_s} s")
            (wkey,) = preds[src]
        wnode = nodes[wkey]
        if not isinstance(wnode, (nir.Linear, nir.Affine)):
            raise ConfigError(f"from_nir: node {wkey!r} ({type(wnode).__name__}) feeding {neuron!r} is not Linear/Affine")
        w = np.asarray(wnode.weight, dtype=np.float64)
        b = np.asarray(wnode.bias, dtype=np.float64) if isinstance(wnode, nir.Affine) else None
        (source,) = preds[wkey]
        if source == neuron:
            if w.shape != (n_out, n_out) or steps.any():
                raise ConfigError(f"from_nir: recurrent node {wkey!r} must be [{n_out}, {n_out}] without delay")
            rec = w if rec is None else rec + w
            if b is not None and np.any(b != 0):
                raise ConfigError(f"from_nir: recurrent node {wkey!r} has a bias; spikerec's IR has none there")
            continue
        if source != prev:
            raise ConfigError(f"from_nir: node {wkey!r} reads {source!r}, expected the previous layer {prev!r}")
        if w.shape != (n_out, n_in):
            raise ConfigError(f"from_nir: node {wkey!r} has weight shape {list(w.shape)}, expected [{n_out}, {n_in}]")
        live = w != 0
        clash = live & owner & (delay != steps[:, None])
        if clash.any():
            raise ConfigError(f"from_nir: layer {name!r} has synapses present in branches with different delays; "
                              f"the IR holds one delay per synapse")
        weight += w
        delay = np.where(live, steps[:, None], delay)
        owner |= live
        if b is not None and np.any(b != 0):
            if steps.any():
                raise ConfigError(f"from_nir: delayed branch {wkey!r} has a bias (it would be absent for the first "
                                  f"steps); spikerec's IR applies bias undelayed")
            bias += b
            has_bias = True
    decay, r, v_leak, threshold, v_reset = _neuron_params(node, neuron, dt_s)
    k = 1.0 - decay
    if np.all(r == 1.0):
        decay_input = True
    elif np.allclose(r * k, 1.0, rtol=1e-6, atol=0):
        decay_input = False
    else:  # general r: fold it into the input weights, keep the decay_input convention
        decay_input = True
        weight, bias = weight * r[:, None], bias * r
        rec = None if rec is None else rec * r[:, None]
    d32 = delay.astype(np.int32) if delay.any() else None
    return Layer(name=name, kind="li" if isinstance(node, nir.LI) else "lif", weight=weight.astype(np.float32),
                 delay=d32, bias=bias.astype(np.float32) if has_bias else None, decay=decay.astype(np.float32),
                 threshold=threshold.astype(np.float32), reset="hard", v_reset=v_reset,
                 decay_input=decay_input, recurrent_weight=None if rec is None else rec.astype(np.float32))


def _neuron_params(node, key: str, dt_s: float):
    import nir

    tau = np.asarray(node.tau, dtype=np.float64).reshape(-1)
    n = tau.size
    r = np.broadcast_to(np.asarray(node.r, dtype=np.float64), (n,)).copy()
    v_leak = np.broadcast_to(np.asarray(node.v_leak, dtype=np.float64), (n,))
    if np.any(tau <= dt_s):
        raise ConfigError(f"from_nir: node {key!r} has tau <= dt ({dt_s} s); forward Euler needs tau > dt")
    decay = 1.0 - dt_s / tau
    if isinstance(node, nir.LI):
        if np.any(v_leak != 0):
            raise ConfigError(f"from_nir: LI node {key!r} has v_leak != 0; spikerec's LI has no leak potential")
        return decay, r, v_leak, np.zeros(n), 0.0
    v_reset = np.broadcast_to(np.asarray(node.v_reset, dtype=np.float64), (n,))
    if np.unique(v_reset).size != 1 or np.any(v_leak != v_reset):
        raise ConfigError(f"from_nir: LIF node {key!r} needs one v_reset shared by all neurons and equal to v_leak "
                          f"(spikerec's v_reset plays both roles)")
    threshold = np.broadcast_to(np.asarray(node.v_threshold, dtype=np.float64), (n,))
    return decay, r, v_leak, threshold, float(v_reset[0])
