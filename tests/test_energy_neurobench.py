"""spikerec's counts vs NeuroBench's SynapticOperations / ActivationSparsity on the same model and data,
and the documented mapping where the definitions differ (recurrence, delays, padding)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("neurobench")

from spikerec.config import load_recipe  # noqa: E402
from spikerec.hardware.energy.counts import count_workload  # noqa: E402
from spikerec.hardware.energy.neurobench import neurobench_metrics  # noqa: E402
from spikerec.models import build_model  # noqa: E402


def _model(kind: str, delays: bool, batchnorm: bool = True):
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[24,16]", f"model.kind={kind}",
                                       f"model.delays={str(delays).lower()}", f"model.batchnorm={str(batchnorm).lower()}",
                                       "model.dropout=0.0", "delays.max_delay_ms=60.0"])
    torch.manual_seed(0)
    model = build_model(recipe, 16, 4).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() >= 2:
                p.mul_(3.0 * (torch.rand(p.shape, generator=g) < 0.7))  # prune 30 %, livelier spiking
    return model


def _frames(t=30, b=8, c=16, seed=2):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, b, c, generator=g) < 0.3).float() * torch.randint(1, 3, (t, b, c), generator=g).float()


@pytest.mark.parametrize("kind,delays", [("lif_rsnn", False), ("delay_snn", True)])
def test_counts_agree_with_neurobench(kind, delays):
    model, frames = _model(kind, delays), _frames()
    nb = neurobench_metrics(model, frames, batch_size=4)
    ours = count_workload(model, frames)
    total = ours.per_sample()["total"]
    ops = nb["SynapticOperations"]
    assert ops["Effective_MACs"] > 0 and ops["Effective_ACs"] > 0  # count-valued frames are MACs, spikes ACs
    assert ops["Effective_ACs"] + ops["Effective_MACs"] == pytest.approx(total["synaptic_ops"] + total["recurrent_ops"],
                                                                         rel=1e-9)
    assert ops["Dense"] == pytest.approx(total["dense_macs"], rel=1e-9)
    assert nb["ActivationSparsity"] == pytest.approx(ours.activation_sparsity, rel=1e-9)
    assert 0.0 < ours.activation_sparsity < 1.0
    assert nb["ConnectionSparsity"] == pytest.approx(round(ours.connection_sparsity, 4), abs=1e-12)
    assert (nb["ParameterCount"], nb["Footprint"]) == (ours.parameter_count, ours.footprint_bytes)


def test_plain_neurobench_misses_recurrent_and_delayed_synapses():
    """Without spikerec's probes NeuroBench sees only nn.Linear layers: the mapping is
    plain ACs + MACs = feed-forward synaptic_ops of nn.Linear synapses; recurrent_ops are extra."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import SynapticOperations
    from neurobench.models import TorchModel
    from torch.utils.data import DataLoader, TensorDataset

    from spikerec.hardware.energy.neurobench import _TimeMajor
    from spikerec.neurons import LIF

    model, frames = _model("lif_rsnn", False), _frames()
    wrapped = TorchModel(_TimeMajor(model))
    wrapped.add_activation_module(LIF)
    data = DataLoader(TensorDataset(frames.transpose(0, 1), torch.zeros(frames.shape[1], dtype=torch.long)), batch_size=4)
    with torch.no_grad():
        ops = Benchmark(wrapped, data, [], [], [[], [SynapticOperations]]).run(quiet=True)["SynapticOperations"]
    total = count_workload(model, frames).per_sample()["total"]
    assert total["recurrent_ops"] > 0
    assert ops["Effective_ACs"] + ops["Effective_MACs"] == pytest.approx(total["synaptic_ops"], rel=1e-9)


def test_padding_mapping():
    """NeuroBench counts every step of a padded batch; spikerec with ``lengths`` only the real steps."""
    model, frames = _model("delay_snn", True, batchnorm=False), _frames(t=20, b=4)
    lengths = torch.tensor([20, 12, 16, 8])
    frames[torch.arange(20).unsqueeze(1) >= lengths] = 0.0  # zero padding, as pad_collate makes
    nb = neurobench_metrics(model, frames, batch_size=4)
    padded, trimmed = count_workload(model, frames), count_workload(model, frames, lengths)
    assert nb["ActivationSparsity"] == pytest.approx(padded.activation_sparsity, rel=1e-9)
    assert trimmed.per_sample()["total"]["neuron_updates"] == 56 / 4 * (24 + 16 + 4)
    assert trimmed.per_sample()["total"]["synaptic_ops"] <= padded.per_sample()["total"]["synaptic_ops"]
