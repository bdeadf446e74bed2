"""Probabilistic meta-neuron: equations against hand-computed values and an independent Monte-Carlo of the
Levy-Baxter synapse, train/eval consistency on a small network, the exact IR equivalent against the event
simulator, gradients to every internal parameter, Monte-Carlo evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from spikerec.config import load_recipe
from spikerec.errors import ConfigError, ParameterError, ShapeError
from spikerec.models import build_model
from spikerec.neurons.meta import MetaNeuron, NoExactIRError, meta_eval_mode
from spikerec.training.draws import evaluate_draws


def _logit(p):
    return math.log(p / (1 - p))


def _inv_softplus(y):
    return y + math.log(-math.expm1(-y))


def _hand_layer() -> MetaNeuron:
    """1 neuron, 2 synapses: w = (1, 2), p = (0.5, 0.25), q = 2, c = 0.3, b = 0.1, theta = 1, lambda = 0.5."""
    layer = MetaNeuron(2, 1, tau_ms=2.0, dt_ms=1.0, quantal_amplitude=2.0, quantal_cv=0.3, inhibition=0.1,
                       threshold=1.0, learn_tau=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0]]))
        layer.release_logit.copy_(torch.tensor([[_logit(0.5), _logit(0.25)]]))
    return layer


def test_equations_against_a_hand_computed_case():
    layer = _hand_layer().eval()
    layer.eval_mode = "mean"
    # W = q p w - b = (2*0.5*1 - 0.1, 2*0.25*2 - 0.1) = (0.9, 0.9)
    torch.testing.assert_close(layer.effective_weight(), torch.tensor([[0.9, 0.9]]))
    # Var weight q^2 p (1 - p + c^2) w^2 = (4*0.5*0.59*1, 4*0.25*0.84*4) = (1.18, 3.36)
    torch.testing.assert_close(layer.noise_weight(), torch.tensor([[1.18, 3.36]]))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])[:, None, :]
    # V: 0.9 (no spike); 0.5*0.9 + 0.9 = 1.35 -> spike, reset 0; 1.8 -> spike, 0; 0 -> none
    spikes, v = layer(x, return_membrane=True)
    assert spikes.flatten().tolist() == [0.0, 1.0, 1.0, 0.0]
    torch.testing.assert_close(v.flatten(), torch.tensor([0.9, 0.0, 0.0, 0.0]))


def _draw_sums(layer: MetaNeuron, x: torch.Tensor, mode: str, n: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([layer.summation(x.expand(1, 2000, -1), mode).flatten() for _ in range(n // 2000)])


@pytest.mark.parametrize("mode", ["gaussian", "relaxed"])
def test_sampled_sum_matches_an_independent_simulation_of_the_levy_baxter_synapses(mode):
    """numpy draws every release (Bernoulli p) and amplitude (uniform, mean q, CV c) itself; the layer's
    sampled sum must have the same mean and variance (and, for the per-synapse path, the same law)."""
    layer = _hand_layer()
    layer.generator = torch.Generator().manual_seed(3)
    x = torch.tensor([1.0, 1.0])
    rng = np.random.default_rng(0)
    n = 40_000
    p, w, q, c = np.array([0.5, 0.25]), np.array([1.0, 2.0]), 2.0, 0.3
    release = rng.random((n, 2)) < p
    amplitude = rng.uniform(q * (1 - math.sqrt(3) * c), q * (1 + math.sqrt(3) * c), (n, 2))
    reference = (release * amplitude * w).sum(1) - 0.1 * 2
    draws = _draw_sums(layer, x, mode, n).double().numpy()
    assert abs(draws.mean() - reference.mean()) < 0.05  # both ~1.8; std of a mean of 40k draws ~0.011
    assert abs(draws.var() / reference.var() - 1) < 0.05  # both ~4.54
    assert abs(reference.var() - 4.54) < 0.15 and abs(reference.mean() - 1.8) < 0.05
    if mode == "relaxed":  # same law, not just two moments: the (2-synapse, lumpy) distribution's quantiles
        qs = [0.1, 0.3, 0.5, 0.7, 0.9]
        np.testing.assert_allclose(np.quantile(draws, qs), np.quantile(reference, qs), atol=0.08)


@pytest.mark.parametrize("mode", ["gaussian", "relaxed", "mean"])
def test_gradients_reach_every_internal_parameter(mode):
    torch.manual_seed(0)
    layer = MetaNeuron(12, 5, tau_ms=10.0, release_prob=0.3, quantal_amplitude=1.5, inhibition=0.02,
                       sampling=mode, generator=torch.Generator().manual_seed(1)).train()
    x = (torch.rand(20, 4, 12, generator=torch.Generator().manual_seed(0)) < 0.3).float() * 3
    spikes, v = layer(x, return_membrane=True)
    (spikes.sum() + v.square().sum()).backward()
    names = ["weight", "release_logit", "quantal_raw", "quantal_cv_logit", "inhibition_raw", "threshold_raw", "tau.raw"]
    for name in names:
        grad = layer.get_parameter(name).grad
        if mode == "mean" and name == "quantal_cv_logit":  # the mean does not depend on the amplitude noise
            assert grad is None or bool((grad == 0).all())
            continue
        assert grad is not None and bool(torch.isfinite(grad).all()) and grad.abs().sum() > 0, name


def _small_meta_net(dropout: float):
    torch.manual_seed(0)
    recipe = load_recipe("shd-meta", ["model.hidden_sizes=[32,32]", f"model.dropout={dropout}", "model.delays=false",
                                      "data.bin_ms=1.0", "neuron.threshold=0.3"])
    return build_model(recipe, 20, 3)


def _rates_and_output(model, x, mode: str, draws: int = 20):
    """Mean firing rate per meta layer and mean readout over ``draws`` seeded forwards in ``mode``."""
    rates: dict[int, list[float]] = {}
    hooks = [b.layer.register_forward_hook(lambda m, a, o, i=i: rates.setdefault(i, []).append(float(o.mean())))
             for i, b in enumerate(model.blocks)]
    model.train(mode == "train")
    outs = []
    with torch.no_grad(), meta_eval_mode(model, "mean" if mode == "mean" else "sample"):
        for seed in range(draws):
            torch.manual_seed(seed)
            outs.append(model(x))
    for h in hooks:
        h.remove()
    return [sum(r) / len(r) for _, r in sorted(rates.items())], torch.stack(outs).mean(0)


X = (torch.rand(60, 16, 20, generator=torch.Generator().manual_seed(1)) < 0.3).float()


def test_evaluation_draws_exactly_what_training_draws():
    """Without dropout, eval_mode='sample' is the training forward: same seed, identical outputs."""
    model = _small_meta_net(dropout=0.0)
    model.train()
    torch.manual_seed(7)
    trained = model(X)
    model.eval()
    torch.manual_seed(7)
    torch.testing.assert_close(model(X), trained, rtol=0, atol=0)


def test_train_and_eval_rates_agree_and_the_mean_field_rates_do_not():
    """Recipe dropout 0.4, 40 seeded draws per mode. Tolerances: rates within 15 % (dropout's extra input
    variance in training raises the second layer's rate by ~12 % here; the first layer is identical); the
    mean readout of evaluation is closer to training's than the mean-field mode's is (ratio < 0.6; 0.42
    measured). The mean-field mode must be measurably off (> 10 % lower second-layer rate), which shows the
    comparison is sensitive to the noise."""
    model = _small_meta_net(dropout=0.4)
    r_train, o_train = _rates_and_output(model, X, "train", draws=40)
    r_eval, o_eval = _rates_and_output(model, X, "sample", draws=40)
    r_mean, o_mean = _rates_and_output(model, X, "mean", draws=1)
    assert min(r_train) > 0.01  # every layer is active: the check is not vacuous
    for a, b in zip(r_train, r_eval):
        assert abs(b / a - 1) < 0.15, (r_train, r_eval)
    assert abs(r_eval[0] / r_train[0] - 1) < 1e-6  # the first layer sees no dropout: identical draws
    assert r_mean[1] < 0.9 * r_eval[1], (r_mean, r_eval)
    gap_sample = float((o_train - o_eval).abs().mean())
    gap_mean = float((o_train - o_mean).abs().mean())
    assert gap_sample < 0.6 * gap_mean, (gap_sample, gap_mean)


def test_ir_terms_are_exact_against_the_event_simulator():
    from spikerec.hardware import EventSimulator, Layer, Network

    torch.manual_seed(0)
    layer = MetaNeuron(30, 12, tau_ms=5.0, release_prob=0.4, quantal_amplitude=2.0, inhibition=0.02, threshold=0.4)
    layer.eval()
    with pytest.raises(NoExactIRError, match=r"'hidden0'.*stochastic.*neuron.meta_eval"):
        layer.ir_terms("hidden0")
    layer.eval_mode = "mean"
    terms = layer.ir_terms("hidden0")
    net = Network(layers=[Layer(name="hidden0", kind="lif", weight=terms.weight.astype(np.float32), delay=None,
                                bias=terms.bias, decay=terms.decay, threshold=terms.threshold, reset=terms.reset,
                                v_reset=terms.v_reset, decay_input=terms.decay_input)],
                  dt_ms=terms.dt_ms, n_inputs=30, n_classes=12)
    x = (torch.rand(40, 6, 30, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    sim = EventSimulator(net).run(x.numpy())
    with torch.no_grad():  # the layer in float64 with the IR's float32 parameter values
        layer.double()
        spikes = layer(x.double()).numpy()
    assert spikes.sum() > 20
    np.testing.assert_array_equal(sim.spikes[0], spikes)
    np.testing.assert_allclose(terms.inhibition, 0.02, rtol=1e-5)


def test_noise_free_layer_is_exact_even_when_sampling():
    layer = MetaNeuron(4, 3).eval()
    with torch.no_grad():
        layer.release_logit.fill_(40.0)  # p == 1 in float32
        layer.quantal_cv_logit.fill_(-200.0)  # c == 0
    assert float(layer.noise_weight().detach().abs().max()) == 0.0
    terms = layer.ir_terms()
    np.testing.assert_allclose(terms.weight, (layer.effective_weight()).detach().double().numpy())
    x = (torch.rand(10, 2, 4) < 0.5).float()
    assert torch.equal(layer(x), layer(x, sampling="mean"))


def test_monte_carlo_evaluation_reports_a_reproducible_spread():
    model = _small_meta_net(dropout=0.0)
    data = TensorDataset(X.transpose(0, 1), torch.arange(16) % 3)

    def collate(items):
        return torch.stack([f for f, _ in items], 1), torch.stack([y for _, y in items])

    loader = DataLoader(data, batch_size=8, collate_fn=collate)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = evaluate_draws(model, loader, 3, torch.device("cpu"), n_draws=4, seed=10)
    assert torch.equal(torch.rand(1), before)  # the caller's RNG stream is untouched
    again = evaluate_draws(model, loader, 3, torch.device("cpu"), n_draws=4, seed=10)
    assert first["accuracies"] == again["accuracies"] and first["n"] == 16 and first["n_draws"] == 4
    assert first["accuracy_min"] <= first["accuracy"] <= first["accuracy_max"]
    assert first["loss"] != pytest.approx(evaluate_draws(model, loader, 3, torch.device("cpu"), 4, seed=99)["loss"])
    with meta_eval_mode(model, "mean"):
        fixed = evaluate_draws(model, loader, 3, torch.device("cpu"), n_draws=3)
    assert fixed["accuracy_std"] == 0.0 and len(set(fixed["accuracies"])) == 1
    assert all(m.eval_mode == "sample" for m in model.modules() if isinstance(m, MetaNeuron))


def test_bad_arguments():
    with pytest.raises(ConfigError):
        MetaNeuron(3, 2, sampling="exact")
    with pytest.raises(ConfigError):
        MetaNeuron(3, 2, eval_mode="expectation")
    with pytest.raises(ParameterError, match="quantal_cv"):
        MetaNeuron(3, 2, quantal_cv=0.6)
    with pytest.raises(ConfigError):
        with meta_eval_mode(torch.nn.Identity(), "noisy"):
            pass
    layer = MetaNeuron(12, 5)
    with pytest.raises(ShapeError, match=r"\[T, B, 12\]"):
        layer(torch.zeros(5, 2, 11))
    with pytest.raises(ConfigError, match="gaussian"):
        MetaNeuron(2000, 2000, sampling="relaxed")(torch.zeros(20, 2, 2000))
