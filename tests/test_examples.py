"""Smoke tests of examples/*.py: each script runs with --quick on small synthetic SHD-layout data in a
subprocess (as a user would run it), exits 0 and writes the files and numbers it promises."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spikerec.datasets import synthesize

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    synthesize("shd", out, n_train=120, n_test=40, seed=0)
    return out


def run_example(script: str, data: Path, out: Path, *extra: str) -> str:
    """Run ``examples/<script> --quick`` and return its stdout; fail with its stderr on a non-zero exit."""
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", "--data", str(data), "--out", str(out),
                           *extra], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_every_example_is_listed_in_the_readme():
    readme = (EXAMPLES / "README.md").read_text()
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    assert len(scripts) == 7
    for name in scripts:
        assert f"python examples/{name}" in readme, name


def test_train_shd_delays(data, tmp_path):
    out = tmp_path / "run"
    stdout = run_example("train_shd_delays.py", data, out)
    printed = {}
    for split in ("val", "test"):
        match = re.search(rf"^{split} accuracy \(integer delays\): ([0-9.]+) on (\d+) samples", stdout, re.M)
        assert match, stdout
        printed[split] = float(match.group(1))
    # the same run exported and run on the event simulator, one sample at a time: the same test accuracy
    from spikerec.hardware import network_from_run, simulate_event
    from spikerec.hardware.ir.load import network_data_loader

    net = network_from_run(out)
    sim = simulate_event(net, network_data_loader(net, data, "test", batch_size=1))
    assert sim["n_samples"] == 40 and sim["agreement"] == 1.0
    assert f"{sim['accuracy']:.4f}" == f"{printed['test']:.4f}"
    report = json.loads((out / "eval_test.json").read_text())
    assert report["integer_delays"] is True and report["n"] == 40
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 1 and summary["selected_on"] == "val"
    assert (out / "best.pt").is_file() and (out / "confusion_test.png").is_file()


def test_export_to_nir_runs_in_snntorch_and_norse(data, tmp_path):
    pytest.importorskip("snntorch")
    pytest.importorskip("norse")
    stdout = run_example("export_to_nir_snntorch.py", data, tmp_path)
    for importer in ("snntorch", "norse"):
        match = re.search(rf"^{importer}: identical spike trains in ([0-9.]+) of (\d+) samples", stdout, re.M)
        assert match, stdout
        assert float(match.group(1)) == 1.0 and int(match.group(2)) == 16
    assert (tmp_path / "network.nir").is_file()


def test_prune_lnp_vs_activity(data, tmp_path):
    stdout = run_example("prune_lnp_vs_activity.py", data, tmp_path)
    result = json.loads((tmp_path / "comparison.json").read_text())
    lnp, activity = result["lnp"], result["activity"]
    assert lnp["neurons"] == activity["neurons"] < result["dense_neurons"]  # matched neuron sparsity
    from spikerec.training import evaluate_run

    for name, r in (("lnp", lnp), ("activity", activity)):
        assert r["synapses"] > 0 and f"{r['neurons']:>8} {r['synapses']:>9}" in stdout
        assert (tmp_path / name / "hrsnn.pt").is_file()
        # the printed score is the saved run's, re-evaluated independently from its checkpoint one sample at a time
        assert evaluate_run(tmp_path / f"run-{name}", data, batch_size=1)["accuracy"] == r["test_accuracy"]


def test_crossbar_sweep(data, tmp_path):
    stdout = run_example("crossbar_sweep.py", data, tmp_path)
    sweeps = json.loads((tmp_path / "sweeps.json").read_text())
    assert sweeps["preset"] == "pcm" and sweeps["n_samples"] == 16
    # ideal crossbars reproduce the event simulator: their accuracy is the event simulator's on those 16 samples
    from spikerec.hardware import EventSimulator, Network
    from spikerec.hardware.ir.load import network_collate
    from spikerec.training import load_datasets, load_run_model

    model, recipe = load_run_model(tmp_path / "run")
    net = Network.load(tmp_path / "network.h5")
    test = load_datasets(recipe, data)["test"]
    batch = network_collate(net)([test[i] for i in range(16)])
    event_accuracy = float((EventSimulator(net).run(batch.frames, batch.window).predictions == batch.labels.numpy()).mean())
    for param in ("adc_bits", "t_inference_s"):
        assert len(sweeps[param]["accuracy"]) == len(sweeps[param]["values"]) == 5
        assert sweeps[param]["ideal_accuracy"] == pytest.approx(event_accuracy)
        assert (tmp_path / f"crossbar_sweep_{param}.png").is_file()
        assert f"{param} -> accuracy" in stdout


def test_energy_two_models(data, tmp_path):
    stdout = run_example("energy_two_models.py", data, tmp_path)
    result = json.loads((tmp_path / "energy_comparison.json").read_text())
    for name in ("delays", "no-delays"):
        report = result["reports"][name]
        assert report["synaptic_ops"] > 0 and report["n_samples"] == 16
        for hw in ("digital-45nm", "loihi", "crossbar-pcm", "ann-45nm"):
            row = report["hardware"][hw]
            assert 0 < row["synops_only_joules"] <= row["memory_inclusive_joules"]
    table = (tmp_path / "energy_comparison.md").read_text()
    assert "| | delays | no-delays |" in table and "| digital-45nm memory-inclusive (J) |" in table
    assert "| synaptic ops |" in stdout


def test_streaming_event_sim_matches_batched_run(data, tmp_path):
    stdout = run_example("streaming_event_sim.py", data, tmp_path)
    result = json.loads((tmp_path / "stream.json").read_text())
    assert result["matches_batched_run"] and result["spikes_equal"]
    assert result["readout_membrane_max_abs_diff"] < 1e-5
    assert result["steps"] == len(result["per_step"]) > 1
    assert all(step["latency_s"] > 0 for step in result["per_step"])
    assert f"final prediction {result['prediction']}" in stdout


def test_convert_dcls_checkpoint(data, tmp_path):
    pytest.importorskip("DCLS")
    stdout = run_example("convert_dcls_checkpoint.py", data, tmp_path)
    gaps = [float(g) for g in re.findall(r"max \|spikerec - Dcls1d\| = ([0-9.e+-]+)", stdout)]
    assert len(gaps) == 3 and max(gaps) < 1e-4
    assert "outputs match" in stdout
    assert (tmp_path / "snn_delays.pt").is_file() and (tmp_path / "converted.pt").is_file()
