"""Crossbar SNN runner: ideal crossbars reproduce the event simulator spike for spike; noisy presets,
sweeps and plots; input validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from spikerec.errors import ConfigError, ShapeError
from spikerec.hardware.simulators.crossbar import CrossbarSimulator, parse_sweep, simulate_crossbar
from spikerec.hardware.simulators.crossbar.simulate import delay_lines
from spikerec.hardware.simulators.event import EventSimulator
from spikerec.hardware.ir.network import Layer, Network
from spikerec.io import to_jsonable


def _csr_like(w: np.ndarray, values: np.ndarray) -> tuple[sp.csr_array, sp.csr_array]:
    """(weight CSR, values on the weight's sparsity pattern) so zero delays keep their slot."""
    wc = sp.csr_array(w)
    rows = np.repeat(np.arange(w.shape[0]), np.diff(wc.indptr))
    return wc, sp.csr_array((values[rows, wc.indices], wc.indices.copy(), wc.indptr.copy()), shape=w.shape)


def make_network(seed=0, n_in=24, n_hidden=(40, 30), n_classes=4, max_delay=5, sparse=True, readout="softmax_sum"):
    """Two spiking layers (delays + recurrence, hard and soft reset, both decay_input modes) and an LI readout."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], n_in
    for i, n in enumerate(n_hidden):
        w = (rng.normal(0, 0.7, (n, fan_in)) * (rng.random((n, fan_in)) < 0.6)).astype(np.float32)
        d = np.where(w != 0, rng.integers(0, max_delay + 1, w.shape), 0).astype(np.int32)
        if sparse:
            w, d = _csr_like(w, d)
        rec = (rng.normal(0, 0.3, (n, n)) * (rng.random((n, n)) < 0.2)).astype(np.float32) if i == 0 else None
        layers.append(Layer(f"hidden{i}", "lif", w, d, rng.normal(0.02, 0.02, n).astype(np.float32),
                            rng.uniform(0.7, 0.95, n).astype(np.float32), rng.uniform(0.5, 1.0, n).astype(np.float32),
                            reset="soft" if i == 0 else "hard", v_reset=0.0 if i == 0 else -0.1,
                            decay_input=(i == 0), recurrent_weight=rec))
        fan_in = n
    layers.append(Layer("readout", "li", rng.normal(0, 0.4, (n_classes, fan_in)).astype(np.float32), None, None,
                        np.full(n_classes, 0.9, np.float32), np.ones(n_classes, np.float32)))
    return Network(layers, dt_ms=1.0, n_inputs=n_in, n_classes=n_classes, readout=readout).validate()


def make_frames(seed=1, T=40, B=12, n_in=24, p=0.2, counts=True):
    rng = np.random.default_rng(seed)
    x = (rng.random((T, B, n_in)) < p).astype(np.float32)
    if counts:
        x[:, :3] *= rng.integers(1, 4, (T, 3, n_in))  # some samples carry binned counts up to 3
    return x


@pytest.mark.parametrize("sparse,readout", [(True, "softmax_sum"), (False, "membrane_sum")])
def test_ideal_crossbar_reproduces_event_simulator_spikes(sparse, readout):
    net = make_network(sparse=sparse, readout=readout)
    x = make_frames()
    ev = EventSimulator(net).run(x)
    # small tiles so every matrix spans several tiles in both directions
    cb = CrossbarSimulator(net, "ideal", tile_rows=16, tile_cols=8).run(x)
    for a, b in zip(ev.spikes[:-1], cb.spikes[:-1]):
        assert a.sum() > 0 and np.array_equal(a, b)
    np.testing.assert_allclose(cb.membrane[-1], ev.membrane[-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cb.predictions, ev.predictions)
    # enough levels and ADC bits (instead of ideal periphery) keep it spike-exact on this input
    fine = CrossbarSimulator(net, "ideal", levels=2 ** 20, adc_bits=24, adc_range=64.0).run(x)
    assert all(np.array_equal(a, b) for a, b in zip(ev.spikes[:-1], fine.spikes[:-1]))


def test_delay_lines_rebuild_the_delayed_matrix():
    net = make_network()
    layer = net.layers[0]
    w_lines, src, delay = delay_lines(layer)
    assert len(set(zip(src.tolist(), delay.tolist()))) == src.size  # one line per (source, delay)
    dense = np.zeros((layer.n_out, layer.n_in, layer.max_delay + 1))
    np.add.at(dense, (slice(None), src, delay), w_lines)
    w, d = layer.weight.toarray(), layer.dense_delay()
    expected = np.zeros_like(dense)
    rows, cols = np.nonzero(w)
    expected[rows, cols, d[rows, cols]] = w[rows, cols]
    np.testing.assert_array_equal(dense, expected)


def test_noisy_presets_perturb_but_stay_close_and_are_seeded():
    net = make_network()
    x = make_frames(counts=False)
    ideal = CrossbarSimulator(net, "ideal").run(x)
    for preset in ("pcm", "rram"):
        a = CrossbarSimulator(net, preset, seed=0).run(x)
        b = CrossbarSimulator(net, preset, seed=0).run(x)
        c = CrossbarSimulator(net, preset, seed=1).run(x)
        np.testing.assert_array_equal(a.membrane[-1], b.membrane[-1])
        assert not np.array_equal(a.membrane[-1], c.membrane[-1])
        agree = np.mean(a.spikes[0] == ideal.spikes[0])
        assert 0.8 < agree < 1.0, (preset, agree)


def test_stuck_devices_degrade_accuracy():
    net = make_network()
    x = make_frames(B=32, counts=False)
    labels = CrossbarSimulator(net, "ideal").run(x).predictions
    ideal = simulate_crossbar(net, x, labels, preset="ideal")
    assert ideal["accuracy"] == ideal["ideal_accuracy"] == ideal["agreement_with_ideal"] == 1.0
    broken = simulate_crossbar(net, x, labels, preset="ideal", p_stuck_max=0.3)
    assert broken["accuracy"] < 0.8 and broken["agreement_with_ideal"] == broken["accuracy"]
    assert broken["layers"][0]["stuck_devices"] > 0


def test_sweep_reports_accuracies_and_writes_a_plot(tmp_path):
    net = make_network()
    x = make_frames(B=24, counts=False)
    labels = CrossbarSimulator(net, "ideal").run(x).predictions
    res = simulate_crossbar(net, x, labels, preset="pcm", sweep="adc_bits=2,4,none", out_dir=tmp_path, seed=0)
    assert res["sweep"]["param"] == "adc_bits" and res["sweep"]["values"] == [2, 4, None]
    accs = res["sweep"]["accuracy"]
    assert len(accs) == 3 and all(0.0 <= a <= 1.0 for a in accs) and accs[0] < accs[2]
    assert res["ideal_accuracy"] == 1.0 and 0.0 <= res["accuracy"] <= 1.0
    assert res["sweep"]["agreement_with_ideal"] == accs  # labels are the ideal predictions here
    assert len(res["sweep"]["adc_clipped_fraction"]) == 3
    assert res["plot"].endswith("crossbar_sweep_adc_bits.png")
    with open(res["plot"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    json.dumps(to_jsonable(res))  # the CLI prints it with --json
    # batches from an iterable (a DataLoader yielding (frames, labels, lengths)) give the same accuracy
    batches = [(x[:, :12], labels[:12], None), (x[:, 12:], labels[12:], None)]
    assert simulate_crossbar(net, batches, preset="pcm", seed=0)["accuracy"] == res["accuracy"]


def test_adc_clipping_is_counted():
    net = make_network()
    x = make_frames(counts=False)
    res = CrossbarSimulator(net, "ideal", adc_bits=8, adc_range=0.05).run(x)
    assert res.clipped[0] > 0 and res.clipped[0] <= res.conversions[0]
    assert CrossbarSimulator(net, "ideal").run(x).clipped == [0, 0, 0]


def test_bad_inputs_and_sweeps_raise_typed_errors():
    net = make_network()
    with pytest.raises(ShapeError, match="integer spike counts"):
        CrossbarSimulator(net, "ideal").run(np.full((5, 2, 24), 0.5))
    with pytest.raises(ShapeError, match="time-major"):
        CrossbarSimulator(net, "ideal").run(np.zeros((5, 2, 23)))
    with pytest.raises(ConfigError, match="param=v1"):
        parse_sweep("adc_bits")
    with pytest.raises(ConfigError, match="unknown crossbar parameter"):
        parse_sweep("bits=1,2")
    with pytest.raises(ConfigError, match="integers"):
        parse_sweep({"adc_bits": [4.5]})
    assert parse_sweep("t_inference_s=0,3600") == ("t_inference_s", [0.0, 3600.0])
    assert parse_sweep("drift_compensation=true,false") == ("drift_compensation", [True, False])
    with pytest.raises(ShapeError, match="labels"):
        simulate_crossbar(net, np.zeros((5, 2, 24)))
