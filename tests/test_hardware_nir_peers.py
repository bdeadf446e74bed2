"""NIR graphs written by snntorch, norse, sinabs and rockpool, imported by spikerec and run on the event simulator,
against the source framework run on the same input (float64 where the framework allows it).

Each framework is configured once as its exported graph describes it (spike trains must then be identical in
every spiking layer), and once with its defaults, where the exporter describes a neuron differently from the one
the framework simulates: that difference is pinned here (and listed in docs/hardware.md), not hidden.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from spikerec.errors import ConfigError
from spikerec.hardware import EventSimulator
from spikerec.hardware.ir.nir import from_nir

pytestmark = [pytest.mark.peers, pytest.mark.filterwarnings("ignore")]

T, B = 60, 4


def _frames(n_in: int = 12, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, n_in, generator=g) < 0.3).double()


def _ours(graph, x: torch.Tensor, **kw) -> list[np.ndarray]:
    """Spikes [T, B, n] (or the membrane of a non-spiking last layer) of spikerec's import of ``graph``."""
    res = EventSimulator(from_nir(graph, **kw)).run(x.numpy())
    return [s if s is not None else m for s, m in zip(res.spikes, res.membrane)]


def _first_spikes(s: np.ndarray) -> np.ndarray:
    """Step of each (sample, neuron)'s first spike, T where it never spikes."""
    fired = s > 0
    return np.where(fired.any(axis=0), fired.argmax(axis=0), s.shape[0])


# -- snntorch ----------------------------------------------------------------------------------------------------

def _snntorch_net(kind: str, **neuron):
    snn = pytest.importorskip("snntorch", reason="snntorch is not installed (peers extra)")
    torch.manual_seed(0)
    neuron["spike_grad"] = lambda v: (v > 0).to(v.dtype)  # snntorch's Heaviside, keeping float64
    beta, th = torch.rand(20) * 0.3 + 0.6, torch.rand(20) * 0.5 + 0.75
    hidden = {"leaky": lambda: snn.Leaky(beta=beta, threshold=th, init_hidden=True, **neuron),
              "synaptic": lambda: snn.Synaptic(alpha=torch.rand(20) * 0.4 + 0.4, beta=beta, threshold=th,
                                               init_hidden=True, **neuron),
              "rleaky": lambda: snn.RLeaky(beta=beta, threshold=th, linear_features=20, init_hidden=True,
                                           **neuron)}[kind]()
    net = torch.nn.Sequential(torch.nn.Linear(12, 20), hidden, torch.nn.Linear(20, 6),
                              snn.Leaky(beta=torch.full((6,), 0.7), threshold=torch.ones(6), init_hidden=True,
                                        output=True, **neuron))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[2].weight.mul_(3.0)
    return net


def _snntorch_run(net, x: torch.Tensor) -> list[np.ndarray]:
    """snntorch step by step in float64; spikes of both spiking layers."""
    import snntorch.utils

    net = net.double()
    snntorch.utils.reset(net)
    hidden, out = [], []
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = x[t]
            for i, layer in enumerate(net):
                h = layer(h)
                h = h[0] if isinstance(h, tuple) else h
                if i == 1:
                    hidden.append(h)
            out.append(h)
    return [torch.stack(hidden).numpy(), torch.stack(out).numpy()]


def _snntorch_graph(net):
    from snntorch.export_nir import export_to_nir

    return export_to_nir(net, torch.zeros(1, 12), ignore_dims=[0])


@pytest.mark.parametrize("kind", ["leaky", "synaptic", "rleaky"])
def test_snntorch_graphs_run_spike_for_spike(kind):
    """Configured as its graph says (reset to v_reset=0 in the step of the spike): identical spike trains."""
    net = _snntorch_net(kind, reset_mechanism="zero", reset_delay=False)
    graph = _snntorch_graph(net)
    x = _frames()
    theirs = _snntorch_run(net, x)
    ours = _ours(graph, x, dt_ms=0.1)  # snntorch's exporter assumes dt = 1e-4 s
    kinds = [la.kind for la in from_nir(graph, dt_ms=0.1).layers]
    assert kinds == ["cuba_lif" if kind == "synaptic" else "lif", "lif"]
    assert (from_nir(graph, dt_ms=0.1).layers[0].recurrent_weight is not None) == (kind == "rleaky")
    for a, b in zip(ours, theirs, strict=True):
        assert 0.02 < b.mean() < 0.6
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["leaky", "synaptic", "rleaky"])
def test_snntorch_default_reset_differs_from_its_graph(kind):
    """snntorch's default (subtract reset applied one step late) is exported as a reset to 0: the first layer's spike
    trains agree up to each neuron's first spike (with recurrence: up to the sample's first spike), then part."""
    net = _snntorch_net(kind)
    graph = _snntorch_graph(net)
    x = _frames()
    theirs = _snntorch_run(net, x)
    ours = _ours(graph, x, dt_ms=0.1)
    if kind == "rleaky":
        for b, t0 in enumerate(_first_spikes(theirs[0]).min(axis=1)):
            np.testing.assert_array_equal(ours[0][:t0 + 1, b], theirs[0][:t0 + 1, b])
    else:
        np.testing.assert_array_equal(_first_spikes(ours[0]), _first_spikes(theirs[0]))
    assert not np.array_equal(ours[0], theirs[0])


# -- norse -------------------------------------------------------------------------------------------------------

def _norse_net(dt: float):
    norse = pytest.importorskip("norse.torch", reason="norse is not installed (peers extra)")
    torch.manual_seed(1)
    p1 = norse.LIFBoxParameters(tau_mem_inv=torch.rand(20) * 100 + 50, v_th=torch.rand(20) * 0.2 + 0.1,
                                v_leak=torch.zeros(20), v_reset=torch.zeros(20))
    p2 = norse.LIBoxParameters(tau_mem_inv=torch.full((6,), 80.0), v_leak=torch.zeros(6))
    net = norse.SequentialState(torch.nn.Linear(12, 20), norse.LIFBoxCell(p1, dt=dt), torch.nn.Linear(20, 6),
                                norse.LIBoxCell(p2, dt=dt))
    with torch.no_grad():
        net[0].weight.mul_(2.0)
    return norse, net


def test_norse_lif_box_to_li_box_runs_spike_for_spike():
    """norse 1.1 writes tau = dt / tau_mem_inv (dt times the time constant): imported at its own dt the graph is
    refused (tau < dt); imported at dt' = dt^2 its per-step decay is norse's 1 - dt*tau_mem_inv, and the hidden
    spikes and the LI readout match norse's."""
    dt = 1e-3
    norse, net = _norse_net(dt)
    graph = norse.to_nir(net, torch.zeros(1, 12), dt=dt)
    with pytest.raises(ConfigError, match="tau < dt"):
        from_nir(graph, dt_ms=dt * 1e3)
    net = net.double()
    x = _frames()
    hidden, out, state = [], [], [None] * 2
    with torch.no_grad():
        for t in range(T):
            z, state[0] = net[1](net[0](x[t]), state[0])
            v, state[1] = net[3](net[2](z), state[1])
            hidden.append(z)
            out.append(v)
    ours = _ours(graph, x, dt_ms=dt * dt * 1e3)
    assert 0.02 < torch.stack(hidden).mean() < 0.6
    np.testing.assert_array_equal(ours[0], torch.stack(hidden).numpy())
    np.testing.assert_allclose(ours[1], torch.stack(out).numpy(), rtol=1e-5, atol=1e-6)  # float32 time constants


# -- sinabs ------------------------------------------------------------------------------------------------------

def _sinabs_net(spike_fn, reset_fn):
    sinabs = pytest.importorskip("sinabs", reason="sinabs is not installed (make venv installs it without its "
                                                   "nir<=1.0.4 / samna pins, see the Makefile)")
    import sinabs.layers as sl

    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Linear(12, 20), sl.IAF(spike_fn=spike_fn, reset_fn=reset_fn),
                              torch.nn.Linear(20, 6), sl.LIF(tau_mem=torch.tensor(8.0), spike_fn=spike_fn,
                                                             reset_fn=reset_fn))
    with torch.no_grad():
        net[0].weight.mul_(2.0)
        net[2].weight.mul_(20.0)
    sample = torch.zeros(B, T, 12)  # sinabs layers are [B, T, C]
    net(sample)  # sizes its states
    graph = sinabs.to_nir(net, sample)
    for layer in net:
        if hasattr(layer, "reset_states"):
            layer.reset_states()
    return net.double(), graph


def _sinabs_run(net, x: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        h = net[1](net[0](x.transpose(0, 1))).double()
        out = net[3](net[2](h)).double()
    return [h.transpose(0, 1).numpy(), out.transpose(0, 1).numpy()]


@pytest.mark.parametrize("reset", [None, "subtract"])
def test_sinabs_iaf_and_lif_run_spike_for_spike(reset):
    """sinabs' time constants are in steps (dt = 1 "second") and its LIF normalises the input by 1 - exp(-1/tau):
    the exact discretisation. With one spike per step, a reset to 0 (the graph) or subtraction (reset='subtract')."""
    from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike

    net, graph = _sinabs_net(SingleSpike, MembraneReset() if reset is None else MembraneSubtract())
    x = _frames()
    theirs = _sinabs_run(net, x)
    ours = _ours(graph, x, dt_ms=1000.0, discretization="exact", reset=reset)
    for a, b in zip(ours, theirs, strict=True):
        assert 0.02 < b.mean() < 0.6
        np.testing.assert_array_equal(a, b)


def test_sinabs_default_multispike_differs_from_its_graph():
    """sinabs' default spike function emits floor(v / threshold) spikes per step; the IR (and the graph) one."""
    from sinabs.activation import MembraneSubtract, MultiSpike

    net, graph = _sinabs_net(MultiSpike, MembraneSubtract())
    x = _frames()
    theirs = _sinabs_run(net, x)
    ours = _ours(graph, x, dt_ms=1000.0, discretization="exact", reset="subtract")
    assert theirs[0].max() > 1 and ours[0].max() == 1
    np.testing.assert_array_equal(_first_spikes(ours[0]), _first_spikes(theirs[0]))
    assert not np.array_equal(ours[0], theirs[0])


# -- rockpool ----------------------------------------------------------------------------------------------------

def _rockpool_net(max_spikes: int = 1, recurrent: bool = False):
    pytest.importorskip("rockpool", reason="rockpool is not installed (peers extra)")
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch

    torch.manual_seed(3)
    net = Sequential(LinearTorch((12, 20), has_bias=False),
                     LIFTorch(20, tau_mem=0.02, tau_syn=torch.rand(20) * 0.01 + 0.005, dt=1e-3,
                              max_spikes_per_dt=max_spikes, has_rec=recurrent),
                     LinearTorch((20, 6), has_bias=False),
                     LIFTorch(6, tau_mem=0.03, tau_syn=0.01, dt=1e-3, max_spikes_per_dt=max_spikes))
    with torch.no_grad():
        net[0].weight.mul_(0.3)
        net[2].weight.mul_(0.3)
    return net


def _rockpool_run(net, x: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():  # rockpool runs float32; its LIFTorch mixes dtypes in float64
        out, _, rec = net(x.float().transpose(0, 1), record=True)
    return [rec["1_LIFTorch_output"].numpy().transpose(1, 0, 2), out.numpy().transpose(1, 0, 2)]


def rockpool_gain_error(node, dt: float) -> np.ndarray:
    """What LIFTorch applies to its input (exp(-dt/tau_syn): I' = exp(-dt/tau_syn) (I + x), v' = a v + I') over
    what its exported CubaLIF says under the exact discretisation ((1-a) r (1-exp(-dt/tau_syn)) w_in, with
    r = tau_mem exp(-dt/tau_mem) / dt), per neuron."""
    a = np.exp(-dt / np.asarray(node.tau_mem, np.float64))
    b = np.exp(-dt / np.asarray(node.tau_syn, np.float64))
    return b / ((1 - a) * np.asarray(node.r, np.float64) * (1 - b) * np.asarray(node.w_in, np.float64))


def test_rockpool_lif_runs_spike_for_spike_once_its_gain_is_undone():
    """rockpool's LIFTorch subtracts the threshold (reset='subtract') and, with max_spikes_per_dt=1, spikes once
    per step; its exported r and w_in do not describe its input gain: the test pins the factor
    (rockpool_gain_error, 5-16 here) and shows the graph then runs exactly as rockpool does."""
    from rockpool.nn.modules.torch.nir import to_nir

    net = _rockpool_net()
    graph = to_nir(net)
    theirs = _rockpool_run(net, _frames())
    plain = _ours(graph, _frames(), dt_ms=1.0, discretization="exact", reset="subtract")
    assert not np.array_equal(plain[0], theirs[0])  # as exported: a much weaker input
    ir = from_nir(graph, dt_ms=1.0, discretization="exact", reset="subtract")
    for layer, key in zip(ir.layers, ["1_LIFTorch", "3_LIFTorch"]):
        node = graph.nodes[key]
        np.testing.assert_allclose(layer.decay, np.exp(-1e-3 / np.asarray(node.tau_mem, np.float64)), rtol=1e-6)
        np.testing.assert_allclose(layer.syn_decay, np.exp(-1e-3 / np.asarray(node.tau_syn, np.float64)), rtol=1e-6)
        c = rockpool_gain_error(node, 1e-3)
        assert np.all((c > 5) & (c < 16))
        layer.weight = (layer.weight.astype(np.float64) * c[:, None]).astype(np.float32)
    res = EventSimulator(ir).run(_frames().numpy())
    for a, b in zip(res.spikes, theirs, strict=True):
        assert 0.02 < b.mean() < 0.6
        np.testing.assert_array_equal(a, b)


def test_rockpool_defaults_and_dropped_recurrence():
    """Default LIFTorch emits up to 2^16 spikes per step; to_nir drops recurrent weights (w_rec) entirely."""
    from rockpool.nn.modules.torch.nir import to_nir

    net = _rockpool_net(max_spikes=2 ** 16)
    assert _rockpool_run(net, _frames())[1].max() > 1
    rnn = _rockpool_net(recurrent=True)
    assert np.abs(rnn[1].w_rec.detach().numpy()).sum() > 0
    ir = from_nir(to_nir(rnn), dt_ms=1.0, discretization="exact")
    assert ir.layers[0].recurrent_weight is None
