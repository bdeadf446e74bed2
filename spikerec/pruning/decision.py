"""Accept/reject decisions of LNP, made on confidence intervals.

A pruned network is *equivalent* to the dense one when the interval of the paired difference of
their largest Lyapunov exponents (same drives, same tangent draws; :func:`paired_difference`) lies
entirely inside ``[-margin, +margin]``: a two one-sided test (TOST) at level (1 - confidence) / 2
each side. A wide interval (a noisy estimate) therefore rejects; it never accepts by default.

The margin is the natural spread of the exponent across random networks of the same configuration
(:func:`family_margin`): pruning may move the exponent as far as redrawing the dense network would,
no further. Searches over a pruning amount (:func:`largest_accepted`) use bisection on the
assumption that equivalence is lost monotonically; each probe is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from spikerec.errors import ConfigError
from spikerec.pruning.lyapunov import LyapunovEstimate, paired_difference


@dataclass(frozen=True)
class Equivalence:
    """Equivalence of lambda_max within ``margin`` (1/ms), decided on the paired interval."""

    margin: float

    def test(self, candidate: LyapunovEstimate, reference: LyapunovEstimate) -> dict:
        """Decision record: ``accepted``, the interval ``difference_ci`` [lo, hi], its mean, the margin."""
        mean, lo, hi = paired_difference(candidate, reference)
        return {"accepted": bool(-self.margin <= lo and hi <= self.margin), "difference": mean,
                "difference_ci": [lo, hi], "margin": self.margin, "lambda_max": candidate.max}


def family_margin(maxima: torch.Tensor) -> float:
    """Standard deviation (unbiased) of the mean lambda_max of independently drawn networks of one
    configuration ([F], F >= 2): how far the exponent moves when the random network is redrawn."""
    if maxima.numel() < 2:
        raise ConfigError(f"family_margin needs at least 2 networks, got {maxima.numel()}")
    return float(maxima.double().std(unbiased=True))


def largest_accepted(lo: int, hi: int, accept: Callable[[int], dict]) -> tuple[int, list[dict]]:
    """Largest integer n in [lo, hi] with ``accept(n)["accepted"]``, by bisection (``lo`` is taken as
    accepted without a probe). Returns (n, probes) with every probe's record and its ``n``."""
    if lo > hi:
        raise ConfigError(f"largest_accepted needs lo <= hi, got {lo}, {hi}")
    probes = []
    while lo < hi:
        mid = (lo + hi + 1) // 2
        record = {"n": mid, **accept(mid)}
        probes.append(record)
        if record["accepted"]:
            lo = mid
        else:
            hi = mid - 1
    return lo, probes


__all__ = ["Equivalence", "family_margin", "largest_accepted"]
