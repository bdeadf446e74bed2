"""`spikerec prune` / `prune-train`: JSON keys, saved outputs, baselines matched to LNP, typed errors."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from spikerec.cli import main
from spikerec.models.hrsnn import HRSNN

FAST = ["--neurons", "30", "--trials", "2", "--repeats", "3", "--noise-steps", "400"]


def run(capsys, argv):
    code = main(argv)
    return code, capsys.readouterr()


@pytest.fixture(scope="module")
def lnp_run(tmp_path_factory):
    """(output directory, the JSON printed) of one LNP run."""
    out = tmp_path_factory.mktemp("lnp") / "p"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["prune", "--method", "lnp", *FAST, "--seed", "3", "--out", str(out), "--json"]) == 0
    return out, json.loads(printed.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def lnp_dir(lnp_run):
    return lnp_run[0]


def test_lnp_json_and_outputs(lnp_run):
    lnp_dir, result = lnp_run
    for key in ("neuron_sparsity", "synapse_sparsity", "lyapunov_max_before", "lyapunov_max_after", "equivalence_margin"):
        assert isinstance(result[key], float)
    lo, hi = result["lyapunov_ci_after"]
    assert lo <= result["lyapunov_max_after"] <= hi and result["lyapunov_method"] == "surrogate"
    assert [s["stage"] for s in result["stages"]][0] == "noise_synapse_pruning"
    assert result["stages"][-1]["synapses"] == result["synapses_after"]
    for name in ("hrsnn.pt", "hrsnn.json", "report.json", "lyapunov_spectrum.png", "stages.png"):
        assert (lnp_dir / name).stat().st_size > 0
    model = HRSNN.load(lnp_dir)
    report = json.loads((lnp_dir / "report.json").read_text())
    assert model.n_neurons == result["neurons_after"] == report["after"]["neurons"]
    assert report["lyapunov_max_after"] == pytest.approx(result["lyapunov_max_after"])
    assert result["files"]["report"] == str(lnp_dir / "report.json")


@pytest.mark.parametrize("method", ["random", "magnitude", "activity"])
def test_baselines_matched_to_an_lnp_report(lnp_dir, tmp_path, capsys, method):
    dense = HRSNN(n_neurons=30, seed=3)
    dense.save(tmp_path / "dense")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(100, 2, 1)).astype(np.float32))
    extra = ["--inputs", str(tmp_path / "x.npy")] if method == "activity" else []
    code, out = run(capsys, ["prune", "--method", method, "--model", str(tmp_path / "dense"), "--match",
                             str(lnp_dir / "report.json"), "--repeats", "3", "--noise-steps", "400", *extra,
                             "--out", str(tmp_path / "b"), "--json"])
    assert code == 0, out.err
    result = json.loads(out.out.strip().splitlines()[-1])
    target = json.loads((lnp_dir / "report.json").read_text())
    assert result["neurons_after"] == target["after"]["neurons"]
    # matched, unless removing those neurons alone already removes more synapses (then no more go)
    kept = json.loads((tmp_path / "b" / "report.json").read_text())["kept_neurons"]
    only_neurons = dense.select(kept).n_synapses()
    expected = min(only_neurons, round((1 - target["synapse_sparsity"]) * dense.n_synapses()))
    assert result["synapses_after"] == expected
    lo, hi = result["lyapunov_difference_ci"]
    assert lo <= hi


def test_typed_errors(tmp_path, capsys):
    code, out = run(capsys, ["prune", "--model", str(tmp_path / "nope"), "--json"])
    assert code == 2 and "hrsnn.json" in out.err
    code, out = run(capsys, ["prune", "--method", "random", "--neurons", "20", "--json"])
    assert code == 2 and "sparsity" in out.err  # baselines need a target: none is assumed
    code, out = run(capsys, ["prune", "--method", "activity", "--neurons", "20", "--neuron-sparsity", "0.3",
                             "--synapse-sparsity", "0.5", "--json"])
    assert code == 2 and "--inputs" in out.err


def test_prune_then_train_with_trainer(tmp_path, capsys):
    from spikerec.datasets import synthesize

    synthesize("shd", tmp_path / "data", n_train=24, n_test=8, n_classes=2, seed=0)
    code, _ = run(capsys, ["prune", "--method", "lnp", "--neurons", "20", "--trials", "1", "--repeats", "3",
                           "--noise-steps", "400", "--dt-ms", "10", "--out", str(tmp_path / "p"), "--json"])
    assert code == 0
    code, out = run(capsys, ["prune-train", "--model", str(tmp_path / "p"), "--data", str(tmp_path / "data"),
                             "--out", str(tmp_path / "run"), "--set", "train.epochs=1", "--set", "train.batch_size=8",
                             "--set", "data.pool=35", "--json"])
    assert code == 0, out.err
    summary = json.loads(out.out.strip().splitlines()[-1])
    pruned = HRSNN.load(tmp_path / "p")
    assert summary["neurons"] == pruned.n_neurons and summary["synapses"] == pruned.n_synapses()
    code, out = run(capsys, ["eval", str(tmp_path / "run"), "--data", str(tmp_path / "data"), "--batch-size", "1",
                             "--json"])  # rebuilt from the run's hrsnn.json, one sample at a time
    assert code == 0, out.err
    assert json.loads(out.out.strip().splitlines()[-1])["accuracy"] == summary["test_accuracy"]
    stored = HRSNN.load_config(tmp_path / "run")  # the run directory describes its network
    assert stored.n_neurons == pruned.n_neurons and stored.n_inputs == 20 and stored.n_outputs == 2
    code, out = run(capsys, ["prune-train", "--model", str(tmp_path / "p"), "--data", str(tmp_path / "data"),
                             "--out", str(tmp_path / "run2"), "--set", "data.bin_ms=5", "--json"])
    assert code == 2 and "dt_ms" in out.err
