"""Quantisation-aware training (``train.qat_weight_bits``): straight-through rounding of the synaptic weights."""

from __future__ import annotations

import pytest
import torch

from hardware_models import random_frames, small_recipe
from spikerec.config import apply_overrides
from spikerec.errors import ConfigError
from spikerec.models import build_model
from spikerec.training.qat import fake_quantize, rounded_weights, synaptic_weights


def test_fake_quantize_is_a_symmetric_grid():
    w = torch.randn(40, 30)
    q = fake_quantize(w, 3)
    step = w.abs().max() / 3
    k = q / step
    assert torch.allclose(k, k.round(), atol=1e-5) and k.abs().max() <= 3 + 1e-5  # 7 levels: -3..3
    assert (q - w).abs().max() <= step / 2 + 1e-6
    assert torch.equal(fake_quantize(torch.zeros(3, 3), 4), torch.zeros(3, 3))


def test_gradient_is_taken_at_the_rounded_weights_and_the_float_weights_come_back():
    """Straight-through: the float weight's gradient equals the gradient of the same loss at q(W), computed here
    independently with a copy of the model that holds q(W) as its weights."""
    torch.manual_seed(0)
    recipe = small_recipe("delay_snn", delays=True)
    model = build_model(recipe, 12, 3).train()
    x, y = random_frames(20, 4, 12, p=0.4), torch.tensor([0, 1, 2, 0])
    floats = {n: p.detach().clone() for n, p in model.named_parameters()}
    reference = build_model(recipe, 12, 3).train()
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in synaptic_weights(reference):
            p.copy_(fake_quantize(p, 4))

    def loss_of(m):
        torch.manual_seed(1)  # same dropout masks
        return torch.nn.functional.cross_entropy(m(x).sum(0), y)

    loss_of(reference).backward()
    with rounded_weights(model, 4):
        loss_of(model).backward()
    names = [n for n, p in model.named_parameters() if any(p is q for q in synaptic_weights(model))]
    assert len(names) == 3  # two hidden layers and the readout; BatchNorm scales are not rounded
    grads = dict(reference.named_parameters())
    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), floats[n]), n
        if p.grad is not None:
            torch.testing.assert_close(p.grad, grads[n].grad, rtol=1e-5, atol=1e-7)


def test_recipe_key_and_trainer(tmp_path, monkeypatch):
    from spikerec.config import validate
    from spikerec.datasets.synthetic import synthesize
    from spikerec.training.runs import train
    from spikerec.training.trainer import Trainer

    with pytest.raises(ConfigError, match="train.qat_weight_bits"):
        validate(apply_overrides(small_recipe("delay_snn"), ["train.qat_weight_bits=1"]))
    data = tmp_path / "data"
    synthesize("shd", data, n_train=12, n_test=6, n_classes=3, seed=0)
    recipe = apply_overrides(small_recipe("delay_snn", hidden=(8,)), ["train.qat_weight_bits=3", "train.epochs=1",
                                                                      "train.batch_size=6"])
    levels = []
    original = Trainer._loss_and_backward

    def spy(self, *args):
        levels.append(max(len(torch.unique(p.detach())) for p in synaptic_weights(self.model)))
        return original(self, *args)

    monkeypatch.setattr(Trainer, "_loss_and_backward", spy)
    summary = train(recipe, data, tmp_path / "run", progress=False)
    assert summary["epochs"] == 1 and levels and max(levels) <= 7  # every training batch saw 3-bit weights
