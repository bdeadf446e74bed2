"""Lava-dl netx HDF5 export: file structure read back with h5py, quantization reported, limits enforced."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from hardware_models import ir_network
from spikerec.errors import ConfigError
from spikerec.hardware.ir.lava import MAX_DELAY, export_lava
from spikerec.hardware.ir.network import to_dense


def test_structure_and_values(tmp_path):
    net = ir_network(sizes=(12, 20, 6), delays=True, bias=True, last_kind="li", decay_input=True)
    summary = export_lava(net, tmp_path / "net.h5", weight_bits=8)
    with h5py.File(tmp_path / "net.h5") as f:
        assert f["layer/0/type"][()] == b"input"
        assert list(f["layer/0/shape"][()]) == [12]
        assert set(f["layer"].keys()) == {"0", "1", "2"}
        for i, layer in enumerate(net.layers, start=1):
            g = f[f"layer/{i}"]
            assert g["type"][()] == b"dense"
            assert (int(g["inFeatures"][()]), int(g["outFeatures"][()])) == (layer.n_in, layer.n_out)
            w = g["weight"][()]
            assert w.shape == (layer.n_out, layer.n_in) and np.issubdtype(w.dtype, np.integer)
            assert np.abs(w).max() <= 127
            np.testing.assert_array_equal(g["delay"][()], layer.dense_delay())
            plan = summary["quantization"][i - 1]
            # integer weights / 2^shift reproduce k * w within half a step
            k = 1.0 - float(layer.decay[0])
            np.testing.assert_allclose(w / 2.0 ** plan["weight_shift"], to_dense(layer.weight) * k,
                                       atol=0.5 / 2 ** plan["weight_shift"] + 1e-12)
            assert plan["max_weight_error"] <= 0.5 / 2 ** plan["weight_shift"] + 1e-12
            n = g["neuron"]
            assert n["type"][()] == b"CUBA" and int(n["iDecay"][()]) == 4096
            assert int(n["vDecay"][()]) == round(4096 * k)
        assert int(f["layer/1/neuron/vThMant"][()]) == round(2 ** summary["quantization"][0]["weight_shift"])
        assert int(f["layer/2/neuron/vThMant"][()]) == 1 << 17  # LI readout: never spikes
        assert int(f["simulation/Ts"][()]) == 1


def test_limits_are_clear_errors(tmp_path):
    net = ir_network(delays=True)
    net.layers[1].delay = np.full(net.layers[1].weight.shape, MAX_DELAY + 1, dtype=np.int32)
    with pytest.raises(ConfigError, match=r"layer 'hidden1' has delays up to 63 steps.*at most 62"):
        export_lava(net, tmp_path / "a.h5")
    assert not (tmp_path / "a.h5").exists()
    with pytest.raises(ConfigError, match="recurrent"):
        export_lava(ir_network(recurrent=True), tmp_path / "b.h5")
    net = ir_network()
    net.layers[0].threshold[3] = 2.0
    with pytest.raises(ConfigError, match="per-neuron threshold"):
        export_lava(net, tmp_path / "c.h5")
    net = ir_network()
    net.layers[0].reset = "soft"
    with pytest.raises(ConfigError, match="reset"):
        export_lava(net, tmp_path / "d.h5")
