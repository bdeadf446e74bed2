"""Pruned networks all the way to hardware, through the CLI: an LNP-pruned HRSNN trained with prune-train, and a
synapse-pruned delay SNN (``spikerec prune --run``), each evaluated, exported, simulated and priced like any run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikerec.cli import main

pytestmark = pytest.mark.slow


def cli(capsys, *argv) -> dict:
    """Run ``spikerec argv --json``; the JSON object it prints last."""
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from spikerec.datasets import synthesize

    root = tmp_path_factory.mktemp("prune_data")
    synthesize("shd", root, n_train=40, n_test=16, n_classes=3, seed=0)
    return root


@pytest.fixture(scope="module")
def hrsnn_run(tmp_path_factory, data):
    """The issue's sequence at small size: prune --method lnp (fresh), then prune-train."""
    root = tmp_path_factory.mktemp("hrsnn")
    assert main(["prune", "--method", "lnp", "--neurons", "24", "--trials", "1", "--repeats", "3", "--noise-steps",
                 "400", "--dt-ms", "10", "--out", str(root / "P"), "--json"]) == 0
    assert main(["prune-train", "--model", str(root / "P"), "--data", str(data), "--out", str(root / "R"),
                 "--set", "train.epochs=2", "--set", "train.batch_size=16", "--set", "data.val_fraction=0.25",
                 "--json"]) == 0
    return root / "R"


@pytest.fixture(scope="module")
def delay_run(tmp_path_factory, data):
    run = tmp_path_factory.mktemp("delay") / "D"
    assert main(["train", "--recipe", "synthetic", "--data", str(data), "--out", str(run), "--epochs", "2",
                 "--set", "model.hidden_sizes=[16]", "--set", "train.batch_size=16", "--set", "data.val_fraction=0.25",
                 "--quiet", "--json"]) == 0
    return run


def hardware_path(capsys, run, data, tmp_path) -> dict:
    """eval, export (network and NIR), simulate (event, against the run), energy; asserts what must agree."""
    evaluated = cli(capsys, "eval", str(run), "--data", str(data))
    net = tmp_path / "net.h5"
    exported = cli(capsys, "export", str(run), "--format", "network", "-o", str(net))
    cli(capsys, "export", str(run), "--format", "nir", "-o", str(tmp_path / "net.nir"))
    simulated = cli(capsys, "simulate", str(net), "--data", str(data), "--backend", "event", "--run", str(run))
    assert simulated["agreement"] == 1.0 and simulated["prediction_agreement"] == 1.0
    assert simulated["accuracy"] == evaluated["accuracy"] and simulated["n_samples"] == evaluated["n"]
    from_nir = cli(capsys, "simulate", str(tmp_path / "net.nir"), "--data", str(data), "--run", str(run))
    assert from_nir["agreement"] == 1.0 and from_nir["accuracy"] == evaluated["accuracy"]
    energy = cli(capsys, "energy", str(run), "--data", str(data), "--out", str(tmp_path / "energy"))
    assert energy["synaptic_ops"] == pytest.approx(simulated["synaptic_ops"])  # torch counts = simulator's events
    ideal = cli(capsys, "simulate", str(net), "--data", str(data), "--backend", "crossbar", "--device-preset", "ideal")
    assert ideal["accuracy"] == simulated["accuracy"]
    return {"eval": evaluated, "export": exported, "simulate": simulated, "energy": energy}


def test_lnp_pruned_hrsnn_runs_through_eval_export_simulate_energy(capsys, hrsnn_run, data, tmp_path):
    from spikerec.models.hrsnn import HRSNN

    result = hardware_path(capsys, hrsnn_run, data, tmp_path)
    config = HRSNN.load_config(hrsnn_run)
    layers = result["export"]["network"]["layers"]
    assert layers[0]["n_out"] == config.n_neurons < 256 and layers[0]["recurrent"]  # the pruned size, not the recipe's
    assert main(["export", str(hrsnn_run), "--format", "lava", "-o", str(tmp_path / "x.h5")]) == 2
    assert "no recurrent dense layer" in capsys.readouterr().err


def test_synapse_pruned_delay_snn_holds_its_share_of_synapses(capsys, delay_run, data, tmp_path):
    dense_net = cli(capsys, "export", str(delay_run), "-o", str(tmp_path / "dense.h5"))["network"]
    out = tmp_path / "pruned"
    result = cli(capsys, "prune", "--run", str(delay_run), "--method", "magnitude", "--synapse-sparsity", "0.8",
                 "--data", str(data), "--finetune-epochs", "1", "--out", str(out))
    for key in ("synapse_sparsity", "val_accuracy", "test_accuracy", "dense_test_accuracy", "pruned_test_accuracy"):
        assert isinstance(result[key], float), key
    assert result["synapse_sparsity"] >= 0.8 and result["synapses_before"] == dense_net["n_synapses"]
    for name in ("recipe.toml", "best.pt", "last.pt", "summary.json", "pruning.json", "curves.png"):
        assert (out / name).is_file(), name
    path = hardware_path(capsys, out, data, tmp_path)
    assert path["export"]["network"]["n_synapses"] == result["synapses_after"] <= 0.2 * dense_net["n_synapses"]
    assert path["eval"]["accuracy"] == result["test_accuracy"]
    dense_energy = cli(capsys, "energy", str(delay_run), "--data", str(data), "--out", str(tmp_path / "dense_energy"))
    assert path["energy"]["synaptic_ops"] < dense_energy["synaptic_ops"]
    for name, hw in path["energy"]["hardware"].items():
        if name != "crossbar-pcm":  # a crossbar stores every position of its tiles, pruned or not
            assert hw["memory_inclusive_joules"] < dense_energy["hardware"][name]["memory_inclusive_joules"], name
    import h5py

    with h5py.File(tmp_path / "net.h5") as f:
        assert all(f[f"layers/{i}/weight"].attrs.get("encoding") == "csr" for i in range(len(f["layers"])))


def test_prune_run_without_finetuning_and_lnp_scores_on_a_recurrent_run(capsys, hrsnn_run, delay_run, data, tmp_path):
    untuned = cli(capsys, "prune", "--run", str(delay_run), "--method", "random", "--synapse-sparsity", "0.5",
                  "--data", str(data), "--finetune-epochs", "0", "--out", str(tmp_path / "r"))
    assert untuned["test_accuracy"] == untuned["pruned_test_accuracy"] and untuned["epochs"] == 0
    assert cli(capsys, "eval", str(tmp_path / "r"), "--data", str(data))["accuracy"] == untuned["test_accuracy"]
    scored = cli(capsys, "prune", "--run", str(hrsnn_run), "--method", "lnp-scores", "--synapse-sparsity", "0.5",
                 "--repeats", "2", "--noise-steps", "300", "--data", str(data), "--finetune-epochs", "1",
                 "--out", str(tmp_path / "s"))
    rows = {row["matrix"]: row for row in scored["matrices"]}
    assert rows["hidden0.recurrent"]["pruned"] and rows["hidden0.recurrent"]["sparsity"] >= 0.5
    assert not rows["hidden0.feedforward"]["pruned"] and rows["hidden0.feedforward"]["sparsity"] == 0.0
    net = tmp_path / "s.h5"
    cli(capsys, "export", str(tmp_path / "s"), "-o", str(net))
    simulated = cli(capsys, "simulate", str(net), "--data", str(data), "--run", str(tmp_path / "s"))
    assert simulated["agreement"] == 1.0 and simulated["accuracy"] == scored["test_accuracy"]


def test_prune_cli_forms_are_checked(capsys, delay_run, hrsnn_run, data, tmp_path):
    cases = [
        (["prune", "--run", str(delay_run), "--method", "lnp", "--synapse-sparsity", "0.5", "--data", str(data),
          "--out", str(tmp_path / "x")], "--run prunes the synapses"),
        (["prune", "--method", "lnp-scores", "--neurons", "20"], "give --run"),
        (["prune", "--run", str(delay_run), "--method", "magnitude", "--synapse-sparsity", "0.5"], "--data, --out"),
        (["prune", "--run", str(delay_run), "--method", "lnp-scores", "--synapse-sparsity", "0.5", "--data", str(data),
          "--out", str(tmp_path / "y")], "recurrent"),
        (["prune", "--run", str(delay_run), "--method", "magnitude", "--synapse-sparsity", "0.5", "--data", str(data),
          "--neuron-sparsity", "0.2", "--out", str(tmp_path / "z")], "--neuron-sparsity"),
        (["prune", "--neurons", "20", "--data", str(data)], "only apply with --run"),
        (["simulate", str(_export(capsys, hrsnn_run, tmp_path)), "--data", str(data), "--run", str(delay_run)],
         "exported from this run"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv


def _export(capsys, run, tmp_path):
    path = tmp_path / "other.h5"
    cli(capsys, "export", str(run), "-o", str(path))
    return path


def test_masks_survive_in_the_fine_tuned_checkpoint(delay_run, data, tmp_path):
    """Fine-tuning with the project trainer (several epochs, Adam with weight decay) keeps every pruned synapse
    at exactly zero: the selected and the last checkpoint hold the synapses pruning kept, no more."""
    from spikerec.pruning.prune_run import prune_run
    from spikerec.pruning.synapse_pruning import synapse_counts
    from spikerec.training.runs import load_run_model

    summary = prune_run(delay_run, "magnitude", 0.6, data, 3, tmp_path / "ft", progress=False)
    for checkpoint in ("best", "last"):
        model, _ = load_run_model(tmp_path / "ft", checkpoint)
        assert sum(synapse_counts(model).values()) == summary["synapses_after"], checkpoint
    record = json.loads((tmp_path / "ft" / "pruning.json").read_text())
    assert record["source_run"] == str(delay_run) and record["finetune_epochs"] == 3
    assert np.isclose(record["synapse_sparsity"], summary["synapse_sparsity"])
