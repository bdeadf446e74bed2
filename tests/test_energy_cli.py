"""``spikerec energy`` on a run directory and on an exported network file."""

from __future__ import annotations

import json

import pytest
import torch

from spikerec.cli import main
from spikerec.config import load_recipe, save_recipe
from spikerec.datasets.synthetic import synthesize
from spikerec.hardware.ir.load import network_from_run
from spikerec.models import build_model
from spikerec.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("energy_cli")
    data = root / "data"
    synthesize("shd", data, n_train=8, n_test=6, n_classes=3, seed=0)
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[16]", "delays.max_delay_ms=50.0", "data.val_fraction=0.25"])
    torch.manual_seed(0)
    model = build_model(recipe, 140, 3).eval()  # 700 channels pooled by 5
    run = root / "run"
    run.mkdir()
    save_recipe(recipe, run / "recipe.toml")
    save_checkpoint(run / "best.pt", {"model": model.state_dict()})
    net = network_from_run(run).save(root / "net.h5")  # what 'spikerec export' writes, data settings in metadata
    return run, data, net


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_energy_cli_run_dir_and_network_file(run_and_data, capsys):
    run, data, net = run_and_data
    assert main(["energy", str(run), "--data", str(data), "--json", "--crossbar", "tile_rows=64", "--max-samples", "4"]) == 0
    out = _json(capsys)
    assert out["n_samples"] == 4 and out["synaptic_ops"] > 0 and 0 <= out["activation_sparsity"] <= 1
    assert set(out["hardware"]) == {"digital-45nm", "loihi", "crossbar-pcm", "ann-45nm"}
    for row in out["hardware"].values():
        assert row["synops_only_joules"] > 0 and row["memory_inclusive_joules"] >= row["synops_only_joules"]
    assert out["counts"]["crossbar"] == {"tile_rows": 64, "tile_cols": 256}
    assert (run / "energy_test" / "energy.png").exists() and (run / "energy_test" / "energy.md").exists()

    assert main(["energy", str(net), "--data", str(data), "--json", "--hardware", "loihi", "--max-samples", "4"]) == 0
    sim = _json(capsys)
    assert sim["n_samples"] == 4 and set(sim["hardware"]) == {"loihi", "ann-45nm"}
    assert (net.parent / "net_energy_test" / "energy.json").exists()
    # the first layer's synaptic ops depend only on the input events and the fan-out: model and IR agree
    first = {r: json.load(open(p))["counts"]["per_sample"]["hidden0"]["synaptic_ops"]
             for r, p in (("run", run / "energy_test" / "energy.json"), ("net", net.parent / "net_energy_test" /
                                                                          "energy.json"))}
    assert first["run"] == first["net"] > 0


def test_energy_cli_errors(run_and_data, tmp_path, capsys):
    run, data, _ = run_and_data
    assert main(["energy", str(tmp_path), "--data", str(data)]) == 2
    assert "recipe.toml" in capsys.readouterr().err
    assert main(["energy", str(run), "--data", str(data), "--hardware", "abacus"]) == 2
    assert "unknown energy model 'abacus'" in capsys.readouterr().err
    assert main(["energy", str(run), "--data", str(data), "--crossbar", "tile_rows=many"]) == 2
    assert "not an integer" in capsys.readouterr().err
