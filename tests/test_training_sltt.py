"""SLTT (``spikerec.training.sltt``) against independent references built with plain autograd.

The reference is SLTT's definition: the whole-sequence network (each synapse's own multi-step ``forward``, so
a delay synapse's taps all keep their graph; BatchNorm written out with each step's batch statistics) whose
neurons start every step from a detached state, and one ``backward`` of the loss. ``sltt_backward`` computes
the same gradient chunk by chunk (online state, wavefront backpropagation), so any chunk length must agree.
"""

from __future__ import annotations

import pytest
import torch

from spikerec.config import load_recipe
from spikerec.models import build_model
from spikerec.training import softmax_sum_cross_entropy, sltt_backward
from spikerec.training.sltt import pick_steps


def _model(delays: str, batchnorm: str = "true", seed: int = 0):
    recipe = load_recipe("synthetic", ["model.hidden_sizes=[10, 8]", "delays.max_delay_ms=40.0",
                                       f"model.delays={delays}", f"model.batchnorm={batchnorm}", "model.dropout=0.0"])
    torch.manual_seed(seed)
    model = build_model(recipe, 6, 3)
    with torch.no_grad():  # spread the delays over the window: the delayed taps must matter
        for name, p in model.named_parameters():
            if name.endswith("positions"):
                p.uniform_(-float(p.abs().max()) - 3, 0.0)
    return model


def _data(steps: int = 14, batch: int = 5):
    torch.manual_seed(1)
    frames = (torch.rand(steps, batch, 6) < 0.4).float() * 3
    return frames, torch.tensor([0, 1, 2, 1, 0])[:batch]


def _batch_norm_each_step(norm, y):
    """Training-mode BatchNorm with every step's own statistics over the batch (biased variance)."""
    mean = y.mean(dim=1, keepdim=True)
    var = y.var(dim=1, unbiased=False, keepdim=True)
    return (y - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def _detached_state_outputs(model, frames, picked=None):
    """Readout [T, B, K] of the network whose neurons start each step from a detached state.

    ``picked`` [T] bool (SLTT-K): only these steps' outputs keep their graph."""
    x = frames
    for block in model.blocks:
        y = block.synapse(x)
        if block.norm is not None:
            y = _batch_norm_each_step(block.norm, y)
        x = _steps_from_detached_state(block.neuron, y)
    out = _steps_from_detached_state(model.readout.integrator, model.readout.synapse(x))
    if picked is None:
        return out
    return torch.where(picked[:, None, None], out, out.detach())


def _steps_from_detached_state(neuron, y):
    state = neuron.initial_state(y.shape[1], device=y.device, dtype=y.dtype)
    outs = []
    for t in range(y.shape[0]):
        out, state = neuron.step(y[t], type(state)(*(v.detach() for v in state)))
        outs.append(out)
    return torch.stack(outs)


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _reference(model, frames, labels, picked=None):
    model.zero_grad(set_to_none=True)
    loss = softmax_sum_cross_entropy(_detached_state_outputs(model, frames, picked), labels)
    loss.backward()
    return loss.detach(), _grads(model)


def _assert_same(grads, ref):
    assert grads.keys() == ref.keys() and len(grads) > 0
    for name, g in grads.items():
        torch.testing.assert_close(g, ref[name], atol=2e-6, rtol=1e-4, msg=name)


@pytest.mark.parametrize("chunk_steps", [1, 3, 0])
@pytest.mark.parametrize("delays", ["true", "false"])
def test_sltt_equals_bptt_with_the_neuron_state_detached(delays, chunk_steps):
    model = _model(delays)
    frames, labels = _data()
    ref_loss, ref = _reference(model, frames, labels)
    model.zero_grad(set_to_none=True)
    loss, scores = sltt_backward(model, frames, labels, chunk_steps=chunk_steps)
    torch.testing.assert_close(loss, ref_loss)
    assert scores.shape == (5, 3)
    _assert_same(_grads(model), ref)
    if delays == "true":  # the delayed taps carry gradient: positions get one
        assert any(n.endswith("positions") and g.abs().sum() > 0 for n, g in ref.items())


def test_sltt_k_backpropagates_only_the_drawn_steps():
    model = _model("true")
    frames, labels = _data()
    torch.manual_seed(7)
    picked = pick_steps(frames.shape[0], 4, frames.device)
    assert int(picked.sum()) == 4
    ref_loss, ref = _reference(model, frames, labels, picked)
    model.zero_grad(set_to_none=True)
    torch.manual_seed(7)  # sltt_backward draws its steps first, from the same RNG
    loss, _ = sltt_backward(model, frames, labels, k_steps=4, chunk_steps=3)
    torch.testing.assert_close(loss, ref_loss)
    _assert_same(_grads(model), ref)


def test_sltt_keeps_the_delay_gradient_close_to_bptt():
    """Dropping the neuron state's temporal routes leaves the weight and position gradients of a delay network
    close to BPTT's (the delayed synaptic routes are kept); the old detached-window SLTT gave cosine ~0.06."""
    model = _model("true", batchnorm="false", seed=3)
    frames, labels = _data(steps=20, batch=5)
    model.zero_grad(set_to_none=True)
    softmax_sum_cross_entropy(model(frames), labels).backward()
    bptt = _grads(model)
    model.zero_grad(set_to_none=True)
    sltt_backward(model, frames, labels)
    sltt = _grads(model)
    for name, g in bptt.items():
        if name.endswith(("weight", "positions")):
            cosine = torch.nn.functional.cosine_similarity(g.flatten(), sltt[name].flatten(), dim=0)
            assert cosine > 0.9, (name, float(cosine))



def test_chunk_batch_norm_equals_torch_batch_norm_step_by_step():
    """``batch_norm_steps`` (one chunk at once) against ``nn.BatchNorm1d`` applied step by step on the valid rows;
    step 2 has a single valid sample (running statistics, no update), step 3 none."""
    from spikerec.models.network import batch_norm_rows, batch_norm_steps

    torch.manual_seed(0)
    y = torch.randn(5, 6, 4, requires_grad=True)
    valid = torch.ones(5, 6, dtype=torch.bool)
    valid[1, 4:] = False
    valid[2, 1:] = False
    valid[3] = False
    ours, theirs = torch.nn.BatchNorm1d(4, momentum=0.3), torch.nn.BatchNorm1d(4, momentum=0.3)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 2.0)
        ours.bias.uniform_(-1.0, 1.0)
    theirs.load_state_dict(ours.state_dict())
    got = batch_norm_steps(ours, y, valid)
    weight = torch.randn_like(got)
    (g_got,) = torch.autograd.grad((got * weight).sum(), y)
    for t in range(5):  # each step's backward before the next step updates the running statistics in place
        want = batch_norm_rows(theirs, y[t], valid[t])
        torch.testing.assert_close(got[t], want)
        (g_want,) = torch.autograd.grad((want * weight[t]).sum(), y)
        torch.testing.assert_close(g_got[t], g_want[t])
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), msg=name)


def test_sltt_updates_the_batch_norm_statistics_once():
    model = _model("true")
    frames, labels = _data()
    with torch.no_grad():
        once = _model("true")
        once.online_chunk(frames, once.online_state(frames.shape[1], frames.device))
    sltt_backward(model, frames, labels, chunk_steps=4)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, once.state_dict()[name], msg=name)
