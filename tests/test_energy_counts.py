"""Workload counts: hand-computed example, padding, pruning, delays, and exact agreement with the event simulator."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from spikerec.config import load_recipe
from spikerec.errors import ConfigError, ShapeError
from spikerec.hardware.energy.counts import CrossbarGeometry, count_workload, structure_from_model
from spikerec.hardware.simulators.event import EventSimulator
from spikerec.hardware.ir.from_model import network_from_model
from spikerec.hardware.ir.network import Layer, Network
from spikerec.models import build_model


def tiny_network(delay=None, sparse=False) -> Network:
    """3 inputs -> 2 recurrent LIF (no leak, threshold 0.5) -> 2 LI. Fan-outs: [2, 1, 1], recurrent [0, 1], [1, 2]."""
    w0 = np.array([[1, 0, 1], [1, 1, 0]], np.float32)
    rec = np.array([[0, 1], [0, 0]], np.float32)
    w1 = np.array([[1, 1], [0, 1]], np.float32)
    if sparse:
        w0 = sp.csr_array(w0)
        delay = None if delay is None else sp.csr_array((delay[w0.nonzero()].astype(np.int32), w0.indices, w0.indptr),
                                                        shape=w0.shape)
    lif = Layer("hidden0", "lif", w0, delay, None, np.zeros(2, np.float32), np.full(2, 0.5, np.float32),
                decay_input=False, recurrent_weight=rec)
    li = Layer("readout", "li", w1, None, None, np.full(2, 0.5, np.float32), np.zeros(2, np.float32), decay_input=False)
    return Network([lif, li], dt_ms=1.0, n_inputs=3, n_classes=2)


# t0: channel 0; t1: channels 1 (value 2 = one event) and 2; t2: nothing
FRAMES = np.array([[[1, 0, 0]], [[0, 2, 1]], [[0, 0, 0]]], np.float32)


def test_hand_computed_counts_and_simulator_agree():
    # dynamics without leak: spikes of hidden0 at t0 [1, 1], t1 [1, 1] (n0 also gets n1's recurrent input), t2 [1, 0]
    w = count_workload(tiny_network(), FRAMES)
    h, r = w.layers["hidden0"], w.layers["readout"]
    assert (h["input_spikes"], h["synaptic_ops"], h["recurrent_ops"], h["spikes_out"]) == (3, 4, 2, 5)
    assert (h["neuron_updates"], h["dense_macs"], h["ann_macs"]) == (6, 3 * (6 + 4), 3 * (4 + 1))
    assert (h["weight_reads"], h["state_reads"], h["ann_activation_reads"]) == (6, 6, 3 * (3 + 2))
    assert (r["input_spikes"], r["synaptic_ops"], r["spikes_out"], r["neuron_updates"]) == (5, 3 * 1 + 2 * 2, 0, 6)
    assert w.activation_sparsity == pytest.approx(1 - 5 / 6)
    assert w.connection_sparsity == pytest.approx(1 - (4 + 1 + 3) / (6 + 4 + 4))
    sim = EventSimulator(tiny_network()).run(FRAMES).counts
    assert w.simulator_counts() == sim


def test_padding_steps_are_not_counted():
    w = count_workload(tiny_network(), FRAMES, window=[2])
    h, r = w.layers["hidden0"], w.layers["readout"]
    assert (h["input_spikes"], h["synaptic_ops"], h["spikes_out"], h["recurrent_ops"], h["neuron_updates"]) == \
        (3, 4, 4, 2, 4)
    assert (r["synaptic_ops"], r["time_steps"]) == (2 * 1 + 2 * 2, 2)
    with pytest.raises(ShapeError, match="window"):
        count_workload(tiny_network(), FRAMES, window=[4])


def test_delays_move_events_but_do_not_change_feedforward_counts():
    delay = np.array([[0, 0, 2], [1, 0, 0]], np.int32)
    plain, delayed = count_workload(tiny_network(), FRAMES), count_workload(tiny_network(delay, sparse=True), FRAMES)
    for key in ("input_spikes", "synaptic_ops", "neuron_updates", "dense_macs", "ann_macs"):
        assert delayed.layers["hidden0"][key] == plain.layers["hidden0"][key]
    sim = EventSimulator(tiny_network(delay, sparse=True)).run(FRAMES).counts
    assert delayed.simulator_counts() == sim


def test_crossbar_counts_hand_computed():
    # tile_rows=2: inputs {0,1} and {2} are two row blocks; n_out=2 fits one column tile; recurrent 2x2 is one more tile
    w = count_workload(tiny_network(), FRAMES, crossbar=CrossbarGeometry(tile_rows=2, tile_cols=2))
    h = w.layers["hidden0"]
    assert h["tile_steps"] == 3 * 3
    assert h["crossbar_row_reads"] == 3 + 5  # input events + recurrent spikes, one column tile each
    assert h["adc_conversions"] == (3 + 3) * 2  # active (block, step) pairs: ff t0 b0, t1 b0, t1 b1; rec t0, t1, t2
    with pytest.raises(ConfigError, match="rows"):
        CrossbarGeometry(tile_rows=0, tile_cols=2)


def test_crossbar_tiles_match_the_crossbar_simulator_mapping():
    from spikerec.hardware.simulators.crossbar import get_config, map_matrix

    w = np.random.default_rng(0).normal(size=(70, 300)).astype(np.float32)
    cfg = get_config("ideal", tile_rows=64, tile_cols=32)
    assert CrossbarGeometry(64, 32).tiles(300, 70) == map_matrix(w, cfg).n_tiles == 5 * 3


def _model(kind: str, batchnorm: bool, pruned: bool = False) -> torch.nn.Module:
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[24,16]", f"model.kind={kind}", "model.delays=true",
                                       f"model.batchnorm={str(batchnorm).lower()}", "model.dropout=0.0",
                                       "delays.max_delay_ms=60.0"])
    torch.manual_seed(3)
    model = build_model(recipe, 12, 4).double().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() >= 2:
                p.mul_(3.0)  # livelier network: more spikes to count
        if pruned:
            w = model.blocks[0].synapse.weight
            w.mul_((torch.rand(w.shape[:2], generator=torch.Generator().manual_seed(1)) < 0.4).unsqueeze(-1))
    return model


@pytest.mark.parametrize("kind,batchnorm,pruned", [("lif_rsnn", False, True), ("delay_snn", True, False)])
def test_torch_model_counts_equal_event_simulator_counts_exactly(kind, batchnorm, pruned):
    model = _model(kind, batchnorm, pruned)
    network = network_from_model(model)
    frames = (torch.rand(25, 3, 12, generator=torch.Generator().manual_seed(2)) < 0.3).double() * 2
    torch_counts = count_workload(model, frames)
    sim = EventSimulator(network).run(frames).counts
    assert torch_counts.layers["hidden0"]["spikes_out"] > 0
    assert torch_counts.simulator_counts() == sim
    ir_counts = count_workload(network, frames)  # counted from the simulator's spikes with the IR's structure
    assert ir_counts.layers == torch_counts.layers
    if pruned:
        s = structure_from_model(model)[0]
        assert s.n_synapses == int(model.blocks[0].synapse.weight.ne(0).sum()) < s.n_in * s.n_out


def test_rejects_unsupported_inputs():
    with pytest.raises(ConfigError, match="SpikingNetwork"):
        count_workload(torch.nn.Linear(3, 2), FRAMES)
    with pytest.raises(ShapeError, match="time-major"):
        count_workload(tiny_network(), FRAMES[0])
    with pytest.raises(ShapeError, match="channels"):
        count_workload(_model("delay_snn", False), np.zeros((2, 1, 5), np.float32))


def test_hrsnn_counts_by_hand_and_neurobench_mapping():
    from spikerec.models import HRSNN, HRSNNConfig

    model = HRSNN(HRSNNConfig(n_inputs=6, n_neurons=20, n_outputs=3, p_connect=0.3, seed=0)).eval()
    frames = (torch.rand(15, 2, 6, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    w = count_workload(model, frames)
    with torch.no_grad():
        spikes, _ = model.run(frames)
    h, r = w.layers["hidden0"], w.layers["readout"]
    fan_in = model.input.weight.ne(0).sum(0).float()
    assert h["synaptic_ops"] == float(((frames != 0).float() * fan_in).sum())
    assert h["recurrent_ops"] == float((spikes * model.effective_weight().ne(0).sum(0).float()).sum()) > 0
    assert h["spikes_out"] == float(spikes.sum()) and h["neuron_updates"] == 15 * 2 * 20
    assert r["input_spikes"] == float(spikes.sum())  # the readout reads the hidden spikes, like any SpikingNetwork
    assert r["neuron_updates"] == 15 * 2 * 3  # one leaky-integrator membrane per class
    pytest.importorskip("neurobench")
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import SynapticOperations
    from neurobench.models import TorchModel
    from torch.utils.data import DataLoader, TensorDataset

    from spikerec.hardware.energy.neurobench import _TimeMajor

    data = DataLoader(TensorDataset(frames.transpose(0, 1), torch.zeros(2, dtype=torch.long)), batch_size=2)
    with torch.no_grad():
        ops = Benchmark(TorchModel(_TimeMajor(model)), data, [], [], [[], [SynapticOperations]]).run(quiet=True)
    ops = ops["SynapticOperations"]
    # NeuroBench sees the input and readout nn.Linear layers, not the masked recurrent weights
    assert ops["Effective_ACs"] + ops["Effective_MACs"] == w.per_sample()["total"]["synaptic_ops"]


def test_count_dataset_sums_batches_and_respects_max_samples():
    from spikerec.hardware.energy.counts import count_dataset

    frames = np.concatenate([FRAMES, FRAMES[:, :, ::-1]], axis=1)  # two samples
    batches = [(torch.as_tensor(frames[:, :1]), None, torch.tensor([3])),
               (torch.as_tensor(frames[:, 1:]), None, torch.tensor([2]))]
    merged = count_dataset(tiny_network(), batches)
    whole = count_workload(tiny_network(), frames, window=[3, 2])
    assert merged.n_samples == 2 and merged.layers == whole.layers
    assert count_dataset(tiny_network(), batches, max_samples=1).layers == count_workload(tiny_network(), FRAMES).layers
