"""Meta-neuron networks on hardware: the deterministic (mean-field) network exports to the Network IR and the
event simulator spikes exactly like the torch model; the stochastic one is refused with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikerec.config import load_recipe
from spikerec.delays import delay_eval_context
from spikerec.hardware import EventSimulator, network_from_model
from spikerec.models import build_model
from spikerec.neurons.meta import NoExactIRError


def _meta_model(meta_eval: str):
    recipe = load_recipe("shd-meta", ["model.hidden_sizes=[24,16]", f"neuron.meta_eval={meta_eval}",
                                      "delays.max_delay_ms=50"])
    torch.manual_seed(0)
    model = build_model(recipe, 20, 4).eval()
    with torch.no_grad():
        for block in model.blocks:  # strong enough weights that every layer spikes on the test input
            block.layer.weight.mul_(6.0)
    return model


def test_mean_field_meta_network_exports_and_spikes_like_the_model():
    model = _meta_model("mean").double()
    frames = (torch.rand(60, 3, 20, generator=torch.Generator().manual_seed(1)) < 0.3).double()
    net = network_from_model(model)
    assert [la.kind for la in net.layers] == ["lif", "lif", "li"]
    res = EventSimulator(net).run(frames)
    with torch.no_grad(), delay_eval_context(model, True):
        h, torch_spikes = frames, []
        for block in model.blocks:
            h = block(h)
            torch_spikes.append(h.numpy())
        membrane = model.readout(h).numpy()
    for ours, theirs in zip(res.spikes[:2], torch_spikes):
        assert theirs.sum() > 0
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(res.membrane[-1], membrane, rtol=1e-5, atol=1e-6)


def test_stochastic_meta_network_is_refused_with_the_reason():
    with pytest.raises(NoExactIRError, match=r"hidden0.*stochastic.*meta_eval"):
        network_from_model(_meta_model("sample"))
