"""`spikerec prune`: JSON keys, saved outputs, determinism, typed errors."""

from __future__ import annotations

import json

import pytest

from spikerec.cli import main
from spikerec.models.hrsnn import HRSNN

FAST = ["--neurons", "30", "--trials", "2"]


def run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured


def test_lnp_json_and_outputs(tmp_path, capsys):
    code, out = run(capsys, ["prune", "--method", "lnp", *FAST, "--seed", "3", "--out", str(tmp_path / "p"), "--json"])
    assert code == 0
    result = json.loads(out.out.strip().splitlines()[-1])
    for key in ("neuron_sparsity", "synapse_sparsity", "lyapunov_max_before", "lyapunov_max_after"):
        assert isinstance(result[key], float)
    assert 0.4 <= result["neuron_sparsity"] < 1 and 0 < result["synapse_sparsity"] < 1
    for name in ("hrsnn.pt", "hrsnn.json", "report.json", "lyapunov_spectrum.png", "stages.png"):
        assert (tmp_path / "p" / name).stat().st_size > 0
    model = HRSNN.load(tmp_path / "p")
    assert model.n_neurons == result["neurons_after"]
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["lyapunov_max_after"] == pytest.approx(result["lyapunov_max_after"])


@pytest.mark.parametrize("method", ["activity", "magnitude"])
def test_baselines_on_saved_model(tmp_path, capsys, method):
    HRSNN(n_neurons=30, seed=0).save(tmp_path / "dense")
    code, out = run(capsys, ["prune", "--method", method, "--model", str(tmp_path / "dense"),
                             "--neuron-sparsity", "0.4", "--synapse-sparsity", "0.7", "--json"])
    assert code == 0
    result = json.loads(out.out.strip().splitlines()[-1])
    assert result["neurons_after"] == 18 and result["synapse_sparsity"] == pytest.approx(0.7, abs=0.02)


def test_missing_model_is_a_typed_error(tmp_path, capsys):
    code, out = run(capsys, ["prune", "--model", str(tmp_path / "nope"), "--json"])
    assert code == 2 and "hrsnn.json" in out.err


def test_prune_then_train_with_trainer(tmp_path, capsys):
    from spikerec.datasets import synthesize

    synthesize("shd", tmp_path / "data", n_train=24, n_test=8, n_classes=2, seed=0)
    code, _ = run(capsys, ["prune", "--method", "lnp", "--neurons", "20", "--trials", "1", "--dt-ms", "10", "--out", str(tmp_path / "p"), "--json"])
    assert code == 0
    code, out = run(capsys, ["prune-train", "--model", str(tmp_path / "p"), "--data", str(tmp_path / "data"),
                             "--out", str(tmp_path / "run"), "--set", "train.epochs=1", "--set", "train.batch_size=8",
                             "--set", "data.pool=35", "--json"])
    assert code == 0, out.err
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert summary["neurons"] == HRSNN.load(tmp_path / "p").n_neurons
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    code, out = run(capsys, ["prune-train", "--model", str(tmp_path / "p"), "--data", str(tmp_path / "data"),
                             "--out", str(tmp_path / "run2"), "--set", "data.bin_ms=5", "--json"])
    assert code == 2 and "dt_ms" in out.err
