"""DelayedLinear vs DCLS Dcls1d wrapped with the SNN-delays causal padding: outputs and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spikerec.delays import DelayedLinear, _compiled, kernels

DCLS = pytest.importorskip("DCLS.construct.modules")

TOL = 1e-5


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    """Run a test on the compiled C kernels and on the pure-torch fallback (CUDA / no C compiler)."""
    if request.param == "compiled" and not kernels.compiled_available(torch.zeros(1)):
        pytest.skip("no C compiler: compiled delay kernels unavailable")
    if request.param == "torch":
        monkeypatch.setattr(_compiled, "available", lambda *tensors: False)
    return request.param


def dcls_reference(layer: DelayedLinear, version: str):
    """A Dcls1d holding ``layer``'s parameters and the SNN-delays forward (pad K-1 left, [B, C, T])."""
    k = layer.max_delay_steps
    m = DCLS.Dcls1d(layer.in_features, layer.out_features, kernel_count=layer.kernel_count, groups=1,
                    dilated_kernel_size=k, bias=layer.bias is not None, version=version)
    with torch.no_grad():
        m.weight.copy_(layer.weight)
        m.P.copy_(layer.positions.unsqueeze(0))
        if m.SIG is not None:
            m.SIG.fill_(layer.sigma)
            m.SIG.requires_grad_(False)
        if m.bias is not None:
            m.bias.copy_(layer.bias)

    def forward(x):
        return m(F.pad(x.permute(1, 2, 0), (k - 1, 0))).permute(2, 0, 1)

    return m, forward


def compare(layer: DelayedLinear, version: str, x: torch.Tensor) -> dict[str, float]:
    m, ref_forward = dcls_reference(layer, version)
    g = torch.randn(x.shape[0], x.shape[1], layer.out_features, generator=torch.Generator().manual_seed(1))
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1, y2 = layer(x1), ref_forward(x2)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    pairs = {"y": (y1, y2), "x": (x1.grad, x2.grad), "w": (layer.weight.grad, m.weight.grad),
             "p": (layer.positions.grad, m.P.grad[0])}
    if layer.bias is not None:
        pairs["b"] = (layer.bias.grad, m.bias.grad)
    # max abs difference, relative to the tensor's scale once that exceeds 1 (float32 sums of
    # hundreds of terms differ in the last bits between any two summation orders)
    errs = {k: ((a - b).abs().max() / b.abs().max().clamp(min=1.0)).item() for k, (a, b) in pairs.items()}
    # guard against vacuous comparisons
    assert y2.abs().max() > 0.1 and m.P.grad.abs().max() > 1e-3
    return errs


def spikes(t, b, c, density=0.2, seed=0):
    return (torch.rand(t, b, c, generator=torch.Generator().manual_seed(seed)) < density).float()


@pytest.mark.parametrize("sigma", [12.0, 3.3, 0.23, 0.0])
@pytest.mark.parametrize("kernel_count", [1, 3])
def test_gauss_matches_dcls(sigma, kernel_count, backend):
    torch.manual_seed(0)
    layer = DelayedLinear(9, 6, max_delay_ms=25.0, dt_ms=1.0, kernel_count=kernel_count, sigma=sigma)
    errs = compare(layer, "gauss", spikes(40, 3, 9))
    assert max(errs.values()) < TOL, errs


@pytest.mark.parametrize("max_delay_ms,dt_ms", [(250.0, 10.0), (10.0, 1.0), (7.0, 1.0)])
def test_gauss_matches_dcls_other_kernel_sizes_real_input_bias(max_delay_ms, dt_ms, backend):
    torch.manual_seed(1)
    layer = DelayedLinear(5, 4, max_delay_ms=max_delay_ms, dt_ms=dt_ms, bias=True, sigma=1.7)
    x = torch.randn(30, 2, 5, generator=torch.Generator().manual_seed(3))
    for inp in (x, x * spikes(30, 2, 5, density=0.15)):  # dense real-valued, then sparse real-valued
        layer.zero_grad()
        errs = compare(layer, "gauss", inp)
        assert max(errs.values()) < TOL, errs


@pytest.mark.parametrize("kernel_count", [1, 2])
def test_linear_matches_dcls_v1(kernel_count, backend):
    torch.manual_seed(2)
    layer = DelayedLinear(8, 5, max_delay_ms=15.0, dt_ms=1.0, kernel_count=kernel_count, interpolation="linear")
    errs = compare(layer, "v1", spikes(35, 2, 8, seed=4))
    assert max(errs.values()) < TOL, errs


def test_from_dcls_loads_parameters_and_matches():
    torch.manual_seed(3)
    k = 25
    m = DCLS.Dcls1d(6, 4, kernel_count=2, groups=1, dilated_kernel_size=k, bias=False, version="gauss")
    with torch.no_grad():
        torch.nn.init.uniform_(m.P, (-k) // 2, k // 2)
        m.clamp_parameters()
        m.SIG.fill_(2.5)
    layer = DelayedLinear.from_dcls(m, dt_ms=10.0)
    assert (layer.max_delay_steps, layer.dt_ms, layer.sigma, layer.kernel_count) == (k, 10.0, 2.5, 2)
    assert torch.equal(layer.weight, m.weight) and torch.equal(layer.positions, m.P[0])
    x = spikes(50, 2, 6, seed=5)
    with torch.no_grad():
        ref = m(F.pad(x.permute(1, 2, 0), (k - 1, 0))).permute(2, 0, 1)
        assert (layer(x) - ref).abs().max() < TOL


def test_from_dcls_rejects_unsupported_modules():
    from spikerec.errors import ConfigError, ParameterError

    m = DCLS.Dcls1d(3, 2, kernel_count=1, dilated_kernel_size=5, bias=False, version="max")
    with pytest.raises(ConfigError, match="version"):
        DelayedLinear.from_dcls(m)
    m = DCLS.Dcls1d(3, 2, kernel_count=1, dilated_kernel_size=5, bias=False, version="gauss")
    with torch.no_grad():
        m.SIG.normal_()
    with pytest.raises(ParameterError, match="SIG"):
        DelayedLinear.from_dcls(m)
    with pytest.raises(ConfigError, match="not a DCLS"):
        DelayedLinear.from_dcls(torch.nn.Linear(3, 2))


@pytest.mark.skipif(not kernels.compiled_available(torch.zeros(1)), reason="compiled delay kernels unavailable")
@pytest.mark.parametrize("sigma", [0.0, 0.23, 12.0])
def test_compiled_path_within_1e5_of_float64_dcls(sigma):
    """The compiled kernel builds the Gaussian in float64: it lands within 1e-5 (absolute) of
    Dcls1d run in float64, closer than Dcls1d in float32 gets at small sigma. At sigma 12 the input
    gradient comes from the low-rank delay basis; it must hold the same bound."""
    torch.manual_seed(0)
    layer = DelayedLinear(9, 6, max_delay_ms=25.0, dt_ms=1.0, sigma=sigma)
    m, _ = dcls_reference(layer, "gauss")
    m = m.double()
    x = spikes(40, 3, 9).requires_grad_(True)
    x64 = x.detach().double().requires_grad_(True)
    g = torch.randn(40, 3, 6, generator=torch.Generator().manual_seed(1))
    y = layer(x)
    (y * g).sum().backward()
    y64 = m(F.pad(x64.permute(1, 2, 0), (24, 0))).permute(2, 0, 1)
    (y64 * g.double()).sum().backward()
    assert (y.double() - y64).abs().max() < TOL
    assert (x.grad.double() - x64.grad).abs().max() < TOL
    assert (layer.weight.grad.double() - m.weight.grad).abs().max() < TOL
    assert (layer.positions.grad.double() - m.P.grad[0]).abs().max() < TOL
