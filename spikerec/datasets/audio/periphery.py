"""Inner hair cell, auditory-nerve fibres and bushy cells: band-pass drive in, spikes out (numba kernels).

Per output unit (one cochlear place x one threshold class), every sample, in this order:

1. **Inner hair cell + synapse** (Meddis 1986, "Simulation of mechanical to neural transduction in the
   auditory receptor", JASA 79, 702-711; Meddis 1988, JASA 83, 1056-1063). Half-wave rectification and
   compression come from the release permeability, adaptation from the transmitter reservoirs::

       k(t) = g dt (s + A) / (s + A + B)  if s + A > 0, else 0       s: basilar-membrane drive (20 uPa units)
       q   += y dt (M - q) [if q < M] + x dt w - k q                  free transmitter pool
       c   += k q - (l + r) dt c                                      cleft
       w   += r dt c - x dt w                                         reprocessing store
       p    = h dt c                                                  firing probability of one fibre

2. **Auditory-nerve fibres**: ``anf_per_unit`` independent fibres share that probability; each is
   silent for ``R`` samples after its own spike (absolute refractoriness). With ``busy`` fibres that fired
   in the last R - 1 samples, the population count is Binomial(anf_per_unit - busy, p): exactly the
   same distribution as drawing each fibre separately and deleting spikes inside its dead time (as the
   Lauscher code behind SHD does), at 1/40 of the random numbers.
3. **Bushy cell** (cochlear nucleus; the output unit, as in SHD): a current-based leaky integrate-and-fire
   neuron driven by the fibre count; threshold 1, reset to 0, refractory period::

       I  = I exp(-dt / tau_syn) + n(t)
       v  = v exp(-dt / tau_mem) + w_total / anf_per_unit * dt * I     (held at 0 while refractory)
       spike when v >= 1

Random numbers come in as uniforms [U, T] so a block can be processed identically whatever the
threading, and state carries across blocks (long signals are processed block by block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from spikerec.errors import ConfigError


@dataclass(frozen=True)
class MeddisParams:
    """Meddis (1986, 1988) hair-cell/synapse constants, rates in 1/s.

    Values: the standard high-spontaneous-rate fibre of Meddis, Hewitt & Shackleton (1990),
    "Implementation details of a computation model of the inner hair-cell/auditory-nerve synapse",
    JASA 87, 1813-1816, Table I; the same values drive SHD's Lauscher model (Cramer et al. 2022). With
    A = 5 and B = 300 the drive is in units of 20 uPa (0 dB SPL): DSAM's Meddis-86 module, which takes
    uPa, uses A = 100 and B = 6000, i.e. the same constants times 20.
    """

    A: float = 5.0  # permeability offset (20 uPa units): rectification point
    B: float = 300.0  # permeability half-saturation (20 uPa units)
    g: float = 2000.0  # maximum release rate, 1/s
    y: float = 5.05  # replenishment rate, 1/s
    l: float = 2500.0  # cleft loss rate, 1/s
    r: float = 6580.0  # reuptake rate, 1/s
    x: float = 66.31  # reprocessing rate, 1/s
    M: float = 1.0  # maximum free transmitter
    h: float = 50000.0  # firing rate per unit cleft transmitter, 1/s

    def rest_state(self) -> tuple[float, float, float]:
        """Steady state (q, c, w) with no drive (s = 0): Meddis (1986) eq. for the spontaneous state.

        From dq = dc = dw = 0 with k0 = g A / (A + B): c = M y k0 / (l k0 + y (l + r)),
        q = c (l + r) / k0, w = c r / x.
        """
        k0 = self.g * self.A / (self.A + self.B)
        c = self.M * self.y * k0 / (self.l * k0 + self.y * (self.l + self.r))
        return c * (self.l + self.r) / k0, c, c * self.r / self.x

    def spontaneous_rate_hz(self) -> float:
        """Firing rate of one fibre at rest, h c (Hz), before refractoriness."""
        return self.h * self.rest_state()[1]

    def check_sample_rate(self, sample_rate_hz: float) -> None:
        """The explicit (Euler) update is stable only if (l + r) dt < 1 and g dt < 1."""
        worst = max(self.l + self.r, self.g) / sample_rate_hz
        if worst >= 1.0:
            raise ConfigError(f"sample rate {sample_rate_hz:g} Hz is too low for the hair-cell model: "
                              f"(l + r) / fs = {worst:.2f} must stay below 1 (use >= {1.1 * (self.l + self.r):.0f} Hz)")


@njit(nogil=True, cache=True, inline="always")
def binomial_inverse(n: int, p: float, u: float) -> int:
    """Binomial(n, p) sample from one uniform ``u`` in [0, 1) by CDF inversion (n small, as here <= 100)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    q = 1.0 - p
    prob = q ** n  # integer power: repeated squaring, much cheaper than exp(n log1p(-p))
    cdf = prob
    k = 0
    ratio = p / q
    while u >= cdf and k < n:
        prob *= (n - k) / (k + 1.0) * ratio
        k += 1
        cdf += prob
    return k


@njit(nogil=True, cache=True)
def periphery_block(drive, gains, uniforms, t0, q, c, w, busy, ring, v, isyn, refr,
                    mp, anf_per_unit, bushy_weight_dt, a_mem, a_syn, bushy_refr_samples, dt, spikes):
    """Advance every unit over one block and mark its bushy-cell spikes.

    ``drive`` [C, T] float32 basilar-membrane output per place (20 uPa units); ``gains`` [K] linear gain of
    each threshold class; unit ``u = place * K + k``. ``uniforms`` [U, T] in [0, 1); ``t0`` index of the
    block's first sample in the whole signal. State arrays [U] (``q, c, w`` float64 transmitter pools;
    ``busy`` int64 refractory fibres; ``v, isyn`` float64; ``refr`` int64) and ``ring`` [U, R-1] int64 (fibre
    counts of the last R-1 samples) are updated in place. ``mp`` = (A, B, g, y, l, r, x, M, h).
    ``spikes`` [U, T] uint8 is overwritten (1 = spike).
    """
    A, B, g, y, l, r, x, M, h = mp
    n_places, n_t = drive.shape
    n_classes = gains.shape[0]
    ring_len = ring.shape[1]
    for u in range(n_places * n_classes):
        gain = gains[u % n_classes]
        row = drive[u // n_classes]
        qu, cu, wu = q[u], c[u], w[u]
        bu, vu, iu, ru = busy[u], v[u], isyn[u], refr[u]
        pos = t0 % ring_len if ring_len > 0 else 0
        for t in range(n_t):
            s = row[t] * gain
            # 1. inner hair cell and synapse (Meddis 1986)
            k = g * dt * (s + A) / (s + A + B) if s + A > 0.0 else 0.0
            replenish = y * dt * (M - qu) if qu < M else 0.0
            eject = k * qu
            reuptake = r * dt * cu
            reprocess = x * dt * wu
            qu = max(qu + replenish - eject + reprocess, 0.0)
            cu = max(cu + eject - l * dt * cu - reuptake, 0.0)
            wu = max(wu + reuptake - reprocess, 0.0)
            p = min(h * dt * cu, 1.0)
            # 2. auditory-nerve fibres with dead time
            n = binomial_inverse(anf_per_unit - bu, p, uniforms[u, t])
            if ring_len > 0:  # ring[pos] holds the count of R - 1 samples ago
                bu += n - ring[u, pos]
                ring[u, pos] = n
                pos = pos + 1 if pos + 1 < ring_len else 0
            # 3. bushy cell
            iu = iu * a_syn + n
            fired = 0
            if ru > 0:
                ru -= 1
            else:
                vu = vu * a_mem + bushy_weight_dt * iu
                if vu >= 1.0:
                    fired = 1
                    vu = 0.0
                    ru = bushy_refr_samples
            spikes[u, t] = fired
        q[u], c[u], w[u] = qu, cu, wu
        busy[u], v[u], isyn[u], refr[u] = bu, vu, iu, ru


class PeripheryState:
    """State of ``U`` units between blocks: transmitter pools at rest, no refractory fibres, bushy cells at 0."""

    def __init__(self, n_units: int, params: MeddisParams, ring_len: int):
        q0, c0, w0 = params.rest_state()
        self.q = np.full(n_units, q0)
        self.c = np.full(n_units, c0)
        self.w = np.full(n_units, w0)
        self.busy = np.zeros(n_units, np.int64)
        self.ring = np.zeros((n_units, max(ring_len, 0)), np.int64)
        self.v = np.zeros(n_units)
        self.isyn = np.zeros(n_units)
        self.refr = np.zeros(n_units, np.int64)
        self.t = 0  # samples processed so far
