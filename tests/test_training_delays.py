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
from spikerec.training import Callback, sltt_backward, softmax_sum_cross_entropy, train
from spikerec.training.metrics import read_metrics
from spikerec.training.sltt import detach_state

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


def _sltt_reference_grads(model, frames, labels):
    """SLTT by definition: the per-step network with the state detached between steps, one backward."""
    state = model.online_state(frames.shape[1], frames.device)
    outs = []
    for t in range(frames.shape[0]):
        out_t, state = model.online_step(frames[t], state)
        outs.append(out_t)
        state = detach_state(state)
    loss = softmax_sum_cross_entropy(torch.stack(outs), labels)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("delays", ["true", "false"])
def test_sltt_two_pass_online_gradient_equals_detached_bptt(delays):
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[10, 8]", "delays.max_delay_ms=40.0",
                                       f"model.delays={delays}", "model.dropout=0.3"])
    torch.manual_seed(0)
    model = build_model(recipe, 6, 3)
    frames = (torch.rand(12, 5, 6) < 0.4).float() * 3
    labels = torch.tensor([0, 1, 2, 1, 0])
    rng, buffers = torch.get_rng_state(), {k: v.clone() for k, v in model.state_dict().items()}
    ref_loss, ref_grads = _sltt_reference_grads(model, frames, labels)
    ref_buffers = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(buffers)
    model.zero_grad(set_to_none=True)
    torch.set_rng_state(rng)
    loss, scores = sltt_backward(model, frames, labels)
    assert torch.allclose(loss, ref_loss, atol=1e-6) and scores.shape == (5, 3)
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads.keys() == ref_grads.keys() and len(grads) > 0
    for name, g in grads.items():
        assert torch.allclose(g, ref_grads[name], atol=1e-5, rtol=1e-4), name
    for name, value in model.state_dict().items():  # BN running statistics updated exactly once
        assert torch.allclose(value, ref_buffers[name]), name


def test_sltt_training_runs(data_dir, tmp_path):
    summary = train(_tiny(data_dir, "train.epochs=1", "train.sltt=true"), data_dir, tmp_path, progress=False)
    assert summary["epochs"] == 1 and 0 <= summary["test_accuracy"] <= 1


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
