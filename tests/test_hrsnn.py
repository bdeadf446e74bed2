"""HRSNN model: timescales, connectivity variants, structural mask, selection, persistence, readout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikerec.errors import CheckpointError, ConfigError, ShapeError
from spikerec.models.hrsnn import HRSNN, HRSNNConfig, fit_readout, spectral_radius, synaptic_operations


def test_gamma_timescales_and_shapes():
    model = HRSNN(n_neurons=400, n_inputs=3, n_outputs=2, tau_shape=4.0, tau_mean_ms=30.0, seed=0)
    tau = model.tau_ms.numpy()
    assert tau.shape == (400,) and tau.min() >= model.config.tau_floor_ms == 2.0
    assert tau.mean() == pytest.approx(30.0, rel=0.1)
    assert tau.var() == pytest.approx(30.0**2 / 4.0, rel=0.3)  # gamma: var = mean^2 / shape
    out, spikes, membrane = model(torch.randn(20, 5, 3), return_states=True)
    assert out.shape == (20, 5, 2) and spikes.shape == membrane.shape == (20, 5, 400)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ShapeError):
        model(torch.randn(20, 5, 4))


def test_spectral_radius_and_no_self_loops():
    model = HRSNN(n_neurons=100, spectral_radius=3.0, seed=1)
    assert spectral_radius(model.effective_weight()) == pytest.approx(3.0, rel=1e-4)
    assert model.mask.diagonal().sum() == 0


def test_dale_signs_per_presynaptic_neuron():
    model = HRSNN(n_neurons=120, excitatory_fraction=0.8, seed=2)
    w = model.effective_weight().detach()
    for j in range(120):
        col = w[:, j][model.mask[:, j] > 0]
        assert (col >= 0).all() or (col <= 0).all()
    negative = (w.sum(0) < 0).float().mean()
    assert 0.1 < negative < 0.35


def test_small_world_degree_and_clusters():
    sw = HRSNN(n_neurons=60, topology="small_world", small_world_k=6, small_world_p=0.0, seed=0)
    assert (sw.mask.sum(0) == 6).all()  # ring lattice before rewiring: k neighbours each
    cfg = HRSNNConfig(n_neurons=300, n_clusters=3, p_connect=0.2, p_inter=0.01,
                      cluster_tau_means_ms=[5.0, 20.0, 80.0], seed=0)
    model = HRSNN(cfg)
    ids = model.cluster_ids.numpy()
    means = [model.tau_ms.numpy()[ids == c].mean() for c in range(3)]
    assert means[0] < means[1] < means[2]
    mask = model.mask.numpy()
    within = np.mean([mask[np.ix_(ids == c, ids == c)].mean() for c in range(3)])
    between = mask[np.ix_(ids == 0, ids == 1)].mean()
    assert within > 0.15 and between < 0.03
    with pytest.raises(ConfigError):
        HRSNN(n_neurons=30, n_clusters=3, cluster_tau_means_ms=[1.0])


def test_mask_is_structural():
    model = HRSNN(n_neurons=30, seed=0)
    out = model(torch.randn(10, 2, 1))
    out.sum().backward()
    assert (model.weight.grad[model.mask == 0] == 0).all()
    with torch.no_grad():
        model.weight.fill_(5.0)  # masked-out entries must not act
    assert (model.effective_weight()[model.mask == 0] == 0).all()


def test_select_keeps_rows_columns_and_taus():
    model = HRSNN(n_neurons=20, n_outputs=2, seed=0)
    keep = [1, 4, 5, 9, 19]
    small = model.select(keep)
    assert small.n_neurons == 5 and small.config.n_neurons == 5
    assert torch.equal(small.weight, model.weight[keep][:, keep])
    assert torch.equal(small.tau_ms, model.tau_ms[keep])
    assert torch.equal(small.readout.weight, model.readout.weight[:, keep])


def test_save_load_roundtrip(tmp_path):
    model = HRSNN(n_neurons=25, n_clusters=2, seed=4).select(list(range(0, 25, 2)))
    model.save(tmp_path / "m")
    loaded = HRSNN.load(tmp_path / "m")
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(CheckpointError):
        HRSNN.load(tmp_path / "missing")


def test_seeded_construction_is_deterministic():
    a, b = HRSNN(n_neurons=40, seed=7), HRSNN(n_neurons=40, seed=7)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.tau_ms, b.tau_ms)
    assert not torch.equal(a.weight, HRSNN(n_neurons=40, seed=8).weight)


def test_ridge_readout_learns_delayed_input_and_counts_synops():
    t = torch.arange(600.0)
    x = (torch.sin(t / 7.0) + 0.5 * torch.sin(t / 3.1 + 1.0)).reshape(600, 1, 1)
    target = torch.roll(x, 3, dims=0)
    model = HRSNN(n_neurons=150, input_scale=4.0, readout_tau_ms=3.0, seed=0)
    fit_readout(model, x[:400], target[:400], washout=50, ridge=1e-4)
    with torch.no_grad():
        pred, spikes, _ = model(x, return_states=True)
    nrmse = ((pred[450:] - target[450:]) ** 2).mean().sqrt() / target[450:].std()
    assert nrmse < 0.5
    assert synaptic_operations(model, spikes) == pytest.approx(float((spikes[:, 0] * model.mask.sum(0)).sum()))
