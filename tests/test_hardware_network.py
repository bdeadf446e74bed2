"""Network IR: HDF5 round trip (dense and CSR), typed errors for damaged files, from_model export rules."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from hardware_models import ir_network, random_frames, trained_model
from spikerec.errors import CheckpointError, ConfigError
from spikerec.hardware import Network, network_from_model, torch_reference
from spikerec.hardware.ir.network import FORMAT_VERSION, to_dense


def _assert_same(a: Network, b: Network) -> None:
    assert (a.dt_ms, a.n_inputs, a.n_classes, a.readout, a.input_pooling, a.metadata) == \
        (b.dt_ms, b.n_inputs, b.n_classes, b.readout, b.input_pooling, b.metadata)
    for x, y in zip(a.layers, b.layers):
        assert (x.name, x.kind, x.reset, x.v_reset, x.decay_input) == (y.name, y.kind, y.reset, y.v_reset,
                                                                          y.decay_input)
        for field in ("weight", "delay", "recurrent_weight", "mask", "bias", "decay", "threshold"):
            u, v = getattr(x, field), getattr(y, field)
            assert (u is None) == (v is None), field
            if u is not None:
                assert sp.issparse(u) == sp.issparse(v), field
                np.testing.assert_array_equal(to_dense(u), to_dense(v), err_msg=field)
                assert to_dense(u).dtype == to_dense(v).dtype, field


@pytest.mark.parametrize("sparse", [False, True])
def test_save_load_round_trip(tmp_path, sparse):
    model, _ = trained_model(kind="lif_rsnn")
    net = network_from_model(model, sparse=sparse, metadata={"note": "x"})
    path = net.save(tmp_path / "net.h5")
    back = Network.load(path)
    _assert_same(net, back)
    assert back.format_version == FORMAT_VERSION and back.metadata["note"] == "x"
    assert back.drain_steps == net.drain_steps == model.latency_steps > 0
    assert sp.issparse(back.layers[0].weight) == sparse


def test_version_1_files_still_load_with_the_default_drain(tmp_path):
    net = ir_network(delays=True, last_kind="li")
    net.drain_steps = 3  # not the default: a version 1 file cannot say it
    path = net.save(tmp_path / "net.h5")
    with h5py.File(path, "r+") as f:  # what spikerec 0.1 wrote: no drain_steps, reset_value, version 1
        f.attrs["format_version"] = 1
        del f.attrs["drain_steps"]
        for g in f["layers"].values():
            g.attrs["reset_value"] = g.attrs.pop("v_reset")
    back = Network.load(path)
    assert back.format_version == 1
    assert back.drain_steps == sum(layer.max_delay for layer in back.layers) > 3
    _assert_same(net, back)


def test_initial_membrane_round_trips_and_defaults_to_the_reset_value(tmp_path):
    net = ir_network(last_kind="li")
    assert np.array_equal(net.layers[0].initial_membrane(), np.full(net.layers[0].n_out, net.layers[0].v_reset))
    assert not net.layers[-1].initial_membrane().any()
    net.layers[-1].v_init = np.linspace(-1, 1, net.layers[-1].n_out).astype(np.float32)
    back = Network.load(net.save(tmp_path / "net.h5"))
    np.testing.assert_array_equal(back.layers[-1].v_init, net.layers[-1].v_init)


def _damage(path, layer: int, field: str, fn) -> None:
    with h5py.File(path, "r+") as f:
        key = f"layers/{layer}/{field}"
        data = fn(f[key][()])
        del f[key]
        f.create_dataset(key, data=data)


@pytest.mark.parametrize("field,fn,message", [
    ("weight", lambda w: w[:, :-1], r"layer 1 \('readout'\): field 'weight' has shape"),
    ("weight", lambda w: np.where(np.arange(w.size).reshape(w.shape) == 3, np.nan, w).astype(np.float32),
     r"layer 1 \('readout'\): field 'weight' holds 1 NaN"),
    ("delay", lambda d: d - 10, r"layer 1 \('readout'\): field 'delay' holds negative delays"),
    ("decay", lambda d: d[:-1], r"layer 1 \('readout'\): field 'decay' must be a numpy array of shape"),
])
def test_damaged_files_raise_checkpoint_error_naming_layer_and_field(tmp_path, field, fn, message):
    net = ir_network(delays=True, last_kind="li")
    path = net.save(tmp_path / "net.h5")
    _damage(path, 1, field, fn)
    with pytest.raises(CheckpointError, match=message):
        Network.load(path)


def test_unknown_version_missing_and_foreign_files(tmp_path):
    path = ir_network().save(tmp_path / "net.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(CheckpointError, match="format_version 99 is not supported"):
        Network.load(path)
    with pytest.raises(CheckpointError, match="not found"):
        Network.load(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(CheckpointError, match="not a readable HDF5"):
        Network.load(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(CheckpointError, match="not a spikerec network file"):
        Network.load(tmp_path / "other.h5")


def test_damaged_csr_is_detected(tmp_path):
    net = ir_network(sizes=(12, 20, 6))
    net.layers[0].weight = sp.csr_array(np.where(np.arange(240).reshape(20, 12) % 3 == 0, net.layers[0].weight, 0))
    path = net.save(tmp_path / "net.h5")
    with h5py.File(path, "r+") as f:
        f["layers/0/weight/indices"][0] = 99
    with pytest.raises(CheckpointError, match="layer 0 .*field 'weight' is not a consistent CSR"):
        Network.load(path)


def test_validate_chain_and_mask_consistency():
    net = ir_network(sizes=(12, 20, 6))
    net.layers[1].weight = net.layers[1].weight[:, :5]
    with pytest.raises(CheckpointError, match=r"layer 1 \('hidden1'\): field 'weight' has shape \[6, 5\]"):
        net.validate()
    net = ir_network()
    net.layers[0].mask = np.zeros(net.layers[0].weight.shape, dtype=bool)
    with pytest.raises(CheckpointError, match="field 'mask' is not applied"):
        net.validate()


def test_from_model_folds_batchnorm_rounds_delays_and_drops_dropout():
    from spikerec.delays import integer_delay_mode

    model, _ = trained_model(kind="delay_snn")
    assert not torch.allclose(model.blocks[0].norm.running_mean, torch.zeros(1))
    net = network_from_model(model)
    layer = net.layers[0]
    assert layer.weight.dtype == np.float32 and layer.bias is not None  # BN shift became a bias
    np.testing.assert_array_equal(layer.dense_delay(), model.blocks[0].synapse.integer_delays()[:, :, 0].numpy())
    np.testing.assert_array_equal(layer.decay, model.blocks[0].neuron.decay.numpy())
    frames = random_frames(40, 4, 20)
    with integer_delay_mode(model), torch.no_grad():
        expected = model.double()(frames.double())
    np.testing.assert_allclose(torch_reference(net, frames)[-1].numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_from_model_applies_pruning_masks():
    from torch.nn.utils import prune

    model, _ = trained_model(kind="lif_rsnn", delays=False)
    prune.l1_unstructured(model.blocks[0].synapse, "weight", amount=0.5)
    net = network_from_model(model)
    layer = net.layers[0]
    assert layer.mask is not None and layer.mask.mean() == pytest.approx(0.5, abs=0.01)
    assert sp.issparse(layer.weight)  # "auto" stores a half-pruned matrix as CSR
    assert np.count_nonzero(to_dense(layer.weight)[~layer.mask]) == 0
    assert layer.n_synapses == int(layer.mask.sum()) + int(np.count_nonzero(to_dense(layer.recurrent_weight)))


def test_from_model_refuses_unmappable_models():
    from spikerec.delays import DelayedLinear

    with pytest.raises(ConfigError, match="expected a spikerec.models.SpikingNetwork"):
        network_from_model(torch.nn.Linear(3, 2))
    model, _ = trained_model(kind="delay_snn", steps=0)
    syn = DelayedLinear(20, 24, max_delay_ms=80, dt_ms=10, kernel_count=2)
    with torch.no_grad():
        syn.positions[:, :, 0] = -4
        syn.positions[:, :, 1] = 3
    model.blocks[0].synapse = syn
    with pytest.raises(ConfigError, match="taps round to different delays"):
        network_from_model(model)
