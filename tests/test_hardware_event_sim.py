"""Event-driven simulator: spike-exact against the trained model (delays + recurrence), streaming == batched,
counts match an independent tally, dense == CSR storage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardware_models import ir_network, random_frames, trained_model
from spikerec.delays import integer_delay_mode
from spikerec.hardware import EventSimulator, network_from_model, torch_reference
from spikerec.hardware.ir.dynamics import predict_from_membrane
from spikerec.hardware.ir.network import to_dense
from spikerec.training.losses import predict


@torch.no_grad()
def _model_spikes(model, frames):
    """Hidden spike trains and readout membrane of the trained model, float64, integer delays."""
    model = model.double()
    with integer_delay_mode(model):
        h, spikes = frames.double(), []
        for block in model.blocks:
            h = block(h)
            spikes.append(h.numpy().astype(np.uint8))
        return spikes, model.readout(h)


@pytest.mark.parametrize("kind,decay_input", [("lif_rsnn", False), ("delay_snn", True)])
def test_spike_exact_with_trained_model(kind, decay_input):
    model, _ = trained_model(kind=kind, delays=True, decay_input=decay_input)
    net = network_from_model(model)
    assert net.max_delay > 0
    assert (kind == "lif_rsnn") == all(la.recurrent_weight is not None for la in net.layers[:-1])
    frames = random_frames(60, 16, 20, seed=7)
    res = EventSimulator(net).run(frames)
    ref_spikes, ref_out = _model_spikes(model, frames)
    for ours, theirs in zip(res.spikes[:-1], ref_spikes):
        assert 0.01 < theirs.mean() < 0.6  # the test is only meaningful if neurons spike
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(res.predictions, predict(ref_out).numpy())
    np.testing.assert_allclose(res.membrane[-1], ref_out.numpy(), rtol=1e-5, atol=1e-5)
    # the float64 torch evaluation of the IR agrees bit for bit in spikes (same parameters, other sum order)
    ref = torch_reference(net, frames)
    for ours, theirs in zip(res.spikes[:-1], ref[:-1]):
        np.testing.assert_array_equal(ours, theirs.numpy())


def test_float32_model_agreement_is_reported_not_assumed():
    """Against the float32 trained model spike trains may differ where a membrane sits within float32
    rounding of threshold; the predictions must still agree on this seeded case."""
    model, _ = trained_model(kind="lif_rsnn")
    frames = random_frames(60, 16, 20, seed=7)
    res = EventSimulator(network_from_model(model)).run(frames)
    with integer_delay_mode(model), torch.no_grad():
        out = model(frames)
    np.testing.assert_array_equal(res.predictions, predict(out).numpy())


def test_streaming_matches_batched_and_counts():
    net = ir_network(recurrent=True, delays=True, bias=True, last_kind="li")
    sim = EventSimulator(net)
    frames = random_frames(30, 3, 12, seed=3).numpy()
    batch = sim.run(frames)
    for b in range(3):
        state = sim.initial_state(1)
        for t in range(30):
            out, state = sim.step(frames[t, b], state)
            for li, spk in enumerate(batch.spikes[:-1]):
                np.testing.assert_array_equal(np.sort(out["spikes"][li][0]), np.flatnonzero(spk[t, b]))
            np.testing.assert_allclose(out["output"][0], batch.membrane[-1][t, b], rtol=1e-6)
        np.testing.assert_array_equal(state.counts[:, 0], batch.counts_per_sample[:, b])
    # independent tally: events x fan-out (non-zero weights per presynaptic column) + recurrent
    inputs = [frames] + [s for s in batch.spikes[:-1]]
    for layer, x, spk, name in zip(net.layers, inputs, batch.spikes, sim.names):
        fan = (to_dense(layer.weight) != 0).sum(axis=0)
        syn = float(((x != 0) * fan).sum())
        out_spikes = 0.0
        if spk is not None:
            out_spikes = float(spk.sum())
            if layer.recurrent_weight is not None:
                syn += float((spk * (to_dense(layer.recurrent_weight) != 0).sum(axis=0)).sum())
        c = batch.counts[name]
        assert c["synaptic_events_total"] == syn
        assert c["input_spikes_total"] == int((x != 0).sum())
        assert c["neuron_updates_total"] == 30 * 3 * layer.n_out
        assert c["spikes_out_total"] == out_spikes
        assert c["synaptic_events"] == pytest.approx(syn / 3)
    assert batch.counts["total"]["synaptic_events_total"] == sum(
        batch.counts[n]["synaptic_events_total"] for n in sim.names)


def test_sparse_storage_and_pruned_synapses_give_same_result():
    import scipy.sparse as sp

    net = ir_network(delays=True, recurrent=True, last_kind="li")
    layer = net.layers[0]
    w = layer.weight.copy()
    w[:, ::3] = 0  # prune a third of the synapses
    layer.weight, layer.mask = w, w != 0
    layer.delay = np.where(w != 0, layer.delay, 0).astype(np.int32)
    dense = EventSimulator(net).run(random_frames(25, 4, 12).numpy())
    csr_w = sp.csr_array(w)
    layer.delay = sp.csr_array((layer.delay[w != 0], csr_w.indices, csr_w.indptr), shape=w.shape)
    layer.weight = csr_w
    sparse = EventSimulator(net.validate()).run(random_frames(25, 4, 12).numpy())
    for a, b in zip(dense.spikes[:-1], sparse.spikes[:-1]):
        np.testing.assert_array_equal(a, b)
    assert dense.counts == sparse.counts
    assert net.layers[0].n_synapses == int((w != 0).sum()) + int((to_dense(net.layers[0].recurrent_weight) != 0).sum())


def test_graded_input_counts_scale_weights_and_predictions():
    net = ir_network(last_kind="li")
    frames = random_frames(20, 2, 12).numpy() * 2.0  # two input spikes per bin
    res = EventSimulator(net).run(frames)
    ref = torch_reference(net, frames)
    np.testing.assert_array_equal(res.spikes[0], ref[0].numpy())
    np.testing.assert_array_equal(res.predictions, predict_from_membrane(ref[-1].numpy()))


def test_bad_frames_raise_shape_error():
    from spikerec.errors import ShapeError

    sim = EventSimulator(ir_network())
    with pytest.raises(ShapeError, match="frames must be"):
        sim.run(np.zeros((5, 2, 11)))
    with pytest.raises(ShapeError, match="frame must be"):
        sim.step(np.zeros(11), sim.initial_state(1))


def test_steps_after_a_window_are_neither_simulated_nor_counted():
    net = ir_network(recurrent=True, last_kind="li")
    sim = EventSimulator(net)
    frames = random_frames(30, 2, 12, seed=4).numpy()
    frames[20:, 1] = 7.0  # garbage in the padding of sample 1: must change nothing
    full = sim.run(frames)
    padded = sim.run(frames, window=np.array([30, 20]))
    short = sim.run(frames[:20, 1:])
    for a, b, c in zip(full.spikes[:-1], padded.spikes[:-1], short.spikes[:-1]):
        np.testing.assert_array_equal(a[:, 0], b[:, 0])
        np.testing.assert_array_equal(b[:20, 1], c[:, 0])
        assert not b[20:, 1].any()  # not simulated
    np.testing.assert_array_equal(padded.counts_per_sample[:, 1], short.counts_per_sample[:, 0])
    np.testing.assert_array_equal(padded.counts_per_sample[:, 0], full.counts_per_sample[:, 0])
    assert padded.predictions[1] == short.predictions[0]
