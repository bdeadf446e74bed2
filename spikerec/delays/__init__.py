"""Learnable per-synapse delays (DCLS, Hammouamri et al. ICLR 2024) and integer-delay inference.

``DelayedLinear`` maps [T, B, Cin] -> [T, B, Cout] causally, matching ``Dcls1d`` with the SNN-delays
padding; ``SigmaAnnealing`` and the model helpers reproduce the reference training recipe.
"""

from spikerec.delays.layer import DelayedLinear
from spikerec.delays.model_helpers import (
    clamp_positions,
    delay_eval_context,
    delay_layers,
    has_delays,
    integer_delay_mode,
    set_sigma,
    split_delay_parameters,
)
from spikerec.delays.schedule import SigmaAnnealing

__all__ = [
    "DelayedLinear",
    "SigmaAnnealing",
    "clamp_positions",
    "delay_eval_context",
    "delay_layers",
    "has_delays",
    "integer_delay_mode",
    "set_sigma",
    "split_delay_parameters",
]
