"""The IR's neuron kinds that NIR graphs need: current-based ("cuba_lif", "cuba_li") layers with a synaptic
current state, integrate-and-fire (decay 1) and memoryless (decay 0) layers. Checked against closed forms,
against the dense torch reference (other code), and through the HDF5 format (version 3; version 2 files load)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from hardware_models import ir_network, random_frames
from spikerec.errors import CheckpointError
from spikerec.hardware import EventSimulator, Network, torch_reference
from spikerec.hardware.ir.network import FORMAT_VERSION, Layer
from spikerec.hardware.simulators.crossbar import CrossbarSimulator


def cuba_network(recurrent: bool = True, delays: bool = True, decay_input: bool = False, last: str = "cuba_li",
                 seed: int = 0) -> Network:
    """ir_network's weights with every layer turned into a current-based layer (per-neuron synaptic decays)."""
    net = ir_network(sizes=(12, 20, 16, 6), decay_input=decay_input, recurrent=recurrent, delays=delays, bias=True,
                     last_kind="li" if last.endswith("li") else "lif", seed=seed, gain=1.0)
    rng = np.random.default_rng(seed + 1)
    for i, layer in enumerate(net.layers):
        layer.kind = last if i == len(net.layers) - 1 else "cuba_lif"
        layer.syn_decay = rng.uniform(0.3, 0.9, layer.n_out).astype(np.float32)
        layer.decay = rng.uniform(0.6, 0.95, layer.n_out).astype(np.float32)
    return net.validate()


def _spiking(outs, net):
    return [o for o, la in zip(outs, net.layers) if la.spiking]


@pytest.mark.parametrize("decay_input", [False, True])
@pytest.mark.parametrize("recurrent", [False, True])
def test_cuba_layers_match_the_torch_reference(recurrent, decay_input):
    net = cuba_network(recurrent=recurrent, decay_input=decay_input)
    x = random_frames(60, 5, 12, p=0.3, seed=3)
    window = np.array([60, 41, 60, 17, 33])
    ev = EventSimulator(net).run(x, window)
    ref = torch_reference(net, x, window)
    for i, (a, b) in enumerate(zip(ev.spikes[:-1], _spiking(ref, net))):
        assert 0.01 < a.mean() < 0.6, f"layer {i} is silent or saturated"
        np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_allclose(ev.membrane[-1], ref[-1].numpy(), rtol=1e-6, atol=1e-6)


def test_cuba_li_impulse_response_is_the_difference_of_exponentials():
    """One input event of weight w at t=0: I[t] = a^t w, V[t] = w (b^(t+1) - a^(t+1)) / (b - a) (decay_input=False)."""
    a, b, w = 0.6, 0.9, 0.7
    layer = Layer(name="out", kind="cuba_li", weight=np.array([[w]], np.float32), delay=None, bias=None,
                  decay=np.array([b], np.float32), threshold=np.zeros(1, np.float32), decay_input=False,
                  syn_decay=np.array([a], np.float32))
    net = Network(layers=[layer], dt_ms=1.0, n_inputs=1, n_classes=1)
    x = np.zeros((30, 1, 1))
    x[0] = 1.0
    v = EventSimulator(net).run(x).membrane[-1][:, 0, 0]
    a, b, w = np.float32(a).item(), np.float32(b).item(), np.float32(w).item()
    t = np.arange(30)
    np.testing.assert_allclose(v, w * (b ** (t + 1) - a ** (t + 1)) / (b - a), rtol=1e-5)


def test_integrate_and_fire_and_threshold_units():
    """decay 1 (IF): constant input c reaches threshold 1 every ceil(1/c) steps with reset to 0; decay 0 with
    decay_input=False is a memoryless threshold unit."""
    c = 0.3
    if_layer = Layer(name="if", kind="lif", weight=np.array([[c]], np.float32), delay=None, bias=None,
                     decay=np.ones(1, np.float32), threshold=np.ones(1, np.float32), decay_input=False)
    s = EventSimulator(Network(layers=[if_layer], dt_ms=1.0, n_inputs=1, n_classes=1)).run(np.ones((20, 1, 1)))
    np.testing.assert_array_equal(np.nonzero(s.spikes[0][:, 0, 0])[0], [3, 7, 11, 15, 19])  # 4 steps: 0.3*4 >= 1
    th = Layer(name="th", kind="lif", weight=np.array([[1.0, -1.0]], np.float32), delay=None, bias=None,
               decay=np.zeros(1, np.float32), threshold=np.full(1, 0.5, np.float32), decay_input=False)
    x = np.array([[1, 0], [1, 1], [0, 0], [1, 0], [0, 1]], np.float64)[:, None, :]
    s = EventSimulator(Network(layers=[th], dt_ms=1.0, n_inputs=2, n_classes=1)).run(x)
    np.testing.assert_array_equal(s.spikes[0][:, 0, 0], [1, 0, 0, 1, 0])


def test_ideal_crossbar_runs_cuba_layers_like_the_event_simulator():
    net = cuba_network(recurrent=True, delays=True)
    x = random_frames(40, 3, 12, p=0.3, seed=4).numpy()
    ev = EventSimulator(net).run(x)
    cb = CrossbarSimulator(net, "ideal").run(x)
    for a, b in zip(ev.spikes[:-1], cb.spikes[:-1]):
        assert a.sum() > 0 and np.array_equal(a, b)
    np.testing.assert_allclose(cb.membrane[-1], ev.membrane[-1], rtol=1e-5, atol=1e-6)


def test_cuba_layers_save_and_load(tmp_path):
    net = cuba_network(last="cuba_lif")
    net.readout = "membrane_sum"
    back = Network.load(net.save(tmp_path / "net.h5"))
    assert back.format_version == FORMAT_VERSION == 3
    for x, y in zip(net.layers, back.layers, strict=True):
        assert x.kind == y.kind
        np.testing.assert_array_equal(x.syn_decay, y.syn_decay)
    frames = random_frames(30, 2, 12, seed=6).numpy()
    for a, b in zip(EventSimulator(net).run(frames).spikes, EventSimulator(back).run(frames).spikes):
        np.testing.assert_array_equal(a, b)


def test_version_2_files_load_and_kind_fields_are_checked(tmp_path):
    net = ir_network()
    path = net.save(tmp_path / "v2.h5")
    with h5py.File(path, "r+") as f:  # a file written before the cuba kinds existed
        f.attrs["format_version"] = 2
    assert Network.load(path).format_version == 2
    bad = cuba_network()
    bad.layers[0].syn_decay = None
    with pytest.raises(CheckpointError, match="syn_decay"):
        bad.validate()
    bad = ir_network()
    bad.layers[0].syn_decay = np.full(bad.layers[0].n_out, 0.5, np.float32)  # a "lif" layer has no synaptic state
    with pytest.raises(CheckpointError, match="syn_decay"):
        bad.validate()
    bad = cuba_network(recurrent=False)
    bad.layers[0].kind = "cuba_li"  # hidden layers must spike
    with pytest.raises(CheckpointError, match="only allowed as the last layer"):
        bad.validate()
