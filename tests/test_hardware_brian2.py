"""The Brian2 backend against the event simulator (float64, spike for spike), the standalone export script, and
``spikerec simulate`` on arrays and NIR files. Brian2 is a different simulator (its own scheduler, spike queues and
generated code); only the neuron update is spikerec's, written as Brian2 statements. Numpy target (no compiling)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hardware_models import ir_network, random_frames, trained_model
from spikerec.cli import main
from spikerec.hardware import EventSimulator
from spikerec.hardware.ir.brian2 import export_brian2, network_params
from spikerec.hardware.ir.from_model import network_from_model
from spikerec.hardware.simulators.brian2 import run_brian2

pytest.importorskip("brian2", reason="Brian2 is not installed (the brian2 extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # brian2 2.9 calls old pyparsing names


def _variant(di: bool, vr: float, kind: str, reset: str):
    """Three layers, delays up to 4 steps, recurrence, biases, a cuba_li readout."""
    net = ir_network(sizes=(12, 20, 16, 6), decay_input=di, recurrent=True, delays=True, bias=True, last_kind="li")
    for la in net.layers[:2]:
        la.v_reset, la.reset = vr, reset
        if kind == "cuba_lif":
            la.kind, la.syn_decay = kind, np.full(la.n_out, 0.6, np.float32)
    net.layers[-1].kind, net.layers[-1].syn_decay = "cuba_li", np.full(6, 0.5, np.float32)
    return net


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("kind,reset,vr", [("lif", "hard", 0.0), ("lif", "soft", -0.2), ("cuba_lif", "hard", -0.2),
                                           ("cuba_lif", "soft", 0.0)])
def test_brian2_matches_the_event_simulator_spike_for_spike(decay_input, kind, reset, vr):
    net = _variant(decay_input, vr, kind, reset)
    x = random_frames(40, 3, 12).numpy().astype(np.float64)
    x[x > 0] *= np.random.default_rng(0).integers(1, 4, int((x > 0).sum()))  # binned counts scale the weight
    window = np.array([40, 31, 17])
    ref = EventSimulator(net).run(x, window)
    spikes, membranes, preds = run_brian2(net, x, window)
    for a, b in zip(spikes[:2], ref.spikes[:2]):
        assert 0.05 < b.mean() < 0.7
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(membranes[-1].astype(np.float32), ref.membrane[-1])  # the simulator keeps float32
    np.testing.assert_array_equal(preds, ref.predictions)


def test_a_delay_or_recurrence_out_of_place_would_be_seen():
    """The comparison has power: the same network with one delay changed by a step or without its recurrent
    weights gives other spike trains in Brian2."""
    net = _variant(False, 0.0, "lif", "hard")
    x = random_frames(40, 2, 12).numpy().astype(np.float64)
    ref = EventSimulator(net).run(x).spikes
    np.testing.assert_array_equal(run_brian2(net, x)[0][0], ref[0])
    shifted = _variant(False, 0.0, "lif", "hard")
    shifted.layers[0].delay[:, :3] += 1
    no_rec = _variant(False, 0.0, "lif", "hard")
    no_rec.layers[0].recurrent_weight = None
    for other in (shifted, no_rec):
        assert not np.array_equal(run_brian2(other, x)[0][0], ref[0])


def test_trained_delay_snn_with_recurrence_agrees_on_every_sample():
    model, _ = trained_model("lif_rsnn", delays=True)
    net = network_from_model(model, drain_steps=5)
    assert net.layers[0].max_delay > 0 and any(la.recurrent_weight is not None for la in net.layers)
    x = random_frames(45, 6, 20, p=0.3, seed=4).numpy()
    window = np.array([45, 40, 35, 30, 45, 20])
    ref = EventSimulator(net).run(x, window)
    spikes, _, preds = run_brian2(net, x, window)
    for a, b in zip(spikes, ref.spikes):
        if b is not None:
            assert b.mean() > 0.01
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(preds, ref.predictions)


def test_exported_script_runs_standalone(tmp_path):
    net = _variant(True, 0.0, "cuba_lif", "soft")
    net.drain_steps = 3
    export_brian2(net, tmp_path / "net.py")
    assert set(np.load(tmp_path / "net.npz")) == set(network_params(net))
    x = random_frames(30, 2, 12, seed=7).numpy()
    np.save(tmp_path / "x.npy", x)
    proc = subprocess.run([sys.executable, "net.py", "--input", "x.npy", "--save", "out.npz"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = np.load(tmp_path / "out.npz")
    ref = EventSimulator(net).run(np.concatenate([x, np.zeros((3, 2, 12), np.float32)]))
    for layer, s, m in zip(net.layers, ref.spikes, ref.membrane):
        np.testing.assert_array_equal(out[layer.name].astype(np.float32) if s is None else out[layer.name],
                                      m if s is None else s)


def test_simulate_cli_on_an_array_and_a_nir_file(tmp_path, capsys):
    from spikerec.hardware.ir.nir import save_nir

    net = ir_network(sizes=(12, 20, 6), decay_input=False, recurrent=True, delays=True, last_kind="li")
    net.save(tmp_path / "net.h5")
    save_nir(net, tmp_path / "net.nir")
    x = random_frames(25, 2, 12, seed=3).numpy()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x1.npy", x[:, 0])
    ref = EventSimulator(net).run(x)
    results = {}
    for name, args in {"h5": ["net.h5"], "nir": ["net.nir"], "brian2": ["net.h5", "--backend", "brian2"],
                       "one": ["net.h5", "--input", "x1.npy"]}.items():
        out = tmp_path / f"{name}.npz"
        extra = [] if "--input" in args else ["--input", str(tmp_path / "x.npy")]
        argv = ["simulate", str(tmp_path / args[0]), *args[1:], *extra, "--save-spikes", str(out), "--json"]
        argv = [a if not a.endswith(".npy") else str(tmp_path / a.split("/")[-1]) for a in argv]
        assert main(argv) == 0
        results[name] = (json.loads(capsys.readouterr().out.strip().splitlines()[-1]), np.load(out))
    for name in ("h5", "nir", "brian2"):
        res, arrays = results[name]
        assert res["spike_counts"] == {"hidden0": int(ref.spikes[0].sum())}
        np.testing.assert_array_equal(arrays["hidden0"], ref.spikes[0])
        np.testing.assert_allclose(arrays["readout"], ref.membrane[1], rtol=1e-6, atol=1e-6)
    res, arrays = results["one"]
    assert res["samples"] == 1 and arrays["hidden0"].shape == (25, 1, 20)
    np.testing.assert_array_equal(arrays["hidden0"][:, 0], ref.spikes[0][:, 0])


def test_simulate_cli_refuses_a_wrong_input(tmp_path, capsys):
    net = ir_network(sizes=(12, 20, 6))
    net.save(tmp_path / "net.h5")
    np.save(tmp_path / "x.npy", np.zeros((10, 2, 11)))
    for extra, message in [(["--input", str(tmp_path / "x.npy")], "x.npy: input must be [T, 12] or [T, B, 12]"),
                           ([], "exactly one of --data"),
                           (["--input", str(tmp_path / "x.npy"), "--dt-ms", "0.5"], "apply to .nir only"),
                           (["--input", str(tmp_path / "x.npy"), "--run", str(tmp_path)], "--run (compare")]:
        assert main(["simulate", str(tmp_path / "net.h5"), *extra]) == 2
        assert message in capsys.readouterr().err


def test_cli_exports_and_simulates_a_trained_recurrent_delay_run(tmp_path, capsys):
    """``spikerec simulate RUN.h5 --backend brian2 --data DIR`` on synthetic SHD: every sample agrees with the
    event simulator; ``spikerec export --format brian2`` writes the script and its arrays."""
    from spikerec.config import save_recipe
    from spikerec.training.checkpoint import save_checkpoint

    assert main(["data", "synth", "--kind", "shd", "--out", str(tmp_path / "data"), "--train", "4", "--test", "6",
                 "--classes", "4", "--json"]) == 0
    model, recipe = trained_model(kind="lif_rsnn", n_inputs=140, n_classes=4)  # synthetic recipe: 700 ch / pool 5
    run = tmp_path / "run"
    run.mkdir()
    save_recipe(recipe, run / "recipe.toml")
    save_checkpoint(run / "best.pt", {"model": model.state_dict()})
    capsys.readouterr()
    assert main(["export", str(run), "--format", "brian2", "-o", str(tmp_path / "net.py"), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert exported["brian2"] == {"script": str(tmp_path / "net.py"), "params": str(tmp_path / "net.npz")}
    assert main(["export", str(run), "-o", str(tmp_path / "net.h5")]) == 0
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "net.h5"), "--backend", "brian2", "--data", str(tmp_path / "data"),
                 "--batch-size", "4", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["n_samples"] == 6 and res["agreement"] == 1.0 and res["prediction_agreement"] == 1.0
    assert res["max_readout_membrane_diff"] < 1e-5
