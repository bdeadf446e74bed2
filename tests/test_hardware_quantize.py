"""Fixed-point targets: profiles, the quantiser and its report, the quantised HDF5 file, and the integer event
simulation checked against an independent pure-Python integer reference of the multiply family's equations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hardware_models import ir_network, random_frames
from spikerec.errors import CheckpointError, ConfigError
from spikerec.hardware.ir.network import Network, to_dense
from spikerec.hardware.ir.profile import list_profiles, load_profile
from spikerec.hardware.ir.quantize import LayerRange, quantize_network
from spikerec.hardware.simulators.event import EventSimulator

LOIHI = load_profile("loihi2")


def _profile_file(tmp_path, base: str = "int8", **changes) -> str:
    """A user profile: the packaged ``base`` with ``changes`` ({"table.key": value}) applied, as a TOML file."""
    import tomllib
    from importlib import resources

    from spikerec.config import to_toml

    raw = tomllib.loads(resources.files("spikerec.hardware").joinpath("targets", f"{base}.toml").read_text())
    for key, value in changes.items():
        table, name = key.split(".")
        raw[table][name] = value
    path = tmp_path / "mine.toml"
    path.write_text(to_toml(raw))
    return str(path)


# -- an independent integer reference of the multiply family (plain Python ints, dense, step by step) ------------

def _fit(x: int, bits: int, wrap: bool) -> int:
    m = 1 << (bits - 1)
    if wrap:
        return x if -m < x <= m else (x + m - 1) % (2 * m) - (m - 1)
    return max(-(m - 1), min(m - 1, x))


def _shift(a: int, e: int) -> int:
    return a * 2 ** e if e >= 0 else a // 2 ** -e  # floor division = arithmetic right shift


def reference_multiply(net: Network, x: np.ndarray) -> tuple[list, list]:
    """Spike counts [T, n] (spiking layers) and integer membranes [T, n] ("li") of one sample ``x`` [T, n_in]."""
    p = net.profile
    T = x.shape[0]
    inp = [[int(c) for c in row] for row in x]
    spikes, membranes = [], []
    for layer in net.layers:
        q = layer.quant
        w = to_dense(q.weight).astype(int).tolist()
        d = (layer.dense_delay() if layer.delay is not None else np.zeros_like(to_dense(q.weight), int)).tolist()
        r = None if q.recurrent_weight is None else to_dense(q.recurrent_weight).astype(int).tolist()
        n, n_in = layer.n_out, len(w[0])
        v = [0] * n
        prev = [0] * n
        out, mem = [], []
        for t in range(T):
            now = [0] * n
            for o in range(n):
                ff = sum(w[o][j] * inp[t - d[o][j]][j] for j in range(n_in) if t - d[o][j] >= 0)
                a = _shift(ff, q.weight_exp)
                if r is not None:
                    a += _shift(sum(r[o][j] * prev[j] for j in range(n)), q.recurrent_exp)
                u = _fit(a * 2 ** p.activation_shift, p.activation_bits, p.activation_overflow == "wrap")
                prod = v[o] * ((1 << p.decay_bits) - int(q.decay[o]))
                decayed = prod >> p.decay_bits if prod >= 0 else -((-prod) >> p.decay_bits)
                bias = 0 if q.bias is None else int(q.bias[o])
                h = _fit(decayed + u + bias, p.membrane_bits, p.membrane_overflow == "wrap")
                if layer.kind == "lif" and h >= int(q.threshold[o]):
                    now[o] = 1
                    h = 0 if layer.reset == "hard" else h - int(q.threshold[o])
                v[o] = h
            out.append(now)
            mem.append(list(v))
            prev = now
        spikes.append(out if layer.kind == "lif" else None)
        membranes.append(None if layer.kind == "lif" else mem)
        inp = out
    return spikes, membranes


def _check_against_reference(q: Network, x: np.ndarray) -> int:
    """Run ``q`` on frames ``x`` [T, B, n_in] and compare every sample with the reference; returns the spike total."""
    res = EventSimulator(q).run(x)
    total = 0
    for b in range(x.shape[1]):
        spikes, membranes = reference_multiply(q, x[:, b])
        for i, layer in enumerate(q.layers):
            if layer.kind == "lif":
                np.testing.assert_array_equal(res.spikes[i][:, b], np.asarray(spikes[i]), err_msg=f"layer {i}")
                total += int(res.spikes[i][:, b].sum())
            else:
                np.testing.assert_array_equal(res.integer_membrane[i][:, b], np.asarray(membranes[i]))
    return total


# -- profiles ------------------------------------------------------------------------------------------------------

def test_packaged_profiles_load_and_cite_sources():
    assert {"loihi2", "xylo", "int8"} <= set(list_profiles())
    for name in ("loihi2", "xylo", "int8"):
        p = load_profile(name)
        assert p.name == name and p.sources and all(isinstance(s, str) and s for s in p.sources)
    assert LOIHI.max_delay == 62 and LOIHI.decay_bits == 12 and LOIHI.membrane_bits == 24
    xylo = load_profile("xylo")
    assert xylo.family == "shift" and xylo.weight_bits == 8 and xylo.max_delay == 0 and xylo.limit("inputs") == 16


def test_profile_file_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown target profile"):
        load_profile("loihi3")
    with pytest.raises(ConfigError, match="unknown key.*membrane.width"):
        load_profile(_profile_file(tmp_path, **{"membrane.width": 3}))
    with pytest.raises(ConfigError, match="membrane.overflow"):
        load_profile(_profile_file(tmp_path, **{"membrane.overflow": "clip"}))
    with pytest.raises(ConfigError, match="weights.bits"):
        load_profile(_profile_file(tmp_path, **{"weights.bits": 40}))


# -- the quantiser -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["int8", "loihi2"])
def test_integer_simulation_matches_independent_reference(target):
    net = ir_network((10, 14, 5), decay_input=True, recurrent=True, delays=True, bias=True, last_kind="li")
    q = quantize_network(net, load_profile(target)).network
    x = random_frames(25, 3, 10, p=0.3).numpy()
    x[3, 0, :4] = 3  # graded input counts
    assert _check_against_reference(q, x) > 20  # the network spikes: the comparison is not vacuous


def test_user_profile_with_narrow_wrapping_registers_overflows_exactly_like_the_reference(tmp_path):
    """A user's profile file (6-bit weights, 9-bit wrapping activation, 10-bit wrapping membrane): overflows happen,
    are counted, and still match the reference bit for bit."""
    path = _profile_file(tmp_path, **{"weights.bits": 6, "activation.bits": 9, "activation.overflow": "wrap",
                                      "membrane.bits": 10, "membrane.overflow": "wrap", "threshold.bits": 10})
    p = load_profile(path)
    net = ir_network((10, 14, 5), decay_input=False, recurrent=True, delays=True, last_kind="li", gain=4.0)
    # calibration peaks far below the real ones: the scale puts the weights at the mantissa limit, so sums of many
    # spikes overflow the 9-bit activation
    q = quantize_network(net, p, [LayerRange(0.01, 0.01)] * 2).network
    x = (random_frames(25, 2, 10, p=0.9).numpy() * 3)
    res = EventSimulator(q).run(x)
    assert res.overflow["total"]["activation"] + res.overflow["total"]["membrane"] > 0
    _check_against_reference(q, x)


def test_report_and_file_roundtrip(tmp_path):
    net = ir_network((10, 14, 5), decay_input=True, recurrent=True, delays=True, bias=True, last_kind="li")
    result = quantize_network(net, LOIHI)
    rep = result.report
    assert rep["profile"] == "loihi2" and set(rep["saturated"]) == {"weights", "thresholds", "biases"}
    assert rep["rounded"]["synapses"] == int(sum(np.count_nonzero(to_dense(la.weight)) for la in net.layers)) + \
        int(np.count_nonzero(to_dense(net.layers[0].recurrent_weight)))
    for layer, lr in zip(result.network.layers, rep["layers"]):
        w = to_dense(layer.quant.weight)
        lo, hi = LOIHI.weight_range
        assert w.min() >= lo and w.max() <= hi and not np.any(w % LOIHI.weight_lsb)  # Lava's even mantissas
        assert LOIHI.weight_exponent[0] <= lr["weight_exp"] <= LOIHI.weight_exponent[1]
    path = result.network.save(tmp_path / "q.h5")
    back = Network.load(path)
    assert back.profile == result.network.profile
    for a, b in zip(result.network.layers, back.layers):
        np.testing.assert_array_equal(to_dense(a.quant.weight), to_dense(b.quant.weight))
        np.testing.assert_array_equal(a.quant.threshold, b.quant.threshold)
        assert (a.quant.weight_exp, a.quant.scale) == (b.quant.weight_exp, b.quant.scale)
    x = random_frames(20, 4, 10).numpy()
    np.testing.assert_array_equal(EventSimulator(back).run(x).spikes[0], EventSimulator(result.network).run(x).spikes[0])


def test_tampered_file_is_rejected(tmp_path):
    import h5py

    path = quantize_network(ir_network((10, 14, 5)), load_profile("int8")).network.save(tmp_path / "q.h5")
    with h5py.File(path, "r+") as f:
        w = f["layers/0/quant/weight"]
        w[0, 0] = 1000  # outside int8
    with pytest.raises(CheckpointError, match="layer 0.*outside the target's weights"):
        Network.load(path)
    with h5py.File(path, "r+") as f:
        profile = json.loads(f.attrs["profile"])
        del profile["membrane_bits"]
        f.attrs["profile"] = json.dumps(profile)
    with pytest.raises(CheckpointError, match="profile.*missing.*membrane_bits"):
        Network.load(path)


def test_delay_limit_is_an_error_or_a_reported_clip():
    net = ir_network((10, 14, 5), delays=True)  # delays up to 4 steps
    for layer in net.layers:
        layer.delay = layer.delay * 20  # up to 80 steps, above Loihi 2's 62
    with pytest.raises(ConfigError, match="delays up to 80 steps.*at most 62"):
        quantize_network(net, LOIHI)
    res = quantize_network(net, LOIHI, delays="clip")
    rd = res.report["rounded_delays"]
    expected = sum(int(((layer.dense_delay() > 62) & (to_dense(layer.weight) != 0)).sum()) for layer in net.layers)
    assert rd["policy"] == "clip" and rd["limit"] == 62 and rd["synapses"] == expected > 0
    assert res.network.max_delay == 62


def test_what_a_target_cannot_run_is_a_config_error_naming_the_limit():
    xylo = load_profile("xylo")
    with pytest.raises(ConfigError, match="20 inputs exceed the target 'xylo' limit of 16"):
        quantize_network(ir_network((20, 14, 5)), xylo)
    with pytest.raises(ConfigError, match="delays"):
        quantize_network(ir_network((10, 14, 5), delays=True), xylo)
    with pytest.raises(ConfigError, match="no neuron bias"):
        quantize_network(ir_network((10, 14, 5), bias=True), xylo)
    with pytest.raises(ConfigError, match="fan-out 75.*limit of 64"):
        quantize_network(ir_network((10, 70, 5), recurrent=True), xylo)


def test_quantised_network_tracks_the_float_one():
    """With 8-bit weights and a 16-bit membrane, the int8 network predicts what the float one does on most samples
    (an accuracy-level check; bit exactness is the reference test's job)."""
    net = ir_network((10, 30, 5), decay_input=True, last_kind="li")
    q = quantize_network(net, load_profile("int8")).network
    x = random_frames(30, 32, 10, seed=3).numpy()
    a, b = EventSimulator(net).run(x), EventSimulator(q).run(x)
    assert (a.predictions == b.predictions).mean() >= 0.8
    assert np.abs(a.spikes[0].astype(int) - b.spikes[0].astype(int)).sum() < 0.1 * a.spikes[0].sum()


@pytest.mark.parametrize("target", ["int8", "xylo"])
def test_windows_batch_size_and_streaming_give_the_same_result(target):
    net = ir_network((10, 14, 5), recurrent=True, last_kind="li")
    q = quantize_network(net, load_profile(target)).network
    x = (random_frames(20, 4, 10, p=0.4).numpy() * 2)
    window = np.array([20, 7, 13, 1])
    sim = EventSimulator(q)
    batch = sim.run(x, window)
    for b in range(4):
        alone = sim.run(x[:window[b], b:b + 1])
        np.testing.assert_array_equal(batch.spikes[0][:window[b], b], alone.spikes[0][:, 0])
        np.testing.assert_array_equal(batch.integer_membrane[-1][:window[b], b], alone.integer_membrane[-1][:, 0])
        assert batch.predictions[b] == alone.predictions[0]
        assert not batch.spikes[0][window[b]:, b].any()
    state = sim.initial_state(1)
    for t in range(20):
        out, state = sim.step(x[t, 0], state)
        np.testing.assert_array_equal(np.bincount(out["spikes"][0][0], minlength=14), batch.spikes[0][t, 0])
    np.testing.assert_allclose(out["output"][0], batch.membrane[-1][19, 0], rtol=1e-6)


def test_non_integer_frames_are_a_shape_error():
    from spikerec.errors import ShapeError

    q = quantize_network(ir_network((10, 14, 5)), load_profile("int8")).network
    with pytest.raises(ShapeError, match="non-negative integers"):
        EventSimulator(q).run(np.full((5, 1, 10), 0.5))
