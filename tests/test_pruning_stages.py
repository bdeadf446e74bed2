"""LNP stages one by one, decisions on intervals, the full pipeline, task-agnosticism, determinism, baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikerec.errors import ConfigError
from spikerec.models.hrsnn import HRSNN
from spikerec.pruning import (LyapunovEstimate, LyapunovNoisePruning, activity_prune, assign_timescales,
                              magnitude_prune, neuron_rates, noise_prune_synapses, prune_nodes, random_prune)
from spikerec.pruning.decision import Equivalence, family_margin, largest_accepted
from spikerec.pruning.delocalization import delocalize, mean_ipr
from spikerec.pruning.node_pruning import betweenness, keep_after_removing
from spikerec.pruning.noise_pruning import (keep_probabilities, lyapunov_matrix, noise_covariance,
                                            sample_pruned_weights, synapse_scores)

FAST = dict(noise_steps=300, n_transient=50, repeats=3, family_size=3, keep_resolution=16, lyapunov_k=4,
            timescale_trials=3, delocalize_edges=3)


@pytest.fixture(scope="module")
def model():
    return HRSNN(n_neurons=40, p_connect=0.25, seed=0)


@pytest.fixture(scope="module")
def lnp(model):
    return LyapunovNoisePruning(seed=0, **FAST)


@pytest.fixture(scope="module")
def state(lnp, model):
    return lnp.reference(model)


@pytest.fixture(scope="module")
def lnp_result(lnp, model):
    return lnp.prune(model)


def test_scores_follow_moore_chaudhuri_rule():
    w = torch.tensor([[0.0, 2.0, -1.0], [0.5, 0.0, 0.0], [0.0, -3.0, 0.0]])
    mask = (w != 0).float()
    cov = torch.tensor([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 3.0]], dtype=torch.float64)
    s = synapse_scores(w, mask, cov)
    assert s[0, 1] == pytest.approx(2.0 * (2.0 + 1.0 - 2 * 0.5))     # excitatory: Var(x_i - x_j)
    assert s[0, 2] == pytest.approx(1.0 * (2.0 + 3.0 + 2 * -0.3))    # inhibitory: Var(x_i + x_j)
    assert s[2, 1] == pytest.approx(3.0 * (3.0 + 1.0 + 2 * 0.2))
    assert s[1, 1] == 0 and (s >= 0).all()


def test_lyapunov_matrix_is_the_harmonic_mean_over_both_neighbourhoods():
    gen = torch.Generator().manual_seed(0)
    mask = (torch.rand(9, 9, generator=gen) < 0.3).float().fill_diagonal_(0)
    lam = torch.randn(9, generator=gen, dtype=torch.float64) * 0.05
    got = lyapunov_matrix(mask, lam, dt_ms=2.0)
    for i, j in zip(*torch.nonzero(mask, as_tuple=True)):
        hood = {k for k in range(9) if mask[i, k] or mask[k, i] or mask[j, k] or mask[k, j]}
        growth = torch.exp(lam[sorted(hood)] * 2.0)
        assert got[i, j] == pytest.approx(float(len(hood) / (1.0 / growth).sum()), rel=1e-12)
    assert (got[mask == 0] == 0).all()


def test_keep_probabilities_hit_target_fraction(model):
    drive = torch.randn(300, 40, generator=torch.Generator().manual_seed(0)) + 1.0
    cov, _ = noise_covariance(model.recurrent, drive, 50)
    scores = synapse_scores(model.weight.detach(), model.mask, cov)
    probs = keep_probabilities(scores, model.mask, 0.4)
    assert float(probs.sum()) == pytest.approx(0.4 * model.n_synapses(), rel=1e-3)
    assert (probs <= 1).all() and (probs[model.mask == 0] == 0).all()
    on = model.mask.bool()
    order = torch.argsort(scores[on])
    assert (probs[on][order].diff() >= -1e-12).all()  # higher importance never means lower probability


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


def _estimate(samples):
    s = torch.tensor(samples, dtype=torch.float64).unsqueeze(1)
    return LyapunovEstimate(s, s.expand(-1, 3), 0.9, "surrogate")


def test_equivalence_is_decided_on_the_interval_not_the_mean():
    test = Equivalence(margin=0.01)
    ref = _estimate([0.0, 0.0, 0.0, 0.0])
    assert test.test(_estimate([0.002, 0.003, 0.001, 0.002]), ref)["accepted"]
    noisy = test.test(_estimate([0.02, -0.02, 0.015, -0.015]), ref)  # mean 0, but the interval is wide
    assert noisy["difference"] == pytest.approx(0.0) and not noisy["accepted"]
    assert not test.test(_estimate([0.02, 0.021, 0.019, 0.02]), ref)["accepted"]
    assert family_margin(torch.tensor([1.0, 2.0, 3.0])) == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        family_margin(torch.tensor([1.0]))


def test_largest_accepted_bisects_and_records_every_probe():
    n, probes = largest_accepted(0, 100, lambda k: {"accepted": k <= 37})
    assert n == 37 and len(probes) <= 8 and all(p["accepted"] == (p["n"] <= 37) for p in probes)
    assert largest_accepted(0, 100, lambda k: {"accepted": False})[0] == 0


def test_stage1_prunes_only_as_far_as_equivalence_allows(model, state):
    pruned, info = noise_prune_synapses(model, state)
    assert pruned.n_neurons == model.n_neurons and pruned.n_synapses() == info["synapses_after"]
    kept = pruned.mask.bool()
    assert (pruned.mask <= model.mask).all()
    assert (pruned.weight.abs()[kept] >= model.weight.abs()[kept] - 1e-6).all()  # w / p with p <= 1
    chosen = round((1 - info["keep_fraction"]) * 16)
    for probe in info["probes"]:
        assert probe["accepted"] == (-probe["margin"] <= probe["difference_ci"][0] and probe["difference_ci"][1] <= probe["margin"])
        if probe["n"] == chosen:
            assert probe["accepted"]
        if probe["n"] == chosen + 1:
            assert not probe["accepted"]
    assert 0.99 <= info["lyapunov_term"]["min"] <= info["lyapunov_term"]["max"] <= 1.01


def test_stage2_removes_lowest_betweenness(model, state):
    pruned, info, kept = prune_nodes(model, state)
    centrality = betweenness(model.weight.detach(), model.mask)
    removed = info["removed"]
    assert pruned.n_neurons == len(kept) == 40 - len(removed)
    if removed:
        assert centrality[removed].max() <= centrality[kept].min()
    assert keep_after_removing(np.array([0.5, 0.1, 0.9, 0.1, 0.3]), 2).tolist() == [0, 2, 4]


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
    for pre, post in info["edges_added"]:
        assert mask[post, pre] == 0 and new_mask[post, pre] == 1


def test_stage4_changes_taus_only_on_a_significant_improvement(model, state):
    tuned, info = assign_timescales(model, state, dense_rate=0.2)  # a rate far from the network's: room to improve
    assert len(info["history"]) == FAST["timescale_trials"] and info["history"][0]["original_taus"]
    decision = info["decision"]
    if decision["accepted"]:
        assert decision["loss_difference_ci"][1] < 0 and not torch.equal(tuned.tau_ms, model.tau_ms)
    else:
        assert torch.equal(tuned.tau_ms, model.tau_ms)


def test_pipeline_report(lnp_result, model):
    rep = lnp_result.report
    assert [s["stage"] for s in rep["stages"]] == ["noise_synapse_pruning", "betweenness_node_pruning",
                                                  "delocalization", "timescale_optimization"]
    assert rep["stages"][0]["equivalence"]["accepted"] and rep["stages"][1]["equivalence"]["accepted"]
    assert rep["equivalence_margin"] == pytest.approx(family_margin(torch.tensor(rep["family_lambda_max"])))
    assert lnp_result.model.n_neurons == rep["after"]["neurons"] == len(rep["kept_neurons"])
    lo, hi = rep["lyapunov_ci_after"]
    assert lo <= rep["lyapunov_max_after"] <= hi and rep["after"]["lyapunov"]["method"] == "surrogate"
    assert rep["task_agnostic"] and model.n_neurons == 40  # input model untouched


def test_pipeline_is_deterministic_under_seed(lnp_result, lnp, model):
    again = lnp.prune(model)
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
    result = LyapunovNoisePruning(seed=1, **{**FAST, "timescale_trials": 1}).prune(model)
    assert result.model.n_synapses() <= model.n_synapses()


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


def test_random_baseline_is_seeded_and_matches_sparsity(model):
    a, b = random_prune(model, 0.25, 0.7, seed=0), random_prune(model, 0.25, 0.7, seed=0)
    c = random_prune(model, 0.25, 0.7, seed=1)
    assert a.report["kept_neurons"] == b.report["kept_neurons"] and torch.equal(a.model.mask, b.model.mask)
    assert a.report["kept_neurons"] != c.report["kept_neurons"]
    assert a.model.n_neurons == 30 and a.report["synapse_sparsity"] == pytest.approx(0.7, abs=0.01)
    # kept synapses keep their weights (no re-weighting)
    sub = model.select(a.report["kept_neurons"])
    on = a.model.mask > 0
    assert torch.equal(a.model.weight[on], sub.weight[on])
