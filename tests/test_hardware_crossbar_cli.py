"""'spikerec simulate --backend crossbar' end to end: a trained delay SNN on synthetic data, ideal crossbar
accuracy equal to the event simulator's, a sweep with its plot, typed errors for bad presets/sweeps."""

from __future__ import annotations

import json

from hardware_models import trained_model
from spikerec.cli import main
from spikerec.config import save_recipe
from spikerec.training.checkpoint import save_checkpoint


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_simulate_crossbar_cli(tmp_path, capsys):
    data, run, net = tmp_path / "data", tmp_path / "run", tmp_path / "net.h5"
    assert main(["data", "synth", "--kind", "shd", "--out", str(data), "--train", "8", "--test", "12",
                 "--classes", "4", "--json"]) == 0
    model, recipe = trained_model(kind="delay_snn", n_inputs=140, n_classes=4)  # synthetic recipe: 700 ch / pool 5
    run.mkdir()
    save_recipe(recipe, run / "recipe.toml")
    save_checkpoint(run / "best.pt", {"model": model.state_dict()})
    assert main(["export", str(run), "-o", str(net), "--json"]) == 0
    capsys.readouterr()

    assert main(["simulate", str(net), "--data", str(data), "--backend", "event", "--json"]) == 0
    event = _json(capsys)
    assert main(["simulate", str(net), "--data", str(data), "--backend", "crossbar", "--device-preset", "ideal",
                 "--json"]) == 0
    ideal = _json(capsys)
    assert ideal["accuracy"] == event["accuracy"] and ideal["n_samples"] == 12

    assert main(["simulate", str(net), "--data", str(data), "--backend", "crossbar", "--device-preset", "pcm",
                 "--sweep", "adc_bits=3,8", "--out-dir", str(tmp_path / "plots"), "--json"]) == 0
    res = _json(capsys)
    assert res["sweep"]["param"] == "adc_bits" and len(res["sweep"]["accuracy"]) == 2
    assert res["ideal_accuracy"] == event["accuracy"]
    assert (tmp_path / "plots" / "crossbar_sweep_adc_bits.png").stat().st_size > 0
    assert "Nandakumar" in res["source"]

    assert main(["simulate", str(net), "--data", str(data), "--backend", "crossbar", "--device-preset", "flash"]) == 2
    assert "unknown crossbar device preset" in capsys.readouterr().err
    assert main(["simulate", str(net), "--data", str(data), "--backend", "crossbar", "--sweep", "bits=1"]) == 2
    assert "unknown crossbar parameter" in capsys.readouterr().err
