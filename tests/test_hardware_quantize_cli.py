"""'spikerec quantize' end to end: a run directory -> quantised network file, report, float vs integer accuracy over
sample windows at any batch size; what a target cannot run exits 2 naming the limit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hardware_models import trained_model
from spikerec.cli import main
from spikerec.config import save_recipe
from spikerec.hardware.ir.network import Network
from spikerec.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("quant")
    data = root / "data"
    assert main(["data", "synth", "--kind", "shd", "--out", str(data), "--train", "10", "--test", "9",
                 "--classes", "4", "--json"]) == 0
    model, recipe = trained_model(kind="delay_snn", n_inputs=140, n_classes=4)  # delays up to 8 steps, BN biases
    run = root / "run"
    run.mkdir()
    save_recipe(recipe, run / "recipe.toml")
    save_checkpoint(run / "best.pt", {"model": model.state_dict()})
    return run, data


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("target", ["int8", "loihi2"])
def test_quantize_run_reports_accuracy_and_writes_the_integer_network(run_and_data, tmp_path, capsys, target):
    run, data = run_and_data
    out = tmp_path / "q.h5"
    args = ["quantize", str(run), "--target", target, "-o", str(out), "--data", str(data), "--json"]
    assert main(args + ["--batch-size", "4"]) == 0
    r = _json(capsys)
    for key in ("accuracy_float", "accuracy_quantized", "saturated", "rounded_delays", "rounded", "approximations"):
        assert key in r
    assert r["n_samples"] == 9 and r["calibration"]["split"] == "train"
    assert 0 < r["calibration"]["samples"] <= 10  # the training split less its validation fraction
    assert r["rounded_delays"]["synapses"] == 0 and r["rounded_delays"]["max_delay"] > 0
    assert set(r["saturated"]["simulation"]) == {"activation", "membrane", "input_counts", "spike_counts"}
    net = Network.load(out)
    assert net.profile.name == target and all(la.quant is not None for la in net.layers)
    # the float accuracy is the export's event-simulator accuracy; batch size changes nothing
    assert main(["export", str(run), "-o", str(tmp_path / "f.h5"), "--json"]) == 0
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "f.h5"), "--data", str(data), "--json"]) == 0
    assert _json(capsys)["accuracy"] == r["accuracy_float"]
    assert main(args + ["--batch-size", "9"]) == 0
    r9 = _json(capsys)
    assert (r9["accuracy_float"], r9["accuracy_quantized"]) == (r["accuracy_float"], r["accuracy_quantized"])
    assert np.isclose(r9["prediction_agreement"], r["prediction_agreement"])


def test_quantize_what_the_target_cannot_run_exits_2(run_and_data, tmp_path, capsys):
    run, data = run_and_data
    assert main(["quantize", str(run), "--target", "xylo", "-o", str(tmp_path / "x.h5")]) == 2
    assert "140 inputs exceed the target 'xylo' limit of 16" in capsys.readouterr().err
    assert main(["quantize", str(run), "--target", "nope", "-o", str(tmp_path / "x.h5")]) == 2
    assert "unknown target profile" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_energy_and_crossbar_read_the_quantised_network(run_and_data, tmp_path, capsys):
    """'spikerec energy' on a quantised file prices its target's widths (8-bit weights, 16-bit membranes for int8;
    the ANN baseline keeps its own); the crossbar programs the stored integers on exactly as many levels."""
    from spikerec.hardware.ir.network import to_dense
    from spikerec.hardware.simulators.crossbar import CrossbarSimulator

    run, data = run_and_data
    out = tmp_path / "q.h5"
    assert main(["quantize", str(run), "--target", "int8", "-o", str(out), "--json"]) == 0
    capsys.readouterr()
    assert main(["energy", str(out), "--data", str(data), "--out", str(tmp_path / "e"), "--json"]) == 0
    hardware = _json(capsys)["hardware"]
    for name, row in hardware.items():
        widths = (row["weight_bits"], row["state_bits"])
        assert widths == ((32, 32) if name == "ann-45nm" else (8, 16)), name
    net = Network.load(out)
    sim = CrossbarSimulator(net, "ideal")
    for m, layer in zip(sim.layers, net.layers):
        ints = to_dense(layer.quant.weight)
        assert m.ff.cfg.levels == int(np.abs(ints).max()) + 1
        if layer.delay is None:  # one word line per input: the programmed matrix is the integer matrix
            k = (m.ff.g_pos - m.ff.g_neg) / (m.ff.cfg.g_max_us - m.ff.cfg.g_min_us) * np.abs(ints).max()
            np.testing.assert_allclose(k, ints, atol=1e-9)
    assert CrossbarSimulator(net, "ideal", levels=3).layers[0].ff.cfg.levels == 3
