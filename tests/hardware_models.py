"""Small seeded spikerec models and IR networks shared by the tests/test_hardware_*.py files."""

from __future__ import annotations

import numpy as np
import torch

from spikerec.config import load_recipe
from spikerec.hardware.ir.network import Layer, Network
from spikerec.models import build_model


def small_recipe(kind: str = "lif_rsnn", delays: bool = True, hidden=(24, 16), decay_input: bool = False):
    """A tiny recipe: 10 ms bins, delays up to 8 steps, BN and dropout on."""
    return load_recipe("synthetic", [f"model.kind={kind}", f"model.delays={str(delays).lower()}",
                                     f"model.hidden_sizes=[{','.join(map(str, hidden))}]", "delays.max_delay_ms=80",
                                     f"neuron.decay_input={str(decay_input).lower()}", "neuron.tau_ms=30.0",
                                     "neuron.readout_tau_ms=40.0", "model.dropout=0.2",
                                     # decay_input scales inputs by dt/tau: a lower threshold keeps neurons active
                                     f"neuron.threshold={0.4 if decay_input else 1.0}"])


def trained_model(kind: str = "lif_rsnn", delays: bool = True, n_inputs: int = 20, n_classes: int = 4,
                  steps: int = 3, seed: int = 0, decay_input: bool = False):
    """A model trained for a few Adam steps on seeded random spikes (so BN statistics and weights are
    non-trivial), returned in eval mode with its recipe."""
    recipe = small_recipe(kind, delays, decay_input=decay_input)
    torch.manual_seed(seed)
    model = build_model(recipe, n_inputs, n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    x, y = random_frames(40, 8, n_inputs, seed=seed), torch.arange(8) % n_classes
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(torch.softmax(model(x), 2).sum(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for m in model.modules():
            if hasattr(m, "clamp_positions_"):
                m.clamp_positions_()
    return model.eval(), recipe


def random_frames(T: int, B: int, C: int, p: float = 0.25, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, C, generator=g) < p).float()


def ir_network(sizes=(12, 20, 6), decay_input: bool = True, recurrent: bool = False, delays: bool = False,
               bias: bool = False, last_kind: str = "lif", seed: int = 0, gain: float = 2.0) -> Network:
    """A hand-built IR network with seeded weights that spike (homogeneous tau and threshold)."""
    rng = np.random.default_rng(seed)
    layers = []
    n_layers = len(sizes) - 1
    for i in range(n_layers):
        n_in, n_out = sizes[i], sizes[i + 1]
        scale = gain * (5.0 if decay_input else 1.0) / np.sqrt(n_in)
        w = (rng.standard_normal((n_out, n_in)) * scale + 0.3 * scale).astype(np.float32)
        kind = last_kind if i == n_layers - 1 else "lif"
        layers.append(Layer(
            name="readout" if kind == "li" else f"hidden{i}", kind=kind, weight=w,
            delay=rng.integers(0, 5, (n_out, n_in)).astype(np.int32) if delays else None,
            bias=(rng.standard_normal(n_out) * 0.1).astype(np.float32) if bias else None,
            decay=np.full(n_out, 0.8, np.float32), threshold=np.ones(n_out, np.float32),
            decay_input=decay_input,
            recurrent_weight=(rng.standard_normal((n_out, n_out)) * 0.3).astype(np.float32)
            if recurrent and kind == "lif" else None))
    return Network(layers=layers, dt_ms=1.0, n_inputs=sizes[0], n_classes=sizes[-1],
                   readout="softmax_sum" if last_kind == "li" else "membrane_sum")
