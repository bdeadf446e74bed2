"""Training the real delay SNN on tiny synthetic SHD-layout files: resume, SLTT, CLI train/eval."""

from __future__ import annotations

import json

import pytest
import torch

from spikerec.cli import main
from spikerec.config import load_recipe
from spikerec.datasets.synthetic import synthesize
from spikerec.delays import DelayedLinear
from spikerec.models import build_model
from spikerec.training import Callback, evaluate_run, train
from spikerec.training.metrics import read_metrics

TINY = ["train.epochs=2", "train.batch_size=16", "model.hidden_sizes=[16]", "delays.max_delay_ms=50.0",
        "data.max_duration_ms=250.0", "data.val_fraction=0.25", "data.cache_dir=cache"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("shd")
    synthesize("shd", path, n_train=48, n_test=16, n_classes=4, seed=0)
    return path


def _tiny(data_dir, *extra):
    return load_recipe("synthetic", [*TINY, f"data.cache_dir={data_dir / 'cache'}", *extra])


class StopAfter(Callback):
    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == 1:
            raise KeyboardInterrupt


def test_delay_model_resume_is_exact(data_dir, tmp_path, monkeypatch):
    recipe = _tiny(data_dir, "train.epochs=3")  # sigma anneals in int(3 * 0.5) = 1 step
    full = train(recipe, data_dir, tmp_path / "full", progress=False)
    from spikerec.training import trainer as trainer_module

    original = trainer_module.default_callbacks
    monkeypatch.setattr(trainer_module, "default_callbacks", lambda r, m: original(r, m) + [StopAfter()])
    with pytest.raises(KeyboardInterrupt):
        train(recipe, data_dir, tmp_path / "cut", progress=False)
    assert len(read_metrics(tmp_path / "cut")) == 1  # only epoch 0 was checkpointed
    monkeypatch.setattr(trainer_module, "default_callbacks", original)
    resumed = train(recipe, data_dir, tmp_path / "cut", resume=True, progress=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(read_metrics(tmp_path / "cut")) == strip(read_metrics(tmp_path / "full"))
    assert resumed["test_accuracy"] == full["test_accuracy"] and resumed["val_accuracy"] == full["val_accuracy"]
    rows = read_metrics(tmp_path / "full")
    assert [r["sigma"] for r in rows] == pytest.approx([2.0, 0.23, 0.23])  # K=5 -> 5 // 2; int(3 * 0.5) = 1 step
    assert rows[0]["positions_lr"] == pytest.approx(0.1) and rows[1]["positions_lr"] < 0.1
    assert full["integer_delays"] is True and "stratified" in full["val_source"]


def test_positions_stay_clamped_and_get_their_own_optimiser(data_dir, tmp_path):
    summary = train(_tiny(data_dir, "train.epochs=1"), data_dir, tmp_path, progress=False)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert len(state["optimizers"]) == 2 and state["optimizers"][1]["param_groups"][0]["weight_decay"] == 0.0
    model = build_model(load_recipe(tmp_path / "recipe.toml"), 140, 4)
    model.load_state_dict(state["model"])
    for layer in (m for m in model.modules() if isinstance(m, DelayedLinear)):
        low, high = layer.position_limits()
        assert layer.positions.min() >= low and layer.positions.max() <= high
        layer.integer_delays()  # raises if any position rounds out of range
    assert summary["epochs"] == 1


@pytest.mark.parametrize("k_steps", [0, 3])
def test_sltt_training_runs(data_dir, tmp_path, k_steps):
    summary = train(_tiny(data_dir, "train.epochs=1", "train.sltt=true", f"train.sltt_k={k_steps}"), data_dir, tmp_path,
                    progress=False)
    assert summary["epochs"] == 1
    # the SLTT-trained checkpoint scores the same when evaluated independently, one sample at a time
    assert evaluate_run(tmp_path, data_dir, batch_size=1)["accuracy"] == summary["test_accuracy"]


def test_cli_train_then_eval(data_dir, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--recipe", "synthetic", "--data", str(data_dir), "--epochs", "1", "--out", str(run), "--quiet",
            "--json", "--device", "cpu"]
    for item in TINY[1:]:
        args += ["--set", item]
    args += ["--set", f"data.cache_dir={data_dir / 'cache'}"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"val_accuracy", "test_accuracy", "epochs", "seconds"} <= result.keys() and result["epochs"] == 1
    assert main(["eval", str(run), "--data", str(data_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["accuracy"] == pytest.approx(result["test_accuracy"]) and report["integer_delays"] is True
    assert (run / "confusion_test.png").is_file() and sum(map(sum, report["confusion"])) == 16
    assert main(["eval", str(run), "--data", str(data_dir), "--split", "val", "--json"]) == 0
    val = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert val["accuracy"] == pytest.approx(result["val_accuracy"])


def test_cli_errors_are_one_line(data_dir, tmp_path, capsys):
    assert main(["train", "--recipe", "synthetic", "--data", str(data_dir), "--set", "train.epoch=1"]) == 2
    assert "train.epoch" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), "--data", str(data_dir)]) == 2
    assert "recipe.toml" in capsys.readouterr().err
