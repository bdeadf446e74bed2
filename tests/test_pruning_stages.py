"""LNP stages one by one, the full pipeline, task-agnosticism, determinism, baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikerec.models.hrsnn import HRSNN
from spikerec.pruning import (LNPConfig, LyapunovNoisePruning, activity_prune, assign_timescales, magnitude_prune, neuron_rates, noise_prune_synapses, prune_nodes)
from spikerec.pruning.delocalization import delocalize, mean_ipr
from spikerec.pruning.node_pruning import betweenness, lowest_betweenness_nodes
from spikerec.pruning.noise_pruning import (choose_keep_fraction, keep_probabilities, noise_covariance,
                                            sample_pruned_weights, synapse_scores)

FAST = dict(noise_steps=250, n_transient=50, lyapunov_k=4, timescale_trials=4, delocalize_edges=3)


@pytest.fixture(scope="module")
def model():
    return HRSNN(n_neurons=40, p_connect=0.25, seed=0)


@pytest.fixture(scope="module")
def lnp_result(model):
    return LyapunovNoisePruning(seed=0, **FAST).prune(model)


def test_scores_follow_moore_chaudhuri_rule():
    w = torch.tensor([[0.0, 2.0, -1.0], [0.5, 0.0, 0.0], [0.0, -3.0, 0.0]])
    mask = (w != 0).float()
    cov = torch.tensor([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 3.0]], dtype=torch.float64)
    s = synapse_scores(w, mask, cov)
    assert s[0, 1] == pytest.approx(2.0 * (2.0 + 1.0 - 2 * 0.5))     # excitatory: Var(x_i - x_j)
    assert s[0, 2] == pytest.approx(1.0 * (2.0 + 3.0 + 2 * -0.3))    # inhibitory: Var(x_i + x_j)
    assert s[2, 1] == pytest.approx(3.0 * (3.0 + 1.0 + 2 * 0.2))
    assert s[1, 1] == 0 and (s >= 0).all()


def test_keep_probabilities_hit_target_fraction(model):
    cov, _ = noise_covariance(model, torch.randn(300, 40, generator=torch.Generator().manual_seed(0)) + 1.0, 50)
    scores = synapse_scores(model.weight.detach(), model.mask, cov)
    probs = keep_probabilities(scores, model.mask, 0.4)
    assert float(probs.sum()) == pytest.approx(0.4 * model.n_synapses(), rel=1e-3)
    assert (probs <= 1).all() and (probs[model.mask == 0] == 0).all()
    # Higher score never means lower probability.
    on = model.mask.bool()
    order = torch.argsort(scores[on])
    assert (probs[on][order].diff() >= -1e-12).all()


def test_reweighting_preserves_expected_input():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    probs = torch.rand(6, 6, generator=gen, dtype=torch.float64) * 0.8 + 0.1
    activity = torch.rand(6, generator=gen, dtype=torch.float64)
    n_draws = 100000
    weights, masks = sample_pruned_weights(w.expand(n_draws, 6, 6), probs.expand(n_draws, 6, 6), gen)
    inputs = weights @ activity  # [n_draws, 6]: the input each neuron receives
    # Var of a kept-and-rescaled term w/p * Bernoulli(p) is w^2 (1/p - 1); tolerance = 5 standard errors.
    stderr = ((w**2 * (1 / probs - 1)) @ activity**2).sqrt() / n_draws**0.5
    assert ((inputs.mean(0) - w @ activity).abs() < 5 * stderr).all()
    assert torch.allclose(masks.mean(0), probs, atol=0.01)


def test_choose_keep_fraction_takes_sparsest_acceptable():
    keep, trace = choose_keep_fraction([0.8, 0.2, 0.5], lambda k: 1.0 - k, tol=0.55)
    assert keep == 0.5 and [t["keep_fraction"] for t in trace] == [0.2, 0.5]
    keep, _ = choose_keep_fraction([0.3, 0.6], lambda k: 1.0, tol=0.1)
    assert keep == 0.6


def test_stage1_prunes_synapses(model):
    cfg = LNPConfig(seed=0, **FAST, keep_candidates=(0.5,), spectrum_tol=1.0)
    currents = LyapunovNoisePruning(cfg).noise_drive(model)
    pruned, info = noise_prune_synapses(model, currents, cfg)
    assert info["keep_fraction"] == 0.5
    assert pruned.n_synapses() == pytest.approx(0.5 * model.n_synapses(), rel=0.15)
    assert pruned.n_neurons == model.n_neurons
    kept = pruned.mask.bool()
    assert (pruned.mask <= model.mask).all()
    assert (pruned.weight.abs()[kept] >= model.weight.abs()[kept] - 1e-6).all()  # w / p with p <= 1


def test_stage2_removes_lowest_betweenness(model):
    cfg = LNPConfig(seed=0, neuron_fraction=0.25, **FAST)
    centrality = betweenness(model.weight.detach(), model.mask)
    pruned, info, keep = prune_nodes(model, None, cfg)
    assert pruned.n_neurons == 30 and len(info["removed"]) == 10
    assert centrality[info["removed"]].max() <= centrality[keep].min()
    keep2, removed2 = lowest_betweenness_nodes(np.array([0.5, 0.1, 0.9, 0.1, 0.3]), 0.4)
    assert removed2.tolist() == [1, 3] and keep2.tolist() == [0, 2, 4]


def test_stage3_adds_edges_and_lowers_ipr():
    # A hub-dominated sparse graph: the leading modes are localised on a few nodes.
    n = 30
    w = torch.zeros(n, n)
    for i in range(1, n):
        w[i, (i + 1) % n or 1] = 0.3
    w[0, 1:6] = 2.0
    w[1:6, 0] = 2.0
    mask = (w != 0).float()
    new_w, new_mask, info = delocalize(w, mask, n_edges=5, n_eigenvectors=3, n_candidates=30, seed=0)
    added = len(info["edges_added"])
    assert 1 <= added <= 5
    assert int(new_mask.sum() - mask.sum()) == added
    assert info["ipr_after"] < info["ipr_before"]
    assert info["ipr_after"] == pytest.approx(mean_ipr(new_w.double().numpy(), 3))
    assert info["degree_heterogeneity_after"] != info["degree_heterogeneity_before"]
    for pre, post in info["edges_added"]:
        assert mask[post, pre] == 0 and new_mask[post, pre] == 1


def test_stage4_never_worse_than_original(model):
    cfg = LNPConfig(seed=0, **FAST)
    currents = LyapunovNoisePruning(cfg).noise_drive(model)
    tuned, info = assign_timescales(model, currents, cfg, target_rate=0.05)
    assert info["best_loss"] <= info["original_loss"]
    assert len(info["history"]) == FAST["timescale_trials"]
    if info["kept_original_taus"]:
        assert torch.equal(tuned.tau_ms, model.tau_ms)
    else:
        assert not torch.equal(tuned.tau_ms, model.tau_ms)


def test_pipeline_report(lnp_result, model):
    rep = lnp_result.report
    assert [s["stage"] for s in rep["stages"]] == ["noise_synapse_pruning", "betweenness_node_pruning",
                                                  "delocalization", "timescale_optimization"]
    assert rep["neuron_sparsity"] >= 0.4 and rep["synapse_sparsity"] >= 0.5
    assert lnp_result.model.n_neurons == rep["after"]["neurons"] == len(rep["kept_neurons"])
    for key in ("lyapunov_max_before", "lyapunov_max_after", "spectral_radius_before", "spectral_radius_after"):
        assert np.isfinite(rep[key])
    assert rep["task_agnostic"] and model.n_neurons == 40  # input model untouched


def test_pipeline_is_deterministic_under_seed(lnp_result, model):
    again = LyapunovNoisePruning(seed=0, **FAST).prune(model)
    assert torch.equal(again.model.weight, lnp_result.model.weight)
    assert torch.equal(again.model.tau_ms, lnp_result.model.tau_ms)
    assert again.report["lyapunov_max_after"] == lnp_result.report["lyapunov_max_after"]


def test_pipeline_is_task_agnostic(model, monkeypatch):
    """LNP never pushes anything through the input layer or the readout: noise only, no labels."""

    def forbidden(*args, **kwargs):
        raise AssertionError("LNP touched task inputs or the readout")

    monkeypatch.setattr(HRSNN, "currents", forbidden)
    monkeypatch.setattr(HRSNN, "run", forbidden)
    monkeypatch.setattr(HRSNN, "forward", forbidden)
    result = LyapunovNoisePruning(seed=1, **FAST).prune(model)
    assert result.model.n_neurons < model.n_neurons


def test_baselines_match_sparsity_and_criteria(model):
    x = torch.randn(200, 2, 1, generator=torch.Generator().manual_seed(0))
    rates = neuron_rates(model, x)
    act = activity_prune(model, x, neuron_sparsity=0.25, synapse_sparsity=0.7)
    assert act.model.n_neurons == 30
    assert act.report["synapse_sparsity"] == pytest.approx(0.7, abs=0.01)
    removed = sorted(set(range(40)) - set(act.report["kept_neurons"]))
    assert rates[removed].max() <= rates[act.report["kept_neurons"]].min()
    mag = magnitude_prune(model, neuron_sparsity=0.25, synapse_sparsity=0.7)
    assert mag.model.n_synapses() == act.model.n_synapses()
    kept_w = mag.model.effective_weight().detach().abs()[mag.model.mask > 0]
    sub = model.select(mag.report["kept_neurons"])
    dropped = sub.effective_weight().detach().abs()[(sub.mask > 0) & (mag.model.mask == 0)]
    assert dropped.max() <= kept_w.min()
