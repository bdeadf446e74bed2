"""Model builders: shapes, layer types, the no-delay switch, and online (per-step) == multi-step."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikerec.config import ConfigError, load_recipe
from spikerec.delays import DelayedLinear
from spikerec.models import HRSNN, SpikingNetwork, build_model
from spikerec.neurons import LI, LIF, RecurrentLIF

SMALL = ["model.hidden_sizes=[12, 10]", "delays.max_delay_ms=50.0", "model.dropout=0.2"]


def _frames(t=15, b=3, c=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, b, c, generator=g) < 0.3).float()


def test_delay_snn_structure_and_shapes():
    torch.manual_seed(0)
    model = build_model(load_recipe("shd-delays", SMALL), 7, 5)
    assert isinstance(model, SpikingNetwork)
    assert [type(b.synapse) for b in model.blocks] == [DelayedLinear, DelayedLinear]
    assert all(isinstance(b.neuron, LIF) and isinstance(b.norm, nn.BatchNorm1d) for b in model.blocks)
    assert isinstance(model.readout.synapse, DelayedLinear) and isinstance(model.readout.integrator, LI)
    assert model.blocks[0].synapse.max_delay_steps == 5
    lif = model.blocks[0].neuron
    assert torch.allclose(lif.tau_ms, torch.tensor(10.05)) and lif.cfg.detach_reset and not lif.cfg.decay_input
    out = model(_frames())
    assert out.shape == (15, 3, 5) and torch.isfinite(out).all()


def test_no_delay_switch_gives_plain_linear_synapses():
    model = build_model(load_recipe("shd-delays", SMALL + ["model.delays=false"]), 7, 5)
    assert not any(isinstance(m, DelayedLinear) for m in model.modules())
    assert all(isinstance(b.synapse, nn.Linear) for b in [*model.blocks, model.readout])
    assert model(_frames()).shape == (15, 3, 5)


def test_recurrent_and_hrsnn_builders():
    model = build_model(load_recipe("synthetic", ["model.kind=lif_rsnn", "model.delays=false"]), 7, 4)
    assert isinstance(model.blocks[0].neuron, RecurrentLIF)
    assert model(_frames()).shape == (15, 3, 4)
    hr = build_model(load_recipe("hrsnn-lnp", ["model.hidden_sizes=[20]"]), 7, 4)
    assert isinstance(hr, HRSNN) and isinstance(hr, SpikingNetwork) and hr(_frames()).shape == (15, 3, 4)


def test_adlif_and_meta_builders():
    from spikerec.neurons import AdaptiveLIF, MetaNeuron

    adlif = build_model(load_recipe("shd-adlif", ["model.hidden_sizes=[9]"]), 7, 4)
    neuron = adlif.blocks[0].neuron
    assert isinstance(neuron, AdaptiveLIF) and neuron.recurrent_weight is not None
    assert adlif(_frames()).shape == (15, 3, 4) and adlif.supports_online
    meta = build_model(load_recipe("shd-meta", ["model.hidden_sizes=[9, 8]", "delays.max_delay_ms=50.0"]), 7, 4)
    assert all(isinstance(b.layer, MetaNeuron) for b in meta.blocks)
    assert isinstance(meta.readout.synapse, DelayedLinear) and not meta.supports_online
    assert meta(_frames()).shape == (15, 3, 4)
    from spikerec.training.sltt import check_sltt_model

    with pytest.raises(ConfigError, match="sltt"):
        check_sltt_model(meta)


def test_build_model_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="n_classes"):
        build_model(load_recipe("synthetic"), 7, 1)


@pytest.mark.parametrize("overrides", [SMALL, SMALL + ["model.delays=false"],
                                       ["model.kind=lif_rsnn", "model.delays=false", "model.hidden_sizes=[9]"],
                                       ["model.kind=adlif_rsnn", "model.delays=false", "model.hidden_sizes=[9]",
                                        "neuron.reset=soft", "neuron.decay_input=true"]])
def test_online_steps_reproduce_the_multistep_forward(overrides):
    """In eval mode (fixed BN statistics, no dropout) stepping one frame at a time is the same network."""
    torch.manual_seed(1)
    model = build_model(load_recipe("synthetic", overrides), 7, 4)
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = _frames(seed=2) * 2.0
    with torch.no_grad():
        full = model(x)
        state = model.online_state(x.shape[1], x.device)
        steps = []
        for t in range(x.shape[0]):
            out_t, state = model.online_step(x[t], state)
            steps.append(out_t)
    assert torch.allclose(torch.stack(steps), full, atol=1e-5)
