"""HRSNN: a SpikingNetwork on the common path; timescales, connectivity, mask, selection, persistence,
the spiking map against the model's own run, the closed-form readout, recipe handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from spikerec.config import load_recipe
from spikerec.errors import CheckpointError, ConfigError, ShapeError
from spikerec.models import SpikingNetwork, build_model
from spikerec.models.hrsnn import HRSNN, HRSNNConfig, fit_readout, spectral_radius, synaptic_operations
from spikerec.neurons import LI, RecurrentLIF
from spikerec.neurons.functional import reset_membrane
from spikerec.pruning.spiking_map import RecurrentLIFMap


def test_is_a_spiking_network_with_gamma_timescales():
    model = HRSNN(n_neurons=400, n_inputs=3, n_outputs=2, tau_shape=4.0, tau_mean_ms=30.0, seed=0)
    assert isinstance(model, SpikingNetwork) and len(model.blocks) == 1
    assert isinstance(model.input, nn.Linear) and isinstance(model.recurrent, RecurrentLIF)
    assert isinstance(model.readout.synapse, nn.Linear) and isinstance(model.readout.integrator, LI)
    tau = model.tau_ms.numpy()
    assert tau.shape == (400,) and tau.min() >= model.config.tau_floor_ms == 2.0
    assert tau.mean() == pytest.approx(30.0, rel=0.1)
    assert tau.var() == pytest.approx(30.0**2 / 4.0, rel=0.3)  # gamma: var = mean^2 / shape
    out = model(torch.randn(20, 5, 3))
    spikes, membrane = model.run(torch.randn(20, 5, 3))
    assert out.shape == (20, 5, 2) and spikes.shape == membrane.shape == (20, 5, 400)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ShapeError):
        model.run(torch.randn(20, 5, 4))


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
    model(3 * torch.randn(100, 2, 1)).sum().backward()
    assert (model.weight.grad[model.mask == 0] == 0).all() and model.weight.grad.abs().sum() > 0
    with torch.no_grad():
        model.weight.fill_(5.0)  # masked-out entries must not act
    assert (model.effective_weight()[model.mask == 0] == 0).all()


def test_select_keeps_rows_columns_taus_and_batchnorm():
    model = HRSNN(n_neurons=20, n_outputs=2, batchnorm=True, seed=0)
    model.train()
    model(torch.randn(15, 4, 1))  # fill BatchNorm running statistics
    keep = [1, 4, 5, 9, 19]
    small = model.select(keep)
    assert small.n_neurons == 5 and small.config.n_neurons == 5
    assert torch.equal(small.weight, model.weight[keep][:, keep]) and torch.equal(small.mask, model.mask[keep][:, keep])
    assert torch.equal(small.tau_ms, model.tau_ms[keep])
    assert torch.equal(small.recurrent.threshold, model.recurrent.threshold[keep])
    assert torch.equal(small.readout.synapse.weight, model.readout.synapse.weight[:, keep])
    assert torch.equal(small.blocks[0].norm.running_mean, model.blocks[0].norm.running_mean[keep])
    assert torch.equal(small.input.weight, model.input.weight[keep])


def test_save_load_roundtrip_and_old_format(tmp_path):
    model = HRSNN(n_neurons=25, n_clusters=2, learn_tau=True, seed=4).select(list(range(0, 25, 2)))
    model.save(tmp_path / "m")
    loaded = HRSNN.load(tmp_path / "m")
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(CheckpointError):
        HRSNN.load(tmp_path / "missing")
    meta = json.loads((tmp_path / "m" / "hrsnn.json").read_text())
    (tmp_path / "m" / "hrsnn.json").write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(CheckpointError, match="format_version"):
        HRSNN.load(tmp_path / "m")


def test_seeded_construction_is_deterministic():
    a, b = HRSNN(n_neurons=40, seed=7), HRSNN(n_neurons=40, seed=7)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.tau_ms, b.tau_ms)
    assert not torch.equal(a.weight, HRSNN(n_neurons=40, seed=8).weight)


@pytest.mark.parametrize("options", [{}, {"reset": "soft"}, {"detach_reset": False},
                                     {"decay_input": False, "v_reset": 0.2, "spectral_radius": 2.0,
                                      "input_scale": 0.5}])
def test_map_reproduces_the_models_run_spike_for_spike(options):
    """The map the Lyapunov spectrum iterates is the model's own dynamics (float64, batch of 2)."""
    model = HRSNN(n_neurons=50, n_inputs=3, seed=1, **options).double()
    x = torch.randn(300, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        spikes, membrane = model.run(x)
        currents = model.currents(x)
    layer = RecurrentLIFMap.from_layer(model.recurrent)
    h = layer.run(currents)
    s = layer.spikes(h)
    assert 0.01 < float(spikes.mean()) < 0.9 and torch.equal(s, spikes)
    assert torch.allclose(reset_membrane(h, s, layer.threshold, layer.cfg), membrane, atol=1e-12, rtol=0)
    assert torch.equal(layer.run(currents[:, 1]), h[:, 1])  # one copy alone = its column in the batch


def test_closed_form_readout_is_the_models_readout_and_learns_a_delay():
    t = torch.arange(600.0)
    x = (torch.sin(t / 7.0) + 0.5 * torch.sin(t / 3.1 + 1.0)).reshape(600, 1, 1)
    target = torch.roll(x, 3, dims=0)
    model = HRSNN(n_neurons=150, input_scale=4.0, readout_tau_ms=3.0, seed=0)
    fit_readout(model, x[:400], target[:400], washout=50, ridge=1e-4)
    with torch.no_grad():
        pred = model(x)
        spikes, _ = model.run(x)
        f, g = model.readout_features(spikes)
    by_hand = f @ model.readout.synapse.weight.T + g * model.readout.synapse.bias
    assert torch.allclose(pred, by_hand, atol=1e-5)
    nrmse = ((pred[450:] - target[450:]) ** 2).mean().sqrt() / target[450:].std()
    assert nrmse < 0.5
    assert synaptic_operations(model, spikes) == pytest.approx(float((spikes[:, 0] * model.mask.sum(0)).sum()))


def test_recipe_keys_reach_the_model():
    recipe = load_recipe("hrsnn-lnp", ["model.hidden_sizes=[30]", "neuron.surrogate=atan", "neuron.surrogate_alpha=3.0",
                                       "neuron.reset=soft", "model.dropout=0.2", "model.batchnorm=true",
                                       "neuron.learn_tau=true"])
    model = build_model(recipe, 7, 4)
    neuron = model.recurrent
    assert isinstance(model, HRSNN) and model.n_neurons == 30
    assert neuron.surrogate.name == "atan" and neuron.surrogate.alpha == 3.0 and neuron.cfg.reset == "soft"
    assert model.blocks[0].dropout.p == 0.2 and isinstance(model.blocks[0].norm, nn.BatchNorm1d)
    assert neuron.tau.learn and model.config.readout_tau_ms == 20.0


@pytest.mark.parametrize("override, key", [(["delays.max_delay_ms=100"], "delays.max_delay_ms"),
                                           (["model.delays=true"], "model.delays"),
                                           (["model.hidden_sizes=[10, 10]"], "model.hidden_sizes"),
                                           (["neuron.adapt_b=2.0"], "neuron.adapt_b")])
def test_recipe_keys_the_hrsnn_does_not_use_are_rejected(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_recipe("hrsnn-lnp", override)
