"""from_nir on hand-written graphs: every supported node type, nested subgraphs, summed fan-in, delays on either side
of a weight, both discretisations, and the typed errors for what the IR cannot hold (node and field named)."""

from __future__ import annotations

import numpy as np
import pytest

from spikerec.errors import ConfigError
from spikerec.hardware import EventSimulator
from spikerec.hardware.ir.network import to_dense
from spikerec.hardware.ir.nir import from_nir

nir = pytest.importorskip("nir")

DT = 1e-3  # seconds


def _graph(nodes: dict, edges: list, n_in: int, n_out: int, type_check: bool = True):
    nodes = {"input": nir.Input(input_type=np.array([n_in])), **nodes, "output": nir.Output(output_type=np.array([n_out]))}
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=type_check)


def test_discretisations_of_a_lif_node():
    tau = np.array([0.002, 0.01, 0.05])
    g = _graph({"w": nir.Linear(weight=np.eye(3)),
                "lif": nir.LIF(tau=tau, r=np.full(3, 2.0), v_leak=np.zeros(3), v_threshold=np.ones(3),
                               v_reset=np.zeros(3))}, [("input", "w"), ("w", "lif"), ("lif", "output")], 3, 3)
    euler, exact = (from_nir(g, dt_ms=1.0, discretization=m).layers[0] for m in ("euler", "exact"))
    np.testing.assert_allclose(euler.decay, 1 - DT / tau, rtol=1e-7)
    np.testing.assert_allclose(exact.decay, np.exp(-DT / tau), rtol=1e-7)
    # input gain f * r: euler dt/tau * 2, exact (1 - exp(-dt/tau)) * 2, folded into the weights (decay_input False)
    assert not euler.decay_input and not exact.decay_input
    np.testing.assert_allclose(np.diag(to_dense(euler.weight)), 2 * DT / tau, rtol=1e-6)
    np.testing.assert_allclose(np.diag(to_dense(exact.weight)), 2 * (1 - np.exp(-DT / tau)), rtol=1e-6)
    with pytest.raises(ConfigError, match=r"node 'lif' field 'tau'.*tau < dt"):
        from_nir(g, dt_ms=3.0)  # Euler with dt > tau overshoots
    assert from_nir(g, dt_ms=3.0, discretization="exact").layers[0].decay[0] == np.float32(np.exp(-1.5))


def test_every_node_type_in_one_nested_graph_runs_as_written():
    """Input -> Scale -> Flatten -> [subgraph: Delay -> Linear -> CubaLIF] -> Affine (+ a second, summed Linear
    edge) -> IF -> Linear -> Threshold -> Linear -> I, checked against a step-by-step numpy model of the
    NIR equations (Euler, dt = 1 ms)."""
    rng = np.random.default_rng(0)
    s = rng.uniform(0.5, 1.5, 4)
    d_in = np.array([0, 1, 0, 2]) * DT  # delays of the input channels, before the weight
    w1 = rng.normal(0, 1.0, (5, 4))
    tau_syn, tau_mem = np.full(5, 0.004), np.full(5, 0.01)
    w2a, b2, w2b = rng.normal(0, 1.0, (3, 5)), rng.normal(0, 0.1, 3), rng.normal(0, 0.5, (3, 5))
    w3, w4 = rng.normal(0, 1.0, (3, 3)), rng.normal(0, 1.0, (2, 3))
    sub = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([4])), "delay": nir.Delay(delay=d_in),
                              "w": nir.Linear(weight=w1),
                              "cuba": nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=np.full(5, 10.0),
                                                  v_leak=np.zeros(5), v_threshold=np.full(5, 0.3), v_reset=np.zeros(5),
                                                  w_in=np.full(5, 4.0)),
                              "out": nir.Output(output_type=np.array([5]))},
                       edges=[("in", "delay"), ("delay", "w"), ("w", "cuba"), ("cuba", "out")])
    g = _graph({"scale": nir.Scale(scale=s), "flat": nir.Flatten(input_type={"input": np.array([4])}, start_dim=0),
                "block": sub,
                "a": nir.Affine(weight=w2a, bias=b2), "b": nir.Linear(weight=w2b),
                "if": nir.IF(r=np.full(3, 400.0), v_threshold=np.full(3, 1.0), v_reset=np.zeros(3)),
                "w3": nir.Linear(weight=w3), "th": nir.Threshold(threshold=np.full(3, 0.2)),
                "w4": nir.Linear(weight=w4), "int": nir.I(r=np.full(2, 500.0))},
               [("input", "scale"), ("scale", "flat"), ("flat", "block"), ("block", "a"), ("block", "b"), ("a", "if"),
                ("b", "if"), ("if", "w3"), ("w3", "th"), ("th", "w4"), ("w4", "int"), ("int", "output")], 4, 2)
    net = from_nir(g, dt_ms=1.0)
    assert [la.kind for la in net.layers] == ["cuba_lif", "lif", "lif", "li"]
    np.testing.assert_array_equal(net.layers[0].dense_delay(), np.tile([0, 1, 0, 2], (5, 1)))
    x = (np.random.default_rng(1).random((50, 3, 4)) < 0.4).astype(np.float64)
    res = EventSimulator(net).run(x)

    # the NIR equations, one Euler step at a time (I updated first, v reads the new I)
    T = x.shape[0]
    xs = x * s
    xd = np.zeros_like(xs)
    for c, d in enumerate([0, 1, 0, 2]):
        xd[d:, :, c] = xs[:T - d, :, c]
    i = np.zeros((3, 5)); v = np.zeros((3, 5)); v2 = np.zeros((3, 3)); v4 = np.zeros((3, 2))
    spikes = [np.zeros((T, 3, 5)), np.zeros((T, 3, 3)), np.zeros((T, 3, 3))]
    mem = np.zeros((T, 3, 2))
    for t in range(T):
        i = i + DT / tau_syn * (-i + 4.0 * xd[t] @ w1.T)
        v = v + DT / tau_mem * (-v + 10.0 * i)
        s1 = v >= 0.3
        v = np.where(s1, 0.0, v)
        v2 = v2 + DT * 400.0 * (s1 @ w2a.T + b2 + s1 @ w2b.T)
        s2 = v2 >= 1.0
        v2 = np.where(s2, 0.0, v2)
        s3 = s2 @ w3.T >= 0.2
        v4 = v4 + DT * 500.0 * (s3 @ w4.T)
        spikes[0][t], spikes[1][t], spikes[2][t], mem[t] = s1, s2, s3, v4
    for a, b in zip(res.spikes[:3], spikes):
        assert 0.02 < b.mean() < 0.7
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(res.membrane[-1], mem, rtol=1e-5, atol=1e-5)


def test_a_linear_map_before_the_output_becomes_a_memoryless_readout():
    w = np.array([[1.0, -1.0], [0.5, 2.0]])
    g = _graph({"lif": nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.full(2, 0.05),
                               v_reset=np.zeros(2)), "ro": nir.Affine(weight=w, bias=np.array([0.1, 0.0]))},
               [("input", "lif"), ("lif", "ro"), ("ro", "output")], 2, 2)
    net = from_nir(g, dt_ms=1.0)
    ro = net.layers[-1]
    assert ro.kind == "li" and ro.decay[0] == 0 and not ro.decay_input
    x = (np.random.default_rng(2).random((30, 2, 2)) < 0.5).astype(np.float64)
    res = EventSimulator(net).run(x)
    np.testing.assert_allclose(res.membrane[-1], res.spikes[0] @ w.T.astype(np.float32) + np.array([0.1, 0.0], np.float32),
                               rtol=1e-6)


def test_leak_potential_becomes_a_bias():
    """v_leak != v_reset: the membrane relaxes to v_leak without input (Euler: v' = v + dt/tau (v_leak - v))."""
    g = _graph({"w": nir.Linear(weight=np.zeros((1, 1))),
                "lif": nir.LIF(tau=np.array([0.01]), r=np.ones(1), v_leak=np.array([0.5]), v_threshold=np.array([10.0]),
                               v_reset=np.array([0.0]))}, [("input", "w"), ("w", "lif"), ("lif", "output")], 1, 1)
    net = from_nir(g, dt_ms=1.0)
    net.layers[0].kind = "li"  # read the membrane: the same update without spikes
    v = EventSimulator(net).run(np.zeros((20, 1, 1))).membrane[0][:, 0, 0]
    np.testing.assert_allclose(v, 0.5 * (1 - 0.9 ** np.arange(1, 21)), rtol=1e-5)


def _lif(n=3):
    return nir.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))


@pytest.mark.parametrize("case,match", [
    ("conv", r"node 'c' is a Conv1d"),
    ("branch", r"reads \['input', 'l1'\]"),
    ("vreset", r"node 'l1' field 'v_reset' differs between neurons"),
    ("fraction", r"node 'd' \(Delay\) field 'delay'.*not whole steps"),
    ("loop", r"algebraic loop"),
    ("recdelay", r"recurrent path of node 'l1' passes a Delay"),
    ("two_inputs", r"subgraph 's' needs exactly one Input node to be fed"),
])
def test_what_cannot_be_mapped_is_refused_by_name(case, match):
    w = np.ones((3, 3))
    if case == "conv":
        g = _graph({"c": nir.Conv1d(input_shape=3, weight=np.ones((3, 3, 1)), stride=1, padding=0, dilation=1,
                                    groups=1, bias=np.zeros(3)), "l1": _lif()},
                   [("input", "c"), ("c", "l1"), ("l1", "output")], 3, 3, type_check=False)
    elif case == "branch":  # a skip connection: l2 reads l1 and the input
        g = _graph({"w1": nir.Linear(weight=w), "l1": _lif(), "w2": nir.Linear(weight=w), "skip": nir.Linear(weight=w),
                    "l2": _lif()}, [("input", "w1"), ("w1", "l1"), ("l1", "w2"), ("w2", "l2"), ("input", "skip"),
                                    ("skip", "l2"), ("l2", "output")], 3, 3)
    elif case == "vreset":
        lif = _lif()
        lif.v_reset = np.array([0.0, 0.1, 0.0])
        g = _graph({"l1": lif}, [("input", "l1"), ("l1", "output")], 3, 3)
    elif case == "fraction":
        g = _graph({"d": nir.Delay(delay=np.full(3, 1.5e-3)), "l1": _lif()},
                   [("input", "d"), ("d", "l1"), ("l1", "output")], 3, 3)
    elif case == "loop":
        g = _graph({"a": nir.Linear(weight=w), "b": nir.Linear(weight=w), "l1": _lif()},
                   [("input", "a"), ("a", "b"), ("b", "a"), ("a", "l1"), ("l1", "output")], 3, 3)
    elif case == "two_inputs":
        sub = nir.NIRGraph(nodes={"a": nir.Input(input_type=np.array([3])), "b": nir.Input(input_type=np.array([3])),
                                  "l": _lif(), "o": nir.Output(output_type=np.array([3]))},
                           edges=[("a", "l"), ("l", "o")], type_check=False)
        g = _graph({"s": sub}, [("input", "s"), ("s", "output")], 3, 3, type_check=False)
    else:
        g = _graph({"l1": _lif(), "r": nir.Linear(weight=w), "d": nir.Delay(delay=np.full(3, 2e-3))},
                   [("input", "l1"), ("l1", "r"), ("r", "d"), ("d", "l1"), ("l1", "output")], 3, 3)
    with pytest.raises(ConfigError, match=match):
        from_nir(g, dt_ms=1.0)


def test_subtract_reset_option():
    g = _graph({"l1": _lif(1)}, [("input", "l1"), ("l1", "output")], 1, 1)
    hard, soft = from_nir(g, dt_ms=1.0).layers[0], from_nir(g, dt_ms=1.0, reset="subtract").layers[0]
    assert (hard.reset, soft.reset) == ("hard", "soft")
    with pytest.raises(ConfigError, match="reset must be"):
        from_nir(g, dt_ms=1.0, reset="zero")
    with pytest.raises(ConfigError, match="discretization must be"):
        from_nir(g, dt_ms=1.0, discretization="rk4")
