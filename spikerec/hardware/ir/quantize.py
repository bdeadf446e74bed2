"""Quantise a float :class:`~spikerec.hardware.ir.network.Network` for a fixed-point target profile.

Per layer (all in the layer's own integer membrane unit, ``scale`` integer units per float unit):

1. The input decay is folded into the synapses (``decay_input=True``: ``W, R, bias *= 1 - beta``), so every
   quantised layer computes ``v <- decay(v) + input + bias``.
2. ``scale`` is the largest value that keeps everything representable: the largest weight at the largest weight
   exponent, the threshold register, the bias register, and the peak synaptic input and membrane, taken from
   calibration data (:class:`LayerRange`, ``headroom`` x the observed peaks) or, without data, from the bound
   "every presynaptic neuron spikes once in one step" (safe for binary inputs, wasteful). The report names the
   binding constraint (``limited_by``).
3. Each weight matrix gets the smallest exponent whose mantissas hold its largest weight; stored weights are
   ``lsb * round(W * scale / unit(e) / lsb)`` clipped to the target's range (``unit``: :func:`~spikerec.hardware.ir.
   quantized.weight_unit`). The shift family (Xylo) has one exponent per weight group: input, hidden (every
   hidden-to-hidden matrix, recurrent or feed-forward) and output; the group takes its largest exponent.
4. Thresholds ``round(threshold * scale)`` on the target's register grid (``>`` comparisons become ``>= th + 1``),
   decays to the nearest register value (multiply: ``round(2^F (1 - beta))``; shift: the dash whose
   ``1 - 2^-dash`` is nearest beta), biases to mantissa x 2^exponent.

Nothing is changed silently: weights that round to zero or saturate, saturated thresholds and biases, decay errors
and every structural approximation (the shift family's synaptic-current filter and subtractive multi-spike reset)
are in the report. Delays beyond the target's limit raise :class:`~spikerec.errors.ConfigError` unless
``delays="clip"`` asks for clipping, which is then reported (``rounded_delays``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from spikerec.errors import ConfigError
from spikerec.hardware.ir.network import Layer, Network, to_dense
from spikerec.hardware.ir.profile import TargetProfile
from spikerec.hardware.ir.quantized import (LayerQuant, check_limits, dequantized_decay, threshold_ceiling,
                                            weight_unit)

__all__ = ["LayerRange", "QuantizeResult", "quantize_network", "check_target", "effective_synapses", "DELAY_POLICIES"]

DELAY_POLICIES = ("error", "clip")


@dataclass(frozen=True)
class LayerRange:
    """Calibrated peaks of one float layer, float units: ``current`` = max |synaptic input of a step| (feed-forward
    + recurrent + bias, input decay folded in), ``membrane`` = max |membrane| (0 when not measured)."""

    current: float
    membrane: float = 0.0


@dataclass
class QuantizeResult:
    """The quantised network and the report of everything rounded, saturated or approximated."""

    network: Network
    report: dict[str, Any]


def effective_synapses(layer: Layer) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(W [n_out, n_in], R [n_out, n_out] or None, bias [n_out] or None), float64, with the input decay folded in."""
    gain = (1.0 - layer.decay.astype(np.float64)) if layer.decay_input else np.ones(layer.n_out)
    w = to_dense(layer.weight).astype(np.float64) * gain[:, None]
    r = None if layer.recurrent_weight is None else to_dense(layer.recurrent_weight).astype(np.float64) * gain[:, None]
    b = None if layer.bias is None else layer.bias.astype(np.float64) * gain
    return w, r, b


def quantize_network(network: Network, profile: TargetProfile, ranges: list[LayerRange] | None = None, *,
                     delays: str = "error", headroom: float = 1.25) -> QuantizeResult:
    """Quantise ``network`` for ``profile``; ``ranges`` (one :class:`LayerRange` per layer) calibrate the scales."""
    network.validate()
    if network.profile is not None:
        raise ConfigError(f"quantize: the network is already quantised for {network.profile.name!r}; quantise the "
                          f"float network (its run directory or export) instead")
    if ranges is not None and len(ranges) != len(network.layers):
        raise ConfigError(f"quantize: got {len(ranges)} calibration ranges for {len(network.layers)} layers")
    approximations = check_target(network, profile, delays)
    plans = [_plan_layer(layer, profile, None if ranges is None else ranges[i], headroom if ranges else 1.0)
             for i, layer in enumerate(network.layers)]
    if profile.family == "shift":
        _share_group_exponents(plans)
    rounded_delays = {"policy": delays, "limit": profile.max_delay, "max_delay": network.max_delay, "synapses": 0}
    layers, reports = [], []
    for layer, plan in zip(network.layers, plans):
        q_layer, report, clipped = _build_layer(layer, plan, profile)
        layers.append(q_layer)
        reports.append(report)
        rounded_delays["synapses"] += clipped
    out = Network(layers=layers, dt_ms=network.dt_ms, n_inputs=network.n_inputs, input_pooling=network.input_pooling,
                  n_classes=network.n_classes, readout=network.readout, drain_steps=network.drain_steps,
                  metadata={**network.metadata, "quantized_from": network.summary()["layers"]}, profile=profile)
    out.validate(f"quantize ({profile.name})")
    latency = profile.layer_latency * (len(layers) - 1)
    if latency:
        approximations.append(f"the chip delivers each layer's spikes to the next one {profile.layer_latency} step "
                              f"later: its readout lags {latency} step(s), a pure time shift (run {latency} more "
                              f"drain step(s) on the chip); spikerec's simulation is not shifted")
    return QuantizeResult(out, _summary(profile, reports, rounded_delays, approximations, latency))


# -- structure -------------------------------------------------------------------------------------

def check_target(network: Network, p: TargetProfile, delays: str = "error") -> list[str]:
    """Raise ConfigError for what the target cannot run (naming the limit); return the structural approximations
    quantising for it implies. ``delays``: what to do with delays beyond the target's limit (DELAY_POLICIES)."""
    def fail(msg: str) -> None:
        raise ConfigError(f"quantize for {p.name!r}: {msg}")

    if delays not in DELAY_POLICIES:
        fail(f"delays must be one of {list(DELAY_POLICIES)}, got {delays!r}")

    check_limits(network, p, fail)
    approximations = []
    for i, layer in enumerate(network.layers):
        where = f"layer {i} ({layer.name!r})"
        if layer.kind not in ("lif", "li"):
            fail(f"{where} is a {layer.kind!r} layer (a synaptic current state, from a NIR CubaLIF/CubaLI); quantisation "
                 f"supports the 'lif' and 'li' kinds only")
        if layer.v_init is not None or layer.v_reset != 0.0:
            fail(f"{where} starts from v_init or resets to v_reset={layer.v_reset}; the target's neurons start and "
                 f"reset at 0")
        if layer.bias is not None and np.any(layer.bias != 0) and not p.bias_bits:
            fail(f"{where} has a bias (BatchNorm folding makes one); the target has no neuron bias: train with "
                 f"model.batchnorm=false and model.bias=false")
        if layer.max_delay > p.max_delay and delays == "error":
            fail(f"{where} has delays up to {layer.max_delay} steps; the target supports at most {p.max_delay} "
                 f"(retrain with delays.max_delay_ms <= {p.max_delay + 1} * bin_ms, or pass --delays clip to clip "
                 f"them, reported)")
        if layer.kind == "lif" and layer.reset not in p.reset_modes:
            if p.family != "shift":
                fail(f"{where} uses reset={layer.reset!r}; the target implements {list(p.reset_modes)}")
            approximations.append(f"{where}: {layer.reset} reset becomes the target's subtractive reset")
    if p.family == "shift":
        approximations.append(f"the IR's instantaneous synapses become the target's synaptic current with "
                              f"dash_syn={p.synapse_dash} (weights x 1/(1 - 2^-{p.synapse_dash}) so a spike's "
                              f"first step matches); the current then decays over the following steps")
        approximations.append(f"hidden neurons may emit up to {p.max_spikes} spikes per step (subtracting the "
                              f"threshold each time); the IR's neurons emit at most one")
    return approximations


# -- per-layer plan --------------------------------------------------------------------------------

@dataclass
class _Plan:
    w: np.ndarray
    r: np.ndarray | None
    b: np.ndarray | None
    scale: float
    limited_by: str
    exp_ff: int
    exp_rec: int
    group_ff: str  # shift family weight group of the feed-forward matrix: "input" | "hidden" | "output"


def _plan_layer(layer: Layer, p: TargetProfile, rng: LayerRange | None, margin: float) -> _Plan:
    w, r, b = effective_synapses(layer)
    scale, limited_by = _scale(layer, w, r, b, p, rng, margin)
    exp_rec = 0 if r is None else _exponent(np.abs(r).max(initial=0.0), scale, p)
    return _Plan(w, r, b, scale, limited_by, _exponent(np.abs(w).max(initial=0.0), scale, p), exp_rec, "")


def _scale(layer: Layer, w, r, b, p: TargetProfile, rng: LayerRange | None, margin: float) -> tuple[float, str]:
    """The layer's membrane scale (integer units per float unit) and the name of the binding constraint."""
    peak_w = max(np.abs(w).max(initial=0.0), 0.0 if r is None else np.abs(r).max(initial=0.0))
    beta = float(layer.decay.max(initial=0.0))
    if rng is not None:
        x = rng.current
    else:  # every presynaptic neuron spikes once in the same step
        x = float((np.abs(w).sum(1) + (0 if r is None else np.abs(r).sum(1)) + (0 if b is None else np.abs(b))).max())
    a = 2.0 ** -p.synapse_dash if p.family == "shift" else 1.0  # shift family: the synaptic current's decay
    current_gain = 1.0 / a  # steady-state synaptic current per unit of input
    act_peak = x * (1.0 / a + 1.0 / (1.0 - a)) if p.family == "shift" else x
    th = float(layer.threshold.max(initial=0.0)) if layer.kind == "lif" else 0.0
    leak = max(1.0 - beta, 2.0 ** -10)  # a membrane summing negative input settles at -x / (1 - beta)
    if layer.kind == "lif":
        v_peak = max(th + current_gain * x, current_gain * x / leak)
    elif rng is not None and rng.membrane > 0:
        v_peak = current_gain * rng.membrane
    else:
        v_peak = current_gain * x / leak
    bounds = {"membrane": p.membrane_max / (margin * v_peak) if v_peak > 0 else math.inf,
              "activation": (2.0 ** (p.activation_bits - 1) - 1) / (margin * act_peak) if act_peak > 0 else math.inf}
    if peak_w > 0:
        bounds["weights"] = p.weight_range[1] * float(weight_unit(p, p.weight_exponent[1])) / peak_w
    if th > 0:
        bounds["threshold"] = (p.threshold_max << p.threshold_shift) / th
    if b is not None and p.bias_bits and np.abs(b).max() > 0:
        bounds["bias"] = ((1 << (p.bias_bits - 1)) - 1) * 2.0 ** p.bias_exponent[1] / np.abs(b).max()
    name = min(bounds, key=bounds.get)
    if not math.isfinite(bounds[name]):
        return 1.0, "nothing (silent layer)"
    return float(bounds[name]), name


def _exponent(peak: float, scale: float, p: TargetProfile) -> int:
    """Smallest exponent in the target's range whose mantissas hold ``peak * scale``."""
    lo, hi = p.weight_exponent
    if peak <= 0:
        return lo
    need = math.ceil(math.log2(peak * scale / (p.weight_range[1] * float(weight_unit(p, 0)))) - 1e-12)
    return int(min(max(need, lo), hi))


def _share_group_exponents(plans: list[_Plan]) -> None:
    """Shift family: one exponent per weight group (input -> first layer, hidden -> hidden, hidden -> output)."""
    last = len(plans) - 1
    hidden = [pl.exp_rec for pl in plans[:last] if pl.r is not None] + [pl.exp_ff for pl in plans[1:last]]
    shared = max(hidden, default=None)
    for i, pl in enumerate(plans):
        pl.group_ff = "input" if i == 0 else ("output" if i == last else "hidden")
        if shared is not None:
            if pl.group_ff == "hidden":
                pl.exp_ff = shared
            if pl.r is not None:
                pl.exp_rec = shared


# -- building the quantised layer ------------------------------------------------------------------

def _mantissas(m: np.ndarray, scale: float, exp: int, p: TargetProfile) -> tuple[np.ndarray, dict[str, Any]]:
    """Stored integer weights of float matrix ``m`` and their rounding statistics."""
    lsb = p.weight_lsb
    lo, hi = p.weight_range
    unit = float(weight_unit(p, exp))
    ideal = m * scale / unit
    stored = np.clip(np.rint(ideal / lsb) * lsb, lo, hi)
    live = m != 0
    err = np.abs(stored * unit / scale - m)
    peak = np.abs(m).max(initial=0.0)
    stats = {"synapses": int(live.sum()), "zeroed": int((live & (stored == 0)).sum()),
             "saturated": int((np.abs(ideal - np.clip(ideal, lo, hi)) > lsb / 2).sum()),
             "max_error": float(err.max(initial=0.0) / peak) if peak > 0 else 0.0}
    return stored.astype(np.int32), stats


def _thresholds(layer: Layer, scale: float, p: TargetProfile) -> tuple[np.ndarray, dict[str, Any]]:
    ceiling = threshold_ceiling(p)
    if layer.kind != "lif":
        return np.full(layer.n_out, ceiling, dtype=np.int64), {"saturated": 0, "max_error": 0.0}
    th = layer.threshold.astype(np.float64)
    mant = np.rint(th * scale / 2.0 ** p.threshold_shift)
    clipped = np.clip(mant, 1, p.threshold_max)
    strict = 1 if p.threshold_compare == ">" else 0
    stored = clipped.astype(np.int64) * (1 << p.threshold_shift) + strict
    err = np.abs(stored / scale - th) / np.maximum(th, 1e-30)
    return stored, {"saturated": int((clipped != mant).sum()), "max_error": float(err.max(initial=0.0))}


def _decays(layer: Layer, p: TargetProfile) -> tuple[np.ndarray, float]:
    beta = layer.decay.astype(np.float64)
    if p.family == "multiply":
        d = np.clip(np.rint((1.0 - beta) * 2.0 ** p.decay_bits), 0, p.decay_max).astype(np.int32)
    else:
        options = 1.0 - 2.0 ** -np.arange(p.decay_max + 1, dtype=np.float64)
        d = np.abs(beta[:, None] - options[None, :]).argmin(axis=1).astype(np.int32)
    return d, float(np.abs(dequantized_decay(p, d) - beta).max(initial=0.0))


def _biases(b: np.ndarray | None, scale: float, p: TargetProfile) -> tuple[np.ndarray | None, dict[str, Any]]:
    if b is None or not np.any(b != 0):
        return None, {"saturated": 0, "max_error": 0.0}
    mmax = (1 << (p.bias_bits - 1)) - 1
    lo, hi = p.bias_exponent
    ideal = b * scale
    exps = np.clip(np.ceil(np.log2(np.maximum(np.abs(ideal), 1e-300) / mmax) - 1e-12), lo, hi)
    mant = np.rint(ideal / 2.0 ** exps)
    clipped = np.clip(mant, -mmax - 1, mmax)
    stored = (clipped * 2.0 ** exps).astype(np.int64)
    err = np.abs(stored - ideal) / scale
    return stored, {"saturated": int((clipped != mant).sum()), "max_error": float(err.max(initial=0.0))}


def _build_layer(layer: Layer, plan: _Plan, p: TargetProfile) -> tuple[Layer, dict[str, Any], int]:
    delay = layer.delay
    clipped = 0
    if layer.max_delay > p.max_delay:  # check_target allowed it: delays="clip"
        d = layer.dense_delay()
        live = to_dense(layer.weight) != 0
        clipped = int((live & (d > p.max_delay)).sum())
        delay = np.minimum(d, p.max_delay)
    w_int, w_stats = _mantissas(plan.w, plan.scale, plan.exp_ff, p)
    r_int, r_stats = (None, None) if plan.r is None else _mantissas(plan.r, plan.scale, plan.exp_rec, p)
    th, th_stats = _thresholds(layer, plan.scale, p)
    decay, decay_error = _decays(layer, p)
    bias, bias_stats = _biases(plan.b, plan.scale, p) if p.bias_bits else (None, {"saturated": 0, "max_error": 0.0})
    syn = np.full(layer.n_out, p.synapse_dash, dtype=np.int32) if p.family == "shift" else None
    sparse = sp.issparse(layer.weight)
    q = LayerQuant(weight=_like(w_int, sparse), weight_exp=plan.exp_ff, threshold=th, decay=decay, scale=plan.scale,
                   recurrent_weight=None if r_int is None else _like(r_int, sp.issparse(layer.recurrent_weight)),
                   recurrent_exp=plan.exp_rec, bias=bias, synapse_decay=syn)
    unit_ff, unit_rec = float(weight_unit(p, plan.exp_ff)), float(weight_unit(p, plan.exp_rec))
    w_f = (w_int * unit_ff / plan.scale).astype(np.float32)
    out = replace(layer, weight=_like(w_f, sparse), delay=_delays_like(delay, w_int, sparse),
                  bias=None if bias is None else (bias / plan.scale).astype(np.float32),
                  decay=dequantized_decay(p, decay),
                  threshold=(th / plan.scale).astype(np.float32) if layer.kind == "lif" else layer.threshold,
                  reset=layer.reset if layer.reset in p.reset_modes else p.reset_modes[0], decay_input=False,
                  recurrent_weight=None if r_int is None else _like((r_int * unit_rec / plan.scale).astype(np.float32),
                                                                     sp.issparse(layer.recurrent_weight)),
                  mask=None if layer.mask is None else layer.mask & (w_int != 0), quant=q)
    report = {"name": layer.name, "scale": plan.scale, "limited_by": plan.limited_by, "weight_exp": plan.exp_ff,
              "recurrent_exp": plan.exp_rec if r_int is not None else None, "weights": w_stats,
              "recurrent_weights": r_stats, "thresholds": th_stats, "biases": bias_stats,
              "decay_max_error": decay_error}
    if plan.group_ff:
        report["weight_group"] = plan.group_ff
    return out, report, clipped


def _like(m: np.ndarray, sparse: bool):
    """``m`` as CSR (explicit zeros removed) when ``sparse``, else dense."""
    if not sparse:
        return m
    csr = sp.csr_array(m)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def _delays_like(delay, w_int: np.ndarray, sparse: bool):
    """Delays on the quantised synapses (0 where a weight rounded to zero), stored like the weights."""
    if delay is None:
        return None
    d = np.where(w_int != 0, to_dense(delay).astype(np.int32), 0)
    if not d.any():
        return None
    if not sparse:
        return d
    rows, cols = np.nonzero(w_int)
    pattern = _like(w_int, True)
    return sp.csr_array((d[rows, cols].astype(np.int32), pattern.indices.copy(), pattern.indptr.copy()),
                        shape=w_int.shape)


def _summary(p: TargetProfile, layers: list[dict], rounded_delays: dict, approximations: list[str],
             latency: int) -> dict[str, Any]:
    stats = [la["weights"] for la in layers] + [la["recurrent_weights"] for la in layers if la["recurrent_weights"]]
    return {
        "profile": p.name, "family": p.family,
        "saturated": {"weights": sum(s["saturated"] for s in stats),
                      "thresholds": sum(la["thresholds"]["saturated"] for la in layers),
                      "biases": sum(la["biases"]["saturated"] for la in layers)},
        "rounded": {"synapses": sum(s["synapses"] for s in stats), "weights_zeroed": sum(s["zeroed"] for s in stats),
                    "max_weight_error": max(s["max_error"] for s in stats),
                    "max_threshold_error": max(la["thresholds"]["max_error"] for la in layers),
                    "max_decay_error": max(la["decay_max_error"] for la in layers)},
        "rounded_delays": rounded_delays, "approximations": approximations, "pipeline_latency_steps": latency,
        "layers": layers,
    }
