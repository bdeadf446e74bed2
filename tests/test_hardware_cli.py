"""'spikerec export' and 'spikerec simulate --backend event' end to end on synthetic data."""

from __future__ import annotations

import json

import pytest

from hardware_models import trained_model
from spikerec.cli import main
from spikerec.config import save_recipe
from spikerec.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("hw")
    data = root / "data"
    assert main(["data", "synth", "--kind", "shd", "--out", str(data), "--train", "8", "--test", "12",
                 "--classes", "4", "--json"]) == 0
    runs = {}
    for kind in ("lif_rsnn", "delay_snn"):
        model, recipe = trained_model(kind=kind, n_inputs=140, n_classes=4)  # synthetic recipe: 700 ch / pool 5
        runs[kind] = root / kind
        runs[kind].mkdir()
        save_recipe(recipe, runs[kind] / "recipe.toml")
        save_checkpoint(runs[kind] / "best.pt", {"model": model.state_dict()})
    return runs, data


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt,suffix", [("network", "h5"), ("nir", "nir"), ("lava", "h5")])
def test_export_formats(run_and_data, tmp_path, capsys, fmt, suffix):
    run = run_and_data[0]["delay_snn"]
    out = tmp_path / f"net.{suffix}"
    assert main(["export", str(run), "--format", fmt, "-o", str(out), "--json"]) == 0
    result = _json(capsys)
    assert out.exists() and result["format"] == fmt
    assert result["network"]["n_inputs"] == 140 and result["network"]["max_delay_steps"] > 0


def test_lava_export_of_recurrent_run_is_a_clear_error(run_and_data, tmp_path, capsys):
    run = run_and_data[0]["lif_rsnn"]
    assert main(["export", str(run), "--format", "lava", "-o", str(tmp_path / "x.h5")]) == 2
    assert "no recurrent dense layer" in capsys.readouterr().err


def test_simulate_event_reports_accuracy_agreement_and_ops(run_and_data, tmp_path, capsys):
    runs, data = run_and_data
    run = runs["lif_rsnn"]
    net = tmp_path / "net.h5"
    assert main(["export", str(run), "-o", str(net), "--json"]) == 0
    capsys.readouterr()
    assert main(["simulate", str(net), "--data", str(data), "--backend", "event", "--json"]) == 0
    result = _json(capsys)
    assert result["n_samples"] == 12
    assert result["agreement"] == 1.0 and result["prediction_agreement"] == 1.0
    assert main(["eval", str(run), "--data", str(data), "--batch-size", "5", "--json"]) == 0
    assert result["accuracy"] == _json(capsys)["accuracy"]  # torch model and event simulator, other batching
    assert result["synaptic_ops"] > 0
    assert result["synaptic_ops"] == pytest.approx(result["counts"]["total"]["synaptic_events"])
    # against the trained model of the run directory (float64, integer delays)
    assert main(["simulate", str(net), "--data", str(data), "--run", str(run), "--limit", "6", "--json"]) == 0
    result = _json(capsys)
    assert result["n_samples"] == 6 and result["agreement"] == 1.0 and "trained model" in result["reference"]


def test_typed_errors_exit_2(run_and_data, tmp_path, capsys):
    data = run_and_data[1]
    (tmp_path / "bad.h5").write_bytes(b"junk")
    assert main(["simulate", str(tmp_path / "bad.h5"), "--data", str(data)]) == 2
    assert "not a readable HDF5" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "x.h5")]) == 2
    assert "no recipe.toml" in capsys.readouterr().err
