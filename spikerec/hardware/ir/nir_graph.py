"""The wiring of a NIR graph as linear maps between its stateful nodes (used by :func:`~spikerec.hardware.ir.nir.from_nir`).

A NIR graph is first flattened: every nested ``NIRGraph`` node is inlined (its nodes renamed ``<key>.<inner>``,
an edge into the subgraph goes to its ``Input`` node, an edge out of it leaves from its ``Output`` node; inner
``Input``/``Output`` nodes then pass their signal through). The stateless nodes between two stateful nodes
(``Linear``, ``Affine``, ``Scale``, ``Delay``, ``Flatten``, inner ``Input``/``Output``) compose into a
:class:`Signal`: the input of a node as a sum of delayed linear maps of *sources* (stateful nodes or the
graph's ``Input``) plus a constant bias::

    y[t] = sum_{(source, d)} M[source, d] @ s_source[t - d] + bias

Several edges into one node are summed. A ``Delay`` node (seconds per channel, whole steps of ``dt``) moves each
row to a later delay; a bias cannot pass through a non-zero delay (it would be absent for the first steps).
Cycles made only of stateless nodes (algebraic loops) are refused. All arrays are float64 numpy; parameters
given as torch tensors (sinabs, snntorch) or scalars are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikerec.errors import ConfigError

__all__ = ["Signal", "flatten_graph", "as_array", "signals_into", "graph_io", "node_size"]


def as_array(value) -> np.ndarray:
    """A float64 numpy copy of a NIR parameter (numpy, torch tensor, list or scalar)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=np.float64)


@dataclass
class Signal:
    """``sum_{(source, d)} terms[(source, d)] @ s_source[t - d] + bias`` over ``n`` channels."""

    n: int
    terms: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)  # (source, delay steps) -> [n, n_source]
    bias: np.ndarray | None = None  # [n]

    @classmethod
    def source(cls, key: str, n: int) -> "Signal":
        return cls(n, {(key, 0): np.eye(n)}, None)

    def plus(self, other: "Signal", where: str) -> "Signal":
        if other.n != self.n:
            raise ConfigError(f"from_nir: node {where!r} sums inputs of different sizes ({self.n} and {other.n})")
        terms = dict(self.terms)
        for key, m in other.terms.items():
            terms[key] = terms[key] + m if key in terms else m
        return Signal(self.n, terms, _add(self.bias, other.bias))

    def linear(self, w: np.ndarray, b: np.ndarray | None, where: str) -> "Signal":
        if w.ndim != 2 or w.shape[1] != self.n:
            raise ConfigError(f"from_nir: node {where!r} field 'weight' has shape {list(w.shape)} but its input has "
                              f"{self.n} channels (expected [n_out, {self.n}]; convolutions are not supported)")
        bias = None if self.bias is None else w @ self.bias
        if b is not None:
            b = np.broadcast_to(b.reshape(-1) if b.size > 1 else b, (w.shape[0],))
            bias = _add(bias, b)
        return Signal(w.shape[0], {k: w @ m for k, m in self.terms.items()}, bias)

    def scaled(self, s: np.ndarray, where: str) -> "Signal":
        s = _per_channel(s, self.n, where, "scale")
        return Signal(self.n, {k: s[:, None] * m for k, m in self.terms.items()},
                      None if self.bias is None else s * self.bias)

    def delayed(self, steps: np.ndarray, where: str) -> "Signal":
        steps = np.broadcast_to(steps, (self.n,))
        if self.bias is not None and np.any(self.bias[steps > 0] != 0):
            raise ConfigError(f"from_nir: node {where!r} (Delay) delays a bias; spikerec's IR applies biases "
                              f"undelayed (the bias would be absent for the first steps)")
        terms: dict[tuple[str, int], np.ndarray] = {}
        for (src, d), m in self.terms.items():
            for e in np.unique(steps):
                part = np.where((steps == e)[:, None], m, 0.0)
                key = (src, d + int(e))
                terms[key] = terms[key] + part if key in terms else part
        kept = {k: m for k, m in terms.items() if m.any()} or dict(self.terms)  # an all-zero map keeps its source
        return Signal(self.n, kept, self.bias)

    @property
    def sources(self) -> set[str]:
        return {src for src, _ in self.terms}


def _add(a, b):
    if a is None:
        return None if b is None else np.array(b, dtype=np.float64)
    return a if b is None else a + b


def _per_channel(value: np.ndarray, n: int, where: str, name: str) -> np.ndarray:
    flat = value.reshape(-1)
    if flat.size not in (1, n):
        raise ConfigError(f"from_nir: node {where!r} field {name!r} has {flat.size} values for {n} channels")
    return np.broadcast_to(flat, (n,)).astype(np.float64)


def flatten_graph(graph, prefix: str = "") -> tuple[dict, list[tuple[str, str]]]:
    """(nodes, edges) of ``graph`` with every nested NIRGraph inlined (keys ``<subgraph>.<inner>``)."""
    import nir

    nodes: dict = {}
    edges: list[tuple[str, str]] = []
    ends: dict[str, tuple[str | None, str | None]] = {}  # subgraph key -> (its Input key, its Output key)
    for key, node in graph.nodes.items():
        name = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = flatten_graph(node, f"{name}.")
            nodes.update(inner_nodes)
            edges += inner_edges
            ins = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            outs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            ends[key] = (f"{name}.{ins[0]}" if len(ins) == 1 else None, f"{name}.{outs[0]}" if len(outs) == 1 else None)
        else:
            nodes[name] = node
    def endpoint(key: str, side: int, role: str) -> str:
        """The flat key of edge end ``key``: itself, or a subgraph's Input (side 0) / Output (side 1)."""
        if key not in ends:
            return f"{prefix}{key}"
        if ends[key][side] is None:
            raise ConfigError(f"from_nir: subgraph {prefix + key!r} needs exactly one {role}")
        return ends[key][side]

    for src, dst in graph.edges:
        src_key, dst_key = endpoint(src, 1, "Output node to be read from"), endpoint(dst, 0, "Input node to be fed")
        for key in (src_key, dst_key):
            if key not in nodes:
                raise ConfigError(f"from_nir: edge ({src!r}, {dst!r}) names node {key!r}, which the graph lacks")
        edges.append((src_key, dst_key))
    return nodes, edges


def graph_io(nodes: dict, edges) -> tuple[str, str]:
    """The keys of the top-level Input and Output nodes (exactly one each)."""
    import nir

    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input) and "." not in k]
    outputs = [k for k, n in nodes.items() if isinstance(n, nir.Output) and "." not in k]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"from_nir: need exactly one Input and one Output node, got {inputs} and {outputs}")
    return inputs[0], outputs[0]


def _predecessors(nodes: dict, edges) -> dict[str, list[str]]:
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for src, dst in edges:
        preds[dst].append(src)
    return preds


def _own_size(node) -> int | None:
    """Channels a node's own parameters fix (weights' rows; any per-channel array with more than one value)."""
    import nir

    if isinstance(node, (nir.Linear, nir.Affine)):
        return int(as_array(node.weight).shape[0])
    sizes = [as_array(getattr(node, name)).size for name in ("tau", "tau_mem", "tau_syn", "r", "v_threshold",
                                                              "threshold", "scale", "delay", "v_leak", "w_in")
             if getattr(node, name, None) is not None]
    big = [n for n in sizes if n > 1]
    return max(big) if big else None


def node_size(nodes: dict, edges, input_key: str, n_inputs: int, key: str) -> int:
    """Output channels of node ``key``: fixed by its own parameters, else by what feeds it (scalar-parameter
    neurons, e.g. sinabs' LIF, take the size of their input)."""
    preds = _predecessors(nodes, edges)

    def size(k: str, seen: frozenset) -> int | None:
        if k == input_key:
            return n_inputs
        own = _own_size(nodes[k])
        if own is not None:
            return own
        for p in preds[k]:
            if p not in seen:
                n = size(p, seen | {k})
                if n is not None:
                    return n
        return None

    n = size(key, frozenset())
    if n is None:
        raise ConfigError(f"from_nir: cannot tell how many neurons node {key!r} has (scalar parameters and no sized "
                          f"input)")
    return n


def signals_into(nodes: dict, edges, stateful: set[str], input_key: str, n_inputs: int, dt_s: float,
                 targets) -> dict[str, Signal]:
    """The input :class:`Signal` of each key in ``targets``. ``stateful``: keys that are sources (besides the graph's
    Input ``input_key`` of ``n_inputs`` channels)."""
    import nir

    preds = _predecessors(nodes, edges)
    memo: dict[str, Signal] = {}
    busy: set[str] = set()

    def output_of(key: str) -> Signal:
        if key == input_key:
            return Signal.source(key, n_inputs)
        if key in stateful:
            return Signal.source(key, node_size(nodes, edges, input_key, n_inputs, key))
        if key in memo:
            return memo[key]
        if key in busy:
            raise ConfigError(f"from_nir: node {key!r} lies on a cycle of stateless nodes (an algebraic loop); a "
                              f"recurrent edge must pass through a neuron node")
        busy.add(key)
        memo[key] = _apply(key, nodes[key], input_of(key))
        busy.discard(key)
        return memo[key]

    def input_of(key: str) -> Signal:
        if not preds[key]:
            raise ConfigError(f"from_nir: node {key!r} ({type(nodes[key]).__name__}) has no input edge")
        total = None
        for src in preds[key]:
            sig = output_of(src)
            total = sig if total is None else total.plus(sig, key)
        return total

    def _apply(key: str, node, sig: Signal) -> Signal:
        if isinstance(node, nir.Affine):
            return sig.linear(as_array(node.weight), as_array(node.bias), key)
        if isinstance(node, nir.Linear):
            return sig.linear(as_array(node.weight), None, key)
        if isinstance(node, nir.Scale):
            return sig.scaled(as_array(node.scale), key)
        if isinstance(node, nir.Delay):
            seconds = _per_channel(as_array(node.delay), sig.n, key, "delay")
            steps = np.rint(seconds / dt_s).astype(np.int64)
            if np.any(np.abs(steps * dt_s - seconds) > 1e-6 * dt_s) or np.any(steps < 0):
                raise ConfigError(f"from_nir: node {key!r} (Delay) field 'delay' holds delays that are not whole "
                                  f"steps of dt = {dt_s} s; choose a dt that divides them")
            return sig.delayed(steps, key)
        if isinstance(node, (nir.Flatten, nir.Input, nir.Output)):
            return sig  # channels are already flat (C order), and inner Input/Output nodes pass through
        raise ConfigError(f"from_nir: node {key!r} is a {type(node).__name__}, which spikerec cannot map (supported: "
                          f"LIF, CubaLIF, IF, LI, CubaLI, I, Threshold, Linear, Affine, Scale, Delay, Flatten, "
                          f"NIRGraph)")

    return {key: input_of(key) for key in targets}
