"""Run one computation on the torch and the compiled kernel backends and compare (neuron kernel tests)."""

from __future__ import annotations

import torch

from spikerec.neurons import functional as NF


def on_both_backends(fn, threads: int = 2) -> list:
    """``[fn() on the torch backend, fn() on the C backend]`` with ``torch.set_num_threads(threads)`` meanwhile
    (2: the compiled kernels split the batch rows over two threads when the work is large enough)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = []
        for backend in ("torch", "c"):
            with NF.backend(backend):
                out.append(fn())
        return out
    finally:
        torch.set_num_threads(before)


def assert_backends_agree(ref, other, state_atol: float = 1e-12, grad_tol: float = 1e-9) -> None:
    """``(spikes, state, grads)`` of two backends: equal spikes, states within ``state_atol``, gradients within
    ``grad_tol`` (float64 runs; the recurrent sums differ only in their order)."""
    assert 0.05 < ref[0].mean() < 0.6  # the case spikes, and not everywhere
    assert torch.equal(ref[0], other[0])
    torch.testing.assert_close(ref[1], other[1], rtol=0, atol=state_atol)
    for a, b in zip(ref[2], other[2]):
        torch.testing.assert_close(a, b, rtol=grad_tol, atol=grad_tol)
