"""A sample's prediction, loss and counts depend on that sample alone (spikerec.window).

Every path that reads frames is run at batch sizes 1, 7 and 64 and in a shuffled order, on synthetic SHD-like
data whose utterances vary in length, with a trained delay network whose end-to-end delay (the drain) is longer
than the shortest samples. Each path must give identical per-sample results (float64 where numbers are
compared). Batch size 1 is what streaming hardware sees: it is the reference, not the batched run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from spikerec.config import load_recipe
from spikerec.datasets import synthesize
from spikerec.hardware import EventSimulator, torch_reference
from spikerec.hardware.ir.load import network_from_run
from spikerec.hardware.energy.counts import count_workload
from spikerec.hardware.simulators.crossbar.simulate import CrossbarSimulator
from spikerec.hardware.ir.dynamics import predict_from_membrane
from spikerec.models import build_model
from spikerec.training import class_scores, load_datasets, softmax_sum_cross_entropy, train
from spikerec.delays import delay_eval_context
from spikerec.training.sltt import sltt_backward
from spikerec.training.windows import window_collate

BATCHINGS = [(1, False), (7, False), (64, False), (7, True)]  # (batch size, shuffled order)
N_TEST = 40


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A delay SNN trained 2 epochs on varied-length synthetic SHD data; its test split and exported network."""
    root = tmp_path_factory.mktemp("window")
    synthesize("shd", root / "data", n_train=96, n_test=N_TEST, n_classes=4, seed=3)
    recipe = load_recipe("synthetic", ["train.epochs=2", "model.hidden_sizes=[24,16]", "delays.max_delay_ms=250",
                                       "train.batch_size=16", "model.dropout=0.0"])
    train(recipe, root / "data", root / "run", progress=False)
    from spikerec.training import load_run_model

    model, _ = load_run_model(root / "run")
    test = load_datasets(recipe, root / "data")["test"]
    collate = window_collate(recipe, model)
    network = network_from_run(root / "run")  # what `spikerec export` writes
    assert network.drain_steps == collate.drain_steps
    return {"root": root, "recipe": recipe, "model": model.double(), "test": test, "collate": collate,
            "network": network}


def test_the_data_and_network_exercise_the_window(setup):
    lengths = setup["test"].lengths
    drain = setup["collate"].drain_steps
    assert drain == setup["model"].latency_steps == 3 * 24  # three delay layers of up to 24 steps
    assert lengths.min() < drain < lengths.max()  # delays reach past the shortest samples
    assert lengths.max() > 2 * lengths.min()  # short and long samples share batches


def _batches(setup, batch_size: int, shuffled: bool):
    """(sample indices, Batch) over the test split in the given batching."""
    order = np.random.default_rng(0).permutation(N_TEST) if shuffled else np.arange(N_TEST)
    loader = DataLoader(Subset(setup["test"], order.tolist()), batch_size=batch_size, collate_fn=setup["collate"])
    start = 0
    for batch in loader:
        n = batch.frames.shape[1]
        yield order[start:start + n], batch
        start += n


def _per_sample(setup, fn) -> dict[tuple[int, bool], np.ndarray]:
    """fn(batch) -> per-sample rows [B, ...]; returned per batching, rows in sample order."""
    out = {}
    for batch_size, shuffled in BATCHINGS:
        rows = [None] * N_TEST
        for index, batch in _batches(setup, batch_size, shuffled):
            for i, row in zip(index, fn(batch)):
                rows[i] = row
        out[(batch_size, shuffled)] = np.stack(rows)
    return out


def _assert_all_equal(results: dict, rtol: float = 0.0) -> None:
    """Identical per batching (``rtol``: float64 sums over a different padded length may round differently)."""
    reference = results[(1, False)]
    for key, value in results.items():
        np.testing.assert_allclose(value, reference, rtol=rtol, atol=0, err_msg=f"batch size {key[0]}, shuffled={key[1]}")


def test_torch_model_scores_do_not_depend_on_the_batch(setup):
    model = setup["model"]

    def scores(batch):
        with torch.no_grad(), delay_eval_context(model, True):
            out = model(batch.frames.double(), window=batch.window)
        return class_scores(out.double(), batch.window).numpy()

    results = _per_sample(setup, scores)
    _assert_all_equal(results, rtol=1e-13)
    _assert_all_equal({k: v.argmax(axis=1) for k, v in results.items()})
    # and the window matters: reading the padding of a batch would change the scores
    assert results[(1, False)].sum(axis=1) == pytest.approx(setup["test"].lengths + setup["collate"].drain_steps)


def test_evaluate_run_is_identical_at_every_batch_size(setup):
    from spikerec.training import evaluate_run

    reports = [evaluate_run(setup["root"] / "run", setup["root"] / "data", batch_size=b) for b in (1, 7, 64)]
    assert len({r["accuracy"] for r in reports}) == 1  # float32 model: the loss may differ in its last bits
    assert reports[1]["loss"] == pytest.approx(reports[0]["loss"], rel=1e-6) == reports[2]["loss"]
    assert reports[0]["confusion"] == reports[1]["confusion"] == reports[2]["confusion"]
    assert reports[0]["window"]["drain_steps"] == setup["collate"].drain_steps
    assert reports[0]["trained_with"] == "sample windows"


def test_event_simulator_batched_and_streaming(setup):
    sim = EventSimulator(setup["network"])

    def predictions_and_counts(batch):
        res = sim.run(batch.frames, batch.window)
        return np.concatenate([res.predictions[:, None], res.counts_per_sample.transpose(1, 0, 2).reshape(
            len(res.predictions), -1)], axis=1)

    results = _per_sample(setup, predictions_and_counts)
    _assert_all_equal(results)
    streamed = [sim.predict_stream(setup["test"][i][0].numpy())[0] for i in range(N_TEST)]
    np.testing.assert_array_equal(streamed, results[(1, False)][:, 0])


def test_event_simulator_matches_the_trained_model_per_sample(setup):
    """Independent of batching on both sides: model at batch 1 vs simulator at batch 64."""
    model, sim = setup["model"], EventSimulator(setup["network"])
    model_pred = _per_sample(setup, lambda b: _model_predictions(model, b))[(1, False)]
    sim_pred = _per_sample(setup, lambda b: sim.run(b.frames, b.window).predictions)[(64, False)]
    np.testing.assert_array_equal(model_pred, sim_pred)


def _model_predictions(model, batch):
    with torch.no_grad(), delay_eval_context(model, True):
        return class_scores(model(batch.frames.double(), window=batch.window), batch.window).argmax(1).numpy()


def test_torch_reference_of_the_network(setup):
    net = setup["network"]

    def predictions(batch):
        membrane = torch_reference(net, batch.frames, batch.window)[-1].numpy()
        return predict_from_membrane(membrane, net.readout, batch.window.numpy())

    _assert_all_equal(_per_sample(setup, predictions))


@pytest.mark.parametrize("preset", ["ideal", "pcm"])
def test_crossbar_simulator(setup, preset):
    sim = CrossbarSimulator(setup["network"], preset, seed=1)
    _assert_all_equal(_per_sample(setup, lambda b: sim.run(b.frames, b.window).predictions))


def test_workload_counts_and_energy(setup):
    from spikerec.hardware.energy.measure import run_energy

    def counts(batch):
        rows = []
        for b in range(batch.frames.shape[1]):  # per-sample counts of the batched run: count each column alone
            w = count_workload(setup["network"], batch.frames[:, b:b + 1], batch.window[b:b + 1])
            rows.append([v for layer in w.layers.values() for v in layer.values()])
        return np.array(rows)

    # the model path counts the whole batch at once: its totals must not depend on the batching either
    totals = {}
    for batch_size, shuffled in BATCHINGS:
        total = None
        for _, batch in _batches(setup, batch_size, shuffled):
            w = count_workload(setup["model"], batch.frames, batch.window)
            total = w if total is None else total.merge(w)
        totals[(batch_size, shuffled)] = total.layers
    assert all(t == totals[(1, False)] for t in totals.values())
    _assert_all_equal(_per_sample(setup, counts))
    path = setup["network"].save(setup["root"] / "net.h5")
    reports = [run_energy(path, setup["root"] / "data", batch_size=b, out_dir=setup["root"] / f"e{b}")
               for b in (1, 7, 64)]
    for r in reports[1:]:
        assert r["synaptic_ops"] == reports[0]["synaptic_ops"]
        assert r["hardware"] == reports[0]["hardware"]


def test_a_sample_loss_does_not_change_when_batched_with_longer_samples(setup):
    """Training: per-sample loss (train mode, no BatchNorm so samples do not share statistics) alone vs in a
    batch with longer samples, with garbage in the padding."""
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[24,16]", "delays.max_delay_ms=250", "model.dropout=0.0",
                                       "model.batchnorm=false"])
    torch.manual_seed(0)
    model = build_model(recipe, 140, 4).double().train()
    test, collate = setup["test"], window_collate(recipe, model)
    short = int(np.argmin(test.lengths))
    longer = [short, *np.argsort(test.lengths)[-6:].tolist()]
    alone, together = collate([test[short]]), collate([test[i] for i in longer])
    together.frames[together.window[0]:, 0] = 3.0  # padding after the window must not matter
    loss_alone = softmax_sum_cross_entropy(model(alone.frames.double(), window=alone.window), alone.labels,
                                           alone.window)
    out = model(together.frames.double(), window=together.window)
    loss_together = torch.nn.functional.cross_entropy(class_scores(out, together.window), together.labels,
                                                      reduction="none")[0]
    assert together.frames.shape[0] > alone.frames.shape[0]
    assert loss_together.item() == pytest.approx(loss_alone.item(), rel=1e-12)
    model.zero_grad()
    loss_alone.backward()
    grad_alone = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    loss_together.backward()
    for g, p in zip(grad_alone, model.parameters()):
        torch.testing.assert_close(p.grad, g, rtol=1e-10, atol=1e-12)


def _reset_batchnorm(model) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.reset_running_stats()


def test_batchnorm_statistics_ignore_the_padding(setup):
    """Training mode with BatchNorm: extra padding (zeros or garbage) after every window changes nothing."""
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[24]", "delays.max_delay_ms=100", "model.dropout=0.0"])
    torch.manual_seed(0)
    model = build_model(recipe, 140, 4).double().train()
    batch = window_collate(recipe, model)([setup["test"][i] for i in range(6)])
    extra = torch.cat([batch.frames, torch.full((25,) + batch.frames.shape[1:], 2.0)]).double()
    outs, stats = [], []
    for frames in (batch.frames.double(), extra):
        _reset_batchnorm(model)
        outs.append(class_scores(model(frames, window=batch.window), batch.window))
        stats.append(model.blocks[0].norm.running_mean.clone())
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(stats[0], stats[1], rtol=1e-12, atol=1e-12)


def test_sltt_gradient_ignores_the_padding(setup):
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[24]", "delays.max_delay_ms=100", "model.dropout=0.0"])
    torch.manual_seed(0)
    model = build_model(recipe, 140, 4).double().train()
    batch = window_collate(recipe, model)([setup["test"][i] for i in range(6)])
    extra = torch.cat([batch.frames, torch.full((9,) + batch.frames.shape[1:], 2.0)]).double()
    grads, losses = [], []
    for frames in (batch.frames.double(), extra):
        _reset_batchnorm(model)  # steps where fewer than 2 samples are inside their window use running stats
        model.zero_grad()
        loss, _ = sltt_backward(model, frames, batch.labels, batch.window)
        losses.append(float(loss))
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert losses[0] == pytest.approx(losses[1], rel=1e-12)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_fixed_window_crops_and_pads_to_the_recipe_duration(setup):
    recipe = load_recipe("synthetic", ["data.window=fixed", "data.max_duration_ms=500", "data.drain_steps=5"])
    model = build_model(recipe, 140, 4)
    collate = window_collate(recipe, model)
    assert (collate.fixed_steps, collate.drain_steps) == (50, 5)
    batch = collate([setup["test"][i] for i in range(5)])
    assert batch.window.tolist() == [55] * 5
    with pytest.raises(Exception, match="max_duration_ms"):
        load_recipe("synthetic", ["data.window=fixed"])


def test_a_run_trained_before_sample_windows_still_loads_and_says_so(setup, tmp_path, capsys):
    import json
    import shutil

    from spikerec.cli import main

    old = tmp_path / "old-run"
    shutil.copytree(setup["root"] / "run", old)
    recipe = (old / "recipe.toml").read_text()
    (old / "recipe.toml").write_text("\n".join(line for line in recipe.splitlines()
                                               if not line.startswith(("window =", "drain_steps ="))))
    summary = json.loads((old / "summary.json").read_text())
    del summary["window"]
    (old / "summary.json").write_text(json.dumps(summary))
    assert main(["eval", str(old), "--data", str(setup["root"] / "data"), "--batch-size", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["trained_with"] == "batch padding" and report["batch_size"] == 1
    assert report["window"]["drain_steps"] == setup["collate"].drain_steps
    assert main(["eval", str(old), "--data", str(setup["root"] / "data")]) == 0
    assert "trained before sample windows" in capsys.readouterr().out
