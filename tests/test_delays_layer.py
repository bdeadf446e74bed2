"""DelayedLinear API, integer mode, errors and model-level helpers (no peer libraries needed)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikerec.delays import (
    DelayedLinear,
    SigmaAnnealing,
    clamp_positions,
    integer_delay_mode,
    set_sigma,
    split_delay_parameters,
)
from spikerec.errors import ConfigError, NonFiniteError, ParameterError, ShapeError


def spikes(t, b, c, density=0.2, seed=0):
    return (torch.rand(t, b, c, generator=torch.Generator().manual_seed(seed)) < density).float()


def shift_and_sum(x, weight, delays):
    """Direct definition: y[t, b, o] = sum_{i,c} W[o,i,c] x[t - D[o,i,c], b, i]."""
    t_len = x.shape[0]
    y = torch.zeros(t_len, x.shape[1], weight.shape[0], dtype=x.dtype)
    for o in range(weight.shape[0]):
        for i in range(weight.shape[1]):
            for c in range(weight.shape[2]):
                d = int(delays[o, i, c])
                if d < t_len:
                    y[d:, :, o] += weight[o, i, c] * x[: t_len - d, :, i]
    return y


def test_shapes_attributes_and_causality():
    torch.manual_seed(0)
    layer = DelayedLinear(7, 5, max_delay_ms=50.0, dt_ms=2.0, kernel_count=2)
    assert layer.max_delay_steps == 25 and layer.sigma == 12.0
    assert layer.weight.shape == layer.positions.shape == (5, 7, 2)
    x = torch.randn(30, 3, 7)
    y = layer(x)
    assert y.shape == (30, 3, 5)
    x2 = x.clone()
    x2[17:] += torch.randn_like(x2[17:])
    y2 = layer(x2)
    assert torch.equal(y[:17], y2[:17]) and not torch.allclose(y[17:], y2[17:])


def test_integer_delays_from_positions():
    layer = DelayedLinear(3, 1, max_delay_ms=25.0, dt_ms=1.0)
    with torch.no_grad():
        layer.positions.copy_(torch.tensor([[[-12.0], [0.4], [12.0]]]))
    assert layer.integer_delays().flatten().tolist() == [24, 12, 0]
    assert layer.integer_delays().dtype == torch.long


@pytest.mark.parametrize("kernel_count", [1, 2])
def test_integer_mode_equals_shift_and_sum_exactly(kernel_count):
    torch.manual_seed(1)
    layer = DelayedLinear(6, 4, max_delay_ms=9.0, dt_ms=1.0, kernel_count=kernel_count)
    with torch.no_grad():  # small integer weights: every summation order gives the exact same floats
        layer.weight.copy_(torch.randint(-4, 5, layer.weight.shape).float())
        layer.weight[0, :2] = 0.0  # pruned synapses are skipped by the inference kernel
    x = spikes(20, 3, 6, density=0.3)
    ref = shift_and_sum(x, layer.weight.detach(), layer.integer_delays())
    layer.integer_mode = True
    assert torch.equal(layer(x), ref)  # differentiable path (one-hot kernel)
    with torch.no_grad():
        assert torch.equal(layer(x), ref)  # inference path (compiled shifted runs over synapses)
        assert torch.equal(layer(x * 3.0), 3.0 * ref)  # non-binary inputs


def test_integer_mode_float_weights_and_gradients():
    torch.manual_seed(2)
    layer = DelayedLinear(5, 3, max_delay_ms=7.0, dt_ms=1.0, kernel_count=2)
    x = torch.randn(15, 2, 5, requires_grad=True)
    layer.integer_mode = True
    y = layer(x)
    x_ref = x.detach().clone().requires_grad_(True)
    w_ref = layer.weight.detach().clone().requires_grad_(True)
    y_ref = shift_and_sum(x_ref, w_ref, layer.integer_delays())
    assert torch.allclose(y, y_ref, atol=1e-6)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    (y_ref * g).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-6) and torch.allclose(layer.weight.grad, w_ref.grad, atol=1e-6)
    assert layer.positions.grad is None


def test_linear_interpolation_at_integer_positions_is_integer_mode():
    torch.manual_seed(3)
    layer = DelayedLinear(6, 4, max_delay_ms=11.0, dt_ms=1.0, interpolation="linear")
    with torch.no_grad():
        layer.positions.round_()
    x = spikes(25, 2, 6)
    y = layer(x)
    with integer_delay_mode(layer):
        y_int = layer(x)
    assert not layer.integer_mode
    assert torch.allclose(y, y_int, atol=1e-6)


def test_fixed_random_delays_baseline():
    torch.manual_seed(4)
    layer = DelayedLinear(6, 4, max_delay_ms=11.0, dt_ms=1.0, learn_delays=False)
    assert not layer.positions.requires_grad
    assert torch.equal(layer.positions, layer.positions.round())
    x = spikes(25, 2, 6)
    y = layer(x)
    assert torch.allclose(y, shift_and_sum(x, layer.weight.detach(), layer.integer_delays()), atol=1e-6)
    y.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    positions, others = split_delay_parameters(layer)
    assert positions == [] and others == [layer.weight]


def test_sigma_is_settable_and_saved_in_state_dict():
    layer = DelayedLinear(3, 2, max_delay_ms=25.0, dt_ms=1.0)
    layer.sigma = 0.5
    other = DelayedLinear(3, 2, max_delay_ms=25.0, dt_ms=1.0)
    other.load_state_dict(layer.state_dict())
    assert other.sigma == 0.5
    with pytest.raises(ParameterError, match="DelayedLinear"):
        layer.sigma = -1.0


def test_typed_errors_name_the_layer():
    layer = DelayedLinear(4, 3, max_delay_ms=5.0, dt_ms=1.0)
    with pytest.raises(ShapeError, match=r"DelayedLinear\(4->3.*\[T, B, 4\]"):
        layer(torch.zeros(10, 2, 5))
    with pytest.raises(ShapeError):
        layer(torch.zeros(10, 4))
    with torch.no_grad():
        layer.positions[0, 0, 0] = 9.0
    with pytest.raises(ParameterError, match="clamp_positions_"):
        layer.integer_delays()
    with pytest.raises(ParameterError, match=r"^net\.0: "):
        with integer_delay_mode(nn.ModuleDict({"net": nn.Sequential(layer)})):
            pass
    assert clamp_positions(layer) == 1 and layer.integer_delays().min() == 0
    with torch.no_grad():
        layer.weight[0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="DelayedLinear"):
        layer(torch.zeros(10, 2, 4))
    with pytest.raises(ConfigError, match="whole number"):
        DelayedLinear(4, 3, max_delay_ms=5.5, dt_ms=1.0)
    with pytest.raises(ConfigError, match="interpolation"):
        DelayedLinear(4, 3, max_delay_ms=5.0, dt_ms=1.0, interpolation="cubic")


def test_positions_initialised_and_clamped_like_reference():
    torch.manual_seed(5)
    layer = DelayedLinear(40, 30, max_delay_ms=25.0, dt_ms=1.0)
    p = layer.positions.detach()
    assert p.min() == -12 and p.max() <= 12
    # U(-13, 12) clamped at -12: about 1/25 of the positions pile up at -12
    assert 0.02 < (p == -12).float().mean() < 0.07
    bound = (6.0 / 40) ** 0.5
    assert layer.weight.abs().max() <= bound


def test_model_helpers_and_optimiser_recipe():
    torch.manual_seed(6)
    model = nn.Sequential(DelayedLinear(4, 8, 25.0, 1.0), nn.ReLU(), DelayedLinear(8, 2, 25.0, 1.0, bias=True))
    positions, others = split_delay_parameters(model)
    assert positions == [model[0].positions, model[2].positions]
    assert others == [model[0].weight, model[2].weight, model[2].bias]
    assert set_sigma(model, 3.0) == 2 and model[2].sigma == 3.0
    opt = torch.optim.Adam([{"params": others, "lr": 1e-3}, {"params": positions, "lr": 100.0}])
    model(torch.randn(20, 2, 4)).pow(2).sum().backward()
    opt.step()  # a huge position step leaves the range ...
    assert model[0].positions.abs().max() > 12
    clamp_positions(model)  # ... and clamping restores it
    assert model[0].positions.abs().max() <= 12 and model[2].positions.abs().max() <= 12
    with integer_delay_mode(model):
        assert model[0].integer_mode and model[2].integer_mode
    assert not model[0].integer_mode


def test_sigma_annealing_follows_reference_decrease_sig():
    epochs, k = 40, 25
    sched = SigmaAnnealing.reference(k, epochs)
    assert (sched.sigma_start, sched.sigma_final, sched.anneal_epochs) == (12, 0.23, 10)
    # transcription of the reference: SIG float32 tensor, shrunk after each epoch e < final_epoch while > 0.23
    sig = torch.full((1,), float(k // 2))
    alpha = (0.23 / (k // 2)) ** (1 / 10)
    seen = []
    for epoch in range(epochs):
        seen.append(float(sig[0]))
        if epoch < 10 and sig[0] > 0.23:
            sig *= alpha
    assert [sched.sigma_at(e) for e in range(epochs)] == seen
    assert sched.sigma_at(0) == 12 and abs(sched.sigma_at(10) - 0.23) < 1e-6 and sched.sigma_at(39) == sched.sigma_at(10)
    model = nn.Sequential(DelayedLinear(2, 2, 25.0, 1.0))
    assert sched.apply(model, 5) == model[0].sigma == sched.sigma_at(5)
    assert SigmaAnnealing(0.23, 0.23, 0).sigma_at(7) == pytest.approx(0.23)
    with pytest.raises(ConfigError):
        SigmaAnnealing(-1.0, 0.23, 3)


def test_integer_mode_follows_position_updates():
    """Integer delays are cached between calls; any in-place change of the positions must be seen."""
    torch.manual_seed(5)
    layer = DelayedLinear(3, 2, max_delay_ms=6.0, dt_ms=1.0)
    layer.integer_mode = True
    x = torch.zeros(8, 1, 3)
    x[0] = 1.0
    with torch.no_grad():
        layer.positions.fill_(2.0)  # delay K - 1 - K // 2 - 2 = 0
        first = layer(x).clone()
        layer.positions.fill_(0.0)  # delay 2
        second = layer(x)
        layer.load_state_dict({**layer.state_dict(), "positions": torch.full_like(layer.positions, -3.0)})  # delay 5
        third = layer(x)
    assert first[0].abs().sum() > 0 and first[1:].abs().sum() == 0
    assert second[2].abs().sum() > 0 and torch.equal(second[2], first[0]) and second[:2].abs().sum() == 0
    assert torch.equal(third[5], first[0]) and third[:5].abs().sum() == 0
