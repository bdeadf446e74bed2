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
