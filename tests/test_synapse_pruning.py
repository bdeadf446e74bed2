"""Synapse pruning of trained models: masks that gradients cannot undo, scores checked against independent
computations, checkpoints that carry the masks, sparse export, and costs that fall with the synapse count."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from hardware_models import random_frames, trained_model
from spikerec.errors import ConfigError
from spikerec.hardware.ir.from_model import network_from_model
from spikerec.models.hrsnn import HRSNN
from spikerec.pruning.lnp import LNPConfig, LyapunovNoisePruning
from spikerec.pruning.noise_pruning import noise_covariance, synapse_scores
from spikerec.models.synapse_masks import mask_synapses, restore_masks, synapse_mask
from spikerec.pruning.synapse_pruning import keep_top, prune_synapses, synapse_counts, synaptic_matrices


@pytest.mark.parametrize("kind,delays", [("delay_snn", True), ("lif_rsnn", False), ("lif_rsnn", True)])
def test_training_cannot_revive_pruned_synapses(kind, delays):
    model, _ = trained_model(kind=kind, delays=delays)
    report = prune_synapses(model, "magnitude", 0.6)
    counts = synapse_counts(model)
    pruned = {m.key: ~m.existing() for m in synaptic_matrices(model)}
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)  # large steps, decay on every weight
    x, y = random_frames(30, 6, 20, seed=3), torch.arange(6) % 4
    for _ in range(4):
        loss = torch.nn.functional.cross_entropy(torch.softmax(model(x), 2).sum(0), y)
        opt.zero_grad()
        loss.backward()
        for m in synaptic_matrices(model):
            grad = getattr(m.module.parametrizations, m.name).original.grad
            assert grad is not None and grad.abs().sum() > 0  # the kept synapses learn
            assert (grad.reshape(*pruned[m.key].shape, -1)[pruned[m.key]] == 0).all()  # the pruned get exactly 0
        opt.step()
    assert synapse_counts(model) == counts and report["synapses_after"] == sum(counts.values())
    for m in synaptic_matrices(model):
        assert (m.values()[pruned[m.key]] == 0).all()


def test_masked_model_computes_like_a_plain_model_with_zeroed_weights():
    """Independent reference: a fresh, unmasked model whose pruned weights were set to 0 by hand."""
    model, recipe = trained_model(kind="lif_rsnn", delays=True)
    plain, _ = trained_model(kind="lif_rsnn", delays=True)
    prune_synapses(model, "random", 0.5, seed=4)
    with torch.no_grad():
        for m, p in zip(synaptic_matrices(model), synaptic_matrices(plain)):
            keep = synapse_mask(m.module, m.name).mask
            getattr(p.module, p.name).mul_(keep)
    x = random_frames(30, 5, 20, seed=8)
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))


def test_checkpoint_carries_the_masks(tmp_path):
    from spikerec.config import save_recipe
    from spikerec.training.checkpoint import save_checkpoint
    from spikerec.training.runs import load_run_model

    model, recipe = trained_model(kind="delay_snn")
    prune_synapses(model, "magnitude", 0.7)
    save_recipe(recipe, tmp_path / "recipe.toml")
    save_checkpoint(tmp_path / "best.pt", {"model": model.state_dict()})
    loaded, _ = load_run_model(tmp_path)
    assert synapse_counts(loaded) == synapse_counts(model)
    x = random_frames(30, 4, 20, seed=2)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    fresh, _ = trained_model(kind="delay_snn")
    assert restore_masks(fresh, model.state_dict()) == 3  # hidden0, hidden1 and readout were masked


def test_masks_narrow_and_keep_top_rounds_down():
    lin = torch.nn.Linear(4, 3)
    mask_synapses(lin, "weight", torch.tensor([[1, 1, 0, 1], [1, 0, 1, 1], [1, 1, 1, 1]], dtype=torch.bool))
    mask_synapses(lin, "weight", torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool))
    assert int((lin.weight != 0).sum()) == 8 and (lin.parametrizations.weight.original[0, :1] == 0).all()
    scores = torch.tensor([[3.0, 1.0, 2.0], [2.0, 5.0, 0.5]])
    existing = torch.tensor([[True, True, True], [True, False, True]])
    keep = keep_top(scores, existing, 0.5)  # floor(0.5 * 5) = 2: the 5.0 does not exist; 3.0 and the first 2.0
    assert keep.tolist() == [[True, False, True], [False, False, False]]


def test_magnitude_keeps_the_largest_exported_weights():
    """Against the exporter's BatchNorm-folded weights, ranked with numpy."""
    model, _ = trained_model(kind="delay_snn")
    dense = network_from_model(model, sparse=False)
    prune_synapses(model, "magnitude", 0.75)
    pruned = network_from_model(model, sparse=False)
    for before, after in zip(dense.layers, pruned.layers):
        w = np.abs(before.weight).ravel()
        n_keep = int(np.floor(0.25 * np.count_nonzero(w)))
        expected = np.zeros(w.size, bool)
        expected[np.argsort(-w, kind="stable")[:n_keep]] = True
        assert np.array_equal(after.weight.ravel() != 0, expected), before.name
        assert np.array_equal(after.weight.ravel()[expected], before.weight.ravel()[expected])


def test_random_is_seeded_and_exact():
    a, _ = trained_model(kind="lif_rsnn")
    b, _ = trained_model(kind="lif_rsnn")
    c, _ = trained_model(kind="lif_rsnn")
    ra, rb, rc = (prune_synapses(m, "random", 0.3, seed=s) for m, s in ((a, 1), (b, 1), (c, 2)))
    assert ra == rb and ra["synapses_after"] == rc["synapses_after"]
    masks = [[synapse_mask(m.module, m.name).mask for m in synaptic_matrices(x)] for x in (a, b, c)]
    assert all(torch.equal(p, q) for p, q in zip(masks[0], masks[1]))
    assert not all(torch.equal(p, q) for p, q in zip(masks[0], masks[2]))
    for row in ra["matrices"]:
        assert row["synapses_after"] == int(np.floor(0.7 * row["synapses_before"] + 1e-9))


def test_lnp_scores_are_lnp_stage_one_scores_on_recurrent_synapses_only():
    model = HRSNN(n_inputs=3, n_neurons=30, n_outputs=2, p_connect=0.3, seed=1)
    cfg = LNPConfig(seed=5, noise_steps=300, n_transient=50, repeats=3)
    drives = LyapunovNoisePruning(cfg).drives(model)  # LNP's own drives around the input bias
    cov, _ = noise_covariance(model.recurrent, drives, cfg.n_transient)
    expected = synapse_scores(model.effective_weight().detach(), model.mask, cov)
    before = synapse_counts(model)
    report = prune_synapses(model, "lnp-scores", 0.5, lnp_config=cfg)
    kept = synapse_mask(model.recurrent, "recurrent_weight").mask.bool()
    assert torch.equal(kept, keep_top(expected, model.mask.bool(), 0.5))
    after = synapse_counts(model)
    assert after["hidden0.feedforward"] == before["hidden0.feedforward"]
    assert after["readout.feedforward"] == before["readout.feedforward"]
    assert after["hidden0.recurrent"] == before["hidden0.recurrent"] // 2
    assert report["noise"]["repeats"] == 3


def test_lnp_scores_refuse_a_network_without_recurrent_synapses():
    model, _ = trained_model(kind="delay_snn")
    with pytest.raises(ConfigError, match="recurrent"):
        prune_synapses(model, "lnp-scores", 0.5)
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        prune_synapses(model, "magnitude", 1.0)


def test_export_is_csr_and_costs_fall_with_the_synapse_count():
    from spikerec.hardware.energy.counts import count_workload
    from spikerec.hardware.energy.estimate import estimate_energy
    from spikerec.hardware.energy.tables import load_model
    from spikerec.hardware.simulators.event import EventSimulator

    x = random_frames(40, 6, 20, seed=5)
    energy_model = load_model("digital-45nm")
    rows, footprints = [], []
    for sparsity in (0.0, 0.5, 0.9):
        model, _ = trained_model(kind="lif_rsnn", delays=True)
        prune_synapses(model, "magnitude", sparsity)
        net = network_from_model(model)
        if sparsity >= 0.5:
            assert all(sp.issparse(la.weight) for la in net.layers)
            assert sp.issparse(net.layers[0].recurrent_weight)
        first = net.layers[0]
        fan_out = np.count_nonzero(first.weight.toarray() if sp.issparse(first.weight) else first.weight, axis=0)
        events = EventSimulator(net).run(x).counts["hidden0"]
        # hidden0's input is the same frames at every sparsity: its feed-forward work is events x fan-out
        ff_work = float((x.numpy() != 0).sum(axis=(0, 1)) @ fan_out) / x.shape[1]
        workload = count_workload(net, x)
        rows.append((net.n_synapses, ff_work, events["synaptic_events"],
                     estimate_energy(workload, energy_model).memory_inclusive_joules))
        footprints.append(workload.footprint_bytes)
        assert workload.per_sample()["hidden0"]["synaptic_ops"] == pytest.approx(ff_work)
    for dense, sparse in zip(rows, rows[1:]):
        assert all(b < a for a, b in zip(dense, sparse)), rows
    # CSR costs 8 bytes per kept weight (value + index) against 4 per dense entry: it pays beyond 50 % sparsity
    assert footprints[2] < footprints[0] / 3


def test_pruned_hrsnn_exports_recurrent_csr_and_simulates_exactly():
    from spikerec.hardware.simulators.crossbar.simulate import CrossbarSimulator
    from spikerec.hardware.simulators.event import EventSimulator
    from spikerec.hardware.simulators.reference import torch_reference

    model = HRSNN(n_inputs=20, n_neurons=40, n_outputs=4, p_connect=0.2, seed=2).eval()
    prune_synapses(model, "lnp-scores", 0.5, lnp_config=LNPConfig(noise_steps=300, n_transient=50, repeats=2))
    net = network_from_model(model)
    layer = net.layers[0]
    assert not sp.issparse(layer.weight) and sp.issparse(layer.recurrent_weight)  # decided per matrix
    assert layer.recurrent_weight.nnz == synapse_counts(model)["hidden0.recurrent"]
    x = random_frames(50, 4, 20, p=0.3, seed=6)
    event = EventSimulator(net).run(x)
    with torch.no_grad():
        spikes, _ = model.double().run(x.double())
    assert np.array_equal(event.spikes[0], spikes.numpy().astype(np.uint8))  # the torch model, float64
    assert event.spikes[0].any()
    assert np.array_equal(event.spikes[0], torch_reference(net, x)[0].numpy().astype(np.uint8))
    ideal = CrossbarSimulator(net, "ideal").run(x)
    assert np.array_equal(ideal.spikes[0], event.spikes[0])


def test_prune_cli_offers_the_libraries_methods():
    """The CLI names the methods without importing torch at parse time; they must be the libraries' lists."""
    from spikerec.pruning import cli, run, synapse_pruning

    assert cli.RUN_METHODS == synapse_pruning.METHODS and cli.HRSNN_METHODS == run.METHODS
