"""Integer neuron updates of quantised networks, one per profile family, written once for every simulator.

A quantised layer (:class:`~spikerec.hardware.ir.quantized.LayerQuant`) holds stored integer weights ``w``, a weight
exponent ``e`` per matrix, integer thresholds ``th`` (the neuron spikes when ``v >= th``), decays and, for the
multiply family, an integer bias ``b``. All arithmetic is int64 with the profile's overflow rules applied
explicitly; every overflow is counted (``overflow`` [4]: activation, membrane, input count, spike-count cap).

**multiply** (Loihi-like: Lava's ``PyDenseModelBitAcc`` + ``PyLifModelBitAcc`` with ``du = 4095``, i.e. no
synaptic-current filter; the generic ``int8`` profile is the same rule with other widths)::

    A   = shift(sum_j w_ff[o, j] x_j, e_ff) + shift(sum_j w_rec[o, j] s_j[t-1], e_rec)   shift(a, e) = a * 2^e or floor(a / 2^-e)
    u   = fit_act(A * 2^act_shift)                        wrap into (-2^(bits-1), 2^(bits-1)] as Lava does, or saturate
    v   = fit_mem(trunc(v * (2^F - d) / 2^F) + u + b)     trunc: toward zero (sign-magnitude, as Lava)
    spike when v >= th; hard reset v = 0, soft reset v -= th; "li" layers never spike

(saturation is symmetric, [-(2^(bits-1) - 1), 2^(bits-1) - 1], like Lava's voltage clip.)

**shift** (Xylo-like: xylosim's ``XyloIAFNeuron`` / ``XyloLayer``). Each delivered spike adds ``w << e`` to the
synaptic current with a 16-bit saturating add (:func:`saturating_add`, xylosim's ``safe_add``: the range is
[-2^(bits-1), 2^(bits-1) - 1]); an event carrying ``c`` spikes is ``c`` adds, feed-forward events first (ascending
presynaptic index) then the previous step's recurrent spikes. Then::

    v = bitshift_decay(v, dash_mem);  i = bitshift_decay(i, dash_syn);  v = sat(v + i)
    while v >= th and n < max_spikes: n += 1; v -= th                    (multi-spike subtractive reset)

with ``bitshift_decay(x, d) = x - max(x >> d, sign(x))`` (arithmetic shift; the decay is at least one unit).
A "li" layer runs the same update with the largest threshold (a Xylo output neuron that spikes only at saturation).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["OVERFLOW_KEYS", "fit_wrap", "fit_saturate", "exp_shift", "saturating_add", "bitshift_decay",
           "multiply_update", "shift_update"]

OVERFLOW_KEYS = ("activation", "membrane", "input_counts", "spike_counts")  # order of the ``overflow`` counters


@njit(cache=True, nogil=True)
def fit_wrap(x, bits):
    """Two's-complement-style wrap into (-2^(bits-1), 2^(bits-1)] (Lava's 24-bit current rule); (value, wrapped)."""
    m = np.int64(1) << (bits - 1)
    if -m < x <= m:
        return x, 0
    return (x + m - 1) % (2 * m) - (m - 1), 1


@njit(cache=True, nogil=True)
def fit_saturate(x, bits):
    """Symmetric saturation to [-(2^(bits-1) - 1), 2^(bits-1) - 1]; (value, saturated)."""
    m = (np.int64(1) << (bits - 1)) - 1
    if x > m:
        return m, 1
    if x < -m:
        return -m, 1
    return x, 0


@njit(cache=True, nogil=True)
def exp_shift(a, e):
    """``a * 2^e`` for ``e >= 0``, ``floor(a / 2^-e)`` (arithmetic right shift) otherwise."""
    return a << e if e >= 0 else a >> (-e)


@njit(cache=True, nogil=True)
def saturating_add(x, y, bits):
    """``x + y`` clamped to [-2^(bits-1), 2^(bits-1) - 1] (xylosim ``safe_add``); (value, saturated)."""
    hi = (np.int64(1) << (bits - 1)) - 1
    s = x + y
    if s > hi:
        return hi, 1
    if s < -hi - 1:
        return -hi - 1, 1
    return s, 0


@njit(cache=True, nogil=True)
def bitshift_decay(x, dash):
    """``x - max(x >> dash, sign(x))`` in magnitude: xylosim's bit-shift decay (never stalls above zero)."""
    dv = x >> dash
    if dv == 0:
        if x > 0:
            dv = 1
        elif x < 0:
            dv = -1
    return x - dv


@njit(cache=True, nogil=True)
def multiply_update(v, acc_ff, acc_rec, has_rec, e_ff, e_rec, act_shift, act_bits, act_wrap, bias, decay, decay_bits,
                    mem_bits, mem_wrap, th, spiking, hard, out_idx, overflow):
    """One step of a multiply-family layer: ``v`` [n] int64 in place from this step's accumulated sums ``acc_ff``
    and ``acc_rec`` [n] int64; spiking indices go to ``out_idx``; returns the spike count."""
    n_spk = 0
    unity = np.int64(1) << decay_bits
    for o in range(v.shape[0]):
        a = exp_shift(acc_ff[o], e_ff)
        if has_rec:
            a += exp_shift(acc_rec[o], e_rec)
        a = a << act_shift
        if act_wrap:
            a, f = fit_wrap(a, act_bits)
        else:
            a, f = fit_saturate(a, act_bits)
        overflow[0] += f
        p = v[o] * (unity - decay[o])
        vd = (p >> decay_bits) if p >= 0 else -((-p) >> decay_bits)
        h = vd + a + bias[o]
        if mem_wrap:
            h, f = fit_wrap(h, mem_bits)
        else:
            h, f = fit_saturate(h, mem_bits)
        overflow[1] += f
        if spiking and h >= th[o]:
            out_idx[n_spk] = o
            n_spk += 1
            v[o] = 0 if hard else h - th[o]
        else:
            v[o] = h
    return n_spk


@njit(cache=True, nogil=True)
def shift_update(v, isyn, dash_mem, dash_syn, th, max_spikes, bits, out_idx, out_cnt, overflow):
    """One step of a shift-family layer after this step's spikes were added to ``isyn``: ``v``, ``isyn`` [n]
    int64 in place; neurons that spiked go to ``out_idx`` with their spike counts in ``out_cnt``; returns how
    many neurons spiked."""
    n_spk = 0
    for o in range(v.shape[0]):
        vm = bitshift_decay(v[o], dash_mem[o])
        isyn[o] = bitshift_decay(isyn[o], dash_syn[o])
        vm, f = saturating_add(vm, isyn[o], bits)
        overflow[1] += f
        count = 0
        while vm >= th[o] and count < max_spikes:
            count += 1
            vm -= th[o]
        if count == max_spikes and vm >= th[o]:
            overflow[3] += 1
        v[o] = vm
        if count:
            out_idx[n_spk] = o
            out_cnt[n_spk] = count
            n_spk += 1
    return n_spk
