"""``build_model(recipe, n_inputs, n_classes)``: the model registry keyed by ``recipe.model.kind``.

* ``delay_snn``: feedforward SNN with learnable delays (Hammouamri et al. 2024); with
  ``model.delays = false`` the same network with plain ``nn.Linear`` synapses (no delays).
* ``lif_rsnn`` / ``adlif_rsnn``: recurrent LIF / adaptive-LIF baselines (no delays).
* ``meta_snn``: the feedforward network with meta-neurons in the hidden layers.
* ``hrsnn``: the heterogeneous recurrent SNN of :mod:`spikerec.models.hrsnn`.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from spikerec.config import Recipe
from spikerec.errors import ConfigError
from spikerec.models.network import MetaBlock, Readout, SpikingBlock, SpikingNetwork
from spikerec.neurons.surrogate import get as get_surrogate

NeuronFactory = Callable[[int, Recipe], nn.Module]


def _lif_kwargs(recipe: Recipe) -> dict:
    n = recipe.neuron
    return dict(tau_ms=n.tau_ms, dt_ms=recipe.data.bin_ms, threshold=n.threshold, reset=n.reset,
                v_reset=n.v_reset, detach_reset=n.detach_reset, surrogate=n.surrogate,
                surrogate_kwargs=_surrogate_kwargs(recipe), decay_input=n.decay_input, learn_tau=n.learn_tau)


def _surrogate_kwargs(recipe: Recipe) -> dict:
    """The recipe's one shape parameter, under the name the chosen surrogate uses."""
    name = "slope" if recipe.neuron.surrogate == "fast_sigmoid" else "alpha"
    return {name: recipe.neuron.surrogate_alpha}


def lif_neuron(n: int, recipe: Recipe) -> nn.Module:
    from spikerec.neurons import LIF

    return LIF(n, **_lif_kwargs(recipe))


def recurrent_lif_neuron(n: int, recipe: Recipe) -> nn.Module:
    from spikerec.neurons import RecurrentLIF

    return RecurrentLIF(n, **_lif_kwargs(recipe))


def adaptive_lif_neuron(n: int, recipe: Recipe) -> nn.Module:
    """Recurrent adLIF (Bittar & Garner 2022); time constants and adaptation are learned."""
    from spikerec.neurons import AdaptiveLIF

    c = recipe.neuron
    return AdaptiveLIF(n, tau_ms=c.tau_ms, tau_adapt_ms=c.tau_adapt_ms, a=c.adapt_a, b=c.adapt_b,
                       dt_ms=recipe.data.bin_ms, threshold=c.threshold, reset=c.reset, v_reset=c.v_reset,
                       detach_reset=c.detach_reset, surrogate=c.surrogate, surrogate_kwargs=_surrogate_kwargs(recipe),
                       recurrent=True, learn_tau=c.learn_tau)


def synapse(n_in: int, n_out: int, recipe: Recipe, delays: bool) -> nn.Module:
    """A ``DelayedLinear`` (when ``delays``) or an ``nn.Linear`` applied per time step."""
    if not delays:
        return nn.Linear(n_in, n_out, bias=recipe.model.bias)
    from spikerec.delays import DelayedLinear

    d = recipe.delays
    return DelayedLinear(n_in, n_out, max_delay_ms=d.max_delay_ms, dt_ms=recipe.data.bin_ms, bias=recipe.model.bias,
                         kernel_count=d.kernel_count, interpolation=d.interpolation,
                         sigma=d.sigma_start or None, init_positions=d.init_positions)


def stacked_network(recipe: Recipe, n_inputs: int, n_classes: int, neuron: NeuronFactory, delays: bool) -> SpikingNetwork:
    """Hidden blocks (synapse -> BN -> neuron -> dropout) and an LI readout, sizes from the recipe."""
    from spikerec.neurons import LI

    m = recipe.model
    blocks, n_in = [], n_inputs
    for size in m.hidden_sizes:
        blocks.append(SpikingBlock(synapse(n_in, size, recipe, delays), neuron(size, recipe), size,
                                   batchnorm=m.batchnorm, dropout=m.dropout))
        n_in = size
    integrator = LI(n_classes, tau_ms=recipe.neuron.readout_tau_ms, dt_ms=recipe.data.bin_ms,
                    decay_input=recipe.neuron.decay_input)
    return SpikingNetwork(blocks, Readout(synapse(n_in, n_classes, recipe, delays), integrator), kind=m.kind)


def build_delay_snn(recipe: Recipe, n_inputs: int, n_classes: int) -> nn.Module:
    return stacked_network(recipe, n_inputs, n_classes, lif_neuron, recipe.model.delays)


def build_lif_rsnn(recipe: Recipe, n_inputs: int, n_classes: int) -> nn.Module:
    return stacked_network(recipe, n_inputs, n_classes, recurrent_lif_neuron, recipe.model.delays)


def hrsnn_config(recipe: Recipe, n_inputs: int, n_classes: int):
    """The :class:`~spikerec.models.hrsnn.HRSNNConfig` a recipe describes: ``hidden_sizes[0]`` neurons
    (gamma-distributed tau of mean ``neuron.tau_ms``), the recipe's neuron, block and readout options."""
    from spikerec.models.hrsnn import HRSNNConfig

    n, m = recipe.neuron, recipe.model
    return HRSNNConfig(n_inputs=n_inputs, n_neurons=m.hidden_sizes[0], n_outputs=n_classes, dt_ms=recipe.data.bin_ms,
                       tau_mean_ms=n.tau_ms, threshold=n.threshold, reset=n.reset, v_reset=n.v_reset,
                       detach_reset=n.detach_reset, decay_input=n.decay_input, surrogate=n.surrogate,
                       surrogate_alpha=n.surrogate_alpha, learn_tau=n.learn_tau, batchnorm=m.batchnorm,
                       dropout=m.dropout, readout_tau_ms=n.readout_tau_ms, seed=recipe.train.seed)


def build_hrsnn(recipe: Recipe, n_inputs: int, n_classes: int) -> nn.Module:
    """One heterogeneous recurrent layer (:class:`~spikerec.models.hrsnn.HRSNN`, a SpikingNetwork)."""
    from spikerec.models.hrsnn import HRSNN

    return HRSNN(hrsnn_config(recipe, n_inputs, n_classes))


def build_adlif_rsnn(recipe: Recipe, n_inputs: int, n_classes: int) -> nn.Module:
    return stacked_network(recipe, n_inputs, n_classes, adaptive_lif_neuron, recipe.model.delays)


def build_meta_snn(recipe: Recipe, n_inputs: int, n_classes: int) -> nn.Module:
    """Hidden layers of meta-neurons (each with its own stochastic release synapses, Rudnicka et al.),
    dropout after each; the readout is a delay synapse (``model.delays``) into an LI membrane.
    ``neuron.meta_eval`` chooses how the meta-neurons evaluate ("sample": as trained; "mean": deterministic)."""
    from spikerec.neurons import LI, MetaNeuron

    m, c = recipe.model, recipe.neuron
    blocks, n_in = [], n_inputs
    for size in m.hidden_sizes:
        layer = MetaNeuron(n_in, size, tau_ms=c.tau_ms, dt_ms=recipe.data.bin_ms, threshold=c.threshold,
                           eval_mode=c.meta_eval, surrogate=get_surrogate(c.surrogate, **_surrogate_kwargs(recipe)),
                           learn_tau=c.learn_tau)
        blocks.append(MetaBlock(layer, m.dropout))
        n_in = size
    integrator = LI(n_classes, tau_ms=c.readout_tau_ms, dt_ms=recipe.data.bin_ms, decay_input=c.decay_input)
    return SpikingNetwork(blocks, Readout(synapse(n_in, n_classes, recipe, m.delays), integrator), kind=m.kind)


MODEL_BUILDERS: dict[str, Callable[[Recipe, int, int], nn.Module]] = {
    "delay_snn": build_delay_snn,
    "lif_rsnn": build_lif_rsnn,
    "adlif_rsnn": build_adlif_rsnn,
    "meta_snn": build_meta_snn,
    "hrsnn": build_hrsnn,
}


def build_model(recipe: Recipe, n_inputs: int, n_classes: int) -> nn.Module:
    """Build the network ``recipe.model.kind`` for ``n_inputs`` channels and ``n_classes`` classes."""
    if n_inputs < 1 or n_classes < 2:
        raise ConfigError(f"build_model: need n_inputs >= 1 and n_classes >= 2, got {n_inputs}, {n_classes}")
    try:
        builder = MODEL_BUILDERS[recipe.model.kind]
    except KeyError:
        raise ConfigError(f"recipe key 'model.kind' = {recipe.model.kind!r} has no builder; "
                          f"available: {sorted(MODEL_BUILDERS)}") from None
    return builder(recipe, n_inputs, n_classes)
